//! The sync-pred pretext task (spec §3) and its resumable training loop.
//!
//! Per optimiser step: one 10 s clip; 16 distinct crop offsets drawn uniformly in
//! `0..=clip_frames − crop_frames` (0…313 frames); 313-frame crops at the same offsets from
//! both stems; anchor `aᵢ` = non-percussive branch output at offset i, positive `pᵢ` =
//! percussive branch output at the same offset, negatives = percussive outputs at the other 15
//! offsets; one-directional NT-Xent with T = 0.25:
//! `L = mean_i −log(exp(sᵢᵢ/T) / Σⱼ exp(sᵢⱼ/T))`.
//!
//! **The cosine, and the stuck start.** The authors take the cosine of the raw sigmoid
//! curves. At a default initialisation every output is ≈ 0.5, every raw cosine ≈ 1 and the
//! loss sits at ln 16 with a vanishing gradient (burn-notes). Two ways out, both kept as
//! [`CosineKind`]:
//! - `Raw` (default, the paper's loss) with the output heads' bias initialised to −4, so a
//!   fresh network outputs ≈ 0.02 with fluctuations that dominate the cosine: the loss moves
//!   from the first steps, and since the curves are non-negative, negatives can only be made
//!   dissimilar by sparse, non-overlapping peaks — beat-like curves.
//! - `Centred`: subtract each curve's mean before the cosine (a Pearson correlation). It never
//!   starts stuck, but it is symmetric under flipping both curves upside down, and our first
//!   run on the Debian corpus duly learned sharp *dips* at onsets over a ≈ 0.6 baseline
//!   (validation: centred cosine 0.82 vs 0.00, raw 0.99 vs 0.94), useless to the DBN.
//!
//! Validation always reports both the centred and the raw cosines (raw is comparable with
//! the paper's 0.80 vs 0.05); the loss uses the run's own kind.
//!
//! Determinism: every random draw is a pure function of `(seed, epoch)` (clip order) or
//! `(seed, global step)` (crop offsets, and the backend seed for dropout, set before each
//! step), so a run resumed from a checkpoint (weights + Adam state + counters) continues
//! exactly as the uninterrupted run on CPU.
//!
//! Run directory layout: `last/` (the latest checkpoint: `MODEL.json` + `model.bpk` via
//! [`crate::model::save_model`], `optim.bpk` = Adam state, `state.json` = [`TrainState`]), `best/` (the
//! best-by-validation model and its state), `metrics.json` (the history, rewritten at each
//! checkpoint).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, OPTIM_FILE, STATE_FILE};
use super::corpus::{ClipPair, ClipRef, Corpus, mix, write_atomic};
use crate::model::{LoadedModel, ModelConfig, Provenance, ZeroNs, load_model_on};
use crate::pipeline::CancelToken;
use crate::{Error, Result};

