//! Fine-tuning on the user's corrected beats (spec §4, the authors' downstream recipe, and §7,
//! the cached-trunk shortcut), with an honest before/after on held-out beats.
//!
//! **Targets and loss (authors):** for each annotated beat b, frame k = round(62.5·b) gets 1
//! and k ± 1 get 0.5 (a 1 is never lowered by a neighbour's 0.5); binary cross-entropy between
//! the max-combined output and that target, averaged over the *annotated* frames only
//! (a user often corrects only the first 30–60 s: the rest of the song is not "no beat").
//! One optimiser step per song per epoch (batch size 1, as the authors), song order shuffled
//! from the seed each epoch, dropout active.
//!
//! **Annotated region** of a song: from half a beat before its first annotated beat (or 0)
//! to `annotated_until_s` if given, else half a beat after its last annotated beat.
//!
//! **Modes** ([`FinetuneMode`]): `heads` trains only the two 1×1 heads; `top` trains the
//! upper layers ([`FinetuneConfig::top_layers`]) and the heads on features of the frozen lower
//! part computed once per song and cached (what makes CPU fine-tuning take seconds); `full`
//! trains everything from the log-VQT. Default `top` for both architectures: for `lite` the
//! last 3 of the 6 TCN layers (dilations 8, 16, 32: they set the tempo-scale context, while
//! the stem and lower layers keep the pretrained onset features) and every layer grown above
//! them (lite v4: dilations 64 and 128, so its last 5 of 8; [`LITE_V1_TOP_LAYERS`]), for `paper` cv7 + cv8
//! (spec §7: 1.16 M parameters, ≈ 180× cheaper than full). Measured on the 15 development
//! songs where the shipped `lite` is weakest, first 30 s annotated, mean F on the rest:
//! `heads` 0.634, `top` with 1 layer 0.707, `top` (3) 0.908, `full` 0.933 at 2–3× the time.
//! On all 38 songs `full` is below `top` (0.952 against 0.958): it over-fitted one song the
//! base already tracked (held-out F 1.0 before and after, rest 0.997 → 0.402)
//! (`assets/MODEL_CARD.md`).
//!
//! **Validation without a labelled set:** [`FinetuneConfig::holdout_fraction`] of each song's
//! annotated region is held out: its end, and when the share reaches two
//! [`FinetuneConfig::holdout_block_s`] blocks, blocks spread evenly over the region. A user who
//! corrected a minute of a song whose sections differ (the base right in one, on the off-beat
//! in another) is then validated on both: measured on `war_of_freedom` with 60 s annotated, a
//! single block at 48–60 s lay where the base was already right, so early stopping kept the
//! base's epoch-1 weights that were wrong over the first 40 s. Each epoch the model is run on the held-out spans,
//! each span is decoded alone with the DBN, and the mean F-measure (mir_eval, no 5 s trim)
//! over songs drives early stopping (patience from the paper: 20 epochs); ties go to the lower
//! held-out loss. The base model is scored the same way before training, so the before/after
//! compares the same beats. With fewer than [`FinetuneConfig::min_holdout_beats`] held-out beats
//! in all, nothing is held out and a fixed budget of [`FinetuneConfig::fixed_epochs`] is run;
//! the outcome then says it is unvalidated.
//!
//! **Keeping the rest** ([`FinetuneConfig::rest_weight`], off by default; the app's *only
//! where the music resembles my corrections*): a learning-without-forgetting term. Each epoch,
//! a chunk of each song's unannotated audio (as long as its annotated window, drawn from the
//! seed) goes through the trained layers, and its BCE against the base model's own output there
//! (computed once, from the cached lower layers of the whole song) is added with this weight.
//! The corrections then change the network where the music resembles them and leave it where
//! it differs. Measured with weight 1, first 30 s annotated, mean F on the rest: the six
//! Frets on Fire songs, whose sections differ, 0.803 → **0.942** (war_of_freedom 0.49 → 0.98,
//! feelings 0.72 → 0.99, mutilated_mime 0.93 → 0.99); but songs where the base is wrong
//! everywhere stay wrong (metal-rit 0.05, blupi-008 0.00), so on all 38 songs 0.896 against
//! 0.958 without it. Hence an option, for the songs the suggestions show flipping by section.
//!
//! **Bars** (issue 21), when the base model has a downbeat head: its head is trained with the
//! beat head (it is part of every mode's trained top), on the downbeats of the songs whose beats
//! the user numbered in the bar ([`AnnotatedSong::with_positions`]: "this is beat 1" teaches
//! the bar phase) and, on the other songs, towards the base model's own downbeat curve over the
//! window, so that training the beats does not drift the bars
//! ([`FinetuneConfig::downbeat_weight`]). When the base model has a bar classifier
//! ([`crate::model::bars`]), the numbered songs also fine-tune it from the parent's weights,
//! the tail of each song's beats held out and the parent kept unless an epoch beats it there
//! ([`FinetuneConfig::bars`], [`FinetuneOutcome::bars`]).
//!
//! **Guard against getting worse** (the paper's SMC→GTZAN drop): the result carries
//! [`FinetuneOutcome::improved`], true only if the held-out F-measure went up (or stayed equal
//! with a lower held-out loss); callers keep the base model active otherwise.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::eval::{EvalConfig, evaluate};
use crate::features::Spectrogram;
use crate::model::soup::interpolate;
use crate::model::{Branch, BranchTop, Combine, FINETUNED_METHOD, LoadedModel, Provenance, ZeroNs};
use crate::pipeline::CancelToken;
use crate::tracking::Activation;
use crate::tracking::dbn::{DbnBeatTracker, DbnConfig};
use crate::{Error, Result};

use super::bars::{BarSong, BarsFinetuneConfig, BarsFinetuneReport, finetune_bars};
use super::base::{masked_bce, scalar};
use super::corpus::mix;
use super::crops::place_targets;

/// Frames per second of the network's input and output (spec §1).
const FPS: f64 = 62.5;

/// Trunk layers `top` mode trains by default in lite v1's six-layer trunk (dilations 8, 16 and
/// 32; measured on v2 and kept for v3, module docs). Layers grown above those six
/// (`zerons train --add-dilations`) are trained too: for lite v4, dilations 8 to 128. On the
/// development benchmark's dev split (DEVSET rules 13–14, 70 songs, first 30 s corrected, rest
/// of each song scored with the decoder continuing the corrections) v4 with only its last three
/// layers (32, 64, 128) reached F 0.932, with five 0.972 (four: 0.958).
pub const LITE_V1_TOP_LAYERS: usize = 3;
/// TCN layers of lite v1's trunk.
const LITE_V1_TCN_LAYERS: usize = 6;

/// What is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinetuneMode {
    /// Only the two 1×1 heads (the authors' `frozen` mode).
    Heads,
    /// The top layers and the heads, on cached features of the frozen lower part.
    Top,
    /// Every layer (the authors' `finetune` mode).
    Full,
}

impl FinetuneMode {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            FinetuneMode::Heads => "heads",
            FinetuneMode::Top => "top",
            FinetuneMode::Full => "full",
        }
    }
}

