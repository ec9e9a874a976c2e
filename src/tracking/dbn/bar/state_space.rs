//! Bar state space (madmom 0.17 `madmom.features.beats_hmm.BarStateSpace`) and the downbeat
//! observation pointers (`RNNDownBeatTrackingObservationModel`).
//!
//! A bar of `B` beats stacks `B` copies of one [`BeatStateSpace`]: beat `b` owns the states
//! `b·S₁ .. (b+1)·S₁` (S₁ states per beat), laid out as the beat space is (one block per
//! interval, `L` states per block). A state's bar position is its beat position plus `b`, an f64
//! sum as madmom computes it, so positions lie in `[0, B)` and `floor(position) + 1` is the beat
//! number in the bar.
//!
//! Observation pointers (which density a state observes), decided on those f64 positions
//! exactly as madmom does: 2 (downbeat) where `position < 1/λ_obs`, else 1 (beat) where
//! `position mod 1 < 1/λ_obs`, else 0 (no beat).

use super::super::state_space::BeatStateSpace;
use crate::{Error, Result};

/// Largest supported number of beats per bar.
pub const MAX_BEATS_PER_BAR: u32 = 64;

/// Observation pointer of a non-beat state.
pub const POINTER_NO_BEAT: u8 = 0;
/// Observation pointer of a beat state (not the bar's first beat).
pub const POINTER_BEAT: u8 = 1;
/// Observation pointer of a downbeat state (the first beat of the bar).
pub const POINTER_DOWNBEAT: u8 = 2;

/// `B` stacked beat state spaces with their bar positions and observation pointers.
#[derive(Debug, Clone, PartialEq)]
pub struct BarStateSpace {
    num_beats: u32,
    beat: BeatStateSpace,
    state_positions: Vec<f64>,
    pointers: Vec<u8>,
}

impl BarStateSpace {
    /// Builds the bar space: `num_beats` copies of `beat`, pointers for `observation_lambda`.
    pub fn new(num_beats: u32, beat: BeatStateSpace, observation_lambda: u32) -> Result<Self> {
        if num_beats == 0 || num_beats > MAX_BEATS_PER_BAR {
            return Err(Error::Config(format!(
                "beats per bar must be in 1..={MAX_BEATS_PER_BAR} (got {num_beats})"
            )));
        }
        if observation_lambda < 2 {
            return Err(Error::Config(format!(
                "observation_lambda must be at least 2 (got {observation_lambda})"
            )));
        }
        let per_beat = beat.num_states();
        let total = per_beat * num_beats as usize;
        if total > super::super::state_space::MAX_STATES {
            return Err(Error::Config(format!(
                "{total} bar states exceed the supported {}; narrow the tempo range, lower \
                 num_tempi or beats per bar",
                super::super::state_space::MAX_STATES
            )));
        }
        let border = 1.0 / f64::from(observation_lambda);
        let mut state_positions = Vec::with_capacity(total);
        let mut pointers = Vec::with_capacity(total);
        for b in 0..num_beats {
            let offset = f64::from(b);
            for &p in beat.state_positions() {
                let pos = p + offset;
                state_positions.push(pos);
                // madmom sets 1 where `pos % 1 < border`, then overwrites with 2 where
                // `pos < border`. Rust's `%` on f64 is C fmod, numpy's remainder for positives.
                let pointer = if pos < border {
                    POINTER_DOWNBEAT
                } else if pos % 1.0 < border {
                    POINTER_BEAT
                } else {
                    POINTER_NO_BEAT
                };
                pointers.push(pointer);
            }
        }
        Ok(Self {
            num_beats,
            beat,
            state_positions,
            pointers,
        })
    }

    /// Beats per bar.
    pub fn num_beats(&self) -> u32 {
        self.num_beats
    }

    /// The beat state space each beat of the bar copies.
    pub fn beat_space(&self) -> &BeatStateSpace {
        &self.beat
    }

    /// States per beat (`S₁`).
    pub fn states_per_beat(&self) -> usize {
        self.beat.num_states()
    }

    /// Total number of states (`B·S₁`).
    pub fn num_states(&self) -> usize {
        self.state_positions.len()
    }

