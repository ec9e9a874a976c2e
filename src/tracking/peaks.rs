//! Greedy peak picking on an activation, with librosa's `util.peak_pick` semantics (spec
//! tracking-metrics-formats.md §2.3) plus an absolute threshold and optional parabolic sub-frame
//! refinement. A simple "no DBN" tracker: unlike ZeroNS's `threshold` decoder (every frame above
//! 0.075 is a beat) it yields one beat per activation peak.
//!
//! Frame `n` is a peak when `x[n]` is the maximum of `x[n − pre_max ..= n + post_max]`, is at
//! least the mean of `x[n − pre_avg ..= n + post_avg]` plus `delta`, and is at least
//! `threshold`; after a peak the next `wait` frames are skipped. Frame 0 is compared with the
//! frames after it only (as librosa).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Settings of [`pick_peaks`]. Windows are in seconds and converted to whole frames
/// (`round(s·fps)`); the defaults follow the spec's table for 62.5 fps activations (§2.3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PeakPickConfig {
    /// Look-back of the local-maximum window (0.05 s ≈ 3 frames at 62.5 fps).
    pub pre_max_s: f64,
    /// Look-ahead of the local-maximum window (0.05 s ≈ 3 frames).
    pub post_max_s: f64,
    /// Look-back of the moving-average window (0.1 s ≈ 6 frames).
    pub pre_avg_s: f64,
    /// Look-ahead of the moving-average window (0.1 s ≈ 6 frames).
    pub post_avg_s: f64,
    /// A peak must exceed the local mean by this much (spec: 0.05–0.1).
    pub delta: f64,
    /// A peak must be at least this high (spec: about 0.3 for sigmoid activations in [0, 1]).
    pub threshold: f64,
    /// Fastest tempo: after a peak, `floor(60/max_bpm·fps) − 1` frames are skipped
    /// (215 BPM as the DBN's range: 16 frames at 62.5 fps).
    pub max_bpm: f64,
    /// Refine each peak to sub-frame precision by parabolic interpolation over its neighbours.
    pub refine: bool,
}

impl Default for PeakPickConfig {
    fn default() -> Self {
        Self {
            pre_max_s: 0.05,
            post_max_s: 0.05,
            pre_avg_s: 0.1,
            post_avg_s: 0.1,
            delta: 0.05,
            threshold: 0.3,
            max_bpm: 215.0,
            refine: false,
        }
    }
}

impl PeakPickConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("pre_max_s", self.pre_max_s),
            ("post_max_s", self.post_max_s),
            ("pre_avg_s", self.pre_avg_s),
            ("post_avg_s", self.post_avg_s),
        ] {
            if !(v.is_finite() && (0.0..=60.0).contains(&v)) {
                return Err(Error::Config(format!(
                    "{name} must be in [0, 60] s (got {v})"
                )));
            }
        }
        if !self.delta.is_finite() || !self.threshold.is_finite() {
            return Err(Error::Config("delta and threshold must be finite".into()));
        }
        if !(self.max_bpm.is_finite() && self.max_bpm > 0.0) {
            return Err(Error::Config(format!(
                "max_bpm must be > 0 (got {})",
                self.max_bpm
            )));
        }
        Ok(())
    }
}

/// Peak frames (and sub-frame positions) of an activation.
#[derive(Debug, Clone, PartialEq)]
pub struct Peaks {
    /// Peak frames, ascending.
    pub frames: Vec<usize>,
    /// Peak times in seconds: `frame / fps`, or the refined position when `refine` is set.
    pub times_s: Vec<f64>,
}

