"""Hand-over notices (issue 3, item 4): at the start of each standby shift the incoming engineer is told
once, driven by the claim rows in a real SQLite store, so a restart neither misses (within the 12-hour
catch-up window) nor doubles one. The office rotation (office hours only) gives none.

Example config: standby = [dewi, eva, bram, chris], weekly from Monday 2026-01-05 08:30 Amsterdam.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from pager.clock import ManualClock
from pager.config import load
from pager.notify.base import SendResult
from pager.observe.metrics import Metrics
from pager.service.handover import handover_notices
from pager.service.paging import PagingEngine
from pager.service.schedule import HANDOVER_CATCH_UP, Schedule
from pager.storage.port import IngestPolicy
from pager.storage.sqlite import SqliteStore
from tests.harness.pagerd import EXAMPLE_ENV

ROOT = Path(__file__).resolve().parents[2]
AMS = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc
POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))
HANDOFF = datetime(2026, 11, 30, 8, 30, tzinfo=AMS)  # a Monday: standby hands off
STANDBY = ["dewi", "eva", "bram", "chris"]


def standby_person(monday: date) -> str:
    """Who takes standby on that Monday, by the rotation order (one week each from 2026-01-05)."""
    weeks = (monday - date(2026, 1, 5)).days // 7
    return STANDBY[weeks % len(STANDBY)]


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return Schedule(load(ROOT / "config" / "pagerd.example.yaml", env=EXAMPLE_ENV))


class Stores:
    """Store instances on one database file; `restart()` closes the current one and opens a new one."""

    def __init__(self, path: Path) -> None:
        self.path, self.current, self.opened = path, None, 0

    async def restart(self) -> SqliteStore:
        if self.current is not None:
            await self.current.close()
        self.current = SqliteStore(str(self.path), POLICY, clock=ManualClock(HANDOFF))
        await self.current.open()
        self.opened += 1
        return self.current


@pytest.fixture
async def stores(tmp_path):
    s = Stores(tmp_path / "pagerd.db")
    await s.restart()
    yield s
    await s.current.close()


async def notices(store, schedule, at: datetime) -> tuple[list[dict], list[dict]]:
    """The notices handover_notices returns at `at`, and the handover_notice events it logged."""
    with capture_logs() as logs:
        given = await handover_notices(store, schedule, at.astimezone(UTC))
    return given, [e for e in logs if e.get("event") == "handover_notice"]


def test_the_example_config_is_what_these_tests_assume(schedule):
    standby = schedule.config.rotations["standby"]
    assert list(standby.participants) == STANDBY and standby.start == date(2026, 1, 5)
    assert schedule.config.rotations["office"].restrict_to == ["office"]
    assert HANDOVER_CATCH_UP == timedelta(hours=12)
    assert standby_person(HANDOFF.date()) == "chris"  # week 47


async def test_one_notice_at_the_handoff_then_none(stores, schedule):
    given, logged = await notices(stores.current, schedule, HANDOFF)
    person = standby_person(HANDOFF.date())
    assert given == [
        {
            "rotation": "standby",
            "person": person,
            "name": "Chris Bakker",
            "start": HANDOFF.astimezone(UTC).isoformat(),
            "end": datetime(2026, 12, 7, 8, 30, tzinfo=AMS).astimezone(UTC).isoformat(),
        }
    ]
    assert len(logged) == 1
    assert {k: logged[0][k] for k in given[0]} == given[0]
    assert logged[0]["log_level"] == "info"
    # a second call, at once or later in the same shift: none
    for later in (timedelta(0), timedelta(seconds=5), timedelta(hours=1), timedelta(hours=11)):
        assert await notices(stores.current, schedule, HANDOFF + later) == ([], [])


async def test_a_restart_does_not_double_it(stores, schedule):
    assert len((await notices(stores.current, schedule, HANDOFF))[0]) == 1
    store = await stores.restart()  # a new store instance on the same file
    assert stores.opened == 2
    assert await notices(store, schedule, HANDOFF) == ([], [])
    assert await notices(store, schedule, HANDOFF + timedelta(minutes=5)) == ([], [])


@pytest.mark.parametrize(
    "late,count",
    [
        (timedelta(0), 1),
        (timedelta(hours=3), 1),  # restart after three hours down: caught up
        (timedelta(hours=12), 1),  # the edge of the catch-up window
        (timedelta(hours=12, seconds=1), 0),
        (timedelta(hours=13), 0),  # too late to still be useful
        (timedelta(days=3), 0),
    ],
    ids=["on-time", "3h-late", "12h-late", "12h1s-late", "13h-late", "3d-late"],
)
async def test_catching_up_after_downtime(stores, schedule, late, count):
    # the previous hand-off was notified before the downtime
    assert len((await notices(stores.current, schedule, HANDOFF - timedelta(days=7)))[0]) == 1
    store = await stores.restart()
    given, logged = await notices(store, schedule, HANDOFF + late)
    assert len(given) == len(logged) == count
    if count:
        assert given[0]["person"] == standby_person(HANDOFF.date())
        assert given[0]["start"] == HANDOFF.astimezone(UTC).isoformat()
        store = await stores.restart()  # and having caught up, the next restart does not repeat it
        assert await notices(store, schedule, HANDOFF + late + timedelta(minutes=1)) == ([], [])


@pytest.mark.parametrize(
    "monday,person,start_utc",
    [
        (date(2026, 1, 5), "dewi", "2026-01-05T07:30:00+00:00"),  # the rotation's first shift
        (date(2026, 3, 30), "dewi", "2026-03-30T06:30:00+00:00"),  # the day after the spring change (CEST)
        (date(2026, 10, 26), "bram", "2026-10-26T07:30:00+00:00"),  # the day after the autumn change (CET)
        (date(2026, 11, 30), "chris", "2026-11-30T07:30:00+00:00"),
        (date(2026, 12, 7), "dewi", "2026-12-07T07:30:00+00:00"),
    ],
)
async def test_the_right_person_at_monday_0830_local(stores, schedule, monday, person, start_utc):
    assert standby_person(monday) == person
    at = datetime(monday.year, monday.month, monday.day, 8, 30, tzinfo=AMS)
    before, _ = await notices(stores.current, schedule, at - timedelta(seconds=1))
    assert all(n["person"] != person or n["start"] != start_utc for n in before)
    given, logged = await notices(stores.current, schedule, at)
    assert [(n["rotation"], n["person"], n["start"]) for n in given] == [("standby", person, start_utc)]
    assert len(logged) == 1


async def test_an_override_starting_at_1800_tells_the_override_person(stores, schedule):
    store = stores.current
    evening = datetime(2026, 11, 30, 18, 0, tzinfo=AMS)
    row = await store.add_override(
        rotation="standby",
        start=evening,
        end=datetime(2026, 12, 1, 8, 30, tzinfo=AMS),
        person="anna",
        replaces=None,
        created_by="test",
        now=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )
    given, _ = await notices(store, schedule, HANDOFF)
    assert [n["person"] for n in given] == ["chris"]
    assert await notices(store, schedule, evening - timedelta(seconds=1)) == ([], [])
    given, logged = await notices(store, schedule, evening)
    assert [(n["rotation"], n["person"], n["name"], n["start"], n["end"]) for n in given] == [
        ("standby", "anna", "Anna de Vries", "2026-11-30T17:00:00+00:00", "2026-12-01T07:30:00+00:00")
    ]
    assert [e["person"] for e in logged] == ["anna"]
    assert await notices(store, schedule, evening + timedelta(minutes=10)) == ([], [])
    store = await stores.restart()
    assert await notices(store, schedule, evening + timedelta(hours=1)) == ([], [])
    assert row.id >= 1


async def test_a_week_of_ticks_gives_exactly_the_monday_notices(stores, schedule):
    """Tick every 15 minutes from Monday 30 Nov 08:00 to Monday 7 Dec 09:00, restarting the store every
    day: two notices in all (chris, then dewi), none ever for the office rotation, which hands off daily."""
    t, end = datetime(2026, 11, 30, 8, 0, tzinfo=AMS), datetime(2026, 12, 7, 9, 0, tzinfo=AMS)
    seen: list[tuple[str, str, str]] = []
    store = stores.current
    for i in range(800):  # bounded: 7 days and an hour in 15-minute steps is 677 ticks
        if t > end:
            break
        if i and i % 96 == 0:
            store = await stores.restart()
        given, logged = await notices(store, schedule, t)
        assert len(given) == len(logged)
        seen += [(n["rotation"], n["person"], n["start"]) for n in given]
        t += timedelta(minutes=15)
    assert t > end
    assert seen == [("standby", "chris", "2026-11-30T07:30:00+00:00"), ("standby", "dewi", "2026-12-07T07:30:00+00:00")]


async def test_the_office_rotation_never_gives_one(stores, schedule):
    for day in range(7):  # its daily hand-offs, at and just after 08:30
        at = datetime(2026, 12, 1, 8, 30, tzinfo=AMS) + timedelta(days=day)
        for t in (at, at + timedelta(minutes=1), at + timedelta(hours=3)):
            given, logged = await notices(stores.current, schedule, t)
            assert all(n["rotation"] != "office" for n in given + logged), given


async def test_an_override_inside_office_hours_gives_no_standby_notice(stores, schedule):
    store = stores.current
    await notices(store, schedule, HANDOFF)  # chris told on Monday
    ten, noon = datetime(2026, 12, 1, 10, 0, tzinfo=AMS), datetime(2026, 12, 1, 12, 0, tzinfo=AMS)
    await store.add_override(
        rotation="standby",
        start=ten,
        end=noon,
        person="anna",
        replaces=None,
        created_by="test",
        now=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )
    # standby is not on call 10:00-12:00 on a Tuesday: nothing changes for anyone
    assert schedule.shifts("standby", ten.astimezone(UTC), noon.astimezone(UTC), []) == []
    assert (await notices(store, schedule, ten))[0] == []
    assert (await notices(store, schedule, noon))[0] == []


async def test_a_notice_goes_out_as_sms_and_email_through_the_outbox(stores, schedule):
    given, _ = await notices(stores.current, schedule, HANDOFF)
    assert [n["person"] for n in given] == ["chris"]
    now = HANDOFF.astimezone(UTC) + timedelta(seconds=1)
    rows = await stores.current.due_messages(now)
    assert sorted((r.channel, r.address, r.kind) for r in rows) == [
        ("email", "chris@example.nl", "handover"),
        ("sms", "+31612345003", "handover"),
    ]
    assert all("on call for standby" in r.body for r in rows)
    await notices(stores.current, schedule, HANDOFF + timedelta(minutes=5))
    assert len(await stores.current.due_messages(now + timedelta(minutes=5))) == 2  # not queued twice


class Phone:
    """A notifier that keeps what it was given (the Notifier contract, every channel)."""

    channels = frozenset({"sms", "voice", "email"})

    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, msg):
        self.sent.append(msg)
        return SendResult(sent=True, recoverable=False, provider_id=f"p{len(self.sent)}")

    async def close(self) -> None:
        pass


async def test_the_notice_is_the_engines_last_stage_and_the_next_tick_sends_it(stores, schedule):
    clock = ManualClock(HANDOFF)
    phone = Phone()
    engine = PagingEngine(stores.current, clock, Metrics(), phone, lambda: (schedule.config, schedule))
    assert [name for name, _ in engine.stages][-1] == "handover"  # after dispatch: queued in one tick
    assert await engine.tick() is True
    assert phone.sent == []
    clock.advance(1)
    assert await engine.tick() is True  # ... sent by the next
    assert sorted((m.channel, m.to) for m in phone.sent) == [("email", "chris@example.nl"), ("sms", "+31612345003")]
    assert all(m.incident_id is None and "on call for standby" in m.body for m in phone.sent)
    clock.advance(60)
    assert await engine.tick() is True
    assert len(phone.sent) == 2  # once per hand-off


async def test_the_claims_a_process_asked_are_not_asked_again_and_the_notices_are_the_same(stores, schedule):
    """With the engine's memo of settled claims (kept from tick to tick, empty after a restart): the week
    of ticks above gives the same two notices, and the store is asked each claim once per process instead
    of at every tick of its catch-up window."""
    t, end = datetime(2026, 11, 30, 8, 0, tzinfo=AMS), datetime(2026, 12, 7, 9, 0, tzinfo=AMS)
    seen: list[tuple[str, str, str]] = []
    asked: list[tuple] = []  # (process, rotation, key, person) of each claim asked
    settled: set = set()
    process = [0]

    def counted(store):
        claim = store.claim_handover

        async def claim_handover(*args):
            asked.append((process[0], *args[:3]))
            return await claim(*args)

        store.claim_handover = claim_handover
        return store

    store = counted(stores.current)
    for i in range(800):  # bounded, as above
        if t > end:
            break
        if i and i % 96 == 0:
            process[0] += 1
            store, settled = counted(await stores.restart()), set()  # a new process remembers nothing
        seen += [
            (n["rotation"], n["person"], n["start"])
            for n in await handover_notices(store, schedule, t.astimezone(UTC), settled)
        ]
        t += timedelta(minutes=15)
    assert seen == [("standby", "chris", "2026-11-30T07:30:00+00:00"), ("standby", "dewi", "2026-12-07T07:30:00+00:00")]
    assert asked and len(asked) == len(set(asked))  # each claim once per process, not at every tick
    without = [0]
    claim = stores.current.claim_handover

    async def claim_handover(*args):
        without[0] += 1
        return await claim(*args)

    stores.current.claim_handover = claim_handover
    for k in range(4):  # four ticks after Monday's hand-off without the memo: the store is asked at each
        await handover_notices(stores.current, schedule, (end + timedelta(minutes=15 * k)).astimezone(UTC))
    assert without[0] == 4
