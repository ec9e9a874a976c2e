//! Small numeric helpers that reproduce numpy's exact floating-point behaviour where the
//! mir_eval metrics depend on it (nearest-index ties, pairwise summation, `np.mod`).

/// Index of the element of the sorted slice `xs` nearest to `b`, as numpy's
/// `np.argmin(np.abs(b - xs))` returns it: the **first** index among equal distances.
///
/// `xs` must be non-empty, sorted non-decreasing and free of NaN; `b` must not be NaN.
/// Runs in O(log n) (plus the length of a run of equal distances).
pub(crate) fn nearest_index(xs: &[f64], b: f64) -> usize {
    debug_assert!(!xs.is_empty());
    // First index with xs[i] >= b. Left of it the rounded distances fl(b - x) are
    // non-increasing in i, from it on fl(x - b) is non-decreasing (rounding is monotone),
    // so the minimum sits at pos - 1 or pos.
    let pos = xs.partition_point(|&x| x < b);
    let right = xs.get(pos).map(|&x| (pos, (b - x).abs()));
    let left = pos
        .checked_sub(1)
        .and_then(|i| xs.get(i).map(|&x| (i, (b - x).abs())));
    match (left, right) {
        (Some((i, dl)), Some((_, dr))) if dl <= dr => first_of_run(xs, b, i, dl),
        (Some((i, dl)), None) => first_of_run(xs, b, i, dl),
        (_, Some((j, _))) => j,
        // Unreachable for a non-empty slice; 0 keeps the function total.
        (None, None) => 0,
    }
}

/// Walks left from `i` while the distance stays equal to `d` (duplicates, or distinct
/// values whose rounded distances coincide), returning the first such index.
fn first_of_run(xs: &[f64], b: f64, mut i: usize, d: f64) -> usize {
    while i > 0 && (b - xs[i - 1]).abs() == d {
        i -= 1;
    }
    i
}

/// numpy's pairwise summation (`np.sum` of a contiguous float64 array), bit for bit:
/// fewer than 8 terms are added left to right; up to 128 use 8 running partial sums;
/// longer arrays are split in two halves (the first a multiple of 8) recursively.
pub(crate) fn numpy_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |acc, &x| acc + x)
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
    }
}

/// `np.mean(a)`: pairwise sum divided by the count (NaN for an empty slice).
pub(crate) fn numpy_mean(a: &[f64]) -> f64 {
    numpy_sum(a) / a.len() as f64
}

/// `np.std(a, ddof=1)`: NaN for fewer than two values (numpy divides by zero there).
pub(crate) fn numpy_std_ddof1(a: &[f64]) -> f64 {
    let mean = numpy_mean(a);
    let sq: Vec<f64> = a
        .iter()
        .map(|&x| {
            let d = x - mean;
            d * d
        })
        .collect();
    (numpy_sum(&sq) / (a.len() as f64 - 1.0)).sqrt()
}

/// numpy's float remainder `np.mod(a, b)` (Python `%` semantics: the result takes the
/// sign of the divisor), built on C `fmod` exactly as numpy's `npy_divmod` does.
pub(crate) fn numpy_mod(a: f64, b: f64) -> f64 {
    let mut m = a % b; // Rust's `%` on f64 is C fmod.
    if m != 0.0 {
        // NaN also lands here (NaN != 0): numpy adds b, which keeps it NaN.
        if (b < 0.0) != (m < 0.0) {
            m += b;
        }
    } else {
        m = 0.0f64.copysign(b);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_takes_first_of_ties() {
        let xs = [1.0, 2.0, 2.0, 3.0];
        assert_eq!(nearest_index(&xs, 2.0), 1);
        assert_eq!(nearest_index(&xs, 2.4), 1);
        // Exactly half-way between 1 and 2: numpy picks the lower index.
        assert_eq!(nearest_index(&xs, 1.5), 0);
        assert_eq!(nearest_index(&xs, 2.5), 1);
        assert_eq!(nearest_index(&xs, 2.6), 3);
        assert_eq!(nearest_index(&xs, -5.0), 0);
        assert_eq!(nearest_index(&xs, 50.0), 3);
        assert_eq!(nearest_index(&[4.0], 1.0), 0);
    }

    #[test]
    fn nearest_matches_brute_force_argmin() {
        // Deterministic pseudo-random sorted arrays with duplicates.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200 {
            let mut xs: Vec<f64> = (0..17).map(|_| (next() * 20.0).round() / 4.0).collect();
            xs.sort_by(f64::total_cmp);
            for _ in 0..20 {
                let b = (next() * 24.0 - 2.0).round() / 8.0;
                let brute = xs
                    .iter()
                    .enumerate()
                    .fold((0, f64::INFINITY), |(bi, bd), (i, &x)| {
                        let d = (b - x).abs();
                        if d < bd { (i, d) } else { (bi, bd) }
                    })
                    .0;
                assert_eq!(nearest_index(&xs, b), brute, "xs={xs:?} b={b}");
            }
        }
    }

    #[test]
    fn pairwise_sum_order() {
        // 0.1 summed 41 times in the 8-accumulator order.
        let a = vec![0.1; 41];
        let s = numpy_sum(&a);
        assert!((s - 4.1).abs() < 1e-14);
        let fold: f64 = a.iter().sum();
        assert!((s - fold).abs() < 1e-14);
        assert_eq!(numpy_sum(&[]), 0.0);
        assert_eq!(numpy_sum(&[1.0, 2.0, 3.0]), 6.0);
        let big: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(numpy_sum(&big), 499_500.0);
    }

    #[test]
    fn mean_and_std() {
        assert_eq!(numpy_mean(&[1.0, 2.0, 3.0]), 2.0);
        assert_eq!(numpy_std_ddof1(&[1.0, 2.0, 3.0]), 1.0);
        assert!(numpy_std_ddof1(&[1.0]).is_nan());
        assert!(numpy_mean(&[]).is_nan());
    }

    #[test]
    fn mod_follows_divisor_sign() {
        assert_eq!(numpy_mod(0.75, -1.0), -0.25);
        assert_eq!(numpy_mod(-0.25, -1.0), -0.25);
        assert_eq!(numpy_mod(2.0, -1.0), -0.0);
        assert!(numpy_mod(2.0, -1.0).is_sign_negative());
        assert_eq!(numpy_mod(1.5, 1.0), 0.5);
        assert!(numpy_mod(f64::NAN, -1.0).is_nan());
        assert!(numpy_mod(f64::INFINITY, -1.0).is_nan());
    }
}
