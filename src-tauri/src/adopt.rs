//! Safe adoption of a model (issue 19): preview what a model would change in every song,
//! scored on every beat the user checked, then accept per song; one action rolls back.
//!
//! - [`preview_model`] analyses every song with the candidate and stores each result as a
//!   proposal (`zerons::store::Project::set_proposal`): nothing the user sees changes. Each
//!   song's event says the tempo now and after (a change of tempo level called out), whether
//!   the beats would move by half a beat, how many would change, and the F-measure of the
//!   previous and the new model on the song's checked beats, with a default choice: a song
//!   whose tempo level or phase would change without any beat the user checked to support it
//!   is not ticked.
//! - [`adopt_model`] makes the model active (new songs use it whatever is accepted) and
//!   replaces, in the accepted songs only, the beats nobody vouched for.
//! - [`rollback_adoption`] puts the previous model and beats back.

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use zerons::pipeline::{CancelToken, analyze_file, global_tempo_bpm};
use zerons::store::provenance::{self, CheckedScores};
use zerons::store::{ModelId, NewAnalysis, Project, TrackId, curves_of};
use zerons::train::changed_beats;

use crate::commands::display_name;
use crate::commands::{blocking, model_revision};
use crate::error::{AppError, AppResult, guarded};
use crate::finetune::{project_model, spawn_job};
use crate::jobs::analyze_config;
use crate::state::AppState;

/// What accepting a model's beats would do to one song.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub track_id: TrackId,
    pub name: String,
    pub n_beats_now: usize,
    pub n_beats_new: usize,
    pub tempo_now_bpm: Option<f64>,
    pub tempo_new_bpm: Option<f64>,
    /// "170 → 85 BPM" when the tempo would change by more than 8 %.
    pub level_change: Option<String>,
    /// Most new beats would sit half a beat from the current ones.
    pub phase_change: bool,
    /// Current beats that would move (> 70 ms), appear or vanish.
    pub changed: usize,
    /// Beats the user set, checked or imported: kept whatever is accepted.
    pub kept_beats: usize,
    /// Checked beats the two models were scored on.
    pub checked_beats: usize,
    /// F-measure on those: the previous model's beats, then the new model's.
    pub f_before: Option<f64>,
    pub f_after: Option<f64>,
    /// The model was trained on this song (its score there is optimistic).
    pub trained_on: bool,
    pub default_accept: bool,
    /// Why it is ticked or not, in the user's words.
    pub reason: String,
}

/// Events of a preview: one `song` (or `failed`) per song, then `done`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PreviewEvent {
    Song {
        index: usize,
        total: usize,
        proposal: Box<Proposal>,
    },
    Failed {
        track_id: TrackId,
        name: String,
        error: AppError,
    },
    Done {
        model_id: Option<ModelId>,
        checked_beats: usize,
        f_before: Option<f64>,
        f_after: Option<f64>,
        songs_better: usize,
        songs_worse: usize,
    },
}

/// Previews `model_id` (`None` = the shipped model) on every song: see the module docs.
/// Returns the job id (`cancel_job` stops it; nothing changes either way).
#[tauri::command]
pub fn preview_model(
    app: AppHandle,
    state: State<'_, AppState>,
    model_id: Option<ModelId>,
    on_event: Channel<PreviewEvent>,
) -> AppResult<u64> {
    spawn_job(app, &state, "zerons-preview", move |project, token| {
        let result = guarded("previewing the model", || {
            preview(project, model_id, token, &on_event)
        });
        if let Err(error) = result {
            let _ = on_event.send(PreviewEvent::Failed {
                track_id: -1,
                name: String::new(),
                error,
            });
        }
    })
}

