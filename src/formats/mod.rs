//! `formats` stage: beat list import and export.
//!
//! | format | write | read | spec |
//! |---|---|---|---|
//! | [`BeatFormat::Csv`] | `time_s[,beat_position]` header, 6 decimals | tolerant (header, `,`/`;`/tab/space, decimal commas, quotes, comments, BOM) | — |
//! | [`BeatFormat::Beats`] | madmom `%.3f` or `%.3f\t%d` | whitespace columns, `#` comments | §4.2 |
//! | [`BeatFormat::Jams`] | jams 0.3.5 schema-valid `beat` (+ optional `tempo`) annotation | first `beat` (or `beat_position`) annotation | §4.1 |
//!
//! (§ = `specs/tracking-metrics-formats.md`.) Readers never panic on malformed input:
//! faults come back as [`Error::Parse`] with the file and line. Negative, NaN, decreasing
//! or repeated times are errors, never silently fixed — except that JAMS observations are
//! ordered by time on reading, because the JAMS data model is time-sorted (the jams
//! library sorts on load).

mod beats;
mod csv;
mod jams;
mod text;

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub use beats::BEATS_DECIMALS;
pub use csv::CSV_DECIMALS;
pub use jams::JAMS_VERSION;

/// Beat times with optional beat-in-bar positions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BeatList {
    /// Beat times in seconds, strictly increasing, >= 0.
    pub times_s: Vec<f64>,
    /// Position of each beat in its bar (1 = downbeat), one per time, if known.
    pub positions: Option<Vec<u32>>,
}

impl BeatList {
    /// Beats without positions.
    pub fn new(times_s: Vec<f64>) -> Self {
        Self {
            times_s,
            positions: None,
        }
    }

    /// Beats with positions; [`Error::InvalidInput`] if the lengths differ.
    pub fn with_positions(times_s: Vec<f64>, positions: Vec<u32>) -> Result<Self> {
        if times_s.len() != positions.len() {
            return Err(Error::InvalidInput(format!(
                "{} beat times but {} beat positions",
                times_s.len(),
                positions.len()
            )));
        }
        Ok(Self {
            times_s,
            positions: Some(positions),
        })
    }

    /// Number of beats.
    pub fn len(&self) -> usize {
        self.times_s.len()
    }

    /// True when there are no beats.
    pub fn is_empty(&self) -> bool {
        self.times_s.is_empty()
    }

    /// Checks the invariants every writer relies on: finite times >= 0, strictly
    /// increasing; positions (if any) one per beat and >= 1.
    pub fn validate(&self) -> Result<()> {
        for (i, &t) in self.times_s.iter().enumerate() {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::InvalidInput(format!(
                    "beat {i}: time {t} s is not a finite number >= 0"
                )));
            }
        }
        if let Some(i) = self.times_s.windows(2).position(|w| w[1] <= w[0]) {
            return Err(Error::InvalidInput(format!(
                "beat times must increase strictly: beat {} at {} s follows {} s",
                i + 1,
                self.times_s[i + 1],
                self.times_s[i]
            )));
        }
        if let Some(p) = &self.positions {
            if p.len() != self.times_s.len() {
                return Err(Error::InvalidInput(format!(
                    "{} beat times but {} beat positions",
                    self.times_s.len(),
                    p.len()
                )));
            }
            if let Some(i) = p.iter().position(|&x| x == 0) {
                return Err(Error::InvalidInput(format!(
                    "beat {i}: position 0 is invalid (positions start at 1 = downbeat)"
                )));
            }
        }
        Ok(())
    }
}

/// A beat file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BeatFormat {
    /// Comma-separated values with a header (`time_s[,beat_position]`).
    Csv,
    /// madmom / mir_eval plain text, one beat per line (`.beats`, `.txt`).
    Beats,
    /// JAMS (JSON Annotated Music Specification), `beat` namespace.
    Jams,
}

impl BeatFormat {
    /// Every format.
    pub const ALL: [BeatFormat; 3] = [BeatFormat::Csv, BeatFormat::Beats, BeatFormat::Jams];

    /// The lowercase name (`csv`, `beats`, `jams`).
    pub fn name(self) -> &'static str {
        match self {
            BeatFormat::Csv => "csv",
            BeatFormat::Beats => "beats",
            BeatFormat::Jams => "jams",
        }
    }

    /// The extension written files get (without the dot).
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// The format for a file extension (with or without the dot, any case): `csv`,
    /// `beats`, `txt` (madmom/mir_eval text), `jams`.
    pub fn from_extension(ext: &str) -> Option<Self> {
        let ext = ext.strip_prefix('.').unwrap_or(ext).to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(BeatFormat::Csv),
            "beats" | "txt" => Some(BeatFormat::Beats),
            "jams" => Some(BeatFormat::Jams),
            _ => None,
        }
    }

    /// The format for a path, from its extension (`song.beats.txt` is [`BeatFormat::Beats`]).
    pub fn from_path(path: &Path) -> Option<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Self::from_extension)
    }

    /// The format for a name (`csv`, `beats`, `jams`, case-insensitive) or extension.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::from_extension(name.trim())
    }
}

