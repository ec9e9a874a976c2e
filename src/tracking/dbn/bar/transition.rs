//! Bar transition model (madmom 0.17 `madmom.features.beats_hmm.BarTransitionModel`).
//!
//! Inside every beat of the bar a state `s` that is not a block's first state has the single
//! predecessor `s − 1` (probability 1). At each beat boundary the last states of beat `b − 1`
//! (beat `B − 1` for `b = 0`, which closes the bar cycle) move to the first states of beat `b`
//! with the beat tracker's exponential tempo-change probabilities
//! ([`BeatTransitionModel`]). Each boundary can have its own λ (madmom accepts a list with one
//! value per beat; `None` forbids a tempo change at that boundary).

use super::super::transition::BeatTransitionModel;
use super::state_space::BarStateSpace;
use crate::{Error, Result};

/// The tempo transitions into each beat of a [`BarStateSpace`].
#[derive(Debug, Clone, PartialEq)]
pub struct BarTransitionModel {
    /// `into_beat[b]`: transitions from the last states of beat `b − 1` into the first states of
    /// beat `b`, by interval index.
    into_beat: Vec<BeatTransitionModel>,
    num_states: usize,
    num_intervals: usize,
}

impl BarTransitionModel {
    /// One λ per beat boundary: `transition_lambdas[b]` governs the move into beat `b`.
    pub fn new(space: &BarStateSpace, transition_lambdas: &[Option<f64>]) -> Result<Self> {
        if transition_lambdas.len() != space.num_beats() as usize {
            return Err(Error::Config(format!(
                "{} transition lambdas for a bar of {} beats",
                transition_lambdas.len(),
                space.num_beats()
            )));
        }
        let into_beat = transition_lambdas
            .iter()
            .map(|&l| BeatTransitionModel::new(space.beat_space(), l))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            into_beat,
            num_states: space.num_states(),
            num_intervals: space.beat_space().num_intervals(),
        })
    }

    /// The same λ at every beat boundary (what `DBNDownBeatTrackingProcessor` builds).
    pub fn uniform(space: &BarStateSpace, transition_lambda: Option<f64>) -> Result<Self> {
        Self::new(space, &vec![transition_lambda; space.num_beats() as usize])
    }

    /// Source interval indices (ascending) and log probabilities of the transitions into the
    /// first state of interval `j` of beat `b`, from the last states of the previous beat.
    pub fn into_first_state(&self, b: usize, j: usize) -> (&[u16], &[f64]) {
        match self.into_beat.get(b) {
            Some(tm) => tm.into_interval(j),
            None => (&[], &[]),
        }
    }

    /// Total number of transitions, madmom's `len(tm.probabilities)`: the within-beat ones
    /// (`B·(S₁ − #intervals)`) plus every boundary's tempo transitions.
    pub fn num_transitions(&self) -> usize {
        let boundary: usize = self
            .into_beat
            .iter()
            .map(BeatTransitionModel::num_tempo_transitions)
            .sum();
        self.num_states - self.into_beat.len() * self.num_intervals + boundary
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::state_space::BeatStateSpace;
    use super::*;

    fn space(beats: u32, fps: f64, num_tempi: Option<usize>) -> BarStateSpace {
        let beat = BeatStateSpace::new(60.0 * fps / 215.0, 60.0 * fps / 55.0, num_tempi).unwrap();
        BarStateSpace::new(beats, beat, 16).unwrap()
    }

    #[test]
    fn transition_counts_match_madmom() {
        // madmom 0.17 `len(BarTransitionModel(st, 100).probabilities)`
        let tm = BarTransitionModel::uniform(&space(3, 62.5, None), Some(100.0)).unwrap();
        assert_eq!(tm.num_transitions(), 10500);
        let tm = BarTransitionModel::uniform(&space(4, 100.0, Some(60)), Some(100.0)).unwrap();
        assert_eq!(tm.num_transitions(), 21648);
        let tm = BarTransitionModel::uniform(&space(3, 100.0, Some(60)), Some(100.0)).unwrap();
        assert_eq!(tm.num_transitions(), 16236);
    }

    #[test]
    fn per_beat_lambdas() {
        let s = space(3, 62.5, None);
        let n = s.beat_space().num_intervals();
        // tempo changes only at the bar line
        let tm = BarTransitionModel::new(&s, &[Some(100.0), None, None]).unwrap();
        assert_eq!(tm.into_first_state(1, 5), (&[5u16][..], &[0.0][..]));
        assert!(tm.into_first_state(0, 5).0.len() > 1);
        assert_eq!(tm.into_first_state(3, 0), (&[][..], &[][..]));
        assert_eq!(
            tm.num_transitions(),
            s.num_states() - 3 * n + 2 * n + tm.into_beat[0].num_tempo_transitions()
        );
        assert!(BarTransitionModel::new(&s, &[Some(100.0)]).is_err());
        assert!(BarTransitionModel::uniform(&s, Some(-1.0)).is_err());
    }
}
