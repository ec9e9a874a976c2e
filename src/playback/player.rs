//! Real-time output through cpal: one stream whose callback renders the shared [`Mixer`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{DeviceId, FromSample, OutputCallbackInfo, SampleFormat, SizedSample, StreamConfig};

use super::{Mixer, PlaybackConfig, TransportState};
use crate::{Error, Result};

/// The output device a [`Player`] opened.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OutputInfo {
    /// cpal's device id, e.g. `alsa:default`.
    pub device: String,
    pub sample_rate_hz: u32,
    pub channels: u16,
    pub sample_format: String,
}

/// When the first sample of the last rendered buffer reaches the speaker, and where it was
/// on the music timeline: lets [`Player::state`] follow what the user hears
/// rather than what was written ahead into the device buffer.
#[derive(Clone, Copy, Debug)]
struct Clock {
    position: f64,
    heard_at: Instant,
    speed: f64,
}

struct Shared {
    mixer: Mutex<Mixer>,
    clock: Mutex<Option<Clock>>,
    error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep playing.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An open output stream playing a [`Mixer`]. Dropping it closes the device.
pub struct Player {
    stream: cpal::Stream,
    /// Whether the stream runs. It is paused while nothing plays, so an idle player costs no
    /// CPU (ALSA's unpaced `null` device would otherwise spin through silent buffers).
    running: AtomicBool,
    shared: Arc<Shared>,
    info: OutputInfo,
}

impl Player {
    /// Opens `device_id` (cpal id such as `alsa:default`; `None` = the host's default
    /// output) and starts a stream that plays silence until the mixer has a song.
    pub fn open(device_id: Option<&str>, config: &PlaybackConfig) -> Result<Self> {
        let host = cpal::default_host();
        let device = match device_id {
            Some(id) => {
                let parsed: DeviceId = id
                    .parse()
                    .map_err(|e| Error::AudioDevice(format!("bad device id '{id}': {e}")))?;
                host.device_by_id(&parsed)
                    .ok_or_else(|| Error::AudioDevice(format!("no output device '{id}'")))?
            }
            None => host.default_output_device().ok_or_else(|| {
                Error::AudioDevice("this computer has no audio output device".into())
            })?,
        };
        let name = device
            .id()
            .map(|d| d.to_string())
            .unwrap_or_else(|_| "default".into());
        let supported = device
            .default_output_config()
            .map_err(|e| Error::AudioDevice(format!("{name}: {e}")))?;
        let format = supported.sample_format();
        let stream_config: StreamConfig = supported.config();
        let mixer = Mixer::new(
            stream_config.sample_rate,
            usize::from(stream_config.channels),
            config,
        )?;
        let shared = Arc::new(Shared {
            mixer: Mutex::new(mixer),
            clock: Mutex::new(None),
            error: Mutex::new(None),
        });
        let stream = match format {
            SampleFormat::F32 => build::<f32>(&device, &stream_config, &shared),
            SampleFormat::F64 => build::<f64>(&device, &stream_config, &shared),
            SampleFormat::I16 => build::<i16>(&device, &stream_config, &shared),
            SampleFormat::I32 => build::<i32>(&device, &stream_config, &shared),
            SampleFormat::U16 => build::<u16>(&device, &stream_config, &shared),
            SampleFormat::U8 => build::<u8>(&device, &stream_config, &shared),
            SampleFormat::I8 => build::<i8>(&device, &stream_config, &shared),
            other => {
                return Err(Error::AudioDevice(format!(
                    "{name}: sample format {other} is not supported"
                )));
            }
        }
        .map_err(|e| Error::AudioDevice(format!("{name}: {e}")))?;
        // Start once to find out now whether the device works, then idle until `play`.
        stream
            .play()
            .map_err(|e| Error::AudioDevice(format!("{name}: {e}")))?;
        let running = AtomicBool::new(stream.pause().is_err());
        tracing::info!(device = %name, rate_hz = stream_config.sample_rate, channels = stream_config.channels, %format, "audio output open");
        Ok(Self {
            stream,
            running,
            shared,
            info: OutputInfo {
                device: name,
                sample_rate_hz: stream_config.sample_rate,
                channels: stream_config.channels,
                sample_format: format.to_string(),
            },
        })
    }

