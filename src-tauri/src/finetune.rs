//! Fine-tuning from the app: train on the songs the user corrected and report the held-out
//! before/after; making the new model the project's one is [`crate::adopt`]'s (per song,
//! never replacing beats the user has not accepted).
//!
//! What is trained on: each chosen song's longest run of beats the user set or confirmed
//! (`zerons::store::provenance`), never beats a model, Continue → or a file made that nobody
//! checked; "every beat was checked" confirms the whole song first (a revision). The engine
//! holds out the end of each region and keeps the base model active unless the new one does
//! better there (`zerons::train::finetune`). Models live beside the project file in
//! `<project>.models/<model id>/` and are registered in the project with their training run.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};
use zerons::model::{
    ComputeDevice, DeviceChoice, LoadedModel, bundled_model_dir, load_model, save_model,
    select_device,
};
use zerons::pipeline::{AnalyzeConfig, CancelToken, analyze_features, analyze_file, song_features};
use zerons::store::{
    Model, ModelId, Project, Revision, RunStatus, SourceCounts, TrackId, provenance,
};
use zerons::train::{
    AnnotatedSong, BarsFinetuneReport, FinetuneConfig, FinetuneMode, HeldOutScores, changed_beats,
    finetune,
};

use crate::commands::model_revision;
use crate::commands::{blocking, display_name};
use crate::error::{AppError, AppResult, guarded};
use crate::jobs::{analyze_config, store_analysis};
use crate::state::AppState;

/// A song the panel offers, with exactly what fine-tuning would learn from it: the longest
/// run of beats the user set or confirmed (`zerons::store::provenance::learn_run`). Beats a
/// model or Continue → made, or a file brought, are never learned from until checked.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub track_id: TrackId,
    pub name: String,
    /// The song has a run of checked beats long enough to learn from.
    pub corrected: bool,
    /// End of `learn_region_s` (kept for older pages).
    pub corrected_until_s: Option<f64>,
    /// First and last beat of the run learned from.
    pub learn_region_s: Option<(f64, f64)>,
    /// Beats in that run.
    pub learn_beats: usize,
    /// Beats the user set or moved, in the whole song.
    pub user_beats: usize,
    /// Beats the user confirmed, in the whole song.
    pub confirmed_beats: usize,
    /// Beats nobody checked (model, continued, imported).
    pub unchecked_beats: usize,
    /// Of those, beats read from a file.
    pub imported_beats: usize,
    pub n_beats: usize,
    pub duration_s: f64,
}

impl Candidate {
    fn of(track: &zerons::store::Track, head: &Revision) -> Self {
        let counts = SourceCounts::of(&head.sources);
        let run = provenance::learn_run(&head.sources);
        let region = run.as_ref().and_then(|r| {
            let t = &head.beats.times_s;
            Some((*t.get(r.start)?, *t.get(r.end.checked_sub(1)?)?))
        });
        Self {
            track_id: track.id,
            name: display_name(&track.path),
            corrected: region.is_some(),
            corrected_until_s: region.map(|r| r.1),
            learn_region_s: region,
            learn_beats: run.map_or(0, |r| r.len()),
            user_beats: counts.user,
            confirmed_beats: counts.confirmed,
            unchecked_beats: counts.unchecked(),
            imported_beats: counts.imported,
            n_beats: head.beats.len(),
            duration_s: track.meta.duration_s,
        }
    }
}

/// A model of the project (or the shipped one, `id` None).
#[derive(Debug, Clone, Serialize)]
pub struct ModelView {
    pub id: Option<ModelId>,
    pub name: String,
    pub parent_id: Option<ModelId>,
    pub active: bool,
}

/// What the fine-tuning panel opens with.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneInfo {
    pub candidates: Vec<Candidate>,
    pub models: Vec<ModelView>,
    /// Where training runs (`CPU (burn flex)` or the GPU's name).
    pub device: String,
    pub device_is_gpu: bool,
    /// Why not a GPU, when not.
    pub device_note: Option<String>,
}

/// Held-out scores for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub f_measure: f64,
    pub cmlt: f64,
    pub amlt: f64,
    pub beats: usize,
}

