//! Beat transition model (madmom 0.17 `madmom.features.beats_hmm.BeatTransitionModel`).
//!
//! Inside a beat every state `s` (not a block's first state) has the single predecessor `s − 1`
//! with probability 1. At the beat boundary the last state of interval `i` moves to the first
//! state of interval `j` with probability `P[i][j] ∝ exp(−λ·|L_j/L_i − 1|)` (entries at or below
//! machine epsilon cut to 0, rows normalised with numpy's pairwise sum).
//!
//! Stored keyed by destination, as madmom's CSR is: for each destination interval `j`, the
//! source intervals `i` with `P[i][j] > 0` in ascending order (which is ascending state order,
//! the order that decides Viterbi ties) and their `ln P[i][j]`.

use super::state_space::BeatStateSpace;
use crate::{Error, Result};

/// numpy's `np.spacing(1)`: madmom cuts transition probabilities at or below it.
const TRANSITION_EPS: f64 = f64::EPSILON;

/// Sparse tempo-change transitions of a [`BeatStateSpace`].
#[derive(Debug, Clone, PartialEq)]
pub struct BeatTransitionModel {
    /// `sources[offsets[j]..offsets[j+1]]`: source interval indices feeding interval `j`.
    offsets: Vec<usize>,
    sources: Vec<u16>,
    log_probs: Vec<f64>,
    num_states: usize,
}

impl BeatTransitionModel {
    /// Builds the model. `transition_lambda = None` forbids tempo changes (identity matrix).
    pub fn new(space: &BeatStateSpace, transition_lambda: Option<f64>) -> Result<Self> {
        if let Some(l) = transition_lambda
            && !(l.is_finite() && l >= 0.0)
        {
            return Err(Error::Config(format!(
                "transition_lambda must be finite and >= 0 (got {l})"
            )));
        }
        let n = space.num_intervals();
        let prob = exponential_transition(space.intervals(), transition_lambda);
        let mut offsets = Vec::with_capacity(n + 1);
        let mut sources = Vec::new();
        let mut log_probs = Vec::new();
        offsets.push(0);
        for j in 0..n {
            for i in 0..n {
                let p = prob[i * n + j];
                if p != 0.0 {
                    // i < MAX_INTERVALS = 256
                    sources.push(i as u16);
                    log_probs.push(p.ln());
                }
            }
            offsets.push(sources.len());
        }
        Ok(Self {
            offsets,
            sources,
            log_probs,
            num_states: space.num_states(),
        })
    }

    /// Source interval indices and log probabilities of the transitions into interval `j`
    /// (ascending source order). Empty for an out-of-range `j`.
    pub fn into_interval(&self, j: usize) -> (&[u16], &[f64]) {
        match (self.offsets.get(j), self.offsets.get(j + 1)) {
            (Some(&a), Some(&b)) => (&self.sources[a..b], &self.log_probs[a..b]),
            _ => (&[], &[]),
        }
    }

    /// Number of nonzero tempo (beat-boundary) transitions.
    pub fn num_tempo_transitions(&self) -> usize {
        self.sources.len()
    }

    /// Total number of transitions, madmom's `len(tm.probabilities)`:
    /// the within-beat ones (`S − #intervals`) plus the tempo transitions.
    pub fn num_transitions(&self) -> usize {
        self.num_states - (self.offsets.len() - 1) + self.sources.len()
    }
}

/// madmom's `exponential_transition(from, to, λ)` for `from = to = intervals`, row-major
/// (`[from * n + to]`): `exp(−λ·|to/from − 1|)`, values `<= eps` set to 0, rows normalised.
/// `None` gives the identity.
pub fn exponential_transition(intervals: &[u32], transition_lambda: Option<f64>) -> Vec<f64> {
    let n = intervals.len();
    let mut prob = vec![0.0; n * n];
    let Some(lambda) = transition_lambda else {
        for i in 0..n {
            prob[i * n + i] = 1.0;
        }
        return prob;
    };
    for (i, &from) in intervals.iter().enumerate() {
        let row = &mut prob[i * n..(i + 1) * n];
        for (p, &to) in row.iter_mut().zip(intervals) {
            let ratio = f64::from(to) / f64::from(from);
            let v = (-lambda * (ratio - 1.0).abs()).exp();
            *p = if v <= TRANSITION_EPS { 0.0 } else { v };
        }
        let sum = numpy_pairwise_sum(row);
        for p in row.iter_mut() {
            *p /= sum;
        }
    }
    prob
}

