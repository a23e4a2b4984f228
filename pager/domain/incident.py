"""Incident lifecycle: what one delivery of alerts does to the incidents of its keys.

Pure. `decide` takes the stored state of the keys a delivery touches (`Stored`) and the delivery
(its alerts, when it arrived, and for Alertmanager what the notification says of its group) and
returns every change as data, in the order the store applies them. The store loads the state and
persists the changes; it decides nothing.

Each alert of the delivery gives exactly one *alert change* (OpenIncident, Reopen, AppendAlert,
ResolveAlert, Acknowledge, Note, Orphan, Duplicate: its `outcome`), possibly followed by
*incident changes* (SetSeverity, ShowLatest, AlertsReceived, ResolveAlertByGroup,
ResolveIncident). Changes name the incident by its key: a key has at most one open incident, and
`Reopen` reopens the key's last resolved one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from .alert import Action, Alert, Source


class State(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    """What one alert did (the `outcome` label of pagerd_alerts_received_total)."""

    OPEN = "open"  # a new incident
    REOPEN = "reopen"  # the recently resolved incident of this key fires again
    APPEND = "append"  # one more (or a repeated) alert on an open incident; pages nobody
    RESOLVE_ALERT = "resolve_alert"  # an alert of an open incident is resolved
    ACKNOWLEDGE = "acknowledge"
    ANNOTATE = "annotate"
    ORPHAN = "orphan"  # resolve/ack/annotate for a key with no open incident: kept, changes nothing
    DUPLICATE = "duplicate"  # a re-delivery of a notification already applied: changes nothing


class Reason(StrEnum):
    """Why an incident resolved by itself (the `reason` of its `resolved` timeline event)."""

    ALERTS_RESOLVED = "alerts_resolved"  # its last firing alert was resolved
    GROUP_RESOLVED = "group_resolved"  # Alertmanager said the whole group resolved (see Group)


SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3, "critical": 4}


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    reopen_window: timedelta
    # how long an identical Events-v2 event counts as a re-delivery (Events v2 carries no event id)
    events_v2_duplicate_window: timedelta


@dataclass(frozen=True, slots=True)
class Group:
    """What an Alertmanager notification says of its group: its `groupKey`, and whether its
    top-level `status` is `resolved`. A resolved notification lists only the alerts that resolved
    since the last one; an alert silenced or inhibited meanwhile is never mentioned again, so every
    alert of the group that it does not list is closed too (`ResolveAlertByGroup`)."""

    key: str
    resolved: bool


# -- the stored state of a key (input) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentState:
    state: State
    severity: str = "critical"
    firing: frozenset[str] = frozenset()  # fingerprints of its alerts that fire; the others are resolved
    group_key: str | None = None  # the Alertmanager group its alerts came in
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyState:
    open: IncidentState | None = None  # the key's open incident (triggered or acknowledged)
    last_resolved: IncidentState | None = None  # else its most recently resolved one


@dataclass(frozen=True, slots=True)
class Stored:
    """What the store holds for one delivery: the state of every key its alerts name (and, for a
    resolved Alertmanager group, of every key with an open incident of that group), and when each
    of its notifications (by event id) was last applied, for those that were."""

    keys: Mapping[str, KeyState] = field(default_factory=dict)
    seen: Mapping[str, datetime] = field(default_factory=dict)


# -- the changes (output) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenIncident:
    outcome: ClassVar[Outcome] = Outcome.OPEN
    key: str
    alert: Alert
    group_key: str | None


@dataclass(frozen=True, slots=True)
class Reopen:
    """The key's last resolved incident fires again (triggered, not acknowledged) with `alert`."""

    outcome: ClassVar[Outcome] = Outcome.REOPEN
    key: str
    alert: Alert
    group_key: str | None


@dataclass(frozen=True, slots=True)
class AppendAlert:
    outcome: ClassVar[Outcome] = Outcome.APPEND
    key: str
    alert: Alert


@dataclass(frozen=True, slots=True)
class ResolveAlert:
    outcome: ClassVar[Outcome] = Outcome.RESOLVE_ALERT
    key: str
    alert: Alert


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """The source acknowledged (Nagios ACKNOWLEDGEMENT, Events v2 acknowledge): alert.actor, alert.comment."""

    outcome: ClassVar[Outcome] = Outcome.ACKNOWLEDGE
    key: str
    alert: Alert


@dataclass(frozen=True, slots=True)
class Note:
    """A timeline note from the source (downtime, flapping, a second acknowledgement...)."""

    outcome: ClassVar[Outcome] = Outcome.ANNOTATE
    key: str
    alert: Alert

    @property
    def kind(self) -> str:
        return self.alert.note_kind or self.alert.action.value

    @property
    def text(self) -> str:
        return self.alert.comment or self.alert.summary


@dataclass(frozen=True, slots=True)
class Orphan:
    outcome: ClassVar[Outcome] = Outcome.ORPHAN
    alert: Alert


