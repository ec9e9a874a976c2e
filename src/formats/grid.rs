//! Tempo grids for DJ software (Rekordbox, Traktor): a beat list becomes a few anchors,
//! each holding a constant tempo until the next, and a grid becomes beats again.
//!
//! Three ways to place anchors ([`GridStyle`]):
//! - [`GridStyle::Straight`] (default): a piecewise-constant tempo fitted by least squares
//!   ([`straighten_beats`]). A section keeps one tempo for as long as the grid that the file
//!   stores (anchor and tempo rounded as the format writes them) stays on the beats: the
//!   mean distance between beat and grid line over every 6 consecutive beats within
//!   [`GridConfig::max_error_s`], and no single beat farther than twice that (a tracker's
//!   beats scatter around a steady tempo; a tempo change drifts away from the line beat
//!   after beat). The first beat that does not fit ends the section, and the boundary then
//!   moves back to where the tempo really changed (the split, among the last beats, with
//!   the least squared error). Beats that jitter around a steady tempo thus give one
//!   anchor; a tempo change gives one more, on it.
//!   A single beat off the line of the beats around it (a tracker's slip: a late first
//!   beat, one beat on a fill) does not split a section: it is moved onto that line first
//!   (`snap_slips`), so it may end up farther than the tolerance from the beat it stands
//!   for. So does a run of up to 8 beats that leaves a steady line and comes back to the
//!   same line, with the same tempo and phase, on the other side (`snap_runs`: a fill, a
//!   bar the tracker heard on the off-beat), and a run of up to 8 beats at the song's start
//!   or end that is off the steady line next to it but keeps its count of beats
//!   (`snap_edges`: a tracker's first and last beats rest on the least evidence); a run
//!   that does not come back to the line (a tempo change, a skipped or an added beat)
//!   still starts a section. The rules were chosen on the development benchmark's dev
//!   split (`scripts/DEVSET.md` rule 9).
//! - [`GridStyle::Variable`]: the same tolerance, but each anchor sits exactly on a beat
//!   and its tempo runs to the next anchor's beat (the pre-issue-19 grid: jittery beats
//!   produce many anchors).
//! - [`GridStyle::PerBeat`]: an anchor on every beat (a "free" grid, exact to the format's
//!   time resolution).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

mod snap;

use snap::{snap_edges, snap_runs, snap_slips};

/// How beats become a DJ-software grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum GridStyle {
    /// Constant tempo per section, least-squares fitted; a new anchor only where the
    /// tempo changes (beyond [`GridConfig::max_error_s`]). What DJs expect (issue 19).
    #[default]
    Straight,
    /// As few anchors as keep every beat within [`GridConfig::max_error_s`] of the grid,
    /// each anchor on a beat.
    Variable,
    /// One anchor per beat, the tempo from each beat to the next (spec §4.3: "for a fully
    /// free beat list, write one per beat").
    PerBeat,
}

/// Settings for the Rekordbox and Traktor grid writers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GridConfig {
    /// Anchor placement. Default [`GridStyle::Straight`].
    pub style: GridStyle,
    /// How far, in seconds, the beats may lie from the grid lines that stand for them (the
    /// CLI's `--grid-tolerance-ms`): in a [`GridStyle::Straight`] grid the mean distance over
    /// every 6 consecutive beats, any single beat at most twice this (module docs); in a
    /// [`GridStyle::Variable`] grid every beat. Default 0.025 s, measured (every beat within
    /// it, before the drift window of issue 19): the shipped model's beats on the steady
    /// 120 BPM demo scatter around one straight line with an RMS of 7.5 ms and a largest
    /// distance of 19.5 ms (sub-frame refinement included), so 10 ms cut it into 16 tempo
    /// sections, 20 ms into 2 and 25 ms gives the one it is; a tracker's
    /// scatter is not a tempo change a DJ wants marked. A little over a third of the ±70 ms
    /// mir_eval F-measure window. Must lie in [0, 0.05].
    pub max_error_s: f64,
}

impl Default for GridConfig {
    fn default() -> Self {
        Self {
            style: GridStyle::Straight,
            max_error_s: 0.025,
        }
    }
}

impl GridConfig {
    /// [`Error::Config`] unless `max_error_s` lies in [0, 0.05].
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=0.05).contains(&self.max_error_s) {
            return Err(Error::Config(format!(
                "grid max_error_s = {} s must lie in [0, 0.05]",
                self.max_error_s
            )));
        }
        Ok(())
    }
}

