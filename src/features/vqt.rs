//! The log-magnitude variable-Q transform (VQT) that ZeroNS feeds its network.
//!
//! This is a port of librosa 0.11's `librosa.vqt` (itself after Schörkhuber, Klapuri,
//! Holighaus & Dörfler, "A Matlab toolbox for efficient perfect reconstruction time-frequency
//! transforms with log-frequency resolution", AES 53rd Conf., 2014): the same multirate
//! algorithm, the same filters, the same per-bin scaling. It runs octave by octave, from the top:
//!
//! 1. Each octave's filters are Hann-windowed complex exponentials built at the current sample
//!    rate, L1-normalised, centred in a power-of-two frame, Fourier-transformed and
//!    sparsified (the smallest coefficients holding 1 % of each filter's L1 mass are dropped).
//! 2. The response is the sparse product of those filter spectra with the spectra of
//!    un-windowed, centred, zero-padded frames of the signal at the current hop.
//! 3. If the hop is even, the signal is low-passed and decimated by two (energy-preserving,
//!    ×√2) and the hop halved before the next octave down.
//!
//! Finally each bin is divided by √(its filter length at the full rate) (`scale=True`) and
//! the log is taken: `ln(|V| + ε)`.
//!
//! The one part that is not librosa's is the 2:1 decimator. librosa 0.11 uses soxr's "HQ"
//! resampler; here a linear-phase Kaiser-windowed sinc FIR with the same band edges (pass band
//! to ≈0.913 of the new Nyquist, stop band from 1.0, ≥120 dB attenuation, measured on
//! python-soxr 1.x), applied by FFT (overlap-save). Against librosa 0.11's own output on the
//! golden signal the mean absolute log difference is ≈2·10⁻⁴ (see `tests/vqt_golden.rs`).

use std::sync::Arc;

use num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::FftPlanner;
use serde::{Deserialize, Serialize};

use super::Spectrogram;
use crate::audio::Signal;
use crate::{Error, Result};

/// Frequency of C0 in Hz, A4 = 440 Hz: `librosa.note_to_hz("C0")` (MIDI note 12).
pub const C0_HZ: f64 = 16.351_597_831_287_414;

/// Equivalent noise bandwidth of the Hann window in FFT bins (librosa `WINDOW_BANDWIDTHS["hann"]`),
/// used for the Nyquist check exactly as librosa does.
const HANN_BANDWIDTH: f64 = 1.500_183_105_468_75;

/// Settings of the log-VQT. Defaults are the ZeroNS input representation (specs/zerons.md §1:
/// the authors' `librosa.vqt(sr=16000, hop_length=256, fmin=C0, n_bins=96, bins_per_octave=12)`
/// followed by `log(|V| + 1e-9)`), with librosa's own defaults for everything not passed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct VqtConfig {
    /// Sample rate the signal must have. ZeroNS: 16 000 Hz.
    pub sample_rate_hz: u32,
    /// Samples between frames. ZeroNS: 256 (62.5 frames per second at 16 kHz).
    pub hop_length: usize,
    /// Centre frequency of the lowest bin. ZeroNS: C0 ≈ 16.35 Hz.
    pub fmin_hz: f64,
    /// Number of bins. ZeroNS: 96 (8 octaves, C0–B7).
    pub n_bins: usize,
    /// Bins per octave. ZeroNS: 12.
    pub bins_per_octave: usize,
    /// Bandwidth offset γ in Hz. `None` is librosa's default, γ = 24.7·α/0.108 (an
    /// ERB-like widening of the low filters; α is the relative bandwidth of a bin, ≈0.0578
    /// at 12 bins per octave, so γ ≈ 13.20 Hz). `Some(0.0)` gives a constant-Q transform.
    pub gamma_hz: Option<f64>,
    /// Filter length multiplier (librosa `filter_scale`, default 1).
    pub filter_scale: f64,
    /// Fraction of each filter's spectral L1 mass that may be dropped (librosa `sparsity`,
    /// default 0.01). 0 keeps every coefficient.
    pub sparsity: f64,
    /// ε in `ln(|V| + ε)`. ZeroNS code: `10e-10` = 1e-9 (the paper says 1e-10).
    pub log_epsilon: f64,
}

