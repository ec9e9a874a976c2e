//! Beat state space (madmom 0.17 `madmom.features.beats_hmm.BeatStateSpace`).
//!
//! Each beat interval `L` (in frames) owns a block of `L` consecutive states; state `k` of the
//! block is at beat position `k / L` in `[0, 1)`. The interval grid is either every integer from
//! `round(min_interval)` to `round(max_interval)` (the default) or an approximately
//! log-spaced subset of it (`num_intervals`).

use crate::{Error, Result};

/// Largest number of intervals the decoder supports (its backpointers are one byte each).
pub const MAX_INTERVALS: usize = 256;

/// Largest number of states accepted (a guard against absurd fps/tempo combinations).
pub const MAX_STATES: usize = 1 << 22;

/// The beat state space: interval grid, block layout and the position of every state.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatStateSpace {
    intervals: Vec<u32>,
    first_states: Vec<u32>,
    last_states: Vec<u32>,
    state_positions: Vec<f64>,
    state_interval_index: Vec<u16>,
}

impl BeatStateSpace {
    /// Builds the state space for beat intervals between `min_interval` and `max_interval`
    /// frames (floats, e.g. `60·fps/max_bpm` and `60·fps/min_bpm`).
    ///
    /// With `num_intervals = Some(n)` and `n` smaller than the linear grid, madmom's log grid is
    /// used: `n, n+1, …` log2-spaced points are rounded (half to even) and deduplicated until at
    /// least `n` distinct intervals remain (so the result can hold more than `n`).
    pub fn new(min_interval: f64, max_interval: f64, num_intervals: Option<usize>) -> Result<Self> {
        if !(min_interval.is_finite() && max_interval.is_finite()) {
            return Err(Error::Config(format!(
                "beat intervals must be finite (got {min_interval}..{max_interval} frames)"
            )));
        }
        let lo = min_interval.round_ties_even();
        let hi = max_interval.round_ties_even();
        if lo < 1.0 {
            return Err(Error::Config(format!(
                "shortest beat interval rounds to {lo} frames; it must be at least 1 \
                 (lower max_bpm or raise fps)"
            )));
        }
        if hi < lo {
            return Err(Error::Config(format!(
                "empty tempo range: intervals {min_interval}..{max_interval} frames"
            )));
        }
        let linear_count = hi - lo + 1.0;
        if linear_count > 1e7 {
            return Err(Error::Config(format!(
                "tempo range too wide: {linear_count} beat intervals"
            )));
        }
        // Exact integers in f64 (checked above), so the casts are lossless.
        let linear: Vec<u32> = (lo as u32..=hi as u32).collect();
        let intervals = match num_intervals {
            Some(0) => return Err(Error::Config("num_tempi must be at least 1".into())),
            Some(n) if n < linear.len() => log_grid(min_interval, max_interval, n),
            _ => linear,
        };
        if intervals.len() > MAX_INTERVALS {
            return Err(Error::Config(format!(
                "{} tempo intervals exceed the supported {MAX_INTERVALS}; narrow min_bpm/max_bpm \
                 or set num_tempi",
                intervals.len()
            )));
        }
        let num_states: u64 = intervals.iter().map(|&l| u64::from(l)).sum();
        if num_states > MAX_STATES as u64 {
            return Err(Error::Config(format!(
                "{num_states} DBN states exceed the supported {MAX_STATES}; narrow the tempo range"
            )));
        }
        let num_states = num_states as usize;
        let mut first_states = Vec::with_capacity(intervals.len());
        let mut last_states = Vec::with_capacity(intervals.len());
        let mut state_positions = Vec::with_capacity(num_states);
        let mut state_interval_index = Vec::with_capacity(num_states);
        let mut offset = 0u32;
        for (idx, &len) in intervals.iter().enumerate() {
            first_states.push(offset);
            last_states.push(offset + len - 1);
            // numpy.linspace(0, 1, len, endpoint=False) == k * (1/len)
            let step = 1.0 / f64::from(len);
            state_positions.extend((0..len).map(|k| f64::from(k) * step));
            // idx < MAX_INTERVALS = 256, fits u16.
            state_interval_index.extend(std::iter::repeat_n(idx as u16, len as usize));
            offset += len;
        }
        Ok(Self {
            intervals,
            first_states,
            last_states,
            state_positions,
            state_interval_index,
        })
    }

    /// Beat intervals in frames, ascending.
    pub fn intervals(&self) -> &[u32] {
        &self.intervals
    }

