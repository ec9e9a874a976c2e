//! The frames of each song that fine-tuning trains on and holds out, and the inputs of the
//! trained part over them.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::features::Spectrogram;
use crate::model::{BranchTop, Combine, ZeroNs};
use crate::{Error, Result};

use super::super::corpus::mix;
use super::super::crops::place_targets;
use super::{AnnotatedSong, FPS, FinetuneConfig};

/// The frames of one song that take part in training: a window of the song with a halo of
/// the receptive field around the annotated region, and its masks.
pub(super) struct SongWindow {
    /// First frame of the window in the song.
    pub(super) start: usize,
    /// Frames in the window.
    pub(super) len: usize,
    /// Targets over the window (1 / 0.5 / 0).
    pub(super) target: Vec<f32>,
    /// 1 on the frames trained on.
    pub(super) train_mask: Vec<f32>,
    /// 1 on the held-out frames.
    pub(super) holdout_mask: Vec<f32>,
    /// Held-out blocks, in time order.
    pub(super) holdout: Vec<HeldOutBlock>,
    /// Downbeat targets over the window from the user's bars, when the song has them.
    pub(super) downbeat_target: Option<Vec<f32>>,
}

impl SongWindow {
    /// Reference beats held out, all blocks together.
    pub(super) fn holdout_beats(&self) -> usize {
        self.holdout.iter().map(|b| b.beats_s.len()).sum()
    }

    /// The held-out blocks that hold beats (the ones scored).
    pub(super) fn scored_blocks(&self) -> impl Iterator<Item = &HeldOutBlock> {
        self.holdout.iter().filter(|b| !b.beats_s.is_empty())
    }
}

/// One held-out span of a song, decoded and scored on its own.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HeldOutBlock {
    /// Span in window frames `[h0, h1)`.
    pub(super) span: (usize, usize),
    /// Reference beats inside the span, in seconds from the span's start.
    pub(super) beats_s: Vec<f64>,
}

/// Inputs of the trainable part for one song: cached features or the raw log-VQT window.
pub(super) enum SongInput {
    Cached {
        anchor: TensorData,
        postve: TensorData,
    },
    Raw {
        anchor: TensorData,
        postve: TensorData,
    },
}

/// A song's unannotated audio for the keep-the-rest term: the frozen lower part's features
/// of the whole song and the base model's output over it.
pub(super) struct RestInput {
    /// `[C, n]` row-major, one per branch.
    pub(super) anchor: Vec<f32>,
    pub(super) postve: Vec<f32>,
    pub(super) channels: usize,
    /// The base's output, one value per frame of the song.
    pub(super) base_out: Vec<f32>,
    /// Where a chunk's scored frames may lie: `[a, b)` outside the annotated window.
    pub(super) spans: Vec<(usize, usize)>,
    /// Scored frames per chunk (the annotated window's length).
    pub(super) chunk: usize,
}

impl RestInput {
    /// The chunk for `z`: its input window `[e0, e1)` as cached features, the base output
    /// over it as targets, and a mask over its scored frames.
    pub(super) fn draw(&self, z: u64, halo: usize) -> Option<(SongInput, Vec<f32>, Vec<f32>)> {
        let total: usize = self.spans.iter().map(|(a, b)| b - a).sum();
        if total == 0 {
            return None;
        }
        let mut pick = (z % total as u64) as usize;
        let &(a, b) = self.spans.iter().find(|(a, b)| {
            let l = b - a;
            if pick < l {
                true
            } else {
                pick -= l;
                false
            }
        })?;
        let n = self.base_out.len();
        let len = self.chunk.min(b - a);
        let c0 = a + (mix(z) % (b - a - len + 1) as u64) as usize;
        let (e0, e1) = (c0.saturating_sub(halo), (c0 + len + halo).min(n));
        let cut = |v: &[f32]| -> TensorData {
            let mut out = Vec::with_capacity(self.channels * (e1 - e0));
            for c in 0..self.channels {
                out.extend_from_slice(&v[c * n + e0..c * n + e1]);
            }
            TensorData::new(out, [1, self.channels, e1 - e0])
        };
        let mask = (e0..e1)
            .map(|f| f32::from(u8::from((c0..c0 + len).contains(&f))))
            .collect();
        Some((
            SongInput::Cached {
                anchor: cut(&self.anchor),
                postve: cut(&self.postve),
            },
            self.base_out[e0..e1].to_vec(),
            mask,
        ))
    }
}

/// What is trained.
#[derive(Module, Debug)]
pub(super) struct TopPair {
    pub(super) anchor: BranchTop,
    pub(super) postve: BranchTop,
}

// One value per fine-tuning run, moved around a handful of times: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Trainable {
    Top(TopPair),
    Full(ZeroNs),
}

pub(super) fn frames_of(t: f64) -> isize {
    (t * FPS).round() as isize
}

/// Held-out spans `[a, b)` of the region `[r0, r1)` (song frames): `fraction` of it in
/// blocks of at least `block` frames, each closing one of equal parts of the region.
pub(super) fn holdout_spans(
    r0: usize,
    r1: usize,
    fraction: f64,
    block: usize,
) -> Vec<(usize, usize)> {
    let total = ((r1 - r0) as f64 * fraction).round() as usize;
    if total == 0 {
        return Vec::new();
    }
    let k = (total / block.max(1)).max(1);
    let each = total / k;
    (1..=k)
        .map(|j| {
            let end = r0 + (r1 - r0) * j / k;
            (end - each, end)
        })
        .collect()
}

