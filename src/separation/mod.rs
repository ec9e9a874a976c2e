//! `separation` stage: percussive / non-percussive stems.
//!
//! ZeroNS was trained on Spleeter stems (drums vs. the rest), a TensorFlow model we cannot
//! ship. The default here is harmonic/percussive source separation (HPSS) by median filtering
//! (D. FitzGerald, "Harmonic/percussive separation using median filtering", DAFx 2010) with
//! soft masks, ported from librosa 0.11 (`librosa.effects.hpss`, i.e. `librosa.stft` →
//! `librosa.decompose.hpss` → `librosa.istft`):
//!
//! 1. STFT (Hann, 2048 / 512, centred, zero-padded);
//! 2. on the magnitude S, a median filter along time per frequency bin (harmonic
//!    enhancement, H) and along frequency per frame (percussive enhancement, P), both
//!    31 points wide, edges mirrored (scipy.ndimage `mode="reflect"`);
//! 3. Wiener-like soft masks `M_H = H^p / (H^p + (m·P)^p)` and `M_P = P^p / (P^p + (m·H)^p)`,
//!    p = 2, margin m = 1 (where both are 0 each mask is ½, as librosa's `split_zeros`);
//! 4. each masked complex STFT back to audio by inverse STFT at the input's length.
//!
//! With margins of 1 the masks sum to one, so `percussive + non_percussive` reproduces the
//! input (up to rounding). Users with better stems (Demucs, Spleeter) pass them through
//! [`Stems::from_user`].

use serde::{Deserialize, Serialize};

use crate::audio::Signal;
use crate::features::stft::{Stft, StftFrames};
use crate::{Error, Result};

/// Two stems of one mix at one sample rate and length: the input of the ZeroNS network's
/// two branches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stems {
    /// Drums / transients (ZeroNS: Spleeter's `drums`).
    pub percussive: Signal,
    /// Everything else (ZeroNS: `vocals + bass + other`).
    pub non_percussive: Signal,
}

/// Largest length difference between user stems that [`Stems::from_user`] pads over.
/// Stems of one mix differ by at most codec priming/padding and resampler tails; more means
/// the files do not belong together.
pub const MAX_STEM_LENGTH_MISMATCH_S: f64 = 1.0;

impl Stems {
    /// Wraps user-supplied stems (e.g. from Demucs or Spleeter).
    ///
    /// Both must be non-empty, finite and at the same sample rate. If their lengths differ by
    /// at most [`MAX_STEM_LENGTH_MISMATCH_S`], the shorter is padded with zeros at the end;
    /// a larger difference is an error.
    pub fn from_user(percussive: Signal, non_percussive: Signal) -> Result<Self> {
        if percussive.sample_rate_hz != non_percussive.sample_rate_hz {
            return Err(Error::InvalidInput(format!(
                "stems: the percussive stem is at {} Hz and the non-percussive one at {} Hz",
                percussive.sample_rate_hz, non_percussive.sample_rate_hz
            )));
        }
        if percussive.sample_rate_hz == 0 {
            return Err(Error::InvalidInput("stems: sample rate 0".into()));
        }
        for (name, s) in [
            ("percussive", &percussive),
            ("non-percussive", &non_percussive),
        ] {
            if s.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "stems: the {name} stem is empty"
                )));
            }
            if s.samples.iter().any(|v| !v.is_finite()) {
                return Err(Error::InvalidInput(format!(
                    "stems: the {name} stem contains NaN or infinite samples"
                )));
            }
        }
        let (np, nn) = (percussive.samples.len(), non_percussive.samples.len());
        let diff_s = np.abs_diff(nn) as f64 / percussive.sample_rate_hz as f64;
        if diff_s > MAX_STEM_LENGTH_MISMATCH_S {
            return Err(Error::InvalidInput(format!(
                "stems: lengths differ by {diff_s:.2} s ({:.2} s vs {:.2} s); \
                 stems of one mix should be the same length",
                percussive.duration_s(),
                non_percussive.duration_s()
            )));
        }
        let n = np.max(nn);
        let (mut percussive, mut non_percussive) = (percussive, non_percussive);
        percussive.samples.resize(n, 0.0);
        non_percussive.samples.resize(n, 0.0);
        Ok(Self {
            percussive,
            non_percussive,
        })
    }

    /// Sample rate of both stems.
    pub fn sample_rate_hz(&self) -> u32 {
        self.percussive.sample_rate_hz
    }
}

