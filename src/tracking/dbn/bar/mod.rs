//! madmom-exact DBN downbeat tracker: a port of madmom 0.17
//! `madmom.features.downbeats.DBNDownBeatTrackingProcessor` (Böck, Krebs & Widmer, "Joint Beat
//! and Downbeat Tracking with Recurrent Neural Networks", ISMIR 2016; Krebs, Böck & Widmer, "An
//! efficient state-space model for joint tempo and meter tracking", ISMIR 2015).
//!
//! Split as in madmom: [`state_space`] (`BarStateSpace` and the observation pointers of
//! `RNNDownBeatTrackingObservationModel`), [`transition`] (`BarTransitionModel`) and
//! [`viterbi`] (`HiddenMarkovModel.viterbi` on the bar model). [`DbnDownbeatTracker`] builds one
//! HMM per bar length in [`DownbeatDbnConfig::beats_per_bar`], decodes the (threshold-cropped)
//! two-column activation with each, keeps the one with the highest log probability (the first on
//! ties) and reads beats and their numbers in the bar off its path.
//!
//! Input: per frame `[beat, downbeat]`, madmom's `RNNDownBeatProcessor` columns — the beat
//! column is the probability of a beat that is *not* a downbeat, so `beat + downbeat ≤ 1` (the
//! non-beat density is `ln((1 − beat − downbeat)/(λ_obs − 1))`).
//!
//! With [`DownbeatDbnConfig::madmom`] the paths, beats, beat numbers and log probabilities
//! reproduce madmom's (see `tests/dbn_downbeat_golden.rs`).

pub mod state_space;
pub mod transition;
pub mod viterbi;

use serde::{Deserialize, Serialize};

use self::state_space::{BarStateSpace, POINTER_NO_BEAT};
use self::transition::BarTransitionModel;
use self::viterbi::BarHmm;
use super::state_space::BeatStateSpace;
use super::validate_hmm;
use crate::tracking::{Activation, same_fps};
use crate::{Error, Result};

/// Settings of the DBN downbeat tracker.
///
/// Every default but `fps` and `activation_clamp` is madmom 0.17's
/// `DBNDownBeatTrackingProcessor` default (its `beats_per_bar` has none; madmom's
/// `DBNDownBeatTracker` program uses `[3, 4]`). madmom takes the frame rate as an argument (its
/// programs use 100 fps); ours is the ZeroNS network's 62.5 fps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DownbeatDbnConfig {
    /// Bar lengths (beats per bar) to model; one HMM each, the most likely wins (madmom's
    /// program: `[3, 4]`).
    pub beats_per_bar: Vec<u32>,
    /// Slowest beat tempo in BPM (madmom: 55).
    pub min_bpm: f64,
    /// Fastest beat tempo in BPM (madmom: 215).
    pub max_bpm: f64,
    /// About this many log-spaced beat intervals when fewer than the linear grid
    /// (madmom: 60); `None`: every integer interval.
    pub num_tempi: Option<usize>,
    /// Steepness of the tempo-change penalty at every beat boundary (madmom: 100). `None`
    /// forbids tempo changes.
    pub transition_lambda: Option<f64>,
    /// (Down)beat states are the first `1/observation_lambda` of each beat (madmom: 16).
    pub observation_lambda: u32,
    /// Decode only from the first to the last frame where either column is at least this value
    /// (madmom: 0.05); 0 turns the crop off.
    pub threshold: f64,
    /// Move each beat to the frame of the largest beat-or-downbeat activation inside its run of
    /// (down)beat states (madmom: true). False takes the frames where the beat number changes.
    pub correct: bool,
    /// Frames per second of the activations (madmom's programs: 100; ZeroNS: 62.5).
    pub fps: f64,
    /// `Some(eps)`: clamp both columns to `[eps, 1 − eps]` and the no-beat mass to at least
    /// `eps` before taking logs, so a saturated activation cannot force or forbid a (down)beat
    /// (the same guard as [`super::DbnConfig::activation_clamp`]). `None` is madmom's
    /// behaviour; then `beat + downbeat` above 1 is an error. Default `Some(1e-7)`.
    pub activation_clamp: Option<f64>,
}

impl Default for DownbeatDbnConfig {
    fn default() -> Self {
        Self {
            fps: 62.5,
            activation_clamp: Some(1e-7),
            ..Self::madmom()
        }
    }
}

