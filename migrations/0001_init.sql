-- ZeroNS Studio project schema, version 1. One project = one SQLite file.
-- Times are stored as text in RFC 3339 UTC (sortable); JSON columns hold serde-serialised
-- engine configs; curves are little-endian f32 blobs.

CREATE TABLE project (
    id            INTEGER PRIMARY KEY CHECK (id = 1),   -- exactly one row
    name          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    settings_json TEXT    NOT NULL
);

CREATE TABLE tracks (
    id             INTEGER PRIMARY KEY,
    path           TEXT    NOT NULL,           -- as given by the user (relative or absolute)
    sha256         TEXT    NOT NULL,           -- hex digest of the file's bytes when added/relinked
    size_bytes     INTEGER NOT NULL,
    duration_s     REAL    NOT NULL,
    sample_rate_hz INTEGER NOT NULL,
    channels       INTEGER NOT NULL,
    added_at       TEXT    NOT NULL
);

CREATE TABLE models (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    architecture TEXT    NOT NULL,
    parent_id    INTEGER REFERENCES models(id),
    provenance   TEXT    NOT NULL,             -- JSON: how it was trained / imported
    created_at   TEXT    NOT NULL
);

CREATE TABLE analyses (
    id             INTEGER PRIMARY KEY,
    track_id       INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    model_id       INTEGER REFERENCES models(id),
    config_json    TEXT    NOT NULL,           -- full stage configs
    engine_version TEXT    NOT NULL,
    created_at     TEXT    NOT NULL
);
CREATE INDEX analyses_track ON analyses(track_id);

CREATE TABLE activations (
    analysis_id INTEGER NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,              -- e.g. "beat", "percussive"
    fps         REAL    NOT NULL,
    n_frames    INTEGER NOT NULL,
    data        BLOB    NOT NULL,              -- n_frames little-endian f32
    PRIMARY KEY (analysis_id, kind)
);

-- Every edit is a new immutable row; parent_id links the history tree.
CREATE TABLE beat_revisions (
    id             INTEGER PRIMARY KEY,
    track_id       INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    parent_id      INTEGER REFERENCES beat_revisions(id),
    author         TEXT    NOT NULL CHECK (author IN ('user', 'model', 'import')),
    analysis_id    INTEGER REFERENCES analyses(id),
    note           TEXT    NOT NULL DEFAULT '',
    beats_per_bar  INTEGER,                    -- meter numerator, if known
    n_beats        INTEGER NOT NULL,
    times          BLOB    NOT NULL,           -- n_beats little-endian f64 seconds
    positions      BLOB,                       -- n_beats little-endian u32 (1 = downbeat) or NULL
    created_at     TEXT    NOT NULL
);
CREATE INDEX beat_revisions_track ON beat_revisions(track_id, id);
CREATE INDEX beat_revisions_parent ON beat_revisions(parent_id);

-- The current revision of each track; undo/redo move it along the history.
CREATE TABLE track_heads (
    track_id    INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    revision_id INTEGER NOT NULL REFERENCES beat_revisions(id)
);

CREATE TABLE training_runs (
    id              INTEGER PRIMARY KEY,
    base_model_id   INTEGER REFERENCES models(id),
    result_model_id INTEGER REFERENCES models(id),
    config_json     TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    before_json     TEXT,                      -- metrics before training
    after_json      TEXT,                      -- metrics after training
    started_at      TEXT    NOT NULL,
    finished_at     TEXT
);

CREATE TABLE training_epochs (
    run_id       INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
    epoch        INTEGER NOT NULL,
    metrics_json TEXT    NOT NULL,
    PRIMARY KEY (run_id, epoch)
);

CREATE TABLE exports (
    id          INTEGER PRIMARY KEY,
    track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    revision_id INTEGER NOT NULL REFERENCES beat_revisions(id),
    format      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    exported_at TEXT    NOT NULL
);
