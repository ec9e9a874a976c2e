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
//! the max-combined output, averaged over the labelled frames. Optionally the frames halfway
//! between beats weigh [`BaseTrainConfig::offbeat_weight`] (default 1; tried against tempo
//! octaves and dropped, assets/MODEL_CARD.md). Optionally a multi-task tempo head
//! ([`super::tempo`], [`BaseTrainConfig::tempo_weight`], default 0) classifies each crop's
//! tempo from both branches' features and adds its cross-entropy; it only shapes the shared
//! layers and is not saved with the model (tried against tempo octaves: no change on dev,
//! assets/MODEL_CARD.md).
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
//! Run directory: `last/` (model + `optim.bpk` + `state.json`, and with a tempo head its
//! weights and Adam state), `best/` (model + state),
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
use super::crops::{draw_batch, place_targets};
use super::tempo::{self, TempoHead};
use crate::eval::{EvalConfig, evaluate, f_measure};
use crate::features::Spectrogram;
use crate::model::{LoadedModel, ModelConfig, Provenance, ZeroNs, load_model_on};
use crate::pipeline::CancelToken;
use crate::tracking::Activation;
use crate::tracking::dbn::{DbnBeatTracker, DbnConfig};
use crate::tracking::meter::{MeterConfig, choose_meter};
use crate::{Error, Result};

