"""The engine's route write and the throttle's deferral run beside the other writes on PostgreSQL
(postgres.PAGING_LANE, under PAGING_LOCK instead of WRITE_LOCK), on the real server. What makes that safe is
that each decides only through a statement that locks the rows it changes (the route write: each incident's
row, first) and skips those another write holds, and that every write that answers or resolves an incident
updates that row before it cancels the incident's pages. Each test holds one transaction open on its own
connection and runs the other beside it:
- an answer (API acknowledgement, or a resolved notification through the ingest) that comes while a route
  write is open waits for it (seen in pg_stat_activity, in a thread, not guessed from a sleep), then stops its
  escalation and cancels every page it queued;
- a route write that comes while an answer or a new alert of the incident is open does not wait: it leaves
  the incident to the next route write, which routes it only if it is still triggered;
- an answer during a deferral cancels the deferred pages; a deferral during an answer moves nothing.
Also: the paging lane's writes do not wait for a transaction that holds WRITE_LOCK (the two lanes are
concurrent), and the store sends them on that lane."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from pager.clock import ManualClock
from pager.domain.alert import Action
from pager.domain.incident import State
from pager.storage import postgres
from pager.storage.codec import iso
from pager.storage.port import IngestPolicy
from pager.storage.sqlite import _transition
from pager.storage.sqlite_ingest import ingest
from pager.storage.sqlite_paging import _create_escalations, defer
from tests.contract.seed import T0, delivery, open_incident

POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))
WAIT = 10.0  # seconds: the most a step here waits for the other connection


def _escalation(iid: int) -> dict[str, Any]:
    """A route of the incident's first round with two pages: an SMS now, a call in two minutes."""
    page = {"person": "anna", "address": "+31600000001", "kind": "page", "subject": "", "body": "down"}
    return {
        "incident_id": iid,
        "generation": 0,
        "project": "acme/webshop",
        "rotation": "standby",
        "policy": {"name": "default", "steps": []},
        "status": "active",
        "next_at": T0,
        "target_seconds": 1800,
        "reason": "test",
        "messages": [
            {**page, "idem_key": f"{iid}/0/sms", "channel": "sms", "due_at": T0},
            {**page, "idem_key": f"{iid}/0/voice", "channel": "voice", "due_at": T0 + timedelta(minutes=2)},
        ],
    }


def _acknowledge(conn: postgres.PgConnection, iid: int) -> None:
    _transition(conn, iid, State.ACKNOWLEDGED, "anna", "api", None, T0 + timedelta(seconds=30))


def _resolve_by_notification(conn: postgres.PgConnection, iid: int) -> None:
    ingest(conn, delivery("db-down", Action.RESOLVE, T0 + timedelta(seconds=30)), POLICY)


# each answer and the state it leaves the incident in
ANSWERS: dict[str, tuple[Callable[[postgres.PgConnection, int], None], str]] = {
    "acknowledged through the API": (_acknowledge, "acknowledged"),
    "resolved by a notification": (_resolve_by_notification, "resolved"),
}


@pytest.fixture
def incident(dsn: str) -> int:
    """A triggered, unrouted incident of key db-down, made through the store."""

    async def made() -> int:
        store = postgres.PostgresStore(dsn, POLICY, clock=ManualClock(T0))
        await store.open()
        try:
            return await open_incident(store, "db-down")
        finally:
            await store.close()

    return asyncio.run(made())


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list]:
    out: list = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # the test's assertions report it
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def _transaction(conn: postgres.PgConnection, fn: Callable[[], Any]) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    result = fn()
    conn.execute("COMMIT")
    return result


def _route(conn: postgres.PgConnection, iid: int) -> list[bool]:
    """The incident's first round routed (_escalation) in a transaction of its own."""
    return _transaction(conn, lambda: _create_escalations(conn, [_escalation(iid)], T0))


def _append(conn: postgres.PgConnection, iid: int) -> None:
    ingest(conn, delivery("db-down", Action.TRIGGER, T0 + timedelta(seconds=30), fingerprint="fp-2"), POLICY)


