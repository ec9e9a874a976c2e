//! `tracking` stage: from an activation curve to beat times.
//!
//! - [`dbn`]: exact port of madmom's `DBNBeatTrackingProcessor` (what ZeroNS used).

pub mod dbn;

use serde::{Deserialize, Serialize};

/// A beat activation (or onset-strength) curve sampled at `fps` frames per second.
/// Frame `t` is centred at `t / fps` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    pub values: Vec<f32>,
    pub fps: f64,
}

impl Activation {
    pub fn new(values: Vec<f32>, fps: f64) -> Self {
        Self { values, fps }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn duration_s(&self) -> f64 {
        self.values.len() as f64 / self.fps
    }
}