/// Settings of a sync-pred run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TrainConfig {
    /// Network (default: lite).
    pub model: ModelConfig,
    /// Adam learning rate. Paper: 1e-6 for the 13.4 M-parameter branch, whose loss moves
    /// only over tens of thousands of steps; the lite branch has 78× fewer parameters and we
    /// get at most a few thousand steps per CPU session, so ours is 1e-3 (Adam's usual
    /// default for small convnets). Checked: the tiny-model test drops the fixed-clip loss
    /// within 12 steps at 3e-3; a measurement on real clips is still to be reported.
    pub learning_rate: f64,
    /// Passes over the training clips (paper: best of 35).
    pub epochs: usize,
    /// Seed of initialisation, clip order, crop offsets and dropout.
    pub seed: u64,
    /// Crops per clip = batch size (paper: 16).
    pub crops_per_clip: usize,
    /// Frames per crop (paper: 313 ≈ 5 s).
    pub crop_frames: usize,
    /// Largest shift between two crops of a clip, if set (paper: none, any of 0…313 frames).
    /// An experiment: whole-beat shifts make a periodic percussive curve look synchronised, so
    /// wide shifts might reward events unique in the clip over the pulse; shifts below a beat
    /// (e.g. 15 frames = 240 ms) ask only for precise timing. On our corpus it did not stop
    /// beat accuracy from falling with longer training (assets/MODEL_CARD.md).
    pub max_shift_frames: Option<usize>,
    /// NT-Xent temperature (paper: 0.25).
    pub temperature: f64,
    /// Which cosine the NT-Xent uses. Runs saved before this field existed were centred.
    #[serde(default = "legacy_cosine")]
    pub cosine: CosineKind,
    /// Pre-sigmoid bias the output heads start from when a new run starts on the raw cosine
    /// (no warm-up), and the median logit the heads are calibrated to at the switch from a
    /// warm-up or with `init_from`. −4: outputs ≈ 0.02, sparse from the first raw step.
    pub head_bias_init: Option<f32>,
    /// Steps trained with the `Centred` cosine before switching to `cosine` (when that is
    /// `Raw` and the run does not start `init_from` a trained model, whose heads are
    /// calibrated at once). At the switch the heads are re-calibrated as for `init_from` and Adam restarts.
    /// The centred loss learns the alignment from a fresh init at once but is blind to the
    /// curves' sign; the raw loss then makes them sparse peaks. 600 steps: what our first
    /// centred run needed to reach a validation centred cosine of 0.82 vs 0.00.
    #[serde(default = "legacy_warmup")]
    pub centred_warmup_steps: u64,
    /// Start a new run from this model's weights instead of a fresh init (a curriculum: e.g. a
    /// `Centred` run's features, continued with the `Raw` loss). The heads are re-calibrated
    /// first, label-free: each branch's output is flipped if its pre-sigmoid values are
    /// negatively skewed on held-out clips (dips rather than peaks), then shifted so that
    /// their median sits at `head_bias_init` (default −4).
    pub init_from: Option<PathBuf>,
    /// Checkpoint every this many steps (also at each epoch end and on cancel).
    pub checkpoint_every_steps: u64,
    /// Stop after this many optimiser steps in all (checkpointing first), if set.
    pub max_steps: Option<u64>,
    /// Also validate every this many steps (besides each epoch end), if set, and keep the
    /// best-by-validation model then too. On a 2-core CPU an epoch of the Debian corpus takes
    /// hours, longer than a working session, so the best model must not wait for its end.
    pub valid_every_steps: Option<u64>,
    /// Validate on at most this many held-out clips (evenly spread over the validation
    /// tracks; the same clips every time). 0 = all.
    pub valid_max_clips: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::lite(),
            learning_rate: 1e-3,
            epochs: 35,
            seed: 0,
            crops_per_clip: 16,
            crop_frames: 313,
            max_shift_frames: None,
            temperature: 0.25,
            cosine: CosineKind::Raw,
            head_bias_init: Some(-4.0),
            init_from: None,
            centred_warmup_steps: 600,
            checkpoint_every_steps: 200,
            max_steps: None,
            valid_every_steps: None,
            valid_max_clips: 0,
        }
    }
}

impl TrainConfig {
    /// The median logit [`calibrate_heads`] moves the heads to: `head_bias_init`, else −4.
    fn calibration_target(&self) -> f32 {
        self.head_bias_init.unwrap_or(-4.0)
    }

    /// Checks ranges against clips of `clip_frames` frames.
    pub fn validate(&self, clip_frames: usize) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("pretrain: {m}")));
        self.model.validate()?;
        if !(self.learning_rate > 0.0 && self.learning_rate < 1.0) {
            return bad(format!(
                "learning_rate must be in (0, 1), got {}",
                self.learning_rate
            ));
        }
        if self.crops_per_clip < 2 {
            return bad("crops_per_clip must be ≥ 2 (one positive, ≥ 1 negative)".into());
        }
        if self.crop_frames == 0 || self.crop_frames > clip_frames {
            return bad(format!(
                "crop_frames must be in 1..={clip_frames}, got {}",
                self.crop_frames
            ));
        }
        if let Some(r) = self.max_shift_frames
            && r + 1 < self.crops_per_clip
        {
            return bad(format!(
                "max_shift_frames {r} leaves fewer than {} distinct offsets",
                self.crops_per_clip
            ));
        }
        if clip_frames - self.crop_frames + 1 < self.crops_per_clip {
            return bad(format!(
                "{} distinct offsets do not fit in a {clip_frames}-frame clip with {}-frame crops",
                self.crops_per_clip, self.crop_frames
            ));
        }
        if self.temperature.is_nan() || self.temperature <= 0.0 {
            return bad("temperature must be positive".into());
        }
        if self.checkpoint_every_steps == 0 {
            return bad("checkpoint_every_steps must be positive".into());
        }
        if self.valid_every_steps == Some(0) {
            return bad("valid_every_steps must be positive".into());
        }
        Ok(())
    }
}

