-- pagerd schema v25: the standby number (README: The standby number; pager/web/hotline.py).
--
-- hotline_calls: one row per call to the number, keyed by Twilio's CallSid, written when the call comes in
-- (before it is answered: a Twilio retry or a replayed request of the same call finds it and gets the same
-- answer, so a call never opens two tickets). `action` is pager.domain.hotline's decision at the call;
-- `outcome` what became of it. The ticket (and, for a standby call, the incident with the same number) is
-- written in the transaction that links it here.
CREATE TABLE hotline_calls (
    call_sid          TEXT PRIMARY KEY,
    caller            TEXT,                 -- E.164; NULL: withheld or not a number
    contact           TEXT,                 -- the contact the number belongs to
    customer          TEXT,
    project           TEXT,                 -- customer/project the ticket goes to; NULL: triage
    action            TEXT NOT NULL CHECK (action IN ('forward', 'standby', 'voicemail')),
    language          TEXT NOT NULL CHECK (language IN ('nl', 'en')),
    reason            TEXT NOT NULL,
    ticket            INTEGER REFERENCES tickets (number),
    outcome           TEXT NOT NULL CHECK (outcome IN ('forwarded', 'ringing', 'answered', 'voicemail', 'no_answer')),
    answered_by       TEXT,                 -- the person who took the call
    answered_at       TEXT,
    recording_sid     TEXT,
    recording_url     TEXT,
    recording_seconds INTEGER,
    reply             TEXT,                 -- the TwiML the call was answered with first
    started_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX hotline_calls_started ON hotline_calls (started_at);
CREATE INDEX hotline_calls_ticket ON hotline_calls (ticket) WHERE ticket IS NOT NULL;

-- hotline_steps: each escalation step a standby call dialled (step k: the policy's k-th step), the people
-- rung and how the <Dial> ended (Twilio's DialCallStatus; NULL while it rings). A step is dialled once and
-- its end recorded once, whatever Twilio retries.
CREATE TABLE hotline_steps (
    call_sid   TEXT NOT NULL REFERENCES hotline_calls (call_sid),
    step       INTEGER NOT NULL CHECK (step >= 0),
    people     TEXT NOT NULL,               -- JSON list of person ids
    status     TEXT,
    dialled_at TEXT NOT NULL,
    ended_at   TEXT,
    PRIMARY KEY (call_sid, step)
) WITHOUT ROWID;
