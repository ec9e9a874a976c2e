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
//! the work is a shifted copy-plus-density over the state vector and, for the first states, a max
//! over the source intervals' last states. Two f64 state vectors are swapped; nothing is
//! allocated per frame.
//!
//! The tempo transitions are stored as a dense band: row `δ` holds `ln P[j+δ → j]` for every
//! destination `j`, `−inf` where there is no transition (`x + −inf = −inf` never wins a strict
//! `>`). Destinations are processed four at a time, walking the rows in ascending `δ`, i.e.
//! each destination's sources in ascending order: a per-lane strict-`>` running max is madmom's
//! tie-breaking exactly, and it is branch-free code the compiler vectorises.

use super::observation::RnnBeatTrackingObservationModel;
use super::state_space::BeatStateSpace;
use super::transition::BeatTransitionModel;

/// Destinations processed together.
const LANES: usize = 4;

/// The beat HMM, laid out for fast decoding. Built once, reused for any number of sequences.
#[derive(Debug, Clone)]
pub struct BeatHmm {
    num_states: usize,
    lens: Vec<usize>,
    firsts: Vec<usize>,
    lasts: Vec<usize>,
    num_beat: Vec<usize>,
    /// Destinations rounded up to a multiple of [`LANES`].
    width: usize,
    /// `band[r * width + j] = ln P[j + r − (n−1) → j]` (`−inf` where absent or out of range),
    /// rows `r = δ + n − 1` for `δ ∈ −(n−1)..=n−1`.
    band: Vec<f64>,
    /// Per chunk of [`LANES`] destinations: the band rows `lo..hi` holding any transition.
    chunk_rows: Vec<(usize, usize)>,
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
        let width = n.div_ceil(LANES) * LANES;
        let rows = (2 * n).saturating_sub(1);
        let mut band = vec![f64::NEG_INFINITY; rows * width];
        let mut chunk_rows = vec![(usize::MAX, 0usize); width / LANES];
        for j in 0..n {
            let (srcs, lps) = tm.into_interval(j);
            for (&i, &lp) in srcs.iter().zip(lps) {
                // row = δ + n − 1 = i − j + n − 1 ∈ 0..2n−1
                let r = usize::from(i) + n - 1 - j;
                band[r * width + j] = lp;
                let c = &mut chunk_rows[j / LANES];
                *c = (c.0.min(r), c.1.max(r + 1));
            }
        }
        for c in &mut chunk_rows {
            if c.0 > c.1 {
                *c = (0, 0);
            }
        }
        Self {
            num_states: space.num_states(),
            lens: space.intervals().iter().map(|&l| l as usize).collect(),
            firsts: space.first_states().iter().map(|&f| f as usize).collect(),
            lasts: space.last_states().iter().map(|&f| f as usize).collect(),
            num_beat: (0..n)
                .map(|j| om.beat_states_in_interval(j) as usize)
                .collect(),
            width,
            band,
            chunk_rows,
            state_interval: space.state_interval_index().to_vec(),
        }
    }

    /// Decodes the most likely state sequence given per-frame `(non_beat, beat)` log densities.
    pub fn viterbi(&self, log_densities: &[(f64, f64)]) -> ViterbiPath {
        let num_frames = log_densities.len();
        let n = self.lens.len();
        if num_frames == 0 || self.num_states == 0 {
            return ViterbiPath {
                path: Vec::new(),
                log_prob: f64::NEG_INFINITY,
            };
        }
        let mut choice = vec![0u8; num_frames * n];
        let last = self.forward_dispatch(log_densities, &mut choice);

        // First maximum of the final frame.
        let (mut state, mut log_prob) = (0usize, f64::NEG_INFINITY);
        for (s, &v) in last.iter().enumerate() {
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

    /// Runs the forward pass with the widest vector unit available, filling `choice`
    /// (`num_frames × num_intervals` first-state backpointers) and returning the final scores.
    /// Every variant performs the same IEEE operations in the same order (Rust never fuses or
    /// reassociates floating point), so the results are bit-identical.
    fn forward_dispatch(&self, log_densities: &[(f64, f64)], choice: &mut [u8]) -> Vec<f64> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the running CPU supports AVX2, checked just above.
            return unsafe { self.forward_avx2(log_densities, choice) };
        }
        self.forward(log_densities, choice)
    }

    /// [`Self::forward`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn forward_avx2(&self, log_densities: &[(f64, f64)], choice: &mut [u8]) -> Vec<f64> {
        self.forward(log_densities, choice)
    }

    /// The Viterbi forward pass (see the module docs).
    #[inline(always)]
    fn forward(&self, log_densities: &[(f64, f64)], choice: &mut [u8]) -> Vec<f64> {
        let n = self.lens.len();
        let s_count = self.num_states;
        let width = self.width;
        let mut prev = vec![(1.0 / s_count as f64).ln(); s_count];
        let mut cur = vec![f64::NEG_INFINITY; s_count];
        // Last-state scores at offset n − 1, −inf around them, so that every band row can be
        // read for a whole chunk: index j + row holds the last state of interval j + δ.
        let mut last_vals = vec![f64::NEG_INFINITY; width + 2 * n];
        let mut best = vec![f64::NEG_INFINITY; width];
        let mut arg = vec![0u64; width];
        for (t, &(d_non, d_beat)) in log_densities.iter().enumerate() {
            for (v, &l) in last_vals[n - 1..2 * n - 1].iter_mut().zip(&self.lasts) {
                *v = prev[l];
            }
            // First states (always beat states: position 0) from the last states.
            for (c, &(lo, hi)) in self.chunk_rows.iter().enumerate() {
                let j0 = c * LANES;
                let mut b = [f64::NEG_INFINITY; LANES];
                let mut a = [0u64; LANES];
                for r in lo..hi {
                    let v = &last_vals[j0 + r..j0 + r + LANES];
                    let lp = &self.band[r * width + j0..r * width + j0 + LANES];
                    for l in 0..LANES {
                        let u = (v[l] + lp[l]) + d_beat;
                        // strictly greater: the earliest source keeps ties
                        let better = u > b[l];
                        b[l] = if better { u } else { b[l] };
                        a[l] = if better { r as u64 } else { a[l] };
                    }
                }
                best[j0..j0 + LANES].copy_from_slice(&b);
                arg[j0..j0 + LANES].copy_from_slice(&a);
            }
            let choice_t = &mut choice[t * n..(t + 1) * n];
            for j in 0..n {
                let f = self.firsts[j];
                cur[f] = best[j];
                // source interval = j + row − (n − 1) < 256 (checked by the state space); the
                // wrapping arithmetic only matters for the −inf "no candidate" case.
                choice_t[j] = (j as u64 + arg[j]).wrapping_sub(n as u64 - 1) as u8;
                // Within-beat moves s−1 → s: beat states, then the rest of the block.
                let nb = self.num_beat[j];
                let end = f + self.lens[j];
                shift_add(&mut cur[f + 1..f + nb], &prev[f..f + nb - 1], d_beat);
                shift_add(&mut cur[f + nb..end], &prev[f + nb - 1..end - 1], d_non);
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        prev
    }
}

/// `dst[k] = src[k] + d` (madmom: `(prev + ln 1) + density`).
#[inline(always)]
fn shift_add(dst: &mut [f64], src: &[f64], d: f64) {
    for (o, &p) in dst.iter_mut().zip(src) {
        *o = p + d;
    }
}

/// madmom's `HiddenMarkovModel.viterbi` written literally, the reference of the tests of both
/// decoders (beats, and bars): `preds[s]` lists each predecessor of state `s` with the log
/// probability of the transition; `log_density(t, s)` is the observation at frame `t`. Every
/// state is visited every frame and the whole backpointer table is kept. Returns the path
/// (empty when no path has a finite probability) and its log probability.
#[cfg(test)]
pub(crate) fn literal_viterbi(
    preds: &[Vec<(usize, f64)>],
    n_frames: usize,
    log_density: impl Fn(usize, usize) -> f64,
) -> (Vec<u32>, f64) {
    let s_count = preds.len();
    let mut prev = vec![(1.0 / s_count as f64).ln(); s_count];
    let mut cur = vec![0.0; s_count];
    let mut bt = vec![vec![0usize; s_count]; n_frames];
    for (t, back) in bt.iter_mut().enumerate() {
        for s in 0..s_count {
            cur[s] = f64::NEG_INFINITY;
            let d = log_density(t, s);
            for &(p, l) in &preds[s] {
                let v = prev[p] + l + d;
                if v > cur[s] {
                    cur[s] = v;
                    back[s] = p;
                }
            }
        }
        prev.copy_from_slice(&cur);
    }
    let mut state = 0;
    for s in 0..s_count {
        if prev[s] > prev[state] {
            state = s;
        }
    }
    let log_prob = prev[state];
    if log_prob == f64::NEG_INFINITY || n_frames == 0 {
        return (Vec::new(), log_prob);
    }
    let mut path = vec![0u32; n_frames];
    path[n_frames - 1] = state as u32;
    for t in (1..n_frames).rev() {
        state = bt[t][state];
        path[t - 1] = state as u32;
    }
    (path, log_prob)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// madmom's `HiddenMarkovModel.viterbi` written literally: CSR by destination state,
    /// every state visited every frame, full backpointer table.
    fn reference_viterbi(
        space: &BeatStateSpace,
        tm: &BeatTransitionModel,
        om: &RnnBeatTrackingObservationModel,
        dens: &[(f64, f64)],
    ) -> ViterbiPath {
        let s_count = space.num_states();
        let mut preds: Vec<Vec<(usize, f64)>> = vec![Vec::new(); s_count];
        let mut is_beat = vec![false; s_count];
        for j in 0..space.num_intervals() {
            let f = space.first_states()[j] as usize;
            for k in 0..space.intervals()[j] as usize {
                is_beat[f + k] = (k as u32) < om.beat_states_in_interval(j);
                if k > 0 {
                    preds[f + k].push((f + k - 1, 0.0));
                }
            }
            let (src, lp) = tm.into_interval(j);
            for (&i, &l) in src.iter().zip(lp) {
                preds[f].push((space.last_states()[usize::from(i)] as usize, l));
            }
        }
        let (path, log_prob) = literal_viterbi(&preds, dens.len(), |t, s| {
            if is_beat[s] { dens[t].1 } else { dens[t].0 }
        });
        ViterbiPath { path, log_prob }
    }

    #[test]
    fn band_layout_equals_literal_madmom_viterbi() {
        let mut seed = 12345u64;
        let mut rnd = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        // (min interval, max interval, λ, num_tempi): the ZeroNS band, a wide band (λ = 1:
        // every transition), uniform transitions (λ = 0: ties everywhere), no tempo change, and
        // a log grid.
        let setups = [
            (8.0, 30.0, Some(0.0), None),
            (3750.0 / 215.0, 3750.0 / 55.0, Some(100.0), None),
            (8.0, 30.0, Some(1.0), None),
            (8.0, 30.0, None, None),
            (6000.0 / 215.0, 6000.0 / 55.0, Some(100.0), Some(20)),
        ];
        for (lo, hi, lambda, num) in setups {
            let space = BeatStateSpace::new(lo, hi, num).unwrap();
            let tm = BeatTransitionModel::new(&space, lambda).unwrap();
            let om = RnnBeatTrackingObservationModel::new(&space, 16).unwrap();
            let hmm = BeatHmm::new(&space, &tm, &om);
            for levels in [0usize, 3, 1] {
                // Quantised activations (3 levels, or a constant) create exact score ties.
                let acts: Vec<f64> = (0..400)
                    .map(|_| {
                        let r = rnd();
                        match levels {
                            0 => r.clamp(1e-3, 1.0 - 1e-3),
                            1 => 0.3,
                            _ => [0.1, 0.5, 0.9][(r * 3.0) as usize % 3],
                        }
                    })
                    .collect();
                let dens: Vec<(f64, f64)> = acts.iter().map(|&a| om.log_densities(a)).collect();
                let got = hmm.viterbi(&dens);
                let want = reference_viterbi(&space, &tm, &om, &dens);
                assert_eq!(
                    got.log_prob.to_bits(),
                    want.log_prob.to_bits(),
                    "{lo} {hi} {lambda:?}"
                );
                assert_eq!(got.path, want.path, "{lo} {hi} {lambda:?} levels {levels}");
            }
        }
    }

    #[test]
    fn every_forward_variant_is_bit_identical() {
        let space = BeatStateSpace::new(3750.0 / 215.0, 3750.0 / 55.0, None).unwrap();
        let tm = BeatTransitionModel::new(&space, Some(100.0)).unwrap();
        let om = RnnBeatTrackingObservationModel::new(&space, 16).unwrap();
        let hmm = BeatHmm::new(&space, &tm, &om);
        let dens: Vec<(f64, f64)> = (0..300)
            .map(|t| om.log_densities(0.05 + 0.9 * ((t * 37 % 101) as f64 / 101.0)))
            .collect();
        let n = space.num_intervals();
        let mut c1 = vec![0u8; dens.len() * n];
        let mut c2 = vec![0u8; dens.len() * n];
        let generic = hmm.forward(&dens, &mut c1);
        let dispatched = hmm.forward_dispatch(&dens, &mut c2);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&generic), bits(&dispatched));
        assert_eq!(c1, c2);
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
