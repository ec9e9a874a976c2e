//! Click sounds, as `librosa.clicks` synthesises them: a sine at the click frequency under
//! an exponential envelope falling from 1 to 2⁻¹⁰ over the click's duration.

/// One click rendered at `sample_rate_hz`, peak amplitude `level`.
pub fn synth_click(sample_rate_hz: u32, freq_hz: f64, duration_s: f64, level: f32) -> Vec<f32> {
    let n = (duration_s * f64::from(sample_rate_hz)).round().max(1.0) as usize;
    let w = 2.0 * std::f64::consts::PI * freq_hz / f64::from(sample_rate_hz);
    (0..n)
        .map(|i| {
            // librosa: np.logspace(0, -10, num=n, base=2.0)
            let frac = if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                0.0
            };
            let env = 2f64.powf(-10.0 * frac);
            (env * (w * i as f64).sin()) as f32 * level
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_has_librosa_length_and_envelope() {
        let c = synth_click(22050, 1000.0, 0.1, 1.0);
        assert_eq!(c.len(), 2205);
        assert_eq!(c[0], 0.0, "a sine click starts at zero (no DC step)");
        // The envelope decays: the last quarter is far quieter than the first.
        let peak = |s: &[f32]| s.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(peak(&c[..500]) > 0.5);
        assert!(peak(&c[1650..]) < 0.01);
    }
}