    pub fn info(&self) -> &OutputInfo {
        &self.info
    }

    /// Runs `f` on the mixer (briefly: the audio callback skips a buffer while it waits).
    pub fn with_mixer<R>(&self, f: impl FnOnce(&mut Mixer) -> R) -> R {
        f(&mut lock(&self.shared.mixer))
    }

    /// The transport, with `position_s` where the sound the user hears *now* is on the
    /// music timeline: the mixer's position less the device buffer's latency, extrapolated
    /// between callbacks.
    pub fn state(&self) -> TransportState {
        let clock = *lock(&self.shared.clock);
        let m = lock(&self.shared.mixer);
        let mut state = m.state();
        state.position_s = heard_position(&m, clock, Instant::now());
        state
    }

    /// Starts playing from the mixer's position (from the top after the end).
    pub fn play(&self) -> Result<()> {
        self.with_mixer(|m| m.play());
        if !self.running.swap(true, Ordering::SeqCst) {
            *lock(&self.shared.clock) = None;
            self.stream
                .play()
                .map_err(|e| Error::AudioDevice(format!("{}: {e}", self.info.device)))?;
        }
        Ok(())
    }

    /// Pauses where the user heard it stop (not where the mixer had written ahead to).
    pub fn pause(&self) -> Result<()> {
        let clock = *lock(&self.shared.clock);
        {
            let mut m = lock(&self.shared.mixer);
            if m.is_playing() {
                let heard = heard_position(&m, clock, Instant::now());
                m.pause();
                m.seek(heard)?;
            }
        }
        self.idle_if_stopped();
        Ok(())
    }

    /// Pauses the stream when the mixer no longer plays (after `pause` or the song's end).
    pub fn idle_if_stopped(&self) {
        if !self.with_mixer(|m| m.is_playing()) && self.running.swap(false, Ordering::SeqCst) {
            // A backend that cannot pause keeps rendering silence: harmless.
            let _ = self.stream.pause();
        }
    }

    /// The last stream error (device unplugged …), once.
    pub fn take_error(&self) -> Option<String> {
        lock(&self.shared.error).take()
    }
}

fn heard_position(m: &Mixer, clock: Option<Clock>, now: Instant) -> f64 {
    let rate = f64::from(m.rate_hz());
    let written = m.position_samples() / rate;
    let Some(clock) = clock.filter(|_| m.is_playing()) else {
        return written;
    };
    let elapsed = if now >= clock.heard_at {
        now.duration_since(clock.heard_at).as_secs_f64()
    } else {
        -clock.heard_at.duration_since(now).as_secs_f64()
    };
    let mut pos = clock.position / rate + elapsed * clock.speed;
    if let Some((a, b)) = m.loop_samples() {
        let (a, b) = (a / rate, b / rate);
        if pos >= b && b > a {
            pos = a + (pos - b) % (b - a);
        }
    }
    pos.clamp(0.0, m.duration_s())
}

fn build<T>(
    device: &cpal::Device,
    config: &StreamConfig,
    shared: &Arc<Shared>,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let data_shared = Arc::clone(shared);
    let err_shared = Arc::clone(shared);
    let mut scratch: Vec<f32> = Vec::with_capacity(16_384);
    device.build_output_stream(
        *config,
        move |data: &mut [T], info: &OutputCallbackInfo| {
            scratch.resize(data.len(), 0.0);
            let ts = info.timestamp();
            let latency = ts.playback.duration_since(ts.callback);
            // Never wait in the audio callback: a UI call holding the mixer costs one
            // buffer of silence rather than a glitch of unknown length.
            match data_shared.mixer.try_lock() {
                Ok(mut m) => {
                    let clock = Clock {
                        position: m.position_samples(),
                        heard_at: Instant::now() + latency,
                        speed: m.speed(),
                    };
                    m.render(&mut scratch);
                    if let Ok(mut c) = data_shared.clock.try_lock() {
                        *c = Some(clock);
                    }
                }
                Err(_) => scratch.fill(0.0),
            }
            for (d, s) in data.iter_mut().zip(&scratch) {
                *d = T::from_sample(*s);
            }
        },
        move |e| {
            tracing::warn!("audio stream error: {e}");
            *lock(&err_shared.error) = Some(e.to_string());
        },
        None,
    )
}
