"""The agency's calendar: which period an instant lies in (DESIGN.md §2, "Calendar").

Every instant lies in exactly one period:

- ``holiday``: the whole local date (00:00-24:00) of a public holiday; beats every other period.
- ``office``: an office day (Monday-Friday by default), office hours (08:30-18:00), not a holiday.
- ``weekend``: any other day (Saturday, Sunday), in the weekend window (08:30-18:00), not a holiday.
- ``evening_night``: everything else.

All wall-clock rules are read in the calendar's time zone; all instants in and out are aware
(out: UTC). Durations are real elapsed time, so a night across the spring DST change lasts
13.5 h and one across the autumn change 15.5 h.

Pure: no clock reads, no I/O (beyond the tz database and the `holidays` package's tables).

Holidays come from the `holidays` package. For ``NL`` it lists Good Friday (many firms work
then: leave it out with ``exclude=("Good Friday",)``) and, in its ``public`` category, Liberation
Day (5 May) only in lustrum years (2025, 2030, ...), as most collective agreements grant it;
``categories=("public", "optional")`` makes it every year, ``exclude=("Liberation Day",)`` never.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_pkg

UTC = timezone.utc
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIDNIGHT = time(0, 0)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# How far next_office_opening looks ahead before giving up.
_OPENING_HORIZON_DAYS = 400
# Day plans kept per Calendar before the cache is dropped (≈ 27 years).
_DAY_CACHE_MAX = 10_000


class Period(StrEnum):
    OFFICE = "office"
    WEEKEND = "weekend"
    EVENING_NIGHT = "evening_night"
    HOLIDAY = "holiday"


# --------------------------------------------------------------------------- time helpers


def to_utc(instant: datetime, what: str = "instant") -> datetime:
    """`instant` as an aware UTC datetime; naive datetimes are rejected with ValueError."""
    if not isinstance(instant, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(instant).__name__}")
    if instant.tzinfo is None or instant.tzinfo.utcoffset(instant) is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)


def zone_of(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; an unknown name is a ValueError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def local_wall(instant_utc: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of an aware instant in `zone`."""
    return instant_utc.astimezone(zone).replace(tzinfo=None)


