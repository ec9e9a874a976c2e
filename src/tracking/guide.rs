//! Tracking that continues the user's own beats.
//!
//! A user who corrects the first 30–60 s of a song has told the tracker two things it could not
//! know: the song's tempo (hence its metrical level) and the phase of the pulse. Both are the
//! tracker's main failure modes (a whole song at double tempo, or on the off-beat). A
//! [`BeatGuide`] feeds them to the decoder:
//!
//! - the tempo range is narrowed to the corrected beats' local tempi ± `tempo_margin`
//!   ([`tempo_range_from_beats`]), which excludes the octave (×2, ×½) and 3:2 levels;
//! - the activation over the corrected region is replaced by a pulse exactly on the user's
//!   beats ([`guided_activation`]), so the decoder's path goes through them and carries their
//!   phase into the rest of the song, where the activation takes over again.
//!
//! The tempo range holds for the whole song. The phase holds where the music leaves it open
//! (equal pulses, a weak beat); where the activation clearly prefers another phase (a strong
//! backbeat against a user counting beats 1 and 3 in half time) the decoder moves to it
//! within a few beats, as the DBN's tempo-change penalty is finite.
//!
//! [`complete_beats`] returns the user's beats up to `until_s` followed by the tracked
//! continuation. Measured on the development set (38 songs, first 30 s of the reference grid
//! as the "corrections", flux activation, F on the rest of each song): unguided 0.775, tempo
//! range (margin 1.3) 0.831, range + anchored pulse 0.857 (`MODEL_CARD.md`).

use serde::{Deserialize, Serialize};

use super::refine::{RefineConfig, refine_beats};
use super::{Activation, Tracker, TrackerConfig};
use crate::{Error, Result};

/// How the user's beats steer the decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuideConfig {
    /// The tempo range is the corrected beats' tempo span divided/multiplied by this. 1.3
    /// keeps ritardandos and accelerandos of the devset's MMA songs in range (1.2 lost two of
    /// them) while excluding ×1.5 and ×2 errors of a steady song.
    pub tempo_margin: f64,
    /// Fewer corrected beats than this give no tempo range (the pulse is still anchored).
    pub min_beats: usize,
    /// Fraction of the local tempi ignored at each end (robust to one misplaced beat).
    pub tempo_quantile: f64,
    /// Activation value between the user's beats in the corrected region (the flux's floor).
    pub floor: f32,
    /// The continued beats are refined below the frame on the song's own activation, like
    /// the pipeline's ([`super::refine`]).
    pub refine: RefineConfig,
}

impl Default for GuideConfig {
    fn default() -> Self {
        Self {
            tempo_margin: 1.3,
            min_beats: 4,
            tempo_quantile: 0.05,
            floor: 1e-4,
            refine: RefineConfig::default(),
        }
    }
}

impl GuideConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !(self.tempo_margin.is_finite() && self.tempo_margin >= 1.0) {
            return Err(Error::Config(format!(
                "guide tempo_margin must be ≥ 1 (got {})",
                self.tempo_margin
            )));
        }
        if !(0.0..0.5).contains(&self.tempo_quantile) {
            return Err(Error::Config(format!(
                "guide tempo_quantile must be in [0, 0.5) (got {})",
                self.tempo_quantile
            )));
        }
        if !(self.floor > 0.0 && self.floor < 0.5) {
            return Err(Error::Config(format!(
                "guide floor must be in (0, 0.5) (got {})",
                self.floor
            )));
        }
        Ok(())
    }
}

/// Beats the user has checked: every beat in `[0, until_s]` is right, and the song's beats
/// after `until_s` are for the tracker to find.
#[derive(Debug, Clone, Copy)]
pub struct BeatGuide<'a> {
    /// The user's beats (sorted seconds); those after `until_s` are ignored.
    pub beats_s: &'a [f64],
    /// End of the checked region (s).
    pub until_s: f64,
}

impl BeatGuide<'_> {
    fn checked(&self) -> impl Iterator<Item = f64> + '_ {
        self.beats_s
            .iter()
            .copied()
            .filter(move |t| t.is_finite() && *t >= 0.0 && *t <= self.until_s)
    }

    fn validate(&self) -> Result<()> {
        if !(self.until_s.is_finite() && self.until_s >= 0.0) {
            return Err(Error::InvalidInput(format!(
                "the checked region must end at a time ≥ 0 s (got {})",
                self.until_s
            )));
        }
        if self.beats_s.windows(2).any(|w| w[1] <= w[0]) {
            return Err(Error::InvalidInput(
                "the guiding beats must be sorted and distinct".into(),
            ));
        }
        Ok(())
    }
}

