//! The `store` stage: one project = one SQLite file.
//!
//! Everything a project knows lives in a single SQLite database (schema in `migrations/`,
//! applied with [`sqlx::migrate!`]): tracks, analyses with their activation curves, every
//! beat revision ever made, models, training runs and an exports log.
//!
//! # Synchronous API
//! The CLI and the engine are synchronous, so [`Project`] hides sqlx's async API behind a
//! private current-thread tokio runtime and one connection guarded by a mutex: every method
//! takes `&self`, blocks until the database answered, and `Project` is `Send + Sync`.
//! An async caller (the Tauri app) must call it from a blocking thread
//! (`tokio::task::spawn_blocking`), never from inside its own runtime, since nested
//! `block_on` panics.
//!
//! # Durability
//! The file is in WAL mode with `synchronous = FULL`: a commit returns only after the WAL
//! was fsync'ed, so an edit acknowledged to the user survives a crash *and* a power cut.
//! (`NORMAL` would survive a killed process but may lose the last commits on power loss;
//! edits arrive at human pace, so the extra fsync per commit costs nothing noticeable.)
//! Every multi-row change runs in one `BEGIN IMMEDIATE` transaction, which takes the
//! write lock up front so two writers queue behind the busy timeout instead of failing
//! half-way.
//!
//! # A self-contained file
//! In WAL mode a commit lands in the `-wal` file beside the project, and SQLite copies it
//! into the project file only at a checkpoint (by default once the log holds 1000 pages,
//! so a handful of edits may stay in the log for the whole session). A copy of the
//! `.zerons` file alone would then miss them. [`Project::checkpoint`] copies the log into
//! the file and empties it (`PRAGMA wal_checkpoint(TRUNCATE)`); the store runs it after
//! every [`OpenOptions::checkpoint_every_writes`] commits, once a commit comes
//! [`OpenOptions::checkpoint_interval_s`] after the last checkpoint, in
//! [`Project::checkpoint_if_dirty`] (for an app's timer), in [`Project::close`] and when a
//! `Project` is dropped. After any of these the `.zerons` file alone is the whole project.
//!
//! # History
//! Beat revisions are immutable rows linked by `parent_id`. Each track has a head
//! pointer (`track_heads`) stored in the file, so [`Project::undo`] / [`Project::redo`]
//! move along the history and survive a restart. A new analysis adds a `model` revision;
//! it becomes the head only if the head is not already user-made beats, so a re-analysis
//! never hides the user's work (see [`Project::add_model_revision`]).

mod adoption;
mod codec;
mod export;
pub mod provenance;
mod relink;
mod straighten;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};

use crate::formats::BeatList;

use crate::model::{MODEL_ENV, bundled_model_dir};
use crate::pipeline::{ActivationKind, Analysis};
use crate::tracking::Activation;
use crate::{Error, Result};
pub use adoption::{Adoption, Proposal, Rollback};
pub use export::{CollectionExport, export_meta, export_project_collection};
pub use provenance::{BeatSource, SourceCounts};
pub use relink::{RelinkCheck, check_relink};
pub use straighten::Straightened;

/// `PRAGMA application_id` of a ZeroNS project ("ZNSP"), which tells our files from any
/// other SQLite database.
pub const APPLICATION_ID: i32 = 0x5A4E_5350;

/// The file extension of a project (`song-study.zerons`), registered by the installed
/// packages as the MIME type `application/x-zerons-project`.
pub const PROJECT_EXTENSION: &str = "zerons";

/// The schema version this build writes and understands (`PRAGMA user_version`; equals
/// the highest migration number).
pub const SCHEMA_VERSION: i64 = 2;

/// Default time a call waits for another program's write lock before
/// [`Error::ProjectBusy`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Project-wide settings, stored as JSON in the project row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProjectSettings {
    /// Slowest tempo the tracker considers, BPM (madmom `DBNBeatTrackingProcessor`
    /// default `min_bpm = 55`).
    pub min_bpm: f64,
    /// Fastest tempo the tracker considers, BPM (madmom default `max_bpm = 215`).
    pub max_bpm: f64,
    /// Default meter numerator for new tracks (4/4, the most common meter in the
    /// datasets of the paper).
    pub beats_per_bar: u32,
    /// The project's model (a row of `models`) that analyses and re-tracks songs, chosen
    /// after fine-tuning; `None` = the shipped model, with beats from the default activation.
    pub active_model_id: Option<ModelId>,
    /// Songs with their own tempo range and meter (a waltz or a slow song among others),
    /// used instead of the project's when they are re-tracked. Absent in older projects.
    pub track_tempo: BTreeMap<TrackId, TrackTempo>,
}

/// A song's own tempo range and meter ([`ProjectSettings::track_tempo`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TrackTempo {
    /// Slowest tempo the tracker considers for this song, BPM.
    pub min_bpm: f64,
    /// Fastest tempo the tracker considers for this song, BPM.
    pub max_bpm: f64,
    /// Meter numerator of this song.
    pub beats_per_bar: u32,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        Self {
            min_bpm: 55.0,
            max_bpm: 215.0,
            beats_per_bar: 4,
            active_model_id: None,
            track_tempo: BTreeMap::new(),
        }
    }
}

impl ProjectSettings {
    /// [`Error::Config`] unless `0 < min_bpm < max_bpm` and `beats_per_bar >= 1`, for the
    /// project and for every song's own settings.
    pub fn validate(&self) -> Result<()> {
        check_tempo("project", self.min_bpm, self.max_bpm, self.beats_per_bar)?;
        for (track, t) in &self.track_tempo {
            check_tempo(
                &format!("track {track}"),
                t.min_bpm,
                t.max_bpm,
                t.beats_per_bar,
            )?;
        }
        Ok(())
    }

    /// The tempo range and meter `track` is tracked with: its own, else the project's.
    pub fn tempo_for(&self, track: Option<TrackId>) -> TrackTempo {
        track
            .and_then(|t| self.track_tempo.get(&t).copied())
            .unwrap_or(TrackTempo {
                min_bpm: self.min_bpm,
                max_bpm: self.max_bpm,
                beats_per_bar: self.beats_per_bar,
            })
    }
}

fn check_tempo(whose: &str, min_bpm: f64, max_bpm: f64, beats_per_bar: u32) -> Result<()> {
    if !(min_bpm.is_finite() && max_bpm.is_finite()) || min_bpm <= 0.0 || min_bpm >= max_bpm {
        return Err(Error::Config(format!(
            "{whose} tempo range must satisfy 0 < min_bpm < max_bpm, got {min_bpm}..{max_bpm}"
        )));
    }
    if beats_per_bar == 0 {
        return Err(Error::Config(format!(
            "{whose}: beats_per_bar must be at least 1"
        )));
    }
    Ok(())
}

/// How a [`Project`] is opened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct OpenOptions {
    /// How long a write waits for another program's lock, in milliseconds (default
    /// 5000; SQLite's `busy_timeout`).
    pub busy_timeout_ms: u64,
    /// Checkpoint the write-ahead log after this many commits (see the module docs,
    /// "A self-contained file"). Default 20: an editing session commits one revision per
    /// edit, and a checkpoint of a few dozen pages costs a few milliseconds. 0 = never
    /// by count.
    pub checkpoint_every_writes: u32,
    /// Checkpoint on the first commit that comes this many seconds after the last
    /// checkpoint. Default 30 s, so a copy of the file taken while the project is open
    /// lacks at most the last half-minute of edits (closing checkpoints everything).
    /// 0 = after every commit.
    pub checkpoint_interval_s: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            busy_timeout_ms: DEFAULT_BUSY_TIMEOUT.as_millis() as u64,
            checkpoint_every_writes: 20,
            checkpoint_interval_s: 30,
        }
    }
}

