"""IncidentStore: reads, manual transitions and notes. (Ingest itself is still tested in
tests/unit/test_store.py; see PENDING in test_port.py.)"""
from __future__ import annotations

from datetime import timedelta

import pytest

from pager.domain.alert import Source
from pager.domain.incident import State
from pager.storage.port import Conflict, NotFound, Store

from .seed import T0, open_incident


# -- get_incident -----------------------------------------------------------------------------------

async def test_get_incident_answers_the_incident_its_alerts_and_timeline(store: Store) -> None:
    iid = await open_incident(store, "web1", summary="web1 is down")
    inc = await store.get_incident(iid)
    assert inc is not None
    assert (inc["id"], inc["state"], inc["source"], inc["dedup_key"], inc["summary"], inc["alert_count"]) == (
        iid, "triggered", "alertmanager", "web1", "web1 is down", 1)
    assert [a["fingerprint"] for a in inc["alerts"]] == ["fp-1"]
    assert inc["timeline"] and all({"at", "kind", "actor", "data"} <= set(e) for e in inc["timeline"])


async def test_get_incident_unknown_is_none(store: Store) -> None:
    assert await store.get_incident(424242) is None


# -- list_incidents ---------------------------------------------------------------------------------

async def test_list_incidents_newest_first_with_filters(store: Store) -> None:
    a = await open_incident(store, "a", T0)
    b = await open_incident(store, "b", T0 + timedelta(minutes=1))
    c = await open_incident(store, "c", T0 + timedelta(minutes=2), source=Source.NAGIOS)
    await store.transition(b, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    assert [i["id"] for i in await store.list_incidents()] == [c, b, a]
    assert [i["id"] for i in await store.list_incidents(state="triggered")] == [c, a]
    assert [i["id"] for i in await store.list_incidents(source="nagios")] == [c]
    assert [i["id"] for i in await store.list_incidents(limit=2)] == [c, b]
    assert [i["id"] for i in await store.list_incidents(before_id=c)] == [b, a]
    assert [i["id"] for i in await store.list_incidents(since=T0 + timedelta(minutes=1))] == [c, b]
    assert await store.list_incidents(state="resolved") == []


async def test_list_incidents_of_an_empty_store_is_empty(store: Store) -> None:
    assert await store.list_incidents() == []


# -- count_by_state ---------------------------------------------------------------------------------

async def test_count_by_state(store: Store) -> None:
    assert await store.count_by_state() == {}
    a = await open_incident(store, "a")
    await open_incident(store, "b")
    await store.transition(a, State.RESOLVED, actor="anna", via="api", comment=None, now=T0)
    assert await store.count_by_state() == {"triggered": 1, "resolved": 1}


# -- transition -------------------------------------------------------------------------------------

async def test_transition_acknowledge_then_resolve(store: Store) -> None:
    iid = await open_incident(store, "web1")
    inc = await store.transition(iid, State.ACKNOWLEDGED, actor="anna", via="api", comment="on it", now=T0)
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == "anna"
    assert inc["timeline"][-1]["kind"] == "acknowledged"
    inc = await store.transition(iid, State.RESOLVED, actor="anna", via="cli", comment=None, now=T0)
    assert inc["state"] == "resolved" and inc["resolved_by"] == "anna"


async def test_transition_to_the_same_state_changes_nothing(store: Store) -> None:
    iid = await open_incident(store, "web1")
    first = await store.transition(iid, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    again = await store.transition(iid, State.ACKNOWLEDGED, actor="bram", via="api", comment=None,
                                   now=T0 + timedelta(minutes=1))
    assert again == first


async def test_transition_not_allowed_is_a_conflict(store: Store) -> None:
    iid = await open_incident(store, "web1")
    await store.transition(iid, State.RESOLVED, actor="anna", via="api", comment=None, now=T0)
    with pytest.raises(Conflict):
        await store.transition(iid, State.ACKNOWLEDGED, actor="x", via="api", comment=None, now=T0)


async def test_transition_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.transition(424242, State.RESOLVED, actor="x", via="api", comment=None, now=T0)


# -- add_note ---------------------------------------------------------------------------------------

async def test_add_note_goes_on_the_timeline(store: Store) -> None:
    iid = await open_incident(store, "web1")
    inc = await store.add_note(iid, actor="anna", text="root cause: full disk", now=T0)
    assert (inc["timeline"][-1]["kind"], inc["timeline"][-1]["actor"], inc["timeline"][-1]["data"]["text"]) == (
        "note", "anna", "root cause: full disk")


async def test_add_note_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.add_note(424242, actor="anna", text="x", now=T0)


# -- retention: prune, pruned_at, mark_pruned --------------------------------------------------------

async def test_prune_forgets_old_delivery_ids_and_keeps_the_incident(store: Store) -> None:
    from pager.domain.alert import Action
    from pager.storage.port import Pruned

    from .seed import delivery
    old = delivery("web1", Action.TRIGGER, T0 - timedelta(days=31))
    first = await store.ingest(old)
    assert (await store.ingest(old)).duplicates == 1
    fresh = delivery("web2", Action.TRIGGER, T0)
    await store.ingest(fresh)
    cutoff = T0 - timedelta(days=30)
    assert await store.prune(cutoff, cutoff, 100) == Pruned(bodies=1, delivery_ids=1)
    assert await store.prune(cutoff, cutoff, 100) == Pruned(bodies=0, delivery_ids=0)  # nothing left to take
    again = await store.ingest(old)  # its id was pruned: applied again, to the same open incident
    assert again.duplicates == 0 and again.incident_ids == first.incident_ids
    assert (await store.ingest(fresh)).duplicates == 1  # younger than the cutoff: still known
    assert (await store.get_incident(first.incident_ids[0])) is not None


async def test_prune_takes_at_most_limit_rows_of_each_kind(store: Store) -> None:
    from pager.domain.alert import Action

    from .seed import delivery
    for n in range(3):
        await store.ingest(delivery(f"k{n}", Action.TRIGGER, T0 - timedelta(days=40, minutes=n)))
    cutoff = T0 - timedelta(days=30)
    first = await store.prune(cutoff, cutoff, 2)
    assert (first.bodies, first.delivery_ids) == (2, 2)
    rest = await store.prune(cutoff, cutoff, 2)
    assert (rest.bodies, rest.delivery_ids) == (1, 1)


async def test_pruned_at_and_mark_pruned_survive_a_restart(make_store) -> None:
    s = make_store()
    await s.open()
    assert await s.pruned_at() is None
    await s.mark_pruned(T0)
    assert await s.pruned_at() == T0
    await s.close()
    s = make_store()
    await s.open()
    try:
        assert await s.pruned_at() == T0
    finally:
        await s.close()


async def test_mark_pruned_keeps_the_latest_run(store: Store) -> None:
    await store.mark_pruned(T0)
    await store.mark_pruned(T0 + timedelta(minutes=5))
    assert await store.pruned_at() == T0 + timedelta(minutes=5)
