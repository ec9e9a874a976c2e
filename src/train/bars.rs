//! Training the bar classifier ([`crate::model::bars`]) on songs with exact bar lines (the
//! renders of `scripts/render_corpus.py`, or any beat file that numbers the beats in the bar).
//!
//! Examples are beats: the input is the song's beat-synchronous features with context
//! ([`crate::model::bars::song_inputs`]), the label whether the beat is a downbeat. Each song
//! gives its exact beats and [`BarsTrainConfig::jitter_copies`] copies with every beat moved
//! by up to ±[`BarsTrainConfig::jitter_s`] (decoded beats are never exact). Adam on the
//! binary cross-entropy, shuffled minibatches; the epoch with the lowest loss on the held-out
//! songs is kept.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::base::{LabelledSong, scalar};
use super::corpus::mix;
use crate::model::bars::{BarModel, BarNet, BarNetConfig, input_tensor, song_inputs};
use crate::pipeline::CancelToken;
use crate::{Error, Result};

/// Settings of [`train_bars`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BarsTrainConfig {
    /// Architecture.
    pub net: BarNetConfig,
    /// Passes over the training beats (default 30).
    pub epochs: usize,
    /// Beats per Adam step (default 256).
    pub batch_size: usize,
    /// Adam learning rate (default 1e-3, Adam's usual).
    pub learning_rate: f64,
    /// Largest shift of a beat in the jittered copies, s (default 0.02: the spread of the
    /// shipped model's beats around exact ones on steady songs, README's timing table).
    pub jitter_s: f64,
    /// Jittered copies of every song besides its exact beats (default 1).
    pub jitter_copies: usize,
    /// Seed of the shuffles, jitter and initial weights.
    pub seed: u64,
}

impl Default for BarsTrainConfig {
    fn default() -> Self {
        Self {
            net: BarNetConfig::default(),
            epochs: 30,
            batch_size: 256,
            learning_rate: 1e-3,
            jitter_s: 0.02,
            jitter_copies: 1,
            seed: 0,
        }
    }
}

impl BarsTrainConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::Config(
                "bar training: epochs and batch_size must be at least 1".into(),
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::Config(format!(
                "bar training: learning_rate must be > 0 (got {})",
                self.learning_rate
            )));
        }
        if !(self.jitter_s.is_finite() && (0.0..=0.1).contains(&self.jitter_s)) {
            return Err(Error::Config(format!(
                "bar training: jitter_s must be in [0, 0.1] (got {})",
                self.jitter_s
            )));
        }
        Ok(())
    }
}

/// Beats as examples: one input row and one label (1 = downbeat) each.
#[derive(Debug, Clone, Default)]
pub struct BarExamples {
    /// Inputs, [`BarNetConfig::n_inputs`] values each.
    pub rows: Vec<Vec<f32>>,
    /// Labels.
    pub labels: Vec<f32>,
}

impl BarExamples {
    /// Appends another set.
    pub fn extend(&mut self, other: BarExamples) {
        self.rows.extend(other.rows);
        self.labels.extend(other.labels);
    }

