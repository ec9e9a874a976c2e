//! Adding songs: each file is analysed on a background thread (one at a time: the
//! pipeline already uses every core it can), with progress and cancellation per song.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};
use zerons::formats::BeatList;
use zerons::model::{LoadedModel, MODEL_ENV, load_model};
use zerons::pipeline::{ActivationKind, Analysis, AnalyzeConfig, CancelToken, analyze_file};
use zerons::store::{
    ModelId, NewAnalysis, Project, ProjectSettings, TrackId, TrackMeta, analysis_model_dir,
    curves_of,
};
use zerons::tracking::TrackerConfig;

use crate::error::{AppError, AppResult, guarded};
use crate::state::AppState;

/// The model new songs are analysed with ([`analysis_model_dir`]). A model that is missing
/// or does not load is an error that names it, never a quiet switch to the spectral flux
/// under the network's name.
fn analysis_model(project: &Project) -> zerons::Result<Arc<LoadedModel>> {
    let exe = std::env::current_exe().ok();
    let Some(dir) = analysis_model_dir(project, exe.as_deref())? else {
        return Err(zerons::Error::Model(format!(
            "the shipped model was not found (looked at ${MODEL_ENV}, {} beside the program \
             and assets/model of a source checkout)",
            zerons::model::INSTALLED_MODEL_DIR
        )));
    };
    load_model(&dir.path).map(Arc::new)
}

/// What happens to one song, in order: `queued`, any number of `progress`, then one of
/// `done`, `failed`, `cancelled`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobEvent {
    Queued {
        job_id: u64,
        path: String,
    },
    Progress {
        job_id: u64,
        stage: zerons::pipeline::Stage,
        label: &'static str,
        fraction: f32,
    },
    Done {
        job_id: u64,
        track_id: i64,
        n_beats: usize,
        tempo_bpm: Option<f64>,
    },
    Failed {
        job_id: u64,
        error: AppError,
    },
    Cancelled {
        job_id: u64,
    },
}

/// A started job.
#[derive(Debug, Clone, Serialize)]
pub struct JobStart {
    pub job_id: u64,
    pub path: String,
}

/// Queues `paths` for analysis and returns at once; events arrive on `on_event`.
#[tauri::command]
pub fn add_tracks(
    app: AppHandle,
    state: State<'_, AppState>,
    paths: Vec<String>,
    on_event: Channel<JobEvent>,
) -> AppResult<Vec<JobStart>> {
    let project = state.project()?;
    let jobs: Vec<(u64, CancelToken, PathBuf)> = paths
        .iter()
        .map(|p| {
            let (id, token) = state.start_job();
            (id, token, PathBuf::from(p))
        })
        .collect();
    let starts: Vec<JobStart> = jobs
        .iter()
        .map(|(id, _, p)| JobStart {
            job_id: *id,
            path: p.display().to_string(),
        })
        .collect();
    for s in &starts {
        let _ = on_event.send(JobEvent::Queued {
            job_id: s.job_id,
            path: s.path.clone(),
        });
    }
    std::thread::Builder::new()
        .name("zerons-analysis".into())
        .spawn(move || {
            let model = analysis_model(&project);
            for (job_id, token, path) in jobs {
                let event = match &model {
                    Err(e) => JobEvent::Failed {
                        job_id,
                        error: AppError::app(
                            e.code(),
                            e.to_string(),
                            format!(
                                "Reinstall ZeroNS Studio, or set {MODEL_ENV} to a model \
                                 directory."
                            ),
                        ),
                    },
                    Ok(model) => {
                        match guarded("the analysis", || {
                            run_job(
                                &project,
                                &path,
                                Some(model.as_ref()),
                                job_id,
                                &token,
                                &on_event,
                            )
                        }) {
                            Ok((track_id, n_beats, tempo_bpm)) => JobEvent::Done {
                                job_id,
                                track_id,
                                n_beats,
                                tempo_bpm,
                            },
                            Err(e) if e.code == "cancelled" => JobEvent::Cancelled { job_id },
                            Err(error) => JobEvent::Failed { job_id, error },
                        }
                    }
                };
                let _ = on_event.send(event);
                app.state::<AppState>().end_job(job_id);
            }
        })
        .map_err(|e| AppError::internal(format!("cannot start the analysis thread: {e}")))?;
    Ok(starts)
}

/// Cancels a queued or running analysis; false when it already finished.
#[tauri::command]
pub fn cancel_job(state: State<'_, AppState>, job_id: u64) -> bool {
    state.cancel_job(job_id)
}