/// One constant-tempo section of a straight grid ([`straighten_beats`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GridSection {
    /// Index of the section's first beat.
    pub first_beat: usize,
    /// Number of beats in the section.
    pub n_beats: usize,
    /// Time of the section's first grid line (the fitted time of its first beat), s.
    pub start_s: f64,
    /// The section's tempo, BPM.
    pub bpm: f64,
}

/// Beats on a straight grid: sections of constant tempo and the beats moved onto them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StraightGrid {
    /// Sections in order; together they cover every beat once.
    pub sections: Vec<GridSection>,
    /// The beats on the grid: beat `first_beat + m` of a section at
    /// `start_s + m · 60 / bpm`. As many as the input.
    pub times_s: Vec<f64>,
    /// Largest distance between an input beat and its grid line, s.
    pub max_error_s: f64,
}

/// Straightens beats for a DJ grid (an edit: "straighten beats"): a piecewise-constant
/// tempo least-squares fit with a new section only where a beat would lie more than
/// `max_error_s` from the current section's grid (see the module docs). Beat times must
/// be finite and strictly increasing ([`Error::InvalidInput`] otherwise); `max_error_s`
/// lies in [0, 0.05] ([`Error::Config`]). The result keeps every beat (same count) and
/// keeps the times strictly increasing and ≥ 0 (a grid line before 0 s is put at 0 s).
pub fn straighten_beats(times_s: &[f64], max_error_s: f64) -> Result<StraightGrid> {
    let cfg = GridConfig {
        style: GridStyle::Straight,
        max_error_s,
    };
    cfg.validate()?;
    crate::formats::BeatList::new(times_s.to_vec()).validate()?;
    let sections = straight_sections(times_s, &cfg, &EXACT, &FREE, 120.0)?;
    let mut out = Vec::with_capacity(sections.len());
    let mut times = Vec::with_capacity(times_s.len());
    for s in &sections {
        let period = 60.0 / s.bpm;
        for m in 0..s.n_beats {
            times.push(s.start_s + m as f64 * period);
        }
        out.push(GridSection::from(s));
    }
    // A song's first beat within the tolerance of 0 s can get a grid line just before the
    // start (seen: -5.4 ms on a development-set song); beat times are never negative, so it
    // sits at 0 s instead (at most the tolerance from its line).
    for t in times.iter_mut() {
        *t = t.max(0.0);
    }
    let max_error_s = times
        .iter()
        .zip(times_s)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    // Grid lines of adjacent sections keep the order of the beats they stand for.
    if times.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::InvalidInput(
            "beats too close together to straighten within the tolerance".into(),
        ));
    }
    Ok(StraightGrid {
        sections: out,
        times_s: times,
        max_error_s,
    })
}

/// No rounding (the [`straighten_beats`] edit).
const EXACT: Rounding = Rounding {
    time: |t| t,
    bpm: |b| b,
    min_bpm: f64::MIN_POSITIVE,
};

/// Anchors anywhere.
const FREE: Constraints<'static> = Constraints {
    allowed: &|_| true,
    forced: &|_| false,
};

/// One grid anchor, with the values exactly as the file stores them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Anchor {
    /// Index of the beat the anchor sits on.
    pub beat: usize,
    /// Anchor time in seconds, rounded as written.
    pub time_s: f64,
    /// Tempo from this anchor to the next, rounded as written.
    pub bpm: f64,
}

/// How a format rounds what it writes.
pub(crate) struct Rounding {
    /// Time in seconds to the written value.
    pub time: fn(f64) -> f64,
    /// BPM to the written value.
    pub bpm: fn(f64) -> f64,
    /// Smallest BPM the format can write (> 0).
    pub min_bpm: f64,
}

/// Which beats may carry anchors.
pub(crate) struct Constraints<'a> {
    /// A new anchor may only start on a beat for which this holds (when possible).
    pub allowed: &'a dyn Fn(usize) -> bool,
    /// A new anchor must start on a beat for which this holds.
    pub forced: &'a dyn Fn(usize) -> bool,
}

