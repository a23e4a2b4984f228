-- pagerd schema v24: mail to customers about their tickets (pager/service/customer_mail.py, the engine's
-- `outmail` stage). The stage reads the tickets' timeline entries after `customer_mail_cursor.last` in order,
-- decides which make mail (pager.domain.customer_mail), and in one transaction queues the mails into the
-- outbox (kind 'customer', once per idem_key), keeps their headers here, records their Message-IDs in the
-- ticket's thread (ticket_messages, direction 'out') and moves the cursor past them. The cursor starts at
-- the last entry that exists now: changes made before this version mail nobody.
CREATE TABLE customer_mail_cursor (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    last INTEGER NOT NULL
);
INSERT INTO customer_mail_cursor (one, last) SELECT 1, coalesce(max(id), 0) FROM ticket_entries;

-- what an outbox message of kind 'customer' carries besides its text: threading and RFC 3834 headers, the
-- HTML alternative, which change and ticket it is about
CREATE TABLE customer_mail (
    outbox_id      INTEGER PRIMARY KEY REFERENCES outbox (id),
    number         INTEGER NOT NULL REFERENCES tickets (number),
    entry_id       INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('acknowledgement', 'reply', 'status')),
    message_id     TEXT NOT NULL,          -- without angle brackets
    in_reply_to    TEXT,
    refs           TEXT NOT NULL DEFAULT '[]',  -- JSON list of Message-IDs
    auto_submitted TEXT,                   -- auto-replied | auto-generated | NULL (a person wrote it)
    language       TEXT NOT NULL,
    html           TEXT NOT NULL
);
-- the automatic mails of an address in a window (the cap): outbox (address, channel, sent_at) does not
-- serve it, as a queued mail counts before it is sent
CREATE INDEX outbox_customer_auto ON outbox (address, created_at) WHERE kind = 'customer';

-- addresses a delivery-status report (RFC 3464) said failed for good: they get no more mail, until mail
-- from the address itself comes in again
CREATE TABLE mail_bounced (
    address    TEXT PRIMARY KEY,           -- lower case
    at         TEXT NOT NULL,
    mail_id    INTEGER REFERENCES mail (id),
    ticket     INTEGER REFERENCES tickets (number),
    diagnostic TEXT
) WITHOUT ROWID;
