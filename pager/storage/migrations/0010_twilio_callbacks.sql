-- pagerd schema v10: a Twilio callback is applied once, and every message of an incident knows its round.
--
-- twilio_callbacks: one row per callback applied, keyed by what makes a replay identical (kind: sms,
-- voice, status; key: see pager/web/twilio_hooks.py). A signed callback that comes again (Twilio
-- retrying, or someone replaying a captured request) finds its row, changes nothing and gets the
-- answer given the first time. Rows older than storage.retention.delivery_ids are pruned with the
-- delivery ids (the retention stage), through twilio_callbacks_seen.
CREATE TABLE twilio_callbacks (
    kind     TEXT NOT NULL CHECK (kind IN ('sms', 'voice', 'status')),
    key      TEXT NOT NULL,
    reply    TEXT,              -- the answer given the first time; NULL while it is being applied
    seen_at  TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX twilio_callbacks_seen ON twilio_callbacks (seen_at);

-- The round (the incident's generation: 0 for its opening, n for its n-th reopen) whose escalation
-- queued a message; NULL for a message of no incident (hand-over notices). One-tap links are signed
-- for it; SMS replies and voice keypresses act only on rounds that reached their person.
ALTER TABLE outbox ADD COLUMN generation INTEGER;
-- Every message of an incident so far was queued by fire_step, whose idempotency key starts with
-- "<incident>:<generation>:".
UPDATE outbox SET generation = CAST(substr(substr(idem_key, instr(idem_key, ':') + 1), 1,
                                           instr(substr(idem_key, instr(idem_key, ':') + 1), ':') - 1) AS INTEGER)
WHERE incident_id IS NOT NULL;