impl fmt::Display for BeatFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BeatFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s).ok_or_else(|| {
            Error::InvalidInput(format!(
                "unknown beat file format '{s}' (expected csv, beats or jams)"
            ))
        })
    }
}

/// What an export records besides the beats. Only JAMS stores all of it; CSV and
/// `.beats` carry the beats alone, so that every tool can read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportMeta {
    /// Length of the audio in seconds (JAMS `file_metadata.duration`, which the jams
    /// library requires). `None` uses the last beat time.
    pub duration_s: Option<f64>,
    /// Track title (JAMS `file_metadata.title`).
    pub title: String,
    /// Track artist (JAMS `file_metadata.artist`).
    pub artist: String,
    /// Release / album (JAMS `file_metadata.release`).
    pub release: String,
    /// What made the beats, e.g. `"zerons 0.1.0, model ballroom-v1, DBN"`
    /// (JAMS `annotation_metadata.annotation_tools`).
    pub annotation_tools: String,
    /// Where the beats come from (JAMS `annotation_metadata.data_source`). Default
    /// `"program"`, the JAMS convention for machine estimates.
    pub data_source: String,
    /// Version of the annotation (JAMS `annotation_metadata.version`).
    pub annotation_version: String,
    /// Global tempo in BPM; when set, JAMS gets a `tempo` annotation (confidence 1).
    pub tempo_bpm: Option<f64>,
}

impl Default for ExportMeta {
    fn default() -> Self {
        Self {
            duration_s: None,
            title: String::new(),
            artist: String::new(),
            release: String::new(),
            annotation_tools: format!("zerons {}", env!("CARGO_PKG_VERSION")),
            data_source: "program".into(),
            annotation_version: String::new(),
            tempo_bpm: None,
        }
    }
}

/// Renders `beats` in `format` as text. [`Error::InvalidInput`] if the beats break the
/// [`BeatList::validate`] invariants, if two beats would round to the same written time
/// (closer than 1 ms in `.beats`, 1 µs in CSV), or if `meta` is inconsistent (JAMS).
pub fn format_beats(beats: &BeatList, format: BeatFormat, meta: &ExportMeta) -> Result<String> {
    beats.validate()?;
    match format {
        BeatFormat::Csv => csv::render(beats),
        BeatFormat::Beats => beats::render(beats),
        BeatFormat::Jams => jams::render(beats, meta),
    }
}

/// Writes `beats` in `format` to `writer` (see [`format_beats`]). I/O failures are
/// reported as [`Error::Io`] with the path `<stream>`.
pub fn write_beats<W: Write>(
    mut writer: W,
    beats: &BeatList,
    format: BeatFormat,
    meta: &ExportMeta,
) -> Result<()> {
    let _span = tracing::info_span!("formats.write", %format, n_beats = beats.len()).entered();
    let text = format_beats(beats, format, meta)?;
    writer
        .write_all(text.as_bytes())
        .and_then(|()| writer.flush())
        .map_err(|e| Error::io("<stream>", e))
}

/// Writes `beats` in `format` to the file at `path` (created or truncated).
pub fn write_beats_file(
    path: &Path,
    beats: &BeatList,
    format: BeatFormat,
    meta: &ExportMeta,
) -> Result<()> {
    let _span = tracing::info_span!("formats.write", path = %path.display(), %format, n_beats = beats.len())
        .entered();
    let text = format_beats(beats, format, meta)?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Largest beat file the readers accept (a beat list of any real song is a few kB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads a beat file, choosing the format from the extension (see
/// [`BeatFormat::from_extension`]); with an unknown extension, text starting with `{` is
/// read as JAMS and anything else with the tolerant CSV reader.
pub fn read_beats(path: &Path) -> Result<BeatList> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "jamz" {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            detail: "gzip-compressed JAMS (.jamz) is not supported; decompress it to .jams".into(),
        });
    }
    let text = read_text(path)?;
    let format = BeatFormat::from_path(path).unwrap_or_else(|| {
        if text.trim_start().starts_with('{') {
            BeatFormat::Jams
        } else {
            BeatFormat::Csv
        }
    });
    parse_with_span(&text, format, path)
}

/// Reads a beat file in the given format, whatever its extension.
pub fn read_beats_as(path: &Path, format: BeatFormat) -> Result<BeatList> {
    let text = read_text(path)?;
    parse_with_span(&text, format, path)
}

