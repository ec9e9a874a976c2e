//! madmom-exact DBN beat tracker: a port of madmom 0.17
//! `DBNBeatTrackingProcessor.process_offline` (Böck, Krebs & Widmer, "A multi-model approach to
//! beat tracking considering heterogeneous music styles", ISMIR 2014; Krebs, Böck & Widmer,
//! "An efficient state-space model for joint tempo and meter tracking", ISMIR 2015).
//!
//! Split as in madmom: [`state_space`] (`BeatStateSpace`), [`transition`]
//! (`BeatTransitionModel`), [`observation`] (`RNNBeatTrackingObservationModel`) and [`viterbi`]
//! (`HiddenMarkovModel.viterbi`). [`DbnBeatTracker`] precomputes all of it once for a given
//! config and frame rate and decodes any number of activations.
//!
//! [`bar`] is the downbeat variant (`DBNDownBeatTrackingProcessor`: bar state space over
//! several bar lengths, beat and downbeat observations).
//!
//! With [`DbnConfig::madmom`] (no activation clamp) the Viterbi path, the beats and the log
//! probability reproduce madmom's (see `tests/dbn_golden.rs`).

pub mod bar;
pub mod observation;
pub mod state_space;
pub mod transition;
pub mod viterbi;

use serde::{Deserialize, Serialize};

pub use self::bar::{BarBeat, DbnDownbeatTracker, DownbeatDbnConfig, DownbeatDecoding};

use self::observation::RnnBeatTrackingObservationModel;
use self::state_space::BeatStateSpace;
use self::transition::BeatTransitionModel;
use self::viterbi::BeatHmm;
use super::Activation;
use crate::{Error, Result};

/// Settings of the DBN beat tracker.
///
/// Defaults are the settings ZeroNS evaluated with (deezer/zeroNoteSamba
/// `processing/evaluate.py`: `DBNBeatTrackingProcessor(min_bpm=55, max_bpm=215,
/// transition_lambda=100, fps=62.5)`, everything else madmom's default), plus an activation clamp
/// that madmom does not have (see [`DbnConfig::activation_clamp`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DbnConfig {
    /// Slowest tempo in BPM (ZeroNS: 55, madmom default 55).
    pub min_bpm: f64,
    /// Fastest tempo in BPM (ZeroNS: 215, madmom default 215).
    pub max_bpm: f64,
    /// `None`: every integer beat interval between the two tempi (madmom default). `Some(n)`:
    /// about `n` log-spaced intervals, used only when fewer than the linear grid (madmom's
    /// `num_tempi`; its downbeat tracker uses 60).
    pub num_tempi: Option<usize>,
    /// Steepness of the tempo-change penalty `exp(−λ·|L_to/L_from − 1|)` (madmom default and
    /// ZeroNS: 100). `None` forbids tempo changes.
    pub transition_lambda: Option<f64>,
    /// Beat states are the first `1/observation_lambda` of each beat period (madmom default: 16).
    pub observation_lambda: u32,
    /// When nonzero, decode only from the first to the last frame whose activation is at least
    /// this value (madmom default and ZeroNS: 0, off).
    pub threshold: f64,
    /// Move each beat to the activation maximum inside its run of beat states (madmom default
    /// and ZeroNS: true). False takes the frames where the beat position wraps.
    pub correct: bool,
    /// `Some(eps)`: clamp activations to `[eps, 1 − eps]` before computing the observation log
    /// densities. An activation of exactly 0 or 1 (f32 sigmoids saturate) otherwise gives a
    /// `−inf` density that forbids or forces a beat at that frame and can change the whole
    /// decoding (spec tracking-metrics-formats.md §1.5). Default `Some(1e-7)`; `None` is madmom's
    /// behaviour. The threshold crop, the all-zero test and the beat correction always use the
    /// raw activations.
    pub activation_clamp: Option<f64>,
}

impl Default for DbnConfig {
    fn default() -> Self {
        Self {
            activation_clamp: Some(1e-7),
            ..Self::madmom()
        }
    }
}

impl DbnConfig {
    /// Exactly madmom's `DBNBeatTrackingProcessor` at the ZeroNS settings (no clamp): the
    /// configuration the golden parity tests use.
    pub fn madmom() -> Self {
        Self {
            min_bpm: 55.0,
            max_bpm: 215.0,
            num_tempi: None,
            transition_lambda: Some(100.0),
            observation_lambda: 16,
            threshold: 0.0,
            correct: true,
            activation_clamp: None,
        }
    }

