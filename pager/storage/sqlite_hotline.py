"""Calls to the standby number in the SQLite store (the port's HotlineStore; migration 0025). Mixed into
SqliteStore.

A standby call's ticket, its incident and the escalation's first step are written in one transaction
(open_hotline_ticket): the incident is routed and paged at the call, as the engine's route and steps
stages would have done it a tick later, so its response target starts when the customer called."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pager.domain.hotline import DIAL_CONNECTED

from .codec import dumps, iso, parse_iso
from .port import Conflict, HotlineCall, HotlineIncident, HotlineStep, NotFound
from .sqlite_paging import _ESC_COLS, _event, _queue
from .sqlite_tickets import _entry, create_ticket, page

_CALL_COLS = (
    "call_sid, caller, contact, customer, project, action, language, reason, ticket, outcome, answered_by, "
    "answered_at, recording_url, recording_seconds, reply, started_at, updated_at"
)


def _call(r: tuple) -> HotlineCall:
    return HotlineCall(
        call_sid=r[0],
        caller=r[1],
        contact=r[2],
        customer=r[3],
        project=r[4],
        action=r[5],
        language=r[6],
        reason=r[7],
        ticket=r[8],
        outcome=r[9],
        answered_by=r[10],
        answered_at=parse_iso(r[11]),
        recording_url=r[12],
        recording_seconds=r[13],
        reply=r[14],
        started_at=parse_iso(r[15]),  # type: ignore[arg-type]
        updated_at=parse_iso(r[16]),  # type: ignore[arg-type]
    )


def get_call(conn: sqlite3.Connection, call_sid: str) -> HotlineCall | None:
    r = conn.execute(f"SELECT {_CALL_COLS} FROM hotline_calls WHERE call_sid = ?", (call_sid,)).fetchone()
    return _call(r) if r else None


def _must(conn: sqlite3.Connection, call_sid: str) -> HotlineCall:
    found = get_call(conn, call_sid)
    if found is None:
        raise NotFound(f"hotline call {call_sid} not found")
    return found


def start_call(
    conn: sqlite3.Connection,
    call_sid: str,
    caller: str | None,
    contact: str | None,
    customer: str | None,
    project: str | None,
    action: str,
    language: str,
    reason: str,
    now: datetime,
) -> tuple[HotlineCall, bool]:
    at = iso(now)
    n = conn.execute(
        "INSERT INTO hotline_calls (call_sid, caller, contact, customer, project, action, language, reason, "
        "outcome, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (
            call_sid,
            caller,
            contact,
            customer,
            project,
            action,
            language,
            reason,
            "forwarded" if action == "forward" else "ringing",
            at,
            at,
        ),
    ).rowcount
    return _must(conn, call_sid), bool(n)


def open_ticket(
    conn: sqlite3.Connection,
    call_sid: str,
    ticket: Mapping[str, Any],
    incident: HotlineIncident | None,
    now: datetime,
) -> None:
    call = _must(conn, call_sid)
    if call.ticket is not None:
        raise Conflict(f"hotline call {call_sid} has ticket #{call.ticket} already")
    at = iso(now)
    number = create_ticket(conn, **{**ticket, "now": now})
    _entry(
        conn,
        number,
        at,
        "call",
        "pagerd",
        False,
        {"call_sid": call_sid, "caller": call.caller, "action": call.action, "reason": call.reason},
    )
    conn.execute("UPDATE hotline_calls SET ticket = ?, updated_at = ? WHERE call_sid = ?", (number, at, call_sid))
    if incident is None:
        return
    actor = str(ticket.get("actor", "hotline"))
    page(conn, number, {**incident.labels, "ticket": str(number)}, incident.severity, actor, now)
    messages = [{**m, "idem_key": f"{number}:{m['idem_key'].partition(':')[2]}"} for m in incident.messages]
    project = ticket["project"]
    # the escalation as the engine's route stage writes it, its first step fired at the call (fire_step)
    conn.execute(
        f"INSERT INTO escalations ({_ESC_COLS}) VALUES (?, 0, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, NULL, ?, ?, ?, NULL, NULL, ?)",
        (
            number,
            project,
            incident.rotation,
            dumps(incident.policy),
            "active" if incident.next_at is not None else "done",
            iso(incident.next_at),
            at,
            iso(incident.deadline),
            iso(incident.escalate_at),
            int(incident.early),
            incident.target_seconds,
            incident.reason,
            at,
            incident.severity,
        ),
    )
    conn.execute("UPDATE incidents SET routed_generation = 0 WHERE id = ?", (number,))  # its round routed
    routed: dict[str, Any] = {
        "project": project,
        "rotation": incident.rotation,
        "paging": True,
        "reason": incident.reason,
        "policy": incident.policy.get("name"),
        "via": "hotline",
    }
    if incident.booking:
        routed["booking"] = incident.booking
    _event(conn, number, at, "routed", "pagerd", routed)
    _queue(conn, number, 0, messages, at)
    _event(
        conn,
        number,
        at,
        "paging",
        "pagerd",
        {
            "step": 0,
            "round": 0,
            "people": list(incident.people),
            "notes": list(incident.notes),
            "messages": len(messages),
            "via": "hotline",
        },
    )


def answer(conn: sqlite3.Connection, call_sid: str, reply: str) -> None:
    conn.execute("UPDATE hotline_calls SET reply = ? WHERE call_sid = ? AND reply IS NULL", (reply, call_sid))


def dial(conn: sqlite3.Connection, call_sid: str, step: int, people: Sequence[str], now: datetime) -> bool:
    call = _must(conn, call_sid)
    at = iso(now)
    n = conn.execute(
        "INSERT INTO hotline_steps (call_sid, step, people, dialled_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (call_sid, step, dumps(list(people)), at),
    ).rowcount
    if n and call.ticket is not None:
        _entry(conn, call.ticket, at, "call_dialled", "pagerd", False, {"step": step, "people": list(people)})
    return bool(n)


def dial_ended(conn: sqlite3.Connection, call_sid: str, step: int, status: str, connected: str, now: datetime) -> bool:
    at = iso(now)
    n = conn.execute(
        "UPDATE hotline_steps SET status = ?, ended_at = ? WHERE call_sid = ? AND step = ? AND status IS NULL",
        (status, at, call_sid, step),
    ).rowcount
    if not n:
        return False
    call = _must(conn, call_sid)
    if call.ticket is not None and status != connected:
        _entry(conn, call.ticket, at, "call_unanswered", "pagerd", False, {"step": step, "status": status})
    return True


def answered(conn: sqlite3.Connection, call_sid: str, person: str, now: datetime) -> bool:
    call = _must(conn, call_sid)
    if call.answered_by is not None:
        return False
    at = iso(now)
    conn.execute(
        "UPDATE hotline_calls SET outcome = 'answered', answered_by = ?, answered_at = ?, updated_at = ? "
        "WHERE call_sid = ?",
        (person, at, at, call_sid),
    )
    if call.ticket is not None:
        _entry(conn, call.ticket, at, "call_answered", person, False, {"call_sid": call_sid, "person": person})
    return True


def voicemail(
    conn: sqlite3.Connection, call_sid: str, recording_sid: str, url: str, seconds: int | None, now: datetime
) -> bool:
    call = _must(conn, call_sid)
    if call.recording_url is not None:
        return False
    at = iso(now)
    conn.execute(
        "UPDATE hotline_calls SET outcome = CASE WHEN outcome = 'answered' THEN outcome ELSE 'voicemail' END, "
        "recording_sid = ?, recording_url = ?, recording_seconds = ?, updated_at = ? WHERE call_sid = ?",
        (recording_sid, url, seconds, at, call_sid),
    )
    if call.ticket is not None:
        _entry(
            conn,
            call.ticket,
            at,
            "voicemail",
            "pagerd",
            False,
            {"call_sid": call_sid, "recording_sid": recording_sid, "url": url, "seconds": seconds},
        )
        conn.execute("UPDATE tickets SET updated_at = ? WHERE number = ?", (at, call.ticket))
    return True


def hung_up(conn: sqlite3.Connection, call_sid: str, now: datetime) -> bool:
    call = _must(conn, call_sid)
    at = iso(now)
    n = conn.execute(
        "UPDATE hotline_calls SET outcome = 'no_answer', updated_at = ? WHERE call_sid = ? AND outcome = 'ringing'",
        (at, call_sid),
    ).rowcount
    if n and call.ticket is not None:
        _entry(conn, call.ticket, at, "call_ended", "pagerd", False, {"call_sid": call_sid, "outcome": "no_answer"})
    return bool(n)


def steps(conn: sqlite3.Connection, call_sid: str) -> list[HotlineStep]:
    return [
        HotlineStep(
            step=r[0],
            people=tuple(json.loads(r[1])),
            status=r[2],
            dialled_at=parse_iso(r[3]),  # type: ignore[arg-type]
            ended_at=parse_iso(r[4]),
        )
        for r in conn.execute(
            "SELECT step, people, status, dialled_at, ended_at FROM hotline_steps WHERE call_sid = ? ORDER BY step",
            (call_sid,),
        )
    ]


def calls(conn: sqlite3.Connection, ticket: int | None, limit: int) -> list[HotlineCall]:
    where, args = ("WHERE ticket = ?", [ticket]) if ticket is not None else ("", [])
    rows = conn.execute(
        f"SELECT {_CALL_COLS} FROM hotline_calls {where} ORDER BY started_at DESC, call_sid LIMIT ?",
        (*args, limit),
    ).fetchall()
    return [_call(r) for r in rows]


class HotlineSqlite:
    """Methods of SqliteStore for the standby number (`_read`/`_write` come from SqliteStore)."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        async def _write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    async def start_hotline_call(
        self,
        *,
        call_sid: str,
        caller: str | None,
        contact: str | None,
        customer: str | None,
        project: str | None,
        action: str,
        language: str,
        reason: str,
        now: datetime,
    ) -> tuple[HotlineCall, bool]:
        return await self._write(  # type: ignore[no-any-return]
            start_call, call_sid, caller, contact, customer, project, action, language, reason, now
        )

    async def open_hotline_ticket(
        self, call_sid: str, *, ticket: Mapping[str, Any], incident: HotlineIncident | None, now: datetime
    ) -> HotlineCall:
        await self._write(open_ticket, call_sid, dict(ticket), incident, now)
        return await self._read(_must, call_sid)  # type: ignore[no-any-return]

    async def answer_hotline_call(self, call_sid: str, reply: str) -> None:
        await self._write(answer, call_sid, reply)

    async def hotline_dial(self, call_sid: str, step: int, people: Sequence[str], *, now: datetime) -> bool:
        return await self._write(dial, call_sid, step, list(people), now)  # type: ignore[no-any-return]

    async def hotline_dial_ended(self, call_sid: str, step: int, status: str, *, now: datetime) -> bool:
        return await self._write(dial_ended, call_sid, step, status, DIAL_CONNECTED, now)  # type: ignore[no-any-return]

    async def hotline_answered(self, call_sid: str, person: str, *, now: datetime) -> tuple[HotlineCall, bool]:
        first = await self._write(answered, call_sid, person, now)
        return await self._read(_must, call_sid), first

    async def hotline_voicemail(
        self, call_sid: str, *, recording_sid: str, url: str, seconds: int | None, now: datetime
    ) -> tuple[HotlineCall, bool]:
        first = await self._write(voicemail, call_sid, recording_sid, url, seconds, now)
        return await self._read(_must, call_sid), first

    async def hotline_hung_up(self, call_sid: str, *, now: datetime) -> bool:
        return await self._write(hung_up, call_sid, now)  # type: ignore[no-any-return]

    async def get_hotline_call(self, call_sid: str) -> HotlineCall | None:
        return await self._read(get_call, call_sid)  # type: ignore[no-any-return]

    async def hotline_steps(self, call_sid: str) -> list[HotlineStep]:
        return await self._read(steps, call_sid)  # type: ignore[no-any-return]

    async def hotline_calls(self, *, ticket: int | None = None, limit: int = 100) -> list[HotlineCall]:
        return await self._read(calls, ticket, limit)  # type: ignore[no-any-return]
