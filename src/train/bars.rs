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
use crate::features::Spectrogram;
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

/// One song's beats and bars, borrowed: the renders' [`LabelledSong`] and the user's
/// [`super::AnnotatedSong`] both give one.
#[derive(Debug, Clone, Copy)]
pub struct BarSong<'a> {
    /// A name for reports.
    pub name: &'a str,
    /// Log-VQT of the percussive stem.
    pub percussive: &'a Spectrogram,
    /// Log-VQT of the non-percussive stem.
    pub non_percussive: &'a Spectrogram,
    /// Beat times, increasing.
    pub beats_s: &'a [f64],
    /// Downbeat times, increasing (each one a beat).
    pub downbeats_s: &'a [f64],
}

impl<'a> From<&'a LabelledSong> for BarSong<'a> {
    fn from(s: &'a LabelledSong) -> Self {
        Self {
            name: &s.name,
            percussive: &s.percussive,
            non_percussive: &s.non_percussive,
            beats_s: &s.beats_s,
            downbeats_s: &s.downbeats_s,
        }
    }
}

/// 1 for a beat with a downbeat within 1 ms of it, else 0.
fn downbeat_labels(beats_s: &[f64], downbeats_s: &[f64]) -> Vec<f32> {
    beats_s
        .iter()
        .map(|t| {
            let i = downbeats_s.partition_point(|d| *d < t - 1e-3);
            f32::from(downbeats_s.get(i).is_some_and(|d| (d - t).abs() <= 1e-3))
        })
        .collect()
}

/// The beats of `song` moved by up to ±`jitter_s` each (copy `copy` of the seed's draws).
fn jittered(song: &BarSong, config: &BarsTrainConfig, copy: usize) -> Vec<f64> {
    let mut z = config.seed ^ super::corpus::fnv1a(song.name.as_bytes()) ^ (copy as u64 - 1);
    let mut times = song.beats_s.to_vec();
    for t in &mut times {
        z = mix(z);
        let u = (z >> 11) as f64 / (1u64 << 53) as f64;
        *t = (*t + (2.0 * u - 1.0) * config.jitter_s).max(0.0);
    }
    times.sort_by(f64::total_cmp);
    times
}

/// The examples of one song (empty when it has no downbeats or fewer than 8 beats). A beat
/// is a downbeat when a downbeat lies within 1 ms of it.
pub fn bar_examples(song: &LabelledSong, config: &BarsTrainConfig) -> Result<BarExamples> {
    song_examples(&BarSong::from(song), config)
}

/// [`bar_examples`] of a borrowed song: its exact beats and
/// [`BarsTrainConfig::jitter_copies`] jittered copies.
pub fn song_examples(song: &BarSong, config: &BarsTrainConfig) -> Result<BarExamples> {
    if song.downbeats_s.is_empty() || song.beats_s.len() < 8 {
        return Ok(BarExamples::default());
    }
    let labels = downbeat_labels(song.beats_s, song.downbeats_s);
    let mut out = BarExamples::default();
    for copy in 0..=config.jitter_copies {
        let times = if copy == 0 {
            song.beats_s.to_vec()
        } else {
            jittered(song, config, copy)
        };
        let rows = song_inputs(song.percussive, song.non_percussive, &times, &config.net)?;
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
    /// The starting classifier's held-out figures (epoch 0, no training loss), when training
    /// started from one ([`train_bars_from`]) and beats were held out.
    pub start: Option<BarsEpoch>,
    /// The epoch kept (0: the starting classifier).
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
    train_bars_from(None, train, valid, config, device, progress, cancel)
}

/// [`train_bars`] starting from `init`'s weights (its architecture then overrides
/// `config.net`) instead of random ones. With held-out beats, `init` itself is scored first
/// as epoch 0 and is kept ([`BarsOutcome::best_epoch`] 0) when no epoch does better.
pub fn train_bars_from(
    init: Option<&BarModel>,
    train: &BarExamples,
    valid: &BarExamples,
    config: &BarsTrainConfig,
    device: &Device,
    progress: &mut dyn FnMut(&BarsEpoch),
    cancel: &CancelToken,
) -> Result<BarsOutcome> {
    let config = &match init {
        Some(m) => BarsTrainConfig {
            net: m.config.clone(),
            ..config.clone()
        },
        None => config.clone(),
    };
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
    let mut net = match init {
        Some(m) => m.net.clone().fork(&ad).train(),
        None => config.net.init(&ad),
    };
    let mut optim = AdamConfig::new().init();
    let mut history = Vec::new();
    let mut best: Option<(BarNet, f64, usize)> = None;
    let mut start = None;
    if let Some(m) = init
        && !valid.is_empty()
    {
        let frozen = m.net.clone().to_device(&plain);
        let (valid_loss, valid_accuracy) = evaluate(&frozen, valid, n_inputs, &plain)?;
        start = Some(BarsEpoch {
            epoch: 0,
            train_loss: f64::NAN,
            valid_loss,
            valid_accuracy,
        });
        best = Some((frozen, valid_loss, 0));
    }
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
            let rows: Vec<&Vec<f32>> = batch.iter().map(|&i| &train.rows[i]).collect();
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
        start,
        best_epoch,
        cancelled,
    })
}

