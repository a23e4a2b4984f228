"""Operational endpoints: liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
from importlib import resources

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pager.domain.heartbeat import heartbeat_status
from pager.storage.port import json_instant

from .keys import ENGINE_TASK, RUNTIME

log = structlog.get_logger("pagerd.web")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    problems = []
    if not rt.ready:
        problems.append("starting or stopping")
    task = request.app.get(ENGINE_TASK)
    if task is not None and task.done():
        problems.append("engine stopped")
    elif rt.engine is not None and (rt.lease is None or rt.lease.held):  # a webhook-only or standby node runs none
        quiet, bound = rt.engine.since_good_tick(rt.clock.now()), rt.config.paging.engine_stall_after
        if quiet > bound:
            problems.append(
                f"engine stalled: no good tick for {quiet.total_seconds():.0f}s "
                f"(paging.engine_stall_after: {bound.total_seconds():g}s)"
            )
    try:
        await asyncio.wait_for(rt.store.ping(), timeout=2)
    except Exception as exc:  # any failure means not ready
        problems.append(f"store unreachable: {type(exc).__name__}")
    # which channels page for real and which are simulated (or have no provider)
    channels = {ch: {"provider": p, "live": p in ("twilio", "smtp")} for ch, p in rt.channels.items()}
    body = {"channels": channels, "heartbeats": await _heartbeats(rt)}
    if problems:
        return web.json_response({"status": "not ready", "problems": problems, **body}, status=503)
    return web.json_response({"status": "ready", **body})


async def _heartbeats(rt) -> dict[str, dict[str, object]]:
    """Each configured heartbeat's state (pager.domain.heartbeat): `waiting` (never checked in: not
    watched), `ok` or `overdue`, with its last check-in and deadline. Informative: a heartbeat never
    makes pagerd unready (the load balancer must keep sending it the webhooks that feed it)."""
    if not rt.config.heartbeats:
        return {}
    try:
        seen = await asyncio.wait_for(rt.store.heartbeats(), timeout=2)
    except Exception:  # the store problem is reported above
        return {name: {"state": "unknown"} for name in rt.config.heartbeats}
    now = rt.clock.now()
    out: dict[str, dict[str, object]] = {}
    for name, hb in rt.config.heartbeats.items():
        s = heartbeat_status(seen.get(name), hb.timeout, now)
        out[name] = {
            "state": s.state.value,
            "last_seen": json_instant(s.last_seen) if s.last_seen else None,
            "deadline": json_instant(s.deadline) if s.deadline else None,
            "timeout_seconds": hb.timeout.total_seconds(),
        }
    return out


async def metrics(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    m = rt.metrics
    # what the store holds is read at scrape time: the outbox's backlog keeps growing on the scrape
    # while the engine that should send it has stopped
    try:
        counts = await asyncio.wait_for(rt.store.count_by_state(), timeout=5)
        for state in ("triggered", "acknowledged", "resolved"):
            m.incidents.labels(state).set(counts.get(state, 0))
    except Exception as exc:  # scrape still answers; the gauge keeps its last value
        log.warning("metrics_store_read_failed", gauge="incidents", error=repr(exc))
    try:
        now = rt.clock.now()
        backlog = await asyncio.wait_for(rt.store.outbox_backlog(now), timeout=5)
        for channel in ("sms", "voice", "email"):
            m.outbox_pending.labels(channel).set(backlog.pending.get(channel, 0))
        oldest = backlog.oldest_due_at
        m.outbox_oldest_age.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0)
    except Exception as exc:  # as above
        log.warning("metrics_store_read_failed", gauge="outbox", error=repr(exc))
    try:
        seen = await asyncio.wait_for(rt.store.heartbeats(), timeout=5)
        m.heartbeat_last_seen.clear()  # only the configured heartbeats that ever checked in
        m.heartbeat_armed.clear()  # every configured heartbeat: 0 while it waits for its first check-in
        now = rt.clock.now()
        for name, hb in rt.config.heartbeats.items():
            status = heartbeat_status(seen.get(name), hb.timeout, now)
            m.heartbeat_armed.labels(name).set(1 if status.armed else 0)
            if status.last_seen is not None:
                m.heartbeat_last_seen.labels(name).set(status.last_seen.timestamp())
    except Exception as exc:  # as above
        log.warning("metrics_store_read_failed", gauge="heartbeats", error=repr(exc))
    # the pool's use now (no database access): the writer, the readers and, on PostgreSQL, the engine lease
    m.connection_use(rt.store.connections() + (rt.lease.connections() if rt.lease is not None else []))
    body = generate_latest(m.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    """The HTTP contract (pager/web/openapi.yaml): public, like the routes it describes."""
    body = resources.files(__package__).joinpath("openapi.yaml").read_bytes()
    return web.Response(body=body, content_type="application/yaml", charset="utf-8")