/// Row id of a track.
pub type TrackId = i64;
/// Row id of an analysis.
pub type AnalysisId = i64;
/// Row id of a beat revision.
pub type RevisionId = i64;
/// Row id of a model.
pub type ModelId = i64;
/// Row id of a training run.
pub type RunId = i64;

/// Audio facts about a track, as decoded when it was added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackMeta {
    /// Duration in seconds.
    pub duration_s: f64,
    /// Source sample rate.
    pub sample_rate_hz: u32,
    /// Source channel count.
    pub channels: u32,
}

/// A track of the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Row id.
    pub id: TrackId,
    /// Path as given when added (or relinked).
    pub path: PathBuf,
    /// Hex SHA-256 of the file's content when added.
    pub sha256: String,
    /// File size in bytes when added.
    pub size_bytes: u64,
    /// Audio facts.
    pub meta: TrackMeta,
    /// When added (RFC 3339 UTC).
    pub added_at: String,
    /// Current head revision, if any beats exist.
    pub head: Option<RevisionId>,
}

/// Whether a track's file is still the one that was analysed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackStatus {
    /// Same path, same content.
    Ok,
    /// Nothing at the stored path: ask the user to relink ([`Project::relink_track`]).
    Missing,
    /// A file is there but its content differs: ask the user whether to relink
    /// (re-analysis happens only on request).
    Changed {
        /// Digest of what is there now.
        sha256: String,
    },
}

/// Who made a beat revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    /// Edited by hand.
    User,
    /// Produced by an analysis.
    Model,
    /// Read from a beat file.
    Import,
}

impl Author {
    fn as_str(self) -> &'static str {
        match self {
            Author::User => "user",
            Author::Model => "model",
            Author::Import => "import",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Author::User),
            "model" => Some(Author::Model),
            "import" => Some(Author::Import),
            _ => None,
        }
    }
}

/// A beat revision with its beats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// Row id.
    pub id: RevisionId,
    /// Track.
    pub track_id: TrackId,
    /// Revision this one was made from (`None` for the first).
    pub parent_id: Option<RevisionId>,
    /// Who made it.
    pub author: Author,
    /// Analysis that produced it (model revisions).
    pub analysis_id: Option<AnalysisId>,
    /// Free text ("moved beat 12", "imported ref.csv" …).
    pub note: String,
    /// Meter numerator, if known.
    pub beats_per_bar: Option<u32>,
    /// The beats.
    pub beats: BeatList,
    /// Where each beat came from (as many as beats; see [`provenance`]).
    pub sources: Vec<BeatSource>,
    /// When made (RFC 3339 UTC).
    pub created_at: String,
}

/// A new beat revision.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRevision<'a> {
    /// The beats (validated with [`BeatList::validate`]).
    pub beats: &'a BeatList,
    /// Who made it.
    pub author: Author,
    /// Free text.
    pub note: &'a str,
    /// Meter numerator, if known.
    pub beats_per_bar: Option<u32>,
    /// For a user edit: the source of beats that are not in the revision it was made on
    /// (`None` = [`BeatSource::User`]); beats that are keep theirs ([`provenance`]). Model
    /// revisions are all [`BeatSource::Model`], imports all [`BeatSource::Imported`].
    pub fresh: Option<BeatSource>,
}

/// One activation curve of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// What it is ("beat", "percussive" …); unique within an analysis.
    pub kind: String,
    /// Frames per second.
    pub fps: f64,
    /// Values.
    pub values: Vec<f32>,
}

/// The kind under which an activation's curve is stored: `flux`, `max`, `anchor`, `postve`
/// (the app's curve toggles know these).
pub fn curve_kind(kind: ActivationKind) -> &'static str {
    match kind {
        ActivationKind::Flux => "flux",
        ActivationKind::Max => "max",
        ActivationKind::Anchor => "anchor",
        ActivationKind::Postve => "postve",
    }
}

/// The curves of an analysis to store: the tracked one first (what re-tracking and
/// *Continue* decode again), then the network's combined curve (when flux tracked), both
/// branches, and the downbeat curve (a model with a downbeat head, [`DOWNBEAT_CURVE`]).
pub fn curves_of(analysis: &Analysis) -> Vec<Curve> {
    let curve = |kind: ActivationKind, a: &Activation| Curve {
        kind: curve_kind(kind).into(),
        fps: a.fps,
        values: a.values.clone(),
    };
    let mut curves = vec![curve(analysis.activation_kind, &analysis.activation)];
    if let Some(network) = &analysis.network {
        curves.push(curve(ActivationKind::Max, network));
    }
    if let Some((anchor, postve)) = &analysis.branches {
        curves.push(curve(ActivationKind::Anchor, anchor));
        curves.push(curve(ActivationKind::Postve, postve));
    }
    if let Some(d) = &analysis.downbeat {
        curves.push(Curve {
            kind: DOWNBEAT_CURVE.into(),
            fps: d.fps,
            values: d.values.clone(),
        });
    }
    curves
}

/// Stored kind of the network's downbeat activation (a model with a downbeat head).
pub const DOWNBEAT_CURVE: &str = "downbeat";

/// Where the model a project analyses with lives, and whether it is the shipped fallback
/// (rather than one the user chose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisModelDir {
    /// Model directory (or file) to load.
    pub path: PathBuf,
    /// True when neither `$ZERONS_MODEL` nor the project's active model named it.
    pub shipped: bool,
}

/// The model a project's songs are analysed with: `$ZERONS_MODEL` if set, else the
/// project's active model (a fine-tuned one the user chose), else the shipped model found
/// from the executable `exe` ([`bundled_model_dir`]). `None`: no model at all.
pub fn analysis_model_dir(
    project: &Project,
    exe: Option<&Path>,
) -> Result<Option<AnalysisModelDir>> {
    let chosen = |path: PathBuf| {
        Some(AnalysisModelDir {
            path,
            shipped: false,
        })
    };
    if let Some(p) = std::env::var_os(MODEL_ENV) {
        return Ok(chosen(PathBuf::from(p)));
    }
    if let Some(id) = project.settings()?.active_model_id
        && let Some(m) = project.models()?.into_iter().find(|m| m.id == id)
    {
        return Ok(chosen(m.path));
    }
    Ok(bundled_model_dir(exe).map(|path| AnalysisModelDir {
        path,
        shipped: true,
    }))
}

/// A new analysis of a track.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnalysis<'a> {
    /// Model that produced it, if a learnt one.
    pub model_id: Option<ModelId>,
    /// Full stage configs as JSON.
    pub config_json: &'a str,
    /// Activation curves.
    pub curves: &'a [Curve],
}

/// A stored analysis (curves are loaded on demand with [`Project::curves`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisInfo {
    /// Row id.
    pub id: AnalysisId,
    /// Track.
    pub track_id: TrackId,
    /// Model, if any.
    pub model_id: Option<ModelId>,
    /// Full stage configs as JSON.
    pub config_json: String,
    /// `CARGO_PKG_VERSION` of the engine that made it.
    pub engine_version: String,
    /// When made.
    pub created_at: String,
}

/// A model registered in the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Row id (ignored by [`Project::add_model`]).
    pub id: ModelId,
    /// Display name.
    pub name: String,
    /// Weight file (inside the project folder or the app data).
    pub path: PathBuf,
    /// Hex SHA-256 of the weight file.
    pub sha256: String,
    /// Architecture id (e.g. `"zerons-tcn-v1"`).
    pub architecture: String,
    /// Model it was fine-tuned from.
    pub parent_id: Option<ModelId>,
    /// How it was made (JSON).
    pub provenance_json: String,
}

