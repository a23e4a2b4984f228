"""The webhook edge: authenticate, bound, parse, store durably, then answer."""

from __future__ import annotations

from aiohttp import web

from pager.domain.alert import Source
from pager.service.ingest import ingest
from pager.sources import alertmanager, events_v2, nagios
from pager.sources.errors import InputError, load_json

from .auth import check_heartbeat, check_routing_key, check_source
from .body import read_body
from .errors import redacted
from .keys import RUNTIME, Runtime


def _media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


async def _body(request: web.Request) -> bytes:
    """The body, at most server.max_body_bytes (the application's client_max_size); its errors are
    InputErrors so that Events v2 senders get them in their shape as well."""
    body = await read_body(request, request.client_max_size)
    if not body:
        raise InputError(400, "empty request body")
    return body


def _stored(rt: Runtime, body: bytes) -> bytes:
    """The raw body as it is stored (deliveries.body): any configured secret in it (a token a sender
    copied into a label, an annotation or a macro) replaced (pager.observe.redact). Deterministic, so
    the stored bytes of a byte-identical re-delivery are identical too."""
    return rt.redactor.bytes(body)


def _require_json(request: web.Request) -> None:
    if _media_type(request) != "application/json":
        raise InputError(415, "Content-Type must be application/json")


async def alertmanager_hook(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    cfg = rt.config.sources.alertmanager
    if cfg is None or not cfg.enabled:
        raise InputError(404, "the alertmanager source is not enabled")
    check_source(request, cfg.auth)
    _require_json(request)
    body = await _body(request)
    alerts, facts = alertmanager.parse(body, dedup_by=cfg.dedup_by, strict=cfg.strict)
    # Alertmanager's always-firing Watchdog is a heartbeat, never an incident
    watchdog = [a for a in alerts if a.labels.get("alertname") == WATCHDOG]
    if watchdog:
        alerts = [a for a in alerts if a.labels.get("alertname") != WATCHDOG]
        if rt.engine is not None and any(a.status == "firing" for a in watchdog):
            await rt.engine.heartbeat_received("alertmanager", "alertmanager")
        if not alerts:
            return web.json_response({"status": "ok", "alerts": 0, "heartbeat": "alertmanager", "incidents": []})
    result = await ingest(
        rt.store, rt.metrics, rt.clock, Source.ALERTMANAGER, "application/json", _stored(rt, body), alerts, facts
    )
    _poke(rt, result)
    return web.json_response(
        {"status": "ok", "alerts": len(alerts), "duplicates": result.duplicates, "incidents": result.incident_ids}
    )


WATCHDOG = "Watchdog"


def _poke(rt: Runtime, result) -> None:
    if rt.engine is not None and any(
        a.outcome is not None and a.outcome.value in ("open", "reopen") for a in result.applied
    ):
        rt.engine.poke()


async def heartbeat(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    check_heartbeat(request, rt.config.sources)
    name = request.match_info["name"]
    if name not in rt.config.heartbeats:
        raise InputError(404, f"unknown heartbeat {name[:64]!r} (not under heartbeats in the config)")
    if rt.engine is None:
        raise InputError(503, "the engine is not running")
    await rt.engine.heartbeat_received(name, "http")
    return web.json_response({"status": "ok", "heartbeat": name})


async def nagios_hook(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    cfg = rt.config.sources.nagios
    if cfg is None or not cfg.enabled:
        raise InputError(404, "the nagios source is not enabled")
    check_source(request, cfg.auth)
    media = _media_type(request)
    body = await _body(request)
    if media == "application/json":
        macros = load_json(body)
        if not isinstance(macros, dict):
            raise InputError(422, "expected a JSON object of macros")
    elif media == "application/x-www-form-urlencoded":
        try:
            from urllib.parse import parse_qsl

            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, errors="strict", max_num_fields=1024
            )
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
    result = await ingest(rt.store, rt.metrics, rt.clock, Source.NAGIOS, media, _stored(rt, body), [alert])
    _poke(rt, result)
    answer: dict[str, object] = {"status": "ok", "duplicates": result.duplicates, "incidents": result.incident_ids}
    if alert.details.get("label_problems"):  # taken, but these labels were left out
        answer["warnings"] = alert.details["label_problems"]
    return web.json_response(answer)


async def events_v2_hook(request: web.Request) -> web.Response:
    try:
        return await _events_v2(request, request.app[RUNTIME])
    except InputError as exc:
        # PagerDuty's own error shape (status, message, errors) beside pagerd's (error, problems)
        message, problems = redacted(request, exc.message, [p.as_dict() for p in exc.problems])
        return web.json_response(
            {
                "status": "invalid event" if exc.status in (400, 422) else "error",
                "message": message,
                "errors": [f"{p['field']}: {p['message']}" for p in problems],
                "error": message,
                "problems": problems,
            },
            status=exc.status,
            headers={"WWW-Authenticate": 'Bearer realm="pagerd"'} if exc.status == 401 else None,
        )


async def _events_v2(request: web.Request, rt: Runtime) -> web.Response:
    cfg = rt.config.sources.events_v2
    if cfg is None or not cfg.enabled:
        raise InputError(404, "the events_v2 source is not enabled")
    _require_json(request)
    body = await _body(request)
    event, alert = events_v2.parse(body)
    check_routing_key(event.routing_key, cfg.routing_keys)
    stored = _stored(rt, events_v2.without_routing_key(body))
    _poke(rt, await ingest(rt.store, rt.metrics, rt.clock, Source.EVENTS_V2, "application/json", stored, [alert]))
    return web.json_response(
        {"status": "success", "message": "Event processed", "dedup_key": alert.dedup_key}, status=202
    )


_SOURCE_OF = {alertmanager_hook: "alertmanager", nagios_hook: "nagios", events_v2_hook: "events_v2"}


@web.middleware
async def count_webhooks(request: web.Request, handler) -> web.StreamResponse:
    """Counts and times each webhook request by source and the status code it was answered with."""
    source = _SOURCE_OF.get(request.match_info.handler)
    if source is None:
        return await handler(request)
    rt = request.app[RUNTIME]
    started = rt.clock.monotonic()
    response = await handler(request)
    rt.metrics.webhook_done(source, response.status, rt.clock.monotonic() - started)
    return response
