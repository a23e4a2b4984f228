"""MaintenanceStore: maintenance windows, and what removing one does to the escalations it holds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pager.storage.port import Conflict, NotFound, Store

from .seed import T0, open_incident

HOUR = timedelta(hours=1)


async def _add(store: Store, **kw):
    args = dict(
        customer=None,
        project=None,
        match={},
        start=T0,
        end=T0 + 2 * HOUR,
        reason="database upgrade",
        created_by="anna",
        now=T0,
    )
    args.update(kw)
    return await store.add_maintenance(**args)


async def test_add_maintenance_answers_the_stored_window(store: Store) -> None:
    w = await _add(store, project="acme/webshop")
    assert (w.customer, w.project, dict(w.match), w.start, w.end) == (None, "acme/webshop", {}, T0, T0 + 2 * HOUR)
    assert (w.reason, w.created_by, w.created_at, w.removed_by, w.removed_at) == (
        "database upgrade",
        "anna",
        T0,
        None,
        None,
    )
    m = await _add(store, match={"env": "staging", "team": "web"})
    assert dict(m.match) == {"env": "staging", "team": "web"} and m.id > w.id
    assert m.to_json()["match"] == {"env": "staging", "team": "web"}


async def test_add_maintenance_refuses_a_reversed_range_and_a_scope_not_exactly_one(store: Store) -> None:
    with pytest.raises(Conflict):
        await _add(store, customer="acme", end=T0)
    with pytest.raises(Conflict):
        await _add(store)  # no scope
    with pytest.raises(Conflict):
        await _add(store, customer="acme", project="acme/webshop")
    assert await store.list_maintenance(include_removed=True) == []


async def test_list_maintenance_by_start_per_customer_and_still_running(store: Store) -> None:
    late = await _add(store, customer="acme", start=T0 + 3 * HOUR, end=T0 + 4 * HOUR)
    early = await _add(store, project="acme/intranet")
    other = await _add(store, project="acmeish/web", start=T0 + HOUR)
    labels = await _add(store, match={"env": "staging"}, start=T0 + 2 * HOUR, end=T0 + 5 * HOUR)
    assert [w.id for w in await store.list_maintenance()] == [early.id, other.id, labels.id, late.id]
    # a customer's windows: its own and its projects' (not another customer's whose id starts alike)
    assert [w.id for w in await store.list_maintenance("acme")] == [early.id, late.id]
    assert [w.id for w in await store.list_maintenance(ending_after=T0 + 2 * HOUR)] == [labels.id, late.id]
    await store.remove_maintenance(late.id, removed_by="bram", now=T0)
    assert [w.id for w in await store.list_maintenance("acme")] == [early.id]
    assert [w.id for w in await store.list_maintenance("acme", include_removed=True)] == [early.id, late.id]


async def test_get_maintenance_answers_a_window_or_none(store: Store) -> None:
    w = await _add(store, customer="acme")
    assert await store.get_maintenance(w.id) == w
    assert await store.get_maintenance(424242) is None


async def test_remove_maintenance_keeps_it_marked_and_the_first_removal(store: Store) -> None:
    w = await _add(store, customer="acme")
    gone = await store.remove_maintenance(w.id, removed_by="bram", now=T0 + HOUR)
    assert (gone.removed_by, gone.removed_at) == ("bram", T0 + HOUR)
    again = await store.remove_maintenance(w.id, removed_by="chris", now=T0 + 2 * HOUR)
    assert (again.removed_by, again.removed_at) == ("bram", T0 + HOUR)
    with pytest.raises(NotFound):
        await store.remove_maintenance(424242, removed_by="bram", now=T0)


async def test_remove_maintenance_makes_what_it_holds_due_now(store: Store) -> None:
    w = await _add(store, customer="acme", end=T0 + 5 * HOUR)
    other = await _add(store, project="acme/webshop", end=T0 + 5 * HOUR)
    held, kept = await open_incident(store, "a"), await open_incident(store, "b")
    for iid, window in ((held, w.id), (kept, other.id)):
        assert await store.create_escalation(
            incident_id=iid,
            generation=0,
            project="acme/webshop",
            rotation=None,
            policy={"name": "default", "steps": []},
            status="waiting",
            next_at=T0 + 5 * HOUR,
            target_seconds=1800,
            reason="in maintenance window",
            now=T0,
            hold="maintenance",
            maintenance_id=window,
            severity="critical",
        )
    assert await store.due_escalations(T0 + HOUR) == []
    (row,) = await store.rounds_of(held)  # the round shows what holds it (`incidents show`'s next step)
    assert (row.escalation, row.hold, row.maintenance_id, row.next_at) == (
        "waiting",
        "maintenance",
        w.id,
        T0 + 5 * HOUR,
    )
    await store.remove_maintenance(w.id, removed_by="bram", now=T0 + HOUR)
    (esc,) = await store.due_escalations(T0 + HOUR)
    assert (esc.incident_id, esc.hold, esc.maintenance_id, esc.next_at) == (held, "maintenance", w.id, T0 + HOUR)
