-- pagerd schema v2: rotation overrides made at runtime, and hand-over notices already given.
CREATE TABLE overrides (
    id          INTEGER PRIMARY KEY,
    rotation    TEXT NOT NULL,
    start_at    TEXT NOT NULL,
    end_at      TEXT NOT NULL CHECK (end_at > start_at),
    person      TEXT NOT NULL,
    replaces    TEXT,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_by  TEXT,
    removed_at  TEXT
);
CREATE INDEX overrides_rotation ON overrides (rotation, start_at);

-- one row per (rotation, shift start) whose incoming engineer was told: a restart neither misses nor doubles one.
CREATE TABLE handover_notices (
    rotation    TEXT NOT NULL,
    shift_start TEXT NOT NULL,
    person      TEXT NOT NULL,
    notified_at TEXT NOT NULL,
    PRIMARY KEY (rotation, shift_start)
) WITHOUT ROWID;
