//! Exports from the app: one song or the whole project in the formats the user ticks, with
//! the DJ grid settings of the export dialog (issue 19: a straight grid whose tolerance the
//! user sets), and the "straighten beats" edit that puts the same grid into the song itself.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tauri::State;
use zerons::formats::{BeatFormat, GridConfig, GridStyle, write_beats_file};
use zerons::store::{Project, TrackId, export_meta, export_project_collection};

use crate::commands::{TrackView, blocking, display_name, one_track};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A format the export dialog offers.
#[derive(Debug, Clone, Serialize)]
pub struct FormatInfo {
    pub name: &'static str,
    pub label: &'static str,
    pub extension: &'static str,
    pub limitations: Option<&'static str>,
}

/// Every export format of the engine.
#[tauri::command]
pub fn export_formats() -> Vec<FormatInfo> {
    BeatFormat::ALL
        .iter()
        .map(|&f| FormatInfo {
            name: f.name(),
            label: f.label(),
            extension: f.extension(),
            limitations: f.limitations(),
        })
        .collect()
}

/// File name suffix of each format, unique even where formats share an extension.
fn suffix(format: BeatFormat) -> &'static str {
    match format {
        BeatFormat::Csv => "csv",
        BeatFormat::SvCsv => "sv.csv",
        BeatFormat::Audacity => "labels.txt",
        BeatFormat::Rekordbox => "rekordbox.xml",
        other => other.extension(),
    }
}

/// A written export file.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedFile {
    pub format: &'static str,
    pub path: String,
    pub n_beats: usize,
}

/// Export formats by name, or `unknown_format`.
fn parse_formats(formats: &[String]) -> AppResult<Vec<BeatFormat>> {
    formats
        .iter()
        .map(|name| {
            BeatFormat::from_name(name).ok_or_else(|| {
                AppError::app(
                    "unknown_format",
                    format!("unknown export format '{name}'"),
                    "Pick a format from the list.",
                )
            })
        })
        .collect()
}

/// Writes the current beats of one track in each of `formats` into `dir` as
/// `<audio file stem>.<suffix>` and logs each export.
fn export_one(
    p: &Project,
    track_id: TrackId,
    formats: &[BeatFormat],
    dir: &Path,
    grid: &GridConfig,
) -> AppResult<Vec<ExportedFile>> {
    let track = p.track(track_id)?;
    let rev = p.head(track_id)?.ok_or_else(|| {
        AppError::app(
            "no_beats",
            format!("{} has no beats yet", display_name(&track.path)),
            "Wait for the analysis to finish, or add beats by clicking the timeline.",
        )
    })?;
    let mut meta = export_meta(p, &track, &rev)?;
    meta.grid = grid.clone();
    let stem = if meta.title.is_empty() {
        format!("track{track_id}")
    } else {
        meta.title.clone()
    };
    let mut written = Vec::new();
    for &f in formats {
        let path = dir.join(format!("{stem}.{}", suffix(f)));
        write_beats_file(&path, &rev.beats, f, &meta)?;
        p.log_export(track_id, rev.id, f.name(), &path)?;
        written.push(ExportedFile {
            format: f.name(),
            path: path.display().to_string(),
            n_beats: rev.beats.len(),
        });
    }
    Ok(written)
}

/// Writes the current beats of a track in each of `formats` into `dir`, as
/// `<audio file stem>.<suffix>`, and logs each export in the project.
#[tauri::command]
pub async fn export_track(
    state: State<'_, AppState>,
    track_id: TrackId,
    formats: Vec<String>,
    dir: String,
    grid: Option<GridChoice>,
) -> AppResult<Vec<ExportedFile>> {
    let p = state.project()?;
    let formats = parse_formats(&formats)?;
    let grid = grid.unwrap_or_default().config()?;
    blocking(move || export_one(&p, track_id, &formats, Path::new(&dir), &grid)).await
}

/// Exports every song of the project into `dir`: the DJ formats (Rekordbox, Traktor) as ONE
/// collection each, `<project stem>.<suffix>`, holding every song with beats (engine
/// `store::export_project_collection`); the other formats one file per song with beats.
#[tauri::command]
pub async fn export_project(
    state: State<'_, AppState>,
    formats: Vec<String>,
    dir: String,
    grid: Option<GridChoice>,
) -> AppResult<Vec<ExportedFile>> {
    let p = state.project()?;
    let formats = parse_formats(&formats)?;
    let grid = grid.unwrap_or_default().config()?;
    blocking(move || {
        let dir = PathBuf::from(dir);
        let stem = p
            .path()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into());
        let (collections, singles): (Vec<BeatFormat>, Vec<BeatFormat>) =
            formats.into_iter().partition(|f| f.is_collection());
        let mut written = Vec::new();
        for f in collections {
            let path = dir.join(format!("{stem}.{}", suffix(f)));
            let done = export_project_collection(&p, f, &path, &grid)?;
            written.push(ExportedFile {
                format: f.name(),
                path: path.display().to_string(),
                n_beats: done.tracks.len(),
            });
        }
        if !singles.is_empty() {
            for t in p.tracks()? {
                if t.head.is_some() {
                    written.extend(export_one(&p, t.id, &singles, &dir, &grid)?);
                }
            }
        }
        Ok(written)
    })
    .await
}

