-- pagerd schema v4: dated standby bookings (who booked them, and who cancelled them), and worked time on incidents.
CREATE TABLE bookings (
    id           INTEGER PRIMARY KEY,
    customer     TEXT NOT NULL,
    start_at     TEXT NOT NULL,
    end_at       TEXT NOT NULL CHECK (end_at > start_at),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    cancelled_by TEXT,
    cancelled_at TEXT
);
CREATE INDEX bookings_customer ON bookings (customer, start_at);
CREATE INDEX bookings_active ON bookings (cancelled_at, end_at);

-- one row per time entry; minutes is always set (from start/end when those are given).
CREATE TABLE work_entries (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    person      TEXT NOT NULL,
    start_at    TEXT,
    end_at      TEXT,
    minutes     INTEGER NOT NULL CHECK (minutes > 0),
    note        TEXT,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    CHECK ((start_at IS NULL) = (end_at IS NULL)),
    CHECK (start_at IS NULL OR end_at > start_at)
);
CREATE INDEX work_entries_incident ON work_entries (incident_id, id);
