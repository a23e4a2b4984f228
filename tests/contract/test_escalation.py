"""EscalationStore: the reads and simple writes whose behaviour is settled. The step, breach, response
and delivery methods are listed as PENDING in test_port.py (they are being reworked)."""
from __future__ import annotations

from datetime import timedelta

from pager.domain.incident import State
from pager.storage.port import Store

from .seed import T0, open_incident, route


# -- unrouted_incidents / create_escalation ---------------------------------------------------------

async def test_unrouted_incidents_are_the_triggered_ones_without_an_escalation(store: Store) -> None:
    assert await store.unrouted_incidents() == []
    a = await open_incident(store, "a")
    b = await open_incident(store, "b")
    c = await open_incident(store, "c")
    await store.transition(c, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    rows = await store.unrouted_incidents()
    assert [(r["id"], r["generation"], r["dedup_key"]) for r in rows] == [(a, 0, "a"), (b, 0, "b")]
    await route(store, a, "acme/webshop", T0)
    assert [r["id"] for r in await store.unrouted_incidents()] == [b]
    assert [r["id"] for r in await store.unrouted_incidents(limit=0)] == []


async def test_create_escalation_once_per_generation_and_only_while_triggered(store: Store) -> None:
    iid = await open_incident(store, "a")
    kw = dict(incident_id=iid, generation=0, project="acme/webshop", rotation=None, policy={"name": "default"},
              status="waiting", next_at=T0 + timedelta(hours=1), target_seconds=1800, reason="test", now=T0)
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
    assert (row["round"].incident_id, row["round"].generation, row["project"], row["escalation"]) == (
        iid, 0, "acme/webshop", "waiting")
    assert row["round"].first_page_at is None and row["round"].answer is None
    assert await store.rounds_of(424242) == []


async def test_due_escalations_are_those_whose_time_has_come(store: Store) -> None:
    a = await open_incident(store, "a")
    b = await open_incident(store, "b")
    for iid, at in ((a, T0 + timedelta(minutes=10)), (b, T0 + timedelta(minutes=5))):
        assert await store.create_escalation(incident_id=iid, generation=0, project="acme/webshop", rotation=None,
                                             policy={"name": "default"}, status="waiting", next_at=at,
                                             target_seconds=1800, reason="test", now=T0)
    assert await store.due_escalations(T0) == []
    assert [e["incident_id"] for e in await store.due_escalations(T0 + timedelta(minutes=5))] == [b]
    assert [e["incident_id"] for e in await store.due_escalations(T0 + timedelta(hours=1))] == [b, a]  # by due time


# -- the outbox: queue_message, due_messages, message, sent_since, last_message_to ---------------------

async def _queue(store: Store, key: str, due_in: timedelta = timedelta(0)) -> bool:
    return await store.queue_message(idem_key=key, person="chris", channel="sms", address="+31612345003",
                                     kind="handover", subject="s", body=f"body {key}", due_at=T0 + due_in, now=T0)


async def test_queue_message_once_per_idempotency_key(store: Store) -> None:
    assert await _queue(store, "handover:1") is True
    assert await _queue(store, "handover:1") is False
    assert len(await store.due_messages(T0)) == 1


async def test_due_messages_are_the_pending_ones_due(store: Store) -> None:
    assert await store.due_messages(T0) == []
    await _queue(store, "later", timedelta(minutes=5))
    await _queue(store, "now")
    assert [m["body"] for m in await store.due_messages(T0)] == ["body now"]
    due = await store.due_messages(T0 + timedelta(minutes=5))
    assert [m["body"] for m in due] == ["body later", "body now"]  # in the order queued
    assert (due[1]["channel"], due[1]["address"], due[1]["kind"], due[1]["incident_id"]) == (
        "sms", "+31612345003", "handover", None)


async def test_message_answers_a_queued_message_or_none(store: Store) -> None:
    assert await store.message(424242) is None
    await _queue(store, "now")
    (m,) = await store.due_messages(T0)
    msg = await store.message(m["id"])
    assert msg is not None
    assert (msg["id"], msg["status"], msg["carrier"], msg["incident_ids"]) == (m["id"], "pending", m["id"], [])


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
    assert beats["watchdog"].startswith("2026-11-25T14:01")


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
