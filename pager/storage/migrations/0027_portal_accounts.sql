-- pagerd schema v27: the portal's accounts, sessions and failed sign-ins.
-- An account signs in with its e-mail address (kept lower case) and a password (an argon2id hash; NULL:
-- not set yet, the account waits for its invitation link). `role` is pager.domain.portal.Role; staff
-- may name their person (config `people`), a customer contact names its customer (config `customers`).
CREATE TABLE portal_accounts (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'desk', 'engineer', 'customer')),
    person         TEXT,
    customer       TEXT,
    language       TEXT CHECK (language IN ('nl', 'en')),
    password_hash  TEXT,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    disabled_at    TEXT,
    CHECK ((role = 'customer') = (customer IS NOT NULL))
);

-- A session is known by the SHA-256 of its cookie's token (the token itself is never stored); `csrf`
-- is the token every form of the session carries. `ended_at`: signed out, or ended by a password change
-- or by disabling the account. Idle and absolute limits are judged by pager.domain.portal.session_state.
CREATE TABLE portal_sessions (
    token_hash    TEXT PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES portal_accounts (id),
    csrf          TEXT NOT NULL,
    client        TEXT,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    ended_at      TEXT
) WITHOUT ROWID;
CREATE INDEX portal_sessions_account ON portal_sessions (account_id);

-- Failed sign-ins per key: `account:<email>` (known or not) and `address:<client address>`.
CREATE TABLE portal_login_failures (
    key  TEXT NOT NULL,
    at   TEXT NOT NULL
);
CREATE INDEX portal_login_failures_key ON portal_login_failures (key, at);
