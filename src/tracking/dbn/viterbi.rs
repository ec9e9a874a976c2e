//! Viterbi decoding of the beat HMM (madmom 0.17 `madmom.ml.hmm.HiddenMarkovModel.viterbi`),
//! specialised to the beat state space.
//!
//! Exact madmom semantics (spec §1.6): uniform initial distribution `ln(1/S)`; the transition is
//! applied at frame 0 too; each candidate is scored `(prev[p] + ln A[p→s]) + density` and replaces
//! the running best only when strictly greater, predecessors visited in ascending state order;
//! the final state is the first maximum; a `−inf` maximum yields an empty path.
//!
//! Layout (spec §1.8): a non-first state's only predecessor is `s − 1`, so backpointers are kept
//! for the first states alone, one byte (source interval index) per interval and frame. Per frame
//! the work is a shifted copy-plus-density over the state vector and, per destination interval, a
//! max over its source intervals' last states. Two f64 state vectors are swapped; nothing is
//! allocated per frame.

use super::observation::RnnBeatTrackingObservationModel;
use super::state_space::BeatStateSpace;
use super::transition::BeatTransitionModel;

/// The beat HMM, laid out for fast decoding. Built once, reused for any number of sequences.
#[derive(Debug, Clone)]
pub struct BeatHmm {
    num_states: usize,
    lens: Vec<usize>,
    firsts: Vec<usize>,
    lasts: Vec<usize>,
    num_beat: Vec<usize>,
    src_offsets: Vec<usize>,
    srcs: Vec<u16>,
    log_probs: Vec<f64>,
    /// Interval index of each state (for backtracking).
    state_interval: Vec<u16>,
}

/// Result of [`BeatHmm::viterbi`].
#[derive(Debug, Clone, PartialEq)]
pub struct ViterbiPath {
    /// Best state per frame; empty when no finite-probability path exists.
    pub path: Vec<u32>,
    /// Log probability of the best path (`−inf` when none exists).
    pub log_prob: f64,
}

impl BeatHmm {
    /// Lays out the HMM from its three madmom components.
    pub fn new(
        space: &BeatStateSpace,
        tm: &BeatTransitionModel,
        om: &RnnBeatTrackingObservationModel,
    ) -> Self {
        let n = space.num_intervals();
        let mut src_offsets = Vec::with_capacity(n + 1);
        let mut srcs = Vec::with_capacity(tm.num_tempo_transitions());
        let mut log_probs = Vec::with_capacity(tm.num_tempo_transitions());
        src_offsets.push(0);
        for j in 0..n {
            let (s, lp) = tm.into_interval(j);
            srcs.extend_from_slice(s);
            log_probs.extend_from_slice(lp);
            src_offsets.push(srcs.len());
        }
        Self {
            num_states: space.num_states(),
            lens: space.intervals().iter().map(|&l| l as usize).collect(),
            firsts: space.first_states().iter().map(|&f| f as usize).collect(),
            lasts: space.last_states().iter().map(|&f| f as usize).collect(),
            num_beat: (0..n)
                .map(|j| om.beat_states_in_interval(j) as usize)
                .collect(),
            src_offsets,
            srcs,
            log_probs,
            state_interval: space.state_interval_index().to_vec(),
        }
    }

