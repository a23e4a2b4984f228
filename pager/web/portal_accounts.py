"""The portal's account pages beyond sign-in: "forgot password" (`/ui/password-reset`), which mails a reset
link (pager.service.portal.request_reset) and answers the same whether the address has an account or not.
The link itself is opened at /ui/password/{token} (pager.web.portal)."""

from __future__ import annotations

import math

import structlog
from aiohttp import web

from pager.domain import portal as rules
from pager.service import portal, portal_mail

from .portal import FORM_COOKIE, MAX_FIELD, _csrf_ok, _error, _form, _rt, _set_cookie, render

log = structlog.get_logger("pagerd.portal")


def setup(app: web.Application) -> None:
    app.router.add_get("/ui/password-reset", reset_page)
    app.router.add_post("/ui/password-reset", reset)


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