/// Parses beat-file text in `format`; `source` names the file in errors. A leading
/// byte-order mark is ignored.
pub fn parse_beats(text: &str, format: BeatFormat, source: &Path) -> Result<BeatList> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        BeatFormat::Csv => csv::parse(text, source),
        BeatFormat::Beats => beats::parse(text, source),
        BeatFormat::Jams => jams::parse(text, source),
    }
}

fn parse_with_span(text: &str, format: BeatFormat, path: &Path) -> Result<BeatList> {
    let _span = tracing::info_span!("formats.read", path = %path.display(), %format).entered();
    parse_beats(text, format, path)
}

/// Reads a file as UTF-8 text (BOM removed), with clear errors for oversized, UTF-16 and
/// non-UTF-8 files.
fn read_text(path: &Path) -> Result<String> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            detail: format!(
                "file is {size} bytes; a beat file larger than {MAX_FILE_BYTES} bytes is not supported"
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: 1,
            detail: "UTF-16 text is not supported; save the file as UTF-8".into(),
        });
    }
    let bytes = bytes
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .map(<[u8]>::to_vec)
        .unwrap_or(bytes);
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::Parse {
            path: path.to_path_buf(),
            line,
            detail: "not UTF-8 text".into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_and_extensions() {
        assert_eq!(BeatFormat::from_extension(".CSV"), Some(BeatFormat::Csv));
        assert_eq!(BeatFormat::from_extension("txt"), Some(BeatFormat::Beats));
        assert_eq!(BeatFormat::from_extension("jamz"), None);
        assert_eq!(
            BeatFormat::from_path(Path::new("a/song.beats.txt")),
            Some(BeatFormat::Beats)
        );
        assert_eq!(BeatFormat::from_path(Path::new("noext")), None);
        for f in BeatFormat::ALL {
            assert_eq!(f.to_string().parse::<BeatFormat>().unwrap(), f);
            assert_eq!(BeatFormat::from_extension(f.extension()), Some(f));
        }
        let e = "xml".parse::<BeatFormat>().unwrap_err();
        assert!(e.to_string().contains("expected csv, beats or jams"));
        assert_eq!(
            serde_json::to_string(&BeatFormat::Jams).unwrap(),
            "\"jams\""
        );
    }

    #[test]
    fn beat_list_validation() {
        assert!(BeatList::with_positions(vec![1.0], vec![]).is_err());
        assert!(BeatList::new(vec![0.5, 0.5]).validate().is_err());
        assert!(BeatList::new(vec![-0.1]).validate().is_err());
        assert!(BeatList::new(vec![f64::NAN]).validate().is_err());
        let b = BeatList::with_positions(vec![0.5, 1.0], vec![1, 0]).unwrap();
        assert!(b.validate().is_err());
        BeatList::new(vec![0.0, 0.5]).validate().unwrap();
    }

    #[test]
    fn writers_refuse_times_that_collide_when_rounded() {
        let b = BeatList::new(vec![1.0, 1.0004]);
        let meta = ExportMeta::default();
        let e = format_beats(&b, BeatFormat::Beats, &meta).unwrap_err();
        assert!(e.to_string().contains("duplicates"), "{e}");
        // CSV has microsecond resolution, JAMS is exact.
        assert!(format_beats(&b, BeatFormat::Csv, &meta).is_ok());
        assert!(format_beats(&b, BeatFormat::Jams, &meta).is_ok());
    }

    #[test]
    fn csv_and_beats_output() {
        let b = BeatList::with_positions(vec![0.0, 0.5, 1.52], vec![4, 1, 2]).unwrap();
        let meta = ExportMeta::default();
        assert_eq!(
            format_beats(&b, BeatFormat::Csv, &meta).unwrap(),
            "time_s,beat_position\n0.000000,4\n0.500000,1\n1.520000,2\n"
        );
        assert_eq!(
            format_beats(&b, BeatFormat::Beats, &meta).unwrap(),
            "0.000\t4\n0.500\t1\n1.520\t2\n"
        );
        let b = BeatList::new(vec![-0.0, 2.0]);
        assert_eq!(
            format_beats(&b, BeatFormat::Beats, &meta).unwrap(),
            "0.000\n2.000\n"
        );
        assert_eq!(
            format_beats(&b, BeatFormat::Csv, &meta).unwrap(),
            "time_s\n0.000000\n2.000000\n"
        );
    }

    #[test]
    fn jams_export_checks_meta() {
        let b = BeatList::new(vec![0.5, 10.0]);
        let meta = ExportMeta {
            duration_s: Some(9.0),
            ..ExportMeta::default()
        };
        assert!(format_beats(&b, BeatFormat::Jams, &meta).is_err());
        let meta = ExportMeta {
            tempo_bpm: Some(f64::NAN),
            ..ExportMeta::default()
        };
        assert!(format_beats(&b, BeatFormat::Jams, &meta).is_err());
    }
}
