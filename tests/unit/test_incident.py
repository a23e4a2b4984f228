"""The incident transition table, one literal case per row."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pager.domain.alert import Action, Alert, Source
from pager.domain.incident import IncidentView, Outcome, State, all_resolved, can_move, decide

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
WINDOW = timedelta(hours=1)


def alert(action: Action) -> Alert:
    return Alert(source=Source.ALERTMANAGER, dedup_key="k", fingerprint="f", action=action, event_id="e", summary="s")


OPEN_T = IncidentView(7, State.TRIGGERED, None)
OPEN_A = IncidentView(7, State.ACKNOWLEDGED, None)
RECENT = IncidentView(3, State.RESOLVED, NOW - timedelta(minutes=59))
OLD = IncidentView(3, State.RESOLVED, NOW - timedelta(minutes=61))


@pytest.mark.parametrize("open_,last,action,outcome,iid,state", [
    (None, None, Action.TRIGGER, Outcome.OPEN, None, State.TRIGGERED),
    (None, RECENT, Action.TRIGGER, Outcome.REOPEN, 3, State.TRIGGERED),
    (None, OLD, Action.TRIGGER, Outcome.OPEN, None, State.TRIGGERED),
    (None, None, Action.RESOLVE, Outcome.ORPHAN, None, None),
    (None, RECENT, Action.RESOLVE, Outcome.ORPHAN, None, None),
    (None, None, Action.ACKNOWLEDGE, Outcome.ORPHAN, None, None),
    (None, None, Action.ANNOTATE, Outcome.ORPHAN, None, None),
    (OPEN_T, None, Action.TRIGGER, Outcome.APPEND, 7, None),
    (OPEN_T, None, Action.RESOLVE, Outcome.RESOLVE_ALERT, 7, None),
    (OPEN_T, None, Action.ACKNOWLEDGE, Outcome.ACKNOWLEDGE, 7, State.ACKNOWLEDGED),
    (OPEN_T, None, Action.ANNOTATE, Outcome.ANNOTATE, 7, None),
    (OPEN_A, None, Action.TRIGGER, Outcome.APPEND, 7, None),
    (OPEN_A, None, Action.RESOLVE, Outcome.RESOLVE_ALERT, 7, None),
    (OPEN_A, None, Action.ACKNOWLEDGE, Outcome.ANNOTATE, 7, None),
    (OPEN_A, None, Action.ANNOTATE, Outcome.ANNOTATE, 7, None),
])
def test_decide(open_, last, action, outcome, iid, state) -> None:
    d = decide(open_, last, alert(action), NOW, WINDOW)
    assert (d.outcome, d.incident_id, d.new_state) == (outcome, iid, state)


def test_reopen_window_edge_is_inclusive() -> None:
    edge = IncidentView(3, State.RESOLVED, NOW - WINDOW)
    assert decide(None, edge, alert(Action.TRIGGER), NOW, WINDOW).outcome is Outcome.REOPEN


def test_resolved_incident_is_not_open() -> None:
    with pytest.raises(ValueError):
        decide(IncidentView(1, State.RESOLVED, NOW), None, alert(Action.TRIGGER), NOW, WINDOW)


@pytest.mark.parametrize("statuses,expected", [
    ({}, False),
    ({"a": "firing"}, False),
    ({"a": "resolved"}, True),
    ({"a": "resolved", "b": "firing"}, False),
    ({"a": "resolved", "b": "resolved"}, True),
])
def test_all_resolved(statuses, expected) -> None:
    assert all_resolved(statuses) is expected


@pytest.mark.parametrize("current,target,ok", [
    (State.TRIGGERED, State.ACKNOWLEDGED, True),
    (State.TRIGGERED, State.RESOLVED, True),
    (State.ACKNOWLEDGED, State.RESOLVED, True),
    (State.ACKNOWLEDGED, State.TRIGGERED, False),
    (State.RESOLVED, State.ACKNOWLEDGED, False),
    (State.RESOLVED, State.TRIGGERED, False),
])
def test_manual_moves(current, target, ok) -> None:
    assert can_move(current, target) is ok