impl Default for VqtConfig {
    fn default() -> Self {
        Self {
            sample_rate_hz: 16_000,
            hop_length: 256,
            fmin_hz: C0_HZ,
            n_bins: 96,
            bins_per_octave: 12,
            gamma_hz: None,
            filter_scale: 1.0,
            sparsity: 0.01,
            log_epsilon: 1e-9,
        }
    }
}

impl VqtConfig {
    /// Frames per second of the output.
    pub fn fps(&self) -> f64 {
        self.sample_rate_hz as f64 / self.hop_length as f64
    }

    /// Centre frequency of each bin in Hz, low to high.
    pub fn frequencies_hz(&self) -> Vec<f64> {
        (0..self.n_bins)
            .map(|k| self.fmin_hz * 2f64.powf(k as f64 / self.bins_per_octave as f64))
            .collect()
    }

    /// Number of frames for a signal of `n_samples` samples: `1 + n_samples / hop_length`
    /// (centred frames, as librosa).
    pub fn n_frames(&self, n_samples: usize) -> usize {
        1 + n_samples / self.hop_length.max(1)
    }

    /// Relative bandwidth α of every bin: librosa's `_relative_bandwidth` for geometrically
    /// spaced bins, (2^(2/b) − 1) / (2^(2/b) + 1) with b bins per octave.
    fn alpha(&self) -> f64 {
        let r = 2f64.powf(2.0 / self.bins_per_octave as f64);
        (r - 1.0) / (r + 1.0)
    }

    fn gamma(&self) -> f64 {
        self.gamma_hz.unwrap_or_else(|| self.alpha() * 24.7 / 0.108)
    }

    /// Checks ranges; returns the same errors librosa would raise, as [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("vqt: {m}")));
        if self.sample_rate_hz == 0 {
            return bad("sample_rate_hz must be positive".into());
        }
        if self.hop_length == 0 {
            return bad("hop_length must be positive".into());
        }
        if !(self.fmin_hz.is_finite() && self.fmin_hz > 0.0) {
            return bad(format!("fmin_hz must be positive, got {}", self.fmin_hz));
        }
        if self.n_bins == 0 || self.n_bins > 1024 {
            return bad(format!("n_bins must be in 1..=1024, got {}", self.n_bins));
        }
        if self.bins_per_octave == 0 || self.bins_per_octave > 1024 {
            return bad(format!(
                "bins_per_octave must be in 1..=1024, got {}",
                self.bins_per_octave
            ));
        }
        if let Some(g) = self.gamma_hz
            && !(g.is_finite() && g >= 0.0)
        {
            return bad(format!("gamma_hz must be non-negative, got {g}"));
        }
        if !(self.filter_scale.is_finite() && self.filter_scale > 0.0) {
            return bad(format!(
                "filter_scale must be positive, got {}",
                self.filter_scale
            ));
        }
        if !(0.0..1.0).contains(&self.sparsity) {
            return bad(format!("sparsity must be in [0, 1), got {}", self.sparsity));
        }
        if !(self.log_epsilon.is_finite() && self.log_epsilon > 0.0) {
            return bad(format!(
                "log_epsilon must be positive, got {}",
                self.log_epsilon
            ));
        }
        let nyquist = self.sample_rate_hz as f64 / 2.0;
        let cutoff = self.filter_cutoff_hz();
        if cutoff > nyquist {
            return bad(format!(
                "the top filter reaches {cutoff:.1} Hz, above the Nyquist frequency {nyquist} Hz; \
                 use fewer bins or a lower fmin_hz"
            ));
        }
        Ok(())
    }

    /// Highest frequency reached by the filter bank (librosa `wavelet_lengths`' `f_cutoff`).
    fn filter_cutoff_hz(&self) -> f64 {
        let q = self.filter_scale / self.alpha();
        let f_top =
            self.fmin_hz * 2f64.powf((self.n_bins - 1) as f64 / self.bins_per_octave as f64);
        f_top * (1.0 + 0.5 * HANN_BANDWIDTH / q) + 0.5 * self.gamma()
    }

    /// Filter length in samples (fractional) of a bin at `freq_hz` for sample rate `sr`
    /// (librosa `wavelet_lengths`): Q·sr / (f + γ/α).
    fn filter_length(&self, freq_hz: f64, sr: f64) -> f64 {
        let alpha = self.alpha();
        let q = self.filter_scale / alpha;
        q * sr / (freq_hz + self.gamma() / alpha)
    }
}