def local_text(instant: datetime, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """An instant as people read it: the wall time in `zone` with its UTC offset,
    ``2026-12-03 18:00 +01:00`` (``seconds``: ``2026-12-03 18:00:05 +01:00``). The offset tells the two
    readings of an autumn-fold hour apart (``02:30 +02:00`` comes before ``02:30 +01:00``)."""
    local = to_utc(instant).astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    wall = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{wall} {sign}{minutes // 60:02d}:{minutes % 60:02d}"


def first_instant_at(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clock in `zone` reads `wall` or later.

    A wall time that occurs twice (autumn fold) resolves to its first occurrence; one that does
    not occur (spring gap) resolves to the moment the clock jumps past it, e.g. 02:30 on the
    spring-change day in Amsterdam is 03:00 CEST. The map is non-decreasing in `wall`, which is
    what keeps hand-offs and period boundaries free of overlaps.
    """
    u = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if u.astimezone(zone).replace(tzinfo=None) == wall:
        return u
    # In a gap: fold=1 reads it with the offset after the jump (an instant before the jump),
    # fold=0 with the offset before (an instant after it). The jump lies in between.
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _first_offset_change(lo, u, zone)


def _offset_at(instant_utc: datetime, zone: ZoneInfo) -> timedelta:
    return instant_utc.astimezone(zone).utcoffset()  # type: ignore[return-value]


def _first_offset_change(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (lo, hi] whose UTC offset differs from lo's (one must exist)."""
    before = _offset_at(lo, zone)
    # tz database transitions fall on whole seconds: bisect on seconds since the epoch.
    lo_s = (lo - _EPOCH) // _ONE_SECOND
    hi_s = -((_EPOCH - hi) // _ONE_SECOND)
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset_at(_EPOCH + mid * _ONE_SECOND, zone) == before:
            lo_s = mid
        else:
            hi_s = mid
    return _EPOCH + hi_s * _ONE_SECOND


def offset_changes(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """UTC-offset transitions of `zone` in (start, end), for ranges of about a day."""
    found: list[datetime] = []
    lo = start
    last = end - timedelta(microseconds=1)
    while lo < last and _offset_at(lo, zone) != _offset_at(last, zone):
        t = _first_offset_change(lo, last, zone)
        found.append(t)
        lo = t
    return found


# --------------------------------------------------------------------------- rules


def parse_weekday(value: int | str) -> int:
    """0 (Monday) .. 6 (Sunday) from an int or a name ("mon", "Monday")."""
    if isinstance(value, bool):
        raise ValueError(f"bad weekday {value!r}")
    if isinstance(value, int):
        if 0 <= value <= 6:
            return value
        raise ValueError(f"weekday must be 0 (Monday) .. 6 (Sunday), got {value}")
    key = str(value).strip().lower()[:3]
    if key in _WEEKDAYS:
        return _WEEKDAYS.index(key)
    raise ValueError(f"bad weekday {value!r}")


def _parse_time(value: time | str, what: str) -> time:
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{what}: bad time {value!r}") from exc
    if not isinstance(value, time):
        raise ValueError(f"{what}: expected a time, got {value!r}")
    if value.tzinfo is not None:
        raise ValueError(f"{what}: a local wall time must not carry a time zone")
    return value


def _parse_date(value: date | str, what: str) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"{what}: expected a date, got a datetime {value!r}")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{what}: bad date {value!r}") from exc


# Instants pagerd reasons about, from any input (webhook timestamps, API and CLI times): far enough
# either way for any real question, and clear of datetime's year-1/year-9999 edges, where converting to
# UTC or adding a day overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def utc_in_range(dt: datetime) -> datetime:
    """`dt` (aware) in UTC; ValueError when it lies outside [EARLIEST, LATEST) or has no offset."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("timestamp needs a time zone (RFC 3339)")
    try:
        dt = dt.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("outside the years 1900-2199") from None
    if not EARLIEST <= dt < LATEST:
        raise ValueError("outside the years 1900-2199")
    return dt


@dataclass(frozen=True)
class CalendarRules:
    """The configurable rules of DESIGN.md §2. Lists given to the constructor are normalised
    (weekday names to ints, ISO strings to dates and times, mappings to sorted tuples)."""

    tz: str = "Europe/Amsterdam"
    office_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    office_start: time = time(8, 30)
    office_end: time = time(18, 0)
    weekend_start: time = time(8, 30)
    weekend_end: time = time(18, 0)
    country: str | None = "NL"
    subdivision: str | None = None
    categories: tuple[str, ...] = ("public",)
    language: str = "en_US"
    # Holidays to leave out: a date (or "YYYY-MM-DD") drops that date; any other string drops
    # every holiday of that name (case-insensitive, in `language`).
    exclude: tuple[date | str, ...] = ()
    # Extra company days off: (date, name) pairs; a mapping is accepted too.
    extra: tuple[tuple[date, str], ...] = ()

    def __post_init__(self) -> None:
        zone_of(self.tz)
        days = frozenset(parse_weekday(d) for d in self.office_days)
        object.__setattr__(self, "office_days", days)
        for name in ("office_start", "office_end", "weekend_start", "weekend_end"):
            object.__setattr__(self, name, _parse_time(getattr(self, name), name))
        if not self.office_start < self.office_end:
            raise ValueError("office_start must be before office_end")
        if not self.weekend_start < self.weekend_end:
            raise ValueError("weekend_start must be before weekend_end")
        cats = (self.categories,) if isinstance(self.categories, str) else tuple(self.categories)
        object.__setattr__(self, "categories", cats)
        if self.country is not None:
            supported = holidays_pkg.list_supported_countries()
            if self.country not in supported:
                raise ValueError(f"holidays: unknown country {self.country!r}")
            cls = type(holidays_pkg.country_holidays(self.country, years=()))
            if self.subdivision is not None and self.subdivision not in cls.subdivisions:
                raise ValueError(
                    f"holidays: {self.country} has no subdivision {self.subdivision!r}"
                    f" (known: {', '.join(cls.subdivisions) or 'none'})"
                )
            bad = [c for c in cats if c not in cls.supported_categories]
            if bad or not cats:
                raise ValueError(
                    f"holidays: categories {bad or cats!r} not supported for {self.country}"
                    f" (known: {', '.join(cls.supported_categories)})"
                )
            langs = getattr(cls, "supported_languages", ())
            if langs and self.language not in langs:
                raise ValueError(
                    f"holidays: language {self.language!r} not supported for {self.country} (known: {', '.join(langs)})"
                )
        elif self.subdivision is not None:
            raise ValueError("subdivision given without a country")
        excl: list[date | str] = []
        for item in (self.exclude,) if isinstance(self.exclude, str) else self.exclude:
            if isinstance(item, date) or (isinstance(item, str) and _ISO_DATE.match(item)):
                excl.append(_parse_date(item, "exclude"))
            elif isinstance(item, str) and item.strip():
                excl.append(item.strip())
            else:
                raise ValueError(f"exclude: expected a date or a holiday name, got {item!r}")
        object.__setattr__(self, "exclude", tuple(excl))
        pairs = self.extra.items() if isinstance(self.extra, Mapping) else self.extra
        extra: dict[date, str] = {}
        for pair in pairs:
            try:
                day, name = pair
            except (TypeError, ValueError) as exc:
                raise ValueError(f"extra: expected (date, name), got {pair!r}") from exc
            day = _parse_date(day, "extra")
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"extra {day}: a company day needs a name")
            extra[day] = name.strip()
        object.__setattr__(self, "extra", tuple(sorted(extra.items())))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Stretch:
    """A maximal run of one period: [start, end), aware UTC."""

    period: Period
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def hours(self) -> float:
        return self.duration / timedelta(hours=1)


@dataclass(frozen=True)
class _DayPlan:
    """The local date's span [start, end) in UTC and the instants at which the period changes."""

    start: datetime
    end: datetime
    changes: tuple[tuple[datetime, Period], ...]


# --------------------------------------------------------------------------- calendar


class Calendar:
    """Periods of instants under a set of CalendarRules. Caches holidays per year and the
    period changes per local date; otherwise stateless and safe to share."""

    def __init__(self, rules: CalendarRules | None = None) -> None:
        self.rules = rules if rules is not None else CalendarRules()
        self.zone = zone_of(self.rules.tz)
        r = self.rules
        self._office_days = r.office_days
        self._office = (r.office_start, r.office_end)
        self._weekend = (r.weekend_start, r.weekend_end)
        self._boundaries = tuple(sorted({_MIDNIGHT, r.office_start, r.office_end, r.weekend_start, r.weekend_end}))
        self._excluded_dates = frozenset(x for x in r.exclude if isinstance(x, date))
        self._excluded_names = frozenset(x.casefold() for x in r.exclude if isinstance(x, str))
        self._extra: dict[int, dict[date, str]] = {}
        for day, name in r.extra:
            self._extra.setdefault(day.year, {})[day] = name
        self._years: dict[int, dict[date, str]] = {}
        self._days: dict[date, _DayPlan] = {}

    def __repr__(self) -> str:
        return f"Calendar({self.rules!r})"

    # ---- holidays

    def holidays(self, year: int) -> Mapping[date, str]:
        """The holidays of a year after exclusions and extras, date -> name."""
        table = self._years.get(year)
        if table is None:
            table = self._build_year(year)
            self._years[year] = table
        return table

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name on a local date, or None."""
        if isinstance(day, datetime):
            raise TypeError("holiday_name takes a local date, not a datetime")
        return self.holidays(day.year).get(day)

    def _build_year(self, year: int) -> dict[date, str]:
        r = self.rules
        table: dict[date, str] = {}
        if r.country is not None:
            found = holidays_pkg.country_holidays(
                r.country,
                subdiv=r.subdivision,
                years=year,
                categories=r.categories,
                language=r.language,
            )
            for day in sorted(found):
                if day.year != year or day in self._excluded_dates:
                    continue
                names: list[str] = []
                for name in found.get_list(day):
                    if name.casefold() not in self._excluded_names and name not in names:
                        names.append(name)
                if names:
                    table[day] = "; ".join(names)
        for day, name in self._extra.get(year, {}).items():
            if day in self._excluded_dates:
                continue
            table[day] = f"{table[day]}; {name}" if day in table else name
        return table

    # ---- periods

    def period_at(self, instant: datetime) -> Period:
        """The period of an aware instant."""
        return self._period_of_wall(local_wall(to_utc(instant), self.zone))

    def _period_of_wall(self, wall: datetime) -> Period:
        day = wall.date()
        if day in self.holidays(day.year):
            return Period.HOLIDAY
        t = wall.time()
        if day.weekday() in self._office_days:
            lo, hi = self._office
            return Period.OFFICE if lo <= t < hi else Period.EVENING_NIGHT
        lo, hi = self._weekend
        return Period.WEEKEND if lo <= t < hi else Period.EVENING_NIGHT

    def stretches(self, start: datetime, end: datetime) -> list[Stretch]:
        """Maximal runs of one period covering [start, end) exactly, in order; adjacent
        stretches differ in period. Empty when start == end."""
        s, e = to_utc(start, "start"), to_utc(end, "end")
        if e < s:
            raise ValueError(f"end {e.isoformat()} is before start {s.isoformat()}")
        out: list[Stretch] = []
        if e == s:
            return out
        day = self._day_containing(s)
        current: Period | None = None
        since = s
        while True:
            plan = self._day_plan(day)
            if plan.start >= e:
                break
            for at, period in plan.changes:
                if at <= s:
                    current = period
                    continue
                if at >= e:
                    break
                if period is not current:
                    out.append(Stretch(current, since, at))  # type: ignore[arg-type]
                    current, since = period, at
            day += _ONE_DAY
        out.append(Stretch(current, since, e))  # type: ignore[arg-type]
        return out

    def windows(self, start: datetime, end: datetime, periods: Iterable[Period]) -> list[tuple[datetime, datetime]]:
        """Maximal contiguous ranges inside [start, end) whose period is one of `periods`
        (e.g. "outside office" = weekend, evening_night and holiday run together)."""
        wanted = frozenset(Period(p) for p in periods)
        out: list[tuple[datetime, datetime]] = []
        for st in self.stretches(start, end):
            if st.period not in wanted:
                continue
            if out and out[-1][1] == st.start:
                out[-1] = (out[-1][0], st.end)
            else:
                out.append((st.start, st.end))
        return out

    def window_at(
        self,
        instant: datetime,
        periods: Iterable[Period],
        lo: datetime,
        hi: datetime,
    ) -> tuple[datetime, datetime] | None:
        """The window of `windows(lo, hi, periods)` that holds `instant`, or None; found by
        looking outwards from `instant` only (cheap for a long [lo, hi))."""
        s, lo, hi = to_utc(instant), to_utc(lo, "lo"), to_utc(hi, "hi")
        wanted = frozenset(Period(p) for p in periods)
        if not lo <= s < hi or self.period_at(s) not in wanted:
            return None
        home = self._day_containing(s)
        # Backwards: the run starts after the last change into a period not wanted.
        start: datetime | None = None
        candidate, day = s, home
        while start is None:
            for at, period in reversed(self._day_plan(day).changes):
                if at > s:
                    continue
                if period not in wanted:
                    start = candidate
                    break
                if at <= lo:
                    start = lo
                    break
                candidate = at
            day -= _ONE_DAY
        # Forwards: it ends at the first change into a period not wanted.
        end: datetime | None = None
        day = home
        while end is None:
            for at, period in self._day_plan(day).changes:
                if at <= s:
                    continue
                if at >= hi:
                    end = hi
                    break
                if period not in wanted:
                    end = at
                    break
            day += _ONE_DAY
        return start, end

    def next_office_opening(self, instant: datetime) -> datetime | None:
        """The first instant at or after `instant` when the office is open: `instant` itself
        during office hours, else the start of the next office stretch (weekends and holidays
        skipped). None if there is no office time within about 400 days."""
        s = to_utc(instant)
        if self._period_of_wall(local_wall(s, self.zone)) is Period.OFFICE:
            return s
        day = self._day_containing(s)
        for _ in range(_OPENING_HORIZON_DAYS):
            for at, period in self._day_plan(day).changes:
                if at > s and period is Period.OFFICE:
                    return at
            day += _ONE_DAY
        return None

    # ---- per-day plans

    def _day_containing(self, s: datetime) -> date:
        day = local_wall(s, self.zone).date()
        while s < self._day_plan(day).start:
            day -= _ONE_DAY
        while s >= self._day_plan(day).end:
            day += _ONE_DAY
        return day

    def _day_plan(self, day: date) -> _DayPlan:
        plan = self._days.get(day)
        if plan is None:
            if len(self._days) >= _DAY_CACHE_MAX:
                self._days.clear()
            plan = self._days[day] = self._build_day(day)
        return plan

    def _build_day(self, day: date) -> _DayPlan:
        """The instants in the local date's span at which the period may change: its start,
        every rule boundary (both readings of an ambiguous wall time) and every UTC-offset
        transition. Between two of them the wall clock runs on without crossing a boundary,
        so the period is constant there."""
        zone = self.zone
        start = first_instant_at(datetime.combine(day, _MIDNIGHT), zone)
        end = first_instant_at(datetime.combine(day + _ONE_DAY, _MIDNIGHT), zone)
        if start >= end:  # a local date that never happened (Pacific/Apia, 2011-12-30)
            return _DayPlan(start, end, ())
        points = {start}
        jumps = offset_changes(start, end, zone)
        points.update(jumps)
        # Around a transition the wall clock may read times of the neighbouring dates too.
        days = (day - _ONE_DAY, day, day + _ONE_DAY) if jumps else (day,)
        folds = (0, 1) if jumps else (0,)
        for d in days:
            for b in self._boundaries:
                wall = datetime.combine(d, b)
                for fold in folds:
                    u = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                    if start <= u < end:
                        points.add(u)
        changes: list[tuple[datetime, Period]] = []
        for at in sorted(points):
            period = self._period_of_wall(local_wall(at, zone))
            if not changes or changes[-1][1] is not period:
                changes.append((at, period))
        return _DayPlan(start, end, tuple(changes))


__all__ = [
    "UTC",
    "Calendar",
    "CalendarRules",
    "Period",
    "Stretch",
    "first_instant_at",
    "local_text",
    "local_wall",
    "offset_changes",
    "parse_weekday",
    "to_utc",
    "zone_of",
]
