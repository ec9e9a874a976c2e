//! `eval` stage: the mir_eval 0.8.2 beat metrics, ported exactly.
//!
//! ZeroNS reported mir_eval's F-measure, CMLc/CMLt/AMLc/AMLt and information gain after
//! `trim_beats`; this module also has Cemgil, Goto and P-score so that [`evaluate`]
//! returns the same ten numbers as `mir_eval.beat.evaluate` (golden parity within 1e-9,
//! see `tests/mir_eval_golden.rs`). Semantics, quirks included, follow
//! `specs/tracking-metrics-formats.md` §3.
//!
//! [`evaluate_downbeats`] adds the downbeat F-measure (mir_eval's F-measure on the beats at
//! position 1) and bar-position accuracy (see `downbeat.rs`).
//!
//! Deliberate differences from mir_eval, all on inputs mir_eval mishandles:
//! * NaN and infinite times are rejected ([`Error::InvalidInput`]); mir_eval lets NaN
//!   through (it fails neither the range nor the order check).
//! * [`evaluate`] validates the **untrimmed** inputs, so a decreasing or NaN time before
//!   `min_beat_time_s` is reported rather than trimmed away.
//! * [`p_score`] returns 0 (with a warning) where mir_eval raises `ValueError` (every
//!   reference beat on the same 10 ms grid point).
//! * Warnings are collected in [`BeatScores::warnings`] instead of being emitted.

mod beat;
mod downbeat;
mod numeric;
mod rest;

pub use beat::{
    CemgilScores, ContinuityScores, MAX_TIME_S, cemgil, continuity, f_measure, goto,
    information_gain, p_score, trim_beats, validate,
};
pub use downbeat::{DownbeatScores, PositionedBeats, evaluate_downbeats};
pub use rest::estimates_cut_s;

use crate::{Error, Result};
use beat::Warnings;
use serde::{Deserialize, Serialize};

/// Parameters of [`evaluate`]. Every default is mir_eval 0.8.2's (`mir_eval.beat`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EvalConfig {
    /// Drop beats before `min_beat_time_s` from both sequences first, as
    /// `mir_eval.beat.evaluate` always does (`trim_beats`). Default true.
    pub trim: bool,
    /// `trim_beats(min_beat_time=5.0)`: beats earlier than this are ignored. Default 5 s.
    pub min_beat_time_s: f64,
    /// `f_measure(f_measure_threshold=0.07)`: match window ± seconds. Default 0.07 s.
    pub f_measure_window_s: f64,
    /// `cemgil(cemgil_sigma=0.04)`: Gaussian error σ in seconds. Default 0.04 s.
    pub cemgil_sigma_s: f64,
    /// `goto(goto_threshold=0.35)`: a beat error above this (fraction of the half
    /// interval) breaks the track. Default 0.35.
    pub goto_threshold: f64,
    /// `goto(goto_mu=0.2)`: the track's mean |error| must be below this. Default 0.2.
    pub goto_mu: f64,
    /// `goto(goto_sigma=0.2)`: the track's error std must be below this. Default 0.2.
    pub goto_sigma: f64,
    /// `p_score(p_score_threshold=0.2)`: window as a fraction of the median reference
    /// interval. Default 0.2.
    pub p_score_threshold: f64,
    /// `continuity(continuity_phase_threshold=0.175)`. Default 0.175.
    pub continuity_phase_threshold: f64,
    /// `continuity(continuity_period_threshold=0.175)`. Default 0.175.
    pub continuity_period_threshold: f64,
    /// `information_gain(bins=41)`: beat-error histogram bins (odd keeps a bin centred
    /// on zero). Default 41.
    pub information_gain_bins: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            trim: true,
            min_beat_time_s: 5.0,
            f_measure_window_s: 0.07,
            cemgil_sigma_s: 0.04,
            goto_threshold: 0.35,
            goto_mu: 0.2,
            goto_sigma: 0.2,
            p_score_threshold: 0.2,
            continuity_phase_threshold: 0.175,
            continuity_period_threshold: 0.175,
            information_gain_bins: 41,
        }
    }
}

