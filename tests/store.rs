//! Integration tests of the project store (one SQLite file per project).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;
use common::store::{meta, new_project, raw_exec};
use zerons::Error;
use zerons::formats::BeatList;
use zerons::store::{
    Author, Curve, Model, NewAnalysis, NewRevision, OpenOptions, Project, ProjectSettings,
    RunStatus, SCHEMA_VERSION, TrackStatus, TrackTempo,
};

fn song(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn user_edit<'a>(beats: &'a BeatList, note: &'a str) -> NewRevision<'a> {
    NewRevision {
        beats,
        author: Author::User,
        note,
        beats_per_bar: Some(4),
        fresh: None,
    }
}

#[test]
fn create_open_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    let settings = ProjectSettings {
        min_bpm: 80.0,
        max_bpm: 160.0,
        beats_per_bar: 3,
        ..ProjectSettings::default()
    };
    p.set_settings(&settings).unwrap();
    let a = song(dir.path(), "a.wav", b"audio a");
    let t = p.add_track(&a, &meta()).unwrap();
    // A song with its own tempo range and meter (a waltz among 4/4 songs).
    let waltz = TrackTempo {
        min_bpm: 60.0,
        max_bpm: 100.0,
        beats_per_bar: 3,
    };
    let mut settings = settings;
    settings.track_tempo.insert(t, waltz);
    p.set_settings(&settings).unwrap();
    assert_eq!(settings.tempo_for(Some(t)), waltz);
    assert_eq!(
        settings.tempo_for(Some(t + 1)).beats_per_bar,
        3,
        "others: the project's"
    );
    assert_eq!(settings.tempo_for(None).min_bpm, 80.0);
    let curve = Curve {
        kind: "beat".into(),
        fps: 62.5,
        values: vec![0.0, 0.25, 1.0, -0.5],
    };
    let an = p
        .add_analysis(
            t,
            &NewAnalysis {
                model_id: None,
                config_json: r#"{"tracker":"dbn"}"#,
                curves: std::slice::from_ref(&curve),
            },
        )
        .unwrap();
    drop(p);

    let p = Project::open(&path).unwrap();
    assert_eq!(p.name().unwrap(), "test");
    assert_eq!(p.settings().unwrap(), settings);
    let tracks = p.tracks().unwrap();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].path, a);
    assert_eq!(tracks[0].meta, meta());
    assert_eq!(tracks[0].size_bytes, 7);
    // sha256("audio a")
    assert_eq!(tracks[0].sha256.len(), 64);
    let analyses = p.analyses(t).unwrap();
    assert_eq!(analyses.len(), 1);
    assert_eq!(analyses[0].engine_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(p.curves(an).unwrap(), vec![curve]);
    p.integrity_check().unwrap();
}

#[test]
fn invalid_settings_and_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = ProjectSettings {
        min_bpm: 200.0,
        max_bpm: 100.0,
        beats_per_bar: 4,
        ..ProjectSettings::default()
    };
    let e = Project::create(&dir.path().join("x"), "x", &bad).unwrap_err();
    assert_eq!(e.code(), "config");
    let mut bad_song = ProjectSettings::default();
    bad_song.track_tempo.insert(
        7,
        TrackTempo {
            min_bpm: 90.0,
            max_bpm: 90.0,
            beats_per_bar: 4,
        },
    );
    let e = Project::create(&dir.path().join("x2"), "x", &bad_song).unwrap_err();
    assert!(e.to_string().contains("track 7"), "{e}");
    // Settings written before songs had their own tempo still open.
    let old: ProjectSettings =
        serde_json::from_str(r#"{"min_bpm": 70, "max_bpm": 140, "beats_per_bar": 4}"#).unwrap();
    assert!(old.track_tempo.is_empty());
    let e = Project::create(&dir.path().join("y"), " ", &ProjectSettings::default()).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let (path, _p) = new_project(dir.path());
    let e = Project::create(&path, "again", &ProjectSettings::default()).unwrap_err();
    assert_eq!(e.code(), "store", "{e}");
}

