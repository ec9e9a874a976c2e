//! Beat-synchronous features: one vector per beat, summarising the two stems' log-VQTs over
//! the span from that beat to the next, for the bar classifier ([`crate::model::bars`]).
//!
//! The design follows Krebs, Böck, Dorfer & Widmer, "Downbeat tracking using beat-synchronous
//! features and recurrent neural networks" (ISMIR 2016; madmom's `RNNBarProcessor`): a
//! percussive part (onsets in a few frequency bands, per subdivision of the beat: where the
//! kick and the snare fall in the bar) and a harmonic part (chroma, and how much it changes
//! from the previous beat: chords change on downbeats). Per beat, [`N_BEAT_FEATURES`] values:
//!
//! | values | what |
//! |---|---|
//! | 3 × [`SUBDIVISIONS`] | percussive stem: half-wave rectified log-VQT difference (spectral flux) averaged over the bins of each band (below C3 ≈ 131 Hz, C3–B5, from C6 ≈ 1 kHz) and over the frames of each quarter of the beat |
//! | 12 | non-percussive stem: chroma over C2–B6, the VQT magnitude summed per pitch class and over the beat, normalised to sum 1 |
//! | 12 | the same over C2–B3 only (the bass line) |
//! | 8 | non-percussive stem: mean log-VQT over the beat per octave (C0…C7) |
//! | 2 | log mean magnitude of each stem over the beat |
//! | 3 | change from the previous beat: cosine distance of the chroma, of the bass chroma, and mean absolute difference of the mean log-VQT (0 for the first beat) |
//!
//! [`normalize_per_song`] z-scores each value over a song's beats (songs differ in level and
//! timbre; the bar is in the contrasts), and [`with_context`] concatenates each beat's vector
//! with those of the beats around it (zeros, the song mean after normalising, beyond the ends).

use super::Spectrogram;
use crate::{Error, Result};

/// Bins per octave of the log-VQT these features read (the network's input: C0–B7, 12 per
/// octave).
const BINS_PER_OCTAVE: usize = 12;
/// Bins of that log-VQT.
const N_BINS: usize = 96;
/// Parts of a beat the percussive onsets are averaged over (Krebs et al. 2016: 4).
pub const SUBDIVISIONS: usize = 4;
/// Percussive bands, as bin ranges: below C3, C3–B5, C6–B7.
const PERC_BANDS: [(usize, usize); 3] = [(0, 36), (36, 72), (72, 96)];
/// Chroma range: C2–B6.
const CHROMA_BINS: (usize, usize) = (24, 84);
/// Bass chroma range: C2–B3.
const BASS_BINS: (usize, usize) = (24, 48);
/// Values per beat.
pub const N_BEAT_FEATURES: usize = 3 * SUBDIVISIONS + 12 + 12 + 8 + 2 + 3;

