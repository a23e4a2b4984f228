-- pagerd schema v1: raw deliveries, incidents, their alerts and their timeline.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    seen_count   INTEGER NOT NULL DEFAULT 1,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    alert_count  INTEGER NOT NULL,
    body         BLOB NOT NULL,
    UNIQUE (source, sha256)
);

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('triggered', 'acknowledged', 'resolved')),
    summary         TEXT NOT NULL,
    severity        TEXT NOT NULL,
    labels          TEXT NOT NULL,
    alert_count     INTEGER NOT NULL DEFAULT 0,
    reopen_count    INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    resolved_at     TEXT,
    resolved_by     TEXT
);
-- at most one open incident per key: the database itself refuses a double.
CREATE UNIQUE INDEX incidents_open_key ON incidents (source, dedup_key) WHERE state != 'resolved';
CREATE INDEX incidents_key_resolved ON incidents (source, dedup_key, resolved_at);
CREATE INDEX incidents_state ON incidents (state, created_at);
CREATE INDEX incidents_created ON incidents (created_at);

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    fingerprint TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    summary     TEXT NOT NULL,
    severity    TEXT NOT NULL,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    details     TEXT NOT NULL,
    starts_at   TEXT,
    ends_at     TEXT,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    UNIQUE (incident_id, fingerprint)
);

-- every alert notification applied, by its idempotency key: a re-delivery changes nothing.
CREATE TABLE alert_events (
    event_id    TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    delivery_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT,
    data        TEXT NOT NULL
);
CREATE INDEX events_incident ON events (incident_id, id);