#[test]
fn undo_redo_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    let t = p
        .add_track(&song(dir.path(), "a.wav", b"x"), &meta())
        .unwrap();
    assert!(p.head(t).unwrap().is_none());
    assert_eq!(p.undo(t).unwrap(), None);
    let b1 = BeatList::new(vec![0.5, 1.0, 1.5]);
    let b2 = BeatList::with_positions(vec![0.5, 1.0, 1.5, 2.0], vec![1, 2, 3, 4]).unwrap();
    let b3 = BeatList::new(vec![0.6, 1.1]);
    let r1 = p.commit_beats(t, &user_edit(&b1, "first")).unwrap();
    let r2 = p.commit_beats(t, &user_edit(&b2, "second")).unwrap();
    let r3 = p.commit_beats(t, &user_edit(&b3, "third")).unwrap();
    assert_eq!(p.head(t).unwrap().unwrap().id, r3);
    assert_eq!(p.undo(t).unwrap(), Some(r2));
    assert_eq!(p.undo(t).unwrap(), Some(r1));
    drop(p);

    // Restart: the head is where we left it, redo still works.
    let p = Project::open(&path).unwrap();
    let head = p.head(t).unwrap().unwrap();
    assert_eq!(head.id, r1);
    assert_eq!(head.beats, b1);
    assert_eq!(p.undo(t).unwrap(), None, "r1 is the root");
    assert_eq!(p.redo(t).unwrap(), Some(r2));
    let head = p.head(t).unwrap().unwrap();
    assert_eq!(head.beats, b2);
    assert_eq!(head.beats_per_bar, Some(4));
    assert_eq!(head.author, Author::User);
    // A new edit after undo branches off; redo follows the newest branch.
    assert_eq!(p.undo(t).unwrap(), Some(r1));
    let r4 = p.commit_beats(t, &user_edit(&b3, "branch")).unwrap();
    assert_eq!(p.redo(t).unwrap(), None);
    assert_eq!(p.undo(t).unwrap(), Some(r1));
    assert_eq!(p.redo(t).unwrap(), Some(r4));
    assert_eq!(p.history(t).unwrap().len(), 4, "nothing is ever deleted");
}

#[test]
fn reanalysis_never_hides_user_beats() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, p) = new_project(dir.path());
    let t = p
        .add_track(&song(dir.path(), "a.wav", b"x"), &meta())
        .unwrap();
    let an = |p: &Project| {
        p.add_analysis(
            t,
            &NewAnalysis {
                model_id: None,
                config_json: "{}",
                curves: &[],
            },
        )
        .unwrap()
    };
    let a1 = an(&p);
    let model1 = BeatList::new(vec![0.5, 1.0]);
    let (m1, took) = p
        .add_model_revision(t, a1, &model1, None, "analysis")
        .unwrap();
    assert!(took, "first beats become the head");
    let user = BeatList::new(vec![0.52, 1.0]);
    let u = p.commit_beats(t, &user_edit(&user, "nudge")).unwrap();
    let a2 = an(&p);
    let (m2, took) = p
        .add_model_revision(t, a2, &BeatList::new(vec![0.4]), None, "analysis")
        .unwrap();
    assert!(!took);
    let head = p.head(t).unwrap().unwrap();
    assert_eq!((head.id, &head.beats), (u, &user));
    let m2r = p.revision(m2).unwrap();
    assert_eq!(m2r.author, Author::Model);
    assert_eq!(m2r.analysis_id, Some(a2));
    assert_ne!(m1, m2);
    p.checkout(t, m2).unwrap();
    assert_eq!(p.head(t).unwrap().unwrap().id, m2);
    assert_eq!(
        p.undo(t).unwrap(),
        Some(u),
        "undo after checkout returns to the user beats"
    );
}

#[test]
fn moved_and_changed_files_are_reported_not_reanalysed() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, p) = new_project(dir.path());
    let a = song(dir.path(), "a.wav", b"original");
    let t = p.add_track(&a, &meta()).unwrap();
    assert_eq!(p.check_track(t).unwrap(), TrackStatus::Ok);
    std::fs::write(&a, b"edited").unwrap();
    assert!(matches!(
        p.check_track(t).unwrap(),
        TrackStatus::Changed { .. }
    ));
    let moved = dir.path().join("moved.wav");
    std::fs::rename(&a, &moved).unwrap();
    assert_eq!(p.check_track(t).unwrap(), TrackStatus::Missing);
    p.relink_track(t, &moved).unwrap();
    assert_eq!(p.check_track(t).unwrap(), TrackStatus::Ok);
    assert_eq!(p.track(t).unwrap().path, moved);
    assert_eq!(p.track(99).unwrap_err().code(), "store");
}

