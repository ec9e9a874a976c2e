pub mod analyze;
pub mod eval;
pub mod finetune;
pub mod import_weights;
pub mod project;
pub mod pretrain;
