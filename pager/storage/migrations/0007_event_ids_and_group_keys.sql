-- pagerd schema v7: one stored form of a notification's id, and the Alertmanager group of each incident.
-- Event ids were stored in three forms: behind the key's first incident (`i<10 hex digits>:<id>`),
-- behind a hash of the key (`<12 hex digits>:<id>`), or bare. From now on only the second form
-- (sqlite_ingest.stored_id; `pagerd_key_prefix` is that hash, registered by the migration runner):
-- the first is rewritten to it through its incident's key; a bare id names no key and is dropped (a
-- notification re-sent after this is applied again, as after retention). Where one id was stored in
-- more than one form, the latest application is kept.
CREATE TABLE alert_events_v7 (
    event_id    TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    delivery_id INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO alert_events_v7 (event_id, source, seen_at, delivery_id)
    SELECT stored, source, max(seen_at), delivery_id FROM (
        SELECT CASE
                   WHEN e.event_id GLOB 'i[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]:*'
                       THEN (SELECT pagerd_key_prefix(i.source, i.dedup_key) FROM incidents AS i
                             WHERE i.id = pagerd_hex(substr(e.event_id, 2, 10))) || substr(e.event_id, 13)
                   WHEN e.event_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]:*'
                       THEN e.event_id
               END AS stored, e.source, e.seen_at, e.delivery_id
        FROM alert_events AS e)
    WHERE stored IS NOT NULL GROUP BY stored;
DROP TABLE alert_events;
ALTER TABLE alert_events_v7 RENAME TO alert_events;

-- The groupKey of the Alertmanager notification that opened (or last reopened) the incident: a
-- resolved group notification resolves every open incident of its group (with dedup_by: fingerprint,
-- one per alert). Existing incidents take it from their "opened" event, which recorded it.
ALTER TABLE incidents ADD COLUMN group_key TEXT;
UPDATE incidents SET group_key = (
    SELECT json_extract(e.data, '$.group_key') FROM events AS e
    WHERE e.incident_id = incidents.id AND e.kind = 'opened' ORDER BY e.id LIMIT 1)
WHERE source = 'alertmanager';
CREATE INDEX incidents_open_group ON incidents (source, group_key) WHERE state != 'resolved' AND group_key IS NOT NULL;
