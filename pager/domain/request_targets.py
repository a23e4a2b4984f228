"""Request targets (DESIGN.md §2, the support desk): was a customer's request answered and resolved
within the office time the contract promises? One answer for the engine (at-risk and breached
events, the breach metric), the API, the CLI and reports.

Two targets per ticket, each an amount of **office time** per priority (``low``, ``normal``,
``high``, ``urgent``), per customer:

- ``first_response``: from the ticket's creation to the first public reply by staff.
- ``resolution``: from the ticket's creation to ``resolved`` (or ``closed``).

Office time is the calendar's ``office`` period (pager.domain.calendar: office days and hours, public
holidays, ``holidays_exclude`` and ``holidays_extra``): the clock runs only while the office is
open, so a request that comes in on Friday evening starts counting at Monday's opening, and one
that comes in at 17:00 with a 2 h target is due an hour after the next opening. Office time is real
elapsed time inside office stretches; DST changes fall at night and never shorten an office day.

Each clock is **paused** while the ticket waits on the customer (``waiting_on_customer``); the
resolution clock is also stopped while the ticket is ``resolved`` or ``closed``. A pause is
[start, end); an open pause (end None) stops the clock from its start on, so the deadline is not
known (None) until the ticket moves again.

Answers (``clocks_of``, the one place that decides):

- The first public reply by staff answers ``first_response``. Internal notes and customer replies
  never do. ``RESOLVE_ANSWERS_FIRST_RESPONSE``: a ticket resolved before any public reply has told
  the customer (the resolved mail), so that resolve answers it.
- ``resolution`` is answered by the move to ``resolved`` or ``closed``. When a customer's reply
  reopens the ticket (back to ``open``), the resolution clock **continues**: the office time used
  before the resolve still counts, the time while resolved does not (a pause), and the target is
  judged on the next resolve. So a resolution that was ``met`` is ``running`` again after a reopen
  and can still breach; a deadline that has passed stays passed.

Outcomes at ``now`` (``judge``):

- ``running``   not answered, before the at-risk instant.
- ``at_risk``   not answered, from the at-risk instant up to and including the deadline.
- ``met``       answered at or before the deadline (or while its clock was stopped).
- ``breached``  answered after the deadline, or not answered and the deadline has passed.

The at-risk instant is when the office time used reaches the target minus a margin: a percentage of
the target used (``80%``: at risk once 80 % of the office time is gone) or an amount of office time
before the deadline (``30m``). ``Status.reached`` lists the facts ``at_risk`` and ``breached`` that
hold at ``now``; they never un-happen as ``now`` advances (later pauses move only instants still in
the future), so an engine stage emits each once per ticket and target.

Pure: no clock reads, no I/O; instants in are aware (any zone), instants out are UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from .calendar import LATEST, Calendar, Period, to_utc
from .ticket import Priority  # a ticket's priority: the targets are per priority

# A resolve before any public reply answers the first response: the customer was told by the
# resolved mail. False would make only a public reply by staff count.
RESOLVE_ANSWERS_FIRST_RESPONSE = True

# The longest target: about a year of office days (52 weeks of 5 x 9.5 h is 2470 h).
MAX_TARGET = timedelta(hours=2000)
# How far the deadline search looks for office time before it gives up (a calendar without
# office days, or one whose office is closed for over a year).
_HORIZON = timedelta(days=400)
_CHUNK = timedelta(days=14)
_ZERO = timedelta(0)
_OFFICE = (Period.OFFICE,)


class TargetKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class Outcome(StrEnum):
    RUNNING = "running"
    AT_RISK = "at_risk"
    MET = "met"
    BREACHED = "breached"


class Reached(StrEnum):
    """The facts an engine stage records once per ticket and target."""

    AT_RISK = "at_risk"
    BREACHED = "breached"


# --------------------------------------------------------------------------- configuration

DEFAULT_FIRST_RESPONSE: Mapping[Priority, timedelta] = {
    Priority.URGENT: timedelta(hours=1),
    Priority.HIGH: timedelta(hours=2),
    Priority.NORMAL: timedelta(hours=4),
    Priority.LOW: timedelta(hours=8),
}
DEFAULT_RESOLUTION: Mapping[Priority, timedelta] = {
    Priority.URGENT: timedelta(hours=4),
    Priority.HIGH: timedelta(hours=8),
    Priority.NORMAL: timedelta(hours=24),
    Priority.LOW: timedelta(hours=40),
}

_PERCENT = re.compile(r"^\s*(\d{1,3})\s*%\s*$")


@dataclass(frozen=True)
class AtRisk:
    """When a running target turns at risk: once ``percent`` of its office time is used, or
    ``before`` (office time) ahead of the deadline. Exactly one of the two is set."""

    percent: int | None = 80
    before: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.before is None):
            raise ValueError("give a percentage (80%) or a duration before the deadline (30m), not both")
        if self.percent is not None and not 1 <= self.percent <= 100:
            raise ValueError(f"a percentage from 1% to 100%, got {self.percent}%")
        if self.before is not None and not _ZERO <= self.before <= MAX_TARGET:
            raise ValueError(f"a duration from 0s to {_hours(MAX_TARGET)} before the deadline")

    def budget(self, target: timedelta) -> timedelta:
        """The office time used when a target of `target` turns at risk (0: from the start)."""
        if self.percent is not None:
            return target * self.percent // 100
        assert self.before is not None
        return max(target - self.before, _ZERO)

    def __str__(self) -> str:
        return f"{self.percent}%" if self.percent is not None else f"{_hours(self.before or _ZERO)} before"


def parse_at_risk(value: object) -> AtRisk:
    """``"80%"`` (a percentage of the target used) or a timedelta (office time before the deadline);
    the config turns ``30m`` into a timedelta first."""
    if isinstance(value, AtRisk):
        return value
    if isinstance(value, str):
        m = _PERCENT.match(value)
        if not m:
            raise ValueError(f"expected a percentage such as 80% or a duration such as 30m, got {value[:40]!r}")
        return AtRisk(percent=int(m.group(1)))
    if isinstance(value, timedelta):
        return AtRisk(percent=None, before=value)
    raise ValueError("expected a percentage such as 80% or a duration such as 30m")


def check_target(value: timedelta, what: str = "") -> timedelta:
    """A target as configured: longer than 0s, at most MAX_TARGET (`what` prefixes the error)."""
    prefix = f"{what}: " if what else ""
    if value <= _ZERO:
        raise ValueError(f"{prefix}must be longer than 0s")
    if value > MAX_TARGET:
        raise ValueError(f"{prefix}at most {_hours(MAX_TARGET)} of office time")
    return value


@dataclass(frozen=True)
class RequestTargets:
    """A customer's targets: office time per target and priority, and the at-risk rule."""

    first_response: Mapping[Priority, timedelta] = field(default_factory=lambda: dict(DEFAULT_FIRST_RESPONSE))
    resolution: Mapping[Priority, timedelta] = field(default_factory=lambda: dict(DEFAULT_RESOLUTION))
    at_risk: AtRisk = AtRisk()

    def __post_init__(self) -> None:
        for kind in TargetKind:
            table = getattr(self, kind.value)
            missing = [p.value for p in Priority if p not in table]
            unknown = [str(p) for p in table if p not in set(Priority)]
            if missing or unknown:
                raise ValueError(
                    f"{kind.value}: priorities are low, normal, high, urgent (missing {missing}, unknown {unknown})"
                )
            for p, v in table.items():
                check_target(v, f"{kind.value}.{Priority(p).value}")
            object.__setattr__(self, kind.value, {Priority(p): v for p, v in table.items()})

    def target(self, kind: TargetKind | str, priority: Priority | str) -> timedelta:
        table: Mapping[Priority, timedelta] = getattr(self, TargetKind(kind).value)
        return table[Priority(priority)]