@dataclass(frozen=True, slots=True)
class Duplicate:
    outcome: ClassVar[Outcome] = Outcome.DUPLICATE
    alert: Alert


@dataclass(frozen=True, slots=True)
class SetSeverity:
    """A group's severity is its worst alert's: it rises, never falls."""

    key: str
    severity: str


@dataclass(frozen=True, slots=True)
class ShowLatest:
    """A single-alert incident (Nagios, Events v2, Alertmanager by fingerprint) shows its alert's
    latest summary, severity and labels: WARNING -> CRITICAL."""

    key: str
    alert: Alert


@dataclass(frozen=True, slots=True)
class AlertsReceived:
    """How many firing and resolved alerts this delivery brought to the key's incident (one
    timeline entry; written before the incident resolves, and at the end of the delivery)."""

    key: str
    firing: int
    resolved: int


@dataclass(frozen=True, slots=True)
class ResolveAlertByGroup:
    """An alert the resolved group notification does not list: closed as `resolved_by_group`."""

    key: str
    fingerprint: str
    group_key: str


@dataclass(frozen=True, slots=True)
class ResolveIncident:
    key: str
    reason: Reason


AlertChange = OpenIncident | Reopen | AppendAlert | ResolveAlert | Acknowledge | Note | Orphan | Duplicate
Change = AlertChange | SetSeverity | ShowLatest | AlertsReceived | ResolveAlertByGroup | ResolveIncident


# -- the transition table ---------------------------------------------------------------------------

