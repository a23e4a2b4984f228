"""The webhook edge: authenticate, bound, parse, store durably, then answer."""
from __future__ import annotations

import json

import orjson
from aiohttp import web

from pager.domain.alert import Source
from pager.service.ingest import ingest
from pager.sources import alertmanager, events_v2, nagios
from pager.sources.errors import InputError

from .auth import check_routing_key, check_source
from .keys import RUNTIME, Runtime


def _json(obj: dict, status: int = 200) -> web.Response:
    """web.json_response with orjson (compact JSON, same headers): a third of its cost per answer."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json", charset="utf-8")


def _media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


async def _body(request: web.Request, rt: Runtime) -> bytes:
    limit = rt.config.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise InputError(413, f"request body larger than {limit} bytes")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise InputError(413, f"request body larger than {limit} bytes") from None
    if len(body) > limit:
        raise InputError(413, f"request body larger than {limit} bytes")
    if not body:
        raise InputError(400, "empty request body")
    return body


def _require_json(request: web.Request) -> None:
    if _media_type(request) != "application/json":
        raise InputError(415, "Content-Type must be application/json")


async def _guard(rt: Runtime, source: str, coro) -> web.Response:
    """Count and time one webhook request by source and status code."""
    t0 = rt.clock.monotonic()
    try:
        resp = await coro
    except InputError as exc:
        rt.metrics.webhook_done(source, exc.status, rt.clock.monotonic() - t0)
        raise
    except Exception:
        rt.metrics.webhook_done(source, 503, rt.clock.monotonic() - t0)
        raise
    rt.metrics.webhook_done(source, resp.status, rt.clock.monotonic() - t0)
    return resp


async def alertmanager_hook(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    return await _guard(rt, "alertmanager", _alertmanager(request, rt))


async def _alertmanager(request: web.Request, rt: Runtime) -> web.Response:
    cfg = rt.config.sources.alertmanager
    if cfg is None or not cfg.enabled:
        raise InputError(404, "the alertmanager source is not enabled")
    check_source(request, cfg.auth)
    _require_json(request)
    body = await _body(request, rt)
    alerts, facts = alertmanager.parse(body, dedup_by=cfg.dedup_by, strict=cfg.strict)
    # Alertmanager's always-firing Watchdog is a heartbeat, never an incident (its name is in the
    # body as it is, or written with JSON escapes)
    watchdog = ([a for a in alerts if a.labels.get("alertname") == WATCHDOG]
                if _WATCHDOG_RAW in body or b"\\u" in body else None)
    if watchdog:
        alerts = [a for a in alerts if a.labels.get("alertname") != WATCHDOG]
        if rt.engine is not None and any(a.status == "firing" for a in watchdog):
            await rt.engine.heartbeat_received("alertmanager", "alertmanager")
        if not alerts:
            return web.json_response({"status": "ok", "alerts": 0, "heartbeat": "alertmanager", "incidents": []})
    result = await ingest(rt.store, rt.metrics, rt.clock, Source.ALERTMANAGER, "application/json", body, alerts, facts)
    _poke(rt, result)
    return _json({"status": "ok", "alerts": len(alerts), "duplicates": result.duplicates,
                  "incidents": result.incident_ids})


WATCHDOG = "Watchdog"
_WATCHDOG_RAW = WATCHDOG.encode()  # as it stands in a body without JSON escapes


def _poke(rt: Runtime, result) -> None:
    if rt.engine is not None and any(a.outcome is not None and a.outcome.value in ("open", "reopen")
                                     for a in result.applied):
        rt.engine.poke()


async def heartbeat(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    src = rt.config.sources
    auth = (src.alertmanager or src.nagios)
    if auth is not None:
        check_source(request, auth.auth)
    elif src.events_v2 is not None:
        from .auth import bearer_token
        check_routing_key(bearer_token(request) or "", src.events_v2.routing_keys)
    name = request.match_info["name"]
    if name not in rt.config.heartbeats:
        raise InputError(404, f"unknown heartbeat {name[:64]!r} (not under heartbeats in the config)")
    if rt.engine is None:
        raise InputError(503, "the engine is not running")
    await rt.engine.heartbeat_received(name, "http")
    return web.json_response({"status": "ok", "heartbeat": name})


async def nagios_hook(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    return await _guard(rt, "nagios", _nagios(request, rt))


async def _nagios(request: web.Request, rt: Runtime) -> web.Response:
    cfg = rt.config.sources.nagios
    if cfg is None or not cfg.enabled:
        raise InputError(404, "the nagios source is not enabled")
    check_source(request, cfg.auth)
    media = _media_type(request)
    body = await _body(request, rt)
    if media == "application/json":
        try:
            macros = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(400, "malformed JSON", []) from exc
        if not isinstance(macros, dict):
            raise InputError(422, "expected a JSON object of macros")
    elif media == "application/x-www-form-urlencoded":
        try:
            from urllib.parse import parse_qsl
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                              errors="strict", max_num_fields=1024)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(400, f"malformed form body: {exc}") from None
        macros = {}
        for k, v in pairs:
            if k in macros:
                raise InputError(422, "duplicate macro", [])
            macros[k] = v
    else:
        raise InputError(415, "Content-Type must be application/x-www-form-urlencoded or application/json")
    alert = nagios.parse(macros)
    result = await ingest(rt.store, rt.metrics, rt.clock, Source.NAGIOS, media, body, [alert])
    _poke(rt, result)
    return _json({"status": "ok", "duplicates": result.duplicates, "incidents": result.incident_ids})


async def events_v2_hook(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    try:
        return await _guard(rt, "events_v2", _events_v2(request, rt))
    except InputError as exc:
        # PagerDuty's own error shape (status, message, errors) beside pagerd's (error, problems)
        problems = [p.as_dict() for p in exc.problems]
        return web.json_response(
            {"status": "invalid event" if exc.status in (400, 422) else "error", "message": exc.message,
             "errors": [f"{p['field']}: {p['message']}" for p in problems], "error": exc.message,
             "problems": problems},
            status=exc.status, headers={"WWW-Authenticate": 'Bearer realm="pagerd"'} if exc.status == 401 else None)


async def _events_v2(request: web.Request, rt: Runtime) -> web.Response:
    cfg = rt.config.sources.events_v2
    if cfg is None or not cfg.enabled:
        raise InputError(404, "the events_v2 source is not enabled")
    _require_json(request)
    body = await _body(request, rt)
    event, alert = events_v2.parse(body)
    check_routing_key(event.routing_key, cfg.routing_keys)
    _poke(rt, await ingest(rt.store, rt.metrics, rt.clock, Source.EVENTS_V2, "application/json", body, [alert]))
    return _json({"status": "success", "message": "Event processed", "dedup_key": alert.dedup_key}, status=202)
