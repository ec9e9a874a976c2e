//! `tracking` stage: from an activation curve to beat times.
//!
//! - [`dbn`]: exact port of madmom's `DBNBeatTrackingProcessor` (what ZeroNS used).
//! - [`ellis`]: librosa's dynamic-programming `beat_track` (Ellis 2007).
//! - [`tempo`]: librosa's global tempo estimate (autocorrelation tempogram).
//! - [`peaks`]: greedy peak picking (librosa `peak_pick` semantics).
//! - [`guide`]: tracking that continues the beats a user has checked (tempo and phase).
//!
//! [`TrackerConfig`] / [`Tracker`] pick one of the three by name for the pipeline.

pub mod dbn;
pub mod ellis;
pub mod guide;
pub mod peaks;
pub mod tempo;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};
use dbn::{DbnBeatTracker, DbnConfig};
use ellis::EllisConfig;
use peaks::PeakPickConfig;

/// A beat activation (or onset-strength) curve sampled at `fps` frames per second.
/// Frame `t` is centred at `t / fps` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    pub values: Vec<f32>,
    pub fps: f64,
}

impl Activation {
    /// Wraps activation values sampled at `fps` frames per second.
    pub fn new(values: Vec<f32>, fps: f64) -> Self {
        Self { values, fps }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Duration covered, `len / fps` seconds.
    pub fn duration_s(&self) -> f64 {
        self.values.len() as f64 / self.fps
    }
}

/// Whether two frame rates agree (relative 1e-9); false when either is NaN.
pub(crate) fn same_fps(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs()
}

/// Which beat tracker to run, with its settings. Serialised with a `method` tag:
/// `{"method": "dbn", "min_bpm": 60}`, `{"method": "ellis"}`, `{"method": "peaks"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum TrackerConfig {
    /// madmom's DBN (the ZeroNS decoder, and the default).
    Dbn(DbnConfig),
    /// librosa's Ellis DP `beat_track`.
    Ellis(EllisConfig),
    /// Greedy peak picking.
    Peaks(PeakPickConfig),
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self::Dbn(DbnConfig::default())
    }
}

impl TrackerConfig {
    /// Names accepted by [`Self::from_name`].
    pub const NAMES: [&'static str; 3] = ["dbn", "ellis", "peaks"];

    /// The default settings of the tracker called `name` (`dbn`, `ellis` or `peaks`).
    pub fn from_name(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "dbn" => Ok(Self::Dbn(DbnConfig::default())),
            "ellis" => Ok(Self::Ellis(EllisConfig::default())),
            "peaks" => Ok(Self::Peaks(PeakPickConfig::default())),
            other => Err(Error::Config(format!(
                "unknown beat tracker '{other}' (expected one of {})",
                Self::NAMES.join(", ")
            ))),
        }
    }

    /// The tracker's name (`dbn`, `ellis` or `peaks`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Dbn(_) => "dbn",
            Self::Ellis(_) => "ellis",
            Self::Peaks(_) => "peaks",
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Dbn(c) => c.validate(),
            Self::Ellis(c) => c.validate(),
            Self::Peaks(c) => c.validate(),
        }
    }
}

/// A ready-to-use beat tracker for one frame rate (the DBN model is precomputed once).
#[derive(Debug, Clone)]
pub enum Tracker {
    /// madmom's DBN.
    Dbn(Box<DbnBeatTracker>),
    /// librosa's Ellis DP.
    Ellis { config: EllisConfig, fps: f64 },
    /// Greedy peak picking.
    Peaks { config: PeakPickConfig, fps: f64 },
}

impl Tracker {
    /// Builds the tracker described by `config` for activations at `fps`.
    pub fn new(config: &TrackerConfig, fps: f64) -> Result<Self> {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::Config(format!("fps must be > 0 (got {fps})")));
        }
        config.validate()?;
        Ok(match config {
            TrackerConfig::Dbn(c) => Self::Dbn(Box::new(DbnBeatTracker::new(c, fps)?)),
            TrackerConfig::Ellis(c) => Self::Ellis {
                config: c.clone(),
                fps,
            },
            TrackerConfig::Peaks(c) => Self::Peaks {
                config: c.clone(),
                fps,
            },
        })
    }

    /// Frame rate the tracker expects.
    pub fn fps(&self) -> f64 {
        match self {
            Self::Dbn(t) => t.fps(),
            Self::Ellis { fps, .. } | Self::Peaks { fps, .. } => *fps,
        }
    }

    /// Beat times in seconds, ascending.
    pub fn track(&self, activation: &Activation) -> Result<Vec<f64>> {
        let fps = self.fps();
        if !same_fps(activation.fps, fps) {
            return Err(Error::InvalidInput(format!(
                "activation is at {} fps but the tracker was built for {fps} fps",
                activation.fps
            )));
        }
        match self {
            Self::Dbn(t) => t.track(activation),
            Self::Ellis { config, fps } => {
                Ok(ellis::beat_track(&activation.values, *fps, config)?.beat_times_s)
            }
            Self::Peaks { config, fps } => {
                Ok(peaks::pick_peaks(&activation.values, *fps, config)?.times_s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_config_by_name_and_serde() {
        for name in TrackerConfig::NAMES {
            let c = TrackerConfig::from_name(name).unwrap();
            assert_eq!(c.name(), name);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<TrackerConfig>(&json).unwrap(), c);
        }
        assert!(matches!(
            TrackerConfig::from_name("viterbi"),
            Err(Error::Config(_))
        ));
        let c: TrackerConfig = serde_json::from_str(r#"{"method": "dbn", "min_bpm": 70}"#).unwrap();
        let TrackerConfig::Dbn(d) = &c else {
            panic!("{c:?}")
        };
        assert_eq!((d.min_bpm, d.max_bpm), (70.0, 215.0));
        let c: TrackerConfig = serde_json::from_str(r#"{"method": "peaks"}"#).unwrap();
        assert_eq!(c, TrackerConfig::Peaks(PeakPickConfig::default()));
        assert!(serde_json::from_str::<TrackerConfig>(r#"{"method": "x"}"#).is_err());
        assert_eq!(TrackerConfig::default().name(), "dbn");
    }

    #[test]
    fn tracker_checks_fps() {
        let t = Tracker::new(&TrackerConfig::from_name("peaks").unwrap(), 62.5).unwrap();
        assert!(t.track(&Activation::new(vec![0.0; 10], 100.0)).is_err());
        assert!(
            t.track(&Activation::new(vec![0.0; 10], 62.5))
                .unwrap()
                .is_empty()
        );
        assert!(Tracker::new(&TrackerConfig::default(), -1.0).is_err());
    }
}