/// Computes `ln(|VQT| + ε)` of a signal: `n_bins` rows (low to high frequency) by
/// `1 + N / hop_length` frames, frame `t` centred on sample `t·hop_length`.
///
/// The signal must already be at `config.sample_rate_hz` (resample it with `audio::resample`).
pub fn log_vqt(signal: &Signal, config: &VqtConfig) -> Result<Spectrogram> {
    let _span = tracing::info_span!(
        "log_vqt",
        n_samples = signal.samples.len(),
        n_bins = config.n_bins
    )
    .entered();
    config.validate()?;
    if signal.sample_rate_hz != config.sample_rate_hz {
        return Err(Error::InvalidInput(format!(
            "vqt: signal is at {} Hz, the configuration expects {} Hz; resample first",
            signal.sample_rate_hz, config.sample_rate_hz
        )));
    }
    if signal.samples.is_empty() {
        return Err(Error::InvalidInput("vqt: empty signal".into()));
    }
    if signal.samples.iter().any(|s| !s.is_finite()) {
        return Err(Error::InvalidInput(
            "vqt: signal contains NaN or infinite samples".into(),
        ));
    }
    let magnitude = vqt_magnitude(&signal.samples, config)?;
    let n_frames = magnitude.len() / config.n_bins;
    let eps = config.log_epsilon;
    let data = magnitude.iter().map(|&m| (m + eps).ln() as f32).collect();
    Ok(Spectrogram {
        data,
        n_bins: config.n_bins,
        n_frames,
        fps: config.fps(),
    })
}

/// |VQT|, bin-major, already scaled by 1/√(filter length). Config must be valid.
fn vqt_magnitude(samples: &[f32], config: &VqtConfig) -> Result<Vec<f64>> {
    let freqs = config.frequencies_hz();
    let n_bins = config.n_bins;
    let bpo = config.bins_per_octave;
    let n_octaves = n_bins.div_ceil(bpo);
    let n_filters = bpo.min(n_bins);
    let decimator = Decimator::new();

    let mut y: Vec<f64> = samples.iter().map(|&s| s as f64).collect();
    let mut sr = config.sample_rate_hz as f64;
    let mut hop = config.hop_length;

    // Early downsampling (librosa `__early_downsample`): skip octaves of sample rate that no
    // filter needs. Never triggered by the ZeroNS settings. librosa resamples by 2^k in one
    // soxr call; this does k halvings, each energy-preserving like librosa's `scale=True`.
    let nyquist = sr / 2.0;
    let count1 = ((nyquist / config.filter_cutoff_hz()).log2().ceil() as i64 - 2).max(0);
    let count2 = (hop.trailing_zeros() as i64 - n_octaves as i64 + 1).max(0);
    let early = count1.min(count2) as u32;
    if early > 0 {
        let factor = 1usize << early;
        if y.len() < factor {
            return Err(Error::InvalidInput(format!(
                "vqt: a signal of {} samples is too short for a {n_octaves}-octave VQT",
                y.len()
            )));
        }
        for _ in 0..early {
            y = decimator.halve(&y);
        }
        sr /= factor as f64;
        hop /= factor;
    }
    let sr_top = sr;

    let mut planner = RealFftPlanner::<f64>::new();
    let mut cplx_planner = FftPlanner::<f64>::new();
    let mut responses: Vec<Vec<f64>> = vec![Vec::new(); n_bins];
    let mut n_frames = usize::MAX;
    for octave in 0..n_octaves {
        // Bins of this octave, counted from the top (librosa slices from the end).
        let hi = n_bins - n_filters * octave;
        let lo = hi.saturating_sub(n_filters);
        let bank = FilterBank::new(
            config,
            &freqs[lo..hi],
            sr,
            (sr_top / sr).sqrt(),
            &mut cplx_planner,
        );
        let frames = 1 + y.len() / hop;
        n_frames = n_frames.min(frames);
        bank.respond(&y, hop, frames, &mut planner, &mut responses[lo..hi]);
        if hop.is_multiple_of(2) && octave + 1 < n_octaves {
            hop /= 2;
            sr /= 2.0;
            y = decimator.halve(&y);
        }
    }

    let mut out = vec![0.0f64; n_bins * n_frames];
    for (bin, (row, resp)) in out.chunks_exact_mut(n_frames).zip(&responses).enumerate() {
        let norm = config.filter_length(freqs[bin], sr_top).sqrt();
        for (o, &r) in row.iter_mut().zip(resp) {
            *o = r / norm;
        }
    }
    Ok(out)
}

