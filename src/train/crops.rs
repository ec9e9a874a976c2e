//! The crops of a base-training step ([`super::base`]): which song, where, which
//! augmentation, and the beat and downbeat targets with their loss masks; every draw a pure
//! function of the step's seed.

use super::base::{BaseTrainConfig, FPS, LabelledSong, SILENCE};
use super::corpus::mix;
use super::tempo;

/// One step's inputs: `[B, 1, 96, n]` row-major per stem, targets and loss masks `[B, n]`.
pub(crate) struct Batch {
    pub anchor: Vec<f32>,
    pub postve: Vec<f32>,
    pub target: Vec<f32>,
    pub mask: Vec<f32>,
    /// Downbeat targets `[B, n]`, placed like the beat targets.
    pub downbeat_target: Vec<f32>,
    /// Downbeat loss mask: the beat mask where the crop's song has known downbeats, else 0.
    pub downbeat_mask: Vec<f32>,
    /// Tempo-class targets `[B, N_CLASSES]` ([`super::tempo`]); filled only when the run trains
    /// a tempo head.
    pub tempo_target: Vec<f32>,
    /// 1 for the crops with a tempo target, else 0 (`[B]`).
    pub tempo_mask: Vec<f32>,
}

/// A uniform draw in `0..n` from `z` (n > 0).
fn below(z: u64, n: u64) -> u64 {
    z % n.max(1)
}

/// The step's crops, with augmentation (module docs); a pure function of `s`.
pub(crate) fn draw_batch(
    songs: &[LabelledSong],
    cumulative: &[u64],
    cfg: &BaseTrainConfig,
    s: u64,
) -> Batch {
    let n = cfg.crop_frames;
    let bins = 96;
    let mut batch = Batch {
        anchor: Vec::with_capacity(cfg.batch_size * bins * n),
        postve: Vec::with_capacity(cfg.batch_size * bins * n),
        target: Vec::with_capacity(cfg.batch_size * n),
        mask: Vec::with_capacity(cfg.batch_size * n),
        downbeat_target: Vec::with_capacity(cfg.batch_size * n),
        downbeat_mask: Vec::with_capacity(cfg.batch_size * n),
        tempo_target: Vec::new(),
        tempo_mask: Vec::new(),
    };
    let total = cumulative.last().copied().unwrap_or(1);
    for i in 0..cfg.batch_size {
        let z = |k: u64| mix(s ^ mix((i as u64) << 8 | k));
        let pick = below(z(0), total);
        let song_index = cumulative.partition_point(|&c| c <= pick);
        let song = &songs[song_index.min(songs.len() - 1)];
        let (r0, r1) = song.span;
        let centre = r0 + below(z(1), (r1 - r0).max(1) as u64) as usize;
        let start = centre as isize - (n / 2) as isize;
        let shift = if cfg.max_pitch_shift_bins > 0 {
            below(z(2), 2 * cfg.max_pitch_shift_bins as u64 + 1) as isize
                - cfg.max_pitch_shift_bins as isize
        } else {
            0
        };
        let gain = |k: u64| -> f32 {
            let u = below(z(k), 1 << 20) as f64 / (1 << 20) as f64;
            ((2.0 * u - 1.0) * cfg.max_gain_db / 20.0 * std::f64::consts::LN_10) as f32
        };
        let (ga, gp) = (gain(3), gain(4));
        let masked = (below(z(5), 1 << 20) as f64 / (1 << 20) as f64) < cfg.mask_probability;
        let mask_len = (0.5 * FPS + below(z(6), (1.5 * FPS) as u64) as f64) as usize;
        let mask_at = below(z(7), n.saturating_sub(mask_len).max(1) as u64) as usize;
        let mask_stem = below(z(8), 2);
        for (stem, spec, g, out) in [
            (0, &song.non_percussive, ga, &mut batch.anchor),
            (1, &song.percussive, gp, &mut batch.postve),
        ] {
            let silenced = |f: usize| {
                masked && mask_stem == stem && (mask_at..mask_at + mask_len).contains(&f)
            };
            for bin in 0..bins {
                let src_bin = bin as isize - shift;
                for f in 0..n {
                    let t = start + f as isize;
                    let labelled = t >= r0 as isize && t < r1 as isize;
                    let v = if !labelled || silenced(f) || !(0..bins as isize).contains(&src_bin) {
                        SILENCE
                    } else {
                        (spec.get(src_bin as usize, t as usize) + g).max(SILENCE)
                    };
                    out.push(v);
                }
            }
        }
        let mut target = vec![0f32; n];
        place_targets(&mut target, &song.beats_s, start, cfg.neighbour_target);
        batch.target.extend(target);
        let mut downbeat = vec![0f32; n];
        place_targets(
            &mut downbeat,
            &song.downbeats_s,
            start,
            cfg.neighbour_target,
        );
        batch.downbeat_target.extend(downbeat);
        if cfg.tempo_weight > 0.0 {
            match tempo::crop_tempo_bpm(&song.beats_s, start, n) {
                Some(bpm) => {
                    batch.tempo_target.extend(tempo::tempo_target(bpm));
                    batch.tempo_mask.push(1.0);
                }
                None => {
                    batch
                        .tempo_target
                        .extend(std::iter::repeat_n(0.0, tempo::N_CLASSES));
                    batch.tempo_mask.push(0.0);
                }
            }
        }
        let has_downbeats = !song.downbeats_s.is_empty();
        let mut weight = vec![1f32; n];
        if cfg.offbeat_weight != 1.0 {
            place_offbeat_weights(&mut weight, &song.beats_s, start, cfg.offbeat_weight);
        }
        for (f, w) in weight.into_iter().enumerate() {
            let t = start + f as isize;
            let m = f32::from(u8::from(t >= r0 as isize && t < r1 as isize));
            batch.mask.push(m * w);
            batch
                .downbeat_mask
                .push(if has_downbeats { m } else { 0.0 });
        }
    }
    batch
}

