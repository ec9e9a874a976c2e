//! The multi-task tempo head of base training ([`super::base`], issue 18): a classifier of each
//! crop's tempo on the time-averaged features of both branches, trained beside the beat head
//! from the renders' exact beats, so that the shared layers learn what tells 90 BPM with
//! eighth-note hi-hats from 180 BPM (Böck, Davies & Knees, "Multi-task learning of tempo and
//! beat", ISMIR 2019: global average pooling of the TCN features, one dense softmax layer over
//! integer BPM classes, targets spread over the neighbouring classes; it improved their beat
//! F-measure). The head only shapes training: it is not part of the saved network, whose beat
//! output is computed exactly as without it. A run keeps it (and its Adam state) in its
//! checkpoints, so a resumed run continues with the same head.

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bytes, Device, Tensor, TensorData};

use super::base::FPS;
use super::corpus::{mix, write_atomic};
use crate::{Error, Result};

/// Slowest tempo class, BPM.
pub(crate) const MIN_BPM: usize = 30;
/// Fastest tempo class, BPM (Böck et al.: 300 classes of 1 BPM).
pub(crate) const MAX_BPM: usize = 300;
/// Number of tempo classes (1 BPM each).
pub(crate) const N_CLASSES: usize = MAX_BPM - MIN_BPM + 1;
/// Weights of the classes 0, ±1 and ±2 BPM from the crop's tempo before normalising (Böck et
/// al. widen the target over the neighbouring classes the same way).
const SPREAD: [f32; 3] = [1.0, 0.5, 0.25];
/// The head's weights in a checkpoint directory.
pub(crate) const HEAD_FILE: &str = "tempo_head.bpk";
/// The head's Adam state in a checkpoint directory.
pub(crate) const HEAD_OPTIM_FILE: &str = "tempo_optim.bpk";

/// Dense softmax classifier over [`N_CLASSES`] tempo classes on the concatenated
/// time-averaged features of both branches.
#[derive(Module, Debug)]
pub struct TempoHead {
    /// `2C → N_CLASSES` logits.
    pub dense: Linear,
}

impl TempoHead {
    /// A fresh head for branches of `channels` features each: weights uniform in
    /// ±1/√(2C) (burn's and PyTorch's default for a dense layer) drawn from `seed` alone, so
    /// that a run's head does not depend on burn's global RNG (which tests running beside it
    /// share); biases zero.
    pub fn new(channels: usize, seed: u64, device: &Device) -> Self {
        let fan_in = 2 * channels;
        let mut dense = LinearConfig::new(fan_in, N_CLASSES).init(device);
        let bound = 1.0 / (fan_in as f64).sqrt();
        let weights: Vec<f32> = (0..fan_in * N_CLASSES)
            .map(|i| {
                let u = (mix(seed ^ mix(i as u64)) >> 11) as f64 / (1u64 << 53) as f64;
                ((2.0 * u - 1.0) * bound) as f32
            })
            .collect();
        dense.weight = Param::from_tensor(Tensor::<2>::from_data(
            TensorData::new(weights, [fan_in, N_CLASSES]),
            device,
        ));
        dense.bias = Some(Param::from_tensor(Tensor::<1>::zeros([N_CLASSES], device)));
        Self { dense }
    }

    /// Logits `[B, N_CLASSES]` from the branches' features `[B, C, T]`.
    pub fn forward(&self, anchor: Tensor<3>, postve: Tensor<3>) -> Tensor<2> {
        let pooled = Tensor::cat(vec![anchor.mean_dim(2), postve.mean_dim(2)], 1);
        let [b, c, _] = pooled.dims();
        self.dense.forward(pooled.reshape([b, c]))
    }

    /// Writes the head's weights to `path`.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &crate::model::record_bytes(self, path)?)
    }

    /// Reads a head saved by [`TempoHead::save`] for branches of `channels` features.
    pub(crate) fn load(path: &Path, channels: usize, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let record =
            burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| {
                Error::InvalidInput(format!("{}: not a tempo head: {e}", path.display()))
            })?;
        Self::new(channels, 0, device)
            .try_load_record(record.cast_to_module_dtype())
            .map_err(|e| {
                Error::InvalidInput(format!(
                    "{}: the tempo head does not fit: {e}",
                    path.display()
                ))
            })
    }
}

/// The tempo of the beats inside the crop of `n` frames from frame `start`: 60 over the median
/// interval between consecutive beats there, when at least three beats fall inside and the
/// tempo is a class.
pub(crate) fn crop_tempo_bpm(beats_s: &[f64], start: isize, n: usize) -> Option<f64> {
    let (t0, t1) = (start as f64 / FPS, (start + n as isize) as f64 / FPS);
    let inside: Vec<f64> = beats_s
        .iter()
        .copied()
        .filter(|&t| t >= t0 && t < t1)
        .collect();
    if inside.len() < 3 {
        return None;
    }
    let mut intervals: Vec<f64> = inside.windows(2).map(|w| w[1] - w[0]).collect();
    intervals.sort_by(f64::total_cmp);
    let median = intervals[intervals.len() / 2];
    let bpm = 60.0 / median;
    (median > 0.0 && (MIN_BPM as f64 - 0.5..MAX_BPM as f64 + 0.5).contains(&bpm)).then_some(bpm)
}

