-- pagerd schema v9: retention (storage.retention). Raw webhook bodies and delivery ids older than their
-- configured age are pruned in small batches, oldest first; these indexes find the oldest without a scan.
-- deliveries_body_kept holds only the deliveries whose body is still kept (a pruned body is X''): it
-- stays as small as the retention, and a pruned delivery is never looked at again.
CREATE INDEX deliveries_body_kept ON deliveries (received_at) WHERE body != X'';
CREATE INDEX alert_events_seen ON alert_events (seen_at);

-- when each maintenance job last finished, so that it runs at most every so often, also across restarts.
CREATE TABLE maintenance_runs (
    job         TEXT PRIMARY KEY,
    finished_at TEXT NOT NULL
) WITHOUT ROWID;
