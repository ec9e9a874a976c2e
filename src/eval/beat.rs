//! The individual mir_eval 0.8.2 beat metrics (`mir_eval.beat`), ported operation for
//! operation. See `specs/tracking-metrics-formats.md` §3 for the semantics and quirks.
//!
//! Every function validates its inputs like mir_eval's `validate` (plus a NaN/infinity
//! check mir_eval lacks) and does **not** trim; [`super::evaluate`] trims first.
//! Warnings mir_eval would emit go to a [`Warnings`] sink; the public functions drop
//! them, [`super::evaluate`] collects them.

use super::numeric::{nearest_index, numpy_mean, numpy_mod, numpy_std_ddof1, numpy_sum};
use crate::{Error, Result};

/// mir_eval's `util.validate_events` limit: no event may lie beyond 30000 s
/// (catches times given in milliseconds).
pub const MAX_TIME_S: f64 = 30000.0;

/// A de-duplicating, order-keeping list of warning messages.
#[derive(Debug, Default)]
pub(crate) struct Warnings(pub(crate) Vec<String>);

impl Warnings {
    pub(crate) fn push(&mut self, msg: &str) {
        if !self.0.iter().any(|m| m == msg) {
            self.0.push(msg.to_owned());
        }
    }
}

const REF_EMPTY: &str = "Reference beats are empty.";
const EST_EMPTY: &str = "Estimated beats are empty.";
const REF_SINGLE: &str =
    "Only one reference beat was provided, so beat intervals cannot be computed.";
const EST_SINGLE: &str =
    "Only one estimated beat was provided, so beat intervals cannot be computed.";

/// Checks one beat array: finite, at most [`MAX_TIME_S`], non-decreasing (equal
/// neighbours are allowed, as in mir_eval). Negative times are allowed, as in mir_eval.
fn validate_events(times_s: &[f64], what: &str) -> Result<()> {
    for (i, &t) in times_s.iter().enumerate() {
        if !t.is_finite() {
            return Err(Error::InvalidInput(format!(
                "{what} beats: time at index {i} is {t}; beat times must be finite numbers of seconds"
            )));
        }
        if t > MAX_TIME_S {
            return Err(Error::InvalidInput(format!(
                "{what} beats: time {t} s at index {i} exceeds the maximum of {MAX_TIME_S} s \
                 (were the times given in milliseconds?)"
            )));
        }
    }
    if let Some(i) = times_s.windows(2).position(|w| w[1] < w[0]) {
        return Err(Error::InvalidInput(format!(
            "{what} beats must be in increasing order: time {} s at index {} comes after {} s",
            times_s[i + 1],
            i + 1,
            times_s[i]
        )));
    }
    Ok(())
}

pub(crate) fn validate_into(
    reference_s: &[f64],
    estimated_s: &[f64],
    warnings: &mut Warnings,
) -> Result<()> {
    if reference_s.is_empty() {
        warnings.push(REF_EMPTY);
    }
    if estimated_s.is_empty() {
        warnings.push(EST_EMPTY);
    }
    validate_events(reference_s, "reference")?;
    validate_events(estimated_s, "estimated")
}

/// mir_eval `beat.validate`: rejects NaN/infinite times, times above [`MAX_TIME_S`] and
/// decreasing sequences with [`Error::InvalidInput`]; returns the warnings mir_eval would
/// emit (empty inputs).
pub fn validate(reference_s: &[f64], estimated_s: &[f64]) -> Result<Vec<String>> {
    let mut w = Warnings::default();
    validate_into(reference_s, estimated_s, &mut w)?;
    Ok(w.0)
}

/// mir_eval `beat.trim_beats`: keeps the beats at or after `min_beat_time_s`
/// (mir_eval's default is 5 s, see [`super::EvalConfig::min_beat_time_s`]).
pub fn trim_beats(beats_s: &[f64], min_beat_time_s: f64) -> Vec<f64> {
    beats_s
        .iter()
        .copied()
        .filter(|&t| t >= min_beat_time_s)
        .collect()
}

