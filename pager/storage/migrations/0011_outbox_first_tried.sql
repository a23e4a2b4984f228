-- pagerd schema v11: when each outbox message was first tried. A message that failed and waits for its
-- retry is still part of the backlog (pagerd_outbox_pending, ..._oldest_pending_age_seconds), counted
-- from its first attempt rather than from its next; and a failed message moves its person on only to a
-- contact method not tried yet (never past another message's backoff).
ALTER TABLE outbox ADD COLUMN first_tried_at TEXT;