/// Settings of a fine-tuning run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FinetuneConfig {
    /// What is trained (default `top`, see the module docs).
    pub mode: FinetuneMode,
    /// Trunk layers trained in `top` mode; `None` = for lite the layers of dilations 8, 16
    /// and 32 and every layer grown above them (3 of lite v1–v3's six, 5 of lite v4's eight:
    /// [`LITE_V1_TOP_LAYERS`]), 2 (cv7, cv8) for paper.
    pub top_layers: Option<usize>,
    /// Adam learning rate; `None` = the mode's default: 1e-3 for heads and top (small
    /// layers on cached features; measured on the development songs), 2e-4 for full. The
    /// authors' 5e-7 was for 500 epochs over hundreds of songs with the 13.4 M-parameter net.
    pub learning_rate: Option<f64>,
    /// Upper bound on epochs (paper: 500; ours 200, each epoch being one step per song).
    pub max_epochs: usize,
    /// Upper bound on epochs × annotated seconds (all songs together): a run stops after at
    /// most ⌊`epoch_budget_s` / annotated seconds⌋ epochs (at least 1), since its time grows
    /// with both. 18,000 s keeps ten songs × 30 s under the 2 minutes with `top`
    /// mode's five layers of lite v4 (about 61 epochs; measured 96 s for 60 epochs on 2 CPU
    /// cores, DEVSET rule 15) and leaves one song of up to 90 s its full `max_epochs`.
    pub epoch_budget_s: f64,
    /// Stop after this many epochs without a better held-out score (paper: 20).
    pub patience_epochs: usize,
    /// Early stopping never ends a run before this epoch; `None` = the mode's default: 60 for
    /// full, none for heads and top. In full mode the held-out F-measure often stays flat (or
    /// dips) for more than `patience_epochs` epochs while the whole network moves at its lower
    /// learning rate: on the 15 development songs where the base is weaker, 30 s corrected,
    /// a floor of 60 epochs took full mode from 0.911 to 0.933 (mma-poprock had stopped at
    /// epoch 21 keeping the base: 0.659 → 0.989). Top mode gained nothing from more patience
    /// (40 epochs: 0.907 against 0.908).
    pub min_epochs: Option<usize>,
    /// Epochs run when there is too little annotation to hold any out.
    pub fixed_epochs: usize,
    /// Fraction of each annotated region held out for validation.
    pub holdout_fraction: f64,
    /// The held-out share of a region is split into blocks at least this long, spread evenly
    /// over the region (each closes one of ⌊share / block⌋ equal parts; the last ends the
    /// region), so that validation sees every section the user corrected, not only the last.
    /// 30 s annotated → one 6-s block at the end; 60 s → 6 s at 24–30 s and at 54–60 s.
    pub holdout_block_s: f64,
    /// Below this many held-out beats in all, nothing is held out (fixed budget instead).
    pub min_holdout_beats: usize,
    /// Weight of the keep-the-rest term (0 = off; `heads`/`top` modes only): each epoch, a
    /// chunk of each song's *unannotated* audio as long as its annotated window is run through
    /// the trained layers, and the BCE between that output and the base model's own output
    /// there is added to the loss with this weight, so that what the corrections teach is
    /// applied where the music resembles the corrected part, not everywhere.
    pub rest_weight: f64,
    /// How much of the trained change is kept: the trained layers end at
    /// `base + λ × (trained − base)` for one λ of these, each in (0, 1]. WiSE-FT (Wortsman et
    /// al., "Robust fine-tuning of zero-shot models", CVPR 2022) keeps part of the base this way
    /// so that what a few corrected seconds teach costs less elsewhere. With several, each is
    /// scored on the held-out beats and the smallest λ whose held-out F equals the best of them
    /// is kept (without held-out beats, the largest). The held-out scores reported and the
    /// adoption guard are the kept model's. `[1.0]` = as trained. Default 0.25, 0.5 and 1
    /// (DEVSET rule 27: with the first 30 s of each song corrected, the rest's continued F on
    /// the 63 test songs 0.900 → 0.914 and songs worse than before fine-tuning 6 → 3; dev 0.971
    /// → 0.977, 8 → 4).
    pub interpolations: Vec<f64>,
    /// Weight of the downbeat term when the base model has a downbeat head (0 = the head is
    /// left as the trained layers below it make it). A song whose beats the user numbered in
    /// the bar ([`AnnotatedSong::with_downbeats`]) teaches its downbeats; a song without
    /// numbers keeps the base model's own downbeat curve over its window as the target, so
    /// that training the beats does not drift the bars.
    pub downbeat_weight: f64,
    /// How the bar classifier, when the model has one, learns the bars of the songs whose
    /// beats the user numbered ([`crate::train::bars::finetune_bars`]).
    pub bars: BarsFinetuneConfig,
    /// Seed of the song order and dropout.
    pub seed: u64,
    /// The beat decoder used for validation (madmom's DBN settings of the authors' evaluation).
    pub tracker: DbnConfig,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            mode: FinetuneMode::Top,
            top_layers: None,
            learning_rate: None,
            max_epochs: 200,
            epoch_budget_s: 18_000.0,
            patience_epochs: 20,
            min_epochs: None,
            fixed_epochs: 40,
            holdout_fraction: 0.2,
            holdout_block_s: 6.0,
            min_holdout_beats: 8,
            rest_weight: 0.0,
            interpolations: vec![0.25, 0.5, 1.0],
            downbeat_weight: 1.0,
            bars: BarsFinetuneConfig::default(),
            seed: 0,
            tracker: DbnConfig::default(),
        }
    }
}

impl FinetuneConfig {
    /// The learning rate in effect.
    pub fn effective_learning_rate(&self) -> f64 {
        self.learning_rate.unwrap_or(match self.mode {
            FinetuneMode::Heads | FinetuneMode::Top => 1e-3,
            FinetuneMode::Full => 2e-4,
        })
    }

    /// The epoch before which early stopping cannot end a run.
    pub fn effective_min_epochs(&self) -> usize {
        self.min_epochs.unwrap_or(match self.mode {
            FinetuneMode::Heads | FinetuneMode::Top => 0,
            FinetuneMode::Full => 60,
        })
    }

    /// The keep-the-rest weight the app's *only where the music resembles my corrections*
    /// uses: the annotated and the rest term weigh the same (measured in the module docs).
    pub const KEEP_REST_WEIGHT: f64 = 1.0;

    /// The epoch bound of a run over `annotated_s` seconds of annotation in all (`validated`:
    /// with held-out beats, else the fixed budget): the mode's count, capped by
    /// [`Self::epoch_budget_s`].
    pub fn epoch_bound(&self, validated: bool, annotated_s: f64) -> usize {
        let epochs = if validated {
            self.max_epochs
        } else {
            self.fixed_epochs
        };
        if annotated_s > 0.0 && annotated_s.is_finite() {
            let cap = (self.epoch_budget_s / annotated_s).floor();
            if cap < epochs as f64 {
                return (cap as usize).max(1);
            }
        }
        epochs
    }

    /// The trained trunk layers for `branch` in this mode.
    fn top_layers_for(&self, branch: &Branch) -> usize {
        match self.mode {
            FinetuneMode::Heads => 0,
            FinetuneMode::Top => self.top_layers.unwrap_or(match branch {
                Branch::Lite(_) => {
                    LITE_V1_TOP_LAYERS + branch.max_top_layers().saturating_sub(LITE_V1_TCN_LAYERS)
                }
                Branch::Paper(_) => 2,
            }),
            FinetuneMode::Full => branch.max_top_layers(),
        }
    }

    /// Whether a run steps back toward the base (any `interpolations` besides keeping all).
    pub fn interpolates(&self) -> bool {
        self.interpolations != [1.0]
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("fine-tuning: {m}")));
        let lr = self.effective_learning_rate();
        if !(lr > 0.0 && lr < 1.0) {
            return bad(format!("learning_rate must be in (0, 1), got {lr}"));
        }
        if !(self.rest_weight.is_finite() && self.rest_weight >= 0.0) {
            return bad(format!("rest_weight must be ≥ 0, got {}", self.rest_weight));
        }
        if self.interpolations.is_empty()
            || self.interpolations.iter().any(|l| !(*l > 0.0 && *l <= 1.0))
        {
            return bad(format!(
                "interpolations must be one or more values in (0, 1], got {:?}",
                self.interpolations
            ));
        }
        if !(self.downbeat_weight.is_finite() && (0.0..=10.0).contains(&self.downbeat_weight)) {
            return bad(format!(
                "downbeat_weight must be in [0, 10], got {}",
                self.downbeat_weight
            ));
        }
        if self.max_epochs == 0 || self.fixed_epochs == 0 {
            return bad("max_epochs and fixed_epochs must be positive".into());
        }
        if !(self.epoch_budget_s.is_finite() && self.epoch_budget_s > 0.0) {
            return bad(format!(
                "epoch_budget_s must be positive, got {}",
                self.epoch_budget_s
            ));
        }
        if !(0.0..0.9).contains(&self.holdout_fraction) {
            return bad(format!(
                "holdout_fraction must be in [0, 0.9), got {}",
                self.holdout_fraction
            ));
        }
        if !(self.holdout_block_s.is_finite() && self.holdout_block_s > 0.0) {
            return bad(format!(
                "holdout_block_s must be positive, got {}",
                self.holdout_block_s
            ));
        }
        self.tracker.validate()
    }
}

/// One song with its annotation, ready to train on.
#[derive(Debug, Clone)]
pub struct AnnotatedSong {
    /// A name for reports (usually the file name).
    pub name: String,
    /// Log-VQT of the non-percussive stem (whole song, 62.5 fps).
    pub non_percussive: Spectrogram,
    /// Log-VQT of the percussive stem.
    pub percussive: Spectrogram,
    /// The annotated beats inside [`AnnotatedSong::region_s`], sorted.
    pub beats_s: Vec<f64>,
    /// The annotated span `(start, end)` in seconds.
    pub region_s: (f64, f64),
    /// The downbeats inside the region, when the user numbered the beats in the bar
    /// ([`AnnotatedSong::with_downbeats`]); `None` = bars unknown.
    pub downbeats_s: Option<Vec<f64>>,
}

impl AnnotatedSong {
    /// Builds a song from its features and a beat list: checks the beats (finite, increasing)
    /// and derives the annotated region (module docs). At least 4 beats must fall in it.
    pub fn new(
        name: impl Into<String>,
        non_percussive: Spectrogram,
        percussive: Spectrogram,
        beats_s: &[f64],
        annotated_until_s: Option<f64>,
    ) -> Result<Self> {
        let name = name.into();
        let bad = |m: String| Err(Error::InvalidInput(format!("{name}: {m}")));
        if non_percussive.n_frames != percussive.n_frames {
            return bad("the two stems' spectrograms differ in length".into());
        }
        let duration_s = non_percussive.n_frames as f64 / FPS;
        if let Some(i) = beats_s.iter().position(|b| !b.is_finite() || *b < 0.0) {
            return bad(format!("beat {} is {} (not a time)", i + 1, beats_s[i]));
        }
        if let Some(i) = beats_s.windows(2).position(|w| w[1] <= w[0]) {
            return bad(format!(
                "beats {} and {} are not increasing ({} s, {} s)",
                i + 1,
                i + 2,
                beats_s[i],
                beats_s[i + 1]
            ));
        }
        if let Some(u) = annotated_until_s
            && !(u.is_finite() && u > 0.0)
        {
            return bad(format!("annotated-until must be a positive time, got {u}"));
        }
        let end_limit = annotated_until_s.unwrap_or(f64::INFINITY).min(duration_s);
        let inside: Vec<f64> = beats_s.iter().copied().filter(|b| *b < end_limit).collect();
        if inside.len() < 4 {
            return bad(format!(
                "only {} annotated beats before {:.1} s; at least 4 are needed",
                inside.len(),
                end_limit
            ));
        }
        let mut ibis: Vec<f64> = inside.windows(2).map(|w| w[1] - w[0]).collect();
        ibis.sort_by(f64::total_cmp);
        let half = 0.5 * ibis[ibis.len() / 2];
        let start = (inside[0] - half).max(0.0);
        let end = match annotated_until_s {
            Some(u) => u.min(duration_s),
            None => (inside[inside.len() - 1] + half).min(duration_s),
        };
        Ok(Self {
            name,
            non_percussive,
            percussive,
            beats_s: inside,
            region_s: (start, end),
            downbeats_s: None,
        })
    }