fn preview(
    p: &Project,
    choice: Option<ModelId>,
    cancel: &CancelToken,
    events: &Channel<PreviewEvent>,
) -> AppResult<()> {
    let (model, model_row, _) = project_model(p, choice)?;
    let trained = p.trained_tracks(model_row)?;
    let settings = p.settings()?;
    let tracks = p.tracks()?;
    let total = tracks.len();
    let mut totals = Totals::default();
    for (index, t) in tracks.into_iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(zerons::Error::Cancelled.into());
        }
        let name = display_name(&t.path);
        let one = || -> AppResult<Proposal> {
            let (config, config_json) = analyze_config(&settings, Some(t.id), true)?;
            let analysis = analyze_file(&t.path, &config, Some(&model), &mut |_| {}, cancel)?;
            let beats = analysis.beat_list();
            p.set_proposal(
                t.id,
                model_row,
                &NewAnalysis {
                    model_id: Some(model_row),
                    config_json: &config_json,
                    curves: &curves_of(&analysis),
                },
                &beats,
                Some(settings.tempo_for(Some(t.id)).beats_per_bar),
            )?;
            let head = p.head(t.id)?;
            let previous = model_revision(p, t.id, 0)?.map(|r| r.beats.times_s);
            let (now, sources) = head
                .map(|h| (h.beats.times_s, h.sources))
                .unwrap_or_default();
            Ok(describe(
                SongBeats {
                    track_id: t.id,
                    name: name.clone(),
                    now: &now,
                    sources: &sources,
                    previous_model: previous.as_deref(),
                    new: &beats.times_s,
                },
                trained.contains(&t.id),
            ))
        };
        match one() {
            Ok(proposal) => {
                totals.add(&proposal);
                let _ = events.send(PreviewEvent::Song {
                    index,
                    total,
                    proposal: Box::new(proposal),
                });
            }
            Err(e) if e.code == "cancelled" => return Err(e),
            Err(error) => {
                let _ = events.send(PreviewEvent::Failed {
                    track_id: t.id,
                    name,
                    error,
                });
            }
        }
    }
    let _ = events.send(totals.done(choice));
    Ok(())
}

/// One song's beats as a preview compares them.
struct SongBeats<'a> {
    track_id: TrackId,
    name: String,
    /// The beats the user sees now, with their sources.
    now: &'a [f64],
    sources: &'a [zerons::store::BeatSource],
    /// The previous model's own beats (latest model revision), if any.
    previous_model: Option<&'a [f64]>,
    /// The candidate model's beats.
    new: &'a [f64],
}

/// A tempo change beyond this ratio is called out as a change of level.
const LEVEL_TOLERANCE: f64 = 0.08;

/// What accepting `b.new` would do, and whether it is ticked by default.
fn describe(b: SongBeats<'_>, trained_on: bool) -> Proposal {
    let (merged, _) = provenance::merge_proposal(b.now, b.sources, b.new);
    let changed = changed_beats(b.now, &merged, 0.07);
    let tempo_now = global_tempo_bpm(b.now);
    let tempo_new = global_tempo_bpm(b.new);
    let level_change = match (tempo_now, tempo_new) {
        (Some(a), Some(n)) if (n / a - 1.0).abs() > LEVEL_TOLERANCE => {
            Some(format!("{a:.0} → {n:.0} BPM"))
        }
        _ => None,
    };
    let phase_change = level_change.is_none() && half_beat_shift(b.now, b.new);
    let before: Option<CheckedScores> = b
        .previous_model
        .and_then(|m| provenance::score_on_checked(b.now, b.sources, m));
    let after = provenance::score_on_checked(b.now, b.sources, b.new);
    let checked_beats = after.map_or(0, |a| a.beats);
    let kept_beats = b.sources.iter().filter(|s| s.is_kept()).count();
    let (default_accept, reason) = choose(
        b.now.is_empty(),
        changed,
        level_change.as_deref(),
        phase_change,
        before,
        after,
    );
    Proposal {
        track_id: b.track_id,
        name: b.name,
        n_beats_now: b.now.len(),
        n_beats_new: merged.len(),
        tempo_now_bpm: tempo_now,
        tempo_new_bpm: tempo_new,
        level_change,
        phase_change,
        changed,
        kept_beats,
        checked_beats,
        f_before: before.map(|s| s.f_measure),
        f_after: after.map(|s| s.f_measure),
        trained_on,
        default_accept,
        reason,
    }
}