#[test]
fn models_training_runs_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, p) = new_project(dir.path());
    let t = p
        .add_track(&song(dir.path(), "a.wav", b"x"), &meta())
        .unwrap();
    let base = Model {
        id: 0,
        name: "pretrained".into(),
        path: "models/base.bpk".into(),
        sha256: "ab".repeat(32),
        architecture: "zerons-tcn".into(),
        parent_id: None,
        provenance_json: r#"{"source":"paper"}"#.into(),
    };
    let b = p.add_model(&base).unwrap();
    let run = p
        .start_training_run(Some(b), r#"{"epochs":2}"#, Some(r#"{"f":0.7}"#))
        .unwrap();
    p.record_epoch(run, 0, r#"{"loss":1.0}"#).unwrap();
    p.record_epoch(run, 1, r#"{"loss":0.5}"#).unwrap();
    let tuned = p
        .add_model(&Model {
            name: "tuned".into(),
            parent_id: Some(b),
            ..base.clone()
        })
        .unwrap();
    p.finish_training_run(run, RunStatus::Succeeded, Some(r#"{"f":0.8}"#), Some(tuned))
        .unwrap();
    let r = p.training_run(run).unwrap();
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.result_model_id, Some(tuned));
    assert_eq!(r.epochs.len(), 2);
    assert_eq!(r.epochs[1], (1, r#"{"loss":0.5}"#.to_string()));
    let models = p.models().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[1].parent_id, Some(b));

    let beats = BeatList::new(vec![1.0]);
    let rev = p.commit_beats(t, &user_edit(&beats, "")).unwrap();
    p.log_export(t, rev, "csv", Path::new("out.csv")).unwrap();
    let ex = p.exports().unwrap();
    assert_eq!(ex.len(), 1);
    assert_eq!((ex[0].revision_id, ex[0].format.as_str()), (rev, "csv"));
}

#[test]
fn invalid_beats_are_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, p) = new_project(dir.path());
    let t = p
        .add_track(&song(dir.path(), "a.wav", b"x"), &meta())
        .unwrap();
    let bad = BeatList::new(vec![1.0, 0.5]);
    let e = p.commit_beats(t, &user_edit(&bad, "")).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(p.history(t).unwrap().is_empty());
}

#[test]
fn bad_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Not SQLite at all.
    let text = song(
        dir.path(),
        "notes.txt",
        b"hello, this is not a database at all",
    );
    let e = Project::open(&text).unwrap_err();
    assert_eq!(e.code(), "not_a_project", "{e}");
    // Empty file.
    let empty = song(dir.path(), "empty.zerons", b"");
    assert_eq!(Project::open(&empty).unwrap_err().code(), "not_a_project");
    // Missing file: an I/O error naming it, nothing created.
    let missing = dir.path().join("missing.zerons");
    assert_eq!(Project::open(&missing).unwrap_err().code(), "io");
    assert!(!missing.exists());
    // SQLite, but someone else's.
    let other = dir.path().join("other.db");
    raw_exec(&other, "CREATE TABLE t (x INTEGER)");
    let e = Project::open(&other).unwrap_err();
    assert_eq!(e.code(), "not_a_project", "{e}");
    assert!(e.to_string().contains("another program"), "{e}");
    // Ours, but from the future.
    let (path, p) = new_project(dir.path());
    drop(p);
    raw_exec(&path, "PRAGMA user_version = 99");
    let e = Project::open(&path).unwrap_err();
    assert!(
        matches!(e, Error::ProjectTooNew { found: 99, supported, .. } if supported == SCHEMA_VERSION),
        "{e}"
    );
    assert!(e.to_string().contains("update ZeroNS"), "{e}");
}

#[test]
fn read_only_project_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    drop(p);
    let mut perm = std::fs::metadata(&path).unwrap().permissions();
    perm.set_readonly(true);
    std::fs::set_permissions(&path, perm).unwrap();
    let e = Project::open(&path).unwrap_err();
    assert_eq!(e.code(), "project_read_only", "{e}");
}

