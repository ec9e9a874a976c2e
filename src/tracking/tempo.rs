//! Global tempo estimation after librosa ≥ 0.10 `librosa.feature.tempo` (autocorrelation
//! tempogram, averaged over time, weighted by a log-normal prior; spec
//! tracking-metrics-formats.md §2.2).
//!
//! The envelope is padded by `win/2` frames of linear ramp to 0 on both sides, cut into
//! `win`-frame windows at hop 1 (one per input frame, centred), Hann-windowed (periodic) and
//! autocorrelated; each window's autocorrelation is normalised by its maximum (the lag-0 value)
//! and the windows are averaged. The averaging is done on the power spectra (one inverse FFT in
//! all), which equals librosa's per-window result up to rounding. The best lag maximises
//! `ln(1 + 10⁶·ac[k]) − ½·(log2(bpm_k / start_bpm)/std_bpm)²` over the lags slower than
//! `max_bpm`; the estimate is `60·fps / k`, so its resolution is one lag.

use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Settings of [`tempo`]. Defaults are librosa's `tempo()` defaults.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TempoConfig {
    /// Centre of the log-normal tempo prior in BPM (librosa `start_bpm=120`).
    pub start_bpm: f64,
    /// Width of the prior in octaves (librosa `std_bpm=1.0`).
    pub std_bpm: f64,
    /// Autocorrelation window length in seconds (librosa `ac_size=8.0`).
    pub ac_size_s: f64,
    /// Only tempi below this are considered (librosa `max_tempo=320`); `None` disables it.
    pub max_bpm: Option<f64>,
}

impl Default for TempoConfig {
    fn default() -> Self {
        Self {
            start_bpm: 120.0,
            std_bpm: 1.0,
            ac_size_s: 8.0,
            max_bpm: Some(320.0),
        }
    }
}

impl TempoConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        if !(self.start_bpm.is_finite() && self.start_bpm > 0.0) {
            return Err(Error::Config(format!(
                "start_bpm must be > 0 (got {})",
                self.start_bpm
            )));
        }
        if !(self.std_bpm.is_finite() && self.std_bpm > 0.0) {
            return Err(Error::Config(format!(
                "std_bpm must be > 0 (got {})",
                self.std_bpm
            )));
        }
        if !(self.ac_size_s.is_finite() && self.ac_size_s > 0.0) {
            return Err(Error::Config(format!(
                "ac_size_s must be > 0 (got {})",
                self.ac_size_s
            )));
        }
        if let Some(m) = self.max_bpm
            && (m.is_nan() || m <= 0.0)
        {
            return Err(Error::Config(format!("max_bpm must be > 0 (got {m})")));
        }
        Ok(())
    }
}

/// Estimates the global tempo (BPM) of an onset envelope / activation sampled at `fps`.
pub fn tempo(envelope: &[f32], fps: f64, config: &TempoConfig) -> Result<f64> {
    let _span = tracing::info_span!("tracking.tempo", frames = envelope.len()).entered();
    config.validate()?;
    if !(fps.is_finite() && fps > 0.0) {
        return Err(Error::InvalidInput(format!("fps must be > 0 (got {fps})")));
    }
    // librosa: win_length = time_to_frames(ac_size) = floor(ac_size·sr / hop)
    let win = (config.ac_size_s * fps).floor();
    if !(2.0..=1e6).contains(&win) {
        return Err(Error::Config(format!(
            "ac_size_s {} at {fps} fps gives a {win}-frame window; need 2..1e6 frames",
            config.ac_size_s
        )));
    }
    let ac = mean_tempogram(envelope, win as usize)?;
    let mut best: Option<(usize, f64)> = None;
    let log2_start = config.start_bpm.log2();
    for (k, &a) in ac.iter().enumerate().skip(1) {
        let bpm = 60.0 * fps / k as f64;
        if config.max_bpm.is_some_and(|m| bpm >= m) {
            // librosa kills every lag before the first one below max_tempo; bpm falls with k,
            // so this is the same set.
            continue;
        }
        let prior = -0.5 * ((bpm.log2() - log2_start) / config.std_bpm).powi(2);
        let score = (1e6 * a).ln_1p() + prior;
        if score.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((k, score));
        }
    }
    match best {
        Some((k, _)) => Ok(60.0 * fps / k as f64),
        None => Err(Error::Config(format!(
            "no autocorrelation lag is slower than max_bpm {:?} within the {win}-frame window",
            config.max_bpm
        ))),
    }
}

