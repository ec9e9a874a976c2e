//! `formats` stage: beat list import and export.
//!
//! | format | write | read | spec |
//! |---|---|---|---|
//! | [`BeatFormat::Csv`] | `time_s[,beat_position]` header, 6 decimals | tolerant (header, `,`/`;`/tab/space, decimal commas, quotes, comments, BOM) | — |
//! | [`BeatFormat::Beats`] | madmom `%.3f` or `%.3f\t%d` | whitespace columns, `#` comments | §4.2 |
//! | [`BeatFormat::Jams`] | jams 0.3.5 schema-valid `beat` (+ optional `tempo`) annotation | first `beat` (or `beat_position`) annotation | §4.1 |
//! | [`BeatFormat::SvCsv`] | Sonic Visualiser time instants, `time,label`, 9 decimals | `time[,label]`, quoted labels | §4.5 |
//! | [`BeatFormat::Svl`] | Sonic Visualiser layer: frames at the audio's rate, labels = positions | the first time-instant model | §4.5 |
//! | [`BeatFormat::Audacity`] | label track `start\tend\tlabel`, 6 decimals | also legacy `start\tlabel`, skips `\` lines | §4.6 |
//! | [`BeatFormat::Rekordbox`] | `DJ_PLAYLISTS` XML, a `TEMPO` per tempo change or per beat | the `TEMPO` grid, up to `TotalTime` | §4.3 |
//! | [`BeatFormat::Traktor`] | NML, grid markers (`CUE_V2 TYPE=4`) with `GRID BPM` | the grid markers, over the whole track | §4.4 |
//! | [`BeatFormat::Midi`] | Standard MIDI File tempo map: every beat a note (quarter in 4/4) | tempo and time-signature events | §4.7 |
//!
//! (§ = `specs/tracking-metrics-formats.md`.) Readers never panic on malformed input:
//! faults come back as [`Error::Parse`] with the file and line (XML: the line of the
//! element; MIDI: 0, or the event number where one is to blame). Negative, NaN,
//! decreasing or repeated times are errors, never silently fixed — except that JAMS
//! observations are ordered by time on reading, because the JAMS data model is
//! time-sorted (the jams library sorts on load).
//!
//! Rekordbox and Traktor files are collections: [`ExportTrack`] and
//! [`write_collection`]/[`read_collection`] handle several songs in one file;
//! [`write_beats_file`] writes a one-song collection from [`ExportMeta::audio_path`].
//! What each format cannot store is in [`BeatFormat::limitations`].

mod audacity;
mod beats;
mod csv;
mod grid;
mod jams;
mod midi;
mod rekordbox;
mod sv;
mod text;
mod traktor;
mod xml;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub use audacity::AUDACITY_DECIMALS;
pub use beats::BEATS_DECIMALS;
pub use csv::CSV_DECIMALS;
pub use grid::{GridConfig, GridSection, GridStyle, StraightGrid, straighten_beats};
pub use jams::JAMS_VERSION;
pub use midi::MIDI_TICKS_PER_QUARTER;
pub use sv::{SV_CSV_DECIMALS, SVL_DEFAULT_SAMPLE_RATE_HZ};

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

/// Meter: beats per bar over the note value of one beat (`3/4`, `6/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Meter {
    /// Beats in a bar, 1..=255 (MIDI stores it in a byte).
    pub beats_per_bar: u32,
    /// Note value of one beat: 1, 2, 4, 8, 16, 32 or 64 (4 = quarter note).
    pub beat_unit: u32,
}

impl Meter {
    /// 4/4, what every format assumes when nothing else is known.
    pub const COMMON: Meter = Meter {
        beats_per_bar: 4,
        beat_unit: 4,
    };

    /// A checked meter (see [`Meter::validate`]).
    pub fn new(beats_per_bar: u32, beat_unit: u32) -> Result<Self> {
        let m = Meter {
            beats_per_bar,
            beat_unit,
        };
        m.validate()?;
        Ok(m)
    }

    /// [`Error::InvalidInput`] unless 1 <= beats_per_bar <= 255 and the beat unit is a
    /// power of two from 1 to 64.
    pub fn validate(&self) -> Result<()> {
        if !(1..=255).contains(&self.beats_per_bar)
            || !self.beat_unit.is_power_of_two()
            || self.beat_unit > 64
        {
            return Err(Error::InvalidInput(format!(
                "meter {self}: beats per bar must be 1..=255 and the beat unit one of \
                 1, 2, 4, 8, 16, 32, 64"
            )));
        }
        Ok(())
    }
}

