//! Observation model (madmom 0.17 `RNNBeatTrackingObservationModel`).
//!
//! A state is a *beat state* when its position is below `1/observation_lambda`; beat states
//! observe `ln(a)`, all others `ln((1 − a)/(observation_lambda − 1))` for activation `a`.

use super::state_space::BeatStateSpace;
use crate::{Error, Result};

/// Beat / non-beat split of a [`BeatStateSpace`] and the two log densities.
#[derive(Debug, Clone, PartialEq)]
pub struct RnnBeatTrackingObservationModel {
    observation_lambda: u32,
    /// Number of beat states at the start of each interval block (positions ascend in a block,
    /// so the beat states of a block are a prefix of it).
    beat_states_per_interval: Vec<u32>,
}

impl RnnBeatTrackingObservationModel {
    /// Builds the model; `observation_lambda` must be at least 2.
    pub fn new(space: &BeatStateSpace, observation_lambda: u32) -> Result<Self> {
        if observation_lambda < 2 {
            return Err(Error::Config(format!(
                "observation_lambda must be at least 2 (got {observation_lambda})"
            )));
        }
        // madmom: pointers[state_positions < 1. / observation_lambda] = 1
        let border = 1.0 / f64::from(observation_lambda);
        let positions = space.state_positions();
        let beat_states_per_interval = space
            .first_states()
            .iter()
            .zip(space.intervals())
            .map(|(&first, &len)| {
                let block = &positions[first as usize..(first + len) as usize];
                block.iter().take_while(|&&p| p < border).count() as u32
            })
            .collect();
        Ok(Self {
            observation_lambda,
            beat_states_per_interval,
        })
    }

    /// Number of beat states at the start of interval block `j` (0 if `j` is out of range).
    pub fn beat_states_in_interval(&self, j: usize) -> u32 {
        self.beat_states_per_interval.get(j).copied().unwrap_or(0)
    }

    /// Total number of beat states.
    pub fn num_beat_states(&self) -> usize {
        self.beat_states_per_interval
            .iter()
            .map(|&n| n as usize)
            .sum()
    }

    /// `(non_beat, beat)` log densities of activation `a` (computed in f64).
    #[inline]
    pub fn log_densities(&self, a: f64) -> (f64, f64) {
        (
            ((1.0 - a) / f64::from(self.observation_lambda - 1)).ln(),
            a.ln(),
        )
    }

    /// The observation lambda.
    pub fn observation_lambda(&self) -> u32 {
        self.observation_lambda
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beat_state_counts_match_madmom_table() {
        // spec §1.3: 164 beat states at 62.5 fps, 389 at 100 fps (observation_lambda 16)
        let s = BeatStateSpace::new(3750.0 / 215.0, 3750.0 / 55.0, None).unwrap();
        let om = RnnBeatTrackingObservationModel::new(&s, 16).unwrap();
        assert_eq!(om.num_beat_states(), 164);
        assert_eq!(om.beat_states_in_interval(0), 2); // L = 17
        assert_eq!(om.beat_states_in_interval(15), 2); // L = 32: 2/32 is not < 1/16
        assert_eq!(om.beat_states_in_interval(16), 3); // L = 33
        let s = BeatStateSpace::new(6000.0 / 215.0, 6000.0 / 55.0, None).unwrap();
        let om = RnnBeatTrackingObservationModel::new(&s, 16).unwrap();
        assert_eq!(om.num_beat_states(), 389);
        assert!(RnnBeatTrackingObservationModel::new(&s, 1).is_err());
    }

    #[test]
    fn densities() {
        let s = BeatStateSpace::new(17.0, 18.0, None).unwrap();
        let om = RnnBeatTrackingObservationModel::new(&s, 16).unwrap();
        let (nb, b) = om.log_densities(0.25);
        assert_eq!(b, 0.25f64.ln());
        assert_eq!(nb, (0.75f64 / 15.0).ln());
        assert_eq!(om.log_densities(1.0).0, f64::NEG_INFINITY);
        assert_eq!(om.log_densities(0.0).1, f64::NEG_INFINITY);
    }
}
