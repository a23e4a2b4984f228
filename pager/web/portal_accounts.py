"""The portal's account pages beyond sign-in: "forgot password" (`/ui/password-reset`), which mails a reset
link (pager.service.portal.request_reset) and answers the same whether the address has an account or not
(the link itself is opened at /ui/password/{token}, pager.web.portal); the second factor of staff (TOTP):
its enrolment (`/ui/account/totp`) and the second step of a sign-in (`/ui/login/totp`)."""

from __future__ import annotations

import math

import segno
import structlog
from aiohttp import web
from markupsafe import Markup

from pager.domain import portal as rules
from pager.service import portal, portal_mail
from pager.service.signing import Keyring

from .portal import (
    FORM_COOKIE,
    MAX_FIELD,
    PREFIX,
    SESSION_COOKIE,
    _clear_cookie,
    _csrf_ok,
    _error,
    _form,
    _redirect,
    _rt,
    _session,
    _set_cookie,
    _to_login,
    render,
    viewer_of,
)

log = structlog.get_logger("pagerd.portal")


def setup(app: web.Application) -> None:
    app.router.add_get("/ui/password-reset", reset_page)
    app.router.add_post("/ui/password-reset", reset)
    app.router.add_get("/ui/login/totp", code_page)
    app.router.add_post("/ui/login/totp", code)
    app.router.add_get("/ui/account/totp", totp_page)
    app.router.add_post("/ui/account/totp", enrol)


def _page(
    request: web.Request, *, status: int = 200, error: str | None = None, email: str = "", sent: bool = False
) -> web.Response:
    token = request.cookies.get(FORM_COOKIE)
    if not token or len(token) > 128:
        token = portal.new_token()
    context = {
        "form_csrf": token,
        "error": error,
        "email": email,
        "sent": sent,
        "mailing": portal_mail.mailing(_rt(request).config),
    }
    response = render(request, "password_reset.html", context, status=status)
    _set_cookie(request, response, FORM_COOKIE, token)
    return response


async def reset_page(request: web.Request) -> web.Response:
    return _page(request)


async def reset(request: web.Request) -> web.Response:
    rt = _rt(request)
    form = await _form(request)
    if not _csrf_ok(form.get("csrf"), request.cookies.get(FORM_COOKIE)):
        return _error(
            request, 403, "The form has expired or did not come from this site. Reload the page and try again."
        )
    if not portal_mail.mailing(rt.config):
        return _page(request)
    email = form.get("email", "").strip()
    if not email or len(email) > MAX_FIELD or rules.normal_email(email) is None:
        return _page(request, status=422, error="address", email=email[:MAX_FIELD])
    wait = await portal.request_reset(rt.store, rt.config, email, client=request.remote, now=rt.clock.now())
    if wait is not None:
        seconds = max(1, math.ceil(wait.total_seconds()))
        response = _page(request, status=429, error="limited", email=email)
        response.headers["Retry-After"] = str(seconds)
        log.warning("portal_reset_limited", client=request.remote, retry_after=seconds)
        return response
    log.info("portal_reset_requested", client=request.remote)
    return _page(request, email=email, sent=True)


# -- the second step of a sign-in: the code --------------------------------------------------------------


def _code_form(request: web.Request, csrf: str, *, status: int = 200, error: str | None = None) -> web.Response:
    return render(request, "login_totp.html", {"code_csrf": csrf, "error": error}, status=status)


async def code_page(request: web.Request) -> web.Response:
    rt = _rt(request)
    pending = await portal.waiting_session(rt.store, request.cookies.get(SESSION_COOKIE), rt.clock.now())
    if pending is None:
        return _redirect(PREFIX + ("/tickets" if await _session(request) is not None else "/login"))
    return _code_form(request, pending.csrf)


async def code(request: web.Request) -> web.Response:
    rt = _rt(request)
    form = await _form(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    now = rt.clock.now()
    pending = await portal.waiting_session(rt.store, token, now)
    if pending is None:
        return _redirect(PREFIX + "/tickets") if await _session(request) is not None else _to_login(request)
    if not _csrf_ok(form.get("csrf"), pending.csrf):
        return _error(request, 403, "The form has expired or did not come from this site.")
    result = await portal.second_step(
        rt.store, Keyring.of(rt.config.auth), token, pending, form.get("code", ""), client=request.remote, now=now
    )
    if result.token is None and result.locked is not None:
        seconds = max(1, math.ceil(result.locked.total_seconds()))
        response = _code_form(request, pending.csrf, status=429, error="locked")
        response.headers["Retry-After"] = str(seconds)
        _clear_cookie(request, response, SESSION_COOKIE)
        log.warning("portal_second_factor_locked", account=pending.account.id, retry_after=seconds)
        return response
    if result.token is None:
        log.info("portal_second_factor_failed", account=pending.account.id)
        return _code_form(request, pending.csrf, status=401, error="wrong")
    log.info("portal_signed_in", account=pending.account.id, role=pending.account.role, second_factor=True)
    response = _redirect(PREFIX + "/tickets")
    _set_cookie(request, response, SESSION_COOKIE, result.token)
    return response


# -- enrolment -------------------------------------------------------------------------------------------


def _issuer(request: web.Request) -> str:
    cfg = _rt(request).config
    return portal_mail.sender_name(cfg) or "pagerd"


async def _enrolment(request: web.Request, s, *, status: int = 200, error: str | None = None) -> web.Response:
    # after a wrong code the key shown stays (the app has it already); a new visit shows a new one
    rt = _rt(request)
    keys = Keyring.of(rt.config.auth)
    secret, uri = await portal.totp_enrolment(rt.store, keys, s.account, _issuer(request), keep=error is not None)
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=2, light="#fff", title="QR")
    # segno's own SVG: path data and the title given here, nothing of the request's
    context = {"on": False, "secret": secret, "uri": uri, "qr": Markup(svg), "error": error}  # noqa: S704
    return render(request, "totp.html", context, status=status, session=s)


async def totp_page(request: web.Request) -> web.Response:
    s = await _session(request)
    if s is None:
        return _to_login(request)
    if not rules.may_enrol_totp(viewer_of(request, s)):
        return _error(request, 403, "The second factor is for the agency's staff.", s)
    if s.account.has_totp:
        return render(request, "totp.html", {"on": True}, session=s)
    return await _enrolment(request, s)


async def enrol(request: web.Request) -> web.Response:
    rt = _rt(request)
    form = await _form(request)
    s = await _session(request)
    if not form.get("csrf") or (s is not None and not _csrf_ok(form.get("csrf"), s.csrf)):
        return _error(request, 403, "The form has expired or did not come from this site.", s)
    if s is None:
        return _to_login(request)
    if not rules.may_enrol_totp(viewer_of(request, s)):
        return _error(request, 403, "The second factor is for the agency's staff.", s)
    if s.account.has_totp:
        return _redirect(PREFIX + "/account/totp")
    token = request.cookies.get(SESSION_COOKIE, "")
    if not await portal.confirm_totp(
        rt.store, Keyring.of(rt.config.auth), s.account, form.get("code", ""), token, rt.clock.now()
    ):
        return await _enrolment(request, s, status=422, error="wrong")
    log.info("portal_second_factor_on", account=s.account.id, other_sessions="ended")
    return _redirect(PREFIX + "/account/totp")
