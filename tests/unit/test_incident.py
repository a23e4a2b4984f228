"""The incident lifecycle, decided purely: stored state of a key + one delivery -> the changes.

One literal case per row: the state the store holds, the delivery, and every change in order.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pager.domain.alert import Action, Alert, Source
from pager.domain.incident import (
    TABLE,
    Acknowledge,
    AlertsReceived,
    AppendAlert,
    Duplicate,
    Group,
    IncidentState,
    IngestPolicy,
    KeyState,
    Note,
    OpenIncident,
    Orphan,
    Outcome,
    Reason,
    Reopen,
    ResolveAlert,
    ResolveAlertByGroup,
    ResolveIncident,
    SetSeverity,
    ShowLatest,
    State,
    Stored,
    can_move,
    decide,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))
G = '{}:{alertname="DiskFull"}'


def am(fp: str, action: Action = Action.TRIGGER, severity: str = "critical", key: str = G, eid: str = "") -> Alert:
    """An Alertmanager alert of group G (key G), or of its own key (key=fp: dedup_by fingerprint)."""
    return Alert(
        source=Source.ALERTMANAGER,
        dedup_key=key,
        fingerprint=fp,
        action=action,
        event_id=eid or f"{fp}-{action.value}",
        summary=f"{fp} {action.value}",
        severity=severity,
    )


def single(
    source: Source,
    action: Action,
    severity: str = "critical",
    eid: str = "e1",
    note: str | None = None,
    actor: str | None = None,
) -> Alert:
    """A Nagios or Events v2 alert: one alert per key (fingerprint = key)."""
    return Alert(
        source=source,
        dedup_key="web1/HTTP",
        fingerprint="web1/HTTP",
        action=action,
        event_id=eid,
        summary=f"HTTP {severity}",
        severity=severity,
        note_kind=note,
        actor=actor,
        comment="c" if actor else None,
    )


def firing(*fps: str, severity: str = "critical", state: State = State.TRIGGERED, group: str | None = G) -> KeyState:
    return KeyState(open=IncidentState(state, severity, frozenset(fps), group))


def resolved(minutes_ago: int) -> KeyState:
    return KeyState(last_resolved=IncidentState(State.RESOLVED, resolved_at=NOW - timedelta(minutes=minutes_ago)))


NONE = KeyState()
A, B, C = am("a"), am("b"), am("c")
A_OK, B_OK = am("a", Action.RESOLVE), am("b", Action.RESOLVE)
FIRING, RESOLVED = Group(G, resolved=False), Group(G, resolved=True)
NAG_PROBLEM = single(Source.NAGIOS, Action.TRIGGER, "warning")
NAG_CRIT = single(Source.NAGIOS, Action.TRIGGER, "critical", eid="e2")
NAG_ACK = single(Source.NAGIOS, Action.ACKNOWLEDGE, eid="e3", actor="anna")
NAG_DOWNTIME = single(Source.NAGIOS, Action.ANNOTATE, eid="e4", note="downtime_start")
NAG_RECOVERY = single(Source.NAGIOS, Action.RESOLVE, "info", eid="e5")
EV2 = single(Source.EVENTS_V2, Action.TRIGGER, "error", eid="ev")
EV2_ACK = single(Source.EVENTS_V2, Action.ACKNOWLEDGE, eid="ev-ack")
K = "web1/HTTP"

CASES = {
    # -- open, append, resolve -----------------------------------------------------------------
    "a new key opens": ({G: NONE}, {}, [A], FIRING, [OpenIncident(G, A, G), AlertsReceived(G, 1, 0)]),
    "a group's first webhook opens once and appends the rest": (
        {G: NONE},
        {},
        [A, B],
        FIRING,
        [OpenIncident(G, A, G), AppendAlert(G, B), AlertsReceived(G, 2, 0)],
    ),
    "a new alert on an open incident appends": (
        {G: firing("a")},
        {},
        [B],
        FIRING,
        [AppendAlert(G, B), AlertsReceived(G, 1, 0)],
    ),
    "the same alert firing again appends (pages nobody)": (
        {G: firing("a")},
        {},
        [am("a", eid="a-again")],
        FIRING,
        [AppendAlert(G, am("a", eid="a-again")), AlertsReceived(G, 1, 0)],
    ),
    "an acknowledged incident takes new alerts": (
        {G: firing("a", state=State.ACKNOWLEDGED)},
        {},
        [B],
        FIRING,
        [AppendAlert(G, B), AlertsReceived(G, 1, 0)],
    ),
    "one alert of two resolves: the incident stays open": (
        {G: firing("a", "b")},
        {},
        [A_OK, B],
        FIRING,
        [ResolveAlert(G, A_OK), AppendAlert(G, B), AlertsReceived(G, 1, 1)],
    ),
    "the last firing alert resolves: the incident resolves": (
        {G: firing("a")},
        {},
        [A_OK],
        RESOLVED,
        [ResolveAlert(G, A_OK), AlertsReceived(G, 0, 1), ResolveIncident(G, Reason.ALERTS_RESOLVED)],
    ),
    "a resolve of an alert it never had leaves the others firing": (
        {G: firing("a")},
        {},
        [B_OK],
        FIRING,
        [ResolveAlert(G, B_OK), AlertsReceived(G, 0, 1)],
    ),
    # -- group resolve (Alertmanager: silenced or inhibited alerts are never listed again) --------
    "a resolved group closes the alerts it does not list": (
        {G: firing("a", "b", "c")},
        {},
        [A_OK],
        RESOLVED,
        [
            ResolveAlert(G, A_OK),
            ResolveAlertByGroup(G, "b", G),
            ResolveAlertByGroup(G, "c", G),
            AlertsReceived(G, 0, 1),
            ResolveIncident(G, Reason.GROUP_RESOLVED),
        ],
    ),
    "a firing group notification closes nothing unlisted": (
        {G: firing("a", "b")},
        {},
        [A_OK],
        FIRING,
        [ResolveAlert(G, A_OK), AlertsReceived(G, 0, 1)],
    ),
    "a resolved group resolves an acknowledged incident too": (
        {G: firing("a", "b", state=State.ACKNOWLEDGED)},
        {},
        [A_OK],
        RESOLVED,
        [
            ResolveAlert(G, A_OK),
            ResolveAlertByGroup(G, "b", G),
            AlertsReceived(G, 0, 1),
            ResolveIncident(G, Reason.GROUP_RESOLVED),
        ],
    ),
    "by fingerprint: the group's other incidents resolve too": (
        {"a": firing("a"), "b": firing("b"), "x": firing("x", group="other")},
        {},
        [am("a", Action.RESOLVE, key="a")],
        RESOLVED,
        [
            ResolveAlert("a", am("a", Action.RESOLVE, key="a")),
            AlertsReceived("a", 0, 1),
            ResolveIncident("a", Reason.ALERTS_RESOLVED),
            ResolveAlertByGroup("b", "b", G),
            ResolveIncident("b", Reason.GROUP_RESOLVED),
        ],
    ),
    "by fingerprint: a resolved group whose listed alert pagerd never saw still resolves the others": (
        {"a": NONE, "b": firing("b")},
        {},
        [am("a", Action.RESOLVE, key="a")],
        RESOLVED,
        [
            Orphan(am("a", Action.RESOLVE, key="a")),
            ResolveAlertByGroup("b", "b", G),
            ResolveIncident("b", Reason.GROUP_RESOLVED),
        ],
    ),
    "a re-delivered resolved group changes nothing (the incident may have reopened since)": (
        {G: firing("b")},
        {"a-resolve": NOW - timedelta(minutes=30)},
        [A_OK],
        RESOLVED,
        [Duplicate(A_OK)],
    ),
    # -- reopen ----------------------------------------------------------------------------------
    "firing again inside the reopen window reopens": (
        {G: resolved(59)},
        {},
        [A],
        FIRING,
        [Reopen(G, A, G), AlertsReceived(G, 1, 0)],
    ),
    "firing again at the window's edge reopens": (
        {G: resolved(60)},
        {},
        [A],
        FIRING,
        [Reopen(G, A, G), AlertsReceived(G, 1, 0)],
    ),
    "firing again after the reopen window opens a new incident": (
        {G: resolved(61)},
        {},
        [A],
        FIRING,
        [OpenIncident(G, A, G), AlertsReceived(G, 1, 0)],
    ),
    "resolved and firing again in one webhook (flapping) reopens": (
        {G: firing("a")},
        {},
        [A_OK, am("a", eid="a-2")],
        FIRING,
        [
            ResolveAlert(G, A_OK),
            AlertsReceived(G, 0, 1),
            ResolveIncident(G, Reason.ALERTS_RESOLVED),
            Reopen(G, am("a", eid="a-2"), G),
            AlertsReceived(G, 1, 0),
        ],
    ),
    # -- orphans ---------------------------------------------------------------------------------
    "a resolve for a key with no incident is an orphan": ({G: NONE}, {}, [A_OK], RESOLVED, [Orphan(A_OK)]),
    "a resolve for a recently resolved key is an orphan (no reopen)": (
        {G: resolved(5)},
        {},
        [A_OK],
        RESOLVED,
        [Orphan(A_OK)],
    ),
    "an acknowledgement for a key with no incident is an orphan": ({K: NONE}, {}, [NAG_ACK], None, [Orphan(NAG_ACK)]),
    "a note for a key with no incident is an orphan": ({K: NONE}, {}, [NAG_DOWNTIME], None, [Orphan(NAG_DOWNTIME)]),
    # -- source acknowledge and annotate ---------------------------------------------------------
    "the source acknowledges": ({K: firing(K, group=None)}, {}, [NAG_ACK], None, [Acknowledge(K, NAG_ACK)]),
    "a second acknowledgement is only noted": (
        {K: firing(K, state=State.ACKNOWLEDGED, group=None)},
        {},
        [NAG_ACK],
        None,
        [Note(K, NAG_ACK)],
    ),
    "downtime, flapping and custom notifications are noted": (
        {K: firing(K, group=None)},
        {},
        [NAG_DOWNTIME],
        None,
        [Note(K, NAG_DOWNTIME)],
    ),
    "a recovery resolves the single-alert incident": (
        {K: firing(K, group=None)},
        {},
        [NAG_RECOVERY],
        None,
        [ResolveAlert(K, NAG_RECOVERY), AlertsReceived(K, 0, 1), ResolveIncident(K, Reason.ALERTS_RESOLVED)],
    ),
    # -- severity --------------------------------------------------------------------------------
    "a group's severity rises with a worse alert": (
        {G: firing("a", severity="warning")},
        {},
        [am("b", severity="critical")],
        FIRING,
        [AppendAlert(G, am("b", severity="critical")), SetSeverity(G, "critical"), AlertsReceived(G, 1, 0)],
    ),
    "a group's severity never falls": (
        {G: firing("a", severity="critical")},
        {},
        [am("b", severity="info")],
        FIRING,
        [AppendAlert(G, am("b", severity="info")), AlertsReceived(G, 1, 0)],
    ),
    "a new group takes its worst alert's severity": (
        {G: NONE},
        {},
        [am("a", severity="warning"), am("b", severity="error")],
        FIRING,
        [
            OpenIncident(G, am("a", severity="warning"), G),
            AppendAlert(G, am("b", severity="error")),
            SetSeverity(G, "error"),
            AlertsReceived(G, 2, 0),
        ],
    ),
    "a single-alert incident shows its latest state (WARNING -> CRITICAL)": (
        {K: firing(K, severity="warning", group=None)},
        {},
        [NAG_CRIT],
        None,
        [AppendAlert(K, NAG_CRIT), ShowLatest(K, NAG_CRIT), AlertsReceived(K, 1, 0)],
    ),
    "a single-alert incident shows its latest state also when it falls": (
        {K: firing(K, severity="critical", group=None)},
        {},
        [NAG_PROBLEM],
        None,
        [AppendAlert(K, NAG_PROBLEM), ShowLatest(K, NAG_PROBLEM), AlertsReceived(K, 1, 0)],
    ),
    # -- re-deliveries and the Events v2 duplicate window ----------------------------------------
    "an Alertmanager notification seen before is a duplicate, however long ago": (
        {G: firing("a")},
        {"a-trigger": NOW - timedelta(days=30)},
        [A, B],
        FIRING,
        [Duplicate(A), AppendAlert(G, B), AlertsReceived(G, 1, 0)],
    ),
    "the same notification twice in one webhook: the second is a duplicate": (
        {G: NONE},
        {},
        [A, A],
        FIRING,
        [OpenIncident(G, A, G), Duplicate(A), AlertsReceived(G, 1, 0)],
    ),
    "an identical Events v2 event inside the window is a re-delivery": (
        {K: firing(K, severity="error", group=None)},
        {"ev": NOW - timedelta(minutes=5)},
        [EV2],
        None,
        [Duplicate(EV2)],
    ),
    "an identical Events v2 event after the window is applied again": (
        {K: firing(K, severity="error", group=None)},
        {"ev": NOW - timedelta(minutes=6)},
        [EV2],
        None,
        [AppendAlert(K, EV2), ShowLatest(K, EV2), AlertsReceived(K, 1, 0)],
    ),
    "an identical Events v2 acknowledge inside the window is a re-delivery": (
        {K: firing(K, group=None)},
        {"ev-ack": NOW - timedelta(minutes=1)},
        [EV2_ACK],
        None,
        [Duplicate(EV2_ACK)],
    ),
    "with nothing open the same Events v2 trigger again is a new firing": (
        {K: resolved(61)},
        {"ev": NOW - timedelta(minutes=1)},
        [EV2],
        None,
        [OpenIncident(K, EV2, None), AlertsReceived(K, 1, 0)],
    ),
    "with nothing open the same Events v2 trigger inside the reopen window reopens": (
        {K: resolved(2)},
        {"ev": NOW - timedelta(minutes=3)},
        [EV2],
        None,
        [Reopen(K, EV2, None), ShowLatest(K, EV2), AlertsReceived(K, 1, 0)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_decide(name: str) -> None:
    keys, seen, alerts, group, changes = CASES[name]
    assert list(decide(Stored(keys, seen), tuple(alerts), NOW, POLICY, group)) == changes


def test_each_alert_gets_exactly_one_outcome_in_order() -> None:
    changes = decide(Stored({G: firing("a")}), (A, A_OK, A, B), NOW, POLICY, FIRING)
    assert [c.outcome for c in changes if hasattr(c, "outcome")] == [
        Outcome.APPEND,
        Outcome.RESOLVE_ALERT,
        Outcome.DUPLICATE,
        Outcome.REOPEN,
    ]


def test_keys_not_given_have_no_incident() -> None:
    assert list(decide(Stored(), (A,), NOW, POLICY, FIRING)) == [OpenIncident(G, A, G), AlertsReceived(G, 1, 0)]


def test_an_open_incident_cannot_be_resolved() -> None:
    with pytest.raises(ValueError):
        decide(Stored({G: KeyState(open=IncidentState(State.RESOLVED))}), (A,), NOW, POLICY)


@pytest.mark.parametrize("state", [None, State.TRIGGERED, State.ACKNOWLEDGED])
@pytest.mark.parametrize("action", list(Action))
def test_the_table_covers_every_state_and_action(state, action) -> None:
    assert (state, action) in TABLE


@pytest.mark.parametrize(
    "current,target,ok",
    [
        (State.TRIGGERED, State.ACKNOWLEDGED, True),
        (State.TRIGGERED, State.RESOLVED, True),
        (State.ACKNOWLEDGED, State.RESOLVED, True),
        (State.ACKNOWLEDGED, State.TRIGGERED, False),
        (State.RESOLVED, State.ACKNOWLEDGED, False),
        (State.RESOLVED, State.TRIGGERED, False),
    ],
)
def test_manual_moves(current, target, ok) -> None:
    assert can_move(current, target) is ok
