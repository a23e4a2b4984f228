"""Monthly statements (what a customer is invoiced) and the engineers' standby report.

Reads the store (bookings, escalations, incidents, worked time) and applies the pure billing
engine (pager.domain.billing). The choices made here, besides those of the engine:

- The month is the calendar month in the calendar's time zone: [1st 00:00, next 1st 00:00).
- Overlapping or touching bookings of one customer are one booked range (never billed twice).
  Cancelled bookings are not billed (whenever they were cancelled).
- Recurring standby: a project with ``coverage: standby`` and a ``standby`` list (e.g.
  ``[evening_night, weekend, holiday]``) bought standby for every such period. Those periods
  (calendar stretches around the month, so a block across the 1st keeps its true extent) are laid
  over the dated bookings as one set of ranges before blocks are cut: no hour is billed twice and
  a block covered by several projects, or by a project and a booking, is one block with one
  minimum. Other coverage modes never bill recurring standby.
- A standby block belongs to the month in which it *starts*: a night that runs from 31 January
  into 1 February is one block with one minimum on the January statement, not two halves that
  each pay a minimum.
- A call-out is an incident of one of the customer's projects (escalation project
  ``"<customer>/..."``) that was paged (its first page) inside a standby block and that an
  engineer answered: inside a dated booking for any of the customer's projects, inside recurring
  standby only for a project that has that period as recurring standby (so an office-hours
  project's alert at night is not a call-out because another project has nights). Answered: one
  of its rounds in the month acknowledged, or work logged on it (a resolve alone is not: alerts
  that clear by themselves are resolved by the monitoring source). Its call-out starts at the page.
  Worked time: the sum of the time logged on the incident; none logged: acknowledgement to
  resolve (the proposal an engineer can correct by logging time); neither: the 1-h minimum.
  Close call-outs are merged or not per the customer's ``callout_overlap`` (engine choice 3).
- Out-of-contract work: time logged on the customer's incidents that were not call-outs (paged
  outside every booking and recurring standby of their project, or in office time), at the standard rate, rounded up to
  the billing increment, no minimum. Without logged time such an incident bills nothing.
- Ticket hours: the time entries on the customer's tickets (requests and incidents; a ticket in triage
  belongs to no customer) made in the month. Per ticket its ``billable`` minutes are summed, rounded up
  to the billing increment (the engine's round_up, as worked time) and charged at the rate, no minimum;
  its ``covered`` minutes (the contract or project covers them) are listed for information only;
  ``callout`` entries are left out: the call-out section bills that work.
- The response record: every paged round of every call-out incident (its opening and each reopen
  in the month, each judged on its own by pager.domain.response): paged at, answered at, by whom
  and how, the minutes in between, and the outcome against the round's response target. Rounds
  never paged are left out. Met and breached are counted per round.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pager.config.model import Config, CustomerConfig
from pager.domain import response
from pager.domain.billing import (
    DEFAULT_TARIFFS,
    Block,
    Covered,
    Quote,
    Tariff,
    Terms,
    decimal_str,
    hours_of,
    hours_str,
    iso_utc,
    money,
    quote,
    round_up,
    standby_blocks,
)
from pager.domain.calendar import Calendar, Period
from pager.domain.projects import project_name
from pager.storage.port import CustomerIncident, CustomerTicketTime

from .schedule import Schedule, overrides_from, parse_utc

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_ZERO = Decimal(0)


class StatementError(ValueError):
    """A statement cannot be made (unknown customer, no rate, bad month)."""


def month_range(month: str, calendar: Calendar) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a "YYYY-MM" month in the calendar's time zone."""
    m = _MONTH.match(month or "")
    if not m or not 1900 <= int(m.group(1)) <= 2199:
        raise StatementError(f"month must be YYYY-MM (years 1900-2199), got {month!r}")
    y, mo = int(m.group(1)), int(m.group(2))
    zone = calendar.zone
    start = datetime(y, mo, 1, tzinfo=zone)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def terms_of(customer: CustomerConfig, rate: Decimal | None = None) -> Terms:
    """A customer's billing terms from the config: rate, currency, increment, tariff overrides and
    call-out overlap policy; `rate` (the desk's quote) replaces the rate and nothing else."""
    if rate is None and customer.rate is None:
        raise StatementError("the customer has no rate (customers.<id>.rate)")
    tariffs = dict(DEFAULT_TARIFFS)
    for period in (Period.WEEKEND, Period.EVENING_NIGHT, Period.HOLIDAY):
        over = getattr(customer.tariffs, period.value)
        if over is None:
            continue
        base = tariffs[period]
        tariffs[period] = Tariff(
            over.multiplier if over.multiplier is not None else base.multiplier,
            over.minimum if over.minimum is not None else base.minimum,
        )
    return Terms(
        rate=rate if rate is not None else customer.rate,
        currency=customer.currency,
        increment=customer.billing_increment,
        tariffs=tariffs,
        callout_overlap=customer.callout_overlap,
    )


