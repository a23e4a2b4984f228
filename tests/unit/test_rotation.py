"""Rotations and overrides (issue 3): literal cases first (one per row), then properties."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta, timezone
from itertools import pairwise
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.domain import rotation as rotation_module
from pager.domain.calendar import Calendar, Period, first_instant_at, local_wall, zone_of
from pager.domain.rotation import Layered, Override, Rotation, Shift, ShiftUnit, next_shift, on_call, shifts

UTC = timezone.utc
T = datetime.fromisoformat
H = timedelta(hours=1)
OUTSIDE_OFFICE = frozenset({Period.WEEKEND, Period.EVENING_NIGHT, Period.HOLIDAY})
NL = Calendar()

# The agency's weekly standby rotation: Monday 08:30 hand-offs, from Monday 5 January 2026.
STANDBY = Rotation(
    name="standby",
    participants=("alice", "bob", "carol"),
    start=T("2026-01-05T08:30:00+01:00"),
    shift_length=1,
    shift_unit=ShiftUnit.WEEKS,
    handoff_time=time(8, 30),
    handoff_weekday=0,
    tz="Europe/Amsterdam",
)
STANDBY_OUTSIDE_OFFICE = Rotation(
    name="standby",
    participants=("alice", "bob", "carol"),
    start=T("2026-01-05T08:30:00+01:00"),
    handoff_weekday=0,
    restrict_to=OUTSIDE_OFFICE,
)
OFFICE = Rotation(
    name="office",
    participants=("olga", "piet"),
    start=T("2026-01-05T08:30:00+01:00"),
    handoff_weekday=0,
    restrict_to=frozenset({Period.OFFICE}),
)
NEW_YORK = Rotation(
    name="ny",
    participants=("dave", "erin"),
    start=T("2026-01-05T09:00:00-05:00"),
    handoff_time=time(9, 0),
    handoff_weekday=0,
    tz="America/New_York",
)
DAILY_0230 = Rotation(
    name="daily",
    participants=("a", "b"),
    start=T("2026-03-01T02:30:00+01:00"),
    shift_unit=ShiftUnit.DAYS,
    handoff_time=time(2, 30),
)
HOURLY = Rotation(
    name="hourly",
    participants=("a", "b", "c"),
    start=T("2026-03-29T00:00:00+01:00"),
    shift_unit=ShiftUnit.HOURS,
    handoff_time=time(0, 0),
)
HOURLY_AUTUMN = Rotation(
    name="hourly",
    participants=("a", "b", "c"),
    start=T("2026-10-25T00:00:00+02:00"),
    shift_unit=ShiftUnit.HOURS,
    handoff_time=time(0, 0),
)
TWELVE = Rotation(
    name="12h",
    participants=("day", "night"),
    start=T("2026-03-28T08:00:00+01:00"),
    shift_length=12,
    shift_unit=ShiftUnit.HOURS,
    handoff_time=time(8, 0),
)


def _shift(rot: Rotation, person: str, start: str, end: str, oid: str | None = None) -> Shift:
    return Shift(rot.name, person, T(start).astimezone(UTC), T(end).astimezone(UTC), oid)


def _ov(oid, start, end, person, replaces=None, created="2026-01-01T00:00:00+00:00", rot="standby"):
    return Override(
        id=oid,
        rotation=rot,
        start=T(start),
        end=T(end),
        person=person,
        replaces=replaces,
        created_by="admin",
        created_at=T(created),
    )


# ---------------------------------------------------------------------------- on_call


@pytest.mark.parametrize(
    "rot, at, person, start, end",
    [
        # Before the start nobody is on call.
        (STANDBY, "2026-01-05T08:29:59+01:00", None, None, None),
        (STANDBY, "2026-01-05T08:30:00+01:00", "alice", "2026-01-05T08:30:00+01:00", "2026-01-12T08:30:00+01:00"),
        (STANDBY, "2026-01-12T08:29:59+01:00", "alice", "2026-01-05T08:30:00+01:00", "2026-01-12T08:30:00+01:00"),
        (STANDBY, "2026-01-12T08:30:00+01:00", "bob", "2026-01-12T08:30:00+01:00", "2026-01-19T08:30:00+01:00"),
        (STANDBY, "2026-01-19T08:30:00+01:00", "carol", "2026-01-19T08:30:00+01:00", "2026-01-26T08:30:00+01:00"),
        (STANDBY, "2026-01-26T08:30:00+01:00", "alice", "2026-01-26T08:30:00+01:00", "2026-02-02T08:30:00+01:00"),
        # Month end.
        (STANDBY, "2026-01-31T23:59:59+01:00", "alice", "2026-01-26T08:30:00+01:00", "2026-02-02T08:30:00+01:00"),
        # The week of the spring change: 167 hours, hand-off still at 08:30 local.
        (STANDBY, "2026-03-29T02:30:00+00:00", "carol", "2026-03-23T08:30:00+01:00", "2026-03-30T08:30:00+02:00"),
        (STANDBY, "2026-03-30T08:29:59+02:00", "carol", "2026-03-23T08:30:00+01:00", "2026-03-30T08:30:00+02:00"),
        (STANDBY, "2026-03-30T08:30:00+02:00", "alice", "2026-03-30T08:30:00+02:00", "2026-04-06T08:30:00+02:00"),
        # The week of the autumn change: 169 hours; both 02:30s on the Sunday.
        (STANDBY, "2026-10-25T02:30:00+02:00", "carol", "2026-10-19T08:30:00+02:00", "2026-10-26T08:30:00+01:00"),
        (STANDBY, "2026-10-25T02:30:00+01:00", "carol", "2026-10-19T08:30:00+02:00", "2026-10-26T08:30:00+01:00"),
        (STANDBY, "2026-10-26T08:29:59+01:00", "carol", "2026-10-19T08:30:00+02:00", "2026-10-26T08:30:00+01:00"),
        (STANDBY, "2026-10-26T08:30:00+01:00", "alice", "2026-10-26T08:30:00+01:00", "2026-11-02T08:30:00+01:00"),
        # Year end.
        (STANDBY, "2026-12-31T23:59:59+01:00", "alice", "2026-12-28T08:30:00+01:00", "2027-01-04T08:30:00+01:00"),
        (STANDBY, "2027-01-04T08:30:00+01:00", "bob", "2027-01-04T08:30:00+01:00", "2027-01-11T08:30:00+01:00"),
        # Years later: arithmetic, not a walk.
        (STANDBY, "2036-02-29T12:00:00+01:00", "bob", "2036-02-25T08:30:00+01:00", "2036-03-03T08:30:00+01:00"),
        # New York: spring change on Sunday 8 March, autumn on Sunday 1 November 2026.
        (NEW_YORK, "2026-03-08T12:00:00-04:00", "dave", "2026-03-02T09:00:00-05:00", "2026-03-09T09:00:00-04:00"),
        (NEW_YORK, "2026-03-09T09:00:00-04:00", "erin", "2026-03-09T09:00:00-04:00", "2026-03-16T09:00:00-04:00"),
        (NEW_YORK, "2026-11-01T01:30:00-05:00", "dave", "2026-10-26T09:00:00-04:00", "2026-11-02T09:00:00-05:00"),
        (NEW_YORK, "2026-11-02T09:00:00-05:00", "erin", "2026-11-02T09:00:00-05:00", "2026-11-09T09:00:00-05:00"),
        # Daily at 02:30: the hand-off that does not exist happens at 03:00 CEST (23.5 h
        # shifts either side); the one that happens twice, the first time (24 h, then 25 h).
        (DAILY_0230, "2026-03-28T12:00:00+01:00", "b", "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00"),
        (DAILY_0230, "2026-03-29T03:00:00+02:00", "a", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"),
        (DAILY_0230, "2026-10-24T12:00:00+02:00", "b", "2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00"),
        (DAILY_0230, "2026-10-25T02:30:00+01:00", "a", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"),
        # 12-hour shifts stay at 08:00/20:00: the night shifts last 11 and 13 hours.
        (TWELVE, "2026-03-28T19:59:59+01:00", "day", "2026-03-28T08:00:00+01:00", "2026-03-28T20:00:00+01:00"),
        (TWELVE, "2026-03-29T03:00:00+02:00", "night", "2026-03-28T20:00:00+01:00", "2026-03-29T08:00:00+02:00"),
        (TWELVE, "2026-03-29T08:00:00+02:00", "day", "2026-03-29T08:00:00+02:00", "2026-03-29T20:00:00+02:00"),
        (TWELVE, "2026-10-25T02:30:00+01:00", "night", "2026-10-24T20:00:00+02:00", "2026-10-25T08:00:00+01:00"),
        # Hourly through the spring gap: the 02:00 hour does not exist, c's turn is empty.
        (HOURLY, "2026-03-29T00:30:00+01:00", "a", "2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00"),
        (HOURLY, "2026-03-29T01:59:59+01:00", "b", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"),
        (HOURLY, "2026-03-29T03:00:00+02:00", "a", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"),
        # Hourly through the autumn fold: the 02:00 hour happens twice, c has both.
        (HOURLY_AUTUMN, "2026-10-25T02:30:00+02:00", "c", "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00"),
        (HOURLY_AUTUMN, "2026-10-25T02:30:00+01:00", "c", "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00"),
        (HOURLY_AUTUMN, "2026-10-25T03:00:00+01:00", "a", "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"),
    ],
)
def test_on_call(rot, at, person, start, end):
    got = on_call(rot, T(at))
    if person is None:
        assert got is None
    else:
        assert got == _shift(rot, person, start, end)


@pytest.mark.parametrize(
    "rot, start, end, hours",
    [
        (STANDBY, "2026-03-23T08:30:00+01:00", "2026-03-30T08:30:00+02:00", 167),
        (STANDBY, "2026-10-19T08:30:00+02:00", "2026-10-26T08:30:00+01:00", 169),
        (STANDBY, "2026-03-30T08:30:00+02:00", "2026-04-06T08:30:00+02:00", 168),
        (NEW_YORK, "2026-03-02T09:00:00-05:00", "2026-03-09T09:00:00-04:00", 167),
        (NEW_YORK, "2026-10-26T09:00:00-04:00", "2026-11-02T09:00:00-05:00", 169),
        (DAILY_0230, "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", 23.5),
        (DAILY_0230, "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", 23.5),
        (DAILY_0230, "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", 25),
        (TWELVE, "2026-03-28T20:00:00+01:00", "2026-03-29T08:00:00+02:00", 11),
        (TWELVE, "2026-10-24T20:00:00+02:00", "2026-10-25T08:00:00+01:00", 13),
        (HOURLY_AUTUMN, "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00", 2),
    ],
)
def test_shift_lengths_across_dst_are_real_time(rot, start, end, hours):
    (got,) = [s for s in shifts(rot, T(start), T(end)) if s.start == T(start)]
    assert got.end == T(end)
    assert got.duration == timedelta(hours=hours)


@pytest.mark.parametrize(
    "rot, start, end, expected",
    [
        pytest.param(
            STANDBY,
            "2026-03-20T00:00:00+01:00",
            "2026-04-10T00:00:00+02:00",
            [
                ("bob", "2026-03-16T08:30:00+01:00", "2026-03-23T08:30:00+01:00"),
                ("carol", "2026-03-23T08:30:00+01:00", "2026-03-30T08:30:00+02:00"),
                ("alice", "2026-03-30T08:30:00+02:00", "2026-04-06T08:30:00+02:00"),
                ("bob", "2026-04-06T08:30:00+02:00", "2026-04-13T08:30:00+02:00"),
            ],
            id="weekly-unclipped-across-spring",
        ),
        pytest.param(
            STANDBY,
            "2026-01-01T00:00:00+01:00",
            "2026-01-13T00:00:00+01:00",
            [
                ("alice", "2026-01-05T08:30:00+01:00", "2026-01-12T08:30:00+01:00"),
                ("bob", "2026-01-12T08:30:00+01:00", "2026-01-19T08:30:00+01:00"),
            ],
            id="range-from-before-the-start",
        ),
        pytest.param(
            STANDBY,
            "2026-01-12T08:30:00+01:00",
            "2026-01-19T08:30:00+01:00",
            [("bob", "2026-01-12T08:30:00+01:00", "2026-01-19T08:30:00+01:00")],
            id="exactly-one-shift",
        ),
        pytest.param(
            STANDBY,
            "2025-01-01T00:00:00+01:00",
            "2026-01-01T00:00:00+01:00",
            [],
            id="all-before-the-start",
        ),
        pytest.param(
            HOURLY,
            "2026-03-29T00:00:00+01:00",
            "2026-03-29T05:00:00+02:00",
            [
                ("a", "2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00"),
                ("b", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"),
                # c's 02:00 hour does not exist; a and b carry on in turn.
                ("a", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"),
                ("b", "2026-03-29T04:00:00+02:00", "2026-03-29T05:00:00+02:00"),
            ],
            id="hourly-spring-gap",
        ),
        pytest.param(
            HOURLY_AUTUMN,
            "2026-10-25T00:00:00+02:00",
            "2026-10-25T04:00:00+01:00",
            [
                ("a", "2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00"),
                ("b", "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00"),
                ("c", "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00"),
                ("a", "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"),
            ],
            id="hourly-autumn-fold",
        ),
    ],
)
def test_shifts(rot, start, end, expected):
    assert shifts(rot, T(start), T(end)) == [_shift(rot, *row) for row in expected]


@pytest.mark.parametrize(
    "rot, at, expected",
    [
        pytest.param(
            # Starts on a Wednesday noon, hands off on Mondays: a partial first shift.
            Rotation("r", ("alice", "bob"), T("2026-01-07T12:00:00+01:00"), handoff_weekday=0),
            "2026-01-08T12:00:00+01:00",
            ("alice", "2026-01-07T12:00:00+01:00", "2026-01-12T08:30:00+01:00"),
            id="partial-first-shift",
        ),
        pytest.param(
            Rotation("r", ("alice", "bob"), T("2026-01-07T12:00:00+01:00"), handoff_weekday=0),
            "2026-01-12T08:30:00+01:00",
            ("bob", "2026-01-12T08:30:00+01:00", "2026-01-19T08:30:00+01:00"),
            id="after-partial-first-shift",
        ),
        pytest.param(
            # No hand-off weekday: the start's weekday (Wednesday) at the hand-off time.
            Rotation("r", ("alice", "bob"), T("2026-01-07T08:30:00+01:00")),
            "2026-01-14T08:29:59+01:00",
            ("alice", "2026-01-07T08:30:00+01:00", "2026-01-14T08:30:00+01:00"),
            id="weekday-from-start",
        ),
        pytest.param(
            # 8-hour shifts on the 06/14/22 grid, started at 10:00.
            Rotation(
                "r",
                ("alice", "bob", "carol"),
                T("2026-01-05T10:00:00+01:00"),
                shift_length=8,
                shift_unit="hours",
                handoff_time=time(6),
            ),
            "2026-01-05T23:00:00+01:00",
            ("carol", "2026-01-05T22:00:00+01:00", "2026-01-06T06:00:00+01:00"),
            id="hour-grid",
        ),
        pytest.param(
            # 2-day shifts, started at noon: the first hand-off is the next 09:00.
            Rotation(
                "r",
                ("alice", "bob"),
                T("2026-01-05T12:00:00+01:00"),
                shift_length=2,
                shift_unit="days",
                handoff_time="09:00",
            ),
            "2026-01-07T10:00:00+01:00",
            ("bob", "2026-01-06T09:00:00+01:00", "2026-01-08T09:00:00+01:00"),
            id="two-day-shifts",
        ),
        pytest.param(
            # Fortnightly, hand-off Friday 17:00 in New York across the autumn change.
            Rotation(
                "r",
                ("dave", "erin"),
                T("2026-10-16T17:00:00-04:00"),
                shift_length=2,
                handoff_time=time(17),
                handoff_weekday=4,
                tz="America/New_York",
            ),
            "2026-11-01T12:00:00-05:00",
            ("erin", "2026-10-30T17:00:00-04:00", "2026-11-13T17:00:00-05:00"),
            id="fortnightly-new-york",
        ),
        pytest.param(
            Rotation("solo", ("alice",), T("2026-01-05T08:30:00+01:00"), handoff_weekday=0),
            "2026-06-01T08:30:00+02:00",
            ("alice", "2026-06-01T08:30:00+02:00", "2026-06-08T08:30:00+02:00"),
            id="one-participant",
        ),
        pytest.param(
            # The same person twice in the order is allowed.
            Rotation("r", ("alice", "bob", "alice", "carol"), T("2026-01-05T08:30:00+01:00")),
            "2026-01-20T12:00:00+01:00",
            ("alice", "2026-01-19T08:30:00+01:00", "2026-01-26T08:30:00+01:00"),
            id="repeated-participant",
        ),
    ],
)
def test_rotation_shapes(rot, at, expected):
    assert on_call(rot, T(at)) == _shift(rot, *expected)


# ---------------------------------------------------------------------------- restrictions


@pytest.mark.parametrize(
    "rot, at, expected",
    [
        # The office rotation only in office hours.
        (OFFICE, "2026-01-07T10:00:00+01:00", ("olga", "2026-01-07T08:30:00+01:00", "2026-01-07T18:00:00+01:00")),
        (OFFICE, "2026-01-07T08:29:59+01:00", None),
        (OFFICE, "2026-01-07T18:00:00+01:00", None),
        (OFFICE, "2026-01-10T12:00:00+01:00", None),  # Saturday
        (OFFICE, "2026-01-12T08:30:00+01:00", ("piet", "2026-01-12T08:30:00+01:00", "2026-01-12T18:00:00+01:00")),
        (OFFICE, "2026-04-06T10:00:00+02:00", None),  # Easter Monday
        # The standby rotation only outside them: one evening ...
        (
            STANDBY_OUTSIDE_OFFICE,
            "2026-01-07T20:00:00+01:00",
            ("alice", "2026-01-07T18:00:00+01:00", "2026-01-08T08:30:00+01:00"),
        ),
        (STANDBY_OUTSIDE_OFFICE, "2026-01-07T10:00:00+01:00", None),
        # ... the whole weekend, Friday 18:00 to the Monday 08:30 hand-off ...
        (
            STANDBY_OUTSIDE_OFFICE,
            "2026-01-10T12:00:00+01:00",
            ("alice", "2026-01-09T18:00:00+01:00", "2026-01-12T08:30:00+01:00"),
        ),
        # ... across the spring change (61.5 h) ...
        (
            STANDBY_OUTSIDE_OFFICE,
            "2026-03-28T12:00:00+01:00",
            ("carol", "2026-03-27T18:00:00+01:00", "2026-03-30T08:30:00+02:00"),
        ),
        # ... Easter: Good Friday to Easter Monday 08:30, where the next person takes over
        # until Tuesday 08:30 (Easter Monday is a holiday all day).
        (
            STANDBY_OUTSIDE_OFFICE,
            "2026-04-03T12:00:00+02:00",
            ("alice", "2026-04-02T18:00:00+02:00", "2026-04-06T08:30:00+02:00"),
        ),
        (
            STANDBY_OUTSIDE_OFFICE,
            "2026-04-06T12:00:00+02:00",
            ("bob", "2026-04-06T08:30:00+02:00", "2026-04-07T08:30:00+02:00"),
        ),
        (STANDBY_OUTSIDE_OFFICE, "2026-04-07T08:30:00+02:00", None),
        # Before the start nobody, even outside office hours.
        (STANDBY_OUTSIDE_OFFICE, "2026-01-03T12:00:00+01:00", None),
    ],
)
def test_restricted_on_call(rot, at, expected):
    got = on_call(rot, T(at), calendar=NL)
    assert got == (None if expected is None else _shift(rot, *expected))


def test_office_rotation_week_is_five_office_days():
    got = shifts(OFFICE, T("2026-01-05T00:00:00+01:00"), T("2026-01-12T00:00:00+01:00"), calendar=NL)
    assert [(s.person, s.start, s.end) for s in got] == [
        ("olga", T(f"2026-01-{d:02d}T08:30:00+01:00"), T(f"2026-01-{d:02d}T18:00:00+01:00")) for d in range(5, 10)
    ]


def test_standby_and_office_together_cover_every_instant_after_the_start():
    a, b = T("2026-03-20T00:00:00+01:00"), T("2026-04-20T00:00:00+02:00")
    both = sorted(
        shifts(OFFICE, a, b, calendar=NL) + shifts(STANDBY_OUTSIDE_OFFICE, a, b, calendar=NL),
        key=lambda s: s.start,
    )
    for x, y in pairwise(both):
        assert x.end == y.start


def test_restricted_rotation_needs_a_calendar():
    with pytest.raises(ValueError, match="calendar"):
        on_call(OFFICE, T("2026-01-07T10:00:00+01:00"))
    with pytest.raises(ValueError, match="calendar"):
        shifts(OFFICE, T("2026-01-07T10:00:00+01:00"), T("2026-01-08T10:00:00+01:00"))


def test_restriction_to_every_period_is_no_restriction():
    rot = Rotation("r", ("a",), T("2026-01-05T08:30:00+01:00"), restrict_to=set(Period))
    assert rot.restrict_to is None
    assert on_call(rot, T("2026-01-07T10:00:00+01:00")) is not None


# ---------------------------------------------------------------------------- overrides


def _rows(got):
    return [(s.person, s.start, s.end, s.override_id) for s in got]


def _expect(*rows):
    return [(p, T(a).astimezone(UTC), T(b).astimezone(UTC), oid) for p, a, b, oid in rows]


@pytest.mark.parametrize(
    "overrides, start, end, expected",
    [
        pytest.param(
            [_ov("o1", "2026-01-07T18:00:00+01:00", "2026-01-08T08:30:00+01:00", "bob")],
            "2026-01-05T08:30:00+01:00",
            "2026-01-12T08:30:00+01:00",
            [
                ("alice", "2026-01-05T08:30:00+01:00", "2026-01-07T18:00:00+01:00", None),
                ("bob", "2026-01-07T18:00:00+01:00", "2026-01-08T08:30:00+01:00", "o1"),
                ("alice", "2026-01-08T08:30:00+01:00", "2026-01-12T08:30:00+01:00", None),
            ],
            id="inside-a-shift",
        ),
        pytest.param(
            [_ov("o2", "2026-01-11T08:30:00+01:00", "2026-01-13T08:30:00+01:00", "carol")],
            "2026-01-05T08:30:00+01:00",
            "2026-01-19T08:30:00+01:00",
            [
                ("alice", "2026-01-05T08:30:00+01:00", "2026-01-11T08:30:00+01:00", None),
                ("carol", "2026-01-11T08:30:00+01:00", "2026-01-12T08:30:00+01:00", "o2"),
                ("carol", "2026-01-12T08:30:00+01:00", "2026-01-13T08:30:00+01:00", "o2"),
                ("bob", "2026-01-13T08:30:00+01:00", "2026-01-19T08:30:00+01:00", None),
            ],
            id="across-a-hand-off",
        ),
        pytest.param(
            [_ov("o3", "2026-01-01T00:00:00+01:00", "2026-02-01T00:00:00+01:00", "dave", replaces="bob")],
            "2026-01-05T08:30:00+01:00",
            "2026-01-26T08:30:00+01:00",
            [
                ("alice", "2026-01-05T08:30:00+01:00", "2026-01-12T08:30:00+01:00", None),
                ("dave", "2026-01-12T08:30:00+01:00", "2026-01-19T08:30:00+01:00", "o3"),
                ("carol", "2026-01-19T08:30:00+01:00", "2026-01-26T08:30:00+01:00", None),
            ],
            id="replaces-one-person-only",
        ),
        pytest.param(
            [_ov("o4", "2026-01-06T00:00:00+01:00", "2026-01-07T00:00:00+01:00", "dave", replaces="carol")],
            "2026-01-05T08:30:00+01:00",
            "2026-01-12T08:30:00+01:00",
            [("alice", "2026-01-05T08:30:00+01:00", "2026-01-12T08:30:00+01:00", None)],
            id="replaces-someone-not-on-call",
        ),
        pytest.param(
            [
                _ov(
                    "late",
                    "2026-01-06T00:00:00+01:00",
                    "2026-01-07T00:00:00+01:00",
                    "erin",
                    created="2026-01-02T10:00:00+00:00",
                ),
                _ov(
                    "early",
                    "2026-01-06T00:00:00+01:00",
                    "2026-01-07T00:00:00+01:00",
                    "gina",
                    created="2026-01-02T09:00:00+00:00",
                ),
                _ov(
                    "later",
                    "2026-01-06T12:00:00+01:00",
                    "2026-01-06T13:00:00+01:00",
                    "frank",
                    replaces="erin",
                    created="2026-01-02T11:00:00+00:00",
                ),
            ],
            "2026-01-05T08:30:00+01:00",
            "2026-01-12T08:30:00+01:00",
            [
                ("alice", "2026-01-05T08:30:00+01:00", "2026-01-06T00:00:00+01:00", None),
                ("erin", "2026-01-06T00:00:00+01:00", "2026-01-06T12:00:00+01:00", "late"),
                ("frank", "2026-01-06T12:00:00+01:00", "2026-01-06T13:00:00+01:00", "later"),
                ("erin", "2026-01-06T13:00:00+01:00", "2026-01-07T00:00:00+01:00", "late"),
                ("alice", "2026-01-07T00:00:00+01:00", "2026-01-12T08:30:00+01:00", None),
            ],
            id="latest-created-wins",
        ),
        pytest.param(
            [_ov("other", "2026-01-06T00:00:00+01:00", "2026-01-07T00:00:00+01:00", "zed", rot="office")],
            "2026-01-05T08:30:00+01:00",
            "2026-01-12T08:30:00+01:00",
            [("alice", "2026-01-05T08:30:00+01:00", "2026-01-12T08:30:00+01:00", None)],
            id="other-rotation-ignored",
        ),
        pytest.param(
            [_ov("pre", "2026-01-01T00:00:00+01:00", "2026-01-06T00:00:00+01:00", "zed")],
            "2026-01-01T00:00:00+01:00",
            "2026-01-12T08:30:00+01:00",
            [
                # Nobody was on call before the start; the override adds no coverage.
                ("zed", "2026-01-05T08:30:00+01:00", "2026-01-06T00:00:00+01:00", "pre"),
                ("alice", "2026-01-06T00:00:00+01:00", "2026-01-12T08:30:00+01:00", None),
            ],
            id="override-before-the-start",
        ),
        pytest.param(
            [_ov("dst", "2026-03-28T12:00:00+01:00", "2026-03-29T12:00:00+02:00", "dave")],
            "2026-03-28T00:00:00+01:00",
            "2026-03-30T00:00:00+02:00",
            [
                ("carol", "2026-03-23T08:30:00+01:00", "2026-03-28T12:00:00+01:00", None),
                ("dave", "2026-03-28T12:00:00+01:00", "2026-03-29T12:00:00+02:00", "dst"),
                ("carol", "2026-03-29T12:00:00+02:00", "2026-03-30T08:30:00+02:00", None),
            ],
            id="across-the-spring-change",
        ),
    ],
)
def test_overrides(overrides, start, end, expected):
    got = shifts(STANDBY, T(start), T(end), overrides)
    assert _rows(got) == _expect(*expected)
    for s in got:
        mid = s.start + (s.end - s.start) / 2
        assert on_call(STANDBY, mid, overrides) == s


@pytest.mark.parametrize(
    "at, expected",
    [
        # The override covers the whole day, but the office rotation only office hours.
        ("2026-01-07T10:00:00+01:00", ("zed", "2026-01-07T08:30:00+01:00", "2026-01-07T18:00:00+01:00", "o")),
        ("2026-01-07T20:00:00+01:00", None),
        ("2026-01-08T10:00:00+01:00", ("olga", "2026-01-08T08:30:00+01:00", "2026-01-08T18:00:00+01:00", None)),
    ],
)
def test_override_of_a_restricted_rotation(at, expected):
    ov = [_ov("o", "2026-01-07T00:00:00+01:00", "2026-01-08T00:00:00+01:00", "zed", rot="office")]
    got = on_call(OFFICE, T(at), ov, calendar=NL)
    assert got == (None if expected is None else _shift(OFFICE, *expected))


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"name": ""}, id="no-name"),
        pytest.param({"participants": ()}, id="no-participants"),
        pytest.param({"participants": ("alice", "")}, id="empty-participant"),
        pytest.param({"start": datetime(2026, 1, 5, 8, 30)}, id="naive-start"),
        pytest.param({"shift_length": 0}, id="zero-length"),
        pytest.param({"shift_length": 1.5}, id="fractional-length"),
        pytest.param({"shift_unit": "fortnights"}, id="bad-unit"),
        pytest.param({"handoff_time": time(8, 30, tzinfo=UTC)}, id="handoff-with-tz"),
        pytest.param({"handoff_weekday": 7}, id="weekday-out-of-range"),
        pytest.param({"handoff_weekday": "someday"}, id="weekday-unknown-name"),
        pytest.param({"shift_unit": "days", "handoff_weekday": 0}, id="weekday-on-daily"),
        pytest.param({"tz": "Mars/Olympus_Mons"}, id="bad-tz"),
        pytest.param({"restrict_to": ()}, id="empty-restriction"),
        pytest.param({"restrict_to": ("lunch",)}, id="unknown-period"),
    ],
)
def test_bad_rotations_are_rejected(kwargs):
    args = dict(name="r", participants=("a",), start=T("2026-01-05T08:30:00+01:00"))
    args.update(kwargs)
    with pytest.raises(ValueError):
        Rotation(**args)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"end": T("2026-01-06T00:00:00+01:00")}, id="empty-range"),
        pytest.param({"end": T("2026-01-05T00:00:00+01:00")}, id="inverted-range"),
        pytest.param({"start": datetime(2026, 1, 6)}, id="naive-start"),
        pytest.param({"created_at": datetime(2026, 1, 1)}, id="naive-created-at"),
        pytest.param({"person": ""}, id="nobody"),
        pytest.param({"replaces": ""}, id="replaces-empty"),
        pytest.param({"id": ""}, id="no-id"),
        pytest.param({"rotation": ""}, id="no-rotation"),
    ],
)
def test_bad_overrides_are_rejected(kwargs):
    args = dict(
        id="o",
        rotation="standby",
        start=T("2026-01-06T00:00:00+01:00"),
        end=T("2026-01-07T00:00:00+01:00"),
        person="bob",
        created_by="admin",
        created_at=T("2026-01-01T00:00:00+00:00"),
    )
    args.update(kwargs)
    with pytest.raises(ValueError):
        Override(**args)


def test_naive_instants_are_rejected():
    with pytest.raises(ValueError):
        on_call(STANDBY, datetime(2026, 1, 7, 12))
    with pytest.raises(ValueError):
        shifts(STANDBY, datetime(2026, 1, 7), T("2026-01-08T00:00:00+01:00"))
    with pytest.raises(ValueError):
        shifts(STANDBY, T("2026-01-08T00:00:00+01:00"), T("2026-01-07T00:00:00+01:00"))


def test_rotations_are_frozen_hashable_and_normalised():
    rot = Rotation("r", ["a", "b"], T("2026-01-05T08:30:00+01:00"), shift_unit="days")
    assert rot.participants == ("a", "b")
    weekly = Rotation("w", ("a",), T("2026-01-05T08:30:00+01:00"), handoff_weekday="Monday", restrict_to="office")
    assert weekly.handoff_weekday == 0 and weekly.restrict_to == frozenset({Period.OFFICE})
    assert rot.shift_unit is ShiftUnit.DAYS
    assert rot.start == T("2026-01-05T07:30:00+00:00") and rot.start.tzinfo is UTC
    assert hash(rot) == hash(Rotation("r", ("a", "b"), T("2026-01-05T07:30:00+00:00"), shift_unit="days"))
    with pytest.raises(AttributeError):
        rot.name = "other"  # type: ignore[misc]


def test_on_call_is_arithmetic_not_a_walk():
    """An hourly rotation started in 1990, asked about 2040: a handful of hand-off
    resolutions, not the 440,000 a walk from the start would take."""
    rot = Rotation("h", ("a", "b", "c"), T("1990-01-01T00:00:00+01:00"), shift_unit="hours", handoff_time=time(0))
    calls = []
    real = rotation_module.first_instant_at

    def counting(wall, zone):
        calls.append(wall)
        return real(wall, zone)

    rot._plan  # noqa: B018 - built once per rotation
    with mock.patch.object(rotation_module, "first_instant_at", counting):
        got = on_call(rot, T("2040-06-01T12:34:00+02:00"))
    assert got is not None and got.start == T("2040-06-01T12:00:00+02:00")
    assert len(calls) <= 3


# ---------------------------------------------------------------------------- properties

ZONES = ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Pacific/Apia"]
NAMES = ["ann", "ben", "cas", "dia", "eva"]
PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TICK = timedelta(microseconds=1)


@st.composite
def rotations(draw, zones=ZONES, restrict=False):
    unit = draw(st.sampled_from(list(ShiftUnit)))
    length = draw(st.integers(1, 12) if unit is ShiftUnit.HOURS else st.integers(1, 3))
    start = draw(st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
    n = draw(st.integers(1, len(NAMES)))
    restrict_to = None
    if restrict:
        restrict_to = draw(st.frozensets(st.sampled_from(list(Period)), min_size=1, max_size=3))
    return Rotation(
        name="p",
        participants=tuple(NAMES[:n]),
        start=start,
        shift_length=length,
        shift_unit=unit,
        handoff_time=draw(st.times()),
        handoff_weekday=draw(st.none() | st.integers(0, 6)) if unit is ShiftUnit.WEEKS else None,
        tz=draw(st.sampled_from(zones)),
        restrict_to=restrict_to,
    )


DST_ANCHORS = [
    T("2026-03-29T01:00:00+00:00"),  # Europe, spring
    T("2026-10-25T01:00:00+00:00"),  # Europe, autumn
    T("2026-03-08T07:00:00+00:00"),  # New York, spring
    T("2026-11-01T06:00:00+00:00"),  # New York, autumn
    T("2011-12-30T10:00:00+00:00"),  # Samoa skips a day
]


def _window(draw, rot: Rotation):
    """A range near the rotation's start, later on, or near a DST change after the start,
    of up to ~20 shifts."""
    step = rot.shift_length * {"hours": H, "days": 24 * H, "weeks": 168 * H}[rot.shift_unit]
    anchors = [rot.start, rot.start + draw(st.integers(1, 5000)) * step]
    anchors += [t for t in DST_ANCHORS if t > rot.start]
    anchor = draw(st.sampled_from(anchors))
    a = anchor + draw(st.timedeltas(min_value=-3 * step, max_value=10 * step))
    b = a + draw(st.timedeltas(min_value=timedelta(0), max_value=20 * step))
    return a, b


def _check_tiles(rot, a, b, got):
    """No gap, no overlap, no empty shift; covering [max(a, start), b)."""
    lo = max(a, rot.start)
    if lo >= b:
        assert got == []
        return
    assert got, (a, b)
    assert got[0].start <= lo < got[0].end
    assert got[-1].start < b <= got[-1].end
    assert got[0].start >= rot.start
    for s in got:
        assert s.start < s.end
        assert s.start.tzinfo is UTC
    for x, y in pairwise(got):
        assert x.end == y.start


def _instants_in(draw, a, b, got):
    pts = [a, b - TICK] if b > a else [a]
    for s in got:
        pts += [s.start, s.end - TICK, s.start - TICK]
    if b > a:
        pts += [a + draw(st.timedeltas(min_value=timedelta(0), max_value=b - a - TICK)) for _ in range(3)]
    return pts


def _containing(got, t):
    hits = [s for s in got if s.start <= t < s.end]
    assert len(hits) <= 1
    return hits[0] if hits else None


@PROPS
@given(data=st.data(), rot=rotations())
def test_shifts_tile_time_and_on_call_agrees(data, rot):
    a, b = _window(data.draw, rot)
    got = shifts(rot, a, b)
    _check_tiles(rot, a, b, got)
    for t in _instants_in(data.draw, a, b, got):
        expected = _containing(got, t)
        if expected is None and a <= t < b:
            assert t < rot.start
        if expected is not None or a <= t < b:
            assert on_call(rot, t) == expected


@PROPS
@given(data=st.data(), rot=rotations(zones=["Europe/Amsterdam", "America/New_York"]))
def test_hand_offs_happen_at_the_local_wall_time_in_turn(data, rot):
    a, b = _window(data.draw, rot)
    got = shifts(rot, a, b)
    zone = zone_of(rot.tz)
    n = len(rot.participants)
    for x, y in pairwise(got):
        wall = local_wall(y.start, zone)
        if rot.shift_unit is not ShiftUnit.HOURS:
            # The hand-off is the local hand-off time of that date (or when the clock
            # jumps past it, if it does not exist that day).
            assert first_instant_at(datetime.combine(wall.date(), rot.handoff_time), zone) == y.start
            if rot.shift_unit is ShiftUnit.WEEKS and rot.handoff_weekday is not None:
                assert wall.weekday() == rot.handoff_weekday
        skipped = rot.shift_unit is ShiftUnit.HOURS and rot.shift_length == 1
        if not skipped:
            # Next in turn (an hour swallowed by the spring change may skip someone).
            assert rot.participants.index(y.person) == (rot.participants.index(x.person) + 1) % n
        if rot.shift_unit is ShiftUnit.WEEKS and x.start != rot.start:
            # A DST change makes a week an hour shorter or longer; a hand-off time inside the
            # spring gap starts its shift when the clock jumps (03:00 for 02:30), so that week
            # is shorter by less than the hour.
            week = timedelta(weeks=rot.shift_length)
            assert week - H <= x.duration <= week + H


@st.composite
def override_lists(draw, rot: Rotation, a: datetime, b: datetime):
    span = max(b - a, H)
    out = []
    for i in range(draw(st.integers(0, 5))):
        s = a + draw(st.timedeltas(min_value=-span / 2, max_value=span))
        e = s + draw(st.timedeltas(min_value=TICK, max_value=span))
        out.append(
            Override(
                id=f"o{i}",
                rotation=draw(st.sampled_from([rot.name, rot.name, "other"])),
                start=s,
                end=e,
                person=draw(st.sampled_from(NAMES + ["sub"])),
                replaces=draw(st.none() | st.sampled_from(NAMES + ["sub"])),
                created_by="test",
                created_at=T("2026-01-01T00:00:00+00:00") + timedelta(minutes=draw(st.integers(0, 3))),
            )
        )
    return out


def _covered(got):
    """The covered time as merged intervals."""
    out = []
    for s in got:
        if out and out[-1][1] == s.start:
            out[-1] = (out[-1][0], s.end)
        else:
            out.append((s.start, s.end))
    return out


def _reference_person(rot, t, overrides, base_person):
    person = base_person
    for o in sorted(overrides, key=lambda o: (o.created_at, o.id)):
        if o.rotation == rot.name and o.start <= t < o.end and o.replaces in (None, person):
            person = o.person
    return person


@PROPS
@given(data=st.data(), rot=rotations())
def test_overrides_never_leave_a_gap(data, rot):
    a, b = _window(data.draw, rot)
    overrides = data.draw(override_lists(rot, a, b))
    base = shifts(rot, a, b)
    got = shifts(rot, a, b, overrides)
    _check_tiles(rot, a, b, got)
    # Overrides change who, never when: the covered time is the same.
    lo = max(a, rot.start)
    clip = lambda iv: [(max(x, lo), min(y, b)) for x, y in iv if y > lo and x < b]  # noqa: E731
    assert clip(_covered(got)) == clip(_covered(base))
    for t in _instants_in(data.draw, a, b, got) + [o.start for o in overrides] + [o.end for o in overrides]:
        if not a <= t < b:
            continue
        expected = _containing(got, t)
        assert on_call(rot, t, overrides) == expected
        b_shift = _containing(base, t)
        if expected is not None:
            assert expected.person == _reference_person(rot, t, overrides, b_shift.person)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rot=rotations(zones=["Europe/Amsterdam", "America/New_York"], restrict=True))
def test_restricted_rotations_cover_exactly_their_periods(data, rot):
    a, b = _window(data.draw, rot)
    b = min(b, a + timedelta(days=60))
    overrides = data.draw(override_lists(rot, a, b))
    got = shifts(rot, a, b, overrides, calendar=NL)
    for x, y in pairwise(got):
        assert x.end <= y.start
    for s in got:
        assert s.start < s.end
        assert s.start >= rot.start
        assert NL.period_at(s.start) in rot.restrict_to
        assert NL.period_at(s.end - TICK) in rot.restrict_to
    for t in _instants_in(data.draw, a, b, got):
        if not a <= t < b:
            continue
        expected = _containing(got, t)
        assert on_call(rot, t, overrides, calendar=NL) == expected
        allowed = rot.restrict_to is None or NL.period_at(t) in rot.restrict_to
        assert (expected is not None) == (t >= rot.start and allowed)


@pytest.mark.parametrize(
    "rot, start",
    [
        (STANDBY, "2026-03-26T00:00:00+01:00"),
        (STANDBY, "2026-10-22T00:00:00+02:00"),
        (NEW_YORK, "2026-03-05T00:00:00-05:00"),
        (NEW_YORK, "2026-10-29T00:00:00-04:00"),
        (DAILY_0230, "2026-03-27T00:00:00+01:00"),
        (DAILY_0230, "2026-10-23T00:00:00+02:00"),
        (TWELVE, "2026-03-28T00:00:00+01:00"),
        (HOURLY_AUTUMN, "2026-10-24T12:00:00+02:00"),
        (
            Rotation(
                "ny-daily",
                ("x", "y", "z"),
                T("2026-01-01T02:30:00-05:00"),
                shift_unit="days",
                handoff_time=time(2, 30),
                tz="America/New_York",
            ),
            "2026-03-06T00:00:00-05:00",
        ),
        (
            Rotation(
                "ny-daily",
                ("x", "y", "z"),
                T("2026-01-01T01:30:00-05:00"),
                shift_unit="days",
                handoff_time=time(1, 30),
                tz="America/New_York",
            ),
            "2026-10-30T00:00:00-04:00",
        ),
    ],
)
def test_walk_rotations_through_dst_every_30_seconds(rot, start):
    """Like GoAlert's rotation tests: step through the DST days and compare on_call with
    the shift list at every step; every shift is seen and nothing else."""
    a = T(start).astimezone(UTC)
    b = a + timedelta(days=4)
    got = shifts(rot, a, b)
    _check_tiles(rot, a, b, got)
    seen = set()
    t, i = a, 0
    step = timedelta(seconds=30)
    while t < b:
        now = on_call(rot, t)
        if t < rot.start:
            assert now is None
        else:
            while got[i].end <= t:
                i += 1
            assert now == got[i], t
            seen.add(now)
        t += step
    assert seen == set(got)


# ---------------------------------------------------------------------------- layers

WEEKEND_LAYER = Rotation(
    name="weekend",
    participants=("wendy", "walt"),
    start=T("2026-01-09T18:00:00+01:00"),
    handoff_time=time(18),
    handoff_weekday=4,
    restrict_to=frozenset({Period.WEEKEND}),
)
LAYERED = Layered("standby", (STANDBY, WEEKEND_LAYER))


@pytest.mark.parametrize(
    "at, expected",
    [
        # Weekdays: the base layer, cut where the weekend layer takes over on Saturday.
        ("2026-01-09T20:00:00+01:00", ("alice", "2026-01-05T08:30:00+01:00", "2026-01-10T08:30:00+01:00", "standby")),
        ("2026-01-10T08:30:00+01:00", ("wendy", "2026-01-10T08:30:00+01:00", "2026-01-10T18:00:00+01:00", "weekend")),
        ("2026-01-10T20:00:00+01:00", ("alice", "2026-01-10T18:00:00+01:00", "2026-01-11T08:30:00+01:00", "standby")),
        ("2026-01-11T17:59:59+01:00", ("wendy", "2026-01-11T08:30:00+01:00", "2026-01-11T18:00:00+01:00", "weekend")),
        ("2026-01-11T18:00:00+01:00", ("alice", "2026-01-11T18:00:00+01:00", "2026-01-12T08:30:00+01:00", "standby")),
        ("2026-01-12T08:30:00+01:00", ("bob", "2026-01-12T08:30:00+01:00", "2026-01-17T08:30:00+01:00", "standby")),
        ("2026-01-17T12:00:00+01:00", ("walt", "2026-01-17T08:30:00+01:00", "2026-01-17T18:00:00+01:00", "weekend")),
        # Before the weekend layer starts, the base layer alone.
        ("2026-01-07T12:00:00+01:00", ("alice", "2026-01-05T08:30:00+01:00", "2026-01-10T08:30:00+01:00", "standby")),
        # Christmas Saturday is a holiday, not a weekend: the base layer keeps it.
        ("2026-12-26T12:00:00+01:00", ("carol", "2026-12-21T08:30:00+01:00", "2026-12-27T08:30:00+01:00", "standby")),
    ],
)
def test_layered_on_call(at, expected):
    person, start, end, layer = expected
    got = on_call(LAYERED, T(at), calendar=NL)
    assert got == Shift("standby", person, T(start).astimezone(UTC), T(end).astimezone(UTC), None, layer)


def test_layered_shifts_and_overrides():
    ov = [_ov("o", "2026-01-10T12:00:00+01:00", "2026-01-10T20:00:00+01:00", "zed")]
    got = shifts(LAYERED, T("2026-01-10T00:00:00+01:00"), T("2026-01-11T00:00:00+01:00"), ov, calendar=NL)
    assert [(s.person, s.start, s.end, s.override_id, s.layer) for s in got] == [
        ("alice", T("2026-01-05T07:30:00+00:00"), T("2026-01-10T07:30:00+00:00"), None, "standby"),
        ("wendy", T("2026-01-10T07:30:00+00:00"), T("2026-01-10T11:00:00+00:00"), None, "weekend"),
        ("zed", T("2026-01-10T11:00:00+00:00"), T("2026-01-10T17:00:00+00:00"), "o", "weekend"),
        ("zed", T("2026-01-10T17:00:00+00:00"), T("2026-01-10T19:00:00+00:00"), "o", "standby"),
        ("alice", T("2026-01-10T19:00:00+00:00"), T("2026-01-11T07:30:00+00:00"), None, "standby"),
    ]


def test_layered_shift_bounds_reach_outside_the_range():
    # The weekend layer takes over after the range; the base shift still ends there.
    got = shifts(LAYERED, T("2026-01-07T00:00:00+01:00"), T("2026-01-07T12:00:00+01:00"), calendar=NL)
    assert got == [
        Shift("standby", "alice", T("2026-01-05T07:30:00+00:00"), T("2026-01-10T07:30:00+00:00"), None, "standby")
    ]


def test_layered_validation():
    with pytest.raises(ValueError):
        Layered("x", ())
    with pytest.raises(ValueError):
        Layered("", (STANDBY,))
    with pytest.raises(ValueError, match="calendar"):
        on_call(LAYERED, T("2026-01-10T12:00:00+01:00"))
    with pytest.raises(TypeError):
        on_call("standby", T("2026-01-10T12:00:00+01:00"))  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    layers=st.lists(rotations(zones=["Europe/Amsterdam", "America/New_York"], restrict=True), min_size=1, max_size=3),
)
def test_layers_stack_without_gaps_or_overlaps(data, layers):
    layers = [dataclasses.replace(r, name=f"L{i}") for i, r in enumerate(layers)]
    lay = Layered("p", tuple(layers))
    a, b = _window(data.draw, layers[0])
    b = min(b, a + timedelta(days=40))
    overrides = data.draw(override_lists(layers[0], a, b))
    got = shifts(lay, a, b, overrides, calendar=NL)
    for x, y in pairwise(got):
        assert x.end <= y.start
    assert all(s.start < s.end for s in got)
    for t in _instants_in(data.draw, a, b, got):
        if not a <= t < b:
            continue
        expected = _containing(got, t)
        assert on_call(lay, t, overrides, calendar=NL) == expected
        # Reference: the top-most layer on call at t decides, then the overrides.
        on = [(r.name, on_call(r, t, calendar=NL)) for r in layers]
        on = [(name, s) for name, s in on if s is not None]
        assert (expected is None) == (not on)
        if on:
            name, top = on[-1]
            assert expected.layer == name
            assert expected.person == _reference_person(lay, t, overrides, top.person)


# ---------------------------------------------------------------------------- who is next


NEXT_SHIFT = [
    # (case, rotation, at, overrides, expected next shift (person, start, end, override id) or None)
    (
        "weekly: the next week",
        STANDBY,
        "2026-01-07T10:00:00+01:00",
        (),
        ("bob", "2026-01-12T08:30:00+01:00", "2026-01-19T08:30:00+01:00", None),
    ),
    (
        "standby in office hours: tonight",
        STANDBY_OUTSIDE_OFFICE,
        "2026-01-07T10:00:00+01:00",
        (),
        ("alice", "2026-01-07T18:00:00+01:00", "2026-01-08T08:30:00+01:00", None),
    ),
    (
        "standby on Friday night: the next week's first night",
        STANDBY_OUTSIDE_OFFICE,
        "2026-01-09T23:00:00+01:00",
        (),
        ("bob", "2026-01-12T18:00:00+01:00", "2026-01-13T08:30:00+01:00", None),
    ),
    (
        "office: tomorrow's office hours",
        OFFICE,
        "2026-01-07T10:00:00+01:00",
        (),
        ("olga", "2026-01-08T08:30:00+01:00", "2026-01-08T18:00:00+01:00", None),
    ),
    (
        "the DST weekend: Friday 18:00 CEST to Monday 08:30 CET",
        STANDBY_OUTSIDE_OFFICE,
        "2026-10-23T10:00:00+02:00",
        (),
        ("carol", "2026-10-23T18:00:00+02:00", "2026-10-26T08:30:00+01:00", None),
    ),
    (
        "an override takes tonight",
        STANDBY_OUTSIDE_OFFICE,
        "2026-01-07T10:00:00+01:00",
        (_ov("7", "2026-01-07T18:00:00+01:00", "2026-01-08T08:30:00+01:00", "bob"),),
        ("bob", "2026-01-07T18:00:00+01:00", "2026-01-08T08:30:00+01:00", "7"),
    ),
    (
        "an override of part of the shift on now: its rest comes next",
        STANDBY,
        "2026-01-07T10:00:00+01:00",
        (_ov("8", "2026-01-07T09:00:00+01:00", "2026-01-07T12:00:00+01:00", "bob"),),
        ("alice", "2026-01-07T12:00:00+01:00", "2026-01-12T08:30:00+01:00", None),
    ),
    (
        "before the rotation starts: its first shift",
        STANDBY,
        "2026-01-01T10:00:00+01:00",
        (),
        ("alice", "2026-01-05T08:30:00+01:00", "2026-01-12T08:30:00+01:00", None),
    ),
]


@pytest.mark.parametrize("rot, at, overrides, expected", [c[1:] for c in NEXT_SHIFT], ids=[c[0] for c in NEXT_SHIFT])
def test_next_shift(rot, at, overrides, expected):
    got = next_shift(rot, T(at), overrides, NL)
    person, start, end, oid = expected
    assert got is not None
    assert (got.person, got.start, got.end, got.override_id) == (person, T(start), T(end), oid)


@PROPS
@given(offset=st.integers(min_value=-3 * 24 * 60, max_value=400 * 24 * 60))
def test_next_shift_is_the_shift_after_the_one_on_call(offset):
    """next_shift is the first shift of shifts() that starts at or after the end of on_call(at) (after `at`
    when nobody is on call): the same arithmetic, no second computation."""
    for rot in (STANDBY, STANDBY_OUTSIDE_OFFICE, OFFICE):
        at = T("2026-01-05T00:00:00+01:00") + offset * timedelta(minutes=1)
        current = on_call(rot, at, (), NL)
        after = current.end if current else at.astimezone(UTC)
        following = [s for s in shifts(rot, after, after + timedelta(days=40), (), NL) if s.start >= after]
        assert next_shift(rot, at, (), NL) == following[0]
        assert following[0].start >= after and (current is None or following[0].start >= current.end)
