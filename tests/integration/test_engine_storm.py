"""A storm (issue 17): thousands of new incidents at once. The engine takes a bounded batch of each kind of
due work per tick and pokes itself while more remain; within a batch it yields to the event loop every
`SLICE` items, so a webhook is answered while a backlog is worked; every incident is paged exactly once,
bundled per phone under the throttles. A real SQLite store, the example config, the dry-run notifier and
a manual clock; ticks are counted and ordering observed, no speed is asserted."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from pager import config as config_mod
from pager.app import make_notifier, policy
from pager.clock import ManualClock
from pager.domain.alert import Action, Alert, Source
from pager.observe.metrics import Metrics
from pager.service import paging
from pager.service.paging import PagingEngine
from pager.service.schedule import Schedule
from pager.storage.codec import iso
from pager.storage.port import Delivery, Unavailable
from pager.storage.sqlite import SqliteStore
from pager.web.app import build_app
from pager.web.keys import Runtime
from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV
from tests.integration.test_engine_pacing_node import webhook

T0 = datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc)  # a Wednesday afternoon
MAX_TICKS = 50  # bound of every tick loop here; a storm of 2,000 needs a handful


class Decisions:
    """Counts the incidents the route stage has decided, as it decides them: every incident of a storm
    here pages at once, so each gets its first step (PagingEngine._first_step) in the stage's loop."""

    def __init__(self, monkeypatch, engine: PagingEngine) -> None:
        self.asked = 0
        real = engine._first_step

        def counted(*args, **kw):
            self.asked += 1
            return real(*args, **kw)

        monkeypatch.setattr(engine, "_first_step", counted)


def storm(n: int, at: datetime) -> list[Delivery]:
    """`n` notifications, each a new incident of its own (customer agency: coverage always)."""
    out = []
    for i in range(n):
        alert = Alert(
            source=Source.ALERTMANAGER,
            dedup_key=f"host-{i}",
            fingerprint=f"fp-{i}",
            action=Action.TRIGGER,
            event_id=f"storm-{i}",
            summary=f"host-{i} is down",
            labels={"alertname": "HostDown", "customer": "agency", "host": f"host-{i}"},
            severity="critical",
            starts_at=at,
        )
        out.append(Delivery(Source.ALERTMANAGER, "application/json", b"{}", (alert,), at))
    return out


async def node(tmp_path: Path, backlog: int, store_class: type[SqliteStore] = SqliteStore):
    cfg = config_mod.load(str(EXAMPLE_CONFIG), env=EXAMPLE_ENV)
    schedule = Schedule(cfg)
    clock = ManualClock(T0)
    store = store_class(str(tmp_path / "pagerd.db"), policy(cfg), clock=clock, synchronous="NORMAL")
    await store.open()
    await asyncio.gather(*(store.ingest(d) for d in storm(backlog, T0)))
    metrics = Metrics()
    engine = PagingEngine(store, clock, metrics, make_notifier(cfg, clock), lambda: (cfg, schedule), idle=3600)
    return cfg, schedule, clock, metrics, store, engine


