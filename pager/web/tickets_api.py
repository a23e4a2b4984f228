"""The support desk's tickets and contacts (admin API). Every check is pager.service.desk's."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pager.domain import portal_desk
from pager.service import desk, mail_desk
from pager.service.targets import RISK_SCAN, targets_json, ticket_targets, with_risk
from pager.sources.errors import InputError, Problem, load_json
from pager.storage.port import NotFound

from .api import _only, _rt
from .body import read_body

# a ticket's body may hold up to 64 KiB of text (pager.domain.ticket.MAX_BODY), escaped in JSON
MAX_TICKET_BODY = 256 * 1024


def _number(request: web.Request) -> int:
    raw = request.match_info["n"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15 or int(raw) == 0:
        raise InputError(400, "ticket number must be a positive integer", [Problem("n", "not a positive integer")])
    return int(raw)


async def _json(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    raw = await read_body(request, MAX_TICKET_BODY)
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if raw.strip() or required:
        if media != "application/json":
            raise InputError(415, "Content-Type must be application/json")
    data = load_json(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise InputError(422, "expected a JSON object")
    return data


def _answer(t: Any, status: int = 200) -> web.Response:
    return web.json_response(desk.ticket_json(t), status=status)


async def create_ticket(request: web.Request) -> web.Response:
    rt = _rt(request)
    data = await _json(request)
    t = await desk.file_ticket(rt.store, rt.config, data, rt.clock.now())
    return _answer(t, 201)


def _risk(request: web.Request) -> str | None:
    try:
        return portal_desk.parse_risk(request.query.get("risk"))
    except ValueError:
        expected = ", ".join(portal_desk.RISKS)
        raise InputError(400, "invalid query", [Problem("risk", f"expected one of {expected}")]) from None


async def list_tickets(request: web.Request) -> web.Response:
    """The tickets, newest first. `risk` keeps those whose request-target risk it names, judged as the
    desk's queue judges it (pager.service.targets.with_risk) among the newest RISK_SCAN of the others."""
    rt = _rt(request)
    _only(request, {"status", "project", "assignee", "q", "limit", "before", "risk"})
    risk = _risk(request)
    filters = desk.list_filters(rt.config, request.query)
    if risk is None:
        rows = await rt.store.list_tickets(**filters)
        return web.json_response([desk.ticket_json(t) for t in rows])
    limit = filters.pop("limit", 100)
    rows = await rt.store.list_tickets(**filters, limit=RISK_SCAN)
    judged = await with_risk(rt.store, rt.config, rt.schedule.calendar, rows, rt.clock.now(), risk=risk, limit=limit)
    listed = {t.number: t for t in rows}  # answered as listed, not with the timelines judged
    return web.json_response([{**desk.ticket_json(listed[t.number]), "risk": r} for t, r in judged])


async def get_ticket(request: web.Request) -> web.Response:
    rt = _rt(request)
    n = _number(request)
    t = await rt.store.get_ticket(n)
    if t is None:
        raise NotFound(f"ticket #{n} not found")
    out = desk.ticket_json(t)
    out["targets"] = targets_json(ticket_targets(rt.config, rt.schedule.calendar, t, rt.clock.now()))
    return web.json_response(out)


async def add_reply(request: web.Request) -> web.Response:
    rt = _rt(request)
    n = _number(request)
    e = desk.entry(await _json(request), reply=True)
    t = await rt.store.add_ticket_reply(
        n,
        actor=e["actor"],
        text=e["text"],
        from_customer=e["from_customer"],
        via="api",
        attachments=e["attachments"],
        now=rt.clock.now(),
    )
    return _answer(t, 201)


async def add_note(request: web.Request) -> web.Response:
    rt = _rt(request)
    n = _number(request)
    e = desk.entry(await _json(request), reply=False)
    t = await rt.store.add_ticket_note(n, actor=e["actor"], text=e["text"], now=rt.clock.now())
    return _answer(t, 201)


