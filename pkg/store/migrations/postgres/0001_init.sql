-- 0001: model registry, movie catalog, drift report history.

CREATE TABLE models (
    version        BIGINT PRIMARY KEY,
    created_at     TIMESTAMPTZ NOT NULL,
    registered_at  TIMESTAMPTZ NOT NULL,
    parameters     JSONB NOT NULL DEFAULT '{}',
    metrics        JSONB NOT NULL DEFAULT '{}',
    dataset_hash   TEXT NOT NULL DEFAULT '',
    kafka_offsets  JSONB NOT NULL DEFAULT '{}',
    object_name    TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL CHECK (size_bytes >= 0),
    stage          TEXT NOT NULL DEFAULT 'candidate'
                   CHECK (stage IN ('candidate', 'production', 'archived')),
    promoted_by    TEXT NOT NULL DEFAULT '',
    promoted_at    TIMESTAMPTZ,
    reason         TEXT NOT NULL DEFAULT '',
    rolled_back_at TIMESTAMPTZ
);

-- At most one production model, whatever the writers do.
CREATE UNIQUE INDEX models_one_production ON models (stage) WHERE stage = 'production';
CREATE INDEX models_stage_created ON models (stage, created_at DESC, version DESC);
CREATE INDEX models_created ON models (created_at DESC, version DESC);

-- Every stage change, for audit and for Grafana.
CREATE TABLE model_stage_history (
    id         BIGSERIAL PRIMARY KEY,
    version    BIGINT NOT NULL REFERENCES models (version),
    from_stage TEXT NOT NULL,
    to_stage   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX model_stage_history_version ON model_stage_history (version, at);

CREATE TABLE movies (
    id         TEXT COLLATE "C" PRIMARY KEY,  -- byte order, as SQLite; keyset paging uses the index
    title      TEXT NOT NULL,
    year       INTEGER NOT NULL DEFAULT 0,
    genres     JSONB NOT NULL DEFAULT '[]',
    tags       JSONB NOT NULL DEFAULT '[]',
    overview   TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE drift_reports (
    id            BIGSERIAL PRIMARY KEY,
    generated_at  TIMESTAMPTZ NOT NULL,
    score         DOUBLE PRECISION NOT NULL,
    dataset_drift BOOLEAN NOT NULL,
    report        JSONB NOT NULL
);
CREATE INDEX drift_reports_generated ON drift_reports (generated_at DESC, id DESC);