/// Most of `new`'s beats sit between 30 % and 70 % of a beat from the nearest of `now`'s.
fn half_beat_shift(now: &[f64], new: &[f64]) -> bool {
    let Some(bpm) = global_tempo_bpm(now) else {
        return false;
    };
    let period = 60.0 / bpm;
    let off = new
        .iter()
        .filter(|t| {
            let i = now.partition_point(|x| x < *t);
            let d = [i.checked_sub(1), Some(i)]
                .into_iter()
                .flatten()
                .filter_map(|j| now.get(j))
                .map(|x| (x - *t).abs())
                .fold(f64::INFINITY, f64::min);
            (0.3..=0.7).contains(&(d / period))
        })
        .count();
    !new.is_empty() && off * 2 > new.len()
}

/// The default choice for a song and why, in the user's words.
fn choose(
    empty: bool,
    changed: usize,
    level_change: Option<&str>,
    phase_change: bool,
    before: Option<CheckedScores>,
    after: Option<CheckedScores>,
) -> (bool, String) {
    if empty {
        return (true, "the song has no beats yet".into());
    }
    if changed == 0 {
        return (true, "no beat would change".into());
    }
    match (before, after) {
        (Some(b), Some(a)) if a.f_measure + 1e-9 < b.f_measure || a.cmlt + 0.01 < b.cmlt => (
            false,
            format!(
                "worse on the {} beats you checked (F {:.2} → {:.2})",
                a.beats, b.f_measure, a.f_measure
            ),
        ),
        (Some(b), Some(a)) if a.f_measure > b.f_measure + 1e-9 => (
            true,
            format!(
                "better on the {} beats you checked (F {:.2} → {:.2})",
                a.beats, b.f_measure, a.f_measure
            ),
        ),
        (_, after) => {
            let evidence = after.is_some_and(|a| a.f_measure >= 0.95);
            match (level_change, phase_change, evidence) {
                (Some(l), _, false) => (
                    false,
                    format!("the tempo would change ({l}) and no beat you checked supports it"),
                ),
                (None, true, false) => (
                    false,
                    "the beats would move by half a beat and no beat you checked supports it"
                        .into(),
                ),
                _ => (true, "same tempo and phase; the beats are refined".into()),
            }
        }
    }
}

#[derive(Default)]
struct Totals {
    beats: usize,
    f_before: f64,
    f_after: f64,
    better: usize,
    worse: usize,
}

impl Totals {
    fn add(&mut self, p: &Proposal) {
        if let (Some(b), Some(a)) = (p.f_before, p.f_after) {
            let n = p.checked_beats as f64;
            self.beats += p.checked_beats;
            self.f_before += b * n;
            self.f_after += a * n;
            if a > b + 0.01 {
                self.better += 1;
            } else if a + 0.01 < b {
                self.worse += 1;
            }
        }
    }

    fn done(&self, model_id: Option<ModelId>) -> PreviewEvent {
        let n = self.beats as f64;
        PreviewEvent::Done {
            model_id,
            checked_beats: self.beats,
            f_before: (n > 0.0).then(|| self.f_before / n),
            f_after: (n > 0.0).then(|| self.f_after / n),
            songs_better: self.better,
            songs_worse: self.worse,
        }
    }
}

/// One accepted song.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub track_id: TrackId,
    pub name: String,
    pub n_beats: usize,
}

/// What [`adopt_model`] did.
#[derive(Debug, Clone, Serialize)]
pub struct AdoptResult {
    pub active_model: Option<ModelId>,
    pub adoption_id: i64,
    pub accepted: Vec<Accepted>,
}

/// Makes `model_id` (`None` = shipped) the project's model and accepts its previewed beats
/// for the songs in `accept` only; the other songs keep their beats exactly.
#[tauri::command]
pub async fn adopt_model(
    state: State<'_, AppState>,
    model_id: Option<ModelId>,
    accept: Vec<TrackId>,
) -> AppResult<AdoptResult> {
    let p = state.project()?;
    let slot = state.playback();
    blocking(move || {
        let (_, row, _) = project_model(&p, model_id)?;
        let adoption = p.adopt(model_id, row, &accept)?;
        let mut accepted = Vec::new();
        for &id in &accept {
            crate::playback::sync_beats(&slot, &p, id);
            accepted.push(Accepted {
                track_id: id,
                name: display_name(&p.track(id)?.path),
                n_beats: p.head(id)?.map_or(0, |h| h.beats.len()),
            });
        }
        Ok(AdoptResult {
            active_model: model_id,
            adoption_id: adoption.id,
            accepted,
        })
    })
    .await
}

