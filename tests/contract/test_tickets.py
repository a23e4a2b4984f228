"""TicketStore: requests and incidents in one numbered series, their timeline, status moves, search,
time entries, paging a request, auto-close, and the desk's contacts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pager.domain.alert import Action
from pager.domain.incident import State
from pager.storage.port import (
    TARGET_ENTRY_KINDS,
    Attachment,
    Conflict,
    NotFound,
    RequestedBy,
    Requester,
    Store,
    TargetFact,
)

from .seed import T0, delivery

HOUR = timedelta(hours=1)
JAN = Requester(contact="acme.jan", name="Jan Pietersen", email="jan@acme.example", phone="+31201234567")


async def _new(store: Store, subject: str = "Checkout hangs", **kw):
    args = dict(
        subject=subject,
        body="The customer called: the checkout hangs after payment.",
        via="phone",
        customer="acme",
        project="acme/webshop",
        requester=JAN,
        priority="normal",
        assignee=None,
        watchers=(),
        attachments=(),
        actor="anna",
        now=T0,
    )
    args.update(kw)
    return await store.create_ticket(**args)


async def test_create_ticket_answers_the_stored_request_with_its_first_entry(store: Store) -> None:
    pdf = Attachment(name="screen.png", type="image/png", size=1234, sha256="a" * 64)
    t = await _new(store, watchers=("bram",), assignee="anna", attachments=(pdf,))
    assert (t.number, t.kind, t.status, t.priority, t.project, t.customer) == (
        1,
        "request",
        "new",
        "normal",
        "acme/webshop",
        "acme",
    )
    assert (t.requester, t.assignee, t.watchers, t.via, t.created_at, t.resolved_at) == (
        JAN,
        "anna",
        ("bram",),
        "phone",
        T0,
        None,
    )
    assert [(e.kind, e.actor, e.public, e.data["text"]) for e in t.timeline] == [
        ("created", "anna", True, "The customer called: the checkout hangs after payment.")
    ]
    assert t.attachments == (pdf,)
    j = t.to_json()
    assert j["requester"] == {
        "contact": "acme.jan",
        "name": "Jan Pietersen",
        "email": "jan@acme.example",
        "phone": "+31201234567",
    }
    assert j["timeline"][0]["public"] is True


async def test_create_ticket_numbers_requests_and_incidents_in_one_series(store: Store) -> None:
    first = await store.ingest(delivery("db-down", Action.TRIGGER, T0))
    assert first.incident_ids == [1]
    req = await _new(store)
    second = await store.ingest(delivery("web-down", Action.TRIGGER, T0 + HOUR))
    assert (req.number, second.incident_ids) == (2, [3])
    rows = await store.list_tickets()
    assert [(t.number, t.kind) for t in rows] == [(3, "incident"), (2, "request"), (1, "incident")]
    inc = await store.get_ticket(3)
    assert inc is not None and (inc.subject, inc.via, inc.status) == ("web-down is down", "alert", "new")
    assert (await store.get_incident(3)) is not None and (await store.get_incident(2)) is None


async def test_get_ticket_of_an_incident_follows_it_and_merges_its_events_as_internal(store: Store) -> None:
    await store.ingest(delivery("db-down", Action.TRIGGER, T0))
    await store.transition(
        1,
        State.ACKNOWLEDGED,
        actor="anna",
        via="api",
        comment=None,
        now=T0 + HOUR,
    )
    t = await store.get_ticket(1)
    assert t is not None and t.status == "open"
    await store.add_ticket_reply(
        1, actor="anna", text="We are on it.", from_customer=False, via="api", attachments=(), now=T0 + 2 * HOUR
    )
    t = await store.get_ticket(1)
    assert t is not None
    assert [(e.kind, e.public) for e in t.timeline] == [
        ("opened", False),
        ("alerts_received", False),
        ("acknowledged", False),
        ("reply", True),
    ]
    assert await store.get_ticket(99) is None


async def test_get_tickets_answers_each_as_get_ticket_does_in_the_order_asked(store: Store) -> None:
    await _new(store, "Checkout hangs")
    await store.ingest(delivery("db-down", Action.TRIGGER, T0))
    third = await _new(store, "Invoice wrong", customer=None, project=None)
    await store.add_ticket_note(third.number, actor="anna", text="Probably acme's.", now=T0 + HOUR)
    got = await store.get_tickets([3, 99, 1, 2])
    assert got == [await store.get_ticket(3), await store.get_ticket(1), await store.get_ticket(2)]
    assert [(t.number, t.kind, len(t.timeline)) for t in got] == [
        (3, "request", 2),
        (1, "request", 1),
        (2, "incident", 2),
    ]
    assert await store.get_tickets([]) == []


async def test_list_tickets_filters_by_status_project_customer_triage_and_pages(store: Store) -> None:
    a = await _new(store)
    b = await _new(store, project=None, customer=None, subject="Who am I")
    c = await _new(store, project="acme/intranet")
    await store.update_ticket(c.number, {"status": "open"}, actor="anna", now=T0)
    assert [t.number for t in await store.list_tickets(status="new")] == [b.number, a.number]
    assert [t.number for t in await store.list_tickets(project="acme/webshop")] == [a.number]
    assert [t.number for t in await store.list_tickets(customer="acme")] == [c.number, a.number]
    assert [t.number for t in await store.list_tickets(triage=True)] == [b.number]
    assert [t.number for t in await store.list_tickets(limit=1)] == [c.number]
    assert [t.number for t in await store.list_tickets(before=c.number)] == [b.number, a.number]


async def test_list_tickets_of_one_requester_by_contact_or_address(store: Store) -> None:
    jan = await _new(store, requester=Requester(contact="acme.jan", email="jan@acme.example"))
    other_address = await _new(store, requester=Requester(contact="acme.jan", email="j.p@acme.example"))
    address_only = await _new(store, requester=Requester(name="Jan", email="Jan@Acme.example"))
    sara = await _new(store, requester=Requester(contact="acme.sara", email="sara@acme.example"))
    nobody = await _new(store, requester=Requester())
    by_phone = await _new(store, requester=Requester(phone="+31201234567"), subject="Phone")
    mine = RequestedBy(email="jan@acme.example", contacts=("acme.jan",))
    expected = [address_only.number, other_address.number, jan.number]
    assert [t.number for t in await store.list_tickets(customer="acme", requested_by=mine)] == expected
    # no contact ids: by its address alone; neither: nobody's
    by_address = RequestedBy(email="jan@acme.example")
    assert [t.number for t in await store.list_tickets(requested_by=by_address)] == [address_only.number, jan.number]
    assert await store.list_tickets(requested_by=RequestedBy(email="nobody@acme.example")) == []
    # it narrows the other filters and the search, never widens them
    assert [t.number for t in await store.list_tickets(requested_by=mine, limit=1)] == [address_only.number]
    assert [t.number for t in await store.list_tickets(requested_by=mine, customer="globex")] == []
    assert [t.number for t in await store.list_tickets(requested_by=mine, q="checkout")] == expected
    assert await store.list_tickets(requested_by=mine, q="Phone") == []
    # a hostile address or id is a value, never SQL
    hostile = RequestedBy(email="x' OR 1=1 --", contacts=("') OR 1=1 --", '"]'))
    assert await store.list_tickets(requested_by=hostile) == []
    assert {sara.number, nobody.number, by_phone.number} <= {t.number for t in await store.list_tickets()}


async def test_list_tickets_by_assignee_or_unassigned(store: Store) -> None:
    a = await _new(store)
    b = await _new(store, subject="Second")
    c = await _new(store, subject="Third")
    await store.update_ticket(a.number, {"assignee": "bram"}, actor="anna", now=T0)
    await store.update_ticket(c.number, {"assignee": "anna"}, actor="anna", now=T0)
    assert [t.number for t in await store.list_tickets(assignee="bram")] == [a.number]
    assert [t.number for t in await store.list_tickets(assignee="none")] == [b.number]
    assert [t.number for t in await store.list_tickets(assignee="anna", status="new")] == [c.number]
    assert await store.list_tickets(assignee="nobody-such") == []
    assert [t.number for t in await store.list_tickets(assignee="none", q="Second")] == [b.number]


async def test_list_tickets_searches_subjects_replies_and_notes_literally(store: Store) -> None:
    a = await _new(store, subject="Mailbox full", body="Inbox of Piet is vol")
    b = await _new(store, subject="Checkout hangs", body="after payment")
    await store.add_ticket_note(b.number, actor="anna", text="varnish cache purge helped", now=T0)
    await store.add_ticket_reply(
        a.number, actor="anna", text="Quota raised to 10 GB", from_customer=False, via="api", attachments=(), now=T0
    )
    assert [t.number for t in await store.list_tickets(q="checkout")] == [b.number]
    assert [t.number for t in await store.list_tickets(q="Varnish")] == [b.number]
    assert [t.number for t in await store.list_tickets(q="quota GB")] == [a.number]
    assert [t.number for t in await store.list_tickets(q="quota checkout")] == []  # every word
    assert [t.number for t in await store.list_tickets(q="piet")] == [a.number]
    # query syntax is taken literally, never an error
    for hostile in ('"', "NEAR(", "a OR", "*", "-", "col:x", "')--", "\x00"):
        await store.list_tickets(q=hostile)
    assert [t.number for t in await store.list_tickets(q="checkout", status="closed")] == []


async def test_ticket_target_entries_answers_a_requests_replies_notes_and_status_moves_in_timeline_order(
    store: Store,
) -> None:
    a = await _new(store, "Checkout hangs", assignee="anna")
    await store.update_ticket(a.number, {"status": "waiting_on_customer"}, actor="anna", now=T0)  # same instant
    await store.add_ticket_reply(
        a.number, actor="Jan", text="Still broken", from_customer=True, via="phone", attachments=(), now=T0 + HOUR
    )
    await store.update_ticket(a.number, {"assignee": "bram"}, actor="anna", now=T0 + HOUR)  # not a target's
    await store.add_ticket_note(a.number, actor="bram", text="Looking.", now=T0 + 2 * HOUR)
    await store.ingest(delivery("db-down", Action.TRIGGER, T0))  # an incident: left out
    quiet = await _new(store, "Invoice wrong")  # only its `created` entry: ()
    got = await store.ticket_target_entries([99, quiet.number, 2, a.number])
    full = await store.get_ticket(a.number)
    assert full is not None
    expected = tuple(e for e in full.timeline if e.kind in TARGET_ENTRY_KINDS)
    assert got == {a.number: expected, quiet.number: ()}
    assert [(e.kind, e.data.get("to"), e.data.get("from_customer")) for e in expected] == [
        ("status", "waiting_on_customer", None),
        ("reply", None, True),
        ("status", "open", None),  # the customer's reply reopened it
        ("note", None, None),
    ]
    assert await store.ticket_target_entries([]) == {}


async def test_add_ticket_reply_from_the_customer_reopens_waiting_and_resolved(store: Store) -> None:
    t = await _new(store)
    await store.update_ticket(t.number, {"status": "waiting_on_customer"}, actor="anna", now=T0)
    r = await store.add_ticket_reply(
        t.number, actor="Jan", text="Still broken", from_customer=True, via="phone", attachments=(), now=T0 + HOUR
    )
    assert r.status == "open" and r.updated_at == T0 + HOUR
    await store.update_ticket(t.number, {"status": "resolved"}, actor="anna", now=T0 + 2 * HOUR)
    r = await store.add_ticket_reply(
        t.number, actor="anna", text="Fixed", from_customer=False, via="api", attachments=(), now=T0 + 3 * HOUR
    )
    assert r.status == "resolved"  # the desk's own reply moves nothing
    r = await store.add_ticket_reply(
        t.number, actor="Jan", text="Not fixed", from_customer=True, via="email", attachments=(), now=T0 + 4 * HOUR
    )
    assert r.status == "open" and r.resolved_at is None
    assert [e.kind for e in r.timeline if e.public] == [
        "created",
        "status",
        "reply",
        "status",
        "status",
        "reply",
        "reply",
        "status",
    ]
    await store.update_ticket(t.number, {"status": "closed"}, actor="anna", now=T0 + 5 * HOUR)
    with pytest.raises(Conflict):
        await store.add_ticket_reply(
            t.number, actor="Jan", text="again", from_customer=True, via="email", attachments=(), now=T0 + 6 * HOUR
        )
    with pytest.raises(NotFound):
        await store.add_ticket_reply(99, actor="a", text="x", from_customer=False, via="api", attachments=(), now=T0)


async def test_add_ticket_note_is_internal(store: Store) -> None:
    t = await _new(store)
    n = await store.add_ticket_note(t.number, actor="anna", text="customer is difficult", now=T0 + HOUR)
    assert [(e.kind, e.public, e.data) for e in n.timeline][-1] == ("note", False, {"text": "customer is difficult"})
    assert n.status == "new"
    with pytest.raises(NotFound):
        await store.add_ticket_note(99, actor="anna", text="x", now=T0)


async def test_update_ticket_moves_by_the_table_and_records_each_change(store: Store) -> None:
    t = await _new(store)
    u = await store.update_ticket(
        t.number,
        {"assignee": "bram", "priority": "high", "watchers": ("anna",), "subject": "Checkout down"},
        actor="anna",
        now=T0 + HOUR,
    )
    assert (u.assignee, u.priority, u.watchers, u.subject) == ("bram", "high", ("anna",), "Checkout down")
    assert [(e.kind, e.public) for e in u.timeline[1:]] == [
        ("priority", False),
        ("assignee", False),
        ("watchers", False),
        ("subject", True),
    ]
    u = await store.update_ticket(t.number, {"status": "resolved"}, actor="anna", now=T0 + 2 * HOUR)
    assert (u.status, u.resolved_at) == ("resolved", T0 + 2 * HOUR)
    with pytest.raises(Conflict, match="allowed: closed, open"):
        await store.update_ticket(t.number, {"status": "waiting_on_customer"}, actor="anna", now=T0 + 3 * HOUR)
    u = await store.update_ticket(t.number, {"project": None, "customer": None}, actor="anna", now=T0 + 3 * HOUR)
    assert (u.project, u.customer, u.status) == (None, None, "resolved")
    with pytest.raises(NotFound):
        await store.update_ticket(99, {"status": "open"}, actor="anna", now=T0)


async def test_add_ticket_time_stores_typed_minutes(store: Store) -> None:
    t = await _new(store)
    e = await store.add_ticket_time(t.number, kind="billable", minutes=45, by="anna", note="config change", now=T0)
    assert (e.kind, e.minutes, e.by, e.note, e.at) == ("billable", 45, "anna", "config change", T0)
    await store.add_ticket_time(t.number, kind="covered", minutes=15, by="bram", note=None, now=T0)
    d = await store.get_ticket(t.number)
    assert d is not None and [(x.kind, x.minutes) for x in d.time] == [("billable", 45), ("covered", 15)]
    assert [e.public for e in d.timeline if e.kind == "time"] == [False, False]
    with pytest.raises(NotFound):
        await store.add_ticket_time(99, kind="covered", minutes=1, by="a", note=None, now=T0)


async def test_customer_ticket_time_answers_the_entries_in_the_range_of_the_customers_tickets(store: Store) -> None:
    a = await _new(store, "Checkout hangs")
    b = await _new(store, "New SSL certificate")
    other = await _new(store, "Other customer", customer="globex", project="globex/site")
    triage = await _new(store, "Unknown sender", customer=None, project=None)
    await store.add_ticket_time(b.number, kind="billable", minutes=20, by="anna", note=None, now=T0 + HOUR)
    await store.add_ticket_time(a.number, kind="covered", minutes=15, by="bram", note="x", now=T0)
    await store.add_ticket_time(a.number, kind="callout", minutes=60, by="bram", note=None, now=T0 + 2 * HOUR)
    await store.add_ticket_time(a.number, kind="billable", minutes=30, by="anna", note=None, now=T0 - HOUR)  # before
    await store.add_ticket_time(
        a.number, kind="billable", minutes=45, by="anna", note=None, now=T0 + 3 * HOUR
    )  # at end
    await store.add_ticket_time(other.number, kind="billable", minutes=10, by="anna", note=None, now=T0)
    await store.add_ticket_time(triage.number, kind="billable", minutes=10, by="anna", note=None, now=T0)
    got = await store.customer_ticket_time("acme", T0, T0 + 3 * HOUR)
    assert [(e.number, e.subject, e.kind, e.minutes, e.by, e.at) for e in got] == [
        (a.number, "Checkout hangs", "covered", 15, "bram", T0),
        (a.number, "Checkout hangs", "callout", 60, "bram", T0 + 2 * HOUR),
        (b.number, "New SSL certificate", "billable", 20, "anna", T0 + HOUR),
    ]
    assert got[0].note == "x"
    assert [e.number for e in await store.customer_ticket_time("globex", T0, T0 + HOUR)] == [other.number]
    assert await store.customer_ticket_time("nobody", T0 - HOUR, T0 + 4 * HOUR) == []
    # a ticket moved to triage belongs to no customer's time any more
    await store.update_ticket(b.number, {"project": None, "customer": None}, actor="anna", now=T0)
    assert [e.number for e in await store.customer_ticket_time("acme", T0, T0 + 3 * HOUR)] == [a.number, a.number]


async def test_page_ticket_makes_the_request_an_incident_on_its_own_number(store: Store) -> None:
    await store.ingest(delivery("db-down", Action.TRIGGER, T0))
    t = await _new(store)
    p = await store.page_ticket(
        t.number, labels={"customer": "acme", "project": "webshop"}, severity="critical", actor="anna", now=T0 + HOUR
    )
    assert (p.number, p.kind, p.status) == (2, "incident", "open")
    inc = await store.get_incident(2)
    assert inc is not None and (inc.source, inc.state, inc.summary, inc.severity) == (
        "desk",
        "triggered",
        "Checkout hangs",
        "critical",
    )
    assert [u.id for u in await store.unrouted_incidents()] == [1, 2]
    nxt = await store.ingest(delivery("web-down", Action.TRIGGER, T0 + 2 * HOUR))
    assert nxt.incident_ids == [3]
    with pytest.raises(Conflict):
        await store.page_ticket(2, labels={}, severity="critical", actor="anna", now=T0)
    triage = await _new(store, project=None, customer=None)
    with pytest.raises(Conflict, match="no project"):
        await store.page_ticket(triage.number, labels={}, severity="critical", actor="anna", now=T0)
    with pytest.raises(NotFound):
        await store.page_ticket(99, labels={}, severity="critical", actor="anna", now=T0)


async def test_close_resolved_closes_what_was_resolved_before(store: Store) -> None:
    a = await _new(store)
    b = await _new(store)
    await store.update_ticket(a.number, {"status": "resolved"}, actor="anna", now=T0)
    await store.update_ticket(b.number, {"status": "resolved"}, actor="anna", now=T0 + 2 * HOUR)
    assert await store.close_resolved(T0 + HOUR, now=T0 + 3 * HOUR) == [a.number]
    got = await store.get_ticket(a.number)
    assert got is not None and got.status == "closed"
    assert (got.timeline[-1].kind, got.timeline[-1].actor, got.timeline[-1].data) == (
        "status",
        "pagerd",
        {"from": "resolved", "to": "closed"},
    )
    assert await store.close_resolved(T0 + HOUR, now=T0 + 4 * HOUR) == []


async def test_add_contact_and_list_contacts(store: Store) -> None:
    c = await store.add_contact(
        id="acme.d1",
        customer="acme",
        name="Piet",
        emails=("Piet@Acme.example",),
        phone="+31612345699",
        language="en",
        created_by="anna",
        now=T0,
    )
    assert (c.id, c.customer, c.name, c.emails, c.phone, c.language, c.created_by, c.created_at) == (
        "acme.d1",
        "acme",
        "Piet",
        ("piet@acme.example",),
        "+31612345699",
        "en",
        "anna",
        T0,
    )
    with pytest.raises(Conflict):
        await store.add_contact(
            id="acme.d1", customer="acme", name="X", emails=(), phone=None, language="nl", created_by="a", now=T0
        )
    await store.add_contact(
        id="globex.d1", customer="globex", name="G", emails=(), phone=None, language="nl", created_by="a", now=T0
    )
    assert [x.id for x in await store.list_contacts()] == ["acme.d1", "globex.d1"]
    assert await store.list_contacts("acme") == [c]


async def test_list_contacts_survive_a_restart(make_store) -> None:
    s = make_store()
    await s.open()
    await s.add_contact(id="x", customer="acme", name="X", emails=(), phone=None, language="nl", created_by="a", now=T0)
    await _new(s)
    await s.close()
    s = make_store()
    await s.open()
    try:
        assert [c.id for c in await s.list_contacts()] == ["x"]
        assert [t.number for t in await s.list_tickets()] == [1]
    finally:
        await s.close()


async def test_index_tickets_makes_new_incidents_searchable_once(store: Store) -> None:
    await store.ingest(delivery("varnish-down", Action.TRIGGER, T0))
    req = await _new(store, subject="Varnish question")
    assert [t.number for t in await store.list_tickets(q="varnish")] == [req.number]  # a request at once
    assert await store.index_tickets() == 1
    assert [t.number for t in await store.list_tickets(q="varnish")] == [req.number, 1]
    await store.ingest(delivery("varnish-slow", Action.TRIGGER, T0 + HOUR))
    await store.ingest(delivery("db-slow", Action.TRIGGER, T0 + HOUR))
    assert await store.index_tickets(limit=1) == 1
    assert await store.index_tickets() == 1
    assert await store.index_tickets() == 0
    assert [t.number for t in await store.list_tickets(q="varnish")] == [3, req.number, 1]


async def test_index_tickets_adds_the_subject_to_the_document_an_entry_made_before_it(store: Store) -> None:
    await store.ingest(delivery("haproxy-down", Action.TRIGGER, T0))  # ticket 1, its subject not indexed yet
    await store.add_ticket_reply(
        1, actor="anna", text="Balancer restarted", from_customer=False, via="api", attachments=(), now=T0
    )
    assert [t.number for t in await store.list_tickets(q="balancer")] == [1]
    assert [t.number for t in await store.list_tickets(q="haproxy")] == []
    assert await store.index_tickets() == 1
    assert [t.number for t in await store.list_tickets(q="balancer")] == [1]  # the entry's text is kept
    assert [t.number for t in await store.list_tickets(q="haproxy")] == [1]


# -- request targets: which requests the engine judges, and their facts written once ----------------


async def test_due_target_tickets_answers_live_requests_changed_since_judged_or_due(store: Store) -> None:
    a = await _new(store, "First")
    b = await _new(store, "Second")
    done = await _new(store, "Resolved")
    await store.update_ticket(done.number, {"status": "resolved"}, actor="anna", now=T0)
    # never judged: every live request is due; a resolved one never
    assert sorted(await store.due_target_tickets(T0)) == [a.number, b.number]
    await store.record_target_facts(a.number, [], next_at=T0 + HOUR, now=T0)
    await store.record_target_facts(b.number, [], next_at=None, now=T0)  # nothing due until it changes
    assert await store.due_target_tickets(T0) == []
    assert await store.due_target_tickets(T0 + HOUR) == [a.number]  # its instant has come
    assert await store.due_target_tickets(T0 + 1000 * HOUR) == [a.number]
    # a change of the ticket (any new timeline entry) makes it due again
    await store.add_ticket_reply(
        b.number, actor="jan", text="Any news?", from_customer=True, via="api", attachments=(), now=T0
    )
    assert sorted(await store.due_target_tickets(T0)) == [b.number]
    assert await store.due_target_tickets(T0 + HOUR, limit=1) in ([a.number], [b.number])


async def test_due_target_tickets_leaves_incidents_out(store: Store) -> None:
    t = await _new(store)
    await store.page_ticket(t.number, labels={"project": "acme/webshop"}, severity="critical", actor="anna", now=T0)
    assert await store.due_target_tickets(T0) == []


async def test_record_target_facts_writes_each_fact_once_as_an_internal_entry(store: Store) -> None:
    t = await _new(store)
    risk = TargetFact(target="first_response", fact="at_risk", due=T0 + HOUR)
    breach = TargetFact(target="first_response", fact="breached", due=T0 + 2 * HOUR)
    assert await store.record_target_facts(t.number, [risk], next_at=T0 + 2 * HOUR, now=T0 + HOUR) == [risk]
    # asked again (a clock stepped back, a second tick): nothing new
    assert await store.record_target_facts(t.number, [risk, breach], next_at=None, now=T0 + 3 * HOUR) == [breach]
    assert await store.record_target_facts(t.number, [risk, breach], next_at=None, now=T0 + 4 * HOUR) == []
    got = await store.get_ticket(t.number)
    assert got is not None
    marks = [e for e in got.timeline if e.kind.startswith("target_")]
    assert [(e.kind, e.public, e.actor, dict(e.data)) for e in marks] == [
        ("target_at_risk", False, "pagerd", {"target": "first_response", "due": "2026-11-25T15:00:00.000000Z"}),
        ("target_breached", False, "pagerd", {"target": "first_response", "due": "2026-11-25T16:00:00.000000Z"}),
    ]
    assert [e.at for e in marks] == [T0 + HOUR, T0 + 3 * HOUR]
    # the other target's facts are its own
    other = TargetFact(target="resolution", fact="at_risk", due=T0)
    assert await store.record_target_facts(t.number, [other], next_at=None, now=T0) == [other]
    # writing its own entries does not make the ticket due again
    assert await store.due_target_tickets(T0 + 4 * HOUR) == []


async def test_record_target_facts_unknown_ticket_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.record_target_facts(999, [], next_at=None, now=T0)


async def test_rejudge_request_targets_makes_every_live_request_due_again(store: Store) -> None:
    a = await _new(store, "First")
    b = await _new(store, "Second")
    done = await _new(store, "Resolved")
    await store.update_ticket(done.number, {"status": "resolved"}, actor="anna", now=T0)
    await store.record_target_facts(a.number, [], next_at=T0 + HOUR, now=T0)
    await store.record_target_facts(b.number, [], next_at=None, now=T0)
    assert await store.due_target_tickets(T0) == []
    assert await store.rejudge_request_targets() == 2
    assert sorted(await store.due_target_tickets(T0)) == [a.number, b.number]
    assert await store.rejudge_request_targets() == 0  # nothing left to reset


async def test_list_tickets_search_with_filters_answers_exactly_the_matching_tickets_newest_first(
    store: Store,
) -> None:
    """Every combination of filters with a search answers what a plain reading of the tickets does: the
    tickets that pass the filters and hold every word, newest first, a page at a time."""
    import random

    rnd = random.Random(14)
    vocab = ["varnish", "checkout", "quota", "dns", "backup", "invoice"]
    projects = ["acme/webshop", "acme/intranet", None]
    made: dict[int, tuple[str, str | None, set[str]]] = {}
    for _ in range(40):
        words = {rnd.choice(vocab) for _ in range(3)}
        subject, body = " ".join(sorted(words)[:2]), " ".join(sorted(words)[2:]) or "hallo"
        project = rnd.choice(projects)
        t = await _new(store, subject, body=body, project=project, customer="acme" if project else None)
        status = rnd.choice(["new", "new", "open", "resolved"])
        if status != "new":
            await store.update_ticket(t.number, {"status": "open"}, actor="anna", now=T0)
        if status == "resolved":
            await store.update_ticket(t.number, {"status": "resolved"}, actor="anna", now=T0)
        made[t.number] = (status, project, set(subject.split()) | set(body.split()))
    for status in (None, "new", "open", "resolved", "closed"):
        for project in (None, "acme/webshop", "acme/intranet", "none"):
            for q in ("varnish", "checkout quota", "DNS", "nothing"):
                for limit, before in ((100, None), (3, None), (100, 25)):
                    want = [
                        n
                        for n, (s, p, w) in sorted(made.items(), reverse=True)
                        if status in (None, s)
                        and (project is None or (p is None if project == "none" else p == project))
                        and set(q.lower().split()) <= w
                        and (before is None or n < before)
                    ][:limit]
                    got = await store.list_tickets(
                        status=status,
                        project=project if project != "none" else None,
                        triage=project == "none",
                        q=q,
                        limit=limit,
                        before=before,
                    )
                    assert [t.number for t in got] == want, (status, project, q, limit, before)