    /// Checks every value; the model-building errors (too many intervals …) come from
    /// [`DbnBeatTracker::new`].
    pub fn validate(&self) -> Result<()> {
        validate_hmm(
            self.min_bpm,
            self.max_bpm,
            self.num_tempi,
            self.transition_lambda,
            self.observation_lambda,
            self.threshold,
        )?;
        if let Some(eps) = self.activation_clamp
            && !(eps > 0.0 && eps < 0.5)
        {
            return Err(Error::Config(format!(
                "activation_clamp must be in (0, 0.5) (got {eps})"
            )));
        }
        Ok(())
    }
}

/// Everything [`DbnBeatTracker::decode`] found for one activation.
#[derive(Debug, Clone, PartialEq)]
pub struct DbnDecoding {
    /// Frame of the input where the decoded (threshold-cropped) segment starts; 0 without
    /// threshold.
    pub offset: usize,
    /// Viterbi state per frame of the decoded segment (`offset ..`). Empty when nothing was
    /// decoded or no finite-probability path exists.
    pub path: Vec<u32>,
    /// Log probability of the path; `None` when the Viterbi was not run (empty or all-zero
    /// activation), `−inf` when it found no valid path.
    pub log_prob: Option<f64>,
    /// Beat frames, in input frames (offset included), ascending.
    pub beat_frames: Vec<usize>,
    /// Beat times in seconds: `beat_frames / fps`.
    pub beat_times_s: Vec<f64>,
}

/// madmom's `DBNBeatTrackingProcessor` (offline/Viterbi mode) for one frame rate.
///
/// Building it computes the state space, the transition and observation models once (a few
/// hundred µs); [`Self::track`] can then be called for any number of songs.
#[derive(Debug, Clone)]
pub struct DbnBeatTracker {
    config: DbnConfig,
    fps: f64,
    space: BeatStateSpace,
    transitions: BeatTransitionModel,
    observation: RnnBeatTrackingObservationModel,
    hmm: BeatHmm,
}

