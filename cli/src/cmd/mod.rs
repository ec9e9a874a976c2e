pub mod analyze;
pub mod eval;
