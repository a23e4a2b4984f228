"""Reading a request body: every route reads its body here, after its credentials were checked, with a
size bound (checked against Content-Length before a byte is read) and a time bound
(`server.timeouts.body`, from the moment the handler starts: a sender that stalls half way gets 408 and
the connection is closed)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from pager.sources.errors import InputError

from .keys import RUNTIME


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The whole body, at most `max_bytes` (and at most server.max_body_bytes); else 413, or 408 when it
    does not arrive within server.timeouts.body."""
    max_bytes = min(max_bytes, request.client_max_size)
    if request.content_length is not None and request.content_length > max_bytes:
        raise InputError(413, f"request body larger than {max_bytes} bytes")
    timeout = request.app[RUNTIME].config.server.timeouts.body.total_seconds()
    # a body that is all in already is read without waiting, so it needs no timer (a timer per request
    # costs the event loop a heap entry for the bound's whole length, 30 s by default)
    timer = contextlib.nullcontext() if request.content.is_eof() else asyncio.timeout(timeout)
    try:
        async with timer:
            body = await request.read()  # aiohttp stops at client_max_size (a body without Content-Length)
    except web.HTTPRequestEntityTooLarge:
        raise InputError(413, f"request body larger than {max_bytes} bytes") from None
    except TimeoutError:
        # aiohttp answers, then reads what is left of the body for a few seconds at most (its lingering
        # time) and closes the connection
        raise InputError(408, f"request body not received within {timeout:g}s") from None
    if len(body) > max_bytes:
        raise InputError(413, f"request body larger than {max_bytes} bytes")
    return body