/// Sets frame `round(62.5·t) − start` of every time `t` to 1 and its two neighbours to
/// `neighbour` (keeping the larger value where targets overlap); frames outside `target` are
/// skipped.
pub(crate) fn place_targets(target: &mut [f32], times_s: &[f64], start: isize, neighbour: f32) {
    for &t in times_s {
        let k = (t * FPS).round() as isize - start;
        for (d, v) in [(-1, neighbour), (1, neighbour), (0, 1.0)] {
            if let Some(slot) = usize::try_from(k + d).ok().and_then(|j| target.get_mut(j)) {
                *slot = slot.max(v);
            }
        }
    }
}

/// Sets the weight of the frame nearest the midpoint of every two consecutive beats, and of
/// its two neighbours, to `offbeat` ([`BaseTrainConfig::offbeat_weight`]); frames outside
/// `weight` are skipped.
pub(crate) fn place_offbeat_weights(
    weight: &mut [f32],
    beats_s: &[f64],
    start: isize,
    offbeat: f32,
) {
    for pair in beats_s.windows(2) {
        let k = (0.5 * (pair[0] + pair[1]) * FPS).round() as isize - start;
        for d in -1..=1 {
            if let Some(slot) = usize::try_from(k + d).ok().and_then(|j| weight.get_mut(j)) {
                *slot = offbeat;
            }
        }
    }
}

