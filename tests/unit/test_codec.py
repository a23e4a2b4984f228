"""The store's text form of instants (pager/storage/codec.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pager.storage.codec import iso, parse_iso


def _reference(dt: datetime) -> str:
    """The form as first written: isoformat with microseconds of the instant in UTC."""
    if dt.utcoffset() != timedelta(0):
        dt = dt.astimezone(timezone.utc)
    return dt.isoformat(timespec="microseconds")[:-6] + "Z"


_ZONES = st.sampled_from(
    [timezone.utc, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    + [ZoneInfo(z) for z in ("UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe")]
)
_WALL = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)) | st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)
).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=2000, deadline=None)
@given(wall=_WALL, tz=_ZONES, fold=st.sampled_from([0, 1]))
def test_iso_is_the_utc_isoformat_with_microseconds(wall, tz, fold):
    dt = wall.replace(tzinfo=tz, fold=fold)
    assert iso(dt) == _reference(dt)
    # compared as UTC instants: an inter-zone == is always False for a wall time in a DST gap or
    # a repeated hour's fold=1 (PEP 495), though iso() stored the instant the offset names
    assert parse_iso(iso(dt)) == dt.astimezone(timezone.utc)


def test_iso_of_a_wall_time_in_the_dst_gap_keeps_its_instant():
    gap = datetime(2000, 3, 26, 2, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))  # clocks jumped 02:00 -> 03:00
    assert iso(gap) == "2000-03-26T01:30:00.000000Z"
    assert parse_iso(iso(gap)) == gap.astimezone(timezone.utc)


@settings(max_examples=300, deadline=None)
@given(wall=_WALL)
def test_iso_of_a_naive_instant_reads_it_in_local_time(wall):
    assert iso(wall) == _reference(wall)


def test_iso_examples():
    assert iso(datetime(2026, 11, 25, 14, tzinfo=timezone.utc)) == "2026-11-25T14:00:00.000000Z"
    assert (
        iso(datetime(2026, 11, 25, 15, 0, 0, 5, tzinfo=ZoneInfo("Europe/Amsterdam"))) == "2026-11-25T14:00:00.000005Z"
    )
    assert iso(None) is None
