"""The calendar of DESIGN.md §2: literal cases first (one per row), then properties."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.domain.calendar import (
    Calendar,
    CalendarRules,
    Period,
    Stretch,
    first_instant_at,
    local_text,
    offset_changes,
    zone_of,
)

UTC = timezone.utc
T = datetime.fromisoformat
OFFICE, WEEKEND, NIGHT, HOLIDAY = (
    Period.OFFICE,
    Period.WEEKEND,
    Period.EVENING_NIGHT,
    Period.HOLIDAY,
)

# Shared: Calendar caches holidays per year and period changes per day.
NL = Calendar()


# ---------------------------------------------------------------------------- period_at


@pytest.mark.parametrize(
    "instant, period",
    [
        # Weekday boundaries (Monday 2026-01-05, CET).
        ("2026-01-05T00:00:00+01:00", NIGHT),
        ("2026-01-05T08:29:59+01:00", NIGHT),
        ("2026-01-05T08:29:59.999999+01:00", NIGHT),
        ("2026-01-05T08:30:00+01:00", OFFICE),
        ("2026-01-05T12:00:00+01:00", OFFICE),
        ("2026-01-05T17:59:59+01:00", OFFICE),
        ("2026-01-05T17:59:59.999999+01:00", OFFICE),
        ("2026-01-05T18:00:00+01:00", NIGHT),
        ("2026-01-05T23:59:59.999999+01:00", NIGHT),
        # Friday into the weekend.
        ("2026-01-09T17:59:59+01:00", OFFICE),
        ("2026-01-09T18:00:00+01:00", NIGHT),
        ("2026-01-10T00:00:00+01:00", NIGHT),
        # Saturday boundaries.
        ("2026-01-10T08:29:59+01:00", NIGHT),
        ("2026-01-10T08:30:00+01:00", WEEKEND),
        ("2026-01-10T17:59:59+01:00", WEEKEND),
        ("2026-01-10T18:00:00+01:00", NIGHT),
        # Sunday boundaries, and Sunday night into Monday.
        ("2026-01-11T08:29:59+01:00", NIGHT),
        ("2026-01-11T08:30:00+01:00", WEEKEND),
        ("2026-01-11T17:59:59+01:00", WEEKEND),
        ("2026-01-11T18:00:00+01:00", NIGHT),
        ("2026-01-12T08:29:59+01:00", NIGHT),
        ("2026-01-12T08:30:00+01:00", OFFICE),
        # Summer time (CEST), and the same instants written in UTC.
        ("2026-07-01T08:29:59+02:00", NIGHT),
        ("2026-07-01T08:30:00+02:00", OFFICE),
        ("2026-07-01T06:29:59+00:00", NIGHT),
        ("2026-07-01T06:30:00+00:00", OFFICE),
        ("2026-07-01T15:59:59+00:00", OFFICE),
        ("2026-07-01T16:00:00+00:00", NIGHT),
        ("2026-07-04T06:30:00+00:00", WEEKEND),
        # Winter time in UTC: 08:30 CET is 07:30Z.
        ("2026-01-05T07:29:59+00:00", NIGHT),
        ("2026-01-05T07:30:00+00:00", OFFICE),
        ("2026-01-05T17:00:00+00:00", NIGHT),
        # Spring DST change (Sunday 2026-03-29, 02:00 CET -> 03:00 CEST).
        ("2026-03-29T01:59:59+01:00", NIGHT),
        ("2026-03-29T03:00:00+02:00", NIGHT),
        ("2026-03-29T08:29:59+02:00", NIGHT),
        ("2026-03-29T08:30:00+02:00", WEEKEND),
        ("2026-03-29T06:30:00+00:00", WEEKEND),
        # Autumn DST change (Sunday 2026-10-25, 03:00 CEST -> 02:00 CET): both 02:30s.
        ("2026-10-25T02:30:00+02:00", NIGHT),
        ("2026-10-25T02:30:00+01:00", NIGHT),
        ("2026-10-25T08:29:59+01:00", NIGHT),
        ("2026-10-25T08:30:00+01:00", WEEKEND),
        ("2026-10-26T08:30:00+01:00", OFFICE),
        # Month ends.
        ("2026-01-31T23:59:59+01:00", NIGHT),
        ("2026-02-01T08:30:00+01:00", WEEKEND),
        ("2026-02-27T17:59:59+01:00", OFFICE),
        ("2026-02-28T12:00:00+01:00", WEEKEND),
        ("2026-03-02T08:30:00+01:00", OFFICE),
        ("2026-04-30T17:59:59+02:00", OFFICE),
        ("2026-05-01T08:30:00+02:00", OFFICE),  # 1 May is no Dutch holiday
        ("2028-02-29T09:00:00+01:00", OFFICE),  # leap day, a Tuesday
        # Year end into New Year's Day (Friday 2027-01-01), then the weekend.
        ("2026-12-31T17:59:59+01:00", OFFICE),
        ("2026-12-31T18:00:00+01:00", NIGHT),
        ("2026-12-31T23:59:59.999999+01:00", NIGHT),
        ("2027-01-01T00:00:00+01:00", HOLIDAY),
        ("2027-01-01T12:00:00+01:00", HOLIDAY),
        ("2027-01-01T23:59:59.999999+01:00", HOLIDAY),
        ("2027-01-02T00:00:00+01:00", NIGHT),
        ("2027-01-02T08:30:00+01:00", WEEKEND),
        # New Year's Day on a weekday (Thursday 2026-01-01), whole local date.
        ("2025-12-31T23:59:59.999999+01:00", NIGHT),
        ("2026-01-01T00:00:00+01:00", HOLIDAY),
        ("2026-01-01T03:00:00+01:00", HOLIDAY),
        ("2026-01-01T10:00:00+01:00", HOLIDAY),
        ("2026-01-01T20:00:00+01:00", HOLIDAY),
        ("2026-01-01T23:59:59+01:00", HOLIDAY),
        ("2026-01-02T00:00:00+01:00", NIGHT),
        ("2026-01-02T08:30:00+01:00", OFFICE),
        # Easter: Good Friday (listed by the package, counts by default), Sunday, Monday.
        ("2026-04-03T10:00:00+02:00", HOLIDAY),
        ("2026-04-05T10:00:00+02:00", HOLIDAY),
        ("2026-04-05T20:00:00+02:00", HOLIDAY),
        ("2026-04-06T10:00:00+02:00", HOLIDAY),
        ("2026-04-06T23:59:59.999999+02:00", HOLIDAY),
        ("2026-04-07T00:00:00+02:00", NIGHT),
        ("2026-04-07T08:30:00+02:00", OFFICE),
        # Easter Sunday 2024 fell on the spring DST change.
        ("2024-03-31T00:00:00+01:00", HOLIDAY),
        ("2024-03-31T02:30:00+00:00", HOLIDAY),
        ("2024-03-30T23:59:59+01:00", NIGHT),
        # King's Day: Monday 2026-04-27; in 2025 the 27th was a Sunday, so Saturday the 26th.
        ("2026-04-27T10:00:00+02:00", HOLIDAY),
        ("2026-04-28T10:00:00+02:00", OFFICE),
        ("2025-04-26T10:00:00+02:00", HOLIDAY),
        ("2025-04-27T10:00:00+02:00", WEEKEND),
        ("2014-04-26T10:00:00+02:00", HOLIDAY),
        ("2014-04-27T10:00:00+02:00", WEEKEND),
        # Liberation Day: public only in lustrum years by default.
        ("2025-05-05T10:00:00+02:00", HOLIDAY),  # Monday
        ("2026-05-05T10:00:00+02:00", OFFICE),  # Tuesday
        ("2030-05-05T10:00:00+02:00", HOLIDAY),  # Sunday
        # Ascension Day (Thursday), Whit Sunday and Whit Monday 2026.
        ("2026-05-14T10:00:00+02:00", HOLIDAY),
        ("2026-05-15T10:00:00+02:00", OFFICE),
        ("2026-05-24T10:00:00+02:00", HOLIDAY),
        ("2026-05-25T10:00:00+02:00", HOLIDAY),
        ("2026-05-25T20:00:00+02:00", HOLIDAY),
        ("2026-05-26T08:30:00+02:00", OFFICE),
        # Christmas 2026: Friday (weekday) and Saturday (weekend); 2025: Thursday and Friday.
        ("2026-12-24T17:59:59+01:00", OFFICE),
        ("2026-12-24T23:59:59+01:00", NIGHT),
        ("2026-12-25T00:00:00+01:00", HOLIDAY),
        ("2026-12-25T10:00:00+01:00", HOLIDAY),
        ("2026-12-26T10:00:00+01:00", HOLIDAY),
        ("2026-12-26T23:00:00+01:00", HOLIDAY),
        ("2026-12-27T10:00:00+01:00", WEEKEND),
        ("2025-12-25T10:00:00+01:00", HOLIDAY),
        ("2025-12-26T10:00:00+01:00", HOLIDAY),
    ],
)
def test_period_at(instant, period):
    assert NL.period_at(T(instant)) is period


@pytest.mark.parametrize(
    "day, name",
    [
        ("2026-01-01", "New Year's Day"),
        ("2026-04-03", "Good Friday"),
        ("2026-04-05", "Easter Sunday"),
        ("2026-04-06", "Easter Monday"),
        ("2026-04-27", "King's Day"),
        ("2025-04-26", "King's Day"),
        ("2025-04-27", None),
        ("2025-05-05", "Liberation Day"),
        ("2026-05-05", None),
        ("2030-05-05", "Liberation Day"),
        ("2026-05-14", "Ascension Day"),
        ("2026-05-24", "Pentecost"),
        ("2026-05-25", "Pentecost Monday"),
        ("2026-12-25", "Christmas Day"),
        ("2026-12-26", "Second Day of Christmas"),
        ("2026-12-24", None),
        ("2026-12-31", None),
        ("2026-05-01", None),
        ("2026-03-29", None),
    ],
)
def test_holiday_name(day, name):
    assert NL.holiday_name(date.fromisoformat(day)) == name


def test_holidays_of_a_year():
    assert dict(NL.holidays(2026)) == {
        date(2026, 1, 1): "New Year's Day",
        date(2026, 4, 3): "Good Friday",
        date(2026, 4, 5): "Easter Sunday",
        date(2026, 4, 6): "Easter Monday",
        date(2026, 4, 27): "King's Day",
        date(2026, 5, 14): "Ascension Day",
        date(2026, 5, 24): "Pentecost",
        date(2026, 5, 25): "Pentecost Monday",
        date(2026, 12, 25): "Christmas Day",
        date(2026, 12, 26): "Second Day of Christmas",
    }


# ---------------------------------------------------------------------------- stretches


def _rows(stretches):
    return [(s.period, s.start, s.end) for s in stretches]


def _expect(*rows):
    return [(p, T(a).astimezone(UTC), T(b).astimezone(UTC)) for p, a, b in rows]


@pytest.mark.parametrize(
    "start, end, expected",
    [
        pytest.param(
            "2026-03-28T12:00:00+01:00",
            "2026-03-29T12:00:00+02:00",
            [
                (WEEKEND, "2026-03-28T12:00:00+01:00", "2026-03-28T18:00:00+01:00"),
                (NIGHT, "2026-03-28T18:00:00+01:00", "2026-03-29T08:30:00+02:00"),
                (WEEKEND, "2026-03-29T08:30:00+02:00", "2026-03-29T12:00:00+02:00"),
            ],
            id="spring-dst-night",
        ),
        pytest.param(
            "2026-10-24T12:00:00+02:00",
            "2026-10-25T12:00:00+01:00",
            [
                (WEEKEND, "2026-10-24T12:00:00+02:00", "2026-10-24T18:00:00+02:00"),
                (NIGHT, "2026-10-24T18:00:00+02:00", "2026-10-25T08:30:00+01:00"),
                (WEEKEND, "2026-10-25T08:30:00+01:00", "2026-10-25T12:00:00+01:00"),
            ],
            id="autumn-dst-night",
        ),
        pytest.param(
            "2026-01-05T00:00:00+01:00",
            "2026-01-06T00:00:00+01:00",
            [
                (NIGHT, "2026-01-05T00:00:00+01:00", "2026-01-05T08:30:00+01:00"),
                (OFFICE, "2026-01-05T08:30:00+01:00", "2026-01-05T18:00:00+01:00"),
                (NIGHT, "2026-01-05T18:00:00+01:00", "2026-01-06T00:00:00+01:00"),
            ],
            id="weekday-midnight-to-midnight",
        ),
        pytest.param(
            "2026-01-05T10:00:00+01:00",
            "2026-01-05T11:00:00+01:00",
            [(OFFICE, "2026-01-05T10:00:00+01:00", "2026-01-05T11:00:00+01:00")],
            id="inside-one-period",
        ),
        pytest.param(
            "2026-01-05T08:30:00+01:00",
            "2026-01-05T18:00:00+01:00",
            [(OFFICE, "2026-01-05T08:30:00+01:00", "2026-01-05T18:00:00+01:00")],
            id="exactly-office-hours",
        ),
        pytest.param(
            "2024-03-30T12:00:00+01:00",
            "2024-04-02T12:00:00+02:00",
            [
                (WEEKEND, "2024-03-30T12:00:00+01:00", "2024-03-30T18:00:00+01:00"),
                (NIGHT, "2024-03-30T18:00:00+01:00", "2024-03-31T00:00:00+01:00"),
                # Easter Sunday (23 h: DST) and Easter Monday run together: 47 h.
                (HOLIDAY, "2024-03-31T00:00:00+01:00", "2024-04-02T00:00:00+02:00"),
                (NIGHT, "2024-04-02T00:00:00+02:00", "2024-04-02T08:30:00+02:00"),
                (OFFICE, "2024-04-02T08:30:00+02:00", "2024-04-02T12:00:00+02:00"),
            ],
            id="easter-2024-on-the-dst-change",
        ),
        pytest.param(
            "2026-04-02T17:00:00+02:00",
            "2026-04-07T09:00:00+02:00",
            [
                (OFFICE, "2026-04-02T17:00:00+02:00", "2026-04-02T18:00:00+02:00"),
                (NIGHT, "2026-04-02T18:00:00+02:00", "2026-04-03T00:00:00+02:00"),
                (HOLIDAY, "2026-04-03T00:00:00+02:00", "2026-04-04T00:00:00+02:00"),
                (NIGHT, "2026-04-04T00:00:00+02:00", "2026-04-04T08:30:00+02:00"),
                (WEEKEND, "2026-04-04T08:30:00+02:00", "2026-04-04T18:00:00+02:00"),
                (NIGHT, "2026-04-04T18:00:00+02:00", "2026-04-05T00:00:00+02:00"),
                (HOLIDAY, "2026-04-05T00:00:00+02:00", "2026-04-07T00:00:00+02:00"),
                (NIGHT, "2026-04-07T00:00:00+02:00", "2026-04-07T08:30:00+02:00"),
                (OFFICE, "2026-04-07T08:30:00+02:00", "2026-04-07T09:00:00+02:00"),
            ],
            id="easter-2026",
        ),
        pytest.param(
            "2026-05-22T17:00:00+02:00",
            "2026-05-26T09:00:00+02:00",
            [
                (OFFICE, "2026-05-22T17:00:00+02:00", "2026-05-22T18:00:00+02:00"),
                (NIGHT, "2026-05-22T18:00:00+02:00", "2026-05-23T08:30:00+02:00"),
                (WEEKEND, "2026-05-23T08:30:00+02:00", "2026-05-23T18:00:00+02:00"),
                (NIGHT, "2026-05-23T18:00:00+02:00", "2026-05-24T00:00:00+02:00"),
                (HOLIDAY, "2026-05-24T00:00:00+02:00", "2026-05-26T00:00:00+02:00"),
                (NIGHT, "2026-05-26T00:00:00+02:00", "2026-05-26T08:30:00+02:00"),
                (OFFICE, "2026-05-26T08:30:00+02:00", "2026-05-26T09:00:00+02:00"),
            ],
            id="whitsun-2026",
        ),
        pytest.param(
            "2026-12-31T12:00:00+01:00",
            "2027-01-04T12:00:00+01:00",
            [
                (OFFICE, "2026-12-31T12:00:00+01:00", "2026-12-31T18:00:00+01:00"),
                (NIGHT, "2026-12-31T18:00:00+01:00", "2027-01-01T00:00:00+01:00"),
                (HOLIDAY, "2027-01-01T00:00:00+01:00", "2027-01-02T00:00:00+01:00"),
                (NIGHT, "2027-01-02T00:00:00+01:00", "2027-01-02T08:30:00+01:00"),
                (WEEKEND, "2027-01-02T08:30:00+01:00", "2027-01-02T18:00:00+01:00"),
                (NIGHT, "2027-01-02T18:00:00+01:00", "2027-01-03T08:30:00+01:00"),
                (WEEKEND, "2027-01-03T08:30:00+01:00", "2027-01-03T18:00:00+01:00"),
                (NIGHT, "2027-01-03T18:00:00+01:00", "2027-01-04T08:30:00+01:00"),
                (OFFICE, "2027-01-04T08:30:00+01:00", "2027-01-04T12:00:00+01:00"),
            ],
            id="year-end",
        ),
        pytest.param(
            "2026-01-30T17:00:00+01:00",
            "2026-02-02T09:00:00+01:00",
            [
                (OFFICE, "2026-01-30T17:00:00+01:00", "2026-01-30T18:00:00+01:00"),
                (NIGHT, "2026-01-30T18:00:00+01:00", "2026-01-31T08:30:00+01:00"),
                (WEEKEND, "2026-01-31T08:30:00+01:00", "2026-01-31T18:00:00+01:00"),
                (NIGHT, "2026-01-31T18:00:00+01:00", "2026-02-01T08:30:00+01:00"),
                (WEEKEND, "2026-02-01T08:30:00+01:00", "2026-02-01T18:00:00+01:00"),
                (NIGHT, "2026-02-01T18:00:00+01:00", "2026-02-02T08:30:00+01:00"),
                (OFFICE, "2026-02-02T08:30:00+01:00", "2026-02-02T09:00:00+01:00"),
            ],
            id="month-end-weekend",
        ),
        pytest.param(
            "2026-12-24T17:00:00+01:00",
            "2026-12-28T09:00:00+01:00",
            [
                (OFFICE, "2026-12-24T17:00:00+01:00", "2026-12-24T18:00:00+01:00"),
                (NIGHT, "2026-12-24T18:00:00+01:00", "2026-12-25T00:00:00+01:00"),
                # Christmas Friday + Saturday: the holiday beats the weekend.
                (HOLIDAY, "2026-12-25T00:00:00+01:00", "2026-12-27T00:00:00+01:00"),
                (NIGHT, "2026-12-27T00:00:00+01:00", "2026-12-27T08:30:00+01:00"),
                (WEEKEND, "2026-12-27T08:30:00+01:00", "2026-12-27T18:00:00+01:00"),
                (NIGHT, "2026-12-27T18:00:00+01:00", "2026-12-28T08:30:00+01:00"),
                (OFFICE, "2026-12-28T08:30:00+01:00", "2026-12-28T09:00:00+01:00"),
            ],
            id="christmas-2026",
        ),
    ],
)
def test_stretches(start, end, expected):
    assert _rows(NL.stretches(T(start), T(end))) == _expect(*expected)


@pytest.mark.parametrize(
    "rules, start, end, hours",
    [
        pytest.param(
            CalendarRules(),
            "2026-03-28T18:00:00+01:00",
            "2026-03-29T08:30:00+02:00",
            13.5,
            id="amsterdam-spring",
        ),
        pytest.param(
            CalendarRules(),
            "2026-10-24T18:00:00+02:00",
            "2026-10-25T08:30:00+01:00",
            15.5,
            id="amsterdam-autumn",
        ),
        pytest.param(
            CalendarRules(),
            "2026-03-27T18:00:00+01:00",
            "2026-03-28T08:30:00+01:00",
            14.5,
            id="amsterdam-ordinary-night",
        ),
        pytest.param(
            CalendarRules(tz="America/New_York", country="US"),
            "2026-03-07T18:00:00-05:00",
            "2026-03-08T08:30:00-04:00",
            13.5,
            id="new-york-spring",
        ),
        pytest.param(
            CalendarRules(tz="America/New_York", country="US"),
            "2026-10-31T18:00:00-04:00",
            "2026-11-01T08:30:00-05:00",
            15.5,
            id="new-york-autumn",
        ),
    ],
)
def test_nights_across_dst_last_real_time(rules, start, end, hours):
    cal = Calendar(rules)
    night = cal.stretches(T(start) - timedelta(hours=1), T(end) + timedelta(hours=1))[1]
    assert night.period is NIGHT
    assert (night.start, night.end) == (T(start), T(end))
    assert night.hours == hours
    assert night.duration == timedelta(hours=hours)


def test_holiday_on_the_spring_change_lasts_23_hours():
    easter = NL.stretches(T("2024-03-31T00:00:00+01:00"), T("2024-04-01T00:00:00+02:00"))
    assert _rows(easter) == _expect((HOLIDAY, "2024-03-31T00:00:00+01:00", "2024-04-01T00:00:00+02:00"))
    assert easter[0].hours == 23


def test_stretches_are_utc_and_empty_for_an_empty_range():
    (s,) = NL.stretches(T("2026-01-05T10:00:00+01:00"), T("2026-01-05T10:30:00+01:00"))
    assert s.start.tzinfo is UTC and s.end.tzinfo is UTC
    assert NL.stretches(T("2026-01-05T10:00:00+01:00"), T("2026-01-05T09:00:00+00:00")) == []


def test_windows_merge_periods_outside_office():
    got = NL.windows(
        T("2026-01-09T12:00:00+01:00"),
        T("2026-01-13T12:00:00+01:00"),
        {WEEKEND, NIGHT, HOLIDAY},
    )
    assert got == [
        (T("2026-01-09T17:00:00+00:00"), T("2026-01-12T07:30:00+00:00")),
        (T("2026-01-12T17:00:00+00:00"), T("2026-01-13T07:30:00+00:00")),
    ]


# ---------------------------------------------------------------------------- next office opening


@pytest.mark.parametrize(
    "instant, opening",
    [
        ("2026-01-05T10:00:00+01:00", "2026-01-05T10:00:00+01:00"),  # open now
        ("2026-01-05T08:30:00+01:00", "2026-01-05T08:30:00+01:00"),
        ("2026-01-05T07:00:00+01:00", "2026-01-05T08:30:00+01:00"),
        ("2026-01-05T18:00:00+01:00", "2026-01-06T08:30:00+01:00"),
        ("2026-01-09T19:00:00+01:00", "2026-01-12T08:30:00+01:00"),  # Friday night
        ("2026-01-10T12:00:00+01:00", "2026-01-12T08:30:00+01:00"),  # Saturday
        ("2026-03-28T12:00:00+01:00", "2026-03-30T08:30:00+02:00"),  # across DST
        ("2026-04-02T18:00:00+02:00", "2026-04-07T08:30:00+02:00"),  # Easter
        ("2026-05-13T18:00:00+02:00", "2026-05-15T08:30:00+02:00"),  # Ascension
        ("2026-05-22T18:00:00+02:00", "2026-05-26T08:30:00+02:00"),  # Whitsun
        ("2026-12-24T18:00:00+01:00", "2026-12-28T08:30:00+01:00"),  # Christmas
        ("2026-12-31T18:00:00+01:00", "2027-01-04T08:30:00+01:00"),  # New Year
    ],
)
def test_next_office_opening(instant, opening):
    got = NL.next_office_opening(T(instant))
    assert got == T(opening)
    assert got.tzinfo is UTC


def test_next_office_opening_none_without_office_time():
    # Every day of the year a company day off: no opening within the horizon.
    rules = CalendarRules(
        country=None,
        extra={date(2026, 1, 1) + timedelta(days=i): "closed" for i in range(800)},
    )
    assert Calendar(rules).next_office_opening(T("2026-01-01T00:00:00+01:00")) is None


# ---------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "rules, instant, period, name",
    [
        pytest.param(
            CalendarRules(exclude=("Good Friday",)),
            "2026-04-03T10:00:00+02:00",
            OFFICE,
            None,
            id="exclude-good-friday-by-name",
        ),
        pytest.param(
            CalendarRules(exclude=("good friday",)),
            "2026-04-03T10:00:00+02:00",
            OFFICE,
            None,
            id="exclude-name-ignores-case",
        ),
        pytest.param(
            CalendarRules(exclude=("Good Friday",)),
            "2026-04-06T10:00:00+02:00",
            HOLIDAY,
            "Easter Monday",
            id="exclude-leaves-the-rest",
        ),
        pytest.param(
            CalendarRules(exclude=("2026-12-26",)),
            "2026-12-26T10:00:00+01:00",
            WEEKEND,
            None,
            id="exclude-by-date",
        ),
        pytest.param(
            CalendarRules(exclude=(date(2026, 12, 26),)),
            "2025-12-26T10:00:00+01:00",
            HOLIDAY,
            "Second Day of Christmas",
            id="exclude-by-date-only-that-year",
        ),
        pytest.param(
            CalendarRules(categories=("public", "optional")),
            "2026-05-05T10:00:00+02:00",
            HOLIDAY,
            "Liberation Day",
            id="liberation-day-every-year",
        ),
        pytest.param(
            CalendarRules(categories=("public", "optional")),
            "2025-05-05T10:00:00+02:00",
            HOLIDAY,
            "Liberation Day",
            id="liberation-day-lustrum-not-doubled",
        ),
        pytest.param(
            CalendarRules(exclude=("Liberation Day",)),
            "2025-05-05T10:00:00+02:00",
            OFFICE,
            None,
            id="liberation-day-never",
        ),
        pytest.param(
            CalendarRules(extra={"2026-12-24": "Christmas Eve (company)"}),
            "2026-12-24T10:00:00+01:00",
            HOLIDAY,
            "Christmas Eve (company)",
            id="extra-company-day",
        ),
        pytest.param(
            CalendarRules(extra=((date(2026, 12, 25), "Office party"),)),
            "2026-12-25T10:00:00+01:00",
            HOLIDAY,
            "Christmas Day; Office party",
            id="extra-on-a-holiday",
        ),
        pytest.param(
            CalendarRules(language="nl", exclude=("Goede vrijdag",)),
            "2026-04-27T10:00:00+02:00",
            HOLIDAY,
            "Koningsdag",
            id="dutch-names",
        ),
        pytest.param(
            CalendarRules(language="nl", exclude=("Goede vrijdag",)),
            "2026-04-03T10:00:00+02:00",
            OFFICE,
            None,
            id="dutch-exclude",
        ),
        pytest.param(
            CalendarRules(office_days=("mon", "tue", "wed", "thu")),
            "2026-01-09T10:00:00+01:00",
            WEEKEND,
            None,
            id="four-day-week-friday-is-weekend",
        ),
        pytest.param(
            CalendarRules(office_days=(0, 1, 2, 3)),
            "2026-01-08T10:00:00+01:00",
            OFFICE,
            None,
            id="four-day-week-thursday",
        ),
        pytest.param(
            CalendarRules(office_start="09:00", office_end="17:00"),
            "2026-01-05T08:59:59+01:00",
            NIGHT,
            None,
            id="office-from-9",
        ),
        pytest.param(
            CalendarRules(office_start="09:00", office_end="17:00"),
            "2026-01-05T09:00:00+01:00",
            OFFICE,
            None,
            id="office-at-9",
        ),
        pytest.param(
            CalendarRules(office_start="09:00", office_end="17:00"),
            "2026-01-05T17:00:00+01:00",
            NIGHT,
            None,
            id="office-until-17",
        ),
        pytest.param(
            CalendarRules(weekend_start=time(10, 0), weekend_end=time(16, 0)),
            "2026-01-10T09:59:59+01:00",
            NIGHT,
            None,
            id="weekend-window-from-10",
        ),
        pytest.param(
            CalendarRules(weekend_start=time(10, 0), weekend_end=time(16, 0)),
            "2026-01-10T15:59:59+01:00",
            WEEKEND,
            None,
            id="weekend-window-until-16",
        ),
        pytest.param(
            CalendarRules(country=None),
            "2026-01-01T10:00:00+01:00",
            OFFICE,
            None,
            id="no-holidays",
        ),
        pytest.param(
            CalendarRules(tz="Europe/Berlin", country="DE", subdivision="BY"),
            "2026-01-06T10:00:00+01:00",
            HOLIDAY,
            "Epiphany",
            id="subdivision-bavaria",
        ),
        pytest.param(
            CalendarRules(tz="Europe/Berlin", country="DE"),
            "2026-01-06T10:00:00+01:00",
            OFFICE,
            None,
            id="no-subdivision",
        ),
        pytest.param(
            CalendarRules(tz="America/New_York", country="US"),
            "2026-07-03T10:00:00-04:00",
            HOLIDAY,
            "Independence Day (observed)",
            id="new-york-observed",
        ),
        pytest.param(
            CalendarRules(tz="UTC"),
            "2026-01-05T08:30:00+00:00",
            OFFICE,
            None,
            id="utc-calendar",
        ),
        pytest.param(
            CalendarRules(tz="UTC"),
            "2026-01-05T08:30:00+01:00",
            NIGHT,
            None,
            id="utc-calendar-reads-utc-wall-time",
        ),
    ],
)
def test_configured_rules(rules, instant, period, name):
    cal = Calendar(rules)
    at = T(instant)
    assert cal.period_at(at) is period
    assert cal.holiday_name(at.astimezone(cal.zone).date()) == name


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"tz": "Europe/Atlantis"}, id="unknown-tz"),
        pytest.param({"office_start": time(18), "office_end": time(8, 30)}, id="office-inverted"),
        pytest.param({"weekend_start": time(12), "weekend_end": time(12)}, id="weekend-empty"),
        pytest.param({"office_start": "half past eight"}, id="bad-time"),
        pytest.param({"office_start": time(8, 30, tzinfo=UTC)}, id="time-with-tz"),
        pytest.param({"office_days": (7,)}, id="weekday-out-of-range"),
        pytest.param({"office_days": ("funday",)}, id="weekday-unknown"),
        pytest.param({"country": "XX"}, id="unknown-country"),
        pytest.param({"subdivision": "Atlantis"}, id="unknown-subdivision"),
        pytest.param({"country": None, "subdivision": "BY"}, id="subdivision-without-country"),
        pytest.param({"categories": ("bogus",)}, id="unknown-category"),
        pytest.param({"categories": ()}, id="no-category"),
        pytest.param({"language": "tlh"}, id="unknown-language"),
        pytest.param({"exclude": (42,)}, id="bad-exclude"),
        pytest.param({"exclude": ("2026-13-01",)}, id="bad-exclude-date"),
        pytest.param({"extra": {"2026-12-24": ""}}, id="extra-without-name"),
        pytest.param({"extra": (("2026-12-24",),)}, id="extra-not-a-pair"),
        pytest.param({"extra": {"24 Dec": "Eve"}}, id="extra-bad-date"),
    ],
)
def test_bad_rules_are_rejected(kwargs):
    with pytest.raises(ValueError):
        CalendarRules(**kwargs)


def test_rules_are_normalised_and_hashable():
    rules = CalendarRules(office_days=["mon", "Tuesday", 2], extra={"2026-12-24": "Eve"})
    assert rules.office_days == frozenset({0, 1, 2})
    assert rules.extra == ((date(2026, 12, 24), "Eve"),)
    assert hash(rules) == hash(CalendarRules(office_days=(0, 1, 2), extra=((date(2026, 12, 24), "Eve"),)))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: NL.period_at(datetime(2026, 1, 5, 10)), id="period_at"),
        pytest.param(
            lambda: NL.stretches(datetime(2026, 1, 5), T("2026-01-06T00:00:00+01:00")),
            id="stretches-start",
        ),
        pytest.param(
            lambda: NL.stretches(T("2026-01-05T00:00:00+01:00"), datetime(2026, 1, 6)),
            id="stretches-end",
        ),
        pytest.param(lambda: NL.next_office_opening(datetime(2026, 1, 5)), id="opening"),
        pytest.param(
            lambda: NL.stretches(T("2026-01-06T00:00:00+01:00"), T("2026-01-05T00:00:00+01:00")),
            id="end-before-start",
        ),
        pytest.param(
            lambda: NL.windows(datetime(2026, 1, 5), datetime(2026, 1, 6), {OFFICE}),
            id="windows",
        ),
    ],
)
def test_naive_or_inverted_input_is_rejected(call):
    with pytest.raises(ValueError):
        call()


def test_holiday_name_takes_a_date_not_a_datetime():
    with pytest.raises(TypeError):
        NL.holiday_name(T("2026-01-01T10:00:00+01:00"))


@pytest.mark.parametrize(
    "tz, wall, expected",
    [
        ("Europe/Amsterdam", "2026-01-05T08:30:00", "2026-01-05T07:30:00+00:00"),
        # Spring gap: 02:30 never happens; the clock jumps past it at 03:00 CEST.
        ("Europe/Amsterdam", "2026-03-29T02:30:00", "2026-03-29T01:00:00+00:00"),
        ("Europe/Amsterdam", "2026-03-29T02:00:00", "2026-03-29T01:00:00+00:00"),
        ("Europe/Amsterdam", "2026-03-29T03:00:00", "2026-03-29T01:00:00+00:00"),
        # Autumn fold: 02:30 happens twice; the first one (CEST).
        ("Europe/Amsterdam", "2026-10-25T02:30:00", "2026-10-25T00:30:00+00:00"),
        ("America/New_York", "2026-03-08T02:30:00", "2026-03-08T07:00:00+00:00"),
        ("America/New_York", "2026-11-01T01:30:00", "2026-11-01T05:30:00+00:00"),
        # Lord Howe moves its clocks by 30 minutes.
        ("Australia/Lord_Howe", "2026-10-04T02:15:00", "2026-10-03T15:30:00+00:00"),
        # Samoa skipped 30 December 2011 entirely.
        ("Pacific/Apia", "2011-12-30T12:00:00", "2011-12-30T10:00:00+00:00"),
    ],
)
def test_first_instant_at(tz, wall, expected):
    assert first_instant_at(T(wall), zone_of(tz)) == T(expected)


# ---------------------------------------------------------------------------- properties

CALENDARS = {
    "amsterdam": NL,
    "new-york": Calendar(CalendarRules(tz="America/New_York", country="US")),
    # Rule boundaries inside the DST gap and fold, and company days next to the changes.
    "amsterdam-odd-hours": Calendar(
        CalendarRules(
            office_start="02:30",
            office_end="18:00",
            weekend_start="02:00",
            weekend_end="03:00",
            extra={
                "2026-03-28": "Day before spring",
                "2026-10-26": "Day after autumn",
                "2027-03-28": "Spring change itself",
            },
        )
    ),
    # DST at midnight; Holy Saturday 2026-04-04 is followed by the clocks going back
    # from Sunday 00:00 to Saturday 23:00, so that holiday lasts 25 hours.
    "santiago": Calendar(CalendarRules(tz="America/Santiago", country="CL", extra={"2026-09-06": "Spring"})),
    # 30-minute DST at 02:00, with windows inside the gap and the fold.
    "lord-howe": Calendar(
        CalendarRules(
            tz="Australia/Lord_Howe",
            country=None,
            office_start="02:15",
            weekend_start="01:45",
            weekend_end="02:15",
        )
    ),
    # 30 December 2011 never happened in Samoa.
    "apia": Calendar(
        CalendarRules(
            tz="Pacific/Apia",
            country=None,
            extra={"2011-12-29": "Last day east", "2011-12-31": "First day west"},
        )
    ),
    "kolkata": Calendar(CalendarRules(tz="Asia/Kolkata", country=None)),
}


def _transitions(cal: Calendar) -> list[datetime]:
    found: list[datetime] = []
    t = datetime(2010, 1, 1, tzinfo=UTC)
    while t < datetime(2035, 1, 1, tzinfo=UTC):
        found += offset_changes(t, t + timedelta(days=7), cal.zone)
        t += timedelta(days=7)
    return found


TRANSITIONS = {name: _transitions(cal) for name, cal in CALENDARS.items()}
broad_instants = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))
near = st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=2))


def _instants(name: str):
    """Anywhere in 2010-2035, or within two days of one of the zone's UTC-offset changes."""
    if not TRANSITIONS[name]:
        return broad_instants
    close = st.builds(lambda t, d: t + d, st.sampled_from(TRANSITIONS[name]), near)
    return st.one_of(broad_instants, close)


