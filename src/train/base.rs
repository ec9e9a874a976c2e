//! Base-model training on music whose beats are known exactly (issue 18: the renders of
//! `scripts/render_corpus.py`, MIDI tempo maps and tracker row times), every layer trained,
//! resumable from checkpoints. This is how a shipped model is made; [`super::finetune`] is
//! how a user's corrections adapt one.
//!
//! **Batches.** Each optimiser step draws [`BaseTrainConfig::batch_size`] crops of
//! [`BaseTrainConfig::crop_frames`] frames: a song with probability proportional to its
//! labelled length (every labelled frame equally likely), then a crop centred on a uniformly
//! drawn labelled frame. Frames outside the labelled span or past the song's end are padded
//! with silence and left out of the loss. Every draw is a pure function of
//! `(seed, global step)`, so a resumed run continues exactly as the uninterrupted one (CPU).
//!
//! **Targets and loss** (madmom, the ZeroNS authors): frame `round(62.5·b)` of each beat `b` is
//! 1, its two neighbours [`BaseTrainConfig::neighbour_target`] (0.5); binary cross-entropy of
//! the max-combined output, averaged over the labelled frames.
//!
//! **Augmentation on the log-VQT**, each kept only if the development split says so
//! (`scripts/DEVSET.md`; the renders already vary tempo, timbre, drum level, mixing and effects
//! with exact labels):
//! - pitch shift: both stems moved by k ∈ ±[`BaseTrainConfig::max_pitch_shift_bins`] bins (one
//!   bin is a semitone at 12 bins per octave), silence shifted in (Beat This! shifts −5…+6);
//! - gain: each stem's level moved by up to ±[`BaseTrainConfig::max_gain_db`] dB (a constant in
//!   the log domain, floored at silence);
//! - masking: with [`BaseTrainConfig::mask_probability`], one stem is silenced over a span of
//!   0.5–2 s (a drum break, an instrument dropping out: the beat must carry on through it).
//!
//! **Validation:** the first [`BaseTrainConfig::valid_max_frames`] labelled frames of each
//! validation song (whole other songs, never variants of training songs: the caller splits by
//! [`LabelledSong::group`]) are run with their receptive-field halo, decoded by the DBN and
//! scored (mir_eval F, CMLt, AMLt, no trim). `best/` keeps the model with the best mean F
//! (ties: lower loss).
//!
//! Run directory: `last/` (model + `optim.bpk` + `state.json`), `best/` (model + state),
//! `metrics.json` (the state, rewritten at each checkpoint).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::checkpoint::{OPTIM_FILE, STATE_FILE, read_state, write_checkpoint};
use super::corpus::{mix, write_atomic};
use crate::eval::{EvalConfig, evaluate};
use crate::features::Spectrogram;
use crate::model::{LoadedModel, ModelConfig, Provenance, ZeroNs, load_model_on};
use crate::pipeline::CancelToken;
use crate::tracking::Activation;
use crate::tracking::dbn::{DbnBeatTracker, DbnConfig};
use crate::{Error, Result};

/// Frames per second of the network (spec §1).
const FPS: f64 = 62.5;
/// Silence in the log-VQT: ln of the VQT's epsilon (`FeatureSpec::log_epsilon` = 1e-9).
const SILENCE: f32 = -20.723_267;
const LAST: &str = "last";
const BEST: &str = "best";
const METRICS_FILE: &str = "metrics.json";

/// One song with exactly known beats.
#[derive(Debug, Clone)]
pub struct LabelledSong {
    /// A name for reports.
    pub name: String,
    /// The music it was made from: renders of one piece share it, and a split between
    /// training and validation must keep a group on one side.
    pub group: String,
    /// Log-VQT of the non-percussive stem.
    pub non_percussive: Spectrogram,
    /// Log-VQT of the percussive stem.
    pub percussive: Spectrogram,
    /// Beat times, increasing.
    pub beats_s: Vec<f64>,
    /// Labelled span in frames `[start, end)`: half a beat around the first and last beat.
    pub span: (usize, usize),
}

