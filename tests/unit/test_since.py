"""`--since`: relative times (30m, 2h, 3d, 1w, today, yesterday) and ISO 8601 instants, read on a fixed clock
in the calendar's time zone (pager.service.schedule.parse_since)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pager.service.schedule import parse_since

UTC = timezone.utc
TZ = "Europe/Amsterdam"
NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # 04:00 on 3 December in Amsterdam (UTC+1)
SUMMER = datetime(2026, 7, 1, 21, 30, tzinfo=UTC)  # 23:30 on 1 July in Amsterdam (UTC+2)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, now, expect",
    [
        ("30m", NOW, utc(2026, 12, 3, 2, 30)),
        ("2h", NOW, utc(2026, 12, 3, 1, 0)),
        (" 2H ", NOW, utc(2026, 12, 3, 1, 0)),
        ("3d", NOW, utc(2026, 11, 30, 3, 0)),
        ("1w", NOW, utc(2026, 11, 26, 3, 0)),
        ("0m", NOW, NOW),
        ("today", NOW, utc(2026, 12, 2, 23, 0)),  # midnight in Amsterdam
        ("yesterday", NOW, utc(2026, 12, 1, 23, 0)),
        ("Yesterday", NOW, utc(2026, 12, 1, 23, 0)),
        ("today", SUMMER, utc(2026, 6, 30, 22, 0)),  # summer time: midnight is 22:00Z
        ("yesterday", SUMMER, utc(2026, 6, 29, 22, 0)),
        ("today", utc(2026, 10, 25, 12, 0), utc(2026, 10, 24, 22, 0)),  # the day summer time ends
        ("yesterday", utc(2026, 3, 30, 12, 0), utc(2026, 3, 28, 23, 0)),  # the day before it began
        ("2026-12-02T13:30", NOW, utc(2026, 12, 2, 12, 30)),  # no offset: wall time in Amsterdam
        ("2026-12-02T13:30:00Z", NOW, utc(2026, 12, 2, 13, 30)),
        ("2026-12-02T13:30+05:00", NOW, utc(2026, 12, 2, 8, 30)),
        ("2026-12-02", NOW, utc(2026, 12, 1, 23, 0)),
    ],
)
def test_since(value: str, now: datetime, expect: datetime) -> None:
    got = parse_since(value, TZ, now)
    assert got == expect and got.tzinfo == UTC


@pytest.mark.parametrize(
    "value, says",
    [
        ("", "expected 30m, 2h, 3d, 1w, today, yesterday or an ISO 8601 instant"),
        ("2", "expected"),
        ("2x", "expected"),
        ("-2h", "expected"),
        ("2.5h", "expected"),
        ("1234567h", "expected"),  # at most six digits
        ("tomorrow", "expected"),
        ("2026-02-30", "expected"),
        ("999999w", "outside the years 1900-2199"),
        ("1800-01-01T00:00Z", "outside the years 1900-2199"),
        ("x" * 10_000, "expected"),
    ],
)
def test_since_refused(value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_since(value, TZ, NOW)
