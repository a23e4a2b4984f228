-- pagerd schema v8: each escalation (one round: the incident's opening or one of its reopens) keeps
-- its own first answer, the first acknowledgement or resolve of that round: when, by whom, how
-- (sms, voice, link, api, cli, or the monitoring source) and which of the two. The incident's
-- acknowledged_at is cleared when it reopens, so it cannot tell whether an earlier round was
-- answered in time (pager/domain/response.py judges each round on these columns).
ALTER TABLE escalations ADD COLUMN answered_at TEXT;
ALTER TABLE escalations ADD COLUMN answered_by TEXT;
ALTER TABLE escalations ADD COLUMN answered_via TEXT;
ALTER TABLE escalations ADD COLUMN answered_kind TEXT CHECK (answered_kind IN ('acknowledged', 'resolved'));

-- Backfill from the timeline: a round's answer is the first 'acknowledged' or 'resolved' event of
-- its incident at or after the round was routed. A round ends with a resolve before the next one
-- opens, so that event always lies inside the round.
WITH answers AS (
    SELECT e.incident_id, e.generation, v.at, v.actor, json_extract(v.data, '$.via') AS via, v.kind,
           row_number() OVER (PARTITION BY e.incident_id, e.generation ORDER BY v.at, v.id) AS n
    FROM escalations e JOIN events v ON v.incident_id = e.incident_id
    WHERE v.kind IN ('acknowledged', 'resolved') AND v.at >= e.created_at
)
UPDATE escalations SET answered_at = a.at, answered_by = a.actor, answered_via = a.via, answered_kind = a.kind
FROM answers a
WHERE a.incident_id = escalations.incident_id AND a.generation = escalations.generation AND a.n = 1;

-- The response-time metric observes answers as they come; history is not observed again.
UPDATE escalations SET response_observed = 1 WHERE answered_at IS NOT NULL;

-- The metric's scan looks for answered rounds not yet observed (unanswered ones no longer count).
DROP INDEX escalations_unobserved;
CREATE INDEX escalations_unobserved ON escalations (incident_id)
    WHERE response_observed = 0 AND answered_at IS NOT NULL;