def _backend(conn: postgres.PgConnection) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def _waits(observer: postgres.PgConnection, pid: int | None, event: str = "transactionid") -> None:
    """Until the backend `pid` (None: any backend of this database) waits for a lock of the kind `event`
    (transactionid: another transaction's row; advisory: an advisory lock), for at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        waiting = observer.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND wait_event = ?",
            (event,),
        ).fetchall()
        if any(pid is None or r[0] == pid for r in waiting):
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock ({event})")


def _outcome(conn: postgres.PgConnection, iid: int) -> tuple[str, list, list]:
    state = conn.execute("SELECT state FROM incidents WHERE id = ?", (iid,)).fetchone()[0]
    escalations = conn.execute("SELECT status FROM escalations WHERE incident_id = ?", (iid,)).fetchall()
    pages = conn.execute("SELECT channel, status FROM outbox WHERE incident_id = ? ORDER BY channel", (iid,))
    return state, [r[0] for r in escalations], [tuple(r) for r in pages.fetchall()]


@pytest.fixture
def conns(dsn: str):
    paging = postgres.connect(dsn, postgres.PAGING_LOCK)
    paging.execute("SET lock_timeout = '10s'")  # a write of the lane that waits for a row fails, never hangs the test
    writer = postgres.connect(dsn)
    observer = postgres.connect(dsn)
    yield paging, writer, observer
    for c in (paging, writer, observer):
        c.close()


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_an_answer_during_a_route_write_waits_for_it_and_cancels_its_pages(incident, conns, answer) -> None:
    paging, writer, observer = conns
    paging.execute("BEGIN IMMEDIATE")
    assert _create_escalations(paging, [_escalation(incident)], T0) == [True]
    pid = _backend(writer)
    answered, state = ANSWERS[answer]
    thread, out = _in_thread(lambda: _transaction(writer, lambda: answered(writer, incident)))
    _waits(observer, pid)
    paging.execute("COMMIT")
    thread.join(WAIT)
    assert not thread.is_alive() and out == [None], out
    assert _outcome(observer, incident) == (state, ["stopped"], [("sms", "cancelled"), ("voice", "cancelled")])


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_a_route_write_during_an_answer_leaves_the_incident_and_routes_nothing_after(incident, conns, answer) -> None:
    paging, writer, observer = conns
    answered, state = ANSWERS[answer]
    writer.execute("BEGIN IMMEDIATE")
    answered(writer, incident)
    assert _route(paging, incident) == [False]  # without waiting for the answer's transaction
    writer.execute("COMMIT")
    assert _route(paging, incident) == [False]
    assert _outcome(observer, incident) == (state, [], [])


def test_a_route_write_during_a_new_alert_of_the_incident_routes_it_at_the_next_write(incident, conns) -> None:
    paging, writer, observer = conns
    writer.execute("BEGIN IMMEDIATE")
    _append(writer, incident)
    assert _route(paging, incident) == [False]
    writer.execute("COMMIT")
    assert _route(paging, incident) == [True]
    assert _outcome(observer, incident) == ("triggered", ["active"], [("sms", "pending"), ("voice", "pending")])


def _routed(conn: postgres.PgConnection, iid: int) -> list[int]:
    """The incident routed (committed), its pages' ids."""
    assert _route(conn, iid) == [True]
    return [r[0] for r in conn.execute("SELECT id FROM outbox WHERE incident_id = ? ORDER BY id", (iid,))]


LATER = T0 + timedelta(minutes=5)


def test_an_answer_during_a_deferral_cancels_the_deferred_pages(incident, conns) -> None:
    paging, writer, observer = conns
    pages = _routed(paging, incident)
    paging.execute("BEGIN IMMEDIATE")
    assert defer(paging, pages, LATER) == 2
    pid = _backend(writer)
    thread, out = _in_thread(lambda: _transaction(writer, lambda: _acknowledge(writer, incident)))
    _waits(observer, pid)
    paging.execute("COMMIT")
    thread.join(WAIT)
    assert not thread.is_alive() and out == [None], out
    assert _outcome(observer, incident) == ("acknowledged", ["stopped"], [("sms", "cancelled"), ("voice", "cancelled")])


def test_a_deferral_during_an_answer_moves_nothing(incident, conns) -> None:
    paging, writer, observer = conns
    pages = _routed(paging, incident)
    writer.execute("BEGIN IMMEDIATE")
    _acknowledge(writer, incident)
    assert _transaction(paging, lambda: defer(paging, pages, LATER)) == 0  # without waiting: they are being cancelled
    writer.execute("COMMIT")
    assert _transaction(paging, lambda: defer(paging, pages, LATER)) == 0
    due = observer.execute("SELECT due_at FROM outbox WHERE incident_id = ? ORDER BY id", (incident,)).fetchall()
    assert [r[0] for r in due] == [iso(T0), iso(T0 + timedelta(minutes=2))]
    assert _outcome(observer, incident) == ("acknowledged", ["stopped"], [("sms", "cancelled"), ("voice", "cancelled")])


def test_the_route_write_does_not_wait_for_the_write_lock(incident, conns) -> None:
    paging, writer, observer = conns
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("SELECT 1")  # BEGIN and WRITE_LOCK are sent with it
    assert _route(paging, incident) == [True]
    writer.execute("COMMIT")
    assert _outcome(observer, incident) == ("triggered", ["active"], [("sms", "pending"), ("voice", "pending")])


def test_the_store_sends_the_route_write_and_the_deferral_on_the_paging_lane(dsn, incident, conns) -> None:
    """With another transaction holding WRITE_LOCK, the store's route write and deferral commit, and its
    ingest waits for the lock."""
    _, held, observer = conns
    held.execute("BEGIN IMMEDIATE")
    held.execute("SELECT 1")

    async def run() -> tuple[list[bool], int]:
        store = postgres.PostgresStore(dsn, POLICY, clock=ManualClock(T0))
        await store.open()
        try:
            routed = await asyncio.wait_for(store.create_escalations([_escalation(incident)], T0), WAIT)
            pages = [m.id for m in await store.due_messages(T0 + timedelta(minutes=3))]
            deferred = await asyncio.wait_for(store.defer(pages, LATER), WAIT)
            stored = asyncio.ensure_future(store.ingest(delivery("other", Action.TRIGGER, T0)))
            await asyncio.get_running_loop().run_in_executor(None, _waits, observer, None, "advisory")
            assert not stored.done()
            held.execute("COMMIT")
            await asyncio.wait_for(stored, WAIT)
            return routed, deferred
        finally:
            await store.close()

    assert asyncio.run(run()) == ([True], 2)
