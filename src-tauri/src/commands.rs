//! The `#[tauri::command]`s: a few lines each over the engine. Every command that
//! touches the project or the disk runs on a blocking thread, never on the main thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tauri::ipc::{InvokeBody, Request, Response};
use tauri::{AppHandle, Manager, State};
use zerons::audio::{DecodeConfig, PeakConfig, decode_file, peak_pyramid};
use zerons::formats::{BeatList, read_beats};
use zerons::pipeline::global_tempo_bpm;
use zerons::store::{
    Author, BeatSource, NewRevision, Project, ProjectSettings, Revision, SourceCounts, Track,
    TrackId, TrackStatus, TrackTempo, check_relink, provenance,
};
use zerons::tracking::Activation;
use zerons::tracking::guide::{BeatGuide, GuideConfig, complete_beats};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::wire;

/// Runs blocking work (SQLite, decoding, file I/O) on a plain OS thread and awaits it.
///
/// Not `spawn_blocking`: `store::Project` drives its own tokio runtime with `block_on`, which
/// panics on any thread that belongs to another runtime — blocking-pool threads included.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("zerons-store".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| AppError::internal(format!("cannot start a worker thread: {e}")))?;
    rx.await
        .map_err(|_| AppError::internal("a background task stopped without answering"))?
}

/// Tempo range and meter the DBN uses when songs are tracked: the project's, or with
/// `track_id` that song's own (`clear_track` removes a song's own and returns it to the
/// project's). The active model is kept as it is.
#[tauri::command]
pub async fn set_project_settings(
    state: State<'_, AppState>,
    min_bpm: f64,
    max_bpm: f64,
    beats_per_bar: u32,
    track_id: Option<TrackId>,
    clear_track: Option<bool>,
) -> AppResult<ProjectInfo> {
    let p = state.project()?;
    blocking(move || {
        let mut settings = p.settings()?;
        match track_id {
            Some(t) if clear_track.unwrap_or(false) => {
                settings.track_tempo.remove(&t);
            }
            Some(t) => {
                p.track(t)?;
                settings.track_tempo.insert(
                    t,
                    TrackTempo {
                        min_bpm,
                        max_bpm,
                        beats_per_bar,
                    },
                );
            }
            None => {
                settings.min_bpm = min_bpm;
                settings.max_bpm = max_bpm;
                settings.beats_per_bar = beats_per_bar;
            }
        }
        p.set_settings(&settings)?;
        project_info(&p)
    })
    .await
}

/// What the page shows about the open project.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectInfo {
    pub path: String,
    pub name: String,
    pub settings: ProjectSettings,
}

fn project_info(p: &Project) -> AppResult<ProjectInfo> {
    Ok(ProjectInfo {
        path: p.path().display().to_string(),
        name: p.name()?,
        settings: p.settings()?,
    })
}

/// A beat revision, without its beats.
#[derive(Debug, Clone, Serialize)]
pub struct RevisionView {
    pub id: i64,
    pub author: Author,
    pub note: String,
    pub n_beats: usize,
    pub created_at: String,
    pub provenance: ProvenanceView,
}

/// Where a revision's beats came from: counts per source and the runs of checked beats
/// (set or confirmed by the user) as `(first beat, last beat)` times, which the timeline
/// draws and fine-tuning learns from.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceView {
    #[serde(flatten)]
    pub counts: SourceCounts,
    pub checked_spans: Vec<(f64, f64)>,
}

/// A track as the sidebar and the timeline see it.
#[derive(Debug, Clone, Serialize)]
pub struct TrackView {
    pub id: TrackId,
    pub path: String,
    pub name: String,
    pub duration_s: f64,
    pub sample_rate_hz: u32,
    pub channels: u32,
    /// `ok`, `missing` or `changed` (file moved or edited since it was added).
    pub status: &'static str,
    pub head: Option<RevisionView>,
    pub tempo_bpm: Option<f64>,
    pub can_undo: bool,
    pub can_redo: bool,
    pub n_revisions: usize,
}

fn revision_view(r: &Revision) -> RevisionView {
    RevisionView {
        id: r.id,
        author: r.author,
        note: r.note.clone(),
        n_beats: r.beats.len(),
        created_at: r.created_at.clone(),
        provenance: ProvenanceView {
            counts: SourceCounts::of(&r.sources),
            checked_spans: provenance::checked_spans_s(&r.beats.times_s, &r.sources),
        },
    }
}

