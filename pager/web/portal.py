"""The portal under /ui/: server-rendered pages (aiohttp-jinja2), no script, in Dutch or English.

Sign-in with e-mail and password starts a server-side session (cookie `pagerd_session`: HttpOnly,
SameSite=Strict, Secure when the public URL is https); every form carries a CSRF token (the session's, or
before sign-in the `pagerd_form` cookie's). What a page shows is read through pager.service.portal, which
scopes every ticket by pager.domain.portal: a customer's contact never sees another customer's ticket
(404, as if it did not exist) nor an internal note.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web
from markupsafe import Markup

from pager.domain import portal as rules
from pager.domain.portal import Viewer
from pager.domain.ticket import MAX_BODY, Status
from pager.service import portal
from pager.service.schedule import overrides_from
from pager.sources.errors import check_text
from pager.storage.port import Account, Conflict, PortalSession

from .i18n import translator
from .keys import RUNTIME, Runtime

log = structlog.get_logger("pagerd.portal")

SESSION_COOKIE = "pagerd_session"
FORM_COOKIE = "pagerd_form"  # the CSRF token of the forms shown before sign-in (login, password link)
LANGUAGE_COOKIE = "pagerd_lang"  # the language chosen with the switch in this browser (nl, en)
LANGUAGE_KEPT = 365 * 24 * 3600
PREFIX = "/ui"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
STATUSES = [s.value for s in Status]
MAX_FIELD = 1024
_STATIC = resources.files("pager.web").joinpath("static")
SESSION = "pagerd.portal_session"  # the request's live session, once read


@dataclass(frozen=True)
class StaffViews:
    """What the staff see on the pages this module serves to everyone (the ticket list, a ticket, on call):
    pager.web.portal_desk's, registered by its setup() (it builds on this module, not the other way)."""

    queue: Callable[..., Awaitable[web.Response]]
    ticket_page: Callable[..., Awaitable[web.Response]]
    oncall_extras: Callable[..., Awaitable[dict[str, Any]]]


STAFF_VIEWS = web.AppKey("pagerd.portal_staff_views", StaffViews)


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("pager.web", "templates/portal"),
        auto_reload=False,  # the installed templates do not change under a running daemon: no stat per page
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = _when
    r = app.router
    r.add_get("/ui/", home)
    r.add_get("/ui/login", login_page)
    r.add_post("/ui/login", login)
    r.add_post("/ui/logout", logout)
    r.add_post("/ui/language", switch_language)
    r.add_get("/ui/tickets", tickets)
    r.add_get("/ui/tickets/{number}", ticket)
    r.add_post("/ui/tickets/{number}", reply)
    r.add_get("/ui/oncall", oncall)
    r.add_get("/ui/password/{token}", password_page)
    r.add_post("/ui/password/{token}", set_password)
    r.add_get("/ui/static/portal.css", stylesheet)


def _rt(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def _when(dt: datetime | str | None, tz: str) -> str:
    if dt is None:
        return ""
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt.replace("Z", "+00:00"))
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _secure(request: web.Request) -> bool:
    return _rt(request).config.server.public_url.lower().startswith("https://")


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path=PREFIX, httponly=True, secure=_secure(request), samesite="Strict", max_age=None
    )


def _clear_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=PREFIX, secure=_secure(request), httponly=True, samesite="Strict")


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    session: PortalSession | None = None,
) -> web.Response:
    ctx = {**_page_context(request, session), **(context or {})}
    response = aiohttp_jinja2.render_template(template, request, ctx, status=status)
    response.headers["Content-Language"] = ctx["lang"]
    return response


def _page_context(request: web.Request, session: PortalSession | None) -> dict[str, Any]:
    """What every page's template (and the header, nav.html) is rendered with."""
    rt = _rt(request)
    account = session.account if session else None
    lang = language(request, account)
    return {
        "_": translator(lang),
        "lang": lang,
        "account": account,
        "csrf": session.csrf if session else "",
        "tz": rt.schedule.calendar.rules.tz,
        "staff": account is not None and account.role in rules.STAFF,
        "here": request.path_qs,  # where the language switch comes back to
    }


def language(request: web.Request, account: Account | None) -> str:
    """The language of the pages for this request (pager.domain.portal.choose_language): the account's, the
    one chosen in this browser, Accept-Language."""
    return rules.choose_language(
        account.language if account else None,
        request.headers.get("Accept-Language"),
        chosen=request.cookies.get(LANGUAGE_COOKIE),
    )


