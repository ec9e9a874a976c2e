//! Standard MIDI File tempo maps (spec §4.7), with midly.
//!
//! Every beat becomes one note value of the meter's beat unit (a quarter note in 4/4):
//! beat k sits on tick `(L + k)·ticks_per_beat` after a lead-in of L beats, and a tempo
//! event on each beat lasts until the next. Each tempo is computed against the time the
//! map has actually reached, so the 1 µs rounding of MIDI tempos never accumulates: every
//! beat lands within half a microsecond (times the beat unit / 4) of its time.
//!
//! * Lead-in: one beat (spec §4.7), or none when the first beat is at 0, or more when the
//!   first beat is later than the slowest MIDI tempo allows (16.8 s per quarter). With
//!   beat positions, the lead-in is chosen so that the first beat lands on its position
//!   in a whole count-in bar. A lead-in other than one beat is marked with a Marker meta
//!   event [`FIRST_BEAT_MARKER`] on the first beat.
//! * Bars: a time signature at tick 0 (the meter; 4/4 by default) and, with positions, a
//!   new one wherever the distance between downbeats changes.
//!
//! Reading inverts this: beats are the beat-unit notes of the time signatures in force,
//! from the first beat (the marker, else one beat after tick 0) to the end of the
//! longest track, with positions counted in the bars.

use std::path::Path;