/// A click track for tests: a click on every beat in both stems over quiet noise, the
/// downbeats (every 4th beat from the first) louder in the lower half of the bins, so that
/// beats and bars are both learnable and the answer is known.
#[cfg(test)]
pub(crate) fn click_song(name: &str, n: usize, beat_every: usize) -> LabelledSong {
    let mut data: Vec<f32> = (0..96 * n)
        .map(|i| -8.0 + (mix(i as u64) % 1000) as f32 / 1000.0)
        .collect();
    let beats: Vec<f64> = (1..n / beat_every)
        .map(|k| (k * beat_every) as f64 / FPS)
        .collect();
    let downbeats: Vec<f64> = beats.iter().copied().step_by(4).collect();
    for (k, &b) in beats.iter().enumerate() {
        let f = (b * FPS).round() as usize;
        for bin in 0..96 {
            data[bin * n + f] = if k % 4 == 0 && bin < 48 { 2.0 } else { 0.0 };
        }
    }
    let spec = crate::features::Spectrogram {
        data,
        n_bins: 96,
        n_frames: n,
        fps: FPS,
    };
    LabelledSong::new(name, name, spec.clone(), spec, beats)
        .expect("valid song")
        .with_downbeats(downbeats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downbeat_targets_follow_the_bars_and_are_masked_without_them() {
        let with = click_song("a", 1500, 30);
        let mut without = click_song("b", 1500, 30);
        without.downbeats_s.clear();
        let cfg = BaseTrainConfig {
            crop_frames: 500,
            batch_size: 6,
            max_pitch_shift_bins: 0,
            max_gain_db: 0.0,
            mask_probability: 0.0,
            ..BaseTrainConfig::default()
        };
        let songs = vec![with, without];
        let cumulative = vec![
            songs[0].labelled_frames() as u64,
            (songs[0].labelled_frames() + songs[1].labelled_frames()) as u64,
        ];
        let b = draw_batch(&songs, &cumulative, &cfg, 11);
        let (mut scored, mut unscored) = (0, 0);
        for i in 0..6 {
            let row = i * 500..(i + 1) * 500;
            let ones = |v: &[f32]| v.iter().filter(|t| **t == 1.0).count();
            let (beats, downs) = (
                ones(&b.target[row.clone()]),
                ones(&b.downbeat_target[row.clone()]),
            );
            if b.downbeat_mask[row.clone()].iter().any(|m| *m > 0.0) {
                // Every 4th beat is a downbeat; each downbeat is also a beat.
                assert!(downs * 4 >= beats.saturating_sub(4) && downs * 4 <= beats + 4);
                for f in row.clone() {
                    if b.downbeat_target[f] == 1.0 {
                        assert_eq!(b.target[f], 1.0);
                    }
                }
                scored += 1;
            } else {
                assert!(b.mask[row].iter().any(|m| *m > 0.0));
                unscored += 1;
            }
        }
        assert!(scored > 0 && unscored > 0, "{scored} {unscored}");
    }

    #[test]
    fn targets_are_placed_with_neighbours_and_clipped() {
        let mut t = vec![0f32; 10];
        place_targets(&mut t, &[0.0, 8.0 / FPS, 20.0], 0, 0.5);
        assert_eq!(t, [1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.5]);
    }

    #[test]
    fn offbeat_weights_sit_halfway_between_beats() {
        let mut w = vec![1f32; 12];
        // Beats on frames 2 and 10: midpoint 6 (5..=7); the pair (10, 30) has its midpoint
        // at frame 20, outside the crop, and a crop starting at frame 2 shifts everything.
        place_offbeat_weights(&mut w, &[2.0 / FPS, 10.0 / FPS, 30.0 / FPS], 0, 4.0);
        let mut expected = vec![1f32; 12];
        expected[5..=7].fill(4.0);
        assert_eq!(w, expected);
        let mut w = vec![1f32; 12];
        place_offbeat_weights(&mut w, &[2.0 / FPS, 10.0 / FPS], 2, 0.0);
        let mut expected = vec![1f32; 12];
        expected[3..=5].fill(0.0);
        assert_eq!(w, expected);
        // In a batch, the loss mask carries the weight on labelled frames only.
        let cfg = BaseTrainConfig {
            crop_frames: 500,
            batch_size: 2,
            max_pitch_shift_bins: 0,
            max_gain_db: 0.0,
            mask_probability: 0.0,
            offbeat_weight: 3.0,
            ..BaseTrainConfig::default()
        };
        let songs = vec![click_song("a", 1500, 30)];
        let cumulative = vec![songs[0].labelled_frames() as u64];
        let b = draw_batch(&songs, &cumulative, &cfg, 5);
        let heavy = b.mask.iter().filter(|&&m| m == 3.0).count();
        assert!(heavy >= 2 * 3 * 12, "{heavy} off-beat frames weighted");
        assert!(b.mask.iter().all(|&m| m == 0.0 || m == 1.0 || m == 3.0));
        for (m, t) in b.mask.iter().zip(&b.target) {
            assert!(
                !(*m == 3.0 && *t > 0.0),
                "an off-beat frame is a beat's target"
            );
        }
    }

    #[test]
    fn batches_are_deterministic_and_targets_sit_on_the_beats() {
        let songs = vec![click_song("a", 2000, 30), click_song("b", 900, 25)];
        let cumulative: Vec<u64> = songs
            .iter()
            .scan(0, |acc, s| {
                *acc += s.labelled_frames() as u64;
                Some(*acc)
            })
            .collect();
        let cfg = BaseTrainConfig {
            crop_frames: 400,
            batch_size: 3,
            max_pitch_shift_bins: 0,
            max_gain_db: 0.0,
            mask_probability: 0.0,
            ..BaseTrainConfig::default()
        };
        let a = draw_batch(&songs, &cumulative, &cfg, 7);
        let b = draw_batch(&songs, &cumulative, &cfg, 7);
        assert_eq!(a.target, b.target);
        assert_eq!(a.anchor, b.anchor);
        // Without augmentation, every target 1 is a click frame in the input (bin 60).
        for i in 0..3 {
            for f in 0..400 {
                if a.target[i * 400 + f] == 1.0 {
                    assert_eq!(
                        a.postve[i * 96 * 400 + 60 * 400 + f],
                        0.0,
                        "crop {i} frame {f}"
                    );
                    assert_eq!(a.mask[i * 400 + f], 1.0);
                }
            }
        }
        assert!(a.target.iter().filter(|t| **t == 1.0).count() > 20);
        // Padding outside the labelled span is silent and unscored.
        for (k, m) in a.mask.iter().enumerate() {
            if *m == 0.0 {
                let (i, f) = (k / 400, k % 400);
                assert_eq!(a.anchor[i * 96 * 400 + 50 * 400 + f], SILENCE);
            }
        }
    }

    #[test]
    fn pitch_shift_moves_bins_and_keeps_targets() {
        let mut s = click_song("a", 1000, 30);
        // Mark bin 40 everywhere in the non-percussive stem.
        for f in 0..1000 {
            s.non_percussive.data[40 * 1000 + f] = 1.0;
        }
        let songs = vec![s];
        let cumulative = vec![songs[0].labelled_frames() as u64];
        let cfg = BaseTrainConfig {
            crop_frames: 200,
            batch_size: 8,
            max_pitch_shift_bins: 5,
            max_gain_db: 0.0,
            mask_probability: 0.0,
            ..BaseTrainConfig::default()
        };
        let plain = BaseTrainConfig {
            max_pitch_shift_bins: 0,
            ..cfg.clone()
        };
        let a = draw_batch(&songs, &cumulative, &cfg, 3);
        let b = draw_batch(&songs, &cumulative, &plain, 3);
        assert_eq!(a.target, b.target, "labels do not move with pitch");
        let mut shifts = std::collections::BTreeSet::new();
        for i in 0..8 {
            // A labelled frame of crop i: find which bin holds the mark.
            let f = (0..200).find(|f| a.mask[i * 200 + f] == 1.0 && a.target[i * 200 + f] == 0.0);
            let Some(f) = f else { continue };
            let bin = (0..96).find(|bin| a.anchor[i * 96 * 200 + bin * 200 + f] == 1.0);
            shifts.insert(bin.map(|b| b as isize - 40));
        }
        assert!(shifts.len() > 1, "several shifts drawn: {shifts:?}");
        assert!(shifts.iter().all(|s| s.is_some_and(|s| s.abs() <= 5)));
    }
}