/// Settings of [`hpss`]. Defaults are librosa 0.11's (`librosa.effects.hpss` /
/// `librosa.decompose.hpss`), which follow FitzGerald (2010) with Driedger et al.'s margins.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct HpssConfig {
    /// STFT frame length (Hann window). librosa: 2048.
    pub n_fft: usize,
    /// STFT hop. librosa: `n_fft / 4` = 512.
    pub hop_length: usize,
    /// Median filter length along time, in frames (harmonic enhancement). librosa: 31.
    pub harmonic_kernel_frames: usize,
    /// Median filter length along frequency, in bins (percussive enhancement). librosa: 31.
    pub percussive_kernel_bins: usize,
    /// Exponent of the soft masks. librosa: 2 (Wiener-like).
    pub power: f64,
    /// Harmonic margin (≥ 1; larger leaves more in neither stem). librosa: 1.
    pub harmonic_margin: f64,
    /// Percussive margin (≥ 1). librosa: 1.
    pub percussive_margin: f64,
}

impl Default for HpssConfig {
    fn default() -> Self {
        Self {
            n_fft: 2048,
            hop_length: 512,
            harmonic_kernel_frames: 31,
            percussive_kernel_bins: 31,
            power: 2.0,
            harmonic_margin: 1.0,
            percussive_margin: 1.0,
        }
    }
}

impl HpssConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("hpss: {m}")));
        if self.n_fft < 16 || !self.n_fft.is_multiple_of(2) || self.n_fft > 1 << 16 {
            return bad(format!(
                "n_fft must be even and in 16..=65536, got {}",
                self.n_fft
            ));
        }
        if self.hop_length == 0 || self.hop_length > self.n_fft {
            return bad(format!(
                "hop_length must be in 1..=n_fft, got {}",
                self.hop_length
            ));
        }
        if self.harmonic_kernel_frames == 0 || self.percussive_kernel_bins == 0 {
            return bad("median filter lengths must be at least 1".into());
        }
        if self.harmonic_kernel_frames > 1001 || self.percussive_kernel_bins > 1001 {
            return bad("median filter lengths must be at most 1001".into());
        }
        if !(self.power.is_finite() && self.power > 0.0) {
            return bad(format!(
                "power must be positive and finite, got {}",
                self.power
            ));
        }
        let margin_ok = |m: f64| m.is_finite() && m >= 1.0;
        if !margin_ok(self.harmonic_margin) || !margin_ok(self.percussive_margin) {
            return bad("margins must be finite and at least 1".into());
        }
        Ok(())
    }
}

/// Splits a signal into percussive and non-percussive (harmonic) stems by median-filtering
/// HPSS. Both stems have the input's rate and length.
pub fn hpss(signal: &Signal, config: &HpssConfig) -> Result<Stems> {
    let _span = tracing::info_span!("hpss", n_samples = signal.samples.len()).entered();
    config.validate()?;
    if signal.samples.is_empty() {
        return Err(Error::InvalidInput("hpss: empty signal".into()));
    }
    if signal.samples.iter().any(|s| !s.is_finite()) {
        return Err(Error::InvalidInput(
            "hpss: signal contains NaN or infinite samples".into(),
        ));
    }
    let stft = Stft::new(config.n_fft, config.hop_length);
    let spec = stft.forward(&signal.samples);
    let (n_frames, n_freqs) = (spec.n_frames, spec.n_freqs);
    // |X| without `norm()` (hypot is slow; audio magnitudes cannot overflow).
    let mag: Vec<f32> = spec.data.iter().map(|c| c.norm_sqr().sqrt()).collect();

    // Percussive enhancement: median across frequency within each frame (rows are contiguous).
    let mut perc = vec![0.0f32; mag.len()];
    let mut filter = SlidingMedian::new(config.percussive_kernel_bins);
    for (src, dst) in mag
        .chunks_exact(n_freqs)
        .zip(perc.chunks_exact_mut(n_freqs))
    {
        filter.apply(src, dst);
    }

    // Harmonic enhancement: median across time within each bin, on a transposed copy.
    let by_bin = transpose(&mag, n_frames, n_freqs);
    let mut harm_by_bin = vec![0.0f32; mag.len()];
    let mut filter = SlidingMedian::new(config.harmonic_kernel_frames);
    for (src, dst) in by_bin
        .chunks_exact(n_frames)
        .zip(harm_by_bin.chunks_exact_mut(n_frames))
    {
        filter.apply(src, dst);
    }
    drop(by_bin);
    let harm = transpose(&harm_by_bin, n_freqs, n_frames);
    drop(harm_by_bin);

    let split_zeros = config.harmonic_margin == 1.0 && config.percussive_margin == 1.0;
    let power = config.power as f32;
    let (mh, mp) = (
        config.harmonic_margin as f32,
        config.percussive_margin as f32,
    );
    let mut harm_spec = spec.clone();
    let mut perc_spec = spec;
    for (((hs, ps), &h), &p) in harm_spec
        .data
        .iter_mut()
        .zip(perc_spec.data.iter_mut())
        .zip(&harm)
        .zip(&perc)
    {
        *hs *= soft_mask(h, p * mh, power, split_zeros);
        *ps *= soft_mask(p, h * mp, power, split_zeros);
    }
    let n = signal.samples.len();
    let to_signal = |s: &StftFrames| Signal::new(stft.inverse(s, n), signal.sample_rate_hz);
    Ok(Stems {
        percussive: to_signal(&perc_spec),
        non_percussive: to_signal(&harm_spec),
    })
}

