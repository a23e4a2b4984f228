"""Monthly statements and the engineers' standby report (admin API)."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from pager.service.statement_render import to_csv, to_html, to_pdf
from pager.service.statements import StatementError, engineers, month_range, statement
from pager.sources.errors import InputError, Problem
from pager.storage.port import NotFound

from .api import _only, _rt

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")  # what a file name in a header may carry of a customer id


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
    """GET /api/v1/billing/statements/{customer}?month=YYYY-MM[&format=json|csv|html|pdf]"""
    rt = _rt(request)
    month = _query(request, {"month", "format"})
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv", "html", "pdf"):
        raise InputError(400, "invalid query", [Problem("format", "one of json, csv, html, pdf")])
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
    if fmt == "pdf":
        # WeasyPrint lays the page out in a worker thread: the event loop keeps paging meanwhile
        pdf = await asyncio.to_thread(to_pdf, st)
        return web.Response(
            body=pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="statement-{_SAFE.sub("_", customer)}-{month}.pdf"'},
        )
    return web.json_response(st)


async def engineers_report(request: web.Request) -> web.Response:
    """GET /api/v1/billing/engineers?month=YYYY-MM"""
    rt = _rt(request)
    month = _query(request, {"month"})
    _month(rt, month)
    return web.json_response(await engineers(rt.store, rt.config, rt.schedule, month, rt.clock.now()))
