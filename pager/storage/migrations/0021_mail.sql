-- pagerd schema v21: incoming mail (the LMTP/SMTP listener, pager/mail/intake.py), stored raw and whole before
-- the listener answers 250. A redelivery of the same message by the MTA stores nothing new: a message is the
-- same when it has the same Message-ID, or, without a Message-ID, the same bytes (its SHA-256).
-- status: `pending` until the mail is processed (turned into a ticket or a reply, or set aside with a reason).
CREATE TABLE mail (
    id            INTEGER PRIMARY KEY,
    message_id    TEXT CHECK (message_id IS NULL OR message_id <> ''),
    sha256        TEXT NOT NULL CHECK (length(sha256) = 64),
    envelope_from TEXT NOT NULL,          -- '' for the null reverse-path <> (bounces)
    recipients    TEXT NOT NULL,          -- JSON array of the accepted envelope recipients
    size          INTEGER NOT NULL CHECK (size >= 0),
    raw           BLOB NOT NULL,
    received_at   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status <> ''),
    reason        TEXT,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX mail_message_id ON mail (message_id) WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX mail_sha256_without_message_id ON mail (sha256) WHERE message_id IS NULL;
CREATE INDEX mail_status ON mail (status, id);
