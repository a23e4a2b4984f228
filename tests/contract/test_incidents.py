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