# --------------------------------------------------------------------------- pauses


@dataclass(frozen=True)
class Pause:
    """A span [start, end) in which a target's clock stands still; end None: still paused."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, "pause start"))
        if self.end is not None:
            object.__setattr__(self, "end", to_utc(self.end, "pause end"))
            if self.end < self.start:
                raise ValueError(f"pause ends {self.end.isoformat()} before it starts {self.start.isoformat()}")


def _merged(pauses: Iterable[Pause]) -> list[tuple[datetime, datetime | None]]:
    """Pauses sorted and merged; an open one swallows everything after its start."""
    out: list[tuple[datetime, datetime | None]] = []
    for p in sorted(pauses, key=lambda p: p.start):
        if p.end is not None and p.end == p.start:
            continue
        if out and (out[-1][1] is None or p.start <= out[-1][1]):
            last_start, last_end = out[-1]
            if last_end is None:
                continue
            out[-1] = (last_start, None if p.end is None else max(last_end, p.end))
        else:
            out.append((p.start, p.end))
    return out


def _running(
    lo: datetime, hi: datetime, pauses: list[tuple[datetime, datetime | None]]
) -> list[tuple[datetime, datetime]]:
    """[lo, hi) minus the pauses."""
    out: list[tuple[datetime, datetime]] = []
    cursor = lo
    for ps, pe in pauses:
        if pe is not None and pe <= cursor:
            continue
        if ps >= hi:
            break
        if ps > cursor:
            out.append((cursor, ps))
        if pe is None:
            return out
        cursor = max(cursor, pe)
        if cursor >= hi:
            return out
    if cursor < hi:
        out.append((cursor, hi))
    return out


def _office_running(
    calendar: Calendar, lo: datetime, hi: datetime, pauses: list[tuple[datetime, datetime | None]]
) -> list[tuple[datetime, datetime]]:
    """The instants of [lo, hi) in office time and outside every pause, as ordered intervals."""
    out: list[tuple[datetime, datetime]] = []
    for ws, we in calendar.windows(lo, hi, _OFFICE):
        out.extend(_running(ws, we, pauses))
    return out


# --------------------------------------------------------------------------- the clock


def elapsed(calendar: Calendar, start: datetime, now: datetime, pauses: Iterable[Pause] = ()) -> timedelta:
    """The office time a target's clock has run from `start` to `now`, pauses left out (0 before start)."""
    s, n = to_utc(start, "start"), to_utc(now, "now")
    if n <= s:
        return _ZERO
    return sum((e - b for b, e in _office_running(calendar, s, n, _merged(pauses))), _ZERO)