impl DbnBeatTracker {
    /// Builds the tracker for activations at `fps` frames per second.
    pub fn new(config: &DbnConfig, fps: f64) -> Result<Self> {
        config.validate()?;
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::Config(format!("fps must be > 0 (got {fps})")));
        }
        // madmom: min_interval = 60. * fps / max_bpm; max_interval = 60. * fps / min_bpm
        let space = BeatStateSpace::new(
            60.0 * fps / config.max_bpm,
            60.0 * fps / config.min_bpm,
            config.num_tempi,
        )?;
        let transitions = BeatTransitionModel::new(&space, config.transition_lambda)?;
        let observation = RnnBeatTrackingObservationModel::new(&space, config.observation_lambda)?;
        let hmm = BeatHmm::new(&space, &transitions, &observation);
        Ok(Self {
            config: config.clone(),
            fps,
            space,
            transitions,
            observation,
            hmm,
        })
    }

    /// The configuration this tracker was built with.
    pub fn config(&self) -> &DbnConfig {
        &self.config
    }

    /// Frame rate the tracker expects.
    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// The state space.
    pub fn state_space(&self) -> &BeatStateSpace {
        &self.space
    }

    /// The transition model.
    pub fn transition_model(&self) -> &BeatTransitionModel {
        &self.transitions
    }

    /// The observation model.
    pub fn observation_model(&self) -> &RnnBeatTrackingObservationModel {
        &self.observation
    }

    /// Beat times (seconds) of an activation sampled at this tracker's fps.
    pub fn track(&self, activation: &Activation) -> Result<Vec<f64>> {
        if !super::same_fps(activation.fps, self.fps) {
            return Err(Error::InvalidInput(format!(
                "activation is at {} fps but the DBN tracker was built for {} fps",
                activation.fps, self.fps
            )));
        }
        Ok(self.decode(&activation.values)?.beat_times_s)
    }

    /// Full decoding of activation values in `[0, 1]` at this tracker's fps
    /// (madmom `process_offline`, spec §1.7).
    pub fn decode(&self, activation: &[f32]) -> Result<DbnDecoding> {
        let _span = tracing::info_span!("tracking.dbn", frames = activation.len()).entered();
        if let Some((t, v)) = activation
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            return Err(Error::InvalidInput(format!(
                "DBN activations must lie in [0, 1]; frame {t} is {v}"
            )));
        }
        let mut out = DbnDecoding {
            offset: 0,
            path: Vec::new(),
            log_prob: None,
            beat_frames: Vec::new(),
            beat_times_s: Vec::new(),
        };
        let (first, last) = self.crop(activation);
        out.offset = first;
        let act = &activation[first..last];
        // `if not activations.any()`: empty or all zero
        if !act.iter().any(|&a| a != 0.0) {
            return Ok(out);
        }
        let dens: Vec<(f64, f64)> = act
            .iter()
            .map(|&a| {
                let a = f64::from(a);
                let a = match self.config.activation_clamp {
                    Some(eps) => a.clamp(eps, 1.0 - eps),
                    None => a,
                };
                self.observation.log_densities(a)
            })
            .collect();
        let vit = self.hmm.viterbi(&dens);
        out.log_prob = Some(vit.log_prob);
        if vit.log_prob == f64::NEG_INFINITY {
            tracing::warn!("-inf log probability: DBN found no valid path, no beats");
        }
        // `if not path.any()`: empty path, or every frame in state 0
        if vit.path.iter().all(|&s| s == 0) {
            out.path = vit.path;
            return Ok(out);
        }
        let local = if self.config.correct {
            self.beats_corrected(&vit.path, act)
        } else {
            self.beats_uncorrected(&vit.path)
        };
        out.beat_frames = local.into_iter().map(|f| f + first).collect();
        out.beat_times_s = out
            .beat_frames
            .iter()
            .map(|&f| f as f64 / self.fps)
            .collect();
        out.path = vit.path;
        Ok(out)
    }

    /// Tempo (BPM) per frame of a decoded path: `60·fps / interval(state)`.
    pub fn tempo_bpm(&self, path: &[u32]) -> Vec<f64> {
        path.iter()
            .map(|&s| match self.space.state_interval(s) {
                Some(l) => 60.0 * self.fps / f64::from(l),
                None => f64::NAN,
            })
            .collect()
    }

    /// Whether a state is a beat state (observation pointer 1).
    pub fn is_beat_state(&self, state: u32) -> bool {
        let Some(&j) = self.space.state_interval_index().get(state as usize) else {
            return false;
        };
        let j = usize::from(j);
        let k = state - self.space.first_states()[j];
        k < self.observation.beat_states_in_interval(j)
    }

    /// madmom's threshold crop, `idx.any()` quirk included: returns `[first, last)`.
    fn crop(&self, act: &[f32]) -> (usize, usize) {
        let thr = self.config.threshold;
        if thr == 0.0 {
            return (0, act.len());
        }
        // numpy compares the f32 array with the (weak) Python float in f32.
        let thr = thr as f32;
        let mut idx = act.iter().enumerate().filter(|(_, a)| **a >= thr);
        let Some((lo, _)) = idx.next() else {
            return (0, 0);
        };
        let hi = idx.next_back().map_or(lo, |(i, _)| i);
        // `idx.any()` is false when the only qualifying index is 0
        if hi == 0 {
            return (0, 0);
        }
        (lo, hi + 1)
    }

    /// correct=True: the activation maximum (first on ties) of every run of beat states.
    fn beats_corrected(&self, path: &[u32], act: &[f32]) -> Vec<usize> {
        let mut beats = Vec::new();
        let mut run_start: Option<usize> = None;
        for t in 0..=path.len() {
            let in_beat = path.get(t).is_some_and(|&s| self.is_beat_state(s));
            match (in_beat, run_start) {
                (true, None) => run_start = Some(t),
                (false, Some(l)) => {
                    let mut peak = l;
                    for (k, &a) in act.iter().enumerate().take(t).skip(l + 1) {
                        if a > act[peak] {
                            peak = k;
                        }
                    }
                    beats.push(peak);
                    run_start = None;
                }
                _ => {}
            }
        }
        beats
    }

    /// correct=False: frames whose beat position is a strict local minimum (wrapping around the
    /// ends, scipy `argrelmin(mode='wrap')`) and a beat state.
    fn beats_uncorrected(&self, path: &[u32]) -> Vec<usize> {
        let pos = self.space.state_positions();
        let n = path.len();
        (0..n)
            .filter(|&t| {
                let p = pos[path[t] as usize];
                let before = pos[path[(t + n - 1) % n] as usize];
                let after = pos[path[(t + 1) % n] as usize];
                p < before && p < after && self.is_beat_state(path[t])
            })
            .collect()
    }
}

