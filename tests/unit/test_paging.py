"""The page (issue 4): routing, coverage, escalation steps, contact rules,
throttles, bundles, replies. Literal cases first (one per row), then properties."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.domain.calendar import Calendar, Period
from pager.domain.messages import SmsCount, is_gsm7, sms_count
from pager.domain.paging import (
    DEFAULT_THROTTLES,
    Bundle,
    Command,
    ContactRule,
    Coverage,
    CoverageDecision,
    NextAction,
    NextKind,
    Pending,
    Policy,
    ProjectCoverage,
    Refusal,
    Reply,
    Route,
    Step,
    StepDue,
    Target,
    Throttle,
    bundle,
    contact_plan,
    decide_coverage,
    first_route,
    may_answer,
    next_action,
    next_send_slot,
    next_step,
    parse_digits,
    parse_reply,
    route_for,
    short_code,
    step_at,
)

UTC = timezone.utc
T = datetime.fromisoformat
M = timedelta(minutes=1)
S = timedelta(seconds=1)
H = timedelta(hours=1)
NL = Calendar()
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# =========================================================================== routing

ROUTES = (
    Route("agency/infra", match={"customer": "agency"}),
    Route("acme/webshop", match={"customer": "acme", "service": "webshop"}),
    Route("acme/other", match={"customer": "acme"}),
    Route("globex/db", match_re={"instance": r"db[0-9]+\.globex\.nl(:[0-9]+)?"}),
    Route("initech/api", match={"team": "api"}, match_re={"env": "prod|staging"}),
    Route("unset/env", match={"customer": "unset", "env": ""}),
)


@pytest.mark.parametrize(
    "labels, expected",
    [
        ({"customer": "agency", "alertname": "DiskFull"}, "agency/infra"),
        ({"customer": "agency", "service": "webshop"}, "agency/infra"),  # first match wins
        ({"customer": "acme", "service": "webshop"}, "acme/webshop"),
        ({"customer": "acme", "service": "mail"}, "acme/other"),
        ({"customer": "acme"}, "acme/other"),
        ({"customer": "ACME"}, "default/triage"),  # values are case-sensitive
        ({"instance": "db1.globex.nl"}, "globex/db"),
        ({"instance": "db12.globex.nl:9100"}, "globex/db"),
        ({"instance": "xdb1.globex.nl"}, "default/triage"),  # fullmatch, not search
        ({"instance": "db1.globex.nl.evil"}, "default/triage"),
        ({"team": "api", "env": "prod"}, "initech/api"),
        ({"team": "api", "env": "production"}, "default/triage"),  # the alternation is anchored too
        ({"team": "api"}, "default/triage"),  # missing label reads "" and "" does not match
        ({"env": "prod"}, "default/triage"),
        ({"customer": "unset"}, "unset/env"),  # match {"env": ""}: env unset
        ({"customer": "unset", "env": "prod"}, "default/triage"),
        ({}, "default/triage"),
    ],
)
def test_route_for(labels, expected):
    assert route_for(ROUTES, labels, "default/triage") == expected


@pytest.mark.parametrize(
    "routes, labels, expected",
    [
        ((), {"customer": "acme"}, "default/x"),
        ((Route("catch/all"),), {"anything": "at all"}, "catch/all"),
        (
            (Route("catch/all"), Route("agency/infra", match={"customer": "agency"})),
            {"customer": "agency"},
            "catch/all",
        ),
        ((Route("a/b", match={"x": "1"}, match_re={"x": "[0-9]"}),), {"x": "1"}, "a/b"),
        ((Route("a/b", match={"x": "1"}, match_re={"x": "[a-z]"}),), {"x": "1"}, "default/x"),
    ],
)
def test_route_order_and_catch_all(routes, labels, expected):
    assert route_for(routes, labels, "default/x") == expected


def test_first_route_returns_the_route():
    assert first_route(ROUTES, {"customer": "acme"}) is ROUTES[2]
    assert first_route(ROUTES, {"customer": "nobody"}) is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"project": "x/y", "match_re": {"instance": "db[0-9"}},
            "route x/y: match_re instance: 'db\\[0-9': not a valid RE2 regular expression: missing \\]",
        ),
        (
            {"project": "x/y", "match_re": {"instance": r"(db)\1"}},
            "route x/y: match_re instance: .*not a valid RE2 regular expression: invalid escape sequence",
        ),
        ({"project": ""}, "project must be a non-empty string"),
    ],
)
def test_bad_routes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Route(**kwargs)


# Patterns on which a backtracking engine (Python's re) takes time exponential in the value's length;
# RE2 matches in time linear in it. Each row: pattern, a value that makes a backtracker explore every
# way to split it, whether it matches.
CATASTROPHIC = [
    (r"(a+)+b", "a" * 50_000, False),
    (r"(a|aa)+b", "a" * 50_000, False),
    (r"(x+x+)+y", "x" * 50_000, False),
    (r"(\w+\s?)+$", "word " * 10_000 + "!", False),
    (r"(a+)+", "a" * 50_000, True),
]


@pytest.mark.parametrize("pattern, value, matches", CATASTROPHIC, ids=[p for p, _, _ in CATASTROPHIC])
def test_a_catastrophic_match_re_is_matched_in_linear_time(pattern, value, matches):
    """Python's re needs more than 2**40 steps for the first row at 50 a's; here 50,000 a's, twenty
    times, in a worker thread that must finish within a generous 20 s (RE2 needs milliseconds)."""
    import threading

    route = Route("x/y", match_re={"instance": pattern})
    results: list[bool] = []
    worker = threading.Thread(
        target=lambda: results.extend(route.matches({"instance": value}) for _ in range(20)), daemon=True
    )
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), f"matching {pattern!r} did not finish: a backtracking engine"
    assert results == [matches] * 20


# =========================================================================== coverage

EVENINGS = frozenset({Period.EVENING_NIGHT})
OUTSIDE = frozenset({Period.EVENING_NIGHT, Period.WEEKEND, Period.HOLIDAY})
# A Christmas weekend booking, 24 Dec 18:00 - 28 Dec 08:30 (Amsterdam).
XMAS_BOOKING = ((T("2026-12-24T18:00:00+01:00"), T("2026-12-28T08:30:00+01:00")),)
# A single Saturday-daytime booking, 10 Jan 08:30 - 18:00.
SATURDAY_BOOKING = ((T("2026-01-10T08:30:00+01:00"), T("2026-01-10T18:00:00+01:00")),)

MON_0830 = T("2026-01-12T08:30:00+01:00")

# (case, mode, standby_periods, bookings, now (Amsterdam), page, rotation, period, notify_desk_at)
COVERAGE_TABLE = [
    # ---- office hours: every mode pages the office rotation
    ("office/always", "always", (), (), "2026-01-12T10:00:00+01:00", True, "office", "office", None),
    ("office/office_hours", "office_hours", (), (), "2026-01-12T10:00:00+01:00", True, "office", "office", None),
    ("office/standby", "standby", OUTSIDE, (), "2026-01-12T10:00:00+01:00", True, "office", "office", None),
    ("office opens 08:30", "office_hours", (), (), "2026-01-12T08:30:00+01:00", True, "office", "office", None),
    (
        "office inside a booking",
        "standby",
        (),
        XMAS_BOOKING,
        "2026-12-23T12:00:00+01:00",
        True,
        "office",
        "office",
        None,
    ),
    # ---- Friday 18:00 boundary
    ("fri 17:59:59 office_hours", "office_hours", (), (), "2026-01-09T17:59:59+01:00", True, "office", "office", None),
    (
        "fri 18:00 office_hours",
        "office_hours",
        (),
        (),
        "2026-01-09T18:00:00+01:00",
        False,
        None,
        "evening_night",
        MON_0830,
    ),
    ("fri 18:00 always", "always", (), (), "2026-01-09T18:00:00+01:00", True, "standby", "evening_night", None),
    (
        "fri 18:00 standby evenings",
        "standby",
        EVENINGS,
        (),
        "2026-01-09T18:00:00+01:00",
        True,
        "standby",
        "evening_night",
        None,
    ),
    ("fri 18:00 standby none", "standby", (), (), "2026-01-09T18:00:00+01:00", False, None, "evening_night", MON_0830),
    # ---- an ordinary evening, the desk is told the next morning
    (
        "tue 22:00 office_hours",
        "office_hours",
        (),
        (),
        "2026-01-13T22:00:00+01:00",
        False,
        None,
        "evening_night",
        "2026-01-14T08:30:00+01:00",
    ),
    (
        "wed 03:00 office_hours",
        "office_hours",
        (),
        (),
        "2026-01-14T03:00:00+01:00",
        False,
        None,
        "evening_night",
        "2026-01-14T08:30:00+01:00",
    ),
    (
        "tue 22:00 standby evenings",
        "standby",
        EVENINGS,
        (),
        "2026-01-13T22:00:00+01:00",
        True,
        "standby",
        "evening_night",
        None,
    ),
    # ---- Saturday: night and day
    (
        "sat night office_hours",
        "office_hours",
        (),
        (),
        "2026-01-10T23:00:00+01:00",
        False,
        None,
        "evening_night",
        MON_0830,
    ),
    ("sat night always", "always", (), (), "2026-01-10T23:00:00+01:00", True, "standby", "evening_night", None),
    (
        "sat night standby evenings",
        "standby",
        EVENINGS,
        (),
        "2026-01-10T23:00:00+01:00",
        True,
        "standby",
        "evening_night",
        None,
    ),
    (
        "sat night standby, weekend only",
        "standby",
        frozenset({Period.WEEKEND}),
        (),
        "2026-01-10T23:00:00+01:00",
        False,
        None,
        "evening_night",
        MON_0830,
    ),
    (
        "sat day standby evenings",
        "standby",
        EVENINGS,
        (),
        "2026-01-10T12:00:00+01:00",
        False,
        None,
        "weekend",
        MON_0830,
    ),
    (
        "sat day standby weekends",
        "standby",
        frozenset({Period.WEEKEND}),
        (),
        "2026-01-10T12:00:00+01:00",
        True,
        "standby",
        "weekend",
        None,
    ),
    ("sat day always", "always", (), (), "2026-01-10T12:00:00+01:00", True, "standby", "weekend", None),
    ("sun day office_hours", "office_hours", (), (), "2026-01-11T12:00:00+01:00", False, None, "weekend", MON_0830),
    # ---- a dated booking: inside, at its end, before its start
    ("sat day booked", "standby", (), SATURDAY_BOOKING, "2026-01-10T12:00:00+01:00", True, "standby", "weekend", None),
    (
        "sat booking start",
        "standby",
        (),
        SATURDAY_BOOKING,
        "2026-01-10T08:30:00+01:00",
        True,
        "standby",
        "weekend",
        None,
    ),
    (
        "sat booking end",
        "standby",
        (),
        SATURDAY_BOOKING,
        "2026-01-10T18:00:00+01:00",
        False,
        None,
        "evening_night",
        MON_0830,
    ),
    (
        "sat before booking",
        "standby",
        (),
        SATURDAY_BOOKING,
        "2026-01-10T08:29:59+01:00",
        False,
        None,
        "evening_night",
        MON_0830,
    ),
    (
        "booking ignored for office_hours",
        "office_hours",
        (),
        SATURDAY_BOOKING,
        "2026-01-10T12:00:00+01:00",
        False,
        None,
        "weekend",
        MON_0830,
    ),
    # ---- Christmas 2026 (Fri 25 and Sat 26 are holidays): desk told Monday 28 Dec
    (
        "xmas office_hours",
        "office_hours",
        (),
        (),
        "2026-12-25T12:00:00+01:00",
        False,
        None,
        "holiday",
        "2026-12-28T08:30:00+01:00",
    ),
    (
        "xmas eve night office_hours",
        "office_hours",
        (),
        (),
        "2026-12-24T20:00:00+01:00",
        False,
        None,
        "evening_night",
        "2026-12-28T08:30:00+01:00",
    ),
    ("xmas always", "always", (), (), "2026-12-25T12:00:00+01:00", True, "standby", "holiday", None),
    (
        "xmas standby evenings only",
        "standby",
        EVENINGS,
        (),
        "2026-12-25T12:00:00+01:00",
        False,
        None,
        "holiday",
        "2026-12-28T08:30:00+01:00",
    ),
    (
        "xmas standby holidays",
        "standby",
        frozenset({Period.HOLIDAY}),
        (),
        "2026-12-25T12:00:00+01:00",
        True,
        "standby",
        "holiday",
        None,
    ),
    ("xmas standby booked", "standby", (), XMAS_BOOKING, "2026-12-25T12:00:00+01:00", True, "standby", "holiday", None),
    ("2nd xmas day booked", "standby", (), XMAS_BOOKING, "2026-12-26T03:00:00+01:00", True, "standby", "holiday", None),
    (
        "last minute of xmas booking",
        "standby",
        (),
        XMAS_BOOKING,
        "2026-12-28T08:29:00+01:00",
        True,
        "standby",
        "evening_night",
        None,
    ),
    (
        "xmas booking ends at opening",
        "standby",
        (),
        XMAS_BOOKING,
        "2026-12-28T08:30:00+01:00",
        True,
        "office",
        "office",
        None,
    ),
    ("before xmas booking", "standby", (), XMAS_BOOKING, "2026-12-24T17:59:00+01:00", True, "office", "office", None),
    (
        "night before xmas booking",
        "standby",
        (),
        XMAS_BOOKING,
        "2026-12-23T23:00:00+01:00",
        False,
        None,
        "evening_night",
        "2026-12-24T08:30:00+01:00",
    ),
    # ---- holidays mid-week: the next working day
    (
        "ascension thursday",
        "office_hours",
        (),
        (),
        "2026-05-14T10:00:00+02:00",
        False,
        None,
        "holiday",
        "2026-05-15T08:30:00+02:00",
    ),
    (
        "easter monday",
        "office_hours",
        (),
        (),
        "2026-04-06T10:00:00+02:00",
        False,
        None,
        "holiday",
        "2026-04-07T08:30:00+02:00",
    ),
    (
        "xmas 2025 thursday",
        "office_hours",
        (),
        (),
        "2025-12-25T09:00:00+01:00",
        False,
        None,
        "holiday",
        "2025-12-29T08:30:00+01:00",
    ),
    (
        "xmas 2025 wed night",
        "standby",
        (),
        (),
        "2025-12-24T23:00:00+01:00",
        False,
        None,
        "evening_night",
        "2025-12-29T08:30:00+01:00",
    ),
    # ---- across DST (Sunday 29 March 2026): office opens 08:30 CEST on Monday
    (
        "dst sunday night",
        "office_hours",
        (),
        (),
        "2026-03-29T01:30:00+01:00",
        False,
        None,
        "evening_night",
        "2026-03-30T08:30:00+02:00",
    ),
]


@pytest.mark.parametrize(
    "mode, periods, bookings, now, page, rotation, period, notify",
    [row[1:] for row in COVERAGE_TABLE],
    ids=[row[0] for row in COVERAGE_TABLE],
)
def test_decide_coverage(mode, periods, bookings, now, page, rotation, period, notify):
    cov = ProjectCoverage("acme/webshop", Coverage(mode), frozenset(periods), bookings)
    d = decide_coverage(cov, NL, T(now))
    assert (d.page, d.rotation, d.period) == (page, rotation, Period(period))
    expected = notify if isinstance(notify, datetime) or notify is None else T(notify)
    assert d.notify_desk_at == expected
    if d.notify_desk_at is not None:
        assert d.notify_desk_at.tzinfo is not None and d.notify_desk_at.utcoffset() == timedelta(0)
    assert d.reason.startswith(f"{period}, project acme/webshop")


@pytest.mark.parametrize(
    "mode, periods, bookings, now, reason",
    [
        (
            "standby",
            EVENINGS,
            (),
            "2026-01-13T22:00:00+01:00",
            "evening_night, project acme/webshop has standby: paging the standby rotation",
        ),
        (
            "always",
            (),
            (),
            "2026-01-10T12:00:00+01:00",
            "weekend, project acme/webshop has coverage always: paging the standby rotation",
        ),
        (
            "office_hours",
            (),
            (),
            "2026-01-12T10:00:00+01:00",
            "office, project acme/webshop has coverage office_hours, office hours: paging the office rotation",
        ),
        (
            "office_hours",
            (),
            (),
            "2026-01-09T18:00:00+01:00",
            "evening_night, project acme/webshop has coverage office_hours: nobody paged; the support desk is told"
            " at the next office opening, Mon 2026-01-12 08:30 Europe/Amsterdam",
        ),
        (
            "standby",
            (),
            (),
            "2026-12-25T12:00:00+01:00",
            "holiday, project acme/webshop has no standby now: nobody paged; the support desk is told"
            " at the next office opening, Mon 2026-12-28 08:30 Europe/Amsterdam",
        ),
        (
            "standby",
            (),
            XMAS_BOOKING,
            "2026-12-25T12:00:00+01:00",
            "holiday, project acme/webshop has standby booked Thu 2026-12-24 18:00 Europe/Amsterdam"
            " - Mon 2026-12-28 08:30 Europe/Amsterdam: paging the standby rotation",
        ),
    ],
)
def test_coverage_reason(mode, periods, bookings, now, reason):
    cov = ProjectCoverage("acme/webshop", Coverage(mode), frozenset(periods), bookings)
    assert decide_coverage(cov, NL, T(now)).reason == reason


def test_coverage_decision_names_the_booking():
    cov = ProjectCoverage("acme/webshop", Coverage.STANDBY, bookings=XMAS_BOOKING)
    d = decide_coverage(cov, NL, T("2026-12-25T12:00:00+01:00"))
    assert d.booking == (T("2026-12-24T17:00:00+00:00"), T("2026-12-28T07:30:00+00:00"))
    assert decide_coverage(cov, NL, T("2026-12-23T12:00:00+01:00")).booking is None


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"mode": "sometimes"}, ValueError, "unknown coverage 'sometimes'"),
        ({"mode": "standby", "standby_periods": frozenset({"nights"})}, ValueError, "standby_periods"),
        (
            {"mode": "standby", "bookings": ((T("2026-01-10T12:00:00+01:00"), T("2026-01-10T12:00:00+01:00")),)},
            ValueError,
            "is not after its start",
        ),
        (
            {"mode": "standby", "bookings": ((datetime(2026, 1, 10), datetime(2026, 1, 11)),)},
            ValueError,
            "timezone-aware",
        ),
    ],
)
def test_bad_project_coverage(kwargs, error, message):
    with pytest.raises(error, match=message):
        ProjectCoverage("acme/webshop", **kwargs)


def test_coverage_accepts_strings_from_config():
    cov = ProjectCoverage("a/b", "standby", frozenset({"evening_night"}))  # type: ignore[arg-type]
    assert cov.mode is Coverage.STANDBY and cov.standby_periods == EVENINGS


def test_coverage_rejects_a_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_coverage(ProjectCoverage("a/b", Coverage.ALWAYS), NL, datetime(2026, 1, 12, 10))


# =========================================================================== escalation

ONCALL = Target("oncall")
BACKUP = Target("rotation", "backup")
BOSS = Target("person", "piet")
DESK = Target("desk")
P0 = T("2026-01-12T22:00:00+00:00")
POLICY = Policy(
    "default",
    (Step((ONCALL,), 15 * M), Step((BACKUP, DESK), 10 * M), Step((BOSS,), 5 * M)),
    repeat=1,
)


@pytest.mark.parametrize(
    "k, expected",
    [
        (-1, None),
        (0, StepDue(0, 0, P0)),
        (1, StepDue(1, 0, P0 + 15 * M)),
        (2, StepDue(2, 0, P0 + 25 * M)),
        (3, StepDue(0, 1, P0 + 30 * M)),
        (4, StepDue(1, 1, P0 + 45 * M)),
        (5, StepDue(2, 1, P0 + 55 * M)),
        (6, None),
        (100, None),
    ],
)
def test_step_at_over_repeats(k, expected):
    assert step_at(POLICY, P0, k) == expected


@pytest.mark.parametrize(
    "policy, after_k, expected",
    [
        (POLICY, -1, StepDue(0, 0, P0)),
        (POLICY, 0, StepDue(1, 0, P0 + 15 * M)),
        (POLICY, 2, StepDue(0, 1, P0 + 30 * M)),
        (POLICY, 5, None),
        (Policy("one", (Step((ONCALL,), 5 * M),)), 0, None),
        (Policy("one", (Step((ONCALL,), 5 * M),), repeat=3), 2, StepDue(0, 3, P0 + 15 * M)),
        (Policy("one", (Step((ONCALL,), 5 * M),), repeat=3), 3, None),
        (Policy("zero", (Step((ONCALL,), timedelta(0)), Step((DESK,), timedelta(0)))), 0, StepDue(1, 0, P0)),
        (Policy("empty", ()), -1, None),
    ],
)
def test_next_step(policy, after_k, expected):
    assert next_step(policy, P0, after_k) == expected


# What the engine does next for an incident's current round (what `pagerd incidents show` says), from what
# its escalation stores: (state, status, last step fired, first page, next_at) -> NextAction.
NEXT = [
    ("not routed", "triggered", None, -1, None, None, NextAction(NextKind.ROUTE)),
    (
        "routed, first page due",
        "triggered",
        "active",
        -1,
        None,
        P0,
        NextAction(NextKind.PAGE, P0, StepDue(0, 0, P0), (ONCALL,)),
    ),
    (
        "paged, step 2 due",
        "triggered",
        "active",
        0,
        P0,
        P0 + 15 * M,
        NextAction(NextKind.PAGE, P0 + 15 * M, StepDue(1, 0, P0 + 15 * M), (BACKUP, DESK)),
    ),
    (  # the response target's escalation point brought step 2 forward: the engine fires it at next_at
        "step 2 brought forward",
        "triggered",
        "active",
        0,
        P0,
        P0 + 12 * M,
        NextAction(NextKind.PAGE, P0 + 12 * M, StepDue(1, 0, P0 + 15 * M), (BACKUP, DESK)),
    ),
    (
        "second pass",
        "triggered",
        "active",
        2,
        P0,
        P0 + 30 * M,
        NextAction(NextKind.PAGE, P0 + 30 * M, StepDue(0, 1, P0 + 30 * M), (ONCALL,)),
    ),
    ("last step fired, ends", "triggered", "active", 5, P0, P0 + 60 * M, NextAction(NextKind.END, P0 + 60 * M)),
    (
        "policy done",
        "triggered",
        "done",
        5,
        P0,
        None,
        NextAction(NextKind.NOTHING, why="every step of the policy has fired"),
    ),
    (
        "desk told",
        "triggered",
        "done",
        0,
        None,
        None,
        NextAction(NextKind.NOTHING, why="paged nobody; the support desk was told"),
    ),
    (
        "paged nobody: desk at opening",
        "triggered",
        "waiting",
        -1,
        None,
        P0 + 10 * H,
        NextAction(NextKind.DESK, P0 + 10 * H),
    ),
    (
        "paged nobody, no opening",
        "triggered",
        "waiting",
        -1,
        None,
        None,
        NextAction(NextKind.NOTHING, why="paged nobody; no office opening within a year"),
    ),
    ("acknowledged", "acknowledged", "active", 0, P0, P0 + 15 * M, NextAction(NextKind.NOTHING, why="acknowledged")),
    ("resolved, stopped", "resolved", "stopped", 0, P0, None, NextAction(NextKind.NOTHING, why="resolved")),
    ("resolved before routing", "resolved", None, -1, None, None, NextAction(NextKind.NOTHING, why="resolved")),
    ("unknown status", "triggered", "paused", 0, P0, P0, NextAction(NextKind.NOTHING, why="escalation paused")),
]


@pytest.mark.parametrize(
    "state, status, fired, first, next_at, expected", [c[1:] for c in NEXT], ids=[c[0] for c in NEXT]
)
def test_next_action(state, status, fired, first, next_at, expected):
    assert (
        next_action(POLICY, state=state, status=status, fired=fired, first_page_at=first, next_at=next_at) == expected
    )


@pytest.mark.parametrize(
    "hold, state, next_at, expected",
    [
        ("urgency", "triggered", P0 + 10 * H, NextAction(NextKind.RELEASE, P0 + 10 * H, why="urgency")),
        ("maintenance", "triggered", P0 + 2 * H, NextAction(NextKind.RELEASE, P0 + 2 * H, why="maintenance")),
        ("maintenance", "acknowledged", P0 + 2 * H, NextAction(NextKind.NOTHING, why="acknowledged")),
    ],
)
def test_next_action_of_a_held_round_is_its_release(hold, state, next_at, expected):
    """A waiting round held by its urgency or a maintenance window is decided again (and paged) at next_at."""
    act = next_action(POLICY, state=state, status="waiting", fired=-1, first_page_at=None, next_at=next_at, hold=hold)
    assert act == expected


def test_next_action_is_the_step_the_engine_fires():
    """next_action names the step next_step gives after the last one fired, for every k of the policy."""
    for fired in range(-1, POLICY.total_steps):
        act = next_action(POLICY, state="triggered", status="active", fired=fired, first_page_at=P0, next_at=P0)
        due = next_step(POLICY, P0, fired)
        assert act.step == due and (act.kind is NextKind.END) == (due is None)
        if due is not None:
            assert act.targets == POLICY.steps[due.index].targets


def test_target_labels_read_as_the_config_writes_them():
    assert [t.label for t in (ONCALL, BACKUP, BOSS, DESK)] == ["oncall", "rotation:backup", "person:piet", "desk"]


def test_policy_json_round_trip():
    snap = POLICY.to_json()
    assert snap == {
        "name": "default",
        "repeat": 1,
        "steps": [
            {"targets": [{"kind": "oncall", "name": ""}], "wait_seconds": 900},
            {"targets": [{"kind": "rotation", "name": "backup"}, {"kind": "desk", "name": ""}], "wait_seconds": 600},
            {"targets": [{"kind": "person", "name": "piet"}], "wait_seconds": 300},
        ],
    }
    assert Policy.from_json(snap) == POLICY
    half = Policy("p", (Step((ONCALL,), timedelta(seconds=90.5)),))
    assert Policy.from_json(half.to_json()) == half


@pytest.mark.parametrize(
    "snapshot, message",
    [
        ({}, "bad policy snapshot"),
        ({"name": "p", "steps": [{"targets": [{"kind": "oncall"}]}]}, "bad policy snapshot"),
        ({"name": "p", "steps": [{"targets": [{"kind": "pager"}], "wait_seconds": 60}]}, "unknown kind 'pager'"),
        ({"name": "p", "steps": [{"targets": [{"kind": "person"}], "wait_seconds": 60}]}, "needs a name"),
        ({"name": "p", "steps": [{"targets": [], "wait_seconds": -1}]}, "non-negative"),
        ({"name": "p", "steps": [], "repeat": -1}, "repeat must be an integer >= 0"),
        ({"name": "p", "steps": "nope"}, "bad policy snapshot"),
    ],
)
def test_bad_policy_snapshots(snapshot, message):
    with pytest.raises(ValueError, match=message):
        Policy.from_json(snapshot)


@pytest.mark.parametrize(
    "kind, name, message",
    [
        ("rotation", "", "needs a name"),
        ("person", "  ", "needs a name"),
        ("desk", "support", "takes no name"),
        ("oncall", "alice", "takes no name"),
        ("sms", "", "unknown kind"),
    ],
)
def test_bad_targets(kind, name, message):
    with pytest.raises(ValueError, match=message):
        Target(kind, name)


def test_target_kind_is_a_plain_string_too():
    assert Target("person", "piet").kind == "person"
    assert Target("oncall") == ONCALL


# =========================================================================== contact rules

PAGED = T("2026-01-12T22:00:00+00:00")


@pytest.mark.parametrize(
    "rules, expected",
    [
        ([], []),
        ([ContactRule("sms")], [("sms", PAGED)]),
        (
            [ContactRule("sms"), ContactRule("voice", 2 * M), ContactRule("email")],
            [("sms", PAGED), ("email", PAGED), ("voice", PAGED + 2 * M)],
        ),
        (
            [ContactRule("voice", 5 * M), ContactRule("sms", 5 * M), ContactRule("email", M)],
            [("email", PAGED + M), ("voice", PAGED + 5 * M), ("sms", PAGED + 5 * M)],
        ),
        (
            [ContactRule("sms"), ContactRule("voice", 2 * M), ContactRule("voice", 10 * M)],
            [("sms", PAGED), ("voice", PAGED + 2 * M), ("voice", PAGED + 10 * M)],
        ),
    ],
)
def test_contact_plan(rules, expected):
    assert contact_plan(rules, PAGED) == expected


@pytest.mark.parametrize(
    "channel, after, message",
    [
        ("pigeon", timedelta(0), "unknown channel 'pigeon'"),
        ("sms", -M, "non-negative"),
    ],
)
def test_bad_contact_rules(channel, after, message):
    with pytest.raises(ValueError, match=message):
        ContactRule(channel, after)


# =========================================================================== throttles

N0 = T("2026-01-12T22:00:00+00:00")
SMS5 = Throttle(5, timedelta(minutes=15))
CALL1 = Throttle(1, timedelta(minutes=5))


@pytest.mark.parametrize(
    "throttle, sent_offsets_min, now_offset_min, expected_offset_min",
    [
        (SMS5, [], 0, 0),
        (SMS5, [-1, -2, -3, -4], 0, 0),  # four of five used
        (SMS5, [-1, -2, -3, -4, -5], 0, 10),  # the one at -5 leaves at +10
        (SMS5, [-14, -13, -12, -11, -10], 0, 1),
        (SMS5, [-15, -13, -12, -11, -10], 0, 0),  # the one at -15 has just left
        (SMS5, [-30, -20, -16, -1], 0, 0),
        (SMS5, [-10, -1, -1, -1, -1, -1], 0, 14),  # six in the window (over the limit): last five rule
        (CALL1, [], 0, 0),
        (CALL1, [-1], 0, 4),
        (CALL1, [-5], 0, 0),
        (CALL1, [-4.5], 0, 0.5),
        (CALL1, [2], 0, 7),  # a call already scheduled at +2: the next at +7
        (CALL1, [10], 0, 0),  # a call at +10 leaves room now (5 min apart)
        (CALL1, [3], 0, 8),  # now would be too close to the +3 call
        (CALL1, [0, 5], 0, 10),  # slots handed out in one tick
        (CALL1, [5], 0, 0),
        (SMS5, [0, 0, 0, 0, 0], 0, 15),
        (SMS5, [-1, 0, 1, 2, 3], 0, 14),
        (Throttle(2, timedelta(minutes=10)), [-9, 8], 0, 0),  # -9, 0, +8: never three in 10 min
        (Throttle(2, timedelta(minutes=10)), [-9, -8, 8], 0, 1),
        (
            Throttle(2, timedelta(minutes=10)),
            [-5, 5],
            0,
            0,
        ),  # -5 and +5 share no window: room between  # -8, +1, +8 fit; -9, -8, 0 would not
    ],
)
def test_next_send_slot(throttle, sent_offsets_min, now_offset_min, expected_offset_min):
    sent = [N0 + timedelta(minutes=x) for x in sent_offsets_min]
    now = N0 + timedelta(minutes=now_offset_min)
    assert next_send_slot(throttle, sent, now) == N0 + timedelta(minutes=expected_offset_min)


def test_default_throttles():
    assert DEFAULT_THROTTLES["sms"] == Throttle(5, timedelta(minutes=15))
    assert DEFAULT_THROTTLES["voice"] == Throttle(1, timedelta(minutes=5))
    assert DEFAULT_THROTTLES["email"] == Throttle(20, timedelta(minutes=15))
    with pytest.raises(TypeError):
        DEFAULT_THROTTLES["sms"] = Throttle(1, M)  # type: ignore[index]


@pytest.mark.parametrize(
    "max_, per, message",
    [(0, M, "max must be an integer >= 1"), (1, timedelta(0), "per must be a positive timedelta")],
)
def test_bad_throttles(max_, per, message):
    with pytest.raises(ValueError, match=message):
        Throttle(max_, per)


# =========================================================================== bundles


def _pending(n: int, start_id: int = 1, summary: str = "disk full on web{i}") -> list[Pending]:
    projects = ("acme/webshop", "agency/infra", "globex/db")
    return [
        Pending(
            id=start_id + i,
            incident_id=40 + i,
            short_code=short_code(40 + i),
            summary=summary.format(i=i),
            project=projects[i % 3],
        )
        for i in range(n)
    ]


ONE = Pending(7, 41, "41", "disk full on web1", "acme/webshop")


@pytest.mark.parametrize(
    "channel, expected_body, expected_subject",
    [
        (
            "sms",
            "[pagerd #41] acme/webshop: disk full on web1 - 1=ack 2=resolve",
            "[pagerd #41] acme/webshop: disk full on web1",
        ),
        (
            "voice",
            "This is pager D. Incident 41 for acme, project webshop. disk full on web1. "
            "Press 1 to acknowledge, 2 to resolve, 3 to escalate.",
            "[pagerd #41] acme/webshop: disk full on web1",
        ),
        (
            "email",
            "[pagerd #41] acme/webshop: disk full on web1\n\nIncident: #41\nProject:  acme/webshop\n"
            "Summary:  disk full on web1\n\n"
            'By SMS: reply 1 to acknowledge, 2 to resolve ("ack 41" when several are open).\n',
            "[pagerd #41] acme/webshop: disk full on web1",
        ),
    ],
)
def test_bundle_of_one(channel, expected_body, expected_subject):
    assert bundle(channel, [ONE]) == Bundle((7,), (41,), expected_body, expected_subject)


def test_bundle_of_one_sms_carries_the_link_within_one_segment():
    link = "https://pagerd.example.com/l/NDEuMC5hY2suMTc2NTAwMDAwMC5hbGljZQ.AAAAAAAAAAAAAAAAAAAAAA"
    b = bundle("sms", [ONE], link=link)
    assert b.body == f"[pagerd #41] acme/webshop: disk full on web1 - 1=ack 2=resolve {link}"
    assert sms_count(b.body).segments == 1


def test_bundle_of_two_sms():
    b = bundle("sms", [_pending(2)[1], _pending(2)[0]])
    assert b.ids == (1, 2) and b.incident_ids == (40, 41)
    assert b.body == (
        "2 new incidents for acme/webshop, agency/infra: #40 disk full on web0; #41 disk full on web1;"
        " reply 1 to ack all"
    )
    assert b.subject == "[pagerd] 2 new incidents for acme/webshop, agency/infra"


def test_bundle_of_two_voice_and_email():
    two = _pending(2)
    assert bundle("voice", two).body == (
        "This is pager D. 2 incidents. Incident 40 for acme, project webshop: disk full on web0. Incident 41 for"
        " agency, project infra: disk full on web1. Press 1 to acknowledge, 2 to resolve, 3 to escalate."
    )
    assert bundle("email", two).body == (
        "2 new incidents for acme/webshop, agency/infra:\n\n"
        "  #40  acme/webshop  disk full on web0\n"
        "  #41  agency/infra  disk full on web1\n\n"
        'Reply 1 to acknowledge all of them, or "ack CODE" for one.\n'
    )


def test_two_messages_for_one_incident_make_a_single_page():
    a = Pending(1, 41, "41", "disk full on web1", "acme/webshop")
    b = Pending(2, 41, "41", "disk full on web1 (95%)", "acme/webshop")
    out = bundle("sms", [b, a])
    assert out.ids == (1, 2) and out.incident_ids == (41,)
    assert out.body == "[pagerd #41] acme/webshop: disk full on web1 (95%) - 1=ack 2=resolve"


def test_bundle_of_500():
    pending = _pending(500)
    b = bundle("sms", pending)
    assert b.ids == tuple(range(1, 501))
    assert b.incident_ids == tuple(range(40, 540))
    assert sms_count(b.body) == SmsCount("GSM-7", len(b.body), 1)
    assert b.body.startswith("500 new incidents for acme/webshop, agency/infra, globex/db: #40 disk full on web0; #41 ")
    assert b.body.endswith(" more; reply 1 to ack all")
    assert "+497 more" in b.body  # 3 listed after 60-odd characters of header
    two_segments = bundle("sms", pending, 306)
    assert sms_count(two_segments.body).segments == 2 and "+491 more" in two_segments.body
    voice = bundle("voice", pending)
    assert voice.ids == b.ids and voice.body.count("Incident ") == 5 and "And 495 more." in voice.body
    email = bundle("email", pending)
    assert email.ids == b.ids and all(f"#{i}  " in email.body for i in range(40, 540))


@pytest.mark.parametrize("limit", [70, 100, 160, 320, 1600])
def test_sms_bundle_aims_at_the_limit_and_keeps_the_reply_instructions(limit):
    long = _pending(30, summary="x" * 200 + " {i}")
    for pending in (long, long[:1], long[:2]):
        b = bundle("sms", pending, max_sms_chars=limit)
        assert b.ids == tuple(p.id for p in pending)
        assert b.body.endswith(("1=ack 2=resolve", "reply 1 to ack all"))
        # the summaries are shortened to fit, down to a floor: below one segment the limit can be passed
        assert len(b.body) <= limit if limit >= 160 else sms_count(b.body).segments == 1


def _sms_bundle_listing_every_entry(items, *, target):
    """messages.sms_bundle as it was before it stopped at the first entry that cannot fit: every entry
    made and measured (the reference of its equivalence test)."""
    from pager.domain.messages import (
        BUNDLE_SUMMARY_SEPTETS,
        MIN_SMS_SUMMARY,
        NO_SUMMARY,
        SMS_REPLY_ALL,
        _fold,
        cut_gsm,
        gsm_len,
        to_gsm,
    )

    n = len(items)
    projects = sorted({_fold(to_gsm(i.project)) or "?" for i in items})
    tail = f"; {SMS_REPLY_ALL}"
    room = max(target // 2, MIN_SMS_SUMMARY)
    shown = list(projects)
    proj_text = ", ".join(shown)
    while gsm_len(proj_text) > room and len(shown) > 1:
        shown.pop()
        proj_text = ", ".join(shown) + f" +{len(projects) - len(shown)} more"
    head = f"{n} new incidents for {cut_gsm(proj_text, room)}: "
    entries = [
        f"#{i.short_code} {cut_gsm(_fold(to_gsm(i.summary)) or NO_SUMMARY, BUNDLE_SUMMARY_SEPTETS)}" for i in items
    ]
    best, listed = 1, 0
    for k, entry in enumerate(entries, start=1):
        listed += gsm_len(entry) + (2 if k > 1 else 0)
        more = f"; +{n - k} more" if n - k else ""
        if listed <= target - gsm_len(head) - gsm_len(more) - gsm_len(tail):
            best = k
    more = f"; +{n - best} more" if n - best else ""
    budget = max(target - gsm_len(head) - gsm_len(more) - gsm_len(tail), MIN_SMS_SUMMARY)
    return head + cut_gsm("; ".join(entries[:best]), budget) + more + tail


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ab cé€[]\n", max_size=60),
            st.sampled_from(["acme/webshop", "agency/infra", "globex/db", "", "x" * 90]),
            st.integers(min_value=1, max_value=10**7),
        ),
        min_size=2,
        max_size=120,
    ),
    st.sampled_from([70, 100, 160, 161, 306, 320, 1600]),
)
def test_sms_bundle_stopping_early_says_what_listing_every_entry_says(rows, target):
    from pager.domain.messages import SmsItem, sms_bundle

    items = [SmsItem(str(code), project, summary) for summary, project, code in rows]
    assert sms_bundle(items, target=target) == _sms_bundle_listing_every_entry(items, target=target)


def test_sms_bundle_lists_every_incident_when_all_fit_without_the_count_of_more():
    """The last entry is short enough to fit where "; +1 more" did not: the bundle lists all seven."""
    from pager.domain.messages import SmsItem, sms_bundle

    rows = [("17", 2), ("89", 23), ("33", 6), ("35", 3), ("70", 13), ("29", 27), ("94", 1)]
    items = [SmsItem(code, "a/b", "x" * length) for code, length in rows]
    body = sms_bundle(items, target=160)
    assert body == _sms_bundle_listing_every_entry(items, target=160)
    assert "#94 x;" in body and "more" not in body


def test_many_projects_are_shortened():
    pending = [Pending(i, i, str(i), "down", f"customer{i:03d}/project-with-a-long-name") for i in range(1, 40)]
    b = bundle("sms", pending)
    assert (
        sms_count(b.body).segments == 1 and "more" in b.body and b.body.startswith("39 new incidents for customer001/")
    )


def test_summaries_are_cleaned_for_sms():
    p = Pending(1, 5, "5", "  disk\nfull\t on   web1 ", "a/b")
    assert bundle("sms", [p]).body == "[pagerd #5] a/b: disk full on web1 - 1=ack 2=resolve"
    assert bundle("sms", [Pending(1, 5, "5", " ", "a/b")]).body.startswith("[pagerd #5] a/b: (no summary) - ")


@pytest.mark.parametrize(
    "channel, pending, limit, message",
    [
        ("sms", [], 320, "nothing pending"),
        ("fax", [ONE], 320, "'fax' is not a valid Channel"),
        ("sms", [ONE], 20, "max_sms_chars must be at least 70"),
    ],
)
def test_bad_bundles(channel, pending, limit, message):
    with pytest.raises(ValueError, match=message):
        bundle(channel, pending, limit)


# =========================================================================== replies

ACK, RES, ESC, WORKED = Command.ACK, Command.RESOLVE, Command.ESCALATE, Command.WORKED


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1", Reply(ACK)),
        ("ack", Reply(ACK)),
        ("ACK", Reply(ACK)),
        ("Acknowledge", Reply(ACK)),
        ("acked", Reply(ACK)),
        ("ACK 42", Reply(ACK, "42")),
        ("1 42", Reply(ACK, "42")),
        ("1 #42", Reply(ACK, "42")),
        ("1#42", Reply(ACK, "42")),
        (" Ack  #42 ", Reply(ACK, "42")),
        ("ack#42", Reply(ACK, "42")),
        ("ack42", Reply(ACK, "42")),
        ("ack 042", Reply(ACK, "42")),
        ("Ack.", Reply(ACK)),
        ("ack 42!", Reply(ACK, "42")),
        ("\tack\n42\n", Reply(ACK, "42")),
        ("2", Reply(RES)),
        ("resolve 42", Reply(RES, "42")),
        ("Resolved", Reply(RES)),
        ("res 9", Reply(RES, "9")),
        ("2 7", Reply(RES, "7")),
        ("3", Reply(ESC)),
        ("esc", Reply(ESC)),
        ("ESC 7", Reply(ESC, "7")),
        ("escalate 7", Reply(ESC, "7")),
        ("worked 45", Reply(WORKED, None, 45)),
        ("Worked 45 #42", Reply(WORKED, "42", 45)),
        ("worked 45 42", Reply(WORKED, "42", 45)),
        ("worked 90m", Reply(WORKED, None, 90)),
        ("worked 90 min", Reply(WORKED, None, 90)),
        ("worked 1h30", Reply(WORKED, None, 90)),
        ("worked 1:30 #42", Reply(WORKED, "42", 90)),
        ("worked 2h", Reply(WORKED, None, 120)),
        ("worked45", Reply(WORKED, None, 45)),
        # not understood
        ("", Reply(None)),
        ("   ", Reply(None)),
        ("142", Reply(None)),  # not "1 42"
        ("4", Reply(None)),
        ("0", Reply(None)),
        ("hello", Reply(None)),
        ("ok thanks", Reply(None)),
        ("ack 42 43", Reply(None)),
        ("ack abc", Reply(None)),
        ("#42 ack", Reply(None)),
        ("acknowledged it, on my way", Reply(None)),
        ("worked", Reply(None)),
        ("worked 0", Reply(None)),
        ("worked 1441", Reply(None)),
        ("worked 1h75", Reply(None)),
        ("worked lots", Reply(None)),
        ("STOP", Reply(None)),
        ("ack １２", Reply(None)),  # full-width digits are not a short code
    ],
)
def test_parse_reply(text, expected):
    assert parse_reply(text) == expected


@pytest.mark.parametrize(
    "digits, expected",
    [
        ("1", ACK),
        ("2", RES),
        ("3", ESC),
        (" 1 ", ACK),
        ("1#", ACK),
        ("", None),
        ("4", None),
        ("0", None),
        ("12", None),
        ("*", None),
        ("#", None),
    ],
)
def test_parse_digits(digits, expected):
    assert parse_digits(digits) is expected


NOT_PAGED, EARLIER = Refusal.NOT_PAGED, Refusal.EARLIER_ROUND


@pytest.mark.parametrize(
    "command, current, rounds, named, expected",
    [
        # answering the page they got (a bare reply, a keypress, a one-tap link)
        (Command.ACK, 0, {0}, False, None),
        (Command.RESOLVE, 1, {0, 1}, False, None),
        (Command.ESCALATE, 2, {2}, False, None),
        (Command.ACK, 1, {0}, False, EARLIER),  # reopened since it paged them
        (Command.RESOLVE, 3, {0, 1, 2}, False, EARLIER),
        (Command.ACK, 0, set(), False, NOT_PAGED),  # another engineer's incident
        # naming the incident ("ack 42"): any round that reached them
        (Command.ACK, 1, {0}, True, None),
        (Command.ESCALATE, 5, {1}, True, None),
        (Command.ACK, 1, set(), True, NOT_PAGED),
        (Command.RESOLVE, 0, set(), True, NOT_PAGED),
        # worked time: any round that reached them, named or not
        (Command.WORKED, 1, {0}, False, None),
        (Command.WORKED, 1, {0}, True, None),
        (Command.WORKED, 0, set(), False, NOT_PAGED),
        (Command.WORKED, 0, set(), True, NOT_PAGED),
    ],
)
def test_may_answer(command, current, rounds, named, expected):
    assert may_answer(command, current, frozenset(rounds), named=named) is expected


@pytest.mark.parametrize("incident_id, code", [(1, "1"), (42, "42"), (123456, "123456")])
def test_short_code(incident_id, code):
    assert short_code(incident_id) == code
    assert parse_reply(f"ack {code}").short_code == code


# =========================================================================== properties

pendings = st.lists(
    st.builds(
        Pending,
        id=st.integers(1, 10**9),
        incident_id=st.integers(1, 10**6),
        short_code=st.just(""),
        summary=st.text(max_size=300),
        project=st.sampled_from(["acme/webshop", "agency/infra", "globex/db", "x" * 120]),
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda p: p.id,
).map(lambda ps: [Pending(p.id, p.incident_id, short_code(p.incident_id), p.summary, p.project) for p in ps])


@PROPS
@given(pendings, st.sampled_from(["sms", "voice", "email"]), st.integers(70, 1000))
def test_bundle_never_drops_an_id(pending, channel, limit):
    b = bundle(channel, pending, limit)
    assert b.ids == tuple(sorted(p.id for p in pending))
    assert b.incident_ids == tuple(sorted({p.incident_id for p in pending}))
    assert b.body
    if channel == "sms":  # GSM-7, with its reply instructions whole however long the rest
        assert is_gsm7(b.body) and b.body.endswith(("1=ack 2=resolve", "reply 1 to ack all"))
    assert bundle(channel, list(reversed(pending)), limit) == b  # order of arrival does not matter


@PROPS
@given(pendings, st.sampled_from(["sms", "voice", "email"]), st.integers(70, 1000), st.text(max_size=300))
def test_a_bundle_says_nothing_of_the_summaries_it_does_not_show(pending, channel, limit, other):
    """The engine reads alert texts only for bundle_shows' incidents: whatever the others' summaries are,
    the bundle is the same. (That sms_bundle's bound never hides an entry that would fit is
    test_sms_bundle_stopping_early_says_what_listing_every_entry_says.)"""
    from pager.domain.paging import bundle_shows

    shown = bundle_shows(channel, [p.incident_id for p in pending], limit)
    assert set(shown) <= {p.incident_id for p in pending} and shown == tuple(sorted(set(shown)))
    changed = [p if p.incident_id in shown else dataclasses.replace(p, summary=other) for p in pending]
    assert bundle(channel, changed, limit) == bundle(channel, pending, limit)


@pytest.mark.parametrize(
    ("channel", "incidents", "limit", "shown"),
    [
        ("sms", [7], 160, (7,)),
        ("sms", range(1, 101), 160, tuple(range(1, 28))),  # (160 + 2) // 6 entries at most
        ("sms", range(1, 101), 70, tuple(range(1, 13))),
        ("sms", [5, 3, 5, 9], 160, (3, 5, 9)),
        ("voice", range(1, 101), 160, (1, 2, 3, 4, 5)),
        ("email", range(1, 101), 160, tuple(range(1, 101))),
        ("email", [], 160, ()),
    ],
)
def test_bundle_shows(channel, incidents, limit, shown):
    from pager.domain.paging import bundle_shows

    assert bundle_shows(channel, incidents, limit) == shown


def _max_in_any_window(times: list[datetime], per: timedelta) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= per:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@PROPS
@given(
    st.integers(1, 6),
    st.integers(1, 20),
    st.lists(st.integers(0, 3600), min_size=1, max_size=60),
)
def test_greedy_slots_never_exceed_the_throttle(max_, per_minutes, arrivals_s):
    throttle = Throttle(max_, timedelta(minutes=per_minutes))
    sent: list[datetime] = []
    for a in sorted(arrivals_s):
        now = N0 + timedelta(seconds=a)
        slot = next_send_slot(throttle, sent, now)
        assert slot >= now
        # The earliest such slot: a moment earlier would break the throttle.
        if slot > now:
            assert _max_in_any_window(sent + [slot - S], throttle.per) > throttle.max
        sent.append(slot)
        assert _max_in_any_window(sent, throttle.per) <= throttle.max


@PROPS
@given(
    st.lists(st.integers(0, 3600), min_size=1, max_size=6),
    st.integers(0, 4),
    st.integers(-2, 40),
)
def test_steps_are_ordered_and_end(waits_s, repeat, k):
    policy = Policy("p", tuple(Step((ONCALL,), timedelta(seconds=w)) for w in waits_s), repeat)
    due = step_at(policy, P0, k)
    assert (due is None) == (not 0 <= k < len(waits_s) * (1 + repeat))
    assert next_step(policy, P0, k - 1) == due
    if due is not None:
        assert (due.round, due.index) == divmod(k, len(waits_s))
        assert due.at == P0 + sum((timedelta(seconds=waits_s[j % len(waits_s)]) for j in range(k)), timedelta(0))
        later = step_at(policy, P0, k + 1)
        assert later is None or later.at >= due.at
    assert Policy.from_json(policy.to_json()) == policy


@PROPS
@given(
    st.sampled_from(list(Coverage)),
    st.frozensets(st.sampled_from([Period.WEEKEND, Period.EVENING_NIGHT, Period.HOLIDAY])),
    st.integers(0, 2 * 365 * 24 * 4),
)
def test_coverage_decisions_are_consistent(mode, periods, quarter_hours):
    now = T("2025-01-01T00:00:00+00:00") + timedelta(minutes=15 * quarter_hours)
    d = decide_coverage(ProjectCoverage("a/b", mode, periods), NL, now)
    assert isinstance(d, CoverageDecision) and d.period is NL.period_at(now)
    if d.page:
        assert d.notify_desk_at is None
        assert d.rotation == ("office" if d.period is Period.OFFICE else "standby")
    else:
        assert mode is not Coverage.ALWAYS and d.rotation is None and d.period is not Period.OFFICE
        assert d.notify_desk_at is not None and d.notify_desk_at > now
        assert NL.period_at(d.notify_desk_at) is Period.OFFICE
        assert NL.period_at(d.notify_desk_at - S) is not Period.OFFICE
        assert NL.windows(now, d.notify_desk_at, [Period.OFFICE]) == []  # no office time skipped


@PROPS
@given(st.text(max_size=40))
def test_parse_reply_never_raises(text):
    r = parse_reply(text)
    assert r.command is None or isinstance(r.command, Command)
    if r.command is None:
        assert r == Reply(None)


@PROPS
@given(
    st.sampled_from(["1", "ack", "2", "resolve", "3", "esc", "escalate", "ACK", "Resolve"]),
    st.one_of(st.none(), st.integers(1, 10**9)),
    st.sampled_from([" ", "  ", " #", "#", " # "]),
)
def test_parse_reply_reads_what_we_tell_people_to_send(word, incident_id, sep):
    text = word if incident_id is None else f"{word}{sep}{incident_id}"
    r = parse_reply(text)
    assert r.command is not None
    assert r.short_code == (None if incident_id is None else short_code(incident_id))


# -- next_attempt_at: when a message that failed recoverably is tried again ---------------------------
import pager.domain.paging as dp  # noqa: E402

_T = datetime(2026, 1, 7, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "attempts, max_attempts, retry_after, wait",
    [
        (1, 20, None, timedelta(seconds=10)),  # 5 s x 2^1
        (2, 20, None, timedelta(seconds=20)),
        (3, 20, None, timedelta(seconds=40)),
        (5, 20, None, timedelta(seconds=160)),
        (6, 20, None, timedelta(minutes=5)),  # capped at 5 minutes
        (19, 20, None, timedelta(minutes=5)),
        (40, 50, None, timedelta(minutes=5)),  # no overflow far out
        (1, 20, timedelta(seconds=100), timedelta(seconds=100)),  # the provider's Retry-After, when later
        (3, 20, timedelta(seconds=5), timedelta(seconds=40)),  # ... never sooner than the backoff
        (1, 20, timedelta(hours=5), timedelta(hours=1)),  # a Retry-After is honoured up to an hour
        (20, 20, None, None),  # the last attempt failed: given up
        (1, 1, timedelta(seconds=30), None),
    ],
)
def test_next_attempt_at(attempts, max_attempts, retry_after, wait):
    got = dp.next_attempt_at(_T, attempts, max_attempts, retry_after)
    assert got == (None if wait is None else _T + wait)


def test_next_attempt_at_needs_an_attempt():
    with pytest.raises(ValueError):
        dp.next_attempt_at(_T, 0, 20)


def test_default_retries_last_about_75_minutes():
    at, attempts = _T, 1
    while (nxt := dp.next_attempt_at(at, attempts, 20)) is not None:
        at, attempts = nxt, attempts + 1
    assert (attempts, at - _T) == (20, timedelta(minutes=75, seconds=10))


def test_the_engine_makes_a_new_plan_for_a_new_config_even_at_a_reused_address(monkeypatch):
    """A reloaded config may be allocated where the freed one was (the same id()); the engine's routing
    plan follows the config object, never its id."""
    from types import SimpleNamespace

    from pager.service import paging as service_paging

    made: list[object] = []
    monkeypatch.setattr(service_paging, "plan_of", lambda cfg: made.append(cfg) or ("plan", cfg))
    engine = SimpleNamespace(_plan=None)
    plan = service_paging.PagingEngine.plan
    a, b = object(), object()
    assert plan(engine, a) == ("plan", a) and plan(engine, a) == ("plan", a)
    assert plan(engine, b) == ("plan", b)
    assert made == [a, b]