/// The five metrical variations of a reference sequence mir_eval scores against:
/// original, off-beat, double tempo, half tempo (odd beats), half tempo (even beats).
/// mir_eval has no triple/third variations.
pub(crate) fn reference_variations(reference_s: &[f64]) -> [Vec<f64>; 5] {
    let n = reference_s.len();
    // np.interp(arange(0, n - .5, .5), arange(n), r): integer points give r[k] exactly,
    // half points slope * 0.5 + r[k] with slope = (r[k+1] - r[k]) / 1.
    let mut double = Vec::with_capacity((2 * n).saturating_sub(1));
    for (k, &r) in reference_s.iter().enumerate() {
        double.push(r);
        if let Some(&next) = reference_s.get(k + 1) {
            double.push((next - r) * 0.5 + r);
        }
    }
    let off_beat = double.iter().skip(1).step_by(2).copied().collect();
    let half_odd = reference_s.iter().step_by(2).copied().collect();
    let half_even = reference_s.iter().skip(1).step_by(2).copied().collect();
    [reference_s.to_vec(), off_beat, double, half_odd, half_even]
}

/// mir_eval `util.f_measure` with beta = 1.
fn f_score(precision: f64, recall: f64) -> f64 {
    if precision == 0.0 && recall == 0.0 {
        return 0.0;
    }
    (1.0 + 1.0) * precision * recall / (1.0 * precision + recall)
}

pub(crate) fn f_measure_impl(
    reference_s: &[f64],
    estimated_s: &[f64],
    window_s: f64,
    warnings: &mut Warnings,
) -> Result<f64> {
    validate_into(reference_s, estimated_s, warnings)?;
    if reference_s.is_empty() || estimated_s.is_empty() {
        return Ok(0.0);
    }
    let matched = matched_pairs(reference_s, estimated_s, window_s).len();
    let precision = matched as f64 / estimated_s.len() as f64;
    let recall = matched as f64 / reference_s.len() as f64;
    Ok(f_score(precision, recall))
}

/// One-to-one matches `(reference index, estimate index)` within ±`window_s`, a maximum
/// matching as mir_eval's `util.match_events` finds (sorted inputs).
///
/// mir_eval finds a maximum matching (Hopcroft–Karp) over the hit windows that
/// `searchsorted` produces: reference r hits estimate e iff e - w <= r <= e + w.
/// With both sequences sorted the window bounds are monotone in e, so the greedy
/// "earliest unused reference in the window" matching is maximum. The pairs can differ from
/// mir_eval's only where one beat could match either of two within the window.
pub(crate) fn matched_pairs(
    reference_s: &[f64],
    estimated_s: &[f64],
    window_s: f64,
) -> Vec<(usize, usize)> {
    let mut j = 0;
    let mut pairs = Vec::new();
    for (k, &e) in estimated_s.iter().enumerate() {
        let lo = e - window_s;
        let hi = e + window_s;
        while j < reference_s.len() && reference_s[j] < lo {
            j += 1;
        }
        if j < reference_s.len() && reference_s[j] <= hi {
            pairs.push((j, k));
            j += 1;
        }
    }
    pairs
}

/// mir_eval `beat.f_measure`: F-measure of one-to-one matches within ±`window_s`
/// (mir_eval default 0.07 s). 0 when either sequence is empty.
pub fn f_measure(reference_s: &[f64], estimated_s: &[f64], window_s: f64) -> Result<f64> {
    f_measure_impl(reference_s, estimated_s, window_s, &mut Warnings::default())
}

/// Cemgil accuracy for the original reference and the best over all variations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CemgilScores {
    /// Against the reference as annotated.
    pub cemgil: f64,
    /// The maximum over the five metrical variations ("Cemgil Best Metric Level").
    pub cemgil_best: f64,
}

pub(crate) fn cemgil_impl(
    reference_s: &[f64],
    estimated_s: &[f64],
    sigma_s: f64,
    warnings: &mut Warnings,
) -> Result<CemgilScores> {
    validate_into(reference_s, estimated_s, warnings)?;
    if reference_s.is_empty() || estimated_s.is_empty() {
        return Ok(CemgilScores {
            cemgil: 0.0,
            cemgil_best: 0.0,
        });
    }
    let two_sigma_sq = 2.0 * (sigma_s * sigma_s);
    let accuracies = reference_variations(reference_s).map(|v| {
        let mut acc = 0.0;
        for &b in &v {
            let d = (b - estimated_s[nearest_index(estimated_s, b)]).abs();
            acc += (-(d * d) / two_sigma_sq).exp();
        }
        acc / (0.5 * (estimated_s.len() + v.len()) as f64)
    });
    Ok(CemgilScores {
        cemgil: accuracies[0],
        cemgil_best: accuracies.iter().copied().fold(f64::NEG_INFINITY, f64_max),
    })
}

