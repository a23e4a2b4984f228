-- pagerd schema v36 on PostgreSQL: as on SQLite (migrations/0036_incident_ticket_in_store.sql), the trigger
-- that wrote an incident's ticket (a plpgsql call per incident) is gone, with its function; the ingest
-- writes the tickets of a commit's new incidents in one INSERT.
DROP TRIGGER incidents_ticket ON incidents;
DROP FUNCTION incidents_ticket();
