"""Tickets of the support desk: requests and incidents in one numbered series (pure).

A ticket's number is shown as `#1234`; an incident is a ticket of kind `incident` whose number is the
incident's id. What a status may move to is the table `MOVES`, the one place that says it: the API, the
CLI, the store and the engine's closing stage all ask `check_move`, `after_customer_reply` and `closes_at`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class Kind(StrEnum):
    REQUEST = "request"
    INCIDENT = "incident"


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TimeKind(StrEnum):
    """What a time entry is: covered by the contract or project, billable at the customer's rate, or a
    call-out (already billed by the statement's standby lines)."""

    COVERED = "covered"
    BILLABLE = "billable"
    CALLOUT = "callout"


class Via(StrEnum):
    """How a ticket came in."""

    PHONE = "phone"
    EMAIL = "email"
    API = "api"
    ALERT = "alert"


# The moves the desk may make (a move to the same status changes nothing and is always allowed).
MOVES: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.WAITING_ON_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.WAITING_ON_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.WAITING_ON_CUSTOMER: frozenset({Status.OPEN, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# A reply from the customer (or its requester) moves these back to open; other statuses stay.
REOPENED_BY_CUSTOMER = frozenset({Status.WAITING_ON_CUSTOMER, Status.RESOLVED})

DEFAULT_AUTO_CLOSE = timedelta(days=7)

# Bounds of what a ticket holds (the API and CLI refuse more with a clear message).
MAX_SUBJECT = 200
MAX_BODY = 64 * 1024
MAX_WATCHERS = 50
MAX_MINUTES = 24 * 60
MAX_NOTE = 1000


class MoveRefused(ValueError):
    """A status move the table does not allow; the message names the allowed moves."""

    def __init__(self, number: int, current: Status, target: Status) -> None:
        self.current, self.target = current, target
        self.allowed = sorted(MOVES[current])
        allowed = ", ".join(self.allowed) or "none (a closed ticket stays closed)"
        super().__init__(f"ticket #{number} is {current.value}; cannot move to {target.value} (allowed: {allowed})")


def allowed_moves(current: Status) -> list[str]:
    return sorted(MOVES[current])


def check_move(number: int, current: Status, target: Status) -> None:
    """Raises MoveRefused unless `target` is `current` or an allowed move from it."""
    if target is not current and target not in MOVES[current]:
        raise MoveRefused(number, current, target)


def after_customer_reply(current: Status) -> Status:
    """The status a ticket takes when its customer writes or calls."""
    return Status.OPEN if current in REOPENED_BY_CUSTOMER else current


def mail_reopens(closed_at: datetime, now: datetime, within: timedelta) -> bool:
    """Whether a customer's mail to a closed ticket reopens it (closed at most `within` ago; the one move out
    of `closed`, made by mail only) or opens a new ticket linked to it."""
    return now - closed_at <= within


def closes_at(status: Status, resolved_at: datetime | None, after: timedelta) -> datetime | None:
    """When a resolved ticket closes by itself (None: it does not)."""
    if status is not Status.RESOLVED or resolved_at is None:
        return None
    return resolved_at + after


def ref(number: int) -> str:
    """How a ticket number is shown: #1234."""
    return f"#{number}"


def parse_ref(text: str) -> int | None:
    """A ticket number from `1234` or `#1234`, else None."""
    s = text.strip().removeprefix("#")
    if not s.isascii() or not s.isdigit() or len(s) > 15:
        return None
    n = int(s)
    return n if n > 0 else None