/// numpy's pairwise summation (`np.sum` along a contiguous axis), bit for bit: fewer than 8
/// terms are summed sequentially; up to 128 terms use 8 running partial sums combined as
/// `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))` plus a sequential tail; longer inputs are split in two.
pub fn numpy_pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |acc, &x| acc + x)
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[full..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum(&a[..n2]) + numpy_pairwise_sum(&a[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(fps: f64) -> BeatStateSpace {
        BeatStateSpace::new(60.0 * fps / 215.0, 60.0 * fps / 55.0, None).unwrap()
    }

    #[test]
    fn transition_counts_match_madmom_table() {
        // spec §1.3: 1342 tempo transitions / 3500 total at 62.5 fps; 3399 / 8934 at 100 fps
        let tm = BeatTransitionModel::new(&space(62.5), Some(100.0)).unwrap();
        assert_eq!(tm.num_tempo_transitions(), 1342);
        assert_eq!(tm.num_transitions(), 3500);
        let tm = BeatTransitionModel::new(&space(100.0), Some(100.0)).unwrap();
        assert_eq!(tm.num_tempo_transitions(), 3399);
        assert_eq!(tm.num_transitions(), 8934);
        let s = BeatStateSpace::new(6000.0 / 215.0, 6000.0 / 55.0, Some(60)).unwrap();
        let tm = BeatTransitionModel::new(&s, Some(100.0)).unwrap();
        assert_eq!(tm.num_transitions(), 5412);
    }

    #[test]
    fn example_probabilities_match_spec() {
        // spec §1.4: P[17→17] = 0.99721, P[17→18] = 0.00278, P[68→68] = 0.7702
        let s = space(62.5);
        let p = exponential_transition(s.intervals(), Some(100.0));
        let n = s.num_intervals();
        assert!((p[0] - 0.99721).abs() < 5e-6, "{}", p[0]);
        assert!((p[1] - 0.00278).abs() < 5e-6, "{}", p[1]);
        assert!((p[n * n - 1] - 0.7702).abs() < 5e-5, "{}", p[n * n - 1]);
        for i in 0..n {
            let row = &p[i * n..(i + 1) * n];
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            // only ratios in (0.6396, 1.3604) survive the eps cut
            for (j, &v) in row.iter().enumerate() {
                let r = f64::from(s.intervals()[j]) / f64::from(s.intervals()[i]);
                assert_eq!(v > 0.0, r > 0.6396 && r < 1.3604, "{i}->{j}");
            }
        }
    }

    #[test]
    fn sources_ascend_and_identity_without_lambda() {
        let s = space(62.5);
        let tm = BeatTransitionModel::new(&s, Some(100.0)).unwrap();
        for j in 0..s.num_intervals() {
            let (src, lp) = tm.into_interval(j);
            assert!(src.windows(2).all(|w| w[0] < w[1]));
            assert!(src.contains(&(j as u16)));
            assert!(lp.iter().all(|&x| x <= 0.0));
        }
        assert_eq!(tm.into_interval(999), (&[][..], &[][..]));
        let id = BeatTransitionModel::new(&s, None).unwrap();
        assert_eq!(id.num_tempo_transitions(), 52);
        assert_eq!(id.into_interval(3), (&[3u16][..], &[0.0][..]));
        assert!(BeatTransitionModel::new(&s, Some(-1.0)).is_err());
        assert!(BeatTransitionModel::new(&s, Some(f64::NAN)).is_err());
    }

    #[test]
    fn pairwise_sum_matches_numpy_order() {
        // Values whose sum depends on the association order.
        let v: Vec<f64> = (0..11).map(|k| 1.0 + f64::from(k) * 1e-16).collect();
        let r: Vec<f64> = v[..8].to_vec();
        let mut expect = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        expect += v[8];
        expect += v[9];
        expect += v[10];
        assert_eq!(numpy_pairwise_sum(&v).to_bits(), expect.to_bits());
        assert_eq!(numpy_pairwise_sum(&[1.0, 2.0]), 3.0);
        assert_eq!(numpy_pairwise_sum(&[]), 0.0);
        let big: Vec<f64> = (0..300).map(f64::from).collect();
        assert_eq!(numpy_pairwise_sum(&big), 44850.0);
    }
}