/// Time-averaged, per-window-normalised autocorrelation tempogram (lags `0..win`), librosa
/// `tempogram(win_length=win, center=True, window='hann', norm=inf)` averaged over frames.
pub fn mean_tempogram(envelope: &[f32], win: usize) -> Result<Vec<f64>> {
    let n = envelope.len();
    if n == 0 {
        return Err(Error::InvalidInput("empty onset envelope".into()));
    }
    if win == 0 {
        return Err(Error::InvalidInput("tempogram window must be > 0".into()));
    }
    if let Some((t, v)) = envelope.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "onset envelope frame {t} is not finite ({v})"
        )));
    }
    let pad = win / 2;
    let padded = linear_ramp_pad(envelope, pad);
    // scipy get_window('hann', win, fftbins=True): periodic Hann
    let window: Vec<f64> = (0..win)
        .map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / win as f64).cos())
        .collect();
    let n_fft = (2 * win - 1).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n_fft);
    let inv = planner.plan_fft_inverse(n_fft);
    let mut buf = fwd.make_input_vec();
    let mut spec = fwd.make_output_vec();
    let mut scratch = fwd.make_scratch_vec();
    let mut acc = vec![0.0f64; spec.len()];
    let mut used = 0usize;
    for t in 0..n {
        let seg = &padded[t..t + win];
        let mut energy = 0.0;
        for ((b, &x), &w) in buf.iter_mut().zip(seg).zip(&window) {
            *b = x * w;
            energy += *b * *b;
        }
        used += 1;
        // librosa.util.normalize leaves columns with max < tiny untouched (≈ 0 anyway).
        if energy < f64::MIN_POSITIVE {
            continue;
        }
        buf[win..].iter_mut().for_each(|b| *b = 0.0);
        fwd.process_with_scratch(&mut buf, &mut spec, &mut scratch)
            .map_err(|e| Error::InvalidInput(format!("tempogram FFT failed: {e}")))?;
        let scale = 1.0 / energy;
        for (a, c) in acc.iter_mut().zip(&spec) {
            *a += c.norm_sqr() * scale;
        }
    }
    let mut spec_acc: Vec<_> = acc
        .iter()
        .map(|&p| realfft::num_complex::Complex::new(p, 0.0))
        .collect();
    let mut out = inv.make_output_vec();
    let mut scratch = inv.make_scratch_vec();
    inv.process_with_scratch(&mut spec_acc, &mut out, &mut scratch)
        .map_err(|e| Error::InvalidInput(format!("tempogram inverse FFT failed: {e}")))?;
    let norm = 1.0 / (n_fft as f64 * used as f64);
    out.truncate(win);
    out.iter_mut().for_each(|v| *v *= norm);
    Ok(out)
}

/// `numpy.pad(x, pad, mode='linear_ramp', end_values=0)` in f64.
fn linear_ramp_pad(x: &[f32], pad: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len() + 2 * pad);
    let ramp = |edge: f64, k: usize| {
        // linspace(0, edge, pad, endpoint=False)[k]
        k as f64 * (edge / pad as f64)
    };
    let first = x.first().map_or(0.0, |&v| f64::from(v));
    let last = x.last().map_or(0.0, |&v| f64::from(v));
    out.extend((0..pad).map(|k| ramp(first, k)));
    out.extend(x.iter().map(|&v| f64::from(v)));
    out.extend((0..pad).map(|m| ramp(last, pad - 1 - m)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pulse train: a raised-cosine bump of width ~3 frames at every beat.
    fn pulses(bpm: f64, fps: f64, seconds: f64) -> Vec<f32> {
        let n = (seconds * fps) as usize;
        let period = 60.0 * fps / bpm;
        (0..n)
            .map(|t| {
                let ph = (t as f64 / period).fract() * period;
                let d = ph.min(period - ph);
                if d < 1.5 {
                    (0.5 + 0.5 * (std::f64::consts::PI * d / 1.5).cos()) as f32
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn recovers_click_train_tempi() {
        for fps in [62.5, 100.0] {
            for bpm in [100.0, 120.0, 140.0] {
                let est = tempo(&pulses(bpm, fps, 30.0), fps, &TempoConfig::default()).unwrap();
                assert!(
                    (est / bpm - 1.0).abs() < 0.03,
                    "{bpm} BPM at {fps} fps -> {est}"
                );
            }
        }
    }

    #[test]
    fn prior_chooses_the_octave_near_start_bpm() {
        let env = pulses(120.0, 62.5, 30.0);
        let slow = TempoConfig {
            start_bpm: 60.0,
            std_bpm: 0.3,
            ..TempoConfig::default()
        };
        let est = tempo(&env, 62.5, &slow).unwrap();
        assert!((est / 60.0 - 1.0).abs() < 0.03, "{est}");
    }

    #[test]
    fn tempogram_is_normalised() {
        let ac = mean_tempogram(&pulses(120.0, 62.5, 20.0), 500).unwrap();
        assert_eq!(ac.len(), 500);
        assert!((ac[0] - 1.0).abs() < 1e-9, "{}", ac[0]);
        assert!(ac.iter().all(|&v| v <= 1.0 + 1e-9));
    }

    #[test]
    fn padding_is_numpy_linear_ramp() {
        // np.pad([4, 1, 2], 2, mode='linear_ramp', end_values=0) == [0, 2, 4, 1, 2, 1, 0]
        assert_eq!(
            linear_ramp_pad(&[4.0, 1.0, 2.0], 2),
            vec![0.0, 2.0, 4.0, 1.0, 2.0, 1.0, 0.0]
        );
    }

    #[test]
    fn bad_input() {
        let c = TempoConfig::default();
        assert!(tempo(&[], 62.5, &c).is_err());
        assert!(tempo(&[0.1, f32::NAN], 62.5, &c).is_err());
        assert!(tempo(&[0.1; 100], 0.0, &c).is_err());
        let tiny = TempoConfig {
            ac_size_s: 0.01,
            ..c.clone()
        };
        assert!(tempo(&[0.1; 100], 62.5, &tiny).is_err());
        let bad = TempoConfig { std_bpm: 0.0, ..c };
        assert!(matches!(
            tempo(&[0.1; 100], 62.5, &bad),
            Err(Error::Config(_))
        ));
    }
}
