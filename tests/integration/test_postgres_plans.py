"""Which of the store's statements PostgreSQL keeps prepared (pager/storage/postgres.py `prepare`), on the real
server: a statement that looks rows up by a list of values, or names its index for SQLite, is planned at
every execution, so that no plan made while a table was small outlives the table's growth."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from pager.storage import postgres, sqlite_ingest, sqlite_paging, sqlite_tickets
from pager.storage.codec import dumps

NOW = datetime(2026, 12, 7, 9, tzinfo=timezone.utc)
ROUTED = "UPDATE incidents NOT INDEXED SET routed_generation = ? WHERE id = ? AND state = 'triggered'"
BY_IDS = "SELECT id FROM outbox WHERE id IN (?, ?, ?)"
TICKET = "SELECT subject FROM tickets WHERE number = ?"


def _with_incidents(dsn: str, state: str) -> postgres.PgConnection:
    """A connection to a new database holding 20,000 incidents in `state` (written directly, without their
    tickets), each routed in its round 0 and, unless triggered, resolved and settled."""
    postgres.migrate(dsn, NOW)
    conn = postgres.connect(dsn)
    conn.execute("ALTER TABLE incidents DISABLE TRIGGER USER")
    done = state != "triggered"
    conn.execute(
        "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, updated_at, "
        "resolved_at, routed_generation, settled_generation) SELECT g, 'alertmanager', 'k' || g, ?, 's', "
        "'critical', '{}', '2026-12-07T08:58:00Z', '2026-12-07T08:58:00Z', ?, 0, ? FROM generate_series(1, 20000) g",
        (state, "2026-12-07T08:59:00Z" if done else None, 0 if done else None),
    )
    return conn


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
    conn = _with_incidents(dsn, "resolved")
    try:
        conn.execute("ANALYZE incidents")
        sql = postgres.translate(sqlite_paging._SETTLED)
        plan = " ".join(r[0] for r in conn.execute("EXPLAIN " + sql).fetchall())
        assert conn.execute(sql).fetchone() is None
    finally:
        conn.close()
    assert "incidents_settling" in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize("check", ["steps", "breaches", "due messages", "due steps"])
def test_the_per_tick_reads_stay_in_their_index_under_a_generic_plan(dsn: str, check: str) -> None:
    """What the engine reads at every tick, with a storm left open: 20,000 live escalations whose next step
    and deadline are later, 60,000 pages waiting for a later throttle slot. psycopg prepares a statement on
    its sixth execution and PostgreSQL then may run it on a plan made for any parameter value (its generic
    plan), which guesses that a third of the rows match `next_at <= $1`; with LIMIT and no order it scanned
    every live escalation or walked the whole outbox by its primary key, to find none: 2–8 ms a read here,
    11–38 ms with 50,000 open incidents. Each read must stay in a range of its index whatever the plan."""
    conn = _with_incidents(dsn, "triggered")
    try:
        conn.execute(
            "INSERT INTO escalations (incident_id, generation, project, policy, status, step, next_at, "
            "deadline_at, target_seconds, reason, created_at) SELECT g, 0, 'acme/webshop', '{}', 'active', 0, "
            "'2026-12-07T09:02:00Z', '2026-12-07T09:29:00Z', 1800, 'r', '2026-12-07T08:59:00Z' "
            "FROM generate_series(1, 20000) g"
        )
        conn.execute(
            "INSERT INTO outbox (idem_key, incident_id, channel, address, kind, due_at, status, created_at) "
            "SELECT 'p' || g, g % 20000 + 1, 'sms', '+31612345003', 'page', '2026-12-07T09:15:00Z', 'pending', "
            "'2026-12-07T08:59:00Z' FROM generate_series(1, 60000) g"
        )
        due = 100 if check == "due steps" else 0  # their step is due now: read with their incidents
        conn.execute("UPDATE escalations SET next_at = '2026-12-07T08:59:30Z' WHERE incident_id <= ?", (due,))
        conn.execute("ANALYZE")
        at = "'2026-12-07T09:00:00+00:00'"
        cols = ", ".join("e." + k.strip() for k in sqlite_paging._ESC_COLS.split(","))
        steps = f"SELECT {cols}, i.state {sqlite_paging._ESC_JOIN} WHERE {sqlite_paging._STEP_DUE} ORDER BY e.next_at LIMIT ?"
        sql, types, args = {
            "steps": (sqlite_paging._STEP_DUE_ANY, "text, text", f"'active', {at}"),
            "breaches": (sqlite_paging._BREACH_DUE, "text", at),
            "due messages": (sqlite_paging.DUE, "text, bigint", f"{at}, 2000"),
            "due steps": (steps, "text, text, bigint", f"'active', {at}, 500"),
        }[check]
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE tick_read ({types}) AS {postgres.translate(sql)}")
        plan = [r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE tick_read ({args})").fetchall()]
        assert len(conn.execute(f"EXECUTE tick_read ({args})").fetchall()) == due
    finally:
        conn.close()
    text = "\n".join(plan)
    assert "Seq Scan" not in text and "Gather" not in text and "Hash" not in text, text
    execution = text.split("Planning:")[0]  # the blocks the plan read, not those its planning looked up
    blocks = [int(m) for m in re.findall(r"Buffers: shared hit=(\d+)", execution)]
    # a full walk of either table reads hundreds to thousands of blocks; a due step its incident's few
    assert blocks and max(blocks) < 50 + 4 * due, text


def test_the_ticket_indexer_reads_from_its_last_number_under_a_generic_plan(dsn: str) -> None:
    """The indexer's one read (sqlite_tickets._TO_INDEX: the tickets numbered since its last call, with their
    search documents) on 20,000 tickets, 19,900 of them indexed: under the generic plan it must read the
    documents from its last number on, not merge-join all of them (7 ms and about 500 blocks at 49,000)."""
    postgres.migrate(dsn, NOW)
    conn = postgres.connect(dsn)
    try:
        conn.execute(
            "INSERT INTO tickets (number, kind, via, subject, created_at, updated_at) SELECT g, 'incident', 'alert', "
            "'disk full on db' || g, '2026-12-07T08:58:00Z', '2026-12-07T08:58:00Z' FROM generate_series(1, 20000) g"
        )
        conn.execute("INSERT INTO ticket_text (rowid, text) SELECT g, 'disk full' FROM generate_series(1, 19900) g")
        conn.execute("UPDATE ticket_text_indexed SET last = 19900")
        conn.execute("ANALYZE")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE to_index (bigint) AS {postgres.translate(sqlite_tickets._TO_INDEX)}")
        plan = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) EXECUTE to_index (5000)").fetchall()]
        rows = conn.execute("EXECUTE to_index (5000)").fetchall()
    finally:
        conn.close()
    assert [r[0] for r in rows] == list(range(19901, 20001)) and {r[2] for r in rows} == {None}
    text = "\n".join(plan)
    assert not re.search(r"Seq Scan on (tickets|ticket_text) ", text), text
    execution = text.split("Planning:")[0]
    assert max(int(m) for m in re.findall(r"Buffers: shared hit=(\d+)", execution)) < 50, text
