-- pagerd schema v3: escalations (one per incident and opening), the outbox of messages, heartbeats.
CREATE TABLE escalations (
    incident_id       INTEGER NOT NULL REFERENCES incidents (id),
    generation        INTEGER NOT NULL,          -- the incident's reopen_count when it was routed
    project           TEXT NOT NULL,
    rotation          TEXT,                      -- the rotation coverage chose (office or standby)
    policy            TEXT NOT NULL,             -- JSON snapshot taken when the incident opened
    status            TEXT NOT NULL CHECK (status IN ('active', 'waiting', 'stopped', 'done')),
    step              INTEGER NOT NULL DEFAULT -1,
    next_at           TEXT,
    first_page_at     TEXT,
    deadline_at       TEXT,
    escalate_at       TEXT,
    escalated_early   INTEGER NOT NULL DEFAULT 0,
    breached_at       TEXT,
    response_observed INTEGER NOT NULL DEFAULT 0,
    target_settled    INTEGER NOT NULL DEFAULT 0,  -- the deadline passed and met/breached was recorded
    target_seconds    INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    PRIMARY KEY (incident_id, generation)
);
CREATE INDEX escalations_due ON escalations (status, next_at);
CREATE INDEX escalations_deadline ON escalations (target_settled, deadline_at);
CREATE INDEX escalations_unobserved ON escalations (incident_id) WHERE response_observed = 0;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    idem_key        TEXT NOT NULL UNIQUE,
    incident_id     INTEGER REFERENCES incidents (id),
    person          TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'voice', 'email')),
    address         TEXT NOT NULL,
    kind            TEXT NOT NULL,               -- page | desk | handover
    subject         TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL DEFAULT '',
    due_at          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'bundled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    bundle_id       INTEGER,                     -- the outbox row whose message carried this one
    provider_id     TEXT,
    delivery_status TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, due_at);
CREATE INDEX outbox_address ON outbox (address, channel, sent_at);
CREATE INDEX outbox_incident ON outbox (incident_id, status);

CREATE TABLE heartbeats (
    name       TEXT PRIMARY KEY,
    last_seen  TEXT NOT NULL,
    source     TEXT NOT NULL
) WITHOUT ROWID;