/// Final state of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still going (or the process died while it was).
    Running,
    /// Finished and produced a model.
    Succeeded,
    /// Stopped on an error.
    Failed,
    /// Stopped by the user.
    Cancelled,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(RunStatus::Running),
            "succeeded" => Some(RunStatus::Succeeded),
            "failed" => Some(RunStatus::Failed),
            "cancelled" => Some(RunStatus::Cancelled),
            _ => None,
        }
    }
}

/// A training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    /// Row id.
    pub id: RunId,
    /// Model it started from.
    pub base_model_id: Option<ModelId>,
    /// Model it produced.
    pub result_model_id: Option<ModelId>,
    /// Training config (JSON).
    pub config_json: String,
    /// State.
    pub status: RunStatus,
    /// Metrics before training (JSON).
    pub before_json: Option<String>,
    /// Metrics after training (JSON).
    pub after_json: Option<String>,
    /// Per-epoch metrics (JSON), in epoch order.
    pub epochs: Vec<(u32, String)>,
}

/// A line of the exports log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    /// Track.
    pub track_id: TrackId,
    /// Revision exported.
    pub revision_id: RevisionId,
    /// Format name.
    pub format: String,
    /// Where it went.
    pub path: PathBuf,
    /// When.
    pub exported_at: String,
}

/// A boxed future borrowing the connection for `'c`.
type BoxFut<'c, T> = std::pin::Pin<Box<dyn std::future::Future<Output = sqlx::Result<T>> + 'c>>;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

/// An open project file. See the [module docs](self).
pub struct Project {
    path: PathBuf,
    busy_timeout_ms: u64,
    checkpoint_every_writes: u32,
    checkpoint_interval: Duration,
    /// Commits since the last checkpoint.
    unchecked_writes: AtomicU32,
    /// When the last checkpoint ran (or the project was opened).
    last_checkpoint: Mutex<Instant>,
    rt: tokio::runtime::Runtime,
    conn: Mutex<SqliteConnection>,
}

/// What a checkpoint did (the row of `PRAGMA wal_checkpoint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStats {
    /// Pages in the write-ahead log before it was emptied.
    pub log_pages: i64,
    /// Pages copied into the project file.
    pub checkpointed_pages: i64,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project").field("path", &self.path).finish()
    }
}

/// Checkpoints the write-ahead log (best effort: a failure is logged), so that the file
/// alone is the whole project once the last handle is gone. Skipped on a thread that runs
/// another tokio runtime, where blocking would panic (the app drops projects on its own
/// threads and calls [`Project::checkpoint`] on exit).
impl Drop for Project {
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            return;
        }
        if self.unchecked_writes.load(Ordering::SeqCst) == 0 && !self.wal_has_content() {
            return;
        }
        if let Err(e) = self.checkpoint() {
            tracing::warn!("checkpoint on closing {} failed: {e}", self.path.display());
        }
    }
}

impl Project {
    /// True when the `-wal` file beside the project holds anything.
    fn wal_has_content(&self) -> bool {
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(Path::new(&wal)).is_ok_and(|m| m.len() > 0)
    }