    /// Number of intervals (tempi).
    pub fn num_intervals(&self) -> usize {
        self.intervals.len()
    }

    /// Total number of states (sum of all intervals).
    pub fn num_states(&self) -> usize {
        self.state_positions.len()
    }

    /// First state of each interval block.
    pub fn first_states(&self) -> &[u32] {
        &self.first_states
    }

    /// Last state of each interval block.
    pub fn last_states(&self) -> &[u32] {
        &self.last_states
    }

    /// Beat position of every state, in `[0, 1)`.
    pub fn state_positions(&self) -> &[f64] {
        &self.state_positions
    }

    /// Index (into [`Self::intervals`]) of the block each state belongs to.
    pub fn state_interval_index(&self) -> &[u16] {
        &self.state_interval_index
    }

    /// Beat interval (frames) of a state; `None` if the state does not exist.
    pub fn state_interval(&self, state: u32) -> Option<u32> {
        let idx = *self.state_interval_index.get(state as usize)?;
        self.intervals.get(usize::from(idx)).copied()
    }
}

/// madmom's log-spaced interval grid (see [`BeatStateSpace::new`]).
fn log_grid(min_interval: f64, max_interval: f64, num: usize) -> Vec<u32> {
    let start = min_interval.log2();
    let stop = max_interval.log2();
    let mut n = num;
    loop {
        let mut grid: Vec<u32> = linspace(start, stop, n)
            .into_iter()
            .map(|e| 2f64.powf(e).round_ties_even() as u32)
            .collect();
        grid.sort_unstable();
        grid.dedup();
        // Terminates: n < linear count, and a fine enough grid hits every integer interval.
        if grid.len() >= num {
            return grid;
        }
        n += 1;
    }
}

/// `numpy.linspace(start, stop, n)` (endpoint included) with numpy's rounding.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / (n - 1) as f64;
    let mut y: Vec<f64> = (0..n)
        .map(|k| {
            if step == 0.0 {
                (k as f64 / (n - 1) as f64) * (stop - start) + start
            } else {
                k as f64 * step + start
            }
        })
        .collect();
    if let Some(last) = y.last_mut() {
        *last = stop;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(fps: f64, num_tempi: Option<usize>) -> BeatStateSpace {
        BeatStateSpace::new(60.0 * fps / 215.0, 60.0 * fps / 55.0, num_tempi).unwrap()
    }

    #[test]
    fn zerons_grid_matches_madmom_table() {
        // spec tracking-metrics-formats.md §1.3 (verified with madmom 0.17)
        let s = space(62.5, None);
        assert_eq!(s.intervals().first(), Some(&17));
        assert_eq!(s.intervals().last(), Some(&68));
        assert_eq!(s.num_intervals(), 52);
        assert_eq!(s.num_states(), 2210);
        assert_eq!(s.first_states()[1], 17);
        assert_eq!(s.last_states()[51], 2209);
        // num_tempi = 60 > 52 keeps the linear grid
        assert_eq!(space(62.5, Some(60)), s);
    }

    #[test]
    fn fps100_grids_match_madmom_table() {
        let s = space(100.0, None);
        assert_eq!(
            (s.intervals()[0], s.num_intervals(), s.num_states()),
            (28, 82, 5617)
        );
        let s = space(100.0, Some(60));
        assert_eq!(s.num_intervals(), 60);
        assert_eq!(s.num_states(), 3719);
        assert_eq!((s.intervals()[0], s.intervals()[59]), (28, 109));
    }

    #[test]
    fn positions_follow_linspace() {
        let s = space(62.5, None);
        assert_eq!(s.state_positions()[0], 0.0);
        assert_eq!(s.state_positions()[1], 1.0 / 17.0);
        assert_eq!(s.state_positions()[16], 16.0 * (1.0 / 17.0));
        assert_eq!(s.state_interval(17), Some(18));
        assert_eq!(s.state_interval(2210), None);
    }

    #[test]
    fn rejects_degenerate_ranges() {
        assert!(BeatStateSpace::new(0.2, 10.0, None).is_err());
        assert!(BeatStateSpace::new(10.0, 5.0, None).is_err());
        assert!(BeatStateSpace::new(f64::NAN, 5.0, None).is_err());
        assert!(BeatStateSpace::new(1.0, 400.0, None).is_err()); // > 256 intervals
        assert!(BeatStateSpace::new(10.0, 20.0, Some(0)).is_err());
    }
}
