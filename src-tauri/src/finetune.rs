//! Fine-tuning from the app: train on the songs the user corrected, report the held-out
//! before/after, then let the user make the new model the project's active one and re-track
//! every song with it (showing how many beats changed).
//!
//! What is trained on: each chosen song's current (user) beats up to its last correction
//! (the rest of a partly corrected song is the model's own guess, so it is left out), or
//! the whole song when the user says every beat was checked. The engine holds out the end
//! of each region and keeps the base model active unless the new one does better there
//! (`zerons::train::finetune`). Models live beside the project file in
//! `<project>.models/<model id>/` and are registered in the project with their training run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};
use zerons::model::{
    ComputeDevice, DeviceChoice, LoadedModel, bundled_model_dir, load_model, save_model,
    select_device,
};
use zerons::pipeline::{AnalyzeConfig, CancelToken, analyze_file, song_features};
use zerons::store::{Author, Model, ModelId, Project, Revision, RunStatus, TrackId};
use zerons::train::{
    AnnotatedSong, FinetuneConfig, FinetuneMode, HeldOutScores, changed_beats, corrected_until_s,
    finetune,
};

use crate::commands::blocking;
use crate::commands::model_revision;
use crate::error::{AppError, AppResult, guarded};
use crate::jobs::{analyze_config, store_analysis};
use crate::state::AppState;

/// A beat counts as corrected when the user's beat is more than this from the model's.
const EDIT_TOLERANCE_S: f64 = 0.02;

/// A song the panel offers.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub track_id: TrackId,
    pub name: String,
    /// The current beats were made by the user (edited or imported).
    pub corrected: bool,
    /// Last time the user's beats differ from the model's, if they do.
    pub corrected_until_s: Option<f64>,
    pub n_beats: usize,
    pub duration_s: f64,
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
    pub epochs: usize,
    pub elapsed_s: f64,
    pub songs: Vec<SongReport>,
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
            let until = corrected_until(p.as_ref(), t.id, &head)?;
            candidates.push(Candidate {
                track_id: t.id,
                name: display_name(&t.path),
                corrected: head.author != Author::Model,
                corrected_until_s: until,
                n_beats: head.beats.len(),
                duration_s: t.meta.duration_s,
            });
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

/// How far into the song the head's beats differ from the model's latest ones (none when
/// they do not, or when the model never analysed it).
pub fn corrected_until(p: &Project, track_id: TrackId, head: &Revision) -> AppResult<Option<f64>> {
    Ok(model_revision(p, track_id, 0)?
        .and_then(|m| corrected_until_s(&m.beats.times_s, &head.beats.times_s, EDIT_TOLERANCE_S)))
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
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
fn shipped_model() -> AppResult<(PathBuf, LoadedModel)> {
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
fn base_model(p: &Project) -> AppResult<(LoadedModel, Option<ModelId>, String)> {
    if let Some(id) = p.settings()?.active_model_id {
        let m = p
            .models()?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| {
                AppError::internal(format!("active model {id} is not in the project"))
            })?;
        return Ok((load_model(&m.path)?, Some(id), m.name));
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
    Ok((model, Some(id), "shipped model".into()))
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
fn spawn_job(
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
fn report_retrack_failure(events: &Channel<RetrackEvent>, result: AppResult<()>) {
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
        let until = if whole_songs {
            None
        } else {
            match corrected_until(p, id, &head)? {
                // Up to the beat after the last correction: what the user has listened to.
                Some(t) => Some(next_beat_after(&head.beats.times_s, t).unwrap_or(t) + 0.01),
                None => {
                    return Err(AppError::app(
                        "no_corrections",
                        format!("{name}: no beat differs from the model's"),
                        "Correct some beats first, or tick \"every beat was checked\" to learn \
                         from the whole song as it is.",
                    ));
                }
            }
        };
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
        let song = AnnotatedSong::new(
            name.clone(),
            features.non_percussive,
            features.percussive,
            &head.beats.times_s,
            until,
        )?;
        // The bars the user set (or kept) teach a model with a downbeat head the bar phase.
        let song = match &head.beats.positions {
            Some(p) => song.with_positions(&head.beats.times_s, p)?,
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
        epochs: outcome.history.len(),
        elapsed_s: outcome.elapsed_s,
        songs: reports,
    }))
}

fn architecture_name(config: &zerons::model::ModelConfig) -> String {
    match config.architecture {
        zerons::model::Architecture::Paper(_) => "paper".into(),
        zerons::model::Architecture::Lite(_) => "lite".into(),
    }
}

fn next_beat_after(beats: &[f64], t: f64) -> Option<f64> {
    beats.iter().copied().find(|b| *b > t + EDIT_TOLERANCE_S)
}

/// `<dir>/<project file stem>.models`: where the project's fine-tuned models are saved.
fn models_dir(project_path: &Path) -> PathBuf {
    let stem = project_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    project_path.with_file_name(format!("{stem}.models"))
}

/// Which model to use from now on (`None` = the shipped one).
#[derive(Debug, Clone, Deserialize)]
pub struct UseModel {
    pub model_id: Option<ModelId>,
}

/// Makes `model_id` the project's active model and re-tracks every song with it; each
/// song gets a new model revision (user beats stay in front: the store never moves the head
/// off them). Returns the job id; events report each song's changes.
#[tauri::command]
pub fn use_model(
    app: AppHandle,
    state: State<'_, AppState>,
    choice: UseModel,
    on_event: Channel<RetrackEvent>,
) -> AppResult<u64> {
    spawn_job(app, &state, "zerons-retrack", move |project, token| {
        let result = guarded("re-tracking", || {
            retrack_all(project, choice.model_id, token, &on_event)
        });
        report_retrack_failure(&on_event, result);
    })
}

fn retrack_all(
    p: &Project,
    model_id: Option<ModelId>,
    cancel: &CancelToken,
    events: &Channel<RetrackEvent>,
) -> AppResult<()> {
    // Load the chosen model before switching to it: a missing or broken model must not
    // become the project's active one.
    let model = match model_id {
        Some(id) => {
            let row = p
                .models()?
                .into_iter()
                .find(|m| m.id == id)
                .ok_or_else(|| {
                    AppError::bad_request(format!("model {id} is not in this project"))
                })?;
            load_model(&row.path)?
        }
        None => shipped_model()?.1,
    };
    let mut settings = p.settings()?;
    settings.active_model_id = model_id;
    p.set_settings(&settings)?;
    retrack_tracks(p, None, &model, cancel, events)
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
/// [`use_model`]; user beats stay in front.
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