impl DownbeatDbnConfig {
    /// Exactly madmom's `DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)`: the
    /// configuration of the golden parity tests (change `fps` for other frame rates).
    pub fn madmom() -> Self {
        Self {
            beats_per_bar: vec![3, 4],
            min_bpm: 55.0,
            max_bpm: 215.0,
            num_tempi: Some(60),
            transition_lambda: Some(100.0),
            observation_lambda: 16,
            threshold: 0.05,
            correct: true,
            fps: 100.0,
            activation_clamp: None,
        }
    }

    /// Checks every value; model-size errors come from [`DbnDownbeatTracker::new`].
    pub fn validate(&self) -> Result<()> {
        if self.beats_per_bar.is_empty() {
            return Err(Error::Config("beats_per_bar must not be empty".into()));
        }
        if let Some(&b) = self
            .beats_per_bar
            .iter()
            .find(|&&b| b == 0 || b > state_space::MAX_BEATS_PER_BAR)
        {
            return Err(Error::Config(format!(
                "beats_per_bar values must be in 1..={} (got {b})",
                state_space::MAX_BEATS_PER_BAR
            )));
        }
        if !(self.fps.is_finite() && self.fps > 0.0) {
            return Err(Error::Config(format!("fps must be > 0 (got {})", self.fps)));
        }
        validate_hmm(
            self.min_bpm,
            self.max_bpm,
            self.num_tempi,
            self.transition_lambda,
            self.observation_lambda,
            self.threshold,
        )?;
        if let Some(eps) = self.activation_clamp
            && !(eps > 0.0 && eps < 0.25)
        {
            return Err(Error::Config(format!(
                "activation_clamp must be in (0, 0.25) (got {eps})"
            )));
        }
        Ok(())
    }
}

/// A beat with its place in the bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarBeat {
    /// Frame of the input activation (crop offset included).
    pub frame: usize,
    /// `frame / fps` seconds.
    pub time_s: f64,
    /// Beat number in the bar, 1 = downbeat.
    pub position: u32,
}

/// One bar length's Viterbi result.
#[derive(Debug, Clone, PartialEq)]
pub struct BarLengthDecoding {
    /// Beats per bar of this HMM.
    pub beats_per_bar: u32,
    /// Viterbi state per frame of the decoded segment (empty if no finite path exists).
    pub path: Vec<u32>,
    /// Log probability of the path (`−inf` if none).
    pub log_prob: f64,
}

/// Everything [`DbnDownbeatTracker::decode`] found for one activation.
#[derive(Debug, Clone, PartialEq)]
pub struct DownbeatDecoding {
    /// Frame of the input where the decoded (threshold-cropped) segment starts.
    pub offset: usize,
    /// One result per configured bar length, in config order; empty when nothing was decoded
    /// (empty or all-zero activations after the crop).
    pub bar_lengths: Vec<BarLengthDecoding>,
    /// Index into `bar_lengths` of the most likely bar length (first maximum, as madmom's
    /// `np.argmax`); `None` when nothing was decoded.
    pub best: Option<usize>,
    /// The beats with their numbers in the bar, ascending.
    pub beats: Vec<BarBeat>,
}

impl DownbeatDecoding {
    /// Beats per bar of the winning HMM.
    pub fn beats_per_bar(&self) -> Option<u32> {
        self.best.map(|i| self.bar_lengths[i].beats_per_bar)
    }

    /// The winning HMM's Viterbi path (empty when nothing was decoded).
    pub fn best_path(&self) -> &[u32] {
        self.best.map_or(&[], |i| &self.bar_lengths[i].path)
    }

    /// Beat times in seconds.
    pub fn beat_times_s(&self) -> Vec<f64> {
        self.beats.iter().map(|b| b.time_s).collect()
    }

    /// Beat numbers in the bar (1 = downbeat).
    pub fn positions(&self) -> Vec<u32> {
        self.beats.iter().map(|b| b.position).collect()
    }
}

/// One bar length's precomputed model.
#[derive(Debug, Clone)]
struct BarModel {
    space: BarStateSpace,
    transitions: BarTransitionModel,
    hmm: BarHmm,
}

/// madmom's `DBNDownBeatTrackingProcessor` for one configuration and frame rate.
#[derive(Debug, Clone)]
pub struct DbnDownbeatTracker {
    config: DownbeatDbnConfig,
    models: Vec<BarModel>,
}

