-- pagerd schema v26: the desk's list filtered by status and project together (`GET /api/v1/tickets?status=&project=`,
-- `pagerd ticket list --status --project`) reads one range of this index, newest first, instead of walking every
-- ticket of the project (or of the status) for the few that have both: with 100,000 tickets a rare pair
-- (status=new, project=agency/infra: 200 tickets) took 37 ms through tickets_project and 0.1 ms through this.
-- It also counts the tickets a filtered search may check one by one (sqlite_tickets.tickets).
CREATE INDEX tickets_status_project ON tickets (status, project, number);