def nav(request: web.Request, session: PortalSession) -> Markup:
    """The portal's header and navigation alone (nav.html), for a page not made of the portal's templates
    (the statement)."""
    return Markup(aiohttp_jinja2.render_string("nav.html", request, _page_context(request, session)))  # noqa: S704


def site_css() -> bytes:
    """The header's style (static/site.css), served after portal.css and after the statement's style."""
    return _STATIC.joinpath("site.css").read_bytes()


def _error(request: web.Request, status: int, message: str, session: PortalSession | None = None) -> web.Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status, session=session)


@web.middleware
async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Security headers on every /ui answer; an error there is a page, not JSON. Each answer says how long
    the server took to make it (`Server-Timing: app;dur=` milliseconds, what bench/portal.py reports)."""
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return await handler(request)
    clock = _rt(request).clock  # the daemon's clock (a manual one in tests)
    started = clock.monotonic()
    session = request.get(SESSION)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(request, exc.status, exc.reason, request.get(SESSION))
        if exc.headers.get("Allow"):
            response.headers["Allow"] = exc.headers["Allow"]
    except (sqlite3.OperationalError, OSError, TimeoutError):
        log.exception("portal_unavailable", path=request.path)
        response = _error(request, 503, "The service is unavailable; nothing was stored. Try again shortly.", session)
        response.headers["Retry-After"] = "5"
    except Exception:
        log.exception("portal_failed", path=request.path)
        response = _error(request, 500, "Internal error; nothing was stored.", session)
    response.headers.update(SECURITY_HEADERS)
    if request.path != PREFIX + "/static/portal.css":
        response.headers["Cache-Control"] = "no-store"
    response.headers["Server-Timing"] = f"app;dur={1000 * (clock.monotonic() - started):.1f}"
    return response


async def _session(request: web.Request) -> PortalSession | None:
    rt = _rt(request)
    s = await portal.live_session(rt.store, request.cookies.get(SESSION_COOKIE), rt.clock.now())
    if s is not None:
        request[SESSION] = s
    return s


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _to_login(request: web.Request) -> web.Response:
    response = _redirect(PREFIX + "/login")
    if request.cookies.get(SESSION_COOKIE):
        _clear_cookie(request, response, SESSION_COOKIE)
    return response


async def _form(request: web.Request) -> Mapping[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str) and len(k) <= 64}


def _csrf_ok(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and portal.same(given or "", expected or "")


# -- pages ---------------------------------------------------------------------------------------------


async def home(request: web.Request) -> web.Response:
    return _redirect(PREFIX + "/tickets")


def _login_form(request: web.Request, *, status: int = 200, error: str | None = None, email: str = "") -> web.Response:
    token = request.cookies.get(FORM_COOKIE)
    if not token or len(token) > 128:
        token = portal.new_token()
    notice = "password_set" if request.query.get("password") == "set" else None
    response = render(
        request, "login.html", {"form_csrf": token, "error": error, "email": email, "notice": notice}, status=status
    )
    _set_cookie(request, response, FORM_COOKIE, token)
    return response


async def login_page(request: web.Request) -> web.Response:
    if await _session(request) is not None:
        return _redirect(PREFIX + "/tickets")
    return _login_form(request)


async def login(request: web.Request) -> web.Response:
    rt = _rt(request)
    form = await _form(request)
    if not _csrf_ok(form.get("csrf"), request.cookies.get(FORM_COOKIE)):
        return _error(
            request, 403, "The form has expired or did not come from this site. Reload the page and try again."
        )
    email, password = form.get("email", "")[:MAX_FIELD], form.get("password", "")[: rules.MAX_PASSWORD + 1]
    previous = request.cookies.get(SESSION_COOKIE)
    result = await portal.sign_in(
        rt.store,
        email,
        password,
        client=request.remote,
        previous=previous if previous and len(previous) <= 128 else None,
        now=rt.clock.now(),
    )
    if result.locked is not None and result.token is None:
        seconds = max(1, math.ceil(result.locked.total_seconds()))
        response = _login_form(request, status=429, error="locked", email=email)
        response.headers["Retry-After"] = str(seconds)
        log.warning("portal_sign_in_locked", client=request.remote, retry_after=seconds)
        return response
    if result.token is None:
        log.info("portal_sign_in_failed", client=request.remote)
        return _login_form(request, status=401, error="wrong", email=email)
    assert result.session is not None
    log.info("portal_signed_in", account=result.session.account.id, role=result.session.account.role)
    response = _redirect(PREFIX + ("/login/totp" if result.session.factor_due else "/tickets"))
    _set_cookie(request, response, SESSION_COOKIE, result.token)
    _clear_cookie(request, response, FORM_COOKIE)
    return response


async def logout(request: web.Request) -> web.Response:
    rt = _rt(request)
    form = await _form(request)
    s = await _session(request)
    if not form.get("csrf") or (s is not None and not _csrf_ok(form.get("csrf"), s.csrf)):
        return _error(request, 403, "The form has expired or did not come from this site.", s)
    if s is None:
        return _to_login(request)
    await rt.store.end_session(portal.token_hash(request.cookies[SESSION_COOKIE]), now=rt.clock.now())
    response = _redirect(PREFIX + "/login")
    _clear_cookie(request, response, SESSION_COOKIE)
    return response


async def switch_language(request: web.Request) -> web.Response:
    """POST /ui/language: the language switch of every page (a form, no script). Kept in a cookie of this
    browser and, signed in, as the account's language (its pages and mail); then back to `next`, a page of
    the portal's own. The form's token is the session's, or before sign-in the sign-in form's."""
    rt = _rt(request)
    form = await _form(request)
    s = await _session(request)
    expected = s.csrf if s is not None else request.cookies.get(FORM_COOKIE)
    if not _csrf_ok(form.get("csrf"), expected):
        return _error(request, 403, "The form has expired or did not come from this site.", s)
    lang = form.get("lang", "")
    if lang not in rules.LANGUAGES:
        return _error(request, 400, "Unknown language.", s)
    if s is not None:
        await rt.store.set_account_language(s.account.id, lang)
        log.info("portal_language_chosen", account=s.account.id, language=lang)
    response = _redirect(rules.safe_next(form.get("next")))
    response.set_cookie(
        LANGUAGE_COOKIE, lang, path=PREFIX, max_age=LANGUAGE_KEPT, httponly=True, secure=_secure(request),
        samesite="Lax",
    )  # fmt: skip
    return response


async def tickets(request: web.Request) -> web.Response:
    rt = _rt(request)
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:  # bad input is refused before anything else
        return _error(request, 400, "Unknown status.", await _session(request))
    s = await _session(request)
    if s is None:
        return _to_login(request)
    if s.account.role in rules.STAFF:
        return await request.app[STAFF_VIEWS].queue(request, s)
    rows = await portal.tickets_for(rt.store, viewer_of(request, s), status=status)
    return render(request, "tickets.html", {"tickets": rows, "status": status, "statuses": STATUSES}, session=s)


def viewer_of(request: web.Request, s: PortalSession) -> Viewer:
    """The session's account as the portal's rules see it (pager.service.portal.viewer)."""
    return portal.viewer(s.account, _rt(request).config)


def _number(request: web.Request) -> int | None:
    raw = request.match_info["number"].removeprefix("#")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15 or int(raw) == 0:
        return None
    return int(raw)


async def _ticket_page(
    request: web.Request, s: PortalSession, number: int, *, status: int = 200, error: str | None = None, text: str = ""
) -> web.Response:
    t = await portal.ticket_for(_rt(request).store, viewer_of(request, s), number)
    if t is None:
        return _error(request, 404, "No such ticket.", s)
    if s.account.role in rules.STAFF:
        return await request.app[STAFF_VIEWS].ticket_page(request, s, t, status=status, error=error, text=text)
    return render(request, "ticket.html", {"t": t, "error": error, "text": text}, status=status, session=s)


async def ticket(request: web.Request) -> web.Response:
    number = _number(request)
    s = await _session(request)
    if number is None:
        return _error(request, 404, "No such ticket.", s)
    if s is None:
        return _to_login(request)
    return await _ticket_page(request, s, number)


async def reply(request: web.Request) -> web.Response:
    rt = _rt(request)
    number = _number(request)
    form = await _form(request)
    s = await _session(request)
    if number is None:
        return _error(request, 404, "No such ticket.", s)
    if not form.get("csrf") or (s is not None and not _csrf_ok(form.get("csrf"), s.csrf)):
        return _error(request, 403, "The form has expired or did not come from this site.", s)
    if s is None:
        return _to_login(request)
    who = viewer_of(request, s)
    if await portal.ticket_for(rt.store, who, number) is None:
        return _error(request, 404, "No such ticket.", s)
    text = form.get("text", "").replace("\r\n", "\n")
    if not text.strip():
        return await _ticket_page(request, s, number, status=422, error="empty", text=text)
    if check_text(text, "text", max_len=MAX_BODY, multiline=True) is not None:
        return await _ticket_page(request, s, number, status=422, error="invalid", text=text[:MAX_BODY])
    try:
        await rt.store.add_ticket_reply(
            number,
            actor=s.account.person or s.account.email if who.staff else s.account.email,
            text=text,
            from_customer=not who.staff,
            via="portal",
            attachments=(),
            now=rt.clock.now(),
        )
    except Conflict:
        return await _ticket_page(request, s, number, status=409, error="closed", text=text)
    log.info("portal_reply", ticket=number, account=s.account.id)
    return _redirect(f"{PREFIX}/tickets/{number}#latest")


async def oncall(request: web.Request) -> web.Response:
    rt = _rt(request)
    s = await _session(request)
    if s is None:
        return _to_login(request)
    if not rules.may_see_oncall(viewer_of(request, s)):
        return _error(request, 403, "This page is for the agency's staff.", s)
    now = rt.clock.now()
    overrides = overrides_from(await rt.store.list_overrides())
    now_on = rt.schedule.on_call(now, overrides)
    nxt = {r["rotation"]: r for r in rt.schedule.next_on_call(now, overrides)}
    rows = [{"now": r, "next": nxt.get(r["rotation"])} for r in now_on]
    mine = await request.app[STAFF_VIEWS].oncall_extras(request, s, now)
    return render(request, "oncall.html", {"rows": rows, "now": now, **mine}, session=s)


async def _link(request: web.Request) -> tuple[str, Any]:
    token = request.match_info["token"]
    if len(token) > 128:
        return token, None
    return token, await _rt(request).store.get_password_link(portal.token_hash(token))


def _password_form(request: web.Request, link: Any, *, status: int = 200, error: str | None = None) -> web.Response:
    token = request.cookies.get(FORM_COOKIE)
    if not token or len(token) > 128:
        token = portal.new_token()
    response = render(
        request,
        "password.html",
        {"form_csrf": token, "email": link.account.email, "error": error, "min": rules.MIN_PASSWORD},
        status=status,
    )
    _set_cookie(request, response, FORM_COOKIE, token)
    return response


def _link_gone(request: web.Request) -> web.Response:
    return _error(request, 410, "This link has been used or has expired. Ask the agency for a new one.")


async def password_page(request: web.Request) -> web.Response:
    _, link = await _link(request)
    if link is None:
        return _error(request, 404, "No such link.")
    if not rules.link_usable(link.expires_at, link.used_at, _rt(request).clock.now()) or link.account.disabled_at:
        return _link_gone(request)
    return _password_form(request, link)


async def set_password(request: web.Request) -> web.Response:
    rt = _rt(request)
    token, link = await _link(request)
    form = await _form(request)
    if not _csrf_ok(form.get("csrf"), request.cookies.get(FORM_COOKIE)):
        return _error(
            request, 403, "The form has expired or did not come from this site. Reload the page and try again."
        )
    if link is None:
        return _error(request, 404, "No such link.")
    now = rt.clock.now()
    if not rules.link_usable(link.expires_at, link.used_at, now) or link.account.disabled_at:
        return _link_gone(request)
    password, again = form.get("password", ""), form.get("again", "")
    problem = rules.password_problem(password)
    if problem is not None:
        return _password_form(request, link, status=422, error="weak")
    if password != again:
        return _password_form(request, link, status=422, error="mismatch")
    try:
        await rt.store.use_password_link(
            portal.token_hash(token), password_hash=portal.hash_password(password), now=now
        )
    except Conflict:
        return _link_gone(request)
    log.info("portal_password_set", account=link.account.id, purpose=link.purpose)
    response = _redirect(PREFIX + "/login?password=set")
    _clear_cookie(request, response, FORM_COOKIE)
    return response


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(
        body=_STATIC.joinpath("portal.css").read_bytes() + site_css(),
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