impl LabelledSong {
    /// Checks the stems and beats (at least 4, increasing, inside the song) and derives the
    /// labelled span.
    pub fn new(
        name: impl Into<String>,
        group: impl Into<String>,
        non_percussive: Spectrogram,
        percussive: Spectrogram,
        beats_s: Vec<f64>,
    ) -> Result<Self> {
        let name = name.into();
        let bad = |m: String| Err(Error::InvalidInput(format!("{name}: {m}")));
        if non_percussive.n_frames != percussive.n_frames
            || non_percussive.n_bins != percussive.n_bins
        {
            return bad("the two stems' spectrograms differ in size".into());
        }
        let n = non_percussive.n_frames;
        let duration_s = n as f64 / FPS;
        if beats_s.iter().any(|b| !b.is_finite() || *b < 0.0) {
            return bad("a beat time is negative or not a number".into());
        }
        if let Some(i) = beats_s.windows(2).position(|w| w[1] <= w[0]) {
            return bad(format!("beats {} and {} are not increasing", i + 1, i + 2));
        }
        let beats_s: Vec<f64> = beats_s.into_iter().filter(|b| *b < duration_s).collect();
        if beats_s.len() < 4 {
            return bad(format!(
                "{} beats inside the audio; at least 4 are needed",
                beats_s.len()
            ));
        }
        let mut ibis: Vec<f64> = beats_s.windows(2).map(|w| w[1] - w[0]).collect();
        ibis.sort_by(f64::total_cmp);
        let half = 0.5 * ibis[ibis.len() / 2];
        let frame = |t: f64| ((t * FPS).round().max(0.0) as usize).min(n);
        let span = (
            frame(beats_s[0] - half),
            frame(beats_s[beats_s.len() - 1] + half),
        );
        Ok(Self {
            name,
            group: group.into(),
            non_percussive,
            percussive,
            beats_s,
            span,
        })
    }

    fn labelled_frames(&self) -> usize {
        self.span.1 - self.span.0
    }
}

/// Settings of a base training run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BaseTrainConfig {
    /// Start from this model's weights (the self-supervised lite v1, or a previous model);
    /// `None` = a cold start from [`BaseTrainConfig::model`].
    pub init_from: Option<PathBuf>,
    /// Architecture of a cold start.
    pub model: ModelConfig,
    /// Adam learning rate (ours: 5e-4, between fine-tuning's full-mode 2e-4 and Adam's usual
    /// 1e-3, for a batch of 4 crops).
    pub learning_rate: f64,
    /// Crops per step.
    pub batch_size: usize,
    /// Frames per crop (1,500 = 24 s: several times the lite net's ±4.1 s receptive field).
    pub crop_frames: usize,
    /// Stop after this many optimiser steps in all.
    pub max_steps: u64,
    /// Target of the frames next to a beat frame (madmom and the ZeroNS authors: 0.5).
    pub neighbour_target: f32,
    /// Largest pitch shift in VQT bins (semitones), each way; 0 = off.
    pub max_pitch_shift_bins: usize,
    /// Largest gain change per stem in dB, each way; 0 = off.
    pub max_gain_db: f64,
    /// Probability that a crop gets one stem silenced over 0.5–2 s; 0 = off.
    pub mask_probability: f64,
    /// Validate every this many steps.
    pub valid_every_steps: u64,
    /// Labelled frames scored per validation song (from its first labelled frame).
    pub valid_max_frames: usize,
    /// Write `last/` every this many steps.
    pub checkpoint_every_steps: u64,
    /// Seed of every draw.
    pub seed: u64,
    /// The beat decoder of the validation (madmom's DBN defaults).
    pub tracker: DbnConfig,
}

impl Default for BaseTrainConfig {
    fn default() -> Self {
        Self {
            init_from: None,
            model: ModelConfig::lite(),
            learning_rate: 5e-4,
            batch_size: 4,
            crop_frames: 1500,
            max_steps: 4000,
            neighbour_target: 0.5,
            max_pitch_shift_bins: 5,
            max_gain_db: 6.0,
            mask_probability: 0.3,
            valid_every_steps: 200,
            valid_max_frames: 3750,
            checkpoint_every_steps: 50,
            seed: 0,
            tracker: DbnConfig::default(),
        }
    }
}

