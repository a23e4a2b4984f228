-- pagerd schema v14: a message of the dry-run notifier is `simulated`, never `sent` (nothing left pagerd).
-- SQLite changes a CHECK constraint by rebuilding the table. Messages the dry-run notifier carried before
-- (provider id `dry-<id>`) become simulated, and so do their timeline entries.
CREATE TABLE outbox_v14 (
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
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'simulated', 'failed', 'cancelled',
                                                    'bundled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    bundle_id       INTEGER,                     -- the outbox row whose message carried this one
    provider_id     TEXT,
    delivery_status TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    first_tried_at  TEXT,
    generation      INTEGER
);
INSERT INTO outbox_v14 (id, idem_key, incident_id, person, channel, address, kind, subject, body, due_at, status,
                        attempts, bundle_id, provider_id, delivery_status, error, created_at, sent_at,
                        first_tried_at, generation)
    SELECT id, idem_key, incident_id, person, channel, address, kind, subject, body, due_at,
           CASE WHEN status = 'sent' AND provider_id LIKE 'dry-%' THEN 'simulated' ELSE status END,
           attempts, bundle_id, provider_id, delivery_status, error, created_at, sent_at, first_tried_at,
           generation
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v14 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, due_at);
CREATE INDEX outbox_address ON outbox (address, channel, sent_at);
CREATE INDEX outbox_incident ON outbox (incident_id, status);
UPDATE events SET data = json_set(data, '$.status', 'simulated')
    WHERE kind = 'paged' AND json_extract(data, '$.status') = 'sent'
      AND json_extract(data, '$.provider_id') LIKE 'dry-%';
