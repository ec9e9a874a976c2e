//! Safe adoption of a model (issue 19): a new model's beats for each song wait as a
//! *proposal* until the user accepts them song by song; accepting replaces only the beats
//! nobody vouched for ([`provenance::merge_proposal`]); the last adoption rolls back as one
//! action.
//!
//! A proposal's analysis is stored with `analyses.proposal = 1`, so it is not the song's
//! latest analysis (its curves are not shown, Continue → does not track on them) until the
//! song is accepted.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::provenance::{self, BeatSource};
use super::{
    AnalysisId, Author, ModelId, NOW, NewAnalysis, NewRevision, Project, RevisionId, TrackId, codec,
};
use crate::formats::BeatList;
use crate::{Error, Result};

/// A model's beats for a song, waiting to be accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Song.
    pub track_id: TrackId,
    /// The model that made them.
    pub model_id: ModelId,
    /// Its analysis (curves), if kept.
    pub analysis_id: Option<AnalysisId>,
    /// The beats.
    pub beats: BeatList,
    /// Meter numerator, if known.
    pub beats_per_bar: Option<u32>,
}

/// One "use this model": the active model it set and the songs whose beats it replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adoption {
    /// Row id.
    pub id: i64,
    /// The model made active (`None` = the shipped one).
    pub model_id: Option<ModelId>,
    /// The model active before (`None` = the shipped one).
    pub previous_model_id: Option<ModelId>,
    /// Songs accepted: `(track, revision before, revision after)`.
    pub tracks: Vec<(TrackId, Option<RevisionId>, RevisionId)>,
}

/// What [`Project::rollback_adoption`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// The model active again (`None` = the shipped one).
    pub active_model_id: Option<ModelId>,
    /// Songs given back the beats they had before.
    pub reverted: usize,
    /// Songs the user edited after accepting: left as they are.
    pub kept_edited: usize,
}