impl From<(u32, u32)> for Meter {
    fn from((beats_per_bar, beat_unit): (u32, u32)) -> Self {
        Meter {
            beats_per_bar,
            beat_unit,
        }
    }
}

impl fmt::Display for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.beats_per_bar, self.beat_unit)
    }
}

impl FromStr for Meter {
    type Err = Error;

    /// Parses `"3/4"` (spaces allowed).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidInput(format!("meter '{s}' is not like 4/4"));
        let (n, d) = s.split_once('/').ok_or_else(bad)?;
        let n = n.trim().parse().map_err(|_| bad())?;
        let d = d.trim().parse().map_err(|_| bad())?;
        Meter::new(n, d)
    }
}

/// A beat file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BeatFormat {
    /// Comma-separated values with a header (`time_s[,beat_position]`).
    #[serde(rename = "csv")]
    Csv,
    /// madmom / mir_eval plain text, one beat per line (`.beats`, `.txt`).
    #[serde(rename = "beats")]
    Beats,
    /// JAMS (JSON Annotated Music Specification), `beat` namespace.
    #[serde(rename = "jams")]
    Jams,
    /// Sonic Visualiser time-instants CSV (`time,label`, no header).
    #[serde(rename = "sv-csv")]
    SvCsv,
    /// Sonic Visualiser annotation layer (`.svl`, XML).
    #[serde(rename = "svl")]
    Svl,
    /// Audacity label track (`.txt`, `start\tend\tlabel`).
    #[serde(rename = "audacity")]
    Audacity,
    /// Rekordbox collection XML (`DJ_PLAYLISTS`) with a `TEMPO` beat grid.
    #[serde(rename = "rekordbox")]
    Rekordbox,
    /// Traktor collection (`.nml`) with grid markers.
    #[serde(rename = "traktor")]
    Traktor,
    /// Standard MIDI File tempo map (`.mid`).
    #[serde(rename = "midi")]
    Midi,
}

impl BeatFormat {
    /// Every format.
    pub const ALL: [BeatFormat; 9] = [
        BeatFormat::Csv,
        BeatFormat::Beats,
        BeatFormat::Jams,
        BeatFormat::SvCsv,
        BeatFormat::Svl,
        BeatFormat::Audacity,
        BeatFormat::Rekordbox,
        BeatFormat::Traktor,
        BeatFormat::Midi,
    ];