pub(crate) fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn track_view(p: &Project, t: &Track, check_file: bool) -> AppResult<TrackView> {
    let history = p.history(t.id)?;
    let head = t.head.and_then(|h| history.iter().find(|r| r.id == h));
    let status = if check_file {
        match p.check_track(t.id)? {
            TrackStatus::Ok => "ok",
            TrackStatus::Missing => "missing",
            TrackStatus::Changed { .. } => "changed",
        }
    } else {
        "ok"
    };
    Ok(TrackView {
        id: t.id,
        path: t.path.display().to_string(),
        name: display_name(&t.path),
        duration_s: t.meta.duration_s,
        sample_rate_hz: t.meta.sample_rate_hz,
        channels: t.meta.channels,
        status,
        head: head.map(revision_view),
        tempo_bpm: head.and_then(|r| global_tempo_bpm(&r.beats.times_s)),
        can_undo: head.is_some_and(|r| r.parent_id.is_some()),
        can_redo: t
            .head
            .is_some_and(|h| history.iter().any(|r| r.parent_id == Some(h))),
        n_revisions: history.len(),
    })
}

pub(crate) fn one_track(p: &Project, id: TrackId) -> AppResult<TrackView> {
    track_view(p, &p.track(id)?, false)
}

/// Remembers the last projects in `<app data>/recent.json` (best effort).
fn remember_recent(app: &AppHandle, path: &Path) {
    let Ok(dir) = app.path().app_data_dir() else {
        return;
    };
    let file = dir.join("recent.json");
    let mut list: Vec<String> = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let p = path.display().to_string();
    list.retain(|x| x != &p);
    list.insert(0, p);
    list.truncate(10);
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(json) = serde_json::to_vec_pretty(&list) {
        let _ = std::fs::write(file, json);
    }
}

/// Creates a project file and opens it.
#[tauri::command]
pub async fn project_new(
    app: AppHandle,
    state: State<'_, AppState>,
    path: String,
) -> AppResult<ProjectInfo> {
    let path = PathBuf::from(path);
    let (p, info) = blocking(move || {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into());
        let p = Project::create(&path, &name, &ProjectSettings::default())?;
        let info = project_info(&p)?;
        Ok((p, info))
    })
    .await?;
    remember_recent(&app, p.path());
    state.set_project(p)?;
    Ok(info)
}

/// Opens an existing project file.
#[tauri::command]
pub async fn project_open(
    app: AppHandle,
    state: State<'_, AppState>,
    path: String,
) -> AppResult<ProjectInfo> {
    let path = PathBuf::from(path);
    let (p, info) = blocking(move || {
        let p = Project::open(&path)?;
        let info = project_info(&p)?;
        Ok((p, info))
    })
    .await?;
    remember_recent(&app, p.path());
    state.set_project(p)?;
    Ok(info)
}

/// The open project, if any.
#[tauri::command]
pub async fn project_current(state: State<'_, AppState>) -> AppResult<Option<ProjectInfo>> {
    match state.project() {
        Ok(p) => blocking(move || project_info(&p).map(Some)).await,
        Err(_) => Ok(None),
    }
}

