//! `audio` stage: decoding (symphonia) to mono f32 at the source rate, and resampling (rubato).
//!
//! Time zero is the first decoded sample (gapless decoding; see [`decode_file`]).

mod audible;
mod decode;
mod mp4_edit;
pub mod peaks;
mod resample;

pub use audible::{AudibleConfig, audible_span_s};
pub use decode::{DecodeConfig, DecodedAudio, decode_file};
pub use peaks::{PeakConfig, PeakLevel, PeakPyramid, peak_pyramid};
pub use resample::{ANALYSIS_RATE_HZ, resample};

use serde::{Deserialize, Serialize};

/// A mono signal at a known sample rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub samples: Vec<f32>,
    pub sample_rate_hz: u32,
}

impl Signal {
    pub fn new(samples: Vec<f32>, sample_rate_hz: u32) -> Self {
        Self {
            samples,
            sample_rate_hz,
        }
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate_hz == 0 {
            0.0
        } else {
            self.samples.len() as f64 / self.sample_rate_hz as f64
        }
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}
