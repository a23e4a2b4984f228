"""Calendar and rotations built from config; who is on call, with the overrides from the store."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from pager.config import Config
from pager.config.domain import calendar_from, rotations_from
from pager.domain.calendar import utc_in_range
from pager.domain.rotation import Layered, Override, Shift, next_shift, on_call, shifts
from pager.storage.port import OverrideRecord


def overrides_from(rows: list[OverrideRecord]) -> list[Override]:
    return [
        Override(
            id=str(r.id),
            rotation=r.rotation,
            start=r.start,
            end=r.end,
            person=r.person,
            replaces=r.replaces,
            created_by=r.created_by,
            created_at=r.created_at,
        )
        for r in rows
        if r.removed_at is None
    ]


def parse_utc(s: str | None) -> datetime | None:
    """A timestamp as pagerd stores and answers it (ISO 8601, 'Z' or an offset) as aware UTC; empty is None."""
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


class Schedule:
    """The calendar and rotations of one config (rebuilt on reload)."""

    def participants(self, rotation: str) -> list[str]:
        rot = self.rotations[rotation]
        if isinstance(rot, Layered):
            return list(dict.fromkeys(p for layer in rot.layers for p in layer.participants))
        return list(rot.participants)

    def __init__(self, cfg: Config) -> None:
        self.config = cfg
        self.calendar = calendar_from(cfg)
        self.rotations = rotations_from(cfg)

    def describe(self, at: datetime) -> dict:
        period = self.calendar.period_at(at)
        local = at.astimezone(self.calendar.zone)
        return {
            "at": iso(at),
            "local": local.isoformat(),
            "timezone": self.calendar.rules.tz,
            "period": period.value,
            "holiday": self.calendar.holiday_name(local.date()),
        }

    def on_call(self, at: datetime, overrides: list[Override], rotation: str | None = None) -> list[dict]:
        out = []
        for name, rot in self.rotations.items():
            if rotation is not None and name != rotation:
                continue
            mine = [o for o in overrides if o.rotation == name]
            s = on_call(rot, at, mine, self.calendar)
            out.append(self._shift_dict(name, s))
        return out

    def next_on_call(self, at: datetime, overrides: list[Override], rotation: str | None = None) -> list[dict]:
        """Per rotation (or the one named), the shift that follows the one at `at`
        (pager.domain.rotation.next_shift): who is on next and from when to when."""
        out = []
        for name, rot in self.rotations.items():
            if rotation is not None and name != rotation:
                continue
            mine = [o for o in overrides if o.rotation == name]
            out.append(self._shift_dict(name, next_shift(rot, at, mine, self.calendar)))
        return out

    def shifts(self, rotation: str, start: datetime, end: datetime, overrides: list[Override]) -> list[dict]:
        rot = self.rotations[rotation]
        mine = [o for o in overrides if o.rotation == rotation]
        return [self._shift_dict(rotation, s) for s in shifts(rot, start, end, mine, self.calendar)]

    def handoff_shift(self, rotation: str, at: datetime, overrides: list[Override]) -> Shift | None:
        """The shift of `rotation` at `at` as handed over (before the period restriction cuts it up)."""
        rot = self.rotations[rotation]
        mine = [o for o in overrides if o.rotation == rotation]
        if isinstance(rot, Layered):  # layers hand off on their own: the piece on call now
            return on_call(rot, at, mine, self.calendar)
        return on_call(dataclasses.replace(rot, restrict_to=None), at, mine, None)

    def _shift_dict(self, name: str, s: Shift | None) -> dict:
        if s is None:
            return {"rotation": name, "person": None, "name": None, "start": None, "end": None, "override_id": None}
        person = self.config.people.get(s.person)
        return {
            "rotation": name,
            "person": s.person,
            "name": person.name if person else s.person,
            "start": iso(s.start),
            "end": iso(s.end),
            "override_id": s.override_id,
        }


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_instant(value: str, tz: str) -> datetime:
    """An ISO 8601 instant; without an offset it is read as wall time in `tz`. ValueError outside
    the years 1900-2199 (pager.domain.calendar.utc_in_range)."""
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    try:
        return utc_in_range(dt)
    except ValueError:
        raise ValueError(f"instant {value!r} is outside the years 1900-2199") from None


# `--since 2h`: that long before now (minutes, hours, days, weeks)
_AGO = re.compile(r"^(\d{1,6})\s*(m|h|d|w)$")
_AGO_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
SINCE_FORMS = "30m, 2h, 3d, 1w, today, yesterday or an ISO 8601 instant"


def parse_since(value: str, tz: str, now: datetime) -> datetime:
    """The start of a time range as an operator writes it: `30m`, `2h`, `3d`, `1w` (that long before `now`),
    `today` or `yesterday` (midnight of that day in `tz`), or an ISO 8601 instant (parse_instant: without
    an offset it is wall time in `tz`). ValueError for anything else, or outside the years 1900-2199."""
    text = value.strip().lower()
    ago = _AGO.fullmatch(text)
    if ago:
        try:
            return utc_in_range(now - int(ago.group(1)) * _AGO_UNIT[ago.group(2)])
        except OverflowError:
            raise ValueError(f"{value.strip()!r} ago is outside the years 1900-2199") from None
    if text in ("today", "yesterday"):
        zone = ZoneInfo(tz)
        day = now.astimezone(zone).date() - timedelta(days=1 if text == "yesterday" else 0)
        return utc_in_range(datetime.combine(day, time(0), zone))
    try:
        return parse_instant(value, tz)
    except ValueError as exc:
        if "outside" in str(exc):
            raise
        raise ValueError(f"expected {SINCE_FORMS}, got {value!r}") from None


HANDOVER_CATCH_UP = timedelta(hours=12)
