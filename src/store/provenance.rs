//! Provenance of every beat: who put it there, and whether the user vouched for it.
//!
//! Each revision stores one [`BeatSource`] per beat (`beat_revisions.sources`, one byte per
//! beat). The rules, all pure functions here so that the store, the app and the tests share
//! them:
//!
//! - A new revision *inherits*: a beat at the same time (within [`SAME_BEAT_S`]) as a beat of
//!   the revision it was made from keeps that beat's source; any other beat gets the source
//!   of the edit ([`inherit_sources`]): `user` for an edit by hand, `continued` for Continue →,
//!   `model` for "replace this range with the model's beats". So moving one beat of a model
//!   revision makes that one beat the user's and leaves the rest the model's.
//! - The user *confirms* beats explicitly ("the beats up to here are right"):
//!   [`confirm_range`] turns model, continued and imported beats in a range into `confirmed`.
//! - Training uses only *checked* beats, [`BeatSource::is_checked`] (set or confirmed by the
//!   user), and only a run of consecutive checked beats, so that no unchecked beat lies
//!   inside the span it learns from ([`learn_run`]). A song nobody touched has none.
//! - A new model's beats replace only beats nobody vouched for: [`merge_proposal`] keeps the
//!   user's, the confirmed and the imported beats with a half-beat margin around each run
//!   of them, and takes the model's beats elsewhere.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::eval::{continuity, f_measure};

/// Two beats closer than this are the same beat when a revision inherits sources. The
/// smallest nudge is 1 ms, so a nudged beat is a new (user) beat.
pub const SAME_BEAT_S: f64 = 0.0005;

/// Where a beat came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BeatSource {
    /// Produced by an analysis and not checked.
    Model,
    /// Set or moved by the user.
    User,
    /// Produced by a model, Continue → or an import, then checked by the user.
    Confirmed,
    /// Produced by Continue → (the tracker continuing the user's beats); not checked.
    Continued,
    /// Read from a beat file; not checked.
    Imported,
}

impl BeatSource {
    /// Set or confirmed by the user: what training may learn from.
    pub fn is_checked(self) -> bool {
        matches!(self, BeatSource::User | BeatSource::Confirmed)
    }

    /// Kept when a new model's beats are accepted: the user's, confirmed and imported beats.
    pub fn is_kept(self) -> bool {
        !matches!(self, BeatSource::Model | BeatSource::Continued)
    }

    /// One byte in `beat_revisions.sources`.
    pub fn to_byte(self) -> u8 {
        match self {
            BeatSource::Model => 0,
            BeatSource::User => 1,
            BeatSource::Confirmed => 2,
            BeatSource::Continued => 3,
            BeatSource::Imported => 4,
        }
    }

    /// The inverse of [`BeatSource::to_byte`]; `None` for an unknown byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => BeatSource::Model,
            1 => BeatSource::User,
            2 => BeatSource::Confirmed,
            3 => BeatSource::Continued,
            4 => BeatSource::Imported,
            _ => return None,
        })
    }
}

/// Encodes sources for the BLOB column.
pub fn sources_to_bytes(sources: &[BeatSource]) -> Vec<u8> {
    sources.iter().map(|s| s.to_byte()).collect()
}

/// Decodes the BLOB column; `None` if a byte is unknown.
pub fn sources_from_bytes(bytes: &[u8]) -> Option<Vec<BeatSource>> {
    bytes.iter().map(|b| BeatSource::from_byte(*b)).collect()
}

/// The sources of `times_s` made from a revision with `parent_times_s`/`parent_sources`:
/// a beat within [`SAME_BEAT_S`] of a parent beat keeps its source, any other is `fresh`.
/// Both time lists sorted; `parent_sources` as long as `parent_times_s`.
pub fn inherit_sources(
    parent_times_s: &[f64],
    parent_sources: &[BeatSource],
    times_s: &[f64],
    fresh: BeatSource,
) -> Vec<BeatSource> {
    times_s
        .iter()
        .map(|&t| {
            let i = parent_times_s.partition_point(|p| *p < t);
            [i.checked_sub(1), Some(i)]
                .into_iter()
                .flatten()
                .filter(|&j| j < parent_times_s.len() && j < parent_sources.len())
                .filter(|&j| (parent_times_s[j] - t).abs() <= SAME_BEAT_S)
                .min_by(|&a, &b| {
                    (parent_times_s[a] - t)
                        .abs()
                        .total_cmp(&(parent_times_s[b] - t).abs())
                })
                .map_or(fresh, |j| parent_sources[j])
        })
        .collect()
}

