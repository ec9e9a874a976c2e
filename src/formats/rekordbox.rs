//! Rekordbox collection XML (`DJ_PLAYLISTS` 1.0.0, spec §4.3): one `TRACK` per song in
//! the `COLLECTION` and a `ZeroNS` playlist holding them; each track's beat grid is a
//! list of `TEMPO` elements (`Inizio` s, `Bpm`, `Metro`, `Battito` = position of the
//! anchor beat in its bar).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::grid::{self, Constraints, GridConfig, Rounding};
use super::text::parse_err;
use super::xml::{self, Element, attr};
use super::{BeatList, ExportTrack, Meter};
use crate::{Error, Result};

fn ms(t: f64) -> f64 {
    (t * 1e3).round() / 1e3 + 0.0
}

fn centi(b: f64) -> f64 {
    (b * 100.0).round() / 100.0
}

/// Inizio with three decimals, Bpm with two: what Rekordbox itself writes.
const ROUNDING: Rounding = Rounding {
    time: ms,
    bpm: centi,
    min_bpm: 0.01,
};

/// `file://localhost/` + the percent-encoded absolute path (`/` separators; a Windows
/// drive stays as `C:`).
pub(crate) fn location_uri(path: &Path) -> String {
    let text = path.to_string_lossy();
    let text = if cfg!(windows) {
        text.replace('\\', "/")
    } else {
        text.into_owned()
    };
    let mut out = String::from("file://localhost/");
    for &b in text.trim_start_matches('/').as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:()".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The path in a `Location` URI (`file://localhost/…`, `file:///…`), percent-decoded.
pub(crate) fn location_path(uri: &str) -> PathBuf {
    let rest = uri
        .strip_prefix("file://localhost/")
        .or_else(|| uri.strip_prefix("file:///"))
        .or_else(|| uri.strip_prefix("file://"))
        .unwrap_or(uri);
    let bytes = rest.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(h), Some(l)) => {
                decoded.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8_lossy(&decoded).into_owned();
    let drive =
        text.len() >= 2 && text.as_bytes()[1] == b':' && text.as_bytes()[0].is_ascii_alphabetic();
    if drive || uri == rest {
        PathBuf::from(text)
    } else {
        PathBuf::from(format!("/{text}"))
    }
}

/// Rekordbox's `Kind` for an audio file extension.
fn kind(path: &Path) -> String {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("aif") => "AIFF File".into(),
        Some(e) if e.eq_ignore_ascii_case("m4a") || e.eq_ignore_ascii_case("mp4") => {
            "M4A File".into()
        }
        Some(e) => format!("{} File", e.to_ascii_uppercase()),
        None => "Audio File".into(),
    }
}

pub(crate) fn render(tracks: &[ExportTrack], cfg: &GridConfig) -> Result<String> {
    let mut out = String::with_capacity(512 + 256 * tracks.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DJ_PLAYLISTS Version=\"1.0.0\">\n");
    let _ = writeln!(
        out,
        "  <PRODUCT Name=\"ZeroNS Studio\" Version=\"{}\" Company=\"ZeroNS\"/>",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "  <COLLECTION Entries=\"{}\">", tracks.len());
    for (k, track) in tracks.iter().enumerate() {
        render_track(&mut out, k + 1, track, cfg)?;
    }
    out.push_str(
        "  </COLLECTION>\n  <PLAYLISTS>\n    <NODE Type=\"0\" Name=\"ROOT\" Count=\"1\">\n",
    );
    let _ = writeln!(
        out,
        "      <NODE Name=\"ZeroNS\" Type=\"1\" KeyType=\"0\" Entries=\"{}\">",
        tracks.len()
    );
    for k in 1..=tracks.len() {
        let _ = writeln!(out, "        <TRACK Key=\"{k}\"/>");
    }
    out.push_str("      </NODE>\n    </NODE>\n  </PLAYLISTS>\n</DJ_PLAYLISTS>\n");
    Ok(out)
}

