"""ScheduleStore: rotation overrides and hand-over claims."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pager.storage.port import Conflict, NotFound, OverrideRecord, OverrideRequest, Store

from .seed import T0, UTC

AMS = ZoneInfo("Europe/Amsterdam")
FRI_18 = datetime(2026, 11, 27, 18, 0, tzinfo=AMS)
SAT_18 = datetime(2026, 11, 28, 18, 0, tzinfo=AMS)
MON_0830 = datetime(2026, 11, 30, 8, 30, tzinfo=AMS)


async def _add(
    store: Store,
    start: datetime,
    end: datetime,
    *,
    rotation: str = "standby",
    person: str = "anna",
    replaces: str | None = None,
) -> OverrideRecord:
    return await store.add_override(
        rotation=rotation, start=start, end=end, person=person, replaces=replaces, created_by="desk", now=T0
    )


# -- add_override -----------------------------------------------------------------------------------


async def test_add_override_answers_the_stored_record(store: Store) -> None:
    o = await _add(store, FRI_18, SAT_18, replaces="dewi")
    assert o == OverrideRecord(
        id=o.id,
        rotation="standby",
        start=FRI_18,
        end=SAT_18,
        person="anna",
        replaces="dewi",
        created_by="desk",
        created_at=T0,
        removed_by=None,
        removed_at=None,
    )
    assert isinstance(o.id, int)
    assert o.start.utcoffset() == timedelta(0) and o.created_at.utcoffset() == timedelta(0)  # answered in UTC
    with pytest.raises(AttributeError):
        o.person = "bram"  # type: ignore[misc]  # frozen


async def test_add_override_json_keeps_the_api_fields_and_their_order(store: Store) -> None:
    o = await _add(store, FRI_18, SAT_18)
    assert list(o.to_json().items()) == [
        ("id", o.id),
        ("rotation", "standby"),
        ("start", "2026-11-27T17:00:00.000000Z"),
        ("end", "2026-11-28T17:00:00.000000Z"),
        ("person", "anna"),
        ("replaces", None),
        ("created_by", "desk"),
        ("created_at", "2026-11-25T14:00:00.000000Z"),
        ("removed_by", None),
        ("removed_at", None),
    ]


async def test_add_override_keeps_microseconds(store: Store) -> None:
    start = datetime(2026, 11, 27, 17, 0, 0, 123456, tzinfo=UTC)
    o = await _add(store, start, start + timedelta(hours=1))
    assert (await store.list_overrides())[0].start == start == o.start


@pytest.mark.parametrize("length", [timedelta(0), timedelta(hours=-1)])
async def test_add_override_that_does_not_end_after_it_starts_is_a_conflict(store: Store, length) -> None:
    with pytest.raises(Conflict):
        await _add(store, FRI_18, FRI_18 + length)
    assert await store.list_overrides(include_removed=True) == []


# -- list_overrides ---------------------------------------------------------------------------------


async def test_list_overrides_of_an_empty_store_is_empty(store: Store) -> None:
    assert await store.list_overrides() == []
    assert await store.list_overrides("standby", include_removed=True) == []


async def test_list_overrides_by_start_then_id_and_by_rotation(store: Store) -> None:
    late = await _add(store, SAT_18, MON_0830)
    early = await _add(store, FRI_18, SAT_18)
    twin = await _add(store, FRI_18, SAT_18, person="bram")  # same start: the older id first
    office = await _add(store, FRI_18 - timedelta(hours=9), FRI_18, rotation="office")
    assert [o.id for o in await store.list_overrides()] == [office.id, early.id, twin.id, late.id]
    assert await store.list_overrides("standby") == [early, twin, late]
    assert await store.list_overrides("office") == [office]
    assert await store.list_overrides("nope") == []


async def test_list_overrides_include_removed(store: Store) -> None:
    kept = await _add(store, FRI_18, SAT_18)
    gone = await _add(store, SAT_18, MON_0830)
    removed = await store.remove_override(gone.id, removed_by="anna", now=T0 + timedelta(hours=1))
    assert await store.list_overrides() == [kept]
    assert await store.list_overrides(include_removed=True) == [kept, removed]
    assert await store.list_overrides("standby", include_removed=True) == [kept, removed]


# -- remove_override --------------------------------------------------------------------------------


async def test_remove_override_records_who_and_when(store: Store) -> None:
    o = await _add(store, FRI_18, SAT_18)
    gone = await store.remove_override(o.id, removed_by="anna", now=T0 + timedelta(hours=1))
    assert gone == OverrideRecord(
        id=o.id,
        rotation=o.rotation,
        start=o.start,
        end=o.end,
        person=o.person,
        replaces=None,
        created_by="desk",
        created_at=T0,
        removed_by="anna",
        removed_at=T0 + timedelta(hours=1),
    )
    assert gone.to_json()["removed_at"] == "2026-11-25T15:00:00.000000Z"


async def test_remove_override_twice_keeps_the_first_removal(store: Store) -> None:
    o = await _add(store, FRI_18, SAT_18)
    first = await store.remove_override(o.id, removed_by="anna", now=T0 + timedelta(hours=1))
    again = await store.remove_override(o.id, removed_by="bram", now=T0 + timedelta(hours=2))
    assert again == first


async def test_remove_override_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.remove_override(4242, removed_by="anna", now=T0)


# -- claim_handover ---------------------------------------------------------------------------------


async def test_claim_handover_is_true_exactly_once(store: Store) -> None:
    assert await store.claim_handover("standby", MON_0830, "chris", T0) is True
    assert await store.claim_handover("standby", MON_0830, "chris", T0 + timedelta(minutes=1)) is False
    # the claim is the (rotation, shift start), whoever asks and in whichever time zone the instant is given
    assert await store.claim_handover("standby", MON_0830.astimezone(UTC), "dewi", T0) is False
    assert await store.claim_handover("office", MON_0830, "chris", T0) is True
    assert await store.claim_handover("standby", MON_0830 + timedelta(days=7), "dewi", T0) is True


async def test_claim_handover_holds_across_a_restart(store: Store, make_store) -> None:
    assert await store.claim_handover("standby", MON_0830, "chris", T0)
    again = make_store()
    await again.open()
    try:
        assert await again.claim_handover("standby", MON_0830, "chris", T0 + timedelta(hours=1)) is False
    finally:
        await again.close()


async def test_claim_handover_concurrent_claims_give_one_true(store: Store) -> None:
    results = await asyncio.gather(*(store.claim_handover("standby", MON_0830, "chris", T0) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


# -- swap and override requests -------------------------------------------------------------------


async def _ask(store: Store, start: datetime = FRI_18, end: datetime = SAT_18, **kw) -> OverrideRequest:
    args = {"rotation": "standby", "person": "bram", "replaces": "anna", "note": "my brother's wedding"} | kw
    return await store.add_override_request(start=start, end=end, requested_by="anna", now=T0, **args)


async def test_add_override_request_answers_a_pending_request(store: Store) -> None:
    r = await _ask(store)
    assert (r.rotation, r.start, r.end, r.person, r.replaces, r.note, r.requested_by) == (
        "standby",
        FRI_18,
        SAT_18,
        "bram",
        "anna",
        "my brother's wedding",
        "anna",
    )
    assert (r.status, r.decided_by, r.decided_at, r.override_id, r.created_at) == ("pending", None, None, None, T0)
    assert await store.list_overrides() == []  # nothing changes on the rotation until the desk confirms


async def test_add_override_request_that_does_not_end_after_it_starts_is_a_conflict(store: Store) -> None:
    with pytest.raises(Conflict):
        await _ask(store, SAT_18, FRI_18)
    assert await store.list_override_requests() == []


async def test_list_override_requests_newest_first_and_by_status(store: Store) -> None:
    a = await _ask(store)
    b = await _ask(store, note=None, replaces=None)
    await store.decide_override_request(a.id, confirm=False, decided_by="chris", now=T0)
    assert [r.id for r in await store.list_override_requests()] == [b.id, a.id]
    assert [r.id for r in await store.list_override_requests(status="pending")] == [b.id]
    assert [r.id for r in await store.list_override_requests(status="declined")] == [a.id]
    assert [r.id for r in await store.list_override_requests(limit=1)] == [b.id]


async def test_decide_override_request_confirmed_makes_the_override_once(store: Store) -> None:
    r = await _ask(store)
    later = T0 + timedelta(minutes=5)
    done = await store.decide_override_request(r.id, confirm=True, decided_by="chris", now=later)
    assert (done.status, done.decided_by, done.decided_at) == ("confirmed", "chris", later)
    [o] = await store.list_overrides()
    assert done.override_id == o.id
    assert (o.rotation, o.start, o.end, o.person, o.replaces, o.created_by) == (
        "standby",
        FRI_18,
        SAT_18,
        "bram",
        "anna",
        "chris",
    )
    for confirm in (True, False):  # decided once: a second decision changes nothing
        with pytest.raises(Conflict):
            await store.decide_override_request(r.id, confirm=confirm, decided_by="dewi", now=later)
    assert len(await store.list_overrides()) == 1
    assert (await store.list_override_requests())[0] == done


async def test_decide_override_request_declined_makes_no_override(store: Store) -> None:
    r = await _ask(store)
    done = await store.decide_override_request(r.id, confirm=False, decided_by="chris", now=T0)
    assert (done.status, done.override_id) == ("declined", None)
    assert await store.list_overrides(include_removed=True) == []
    with pytest.raises(NotFound):
        await store.decide_override_request(424242, confirm=True, decided_by="chris", now=T0)
