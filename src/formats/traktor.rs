//! Traktor collection NML (spec §4.4): one `ENTRY` per song with its `LOCATION` (`/:`
//! path encoding), `INFO` length, `TEMPO` and one grid marker (`CUE_V2 TYPE="4"`, `START`
//! in milliseconds) per constant-tempo stretch, each with a `GRID BPM` child.
//!
//! Traktor counts bars in 4/4 from every grid marker, so markers go on downbeats where
//! the positions are known (else on every fourth beat from the first), and its grid
//! extends before the first marker to the start of the track.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::grid::{self, Anchor, Constraints, GridConfig, Rounding};
use super::text::parse_err;
use super::xml::{self, Element, attr};
use super::{BeatList, ExportTrack, Meter};
use crate::{Error, Result};

/// Beats per bar in Traktor's grid.
const TRAKTOR_BAR: usize = 4;

fn nanos(t: f64) -> f64 {
    (t * 1e9).round() / 1e9 + 0.0
}

fn micro_bpm(b: f64) -> f64 {
    (b * 1e6).round() / 1e6
}

/// `START` in ms with six decimals (1 ns), BPM with six decimals.
const ROUNDING: Rounding = Rounding {
    time: nanos,
    bpm: micro_bpm,
    min_bpm: 1e-6,
};

/// VOLUME, DIR (`/:a/:b/:`) and FILE for an absolute path. A Windows drive becomes the
/// volume (`C:`); `/Volumes/NAME/…` on macOS becomes volume NAME; otherwise the volume is
/// empty.
fn location(path: &Path) -> (String, String, String) {
    let mut volume = String::new();
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(p) => volume = p.as_os_str().to_string_lossy().into_owned(),
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir => {}
        }
    }
    if volume.is_empty() && parts.len() > 2 && parts[0] == "Volumes" {
        volume = parts.remove(1);
        parts.remove(0);
    }
    let file = parts.pop().unwrap_or_default();
    let mut dir = String::from("/:");
    for p in parts {
        dir.push_str(&p);
        dir.push_str("/:");
    }
    (volume, dir, file)
}

/// The path for a LOCATION (inverse of [`location`]).
fn location_path(volume: &str, dir: &str, file: &str) -> PathBuf {
    let dir = dir.replace("/:", "/");
    let dir = if dir.starts_with('/') {
        dir
    } else {
        format!("/{dir}")
    };
    let is_drive = volume.len() == 2 && volume.ends_with(':');
    let text = if volume.is_empty() {
        format!("{dir}{file}")
    } else if is_drive {
        format!("{volume}{dir}{file}")
    } else {
        format!("/Volumes/{volume}{dir}{file}")
    };
    PathBuf::from(text)
}

/// Grid anchors for Traktor: on downbeats (or every fourth beat) where possible. With a
/// pickup before the first downbeat, the first marker goes on that downbeat if the grid
/// extended backwards keeps the pickup beats in tolerance, else on the first beat too.
fn traktor_anchors(track: &ExportTrack, cfg: &GridConfig) -> Result<Vec<Anchor>> {
    let times = &track.beats.times_s;
    let positions = track.beats.positions.as_deref();
    let is_down = |k: usize| match positions {
        Some(p) => p.get(k) == Some(&1),
        None => k.is_multiple_of(TRAKTOR_BAR),
    };
    let bpm = track.average_bpm();
    let first_down = (0..times.len()).find(|&k| is_down(k));
    let plain = |forced: &dyn Fn(usize) -> bool| {
        grid::anchors(
            times,
            cfg,
            &ROUNDING,
            &Constraints {
                allowed: &is_down,
                forced,
            },
            bpm,
        )
    };
    let Some(d) = first_down.filter(|&d| d > 0) else {
        return plain(&|_| false);
    };
    let tail = grid::anchors(
        &times[d..],
        cfg,
        &ROUNDING,
        &Constraints {
            allowed: &|k| is_down(k + d),
            forced: &|_| false,
        },
        bpm,
    )?;
    if let Some(first) = tail.first() {
        let period = 60.0 / first.bpm;
        let fits = (0..d).all(|k| {
            let line = first.time_s - (d - k) as f64 * period;
            (line - times[k]).abs() <= cfg.max_error_s
        });
        if fits {
            return Ok(tail
                .into_iter()
                .map(|a| Anchor {
                    beat: a.beat + d,
                    ..a
                })
                .collect());
        }
    }
    plain(&|k| k == d)
}

