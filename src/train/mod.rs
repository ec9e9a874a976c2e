//! `train` stage: self-supervised pretraining with the sync-pred pretext task (spec §3).
//!
//! - [`corpus`]: a directory of audio → stems → stem-balance curation → cached 10 s log-VQT
//!   clip pairs with a JSON manifest, split into training and validation by track.
//! - [`syncpred`]: the pretext task (16 crops per clip, one-directional NT-Xent at T = 0.25
//!   on centred curves) and a resumable, deterministic training loop with checkpoints.

pub mod corpus;
pub mod syncpred;

pub use corpus::{
    ClipPair, ClipRef, Corpus, CorpusConfig, CorpusManifest, CorpusProgress, CorpusReport,
    RejectReason, TrackEntry, ingest_corpus,
};
pub use syncpred::{
    EpochMetrics, TrainConfig, TrainProgress, TrainState, TrainSummary, ValidMetrics, nt_xent,
    pretrain, validate,
};
