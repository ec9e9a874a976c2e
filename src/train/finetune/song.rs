//! The user's annotation of one song ([`AnnotatedSong`]: features, corrected beats, region,
//! bars, the base model's own beats) and how two beat lists are compared ([`changed_beats`],
//! [`corrected_until_s`], [`AnnotatedSong::base_agrees`]).

use crate::features::Spectrogram;
use crate::{Error, Result};

use super::FPS;
#[cfg(doc)]
use super::FinetuneConfig;

/// How far a base beat may lie from a corrected one and still count as the same beat
/// ([`AnnotatedSong::base_agrees`]): the F-measure's window (mir_eval, ±70 ms), as the CLI's
/// "changed (> 70 ms or added/removed)".
pub const AGREE_TOL_S: f64 = 0.07;

/// One song with its annotation, ready to train on.
#[derive(Debug, Clone)]
pub struct AnnotatedSong {
    /// A name for reports (usually the file name).
    pub name: String,
    /// Log-VQT of the non-percussive stem (whole song, 62.5 fps).
    pub non_percussive: Spectrogram,
    /// Log-VQT of the percussive stem.
    pub percussive: Spectrogram,
    /// The annotated beats inside [`AnnotatedSong::region_s`], sorted.
    pub beats_s: Vec<f64>,
    /// The annotated span `(start, end)` in seconds.
    pub region_s: (f64, f64),
    /// The downbeats inside the region, when the user numbered the beats in the bar
    /// ([`AnnotatedSong::with_positions`]); `None` = bars unknown.
    pub downbeats_s: Option<Vec<f64>>,
    /// The base model's own beats for the whole song (its analysis: what the user saw and
    /// corrected), when the caller has them ([`AnnotatedSong::with_base_beats`]).
    pub base_beats_s: Option<Vec<f64>>,
}

impl AnnotatedSong {
    /// Builds a song from its features and a beat list: checks the beats (finite, increasing)
    /// and derives the annotated region (module docs). At least 4 beats must fall in it.
    pub fn new(
        name: impl Into<String>,
        non_percussive: Spectrogram,
        percussive: Spectrogram,
        beats_s: &[f64],
        annotated_until_s: Option<f64>,
    ) -> Result<Self> {
        let name = name.into();
        let bad = |m: String| Err(Error::InvalidInput(format!("{name}: {m}")));
        if non_percussive.n_frames != percussive.n_frames {
            return bad("the two stems' spectrograms differ in length".into());
        }
        let duration_s = non_percussive.n_frames as f64 / FPS;
        if let Some(i) = beats_s.iter().position(|b| !b.is_finite() || *b < 0.0) {
            return bad(format!("beat {} is {} (not a time)", i + 1, beats_s[i]));
        }
        if let Some(i) = beats_s.windows(2).position(|w| w[1] <= w[0]) {
            return bad(format!(
                "beats {} and {} are not increasing ({} s, {} s)",
                i + 1,
                i + 2,
                beats_s[i],
                beats_s[i + 1]
            ));
        }
        if let Some(u) = annotated_until_s
            && !(u.is_finite() && u > 0.0)
        {
            return bad(format!("annotated-until must be a positive time, got {u}"));
        }
        let end_limit = annotated_until_s.unwrap_or(f64::INFINITY).min(duration_s);
        let inside: Vec<f64> = beats_s.iter().copied().filter(|b| *b < end_limit).collect();
        if inside.len() < 4 {
            return bad(format!(
                "only {} annotated beats before {:.1} s; at least 4 are needed",
                inside.len(),
                end_limit
            ));
        }
        let mut ibis: Vec<f64> = inside.windows(2).map(|w| w[1] - w[0]).collect();
        ibis.sort_by(f64::total_cmp);
        let half = 0.5 * ibis[ibis.len() / 2];
        let start = (inside[0] - half).max(0.0);
        let end = match annotated_until_s {
            Some(u) => u.min(duration_s),
            None => (inside[inside.len() - 1] + half).min(duration_s),
        };
        Ok(Self {
            name,
            non_percussive,
            percussive,
            beats_s: inside,
            region_s: (start, end),
            downbeats_s: None,
            base_beats_s: None,
        })
    }

