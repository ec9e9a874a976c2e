//! `features` stage: the log-VQT that ZeroNS feeds its network, and onset curves.

pub mod beat_sync;
pub mod onset;
pub(crate) mod stft;
pub mod vqt;

pub use onset::{FluxConfig, normalize_activation, spectral_flux};
pub use vqt::{VqtConfig, log_vqt};

use serde::{Deserialize, Serialize};

/// A real-valued time–frequency representation, bin-major:
/// `data[bin * n_frames + frame]`, bins from low to high frequency.
/// This is the layout of one `[1, n_bins, n_frames]` network input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spectrogram {
    pub data: Vec<f32>,
    pub n_bins: usize,
    pub n_frames: usize,
    /// Frames per second.
    pub fps: f64,
}

impl Spectrogram {
    /// Value at (bin, frame).
    pub fn get(&self, bin: usize, frame: usize) -> f32 {
        self.data[bin * self.n_frames + frame]
    }

    /// One bin's row over time.
    pub fn row(&self, bin: usize) -> &[f32] {
        &self.data[bin * self.n_frames..(bin + 1) * self.n_frames]
    }
}