/// Picks peaks in `x` sampled at `fps`.
pub fn pick_peaks(x: &[f32], fps: f64, config: &PeakPickConfig) -> Result<Peaks> {
    let _span = tracing::info_span!("tracking.peaks", frames = x.len()).entered();
    config.validate()?;
    if !(fps.is_finite() && fps > 0.0) {
        return Err(Error::InvalidInput(format!("fps must be > 0 (got {fps})")));
    }
    if let Some((t, v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "activation frame {t} is not finite ({v})"
        )));
    }
    let frames = |s: f64| (s * fps).round() as usize;
    let pre_max = frames(config.pre_max_s);
    let post_max = frames(config.post_max_s) + 1; // exclusive bound, as librosa's post_max
    let pre_avg = frames(config.pre_avg_s);
    let post_avg = frames(config.post_avg_s) + 1;
    let wait = ((60.0 / config.max_bpm * fps).floor() as usize).saturating_sub(1);
    let n = x.len();
    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let mean = |lo: usize, hi: usize| x64[lo..hi].iter().sum::<f64>() / (hi - lo) as f64;
    let max = |lo: usize, hi: usize| {
        x64[lo..hi]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    };

    let mut peaks = Vec::new();
    let mut i = 0usize;
    while i < n {
        let v = x64[i];
        let is_peak = if i == 0 {
            // librosa special-cases frame 0: compared with the frames after it only
            v >= max(0, post_max.min(n)) && v >= mean(0, post_avg.min(n)) + config.delta
        } else {
            v == max(i.saturating_sub(pre_max), (i + post_max).min(n))
                && v >= mean(i.saturating_sub(pre_avg), (i + post_avg).min(n)) + config.delta
        };
        if is_peak && v >= config.threshold {
            peaks.push(i);
            i += wait + 1;
        } else {
            i += 1;
        }
    }
    let times_s = peaks
        .iter()
        .map(|&p| {
            let offset = if config.refine && p > 0 && p + 1 < n {
                parabolic_offset(x64[p - 1], x64[p], x64[p + 1])
            } else {
                0.0
            };
            (p as f64 + offset) / fps
        })
        .collect();
    Ok(Peaks {
        frames: peaks,
        times_s,
    })
}

/// Vertex of the parabola through `(−1, a), (0, b), (1, c)`, clamped to `[−0.5, 0.5]`.
pub fn parabolic_offset(a: f64, b: f64, c: f64) -> f64 {
    let den = a - 2.0 * b + c;
    if den >= 0.0 {
        return 0.0; // not a strict maximum: no refinement
    }
    (0.5 * (a - c) / den).clamp(-0.5, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_isolated_peaks_and_honours_wait() {
        let mut x = vec![0.0f32; 100];
        x[10] = 0.9;
        x[11] = 0.5;
        x[20] = 0.8; // within wait (16 frames) of frame 10: skipped
        x[40] = 0.7;
        x[60] = 0.2; // below the absolute threshold
        let p = pick_peaks(&x, 62.5, &PeakPickConfig::default()).unwrap();
        assert_eq!(p.frames, vec![10, 40]);
        assert_eq!(p.times_s, vec![10.0 / 62.5, 40.0 / 62.5]);
    }

    #[test]
    fn frame_zero_and_plateaus() {
        let mut x = vec![0.0f32; 50];
        x[0] = 0.9;
        x[30] = 0.6;
        x[31] = 0.6; // plateau: the first frame equal to the max is the peak
        let p = pick_peaks(&x, 62.5, &PeakPickConfig::default()).unwrap();
        assert_eq!(p.frames, vec![0, 30]);
    }

    #[test]
    fn parabolic_refinement() {
        assert_eq!(parabolic_offset(0.5, 1.0, 0.5), 0.0);
        let o = parabolic_offset(0.2, 1.0, 0.6);
        assert!(o > 0.0 && o < 0.5, "{o}");
        // samples of a parabola with its vertex at +0.25
        let f = |t: f64| 1.0 - (t - 0.25).powi(2);
        assert!((parabolic_offset(f(-1.0), f(0.0), f(1.0)) - 0.25).abs() < 1e-12);
        let mut x = vec![0.0f32; 40];
        x[19] = f(-1.0) as f32;
        x[20] = f(0.0) as f32;
        x[21] = f(1.0) as f32;
        let cfg = PeakPickConfig {
            refine: true,
            ..PeakPickConfig::default()
        };
        let p = pick_peaks(&x, 100.0, &cfg).unwrap();
        assert_eq!(p.frames, vec![20]);
        assert!((p.times_s[0] - 0.2025).abs() < 1e-6, "{:?}", p.times_s);
    }

    #[test]
    fn validation_and_empty() {
        assert!(
            pick_peaks(&[], 62.5, &PeakPickConfig::default())
                .unwrap()
                .frames
                .is_empty()
        );
        let bad = PeakPickConfig {
            pre_max_s: -1.0,
            ..PeakPickConfig::default()
        };
        assert!(matches!(
            pick_peaks(&[0.5], 62.5, &bad),
            Err(Error::Config(_))
        ));
        assert!(pick_peaks(&[f32::NAN], 62.5, &PeakPickConfig::default()).is_err());
    }
}