impl From<&HeldOutScores> for Scores {
    fn from(h: &HeldOutScores) -> Self {
        Self {
            f_measure: h.f_measure,
            cmlt: h.cmlt,
            amlt: h.amlt,
            beats: h.beats,
        }
    }
}

/// One trained song in the report.
#[derive(Debug, Clone, Serialize)]
pub struct SongReport {
    pub track_id: TrackId,
    pub name: String,
    /// End of the region trained on (s).
    pub region_end_s: f64,
    pub beats: usize,
}

/// The end of a run: the before/after table and the new model.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneReport {
    pub run_id: i64,
    pub model_id: ModelId,
    pub model_name: String,
    pub base_name: String,
    pub before: Option<Scores>,
    pub after: Option<Scores>,
    /// Better on the held-out beats (false when unvalidated).
    pub improved: bool,
    pub validated: bool,
    pub best_epoch: usize,
    /// The share of the trained change kept (`FinetuneConfig::interpolations`; 1 = all).
    pub kept_share: f64,
    /// Nothing was trained: the base model already placed every checked beat
    /// (`FinetuneConfig::when_base_agrees`).
    pub base_kept: bool,
    pub epochs: usize,
    pub elapsed_s: f64,
    pub songs: Vec<SongReport>,
    /// What the bar classifier learned from the songs whose bars the user numbered (`None`:
    /// the model has none, or no song was numbered; the parent's is kept).
    pub bars: Option<BarsFinetuneReport>,
}

/// Events of a fine-tuning run, in order: `preparing`…, `epoch`…, then one of `finished`,
/// `failed`, `cancelled`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainEvent {
    Preparing {
        song: String,
        index: usize,
        total: usize,
        stage: &'static str,
    },
    Epoch {
        epoch: usize,
        max_epochs: usize,
        train_loss: f64,
        held_out_f: Option<f64>,
        base_f: Option<f64>,
        best_f: Option<f64>,
        eta_s: f64,
    },
    Finished {
        report: FinetuneReport,
    },
    Failed {
        error: AppError,
    },
    Cancelled,
}

/// Re-tracking events after a model was made active: one `track` per song, then `done`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetrackEvent {
    Track {
        track_id: TrackId,
        name: String,
        index: usize,
        total: usize,
        n_beats: usize,
        /// Beats moved by more than 70 ms, added or removed vs the previous model beats.
        changed: usize,
        /// The song shows the new beats (false: the user's own beats stay in front).
        head_moved: bool,
    },
    Failed {
        track_id: TrackId,
        name: String,
        error: AppError,
    },
    Done {
        active_model: Option<ModelId>,
    },
}

/// Songs, models and device for the panel.
#[tauri::command]
pub async fn finetune_info(state: State<'_, AppState>) -> AppResult<FinetuneInfo> {
    let p = state.project()?;
    blocking(move || {
        let mut candidates = Vec::new();
        for t in p.tracks()? {
            let Some(head) = p.head(t.id)? else { continue };
            candidates.push(Candidate::of(&t, &head));
        }
        let device = select_device(DeviceChoice::Auto);
        Ok(FinetuneInfo {
            candidates,
            models: model_views(&p)?,
            device: device.name,
            device_is_gpu: device.kind == ComputeDevice::Gpu,
            device_note: device.fallback_reason.as_deref().map(device_note),
        })
    })
    .await
}

/// Why training runs on the processor, in the user's words (the engine's name a cargo
/// feature or a wgpu adapter; those go to the log at info level).
fn device_note(reason: &str) -> String {
    if reason.contains("no GPU support") {
        "this version was built without graphics-card support".into()
    } else if reason.contains("software renderer") {
        "the only graphics card found is emulated in software, slower than the processor".into()
    } else {
        "no usable graphics card was found".into()
    }
}

/// How far into the song the user has checked the beats: the last beat of the last run of
/// beats the user set or confirmed (none when there is none: a song nobody touched, or
/// beats made by a model or Continue →, are never "corrected").
pub fn corrected_until(head: &Revision) -> Option<f64> {
    provenance::checked_spans_s(&head.beats.times_s, &head.sources)
        .last()
        .map(|s| s.1)
}

