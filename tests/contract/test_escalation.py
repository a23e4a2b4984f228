"""EscalationStore: routing, escalation steps, response targets, the outbox and heartbeats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pager.domain import messages
from pager.domain.alert import Action
from pager.domain.incident import Group, State
from pager.service.paging import page_summary
from pager.storage.port import Breach, CallbackClaim, DeliveryUpdate, NotFound, RoundsPaged, Store

from .seed import T0, notification, open_incident, resolve_alert, route

# -- unrouted_incidents / create_escalation ---------------------------------------------------------


async def test_unrouted_incidents_are_the_triggered_ones_without_an_escalation(store: Store) -> None:
    assert await store.unrouted_incidents() == []
    a = await open_incident(store, "a")
    b = await open_incident(store, "b")
    c = await open_incident(store, "c")
    await store.transition(c, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    rows = await store.unrouted_incidents()
    assert [(r.id, r.generation, r.dedup_key) for r in rows] == [(a, 0, "a"), (b, 0, "b")]
    assert (rows[0].source, rows[0].summary, rows[0].labels["alertname"]) == ("alertmanager", "a is down", "a")
    await route(store, a, "acme/webshop", T0)
    assert [r.id for r in await store.unrouted_incidents()] == [b]
    assert [r.id for r in await store.unrouted_incidents(limit=0)] == []


async def test_create_escalation_once_per_generation_and_only_while_triggered(store: Store) -> None:
    iid = await open_incident(store, "a")
    kw = dict(
        incident_id=iid,
        generation=0,
        project="acme/webshop",
        rotation=None,
        policy={"name": "default"},
        status="waiting",
        next_at=T0 + timedelta(hours=1),
        target_seconds=1800,
        reason="test",
        now=T0,
    )
    assert await store.create_escalation(**kw) is True
    assert await store.create_escalation(**kw) is False
    other = await open_incident(store, "b")
    await store.transition(other, State.RESOLVED, actor="anna", via="api", comment=None, now=T0)
    assert await store.create_escalation(**{**kw, "incident_id": other}) is False
    assert await store.create_escalation(**{**kw, "incident_id": 424242}) is False


# -- rounds_of / due_escalations --------------------------------------------------------------------


async def test_rounds_of_answers_one_round_per_generation_in_order(store: Store) -> None:
    iid = await open_incident(store, "a")
    assert await store.rounds_of(iid) == []
    await route(store, iid, "acme/webshop", T0, paged=False)
    rows = await store.rounds_of(iid)
    assert len(rows) == 1
    row = rows[0]
    assert (row.round.incident_id, row.round.generation, row.project, row.escalation) == (
        iid,
        0,
        "acme/webshop",
        "waiting",
    )
    assert row.round.first_page_at is None and row.round.answer is None
    # what the engine does next, and by which policy: the waiting round's desk notice is due at T0
    assert (row.next_at, row.policy, row.step) == (T0, {"name": "default", "steps": []}, -1)
    assert (row.hold, row.maintenance_id) == (None, None)
    assert await store.rounds_of(424242) == []


async def test_due_escalations_are_those_whose_time_has_come(store: Store) -> None:
    a = await open_incident(store, "a")
    b = await open_incident(store, "b")
    for iid, at in ((a, T0 + timedelta(minutes=10)), (b, T0 + timedelta(minutes=5))):
        assert await store.create_escalation(
            incident_id=iid,
            generation=0,
            project="acme/webshop",
            rotation=None,
            policy={"name": "default"},
            status="waiting",
            next_at=at,
            target_seconds=1800,
            reason="test",
            now=T0,
        )
    assert await store.due_escalations(T0) == []
    assert [e.incident_id for e in await store.due_escalations(T0 + timedelta(minutes=5))] == [b]
    assert [e.incident_id for e in await store.due_escalations(T0 + timedelta(hours=1))] == [b, a]  # by due time
    esc = (await store.due_escalations(T0 + timedelta(minutes=5)))[0]
    assert (esc.generation, esc.project, esc.rotation, esc.policy, esc.status, esc.step, esc.next_at) == (
        0,
        "acme/webshop",
        None,
        {"name": "default"},
        "waiting",
        -1,
        T0 + timedelta(minutes=5),
    )
    assert (esc.first_page_at, esc.deadline_at, esc.breached_at, esc.created_at) == (None, None, None, T0)
    assert (esc.state, esc.summary, esc.labels["alertname"]) == ("triggered", "b is down", "b")


# -- the outbox: queue_message, due_messages, message, sent_since, last_message_to ---------------------


async def _queue(store: Store, key: str, due_in: timedelta = timedelta(0)) -> bool:
    return await store.queue_message(
        idem_key=key,
        person="chris",
        channel="sms",
        address="+31612345003",
        kind="handover",
        subject="s",
        body=f"body {key}",
        due_at=T0 + due_in,
        now=T0,
    )


async def test_queue_message_once_per_idempotency_key(store: Store) -> None:
    assert await _queue(store, "handover:1") is True
    assert await _queue(store, "handover:1") is False
    assert len(await store.due_messages(T0)) == 1


async def test_due_messages_are_the_pending_ones_due(store: Store) -> None:
    assert await store.due_messages(T0) == []
    await _queue(store, "later", timedelta(minutes=5))
    await _queue(store, "now")
    assert [m.body for m in await store.due_messages(T0)] == ["body now"]
    due = await store.due_messages(T0 + timedelta(minutes=5))
    assert [m.body for m in due] == ["body later", "body now"]  # in the order queued
    assert (due[1].channel, due[1].address, due[1].kind, due[1].incident_id) == (
        "sms",
        "+31612345003",
        "handover",
        None,
    )
    assert (due[0].due_at, due[0].state, due[0].summary, due[0].project, due[0].alert_count) == (
        T0 + timedelta(minutes=5),
        None,
        None,
        None,
        None,
    )


async def test_due_messages_over_the_limit_are_the_longest_due_in_the_order_queued(store: Store) -> None:
    """More due than one tick takes: those due first go first (the rest in the next tick), handed on in the
    order they were queued."""
    for key, due_in in (("c", -1), ("a", -3), ("d", 0), ("b", -2)):
        await _queue(store, key, timedelta(minutes=due_in))
    assert [m.body for m in await store.due_messages(T0, limit=3)] == ["body c", "body a", "body b"]
    assert [m.body for m in await store.due_messages(T0, limit=10)] == ["body c", "body a", "body d", "body b"]
    assert await store.due_messages(T0, limit=0) == []


async def test_message_answers_a_queued_message_or_none(store: Store) -> None:
    assert await store.message(424242) is None
    await _queue(store, "now")
    (m,) = await store.due_messages(T0)
    msg = await store.message(m.id)
    assert msg is not None
    assert (msg.id, msg.status, msg.carrier, msg.incident_ids) == (m.id, "pending", m.id, ())


async def test_sent_since_is_empty_before_anything_is_sent(store: Store) -> None:
    await _queue(store, "now")
    assert await store.sent_since("+31612345003", "sms", T0 - timedelta(hours=1)) == []


async def test_last_message_to_is_none_before_anything_is_sent(store: Store) -> None:
    await _queue(store, "now")
    assert await store.last_message_to("+31612345003") is None


async def test_open_incidents_paged_to_is_empty_before_anything_is_sent(store: Store) -> None:
    await open_incident(store, "a")
    assert await store.open_incidents_paged_to("+31612345003") == []


# -- heartbeats -------------------------------------------------------------------------------------


async def test_beat_keeps_the_last_one_per_name(store: Store) -> None:
    await store.beat("watchdog", "alertmanager", T0)
    await store.beat("watchdog", "alertmanager", T0 + timedelta(minutes=1))
    await store.beat("backup", "url", T0)
    beats = await store.heartbeats()
    assert set(beats) == {"watchdog", "backup"}
    assert beats == {"watchdog": T0 + timedelta(minutes=1), "backup": T0}


async def test_heartbeats_of_an_empty_store_is_empty(store: Store) -> None:
    assert await store.heartbeats() == {}


async def test_outbox_backlog_counts_due_unsent_messages_per_channel(store: Store) -> None:
    empty = await store.outbox_backlog(T0)
    assert (dict(empty.pending), empty.oldest_due_at) == ({}, None)
    assert await _queue(store, "now")
    assert await _queue(store, "later", due_in=timedelta(minutes=5))
    backlog = await store.outbox_backlog(T0 + timedelta(minutes=1))
    assert (dict(backlog.pending), backlog.oldest_due_at) == ({"sms": 1}, T0)
    backlog = await store.outbox_backlog(T0 + timedelta(minutes=5))
    assert dict(backlog.pending) == {"sms": 2}


# -- fire_step --------------------------------------------------------------------------------------


def _page(
    iid: int,
    k: int,
    channel: str = "sms",
    due_in: timedelta = timedelta(0),
    person: str = "anna",
    address: str = "+31612345001",
) -> dict:
    return {
        "idem_key": f"{iid}:0:{k}:{person}:{channel}",
        "person": person,
        "channel": channel,
        "address": address,
        "kind": "page",
        "subject": "",
        "body": f"page {iid}",
        "due_at": T0 + due_in,
    }


async def _step(
    store: Store, iid: int, k: int, messages: list[dict], *, at=T0, next_at=None, final_status: str | None = None
) -> bool:
    return await store.fire_step(
        incident_id=iid,
        generation=0,
        k=k,
        next_at=next_at,
        messages=messages,
        now=at,
        first_page=k == 0,
        deadline=at + timedelta(minutes=30) if k == 0 else None,
        escalate_at=None,
        early=False,
        event={"kind": "paging", "step": k},
        final_status=final_status,
    )


async def _paged(store: Store, key: str, messages=None, *, address: str = "+31612345001") -> int:
    """An incident whose escalation fired step 0 at T0 with `messages` (default: one sms to `address`, due now)."""
    iid = await open_incident(store, key)
    assert await store.create_escalation(
        incident_id=iid,
        generation=0,
        project="acme/webshop",
        rotation="standby",
        policy={"name": "default"},
        status="active",
        next_at=T0,
        target_seconds=1800,
        reason="test",
        now=T0,
    )
    msgs = messages(iid) if messages else [_page(iid, 0, address=address)]
    assert await _step(store, iid, 0, msgs, next_at=T0 + timedelta(minutes=15))
    return iid


async def test_fire_step_queues_its_messages_and_moves_the_escalation_on(store: Store) -> None:
    iid = await _paged(store, "a", lambda i: [_page(i, 0), _page(i, 0, "email", timedelta(minutes=5))])
    assert [(m.incident_id, m.channel, m.kind) for m in await store.due_messages(T0)] == [(iid, "sms", "page")]
    (m,) = await store.due_messages(T0)
    assert (m.due_at, m.attempts, m.state, m.summary, m.project) == (T0, 0, "triggered", "a is down", "acme/webshop")
    assert m.alert_count == 1  # of its incident: a page of a group of alerts summarises the group
    assert len(await store.due_messages(T0 + timedelta(minutes=5))) == 2
    (rnd,) = await store.rounds_of(iid)
    assert (rnd.round.first_page_at, rnd.step, rnd.escalation) == (T0, 0, "active")
    assert rnd.next_at == T0 + timedelta(minutes=15)  # the next step, as fire_step set it
    assert [e.incident_id for e in await store.due_escalations(T0 + timedelta(minutes=15))] == [iid]
    assert (await store.get_incident(iid)).timeline[-1].kind == "paging"


async def test_fire_step_twice_writes_once(store: Store) -> None:
    iid = await _paged(store, "a")
    assert await _step(store, iid, 0, [_page(iid, 0)]) is False  # step 0 again: already taken
    assert await _step(store, iid, 2, [_page(iid, 2)]) is False  # not the next step
    assert len(await store.due_messages(T0)) == 1
    assert [e.kind for e in (await store.get_incident(iid)).timeline].count("paging") == 1
    assert await _step(store, iid, 1, [_page(iid, 1)], final_status="done") is True
    assert await _step(store, iid, 2, [_page(iid, 2)]) is False  # done: no more steps
    assert (await store.rounds_of(iid))[0].escalation == "done"


async def test_fire_step_queues_a_message_once_per_idempotency_key(store: Store) -> None:
    iid = await _paged(store, "a")
    assert await _step(store, iid, 1, [_page(iid, 0)]) is True  # step 1 carries step 0's message again
    assert len(await store.due_messages(T0)) == 1


async def test_fire_step_of_a_settled_incident_pages_nobody(store: Store) -> None:
    iid = await open_incident(store, "a")
    assert await store.create_escalation(
        incident_id=iid,
        generation=0,
        project="acme/webshop",
        rotation="standby",
        policy={"name": "default"},
        status="active",
        next_at=T0,
        target_seconds=1800,
        reason="test",
        now=T0,
    )
    await store.transition(iid, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    assert await _step(store, iid, 0, [_page(iid, 0)]) is False
    assert await store.due_messages(T0) == [] and await store.due_escalations(T0 + timedelta(hours=1)) == []


def _first_step(iid: int, escalate_at=None) -> dict:
    """fire_step's keywords (but the incident, generation and `now`) of step 0 at T0: an SMS now and an
    e-mail 5 minutes later to anna, the next step at T0+15m, the response deadline at T0+30m."""
    return dict(
        k=0,
        next_at=T0 + timedelta(minutes=15),
        messages=[_page(iid, 0), _page(iid, 0, "email", timedelta(minutes=5))],
        first_page=True,
        deadline=T0 + timedelta(minutes=30),
        escalate_at=escalate_at,
        early=False,
        event={"kind": "paging", "step": 0, "round": 0, "people": ["anna"], "notes": [], "messages": 2},
        final_status=None,
    )


async def test_create_escalation_with_its_first_step_writes_what_create_then_fire_step_write(store: Store) -> None:
    """`first_step`: an incident that pages at once gets its escalation and its first step in one
    transaction, the same rows and events as create_escalation and then fire_step; nothing of either
    when the incident is no longer triggered or the escalation exists."""
    esc = dict(
        generation=0,
        project="acme/webshop",
        rotation="standby",
        policy={"name": "default"},
        status="active",
        next_at=T0,
        target_seconds=1800,
        reason="test",
        now=T0,
    )

    def first(iid: int) -> dict:
        return _first_step(iid, escalate_at=T0 + timedelta(minutes=20))

    together = await open_incident(store, "together")
    apart = await open_incident(store, "apart")
    assert await store.create_escalation(incident_id=together, **esc, first_step=first(together)) is True
    assert await store.create_escalation(incident_id=apart, **esc) is True
    assert await store.fire_step(incident_id=apart, generation=0, now=T0, **first(apart)) is True

    def seen(iid: int, rounds, messages, incident) -> tuple:
        (r,) = rounds
        return (
            (r.step, r.escalation, r.next_at, r.round.first_page_at, r.round.target, r.round.at_risk_at),
            sorted((m.channel, m.due_at, m.kind, m.address) for m in messages if m.incident_id == iid),
            [(e.kind, e.at, dict(e.data)) for e in incident.timeline if e.actor == "pagerd"],
        )

    later = T0 + timedelta(minutes=5)
    due = await store.due_messages(later)
    assert seen(together, await store.rounds_of(together), due, await store.get_incident(together)) == seen(
        apart, await store.rounds_of(apart), due, await store.get_incident(apart)
    )
    assert len([m for m in due if m.incident_id == together]) == 2
    assert [e.incident_id for e in await store.due_escalations(T0)] == []  # step 0 taken: next at T0+15m

    # again: the escalation exists, nothing more is written
    assert await store.create_escalation(incident_id=together, **esc, first_step=first(together)) is False
    assert len([m for m in await store.due_messages(later) if m.incident_id == together]) == 2
    # a settled incident: neither the escalation nor its step
    acked = await open_incident(store, "acked")
    await store.transition(acked, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    assert await store.create_escalation(incident_id=acked, **esc, first_step=first(acked)) is False
    assert await store.rounds_of(acked) == []
    assert [m for m in await store.due_messages(later) if m.incident_id == acked] == []


async def test_create_escalations_writes_each_as_create_escalation_would_in_one_transaction(store: Store) -> None:
    """A tick's escalations at once: for each, what create_escalation alone returns and writes (its round,
    its pages, its timeline), False for one that exists or whose incident is no longer triggered; each
    routed incident's ticket goes under its project (a customer's, "customer/project") unless it has one."""

    def esc(iid: int, project: str, **kw) -> dict:
        return {
            "incident_id": iid,
            "generation": 0,
            "project": project,
            "rotation": "standby",
            "policy": {"name": "default"},
            "status": "active",
            "next_at": T0,
            "target_seconds": 1800,
            "reason": "test",
            **kw,
        }

    def first(iid: int) -> dict:
        return _first_step(iid)

    desk = [{**_page(0, 0, "email"), "kind": "desk"}]
    batch = [await open_incident(store, f"batch-{i}") for i in range(4)]
    alone = [await open_incident(store, f"alone-{i}") for i in range(4)]
    for iids in (batch, alone):  # the third is acknowledged before it is routed
        await store.transition(iids[2], State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    existing = await open_incident(store, "existing")
    await route(store, existing, "acme/webshop", T0)

    def kinds(iid: int) -> list[dict]:
        return [
            esc(iid, "acme/webshop", first_step=first(iid)),
            esc(iid, "agency", status="waiting", hold="urgency", messages=[{**desk[0], "idem_key": f"{iid}:desk"}]),
            esc(iid, "acme/webshop", first_step=first(iid)),
            esc(iid, "acme/intranet"),
        ]

    written = await store.create_escalations(
        [k for i, iid in enumerate(batch) for k in [kinds(iid)[i]]] + [esc(existing, "acme/intranet")], T0
    )
    assert written == [True, True, False, True, False]
    assert [await store.create_escalation(**kinds(iid)[i], now=T0) for i, iid in enumerate(alone)] == written[:4]
    assert await store.create_escalations([], T0) == []

    def seen(rounds, messages, incident, ticket) -> tuple:
        return (
            [(r.step, r.escalation, r.next_at, r.round.first_page_at, r.project, r.hold) for r in rounds],
            sorted((m.channel, m.due_at, m.kind, m.address) for m in messages if m.incident_id == incident.id),
            [(e.kind, e.at, dict(e.data)) for e in incident.timeline if e.actor == "pagerd"],
            (ticket.project, ticket.customer),
        )

    later = T0 + timedelta(minutes=5)
    due = await store.due_messages(later)
    for a, b in zip(batch, alone, strict=True):
        got = [
            seen(await store.rounds_of(i), due, await store.get_incident(i), await store.get_ticket(i)) for i in (a, b)
        ]
        assert got[0] == got[1]
    tickets = [await store.get_ticket(i) for i in [*batch, existing]]
    assert [(t.project, t.customer) for t in tickets] == [
        ("acme/webshop", "acme"),
        (None, None),  # "agency": not a customer's project
        (None, None),  # not routed
        ("acme/intranet", "acme"),
        ("acme/webshop", "acme"),  # routed before: its escalation and ticket as they were
    ]
    assert [r.project for r in await store.rounds_of(existing)] == ["acme/webshop"]
    # one round twice in a tick's list: the first is written, the second is the round that exists
    twice = await open_incident(store, "twice")
    assert await store.create_escalations([esc(twice, "acme/webshop"), esc(twice, "acme/intranet")], T0) == [
        True,
        False,
    ]
    assert [r.project for r in await store.rounds_of(twice)] == ["acme/webshop"]
    assert [e.kind for e in (await store.get_incident(twice)).timeline].count("routed") == 1


async def test_alert_texts_are_what_a_page_says_of_each_incident(store: Store) -> None:
    """One read for a tick's bundles: each incident's summary and its alerts' texts in the order they
    came, each firing or not; a page says of them what it says of the incident's whole detail."""
    group = Group("g", resolved=False)
    alerts = [("g", fp, Action.TRIGGER) for fp in ("a", "b", "c")]
    (several,) = (await store.ingest(notification(alerts, T0, group=group))).incident_ids
    await store.ingest(notification([("g", "b", Action.RESOLVE)], T0 + timedelta(minutes=1), group=group))
    one = await open_incident(store, "web", summary="web is slow")
    texts = await store.alert_texts([one, several, 424242, one])
    assert sorted(texts) == [several, one]  # the unknown id left out
    assert [(a.summary, a.labels["alertname"], a.firing) for a in texts[several].alerts] == [
        ("g a", "g", True),
        ("g b", "g", False),
        ("g c", "g", True),
    ]
    assert (texts[one].summary, [a.summary for a in texts[one].alerts]) == ("web is slow", ["web is slow"])
    for iid in (several, one):
        inc = await store.get_incident(iid)
        assert messages.incident_summary(texts[iid].summary, texts[iid].alerts) == page_summary(inc)
    assert await store.alert_texts([]) == {}