    /// Decodes the most likely state sequence given per-frame `(non_beat, beat)` log densities.
    pub fn viterbi(&self, log_densities: &[(f64, f64)]) -> ViterbiPath {
        let num_frames = log_densities.len();
        let n = self.lens.len();
        let s_count = self.num_states;
        if num_frames == 0 || s_count == 0 {
            return ViterbiPath {
                path: Vec::new(),
                log_prob: f64::NEG_INFINITY,
            };
        }
        let mut prev = vec![(1.0 / s_count as f64).ln(); s_count];
        let mut cur = vec![f64::NEG_INFINITY; s_count];
        let mut last_vals = vec![0.0f64; n];
        let mut choice = vec![0u8; num_frames * n];

        for (t, &(d_non, d_beat)) in log_densities.iter().enumerate() {
            for (v, &l) in last_vals.iter_mut().zip(&self.lasts) {
                *v = prev[l];
            }
            let choice_t = &mut choice[t * n..(t + 1) * n];
            for j in 0..n {
                let f = self.firsts[j];
                let len = self.lens[j];
                let nb = self.num_beat[j];
                let range = self.src_offsets[j]..self.src_offsets[j + 1];
                // The first state of a block is always a beat state (position 0).
                let (best, arg) = first_argmax(
                    &last_vals,
                    &self.srcs[range.clone()],
                    &self.log_probs[range],
                    d_beat,
                );
                cur[f] = best;
                // Interval indices are < 256 (checked by the state space).
                choice_t[j] = arg as u8;
                shift_add(&mut cur[f + 1..f + nb], &prev[f..f + nb - 1], d_beat);
                shift_add(
                    &mut cur[f + nb..f + len],
                    &prev[f + nb - 1..f + len - 1],
                    d_non,
                );
            }
            std::mem::swap(&mut prev, &mut cur);
        }

        // First maximum of the final frame.
        let (mut state, mut log_prob) = (0usize, f64::NEG_INFINITY);
        for (s, &v) in prev.iter().enumerate() {
            if v > log_prob {
                log_prob = v;
                state = s;
            }
        }
        if log_prob == f64::NEG_INFINITY {
            return ViterbiPath {
                path: Vec::new(),
                log_prob,
            };
        }
        let mut path = vec![0u32; num_frames];
        path[num_frames - 1] = state as u32;
        for t in (1..num_frames).rev() {
            let j = usize::from(self.state_interval[state]);
            state = if state == self.firsts[j] {
                self.lasts[usize::from(choice[t * n + j])]
            } else {
                state - 1
            };
            path[t - 1] = state as u32;
        }
        ViterbiPath { path, log_prob }
    }
}

/// `dst[k] = src[k] + d` (madmom: `(prev + ln 1) + density`).
#[inline(always)]
fn shift_add(dst: &mut [f64], src: &[f64], d: f64) {
    for (o, &p) in dst.iter_mut().zip(src) {
        *o = p + d;
    }
}