/// One octave's sparse filter spectra (librosa `__vqt_filter_fft`) at one sample rate.
struct FilterBank {
    n_fft: usize,
    /// Per bin: (FFT index, coefficient) pairs kept after sparsification.
    kernels: Vec<Vec<(usize, Complex<f64>)>>,
}

impl FilterBank {
    fn new(
        config: &VqtConfig,
        freqs: &[f64],
        sr: f64,
        gain: f64,
        planner: &mut FftPlanner<f64>,
    ) -> Self {
        let lengths: Vec<f64> = freqs.iter().map(|&f| config.filter_length(f, sr)).collect();
        let max_len = lengths.iter().copied().fold(0.0, f64::max);
        let n_fft = (1usize << (max_len.log2().ceil().max(1.0) as u32)).max(2);
        let fft = planner.plan_fft_forward(n_fft);
        let kernels = freqs
            .iter()
            .zip(&lengths)
            .map(|(&freq, &len)| {
                // Taps at integer offsets floor(-L/2) .. floor(L/2) - 1 (numpy's
                // `arange(-L // 2, L // 2)` for fractional L), i.e. ceil(L) taps.
                let start = (-len / 2.0).floor() as i64;
                let stop = (len / 2.0).floor() as i64;
                let n = (stop - start).max(1) as usize;
                let window = hann_periodic(n);
                let l1: f64 = window.iter().sum();
                let mut buf = vec![Complex::new(0.0, 0.0); n_fft];
                let lpad = n_fft.saturating_sub(n) / 2;
                let omega = 2.0 * std::f64::consts::PI * freq / sr;
                // Normalise to unit L1 norm (librosa norm=1), then scale by length / n_fft.
                let scale = if l1 > 0.0 {
                    len / n_fft as f64 / l1
                } else {
                    0.0
                };
                for (i, w) in window.iter().enumerate().take(n_fft - lpad) {
                    let t = (start + i as i64) as f64;
                    buf[lpad + i] = Complex::from_polar(w * scale, omega * t);
                }
                fft.process(&mut buf);
                let spectrum = &buf[..=n_fft / 2];
                sparsify(spectrum, config.sparsity)
                    .into_iter()
                    .map(|(k, c)| (k, c * gain))
                    .collect()
            })
            .collect();
        Self { n_fft, kernels }
    }

    /// Appends |response| per frame to each bin's row (`rows` are this octave's bins).
    fn respond(
        &self,
        y: &[f64],
        hop: usize,
        n_frames: usize,
        planner: &mut RealFftPlanner<f64>,
        rows: &mut [Vec<f64>],
    ) {
        let n_fft = self.n_fft;
        let r2c = planner.plan_fft_forward(n_fft);
        let mut frame = r2c.make_input_vec();
        let mut spectrum = r2c.make_output_vec();
        let mut scratch = r2c.make_scratch_vec();
        for row in rows.iter_mut() {
            row.reserve(n_frames);
        }
        let half = (n_fft / 2) as i64;
        for t in 0..n_frames {
            let start = (t * hop) as i64 - half;
            copy_zero_padded(y, start, &mut frame);
            // Length and buffer sizes come from the same plan, so this cannot fail.
            if r2c
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .is_err()
            {
                spectrum.fill(Complex::new(0.0, 0.0));
            }
            for (row, kernel) in rows.iter_mut().zip(&self.kernels) {
                let acc: Complex<f64> = kernel
                    .iter()
                    .map(|&(k, c)| c * spectrum.get(k).copied().unwrap_or_default())
                    .sum();
                row.push(acc.norm_sqr().sqrt()); // hypot is slow; no overflow here
            }
        }
    }
}

