//! Whole-song inference in fixed-size chunks.
//!
//! Every layer is "same"-padded in time and never changes the time resolution, so an output
//! frame depends only on the input frames within the receptive half-width `H` (paper: 68, lite
//! default: 128). Each chunk of `chunk_frames` output frames is computed from a window of
//! `chunk_frames + 2H` input frames around it, shifted inward at the song's ends (where the
//! window edge *is* the song edge, so the zero padding is the same as in one whole-song pass).
//! The result equals a single pass over the whole song, memory stays bounded for any length,
//! and all windows have the same shape (GPU kernels compile once).

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::io::LoadedModel;
use super::{FPS, N_BINS};
use crate::features::Spectrogram;
use crate::tracking::Activation;
use crate::{Error, Result};

/// Configuration of [`infer`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct InferConfig {
    /// Output frames per chunk (default 2048 ≈ 33 s; each window adds the receptive half-width
    /// on both sides). Larger chunks waste less on halos but need more memory.
    pub chunk_frames: usize,
    /// Windows run together in one batch (default 1). More can help a GPU; the last batch is
    /// padded so every batch has the same shape.
    pub chunks_per_batch: usize,
}

impl Default for InferConfig {
    fn default() -> Self {
        Self {
            chunk_frames: 2048,
            chunks_per_batch: 1,
        }
    }
}

impl InferConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        if self.chunk_frames == 0 || self.chunk_frames > 1 << 20 {
            return Err(Error::Config(format!(
                "inference chunk_frames must be in 1..=1048576, got {}",
                self.chunk_frames
            )));
        }
        if self.chunks_per_batch == 0 || self.chunks_per_batch > 256 {
            return Err(Error::Config(format!(
                "inference chunks_per_batch must be in 1..=256, got {}",
                self.chunks_per_batch
            )));
        }
        Ok(())
    }
}

/// The network's curves for one song, 62.5 fps, one value per input frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelActivations {
    /// Non-percussive branch.
    pub anchor: Activation,
    /// Percussive branch.
    pub postve: Activation,
    /// Their combination (max by default).
    pub combined: Activation,
    /// The downbeat activation (branches combined the same way), where the model has
    /// downbeat heads.
    pub downbeat: Option<Activation>,
}

fn check_input(name: &str, s: &Spectrogram) -> Result<()> {
    if s.n_bins != N_BINS {
        return Err(Error::InvalidInput(format!(
            "{name} spectrogram has {} bins, the network needs {N_BINS} (log-VQT, C0, 12/octave)",
            s.n_bins
        )));
    }
    if s.data.len() != s.n_bins * s.n_frames {
        return Err(Error::InvalidInput(format!(
            "{name} spectrogram holds {} values, expected {} bins × {} frames",
            s.data.len(),
            s.n_bins,
            s.n_frames
        )));
    }
    if (s.fps - FPS).abs() > 1e-6 * FPS {
        return Err(Error::InvalidInput(format!(
            "{name} spectrogram is at {} fps, the network needs {FPS}",
            s.fps
        )));
    }
    if let Some(i) = s.data.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "{name} spectrogram has a non-finite value at bin {}, frame {}",
            i / s.n_frames.max(1),
            i % s.n_frames.max(1)
        )));
    }
    Ok(())
}

/// One window: input frames `[start, start + len)` whose outputs `[start + keep.0,
/// start + keep.1)` are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    start: usize,
    len: usize,
    keep: (usize, usize),
}

/// Windows covering `n_frames` with cores of `chunk` and halos of `halo`.
fn plan(n_frames: usize, chunk: usize, halo: usize) -> Vec<Window> {
    let width = chunk + 2 * halo;
    if n_frames <= width {
        return vec![Window {
            start: 0,
            len: n_frames,
            keep: (0, n_frames),
        }];
    }
    (0..n_frames)
        .step_by(chunk)
        .map(|core| {
            let start = core.saturating_sub(halo).min(n_frames - width);
            let end = (core + chunk).min(n_frames);
            Window {
                start,
                len: width,
                keep: (core - start, end - start),
            }
        })
        .collect()
}

/// Copies frames `[start, start + len)` of every bin into `out` (bin-major, `[96, len]`).
fn extend_window(out: &mut Vec<f32>, s: &Spectrogram, start: usize, len: usize) {
    for bin in 0..s.n_bins {
        let row = &s.data[bin * s.n_frames..(bin + 1) * s.n_frames];
        out.extend_from_slice(&row[start..start + len]);
    }
}

/// Runs `model` over a whole song: `non_percussive` and `percussive` are the log-VQTs of the
/// two stems (96 bins, 62.5 fps, same length). Returns both branch curves and their
/// combination, one value per frame.
pub fn infer(
    model: &LoadedModel,
    non_percussive: &Spectrogram,
    percussive: &Spectrogram,
    config: &InferConfig,
) -> Result<ModelActivations> {
    infer_with_progress(model, non_percussive, percussive, config, &mut |_, _| true)
}