/// First argmax over candidates `(vals[src[k]] + lp[k]) + d` with madmom's strict-greater rule,
/// returning `(best, src index)`; `(−inf, 0)` when every candidate is `−inf`.
///
/// Evaluated in four interleaved lanes (independent dependency chains); each lane keeps its
/// own first maximum, and the smallest index among lanes holding the overall maximum is the
/// sequential first maximum, so the result is identical to a plain left-to-right scan.
#[inline(always)]
fn first_argmax(vals: &[f64], src: &[u16], lp: &[f64], d: f64) -> (f64, u16) {
    const LANES: usize = 4;
    let m = src.len().min(lp.len());
    let chunks = m / LANES;
    let mut best = [f64::NEG_INFINITY; LANES];
    let mut arg = [usize::MAX; LANES];
    for c in 0..chunks {
        for l in 0..LANES {
            let k = c * LANES + l;
            let v = (vals[usize::from(src[k])] + lp[k]) + d;
            if v > best[l] {
                best[l] = v;
                arg[l] = k;
            }
        }
    }
    let mut b = f64::NEG_INFINITY;
    let mut a = usize::MAX;
    for l in 0..LANES {
        if best[l] > b || (best[l] == b && arg[l] < a) {
            b = best[l];
            a = arg[l];
        }
    }
    for k in chunks * LANES..m {
        let v = (vals[usize::from(src[k])] + lp[k]) + d;
        if v > b {
            b = v;
            a = k;
        }
    }
    match src.get(a) {
        Some(&s) if b > f64::NEG_INFINITY => (b, s),
        _ => (f64::NEG_INFINITY, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(vals: &[f64], src: &[u16], lp: &[f64], d: f64) -> (f64, u16) {
        let mut best = (f64::NEG_INFINITY, 0u16);
        for (k, &s) in src.iter().enumerate() {
            let v = (vals[usize::from(s)] + lp[k]) + d;
            if v > best.0 {
                best = (v, s);
            }
        }
        best
    }

    #[test]
    fn lane_argmax_equals_sequential_scan_including_ties() {
        let vals = [
            1.0,
            3.0,
            3.0,
            -1.0,
            3.0,
            f64::NEG_INFINITY,
            2.0,
            3.0,
            0.5,
            3.0,
            1.0,
        ];
        for len in 0..=vals.len() {
            for start in 0..len {
                let src: Vec<u16> = (start as u16..len as u16).collect();
                let lp = vec![0.0; src.len()];
                assert_eq!(
                    first_argmax(&vals, &src, &lp, -0.5),
                    scan(&vals, &src, &lp, -0.5),
                    "{start}..{len}"
                );
            }
        }
        let all_inf = [f64::NEG_INFINITY; 6];
        let src: Vec<u16> = (0..6).collect();
        assert_eq!(
            first_argmax(&all_inf, &src, &[0.0; 6], 0.0),
            (f64::NEG_INFINITY, 0)
        );
    }

    #[test]
    fn viterbi_on_tiny_model_matches_brute_force() {
        // Two intervals (2 and 3 frames), λ = 1 so tempo changes are allowed.
        let space = BeatStateSpace::new(2.0, 3.0, None).unwrap();
        let tm = BeatTransitionModel::new(&space, Some(1.0)).unwrap();
        let om = RnnBeatTrackingObservationModel::new(&space, 2).unwrap();
        let hmm = BeatHmm::new(&space, &tm, &om);
        let acts = [0.9, 0.2, 0.1, 0.8, 0.3, 0.7, 0.1];
        let dens: Vec<(f64, f64)> = acts.iter().map(|&a| om.log_densities(a)).collect();
        let got = hmm.viterbi(&dens);

        // Brute force over all 5^7 state sequences with the dense transition matrix.
        let s = space.num_states();
        let mut a = vec![f64::NEG_INFINITY; s * s]; // a[from * s + to]
        for st in 0..s {
            let j = usize::from(space.state_interval_index()[st]);
            if st as u32 != space.first_states()[j] {
                a[(st - 1) * s + st] = 0.0;
            }
        }
        for j in 0..space.num_intervals() {
            let (src, lp) = tm.into_interval(j);
            for (&i, &l) in src.iter().zip(lp) {
                let from = space.last_states()[usize::from(i)] as usize;
                a[from * s + space.first_states()[j] as usize] = l;
            }
        }
        let dens_of = |t: usize, st: usize| {
            let j = usize::from(space.state_interval_index()[st]);
            let k = st - space.first_states()[j] as usize;
            if (k as u32) < om.beat_states_in_interval(j) {
                dens[t].1
            } else {
                dens[t].0
            }
        };
        let mut best = f64::NEG_INFINITY;
        let t_len = acts.len();
        for code in 0..s.pow(t_len as u32) {
            let mut c = code;
            let seq: Vec<usize> = (0..t_len)
                .map(|_| {
                    let v = c % s;
                    c /= s;
                    v
                })
                .collect();
            // frame 0: uniform prior, then a transition from any state
            let mut lp = f64::NEG_INFINITY;
            for p in 0..s {
                lp = lp.max((1.0 / s as f64).ln() + a[p * s + seq[0]]);
            }
            lp += dens_of(0, seq[0]);
            for t in 1..t_len {
                lp += a[seq[t - 1] * s + seq[t]] + dens_of(t, seq[t]);
            }
            best = best.max(lp);
        }
        assert!(
            (got.log_prob - best).abs() < 1e-9,
            "{} vs {best}",
            got.log_prob
        );
        assert_eq!(got.path.len(), t_len);
    }
}