    /// The short name (`csv`, `beats`, `jams`, `sv-csv`, `svl`, `audacity`, `rekordbox`,
    /// `traktor`, `midi`), as serde writes it.
    pub fn name(self) -> &'static str {
        match self {
            BeatFormat::Csv => "csv",
            BeatFormat::Beats => "beats",
            BeatFormat::Jams => "jams",
            BeatFormat::SvCsv => "sv-csv",
            BeatFormat::Svl => "svl",
            BeatFormat::Audacity => "audacity",
            BeatFormat::Rekordbox => "rekordbox",
            BeatFormat::Traktor => "traktor",
            BeatFormat::Midi => "midi",
        }
    }

    /// A human-readable name for menus and messages.
    pub fn label(self) -> &'static str {
        match self {
            BeatFormat::Csv => "CSV",
            BeatFormat::Beats => "madmom / mir_eval text (.beats)",
            BeatFormat::Jams => "JAMS",
            BeatFormat::SvCsv => "Sonic Visualiser time instants (CSV)",
            BeatFormat::Svl => "Sonic Visualiser layer (.svl)",
            BeatFormat::Audacity => "Audacity labels",
            BeatFormat::Rekordbox => "Rekordbox XML",
            BeatFormat::Traktor => "Traktor NML",
            BeatFormat::Midi => "MIDI tempo map",
        }
    }

    /// The extension written files get (without the dot). Several formats share one:
    /// Sonic Visualiser CSV is `csv`, Audacity labels are `txt`.
    pub fn extension(self) -> &'static str {
        match self {
            BeatFormat::Csv | BeatFormat::SvCsv => "csv",
            BeatFormat::Beats => "beats",
            BeatFormat::Jams => "jams",
            BeatFormat::Svl => "svl",
            BeatFormat::Audacity => "txt",
            BeatFormat::Rekordbox => "xml",
            BeatFormat::Traktor => "nml",
            BeatFormat::Midi => "mid",
        }
    }

    /// True for binary formats (only [`BeatFormat::Midi`]): use [`encode_beats`] and
    /// [`decode_beats`] rather than the text functions.
    pub fn is_binary(self) -> bool {
        self == BeatFormat::Midi
    }

    /// True for collections that hold several songs (Rekordbox, Traktor): see
    /// [`write_collection`].
    pub fn is_collection(self) -> bool {
        matches!(self, BeatFormat::Rekordbox | BeatFormat::Traktor)
    }

    /// True when the format stores each beat's position in its bar, so that
    /// [`BeatList::positions`] read back as written (for a consistent count: positions
    /// that run 1, 2, …, bar length). Traktor stores downbeats only through its grid
    /// markers and always counts 4/4.
    pub fn carries_positions(self) -> bool {
        self != BeatFormat::Traktor
    }

    /// What the format loses or assumes, in a sentence for the export dialog and the CLI;
    /// `None` when the beats and positions survive intact (up to the time resolution).
    pub fn limitations(self) -> Option<&'static str> {
        match self {
            BeatFormat::Csv | BeatFormat::Jams | BeatFormat::SvCsv | BeatFormat::Svl => None,
            BeatFormat::Beats => Some("times are rounded to the millisecond"),
            BeatFormat::Audacity => Some("times are rounded to the microsecond"),
            BeatFormat::Rekordbox => Some(
                "Rekordbox stores a tempo grid, not beats: a straight grid of constant-tempo \
                 sections, a new TEMPO entry only where a beat would lie further than the \
                 grid tolerance (default 10 ms) from it, so the grid is exact to the \
                 millisecond only with the per-beat grid style; the grid runs on to the end \
                 of the track; without beat positions the first beat is taken as a downbeat",
            ),
            BeatFormat::Traktor => Some(
                "Traktor stores a tempo grid, not beats, always counted in 4/4 from each \
                 grid marker: markers go on downbeats where positions are known (else every \
                 4th beat from the first), beats within the grid tolerance (default 10 ms) \
                 of a constant tempo share a marker, and the grid covers the whole track; \
                 other meters and irregular bars are not kept",
            ),
            BeatFormat::Midi => Some(
                "every beat becomes a note value of the meter (a quarter in 4/4) with tempo \
                 events at microsecond resolution; bars come from time signatures, so \
                 positions read back as counted from each downbeat; a one-beat lead-in \
                 precedes the first beat",
            ),
        }
    }

    /// The format for a file extension (with or without the dot, any case): `csv`,
    /// `beats` and `txt` (madmom/mir_eval text), `jams`, `svl`, `xml` (Rekordbox), `nml`,
    /// `mid`/`midi`. [`read_beats`] also tells Audacity labels from `.beats` text in
    /// `.txt` files by their content.
    pub fn from_extension(ext: &str) -> Option<Self> {
        let ext = ext.strip_prefix('.').unwrap_or(ext).to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(BeatFormat::Csv),
            "beats" | "txt" => Some(BeatFormat::Beats),
            "jams" => Some(BeatFormat::Jams),
            "svl" => Some(BeatFormat::Svl),
            "xml" => Some(BeatFormat::Rekordbox),
            "nml" => Some(BeatFormat::Traktor),
            "mid" | "midi" | "smf" => Some(BeatFormat::Midi),
            _ => None,
        }
    }

    /// The format for a path, from its extension (`song.beats.txt` is [`BeatFormat::Beats`]).
    pub fn from_path(path: &Path) -> Option<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Self::from_extension)
    }

    /// The format for a name ([`BeatFormat::name`], case-insensitive; also `sv`,
    /// `sonic-visualiser`, `labels`) or an extension.
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "sv-csv" | "svcsv" | "sv" | "sonic-visualiser" => Some(BeatFormat::SvCsv),
            "audacity" | "labels" => Some(BeatFormat::Audacity),
            "rekordbox" => Some(BeatFormat::Rekordbox),
            "traktor" => Some(BeatFormat::Traktor),
            other => Self::from_extension(other),
        }
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
            let names: Vec<&str> = BeatFormat::ALL.iter().map(|f| f.name()).collect();
            Error::InvalidInput(format!(
                "unknown beat file format '{s}' (expected one of {})",
                names.join(", ")
            ))
        })
    }
}