fn model_views(p: &Project) -> AppResult<Vec<ModelView>> {
    let active = p.settings()?.active_model_id;
    let exe = std::env::current_exe().ok();
    let shipped_found = bundled_model_dir(exe.as_deref()).is_some();
    let mut out = vec![ModelView {
        id: None,
        name: if shipped_found {
            "Shipped model".into()
        } else {
            "Shipped model (missing: reinstall ZeroNS Studio)".into()
        },
        parent_id: None,
        active: active.is_none(),
    }];
    for m in p.models()? {
        if m.provenance_json.contains("\"shipped\"") {
            continue;
        }
        out.push(ModelView {
            id: Some(m.id),
            name: m.name.clone(),
            parent_id: m.parent_id,
            active: active == Some(m.id),
        });
    }
    Ok(out)
}

/// The shipped model's directory and the model.
pub(crate) fn shipped_model() -> AppResult<(PathBuf, LoadedModel)> {
    let exe = std::env::current_exe().ok();
    let dir = bundled_model_dir(exe.as_deref()).ok_or_else(|| {
        AppError::app(
            "model",
            "the shipped model was not found",
            "Reinstall ZeroNS Studio, or set ZERONS_MODEL to a model directory.",
        )
    })?;
    let model = load_model(&dir)?;
    Ok((dir, model))
}

/// The project's active model (loaded) and its row, or the shipped model registered in the
/// project (so that fine-tuned models can name it as parent).
pub(crate) fn base_model(p: &Project) -> AppResult<(LoadedModel, Option<ModelId>, String)> {
    let (model, id, name) = project_model(p, p.settings()?.active_model_id)?;
    Ok((model, Some(id), name))
}

/// A model of the project by its id, or the shipped one (`None`), registered in the project
/// when it is not yet: the model, its row id and a name for reports.
pub(crate) fn project_model(
    p: &Project,
    choice: Option<ModelId>,
) -> AppResult<(LoadedModel, ModelId, String)> {
    if let Some(id) = choice {
        let m = p
            .models()?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| AppError::bad_request(format!("model {id} is not in this project")))?;
        return Ok((load_model(&m.path)?, id, m.name));
    }
    let (dir, model) = shipped_model()?;
    let sha = model.manifest.weights_sha256.clone();
    let existing = p.models()?.into_iter().find(|m| m.sha256 == sha);
    let id = match existing {
        Some(m) => m.id,
        None => p.add_model(&Model {
            id: 0,
            name: format!("shipped {}", model.manifest.id),
            path: dir,
            sha256: sha,
            architecture: architecture_name(model.config()),
            parent_id: None,
            provenance_json: r#"{"method":"shipped"}"#.into(),
        })?,
    };
    Ok((model, id, "shipped model".into()))
}

/// Starts fine-tuning on `track_ids`; events arrive on `on_event`. Returns the job id
/// (`cancel_job` stops it; the previous active model stays untouched).
#[tauri::command]
pub fn finetune_start(
    app: AppHandle,
    state: State<'_, AppState>,
    track_ids: Vec<TrackId>,
    mode: FinetuneMode,
    whole_songs: bool,
    keep_rest: bool,
    on_event: Channel<TrainEvent>,
) -> AppResult<u64> {
    if track_ids.is_empty() {
        return Err(AppError::bad_request(
            "choose at least one song to learn from",
        ));
    }
    spawn_job(app, &state, "zerons-finetune", move |project, token| {
        let event = match guarded("fine-tuning", || {
            run(
                project,
                &track_ids,
                mode,
                whole_songs,
                keep_rest,
                token,
                &on_event,
            )
        }) {
            Ok(Some(report)) => TrainEvent::Finished { report },
            Ok(None) => TrainEvent::Cancelled,
            Err(e) if e.code == "cancelled" => TrainEvent::Cancelled,
            Err(error) => TrainEvent::Failed { error },
        };
        let _ = on_event.send(event);
    })
}