#[test]
fn two_connections_share_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, a) = new_project(dir.path());
    let t = a
        .add_track(&song(dir.path(), "a.wav", b"x"), &meta())
        .unwrap();
    let b = Project::open(&path).unwrap();
    let beats = BeatList::new(vec![1.0, 2.0]);
    a.commit_beats(t, &user_edit(&beats, "from a")).unwrap();
    let rb = b.commit_beats(t, &user_edit(&beats, "from b")).unwrap();
    assert_eq!(a.head(t).unwrap().unwrap().id, rb, "a sees b's edit");
    assert_eq!(a.history(t).unwrap().len(), 2);
}

#[test]
fn long_lock_gives_project_busy() {
    use sqlx::{ConnectOptions, Executor};
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    drop(p);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut holder = rt.block_on(async {
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .connect()
            .await
            .unwrap();
        c.execute("BEGIN IMMEDIATE").await.unwrap();
        c
    });
    let p = Project::open_with(
        &path,
        &OpenOptions {
            busy_timeout_ms: 200,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let start = std::time::Instant::now();
    let e = p
        .add_track(&song(dir.path(), "a.wav", b"x"), &meta())
        .unwrap_err();
    assert_eq!(e.code(), "project_busy", "{e}");
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "waited for the lock"
    );
    rt.block_on(holder.execute("ROLLBACK")).unwrap();
    // Lock released: the same call now works.
    p.add_track(&song(dir.path(), "a.wav", b"x"), &meta())
        .unwrap();
}

const CHILD_ENV: &str = "ZERONS_STORE_KILL_CHILD";

/// Child half of [`sigkill_keeps_every_acknowledged_edit`]: applies edits forever and
/// prints `ack <run> <i>` after each one returned. Only runs when re-invoked by the parent.
#[test]
#[ignore = "helper process for sigkill_keeps_every_acknowledged_edit"]
fn kill_child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (run, path) = spec.split_once(':').unwrap();
    let p = Project::open(Path::new(path)).unwrap();
    let t = p.tracks().unwrap()[0].id;
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let times: Vec<f64> = (0..200).map(|k| k as f64 * 0.5 + i as f64 * 1e-4).collect();
        let beats = BeatList::new(times);
        let note = format!("run{run} edit{i}");
        if i % 7 == 3 {
            p.undo(t).unwrap();
        }
        p.commit_beats(t, &user_edit(&beats, &note)).unwrap();
        writeln!(out, "ack {run} {i}").unwrap();
        out.flush().unwrap();
    }
}

#[cfg(unix)]
#[test]
fn sigkill_keeps_every_acknowledged_edit() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    p.add_track(&song(dir.path(), "a.wav", b"x"), &meta())
        .unwrap();
    drop(p);
    let exe = std::env::current_exe().unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let seed0 = seed;
    let mut total_acked = 0;
    for run in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay_ms = 150 + seed % 400;
        let mut child = std::process::Command::new(&exe)
            .args(["kill_child_writer", "--exact", "--ignored", "--nocapture"])
            .env(CHILD_ENV, format!("{run}:{}", path.display()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL on unix
        let mut text = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        child.wait().unwrap();
        let acked: Vec<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("ack {run} ")))
            .map(|n| n.parse().unwrap())
            .collect();
        total_acked += acked.len();

        let p = Project::open(&path).unwrap();
        p.integrity_check()
            .unwrap_or_else(|e| panic!("seed {seed0}, run {run}: {e}"));
        let t = p.tracks().unwrap()[0].id;
        let notes: std::collections::HashSet<String> =
            p.history(t).unwrap().into_iter().map(|r| r.note).collect();
        for i in &acked {
            assert!(
                notes.contains(&format!("run{run} edit{i}")),
                "seed {seed0}, run {run}: acknowledged edit {i} lost"
            );
        }
        assert!(p.head(t).unwrap().is_some());
    }
    assert!(
        total_acked > 8,
        "the child wrote too few edits ({total_acked}) for the test to mean anything"
    );
}

