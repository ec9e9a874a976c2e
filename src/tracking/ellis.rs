//! Dynamic-programming beat tracker (Ellis, "Beat tracking by dynamic programming", JNMR 2007)
//! with the semantics of librosa ≥ 0.10.2 `librosa.beat.beat_track` on an onset envelope
//! (spec tracking-metrics-formats.md §2.1). ZeroNS's `librosa` decoder ran this on the network
//! activation (`beat_track(sr=16000, onset_envelope=act, hop_length=256)`).
//!
//! Steps: tempo (given, or [`super::tempo::tempo`]); period `round(60·fps/bpm)` frames; local
//! score = the std-normalised envelope convolved with a Gaussian of the period (librosa's numba
//! loop, which never reads frame 0); DP over previous beats `period/2 .. 2·period` back with the
//! penalty `tightness·(ln Δ − ln period)²`; last beat = last local maximum of the cumulative
//! score above half the median of the maxima; backtrack; trim weak leading/trailing beats.

use serde::{Deserialize, Serialize};

use super::tempo::{TempoConfig, tempo};
use crate::{Error, Result};

/// Settings of [`beat_track`]. Defaults are librosa's `beat_track` defaults.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EllisConfig {
    /// How strictly beats follow the tempo (librosa `tightness=100`).
    pub tightness: f64,
    /// Drop weak leading/trailing beats (librosa `trim=True`).
    pub trim: bool,
    /// Prior centre of the tempo estimate in BPM (librosa `start_bpm=120`); other tempo
    /// settings are [`TempoConfig`]'s defaults.
    pub start_bpm: f64,
    /// Fixed tempo in BPM; `None` estimates it with [`tempo`] (librosa `bpm=None`).
    pub bpm: Option<f64>,
}

impl Default for EllisConfig {
    fn default() -> Self {
        Self {
            tightness: 100.0,
            trim: true,
            start_bpm: 120.0,
            bpm: None,
        }
    }
}

impl EllisConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        if !(self.tightness.is_finite() && self.tightness > 0.0) {
            return Err(Error::Config(format!(
                "tightness must be > 0 (got {})",
                self.tightness
            )));
        }
        if !(self.start_bpm.is_finite() && self.start_bpm > 0.0) {
            return Err(Error::Config(format!(
                "start_bpm must be > 0 (got {})",
                self.start_bpm
            )));
        }
        if let Some(b) = self.bpm
            && !(b.is_finite() && b > 0.0)
        {
            return Err(Error::Config(format!("bpm must be > 0 (got {b})")));
        }
        Ok(())
    }
}

/// Output of [`beat_track`].
#[derive(Debug, Clone, PartialEq)]
pub struct EllisBeats {
    /// Tempo used by the DP (BPM); 0 when the envelope is all zero (as librosa).
    pub bpm: f64,
    /// Beat frames, ascending.
    pub beat_frames: Vec<usize>,
    /// Beat times in seconds (`frame / fps`).
    pub beat_times_s: Vec<f64>,
}

/// Tracks beats in an onset envelope / activation sampled at `fps`.
pub fn beat_track(envelope: &[f32], fps: f64, config: &EllisConfig) -> Result<EllisBeats> {
    let _span = tracing::info_span!("tracking.ellis", frames = envelope.len()).entered();
    config.validate()?;
    if !(fps.is_finite() && fps > 0.0) {
        return Err(Error::InvalidInput(format!("fps must be > 0 (got {fps})")));
    }
    if let Some((t, v)) = envelope.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "onset envelope frame {t} is not finite ({v})"
        )));
    }
    let none = EllisBeats {
        bpm: 0.0,
        beat_frames: Vec::new(),
        beat_times_s: Vec::new(),
    };
    if !envelope.iter().any(|&v| v != 0.0) {
        return Ok(none);
    }
    let bpm = match config.bpm {
        Some(b) => b,
        None => {
            let tc = TempoConfig {
                start_bpm: config.start_bpm,
                ..TempoConfig::default()
            };
            tempo(envelope, fps, &tc)?
        }
    };
    let period = (fps * 60.0 / bpm).round_ties_even();
    if !(2.0..=1e6).contains(&period) {
        return Err(Error::InvalidInput(format!(
            "{bpm} BPM at {fps} fps is a {period}-frame beat period; need 2..1e6 frames"
        )));
    }
    let period = period as usize;
    let onsets = normalize_onsets(envelope);
    let local = local_score(&onsets, period);
    let (backlink, cumscore) = dp(&local, period, config.tightness);
    let tail = last_beat(&cumscore);

    let mut is_beat = vec![false; local.len()];
    let mut n = Some(tail);
    while let Some(i) = n {
        is_beat[i] = true;
        n = backlink[i];
    }
    trim_beats(&local, &mut is_beat, config.trim);
    let beat_frames: Vec<usize> = (0..is_beat.len()).filter(|&i| is_beat[i]).collect();
    let beat_times_s = beat_frames.iter().map(|&f| f as f64 / fps).collect();
    Ok(EllisBeats {
        bpm,
        beat_frames,
        beat_times_s,
    })
}