    /// This song with the bars the user set: `positions` numbers every beat given to
    /// [`AnnotatedSong::new`] in its bar (1 = downbeat), as a beat file's position column does.
    /// The downbeats inside the annotated region are kept. A count that does not match is an
    /// error naming the song.
    pub fn with_positions(mut self, beats_s: &[f64], positions: &[u32]) -> Result<Self> {
        if beats_s.len() != positions.len() {
            return Err(Error::InvalidInput(format!(
                "{}: {} beats but {} bar positions",
                self.name,
                beats_s.len(),
                positions.len()
            )));
        }
        let (r0, r1) = self.region_s;
        let downbeats: Vec<f64> = beats_s
            .iter()
            .zip(positions)
            .filter(|(t, p)| **p == 1 && (r0..r1).contains(*t))
            .map(|(t, _)| *t)
            .collect();
        self.downbeats_s = Some(downbeats);
        Ok(self)
    }

    fn n_frames(&self) -> usize {
        self.non_percussive.n_frames
    }
}

/// Held-out scores of one model (means over the songs that have held-out beats).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HeldOutScores {
    /// mir_eval F-measure (±70 ms), no 5 s trim.
    pub f_measure: f64,
    /// Correct metrical level, total.
    pub cmlt: f64,
    /// Any metrical level, total.
    pub amlt: f64,
    /// Masked BCE on the held-out frames.
    pub loss: f64,
    /// Held-out beats scored, in all.
    pub beats: usize,
    /// Per song `(name, F-measure)`.
    pub per_song: Vec<(String, f64)>,
}

/// Metrics of one epoch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FinetuneEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Held-out scores after the epoch (none when unvalidated).
    pub held_out: Option<HeldOutScores>,
}

/// Progress report after each epoch.
#[derive(Debug, Clone)]
pub struct FinetuneProgress {
    /// The epoch just finished.
    pub epoch: FinetuneEpoch,
    /// Epoch bound in effect (`max_epochs` or `fixed_epochs`).
    pub max_epochs: usize,
    /// Best held-out F-measure so far (the base model's before any epoch beat it).
    pub best_f_measure: Option<f64>,
    /// Estimated seconds left (to the epoch bound).
    pub eta_s: f64,
}

/// The result of [`finetune`].
#[derive(Debug)]
pub struct FinetuneOutcome {
    /// The fine-tuned model (best epoch), with its parent and provenance set; not saved.
    pub model: LoadedModel,
    /// The base model's held-out scores (`None` when unvalidated).
    pub before: Option<HeldOutScores>,
    /// The fine-tuned model's held-out scores at its best epoch.
    pub after: Option<HeldOutScores>,
    /// Whether the fine-tuned model did better on the held-out beats (see the module docs).
    /// Always false when unvalidated: nothing shows it is better.
    pub improved: bool,
    /// The epoch kept (1-based).
    pub best_epoch: usize,
    /// The share of the trained change kept (`FinetuneConfig::interpolations`; 1 = as
    /// trained).
    pub interpolation: f64,
    /// Every epoch's metrics.
    pub history: Vec<FinetuneEpoch>,
    /// Seconds spent, preparation of cached features included.
    pub elapsed_s: f64,
    /// The settings used.
    pub config: FinetuneConfig,
    /// The learning rate used.
    pub learning_rate: f64,
    /// Whether `cancel` stopped it (the outcome then holds the best model so far).
    pub cancelled: bool,
    /// What the bar classifier learned from the user's numbered beats (`None`: the model
    /// has no classifier, no song was numbered, or the run was cancelled: the parent's is
    /// kept).
    pub bars: Option<BarsFinetuneReport>,
}

/// The frames of one song that take part in training: a window of the song with a halo of
/// the receptive field around the annotated region, and its masks.
struct SongWindow {
    /// First frame of the window in the song.
    start: usize,
    /// Frames in the window.
    len: usize,
    /// Targets over the window (1 / 0.5 / 0).
    target: Vec<f32>,
    /// 1 on the frames trained on.
    train_mask: Vec<f32>,
    /// 1 on the held-out frames.
    holdout_mask: Vec<f32>,
    /// Held-out blocks, in time order.
    holdout: Vec<HeldOutBlock>,
    /// Downbeat targets over the window from the user's bars, when the song has them.
    downbeat_target: Option<Vec<f32>>,
}

impl SongWindow {
    /// Reference beats held out, all blocks together.
    fn holdout_beats(&self) -> usize {
        self.holdout.iter().map(|b| b.beats_s.len()).sum()
    }
}

/// One held-out span of a song, decoded and scored on its own.
#[derive(Debug, Clone, PartialEq)]
struct HeldOutBlock {
    /// Span in window frames `[h0, h1)`.
    span: (usize, usize),
    /// Reference beats inside the span, in seconds from the span's start.
    beats_s: Vec<f64>,
}

/// Inputs of the trainable part for one song: cached features or the raw log-VQT window.
enum SongInput {
    Cached {
        anchor: TensorData,
        postve: TensorData,
    },
    Raw {
        anchor: TensorData,
        postve: TensorData,
    },
}

/// A song's unannotated audio for the keep-the-rest term: the frozen lower part's features
/// of the whole song and the base model's output over it.
struct RestInput {
    /// `[C, n]` row-major, one per branch.
    anchor: Vec<f32>,
    postve: Vec<f32>,
    channels: usize,
    /// The base's output, one value per frame of the song.
    base_out: Vec<f32>,
    /// Where a chunk's scored frames may lie: `[a, b)` outside the annotated window.
    spans: Vec<(usize, usize)>,
    /// Scored frames per chunk (the annotated window's length).
    chunk: usize,
}

impl RestInput {
    /// The chunk for `z`: its input window `[e0, e1)` as cached features, the base output
    /// over it as targets, and a mask over its scored frames.
    fn draw(&self, z: u64, halo: usize) -> Option<(SongInput, Vec<f32>, Vec<f32>)> {
        let total: usize = self.spans.iter().map(|(a, b)| b - a).sum();
        if total == 0 {
            return None;
        }
        let mut pick = (z % total as u64) as usize;
        let &(a, b) = self.spans.iter().find(|(a, b)| {
            let l = b - a;
            if pick < l {
                true
            } else {
                pick -= l;
                false
            }
        })?;
        let n = self.base_out.len();
        let len = self.chunk.min(b - a);
        let c0 = a + (mix(z) % (b - a - len + 1) as u64) as usize;
        let (e0, e1) = (c0.saturating_sub(halo), (c0 + len + halo).min(n));
        let cut = |v: &[f32]| -> TensorData {
            let mut out = Vec::with_capacity(self.channels * (e1 - e0));
            for c in 0..self.channels {
                out.extend_from_slice(&v[c * n + e0..c * n + e1]);
            }
            TensorData::new(out, [1, self.channels, e1 - e0])
        };
        let mask = (e0..e1)
            .map(|f| f32::from(u8::from((c0..c0 + len).contains(&f))))
            .collect();
        Some((
            SongInput::Cached {
                anchor: cut(&self.anchor),
                postve: cut(&self.postve),
            },
            self.base_out[e0..e1].to_vec(),
            mask,
        ))
    }
}

/// What is trained.
#[derive(Module, Debug)]
struct TopPair {
    anchor: BranchTop,
    postve: BranchTop,
}

// One value per fine-tuning run, moved around a handful of times: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
enum Trainable {
    Top(TopPair),
    Full(ZeroNs),
}

fn frames_of(t: f64) -> isize {
    (t * FPS).round() as isize
}

/// Held-out spans `[a, b)` of the region `[r0, r1)` (song frames): `fraction` of it in
/// blocks of at least `block` frames, each closing one of equal parts of the region.
fn holdout_spans(r0: usize, r1: usize, fraction: f64, block: usize) -> Vec<(usize, usize)> {
    let total = ((r1 - r0) as f64 * fraction).round() as usize;
    if total == 0 {
        return Vec::new();
    }
    let k = (total / block.max(1)).max(1);
    let each = total / k;
    (1..=k)
        .map(|j| {
            let end = r0 + (r1 - r0) * j / k;
            (end - each, end)
        })
        .collect()
}

fn window_of(
    song: &AnnotatedSong,
    halo: usize,
    holdout_fraction: f64,
    holdout_block_s: f64,
) -> SongWindow {
    let n = song.n_frames();
    let (rs, re) = song.region_s;
    let r0 = frames_of(rs).clamp(0, n as isize) as usize;
    let r1 = frames_of(re).clamp(r0 as isize, n as isize) as usize;
    let block = frames_of(holdout_block_s).max(1) as usize;
    let spans = holdout_spans(r0, r1, holdout_fraction, block);
    let start = r0.saturating_sub(halo);
    let end = (r1 + halo).min(n);
    let len = end - start;
    let mut target = vec![0f32; len];
    place_targets(&mut target, &song.beats_s, start as isize, 0.5);
    let downbeat_target = song.downbeats_s.as_ref().map(|d| {
        let mut t = vec![0f32; len];
        place_targets(&mut t, d, start as isize, 0.5);
        t
    });
    let held = |f: usize| spans.iter().any(|&(a, b)| (a..b).contains(&f));
    let mask = |on: &dyn Fn(usize) -> bool| -> Vec<f32> {
        (0..len)
            .map(|i| f32::from(u8::from(on(start + i))))
            .collect()
    };
    let holdout = spans
        .iter()
        .map(|&(a, b)| HeldOutBlock {
            span: (a - start, b - start),
            beats_s: song
                .beats_s
                .iter()
                .filter(|t| (a as isize..b as isize).contains(&frames_of(**t)))
                .map(|t| t - a as f64 / FPS)
                .collect(),
        })
        .collect();
    SongWindow {
        start,
        len,
        target,
        train_mask: mask(&|f| (r0..r1).contains(&f) && !held(f)),
        holdout_mask: mask(&held),
        holdout,
        downbeat_target,
    }
}