cases = st.sampled_from(sorted(CALENDARS)).flatmap(lambda name: st.tuples(st.just(CALENDARS[name]), _instants(name)))
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9))
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TICK = timedelta(microseconds=1)


def _reference_periods(cal: Calendar, instant: datetime) -> list[Period]:
    """DESIGN.md §2 read literally, each period tested on its own."""
    r = cal.rules
    local = instant.astimezone(cal.zone)
    day, t = local.date(), local.time().replace(tzinfo=None)
    holiday = cal.holiday_name(day) is not None
    office_day = day.weekday() in r.office_days
    found = []
    if holiday:
        found.append(HOLIDAY)
    if not holiday and office_day and r.office_start <= t < r.office_end:
        found.append(OFFICE)
    if not holiday and not office_day and r.weekend_start <= t < r.weekend_end:
        found.append(WEEKEND)
    in_day_window = r.office_start <= t < r.office_end if office_day else r.weekend_start <= t < r.weekend_end
    if not holiday and not in_day_window:
        found.append(NIGHT)
    return found


@PROPS
@given(case=cases)
def test_every_instant_lies_in_exactly_one_period(case):
    cal, instant = case
    assert _reference_periods(cal, instant) == [cal.period_at(instant)]


def _check_cover(cal: Calendar, start: datetime, end: datetime, got: list[Stretch]) -> None:
    if start == end:
        assert got == []
        return
    assert got[0].start == start and got[-1].end == end
    assert sum((s.duration for s in got), timedelta()) == end - start
    for s in got:
        assert s.start < s.end
        assert s.start.tzinfo is UTC and s.end.tzinfo is UTC
        assert cal.period_at(s.start) is s.period
        assert cal.period_at(s.end - TICK) is s.period
        assert cal.period_at(s.start + (s.end - s.start) / 2) is s.period
    for a, b in pairwise(got):
        assert a.end == b.start
        assert a.period is not b.period
        assert cal.period_at(b.start - TICK) is a.period