def _union(ranges: list[tuple[datetime, datetime, list[int]]]) -> list[tuple[datetime, datetime, list[int]]]:
    out: list[tuple[datetime, datetime, list[int]]] = []
    for s, e, ids in sorted(ranges, key=lambda r: (r[0], r[1])):
        if out and s <= out[-1][1]:
            ps, pe, pids = out[-1]
            out[-1] = (ps, max(pe, e), pids + ids)
        else:
            out.append((s, e, list(ids)))
    return out


async def _booked(
    store: Any, customer: str | None, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, list[int]]]:
    """The active bookings (of one customer, or all) that overlap [start, end), merged."""
    rows = await store.list_bookings(customer, ending_after=start)
    ranges = []
    for b in rows:
        if b.start < end and b.end > start:
            ranges.append((b.start, b.end, [b.id]))
    return _union(ranges)


def _worked(inc: CustomerIncident) -> tuple[timedelta, str]:
    """(worked time, where it came from): logged | proposed (ack -> resolve) | none."""
    if inc.work:
        return timedelta(minutes=sum(w.minutes for w in inc.work)), "logged"
    ack, res = inc.acknowledged_at, inc.resolved_at
    if ack is not None and res is not None and res > ack:
        return res - ack, "proposed"
    return timedelta(0), "none"


def _acknowledgement(inc: CustomerIncident) -> response.Answer | None:
    """The first acknowledgement among the incident's rounds in the month, None without one."""
    return next(
        (r.answer for r in inc.rounds if r.answer is not None and r.answer.kind is response.AnswerKind.ACKNOWLEDGED),
        None,
    )


def _answered(inc: CustomerIncident) -> bool:
    return _acknowledgement(inc) is not None or bool(inc.work)


def _round_lines(inc: CustomerIncident, now: datetime) -> list[dict]:
    """Each paged round of an incident judged at `now` (pager.domain.response), as statement lines."""
    lines = []
    for rnd in inc.rounds:
        record = response.judge(rnd, now)
        if record.outcome is response.Outcome.PENDING:
            continue  # never paged: no response to account for
        answer = rnd.answer
        assert rnd.first_page_at is not None and record.deadline is not None
        lines.append(
            {
                "round": rnd.number,
                "paged_at": iso_utc(rnd.first_page_at),
                "deadline": iso_utc(record.deadline),
                "answered_at": iso_utc(answer.at) if answer else None,
                "answered_by": answer.by if answer else None,
                "answered_via": answer.via if answer else None,
                "answered_kind": answer.kind.value if answer else None,
                "minutes_to_answer": None if record.seconds is None else round(record.seconds / 60, 1),
                "target_minutes": round(rnd.target.total_seconds() / 60, 1),
                "outcome": record.outcome.value,
            }
        )
    return lines


# Recurring standby is laid over the month widened by this much on both sides, so that a block
# across the month's edge (a night from the 31st into the 1st, a weekend) keeps its true extent.
_MARGIN = timedelta(days=8)