/// What an export records besides the beats. JAMS stores all the text fields; CSV and
/// `.beats` carry the beats alone, so that every tool can read them; the DJ formats need
/// [`ExportMeta::audio_path`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportMeta {
    /// Length of the audio in seconds (JAMS `file_metadata.duration`, which the jams
    /// library requires; Rekordbox `TotalTime`, Traktor `PLAYTIME`). `None` uses the last
    /// beat time.
    pub duration_s: Option<f64>,
    /// Track title (JAMS `file_metadata.title`, Rekordbox `Name`, Traktor `TITLE`, SVL
    /// layer name).
    pub title: String,
    /// Track artist (JAMS `file_metadata.artist`, Rekordbox and Traktor artist).
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
    /// Global tempo in BPM; when set, JAMS gets a `tempo` annotation (confidence 1) and
    /// Rekordbox/Traktor use it as the track's average BPM.
    pub tempo_bpm: Option<f64>,
    /// Meter (Rekordbox `Metro`, MIDI time signature). `None`: 4/4, or as many beats
    /// per bar as the largest beat position when positions are known.
    pub meter: Option<Meter>,
    /// The audio file the beats belong to (Rekordbox `Location`, Traktor `LOCATION`);
    /// required for those two. A relative path is made absolute against the current
    /// directory.
    pub audio_path: Option<PathBuf>,
    /// The audio's sample rate; `.svl` frames are counted at it (so the layer lines up
    /// with the audio in Sonic Visualiser). `None`: 44 100 Hz.
    pub sample_rate_hz: Option<u32>,
    /// How Rekordbox and Traktor grids are built.
    pub grid: GridConfig,
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
            meter: None,
            audio_path: None,
            sample_rate_hz: None,
            grid: GridConfig::default(),
        }
    }
}

/// One song of a DJ collection (Rekordbox, Traktor): what [`write_collection`] writes and
/// [`read_collection`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportTrack {
    /// The audio file (absolute; a relative path is made absolute on writing).
    pub audio_path: PathBuf,
    /// Title (empty: the file name).
    pub title: String,
    /// Artist.
    pub artist: String,
    /// Length of the audio in seconds; `None` uses the last beat.
    pub duration_s: Option<f64>,
    /// The beats (with positions when known).
    pub beats: BeatList,
    /// Meter; `None` as in [`ExportMeta::meter`].
    pub meter: Option<Meter>,
    /// Average tempo; `None` computes it from the beats.
    pub tempo_bpm: Option<f64>,
}

impl ExportTrack {
    /// A track from a beat list and export metadata; [`Error::InvalidInput`] without
    /// [`ExportMeta::audio_path`].
    pub fn from_meta(beats: &BeatList, meta: &ExportMeta, format: BeatFormat) -> Result<Self> {
        let audio_path = meta.audio_path.clone().ok_or_else(|| {
            Error::InvalidInput(format!(
                "{} export needs the path of the audio file the beats belong to, so that \
                 the DJ software can match them to its track",
                format.label()
            ))
        })?;
        Ok(ExportTrack {
            audio_path,
            title: meta.title.clone(),
            artist: meta.artist.clone(),
            duration_s: meta.duration_s,
            beats: beats.clone(),
            meter: meta.meter,
            tempo_bpm: meta.tempo_bpm,
        })
    }

    /// The meter to write: the given one, else as many beats per bar as the largest
    /// position (positions known), else 4/4. [`Error::InvalidInput`] if a position
    /// exceeds the meter's bar.
    pub(crate) fn effective_meter(&self) -> Result<Meter> {
        effective_meter(&self.beats, self.meter)
    }

    /// Checks beats, meter and duration.
    pub(crate) fn validate(&self) -> Result<()> {
        self.beats.validate()?;
        self.effective_meter()?;
        if let Some(d) = self.duration_s {
            let last = self.beats.times_s.last().copied().unwrap_or(0.0);
            if !(d.is_finite() && d >= 0.0) || last > d {
                return Err(Error::InvalidInput(format!(
                    "{}: duration {d} s must be a finite number >= 0 and not before the \
                     last beat ({last} s)",
                    self.audio_path.display()
                )));
            }
        }
        if let Some(b) = self.tempo_bpm
            && !(b.is_finite() && b > 0.0)
        {
            return Err(Error::InvalidInput(format!(
                "{}: tempo {b} BPM must be a finite number > 0",
                self.audio_path.display()
            )));
        }
        Ok(())
    }

