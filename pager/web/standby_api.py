"""Standby requests and their quote (admin API): what the portal's customers request and the desk
confirms or declines, the same rules (pager.domain.standby_request) through the same service."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pager.domain import standby_request as sr
from pager.domain.portal import Role, Viewer
from pager.service import customer_portal as cp
from pager.sources.errors import InputError, Problem
from pager.storage.port import Conflict, NotFound, StandbyRequest

from .api import _json_body, _only, _path_id, _rt

ADMIN = Viewer(role=Role.ADMIN)
STATES = [s.value for s in sr.RequestState]


def request_json(r: StandbyRequest, quote: Any = None) -> dict[str, Any]:
    out = r.to_json()
    if quote is not None:
        out["quote"] = quote.as_dict()
    return out


def _customer(request: web.Request, value: object) -> str:
    rt = _rt(request)
    if not isinstance(value, str) or value not in rt.config.customers:
        raise InputError(
            422, "invalid standby request", [Problem("customer", "unknown customer (not under customers)")]
        )
    return value


async def list_requests(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"customer", "status"})
    status = request.query.get("status")
    if status is not None and status not in STATES:
        raise InputError(400, "invalid query", [Problem("status", f"one of {', '.join(STATES)}")])
    rows = await cp.requests_for(rt.store, ADMIN, request.query.get("customer"), status)
    return web.json_response([r.to_json() for r in rows])


async def add_request(request: web.Request) -> web.Response:
    rt = _rt(request)
    data = await _json_body(request, {"customer": True, "start": True, "end": True, "note": False, "by": False})
    customer = _customer(request, data["customer"])
    row = await cp.request_standby(
        rt.store, rt.config, rt.schedule, ADMIN, data.get("by") or "api", customer, data, rt.clock.now()
    )
    quote = cp.quote_of(rt.config, rt.schedule, row.customer, row.start, row.end)
    return web.json_response(request_json(row, quote), status=201)


async def get_request(request: web.Request) -> web.Response:
    rt = _rt(request)
    rid = _path_id(request, "standby request")
    row = await rt.store.get_standby_request(rid)
    if row is None:
        raise NotFound(f"standby request {rid} not found")
    return web.json_response(request_json(row, cp.quote_of(rt.config, rt.schedule, row.customer, row.start, row.end)))


async def quote(request: web.Request) -> web.Response:
    """GET /api/v1/standby-quote?customer=&start=&end=: what a standby request would cost, nothing stored."""
    rt = _rt(request)
    _only(request, {"customer", "start", "end"})
    customer = request.query.get("customer", "")
    if customer not in rt.config.customers:
        raise InputError(400, "invalid query", [Problem("customer", "unknown customer (not under customers)")])
    start, end, _note, q = cp.checked_request(
        rt.config, rt.schedule, ADMIN, customer, dict(request.query), rt.clock.now()
    )
    if q is None:
        raise InputError(422, "customer is not billed", [Problem("customer", "no rate in the config")])
    return web.json_response(q.as_dict())


async def _decide(request: web.Request, action: sr.Action) -> web.Response:
    rt = _rt(request)
    rid = _path_id(request, "standby request")
    fields = {"by": False, "reason": False} if action is sr.Action.DECLINE else {"by": False}
    data = await _json_body(request, fields)
    try:
        row, booking = await cp.decide(
            rt.store, rt.config, ADMIN, data.get("by") or "api", rid, action, data.get("reason"), rt.clock.now()
        )
    except sr.Refused as exc:
        if exc.status == 404:
            raise NotFound(f"standby request {rid} not found") from None
        raise Conflict(exc.reason) from None
    out = request_json(row)
    if booking is not None:
        out["booking"] = booking.to_json()
    return web.json_response(out)


async def confirm(request: web.Request) -> web.Response:
    return await _decide(request, sr.Action.CONFIRM)


async def decline(request: web.Request) -> web.Response:
    return await _decide(request, sr.Action.DECLINE)


async def withdraw(request: web.Request) -> web.Response:
    return await _decide(request, sr.Action.WITHDRAW)


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/api/v1/standby-requests", list_requests)
    r.add_post("/api/v1/standby-requests", add_request)
    r.add_get("/api/v1/standby-requests/{id}", get_request)
    r.add_post("/api/v1/standby-requests/{id}/confirm", confirm)
    r.add_post("/api/v1/standby-requests/{id}/decline", decline)
    r.add_post("/api/v1/standby-requests/{id}/withdraw", withdraw)
    r.add_get("/api/v1/standby-quote", quote)