def recurring_periods(customer: CustomerConfig) -> dict[str, frozenset[Period]]:
    """project id -> the periods it has recurring standby for (projects with coverage standby and
    a non-empty ``standby`` list only)."""
    out = {}
    for pid, proj in customer.projects.items():
        if proj.coverage == "standby" and proj.standby:
            out[pid] = frozenset(Period(p) for p in proj.standby)
    return out


def _recurring_ranges(
    calendar: Calendar, periods: frozenset[Period], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, Period]]:
    """The stretches of the recurring periods around [start, end) (widened by _MARGIN)."""
    if not periods:
        return []
    return [
        (st.start, st.end, st.period)
        for st in calendar.stretches(start - _MARGIN, end + _MARGIN)
        if st.period in periods
    ]


def recurring_cover(
    calendar: Calendar, customer_id: str, customer: CustomerConfig, start: datetime, end: datetime
) -> list[Covered]:
    """The customer's recurring standby around [start, end) as covered ranges with their reason: the
    hours its statement bills whatever is booked (the ranges `statement` lays over the bookings), so
    a quote shows a block inside them as covered, at no charge."""
    projects: dict[Period, list[str]] = {}
    for pid, periods in recurring_periods(customer).items():
        for period in periods:
            projects.setdefault(period, []).append(project_name(customer_id, pid))
    return [
        (s, e, f"recurring {p} standby of {', '.join(sorted(projects[p]))}")
        for s, e, p in _recurring_ranges(calendar, frozenset(projects), start, end)
    ]


def customer_quote(
    config: Config,
    calendar: Calendar,
    customer_id: str,
    start: datetime,
    end: datetime,
    callouts: list[tuple[datetime, datetime]],
    rate: Decimal | None = None,
) -> Quote:
    """What a booking of [start, end) costs a customer: its terms from the config (`rate` replaces
    the rate only), the parts its recurring standby already covers shown as covered at no charge."""
    if customer_id not in config.customers:
        raise StatementError(f"unknown customer {customer_id[:64]!r}")
    cust = config.customers[customer_id]
    if rate is None and cust.rate is None:
        raise StatementError(f"customer {customer_id!r} has no rate (customers.{customer_id}.rate): give --rate")
    terms = terms_of(cust, rate)
    covered = recurring_cover(calendar, customer_id, cust, start, end)
    return quote(calendar, start, end, terms, callouts, covered)


def _covering(blocks: list[Block], at: datetime) -> Block | None:
    for b in blocks:
        if b.start <= at < b.end:
            return b
    return None


async def _customer_facts(
    store: Any,
    calendar: Calendar,
    terms: Terms,
    customer: str,
    start: datetime,
    end: datetime,
    recurring: dict[str, frozenset[Period]] | None = None,
) -> tuple[
    list[tuple[datetime, datetime, list[int]]], list[Block], list[Block], list[CustomerIncident], list[CustomerIncident]
]:
    """(booked ranges, all standby blocks, this month's blocks, call-out incidents, other incidents)
    of a customer. The standby blocks are those of the dated bookings and of the recurring standby
    (`recurring`: project id -> periods), laid over one another as one set of ranges so that no hour
    is billed twice and a block that several projects (or a booking and a project) cover is one
    block with one minimum."""
    booked = await _booked(store, customer, start, end)
    recurring = recurring or {}
    every = frozenset().union(*recurring.values()) if recurring else frozenset()
    rec = _recurring_ranges(calendar, every, start, end)
    ranges = booked
    if rec:
        # merged, then only the ranges that touch the month (the margin only keeps edges true)
        ranges = [
            r
            for r in _union([(bs, be, ids) for bs, be, ids in booked] + [(s, e, []) for s, e, _p in rec])
            if r[0] < end and r[1] > start
        ]
    all_blocks: list[Block] = []
    for bs, be, _ids in ranges:
        all_blocks.extend(standby_blocks(calendar, bs, be, terms))
    month_blocks = [b for b in all_blocks if start <= b.start < end]
    incidents = await store.customer_incidents(f"{customer}/", start, end)
    callouts, others = [], []
    for inc in incidents:
        paged = inc.first_page_at
        if paged is not None and _answered(inc) and _callout_at(inc, paged, all_blocks, booked, customer, recurring):
            callouts.append(inc)
        else:
            others.append(inc)
    return booked, all_blocks, month_blocks, callouts, others