/// `np.max` semantics for two values: NaN propagates.
fn f64_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// mir_eval `beat.cemgil`: Gaussian-error accuracy (σ = `sigma_s`, mir_eval default
/// 0.04 s) against the reference and its best metrical variation. Can exceed 1 with
/// duplicated references, as in mir_eval.
pub fn cemgil(reference_s: &[f64], estimated_s: &[f64], sigma_s: f64) -> Result<CemgilScores> {
    cemgil_impl(reference_s, estimated_s, sigma_s, &mut Warnings::default())
}

pub(crate) fn goto_impl(
    reference_s: &[f64],
    estimated_s: &[f64],
    threshold: f64,
    mu: f64,
    sigma: f64,
    warnings: &mut Warnings,
) -> Result<f64> {
    validate_into(reference_s, estimated_s, warnings)?;
    if reference_s.is_empty() || estimated_s.is_empty() {
        return Ok(0.0);
    }
    let n = reference_s.len();
    let r = reference_s;
    // The first and last errors stay 1 (never paired).
    let mut err = vec![1.0f64; n];
    for k in 1..n.saturating_sub(1) {
        let prev_half = 0.5 * (r[k] - r[k - 1]);
        let window_min = r[k] - prev_half;
        let next_half = 0.5 * (r[k + 1] - r[k]);
        let window_max = r[k] + next_half;
        // Estimates in [window_min, window_max).
        let lo = estimated_s.partition_point(|&e| e < window_min);
        let hi = estimated_s.partition_point(|&e| e < window_max);
        if hi.saturating_sub(lo) == 1 {
            let offset = estimated_s[lo] - r[k];
            err[k] = if offset < 0.0 {
                offset / prev_half
            } else {
                offset / next_half
            };
        }
    }
    let bad: Vec<usize> = (0..n).filter(|&k| err[k].abs() > threshold).collect();
    // `bad` always holds index 0 (err[0] = 1 > any sane threshold); be total anyway.
    let (Some(&first_bad), Some(&last_bad)) = (bad.first(), bad.last()) else {
        return Ok(0.0);
    };
    let track: &[f64] = if bad.len() < 3 {
        // Python slice err[bad[0] + 1 : bad[-1] - 1]; an end of -1 wraps to n - 1.
        let start = first_bad + 1;
        let end = if last_bad == 0 { n - 1 } else { last_bad - 1 };
        err.get(start..end).unwrap_or(&[])
    } else {
        let gaps: Vec<usize> = bad.windows(2).map(|w| w[1] - w[0]).collect();
        let longest = gaps.iter().copied().max().unwrap_or(0);
        let start = gaps.iter().position(|&g| g == longest).unwrap_or(0);
        if (longest as f64 - 1.0) > 0.25 * (n as f64 - 2.0) {
            // Includes both bounding bad beats, as mir_eval does.
            &err[bad[start]..=bad[start + 1]]
        } else {
            return Ok(0.0);
        }
    };
    let abs_track: Vec<f64> = track.iter().map(|x| x.abs()).collect();
    // Empty or single-beat tracks give NaN mean/std in numpy, which fail the test.
    let ok = numpy_mean(&abs_track) < mu && numpy_std_ddof1(track) < sigma;
    Ok(if ok { 1.0 } else { 0.0 })
}

/// mir_eval `beat.goto`: 1 if a continuously correct stretch covers more than 25 % of
/// the reference and its beat errors have mean |e| < `mu` and std < `sigma`, else 0.
/// mir_eval defaults: threshold 0.35, mu 0.2, sigma 0.2.
pub fn goto(
    reference_s: &[f64],
    estimated_s: &[f64],
    threshold: f64,
    mu: f64,
    sigma: f64,
) -> Result<f64> {
    goto_impl(
        reference_s,
        estimated_s,
        threshold,
        mu,
        sigma,
        &mut Warnings::default(),
    )
}