@PROPS
@given(case=cases, span=spans)
def test_stretches_cover_the_range_exactly(case, span):
    cal, start = case
    _check_cover(cal, start, start + span, cal.stretches(start, start + span))


@PROPS
@given(case=cases, a=spans, b=spans)
def test_stretches_split_anywhere_and_join_back(case, a, b):
    cal, start = case
    mid, end = start + a, start + a + b
    joined: list[Stretch] = []
    for s in cal.stretches(start, mid) + cal.stretches(mid, end):
        if joined and joined[-1].period is s.period and joined[-1].end == s.start:
            joined[-1] = Stretch(s.period, joined[-1].start, s.end)
        else:
            joined.append(s)
    assert joined == cal.stretches(start, end)


@PROPS
@given(
    case=cases,
    before=spans,
    after=spans,
    wanted=st.frozensets(st.sampled_from(list(Period)), min_size=1),
)
def test_window_at_is_the_window_holding_the_instant(case, before, after, wanted):
    cal, t = case
    lo, hi = t - before, t + after + TICK
    holding = [w for w in cal.windows(lo, hi, wanted) if w[0] <= t < w[1]]
    assert cal.window_at(t, wanted, lo, hi) == (holding[0] if holding else None)


@PROPS
@given(case=cases)
def test_next_office_opening_is_the_first_office_instant(case):
    cal, start = case
    got = cal.next_office_opening(start)
    assert got is not None and got >= start
    assert cal.period_at(got) is OFFICE
    assert all(s.period is not OFFICE for s in cal.stretches(start, got))


