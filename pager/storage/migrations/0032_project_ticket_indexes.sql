-- pagerd schema v32: a project's page reads its live tickets and those created or resolved in the weeks it
-- shows (project_tickets), each part by an index of its own: the live ones by tickets_status_project, the
-- others by these two. Before, the page walked every ticket the project ever had (8,000 for a large
-- customer in bench/portal.py).
CREATE INDEX tickets_project_created ON tickets (project, created_at);
CREATE INDEX tickets_project_resolved ON tickets (project, resolved_at) WHERE resolved_at IS NOT NULL;
