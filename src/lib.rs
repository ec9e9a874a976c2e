//! ZeroNS Studio engine.
//!
//! Beat tracking that learns from its user, after "Zero-Note Samba" (Desblancs, Lostanlen,
//! Hennequin, IEEE/ACM TASLP 2023). The engine is a ladder of pipeline stages, each a plain
//! function of the previous stage's typed output with its own config struct:
//!
//! ```text
//! audio file ──[audio]──▶ Signal (mono f32, source rate) ──[audio::resample]──▶ 16 kHz
//!   ──[separation]──▶ Stems (percussive, non-percussive)
//!   ──[features]──▶ log-VQT spectrograms (96 bins, 62.5 fps) / onset curves
//!   ──[tracking]──▶ beats (madmom DBN | Ellis DP | peak picking), tempo
//!   ──[formats]──▶ CSV, .beats, JAMS …
//!   ──[playback]──▶ the music with clicks on the beats (offline mixer; cpal output with
//!                   the `playback` feature)
//! ```
//!
//! [`pipeline`] strings the stages together; a caller can enter at any rung.
//! The engine never prints and never depends on a UI toolkit or an argument parser
//! (see ARCHITECTURE.md for the invariants).
//!
//! Without the default `engine` feature only [`formats`] and [`eval`] are built (what the
//! fuzz targets need: the importers, without audio, DSP, the model or the store).

#[cfg(feature = "engine")]
pub mod audio;
pub mod error;
pub mod eval;
#[cfg(feature = "engine")]
pub mod features;
pub mod formats;
#[cfg(feature = "engine")]
pub mod model;
#[cfg(feature = "engine")]
pub mod pipeline;
#[cfg(feature = "engine")]
pub mod playback;
#[cfg(feature = "engine")]
pub mod plot;
#[cfg(feature = "engine")]
pub mod separation;
#[cfg(feature = "engine")]
pub mod store;
#[cfg(feature = "engine")]
pub mod tracking;
#[cfg(feature = "engine")]
pub mod train;

pub use error::{Error, Result};

/// Burn keeps one global RNG (network initialisation, dropout, `Device::seed`). Unit tests that
/// draw from it hold this lock, so a seeded test gets the same draws whatever runs beside it (a
/// click-track fine-tuning test failed once another test's draws changed its initial weights).
#[cfg(test)]
pub(crate) fn test_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