impl Project {
    /// Stores `model_id`'s analysis and beats of a song as a proposal (replacing an earlier
    /// proposal of the same model for the song). Nothing the user sees changes.
    pub fn set_proposal(
        &self,
        track: TrackId,
        model_id: ModelId,
        analysis: &NewAnalysis<'_>,
        beats: &BeatList,
        beats_per_bar: Option<u32>,
    ) -> Result<()> {
        beats.validate()?;
        let analysis_id = self.insert_analysis(track, analysis, true)?;
        let times = codec::f64_to_le(&beats.times_s);
        let positions = beats.positions.as_deref().map(codec::u32_to_le);
        let n = beats.len() as i64;
        let bpb = beats_per_bar.map(i64::from);
        self.write(|c| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT OR REPLACE INTO model_proposals (track_id, model_id, analysis_id, \
                     beats_per_bar, n_beats, times, positions, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, {NOW})"
                )))
                .bind(track)
                .bind(model_id)
                .bind(analysis_id)
                .bind(bpb)
                .bind(n)
                .bind(times)
                .bind(positions)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
    }

    /// `model_id`'s proposal for a song, if there is one.
    pub fn proposal(&self, track: TrackId, model_id: ModelId) -> Result<Option<Proposal>> {
        let row = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query("SELECT * FROM model_proposals WHERE track_id = ? AND model_id = ?")
                    .bind(track)
                    .bind(model_id)
                    .fetch_optional(&mut *c)
                    .await
            })
        })?;
        let Some(r) = row else { return Ok(None) };
        let get = |e: sqlx::Error| self.corrupt(format!("model_proposals row: {e}"));
        Ok(Some(Proposal {
            track_id: track,
            model_id,
            analysis_id: r.try_get("analysis_id").map_err(get)?,
            beats: self.beats_from_row(&r, &format!("proposal for track {track}"))?,
            beats_per_bar: r
                .try_get::<Option<i64>, _>("beats_per_bar")
                .map_err(get)?
                .map(|b| b.clamp(1, i64::from(u32::MAX)) as u32),
        }))
    }

    /// Makes `active` the project's model (`None` = the shipped one) and accepts the
    /// proposals of `proposal_model` for the songs in `accept`: each gets a new revision in
    /// which the beats the user set, checked or imported stay and the model's beats replace
    /// the rest ([`provenance::merge_proposal`]); the proposal's analysis becomes the song's
    /// latest. Songs not in `accept` keep their beats. Calling it again for the same model
    /// adds songs to the same adoption (one roll-back undoes them all). A song without a
    /// proposal is an error naming it, before anything changes.
    pub fn adopt(
        &self,
        active: Option<ModelId>,
        proposal_model: ModelId,
        accept: &[TrackId],
    ) -> Result<Adoption> {
        let mut proposals = Vec::with_capacity(accept.len());
        for &t in accept {
            let p = self.proposal(t, proposal_model)?.ok_or_else(|| {
                Error::InvalidInput(format!(
                    "track {t} has no beats from model {proposal_model} to accept; preview the model first"
                ))
            })?;
            proposals.push(p);
        }
        let mut settings = self.settings()?;
        let previous = settings.active_model_id;
        let adoption_id = match self.last_adoption()? {
            Some(a) if a.model_id == active => a.id,
            _ => self.write(|c| {
                Box::pin(async move {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO adoptions (model_id, previous_model_id, created_at) \
                         VALUES (?, ?, {NOW})"
                    )))
                    .bind(active)
                    .bind(previous)
                    .execute(&mut *c)
                    .await?;
                    Ok(r.last_insert_rowid())
                })
            })?,
        };
        settings.active_model_id = active;
        self.set_settings(&settings)?;
        for p in proposals {
            self.accept_one(adoption_id, &p)?;
        }
        self.last_adoption()?
            .ok_or_else(|| self.corrupt("the adoption just written is gone".into()))
    }

    fn accept_one(&self, adoption_id: i64, p: &Proposal) -> Result<()> {
        let track = p.track_id;
        let before = self.head(track)?;
        if let Some(analysis) = p.analysis_id {
            self.write(|c| {
                Box::pin(async move {
                    sqlx::query("UPDATE analyses SET proposal = 0 WHERE id = ?")
                        .bind(analysis)
                        .execute(&mut *c)
                        .await?;
                    Ok(())
                })
            })?;
            // The model's own beats, beside the head: what "the model's beats" means from now.
            self.insert_model_revision(
                track,
                analysis,
                &p.beats,
                p.beats_per_bar,
                "analysis",
                false,
            )?;
        }
        let (times, sources) = match &before {
            Some(h) => provenance::merge_proposal(&h.beats.times_s, &h.sources, &p.beats.times_s),
            None => (
                p.beats.times_s.clone(),
                vec![BeatSource::Model; p.beats.len()],
            ),
        };
        let positions = merged_positions(before.as_ref().map(|h| &h.beats), &p.beats, &times);
        let beats = BeatList {
            times_s: times,
            positions,
        };
        let all_model = sources.iter().all(|s| *s == BeatSource::Model);
        let after = self.commit_beats_with_sources(
            track,
            &NewRevision {
                beats: &beats,
                author: if all_model {
                    Author::Model
                } else {
                    Author::User
                },
                note: "accepted the new model's beats",
                beats_per_bar: p
                    .beats_per_bar
                    .or(before.as_ref().and_then(|h| h.beats_per_bar)),
                fresh: None,
            },
            &sources,
        )?;
        let before_id = before.map(|h| h.id);
        self.write(|c| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT OR REPLACE INTO adoption_tracks (adoption_id, track_id, before_revision, after_revision) \
                     VALUES (?, ?, ?, ?)",
                )
                .bind(adoption_id)
                .bind(track)
                .bind(before_id)
                .bind(after)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
    }

    /// The songs the training run that made `model` learned from (its config's `tracks`,
    /// as the app records them); empty when no run of this project made it.
    pub fn trained_tracks(&self, model: ModelId) -> Result<Vec<TrackId>> {
        let configs: Vec<String> = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query_scalar(
                    "SELECT config_json FROM training_runs WHERE result_model_id = ?",
                )
                .bind(model)
                .fetch_all(&mut *c)
                .await
            })
        })?;
        Ok(configs
            .iter()
            .filter_map(|j| serde_json::from_str::<serde_json::Value>(j).ok())
            .filter_map(|v| {
                v.get("tracks")?
                    .as_array()
                    .map(|a| a.iter().filter_map(|t| t.as_i64()).collect::<Vec<_>>())
            })
            .flatten()
            .collect())
    }

    /// The latest adoption not rolled back, if any.
    pub fn last_adoption(&self) -> Result<Option<Adoption>> {
        let rows = self.with_conn(|c| {
            Box::pin(async move {
                let a = sqlx::query(
                    "SELECT id, model_id, previous_model_id FROM adoptions \
                     WHERE rolled_back_at IS NULL ORDER BY id DESC LIMIT 1",
                )
                .fetch_optional(&mut *c)
                .await?;
                let Some(a) = a else { return Ok(None) };
                let id: i64 = a.try_get("id")?;
                let tracks = sqlx::query(
                    "SELECT track_id, before_revision, after_revision FROM adoption_tracks \
                     WHERE adoption_id = ? ORDER BY track_id",
                )
                .bind(id)
                .fetch_all(&mut *c)
                .await?;
                Ok(Some((a, tracks)))
            })
        })?;
        let Some((a, tracks)) = rows else {
            return Ok(None);
        };
        let get = |e: sqlx::Error| self.corrupt(format!("adoptions row: {e}"));
        Ok(Some(Adoption {
            id: a.try_get("id").map_err(get)?,
            model_id: a.try_get("model_id").map_err(get)?,
            previous_model_id: a.try_get("previous_model_id").map_err(get)?,
            tracks: tracks
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get("track_id").map_err(get)?,
                        r.try_get("before_revision").map_err(get)?,
                        r.try_get("after_revision").map_err(get)?,
                    ))
                })
                .collect::<Result<_>>()?,
        }))
    }

    /// Undoes the latest adoption as one action: the model active before it is active again
    /// and each song it changed gets back the beats it had before (its head moves back, so
    /// redo brings the accepted beats again). A song the user edited after accepting is
    /// left as it is. `None` when there is nothing to roll back.
    pub fn rollback_adoption(&self) -> Result<Option<Rollback>> {
        let Some(a) = self.last_adoption()? else {
            return Ok(None);
        };
        let (mut reverted, mut kept_edited) = (0, 0);
        for &(track, before, after) in &a.tracks {
            let head = self.track(track)?.head;
            match before {
                Some(b) if head == Some(after) => {
                    self.checkout(track, b)?;
                    reverted += 1;
                }
                _ => kept_edited += 1,
            }
        }
        let mut settings = self.settings()?;
        settings.active_model_id = a.previous_model_id;
        self.set_settings(&settings)?;
        let id = a.id;
        self.write(|c| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE adoptions SET rolled_back_at = {NOW} WHERE id = ?"
                )))
                .bind(id)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })?;
        Ok(Some(Rollback {
            active_model_id: a.previous_model_id,
            reverted,
            kept_edited,
        }))
    }
}

/// Bar positions of a merged beat list: each beat's own position from the list it came
/// from, when both lists number their beats; `None` otherwise.
fn merged_positions(
    before: Option<&BeatList>,
    proposal: &BeatList,
    times_s: &[f64],
) -> Option<Vec<u32>> {
    let proposal_pos = proposal.positions.as_ref()?;
    let lookup = |list: &BeatList, pos: &[u32], t: f64| {
        list.times_s
            .iter()
            .position(|x| (x - t).abs() <= provenance::SAME_BEAT_S)
            .and_then(|i| pos.get(i).copied())
    };
    let before_pos = match before {
        Some(b) => Some((b, b.positions.as_ref()?)),
        None => None,
    };
    times_s
        .iter()
        .map(|&t| {
            before_pos
                .and_then(|(b, p)| lookup(b, p, t))
                .or_else(|| lookup(proposal, proposal_pos, t))
        })
        .collect()
}
