//! `tracking` stage: from an activation curve to beat times.
//!
//! - [`dbn`]: exact port of madmom's `DBNBeatTrackingProcessor` (what ZeroNS used).
//! - [`ellis`]: librosa's dynamic-programming `beat_track` (Ellis 2007).
//! - [`tempo`]: librosa's global tempo estimate (autocorrelation tempogram).
//! - [`peaks`]: greedy peak picking (librosa `peak_pick` semantics).
//! - [`guide`]: tracking that continues the beats a user has checked (tempo and phase).
//! - [`meter`]: meter and bar phase of known beats from a downbeat activation (the cheap
//!   alternative to the downbeat DBN, [`dbn::bar`]).
//! - [`refine`]: beat times between frames (the activation's interpolated peak).
//!
//! [`TrackerConfig`] / [`Tracker`] pick one of the three by name for the pipeline.

pub mod dbn;
pub mod ellis;
pub mod guide;
pub mod meter;
pub mod peaks;
pub mod refine;
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

    /// Sets every frame centred outside `[start_s, end_s]` to 0: where the recording is
    /// silent there is no evidence of a beat (see [`Tracker::track`]).
    pub fn silence_outside(&mut self, (start_s, end_s): (f64, f64)) {
        let fps = self.fps;
        for (k, v) in self.values.iter_mut().enumerate() {
            let t = k as f64 / fps;
            if t < start_s || t > end_s {
                *v = 0.0;
            }
        }
    }

    /// The first and last frame with any evidence (value > 0); `None` when there is none.
    pub fn evidence_frames(&self) -> Option<(usize, usize)> {
        let first = self.values.iter().position(|&v| v > 0.0)?;
        let last = self.values.iter().rposition(|&v| v > 0.0)?;
        Some((first, last))
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

    /// Beat times in seconds, ascending. No beat lies before the activation's first frame
    /// with any evidence or after its last ([`Activation::evidence_frames`]): decoders carry
    /// the beat on through runs of zeros (madmom's DBN does too, unless given a threshold),
    /// and the pipeline zeroes the frames where the recording is silent.
    pub fn track(&self, activation: &Activation) -> Result<Vec<f64>> {
        let fps = self.fps();
        if !same_fps(activation.fps, fps) {
            return Err(Error::InvalidInput(format!(
                "activation is at {} fps but the tracker was built for {fps} fps",
                activation.fps
            )));
        }
        let mut beats = match self {
            Self::Dbn(t) => t.track(activation)?,
            Self::Ellis { config, fps } => {
                ellis::beat_track(&activation.values, *fps, config)?.beat_times_s
            }
            Self::Peaks { config, fps } => {
                peaks::pick_peaks(&activation.values, *fps, config)?.times_s
            }
        };
        match activation.evidence_frames() {
            Some((first, last)) => {
                let (lo, hi) = ((first as f64 - 0.5) / fps, (last as f64 + 0.5) / fps);
                beats.retain(|&t| t >= lo && t <= hi);
            }
            None => beats.clear(),
        }
        Ok(beats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the DBN carried the beat on through a silenced tail (zeros) to the end of
    /// the file; now beats stop at the last frame with evidence, on every tracker.
    #[test]
    fn no_beats_in_leading_or_trailing_zeros() {
        let fps = 62.5;
        // 120 BPM pulses from 2 s to 10 s in a 14 s curve of zeros.
        let mut values = vec![0.0f32; (14.0 * fps) as usize];
        let mut t = 2.0;
        while t <= 10.0 {
            let k = (t * fps) as usize;
            values[k] = 1.0;
            values[k - 1] = 0.5;
            values[k + 1] = 0.5;
            t += 0.5;
        }
        let act = Activation::new(values, fps);
        assert_eq!(act.evidence_frames(), Some((124, 626)));
        for name in TrackerConfig::NAMES {
            let tracker = Tracker::new(&TrackerConfig::from_name(name).unwrap(), fps).unwrap();
            let beats = tracker.track(&act).unwrap();
            assert!(!beats.is_empty(), "{name}");
            assert!(beats[0] >= 1.98, "{name}: first beat {}", beats[0]);
            assert!(
                *beats.last().unwrap() <= 10.02,
                "{name}: last beat {:?}",
                beats.last()
            );
        }
        let silent = Activation::new(vec![0.0; 500], fps);
        let dbn = Tracker::new(&TrackerConfig::default(), fps).unwrap();
        assert!(dbn.track(&silent).unwrap().is_empty());
    }

    #[test]
    fn silence_outside_zeroes_the_edges_only() {
        let mut a = Activation::new(vec![0.5; 10], 10.0);
        a.silence_outside((0.25, 0.6));
        assert_eq!(
            a.values,
            vec![0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0]
        );
        assert_eq!(a.evidence_frames(), Some((3, 6)));
    }

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
