//! `eval` stage: mir_eval beat metrics.
