-- pagerd schema v33: questions the engine asks every tick or every send are answered from a partial index that
-- holds only the rows they look for. Before, they walked every triggered incident, every live escalation or
-- the whole outbox: in a storm that nobody acknowledges, tens of thousands of rows per tick and per send.
--
-- routed_generation: the round of the incident that the engine routed (its escalation's generation). The
-- route stage reads the triggered incidents whose round is not routed yet from incidents_unrouted.
ALTER TABLE incidents ADD COLUMN routed_generation INTEGER;
UPDATE incidents SET routed_generation = (SELECT max(e.generation) FROM escalations e WHERE e.incident_id = incidents.id);
CREATE INDEX incidents_unrouted ON incidents (id)
    WHERE state = 'triggered' AND coalesce(routed_generation, -1) != reopen_count;
-- settled_generation: the routed round that the stop stage has seen acknowledged or resolved (its escalation
-- stopped, if it was still live). incidents_settling holds the routed incidents that left `triggered` by any
-- path since: the stop stage's work. Nothing else writes it, so no path that acknowledges or resolves can
-- be missed.
ALTER TABLE incidents ADD COLUMN settled_generation INTEGER;
UPDATE incidents SET settled_generation = routed_generation
    WHERE state != 'triggered'
      AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.incident_id = incidents.id AND e.status IN ('active', 'waiting'));
CREATE INDEX incidents_settling ON incidents (id)
    WHERE state != 'triggered' AND routed_generation IS NOT NULL AND coalesce(settled_generation, -1) != routed_generation;
--
-- The messages bundled into a carrier (finish_message, the delivery callbacks, the failed path) were found by
-- reading the whole outbox, twice per message sent.
CREATE INDEX outbox_bundle ON outbox (bundle_id) WHERE bundle_id IS NOT NULL;