fn render_track(out: &mut String, id: usize, track: &ExportTrack, cfg: &GridConfig) -> Result<()> {
    let path = track.absolute_path()?;
    let meter = track.effective_meter()?;
    let bpb = meter.beats_per_bar;
    let positions = track.beats.positions.as_deref();
    // Position of beat k: as given, else counted from the first beat as a downbeat.
    let position = |k: usize| -> u32 {
        positions
            .and_then(|p| p.get(k).copied())
            .unwrap_or((k % bpb as usize) as u32 + 1)
    };
    // Rekordbox counts positions on from each anchor: a count that breaks needs one.
    let forced = |k: usize| k > 0 && position(k) != position(k - 1) % bpb + 1;
    let anchors = grid::anchors(
        &track.beats.times_s,
        cfg,
        &ROUNDING,
        &Constraints {
            allowed: &|_| true,
            forced: &forced,
        },
        track.average_bpm(),
    )
    .map_err(|e| in_track(e, &path))?;
    let name = if track.title.is_empty() {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        track.title.clone()
    };
    let _ = writeln!(
        out,
        "    <TRACK TrackID=\"{id}\" Name=\"{}\" Artist=\"{}\" Kind=\"{}\" TotalTime=\"{}\" \
         AverageBpm=\"{:.2}\" Location=\"{}\">",
        attr(&name),
        attr(&track.artist),
        attr(&kind(&path)),
        track.duration_or_last().ceil() as u64,
        track.average_bpm(),
        attr(&location_uri(&path)),
    );
    for a in &anchors {
        let _ = writeln!(
            out,
            "      <TEMPO Inizio=\"{:.3}\" Bpm=\"{:.2}\" Metro=\"{meter}\" Battito=\"{}\"/>",
            a.time_s,
            a.bpm,
            position(a.beat)
        );
    }
    out.push_str("    </TRACK>\n");
    Ok(())
}

fn in_track(e: Error, path: &Path) -> Error {
    match e {
        Error::InvalidInput(d) => Error::InvalidInput(format!("{}: {d}", path.display())),
        other => other,
    }
}

/// Reads the `COLLECTION` tracks that have `TEMPO` grids.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<ExportTrack>> {
    let els = xml::elements(text, path)?;
    if let Some(root) = els.first()
        && root.name != "DJ_PLAYLISTS"
    {
        return Err(parse_err(
            path,
            root.line,
            format!(
                "not a Rekordbox XML file: the root element is <{}>",
                root.name
            ),
        ));
    }
    let Some(collection) = els.iter().position(|e| e.name == "COLLECTION") else {
        return Err(parse_err(path, 0, "Rekordbox XML without a <COLLECTION>"));
    };
    let mut tracks = Vec::new();
    for (ti, track) in els.iter().enumerate() {
        if track.name != "TRACK" || track.parent != Some(collection) {
            continue;
        }
        let tempos: Vec<&Element> = els
            .iter()
            .filter(|e| e.parent == Some(ti) && e.name == "TEMPO")
            .collect();
        if tempos.is_empty() {
            continue;
        }
        tracks.push(parse_track(track, &tempos, path)?);
    }
    Ok(tracks)
}

