"""Standby bookings and worked time in the SQLite store (migration 0004), against a real database file."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pager.clock import ManualClock
from pager.storage.port import NotFound
from pager.storage.sqlite import SqliteStore
from tests.unit.test_store import POLICY, T0, am_body, delivery

UTC = timezone.utc


@pytest.fixture
async def store(tmp_path):
    s = SqliteStore(str(tmp_path / "w.db"), POLICY, clock=ManualClock(T0))
    await s.open()
    yield s
    await s.close()


async def _incident(store: SqliteStore) -> int:
    r = await store.ingest(delivery(am_body(("firing", "firing")), T0))
    return r.incident_ids[0]


async def test_work_in_minutes_is_stored_listed_and_on_the_timeline(store: SqliteStore) -> None:
    iid = await _incident(store)
    row = await store.add_work(iid, person="dewi", minutes=45, note="restarted php-fpm", by="dewi",
                               now=T0 + timedelta(hours=1))
    assert row == {"id": row["id"], "incident_id": iid, "person": "dewi", "start": None, "end": None, "minutes": 45,
                   "note": "restarted php-fpm", "created_by": "dewi", "created_at": "2026-11-25T15:00:00.000000Z"}
    assert await store.list_work(iid) == [row]
    (ev,) = [e for e in (await store.get_incident(iid))["timeline"] if e["kind"] == "work_logged"]
    assert (ev["actor"], ev["data"]["minutes"], ev["data"]["work_id"]) == ("dewi", 45, row["id"])


async def test_work_from_a_span_rounds_up_to_whole_minutes(store: SqliteStore) -> None:
    iid = await _incident(store)
    start = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    row = await store.add_work(iid, person="anna", start=start, end=start + timedelta(minutes=70, seconds=1),
                               by="api", now=T0)
    assert (row["minutes"], row["start"], row["end"]) == (71, "2026-11-25T22:00:00.000000Z",
                                                          "2026-11-25T23:10:01.000000Z")
    again = await store.add_work(iid, person="anna", minutes=20, by="anna", now=T0)
    assert [w["minutes"] for w in await store.list_work(iid)] == [71, 20]
    assert again["id"] > row["id"]


@pytest.mark.parametrize("kwargs", [
    {},                                                              # neither
    {"minutes": 10, "start": T0, "end": T0 + timedelta(minutes=5)},  # both
    {"start": T0},                                                   # start without end
    {"end": T0},                                                     # end without start
    {"minutes": 0},
    {"minutes": -5},
    {"minutes": True},
    {"start": T0, "end": T0},                                        # empty span
])
async def test_work_bad_arguments_store_nothing(store: SqliteStore, kwargs: dict) -> None:
    iid = await _incident(store)
    with pytest.raises(ValueError):
        await store.add_work(iid, person="dewi", by="dewi", now=T0, **kwargs)
    assert await store.list_work(iid) == []


async def test_work_on_an_unknown_incident_is_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.add_work(999, person="dewi", minutes=5, by="dewi", now=T0)
    assert await store.list_work(999) == []


async def test_bookings_add_list_cancel(store: SqliteStore) -> None:
    s1, e1 = datetime(2026, 12, 4, 17, tzinfo=UTC), datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
    s2, e2 = datetime(2026, 12, 1, 17, tzinfo=UTC), datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    b1 = await store.add_booking(customer="acme", start=s1, end=e1, created_by="desk", now=T0)
    b2 = await store.add_booking(customer="acme", start=s2, end=e2, created_by="desk", now=T0)
    b3 = await store.add_booking(customer="agency", start=s1, end=e1, created_by="desk", now=T0)
    assert (b1["customer"], b1["start"], b1["end"], b1["cancelled_at"]) == (
        "acme", "2026-12-04T17:00:00.000000Z", "2026-12-07T07:30:00.000000Z", None)
    assert [b["id"] for b in await store.list_bookings("acme")] == [b2["id"], b1["id"]]  # by start
    assert len(await store.list_bookings()) == 3
    assert [b["id"] for b in await store.list_bookings(ending_after=datetime(2026, 12, 3, tzinfo=UTC))] == [
        b1["id"], b3["id"]]
    gone = await store.cancel_booking(b1["id"], by="anna", now=T0 + timedelta(hours=1))
    assert (gone["cancelled_by"], gone["cancelled_at"]) == ("anna", "2026-11-25T15:00:00.000000Z")
    again = await store.cancel_booking(b1["id"], by="bram", now=T0 + timedelta(hours=2))
    assert again["cancelled_by"] == "anna"  # the first cancellation stands
    assert [b["id"] for b in await store.list_bookings("acme")] == [b2["id"]]
    assert [b["id"] for b in await store.list_bookings("acme", include_cancelled=True)] == [b2["id"], b1["id"]]
    with pytest.raises(NotFound):
        await store.cancel_booking(12345, by="anna", now=T0)