/// Per-beat features of a song (see the module docs): `beats.len()` rows of
/// [`N_BEAT_FEATURES`] values, not yet normalised.
///
/// `percussive` and `non_percussive` are the two stems' log-VQTs (96 bins, same frame rate and
/// length); `beats_s` ascending beat times in seconds. The last beat spans as long as the
/// one before it (a lone beat: half a second).
pub fn beat_features(
    percussive: &Spectrogram,
    non_percussive: &Spectrogram,
    beats_s: &[f64],
) -> Result<Vec<Vec<f32>>> {
    for (name, s) in [
        ("percussive", percussive),
        ("non-percussive", non_percussive),
    ] {
        if s.n_bins != N_BINS || s.data.len() != s.n_bins * s.n_frames {
            return Err(Error::InvalidInput(format!(
                "beat features: the {name} log-VQT must have {N_BINS} bins (got {} bins, {} values for {} frames)",
                s.n_bins,
                s.data.len(),
                s.n_frames
            )));
        }
        if !(s.fps.is_finite() && s.fps > 0.0) {
            return Err(Error::InvalidInput(format!(
                "beat features: the {name} log-VQT has frame rate {}",
                s.fps
            )));
        }
    }
    if percussive.n_frames != non_percussive.n_frames
        || (percussive.fps - non_percussive.fps).abs() > 1e-9
    {
        return Err(Error::InvalidInput(format!(
            "beat features: the stems' log-VQTs differ ({} frames at {} fps vs {} at {})",
            percussive.n_frames, percussive.fps, non_percussive.n_frames, non_percussive.fps
        )));
    }
    crate::tracking::meter::check_beat_times(beats_s, "beat features: ")?;
    let n_frames = percussive.n_frames;
    let fps = percussive.fps;
    if n_frames == 0 {
        return Ok(vec![vec![0.0; N_BEAT_FEATURES]; beats_s.len()]);
    }
    let flux = band_flux(percussive);
    let frame = |t: f64| ((t * fps).round().max(0.0) as usize).min(n_frames - 1);
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(beats_s.len());
    let mut prev: Option<(Vec<f64>, Vec<f64>, Vec<f64>)> = None;
    for (k, &t) in beats_s.iter().enumerate() {
        let span = match (beats_s.get(k + 1), k.checked_sub(1).map(|j| beats_s[j])) {
            (Some(&next), _) => next - t,
            (None, Some(before)) => t - before,
            (None, None) => 0.5,
        };
        let f0 = frame(t);
        let f1 = frame(t + span).max(f0 + 1).min(n_frames);
        let f0 = f0.min(f1 - 1);
        let len = f1 - f0;
        let mut row = Vec::with_capacity(N_BEAT_FEATURES);
        // Percussive onsets per band and subdivision.
        for band in &flux {
            for s in 0..SUBDIVISIONS {
                let a = f0 + len * s / SUBDIVISIONS;
                let b = (f0 + len * (s + 1) / SUBDIVISIONS).max(a + 1).min(n_frames);
                let a = a.min(b - 1);
                let mean = band[a..b].iter().sum::<f32>() / (b - a) as f32;
                row.push(mean);
            }
        }
        // Non-percussive: magnitudes summed over the beat, per bin; mean log per bin.
        let mut mag = vec![0.0f64; N_BINS];
        let mut logm = vec![0.0f64; N_BINS];
        for (bin, (m, l)) in mag.iter_mut().zip(logm.iter_mut()).enumerate() {
            let r = &non_percussive.row(bin)[f0..f1];
            *m = r.iter().map(|&v| f64::from(v).exp()).sum::<f64>() / len as f64;
            *l = r.iter().map(|&v| f64::from(v)).sum::<f64>() / len as f64;
        }
        let chroma = chroma_of(&mag, CHROMA_BINS);
        let bass = chroma_of(&mag, BASS_BINS);
        row.extend(chroma.iter().map(|&c| c as f32));
        row.extend(bass.iter().map(|&c| c as f32));
        for o in 0..N_BINS / BINS_PER_OCTAVE {
            let s = &logm[o * BINS_PER_OCTAVE..(o + 1) * BINS_PER_OCTAVE];
            row.push((s.iter().sum::<f64>() / BINS_PER_OCTAVE as f64) as f32);
        }
        let energy = |spec: &Spectrogram| {
            let mut sum = 0.0f64;
            for bin in 0..N_BINS {
                sum += spec.row(bin)[f0..f1]
                    .iter()
                    .map(|&v| f64::from(v).exp())
                    .sum::<f64>();
            }
            ((sum / (N_BINS * len) as f64) + 1e-9).ln() as f32
        };
        row.push(energy(non_percussive));
        row.push(energy(percussive));
        match &prev {
            Some((pc, pb, pl)) => {
                row.push(cosine_distance(&chroma, pc) as f32);
                row.push(cosine_distance(&bass, pb) as f32);
                let d = logm.iter().zip(pl).map(|(a, b)| (a - b).abs()).sum::<f64>();
                row.push((d / N_BINS as f64) as f32);
            }
            None => row.extend([0.0, 0.0, 0.0]),
        }
        debug_assert_eq!(row.len(), N_BEAT_FEATURES);
        prev = Some((chroma, bass, logm));
        out.push(row);
    }
    Ok(out)
}