/// The similarity inside the NT-Xent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CosineKind {
    /// The paper's: cosine of the raw sigmoid curves. Outputs are non-negative, so the only
    /// way to make a negative pair dissimilar is sparse, non-overlapping peaks: the
    /// "transientness prior" that makes the curves beat-like.
    Raw,
    /// Cosine of the curves minus their means (a Pearson correlation). Tried first (it never
    /// starts stuck), but it is blind to the sign of the curves: our first run learned sharp
    /// *dips* at onsets on a high baseline, which the DBN cannot use (see `assets/MODEL_CARD.md`).
    Centred,
}

fn legacy_cosine() -> CosineKind {
    CosineKind::Centred
}

fn legacy_warmup() -> u64 {
    0
}

/// Metrics of one epoch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    /// Epoch index (0-based).
    pub epoch: usize,
    /// Global step at its end.
    pub global_step: u64,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Validation loss (NaN-free; `None` without validation clips).
    pub valid: Option<ValidMetrics>,
}

/// One validation during training.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValidPoint {
    /// Global step at which it ran.
    pub global_step: u64,
    /// Mean training loss over the steps since the previous validation.
    pub train_loss: f64,
    /// The metrics.
    pub valid: ValidMetrics,
}

/// Validation metrics over the held-out clips (offsets fixed once per clip from the seed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValidMetrics {
    /// Mean NT-Xent loss (with the run's cosine).
    pub loss: f64,
    /// Mean centred cosine of positives.
    pub cos_pos: f64,
    /// Mean centred cosine of negatives.
    pub cos_neg: f64,
    /// Mean raw cosine of positives (as the paper's 0.80).
    pub raw_cos_pos: f64,
    /// Mean raw cosine of negatives (as the paper's 0.05).
    pub raw_cos_neg: f64,
}

/// Everything besides weights and optimiser that a resume needs (`state.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// The run's settings.
    pub config: TrainConfig,
    /// Current epoch.
    pub epoch: usize,
    /// Steps done in the current epoch.
    pub step_in_epoch: usize,
    /// Steps done in all.
    pub global_step: u64,
    /// Loss of every step.
    pub step_losses: Vec<f32>,
    /// One entry per finished epoch.
    pub history: Vec<EpochMetrics>,
    /// Every validation (periodic and end of epoch), in step order.
    #[serde(default)]
    pub valid_history: Vec<ValidPoint>,
    /// Best validation loss so far.
    pub best_valid_loss: Option<f64>,
    /// Training wall time so far, seconds.
    pub elapsed_s: f64,
}

/// A progress report, after each step.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainProgress {
    /// Current epoch (0-based) and the number of epochs.
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Steps done.
    pub global_step: u64,
    /// Steps in the whole run (epochs × clips, or `max_steps`).
    pub total_steps: u64,
    /// Loss of the last step.
    pub loss: f32,
    /// Steps per second in this session.
    pub steps_per_s: f64,
    /// Estimated seconds left.
    pub eta_s: f64,
    /// Set when an epoch just ended.
    pub epoch_metrics: Option<EpochMetrics>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    /// Final state (also in `last/state.json`).
    pub state: TrainState,
    /// Whether it stopped because of the cancel token.
    pub cancelled: bool,
    /// The latest checkpoint directory.
    pub last_dir: PathBuf,
    /// The best-by-validation model directory, if any.
    pub best_dir: Option<PathBuf>,
}

/// One-directional NT-Xent: anchors `[B, T]`, positives `[B, T]`; row i of the logits is
/// the similarity of anchor i with every positive, the diagonal is the synchronised pair.
pub fn nt_xent(
    anchor: Tensor<2>,
    postve: Tensor<2>,
    temperature: f64,
    cosine: CosineKind,
) -> Tensor<1> {
    let [b, _] = anchor.dims();
    let unit = match cosine {
        CosineKind::Raw => unit_rows,
        CosineKind::Centred => unit_centred,
    };
    let logits = unit(anchor).matmul(unit(postve).transpose()) / temperature;
    let eye: Vec<f32> = (0..b * b)
        .map(|i| if i / b == i % b { 1.0 } else { 0.0 })
        .collect();
    let eye = Tensor::<2>::from_data(TensorData::new(eye, [b, b]), &logits.device());
    (log_softmax(logits, 1) * eye).sum().neg() / b as f64
}

