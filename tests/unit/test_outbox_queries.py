"""Statements of the outbox that the engine runs every tick: they must cost what the tick found, not
what waits in the outbox (a storm leaves tens of thousands of throttled pages pending)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from pager.storage.sqlite import migrate
from pager.storage.sqlite_paging import DEFER

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_defer_reads_the_rows_it_is_given_by_their_primary_key(tmp_path) -> None:
    db = str(tmp_path / "pagerd.db")
    migrate(db, T0)
    conn = sqlite3.connect(db)
    sql = DEFER.format(marks="?,?,?")
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ("2026", 1, 2, 3, "2026")))
    assert "INTEGER PRIMARY KEY" in plan and "outbox_due" not in plan, plan


def test_the_due_messages_are_read_in_the_order_of_the_due_index(tmp_path) -> None:
    """The dispatch stage's read stops at the last message due: a range of outbox_due in its order, not the
    outbox in the order of its ids (the pending pages that wait for a later slot are never read)."""
    from pager.storage.sqlite_paging import DUE

    db = str(tmp_path / "pagerd.db")
    migrate(db, T0)
    conn = sqlite3.connect(db)
    plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + DUE, ("2026", 2000))]
    assert any("SEARCH o USING INDEX outbox_due (status=? AND due_at<?)" in p for p in plan), plan
    assert not any(p.startswith("SCAN o") for p in plan), plan
    # one sort only: the at most `limit` rows read, into the order of their ids
    assert [p for p in plan if "TEMP B-TREE" in p] == ["USE TEMP B-TREE FOR ORDER BY"], plan


@pytest.mark.parametrize("check", ["steps", "breaches", "due steps"])
def test_the_per_tick_checks_read_a_range_of_their_index_in_its_order(tmp_path, check: str) -> None:
    from pager.storage.sqlite_paging import _BREACH_DUE, _ESC_JOIN, _STEP_DUE, _STEP_DUE_ANY

    db = str(tmp_path / "pagerd.db")
    migrate(db, T0)
    conn = sqlite3.connect(db)
    sql, params, index = {
        "steps": (_STEP_DUE_ANY, ("active", "2026"), "escalations_due"),
        "breaches": (_BREACH_DUE, ("2026",), "escalations_deadline"),
        "due steps": (
            f"SELECT e.incident_id, i.state {_ESC_JOIN} WHERE {_STEP_DUE} ORDER BY e.next_at LIMIT ?",
            ("active", "2026", 500),
            "escalations_due",
        ),
    }[check]
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert f"INDEX {index} (status=? AND next_at<?)" in plan or f"COVERING INDEX {index}" in plan, plan
    assert "TEMP B-TREE" not in plan and "SCAN" not in plan, plan


def test_the_route_stage_reads_a_range_of_the_unrouted_index(tmp_path) -> None:
    from pager.storage.sqlite_paging import UNROUTED

    db = str(tmp_path / "pagerd.db")
    migrate(db, T0)
    conn = sqlite3.connect(db)
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + UNROUTED, (500,)))
    assert "incidents_unrouted" in plan and "TEMP B-TREE" not in plan and "escalations" not in plan, plan


def test_migration_33_keeps_the_routed_round_of_every_incident(tmp_path) -> None:
    """Routed in its round: not unrouted; reopened since its escalation, or never routed: unrouted."""
    from pager.storage.sqlite_paging import _SETTLING, UNROUTED
    from tests.unit.test_store_batching import _store_at_version

    path = str(tmp_path / "v32.db")
    conn = _store_at_version(path, 32)
    for iid, state, reopens in ((1, "triggered", 0), (2, "triggered", 1), (3, "triggered", 0), (4, "resolved", 0)):
        conn.execute(
            "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, updated_at, "
            "reopen_count) VALUES (?, 'nagios', ?, ?, 's', 'critical', '{}', 'a', 'a', ?)",
            (iid, f"web{iid}/HTTP", state, reopens),
        )
    for iid, generation in ((1, 0), (2, 0), (4, 0)):
        conn.execute(
            "INSERT INTO escalations (incident_id, generation, project, policy, status, target_seconds, reason, "
            "created_at) VALUES (?, ?, 'acme/webshop', '{}', 'stopped', 1800, 'r', 'a')",
            (iid, generation),
        )
    conn.execute(  # resolved, its escalation still live: the stop stage's work
        "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, updated_at) "
        "VALUES (5, 'nagios', 'web5/HTTP', 'resolved', 's', 'critical', '{}', 'a', 'a')"
    )
    conn.execute(
        "INSERT INTO escalations (incident_id, generation, project, policy, status, target_seconds, reason, "
        "created_at) VALUES (5, 0, 'acme/webshop', '{}', 'active', 1800, 'r', 'a')"
    )
    conn.close()
    assert migrate(path, T0)[:1] == [33]  # and any later ones
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT id, routed_generation, settled_generation FROM incidents ORDER BY id").fetchall() == [
        (1, 0, None),
        (2, 0, None),
        (3, None, None),
        (4, 0, 0),
        (5, 0, None),
    ]
    assert [r[0] for r in conn.execute(UNROUTED, (10,))] == [2, 3]
    assert [r[0] for r in conn.execute(f"SELECT id {_SETTLING}")] == [5]


def test_the_stop_stage_reads_a_range_of_the_settling_index(tmp_path) -> None:
    from pager.storage.sqlite_paging import _SETTLED, _SETTLING

    db = str(tmp_path / "pagerd.db")
    migrate(db, T0)
    conn = sqlite3.connect(db)
    for sql in (_SETTLED, f"SELECT id {_SETTLING}"):
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "incidents_settling" in plan and "escalations" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # _SETTLED's ORDER BY id is the index's own order


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id FROM outbox WHERE bundle_id = ?",  # finish_message: the carrier's members
        "UPDATE outbox SET sent_at = ? WHERE bundle_id = ?",
        "UPDATE outbox SET status = 'failed', error = ? WHERE id = ? OR bundle_id = ?",
        "SELECT id, incident_id, person, channel, address FROM outbox WHERE id = ? OR bundle_id = ?",  # callbacks
    ],
)
def test_a_carriers_bundle_is_read_by_its_index(tmp_path, sql: str) -> None:
    """Every send and every delivery callback reads the messages bundled into its carrier."""
    db = str(tmp_path / "pagerd.db")
    migrate(db, T0)
    conn = sqlite3.connect(db)
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, (1,) * sql.count("?")))
    assert "outbox_bundle" in plan and "SCAN outbox" not in plan, plan