    /// Number of beats.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// No beats.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// The examples of one song (empty when it has no downbeats or fewer than 8 beats). A beat
/// is a downbeat when a downbeat lies within 1 ms of it.
pub fn bar_examples(song: &LabelledSong, config: &BarsTrainConfig) -> Result<BarExamples> {
    let beats = &song.beats_s;
    if song.downbeats_s.is_empty() || beats.len() < 8 {
        return Ok(BarExamples::default());
    }
    let labels: Vec<f32> = beats
        .iter()
        .map(|t| {
            let i = song.downbeats_s.partition_point(|d| *d < t - 1e-3);
            f32::from(
                song.downbeats_s
                    .get(i)
                    .is_some_and(|d| (d - t).abs() <= 1e-3),
            )
        })
        .collect();
    let mut out = BarExamples::default();
    let mut z = config.seed ^ super::corpus::fnv1a(song.name.as_bytes());
    for copy in 0..=config.jitter_copies {
        let mut times = beats.clone();
        if copy > 0 {
            for t in &mut times {
                z = mix(z);
                let u = (z >> 11) as f64 / (1u64 << 53) as f64;
                *t = (*t + (2.0 * u - 1.0) * config.jitter_s).max(0.0);
            }
            times.sort_by(f64::total_cmp);
        }
        let rows = song_inputs(&song.percussive, &song.non_percussive, &times, &config.net)?;
        out.rows.extend(rows);
        out.labels.extend_from_slice(&labels);
    }
    Ok(out)
}

/// One epoch's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BarsEpoch {
    /// 1-based.
    pub epoch: usize,
    /// Mean cross-entropy over the training beats.
    pub train_loss: f64,
    /// Mean cross-entropy over the held-out beats (NaN without any).
    pub valid_loss: f64,
    /// Fraction of held-out beats classified right at p = 0.5 (NaN without any).
    pub valid_accuracy: f64,
}

/// The result of [`train_bars`].
#[derive(Debug, Clone)]
pub struct BarsOutcome {
    /// The classifier of the best epoch (lowest held-out loss; the last without held-out
    /// beats).
    pub model: BarModel,
    /// Every epoch.
    pub history: Vec<BarsEpoch>,
    /// The epoch kept.
    pub best_epoch: usize,
    /// Training was cancelled (the best epoch so far is kept).
    pub cancelled: bool,
}

/// Mean binary cross-entropy of logits `z` against labels `y`.
fn bce_with_logits(z: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    let pos = log_sigmoid(z.clone());
    let neg = log_sigmoid(z.neg());
    let one = y.ones_like();
    (y.clone() * pos + (one - y) * neg).neg().mean()
}

fn labels_tensor(labels: &[f32], device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(labels.to_vec(), [labels.len(), 1]), device)
}

/// Loss and accuracy of `net` on `set` (NaN for an empty set).
fn evaluate(
    net: &BarNet,
    set: &BarExamples,
    n_inputs: usize,
    device: &Device,
) -> Result<(f64, f64)> {
    if set.is_empty() {
        return Ok((f64::NAN, f64::NAN));
    }
    let (mut loss, mut right) = (0.0f64, 0usize);
    for start in (0..set.len()).step_by(4096) {
        let end = (start + 4096).min(set.len());
        let x = input_tensor(&set.rows[start..end], n_inputs, device)?;
        let z = net.forward(x);
        let y = labels_tensor(&set.labels[start..end], device);
        loss += f64::from(scalar(bce_with_logits(z.clone(), y))) * (end - start) as f64;
        let zs = z
            .try_to_vec_as::<f32>()
            .map_err(|e| Error::Model(format!("cannot read the bar classifier's output: {e:?}")))?;
        right += zs
            .iter()
            .zip(&set.labels[start..end])
            .filter(|(z, y)| (**z > 0.0) == (**y > 0.5))
            .count();
    }
    Ok((loss / set.len() as f64, right as f64 / set.len() as f64))
}