fn unit_centred(x: Tensor<2>) -> Tensor<2> {
    unit_rows(x.clone() - x.mean_dim(1))
}

fn unit_rows(x: Tensor<2>) -> Tensor<2> {
    // ε inside the root: d√s/ds is infinite at s = 0 (an all-zero curve), which made a run's
    // loss NaN once its sigmoid outputs underflowed.
    let n = ((x.clone() * x.clone()).sum_dim(1) + 1e-12).sqrt();
    x / n
}

/// `n` distinct offsets in `0..=max`, drawn from `seed` (partial Fisher–Yates).
pub fn crop_offsets(seed: u64, n: usize, max: usize) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..=max).collect();
    let mut s = seed;
    for i in 0..n.min(pool.len()) {
        s = mix(s);
        let j = i + (s % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(n);
    pool
}

/// The crop offsets of one clip: `crops_per_clip` distinct starts in `0..=max_start`, or, with
/// `max_shift_frames = r`, distinct starts in `base..=base + r` for a random `base`.
fn draw_offsets(cfg: &TrainConfig, seed: u64, max_start: usize) -> Vec<usize> {
    match cfg.max_shift_frames {
        None => crop_offsets(seed, cfg.crops_per_clip, max_start),
        Some(r) => {
            let r = r.min(max_start);
            let base = (mix(seed ^ 0xba5e) % (max_start - r + 1) as u64) as usize;
            crop_offsets(seed, cfg.crops_per_clip, r)
                .into_iter()
                .map(|o| o + base)
                .collect()
        }
    }
}

/// Order of the training clips in `epoch`.
fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut s = mix(seed ^ 0x000e_90c4 ^ (epoch as u64).wrapping_mul(0x9e37_79b9));
    for i in (1..n).rev() {
        s = mix(s);
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    order
}

/// Crops of both stems at `offsets`: two `[B, 1, n_bins, crop]` tensors (non-perc, perc).
fn crops(
    clip: &ClipPair,
    n_bins: usize,
    clip_frames: usize,
    offsets: &[usize],
    crop: usize,
    device: &Device,
) -> (Tensor<4>, Tensor<4>) {
    let cut = |src: &[f32]| {
        let mut out = Vec::with_capacity(offsets.len() * n_bins * crop);
        for &o in offsets {
            for b in 0..n_bins {
                let r = b * clip_frames + o;
                out.extend_from_slice(&src[r..r + crop]);
            }
        }
        Tensor::<4>::from_data(
            TensorData::new(out, [offsets.len(), 1, n_bins, crop]),
            device,
        )
    };
    (cut(&clip.non_percussive), cut(&clip.percussive))
}

fn step_seed(seed: u64, global_step: u64) -> u64 {
    mix(seed ^ mix(global_step.wrapping_add(0x5eed)))
}

/// Validation over `clips` with a network in inference mode.
pub fn validate(
    network: &ZeroNs,
    corpus: &Corpus,
    clips: &[ClipRef],
    config: &TrainConfig,
    device: &Device,
) -> Result<Option<ValidMetrics>> {
    if clips.is_empty() {
        return Ok(None);
    }
    let (b, t) = (config.crops_per_clip, config.crop_frames);
    let (mut loss, mut cp, mut cn, mut rp, mut rn) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (k, clip) in clips.iter().enumerate() {
        let pair = corpus.read(clip)?;
        let offsets = draw_offsets(
            config,
            mix(config.seed ^ 0x0a11d ^ k as u64),
            corpus.clip_frames - t,
        );
        let (xa, xp) = crops(
            &pair,
            corpus.n_bins,
            corpus.clip_frames,
            &offsets,
            t,
            device,
        );
        let out = network.forward(xa, xp);
        let a = to_vec(out.anchor)?;
        let p = to_vec(out.postve)?;
        let m = clip_metrics(&a, &p, b, t, config.temperature, config.cosine);
        loss += m.loss;
        cp += m.cos_pos;
        cn += m.cos_neg;
        rp += m.raw_cos_pos;
        rn += m.raw_cos_neg;
    }
    let n = clips.len() as f64;
    Ok(Some(ValidMetrics {
        loss: loss / n,
        cos_pos: cp / n,
        cos_neg: cn / n,
        raw_cos_pos: rp / n,
        raw_cos_neg: rn / n,
    }))
}

fn to_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    t.try_to_vec_as::<f32>()
        .map_err(|e| Error::InvalidInput(format!("pretrain: cannot read tensor: {e:?}")))
}

