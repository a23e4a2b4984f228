"""HotlineStore: calls to the standby number, claimed once by CallSid; the phone ticket, and for a standby
call its incident with the escalation's first step fired at the call; steps dialled, answers, voicemail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pager.storage.port import Conflict, HotlineIncident, NotFound, Requester, Store

from .seed import T0

MIN = timedelta(minutes=1)
JAN = Requester(contact="acme.jan", name="Jan Pietersen", email="jan@acme.example", phone="+31201234567")
POLICY = {
    "name": "default",
    "repeat": 0,
    "steps": [
        {"targets": [{"kind": "oncall", "name": ""}], "wait_seconds": 900},
        {"targets": [{"kind": "desk", "name": ""}], "wait_seconds": 900},
    ],
}


def _ticket(**kw):
    t = dict(
        subject="Standby call from Jan Pietersen",
        body="Jan Pietersen (+31201234567) called the standby number.",
        via="phone",
        customer="acme",
        project="acme/webshop",
        requester=JAN,
        priority="urgent",
        assignee=None,
        watchers=(),
        attachments=(),
        actor="hotline",
    )
    t.update(kw)
    return t


def _incident(**kw) -> HotlineIncident:
    i = dict(
        labels={"customer": "acme", "project": "webshop", "ticket": "1"},
        severity="critical",
        rotation="standby",
        policy=POLICY,
        target_seconds=1800,
        reason="evening_night, project acme/webshop has standby: paging the standby rotation",
        deadline=T0 + 30 * MIN,
        escalate_at=T0 + 15 * MIN,
        next_at=T0 + 15 * MIN,
        early=False,
        people=("bram",),
        notes=(),
        messages=[
            {
                "idem_key": "0:0:0:bram:sms:0",
                "person": "bram",
                "channel": "sms",
                "address": "+31611111111",
                "kind": "page",
                "due_at": T0,
            }
        ],
    )
    i.update(kw)
    return HotlineIncident(**i)  # type: ignore[arg-type]


async def _start(store: Store, sid: str = "CA1", action: str = "standby", **kw):
    args = dict(
        call_sid=sid,
        caller="+31201234567",
        contact="acme.jan",
        customer="acme",
        project="acme/webshop",
        action=action,
        language="nl",
        reason="standby call from Jan Pietersen (acme)",
        now=T0,
    )
    args.update(kw)
    return await store.start_hotline_call(**args)


async def test_start_hotline_call_claims_the_call_once(store: Store) -> None:
    call, first = await _start(store)
    assert first and (call.call_sid, call.action, call.outcome, call.ticket, call.started_at) == (
        "CA1",
        "standby",
        "ringing",
        None,
        T0,
    )
    again, first = await _start(store, action="voicemail", now=T0 + MIN)
    assert not first and again == call  # a retry or replay finds the call as it was
    fwd, _ = await _start(store, "CA2", action="forward", project=None)
    assert fwd.outcome == "forwarded"


async def test_open_hotline_ticket_fires_the_first_step_at_the_call(store: Store) -> None:
    await _start(store)
    call = await store.open_hotline_ticket("CA1", ticket=_ticket(), incident=_incident(), now=T0)
    assert call.ticket == 1
    t = await store.get_ticket(1)
    assert t is not None and (t.kind, t.via, t.status, t.priority, t.project) == (
        "incident",
        "phone",
        "open",
        "urgent",
        "acme/webshop",
    )
    kinds = [e.kind for e in t.timeline]
    assert "call" in kinds and "routed" in kinds and "paging" in kinds
    call_entry = next(e for e in t.timeline if e.kind == "call")
    assert not call_entry.public and call_entry.data["call_sid"] == "CA1"
    rounds = await store.rounds_of(1)
    assert len(rounds) == 1
    r = rounds[0]
    assert (r.project, r.rotation, r.round.first_page_at, r.round.target) == (
        "acme/webshop",
        "standby",
        T0,
        30 * MIN,
    )
    assert await store.unrouted_incidents() == []  # the engine does not route it again
    due = await store.due_messages(T0)
    assert [(m.channel, m.address, m.incident_id) for m in due] == [("sms", "+31611111111", 1)]
    inc = await store.get_incident(1)
    assert inc is not None and inc.labels["ticket"] == "1" and inc.source == "desk"
    # a call-out like any other: the statement finds it by its first page
    [callout] = await store.customer_incidents("acme/", T0 - 60 * MIN, T0 + 60 * MIN)
    assert (callout.incident_id, callout.first_page_at) == (1, T0)
    assert [e.incident_id for e in await store.due_escalations(T0 + 15 * MIN)] == [1]
    with pytest.raises(Conflict):
        await store.open_hotline_ticket("CA1", ticket=_ticket(), incident=None, now=T0)
    with pytest.raises(NotFound):
        await store.open_hotline_ticket("nope", ticket=_ticket(), incident=None, now=T0)


async def test_open_hotline_ticket_without_incident_files_a_request(store: Store) -> None:
    await _start(store, action="voicemail", customer=None, project=None, contact=None)
    call = await store.open_hotline_ticket(
        "CA1",
        ticket=_ticket(customer=None, project=None, requester=Requester(phone="+31209999999")),
        incident=None,
        now=T0,
    )
    t = await store.get_ticket(call.ticket or 0)
    assert t is not None and (t.kind, t.project, t.status) == ("request", None, "new")
    assert await store.get_incident(t.number) is None


async def test_answer_hotline_call_keeps_the_first_reply(store: Store) -> None:
    await _start(store)
    await store.answer_hotline_call("CA1", "<Response>1</Response>")
    await store.answer_hotline_call("CA1", "<Response>2</Response>")
    call = await store.get_hotline_call("CA1")
    assert call is not None and call.reply == "<Response>1</Response>"


async def test_hotline_dial_and_dial_ended_once_each(store: Store) -> None:
    await _start(store)
    await store.open_hotline_ticket("CA1", ticket=_ticket(), incident=None, now=T0)
    assert await store.hotline_dial("CA1", 0, ["bram"], now=T0)
    assert not await store.hotline_dial("CA1", 0, ["eva"], now=T0 + MIN)
    assert await store.hotline_dial_ended("CA1", 0, "no-answer", now=T0 + MIN)
    assert not await store.hotline_dial_ended("CA1", 0, "completed", now=T0 + MIN)
    assert not await store.hotline_dial_ended("CA1", 5, "completed", now=T0 + MIN)
    assert await store.hotline_dial("CA1", 1, ["eva", "anna"], now=T0 + MIN)
    steps = await store.hotline_steps("CA1")
    assert [(s.step, s.people, s.status) for s in steps] == [(0, ("bram",), "no-answer"), (1, ("eva", "anna"), None)]
    t = await store.get_ticket(1)
    assert t is not None
    assert [e.kind for e in t.timeline if e.kind.startswith("call_")] == [
        "call_dialled",
        "call_unanswered",
        "call_dialled",
    ]
    with pytest.raises(NotFound):
        await store.hotline_dial("nope", 0, ["bram"], now=T0)


async def test_hotline_dial_ended_connected_writes_no_unanswered_entry(store: Store) -> None:
    await _start(store)
    await store.open_hotline_ticket("CA1", ticket=_ticket(), incident=None, now=T0)
    await store.hotline_dial("CA1", 0, ["bram"], now=T0)
    assert await store.hotline_dial_ended("CA1", 0, "completed", now=T0 + MIN)
    t = await store.get_ticket(1)
    assert t is not None and not [e for e in t.timeline if e.kind == "call_unanswered"]


async def test_hotline_answered_once(store: Store) -> None:
    await _start(store)
    await store.open_hotline_ticket("CA1", ticket=_ticket(), incident=None, now=T0)
    call, first = await store.hotline_answered("CA1", "bram", now=T0 + MIN)
    assert first and (call.outcome, call.answered_by, call.answered_at) == ("answered", "bram", T0 + MIN)
    call, first = await store.hotline_answered("CA1", "eva", now=T0 + 2 * MIN)
    assert not first and call.answered_by == "bram"
    t = await store.get_ticket(1)
    assert t is not None and [e.actor for e in t.timeline if e.kind == "call_answered"] == ["bram"]
    with pytest.raises(NotFound):
        await store.hotline_answered("nope", "bram", now=T0)


async def test_hotline_voicemail_lands_on_the_ticket_once(store: Store) -> None:
    await _start(store, action="voicemail")
    await store.open_hotline_ticket("CA1", ticket=_ticket(), incident=None, now=T0)
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
    call, first = await store.hotline_voicemail("CA1", recording_sid="RE1", url=url, seconds=42, now=T0 + MIN)
    assert first and (call.outcome, call.recording_url, call.recording_seconds) == ("voicemail", url, 42)
    _, first = await store.hotline_voicemail("CA1", recording_sid="RE1", url=url, seconds=42, now=T0 + 2 * MIN)
    assert not first
    t = await store.get_ticket(1)
    assert t is not None
    vm = [e for e in t.timeline if e.kind == "voicemail"]
    assert len(vm) == 1 and vm[0].data["url"] == url and not vm[0].public
    with pytest.raises(NotFound):
        await store.hotline_voicemail("nope", recording_sid="RE1", url=url, seconds=1, now=T0)


async def test_hotline_hung_up_only_while_ringing(store: Store) -> None:
    await _start(store)
    await _start(store, "CA2")
    await store.open_hotline_ticket("CA1", ticket=_ticket(), incident=None, now=T0)
    assert await store.hotline_hung_up("CA1", now=T0 + MIN)
    assert not await store.hotline_hung_up("CA1", now=T0 + MIN)
    await store.hotline_answered("CA2", "bram", now=T0)
    assert not await store.hotline_hung_up("CA2", now=T0 + MIN)
    c1, c2 = await store.get_hotline_call("CA1"), await store.get_hotline_call("CA2")
    assert c1 is not None and c2 is not None and (c1.outcome, c2.outcome) == ("no_answer", "answered")


async def test_get_hotline_call_unknown_is_none(store: Store) -> None:
    assert await store.get_hotline_call("CA404") is None


async def test_hotline_steps_empty_for_a_new_call(store: Store) -> None:
    await _start(store)
    assert await store.hotline_steps("CA1") == []


async def test_hotline_calls_newest_first_and_by_ticket(store: Store) -> None:
    await _start(store, "CA1")
    await _start(store, "CA2", now=T0 + MIN)
    await store.open_hotline_ticket("CA2", ticket=_ticket(), incident=None, now=T0 + MIN)
    assert [c.call_sid for c in await store.hotline_calls()] == ["CA2", "CA1"]
    assert [c.call_sid for c in await store.hotline_calls(ticket=1)] == ["CA2"]
    assert [c.call_sid for c in await store.hotline_calls(limit=1)] == ["CA2"]


async def test_hotline_survives_a_restart(make_store) -> None:
    s = make_store()
    await s.open()
    await _start(s)
    await s.close()
    s = make_store()
    await s.open()
    try:
        assert (await s.get_hotline_call("CA1")) is not None
    finally:
        await s.close()