fn warn_single(reference_s: &[f64], estimated_s: &[f64], warnings: &mut Warnings) {
    if reference_s.len() == 1 {
        warnings.push(REF_SINGLE);
    }
    if estimated_s.len() == 1 {
        warnings.push(EST_SINGLE);
    }
}

/// Message for the P-score case where mir_eval raises (see [`p_score`]).
pub(crate) const P_SCORE_UNDEFINED: &str = "P-score undefined: all reference beats fall on the \
     same 10 ms grid point, so there is no inter-beat interval (mir_eval raises ValueError); \
     scored 0.";

pub(crate) fn p_score_impl(
    reference_s: &[f64],
    estimated_s: &[f64],
    threshold: f64,
    warnings: &mut Warnings,
) -> Result<f64> {
    validate_into(reference_s, estimated_s, warnings)?;
    warn_single(reference_s, estimated_s, warnings);
    if reference_s.len() <= 1 || estimated_s.len() <= 1 {
        return Ok(0.0);
    }
    // Quantise to a 10 ms impulse grid after shifting the earliest beat to 0.
    let offset = reference_s[0].min(estimated_s[0]);
    let grid = |xs: &[f64]| -> Vec<i64> {
        let mut idx: Vec<i64> = xs
            .iter()
            .map(|&t| ((t - offset) * 100.0).ceil() as i64)
            .collect();
        idx.dedup(); // sorted input gives sorted indices; equal indices are one impulse
        idx
    };
    let ref_idx = grid(reference_s);
    let est_idx = grid(estimated_s);
    let mut intervals: Vec<i64> = ref_idx.windows(2).map(|w| w[1] - w[0]).collect();
    if intervals.is_empty() {
        warnings.push(P_SCORE_UNDEFINED);
        return Ok(0.0);
    }
    intervals.sort_unstable();
    let m = intervals.len();
    let median = if m % 2 == 1 {
        intervals[m / 2] as f64
    } else {
        (intervals[m / 2 - 1] as f64 + intervals[m / 2] as f64) / 2.0
    };
    let win = (threshold * median).round_ties_even() as i64;
    // Sum of the full cross-correlation of the two impulse trains over lags -win..=win
    // = number of (reference, estimate) impulse pairs at most `win` grid steps apart.
    let mut pairs = 0usize;
    for &e in &est_idx {
        let lo = ref_idx.partition_point(|&a| a < e - win);
        let hi = ref_idx.partition_point(|&a| a <= e + win);
        pairs += hi.saturating_sub(lo);
    }
    let n_beats = reference_s.len().max(estimated_s.len());
    Ok(pairs as f64 / n_beats as f64)
}

/// mir_eval `beat.p_score` (McKinney): cross-correlation of 10 ms impulse trains within
/// ±`threshold`·median reference interval (mir_eval default threshold 0.2).
///
/// 0 when either sequence has fewer than two beats. Where mir_eval **raises** (every
/// reference beat quantises to the same 10 ms grid point, e.g. `[6.0, 6.0]`), this
/// returns 0 (and [`super::evaluate`] adds a warning).
pub fn p_score(reference_s: &[f64], estimated_s: &[f64], threshold: f64) -> Result<f64> {
    p_score_impl(
        reference_s,
        estimated_s,
        threshold,
        &mut Warnings::default(),
    )
}

/// The four continuity scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContinuityScores {
    /// Correct metric level, longest continuous correct stretch.
    pub cmlc: f64,
    /// Correct metric level, total correct.
    pub cmlt: f64,
    /// Any metric level (best variation), continuous.
    pub amlc: f64,
    /// Any metric level (best variation), total.
    pub amlt: f64,
}

