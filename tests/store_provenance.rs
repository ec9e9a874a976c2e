//! Provenance of every beat and safe adoption of a model, through the store (issue 19).

use std::path::{Path, PathBuf};

mod common;
use common::store::{meta, new_project, raw_exec};
use zerons::formats::BeatList;
use zerons::store::BeatSource::{
    Confirmed as C, Continued as K, Imported as I, Model as M, User as U,
};
use zerons::store::{Author, Model, NewAnalysis, NewRevision, Project, TrackId, provenance};

fn track(p: &Project, dir: &Path, name: &str) -> TrackId {
    let f = dir.join(name);
    std::fs::write(&f, name.as_bytes()).unwrap();
    p.add_track(&f, &meta()).unwrap()
}

fn analysis(p: &Project, t: TrackId) -> i64 {
    p.add_analysis(
        t,
        &NewAnalysis {
            model_id: None,
            config_json: "{}",
            curves: &[],
        },
    )
    .unwrap()
}

fn grid(start: f64, step: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| start + step * i as f64).collect()
}

fn edit<'a>(beats: &'a BeatList, note: &'a str, author: Author) -> NewRevision<'a> {
    NewRevision {
        beats,
        author,
        note,
        beats_per_bar: Some(4),
        fresh: None,
    }
}

#[test]
fn every_beat_keeps_who_made_it_across_edits_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    let t = track(&p, dir.path(), "a.wav");
    let model = BeatList::new(grid(0.5, 0.5, 10));
    p.add_model_revision(t, analysis(&p, t), &model, Some(4), "analysis")
        .unwrap();
    assert_eq!(p.head(t).unwrap().unwrap().sources, vec![M; 10]);

    // Moving one beat makes that beat the user's and no other (issue 19 problem 2: a song
    // checked to 0:43 showed "corrected up to 4:46").
    let mut moved = model.times_s.clone();
    moved[2] += 0.03;
    p.commit_beats(
        t,
        &edit(&BeatList::new(moved.clone()), "move", Author::User),
    )
    .unwrap();
    let head = p.head(t).unwrap().unwrap();
    assert_eq!(head.sources, vec![M, M, U, M, M, M, M, M, M, M]);
    assert_eq!(provenance::learn_run(&head.sources), None);

    // Continue → adds continued beats, which are not checked either.
    let mut cont = moved[..4].to_vec();
    cont.extend(grid(2.6, 0.5, 6));
    p.commit_beats(
        t,
        &NewRevision {
            fresh: Some(K),
            ..edit(&BeatList::new(cont.clone()), "continued", Author::User)
        },
    )
    .unwrap();
    assert_eq!(
        p.head(t).unwrap().unwrap().sources,
        vec![M, M, U, M, K, K, K, K, K, K]
    );

    // "The beats up to here are right" confirms them: now there is a run to learn from.
    let confirmed = p.confirm_beats(t, 0.0, 2.0).unwrap();
    let head = p.head(t).unwrap().unwrap();
    assert_eq!(head.id, confirmed);
    assert_eq!(head.beats.times_s, cont, "confirming moves no beat");
    assert_eq!(head.sources, vec![C, C, U, C, K, K, K, K, K, K]);
    assert_eq!(provenance::learn_run(&head.sources), Some(0..4));
    assert!(
        head.note.starts_with("checked 0:00 to 0:02"),
        "{}",
        head.note
    );
    // Nothing new to confirm: no new revision. No beat in the range: an error.
    assert_eq!(p.confirm_beats(t, 0.0, 2.0).unwrap(), confirmed);
    assert!(p.confirm_beats(t, 20.0, 25.0).is_err());
    // Undo takes the confirmation back like any edit.
    p.undo(t).unwrap();
    assert_eq!(p.head(t).unwrap().unwrap().sources[0], M);
    p.redo(t).unwrap();

    // An import is all imported, whatever it shares with the head.
    let t2 = track(&p, dir.path(), "b.wav");
    p.commit_beats(t2, &edit(&model, "imported", Author::Import))
        .unwrap();
    assert_eq!(p.head(t2).unwrap().unwrap().sources, vec![I; 10]);
    drop(p);

    let p = Project::open(&path).unwrap();
    assert_eq!(
        p.head(t).unwrap().unwrap().sources,
        vec![C, C, U, C, K, K, K, K, K, K]
    );
}

#[test]
fn a_reanalysis_never_hides_checked_continued_or_imported_beats() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, p) = new_project(dir.path());
    let t = track(&p, dir.path(), "a.wav");
    let model = BeatList::new(grid(0.5, 0.5, 10));
    p.add_model_revision(t, analysis(&p, t), &model, None, "analysis")
        .unwrap();
    // Only confirmed, no moved beat: still the user's word.
    p.confirm_beats(t, 0.0, 1.0).unwrap();
    let (_, took) = p
        .add_model_revision(
            t,
            analysis(&p, t),
            &BeatList::new(grid(0.25, 1.0, 5)),
            None,
            "analysis",
        )
        .unwrap();
    assert!(!took);
    assert_eq!(p.head(t).unwrap().unwrap().beats, model);
}

