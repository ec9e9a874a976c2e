//! Spectral flux: an onset-strength curve, the activation tracked when no network is used
//! (`zerons analyze --activation flux`).
//!
//! The curve is the SuperFlux variant of spectral flux (Böck & Widmer, "Maximum filter
//! vibrato suppression for onset detection", DAFx 2013; the same processing chain as madmom's
//! `SpectralFluxProcessor` on a `LogarithmicFilteredSpectrogram`):
//!
//! 1. STFT magnitude (Hann, centred frames at the VQT's hop, so frame `t` is at `t·hop/sr`);
//! 2. a logarithmic triangular filterbank (24 bands per octave, 30 Hz to 8 kHz);
//! 3. log compression `log10(1 + mul·x)`;
//! 4. for each band, the positive part of the difference between the frame and the previous
//!    frame *after a maximum filter over neighbouring bands* (3 bands; 1 = plain flux);
//! 5. sum over bands.
//!
//! The raw curve is then turned into an activation in (0, 1) that madmom's DBN can treat as a
//! beat probability — see [`FluxConfig::detrend_window_s`], [`FluxConfig::normalize_quantile`]
//! and [`FluxConfig::activation_floor`].

use serde::{Deserialize, Serialize};

use super::stft::Stft;
use crate::audio::Signal;
use crate::tracking::Activation;
use crate::{Error, Result};

/// Settings of [`spectral_flux`]. Frame grid defaults to the ZeroNS VQT's (16 kHz, hop 256,
/// 62.5 fps); spectral settings follow SuperFlux (Böck & Widmer 2013) / madmom 0.16 defaults.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FluxConfig {
    /// Sample rate the signal must have. Default 16 000 Hz (ZeroNS input rate).
    pub sample_rate_hz: u32,
    /// Samples between frames. Default 256: 62.5 fps, the VQT's frame grid.
    pub hop_length: usize,
    /// STFT frame length (Hann window), even. Default 1024 = 64 ms at 16 kHz, the power of two
    /// nearest madmom's 2048 samples at 44.1 kHz (46 ms).
    pub n_fft: usize,
    /// Bands per octave of the logarithmic filterbank. SuperFlux: 24.
    pub bands_per_octave: usize,
    /// Lowest band centre. madmom `LogarithmicFilterbank`: 30 Hz.
    pub fmin_hz: f64,
    /// Highest band centre (clipped to the Nyquist frequency). madmom: 17 kHz; at 16 kHz
    /// that means 8 kHz.
    pub fmax_hz: f64,
    /// `mul` in `log10(1 + mul·x)` (madmom `LogarithmicSpectrogram`, default 1), for samples
    /// in [-1, 1] and an unnormalised DFT.
    pub log_multiplier: f64,
    /// Width in bands of the maximum filter applied to the reference frame. SuperFlux: 3;
    /// 1 gives plain spectral flux.
    pub max_filter_bands: usize,
    /// Frames between the two frames compared. madmom computes 1 for these frame settings
    /// (the window overlap where the Hann window falls to half its height).
    pub diff_frames: usize,
    /// Length of the centred moving average subtracted from the raw curve before scaling
    /// (an adaptive threshold, like madmom's onset peak picking). It removes the slowly varying
    /// floor that dense textures produce. Default 1 s. 0 disables it.
    pub detrend_window_s: f64,
    /// The curve is divided by this quantile of its values (a robust maximum: one huge onset
    /// does not squash the rest) and clipped. Default 0.99.
    pub normalize_quantile: f64,
    /// Output is clamped to `[floor, 1 - floor]`. The DBN's observation model (madmom) takes
    /// `ln(a)` and `ln(1 - a)`: an exact 0 forbids a beat at that frame outright and a stretch
    /// of zeros longer than a beat period leaves madmom's Viterbi without any path. Default 1e-4.
    pub activation_floor: f64,
}

impl Default for FluxConfig {
    fn default() -> Self {
        Self {
            sample_rate_hz: 16_000,
            hop_length: 256,
            n_fft: 1024,
            bands_per_octave: 24,
            fmin_hz: 30.0,
            fmax_hz: 17_000.0,
            log_multiplier: 1.0,
            max_filter_bands: 3,
            diff_frames: 1,
            detrend_window_s: 1.0,
            normalize_quantile: 0.99,
            activation_floor: 1e-4,
        }
    }
}