impl BaseTrainConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("base training: {m}")));
        if !(self.learning_rate > 0.0 && self.learning_rate < 1.0) {
            return bad(format!(
                "learning_rate must be in (0, 1), got {}",
                self.learning_rate
            ));
        }
        if self.batch_size == 0 || self.crop_frames < 64 {
            return bad("batch_size must be positive and crop_frames at least 64".into());
        }
        if self.max_steps == 0 || self.valid_every_steps == 0 || self.checkpoint_every_steps == 0 {
            return bad("step counts must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.neighbour_target)
            || !(0.0..=1.0).contains(&self.mask_probability)
        {
            return bad("neighbour_target and mask_probability must be in [0, 1]".into());
        }
        if !(self.max_gain_db.is_finite() && self.max_gain_db >= 0.0)
            || self.max_pitch_shift_bins > 24
        {
            return bad("max_gain_db must be ≥ 0 and max_pitch_shift_bins ≤ 24".into());
        }
        self.model.validate()?;
        self.tracker.validate()
    }
}

/// Validation scores (means over the validation songs).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BaseValid {
    /// Step after which it was measured.
    pub global_step: u64,
    /// Mean training loss since the previous validation.
    pub train_loss: f64,
    /// mir_eval F-measure, no trim.
    pub f_measure: f64,
    /// Correct metrical level, total.
    pub cmlt: f64,
    /// Any metrical level, total.
    pub amlt: f64,
    /// Masked BCE on the scored frames.
    pub loss: f64,
}

/// Everything a resume needs besides weights and optimiser (`state.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaseTrainState {
    /// The run's settings.
    pub config: BaseTrainConfig,
    /// Steps done.
    pub global_step: u64,
    /// Loss of every step.
    pub step_losses: Vec<f32>,
    /// Every validation, in step order (the first one before any step).
    pub valid_history: Vec<BaseValid>,
    /// Best validation so far.
    pub best: Option<BaseValid>,
    /// Training wall time, seconds.
    pub elapsed_s: f64,
    /// Songs and labelled hours trained on, in words (for the model's provenance).
    pub data: String,
}