impl DbnDownbeatTracker {
    /// Builds one bar HMM per bar length.
    pub fn new(config: &DownbeatDbnConfig) -> Result<Self> {
        config.validate()?;
        // madmom: min_interval = 60. * fps / max_bpm; max_interval = 60. * fps / min_bpm
        let beat = BeatStateSpace::new(
            60.0 * config.fps / config.max_bpm,
            60.0 * config.fps / config.min_bpm,
            config.num_tempi,
        )?;
        let models = config
            .beats_per_bar
            .iter()
            .map(|&b| {
                let space = BarStateSpace::new(b, beat.clone(), config.observation_lambda)?;
                let transitions = BarTransitionModel::uniform(&space, config.transition_lambda)?;
                let hmm = BarHmm::new(&space, &transitions);
                Ok(BarModel {
                    space,
                    transitions,
                    hmm,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: config.clone(),
            models,
        })
    }

    /// The configuration this tracker was built with.
    pub fn config(&self) -> &DownbeatDbnConfig {
        &self.config
    }

    /// The bar state space of the `i`-th configured bar length.
    pub fn state_space(&self, i: usize) -> Option<&BarStateSpace> {
        self.models.get(i).map(|m| &m.space)
    }

    /// The transition model of the `i`-th configured bar length.
    pub fn transition_model(&self, i: usize) -> Option<&BarTransitionModel> {
        self.models.get(i).map(|m| &m.transitions)
    }

    /// Beats with bar positions from a beat and a downbeat activation (same length, this
    /// tracker's fps; see the module docs for what the beat column means).
    pub fn track(&self, beat: &Activation, downbeat: &Activation) -> Result<Vec<BarBeat>> {
        for a in [beat, downbeat] {
            if !same_fps(a.fps, self.config.fps) {
                return Err(Error::InvalidInput(format!(
                    "activation is at {} fps but the downbeat tracker was built for {} fps",
                    a.fps, self.config.fps
                )));
            }
        }
        if beat.len() != downbeat.len() {
            return Err(Error::InvalidInput(format!(
                "beat activation has {} frames but the downbeat activation {}",
                beat.len(),
                downbeat.len()
            )));
        }
        let frames: Vec<[f32; 2]> = beat
            .values
            .iter()
            .zip(&downbeat.values)
            .map(|(&b, &d)| [b, d])
            .collect();
        Ok(self.decode(&frames)?.beats)
    }

    /// Full decoding of `[beat, downbeat]` frames (madmom `DBNDownBeatTrackingProcessor.process`).
    pub fn decode(&self, activations: &[[f32; 2]]) -> Result<DownbeatDecoding> {
        let _span =
            tracing::info_span!("tracking.dbn_downbeat", frames = activations.len()).entered();
        for (t, frame) in activations.iter().enumerate() {
            if let Some(v) = frame.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                return Err(Error::InvalidInput(format!(
                    "downbeat DBN activations must lie in [0, 1]; frame {t} has {v}"
                )));
            }
        }
        let mut out = DownbeatDecoding {
            offset: 0,
            bar_lengths: Vec::new(),
            best: None,
            beats: Vec::new(),
        };
        let (first, last) = self.crop(activations);
        out.offset = first;
        let act = &activations[first..last];
        // `if not activations.any()`: empty or all zero
        if !act.iter().flatten().any(|&a| a != 0.0) {
            return Ok(out);
        }
        let dens = self.log_densities(act, first)?;
        for m in &self.models {
            let v = m.hmm.viterbi(&dens);
            if v.log_prob == f64::NEG_INFINITY {
                tracing::warn!(
                    beats_per_bar = m.space.num_beats(),
                    "-inf log probability: no valid path for this bar length"
                );
            }
            out.bar_lengths.push(BarLengthDecoding {
                beats_per_bar: m.space.num_beats(),
                path: v.path,
                log_prob: v.log_prob,
            });
        }
        // np.argmax: the first maximum
        let mut best = 0;
        for (i, d) in out.bar_lengths.iter().enumerate() {
            if d.log_prob > out.bar_lengths[best].log_prob {
                best = i;
            }
        }
        out.best = Some(best);
        let space = &self.models[best].space;
        let path = &out.bar_lengths[best].path;
        let local = if self.config.correct {
            beats_corrected(space, path, act)
        } else {
            beats_uncorrected(space, path)
        };
        out.beats = local
            .into_iter()
            .map(|(f, position)| BarBeat {
                frame: f + first,
                time_s: (f + first) as f64 / self.config.fps,
                position,
            })
            .collect();
        Ok(out)
    }

    /// Per frame `[no beat, beat, downbeat]` log densities, in f64 (madmom computes them in the
    /// input's dtype; see the golden test for the difference float32 makes).
    fn log_densities(&self, act: &[[f32; 2]], offset: usize) -> Result<Vec<[f64; 3]>> {
        let norm = f64::from(self.config.observation_lambda - 1);
        act.iter()
            .enumerate()
            .map(|(t, &[b, d])| {
                let (b, d) = (f64::from(b), f64::from(d));
                let (b, d, rest) = match self.config.activation_clamp {
                    Some(eps) => {
                        let (b, d) = (b.clamp(eps, 1.0 - eps), d.clamp(eps, 1.0 - eps));
                        (b, d, (1.0 - (b + d)).max(eps))
                    }
                    None => (b, d, 1.0 - (b + d)),
                };
                if rest < 0.0 {
                    return Err(Error::InvalidInput(format!(
                        "beat + downbeat activation is {} at frame {} (must be at most 1: the \
                         beat column excludes downbeats)",
                        b + d,
                        t + offset
                    )));
                }
                Ok([(rest / norm).ln(), b.ln(), d.ln()])
            })
            .collect()
    }

    /// madmom's `threshold_activations` on two columns: `[first, last)` of the frames where
    /// either column reaches the threshold, with the beat tracker's `idx.any()` quirk (only
    /// frame 0 qualifying crops everything).
    fn crop(&self, act: &[[f32; 2]]) -> (usize, usize) {
        let thr = self.config.threshold;
        if thr == 0.0 {
            return (0, act.len());
        }
        // numpy compares the float32 array with the (weak) Python float in float32.
        let thr = thr as f32;
        let mut idx = act
            .iter()
            .enumerate()
            .filter(|(_, f)| f[0] >= thr || f[1] >= thr);
        let Some((lo, _)) = idx.next() else {
            return (0, 0);
        };
        let hi = idx.next_back().map_or(lo, |(i, _)| i);
        if hi == 0 {
            return (0, 0);
        }
        (lo, hi + 1)
    }
}

/// correct=True: for every run of (down)beat states, the frame of the largest value of either
/// column (madmom's `argmax` over the flattened `frames × 2` slice, first maximum, `// 2`), with
/// the beat number of the path's state at that frame.
fn beats_corrected(space: &BarStateSpace, path: &[u32], act: &[[f32; 2]]) -> Vec<(usize, u32)> {
    let pointers = space.pointers();
    let in_range = |t: usize| {
        path.get(t)
            .is_some_and(|&s| pointers[s as usize] != POINTER_NO_BEAT)
    };
    let mut beats = Vec::new();
    let mut run_start: Option<usize> = None;
    for t in 0..=path.len() {
        match (in_range(t), run_start) {
            (true, None) => run_start = Some(t),
            (false, Some(l)) => {
                let mut peak = l;
                let mut peak_value = act[l][0];
                for (k, frame) in act.iter().enumerate().take(t).skip(l) {
                    for &v in frame {
                        if v > peak_value {
                            peak_value = v;
                            peak = k;
                        }
                    }
                }
                if let Some(n) = space.beat_number(path[peak]) {
                    beats.push((peak, n));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    beats
}

/// correct=False: the frames where the path's beat number changes (madmom: `nonzero(diff(beat
/// numbers)) + 1`; no wrap-around, so a beat on the first frame is never reported).
fn beats_uncorrected(space: &BarStateSpace, path: &[u32]) -> Vec<(usize, u32)> {
    let numbers: Vec<u32> = path
        .iter()
        .map(|&s| space.beat_number(s).unwrap_or(0))
        .collect();
    (1..numbers.len())
        .filter(|&t| numbers[t] != numbers[t - 1])
        .map(|t| (t, numbers[t]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_validation() {
        let d = DownbeatDbnConfig::default();
        assert_eq!((d.fps, d.activation_clamp), (62.5, Some(1e-7)));
        assert_eq!(
            DownbeatDbnConfig {
                fps: 100.0,
                activation_clamp: None,
                ..d.clone()
            },
            DownbeatDbnConfig::madmom()
        );
        assert!(d.validate().is_ok());
        let bad = [
            DownbeatDbnConfig {
                beats_per_bar: vec![],
                ..d.clone()
            },
            DownbeatDbnConfig {
                beats_per_bar: vec![3, 0],
                ..d.clone()
            },
            DownbeatDbnConfig {
                fps: 0.0,
                ..d.clone()
            },
            DownbeatDbnConfig {
                max_bpm: 40.0,
                ..d.clone()
            },
            DownbeatDbnConfig {
                threshold: -0.1,
                ..d.clone()
            },
            DownbeatDbnConfig {
                observation_lambda: 1,
                ..d.clone()
            },
            DownbeatDbnConfig {
                activation_clamp: Some(0.5),
                ..d.clone()
            },
            DownbeatDbnConfig {
                num_tempi: Some(0),
                ..d.clone()
            },
        ];
        for c in bad {
            assert!(matches!(c.validate(), Err(Error::Config(_))), "{c:?}");
            assert!(DbnDownbeatTracker::new(&c).is_err());
        }
        let c: DownbeatDbnConfig =
            serde_json::from_str(r#"{"beats_per_bar": [4], "fps": 100}"#).unwrap();
        assert_eq!(c.beats_per_bar, vec![4]);
        assert_eq!(c.num_tempi, Some(60));
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<DownbeatDbnConfig>(&s).unwrap(), c);
    }

    #[test]
    fn crop_follows_madmom() {
        let tr = DbnDownbeatTracker::new(&DownbeatDbnConfig {
            threshold: 0.5,
            ..DownbeatDbnConfig::madmom()
        })
        .unwrap();
        let a = [[0.1, 0.0], [0.2, 0.6], [0.1, 0.1], [0.7, 0.0], [0.1, 0.1]];
        assert_eq!(tr.crop(&a), (1, 4));
        assert_eq!(tr.crop(&[[0.9, 0.0], [0.1, 0.1]]), (0, 0));
        assert_eq!(tr.crop(&[[0.1, 0.1]]), (0, 0));
    }

    #[test]
    fn rejects_bad_activations() {
        let tr = DbnDownbeatTracker::new(&DownbeatDbnConfig::madmom()).unwrap();
        assert!(matches!(
            tr.decode(&[[0.5, f32::NAN]]),
            Err(Error::InvalidInput(_))
        ));
        assert!(tr.decode(&[[0.5, 1.5]]).is_err());
        // beat + downbeat above 1 without a clamp
        assert!(tr.decode(&[[0.7, 0.6]; 20]).is_err());
        let clamped = DbnDownbeatTracker::new(&DownbeatDbnConfig {
            activation_clamp: Some(1e-7),
            ..DownbeatDbnConfig::madmom()
        })
        .unwrap();
        assert!(clamped.decode(&[[0.7, 0.6]; 20]).is_ok());
        let a = Activation::new(vec![0.1; 10], 62.5);
        assert!(tr.track(&a, &a).is_err());
        let b = Activation::new(vec![0.1; 10], 100.0);
        let c = Activation::new(vec![0.1; 11], 100.0);
        assert!(tr.track(&b, &c).is_err());
        let none = tr.decode(&[[0.0, 0.0]; 30]).unwrap();
        assert!(none.beats.is_empty() && none.best.is_none());
    }

    #[test]
    fn tracks_a_synthetic_three_four() {
        // 120 BPM at 62.5 fps: a beat every 31.25 frames, a downbeat every third.
        let fps = 62.5;
        let n = (20.0 * fps) as usize;
        let mut frames = vec![[0.01f32, 0.01f32]; n];
        for k in 0..40 {
            let t = ((0.3 + 0.5 * f64::from(k)) * fps).round() as usize;
            if t < n {
                frames[t] = if k % 3 == 1 { [0.05, 0.9] } else { [0.9, 0.05] };
            }
        }
        let tr = DbnDownbeatTracker::new(&DownbeatDbnConfig::default()).unwrap();
        let dec = tr.decode(&frames).unwrap();
        assert_eq!(dec.beats_per_bar(), Some(3));
        let beats = &dec.beats;
        assert!(beats.len() >= 38, "{}", beats.len());
        for b in beats {
            let k = ((b.time_s - 0.3) / 0.5).round() as i64;
            assert!((b.time_s - (0.3 + 0.5 * k as f64)).abs() < 0.02, "{b:?}");
            let want = ((k - 1).rem_euclid(3) + 1) as u32;
            assert_eq!(b.position, want, "{b:?}");
        }
        let beat = Activation::new(frames.iter().map(|f| f[0]).collect(), fps);
        let down = Activation::new(frames.iter().map(|f| f[1]).collect(), fps);
        assert_eq!(tr.track(&beat, &down).unwrap(), dec.beats);
    }
}