@pytest.mark.parametrize(
    "name, start",
    [
        ("amsterdam", "2026-03-27T00:00:00+01:00"),
        ("amsterdam", "2026-10-23T00:00:00+02:00"),
        ("amsterdam", "2024-03-29T00:00:00+01:00"),
        ("new-york", "2026-03-06T00:00:00-05:00"),
        ("new-york", "2026-10-30T00:00:00-04:00"),
        ("amsterdam-odd-hours", "2026-03-27T00:00:00+01:00"),
        ("amsterdam-odd-hours", "2026-10-23T00:00:00+02:00"),
        ("amsterdam-odd-hours", "2027-03-26T00:00:00+01:00"),
        ("santiago", "2026-04-02T00:00:00-03:00"),
        ("santiago", "2026-09-04T00:00:00-04:00"),
        ("lord-howe", "2026-04-03T00:00:00+11:00"),
        ("lord-howe", "2026-10-02T00:00:00+10:30"),
        ("apia", "2011-12-28T00:00:00-10:00"),
    ],
)
def test_walk_dst_weeks_in_small_steps(name, start):
    """Every 5 minutes through four days around a transition: period_at agrees with the
    stretch that holds the instant (GoAlert walks its rotations the same way)."""
    cal = CALENDARS[name]
    a = T(start).astimezone(UTC)
    b = a + timedelta(days=4)
    got = cal.stretches(a, b)
    _check_cover(cal, a, b, got)
    i = 0
    t = a
    while t < b:
        while got[i].end <= t:
            i += 1
        assert cal.period_at(t) is got[i].period, t
        t += timedelta(minutes=5)