    /// Average tempo: the given one, else from the first to the last beat, else 120.
    pub(crate) fn average_bpm(&self) -> f64 {
        if let Some(b) = self.tempo_bpm {
            return b;
        }
        let t = &self.beats.times_s;
        match (t.first(), t.last()) {
            (Some(a), Some(b)) if t.len() > 1 && b > a => 60.0 * (t.len() - 1) as f64 / (b - a),
            _ => 120.0,
        }
    }

    /// The duration to write: the given one, else the last beat.
    pub(crate) fn duration_or_last(&self) -> f64 {
        self.duration_s
            .unwrap_or_else(|| self.beats.times_s.last().copied().unwrap_or(0.0))
    }

    /// The absolute audio path.
    pub(crate) fn absolute_path(&self) -> Result<PathBuf> {
        std::path::absolute(&self.audio_path).map_err(|e| Error::io(&self.audio_path, e))
    }
}

pub(crate) fn effective_meter(beats: &BeatList, meter: Option<Meter>) -> Result<Meter> {
    let max_pos = beats
        .positions
        .as_ref()
        .and_then(|p| p.iter().copied().max());
    let m = match (meter, max_pos) {
        (Some(m), _) => m,
        (None, Some(p)) if p >= 2 => Meter {
            beats_per_bar: p,
            beat_unit: 4,
        },
        _ => Meter::COMMON,
    };
    m.validate()?;
    if let Some(p) = max_pos
        && p > m.beats_per_bar
    {
        return Err(Error::InvalidInput(format!(
            "a beat has position {p}, but the meter {m} has {} beats per bar",
            m.beats_per_bar
        )));
    }
    Ok(m)
}

/// Renders `beats` in a text `format`. [`Error::InvalidInput`] if the beats break the
/// [`BeatList::validate`] invariants, if two beats would round to the same written time
/// (closer than the format's resolution), if `meta` is inconsistent (duration before the
/// last beat, a position beyond the meter), if a DJ format lacks
/// [`ExportMeta::audio_path`], or for the binary [`BeatFormat::Midi`] (use
/// [`encode_beats`]).
pub fn format_beats(beats: &BeatList, format: BeatFormat, meta: &ExportMeta) -> Result<String> {
    beats.validate()?;
    match format {
        BeatFormat::Csv => csv::render(beats),
        BeatFormat::Beats => beats::render(beats),
        BeatFormat::Jams => jams::render(beats, meta),
        BeatFormat::SvCsv => sv::render_csv(beats),
        BeatFormat::Svl => sv::render_svl(beats, meta),
        BeatFormat::Audacity => audacity::render(beats),
        BeatFormat::Rekordbox | BeatFormat::Traktor => format_collection(
            &[ExportTrack::from_meta(beats, meta, format)?],
            format,
            &meta.grid,
        ),
        BeatFormat::Midi => Err(Error::InvalidInput(
            "a MIDI tempo map is binary; use encode_beats".into(),
        )),
    }
}

/// Renders `beats` in any `format` as the bytes of a file (UTF-8 text, or a Standard
/// MIDI File). Errors as [`format_beats`].
pub fn encode_beats(beats: &BeatList, format: BeatFormat, meta: &ExportMeta) -> Result<Vec<u8>> {
    match format {
        BeatFormat::Midi => {
            beats.validate()?;
            midi::render(beats, meta)
        }
        _ => format_beats(beats, format, meta).map(String::into_bytes),
    }
}