/// The analysis settings of a project: the default stages, the network's curve when there
/// is a model (else the spectral flux), the song's tempo range; with their JSON for the store.
pub fn analyze_config(
    settings: &ProjectSettings,
    track: Option<TrackId>,
    with_model: bool,
) -> AppResult<(AnalyzeConfig, String)> {
    let tempo = settings.tempo_for(track);
    let mut config = AnalyzeConfig::default();
    if with_model {
        config.activation = ActivationKind::Max;
    }
    if let TrackerConfig::Dbn(dbn) = &mut config.tracker {
        dbn.min_bpm = tempo.min_bpm;
        dbn.max_bpm = tempo.max_bpm;
    }
    // The song's meter is the user's setting (the revision stores it beside the beats): the
    // bars are numbered in it, and only the bar's first beat is found.
    config.meter.beats_per_bar = vec![tempo.beats_per_bar];
    let json = serde_json::to_string(&config)
        .map_err(|e| AppError::internal(format!("cannot serialise the analysis config: {e}")))?;
    Ok((config, json))
}

/// Stores an analysis of `track` (its curves) and its beats as a model revision; returns
/// the beats and whether the head moved to them (it does not off user beats).
pub fn store_analysis(
    project: &Project,
    track: TrackId,
    analysis: &Analysis,
    config_json: &str,
    model_id: Option<ModelId>,
    settings: &ProjectSettings,
) -> AppResult<(BeatList, bool)> {
    let analysis_id = project.add_analysis(
        track,
        &NewAnalysis {
            model_id,
            config_json,
            curves: &curves_of(analysis),
        },
    )?;
    let beats = analysis.beat_list();
    let (_, moved) = project.add_model_revision(
        track,
        analysis_id,
        &beats,
        Some(settings.tempo_for(Some(track)).beats_per_bar),
        &analysis.revision_note(),
    )?;
    Ok((beats, moved))
}

fn run_job(
    project: &Project,
    path: &Path,
    model: Option<&LoadedModel>,
    job_id: u64,
    cancel: &CancelToken,
    events: &Channel<JobEvent>,
) -> AppResult<(i64, usize, Option<f64>)> {
    let path = std::fs::canonicalize(path).map_err(|e| zerons::Error::io(path, e))?;
    if project.tracks()?.iter().any(|t| t.path == path) {
        return Err(AppError::app(
            "already_added",
            format!("{} is already in the project", path.display()),
            "Select it in the track list.",
        ));
    }
    let settings = project.settings()?;
    let (config, config_json) = analyze_config(&settings, None, model.is_some())?;
    let analysis = analyze_file(
        &path,
        &config,
        model,
        &mut |p| {
            let _ = events.send(JobEvent::Progress {
                job_id,
                stage: p.stage,
                label: p.stage.label(),
                fraction: p.fraction,
            });
        },
        cancel,
    )?;
    let meta = TrackMeta {
        duration_s: analysis.source.duration_s,
        sample_rate_hz: analysis.source.sample_rate_hz,
        channels: u32::try_from(analysis.source.channels).unwrap_or(u32::MAX),
    };
    let track = project.add_track(&path, &meta)?;
    let (beats, _) = store_analysis(project, track, &analysis, &config_json, None, &settings)?;
    Ok((track, beats.len(), analysis.tempo_bpm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerons::store::TrackTempo;

    /// Issue 21: the bars of an analysis are numbered in the song's meter (its own, else the
    /// project's), the one its revision stores, so a waltz set to 3 is never given 4/4 bars.
    #[test]
    fn analyses_number_bars_in_the_songs_meter() {
        let mut settings = ProjectSettings {
            beats_per_bar: 3,
            ..ProjectSettings::default()
        };
        let (config, json) = analyze_config(&settings, None, true).unwrap();
        assert_eq!(config.meter.beats_per_bar, vec![3]);
        assert!(json.contains("\"beats_per_bar\":[3]"), "{json}");
        settings.track_tempo.insert(
            7,
            TrackTempo {
                min_bpm: 60.0,
                max_bpm: 180.0,
                beats_per_bar: 5,
            },
        );
        let (config, _) = analyze_config(&settings, Some(7), true).unwrap();
        assert_eq!(config.meter.beats_per_bar, vec![5]);
        let (config, _) = analyze_config(&settings, Some(8), false).unwrap();
        assert_eq!(config.meter.beats_per_bar, vec![3]);
    }
}