/// The project file the app was started with (`zerons-studio FILE`, as a file manager runs
/// it on a double-click), once; the page opens it, and says why when it is not a project.
#[tauri::command]
pub fn launch_project(state: State<'_, AppState>) -> Option<String> {
    state
        .take_launch_path()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Recently opened projects that still exist, newest first.
#[tauri::command]
pub async fn recent_projects(app: AppHandle) -> AppResult<Vec<String>> {
    let Ok(dir) = app.path().app_data_dir() else {
        return Ok(Vec::new());
    };
    let list: Vec<String> = std::fs::read(dir.join("recent.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    Ok(list.into_iter().filter(|p| Path::new(p).exists()).collect())
}

/// Every track of the project, with file status and history state.
#[tauri::command]
pub async fn list_tracks(state: State<'_, AppState>) -> AppResult<Vec<TrackView>> {
    let p = state.project()?;
    blocking(move || all_tracks(&p)).await
}

/// Every track's view, files checked.
fn all_tracks(p: &Project) -> AppResult<Vec<TrackView>> {
    p.tracks()?.iter().map(|t| track_view(p, t, true)).collect()
}

/// Points a moved or changed track at `path` (the user chose the file): analyses and beat
/// revisions are kept, nothing is re-analysed. The file must decode (else its decode error,
/// nothing changes) and last as long as the song: otherwise `relink_mismatch` says both
/// durations, and the page asks before calling again with `force`.
#[tauri::command]
pub async fn relink_track(
    state: State<'_, AppState>,
    track_id: TrackId,
    path: String,
    force: Option<bool>,
) -> AppResult<TrackView> {
    let p = state.project()?;
    blocking(move || {
        let track = p.track(track_id)?;
        let new_path = Path::new(&path);
        let check = check_relink(&track, new_path)?;
        if let Some(why) = check.mismatch().filter(|_| !force.unwrap_or(false)) {
            return Err(AppError::app(
                "relink_mismatch",
                format!("{} {why}", display_name(new_path)),
                "It may be another recording or an edited version, whose beats would not fit. \
                 Choose the same recording, or relink anyway.",
            ));
        }
        p.relink_track(track_id, new_path)?;
        one_track(&p, track_id)
    })
    .await
}

/// Removes a song from the project with its analyses and beat history (the audio file is
/// not touched); stops it in the player if it was loaded. Returns the remaining songs.
#[tauri::command]
pub async fn remove_track(
    state: State<'_, AppState>,
    track_id: TrackId,
) -> AppResult<Vec<TrackView>> {
    let p = state.project()?;
    let slot = state.playback();
    blocking(move || {
        p.remove_track(track_id)?;
        crate::playback::forget_track(&slot, track_id);
        all_tracks(&p)
    })
    .await
}

/// Reads a beat file the user picked (any format the engine reads) and makes its beats the
/// song's current beats: a new revision (undoable) whose beats are all `imported`, not
/// learned from until the user checks them. A bad file is an error naming it and the line.
#[tauri::command]
pub async fn import_beat_file(
    state: State<'_, AppState>,
    track_id: TrackId,
    path: String,
) -> AppResult<TrackView> {
    let p = state.project()?;
    let slot = state.playback();
    blocking(move || {
        let file = Path::new(&path);
        let beats = read_beats(file)?;
        if beats.is_empty() {
            return Err(AppError::app(
                "no_beats",
                format!("{} holds no beats", display_name(file)),
                "Choose a beat file with at least one beat.",
            ));
        }
        let head = p.head(track_id)?;
        let note = format!("imported {}", display_name(file));
        p.commit_beats(
            track_id,
            &NewRevision {
                beats: &beats,
                author: Author::Import,
                note: &note,
                beats_per_bar: head.and_then(|h| h.beats_per_bar),
                fresh: None,
            },
        )?;
        crate::playback::sync_beats(&slot, &p, track_id);
        one_track(&p, track_id)
    })
    .await
}

/// One track's state.
#[tauri::command]
pub async fn track_state(state: State<'_, AppState>, track_id: TrackId) -> AppResult<TrackView> {
    let p = state.project()?;
    blocking(move || one_track(&p, track_id)).await
}

/// The static timeline of a track as raw bytes (see [`wire`]): waveform min/max
/// pyramid of the audio and the activation curves of its latest analysis.
#[tauri::command]
pub async fn timeline(state: State<'_, AppState>, track_id: TrackId) -> AppResult<Response> {
    let p = state.project()?;
    let (analysis_id, track) = {
        let p = p.clone();
        blocking(move || {
            let a = p.analyses(track_id)?.last().map_or(-1, |a| a.id);
            Ok((a, p.track(track_id)?))
        })
        .await?
    };
    if let Some(bytes) = state.cached_timeline(track_id, analysis_id) {
        return Ok(Response::new(Vec::clone(&bytes)));
    }
    let decodes = state.decodes();
    let bytes = blocking(move || {
        let curves = if analysis_id >= 0 {
            p.curves(analysis_id)?
        } else {
            Vec::new()
        };
        // A missing or changed file still shows its beats and curves, without waveform.
        // The player loads the same file at the same time: one decode for both.
        let peaks = decodes
            .get(&track.path, || {
                decode_file(&track.path, &DecodeConfig::default())
            })
            .ok()
            .and_then(|d| peak_pyramid(&d.signal, &PeakConfig::default()).ok());
        Ok(Arc::new(wire::encode_timeline(
            track.meta.duration_s,
            peaks.as_ref(),
            &curves,
        )))
    })
    .await?;
    state.cache_timeline(track_id, analysis_id, bytes.clone());
    Ok(Response::new(Vec::clone(&bytes)))
}

/// The current beats of a track as raw bytes (see [`wire`]).
#[tauri::command]
pub async fn beats(state: State<'_, AppState>, track_id: TrackId) -> AppResult<Response> {
    let p = state.project()?;
    blocking(move || {
        Ok(Response::new(match p.head(track_id)? {
            Some(r) => wire::encode_beats(Some(r.id), &r.beats, r.beats_per_bar),
            None => wire::encode_beats(None, &Default::default(), None),
        }))
    })
    .await
}

/// The model's revisions of a track, newest first: `back` = 0 the latest, 1 the one before.
pub fn model_revision(p: &Project, track_id: TrackId, back: usize) -> AppResult<Option<Revision>> {
    Ok(p.history(track_id)?
        .into_iter()
        .rev()
        .filter(|r| r.author == Author::Model)
        .nth(back))
}

/// Beats the model made for a track (raw bytes, see [`wire`]), whatever the user did since:
/// `back` = 0 (default) the latest model revision — what "replace this range with the model's
/// beats" takes from —, 1 the one before it — what a re-tracking changed. A revision id of
/// -1 and no beats when there is no such revision.
#[tauri::command]
pub async fn model_beats(
    state: State<'_, AppState>,
    track_id: TrackId,
    back: Option<usize>,
) -> AppResult<Response> {
    let p = state.project()?;
    blocking(move || {
        let model = model_revision(&p, track_id, back.unwrap_or(0))?;
        Ok(Response::new(match model {
            Some(m) => wire::encode_beats(Some(m.id), &m.beats, m.beats_per_bar),
            None => wire::encode_beats(None, &Default::default(), None),
        }))
    })
    .await
}

/// How far into the song the user's beats have been checked: the last beat of the last
/// run of beats the user set or confirmed (`null` when there is none).
#[tauri::command]
pub async fn corrected_until(
    state: State<'_, AppState>,
    track_id: TrackId,
) -> AppResult<Option<f64>> {
    let p = state.project()?;
    blocking(move || match p.head(track_id)? {
        Some(head) => Ok(crate::finetune::corrected_until(&head)),
        None => Ok(None),
    })
    .await
}

/// The current beats up to `until_s`, then the beats the tracker finds after it when it
/// continues their tempo and phase (engine `tracking::guide`), on the curve the latest
/// analysis tracked and with the project's tempo settings; raw bytes (see [`wire`]),
/// revision -1. Nothing is committed: the UI commits it as an edit (undoable).
#[tauri::command]
pub async fn continue_beats(
    state: State<'_, AppState>,
    track_id: TrackId,
    until_s: f64,
) -> AppResult<Response> {
    let p = state.project()?;
    blocking(move || {
        let head = p
            .head(track_id)?
            .ok_or_else(|| AppError::bad_request(format!("track {track_id} has no beats")))?;
        let not_analysed = |what: &str| {
            AppError::app(
                "not_analysed",
                what,
                "Re-track the song (tempo button), then continue.",
            )
        };
        let analysis =
            p.analyses(track_id)?.last().map(|a| a.id).ok_or_else(|| {
                not_analysed("this song has no analysis to continue the beats with")
            })?;
        let curve = p
            .curves(analysis)?
            .into_iter()
            .next()
            .ok_or_else(|| not_analysed("the song's analysis has no activation curve"))?;
        let settings = p.settings()?;
        let (config, _) = crate::jobs::analyze_config(&settings, Some(track_id), false)?;
        let activation = Activation::new(curve.values, curve.fps);
        let guide = BeatGuide {
            beats_s: &head.beats.times_s,
            until_s,
        };
        let times = complete_beats(
            &activation,
            &config.tracker,
            &guide,
            &GuideConfig::default(),
        )?;
        Ok(Response::new(wire::encode_beats(
            None,
            &BeatList::new(times),
            head.beats_per_bar,
        )))
    })
    .await
}

fn header<'a>(request: &'a Request<'_>, name: &str) -> AppResult<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::bad_request(format!("missing header {name}")))
}

/// Decodes `%XX` escapes (the page sends `encodeURIComponent` text in headers).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(v as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Commits an edit: the body is a beats payload (see [`wire`]), headers
/// `x-zerons-track` (track id) and `x-zerons-note` (URI-encoded description). Fails with
/// `conflict` when the track's head is no longer the revision the edit was made on.
#[tauri::command]
pub async fn commit_beats(
    state: State<'_, AppState>,
    request: Request<'_>,
) -> AppResult<TrackView> {
    let InvokeBody::Raw(body) = request.body() else {
        return Err(AppError::bad_request("commit_beats expects a raw body"));
    };
    let payload = wire::decode_beats(body)?;
    let track_id: TrackId = header(&request, "x-zerons-track")?
        .parse()
        .map_err(|_| AppError::bad_request("x-zerons-track is not a track id"))?;
    let note = percent_decode(header(&request, "x-zerons-note").unwrap_or("edit"));
    let p = state.project()?;
    let slot = state.playback();
    blocking(move || {
        let head = p.track(track_id)?.head.unwrap_or(-1);
        if head != payload.base_revision {
            return Err(AppError::app(
                "conflict",
                format!(
                    "the beats changed meanwhile (revision {head}, edit made on {})",
                    payload.base_revision
                ),
                "The view was refreshed; make the edit again.",
            ));
        }
        payload.beats.validate()?;
        p.commit_beats(
            track_id,
            &NewRevision {
                beats: &payload.beats,
                author: Author::User,
                note: &note,
                beats_per_bar: payload.beats_per_bar,
                fresh: Some(fresh_source(&note)),
            },
        )?;
        crate::playback::sync_beats(&slot, &p, track_id);
        one_track(&p, track_id)
    })
    .await
}

/// The source of the beats an edit adds, from the page's note: Continue → adds
/// `continued` beats and "replace with the model's beats" `model` ones (neither is checked
/// by the user); anything else is the user's.
fn fresh_source(note: &str) -> BeatSource {
    if note.starts_with("continued") {
        BeatSource::Continued
    } else if note.starts_with("model beats") {
        BeatSource::Model
    } else {
        BeatSource::User
    }
}

/// "The beats here are right": every beat between `from_s` and `to_s` becomes checked by
/// the user (a new revision with the same beats; undoable). Fine-tuning learns only from
/// checked beats.
#[tauri::command]
pub async fn confirm_beats(
    state: State<'_, AppState>,
    track_id: TrackId,
    from_s: f64,
    to_s: f64,
) -> AppResult<TrackView> {
    let p = state.project()?;
    blocking(move || {
        p.confirm_beats(track_id, from_s, to_s)
            .map_err(|e| match e {
                zerons::Error::InvalidInput(m) => AppError::app(
                    "no_beats",
                    m,
                    "Select the beats you checked, or move the playhead past them.",
                ),
                e => e.into(),
            })?;
        one_track(&p, track_id)
    })
    .await
}

/// Quits the app (Ctrl+Q): every open project is checkpointed first, so that its
/// `.zerons` file alone holds every edit, then the app exits (and checkpoints again on Exit).
#[tauri::command]
pub async fn quit_app(app: AppHandle) -> AppResult<()> {
    let handle = app.clone();
    blocking(move || {
        handle.state::<AppState>().checkpoint_projects(true);
        Ok(())
    })
    .await?;
    app.exit(0);
    Ok(())
}

/// Steps the track's history back one revision.
#[tauri::command]
pub async fn undo(state: State<'_, AppState>, track_id: TrackId) -> AppResult<TrackView> {
    let p = state.project()?;
    let slot = state.playback();
    blocking(move || {
        p.undo(track_id)?;
        crate::playback::sync_beats(&slot, &p, track_id);
        one_track(&p, track_id)
    })
    .await
}

/// Steps the track's history forward to the revision last undone.
#[tauri::command]
pub async fn redo(state: State<'_, AppState>, track_id: TrackId) -> AppResult<TrackView> {
    let p = state.project()?;
    let slot = state.playback();
    blocking(move || {
        p.redo(track_id)?;
        crate::playback::sync_beats(&slot, &p, track_id);
        one_track(&p, track_id)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("move%20beat%2012"), "move beat 12");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("bad%2"), "bad%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
