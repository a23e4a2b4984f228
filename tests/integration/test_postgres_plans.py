"""Which of the store's statements PostgreSQL keeps prepared (pager/storage/postgres.py `prepare`), on the real
server: a statement that looks rows up by a list of values, or names its index for SQLite, is planned at
every execution, so that no plan made while a table was small outlives the table's growth."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pager.storage import postgres, sqlite_ingest, sqlite_paging
from pager.storage.codec import dumps

NOW = datetime(2026, 12, 7, 9, tzinfo=timezone.utc)
ROUTED = "UPDATE incidents NOT INDEXED SET routed_generation = ? WHERE id = ? AND state = 'triggered'"
BY_IDS = "SELECT id FROM outbox WHERE id IN (?, ?, ?)"
TICKET = "SELECT subject FROM tickets WHERE number = ?"


@pytest.mark.parametrize(
    ("sql", "prepared"),
    [
        (sqlite_ingest._OPEN, False),  # json_each(?): a list of keys
        (BY_IDS, False),  # IN (?, ...)
        (ROUTED, False),  # NOT INDEXED: by its id, whatever the planner thinks of the table's size
        ("SELECT 1 FROM incidents INDEXED BY incidents_settling WHERE state != 'triggered' LIMIT 1", False),
        (TICKET, None),
        (sqlite_ingest._INSERT_INCIDENT, None),
    ],
)
def test_list_lookups_and_index_hints_are_never_prepared(sql: str, prepared: bool | None) -> None:
    assert postgres.prepare(sql) is prepared


def test_a_list_lookup_is_planned_at_every_execution_on_the_server(dsn: str) -> None:
    postgres.migrate(dsn, NOW)
    conn = postgres.connect(dsn)
    try:
        for _ in range(10):  # psycopg prepares a statement on its sixth execution (prepare_threshold 5)
            conn.execute(TICKET, (1,)).fetchall()
            conn.execute(BY_IDS, (1, 2, 3)).fetchall()
            conn.execute(sqlite_ingest._OPEN, (dumps(["k1", "k2"]), "alertmanager")).fetchall()
            conn.execute(ROUTED, (0, 1))
        held = [r[0] for r in conn.execute("SELECT statement FROM pg_prepared_statements").fetchall()]
    finally:
        conn.close()
    assert any("FROM tickets WHERE number" in s for s in held), held
    assert not any("FROM outbox WHERE id IN" in s for s in held), held
    assert not any("FROM incidents WHERE dedup_key" in s for s in held), held
    assert not any("SET routed_generation" in s for s in held), held


def test_the_settled_check_reads_its_partial_index_on_a_large_table(dsn: str) -> None:
    """The engine asks at every tick whether any routed incident was acknowledged or resolved since
    (`_SETTLED`). With many incidents stored and all of them settled, PostgreSQL must read the partial
    index that holds only the unsettled ones (empty here), not scan the table: its estimate of the
    two-column comparison is nearly every row, and for `LIMIT 1` without the ORDER BY it chose a
    sequential scan that read all 20,000 rows to find none."""
    postgres.migrate(dsn, NOW)
    conn = postgres.connect(dsn)
    try:
        conn.execute("ALTER TABLE incidents DISABLE TRIGGER USER")  # rows written directly, no tickets
        conn.execute(
            "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, "
            "updated_at, resolved_at, routed_generation, settled_generation) "
            "SELECT g, 'alertmanager', 'k' || g, 'resolved', 's', 'critical', '{}', '2026-12-01', '2026-12-01', "
            "'2026-12-02', 0, 0 FROM generate_series(1, 20000) g"
        )
        conn.execute("ANALYZE incidents")
        sql = postgres.translate(sqlite_paging._SETTLED)
        plan = " ".join(r[0] for r in conn.execute("EXPLAIN " + sql).fetchall())
        assert conn.execute(sql).fetchone() is None
    finally:
        conn.close()
    assert "incidents_settling" in plan and "Seq Scan" not in plan, plan