/// Settings of [`finetune_bars`]: the classifier learning the bars the user set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BarsFinetuneConfig {
    /// Passes over the user's beats (default 60: a 30-s song gives about 60 beats, a few
    /// minibatches per pass).
    pub epochs: usize,
    /// Adam learning rate (default 3e-3: three times the base training's, since a song gives
    /// only a few dozen steps; the held-out tail decides whether the parent is kept).
    pub learning_rate: f64,
    /// Beats per Adam step (default 32).
    pub batch_size: usize,
    /// The last fraction of each song's numbered beats is held out to choose the epoch
    /// (default 0.25; the parent itself is epoch 0).
    pub holdout_fraction: f64,
    /// Below this many held-out beats in all, nothing is held out and every epoch is run
    /// (default 12: three 4/4 bars).
    pub min_holdout_beats: usize,
}

impl Default for BarsFinetuneConfig {
    fn default() -> Self {
        Self {
            epochs: 60,
            learning_rate: 3e-3,
            batch_size: 32,
            holdout_fraction: 0.25,
            min_holdout_beats: 12,
        }
    }
}

/// What [`finetune_bars`] did, for reports and the model's provenance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BarsFinetuneReport {
    /// Songs whose bars were learned (numbered, at least 8 beats and a downbeat).
    pub songs: usize,
    /// Beats trained on (exact times; a jittered copy of each is trained on too).
    pub train_beats: usize,
    /// Beats held out (0: unvalidated).
    pub held_out_beats: usize,
    /// The parent's held-out accuracy (share of held-out beats it classed right).
    pub accuracy_before: Option<f64>,
    /// The kept classifier's held-out accuracy.
    pub accuracy_after: Option<f64>,
    /// The epoch kept (0: the parent was kept, nothing did better on the held-out beats).
    pub best_epoch: usize,
}

