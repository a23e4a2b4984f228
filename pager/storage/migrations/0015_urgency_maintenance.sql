-- pagerd schema v15: maintenance windows, and escalations that wait for something other than the desk's notice.
-- A window holds the incidents of a customer, of a project, or with some labels (exactly one of the three)
-- in [start_at, end_at); removed ones are kept with who removed them and when.
CREATE TABLE maintenance_windows (
    id          INTEGER PRIMARY KEY,
    customer    TEXT,
    project     TEXT,
    match       TEXT NOT NULL DEFAULT '{}',      -- JSON object of label -> value
    start_at    TEXT NOT NULL,
    end_at      TEXT NOT NULL CHECK (end_at > start_at),
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_by  TEXT,
    removed_at  TEXT,
    CHECK ((customer IS NOT NULL) + (project IS NOT NULL) + (match != '{}') = 1)
);
CREATE INDEX maintenance_windows_active ON maintenance_windows (removed_at, end_at);

-- A waiting escalation's hold: NULL (coverage paged nobody: the desk's notice at next_at), 'urgency' (low
-- urgency outside office hours: paged at next_at, the next office opening) or 'maintenance' (held by
-- maintenance window maintenance_id until next_at, its end). `severity`: the incident's severity the
-- decision was taken on (a higher one decides again at once).
ALTER TABLE escalations ADD COLUMN hold TEXT CHECK (hold IN ('urgency', 'maintenance'));
ALTER TABLE escalations ADD COLUMN maintenance_id INTEGER REFERENCES maintenance_windows (id);
ALTER TABLE escalations ADD COLUMN severity TEXT NOT NULL DEFAULT '';
CREATE INDEX escalations_held ON escalations (hold, maintenance_id) WHERE hold IS NOT NULL;
