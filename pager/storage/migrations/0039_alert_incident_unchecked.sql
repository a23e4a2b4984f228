-- pagerd schema v39: alerts.incident_id no longer has a foreign key; the link is kept by the one writer of
-- alert rows and checked by the tests. Only the ingest writes alerts, in the transaction that creates their
-- incident or under the write lock after reading it, and incidents are never deleted (retention empties
-- webhook bodies, never an incident), so the key checked nothing the ingest could break. On PostgreSQL it cost
-- 14-25% of the server's CPU for a 100-alert webhook, one checking query and lock per alert row
-- (pg_migrations/0039). One row per incident and fingerprint stays a unique key. The durability and storage
-- fault tests check that every alert names a stored incident and a stored delivery.
-- SQLite cannot drop a constraint: the table is rebuilt, every row kept with its id.
CREATE TABLE alerts_v39 (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL,
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
    delivery_id INTEGER NOT NULL,
    UNIQUE (incident_id, fingerprint)
);
INSERT INTO alerts_v39 (id, incident_id, fingerprint, status, summary, severity, labels, annotations, details,
                        starts_at, ends_at, first_seen, last_seen, delivery_id)
    SELECT id, incident_id, fingerprint, status, summary, severity, labels, annotations, details,
           starts_at, ends_at, first_seen, last_seen, delivery_id FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v39 RENAME TO alerts;