pub(crate) fn render(tracks: &[ExportTrack], cfg: &GridConfig) -> Result<String> {
    let mut out = String::with_capacity(512 + 512 * tracks.len());
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\" ?>\n<NML VERSION=\"19\">\n  \
         <HEAD COMPANY=\"www.native-instruments.com\" PROGRAM=\"Traktor\"/>\n  <MUSICFOLDERS/>\n",
    );
    let _ = writeln!(out, "  <COLLECTION ENTRIES=\"{}\">", tracks.len());
    for track in tracks {
        let path = track.absolute_path()?;
        let anchors = traktor_anchors(track, cfg).map_err(|e| match e {
            Error::InvalidInput(d) => Error::InvalidInput(format!("{}: {d}", path.display())),
            other => other,
        })?;
        let (volume, dir, file) = location(&path);
        let duration = track.duration_or_last();
        let tempo = match anchors.as_slice() {
            [only] => only.bpm,
            _ => track.average_bpm(),
        };
        let _ = writeln!(
            out,
            "    <ENTRY TITLE=\"{}\" ARTIST=\"{}\">",
            attr(&track.title),
            attr(&track.artist)
        );
        let _ = writeln!(
            out,
            "      <LOCATION DIR=\"{}\" FILE=\"{}\" VOLUME=\"{}\" VOLUMEID=\"\"/>",
            attr(&dir),
            attr(&file),
            attr(&volume)
        );
        let _ = writeln!(
            out,
            "      <INFO PLAYTIME=\"{}\" PLAYTIME_FLOAT=\"{duration:.6}\"/>",
            duration.round() as u64
        );
        let _ = writeln!(
            out,
            "      <TEMPO BPM=\"{tempo:.6}\" BPM_QUALITY=\"100.000000\"/>"
        );
        for a in &anchors {
            let _ = writeln!(
                out,
                "      <CUE_V2 NAME=\"AutoGrid\" DISPL_ORDER=\"0\" TYPE=\"4\" START=\"{:.6}\" \
                 LEN=\"0.000000\" REPEATS=\"-1\" HOTCUE=\"-1\">\n        <GRID BPM=\"{:.6}\"/>\n      \
                 </CUE_V2>",
                a.time_s * 1e3,
                a.bpm
            );
        }
        out.push_str("    </ENTRY>\n");
    }
    out.push_str("  </COLLECTION>\n</NML>\n");
    Ok(out)
}

