"""Retention: raw bodies and delivery ids past their age are pruned in bounded batches, the rest is kept;
the engine's stage runs at most every PRUNE_EVERY and works a backlog off over several ticks."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from pager.clock import ManualClock
from pager.config.model import Retention
from pager.domain.incident import State
from pager.service import retention
from pager.storage.port import Pruned
from pager.storage.sqlite import SqliteStore
from tests.scenarios.harness import Scenario
from tests.unit.test_store import FIRING, POLICY, T0, delivery

DAY = timedelta(days=1)
TABLES = ("incidents", "alerts", "events", "deliveries")


def body(n: int, status: str = "firing") -> bytes:
    """An Alertmanager notification of its own group (two alerts)."""
    d = json.loads(FIRING)
    d["groupKey"] = f'{{}}:{{n="{n}"}}'
    d["status"] = status
    for a in d["alerts"]:
        a["status"] = status
        a["labels"]["n"] = str(n)
        if status == "resolved":
            a["endsAt"] = "2026-11-25T14:20:00Z"
    return json.dumps(d).encode()


@pytest.fixture
async def store(tmp_path):
    s = SqliteStore(str(tmp_path / "p.db"), POLICY, clock=ManualClock(T0))
    await s.open()
    yield s
    await s.close()


def db(store: SqliteStore) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)


def kept(store: SqliteStore) -> tuple[list[tuple[int, bool]], list[str]]:
    """(delivery id, body kept) per delivery, and the seen_at of each delivery id still kept."""
    with db(store) as c:
        bodies = [(i, n > 0) for i, n in c.execute("SELECT id, length(body) FROM deliveries ORDER BY id")]
        seen = [r[0] for r in c.execute("SELECT seen_at FROM alert_events ORDER BY seen_at")]
    return bodies, seen


def counts(store: SqliteStore) -> dict[str, int]:
    with db(store) as c:
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


async def test_prune_takes_what_is_older_and_keeps_the_rest(store) -> None:
    # deliveries 40, 31, 29 and 1 days before T0; the incidents they opened are kept whatever their age
    for n, age in enumerate((40, 31, 29, 1)):
        await store.ingest(delivery(body(n), T0 - age * DAY))
    await store.transition(1, State.RESOLVED, actor="anna", via="api", comment=None, now=T0 - 39 * DAY)
    before = counts(store)
    pruned = await store.prune(T0 - 30 * DAY, T0 - 30 * DAY, 100)
    assert pruned == Pruned(bodies=2, delivery_ids=4)  # two deliveries of two alerts each
    bodies, seen = kept(store)
    assert bodies == [(1, False), (2, False), (3, True), (4, True)]
    assert len(seen) == 4 and min(seen) > (T0 - 30 * DAY).isoformat()[:19]
    assert counts(store) == before  # incidents, alerts, timeline and delivery rows all stay
    with db(store) as c:
        assert all(len(sha) == 64 for (sha,) in c.execute("SELECT sha256 FROM deliveries"))
    assert (await store.get_incident(1)).state == "resolved"
    assert await store.prune(T0 - 30 * DAY, T0 - 30 * DAY, 100) == Pruned(0, 0)  # nothing left to take


async def test_bodies_and_ids_have_ages_of_their_own(store) -> None:
    for n, age in enumerate((10, 5, 2)):
        await store.ingest(delivery(body(n), T0 - age * DAY))
    assert await store.prune(T0 - 3 * DAY, T0 - 7 * DAY, 100) == Pruned(bodies=2, delivery_ids=2)
    bodies, seen = kept(store)
    assert bodies == [(1, False), (2, False), (3, True)] and len(seen) == 4


async def test_a_batch_takes_at_most_limit_rows_oldest_first(store) -> None:
    for n, age in enumerate((50, 40, 35, 31)):
        await store.ingest(delivery(body(n), T0 - age * DAY))
    assert await store.prune(T0 - 30 * DAY, T0 - 30 * DAY, 3) == Pruned(bodies=3, delivery_ids=3)
    bodies, seen = kept(store)
    assert bodies == [(1, False), (2, False), (3, False), (4, True)]
    assert len(seen) == 5 and seen[0].startswith((T0 - 40 * DAY).date().isoformat())  # one of delivery 2's
    with pytest.raises(ValueError):
        await store.prune(T0, T0, 0)


async def test_ages_run_from_the_first_sight_not_from_a_re_sent_duplicate(store) -> None:
    """A body is pruned by when it was first received, a delivery id by when its notification was
    applied: a byte-identical re-delivery only counts (seen_count) and renews neither."""
    await store.ingest(delivery(body(1), T0 - 31 * DAY))
    r = await store.ingest(delivery(body(1), T0 - 2 * DAY))
    assert r.duplicates == 2
    assert await store.prune(T0 - 30 * DAY, T0 - 30 * DAY, 100) == Pruned(bodies=1, delivery_ids=2)


async def test_a_notification_re_sent_after_its_id_was_pruned_is_applied_again(store) -> None:
    """Why delivery_ids must outlast every source's retry horizon: once its id is pruned, the same
    notification is no longer known. To an open incident it only appends (no new incident, no page)."""
    first = await store.ingest(delivery(body(1), T0 - 31 * DAY))
    assert (await store.ingest(delivery(body(1), T0 - 31 * DAY + timedelta(minutes=5)))).duplicates == 2
    await store.prune(T0 - 30 * DAY, T0 - 30 * DAY, 100)
    again = await store.ingest(delivery(body(1), T0))
    assert again.duplicates == 0 and again.incident_ids == first.incident_ids
    assert counts(store)["incidents"] == 1


def config(raw_bodies: str = "30d", delivery_ids: str = "30d") -> SimpleNamespace:
    return SimpleNamespace(
        storage=SimpleNamespace(retention=Retention(raw_bodies=raw_bodies, delivery_ids=delivery_ids))
    )


class CountingStore:
    """The store port's retention methods over a list of rows (received/seen instants)."""

    def __init__(self, bodies: list[datetime], ids: list[datetime]) -> None:
        self.bodies, self.ids = sorted(bodies), sorted(ids)
        self.finished: datetime | None = None
        self.batches: list[tuple[datetime, datetime, int]] = []

    async def prune(self, before_raw: datetime, before_ids: datetime, limit: int) -> Pruned:
        self.batches.append((before_raw, before_ids, limit))
        b = [t for t in self.bodies if t < before_raw][:limit]
        i = [t for t in self.ids if t < before_ids][:limit]
        self.bodies, self.ids = self.bodies[len(b) :], self.ids[len(i) :]
        return Pruned(len(b), len(i))

    async def pruned_at(self) -> datetime | None:
        return self.finished

    async def mark_pruned(self, at: datetime) -> None:
        self.finished = at