impl EvalConfig {
    /// Checks every field; [`Error::Config`] names the offending one.
    pub fn validate(&self) -> Result<()> {
        let non_negative = [
            ("f_measure_window_s", self.f_measure_window_s),
            ("goto_threshold", self.goto_threshold),
            ("goto_mu", self.goto_mu),
            ("goto_sigma", self.goto_sigma),
            ("p_score_threshold", self.p_score_threshold),
            (
                "continuity_phase_threshold",
                self.continuity_phase_threshold,
            ),
            (
                "continuity_period_threshold",
                self.continuity_period_threshold,
            ),
        ];
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config(format!(
                    "eval.{name} must be a finite number >= 0, got {v}"
                )));
            }
        }
        if !(self.cemgil_sigma_s.is_finite() && self.cemgil_sigma_s > 0.0) {
            return Err(Error::Config(format!(
                "eval.cemgil_sigma_s must be a finite number > 0, got {}",
                self.cemgil_sigma_s
            )));
        }
        if !self.min_beat_time_s.is_finite() {
            return Err(Error::Config(format!(
                "eval.min_beat_time_s must be finite, got {}",
                self.min_beat_time_s
            )));
        }
        if self.information_gain_bins == 0 {
            return Err(Error::Config(
                "eval.information_gain_bins must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The ten scores of `mir_eval.beat.evaluate`, in mir_eval's order. Serialises to JSON
/// with exactly these snake_case keys; `warnings` is not serialised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatScores {
    /// "F-measure".
    pub f_measure: f64,
    /// "Cemgil".
    pub cemgil: f64,
    /// "Cemgil Best Metric Level".
    pub cemgil_best: f64,
    /// "Goto" (0 or 1).
    pub goto: f64,
    /// "P-score".
    pub p_score: f64,
    /// "Correct Metric Level Continuous".
    pub cmlc: f64,
    /// "Correct Metric Level Total".
    pub cmlt: f64,
    /// "Any Metric Level Continuous".
    pub amlc: f64,
    /// "Any Metric Level Total".
    pub amlt: f64,
    /// "Information gain".
    pub information_gain: f64,
    /// What mir_eval would have warned about (empty or single-beat inputs, …), once each.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl BeatScores {
    /// (snake_case key, mir_eval's key) for every score, in mir_eval's order.
    pub const KEYS: [(&'static str, &'static str); 10] = [
        ("f_measure", "F-measure"),
        ("cemgil", "Cemgil"),
        ("cemgil_best", "Cemgil Best Metric Level"),
        ("goto", "Goto"),
        ("p_score", "P-score"),
        ("cmlc", "Correct Metric Level Continuous"),
        ("cmlt", "Correct Metric Level Total"),
        ("amlc", "Any Metric Level Continuous"),
        ("amlt", "Any Metric Level Total"),
        ("information_gain", "Information gain"),
    ];

    /// The scores in the order of [`BeatScores::KEYS`].
    pub fn values(&self) -> [f64; 10] {
        [
            self.f_measure,
            self.cemgil,
            self.cemgil_best,
            self.goto,
            self.p_score,
            self.cmlc,
            self.cmlt,
            self.amlc,
            self.amlt,
            self.information_gain,
        ]
    }
}

/// `mir_eval.beat.evaluate`: trims both sequences (if `config.trim`), then computes all
/// ten beat metrics. Times are in seconds, sorted non-decreasing.
///
/// Errors: [`Error::Config`] for a bad `config`; [`Error::InvalidInput`] for NaN or
/// infinite times, times above 30000 s or a decreasing sequence (checked before
/// trimming). Degenerate but valid inputs (empty, a single beat) score 0 with a warning.
pub fn evaluate(
    reference_s: &[f64],
    estimated_s: &[f64],
    config: &EvalConfig,
) -> Result<BeatScores> {
    let _span = tracing::info_span!(
        "eval",
        n_reference = reference_s.len(),
        n_estimated = estimated_s.len()
    )
    .entered();
    config.validate()?;
    let mut warnings = Warnings::default();
    // Validate what the caller gave us, not just what survives the trim.
    beat::validate_into(reference_s, estimated_s, &mut Warnings::default())?;
    let (reference, estimated) = if config.trim {
        (
            trim_beats(reference_s, config.min_beat_time_s),
            trim_beats(estimated_s, config.min_beat_time_s),
        )
    } else {
        (reference_s.to_vec(), estimated_s.to_vec())
    };
    let (r, e, w) = (&reference[..], &estimated[..], &mut warnings);
    let f_measure = beat::f_measure_impl(r, e, config.f_measure_window_s, w)?;
    let cemgil = beat::cemgil_impl(r, e, config.cemgil_sigma_s, w)?;
    let goto = beat::goto_impl(
        r,
        e,
        config.goto_threshold,
        config.goto_mu,
        config.goto_sigma,
        w,
    )?;
    let p_score = beat::p_score_impl(r, e, config.p_score_threshold, w)?;
    let cont = beat::continuity_impl(
        r,
        e,
        config.continuity_phase_threshold,
        config.continuity_period_threshold,
        w,
    )?;
    let information_gain = beat::information_gain_impl(r, e, config.information_gain_bins, w)?;
    Ok(BeatScores {
        f_measure,
        cemgil: cemgil.cemgil,
        cemgil_best: cemgil.cemgil_best,
        goto,
        p_score,
        cmlc: cont.cmlc,
        cmlt: cont.cmlt,
        amlc: cont.amlc,
        amlt: cont.amlt,
        information_gain,
        warnings: warnings.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_mir_eval_and_valid() {
        let c = EvalConfig::default();
        assert!(c.trim);
        assert_eq!(c.min_beat_time_s, 5.0);
        assert_eq!(c.f_measure_window_s, 0.07);
        assert_eq!(c.information_gain_bins, 41);
        c.validate().unwrap();
        // serde(default) fills missing fields.
        let c2: EvalConfig = serde_json::from_str(r#"{"trim": false}"#).unwrap();
        assert!(!c2.trim);
        assert_eq!(c2.cemgil_sigma_s, 0.04);
    }

    #[test]
    fn bad_config_is_rejected() {
        let c = EvalConfig {
            cemgil_sigma_s: 0.0,
            ..EvalConfig::default()
        };
        assert!(matches!(c.validate(), Err(Error::Config(ref m)) if m.contains("cemgil_sigma_s")));
        let c = EvalConfig {
            f_measure_window_s: f64::NAN,
            ..EvalConfig::default()
        };
        assert!(evaluate(&[], &[], &c).is_err());
        let c = EvalConfig {
            information_gain_bins: 0,
            ..EvalConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn serialises_exactly_the_ten_keys() {
        let r: Vec<f64> = (0..40).map(|i| 5.0 + 0.5 * i as f64).collect();
        let s = evaluate(&r, &r, &EvalConfig::default()).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = BeatScores::KEYS.iter().map(|k| k.0).collect();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys_sorted, expected);
        assert_eq!(s.values(), [1.0; 10]);
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn trims_before_scoring_and_collects_warnings() {
        // Everything before 5 s disappears: both sides empty after the trim.
        let s = evaluate(&[1.0, 2.0], &[1.0, 4.9], &EvalConfig::default()).unwrap();
        assert_eq!(s.values(), [0.0; 10]);
        assert_eq!(
            s.warnings,
            vec!["Reference beats are empty.", "Estimated beats are empty."]
        );
        // Without the trim the same input is scored.
        let c = EvalConfig {
            trim: false,
            ..EvalConfig::default()
        };
        let s = evaluate(&[1.0, 2.0], &[1.0, 2.0], &c).unwrap();
        assert_eq!(s.f_measure, 1.0);
    }

    #[test]
    fn errors_are_invalid_input_even_before_the_trim() {
        let c = EvalConfig::default();
        for (r, e) in [
            (vec![3.0, 1.0, 6.0], vec![6.0]),
            (vec![f64::NAN, 6.0], vec![6.0]),
            (vec![6.0], vec![6.0, 40000.0]),
        ] {
            let err = evaluate(&r, &e, &c).unwrap_err();
            assert_eq!(err.code(), "invalid_input", "{err}");
        }
    }
}
