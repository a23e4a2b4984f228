-- pagerd schema v30 (PostgreSQL; the SQLite migration of the same number): swap and override requests.
-- An engineer asks that `person` is on call for `rotation` from `start_at` to `end_at` (instead of
-- `replaces`); the desk confirms (the override is made in the same transaction: `override_id`) or
-- declines. Decided once.
CREATE TABLE override_requests (
    id            BIGINT PRIMARY KEY,
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
    override_id   BIGINT REFERENCES overrides (id),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((status = 'confirmed') = (override_id IS NOT NULL))
);
CREATE INDEX override_requests_status ON override_requests (status, id);
CREATE FUNCTION override_requests_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM override_requests;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER override_requests_id_next BEFORE INSERT ON override_requests FOR EACH ROW EXECUTE FUNCTION override_requests_id_next();
