"""Maintenance windows (admin API): list, create, read, remove."""

from __future__ import annotations

from aiohttp import web

from pager.domain.maintenance import MAX_MATCH_LABELS, window_problems
from pager.service.schedule import parse_instant
from pager.sources.errors import InputError, Problem, check_text, load_json
from pager.storage.port import NotFound

from .api import MAX_API_BODY, _only, _path_id, _rt
from .body import read_body

_FIELDS = {"customer": False, "project": False, "match": False, "start": True, "end": True, "reason": True, "by": False}


async def list_maintenance(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"customer", "include_removed", "all"})
    everything = request.query.get("all") in ("1", "true")
    rows = await rt.store.list_maintenance(
        request.query.get("customer"),
        include_removed=everything or request.query.get("include_removed") in ("1", "true"),
        ending_after=None if everything else rt.clock.now(),
    )
    return web.json_response([r.to_json() for r in rows])


async def get_maintenance(request: web.Request) -> web.Response:
    rt = _rt(request)
    wid = _path_id(request, "maintenance window")
    row = await rt.store.get_maintenance(wid)
    if row is None:
        raise NotFound(f"maintenance window {wid} not found")
    return web.json_response(row.to_json())


async def remove_maintenance(request: web.Request) -> web.Response:
    rt = _rt(request)
    _only(request, {"by"})
    row = await rt.store.remove_maintenance(
        _path_id(request, "maintenance window"), removed_by=request.query.get("by", "api")[:64], now=rt.clock.now()
    )
    if rt.engine is not None:
        rt.engine.poke()  # what it held is decided again now
    return web.json_response(row.to_json())


async def add_maintenance(request: web.Request) -> web.Response:
    rt = _rt(request)
    raw = await read_body(request, MAX_API_BODY)
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise InputError(415, "Content-Type must be application/json")
    data = load_json(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise InputError(422, "expected a JSON object")
    problems = [Problem(k[:64], "unknown field") for k in data if k not in _FIELDS]
    problems += [Problem(k, "required field is missing") for k, req in _FIELDS.items() if req and k not in data]
    for k in ("customer", "project", "start", "end", "reason", "by"):
        if k not in data:
            continue
        if not isinstance(data[k], str):
            problems.append(Problem(k, "must be a string"))
        else:
            p = check_text(data[k], k, max_len=256)
            if p:
                problems.append(p)
    match = data.get("match", {})
    if not isinstance(match, dict):
        problems.append(Problem("match", "must be an object of label names to values"))
        match = {}
    elif len(match) > MAX_MATCH_LABELS:
        problems.append(Problem("match", f"at most {MAX_MATCH_LABELS} labels"))
        match = {}
    elif any(not isinstance(v, str) for v in match.values()):
        problems.append(Problem("match", "every value must be a string"))
        match = {}
    times = {}
    for key in ("start", "end"):
        if isinstance(data.get(key), str):
            try:
                times[key] = parse_instant(data[key], rt.schedule.calendar.rules.tz)
            except (ValueError, OverflowError):
                problems.append(Problem(key, "expected an ISO 8601 instant (years 1900-2199)"))
    if problems:
        raise InputError(422, "invalid maintenance window", problems)
    now = rt.clock.now()
    problems = [
        Problem(f, m)
        for f, m in window_problems(
            start=times["start"],
            end=times["end"],
            now=now,
            customer=data.get("customer"),
            project=data.get("project"),
            match=match,
            reason=data["reason"],
            customers={cid: list(c.projects) for cid, c in rt.config.customers.items()},
        )
    ]
    if problems:
        raise InputError(422, "invalid maintenance window", problems)
    row = await rt.store.add_maintenance(
        customer=data.get("customer") or None,
        project=data.get("project") or None,
        match=match,
        start=times["start"],
        end=times["end"],
        reason=data["reason"],
        created_by=data.get("by") or "api",
        now=now,
    )
    return web.json_response(row.to_json(), status=201)


MAX_LABELS = 64


async def match_maintenance(request: web.Request) -> web.Response:
    """Which window holds an alert with these labels (now, or `at`), routed as the engine routes it and
    matched by the domain's window_at: {"project": ..., "window": the window or null}."""
    from pager.domain import paging as dp
    from pager.domain.maintenance import window_at
    from pager.service.paging import plan_of, windows_of

    rt = _rt(request)
    raw = await read_body(request, MAX_API_BODY)
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise InputError(415, "Content-Type must be application/json")
    data = load_json(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise InputError(422, "expected a JSON object")
    problems = [Problem(k[:64], "unknown field") for k in data if k not in ("labels", "at")]
    labels = data.get("labels")
    if not isinstance(labels, dict):
        problems.append(Problem("labels", "required: an object of label names to values"))
        labels = {}
    elif len(labels) > MAX_LABELS:
        problems.append(Problem("labels", f"at most {MAX_LABELS} labels"))
    else:
        for k, v in labels.items():
            p = check_text(k, "labels", max_len=256) or (
                check_text(v, f"labels.{k[:64]}", max_len=1024) if isinstance(v, str) else None
            )
            if not isinstance(v, str):
                problems.append(Problem(f"labels.{k[:64]}", "must be a string"))
            elif p:
                problems.append(p)
    now = rt.clock.now()
    if "at" in data:
        try:
            if not isinstance(data["at"], str):
                raise ValueError
            now = parse_instant(data["at"], rt.schedule.calendar.rules.tz)
        except (ValueError, OverflowError):
            problems.append(Problem("at", "expected an ISO 8601 instant (years 1900-2199)"))
    if problems:
        raise InputError(422, "invalid labels", problems)
    plan = plan_of(rt.config)
    route = dp.first_route(plan.routes, labels)
    project = route.project if route is not None else plan.default_project
    rows = await rt.store.list_maintenance(ending_after=now)
    held = window_at(windows_of(rows), project=project, customer=plan.customer(project), labels=labels, now=now)
    window = next((r.to_json() for r in rows if held is not None and r.id == held.id), None)
    return web.json_response({"project": project, "window": window})