/// Frames per second of the network (spec §1).
pub(crate) const FPS: f64 = 62.5;
/// Silence in the log-VQT: ln of the VQT's epsilon (`FeatureSpec::log_epsilon` = 1e-9).
pub(crate) const SILENCE: f32 = -20.723_267;
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
    /// Downbeat times, increasing (each one a beat); empty where the bars are unknown, and
    /// then left out of the downbeat loss.
    pub downbeats_s: Vec<f64>,
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
            downbeats_s: Vec::new(),
            span,
        })
    }

    /// This song with its downbeats (those inside the audio are kept; unordered or
    /// non-finite times are dropped, leaving the bars unknown).
    pub fn with_downbeats(mut self, downbeats_s: Vec<f64>) -> Self {
        let end_s = self.non_percussive.n_frames as f64 / FPS;
        let ordered = downbeats_s.windows(2).all(|w| w[1] > w[0])
            && downbeats_s.iter().all(|t| t.is_finite() && *t >= 0.0);
        self.downbeats_s = if ordered {
            downbeats_s.into_iter().filter(|t| *t < end_s).collect()
        } else {
            Vec::new()
        };
        self
    }

    pub(crate) fn labelled_frames(&self) -> usize {
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
    /// Loss weight of the frames halfway between two beats (the frame nearest the midpoint
    /// and its two neighbours), where a tracker at double the tempo puts its extra beats; the
    /// other frames weigh 1. Default 1 (plain BCE, as every shipped model was trained); above
    /// 1 teaches the network to stay quiet on the off-beat eighth (tried for the tempo-octave
    /// errors of lite v3, assets/MODEL_CARD.md).
    pub offbeat_weight: f32,
    /// Weight of the downbeat head's BCE beside the beat BCE (issue 21); 0 = no downbeat
    /// head is trained (or added). A model without one gets a fresh head
    /// ([`ZeroNs::with_downbeat_heads`]); songs without known bars are left out of this term.
    pub downbeat_weight: f64,
    /// Train only the downbeat heads, on the frozen network's beat features (the beat output
    /// stays exactly the init model's); needs `init_from` and a `downbeat_weight` above 0.
    pub downbeat_head_only: bool,
    /// Weight of the multi-task tempo head's cross-entropy beside the beat BCE
    /// ([`super::tempo`]: Böck, Davies & Knees, ISMIR 2019); 0 = no tempo head (as every
    /// shipped model was trained). The head is trained with Adam at 1e-3 (it starts fresh) and
    /// is not part of the saved network.
    #[serde(default)]
    pub tempo_weight: f64,
    /// Dilations of residual TCN layers appended above the last layer of the lite model that
    /// training starts from (`init_from`, or the cold-start `model`): a longer receptive field
    /// for a trained network (issue 18). The new layers start near the identity
    /// ([`crate::model::lite::EXTRA_LAYER_INIT_SCALE`]). Empty = the model as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_dilations: Vec<usize>,
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
            offbeat_weight: 1.0,
            downbeat_weight: 0.0,
            downbeat_head_only: false,
            tempo_weight: 0.0,
            add_dilations: Vec::new(),
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
        if self.downbeat_head_only && (self.init_from.is_none() || self.downbeat_weight <= 0.0) {
            return bad(
                "downbeat_head_only trains a given model's downbeat heads: it needs init_from and \
                 a downbeat_weight above 0"
                    .into(),
            );
        }
        if self.max_steps == 0 || self.valid_every_steps == 0 || self.checkpoint_every_steps == 0 {
            return bad("step counts must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.neighbour_target)
            || !(0.0..=1.0).contains(&self.mask_probability)
        {
            return bad("neighbour_target and mask_probability must be in [0, 1]".into());
        }
        if !(self.offbeat_weight.is_finite() && (0.0..=100.0).contains(&self.offbeat_weight)) {
            return bad(format!(
                "offbeat_weight must be in [0, 100], got {}",
                self.offbeat_weight
            ));
        }
        if !(self.max_gain_db.is_finite() && self.max_gain_db >= 0.0)
            || self.max_pitch_shift_bins > 24
        {
            return bad("max_gain_db must be ≥ 0 and max_pitch_shift_bins ≤ 24".into());
        }
        if !(self.tempo_weight.is_finite() && (0.0..=10.0).contains(&self.tempo_weight)) {
            return bad(format!(
                "tempo_weight must be in [0, 10], got {}",
                self.tempo_weight
            ));
        }
        if !self.add_dilations.is_empty() && self.downbeat_head_only {
            return bad("added TCN layers must be trained: not with downbeat_head_only".into());
        }
        if self.tempo_weight > 0.0 && self.downbeat_head_only {
            return bad(
                "a tempo head shapes the shared layers: not with downbeat_head_only".into(),
            );
        }
        if !(self.downbeat_weight.is_finite() && (0.0..=10.0).contains(&self.downbeat_weight)) {
            return bad(format!(
                "downbeat_weight must be in [0, 10], got {}",
                self.downbeat_weight
            ));
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
    /// Downbeat F-measure (±70 ms) of the bars chosen from the downbeat activation at the
    /// decoded beats, over the songs with known downbeats; `None` without a downbeat head.
    #[serde(default)]
    pub downbeat_f: Option<f64>,
    /// Mean tempo-head cross-entropy of the training steps since the previous validation;
    /// `None` without a tempo head.
    #[serde(default)]
    pub tempo_loss: Option<f64>,
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
    /// The tempo head's loss of every step (empty without one).
    #[serde(default)]
    pub tempo_losses: Vec<f32>,
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
        let mut network = match &config.init_from {
            Some(path) => {
                let loaded = load_model_on(path, &ad)?;
                config.model = loaded.config().clone();
                loaded.network
            }
            None => ZeroNs::new(&config.model, &ad)?,
        };
        if !config.add_dilations.is_empty() {
            config.model = config
                .model
                .clone()
                .with_extra_dilations(&config.add_dilations)?;
            network = network.grown_to(&config.model, &ad)?;
        }
        if config.downbeat_weight > 0.0 && !network.has_downbeat_head() {
            config.model = config.model.clone().with_downbeat_head()?;
            network = network.with_downbeat_heads(&ad);
        }
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
            tempo_losses: Vec::new(),
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
    let mut tempo = if cfg.tempo_weight > 0.0 {
        let channels = network.feature_channels().ok_or_else(|| {
            Error::Config("base training: the tempo head needs the lite architecture".into())
        })?;
        let head_optim = || AdamConfig::new().init();
        Some(if state.global_step > 0 {
            let head = TempoHead::load(&last_dir.join(tempo::HEAD_FILE), channels, &ad)?;
            let path = last_dir.join(tempo::HEAD_OPTIM_FILE);
            let optim = head_optim().load(&path).map_err(|e| {
                Error::InvalidInput(format!("cannot load {}: {e:?}", path.display()))
            })?;
            (head, optim)
        } else {
            (
                TempoHead::new(channels, mix(cfg.seed ^ 0x7e3d0), &ad),
                head_optim(),
            )
        })
    } else {
        None
    };
    let started = Instant::now();
    let (start_step, elapsed0) = (state.global_step, state.elapsed_s);
    let best_dir = run_dir.join(BEST);
    let provenance = |state: &BaseTrainState| Provenance {
        method: "trained-beats".into(),
        data: Some(state.data.clone()),
        steps: Some(state.global_step),
        notes: Some(format!(
            "zerons train: every layer, from {}; Adam lr {}, batch {} × {} frames, pitch ±{}, \
             gain ±{} dB, mask p {}, off-beat weight {}, downbeat weight {}{}, tempo weight {}, \
             seed {}",
            cfg.init_from
                .as_ref()
                .map_or("a cold start".to_string(), |p| p.display().to_string()),
            cfg.learning_rate,
            cfg.batch_size,
            cfg.crop_frames,
            cfg.max_pitch_shift_bins,
            cfg.max_gain_db,
            cfg.mask_probability,
            cfg.offbeat_weight,
            cfg.downbeat_weight,
            if cfg.downbeat_head_only {
                " (downbeat heads only, the rest frozen)"
            } else {
                ""
            },
            cfg.tempo_weight,
            cfg.seed
        )),
        ..Default::default()
    };
    // `last/` gets the optimiser and the tempo head to resume with; `best/` neither.
    let checkpoint = |dir: &Path,
                      net: &ZeroNs,
                      optim: Option<&burn::optim::ModuleOptimizer>,
                      tempo: Option<&(TempoHead, burn::optim::ModuleOptimizer)>,
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
        let extra = |tmp: &Path| -> Result<()> {
            if let Some((head, head_optim)) = tempo {
                head.save(&tmp.join(tempo::HEAD_FILE))?;
                let path = tmp.join(tempo::HEAD_OPTIM_FILE);
                head_optim.save(&path).map_err(|e| {
                    Error::InvalidInput(format!("cannot save {}: {e:?}", path.display()))
                })?;
            }
            Ok(())
        };
        write_checkpoint(dir, &model, optim, &json, &extra)
    };

    // The starting point's score, so that "best" means better than where it started.
    if state.valid_history.is_empty() {
        let v = validate_base(&network.valid(), valid, &cfg, halo, &tracker, &plain)?;
        tracing::info!(?v, "validation before training");
        state.best = Some(v.clone());
        state.valid_history.push(v);
        checkpoint(&best_dir, &network, None, None, &state)?;
    }
    let mut cancelled = false;
    while state.global_step < cfg.max_steps {
        let s = mix(cfg.seed ^ mix(state.global_step));
        let batch = draw_batch(train, &cumulative, &cfg, s);
        let n = cfg.crop_frames;
        let b = cfg.batch_size;
        ad.seed(mix(s ^ 0x5eed));
        let (beat_loss, downbeat) = if cfg.downbeat_head_only {
            // The frozen part runs without autodiff (no graph is kept for it); only the heads
            // see the autodiff device.
            let frozen = network.valid();
            let xa = Tensor::<4>::from_data(TensorData::new(batch.anchor, [b, 1, 96, n]), &plain);
            let xp = Tensor::<4>::from_data(TensorData::new(batch.postve, [b, 1, 96, n]), &plain);
            let downbeat = frozen.head_features(xa, xp).and_then(|(fa, fp)| {
                let fa = Tensor::<3>::from_data(fa.into_data(), &ad);
                let fp = Tensor::<3>::from_data(fp.into_data(), &ad);
                network.downbeat_from_features(fa, fp)
            });
            (None, downbeat)
        } else {
            let xa = Tensor::<4>::from_data(TensorData::new(batch.anchor, [b, 1, 96, n]), &ad);
            let xp = Tensor::<4>::from_data(TensorData::new(batch.postve, [b, 1, 96, n]), &ad);
            let (out, tempo_term) = match &tempo {
                Some((head, _)) => {
                    let (out, fa, fp) = network.forward_with_features(xa, xp).ok_or_else(|| {
                        Error::Config("base training: the tempo head needs lite branches".into())
                    })?;
                    let logits = head.forward(fa, fp);
                    let t = tempo::tempo_loss(logits, &batch.tempo_target, &batch.tempo_mask, &ad);
                    (out, Some(t))
                }
                None => (network.forward(xa, xp), None),
            };
            let loss = masked_bce(out.combined, &batch.target, &batch.mask, [b, n], &ad);
            if let Some(t) = tempo_term {
                state.tempo_losses.push(scalar(t.clone()));
                (Some(loss + t * cfg.tempo_weight), out.downbeat)
            } else {
                (Some(loss), out.downbeat)
            }
        };
        let mut loss = beat_loss.unwrap_or_else(|| Tensor::<1>::zeros([1], &ad));
        if let Some(downbeat) = downbeat.filter(|_| cfg.downbeat_weight > 0.0) {
            let d = masked_bce(
                downbeat,
                &batch.downbeat_target,
                &batch.downbeat_mask,
                [b, n],
                &ad,
            );
            loss = loss + d * cfg.downbeat_weight;
        }
        let value = scalar(loss.clone());
        if !value.is_finite() {
            return Err(Error::InvalidInput(format!(
                "base training: the loss became {value} at step {} (lower the learning rate)",
                state.global_step
            )));
        }
        let mut grads = loss.backward();
        tempo = tempo.map(|(head, mut head_optim)| {
            let head_grads = GradientsParams::from_module(&mut grads, &head);
            (head_optim.step(TEMPO_HEAD_LR, head, head_grads), head_optim)
        });
        let grads = GradientsParams::from_grads(grads, &network);
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
            if tempo.is_some() {
                let k = k.min(state.tempo_losses.len());
                v.tempo_loss = Some(mean(&state.tempo_losses[state.tempo_losses.len() - k..]));
            }
            tracing::info!(?v, "validation");
            state.valid_history.push(v.clone());
            let better = state.best.as_ref().is_none_or(|b| {
                if cfg.downbeat_head_only {
                    // The beats do not move: the downbeats decide.
                    v.downbeat_f.unwrap_or(0.0) > b.downbeat_f.unwrap_or(0.0)
                } else {
                    v.f_measure > b.f_measure || (v.f_measure == b.f_measure && v.loss < b.loss)
                }
            });
            if better {
                state.best = Some(v.clone());
                checkpoint(&best_dir, &network, None, None, &state)?;
            }
            report = Some(v);
        }
        if done || cancelled || state.global_step.is_multiple_of(cfg.checkpoint_every_steps) {
            checkpoint(&last_dir, &network, Some(&optim), tempo.as_ref(), &state)?;
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

/// Adam rate of the freshly initialised tempo head (Adam's usual 1e-3).
const TEMPO_HEAD_LR: f64 = 1e-3;

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
    let (mut downbeat_sum, mut downbeat_songs) = (0.0, 0usize);
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
        let out = network.forward(cut(&song.non_percussive), cut(&song.percussive));
        let read = |t: Tensor<2>| -> Result<Vec<f32>> {
            let v: Vec<f32> = t
                .try_to_vec_as::<f32>()
                .map_err(|e| Error::Model(format!("cannot read the network's output: {e:?}")))?;
            Ok(v[r0 - e0..r1 - e0].to_vec())
        };
        let scored = read(out.combined)?;
        let downbeat_curve = out.downbeat.map(read).transpose()?;
        let t0 = r0 as f64 / FPS;
        let window_s = (r1 - r0) as f64 / FPS;
        let inside = |times: &[f64]| -> Vec<f64> {
            times
                .iter()
                .map(|b| b - t0)
                .filter(|b| *b >= 0.0 && *b < window_s)
                .collect()
        };
        let reference = inside(&song.beats_s);
        let mut target = vec![0f32; scored.len()];
        place_targets(&mut target, &reference, 0, cfg.neighbour_target);
        let len = scored.len();
        let est = tracker.track(&Activation::new(scored.clone(), FPS))?;
        let sc = evaluate(&reference, &est, &eval_cfg)?;
        let reference_downbeats = inside(&song.downbeats_s);
        if let Some(curve) = downbeat_curve.filter(|_| !reference_downbeats.is_empty()) {
            let bars = choose_meter(&est, &Activation::new(curve, FPS), &MeterConfig::default())?;
            let est_downbeats: Vec<f64> = bars.map_or_else(Vec::new, |b| {
                est.iter()
                    .zip(&b.positions)
                    .filter(|(_, p)| **p == 1)
                    .map(|(t, _)| *t)
                    .collect()
            });
            let f = f_measure(&reference_downbeats, &est_downbeats, 0.07)?;
            downbeat_sum += f;
            downbeat_songs += 1;
        }
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
    v.downbeat_f = (downbeat_songs > 0).then(|| downbeat_sum / downbeat_songs as f64);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::crops::click_song;

    /// The small lite network of these tests (8 channels, two dilations, no dropout).
    fn tiny_lite() -> ModelConfig {
        use crate::model::{Architecture, Combine, LiteConfig};
        ModelConfig {
            architecture: Architecture::Lite(LiteConfig {
                stem_channels: 0,
                channels: 8,
                dilations: vec![1, 2],
                dropout: 0.0,
                ..LiteConfig::default()
            }),
            combine: Combine::Max,
        }
    }

    /// A freshly initialised `model` saved in `dir/init`, to start runs from.
    fn save_init(model: &ModelConfig, device: &Device, dir: &Path) -> PathBuf {
        let init = LoadedModel::new(
            ZeroNs::new(model, device).expect("network"),
            model.clone(),
            Provenance::default(),
            None,
            device.clone(),
        );
        let init_dir = dir.join("init");
        crate::model::save_model(&init, &init_dir).expect("saved");
        init_dir
    }

    /// A tiny network on click tracks: the loss falls, validation runs, `best/` and `last/`
    /// are written, and a resumed run continues from the checkpoint to the new step count.
    #[test]
    fn a_tiny_network_learns_clicks_and_a_run_resumes() {
        use crate::model::load_model;
        let dir = tempfile::tempdir().expect("temp dir");
        let train = vec![
            click_song("a", 1200, 31),
            click_song("b", 1200, 26),
            click_song("c", 1200, 37),
        ];
        let valid = vec![click_song("v", 1200, 29)];
        let cfg = BaseTrainConfig {
            model: tiny_lite(),
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

    /// `add_dilations` grows a trained lite model by residual TCN layers: the grown network
    /// starts near the one it grew from (its activation moves by less than 0.1), the saved
    /// model lists the new dilations and a longer receptive field, it trains and resumes, and a
    /// config that does not extend the branch's layers is refused.
    #[test]
    fn added_tcn_layers_start_near_the_init_and_train() {
        use crate::model::load_model;
        let _rng = crate::test_rng_lock();
        let dir = tempfile::tempdir().expect("temp dir");
        let device = Device::default();
        device.seed(5);
        let model = tiny_lite();
        let init_dir = save_init(&model, &device, dir.path());
        let init = load_model_on(&init_dir, &device).expect("init");
        let grown_cfg = model.clone().with_extra_dilations(&[4, 8]).expect("grown");
        assert_eq!(
            grown_cfg.half_receptive_field_frames(),
            1 + 2 * (1 + 2 + 4 + 8)
        );
        let grown = init
            .network
            .clone()
            .grown_to(&grown_cfg, &device)
            .expect("grown network");
        let data: Vec<f32> = (0..96 * 400)
            .map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 8.0)
            .collect();
        let x = || Tensor::<4>::from_data(TensorData::new(data.clone(), [1, 1, 96, 400]), &device);
        let before = init.network.forward(x(), x()).combined;
        let after = grown.forward(x(), x()).combined;
        let moved = scalar((after - before).abs().max());
        // Layers at full scale (the default init) move it by 0.18–0.27 on this network.
        assert!(moved > 0.0 && moved < 0.1, "activation moved by {moved}");
        // The grown config must extend the branch: other kernels or fewer layers are refused.
        assert!(
            init.network
                .clone()
                .grown_to(&tiny_lite_with(&[1]), &device)
                .is_err()
        );
        assert!(
            init.network
                .clone()
                .grown_to(&tiny_lite_with(&[2, 1, 4]), &device)
                .is_err()
        );

        let train = vec![click_song("a", 1200, 31), click_song("b", 1200, 26)];
        let valid = vec![click_song("v", 1200, 29)];
        let cfg = BaseTrainConfig {
            init_from: Some(init_dir),
            add_dilations: vec![4, 8],
            learning_rate: 3e-3,
            batch_size: 2,
            crop_frames: 300,
            max_steps: 6,
            valid_every_steps: 6,
            checkpoint_every_steps: 3,
            ..BaseTrainConfig::default()
        };
        let cancel = CancelToken::new();
        let run = dir.path().join("run");
        let s = train_base(&train, &valid, &run, &cfg, false, &device, &cancel, |_| {})
            .expect("trained");
        let saved = load_model(run.join(LAST)).expect("saved");
        assert!(!s.cancelled);
        assert_eq!(saved.config(), &grown_cfg);
        let more = BaseTrainConfig {
            max_steps: 8,
            ..cfg.clone()
        };
        let r = train_base(&train, &valid, &run, &more, true, &device, &cancel, |_| {})
            .expect("resumed");
        assert_eq!(r.state.global_step, 8);
        assert_eq!(
            load_model(run.join(LAST)).expect("resumed model").config(),
            &grown_cfg
        );
        // Not with a frozen network.
        let frozen = BaseTrainConfig {
            downbeat_head_only: true,
            downbeat_weight: 1.0,
            ..cfg
        };
        assert!(frozen.validate().is_err());
    }

    /// [`tiny_lite`] with other dilations.
    fn tiny_lite_with(dilations: &[usize]) -> ModelConfig {
        let mut m = tiny_lite();
        if let crate::model::Architecture::Lite(c) = &mut m.architecture {
            c.dilations = dilations.to_vec();
        }
        m
    }

    /// With a tempo weight, a tempo head is trained beside the beats: its loss falls on click
    /// tracks of three tempi, the head and its Adam state are kept in `last/` (not in the
    /// model), and a resumed run continues with them exactly as the uninterrupted run did.
    #[test]
    fn a_tempo_head_learns_the_tempi_and_resumes_with_the_run() {
        use crate::model::load_model;
        let _rng = crate::test_rng_lock();
        let dir = tempfile::tempdir().expect("temp dir");
        let train = vec![
            click_song("a", 1200, 31),
            click_song("b", 1200, 22),
            click_song("c", 1200, 45),
        ];
        let valid = vec![click_song("v", 1200, 29)];
        let model = tiny_lite();
        // Both runs start from one saved network (no draw from burn's global RNG during the
        // runs: no dropout, and the head is seeded on its own).
        let device = Device::default();
        let init_dir = save_init(&model, &device, dir.path());
        let cfg = BaseTrainConfig {
            init_from: Some(init_dir),
            model,
            learning_rate: 3e-3,
            batch_size: 2,
            crop_frames: 300,
            max_steps: 60,
            tempo_weight: 1.0,
            valid_every_steps: 30,
            checkpoint_every_steps: 10,
            ..BaseTrainConfig::default()
        };
        let cancel = CancelToken::new();
        let run = dir.path().join("run");
        let s = train_base(&train, &valid, &run, &cfg, false, &device, &cancel, |_| {})
            .expect("trained");
        let t = &s.state.tempo_losses;
        assert_eq!(t.len(), 60);
        let (first, last) = (mean(&t[..10]), mean(&t[t.len() - 10..]));
        assert!(last < first - 0.05, "tempo loss {first:.3} -> {last:.3}");
        let reported = s.state.valid_history.last().and_then(|v| v.tempo_loss);
        assert!(reported.is_some_and(|x| x.is_finite()), "{reported:?}");
        let last_dir = run.join(LAST);
        assert!(last_dir.join(tempo::HEAD_FILE).is_file());
        assert!(last_dir.join(tempo::HEAD_OPTIM_FILE).is_file());
        assert!(!s.best_dir.join(tempo::HEAD_FILE).exists());
        assert!(load_model(&last_dir).is_ok());

        // Stopping at 40 and resuming to 60 gives the uninterrupted run's losses.
        let split = dir.path().join("split");
        let part = BaseTrainConfig {
            max_steps: 40,
            ..cfg.clone()
        };
        train_base(
            &train,
            &valid,
            &split,
            &part,
            false,
            &device,
            &cancel,
            |_| {},
        )
        .expect("first part");
        let r = train_base(&train, &valid, &split, &cfg, true, &device, &cancel, |_| {})
            .expect("resumed");
        assert_eq!(r.state.tempo_losses.len(), 60);
        for (a, b) in r.state.tempo_losses.iter().zip(t) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // A weight outside [0, 10] is refused.
        let bad = BaseTrainConfig {
            tempo_weight: -1.0,
            ..cfg
        };
        assert!(bad.validate().is_err());
    }

    /// With a downbeat weight, a model without a downbeat head (a cold start here, lite v1/v2
    /// in practice) gets one, the head learns the accented bar clicks, the validation scores
    /// the chosen bars, and the saved model carries the head in its weights and config.
    #[test]
    fn a_downbeat_head_is_added_and_learns_the_bars() {
        use crate::model::load_model;
        let _rng = crate::test_rng_lock();
        let dir = tempfile::tempdir().expect("temp dir");
        let train = vec![click_song("a", 1200, 31), click_song("b", 1200, 26)];
        let valid = vec![click_song("v", 1500, 29)];
        let cfg = BaseTrainConfig {
            model: tiny_lite(),
            learning_rate: 3e-3,
            batch_size: 2,
            crop_frames: 300,
            max_steps: 60,
            valid_every_steps: 60,
            downbeat_weight: 1.0,
            ..BaseTrainConfig::default()
        };
        assert!(!cfg.model.has_downbeat_head());
        let run = dir.path().join("run");
        let s = train_base(
            &train,
            &valid,
            &run,
            &cfg,
            false,
            &Device::default(),
            &CancelToken::new(),
            |_| {},
        )
        .expect("trained");
        assert!(s.state.config.model.has_downbeat_head());
        let last = s.state.valid_history.last().expect("validated");
        let f = last.downbeat_f.expect("a downbeat score");
        assert!(f >= 0.9, "downbeat F {f:.3} after 60 steps");
        let loaded = load_model(run.join("last")).expect("saved model");
        assert!(loaded.network.has_downbeat_head());
        assert!(loaded.config().has_downbeat_head());
        // A weight out of range is refused before any work.
        let bad = BaseTrainConfig {
            downbeat_weight: f64::NAN,
            ..cfg
        };
        assert!(bad.validate().is_err());
    }

    /// `downbeat_head_only`: a model gets downbeat heads trained on its frozen features; its
    /// beat output is exactly the init model's, and the run needs a model to start from.
    #[test]
    fn a_downbeat_head_only_run_leaves_the_beats_exactly() {
        let _rng = crate::test_rng_lock();
        let dir = tempfile::tempdir().expect("temp dir");
        let device = Device::default();
        let model = tiny_lite();
        device.seed(11);
        let init_dir = save_init(&model, &device, dir.path());
        let train = vec![click_song("a", 1200, 31), click_song("b", 1200, 26)];
        let valid = vec![click_song("v", 1500, 29)];
        let cfg = BaseTrainConfig {
            init_from: Some(init_dir.clone()),
            learning_rate: 1e-2,
            batch_size: 2,
            crop_frames: 300,
            max_steps: 20,
            valid_every_steps: 20,
            downbeat_weight: 1.0,
            downbeat_head_only: true,
            ..BaseTrainConfig::default()
        };
        let run = dir.path().join("run");
        let s = train_base(
            &train,
            &valid,
            &run,
            &cfg,
            false,
            &device,
            &CancelToken::new(),
            |_| {},
        )
        .expect("trained");
        let losses = &s.state.step_losses;
        assert!(
            mean(&losses[losses.len() - 5..]) < mean(&losses[..5]),
            "{losses:?}"
        );
        let trained = load_model_on(run.join("last"), &device).expect("saved model");
        assert!(trained.network.has_downbeat_head());
        let x = || {
            let song = &valid[0];
            let t = |s: &Spectrogram| {
                Tensor::<4>::from_data(
                    TensorData::new(s.data.clone(), [1, 1, 96, s.n_frames]),
                    &device,
                )
            };
            (t(&song.non_percussive), t(&song.percussive))
        };
        let beats = |net: &ZeroNs| {
            let (a, p) = x();
            net.valid()
                .forward(a, p)
                .combined
                .try_to_vec_as::<f32>()
                .expect("values")
        };
        let before = beats(&load_model_on(&init_dir, &device).expect("init").network);
        assert_eq!(beats(&trained.network), before, "the beat output moved");
        // Without a model to start from, the mode is refused.
        let bad = BaseTrainConfig {
            init_from: None,
            ..cfg
        };
        assert!(bad.validate().is_err());
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
