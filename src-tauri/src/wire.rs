//! Binary payloads exchanged with the page (little-endian, every array 4- or 8-byte
//! aligned so that the page can view it as a `Float32Array` / `Float64Array` without a
//! copy). Waveforms, curves and beats never travel as JSON arrays: a 10-minute song's
//! pyramid is megabytes of floats, which JSON would make ~10x slower
//! (specs/tauri-and-testing.md §6). The page's reader is `ui/src/wire.ts`; keep both in
//! step and bump the version on any change.
//!
//! ```text
//! timeline  "ZNTL" u32 version=1 | f64 duration_s | u32 sample_rate_hz u32 n_levels
//!           u32 n_curves u32 reserved | n_levels × (u32 block, u32 n_bins)
//!           | n_curves × (f32 fps, u32 n_values, u32 name_len, name bytes padded to 4)
//!           | each level: f32 min_max[2·n_bins] | each curve: f32 values[n_values]
//! beats     "ZNBT" u32 n | i64 revision (−1: none) | u32 has_positions u32 beats_per_bar
//!           | f64 times_s[n] | u32 positions[n] if has_positions
//! ```

use zerons::audio::PeakPyramid;
use zerons::formats::BeatList;
use zerons::store::Curve;

use crate::error::{AppError, AppResult};

/// Magic of a timeline payload ("ZNTL").
pub const TIMELINE_MAGIC: &[u8; 4] = b"ZNTL";
/// Magic of a beats payload ("ZNBT").
pub const BEATS_MAGIC: &[u8; 4] = b"ZNBT";
/// Version of the timeline layout.
pub const TIMELINE_VERSION: u32 = 1;

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_f32s(out: &mut Vec<u8>, values: &[f32]) {
    out.reserve(values.len() * 4);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Encodes the static part of a track's timeline: waveform pyramid and activation curves.
pub fn encode_timeline(duration_s: f64, peaks: Option<&PeakPyramid>, curves: &[Curve]) -> Vec<u8> {
    let levels = peaks.map(|p| p.levels.as_slice()).unwrap_or(&[]);
    let data_bytes: usize = levels.iter().map(|l| l.min_max.len() * 4).sum::<usize>()
        + curves.iter().map(|c| c.values.len() * 4).sum::<usize>();
    let mut out = Vec::with_capacity(64 + data_bytes);
    out.extend_from_slice(TIMELINE_MAGIC);
    put_u32(&mut out, TIMELINE_VERSION);
    out.extend_from_slice(&duration_s.to_le_bytes());
    put_u32(&mut out, peaks.map_or(0, |p| p.sample_rate_hz));
    put_u32(&mut out, len_u32(levels.len()));
    put_u32(&mut out, len_u32(curves.len()));
    put_u32(&mut out, 0);
    for l in levels {
        put_u32(&mut out, len_u32(l.block));
        put_u32(&mut out, len_u32(l.len()));
    }
    for c in curves {
        out.extend_from_slice(&(c.fps as f32).to_le_bytes());
        put_u32(&mut out, len_u32(c.values.len()));
        let name = c.kind.as_bytes();
        put_u32(&mut out, len_u32(name.len()));
        out.extend_from_slice(name);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    for l in levels {
        put_f32s(&mut out, &l.min_max);
    }
    for c in curves {
        put_f32s(&mut out, &c.values);
    }
    out
}

/// Encodes beats with the revision they belong to.
pub fn encode_beats(
    revision: Option<i64>,
    beats: &BeatList,
    beats_per_bar: Option<u32>,
) -> Vec<u8> {
    let n = beats.times_s.len();
    let mut out = Vec::with_capacity(24 + n * 12);
    out.extend_from_slice(BEATS_MAGIC);
    put_u32(&mut out, len_u32(n));
    out.extend_from_slice(&revision.unwrap_or(-1).to_le_bytes());
    put_u32(&mut out, u32::from(beats.positions.is_some()));
    put_u32(&mut out, beats_per_bar.unwrap_or(0));
    for t in &beats.times_s {
        out.extend_from_slice(&t.to_le_bytes());
    }
    if let Some(p) = &beats.positions {
        for v in p {
            put_u32(&mut out, *v);
        }
    }
    out
}

/// Beats sent by the page for a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatsPayload {
    /// The revision the edit was made on (−1 when the track had no beats).
    pub base_revision: i64,
    /// The new beats.
    pub beats: BeatList,
    /// Beats per bar, 0 when unknown.
    pub beats_per_bar: Option<u32>,
}

fn word(bytes: &[u8], at: usize) -> AppResult<[u8; 4]> {
    bytes
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| AppError::bad_request("beats payload is truncated"))
}