/// The tempo range (min, max BPM) the beats imply: the span of their local tempi (each
/// inter-beat interval; the `quantile` tails dropped) widened by `margin` each way. `None` for
/// fewer than `min_beats` beats.
pub fn tempo_range_from_beats(beats_s: &[f64], config: &GuideConfig) -> Option<(f64, f64)> {
    if beats_s.len() < config.min_beats.max(2) {
        return None;
    }
    let mut tempi: Vec<f64> = beats_s
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0 && d.is_finite())
        .map(|d| 60.0 / d)
        .collect();
    if tempi.is_empty() {
        return None;
    }
    tempi.sort_by(f64::total_cmp);
    let cut = (tempi.len() as f64 * config.tempo_quantile).floor() as usize;
    let lo = tempi[cut.min(tempi.len() - 1)];
    let hi = tempi[tempi.len() - 1 - cut.min(tempi.len() - 1)];
    Some((lo / config.tempo_margin, hi * config.tempo_margin))
}

/// `activation` with the checked region replaced by a pulse on the user's beats: 1 − floor at
/// the frame nearest each beat, `floor` elsewhere up to `until_s`.
pub fn guided_activation(
    activation: &Activation,
    guide: &BeatGuide<'_>,
    config: &GuideConfig,
) -> Activation {
    let mut values = activation.values.clone();
    let fps = activation.fps;
    let end = ((guide.until_s * fps).floor() as usize + 1).min(values.len());
    for v in &mut values[..end] {
        *v = config.floor;
    }
    for t in guide.checked() {
        let f = (t * fps).round() as usize;
        if let Some(v) = values.get_mut(f) {
            *v = 1.0 - config.floor;
        }
    }
    Activation::new(values, fps)
}

/// The tracker's settings narrowed to the tempo the checked beats imply (DBN only; the other
/// trackers are returned unchanged).
pub fn guided_tracker(
    tracker: &TrackerConfig,
    guide: &BeatGuide<'_>,
    config: &GuideConfig,
) -> TrackerConfig {
    let mut out = tracker.clone();
    let checked: Vec<f64> = guide.checked().collect();
    if let (TrackerConfig::Dbn(d), Some((lo, hi))) =
        (&mut out, tempo_range_from_beats(&checked, config))
    {
        d.min_bpm = lo;
        d.max_bpm = hi;
    }
    out
}

