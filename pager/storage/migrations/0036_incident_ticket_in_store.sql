-- pagerd schema v36: an incident's ticket (0020) is written by the ingest with the incident, one multi-row
-- INSERT for a commit's new incidents (sqlite_ingest._INSERT_TICKET), instead of by the trigger
-- `incidents_ticket` per row. The desk's `ticket page` makes an incident of a ticket that exists already.
DROP TRIGGER incidents_ticket;