/// `sources` with every beat in `from_s ..= to_s` confirmed (beats the user set stay
/// `user`), and how many changed.
pub fn confirm_range(
    times_s: &[f64],
    sources: &[BeatSource],
    from_s: f64,
    to_s: f64,
) -> (Vec<BeatSource>, usize) {
    let mut changed = 0;
    let out = times_s
        .iter()
        .zip(sources)
        .map(|(&t, &s)| {
            if (from_s..=to_s).contains(&t) && !s.is_checked() {
                changed += 1;
                BeatSource::Confirmed
            } else {
                s
            }
        })
        .collect();
    (out, changed)
}

/// Maximal runs of consecutive beats for which `keep` holds, as index ranges.
fn runs(sources: &[BeatSource], keep: impl Fn(BeatSource) -> bool) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, s) in sources.iter().enumerate() {
        match (keep(*s), start) {
            (true, None) => start = Some(i),
            (false, Some(b)) => {
                out.push(b..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(b) = start {
        out.push(b..sources.len());
    }
    out
}

/// Runs of consecutive checked beats (index ranges, in order).
pub fn checked_runs(sources: &[BeatSource]) -> Vec<Range<usize>> {
    runs(sources, BeatSource::is_checked)
}

/// Runs of consecutive checked beats as `(first beat, last beat)` times.
pub fn checked_spans_s(times_s: &[f64], sources: &[BeatSource]) -> Vec<(f64, f64)> {
    checked_runs(sources)
        .into_iter()
        .filter(|r| r.end <= times_s.len())
        .map(|r| (times_s[r.start], times_s[r.end - 1]))
        .collect()
}

/// Fewest checked beats in a row that fine-tuning learns from (the engine's
/// `AnnotatedSong` needs 4).
pub const MIN_LEARN_BEATS: usize = 4;

/// The run of checked beats fine-tuning learns from: the longest (the earliest of equals),
/// if it has at least [`MIN_LEARN_BEATS`] beats.
pub fn learn_run(sources: &[BeatSource]) -> Option<Range<usize>> {
    checked_runs(sources)
        .into_iter()
        .filter(|r| r.len() >= MIN_LEARN_BEATS)
        .reduce(|best, r| if r.len() > best.len() { r } else { best })
}

/// How many beats of each source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCounts {
    /// From a model, not checked.
    pub model: usize,
    /// Set or moved by the user.
    pub user: usize,
    /// Checked by the user.
    pub confirmed: usize,
    /// From Continue →, not checked.
    pub continued: usize,
    /// From a beat file, not checked.
    pub imported: usize,
}

impl SourceCounts {
    /// Counts `sources`.
    pub fn of(sources: &[BeatSource]) -> Self {
        let mut c = Self::default();
        for s in sources {
            match s {
                BeatSource::Model => c.model += 1,
                BeatSource::User => c.user += 1,
                BeatSource::Confirmed => c.confirmed += 1,
                BeatSource::Continued => c.continued += 1,
                BeatSource::Imported => c.imported += 1,
            }
        }
        c
    }

    /// Set or confirmed by the user.
    pub fn checked(&self) -> usize {
        self.user + self.confirmed
    }

    /// Not checked by anyone.
    pub fn unchecked(&self) -> usize {
        self.model + self.continued + self.imported
    }
}

/// Half the median beat interval of `times_s` (0.25 s with fewer than two beats), at most
/// 1 s: the margin kept around the user's beats when a model's beats are merged in.
fn half_beat_s(times_s: &[f64]) -> f64 {
    let mut ibis: Vec<f64> = times_s.windows(2).map(|w| w[1] - w[0]).collect();
    if ibis.is_empty() {
        return 0.25;
    }
    ibis.sort_by(f64::total_cmp);
    (0.5 * ibis[ibis.len() / 2]).clamp(0.05, 1.0)
}

/// A song's beats after a model's `proposal_s` was accepted: every kept beat
/// ([`BeatSource::is_kept`]) stays with its source; the model's beats replace the others,
/// except within half a beat of a run of kept beats. Returns times and sources, sorted.
pub fn merge_proposal(
    times_s: &[f64],
    sources: &[BeatSource],
    proposal_s: &[f64],
) -> (Vec<f64>, Vec<BeatSource>) {
    let half = half_beat_s(proposal_s);
    let kept_runs = runs(sources, BeatSource::is_kept);
    let spans: Vec<(f64, f64)> = kept_runs
        .iter()
        .filter(|r| r.end <= times_s.len())
        .map(|r| (times_s[r.start] - half, times_s[r.end - 1] + half))
        .collect();
    let mut merged: Vec<(f64, BeatSource)> = kept_runs
        .iter()
        .flat_map(|r| r.clone())
        .filter(|&i| i < times_s.len())
        .map(|i| (times_s[i], sources[i]))
        .collect();
    merged.extend(
        proposal_s
            .iter()
            .filter(|t| !spans.iter().any(|(a, b)| (*a..=*b).contains(*t)))
            .map(|&t| (t, BeatSource::Model)),
    );
    merged.sort_by(|a, b| a.0.total_cmp(&b.0));
    merged.dedup_by(|b, a| (b.0 - a.0).abs() <= SAME_BEAT_S);
    merged.into_iter().unzip()
}

/// Scores of a beat list on a song's checked beats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CheckedScores {
    /// mir_eval F-measure (±70 ms) over the checked runs, weighted by their beats.
    pub f_measure: f64,
    /// CMLt over the checked runs, weighted by their beats.
    pub cmlt: f64,
    /// Checked beats scored on.
    pub beats: usize,
}

/// How well `estimate_s` matches the checked beats of a song (`times_s`/`sources`): each run
/// of checked beats with at least two beats is a reference, scored against the estimated
/// beats inside it (±70 ms around the run). `None` when no run has two beats.
pub fn score_on_checked(
    times_s: &[f64],
    sources: &[BeatSource],
    estimate_s: &[f64],
) -> Option<CheckedScores> {
    let window_s = 0.07;
    let (mut f_sum, mut c_sum, mut n) = (0.0, 0.0, 0usize);
    for r in checked_runs(sources) {
        if r.len() < 2 || r.end > times_s.len() {
            continue;
        }
        let reference = &times_s[r.clone()];
        let (lo, hi) = (
            reference[0] - window_s,
            reference[reference.len() - 1] + window_s,
        );
        let est: Vec<f64> = estimate_s
            .iter()
            .copied()
            .filter(|t| (lo..=hi).contains(t))
            .collect();
        let f = f_measure(reference, &est, window_s).ok()?;
        let c = continuity(reference, &est, 0.175, 0.175).ok()?.cmlt;
        f_sum += f * r.len() as f64;
        c_sum += c * r.len() as f64;
        n += r.len();
    }
    (n > 0).then(|| CheckedScores {
        f_measure: f_sum / n as f64,
        cmlt: c_sum / n as f64,
        beats: n,
    })
}

#[cfg(test)]
mod tests {
    use super::BeatSource::{Confirmed as C, Continued as K, Imported as I, Model as M, User as U};
    use super::*;

    fn grid(start: f64, step: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| start + step * i as f64).collect()
    }

    #[test]
    fn bytes_round_trip_and_unknown_bytes_fail() {
        let all = [M, U, C, K, I];
        assert_eq!(
            sources_from_bytes(&sources_to_bytes(&all)).as_deref(),
            Some(&all[..])
        );
        assert_eq!(sources_from_bytes(&[0, 9]), None);
    }

    #[test]
    fn moving_one_model_beat_makes_only_that_beat_the_users() {
        let model = grid(0.5, 0.5, 8);
        let parent = vec![M; 8];
        let mut edited = model.clone();
        edited[3] += 0.021;
        let s = inherit_sources(&model, &parent, &edited, U);
        assert_eq!(s, vec![M, M, M, U, M, M, M, M]);
        // A 1-ms nudge is a move too.
        edited[5] += 0.001;
        assert_eq!(inherit_sources(&model, &parent, &edited, U)[5], U);
        // Continue → marks what it added, not what was there.
        let mut cont = edited[..4].to_vec();
        cont.extend(grid(2.6, 0.5, 4));
        let s2 = inherit_sources(
            &edited,
            &inherit_sources(&model, &parent, &edited, U),
            &cont,
            K,
        );
        assert_eq!(s2, vec![M, M, M, U, K, K, K, K]);
    }

    #[test]
    fn an_untouched_song_has_nothing_to_learn_from() {
        // Issue 19 problem 2: a never-edited song was shown "corrected up to 3:17".
        let s = vec![M; 400];
        assert!(checked_runs(&s).is_empty());
        assert_eq!(learn_run(&s), None);
        // Nor does a song whose beats came from Continue → or a file.
        assert_eq!(learn_run(&[K, K, K, K, K, I, I, I, I]), None);
    }

    #[test]
    fn confirming_a_range_makes_a_learnable_run() {
        let t = grid(0.5, 0.5, 10);
        let s = vec![M, U, M, M, M, M, K, K, K, K];
        let (c, changed) = confirm_range(&t, &s, 0.0, 3.0);
        assert_eq!(changed, 5); // beats at 0.5, 1.5, 2, 2.5, 3; the user's 1.0 stays user
        assert_eq!(c, vec![C, U, C, C, C, C, K, K, K, K]);
        assert_eq!(learn_run(&c), Some(0..6));
        assert_eq!(checked_spans_s(&t, &c), vec![(0.5, 3.0)]);
    }

    #[test]
    fn the_longest_checked_run_is_learned_from() {
        let s = [U, U, U, U, M, C, C, C, C, C, M, U];
        assert_eq!(checked_runs(&s), vec![0..4, 5..10, 11..12]);
        assert_eq!(learn_run(&s), Some(5..10));
        assert_eq!(learn_run(&[U, U, U, M]), None);
    }

    #[test]
    fn a_merge_keeps_every_users_beat_and_replaces_the_rest() {
        // The user fixed the first 4 beats (at 85 BPM's level); a new model proposes 170 BPM.
        let t = grid(0.0, 0.7, 10);
        let s = [U, U, C, C, M, M, M, K, I, M];
        let proposal = grid(0.05, 0.35, 20);
        let (mt, ms) = merge_proposal(&t, &s, &proposal);
        for (i, src) in s.iter().enumerate() {
            if src.is_kept() {
                let j = mt.iter().position(|x| *x == t[i]).expect("kept beat");
                assert_eq!(ms[j], *src);
            }
        }
        // No model beat within half a (proposed) beat of the kept runs [0, 2.1] and [5.6].
        for (x, src) in mt.iter().zip(&ms) {
            if *src == M {
                assert!(*x > 2.1 + 0.175 && (x - 5.6).abs() > 0.175, "{x}");
            }
        }
        assert!(mt.windows(2).all(|w| w[0] < w[1]));
        assert!(ms.iter().all(|s| *s != K));
    }

    #[test]
    fn checked_scores_see_a_halved_tempo() {
        let t = grid(0.5, 0.5, 20);
        let s = vec![U; 20];
        let right = score_on_checked(&t, &s, &t).expect("scores");
        assert!((right.f_measure - 1.0).abs() < 1e-9 && (right.cmlt - 1.0).abs() < 1e-9);
        let half: Vec<f64> = t.iter().step_by(2).copied().collect();
        let halved = score_on_checked(&t, &s, &half).expect("scores");
        assert!(halved.f_measure < 0.7, "{halved:?}");
        assert_eq!(score_on_checked(&t, &[M; 20], &t), None);
    }
}
