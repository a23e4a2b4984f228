-- pagerd schema v37: nothing changes on SQLite, which does not compress. On PostgreSQL a delivery's body
-- is compressed with lz4 instead of pglz (pg_migrations/0037_deliveries_body_lz4.sql).
SELECT 1;