    /// Bar position of every state, in `[0, B)`.
    pub fn state_positions(&self) -> &[f64] {
        &self.state_positions
    }

    /// Observation pointer of every state ([`POINTER_NO_BEAT`], [`POINTER_BEAT`],
    /// [`POINTER_DOWNBEAT`]).
    pub fn pointers(&self) -> &[u8] {
        &self.pointers
    }

    /// First state of interval block `j` in beat `b`.
    pub fn first_state(&self, b: u32, j: usize) -> Option<usize> {
        let f = *self.beat.first_states().get(j)? as usize;
        (b < self.num_beats).then(|| b as usize * self.states_per_beat() + f)
    }

    /// Last state of interval block `j` in beat `b`.
    pub fn last_state(&self, b: u32, j: usize) -> Option<usize> {
        let l = *self.beat.last_states().get(j)? as usize;
        (b < self.num_beats).then(|| b as usize * self.states_per_beat() + l)
    }

    /// Beat number in the bar (1 = downbeat) of a state: `floor(position) + 1`, as madmom's
    /// `positions.astype(int) + 1`. `None` for a state that does not exist.
    pub fn beat_number(&self, state: u32) -> Option<u32> {
        let p = *self.state_positions.get(state as usize)?;
        // p in [0, B) with B <= MAX_BEATS_PER_BAR: the truncation is exact.
        Some(p as u32 + 1)
    }

    /// Beat interval (frames) of a state.
    pub fn state_interval(&self, state: u32) -> Option<u32> {
        let per_beat = self.states_per_beat();
        if per_beat == 0 || state as usize >= self.num_states() {
            return None;
        }
        self.beat.state_interval((state as usize % per_beat) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(fps: f64, num_tempi: Option<usize>) -> BeatStateSpace {
        BeatStateSpace::new(60.0 * fps / 215.0, 60.0 * fps / 55.0, num_tempi).unwrap()
    }

    #[test]
    fn sizes_match_madmom() {
        // spec tracking-metrics-formats.md §1.9: 3719 states per beat at fps 100, num_tempi 60
        let s3 = BarStateSpace::new(3, beat(100.0, Some(60)), 16).unwrap();
        assert_eq!(s3.num_states(), 11157);
        let s4 = BarStateSpace::new(4, beat(100.0, Some(60)), 16).unwrap();
        assert_eq!(s4.num_states(), 14876);
        assert_eq!(s4.first_state(1, 0), Some(3719));
        assert_eq!(s4.last_state(3, 59), Some(14875));
        assert_eq!(s4.first_state(4, 0), None);
        assert_eq!(s4.beat_number(0), Some(1));
        assert_eq!(s4.beat_number(3719), Some(2));
        assert_eq!(s4.beat_number(14875), Some(4));
        assert_eq!(s4.beat_number(14876), None);
        assert_eq!(s4.state_interval(3719), Some(28));
        assert_eq!(s4.state_interval(14875), Some(109));
    }

    #[test]
    fn pointers_mark_downbeat_and_beat_ranges() {
        let s = BarStateSpace::new(3, beat(62.5, None), 16).unwrap();
        let per = s.states_per_beat();
        let p = s.pointers();
        // first state of every block: downbeat in beat 0, beat elsewhere
        assert_eq!(p[0], POINTER_DOWNBEAT);
        assert_eq!(p[per], POINTER_BEAT);
        assert_eq!(p[2 * per + 17], POINTER_BEAT);
        // interval 17 has 2 (down)beat states: k·16 < 17 for k = 0, 1
        assert_eq!(
            &p[..3],
            &[POINTER_DOWNBEAT, POINTER_DOWNBEAT, POINTER_NO_BEAT]
        );
        // madmom 0.17: 164 downbeat and 328 beat pointers for 3 beats at 62.5 fps
        assert_eq!(p.iter().filter(|&&x| x == POINTER_DOWNBEAT).count(), 164);
        assert_eq!(p.iter().filter(|&&x| x == POINTER_BEAT).count(), 328);
        assert!(BarStateSpace::new(0, beat(62.5, None), 16).is_err());
        assert!(BarStateSpace::new(3, beat(62.5, None), 1).is_err());
    }
}