/// A progress report after each step.
#[derive(Debug, Clone)]
pub struct BaseTrainProgress {
    /// Steps done and in all.
    pub global_step: u64,
    /// Steps in the run.
    pub total_steps: u64,
    /// Loss of the last step.
    pub loss: f32,
    /// Steps per second in this session.
    pub steps_per_s: f64,
    /// Set when a validation just ran.
    pub valid: Option<BaseValid>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct BaseTrainSummary {
    /// Final state (also in `last/state.json`).
    pub state: BaseTrainState,
    /// Whether the cancel token stopped it.
    pub cancelled: bool,
    /// The best-by-validation model.
    pub best_dir: PathBuf,
}

/// Trains (or, with `resume`, continues) a base model in `run_dir` on `train`, validating on
/// `valid` (module docs). A resumed run keeps its settings except `max_steps`,
/// `valid_every_steps` and `checkpoint_every_steps`. `cancel` is checked after every step; a
/// cancelled run writes its checkpoint first.
#[allow(clippy::too_many_arguments)]
pub fn train_base(
    train: &[LabelledSong],
    valid: &[LabelledSong],
    run_dir: &Path,
    config: &BaseTrainConfig,
    resume: bool,
    device: &Device,
    cancel: &CancelToken,
    mut on_progress: impl FnMut(&BaseTrainProgress),
) -> Result<BaseTrainSummary> {
    let _span = tracing::info_span!("train_base", run = %run_dir.display()).entered();
    if train.is_empty() || valid.is_empty() {
        return Err(Error::InvalidInput(
            "base training needs training songs and validation songs".into(),
        ));
    }
    let last_dir = run_dir.join(LAST);
    let has_checkpoint = last_dir.join(STATE_FILE).is_file();
    let ad = device.clone().autodiff();
    let plain = device.clone().without_autodiff();
    let (mut network, mut optim, mut state) = if resume && has_checkpoint {
        let mut state: BaseTrainState = read_state(&last_dir)?;
        state.config.max_steps = config.max_steps;
        state.config.valid_every_steps = config.valid_every_steps;
        state.config.checkpoint_every_steps = config.checkpoint_every_steps;
        let network = load_model_on(&last_dir, &ad)?.network;
        let optim = AdamConfig::new()
            .init()
            .load(last_dir.join(OPTIM_FILE))
            .map_err(|e| Error::InvalidInput(format!("cannot load the optimiser state: {e:?}")))?;
        tracing::info!(step = state.global_step, "resuming");
        (network, optim, state)
    } else {
        if has_checkpoint {
            return Err(Error::InvalidInput(format!(
                "{} already holds a run; resume it or choose another directory",
                run_dir.display()
            )));
        }
        config.validate()?;
        let mut config = config.clone();
        ad.seed(config.seed);
        let network = match &config.init_from {
            Some(path) => {
                let loaded = load_model_on(path, &ad)?;
                config.model = loaded.config().clone();
                loaded.network
            }
            None => ZeroNs::new(&config.model, &ad)?,
        };
        let hours = train.iter().map(|s| s.labelled_frames()).sum::<usize>() as f64 / FPS / 3600.0;
        let groups: std::collections::BTreeSet<&str> =
            train.iter().map(|s| s.group.as_str()).collect();
        let data = format!(
            "{} renders of {} pieces, {hours:.1} h labelled",
            train.len(),
            groups.len()
        );
        let state = BaseTrainState {
            config,
            global_step: 0,
            step_losses: Vec::new(),
            valid_history: Vec::new(),
            best: None,
            elapsed_s: 0.0,
            data,
        };
        (network, AdamConfig::new().init(), state)
    };
    let cfg = state.config.clone();
    cfg.validate()?;
    fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let tracker = DbnBeatTracker::new(&cfg.tracker, FPS)?;
    let halo = cfg.model.half_receptive_field_frames();
    let cumulative: Vec<u64> = train
        .iter()
        .scan(0u64, |acc, s| {
            *acc += s.labelled_frames().max(1) as u64;
            Some(*acc)
        })
        .collect();
    let started = Instant::now();
    let (start_step, elapsed0) = (state.global_step, state.elapsed_s);
    let best_dir = run_dir.join(BEST);
    let provenance = |state: &BaseTrainState| Provenance {
        method: "trained-beats".into(),
        data: Some(state.data.clone()),
        steps: Some(state.global_step),
        notes: Some(format!(
            "zerons train: every layer, from {}; Adam lr {}, batch {} × {} frames, pitch ±{}, \
             gain ±{} dB, mask p {}, seed {}",
            cfg.init_from
                .as_ref()
                .map_or("a cold start".to_string(), |p| p.display().to_string()),
            cfg.learning_rate,
            cfg.batch_size,
            cfg.crop_frames,
            cfg.max_pitch_shift_bins,
            cfg.max_gain_db,
            cfg.mask_probability,
            cfg.seed
        )),
        ..Default::default()
    };
    let checkpoint = |dir: &Path,
                      net: &ZeroNs,
                      optim: Option<&burn::optim::ModuleOptimizer>,
                      state: &BaseTrainState|
     -> Result<()> {
        let model = LoadedModel::new(
            net.clone(),
            cfg.model.clone(),
            provenance(state),
            None,
            plain.clone(),
        );
        let json =
            serde_json::to_vec_pretty(state).map_err(|e| Error::InvalidInput(e.to_string()))?;
        write_checkpoint(dir, &model, optim, &json)
    };

    // The starting point's score, so that "best" means better than where it started.
    if state.valid_history.is_empty() {
        let v = validate_base(&network.valid(), valid, &cfg, halo, &tracker, &plain)?;
        tracing::info!(?v, "validation before training");
        state.best = Some(v.clone());
        state.valid_history.push(v);
        checkpoint(&best_dir, &network, None, &state)?;
    }
    let mut cancelled = false;
    while state.global_step < cfg.max_steps {
        let s = mix(cfg.seed ^ mix(state.global_step));
        let batch = draw_batch(train, &cumulative, &cfg, s);
        let n = cfg.crop_frames;
        let b = cfg.batch_size;
        let xa = Tensor::<4>::from_data(TensorData::new(batch.anchor, [b, 1, 96, n]), &ad);
        let xp = Tensor::<4>::from_data(TensorData::new(batch.postve, [b, 1, 96, n]), &ad);
        ad.seed(mix(s ^ 0x5eed));
        let out = network.forward(xa, xp).combined;
        let loss = masked_bce(out, &batch.target, &batch.mask, [b, n], &ad);
        let value = scalar(loss.clone());
        if !value.is_finite() {
            return Err(Error::InvalidInput(format!(
                "base training: the loss became {value} at step {} (lower the learning rate)",
                state.global_step
            )));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &network);
        network = optim.step(cfg.learning_rate, network, grads);
        state.global_step += 1;
        state.step_losses.push(value);
        state.elapsed_s = elapsed0 + started.elapsed().as_secs_f64();
        let done = state.global_step >= cfg.max_steps;
        cancelled = cancel.is_cancelled();
        let mut report = None;
        if state.global_step.is_multiple_of(cfg.valid_every_steps) || done {
            let mut v = validate_base(&network.valid(), valid, &cfg, halo, &tracker, &plain)?;
            v.global_step = state.global_step;
            let since = state.valid_history.last().map_or(0, |p| p.global_step);
            let k = ((state.global_step - since) as usize).min(state.step_losses.len());
            v.train_loss = mean(&state.step_losses[state.step_losses.len() - k..]);
            tracing::info!(?v, "validation");
            state.valid_history.push(v.clone());
            let better = state.best.as_ref().is_none_or(|b| {
                v.f_measure > b.f_measure || (v.f_measure == b.f_measure && v.loss < b.loss)
            });
            if better {
                state.best = Some(v.clone());
                checkpoint(&best_dir, &network, None, &state)?;
            }
            report = Some(v);
        }
        if done || cancelled || state.global_step.is_multiple_of(cfg.checkpoint_every_steps) {
            checkpoint(&last_dir, &network, Some(&optim), &state)?;
            write_atomic(
                &run_dir.join(METRICS_FILE),
                &serde_json::to_vec_pretty(&state)
                    .map_err(|e| Error::InvalidInput(e.to_string()))?,
            )?;
        }
        let rate = (state.global_step - start_step) as f64 / started.elapsed().as_secs_f64();
        on_progress(&BaseTrainProgress {
            global_step: state.global_step,
            total_steps: cfg.max_steps,
            loss: value,
            steps_per_s: rate,
            valid: report,
        });
        if cancelled {
            break;
        }
    }
    Ok(BaseTrainSummary {
        state,
        cancelled,
        best_dir,
    })
}

/// One step's inputs: `[B, 1, 96, n]` row-major per stem, targets and loss mask `[B, n]`.
struct Batch {
    anchor: Vec<f32>,
    postve: Vec<f32>,
    target: Vec<f32>,
    mask: Vec<f32>,
}

/// A uniform draw in `0..n` from `z` (n > 0).
fn below(z: u64, n: u64) -> u64 {
    z % n.max(1)
}

/// The step's crops, with augmentation (module docs); a pure function of `s`.
fn draw_batch(songs: &[LabelledSong], cumulative: &[u64], cfg: &BaseTrainConfig, s: u64) -> Batch {
    let n = cfg.crop_frames;
    let bins = 96;
    let mut batch = Batch {
        anchor: Vec::with_capacity(cfg.batch_size * bins * n),
        postve: Vec::with_capacity(cfg.batch_size * bins * n),
        target: Vec::with_capacity(cfg.batch_size * n),
        mask: Vec::with_capacity(cfg.batch_size * n),
    };
    let total = cumulative.last().copied().unwrap_or(1);
    for i in 0..cfg.batch_size {
        let z = |k: u64| mix(s ^ mix((i as u64) << 8 | k));
        let pick = below(z(0), total);
        let song_index = cumulative.partition_point(|&c| c <= pick);
        let song = &songs[song_index.min(songs.len() - 1)];
        let (r0, r1) = song.span;
        let centre = r0 + below(z(1), (r1 - r0).max(1) as u64) as usize;
        let start = centre as isize - (n / 2) as isize;
        let shift = if cfg.max_pitch_shift_bins > 0 {
            below(z(2), 2 * cfg.max_pitch_shift_bins as u64 + 1) as isize
                - cfg.max_pitch_shift_bins as isize
        } else {
            0
        };
        let gain = |k: u64| -> f32 {
            let u = below(z(k), 1 << 20) as f64 / (1 << 20) as f64;
            ((2.0 * u - 1.0) * cfg.max_gain_db / 20.0 * std::f64::consts::LN_10) as f32
        };
        let (ga, gp) = (gain(3), gain(4));
        let masked = (below(z(5), 1 << 20) as f64 / (1 << 20) as f64) < cfg.mask_probability;
        let mask_len = (0.5 * FPS + below(z(6), (1.5 * FPS) as u64) as f64) as usize;
        let mask_at = below(z(7), n.saturating_sub(mask_len).max(1) as u64) as usize;
        let mask_stem = below(z(8), 2);
        for (stem, spec, g, out) in [
            (0, &song.non_percussive, ga, &mut batch.anchor),
            (1, &song.percussive, gp, &mut batch.postve),
        ] {
            let silenced = |f: usize| {
                masked && mask_stem == stem && (mask_at..mask_at + mask_len).contains(&f)
            };
            for bin in 0..bins {
                let src_bin = bin as isize - shift;
                for f in 0..n {
                    let t = start + f as isize;
                    let labelled = t >= r0 as isize && t < r1 as isize;
                    let v = if !labelled || silenced(f) || !(0..bins as isize).contains(&src_bin) {
                        SILENCE
                    } else {
                        (spec.get(src_bin as usize, t as usize) + g).max(SILENCE)
                    };
                    out.push(v);
                }
            }
        }
        let mut target = vec![0f32; n];
        for &b in &song.beats_s {
            let k = (b * FPS).round() as isize - start;
            for (d, v) in [
                (-1, cfg.neighbour_target),
                (1, cfg.neighbour_target),
                (0, 1.0),
            ] {
                let j = k + d;
                if (0..n as isize).contains(&j) {
                    let t = &mut target[j as usize];
                    *t = t.max(v);
                }
            }
        }
        batch.target.extend(target);
        batch.mask.extend((0..n).map(|f| {
            let t = start + f as isize;
            f32::from(u8::from(t >= r0 as isize && t < r1 as isize))
        }));
    }
    batch
}

/// Masked binary cross-entropy, `Σ mask·bce / Σ mask`, over a `[B, n]` batch (also
/// fine-tuning's loss, with B = 1).
pub(crate) fn masked_bce(
    p: Tensor<2>,
    target: &[f32],
    mask: &[f32],
    dims: [usize; 2],
    device: &Device,
) -> Tensor<1> {
    let y = Tensor::<2>::from_data(TensorData::new(target.to_vec(), dims), device);
    let m = Tensor::<2>::from_data(TensorData::new(mask.to_vec(), dims), device);
    let p = p.clamp(1e-7, 1.0 - 1e-7);
    let one = Tensor::<2>::ones(dims, device);
    let bce = (y.clone() * p.clone().log() + (one.clone() - y) * (one - p).log()).neg();
    let denom = mask.iter().sum::<f32>().max(1.0);
    (bce * m).sum() / denom
}

/// The value of a one-element tensor (NaN if it cannot be read).
pub(crate) fn scalar(t: Tensor<1>) -> f32 {
    t.try_to_vec_as::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f32::NAN)
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len().max(1) as f64
}