/// `onsets / (std(onsets, ddof=1) + tiny)`.
fn normalize_onsets(x: &[f32]) -> Vec<f64> {
    let n = x.len();
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let std = if n > 1 {
        let ss: f64 = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let d = std + f64::MIN_POSITIVE;
    x.iter().map(|&v| f64::from(v) / d).collect()
}

/// Same-mode convolution with `exp(−½·(m·32/period)²)`, `m = −period..=period`, summed as
/// librosa's numba loop does (which never reads frame 0).
fn local_score(o: &[f64], period: usize) -> Vec<f64> {
    let p = period as f64;
    let k_len = 2 * period + 1;
    let window: Vec<f64> = (0..k_len)
        .map(|k| (-0.5 * ((k as f64 - p) * 32.0 / p).powi(2)).exp())
        .collect();
    let n = o.len();
    let half = k_len / 2;
    (0..n)
        .map(|i| {
            let lo = (i + half + 1).saturating_sub(n);
            let hi = (i + half).min(k_len);
            let mut s = 0.0;
            for (k, &w) in window.iter().enumerate().take(hi).skip(lo) {
                s += w * o[i + half - k];
            }
            s
        })
        .collect()
}

/// The DP: cumulative score and backlink (`None` = no predecessor) per frame.
fn dp(local: &[f64], period: usize, tightness: f64) -> (Vec<Option<usize>>, Vec<f64>) {
    let n = local.len();
    let p = period as f64;
    // Python round(period / 2) is half-to-even.
    let near = ((p / 2.0).round_ties_even() as usize).max(1);
    let far = 2 * period;
    let ln_p = p.ln();
    // penalty[d] for the distance d = i − loc
    let penalty: Vec<f64> = (0..=far)
        .map(|d| tightness * ((d as f64).ln() - ln_p).powi(2))
        .collect();
    let max_local = local.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let score_thresh = 0.01 * max_local;
    let mut backlink = vec![None; n];
    let mut cumscore = vec![0.0; n];
    let mut first_beat = true;
    for i in 0..n {
        let mut best = f64::NEG_INFINITY;
        let mut loc_best = None;
        // nearest candidate first; strict '>' keeps the nearest on ties
        for (d, &pen) in penalty.iter().enumerate().take(far + 1).skip(near) {
            let Some(loc) = i.checked_sub(d) else { break };
            let score = cumscore[loc] - pen;
            if score > best {
                best = score;
                loc_best = Some(loc);
            }
        }
        cumscore[i] = match loc_best {
            Some(_) => local[i] + best,
            None => local[i],
        };
        if first_beat && local[i] < score_thresh {
            backlink[i] = None;
        } else {
            backlink[i] = loc_best;
            first_beat = false;
        }
    }
    (backlink, cumscore)
}

/// Last local maximum of `cumscore` at or above half the median of all local maxima
/// (the last frame when there is none).
fn last_beat(cumscore: &[f64]) -> usize {
    let n = cumscore.len();
    // librosa.util.localmax: x[i] > x[i-1] and x[i] >= x[i+1], edges padded by repetition
    let is_max = |i: usize| {
        let left = if i == 0 { cumscore[0] } else { cumscore[i - 1] };
        let right = if i + 1 == n {
            cumscore[i]
        } else {
            cumscore[i + 1]
        };
        cumscore[i] > left && cumscore[i] >= right
    };
    let mut maxima: Vec<f64> = (0..n).filter(|&i| is_max(i)).map(|i| cumscore[i]).collect();
    if maxima.is_empty() {
        return n - 1;
    }
    maxima.sort_by(f64::total_cmp);
    let m = maxima.len();
    let median = if m % 2 == 1 {
        maxima[m / 2]
    } else {
        0.5 * (maxima[m / 2 - 1] + maxima[m / 2])
    };
    let threshold = 0.5 * median;
    (0..n)
        .rev()
        .find(|&i| is_max(i) && cumscore[i] >= threshold)
        .unwrap_or(n - 1)
}

/// librosa's trim: threshold = ½·RMS of the beat local scores smoothed with Hann(5)
/// `[0, .5, 1, .5, 0]` (0 without trim); clear every leading and trailing frame whose local
/// score is at or below it.
fn trim_beats(local: &[f64], is_beat: &mut [bool], trim: bool) {
    let vals: Vec<f64> = local
        .iter()
        .zip(is_beat.iter())
        .filter(|(_, b)| **b)
        .map(|(v, _)| *v)
        .collect();
    let threshold = if trim && !vals.is_empty() {
        let m = vals.len();
        let smooth = (0..m).map(|i| {
            let prev = if i > 0 { vals[i - 1] } else { 0.0 };
            let next = if i + 1 < m { vals[i + 1] } else { 0.0 };
            0.5 * prev + vals[i] + 0.5 * next
        });
        0.5 * (smooth.map(|s| s * s).sum::<f64>() / m as f64).sqrt()
    } else {
        0.0
    };
    for (v, b) in local.iter().zip(is_beat.iter_mut()) {
        if *v > threshold {
            break;
        }
        *b = false;
    }
    for (v, b) in local.iter().zip(is_beat.iter_mut()).rev() {
        if *v > threshold {
            break;
        }
        *b = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_score_skips_frame_zero_like_librosa() {
        // An impulse at frame 0 is never seen by librosa's loop.
        let mut o = vec![0.0; 20];
        o[0] = 1.0;
        assert!(local_score(&o, 4).iter().all(|&v| v == 0.0));
        // An impulse at frame 5 spreads symmetrically around frame 5.
        let mut o = vec![0.0; 20];
        o[5] = 1.0;
        let ls = local_score(&o, 4);
        assert_eq!(ls[5], 1.0);
        assert_eq!(ls[4], ls[6]);
        assert!(ls[4] < 1.0);
    }

    #[test]
    fn last_beat_rules() {
        // maxima at 2 (5.0) and 5 (1.0): median 3.0, threshold 1.5 -> frame 2
        assert_eq!(last_beat(&[0.0, 1.0, 5.0, 0.0, 0.5, 1.0, 0.2]), 2);
        // the last frame counts when above its neighbour
        assert_eq!(last_beat(&[0.0, 1.0, 0.5, 2.0]), 3);
        // no local maximum at all
        assert_eq!(last_beat(&[3.0, 2.0, 1.0]), 2);
    }

    #[test]
    fn trim_clears_weak_edges() {
        let local = [0.0, 0.1, 2.0, 0.0, 2.0, 0.0, 2.0, 0.05];
        let mut beats = [false, true, true, false, true, false, true, true];
        trim_beats(&local, &mut beats, true);
        assert_eq!(beats, [false, false, true, false, true, false, true, false]);
    }

    #[test]
    fn all_zero_envelope_gives_no_beats() {
        let out = beat_track(&[0.0; 500], 62.5, &EllisConfig::default()).unwrap();
        assert_eq!(out.bpm, 0.0);
        assert!(out.beat_frames.is_empty());
        let out = beat_track(&[], 62.5, &EllisConfig::default()).unwrap();
        assert!(out.beat_frames.is_empty());
    }

    #[test]
    fn validation() {
        let c = EllisConfig {
            tightness: 0.0,
            ..EllisConfig::default()
        };
        assert!(matches!(
            beat_track(&[1.0; 10], 62.5, &c),
            Err(Error::Config(_))
        ));
        let c = EllisConfig {
            bpm: Some(3000.0),
            ..EllisConfig::default()
        };
        assert!(beat_track(&[1.0; 10], 62.5, &c).is_err());
        assert!(beat_track(&[f32::INFINITY], 62.5, &EllisConfig::default()).is_err());
    }
}