/// Turns strictly increasing beat times into anchors (see the module docs). A single
/// beat gets `default_bpm`.
pub(crate) fn anchors(
    times: &[f64],
    cfg: &GridConfig,
    round: &Rounding,
    constraints: &Constraints<'_>,
    default_bpm: f64,
) -> Result<Vec<Anchor>> {
    cfg.validate()?;
    if cfg.style == GridStyle::Straight {
        return Ok(
            straight_sections(times, cfg, round, constraints, default_bpm)?
                .into_iter()
                .map(|s| Anchor {
                    beat: s.first,
                    time_s: s.start_s,
                    bpm: s.bpm,
                })
                .collect(),
        );
    }
    let n = times.len();
    let bpm_between = |i: usize, j: usize| -> Result<f64> {
        let raw = 60.0 * (j - i) as f64 / (times[j] - times[i]);
        let bpm = (round.bpm)(raw);
        if !(bpm.is_finite() && bpm >= round.min_bpm) {
            return Err(Error::InvalidInput(format!(
                "beats {i} ({} s) and {j} ({} s) are too far apart for a beat grid \
                 ({raw} BPM; the format's slowest tempo is {} BPM)",
                times[i], times[j], round.min_bpm
            )));
        }
        Ok(bpm)
    };
    // Does one anchor on beat i with the tempo fitted to beat j keep beats i..=j in
    // tolerance, with each grid line nearer its own beat than any other?
    let fits = |i: usize, j: usize| -> Result<bool> {
        let bpm = bpm_between(i, j)?;
        let period = 60.0 / bpm;
        let anchor = (round.time)(times[i]);
        if cfg.max_error_s + 0.001 >= period / 2.0 {
            return Ok(false);
        }
        Ok((i..=j).all(|k| {
            let line = anchor + (k - i) as f64 * period;
            (line - times[k]).abs() <= cfg.max_error_s
        }))
    };
    let mut out = Vec::new();
    if n == 0 {
        return Ok(out);
    }
    if n == 1 {
        out.push(Anchor {
            beat: 0,
            time_s: (round.time)(times[0]),
            bpm: (round.bpm)(default_bpm).max(round.min_bpm),
        });
        return Ok(out);
    }
    // next_forced[k]: the first forced beat at or after k (n - 1 if none).
    let mut next_forced = vec![n - 1; n];
    for k in (1..n - 1).rev() {
        next_forced[k] = if (constraints.forced)(k) {
            k
        } else {
            next_forced[k + 1]
        };
    }
    let mut i = 0;
    loop {
        // The furthest beat the anchor on beat i can reach, not past a forced anchor:
        // galloping then bisection, so that a steady stretch of L beats costs
        // O(L log L) rather than O(L²).
        let limit = next_forced[i + 1];
        let mut best = i + 1;
        if cfg.style == GridStyle::Variable && limit > best {
            let mut step = 1;
            let mut fail = None;
            loop {
                let j = (i + 1 + step).min(limit);
                if fits(i, j)? {
                    best = j;
                    if j == limit {
                        break;
                    }
                    step *= 2;
                } else {
                    fail = Some(j);
                    break;
                }
            }
            if let Some(mut hi) = fail {
                while hi - best > 1 {
                    let mid = best + (hi - best) / 2;
                    if fits(i, mid)? {
                        best = mid;
                    } else {
                        hi = mid;
                    }
                }
            }
        }
        if best == n - 1 {
            out.push(Anchor {
                beat: i,
                time_s: (round.time)(times[i]),
                bpm: bpm_between(i, best)?,
            });
            return Ok(out);
        }
        let next = if (constraints.allowed)(best) || (constraints.forced)(best) {
            best
        } else {
            match (i + 1..best).rev().find(|&m| (constraints.allowed)(m)) {
                Some(m) if m == i + 1 || fits(i, m)? => m,
                _ => best,
            }
        };
        out.push(Anchor {
            beat: i,
            time_s: (round.time)(times[i]),
            bpm: bpm_between(i, next)?,
        });
        i = next;
    }
}

/// A section of a straight grid, values rounded as written.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Section {
    first: usize,
    n_beats: usize,
    start_s: f64,
    bpm: f64,
}

impl From<&Section> for GridSection {
    fn from(s: &Section) -> Self {
        Self {
            first_beat: s.first,
            n_beats: s.n_beats,
            start_s: s.start_s,
            bpm: s.bpm,
        }
    }
}

/// Beats looked at either side of a break when moving it back to the tempo change: a
/// tempo change shows as a misfit within a few beats, and a bar (the Traktor constraint
/// puts anchors on downbeats) has at most 8 beats in the meters DJs use.
const BOUNDARY_WINDOW: usize = 8;

/// Least-squares line through beats `i..=j` against their index: (time of beat i, period).
/// One beat: its time and NaN.
fn line_fit(times: &[f64], i: usize, j: usize) -> (f64, f64) {
    let n = (j - i + 1) as f64;
    let xm = (n - 1.0) / 2.0;
    let ym = times[i..=j].iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (m, &t) in times[i..=j].iter().enumerate() {
        let dx = m as f64 - xm;
        sxy += dx * (t - ym);
        sxx += dx * dx;
    }
    let period = sxy / sxx;
    (ym - period * xm, period)
}