/// Scores `network` (inference mode, on `device`) on the validation songs (module docs).
fn validate_base(
    network: &ZeroNs,
    songs: &[LabelledSong],
    cfg: &BaseTrainConfig,
    halo: usize,
    tracker: &DbnBeatTracker,
    device: &Device,
) -> Result<BaseValid> {
    let network = network.clone().to_device(device);
    let eval_cfg = EvalConfig {
        trim: false,
        ..EvalConfig::default()
    };
    let mut v = BaseValid::default();
    for song in songs {
        let (r0, r1) = song.span;
        let r1 = r1.min(r0 + cfg.valid_max_frames);
        let (e0, e1) = (
            r0.saturating_sub(halo),
            (r1 + halo).min(song.non_percussive.n_frames),
        );
        let cut = |s: &Spectrogram| {
            let mut data = Vec::with_capacity(s.n_bins * (e1 - e0));
            for bin in 0..s.n_bins {
                data.extend_from_slice(&s.row(bin)[e0..e1]);
            }
            Tensor::<4>::from_data(TensorData::new(data, [1, 1, s.n_bins, e1 - e0]), device)
        };
        let out = network
            .forward(cut(&song.non_percussive), cut(&song.percussive))
            .combined;
        let values: Vec<f32> = out
            .try_to_vec_as::<f32>()
            .map_err(|e| Error::Model(format!("cannot read the network's output: {e:?}")))?;
        let scored = values[r0 - e0..r1 - e0].to_vec();
        let t0 = r0 as f64 / FPS;
        let reference: Vec<f64> = song
            .beats_s
            .iter()
            .map(|b| b - t0)
            .filter(|b| *b >= 0.0 && *b < (r1 - r0) as f64 / FPS)
            .collect();
        let mut target = vec![0f32; scored.len()];
        for b in &reference {
            let k = (b * FPS).round() as isize;
            for (d, val) in [
                (-1, cfg.neighbour_target),
                (1, cfg.neighbour_target),
                (0, 1.0),
            ] {
                if let Some(t) = usize::try_from(k + d).ok().and_then(|j| target.get_mut(j)) {
                    *t = t.max(val);
                }
            }
        }
        let len = scored.len();
        let est = tracker.track(&Activation::new(scored.clone(), FPS))?;
        let sc = evaluate(&reference, &est, &eval_cfg)?;
        let p = Tensor::<2>::from_data(TensorData::new(scored, [1, len]), device);
        v.loss += f64::from(scalar(masked_bce(
            p,
            &target,
            &vec![1.0; len],
            [1, len],
            device,
        )));
        v.f_measure += sc.f_measure;
        v.cmlt += sc.cmlt;
        v.amlt += sc.amlt;
    }
    let k = songs.len() as f64;
    v.f_measure /= k;
    v.cmlt /= k;
    v.amlt /= k;
    v.loss /= k;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(name: &str, n: usize, beat_every: usize) -> LabelledSong {
        // A click on every beat in both stems over quiet noise: the answer is known.
        let mut data: Vec<f32> = (0..96 * n)
            .map(|i| -8.0 + (mix(i as u64) % 1000) as f32 / 1000.0)
            .collect();
        let beats: Vec<f64> = (1..n / beat_every)
            .map(|k| (k * beat_every) as f64 / FPS)
            .collect();
        for &b in &beats {
            let f = (b * FPS).round() as usize;
            for bin in 0..96 {
                data[bin * n + f] = 0.0;
            }
        }
        let spec = Spectrogram {
            data,
            n_bins: 96,
            n_frames: n,
            fps: FPS,
        };
        LabelledSong::new(name, name, spec.clone(), spec, beats).expect("valid song")
    }

    #[test]
    fn batches_are_deterministic_and_targets_sit_on_the_beats() {
        let songs = vec![song("a", 2000, 30), song("b", 900, 25)];
        let cumulative: Vec<u64> = songs
            .iter()
            .scan(0, |acc, s| {
                *acc += s.labelled_frames() as u64;
                Some(*acc)
            })
            .collect();
        let cfg = BaseTrainConfig {
            crop_frames: 400,
            batch_size: 3,
            max_pitch_shift_bins: 0,
            max_gain_db: 0.0,
            mask_probability: 0.0,
            ..BaseTrainConfig::default()
        };
        let a = draw_batch(&songs, &cumulative, &cfg, 7);
        let b = draw_batch(&songs, &cumulative, &cfg, 7);
        assert_eq!(a.target, b.target);
        assert_eq!(a.anchor, b.anchor);
        // Without augmentation, every target 1 is a click frame in the input (bin 0).
        for i in 0..3 {
            for f in 0..400 {
                if a.target[i * 400 + f] == 1.0 {
                    assert_eq!(a.postve[i * 96 * 400 + f], 0.0, "crop {i} frame {f}");
                    assert_eq!(a.mask[i * 400 + f], 1.0);
                }
            }
        }
        assert!(a.target.iter().filter(|t| **t == 1.0).count() > 20);
        // Padding outside the labelled span is silent and unscored.
        for (k, m) in a.mask.iter().enumerate() {
            if *m == 0.0 {
                let (i, f) = (k / 400, k % 400);
                assert_eq!(a.anchor[i * 96 * 400 + 50 * 400 + f], SILENCE);
            }
        }
    }

    #[test]
    fn pitch_shift_moves_bins_and_keeps_targets() {
        let mut s = song("a", 1000, 30);
        // Mark bin 40 everywhere in the non-percussive stem.
        for f in 0..1000 {
            s.non_percussive.data[40 * 1000 + f] = 1.0;
        }
        let songs = vec![s];
        let cumulative = vec![songs[0].labelled_frames() as u64];
        let cfg = BaseTrainConfig {
            crop_frames: 200,
            batch_size: 8,
            max_pitch_shift_bins: 5,
            max_gain_db: 0.0,
            mask_probability: 0.0,
            ..BaseTrainConfig::default()
        };
        let plain = BaseTrainConfig {
            max_pitch_shift_bins: 0,
            ..cfg.clone()
        };
        let a = draw_batch(&songs, &cumulative, &cfg, 3);
        let b = draw_batch(&songs, &cumulative, &plain, 3);
        assert_eq!(a.target, b.target, "labels do not move with pitch");
        let mut shifts = std::collections::BTreeSet::new();
        for i in 0..8 {
            // A labelled frame of crop i: find which bin holds the mark.
            let f = (0..200).find(|f| a.mask[i * 200 + f] == 1.0 && a.target[i * 200 + f] == 0.0);
            let Some(f) = f else { continue };
            let bin = (0..96).find(|bin| a.anchor[i * 96 * 200 + bin * 200 + f] == 1.0);
            shifts.insert(bin.map(|b| b as isize - 40));
        }
        assert!(shifts.len() > 1, "several shifts drawn: {shifts:?}");
        assert!(shifts.iter().all(|s| s.is_some_and(|s| s.abs() <= 5)));
    }

    /// A tiny network on click tracks: the loss falls, validation runs, `best/` and `last/`
    /// are written, and a resumed run continues from the checkpoint to the new step count.
    #[test]
    fn a_tiny_network_learns_clicks_and_a_run_resumes() {
        use crate::model::{Architecture, Combine, LiteConfig, load_model};
        let dir = tempfile::tempdir().expect("temp dir");
        let train = vec![
            song("a", 1200, 31),
            song("b", 1200, 26),
            song("c", 1200, 37),
        ];
        let valid = vec![song("v", 1200, 29)];
        let cfg = BaseTrainConfig {
            model: ModelConfig {
                architecture: Architecture::Lite(LiteConfig {
                    stem_channels: 0,
                    channels: 8,
                    dilations: vec![1, 2],
                    dropout: 0.0,
                    ..LiteConfig::default()
                }),
                combine: Combine::Max,
            },
            learning_rate: 3e-3,
            batch_size: 2,
            crop_frames: 300,
            max_steps: 30,
            valid_every_steps: 15,
            checkpoint_every_steps: 10,
            ..BaseTrainConfig::default()
        };
        let device = Device::default();
        let cancel = CancelToken::new();
        let run = dir.path().join("run");
        let mut steps = Vec::new();
        let s = train_base(&train, &valid, &run, &cfg, false, &device, &cancel, |p| {
            steps.push(p.global_step)
        })
        .expect("trained");
        assert_eq!(steps.last(), Some(&30));
        let losses = &s.state.step_losses;
        let first = mean(&losses[..5]);
        let last = mean(&losses[losses.len() - 5..]);
        assert!(last < 0.7 * first, "loss {first:.4} -> {last:.4}");
        // Before training, then at steps 15 and 30.
        let at: Vec<u64> = s
            .state
            .valid_history
            .iter()
            .map(|v| v.global_step)
            .collect();
        assert_eq!(at, [0, 15, 30]);
        assert!(load_model(&s.best_dir).is_ok());
        // A second call without `resume` refuses to overwrite the run.
        assert!(train_base(&train, &valid, &run, &cfg, false, &device, &cancel, |_| {}).is_err());
        let more = BaseTrainConfig {
            max_steps: 40,
            ..cfg.clone()
        };
        let r = train_base(&train, &valid, &run, &more, true, &device, &cancel, |_| {})
            .expect("resumed");
        assert_eq!(r.state.global_step, 40);
        assert_eq!(r.state.step_losses.len(), 40);
        assert_eq!(&r.state.step_losses[..30], &losses[..]);
    }

    #[test]
    fn rejects_too_few_beats_and_disorder() {
        let spec = Spectrogram {
            data: vec![0.0; 96 * 100],
            n_bins: 96,
            n_frames: 100,
            fps: FPS,
        };
        let err = LabelledSong::new("x", "x", spec.clone(), spec.clone(), vec![0.1, 0.5])
            .expect_err("two beats");
        assert!(err.to_string().contains("x:"), "{err}");
        assert!(LabelledSong::new("x", "x", spec.clone(), spec, vec![0.1, 0.5, 0.4, 0.9]).is_err());
    }
}