/// librosa `util.softmask(x, x_ref, power, split_zeros)`: `x^p / (x^p + x_ref^p)`, computed
/// relative to `max(x, x_ref)` to avoid overflow; where both are (nearly) zero, ½ or 0.
fn soft_mask(x: f32, x_ref: f32, power: f32, split_zeros: bool) -> f32 {
    let z = x.max(x_ref);
    if z < f32::MIN_POSITIVE {
        return if split_zeros { 0.5 } else { 0.0 };
    }
    let (a, b) = (x / z, x_ref / z);
    let (a, b) = if power == 2.0 {
        (a * a, b * b)
    } else {
        (a.powf(power), b.powf(power))
    };
    a / (a + b)
}

/// Transposes a row-major `rows × cols` matrix, in cache-friendly tiles.
fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut dst = vec![0.0f32; src.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
    dst
}

/// Running median over a window of odd or even length with mirrored edges, as
/// `scipy.ndimage.median_filter(size=k, mode="reflect")` along one axis: the window at `i`
/// covers `i − k/2 ..= i + (k−1)/2`, the median is the element of rank `k/2`, and indices
/// outside `0..n` reflect (`d c b a | a b c d | d c b a`).
///
/// The window is kept sorted as integer keys that order like `f32::total_cmp`. Each step
/// finds the outgoing and incoming ranks by branch-free counting (vectorised; cheaper than a
/// binary search for librosa's k = 31) and shifts the elements in between by one.
struct SlidingMedian {
    size: usize,
    window: Vec<u32>,
    /// The current row's keys with `size / 2` mirrored values before it and `(size − 1) / 2`
    /// after.
    padded: Vec<u32>,
}

impl SlidingMedian {
    fn new(size: usize) -> Self {
        let size = size.max(1);
        Self {
            size,
            window: Vec::with_capacity(size),
            padded: Vec::new(),
        }
    }

    fn apply(&mut self, src: &[f32], dst: &mut [f32]) {
        let n = src.len();
        if n == 0 {
            return;
        }
        let k = self.size;
        let before = k / 2;
        let after = k - 1 - before;
        self.padded.clear();
        let mirrored = |i: i64| order_key(src[reflect(i, n)]);
        self.padded.extend((-(before as i64)..0).map(mirrored));
        self.padded.extend(src.iter().map(|&v| order_key(v)));
        self.padded
            .extend((n as i64..(n + after) as i64).map(mirrored));
        // The sorted window, then `u32::MAX` sentinels up to a multiple of 8 lanes: they
        // never count as "below", so `count_below` runs on whole lanes only.
        self.window.clear();
        self.window.extend_from_slice(&self.padded[..k]);
        self.window.sort_unstable();
        self.window.resize(k.next_multiple_of(8), u32::MAX);
        slide(&mut self.window, &self.padded, k, dst);
    }
}

/// The running-median loop over `padded` (see [`SlidingMedian`]); `window` holds the sorted
/// first `k` keys followed by `u32::MAX` sentinels.
fn slide(w: &mut [u32], padded: &[u32], k: usize, dst: &mut [f32]) {
    let n = padded.len() + 1 - k;
    let rank = k / 2;
    for (i, out) in dst.iter_mut().enumerate().take(n) {
        *out = from_order_key(w[rank]);
        if i + 1 == n {
            break;
        }
        let (outgoing, incoming) = (padded[i], padded[i + k]);
        if outgoing == incoming {
            continue;
        }
        // w[j] is the first element equal to `outgoing`; c elements are below `incoming`.
        let j = count_below(w, outgoing);
        let c = count_below(w, incoming);
        if c > j {
            for m in j..c - 1 {
                w[m] = w[m + 1];
            }
            w[c - 1] = incoming;
        } else {
            for m in (c..j).rev() {
                w[m + 1] = w[m];
            }
            w[c] = incoming;
        }
    }
}