def _callout_at(
    inc: CustomerIncident,
    paged: datetime,
    blocks: list[Block],
    booked: list,
    customer: str,
    recurring: dict[str, frozenset[Period]],
) -> bool:
    """Was the page inside standby the customer bought for this incident: a block of a dated
    booking (any project of the customer), or a block of a period its own project has recurring
    standby for (another project's recurring standby does not cover it)."""
    block = _covering(blocks, paged)
    if block is None:
        return False
    if any(bs <= paged < be for bs, be, _ids in booked):
        return True
    project = inc.project or ""
    pid = project[len(customer) + 1 :] if project.startswith(f"{customer}/") else project
    return block.period in recurring.get(pid, frozenset())


async def statement(
    store: Any, config: Config, schedule: Schedule, customer: str, month: str, now: datetime, *, issue: bool = True
) -> dict:
    """A customer's statement for a month: standby blocks, call-outs, out-of-contract work, totals
    and the response record. Amounts are decimal strings, instants ISO 8601 UTC. `issue=False` (the
    portal's view) only reads the number a final statement was issued, never issues one."""
    if customer not in config.customers:
        raise StatementError(f"unknown customer {customer!r}")
    cust = config.customers[customer]
    terms = terms_of(cust)
    calendar = schedule.calendar
    start, end = month_range(month, calendar)
    recurring = recurring_periods(cust)
    booked, all_blocks, blocks, callout_incs, others = await _customer_facts(
        store, calendar, terms, customer, start, end, recurring
    )

    # call-outs through the engine (its merge policy): a call-out paged in a block that started last
    # month (a night across the 1st) is billed on this month's statement, the month of its page.
    per_incident: dict[int, dict] = {}
    calls = []
    for inc in callout_incs:
        paged = inc.first_page_at
        assert paged is not None
        worked, source = _worked(inc)
        calls.append((paged, paged + worked, f"#{inc.incident_id}"))
        per_incident[inc.incident_id] = {
            "id": inc.incident_id,
            "summary": inc.summary,
            "project": inc.project,
            "worked_minutes": _minutes(worked),
            "worked_source": source,
            "rounds": _round_lines(inc, now),
        }
    callout_lines: list[dict[str, Any]] = []
    if calls:
        q = _quote_in_blocks(calendar, all_blocks, terms, calls)
        for c in q:
            ids = [int(r.strip().lstrip("#")) for r in c.ref.split(",") if r.strip()]
            callout_lines.append(
                {
                    "start": iso_utc(c.start),
                    "end": iso_utc(c.end),
                    "worked_hours": hours_str(c.worked_hours),
                    "billed_hours": hours_str(c.billed_hours),
                    "amount": decimal_str(c.amount),
                    "_amount": c.amount,
                    "incidents": [per_incident[i] for i in ids if i in per_incident],
                }
            )

    ooc_lines: list[dict[str, Any]] = []
    for inc in others:
        if not inc.work:
            continue
        worked = timedelta(minutes=sum(w.minutes for w in inc.work))
        billed = round_up(max(worked, terms.outside_minimum), terms.increment)
        amount = money(terms.rate * hours_of(billed))
        at = inc.first_page_at or inc.created_at
        assert at is not None
        ooc_lines.append(
            {
                "incident": inc.incident_id,
                "summary": inc.summary,
                "project": inc.project,
                "at": iso_utc(at),
                "worked_hours": hours_str(hours_of(worked)),
                "billed_hours": hours_str(hours_of(billed)),
                "amount": decimal_str(amount),
                "_amount": amount,
            }
        )

    ticket_lines = ticket_hours(await store.customer_ticket_time(customer, start, end), terms)
    ticket_amounts = [t.pop("_amount") for t in ticket_lines]
    ticket_total = sum(ticket_amounts, _ZERO)

    standby_total = sum((b.fee for b in blocks), _ZERO)
    callout_amounts = [c.pop("_amount") for c in callout_lines]
    ooc_amounts = [c.pop("_amount") for c in ooc_lines]
    callout_total = sum(callout_amounts, _ZERO)
    ooc_total = sum(ooc_amounts, _ZERO)
    subtotal = money(standby_total + callout_total + ooc_total + ticket_total)
    vat_rate = config.billing.vat_rate
    vat = money(subtotal * vat_rate / 100)
    responses = [
        {"incident": inc.incident_id, "summary": inc.summary, "project": inc.project, **line}
        for inc in callout_incs
        for line in _round_lines(inc, now)
    ]
    # the statement of a month that has ended is final: it gets its number (issued once, kept)
    final = now >= end
    if not final:
        issued = None
    elif issue:
        issued = await store.issue_statement(customer, month, now=now)
    else:
        issued = await store.get_issued_statement(customer, month)
    agency = config.agency
    due = None
    if issued is not None and agency is not None:
        due = (issued.issued_at.astimezone(calendar.zone).date() + agency.payment_terms).isoformat()
    return {
        "customer": customer,
        "name": cust.name,
        "email": cust.email,
        "language": cust.language,
        "month": month,
        "timezone": calendar.rules.tz,
        "from": iso_utc(start),
        "to": iso_utc(end),
        "final": final,
        "number": issued.number if issued else None,
        "issued_at": iso_utc(issued.issued_at) if issued else None,
        "due_date": due,
        "agency": _agency(config),
        "currency": terms.currency,
        "rate": decimal_str(terms.rate),
        "response_target_minutes": round(cust.response_target.total_seconds() / 60, 1),
        "bookings": [{"ids": ids, "start": iso_utc(s), "end": iso_utc(e)} for s, e, ids in booked],
        "recurring_standby": {pid: sorted(str(p) for p in ps) for pid, ps in sorted(recurring.items())},
        "summary": _summary(blocks, callout_lines, callout_amounts, ooc_lines, ooc_amounts, ticket_lines, now),
        "blocks": [
            {
                "period": str(b.period),
                "start": iso_utc(b.start),
                "end": iso_utc(b.end),
                "hours": hours_str(b.hours),
                "billed_hours": hours_str(b.billed_hours),
                "multiplier": decimal_str(b.multiplier),
                "fee": decimal_str(b.fee),
                "provisional": b.end > now,
            }
            for b in blocks
        ],
        "callouts": callout_lines,
        "out_of_contract": ooc_lines,
        "ticket_hours": ticket_lines,
        "responses": responses,
        "totals": {
            "standby": decimal_str(money(standby_total)),
            "callouts": decimal_str(money(callout_total)),
            "out_of_contract": decimal_str(money(ooc_total)),
            "tickets": decimal_str(money(ticket_total)),
            "total": decimal_str(subtotal),
            "vat_rate": decimal_str(vat_rate),
            "vat": decimal_str(vat),
            "total_incl_vat": decimal_str(subtotal + vat),
        },
        "responses_met": sum(1 for r in responses if r["outcome"] == "met"),
        "responses_breached": sum(1 for r in responses if r["outcome"] == "breached"),
        "generated_at": iso_utc(now),
    }