/// Writes `beats` in `format` to `writer` (see [`encode_beats`]). I/O failures are
/// reported as [`Error::Io`] with the path `<stream>`.
pub fn write_beats<W: Write>(
    mut writer: W,
    beats: &BeatList,
    format: BeatFormat,
    meta: &ExportMeta,
) -> Result<()> {
    let _span = tracing::info_span!("formats.write", %format, n_beats = beats.len()).entered();
    let bytes = encode_beats(beats, format, meta)?;
    writer
        .write_all(&bytes)
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
    let bytes = encode_beats(beats, format, meta)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Renders several songs as one Rekordbox or Traktor collection.
/// [`Error::InvalidInput`] for other formats, for an invalid track (see
/// [`BeatList::validate`]; a duration before the last beat; a position beyond the meter)
/// or a beat list the grid cannot hold (beats minutes apart); [`Error::Config`] for a bad
/// `grid`.
pub fn format_collection(
    tracks: &[ExportTrack],
    format: BeatFormat,
    grid: &GridConfig,
) -> Result<String> {
    grid.validate()?;
    for t in tracks {
        t.validate()?;
    }
    match format {
        BeatFormat::Rekordbox => rekordbox::render(tracks, grid),
        BeatFormat::Traktor => traktor::render(tracks, grid),
        other => Err(Error::InvalidInput(format!(
            "{} is not a collection format (use rekordbox or traktor)",
            other.label()
        ))),
    }
}

/// Writes several songs to one Rekordbox XML or Traktor NML file (see
/// [`format_collection`]). Import the file into the DJ software (Rekordbox: File >
/// Import > rekordbox xml; Traktor: Import Collection, with Traktor closed if you replace
/// `collection.nml`).
pub fn write_collection(
    path: &Path,
    tracks: &[ExportTrack],
    format: BeatFormat,
    grid: &GridConfig,
) -> Result<()> {
    let _span = tracing::info_span!("formats.write_collection", path = %path.display(), %format, n_tracks = tracks.len())
        .entered();
    let text = format_collection(tracks, format, grid)?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Reads every track with a beat grid from a Rekordbox XML or Traktor NML collection
/// (format from the extension, else from the root element). Tracks without a grid are
/// skipped.
pub fn read_collection(path: &Path) -> Result<Vec<ExportTrack>> {
    let _span = tracing::info_span!("formats.read_collection", path = %path.display()).entered();
    let bytes = read_bytes(path)?;
    let text = bytes_to_text(bytes, path)?;
    let format = match BeatFormat::from_path(path) {
        Some(f) if f.is_collection() => f,
        _ => sniff_text(&text, path).unwrap_or(BeatFormat::Csv),
    };
    parse_collection(&text, format, path)
}

/// Parses a Rekordbox or Traktor collection's text; `source` names the file in errors.
pub fn parse_collection(text: &str, format: BeatFormat, source: &Path) -> Result<Vec<ExportTrack>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        BeatFormat::Rekordbox => rekordbox::parse(text, source),
        BeatFormat::Traktor => traktor::parse(text, source),
        other => Err(Error::Parse {
            path: source.to_path_buf(),
            line: 0,
            detail: format!(
                "not a Rekordbox or Traktor collection (read as {})",
                other.label()
            ),
        }),
    }
}

/// Largest beat file the readers accept (a beat list of any real song is a few kB; a DJ
/// collection of 20 000 tracks a few tens of MB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads a beat file, choosing the format from the extension (see
/// [`BeatFormat::from_extension`]; a `.txt` file with three tab-separated columns or `\`
/// lines is read as Audacity labels). With an unknown extension the content decides:
/// `MThd` is MIDI, `{` JAMS, XML by its root element (`sv`, `DJ_PLAYLISTS`, `NML`), and
/// anything else goes to the tolerant CSV reader. A DJ collection must hold exactly one
/// track with a beat grid (else use [`read_collection`]).
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
    let bytes = read_bytes(path)?;
    if bytes.starts_with(b"MThd") || BeatFormat::from_path(path) == Some(BeatFormat::Midi) {
        return decode_with_span(&bytes, BeatFormat::Midi, path);
    }
    let text = bytes_to_text(bytes, path)?;
    let format = match BeatFormat::from_path(path) {
        Some(BeatFormat::Beats) if ext == "txt" && audacity::looks_like(&text) => {
            BeatFormat::Audacity
        }
        Some(f) => f,
        None => sniff_text(&text, path).unwrap_or(BeatFormat::Csv),
    };
    parse_with_span(&text, format, path)
}

/// Reads a beat file in the given format, whatever its extension.
pub fn read_beats_as(path: &Path, format: BeatFormat) -> Result<BeatList> {
    let bytes = read_bytes(path)?;
    if format.is_binary() {
        return decode_with_span(&bytes, format, path);
    }
    let text = bytes_to_text(bytes, path)?;
    parse_with_span(&text, format, path)
}

