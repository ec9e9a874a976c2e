//! Min/max envelope pyramid of a signal, for drawing waveforms at any zoom.
//!
//! Level 0 holds the minimum and maximum of every `base_block` consecutive samples;
//! each next level merges `factor` bins of the previous one, until a level has at most
//! `min_bins` bins. A viewer picks the coarsest level whose bins are still narrower than
//! a pixel, so drawing costs O(pixels) at any zoom. The same idea as Audacity's
//! "summary" blocks (256- and 65 536-sample min/max/RMS summaries per block file).

use serde::{Deserialize, Serialize};

use super::Signal;
use crate::{Error, Result};

/// How the pyramid is built.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PeakConfig {
    /// Samples per bin of level 0. Default 32: at 44.1 kHz that is 0.73 ms, ~22 bins per
    /// 16 ms model frame (62.5 fps), so a single frame zoomed to a whole screen still
    /// shows the envelope's shape. (Audacity's finest summary is 256 samples; we go finer
    /// because beat editing zooms to single frames.)
    pub base_block: usize,
    /// Bins of one level merged into one bin of the next. Default 4: each level is a
    /// quarter of the previous, so the whole pyramid is 4/3 of level 0.
    pub factor: usize,
    /// Stop once a level has at most this many bins. Default 512: about the narrowest
    /// timeline a window shows, so the whole song at once uses the top level.
    pub min_bins: usize,
}

impl Default for PeakConfig {
    fn default() -> Self {
        Self {
            base_block: 32,
            factor: 4,
            min_bins: 512,
        }
    }
}

impl PeakConfig {
    /// [`Error::Config`] for a block of 0 samples or a factor below 2.
    pub fn validate(&self) -> Result<()> {
        if self.base_block == 0 {
            return Err(Error::Config(
                "peaks: base_block must be >= 1 sample".into(),
            ));
        }
        if self.factor < 2 {
            return Err(Error::Config(format!(
                "peaks: factor must be >= 2 (got {})",
                self.factor
            )));
        }
        if self.min_bins == 0 {
            return Err(Error::Config("peaks: min_bins must be >= 1".into()));
        }
        Ok(())
    }
}

/// One level of the pyramid.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakLevel {
    /// Samples (at the signal's rate) covered by one bin.
    pub block: usize,
    /// Interleaved `[min0, max0, min1, max1, …]`; the last bin may cover fewer samples.
    pub min_max: Vec<f32>,
}

impl PeakLevel {
    /// Number of bins.
    pub fn len(&self) -> usize {
        self.min_max.len() / 2
    }

    /// True when the level has no bins.
    pub fn is_empty(&self) -> bool {
        self.min_max.is_empty()
    }
}

/// The min/max pyramid of a signal, finest level first.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakPyramid {
    /// Sample rate of the signal the blocks count in.
    pub sample_rate_hz: u32,
    /// Number of samples of the signal.
    pub n_samples: usize,
    /// Levels, finest (`block == base_block`) first. Empty for an empty signal.
    pub levels: Vec<PeakLevel>,
}

/// Builds the min/max pyramid of `signal` in one pass over the samples plus 1/3 of that
/// over the bins.
pub fn peak_pyramid(signal: &Signal, config: &PeakConfig) -> Result<PeakPyramid> {
    let _span = tracing::info_span!("audio.peaks", n = signal.samples.len()).entered();
    config.validate()?;
    let mut levels = Vec::new();
    if !signal.samples.is_empty() {
        let mut min_max = Vec::with_capacity(2 * signal.samples.len().div_ceil(config.base_block));
        for chunk in signal.samples.chunks(config.base_block) {
            let (lo, hi) = chunk
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                    // NaN samples (never produced by the decoder) are skipped by min/max.
                    (lo.min(v), hi.max(v))
                });
            let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 0.0) };
            min_max.push(lo);
            min_max.push(hi);
        }
        levels.push(PeakLevel {
            block: config.base_block,
            min_max,
        });
        while let Some(prev) = levels.last() {
            if prev.len() <= config.min_bins {
                break;
            }
            let mut min_max = Vec::with_capacity(2 * prev.len().div_ceil(config.factor));
            for group in prev.min_max.chunks(2 * config.factor) {
                let mut lo = f32::INFINITY;
                let mut hi = f32::NEG_INFINITY;
                for pair in group.chunks_exact(2) {
                    lo = lo.min(pair[0]);
                    hi = hi.max(pair[1]);
                }
                min_max.push(lo);
                min_max.push(hi);
            }
            let block = prev.block.saturating_mul(config.factor);
            levels.push(PeakLevel { block, min_max });
        }
    }
    Ok(PeakPyramid {
        sample_rate_hz: signal.sample_rate_hz,
        n_samples: signal.samples.len(),
        levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(samples: &[f32], block: usize) -> Vec<f32> {
        samples
            .chunks(block)
            .flat_map(|c| {
                let lo = c.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = c.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                [lo, hi]
            })
            .collect()
    }

    #[test]
    fn every_level_equals_brute_force_min_max() {
        // A ramp-modulated sine with a length that is not a multiple of any block.
        let samples: Vec<f32> = (0..100_003)
            .map(|i| (i as f32 * 0.013).sin() * (i as f32 / 100_003.0))
            .collect();
        let signal = Signal::new(samples.clone(), 44_100);
        let config = PeakConfig {
            base_block: 32,
            factor: 4,
            min_bins: 10,
        };
        let p = peak_pyramid(&signal, &config).unwrap();
        assert_eq!(p.n_samples, 100_003);
        assert!(p.levels.len() >= 5);
        for (k, level) in p.levels.iter().enumerate() {
            assert_eq!(level.block, 32 * 4usize.pow(k as u32));
            assert_eq!(level.min_max, brute(&samples, level.block), "level {k}");
        }
        let top = p.levels.last().unwrap();
        assert!(top.len() <= 10);
        assert!(p.levels[p.levels.len() - 2].len() > 10);
    }

    #[test]
    fn short_and_empty_signals() {
        let p = peak_pyramid(&Signal::new(vec![], 16_000), &PeakConfig::default()).unwrap();
        assert!(p.levels.is_empty());
        let p = peak_pyramid(
            &Signal::new(vec![0.5, -0.25, 0.1], 16_000),
            &PeakConfig::default(),
        )
        .unwrap();
        assert_eq!(p.levels.len(), 1);
        assert_eq!(p.levels[0].min_max, vec![-0.25, 0.5]);
    }

    #[test]
    fn bad_configs_are_rejected() {
        let s = Signal::new(vec![0.0; 10], 8_000);
        for c in [
            PeakConfig {
                base_block: 0,
                ..PeakConfig::default()
            },
            PeakConfig {
                factor: 1,
                ..PeakConfig::default()
            },
            PeakConfig {
                min_bins: 0,
                ..PeakConfig::default()
            },
        ] {
            assert!(matches!(peak_pyramid(&s, &c), Err(Error::Config(_))));
        }
    }
}