/// Sum of squared residuals of the least-squares line through beats `i..=j`.
fn line_sse(times: &[f64], i: usize, j: usize) -> f64 {
    if j <= i + 1 {
        return 0.0;
    }
    let (a, p) = line_fit(times, i, j);
    times[i..=j]
        .iter()
        .enumerate()
        .map(|(m, &t)| (a + m as f64 * p - t).powi(2))
        .sum()
}

/// The section over beats `i..=j` as the format writes it: the least-squares tempo,
/// rounded; the anchor that minimises the squared error at that tempo, rounded; and each
/// beat's distance from its grid line (beat − line, s). Two or more beats.
fn written_fit(times: &[f64], i: usize, j: usize, round: &Rounding) -> Result<(Section, Vec<f64>)> {
    let (_, period) = line_fit(times, i, j);
    let raw = 60.0 / period;
    let bpm = (round.bpm)(raw);
    if !(bpm.is_finite() && bpm >= round.min_bpm) {
        return Err(Error::InvalidInput(format!(
            "beats {i} ({} s) to {j} ({} s) are too far apart for a beat grid ({raw} BPM; \
             the format's slowest tempo is {} BPM)",
            times[i], times[j], round.min_bpm
        )));
    }
    let period = 60.0 / bpm;
    let n = (j - i + 1) as f64;
    let start = times[i..=j]
        .iter()
        .enumerate()
        .map(|(m, &t)| t - m as f64 * period)
        .sum::<f64>()
        / n;
    let start_s = (round.time)(start);
    let residuals = times[i..=j]
        .iter()
        .enumerate()
        .map(|(m, &t)| t - (start_s + m as f64 * period))
        .collect();
    Ok((
        Section {
            first: i,
            n_beats: j - i + 1,
            start_s,
            bpm,
        },
        residuals,
    ))
}

/// Sections of a straight grid (module docs): greedy least-squares sections, each ended by
/// the first beat that does not fit, with the boundary moved back to the split of least
/// squared error among the last [`BOUNDARY_WINDOW`] beats (preferring beats that
/// `constraints` allow). A forced beat always starts a section.
fn straight_sections(
    times: &[f64],
    cfg: &GridConfig,
    round: &Rounding,
    constraints: &Constraints<'_>,
    default_bpm: f64,
) -> Result<Vec<Section>> {
    if times.is_empty() {
        return Ok(Vec::new());
    }
    // Isolated slips and short excursions go back onto the line of the beats around them
    // first, so that they neither split a steady section nor tilt its fit (module docs).
    // Runs first: a slip's line, fitted through the beats either side, tilts when some of
    // them are in a run, and would move a beat that lies on the grid.
    let snapped = snap_slips(&snap_runs(times, cfg.max_error_s), cfg.max_error_s);
    let sections = fit_sections(&snapped, cfg, round, constraints, default_bpm)?;
    // A short first or last section next to a long one: its beats onto that one's line
    // when the count matches (module docs), and the sections fitted again.
    // A section that starts on a forced beat keeps its anchor: nothing merges into it.
    let lines: Vec<GridSection> = sections.iter().map(GridSection::from).collect();
    match snap_edges(&snapped, &lines, constraints.forced, cfg.max_error_s) {
        Some(edged) => fit_sections(&edged, cfg, round, constraints, default_bpm),
        None => Ok(sections),
    }
}

