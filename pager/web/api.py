"""The JSON API (admin token): incidents, acknowledgement, resolve, notes."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import structlog
from aiohttp import web

from pager.domain import response
from pager.domain.incident import State
from pager.sources.errors import InputError, Problem, check_text, load_json
from pager.storage.codec import iso
from pager.storage.port import Incident, NotFound, RoundRow

from .auth import check_admin
from .body import read_body
from .keys import RUNTIME, Runtime

MAX_API_BODY = 64 * 1024
_STATES = {s.value for s in State}
_DIGITS = re.compile(r"[0-9]{1,18}")
_SOURCES = {"alertmanager", "nagios", "events_v2", "heartbeat", "desk"}  # desk: a paged ticket


def _rt(request: web.Request) -> Runtime:
    rt = request.app[RUNTIME]
    check_admin(request, rt.config.auth.admin_token)
    return rt


def _path_id(request: web.Request, what: str) -> int:
    """The `{id}` of the path: a positive integer, else 400 naming what it identifies."""
    raw = request.match_info["id"]
    if not _DIGITS.fullmatch(raw):
        raise InputError(400, f"{what} id must be a positive integer", [Problem("id", "not a positive integer")])
    return int(raw)


def _incident_id(request: web.Request) -> int:
    return _path_id(request, "incident")


def _only(request: web.Request, allowed: set[str]) -> None:
    """400 naming every query parameter that is not in `allowed`."""
    unknown = set(request.query) - allowed
    if unknown:
        raise InputError(400, "invalid query", [Problem(k[:64], "unknown parameter") for k in sorted(unknown)])


def _since(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            raise InputError(400, "invalid query", [Problem("since", "timestamp needs a time zone")])
        return dt.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise InputError(400, "invalid query", [Problem("since", "expected an ISO 8601 timestamp")]) from None


async def list_incidents(request: web.Request) -> web.Response:
    rt = _rt(request)
    q = request.query
    unknown = set(q) - {"state", "source", "since", "limit", "before_id"}
    if unknown:
        raise InputError(400, "invalid query", [Problem(k, "unknown parameter") for k in sorted(unknown)])
    state, source = q.get("state"), q.get("source")
    if state is not None and state not in _STATES:
        raise InputError(400, "invalid query", [Problem("state", f"one of {', '.join(sorted(_STATES))}")])
    if source is not None and source not in _SOURCES:
        raise InputError(400, "invalid query", [Problem("source", f"one of {', '.join(sorted(_SOURCES))}")])
    limit_raw = q.get("limit", "100")
    if not _DIGITS.fullmatch(limit_raw) or not 1 <= int(limit_raw) <= 1000:
        raise InputError(400, "invalid query", [Problem("limit", "an integer from 1 to 1000")])
    before = q.get("before_id")
    if before is not None and not _DIGITS.fullmatch(before):
        raise InputError(400, "invalid query", [Problem("before_id", "a positive integer")])
    rows = await rt.store.list_incidents(
        state=state,
        source=source,
        since=_since(q["since"]) if "since" in q else None,
        limit=int(limit_raw),
        before_id=int(before) if before else None,
    )
    return web.json_response([r.to_json() for r in rows])


async def get_incident(request: web.Request) -> web.Response:
    rt = _rt(request)
    iid = _incident_id(request)
    inc = await rt.store.get_incident(iid)
    if inc is None:
        raise NotFound(f"incident {iid} not found")
    body = inc.to_json()
    body["response"] = await response_of(rt, inc)
    return web.json_response(body)


async def response_of(rt: Runtime, inc: Incident) -> dict:
    """The response record of an incident: each round (the opening, then each reopen) judged now by
    pager.domain.response, and the current round (that of its reopen count; null when that one has
    not been routed)."""
    now = rt.clock.now()
    rows = await rt.store.rounds_of(inc.id)
    shown = {row.round.generation: _round_json(row, response.judge(row.round, now)) for row in rows}
    current = response.current([row.round for row in rows], inc.reopen_count)
    return {"rounds": list(shown.values()), "current": None if current is None else shown[current.generation]}


def _round_json(row: RoundRow, record: response.Record) -> dict:
    rnd, answer = record.round, record.round.answer
    return {
        "round": rnd.number,
        "project": row.project,
        "rotation": row.rotation,
        "reason": row.reason,
        "escalation": row.escalation,
        "step": row.step,
        "first_page_at": iso(rnd.first_page_at),
        "target_seconds": _int(rnd.target.total_seconds()),
        "at_risk_at": iso(rnd.at_risk_at),
        "deadline": iso(record.deadline),
        "answered_at": iso(answer.at) if answer else None,
        "answered_by": answer.by if answer else None,
        "answered_via": answer.via if answer else None,
        "answered_kind": answer.kind.value if answer else None,
        "outcome": record.outcome.value,
        "seconds": None if record.seconds is None else _int(record.seconds),
        "breached_at": iso(row.breached_at),
    }


def _int(seconds: float) -> int | float:
    return int(seconds) if seconds == int(seconds) else seconds


async def _json_body(request: web.Request, allowed: dict[str, bool], ints: frozenset[str] = frozenset()) -> dict:
    """A small JSON object with only `allowed` keys (name -> required); empty body = {}. Fields named
    in `ints` are integers, the rest strings."""
    raw = await read_body(request, MAX_API_BODY)
    if not raw.strip():
        data: object = {}
    else:
        media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise InputError(415, "Content-Type must be application/json")
        data = load_json(raw)
    if not isinstance(data, dict):
        raise InputError(422, "expected a JSON object")
    problems = [Problem(k[:64], "unknown field") for k in data if k not in allowed]
    problems += [Problem(k, "required field is missing") for k, req in allowed.items() if req and k not in data]
    for k, v in data.items():
        if k in ints:
            if isinstance(v, bool) or not isinstance(v, int):
                problems.append(Problem(k, "must be an integer"))
        elif k in allowed and not isinstance(v, str):
            problems.append(Problem(k, "must be a string"))
        elif k in allowed:
            p = check_text(
                v,
                k,
                max_len=16384 if k in ("text", "comment", "note") else 256,
                multiline=k in ("text", "comment", "note"),
            )
            if p:
                problems.append(p)
    if problems:
        raise InputError(422, "invalid request", problems)
    return data


async def _move(request: web.Request, target: State) -> web.Response:
    rt = _rt(request)
    iid = _incident_id(request)
    data = await _json_body(request, {"by": False, "comment": False})
    structlog.contextvars.bind_contextvars(incident_id=iid)
    inc = await rt.store.transition(
        iid, target, actor=data.get("by") or "api", via="api", comment=data.get("comment"), now=rt.clock.now()
    )
    structlog.get_logger("pagerd.api").info("incident_" + target.value, by=data.get("by") or "api")
    if rt.engine is not None:
        rt.engine.poke()  # escalating stops now (its queued pages cancelled), not at the next idle tick
    return web.json_response(inc.to_json())


async def ack(request: web.Request) -> web.Response:
    return await _move(request, State.ACKNOWLEDGED)


async def resolve(request: web.Request) -> web.Response:
    return await _move(request, State.RESOLVED)


async def notes(request: web.Request) -> web.Response:
    rt = _rt(request)
    iid = _incident_id(request)
    data = await _json_body(request, {"text": True, "by": False})
    if not data["text"].strip():
        raise InputError(422, "invalid request", [Problem("text", "must not be empty")])
    inc = await rt.store.add_note(iid, actor=data.get("by") or "api", text=data["text"], now=rt.clock.now())
    return web.json_response(inc.to_json(), status=201)
