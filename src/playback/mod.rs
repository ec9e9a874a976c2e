//! The `playback` stage: the music with clicks on the beats, for checking beats by ear.
//!
//! Two layers, so that everything but the sound card is testable offline:
//!
//! * [`Mixer`] — pure, no device: holds the song (mono, at the output rate), the beats
//!   and the transport (playing, position, loop, speed, volumes) and renders interleaved
//!   output buffers. Clicks are scheduled on the *music* timeline and start on the exact
//!   output sample of their beat (at speed 1 the click of a beat at `t` s starts at output
//!   sample `round(t · rate)`); downbeats get an accented click. Slower playback keeps the
//!   pitch ([`stretch::Wsola`]). Unit tests render into buffers and check sample indices.
//! * [`Player`] (cargo feature `playback`) — a cpal output stream whose callback renders
//!   the shared mixer. No device (a headless machine, a missing sound card) is an
//!   [`Error::AudioDevice`](crate::Error::AudioDevice), never a panic: the caller shows
//!   it and everything else keeps working.

pub mod click;
mod mixer;
#[cfg(feature = "playback")]
mod player;
pub mod stretch;

pub use mixer::{Mixer, TransportState, prepare_music};
#[cfg(feature = "playback")]
pub use player::{OutputInfo, Player};

use serde::{Deserialize, Serialize};

/// Sound and transport defaults of the playback stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaybackConfig {
    /// Pitch of an ordinary beat's click. 1000 Hz is `librosa.clicks`' default.
    pub click_freq_hz: f64,
    /// Pitch of a downbeat's click: an octave above, as metronomes mark the "one".
    pub accent_freq_hz: f64,
    /// Length of a click: `librosa.clicks`' 100 ms, decaying exponentially by 2⁻¹⁰ over it.
    pub click_duration_s: f64,
    /// Level of an ordinary click relative to an accented one (which peaks at 1.0).
    pub unaccented_level: f32,
    /// Gain on the music, 0–2 (1 = as decoded).
    pub music_gain: f32,
    /// Gain on the clicks, 0–2 (0 = no clicks).
    pub click_gain: f32,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        Self {
            click_freq_hz: 1000.0,
            accent_freq_hz: 2000.0,
            click_duration_s: 0.1,
            unaccented_level: 0.6,
            music_gain: 1.0,
            click_gain: 0.5,
        }
    }
}

/// Slowest and fastest playback speed the mixer accepts (1 = as recorded).
pub const SPEED_RANGE: (f64, f64) = (0.25, 2.0);
/// Largest gain accepted for music or clicks.
pub const MAX_GAIN: f32 = 2.0;
