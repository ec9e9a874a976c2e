//! The "straighten beats" edit (issue 19: DJ-grade grids): the head's beats in a time range
//! move onto a straight grid, constant tempo per section with a new section only where the
//! tempo really changes ([`crate::formats::straighten_beats`]), as one undoable revision.
//!
//! Straightening snaps beats by at most the tolerance; it is not a check. Every beat keeps
//! its source ([`super::provenance`]): a model's beat that moved onto the grid is still a
//! model's beat, so fine-tuning never learns from beats only straightened.

use serde::{Deserialize, Serialize};

use super::{NewRevision, Project, RevisionId, TrackId, clock};
use crate::formats::{BeatList, straighten_beats};
use crate::{Error, Result};

/// Beats moved by less than this count as not moved (the fit's rounding).
const UNMOVED_S: f64 = 1e-6;

/// What [`Project::straighten_beats`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Straightened {
    /// The new head (the old one when no beat moved).
    pub revision: RevisionId,
    /// Beats in the range.
    pub n_beats: usize,
    /// Constant-tempo sections the range became.
    pub n_sections: usize,
    /// The sections' tempi, BPM, in order.
    pub bpms: Vec<f64>,
    /// Largest distance a beat moved, s.
    pub max_shift_s: f64,
}

impl Project {
    /// Moves the head's beats between `from_s` and `to_s` (inclusive) onto a straight grid
    /// that stays within `max_error_s` (0 to 0.05 s) of the beats (as
    /// [`crate::formats::GridConfig::max_error_s`] says): a new revision with
    /// the same number of beats, each keeping its source and bar position. At least two
    /// beats must lie in the range; a grid that would run into the beats outside it is an
    /// [`Error::InvalidInput`].
    pub fn straighten_beats(
        &self,
        track: TrackId,
        from_s: f64,
        to_s: f64,
        max_error_s: f64,
    ) -> Result<Straightened> {
        let head = self.head_for_range(track, from_s, to_s)?;
        let times = &head.beats.times_s;
        let first = times.partition_point(|&t| t < from_s);
        let end = times.partition_point(|&t| t <= to_s);
        if end < first + 2 {
            return Err(Error::InvalidInput(format!(
                "fewer than two beats between {} and {}: nothing to straighten",
                clock(from_s),
                clock(to_s)
            )));
        }
        let grid = straighten_beats(&times[first..end], max_error_s)?;
        let mut new_times = times.clone();
        new_times[first..end].copy_from_slice(&grid.times_s);
        let beats = BeatList {
            times_s: new_times,
            positions: head.beats.positions.clone(),
        };
        beats.validate().map_err(|_| {
            Error::InvalidInput(
                "the straight grid would put a beat before 0:00 or out of order with the beats \
                 around the range; widen the range"
                    .into(),
            )
        })?;
        let bpms: Vec<f64> = grid.sections.iter().map(|s| s.bpm).collect();
        let mut done = Straightened {
            revision: head.id,
            n_beats: end - first,
            n_sections: grid.sections.len(),
            bpms,
            max_shift_s: grid.max_error_s,
        };
        // Beats already straight come back within rounding: no new revision for them.
        if done.max_shift_s < UNMOVED_S {
            return Ok(done);
        }
        let note = format!(
            "straightened {}–{} ({} tempo section{})",
            clock(times[first]),
            clock(times[end - 1]),
            done.n_sections,
            if done.n_sections == 1 { "" } else { "s" }
        );
        done.revision = self.commit_beats_with_sources(
            track,
            &NewRevision {
                beats: &beats,
                author: super::Author::User,
                note: &note,
                beats_per_bar: head.beats_per_bar,
                fresh: None,
            },
            &head.sources,
        )?;
        Ok(done)
    }
}
