-- pagerd schema v35 on PostgreSQL: as on SQLite (migrations/0035_ticket_project_in_store.sql), the trigger that
-- put an incident's ticket under the project of its escalation is gone, with its function; the store's route
-- write does it.
DROP TRIGGER escalations_ticket_project ON escalations;
DROP FUNCTION escalations_ticket_project();