# (state of the key's open incident, or None when it has none; the alert's action) -> outcome.
# OPEN becomes REOPEN when the key's last incident resolved within the reopen window.
TABLE: dict[tuple[State | None, Action], Outcome] = {
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


def decide(
    stored: Stored,
    alerts: tuple[Alert, ...] | list[Alert],
    received_at: datetime,
    policy: IngestPolicy,
    group: Group | None = None,
) -> tuple[Change, ...]:
    """Every change the delivery of `alerts` at `received_at` makes, in order."""
    d = _Deciding(stored, received_at, policy)
    for alert in alerts:
        d.alert(alert, group)
    if group is not None and group.resolved and d.applied_any:
        d.resolve_group(group)
    d.received_all()
    return tuple(d.changes)


class _Incident:
    """An incident as the decision goes (a working copy of IncidentState)."""

    __slots__ = ("state", "severity", "firing", "group_key", "resolved_at")

    def __init__(self, s: IncidentState) -> None:
        self.state, self.severity, self.group_key, self.resolved_at = s.state, s.severity, s.group_key, s.resolved_at
        self.firing = set(s.firing)


class _Key:
    __slots__ = ("open", "last")

    def __init__(self, s: KeyState) -> None:
        self.open = _Incident(s.open) if s.open is not None else None
        self.last = _Incident(s.last_resolved) if s.last_resolved is not None else None


class _Deciding:
    """The working state of one decision: the keys as changed so far, and the changes."""

    def __init__(self, stored: Stored, now: datetime, policy: IngestPolicy) -> None:
        if any(k.open is not None and k.open.state is State.RESOLVED for k in stored.keys.values()):
            raise ValueError("an open incident cannot be resolved")
        self.keys = {key: _Key(s) for key, s in stored.keys.items()}
        self.seen = dict(stored.seen)
        self.now = now
        self.policy = policy
        self.changes: list[Change] = []
        self.counts: dict[str, list[int]] = {}  # key -> [firing, resolved] not yet told in AlertsReceived
        self.applied_any = False

    def key(self, key: str) -> _Key:
        k = self.keys.get(key)
        if k is None:
            k = self.keys[key] = _Key(KeyState())
        return k

    # -- one alert ---------------------------------------------------------------------------------
    def alert(self, alert: Alert, group: Group | None) -> None:
        k = self.key(alert.dedup_key)
        if self.duplicate(alert, k):
            self.changes.append(Duplicate(alert))
            return
        self.seen[alert.event_id] = self.now
        self.applied_any = True
        outcome = TABLE[(k.open.state if k.open is not None else None, alert.action)]
        if outcome is Outcome.OPEN and self.within_reopen_window(k.last):
            outcome = Outcome.REOPEN
        _ON[outcome](self, k, alert, group.key if group is not None else None)

    def duplicate(self, alert: Alert, k: _Key) -> bool:
        """A notification already applied. Alertmanager and Nagios name each notification exactly:
        seen once, it is a re-delivery forever. Events v2 carries no event id: an identical event
        counts as a re-delivery only within the duplicate window, and with nothing open the same
        trigger again is a new firing (flapping)."""
        at = self.seen.get(alert.event_id)
        if at is None:
            return False
        if alert.source is not Source.EVENTS_V2:
            return True
        if alert.action is Action.TRIGGER and k.open is None:
            return False
        return self.now - at <= self.policy.events_v2_duplicate_window

    def within_reopen_window(self, last: _Incident | None) -> bool:
        return (
            last is not None
            and last.resolved_at is not None
            and self.now - last.resolved_at <= self.policy.reopen_window
        )

    def on_open(self, k: _Key, alert: Alert, group_key: str | None) -> None:
        k.open = _Incident(
            IncidentState(State.TRIGGERED, alert.severity or "critical", frozenset({alert.fingerprint}), group_key)
        )
        self.changes.append(OpenIncident(alert.dedup_key, alert, group_key))
        self.count(alert.dedup_key, firing=1)

    def on_reopen(self, k: _Key, alert: Alert, group_key: str | None) -> None:
        inc, k.last = k.last, None
        assert inc is not None
        inc.state, inc.resolved_at, inc.firing = State.TRIGGERED, None, {alert.fingerprint}
        inc.group_key = group_key or inc.group_key
        k.open = inc
        self.changes.append(Reopen(alert.dedup_key, alert, group_key))
        self.severity(inc, alert)
        self.count(alert.dedup_key, firing=1)

    def on_append(self, k: _Key, alert: Alert, group_key: str | None) -> None:
        assert k.open is not None
        k.open.firing.add(alert.fingerprint)
        self.changes.append(AppendAlert(alert.dedup_key, alert))
        self.severity(k.open, alert)
        self.count(alert.dedup_key, firing=1)

    def on_resolve_alert(self, k: _Key, alert: Alert, group_key: str | None) -> None:
        assert k.open is not None
        k.open.firing.discard(alert.fingerprint)
        self.changes.append(ResolveAlert(alert.dedup_key, alert))
        self.count(alert.dedup_key, resolved=1)
        if not k.open.firing:
            self.resolve(alert.dedup_key, k, Reason.ALERTS_RESOLVED)

    def on_acknowledge(self, k: _Key, alert: Alert, group_key: str | None) -> None:
        assert k.open is not None
        k.open.state = State.ACKNOWLEDGED
        self.changes.append(Acknowledge(alert.dedup_key, alert))

    def on_annotate(self, k: _Key, alert: Alert, group_key: str | None) -> None:
        self.changes.append(Note(alert.dedup_key, alert))

    def on_orphan(self, k: _Key, alert: Alert, group_key: str | None) -> None:
        self.changes.append(Orphan(alert))

    def severity(self, inc: _Incident, alert: Alert) -> None:
        if alert.fingerprint == alert.dedup_key:  # the incident is this one alert: it shows its latest state
            inc.severity = alert.severity
            self.changes.append(ShowLatest(alert.dedup_key, alert))
        elif SEVERITY_RANK.get(alert.severity, 0) > SEVERITY_RANK.get(inc.severity, 0):
            inc.severity = alert.severity
            self.changes.append(SetSeverity(alert.dedup_key, alert.severity))

    # -- the incident ------------------------------------------------------------------------------
    def count(self, key: str, *, firing: int = 0, resolved: int = 0) -> None:
        c = self.counts.setdefault(key, [0, 0])
        c[0] += firing
        c[1] += resolved

    def received(self, key: str) -> None:
        c = self.counts.pop(key, None)
        if c is not None:
            self.changes.append(AlertsReceived(key, c[0], c[1]))

    def received_all(self) -> None:
        for key in list(self.counts):
            self.received(key)

    def resolve(self, key: str, k: _Key, reason: Reason) -> None:
        inc = k.open
        assert inc is not None
        self.received(key)  # the alerts that resolved it come first on its timeline
        inc.state, inc.resolved_at, inc.firing = State.RESOLVED, self.now, set()
        k.open, k.last = None, inc
        self.changes.append(ResolveIncident(key, reason))

    def resolve_group(self, group: Group) -> None:
        """The notification says its group no longer fires: every open incident of the group
        resolves, with each alert the notification did not list closed as resolved by the group."""
        for key in sorted(self.keys):
            k = self.keys[key]
            if k.open is None or k.open.group_key != group.key:
                continue
            for fingerprint in sorted(k.open.firing):
                self.changes.append(ResolveAlertByGroup(key, fingerprint, group.key))
            self.resolve(key, k, Reason.GROUP_RESOLVED)


_ON: dict[Outcome, Callable[[_Deciding, _Key, Alert, str | None], None]] = {
    Outcome.OPEN: _Deciding.on_open,
    Outcome.REOPEN: _Deciding.on_reopen,
    Outcome.APPEND: _Deciding.on_append,
    Outcome.RESOLVE_ALERT: _Deciding.on_resolve_alert,
    Outcome.ACKNOWLEDGE: _Deciding.on_acknowledge,
    Outcome.ANNOTATE: _Deciding.on_annotate,
    Outcome.ORPHAN: _Deciding.on_orphan,
}


# Manual transitions (API, CLI, SMS, ...): from-state -> allowed target states.
MANUAL: dict[State, frozenset[State]] = {
    State.TRIGGERED: frozenset({State.ACKNOWLEDGED, State.RESOLVED}),
    State.ACKNOWLEDGED: frozenset({State.RESOLVED}),
    State.RESOLVED: frozenset(),
}


def can_move(current: State, target: State) -> bool:
    return target in MANUAL[current]
