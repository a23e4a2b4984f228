"""Retention on SQLite: raw webhook bodies and delivery ids older than their age, in bounded batches.

A raw body is pruned by emptying it (`X''`): the delivery's row stays (its sha256, alert count and
times; alerts and timeline events name it), only the bytes go. A delivery id (an `alert_events` row:
the notification a re-sent webhook must not apply twice) is deleted, and so is a Twilio callback id (a
`twilio_callbacks` row: the callback a replay must not apply twice) of the same age. Incidents, alerts, their
timeline and billing data are never touched. Each batch takes the oldest rows through an index
(migration 0009), so a batch costs the rows it prunes, whatever the size of the tables.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from .codec import iso, parse_iso
from .port import Pruned

RETENTION_JOB = "retention"

_PRUNE_BODIES = (
    "UPDATE deliveries SET body = X'' WHERE id IN (SELECT id FROM deliveries "
    "WHERE body != X'' AND received_at < ? ORDER BY received_at LIMIT ?)"
)
_PRUNE_IDS = (
    "DELETE FROM alert_events WHERE event_id IN (SELECT event_id FROM alert_events "
    "WHERE seen_at < ? ORDER BY seen_at LIMIT ?)"
)
_PRUNE_CALLBACKS = (
    "DELETE FROM twilio_callbacks WHERE (kind, key) IN (SELECT kind, key FROM twilio_callbacks "
    "WHERE seen_at < ? ORDER BY seen_at LIMIT ?)"
)


def prune(conn: sqlite3.Connection, before_raw: datetime, before_ids: datetime, limit: int) -> Pruned:
    """Empty at most `limit` raw bodies received before `before_raw`, and delete at most `limit`
    delivery ids and at most `limit` Twilio callback ids last seen before `before_ids`, the oldest first."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    bodies = conn.execute(_PRUNE_BODIES, (iso(before_raw), limit)).rowcount
    ids = conn.execute(_PRUNE_IDS, (iso(before_ids), limit)).rowcount
    callbacks = conn.execute(_PRUNE_CALLBACKS, (iso(before_ids), limit)).rowcount
    return Pruned(bodies=bodies, delivery_ids=ids, callbacks=callbacks)


def finished_at(conn: sqlite3.Connection, job: str) -> datetime | None:
    row = conn.execute("SELECT finished_at FROM maintenance_runs WHERE job = ?", (job,)).fetchone()
    return parse_iso(row[0]) if row else None


def mark_finished(conn: sqlite3.Connection, job: str, at: datetime) -> None:
    conn.execute(
        "INSERT INTO maintenance_runs (job, finished_at) VALUES (?, ?) "
        "ON CONFLICT (job) DO UPDATE SET finished_at = excluded.finished_at",
        (job, iso(at)),
    )