/// Two songs with model beats, a fine-tuned model and its proposals for both.
fn project_with_proposals(dir: &Path) -> (PathBuf, Project, TrackId, TrackId, i64) {
    let (path, p) = new_project(dir);
    let t1 = track(&p, dir, "a.wav");
    let t2 = track(&p, dir, "b.wav");
    for t in [t1, t2] {
        let b = BeatList::new(grid(0.5, 60.0 / 170.0, 80));
        p.add_model_revision(t, analysis(&p, t), &b, Some(4), "analysis")
            .unwrap();
    }
    let m = p
        .add_model(&Model {
            id: 0,
            name: "fine-tuned".into(),
            path: dir.join("m"),
            sha256: "00".into(),
            architecture: "lite".into(),
            parent_id: None,
            provenance_json: "{}".into(),
        })
        .unwrap();
    // The new model hears 85 BPM in both.
    for t in [t1, t2] {
        let b = BeatList::new(grid(0.5, 60.0 / 85.0, 40));
        p.set_proposal(
            t,
            m,
            &NewAnalysis {
                model_id: Some(m),
                config_json: "{}",
                curves: &[],
            },
            &b,
            Some(4),
        )
        .unwrap();
    }
    (path, p, t1, t2, m)
}

#[test]
fn adopting_a_model_changes_only_the_accepted_songs_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p, t1, t2, m) = project_with_proposals(dir.path());
    let before1 = p.head(t1).unwrap().unwrap();
    let before2 = p.head(t2).unwrap().unwrap();
    let analyses2 = p.analyses(t2).unwrap();
    // A preview is not the song's latest analysis (its curves are not shown).
    assert!(analyses2.iter().all(|a| a.model_id.is_none()));
    // The user set the first 8 beats of song 1 by hand.
    let mut mine = before1.beats.times_s.clone();
    for t in &mut mine[..8] {
        *t += 0.01;
    }
    p.commit_beats(t1, &edit(&BeatList::new(mine.clone()), "fix", Author::User))
        .unwrap();
    let edited1 = p.head(t1).unwrap().unwrap();

    let a = p.adopt(Some(m), m, &[t1]).unwrap();
    assert_eq!(p.settings().unwrap().active_model_id, Some(m));
    assert_eq!(a.tracks.len(), 1);
    // Song 2 was not accepted: exactly the beats it had (issue 19 problem 1).
    let now2 = p.head(t2).unwrap().unwrap();
    assert_eq!((now2.id, &now2.beats), (before2.id, &before2.beats));
    // Song 1: the user's 8 beats stay, the model's beats are replaced by the new ones.
    let now1 = p.head(t1).unwrap().unwrap();
    for t in &mine[..8] {
        assert!(now1.beats.times_s.contains(t));
    }
    assert_eq!(
        now1.sources.iter().filter(|s| **s == U).count(),
        8,
        "{:?}",
        now1.sources
    );
    assert!(now1.beats.len() < 60, "the rest follows the new model");
    assert_eq!(p.analyses(t1).unwrap().last().unwrap().model_id, Some(m));
    // Accepting song 2 later adds it to the same adoption.
    let a2 = p.adopt(Some(m), m, &[t2]).unwrap();
    assert_eq!((a2.id, a2.tracks.len()), (a.id, 2));
    // An unknown proposal is refused before anything changes.
    assert!(p.adopt(Some(m), m + 1, &[t1]).is_err());
    drop(p);

    // One action rolls both songs and the active model back, after a reopen too.
    let p = Project::open(&path).unwrap();
    let r = p.rollback_adoption().unwrap().unwrap();
    assert_eq!((r.reverted, r.kept_edited, r.active_model_id), (2, 0, None));
    assert_eq!(p.head(t1).unwrap().unwrap().id, edited1.id);
    assert_eq!(p.head(t2).unwrap().unwrap().id, before2.id);
    assert_eq!(p.settings().unwrap().active_model_id, None);
    assert!(p.rollback_adoption().unwrap().is_none());
}

#[test]
fn a_roll_back_leaves_songs_edited_since_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, p, t1, _t2, m) = project_with_proposals(dir.path());
    p.adopt(Some(m), m, &[t1]).unwrap();
    let mut later = p.head(t1).unwrap().unwrap().beats.times_s;
    later[0] += 0.02;
    p.commit_beats(
        t1,
        &edit(&BeatList::new(later.clone()), "later", Author::User),
    )
    .unwrap();
    let r = p.rollback_adoption().unwrap().unwrap();
    assert_eq!((r.reverted, r.kept_edited), (0, 1));
    assert_eq!(p.head(t1).unwrap().unwrap().beats.times_s, later);
}

