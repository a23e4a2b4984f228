"""A customer's standby request (pure): a period a customer's contact asks standby for, after seeing its
quote; the desk confirms it (it becomes a booking) or declines it; the customer may withdraw it while it
is pending. Who may do what, and which period may be asked for, is decided here only.

    pending --confirm (admin, desk)--> confirmed
    pending --decline (admin, desk)--> declined
    pending --withdraw (its customer's contact, admin, desk)--> withdrawn

A decided request stays as it is: a second decision is refused (a conflict), never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .portal import Role, Viewer

MAX_PERIOD = timedelta(days=400)  # as a booking (POST /api/v1/bookings)
MIN_PERIOD = timedelta(hours=1)
MAX_AHEAD = timedelta(days=731)  # a request starts within two years
MAX_NOTE = 2000
MAX_REASON = 2000


class RequestState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"
    WITHDRAW = "withdraw"


OUTCOME = {Action.CONFIRM: RequestState.CONFIRMED, Action.DECLINE: RequestState.DECLINED,
           Action.WITHDRAW: RequestState.WITHDRAWN}  # fmt: skip
DESK_ROLES = frozenset({Role.ADMIN, Role.DESK})


class Refused(Exception):
    """A move that is not allowed: `status` 403 (not this viewer's to make), 404 (another customer's
    request: as if it did not exist) or 409 (the request is decided already)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def may_see(viewer: Viewer, customer: str) -> bool:
    """Admin and desk see every request; a customer's contact those of its own customer; an engineer none."""
    if viewer.role in DESK_ROLES:
        return True
    return viewer.role is Role.CUSTOMER and viewer.customer is not None and viewer.customer == customer


def may_open_customer_pages(viewer: Viewer) -> bool:
    """Projects, bookings, standby requests and statements are the customer's, the desk's and the admin's
    pages; an engineer has none of them (403)."""
    return viewer.role is not Role.ENGINEER


def may_request(viewer: Viewer, customer: str) -> bool:
    """A customer's contact for its own customer; admin and desk on a customer's behalf."""
    return may_see(viewer, customer)


def may_decide(viewer: Viewer) -> bool:
    """Confirming and declining is the desk's (and the admin's)."""
    return viewer.role in DESK_ROLES


def move(viewer: Viewer, customer: str, state: RequestState, action: Action) -> RequestState:
    """The state after `viewer` makes `action` on a request of `customer` in `state`; Refused otherwise."""
    if not may_see(viewer, customer):
        raise Refused(404, "no such standby request")
    if action is not Action.WITHDRAW and not may_decide(viewer):
        raise Refused(403, "only the desk confirms or declines a standby request")
    if state is not RequestState.PENDING:
        raise Refused(409, f"the standby request is {state.value} already")
    return OUTCOME[action]


def period_problem(start: datetime, end: datetime, now: datetime) -> str | None:
    """Why a requested period is refused (None: it may be asked for): it ends after it starts, lasts at
    least MIN_PERIOD and at most MAX_PERIOD, starts now or later, and within MAX_AHEAD."""
    if end <= start:
        return "the period must end after it starts"
    if end - start < MIN_PERIOD:
        return "a standby request covers at least an hour"
    if end - start > MAX_PERIOD:
        return "a standby request covers at most 400 days"
    if start < now:
        return "the period must not start in the past"
    if start - now > MAX_AHEAD:
        return "the period must start within two years"
    return None


@dataclass(frozen=True, slots=True)
class Choices:
    """What a viewer may do with one request, for a page's buttons."""

    confirm: bool
    decline: bool
    withdraw: bool


def choices(viewer: Viewer, customer: str, state: RequestState) -> Choices:
    def ok(action: Action) -> bool:
        try:
            move(viewer, customer, state, action)
        except Refused:
            return False
        return True

    return Choices(ok(Action.CONFIRM), ok(Action.DECLINE), ok(Action.WITHDRAW))