def rows(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(sql, args).fetchall()


def routed(db: Path) -> int:
    return rows(db, "SELECT count(*) FROM escalations")[0][0]


async def ticks_until_quiet(engine: PagingEngine, db: Path) -> list[int]:
    """Tick while the engine pokes itself (more work remains); the incidents each tick routed."""
    per_tick = []
    for _ in range(MAX_TICKS):
        engine.wake.clear()
        before = routed(db)
        assert await engine.tick()
        per_tick.append(routed(db) - before)
        if not engine.wake.is_set():
            return per_tick
    raise AssertionError(f"still poking after {MAX_TICKS} ticks")


async def test_a_storm_of_2000_new_incidents_is_routed_in_bounded_ticks_and_each_is_paged_once_in_bundles(tmp_path):
    cfg, _schedule, _clock, _metrics, store, engine = await node(tmp_path, 2000)
    db = tmp_path / "pagerd.db"
    try:
        per_tick = await ticks_until_quiet(engine, db)
    finally:
        await store.close()
    assert max(per_tick) <= paging.ROUTE_BATCH
    assert sum(per_tick) == 2000
    assert len([n for n in per_tick if n]) >= 2000 // paging.ROUTE_BATCH  # several ticks, each a batch
    # every incident: one SMS page and one e-mail page, delivered (the voice call comes at 2 minutes)
    pages = rows(db, "SELECT incident_id, channel, status, coalesce(bundle_id, id) FROM outbox WHERE kind = 'page'")
    for channel in ("sms", "email"):
        mine = [p for p in pages if p[1] == channel]
        assert sorted(p[0] for p in mine) == list(range(1, 2001))  # each incident once: none lost, none doubled
        assert {p[2] for p in mine} == {"simulated", "bundled"}  # the carrier went out, the others in it
        carriers = {p[3] for p in mine}  # the message that carried each page (itself, or its bundle's carrier)
        assert 1 < len(carriers) <= cfg.paging.throttles["sms"].max
        assert {s for (s,) in rows(db, f"SELECT status FROM outbox WHERE id IN ({','.join(map(str, carriers))})")} == {
            "simulated"
        }
    assert {p[2] for p in pages if p[1] == "voice"} == {"pending"}


class FailingStore(SqliteStore):
    """The real store, but writing incident `bad`'s escalation raises `error`; counts the calls."""

    bad = 3
    error: Exception = ValueError("this escalation cannot be written")
    calls = 0

    async def create_escalations(self, escalations, now):
        self.calls += 1
        if any(e["incident_id"] == self.bad for e in escalations):
            raise self.error
        return await super().create_escalations(escalations, now)


async def test_an_escalation_that_cannot_be_written_fails_alone_and_the_others_are_routed(tmp_path):
    _cfg, _schedule, _clock, metrics, store, engine = await node(tmp_path, 10, FailingStore)
    db = tmp_path / "pagerd.db"
    try:
        assert await engine.tick() is False  # the route stage failed: not a good tick
        assert store.calls == 1 + 10  # the tick's batch, then each alone
        assert [i for (i,) in rows(db, "SELECT incident_id FROM escalations ORDER BY 1")] == [
            1,
            2,
            4,
            5,
            6,
            7,
            8,
            9,
            10,
        ]
        assert metrics.engine_stage_failures.labels("route")._value.get() == 1
    finally:
        await store.close()


class AwayStore(FailingStore):
    error = Unavailable("database unreachable", retry_after=1)


async def test_escalations_are_not_written_one_by_one_when_the_database_is_away(tmp_path):
    _cfg, _schedule, _clock, _metrics, store, engine = await node(tmp_path, 10, AwayStore)
    try:
        assert await engine.tick() is False
        assert store.calls == 1  # nothing could be written: no retry of each alone
        assert routed(tmp_path / "pagerd.db") == 0
    finally:
        await store.close()


async def test_a_full_outbox_batch_is_sent_by_the_next_tick_without_loss_or_double(tmp_path, monkeypatch):
    monkeypatch.setattr(paging, "SEND_BATCH", 300)  # 200 incidents queue 400 pages due at once (SMS + e-mail)
    _cfg, _schedule, _clock, _metrics, store, engine = await node(tmp_path, 200)
    db = tmp_path / "pagerd.db"
    try:
        assert await engine.tick()
        assert engine.wake.is_set()  # a full batch was sent: it poked itself for the rest
        assert len(rows(db, "SELECT id FROM outbox WHERE status = 'pending' AND due_at <= ?", iso(T0))) > 0
        assert await ticks_until_quiet(engine, db) == [0]
    finally:
        await store.close()
    pages = rows(db, "SELECT incident_id, channel, status FROM outbox WHERE kind = 'page' AND channel != 'voice'")
    assert sorted((p[0], p[1]) for p in pages) == sorted((i, ch) for i in range(1, 201) for ch in ("sms", "email"))
    assert {p[2] for p in pages} == {"simulated", "bundled"}
    bundles = rows(
        db, "SELECT channel, count(*) FROM outbox WHERE status = 'simulated' GROUP BY channel ORDER BY channel"
    )
    assert bundles == [("email", 2), ("sms", 2)]  # two ticks, one bundle per phone each


async def test_the_route_stage_yields_to_the_event_loop_every_slice_of_a_batch(tmp_path, monkeypatch):
    """What else is ready on the loop (a webhook's handler) runs between slices, not after the batch."""
    cfg, schedule, clock, _metrics, store, engine = await node(tmp_path, paging.ROUTE_BATCH)
    decisions = Decisions(monkeypatch, engine)
    seen: list[int] = []
    try:
        route = asyncio.create_task(engine.route(cfg, schedule, clock.now()))
        for _ in range(100_000):  # bounded; each turn of this loop is one turn of the event loop
            if route.done():
                break
            seen.append(decisions.asked)
            await asyncio.sleep(0)
        await route
    finally:
        await store.close()
    assert decisions.asked == paging.ROUTE_BATCH
    assert any(0 < n < paging.ROUTE_BATCH for n in seen)  # it ran while the batch was decided
    assert max(b - a for a, b in zip(seen, seen[1:], strict=False)) <= paging.SLICE


async def test_a_webhook_is_answered_while_the_engine_routes_a_big_backlog(tmp_path, monkeypatch):
    monkeypatch.setattr(paging, "ROUTE_BATCH", 2000)  # the whole backlog in one batch: the longest a tick works
    cfg, schedule, clock, metrics, store, engine = await node(tmp_path, 2000)
    decisions = Decisions(monkeypatch, engine)
    taken_in_at: list[int] = []  # the decisions made when the webhook's handler stored its alert
    real_ingest = store.ingest

    async def ingest(*args, **kw):
        taken_in_at.append(decisions.asked)
        return await real_ingest(*args, **kw)

    monkeypatch.setattr(store, "ingest", ingest)
    runtime = Runtime(
        config=cfg,
        config_path=str(EXAMPLE_CONFIG),
        store=store,
        metrics=metrics,
        clock=clock,
        schedule=schedule,
        ready=True,
        engine=engine,
    )
    http = TestClient(TestServer(build_app(runtime)))
    await http.start_server()
    try:
        tick = asyncio.create_task(engine.tick())
        for _ in range(100_000):  # bounded: until the route stage has begun deciding the backlog
            if decisions.asked > 0 or tick.done():
                break
            await asyncio.sleep(0)
        assert 0 < decisions.asked < 2000
        resp = await http.post(
            "/api/v1/alerts/alertmanager",
            json=webhook("DuringTheStorm"),
            headers={"Authorization": f"Bearer {EXAMPLE_ENV['PAGERD_WEBHOOK_TOKEN']}"},
        )
        assert resp.status == 200, await resp.text()
        # its handler ran and stored the alert while the backlog was still being decided, not after it (the
        # answer itself waits for the store's commit on the writer thread, which runs beside the decisions)
        assert taken_in_at and taken_in_at[0] < 2000
        assert await tick
    finally:
        await http.close()
        await store.close()
