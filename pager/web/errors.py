"""Every error answer is JSON that says what is wrong; nothing escapes as a bare 500."""

from __future__ import annotations

import itertools
import secrets
import sqlite3

import structlog
from aiohttp import web

from pager.observe.redact import PATTERNS_ONLY
from pager.sources.errors import InputError
from pager.storage.port import Conflict, NotFound, Unavailable

from .keys import RUNTIME, Runtime

log = structlog.get_logger("pagerd.web")

# Request ids: a random prefix per process and a counter, unique across restarts and nodes. Not a
# uuid4 per request: os.urandom releases the GIL, and on the full node the event loop then waits for
# the store's writer thread to hand it back (up to the interpreter's 5 ms switch interval): py-spy
# put 13% of the loop's samples in uuid4 under single-alert load (bench/RESULTS.md).
_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)
RETRY_AFTER = "5"  # seconds, on every 503


def new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_ID_COUNTER)}"


def json_error(
    status: int, message: str, problems: list | None = None, *, headers: dict[str, str] | None = None, **extra
) -> web.Response:
    body = {"error": message, "problems": problems or [], **extra}
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="pagerd"'}
    elif status == 503:  # only for what a retry can fix: say when
        headers = {"Retry-After": RETRY_AFTER, **(headers or {})}
    return web.json_response(body, status=status, headers=headers)


def redacted(request: web.Request, message: str, problems: list | None = None) -> tuple[str, list]:
    """An error's message and problems as they may be answered: an error that echoes its input never
    echoes a secret or a token (pager.observe.redact)."""
    rt = request.app.get(RUNTIME)
    r = rt.redactor if isinstance(rt, Runtime) else PATTERNS_ONLY
    return r.text(message), r.value(problems or [])


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Binds a request id for the request's log lines and answers every error as JSON: the input
    errors with their status and problems, unknown paths 404, a wrong method 405 with Allow, a failure
    a retry can fix 503 with Retry-After, and any other failure 500 (nothing was stored either way: a
    write is answered only after its commit)."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or new_request_id()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        return await handler(request)
    except InputError as exc:
        return json_error(exc.status, *redacted(request, exc.message, [p.as_dict() for p in exc.problems]))
    except NotFound as exc:
        return json_error(404, *redacted(request, str(exc)))
    except Conflict as exc:
        return json_error(409, *redacted(request, str(exc)))
    except Unavailable as exc:  # disk full, database locked too long: a retry later gets through
        return json_error(503, str(exc), headers={"Retry-After": str(exc.retry_after)})
    except web.HTTPRequestEntityTooLarge:
        return json_error(413, f"request body larger than {request.client_max_size} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = exc.headers.get("Allow")
        return json_error(exc.status, exc.reason, headers={"Allow": allow} if allow else None)
    except Exception as exc:
        log.exception("request_failed", path=request.path, method=request.method)
        if retryable(exc):
            return json_error(503, "storage unavailable; nothing was stored, retry later", request_id=request_id)
        return json_error(500, "internal error; nothing was stored", request_id=request_id)


def retryable(exc: BaseException) -> bool:
    """A failure that a retry can fix: the store busy (locked), unavailable or out of space, an OS
    error (a full disk, a file the store cannot open now), a timeout. Anything else is a fault of
    pagerd that the same request meets again."""
    return isinstance(exc, (sqlite3.OperationalError, OSError, TimeoutError))