fn window_tensor_data(s: &Spectrogram, start: usize, len: usize) -> TensorData {
    let mut v = Vec::with_capacity(s.n_bins * len);
    for bin in 0..s.n_bins {
        let row = &s.data[bin * s.n_frames..(bin + 1) * s.n_frames];
        v.extend_from_slice(&row[start..start + len]);
    }
    TensorData::new(v, [1, 1, s.n_bins, len])
}

fn read_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    t.try_to_vec_as::<f32>()
        .map_err(|e| Error::Model(format!("cannot read the network's output: {e:?}")))
}

impl Trainable {
    fn forward(&self, input: &SongInput, combine: Combine, device: &Device) -> Tensor<2> {
        self.forward_with_downbeat(input, combine, device).0
    }

    /// The beat activation and, where the network has downbeat heads, the downbeat one.
    fn forward_with_downbeat(
        &self,
        input: &SongInput,
        combine: Combine,
        device: &Device,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        match (self, input) {
            (Trainable::Top(t), SongInput::Cached { anchor, postve }) => {
                let (a, ad) = t
                    .anchor
                    .forward_with_downbeat(Tensor::<3>::from_data(anchor.clone(), device));
                let (p, pd) = t
                    .postve
                    .forward_with_downbeat(Tensor::<3>::from_data(postve.clone(), device));
                let downbeat = match (ad, pd) {
                    (Some(a), Some(p)) => Some(combine.apply(a, p)),
                    _ => None,
                };
                (combine.apply(a, p), downbeat)
            }
            (Trainable::Full(net), SongInput::Raw { anchor, postve }) => {
                let a = Tensor::<4>::from_data(anchor.clone(), device);
                let p = Tensor::<4>::from_data(postve.clone(), device);
                let out = net.forward(a, p);
                (out.combined, out.downbeat)
            }
            // Inputs are built for the mode; a mismatch cannot be constructed.
            _ => (Tensor::<2>::zeros([1, 1], device), None),
        }
    }

    fn valid(&self) -> Trainable {
        match self {
            Trainable::Top(t) => Trainable::Top(t.valid()),
            Trainable::Full(n) => Trainable::Full(n.valid()),
        }
    }
}

/// Scores of `model` on the held-out spans.
fn held_out_scores(
    model: &Trainable,
    songs: &[AnnotatedSong],
    windows: &[SongWindow],
    inputs: &[SongInput],
    combine: Combine,
    tracker: &DbnBeatTracker,
    device: &Device,
) -> Result<HeldOutScores> {
    let eval_cfg = EvalConfig {
        trim: false,
        ..EvalConfig::default()
    };
    let mut s = HeldOutScores::default();
    let mut n_scored = 0usize;
    let mut loss_sum = 0.0;
    for ((song, w), input) in songs.iter().zip(windows).zip(inputs) {
        let blocks: Vec<&HeldOutBlock> =
            w.holdout.iter().filter(|b| !b.beats_s.is_empty()).collect();
        if blocks.is_empty() {
            continue;
        }
        let out = model.forward(input, combine, device);
        loss_sum += scalar(masked_bce(
            out.clone(),
            &w.target,
            &w.holdout_mask,
            [1, w.len],
            device,
        )) as f64;
        let values = read_vec(out)?;
        // A song's scores: its blocks', each decoded alone, weighted by their beats.
        let (mut f, mut cmlt, mut amlt, mut beats) = (0.0, 0.0, 0.0, 0usize);
        for b in blocks {
            let span = values[b.span.0..b.span.1].to_vec();
            let est = tracker.track(&Activation::new(span, FPS))?;
            let sc = evaluate(&b.beats_s, &est, &eval_cfg)?;
            let n = b.beats_s.len();
            f += sc.f_measure * n as f64;
            cmlt += sc.cmlt * n as f64;
            amlt += sc.amlt * n as f64;
            beats += n;
        }
        let k = beats as f64;
        s.f_measure += f / k;
        s.cmlt += cmlt / k;
        s.amlt += amlt / k;
        s.beats += beats;
        s.per_song.push((song.name.clone(), f / k));
        n_scored += 1;
    }
    let k = n_scored.max(1) as f64;
    s.f_measure /= k;
    s.cmlt /= k;
    s.amlt /= k;
    s.loss = loss_sum / k;
    Ok(s)
}

/// Beats of `a` with no beat of `b` within `tol_s`, plus the same the other way round: how
/// many beats a re-tracking moved (by more than `tol_s`), added or removed. Both sorted.
pub fn changed_beats(a: &[f64], b: &[f64], tol_s: f64) -> usize {
    unmatched(a, b, tol_s).count() + unmatched(b, a, tol_s).count()
}

/// The last time at which the user's beats differ from the model's (a user beat with no
/// model beat within `tol_s`, or a model beat the user removed or moved): how far into a
/// song the user has corrected. `None` when the user changed nothing. Both lists sorted.
pub fn corrected_until_s(model_s: &[f64], user_s: &[f64], tol_s: f64) -> Option<f64> {
    unmatched(user_s, model_s, tol_s)
        .chain(unmatched(model_s, user_s, tol_s))
        .max_by(f64::total_cmp)
}

fn unmatched<'a>(x: &'a [f64], y: &'a [f64], tol_s: f64) -> impl Iterator<Item = f64> + 'a {
    x.iter().copied().filter(move |t| {
        let i = y.partition_point(|v| v < t);
        let near = |j: usize| y.get(j).is_some_and(|v| (v - t).abs() <= tol_s);
        !(near(i) || (i > 0 && near(i - 1)))
    })
}

/// `a` is better than `b`: higher F-measure, or equal F-measure and lower loss.
fn better(a: &HeldOutScores, b: &HeldOutScores) -> bool {
    a.f_measure > b.f_measure + 1e-9
        || ((a.f_measure - b.f_measure).abs() <= 1e-9 && a.loss < b.loss)
}

/// The fine-tuned `network` moved back toward `base` by each of `config.interpolations`, the
/// one kept and its held-out scores (config docs; `after` is `None` without held-out beats).
#[allow(clippy::too_many_arguments)]
fn interpolate_on_held_out(
    base: &ZeroNs,
    network: ZeroNs,
    songs: &[AnnotatedSong],
    windows: &[SongWindow],
    validated: bool,
    config: &FinetuneConfig,
    tracker: &DbnBeatTracker,
    device: &Device,
) -> Result<(ZeroNs, Option<HeldOutScores>, f64)> {
    let mut lambdas = config.interpolations.clone();
    lambdas.sort_by(f64::total_cmp);
    lambdas.dedup();
    let blend = |lambda: f64| -> Result<ZeroNs> {
        if lambda == 1.0 {
            Ok(network.clone())
        } else {
            interpolate(base, &network, lambda)
        }
    };
    if !validated {
        let lambda = lambdas.last().copied().unwrap_or(1.0);
        return Ok((blend(lambda)?, None, lambda));
    }
    let inputs = raw_inputs(songs, windows);
    let mut scored = Vec::with_capacity(lambdas.len());
    for lambda in lambdas {
        let net = blend(lambda)?;
        let scores = network_held_out_scores(&net, songs, windows, &inputs, tracker, device)?;
        scored.push((lambda, net, scores));
    }
    let best = scored
        .iter()
        .map(|(_, _, s)| s.f_measure)
        .fold(f64::NEG_INFINITY, f64::max);
    // Ascending λ: the first at the best F is the smallest step that loses nothing held out.
    let Some(pos) = scored.iter().position(|(_, _, s)| s.f_measure >= best) else {
        return Err(Error::Model("fine-tuning: no interpolation scored".into()));
    };
    let (lambda, net, scores) = scored.swap_remove(pos);
    Ok((net, Some(scores), lambda))
}

/// The log-VQT windows themselves, for a whole network.
fn raw_inputs(songs: &[AnnotatedSong], windows: &[SongWindow]) -> Vec<SongInput> {
    songs
        .iter()
        .zip(windows)
        .map(|(song, w)| SongInput::Raw {
            anchor: window_tensor_data(&song.non_percussive, w.start, w.len),
            postve: window_tensor_data(&song.percussive, w.start, w.len),
        })
        .collect()
}

/// A whole network's scores on the held-out spans of `windows` (`inputs` from
/// [`raw_inputs`]: the log-VQT windows run through every layer).
fn network_held_out_scores(
    network: &ZeroNs,
    songs: &[AnnotatedSong],
    windows: &[SongWindow],
    inputs: &[SongInput],
    tracker: &DbnBeatTracker,
    device: &Device,
) -> Result<HeldOutScores> {
    held_out_scores(
        &Trainable::Full(network.clone()),
        songs,
        windows,
        inputs,
        network.combine,
        tracker,
        device,
    )
}