/// Runs `work` on its own thread as a cancellable job of the open project (`cancel_job`
/// stops it) and returns the job id at once.
pub(crate) fn spawn_job(
    app: AppHandle,
    state: &State<'_, AppState>,
    thread_name: &str,
    work: impl FnOnce(&Project, &CancelToken) + Send + 'static,
) -> AppResult<u64> {
    let project = state.project()?;
    let (job_id, token) = state.start_job();
    std::thread::Builder::new()
        .name(thread_name.into())
        .spawn(move || {
            work(&project, &token);
            app.state::<AppState>().end_job(job_id);
        })
        .map_err(|e| AppError::internal(format!("cannot start a background job: {e}")))?;
    Ok(job_id)
}

/// Sends a re-tracking failure that stopped the whole job.
pub(crate) fn report_retrack_failure(events: &Channel<RetrackEvent>, result: AppResult<()>) {
    if let Err(error) = result {
        let _ = events.send(RetrackEvent::Failed {
            track_id: -1,
            name: String::new(),
            error,
        });
    }
}

fn run(
    p: &Project,
    track_ids: &[TrackId],
    mode: FinetuneMode,
    whole_songs: bool,
    keep_rest: bool,
    cancel: &CancelToken,
    events: &Channel<TrainEvent>,
) -> AppResult<Option<FinetuneReport>> {
    let (base, base_id, base_name) = base_model(p)?;
    let analyze = AnalyzeConfig::default();
    let mut songs = Vec::new();
    let mut reports = Vec::new();
    let settings = p.settings()?;
    for (index, &id) in track_ids.iter().enumerate() {
        let track = p.track(id)?;
        let name = display_name(&track.path);
        let head = p.head(id)?.ok_or_else(|| {
            AppError::app(
                "no_beats",
                format!("{name} has no beats yet"),
                "Analyse it first.",
            )
        })?;
        // "Every beat was checked" is the user's word for the whole song: recorded as such.
        let head = if whole_songs {
            p.confirm_beats(id, 0.0, f64::MAX)?;
            p.head(id)?.unwrap_or(head)
        } else {
            head
        };
        // Only the longest run of beats the user set or confirmed is learned from: never a
        // model's, Continue →'s or a file's beats nobody checked (issue 19).
        let Some(run) = provenance::learn_run(&head.sources) else {
            return Err(AppError::app(
                "no_corrections",
                format!(
                    "{name}: fewer than {} beats in a row were set or checked by you",
                    provenance::MIN_LEARN_BEATS
                ),
                "Correct beats, or check them (K: the beats up to here are right), or tick \
                 \"every beat was checked\" to learn from the whole song as it is.",
            ));
        };
        let beats_s = &head.beats.times_s[run.clone()];
        let positions = head
            .beats
            .positions
            .as_ref()
            .and_then(|p| p.get(run.clone()));
        let features = song_features(
            &track.path,
            &analyze,
            &mut |pr| {
                let _ = events.send(TrainEvent::Preparing {
                    song: name.clone(),
                    index,
                    total: track_ids.len(),
                    stage: pr.stage.label(),
                });
            },
            cancel,
        )?;
        // The base's own beats: whether the user's checked beats hold anything it does not
        // already do (`FinetuneConfig::when_base_agrees`).
        let _ = events.send(TrainEvent::Preparing {
            song: name.clone(),
            index,
            total: track_ids.len(),
            stage: "tracking with the current model",
        });
        // With the song's own settings (tempo range, meter), as the beats the user saw.
        let (song_analyze, _) = analyze_config(&settings, Some(id), true)?;
        let base_beats = analyze_features(&features, &song_analyze, &base, &mut |_| {})?.beats_s;
        let song = AnnotatedSong::new(
            name.clone(),
            features.non_percussive,
            features.percussive,
            beats_s,
            None,
        )?
        .with_base_beats(&base_beats)?;
        // The bars the user set (or kept) teach a model with a downbeat head the bar phase.
        let song = match positions {
            Some(p) => song.with_positions(beats_s, p)?,
            None => song,
        };
        reports.push(SongReport {
            track_id: id,
            name,
            region_end_s: song.region_s.1,
            beats: song.beats_s.len(),
        });
        songs.push(song);
    }

    let config = FinetuneConfig {
        mode,
        rest_weight: if keep_rest {
            FinetuneConfig::KEEP_REST_WEIGHT
        } else {
            0.0
        },
        ..FinetuneConfig::default()
    };
    let config_json = serde_json::to_string(&serde_json::json!({
        "config": &config,
        "tracks": track_ids,
        "whole_songs": whole_songs,
        "revisions": track_ids.iter().map(|id| p.track(*id).map(|t| t.head)).collect::<Result<Vec<_>, _>>()?,
    }))
    .map_err(|e| AppError::internal(format!("cannot serialise the training config: {e}")))?;
    let run_id = p.start_training_run(base_id, &config_json, None)?;
    let device = select_device(DeviceChoice::Auto);
    let mut base_f = None;
    let result = finetune(&base, &songs, &config, &device.device, cancel, |pr| {
        let held = pr.epoch.held_out.as_ref();
        if pr.epoch.epoch == 1 {
            base_f = pr.best_f_measure;
        }
        if let Ok(json) = serde_json::to_string(&pr.epoch) {
            let _ = p.record_epoch(
                run_id,
                u32::try_from(pr.epoch.epoch).unwrap_or(u32::MAX),
                &json,
            );
        }
        let _ = events.send(TrainEvent::Epoch {
            epoch: pr.epoch.epoch,
            max_epochs: pr.max_epochs,
            train_loss: pr.epoch.train_loss,
            held_out_f: held.map(|h| h.f_measure),
            base_f,
            best_f: pr.best_f_measure,
            eta_s: pr.eta_s,
        });
    });
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let status = if e.code() == "cancelled" {
                RunStatus::Cancelled
            } else {
                RunStatus::Failed
            };
            p.finish_training_run(run_id, status, None, None)?;
            return Err(e.into());
        }
    };
    if outcome.cancelled {
        p.finish_training_run(run_id, RunStatus::Cancelled, None, None)?;
        return Ok(None);
    }
    let before_json = outcome
        .before
        .as_ref()
        .and_then(|b| serde_json::to_string(b).ok());
    let after_json = outcome
        .after
        .as_ref()
        .and_then(|a| serde_json::to_string(a).ok());

    // Save beside the project, never over anything.
    let dir = models_dir(p.path()).join(format!("run-{run_id}"));
    let manifest = save_model(&outcome.model, &dir)?;
    let model_name = format!(
        "fine-tuned #{run_id} on {} song{} ({}{})",
        songs.len(),
        if songs.len() == 1 { "" } else { "s" },
        mode.name(),
        if config.rest_weight > 0.0 && mode != FinetuneMode::Full {
            ", rest kept"
        } else {
            ""
        }
    );
    let model_id = p.add_model(&Model {
        id: 0,
        name: model_name.clone(),
        path: dir,
        sha256: manifest.weights_sha256.clone(),
        architecture: architecture_name(outcome.model.config()),
        parent_id: base_id,
        provenance_json: serde_json::to_string(&manifest.provenance)
            .unwrap_or_else(|_| "{}".into()),
    })?;
    let after_all = serde_json::json!({ "before": before_json, "after": after_json, "improved": outcome.improved });
    p.finish_training_run(
        run_id,
        RunStatus::Succeeded,
        Some(&after_all.to_string()),
        Some(model_id),
    )?;
    Ok(Some(FinetuneReport {
        run_id,
        model_id,
        model_name,
        base_name,
        validated: outcome.before.is_some(),
        before: outcome.before.as_ref().map(Scores::from),
        after: outcome.after.as_ref().map(Scores::from),
        improved: outcome.improved,
        best_epoch: outcome.best_epoch,
        kept_share: outcome.interpolation,
        base_kept: outcome.base_kept,
        epochs: outcome.history.len(),
        elapsed_s: outcome.elapsed_s,
        songs: reports,
        bars: outcome.bars.clone(),
    }))
}

