-- pagerd schema v30: swap and override requests. An engineer asks that `person` is on call for
-- `rotation` from `start_at` to `end_at` (instead of `replaces`); the desk confirms (the override is
-- made in the same transaction: `override_id`) or declines. Decided once.
CREATE TABLE override_requests (
    id            INTEGER PRIMARY KEY,
    rotation      TEXT NOT NULL,
    start_at      TEXT NOT NULL,
    end_at        TEXT NOT NULL CHECK (end_at > start_at),
    person        TEXT NOT NULL,
    replaces      TEXT,
    note          TEXT,
    requested_by  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'declined')),
    decided_by    TEXT,
    decided_at    TEXT,
    override_id   INTEGER REFERENCES overrides (id),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((status = 'confirmed') = (override_id IS NOT NULL))
);
CREATE INDEX override_requests_status ON override_requests (status, id);
