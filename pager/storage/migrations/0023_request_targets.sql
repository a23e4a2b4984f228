-- pagerd schema v23: request targets of live tickets. The engine writes `target_at_risk` and
-- `target_breached` on a request's timeline once each per target: `ticket_target_facts` holds what
-- was written (its primary key makes a second write a no-op, whatever the clock does).
-- `targets_next_at` is when the engine next needs to judge a request: the earliest at-risk instant
-- or deadline still ahead; '' (before every instant): judge it on the next tick. Any new timeline
-- entry (a reply, a status move, a change of priority or customer) sets it back to '', so a ticket is
-- judged again after every change and otherwise only when an instant falls due: the stage reads a
-- range of the partial index below, only the rows that are due.
CREATE TABLE ticket_target_facts (
    number  INTEGER NOT NULL REFERENCES tickets (number),
    target  TEXT NOT NULL CHECK (target IN ('first_response', 'resolution')),
    fact    TEXT NOT NULL CHECK (fact IN ('at_risk', 'breached')),
    at      TEXT NOT NULL,
    PRIMARY KEY (number, target, fact)
) WITHOUT ROWID;

ALTER TABLE tickets ADD COLUMN targets_next_at TEXT NOT NULL DEFAULT '';
CREATE INDEX tickets_targets_due ON tickets (targets_next_at)
    WHERE kind = 'request' AND status IN ('new', 'open', 'waiting_on_customer');

CREATE TRIGGER ticket_entries_targets AFTER INSERT ON ticket_entries
BEGIN
    UPDATE tickets SET targets_next_at = '' WHERE number = NEW.number AND targets_next_at != '';
END;