/// The user's beats up to `guide.until_s`, then the beats the tracker finds after it when
/// guided by them (tempo range and anchored pulse, see the module docs).
pub fn complete_beats(
    activation: &Activation,
    tracker: &TrackerConfig,
    guide: &BeatGuide<'_>,
    config: &GuideConfig,
) -> Result<Vec<f64>> {
    let _span = tracing::info_span!("complete_beats", until_s = guide.until_s).entered();
    config.validate()?;
    guide.validate()?;
    let tracker_config = guided_tracker(tracker, guide, config);
    if let TrackerConfig::Dbn(d) = &tracker_config {
        tracing::debug!(
            min_bpm = d.min_bpm,
            max_bpm = d.max_bpm,
            "guided tempo range"
        );
    }
    let guided = guided_activation(activation, guide, config);
    let tracked = Tracker::new(&tracker_config, activation.fps)?.track(&guided)?;
    let tracked = refine_beats(&tracked, activation, &config.refine)?;
    let mut out: Vec<f64> = guide.checked().collect();
    // The decoder passes through the user's beats (to the frame); what it adds after the
    // region starts half a frame-tolerance past it.
    let after = guide.until_s + 0.5 / activation.fps;
    let last = out.last().copied().unwrap_or(f64::NEG_INFINITY);
    out.extend(
        tracked
            .into_iter()
            .filter(|t| *t > after && *t > last + 1.0 / activation.fps),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::dbn::DbnConfig;

    const FPS: f64 = 62.5;

    /// A click-like activation: peaks of `height` at `period_s` from `phase_s`, 0.02 elsewhere.
    fn pulse(len_s: f64, period_s: f64, phase_s: f64, height: f32) -> Vec<f32> {
        let n = (len_s * FPS) as usize;
        let mut v = vec![0.02f32; n];
        let mut t = phase_s;
        while t < len_s {
            let f = (t * FPS).round() as usize;
            if f < n {
                v[f] = height;
            }
            t += period_s;
        }
        v
    }

    #[test]
    fn tempo_range_brackets_the_beats_and_excludes_octaves() {
        let beats: Vec<f64> = (0..40).map(|i| i as f64 * 0.5).collect(); // 120 BPM
        let (lo, hi) = tempo_range_from_beats(&beats, &GuideConfig::default()).unwrap();
        assert!((lo - 120.0 / 1.3).abs() < 1e-9 && (hi - 156.0).abs() < 1e-9);
        assert!(hi < 180.0 && lo > 60.0, "×1.5 and ×½ are outside {lo}–{hi}");
        assert!(tempo_range_from_beats(&beats[..3], &GuideConfig::default()).is_none());
        // One misplaced beat among 40 does not widen the range (5 % tails dropped).
        let mut odd = beats.clone();
        odd[20] += 0.2;
        let (lo2, hi2) = tempo_range_from_beats(&odd, &GuideConfig::default()).unwrap();
        assert!(lo2 > 80.0 && hi2 < 170.0, "{lo2}–{hi2}");
    }

    #[test]
    fn guided_activation_pulses_on_the_checked_beats_only() {
        let act = Activation::new(vec![0.5; 1000], FPS);
        let beats = [1.0, 2.0, 3.0, 12.0];
        let g = guided_activation(
            &act,
            &BeatGuide {
                beats_s: &beats,
                until_s: 4.0,
            },
            &GuideConfig::default(),
        );
        let peaks: Vec<usize> = (0..1000).filter(|&i| g.values[i] > 0.9).collect();
        assert_eq!(peaks, vec![63, 125, 188]); // 62.5 rounds up
        assert!(g.values[..=250].iter().all(|v| *v > 0.9 || *v < 1e-3));
        assert!(
            g.values[251..].iter().all(|v| *v == 0.5),
            "after the region: untouched"
        );
    }

    /// An ambiguous song: equal pulses at 180 BPM, the beat is every other one (90 BPM).
    /// Unguided, the DBN takes the faster level; guided by 10 s of beats it keeps the user's
    /// tempo and phase (the even pulses, not the odd ones) for the rest of the song.
    #[test]
    fn a_corrected_start_fixes_tempo_and_phase_of_the_rest() {
        let len = 60.0;
        let pulse_s = 1.0 / 3.0;
        let act = Activation::new(pulse(len, pulse_s, 0.2, 0.8), FPS);
        let tracker = TrackerConfig::Dbn(DbnConfig::default());
        let truth: Vec<f64> = (0..90).map(|i| 0.2 + i as f64 * 2.0 * pulse_s).collect();
        let precision = |beats: &[f64]| {
            let rest: Vec<f64> = beats.iter().copied().filter(|t| *t > 12.0).collect();
            let hits = rest
                .iter()
                .filter(|t| truth.iter().any(|r| (*t - r).abs() < 0.07))
                .count();
            hits as f64 / rest.len().max(1) as f64
        };
        let unguided = Tracker::new(&tracker, FPS).unwrap().track(&act).unwrap();
        assert!(
            precision(&unguided) < 0.6,
            "the test's trap works: {}",
            precision(&unguided)
        );
        let checked: Vec<f64> = truth.iter().copied().filter(|t| *t <= 10.0).collect();
        let guide = BeatGuide {
            beats_s: &checked,
            until_s: 10.0,
        };
        let done = complete_beats(&act, &tracker, &guide, &GuideConfig::default()).unwrap();
        assert_eq!(
            &done[..checked.len()],
            &checked[..],
            "the user's beats are kept exactly"
        );
        assert!(precision(&done) > 0.95, "guided: {}", precision(&done));
        let rest = done.iter().filter(|t| **t > 12.0).count();
        assert!(
            rest >= 70,
            "the whole rest is tracked: {rest} beats after 12 s"
        );
        assert!(done.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn bad_guides_are_errors() {
        let act = Activation::new(vec![0.1; 100], FPS);
        let tracker = TrackerConfig::default();
        let c = GuideConfig::default();
        let unsorted = [1.0, 0.5];
        for g in [
            BeatGuide {
                beats_s: &unsorted,
                until_s: 1.0,
            },
            BeatGuide {
                beats_s: &[],
                until_s: f64::NAN,
            },
        ] {
            assert!(complete_beats(&act, &tracker, &g, &c).is_err());
        }
        let bad = GuideConfig {
            tempo_margin: 0.5,
            ..GuideConfig::default()
        };
        let ok = BeatGuide {
            beats_s: &[],
            until_s: 0.0,
        };
        assert!(complete_beats(&act, &tracker, &ok, &bad).is_err());
        // No checked beats: plain tracking.
        assert!(complete_beats(&act, &tracker, &ok, &c).is_ok());
    }
}
