"""IncidentStore: webhook ingest, reads, manual transitions and notes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from pager.domain.alert import Action, Source
from pager.domain.incident import Group, State
from pager.storage.port import Conflict, NotFound, Store

from .seed import T0, notification, open_incident, resolve_alert, route

# -- get_incident -----------------------------------------------------------------------------------


async def test_get_incident_answers_the_incident_its_alerts_and_timeline(store: Store) -> None:
    iid = await open_incident(store, "web1", summary="web1 is down")
    inc = await store.get_incident(iid)
    assert inc is not None
    assert (inc.id, inc.state, inc.source, inc.dedup_key, inc.summary, inc.alert_count) == (
        iid,
        "triggered",
        "alertmanager",
        "web1",
        "web1 is down",
        1,
    )
    assert [a.fingerprint for a in inc.alerts] == ["fp-1"]
    assert (inc.created_at, inc.updated_at, inc.alerts[0].first_seen, inc.alerts[0].starts_at) == (T0, T0, T0, T0)
    assert (inc.timeline[0].at, inc.timeline[0].kind, inc.timeline[0].actor) == (T0, "opened", None)


async def test_get_incident_to_json_is_what_the_api_and_the_cli_print(store: Store) -> None:
    iid = await open_incident(store, "web1", summary="web1 is down")
    body = (await store.get_incident(iid)).to_json()
    assert list(body) == [
        "id",
        "source",
        "dedup_key",
        "state",
        "summary",
        "severity",
        "labels",
        "alert_count",
        "reopen_count",
        "created_at",
        "updated_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
        "alerts",
        "timeline",
    ]
    assert (body["created_at"], body["acknowledged_at"], body["labels"]) == (
        "2026-11-25T14:00:00.000000Z",
        None,
        {"alertname": "web1", "customer": "acme"},
    )
    assert list(body["alerts"][0]) == [
        "fingerprint",
        "status",
        "summary",
        "severity",
        "labels",
        "annotations",
        "details",
        "starts_at",
        "ends_at",
        "first_seen",
        "last_seen",
    ]
    assert (body["alerts"][0]["starts_at"], body["alerts"][0]["ends_at"]) == ("2026-11-25T14:00:00.000000Z", None)
    assert body["timeline"][0] == {
        "at": "2026-11-25T14:00:00.000000Z",
        "kind": "opened",
        "actor": None,
        "data": body["timeline"][0]["data"],
    }
    listed = (await store.list_incidents())[0].to_json()
    assert listed == {k: v for k, v in body.items() if k not in ("alerts", "timeline")}


async def test_get_incident_unknown_is_none(store: Store) -> None:
    assert await store.get_incident(424242) is None


# -- list_incidents ---------------------------------------------------------------------------------


async def test_list_incidents_newest_first_with_filters(store: Store) -> None:
    a = await open_incident(store, "a", T0)
    b = await open_incident(store, "b", T0 + timedelta(minutes=1))
    c = await open_incident(store, "c", T0 + timedelta(minutes=2), source=Source.NAGIOS)
    await store.transition(b, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    assert [i.id for i in await store.list_incidents()] == [c, b, a]
    assert [i.id for i in await store.list_incidents(state="triggered")] == [c, a]
    assert [i.id for i in await store.list_incidents(source="nagios")] == [c]
    assert [i.id for i in await store.list_incidents(limit=2)] == [c, b]
    assert [i.id for i in await store.list_incidents(before_id=c)] == [b, a]
    assert [i.id for i in await store.list_incidents(since=T0 + timedelta(minutes=1))] == [c, b]
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
    assert inc.state == "acknowledged" and inc.acknowledged_by == "anna"
    assert inc.timeline[-1].kind == "acknowledged"
    inc = await store.transition(iid, State.RESOLVED, actor="anna", via="cli", comment=None, now=T0)
    assert inc.state == "resolved" and inc.resolved_by == "anna"


async def test_transition_to_the_same_state_changes_nothing(store: Store) -> None:
    iid = await open_incident(store, "web1")
    first = await store.transition(iid, State.ACKNOWLEDGED, actor="anna", via="api", comment=None, now=T0)
    again = await store.transition(
        iid, State.ACKNOWLEDGED, actor="bram", via="api", comment=None, now=T0 + timedelta(minutes=1)
    )
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
    assert (inc.timeline[-1].kind, inc.timeline[-1].actor, inc.timeline[-1].data["text"]) == (
        "note",
        "anna",
        "root cause: full disk",
    )


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


async def test_prune_forgets_twilio_callbacks_last_seen_before_the_delivery_ids_cutoff(store: Store) -> None:
    """Callback ids go with the delivery ids (before_ids), a repeat keeps one (it moves its last sighting),
    and a callback pruned is a new one if it comes again."""
    from pager.storage.port import Pruned

    old, recent = T0 - timedelta(days=40), T0 - timedelta(days=1)
    for n in range(3):
        assert (await store.claim_callback("sms", f"SM{n}", old)).first
    assert not (await store.claim_callback("sms", "SM2", recent)).first  # repeated lately: kept
    assert (await store.claim_callback("status", "7:SM9:delivered", recent)).first
    cutoff = T0 - timedelta(days=30)
    assert await store.prune(T0 - timedelta(days=365), cutoff, 1) == Pruned(bodies=0, delivery_ids=0, callbacks=1)
    assert await store.prune(T0 - timedelta(days=365), cutoff, 100) == Pruned(bodies=0, delivery_ids=0, callbacks=1)
    assert await store.prune(T0 - timedelta(days=365), cutoff, 100) == Pruned(0, 0, 0)
    assert (await store.claim_callback("sms", "SM0", T0)).first  # pruned: new again
    assert not (await store.claim_callback("sms", "SM2", T0)).first
    assert not (await store.claim_callback("status", "7:SM9:delivered", T0)).first


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


# -- ingest -----------------------------------------------------------------------------------------


def _outcomes(result) -> list[str]:
    return [str(a.outcome) for a in result.applied]


async def test_ingest_opens_an_incident_then_appends_to_it(store: Store) -> None:
    first = await store.ingest(notification([("web", "fp-1", Action.TRIGGER)], T0))
    assert _outcomes(first) == ["open"] and len(first.incident_ids) == 1
    (iid,) = first.incident_ids
    more = await store.ingest(
        notification([("web", "fp-2", Action.TRIGGER), ("web", "fp-1", Action.TRIGGER)], T0 + timedelta(minutes=1))
    )
    assert _outcomes(more) == ["append", "append"] and more.incident_ids == [iid]
    inc = await store.get_incident(iid)
    assert inc is not None
    assert (inc.state, inc.alert_count, sorted(a.fingerprint for a in inc.alerts)) == ("triggered", 2, ["fp-1", "fp-2"])
    assert [i.id for i in await store.list_incidents()] == [iid]  # one incident per key


async def test_ingest_resolves_the_incident_with_its_last_firing_alert(store: Store) -> None:
    iid = (
        await store.ingest(notification([("web", "fp-1", Action.TRIGGER), ("web", "fp-2", Action.TRIGGER)], T0))
    ).incident_ids[0]
    one = await store.ingest(notification([("web", "fp-1", Action.RESOLVE)], T0 + timedelta(minutes=1)))
    assert _outcomes(one) == ["resolve_alert"]
    assert (await store.get_incident(iid)).state == "triggered"  # fp-2 still fires
    last = await store.ingest(notification([("web", "fp-2", Action.RESOLVE)], T0 + timedelta(minutes=2)))
    assert _outcomes(last) == ["resolve_alert"] and last.incident_ids == [iid]
    inc = await store.get_incident(iid)
    assert (inc.state, inc.resolved_by) == ("resolved", "alertmanager")
    assert inc.timeline[-1].kind == "resolved" and inc.timeline[-1].data["reason"] == "alerts_resolved"


async def test_ingest_a_resolved_group_resolves_the_alerts_it_no_longer_lists(store: Store) -> None:
    firing, resolved = Group("g", resolved=False), Group("g", resolved=True)
    iid = (
        await store.ingest(notification([("g", "a", Action.TRIGGER), ("g", "b", Action.TRIGGER)], T0, group=firing))
    ).incident_ids[0]
    # b was silenced meanwhile: the resolved notification lists only a
    done = await store.ingest(notification([("g", "a", Action.RESOLVE)], T0 + timedelta(minutes=5), group=resolved))
    assert _outcomes(done) == ["resolve_alert"] and done.incident_ids == [iid]
    inc = await store.get_incident(iid)
    assert inc.state == "resolved"
    assert {a.fingerprint: a.status for a in inc.alerts} == {"a": "resolved", "b": "resolved"}
    kinds = [e.kind for e in inc.timeline]
    assert "alert_resolved_by_group" in kinds and inc.timeline[-1].data["reason"] == "group_resolved"


async def test_ingest_the_same_notification_twice_is_applied_once(store: Store) -> None:
    d = notification([("web", "fp-1", Action.TRIGGER)], T0)
    first = await store.ingest(d)
    again = await store.ingest(d)
    assert _outcomes(again) == ["duplicate"] and again.duplicates == 1 and again.incident_ids == []
    assert again.delivery_id == first.delivery_id  # byte-identical: the delivery already stored
    inc = await store.get_incident(first.incident_ids[0])
    assert inc.alert_count == 1 and [e.kind for e in inc.timeline].count("opened") == 1
    # the same notification in another body (a re-sent webhook) is still a duplicate
    other = await store.ingest(replace(d, body=d.body + b" "))
    assert _outcomes(other) == ["duplicate"]


async def test_ingest_fires_again_inside_the_reopen_window_reopens_and_after_it_opens(store: Store) -> None:
    iid = (await store.ingest(notification([("web", "fp-1", Action.TRIGGER)], T0))).incident_ids[0]
    await store.ingest(notification([("web", "fp-1", Action.RESOLVE)], T0 + timedelta(minutes=1)))
    again = await store.ingest(notification([("web", "fp-1", Action.TRIGGER)], T0 + timedelta(minutes=30)))
    assert _outcomes(again) == ["reopen"] and again.incident_ids == [iid]
    inc = await store.get_incident(iid)
    assert (inc.state, inc.resolved_at) == ("triggered", None)
    assert inc.timeline[-1].kind in ("reopened", "alerts_received")
    await store.ingest(notification([("web", "fp-1", Action.RESOLVE)], T0 + timedelta(minutes=31)))
    late = await store.ingest(notification([("web", "fp-1", Action.TRIGGER)], T0 + timedelta(hours=3)))
    assert _outcomes(late) == ["open"] and late.incident_ids != [iid]  # past the reopen window (1 h)


async def test_ingest_a_resolve_without_an_open_incident_is_an_orphan(store: Store) -> None:
    result = await store.ingest(notification([("web", "fp-1", Action.RESOLVE)], T0))
    assert _outcomes(result) == ["orphan"] and result.incident_ids == []
    assert await store.list_incidents() == []


async def test_ingest_a_reopened_incident_is_unrouted_again_for_its_new_round(store: Store) -> None:
    iid = await open_incident(store, "web")
    await route(store, iid, "acme/webshop", T0)
    assert await store.unrouted_incidents() == []
    await resolve_alert(store, "web", T0 + timedelta(minutes=1))
    await store.ingest(notification([("web", "fp-1", Action.TRIGGER)], T0 + timedelta(minutes=2)))
    assert [(r.id, r.generation) for r in await store.unrouted_incidents()] == [(iid, 1)]