#[test]
fn a_version_1_project_gets_sources_from_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    let t = track(&p, dir.path(), "a.wav");
    let model = BeatList::new(grid(0.5, 0.5, 6));
    p.add_model_revision(t, analysis(&p, t), &model, None, "analysis")
        .unwrap();
    let mut moved = model.times_s.clone();
    moved[1] += 0.05;
    p.commit_beats(t, &edit(&BeatList::new(moved), "move", Author::User))
        .unwrap();
    p.close().unwrap();
    // Back to schema 1 as an older ZeroNS wrote it: no sources, no proposal tables.
    raw_exec(
        &path,
        "UPDATE beat_revisions SET sources = NULL; \
         ALTER TABLE beat_revisions DROP COLUMN sources; \
         ALTER TABLE analyses DROP COLUMN proposal; \
         DROP TABLE model_proposals; DROP TABLE adoption_tracks; DROP TABLE adoptions; \
         DELETE FROM _sqlx_migrations WHERE version = 2; PRAGMA user_version = 1;",
    );
    let p = Project::open(&path).unwrap();
    // The user moved one beat: the other five are still the model's, not "corrected".
    assert_eq!(p.head(t).unwrap().unwrap().sources, vec![M, U, M, M, M, M]);
}

/// Issue 19: "straighten beats" moves a range onto a straight grid as one undoable edit,
/// each beat keeping its source (a model beat snapped onto the grid is not checked) and its
/// bar position; beats outside the range stay put.
#[test]
fn straightening_snaps_a_range_onto_a_grid_and_keeps_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, p) = new_project(dir.path());
    let t = track(&p, dir.path(), "a.wav");
    // 120 BPM on 16-ms frames (31 or 32 frames apart), then 100 BPM from beat 20.
    let frame = |x: f64| (x * 62.5).round() / 62.5;
    let mut times: Vec<f64> = grid(1.0, 0.5, 20).into_iter().map(frame).collect();
    times.extend(grid(11.0, 0.6, 20).into_iter().map(frame));
    let model = BeatList {
        times_s: times.clone(),
        positions: Some((0..40).map(|i| i % 4 + 1).collect()),
    };
    p.add_model_revision(t, analysis(&p, t), &model, Some(4), "analysis")
        .unwrap();
    p.confirm_beats(t, 0.0, 3.0).unwrap();
    let before = p.head(t).unwrap().unwrap();

    let done = p.straighten_beats(t, 0.0, 60.0, 0.010).unwrap();
    assert_eq!(done.n_beats, 40);
    assert_eq!(
        done.n_sections, 2,
        "one section per real tempo: {:?}",
        done.bpms
    );
    assert!((done.bpms[0] - 120.0).abs() < 0.1 && (done.bpms[1] - 100.0).abs() < 0.1);
    assert!(done.max_shift_s <= 0.010);
    let head = p.head(t).unwrap().unwrap();
    assert_eq!(head.id, done.revision);
    assert_eq!(head.sources, before.sources, "straightening checks nothing");
    assert_eq!(head.beats.positions, model.positions);
    let ibi: Vec<f64> = head.beats.times_s[..20]
        .windows(2)
        .map(|w| w[1] - w[0])
        .collect();
    let spread = ibi.iter().cloned().fold(0.0, f64::max) - ibi.iter().cloned().fold(1.0, f64::min);
    assert!(
        spread < 1e-9,
        "constant intervals in a section, spread {spread} s"
    );
    assert!(head.note.starts_with("straightened 0:01"), "{}", head.note);

    // Straight already: no new revision. Undo brings the frame-grid beats back.
    assert_eq!(
        p.straighten_beats(t, 0.0, 60.0, 0.010).unwrap().revision,
        done.revision
    );
    p.undo(t).unwrap();
    assert_eq!(p.head(t).unwrap().unwrap().beats.times_s, times);

    // A part of the song: the beats outside it stay where they were.
    let part = p.straighten_beats(t, 11.0, 60.0, 0.010).unwrap();
    assert_eq!((part.n_beats, part.n_sections), (20, 1));
    assert_eq!(p.head(t).unwrap().unwrap().beats.times_s[..20], times[..20]);

    // Bad ranges and tolerances are errors that change nothing.
    let head = p.head(t).unwrap().unwrap().id;
    assert!(p.straighten_beats(t, 100.0, 200.0, 0.010).is_err());
    assert!(p.straighten_beats(t, 5.0, 1.0, 0.010).is_err());
    assert!(p.straighten_beats(t, f64::NAN, 1.0, 0.010).is_err());
    assert!(p.straighten_beats(t, 0.0, 60.0, 0.5).is_err());
    assert_eq!(p.head(t).unwrap().unwrap().id, head);
}