/// `model`'s scores on the held-out beats of `songs` as fine-tuning holds them out with
/// `config` (the same spans, decoder and metrics as its early stopping and adoption guard);
/// `None` when too few beats would be held out. For studies of what fine-tuning keeps
/// (`examples/finetune_blend_study.rs`).
pub fn held_out_scores_of(
    model: &LoadedModel,
    songs: &[AnnotatedSong],
    config: &FinetuneConfig,
) -> Result<Option<HeldOutScores>> {
    let plain = model.device.clone().without_autodiff();
    let network = model.network.clone().to_device(&plain).valid();
    let halo = model.config().half_receptive_field_frames();
    let tracker = DbnBeatTracker::new(&config.tracker, FPS)?;
    let Some(windows) = held_out_windows(songs, halo, config) else {
        return Ok(None);
    };
    let inputs = raw_inputs(songs, &windows);
    network_held_out_scores(&network, songs, &windows, &inputs, &tracker, &plain).map(Some)
}

/// Each song's window with `config`'s held-out spans, or `None` when fewer than
/// `min_holdout_beats` beats would be held out in all (then fine-tuning holds none out).
fn held_out_windows(
    songs: &[AnnotatedSong],
    halo: usize,
    config: &FinetuneConfig,
) -> Option<Vec<SongWindow>> {
    let windows: Vec<SongWindow> = songs
        .iter()
        .map(|s| window_of(s, halo, config.holdout_fraction, config.holdout_block_s))
        .collect();
    let holdout_beats: usize = windows.iter().map(SongWindow::holdout_beats).sum();
    (config.holdout_fraction > 0.0 && holdout_beats >= config.min_holdout_beats).then_some(windows)
}

