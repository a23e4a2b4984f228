-- pagerd schema v31: password links (invitations, resets) mailed to their account's address. The portal or
-- `pagerd user invite` queues the mail in the same transaction as its link; the engine's `outmail` stage
-- sends it through the outgoing-mail server (mail.outgoing), retrying as it retries customer mail. The mail
-- carries the link itself, the one place a link's token is kept: `text` and `html` are emptied as soon as
-- the mail is sent or given up.
CREATE TABLE portal_link_mail (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL REFERENCES portal_password_links (token_hash),
    address     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    text        TEXT NOT NULL,
    html        TEXT NOT NULL,
    language    TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      TEXT NOT NULL,             -- pending: when to try (next); a claimed mail is leased ahead
    error       TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX portal_link_mail_due ON portal_link_mail (due_at) WHERE status = 'pending';

-- The second factor of staff accounts (TOTP, RFC 6238): the secret (base32; NULL: none), a secret shown on
-- the enrolment page and not yet confirmed with a code, and the time step of the last code taken (a code
-- works once, even within its window). A session whose password was right and whose code is still due is
-- `factor_due`: it opens no page, only the second step of the sign-in.
ALTER TABLE portal_accounts ADD COLUMN totp_secret TEXT;
ALTER TABLE portal_accounts ADD COLUMN totp_pending TEXT;
ALTER TABLE portal_accounts ADD COLUMN totp_last_step INTEGER;
ALTER TABLE portal_sessions ADD COLUMN factor_due INTEGER NOT NULL DEFAULT 0;