/// Loss and cosines of one clip's outputs, in f64 on the CPU.
fn clip_metrics(
    a: &[f32],
    p: &[f32],
    b: usize,
    t: usize,
    temp: f64,
    cosine: CosineKind,
) -> ValidMetrics {
    let rows = |x: &[f32], centre: bool| -> Vec<Vec<f64>> {
        x.chunks(t)
            .take(b)
            .map(|r| {
                let m = if centre {
                    r.iter().map(|v| *v as f64).sum::<f64>() / t as f64
                } else {
                    0.0
                };
                let c: Vec<f64> = r.iter().map(|v| *v as f64 - m).collect();
                let n = c.iter().map(|v| v * v).sum::<f64>().sqrt() + 1e-8;
                c.into_iter().map(|v| v / n).collect()
            })
            .collect()
    };
    let cos = |x: &[Vec<f64>], y: &[Vec<f64>]| -> Vec<Vec<f64>> {
        x.iter()
            .map(|u| {
                y.iter()
                    .map(|v| u.iter().zip(v).map(|(a, b)| a * b).sum())
                    .collect()
            })
            .collect()
    };
    let s = cos(&rows(a, true), &rows(p, true));
    let r = cos(&rows(a, false), &rows(p, false));
    let l = match cosine {
        CosineKind::Raw => &r,
        CosineKind::Centred => &s,
    };
    let (mut loss, mut cp, mut cn, mut rp, mut rn) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..b {
        let mx = l[i].iter().fold(f64::MIN, |m, v| m.max(v / temp));
        let lse = mx + l[i].iter().map(|v| (v / temp - mx).exp()).sum::<f64>().ln();
        loss += lse - l[i][i] / temp;
        for j in 0..b {
            if i == j {
                cp += s[i][j];
                rp += r[i][j];
            } else {
                cn += s[i][j];
                rn += r[i][j];
            }
        }
    }
    let (bf, nn) = (b as f64, (b * (b - 1)) as f64);
    ValidMetrics {
        loss: loss / bf,
        cos_pos: cp / bf,
        cos_neg: cn / nn,
        raw_cos_pos: rp / bf,
        raw_cos_neg: rn / nn,
    }
}

const LAST: &str = "last";
const BEST: &str = "best";
const METRICS_FILE: &str = "metrics.json";