async def add_time(request: web.Request) -> web.Response:
    rt = _rt(request)
    n = _number(request)
    e = desk.time_entry(await _json(request))
    row = await rt.store.add_ticket_time(n, now=rt.clock.now(), **e)
    return web.json_response(row.to_json(), status=201)


async def update_ticket(request: web.Request) -> web.Response:
    rt = _rt(request)
    n = _number(request)
    changes, actor = desk.changes(rt.config, await _json(request))
    t = await rt.store.update_ticket(n, changes, actor=actor, now=rt.clock.now())
    return _answer(t)


async def page_ticket(request: web.Request) -> web.Response:
    rt = _rt(request)
    n = _number(request)
    paged = await desk.page(rt.store, rt.config, n, await _json(request, required=False), rt.clock.now())
    if rt.engine is not None:
        rt.engine.poke()  # routed and paged on the next tick
    return _answer(paged)


async def get_attachment(request: web.Request) -> web.Response:
    """An attachment's bytes, read back from the stored mail it came with (404: none, or metadata only)."""
    from .portal_desk import attachment_headers

    rt = _rt(request)
    n = _number(request)
    sha256 = request.match_info["sha256"]
    t = await rt.store.get_ticket(n)
    if t is None:
        raise NotFound(f"ticket #{n} not found")
    found = await mail_desk.attachment_content(rt.store, rt.config, t, sha256)
    if found is None:
        raise NotFound(f"ticket #{n} has no attachment {sha256[:64]!r} with content")
    return web.Response(body=found[1], headers=attachment_headers(found[0].name))


async def assign_tickets(request: web.Request) -> web.Response:
    """Bulk assign: every ticket named to one person (or unassigned), all or none."""
    rt = _rt(request)
    rows = await desk.assign_many(rt.store, rt.config, await _json(request), rt.clock.now())
    return web.json_response([desk.ticket_json(t) for t in rows])


async def list_contacts(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"customer"})
    customer = request.query.get("customer") or None
    if customer is not None and customer not in rt.config.customers:
        raise InputError(400, "invalid query", [Problem("customer", f"unknown customer {customer[:64]!r}")])
    runtime = await rt.store.list_contacts(customer)
    rows = [
        {
            "id": c.id,
            "customer": c.customer,
            "name": c.name,
            "emails": list(c.emails),
            "phone": c.phone,
            "language": c.language,
            "origin": "config",
        }
        for c in desk.configured_contacts(rt.config)
        if customer is None or c.customer == customer
    ]
    rows += [{**r.to_json(), "origin": "desk"} for r in runtime]
    return web.json_response(rows)


async def add_contact(request: web.Request) -> web.Response:
    rt = _rt(request)
    data = await _json(request)
    taken = {c.id for c in desk.all_contacts(rt.config, await rt.store.list_contacts())}
    fields = desk.contact(rt.config, taken, data)
    row = await rt.store.add_contact(**fields, now=rt.clock.now())
    return web.json_response({**row.to_json(), "origin": "desk"}, status=201)


def _mail_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15 or int(raw) == 0:
        raise InputError(400, "mail id must be a positive integer", [Problem("id", "not a positive integer")])
    return int(raw)


async def list_mail(request: web.Request) -> web.Response:
    """Stored incoming mail, oldest first; `status=unparseable` is the desk's list of mail to look at."""
    rt = _rt(request)
    _only(request, {"status", "limit", "after"})
    rows = await rt.store.list_mail(**mail_desk.list_filters(request.query))
    return web.json_response([m.to_json() for m in rows])


async def mail_raw(request: web.Request) -> web.Response:
    """One stored mail's bytes exactly as the MTA handed them over (message/rfc822)."""
    rt = _rt(request)
    mail_id = _mail_id(request)
    found = await rt.store.get_mail(mail_id)
    if found is None:
        raise NotFound(f"mail {mail_id} not found")
    return web.Response(
        body=found.raw,
        content_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="mail-{mail_id}.eml"'},
    )
