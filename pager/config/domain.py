"""The config's calendar and rotations as domain objects. Here, beside the model, so that loading a
config can run the domain's own checks (holiday country, windows, rotations) without importing the
service layer; pager.service.schedule builds its Schedule from these."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from pager.domain.calendar import Calendar, CalendarRules, Period
from pager.domain.request_targets import (
    DEFAULT_FIRST_RESPONSE,
    DEFAULT_RESOLUTION,
    AtRisk,
    Priority,
    RequestTargets,
    TargetKind,
)
from pager.domain.rotation import Layered, Rotation, ShiftUnit

from .model import Config, PriorityTargetsConfig

_OUTSIDE_OFFICE = frozenset({Period.WEEKEND, Period.EVENING_NIGHT, Period.HOLIDAY})


def calendar_from(cfg: Config) -> Calendar:
    c = cfg.calendar
    o_start, o_end = c.office_hours.split("-")
    w_start, w_end = c.weekend_hours.split("-")
    return Calendar(
        CalendarRules(
            tz=c.timezone,
            office_days=frozenset(c.office_days),
            office_start=o_start,
            office_end=o_end,
            weekend_start=w_start,
            weekend_end=w_end,
            country=c.holiday_country,
            subdivision=c.holiday_subdivision,
            exclude=tuple(c.holidays_exclude),
            extra=tuple(c.holidays_extra.items()),
        )
    )


def rotations_from(cfg: Config) -> dict[str, Rotation | Layered]:
    out: dict[str, Rotation | Layered] = {}
    for name, r in cfg.rotations.items():
        tz = r.timezone or cfg.calendar.timezone
        if r.layers:
            out[name] = Layered(
                name=name, layers=tuple(_rotation(f"{name}/{i}", layer, tz) for i, layer in enumerate(r.layers))
            )
        else:
            out[name] = _rotation(name, r, tz)
    return out


def _rotation(name: str, r, tz: str) -> Rotation:
    secs = int(r.shift.total_seconds())
    if secs % 604800 == 0:
        length, unit = secs // 604800, ShiftUnit.WEEKS
    elif secs % 86400 == 0:
        length, unit = secs // 86400, ShiftUnit.DAYS
    else:
        length, unit = max(1, secs // 3600), ShiftUnit.HOURS
    parts = r.handoff.split()
    weekday = parts[0] if len(parts) == 2 else None
    hand = time.fromisoformat(parts[-1])
    start = datetime.combine(r.start, hand, tzinfo=ZoneInfo(tz))
    restrict: frozenset[Period] | None = None
    if r.restrict_to:
        periods: set[Period] = set()
        for p in r.restrict_to:
            periods |= _OUTSIDE_OFFICE if p == "outside_office" else {Period(p)}
        restrict = frozenset(periods)
    return Rotation(
        name=name,
        participants=tuple(r.participants),
        start=start,
        shift_length=length,
        shift_unit=unit,
        handoff_time=hand,
        handoff_weekday=weekday if unit is ShiftUnit.WEEKS else None,
        tz=tz,
        restrict_to=restrict,
    )


def request_targets_for(cfg: Config, customer: str | None) -> RequestTargets:
    """A customer's request targets: its own `request_targets`, each unset key from
    `desk.request_targets`, each still unset from the built-in defaults. An unknown customer (or
    None: a ticket in triage) has the desk's."""
    desk = cfg.desk.request_targets
    own = cfg.customers[customer].request_targets if customer in cfg.customers else None
    tables = {}
    for kind, builtin in (
        (TargetKind.FIRST_RESPONSE, DEFAULT_FIRST_RESPONSE),
        (TargetKind.RESOLUTION, DEFAULT_RESOLUTION),
    ):
        layers: list[PriorityTargetsConfig] = [getattr(desk, kind.value)]
        if own is not None:
            layers.insert(0, getattr(own, kind.value))
        table = {}
        for p in Priority:
            value = next((v for v in (getattr(layer, p.value) for layer in layers) if v is not None), None)
            table[p] = value if value is not None else builtin[p]
        tables[kind] = table
    at_risk = (own.at_risk if own is not None else None) or desk.at_risk or AtRisk()
    return RequestTargets(
        first_response=tables[TargetKind.FIRST_RESPONSE], resolution=tables[TargetKind.RESOLUTION], at_risk=at_risk
    )
