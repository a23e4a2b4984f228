-- pagerd schema v5: deliveries without the unique (source, sha256) index.
-- That index held random 64-character keys: every stored webhook wrote one more scattered index
-- page (a third of a single-alert webhook's bytes to the WAL). A byte-identical re-delivery is now
-- found through the notifications it carries (alert_events.delivery_id, then that delivery's
-- sha256); sha256 stays, unindexed.
CREATE TABLE deliveries_v5 (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    seen_count   INTEGER NOT NULL DEFAULT 1,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    alert_count  INTEGER NOT NULL,
    body         BLOB NOT NULL
);
INSERT INTO deliveries_v5 (id, source, received_at, last_seen_at, seen_count, content_type, sha256, alert_count, body)
    SELECT id, source, received_at, last_seen_at, seen_count, content_type, sha256, alert_count, body FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v5 RENAME TO deliveries;