impl FluxConfig {
    /// Frames per second of the output.
    pub fn fps(&self) -> f64 {
        self.sample_rate_hz as f64 / self.hop_length as f64
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("spectral flux: {m}")));
        if self.sample_rate_hz == 0 || self.hop_length == 0 {
            return bad("sample_rate_hz and hop_length must be positive".into());
        }
        if self.n_fft < 16 || !self.n_fft.is_multiple_of(2) || self.n_fft > 1 << 16 {
            return bad(format!(
                "n_fft must be even and in 16..=65536, got {}",
                self.n_fft
            ));
        }
        if self.bands_per_octave == 0 || self.bands_per_octave > 96 {
            return bad(format!(
                "bands_per_octave must be in 1..=96, got {}",
                self.bands_per_octave
            ));
        }
        if !(self.fmin_hz.is_finite() && self.fmin_hz > 0.0 && self.fmax_hz > self.fmin_hz) {
            return bad(format!(
                "need 0 < fmin_hz < fmax_hz, got {} and {}",
                self.fmin_hz, self.fmax_hz
            ));
        }
        if !(self.log_multiplier.is_finite() && self.log_multiplier > 0.0) {
            return bad("log_multiplier must be positive".into());
        }
        if self.max_filter_bands == 0 || self.max_filter_bands.is_multiple_of(2) {
            return bad(format!(
                "max_filter_bands must be odd (1 = no filter), got {}",
                self.max_filter_bands
            ));
        }
        if self.diff_frames == 0 {
            return bad("diff_frames must be at least 1".into());
        }
        if !(self.detrend_window_s.is_finite() && self.detrend_window_s >= 0.0) {
            return bad("detrend_window_s must be non-negative".into());
        }
        if !(self.normalize_quantile > 0.0 && self.normalize_quantile <= 1.0) {
            return bad(format!(
                "normalize_quantile must be in (0, 1], got {}",
                self.normalize_quantile
            ));
        }
        if !(self.activation_floor >= 0.0 && self.activation_floor < 0.5) {
            return bad(format!(
                "activation_floor must be in [0, 0.5), got {}",
                self.activation_floor
            ));
        }
        if LogFilterbank::new(self).bands.len() < 2 {
            return bad("the frequency range holds fewer than two filterbank bands".into());
        }
        Ok(())
    }
}

/// Computes the spectral-flux activation of a signal: one value in `[floor, 1 - floor]` per
/// frame, `1 + N / hop_length` frames, frame `t` centred at `t·hop_length / sample_rate_hz`.
pub fn spectral_flux(signal: &Signal, config: &FluxConfig) -> Result<Activation> {
    let _span = tracing::info_span!("spectral_flux", n_samples = signal.samples.len()).entered();
    let raw = raw_spectral_flux(signal, config)?;
    Ok(Activation::new(normalize(&raw, config), config.fps()))
}

/// The un-normalised SuperFlux curve (steps 1–5 of the module docs), one value per frame.
pub fn raw_spectral_flux(signal: &Signal, config: &FluxConfig) -> Result<Vec<f32>> {
    config.validate()?;
    if signal.sample_rate_hz != config.sample_rate_hz {
        return Err(Error::InvalidInput(format!(
            "spectral flux: signal is at {} Hz, the configuration expects {} Hz; resample first",
            signal.sample_rate_hz, config.sample_rate_hz
        )));
    }
    if signal.samples.is_empty() {
        return Err(Error::InvalidInput("spectral flux: empty signal".into()));
    }
    if signal.samples.iter().any(|s| !s.is_finite()) {
        return Err(Error::InvalidInput(
            "spectral flux: signal contains NaN or infinite samples".into(),
        ));
    }
    let stft = Stft::new(config.n_fft, config.hop_length);
    let frames = stft.forward(&signal.samples);
    let bank = LogFilterbank::new(config);
    let n_bands = bank.bands.len();
    let mul = config.log_multiplier as f32;

    // Log filtered spectrogram, frame-major.
    let mut mag = vec![0.0f32; frames.n_freqs];
    let mut logspec = vec![0.0f32; frames.n_frames * n_bands];
    for (t, row) in logspec.chunks_exact_mut(n_bands).enumerate() {
        for (m, c) in mag.iter_mut().zip(frames.frame(t)) {
            *m = c.norm_sqr().sqrt(); // not `norm()`: hypot is slow and audio cannot overflow
        }
        for (out, band) in row.iter_mut().zip(&bank.bands) {
            let e: f32 = band
                .iter()
                .map(|&(k, w)| w * mag.get(k).copied().unwrap_or(0.0))
                .sum();
            *out = (1.0 + mul * e).log10();
        }
    }

    // Reference frames: maximum over ±r neighbouring bands.
    let r = config.max_filter_bands / 2;
    let reference: Vec<f32> = if r == 0 {
        logspec.clone()
    } else {
        logspec
            .chunks_exact(n_bands)
            .flat_map(|row| {
                (0..n_bands).map(move |b| {
                    row[b.saturating_sub(r)..(b + r + 1).min(n_bands)]
                        .iter()
                        .copied()
                        .fold(f32::NEG_INFINITY, f32::max)
                })
            })
            .collect()
    };

    let d = config.diff_frames;
    let flux = (0..frames.n_frames)
        .map(|t| {
            if t < d {
                return 0.0;
            }
            let cur = &logspec[t * n_bands..(t + 1) * n_bands];
            let prev = &reference[(t - d) * n_bands..(t - d + 1) * n_bands];
            cur.iter().zip(prev).map(|(c, p)| (c - p).max(0.0)).sum()
        })
        .collect();
    Ok(flux)
}

