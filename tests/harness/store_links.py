"""The links of alert rows that no foreign key checks (migration 38): the consistency checks of the durability,
storage-fault and PostgreSQL multi-node tests each call `assert_alerts_linked` on the database they look at."""

from __future__ import annotations

from typing import Any

UNLINKED_ALERTS = (
    "SELECT id FROM alerts WHERE incident_id NOT IN (SELECT id FROM incidents) "
    "OR delivery_id NOT IN (SELECT id FROM deliveries) LIMIT 10"
)


def assert_alerts_linked(conn: Any) -> None:
    """Every alert row names a stored incident and a stored delivery (`conn`: sqlite3 or psycopg)."""
    orphans = conn.execute(UNLINKED_ALERTS).fetchall()
    assert orphans == [], f"alerts naming no stored incident or delivery: {orphans}"
