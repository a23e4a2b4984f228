"""Standby and call-out billing (DESIGN.md §1-2, "Standby and billing"): what a booking costs.

Pure: takes a Calendar, a range, Terms and the call-outs; returns a Quote. No I/O, no clock.

The rules
---------
- A standby block is a maximal contiguous stretch of one non-office period inside the booked
  range [start, end). Office time inside a booking is not standby and costs nothing; every block
  has its own minimum. Fee = multiplier x rate x max(hours, minimum) (defaults: weekend 0.5 / 4 h,
  evening_night 1 / 2 h, holiday 1 / 8 h). Two adjacent holidays (25 and 26 December) are one
  holiday stretch, so one block with one 8-h minimum.
- Hours are real elapsed time (a night across the spring DST change is 13.5 h, across the
  autumn change 15.5 h), kept as exact Decimals (40 significant digits when a duration has no
  finite decimal form, e.g. 20 minutes). Money is computed from the exact duration, never from
  a rounded hour figure, and each line (block fee, call-out amount) is rounded half-up to cents
  once; the total is the sum of the rounded lines, as on an invoice.
- A call-out is billed max(worked, callout_minimum = 1 h), rounded UP to the billing increment
  (15 min), x rate (the standard rate, no period multiplier), on top of the block fee.

The choices the rules leave open, and what this module does
------------------------------------------------------------
1. Which block a call-out belongs to: the block in which it *starts* (the moment the customer
   called on the agency). Work that runs on past the end of the block or of the booking is still
   that call-out's worked time and billed in full.
2. A call-out that does not start inside a booked block (outside the booked range, or in office
   time inside it) is not a call-out under the standby terms: it is billed as out-of-contract
   work at the standard rate, worked time rounded up to the increment, with
   ``Terms.outside_minimum`` (default none: the 1-h minimum is a standby term) and
   ``block_index=None``, ``ref="outside booking"``.
3. Several call-outs close together (``Terms.callout_overlap``):
   - ``"merge"`` (default, fairer to the customer): a call that starts while an earlier
     call-out is still being worked, or within the time already billed for it (its 1-h minimum
     rounded up to the increment), is folded into it. The merged call-out runs from the first
     call's start to the last one's end (its worked_hours is that span) and is billed once:
     max(span, minimum) rounded up. Any gap between the calls lies inside time that was billed
     anyway, so merging never costs the customer more than ``"separate"`` (a property test
     checks this) and never bills the same minute twice.
     Calls merge across block boundaries (the engineer is still on it); a merged call-out
     belongs to the block of its first call. In-booking and out-of-booking calls never merge.
   - ``"separate"``: the literal reading: each call-out on its own, each with its own minimum,
     overlaps billed twice.
   Either way call-outs are returned sorted by start; a call-out may carry a ref (an incident
   id) as a third element, merged call-outs join their refs.
4. A booking cancelled before it starts costs nothing: the caller does not quote it. An empty
   range (start == end) quotes to zero.
5. Standby the customer already pays for (its recurring standby, see pager.service.statements)
   is passed as ``covered`` ranges, each with its reason: a block that lies inside one is shown
   as covered, with that reason and no fee (the statement bills those hours anyway, once); a
   call-out in it is still a call-out. A block only partly inside a covered range is billed in
   full (recurring standby covers whole stretches of a period, so this does not arise from it).
6. Display: ``Quote.as_dict()`` gives amounts as cents strings ("250.00") and hours rounded
   half-up to two decimals ("13.50", a 20-minute block "0.33"); the exact values stay on the
   dataclasses and the fees are computed from those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from types import MappingProxyType
from typing import Any

from .calendar import Calendar, Period, to_utc

CENT = Decimal("0.01")
_HOUR_US = Decimal(3_600_000_000)  # microseconds in an hour
_US = timedelta(microseconds=1)
_PREC = 60  # working precision: exact for any realistic rate x duration product
_ZERO = Decimal(0)
_TOO_LARGE = Decimal(10) ** 12

MERGE = "merge"
SEPARATE = "separate"
OVERLAP_POLICIES = (MERGE, SEPARATE)
OUTSIDE_BOOKING = "outside booking"

DecimalLike = Decimal | int | str


def _decimal(value: DecimalLike, what: str) -> Decimal:
    """A finite, non-negative Decimal from a Decimal, int or numeric string (floats refused:
    0.1 is not a price)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{what} must be a Decimal, int or string, not {type(value).__name__}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{what}: not a number: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"{what} must be a finite number, got {value}")
    if d < 0:
        raise ValueError(f"{what} must not be negative, got {value}")
    if d >= _TOO_LARGE:
        raise ValueError(f"{what} must be below 10^12, got {value}")
    return d