async def test_escalation_work_says_what_each_escalation_stage_would_find(store: Store) -> None:
    """escalation_work(now) in one read: each flag is true exactly when its stage's own read finds work."""

    async def agrees(now) -> tuple[bool, bool, bool, bool]:
        w = await store.escalation_work(now)
        assert w.steps == bool(await store.due_escalations(now))
        return (w.settled, w.steps, w.breaches, w.answered)

    assert await agrees(T0) == (False, False, False, False)
    iid = await _paged(store, "a")  # step 0 at T0, the next at T0+15m, the deadline T0+30m
    assert await agrees(T0) == (False, False, False, False)
    assert await agrees(T0 + timedelta(minutes=15)) == (False, True, False, False)
    assert await agrees(T0 + timedelta(minutes=31)) == (False, True, True, False)
    assert len(await store.record_breaches(T0 + timedelta(minutes=31))) == 1
    assert await agrees(T0 + timedelta(minutes=31)) == (False, True, False, False)

    await store.transition(iid, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    # the stop stage has work (the acknowledgement may have stopped the escalation already: then only to
    # see that), and then none
    work = await store.escalation_work(T0)
    assert work.settled is True
    assert await store.stop_settled(T0) in ([], [iid])
    assert (await store.escalation_work(T0)).settled is False
    assert work.answered is True and len(await store.unobserved_responses()) == 1
    assert await agrees(T0 + timedelta(minutes=31)) == (False, False, False, False)

    # deferred to the office opening, and the incident's severity is not the one it was decided on: due now
    held = await open_incident(store, "held")
    assert await store.create_escalation(
        incident_id=held,
        generation=0,
        project="acme/webshop",
        rotation="office",
        policy={"name": "default"},
        status="waiting",
        next_at=T0 + timedelta(hours=18),
        target_seconds=1800,
        reason="test",
        now=T0,
        hold="urgency",
        severity="not the incident's",
    )
    assert await agrees(T0) == (False, True, False, False)


async def test_routing_state_is_the_three_lists_in_one_read(store: Store) -> None:
    h = timedelta(hours=1)
    empty = await store.routing_state(T0)
    assert (empty.bookings, empty.maintenance, empty.overrides) == ([], [], [])
    for start, end in ((T0 - 2 * h, T0 - h), (T0 - h, T0 + h), (T0 + h, T0 + 2 * h)):  # ended, running, to come
        await store.add_booking(customer="acme", start=start, end=end, created_by="anna", now=T0)
        await store.add_maintenance(
            customer=None, project="acme/webshop", match={}, start=start, end=end, reason="r", created_by="anna", now=T0
        )
        await store.add_override(
            rotation="standby", start=start, end=end, person="dewi", replaces=None, created_by="anna", now=T0
        )
    cancelled = await store.add_booking(customer="acme", start=T0, end=T0 + h, created_by="anna", now=T0)
    await store.cancel_booking(cancelled.id, by="anna", now=T0)
    state = await store.routing_state(T0)
    assert state.bookings == await store.list_bookings(ending_after=T0)
    assert state.maintenance == await store.list_maintenance(ending_after=T0)
    assert state.overrides == await store.list_overrides()
    assert (len(state.bookings), len(state.maintenance), len(state.overrides)) == (2, 2, 3)


# -- stop_settled -----------------------------------------------------------------------------------


async def test_stop_settled_leaves_no_queued_page_or_due_step_of_a_settled_incident(store: Store) -> None:
    def later(i: int) -> list[dict]:
        return [_page(i, 0, due_in=timedelta(minutes=1)), _page(i, 0, "email", timedelta(minutes=5))]

    acked = await _paged(store, "acked", later)
    resolved = await _paged(store, "resolved", later)
    firing = await _paged(store, "firing", later)
    await store.transition(acked, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    await resolve_alert(store, "resolved", T0)
    stopped = await store.stop_settled(T0)
    assert set(stopped) <= {acked, resolved}  # a store may have stopped them at the acknowledgement already
    assert await store.stop_settled(T0) == []  # nothing left to stop
    later_on = T0 + timedelta(hours=1)
    assert {m.incident_id for m in await store.due_messages(later_on)} == {firing}
    assert [e.incident_id for e in await store.due_escalations(later_on)] == [firing]
    assert (await store.rounds_of(acked))[0].escalation == "stopped"
    assert (await store.rounds_of(resolved))[0].escalation == "stopped"


async def test_stop_settled_of_a_store_with_nothing_to_stop_is_empty(store: Store) -> None:
    assert await store.stop_settled(T0) == []
    await _paged(store, "a")
    assert await store.stop_settled(T0) == []


# -- record_breaches / unobserved_responses ---------------------------------------------------------


async def test_record_breaches_once_per_round_past_its_deadline(store: Store) -> None:
    late = await _paged(store, "late")
    answered = await _paged(store, "answered")
    await store.transition(
        answered, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0 + timedelta(minutes=10)
    )
    assert await store.record_breaches(T0 + timedelta(minutes=29)) == []  # the deadline is T0 + 30 min
    at = T0 + timedelta(minutes=31)
    assert await store.record_breaches(at) == [Breach(incident_id=late, round=1, deadline=T0 + timedelta(minutes=30))]
    assert await store.record_breaches(at + timedelta(minutes=1)) == []
    assert [r.breached_at for r in await store.rounds_of(late)] == [at]
    assert [r.breached_at for r in await store.rounds_of(answered)] == [None]
    kinds = [e.kind for e in (await store.get_incident(late)).timeline]
    assert kinds.count("response_target_breached") == 1


async def test_unobserved_responses_answers_each_answered_paged_round_once(store: Store) -> None:
    paged = await _paged(store, "paged")
    never_paged = await open_incident(store, "quiet")
    await route(store, never_paged, "acme/webshop", T0, paged=False)
    assert await store.unobserved_responses() == []
    at = T0 + timedelta(minutes=4)
    await store.transition(paged, State.ACKNOWLEDGED, actor="anna", via="sms", comment=None, now=at)
    await store.transition(never_paged, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=at)
    (rnd,) = await store.unobserved_responses()
    assert (rnd.incident_id, rnd.generation, rnd.first_page_at) == (paged, 0, T0)
    assert rnd.answer is not None and (rnd.answer.at, rnd.answer.by, rnd.answer.via, rnd.answer.kind) == (
        at,
        "anna",
        "sms",
        "acknowledged",
    )
    assert await store.unobserved_responses() == []


# -- escalate_now -----------------------------------------------------------------------------------


async def test_escalate_now_makes_the_next_step_due_now(store: Store) -> None:
    iid = await _paged(store, "a")  # its next step is due at T0 + 15 min
    at = T0 + timedelta(minutes=2)
    assert await store.due_escalations(at) == []
    await store.escalate_now(iid, actor="anna", via="sms", now=at)
    assert [e.incident_id for e in await store.due_escalations(at)] == [iid]
    last = (await store.get_incident(iid)).timeline[-1]
    assert (last.kind, last.actor, last.data) == ("escalate_requested", "anna", {"via": "sms", "active": True})


async def test_escalate_now_of_an_unknown_incident_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.escalate_now(424242, actor="anna", via="sms", now=T0)


# -- defer ------------------------------------------------------------------------------------------


async def test_defer_moves_the_messages_it_is_given_to_the_next_slot(store: Store) -> None:
    a = await _paged(store, "a")
    b = await _paged(store, "b")
    c = await _paged(store, "c", address="+31612345002")
    due = {m.incident_id: m.id for m in await store.due_messages(T0)}
    slot = T0 + timedelta(minutes=1)
    assert await store.defer([due[a], due[b]], slot) == 2
    assert [m.incident_id for m in await store.due_messages(T0)] == [c]
    assert [(m.incident_id, m.due_at) for m in await store.due_messages(slot)] == [(a, slot), (b, slot), (c, T0)]
    assert await store.defer([due[a], due[b]], slot) == 0  # already waiting for it
    assert await store.defer([due[a]], slot - timedelta(seconds=30)) == 0  # never moved earlier
    assert await store.claim_messages(due[c], [due[c]], "c", T0)
    assert await store.defer([due[c]], slot) == 0  # no longer pending: left as it is
    assert [m.incident_id for m in await store.due_messages(slot)] == [a, b]


# -- claim_messages / finish_message / recover_sending ----------------------------------------------


async def _bundle(store: Store) -> tuple[list[int], list[int]]:
    """Three incidents paged by sms to one address: (incident ids, message ids), claimed as one bundle."""
    iids = [await _paged(store, k) for k in ("a", "b", "c")]
    ids = [m.id for m in await store.due_messages(T0)]
    assert await store.claim_messages(ids[0], ids, "3 incidents", T0) is True
    return iids, ids


async def test_claim_messages_makes_the_carrier_sending_and_bundles_the_rest(store: Store) -> None:
    iids, ids = await _bundle(store)
    carrier = await store.message(ids[0])
    assert (carrier.status, carrier.body, carrier.carrier, carrier.incident_ids) == (
        "sending",
        "3 incidents",
        ids[0],
        tuple(iids),
    )
    member = await store.message(ids[1])
    assert (member.status, member.carrier, member.incident_ids) == ("bundled", ids[0], tuple(iids))
    assert await store.due_messages(T0) == []
    assert await store.claim_messages(ids[1], ids[1:], "again", T0) is False  # no longer pending


async def test_claim_messages_of_one_message_sends_it_alone(store: Store) -> None:
    assert await _queue(store, "notice")
    (m,) = await store.due_messages(T0)
    assert await store.claim_messages(m.id, [m.id], m.body, T0) is True
    assert (await store.message(m.id)).status == "sending"
    assert await store.claim_messages(m.id, [m.id], m.body, T0) is False


async def test_finish_message_sent_marks_the_bundle_sent(store: Store) -> None:
    iids, ids = await _bundle(store)
    at = T0 + timedelta(seconds=2)
    await store.finish_message(ids[0], sent=True, provider_id="SM1", error=None, retry_at=None, now=at)
    assert (await store.message(ids[0])).status == "sent"
    assert (await store.message(ids[1])).status == "bundled"  # went out inside the carrier
    assert await store.sent_since("+31612345001", "sms", T0) == [at]
    assert await store.sent_since("+31612345001", "sms", at + timedelta(seconds=1)) == []
    assert (await store.last_message_to("+31612345001")).id == ids[0]
    assert await store.open_incidents_paged_to("+31612345001") == iids
    paged = [e for e in (await store.get_incident(iids[1])).timeline if e.kind == "paged"]
    assert [(e.data["status"], e.data["message_id"], e.data["bundled"]) for e in paged] == [("sent", ids[0], True)]


async def test_finish_message_records_a_result_once(store: Store) -> None:
    """A repeated write of a result (its first commit went through, but the connection broke before the
    answer: pager.service.send_results tries again) and a result for a message that is not `sending` (an
    unknown one, or one put back by recover_sending) change nothing."""
    iids, ids = await _bundle(store)
    at = T0 + timedelta(seconds=2)
    await store.finish_message(ids[0], sent=True, provider_id="SM1", error=None, retry_at=None, now=at)
    await store.finish_message(ids[0], sent=True, provider_id="SM1", error=None, retry_at=None, now=at)
    await store.finish_message(ids[0], sent=False, provider_id=None, error="late", retry_at=None, now=at)
    await store.finish_message(99_999, sent=True, provider_id="SM2", error=None, retry_at=None, now=at)
    m = await store.message(ids[0])
    assert (m.status, m.carrier) == ("sent", ids[0])
    for iid in iids:
        assert len([e for e in (await store.get_incident(iid)).timeline if e.kind == "paged"]) == 1
    assert await store.sent_since("+31612345001", "sms", T0) == [at]


async def test_finish_message_after_recovery_records_the_send_before_it_is_claimed_again(store: Store) -> None:
    """Another node took the engine over and recovered the claimed message while this one was still writing
    its result: the send happened, so the result is recorded and the message is not sent again."""
    _, ids = await _bundle(store)
    assert await store.recover_sending(T0) == 1
    await store.finish_message(ids[0], sent=True, provider_id="SM1", error=None, retry_at=None, now=T0)
    assert (await store.message(ids[0])).status == "sent"
    assert ids[0] not in [m.id for m in await store.due_messages(T0 + timedelta(minutes=1))]


async def test_finish_message_simulated_is_never_sent_and_throttles_as_sent(store: Store) -> None:
    """The dry-run notifier's message: recorded `simulated` (outbox and timeline), and counted by the throttle,
    the bundling and an SMS reply exactly as a sent one (a dry-run node behaves as a real one)."""
    iids, ids = await _bundle(store)
    at = T0 + timedelta(seconds=2)
    await store.finish_message(
        ids[0], sent=True, provider_id="dry-1", error=None, retry_at=None, now=at, simulated=True
    )
    assert (await store.message(ids[0])).status == "simulated"
    assert (await store.message(ids[1])).status == "bundled"
    assert await store.sent_since("+31612345001", "sms", T0) == [at]
    assert (await store.last_message_to("+31612345001")).id == ids[0]
    assert await store.open_incidents_paged_to("+31612345001") == iids
    for iid in iids:
        paged = [e for e in (await store.get_incident(iid)).timeline if e.kind == "paged"]
        assert [e.data["status"] for e in paged] == ["simulated"]


async def test_finish_message_retry_puts_the_whole_bundle_back(store: Store) -> None:
    iids, ids = await _bundle(store)
    retry = T0 + timedelta(seconds=10)
    await store.finish_message(ids[0], sent=False, provider_id=None, error="503", retry_at=retry, now=T0)
    for mid in ids:
        m = await store.message(mid)
        assert (m.status, m.carrier) == ("pending", mid)
    assert await store.due_messages(T0) == []
    assert [m.id for m in await store.due_messages(retry)] == ids
    assert not any(e.kind == "paged" for e in (await store.get_incident(iids[0])).timeline)


async def test_finish_message_retry_moves_the_person_on_at_the_first_failure_only(store: Store) -> None:
    def sms_voice_email(i: int) -> list[dict]:
        return [
            _page(i, 0),
            _page(i, 0, "voice", timedelta(minutes=2)),
            _page(i, 0, "email", timedelta(minutes=10), address="anna@example.com"),
        ]

    iid = await _paged(store, "a", sms_voice_email)
    (sms,) = await store.due_messages(T0)
    assert await store.claim_messages(sms.id, [sms.id], "page", T0)
    await store.finish_message(
        sms.id, sent=False, provider_id=None, error="503", retry_at=T0 + timedelta(seconds=10), now=T0
    )
    # the SMS waits for its retry; the call goes out now instead of in 2 minutes; the e-mail keeps its time
    assert [(m.channel, m.attempts) for m in await store.due_messages(T0)] == [("voice", 0)]
    at = T0 + timedelta(seconds=10)
    assert [(m.channel, m.attempts) for m in await store.due_messages(at)] == [("sms", 1), ("voice", 0)]
    assert await store.claim_messages(sms.id, [sms.id], "page", at)
    await store.finish_message(
        sms.id, sent=False, provider_id=None, error="503", retry_at=at + timedelta(seconds=20), now=at
    )
    # a second failure of the same SMS moves nobody on (the e-mail is still due at 10 minutes)
    assert [m.channel for m in await store.due_messages(at + timedelta(minutes=9))] == ["sms", "voice"]
    assert [m.channel for m in await store.due_messages(T0 + timedelta(minutes=10))] == ["sms", "voice", "email"]
    assert not any(e.kind == "paged" for e in (await store.get_incident(iid)).timeline)


async def test_outbox_backlog_counts_a_message_waiting_for_its_retry_from_its_first_attempt(store: Store) -> None:
    iid = await _paged(store, "a")
    (sms,) = await store.due_messages(T0)
    first = T0 + timedelta(seconds=1)
    assert await store.claim_messages(sms.id, [sms.id], "page", first)
    await store.finish_message(
        sms.id, sent=False, provider_id=None, error="503", now=first, retry_at=first + timedelta(minutes=5)
    )
    later = T0 + timedelta(minutes=3)  # before its retry is due: still backlog, waiting since its first attempt
    backlog = await store.outbox_backlog(later)
    assert (dict(backlog.pending), backlog.oldest_due_at) == ({"sms": 1}, first)
    assert await store.claim_messages(sms.id, [sms.id], "page", first + timedelta(minutes=5))
    await store.finish_message(
        sms.id, sent=True, provider_id="SM1", error=None, retry_at=None, now=first + timedelta(minutes=5)
    )
    backlog = await store.outbox_backlog(first + timedelta(minutes=5))
    assert (dict(backlog.pending), backlog.oldest_due_at) == ({}, None)
    assert iid


async def test_finish_message_failed_fails_the_bundle_and_moves_each_person_on(store: Store) -> None:
    def sms_then_email(i: int) -> list[dict]:
        return [_page(i, 0), _page(i, 0, "email", timedelta(minutes=5), address="anna@example.com")]

    iid = await _paged(store, "a", sms_then_email)
    (sms,) = await store.due_messages(T0)
    assert await store.claim_messages(sms.id, [sms.id], "page", T0)
    at = T0 + timedelta(seconds=3)
    await store.finish_message(sms.id, sent=False, provider_id=None, error="invalid number", retry_at=None, now=at)
    assert (await store.message(sms.id)).status == "failed"
    assert [(m.incident_id, m.channel) for m in await store.due_messages(at)] == [(iid, "email")]
    last = [e for e in (await store.get_incident(iid)).timeline if e.kind == "paged"][-1]
    assert (last.data["status"], last.data["error"]) == ("failed", "invalid number")


async def test_recover_sending_after_a_crash_sends_again_with_the_same_id(make_store) -> None:
    s = make_store()
    await s.open()
    _, ids = await _bundle(s)
    await s.close()  # the process died while the bundle was being sent
    s = make_store()
    await s.open()
    try:
        at = T0 + timedelta(minutes=1)
        assert await s.recover_sending(at) == 1
        assert (await s.message(ids[0])).status == "pending"
        assert ids[0] in [m.id for m in await s.due_messages(at)]
        assert await s.recover_sending(at) == 0
    finally:
        await s.close()


# -- delivery_update --------------------------------------------------------------------------------


async def test_delivery_update_failed_moves_the_person_on(store: Store) -> None:
    def sms_then_email(i: int) -> list[dict]:
        return [_page(i, 0), _page(i, 0, "email", timedelta(minutes=5), address="anna@example.com")]

    iid = await _paged(store, "a", sms_then_email)
    (sms,) = await store.due_messages(T0)
    assert await store.claim_messages(sms.id, [sms.id], "page", T0)
    await store.finish_message(sms.id, sent=True, provider_id="SM1", error=None, retry_at=None, now=T0)
    at = T0 + timedelta(seconds=30)
    assert await store.delivery_update(sms.id, "delivered", failed=False, now=at) == DeliveryUpdate(rows=1, advanced=0)
    assert await store.due_messages(at) == []
    assert await store.delivery_update(sms.id, "undelivered", failed=True, now=at) == DeliveryUpdate(rows=1, advanced=1)
    assert [(m.incident_id, m.channel) for m in await store.due_messages(at)] == [(iid, "email")]
    events = [e for e in (await store.get_incident(iid)).timeline if e.kind == "delivery"]
    assert [(e.actor, e.data["status"]) for e in events] == [("twilio", "delivered"), ("twilio", "undelivered")]


async def test_delivery_update_of_an_unknown_message_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.delivery_update(424242, "delivered", failed=False, now=T0)


# -- rounds_paged: whom each round of an incident reached ---------------------------------------------


async def test_rounds_paged_answers_the_rounds_whose_escalation_reached_the_person(store: Store) -> None:
    iid = await _paged(
        store,
        "web1",
        lambda i: [_page(i, 0, person="anna"), _page(i, 0, "email", person="bram", address="bram@example.com")],
    )
    other = await _paged(store, "db1", lambda i: [_page(i, 0, person="chris", address="+31612345003")])
    assert {m.generation for m in await store.due_messages(T0)} == {0}
    # resolved, then fires again: its second round pages bram only
    await resolve_alert(store, "web1", T0 + timedelta(minutes=10))
    assert await open_incident(store, "web1", T0 + timedelta(minutes=20)) == iid
    at = T0 + timedelta(minutes=21)
    assert await store.create_escalation(
        incident_id=iid,
        generation=1,
        project="acme/webshop",
        rotation="standby",
        policy={"name": "default"},
        status="active",
        next_at=at,
        target_seconds=1800,
        reason="test",
        now=at,
    )
    page = {**_page(iid, 0, person="bram", address="+31612345002"), "idem_key": f"{iid}:1:0:bram:sms", "due_at": at}
    assert await store.fire_step(
        incident_id=iid,
        generation=1,
        k=0,
        next_at=None,
        messages=[page],
        now=at,
        first_page=True,
        deadline=at + timedelta(minutes=30),
        escalate_at=None,
        early=False,
        event={"kind": "paging", "step": 0},
        final_status=None,
    )
    assert [
        (m.incident_id, m.person, m.generation)
        for m in await store.due_messages(at)
        if m.person == "bram" and m.channel == "sms"
    ] == [(iid, "bram", 1)]

    assert await store.rounds_paged("anna", [other, iid]) == [RoundsPaged(iid, 1, (0,)), RoundsPaged(other, 0, ())]
    assert await store.rounds_paged("bram", [iid]) == [RoundsPaged(iid, 1, (0, 1))]  # sent or not
    assert await store.rounds_paged("chris", [iid, other, other]) == [
        RoundsPaged(iid, 1, ()),
        RoundsPaged(other, 0, (0,)),
    ]
    assert await store.rounds_paged("dewi", [iid]) == [RoundsPaged(iid, 1, ())]
    assert await store.rounds_paged("anna", []) == []
    assert await store.rounds_paged("anna", [424242, other]) == [RoundsPaged(other, 0, ())]  # only those that exist


async def test_rounds_paged_leaves_out_messages_of_no_incident(store: Store) -> None:
    assert await _queue(store, "handover")  # to chris, of no incident
    iid = await _paged(store, "a", lambda i: [_page(i, 0, person="chris")])
    assert await store.rounds_paged("chris", [iid]) == [RoundsPaged(iid, 0, (0,))]
    assert [m.generation for m in await store.due_messages(T0) if m.incident_id is None] == [None]


# -- last_message_to after a page and a notice --------------------------------------------------------


async def test_last_message_to_is_the_newest_page_not_a_notice(store: Store) -> None:
    iid = await _paged(store, "a", lambda i: [_page(i, 0, address="+31612345003", person="chris")])
    (page,) = [m for m in await store.due_messages(T0) if m.incident_id == iid]
    assert await store.claim_messages(page.id, [page.id], page.body, T0)
    await store.finish_message(page.id, sent=True, provider_id="SM1", error=None, retry_at=None, now=T0)
    assert await _queue(store, "handover")  # a hand-over SMS to the same phone, sent after the page
    (notice,) = [m for m in await store.due_messages(T0) if m.incident_id is None]
    later = T0 + timedelta(minutes=1)
    assert await store.claim_messages(notice.id, [notice.id], notice.body, later)
    await store.finish_message(notice.id, sent=True, provider_id="SM2", error=None, retry_at=None, now=later)
    last = await store.last_message_to("+31612345003")
    assert (last.id, last.incident_ids) == (page.id, (iid,))


# -- Twilio callbacks: claim_callback, answer_callback ----------------------------------------------


async def test_claim_callback_once_then_every_repeat_gets_the_first_answer(make_store) -> None:
    s = make_store()
    await s.open()
    try:
        assert await s.claim_callback("sms", "SM1", T0) == CallbackClaim(first=True, reply=None)
        # a repeat while the first is being applied: claimed, no answer yet
        assert await s.claim_callback("sms", "SM1", T0) == CallbackClaim(first=False, reply=None)
        await s.answer_callback("sms", "SM1", "<Response><Message>#1 acknowledged</Message></Response>")
        assert await s.claim_callback("sms", "SM1", T0 + timedelta(seconds=5)) == CallbackClaim(
            first=False, reply="<Response><Message>#1 acknowledged</Message></Response>"
        )
        # the key is per kind: the same text under another kind is another callback
        assert (await s.claim_callback("status", "SM1", T0)).first is True
        assert (await s.claim_callback("voice", "SM1", T0)).first is True
        assert (await s.claim_callback("sms", "SM2", T0)).first is True
    finally:
        await s.close()
    s = make_store()  # a restart remembers every claim
    await s.open()
    try:
        assert (await s.claim_callback("sms", "SM1", T0 + timedelta(days=1))).reply == (
            "<Response><Message>#1 acknowledged</Message></Response>"
        )
        assert (await s.claim_callback("status", "SM1", T0)).first is False
    finally:
        await s.close()


async def test_claim_callback_of_an_unknown_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.claim_callback("fax", "x", T0)


async def test_answer_callback_keeps_the_first_answer(store: Store) -> None:
    assert (await store.claim_callback("voice", "CA1:7:1", T0)).first
    await store.answer_callback("voice", "CA1:7:1", "first")
    await store.answer_callback("voice", "CA1:7:1", "second")
    assert (await store.claim_callback("voice", "CA1:7:1", T0)).reply == "first"


async def test_answer_callback_of_an_unclaimed_callback_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.answer_callback("sms", "never-claimed", "x")


# -- held and deferred escalations: create_escalation's hold, due_escalations, reroute_escalation ------


def _alert_delivery(key: str, severity: str, at):
    import json as _json

    from pager.domain.alert import Action, Alert, Source
    from pager.storage.port import Delivery

    alert = Alert(
        source=Source.ALERTMANAGER,
        dedup_key=key,
        fingerprint=key,  # the incident is this one alert: it shows its latest severity
        action=Action.TRIGGER,
        event_id=f"{key}/{severity}/{at.isoformat()}",
        summary=f"{key} is {severity}",
        severity=severity,
        labels={"alertname": key, "customer": "acme", "severity": severity},
        starts_at=at,
    )
    body = _json.dumps({"key": key, "severity": severity, "at": at.isoformat()}).encode()
    return Delivery(Source.ALERTMANAGER, "application/json", body, (alert,), at)


async def _deferred(store: Store, key: str = "disk", severity: str = "warning") -> int:
    (iid,) = (await store.ingest(_alert_delivery(key, severity, T0))).incident_ids
    desk = {
        "idem_key": f"{iid}:0:desk:address",
        "person": None,
        "channel": "email",
        "address": "support@example.nl",
        "kind": "desk",
        "due_at": T0,
    }
    assert await store.create_escalation(
        incident_id=iid,
        generation=0,
        project="acme/webshop",
        rotation="office",
        policy={"name": "default", "steps": []},
        status="waiting",
        next_at=T0 + timedelta(hours=18),
        target_seconds=1800,
        reason="low urgency",
        now=T0,
        hold="urgency",
        severity=severity,
        messages=[desk],
    )
    return iid


async def test_create_escalation_with_a_hold_queues_its_messages_with_the_routed_event(store: Store) -> None:
    iid = await _deferred(store)
    (m,) = await store.due_messages(T0)
    assert (m.incident_id, m.kind, m.channel, m.address) == (iid, "desk", "email", "support@example.nl")
    inc = await store.get_incident(iid)
    routed = [e for e in inc.timeline if e.kind == "routed"]
    assert routed[0].data["hold"] == "urgency" and routed[0].data["paging"] is False
    (row,) = await store.rounds_of(iid)
    assert (row.escalation, row.hold, row.maintenance_id) == ("waiting", "urgency", None)


async def test_due_escalations_include_a_deferred_one_whose_severity_rose(store: Store) -> None:
    iid = await _deferred(store)
    assert await store.due_escalations(T0 + timedelta(minutes=1)) == []
    await store.ingest(_alert_delivery("disk", "critical", T0 + timedelta(minutes=1)))
    (esc,) = await store.due_escalations(T0 + timedelta(minutes=1))
    assert (esc.incident_id, esc.hold, esc.severity, esc.incident_severity) == (iid, "urgency", "warning", "critical")


async def test_reroute_escalation_releases_a_held_one_once(store: Store) -> None:
    iid = await _deferred(store)
    kw = dict(
        incident_id=iid,
        generation=0,
        rotation="standby",
        status="active",
        next_at=T0 + timedelta(minutes=1),
        hold=None,
        maintenance_id=None,
        severity="critical",
        reason="now critical",
        messages=[],
        event={"kind": "urgency_raised", "why": "severity now critical"},
        now=T0 + timedelta(minutes=1),
    )
    assert await store.reroute_escalation(**kw) is True
    (esc,) = await store.due_escalations(T0 + timedelta(minutes=1))
    assert (esc.status, esc.rotation, esc.hold, esc.severity, esc.reason) == (
        "active",
        "standby",
        None,
        "critical",
        "now critical",
    )
    assert await store.reroute_escalation(**kw) is False  # no longer held: nothing written
    inc = await store.get_incident(iid)
    assert [e.data["why"] for e in inc.timeline if e.kind == "urgency_raised"] == ["severity now critical"]


async def test_reroute_escalation_of_a_settled_incident_stops_it(store: Store) -> None:
    iid = await _deferred(store)
    await store.transition(iid, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    ok = await store.reroute_escalation(
        incident_id=iid,
        generation=0,
        rotation="office",
        status="active",
        next_at=T0,
        hold=None,
        maintenance_id=None,
        severity="warning",
        reason="opening",
        messages=[],
        event={"kind": "office_opening"},
        now=T0 + timedelta(hours=18),
    )
    assert ok is False
    assert await store.due_escalations(T0 + timedelta(days=2)) == []
    assert (
        await store.reroute_escalation(
            incident_id=424242,
            generation=0,
            rotation=None,
            status="active",
            next_at=T0,
            hold=None,
            maintenance_id=None,
            severity="",
            reason="",
            messages=[],
            event={"kind": "office_opening"},
            now=T0,
        )
        is False
    )