/// The greedy least-squares sections of [`straight_sections`] over beats already snapped.
fn fit_sections(
    times: &[f64],
    cfg: &GridConfig,
    round: &Rounding,
    constraints: &Constraints<'_>,
    default_bpm: f64,
) -> Result<Vec<Section>> {
    let n = times.len();
    let mut out = Vec::new();
    if n == 0 {
        return Ok(out);
    }
    let single = |i: usize| -> Result<Section> {
        // One beat: the tempo to the next beat, else the default.
        let raw = match times.get(i + 1) {
            Some(next) => 60.0 / (next - times[i]),
            None => default_bpm,
        };
        let bpm = (round.bpm)(raw).max(round.min_bpm);
        if !bpm.is_finite() {
            return Err(Error::InvalidInput(format!(
                "beat {i} ({} s) has no usable tempo for a beat grid",
                times[i]
            )));
        }
        Ok(Section {
            first: i,
            n_beats: 1,
            start_s: (round.time)(times[i]),
            bpm,
        })
    };
    let fits = |i: usize, j: usize| -> Result<bool> {
        let (section, residuals) = written_fit(times, i, j, round)?;
        let period = 60.0 / section.bpm;
        Ok(snap::SCATTER * cfg.max_error_s + 0.001 < period / 2.0
            && snap::on_grid(&residuals, cfg.max_error_s))
    };
    let mut i = 0;
    while i < n {
        // The section may run up to the beat before the next forced one.
        let end_limit = (i + 1..n)
            .find(|&k| (constraints.forced)(k))
            .map_or(n - 1, |f| f - 1);
        if end_limit == i {
            out.push(single(i)?);
            i += 1;
            continue;
        }
        // The furthest beat that fits: galloping, then bisection (a steady stretch of L
        // beats costs O(L log L)).
        let mut best = i + 1;
        let mut step = 1;
        let mut fail = None;
        while best < end_limit {
            let j = (best + step).min(end_limit);
            if fits(i, j)? {
                best = j;
                step *= 2;
            } else {
                fail = Some(j);
                break;
            }
        }
        if let Some(mut hi) = fail {
            while hi - best > 1 {
                let mid = best + (hi - best) / 2;
                if fits(i, mid)? {
                    best = mid;
                } else {
                    hi = mid;
                }
            }
        }
        let next = if best == end_limit {
            end_limit + 1
        } else {
            // A break: the next section starts at the split c (this one keeps i..c) of
            // least squared error over the beats around it, allowed beats first.
            let end = (best + 1 + BOUNDARY_WINDOW).min(end_limit);
            let lo = (i + 2).max((best + 1).saturating_sub(BOUNDARY_WINDOW));
            let mut chosen: Option<(bool, f64, usize)> = None;
            for c in lo..=best + 1 {
                if !fits(i, c - 1)? {
                    continue;
                }
                let score = line_sse(times, i, c - 1) + line_sse(times, c, end);
                let allowed = (constraints.allowed)(c);
                let better = match chosen {
                    None => true,
                    Some((a, s, _)) => (allowed && !a) || (allowed == a && score < s),
                };
                if better {
                    chosen = Some((allowed, score, c));
                }
            }
            chosen.map_or(best + 1, |(_, _, c)| c)
        };
        let (section, _) = written_fit(times, i, next - 1, round)?;
        out.push(section);
        i = next;
    }
    Ok(out)
}

/// Most beats a grid may expand to (about 140 hours at 120 BPM); a larger count means a
/// corrupt file, not a song.
pub(crate) const MAX_GRID_BEATS: usize = 1_000_000;

