//! Tempo grids for DJ software (Rekordbox, Traktor): a beat list becomes a few anchors,
//! each holding a constant tempo until the next, and a grid becomes beats again.
//!
//! A beat list is written as one anchor plus a tempo as long as the grid that the file
//! stores (anchor and tempo rounded as the format writes them) stays within
//! [`GridConfig::max_error_s`] of every beat; where it would not, a new anchor starts on
//! the last beat that still fitted. [`GridStyle::PerBeat`] writes an anchor on every beat
//! instead (a "free" grid, exact to the format's time resolution).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How beats become a DJ-software grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GridStyle {
    /// As few anchors as keep every beat within [`GridConfig::max_error_s`] of the grid:
    /// one for a steady tempo, one per tempo change otherwise.
    Variable,
    /// One anchor per beat, the tempo from each beat to the next (spec §4.3: "for a fully
    /// free beat list, write one per beat").
    PerBeat,
}

/// Settings for the Rekordbox and Traktor grid writers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GridConfig {
    /// Anchor placement. Default [`GridStyle::Variable`].
    pub style: GridStyle,
    /// Largest distance, in seconds, between a beat and the grid line that stands for it.
    /// Default 0.005 s: a fourteenth of the ±70 ms mir_eval F-measure window and half the
    /// ~10 ms at which two clicks stop sounding as one, so a grid that keeps to it sounds
    /// like the beats it came from. Must lie in [0, 0.05].
    pub max_error_s: f64,
}

impl Default for GridConfig {
    fn default() -> Self {
        Self {
            style: GridStyle::Variable,
            max_error_s: 0.005,
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
        let back = expand_times(&a, *ramp.last().unwrap());
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