/// Spectral flux per percussive band: for each band of [`PERC_BANDS`], per frame, the mean
/// over its bins of `max(0, X[b, t] − X[b, t − 1])` (0 at the first frame).
fn band_flux(spec: &Spectrogram) -> Vec<Vec<f32>> {
    PERC_BANDS
        .iter()
        .map(|&(lo, hi)| {
            let mut band = vec![0.0f32; spec.n_frames];
            for bin in lo..hi {
                let r = spec.row(bin);
                for t in 1..spec.n_frames {
                    band[t] += (r[t] - r[t - 1]).max(0.0);
                }
            }
            let n = (hi - lo) as f32;
            band.iter_mut().for_each(|v| *v /= n);
            band
        })
        .collect()
}

/// Magnitudes of bins `lo..hi` summed per pitch class (bin 0 is a C), normalised to sum 1
/// (all zero stays zero).
fn chroma_of(mag: &[f64], (lo, hi): (usize, usize)) -> Vec<f64> {
    let mut c = vec![0.0f64; 12];
    for (bin, &m) in mag.iter().enumerate().take(hi).skip(lo) {
        c[bin % 12] += m;
    }
    let total: f64 = c.iter().sum();
    if total > 0.0 {
        c.iter_mut().for_each(|v| *v /= total);
    }
    c
}

/// `1 − cos(a, b)`; 0 when either is all zero.
fn cosine_distance(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na > 0.0 && nb > 0.0 {
        1.0 - dot / (na * nb)
    } else {
        0.0
    }
}

/// Z-scores every column over the song's beats (a constant column becomes 0).
pub fn normalize_per_song(rows: &mut [Vec<f32>]) {
    let Some(width) = rows.first().map(Vec::len) else {
        return;
    };
    let n = rows.len() as f64;
    for c in 0..width {
        let mean = rows.iter().map(|r| f64::from(r[c])).sum::<f64>() / n;
        let var = rows
            .iter()
            .map(|r| (f64::from(r[c]) - mean).powi(2))
            .sum::<f64>()
            / n;
        let sd = var.sqrt();
        for r in rows.iter_mut() {
            r[c] = if sd > 1e-9 {
                ((f64::from(r[c]) - mean) / sd) as f32
            } else {
                0.0
            };
        }
    }
}