/// Expands a grid back to beat times: from each anchor at its tempo up to the next anchor
/// (grid lines closer than half a beat to the next anchor merge into it), the last one up
/// to `end_s` (inclusive, with 0.5 ms of slack). With `backwards`, the first tempo also extends before the first
/// anchor down to time 0 (Traktor shows its grid there). Each time comes with the number
/// of grid lines between it and its anchor (negative before the first anchor) and the
/// anchor's index. Anchors must be strictly increasing with tempos > 0 (the readers check).
pub(crate) fn expand(
    anchors: &[(f64, f64)],
    end_s: f64,
    backwards: bool,
) -> std::result::Result<Vec<(f64, i64, usize)>, String> {
    let mut out: Vec<(f64, i64, usize)> = Vec::new();
    let Some(&(first_t, first_bpm)) = anchors.first() else {
        return Ok(out);
    };
    if let Some(&(t, bpm)) = anchors
        .iter()
        .find(|(t, bpm)| !(t.is_finite() && (60.0 / bpm).is_finite() && 60.0 / bpm > 0.0))
    {
        return Err(format!(
            "a grid anchor at {t} s with {bpm} BPM has no usable beat length"
        ));
    }
    let too_many = || {
        format!("the grid expands to more than {MAX_GRID_BEATS} beats (corrupt tempo or length?)")
    };
    // Grid lines must stay apart at the resolution of their times.
    let mut push = |t: f64, m: i64, a: usize| -> std::result::Result<(), String> {
        if let Some(&(prev, ..)) = out.last()
            && t <= prev
        {
            return Err(format!(
                "grid lines at {prev} s and {t} s do not increase (tempo too fast for its times)"
            ));
        }
        out.push((t, m, a));
        Ok(())
    };
    let mut produced = 0.0;
    if backwards {
        let period = 60.0 / first_bpm;
        let count = (first_t / period + 1e-9).floor();
        if count > MAX_GRID_BEATS as f64 {
            return Err(too_many());
        }
        produced += count;
        for m in (1..=count as i64).rev() {
            let t = first_t - m as f64 * period;
            if t >= 0.0 {
                push(t, -m, 0)?;
            }
        }
    }
    for (a, &(t, bpm)) in anchors.iter().enumerate() {
        let period = 60.0 / bpm;
        let limit = match anchors.get(a + 1) {
            Some(&(next, _)) => next - period / 2.0,
            // Half a millisecond of slack: lengths are stored rounded.
            None => end_s + 0.5e-3,
        };
        let count = if a + 1 < anchors.len() {
            ((limit - t) / period).ceil().max(1.0)
        } else {
            ((limit - t) / period).floor().max(0.0) + 1.0
        };
        produced += count;
        if produced > MAX_GRID_BEATS as f64 {
            return Err(too_many());
        }
        for m in 0..count as i64 {
            push(t + m as f64 * period, m, a)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t: f64) -> f64 {
        (t * 1e3).round() / 1e3
    }
    fn centi(b: f64) -> f64 {
        (b * 100.0).round() / 100.0
    }
    const ROUND: Rounding = Rounding {
        time: ms,
        bpm: centi,
        min_bpm: 0.01,
    };
    const FREE: Constraints<'static> = Constraints {
        allowed: &|_| true,
        forced: &|_| false,
    };

    fn expand_times(a: &[Anchor], end: f64) -> Vec<f64> {
        let pairs: Vec<(f64, f64)> = a.iter().map(|a| (a.time_s, a.bpm)).collect();
        expand(&pairs, end, false)
            .unwrap()
            .into_iter()
            .map(|x| x.0)
            .collect()
    }

    #[test]
    fn steady_tempo_is_one_anchor_and_a_ramp_several() {
        let steady: Vec<f64> = (0..200).map(|k| 0.3 + 0.5 * k as f64).collect();
        let a = anchors(&steady, &GridConfig::default(), &ROUND, &FREE, 120.0).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].time_s, a[0].bpm), (0.3, 120.0));
        // 100 -> 140 BPM over 200 beats.
        let mut t = 0.0;
        let ramp: Vec<f64> = (0..200)
            .map(|k| {
                let now = t;
                t += 60.0 / (100.0 + 40.0 * k as f64 / 199.0);
                now
            })
            .collect();
        let cfg = GridConfig::default();
        let a = anchors(&ramp, &cfg, &ROUND, &FREE, 120.0).unwrap();
        assert!(a.len() > 3 && a.len() < 60, "{}", a.len());
        // A straight grid's last line may fall up to the tolerance after the last beat.
        let back = expand_times(&a, *ramp.last().unwrap() + cfg.max_error_s);
        assert_eq!(back.len(), ramp.len());
        for (x, y) in back.iter().zip(&ramp) {
            assert!((x - y).abs() <= cfg.max_error_s + 1e-9, "{x} vs {y}");
        }
        // Per beat: one anchor per beat but the last, exact to the millisecond.
        let per = GridConfig {
            style: GridStyle::PerBeat,
            ..cfg
        };
        let a = anchors(&ramp, &per, &ROUND, &FREE, 120.0).unwrap();
        assert_eq!(a.len(), ramp.len() - 1);
        let back = expand_times(&a, *ramp.last().unwrap());
        assert_eq!(back.len(), ramp.len());
        for (x, y) in back.iter().zip(&ramp) {
            assert!((x - y).abs() <= 0.5e-3 + 1e-6, "{x} vs {y}");
        }
    }

    /// 120 BPM from 0.3 s, decoded on the 62.5 fps frame grid (intervals of 31 or 32
    /// frames, ±8 ms around the true beats).
    fn on_frames(bpm: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|k| ((0.3 + 60.0 / bpm * k as f64) * 62.5).round() / 62.5)
            .collect()
    }

    /// Regression (issue 19): the 30 s demo at 120 BPM wrote 38 TEMPO entries (117, 121,
    /// 125 BPM) because beats on the frame grid jitter by more than the 5 ms a variable
    /// grid allowed around a grid anchored on a beat. A straight grid writes one.
    /// A tracker's slip (one beat 40 ms late, a first beat 45 ms early) does not split a
    /// steady grid nor tilt it; two late beats in a row, or a real tempo change, still do.
    #[test]
    fn single_slips_do_not_split_a_steady_grid() {
        let steady: Vec<f64> = (0..64).map(|i| 1.0 + 0.5 * i as f64).collect();
        let mut t = steady.clone();
        t[0] -= 0.045;
        t[20] += 0.040;
        let g = straighten_beats(&t, 0.025).unwrap();
        assert_eq!(g.sections.len(), 1, "{:?}", g.sections);
        assert!(
            (g.sections[0].bpm - 120.0).abs() < 1e-9,
            "{}",
            g.sections[0].bpm
        );
        for (a, b) in g.times_s.iter().zip(&steady) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        assert!(
            (g.max_error_s - 0.045).abs() < 1e-9,
            "the slips moved: {}",
            g.max_error_s
        );
        // Two misfits in a row that come back to the line are a short excursion: snapped
        // too (snap_runs, below).
        let mut two = steady.clone();
        two[20] += 0.040;
        two[21] += 0.040;
        assert_eq!(straighten_beats(&two, 0.025).unwrap().sections.len(), 1);
        let mut change = steady[..32].to_vec();
        change.extend((1..32).map(|i| steady[31] + 0.6 * i as f64));
        let g = straighten_beats(&change, 0.025).unwrap();
        assert_eq!(g.sections.len(), 2, "{:?}", g.sections);
        assert!(g.max_error_s < 1e-9);
    }

    /// Issue 19: a run of up to 8 beats that leaves a steady grid and comes back to the same
    /// line (a fill, a bar heard on the off-beat) is put back on the grid: one section. A
    /// run that does not come back (a skipped beat, an added beat, a tempo change) or lasts
    /// longer still splits, and nothing else moves.
    #[test]
    fn short_excursions_that_come_back_to_the_line_are_snapped() {
        let steady: Vec<f64> = (0..64).map(|i| 1.0 + 0.5 * i as f64).collect();
        let one_section = |t: &[f64]| {
            let g = straighten_beats(t, 0.025).unwrap();
            g.sections.len() == 1
                && g.times_s
                    .iter()
                    .zip(&steady)
                    .all(|(a, b)| (a - b).abs() < 1e-9)
        };
        // Six beats on the off-beat (a quarter beat late to half a beat late), then back.
        let mut off = steady.clone();
        for (m, d) in (20..26).zip([0.12, 0.25, 0.25, 0.25, 0.25, 0.1]) {
            off[m] += d;
        }
        assert!(one_section(&off));
        // Eight beats drifting early and back.
        let mut drift = steady.clone();
        for (m, d) in (30..38).zip([0.03, 0.05, 0.07, 0.08, 0.08, 0.06, 0.04, 0.03]) {
            drift[m] -= d;
        }
        assert!(one_section(&drift));
        // Nine beats off: longer than two bars, a change for the section fit to decide.
        let mut long = steady.clone();
        for t in &mut long[20..29] {
            *t += 0.1;
        }
        assert!(!one_section(&long));
        // A skipped beat: the line after it is a beat early; not snapped, the beats keep
        // their count.
        let mut skipped = steady.clone();
        skipped.remove(30);
        let g = straighten_beats(&skipped, 0.025).unwrap();
        assert_eq!(g.times_s.len(), 63);
        assert!(g.sections.len() > 1);
        // A tempo change: two sections, as before.
        let mut change = steady[..32].to_vec();
        change.extend((1..32).map(|i| steady[31] + 0.48 * i as f64));
        assert_eq!(straighten_beats(&change, 0.025).unwrap().sections.len(), 2);
        // Steady beats are left as they are.
        assert_eq!(snap_runs(&steady, 0.025), steady);
    }

    /// Regression: a first beat a few ms after 0 s got a grid line before the start, and the
    /// CLI's `--straighten` then refused to write the beats ("time -0.0054 s").
    #[test]
    fn a_grid_line_before_the_start_is_put_at_zero() {
        let mut t: Vec<f64> = (0..40).map(|i| 0.002 + 0.5 * i as f64).collect();
        t[0] = 0.001;
        t[1] -= 0.015;
        t[2] -= 0.014;
        let g = straighten_beats(&t, 0.025).unwrap();
        assert!(g.times_s.iter().all(|&x| x >= 0.0), "{:?}", &g.times_s[..3]);
        assert!(g.times_s.windows(2).all(|w| w[1] > w[0]));
        assert!(g.max_error_s <= 0.025);
        crate::formats::BeatList::new(g.times_s).validate().unwrap();
    }

    #[test]
    fn jittery_steady_beats_are_one_straight_section() {
        for n in [60, 400] {
            let beats = on_frames(120.0, n);
            let a = anchors(&beats, &GridConfig::default(), &ROUND, &FREE, 120.0).unwrap();
            assert_eq!(a.len(), 1, "{n} beats: {a:?}");
            assert!((a[0].bpm - 120.0).abs() <= 0.011, "{a:?}");
            let old = GridConfig {
                style: GridStyle::Variable,
                max_error_s: 0.005,
            };
            let a = anchors(&beats, &old, &ROUND, &FREE, 120.0).unwrap();
            assert!(a.len() > 5, "the old grid: {}", a.len());
        }
    }

    #[test]
    fn a_tempo_change_gets_one_new_section_on_it() {
        // 120 BPM for 48 beats, then 128 BPM, on the frame grid.
        let mut t: Vec<f64> = (0..48).map(|k| 0.3 + 0.5 * k as f64).collect();
        let change = 0.3 + 0.5 * 48.0;
        t.extend((0..60).map(|k| change + 60.0 / 128.0 * k as f64));
        let framed: Vec<f64> = t.iter().map(|x| (x * 62.5).round() / 62.5).collect();
        for beats in [&t, &framed] {
            let g = straighten_beats(beats, 0.010).unwrap();
            // Beat 48 ends one tempo and starts the other: either side is the change.
            let firsts: Vec<usize> = g.sections.iter().map(|s| s.first_beat).collect();
            assert!(firsts == [0, 48] || firsts == [0, 49], "{:?}", g.sections);
            assert!((g.sections[0].bpm - 120.0).abs() < 0.1, "{:?}", g.sections);
            assert!((g.sections[1].bpm - 128.0).abs() < 0.1, "{:?}", g.sections);
            assert_eq!(g.times_s.len(), beats.len());
            assert!(g.max_error_s <= 0.010);
            assert!(g.times_s.windows(2).all(|w| w[1] > w[0]));
        }
        // Exact beats come back exactly; on frames the grid is straight (the jitter gone).
        let g = straighten_beats(&t, 0.010).unwrap();
        for (a, b) in g.times_s.iter().zip(&t) {
            assert!((a - b).abs() < 1e-9);
        }
        let g = straighten_beats(&framed, 0.010).unwrap();
        let iv: Vec<f64> = g.times_s[..48].windows(2).map(|w| w[1] - w[0]).collect();
        assert!(iv.iter().all(|d| (d - iv[0]).abs() < 1e-12));
        // A tolerance tighter than the frame jitter splits; zero splits into pairs.
        let tight = straighten_beats(&framed, 0.002).unwrap();
        assert!(tight.sections.len() > 2);
        assert!(tight.max_error_s <= 0.002 + 1e-12);
        assert!(straighten_beats(&framed, 0.0).unwrap().max_error_s <= 1e-12);
        // Bad input and settings.
        assert_eq!(straighten_beats(&framed, 0.2).unwrap_err().code(), "config");
        assert_eq!(
            straighten_beats(&[1.0, 0.5], 0.01).unwrap_err().code(),
            "invalid_input"
        );
        assert!(straighten_beats(&[], 0.01).unwrap().sections.is_empty());
        let one = straighten_beats(&[2.0], 0.01).unwrap();
        assert_eq!(one.times_s, vec![2.0]);
    }

    #[test]
    fn constraints_place_anchors() {
        // A tempo change at beat 10; anchors only on even beats: the change's anchor moves
        // back to beat 10 (even), and forced beat 5 gets one.
        let times: Vec<f64> = (0..20)
            .map(|k| {
                if k <= 10 {
                    0.5 * k as f64
                } else {
                    5.0 + 0.4 * (k - 10) as f64
                }
            })
            .collect();
        let c = Constraints {
            allowed: &|k| k % 2 == 0,
            forced: &|k| k == 5,
        };
        let a = anchors(&times, &GridConfig::default(), &ROUND, &c, 120.0).unwrap();
        let beats: Vec<usize> = a.iter().map(|a| a.beat).collect();
        assert_eq!(beats, vec![0, 5, 10]);
        assert_eq!(a[2].bpm, 150.0);
    }

    #[test]
    fn expansion_bounds() {
        let g = expand(&[(1.0, 120.0)], 2.0, true).unwrap();
        let t: Vec<f64> = g.iter().map(|x| x.0).collect();
        assert_eq!(t, vec![0.0, 0.5, 1.0, 1.5, 2.0]);
        assert_eq!((g[0].1, g[1].1, g[2].1), (-2, -1, 0));
        assert!(expand(&[(0.0, 1e9)], 3600.0, false).is_err());
        // Subnormal tempo: no beat length; a tempo too fast for the anchor's precision.
        assert!(expand(&[(0.0, 1e-320)], 10.0, false).is_err());
        assert!(expand(&[(1e10, 1e8), (1e10 + 1e-4, 120.0)], 1e10 + 1.0, false).is_err());
        assert!(
            anchors(
                &[0.0, 0.5],
                &GridConfig {
                    max_error_s: 0.1,
                    ..GridConfig::default()
                },
                &ROUND,
                &FREE,
                120.0
            )
            .is_err()
        );
        assert!(anchors(&[0.0, 1e6], &GridConfig::default(), &ROUND, &FREE, 120.0).is_err());
    }
}