use midly::num::{u15, u24, u28};
use midly::{Format, Header, MetaMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::grid::MAX_GRID_BEATS;
use super::text::parse_err;
use super::{BeatList, ExportMeta, effective_meter};
use crate::{Error, Result};

/// Ticks per quarter note in written files (divisible by every beat unit up to 64).
pub const MIDI_TICKS_PER_QUARTER: u16 = 960;

/// Text of the Marker meta event on the first beat when the lead-in is not one beat.
pub const FIRST_BEAT_MARKER: &str = "first beat";

/// Largest MIDI tempo (µs per quarter note).
const MAX_TEMPO: u32 = 0xFF_FFFF;

fn meta(tick_delta: u32, message: MetaMessage<'_>) -> TrackEvent<'_> {
    TrackEvent {
        delta: u28::new(tick_delta),
        kind: TrackEventKind::Meta(message),
    }
}

fn time_signature(beats_per_bar: u32, beat_unit: u32) -> MetaMessage<'static> {
    MetaMessage::TimeSignature(
        beats_per_bar.min(255) as u8,
        beat_unit.trailing_zeros() as u8,
        (96 / beat_unit).max(1) as u8,
        8,
    )
}

pub(crate) fn render(beats: &BeatList, meta_in: &ExportMeta) -> Result<Vec<u8>> {
    let meter = effective_meter(beats, meta_in.meter)?;
    let unit = meter.beat_unit;
    let ppq = u32::from(MIDI_TICKS_PER_QUARTER);
    let tpb = ppq * 4 / unit;
    // µs of one beat per µs-per-quarter of tempo.
    let beat_per_tempo = 4.0 / f64::from(unit);
    let max_beat_us = f64::from(MAX_TEMPO) * beat_per_tempo;
    let times_us: Vec<f64> = beats.times_s.iter().map(|t| t * 1e6).collect();
    let n = times_us.len();
    let t0 = times_us.first().copied().unwrap_or(0.0);
    let min_lead = if t0 < 0.5 {
        0
    } else {
        (t0 / max_beat_us).ceil().max(1.0) as u64
    };
    let lead = match &beats.positions {
        Some(p) if n > 0 => {
            // The smallest lead-in >= min_lead that puts beat 0 on its position.
            let bpb = u64::from(meter.beats_per_bar);
            let want = u64::from(p[0] - 1) % bpb;
            let mut l = want;
            while l < min_lead {
                l += bpb;
            }
            l
        }
        _ => min_lead,
    };
    let total_beats = lead + n as u64;
    if total_beats.saturating_mul(u64::from(tpb)) > u64::from(u32::MAX >> 4) {
        return Err(Error::InvalidInput(format!(
            "{n} beats (after a {lead}-beat lead-in) do not fit in a MIDI track"
        )));
    }
    let tick = |beat: u64| (beat * u64::from(tpb)) as u32;

    // (tick, order, message): order keeps time signatures before markers before tempos.
    let mut events: Vec<(u32, u8, MetaMessage<'static>)> = Vec::new();
    match &beats.positions {
        Some(p) => {
            let mut starts: Vec<u64> = vec![0];
            starts.extend(
                p.iter()
                    .enumerate()
                    .filter(|(_, pos)| **pos == 1)
                    .map(|(k, _)| lead + k as u64)
                    .filter(|&g| g > 0),
            );
            let mut current = 0;
            for (i, &s) in starts.iter().enumerate() {
                let len = match starts.get(i + 1) {
                    Some(&next) => next - s,
                    None => u64::from(meter.beats_per_bar),
                };
                // Bars over 255 beats cannot be written; they split (positions wrap).
                let len = len.min(255) as u32;
                if len != current {
                    events.push((tick(s), 0, time_signature(len, unit)));
                    current = len;
                }
            }
        }
        None => events.push((0, 0, time_signature(meter.beats_per_bar, unit))),
    }
    if lead != 1 && n > 0 {
        events.push((
            tick(lead),
            1,
            MetaMessage::Marker(FIRST_BEAT_MARKER.as_bytes()),
        ));
    }
    let mut reached = 0.0f64;
    let mut tempo_to =
        |target_us: f64, at: u32, events: &mut Vec<(u32, u8, MetaMessage<'static>)>| {
            let tempo = ((target_us - reached) / beat_per_tempo)
                .round()
                .clamp(1.0, f64::from(MAX_TEMPO)) as u32;
            reached += f64::from(tempo) * beat_per_tempo;
            events.push((at, 2, MetaMessage::Tempo(u24::new(tempo))));
        };
    for j in 0..lead {
        let target = t0 * (j + 1) as f64 / lead as f64;
        tempo_to(target, tick(j), &mut events);
    }
    for (k, &target) in times_us.iter().enumerate().skip(1) {
        tempo_to(target, tick(lead + k as u64 - 1), &mut events);
    }
    if n == 0 {
        events.push((0, 2, MetaMessage::Tempo(u24::new(500_000))));
    }
    events.sort_by_key(|e| (e.0, e.1));
    let end = if n == 0 { 0 } else { tick(total_beats - 1) };

    let mut track = Vec::with_capacity(events.len() + 1);
    let mut last = 0;
    for (t, _, m) in events {
        track.push(meta(t - last, m));
        last = t;
    }
    track.push(meta(end.saturating_sub(last), MetaMessage::EndOfTrack));
    let smf = Smf {
        header: Header::new(
            Format::Parallel,
            Timing::Metrical(u15::new(MIDI_TICKS_PER_QUARTER)),
        ),
        tracks: vec![track],
    };
    let mut out = Vec::with_capacity(64 + 8 * n);
    smf.write_std(&mut out)
        .map_err(|e| Error::InvalidInput(format!("MIDI export: {e}")))?;
    Ok(out)
}

/// A meta event with its absolute tick and where it came from (for messages).
struct Placed<T> {
    tick: u64,
    track: usize,
    event: usize,
    value: T,
}

pub(crate) fn parse(bytes: &[u8], path: &Path) -> Result<BeatList> {
    let smf = Smf::parse(bytes)
        .map_err(|e| parse_err(path, 0, format!("not a readable Standard MIDI File: {e}")))?;
    let ppq = match smf.header.timing {
        Timing::Metrical(t) => u64::from(t.as_int()),
        Timing::Timecode(..) => {
            return Err(parse_err(
                path,
                0,
                "SMPTE-timed MIDI files have no beats; a tempo map needs ticks per quarter note",
            ));
        }
    };
    if ppq == 0 {
        return Err(parse_err(path, 0, "0 ticks per quarter note"));
    }
    if smf.header.format == Format::Sequential {
        return Err(parse_err(
            path,
            0,
            "format 2 (sequential) MIDI files are not supported; save as format 0 or 1",
        ));
    }
    let mut tempos: Vec<Placed<u64>> = Vec::new();
    let mut signatures: Vec<Placed<(u8, u8)>> = Vec::new();
    let mut first_marker: Option<u64> = None;
    let mut end: u64 = 0;
    for (ti, track) in smf.tracks.iter().enumerate() {
        let mut tick: u64 = 0;
        for (ei, ev) in track.iter().enumerate() {
            tick += u64::from(ev.delta.as_int());
            let (track, event) = (ti + 1, ei + 1);
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::Tempo(t)) => tempos.push(Placed {
                    tick,
                    track,
                    event,
                    value: u64::from(t.as_int()),
                }),
                TrackEventKind::Meta(MetaMessage::TimeSignature(num, dd, _, _)) => {
                    signatures.push(Placed {
                        tick,
                        track,
                        event,
                        value: (num, dd),
                    })
                }
                TrackEventKind::Meta(MetaMessage::Marker(text))
                    if first_marker.is_none()
                        && String::from_utf8_lossy(text)
                            .trim()
                            .eq_ignore_ascii_case(FIRST_BEAT_MARKER) =>
                {
                    first_marker = Some(tick);
                }
                _ => {}
            }
        }
        end = end.max(tick);
    }
    if let Some(t) = tempos.iter().find(|t| t.value == 0) {
        return Err(parse_err(
            path,
            0,
            format!(
                "track {}, event {}: a tempo of 0 µs per quarter note",
                t.track, t.event
            ),
        ));
    }
    // Events of all tracks, in time order (stable: a later event at the same tick wins).
    tempos.sort_by_key(|t| t.tick);
    signatures.sort_by_key(|s| s.tick);
    // Bar sections: (start tick, beats per bar, ticks per beat).
    let mut sections: Vec<(u64, u64, u64)> = Vec::new();
    if signatures.first().is_none_or(|s| s.tick > 0) {
        sections.push((0, 4, ppq));
    }
    for s in &signatures {
        let (num, dd) = s.value;
        let where_ = format!("track {}, event {}", s.track, s.event);
        if num == 0 || dd > 6 {
            return Err(parse_err(
                path,
                0,
                format!("{where_}: time signature {num}/2^{dd} is not a meter"),
            ));
        }
        let unit = 1u64 << dd;
        if (4 * ppq) % unit != 0 {
            return Err(parse_err(
                path,
                0,
                format!(
                    "{where_}: a 1/{unit} note is not a whole number of ticks at {ppq} per quarter"
                ),
            ));
        }
        let section = (s.tick, u64::from(num), 4 * ppq / unit);
        match sections.last_mut() {
            Some(last) if last.0 == s.tick => *last = section,
            _ => sections.push(section),
        }
    }
    let first_beat = first_marker.unwrap_or(sections.first().map_or(ppq, |s| s.2));
    // Beat ticks and positions, bounded.
    let mut beat_ticks: Vec<(u64, u32)> = Vec::new();
    for (i, &(start, num, tpb)) in sections.iter().enumerate() {
        let stop = sections.get(i + 1).map_or(end + 1, |s| s.0);
        let count = stop.saturating_sub(start).div_ceil(tpb);
        if beat_ticks.len() as u64 + count > MAX_GRID_BEATS as u64 {
            return Err(parse_err(
                path,
                0,
                format!("the tempo map has more than {MAX_GRID_BEATS} beats"),
            ));
        }
        for m in 0..count {
            let t = start + m * tpb;
            if t >= first_beat && t <= end {
                beat_ticks.push((t, (m % num) as u32 + 1));
            }
        }
    }
    // Tick -> time, exactly: µs·ppq accumulated as integers.
    let mut times_s = Vec::with_capacity(beat_ticks.len());
    let mut acc: u128 = 0; // µs * ppq up to `at`
    let mut at: u64 = 0;
    let mut tempo: u64 = 500_000;
    let mut next = tempos.iter().peekable();
    for &(t, _) in &beat_ticks {
        while let Some(change) = next.peek().filter(|c| c.tick <= t) {
            acc += u128::from(change.tick - at) * u128::from(tempo);
            at = change.tick;
            tempo = change.value;
            next.next();
        }
        let us_ppq = acc + u128::from(t - at) * u128::from(tempo);
        times_s.push(us_ppq as f64 / ppq as f64 / 1e6);
    }
    Ok(BeatList {
        times_s,
        positions: Some(beat_ticks.iter().map(|b| b.1).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_in_and_bars_with_positions() {
        // Pickup: the first beat is beat 3 of a 3/4 bar, so the lead-in is two beats.
        let b =
            BeatList::with_positions(vec![1.0, 1.5, 2.0, 2.5, 3.0], vec![3, 1, 2, 3, 1]).unwrap();
        let bytes = render(&b, &ExportMeta::default()).unwrap();
        let back = parse(&bytes, Path::new("m.mid")).unwrap();
        assert_eq!(back.positions, b.positions);
        for (x, y) in back.times_s.iter().zip(&b.times_s) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
        // A first beat at 0 needs no lead-in; a first beat after 40 s needs three.
        for first in [0.0, 40.0] {
            let b = BeatList::new(vec![first, first + 0.5, first + 1.1]);
            let back = parse(&render(&b, &ExportMeta::default()).unwrap(), Path::new("m")).unwrap();
            assert_eq!(back.len(), 3);
            for (x, y) in back.times_s.iter().zip(&b.times_s) {
                assert!((x - y).abs() < 1e-6, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn rejects_what_is_not_a_tempo_map() {
        let p = Path::new("m.mid");
        assert!(parse(b"MThd", p).is_err());
        assert!(parse(b"", p).is_err());
        // Zero tempo.
        let smf = Smf {
            header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(96))),
            tracks: vec![vec![
                meta(0, MetaMessage::Tempo(u24::new(0))),
                meta(96, MetaMessage::EndOfTrack),
            ]],
        };
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        let e = parse(&bytes, p).unwrap_err();
        assert!(e.to_string().contains("tempo of 0"), "{e}");
    }
}
