-- pagerd schema v29 (PostgreSQL; the SQLite migration of the same number): a customer's standby requests (the portal's "standby request"): a period asked for
-- after seeing its quote, then confirmed (it became booking `booking_id`), declined or withdrawn.
CREATE TABLE standby_requests (
    id            BIGINT PRIMARY KEY,
    customer      TEXT NOT NULL,
    start_at      TEXT NOT NULL,
    end_at        TEXT NOT NULL CHECK (end_at > start_at),
    note          TEXT,
    quote_total   TEXT,
    currency      TEXT,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'confirmed', 'declined', 'withdrawn')),
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    decided_by    TEXT,
    decided_at    TEXT,
    reason        TEXT,
    booking_id    BIGINT REFERENCES bookings (id),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((status = 'confirmed') = (booking_id IS NOT NULL))
);
CREATE INDEX standby_requests_customer ON standby_requests (customer, id);
CREATE INDEX standby_requests_pending ON standby_requests (status, id);
CREATE FUNCTION standby_requests_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM standby_requests;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER standby_requests_id_next BEFORE INSERT ON standby_requests FOR EACH ROW EXECUTE FUNCTION standby_requests_id_next();
