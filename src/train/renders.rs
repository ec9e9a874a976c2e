//! Songs with exact beats for [`super::base`]: an audio file and its beat file (the renders of
//! `scripts/render_corpus.py`, or any annotated recording), with both stems' log-VQT cached on
//! disk so that a resumed or repeated run does not separate and transform hours of audio again.
//!
//! Cache file `<cache>/<key>.feat`, key = FNV-1a of the audio path, size and mtime (a changed
//! file is computed again): the 8-byte magic `ZNFEAT01`, two u32 LE (`n_bins`, `n_frames`),
//! then the non-percussive and the percussive log-VQT, each `n_bins × n_frames` f32 LE,
//! bin-major. Written through a temporary file, so a killed run leaves no half file.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::base::LabelledSong;
use super::corpus::{file_stamp, fnv1a, write_atomic};
use crate::features::Spectrogram;
use crate::formats::read_beats;
use crate::pipeline::{AnalyzeConfig, CancelToken, song_features};
use crate::{Error, Result};

/// Magic bytes of a cached feature file.
pub const FEATURE_MAGIC: &[u8; 8] = b"ZNFEAT01";

/// One labelled recording.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledItem {
    /// A name for reports.
    pub name: String,
    /// The piece it renders (variants share it; see [`LabelledSong::group`]).
    pub group: String,
    /// The audio file.
    pub audio: PathBuf,
    /// Its beat file (any format [`read_beats`] reads).
    pub beats: PathBuf,
}

/// Loads `item`: its beats (and downbeats, where its beat file numbers the beats in the bar),
/// and both stems' log-VQT from `cache_dir` or computed (and cached).
pub fn load_labelled(
    item: &LabelledItem,
    cache_dir: &Path,
    config: &AnalyzeConfig,
    cancel: &CancelToken,
) -> Result<LabelledSong> {
    let beats = read_beats(&item.beats)?;
    let path = cache_path(&item.audio, cache_dir)?;
    let (non_percussive, percussive) = match read_features(&path) {
        Ok(pair) => pair,
        Err(_) => {
            let f = song_features(&item.audio, config, &mut |_| {}, cancel)?;
            fs::create_dir_all(cache_dir).map_err(|e| Error::io(cache_dir, e))?;
            write_features(&path, &f.non_percussive, &f.percussive)?;
            (f.non_percussive, f.percussive)
        }
    };
    // Cached before silent audio was refused (`song_features`): silence leaves a flat
    // spectrogram, and labelled silence teaches the network to fire on nothing.
    if is_flat(&non_percussive) && is_flat(&percussive) {
        return Err(Error::BadAudio {
            path: item.audio.clone(),
            detail: "audio is silent (its spectrogram is flat); no beats to learn from".into(),
        });
    }
    let downbeats_s: Vec<f64> = match &beats.positions {
        Some(positions) => beats
            .times_s
            .iter()
            .zip(positions)
            .filter(|(_, p)| **p == 1)
            .map(|(t, _)| *t)
            .collect(),
        None => Vec::new(),
    };
    Ok(LabelledSong::new(
        item.name.clone(),
        item.group.clone(),
        non_percussive,
        percussive,
        beats.times_s,
    )?
    .with_downbeats(downbeats_s))
}

/// Where the features of `audio` are cached (module docs: the key covers path, size and mtime).
fn cache_path(audio: &Path, cache_dir: &Path) -> Result<PathBuf> {
    let (size, mtime) = file_stamp(audio)?;
    let key = format!("{}|{}|{}", audio.display(), size, mtime);
    Ok(cache_dir.join(format!("{:016x}.feat", fnv1a(key.as_bytes()))))
}

/// Whether every value of `spec` is the same (the log-VQT of silence).
fn is_flat(spec: &Spectrogram) -> bool {
    let (lo, hi) = spec
        .data
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // No spread above 1e-6, or none at all (every value NaN): nothing to learn from.
    !matches!(
        (hi - lo).partial_cmp(&1e-6),
        Some(std::cmp::Ordering::Greater)
    )
}

/// Loads every item as [`load_labelled`] does, on `threads` worker threads (features that are
/// not cached yet are the slow part: decoding, separation and the VQT of hours of audio), and
/// hands each result to `each` on the calling thread **in item order**, so that what is built
/// from them does not depend on the number of threads. Workers stay at most a few items ahead
/// of `each`, so memory holds only a handful of songs beyond what `each` keeps. Stops early,
/// returning its error, when `each` fails; stops when `cancel` is set (the items not yet
/// handed over are then dropped and [`Error::Cancelled`] is returned).
pub fn load_labelled_each(
    items: &[LabelledItem],
    cache_dir: &Path,
    config: &AnalyzeConfig,
    cancel: &CancelToken,
    threads: usize,
    mut each: impl FnMut(usize, Result<LabelledSong>) -> Result<()>,
) -> Result<()> {
    let threads = threads.clamp(1, items.len().max(1));
    let lookahead = 2 * threads;
    let next = AtomicUsize::new(0);
    let handed = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<LabelledSong>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, handed, stop) = (&next, &handed, &stop);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= items.len() {
                        break;
                    }
                    while i >= handed.load(Ordering::SeqCst) + lookahead {
                        if stop.load(Ordering::SeqCst) || cancel.is_cancelled() {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    if stop.load(Ordering::SeqCst) || cancel.is_cancelled() {
                        return;
                    }
                    let loaded = load_labelled(&items[i], cache_dir, config, cancel);
                    if tx.send((i, loaded)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, loaded) in rx.iter() {
            pending.insert(i, loaded);
            while let Some(loaded) = pending.remove(&want) {
                if let Err(e) = each(want, loaded) {
                    stop.store(true, Ordering::SeqCst);
                    return Err(e);
                }
                want += 1;
                handed.store(want, Ordering::SeqCst);
            }
        }
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if want < items.len() {
            return Err(Error::InvalidInput(format!(
                "loading the labelled songs stopped at {} of {}",
                want,
                items.len()
            )));
        }
        Ok(())
    })
}

