//! Inputs and comparisons for the model tests.

use zerons::features::Spectrogram;

/// A deterministic pseudo-random log-VQT-like input with a beat-like pulse every 31 frames.
pub fn spectrogram(n_frames: usize, seed: u64) -> Spectrogram {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data = (0..96 * n_frames)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let frame = i % n_frames;
            let pulse = if frame.is_multiple_of(31) { 3.0 } else { 0.0 };
            -8.0 + 2.0 * noise + pulse
        })
        .collect();
    Spectrogram {
        data,
        n_bins: 96,
        n_frames,
        fps: 62.5,
    }
}

/// Largest absolute difference of two equally long curves.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
