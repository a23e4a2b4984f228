"""Dated standby bookings and worked time on incidents (admin API)."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from pager.domain.paging import MAX_WORKED_MINUTES
from pager.service.customer_portal import booking_problems
from pager.service.schedule import parse_instant
from pager.sources.errors import InputError, Problem
from pager.storage.port import NotFound

from .api import _incident_id, _json_body, _only, _path_id, _rt
from .keys import Runtime


def _times(rt: Runtime, data: dict, keys: tuple[str, str], problems: list[Problem]) -> dict[str, datetime]:
    times = {}
    for key in keys:
        if key not in data:
            continue
        try:
            times[key] = parse_instant(data[key], rt.schedule.calendar.rules.tz)
        except (ValueError, OverflowError):
            problems.append(Problem(key, "expected an ISO 8601 instant (years 1900-2199)"))
    return times


async def list_bookings(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"customer", "include_cancelled"})
    rows = await rt.store.list_bookings(
        request.query.get("customer"), include_cancelled=request.query.get("include_cancelled") in ("1", "true")
    )
    return web.json_response([r.to_json() for r in rows])


async def add_booking(request: web.Request) -> web.Response:
    rt = _rt(request)
    data = await _json_body(request, {"customer": True, "start": True, "end": True, "by": False})
    problems: list[Problem] = []
    times = _times(rt, data, ("start", "end"), problems)
    problems[:0] = booking_problems(rt.config, data["customer"], times.get("start"), times.get("end"))
    if problems:
        raise InputError(422, "invalid booking", problems)
    row = await rt.store.add_booking(
        customer=data["customer"],
        start=times["start"],
        end=times["end"],
        created_by=data.get("by") or "api",
        now=rt.clock.now(),
    )
    return web.json_response(row.to_json(), status=201)


async def cancel_booking(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"by"})
    row = await rt.store.cancel_booking(
        _path_id(request, "booking"), by=request.query.get("by", "api")[:64], now=rt.clock.now()
    )
    return web.json_response(row.to_json())


async def add_work(request: web.Request) -> web.Response:
    rt = _rt(request)
    iid = _incident_id(request)
    data = await _json_body(
        request,
        {"minutes": False, "start": False, "end": False, "by": False, "note": False},
        ints=frozenset({"minutes"}),
    )
    problems: list[Problem] = []
    has_span = "start" in data or "end" in data
    if "minutes" in data and has_span:
        problems.append(Problem("minutes", "give either minutes or start and end, not both"))
    elif "minutes" not in data and not has_span:
        problems.append(Problem("minutes", "give either minutes or start and end"))
    elif has_span:
        for key in ("start", "end"):
            if key not in data:
                problems.append(Problem(key, "required with " + ("end" if key == "start" else "start")))
    if "minutes" in data and not 1 <= data["minutes"] <= MAX_WORKED_MINUTES:
        problems.append(Problem("minutes", f"an integer from 1 to {MAX_WORKED_MINUTES}"))
    times = _times(rt, data, ("start", "end"), problems)
    if len(times) == 2:
        if times["end"] <= times["start"]:
            problems.append(Problem("end", "must be after start"))
        elif times["end"] - times["start"] > timedelta(minutes=MAX_WORKED_MINUTES):
            problems.append(Problem("end", f"an entry covers at most {MAX_WORKED_MINUTES} minutes"))
    if problems:
        raise InputError(422, "invalid time entry", problems)
    by = data.get("by") or "api"
    row = await rt.store.add_work(
        iid,
        person=by,
        start=times.get("start"),
        end=times.get("end"),
        minutes=data.get("minutes"),
        note=data.get("note"),
        by=by,
        now=rt.clock.now(),
    )
    return web.json_response(row.to_json(), status=201)


async def list_work(request: web.Request) -> web.Response:
    rt = _rt(request)
    iid = _incident_id(request)
    if await rt.store.get_incident(iid) is None:
        raise NotFound(f"incident {iid} not found")
    return web.json_response([w.to_json() for w in await rt.store.list_work(iid)])
