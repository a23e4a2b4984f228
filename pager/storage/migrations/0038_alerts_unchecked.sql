-- pagerd schema v38: the alerts table without foreign keys. Only the ingest writes alert rows, in the transaction
-- that writes their delivery and creates their incident or reads it under the write lock; deliveries and
-- incidents are never deleted (retention empties a body, the row stays). So neither key checked anything the
-- ingest could break, at a cost for every alert row (on PostgreSQL a query and a row lock per key and row:
-- pg_migrations/0038). alerts.delivery_id is provenance (the delivery that last wrote the row), read by no query
-- of pagerd, as alert_events.delivery_id and the timeline's delivery ids, which never had a key. One row per
-- incident and fingerprint stays a unique key. The durability and storage fault tests check that every alert
-- names a stored incident and a stored delivery.
-- SQLite cannot drop a constraint: the table is rebuilt, every row kept with its id.
CREATE TABLE alerts_v38 (
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
INSERT INTO alerts_v38 (id, incident_id, fingerprint, status, summary, severity, labels, annotations, details,
                        starts_at, ends_at, first_seen, last_seen, delivery_id)
    SELECT id, incident_id, fingerprint, status, summary, severity, labels, annotations, details,
           starts_at, ends_at, first_seen, last_seen, delivery_id FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v38 RENAME TO alerts;