/// The target distribution over the classes for a tempo of `bpm` ([`SPREAD`], summing to 1).
pub(crate) fn tempo_target(bpm: f64) -> Vec<f32> {
    let mut y = vec![0f32; N_CLASSES];
    let centre = bpm.round() as isize - MIN_BPM as isize;
    for (d, w) in SPREAD.iter().enumerate() {
        for k in [centre - d as isize, centre + d as isize] {
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| y.get_mut(k)) {
                *slot = *w;
            }
        }
    }
    let total: f32 = y.iter().sum();
    y.iter_mut().for_each(|v| *v /= total.max(f32::EPSILON));
    y
}

/// Cross-entropy of `logits` `[B, N_CLASSES]` against the row-major `targets`, averaged over
/// the crops whose `has_target` is 1 (0 when none has one).
pub(crate) fn tempo_loss(
    logits: Tensor<2>,
    targets: &[f32],
    has_target: &[f32],
    device: &Device,
) -> Tensor<1> {
    let [b, k] = logits.dims();
    let y = Tensor::<2>::from_data(TensorData::new(targets.to_vec(), [b, k]), device);
    let m = Tensor::<2>::from_data(TensorData::new(has_target.to_vec(), [b, 1]), device);
    let per_crop = (y * log_softmax(logits, 1)).sum_dim(1).neg();
    let denom = has_target.iter().sum::<f32>().max(1.0);
    (per_crop * m).sum() / denom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crop_tempo_is_the_median_interval_inside_it() {
        // Beats every 0.5 s (120 BPM) with one missing: the median ignores the gap.
        let beats: Vec<f64> = (0..40)
            .filter(|&k| k != 12)
            .map(|k| 0.5 * k as f64)
            .collect();
        let bpm = crop_tempo_bpm(&beats, 250, 1000).expect("a tempo");
        assert!((bpm - 120.0).abs() < 1e-9, "{bpm}");
        // Fewer than three beats inside: no target.
        assert_eq!(crop_tempo_bpm(&[1.0, 1.5], 0, 1000), None);
        // Slower than the slowest class: none either.
        assert_eq!(crop_tempo_bpm(&[0.0, 3.0, 6.0, 9.0], 0, 1000), None);
    }

    #[test]
    fn targets_spread_over_neighbours_and_sum_to_one() {
        let y = tempo_target(120.4);
        let c = 120 - MIN_BPM;
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(y[c] > y[c + 1] && y[c + 1] > y[c + 2] && y[c + 3] == 0.0);
        assert_eq!(y[c - 1], y[c + 1]);
        // At the edge the spread is cut and renormalised.
        let edge = tempo_target(MIN_BPM as f64);
        assert!((edge.iter().sum::<f32>() - 1.0).abs() < 1e-6 && edge[0] > 0.5);
    }

    #[test]
    fn the_loss_is_lowest_on_the_right_class_and_skips_crops_without_a_target() {
        let device = Device::flex();
        let y = [tempo_target(100.0), vec![0.0; N_CLASSES]].concat();
        let mut right = vec![0f32; 2 * N_CLASSES];
        right[100 - MIN_BPM] = 10.0;
        let mut wrong = vec![0f32; 2 * N_CLASSES];
        wrong[200 - MIN_BPM] = 10.0;
        let loss = |z: Vec<f32>| {
            let z = Tensor::<2>::from_data(TensorData::new(z, [2, N_CLASSES]), &device);
            super::super::base::scalar(tempo_loss(z, &y, &[1.0, 0.0], &device))
        };
        let (r, w) = (loss(right.clone()), loss(wrong));
        assert!(r < w, "{r} vs {w}");
        // The second crop has no target: its logits do not matter.
        let mut other = right;
        other[N_CLASSES + 5] = 50.0;
        assert!((loss(other) - r).abs() < 1e-5);
    }

    #[test]
    fn a_head_saves_and_loads() {
        let device = Device::flex();
        let dir = tempfile::tempdir().expect("tempdir");
        let head = TempoHead::new(4, 7, &device);
        // The same seed gives the same head, whatever else draws random numbers.
        let again = TempoHead::new(4, 7, &device);
        assert_eq!(
            head.dense.weight.val().into_data(),
            again.dense.weight.val().into_data()
        );
        let path = dir.path().join(HEAD_FILE);
        head.save(&path).expect("save");
        let back = TempoHead::load(&path, 4, &device).expect("load");
        let x = Tensor::<3>::ones([1, 4, 7], &device);
        let (a, b) = (
            head.forward(x.clone(), x.clone()).into_data(),
            back.forward(x.clone(), x).into_data(),
        );
        assert_eq!(a, b);
        assert!(TempoHead::load(&path, 5, &device).is_err());
    }
}
