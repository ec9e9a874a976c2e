//! Where a recording is audible: the span between its first and last moment within
//! [`AudibleConfig::floor_db`] of its loudest moment. Beats are never placed outside it
//! (leading silence, a reverb tail fading into digital silence).

use serde::{Deserialize, Serialize};

use super::Signal;

/// Settings of the audible-span detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AudibleConfig {
    /// Whether beats are kept to the audible span at all.
    pub enabled: bool,
    /// Level (dB) relative to the loudest window under which a window counts as silent.
    /// Ours: −50 dB. On the 38 development songs (scripts/DEVSET.md) it dropped no
    /// reference beat, and 3–28 beats per song that both madmom and we placed after the
    /// music had ended (reverb tails decaying into digital silence).
    pub floor_db: f32,
    /// RMS window (s). Ours: 50 ms, short enough to end the span within a beat's tolerance
    /// (±70 ms) of the last sound.
    pub window_s: f64,
}

impl Default for AudibleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            floor_db: -50.0,
            window_s: 0.05,
        }
    }
}

/// The audible span `(start_s, end_s)` of `signal`: from the start of the first window whose
/// RMS is within `config.floor_db` of the loudest window's, to the end of the last one.
/// `None` for an empty or all-zero signal, or when the detection is disabled.
pub fn audible_span_s(signal: &Signal, config: &AudibleConfig) -> Option<(f64, f64)> {
    if !config.enabled || signal.sample_rate_hz == 0 || signal.samples.is_empty() {
        return None;
    }
    let rate = f64::from(signal.sample_rate_hz);
    let w = ((config.window_s * rate).round() as usize).max(1);
    let energies: Vec<f64> = signal
        .samples
        .chunks(w)
        .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / c.len() as f64)
        .collect();
    let loudest = energies.iter().copied().fold(0.0, f64::max);
    if loudest <= 0.0 || loudest.is_nan() {
        return None;
    }
    let floor = loudest * 10f64.powf(f64::from(config.floor_db) / 10.0);
    let first = energies.iter().position(|&e| e >= floor)?;
    let last = energies.iter().rposition(|&e| e >= floor)?;
    let end_s = (((last + 1) * w).min(signal.samples.len())) as f64 / rate;
    Some((first as f64 * w as f64 / rate, end_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(sr: u32, silent_before_s: f64, tone_s: f64, silent_after_s: f64) -> Signal {
        let n0 = (silent_before_s * f64::from(sr)) as usize;
        let n1 = (tone_s * f64::from(sr)) as usize;
        let n2 = (silent_after_s * f64::from(sr)) as usize;
        let mut s = vec![0.0f32; n0];
        s.extend((0..n1).map(|i| 0.5 * (i as f32 * 0.2).sin()));
        s.extend(vec![0.0f32; n2]);
        Signal::new(s, sr)
    }

    #[test]
    fn silence_around_a_tone_is_outside() {
        let (a, b) = audible_span_s(&tone(16000, 1.0, 2.0, 3.0), &AudibleConfig::default())
            .expect("a tone is audible");
        assert!((a - 1.0).abs() <= 0.05, "{a}");
        assert!((b - 3.0).abs() <= 0.05, "{b}");
    }

    #[test]
    fn a_fade_ends_where_it_is_50_db_down() {
        // 2 s at full level, then an exponential fade of 20 dB/s for 5 s: −50 dB at 4.5 s.
        let sr = 16000;
        let s: Vec<f32> = (0..7 * sr)
            .map(|i| {
                let t = f64::from(i) / f64::from(sr);
                let db = if t < 2.0 { 0.0 } else { -20.0 * (t - 2.0) };
                (10f64.powf(db / 20.0) * (t * 440.0 * std::f64::consts::TAU).sin()) as f32
            })
            .collect();
        let (a, b) =
            audible_span_s(&Signal::new(s, sr), &AudibleConfig::default()).expect("audible");
        assert!(a < 0.05, "{a}");
        assert!((b - 4.5).abs() <= 0.06, "{b}");
    }

    #[test]
    fn silent_empty_and_disabled_give_none() {
        let cfg = AudibleConfig::default();
        assert_eq!(
            audible_span_s(&Signal::new(vec![0.0; 1000], 16000), &cfg),
            None
        );
        assert_eq!(audible_span_s(&Signal::new(vec![], 16000), &cfg), None);
        let off = AudibleConfig {
            enabled: false,
            ..cfg
        };
        assert_eq!(audible_span_s(&tone(16000, 1.0, 1.0, 1.0), &off), None);
    }

    #[test]
    fn a_signal_loud_to_its_edges_is_audible_throughout() {
        let (a, b) =
            audible_span_s(&tone(8000, 0.0, 3.0, 0.0), &AudibleConfig::default()).expect("audible");
        assert_eq!(a, 0.0);
        assert!((b - 3.0).abs() < 1e-9, "{b}");
    }
}
