"""The test clock's handle: GET and POST /api/v1/testing/clock (admin token).

Only a daemon started on the manual clock (config `testing.clock: manual`, itself refused unless
PAGERD_ALLOW_TEST_CLOCK=1) has these routes; anywhere else the path answers 404. A test moves time
forward with `{"advance": "15m"}` or to an instant with `{"set": "2026-01-05T09:15:00Z"}`, which may
also lie in the past: a wall clock stepped back (as NTP steps a system clock) for fault tests. The paging
engine is poked, and the answer (the new now) comes once the engine has run a whole tick at the new now
(`"ticked": true`), so a test reads what fell due, or that nothing did, without sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from pager.clock import MovableClock
from pager.config.model import Duration
from pager.domain.calendar import utc_in_range
from pager.service.schedule import iso as _iso
from pager.sources.errors import InputError, Problem

from .api import _json_body, _rt
from .keys import Runtime

PATH = "/api/v1/testing/clock"
# One move covers at most this much: a year and a bit; more is a typo in a test.
MAX_MOVE = timedelta(days=400)
# How long a move waits for the engine's tick at the new now (the answer says if it did not come).
TICK_WAIT_SECONDS = 10.0
_DURATION = TypeAdapter(Duration)
log = structlog.get_logger("pagerd.testing")


def add_routes(router, runtime: Runtime) -> None:
    """Register the clock routes on `router` if the config sets testing.clock: manual; else nothing."""
    if runtime.config.testing.clock != "manual":
        return
    if not isinstance(runtime.clock, MovableClock):
        raise TypeError("testing.clock: manual needs a movable clock (pager.app.make_clock makes one)")
    log.warning(
        "test_clock_in_use",
        now=_iso(runtime.clock.now()),
        path=PATH,
        message="pagerd runs on a manual clock that moves only when told to: a test setup, never production",
    )
    router.add_get(PATH, get_clock)
    router.add_post(PATH, move_clock)


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response({"now": _iso(_rt(request).clock.now())})


async def move_clock(request: web.Request) -> web.Response:
    rt = _rt(request)
    data = await _json_body(request, {"advance": False, "set": False})
    if len(data) != 1:
        raise InputError(422, "invalid request", [Problem("body", "give exactly one of advance or set")])
    clock: MovableClock = rt.clock  # type: ignore[assignment]  # the routes exist only for one
    before = clock.now()
    if "advance" in data:
        delta = _advance(data["advance"])
    else:
        delta = _instant(data["set"]) - before
    if abs(delta) > MAX_MOVE:
        raise InputError(
            422, "invalid request", [Problem(next(iter(data)), f"moves at most {MAX_MOVE.days} days at once")]
        )
    now = clock.advance(delta) if "advance" in data else clock.set(before + delta)
    ticked = False
    if rt.engine is not None:
        try:
            await asyncio.wait_for(_tick_at_now(rt.engine), TICK_WAIT_SECONDS)
            ticked = True
        except TimeoutError:
            pass
    log.info("test_clock_moved", before=_iso(before), now=_iso(now), ticked=ticked)
    return web.json_response({"now": _iso(now), "ticked": ticked})


async def _tick_at_now(engine) -> None:
    """Return once the paging engine has run a whole tick that started after the clock moved.

    The engine's loop clears its `wake` event right before each tick, and a tick reads the clock first
    thing: a poke seen taken means a tick at the new now has begun. The loop takes a poke only between
    ticks, so a second poke seen taken means that tick has ended."""
    for _ in range(2):
        engine.poke()
        while engine.wake.is_set():  # noqa: ASYNC110 (the engine exposes no event for "poke taken")
            await asyncio.sleep(0.002)


def _advance(value: str) -> timedelta:
    try:
        return _DURATION.validate_python(value)
    except (ValidationError, OverflowError):
        raise InputError(
            422, "invalid request", [Problem("advance", "expected a duration such as 30s, 15m, 2h")]
        ) from None


def _instant(value: str) -> datetime:
    try:
        return utc_in_range(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise InputError(
            422, "invalid request", [Problem("set", "expected an ISO 8601 instant with offset, in the years 1900-2199")]
        ) from None