fn architecture_name(config: &zerons::model::ModelConfig) -> String {
    match config.architecture {
        zerons::model::Architecture::Paper(_) => "paper".into(),
        zerons::model::Architecture::Lite(_) => "lite".into(),
    }
}

/// `<dir>/<project file stem>.models`: where the project's fine-tuned models are saved.
fn models_dir(project_path: &Path) -> PathBuf {
    let stem = project_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    project_path.with_file_name(format!("{stem}.models"))
}

/// Re-tracks `only` (or every track) with `model` and the project's current settings,
/// one `track` event per song, then `done`.
fn retrack_tracks(
    p: &Project,
    only: Option<&[TrackId]>,
    model: &LoadedModel,
    cancel: &CancelToken,
    events: &Channel<RetrackEvent>,
) -> AppResult<()> {
    let active = p.settings()?.active_model_id;
    let tracks: Vec<_> = p
        .tracks()?
        .into_iter()
        .filter(|t| only.is_none_or(|ids| ids.contains(&t.id)))
        .collect();
    let total = tracks.len();
    for (index, t) in tracks.into_iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(zerons::Error::Cancelled.into());
        }
        let name = display_name(&t.path);
        match retrack_one(p, t.id, &t.path, model, cancel) {
            Ok((n_beats, changed, head_moved)) => {
                let _ = events.send(RetrackEvent::Track {
                    track_id: t.id,
                    name,
                    index,
                    total,
                    n_beats,
                    changed,
                    head_moved,
                });
            }
            Err(e) if e.code == "cancelled" => return Err(e),
            Err(error) => {
                let _ = events.send(RetrackEvent::Failed {
                    track_id: t.id,
                    name,
                    error,
                });
            }
        }
    }
    let _ = events.send(RetrackEvent::Done {
        active_model: active,
    });
    Ok(())
}