@pytest.mark.parametrize(
    "name, start, end, expected",
    [
        pytest.param(
            "santiago",
            "2026-04-04T12:00:00-03:00",
            "2026-04-05T09:00:00-04:00",
            [
                # Holy Saturday (after Good Friday); the clocks go back from its midnight
                # to 23:00, so its last 12 wall hours take 13 real ones.
                (HOLIDAY, "2026-04-04T12:00:00-03:00", "2026-04-05T00:00:00-04:00"),
                (NIGHT, "2026-04-05T00:00:00-04:00", "2026-04-05T08:30:00-04:00"),
                (WEEKEND, "2026-04-05T08:30:00-04:00", "2026-04-05T09:00:00-04:00"),
            ],
            id="santiago-holiday-before-midnight-fold",
        ),
        pytest.param(
            "santiago",
            "2026-09-05T23:00:00-04:00",
            "2026-09-07T00:00:00-03:00",
            [
                (NIGHT, "2026-09-05T23:00:00-04:00", "2026-09-06T01:00:00-03:00"),
                # The company day starts when the clock jumps from 24:00 to 01:00: 23 hours.
                (HOLIDAY, "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"),
            ],
            id="santiago-holiday-on-midnight-gap",
        ),
        pytest.param(
            "amsterdam-odd-hours",
            "2026-10-25T01:00:00+02:00",
            "2026-10-25T04:00:00+01:00",
            [
                (NIGHT, "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00"),
                # The 02:00-03:00 weekend window happens twice, back to back.
                (WEEKEND, "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00"),
                (NIGHT, "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"),
            ],
            id="window-inside-the-fold",
        ),
        pytest.param(
            "amsterdam-odd-hours",
            "2026-03-29T01:00:00+01:00",
            "2026-03-29T04:00:00+02:00",
            # The 02:00-03:00 weekend window does not happen on the spring change day.
            [(NIGHT, "2026-03-29T01:00:00+01:00", "2026-03-29T04:00:00+02:00")],
            id="window-inside-the-gap",
        ),
        pytest.param(
            "amsterdam-odd-hours",
            "2026-03-30T02:00:00+02:00",
            "2026-03-30T03:00:00+02:00",
            [
                (NIGHT, "2026-03-30T02:00:00+02:00", "2026-03-30T02:30:00+02:00"),
                (OFFICE, "2026-03-30T02:30:00+02:00", "2026-03-30T03:00:00+02:00"),
            ],
            id="office-from-0230",
        ),
        pytest.param(
            "apia",
            "2011-12-29T12:00:00-10:00",
            "2011-12-31T12:00:00+14:00",
            [
                (HOLIDAY, "2011-12-29T12:00:00-10:00", "2011-12-31T12:00:00+14:00"),
            ],
            id="apia-skipped-day-between-two-holidays",
        ),
    ],
)
def test_stretches_in_odd_zones(name, start, end, expected):
    assert _rows(CALENDARS[name].stretches(T(start), T(end))) == _expect(*expected)