def ticket_hours(entries: list[CustomerTicketTime], terms: Terms) -> list[dict[str, Any]]:
    """One line per ticket with billable or covered time, by number: its billable minutes summed and
    rounded up to the increment (round_up, as worked time), charged at the rate with no minimum; its
    covered minutes for information. Call-out entries count nowhere here (the call-out bills them).
    Each line carries its amount as a Decimal in ``_amount`` (the caller pops it)."""
    per: dict[int, dict[str, Any]] = {}
    for e in entries:
        if e.kind not in ("billable", "covered"):
            continue
        line = per.setdefault(e.number, {"number": e.number, "subject": e.subject, "billable": 0, "covered": 0})
        line[e.kind] += e.minutes
    out = []
    for number in sorted(per):
        line = per[number]
        worked = timedelta(minutes=line["billable"])
        billed = round_up(worked, terms.increment) if line["billable"] else timedelta(0)
        amount = money(terms.rate * hours_of(billed))
        out.append(
            {
                "number": number,
                "subject": line["subject"],
                "billable_minutes": line["billable"],
                "billed_minutes": _minutes(billed),
                "billed_hours": hours_str(hours_of(billed)),
                "amount": decimal_str(amount),
                "covered_minutes": line["covered"],
                "_amount": amount,
            }
        )
    return out