/// Raw flux → activation: subtract a centred moving average, divide by a high quantile,
/// clamp to `[floor, 1 - floor]`.
fn normalize(raw: &[f32], config: &FluxConfig) -> Vec<f32> {
    let window = (config.detrend_window_s * config.fps()).round() as usize;
    normalize_activation(
        raw,
        window,
        config.normalize_quantile,
        config.activation_floor,
    )
}

/// Turns any onset-like curve into an activation the DBN can read as a probability, as the
/// flux activation is made: subtract a centred moving average of `detrend_frames` frames
/// (shrinking at the edges; ≤ 1 = none) and keep the positive part, divide by the
/// `quantile` of the result (its maximum when that quantile is 0), clamp to
/// `[floor, 1 - floor]`.
pub fn normalize_activation(
    raw: &[f32],
    detrend_frames: usize,
    quantile: f64,
    floor: f64,
) -> Vec<f32> {
    let n = raw.len();
    let window = detrend_frames;
    let detrended: Vec<f64> = if window > 1 {
        // Centred moving average with a shrinking window at the edges (prefix sums).
        let mut prefix = Vec::with_capacity(n + 1);
        prefix.push(0.0f64);
        for &v in raw {
            let last = prefix.last().copied().unwrap_or(0.0);
            prefix.push(last + v as f64);
        }
        let before = window / 2;
        let after = window - 1 - before;
        (0..n)
            .map(|t| {
                let lo = t.saturating_sub(before);
                let hi = (t + after + 1).min(n);
                let mean = (prefix[hi] - prefix[lo]) / (hi - lo) as f64;
                (raw[t] as f64 - mean).max(0.0)
            })
            .collect()
    } else {
        raw.iter().map(|&v| v as f64).collect()
    };
    let mut sorted = detrended.clone();
    sorted.sort_by(f64::total_cmp);
    let idx = ((n.saturating_sub(1)) as f64 * quantile).round() as usize;
    let mut reference = sorted.get(idx).copied().unwrap_or(0.0);
    if reference <= 0.0 {
        // Fewer onsets than 1 − quantile of the frames: fall back to the maximum.
        reference = sorted.last().copied().unwrap_or(0.0);
    }
    let lo = floor;
    let hi = 1.0 - floor;
    detrended
        .iter()
        .map(|&v| {
            let a = if reference > 0.0 { v / reference } else { 0.0 };
            a.clamp(lo, hi) as f32
        })
        .collect()
}

/// madmom-style logarithmic triangular filterbank over STFT bins.
struct LogFilterbank {
    /// Per band: (FFT bin, weight), weights summing to 1.
    bands: Vec<Vec<(usize, f32)>>,
}

