-- pagerd schema v38 on PostgreSQL: alerts.delivery_id (the delivery that last wrote the alert row: provenance
-- for someone reading the database, read by no query of pagerd) no longer has a foreign key, as
-- alert_events.delivery_id and the timeline's delivery ids never had one. Deliveries are never deleted (retention
-- empties a body, the row stays) and the ingest writes the delivery in the transaction that writes its alerts, so
-- the key checked nothing the ingest could break; its check cost the server about 3.5 µs per alert row, 14% of its
-- time for a 100-alert webhook. The durability tests check that every alert names a stored delivery.
ALTER TABLE alerts DROP CONSTRAINT alerts_delivery_id_fkey;