def _duration(value: timedelta, what: str) -> timedelta:
    if not isinstance(value, timedelta):
        raise TypeError(f"{what} must be a timedelta, not {type(value).__name__}")
    if value < timedelta(0):
        raise ValueError(f"{what} must not be negative, got {value}")
    return value


def hours_of(duration: timedelta) -> Decimal:
    """Real elapsed time in hours, exact when it has a finite decimal form (14.5, 0.25)."""
    with localcontext() as ctx:
        ctx.prec = 40
        return Decimal(duration // _US) / _HOUR_US


def money(amount: Decimal) -> Decimal:
    """Rounded half-up to cents."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _charge(factor: Decimal, duration: timedelta) -> Decimal:
    """factor (multiplier x rate) x hours of `duration`, exactly, then rounded to cents."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        exact = factor * Decimal(duration // _US) / _HOUR_US
        return money(exact)


def round_up(duration: timedelta, increment: timedelta) -> timedelta:
    """`duration` rounded up to a whole number of increments (unchanged for a zero increment)."""
    if increment <= timedelta(0):
        return duration
    return -(-duration // increment) * increment


# --------------------------------------------------------------------------- terms


@dataclass(frozen=True)
class Tariff:
    """What standby in one period kind costs: multiplier x rate per hour, at least `minimum`."""

    multiplier: Decimal
    minimum: timedelta

    def __post_init__(self) -> None:
        object.__setattr__(self, "multiplier", _decimal(self.multiplier, "multiplier"))
        _duration(self.minimum, "minimum")


DEFAULT_TARIFFS: Mapping[Period, Tariff] = MappingProxyType(
    {
        Period.WEEKEND: Tariff(Decimal("0.5"), timedelta(hours=4)),
        Period.EVENING_NIGHT: Tariff(Decimal("1"), timedelta(hours=2)),
        Period.HOLIDAY: Tariff(Decimal("1"), timedelta(hours=8)),
    }
)
_BILLED_PERIODS = frozenset(DEFAULT_TARIFFS)


@dataclass(frozen=True)
class Terms:
    """A customer's billing terms. `rate` is the standard hourly rate (Decimal, int or string)."""

    rate: Decimal
    currency: str = "EUR"
    increment: timedelta = timedelta(minutes=15)
    callout_minimum: timedelta = timedelta(hours=1)
    tariffs: Mapping[Period, Tariff] = field(default_factory=lambda: DEFAULT_TARIFFS)
    callout_overlap: str = MERGE
    # Minimum for work that is not a call-out under the standby terms (choice 2 above).
    outside_minimum: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _decimal(self.rate, "rate"))
        if not isinstance(self.currency, str) or not self.currency.strip():
            raise ValueError("currency must be a non-empty string")
        for name in ("increment", "callout_minimum", "outside_minimum"):
            _duration(getattr(self, name), name)
        if self.callout_overlap not in OVERLAP_POLICIES:
            raise ValueError(
                f"callout_overlap must be one of {', '.join(OVERLAP_POLICIES)}, got {self.callout_overlap!r}"
            )
        if not isinstance(self.tariffs, Mapping):
            raise TypeError("tariffs must be a mapping of period -> Tariff")
        tariffs: dict[Period, Tariff] = {}
        for key, tariff in self.tariffs.items():
            try:
                period = Period(key)
            except ValueError as exc:
                raise ValueError(f"tariffs: unknown period {key!r}") from exc
            if period is Period.OFFICE:
                raise ValueError("tariffs: office time is never billed as standby")
            if not isinstance(tariff, Tariff):
                raise TypeError(f"tariffs[{period}] must be a Tariff")
            tariffs[period] = tariff
        missing = sorted(_BILLED_PERIODS - tariffs.keys())
        if missing:
            raise ValueError(f"tariffs: no tariff for {', '.join(missing)}")
        object.__setattr__(self, "tariffs", MappingProxyType(tariffs))

    def tariff(self, period: Period) -> Tariff:
        return self.tariffs[period]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Block:
    """One standby block: [start, end) in UTC, its exact hours, the hours billed (at least the
    minimum), the multiplier and the fee in cents; `covered`: why it costs nothing (already paid
    for, e.g. by recurring standby), "" when it is billed."""

    period: Period
    start: datetime
    end: datetime
    hours: Decimal
    billed_hours: Decimal
    multiplier: Decimal
    fee: Decimal
    covered: str = ""


@dataclass(frozen=True)
class Callout:
    """A call-out (or merged call-outs): [start, end) in UTC, billed hours and amount. block_index
    is the index of its block in Quote.blocks, None for out-of-contract work outside a booking."""

    start: datetime
    end: datetime
    worked_hours: Decimal
    billed_hours: Decimal
    amount: Decimal
    block_index: int | None
    ref: str = ""


@dataclass(frozen=True)
class Quote:
    currency: str
    rate: Decimal
    blocks: tuple[Block, ...]
    callouts: tuple[Callout, ...]
    total: Decimal

    @property
    def standby_total(self) -> Decimal:
        return sum((b.fee for b in self.blocks), _ZERO)

    @property
    def callout_total(self) -> Decimal:
        return sum((c.amount for c in self.callouts), _ZERO)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `pagerd billing quote --json` and the API: amounts and hours as
        decimal strings, instants ISO 8601 UTC with Z."""
        return {
            "currency": self.currency,
            "rate": decimal_str(self.rate),
            "blocks": [
                {
                    "period": str(b.period),
                    "start": iso_utc(b.start),
                    "end": iso_utc(b.end),
                    "hours": hours_str(b.hours),
                    "billed_hours": hours_str(b.billed_hours),
                    "multiplier": decimal_str(b.multiplier),
                    "fee": decimal_str(b.fee),
                    "covered": b.covered or None,
                }
                for b in self.blocks
            ],
            "callouts": [
                {
                    "start": iso_utc(c.start),
                    "end": iso_utc(c.end),
                    "worked_hours": hours_str(c.worked_hours),
                    "billed_hours": hours_str(c.billed_hours),
                    "amount": decimal_str(c.amount),
                }
                for c in self.callouts
            ],
            "total": decimal_str(self.total),
        }


def decimal_str(value: Decimal) -> str:
    """At least two decimals ("250.00", "0.50"); more only for a rate or multiplier given with
    more (a rate of 12.345 is not misstated as 12.35)."""
    rounded = money(value)
    if rounded == value:
        return f"{rounded:f}"
    return f"{value.normalize():f}"


def hours_str(value: Decimal) -> str:
    """Hours for display: two decimals, half-up ("13.50"; 20 minutes "0.33")."""
    return f"{money(value):f}"


def iso_utc(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- engine


def _range(start: datetime, end: datetime, what: str) -> tuple[datetime, datetime]:
    s, e = to_utc(start, f"{what} start"), to_utc(end, f"{what} end")
    if e < s:
        raise ValueError(f"{what} ends ({e.isoformat()}) before it starts ({s.isoformat()})")
    return s, e


Covered = tuple[datetime, datetime, str]  # [start, end) already paid for, and why


def _covered_by(covered: Sequence[Covered], start: datetime, end: datetime) -> str:
    for cs, ce, reason in covered:
        if to_utc(cs, "covered start") <= start and end <= to_utc(ce, "covered end"):
            return reason or "covered"
    return ""


def standby_blocks(
    calendar: Calendar, start: datetime, end: datetime, terms: Terms, covered: Sequence[Covered] = ()
) -> list[Block]:
    """The standby blocks of a booking of [start, end): one per maximal stretch of one non-office
    period, in order; office stretches are skipped (never billed). A block inside a `covered`
    range costs nothing and carries that range's reason (choice 5)."""
    s, e = _range(start, end, "booking")
    blocks: list[Block] = []
    for st in calendar.stretches(s, e):
        if st.period is Period.OFFICE:
            continue
        tariff = terms.tariff(st.period)
        duration = st.end - st.start
        billed = max(duration, tariff.minimum)
        reason = _covered_by(covered, st.start, st.end)
        blocks.append(
            Block(
                period=st.period,
                start=st.start,
                end=st.end,
                hours=hours_of(duration),
                billed_hours=hours_of(billed),
                multiplier=tariff.multiplier,
                fee=_ZERO if reason else _charge(tariff.multiplier * terms.rate, billed),
                covered=reason,
            )
        )
    return blocks


def callout_charge(start: datetime, end: datetime, terms: Terms) -> tuple[Decimal, Decimal, Decimal]:
    """(worked_hours, billed_hours, amount) of one call-out under the standby terms:
    max(worked, callout_minimum) rounded up to the increment, x rate."""
    s, e = _range(start, end, "call-out")
    return _bill(e - s, terms.callout_minimum, terms)


def _bill(worked: timedelta, minimum: timedelta, terms: Terms) -> tuple[Decimal, Decimal, Decimal]:
    billed = _billed(worked, minimum, terms)
    return hours_of(worked), hours_of(billed), _charge(terms.rate, billed)


def _billed(worked: timedelta, minimum: timedelta, terms: Terms) -> timedelta:
    return round_up(max(worked, minimum), terms.increment)


def _block_of(blocks: Sequence[Block], at: datetime) -> int | None:
    for i, b in enumerate(blocks):
        if b.start <= at < b.end:
            return i
    return None


@dataclass
class _Group:
    start: datetime
    end: datetime
    block: int | None
    refs: list[str]


def _ref(refs: Sequence[str], outside: bool) -> str:
    joined = ", ".join(r for r in refs if r)
    if not outside:
        return joined
    return f"{OUTSIDE_BOOKING}: {joined}" if joined else OUTSIDE_BOOKING


def quote(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    terms: Terms,
    callouts: Sequence[tuple[datetime, datetime] | tuple[datetime, datetime, str]] = (),
    covered: Sequence[Covered] = (),
) -> Quote:
    """What a standby booking of [start, end) costs, with the given call-outs (start, end[, ref]).
    See the module docstring for the choices: the block of a call-out is the one it starts in;
    a call-out outside every block is out-of-contract work; overlap policy per Terms; blocks inside
    a `covered` range (already paid for) cost nothing."""
    blocks = standby_blocks(calendar, start, end, terms, covered)
    calls: list[tuple[datetime, datetime, str]] = []
    for n, item in enumerate(callouts):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(f"call-out {n}: expected (start, end) or (start, end, ref), got {item!r}")
        ref = item[2] if len(item) == 3 else ""
        if not isinstance(ref, str):
            raise TypeError(f"call-out {n}: ref must be a string")
        cs, ce = _range(item[0], item[1], f"call-out {n}")
        calls.append((cs, ce, ref))
    calls.sort(key=lambda c: (c[0], c[1]))

    groups: list[_Group] = []
    open_group: dict[bool, _Group] = {}  # in-booking / outside-booking: the group still open
    for cs, ce, ref in calls:
        block = _block_of(blocks, cs)
        outside = block is None
        minimum = terms.outside_minimum if outside else terms.callout_minimum
        g = open_group.get(outside)
        if terms.callout_overlap == MERGE and g is not None:
            billed_until = g.start + _billed(g.end - g.start, minimum, terms)
            if cs <= max(g.end, billed_until):
                g.end = max(g.end, ce)
                g.refs.append(ref)
                continue
        g = _Group(cs, ce, block, [ref])
        groups.append(g)
        open_group[outside] = g

    out: list[Callout] = []
    for g in groups:
        outside = g.block is None
        minimum = terms.outside_minimum if outside else terms.callout_minimum
        worked_h, billed_h, amount = _bill(g.end - g.start, minimum, terms)
        out.append(Callout(g.start, g.end, worked_h, billed_h, amount, g.block, _ref(g.refs, outside)))

    total = sum((b.fee for b in blocks), _ZERO) + sum((c.amount for c in out), _ZERO)
    return Quote(
        currency=terms.currency,
        rate=terms.rate,
        blocks=tuple(blocks),
        callouts=tuple(out),
        total=money(total),
    )


__all__ = [
    "CENT",
    "DEFAULT_TARIFFS",
    "MERGE",
    "OUTSIDE_BOOKING",
    "SEPARATE",
    "Block",
    "Callout",
    "Covered",
    "Quote",
    "Tariff",
    "Terms",
    "callout_charge",
    "decimal_str",
    "hours_of",
    "hours_str",
    "iso_utc",
    "money",
    "quote",
    "round_up",
    "standby_blocks",
]