# --------------------------------------------------------------------------- local time as people read it

LOCAL_TEXT = [
    # (instant, zone, text, with seconds)
    ("2026-12-03T17:00:00+00:00", "Europe/Amsterdam", "2026-12-03 18:00 +01:00", "2026-12-03 18:00:00 +01:00"),
    ("2026-07-01T06:30:00+00:00", "Europe/Amsterdam", "2026-07-01 08:30 +02:00", "2026-07-01 08:30:00 +02:00"),
    # the autumn fold: 02:30 happens twice, the offset says which
    ("2026-10-25T00:30:00+00:00", "Europe/Amsterdam", "2026-10-25 02:30 +02:00", "2026-10-25 02:30:00 +02:00"),
    ("2026-10-25T01:30:00+00:00", "Europe/Amsterdam", "2026-10-25 02:30 +01:00", "2026-10-25 02:30:00 +01:00"),
    # the spring gap: 02:00 jumps to 03:00
    ("2026-03-29T00:59:59+00:00", "Europe/Amsterdam", "2026-03-29 01:59 +01:00", "2026-03-29 01:59:59 +01:00"),
    ("2026-03-29T01:00:00+00:00", "Europe/Amsterdam", "2026-03-29 03:00 +02:00", "2026-03-29 03:00:00 +02:00"),
    # midnight at a month's end and a year's end: the local date, not UTC's
    ("2026-11-30T23:00:00+00:00", "Europe/Amsterdam", "2026-12-01 00:00 +01:00", "2026-12-01 00:00:00 +01:00"),
    ("2026-12-31T23:30:00+00:00", "Europe/Amsterdam", "2027-01-01 00:30 +01:00", "2027-01-01 00:30:00 +01:00"),
    # an aware instant in another zone, a negative offset with minutes, UTC itself
    ("2026-12-03T12:00:00-05:00", "Europe/Amsterdam", "2026-12-03 18:00 +01:00", "2026-12-03 18:00:00 +01:00"),
    ("2026-12-03T12:00:00+00:00", "America/St_Johns", "2026-12-03 08:30 -03:30", "2026-12-03 08:30:00 -03:30"),
    ("2026-12-03T12:00:05+00:00", "UTC", "2026-12-03 12:00 +00:00", "2026-12-03 12:00:05 +00:00"),
]


@pytest.mark.parametrize("instant, zone, text, with_seconds", LOCAL_TEXT, ids=[c[0] + " " + c[1] for c in LOCAL_TEXT])
def test_local_text(instant, zone, text, with_seconds):
    assert local_text(T(instant), zone_of(zone)) == text
    assert local_text(T(instant), zone_of(zone), seconds=True) == with_seconds


def test_local_text_refuses_a_naive_instant():
    with pytest.raises(ValueError, match="timezone-aware"):
        local_text(datetime(2026, 12, 3, 18, 0), zone_of("Europe/Amsterdam"))