/// Number of elements of `w` below `x`, in fixed-width lanes so that it vectorises.
fn count_below(w: &[u32], x: u32) -> usize {
    let mut lanes = [0u32; 8];
    let chunks = w.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += (v < x) as u32;
        }
    }
    let tail_count = tail.iter().filter(|&&v| v < x).count();
    lanes.iter().sum::<u32>() as usize + tail_count
}

/// Maps an `f32` to a `u32` whose unsigned order is `f32::total_cmp`'s order.
fn order_key(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Inverse of [`order_key`].
fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k & 0x8000_0000 != 0 {
        k & 0x7fff_ffff
    } else {
        !k
    })
}

/// Index into `0..n` for any integer index under half-sample symmetric extension.
fn reflect(i: i64, n: usize) -> usize {
    let n = n as i64;
    let m = i.rem_euclid(2 * n);
    (if m < n { m } else { 2 * n - 1 - m }) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_median(src: &[f32], k: usize) -> Vec<f32> {
        let n = src.len();
        (0..n)
            .map(|i| {
                let mut w: Vec<f32> = (0..k)
                    .map(|j| src[reflect(i as i64 - (k / 2) as i64 + j as i64, n)])
                    .collect();
                w.sort_by(f32::total_cmp);
                w[k / 2]
            })
            .collect()
    }

    #[test]
    fn sliding_median_matches_naive() {
        let mut state = 7u32;
        let mut rnd = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((state >> 16) % 50) as f32 - 20.0 // many ties, both signs
        };
        for n in [1usize, 2, 5, 16, 100] {
            let src: Vec<f32> = (0..n).map(|_| rnd()).collect();
            for k in [1usize, 2, 3, 4, 7, 31] {
                let mut dst = vec![0.0; n];
                SlidingMedian::new(k).apply(&src, &mut dst);
                assert_eq!(dst, naive_median(&src, k), "n {n} k {k}");
            }
        }
    }

    #[test]
    fn order_keys_sort_like_floats() {
        let v = [-f32::INFINITY, -2.5, -0.0, 0.0, 1e-30, 3.0, f32::INFINITY];
        for w in v.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{w:?}");
        }
        for x in v {
            assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn transpose_round_trips() {
        let (rows, cols) = (37, 70);
        let m: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let t = transpose(&m, rows, cols);
        assert_eq!(t[5 * rows + 3], m[3 * cols + 5]);
        assert_eq!(transpose(&t, cols, rows), m);
    }

    #[test]
    fn reflect_is_half_sample_symmetric() {
        let idx: Vec<usize> = (-5..9).map(|i| reflect(i, 4)).collect();
        assert_eq!(idx, vec![3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0]);
    }

    #[test]
    fn soft_mask_cases() {
        assert_eq!(soft_mask(0.0, 0.0, 2.0, true), 0.5);
        assert_eq!(soft_mask(0.0, 0.0, 2.0, false), 0.0);
        assert!((soft_mask(3.0, 4.0, 2.0, true) - 9.0 / 25.0).abs() < 1e-6);
        assert!((soft_mask(1e30, 1e30, 2.0, true) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn user_stems_are_checked_and_padded() {
        let a = Signal::new(vec![0.1; 16_000], 16_000);
        let b = Signal::new(vec![0.2; 15_000], 16_000);
        let s = Stems::from_user(a.clone(), b).unwrap();
        assert_eq!(s.non_percussive.samples.len(), 16_000);
        assert_eq!(s.non_percussive.samples[15_500], 0.0);
        assert_eq!(s.sample_rate_hz(), 16_000);
        let far = Signal::new(vec![0.2; 40_000], 16_000);
        assert!(Stems::from_user(a.clone(), far).is_err());
        let other_rate = Signal::new(vec![0.2; 16_000], 44_100);
        assert!(Stems::from_user(a.clone(), other_rate).is_err());
        assert!(Stems::from_user(a, Signal::new(vec![], 16_000)).is_err());
    }

    #[test]
    fn rejects_bad_configs() {
        let ok = HpssConfig::default();
        ok.validate().unwrap();
        for bad in [
            HpssConfig {
                n_fft: 1001,
                ..ok.clone()
            },
            HpssConfig {
                hop_length: 0,
                ..ok.clone()
            },
            HpssConfig {
                harmonic_kernel_frames: 0,
                ..ok.clone()
            },
            HpssConfig {
                power: 0.0,
                ..ok.clone()
            },
            HpssConfig {
                harmonic_margin: 0.5,
                ..ok.clone()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
        }
        assert!(hpss(&Signal::new(vec![], 16_000), &ok).is_err());
    }
}
