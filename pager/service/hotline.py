"""The standby number's shell (README: The standby number): load what a call is decided on (the config's
contacts and customers, the customers' bookings, the rotations), ask pager.domain.hotline.decide_call,
and turn a decision into the store's writes: the phone ticket, and for a standby call its incident
routed and paged at the call, so that the response target starts when the customer called.

The TwiML the caller hears is pager.web.hotline's; this module answers who is dialled at each step."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pager.config import Config
from pager.domain import hotline as dh
from pager.domain import paging as dp
from pager.domain import response
from pager.domain.projects import project_name, split_project
from pager.service import desk
from pager.service.paging import page_messages, plan_of, rotation_name, step_people
from pager.service.schedule import Schedule, overrides_from
from pager.storage.port import Booking, HotlineCall, HotlineIncident, Requester, Store, json_instant

SEVERITY = "critical"  # a customer who calls the standby number cannot wait
ACTOR = "hotline"


def customers(cfg: Config, bookings: list[Booking]) -> dict[str, dh.HotlineCustomer]:
    """Each customer with its standby project's coverage (customers.<id>.standby_project, else its first
    project with coverage standby or always), its dated bookings laid on it as the engine does."""
    plan = plan_of(cfg)
    booked: dict[str, list[tuple[datetime, datetime]]] = {}
    for b in bookings:
        booked.setdefault(b.customer, []).append((b.start, b.end))
    out: dict[str, dh.HotlineCustomer] = {}
    for cid, cust in cfg.customers.items():
        name = dh.standby_project({p: proj.coverage for p, proj in cust.projects.items()}, cust.standby_project)
        if name is None:
            continue
        cov = plan.coverage_of(project_name(cid, name))
        if booked.get(cid):
            cov = replace(cov, bookings=tuple(booked[cid]))
        out[cid] = dh.HotlineCustomer(cid, cov)
    return out


async def decide(store: Store, cfg: Config, schedule: Schedule, caller: str, now: datetime) -> dh.CallDecision:
    """What a call from `caller` at `now` does."""
    contacts = desk.all_contacts(cfg, await store.list_contacts())
    bookings = await store.list_bookings(ending_after=now)
    return dh.decide_call(
        caller,
        now,
        schedule.calendar,
        contacts,
        customers(cfg, bookings),
        desk_phone=cfg.desk.phone,
        region=cfg.calendar.holiday_country,
    )


def _requester(d: dh.CallDecision) -> Requester:
    c = d.contact
    if c is None:
        return Requester(phone=d.caller)
    return Requester(contact=c.id, name=c.name, email=c.emails[0] if c.emails else None, phone=c.phone or d.caller)


def ticket_fields(d: dh.CallDecision) -> dict[str, Any]:
    """The phone ticket of a call (create_ticket's fields)."""
    who = d.contact.name if d.contact is not None else (d.caller or "a withheld number")
    kind = "Standby call" if d.action is dh.CallAction.STANDBY else "Voicemail"
    return {
        "subject": f"{kind} from {who}"[:200],
        "body": f"Call to the standby number: {d.reason}.",
        "via": "phone",
        "customer": d.customer if d.project is not None else None,
        "project": d.project,
        "requester": _requester(d),
        "priority": "urgent" if d.action is dh.CallAction.STANDBY else "normal",
        "assignee": None,
        "watchers": (),
        "attachments": (),
        "actor": ACTOR,
    }


@dataclass(frozen=True)
class Dial:
    """Whom step `step` of a standby call rings: people ids and their phones (E.164), in order."""

    step: int
    people: tuple[str, ...]
    phones: tuple[str, ...]


def policy_of(cfg: Config, project: str) -> dp.Policy:
    return plan_of(cfg).policy(project)


async def dial_from(
    store: Store, cfg: Config, schedule: Schedule, project: str, step: int, now: datetime
) -> Dial | None:
    """The first step from `step` on (one pass through the project's escalation policy) with someone to
    ring by phone, or None: nobody is left, the caller leaves a message."""
    policy = policy_of(cfg, project)
    overrides = overrides_from(await store.list_overrides())
    rotation = rotation_name(cfg, dp.STANDBY_ROTATION)
    for k in range(max(step, 0), len(policy.steps)):
        people, _ = step_people(cfg, schedule, overrides, policy.steps[k], rotation, now)
        rung = tuple(p for p in people if cfg.people[p].phone)
        if rung:
            return Dial(k, rung, tuple(cfg.people[p].phone or "" for p in rung))
    return None


async def standby_incident(
    store: Store, cfg: Config, schedule: Schedule, d: dh.CallDecision, number: int, now: datetime
) -> HotlineIncident:
    """The incident of a standby call as the engine would route it and fire its first step, at the call:
    the standby rotation, the project's policy and response target, the first step's pages."""
    assert d.project is not None and d.coverage is not None
    plan = plan_of(cfg)
    policy = plan.policy(d.project)
    target = plan.targets.get(d.project) or response.ResponseTarget(escalate_at=cfg.paging.escalate_at)
    rotation = rotation_name(cfg, dp.STANDBY_ROTATION)
    overrides = overrides_from(await store.list_overrides())
    people, notes = step_people(cfg, schedule, overrides, policy.steps[0], rotation, now)
    next_at, early = dp.next_fire(policy, now, 0, target.target, cfg.paging.escalate_at)
    booking = None
    if d.coverage.booking is not None and d.customer is not None:
        booking = next(
            (
                {"id": b.id, "start": json_instant(b.start), "end": json_instant(b.end)}
                for b in await store.list_bookings(d.customer, ending_after=now)
                if (b.start, b.end) == d.coverage.booking
            ),
            None,
        )
    customer, project = split_project(d.project)
    return HotlineIncident(
        labels={"customer": customer, "project": project, "ticket": str(number), "via": "hotline"},
        severity=SEVERITY,
        rotation=rotation,
        policy=policy.to_json(),
        target_seconds=int(target.target.total_seconds()),
        reason=f"{d.coverage.reason} (standby call)",
        deadline=now + target.target,
        escalate_at=now + cfg.paging.escalate_at if cfg.paging.escalate_at is not None else None,
        next_at=next_at,
        early=early,
        people=tuple(people),
        notes=tuple(notes),
        messages=page_messages(cfg, number, 0, 0, people, now),
        booking=booking,
    )


async def open_ticket(
    store: Store, cfg: Config, schedule: Schedule, call_sid: str, d: dh.CallDecision, now: datetime
) -> HotlineCall:
    """The call's phone ticket; for a standby call with its incident paged at the call."""
    incident = None
    if d.action is dh.CallAction.STANDBY:
        # made for number 0: the store keys it by the number the ticket takes in its transaction
        incident = await standby_incident(store, cfg, schedule, d, 0, now)
    return await store.open_hotline_ticket(call_sid, ticket=ticket_fields(d), incident=incident, now=now)