fn retrack_one(
    p: &Project,
    track_id: TrackId,
    path: &Path,
    model: &LoadedModel,
    cancel: &CancelToken,
) -> AppResult<(usize, usize, bool)> {
    let settings = p.settings()?;
    let (config, config_json) = analyze_config(&settings, Some(track_id), true)?;
    let previous = model_revision(p, track_id, 0)?.map(|r| r.beats.times_s);
    let analysis = analyze_file(path, &config, Some(model), &mut |_| {}, cancel)?;
    let (beats, moved) = store_analysis(
        p,
        track_id,
        &analysis,
        &config_json,
        settings.active_model_id,
        &settings,
    )?;
    let changed = previous.map_or(beats.len(), |prev| {
        changed_beats(&prev, &beats.times_s, 0.07)
    });
    Ok((beats.len(), changed, moved))
}

/// Re-tracks `track_ids` (all songs when empty) with the project's active model and its
/// current tempo range and meter: after the user changed the settings. Events as for
/// [`crate::adopt::preview_model`]; user beats stay in front.
#[tauri::command]
pub fn retrack(
    app: AppHandle,
    state: State<'_, AppState>,
    track_ids: Vec<TrackId>,
    on_event: Channel<RetrackEvent>,
) -> AppResult<u64> {
    spawn_job(app, &state, "zerons-retrack", move |project, token| {
        let result = guarded("re-tracking", || {
            base_model(project).and_then(|(model, _, _)| {
                let only = (!track_ids.is_empty()).then_some(track_ids.as_slice());
                retrack_tracks(project, only, &model, token, &on_event)
            })
        });
        report_retrack_failure(&on_event, result);
    })
}

#[cfg(test)]
mod tests {
    use super::device_note;

    #[test]
    fn the_reason_for_the_cpu_is_said_without_build_words() {
        for reason in [
            "this build has no GPU support (cargo feature `wgpu`)",
            "wgpu adapter 'llvmpipe' is a software renderer, slower than the CPU backend",
            "no wgpu adapter: NotFound",
        ] {
            let note = device_note(reason);
            assert!(
                !note.contains("cargo") && !note.contains("wgpu") && !note.contains('`'),
                "{note}"
            );
        }
    }
}
