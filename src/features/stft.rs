//! Short-time Fourier transform and its inverse, with librosa 0.11's conventions
//! (`librosa.stft` / `librosa.istft` with `center=True`, `pad_mode="constant"`, periodic Hann
//! window): frame `t` is centred on sample `t·hop`, the signal is zero outside its ends, and
//! there are `1 + n / hop` frames. Shared by the onset curve and the HPSS stage.

use std::sync::Arc;

use num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// A complex STFT, frame-major: `data[frame * n_freqs + k]`, `k` in `0..=n_fft/2`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StftFrames {
    pub data: Vec<Complex32>,
    pub n_frames: usize,
    pub n_freqs: usize,
}

impl StftFrames {
    /// One frame's spectrum.
    pub fn frame(&self, t: usize) -> &[Complex32] {
        &self.data[t * self.n_freqs..(t + 1) * self.n_freqs]
    }
}

/// A planned STFT of one frame size and hop.
pub(crate) struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    r2c: Arc<dyn RealToComplex<f32>>,
    c2r: Arc<dyn ComplexToReal<f32>>,
}

impl Stft {
    /// Plans an STFT; `n_fft` must be even and ≥ 2, `hop` ≥ 1 (callers validate their configs).
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let window = (0..n_fft)
            .map(|i| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n_fft as f64).cos()) as f32
            })
            .collect();
        Self {
            n_fft,
            hop: hop.max(1),
            window,
            r2c: planner.plan_fft_forward(n_fft),
            c2r: planner.plan_fft_inverse(n_fft),
        }
    }

    /// Number of frequency bins, `n_fft / 2 + 1`.
    pub fn n_freqs(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of centred frames for `n_samples` samples.
    pub fn n_frames(&self, n_samples: usize) -> usize {
        1 + n_samples / self.hop
    }

    /// Hann-windowed, centred, zero-padded STFT (unnormalised DFT, as numpy's `rfft`).
    pub fn forward(&self, x: &[f32]) -> StftFrames {
        let n_frames = self.n_frames(x.len());
        let n_freqs = self.n_freqs();
        let mut data = vec![Complex32::new(0.0, 0.0); n_frames * n_freqs];
        let mut frame = self.r2c.make_input_vec();
        let mut scratch = self.r2c.make_scratch_vec();
        let half = (self.n_fft / 2) as i64;
        let n = x.len() as i64;
        for (t, out) in data.chunks_exact_mut(n_freqs).enumerate() {
            let start = (t * self.hop) as i64 - half;
            frame.fill(0.0);
            let lo = start.max(0);
            let hi = (start + self.n_fft as i64).min(n);
            for i in lo..hi {
                let j = (i - start) as usize;
                frame[j] = x[i as usize] * self.window[j];
            }
            // Buffer sizes come from the plan, so this cannot fail.
            let _ = self.r2c.process_with_scratch(&mut frame, out, &mut scratch);
        }
        StftFrames {
            data,
            n_frames,
            n_freqs,
        }
    }

    /// Inverse STFT by weighted overlap-add (librosa `istft(..., center=True, length=...)`):
    /// each frame is inverse-transformed, windowed and overlap-added, and the sum is divided
    /// by the summed squared window wherever that is non-zero.
    pub fn inverse(&self, frames: &StftFrames, length: usize) -> Vec<f32> {
        let half = self.n_fft / 2;
        // librosa only uses the frames that reach into the requested length.
        let needed = (length + 2 * half).div_ceil(self.hop);
        let n_frames = frames.n_frames.min(needed);
        let padded_len = self.n_fft + self.hop * n_frames.saturating_sub(1);
        let mut acc = vec![0.0f32; padded_len];
        let mut norm = vec![0.0f32; padded_len];
        let mut spec = self.c2r.make_input_vec();
        let mut buf = self.c2r.make_output_vec();
        let mut scratch = self.c2r.make_scratch_vec();
        let scale = 1.0 / self.n_fft as f32;
        for t in 0..n_frames {
            spec.copy_from_slice(frames.frame(t));
            if let Some(first) = spec.first_mut() {
                first.im = 0.0;
            }
            if let Some(last) = spec.last_mut() {
                last.im = 0.0;
            }
            let _ = self
                .c2r
                .process_with_scratch(&mut spec, &mut buf, &mut scratch);
            let off = t * self.hop;
            for (j, (&v, &w)) in buf.iter().zip(&self.window).enumerate() {
                acc[off + j] += v * scale * w;
                norm[off + j] += w * w;
            }
        }
        (0..length)
            .map(|i| {
                let p = i + half;
                match (acc.get(p), norm.get(p)) {
                    (Some(&a), Some(&w)) if w > f32::MIN_POSITIVE => a / w,
                    (Some(&a), Some(_)) => a,
                    _ => 0.0,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() {
        let x: Vec<f32> = (0..5000)
            .map(|i| ((i as f32) * 0.37).sin() + 0.3 * ((i * i) as f32 * 1e-4).cos())
            .collect();
        for (n_fft, hop) in [(2048, 512), (1024, 256), (64, 16)] {
            let stft = Stft::new(n_fft, hop);
            let frames = stft.forward(&x);
            assert_eq!(frames.n_frames, 1 + x.len() / hop);
            let y = stft.inverse(&frames, x.len());
            let err = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-5, "n_fft {n_fft}: max error {err}");
        }
    }

    #[test]
    fn centred_frame_sees_an_impulse_at_its_centre() {
        let mut x = vec![0.0f32; 4096];
        x[1024] = 1.0;
        let stft = Stft::new(1024, 256);
        let f = stft.forward(&x);
        // frame 4 is centred on sample 1024, where the window is 1: flat unit spectrum
        assert!(f.frame(4).iter().all(|c| (c.norm() - 1.0).abs() < 1e-6));
        // frame 0 does not reach it
        assert!(f.frame(0).iter().all(|c| c.norm() < 1e-9));
    }
}
