-- pagerd schema v22: incoming mail becomes tickets (pager/service/mail_desk.py).
-- The Message-IDs of each ticket's mail (without angle brackets): the incoming ones as they are filed, the
-- outgoing ones when pagerd sends them. A reply is threaded by its In-Reply-To/References through this table.
-- A Message-ID belongs to one ticket (the first that took it).
CREATE TABLE ticket_messages (
    message_id TEXT PRIMARY KEY CHECK (message_id <> ''),
    number     INTEGER NOT NULL REFERENCES tickets (number),
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    mail_id    INTEGER REFERENCES mail (id),
    at         TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX ticket_messages_number ON ticket_messages (number);
-- which ticket (if any) a processed mail went to
ALTER TABLE mail ADD COLUMN ticket INTEGER REFERENCES tickets (number);
