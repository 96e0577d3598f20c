-- 0001: model registry, movie catalog, drift report history.
-- Times are INTEGER Unix microseconds (the precision of Postgres timestamptz),
-- so they sort and compare as numbers; JSON is TEXT.

CREATE TABLE models (
    version        INTEGER PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    registered_at  INTEGER NOT NULL,
    parameters     TEXT NOT NULL DEFAULT '{}',
    metrics        TEXT NOT NULL DEFAULT '{}',
    dataset_hash   TEXT NOT NULL DEFAULT '',
    kafka_offsets  TEXT NOT NULL DEFAULT '{}',
    object_name    TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    size_bytes     INTEGER NOT NULL CHECK (size_bytes >= 0),
    stage          TEXT NOT NULL DEFAULT 'candidate'
                   CHECK (stage IN ('candidate', 'production', 'archived')),
    promoted_by    TEXT NOT NULL DEFAULT '',
    promoted_at    INTEGER,
    reason         TEXT NOT NULL DEFAULT '',
    rolled_back_at INTEGER
);

CREATE UNIQUE INDEX models_one_production ON models (stage) WHERE stage = 'production';
CREATE INDEX models_stage_created ON models (stage, created_at DESC, version DESC);
CREATE INDEX models_created ON models (created_at DESC, version DESC);

CREATE TABLE model_stage_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    version    INTEGER NOT NULL REFERENCES models (version),
    from_stage TEXT NOT NULL,
    to_stage   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    at         INTEGER NOT NULL
);
CREATE INDEX model_stage_history_version ON model_stage_history (version, at);

CREATE TABLE movies (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    year       INTEGER NOT NULL DEFAULT 0,
    genres     TEXT NOT NULL DEFAULT '[]',
    tags       TEXT NOT NULL DEFAULT '[]',
    overview   TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);

CREATE TABLE drift_reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    generated_at  INTEGER NOT NULL,
    score         REAL NOT NULL,
    dataset_drift INTEGER NOT NULL,
    report        TEXT NOT NULL
);
CREATE INDEX drift_reports_generated ON drift_reports (generated_at DESC, id DESC);