def instant_at(calendar: Calendar, start: datetime, budget: timedelta, pauses: Iterable[Pause] = ()) -> datetime | None:
    """The first instant at which the clock started at `start` has run `budget` of office time,
    given the pauses known so far. None when it never gets there: an open pause stops it first, or
    the calendar has no office time within about 400 days (or before the year 2200)."""
    s = to_utc(start, "start")
    if budget < _ZERO:
        raise ValueError(f"budget must not be negative, got {budget}")
    merged = _merged(pauses)
    open_from = next((ps for ps, pe in merged if pe is None), None)
    left = budget
    cursor = seen = s
    while cursor < LATEST and cursor - seen <= _HORIZON:
        hi = min(cursor + _CHUNK, LATEST)
        for b, e in _office_running(calendar, cursor, hi, merged):
            if e - b >= left:
                return b + left
            left -= e - b
            seen = e
        if open_from is not None and open_from <= hi:
            return None
        cursor = hi
    return None


def deadline(calendar: Calendar, start: datetime, target: timedelta, pauses: Iterable[Pause] = ()) -> datetime | None:
    """The instant a target of `target` office time, started at `start`, runs out given the pauses
    known so far; None while an open pause stops the clock before it runs out."""
    check_target(target)
    return instant_at(calendar, start, target, pauses)


