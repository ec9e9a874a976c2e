//! Exports of a project's songs: what each song's file says about it (title, length,
//! meter, tempo) and the whole project as one DJ collection.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Author, Project, Revision, Track, TrackId};
use crate::formats::{BeatFormat, ExportMeta, ExportTrack, GridConfig, Meter, write_collection};
use crate::pipeline::global_tempo_bpm;
use crate::{Error, Result};

/// What an export of `track`'s revision `rev` says about the song: length, title (the file
/// stem), audio path and rate, tempo, meter (the revision's, else the song's or project's
/// setting) and who made the beats.
pub fn export_meta(project: &Project, track: &Track, rev: &Revision) -> Result<ExportMeta> {
    let beats_per_bar = match rev.beats_per_bar {
        Some(n) => Some(n),
        None => Some(project.settings()?.tempo_for(Some(track.id)).beats_per_bar),
    };
    let meter = beats_per_bar.and_then(|n| Meter::new(n, 4).ok());
    // A meter shorter than the positions the beats carry would be refused: keep theirs.
    let meter = meter.filter(|m| {
        rev.beats
            .positions
            .as_ref()
            .is_none_or(|p| p.iter().all(|&x| x <= m.beats_per_bar))
    });
    Ok(ExportMeta {
        duration_s: Some(track.meta.duration_s),
        title: track
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        tempo_bpm: global_tempo_bpm(&rev.beats.times_s),
        meter,
        audio_path: Some(track.path.clone()),
        sample_rate_hz: Some(track.meta.sample_rate_hz),
        data_source: if rev.author == Author::Model {
            "program".into()
        } else {
            "manual annotation".into()
        },
        ..ExportMeta::default()
    })
}

/// What [`export_project_collection`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionExport {
    /// The collection file.
    pub path: PathBuf,
    /// The format (Rekordbox or Traktor).
    pub format: BeatFormat,
    /// The songs in it, in project order.
    pub tracks: Vec<TrackId>,
    /// Songs left out because they have no beats yet.
    pub without_beats: Vec<TrackId>,
}

/// Writes every song of the project that has beats (its current revision) into ONE
/// Rekordbox XML or Traktor NML collection at `path`, each with its grid built as `grid`
/// says, and logs each song's export in the project. [`Error::InvalidInput`] for another
/// format or when no song has beats yet; the writers' errors otherwise (nothing is
/// logged then).
pub fn export_project_collection(
    project: &Project,
    format: BeatFormat,
    path: &Path,
    grid: &GridConfig,
) -> Result<CollectionExport> {
    let _span =
        tracing::info_span!("store.export_collection", path = %path.display(), %format).entered();
    if !format.is_collection() {
        return Err(Error::InvalidInput(format!(
            "{} is not a collection format: a whole project goes to rekordbox or traktor",
            format.label()
        )));
    }
    let mut songs: Vec<(Revision, ExportTrack)> = Vec::new();
    let mut without_beats = Vec::new();
    for track in project.tracks()? {
        let Some(rev) = project.head(track.id)? else {
            without_beats.push(track.id);
            continue;
        };
        let meta = export_meta(project, &track, &rev)?;
        let song = ExportTrack::from_meta(&rev.beats, &meta, format)?;
        songs.push((rev, song));
    }
    if songs.is_empty() {
        return Err(Error::InvalidInput(
            "no song of the project has beats yet: analyse or annotate one first".into(),
        ));
    }
    let tracks: Vec<ExportTrack> = songs.iter().map(|(_, s)| s.clone()).collect();
    write_collection(path, &tracks, format, grid)?;
    for (rev, _) in &songs {
        project.log_export(rev.track_id, rev.id, format.name(), path)?;
    }
    Ok(CollectionExport {
        path: path.to_path_buf(),
        format,
        tracks: songs.iter().map(|(r, _)| r.track_id).collect(),
        without_beats,
    })
}