fn dword(bytes: &[u8], at: usize) -> AppResult<[u8; 8]> {
    bytes
        .get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| AppError::bad_request("beats payload is truncated"))
}

/// Decodes a beats payload (the layout [`encode_beats`] writes). Validation of the beat
/// times themselves (sorted, finite) is the engine's job ([`BeatList::validate`]).
pub fn decode_beats(bytes: &[u8]) -> AppResult<BeatsPayload> {
    if bytes.get(0..4) != Some(BEATS_MAGIC.as_slice()) {
        return Err(AppError::bad_request("beats payload: bad magic"));
    }
    let n = u32::from_le_bytes(word(bytes, 4)?) as usize;
    let base_revision = i64::from_le_bytes(dword(bytes, 8)?);
    let has_positions = u32::from_le_bytes(word(bytes, 16)?) != 0;
    let bpb = u32::from_le_bytes(word(bytes, 20)?);
    let expected = 24 + n * 8 + if has_positions { n * 4 } else { 0 };
    if bytes.len() != expected {
        return Err(AppError::bad_request(format!(
            "beats payload: {} bytes for {n} beats, expected {expected}",
            bytes.len()
        )));
    }
    let times_s = (0..n)
        .map(|i| dword(bytes, 24 + i * 8).map(f64::from_le_bytes))
        .collect::<AppResult<Vec<f64>>>()?;
    let positions = if has_positions {
        let base = 24 + n * 8;
        Some(
            (0..n)
                .map(|i| word(bytes, base + i * 4).map(u32::from_le_bytes))
                .collect::<AppResult<Vec<u32>>>()?,
        )
    } else {
        None
    };
    Ok(BeatsPayload {
        base_revision,
        beats: BeatList { times_s, positions },
        beats_per_bar: (bpb != 0).then_some(bpb),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerons::audio::{PeakConfig, Signal, peak_pyramid};

    #[test]
    fn beats_round_trip_with_and_without_positions() {
        let with = BeatList::with_positions(vec![0.5, 1.0, 1.5], vec![1, 2, 3]).unwrap();
        let bytes = encode_beats(Some(7), &with, Some(3));
        assert_eq!(bytes.len(), 24 + 3 * 12);
        let back = decode_beats(&bytes).unwrap();
        assert_eq!(back.base_revision, 7);
        assert_eq!(back.beats, with);
        assert_eq!(back.beats_per_bar, Some(3));

        let without = BeatList::new(vec![0.25]);
        let back = decode_beats(&encode_beats(None, &without, None)).unwrap();
        assert_eq!(back.base_revision, -1);
        assert_eq!(back.beats, without);
        assert_eq!(back.beats_per_bar, None);
    }

    #[test]
    fn malformed_beats_payloads_are_rejected() {
        let good = encode_beats(Some(1), &BeatList::new(vec![0.5, 1.0]), None);
        assert_eq!(
            decode_beats(&good[..good.len() - 1]).unwrap_err().code,
            "bad_request"
        );
        assert_eq!(decode_beats(b"ZNTL").unwrap_err().code, "bad_request");
        assert_eq!(decode_beats(&[]).unwrap_err().code, "bad_request");
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_beats(&huge).unwrap_err().code, "bad_request");
    }

    #[test]
    fn timeline_layout_is_aligned_and_complete() {
        let signal = Signal::new(
            (0..10_000).map(|i| (i as f32 * 0.01).sin()).collect(),
            8_000,
        );
        let peaks = peak_pyramid(&signal, &PeakConfig::default()).unwrap();
        let curves = vec![Curve {
            kind: "flux".into(),
            fps: 62.5,
            values: vec![0.0, 0.5, 1.0],
        }];
        let bytes = encode_timeline(1.25, Some(&peaks), &curves);
        assert_eq!(&bytes[0..4], TIMELINE_MAGIC);
        assert_eq!(f64::from_le_bytes(bytes[8..16].try_into().unwrap()), 1.25);
        let n_levels = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
        assert_eq!(n_levels, peaks.levels.len());
        let header = 32 + n_levels * 8 + (12 + 4);
        let data: usize = peaks
            .levels
            .iter()
            .map(|l| l.min_max.len() * 4)
            .sum::<usize>()
            + 12;
        assert_eq!(bytes.len(), header + data);
        assert_eq!(header % 4, 0);
        // The last three floats are the curve.
        let tail: Vec<f32> = bytes[bytes.len() - 12..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(tail, vec![0.0, 0.5, 1.0]);
    }
}