/// Unmounts a test filesystem when dropped.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_is_a_clear_error_and_loses_no_acknowledged_edit() {
    // A real full disk: a 384 KiB tmpfs. Mounting needs root (CI runs as root); elsewhere
    // the test says it could not run.
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=384k", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("full_disk test not run: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let _unmount = Unmount(mnt.clone());
    let (path, p) = new_project(&mnt);
    let a = song(&mnt, "a.wav", b"audio a");
    let t = p.add_track(&a, &meta()).unwrap();
    // Edits of 4,000 beats (32 KB each) until the disk is full.
    let mut acknowledged = Vec::new();
    let mut failure = None;
    for i in 0..200 {
        let beats = BeatList::new(
            (0..4000)
                .map(|k| 0.5 * k as f64 + 1e-3 * i as f64)
                .collect(),
        );
        match p.commit_beats(t, &user_edit(&beats, "edit")) {
            Ok(id) => acknowledged.push((id, beats)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let e = failure.expect("a 384 KiB disk fills up");
    assert_eq!(e.code(), "store", "{e}");
    assert!(e.to_string().contains("disk full"), "{e}");
    assert!(e.to_string().contains("p.zerons"), "names the file: {e}");
    assert!(!acknowledged.is_empty());
    eprintln!(
        "disk full after {} acknowledged edits: {e}",
        acknowledged.len()
    );
    drop(p);
    // Make room, reopen: every acknowledged edit is there, and the file is sound.
    let grown = std::process::Command::new("mount")
        .args(["-o", "remount,size=8m"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    assert!(grown, "remount with more space");
    let p = Project::open(&path).unwrap();
    p.integrity_check().unwrap();
    for (id, beats) in &acknowledged {
        assert_eq!(&p.revision(*id).unwrap().beats, beats);
    }
    assert_eq!(
        p.head(t).unwrap().unwrap().id,
        acknowledged.last().unwrap().0
    );
}

/// Copies only the `.zerons` file (no `-wal`, no `-shm`) into a fresh directory.
fn copy_file_alone(path: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.zerons");
    std::fs::copy(path, &copy).unwrap();
    (dir, copy)
}

/// Several user edits on one track; returns the track, the beats of each edit and the
/// revision ids.
fn edit_session(dir: &Path, p: &Project) -> (i64, Vec<BeatList>, Vec<i64>) {
    let t = p.add_track(&song(dir, "a.wav", b"audio"), &meta()).unwrap();
    let edits: Vec<BeatList> = (0..5)
        .map(|k| BeatList::new((0..8).map(|b| 0.5 * b as f64 + 0.01 * k as f64).collect()))
        .collect();
    let ids = edits
        .iter()
        .enumerate()
        .map(|(k, b)| {
            p.commit_beats(t, &user_edit(b, &format!("edit {k}")))
                .unwrap()
        })
        .collect();
    (t, edits, ids)
}

fn assert_has_edits(path: &Path, t: i64, edits: &[BeatList], ids: &[i64]) {
    let p = Project::open(path).unwrap();
    p.integrity_check().unwrap();
    let history = p.history(t).unwrap();
    assert_eq!(history.len(), edits.len());
    for (id, beats) in ids.iter().zip(edits) {
        assert_eq!(&p.revision(*id).unwrap().beats, beats);
    }
    assert_eq!(p.head(t).unwrap().unwrap().id, *ids.last().unwrap());
}

/// Regression (issue 19): closing left the edits in the write-ahead log, and a copy of the
/// `.zerons` file alone was "not a ZeroNS project". Closing (or dropping) checkpoints.
#[test]
fn closed_project_file_alone_holds_every_edit() {
    for close in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (path, p) = new_project(dir.path());
        let (t, edits, ids) = edit_session(dir.path(), &p);
        if close {
            p.close().unwrap();
        } else {
            drop(p);
        }
        let (_keep, copy) = copy_file_alone(&path);
        assert_has_edits(&copy, t, &edits, &ids);
    }
}

#[test]
fn checkpoint_makes_the_open_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    let (t, edits, ids) = edit_session(dir.path(), &p);
    // Five commits, no checkpoint due yet: the file alone lacks the edits (the bug).
    let (_keep, copy) = copy_file_alone(&path);
    let stale = Project::open(&copy).and_then(|c| c.history(t));
    assert!(!matches!(stale, Ok(h) if h.len() == edits.len()));
    let stats = p.checkpoint().unwrap();
    assert!(stats.checkpointed_pages >= stats.log_pages);
    let (_keep, copy) = copy_file_alone(&path);
    assert_has_edits(&copy, t, &edits, &ids);
    // Still open and writable after a checkpoint; nothing new: nothing to do.
    assert!(p.checkpoint_if_dirty().unwrap());
    let more = BeatList::new(vec![1.0, 2.0]);
    p.commit_beats(t, &user_edit(&more, "after")).unwrap();
    assert!(p.checkpoint_if_dirty().unwrap());
    let (_keep, copy) = copy_file_alone(&path);
    assert_eq!(
        Project::open(&copy)
            .unwrap()
            .head(t)
            .unwrap()
            .unwrap()
            .beats,
        more
    );
}

#[test]
fn the_store_checkpoints_every_few_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = new_project(dir.path());
    drop(p);
    let opts = OpenOptions {
        checkpoint_every_writes: 6,
        ..OpenOptions::default()
    };
    let p = Project::open_with(&path, &opts).unwrap();
    // add_track + five edits = six commits: the sixth checkpoints.
    let (t, edits, ids) = edit_session(dir.path(), &p);
    let (_keep, copy) = copy_file_alone(&path);
    assert_has_edits(&copy, t, &edits, &ids);
    // By time: interval 0 checkpoints after every commit.
    let opts = OpenOptions {
        checkpoint_every_writes: 0,
        checkpoint_interval_s: 0,
        ..OpenOptions::default()
    };
    drop(p);
    let p = Project::open_with(&path, &opts).unwrap();
    let one = BeatList::new(vec![3.0]);
    p.commit_beats(t, &user_edit(&one, "one")).unwrap();
    let (_keep, copy) = copy_file_alone(&path);
    assert_eq!(
        Project::open(&copy)
            .unwrap()
            .head(t)
            .unwrap()
            .unwrap()
            .beats,
        one
    );
}

/// Issue 19: a whole project exports to ONE Rekordbox collection and ONE Traktor
/// collection (it wrote one file per song), read back with every song that has beats.
#[test]
fn project_exports_one_dj_collection() {
    use zerons::formats::{BeatFormat, GridConfig, read_collection};
    use zerons::store::export_project_collection;
    let dir = tempfile::tempdir().unwrap();
    let (_path, p) = new_project(dir.path());
    let mut ids = Vec::new();
    for (name, bpm) in [("one.wav", 120.0), ("two.wav", 128.0), ("three.wav", 0.0)] {
        let t = p
            .add_track(&song(dir.path(), name, name.as_bytes()), &meta())
            .unwrap();
        if bpm > 0.0 {
            // On the 62.5 fps frame grid, as decoded before sub-frame refinement.
            let times = (0..50)
                .map(|k| ((0.4 + 60.0 / bpm * k as f64) * 62.5).round() / 62.5)
                .collect();
            p.commit_beats(t, &user_edit(&BeatList::new(times), "beats"))
                .unwrap();
        }
        ids.push(t);
    }
    for format in [BeatFormat::Rekordbox, BeatFormat::Traktor] {
        let out = dir.path().join(format!("set.{}", format.extension()));
        let done = export_project_collection(&p, format, &out, &GridConfig::default()).unwrap();
        assert_eq!(done.tracks, ids[..2]);
        assert_eq!(done.without_beats, ids[2..]);
        let back = read_collection(&out).unwrap();
        assert_eq!(back.len(), 2, "{format}");
        for (song, (name, bpm)) in back.iter().zip([("one.wav", 120.0), ("two.wav", 128.0)]) {
            assert_eq!(song.audio_path, dir.path().join(name));
            let t = &song.beats.times_s;
            let ibi = (t[t.len() - 1] - t[0]) / (t.len() - 1) as f64;
            assert!((60.0 / ibi - bpm).abs() < 0.05, "{format} {name}: {ibi}");
        }
        let text = std::fs::read_to_string(&out).unwrap();
        let markers = match format {
            BeatFormat::Rekordbox => text.matches("<TEMPO ").count(),
            _ => text.matches("TYPE=\"4\"").count(),
        };
        assert_eq!(markers, 2, "one straight section per song: {text}");
    }
    assert_eq!(
        p.exports().unwrap().len(),
        4,
        "each song's export is logged"
    );
    let e = export_project_collection(
        &p,
        BeatFormat::Csv,
        &dir.path().join("x.csv"),
        &GridConfig::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let other = tempfile::tempdir().unwrap();
    let (_path, empty) = new_project(other.path());
    let e = export_project_collection(
        &empty,
        BeatFormat::Rekordbox,
        &other.path().join("x.xml"),
        &GridConfig::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no song"), "{e}");
}
