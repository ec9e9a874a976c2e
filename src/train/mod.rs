//! `train` stage: self-supervised pretraining with the sync-pred pretext task (spec §3) and
//! fine-tuning on user-corrected beats (spec §4).
//!
//! - [`corpus`]: a directory of audio → stems → stem-balance curation → cached 10 s log-VQT
//!   clip pairs with a JSON manifest, split into training and validation by track.
//! - [`syncpred`]: the pretext task (16 crops per clip, one-directional NT-Xent at T = 0.25
//!   on centred curves) and a resumable, deterministic training loop with checkpoints.
//! - [`base`]: base-model training on renders with exact beats and bars (every layer, beat
//!   and downbeat heads, DBN-scored validation, resumable); `crops` draws its augmented
//!   crops and targets, `tempo` is its optional multi-task tempo head.
//! - [`bars`]: the bar classifier (which beats are downbeats) on beat-synchronous features of
//!   songs with exact bar lines.
//! - [`finetune`]: supervised fine-tuning on the user's corrected beats (spec §4) with cached
//!   lower-layer features, held-out validation and an honest before/after.

pub mod bars;
pub mod base;
mod checkpoint;
pub mod corpus;
mod crops;
pub mod finetune;
pub mod renders;
pub mod syncpred;
mod tempo;

pub use bars::{
    BarExamples, BarSong, BarsEpoch, BarsFinetuneConfig, BarsFinetuneReport, BarsOutcome,
    BarsTrainConfig, bar_examples, finetune_bars, song_examples, train_bars, train_bars_from,
};
pub use base::{
    BaseTrainConfig, BaseTrainProgress, BaseTrainState, BaseTrainSummary, BaseValid, LabelledSong,
    train_base,
};
pub use corpus::{
    ClipPair, ClipRef, Corpus, CorpusConfig, CorpusManifest, CorpusProgress, CorpusReport,
    RejectReason, TrackEntry, ingest_corpus,
};
pub use finetune::{
    AnnotatedSong, FinetuneConfig, FinetuneEpoch, FinetuneMode, FinetuneOutcome, FinetuneProgress,
    HeldOutScores, WhenBaseAgrees, changed_beats, corrected_until_s, finetune, held_out_scores_of,
};
pub use renders::{LabelledItem, load_labelled, load_labelled_each};
pub use syncpred::{
    CosineKind, EpochMetrics, TrainConfig, TrainProgress, TrainState, TrainSummary, ValidMetrics,
    ValidPoint, nt_xent, pretrain, validate,
};
