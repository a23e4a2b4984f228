"""Calendar, on-call, shifts, overrides (admin API) and the iCalendar feeds (token in the URL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from pager.service import ical
from pager.service.override_requests import MAX_RANGE, override_fields
from pager.service.schedule import overrides_from, parse_instant
from pager.service.signing import Keyring
from pager.sources.errors import InputError, Problem

from .api import _json_body, _only, _path_id, _rt
from .keys import RUNTIME, Runtime

# a wrong token and an unknown feed look the same; a feed URL also stops working once the signing key
# that made its token is no longer accepted
NO_FEED = (
    "no such feed, or its URL is no longer valid (feed URLs change when the signing key is rotated: "
    "get the current one with `pagerd ical-url` or GET /api/v1/ical-url)"
)


def _instant(rt: Runtime, value: str | None, field: str) -> datetime:
    if value is None:
        return rt.clock.now()
    try:
        return parse_instant(value, rt.schedule.calendar.rules.tz)
    except (ValueError, OverflowError):
        raise InputError(
            400, "invalid query", [Problem(field, "expected an ISO 8601 instant (years 1900-2199)")]
        ) from None


async def _overrides(rt: Runtime):
    return overrides_from(await rt.store.list_overrides())


async def calendar(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"at"})
    return web.json_response(rt.schedule.describe(_instant(rt, request.query.get("at"), "at")))


async def oncall(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"at", "rotation"})
    at = _instant(rt, request.query.get("at"), "at")
    rotation = request.query.get("rotation")
    if rotation is not None and rotation not in rt.schedule.rotations:
        raise InputError(404, f"unknown rotation {rotation[:64]!r}")
    return web.json_response(rt.schedule.on_call(at, await _overrides(rt), rotation))


def _rotation(rt: Runtime, request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in rt.schedule.rotations:
        raise InputError(404, f"unknown rotation {name[:64]!r}")
    return name


async def rotations(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, set())
    return web.json_response(
        [
            {
                "name": name,
                "participants": rt.schedule.participants(name),
                "timezone": getattr(rot, "tz", None) or rot.layers[0].tz,
                "restrict_to": sorted(p.value for p in rot.restrict_to) if getattr(rot, "restrict_to", None) else None,
                "layers": len(getattr(rot, "layers", ())) or 1,
                "ical_url": ical.url_for(rt.config, "rotation", name),
            }
            for name, rot in rt.schedule.rotations.items()
        ]
    )


async def rotation_shifts(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"from", "to"})
    name = _rotation(rt, request)
    now = rt.clock.now()
    start = _instant(rt, request.query.get("from"), "from") if "from" in request.query else now
    end = _instant(rt, request.query.get("to"), "to") if "to" in request.query else start + timedelta(days=28)
    if end <= start:
        raise InputError(400, "invalid query", [Problem("to", "must be after from")])
    if end - start > MAX_RANGE:
        raise InputError(400, "invalid query", [Problem("to", "at most 400 days after from")])
    return web.json_response(rt.schedule.shifts(name, start, end, await _overrides(rt)))


async def list_overrides(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"rotation", "include_removed"})
    rows = await rt.store.list_overrides(
        request.query.get("rotation"), include_removed=request.query.get("include_removed") in ("1", "true")
    )
    return web.json_response([r.to_json() for r in rows])


async def add_override(request: web.Request) -> web.Response:
    rt = _rt(request)
    data = await _json_body(
        request, {"rotation": True, "start": True, "end": True, "person": True, "replaces": False, "by": False}
    )
    f = override_fields(rt.schedule, data)
    row = await rt.store.add_override(
        **f,
        created_by=data.get("by") or "api",
        now=rt.clock.now(),
    )
    return web.json_response(row.to_json(), status=201)


async def remove_override(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"by"})
    row = await rt.store.remove_override(
        _path_id(request, "override"), removed_by=request.query.get("by", "api")[:64], now=rt.clock.now()
    )
    return web.json_response(row.to_json())


async def ical_feed(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    kind = request.match_info["kind"]
    name = request.match_info["name"]
    kind = {folder: k for k, folder in ical.FOLDERS.items()}.get(kind, "")
    if not kind or not ical.token_ok(Keyring.of(rt.config.auth), kind, name, request.query.get("token", "")):
        raise InputError(404, NO_FEED)  # wrong token and unknown feed look the same
    now = rt.clock.now()
    start, end = now - timedelta(days=30), now + timedelta(days=365)
    overrides = await _overrides(rt)
    if kind == "rotation":
        if name not in rt.schedule.rotations:
            raise InputError(404, NO_FEED)
        rows = rt.schedule.shifts(name, start, end, overrides)
        title = f"On call: {name}"
    else:
        if name not in rt.config.people:
            raise InputError(404, NO_FEED)
        rows = [
            s
            for r in rt.schedule.rotations
            for s in rt.schedule.shifts(r, start, end, overrides)
            if s["person"] == name
        ]
        title = f"On call: {rt.config.people[name].name}"
    return web.Response(body=ical.render(title, rows, now), content_type="text/calendar", charset="utf-8")


def person_feed_url(rt: Runtime, person: str) -> str:
    return ical.url_for(rt.config, "person", person)


async def ical_url(request: web.Request) -> web.Response:
    """The signed iCal feed URL of one person (`?person=ID`) or one rotation (`?rotation=NAME`)."""
    rt = _rt(request)
    _only(request, {"person", "rotation"})
    given = [(kind, request.query.getall(kind)) for kind in ("person", "rotation") if kind in request.query]
    if len(given) != 1:
        raise InputError(400, "invalid query", [Problem("person", "give exactly one of person=ID and rotation=NAME")])
    kind, values = given[0]
    if len(values) != 1 or not values[0]:
        raise InputError(400, "invalid query", [Problem(kind, "give one non-empty value")])
    try:
        return web.json_response({"url": ical.url_for(rt.config, kind, values[0])})
    except ical.UnknownFeed as exc:
        raise InputError(404, str(exc)) from None
