//! Time stretching that keeps the pitch: WSOLA (waveform-similarity overlap-add; Verhelst &
//! Roelands, ICASSP 1993), with the parameters Driedger & Müller recommend for music
//! ("A Review of Time-Scale Modification of Music Signals", Appl. Sci. 2016, §3): Hann
//! frames of about 46 ms at 50 % overlap and a similarity search of ± half a hop.
//!
//! Each output hop overlap-adds one analysis frame taken near its nominal position
//! (`speed` × output time). Within the tolerance the frame whose start best continues the
//! previous frame's natural continuation (highest cross-correlation) is chosen, so periodic
//! waveforms stay in phase and the pitch does not change. Streaming: one hop (≈ 23 ms) is
//! synthesised whenever the previous one has been consumed; `reset` starts afresh at a
//! position (after a seek, a loop wrap or a speed change) with a half-window fade-in.

/// Streaming WSOLA over a mono signal held by the caller.
#[derive(Clone, Debug)]
pub struct Wsola {
    frame_len: usize,
    hop: usize,
    tolerance: usize,
    window: Vec<f32>,
    acc: Vec<f32>,
    out: Vec<f32>,
    out_pos: usize,
    analysis_pos: f64,
    prev_natural: Option<i64>,
}

impl Wsola {
    /// A stretcher for signals at `sample_rate_hz` (frame ≈ 46 ms, hop = frame / 2).
    pub fn new(sample_rate_hz: u32) -> Self {
        let hop = ((0.023 * f64::from(sample_rate_hz)).round() as usize).max(16);
        let frame_len = 2 * hop;
        // Periodic Hann: shifted copies at 50 % overlap sum to exactly 1.
        let window = (0..frame_len)
            .map(|i| {
                let x = std::f64::consts::PI * i as f64 / frame_len as f64;
                (x.sin() * x.sin()) as f32
            })
            .collect();
        Self {
            frame_len,
            hop,
            tolerance: hop / 2,
            window,
            acc: vec![0.0; frame_len],
            out: Vec::with_capacity(hop),
            out_pos: 0,
            analysis_pos: 0.0,
            prev_natural: None,
        }
    }

    /// Output samples per synthesised hop.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Forgets the past and continues from `position` (in samples of the signal).
    pub fn reset(&mut self, position: f64) {
        self.acc.fill(0.0);
        self.out.clear();
        self.out_pos = 0;
        self.analysis_pos = position;
        self.prev_natural = None;
    }

    /// The next output sample of `signal` played at `speed` (< 1 slower, > 1 faster).
    pub fn next_sample(&mut self, signal: &[f32], speed: f64) -> f32 {
        if self.out_pos >= self.out.len() {
            self.synthesize_hop(signal, speed);
        }
        let v = self.out[self.out_pos];
        self.out_pos += 1;
        v
    }

    fn synthesize_hop(&mut self, signal: &[f32], speed: f64) {
        let nominal = self.analysis_pos.round() as i64;
        let delta = match self.prev_natural {
            Some(natural) => self.best_offset(signal, natural, nominal),
            None => 0,
        };
        let start = nominal + delta;
        for (j, (acc, w)) in self.acc.iter_mut().zip(&self.window).enumerate() {
            *acc += w * sample_at(signal, start + j as i64);
        }
        self.out.clear();
        self.out.extend_from_slice(&self.acc[..self.hop]);
        self.out_pos = 0;
        self.acc.copy_within(self.hop.., 0);
        let n = self.frame_len;
        self.acc[n - self.hop..].fill(0.0);
        self.prev_natural = Some(start + self.hop as i64);
        self.analysis_pos += self.hop as f64 * speed;
    }

    /// The offset in ±tolerance whose frame best matches the natural continuation
    /// (cross-correlation over one hop; coarse search every 4 samples, then refined).
    fn best_offset(&self, signal: &[f32], natural: i64, nominal: i64) -> i64 {
        let len = self.hop as i64;
        let corr = |delta: i64| -> f32 {
            (0..len)
                .map(|k| sample_at(signal, natural + k) * sample_at(signal, nominal + delta + k))
                .sum()
        };
        let tol = self.tolerance as i64;
        let mut best = (0i64, f32::NEG_INFINITY);
        let mut delta = -tol;
        while delta <= tol {
            let c = corr(delta);
            if c > best.1 {
                best = (delta, c);
            }
            delta += 4;
        }
        let coarse = best.0;
        for delta in (coarse - 3).max(-tol)..=(coarse + 3).min(tol) {
            let c = corr(delta);
            if c > best.1 {
                best = (delta, c);
            }
        }
        best.0
    }
}

fn sample_at(signal: &[f32], i: i64) -> f32 {
    if i < 0 {
        0.0
    } else {
        signal.get(i as usize).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frequency from the mean period between rising zero crossings.
    fn frequency_hz(x: &[f32], rate: f64) -> f64 {
        let ups: Vec<usize> = (1..x.len())
            .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
            .collect();
        let periods = (ups.len() - 1) as f64;
        rate * periods / (ups[ups.len() - 1] - ups[0]) as f64
    }

    #[test]
    fn half_speed_keeps_the_pitch_and_the_level() {
        let rate = 48_000u32;
        let tone: Vec<f32> = (0..rate as usize * 2)
            .map(|i| (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin() as f32)
            .collect();
        for speed in [0.5, 0.75, 1.5] {
            let mut w = Wsola::new(rate);
            w.reset(0.0);
            let out: Vec<f32> = (0..rate as usize)
                .map(|_| w.next_sample(&tone, speed))
                .collect();
            let steady = &out[4 * w.hop()..];
            let f = frequency_hz(steady, f64::from(rate));
            assert!((f - 440.0).abs() < 440.0 * 0.01, "speed {speed}: {f} Hz");
            let rms = (steady.iter().map(|v| v * v).sum::<f32>() / steady.len() as f32).sqrt();
            assert!(
                (rms - 0.5f32.sqrt()).abs() < 0.05,
                "speed {speed}: rms {rms}"
            );
        }
    }
}
