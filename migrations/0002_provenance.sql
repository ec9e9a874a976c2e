-- Schema version 2 (issue 19): provenance of every beat, model proposals, adoptions.

-- One byte per beat (store::provenance::BeatSource: 0 model, 1 user, 2 confirmed,
-- 3 continued, 4 imported). NULL only in rows written by version 1; `Project::open`
-- fills them in right after this migration.
ALTER TABLE beat_revisions ADD COLUMN sources BLOB;

-- An analysis made to preview a model (not accepted yet) is not the song's latest
-- analysis: its curves are not shown and Continue → does not track on them.
ALTER TABLE analyses ADD COLUMN proposal INTEGER NOT NULL DEFAULT 0;

-- A model's beats for a song, waiting for the user to accept them.
CREATE TABLE model_proposals (
    track_id      INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    model_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    analysis_id   INTEGER REFERENCES analyses(id) ON DELETE SET NULL,
    beats_per_bar INTEGER,
    n_beats       INTEGER NOT NULL,
    times         BLOB    NOT NULL,           -- n_beats little-endian f64 seconds
    positions     BLOB,                       -- n_beats little-endian u32 or NULL
    created_at    TEXT    NOT NULL,
    PRIMARY KEY (track_id, model_id)
);

-- "Use this model": which model became active (NULL = the shipped one), which was
-- active before, and the songs whose beats it replaced (rolled back together).
CREATE TABLE adoptions (
    id                INTEGER PRIMARY KEY,
    model_id          INTEGER REFERENCES models(id),
    previous_model_id INTEGER REFERENCES models(id),
    created_at        TEXT    NOT NULL,
    rolled_back_at    TEXT
);

CREATE TABLE adoption_tracks (
    adoption_id     INTEGER NOT NULL REFERENCES adoptions(id) ON DELETE CASCADE,
    track_id        INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    before_revision INTEGER REFERENCES beat_revisions(id),
    after_revision  INTEGER NOT NULL REFERENCES beat_revisions(id),
    PRIMARY KEY (adoption_id, track_id)
);
