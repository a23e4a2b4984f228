"""Operational endpoints: liveness, readiness, metrics."""
from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .keys import RUNTIME


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    problems = []
    if not rt.ready:
        problems.append("starting or stopping")
    try:
        await asyncio.wait_for(rt.store.ping(), timeout=2)
    except Exception as exc:  # any failure means not ready
        problems.append(f"store unreachable: {type(exc).__name__}")
    if problems:
        return web.json_response({"status": "not ready", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    try:
        counts = await asyncio.wait_for(rt.store.count_by_state(), timeout=5)
        for state in ("triggered", "acknowledged", "resolved"):
            rt.metrics.incidents.labels(state).set(counts.get(state, 0))
    except Exception:  # scrape still answers; the gauge keeps its last value
        pass
    body = generate_latest(rt.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
