"""Urgency, maintenance windows and the routing decision that puts them together with coverage
(pager.domain.urgency, pager.domain.maintenance): literal cases, one per row, across midnight, weekends,
holidays and both DST changes (Europe/Amsterdam)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pager.domain.calendar import Calendar, CalendarRules
from pager.domain.maintenance import MaintenanceWindow, window_at, window_problems
from pager.domain.paging import Coverage, ProjectCoverage
from pager.domain.urgency import Action, Urgency, UrgencyRule, decide_paging, urgency_of

UTC = timezone.utc
NL = Calendar()
T = datetime.fromisoformat
ALWAYS = ProjectCoverage("agency/infra", Coverage.ALWAYS)
OFFICE_ONLY = ProjectCoverage("acme/intranet", Coverage.OFFICE_HOURS)
STANDBY = ProjectCoverage("acme/webshop", Coverage.STANDBY, standby_periods=frozenset({"evening_night", "weekend"}))
DEFAULT = UrgencyRule()


@pytest.mark.parametrize(
    "rule, severity, urgency",
    [
        (DEFAULT, "critical", Urgency.HIGH),
        (DEFAULT, "error", Urgency.HIGH),
        (DEFAULT, "warning", Urgency.LOW),
        (DEFAULT, "info", Urgency.LOW),
        (DEFAULT, " Warning ", Urgency.LOW),  # as a label may spell it
        (DEFAULT, "page", Urgency.HIGH),
        (DEFAULT, "minor", Urgency.HIGH),  # unknown: high, never held back
        (DEFAULT, "", Urgency.HIGH),  # missing: high
        (DEFAULT, None, Urgency.HIGH),
        (UrgencyRule(low=frozenset({"P3", "p4"})), "p3", Urgency.LOW),
        (UrgencyRule(low=frozenset()), "info", Urgency.HIGH),
        (UrgencyRule(force=Urgency.LOW), "critical", Urgency.LOW),  # a route's fixed urgency
        (UrgencyRule(force=Urgency.HIGH), "info", Urgency.HIGH),
    ],
)
def test_urgency_of(rule: UrgencyRule, severity: str | None, urgency: Urgency) -> None:
    assert urgency_of(rule, severity) is urgency


@pytest.mark.parametrize(
    "cov, now, severity, action, rotation, next_at",
    [
        # office hours: low pages like high
        (ALWAYS, "2026-12-08T10:00:00+01:00", "warning", Action.PAGE, "office", "2026-12-08T10:00:00+01:00"),
        (ALWAYS, "2026-12-08T10:00:00+01:00", "critical", Action.PAGE, "office", "2026-12-08T10:00:00+01:00"),
        # a weekday evening: a warning waits for the next morning, a critical pages the standby rotation
        (ALWAYS, "2026-12-08T22:00:00+01:00", "warning", Action.DEFER, "office", "2026-12-09T08:30:00+01:00"),
        (ALWAYS, "2026-12-08T22:00:00+01:00", "critical", Action.PAGE, "standby", "2026-12-08T22:00:00+01:00"),
        (ALWAYS, "2026-12-08T22:00:00+01:00", "unheard-of", Action.PAGE, "standby", "2026-12-08T22:00:00+01:00"),
        # the last instant of office hours, and the first after
        (ALWAYS, "2026-12-08T17:59:59+01:00", "warning", Action.PAGE, "office", "2026-12-08T17:59:59+01:00"),
        (ALWAYS, "2026-12-08T18:00:00+01:00", "warning", Action.DEFER, "office", "2026-12-09T08:30:00+01:00"),
        # around midnight: the same next opening
        (ALWAYS, "2026-12-08T23:59:59.999999+01:00", "info", Action.DEFER, "office", "2026-12-09T08:30:00+01:00"),
        (ALWAYS, "2026-12-09T00:00:00+01:00", "info", Action.DEFER, "office", "2026-12-09T08:30:00+01:00"),
        (ALWAYS, "2026-12-09T08:29:59+01:00", "info", Action.DEFER, "office", "2026-12-09T08:30:00+01:00"),
        # Friday night waits for Monday; Christmas (Fri 25th, Sat 26th) for Monday the 28th
        (ALWAYS, "2026-12-04T18:30:00+01:00", "warning", Action.DEFER, "office", "2026-12-07T08:30:00+01:00"),
        (ALWAYS, "2026-12-24T18:30:00+01:00", "warning", Action.DEFER, "office", "2026-12-28T08:30:00+01:00"),
        (ALWAYS, "2026-12-25T11:00:00+01:00", "warning", Action.DEFER, "office", "2026-12-28T08:30:00+01:00"),
        (ALWAYS, "2026-12-25T11:00:00+01:00", "critical", Action.PAGE, "standby", "2026-12-25T11:00:00+01:00"),
        # DST starts (Sun 29 March, 02:00 -> 03:00): Saturday night waits for Monday 08:30 summer time
        (ALWAYS, "2026-03-28T23:00:00+01:00", "warning", Action.DEFER, "office", "2026-03-30T08:30:00+02:00"),
        (ALWAYS, "2026-03-29T03:30:00+02:00", "warning", Action.DEFER, "office", "2026-03-30T08:30:00+02:00"),
        # DST ends (Sun 25 October, 03:00 -> 02:00): Friday evening waits for Monday 08:30 winter time
        (ALWAYS, "2026-10-23T18:00:00+02:00", "warning", Action.DEFER, "office", "2026-10-26T08:30:00+01:00"),
        (ALWAYS, "2026-10-25T02:30:00+01:00", "warning", Action.DEFER, "office", "2026-10-26T08:30:00+01:00"),
        # standby booked for the evening: a warning still waits (low urgency), a critical pages standby
        (STANDBY, "2026-12-08T22:00:00+01:00", "warning", Action.DEFER, "office", "2026-12-09T08:30:00+01:00"),
        (STANDBY, "2026-12-08T22:00:00+01:00", "critical", Action.PAGE, "standby", "2026-12-08T22:00:00+01:00"),
        # office_hours coverage pages nobody outside office hours whatever the urgency: the desk at opening
        (OFFICE_ONLY, "2026-12-08T22:00:00+01:00", "warning", Action.DESK, None, "2026-12-09T08:30:00+01:00"),
        (OFFICE_ONLY, "2026-12-08T22:00:00+01:00", "critical", Action.DESK, None, "2026-12-09T08:30:00+01:00"),
        (OFFICE_ONLY, "2026-12-08T10:00:00+01:00", "warning", Action.PAGE, "office", "2026-12-08T10:00:00+01:00"),
    ],
)
def test_decide_paging(
    cov: ProjectCoverage, now: str, severity: str, action: Action, rotation: str | None, next_at: str
) -> None:
    d = decide_paging(cov, NL, T(now), severity=severity, rule=DEFAULT)
    assert (d.action, d.rotation, d.next_at) == (action, rotation, T(next_at).astimezone(UTC))
    if action is Action.DEFER:
        assert "the support desk is e-mailed now; paging the office rotation at the next office opening" in d.reason


def test_a_low_incident_with_no_office_opening_within_a_year_pages_now() -> None:
    never = Calendar(CalendarRules(office_days=frozenset()))
    d = decide_paging(ALWAYS, never, T("2026-12-08T22:00:00+01:00"), severity="warning", rule=DEFAULT)
    assert (d.action, d.rotation) == (Action.PAGE, "standby")


def test_a_routes_fixed_urgency_beats_the_severity() -> None:
    night = T("2026-12-08T22:00:00+01:00")
    low = decide_paging(ALWAYS, NL, night, severity="critical", rule=UrgencyRule(force=Urgency.LOW))
    high = decide_paging(ALWAYS, NL, night, severity="info", rule=UrgencyRule(force=Urgency.HIGH))
    assert (low.action, high.action) == (Action.DEFER, Action.PAGE)
    assert "urgency low (route)" in low.reason


# -- maintenance windows ------------------------------------------------------------------------------

W_START, W_END = T("2026-12-08T21:00:00+01:00"), T("2026-12-09T01:00:00+01:00")
BY_PROJECT = MaintenanceWindow(7, W_START, W_END, project="acme/webshop", reason="database upgrade")
BY_CUSTOMER = MaintenanceWindow(8, W_START, W_END + timedelta(hours=1), customer="acme")
BY_LABELS = MaintenanceWindow(9, W_START, W_END, match={"env": "staging", "team": "web"})


@pytest.mark.parametrize(
    "windows, project, customer, labels, now, held",
    [
        ([BY_PROJECT], "acme/webshop", "acme", {}, "2026-12-08T21:00:00+01:00", 7),  # from its start
        ([BY_PROJECT], "acme/webshop", "acme", {}, "2026-12-08T20:59:59+01:00", None),
        ([BY_PROJECT], "acme/webshop", "acme", {}, "2026-12-09T00:59:59+01:00", 7),  # across midnight
        ([BY_PROJECT], "acme/webshop", "acme", {}, "2026-12-09T01:00:00+01:00", None),  # until its end
        ([BY_PROJECT], "acme/intranet", "acme", {}, "2026-12-08T22:00:00+01:00", None),
        ([BY_CUSTOMER], "acme/intranet", "acme", {}, "2026-12-08T22:00:00+01:00", 8),
        ([BY_CUSTOMER], "acmeish/web", "acmeish", {}, "2026-12-08T22:00:00+01:00", None),
        ([BY_LABELS], "x/y", None, {"env": "staging", "team": "web", "a": "b"}, "2026-12-08T22:00:00+01:00", 9),
        ([BY_LABELS], "x/y", None, {"env": "staging"}, "2026-12-08T22:00:00+01:00", None),  # all must match
        ([BY_PROJECT, BY_CUSTOMER], "acme/webshop", "acme", {}, "2026-12-08T22:00:00+01:00", 8),  # ends last
        ([], "acme/webshop", "acme", {}, "2026-12-08T22:00:00+01:00", None),
    ],
)
def test_window_at(windows, project, customer, labels, now, held) -> None:
    w = window_at(windows, project=project, customer=customer, labels=labels, now=T(now))
    assert (w.id if w else None) == held


def test_a_window_holds_whatever_the_urgency_and_says_so() -> None:
    for severity in ("critical", "warning"):
        d = decide_paging(
            STANDBY,
            NL,
            T("2026-12-08T22:00:00+01:00"),
            severity=severity,
            rule=DEFAULT,
            windows=[BY_PROJECT],
            customer="acme",
        )
        assert (d.action, d.rotation, d.next_at, d.window) == (Action.HOLD, None, W_END.astimezone(UTC), BY_PROJECT)
        assert d.reason == (
            "in maintenance window #7 until Wed 2026-12-09 01:00 Europe/Amsterdam (database upgrade): not paged"
        )
    # at its end: decided as without it (a critical pages the standby rotation, a warning waits)
    after = {
        s: decide_paging(STANDBY, NL, W_END, severity=s, rule=DEFAULT, windows=[BY_PROJECT], customer="acme").action
        for s in ("critical", "warning")
    }
    assert after == {"critical": Action.PAGE, "warning": Action.DEFER}


NOW = T("2026-12-03T12:00:00+00:00")
CUSTOMERS = {"acme": ["webshop", "intranet"], "agency": ["infra"]}


@pytest.mark.parametrize(
    "kw, problem",
    [
        ({}, None),
        ({"project": None, "customer": "acme"}, None),
        ({"project": None, "match": {"env": "staging"}}, None),
        ({"project": None}, "scope"),  # none
        ({"customer": "acme"}, "scope"),  # two
        ({"project": "acme/nope"}, "project"),
        ({"project": "nope"}, "project"),
        ({"project": None, "customer": "globex"}, "customer"),
        ({"project": None, "match": {"bad label": "x"}}, "match"),
        ({"project": None, "match": {"env": "a\nb"}}, "match"),
        ({"project": None, "match": {f"l{i}": "x" for i in range(21)}}, "match"),
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 257}, "reason"),
        ({"end": T("2026-12-08T20:00:00+01:00")}, "end"),  # reversed
        ({"end": T("2026-12-08T21:00:00+01:00")}, "end"),  # empty
        ({"end": T("2027-03-09T21:00:00+01:00")}, "end"),  # longer than 90 days
        ({"start": T("2026-11-01T00:00:00+01:00"), "end": T("2026-12-01T00:00:00+01:00")}, "end"),  # past
    ],
)
def test_window_problems(kw: dict, problem: str | None) -> None:
    args = dict(start=W_START, end=W_END, now=NOW, customer=None, project="acme/webshop", match={}, reason="upgrade")
    args.update(kw)
    found = window_problems(**args, customers=CUSTOMERS)
    assert [f for f, _ in found][:1] == ([problem] if problem else [])
