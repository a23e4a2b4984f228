"""The billing engine (DESIGN.md §1-2, "Standby and billing"): literal cases with the amounts
worked out by hand in the comments (rate EUR 100 unless stated), then properties.

Calendar: the default rules (Europe/Amsterdam, NL public holidays of the `holidays` package; 2026:
Good Friday 3 Apr, Easter Sunday 5 Apr, King's Day Mon 27 Apr, Christmas Fri 25 Dec, Second Day of
Christmas Sat 26 Dec). Tariffs: weekend 0.5 x rate, min 4 h; evening_night 1 x, min 2 h;
holiday 1 x, min 8 h. Call-outs: max(worked, 1 h) rounded up to 15 min, x rate.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.domain.billing import (
    DEFAULT_TARIFFS,
    OUTSIDE_BOOKING,
    Block,
    Callout,
    Quote,
    Tariff,
    Terms,
    callout_charge,
    decimal_str,
    hours_of,
    hours_str,
    quote,
    round_up,
    standby_blocks,
)
from pager.domain.calendar import Calendar, Period, zone_of

UTC = timezone.utc
AMS = zone_of("Europe/Amsterdam")
NL = Calendar()
OFFICE, WEEKEND, NIGHT, HOLIDAY = Period.OFFICE, Period.WEEKEND, Period.EVENING_NIGHT, Period.HOLIDAY
D = Decimal
T100 = Terms(rate=D("100"))


def L(wall: str) -> datetime:
    """A local Amsterdam wall time ("2026-11-27 18:00"), as an aware UTC instant."""
    return datetime.fromisoformat(wall).replace(tzinfo=AMS).astimezone(UTC)


def Z(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def shape(blocks) -> list[tuple]:
    """Blocks as (period, start, end, hours, billed_hours, fee) with hours for display."""
    return [(b.period, b.start, b.end, hours_str(b.hours), hours_str(b.billed_hours), str(b.fee)) for b in blocks]


# ---------------------------------------------------------------------------- standby blocks

BLOCK_CASES = [
    # Wed 25 Nov 2026 18:00-19:00: evening_night 1 h, under its 2-h minimum: 1 x 100 x 2 = 200.00.
    (
        "partial_night_under_minimum",
        "100",
        "2026-11-25 18:00",
        "2026-11-25 19:00",
        [(NIGHT, "2026-11-25 18:00", "2026-11-25 19:00", "1.00", "2.00", "200.00")],
        "200.00",
    ),
    # Sat 28 Nov 10:00-12:00: weekend 2 h, under its 4-h minimum: 0.5 x 100 x 4 = 200.00.
    (
        "partial_weekend_under_minimum",
        "100",
        "2026-11-28 10:00",
        "2026-11-28 12:00",
        [(WEEKEND, "2026-11-28 10:00", "2026-11-28 12:00", "2.00", "4.00", "200.00")],
        "200.00",
    ),
    # Sat 28 Nov 09:00-14:30: weekend 5.5 h, over the minimum: 0.5 x 100 x 5.5 = 275.00.
    (
        "weekend_over_minimum",
        "100",
        "2026-11-28 09:00",
        "2026-11-28 14:30",
        [(WEEKEND, "2026-11-28 09:00", "2026-11-28 14:30", "5.50", "5.50", "275.00")],
        "275.00",
    ),
    # Fri 27 Nov 18:00 -> Mon 30 Nov 08:30 (CET, no holiday): five blocks
    #   Fri 18:00-Sat 08:30 evening_night 14.5 h x 100       = 1450.00
    #   Sat 08:30-18:00     weekend        9.5 h x 0.5 x 100 =  475.00
    #   Sat 18:00-Sun 08:30 evening_night 14.5 h x 100       = 1450.00
    #   Sun 08:30-18:00     weekend        9.5 h x 0.5 x 100 =  475.00
    #   Sun 18:00-Mon 08:30 evening_night 14.5 h x 100       = 1450.00
    #   total 3 x 1450 + 2 x 475 = 5300.00
    (
        "friday_to_monday",
        "100",
        "2026-11-27 18:00",
        "2026-11-30 08:30",
        [
            (NIGHT, "2026-11-27 18:00", "2026-11-28 08:30", "14.50", "14.50", "1450.00"),
            (WEEKEND, "2026-11-28 08:30", "2026-11-28 18:00", "9.50", "9.50", "475.00"),
            (NIGHT, "2026-11-28 18:00", "2026-11-29 08:30", "14.50", "14.50", "1450.00"),
            (WEEKEND, "2026-11-29 08:30", "2026-11-29 18:00", "9.50", "9.50", "475.00"),
            (NIGHT, "2026-11-29 18:00", "2026-11-30 08:30", "14.50", "14.50", "1450.00"),
        ],
        "5300.00",
    ),
    # Wed 25 Nov 17:00 -> Thu 26 Nov 09:30: office 17:00-18:00 and 08:30-09:30 cost nothing;
    # the night 18:00-08:30 is 14.5 h = 1450.00.
    (
        "crossing_office_hours",
        "100",
        "2026-11-25 17:00",
        "2026-11-26 09:30",
        [(NIGHT, "2026-11-25 18:00", "2026-11-26 08:30", "14.50", "14.50", "1450.00")],
        "1450.00",
    ),
    # Mon 23 Nov 08:00-19:00: two evening_night blocks around the (free) office day, each with
    # its own 2-h minimum: 08:00-08:30 0.5 h -> 2 h = 200.00; 18:00-19:00 1 h -> 2 h = 200.00.
    (
        "office_day_between_two_minimums",
        "100",
        "2026-11-23 08:00",
        "2026-11-23 19:00",
        [
            (NIGHT, "2026-11-23 08:00", "2026-11-23 08:30", "0.50", "2.00", "200.00"),
            (NIGHT, "2026-11-23 18:00", "2026-11-23 19:00", "1.00", "2.00", "200.00"),
        ],
        "400.00",
    ),
    # Tue 24 Nov 09:00-17:00: office only, no standby at all.
    ("office_only", "100", "2026-11-24 09:00", "2026-11-24 17:00", [], "0.00"),
    # Christmas Day (Fri 25 Dec) 10:00-14:00: holiday 4 h, under its 8-h minimum: 1 x 100 x 8 = 800.00.
    (
        "christmas_under_minimum",
        "100",
        "2026-12-25 10:00",
        "2026-12-25 14:00",
        [(HOLIDAY, "2026-12-25 10:00", "2026-12-25 14:00", "4.00", "8.00", "800.00")],
        "800.00",
    ),
    # Thu 24 Dec 18:00 -> Sun 27 Dec 08:30: Christmas Day and the Second Day of Christmas (a
    # Saturday) are one 48-h holiday stretch, so one block:
    #   Thu 18:00-Fri 00:00 evening_night  6 h x 100 =  600.00
    #   Fri 00:00-Sun 00:00 holiday       48 h x 100 = 4800.00
    #   Sun 00:00-08:30     evening_night 8.5 h x 100 = 850.00      total 6250.00
    (
        "christmas_weekend",
        "100",
        "2026-12-24 18:00",
        "2026-12-27 08:30",
        [
            (NIGHT, "2026-12-24 18:00", "2026-12-25 00:00", "6.00", "6.00", "600.00"),
            (HOLIDAY, "2026-12-25 00:00", "2026-12-27 00:00", "48.00", "48.00", "4800.00"),
            (NIGHT, "2026-12-27 00:00", "2026-12-27 08:30", "8.50", "8.50", "850.00"),
        ],
        "6250.00",
    ),
    # King's Day 2026 is Monday 27 April (CEST). Sun 26 Apr 18:00 -> Tue 28 Apr 08:30:
    #   Sun 18:00-Mon 00:00 evening_night  6 h = 600.00
    #   Mon 00:00-Tue 00:00 holiday       24 h = 2400.00 (its office hours are holiday too)
    #   Tue 00:00-08:30     evening_night 8.5 h = 850.00       total 3850.00
    (
        "kings_day",
        "100",
        "2026-04-26 18:00",
        "2026-04-28 08:30",
        [
            (NIGHT, "2026-04-26 18:00", "2026-04-27 00:00", "6.00", "6.00", "600.00"),
            (HOLIDAY, "2026-04-27 00:00", "2026-04-28 00:00", "24.00", "24.00", "2400.00"),
            (NIGHT, "2026-04-28 00:00", "2026-04-28 08:30", "8.50", "8.50", "850.00"),
        ],
        "3850.00",
    ),
    # King's Day office hours 08:30-18:00 would be free office time on any other Monday;
    # on King's Day they are a 9.5-h holiday block: 950.00.
    (
        "kings_day_office_hours",
        "100",
        "2026-04-27 08:30",
        "2026-04-27 18:00",
        [(HOLIDAY, "2026-04-27 08:30", "2026-04-27 18:00", "9.50", "9.50", "950.00")],
        "950.00",
    ),
    # Holiday on a weekend: Sat 26 Dec (Second Day of Christmas) 10:00-12:00 is holiday, not
    # weekend: 2 h -> 8-h minimum at 1 x = 800.00 (as weekend it would have been 200.00).
    (
        "holiday_on_saturday",
        "100",
        "2026-12-26 10:00",
        "2026-12-26 12:00",
        [(HOLIDAY, "2026-12-26 10:00", "2026-12-26 12:00", "2.00", "8.00", "800.00")],
        "800.00",
    ),
    # Easter weekend: Sat 4 Apr 12:00 -> Easter Sunday 5 Apr 12:00 (CEST):
    #   Sat 12:00-18:00 weekend 6 h x 0.5 x 100 = 300.00
    #   Sat 18:00-Sun 00:00 evening_night 6 h   = 600.00
    #   Sun 00:00-12:00 holiday 12 h            = 1200.00       total 2100.00
    (
        "holiday_on_sunday",
        "100",
        "2026-04-04 12:00",
        "2026-04-05 12:00",
        [
            (WEEKEND, "2026-04-04 12:00", "2026-04-04 18:00", "6.00", "6.00", "300.00"),
            (NIGHT, "2026-04-04 18:00", "2026-04-05 00:00", "6.00", "6.00", "600.00"),
            (HOLIDAY, "2026-04-05 00:00", "2026-04-05 12:00", "12.00", "12.00", "1200.00"),
        ],
        "2100.00",
    ),
    # Spring DST: Sat 28 Mar 18:00 CET (17:00Z) -> Sun 29 Mar 08:30 CEST (06:30Z); the clock jumps
    # 02:00 -> 03:00, so the night lasts 13.5 h: 1350.00 (not 14.5 h / 1450.00).
    (
        "night_across_spring_dst",
        "100",
        "2026-03-28 18:00",
        "2026-03-29 08:30",
        [(NIGHT, "2026-03-28 18:00", "2026-03-29 08:30", "13.50", "13.50", "1350.00")],
        "1350.00",
    ),
    # Autumn DST: Sat 24 Oct 18:00 CEST (16:00Z) -> Sun 25 Oct 08:30 CET (07:30Z); 03:00 -> 02:00
    # happens once more, so 15.5 h: 1550.00.
    (
        "night_across_autumn_dst",
        "100",
        "2026-10-24 18:00",
        "2026-10-25 08:30",
        [(NIGHT, "2026-10-24 18:00", "2026-10-25 08:30", "15.50", "15.50", "1550.00")],
        "1550.00",
    ),
    # Rounding half-up per line, rate 10.05: Sat 28 Nov 13:00 -> Sun 29 Nov 18:00
    #   Sat 13:00-18:00 weekend 5 h x 0.5 x 10.05      = 25.125   -> 25.13 (half-even would give 25.12)
    #   Sat 18:00-Sun 08:30 evening_night 14.5 x 10.05 = 145.725  -> 145.73
    #   Sun 08:30-18:00 weekend 9.5 x 0.5 x 10.05      = 47.7375  -> 47.74
    #   total of the rounded lines 218.60 (rounding the unrounded sum 218.5875 would give 218.59)
    (
        "rounding_half_up_per_line",
        "10.05",
        "2026-11-28 13:00",
        "2026-11-29 18:00",
        [
            (WEEKEND, "2026-11-28 13:00", "2026-11-28 18:00", "5.00", "5.00", "25.13"),
            (NIGHT, "2026-11-28 18:00", "2026-11-29 08:30", "14.50", "14.50", "145.73"),
            (WEEKEND, "2026-11-29 08:30", "2026-11-29 18:00", "9.50", "9.50", "47.74"),
        ],
        "218.60",
    ),
    # A duration with no finite decimal form: Wed 25 Nov 18:00-20:20 is 7/3 h:
    # 100 x 7/3 = 233.333... -> 233.33 (hours shown as 2.33).
    (
        "non_terminating_hours",
        "100",
        "2026-11-25 18:00",
        "2026-11-25 20:20",
        [(NIGHT, "2026-11-25 18:00", "2026-11-25 20:20", "2.33", "2.33", "233.33")],
        "233.33",
    ),
]


@pytest.mark.parametrize("name, rate, start, end, blocks, total", BLOCK_CASES, ids=[c[0] for c in BLOCK_CASES])
def test_standby_blocks(name, rate, start, end, blocks, total):
    terms = Terms(rate=D(rate))
    expected = [(p, L(s), L(e), h, bh, fee) for p, s, e, h, bh, fee in blocks]
    assert shape(standby_blocks(NL, L(start), L(end), terms)) == expected
    q = quote(NL, L(start), L(end), terms)
    assert shape(q.blocks) == expected
    assert str(q.total) == total
    assert q.callouts == ()


@pytest.mark.parametrize(
    "start, end, hours",
    [
        # Exact hours, not just their display: 13.5 and 15.5 across the DST changes.
        ("2026-03-28 18:00", "2026-03-29 08:30", D("13.5")),
        ("2026-10-24 18:00", "2026-10-25 08:30", D("15.5")),
        # Sat 28 Mar 08:30 -> Mon 30 Mar 08:30: 9.5 + 13.5 + 9.5 + 14.5 h.
        ("2026-03-28 08:30", "2026-03-30 08:30", D("47")),
    ],
)
def test_dst_hours_are_exact(start, end, hours):
    blocks = standby_blocks(NL, L(start), L(end), T100)
    assert sum(b.hours for b in blocks) == hours
    assert sum((b.end - b.start for b in blocks), timedelta()) == timedelta(hours=float(hours))


def test_block_fields():
    [b] = standby_blocks(NL, L("2026-11-28 10:00"), L("2026-11-28 12:00"), T100)
    assert b == Block(
        period=WEEKEND,
        start=Z("2026-11-28T09:00:00Z"),
        end=Z("2026-11-28T11:00:00Z"),
        hours=D(2),
        billed_hours=D(4),
        multiplier=D("0.5"),
        fee=D("200.00"),
    )


def test_fee_is_computed_from_the_exact_duration():
    # Rate 0.375, no minimum, 20 minutes of evening_night: 0.375 x 1/3 = 0.125 exactly -> 0.13
    # half-up. From hours rounded to 40 digits (0.333...3) it would be 0.12499... -> 0.12.
    terms = Terms(rate=D("0.375"), tariffs={**DEFAULT_TARIFFS, NIGHT: Tariff(D(1), timedelta(0))})
    [b] = standby_blocks(NL, L("2026-11-25 18:00"), L("2026-11-25 18:20"), terms)
    assert b.fee == D("0.13")


def test_custom_tariffs():
    # An agency that charges 1.5 x for holidays with a 4-h minimum: Christmas 10:00-12:00
    # -> 1.5 x 100 x 4 = 600.00.
    terms = Terms(rate=D(100), tariffs={**DEFAULT_TARIFFS, "holiday": Tariff(D("1.5"), timedelta(hours=4))})
    [b] = standby_blocks(NL, L("2026-12-25 10:00"), L("2026-12-25 12:00"), terms)
    assert (b.billed_hours, b.multiplier, b.fee) == (D(4), D("1.5"), D("600.00"))


def test_a_booking_cancelled_before_it_starts_costs_nothing():
    # A cancelled booking is simply not quoted; the engine's answer for the empty range is zero.
    at = L("2026-11-28 18:00")
    assert quote(NL, at, at, T100) == Quote(currency="EUR", rate=D(100), blocks=(), callouts=(), total=D("0.00"))


# ---------------------------------------------------------------------------- call-outs


@pytest.mark.parametrize(
    "rate, start, end, terms_kw, worked, billed, amount",
    [
        # 20 min -> the 1-h minimum: 100.00.
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T22:20:00Z", {}, "0.33", "1.00", "100.00"),
        # 70 min -> max(70, 60) = 70 rounded up to 15 min = 75 min = 1.25 h: 125.00.
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T23:10:00Z", {}, "1.17", "1.25", "125.00"),
        # 0 min (answered, nothing to do) -> 1 h: 100.00.
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T22:00:00Z", {}, "0.00", "1.00", "100.00"),
        # exactly 60 min -> 1 h; 61 min -> 1.25 h; 75 min -> 1.25 h; 76 min -> 1.5 h.
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T23:00:00Z", {}, "1.00", "1.00", "100.00"),
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T23:01:00Z", {}, "1.02", "1.25", "125.00"),
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T23:15:00Z", {}, "1.25", "1.25", "125.00"),
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T23:16:00Z", {}, "1.27", "1.50", "150.00"),
        # One second over an increment rounds up: 60 min 1 s -> 1.25 h.
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T23:00:01Z", {}, "1.00", "1.25", "125.00"),
        # Half-up: 1.25 h x 100.02 = 125.025 -> 125.03 (half-even would give 125.02).
        ("100.02", "2026-11-28T22:00:00Z", "2026-11-28T23:10:00Z", {}, "1.17", "1.25", "125.03"),
        # No increment: 70 min = 7/6 h x 100 = 116.666... -> 116.67.
        ("100", "2026-11-28T22:00:00Z", "2026-11-28T23:10:00Z", {"increment": timedelta(0)}, "1.17", "1.17", "116.67"),
        # A 30-minute increment: 70 min -> 1.5 h = 150.00.
        (
            "100",
            "2026-11-28T22:00:00Z",
            "2026-11-28T23:10:00Z",
            {"increment": timedelta(minutes=30)},
            "1.17",
            "1.50",
            "150.00",
        ),
        # Real time across the autumn change: 02:30 CEST (00:30Z) -> 02:40 CET (01:40Z) reads
        # as 10 minutes on the wall but is 70 minutes of work: 1.25 h = 125.00.
        ("100", "2026-10-25T00:30:00Z", "2026-10-25T01:40:00Z", {}, "1.17", "1.25", "125.00"),
    ],
)
def test_callout_charge(rate, start, end, terms_kw, worked, billed, amount):
    w, b, a = callout_charge(Z(start), Z(end), Terms(rate=D(rate), **terms_kw))
    assert (hours_str(w), hours_str(b), str(a)) == (worked, billed, amount)


def test_callout_hours_are_exact():
    worked, billed, amount = callout_charge(Z("2026-11-28T22:00:00Z"), Z("2026-11-28T23:10:00Z"), T100)
    assert worked == hours_of(timedelta(minutes=70)) and abs(Fraction(worked) - Fraction(7, 6)) < Fraction(1, 10**38)
    assert (billed, amount) == (D("1.25"), D("125.00"))


# Booking Sat 28 Nov 18:00 -> Sun 29 Nov 08:30: one evening_night block of 14.5 h = 1450.00.
NIGHT_START, NIGHT_END = "2026-11-28 18:00", "2026-11-29 08:30"

CALLOUT_CASES = [
    # One call-out of 20 min: + 1 h = 100.00 -> 1550.00.
    (
        "one_20min",
        "merge",
        [("2026-11-28 23:00", "2026-11-28 23:20")],
        [("2026-11-28 23:00", "2026-11-28 23:20", "0.33", "1.00", "100.00", 0, "")],
        "1550.00",
    ),
    # One of 70 min: + 1.25 h = 125.00 -> 1575.00.
    (
        "one_70min",
        "merge",
        [("2026-11-28 23:00", "2026-11-29 00:10")],
        [("2026-11-28 23:00", "2026-11-29 00:10", "1.17", "1.25", "125.00", 0, "")],
        "1575.00",
    ),
    # Two call-outs in one block, 23:00-23:20 and 23:40-00:10.
    #   separate: 1 h + max(30 min, 1 h) = 2 x 100.00 -> 1650.00
    (
        "two_in_the_hour_separate",
        "separate",
        [("2026-11-28 23:40", "2026-11-29 00:10"), ("2026-11-28 23:00", "2026-11-28 23:20")],
        [
            ("2026-11-28 23:00", "2026-11-28 23:20", "0.33", "1.00", "100.00", 0, ""),
            ("2026-11-28 23:40", "2026-11-29 00:10", "0.50", "1.00", "100.00", 0, ""),
        ],
        "1650.00",
    ),
    #   merge: the second starts inside the first one's billed hour (23:00-00:00): one call-out
    #   23:00-00:10 = 70 min -> 1.25 h = 125.00 -> 1575.00
    (
        "two_in_the_hour_merge",
        "merge",
        [("2026-11-28 23:40", "2026-11-29 00:10"), ("2026-11-28 23:00", "2026-11-28 23:20")],
        [("2026-11-28 23:00", "2026-11-29 00:10", "1.17", "1.25", "125.00", 0, "")],
        "1575.00",
    ),
    # Overlapping 23:00-23:30 and 23:10-23:50: separate 2 x 100.00 -> 1650.00; merged
    # 23:00-23:50 -> 1 h = 100.00 -> 1550.00.
    (
        "overlapping_separate",
        "separate",
        [("2026-11-28 23:00", "2026-11-28 23:30"), ("2026-11-28 23:10", "2026-11-28 23:50")],
        [
            ("2026-11-28 23:00", "2026-11-28 23:30", "0.50", "1.00", "100.00", 0, ""),
            ("2026-11-28 23:10", "2026-11-28 23:50", "0.67", "1.00", "100.00", 0, ""),
        ],
        "1650.00",
    ),
    (
        "overlapping_merge",
        "merge",
        [("2026-11-28 23:00", "2026-11-28 23:30"), ("2026-11-28 23:10", "2026-11-28 23:50")],
        [("2026-11-28 23:00", "2026-11-28 23:50", "0.83", "1.00", "100.00", 0, "")],
        "1550.00",
    ),
    # Adjacent: the second starts exactly when the first one's billed hour ends (00:00): merged
    # 23:00-00:10 -> 1.25 h = 125.00 -> 1575.00.
    (
        "adjacent_at_the_hour_merge",
        "merge",
        [("2026-11-28 23:00", "2026-11-28 23:20"), ("2026-11-29 00:00", "2026-11-29 00:10")],
        [("2026-11-28 23:00", "2026-11-29 00:10", "1.17", "1.25", "125.00", 0, "")],
        "1575.00",
    ),
    # The billed time includes the rounding: 23:00-00:05 is billed 1.25 h (to 00:15), so a call
    # at 00:10-00:20 joins it: 23:00-00:20 = 80 min -> 1.5 h = 150.00 -> 1600.00.
    # (separate: 125.00 + 100.00 -> 1675.00)
    (
        "inside_the_rounded_time_merge",
        "merge",
        [("2026-11-28 23:00", "2026-11-29 00:05"), ("2026-11-29 00:10", "2026-11-29 00:20")],
        [("2026-11-28 23:00", "2026-11-29 00:20", "1.33", "1.50", "150.00", 0, "")],
        "1600.00",
    ),
    (
        "inside_the_rounded_time_separate",
        "separate",
        [("2026-11-28 23:00", "2026-11-29 00:05"), ("2026-11-29 00:10", "2026-11-29 00:20")],
        [
            ("2026-11-28 23:00", "2026-11-29 00:05", "1.08", "1.25", "125.00", 0, ""),
            ("2026-11-29 00:10", "2026-11-29 00:20", "0.17", "1.00", "100.00", 0, ""),
        ],
        "1675.00",
    ),
    # Far apart (23:00-23:20 and 00:30-00:40): two call-outs under either policy: 1650.00.
    (
        "far_apart_merge",
        "merge",
        [("2026-11-28 23:00", "2026-11-28 23:20"), ("2026-11-29 00:30", "2026-11-29 00:40")],
        [
            ("2026-11-28 23:00", "2026-11-28 23:20", "0.33", "1.00", "100.00", 0, ""),
            ("2026-11-29 00:30", "2026-11-29 00:40", "0.17", "1.00", "100.00", 0, ""),
        ],
        "1650.00",
    ),
    # A call-out that starts in the block and runs past the booking's end (08:00-09:10) is that
    # block's, billed in full: 70 min -> 125.00 -> 1575.00.
    (
        "runs_past_the_booking",
        "merge",
        [("2026-11-29 08:00", "2026-11-29 09:10")],
        [("2026-11-29 08:00", "2026-11-29 09:10", "1.17", "1.25", "125.00", 0, "")],
        "1575.00",
    ),
    # Outside the booking (Sun 10:00-10:20): not a standby call-out; out-of-contract work at the
    # standard rate, rounded up to the increment, no 1-h minimum: 20 min -> 0.5 h = 50.00 -> 1500.00.
    (
        "outside_the_booking",
        "merge",
        [("2026-11-29 10:00", "2026-11-29 10:20")],
        [("2026-11-29 10:00", "2026-11-29 10:20", "0.33", "0.50", "50.00", None, OUTSIDE_BOOKING)],
        "1500.00",
    ),
    # In-booking and out-of-booking calls never merge: 08:00-08:20 in the block (100.00) and
    # 08:40-08:50 after the booking (0.25 h = 25.00): 1450 + 100 + 25 = 1575.00.
    (
        "inside_and_outside_do_not_merge",
        "merge",
        [("2026-11-29 08:00", "2026-11-29 08:20"), ("2026-11-29 08:40", "2026-11-29 08:50")],
        [
            ("2026-11-29 08:00", "2026-11-29 08:20", "0.33", "1.00", "100.00", 0, ""),
            ("2026-11-29 08:40", "2026-11-29 08:50", "0.17", "0.25", "25.00", None, OUTSIDE_BOOKING),
        ],
        "1575.00",
    ),
]


@pytest.mark.parametrize("name, policy, calls, expected, total", CALLOUT_CASES, ids=[c[0] for c in CALLOUT_CASES])
def test_quote_with_callouts(name, policy, calls, expected, total):
    terms = Terms(rate=D(100), callout_overlap=policy)
    q = quote(NL, L(NIGHT_START), L(NIGHT_END), terms, [(L(s), L(e)) for s, e in calls])
    assert [b.fee for b in q.blocks] == [D("1450.00")]
    got = [
        (c.start, c.end, hours_str(c.worked_hours), hours_str(c.billed_hours), str(c.amount), c.block_index, c.ref)
        for c in q.callouts
    ]
    assert got == [(L(s), L(e), w, b, a, i, r) for s, e, w, b, a, i, r in expected]
    assert str(q.total) == total


def test_callout_in_office_time_inside_a_booking_is_outside_standby():
    # Booking Mon 23 Nov 08:00-19:00 (two 200.00 night blocks). A call at 08:10-08:30 is in the
    # first block (100.00); one at 12:00-12:20 is office time, not standby: 0.5 h = 50.00.
    q = quote(
        NL,
        L("2026-11-23 08:00"),
        L("2026-11-23 19:00"),
        T100,
        [(L("2026-11-23 08:10"), L("2026-11-23 08:30")), (L("2026-11-23 12:00"), L("2026-11-23 12:20"))],
    )
    assert [(c.block_index, c.amount, c.ref) for c in q.callouts] == [
        (0, D("100.00"), ""),
        (None, D("50.00"), OUTSIDE_BOOKING),
    ]
    assert q.total == D("550.00")


def test_merge_across_blocks_keeps_the_first_block():
    # Fri 27 Nov 18:00 -> Sat 28 Nov 18:00: night block 0 (1450.00) and weekend block 1 (475.00).
    # Calls Sat 08:00-08:20 (block 0) and 08:40-09:00 (block 1, inside the first one's billed hour):
    # merged 08:00-09:00 = 1 h = 100.00 on block 0; separate: 2 x 100.00.
    calls = [(L("2026-11-28 08:00"), L("2026-11-28 08:20")), (L("2026-11-28 08:40"), L("2026-11-28 09:00"))]
    merged = quote(NL, L("2026-11-27 18:00"), L("2026-11-28 18:00"), T100, calls)
    assert [(c.block_index, c.amount) for c in merged.callouts] == [(0, D("100.00"))]
    assert merged.total == D("2025.00")
    separate = quote(
        NL, L("2026-11-27 18:00"), L("2026-11-28 18:00"), Terms(rate=D(100), callout_overlap="separate"), calls
    )
    assert [(c.block_index, c.amount) for c in separate.callouts] == [(0, D("100.00")), (1, D("100.00"))]
    assert separate.total == D("2125.00")


def test_refs_travel_with_their_callouts():
    calls = [
        (L("2026-11-28 23:00"), L("2026-11-28 23:20"), "INC-7"),
        (L("2026-11-28 23:30"), L("2026-11-28 23:45"), "INC-8"),
        (L("2026-11-29 12:00"), L("2026-11-29 12:10"), "INC-9"),
    ]
    q = quote(NL, L(NIGHT_START), L(NIGHT_END), T100, calls)
    assert [c.ref for c in q.callouts] == ["INC-7, INC-8", f"{OUTSIDE_BOOKING}: INC-9"]


def test_outside_minimum_is_configurable():
    # An agency that bills out-of-contract work with a 1-h minimum too: 20 min -> 100.00.
    q = quote(
        NL,
        L(NIGHT_START),
        L(NIGHT_END),
        Terms(rate=D(100), outside_minimum=timedelta(hours=1)),
        [(L("2026-11-29 10:00"), L("2026-11-29 10:20"))],
    )
    assert [c.amount for c in q.callouts] == [D("100.00")]


def test_callout_dataclass():
    [c] = quote(NL, L(NIGHT_START), L(NIGHT_END), T100, [(L("2026-11-28 23:00"), L("2026-11-29 00:10"))]).callouts
    assert c == Callout(
        start=Z("2026-11-28T22:00:00Z"),
        end=Z("2026-11-28T23:10:00Z"),
        worked_hours=hours_of(timedelta(minutes=70)),
        billed_hours=D("1.25"),
        amount=D("125.00"),
        block_index=0,
        ref="",
    )


# ---------------------------------------------------------------------------- JSON shape


def test_as_dict():
    # Sat 28 Nov 10:00-12:00 weekend (200.00) with a 20-min call-out (100.00).
    q = quote(NL, L("2026-11-28 10:00"), L("2026-11-28 12:00"), T100, [(L("2026-11-28 11:00"), L("2026-11-28 11:20"))])
    assert q.as_dict() == {
        "currency": "EUR",
        "rate": "100.00",
        "blocks": [
            {
                "period": "weekend",
                "start": "2026-11-28T09:00:00Z",
                "end": "2026-11-28T11:00:00Z",
                "hours": "2.00",
                "billed_hours": "4.00",
                "multiplier": "0.50",
                "fee": "200.00",
                "covered": None,
            }
        ],
        "callouts": [
            {
                "start": "2026-11-28T10:00:00Z",
                "end": "2026-11-28T10:20:00Z",
                "worked_hours": "0.33",
                "billed_hours": "1.00",
                "amount": "100.00",
            }
        ],
        "total": "300.00",
    }


@pytest.mark.parametrize(
    "value, text",
    [
        (D("100"), "100.00"),
        (D("97.5"), "97.50"),
        (D("12.345"), "12.345"),
        (D("0.5"), "0.50"),
        (D("1E+3"), "1000.00"),
        (D("0.00"), "0.00"),
    ],
)
def test_decimal_str(value, text):
    assert decimal_str(value) == text


@pytest.mark.parametrize(
    "value, text", [(D("13.5"), "13.50"), (D(1) / D(3), "0.33"), (D("0.125"), "0.13"), (D(48), "48.00")]
)
def test_hours_str(value, text):
    assert hours_str(value) == text


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"rate": D(-1)}, ValueError),
        ({"rate": "abc"}, ValueError),
        ({"rate": D("NaN")}, ValueError),
        ({"rate": D("Infinity")}, ValueError),
        ({"rate": D("1E+12")}, ValueError),
        ({"rate": 0.1}, TypeError),
        ({"rate": D(1), "currency": ""}, ValueError),
        ({"rate": D(1), "increment": timedelta(minutes=-1)}, ValueError),
        ({"rate": D(1), "callout_minimum": 60}, TypeError),
        ({"rate": D(1), "callout_overlap": "sometimes"}, ValueError),
        ({"rate": D(1), "tariffs": {WEEKEND: DEFAULT_TARIFFS[WEEKEND]}}, ValueError),
        ({"rate": D(1), "tariffs": {**DEFAULT_TARIFFS, OFFICE: Tariff(D(1), timedelta(0))}}, ValueError),
        ({"rate": D(1), "tariffs": {**DEFAULT_TARIFFS, "lunch": Tariff(D(1), timedelta(0))}}, ValueError),
    ],
)
def test_bad_terms(kwargs, error):
    with pytest.raises(error):
        Terms(**kwargs)


def test_terms_accept_strings_and_ints():
    assert Terms(rate="97.50").rate == D("97.50")
    assert Terms(rate=100).rate == D(100)
    with pytest.raises(ValueError):
        Tariff(D("-0.5"), timedelta(hours=1))


def test_bad_ranges():
    with pytest.raises(ValueError, match="before it starts"):
        quote(NL, L("2026-11-28 12:00"), L("2026-11-28 10:00"), T100)
    with pytest.raises(ValueError, match="naive"):
        quote(NL, datetime(2026, 11, 28, 10), L("2026-11-28 12:00"), T100)
    with pytest.raises(ValueError, match="call-out 0"):
        quote(NL, L(NIGHT_START), L(NIGHT_END), T100, [(L("2026-11-28 23:00"), L("2026-11-28 22:00"))])
    with pytest.raises(ValueError, match="call-out 0"):
        quote(NL, L(NIGHT_START), L(NIGHT_END), T100, [(L("2026-11-28 23:00"),)])
    with pytest.raises(ValueError):
        callout_charge(L("2026-11-28 23:00"), L("2026-11-28 22:00"), T100)


def test_round_up():
    q = timedelta(minutes=15)
    assert round_up(timedelta(minutes=60), q) == timedelta(minutes=60)
    assert round_up(timedelta(minutes=60, microseconds=1), q) == timedelta(minutes=75)
    assert round_up(timedelta(0), q) == timedelta(0)
    assert round_up(timedelta(minutes=7), timedelta(0)) == timedelta(minutes=7)


# ---------------------------------------------------------------------------- properties


def cents_half_up(x: Fraction) -> Decimal:
    """An independent oracle: round a non-negative exact Fraction half-up to cents."""
    cents = (x * 100 + Fraction(1, 2)).__floor__()
    return Decimal(cents) / 100


def exact_hours(td: timedelta) -> Fraction:
    return Fraction(td // timedelta(microseconds=1), 3_600_000_000)


MINUTE = timedelta(minutes=1)
starts = st.integers(0, 5 * 366 * 24 * 60).map(lambda m: datetime(2024, 1, 1, tzinfo=UTC) + m * MINUTE)
spans = st.integers(0, 10 * 24 * 60).map(lambda m: m * MINUTE)
rates = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(start=starts, span=spans, rate=rates)
def test_blocks_cover_exactly_the_non_office_time(start, span, rate):
    end = start + span
    terms = Terms(rate=rate)
    blocks = standby_blocks(NL, start, end, terms)
    # Blocks in order, inside the range, never office, each one period throughout, maximal.
    edges = [start] + [t for b in blocks for t in (b.start, b.end)] + [end]
    assert edges == sorted(edges)
    for b in blocks:
        assert b.start < b.end and b.period is not OFFICE
        assert NL.period_at(b.start) is b.period
        assert NL.period_at(b.end - timedelta(microseconds=1)) is b.period
    for a, b in pairwise(blocks):
        assert a.end < b.start or a.period is not b.period
    # Every gap between blocks (and at the edges) is office time.
    gaps = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
    for g0, g1 in gaps:
        if g0 < g1:
            assert NL.period_at(g0) is OFFICE and NL.period_at(g1 - timedelta(microseconds=1)) is OFFICE
    # Hours sum to the non-office time of the range (exactly as durations; as Decimals up to the
    # 40-digit representation of thirds and sixths).
    office = sum((s.end - s.start for s in NL.stretches(start, end) if s.period is OFFICE), timedelta())
    standby = sum((b.end - b.start for b in blocks), timedelta())
    assert standby == span - office
    assert abs(sum(Fraction(b.hours) for b in blocks) - exact_hours(standby)) < Fraction(1, 10**30)
    # Fees: exactly multiplier x rate x max(hours, minimum) rounded half-up, never below the
    # minimum's fee.
    for b in blocks:
        t = terms.tariff(b.period)
        duration = b.end - b.start
        assert b.fee == cents_half_up(Fraction(t.multiplier) * Fraction(rate) * exact_hours(max(duration, t.minimum)))
        assert b.fee >= cents_half_up(Fraction(t.multiplier) * Fraction(rate) * exact_hours(t.minimum))
        assert b.billed_hours >= b.hours and b.multiplier == t.multiplier
    assert quote(NL, start, end, terms).total == sum((b.fee for b in blocks), Decimal(0))


call = st.tuples(st.integers(0, 3 * 24 * 60), st.integers(0, 180)).map(
    lambda t: (datetime(2026, 11, 27, 17, tzinfo=UTC) + t[0] * MINUTE, t[1] * MINUTE)
)


@SETTINGS
@given(calls=st.lists(call, max_size=8), rate=rates)
def test_merging_never_costs_more_than_separate(calls, rate):
    # A Friday-evening-to-Monday booking with random call-outs, some outside it.
    start, end = L("2026-11-27 18:00"), L("2026-11-30 08:30")
    pairs = [(s, s + d) for s, d in calls]
    merged = quote(NL, start, end, Terms(rate=rate, callout_overlap="merge"), pairs)
    separate = quote(NL, start, end, Terms(rate=rate, callout_overlap="separate"), pairs)
    assert merged.total <= separate.total
    assert len(merged.callouts) <= len(separate.callouts) == len(pairs)
    for q in (merged, separate):
        for c in q.callouts:
            # Billed: a whole number of 15-min increments, at least the minimum in a block.
            assert (c.billed_hours * 4) == (c.billed_hours * 4).to_integral_value()
            assert c.billed_hours >= (1 if c.block_index is not None else 0)
            assert c.billed_hours >= c.worked_hours
            assert c.amount == cents_half_up(Fraction(rate) * Fraction(c.billed_hours))
            in_block = (
                c.block_index is not None and q.blocks[c.block_index].start <= c.start < q.blocks[c.block_index].end
            )
            assert in_block or (c.block_index is None and c.ref.startswith(OUTSIDE_BOOKING))
    # Every call lies inside one merged call-out.
    for s, e in pairs:
        assert any(c.start <= s and e <= c.end for c in merged.callouts)


# ---------------------------------------------------------------------------- covered (choice 5)


def test_a_block_inside_a_covered_range_costs_nothing_and_says_why():
    # Fri 27 Nov 18:00 -> Sat 28 Nov 18:00: the night (14.5 h) and Saturday 08:30-18:00 (9.5 h x 0.5).
    night = (L("2026-11-27 18:00"), L("2026-11-28 08:30"), "recurring evening_night standby")
    call = (L("2026-11-28 02:00"), L("2026-11-28 02:20"))
    q = quote(NL, L("2026-11-27 18:00"), L("2026-11-28 18:00"), T100, [call], covered=[night])
    assert [(b.period, b.fee, b.covered) for b in q.blocks] == [
        (Period.EVENING_NIGHT, D("0"), "recurring evening_night standby"),
        (Period.WEEKEND, D("475.00"), ""),
    ]
    # a call-out in a covered block is still a call-out (1-h minimum), billed on top
    (c,) = q.callouts
    assert (c.block_index, c.amount) == (0, D("100.00"))
    assert q.total == D("575.00") and q.as_dict()["blocks"][0]["covered"] == "recurring evening_night standby"
    # a range covering only part of a block covers nothing of it: the block is billed in full
    part = (L("2026-11-27 20:00"), L("2026-11-28 08:30"), "part")
    assert quote(NL, L("2026-11-27 18:00"), L("2026-11-28 08:30"), T100, covered=[part]).total == D("1450.00")
    # a naive covered range is refused like any naive instant
    with pytest.raises(ValueError):
        quote(
            NL,
            L("2026-11-27 18:00"),
            L("2026-11-28 08:30"),
            T100,
            covered=[(datetime(2026, 11, 27), L("2026-11-28 08:30"), "x")],
        )
