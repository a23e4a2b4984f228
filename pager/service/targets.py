"""Request targets of live tickets: a ticket's stored timeline as the domain's events, its targets
judged (pager.domain.request_targets decides; this module only reads the ticket and the config), and
the engine's `targets` work: `target_at_risk` and `target_breached` written once each per ticket and
target, and the breach metric.

Only requests have these targets; an incident keeps its response target (pager.domain.response).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from pager.config.domain import request_targets_for
from pager.config.model import Config
from pager.domain import portal_desk
from pager.domain.calendar import Calendar
from pager.domain.request_targets import EventKind, Outcome, Reached, Status, TargetKind, TicketEvent, judge_ticket
from pager.domain.ticket import Kind
from pager.observe.metrics import Metrics
from pager.storage.port import TargetFact, Ticket, TicketDetail, TicketEntry, TicketStore, json_instant

log = structlog.get_logger("pagerd.engine")

# The timeline entry kinds the engine writes (internal) when a target turns at risk or breaches.
FACT_ENTRY = {Reached.AT_RISK: "target_at_risk", Reached.BREACHED: "target_breached"}


def ticket_events(timeline: Sequence[TicketEntry]) -> list[TicketEvent]:
    """The events of a ticket's stored timeline that the targets need, in order. A reply is a staff
    reply or a customer reply (`from_customer`); a note is a note; a status entry is the move to its
    `to`. A customer's reply that reopens the ticket is stored as the reply and then the status entry,
    so it becomes the two events. Everything else (time, assignment, the engine's own target entries,
    an incident's events) does not touch the targets."""
    out: list[TicketEvent] = []
    for e in timeline:
        data: Mapping[str, Any] = e.data if isinstance(e.data, Mapping) else {}
        if e.kind == "reply":
            out.append(
                TicketEvent(e.at, EventKind.CUSTOMER_REPLY if data.get("from_customer") else EventKind.STAFF_REPLY)
            )
        elif e.kind == "note":
            out.append(TicketEvent(e.at, EventKind.NOTE))
        elif e.kind == "status" and isinstance(data.get("to"), str):
            out.append(TicketEvent(e.at, EventKind.STATUS, status=data["to"]))
    return out


def ticket_targets(cfg: Config, calendar: Calendar, t: TicketDetail, now: datetime) -> dict[TargetKind, Status] | None:
    """Both targets of a request at `now`; None for an incident (its response target is its own)."""
    return targets_of(cfg, calendar, t, t.timeline, now)


def targets_of(
    cfg: Config, calendar: Calendar, t: Ticket, timeline: Sequence[TicketEntry], now: datetime
) -> dict[TargetKind, Status] | None:
    """ticket_targets of a listed ticket and its timeline, or the part of it the targets are judged from
    (TicketStore.ticket_target_entries): the entries of other kinds change nothing (ticket_events)."""
    if t.kind != Kind.REQUEST.value:
        return None
    return judge_ticket(
        calendar,
        request_targets_for(cfg, t.customer),
        t.priority,
        t.created_at,
        ticket_events(timeline),
        now,
    )


# The newest tickets (after the other filters) a risk filter looks through: a request's risk needs its
# timeline, so it is judged here, ticket by ticket, not in the store's query.
RISK_SCAN = 500


def ticket_risk(cfg: Config, calendar: Calendar, t: TicketDetail, now: datetime) -> str:
    """A ticket's request-target risk at `now` (pager.domain.portal_desk.risk: the worst of its targets'
    outcomes; `none` for an incident)."""
    return risk_of(cfg, calendar, t, t.timeline, now)


def risk_of(cfg: Config, calendar: Calendar, t: Ticket, timeline: Sequence[TicketEntry], now: datetime) -> str:
    """ticket_risk of a listed ticket and its timeline, or the part of it the targets need (targets_of)."""
    return portal_desk.risk(s.outcome for s in (targets_of(cfg, calendar, t, timeline, now) or {}).values())


async def with_risk(
    store: TicketStore,
    cfg: Config,
    calendar: Calendar,
    rows: Iterable[Ticket],
    now: datetime,
    *,
    risk: str | None,
    limit: int,
    known: KnownOutcomes | None = None,
) -> list[tuple[Ticket, str]]:
    """The listed tickets, in their order, each with its risk; only those the filter `risk` holds
    (pager.domain.portal_desk.risk_held; None: all); at most `limit`. The desk's queue and
    GET /api/v1/tickets?risk= both filter here. The entries the targets are judged from are read `limit`
    tickets at a time (TicketStore.ticket_target_entries, one read each); `known` keeps each outcome until
    time alone may change it, between calls."""
    listed = list(rows)
    out: list[tuple[Ticket, str]] = []
    step = max(1, limit)
    for k in range(0, len(listed), step):
        if len(out) >= limit:
            break
        chunk = listed[k : k + step]
        entries = await store.ticket_target_entries([t.number for t in chunk if t.kind == Kind.REQUEST.value])
        for t in chunk:
            if len(out) >= limit:
                break
            timeline = entries.get(t.number, ())
            if known is None:
                r = risk_of(cfg, calendar, t, timeline, now)
            else:
                r = portal_desk.risk(known.outcomes(cfg, calendar, t, timeline, now))
            if portal_desk.risk_held(risk, r):
                out.append((t, r))
    return out


def next_instant(statuses: dict[TargetKind, Status]) -> datetime | None:
    """The next instant at which a fact may become true (an at-risk instant or a deadline not yet
    passed, of a target not yet answered); None: nothing pending until the ticket moves."""
    pending: list[datetime] = []
    for s in statuses.values():
        if s.answered_at is not None or s.outcome is Outcome.BREACHED:
            continue
        if Reached.AT_RISK not in s.reached and s.at_risk_at is not None:
            pending.append(s.at_risk_at)
        elif s.deadline is not None:
            pending.append(s.deadline)
    return min(pending) if pending else None


def _seconds(d: Any) -> int:
    return int(d.total_seconds())


class KnownOutcomes:
    """The outcomes of requests' targets, each kept until the instant at which time alone may change it
    (next_instant: an at-risk instant or a deadline; None, forever: every target answered, breached or
    stopped by a pause), by all it is judged from: the ticket's customer, priority, creation and target
    events, and the config and calendar (a new config, after a reload, empties it). A ticket judged again
    with the same inputs before that instant gets the same outcomes without the calendar walk; a ticket
    that moved has other inputs. At most `size` tickets, least recently used out."""

    def __init__(self, size: int = 5000) -> None:
        self._size = size
        # key -> (outcomes, judged at, valid until: None for ever)
        self._memo: OrderedDict[tuple[Any, ...], tuple[tuple[Outcome, ...], datetime, datetime | None]] = OrderedDict()
        self._judged_with: tuple[Config, Calendar] | None = None

    def outcomes(
        self, cfg: Config, calendar: Calendar, t: Ticket, timeline: Sequence[TicketEntry], now: datetime
    ) -> tuple[Outcome, ...]:
        """The outcome of each of the ticket's targets at `now` (none for an incident), judged from its
        timeline or the part of it the targets need (targets_of)."""
        if self._judged_with is None or self._judged_with[0] is not cfg or self._judged_with[1] is not calendar:
            self._memo.clear()
            self._judged_with = (cfg, calendar)
        if t.kind != Kind.REQUEST.value:
            return ()
        key = (t.number, t.customer, t.priority, t.created_at, tuple(ticket_events(timeline)))
        known = self._memo.get(key)
        if known is not None:
            outcomes, judged_at, until = known
            if judged_at <= now and (until is None or now < until):
                self._memo.move_to_end(key)
                return outcomes
        statuses = targets_of(cfg, calendar, t, timeline, now) or {}
        outcomes = tuple(s.outcome for s in statuses.values())
        self._memo[key] = (outcomes, now, next_instant(statuses))
        self._memo.move_to_end(key)
        if len(self._memo) > self._size:
            self._memo.popitem(last=False)
        return outcomes


def targets_json(statuses: dict[TargetKind, Status] | None) -> dict[str, Any] | None:
    """`targets` of the single ticket view: per target its outcome, deadline (ISO, UTC; null while
    paused before it), the office time used and left (seconds; left is negative when over), paused."""
    if statuses is None:
        return None
    out: dict[str, Any] = {}
    for kind, s in statuses.items():
        out[kind.value] = {
            "outcome": s.outcome.value,
            "deadline": json_instant(s.deadline),
            "at_risk_at": json_instant(s.at_risk_at),
            "target_seconds": _seconds(s.target),
            "used_seconds": _seconds(s.elapsed),
            "left_seconds": _seconds(s.remaining),
            "paused": s.paused,
            "answered_at": json_instant(s.answered_at),
        }
    return out


# The most requests the stage judges per tick (the rest, due as well, come on the next ticks).
PER_TICK = 200


async def record_due(store: TicketStore, metrics: Metrics, cfg: Config, calendar: Calendar, now: datetime) -> int:
    """The engine's `targets` stage: judges the live requests that are due (store.due_target_tickets:
    changed since last judged, or an at-risk instant or deadline has come), writes the facts reached
    (once each: the store keeps them) and counts the new ones. Answers how many were judged."""
    numbers = await store.due_target_tickets(now, PER_TICK)
    for n in numbers:
        t = await store.get_ticket(n)
        if t is None:
            continue
        statuses = ticket_targets(cfg, calendar, t, now)
        if statuses is None:
            continue
        facts = [
            TargetFact(
                target=kind.value,
                fact=fact.value,
                due=(s.at_risk_at if fact is Reached.AT_RISK else s.deadline) or now,
            )
            for kind, s in statuses.items()
            for fact in s.reached
        ]
        written = await store.record_target_facts(n, facts, next_at=next_instant(statuses), now=now)
        customer = t.customer or "none"
        for f in written:
            counter = metrics.request_breaches if f.fact == Reached.BREACHED.value else metrics.request_at_risk
            counter.labels(f.target, customer).inc()
        if written:
            log.info("request_target", number=n, facts=[f"{f.target}:{f.fact}" for f in written])
    return len(numbers)