/// Reads the `COLLECTION` entries that have grid markers.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<ExportTrack>> {
    let els = xml::elements(text, path)?;
    if let Some(root) = els.first()
        && root.name != "NML"
    {
        return Err(parse_err(
            path,
            root.line,
            format!(
                "not a Traktor NML file: the root element is <{}>",
                root.name
            ),
        ));
    }
    let Some(collection) = els.iter().position(|e| e.name == "COLLECTION") else {
        return Err(parse_err(path, 0, "Traktor NML without a <COLLECTION>"));
    };
    let mut tracks = Vec::new();
    for (ei, entry) in els.iter().enumerate() {
        if entry.name != "ENTRY" || entry.parent != Some(collection) {
            continue;
        }
        let child = |name: &str| els.iter().find(|e| e.parent == Some(ei) && e.name == name);
        let markers: Vec<(usize, &Element)> = els
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.parent == Some(ei)
                    && e.name == "CUE_V2"
                    && e.get("TYPE").map(str::trim) == Some("4")
            })
            .collect();
        if markers.is_empty() {
            continue;
        }
        let track_bpm = child("TEMPO")
            .map(|t| t.opt_number("BPM", path))
            .transpose()?
            .flatten();
        let mut anchors: Vec<(f64, f64, usize)> = Vec::with_capacity(markers.len());
        for &(mi, m) in &markers {
            let start_ms = m.number("START", path)?;
            if start_ms < 0.0 {
                return Err(parse_err(
                    path,
                    m.line,
                    format!("grid marker START=\"{start_ms}\" is negative"),
                ));
            }
            let grid_bpm = els
                .iter()
                .find(|e| e.parent == Some(mi) && e.name == "GRID")
                .map(|g| g.opt_number("BPM", path))
                .transpose()?
                .flatten();
            let bpm = grid_bpm.or(track_bpm).ok_or_else(|| {
                parse_err(
                    path,
                    m.line,
                    "grid marker without a BPM (no GRID BPM and no TEMPO BPM)",
                )
            })?;
            if bpm <= 0.0 {
                return Err(parse_err(
                    path,
                    m.line,
                    format!("grid marker BPM {bpm} must be > 0"),
                ));
            }
            anchors.push((start_ms / 1e3, bpm, m.line));
        }
        // Cue points have no order in the file; the grid has one.
        anchors.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(w) = anchors.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(parse_err(
                path,
                w[1].2,
                format!(
                    "two grid markers at {} ms (also on line {})",
                    w[1].0 * 1e3,
                    w[0].2
                ),
            ));
        }
        let info = child("INFO");
        let duration = match info {
            Some(i) => match i.opt_number("PLAYTIME_FLOAT", path)? {
                Some(d) => Some(d),
                None => i.opt_number("PLAYTIME", path)?,
            },
            None => None,
        };
        if let Some(d) = duration.filter(|d| *d < 0.0) {
            return Err(parse_err(
                path,
                info.map_or(0, |i| i.line),
                format!("negative track length {d} s"),
            ));
        }
        let pairs: Vec<(f64, f64)> = anchors.iter().map(|a| (a.0, a.1)).collect();
        let end = duration.unwrap_or_else(|| pairs.last().map_or(0.0, |a| a.0));
        let beats = grid::expand(&pairs, end, true).map_err(|d| parse_err(path, entry.line, d))?;
        let loc = child("LOCATION");
        let audio_path = match loc {
            Some(l) => location_path(
                l.get("VOLUME").unwrap_or(""),
                l.get("DIR").unwrap_or(""),
                l.get("FILE").unwrap_or(""),
            ),
            None => return Err(parse_err(path, entry.line, "<ENTRY> without a <LOCATION>")),
        };
        let bar = TRAKTOR_BAR as i64;
        tracks.push(ExportTrack {
            audio_path,
            title: entry.get("TITLE").unwrap_or("").to_string(),
            artist: entry.get("ARTIST").unwrap_or("").to_string(),
            duration_s: duration,
            beats: BeatList {
                times_s: beats.iter().map(|b| b.0).collect(),
                positions: Some(
                    beats
                        .iter()
                        .map(|b| (b.1.rem_euclid(bar) + 1) as u32)
                        .collect(),
                ),
            },
            meter: Some(Meter::COMMON),
            tempo_bpm: track_bpm.filter(|b| *b > 0.0),
        });
    }
    Ok(tracks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let (v, d, f) = location(Path::new("/home/user/Music/My Song.wav"));
        assert_eq!(
            (v.as_str(), d.as_str(), f.as_str()),
            ("", "/:home/:user/:Music/:", "My Song.wav")
        );
        assert_eq!(
            location_path(&v, &d, &f),
            Path::new("/home/user/Music/My Song.wav")
        );
        let (v, d, f) = location(Path::new("/Volumes/USB/DJ/a.mp3"));
        assert_eq!(
            (v.as_str(), d.as_str(), f.as_str()),
            ("USB", "/:DJ/:", "a.mp3")
        );
        assert_eq!(
            location_path(&v, &d, &f),
            Path::new("/Volumes/USB/DJ/a.mp3")
        );
        assert_eq!(
            location_path("C:", "/:Music/:", "x.mp3"),
            Path::new("C:/Music/x.mp3")
        );
    }

    #[test]
    fn marker_faults_name_the_line() {
        let p = Path::new("c.nml");
        let head = "<NML>\n<COLLECTION>\n<ENTRY>\n<LOCATION DIR=\"/:\" FILE=\"a.wav\"/>\n";
        for (body, line, needle) in [
            (
                "<CUE_V2 TYPE=\"4\" START=\"-5\"><GRID BPM=\"120\"/></CUE_V2>\n",
                5,
                "negative",
            ),
            ("<CUE_V2 TYPE=\"4\" START=\"5\"/>\n", 5, "without a BPM"),
            (
                "<CUE_V2 TYPE=\"4\" START=\"5\"><GRID BPM=\"-1\"/></CUE_V2>\n",
                5,
                "must be > 0",
            ),
            (
                "<CUE_V2 TYPE=\"4\" START=\"x\"/>\n",
                5,
                "not a finite number",
            ),
            (
                "<TEMPO BPM=\"120\"/>\n<CUE_V2 TYPE=\"4\" START=\"5\"/>\n<CUE_V2 TYPE=\"4\" START=\"5\"/>\n",
                7,
                "two grid markers",
            ),
        ] {
            let text = format!("{head}{body}</ENTRY></COLLECTION></NML>");
            let e = parse(&text, p).unwrap_err();
            assert!(
                matches!(&e, Error::Parse { line: l, detail, .. } if *l == line && detail.contains(needle)),
                "{body}: {e}"
            );
        }
    }
}