/// Each beat's row followed by the rows of the `context` beats before and after it, in order
/// `k − context … k + context`; zeros stand for beats beyond the song's ends.
pub fn with_context(rows: &[Vec<f32>], context: usize) -> Vec<Vec<f32>> {
    let width = rows.first().map_or(0, Vec::len);
    (0..rows.len())
        .map(|k| {
            let mut out = Vec::with_capacity(width * (2 * context + 1));
            for j in k as isize - context as isize..=(k + context) as isize {
                match usize::try_from(j).ok().and_then(|j| rows.get(j)) {
                    Some(r) => out.extend_from_slice(r),
                    None => out.extend(std::iter::repeat_n(0.0, width)),
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n_frames: usize, f: impl Fn(usize, usize) -> f32) -> Spectrogram {
        let mut data = vec![0.0; N_BINS * n_frames];
        for b in 0..N_BINS {
            for t in 0..n_frames {
                data[b * n_frames + t] = f(b, t);
            }
        }
        Spectrogram {
            data,
            n_bins: N_BINS,
            n_frames,
            fps: 62.5,
        }
    }

    /// Known answer: kicks (low band) on every 4th beat, hats (high band) on the others;
    /// a chord change (C major → A minor, by pitch class) on every 4th beat.
    #[test]
    fn bars_show_in_the_features() {
        let fps = 62.5;
        let beats: Vec<f64> = (0..16).map(|k| 0.5 + 0.5 * k as f64).collect();
        let beat_frame = |k: usize| (beats[k] * fps).round() as usize;
        let n = beat_frame(15) + 40;
        let perc = spec(n, |b, t| {
            let hit = (0..16).find(|&k| beat_frame(k) == t);
            match hit {
                Some(k) if k % 4 == 0 && b < 36 => 0.0,
                Some(k) if k % 4 != 0 && b >= 72 => 0.0,
                _ => -10.0,
            }
        });
        let harm = spec(n, |b, t| {
            let bar = (0..16).rev().find(|&k| beat_frame(k) <= t).unwrap_or(0) / 4;
            let pcs: [usize; 3] = if bar % 2 == 0 { [0, 4, 7] } else { [9, 0, 4] };
            if pcs.contains(&(b % 12)) { 0.0 } else { -8.0 }
        });
        let f = beat_features(&perc, &harm, &beats).unwrap();
        assert_eq!(f.len(), 16);
        assert!(f.iter().all(|r| r.len() == N_BEAT_FEATURES));
        for (k, r) in f.iter().enumerate() {
            // first subdivision of the low band vs the high band
            let low = r[0];
            let high = r[2 * SUBDIVISIONS];
            if k % 4 == 0 {
                assert!(low > 1.0 && high < 0.5, "beat {k}: {low} {high}");
            } else {
                assert!(low < 0.5 && high > 1.0, "beat {k}: {low} {high}");
            }
            // chroma change from the previous beat only on the bar lines (k = 4, 8, 12)
            let change = r[N_BEAT_FEATURES - 3];
            if k > 0 && k % 4 == 0 {
                assert!(change > 0.2, "beat {k}: {change}");
            } else {
                assert!(change < 1e-6, "beat {k}: {change}");
            }
        }
        // C major: C, E, G share the chroma.
        let chroma = &f[0][3 * SUBDIVISIONS..3 * SUBDIVISIONS + 12];
        for pc in [0, 4, 7] {
            assert!(chroma[pc] > 0.3, "{chroma:?}");
        }
        let mut norm = f.clone();
        normalize_per_song(&mut norm);
        for c in 0..N_BEAT_FEATURES {
            let mean: f32 = norm.iter().map(|r| r[c]).sum::<f32>() / 16.0;
            assert!(mean.abs() < 1e-4);
        }
        let ctx = with_context(&norm, 2);
        assert_eq!(ctx[0].len(), 5 * N_BEAT_FEATURES);
        assert!(ctx[0][..2 * N_BEAT_FEATURES].iter().all(|&v| v == 0.0));
        assert_eq!(
            &ctx[5][2 * N_BEAT_FEATURES..3 * N_BEAT_FEATURES],
            &norm[5][..]
        );
        assert_eq!(&ctx[5][..N_BEAT_FEATURES], &norm[3][..]);
    }

    #[test]
    fn edge_cases_and_bad_input() {
        let s = spec(100, |_, _| 0.0);
        assert!(beat_features(&s, &s, &[]).unwrap().is_empty());
        // beats beyond the end, a lone beat
        let f = beat_features(&s, &s, &[5.0]).unwrap();
        assert_eq!(f.len(), 1);
        assert!(f[0].iter().all(|v| v.is_finite()));
        let f = beat_features(&s, &s, &[0.0, 0.0, 0.5]).unwrap();
        assert!(f.iter().flatten().all(|v| v.is_finite()));
        assert!(beat_features(&s, &s, &[1.0, 0.5]).is_err());
        assert!(beat_features(&s, &s, &[f64::NAN]).is_err());
        let short = spec(50, |_, _| 0.0);
        assert!(beat_features(&s, &short, &[0.1]).is_err());
        let mut bad = s.clone();
        bad.n_bins = 84;
        assert!(beat_features(&bad, &s, &[0.1]).is_err());
        let empty = spec(0, |_, _| 0.0);
        assert_eq!(beat_features(&empty, &empty, &[0.1]).unwrap().len(), 1);
        let mut rows: Vec<Vec<f32>> = vec![];
        normalize_per_song(&mut rows);
        assert!(with_context(&rows, 3).is_empty());
    }
}
