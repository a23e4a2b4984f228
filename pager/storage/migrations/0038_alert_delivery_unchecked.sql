-- pagerd schema v38: alerts.delivery_id (the delivery that last wrote the alert row: provenance for someone
-- reading the database, read by no query of pagerd) no longer has a foreign key, as alert_events.delivery_id and
-- the timeline's delivery ids never had one. Deliveries are never deleted (retention empties a body, the row
-- stays) and the ingest writes a delivery in the transaction that writes its alerts, so the key checked nothing
-- the ingest could break, at a cost for every alert row (on PostgreSQL 14% of the server's time for a 100-alert
-- webhook; pg_migrations/0038). The durability tests check that every alert names a stored delivery.
-- SQLite cannot drop a constraint: the table is rebuilt, every row kept with its id.
CREATE TABLE alerts_v38 (
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
    delivery_id INTEGER NOT NULL,
    UNIQUE (incident_id, fingerprint)
);
INSERT INTO alerts_v38 (id, incident_id, fingerprint, status, summary, severity, labels, annotations, details,
                        starts_at, ends_at, first_seen, last_seen, delivery_id)
    SELECT id, incident_id, fingerprint, status, summary, severity, labels, annotations, details,
           starts_at, ends_at, first_seen, last_seen, delivery_id FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v38 RENAME TO alerts;
