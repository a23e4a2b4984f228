"""The customer's side of the portal (and its API): a project's tickets and progress, new requests,
standby requests and their quote, bookings. Decisions are pager.domain.standby_request's and
pager.domain.project_progress's; the money is the billing engine's (customer_quote, ticket_hours), never
computed here a second time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pager.config.model import Config
from pager.domain import portal as rules
from pager.domain import project_progress as progress
from pager.domain import standby_request as sr
from pager.domain.billing import Quote, Terms
from pager.domain.portal import Viewer
from pager.domain.projects import project_name
from pager.domain.ticket import Status
from pager.sources.errors import InputError, Problem, check_text
from pager.storage.port import Booking, StandbyRequest, Store, Ticket

from . import portal
from .schedule import Schedule, parse_instant
from .statements import StatementError, customer_quote, month_range, terms_of, ticket_hours

MAX_BOOKING = timedelta(days=400)


def booking_problems(config: Config, customer: str, start: datetime | None, end: datetime | None) -> list[Problem]:
    """What is wrong with a booking of `customer` [start, end) (POST /api/v1/bookings, and a confirmed
    standby request): the one check both make before the store books it."""
    problems = []
    if customer not in config.customers:
        problems.append(Problem("customer", "unknown customer (not under customers)"))
    if start is not None and end is not None:
        if end <= start:
            problems.append(Problem("end", "must be after start"))
        elif end - start > MAX_BOOKING:
            problems.append(Problem("end", "a booking lasts at most 400 days"))
    return problems


# -- projects ------------------------------------------------------------------------------------------


def may_see_project(who: Viewer, customer: str) -> bool:
    """A project page is the desk's, the admin's and its own customer's contacts' (as its requests)."""
    return sr.may_see(who, customer)


@dataclass(frozen=True, slots=True)
class ProjectView:
    customer: str
    project: str
    name: str
    coverage: str
    by_status: dict[str, list[Ticket]]
    weeks: list[progress.Week]
    incidents: list[Ticket]
    month: str
    hours: progress.Hours
    increment_minutes: int


async def project_view(
    store: Store, config: Config, schedule: Schedule, who: Viewer, customer: str, project: str, now: datetime
) -> ProjectView | None:
    """The project's page for `who`, None when it may not see it or it does not exist (a 404 either way)."""
    cust = config.customers.get(customer)
    if cust is None or project not in cust.projects or not may_see_project(who, customer):
        return None
    calendar = schedule.calendar
    key = project_name(customer, project)
    rows = await store.project_tickets(
        key, since=progress.since(now, calendar.zone), requested_by=portal.requested_by(who)
    )
    rows = [t for t in rows if t.customer == customer and rules.may_see_ticket(who, t)]  # checked again
    month = now.astimezone(calendar.zone).strftime("%Y-%m")
    start, end = month_range(month, calendar)
    terms = terms_of(cust) if cust.rate is not None else Terms(rate=0, increment=cust.billing_increment)
    entries = await store.customer_ticket_time(customer, start, end)
    mine = {t.number for t in rows}
    for number in {e.number for e in entries} - mine:  # worked on this month, quiet since: rare, read one by one
        t = await store.get_ticket(number)
        if t is not None and t.project == key and rules.may_see_ticket(who, t):
            mine.add(number)
    return ProjectView(
        customer=customer,
        project=project,
        name=cust.name,
        coverage=cust.projects[project].coverage,
        by_status=progress.by_status(rows, [s.value for s in Status]),
        weeks=progress.weekly(rows, now, calendar.zone),
        incidents=progress.open_incidents(rows),
        month=month,
        hours=progress.hours_used(ticket_hours(entries, terms), mine),
        increment_minutes=int(terms.increment.total_seconds() // 60),
    )


def projects_of(config: Config, who: Viewer) -> list[tuple[str, str]]:
    """(customer, project) pairs `who` may open, in the config's order: a contact its customer's."""
    return [(cid, pid) for cid, cust in config.customers.items() if may_see_project(who, cid) for pid in cust.projects]


# -- standby requests ----------------------------------------------------------------------------------


def period(tz: str, data: dict[str, Any], problems: list[Problem]) -> tuple[datetime, datetime] | None:
    """`start` and `end` of a form or JSON body as instants (wall time in the calendar's zone without an
    offset); None with problems added."""
    times = {}
    for key in ("start", "end"):
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(Problem(key, "required: an ISO 8601 instant"))
            continue
        if not isinstance(value, str) or len(value) > 64:
            problems.append(Problem(key, "expected an ISO 8601 instant"))
            continue
        try:
            times[key] = parse_instant(value, tz)
        except (ValueError, OverflowError):
            problems.append(Problem(key, "expected an ISO 8601 instant (years 1900-2199)"))
    if len(times) < 2:
        return None
    return times["start"], times["end"]


def quote_of(config: Config, schedule: Schedule, customer: str, start: datetime, end: datetime) -> Quote | None:
    """The quote of standby [start, end) for the customer, as `pagerd billing quote` makes it (no
    call-outs); None when the customer has no rate (the desk quotes it)."""
    try:
        return customer_quote(config, schedule.calendar, customer, start, end, [])
    except StatementError:
        return None


def checked_request(
    config: Config, schedule: Schedule, who: Viewer, customer: str, data: dict[str, Any], now: datetime
) -> tuple[datetime, datetime, str | None, Quote | None]:
    """A standby request's period, note and quote, or InputError (404: another customer's, 403: not for
    this role, 422: the problems)."""
    if customer not in config.customers or not sr.may_request(who, customer):
        raise InputError(404, "no such customer", [Problem("customer", "unknown customer")])
    problems: list[Problem] = []
    span = period(schedule.calendar.rules.tz, data, problems)
    note = data.get("note")
    if note is not None:
        if not isinstance(note, str):
            problems.append(Problem("note", "expected text"))
            note = None
        else:
            note = note.replace("\r\n", "\n").strip() or None
            p = check_text(note or "", "note", max_len=sr.MAX_NOTE, multiline=True)
            if p is not None:
                problems.append(p)
    if span is not None:
        why = sr.period_problem(span[0], span[1], now)
        if why is not None:
            problems.append(Problem("end" if "end" in why or "hour" in why or "400" in why else "start", why))
    if problems or span is None:
        raise InputError(422, "invalid standby request", problems)
    return span[0], span[1], note, quote_of(config, schedule, customer, span[0], span[1])


async def request_standby(
    store: Store,
    config: Config,
    schedule: Schedule,
    who: Viewer,
    by: str,
    customer: str,
    data: dict[str, Any],
    now: datetime,
) -> StandbyRequest:
    start, end, note, q = checked_request(config, schedule, who, customer, data, now)
    return await store.add_standby_request(
        customer=customer,
        start=start,
        end=end,
        note=note,
        quote_total=f"{q.total:.2f}" if q is not None else None,
        currency=q.currency if q is not None else None,
        requested_by=by,
        now=now,
    )


async def requests_for(store: Store, who: Viewer, customer: str | None, status: str | None) -> list[StandbyRequest]:
    """The requests `who` may see (a contact: its customer's, whatever `customer` says)."""
    scope = who.customer if not sr.may_decide(who) else customer
    if not sr.may_decide(who) and not who.customer:
        return []
    rows = await store.list_standby_requests(scope, status=status, limit=500)
    return [r for r in rows if sr.may_see(who, r.customer)]


async def bookings_for(store: Store, who: Viewer, customer: str | None) -> list[Booking]:
    scope = who.customer if not sr.may_decide(who) else customer
    if not sr.may_decide(who) and not who.customer:
        return []
    rows = await store.list_bookings(scope)
    return [b for b in rows if sr.may_see(who, b.customer)]


async def decide(
    store: Store,
    config: Config,
    who: Viewer,
    by: str,
    request_id: int,
    action: sr.Action,
    reason: str | None,
    now: datetime,
) -> tuple[StandbyRequest, Booking | None]:
    """Confirm, decline or withdraw a request as `who` (pager.domain.standby_request.move decides; Refused
    otherwise). Confirming books it: the booking's checks are those of POST /api/v1/bookings."""
    found = await store.get_standby_request(request_id)
    if found is None:
        raise sr.Refused(404, "no such standby request")
    sr.move(who, found.customer, sr.RequestState(found.status), action)
    if action is sr.Action.CONFIRM:
        problems = booking_problems(config, found.customer, found.start, found.end)
        if problems:
            raise InputError(422, "invalid booking", problems)
        return await store.confirm_standby_request(request_id, by=by, now=now)
    status = sr.OUTCOME[action].value
    return await store.decide_standby_request(request_id, status=status, by=by, reason=reason, now=now), None
