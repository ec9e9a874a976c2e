//! Gapless trimming for MP4/M4A audio: the edit list (`elst`) of the sound track.
//!
//! symphonia 0.6 ignores MP4 edit lists, so AAC in M4A decodes with the encoder's priming
//! samples in front (1024 for ffmpeg/FDK, 2112 for Apple's encoder: 23–48 ms at 44.1 kHz)
//! — enough to shift every beat. Encoders record the priming as the first edit's
//! `media_time`, and the playable length as its `segment_duration`; we read both here and
//! trim the decoded samples accordingly.

use std::io::{Read, Seek, SeekFrom};

/// Playable region of the first sound track, in samples of the track's own timescale
/// (for audio the media timescale is the sample rate, but we convert anyway).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EditRegion {
    /// Seconds to skip at the start of the decoded media.
    pub skip_s: f64,
    /// Playable duration in seconds, when declared.
    pub duration_s: Option<f64>,
}

/// Reads the edit list of the first `soun` track. Returns `None` when the file is not MP4,
/// has no edit list, or anything is malformed (then nothing is trimmed).
pub(crate) fn read_edit_region<R: Read + Seek>(r: &mut R) -> Option<EditRegion> {
    let end = r.seek(SeekFrom::End(0)).ok()?;
    let moov = find_child(r, 0, end, b"moov")?;
    let (movie_timescale, _) = read_mvhd(r, moov)?;
    let mut pos = moov.0;
    while let Some((body, next, kind)) = next_box(r, pos, moov.1) {
        pos = next;
        if &kind != b"trak" {
            continue;
        }
        let mdia = find_child(r, body.0, body.1, b"mdia")?;
        let hdlr = find_child(r, mdia.0, mdia.1, b"hdlr")?;
        let handler = read_at(r, hdlr.0 + 8, 4)?;
        if handler != b"soun" {
            continue;
        }
        let mdhd = find_child(r, mdia.0, mdia.1, b"mdhd")?;
        let media_timescale = read_timescale(r, mdhd)?;
        let edts = find_child(r, body.0, body.1, b"edts")?;
        let elst = find_child(r, edts.0, edts.1, b"elst")?;
        return read_elst(r, elst, movie_timescale, media_timescale);
    }
    None
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, n: usize) -> Option<Vec<u8>> {
    r.seek(SeekFrom::Start(at)).ok()?;
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The box starting at `pos` (within `[.., end)`): ((body_start, body_end), next_pos, type).
fn next_box<R: Read + Seek>(r: &mut R, pos: u64, end: u64) -> Option<((u64, u64), u64, [u8; 4])> {
    if pos + 8 > end {
        return None;
    }
    let h = read_at(r, pos, 8)?;
    let kind = [h[4], h[5], h[6], h[7]];
    let (size, header) = match be_u32(&h) {
        1 => (be_u64(&read_at(r, pos + 8, 8)?), 16),
        0 => (end - pos, 8),
        s => (s as u64, 8),
    };
    if size < header || pos + size > end {
        return None;
    }
    Some(((pos + header, pos + size), pos + size, kind))
}

fn find_child<R: Read + Seek>(
    r: &mut R,
    start: u64,
    end: u64,
    kind: &[u8; 4],
) -> Option<(u64, u64)> {
    let mut pos = start;
    for _ in 0..10_000 {
        let (body, next, k) = next_box(r, pos, end)?;
        if &k == kind {
            return Some(body);
        }
        pos = next;
    }
    None
}

/// (timescale, duration) of the movie header.
fn read_mvhd<R: Read + Seek>(r: &mut R, moov: (u64, u64)) -> Option<(u32, u64)> {
    let mvhd = find_child(r, moov.0, moov.1, b"mvhd")?;
    read_header_timescale(r, mvhd)
}

fn read_timescale<R: Read + Seek>(r: &mut R, b: (u64, u64)) -> Option<u32> {
    read_header_timescale(r, b).map(|(t, _)| t)
}

/// mvhd and mdhd share the layout: version/flags, times, timescale, duration.
fn read_header_timescale<R: Read + Seek>(r: &mut R, b: (u64, u64)) -> Option<(u32, u64)> {
    let v = read_at(r, b.0, 1)?[0];
    if v == 1 {
        let d = read_at(r, b.0 + 4 + 16, 12)?;
        Some((be_u32(&d[0..4]), be_u64(&d[4..12])))
    } else {
        let d = read_at(r, b.0 + 4 + 8, 8)?;
        Some((be_u32(&d[0..4]), be_u32(&d[4..8]) as u64))
    }
    .filter(|(t, _)| *t > 0)
}

fn read_elst<R: Read + Seek>(
    r: &mut R,
    elst: (u64, u64),
    movie_timescale: u32,
    media_timescale: u32,
) -> Option<EditRegion> {
    let head = read_at(r, elst.0, 8)?;
    let version = head[0];
    let count = be_u32(&head[4..8]) as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    let mut pos = elst.0 + 8;
    let mut skip_s = 0.0;
    for _ in 0..count.min(64) {
        if pos + entry_len as u64 > elst.1 {
            return None;
        }
        let e = read_at(r, pos, entry_len)?;
        pos += entry_len as u64;
        let (seg, media_time) = if version == 1 {
            (
                be_u64(&e[0..8]),
                i64::from_be_bytes(e[8..16].try_into().ok()?),
            )
        } else {
            (be_u32(&e[0..4]) as u64, be_u32(&e[4..8]) as i32 as i64)
        };
        if media_time == -1 {
            // An empty edit (silence before the media starts) — rare for audio; ignore.
            continue;
        }
        skip_s = media_time as f64 / media_timescale as f64;
        let duration_s = (seg > 0).then(|| seg as f64 / movie_timescale as f64);
        return Some(EditRegion { skip_s, duration_s });
    }
    (skip_s > 0.0).then_some(EditRegion {
        skip_s,
        duration_s: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn header(timescale: u32, duration: u32) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&timescale.to_be_bytes());
        v.extend_from_slice(&duration.to_be_bytes());
        v.extend_from_slice(&[0u8; 8]);
        v
    }

    #[test]
    fn reads_priming_from_the_sound_tracks_edit_list() {
        let mut elst = vec![0, 0, 0, 0, 0, 0, 0, 1];
        elst.extend_from_slice(&2000u32.to_be_bytes()); // 2 s at movie timescale 1000
        elst.extend_from_slice(&1024u32.to_be_bytes()); // 1024 samples priming
        elst.extend_from_slice(&[0, 1, 0, 0]);
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"soun");
        hdlr.extend_from_slice(&[0u8; 12]);
        let mdia = [bx(b"mdhd", &header(44_100, 89_224)), bx(b"hdlr", &hdlr)].concat();
        let trak = [bx(b"edts", &bx(b"elst", &elst)), bx(b"mdia", &mdia)].concat();
        let moov = [bx(b"mvhd", &header(1000, 2000)), bx(b"trak", &trak)].concat();
        let file = [bx(b"ftyp", b"M4A \0\0\0\0"), bx(b"moov", &moov)].concat();
        let region = read_edit_region(&mut Cursor::new(file)).unwrap();
        assert!((region.skip_s - 1024.0 / 44_100.0).abs() < 1e-12);
        assert_eq!(region.duration_s, Some(2.0));
    }

    #[test]
    fn non_mp4_and_garbage_give_none() {
        assert_eq!(
            read_edit_region(&mut Cursor::new(b"RIFF\0\0\0\0WAVE".to_vec())),
            None
        );
        assert_eq!(read_edit_region(&mut Cursor::new(vec![0xffu8; 64])), None);
        assert_eq!(read_edit_region(&mut Cursor::new(Vec::new())), None);
    }
}
