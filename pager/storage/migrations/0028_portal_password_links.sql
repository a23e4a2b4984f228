-- pagerd schema v28: one-time links that set an account's password (an invitation, a reset). Known by
-- the SHA-256 of the token in the link; usable once (`used_at`) before `expires_at`.
CREATE TABLE portal_password_links (
    token_hash  TEXT PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES portal_accounts (id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
) WITHOUT ROWID;
CREATE INDEX portal_password_links_account ON portal_password_links (account_id);
