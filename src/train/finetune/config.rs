//! Settings of a fine-tuning run (the module docs of [`super`] say why each default).

use serde::{Deserialize, Serialize};

use crate::model::Branch;
use crate::tracking::dbn::DbnConfig;
use crate::{Error, Result};

use super::super::bars::BarsFinetuneConfig;
#[cfg(doc)]
use super::AnnotatedSong;
use super::{LITE_V1_TCN_LAYERS, LITE_V1_TOP_LAYERS};

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

/// What a run does when the base model's own beats already match every corrected beat
/// ([`FinetuneConfig::when_base_agrees`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenBaseAgrees {
    /// Train anyway: the confirmed beats reinforce what the base already does.
    Train,
    /// Keep the base network unchanged: the corrections hold nothing it does not already do.
    #[default]
    Keep,
}

impl WhenBaseAgrees {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            WhenBaseAgrees::Train => "train",
            WhenBaseAgrees::Keep => "keep",
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
    /// When set, the keep-the-rest term applies only to the songs whose *base* model scores
    /// at least this F-measure on their held-out beats (before training; none in a run too
    /// short to hold any out): where the base already tracks what the user corrected, the
    /// corrections change the network only where the music resembles them, and where it does
    /// not, fine-tuning trains as without the term. `None` = every song (when `rest_weight`
    /// is above 0). 0.9 (DEVSET rule 30): one or two misses among a held-out block's ~12 beats
    /// still score ≥ 0.9, a base at another metrical level (≤ 0.67) or on the off-beat does not.
    pub rest_min_base_f: Option<f64>,
    /// How much of the trained change is kept: the trained layers end at
    /// `base + λ × (trained − base)` for one λ of these, each in (0, 1]. WiSE-FT (Wortsman et
    /// al., "Robust fine-tuning of zero-shot models", CVPR 2022) keeps part of the base this way
    /// so that what a few corrected seconds teach costs less elsewhere. With several, each is
    /// scored on the held-out beats and the smallest λ whose held-out F equals the best of them
    /// is kept (without held-out beats, the largest). The held-out scores reported and the
    /// adoption guard are the kept model's. `[1.0]` = as trained. Default 0.1, 0.25, 0.5 and 1
    /// (DEVSET rule 27 adopted 0.25, 0.5 and 1: with the first 30 s of each song corrected,
    /// the rest's continued F on the 63 test songs 0.900 → 0.914 and songs worse than before
    /// fine-tuning 6 → 3; rule 30 added 0.1: songs worse on test, fresh + continued, 6 → 5
    /// (dev 7 → 4), fresh F 0.963 → 0.952, continued 0.935 → 0.9345).
    pub interpolations: Vec<f64>,
    /// What to do when every song's base beats ([`AnnotatedSong::with_base_beats`]) already
    /// match its corrected beats: no corrected beat farther than 70 ms (the F-measure's window)
    /// from a base beat, no base beat inside the region farther than 70 ms from a corrected one
    /// ([`AnnotatedSong::base_agrees`]). With `keep`, the beat network is the base's, unchanged
    /// (the bar classifier still learns numbered bars); a song without base beats never
    /// matches. Default `keep` (DEVSET rule 31: first 30 s of each song corrected, songs worse
    /// after fine-tuning than before on the 70 dev songs 1 → 0 fresh and 3 → 1 continued, e.g.
    /// a Groove MIDI song whose base was right for 30 s and which training moved off the drum-less
    /// tail; on the 63 test songs the same 2 and 3 as `train`, rest-of-song F 0.9523 → 0.9517
    /// fresh and 0.9345 → 0.9337 continued; the base was kept for 46 and 34 songs).
    pub when_base_agrees: WhenBaseAgrees,
    /// Weight of the downbeat term when the base model has a downbeat head (0 = the head is
    /// left as the trained layers below it make it). A song whose beats the user numbered in
    /// the bar ([`AnnotatedSong::with_positions`]) teaches its downbeats; a song without
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
            rest_min_base_f: None,
            interpolations: vec![0.1, 0.25, 0.5, 1.0],
            when_base_agrees: WhenBaseAgrees::Keep,
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
    pub(super) fn top_layers_for(&self, branch: &Branch) -> usize {
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
        if let Some(f) = self.rest_min_base_f
            && !(0.0..=1.0).contains(&f)
        {
            return bad(format!("rest_min_base_f must be in [0, 1], got {f}"));
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
