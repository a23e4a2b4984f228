"""The customer's pages of the portal: projects (tickets by status, progress), a new request, standby
bookings and standby requests (quote first, then sent; the desk confirms or declines), statements.

Everything is scoped as pager.domain.standby_request says: admin and desk see every customer, a customer's
contact only its own (another customer's project, request or statement answers 404, as one that does not
exist), an engineer none of these pages (403). Sessions, CSRF and rendering are pager.web.portal's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from pager.domain import standby_request as sr
from pager.domain.portal import Viewer
from pager.domain.projects import project_name
from pager.domain.ticket import MAX_BODY, MAX_SUBJECT
from pager.service import customer_portal as cp
from pager.service import desk
from pager.service.statement_render import Locale, statement_css, to_html
from pager.service.statements import StatementError, month_range, statement
from pager.sources.errors import InputError, Problem, check_text
from pager.storage.port import Conflict, NotFound, PortalSession

from . import portal as ui

log = structlog.get_logger("pagerd.portal")

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # a customer or project id as the config allows in a path
STATES = [s.value for s in sr.RequestState]
STATEMENT_CSS = "/ui/static/statement.css"
# the words the pages show for the config's and the calendar's values (msgids of the catalogue)
LABELS = {
    "evening_night": "evening and night",
    "weekend": "weekend",
    "holiday": "holiday",
    "standby": "standby",
    "office_hours": "office hours",
    "always": "always",
}


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/ui/projects", projects)
    r.add_get("/ui/projects/{customer}/{project}", project)
    r.add_get("/ui/projects/{customer}/{project}/request", new_request_page)
    r.add_post("/ui/projects/{customer}/{project}/request", new_request)
    r.add_get("/ui/bookings", bookings)
    r.add_get("/ui/bookings/request", standby_request_page)
    r.add_post("/ui/bookings/request", standby_request)
    r.add_post("/ui/bookings/requests/{id}", decide)
    r.add_get("/ui/statements/{customer}/{month}", statement_page)
    r.add_get(STATEMENT_CSS, stylesheet)


def _who(request: web.Request, s: PortalSession) -> Viewer:
    return ui.viewer_of(request, s)


def _actor(s: PortalSession) -> str:
    return s.account.person or s.account.email


def _not_yours(request: web.Request, s: PortalSession | None, what: str = "No such project.") -> web.Response:
    return ui._error(request, 404, what, s)


def _customer_pages(request: web.Request, s: PortalSession) -> web.Response | None:
    """An engineer has no customer pages (403); None for everyone else."""
    if not sr.may_open_customer_pages(_who(request, s)):
        return ui._error(request, 403, "This page is for the desk and the customer.", s)
    return None


async def _forms_session(request: web.Request) -> tuple[Mapping[str, str], PortalSession | None, web.Response | None]:
    """A posted form's fields and its session; or the answer that refuses it (403 CSRF, sign-in)."""
    form = await ui._form(request)
    s = await ui._session(request)
    if not form.get("csrf") or (s is not None and not ui._csrf_ok(form.get("csrf"), s.csrf)):
        return form, s, ui._error(request, 403, "The form has expired or did not come from this site.", s)
    if s is None:
        return form, s, ui._to_login(request)
    return form, s, None


# -- projects ------------------------------------------------------------------------------------------


async def projects(request: web.Request) -> web.Response:
    rt = ui._rt(request)
    s = await ui._session(request)
    if s is None:
        return ui._to_login(request)
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    rows = [
        {"customer": c, "project": p, "name": rt.config.customers[c].name}
        for c, p in cp.projects_of(rt.config, _who(request, s))
    ]
    return ui.render(request, "projects.html", {"projects": rows}, session=s)


def _locale(request: web.Request, s: PortalSession, currency: str = "EUR") -> Locale:
    """Amounts and hours in the reader's language, as the statement formats them (nl: "€ 1.234,50")."""
    lang = ui.language(request, s.account)
    return Locale(lang, ui._rt(request).schedule.calendar.zone, currency)


def _hours(loc: Locale, minutes: int) -> str:
    return loc.number(Decimal(minutes) / 60)


def _ids(request: web.Request) -> tuple[str, str] | None:
    c, p = request.match_info["customer"], request.match_info["project"]
    return (c, p) if _ID.match(c) and _ID.match(p) else None


async def project(request: web.Request) -> web.Response:
    rt = ui._rt(request)
    ids = _ids(request)
    s = await ui._session(request)
    if ids is None:
        return _not_yours(request, s)
    if s is None:
        return ui._to_login(request)
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    view = await cp.project_view(rt.store, rt.config, rt.schedule, _who(request, s), ids[0], ids[1], rt.clock.now())
    if view is None:
        return _not_yours(request, s)
    most = max([1] + [max(w.opened, w.closed) for w in view.weeks])
    return ui.render(
        request,
        "project.html",
        {
            "v": view,
            "most": most,
            "labels": LABELS,
            "can_request": not _who(request, s).staff,
            "statement": rt.config.customers[ids[0]].rate is not None,
            "hours": {
                k: _hours(_locale(request, s), getattr(view.hours, f"{k}_minutes"))
                for k in ("covered", "billable", "billed")
            },
        },
        session=s,
    )