pub(super) fn window_of(
    song: &AnnotatedSong,
    halo: usize,
    holdout_fraction: f64,
    holdout_block_s: f64,
) -> SongWindow {
    let n = song.n_frames();
    let (rs, re) = song.region_s;
    let r0 = frames_of(rs).clamp(0, n as isize) as usize;
    let r1 = frames_of(re).clamp(r0 as isize, n as isize) as usize;
    let block = frames_of(holdout_block_s).max(1) as usize;
    let spans = holdout_spans(r0, r1, holdout_fraction, block);
    let start = r0.saturating_sub(halo);
    let end = (r1 + halo).min(n);
    let len = end - start;
    let mut target = vec![0f32; len];
    place_targets(&mut target, &song.beats_s, start as isize, 0.5);
    let downbeat_target = song.downbeats_s.as_ref().map(|d| {
        let mut t = vec![0f32; len];
        place_targets(&mut t, d, start as isize, 0.5);
        t
    });
    let held = |f: usize| spans.iter().any(|&(a, b)| (a..b).contains(&f));
    let mask = |on: &dyn Fn(usize) -> bool| -> Vec<f32> {
        (0..len)
            .map(|i| f32::from(u8::from(on(start + i))))
            .collect()
    };
    let holdout = spans
        .iter()
        .map(|&(a, b)| HeldOutBlock {
            span: (a - start, b - start),
            beats_s: song
                .beats_s
                .iter()
                .filter(|t| (a as isize..b as isize).contains(&frames_of(**t)))
                .map(|t| t - a as f64 / FPS)
                .collect(),
        })
        .collect();
    SongWindow {
        start,
        len,
        target,
        train_mask: mask(&|f| (r0..r1).contains(&f) && !held(f)),
        holdout_mask: mask(&held),
        holdout,
        downbeat_target,
    }
}

pub(super) fn window_tensor_data(s: &Spectrogram, start: usize, len: usize) -> TensorData {
    let mut v = Vec::with_capacity(s.n_bins * len);
    for bin in 0..s.n_bins {
        let row = &s.data[bin * s.n_frames..(bin + 1) * s.n_frames];
        v.extend_from_slice(&row[start..start + len]);
    }
    TensorData::new(v, [1, 1, s.n_bins, len])
}

pub(super) fn read_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    t.try_to_vec_as::<f32>()
        .map_err(|e| Error::Model(format!("cannot read the network's output: {e:?}")))
}

impl Trainable {
    pub(super) fn forward(
        &self,
        input: &SongInput,
        combine: Combine,
        device: &Device,
    ) -> Tensor<2> {
        self.forward_with_downbeat(input, combine, device).0
    }

    /// The beat activation and, where the network has downbeat heads, the downbeat one.
    pub(super) fn forward_with_downbeat(
        &self,
        input: &SongInput,
        combine: Combine,
        device: &Device,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        match (self, input) {
            (Trainable::Top(t), SongInput::Cached { anchor, postve }) => {
                let (a, ad) = t
                    .anchor
                    .forward_with_downbeat(Tensor::<3>::from_data(anchor.clone(), device));
                let (p, pd) = t
                    .postve
                    .forward_with_downbeat(Tensor::<3>::from_data(postve.clone(), device));
                let downbeat = match (ad, pd) {
                    (Some(a), Some(p)) => Some(combine.apply(a, p)),
                    _ => None,
                };
                (combine.apply(a, p), downbeat)
            }
            (Trainable::Full(net), SongInput::Raw { anchor, postve }) => {
                let a = Tensor::<4>::from_data(anchor.clone(), device);
                let p = Tensor::<4>::from_data(postve.clone(), device);
                let out = net.forward(a, p);
                (out.combined, out.downbeat)
            }
            // Inputs are built for the mode; a mismatch cannot be constructed.
            _ => (Tensor::<2>::zeros([1, 1], device), None),
        }
    }

    pub(super) fn valid(&self) -> Trainable {
        match self {
            Trainable::Top(t) => Trainable::Top(t.valid()),
            Trainable::Full(n) => Trainable::Full(n.valid()),
        }
    }
}

/// The log-VQT windows themselves, for a whole network.
pub(super) fn raw_inputs(songs: &[AnnotatedSong], windows: &[SongWindow]) -> Vec<SongInput> {
    songs
        .iter()
        .zip(windows)
        .map(|(song, w)| SongInput::Raw {
            anchor: window_tensor_data(&song.non_percussive, w.start, w.len),
            postve: window_tensor_data(&song.percussive, w.start, w.len),
        })
        .collect()
}

/// Each song's window with `config`'s held-out spans, or `None` when fewer than
/// `min_holdout_beats` beats would be held out in all (then fine-tuning holds none out).
pub(super) fn held_out_windows(
    songs: &[AnnotatedSong],
    halo: usize,
    config: &FinetuneConfig,
) -> Option<Vec<SongWindow>> {
    let windows: Vec<SongWindow> = songs
        .iter()
        .map(|s| window_of(s, halo, config.holdout_fraction, config.holdout_block_s))
        .collect();
    let holdout_beats: usize = windows.iter().map(SongWindow::holdout_beats).sum();
    (config.holdout_fraction > 0.0 && holdout_beats >= config.min_holdout_beats).then_some(windows)
}
