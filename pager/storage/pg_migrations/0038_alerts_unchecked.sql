-- pagerd schema v38 on PostgreSQL: the alerts table without foreign keys. Only the ingest writes alert rows, in
-- the transaction that writes their delivery and creates their incident or reads it under the write lock;
-- deliveries and incidents are never deleted (retention empties a body, the row stays). So neither key checked
-- anything the ingest could break, and each cost a query and a row lock inside the server for every alert row:
-- in paired runs of 100-alert webhooks, alerts.delivery_id's 15% of the server's CPU per webhook, then
-- alerts.incident_id's 14-25% more. alerts.delivery_id is provenance, read by no query of pagerd, as
-- alert_events.delivery_id and the timeline's delivery ids, which never had a key. One row per incident and
-- fingerprint stays a unique key. The durability tests and the PostgreSQL multi-node and fault tests check that
-- every alert names a stored incident and a stored delivery.
ALTER TABLE alerts DROP CONSTRAINT alerts_delivery_id_fkey;
ALTER TABLE alerts DROP CONSTRAINT alerts_incident_id_fkey;