/// Keeps the coefficients of `row` that librosa's `util.sparsify_rows` keeps: sort the
/// magnitudes, drop the smallest ones whose cumulative share of the L1 norm stays below
/// `quantile`.
fn sparsify(row: &[Complex<f64>], quantile: f64) -> Vec<(usize, Complex<f64>)> {
    let mags: Vec<f64> = row.iter().map(|c| c.norm()).collect();
    let total: f64 = mags.iter().sum();
    let mut sorted = mags.clone();
    sorted.sort_by(f64::total_cmp);
    let mut threshold = sorted.first().copied().unwrap_or(0.0);
    if total > 0.0 {
        let mut cumulative = 0.0;
        for &m in &sorted {
            cumulative += m / total;
            if cumulative >= quantile {
                threshold = m;
                break;
            }
        }
    }
    row.iter()
        .zip(&mags)
        .enumerate()
        .filter(|&(_, (_, &m))| m >= threshold)
        .map(|(k, (&c, _))| (k, c))
        .collect()
}

/// Periodic ("FFT-bins") Hann window of length `n`, as `scipy.signal.get_window("hann", n)`.
pub(crate) fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect()
}

/// Fills `out` with `y[start..start + out.len()]`, zero outside `y`.
fn copy_zero_padded(y: &[f64], start: i64, out: &mut [f64]) {
    out.fill(0.0);
    let n = y.len() as i64;
    let lo = start.max(0);
    let hi = (start + out.len() as i64).min(n);
    if lo < hi {
        let dst = (lo - start) as usize;
        out[dst..dst + (hi - lo) as usize].copy_from_slice(&y[lo as usize..hi as usize]);
    }
}

/// Half-length of the decimation filter (taps = 2·HALF + 1).
const DECIMATOR_HALF: usize = 188;
/// Cut-off of the decimation filter as a fraction of the input Nyquist frequency: the middle
/// of soxr HQ's transition band (0.913–1.0 of the output Nyquist), /2.
const DECIMATOR_CUTOFF: f64 = 0.4785;
/// Stop-band attenuation (dB) the Kaiser window is designed for.
const DECIMATOR_ATTENUATION_DB: f64 = 120.0;
/// FFT length of the overlap-save convolution.
const DECIMATOR_FFT: usize = 4096;

/// Energy-preserving 2:1 decimator: linear-phase low-pass FIR, keep every other sample,
/// multiply by √2 (librosa's `resample(..., scale=True)`). Output sample `j` is at input
/// time `2j`; output length is `ceil(n / 2)`; the signal is taken as zero outside its ends
/// (as soxr does).
pub(crate) struct Decimator {
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    /// Spectrum of the zero-padded filter, with √2 and the inverse-FFT 1/N folded in.
    filter: Vec<Complex<f64>>,
}

impl Decimator {
    pub(crate) fn new() -> Self {
        let taps = kaiser_lowpass(DECIMATOR_HALF, DECIMATOR_CUTOFF, DECIMATOR_ATTENUATION_DB);
        let mut planner = RealFftPlanner::<f64>::new();
        let r2c = planner.plan_fft_forward(DECIMATOR_FFT);
        let c2r = planner.plan_fft_inverse(DECIMATOR_FFT);
        let mut padded = r2c.make_input_vec();
        padded[..taps.len()].copy_from_slice(&taps);
        let mut filter = r2c.make_output_vec();
        // Sizes come from the plan itself.
        let _ = r2c.process(&mut padded, &mut filter);
        let gain = std::f64::consts::SQRT_2 / DECIMATOR_FFT as f64;
        for c in &mut filter {
            *c *= gain;
        }
        Self { r2c, c2r, filter }
    }

