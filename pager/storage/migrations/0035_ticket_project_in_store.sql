-- pagerd schema v35: the trigger that put an incident's ticket under the project of its escalation (0020) is
-- gone; the store's route write (sqlite_paging._create_escalations) does it, for a tick's escalations at once.
-- The hotline's escalation needs nothing: its ticket is created under its project.
DROP TRIGGER escalations_ticket_project;