/// (continuous, total) accuracy of `est` against one variation `v` (non-empty).
fn continuity_one(v: &[f64], est: &[f64], phase_thr: f64, period_thr: f64) -> (f64, f64) {
    let n = v.len().max(est.len());
    let mut used = vec![false; v.len()];
    let mut ok = vec![false; est.len()];
    for (m, &e) in est.iter().enumerate() {
        let k = nearest_index(v, e);
        if used[k] {
            continue;
        }
        let d = (e - v[k]).abs();
        let (phase, period) = if m == 0 || k == 0 {
            // Look forward (or, at the end, back; with a single value v[k] - v[-1] = 0).
            let ri = match v.get(k + 1) {
                Some(&next) => next - v[k],
                None => v[k] - v[k.checked_sub(1).unwrap_or(v.len() - 1)],
            };
            let ei = match est.get(m + 1) {
                Some(&next) => next - e,
                None => e - est[m.checked_sub(1).unwrap_or(est.len() - 1)],
            };
            if ri == 0.0 {
                let phase = if d == 0.0 { 1.0 } else { f64::INFINITY };
                let period = if ei == 0.0 { 0.0 } else { f64::INFINITY };
                (phase, period)
            } else {
                ((d / ri).abs(), (1.0 - ei / ri).abs())
            }
        } else {
            // No zero guard here in mir_eval: inf/NaN simply fail the comparisons.
            let ri = v[k] - v[k - 1];
            let ei = e - est[m - 1];
            ((d / ri).abs(), (1.0 - ei / ri).abs())
        };
        if phase < phase_thr && period < period_thr {
            used[k] = true;
            ok[m] = true;
        }
    }
    let mut longest = 0usize;
    let mut run = 0usize;
    for &s in &ok {
        run = if s { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let total = ok.iter().filter(|&&s| s).count();
    (longest as f64 / n as f64, total as f64 / n as f64)
}

pub(crate) fn continuity_impl(
    reference_s: &[f64],
    estimated_s: &[f64],
    phase_threshold: f64,
    period_threshold: f64,
    warnings: &mut Warnings,
) -> Result<ContinuityScores> {
    validate_into(reference_s, estimated_s, warnings)?;
    warn_single(reference_s, estimated_s, warnings);
    if reference_s.len() <= 1 || estimated_s.len() <= 1 {
        return Ok(ContinuityScores {
            cmlc: 0.0,
            cmlt: 0.0,
            amlc: 0.0,
            amlt: 0.0,
        });
    }
    // With >= 2 references every variation is non-empty.
    let scores = reference_variations(reference_s)
        .map(|v| continuity_one(&v, estimated_s, phase_threshold, period_threshold));
    Ok(ContinuityScores {
        cmlc: scores[0].0,
        cmlt: scores[0].1,
        amlc: scores.iter().map(|s| s.0).fold(f64::NEG_INFINITY, f64_max),
        amlt: scores.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64_max),
    })
}

/// mir_eval `beat.continuity`: CMLc, CMLt, AMLc, AMLt with phase and period tolerances
/// (mir_eval defaults 0.175 both). All 0 when either sequence has fewer than two beats.
/// The denominator is max(|variation|, |estimate|), as in mir_eval.
pub fn continuity(
    reference_s: &[f64],
    estimated_s: &[f64],
    phase_threshold: f64,
    period_threshold: f64,
) -> Result<ContinuityScores> {
    continuity_impl(
        reference_s,
        estimated_s,
        phase_threshold,
        period_threshold,
        &mut Warnings::default(),
    )
}

/// Entropy (bits) of the beat-error histogram of `events` measured against `anchors`
/// (mir_eval `beat._get_entropy(anchors, events, bins)`); both have >= 2 beats.
fn beat_error_entropy(anchors: &[f64], events: &[f64], bins: usize) -> f64 {
    let a = anchors;
    let last = a.len() - 1;
    // np.linspace(-0.5, 0.5, bins + 1): -0.5 + i * (1 / bins), last edge exactly 0.5.
    let step = 1.0 / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + -0.5).collect();
    edges[bins] = 0.5;
    let mut counts = vec![0u64; bins];
    for &b in events {
        let k = nearest_index(a, b);
        let error = b - a[k];
        let half = if k == last {
            0.5 * (a[last] - a[last - 1])
        } else if error < 0.0 {
            // Python's a[k - 1] wraps to a[-1] for k == 0 (a negative interval).
            0.5 * (a[k] - a[k.checked_sub(1).unwrap_or(last)])
        } else {
            0.5 * (a[k + 1] - a[k])
        };
        let e = 0.5 * error / half;
        // np.mod(e + 0.5, -1) + 0.5 puts it in (-0.5, 0.5]; inf/NaN become NaN.
        let e = numpy_mod(e + 0.5, -1.0) + 0.5;
        // np.histogram with explicit edges: edges[i] <= x < edges[i+1], last bin closed,
        // out-of-range and NaN values dropped.
        if e >= edges[0] && e <= edges[bins] {
            let i = edges.partition_point(|&edge| edge <= e);
            counts[(i - 1).min(bins - 1)] += 1;
        }
    }
    let total: u64 = counts.iter().sum();
    let terms: Vec<f64> = counts
        .iter()
        .map(|&c| {
            // 0 / 0 is NaN for every bin when nothing landed in range, as in numpy.
            let p = c as f64 / total as f64;
            let p = if p == 0.0 { 1.0 } else { p };
            p * p.log2()
        })
        .collect();
    -numpy_sum(&terms)
}