@dataclass(frozen=True)
class Status:
    """One target at `now`. ``deadline`` and ``at_risk_at``: None while the clock is stopped before
    reaching them. ``elapsed``: office time used up to the answer (or `now`); ``remaining``: the
    target minus that (negative: that much office time over)."""

    kind: TargetKind
    target: timedelta
    start: datetime
    outcome: Outcome
    elapsed: timedelta
    remaining: timedelta
    deadline: datetime | None
    at_risk_at: datetime | None
    answered_at: datetime | None
    paused: bool
    reached: tuple[Reached, ...]


def judge(
    calendar: Calendar,
    kind: TargetKind | str,
    target: timedelta,
    start: datetime,
    now: datetime,
    *,
    pauses: Iterable[Pause] = (),
    answered_at: datetime | None = None,
    at_risk: AtRisk | None = None,
) -> Status:
    """The outcome of one target at `now`. `pauses` and `answered_at` are what is known at `now`
    (later ones are left out); `clocks_of` derives both from a ticket's history. `at_risk`: the
    rule (default 80 % used)."""
    check_target(target)
    rule = at_risk if at_risk is not None else AtRisk()
    s, n = to_utc(start, "start"), to_utc(now, "now")
    answered = to_utc(answered_at, "answered_at") if answered_at is not None else None
    if answered is not None and answered > n:
        answered = None
    # What is known: pauses up to `now`; once answered, up to the answer (a pause from the answer
    # on, such as the stop at the resolve itself, no longer moves the deadline it was judged by).
    cut = answered if answered is not None else n
    known = [p for p in pauses if p.start < cut or (answered is None and p.start == n)]
    known = [Pause(p.start, None if p.end is None or p.end > cut else p.end) for p in known]
    due = instant_at(calendar, s, target, known)
    risk = instant_at(calendar, s, rule.budget(target), known)
    until = answered if answered is not None else n
    used = elapsed(calendar, s, until, known)
    merged = _merged(known)
    paused = any(ps <= n and (pe is None or n < pe) for ps, pe in merged)
    if answered is not None:
        outcome = Outcome.MET if due is None or answered <= due else Outcome.BREACHED
    elif due is not None and n > due:
        outcome = Outcome.BREACHED
    elif risk is not None and n >= risk:
        outcome = Outcome.AT_RISK
    else:
        outcome = Outcome.RUNNING
    reached: list[Reached] = []
    if risk is not None and risk <= until:
        reached.append(Reached.AT_RISK)
    if outcome is Outcome.BREACHED:
        reached.append(Reached.BREACHED)
    return Status(
        kind=TargetKind(kind),
        target=target,
        start=s,
        outcome=outcome,
        elapsed=used,
        remaining=target - used,
        deadline=due,
        at_risk_at=risk,
        answered_at=answered,
        paused=paused,
        reached=tuple(reached),
    )


# --------------------------------------------------------------------------- from a ticket's history


class EventKind(StrEnum):
    STAFF_REPLY = "staff_reply"  # a public reply by staff (the desk, an engineer)
    CUSTOMER_REPLY = "customer_reply"  # a reply from the customer (mail, phone, portal)
    NOTE = "note"  # an internal note: never answers anything
    STATUS = "status"  # the ticket moved to `status`


WAITING = "waiting_on_customer"
DONE = frozenset({"resolved", "closed"})
STATUSES = frozenset({"new", "open", WAITING, *DONE})


@dataclass(frozen=True)
class TicketEvent:
    """What the targets need of a ticket's timeline: when, what, and for STATUS the new status
    (new, open, waiting_on_customer, resolved, closed). A customer's reply that reopens a ticket is
    two events: the reply and the status it moved the ticket to."""

    at: datetime
    kind: EventKind
    status: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", to_utc(self.at, "event time"))
        object.__setattr__(self, "kind", EventKind(self.kind))
        if (self.kind is EventKind.STATUS) != (self.status is not None):
            raise ValueError("a status event, and only a status event, names its status")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown ticket status {self.status[:40]!r} (known: {', '.join(sorted(STATUSES))})")


