"""BillingStore: standby bookings, time logged on incidents, a customer's incidents for its statement."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from pager.domain.incident import State
from pager.storage.port import Booking, Conflict, CustomerIncident, IssuedStatement, NotFound, Store, WorkEntry

from .seed import T0, UTC, open_incident, resolve_alert, route

S1, E1 = datetime(2026, 12, 4, 17, tzinfo=UTC), datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
S2, E2 = datetime(2026, 12, 1, 17, tzinfo=UTC), datetime(2026, 12, 2, 7, 30, tzinfo=UTC)


async def _book(store: Store, start: datetime, end: datetime, customer: str = "acme") -> Booking:
    return await store.add_booking(customer=customer, start=start, end=end, created_by="desk", now=T0)


# -- add_booking ------------------------------------------------------------------------------------


async def test_add_booking_answers_the_stored_record(store: Store) -> None:
    b = await _book(store, S1, E1)
    assert b == Booking(
        id=b.id,
        customer="acme",
        start=S1,
        end=E1,
        created_by="desk",
        created_at=T0,
        cancelled_by=None,
        cancelled_at=None,
    )
    assert isinstance(b.id, int)
    with pytest.raises(AttributeError):
        b.customer = "other"  # type: ignore[misc]  # frozen


async def test_add_booking_json_keeps_the_api_fields_and_their_order(store: Store) -> None:
    b = await _book(store, S1, E1)
    assert list(b.to_json().items()) == [
        ("id", b.id),
        ("customer", "acme"),
        ("start", "2026-12-04T17:00:00.000000Z"),
        ("end", "2026-12-07T07:30:00.000000Z"),
        ("created_by", "desk"),
        ("created_at", "2026-11-25T14:00:00.000000Z"),
        ("cancelled_by", None),
        ("cancelled_at", None),
    ]


@pytest.mark.parametrize("length", [timedelta(0), timedelta(minutes=-30)])
async def test_add_booking_that_does_not_end_after_it_starts_is_a_conflict(store: Store, length) -> None:
    with pytest.raises(Conflict):
        await _book(store, S1, S1 + length)
    assert await store.list_bookings(include_cancelled=True) == []


# -- list_bookings ----------------------------------------------------------------------------------


async def test_list_bookings_of_an_empty_store_is_empty(store: Store) -> None:
    assert await store.list_bookings() == []
    assert await store.list_bookings("acme", include_cancelled=True, ending_after=T0) == []


async def test_list_bookings_by_start_then_id_and_by_customer(store: Store) -> None:
    b1 = await _book(store, S1, E1)
    b2 = await _book(store, S2, E2)
    b3 = await _book(store, S1, E1, customer="agency")
    assert await store.list_bookings("acme") == [b2, b1]
    assert [b.id for b in await store.list_bookings()] == [b2.id, b1.id, b3.id]
    assert await store.list_bookings("nobody") == []


async def test_list_bookings_ending_after_keeps_those_running_or_to_come(store: Store) -> None:
    b1 = await _book(store, S1, E1)
    b2 = await _book(store, S2, E2)
    b3 = await _book(store, S1, E1, customer="agency")
    assert [b.id for b in await store.list_bookings(ending_after=datetime(2026, 12, 3, tzinfo=UTC))] == [b1.id, b3.id]
    assert await store.list_bookings(ending_after=E2) == [b1, b3]  # ending at that instant: over
    assert await store.list_bookings(ending_after=E2 - timedelta(microseconds=1)) == [b2, b1, b3]
    assert await store.list_bookings("acme", ending_after=E1) == []


async def test_list_bookings_include_cancelled(store: Store) -> None:
    b1 = await _book(store, S1, E1)
    b2 = await _book(store, S2, E2)
    gone = await store.cancel_booking(b1.id, by="anna", now=T0 + timedelta(hours=1))
    assert await store.list_bookings("acme") == [b2]
    assert await store.list_bookings("acme", include_cancelled=True) == [b2, gone]
    assert await store.list_bookings(include_cancelled=True, ending_after=E2) == [gone]


# -- cancel_booking ---------------------------------------------------------------------------------


async def test_cancel_booking_records_who_and_when(store: Store) -> None:
    b = await _book(store, S1, E1)
    gone = await store.cancel_booking(b.id, by="anna", now=T0 + timedelta(hours=1))
    assert gone == Booking(
        id=b.id,
        customer="acme",
        start=S1,
        end=E1,
        created_by="desk",
        created_at=T0,
        cancelled_by="anna",
        cancelled_at=T0 + timedelta(hours=1),
    )
    assert gone.to_json()["cancelled_at"] == "2026-11-25T15:00:00.000000Z"


async def test_cancel_booking_twice_keeps_the_first_cancellation(store: Store) -> None:
    b = await _book(store, S1, E1)
    first = await store.cancel_booking(b.id, by="anna", now=T0 + timedelta(hours=1))
    again = await store.cancel_booking(b.id, by="bram", now=T0 + timedelta(hours=2))
    assert again == first and again.cancelled_by == "anna"


async def test_cancel_booking_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.cancel_booking(12345, by="anna", now=T0)


# -- add_work ---------------------------------------------------------------------------------------


async def test_add_work_in_minutes_is_stored_and_on_the_timeline(store: Store) -> None:
    iid = await open_incident(store, "web1")
    w = await store.add_work(
        iid, person="dewi", minutes=45, note="restarted php-fpm", by="dewi", now=T0 + timedelta(hours=1)
    )
    assert w == WorkEntry(
        id=w.id,
        incident_id=iid,
        person="dewi",
        start=None,
        end=None,
        minutes=45,
        note="restarted php-fpm",
        created_by="dewi",
        created_at=T0 + timedelta(hours=1),
    )
    assert list(w.to_json().items()) == [
        ("id", w.id),
        ("incident_id", iid),
        ("person", "dewi"),
        ("start", None),
        ("end", None),
        ("minutes", 45),
        ("note", "restarted php-fpm"),
        ("created_by", "dewi"),
        ("created_at", "2026-11-25T15:00:00.000000Z"),
    ]
    incident = await store.get_incident(iid)
    assert incident is not None
    (ev,) = [e for e in incident.timeline if e.kind == "work_logged"]
    assert (ev.actor, ev.data["minutes"], ev.data["work_id"]) == ("dewi", 45, w.id)


async def test_add_work_from_a_span_rounds_up_to_whole_minutes(store: Store) -> None:
    iid = await open_incident(store, "web1")
    start = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    w = await store.add_work(
        iid, person="anna", start=start, end=start + timedelta(minutes=70, seconds=1), by="api", now=T0
    )
    assert (w.minutes, w.start, w.end, w.person, w.created_by) == (
        71,
        start,
        start + timedelta(minutes=70, seconds=1),
        "anna",
        "api",
    )
    assert (w.to_json()["start"], w.to_json()["end"]) == ("2026-11-25T22:00:00.000000Z", "2026-11-25T23:10:01.000000Z")
    short = await store.add_work(iid, person="anna", start=start, end=start + timedelta(seconds=1), by="api", now=T0)
    assert short.minutes == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # neither
        {"minutes": 10, "start": T0, "end": T0 + timedelta(minutes=5)},  # both
        {"start": T0},  # start without end
        {"end": T0},  # end without start
        {"minutes": 10, "start": T0},
        {"minutes": 0},
        {"minutes": -5},
        {"minutes": True},
        {"minutes": 1.5},
        {"start": T0, "end": T0},  # empty span
        {"start": T0, "end": T0 - timedelta(minutes=5)},  # backwards
    ],
)
async def test_add_work_bad_arguments_store_nothing(store: Store, kwargs: dict) -> None:
    iid = await open_incident(store, "web1")
    with pytest.raises(ValueError):
        await store.add_work(iid, person="dewi", by="dewi", now=T0, **kwargs)
    assert await store.list_work(iid) == []


async def test_add_work_on_an_unknown_incident_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.add_work(999, person="dewi", minutes=5, by="dewi", now=T0)
    assert await store.list_work(999) == []


# -- list_work --------------------------------------------------------------------------------------


async def test_list_work_in_the_order_logged_per_incident(store: Store) -> None:
    iid = await open_incident(store, "web1")
    other = await open_incident(store, "db1")
    start = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    first = await store.add_work(iid, person="anna", start=start, end=start + timedelta(minutes=30), by="anna", now=T0)
    theirs = await store.add_work(other, person="bram", minutes=5, by="bram", now=T0)
    second = await store.add_work(iid, person="anna", minutes=20, by="anna", now=T0 - timedelta(hours=1))
    assert await store.list_work(iid) == [first, second]
    assert await store.list_work(other) == [theirs]
    assert second.id > first.id


async def test_list_work_of_an_incident_without_any_is_empty(store: Store) -> None:
    iid = await open_incident(store, "web1")
    assert await store.list_work(iid) == []
    assert await store.list_work(424242) == []


# -- customer_incidents -----------------------------------------------------------------------------

MONTH = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


async def test_customer_incidents_answers_what_a_statement_needs(store: Store) -> None:
    iid = await open_incident(store, "web1", summary="web1 is down")
    paged = T0 + timedelta(hours=6)
    await route(store, iid, "acme/webshop", paged, target=timedelta(minutes=30))
    await store.transition(
        iid, State.ACKNOWLEDGED, actor="dewi", via="sms", comment=None, now=paged + timedelta(minutes=12)
    )
    await store.transition(iid, State.RESOLVED, actor="dewi", via="api", comment=None, now=paged + timedelta(hours=1))
    w = await store.add_work(iid, person="dewi", minutes=70, by="dewi", now=paged + timedelta(hours=2))
    [got] = await store.customer_incidents("acme/", *MONTH)
    [rnd] = got.rounds  # the round's own first answer: the acknowledgement
    assert (rnd.incident_id, rnd.generation, rnd.first_page_at, rnd.target) == (iid, 0, paged, timedelta(minutes=30))
    assert rnd.answer is not None
    assert (rnd.answer.at, rnd.answer.by, rnd.answer.kind) == (paged + timedelta(minutes=12), "dewi", "acknowledged")
    assert [replace(got, rounds=())] == [
        CustomerIncident(
            incident_id=iid,
            generation=0,
            project="acme/webshop",
            rotation="standby",
            first_page_at=paged,
            deadline_at=paged + timedelta(minutes=30),
            breached_at=None,
            target_seconds=1800,
            created_at=paged,
            summary="web1 is down",
            state="resolved",
            acknowledged_at=paged + timedelta(minutes=12),
            acknowledged_by="dewi",
            resolved_at=paged + timedelta(hours=1),
            resolved_by="dewi",
            work=(w,),
        )
    ]


async def test_customer_incidents_in_the_range_by_first_page_or_routing(store: Store) -> None:
    start, end = MONTH
    inside = await open_incident(store, "a")
    await route(store, inside, "acme/webshop", start)  # paged at the start: in
    waiting = await open_incident(store, "b")
    await route(store, waiting, "acme/intranet", T0, paged=False)  # never paged: routed at T0
    at_end = await open_incident(store, "c")
    await route(store, at_end, "acme/webshop", end)  # paged at the end: out
    before = await open_incident(store, "d")
    await route(store, before, "acme/webshop", start - timedelta(microseconds=1))  # out
    unrouted = await open_incident(store, "e")  # no escalation: out
    rows = await store.customer_incidents("acme/", start, end)
    assert [(r.incident_id, r.first_page_at, r.work) for r in rows] == [(inside, start, ()), (waiting, None, ())]
    assert unrouted not in [r.incident_id for r in rows]
    assert [r.incident_id for r in await store.customer_incidents("acme/", end, end + timedelta(days=1))] == [at_end]
    assert [r.incident_id for r in await store.customer_incidents("acme/", start - timedelta(days=1), start)] == [
        before
    ]


async def test_customer_incidents_prefix_is_taken_literally(store: Store) -> None:
    plain = await open_incident(store, "a")
    await route(store, plain, "acme/webshop", T0)
    odd = await open_incident(store, "b")
    await route(store, odd, "a_me%/webshop", T0 + timedelta(minutes=1))
    assert [r.incident_id for r in await store.customer_incidents("acme/", *MONTH)] == [plain]
    assert [r.incident_id for r in await store.customer_incidents("a_me%/", *MONTH)] == [odd]
    assert await store.customer_incidents("a_me/", *MONTH) == []
    assert await store.customer_incidents("%", *MONTH) == []
    assert [r.incident_id for r in await store.customer_incidents("", *MONTH)] == [plain, odd]


async def test_customer_incidents_one_per_incident_its_first_escalation_in_the_range(store: Store) -> None:
    iid = await open_incident(store, "web1", T0)
    await route(store, iid, "acme/webshop", T0)
    await resolve_alert(store, "web1", T0 + timedelta(minutes=20))
    assert await open_incident(store, "web1", T0 + timedelta(minutes=40)) == iid  # reopened within the window
    await route(store, iid, "acme/webshop", T0 + timedelta(minutes=41), generation=1)
    (both,) = await store.customer_incidents("acme/", *MONTH)
    assert (both.incident_id, both.generation, both.first_page_at) == (iid, 0, T0)
    (second,) = await store.customer_incidents("acme/", T0 + timedelta(minutes=30), MONTH[1])
    assert (second.incident_id, second.generation, second.first_page_at) == (iid, 1, T0 + timedelta(minutes=41))


async def test_customer_incidents_of_an_empty_store_is_empty(store: Store) -> None:
    assert await store.customer_incidents("acme/", *MONTH) == []


# -- issue_statement -----------------------------------------------------------------------------------


async def test_issue_statement_numbers_each_month_in_order_and_keeps_them(make_store) -> None:
    store = make_store()
    await store.open()
    try:
        first = await store.issue_statement("acme", "2026-12", now=T0)
        assert first == IssuedStatement(customer="acme", month="2026-12", number="2026-12-0001", issued_at=T0)
        assert list(first.to_json()) == ["customer", "month", "number", "issued_at"]
        second = await store.issue_statement("globex", "2026-12", now=T0 + timedelta(hours=1))
        assert second.number == "2026-12-0002"
        assert (await store.issue_statement("acme", "2027-01", now=T0)).number == "2027-01-0001"
        # issued again later: the same number and the same date of issue
        assert await store.issue_statement("acme", "2026-12", now=T0 + timedelta(days=40)) == first
    finally:
        await store.close()
    again = make_store()  # a restart keeps them
    await again.open()
    try:
        assert await again.issue_statement("acme", "2026-12", now=T0 + timedelta(days=41)) == first
        assert (await again.issue_statement("initech", "2026-12", now=T0)).number == "2026-12-0003"
    finally:
        await again.close()


async def test_issue_statement_at_once_never_shares_a_number(store: Store) -> None:
    issued = await asyncio.gather(*(store.issue_statement(f"c{n}", "2026-11", now=T0) for n in range(12)))
    assert sorted(i.number for i in issued) == [f"2026-11-{n:04d}" for n in range(1, 13)]
    assert await asyncio.gather(*(store.issue_statement("c3", "2026-11", now=T0) for _ in range(3))) == [issued[3]] * 3


@pytest.mark.parametrize("month", ["2026-13", "26-12", "2026-1", "", "2026-12'; DROP TABLE statements; --"])
async def test_issue_statement_refuses_a_month_that_is_not_yyyy_mm(store: Store, month: str) -> None:
    with pytest.raises(ValueError):
        await store.issue_statement("acme", month, now=T0)
    assert (await store.issue_statement("acme", "2026-12", now=T0)).number == "2026-12-0001"
