//! Scoring a tracker on the rest of a song, after a point such as the end of the user's
//! corrections (the fine-tuning study, `zerons finetune`'s report).
//!
//! Cutting the reference and the estimates at the same instant charges a right beat that lies
//! just across the cut from its reference beat twice over: a false positive on one side, a miss
//! on the other (seen on a song with a reference beat at 29.999985 s and a tracked one at
//! 30.002 s: `scripts/DEVSET.md` rule 29). The reference's rest stays its beats at or after the
//! point; the estimates are cut at [`estimates_cut_s`], the midpoint between the reference beats
//! on either side of the point, within the F-measure's window, so each estimate near the point
//! goes with its nearest reference beat.

/// Where to cut the estimated beats when the reference is cut at `until_s`: the midpoint between
/// the last reference beat before `until_s` and the first at or after it, clamped to
/// `until_s ± window_s`; `until_s` itself without reference beats on both sides. The estimates'
/// rest is those at or after it. `reference_s` sorted, seconds.
pub fn estimates_cut_s(reference_s: &[f64], until_s: f64, window_s: f64) -> f64 {
    let i = reference_s.partition_point(|b| *b < until_s);
    let window_s = window_s.max(0.0);
    match (i.checked_sub(1).map(|j| reference_s[j]), reference_s.get(i)) {
        (Some(before), Some(after)) => {
            (0.5 * (before + after)).clamp(until_s - window_s, until_s + window_s)
        }
        _ => until_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's and the estimates' rests, as the fine-tuning report cuts them.
    fn rest_after(reference: &[f64], estimated: &[f64], until_s: f64) -> (Vec<f64>, Vec<f64>) {
        let cut_s = estimates_cut_s(reference, until_s, 0.07);
        let from = |v: &[f64], t: f64| v.iter().copied().filter(|b| *b >= t).collect();
        (from(reference, until_s), from(estimated, cut_s))
    }

    #[test]
    fn a_right_beat_across_the_cut_goes_with_its_reference() {
        // Regression (DEVSET rule 29): reference beat 15 µs before the cut, the estimate 2 ms
        // after it. The estimate belongs to the annotated side, as its reference does.
        let reference = [29.411750, 29.999985, 30.588220, 31.176455];
        let (r, e) = rest_after(&reference, &[29.414, 30.002, 30.593, 31.178], 30.0);
        assert_eq!(r, vec![30.588220, 31.176455]);
        assert_eq!(e, vec![30.593, 31.178]);
        // And the other way round: the reference just after the cut, the estimate just before.
        let reference = [29.42, 30.01, 30.6];
        let (r, e) = rest_after(&reference, &[29.42, 29.97, 30.6], 30.0);
        assert_eq!(r, vec![30.01, 30.6]);
        assert_eq!(e, vec![29.97, 30.6]);
    }

    #[test]
    fn the_cut_moves_at_most_the_window() {
        // Reference beats far from the cut (a gap in the music): estimates more than the
        // window before the cut stay out of the rest, those after it stay in.
        let reference = [10.0, 31.0, 32.0];
        let (r, e) = rest_after(&reference, &[20.0, 29.9, 30.05, 31.0], 30.0);
        assert_eq!(r, vec![31.0, 32.0]);
        assert_eq!(e, vec![30.05, 31.0]);
        let (_, e) = rest_after(&[29.0, 30.5], &[29.5, 29.95, 30.0], 30.0);
        assert_eq!(e, vec![29.95, 30.0]);
    }

    #[test]
    fn without_reference_beats_on_both_sides_the_cut_stays() {
        let (r, e) = rest_after(&[31.0, 32.0], &[29.99, 30.0, 31.0], 30.0);
        assert_eq!(r, vec![31.0, 32.0]);
        assert_eq!(e, vec![30.0, 31.0]);
        let (r, e) = rest_after(&[28.0, 29.0], &[29.99, 30.0], 30.0);
        assert!(r.is_empty());
        assert_eq!(e, vec![30.0]);
    }
}