fn parse_track(track: &Element, tempos: &[&Element], path: &Path) -> Result<ExportTrack> {
    let location = track.require("Location", path)?;
    let mut anchors = Vec::with_capacity(tempos.len());
    let mut counts = Vec::with_capacity(tempos.len());
    for (k, t) in tempos.iter().enumerate() {
        let inizio = t.number("Inizio", path)?;
        let bpm = t.number("Bpm", path)?;
        if inizio < 0.0 {
            return Err(parse_err(
                path,
                t.line,
                format!("<TEMPO> Inizio=\"{inizio}\" is negative"),
            ));
        }
        if bpm <= 0.0 {
            return Err(parse_err(
                path,
                t.line,
                format!("<TEMPO> Bpm=\"{bpm}\" must be > 0"),
            ));
        }
        if let Some(&(prev, _)) = anchors.last()
            && inizio <= prev
        {
            return Err(parse_err(
                path,
                t.line,
                format!(
                    "<TEMPO> Inizio=\"{inizio}\" does not come after the previous TEMPO \
                     (line {}, {prev} s)",
                    tempos[k - 1].line
                ),
            ));
        }
        let meter = match t.get("Metro") {
            Some(m) => m.parse::<Meter>().map_err(|_| {
                parse_err(
                    path,
                    t.line,
                    format!("<TEMPO> Metro=\"{m}\" is not a meter like 4/4"),
                )
            })?,
            None => Meter::COMMON,
        };
        let battito = match t.get("Battito") {
            Some(b) => b
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|&b| (1..=meter.beats_per_bar).contains(&b))
                .ok_or_else(|| {
                    parse_err(
                        path,
                        t.line,
                        format!("<TEMPO> Battito=\"{b}\" is not a beat of a {meter} bar"),
                    )
                })?,
            None => 1,
        };
        anchors.push((inizio, bpm));
        counts.push((meter, battito));
    }
    let end = match track.opt_number("TotalTime", path)? {
        Some(d) if d >= 0.0 => d,
        Some(d) => {
            return Err(parse_err(
                path,
                track.line,
                format!("<TRACK> TotalTime=\"{d}\" is negative"),
            ));
        }
        None => anchors.last().map_or(0.0, |a| a.0),
    };
    let beats = grid::expand(&anchors, end, false).map_err(|d| parse_err(path, track.line, d))?;
    let times_s = beats.iter().map(|b| b.0).collect();
    let positions = beats
        .iter()
        .map(|&(_, m, a)| {
            let (meter, battito) = counts[a];
            let n = i64::from(meter.beats_per_bar);
            ((i64::from(battito) - 1 + m).rem_euclid(n) + 1) as u32
        })
        .collect();
    Ok(ExportTrack {
        audio_path: location_path(location),
        title: track.get("Name").unwrap_or("").to_string(),
        artist: track.get("Artist").unwrap_or("").to_string(),
        duration_s: track.opt_number("TotalTime", path)?,
        beats: BeatList {
            times_s,
            positions: Some(positions),
        },
        meter: counts.first().map(|c| c.0),
        tempo_bpm: track.opt_number("AverageBpm", path)?.filter(|b| *b > 0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let uri = location_uri(Path::new("/home/user/Music/My Song (Mix) é%.wav"));
        assert_eq!(
            uri,
            "file://localhost/home/user/Music/My%20Song%20(Mix)%20%C3%A9%25.wav"
        );
        assert_eq!(
            location_path(&uri),
            Path::new("/home/user/Music/My Song (Mix) é%.wav")
        );
        assert_eq!(
            location_path("file://localhost/C:/Music/x%20y.mp3"),
            Path::new("C:/Music/x y.mp3")
        );
        assert_eq!(
            location_path("file:///a/b%zz.mp3"),
            Path::new("/a/b%zz.mp3")
        );
    }

    #[test]
    fn tempo_faults_name_the_line() {
        let p = Path::new("r.xml");
        let head = "<DJ_PLAYLISTS>\n<COLLECTION>\n<TRACK Location=\"file://localhost/a.wav\" TotalTime=\"10\">\n";
        for (body, line, needle) in [
            (
                "<TEMPO Inizio=\"1\" Bpm=\"120\"/>\n<TEMPO Inizio=\"0.5\" Bpm=\"120\"/>\n",
                5,
                "does not come after",
            ),
            ("<TEMPO Inizio=\"-1\" Bpm=\"120\"/>\n", 4, "negative"),
            ("<TEMPO Inizio=\"1\" Bpm=\"0\"/>\n", 4, "must be > 0"),
            (
                "<TEMPO Inizio=\"1\" Bpm=\"NaN\"/>\n",
                4,
                "not a finite number",
            ),
            (
                "<TEMPO Inizio=\"1\" Bpm=\"120\" Metro=\"4/4\" Battito=\"5\"/>\n",
                4,
                "Battito=\"5\"",
            ),
            (
                "<TEMPO Inizio=\"1\" Bpm=\"120\" Metro=\"x\"/>\n",
                4,
                "Metro=\"x\"",
            ),
            ("<TEMPO Bpm=\"120\"/>\n", 4, "no Inizio"),
            ("<TEMPO Inizio=\"0\" Bpm=\"1e9\"/>\n", 3, "more than"),
        ] {
            let text = format!("{head}{body}</TRACK></COLLECTION></DJ_PLAYLISTS>");
            let e = parse(&text, p).unwrap_err();
            assert!(
                matches!(&e, Error::Parse { line: l, detail, .. } if *l == line && detail.contains(needle)),
                "{body}: {e}"
            );
        }
    }
}
