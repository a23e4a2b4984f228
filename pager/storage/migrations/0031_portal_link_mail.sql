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
