"""Monthly statements and the engineers' standby report (admin API)."""

from __future__ import annotations

from aiohttp import web

from pager.service.statement_render import to_csv, to_html
from pager.service.statements import StatementError, engineers, month_range, statement
from pager.sources.errors import InputError, Problem
from pager.storage.port import NotFound

from .api import _only, _rt


def _query(request: web.Request, allowed: set[str]) -> str:
    _only(request, allowed)
    month = request.query.get("month")
    if month is None:
        raise InputError(400, "invalid query", [Problem("month", "required: YYYY-MM")])
    return month


def _month(rt, month: str) -> None:
    try:
        month_range(month, rt.schedule.calendar)
    except StatementError as exc:
        raise InputError(400, "invalid query", [Problem("month", str(exc))]) from None


async def customer_statement(request: web.Request) -> web.Response:
    """GET /api/v1/billing/statements/{customer}?month=YYYY-MM[&format=json|csv|html]"""
    rt = _rt(request)
    month = _query(request, {"month", "format"})
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv", "html"):
        raise InputError(400, "invalid query", [Problem("format", "one of json, csv, html")])
    _month(rt, month)
    customer = request.match_info["customer"]
    cust = rt.config.customers.get(customer)
    if cust is None:
        raise NotFound(f"customer {customer[:64]!r} not found")
    if cust.rate is None:
        raise InputError(422, "customer is not billed", [Problem("customer", "no rate in the config")])
    st = await statement(rt.store, rt.config, rt.schedule, customer, month, rt.clock.now())
    if fmt == "csv":
        return web.Response(text=to_csv(st), content_type="text/csv", charset="utf-8")
    if fmt == "html":
        return web.Response(text=to_html(st), content_type="text/html", charset="utf-8")
    return web.json_response(st)


async def engineers_report(request: web.Request) -> web.Response:
    """GET /api/v1/billing/engineers?month=YYYY-MM"""
    rt = _rt(request)
    month = _query(request, {"month"})
    _month(rt, month)
    return web.json_response(await engineers(rt.store, rt.config, rt.schedule, month, rt.clock.now()))
