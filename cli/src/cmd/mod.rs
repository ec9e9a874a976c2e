pub mod analyze;
pub mod eval;
pub mod finetune;
pub mod import_weights;
pub mod pretrain;
pub mod project;
