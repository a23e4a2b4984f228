"""Every error answer is JSON that says what is wrong; nothing escapes as a bare 500."""
from __future__ import annotations

import itertools
import os

import structlog
from aiohttp import web

from pager.sources.errors import InputError
from pager.storage.port import Conflict, NotFound

log = structlog.get_logger("pagerd.web")
# request ids: a per-process prefix and a counter (uuid4 per request cost 6% of a webhook's CPU)
_PREFIX = os.urandom(4).hex()
_COUNTER = itertools.count(1)


def json_error(status: int, message: str, problems: list | None = None, **extra) -> web.Response:
    body = {"error": message, "problems": problems or [], **extra}
    headers = {"WWW-Authenticate": 'Bearer realm="pagerd"'} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def errors_middleware(request: web.Request, handler):
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
            return json_error(exc.status, exc.reason)
        raise
    except Exception:
        log.exception("request_failed", path=request.path, method=request.method)
        return json_error(503, "internal error; nothing was stored, retry later", request_id=request_id)
