"""Swap and override requests (admin API): an engineer asks, the desk confirms (the override is made) or
declines. The portal's forms on /ui/oncall do the same through pager.service.override_requests."""

from __future__ import annotations

from aiohttp import web

from pager.service import override_requests as requests_
from pager.sources.errors import InputError, Problem

from .api import _json_body, _only, _path_id, _rt


async def list_requests(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"status"})
    status = request.query.get("status") or None
    if status is not None and status not in requests_.STATUSES:
        raise InputError(400, "invalid query", [Problem("status", f"one of {', '.join(requests_.STATUSES)}")])
    rows = await rt.store.list_override_requests(status=status)
    return web.json_response([r.to_json() for r in rows])


async def add_request(request: web.Request) -> web.Response:
    rt = _rt(request)
    data = await _json_body(
        request,
        {"rotation": True, "start": True, "end": True, "person": True, "replaces": False, "note": False, "by": False},
    )
    row = await requests_.ask(rt.store, rt.schedule, data, by=data.get("by") or "api", now=rt.clock.now())
    return web.json_response(row.to_json(), status=201)


async def _decide(request: web.Request, confirm: bool) -> web.Response:
    rt = _rt(request)
    rid = _path_id(request, "override request")
    data = await _json_body(request, {"by": False})
    row = await requests_.decide(rt.store, rid, confirm=confirm, by=data.get("by") or "api", now=rt.clock.now())
    return web.json_response(row.to_json())


async def confirm(request: web.Request) -> web.Response:
    return await _decide(request, True)


async def decline(request: web.Request) -> web.Response:
    return await _decide(request, False)