/// The checks shared by the beat and the bar decoders' configs (madmom's HMM parameters).
pub(crate) fn validate_hmm(
    min_bpm: f64,
    max_bpm: f64,
    num_tempi: Option<usize>,
    transition_lambda: Option<f64>,
    observation_lambda: u32,
    threshold: f64,
) -> Result<()> {
    if !(min_bpm.is_finite() && min_bpm > 0.0) {
        return Err(Error::Config(format!(
            "min_bpm must be > 0 (got {min_bpm})"
        )));
    }
    if !(max_bpm.is_finite() && max_bpm > min_bpm) {
        return Err(Error::Config(format!(
            "max_bpm must be finite and above min_bpm {min_bpm} (got {max_bpm})"
        )));
    }
    if num_tempi == Some(0) {
        return Err(Error::Config("num_tempi must be at least 1".into()));
    }
    if let Some(l) = transition_lambda
        && !(l.is_finite() && l >= 0.0)
    {
        return Err(Error::Config(format!(
            "transition_lambda must be finite and >= 0 (got {l})"
        )));
    }
    if observation_lambda < 2 {
        return Err(Error::Config(format!(
            "observation_lambda must be at least 2 (got {observation_lambda})"
        )));
    }
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::Config(format!(
            "threshold must be in [0, 1] (got {threshold})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_validation() {
        let d = DbnConfig::default();
        assert_eq!(d.activation_clamp, Some(1e-7));
        assert_eq!(
            DbnConfig {
                activation_clamp: None,
                ..d.clone()
            },
            DbnConfig::madmom()
        );
        assert!(d.validate().is_ok());
        for bad in [
            DbnConfig {
                min_bpm: 0.0,
                ..d.clone()
            },
            DbnConfig {
                max_bpm: 50.0,
                ..d.clone()
            },
            DbnConfig {
                observation_lambda: 1,
                ..d.clone()
            },
            DbnConfig {
                threshold: 1.5,
                ..d.clone()
            },
            DbnConfig {
                activation_clamp: Some(0.0),
                ..d.clone()
            },
            DbnConfig {
                transition_lambda: Some(f64::INFINITY),
                ..d.clone()
            },
            DbnConfig {
                num_tempi: Some(0),
                ..d.clone()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
            assert!(DbnBeatTracker::new(&bad, 62.5).is_err());
        }
        assert!(DbnBeatTracker::new(&d, 0.0).is_err());
        assert!(DbnBeatTracker::new(&d, f64::NAN).is_err());
        // 60·1/215 frames rounds to 0: no valid grid
        assert!(DbnBeatTracker::new(&d, 1.0).is_err());
    }

    #[test]
    fn config_serde_roundtrip_and_partial() {
        let c: DbnConfig = serde_json::from_str(r#"{"min_bpm": 60, "num_tempi": 40}"#).unwrap();
        assert_eq!(c.min_bpm, 60.0);
        assert_eq!(c.num_tempi, Some(40));
        assert_eq!(c.max_bpm, 215.0);
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<DbnConfig>(&s).unwrap(), c);
    }

    #[test]
    fn crop_follows_madmom_quirks() {
        let cfg = DbnConfig {
            threshold: 0.5,
            ..DbnConfig::madmom()
        };
        let tr = DbnBeatTracker::new(&cfg, 62.5).unwrap();
        assert_eq!(tr.crop(&[0.1, 0.6, 0.2, 0.7, 0.1]), (1, 4));
        assert_eq!(tr.crop(&[0.1, 0.2]), (0, 0));
        // only frame 0 qualifies: idx.any() is false, nothing is decoded
        assert_eq!(tr.crop(&[0.9, 0.2, 0.1]), (0, 0));
        assert_eq!(tr.crop(&[0.9, 0.2, 0.9]), (0, 3));
        // f32 comparison: 0.3f32 >= 0.3 (as f32)
        let cfg = DbnConfig {
            threshold: 0.3,
            ..DbnConfig::madmom()
        };
        let tr = DbnBeatTracker::new(&cfg, 62.5).unwrap();
        assert_eq!(tr.crop(&[0.0, 0.3, 0.3, 0.0]), (1, 3));
    }

    #[test]
    fn rejects_out_of_range_activations_and_wrong_fps() {
        let tr = DbnBeatTracker::new(&DbnConfig::madmom(), 62.5).unwrap();
        assert!(matches!(
            tr.decode(&[0.5, f32::NAN]),
            Err(Error::InvalidInput(_))
        ));
        assert!(tr.decode(&[0.5, 1.5]).is_err());
        assert!(tr.decode(&[-0.1]).is_err());
        let act = Activation::new(vec![0.1; 10], 100.0);
        assert!(matches!(tr.track(&act), Err(Error::InvalidInput(_))));
    }
}