/// Fine-tunes `base` on `songs` (module docs). `base` is left untouched; the returned model
/// records it as parent. `on_progress` is called after every epoch; `cancel` is checked after
/// every step and returns the best model so far with `cancelled = true`.
pub fn finetune(
    base: &LoadedModel,
    songs: &[AnnotatedSong],
    config: &FinetuneConfig,
    device: &Device,
    cancel: &CancelToken,
    mut on_progress: impl FnMut(&FinetuneProgress),
) -> Result<FinetuneOutcome> {
    let _span =
        tracing::info_span!("finetune", songs = songs.len(), mode = config.mode.name()).entered();
    let started = Instant::now();
    config.validate()?;
    if songs.is_empty() {
        return Err(Error::InvalidInput(
            "fine-tuning needs at least one annotated song".into(),
        ));
    }
    let lr = config.effective_learning_rate();
    let plain = device.clone().without_autodiff();
    let ad = device.clone().autodiff();
    let base_net = base.network.clone().to_device(&plain).valid();
    let combine = base_net.combine;
    let top_layers = config.top_layers_for(&base_net.anchor);
    let halo = base.config().half_receptive_field_frames();
    let tracker = DbnBeatTracker::new(&config.tracker, FPS)?;

    // Held-out spans, unless there is too little annotation.
    let (windows, validated) = match held_out_windows(songs, halo, config) {
        Some(w) => (w, true),
        None => (
            songs
                .iter()
                .map(|s| window_of(s, halo, 0.0, config.holdout_block_s))
                .collect(),
            false,
        ),
    };

    // Inputs: cached lower-part features (heads/top) or log-VQT windows (full).
    let mut inputs = Vec::with_capacity(songs.len());
    for (song, w) in songs.iter().zip(&windows) {
        let xa = window_tensor_data(&song.non_percussive, w.start, w.len);
        let xp = window_tensor_data(&song.percussive, w.start, w.len);
        inputs.push(match config.mode {
            FinetuneMode::Full => SongInput::Raw {
                anchor: xa,
                postve: xp,
            },
            _ => {
                let fa = base_net
                    .anchor
                    .forward_bottom(Tensor::<4>::from_data(xa, &plain), top_layers)?;
                let fp = base_net
                    .postve
                    .forward_bottom(Tensor::<4>::from_data(xp, &plain), top_layers)?;
                SongInput::Cached {
                    anchor: fa.into_data(),
                    postve: fp.into_data(),
                }
            }
        });
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
    }

    // The base's trained part in the cached modes: the start of training, and the keep-the-rest
    // term's reference.
    let base_top = match config.mode {
        FinetuneMode::Full => None,
        _ => Some(TopPair {
            anchor: base_net.anchor.top(top_layers)?,
            postve: base_net.postve.top(top_layers)?,
        }),
    };

    // The keep-the-rest term's inputs (cached modes only).
    let mut rests: Vec<Option<RestInput>> = Vec::with_capacity(songs.len());
    if let Some(base_top) = base_top.as_ref().filter(|_| config.rest_weight > 0.0) {
        for (song, w) in songs.iter().zip(&windows) {
            let n = song.n_frames();
            let mut spans = Vec::new();
            let min_len = halo.max(1);
            if w.start >= min_len {
                spans.push((0, w.start));
            }
            if n >= w.start + w.len + min_len {
                spans.push((w.start + w.len, n));
            }
            if spans.is_empty() {
                rests.push(None);
                continue;
            }
            let fa = base_net.anchor.forward_bottom(
                Tensor::<4>::from_data(window_tensor_data(&song.non_percussive, 0, n), &plain),
                top_layers,
            )?;
            let fp = base_net.postve.forward_bottom(
                Tensor::<4>::from_data(window_tensor_data(&song.percussive, 0, n), &plain),
                top_layers,
            )?;
            let channels = fa.dims()[1];
            let base_out = read_vec(combine.apply(
                base_top.anchor.forward(fa.clone()),
                base_top.postve.forward(fp.clone()),
            ))?;
            let as_vec = |t: Tensor<3>| {
                t.into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| Error::Model(format!("cannot read cached features: {e:?}")))
            };
            let (anchor, postve) = (as_vec(fa)?, as_vec(fp)?);
            if base_out.len() != n || anchor.len() != channels * n || postve.len() != anchor.len() {
                return Err(Error::Model(format!(
                    "{}: the network's output over the whole song has {} frames for {n} input frames",
                    song.name,
                    base_out.len()
                )));
            }
            rests.push(Some(RestInput {
                anchor,
                postve,
                channels,
                base_out,
                spans,
                chunk: w.len,
            }));
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
        }
    }

    let initial = match base_top {
        None => Trainable::Full(base.network.clone().fork(&ad).train()),
        Some(t) => Trainable::Top(t.fork(&ad).train()),
    };
    // Downbeat targets: the user's bars, else the base's own downbeat curve (config docs).
    let mut downbeat_targets: Vec<Option<Vec<f32>>> = Vec::with_capacity(songs.len());
    let train_downbeats = config.downbeat_weight > 0.0 && base_net.has_downbeat_head();
    for (w, input) in windows.iter().zip(&inputs) {
        downbeat_targets.push(match (&w.downbeat_target, train_downbeats) {
            (_, false) => None,
            (Some(t), true) => Some(t.clone()),
            (None, true) => initial
                .valid()
                .forward_with_downbeat(input, combine, &plain)
                .1
                .map(read_vec)
                .transpose()?,
        });
    }
    let before = if validated {
        Some(held_out_scores(
            &initial.valid(),
            songs,
            &windows,
            &inputs,
            combine,
            &tracker,
            &plain,
        )?)
    } else {
        None
    };

    let annotated_s: f64 = songs
        .iter()
        .map(|s| (s.region_s.1 - s.region_s.0).max(0.0))
        .sum();
    let max_epochs = config.epoch_bound(validated, annotated_s);
    let min_epochs = config.effective_min_epochs();
    let mut optim = AdamConfig::new().init();
    let mut model = initial;
    let mut best: Option<(Trainable, HeldOutScores, usize)> = None;
    let mut history = Vec::new();
    let mut since_best = 0;
    let mut cancelled = false;
    let loop_start = Instant::now();
    ad.seed(config.seed);
    for epoch in 1..=max_epochs {
        let mut order: Vec<usize> = (0..songs.len()).collect();
        let mut z = mix(config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for i in (1..order.len()).rev() {
            z = mix(z);
            order.swap(i, (z % (i as u64 + 1)) as usize);
        }
        let mut loss_sum = 0.0;
        for &i in &order {
            let w = &windows[i];
            let (out, downbeat) = model.forward_with_downbeat(&inputs[i], combine, &ad);
            let mut loss = masked_bce(out, &w.target, &w.train_mask, [1, w.len], &ad);
            if let (Some(d), Some(target)) = (downbeat, &downbeat_targets[i]) {
                loss = loss
                    + masked_bce(d, target, &w.train_mask, [1, w.len], &ad)
                        .mul_scalar(config.downbeat_weight);
            }
            if let Some(Some(rest)) = rests.get(i)
                && let Some((input, target, mask)) = rest.draw(
                    mix(z ^ (i as u64).wrapping_mul(0xA24B_AED4_963E_E407)),
                    halo,
                )
            {
                let out = model.forward(&input, combine, &ad);
                loss = loss
                    + masked_bce(out, &target, &mask, [1, target.len()], &ad)
                        .mul_scalar(config.rest_weight);
            }
            let value = scalar(loss.clone());
            if !value.is_finite() {
                return Err(Error::InvalidInput(format!(
                    "fine-tuning: loss became {value} at epoch {epoch} (lower the learning rate)"
                )));
            }
            loss_sum += value as f64;
            let grads = loss.backward();
            model = match model {
                Trainable::Top(t) => {
                    let g = GradientsParams::from_grads(grads, &t);
                    Trainable::Top(optim.step(lr, t, g))
                }
                Trainable::Full(n) => {
                    let g = GradientsParams::from_grads(grads, &n);
                    Trainable::Full(optim.step(lr, n, g))
                }
            };
            if cancel.is_cancelled() {
                cancelled = true;
                break;
            }
        }
        if cancelled {
            break;
        }
        let held_out = if validated {
            Some(held_out_scores(
                &model.valid(),
                songs,
                &windows,
                &inputs,
                combine,
                &tracker,
                &plain,
            )?)
        } else {
            None
        };
        let record = FinetuneEpoch {
            epoch,
            train_loss: loss_sum / songs.len() as f64,
            held_out: held_out.clone(),
        };
        tracing::debug!(?record, "fine-tuning epoch");
        match held_out {
            Some(h) if best.as_ref().is_none_or(|(_, b, _)| better(&h, b)) => {
                best = Some((model.valid(), h, epoch));
                since_best = 0;
            }
            Some(_) => since_best += 1,
            None => best = Some((model.valid(), HeldOutScores::default(), epoch)),
        }
        let per_epoch = loop_start.elapsed().as_secs_f64() / epoch as f64;
        history.push(record.clone());
        on_progress(&FinetuneProgress {
            epoch: record,
            max_epochs,
            best_f_measure: match (&best, &before) {
                (Some((_, b, _)), Some(bf)) if validated => Some(b.f_measure.max(bf.f_measure)),
                _ => None,
            },
            eta_s: per_epoch * (max_epochs - epoch) as f64,
        });
        if validated && since_best >= config.patience_epochs && epoch >= min_epochs {
            break;
        }
    }

    let (trained, after, best_epoch) = match best {
        Some((m, h, e)) => (m, validated.then_some(h), e),
        None => (model.valid(), None, 0),
    };
    let network = match trained {
        Trainable::Top(t) => {
            let t = t.to_device(&plain);
            let mut net = base_net.clone();
            net.anchor = net.anchor.with_top(t.anchor)?;
            net.postve = net.postve.with_top(t.postve)?;
            net
        }
        Trainable::Full(n) => n.to_device(&plain),
    };
    // WiSE-FT (config docs): part of the way back to the base, chosen on the held-out beats.
    let (network, after, interpolation) = if !config.interpolates() {
        (network, after, 1.0)
    } else {
        interpolate_on_held_out(
            &base_net, network, songs, &windows, validated, config, &tracker, &plain,
        )?
    };
    let improved = match (&before, &after) {
        (Some(b), Some(a)) => better(a, b),
        _ => false,
    };
    let provenance = Provenance {
        method: FINETUNED_METHOD.into(),
        data: Some(format!(
            "{} song(s): {}",
            songs.len(),
            songs
                .iter()
                .map(|s| format!(
                    "{} ({} beats, {:.1}–{:.1} s)",
                    s.name,
                    s.beats_s.len(),
                    s.region_s.0,
                    s.region_s.1
                ))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        steps: Some((best_epoch * songs.len()) as u64),
        epochs: Some(best_epoch as u64),
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs()),
        notes: Some(format!(
            "mode {}, top_layers {top_layers}, Adam lr {lr}, seed {}, {}",
            config.mode.name(),
            config.seed,
            match (&before, &after) {
                (Some(b), Some(a)) => format!(
                    "held-out F {:.3} → {:.3} ({} beats){}",
                    b.f_measure,
                    a.f_measure,
                    a.beats,
                    if improved {
                        ""
                    } else {
                        ", not better than the parent"
                    }
                ),
                _ => "unvalidated (too little annotation to hold out)".into(),
            }
        )),
        ..Default::default()
    };
    let mut extra = provenance.extra.clone();
    extra.insert(
        "finetune".into(),
        serde_json::json!({
            "config": config,
            "learning_rate": lr,
            "top_layers": top_layers,
            "best_epoch": best_epoch,
            "interpolation": interpolation,
            "before": before,
            "after": after,
            "improved": improved,
        }),
    );
    let parent = (!base.manifest.id.is_empty()).then(|| base.manifest.id.clone());
    // The bar classifier learns the bars the user numbered (module docs); songs without
    // numbers leave it as the parent's.
    let (bars, bars_report) = match &base.bars {
        Some(parent) if !cancelled => {
            let parent = parent.clone().to_device(&plain);
            let bar_songs: Vec<BarSong> = songs
                .iter()
                .filter_map(|s| {
                    Some(BarSong {
                        name: &s.name,
                        percussive: &s.percussive,
                        non_percussive: &s.non_percussive,
                        beats_s: &s.beats_s,
                        downbeats_s: s.downbeats_s.as_deref()?,
                    })
                })
                .collect();
            match finetune_bars(&parent, &bar_songs, &config.bars, device, cancel)? {
                Some((m, r)) => (Some(m.to_device(&plain)), Some(r)),
                None => (Some(parent), None),
            }
        }
        other => (other.clone().map(|b| b.to_device(&plain)), None),
    };
    if let Some(r) = &bars_report {
        extra.insert("finetune_bars".into(), serde_json::json!(r));
    }
    let provenance = Provenance {
        extra,
        ..provenance
    };
    let model =
        LoadedModel::new(network, base.config().clone(), provenance, parent, plain).with_bars(bars);
    Ok(FinetuneOutcome {
        model,
        before,
        after,
        improved,
        best_epoch,
        interpolation,
        history,
        elapsed_s: started.elapsed().as_secs_f64(),
        config: config.clone(),
        learning_rate: lr,
        cancelled,
        bars: bars_report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_beats_counts_moves_and_extras() {
        assert_eq!(changed_beats(&[1.0, 2.0, 3.0], &[1.0, 2.05, 3.0], 0.07), 0);
        assert_eq!(changed_beats(&[1.0, 2.0, 3.0], &[1.0, 2.2, 3.0], 0.07), 2);
        assert_eq!(changed_beats(&[1.0, 2.0], &[1.0, 2.0, 3.0], 0.07), 1);
    }

    #[test]
    fn corrected_until_is_the_last_edit() {
        let model = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0];
        assert_eq!(corrected_until_s(&model, &model, 0.02), None);
        // Moved beat 2, added one at 1.75: corrected until 1.75 s.
        assert_eq!(
            corrected_until_s(&model, &[0.5, 1.1, 1.5, 1.75, 2.0, 2.5, 3.0], 0.02),
            Some(1.75)
        );
        // Removed the beat at 2.5 (the user's list ends earlier than the model's change).
        assert_eq!(
            corrected_until_s(&model, &[0.5, 1.0, 1.5, 2.0, 3.0], 0.02),
            Some(2.5)
        );
        // A 10 ms nudge is within tolerance.
        assert_eq!(
            corrected_until_s(&model, &[0.51, 1.0, 1.5, 2.0, 2.5, 3.0], 0.02),
            None
        );
    }
    use crate::model::ModelConfig;

    fn spec(n_frames: usize, f: impl Fn(usize, usize) -> f32) -> Spectrogram {
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
            fps: FPS,
        }
    }

    /// A synthetic song: broadband "clicks" every `period` frames in the percussive stem and a
    /// steady tone in the other, beats on the clicks.
    fn click_song(
        n_frames: usize,
        period: usize,
        phase: usize,
    ) -> (Spectrogram, Spectrogram, Vec<f64>) {
        let perc = spec(
            n_frames,
            |_, t| {
                if t % period == phase { 0.0 } else { -6.0 }
            },
        );
        let non = spec(n_frames, |bin, _| if bin == 40 { -1.0 } else { -6.0 });
        let beats = (0..n_frames)
            .filter(|t| t % period == phase)
            .map(|t| t as f64 / FPS)
            .collect();
        (non, perc, beats)
    }

    #[test]
    fn targets_and_masks_follow_the_recipe() {
        let (non, perc, beats) = click_song(2000, 31, 5);
        let song = AnnotatedSong::new("s", non, perc, &beats, Some(20.0)).unwrap();
        assert_eq!(song.region_s.0, 0.0);
        assert!((song.region_s.1 - 20.0).abs() < 1e-9);
        let w = window_of(&song, 10, 0.2, 6.0);
        assert_eq!(w.start, 0);
        assert_eq!(w.len, 1260);
        assert_eq!(w.target[5], 1.0);
        assert_eq!(w.target[4], 0.5);
        assert_eq!(w.target[6], 0.5);
        assert_eq!(w.target[7], 0.0);
        assert_eq!(w.train_mask.iter().sum::<f32>(), 1000.0);
        assert_eq!(w.holdout_mask.iter().sum::<f32>(), 250.0);
        // 20 s annotated: 4 s held out, less than two 6-s blocks, so one block at the end.
        assert_eq!(w.holdout.len(), 1);
        assert_eq!(w.holdout[0].span, (1000, 1250));
        // Held-out beats are the ones in 16–20 s, relative to 16 s.
        let b = &w.holdout[0].beats_s;
        assert!(b.iter().all(|b| *b >= 0.0 && *b < 4.0));
        assert_eq!(b.len(), 8);
        assert_eq!(w.holdout_beats(), 8);
    }

    /// With a minute annotated the held-out fifth is two 6-s blocks, one closing each half of
    /// the region, so both halves are validated; nothing held out is trained on.
    #[test]
    fn long_regions_are_validated_in_blocks_spread_over_them() {
        assert_eq!(
            holdout_spans(0, 3750, 0.2, 375),
            vec![(1500, 1875), (3375, 3750)]
        );
        assert_eq!(holdout_spans(0, 1875, 0.2, 375), vec![(1500, 1875)]);
        assert_eq!(holdout_spans(100, 1100, 0.0, 375), vec![]);
        assert_eq!(holdout_spans(0, 100, 0.2, 375), vec![(80, 100)]);
        let (non, perc, beats) = click_song(4000, 31, 5);
        let song = AnnotatedSong::new("s", non, perc, &beats, Some(60.0)).unwrap();
        let w = window_of(&song, 10, 0.2, 6.0);
        assert_eq!(w.holdout.len(), 2);
        assert_eq!(w.holdout[0].span, (1500, 1875));
        assert_eq!(w.holdout[1].span, (3375, 3750));
        for b in &w.holdout {
            let len_s = (b.span.1 - b.span.0) as f64 / FPS;
            assert!(!b.beats_s.is_empty() && b.beats_s.iter().all(|t| (0.0..len_s).contains(t)));
        }
        assert_eq!(w.holdout_mask.iter().sum::<f32>(), 750.0);
        assert_eq!(w.train_mask.iter().sum::<f32>(), 3000.0);
        assert!(
            w.train_mask
                .iter()
                .zip(&w.holdout_mask)
                .all(|(t, h)| t * h == 0.0)
        );
    }

    #[test]
    fn bad_annotations_are_reported() {
        let (non, perc, _) = click_song(600, 31, 5);
        let e = AnnotatedSong::new(
            "x.wav",
            non.clone(),
            perc.clone(),
            &[1.0, 0.5, 2.0, 3.0],
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.wav") && e.contains("not increasing"), "{e}");
        let e = AnnotatedSong::new("x.wav", non.clone(), perc.clone(), &[1.0, f64::NAN], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a time"), "{e}");
        let e = AnnotatedSong::new("x.wav", non, perc, &[1.0, 2.0, 3.0, 4.0], Some(2.5))
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 4"), "{e}");
    }

    /// A freshly initialised lite model as the base (draws from burn's RNG: hold
    /// [`crate::test_rng_lock`]).
    fn random_lite(device: &Device) -> LoadedModel {
        let net = ZeroNs::new(&ModelConfig::lite(), device).unwrap();
        LoadedModel::new(
            net,
            ModelConfig::lite(),
            Provenance::default(),
            None,
            device.clone(),
        )
    }

    /// Fine-tunes `base` on one song with no progress callback and no cancel.
    fn finetune_quietly(
        base: &LoadedModel,
        song: AnnotatedSong,
        config: &FinetuneConfig,
        device: &Device,
    ) -> FinetuneOutcome {
        finetune(base, &[song], config, device, &CancelToken::new(), |_| {}).unwrap()
    }

    /// Fine-tuning a random lite model on a click track teaches it the clicks: held-out
    /// F-measure goes up, and the model records its parent and the scores.
    #[test]
    fn top_mode_learns_a_click_track_and_reports_before_after() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        device.seed(3);
        let mut base = random_lite(&device);
        base.manifest.id = "zn-parent".into();
        let (non, perc, beats) = click_song(1900, 29, 7);
        let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
        let config = FinetuneConfig {
            max_epochs: 60,
            patience_epochs: 60,
            ..FinetuneConfig::default()
        };
        let mut epochs_seen = 0;
        let out = finetune(&base, &[song], &config, &device, &CancelToken::new(), |p| {
            epochs_seen = p.epoch.epoch;
        })
        .unwrap();
        let before = out.before.as_ref().unwrap();
        let after = out.after.as_ref().unwrap();
        assert_eq!(epochs_seen, 60);
        assert!(after.f_measure >= 0.9, "after {after:?}, before {before:?}");
        assert!(out.improved || before.f_measure >= 0.9);
        assert_eq!(out.model.manifest.parent_id.as_deref(), Some("zn-parent"));
        assert_eq!(out.model.manifest.provenance.method, "finetuned");
        // The loss went down.
        let first = out.history.first().unwrap().train_loss;
        let last = out.history.last().unwrap().train_loss;
        assert!(last < first, "{first} → {last}");
    }

    /// WiSE-FT's interpolation (DEVSET rule 26): a tiny share of the trained change keeps the
    /// base's weights and its held-out score (the guard judges what is kept, not what was
    /// trained).
    #[test]
    fn interpolation_keeps_the_chosen_share_of_the_change() {
        use crate::model::soup::parameters;
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        device.seed(3);
        let base = random_lite(&device);
        let (non, perc, beats) = click_song(1900, 29, 7);
        let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
        let config = FinetuneConfig {
            max_epochs: 30,
            patience_epochs: 30,
            interpolations: vec![1e-4],
            ..FinetuneConfig::default()
        };
        let out = finetune_quietly(&base, song, &config, &device);
        let before = out.before.as_ref().unwrap();
        let after = out.after.as_ref().unwrap();
        assert!(
            (after.f_measure - before.f_measure).abs() < 1e-9,
            "after {after:?}, before {before:?}"
        );
        // Every weight within 1e-4 of the trained change from the base's.
        let (tuned, start) = (
            parameters(&out.model.network).unwrap().concat(),
            parameters(&base.network).unwrap().concat(),
        );
        let moved = tuned
            .iter()
            .zip(&start)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(moved < 1e-4, "largest change {moved}");
        assert!(config.validate().is_ok());
        for bad in [
            vec![],
            vec![0.0],
            vec![0.5, -0.5],
            vec![1.5],
            vec![f64::NAN],
        ] {
            let c = FinetuneConfig {
                interpolations: bad.clone(),
                ..FinetuneConfig::default()
            };
            assert!(c.validate().is_err(), "{bad:?}");
        }
    }

    /// DEVSET rule 27: of several interpolations the held-out beats choose; a step that
    /// loses held-out beats is not kept (here the near-base one, on clicks the random base
    /// cannot track), and the reported scores are the kept model's.
    #[test]
    fn the_held_out_beats_choose_the_interpolation() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        device.seed(3);
        let base = random_lite(&device);
        let (non, perc, beats) = click_song(1900, 29, 7);
        let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
        let config = FinetuneConfig {
            max_epochs: 60,
            patience_epochs: 60,
            interpolations: vec![1.0, 1e-4],
            ..FinetuneConfig::default()
        };
        let out = finetune_quietly(&base, song.clone(), &config, &device);
        let (before, after) = (out.before.clone().unwrap(), out.after.clone().unwrap());
        assert!(
            before.f_measure < 0.9,
            "the random base tracks the clicks: {before:?}"
        );
        assert_eq!(out.interpolation, 1.0);
        assert!(after.f_measure >= 0.9, "{after:?}");
        assert!(out.improved);
        // The kept model's own held-out scores, computed afresh, are the ones reported.
        let again = held_out_scores_of(&out.model, &[song], &config)
            .unwrap()
            .unwrap();
        assert!((again.f_measure - after.f_measure).abs() < 1e-9);
    }

    /// Issue 21: a user's bar numbers teach the downbeat head the bar phase, and a song
    /// without numbers keeps the base's downbeat curve closer than with the term off.
    #[test]
    fn user_downbeats_teach_the_bar_phase_and_unnumbered_songs_keep_the_bars() {
        use crate::model::{InferConfig, infer};
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        device.seed(5);
        let config = ModelConfig::lite().with_downbeat_head().unwrap();
        let net = ZeroNs::new(&config, &device).unwrap();
        let base = LoadedModel::new(net, config, Provenance::default(), None, device.clone());
        // Clicks every 29 frames from frame 7; every 4th click from the second is louder in
        // the low bins (the bar's first beat), numbered 4, 1, 2, 3, 4, 1, … by the user.
        let (n, period, phase) = (1900, 29, 7);
        let perc = spec(n, |bin, t| {
            let k = (t + period - phase) / period;
            match (t % period == phase, k % 4 == 2 && bin < 48) {
                (true, true) => 2.0,
                (true, false) => 0.0,
                _ => -6.0,
            }
        });
        let non = spec(n, |bin, _| if bin == 40 { -1.0 } else { -6.0 });
        let beats: Vec<f64> = (0..n)
            .filter(|t| t % period == phase)
            .map(|t| t as f64 / FPS)
            .collect();
        let positions: Vec<u32> = (0..beats.len()).map(|k| ((k + 3) % 4 + 1) as u32).collect();
        let song = AnnotatedSong::new("bars", non.clone(), perc.clone(), &beats, None)
            .unwrap()
            .with_positions(&beats, &positions)
            .unwrap();
        assert!(song.downbeats_s.as_ref().is_some_and(|d| d.len() >= 10));
        let fixed = FinetuneConfig {
            holdout_fraction: 0.0,
            fixed_epochs: 60,
            ..FinetuneConfig::default()
        };
        let curve = |m: &LoadedModel| -> Vec<f32> {
            infer(m, &non, &perc, &InferConfig::default())
                .unwrap()
                .downbeat
                .expect("a downbeat curve")
                .values
        };
        let mean = |v: &[f32]| v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len().max(1) as f64;
        let contrast = |d: &[f32]| {
            let (mut on, mut off) = (Vec::new(), Vec::new());
            for (b, p) in beats.iter().zip(&positions) {
                let v = d[(b * FPS).round() as usize];
                if *p == 1 { on.push(v) } else { off.push(v) }
            }
            mean(&on) - mean(&off)
        };
        let out = finetune_quietly(&base, song, &fixed, &device);
        let after = curve(&out.model);
        let bars = crate::tracking::meter::choose_meter(
            &beats,
            &Activation::new(after.clone(), FPS),
            &crate::tracking::meter::MeterConfig::default(),
        )
        .unwrap()
        .expect("a meter");
        assert_eq!(
            bars.positions,
            positions,
            "downbeat contrast {:.3} (base {:.3})",
            contrast(&after),
            contrast(&curve(&base))
        );
        assert!(contrast(&after) > 0.05);
        // The same song with its bars unknown: the term keeps the base's curve.
        let drift = |weight: f64| {
            let song =
                AnnotatedSong::new("beats", non.clone(), perc.clone(), &beats, None).unwrap();
            let cfg = FinetuneConfig {
                downbeat_weight: weight,
                ..fixed.clone()
            };
            let m = finetune_quietly(&base, song, &cfg, &device).model;
            let (a, b) = (curve(&m), curve(&base));
            a.iter()
                .zip(&b)
                .map(|(x, y)| f64::from((x - y).abs()))
                .sum::<f64>()
                / a.len() as f64
        };
        let (kept, free) = (drift(1.0), drift(0.0));
        assert!(
            kept < free,
            "drift with the term {kept:.4}, without {free:.4}"
        );
        // A position list of the wrong length is refused with the song's name.
        let e = AnnotatedSong::new("x.wav", non.clone(), perc.clone(), &beats, None)
            .unwrap()
            .with_positions(&beats, &positions[1..])
            .unwrap_err();
        assert!(e.to_string().contains("x.wav"), "{e}");
    }

    /// Issue 21: with a bar classifier in the base, a numbered song fine-tunes it (the
    /// report and the provenance say so); an unnumbered song leaves the parent's as it was.
    #[test]
    fn numbered_songs_fine_tune_the_bar_classifier() {
        use crate::model::bars::{BarModel, BarNetConfig};
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        device.seed(5);
        let cfg = BarNetConfig {
            context_beats: 1,
            hidden: 8,
        };
        let parent = BarModel {
            net: cfg.init(&device),
            config: cfg,
            notes: Some("parent".into()),
        };
        let base = random_lite(&device).with_bars(Some(parent));
        let (non, perc, beats) = click_song(1900, 29, 7);
        let positions: Vec<u32> = (0..beats.len()).map(|k| (k % 4 + 1) as u32).collect();
        let config = FinetuneConfig {
            max_epochs: 2,
            fixed_epochs: 2,
            ..FinetuneConfig::default()
        };
        let numbered = AnnotatedSong::new("n", non.clone(), perc.clone(), &beats, None)
            .unwrap()
            .with_positions(&beats, &positions)
            .unwrap();
        let out = finetune_quietly(&base, numbered, &config, &device);
        let report = out.bars.as_ref().expect("a bar report");
        assert_eq!(report.songs, 1);
        assert!(report.held_out_beats >= 12 && report.accuracy_before.is_some());
        assert!(
            out.model
                .manifest
                .provenance
                .extra
                .contains_key("finetune_bars")
        );
        assert!(out.model.bars.is_some());

        let plain = AnnotatedSong::new("p", non, perc, &beats, None).unwrap();
        let out = finetune_quietly(&base, plain, &config, &device);
        assert!(out.bars.is_none());
        let kept = out.model.bars.as_ref().expect("the parent's classifier");
        assert_eq!(kept.notes.as_deref(), Some("parent"));
    }

    /// `top` mode's default trains lite v1's layers of dilations 8, 16, 32 and every layer
    /// grown above them (DEVSET rules 13–14): 3 of six, 5 of lite v4's eight; an explicit
    /// count and the other modes are unchanged.
    #[test]
    fn top_mode_trains_the_grown_layers_too() {
        let device = Device::flex();
        let v1 = ZeroNs::new(&ModelConfig::lite(), &device).unwrap();
        let grown = ModelConfig::lite()
            .with_extra_dilations(&[64, 128])
            .unwrap();
        let v4 = ZeroNs::new(&grown, &device).unwrap();
        let top = FinetuneConfig::default();
        assert_eq!(top.top_layers_for(&v1.anchor), 3);
        assert_eq!(top.top_layers_for(&v4.anchor), 5);
        assert_eq!(top.top_layers_for(&v4.postve), 5);
        let explicit = FinetuneConfig {
            top_layers: Some(2),
            ..FinetuneConfig::default()
        };
        assert_eq!(explicit.top_layers_for(&v4.anchor), 2);
        let heads = FinetuneConfig {
            mode: FinetuneMode::Heads,
            ..FinetuneConfig::default()
        };
        assert_eq!(heads.top_layers_for(&v4.anchor), 0);
        let full = FinetuneConfig {
            mode: FinetuneMode::Full,
            ..FinetuneConfig::default()
        };
        assert_eq!(full.top_layers_for(&v4.anchor), 8);
    }

    /// Rule 15's budget caps epochs by epochs × annotated seconds, never below 1 nor above the
    /// mode's count; one song of 30 s keeps all 200 epochs, ten such songs get 60.
    #[test]
    fn the_epoch_budget_caps_long_runs_only() {
        let c = FinetuneConfig::default();
        assert_eq!(c.epoch_bound(true, 30.0), 200);
        assert_eq!(c.epoch_bound(true, 90.0), 200);
        assert_eq!(c.epoch_bound(true, 300.0), 60);
        assert_eq!(c.epoch_bound(true, 295.0), 61);
        assert_eq!(c.epoch_bound(false, 30.0), 40);
        assert_eq!(c.epoch_bound(true, 1e9), 1);
        assert_eq!(c.epoch_bound(true, 0.0), 200);
        let bad = FinetuneConfig {
            epoch_budget_s: 0.0,
            ..FinetuneConfig::default()
        };
        assert!(bad.validate().is_err());
        let nan = FinetuneConfig {
            epoch_budget_s: f64::NAN,
            ..FinetuneConfig::default()
        };
        assert!(nan.validate().is_err());
    }

    /// A run whose budget allows three epochs runs three, whatever `max_epochs` and patience say.
    #[test]
    fn a_run_stops_at_its_epoch_budget() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        device.seed(11);
        let base = random_lite(&device);
        let (non, perc, beats) = click_song(1900, 29, 7);
        let song = AnnotatedSong::new("s", non, perc, &beats, None).unwrap();
        let annotated_s = song.region_s.1 - song.region_s.0;
        let config = FinetuneConfig {
            max_epochs: 50,
            patience_epochs: 50,
            epoch_budget_s: annotated_s * 3.5,
            ..FinetuneConfig::default()
        };
        let out = finetune_quietly(&base, song, &config, &device);
        assert_eq!(out.history.len(), 3);
    }

    /// Regression: `full` mode panicked in `backward` ("requires a tracked autodiff tensor")
    /// because the forked network was not switched to training (no parameter required grads).
    #[test]
    fn full_mode_trains_every_layer() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        device.seed(5);
        let base = random_lite(&device);
        let (non, perc, beats) = click_song(900, 29, 7);
        let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
        let config = FinetuneConfig {
            mode: FinetuneMode::Full,
            max_epochs: 4,
            patience_epochs: 4,
            fixed_epochs: 4,
            ..FinetuneConfig::default()
        };
        let out = finetune_quietly(&base, song, &config, &device);
        assert_eq!(out.history.len(), 4);
        let first = out.history.first().unwrap().train_loss;
        let last = out.history.last().unwrap().train_loss;
        assert!(last < first, "{first} → {last}");
        assert_eq!(out.model.manifest.provenance.method, "finetuned");
    }

    /// Early stopping waits for `min_epochs` (full mode's default 60: its held-out score can
    /// stay flat longer than the patience while the whole network moves).
    #[test]
    fn early_stopping_waits_for_min_epochs() {
        assert_eq!(FinetuneConfig::default().effective_min_epochs(), 0);
        let full = FinetuneConfig {
            mode: FinetuneMode::Full,
            ..FinetuneConfig::default()
        };
        assert_eq!(full.effective_min_epochs(), 60);
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        device.seed(11);
        let base = random_lite(&device);
        let (non, perc, beats) = click_song(1900, 29, 7);
        let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
        let config = FinetuneConfig {
            max_epochs: 12,
            patience_epochs: 1,
            min_epochs: Some(9),
            ..FinetuneConfig::default()
        };
        let out = finetune_quietly(&base, song, &config, &device);
        assert!(out.before.is_some(), "the run must be validated");
        // Without the floor this run stops at epoch 6.
        assert!(out.history.len() >= 9, "stopped at {}", out.history.len());
    }

    /// The keep-the-rest term holds the network's output on the unannotated audio near the
    /// base's: trained on the first 16 s of a click track, the model moves its output over
    /// the rest much less with the term than without.
    #[test]
    fn rest_weight_keeps_the_unannotated_output_near_the_base() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        let (non, perc, beats) = click_song(3000, 29, 7);
        let full = |m: &LoadedModel| -> Vec<f32> {
            let net = m.network.clone().valid();
            let a = Tensor::<4>::from_data(window_tensor_data(&non, 0, 3000), &device);
            let p = Tensor::<4>::from_data(window_tensor_data(&perc, 0, 3000), &device);
            read_vec(net.forward(a, p).combined).unwrap()
        };
        let mut moved = Vec::new();
        for rest_weight in [0.0, 5.0] {
            device.seed(13);
            let base = random_lite(&device);
            let song = AnnotatedSong::new("clicks", non.clone(), perc.clone(), &beats, Some(16.0))
                .unwrap();
            let config = FinetuneConfig {
                max_epochs: 30,
                patience_epochs: 30,
                rest_weight,
                ..FinetuneConfig::default()
            };
            let out = finetune_quietly(&base, song, &config, &device);
            let (b, f) = (full(&base), full(&out.model));
            // The rest: from the end of the annotated window (16 s + the halo) on.
            let from = 1000 + base.config().half_receptive_field_frames();
            let d = (from..3000).map(|i| (b[i] - f[i]).abs()).sum::<f32>() / (3000 - from) as f32;
            moved.push(d);
        }
        assert!(moved[1] < 0.5 * moved[0], "moved on the rest: {moved:?}");
    }

    #[test]
    fn cancel_stops_before_training() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        let base = random_lite(&device);
        let (non, perc, beats) = click_song(1000, 29, 7);
        let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
        let cancel = CancelToken::new();
        cancel.cancel();
        let r = finetune(
            &base,
            &[song],
            &FinetuneConfig::default(),
            &device,
            &cancel,
            |_| {},
        );
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    }
}