async def _request_form(
    request: web.Request,
    s: PortalSession,
    ids: tuple[str, str],
    *,
    status: int = 200,
    problems: list[Problem] | None = None,
    form: Mapping[str, str] | None = None,
) -> web.Response:
    return ui.render(
        request,
        "new_request.html",
        {
            "customer": ids[0],
            "project": ids[1],
            "problems": problems or [],
            "form": form or {},
            "max_subject": MAX_SUBJECT,
            "max_body": MAX_BODY,
        },
        status=status,
        session=s,
    )


async def new_request_page(request: web.Request) -> web.Response:
    rt = ui._rt(request)
    ids = _ids(request)
    s = await ui._session(request)
    if ids is None:
        return _not_yours(request, s)
    if s is None:
        return ui._to_login(request)
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    if (
        await cp.project_view(rt.store, rt.config, rt.schedule, _who(request, s), ids[0], ids[1], rt.clock.now())
        is None
    ):
        return _not_yours(request, s)
    return await _request_form(request, s, ids)


async def new_request(request: web.Request) -> web.Response:
    """A new ticket in the project, filed as POST /api/v1/tickets files one (pager.service.desk), from the
    contact's address (it finds the contact)."""
    rt = ui._rt(request)
    ids = _ids(request)
    form, s, refused = await _forms_session(request)
    if ids is None:
        return _not_yours(request, s)
    if refused is not None:
        return refused
    assert s is not None
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    who = _who(request, s)
    if ids[0] not in rt.config.customers or ids[1] not in rt.config.customers[ids[0]].projects:
        return _not_yours(request, s)
    if not cp.may_see_project(who, ids[0]):
        return _not_yours(request, s)
    subject = form.get("subject", "")
    body = form.get("body", "").replace("\r\n", "\n")
    data: dict[str, Any] = {
        "subject": subject,
        "body": body,
        "project": project_name(ids[0], ids[1]),
        "by": s.account.email,
    }
    if not who.staff:
        data["from"] = s.account.email
    shown = {"subject": subject[:MAX_SUBJECT], "body": body[:MAX_BODY]}
    try:
        t = await desk.file_ticket(rt.store, rt.config, data, rt.clock.now())
    except InputError as exc:
        return await _request_form(request, s, ids, status=422, problems=exc.problems, form=shown)
    log.info("portal_new_request", ticket=t.number, account=s.account.id)
    return ui._redirect(f"{ui.PREFIX}/tickets/{t.number}")


# -- bookings and standby requests ---------------------------------------------------------------------


async def bookings(request: web.Request) -> web.Response:
    rt = ui._rt(request)
    s = await ui._session(request)
    customer = request.query.get("customer") or None
    if customer is not None and customer not in rt.config.customers:
        return ui._error(request, 400, "Unknown customer.", s)
    if s is None:
        return ui._to_login(request)
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    who = _who(request, s)
    requests_ = await cp.requests_for(rt.store, who, customer, None)
    rows = [{"r": r, "may": sr.choices(who, r.customer, sr.RequestState(r.status))} for r in requests_]
    return ui.render(
        request,
        "bookings.html",
        {
            "requests": rows,
            "bookings": await cp.bookings_for(rt.store, who, customer),
            "customers": sorted(rt.config.customers) if sr.may_decide(who) else [],
            "customer": customer,
            "desk": sr.may_decide(who),
            "sent": request.query.get("sent", "")[:16],
            "money": lambda amount, currency: _locale(request, s, currency).money(amount),
        },
        session=s,
    )


def _requested_customer(who: Viewer, value: str | None) -> str | None:
    """The customer a standby request is for: a contact's own; the desk names one."""
    if not sr.may_decide(who):
        return who.customer
    return value or None


async def _standby_form(
    request: web.Request,
    s: PortalSession,
    fields: Mapping[str, str],
    *,
    status: int = 200,
    problems: list[Problem] | None = None,
    quote: Any = None,
    checked: bool = False,
) -> web.Response:
    rt = ui._rt(request)
    who = _who(request, s)
    return ui.render(
        request,
        "standby_request.html",
        {
            "f": {k: fields.get(k, "")[:200] for k in ("customer", "start", "end")}
            | {"note": fields.get("note", "")[: sr.MAX_NOTE]},
            "customers": sorted(rt.config.customers) if sr.may_decide(who) else [],
            "problems": problems or [],
            "quote": quote,
            "checked": checked,
            "labels": LABELS,
            "money": _locale(request, s, quote.currency if quote is not None else "EUR").money,
        },
        status=status,
        session=s,
    )


