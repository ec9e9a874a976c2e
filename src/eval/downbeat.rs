//! Downbeat metrics: mir_eval's beat F-measure applied to the downbeats, and bar-position
//! accuracy.
//!
//! * **Downbeat F-measure**: the beats at position 1 of each list, trimmed like beats
//!   (`trim_beats`, 5 s by default), scored by `mir_eval.beat.f_measure` (±70 ms) — what
//!   downbeat evaluations usually report (e.g. madmom's and the MIREX downbeat task's F-measure
//!   over downbeats).
//! * **Bar-position accuracy**: both beat lists trimmed the same way, matched one to one within
//!   the F-measure window (the same maximum matching as [`super::f_measure`]); the fraction of
//!   *estimated* beats whose matched reference beat carries the same position in the bar
//!   (0 with no estimated beats). An estimate with the right beats but the wrong bar phase
//!   scores 0; right beats and right bars score 1.
//!
//! Checked against mir_eval 0.8.2 (`f_measure`, `util.match_events`) in
//! `tests/downbeat_eval_golden.rs`.

use serde::{Deserialize, Serialize};

use super::EvalConfig;
use super::beat::{self, Warnings};
use crate::{Error, Result};

/// The downbeat scores of one estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownbeatScores {
    /// F-measure over the downbeats (position 1), mir_eval semantics.
    pub downbeat_f_measure: f64,
    /// Fraction of estimated beats matched to a reference beat with the same position.
    pub position_accuracy: f64,
    /// Reference downbeats scored (after the trim).
    pub reference_downbeats: usize,
    /// Estimated downbeats scored (after the trim).
    pub estimated_downbeats: usize,
}

/// Beat times with their positions in the bar (1 = downbeat), one per beat.
#[derive(Debug, Clone, Copy)]
pub struct PositionedBeats<'a> {
    /// Beat times in seconds, non-decreasing.
    pub times_s: &'a [f64],
    /// Position of each beat in its bar, 1 = downbeat.
    pub positions: &'a [u32],
}

impl<'a> PositionedBeats<'a> {
    /// Pairs times and positions; [`Error::InvalidInput`] if the lengths differ.
    pub fn new(times_s: &'a [f64], positions: &'a [u32]) -> Result<Self> {
        if times_s.len() != positions.len() {
            return Err(Error::InvalidInput(format!(
                "{} beat times but {} beat positions",
                times_s.len(),
                positions.len()
            )));
        }
        Ok(Self { times_s, positions })
    }

    /// The times of the beats at position 1.
    pub fn downbeats_s(&self) -> Vec<f64> {
        self.times_s
            .iter()
            .zip(self.positions)
            .filter(|&(_, &p)| p == 1)
            .map(|(&t, _)| t)
            .collect()
    }

    /// The beats at or after `min_s` (mir_eval `trim_beats`), positions kept aligned.
    fn trimmed(&self, min_s: f64) -> (Vec<f64>, Vec<u32>) {
        self.times_s
            .iter()
            .zip(self.positions)
            .filter(|&(&t, _)| t >= min_s)
            .map(|(&t, &p)| (t, p))
            .unzip()
    }
}

/// Downbeat F-measure and bar-position accuracy of `estimate` against `reference`
/// (trimmed at `config.min_beat_time_s` when `config.trim`, window `config.f_measure_window_s`).
///
/// Errors as [`super::evaluate`]: [`Error::Config`] for a bad config, [`Error::InvalidInput`]
/// for NaN/infinite/decreasing/huge times (checked before trimming).
pub fn evaluate_downbeats(
    reference: PositionedBeats<'_>,
    estimate: PositionedBeats<'_>,
    config: &EvalConfig,
) -> Result<DownbeatScores> {
    config.validate()?;
    beat::validate_into(
        reference.times_s,
        estimate.times_s,
        &mut Warnings::default(),
    )?;
    let min_s = if config.trim {
        config.min_beat_time_s
    } else {
        f64::NEG_INFINITY
    };
    let ref_db = beat::trim_beats(&reference.downbeats_s(), min_s);
    let est_db = beat::trim_beats(&estimate.downbeats_s(), min_s);
    let downbeat_f_measure = beat::f_measure_impl(
        &ref_db,
        &est_db,
        config.f_measure_window_s,
        &mut Warnings::default(),
    )?;
    let (rt, rp) = reference.trimmed(min_s);
    let (et, ep) = estimate.trimmed(min_s);
    let position_accuracy = if et.is_empty() {
        0.0
    } else {
        let same = beat::matched_pairs(&rt, &et, config.f_measure_window_s)
            .into_iter()
            .filter(|&(r, e)| rp[r] == ep[e])
            .count();
        same as f64 / et.len() as f64
    };
    Ok(DownbeatScores {
        downbeat_f_measure,
        position_accuracy,
        reference_downbeats: ref_db.len(),
        estimated_downbeats: est_db.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(
        n: usize,
        period_s: f64,
        start_s: f64,
        meter: u32,
        first_pos: u32,
    ) -> (Vec<f64>, Vec<u32>) {
        (0..n)
            .map(|k| {
                (
                    start_s + period_s * k as f64,
                    (first_pos - 1 + k as u32) % meter + 1,
                )
            })
            .unzip()
    }

    #[test]
    fn perfect_rotated_and_partial() {
        let c = EvalConfig::default();
        let (rt, rp) = bars(60, 0.5, 0.3, 4, 1);
        let r = PositionedBeats::new(&rt, &rp).unwrap();
        let s = evaluate_downbeats(r, r, &c).unwrap();
        assert_eq!((s.downbeat_f_measure, s.position_accuracy), (1.0, 1.0));
        // beats 5 s and later: 10.3 s .. 29.8 s → 50 beats, downbeats at k ≡ 0 mod 4 from k=10
        assert_eq!(s.reference_downbeats, 12);
        // same beats, bar phase off by one
        let (_, wp) = bars(60, 0.5, 0.3, 4, 2);
        let w = PositionedBeats::new(&rt, &wp).unwrap();
        let s = evaluate_downbeats(r, w, &c).unwrap();
        assert_eq!((s.downbeat_f_measure, s.position_accuracy), (0.0, 0.0));
        // 3/4 read as 4/4: a third of the downbeats line up at most
        let (_, tp) = bars(60, 0.5, 0.3, 3, 1);
        let t = PositionedBeats::new(&rt, &tp).unwrap();
        let s = evaluate_downbeats(r, t, &c).unwrap();
        assert!(s.downbeat_f_measure > 0.0 && s.downbeat_f_measure < 0.5);
        assert!(s.position_accuracy > 0.0 && s.position_accuracy < 0.5);
        // no trim: everything counts
        let nc = EvalConfig {
            trim: false,
            ..c.clone()
        };
        assert_eq!(
            evaluate_downbeats(r, r, &nc).unwrap().reference_downbeats,
            15
        );
        // empty estimate
        let e = PositionedBeats::new(&[], &[]).unwrap();
        let s = evaluate_downbeats(r, e, &c).unwrap();
        assert_eq!((s.downbeat_f_measure, s.position_accuracy), (0.0, 0.0));
    }

    #[test]
    fn bad_input() {
        assert!(PositionedBeats::new(&[1.0, 2.0], &[1]).is_err());
        let p = [1, 2];
        let bad = PositionedBeats::new(&[2.0, 1.0], &p).unwrap();
        let good = PositionedBeats::new(&[1.0, 2.0], &p).unwrap();
        assert!(matches!(
            evaluate_downbeats(good, bad, &EvalConfig::default()),
            Err(Error::InvalidInput(_))
        ));
    }
}