@dataclass(frozen=True)
class Clock:
    """One target's clock as a ticket's history makes it: its pauses and its answer."""

    kind: TargetKind
    pauses: tuple[Pause, ...]
    answered_at: datetime | None


def clocks_of(created_at: datetime, events: Sequence[TicketEvent], now: datetime) -> dict[TargetKind, Clock]:
    """The first-response and resolution clocks of a ticket created at `created_at`, from its
    timeline up to `now` (events after `now` are not known yet; events at one instant keep their
    order). The one place that decides what answers a target and what pauses it (module docstring)."""
    n = to_utc(now, "now")
    history = sorted((e for e in events if e.at <= n), key=lambda e: e.at)
    first_reply: datetime | None = None
    first_done: datetime | None = None
    status = "new"
    done_since: datetime | None = None
    waits: list[Pause] = []
    stops: list[Pause] = []
    wait_since: datetime | None = None
    stop_since: datetime | None = None
    for e in history:
        if e.kind is EventKind.STAFF_REPLY and first_reply is None:
            first_reply = e.at
        if e.kind is not EventKind.STATUS or e.status is None or e.status == status:
            continue
        status = e.status
        if status == WAITING and wait_since is None:
            wait_since = e.at
        elif status != WAITING and wait_since is not None:
            waits.append(Pause(wait_since, e.at))
            wait_since = None
        stopped = status == WAITING or status in DONE
        if stopped and stop_since is None:
            stop_since = e.at
        elif not stopped and stop_since is not None:
            stops.append(Pause(stop_since, e.at))
            stop_since = None
        if status in DONE:
            done_since = done_since or e.at
            first_done = first_done or e.at
        else:
            done_since = None
    if wait_since is not None:
        waits.append(Pause(wait_since))
    if stop_since is not None:
        stops.append(Pause(stop_since))
    answer = first_reply
    if RESOLVE_ANSWERS_FIRST_RESPONSE and first_done is not None and (answer is None or first_done < answer):
        answer = first_done
    return {
        TargetKind.FIRST_RESPONSE: Clock(TargetKind.FIRST_RESPONSE, tuple(waits), answer),
        TargetKind.RESOLUTION: Clock(TargetKind.RESOLUTION, tuple(stops), done_since),
    }


def judge_ticket(
    calendar: Calendar,
    targets: RequestTargets,
    priority: Priority | str,
    created_at: datetime,
    events: Sequence[TicketEvent],
    now: datetime,
) -> dict[TargetKind, Status]:
    """Both targets of a ticket at `now`: clocks_of, then judge."""
    clocks = clocks_of(created_at, events, now)
    return {
        kind: judge(
            calendar,
            kind,
            targets.target(kind, priority),
            created_at,
            now,
            pauses=clock.pauses,
            answered_at=clock.answered_at,
            at_risk=targets.at_risk,
        )
        for kind, clock in clocks.items()
    }


def _hours(d: timedelta) -> str:
    secs = int(d.total_seconds())
    if secs % 3600 == 0:
        return f"{secs // 3600}h"
    if secs % 60 == 0:
        return f"{secs // 60}m"
    return f"{secs}s"


__all__ = [
    "DEFAULT_FIRST_RESPONSE",
    "DEFAULT_RESOLUTION",
    "MAX_TARGET",
    "RESOLVE_ANSWERS_FIRST_RESPONSE",
    "AtRisk",
    "Clock",
    "EventKind",
    "Outcome",
    "Pause",
    "Priority",
    "Reached",
    "RequestTargets",
    "Status",
    "TargetKind",
    "TicketEvent",
    "check_target",
    "clocks_of",
    "deadline",
    "elapsed",
    "instant_at",
    "judge",
    "judge_ticket",
    "parse_at_risk",
]