fn write_features(path: &Path, a: &Spectrogram, b: &Spectrogram) -> Result<()> {
    let mut bytes = Vec::with_capacity(16 + 8 * a.data.len());
    bytes.extend_from_slice(FEATURE_MAGIC);
    bytes.extend_from_slice(&(a.n_bins as u32).to_le_bytes());
    bytes.extend_from_slice(&(a.n_frames as u32).to_le_bytes());
    for v in a.data.iter().chain(&b.data) {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

fn read_features(path: &Path) -> Result<(Spectrogram, Spectrogram)> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::Parse {
        path: path.into(),
        line: 0,
        detail: m.into(),
    };
    if bytes.len() < 16 || &bytes[..8] != FEATURE_MAGIC {
        return Err(bad("not a ZeroNS feature file"));
    }
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (n_bins, n_frames) = (word(8) as usize, word(12) as usize);
    let n = n_bins * n_frames;
    if bytes.len() != 16 + 8 * n {
        return Err(bad("truncated feature file"));
    }
    let values: Vec<f32> = bytes[16..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let spec = |data: Vec<f32>| Spectrogram {
        data,
        n_bins,
        n_frames,
        fps: 62.5,
    };
    Ok((spec(values[..n].to_vec()), spec(values[n..].to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_round_trip_and_truncation_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = Spectrogram {
            data: (0..96 * 5).map(|i| i as f32).collect(),
            n_bins: 96,
            n_frames: 5,
            fps: 62.5,
        };
        let b = Spectrogram {
            data: a.data.iter().map(|v| -v).collect(),
            ..a.clone()
        };
        let path = dir.path().join("x.feat");
        write_features(&path, &a, &b).expect("written");
        let (ra, rb) = read_features(&path).expect("read");
        assert_eq!((ra.data, rb.data), (a.data, b.data));
        let bytes = fs::read(&path).expect("bytes");
        fs::write(&path, &bytes[..bytes.len() - 3]).expect("cut");
        let err = read_features(&path).expect_err("truncated");
        assert!(err.to_string().contains("x.feat"), "{err}");
    }

    /// Regression: three renders of the training corpus were silent (MMA songs whose
    /// synthesis produced nothing), and one of them was trained on as 84 s of beats. A silent
    /// song is refused by name, whether its features are computed or were cached before.
    #[test]
    fn silent_audio_is_refused_computed_or_cached() {
        let dir = tempfile::tempdir().expect("temp dir");
        // The analysis tests' digital silence (tests/fixtures/audio/silent.wav).
        let audio = dir.path().join("quiet.wav");
        fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/silent.wav"),
            &audio,
        )
        .expect("fixture copied");
        let beats = dir.path().join("quiet.beats");
        fs::write(&beats, "0.5\n1.0\n1.5\n2.0\n").expect("beats written");
        let item = LabelledItem {
            name: "quiet".into(),
            group: "t/quiet".into(),
            audio: audio.clone(),
            beats,
        };
        let cache = dir.path().join("cache");
        let config = AnalyzeConfig::default();
        let cancel = CancelToken::new();
        let err = load_labelled(&item, &cache, &config, &cancel).expect_err("silent");
        assert_eq!(err.code(), "bad_audio");
        assert!(
            err.to_string().contains("quiet.wav") && err.to_string().contains("silent"),
            "{err}"
        );
        // Features of silence cached by an earlier version: flat, refused all the same.
        let flat = Spectrogram {
            data: vec![-11.5; 96 * 40],
            n_bins: 96,
            n_frames: 40,
            fps: 62.5,
        };
        let path = cache_path(&audio, &cache).expect("key");
        fs::create_dir_all(&cache).expect("cache dir");
        write_features(&path, &flat, &flat).expect("cached");
        let err = load_labelled(&item, &cache, &config, &cancel).expect_err("flat");
        assert!(err.to_string().contains("flat"), "{err}");
        assert!(!is_flat(&Spectrogram {
            data: vec![0.0, 0.5],
            n_bins: 1,
            n_frames: 2,
            fps: 62.5,
        }));
    }
}
