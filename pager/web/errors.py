"""Every error answer is JSON that says what is wrong; nothing escapes as a bare 500."""
from __future__ import annotations

import functools
import itertools
import os
from typing import Awaitable, Callable

import structlog
from aiohttp import web

from pager.sources.errors import InputError
from pager.storage.port import Conflict, NotFound

log = structlog.get_logger("pagerd.web")
# request ids: a per-process prefix and a counter (uuid4 per request cost 6% of a webhook's CPU)
_PREFIX = os.urandom(4).hex()
_COUNTER = itertools.count(1)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, problems: list | None = None, *, headers: dict[str, str] | None = None,
               **extra) -> web.Response:
    body = {"error": message, "problems": problems or [], **extra}
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="pagerd"'}
    return web.json_response(body, status=status, headers=headers)


def guarded(handler: Handler) -> Handler:
    """`handler` with a request id bound for its log lines and every error answered as JSON.

    A wrapper per route rather than an application middleware: aiohttp runs middlewares through
    two more layers per request (its own `_fix_request_current_app` and a partial), which measured
    at 6 µs of a single-alert webhook's ~150 µs of CPU (bench/, paired runs). Unmatched paths and
    methods get the same JSON answers from `unmatched`, the last route."""

    @functools.wraps(handler)
    async def guarded_handler(request: web.Request) -> web.StreamResponse:
        request_id = request.headers.get("X-Request-Id", "")[:64] or f"{_PREFIX}-{next(_COUNTER)}"
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            return await handler(request)
        except InputError as exc:
            return json_error(exc.status, exc.message, [p.as_dict() for p in exc.problems])
        except NotFound as exc:
            return json_error(404, str(exc))
        except Conflict as exc:
            return json_error(409, str(exc))
        except web.HTTPRequestEntityTooLarge as exc:
            return json_error(413, f"request body larger than {exc.max_size} bytes")
        except web.HTTPException as exc:
            if exc.status >= 400 and exc.content_type != "application/json":
                return json_error(exc.status, exc.reason, headers=_allow(exc))
            raise
        except Exception:
            log.exception("request_failed", path=request.path, method=request.method)
            return json_error(503, "internal error; nothing was stored, retry later", request_id=request_id)

    return guarded_handler


def _allow(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else None


async def unmatched(request: web.Request) -> web.StreamResponse:
    """The catch-all last route: 405 (with Allow) where another route has this path, else 404."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is request.match_info.route.resource:
            continue
        match, methods = await resource.resolve(request)
        allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()