# (seconds after the first run, runs again)
INTERVAL = [(0, False), (1, False), (299, False), (300, True), (3600, True)]


@pytest.mark.parametrize("after,runs", INTERVAL)
async def test_the_stage_runs_at_most_every_five_minutes(after, runs) -> None:
    s = CountingStore([T0 - 40 * DAY], [T0 - 40 * DAY])
    assert await retention.prune_retention(s, config(), T0) == Pruned(1, 1)
    assert s.finished == T0 and len(s.batches) == 1
    result = await retention.prune_retention(s, config(), T0 + timedelta(seconds=after))
    assert (result is not None) is runs
    assert len(s.batches) == 1 + runs


async def test_the_stage_prunes_by_each_configured_age() -> None:
    s = CountingStore([T0 - 8 * DAY, T0 - 6 * DAY], [T0 - 8 * DAY, T0 - 6 * DAY])
    assert await retention.prune_retention(s, config("7d", "5d"), T0) == Pruned(1, 2)
    assert s.batches == [(T0 - 7 * DAY, T0 - 5 * DAY, retention.BATCH)]


async def test_a_backlog_is_worked_off_over_ticks_in_bounded_batches(monkeypatch) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(retention, "MAX_BATCHES", 3)
    old = [T0 - 40 * DAY + timedelta(minutes=m) for m in range(10)]
    s = CountingStore(list(old), old[:3])
    assert await retention.prune_retention(s, config(), T0) == Pruned(6, 3)  # 3 batches of at most 2
    assert s.finished is None  # not done: the next tick goes on, whatever the interval
    assert await retention.prune_retention(s, config(), T0 + timedelta(seconds=1)) == Pruned(4, 0)
    assert s.finished == T0 + timedelta(seconds=1) and s.bodies == [] and s.ids == []
    assert await retention.prune_retention(s, config(), T0 + timedelta(seconds=2)) is None


async def test_a_restart_does_not_prune_again_at_once(store) -> None:
    """When the last run finished is kept in the store."""
    await store.ingest(delivery(body(1), T0 - 31 * DAY))
    assert await retention.prune_retention(store, config(), T0) == Pruned(1, 2)
    assert await store.pruned_at() == T0
    assert await retention.prune_retention(store, config(), T0 + timedelta(minutes=4)) is None


async def test_the_engine_prunes_as_time_passes(tmp_path) -> None:
    """The paging engine's tick runs the stage: an incident from a month ago keeps its timeline, its
    webhook's raw body and delivery ids go once they are older than storage.retention (30 days)."""
    async with Scenario(tmp_path, "2026-10-01 10:00") as s:
        iid = await s.fire({"customer": "agency"})
        await s.reply(s.who(s.sent(channel="sms")[0].to))  # acknowledged
        assert s.query("SELECT count(*) FROM deliveries WHERE length(body) > 0") == [(1,)]
        await s.advance(hours=24 * 29)
        assert s.query("SELECT count(*) FROM deliveries WHERE length(body) > 0") == [(1,)]
        assert s.query("SELECT count(*) FROM alert_events") == [(1,)]
        await s.advance(hours=24 * 2)
        assert s.query("SELECT count(*) FROM deliveries WHERE length(body) > 0") == [(0,)]
        assert s.query("SELECT count(*) FROM alert_events") == [(0,)]
        assert s.query("SELECT count(*) FROM deliveries") == [(1,)]
        assert (await s.incident(iid))["state"] == "acknowledged"
        assert len(await s.events(iid, "acknowledged")) == 1


async def test_the_engine_stage_reads_when_the_last_run_finished_once() -> None:
    """Not once per tick: the stage keeps it after reading it from the store at its first tick."""
    s = CountingStore([T0 - 40 * DAY], [T0 - 40 * DAY])
    s.finished = T0 - timedelta(minutes=1)  # an earlier process finished a run a minute ago
    reads = 0
    pruned_at = s.pruned_at

    async def counted() -> datetime | None:
        nonlocal reads
        reads += 1
        return await pruned_at()

    s.pruned_at = counted
    stage = retention.RetentionStage(s)
    assert await stage(config(), T0) is None  # a restart does not prune again at once
    for seconds in range(1, 240, 7):
        assert await stage(config(), T0 + timedelta(seconds=seconds)) is None
    assert await stage(config(), T0 + timedelta(minutes=4)) == Pruned(1, 1)
    assert await stage(config(), T0 + timedelta(minutes=5)) is None  # it finished at +4 min
    assert await stage(config(), T0 + timedelta(minutes=9)) == Pruned(0, 0)
    assert reads == 1 and s.finished == T0 + timedelta(minutes=9)
