-- pagerd schema v29: a customer's standby requests (the portal's "standby request"): a period asked for
-- after seeing its quote, then confirmed (it became booking `booking_id`), declined or withdrawn.
CREATE TABLE standby_requests (
    id            INTEGER PRIMARY KEY,
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
    booking_id    INTEGER REFERENCES bookings (id),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((status = 'confirmed') = (booking_id IS NOT NULL))
);
CREATE INDEX standby_requests_customer ON standby_requests (customer, id);
CREATE INDEX standby_requests_pending ON standby_requests (status, id);