/// What [`rollback_adoption`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackResult {
    pub active_model: Option<ModelId>,
    pub reverted: usize,
    pub kept_edited: usize,
}

/// Rolls the last adoption back: its previous model active again, its songs' beats as
/// before (songs edited since are left alone).
#[tauri::command]
pub async fn rollback_adoption(state: State<'_, AppState>) -> AppResult<RollbackResult> {
    let p = state.project()?;
    let slot = state.playback();
    blocking(move || {
        let tracks = p.last_adoption()?.map(|a| a.tracks).unwrap_or_default();
        let r = p.rollback_adoption()?.ok_or_else(|| {
            AppError::app(
                "nothing_to_roll_back",
                "no model was adopted since the last roll-back",
                "Nothing to undo here.",
            )
        })?;
        for (id, _, _) in tracks {
            crate::playback::sync_beats(&slot, &p, id);
        }
        Ok(RollbackResult {
            active_model: r.active_model_id,
            reverted: r.reverted,
            kept_edited: r.kept_edited,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerons::store::BeatSource::{Model as M, User as U};

    fn grid(start: f64, step: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| start + step * i as f64).collect()
    }

    fn song<'a>(
        now: &'a [f64],
        sources: &'a [zerons::store::BeatSource],
        new: &'a [f64],
    ) -> SongBeats<'a> {
        SongBeats {
            track_id: 1,
            name: "song".into(),
            now,
            sources,
            previous_model: Some(now),
            new,
        }
    }

    #[test]
    fn a_halved_tempo_without_user_evidence_is_not_ticked() {
        // Issue 19 problem 1: a 170 BPM song went to 85 BPM when a model was adopted.
        let now = grid(0.5, 60.0 / 170.0, 200);
        let new: Vec<f64> = now.iter().step_by(2).copied().collect();
        let p = describe(song(&now, &vec![M; now.len()], &new), false);
        assert_eq!(p.level_change.as_deref(), Some("170 → 85 BPM"));
        assert!(!p.default_accept, "{}", p.reason);
        assert!(p.reason.contains("170 → 85 BPM"), "{}", p.reason);
        assert!(p.changed >= 100);
    }

    #[test]
    fn a_half_beat_shift_without_evidence_is_not_ticked_but_refinement_is() {
        let now = grid(0.5, 0.5, 100);
        let shifted: Vec<f64> = now.iter().map(|t| t + 0.25).collect();
        let p = describe(song(&now, &[M; 100], &shifted), false);
        assert!(p.phase_change && !p.default_accept, "{}", p.reason);
        let refined: Vec<f64> = now.iter().map(|t| t + 0.004).collect();
        let q = describe(song(&now, &[M; 100], &refined), false);
        assert!(!q.phase_change && q.level_change.is_none() && q.default_accept);
    }

    #[test]
    fn checked_beats_decide_and_are_never_replaced() {
        // The user fixed the first 20 beats at 85 BPM; the previous model said 170.
        let user = grid(0.5, 60.0 / 85.0, 20);
        let mut now = user.clone();
        now.extend(grid(user[19] + 60.0 / 170.0, 60.0 / 170.0, 100));
        let mut sources = vec![U; 20];
        sources.extend(vec![M; 100]);
        let old_model = grid(0.5, 60.0 / 170.0, 140);
        let new = grid(0.5, 60.0 / 85.0, 70);
        let p = describe(
            SongBeats {
                previous_model: Some(&old_model),
                ..song(&now, &sources, &new)
            },
            true,
        );
        assert!(p.default_accept, "{}", p.reason);
        assert!(p.f_after.unwrap_or(0.0) > p.f_before.unwrap_or(1.0));
        assert_eq!(p.kept_beats, 20);
        assert!(p.trained_on);
    }
}
