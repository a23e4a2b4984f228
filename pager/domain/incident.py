"""Incident state: what an arriving alert does to the incident of its key (a transition table).

Pure: takes the current view of the incident and the alert and `now`, returns a Decision.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from .alert import Action, Alert


class State(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    OPEN = "open"                # a new incident
    REOPEN = "reopen"            # the recently resolved incident of this key fires again
    APPEND = "append"            # one more (or a repeated) alert on an open incident; pages nobody
    RESOLVE_ALERT = "resolve_alert"  # an alert of an open incident is resolved
    ACKNOWLEDGE = "acknowledge"
    ANNOTATE = "annotate"
    ORPHAN = "orphan"            # resolve/ack/annotate for a key with no open incident: kept, changes nothing


# NamedTuples, not frozen dataclasses: as immutable, and built at a fifth of the cost (each alert
# makes several of these on the writer's hot path)
class IncidentView(NamedTuple):
    id: int
    state: State
    resolved_at: datetime | None


class Decision(NamedTuple):
    outcome: Outcome
    incident_id: int | None  # None for OPEN and ORPHAN
    new_state: State | None  # state after the alert, None when unchanged


# (state of the open incident or None, action) -> outcome. The resolved-incident case is
# decided by the reopen window below; this table covers keys with an open incident or none.
_TABLE: dict[tuple[State | None, Action], Outcome] = {
    (None, Action.TRIGGER): Outcome.OPEN,
    (None, Action.RESOLVE): Outcome.ORPHAN,
    (None, Action.ACKNOWLEDGE): Outcome.ORPHAN,
    (None, Action.ANNOTATE): Outcome.ORPHAN,
    (State.TRIGGERED, Action.TRIGGER): Outcome.APPEND,
    (State.TRIGGERED, Action.RESOLVE): Outcome.RESOLVE_ALERT,
    (State.TRIGGERED, Action.ACKNOWLEDGE): Outcome.ACKNOWLEDGE,
    (State.TRIGGERED, Action.ANNOTATE): Outcome.ANNOTATE,
    (State.ACKNOWLEDGED, Action.TRIGGER): Outcome.APPEND,
    (State.ACKNOWLEDGED, Action.RESOLVE): Outcome.RESOLVE_ALERT,
    (State.ACKNOWLEDGED, Action.ACKNOWLEDGE): Outcome.ANNOTATE,  # a second ack is only noted
    (State.ACKNOWLEDGED, Action.ANNOTATE): Outcome.ANNOTATE,
}


def decide(open_incident: IncidentView | None, last_resolved: IncidentView | None,
           alert: Alert, now: datetime, reopen_window: timedelta) -> Decision:
    """What `alert` does, given the open incident of its key (if any) and the last resolved one."""
    if open_incident is not None and open_incident.state is State.RESOLVED:
        raise ValueError("open_incident must not be resolved")
    state = open_incident.state if open_incident else None
    outcome = _TABLE[(state, alert.action)]
    if outcome is Outcome.OPEN and last_resolved is not None and last_resolved.resolved_at is not None \
            and now - last_resolved.resolved_at <= reopen_window:
        return Decision(Outcome.REOPEN, last_resolved.id, State.TRIGGERED)
    if outcome is Outcome.OPEN:
        return Decision(outcome, None, State.TRIGGERED)
    if outcome is Outcome.ORPHAN:
        return Decision(outcome, None, None)
    assert open_incident is not None
    if outcome is Outcome.ACKNOWLEDGE:
        return Decision(outcome, open_incident.id, State.ACKNOWLEDGED)
    return Decision(outcome, open_incident.id, None)


def all_resolved(statuses: dict[str, str]) -> bool:
    """True when an incident's alerts (fingerprint -> firing|resolved) are all resolved."""
    return bool(statuses) and all(s == "resolved" for s in statuses.values())


# Manual transitions (API, CLI, SMS, ...): from-state -> allowed target states.
MANUAL: dict[State, frozenset[State]] = {
    State.TRIGGERED: frozenset({State.ACKNOWLEDGED, State.RESOLVED}),
    State.ACKNOWLEDGED: frozenset({State.RESOLVED}),
    State.RESOLVED: frozenset(),
}


def can_move(current: State, target: State) -> bool:
    return target in MANUAL[current]