    /// This song with the beats the base model gives it (sorted seconds, the whole song), so
    /// that a run can tell whether the user corrected anything
    /// ([`FinetuneConfig::when_base_agrees`]). Beats that are not finite and increasing are an
    /// error naming the song.
    pub fn with_base_beats(mut self, beats_s: &[f64]) -> Result<Self> {
        if let Some(i) = beats_s
            .windows(2)
            .position(|w| !(w[0].is_finite() && w[1] > w[0]))
            .or_else(|| beats_s.iter().position(|b| !b.is_finite()))
        {
            return Err(Error::InvalidInput(format!(
                "{}: the base model's beats are not increasing times (beat {})",
                self.name,
                i + 1
            )));
        }
        self.base_beats_s = Some(beats_s.to_vec());
        Ok(self)
    }

    /// Whether the base's beats already match every corrected beat: no corrected beat farther
    /// than [`AGREE_TOL_S`] from a base beat, and no base beat lying inside the region by more
    /// than that tolerance farther than it from a corrected beat (a beat at the region's edge
    /// may belong to either side). `None` without base beats.
    pub fn base_agrees(&self) -> Option<bool> {
        let base = self.base_beats_s.as_deref()?;
        let (r0, r1) = self.region_s;
        let inside: Vec<f64> = base
            .iter()
            .copied()
            .filter(|t| *t > r0 + AGREE_TOL_S && *t < r1 - AGREE_TOL_S)
            .collect();
        Some(
            unmatched(&self.beats_s, base, AGREE_TOL_S).next().is_none()
                && unmatched(&inside, &self.beats_s, AGREE_TOL_S)
                    .next()
                    .is_none(),
        )
    }

    /// This song with the bars the user set: `positions` numbers every beat given to
    /// [`AnnotatedSong::new`] in its bar (1 = downbeat), as a beat file's position column does.
    /// The downbeats inside the annotated region are kept. A count that does not match is an
    /// error naming the song.
    pub fn with_positions(mut self, beats_s: &[f64], positions: &[u32]) -> Result<Self> {
        if beats_s.len() != positions.len() {
            return Err(Error::InvalidInput(format!(
                "{}: {} beats but {} bar positions",
                self.name,
                beats_s.len(),
                positions.len()
            )));
        }
        let (r0, r1) = self.region_s;
        let downbeats: Vec<f64> = beats_s
            .iter()
            .zip(positions)
            .filter(|(t, p)| **p == 1 && (r0..r1).contains(*t))
            .map(|(t, _)| *t)
            .collect();
        self.downbeats_s = Some(downbeats);
        Ok(self)
    }

    pub(super) fn n_frames(&self) -> usize {
        self.non_percussive.n_frames
    }
}

/// Beats of `a` with no beat of `b` within `tol_s`, plus the same the other way round: how
/// many beats a re-tracking moved (by more than `tol_s`), added or removed. Both sorted.
pub fn changed_beats(a: &[f64], b: &[f64], tol_s: f64) -> usize {
    unmatched(a, b, tol_s).count() + unmatched(b, a, tol_s).count()
}

/// The last time at which the user's beats differ from the model's (a user beat with no
/// model beat within `tol_s`, or a model beat the user removed or moved): how far into a
/// song the user has corrected. `None` when the user changed nothing. Both lists sorted.
pub fn corrected_until_s(model_s: &[f64], user_s: &[f64], tol_s: f64) -> Option<f64> {
    unmatched(user_s, model_s, tol_s)
        .chain(unmatched(model_s, user_s, tol_s))
        .max_by(f64::total_cmp)
}

fn unmatched<'a>(x: &'a [f64], y: &'a [f64], tol_s: f64) -> impl Iterator<Item = f64> + 'a {
    x.iter().copied().filter(move |t| {
        let i = y.partition_point(|v| v < t);
        let near = |j: usize| y.get(j).is_some_and(|v| (v - t).abs() <= tol_s);
        !(near(i) || (i > 0 && near(i - 1)))
    })
}