/// Trains (or resumes) a sync-pred run in `run_dir` on `device` (CPU flex or GPU; autodiff is
/// added here).
///
/// Without `resume`, `run_dir` must not hold a checkpoint yet. With `resume`, the run
/// continues from `run_dir/last` with its saved settings, except `epochs`, `max_steps`,
/// `checkpoint_every_steps`, `valid_every_steps` and `valid_max_clips`, which are taken from
/// `config` (so a run can be extended or watched more closely). `cancel` is checked after each
/// step; a cancelled run writes a checkpoint first and returns with `cancelled = true`.
pub fn pretrain(
    corpus: &Corpus,
    run_dir: &Path,
    config: &TrainConfig,
    resume: bool,
    device: &Device,
    cancel: &CancelToken,
    mut on_progress: impl FnMut(&TrainProgress),
) -> Result<TrainSummary> {
    let _span = tracing::info_span!("pretrain", run = %run_dir.display()).entered();
    let last_dir = run_dir.join(LAST);
    let has_checkpoint = last_dir.join(STATE_FILE).is_file();
    let ad = device.clone().autodiff();
    let (mut network, mut optim, mut state) = if resume && has_checkpoint {
        let mut state: TrainState = checkpoint::read_state(&last_dir)?;
        state.config.epochs = config.epochs;
        state.config.max_steps = config.max_steps;
        state.config.valid_every_steps = config.valid_every_steps;
        state.config.valid_max_clips = config.valid_max_clips;
        state.config.checkpoint_every_steps = config.checkpoint_every_steps;
        let network = load_model_on(&last_dir, &ad)?.network;
        let optim = AdamConfig::new()
            .init()
            .load(last_dir.join(OPTIM_FILE))
            .map_err(|e| {
                Error::InvalidInput(format!("pretrain: cannot load optimiser state: {e:?}"))
            })?;
        tracing::info!(step = state.global_step, "resuming");
        (network, optim, state)
    } else {
        if has_checkpoint {
            return Err(Error::InvalidInput(format!(
                "pretrain: {} already holds a run; resume it or choose another directory",
                run_dir.display()
            )));
        }
        ad.seed(config.seed);
        let mut config = config.clone();
        let network = match &config.init_from {
            None => {
                let mut network = ZeroNs::new(&config.model, &ad)?;
                // Only a run that starts on the raw cosine needs the low start; a centred
                // warm-up learns from the default init and is calibrated at the switch.
                if let (Some(v), CosineKind::Raw) =
                    (config.head_bias_init, effective_cosine(&config, 0))
                {
                    network.anchor = network.anchor.with_head_bias(v);
                    network.postve = network.postve.with_head_bias(v);
                }
                network
            }
            Some(path) => {
                let loaded = load_model_on(path, &ad)?;
                config.model = loaded.config().clone();
                calibrate_heads(loaded.network, corpus, config.calibration_target(), &ad)?
            }
        };
        let config = &config;
        let state = TrainState {
            config: config.clone(),
            epoch: 0,
            step_in_epoch: 0,
            global_step: 0,
            step_losses: Vec::new(),
            history: Vec::new(),
            valid_history: Vec::new(),
            best_valid_loss: None,
            elapsed_s: 0.0,
        };
        (network, AdamConfig::new().init(), state)
    };
    let cfg = state.config.clone();
    cfg.validate(corpus.clip_frames)?;
    if corpus.train.is_empty() {
        return Err(Error::InvalidInput(
            "pretrain: the corpus has no training clips".into(),
        ));
    }
    fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let n_train = corpus.train.len();
    let total_steps = cfg
        .max_steps
        .unwrap_or(u64::MAX)
        .min((cfg.epochs * n_train) as u64);
    let t = cfg.crop_frames;
    let started = Instant::now();
    let start_step = state.global_step;
    let elapsed0 = state.elapsed_s;
    let mut cancelled = false;
    let mut best_dir = run_dir.join(BEST).is_dir().then(|| run_dir.join(BEST));
    let valid_clips = spread(&corpus.valid, cfg.valid_max_clips);

    while state.epoch < cfg.epochs && state.global_step < total_steps {
        let order = epoch_order(cfg.seed, state.epoch, n_train);
        while state.step_in_epoch < n_train && state.global_step < total_steps {
            let clip = &corpus.train[order[state.step_in_epoch]];
            let pair = corpus.read(clip)?;
            let s = step_seed(cfg.seed, state.global_step);
            let offsets = draw_offsets(&cfg, s, corpus.clip_frames - t);
            let (xa, xp) = crops(&pair, corpus.n_bins, corpus.clip_frames, &offsets, t, &ad);
            ad.seed(mix(s));
            let cosine = effective_cosine(&cfg, state.global_step);
            let out = network.forward(xa, xp);
            let loss = nt_xent(out.anchor, out.postve, cfg.temperature, cosine);
            let value = loss
                .clone()
                .try_to_vec_as::<f32>()
                .ok()
                .and_then(|v| v.first().copied())
                .unwrap_or(f32::NAN);
            if !value.is_finite() {
                return Err(Error::InvalidInput(format!(
                    "pretrain: loss became {value} at step {} (lower the learning rate)",
                    state.global_step
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &network);
            network = optim.step(cfg.learning_rate, network, grads);
            state.step_in_epoch += 1;
            state.global_step += 1;
            state.step_losses.push(value);
            state.elapsed_s = elapsed0 + started.elapsed().as_secs_f64();
            if cfg.cosine == CosineKind::Raw
                && cfg.init_from.is_none()
                && cfg.centred_warmup_steps > 0
                && state.global_step == cfg.centred_warmup_steps
            {
                tracing::info!(step = state.global_step, "centred warm-up done: raw cosine");
                network = calibrate_heads(network, corpus, cfg.calibration_target(), &ad)?;
                optim = AdamConfig::new().init();
                // Losses of the two cosines are not comparable.
                state.best_valid_loss = None;
            }
            let mut epoch_metrics = None;
            let epoch_end = state.step_in_epoch == n_train;
            let periodic = cfg
                .valid_every_steps
                .is_some_and(|n| state.global_step.is_multiple_of(n));
            let valid = if epoch_end || periodic {
                // Scored with the loss of the next step (centred during the warm-up).
                let valid_cfg = TrainConfig {
                    cosine: effective_cosine(&cfg, state.global_step),
                    ..cfg.clone()
                };
                validate(
                    &network.valid(),
                    corpus,
                    &valid_clips,
                    &valid_cfg,
                    &ad.clone().without_autodiff(),
                )?
            } else {
                None
            };
            if epoch_end {
                let from = state.step_losses.len() - n_train.min(state.step_losses.len());
                let m = EpochMetrics {
                    epoch: state.epoch,
                    global_step: state.global_step,
                    train_loss: mean_loss(&state.step_losses[from..]),
                    valid: valid.clone(),
                };
                tracing::info!(?m, "epoch done");
                state.history.push(m.clone());
                state.epoch += 1;
                state.step_in_epoch = 0;
                epoch_metrics = Some(m);
            }
            if let Some(v) = valid {
                let since = state.valid_history.last().map_or(0, |p| p.global_step);
                let n = (state.global_step - since) as usize;
                let from = state.step_losses.len() - n.min(state.step_losses.len());
                tracing::info!(step = state.global_step, ?v, "validation");
                state.valid_history.push(ValidPoint {
                    global_step: state.global_step,
                    train_loss: mean_loss(&state.step_losses[from..]),
                    valid: v.clone(),
                });
                if state.best_valid_loss.is_none_or(|b| v.loss < b) {
                    state.best_valid_loss = Some(v.loss);
                    let dir = run_dir.join(BEST);
                    write_checkpoint(&dir, &network, &optim, &state, &cfg, false)?;
                    best_dir = Some(dir);
                }
            }
            let done = state.global_step >= total_steps || state.epoch >= cfg.epochs;
            cancelled = cancel.is_cancelled();
            if epoch_metrics.is_some()
                || done
                || cancelled
                || state.global_step % cfg.checkpoint_every_steps == 0
            {
                write_checkpoint(&last_dir, &network, &optim, &state, &cfg, true)?;
                write_atomic(
                    &run_dir.join(METRICS_FILE),
                    &serde_json::to_vec_pretty(&state)
                        .map_err(|e| Error::InvalidInput(e.to_string()))?,
                )?;
            }
            let session_steps = (state.global_step - start_step) as f64;
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            let rate = session_steps / secs;
            on_progress(&TrainProgress {
                epoch: state.epoch.min(cfg.epochs.saturating_sub(1)),
                epochs: cfg.epochs,
                global_step: state.global_step,
                total_steps,
                loss: value,
                steps_per_s: rate,
                eta_s: (total_steps - state.global_step) as f64 / rate.max(1e-9),
                epoch_metrics,
            });
            if cancelled {
                break;
            }
            if epoch_end {
                // Next epoch: back to the outer loop for its clip order. (Staying in this loop
                // replayed the previous epoch's order, so a run resumed after an epoch end
                // diverged from the uninterrupted one.)
                break;
            }
        }
        if cancelled {
            break;
        }
    }
    Ok(TrainSummary {
        state,
        cancelled,
        last_dir,
        best_dir,
    })
}

/// The cosine of the step after `global_step` steps.
fn effective_cosine(cfg: &TrainConfig, global_step: u64) -> CosineKind {
    if cfg.cosine == CosineKind::Raw
        && cfg.init_from.is_none()
        && global_step < cfg.centred_warmup_steps
    {
        CosineKind::Centred
    } else {
        cfg.cosine
    }
}

/// Flips each branch's head if its pre-sigmoid output is negatively skewed on a few held-out
/// clips (dips, not peaks), then shifts it so its median is `target` (see
/// [`TrainConfig::init_from`]).
fn calibrate_heads(network: ZeroNs, corpus: &Corpus, target: f32, ad: &Device) -> Result<ZeroNs> {
    let clips: Vec<ClipRef> = if corpus.valid.is_empty() {
        spread(&corpus.train, 8)
    } else {
        spread(&corpus.valid, 8)
    };
    let inner = ad.clone().without_autodiff();
    let eval = network.valid();
    let (mut za, mut zp) = (Vec::new(), Vec::new());
    let logit = |v: f32| {
        let v = f64::from(v).clamp(1e-7, 1.0 - 1e-7);
        (v / (1.0 - v)).ln()
    };
    for clip in &clips {
        let pair = corpus.read(clip)?;
        let (xa, xp) = crops(
            &pair,
            corpus.n_bins,
            corpus.clip_frames,
            &[0],
            corpus.clip_frames,
            &inner,
        );
        let out = eval.forward(xa, xp);
        za.extend(to_vec(out.anchor)?.into_iter().map(logit));
        zp.extend(to_vec(out.postve)?.into_iter().map(logit));
    }
    let plan = |z: &[f64]| -> (f32, f32) {
        let n = z.len().max(1) as f64;
        let mean = z.iter().sum::<f64>() / n;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let skew = z.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n / var.max(1e-12).powf(1.5);
        let sign = if skew < 0.0 { -1.0 } else { 1.0 };
        let mut flipped: Vec<f64> = z.iter().map(|v| v * sign).collect();
        flipped.sort_by(f64::total_cmp);
        let median = flipped.get(flipped.len() / 2).copied().unwrap_or(0.0);
        tracing::info!(skew, sign, median, "head calibration");
        (sign as f32, target - median as f32)
    };
    let (sa, ha) = plan(&za);
    let (sp, hp) = plan(&zp);
    let mut network = network;
    network.anchor = network.anchor.with_head_affine(sa, ha);
    network.postve = network.postve.with_head_affine(sp, hp);
    Ok(network)
}

fn mean_loss(losses: &[f32]) -> f64 {
    losses.iter().map(|v| *v as f64).sum::<f64>() / losses.len().max(1) as f64
}

/// At most `max` clips spread evenly over `clips` (all of them when `max` is 0 or larger).
fn spread(clips: &[ClipRef], max: usize) -> Vec<ClipRef> {
    if max == 0 || clips.len() <= max {
        return clips.to_vec();
    }
    (0..max)
        .map(|i| clips[i * clips.len() / max].clone())
        .collect()
}

/// Writes model (+ optimiser) + state into `dir` ([`super::checkpoint`]).
fn write_checkpoint(
    dir: &Path,
    network: &ZeroNs,
    optim: &burn::optim::ModuleOptimizer,
    state: &TrainState,
    cfg: &TrainConfig,
    with_optim: bool,
) -> Result<()> {
    let provenance = Provenance {
        method: "pretrained-syncpred".into(),
        steps: Some(state.global_step),
        epochs: Some(state.epoch as u64),
        notes: Some(format!(
            "sync-pred, Adam lr {}, seed {}, {:?}-cosine NT-Xent T {}",
            cfg.learning_rate, cfg.seed, cfg.cosine, cfg.temperature
        )),
        ..Default::default()
    };
    let device = network.devices().into_iter().next().unwrap_or_default();
    let model = LoadedModel::new(network.clone(), cfg.model.clone(), provenance, None, device);
    let json = serde_json::to_vec_pretty(state).map_err(|e| Error::InvalidInput(e.to_string()))?;
    checkpoint::write_checkpoint(dir, &model, with_optim.then_some(optim), &json, &|_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_distinct_and_shifts_bounded() {
        let wide = TrainConfig::default();
        let o = draw_offsets(&wide, 7, 313);
        assert_eq!(o.len(), 16);
        let mut d = o.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 16);
        assert!(o.iter().all(|&x| x <= 313));
        let narrow = TrainConfig {
            max_shift_frames: Some(15),
            ..TrainConfig::default()
        };
        for seed in 0..50 {
            let mut o = draw_offsets(&narrow, seed, 313);
            o.sort_unstable();
            // All 16 offsets of a 16-wide window: consecutive frames from a random base.
            assert_eq!(o.len(), 16);
            assert!(o.windows(2).all(|w| w[1] == w[0] + 1), "{o:?}");
            assert!(o[15] <= 313);
        }
        assert!(
            TrainConfig {
                max_shift_frames: Some(10),
                ..TrainConfig::default()
            }
            .validate(626)
            .is_err()
        );
    }

    #[test]
    fn warmup_applies_to_fresh_raw_runs_only() {
        let cfg = TrainConfig::default();
        assert_eq!(effective_cosine(&cfg, 0), CosineKind::Centred);
        assert_eq!(effective_cosine(&cfg, 599), CosineKind::Centred);
        assert_eq!(effective_cosine(&cfg, 600), CosineKind::Raw);
        let from = TrainConfig {
            init_from: Some(PathBuf::from("m")),
            ..TrainConfig::default()
        };
        assert_eq!(effective_cosine(&from, 0), CosineKind::Raw);
        let centred = TrainConfig {
            cosine: CosineKind::Centred,
            ..TrainConfig::default()
        };
        assert_eq!(effective_cosine(&centred, 10_000), CosineKind::Centred);
    }
}
