-- pagerd schema v20: the support desk's tickets. Requests and incidents are one numbered series: an
-- incident is the ticket whose number is its id, a request a ticket without an incident row.
--
-- How the series stays one without slowing the webhook ingest: the ingest path keeps inserting incidents as
-- before (multi-row INSERTs with ids it numbers itself, sqlite_ingest._Rows.next_id), but numbers them
-- after the largest ticket number instead of the largest incident id, one indexed max() per commit; the
-- trigger `incidents_ticket` writes the incident's ticket row in
-- the same statement. A request takes the next number the same way (sqlite_tickets), so no number is
-- used twice. Paging a request inserts its incident with the ticket's own number. The extra cost of a
-- new incident is one row in `tickets` and its index entries, written by the trigger. Measured on the writer's
-- ingest code alone (batches of 32 single-alert webhooks, synchronous=OFF, 2 loaded cores, best of 8
-- interleaved runs): when every webhook opens a new incident 55 -> 71 us of CPU per webhook; webhooks on
-- open incidents (the common case) 123 -> 131 us, within the noise. An FTS insert of the subject in the
-- same trigger cost as much again, so incidents' subjects are indexed later (ticket_text_indexed).
CREATE TABLE tickets (
    number            INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('request', 'incident')),
    via               TEXT NOT NULL CHECK (via IN ('phone', 'email', 'api', 'alert')),
    customer          TEXT,                  -- NULL: triage (nobody known yet)
    project           TEXT,                  -- customer/project from the config; NULL: triage
    requester_contact TEXT,                  -- contacts.id or a configured contact's id
    requester_name    TEXT,
    requester_email   TEXT,
    requester_phone   TEXT,                  -- E.164
    assignee          TEXT,                  -- a person id of the config
    watchers          TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL DEFAULT 'new'
                      CHECK (status IN ('new', 'open', 'waiting_on_customer', 'resolved', 'closed')),
    priority          TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    subject           TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    resolved_at       TEXT                   -- when it last became resolved (auto-close counts from it)
);
CREATE INDEX tickets_status ON tickets (status, number);
CREATE INDEX tickets_project ON tickets (project, number);
CREATE INDEX tickets_resolved ON tickets (resolved_at) WHERE status = 'resolved';

-- the desk's timeline of a ticket (an incident's own events stay in `events`; the single view merges them).
-- public = 1: the customer may see it (replies, status changes); 0: internal (notes, time, assignment).
CREATE TABLE ticket_entries (
    id      INTEGER PRIMARY KEY,
    number  INTEGER NOT NULL REFERENCES tickets (number),
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    actor   TEXT,
    public  INTEGER NOT NULL CHECK (public IN (0, 1)),
    data    TEXT NOT NULL
);
CREATE INDEX ticket_entries_number ON ticket_entries (number, id);

-- attachments: metadata (the content may be stored by its sha256 elsewhere)
CREATE TABLE ticket_attachments (
    id         INTEGER PRIMARY KEY,
    number     INTEGER NOT NULL REFERENCES tickets (number),
    entry_id   INTEGER REFERENCES ticket_entries (id),
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    public     INTEGER NOT NULL CHECK (public IN (0, 1)),
    created_at TEXT NOT NULL
);
CREATE INDEX ticket_attachments_number ON ticket_attachments (number, id);

-- typed time entries: covered by the contract, billable at the rate, or a call-out
CREATE TABLE ticket_time (
    id       INTEGER PRIMARY KEY,
    number   INTEGER NOT NULL REFERENCES tickets (number),
    kind     TEXT NOT NULL CHECK (kind IN ('covered', 'billable', 'callout')),
    minutes  INTEGER NOT NULL CHECK (minutes > 0),
    by       TEXT NOT NULL,
    note     TEXT,
    at       TEXT NOT NULL
);
CREATE INDEX ticket_time_number ON ticket_time (number, id);

-- contacts the desk made at runtime (configured ones live in the config)
CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    customer   TEXT NOT NULL,
    name       TEXT NOT NULL,
    emails     TEXT NOT NULL DEFAULT '[]',   -- JSON list, lower case
    phone      TEXT,                          -- E.164
    language   TEXT NOT NULL CHECK (language IN ('nl', 'en')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- full-text search over subjects, replies and notes: one document per ticket (rowid = its number), each new
-- text appended, so that a search walks the matches newest first and stops at the page's end
CREATE VIRTUAL TABLE ticket_text USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');

-- the ticket of every incident, written with the incident
CREATE TRIGGER incidents_ticket AFTER INSERT ON incidents
BEGIN
    INSERT OR IGNORE INTO tickets (number, kind, via, subject, created_at, updated_at)
        VALUES (NEW.id, 'incident', 'alert', NEW.summary, NEW.created_at, NEW.updated_at);
END;
-- the incidents' subjects are indexed off the ingest path, by the engine's tickets stage (an FTS insert per new
-- incident would cost the ingest three times what its ticket row does): every alert-born ticket up to `last` is
-- in ticket_text; requests are indexed when filed.
CREATE TABLE ticket_text_indexed (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    last INTEGER NOT NULL
);
-- an incident acknowledged, resolved or reopened moves its ticket along (open, resolved, open)
CREATE TRIGGER incidents_ticket_state AFTER UPDATE OF state ON incidents WHEN NEW.state != OLD.state
BEGIN
    UPDATE tickets SET
        status = CASE NEW.state WHEN 'resolved' THEN 'resolved' ELSE 'open' END,
        resolved_at = CASE NEW.state WHEN 'resolved' THEN NEW.resolved_at END,
        updated_at = NEW.updated_at
    WHERE number = NEW.id;
END;
-- routing names the incident's project: its ticket takes it when the desk has not set one
CREATE TRIGGER escalations_ticket_project AFTER INSERT ON escalations
BEGIN
    UPDATE tickets SET project = NEW.project, customer = substr(NEW.project, 1, instr(NEW.project, '/') - 1)
    WHERE number = NEW.incident_id AND project IS NULL AND instr(NEW.project, '/') > 0;
END;

-- every incident so far gets its ticket, its subject indexed
INSERT INTO tickets (number, kind, via, subject, status, created_at, updated_at, resolved_at, project, customer)
SELECT i.id, 'incident', 'alert', i.summary,
       CASE i.state WHEN 'triggered' THEN 'new' WHEN 'acknowledged' THEN 'open' ELSE 'resolved' END,
       i.created_at, i.updated_at, i.resolved_at, e.project,
       CASE WHEN instr(e.project, '/') > 0 THEN substr(e.project, 1, instr(e.project, '/') - 1) END
FROM incidents AS i
LEFT JOIN (SELECT incident_id, project, min(generation) FROM escalations GROUP BY incident_id) AS e
    ON e.incident_id = i.id;
INSERT INTO ticket_text (rowid, text) SELECT number, subject FROM tickets;
INSERT INTO ticket_text_indexed (one, last) SELECT 1, coalesce(max(number), 0) FROM tickets;