/// The DJ grid settings of the export dialog and the straighten edit: the grid's style and
/// how far (ms) the beats may drift from the grid before a new tempo section starts.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct GridChoice {
    pub style: GridStyle,
    pub tolerance_ms: f64,
}

impl Default for GridChoice {
    fn default() -> Self {
        let d = GridConfig::default();
        Self {
            style: d.style,
            tolerance_ms: d.max_error_s * 1e3,
        }
    }
}

impl GridChoice {
    /// The engine's settings, or `bad_grid` naming the allowed range.
    fn config(self) -> AppResult<GridConfig> {
        let grid = GridConfig {
            style: self.style,
            max_error_s: self.tolerance_ms / 1e3,
        };
        grid.validate()
            .map_err(|_| bad_tolerance(self.tolerance_ms))?;
        Ok(grid)
    }
}

fn bad_tolerance(ms: f64) -> AppError {
    AppError::app(
        "bad_grid",
        format!("a grid tolerance of {ms} ms is outside 0–50 ms"),
        "Set the tolerance between 0 and 50 ms (25 keeps a steady song in one tempo section).",
    )
}

/// What the straighten edit did, with the song as it is now.
#[derive(Debug, Clone, Serialize)]
pub struct StraightenView {
    pub track: TrackView,
    pub n_beats: usize,
    pub n_sections: usize,
    pub bpms: Vec<f64>,
    pub max_shift_ms: f64,
    /// False when the beats were straight already (no new revision).
    pub changed: bool,
}

/// "Straighten beats": the beats between `from_s` and `to_s` move onto a straight grid
/// (constant tempo per section, within `tolerance_ms` of every beat) as one undoable edit.
/// Each beat keeps its source, so straightening checks nothing for fine-tuning.
#[tauri::command]
pub async fn straighten_beats(
    state: State<'_, AppState>,
    track_id: TrackId,
    from_s: f64,
    to_s: f64,
    tolerance_ms: f64,
) -> AppResult<StraightenView> {
    let max_error_s = GridChoice {
        style: GridStyle::Straight,
        tolerance_ms,
    }
    .config()?
    .max_error_s;
    let p = state.project()?;
    let slot = state.playback();
    blocking(move || {
        let before = p.head(track_id)?.map(|h| h.id);
        let done = p
            .straighten_beats(track_id, from_s, to_s, max_error_s)
            .map_err(|e| match e {
                zerons::Error::InvalidInput(m) => AppError::app(
                    "cannot_straighten",
                    m,
                    "Select a stretch with at least two beats, or none for the whole song.",
                ),
                e => e.into(),
            })?;
        crate::playback::sync_beats(&slot, &p, track_id);
        Ok(StraightenView {
            track: one_track(&p, track_id)?,
            n_beats: done.n_beats,
            n_sections: done.n_sections,
            bpms: done.bpms,
            max_shift_ms: done.max_shift_s * 1e3,
            changed: before != Some(done.revision),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_choices_arrive_from_the_page_and_are_checked() {
        let g: GridChoice =
            serde_json::from_str(r#"{"style":"straight","tolerance_ms":12}"#).unwrap();
        assert_eq!(g.config().unwrap().max_error_s, 0.012);
        let v: GridChoice =
            serde_json::from_str(r#"{"style":"per-beat","tolerance_ms":0}"#).unwrap();
        assert_eq!(v.config().unwrap().style, GridStyle::PerBeat);
        let bad = GridChoice {
            style: GridStyle::Straight,
            tolerance_ms: 80.0,
        };
        assert_eq!(bad.config().unwrap_err().code, "bad_grid");
        assert_eq!(
            GridChoice::default().config().unwrap(),
            GridConfig::default()
        );
    }

    #[test]
    fn export_suffixes_are_unique() {
        let mut s: Vec<_> = BeatFormat::ALL.iter().map(|&f| suffix(f)).collect();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), BeatFormat::ALL.len());
    }
}