    /// Low-passes and decimates `x` by two.
    pub(crate) fn halve(&self, x: &[f64]) -> Vec<f64> {
        let n_out = x.len().div_ceil(2);
        let mut out = Vec::with_capacity(n_out);
        if n_out == 0 {
            return out;
        }
        let taps = 2 * DECIMATOR_HALF + 1;
        let overlap = taps - 1;
        let step = DECIMATOR_FFT - overlap; // even, so output parity stays aligned
        let mut buf = self.r2c.make_input_vec();
        let mut spec = self.r2c.make_output_vec();
        let mut r2c_scratch = self.r2c.make_scratch_vec();
        let mut c2r_scratch = self.c2r.make_scratch_vec();
        // Full convolution c[m] = Σ h[k] x[m - k]; output j is c[2j + HALF].
        let mut m0 = DECIMATOR_HALF;
        while out.len() < n_out {
            copy_zero_padded(x, m0 as i64 - overlap as i64, &mut buf);
            let ok = self
                .r2c
                .process_with_scratch(&mut buf, &mut spec, &mut r2c_scratch)
                .is_ok();
            for (s, f) in spec.iter_mut().zip(&self.filter) {
                *s *= f;
            }
            // A real signal's spectrum has real DC and Nyquist terms; keep them exactly real.
            if let Some(first) = spec.first_mut() {
                first.im = 0.0;
            }
            if let Some(last) = spec.last_mut() {
                last.im = 0.0;
            }
            let ok = ok
                && self
                    .c2r
                    .process_with_scratch(&mut spec, &mut buf, &mut c2r_scratch)
                    .is_ok();
            let valid = &buf[overlap..];
            for &v in valid.iter().step_by(2) {
                if out.len() == n_out {
                    break;
                }
                out.push(if ok { v } else { 0.0 });
            }
            m0 += step;
        }
        out
    }
}