pub(crate) fn information_gain_impl(
    reference_s: &[f64],
    estimated_s: &[f64],
    bins: usize,
    warnings: &mut Warnings,
) -> Result<f64> {
    validate_into(reference_s, estimated_s, warnings)?;
    if bins == 0 {
        return Err(Error::InvalidInput(
            "information gain needs at least one histogram bin".into(),
        ));
    }
    if bins.is_multiple_of(2) {
        warnings.push("bins parameter is even, so there will not be a bin centered at zero.");
    }
    warn_single(reference_s, estimated_s, warnings);
    if reference_s.len() <= 1 || estimated_s.len() <= 1 {
        return Ok(0.0);
    }
    let forward = beat_error_entropy(reference_s, estimated_s, bins);
    let backward = beat_error_entropy(estimated_s, reference_s, bins);
    let norm = (bins as f64).log2();
    // Exactly mir_eval's branch (not a max): a NaN forward entropy picks the backward one.
    let worst = if forward > backward {
        forward
    } else {
        backward
    };
    Ok((norm - worst) / norm)
}

/// mir_eval `beat.information_gain`: 1 − max(forward, backward) beat-error entropy /
/// log2(`bins`) (mir_eval default 41 bins), normalised to [0, 1]. 0 when either sequence
/// has fewer than two beats.
pub fn information_gain(reference_s: &[f64], estimated_s: &[f64], bins: usize) -> Result<f64> {
    information_gain_impl(reference_s, estimated_s, bins, &mut Warnings::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(start: f64, step: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| start + step * i as f64).collect()
    }

    #[test]
    fn variations_match_mir_eval_layout() {
        let r = [1.0, 2.0, 4.0, 5.0];
        let [orig, off, double, odd, even] = reference_variations(&r);
        assert_eq!(orig, r);
        assert_eq!(off, [1.5, 3.0, 4.5]);
        assert_eq!(double, [1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 5.0]);
        assert_eq!(odd, [1.0, 4.0]);
        assert_eq!(even, [2.0, 5.0]);
        let [_, off1, double1, odd1, even1] = reference_variations(&[3.0]);
        assert!(off1.is_empty() && even1.is_empty());
        assert_eq!((double1, odd1), (vec![3.0], vec![3.0]));
    }

    #[test]
    fn f_measure_uses_searchsorted_window() {
        // fl(6.07 - 0.07) <= 6.0, so 6.0 is inside the searchsorted window although
        // |6.07 - 6.0| = 0.07000000000000028 > 0.07.
        assert!((6.07f64 - 6.0).abs() > 0.07);
        assert_eq!(f_measure(&[6.0], &[6.07], 0.07).unwrap(), 1.0);
        assert_eq!(f_measure(&[6.0], &[6.0701], 0.07).unwrap(), 0.0);
        // One-to-one: two estimates cannot share a reference.
        let f = f_measure(&[6.0, 7.0], &[6.0, 6.01], 0.07).unwrap();
        assert!((f - 0.5).abs() < 1e-15);
    }

    #[test]
    fn validation_errors() {
        let err = f_measure(&[1.0, f64::NAN], &[1.0], 0.07).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(ref m) if m.contains("NaN")),
            "{err}"
        );
        let err = cemgil(&[1.0], &[30000.5], 0.04).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(ref m) if m.contains("milliseconds")));
        let err = goto(&[2.0, 1.0], &[1.0], 0.35, 0.2, 0.2).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(ref m) if m.contains("increasing")));
        assert!(continuity(&[f64::NEG_INFINITY, 1.0], &[1.0], 0.175, 0.175).is_err());
        // Equal neighbours and negative times are accepted, as in mir_eval.
        assert!(validate(&[-1.0, 2.0, 2.0], &[]).is_ok());
        assert_eq!(
            validate(&[], &[]).unwrap(),
            vec![REF_EMPTY.to_string(), EST_EMPTY.to_string()]
        );
        assert!(information_gain(&[1.0, 2.0], &[1.0, 2.0], 0).is_err());
    }

    #[test]
    fn trim_keeps_five_seconds_and_later() {
        assert_eq!(trim_beats(&[1.0, 4.999, 5.0, 7.5], 5.0), vec![5.0, 7.5]);
        assert!(trim_beats(&[], 5.0).is_empty());
    }

    #[test]
    fn perfect_and_offset_sequences() {
        let r = grid(5.0, 0.5, 60);
        assert_eq!(f_measure(&r, &r, 0.07).unwrap(), 1.0);
        let c = cemgil(&r, &r, 0.04).unwrap();
        assert_eq!((c.cemgil, c.cemgil_best), (1.0, 1.0));
        assert_eq!(goto(&r, &r, 0.35, 0.2, 0.2).unwrap(), 1.0);
        assert_eq!(p_score(&r, &r, 0.2).unwrap(), 1.0);
        let k = continuity(&r, &r, 0.175, 0.175).unwrap();
        assert_eq!((k.cmlc, k.cmlt, k.amlc, k.amlt), (1.0, 1.0, 1.0, 1.0));
        assert_eq!(information_gain(&r, &r, 41).unwrap(), 1.0);
        // A constant 80 ms lag misses the F-measure window but is phase-correct.
        let late: Vec<f64> = r.iter().map(|t| t + 0.08).collect();
        assert_eq!(f_measure(&r, &late, 0.07).unwrap(), 0.0);
        let expect = (-0.08f64 * 0.08 / (2.0 * 0.04 * 0.04)).exp();
        assert!((cemgil(&r, &late, 0.04).unwrap().cemgil - expect).abs() < 1e-12);
    }

    #[test]
    fn short_inputs_score_zero_and_warn() {
        let r = grid(5.0, 0.5, 10);
        let mut w = Warnings::default();
        assert_eq!(p_score_impl(&r, &[6.0], 0.2, &mut w).unwrap(), 0.0);
        assert_eq!(w.0, vec![EST_SINGLE.to_string()]);
        let k = continuity(&[6.0], &r, 0.175, 0.175).unwrap();
        assert_eq!(k.amlt, 0.0);
        assert_eq!(information_gain(&r, &[], 41).unwrap(), 0.0);
        assert_eq!(goto(&[], &r, 0.35, 0.2, 0.2).unwrap(), 0.0);
    }

    #[test]
    fn p_score_degenerate_reference_is_zero_with_warning() {
        let mut w = Warnings::default();
        let p = p_score_impl(&[6.0, 6.0], &[6.0, 6.5], 0.2, &mut w).unwrap();
        assert_eq!(p, 0.0);
        assert_eq!(w.0, vec![P_SCORE_UNDEFINED.to_string()]);
    }

    #[test]
    fn goto_needs_a_long_enough_track() {
        let r = grid(5.0, 0.5, 100);
        // Only the first 4 estimates are right; the rest sit off-beat.
        let est: Vec<f64> = r
            .iter()
            .enumerate()
            .map(|(i, &t)| if i < 4 { t } else { t + 0.25 })
            .collect();
        assert_eq!(goto(&r, &est, 0.35, 0.2, 0.2).unwrap(), 0.0);
        // Shift only the last 20: the track err[0..=80] (79 zeros between the two bounding
        // bad beats, which mir_eval includes) has mean 0.025 and std 0.156.
        let est: Vec<f64> = r
            .iter()
            .enumerate()
            .map(|(i, &t)| if i < 80 { t } else { t + 0.25 })
            .collect();
        assert_eq!(goto(&r, &est, 0.35, 0.2, 0.2).unwrap(), 1.0);
    }
}
