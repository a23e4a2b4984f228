"""CustomerPortalStore: standby requests, a project's tickets for its progress view, and a statement's
number read without issuing it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pager.storage.port import Conflict, NotFound, RequestedBy, Requester, Store

from .seed import T0
from .test_tickets import _new

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
START, END = T0 + 2 * DAY, T0 + 4 * DAY  # Friday 14:00 .. Sunday 14:00


async def _request(store: Store, customer: str = "acme", **kw):
    args = dict(
        customer=customer,
        start=START,
        end=END,
        note="Release weekend",
        quote_total="456.00",
        currency="EUR",
        requested_by="jan@acme.example",
        now=T0,
    )
    args.update(kw)
    return await store.add_standby_request(**args)


async def test_add_standby_request_stores_it_pending(store: Store) -> None:
    r = await _request(store)
    assert (r.customer, r.start, r.end, r.note, r.quote_total, r.currency, r.status) == (
        "acme", START, END, "Release weekend", "456.00", "EUR", "pending",
    )  # fmt: skip
    assert (r.requested_by, r.requested_at, r.decided_by, r.decided_at, r.reason, r.booking_id) == (
        "jan@acme.example", T0, None, None, None, None,
    )  # fmt: skip
    assert await store.get_standby_request(r.id) == r


async def test_add_standby_request_refuses_an_empty_or_reversed_period(store: Store) -> None:
    for end in (START, START - HOUR):
        with pytest.raises(Conflict):
            await _request(store, end=end)
    assert await store.list_standby_requests() == []


async def test_get_standby_request_of_an_unknown_id_is_none(store: Store) -> None:
    assert await store.get_standby_request(4711) is None


async def test_list_standby_requests_newest_first_by_customer_and_status(store: Store) -> None:
    a1 = await _request(store)
    b1 = await _request(store, customer="globex")
    a2 = await _request(store, start=START + 7 * DAY, end=END + 7 * DAY)
    await store.decide_standby_request(a1.id, status="declined", by="anna", reason="no engineer", now=T0 + HOUR)
    assert [r.id for r in await store.list_standby_requests()] == [a2.id, b1.id, a1.id]
    assert [r.id for r in await store.list_standby_requests("acme")] == [a2.id, a1.id]
    assert [r.id for r in await store.list_standby_requests("acme", status="pending")] == [a2.id]
    assert [r.id for r in await store.list_standby_requests(status="declined")] == [a1.id]
    assert [r.id for r in await store.list_standby_requests(limit=1)] == [a2.id]
    assert await store.list_standby_requests("nobody") == []


async def test_decide_standby_request_declines_or_withdraws_once(store: Store) -> None:
    r = await _request(store)
    d = await store.decide_standby_request(r.id, status="declined", by="anna", reason="no engineer", now=T0 + HOUR)
    assert (d.status, d.decided_by, d.decided_at, d.reason, d.booking_id) == (
        "declined", "anna", T0 + HOUR, "no engineer", None,
    )  # fmt: skip
    for status in ("declined", "withdrawn"):
        with pytest.raises(Conflict):
            await store.decide_standby_request(r.id, status=status, by="jan", reason=None, now=T0 + 2 * HOUR)
    with pytest.raises(Conflict):
        await store.confirm_standby_request(r.id, by="anna", now=T0 + 2 * HOUR)
    assert await store.get_standby_request(r.id) == d
    assert await store.list_bookings(include_cancelled=True) == []
    w = await store.decide_standby_request(
        (await _request(store)).id, status="withdrawn", by="jan@acme.example", reason=None, now=T0
    )
    assert (w.status, w.decided_by) == ("withdrawn", "jan@acme.example")


async def test_decide_standby_request_refuses_other_states_and_unknown_ids(store: Store) -> None:
    r = await _request(store)
    for status in ("confirmed", "pending", "bogus"):
        with pytest.raises(ValueError):
            await store.decide_standby_request(r.id, status=status, by="anna", reason=None, now=T0)
    with pytest.raises(NotFound):
        await store.decide_standby_request(r.id + 100, status="declined", by="anna", reason=None, now=T0)
    assert (await store.get_standby_request(r.id)).status == "pending"  # type: ignore[union-attr]


async def test_confirm_standby_request_makes_the_booking_as_add_booking_does(store: Store) -> None:
    r = await _request(store)
    confirmed, booking = await store.confirm_standby_request(r.id, by="anna", now=T0 + HOUR)
    assert (confirmed.status, confirmed.decided_by, confirmed.decided_at, confirmed.booking_id) == (
        "confirmed", "anna", T0 + HOUR, booking.id,
    )  # fmt: skip
    direct = await store.add_booking(customer="acme", start=START, end=END, created_by="anna", now=T0 + HOUR)
    assert {**booking.to_json(), "id": 0} == {**direct.to_json(), "id": 0}
    assert [b.id for b in await store.list_bookings("acme")] == [booking.id, direct.id]
    with pytest.raises(Conflict):
        await store.confirm_standby_request(r.id, by="anna", now=T0 + 2 * HOUR)
    with pytest.raises(NotFound):
        await store.confirm_standby_request(r.id + 100, by="anna", now=T0)
    assert len(await store.list_bookings("acme")) == 2  # neither refusal booked anything


async def test_project_tickets_live_or_recent_of_one_project(store: Store) -> None:
    old = await _new(store, "Old and open", now=T0 - 60 * DAY)
    done = await _new(store, "Old and done", now=T0 - 60 * DAY)
    await store.update_ticket(done.number, {"status": "resolved"}, actor="anna", now=T0 - 50 * DAY)
    late = await _new(store, "Old, resolved lately", now=T0 - 60 * DAY)
    await store.update_ticket(late.number, {"status": "resolved"}, actor="anna", now=T0 - DAY)
    new = await _new(store, "New", now=T0)
    other = await _new(store, "Intranet", project="acme/intranet", now=T0)
    got = await store.project_tickets("acme/webshop", since=T0 - 7 * DAY)
    assert [t.number for t in got] == [new.number, late.number, old.number]
    assert other.number not in [t.number for t in await store.project_tickets("acme/webshop", since=T0 - 99 * DAY)]
    assert len(await store.project_tickets("acme/webshop", since=T0 - 99 * DAY)) == 4
    assert [t.number for t in await store.project_tickets("acme/webshop", since=T0, limit=1)] == [new.number]
    assert await store.project_tickets("nobody/none", since=T0 - 99 * DAY) == []


async def test_project_tickets_of_one_requester(store: Store) -> None:
    jan = await _new(store, "Jan's", requester=Requester(contact="acme.jan", email="jan@acme.example"))
    sara = await _new(store, "Sara's", requester=Requester(contact="acme.sara", email="sara@acme.example"))
    by_mail = await _new(store, "Jan's mail", requester=Requester(email="jan@acme.example"))
    elsewhere = await _new(store, "Jan's intranet", project="acme/intranet", requester=Requester(contact="acme.jan"))
    mine = RequestedBy(email="jan@acme.example", contacts=("acme.jan",))
    got = await store.project_tickets("acme/webshop", since=T0 - DAY, requested_by=mine)
    assert [t.number for t in got] == [by_mail.number, jan.number]
    everyone = await store.project_tickets("acme/webshop", since=T0 - DAY)
    assert [t.number for t in everyone] == [by_mail.number, sara.number, jan.number]
    assert elsewhere.number not in [t.number for t in got]
    sara_only = RequestedBy(email="sara@acme.example", contacts=("acme.sara",))
    assert [t.number for t in await store.project_tickets("acme/webshop", since=T0 - DAY, requested_by=sara_only)] == [
        sara.number
    ]


async def test_get_issued_statement_reads_without_issuing(store: Store) -> None:
    assert await store.get_issued_statement("acme", "2026-10") is None
    assert await store.get_issued_statement("acme", "2026-10") is None  # reading twice issues nothing
    issued = await store.issue_statement("acme", "2026-10", now=T0)
    assert await store.get_issued_statement("acme", "2026-10") == issued
    assert await store.get_issued_statement("globex", "2026-10") is None
    other = await store.issue_statement("globex", "2026-10", now=T0)
    assert other.number == "2026-10-0002"  # no number was taken by the reads