# The order of the summary's lines: standby per period kind, then call-outs, out-of-contract work and
# billable ticket hours.
SUMMARY_KINDS = ("evening_night", "weekend", "holiday", "callouts", "out_of_contract", "tickets")


def _summary(
    blocks: list[Block],
    callouts: list[dict],
    callout_amounts: list,
    ooc: list[dict],
    ooc_amounts: list,
    tickets: list[dict],
    now: datetime,
) -> list[dict]:
    """One line per kind that has any: how many lines, their hours, billed hours and amount (the sum of
    the rounded lines, as the totals), and how many of them are provisional (standby not yet over)."""
    out = []
    for kind in SUMMARY_KINDS:
        if kind == "callouts":
            rows = [
                (Decimal(c["worked_hours"]), Decimal(c["billed_hours"]), a, False)
                for c, a in zip(callouts, callout_amounts, strict=True)
            ]
        elif kind == "out_of_contract":
            rows = [
                (Decimal(o["worked_hours"]), Decimal(o["billed_hours"]), a, False)
                for o, a in zip(ooc, ooc_amounts, strict=True)
            ]
        elif kind == "tickets":
            rows = [
                (
                    hours_of(timedelta(minutes=t["billable_minutes"])),
                    Decimal(t["billed_hours"]),
                    Decimal(t["amount"]),
                    False,
                )
                for t in tickets
                if t["billable_minutes"]
            ]
        else:
            rows = [(b.hours, b.billed_hours, b.fee, b.end > now) for b in blocks if str(b.period) == kind]
        if not rows:
            continue
        out.append(
            {
                "kind": kind,
                "count": len(rows),
                "hours": hours_str(sum((r[0] for r in rows), _ZERO)),
                "billed_hours": hours_str(sum((r[1] for r in rows), _ZERO)),
                "amount": decimal_str(money(sum((r[2] for r in rows), _ZERO))),
                "provisional": sum(1 for r in rows if r[3]),
            }
        )
    return out


def _agency(config: Config) -> dict | None:
    a = config.agency
    if a is None:
        return None
    return {
        "name": a.name,
        "address": list(a.address),
        "kvk": a.kvk,
        "btw": a.btw,
        "email": a.email,
        "phone": a.phone,
        "iban": a.iban,
        "payment_terms_days": a.payment_terms.days,
    }


def _minutes(d: timedelta) -> int:
    return int(-(-d.total_seconds() // 60))


def _quote_in_blocks(calendar: Calendar, blocks: list[Block], terms: Terms, calls: list) -> list:
    """Bill call-outs that are known to start inside standby blocks (the engine's merge policy
    applies across them): quote each maximal run of adjacent blocks with its calls, keep the
    call-out lines."""
    runs: list[tuple[datetime, datetime]] = []
    for b in sorted(blocks, key=lambda b: b.start):
        if runs and b.start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], b.end))
        else:
            runs.append((b.start, b.end))
    out = []
    for rs, re_ in runs:
        mine = [c for c in calls if rs <= c[0] < re_]
        if mine:
            q = quote(calendar, rs, re_, terms, mine)
            out.extend(replace(c, block_index=None) for c in q.callouts)
    return sorted(out, key=lambda c: c.start)