    /// Creates a new project file at `path`; fails if anything exists there.
    pub fn create(path: &Path, name: &str, settings: &ProjectSettings) -> Result<Self> {
        let _span = tracing::info_span!("store.create", path = %path.display()).entered();
        settings.validate()?;
        if name.trim().is_empty() {
            return Err(Error::InvalidInput("project name is empty".into()));
        }
        if path.exists() {
            return Err(Error::Store {
                path: path.into(),
                detail: "a file already exists there; open it or choose another name".into(),
            });
        }
        let opts = OpenOptions::default();
        let project = Self::connect(path, &opts, true)?;
        let settings_json = serde_json::to_string(settings)
            .map_err(|e| Error::Config(format!("cannot serialise settings: {e}")))?;
        let name = name.to_owned();
        project.with_conn(|conn| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "PRAGMA application_id = {APPLICATION_ID}"
                )))
                .execute(&mut *conn)
                .await?;
                MIGRATOR.run(&mut *conn).await.map_err(sqlx::Error::from)?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO project (id, name, created_at, settings_json) VALUES (1, ?, {NOW}, ?)"
                )))
                .bind(name)
                .bind(&settings_json)
                .execute(&mut *conn)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "PRAGMA user_version = {SCHEMA_VERSION}"
                )))
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })?;
        Ok(project)
    }

    /// Opens an existing project with default [`OpenOptions`].
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, &OpenOptions::default())
    }

    /// Opens an existing project: checks that it is one of ours, that its schema is not
    /// newer than this build, and upgrades an older schema in place.
    pub fn open_with(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let _span = tracing::info_span!("store.open", path = %path.display()).entered();
        check_header(path)?;
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.permissions().readonly() {
            return Err(Error::ProjectReadOnly {
                path: path.into(),
                detail: "the file is not writable; make it writable or open a copy".into(),
            });
        }
        let project = Self::connect(path, opts, false)?;
        let (app_id, version) = project.with_conn(|conn| {
            Box::pin(async move {
                let app: i32 = sqlx::query_scalar("PRAGMA application_id")
                    .fetch_one(&mut *conn)
                    .await?;
                let ver: i64 = sqlx::query_scalar("PRAGMA user_version")
                    .fetch_one(&mut *conn)
                    .await?;
                Ok((app, ver))
            })
        })?;
        if app_id != APPLICATION_ID {
            return Err(Error::NotAProject {
                path: path.into(),
                detail: "an SQLite database made by another program".into(),
            });
        }
        if version > SCHEMA_VERSION {
            return Err(Error::ProjectTooNew {
                path: path.into(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            project.with_conn(|conn| {
                Box::pin(async move {
                    MIGRATOR.run(&mut *conn).await.map_err(sqlx::Error::from)?;
                    backfill_sources(&mut *conn).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "PRAGMA user_version = {SCHEMA_VERSION}"
                    )))
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })?;
        }
        Ok(project)
    }

    fn connect(path: &Path, opts: &OpenOptions, create: bool) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::io(path, e))?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_millis(opts.busy_timeout_ms));
        let conn = rt
            .block_on(options.connect())
            .map_err(|e| map_err(path, opts.busy_timeout_ms, e))?;
        Ok(Self {
            path: path.into(),
            busy_timeout_ms: opts.busy_timeout_ms,
            checkpoint_every_writes: opts.checkpoint_every_writes,
            checkpoint_interval: Duration::from_secs(opts.checkpoint_interval_s),
            unchecked_writes: AtomicU32::new(0),
            last_checkpoint: Mutex::new(Instant::now()),
            rt,
            conn: Mutex::new(conn),
        })
    }

    /// Copies every commit from the write-ahead log into the project file and empties the
    /// log (`PRAGMA wal_checkpoint(TRUNCATE)`): afterwards the `.zerons` file alone holds
    /// the whole project (see the module docs). Waits up to the busy timeout for readers
    /// and writers of other programs; [`Error::ProjectBusy`] if they still hold the log.
    pub fn checkpoint(&self) -> Result<CheckpointStats> {
        let _span = tracing::debug_span!("store.checkpoint").entered();
        let (busy, stats) = self.run_checkpoint("TRUNCATE")?;
        if busy {
            return Err(Error::ProjectBusy {
                path: self.path.clone(),
                waited_ms: self.busy_timeout_ms,
            });
        }
        self.mark_checkpointed();
        Ok(stats)
    }

    /// Checkpoints without waiting for anyone (`PRAGMA wal_checkpoint(PASSIVE)`) when
    /// anything was committed since the last checkpoint: for an app's timer and for the
    /// store itself after commits. Returns true when the project file now holds every
    /// commit (nothing to do counts); false when another program's open read kept part of
    /// the log out (the next call retries).
    pub fn checkpoint_if_dirty(&self) -> Result<bool> {
        if self.unchecked_writes.load(Ordering::SeqCst) == 0 {
            return Ok(true);
        }
        let (busy, stats) = self.run_checkpoint("PASSIVE")?;
        let complete = !busy && stats.checkpointed_pages >= stats.log_pages;
        if complete {
            self.mark_checkpointed();
        }
        Ok(complete)
    }

    /// Closes the project: checkpoints the write-ahead log (so the `.zerons` file alone is
    /// the whole project) and closes the connection, which lets SQLite remove the `-wal`
    /// and `-shm` files. Dropping a `Project` checkpoints too, but cannot report a failure.
    pub fn close(self) -> Result<()> {
        let _span = tracing::info_span!("store.close", path = %self.path.display()).entered();
        self.checkpoint()?;
        Ok(())
    }

    /// `PRAGMA wal_checkpoint(<mode>)`: (busy, pages).
    fn run_checkpoint(&self, mode: &'static str) -> Result<(bool, CheckpointStats)> {
        let (busy, log_pages, checkpointed_pages) = self.with_conn(|c| {
            Box::pin(async move {
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "PRAGMA wal_checkpoint({mode})"
                )))
                .fetch_one(&mut *c)
                .await?;
                Ok((
                    r.try_get::<i64, _>(0)?,
                    r.try_get::<i64, _>(1)?,
                    r.try_get::<i64, _>(2)?,
                ))
            })
        })?;
        Ok((
            busy != 0,
            CheckpointStats {
                log_pages,
                checkpointed_pages,
            },
        ))
    }

    fn mark_checkpointed(&self) {
        self.unchecked_writes.store(0, Ordering::SeqCst);
        if let Ok(mut t) = self.last_checkpoint.lock() {
            *t = Instant::now();
        }
    }

    /// After a commit: a passive checkpoint once [`OpenOptions::checkpoint_every_writes`]
    /// commits or [`OpenOptions::checkpoint_interval_s`] have passed. It never waits for
    /// other programs, and a failure does not fail the commit (which is durable in the
    /// log); the next commit retries.
    fn after_commit(&self) {
        let n = self.unchecked_writes.fetch_add(1, Ordering::SeqCst) + 1;
        let by_count = self.checkpoint_every_writes > 0 && n >= self.checkpoint_every_writes;
        let by_time = self
            .last_checkpoint
            .lock()
            .map(|t| t.elapsed() >= self.checkpoint_interval)
            .unwrap_or(true);
        if by_count || by_time {
            match self.checkpoint_if_dirty() {
                Ok(true) => {}
                Ok(false) => tracing::debug!("checkpoint after a commit incomplete (a reader)"),
                Err(e) => tracing::warn!("checkpoint after a commit failed (retried later): {e}"),
            }
        }
    }

    /// Runs `f` on the connection, blocking; maps sqlx errors to engine errors.
    fn with_conn<T>(
        &self,
        f: impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, T>,
    ) -> Result<T> {
        let mut guard = self.lock()?;
        self.rt
            .block_on(f(&mut guard))
            .map_err(|e| map_err(&self.path, self.busy_timeout_ms, e))
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when `f` succeeds and
    /// rolled back otherwise.
    fn write<T>(
        &self,
        f: impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, T>,
    ) -> Result<T> {
        let out = {
            let mut guard = self.lock()?;
            let conn: &mut SqliteConnection = &mut guard;
            self.rt
                .block_on(async move {
                    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                    let out = f(&mut tx).await?;
                    tx.commit().await?;
                    Ok(out)
                })
                .map_err(|e| map_err(&self.path, self.busy_timeout_ms, e))?
        };
        self.after_commit();
        Ok(out)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, SqliteConnection>> {
        self.conn.lock().map_err(|_| Error::Store {
            path: self.path.clone(),
            detail: "connection poisoned by an earlier panic".into(),
        })
    }

    /// Path of the project file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Project name.
    pub fn name(&self) -> Result<String> {
        self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query_scalar("SELECT name FROM project WHERE id = 1")
                    .fetch_one(&mut *c)
                    .await
            })
        })
    }

    /// Project settings.
    pub fn settings(&self) -> Result<ProjectSettings> {
        let json: String = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query_scalar("SELECT settings_json FROM project WHERE id = 1")
                    .fetch_one(&mut *c)
                    .await
            })
        })?;
        serde_json::from_str(&json).map_err(|e| self.corrupt(format!("settings: {e}")))
    }

    /// Replaces the project settings.
    pub fn set_settings(&self, settings: &ProjectSettings) -> Result<()> {
        settings.validate()?;
        let json = serde_json::to_string(settings)
            .map_err(|e| Error::Config(format!("cannot serialise settings: {e}")))?;
        self.write(|c| {
            Box::pin(async move {
                sqlx::query("UPDATE project SET settings_json = ? WHERE id = 1")
                    .bind(json)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
    }

    /// Adds a track: hashes the file at `path` (stored as given) and records `meta`.
    pub fn add_track(&self, path: &Path, meta: &TrackMeta) -> Result<TrackId> {
        let _span = tracing::info_span!("store.add_track", path = %path.display()).entered();
        let (sha, size) = hash_file(path)?;
        let p = path_text(path)?;
        let meta = meta.clone();
        self.write(|c| {
            Box::pin(async move {
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO tracks (path, sha256, size_bytes, duration_s, sample_rate_hz, channels, added_at) \
                     VALUES (?, ?, ?, ?, ?, ?, {NOW})"
                )))
                .bind(p)
                .bind(sha)
                .bind(size as i64)
                .bind(meta.duration_s)
                .bind(meta.sample_rate_hz as i64)
                .bind(meta.channels as i64)
                .execute(&mut *c)
                .await?;
                Ok(r.last_insert_rowid())
            })
        })
    }

    /// All tracks, in the order they were added.
    pub fn tracks(&self) -> Result<Vec<Track>> {
        let rows = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query(
                    "SELECT t.id, t.path, t.sha256, t.size_bytes, t.duration_s, t.sample_rate_hz, \
                     t.channels, t.added_at, h.revision_id AS head \
                     FROM tracks t LEFT JOIN track_heads h ON h.track_id = t.id ORDER BY t.id",
                )
                .fetch_all(&mut *c)
                .await
            })
        })?;
        rows.iter().map(|r| self.track_from_row(r)).collect()
    }

    /// One track; [`Error::Store`] if there is no such track.
    pub fn track(&self, id: TrackId) -> Result<Track> {
        self.tracks()?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| self.missing("track", id))
    }

    fn track_from_row(&self, r: &sqlx::sqlite::SqliteRow) -> Result<Track> {
        let get = |e: sqlx::Error| self.corrupt(format!("tracks row: {e}"));
        Ok(Track {
            id: r.try_get("id").map_err(get)?,
            path: PathBuf::from(r.try_get::<String, _>("path").map_err(get)?),
            sha256: r.try_get("sha256").map_err(get)?,
            size_bytes: r.try_get::<i64, _>("size_bytes").map_err(get)?.max(0) as u64,
            meta: TrackMeta {
                duration_s: r.try_get("duration_s").map_err(get)?,
                sample_rate_hz: r.try_get::<i64, _>("sample_rate_hz").map_err(get)?.max(0) as u32,
                channels: r.try_get::<i64, _>("channels").map_err(get)?.max(0) as u32,
            },
            added_at: r.try_get("added_at").map_err(get)?,
            head: r.try_get("head").map_err(get)?,
        })
    }

    /// Checks that the track's file is still there with the same content. Never
    /// re-analyses: a [`TrackStatus::Missing`] / [`TrackStatus::Changed`] is for the
    /// caller to show, and [`Project::relink_track`] to fix.
    pub fn check_track(&self, id: TrackId) -> Result<TrackStatus> {
        let t = self.track(id)?;
        if !t.path.is_file() {
            return Ok(TrackStatus::Missing);
        }
        let (sha, _) = hash_file(&t.path)?;
        Ok(if sha == t.sha256 {
            TrackStatus::Ok
        } else {
            TrackStatus::Changed { sha256: sha }
        })
    }

    /// Points a track at `new_path` (moved file, or accepting a changed one): rehashes it
    /// and keeps all analyses and revisions.
    pub fn relink_track(&self, id: TrackId, new_path: &Path) -> Result<()> {
        self.track(id)?;
        let (sha, size) = hash_file(new_path)?;
        let p = path_text(new_path)?;
        self.write(|c| {
            Box::pin(async move {
                sqlx::query("UPDATE tracks SET path = ?, sha256 = ?, size_bytes = ? WHERE id = ?")
                    .bind(p)
                    .bind(sha)
                    .bind(size as i64)
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
    }

    /// Removes a song from the project with everything the project knows of it: analyses,
    /// every beat revision, proposals and export records (the audio file is not touched).
    /// Models trained on it stay. An unknown id is an error.
    pub fn remove_track(&self, id: TrackId) -> Result<()> {
        self.track(id)?;
        self.write(|c| {
            Box::pin(async move {
                // Revisions point at their parents and adoptions at revisions: drop those
                // links first so the cascade from `tracks` never trips a foreign key.
                sqlx::query("DELETE FROM adoption_tracks WHERE track_id = ?")
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("DELETE FROM track_heads WHERE track_id = ?")
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("UPDATE beat_revisions SET parent_id = NULL WHERE track_id = ?")
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("DELETE FROM tracks WHERE id = ?")
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
    }

    /// Stores an analysis and its curves in one transaction.
    pub fn add_analysis(&self, track: TrackId, analysis: &NewAnalysis<'_>) -> Result<AnalysisId> {
        self.insert_analysis(track, analysis, false)
    }

    /// Stores an analysis; a `proposal` one (a model previewed, not accepted) is left out of
    /// [`Project::analyses`] until [`Project::adopt`] accepts it.
    fn insert_analysis(
        &self,
        track: TrackId,
        analysis: &NewAnalysis<'_>,
        proposal: bool,
    ) -> Result<AnalysisId> {
        self.track(track)?;
        serde_json::from_str::<serde_json::Value>(analysis.config_json)
            .map_err(|e| Error::InvalidInput(format!("analysis config is not JSON: {e}")))?;
        let mut curves = Vec::with_capacity(analysis.curves.len());
        for cv in analysis.curves {
            if !(cv.fps.is_finite() && cv.fps > 0.0) {
                return Err(Error::InvalidInput(format!(
                    "curve '{}': fps must be positive, got {}",
                    cv.kind, cv.fps
                )));
            }
            curves.push((
                cv.kind.clone(),
                cv.fps,
                cv.values.len() as i64,
                codec::f32_to_le(&cv.values),
            ));
        }
        let config = analysis.config_json.to_owned();
        let model = analysis.model_id;
        self.write(|c| {
            Box::pin(async move {
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO analyses (track_id, model_id, config_json, engine_version, proposal, created_at) \
                     VALUES (?, ?, ?, ?, ?, {NOW})"
                )))
                .bind(track)
                .bind(model)
                .bind(config)
                .bind(env!("CARGO_PKG_VERSION"))
                .bind(i64::from(proposal))
                .execute(&mut *c)
                .await?;
                let id = r.last_insert_rowid();
                for (kind, fps, n, blob) in curves {
                    sqlx::query(
                        "INSERT INTO activations (analysis_id, kind, fps, n_frames, data) VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(kind)
                    .bind(fps)
                    .bind(n)
                    .bind(blob)
                    .execute(&mut *c)
                    .await?;
                }
                Ok(id)
            })
        })
    }

    /// Analyses of a track, oldest first (without curves).
    pub fn analyses(&self, track: TrackId) -> Result<Vec<AnalysisInfo>> {
        let rows = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query(
                    "SELECT id, track_id, model_id, config_json, engine_version, created_at \
                     FROM analyses WHERE track_id = ? AND proposal = 0 ORDER BY id",
                )
                .bind(track)
                .fetch_all(&mut *c)
                .await
            })
        })?;
        let get = |e: sqlx::Error| self.corrupt(format!("analyses row: {e}"));
        rows.iter()
            .map(|r| {
                Ok(AnalysisInfo {
                    id: r.try_get("id").map_err(get)?,
                    track_id: r.try_get("track_id").map_err(get)?,
                    model_id: r.try_get("model_id").map_err(get)?,
                    config_json: r.try_get("config_json").map_err(get)?,
                    engine_version: r.try_get("engine_version").map_err(get)?,
                    created_at: r.try_get("created_at").map_err(get)?,
                })
            })
            .collect()
    }

    /// The activation curves of an analysis.
    pub fn curves(&self, analysis: AnalysisId) -> Result<Vec<Curve>> {
        let rows = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query(
                    "SELECT kind, fps, n_frames, data FROM activations WHERE analysis_id = ? ORDER BY rowid",
                )
                .bind(analysis)
                .fetch_all(&mut *c)
                .await
            })
        })?;
        let get = |e: sqlx::Error| self.corrupt(format!("activations row: {e}"));
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind").map_err(get)?;
                let n: i64 = r.try_get("n_frames").map_err(get)?;
                let data: Vec<u8> = r.try_get("data").map_err(get)?;
                let values = codec::f32_from_le(&data)
                    .filter(|v| v.len() as i64 == n)
                    .ok_or_else(|| self.corrupt(format!("curve '{kind}' has a bad length")))?;
                Ok(Curve {
                    kind,
                    fps: r.try_get("fps").map_err(get)?,
                    values,
                })
            })
            .collect()
    }

    /// Records an edit (user, import …) as a new revision after the current head and
    /// makes it the head. Anything that could be redone from the old head stays in the
    /// history but is no longer on the redo path. Each beat's source follows
    /// [`NewRevision::fresh`] and the head's sources ([`provenance::inherit_sources`]).
    pub fn commit_beats(&self, track: TrackId, rev: &NewRevision<'_>) -> Result<RevisionId> {
        self.insert_revision(track, rev, None, None, true)
    }

    /// Like [`Project::commit_beats`] with every beat's source given (one per beat).
    pub fn commit_beats_with_sources(
        &self,
        track: TrackId,
        rev: &NewRevision<'_>,
        sources: &[BeatSource],
    ) -> Result<RevisionId> {
        if sources.len() != rev.beats.len() {
            return Err(Error::InvalidInput(format!(
                "{} beats but {} sources",
                rev.beats.len(),
                sources.len()
            )));
        }
        self.insert_revision(track, rev, None, Some(sources.to_vec()), true)
    }

    /// The head of a track for an edit of the beats between `from_s` and `to_s`:
    /// [`Error::InvalidInput`] when the range is not one or the track has no beats.
    fn head_for_range(&self, track: TrackId, from_s: f64, to_s: f64) -> Result<Revision> {
        if !(from_s.is_finite() && to_s.is_finite() && from_s <= to_s) {
            return Err(Error::InvalidInput(format!(
                "not a time range: {from_s} s to {to_s} s"
            )));
        }
        self.head(track)?
            .ok_or_else(|| Error::InvalidInput(format!("track {track} has no beats")))
    }

    /// Marks every beat of the head between `from_s` and `to_s` (inclusive) as checked by
    /// the user: a new revision with the same beats whose model, continued and imported
    /// beats there become [`BeatSource::Confirmed`]. Returns the new head, or the head
    /// itself when every beat there was already checked; an error when no beat is there.
    pub fn confirm_beats(&self, track: TrackId, from_s: f64, to_s: f64) -> Result<RevisionId> {
        let head = self.head_for_range(track, from_s, to_s)?;
        if !head
            .beats
            .times_s
            .iter()
            .any(|t| (from_s..=to_s).contains(t))
        {
            return Err(Error::InvalidInput(format!(
                "no beat between {from_s:.2} s and {to_s:.2} s"
            )));
        }
        let (sources, changed) =
            provenance::confirm_range(&head.beats.times_s, &head.sources, from_s, to_s);
        if changed == 0 {
            return Ok(head.id);
        }
        let note = format!("checked {} to {}", clock(from_s), clock(to_s));
        self.commit_beats_with_sources(
            track,
            &NewRevision {
                beats: &head.beats,
                author: Author::User,
                note: &note,
                beats_per_bar: head.beats_per_bar,
                fresh: None,
            },
            &sources,
        )
    }

    /// Records the beats of an analysis as a `model` revision. It becomes the head only
    /// when the track has no beats yet or its head is a model's own revision: beats the user
    /// set, checked, continued, numbered or imported are never hidden by a re-analysis (the new
    /// revision waits in the history; [`Project::checkout`] switches to it). Returns the
    /// revision and whether it became the head. `note` says how the beats were made
    /// ([`crate::pipeline::Analysis::revision_note`]: "analysis", with how the bars were found).
    pub fn add_model_revision(
        &self,
        track: TrackId,
        analysis: AnalysisId,
        beats: &BeatList,
        beats_per_bar: Option<u32>,
        note: &str,
    ) -> Result<(RevisionId, bool)> {
        let head = self.head(track)?;
        // A user revision whose beats are all the model's still carries the user's word
        // (bar numbers, a meter): only a model's own revision gives way.
        let take_head = head.as_ref().is_none_or(|h| {
            h.author == Author::Model && h.sources.iter().all(|s| *s == BeatSource::Model)
        });
        let id =
            self.insert_model_revision(track, analysis, beats, beats_per_bar, note, take_head)?;
        Ok((id, take_head))
    }

    fn insert_model_revision(
        &self,
        track: TrackId,
        analysis: AnalysisId,
        beats: &BeatList,
        beats_per_bar: Option<u32>,
        note: &str,
        move_head: bool,
    ) -> Result<RevisionId> {
        let rev = NewRevision {
            beats,
            author: Author::Model,
            note,
            beats_per_bar,
            fresh: None,
        };
        self.insert_revision(track, &rev, Some(analysis), None, move_head)
    }

    fn insert_revision(
        &self,
        track: TrackId,
        rev: &NewRevision<'_>,
        analysis: Option<AnalysisId>,
        sources: Option<Vec<BeatSource>>,
        move_head: bool,
    ) -> Result<RevisionId> {
        let _span = tracing::info_span!("store.commit_beats", track, n = rev.beats.len()).entered();
        rev.beats.validate()?;
        if rev.beats_per_bar == Some(0) {
            return Err(Error::InvalidInput(
                "beats_per_bar must be at least 1".into(),
            ));
        }
        self.track(track)?;
        let times = codec::f64_to_le(&rev.beats.times_s);
        let positions = rev.beats.positions.as_deref().map(codec::u32_to_le);
        let n = rev.beats.len() as i64;
        let author = rev.author;
        let fresh = rev.fresh.unwrap_or(BeatSource::User);
        let note = rev.note.to_owned();
        let bpb = rev.beats_per_bar.map(i64::from);
        let new_times = rev.beats.times_s.clone();
        self.write(|c| {
            Box::pin(async move {
                let parent: Option<i64> =
                    sqlx::query_scalar("SELECT revision_id FROM track_heads WHERE track_id = ?")
                        .bind(track)
                        .fetch_optional(&mut *c)
                        .await?;
                let sources = match (sources, author) {
                    (Some(s), _) => s,
                    (None, Author::Model) => vec![BeatSource::Model; new_times.len()],
                    (None, Author::Import) => vec![BeatSource::Imported; new_times.len()],
                    (None, Author::User) => {
                        let (pt, ps) = match parent {
                            Some(pid) => revision_sources(c, pid).await?,
                            None => (Vec::new(), Vec::new()),
                        };
                        provenance::inherit_sources(&pt, &ps, &new_times, fresh)
                    }
                };
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO beat_revisions (track_id, parent_id, author, analysis_id, note, \
                     beats_per_bar, n_beats, times, positions, sources, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {NOW})"
                )))
                .bind(track)
                .bind(parent)
                .bind(author.as_str())
                .bind(analysis)
                .bind(note)
                .bind(bpb)
                .bind(n)
                .bind(times)
                .bind(positions)
                .bind(provenance::sources_to_bytes(&sources))
                .execute(&mut *c)
                .await?;
                let id = r.last_insert_rowid();
                if move_head {
                    set_head(c, track, id).await?;
                }
                Ok(id)
            })
        })
    }

    /// The current revision of a track, if it has beats.
    pub fn head(&self, track: TrackId) -> Result<Option<Revision>> {
        let id: Option<i64> = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query_scalar("SELECT revision_id FROM track_heads WHERE track_id = ?")
                    .bind(track)
                    .fetch_optional(&mut *c)
                    .await
            })
        })?;
        id.map(|id| self.revision(id)).transpose()
    }

    /// One revision with its beats.
    pub fn revision(&self, id: RevisionId) -> Result<Revision> {
        let row = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query("SELECT * FROM beat_revisions WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&mut *c)
                    .await
            })
        })?;
        let row = row.ok_or_else(|| self.missing("revision", id))?;
        self.revision_from_row(&row)
    }

    /// The whole history of a track, oldest first.
    pub fn history(&self, track: TrackId) -> Result<Vec<Revision>> {
        let rows = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query("SELECT * FROM beat_revisions WHERE track_id = ? ORDER BY id")
                    .bind(track)
                    .fetch_all(&mut *c)
                    .await
            })
        })?;
        rows.iter().map(|r| self.revision_from_row(r)).collect()
    }

    fn revision_from_row(&self, r: &sqlx::sqlite::SqliteRow) -> Result<Revision> {
        let get = |e: sqlx::Error| self.corrupt(format!("beat_revisions row: {e}"));
        let id: i64 = r.try_get("id").map_err(get)?;
        let n: i64 = r.try_get("n_beats").map_err(get)?;
        let beats = self.beats_from_row(r, &format!("revision {id}"))?;
        let author: String = r.try_get("author").map_err(get)?;
        let author = Author::parse(&author)
            .ok_or_else(|| self.corrupt(format!("revision {id}: unknown author '{author}'")))?;
        let sources = match r.try_get::<Option<Vec<u8>>, _>("sources").map_err(get)? {
            Some(b) => provenance::sources_from_bytes(&b)
                .filter(|s| s.len() as i64 == n)
                .ok_or_else(|| self.corrupt(format!("revision {id}: beat sources are damaged")))?,
            None => vec![default_source(author); beats.len()],
        };
        Ok(Revision {
            id,
            track_id: r.try_get("track_id").map_err(get)?,
            parent_id: r.try_get("parent_id").map_err(get)?,
            author,
            analysis_id: r.try_get("analysis_id").map_err(get)?,
            note: r.try_get("note").map_err(get)?,
            beats_per_bar: r
                .try_get::<Option<i64>, _>("beats_per_bar")
                .map_err(get)?
                .map(|b| b.clamp(0, u32::MAX as i64) as u32),
            beats,
            sources,
            created_at: r.try_get("created_at").map_err(get)?,
        })
    }

    /// The beats of a `beat_revisions` or `model_proposals` row (`n_beats`, `times`,
    /// `positions`), checked against their count; `what` names the row in the error.
    fn beats_from_row(&self, r: &sqlx::sqlite::SqliteRow, what: &str) -> Result<BeatList> {
        let get = |e: sqlx::Error| self.corrupt(format!("{what}: {e}"));
        let n: i64 = r.try_get("n_beats").map_err(get)?;
        let bad = || self.corrupt(format!("{what}: beat data does not match its count"));
        let times = codec::f64_from_le(&r.try_get::<Vec<u8>, _>("times").map_err(get)?)
            .filter(|t| t.len() as i64 == n)
            .ok_or_else(bad)?;
        let positions = match r.try_get::<Option<Vec<u8>>, _>("positions").map_err(get)? {
            None => None,
            Some(b) => Some(
                codec::u32_from_le(&b)
                    .filter(|p| p.len() as i64 == n)
                    .ok_or_else(bad)?,
            ),
        };
        Ok(BeatList {
            times_s: times,
            positions,
        })
    }

    /// Moves the head to its parent. Returns the new head, or `None` (nothing changed)
    /// when there is nothing to undo.
    pub fn undo(&self, track: TrackId) -> Result<Option<RevisionId>> {
        self.write(|c| {
            Box::pin(async move {
                let parent: Option<Option<i64>> = sqlx::query_scalar(
                    "SELECT r.parent_id FROM track_heads h JOIN beat_revisions r ON r.id = h.revision_id \
                     WHERE h.track_id = ?",
                )
                .bind(track)
                .fetch_optional(&mut *c)
                .await?;
                match parent.flatten() {
                    Some(p) => {
                        set_head(c, track, p).await?;
                        Ok(Some(p))
                    }
                    None => Ok(None),
                }
            })
        })
    }

    /// Moves the head to its newest child (the edit last undone). Returns the new head,
    /// or `None` when there is nothing to redo.
    pub fn redo(&self, track: TrackId) -> Result<Option<RevisionId>> {
        self.write(|c| {
            Box::pin(async move {
                let head: Option<i64> =
                    sqlx::query_scalar("SELECT revision_id FROM track_heads WHERE track_id = ?")
                        .bind(track)
                        .fetch_optional(&mut *c)
                        .await?;
                let Some(head) = head else { return Ok(None) };
                let child: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM beat_revisions WHERE parent_id = ? ORDER BY id DESC LIMIT 1",
                )
                .bind(head)
                .fetch_optional(&mut *c)
                .await?;
                if let Some(ch) = child {
                    set_head(c, track, ch).await?;
                }
                Ok(child)
            })
        })
    }

    /// Makes any revision of the track its head (e.g. a model revision waiting beside
    /// user beats).
    pub fn checkout(&self, track: TrackId, revision: RevisionId) -> Result<()> {
        let rev = self.revision(revision)?;
        if rev.track_id != track {
            return Err(Error::InvalidInput(format!(
                "revision {revision} belongs to track {}, not {track}",
                rev.track_id
            )));
        }
        self.write(|c| Box::pin(async move { set_head(c, track, revision).await }))
    }

    /// Registers a model; returns its id (`model.id` is ignored).
    pub fn add_model(&self, model: &Model) -> Result<ModelId> {
        serde_json::from_str::<serde_json::Value>(&model.provenance_json)
            .map_err(|e| Error::InvalidInput(format!("model provenance is not JSON: {e}")))?;
        let m = model.clone();
        let p = path_text(&m.path)?;
        self.write(|c| {
            Box::pin(async move {
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO models (name, path, sha256, architecture, parent_id, provenance, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, {NOW})"
                )))
                .bind(m.name)
                .bind(p)
                .bind(m.sha256)
                .bind(m.architecture)
                .bind(m.parent_id)
                .bind(m.provenance_json)
                .execute(&mut *c)
                .await?;
                Ok(r.last_insert_rowid())
            })
        })
    }

    /// All models, oldest first.
    pub fn models(&self) -> Result<Vec<Model>> {
        let rows = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query("SELECT * FROM models ORDER BY id")
                    .fetch_all(&mut *c)
                    .await
            })
        })?;
        let get = |e: sqlx::Error| self.corrupt(format!("models row: {e}"));
        rows.iter()
            .map(|r| {
                Ok(Model {
                    id: r.try_get("id").map_err(get)?,
                    name: r.try_get("name").map_err(get)?,
                    path: PathBuf::from(r.try_get::<String, _>("path").map_err(get)?),
                    sha256: r.try_get("sha256").map_err(get)?,
                    architecture: r.try_get("architecture").map_err(get)?,
                    parent_id: r.try_get("parent_id").map_err(get)?,
                    provenance_json: r.try_get("provenance").map_err(get)?,
                })
            })
            .collect()
    }

    /// Starts a training run (status `running`) with its config and "before" metrics.
    pub fn start_training_run(
        &self,
        base_model: Option<ModelId>,
        config_json: &str,
        before_json: Option<&str>,
    ) -> Result<RunId> {
        let config = config_json.to_owned();
        let before = before_json.map(str::to_owned);
        self.write(|c| {
            Box::pin(async move {
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO training_runs (base_model_id, config_json, status, before_json, started_at) \
                     VALUES (?, ?, 'running', ?, {NOW})"
                )))
                .bind(base_model)
                .bind(config)
                .bind(before)
                .execute(&mut *c)
                .await?;
                Ok(r.last_insert_rowid())
            })
        })
    }

    /// Records (or replaces) one epoch's metrics.
    pub fn record_epoch(&self, run: RunId, epoch: u32, metrics_json: &str) -> Result<()> {
        let m = metrics_json.to_owned();
        self.write(|c| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT OR REPLACE INTO training_epochs (run_id, epoch, metrics_json) VALUES (?, ?, ?)",
                )
                .bind(run)
                .bind(i64::from(epoch))
                .bind(m)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
    }

    /// Ends a run with its final status, "after" metrics and resulting model.
    pub fn finish_training_run(
        &self,
        run: RunId,
        status: RunStatus,
        after_json: Option<&str>,
        result_model: Option<ModelId>,
    ) -> Result<()> {
        let after = after_json.map(str::to_owned);
        self.write(|c| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE training_runs SET status = ?, after_json = ?, result_model_id = ?, \
                     finished_at = {NOW} WHERE id = ?"
                )))
                .bind(status.as_str())
                .bind(after)
                .bind(result_model)
                .bind(run)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
    }

    /// A training run with its epochs.
    pub fn training_run(&self, run: RunId) -> Result<TrainingRun> {
        let (row, epochs) = self.with_conn(|c| {
            Box::pin(async move {
                let row = sqlx::query("SELECT * FROM training_runs WHERE id = ?")
                    .bind(run)
                    .fetch_optional(&mut *c)
                    .await?;
                let epochs = sqlx::query(
                    "SELECT epoch, metrics_json FROM training_epochs WHERE run_id = ? ORDER BY epoch",
                )
                .bind(run)
                .fetch_all(&mut *c)
                .await?;
                Ok((row, epochs))
            })
        })?;
        let row = row.ok_or_else(|| self.missing("training run", run))?;
        let get = |e: sqlx::Error| self.corrupt(format!("training_runs row: {e}"));
        let status: String = row.try_get("status").map_err(get)?;
        Ok(TrainingRun {
            id: run,
            base_model_id: row.try_get("base_model_id").map_err(get)?,
            result_model_id: row.try_get("result_model_id").map_err(get)?,
            config_json: row.try_get("config_json").map_err(get)?,
            status: RunStatus::parse(&status)
                .ok_or_else(|| self.corrupt(format!("unknown run status '{status}'")))?,
            before_json: row.try_get("before_json").map_err(get)?,
            after_json: row.try_get("after_json").map_err(get)?,
            epochs: epochs
                .iter()
                .map(|e| {
                    Ok((
                        e.try_get::<i64, _>("epoch").map_err(get)?.max(0) as u32,
                        e.try_get("metrics_json").map_err(get)?,
                    ))
                })
                .collect::<Result<_>>()?,
        })
    }

    /// Logs that `revision` of `track` was exported as `format` to `path`.
    pub fn log_export(
        &self,
        track: TrackId,
        revision: RevisionId,
        format: &str,
        path: &Path,
    ) -> Result<()> {
        let p = path_text(path)?;
        let f = format.to_owned();
        self.write(|c| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO exports (track_id, revision_id, format, path, exported_at) VALUES (?, ?, ?, ?, {NOW})"
                )))
                .bind(track)
                .bind(revision)
                .bind(f)
                .bind(p)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
    }

    /// The exports log, oldest first.
    pub fn exports(&self) -> Result<Vec<ExportRecord>> {
        let rows = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query("SELECT * FROM exports ORDER BY id")
                    .fetch_all(&mut *c)
                    .await
            })
        })?;
        let get = |e: sqlx::Error| self.corrupt(format!("exports row: {e}"));
        rows.iter()
            .map(|r| {
                Ok(ExportRecord {
                    track_id: r.try_get("track_id").map_err(get)?,
                    revision_id: r.try_get("revision_id").map_err(get)?,
                    format: r.try_get("format").map_err(get)?,
                    path: PathBuf::from(r.try_get::<String, _>("path").map_err(get)?),
                    exported_at: r.try_get("exported_at").map_err(get)?,
                })
            })
            .collect()
    }

    /// Runs `PRAGMA integrity_check`; `Ok(())` when SQLite answers `ok`, else
    /// [`Error::Store`] with its findings.
    pub fn integrity_check(&self) -> Result<()> {
        let rows: Vec<String> = self.with_conn(|c| {
            Box::pin(async move {
                sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_all(&mut *c)
                    .await
            })
        })?;
        if rows.len() == 1 && rows[0] == "ok" {
            Ok(())
        } else {
            Err(self.corrupt(format!("integrity check failed: {}", rows.join("; "))))
        }
    }

    fn corrupt(&self, detail: String) -> Error {
        Error::Store {
            path: self.path.clone(),
            detail,
        }
    }

    fn missing(&self, what: &str, id: i64) -> Error {
        Error::Store {
            path: self.path.clone(),
            detail: format!("no {what} with id {id} in this project"),
        }
    }
}