/// [`infer`] that reports `(frames done, total frames)` after each batch of chunks; the
/// callback returns `false` to stop, and the call then returns [`Error::Cancelled`].
pub fn infer_with_progress(
    model: &LoadedModel,
    non_percussive: &Spectrogram,
    percussive: &Spectrogram,
    config: &InferConfig,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<ModelActivations> {
    let n = non_percussive.n_frames;
    let _span = tracing::info_span!("model_infer", frames = n, id = %model.manifest.id).entered();
    config.validate()?;
    check_input("non-percussive", non_percussive)?;
    check_input("percussive", percussive)?;
    if percussive.n_frames != n {
        return Err(Error::InvalidInput(format!(
            "stem spectrograms differ in length: {n} vs {} frames",
            percussive.n_frames
        )));
    }
    if n == 0 {
        let empty = Activation::new(Vec::new(), FPS);
        return Ok(ModelActivations {
            anchor: empty.clone(),
            postve: empty.clone(),
            downbeat: model.network.has_downbeat_head().then(|| empty.clone()),
            combined: empty,
        });
    }
    let halo = model.config().half_receptive_field_frames();
    let windows = plan(n, config.chunk_frames, halo);
    let mut anchor = vec![0f32; n];
    let mut postve = vec![0f32; n];
    let mut combined = vec![0f32; n];
    let mut downbeat = model.network.has_downbeat_head().then(|| vec![0f32; n]);
    // Inference mode whatever the model was left in: no autodiff graph, no dropout.
    let device = &model.device.clone().without_autodiff();
    let network = model.network.valid();
    let mut done = 0;

    for batch in windows.chunks(config.chunks_per_batch) {
        // Pad a short last batch with copies of its last window (fixed shapes for GPUs).
        let padded = if windows.len() > 1 {
            config.chunks_per_batch
        } else {
            1
        };
        let len = batch[0].len;
        let mut xa = Vec::with_capacity(padded * N_BINS * len);
        let mut xp = Vec::with_capacity(padded * N_BINS * len);
        for i in 0..padded {
            let w = batch[i.min(batch.len() - 1)];
            extend_window(&mut xa, non_percussive, w.start, w.len);
            extend_window(&mut xp, percussive, w.start, w.len);
        }
        let shape = [padded, 1, N_BINS, len];
        let ta = Tensor::<4>::from_data(TensorData::new(xa, shape), device);
        let tp = Tensor::<4>::from_data(TensorData::new(xp, shape), device);
        let out = network.forward(ta, tp);
        let read = |t: Tensor<2>| {
            t.try_to_vec_as::<f32>()
                .map_err(|e| Error::Model(format!("cannot read the network's output: {e:?}")))
        };
        let (a, p, c) = (read(out.anchor)?, read(out.postve)?, read(out.combined)?);
        let d = out.downbeat.map(read).transpose()?;
        for (i, w) in batch.iter().enumerate() {
            let (k0, k1) = w.keep;
            let src = i * len + k0..i * len + k1;
            let dst = w.start + k0..w.start + k1;
            anchor[dst.clone()].copy_from_slice(&a[src.clone()]);
            postve[dst.clone()].copy_from_slice(&p[src.clone()]);
            if let (Some(all), Some(d)) = (downbeat.as_mut(), d.as_ref()) {
                all[dst.clone()].copy_from_slice(&d[src.clone()]);
            }
            combined[dst].copy_from_slice(&c[src]);
            done += k1 - k0;
        }
        if !progress(done, n) {
            return Err(Error::Cancelled);
        }
    }
    Ok(ModelActivations {
        anchor: Activation::new(anchor, FPS),
        postve: Activation::new(postve, FPS),
        combined: Activation::new(combined, FPS),
        downbeat: downbeat.map(|d| Activation::new(d, FPS)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_every_frame_once_with_full_halos() {
        for (n, chunk, halo) in [
            (10_000, 2048, 128),
            (5000, 100, 68),
            (300, 100, 68),
            (257, 1, 128),
        ] {
            let windows = plan(n, chunk, halo);
            let mut covered = vec![0u8; n];
            for w in &windows {
                assert!(w.start + w.len <= n);
                let (k0, k1) = w.keep;
                // Halo on each side unless the window edge is the song edge.
                assert!(w.start == 0 || k0 >= halo, "{w:?}");
                assert!(w.start + w.len == n || w.len - k1 >= halo, "{w:?}");
                for c in &mut covered[w.start + k0..w.start + k1] {
                    *c += 1;
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "n={n} chunk={chunk}");
            if windows.len() > 1 {
                assert!(windows.iter().all(|w| w.len == chunk + 2 * halo));
            }
        }
    }
}