/// Kaiser-windowed sinc low-pass, `2·half + 1` taps, cut-off `cutoff` × Nyquist, unit DC gain.
fn kaiser_lowpass(half: usize, cutoff: f64, attenuation_db: f64) -> Vec<f64> {
    // Kaiser's β for a given stop-band attenuation (Kaiser 1974; as scipy.signal.kaiser_beta).
    let beta = if attenuation_db > 50.0 {
        0.1102 * (attenuation_db - 8.7)
    } else if attenuation_db > 21.0 {
        0.5842 * (attenuation_db - 21.0).powf(0.4) + 0.07886 * (attenuation_db - 21.0)
    } else {
        0.0
    };
    let i0_beta = bessel_i0(beta);
    let mut taps: Vec<f64> = (0..=2 * half)
        .map(|i| {
            let n = i as f64 - half as f64;
            let r = n / half as f64;
            let window = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
            let x = cutoff * n;
            let sinc = if x == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            cutoff * sinc * window
        })
        .collect();
    let sum: f64 = taps.iter().sum();
    for t in &mut taps {
        *t /= sum;
    }
    taps
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while term > sum * 1e-17 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq_hz: f64, seconds: f64, sr: u32) -> Signal {
        let n = (seconds * sr as f64) as usize;
        let samples = (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * freq_hz * i as f64 / sr as f64).sin() as f32)
            .collect();
        Signal::new(samples, sr)
    }

    #[test]
    fn defaults_are_zerons() {
        let c = VqtConfig::default();
        assert_eq!(
            (c.sample_rate_hz, c.hop_length, c.n_bins, c.bins_per_octave),
            (16_000, 256, 96, 12)
        );
        assert!((c.fps() - 62.5).abs() < 1e-12);
        assert!((c.fmin_hz - 440.0 * 2f64.powf(-57.0 / 12.0)).abs() < 1e-9);
        // librosa's default γ at 12 bins per octave
        assert!((c.gamma() - 13.195_771).abs() < 1e-5, "{}", c.gamma());
        // filter lengths (librosa.filters.wavelet_lengths): ≈1132 taps for C0, ≈66 for B7
        assert!((c.filter_length(c.fmin_hz, 16000.0) - 1131.6035).abs() < 1e-3);
        let top = c.frequencies_hz()[95];
        assert!((top - 3951.07).abs() < 0.01);
        assert!((c.filter_length(top, 16000.0) - 66.344_66).abs() < 1e-4);
        assert!((c.filter_cutoff_hz() - 4128.662).abs() < 1e-3);
        c.validate().unwrap();
    }

    #[test]
    fn frame_count_and_layout() {
        let c = VqtConfig::default();
        for n in [1usize, 255, 256, 257, 16_000, 64_001] {
            let s = Signal::new(vec![0.1; n], 16_000);
            let v = log_vqt(&s, &c).unwrap();
            assert_eq!(v.n_frames, 1 + n / 256, "n = {n}");
            assert_eq!(v.n_bins, 96);
            assert_eq!(v.data.len(), 96 * v.n_frames);
            assert!(v.data.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn a_tone_peaks_in_its_bin() {
        let c = VqtConfig::default();
        // A2 = 110 Hz is bin 33 above C0; A4 = 440 Hz is bin 57; C7 ≈ 2093 Hz is bin 84.
        for (freq, bin) in [(110.0, 33usize), (440.0, 57), (2093.0, 84)] {
            let v = log_vqt(&tone(freq, 2.0, 16_000), &c).unwrap();
            let frame = v.n_frames / 2;
            let argmax = (0..v.n_bins)
                .max_by(|&a, &b| v.get(a, frame).total_cmp(&v.get(b, frame)))
                .unwrap();
            assert_eq!(argmax, bin, "{freq} Hz");
            // one octave away the response is far weaker
            assert!(v.get(bin, frame) - v.get(bin - 12, frame) > 3.0);
        }
    }

    #[test]
    fn rejects_bad_input() {
        let c = VqtConfig::default();
        assert!(matches!(
            log_vqt(&Signal::new(vec![], 16_000), &c),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            log_vqt(&Signal::new(vec![0.0; 100], 44_100), &c),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            log_vqt(&Signal::new(vec![f32::NAN; 100], 16_000), &c),
            Err(Error::InvalidInput(_))
        ));
        let too_high = VqtConfig {
            n_bins: 108,
            ..c.clone()
        };
        assert!(matches!(too_high.validate(), Err(Error::Config(_))));
        let bad_sparsity = VqtConfig { sparsity: 1.0, ..c };
        assert!(matches!(bad_sparsity.validate(), Err(Error::Config(_))));
    }

    #[test]
    fn decimator_passes_the_band_and_stops_aliases() {
        let d = Decimator::new();
        let sr = 16_000.0;
        let n = 16_000;
        let amp = |f: f64| {
            let x: Vec<f64> = (0..n)
                .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / sr).sin())
                .collect();
            let y = d.halve(&x);
            assert_eq!(y.len(), n / 2);
            // RMS away from the edges, ×√2 removed
            let mid = &y[1000..y.len() - 1000];
            (mid.iter().map(|v| v * v).sum::<f64>() / mid.len() as f64).sqrt()
                / std::f64::consts::SQRT_2
        };
        let rms = std::f64::consts::FRAC_1_SQRT_2;
        for f in [100.0, 1000.0, 3000.0, 3600.0] {
            assert!(
                (amp(f) / rms - 1.0).abs() < 1e-4,
                "{f} Hz: {}",
                amp(f) / rms
            );
        }
        for f in [4100.0, 5000.0, 7000.0] {
            assert!(amp(f) / rms < 1e-5, "{f} Hz: {}", amp(f) / rms);
        }
    }

    #[test]
    fn decimator_keeps_time_alignment() {
        let d = Decimator::new();
        let mut x = vec![0.0; 1001];
        x[500] = 1.0;
        let y = d.halve(&x);
        assert_eq!(y.len(), 501);
        let argmax = (0..y.len())
            .max_by(|&a, &b| y[a].abs().total_cmp(&y[b].abs()))
            .unwrap();
        assert_eq!(argmax, 250);
    }

    #[test]
    fn sparsify_drops_the_small_tail() {
        let row: Vec<Complex<f64>> = [10.0, 0.05, 5.0, 0.04, 1.0]
            .iter()
            .map(|&m| Complex::new(m, 0.0))
            .collect();
        let kept: Vec<usize> = sparsify(&row, 0.01).into_iter().map(|(k, _)| k).collect();
        // 0.04 + 0.05 = 0.09 of 16.09 (0.6 %) may go; the next, 1.0, would pass 1 %.
        assert_eq!(kept, vec![0, 2, 4]);
        assert_eq!(sparsify(&row, 0.0).len(), 5);
    }
}
