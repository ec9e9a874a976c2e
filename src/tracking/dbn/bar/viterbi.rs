//! Viterbi decoding of the bar HMM (madmom 0.17 `HiddenMarkovModel.viterbi` on a
//! `BarTransitionModel` and an `RNNDownBeatTrackingObservationModel`).
//!
//! Same semantics as the beat decoder ([`super::super::viterbi`], spec
//! tracking-metrics-formats.md §1.6): uniform initial distribution `ln(1/S)`, the transition
//! applied at frame 0 too, each candidate scored `(prev[p] + ln A[p→s]) + density` and kept only
//! when strictly greater, predecessors in ascending state order, the final state the first
//! maximum, an empty path when that maximum is `−inf`.
//!
//! Layout: only the first state of each (beat, interval) block has a choice (the last states of
//! the previous beat), so one byte per block and frame is stored (the source interval index);
//! every other state's predecessor is `s − 1`. Each state's density is one of the frame's three
//! log densities, picked through its observation pointer.

use super::state_space::{BarStateSpace, POINTER_NO_BEAT};
use super::transition::BarTransitionModel;

/// The bar HMM, laid out for decoding. Built once, reused for any number of sequences.
#[derive(Debug, Clone)]
pub struct BarHmm {
    num_beats: usize,
    per_beat: usize,
    lens: Vec<usize>,
    firsts: Vec<usize>,
    lasts: Vec<usize>,
    pointers: Vec<u8>,
    /// Per block (`b·n + j`): `Some((k, p))` when the block's first `k` states observe density
    /// `p` and the rest the no-beat density (always the case: positions ascend inside a block),
    /// so a block is two shifted copies; `None` falls back to a per-state lookup.
    prefix: Vec<Option<(usize, u8)>>,
    /// Per beat `b`, per destination interval `j`: the source intervals (ascending) and their
    /// log probabilities.
    sources: Vec<Vec<(Vec<u16>, Vec<f64>)>>,
    /// (beat, interval index) of every state's block, for backtracking.
    block_of_state: Vec<(u16, u16)>,
}

/// Result of [`BarHmm::viterbi`].
#[derive(Debug, Clone, PartialEq)]
pub struct BarViterbiPath {
    /// Best state per frame; empty when no finite-probability path exists.
    pub path: Vec<u32>,
    /// Log probability of the path (`−inf` if none).
    pub log_prob: f64,
}

impl BarHmm {
    /// Precomputes the decoding layout of a bar state space and its transitions.
    pub fn new(space: &BarStateSpace, tm: &BarTransitionModel) -> Self {
        let beat = space.beat_space();
        let n = beat.num_intervals();
        let num_beats = space.num_beats() as usize;
        let per_beat = space.states_per_beat();
        let sources = (0..num_beats)
            .map(|b| {
                (0..n)
                    .map(|j| {
                        let (s, l) = tm.into_first_state(b, j);
                        (s.to_vec(), l.to_vec())
                    })
                    .collect()
            })
            .collect();
        let mut block_of_state = Vec::with_capacity(space.num_states());
        for b in 0..num_beats {
            for (j, &len) in beat.intervals().iter().enumerate() {
                // b < MAX_BEATS_PER_BAR, j < MAX_INTERVALS = 256: both fit u16
                block_of_state.extend(std::iter::repeat_n((b as u16, j as u16), len as usize));
            }
        }
        let pointers = space.pointers();
        let mut prefix = Vec::with_capacity(num_beats * n);
        for b in 0..num_beats {
            for (j, &len) in beat.intervals().iter().enumerate() {
                let f = b * per_beat + beat.first_states()[j] as usize;
                let block = &pointers[f..f + len as usize];
                let p = block[0];
                let k = block.iter().take_while(|&&x| x == p).count();
                let rest_no_beat = block[k..].iter().all(|&x| x == POINTER_NO_BEAT);
                prefix.push(rest_no_beat.then_some((k, p)));
            }
        }
        Self {
            num_beats,
            per_beat,
            lens: beat.intervals().iter().map(|&l| l as usize).collect(),
            firsts: beat.first_states().iter().map(|&f| f as usize).collect(),
            lasts: beat.last_states().iter().map(|&f| f as usize).collect(),
            pointers: pointers.to_vec(),
            prefix,
            sources,
            block_of_state,
        }
    }

