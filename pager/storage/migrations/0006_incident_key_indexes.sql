-- pagerd schema v6: a new incident is written to two fewer indexes.
-- incidents_created served only the `since` filter of the incident list, which the (state, created_at)
-- index serves as well (the list then asks for each state).
-- incidents_key_resolved now holds resolved incidents only: the open incident of a key is found
-- through incidents_open_key, so an incident sits in one of the two key indexes, never in both.
DROP INDEX incidents_created;
DROP INDEX incidents_key_resolved;
CREATE INDEX incidents_key_resolved ON incidents (source, dedup_key, resolved_at) WHERE state = 'resolved';