impl LogFilterbank {
    fn new(config: &FluxConfig) -> Self {
        let sr = config.sample_rate_hz as f64;
        let bin_hz = sr / config.n_fft as f64;
        let fmax = config.fmax_hz.min(sr / 2.0);
        let n_freqs = config.n_fft / 2 + 1;
        // Centres at 440·2^(k/b) Hz (madmom `log_frequencies`, A4-aligned) within range,
        // mapped to the nearest FFT bin, duplicates merged.
        let b = config.bands_per_octave as f64;
        let k_lo = (b * (config.fmin_hz / 440.0).log2()).ceil() as i64;
        let k_hi = (b * (fmax / 440.0).log2()).floor() as i64;
        let mut bins: Vec<usize> = (k_lo..=k_hi)
            .map(|k| ((440.0 * 2f64.powf(k as f64 / b)) / bin_hz).round() as usize)
            .filter(|&k| k < n_freqs)
            .collect();
        bins.dedup();
        // Triangle from the previous centre to the next one, peak 1 at its own centre.
        let bands = bins
            .windows(3)
            .map(|w| {
                let (start, centre, stop) = (w[0], w[1], w[2]);
                let mut band: Vec<(usize, f32)> = (start..=stop)
                    .map(|k| {
                        let v = if k == centre {
                            1.0
                        } else if k < centre {
                            (k - start) as f64 / (centre - start) as f64
                        } else {
                            (stop - k) as f64 / (stop - centre) as f64
                        };
                        (k, v as f32)
                    })
                    .filter(|&(_, v)| v > 0.0)
                    .collect();
                let sum: f32 = band.iter().map(|&(_, v)| v).sum();
                for (_, v) in &mut band {
                    *v /= sum;
                }
                band
            })
            .collect();
        Self { bands }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clicks (short noise bursts) every `period_s` over a quiet steady tone.
    fn clicks(period_s: f64, seconds: f64) -> (Signal, Vec<f64>) {
        let sr = 16_000;
        let n = (seconds * sr as f64) as usize;
        let mut x: Vec<f32> = (0..n)
            .map(|i| {
                0.05 * (2.0 * std::f64::consts::PI * 330.0 * i as f64 / sr as f64).sin() as f32
            })
            .collect();
        let mut times = Vec::new();
        let mut state = 12345u32;
        let mut t = 0.5;
        while t < seconds - 0.1 {
            let start = (t * sr as f64) as usize;
            for j in 0..160 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                x[start + j] += noise * (-(j as f32) / 40.0).exp();
            }
            times.push(t);
            t += period_s;
        }
        (Signal::new(x, sr), times)
    }

    #[test]
    fn peaks_at_clicks_on_the_vqt_grid() {
        let (sig, times) = clicks(0.5, 6.0);
        let cfg = FluxConfig::default();
        let act = spectral_flux(&sig, &cfg).unwrap();
        assert_eq!(act.len(), 1 + sig.samples.len() / 256);
        assert!((act.fps - 62.5).abs() < 1e-12);
        assert!(act.values.iter().all(|&v| (1e-4..=1.0 - 1e-4).contains(&v)));
        for &t in &times {
            let f = (t * act.fps).round() as usize;
            let window = &act.values[f - 2..=f + 2];
            let peak = window.iter().copied().fold(0.0, f32::max);
            assert!(peak > 0.5, "click at {t} s: peak {peak}");
            // well between two clicks the activation is at the floor
            let mid = ((t + 0.25) * act.fps).round() as usize;
            assert!(
                act.values[mid] < 0.01,
                "between clicks: {}",
                act.values[mid]
            );
        }
    }

    #[test]
    fn silence_gives_the_floor_not_nan() {
        let cfg = FluxConfig::default();
        let act = spectral_flux(&Signal::new(vec![0.0; 16_000], 16_000), &cfg).unwrap();
        assert!(act.values.iter().all(|&v| v == 1e-4));
    }

    #[test]
    fn filterbank_bands_are_normalised_and_cover_the_range() {
        let bank = LogFilterbank::new(&FluxConfig::default());
        assert!(bank.bands.len() > 60, "{} bands", bank.bands.len());
        for band in &bank.bands {
            let s: f32 = band.iter().map(|&(_, w)| w).sum();
            assert!((s - 1.0).abs() < 1e-5);
        }
        let top = bank
            .bands
            .last()
            .unwrap()
            .iter()
            .map(|&(k, _)| k)
            .max()
            .unwrap();
        assert!(top <= 512);
    }

    #[test]
    fn rejects_bad_configs_and_input() {
        let ok = FluxConfig::default();
        for bad in [
            FluxConfig {
                n_fft: 1023,
                ..ok.clone()
            },
            FluxConfig {
                max_filter_bands: 2,
                ..ok.clone()
            },
            FluxConfig {
                normalize_quantile: 0.0,
                ..ok.clone()
            },
            FluxConfig {
                activation_floor: 0.5,
                ..ok.clone()
            },
            FluxConfig {
                fmin_hz: 9000.0,
                ..ok.clone()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
        }
        assert!(spectral_flux(&Signal::new(vec![], 16_000), &ok).is_err());
        assert!(spectral_flux(&Signal::new(vec![0.0; 10], 8_000), &ok).is_err());
    }
}
