pub mod analyze;
pub mod convert;
pub mod eval;
pub mod finetune;
pub mod import_weights;
pub mod plot;
pub mod pretrain;
pub mod project;