/// The source a beat has when its revision predates provenance (schema version 1) and was
/// not filled in: what its author implies.
fn default_source(author: Author) -> BeatSource {
    match author {
        Author::User => BeatSource::User,
        Author::Model => BeatSource::Model,
        Author::Import => BeatSource::Imported,
    }
}

/// `m:ss` for notes ("checked 0:00 to 0:31").
fn clock(t_s: f64) -> String {
    let s = t_s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A revision's times and sources (the sources its author implies where none are stored).
async fn revision_sources(
    c: &mut SqliteConnection,
    id: RevisionId,
) -> sqlx::Result<(Vec<f64>, Vec<BeatSource>)> {
    let row = sqlx::query("SELECT author, times, sources FROM beat_revisions WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *c)
        .await?;
    let times = codec::f64_from_le(&row.try_get::<Vec<u8>, _>("times")?).unwrap_or_default();
    let author = Author::parse(&row.try_get::<String, _>("author")?).unwrap_or(Author::User);
    let sources = row
        .try_get::<Option<Vec<u8>>, _>("sources")?
        .and_then(|b| provenance::sources_from_bytes(&b))
        .filter(|s| s.len() == times.len())
        .unwrap_or_else(|| vec![default_source(author); times.len()]);
    Ok((times, sources))
}

/// Fills in the sources of revisions written before provenance (schema version 1), oldest
/// first so that each inherits from its parent: model revisions are the model's, imports
/// imported, and a user revision's beats keep their parent's source where they did not move
/// and are the user's where they did. A song the user never touched thus has no user beats.
async fn backfill_sources(c: &mut SqliteConnection) -> sqlx::Result<()> {
    let rows = sqlx::query(
        "SELECT id, parent_id, author, times FROM beat_revisions WHERE sources IS NULL ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await?;
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let parent: Option<i64> = row.try_get("parent_id")?;
        let times = codec::f64_from_le(&row.try_get::<Vec<u8>, _>("times")?).unwrap_or_default();
        let author = Author::parse(&row.try_get::<String, _>("author")?).unwrap_or(Author::User);
        let sources = match (author, parent) {
            (Author::User, Some(pid)) => {
                let (pt, ps) = revision_sources(c, pid).await?;
                provenance::inherit_sources(&pt, &ps, &times, BeatSource::User)
            }
            (a, _) => vec![default_source(a); times.len()],
        };
        sqlx::query("UPDATE beat_revisions SET sources = ? WHERE id = ?")
            .bind(provenance::sources_to_bytes(&sources))
            .bind(id)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

async fn set_head(c: &mut SqliteConnection, track: TrackId, rev: RevisionId) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO track_heads (track_id, revision_id) VALUES (?, ?) \
         ON CONFLICT(track_id) DO UPDATE SET revision_id = excluded.revision_id",
    )
    .bind(track)
    .bind(rev)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Refuses files that are not SQLite databases before SQLite sees them.
fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 16];
    let n = f.read(&mut head).map_err(|e| Error::io(path, e))?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if n == 0 && Path::new(&wal).is_file() {
        // Crashed before the first checkpoint: SQLite recovers the content from the WAL.
        return Ok(());
    }
    if n < 16 || &head != b"SQLite format 3\0" {
        return Err(Error::NotAProject {
            path: path.into(),
            detail: "not an SQLite database".into(),
        });
    }
    Ok(())
}

fn path_text(path: &Path) -> Result<String> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        Error::InvalidInput(format!(
            "{}: path is not valid UTF-8; rename the file",
            path.display()
        ))
    })
}

/// Hex SHA-256 and size of a file's content.
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    let digest = h.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), size))
}

/// Maps sqlx errors to engine errors with stable codes.
fn map_err(path: &Path, busy_ms: u64, e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e {
        // Primary result code is the low byte of the extended code.
        let code = db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .map(|c| c & 0xff);
        match code {
            Some(5) | Some(6) => {
                return Error::ProjectBusy {
                    path: path.into(),
                    waited_ms: busy_ms,
                };
            }
            Some(8) => {
                return Error::ProjectReadOnly {
                    path: path.into(),
                    detail: db.message().to_owned(),
                };
            }
            Some(13) => {
                return Error::Store {
                    path: path.into(),
                    detail: "disk full: the change was not saved (free some space and retry)"
                        .into(),
                };
            }
            Some(26) => {
                return Error::NotAProject {
                    path: path.into(),
                    detail: db.message().to_owned(),
                };
            }
            _ => {}
        }
    }
    if let sqlx::Error::Migrate(m) = &e {
        return Error::Store {
            path: path.into(),
            detail: format!("cannot upgrade the project schema: {m}"),
        };
    }
    Error::Store {
        path: path.into(),
        detail: e.to_string(),
    }
}
