-- pagerd schema v37 on PostgreSQL: a delivery's body (the webhook as it came, kept for a while) is compressed
-- with lz4 instead of the default pglz. A 100-alert Alertmanager webhook (39 KB) took 369 µs of the server's
-- time to store with pglz and 149-190 µs with lz4 (2.9 KB on disk instead of 2.1 KB); bodies under 2 KB are
-- stored as they are either way. A server built without lz4 (or older than PostgreSQL 14) keeps pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE deliveries ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
    RAISE NOTICE 'deliveries.body stays compressed with pglz: %', SQLERRM;
END
$$;