    /// Number of states.
    pub fn num_states(&self) -> usize {
        self.pointers.len()
    }

    /// Decodes the most likely state sequence given per-frame log densities
    /// `[no beat, beat, downbeat]` (madmom's density columns 0, 1, 2).
    pub fn viterbi(&self, log_densities: &[[f64; 3]]) -> BarViterbiPath {
        let num_frames = log_densities.len();
        let s_count = self.num_states();
        let n = self.lens.len();
        let blocks = self.num_beats * n;
        if num_frames == 0 || s_count == 0 {
            return BarViterbiPath {
                path: Vec::new(),
                log_prob: f64::NEG_INFINITY,
            };
        }
        let mut choice = vec![0u8; num_frames * blocks];
        let mut prev = vec![(1.0 / s_count as f64).ln(); s_count];
        let mut cur = vec![f64::NEG_INFINITY; s_count];
        for (t, dens) in log_densities.iter().enumerate() {
            let choice_t = &mut choice[t * blocks..(t + 1) * blocks];
            for b in 0..self.num_beats {
                let dst = b * self.per_beat;
                let src = ((b + self.num_beats - 1) % self.num_beats) * self.per_beat;
                for j in 0..n {
                    let f = dst + self.firsts[j];
                    let d = dens[usize::from(self.pointers[f])];
                    let (srcs, lps) = &self.sources[b][j];
                    let mut best = f64::NEG_INFINITY;
                    let mut arg = 0u8;
                    for (&i, &lp) in srcs.iter().zip(lps) {
                        let v = (prev[src + self.lasts[usize::from(i)]] + lp) + d;
                        // strictly greater: the earliest source keeps ties
                        if v > best {
                            best = v;
                            // i < MAX_INTERVALS = 256
                            arg = i as u8;
                        }
                    }
                    cur[f] = best;
                    choice_t[b * n + j] = arg;
                    let end = f + self.lens[j];
                    // madmom: (prev + ln 1) + density
                    match self.prefix[b * n + j] {
                        Some((k, p)) => {
                            let d_first = dens[usize::from(p)];
                            let d_rest = dens[usize::from(POINTER_NO_BEAT)];
                            shift_add(&mut cur[f + 1..f + k], &prev[f..f + k - 1], d_first);
                            shift_add(&mut cur[f + k..end], &prev[f + k - 1..end - 1], d_rest);
                        }
                        None => {
                            for s in f + 1..end {
                                cur[s] = prev[s - 1] + dens[usize::from(self.pointers[s])];
                            }
                        }
                    }
                }
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        let (mut state, mut log_prob) = (0usize, f64::NEG_INFINITY);
        for (s, &v) in prev.iter().enumerate() {
            if v > log_prob {
                log_prob = v;
                state = s;
            }
        }
        if log_prob == f64::NEG_INFINITY {
            return BarViterbiPath {
                path: Vec::new(),
                log_prob,
            };
        }
        let mut path = vec![0u32; num_frames];
        path[num_frames - 1] = state as u32;
        for t in (1..num_frames).rev() {
            let (b, j) = self.block_of_state[state];
            let (b, j) = (usize::from(b), usize::from(j));
            let f = b * self.per_beat + self.firsts[j];
            state = if state == f {
                let from_beat = (b + self.num_beats - 1) % self.num_beats;
                let i = usize::from(choice[t * blocks + b * n + j]);
                from_beat * self.per_beat + self.lasts[i]
            } else {
                state - 1
            };
            path[t - 1] = state as u32;
        }
        BarViterbiPath { path, log_prob }
    }
}

/// `dst[k] = src[k] + d`.
#[inline(always)]
fn shift_add(dst: &mut [f64], src: &[f64], d: f64) {
    for (o, &p) in dst.iter_mut().zip(src) {
        *o = p + d;
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::state_space::BeatStateSpace;
    use super::*;

    /// madmom's `HiddenMarkovModel.viterbi` written literally over a dense predecessor list.
    fn reference(
        space: &BarStateSpace,
        tm: &BarTransitionModel,
        dens: &[[f64; 3]],
    ) -> BarViterbiPath {
        let s_count = space.num_states();
        let beat = space.beat_space();
        let mut preds: Vec<Vec<(usize, f64)>> = vec![Vec::new(); s_count];
        for b in 0..space.num_beats() {
            let prev_beat = (b + space.num_beats() - 1) % space.num_beats();
            for j in 0..beat.num_intervals() {
                let f = space.first_state(b, j).unwrap();
                for k in 1..beat.intervals()[j] as usize {
                    preds[f + k].push((f + k - 1, 0.0));
                }
                let (src, lp) = tm.into_first_state(b as usize, j);
                for (&i, &l) in src.iter().zip(lp) {
                    preds[f].push((space.last_state(prev_beat, usize::from(i)).unwrap(), l));
                }
            }
        }
        for p in &mut preds {
            p.sort_by_key(|x| x.0);
        }
        let (path, log_prob) =
            crate::tracking::dbn::viterbi::literal_viterbi(&preds, dens.len(), |t, s| {
                dens[t][usize::from(space.pointers()[s])]
            });
        BarViterbiPath { path, log_prob }
    }

    #[test]
    fn layout_equals_literal_madmom_viterbi() {
        let mut seed = 777u64;
        let mut rnd = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        // (beats, min interval, max interval, λ per boundary): ties everywhere (λ = 0), the usual
        // λ, tempo changes only at the bar line, no tempo change at all.
        let setups: [(u32, f64, f64, Vec<Option<f64>>); 4] = [
            (3, 6.0, 12.0, vec![Some(0.0); 3]),
            (4, 6.0, 14.0, vec![Some(100.0); 4]),
            (2, 5.0, 11.0, vec![Some(10.0), None]),
            (3, 6.0, 9.0, vec![None; 3]),
        ];
        for (beats, lo, hi, lambdas) in setups {
            let beat = BeatStateSpace::new(lo, hi, None).unwrap();
            let space = BarStateSpace::new(beats, beat, 4).unwrap();
            let tm = BarTransitionModel::new(&space, &lambdas).unwrap();
            let hmm = BarHmm::new(&space, &tm);
            for levels in [0usize, 3] {
                let dens: Vec<[f64; 3]> = (0..300)
                    .map(|_| {
                        let mut q = || match levels {
                            0 => rnd().clamp(1e-3, 1.0),
                            _ => [0.1, 0.3, 0.6][(rnd() * 3.0) as usize % 3],
                        };
                        let (a, b) = (q() * 0.5, q() * 0.5);
                        [((1.0 - a - b) / 3.0).ln(), a.ln(), b.ln()]
                    })
                    .collect();
                let got = hmm.viterbi(&dens);
                let want = reference(&space, &tm, &dens);
                assert_eq!(
                    got.log_prob.to_bits(),
                    want.log_prob.to_bits(),
                    "{beats} {lambdas:?}"
                );
                assert_eq!(got.path, want.path, "{beats} {lambdas:?} levels {levels}");
            }
        }
    }

    #[test]
    fn empty_and_impossible_inputs() {
        let beat = BeatStateSpace::new(4.0, 6.0, None).unwrap();
        let space = BarStateSpace::new(2, beat, 4).unwrap();
        let tm = BarTransitionModel::uniform(&space, Some(100.0)).unwrap();
        let hmm = BarHmm::new(&space, &tm);
        let r = hmm.viterbi(&[]);
        assert!(r.path.is_empty());
        let r = hmm.viterbi(&[[f64::NEG_INFINITY; 3]; 5]);
        assert!(r.path.is_empty());
        assert_eq!(r.log_prob, f64::NEG_INFINITY);
    }
}
