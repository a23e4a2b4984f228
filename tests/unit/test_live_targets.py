"""A ticket's stored timeline as the request targets' events (pager.service.targets.ticket_events),
one row per case; which instant the engine waits for next; the targets of the single view as JSON
and as the CLI's text line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pager.cli_tickets import _target_line
from pager.domain.calendar import Calendar, CalendarRules, zone_of
from pager.domain.request_targets import EventKind, RequestTargets, TargetKind, TicketEvent, judge_ticket
from pager.service.targets import next_instant, targets_json, ticket_events
from pager.storage.port import TicketEntry

T0 = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # Friday 17:00 in Amsterdam
M = timedelta(minutes=1)
AMS = zone_of("Europe/Amsterdam")
NL = Calendar(CalendarRules())


def E(minute: int, entry: str, public: bool = True, **data) -> TicketEntry:
    return TicketEntry(at=T0 + minute * M, kind=entry, actor="x", public=public, data=data)


def V(minute: int, kind: EventKind, status: str | None = None) -> TicketEvent:
    return TicketEvent(T0 + minute * M, kind, status)


CASES = [
    ("created only", [E(0, "created", via="phone", text="hi")], []),
    (
        "staff reply",
        [E(0, "created", via="phone", text="hi"), E(5, "reply", text="on it", via="api", from_customer=False)],
        [V(5, EventKind.STAFF_REPLY)],
    ),
    (
        "customer reply, no move",
        [E(5, "reply", text="?", via="email", from_customer=True)],
        [V(5, EventKind.CUSTOMER_REPLY)],
    ),
    (
        "customer reply that reopens: two events",
        [
            E(1, "status", **{"from": "open", "to": "waiting_on_customer"}),
            E(9, "reply", text="logs", via="email", from_customer=True),
            E(9, "status", **{"from": "waiting_on_customer", "to": "open"}),
        ],
        [
            V(1, EventKind.STATUS, "waiting_on_customer"),
            V(9, EventKind.CUSTOMER_REPLY),
            V(9, EventKind.STATUS, "open"),
        ],
    ),
    ("internal note", [E(3, "note", public=False, text="varnish")], [V(3, EventKind.NOTE)]),
    ("resolve", [E(7, "status", **{"from": "open", "to": "resolved"})], [V(7, EventKind.STATUS, "resolved")]),
    (
        "what never touches the targets",
        [
            E(2, "priority", public=False, **{"from": "normal", "to": "high"}),
            E(2, "assignee", public=False, **{"from": None, "to": "bram"}),
            E(3, "time", public=False, **{"kind": "billable", "minutes": 30, "note": None}),
            E(4, "paged", public=False, severity="critical"),
            E(5, "target_at_risk", public=False, target="first_response", due="2026-12-07T09:42:00.000000Z"),
            E(6, "opened", public=False, summary="x"),
        ],
        [],
    ),
]


@pytest.mark.parametrize(("timeline", "events"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_ticket_events_from_the_stored_timeline(timeline, events) -> None:
    assert ticket_events(timeline) == events


def test_a_reply_without_from_customer_is_staffs() -> None:
    assert ticket_events([E(1, "reply", text="x")]) == [V(1, EventKind.STAFF_REPLY)]


def test_next_instant_is_the_at_risk_instant_then_the_deadline_then_nothing() -> None:
    targets = RequestTargets()

    def at(minutes: int, timeline=()):
        return judge_ticket(NL, targets, "normal", T0, ticket_events(timeline), T0 + minutes * M)

    fresh = at(0)
    assert next_instant(fresh) == fresh[TargetKind.FIRST_RESPONSE].at_risk_at  # Monday 10:42
    risky = at(2 * 24 * 60 + 17 * 60 + 45)  # Monday 10:45 local
    assert next_instant(risky) == risky[TargetKind.FIRST_RESPONSE].deadline
    waiting = at(10, [E(5, "status", **{"from": "new", "to": "waiting_on_customer"})])
    assert next_instant(waiting) is None  # both clocks stand still until the ticket moves


def test_targets_json_and_the_cli_line() -> None:
    statuses = judge_ticket(NL, RequestTargets(), "normal", T0, [], T0 + 30 * M)
    out = targets_json(statuses)
    assert out is not None and set(out) == {"first_response", "resolution"}
    fr = out["first_response"]
    assert (fr["outcome"], fr["deadline"], fr["used_seconds"], fr["left_seconds"], fr["paused"]) == (
        "running",
        "2026-12-07T10:30:00.000000Z",
        1800,
        4 * 3600 - 1800,
        False,
    )
    line = _target_line("first_response", fr, AMS)
    assert line.startswith("first_response  running   due 2026-12-07 11:30 +01:00")
    assert "used 30m of office time, left 3h30m" in line
    over = _target_line("first_response", fr | {"outcome": "breached", "left_seconds": -90 * 60}, AMS)
    assert "over 1h30m" in over
    paused = _target_line("first_response", fr | {"deadline": None, "paused": True}, AMS)
    assert "due - (paused)" in paused and paused.endswith("(paused)")
    assert targets_json(None) is None


def test_the_due_query_reads_a_range_of_its_partial_index(tmp_path) -> None:
    """The engine's targets stage runs every tick: it must not walk every live ticket."""
    import sqlite3

    from pager.storage.sqlite import migrate
    from pager.storage.sqlite_tickets import DUE_TARGETS, due_target_tickets

    db = str(tmp_path / "pagerd.db")
    migrate(db, T0)
    conn = sqlite3.connect(db)
    assert due_target_tickets(conn, T0, 10) == []
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + DUE_TARGETS, ("2026", 10)))
    assert "tickets_targets_due (targets_next_at<?)" in plan and "TEMP B-TREE" not in plan
