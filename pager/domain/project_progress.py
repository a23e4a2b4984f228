"""A project's progress (pure): its tickets opened and resolved per week, its open incidents, and its
ticket hours of a month split into covered and billable (summed from the statement's per-ticket lines,
pager.service.statements.ticket_hours: one calculation, not two).

A week is Monday 00:00 to Monday 00:00 in the calendar's time zone; the last week is the one `now` is in.
A ticket counts as closed in the week it was resolved (a ticket closed without being resolved: never).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo

WEEKS = 8
LIVE = frozenset({"new", "open", "waiting_on_customer"})


class TicketLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Week:
    monday: date  # the week's first day, in the calendar's zone
    opened: int
    closed: int


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def week_start(at: datetime, zone: ZoneInfo) -> datetime:
    """The Monday 00:00 (in `zone`, as UTC) of the week `at` is in."""
    local = at.astimezone(zone).date()
    monday = local - timedelta(days=local.weekday())
    return _midnight(monday, zone).astimezone(timezone.utc)


def since(now: datetime, zone: ZoneInfo, weeks: int = WEEKS) -> datetime:
    """The first instant of the weeks shown: Monday 00:00 `weeks - 1` weeks before this week's."""
    this = week_start(now, zone).astimezone(zone).date()
    first = this - timedelta(weeks=weeks - 1)
    return _midnight(first, zone).astimezone(timezone.utc)


def weekly(tickets: Iterable[TicketLike], now: datetime, zone: ZoneInfo, weeks: int = WEEKS) -> list[Week]:
    """Tickets opened and resolved per week over the last `weeks` weeks (oldest first, the current one
    last); events after `now` (a clock set back) count nowhere."""
    first = since(now, zone, weeks).astimezone(zone).date()
    mondays = [first + timedelta(weeks=i) for i in range(weeks)]
    opened = dict.fromkeys(mondays, 0)
    closed = dict.fromkeys(mondays, 0)

    def bucket(at: datetime | None) -> date | None:
        if at is None or at > now:
            return None
        local = at.astimezone(zone).date()
        monday = local - timedelta(days=local.weekday())
        return monday if monday in opened else None

    for t in tickets:
        if (m := bucket(t.created_at)) is not None:
            opened[m] += 1
        if (m := bucket(t.resolved_at)) is not None:
            closed[m] += 1
    return [Week(m, opened[m], closed[m]) for m in mondays]


def open_incidents(tickets: Iterable[TicketLike]) -> list[Any]:
    """The project's incidents that are not resolved or closed."""
    return [t for t in tickets if t.kind == "incident" and t.status in LIVE]


def by_status(tickets: Iterable[TicketLike], statuses: Sequence[str]) -> dict[str, list[Any]]:
    """The tickets grouped by status, in the order of `statuses` (every status present, maybe empty)."""
    out: dict[str, list[Any]] = {s: [] for s in statuses}
    for t in tickets:
        out.setdefault(t.status, []).append(t)
    return out


@dataclass(frozen=True, slots=True)
class Hours:
    covered_minutes: int
    billable_minutes: int
    billed_minutes: int  # billable, rounded up per ticket to the billing increment (what the statement bills)


def hours_used(lines: Iterable[Mapping[str, Any]], numbers: Iterable[int]) -> Hours:
    """The covered and billable minutes of the statement's ticket lines (ticket_hours) of the tickets
    `numbers` (the project's)."""
    mine = set(numbers)
    picked = [ln for ln in lines if ln["number"] in mine]
    return Hours(
        covered_minutes=sum(ln["covered_minutes"] for ln in picked),
        billable_minutes=sum(ln["billable_minutes"] for ln in picked),
        billed_minutes=sum(ln["billed_minutes"] for ln in picked),
    )