async def standby_request_page(request: web.Request) -> web.Response:
    """The request form; with start and end, the quote of that period and the button that sends it."""
    rt = ui._rt(request)
    s = await ui._session(request)
    if s is None:
        return ui._to_login(request)
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    q = request.query
    if not q.get("start") and not q.get("end"):
        return await _standby_form(request, s, q)
    who = _who(request, s)
    customer = _requested_customer(who, q.get("customer"))
    if customer is None or customer not in rt.config.customers:
        return await _standby_form(request, s, q, status=422, problems=[Problem("customer", "choose a customer")])
    try:
        _start, _end, _note, quote = cp.checked_request(rt.config, rt.schedule, who, customer, dict(q), rt.clock.now())
    except InputError as exc:
        if exc.status == 404:
            return _not_yours(request, s, "No such customer.")
        return await _standby_form(request, s, q, status=422, problems=exc.problems)
    return await _standby_form(request, s, q, quote=quote, checked=True)


async def standby_request(request: web.Request) -> web.Response:
    rt = ui._rt(request)
    form, s, refused = await _forms_session(request)
    if refused is not None:
        return refused
    assert s is not None
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    who = _who(request, s)
    customer = _requested_customer(who, form.get("customer"))
    if customer is None or customer not in rt.config.customers:
        return await _standby_form(request, s, form, status=422, problems=[Problem("customer", "choose a customer")])
    try:
        row = await cp.request_standby(
            rt.store, rt.config, rt.schedule, who, s.account.email, customer, dict(form), rt.clock.now()
        )
    except InputError as exc:
        if exc.status == 404:
            return _not_yours(request, s, "No such customer.")
        return await _standby_form(request, s, form, status=422, problems=exc.problems)
    log.info("portal_standby_requested", request=row.id, customer=customer, account=s.account.id)
    return ui._redirect(f"{ui.PREFIX}/bookings?sent={row.id}#request-{row.id}")


async def decide(request: web.Request) -> web.Response:
    rt = ui._rt(request)
    raw = request.match_info["id"]
    form, s, refused = await _forms_session(request)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        return _not_yours(request, s, "No such standby request.")
    if refused is not None:
        return refused
    assert s is not None
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    try:
        action = sr.Action(form.get("action", ""))
    except ValueError:
        return ui._error(request, 400, "Unknown action.", s)
    reason = form.get("reason", "").replace("\r\n", "\n").strip() or None
    if reason is not None and check_text(reason, "reason", max_len=sr.MAX_REASON, multiline=True) is not None:
        return ui._error(request, 422, "The reason is too long or holds characters that cannot be stored.", s)
    try:
        row, booking = await cp.decide(
            rt.store, rt.config, _who(request, s), _actor(s), int(raw), action, reason, rt.clock.now()
        )
    except sr.Refused as exc:
        messages = {
            404: "No such standby request.",
            403: "Only the desk confirms or declines a standby request.",
            409: "This standby request has been decided already.",
        }
        return ui._error(request, exc.status, messages[exc.status], s)
    except (Conflict, NotFound):
        return ui._error(request, 409, "This standby request has been decided already.", s)
    except InputError:
        return ui._error(request, 422, "This period cannot be booked.", s)
    log.info("portal_standby_decided", request=row.id, status=row.status, booking=booking.id if booking else None)
    return ui._redirect(f"{ui.PREFIX}/bookings#request-{row.id}")


# -- statements ----------------------------------------------------------------------------------------


async def statement_page(request: web.Request) -> web.Response:
    """The statement page of the billing engine (pager.service.statement_render), read-only: viewing
    never issues a statement number."""
    rt = ui._rt(request)
    customer, month = request.match_info["customer"], request.match_info["month"]
    s = await ui._session(request)
    if s is None:
        return ui._to_login(request)
    if (refused := _customer_pages(request, s)) is not None:
        return refused
    cust = rt.config.customers.get(customer)
    who = _who(request, s)
    # a statement sums up all of the customer's tickets: not for a contact that sees only its own
    if cust is None or not sr.may_see(who, customer) or not ui.rules.sees_whole_customer(who):
        return _not_yours(request, s, "No such statement.")
    try:
        month_range(month, rt.schedule.calendar)
    except StatementError:
        return _not_yours(request, s, "No such statement.")
    if cust.rate is None:
        return _not_yours(request, s, "No such statement.")
    st = await statement(rt.store, rt.config, rt.schedule, customer, month, rt.clock.now(), issue=False)
    lang = ui.language(request, s.account)
    html = to_html({**st, "language": lang}, css_href=STATEMENT_CSS, nav=ui.nav(request, s))
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Content-Language"] = lang
    return response


async def stylesheet(request: web.Request) -> web.Response:
    # the statement's style, then the portal header's (ui.site_css), as the page shows both
    return web.Response(body=statement_css().encode() + ui.site_css(), content_type="text/css", charset="utf-8")
