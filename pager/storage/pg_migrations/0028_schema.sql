-- pagerd schema v28 on PostgreSQL: every table, column, constraint, index and trigger the SQLite migrations
-- 0001-0028 leave (pager/storage/migrations), in PostgreSQL's types. A later migration has the number of its
-- SQLite twin; tests/contract/test_schemas.py holds the two schemas equal.
CREATE TABLE incidents (
    id              BIGINT PRIMARY KEY,
    source          TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('triggered', 'acknowledged', 'resolved')),
    summary         TEXT NOT NULL,
    severity        TEXT NOT NULL,
    labels          TEXT NOT NULL,
    alert_count     BIGINT NOT NULL DEFAULT 0,
    reopen_count    BIGINT NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    resolved_at     TEXT,
    resolved_by     TEXT
, group_key TEXT);
CREATE TABLE events (
    id          BIGINT PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT,
    data        TEXT NOT NULL
);
CREATE TABLE overrides (
    id          BIGINT PRIMARY KEY,
    rotation    TEXT NOT NULL,
    start_at    TEXT NOT NULL,
    end_at      TEXT NOT NULL CHECK (end_at > start_at),
    person      TEXT NOT NULL,
    replaces    TEXT,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_by  TEXT,
    removed_at  TEXT
);
CREATE TABLE handover_notices (
    rotation    TEXT NOT NULL,
    shift_start TEXT NOT NULL,
    person      TEXT NOT NULL,
    notified_at TEXT NOT NULL,
    PRIMARY KEY (rotation, shift_start)
);
CREATE TABLE heartbeats (
    name       TEXT PRIMARY KEY,
    last_seen  TEXT NOT NULL,
    source     TEXT NOT NULL
);
CREATE TABLE bookings (
    id           BIGINT PRIMARY KEY,
    customer     TEXT NOT NULL,
    start_at     TEXT NOT NULL,
    end_at       TEXT NOT NULL CHECK (end_at > start_at),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    cancelled_by TEXT,
    cancelled_at TEXT
);
CREATE TABLE work_entries (
    id          BIGINT PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    person      TEXT NOT NULL,
    start_at    TEXT,
    end_at      TEXT,
    minutes     BIGINT NOT NULL CHECK (minutes > 0),
    note        TEXT,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    CHECK ((start_at IS NULL) = (end_at IS NULL)),
    CHECK (start_at IS NULL OR end_at > start_at)
);
CREATE TABLE "deliveries" (
    id           BIGINT PRIMARY KEY,
    source       TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    seen_count   BIGINT NOT NULL DEFAULT 1,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    alert_count  BIGINT NOT NULL,
    body         BYTEA NOT NULL
);
CREATE TABLE alerts (
    id          BIGINT PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    fingerprint TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    summary     TEXT NOT NULL,
    severity    TEXT NOT NULL,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    details     TEXT NOT NULL,
    starts_at   TEXT,
    ends_at     TEXT,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    UNIQUE (incident_id, fingerprint)
);
CREATE TABLE "alert_events" (
    event_id    TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    delivery_id BIGINT NOT NULL
);
CREATE TABLE maintenance_runs (
    job         TEXT PRIMARY KEY,
    finished_at TEXT NOT NULL
);
CREATE TABLE twilio_callbacks (
    kind     TEXT NOT NULL CHECK (kind IN ('sms', 'voice', 'status')),
    key      TEXT NOT NULL,
    reply    TEXT,              -- the answer given the first time; NULL while it is being applied
    seen_at  TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE "outbox" (
    id              BIGINT PRIMARY KEY,
    idem_key        TEXT NOT NULL UNIQUE,
    incident_id     BIGINT REFERENCES incidents (id),
    person          TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'voice', 'email')),
    address         TEXT NOT NULL,
    kind            TEXT NOT NULL,               -- page | desk | handover
    subject         TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL DEFAULT '',
    due_at          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'simulated', 'failed', 'cancelled',
                                                    'bundled')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    bundle_id       BIGINT,                     -- the outbox row whose message carried this one
    provider_id     TEXT,
    delivery_status TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    first_tried_at  TEXT,
    generation      BIGINT
);
CREATE TABLE maintenance_windows (
    id          BIGINT PRIMARY KEY,
    customer    TEXT,
    project     TEXT,
    match       TEXT NOT NULL DEFAULT '{}',      -- JSON object of label -> value
    start_at    TEXT NOT NULL,
    end_at      TEXT NOT NULL CHECK (end_at > start_at),
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_by  TEXT,
    removed_at  TEXT,
    CHECK ((customer IS NOT NULL)::int + (project IS NOT NULL)::int + (match != '{}')::int = 1)
);
CREATE TABLE escalations (
    incident_id       BIGINT NOT NULL REFERENCES incidents (id),
    generation        BIGINT NOT NULL,          -- the incident's reopen_count when it was routed
    project           TEXT NOT NULL,
    rotation          TEXT,                      -- the rotation coverage chose (office or standby)
    policy            TEXT NOT NULL,             -- JSON snapshot taken when the incident opened
    status            TEXT NOT NULL CHECK (status IN ('active', 'waiting', 'stopped', 'done')),
    step              BIGINT NOT NULL DEFAULT -1,
    next_at           TEXT,
    first_page_at     TEXT,
    deadline_at       TEXT,
    escalate_at       TEXT,
    escalated_early   BIGINT NOT NULL DEFAULT 0,
    breached_at       TEXT,
    response_observed BIGINT NOT NULL DEFAULT 0,
    target_settled    BIGINT NOT NULL DEFAULT 0,  -- the deadline passed and met/breached was recorded
    target_seconds    BIGINT NOT NULL,
    reason            TEXT NOT NULL,
    created_at        TEXT NOT NULL, answered_at TEXT, answered_by TEXT, answered_via TEXT, answered_kind TEXT CHECK (answered_kind IN ('acknowledged', 'resolved')), hold TEXT CHECK (hold IN ('urgency', 'maintenance')), maintenance_id BIGINT REFERENCES maintenance_windows (id), severity TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, generation)
);
CREATE TABLE statements (
    customer  TEXT NOT NULL,
    month     TEXT NOT NULL CHECK (month ~ '^[0-9]{4}-[0-1][0-9]$'),
    seq       BIGINT NOT NULL CHECK (seq > 0),
    number    TEXT NOT NULL UNIQUE,
    issued_at TEXT NOT NULL,
    PRIMARY KEY (customer, month),
    UNIQUE (month, seq)
);
CREATE TABLE tickets (
    number            BIGINT PRIMARY KEY,
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
, targets_next_at TEXT NOT NULL DEFAULT '');
CREATE TABLE ticket_entries (
    id      BIGINT PRIMARY KEY,
    number  BIGINT NOT NULL REFERENCES tickets (number),
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    actor   TEXT,
    public  BIGINT NOT NULL CHECK (public IN (0, 1)),
    data    TEXT NOT NULL
);
CREATE TABLE ticket_attachments (
    id         BIGINT PRIMARY KEY,
    number     BIGINT NOT NULL REFERENCES tickets (number),
    entry_id   BIGINT REFERENCES ticket_entries (id),
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    size       BIGINT NOT NULL CHECK (size >= 0),
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    public     BIGINT NOT NULL CHECK (public IN (0, 1)),
    created_at TEXT NOT NULL
);
CREATE TABLE ticket_time (
    id       BIGINT PRIMARY KEY,
    number   BIGINT NOT NULL REFERENCES tickets (number),
    kind     TEXT NOT NULL CHECK (kind IN ('covered', 'billable', 'callout')),
    minutes  BIGINT NOT NULL CHECK (minutes > 0),
    by       TEXT NOT NULL,
    note     TEXT,
    at       TEXT NOT NULL
);
CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    customer   TEXT NOT NULL,
    name       TEXT NOT NULL,
    emails     TEXT NOT NULL DEFAULT '[]',   -- JSON list, lower case
    phone      TEXT,                          -- E.164
    language   TEXT NOT NULL CHECK (language IN ('nl', 'en')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE mail (
    id            BIGINT PRIMARY KEY,
    message_id    TEXT CHECK (message_id IS NULL OR message_id <> ''),
    sha256        TEXT NOT NULL CHECK (length(sha256) = 64),
    envelope_from TEXT NOT NULL,          -- '' for the null reverse-path <> (bounces)
    recipients    TEXT NOT NULL,          -- JSON array of the accepted envelope recipients
    size          BIGINT NOT NULL CHECK (size >= 0),
    raw           BYTEA NOT NULL,
    received_at   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status <> ''),
    reason        TEXT,
    updated_at    TEXT NOT NULL
, ticket BIGINT REFERENCES tickets (number));
CREATE TABLE ticket_messages (
    message_id TEXT PRIMARY KEY CHECK (message_id <> ''),
    number     BIGINT NOT NULL REFERENCES tickets (number),
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    mail_id    BIGINT REFERENCES mail (id),
    at         TEXT NOT NULL
);
CREATE TABLE ticket_target_facts (
    number  BIGINT NOT NULL REFERENCES tickets (number),
    target  TEXT NOT NULL CHECK (target IN ('first_response', 'resolution')),
    fact    TEXT NOT NULL CHECK (fact IN ('at_risk', 'breached')),
    at      TEXT NOT NULL,
    PRIMARY KEY (number, target, fact)
);
CREATE TABLE customer_mail_cursor (
    one  BIGINT PRIMARY KEY CHECK (one = 1),
    last BIGINT NOT NULL
);
CREATE TABLE customer_mail (
    outbox_id      BIGINT PRIMARY KEY REFERENCES outbox (id),
    number         BIGINT NOT NULL REFERENCES tickets (number),
    entry_id       BIGINT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('acknowledgement', 'reply', 'status')),
    message_id     TEXT NOT NULL,          -- without angle brackets
    in_reply_to    TEXT,
    refs           TEXT NOT NULL DEFAULT '[]',  -- JSON list of Message-IDs
    auto_submitted TEXT,                   -- auto-replied | auto-generated | NULL (a person wrote it)
    language       TEXT NOT NULL,
    html           TEXT NOT NULL
);
CREATE TABLE mail_bounced (
    address    TEXT PRIMARY KEY,           -- lower case
    at         TEXT NOT NULL,
    mail_id    BIGINT REFERENCES mail (id),
    ticket     BIGINT REFERENCES tickets (number),
    diagnostic TEXT
);
CREATE TABLE hotline_calls (
    call_sid          TEXT PRIMARY KEY,
    caller            TEXT,                 -- E.164; NULL: withheld or not a number
    contact           TEXT,                 -- the contact the number belongs to
    customer          TEXT,
    project           TEXT,                 -- customer/project the ticket goes to; NULL: triage
    action            TEXT NOT NULL CHECK (action IN ('forward', 'standby', 'voicemail')),
    language          TEXT NOT NULL CHECK (language IN ('nl', 'en')),
    reason            TEXT NOT NULL,
    ticket            BIGINT REFERENCES tickets (number),
    outcome           TEXT NOT NULL CHECK (outcome IN ('forwarded', 'ringing', 'answered', 'voicemail', 'no_answer')),
    answered_by       TEXT,                 -- the person who took the call
    answered_at       TEXT,
    recording_sid     TEXT,
    recording_url     TEXT,
    recording_seconds BIGINT,
    reply             TEXT,                 -- the TwiML the call was answered with first
    started_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE TABLE hotline_steps (
    call_sid   TEXT NOT NULL REFERENCES hotline_calls (call_sid),
    step       BIGINT NOT NULL CHECK (step >= 0),
    people     TEXT NOT NULL,               -- JSON list of person ids
    status     TEXT,
    dialled_at TEXT NOT NULL,
    ended_at   TEXT,
    PRIMARY KEY (call_sid, step)
);
CREATE TABLE portal_accounts (
    id             BIGINT PRIMARY KEY,
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
CREATE TABLE portal_sessions (
    token_hash    TEXT PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES portal_accounts (id),
    csrf          TEXT NOT NULL,
    client        TEXT,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    ended_at      TEXT
);
CREATE TABLE portal_login_failures (
    key  TEXT NOT NULL,
    at   TEXT NOT NULL
);
CREATE TABLE portal_password_links (
    token_hash  TEXT PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES portal_accounts (id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE UNIQUE INDEX incidents_open_key ON incidents (source, dedup_key) WHERE state != 'resolved';
CREATE INDEX incidents_state ON incidents (state, created_at);
CREATE INDEX events_incident ON events (incident_id, id);
CREATE INDEX overrides_rotation ON overrides (rotation, start_at);
CREATE INDEX escalations_due ON escalations (status, next_at);
CREATE INDEX escalations_deadline ON escalations (target_settled, deadline_at);
CREATE INDEX bookings_customer ON bookings (customer, start_at);
CREATE INDEX bookings_active ON bookings (cancelled_at, end_at);
CREATE INDEX work_entries_incident ON work_entries (incident_id, id);
CREATE INDEX incidents_key_resolved ON incidents (source, dedup_key, resolved_at) WHERE state = 'resolved';
CREATE INDEX incidents_open_group ON incidents (source, group_key) WHERE state != 'resolved' AND group_key IS NOT NULL;
CREATE INDEX escalations_unobserved ON escalations (incident_id)
    WHERE response_observed = 0 AND answered_at IS NOT NULL;
CREATE INDEX deliveries_body_kept ON deliveries (received_at) WHERE body != ''::bytea;
CREATE INDEX alert_events_seen ON alert_events (seen_at);
CREATE INDEX twilio_callbacks_seen ON twilio_callbacks (seen_at);
CREATE INDEX outbox_due ON outbox (status, due_at);
CREATE INDEX outbox_address ON outbox (address, channel, sent_at);
CREATE INDEX outbox_incident ON outbox (incident_id, status);
CREATE INDEX maintenance_windows_active ON maintenance_windows (removed_at, end_at);
CREATE INDEX escalations_held ON escalations (hold, maintenance_id) WHERE hold IS NOT NULL;
CREATE INDEX tickets_status ON tickets (status, number);
CREATE INDEX tickets_project ON tickets (project, number);
CREATE INDEX tickets_resolved ON tickets (resolved_at) WHERE status = 'resolved';
CREATE INDEX ticket_entries_number ON ticket_entries (number, id);
CREATE INDEX ticket_attachments_number ON ticket_attachments (number, id);
CREATE INDEX ticket_time_number ON ticket_time (number, id);
CREATE UNIQUE INDEX mail_message_id ON mail (message_id) WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX mail_sha256_without_message_id ON mail (sha256) WHERE message_id IS NULL;
CREATE INDEX mail_status ON mail (status, id);
CREATE INDEX ticket_messages_number ON ticket_messages (number);
CREATE INDEX tickets_targets_due ON tickets (targets_next_at)
    WHERE kind = 'request' AND status IN ('new', 'open', 'waiting_on_customer');
CREATE INDEX outbox_customer_auto ON outbox (address, created_at) WHERE kind = 'customer';
CREATE INDEX hotline_calls_started ON hotline_calls (started_at);
CREATE INDEX hotline_calls_ticket ON hotline_calls (ticket) WHERE ticket IS NOT NULL;
CREATE INDEX tickets_status_project ON tickets (status, project, number);
CREATE INDEX portal_sessions_account ON portal_sessions (account_id);
CREATE INDEX portal_login_failures_key ON portal_login_failures (key, at);
CREATE INDEX portal_password_links_account ON portal_password_links (account_id);
CREATE FUNCTION incidents_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM incidents;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER incidents_id_next BEFORE INSERT ON incidents FOR EACH ROW EXECUTE FUNCTION incidents_id_next();
CREATE FUNCTION alerts_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM alerts;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER alerts_id_next BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION alerts_id_next();
CREATE FUNCTION events_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM events;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_id_next BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_id_next();
CREATE FUNCTION overrides_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM overrides;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER overrides_id_next BEFORE INSERT ON overrides FOR EACH ROW EXECUTE FUNCTION overrides_id_next();
CREATE FUNCTION bookings_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM bookings;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bookings_id_next BEFORE INSERT ON bookings FOR EACH ROW EXECUTE FUNCTION bookings_id_next();
CREATE FUNCTION work_entries_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM work_entries;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER work_entries_id_next BEFORE INSERT ON work_entries FOR EACH ROW EXECUTE FUNCTION work_entries_id_next();
CREATE FUNCTION deliveries_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM deliveries;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER deliveries_id_next BEFORE INSERT ON deliveries FOR EACH ROW EXECUTE FUNCTION deliveries_id_next();
CREATE FUNCTION outbox_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM outbox;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER outbox_id_next BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_id_next();
CREATE FUNCTION maintenance_windows_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM maintenance_windows;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER maintenance_windows_id_next BEFORE INSERT ON maintenance_windows FOR EACH ROW EXECUTE FUNCTION maintenance_windows_id_next();
CREATE FUNCTION tickets_number_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.number IS NULL THEN
        SELECT coalesce(max(number), 0) + 1 INTO NEW.number FROM tickets;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tickets_number_next BEFORE INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION tickets_number_next();
CREATE FUNCTION ticket_entries_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM ticket_entries;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ticket_entries_id_next BEFORE INSERT ON ticket_entries FOR EACH ROW EXECUTE FUNCTION ticket_entries_id_next();
CREATE FUNCTION ticket_attachments_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM ticket_attachments;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ticket_attachments_id_next BEFORE INSERT ON ticket_attachments FOR EACH ROW EXECUTE FUNCTION ticket_attachments_id_next();
CREATE FUNCTION ticket_time_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM ticket_time;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ticket_time_id_next BEFORE INSERT ON ticket_time FOR EACH ROW EXECUTE FUNCTION ticket_time_id_next();
CREATE FUNCTION mail_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM mail;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER mail_id_next BEFORE INSERT ON mail FOR EACH ROW EXECUTE FUNCTION mail_id_next();
CREATE FUNCTION customer_mail_cursor_one_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.one IS NULL THEN
        SELECT coalesce(max(one), 0) + 1 INTO NEW.one FROM customer_mail_cursor;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER customer_mail_cursor_one_next BEFORE INSERT ON customer_mail_cursor FOR EACH ROW EXECUTE FUNCTION customer_mail_cursor_one_next();
CREATE FUNCTION customer_mail_outbox_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.outbox_id IS NULL THEN
        SELECT coalesce(max(outbox_id), 0) + 1 INTO NEW.outbox_id FROM customer_mail;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER customer_mail_outbox_id_next BEFORE INSERT ON customer_mail FOR EACH ROW EXECUTE FUNCTION customer_mail_outbox_id_next();
CREATE FUNCTION portal_accounts_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM portal_accounts;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER portal_accounts_id_next BEFORE INSERT ON portal_accounts FOR EACH ROW EXECUTE FUNCTION portal_accounts_id_next();
-- The tickets' full text (SQLite: an FTS5 table; here a tsvector column with a GIN index).
CREATE TABLE ticket_text (
    rowid BIGINT PRIMARY KEY,
    text  TEXT NOT NULL,
    tsv   tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
CREATE INDEX ticket_text_tsv ON ticket_text USING gin (tsv);
CREATE TABLE ticket_text_indexed (
    one  BIGINT PRIMARY KEY CHECK (one = 1),
    last BIGINT NOT NULL
);
INSERT INTO ticket_text_indexed (one, last) VALUES (1, 0);
INSERT INTO customer_mail_cursor (one, last) VALUES (1, 0);
-- Every incident is a ticket of kind 'incident' with the incident's number (SQLite migration 0020).
CREATE FUNCTION incidents_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tickets (number, kind, via, subject, created_at, updated_at)
        VALUES (NEW.id, 'incident', 'alert', NEW.summary, NEW.created_at, NEW.updated_at)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER incidents_ticket AFTER INSERT ON incidents FOR EACH ROW EXECUTE FUNCTION incidents_ticket();
CREATE FUNCTION incidents_ticket_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET
        status = CASE NEW.state WHEN 'resolved' THEN 'resolved' ELSE 'open' END,
        resolved_at = CASE NEW.state WHEN 'resolved' THEN NEW.resolved_at END,
        updated_at = NEW.updated_at
    WHERE number = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER incidents_ticket_state AFTER UPDATE OF state ON incidents
    FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state) EXECUTE FUNCTION incidents_ticket_state();
CREATE FUNCTION escalations_ticket_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET project = NEW.project, customer = split_part(NEW.project, '/', 1)
    WHERE number = NEW.incident_id AND project IS NULL AND strpos(NEW.project, '/') > 0;
    RETURN NULL;
END $$;
CREATE TRIGGER escalations_ticket_project AFTER INSERT ON escalations
    FOR EACH ROW EXECUTE FUNCTION escalations_ticket_project();
CREATE FUNCTION ticket_entries_targets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET targets_next_at = '' WHERE number = NEW.number AND targets_next_at != '';
    RETURN NULL;
END $$;
CREATE TRIGGER ticket_entries_targets AFTER INSERT ON ticket_entries
    FOR EACH ROW EXECUTE FUNCTION ticket_entries_targets();