/// Parses beat-file text in `format`; `source` names the file in errors. A leading
/// byte-order mark is ignored. (MIDI is binary: see [`decode_beats`].)
pub fn parse_beats(text: &str, format: BeatFormat, source: &Path) -> Result<BeatList> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        BeatFormat::Csv => csv::parse(text, source),
        BeatFormat::Beats => beats::parse(text, source),
        BeatFormat::Jams => jams::parse(text, source),
        BeatFormat::SvCsv => sv::parse_csv(text, source),
        BeatFormat::Svl => sv::parse_svl(text, source),
        BeatFormat::Audacity => audacity::parse(text, source),
        BeatFormat::Rekordbox | BeatFormat::Traktor => {
            single_track(parse_collection(text, format, source)?, format, source)
        }
        BeatFormat::Midi => midi::parse(text.as_bytes(), source),
    }
}

/// Parses the bytes of a beat file in `format` (text formats must be UTF-8).
pub fn decode_beats(bytes: &[u8], format: BeatFormat, source: &Path) -> Result<BeatList> {
    if format.is_binary() {
        return midi::parse(bytes, source);
    }
    let text = bytes_to_text(bytes.to_vec(), source)?;
    parse_beats(&text, format, source)
}

fn single_track(tracks: Vec<ExportTrack>, format: BeatFormat, source: &Path) -> Result<BeatList> {
    let n = tracks.len();
    let mut tracks = tracks.into_iter();
    match (tracks.next(), n) {
        (Some(t), 1) => Ok(t.beats),
        (_, 0) => Err(Error::Parse {
            path: source.to_path_buf(),
            line: 0,
            detail: format!("the {} has no track with a beat grid", format.label()),
        }),
        _ => Err(Error::Parse {
            path: source.to_path_buf(),
            line: 0,
            detail: format!(
                "the {} has {n} tracks with beat grids; read it as a collection and pick one",
                format.label()
            ),
        }),
    }
}

/// The format of text whose extension says nothing.
fn sniff_text(text: &str, _path: &Path) -> Option<BeatFormat> {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with('{') {
        return Some(BeatFormat::Jams);
    }
    if head.starts_with('<') {
        let window = &text[..text.len().min(4096)];
        let root = |tag: &str| {
            window.contains(&format!("<{tag}>")) || window.contains(&format!("<{tag} "))
        };
        if root("DJ_PLAYLISTS") {
            return Some(BeatFormat::Rekordbox);
        }
        if root("NML") {
            return Some(BeatFormat::Traktor);
        }
        if root("sv") {
            return Some(BeatFormat::Svl);
        }
    }
    None
}

fn parse_with_span(text: &str, format: BeatFormat, path: &Path) -> Result<BeatList> {
    let _span = tracing::info_span!("formats.read", path = %path.display(), %format).entered();
    parse_beats(text, format, path)
}

fn decode_with_span(bytes: &[u8], format: BeatFormat, path: &Path) -> Result<BeatList> {
    let _span = tracing::info_span!("formats.read", path = %path.display(), %format).entered();
    decode_beats(bytes, format, path)
}

/// Reads a file of at most [`MAX_FILE_BYTES`].
fn read_bytes(path: &Path) -> Result<Vec<u8>> {
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
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// UTF-8 text (BOM removed), with clear errors for UTF-16, bzip2 (Sonic Visualiser
/// sessions) and non-UTF-8 files.
fn bytes_to_text(bytes: Vec<u8>, path: &Path) -> Result<String> {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: 1,
            detail: "UTF-16 text is not supported; save the file as UTF-8".into(),
        });
    }
    if bytes.starts_with(b"BZh") {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            detail: "bzip2-compressed file (a Sonic Visualiser session?) is not supported; \
                     export the layer as .svl or CSV (File > Export Annotation Layer)"
                .into(),
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
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.name())
            );
            // Shared extensions: SV CSV reads as CSV, Audacity .txt is told by content.
            assert!(BeatFormat::from_extension(f.extension()).is_some());
            assert_eq!(f.carries_positions(), f != BeatFormat::Traktor);
        }
        assert_eq!(
            BeatFormat::from_name("Audacity"),
            Some(BeatFormat::Audacity)
        );
        assert_eq!(BeatFormat::from_extension("MIDI"), Some(BeatFormat::Midi));
        let e = "wav".parse::<BeatFormat>().unwrap_err();
        assert!(
            e.to_string()
                .contains("expected one of csv, beats, jams, sv-csv"),
            "{e}"
        );
        assert_eq!("6 / 8".parse::<Meter>().unwrap(), Meter::new(6, 8).unwrap());
        assert!("3/5".parse::<Meter>().is_err());
        assert!(Meter::new(0, 4).is_err());
        assert_eq!(Meter::COMMON.to_string(), "4/4");
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