/// Fine-tunes `parent` on the bars of `songs` (usually the user's numbered beats): the last
/// [`BarsFinetuneConfig::holdout_fraction`] of each song's beats is held out, the rest (with
/// one ±20 ms-jittered copy, as in base training) trained on from the parent's weights, and
/// the epoch with the lowest held-out loss is kept, the parent included. `Ok(None)` when no
/// song has at least 8 beats and a downbeat.
pub fn finetune_bars(
    parent: &BarModel,
    songs: &[BarSong],
    config: &BarsFinetuneConfig,
    device: &Device,
    cancel: &CancelToken,
) -> Result<Option<(BarModel, BarsFinetuneReport)>> {
    if !(config.learning_rate.is_finite() && config.learning_rate > 0.0)
        || config.epochs == 0
        || config.batch_size == 0
        || !(0.0..0.9).contains(&config.holdout_fraction)
    {
        return Err(Error::Config(format!(
            "bar fine-tuning: epochs and batch_size must be ≥ 1, learning_rate > 0 and \
             holdout_fraction in [0, 0.9) (got {config:?})"
        )));
    }
    let train_config = BarsTrainConfig {
        net: parent.config.clone(),
        epochs: config.epochs,
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        ..BarsTrainConfig::default()
    };
    let usable: Vec<&BarSong> = songs
        .iter()
        .filter(|s| !s.downbeats_s.is_empty() && s.beats_s.len() >= 8)
        .collect();
    if usable.is_empty() {
        return Ok(None);
    }
    // Split each song by time: the tail is held out (its rows keep the context of the
    // whole song's beats, as at inference).
    let (mut train, mut valid) = (BarExamples::default(), BarExamples::default());
    let mut cuts = Vec::with_capacity(usable.len());
    for s in &usable {
        let n = s.beats_s.len();
        let cut = n - ((n as f64 * config.holdout_fraction).round() as usize).min(n);
        cuts.push(cut);
        let labels = downbeat_labels(s.beats_s, s.downbeats_s);
        let rows = song_inputs(s.percussive, s.non_percussive, s.beats_s, &parent.config)?;
        let mut rows = rows.into_iter();
        train.rows.extend(rows.by_ref().take(cut));
        train.labels.extend_from_slice(&labels[..cut]);
        valid.rows.extend(rows);
        valid.labels.extend_from_slice(&labels[cut..]);
    }
    if valid.len() < config.min_holdout_beats {
        // Too little to hold out: train on everything, for every epoch.
        train.extend(std::mem::take(&mut valid));
        cuts = usable.iter().map(|s| s.beats_s.len()).collect();
    }
    let train_beats = train.len();
    for (s, cut) in usable.iter().zip(&cuts) {
        let times = jittered(s, &train_config, 1);
        let labels = downbeat_labels(s.beats_s, s.downbeats_s);
        let rows = song_inputs(s.percussive, s.non_percussive, &times, &parent.config)?;
        train.rows.extend(rows.into_iter().take(*cut));
        train.labels.extend_from_slice(&labels[..*cut]);
    }
    let out = train_bars_from(
        Some(parent),
        &train,
        &valid,
        &train_config,
        device,
        &mut |_| {},
        cancel,
    )?;
    let accuracy_after = if out.best_epoch == 0 {
        out.start.as_ref().map(|e| e.valid_accuracy)
    } else {
        out.history
            .get(out.best_epoch - 1)
            .map(|e| e.valid_accuracy)
            .filter(|a| a.is_finite())
    };
    let report = BarsFinetuneReport {
        songs: usable.len(),
        train_beats,
        held_out_beats: valid.len(),
        accuracy_before: out.start.as_ref().map(|e| e.valid_accuracy),
        accuracy_after,
        best_epoch: out.best_epoch,
    };
    if out.best_epoch == 0 {
        // Nothing did better on the held-out beats: the parent, unchanged.
        return Ok(Some((parent.clone(), report)));
    }
    let model = BarModel {
        notes: Some(match (report.accuracy_before, report.accuracy_after) {
            (Some(b), Some(a)) => format!(
                "fine-tuned on the bars of {} song(s), {} beats; held-out accuracy {b:.3} → {a:.3} \
                 ({} beats, epoch {})",
                report.songs, report.train_beats, report.held_out_beats, report.best_epoch
            ),
            _ => format!(
                "fine-tuned on the bars of {} song(s), {} beats (unvalidated: too few to hold out)",
                report.songs, report.train_beats
            ),
        }),
        ..out.model
    };
    Ok(Some((model, report)))
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

    /// A synthetic song at 62.5 fps: a click every 31 frames in the percussive stem, every
    /// 4th one (k % 4 == 0) louder in the low bins, and a steady tone in the other stem.
    fn accented_song(n_frames: usize) -> (Spectrogram, Spectrogram, Vec<f64>) {
        let (period, phase) = (31, 5);
        let spec = |f: &dyn Fn(usize, usize) -> f32| {
            let mut data = Vec::with_capacity(96 * n_frames);
            for bin in 0..96 {
                for t in 0..n_frames {
                    data.push(f(bin, t));
                }
            }
            Spectrogram {
                data,
                n_bins: 96,
                n_frames,
                fps: 62.5,
            }
        };
        let perc = spec(&|bin, t| {
            let k = t.saturating_sub(phase) / period;
            match (t % period == phase, k % 4 == 0 && bin < 40) {
                (true, true) => 2.0,
                (true, false) => 0.0,
                _ => -6.0,
            }
        });
        let non = spec(&|bin, _| if bin == 50 { -1.0 } else { -6.0 });
        let beats = (0..n_frames)
            .filter(|t| t % period == phase)
            .map(|t| t as f64 / 62.5)
            .collect();
        (perc, non, beats)
    }

    /// Issue 21: a parent that learnt the wrong bar phase (beat 3 as beat 1) is put right by
    /// the bars the user numbered: the held-out tail says so, and on the whole song the
    /// accented beats get the higher downbeat probability. A song without downbeats teaches
    /// nothing, and bad settings are refused.
    #[test]
    fn the_users_bars_put_a_wrong_classifier_right() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        let (perc, non, beats) = accented_song(4000);
        let down = |r: usize| -> Vec<f64> {
            beats
                .iter()
                .enumerate()
                .filter(|(k, _)| k % 4 == r)
                .map(|(_, t)| *t)
                .collect()
        };
        let (right, wrong) = (down(0), down(2));
        let base = BarSong {
            name: "accents",
            percussive: &perc,
            non_percussive: &non,
            beats_s: &beats,
            downbeats_s: &[],
        };
        let song = |downbeats_s| BarSong {
            downbeats_s,
            ..base
        };
        let (right, wrong) = (right.as_slice(), wrong.as_slice());
        let cfg = BarsTrainConfig {
            net: BarNetConfig {
                context_beats: 1,
                hidden: 8,
            },
            epochs: 8,
            batch_size: 16,
            learning_rate: 1e-2,
            ..BarsTrainConfig::default()
        };
        let examples = song_examples(&song(wrong), &cfg).unwrap();
        let parent = train_bars(
            &examples,
            &BarExamples::default(),
            &cfg,
            &device,
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap()
        .model;
        let mean_at = |m: &BarModel, r: usize| {
            let p = m
                .downbeat_probabilities(&perc, &non, &beats, &device)
                .unwrap();
            let v: Vec<f64> = p
                .iter()
                .enumerate()
                .filter(|(k, _)| k % 4 == r)
                .map(|(_, p)| *p)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        assert!(
            mean_at(&parent, 2) > mean_at(&parent, 0) + 0.5,
            "the parent is wrong"
        );

        let ft = BarsFinetuneConfig::default();
        let (model, report) =
            finetune_bars(&parent, &[song(right)], &ft, &device, &CancelToken::new())
                .unwrap()
                .unwrap();
        assert_eq!(report.songs, 1);
        assert!(report.held_out_beats >= 12, "{report:?}");
        assert!(report.accuracy_before.unwrap() <= 0.6, "{report:?}");
        assert!(report.accuracy_after.unwrap() >= 0.95, "{report:?}");
        assert!(report.best_epoch > 0);
        assert!(mean_at(&model, 0) > mean_at(&model, 2) + 0.5);
        assert!(
            model
                .notes
                .as_deref()
                .is_some_and(|n| n.contains("held-out accuracy"))
        );

        // The parent already right: it is not made worse on the held-out beats.
        let (_, again) = finetune_bars(&model, &[song(right)], &ft, &device, &CancelToken::new())
            .unwrap()
            .unwrap();
        assert!(again.accuracy_after.unwrap() >= again.accuracy_before.unwrap());

        // No downbeats: nothing to learn.
        assert!(
            finetune_bars(&parent, &[song(&[])], &ft, &device, &CancelToken::new())
                .unwrap()
                .is_none()
        );
        let bad = BarsFinetuneConfig {
            learning_rate: f64::NAN,
            ..ft
        };
        assert!(
            finetune_bars(&parent, &[song(right)], &bad, &device, &CancelToken::new()).is_err()
        );
    }
}
