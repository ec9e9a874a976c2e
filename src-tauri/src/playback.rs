//! Playback commands: the selected song with clicks on its beats through the engine's
//! cpal [`Player`]. No audio device is an `audio_device` error the page shows as a banner;
//! every other feature keeps working.
//!
//! The player's beats follow the store: `commit_beats`, `undo` and `redo` call
//! [`sync_beats`] for the loaded track, so what clicks is always the current revision.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use tauri::State;
use zerons::audio::{DecodeConfig, decode_file};
use zerons::playback::{OutputInfo, PlaybackConfig, Player, TransportState, prepare_music};
use zerons::store::{Project, Revision, TrackId};

use crate::commands::blocking;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Environment variable naming the cpal output device (e.g. `alsa:null` for tests on a
/// machine without a sound card); unset = the system's default output.
pub const DEVICE_ENV: &str = "ZERONS_AUDIO_DEVICE";

/// The player and the track it holds; opened on first use.
#[derive(Default)]
pub struct PlaybackSlot {
    inner: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    player: Option<Player>,
    track: Option<TrackId>,
}

impl PlaybackSlot {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the transport bar shows.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybackView {
    pub track_id: Option<TrackId>,
    pub output: Option<OutputInfo>,
    pub transport: Option<TransportState>,
    /// A stream error since the last call (device unplugged …).
    pub error: Option<String>,
}

/// What the user reads when no output opens; the driver's own words (ALSA's "snd_pcm_open
/// failed with error 'ENOENT'") go to the log. Shown as the page's banner.
fn no_device(e: zerons::Error) -> AppError {
    tracing::warn!("no audio output: {e}");
    AppError::app("audio_device", NO_OUTPUT, AUDIO_HINT)
}

const NO_OUTPUT: &str = "No audio output could be opened";
const AUDIO_HINT: &str = "Playback is off; editing, analysis and export work as usual. Connect \
                          speakers or headphones, then select the song again.";

/// A stream error in the user's words (the device was unplugged, another program took it);
/// the driver's own go to the log.
fn stream_error(raw: String) -> String {
    tracing::warn!("audio output error: {raw}");
    "The audio output stopped working".into()
}

fn accents(r: &Revision) -> Vec<bool> {
    r.beats
        .positions
        .as_ref()
        .map(|p| p.iter().map(|&b| b == 1).collect())
        .unwrap_or_default()
}

/// Loads a track's audio and current beats into the player (opening the output device
/// the first time, or again after it failed). Decoding and resampling take a moment:
/// runs on a worker thread.
#[tauri::command]
pub async fn playback_load(
    state: State<'_, AppState>,
    track_id: TrackId,
) -> AppResult<PlaybackView> {
    let p = state.project()?;
    let slot = state.playback();
    let decodes = state.decodes();
    blocking(move || {
        let track = p.track(track_id)?;
        let decoded = decodes.get(&track.path, || {
            decode_file(&track.path, &DecodeConfig::default())
        })?;
        let head = p.head(track_id)?;
        let rate_hz = {
            let mut s = slot.lock();
            if s.player.is_none() {
                let device = std::env::var(DEVICE_ENV).ok();
                let config = PlaybackConfig::default();
                s.player = Some(Player::open(device.as_deref(), &config).map_err(no_device)?);
            }
            s.player
                .as_ref()
                .map_or(48_000, |p| p.info().sample_rate_hz)
        };
        // Resampling can take a second: not under the lock the transport polls.
        let music = prepare_music(&decoded.signal, rate_hz)?;
        let mut s = slot.lock();
        let Some(player) = s.player.as_ref() else {
            return Err(AppError::internal("the player closed while loading"));
        };
        player.pause()?;
        player.with_mixer(|m| -> AppResult<()> {
            m.load(music);
            match &head {
                Some(r) => m.set_beats(&r.beats.times_s, &accents(r))?,
                None => m.set_beats(&[], &[])?,
            }
            Ok(())
        })?;
        s.track = Some(track_id);
        Ok(view(&s))
    })
    .await
}

/// One transport action.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlaybackAction {
    Play,
    Pause,
    Toggle,
    Seek { position_s: f64 },
    Speed { speed: f64 },
    Gains { music_gain: f32, click_gain: f32 },
    Loop { range_s: Option<(f64, f64)> },
}

/// Applies a transport action and returns the new state. Only touches the mixer (a
/// mutex held for microseconds), so it runs on the command thread.
#[tauri::command]
pub fn playback_control(
    state: State<'_, AppState>,
    action: PlaybackAction,
) -> AppResult<PlaybackView> {
    let slot = state.playback();
    let s = slot.lock();
    let Some(player) = s.player.as_ref() else {
        return Err(AppError::app(
            "no_playback",
            "nothing is loaded for playback",
            "Select a song first; if a banner says there is no audio output, playback is off.",
        ));
    };
    match action {
        PlaybackAction::Play => player.play()?,
        PlaybackAction::Pause => player.pause()?,
        PlaybackAction::Toggle => {
            if player.with_mixer(|m| m.is_playing()) {
                player.pause()?
            } else {
                player.play()?
            }
        }
        PlaybackAction::Seek { position_s } => player.with_mixer(|m| m.seek(position_s))?,
        PlaybackAction::Speed { speed } => player.with_mixer(|m| m.set_speed(speed))?,
        PlaybackAction::Gains {
            music_gain,
            click_gain,
        } => player.with_mixer(|m| m.set_gains(music_gain, click_gain))?,
        PlaybackAction::Loop { range_s } => player.with_mixer(|m| m.set_loop(range_s))?,
    }
    Ok(view(&s))
}

/// The transport as heard now (polled by the page every frame while playing).
#[tauri::command]
pub fn playback_state(state: State<'_, AppState>) -> PlaybackView {
    view(&state.playback().lock())
}

fn view(s: &Slot) -> PlaybackView {
    if let Some(p) = &s.player {
        // The song may have played to its end since the last call: stop the stream.
        p.idle_if_stopped();
    }
    PlaybackView {
        track_id: s.track,
        output: s.player.as_ref().map(|p| p.info().clone()),
        transport: s.player.as_ref().map(Player::state),
        error: s
            .player
            .as_ref()
            .and_then(Player::take_error)
            .map(stream_error),
    }
}

/// Stops and unloads the player when it holds `track_id` (the song was removed).
pub fn forget_track(slot: &Arc<PlaybackSlot>, track_id: TrackId) {
    let mut s = slot.lock();
    if s.track == Some(track_id) {
        s.player = None;
        s.track = None;
    }
}

/// Gives the player the track's current beats if it is the loaded track (after an edit,
/// undo or redo). Called from worker threads; errors only log: the edit itself succeeded.
pub fn sync_beats(slot: &Arc<PlaybackSlot>, project: &Project, track_id: TrackId) {
    let s = slot.lock();
    let (Some(player), Some(loaded)) = (s.player.as_ref(), s.track) else {
        return;
    };
    if loaded != track_id {
        return;
    }
    let result = project
        .head(track_id)
        .map_err(AppError::from)
        .and_then(|head| {
            player.with_mixer(|m| match &head {
                Some(r) => m.set_beats(&r.beats.times_s, &accents(r)),
                None => m.set_beats(&[], &[]),
            })?;
            Ok(())
        });
    if let Err(e) = result {
        tracing::warn!("playback beats not updated: {}", e.message);
    }
}