/// Trains a bar classifier on `train`, keeping the epoch that does best on `valid` (module
/// docs). `progress` gets every epoch; `cancel` stops after the current minibatch.
pub fn train_bars(
    train: &BarExamples,
    valid: &BarExamples,
    config: &BarsTrainConfig,
    device: &Device,
    progress: &mut dyn FnMut(&BarsEpoch),
    cancel: &CancelToken,
) -> Result<BarsOutcome> {
    config.validate()?;
    if train.is_empty() {
        return Err(Error::InvalidInput(
            "bar training: no song with bar lines (beat files must number the beats in the bar)"
                .into(),
        ));
    }
    let n_inputs = config.net.n_inputs();
    let plain = device.clone().without_autodiff();
    let ad = device.clone().autodiff();
    ad.seed(config.seed);
    let mut net = config.net.init(&ad);
    let mut optim = AdamConfig::new().init();
    let mut history = Vec::new();
    let mut best: Option<(BarNet, f64, usize)> = None;
    let mut cancelled = false;
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut z = mix(config.seed ^ 0x5EED_BA25);
    for epoch in 1..=config.epochs {
        for i in (1..order.len()).rev() {
            z = mix(z);
            order.swap(i, (z % (i as u64 + 1)) as usize);
        }
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        for batch in order.chunks(config.batch_size) {
            let rows: Vec<Vec<f32>> = batch.iter().map(|&i| train.rows[i].clone()).collect();
            let labels: Vec<f32> = batch.iter().map(|&i| train.labels[i]).collect();
            let x = input_tensor(&rows, n_inputs, &ad)?;
            let y = labels_tensor(&labels, &ad);
            let loss = bce_with_logits(net.forward(x), y);
            let value = scalar(loss.clone());
            if !value.is_finite() {
                return Err(Error::InvalidInput(format!(
                    "bar training: loss became {value} at epoch {epoch} (lower the learning rate)"
                )));
            }
            loss_sum += f64::from(value) * batch.len() as f64;
            seen += batch.len();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(config.learning_rate, net, grads);
            if cancel.is_cancelled() {
                cancelled = true;
                break;
            }
        }
        let frozen = net.valid().to_device(&plain);
        let (valid_loss, valid_accuracy) = evaluate(&frozen, valid, n_inputs, &plain)?;
        let e = BarsEpoch {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            valid_loss,
            valid_accuracy,
        };
        progress(&e);
        history.push(e);
        let score = if valid_loss.is_nan() {
            -(epoch as f64)
        } else {
            valid_loss
        };
        if best.as_ref().is_none_or(|(_, s, _)| score < *s) {
            best = Some((frozen, score, epoch));
        }
        if cancelled {
            break;
        }
    }
    let Some((net, _, best_epoch)) = best else {
        return Err(Error::Cancelled);
    };
    Ok(BarsOutcome {
        model: BarModel {
            net,
            config: config.net.clone(),
            notes: None,
        },
        history,
        best_epoch,
        cancelled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answer: a separable toy problem (the label is the sign of the first input) is
    /// learnt, and the held-out accuracy says so.
    #[test]
    fn learns_a_separable_rule() {
        let cfg = BarsTrainConfig {
            net: BarNetConfig {
                context_beats: 0,
                hidden: 8,
            },
            epochs: 20,
            batch_size: 32,
            learning_rate: 1e-2,
            ..BarsTrainConfig::default()
        };
        let n = cfg.net.n_inputs();
        let make = |count: usize, seed: u64| {
            let mut z = seed;
            let mut set = BarExamples::default();
            for _ in 0..count {
                let row: Vec<f32> = (0..n)
                    .map(|_| {
                        z = mix(z);
                        ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                    })
                    .collect();
                set.labels.push(f32::from(row[0] > 0.0));
                set.rows.push(row);
            }
            set
        };
        let (train, valid) = (make(800, 1), make(200, 2));
        let device = Device::flex();
        let mut epochs = 0;
        let out = train_bars(
            &train,
            &valid,
            &cfg,
            &device,
            &mut |_| epochs += 1,
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(epochs, 20);
        let best = &out.history[out.best_epoch - 1];
        assert!(best.valid_accuracy > 0.9, "{:?}", out.history);
        let p = out.model.probabilities_of(&valid.rows, &device).unwrap();
        let right = p
            .iter()
            .zip(&valid.labels)
            .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
            .count();
        assert!(right as f64 / 200.0 > 0.9);
        assert!(
            train_bars(
                &BarExamples::default(),
                &valid,
                &cfg,
                &device,
                &mut |_| {},
                &CancelToken::new()
            )
            .is_err()
        );
    }
}