async def engineers(store: Any, config: Config, schedule: Schedule, month: str, now: datetime) -> dict:
    """The hours each engineer of the standby rotation stood by during booked or recurring standby in
    the month, per period kind (clipped to the month; bookings and recurring standby of all customers merged, so one hour of standby
    counts once however many customers booked it), and their call-outs (incidents they acknowledged
    that were call-outs on a statement)."""
    calendar = schedule.calendar
    start, end = month_range(month, calendar)
    rotation = config.paging.standby_rotation
    booked = await _booked(store, None, start, end)
    recurring = [
        (s, e, [])
        for cust in config.customers.values()
        for s, e, _p in _recurring_ranges(calendar, frozenset().union(*recurring_periods(cust).values()), start, end)
    ]
    if recurring:
        booked = _union(booked + recurring)
    overrides = overrides_from(await store.list_overrides(rotation)) if rotation in schedule.rotations else []
    seconds: dict[str, dict[str, float]] = {}
    for bs, be, _ids in booked:
        s, e = max(bs, start), min(be, end)
        if rotation not in schedule.rotations or s >= e:
            continue
        for sh in schedule.shifts(rotation, s, e, overrides):
            if sh["person"] is None:
                continue
            ss, se = max(parse_utc(sh["start"]), s), min(parse_utc(sh["end"]), e)  # type: ignore[type-var]
            if ss >= se:
                continue
            for st in calendar.stretches(ss, se):
                if st.period is Period.OFFICE:
                    continue
                per = seconds.setdefault(sh["person"], {})
                per[str(st.period)] = per.get(str(st.period), 0.0) + (st.end - st.start).total_seconds()
    callouts: dict[str, list[dict]] = {}
    for cid, cust in config.customers.items():
        terms = terms_of(cust) if cust.rate is not None else Terms(rate=0)
        _b, _all, _blocks, incs, _others = await _customer_facts(
            store, calendar, terms, cid, start, end, recurring_periods(cust)
        )
        for inc in incs:
            worked, source = _worked(inc)
            ack = _acknowledgement(inc)
            who = (ack.by if ack else None) or (inc.work[0].person if inc.work else "unknown")
            callouts.setdefault(who, []).append(
                {
                    "customer": cid,
                    "incident": inc.incident_id,
                    "summary": inc.summary,
                    "paged_at": iso_utc(inc.first_page_at),
                    "acknowledged_at": iso_utc(ack.at) if ack else None,
                    "worked_minutes": _minutes(worked),
                    "worked_source": source,
                }
            )
    people = sorted(set(seconds) | set(callouts))
    rows = []
    for p in people:
        per = seconds.get(p, {})
        hours = {
            k: f"{Decimal(str(round(per.get(k, 0.0) / 3600, 2))):.2f}" for k in ("weekend", "evening_night", "holiday")
        }
        total = round(sum(per.values()) / 3600, 2)
        person = config.people.get(p)
        mine = sorted(callouts.get(p, []), key=lambda c: c["paged_at"] or "")
        rows.append(
            {
                "person": p,
                "name": person.name if person else p,
                "standby_hours": hours,
                "standby_hours_total": f"{total:.2f}",
                "callouts": mine,
                "callout_count": len(mine),
                "callout_worked_minutes": sum(c["worked_minutes"] for c in mine),
            }
        )
    return {
        "month": month,
        "timezone": calendar.rules.tz,
        "from": iso_utc(start),
        "to": iso_utc(end),
        "rotation": rotation,
        "engineers": rows,
        "generated_at": iso_utc(now),
    }


__all__ = [
    "StatementError",
    "customer_quote",
    "engineers",
    "month_range",
    "recurring_cover",
    "recurring_periods",
    "statement",
    "terms_of",
]
