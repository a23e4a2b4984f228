"""Overrides and the swap and override requests that become them: the one check of an override's
fields (the API's POST /overrides, a request from the portal or the API), and who may ask and decide
(pager.domain.portal_desk)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pager.service.schedule import Schedule, parse_instant
from pager.sources.errors import InputError, Problem, check_text
from pager.storage.port import OverrideRequest, Store

MAX_RANGE = timedelta(days=400)
MAX_NOTE = 500
STATUSES = ("pending", "confirmed", "declined")


def override_fields(
    schedule: Schedule, data: Mapping[str, Any], *, what: str = "override", note: bool = False
) -> dict[str, Any]:
    """rotation, start, end (ISO 8601; without an offset wall time of the calendar's zone), person,
    replaces (optional), and for a request `note`: checked, InputError 422 naming every problem."""
    problems: list[Problem] = []
    rotation = data.get("rotation")
    if not isinstance(rotation, str) or rotation not in schedule.rotations:
        problems.append(Problem("rotation", "unknown rotation"))
    for key in ("person", "replaces"):
        v = data.get(key)
        if (key == "person" or v is not None) and (not isinstance(v, str) or v not in schedule.config.people):
            problems.append(Problem(key, "unknown person (not under people)"))
    times = {}
    for key in ("start", "end"):
        v = data.get(key)
        try:
            if not isinstance(v, str) or len(v) > 64:
                raise ValueError(key)
            times[key] = parse_instant(v, schedule.calendar.rules.tz)
        except (ValueError, OverflowError):
            problems.append(Problem(key, "expected an ISO 8601 instant (years 1900-2199)"))
    if len(times) == 2 and times["end"] <= times["start"]:
        problems.append(Problem("end", "must be after start"))
    if len(times) == 2 and times["end"] - times["start"] > MAX_RANGE:
        problems.append(Problem("end", "an override lasts at most 400 days"))
    text = data.get("note") if note else None
    if text is not None:
        p = check_text(text, "note", max_len=MAX_NOTE, multiline=True) if isinstance(text, str) else None
        if not isinstance(text, str) or p is not None:
            problems.append(p or Problem("note", "must be a string"))
    if problems:
        raise InputError(422, f"invalid {what}", problems)
    out = {
        "rotation": rotation,
        "start": times["start"],
        "end": times["end"],
        "person": data["person"],
        "replaces": data.get("replaces"),
    }
    if note:
        out["note"] = (text.strip() or None) if isinstance(text, str) else None
    return out


async def ask(store: Store, schedule: Schedule, data: Mapping[str, Any], *, by: str, now: datetime) -> OverrideRequest:
    """A swap or override request (the API's POST /override-requests, the portal's form): pending until
    the desk decides."""
    f = override_fields(schedule, data, what="override request", note=True)
    return await store.add_override_request(**f, requested_by=by, now=now)


async def decide(store: Store, request_id: int, *, confirm: bool, by: str, now: datetime) -> OverrideRequest:
    """Confirm (the override is made) or decline; NotFound, Conflict when decided before."""
    return await store.decide_override_request(request_id, confirm=confirm, decided_by=by, now=now)
