"""What the SQLite store keeps for the response record (migration 0008): each round's first answer,
written in the acknowledgement's or resolve's own transaction, and backfilled from the timeline for
rounds that were answered before the migration."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from pager.domain.incident import State
from pager.storage.sqlite import _transition, migrate
from tests.unit.test_store_batching import _store_at_version

MIGRATED_AT = datetime(2026, 12, 9, 18, 0, tzinfo=timezone.utc)  # when the migrations say they ran

ANSWER = (
    "SELECT incident_id, generation, answered_at, answered_by, answered_via, answered_kind, response_observed "
    "FROM escalations ORDER BY incident_id, generation"
)


def _incident(conn: sqlite3.Connection, iid: int, state: str, reopen_count: int = 0) -> None:
    conn.execute(
        "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, reopen_count, "
        "created_at, updated_at) VALUES (?, 'alertmanager', ?, ?, 's', 'critical', '{}', ?, "
        "'2026-12-09T19:00:00.000000Z', 'x')",
        (iid, f"k{iid}", state, reopen_count),
    )


def _escalation(conn: sqlite3.Connection, iid: int, generation: int, created: str, first_page: str | None) -> None:
    conn.execute(
        "INSERT INTO escalations (incident_id, generation, project, policy, status, step, first_page_at, "
        "deadline_at, target_seconds, reason, created_at) VALUES (?, ?, 'acme/webshop', '{}', 'stopped', 0, "
        "?, NULL, 1800, 'r', ?)",
        (iid, generation, first_page, created),
    )


def _event(conn: sqlite3.Connection, iid: int, at: str, kind: str, actor: str | None, via: str | None) -> None:
    data = "{}" if via is None else f'{{"via": "{via}"}}'
    conn.execute(
        "INSERT INTO events (incident_id, at, kind, actor, data) VALUES (?, ?, ?, ?, ?)", (iid, at, kind, actor, data)
    )


def test_migration_8_keeps_each_rounds_first_answer_from_the_timeline(tmp_path):
    path = str(tmp_path / "v7.db")
    conn = _store_at_version(path, 7)
    # 1: the reopen story. Paged 20:00, acknowledged 20:05 by SMS, resolved 20:10; reopened 20:45,
    #    acknowledged 21:40 through the API, resolved by Alertmanager 22:00.
    _incident(conn, 1, "resolved", reopen_count=1)
    _escalation(conn, 1, 0, "2026-12-09T19:00:00.000000Z", "2026-12-09T19:00:00.000000Z")
    _escalation(conn, 1, 1, "2026-12-09T19:45:00.000000Z", "2026-12-09T19:45:00.000000Z")
    _event(conn, 1, "2026-12-09T19:05:00.000000Z", "acknowledged", "dewi", "sms")
    _event(conn, 1, "2026-12-09T19:10:00.000000Z", "resolved", "dewi", "sms")
    _event(conn, 1, "2026-12-09T19:45:00.000000Z", "reopened", None, None)
    _event(conn, 1, "2026-12-09T20:40:00.000000Z", "acknowledged", "anna", "api")
    _event(conn, 1, "2026-12-09T21:00:00.000000Z", "resolved", "alertmanager", "alertmanager")
    # 2: cleared by itself, never acknowledged.  3: still paging, unanswered.
    _incident(conn, 2, "resolved")
    _escalation(conn, 2, 0, "2026-12-09T19:00:00.000000Z", "2026-12-09T19:00:00.000000Z")
    _event(conn, 2, "2026-12-09T19:04:00.000000Z", "resolved", "alertmanager", "alertmanager")
    _incident(conn, 3, "triggered")
    _escalation(conn, 3, 0, "2026-12-09T19:00:00.000000Z", "2026-12-09T19:00:00.000000Z")
    conn.close()

    assert 8 in migrate(path, MIGRATED_AT)
    conn = sqlite3.connect(path)
    assert conn.execute(ANSWER).fetchall() == [
        (1, 0, "2026-12-09T19:05:00.000000Z", "dewi", "sms", "acknowledged", 1),
        (1, 1, "2026-12-09T20:40:00.000000Z", "anna", "api", "acknowledged", 1),
        (2, 0, "2026-12-09T19:04:00.000000Z", "alertmanager", "alertmanager", "resolved", 1),
        (3, 0, None, None, None, None, 0),
    ]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert migrate(path, MIGRATED_AT) == []


def test_an_acknowledgement_or_resolve_keeps_the_current_rounds_first_answer(tmp_path):
    path = str(tmp_path / "pagerd.db")
    migrate(path, MIGRATED_AT)
    conn = sqlite3.connect(path, isolation_level=None)
    _incident(conn, 1, "triggered", reopen_count=1)
    _escalation(conn, 1, 0, "2026-12-09T19:00:00.000000Z", "2026-12-09T19:00:00.000000Z")
    conn.execute(
        "UPDATE escalations SET answered_at = '2026-12-09T19:05:00.000000Z', answered_by = 'dewi', "
        "answered_via = 'sms', answered_kind = 'acknowledged', response_observed = 1"
    )
    _escalation(conn, 1, 1, "2026-12-09T19:45:00.000000Z", "2026-12-09T19:45:00.000000Z")
    _incident(conn, 2, "triggered")
    _escalation(conn, 2, 0, "2026-12-09T19:00:00.000000Z", None)  # routed, not paged yet

    at = datetime(2026, 12, 9, 20, 40, tzinfo=timezone.utc)
    _transition(conn, 1, State.ACKNOWLEDGED, "anna", "api", None, at)
    _transition(conn, 1, State.RESOLVED, "anna", "cli", None, at.replace(minute=50))  # not the first answer
    _transition(conn, 2, State.RESOLVED, "bram", "link", None, at)
    assert conn.execute(ANSWER).fetchall() == [
        (1, 0, "2026-12-09T19:05:00.000000Z", "dewi", "sms", "acknowledged", 1),  # round one keeps its own
        (1, 1, "2026-12-09T20:40:00.000000Z", "anna", "api", "acknowledged", 0),  # for the metric to observe
        (2, 0, "2026-12-09T20:40:00.000000Z", "bram", "link", "resolved", 1),  # never paged: nothing to observe
    ]
    assert conn.execute("SELECT status FROM escalations WHERE incident_id = 1 AND generation = 1").fetchone() == (
        "stopped",
    )
