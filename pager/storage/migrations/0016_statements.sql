-- pagerd schema v16: the number of each customer's monthly statement, issued once (the first time the
-- statement of a month that has ended is made) and kept for good: the same customer and month always carry
-- the same number and the same date of issue, however often the statement is rendered again.
-- Numbers run per statement month without gaps: 2026-12-0001, 2026-12-0002, ...
CREATE TABLE statements (
    customer  TEXT NOT NULL,
    month     TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
    seq       INTEGER NOT NULL CHECK (seq > 0),
    number    TEXT NOT NULL UNIQUE,
    issued_at TEXT NOT NULL,
    PRIMARY KEY (customer, month),
    UNIQUE (month, seq)
);
