"""The paging half of the SQLite store: escalations, the outbox, heartbeats. Mixed into SqliteStore."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from pager.domain import response
from pager.domain.messages import AlertText
from pager.domain.projects import is_customer_project, split_project

from .codec import dumps, parse_iso
from .codec import iso as _iso
from .port import (
    AlertTexts,
    Breach,
    CallbackClaim,
    DeliveryUpdate,
    DueMessage,
    Escalation,
    EscalationWork,
    NotFound,
    OutboxBacklog,
    OutboxMessage,
    RoundRow,
    RoundsPaged,
    UnroutedIncident,
)
from .sqlite_rows import in_chunks, insert_rows, returning_rows, together

# a message that went out: by a provider (sent) or by the dry-run notifier (simulated); both count for throttles
# and bundling (a dry-run node bundles as a real one) and for whom an SMS reply answers
DELIVERED = "('sent', 'simulated')"
CALLBACK_KINDS = ("sms", "voice", "status")  # as migration 0010's CHECK says
INSERT_EVENT = "INSERT INTO events (incident_id, at, kind, actor, data) VALUES (?, ?, ?, ?, ?)"


def _event(conn: sqlite3.Connection, iid: int, at: str, kind: str, actor: str | None, data: dict) -> None:
    """One entry on an incident's timeline."""
    conn.execute(INSERT_EVENT, (iid, at, kind, actor, dumps(data)))


def _events(conn: sqlite3.Connection, entries: list[tuple[int, str, str, str | None, dict]]) -> None:
    """Entries (incident, at, kind, actor, data) on their incidents' timelines, in this order, as multi-row
    statements (a bundle's `paged` entries: one per incident it carried)."""
    insert_rows(conn, INSERT_EVENT, [(iid, at, kind, actor, dumps(data)) for iid, at, kind, actor, data in entries])


def quiet(conn: sqlite3.Connection, iid: int, at: str, why: str, *, via: str | None = None) -> int:
    """At an acknowledgement or resolve (in its transaction): keep the current round's first answer,
    stop the incident's escalation and cancel its queued pages. `via`: how it was answered (sms,
    voice, link, api, cli); None: through the monitoring source (the incident's source). Returns the
    pages cancelled."""
    _keep_answer(conn, iid, via)
    conn.execute(
        "UPDATE escalations SET status = 'stopped', next_at = NULL WHERE incident_id = ? "
        "AND status IN ('active', 'waiting')",
        (iid,),
    )
    n = conn.execute(
        "UPDATE outbox SET status = 'cancelled', error = ? WHERE incident_id = ? AND kind = 'page' "
        "AND status = 'pending'",
        (why, iid),
    ).rowcount
    return n


def _keep_answer(conn: sqlite3.Connection, iid: int, via: str | None) -> None:
    """The first acknowledgement or resolve of the incident's current round (generation = its reopen
    count), as the incident row holds it now, on that round's escalation; a later one changes nothing.
    A round answered before its first page has no response time to observe."""
    row = conn.execute(
        "SELECT state, reopen_count, acknowledged_at, acknowledged_by, resolved_at, resolved_by, "
        "source FROM incidents WHERE id = ?",
        (iid,),
    ).fetchone()
    if row is None:
        return
    state, generation, acked_at, acked_by, resolved_at, resolved_by, source = row
    if state == "triggered":
        return
    if acked_at is not None:  # acknowledged, or resolved after an acknowledgement of this round
        kind, at, by = "acknowledged", acked_at, acked_by
    else:
        kind, at, by = "resolved", resolved_at, resolved_by
    conn.execute(
        "UPDATE escalations SET answered_at = ?, answered_by = ?, answered_via = ?, answered_kind = ?, "
        "response_observed = CASE WHEN first_page_at IS NULL THEN 1 ELSE response_observed END "
        "WHERE incident_id = ? AND generation = ? AND answered_at IS NULL",
        (at, by, via or source, kind, iid, generation),
    )


_ROUND_COLS = (
    "incident_id, generation, target_seconds, first_page_at, escalate_at, answered_at, answered_by, "
    "answered_via, answered_kind"
)


def _round(r: tuple) -> response.Round:
    """A response.Round from the columns _ROUND_COLS, in that order."""
    iid, generation, target_seconds, first_page_at, escalate_at, answered_at, by, via, kind = r
    answer = None
    if answered_at is not None:
        answer = response.Answer(at=parse_iso(answered_at), by=by, via=via, kind=kind)
    return response.Round(
        incident_id=iid,
        generation=generation,
        target=timedelta(seconds=target_seconds),
        first_page_at=parse_iso(first_page_at),
        at_risk_at=parse_iso(escalate_at),
        answer=answer,
    )


_ESC_COLS = (
    "incident_id, generation, project, rotation, policy, status, step, next_at, first_page_at, deadline_at, "
    "escalate_at, escalated_early, breached_at, target_seconds, reason, created_at, hold, maintenance_id, severity"
)
_NEXT_AT = [c.strip() for c in _ESC_COLS.split(",")].index("next_at")  # its place in a row of _ESC_COLS


def _escalation(r: tuple) -> Escalation:
    """An Escalation from the columns _ESC_COLS, then the incident's state, summary, labels and severity."""
    (
        iid,
        generation,
        project,
        rotation,
        policy,
        status,
        step,
        next_at,
        first_page_at,
        deadline_at,
        escalate_at,
        early,
        breached_at,
        target_seconds,
        reason,
        created_at,
        hold,
        maintenance_id,
        severity,
        state,
        summary,
        labels,
        incident_severity,
    ) = r
    return Escalation(
        incident_id=iid,
        generation=generation,
        project=project,
        rotation=rotation,
        policy=json.loads(policy),
        status=status,
        step=step,
        next_at=parse_iso(next_at),
        first_page_at=parse_iso(first_page_at),
        deadline_at=parse_iso(deadline_at),
        escalate_at=parse_iso(escalate_at),
        escalated_early=bool(early),
        breached_at=parse_iso(breached_at),
        target_seconds=target_seconds,
        reason=reason,
        created_at=parse_iso(created_at),
        state=state,
        summary=summary,
        labels=json.loads(labels),
        hold=hold,
        maintenance_id=maintenance_id,
        severity=severity,
        incident_severity=incident_severity,
    )


# triggered incidents whose round has no escalation yet, oldest first: a range of the partial index that
# holds only them (the engine's route stage, every tick) (tests/unit/test_outbox_queries.py)
UNROUTED = (
    "SELECT i.id, i.reopen_count, i.labels, i.summary, i.source, i.severity, i.dedup_key "
    "FROM incidents i INDEXED BY incidents_unrouted "
    "WHERE i.state = 'triggered' AND coalesce(i.routed_generation, -1) != i.reopen_count ORDER BY i.id LIMIT ?"
)
# The messages due now, at most `limit`, the longest due first, handed on in the order of their ids. Read in
# the order of outbox_due (status, due_at), so the read stops at the last one due however many pages wait for
# a later slot: read in the order of their ids, PostgreSQL's generic plan walked the whole outbox by its
# primary key whenever few of its pending messages were due (a storm's throttled pages: 38 ms a tick with
# 150,000 of them). Customer mail (kind 'customer') is the outgoing-mail stage's (sqlite_customer_mail).
# (tests/unit/test_outbox_queries.py, tests/integration/test_postgres_plans.py)
DUE = (
    "SELECT * FROM (SELECT o.id, o.incident_id, o.person, o.channel, o.address, o.kind, o.subject, o.body, "
    "o.attempts, o.due_at, i.state, i.summary, (SELECT e.project FROM escalations e WHERE e.incident_id = "
    "o.incident_id ORDER BY e.generation DESC LIMIT 1) AS project, o.generation, i.alert_count "
    "FROM outbox o LEFT JOIN incidents i ON i.id = o.incident_id "
    "WHERE o.status = 'pending' AND o.due_at <= ? AND o.kind <> 'customer' ORDER BY o.due_at LIMIT ?) AS due "
    "ORDER BY due.id"
)
# throttled messages to their slot (PagingStore.defer), by their ids: NOT INDEXED keeps SQLite's planner on
# the primary key, which would otherwise walk outbox_due's every pending row due before the slot (in a storm,
# all the pages already waiting for it) (tests/unit/test_outbox_queries.py)
DEFER = "UPDATE outbox NOT INDEXED SET due_at = ? WHERE id IN ({marks}) AND status = 'pending' AND due_at < ?"


def defer(c: sqlite3.Connection, ids: list[int], until: datetime) -> int:
    """The pending messages `ids` due at `until` unless due later (PagingStore.defer); how many were moved."""
    return c.execute(DEFER.format(marks=",".join("?" * len(ids))), (_iso(until), *ids, _iso(until))).rowcount


def _queue(c: sqlite3.Connection, incident_id: int, generation: int, messages: list[dict], at: str) -> None:
    """Messages of an incident's round into the outbox (once each: by idem_key), as multi-row statements."""
    insert_rows(c, _QUEUE, _queue_rows(incident_id, generation, messages, at))


def _queue_rows(incident_id: int, generation: int, messages: list[dict], at: str) -> list[tuple]:
    """The outbox rows (_QUEUE's parameters) of an incident's round's `messages`."""
    return [
        (
            m["idem_key"],
            incident_id,
            generation,
            m.get("person"),
            m["channel"],
            m["address"],
            m["kind"],
            m.get("subject", ""),
            m.get("body", ""),
            _iso(m["due_at"]),
            at,
        )
        for m in messages
    ]


_QUEUE = (
    "INSERT INTO outbox (idem_key, incident_id, generation, person, channel, address, kind, subject, body, "
    "due_at, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (idem_key) DO NOTHING"
)


def _create_escalations(c: sqlite3.Connection, escalations: list[dict], now: datetime) -> list[bool]:
    """create_escalation for each of `escalations` (its keywords but `now`), in order; the outbox rows and
    the timeline entries of all of them go in as one multi-row INSERT each (a storm's tick routes hundreds)."""
    at = _iso(now)
    routed = _route(c, escalations)
    made = [_new_escalation(at, **e) if (e["incident_id"], e["generation"]) in routed else None for e in escalations]
    inserted = set(returning_rows(c, _ESCALATION, [m.row for m in made if m is not None]))  # not there before
    queued: list[tuple] = []
    entries: list[tuple[int, str, str, str | None, dict]] = []
    tickets: dict[str, list[int]] = {}  # by project: a storm's incidents are of a few projects
    created = []
    for e, m in zip(escalations, made, strict=True):
        written = m is not None and m.row[:2] in inserted
        created.append(written)
        if written:
            inserted.discard(m.row[:2])  # a second escalation of one round in the list was not written
            queued += m.queued
            entries += m.entries
            if is_customer_project(e["project"]):
                tickets.setdefault(e["project"], []).append(e["incident_id"])
    with together(c):
        insert_rows(c, _QUEUE, queued)
        _events(c, entries)
        for project, numbers in tickets.items():
            for chunk, marks in in_chunks(numbers):
                c.execute(_TICKET_PROJECT.format(marks=marks), (project, split_project(project)[0], *chunk))
    return created


ROUTE = (
    "UPDATE incidents NOT INDEXED SET routed_generation = ? WHERE id IN ({marks}) AND state = 'triggered' RETURNING id"
)


def _route(c: sqlite3.Connection, escalations: list[dict]) -> set[tuple[int, int]]:
    """Each escalation's round marked routed on its incident (incidents_unrouted no longer holds it), if the
    incident is still triggered: one UPDATE per generation among them (a storm's new incidents are all of
    generation 0), its incidents found by their ids (NOT INDEXED: never through incidents_state, which holds
    every triggered incident of a storm). The (incident, generation) pairs routed."""
    ids: dict[int, list[int]] = {}
    for e in escalations:
        ids.setdefault(e["generation"], []).append(e["incident_id"])
    routed: set[tuple[int, int]] = set()
    for generation, incident_ids in ids.items():
        for chunk, marks in in_chunks(incident_ids):
            rows = c.execute(ROUTE.format(marks=marks), (generation, *chunk)).fetchall()
            routed.update((iid, generation) for (iid,) in rows)
    return routed


# An incident's ticket goes under the customer's project its first escalation was routed to (a project of the
# config, "customer/project"), unless it is under one already. Until migration 35 a trigger on every
# escalation INSERT did this: as one statement per project for a tick's tickets it costs a fraction (SQLite
# runs a trigger as a sub-program, PostgreSQL a plpgsql call per row)
_TICKET_PROJECT = "UPDATE tickets SET project = ?, customer = ? WHERE number IN ({marks}) AND project IS NULL"


# an escalation's row; the rows of a tick's new escalations go in as one multi-row INSERT, which returns the
# rounds it wrote (one that exists already is left as it is)
_ESC_ROW = (
    "incident_id",
    "generation",
    "project",
    "rotation",
    "policy",
    "status",
    "step",
    "next_at",
    "first_page_at",
    "deadline_at",
    "escalate_at",
    "escalated_early",
    "breached_at",
    "target_seconds",
    "reason",
    "created_at",
    "hold",
    "maintenance_id",
    "severity",
)
_ESCALATION = (
    f"INSERT INTO escalations ({', '.join(_ESC_ROW)}) VALUES ({', '.join('?' * len(_ESC_ROW))}) "
    "ON CONFLICT DO NOTHING RETURNING incident_id, generation"
)


class _Escalation(NamedTuple):
    """An escalation to write: its row (the values of `_ESC_ROW`; incident and generation first), and what
    goes in with it when the row is written: its outbox rows and its timeline entries."""

    row: tuple
    queued: list[tuple]
    entries: list[tuple[int, str, str, str | None, dict]]


def _new_escalation(
    at: str,
    *,
    incident_id: int,
    generation: int,
    project: str,
    rotation: str | None,
    policy: dict,
    status: str,
    next_at: datetime | None,
    target_seconds: int,
    reason: str,
    booking: dict | None = None,
    hold: str | None = None,
    maintenance_id: int | None = None,
    severity: str = "",
    messages: list[dict] | None = None,
    first_step: dict | None = None,
) -> _Escalation:
    """An incident's escalation for its round (which `_route` marked routed on the triggered incident): its
    row, its outbox rows (`messages`) and its `routed` entry. With `first_step` (the keywords of fire_step for
    step 0 but the incident, generation and `now`), the escalation is as fire_step would leave it after that
    step (its columns in the row, its pages after `messages`, its entry after the `routed` one): a new
    escalation is at step -1 and active, on a triggered incident, so fire_step's checks cannot fail here."""
    row = {
        "incident_id": incident_id,
        "generation": generation,
        "project": project,
        "rotation": rotation,
        "policy": dumps(policy),
        "status": status,
        "step": -1,
        "next_at": _iso(next_at),
        "first_page_at": None,
        "deadline_at": None,
        "escalate_at": None,
        "escalated_early": 0,
        "breached_at": None,
        "target_seconds": target_seconds,
        "reason": reason,
        "created_at": at,
        "hold": hold,
        "maintenance_id": maintenance_id,
        "severity": severity,
    }
    routed = {
        "project": project,
        "rotation": rotation,
        "paging": status == "active",
        "reason": reason,
        "policy": policy.get("name"),
        **({"booking": booking} if booking else {}),
        **({"hold": hold, "until": _iso(next_at)} if hold else {}),
        **({"maintenance_window": maintenance_id} if maintenance_id is not None else {}),
    }
    entries: list[tuple[int, str, str, str | None, dict]] = [(incident_id, at, "routed", "pagerd", routed)]
    queued = _queue_rows(incident_id, generation, messages or [], at)
    if first_step is not None:  # its first step, as fire_step writes it: its columns, its pages and its entry
        row.update(_step_columns(at, **first_step))
        queued += _queue_rows(incident_id, generation, first_step["messages"], at)
        data = dict(first_step["event"])
        entries.append((incident_id, at, data.pop("kind"), "pagerd", data))
    assert len(row) == len(_ESC_ROW), row  # _step_columns sets columns of the row, never new ones
    return _Escalation(tuple(row[k] for k in _ESC_ROW), queued, entries)


def _fire_step(
    c: sqlite3.Connection,
    *,
    incident_id: int,
    generation: int,
    k: int,
    next_at: datetime | None,
    messages: list[dict],
    now: datetime,
    first_page: bool,
    deadline: datetime | None,
    escalate_at: datetime | None,
    early: bool,
    event: dict,
    final_status: str | None,
) -> bool:
    """Step k of an escalation: its messages queued, the escalation moved on, the event on the timeline;
    only from step k-1 (False: nothing written)."""
    at = _iso(now)
    row = c.execute(
        "SELECT e.step, e.status, i.state FROM escalations e JOIN incidents i ON i.id = e.incident_id "
        "WHERE e.incident_id = ? AND e.generation = ?",
        (incident_id, generation),
    ).fetchone()
    if row is None or row[0] != k - 1 or row[1] not in ("active", "waiting"):
        return False
    if row[2] != "triggered" and row[1] == "active":
        quiet(c, incident_id, at, "incident no longer triggered")
        return False
    _queue(c, incident_id, generation, messages, at)
    cols = _step_columns(
        at,
        k=k,
        next_at=next_at,
        first_page=first_page,
        deadline=deadline,
        escalate_at=escalate_at,
        early=early,
        final_status=final_status,
    )
    c.execute(
        f"UPDATE escalations SET {', '.join(f'{col} = ?' for col in cols)} WHERE incident_id = ? AND generation = ?",
        (*cols.values(), incident_id, generation),
    )
    data = dict(event)
    _event(c, incident_id, at, data.pop("kind"), "pagerd", data)
    return True


def _step_columns(
    at: str,
    *,
    k: int,
    next_at: datetime | None,
    first_page: bool,
    deadline: datetime | None,
    escalate_at: datetime | None,
    early: bool,
    final_status: str | None,
    **_: Any,
) -> dict[str, Any]:
    """The escalation's columns that firing step k at `at` sets: fire_step's UPDATE, and the INSERT of an
    escalation written with its first step (create_escalation)."""
    cols: dict[str, Any] = {"step": k, "next_at": _iso(next_at)}
    if first_page:
        cols.update(first_page_at=at, deadline_at=_iso(deadline), escalate_at=_iso(escalate_at))
    if early:
        cols["escalated_early"] = 1
    if final_status:
        cols["status"] = final_status
    return cols


# the conditions of the engine's escalation stages' work, one place each (escalation_work asks them all at once)
# routed incidents acknowledged or resolved (by any path) since the stop stage last saw them: a range of
# the partial index that holds only them (tests/unit/test_outbox_queries.py). Whether there is one: in the
# index's order, which PostgreSQL (no index hints) then reads too; without the ORDER BY its planner takes
# LIMIT 1 over the rows it guesses match (nearly all: it cannot estimate the two-column comparison) as a
# cue to scan the table, every incident ever stored, at every tick (tests/integration/test_postgres_plans.py)
_SETTLING = (
    "FROM incidents INDEXED BY incidents_settling WHERE state != 'triggered' AND routed_generation IS NOT NULL "
    "AND coalesce(settled_generation, -1) != routed_generation"
)
_SETTLED = f"SELECT 1 {_SETTLING} ORDER BY id LIMIT 1"
# a step deferred to the office opening whose incident's severity changed since (decided again now), of
# escalations e JOIN incidents i, with `now`
_REDECIDE = "e.hold = 'urgency' AND e.status = 'waiting' AND e.next_at > ? AND i.severity != e.severity"
_ESC_JOIN = "FROM escalations e JOIN incidents i ON i.id = e.incident_id"
# A step is due: asked of one live status at a time (`status`, then `now`), in the order of the index that
# answers it (escalations_due: status, next_at), so that its range bounds the read however many rows the
# planner guesses match; the same for a deadline passed (escalations_deadline). PostgreSQL plans a prepared
# statement for any parameter value after a few executions (its generic plan) and guesses a third of the rows
# for `next_at <= ?`: "is any step due?" (LIMIT 1 without the order) then scanned every live escalation at
# every tick, 11–14 ms with 50,000 open incidents, and the due steps were joined to every incident read in
# full (tests/integration/test_postgres_plans.py).
_LIVE = ("active", "waiting")
_STEP_DUE = "e.status = ? AND e.next_at <= ?"
_STEP_DUE_ANY = f"SELECT 1 FROM escalations e WHERE {_STEP_DUE} ORDER BY e.next_at LIMIT 1"
_BREACH_DUE = (
    "SELECT 1 FROM escalations WHERE target_settled = 0 AND deadline_at IS NOT NULL AND deadline_at < ? "
    "ORDER BY deadline_at LIMIT 1"
)
_UNOBSERVED = "response_observed = 0 AND answered_at IS NOT NULL AND first_page_at IS NOT NULL"


def escalation_work(c: sqlite3.Connection, now: datetime) -> EscalationWork:
    at = _iso(now)
    return EscalationWork(
        settled=c.execute(_SETTLED).fetchone() is not None,
        steps=any(c.execute(_STEP_DUE_ANY, (status, at)).fetchone() is not None for status in _LIVE)
        or c.execute(f"SELECT 1 {_ESC_JOIN} WHERE {_REDECIDE} LIMIT 1", (at,)).fetchone() is not None,
        breaches=c.execute(_BREACH_DUE, (at,)).fetchone() is not None,
        answered=c.execute(f"SELECT 1 FROM escalations WHERE {_UNOBSERVED} LIMIT 1").fetchone() is not None,
    )


class PagingStore:
    """Methods of SqliteStore for the engine (`_read`/`_write` come from SqliteStore)."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        async def _write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    # -- routing -----------------------------------------------------------------------------------
    async def unrouted_incidents(self, limit: int = 500) -> list[UnroutedIncident]:
        def q(c: sqlite3.Connection) -> list[UnroutedIncident]:
            rows = c.execute(
                UNROUTED,
                (limit,),
            ).fetchall()
            return [
                UnroutedIncident(
                    id=r[0],
                    generation=r[1],
                    labels=json.loads(r[2]),
                    summary=r[3],
                    source=r[4],
                    severity=r[5],
                    dedup_key=r[6],
                )
                for r in rows
            ]

        return await self._read(q)

    async def create_escalation(
        self,
        *,
        incident_id: int,
        generation: int,
        project: str,
        rotation: str | None,
        policy: dict,
        status: str,
        next_at: datetime | None,
        target_seconds: int,
        reason: str,
        now: datetime,
        booking: dict | None = None,
        hold: str | None = None,
        maintenance_id: int | None = None,
        severity: str = "",
        messages: list[dict] | None = None,
        first_step: dict | None = None,
    ) -> bool:
        escalation = dict(
            incident_id=incident_id,
            generation=generation,
            project=project,
            rotation=rotation,
            policy=policy,
            status=status,
            next_at=next_at,
            target_seconds=target_seconds,
            reason=reason,
            booking=booking,
            hold=hold,
            maintenance_id=maintenance_id,
            severity=severity,
            messages=messages,
            first_step=first_step,
        )
        return (await self.create_escalations([escalation], now))[0]

    async def create_escalations(self, escalations: list[dict[str, Any]], now: datetime) -> list[bool]:
        return await self._write(_create_escalations, escalations, now)  # type: ignore[no-any-return]

    async def escalation_work(self, now: datetime) -> EscalationWork:
        return await self._read(escalation_work, now)  # type: ignore[no-any-return]

    # -- escalation steps --------------------------------------------------------------------------
    async def due_escalations(self, now: datetime, limit: int = 500) -> list[Escalation]:
        def q(c: sqlite3.Connection) -> list[Escalation]:
            cols = (
                f"{', '.join('e.' + k.strip() for k in _ESC_COLS.split(','))}, i.state, i.summary, i.labels, i.severity"
            )
            due = f"SELECT {cols} {_ESC_JOIN} WHERE {_STEP_DUE} ORDER BY e.next_at LIMIT ?"
            rows = [r for status in _LIVE for r in c.execute(due, (status, _iso(now), limit))]
            rows = sorted(rows, key=lambda r: r[_NEXT_AT])[:limit]  # the first `limit` of both, by their time
            # deferred for the office opening, and the incident's severity has changed since: decided again now
            rows += c.execute(
                f"SELECT {cols} {_ESC_JOIN} WHERE {_REDECIDE} ORDER BY e.next_at LIMIT ?", (_iso(now), limit)
            ).fetchall()
            return [_escalation(r) for r in rows]

        return await self._read(q)

    async def fire_step(
        self,
        *,
        incident_id: int,
        generation: int,
        k: int,
        next_at: datetime | None,
        messages: list[dict],
        now: datetime,
        first_page: bool,
        deadline: datetime | None,
        escalate_at: datetime | None,
        early: bool,
        event: dict,
        final_status: str | None,
    ) -> bool:
        """Step k of an escalation: queue its messages; idempotent (only from step k-1)."""
        return await self._write(
            lambda c: _fire_step(
                c,
                incident_id=incident_id,
                generation=generation,
                k=k,
                next_at=next_at,
                messages=messages,
                now=now,
                first_page=first_page,
                deadline=deadline,
                escalate_at=escalate_at,
                early=early,
                event=event,
                final_status=final_status,
            )
        )

    async def reroute_escalation(
        self,
        *,
        incident_id: int,
        generation: int,
        rotation: str | None,
        status: str,
        next_at: datetime | None,
        hold: str | None,
        maintenance_id: int | None,
        severity: str,
        reason: str,
        messages: list[dict],
        event: dict,
        now: datetime,
    ) -> bool:
        def w(c: sqlite3.Connection) -> bool:
            at = _iso(now)
            row = c.execute(
                "SELECT e.step, e.status, e.hold, i.state FROM escalations e JOIN incidents i ON i.id = e.incident_id "
                "WHERE e.incident_id = ? AND e.generation = ?",
                (incident_id, generation),
            ).fetchone()
            if row is None or row[0] != -1 or row[1] != "waiting" or row[2] is None:
                return False
            if row[3] != "triggered":
                quiet(c, incident_id, at, "incident no longer triggered")
                return False
            c.execute(
                "UPDATE escalations SET rotation = ?, status = ?, next_at = ?, hold = ?, maintenance_id = ?, "
                "severity = ?, reason = ? WHERE incident_id = ? AND generation = ?",
                (rotation, status, _iso(next_at), hold, maintenance_id, severity, reason, incident_id, generation),
            )
            _queue(c, incident_id, generation, messages, at)
            data = dict(event)
            _event(c, incident_id, at, data.pop("kind"), "pagerd", data)
            return True

        return await self._write(w)

    async def stop_settled(self, now: datetime) -> list[int]:
        """Escalations of incidents acknowledged or resolved by any path: stop them, cancel their pages."""
        if await self._read(lambda c: c.execute(_SETTLED).fetchone()) is None:
            return []

        def w(c: sqlite3.Connection) -> list[int]:
            at = _iso(now)
            stopped = []
            for (iid,) in c.execute(f"SELECT id {_SETTLING}").fetchall():
                live = c.execute(
                    "SELECT 1 FROM escalations WHERE incident_id = ? AND status IN ('active', 'waiting') LIMIT 1",
                    (iid,),
                ).fetchone()
                if live is not None:
                    quiet(c, iid, at, "incident acknowledged or resolved")
                    stopped.append(iid)
                c.execute("UPDATE incidents SET settled_generation = routed_generation WHERE id = ?", (iid,))
            return stopped

        return await self._write(w)

    async def record_breaches(self, now: datetime) -> list[Breach]:
        if await self._read(lambda c: c.execute(_BREACH_DUE, (_iso(now),)).fetchone()) is None:
            return []
        return await self._record_breaches(now)

    async def _record_breaches(self, now: datetime) -> list[Breach]:
        """The rounds whose deadline has passed, judged once each by response.judge in the same
        transaction as the answers they read: a breach is recorded (breached_at, a
        `response_target_breached` event) for each one judged breached; every one of them is settled,
        met or breached, so the scan stays small. Returns the breaches."""

        def w(c: sqlite3.Connection) -> list[Breach]:
            at = _iso(now)
            rows = c.execute(
                f"SELECT {_ROUND_COLS} FROM escalations WHERE target_settled = 0 "
                "AND deadline_at IS NOT NULL AND deadline_at < ?",
                (at,),
            ).fetchall()
            out = []
            for r in rows:
                record = response.judge(_round(r), now)
                c.execute(
                    "UPDATE escalations SET target_settled = 1 WHERE incident_id = ? AND generation = ?", (r[0], r[1])
                )
                if record.outcome is not response.Outcome.BREACHED:
                    continue
                c.execute(
                    "UPDATE escalations SET breached_at = ? WHERE incident_id = ? AND generation = ?", (at, r[0], r[1])
                )
                _event(
                    c,
                    r[0],
                    at,
                    "response_target_breached",
                    "pagerd",
                    {"round": record.round.number, "deadline": _iso(record.deadline)},
                )
                out.append(Breach(incident_id=r[0], round=record.round.number, deadline=record.deadline))
            return out

        return await self._write(w)

    async def unobserved_responses(self) -> list[response.Round]:
        """The paged rounds answered since the last call (each round once), for the response-time
        metric."""
        if (
            await self._read(lambda c: c.execute(f"SELECT 1 FROM escalations WHERE {_UNOBSERVED} LIMIT 1").fetchone())
            is None
        ):
            return []

        def w(c: sqlite3.Connection) -> list[response.Round]:
            rows = c.execute(f"SELECT {_ROUND_COLS} FROM escalations WHERE {_UNOBSERVED}").fetchall()
            for r in rows:
                c.execute(
                    "UPDATE escalations SET response_observed = 1 WHERE incident_id = ? AND generation = ?",
                    (r[0], r[1]),
                )
            return [_round(r) for r in rows]

        return await self._write(w)

    async def rounds_of(self, incident_id: int) -> list[RoundRow]:
        """The incident's escalations, one per round in order."""

        def q(c: sqlite3.Connection) -> list[RoundRow]:
            rows = c.execute(
                f"SELECT {_ROUND_COLS}, project, rotation, reason, status, step, breached_at, next_at, policy, "
                "hold, maintenance_id FROM escalations WHERE incident_id = ? ORDER BY generation",
                (incident_id,),
            ).fetchall()
            return [
                RoundRow(
                    round=_round(r[:9]),
                    project=r[9],
                    rotation=r[10],
                    reason=r[11],
                    escalation=r[12],
                    step=r[13],
                    breached_at=parse_iso(r[14]),
                    next_at=parse_iso(r[15]),
                    policy=json.loads(r[16]),
                    hold=r[17],
                    maintenance_id=r[18],
                )
                for r in rows
            ]

        return await self._read(q)

    async def queue_message(
        self,
        *,
        idem_key: str,
        person: str | None,
        channel: str,
        address: str,
        kind: str,
        subject: str,
        body: str,
        due_at: datetime,
        now: datetime,
    ) -> bool:
        """A message not tied to an incident (hand-over notices): into the outbox, once per idem_key."""
        return await self._write(
            lambda c: (
                c.execute(
                    "INSERT INTO outbox (idem_key, incident_id, person, channel, address, kind, subject, body, due_at, status, "
                    "created_at) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (idem_key) DO NOTHING",
                    (idem_key, person, channel, address, kind, subject, body, _iso(due_at), _iso(now)),
                ).rowcount
                == 1
            )
        )

    # -- the outbox --------------------------------------------------------------------------------
    async def due_messages(self, now: datetime, limit: int = 2000) -> list[DueMessage]:
        def q(c: sqlite3.Connection) -> list[DueMessage]:
            rows = c.execute(DUE, (_iso(now), limit)).fetchall()
            return [
                DueMessage(
                    id=r[0],
                    incident_id=r[1],
                    person=r[2],
                    channel=r[3],
                    address=r[4],
                    kind=r[5],
                    subject=r[6],
                    body=r[7],
                    attempts=r[8],
                    due_at=parse_iso(r[9]),
                    state=r[10],
                    summary=r[11],
                    project=r[12],
                    generation=r[13],
                    alert_count=r[14],
                )
                for r in rows
            ]

        return await self._read(q)

    async def alert_texts(self, incident_ids: Sequence[int]) -> dict[int, AlertTexts]:
        def q(c: sqlite3.Connection) -> dict[int, AlertTexts]:
            found: dict[int, tuple[str, list[AlertText]]] = {}
            for chunk, marks in in_chunks(sorted(set(incident_ids))):
                for iid, summary, a_summary, labels, status in c.execute(
                    "SELECT i.id, i.summary, a.summary, a.labels, a.status FROM incidents i "
                    f"LEFT JOIN alerts a ON a.incident_id = i.id WHERE i.id IN ({marks}) ORDER BY i.id, a.id",
                    chunk,
                ):
                    _, alerts = found.setdefault(iid, (summary, []))
                    if labels is not None:  # an incident without alerts has one row of NULLs
                        alerts.append(AlertText(a_summary, json.loads(labels), status == "firing"))
            return {iid: AlertTexts(summary, tuple(alerts)) for iid, (summary, alerts) in found.items()}

        return await self._read(q)  # type: ignore[no-any-return]

    async def defer(self, ids: list[int], until: datetime) -> int:
        """Throttled: these pending messages (what a tick found due for one address and channel) wait for
        its next slot, then go out as one bundle with what came meanwhile. Stored, so the due scan stays
        small in a storm and a restart keeps the throttle. Only these rows are read and written: those
        already waiting for the slot are not looked at again (a storm's tick costs what it found due)."""
        return await self._write(defer, ids, until)  # type: ignore[no-any-return]

    async def sent_since(self, address: str, channel: str, since: datetime) -> list[datetime]:
        return await self._read(
            lambda c: [
                parse_iso(r[0])
                for r in c.execute(
                    f"SELECT sent_at FROM outbox WHERE address = ? AND channel = ? AND status IN {DELIVERED} AND bundle_id IS NULL "
                    "AND sent_at >= ? ORDER BY sent_at",
                    (address, channel, _iso(since)),
                )
            ]
        )

    async def claim_messages(self, carrier: int, ids: list[int], body: str, now: datetime) -> bool:
        """Mark `carrier` (one of `ids`) sending, with the bundle's body, and the rest bundled into it, if all
        are still pending."""

        def w(c: sqlite3.Connection) -> bool:
            marks = ",".join("?" * len(ids))
            n = c.execute(f"SELECT count(*) FROM outbox WHERE id IN ({marks}) AND status = 'pending'", ids).fetchone()[
                0
            ]
            if n != len(ids):
                return False
            # every message in the bundle is tried once more (a failed bundle is rebundled; its retries go on):
            # each row written once (on PostgreSQL every UPDATE of a row writes all of its index entries again)
            tried = "attempts = attempts + 1, first_tried_at = coalesce(first_tried_at, ?)"
            at = _iso(now)
            c.execute(f"UPDATE outbox SET status = 'sending', body = ?, {tried} WHERE id = ?", (body, at, carrier))
            others = [i for i in ids if i != carrier]
            if others:
                c.execute(
                    f"UPDATE outbox SET status = 'bundled', bundle_id = ?, {tried} "
                    f"WHERE id IN ({','.join('?' * len(others))})",
                    (carrier, at, *others),
                )
            return True

        return await self._write(w)

    async def finish_message(
        self,
        carrier: int,
        *,
        sent: bool,
        provider_id: str | None,
        error: str | None,
        retry_at: datetime | None,
        now: datetime,
        simulated: bool = False,
    ) -> None:
        status = ("simulated" if simulated else "sent") if sent else "failed"

        def w(c: sqlite3.Connection) -> None:
            # `sending`, or `pending` again after recover_sending and not yet claimed (the send happened: the
            # next holder need not repeat it); a final status is a result recorded already, and a repeat of
            # it (a write whose commit went through while its connection broke) changes nothing
            claimed = c.execute("SELECT status FROM outbox WHERE id = ?", (carrier,)).fetchone()
            if claimed is None or claimed[0] not in ("sending", "pending"):
                return
            at = _iso(now)
            members = [carrier] + [r[0] for r in c.execute("SELECT id FROM outbox WHERE bundle_id = ?", (carrier,))]
            rows = c.execute(
                f"SELECT id, incident_id, person, channel, address, attempts FROM outbox WHERE id IN "
                f"({','.join('?' * len(members))})",
                members,
            ).fetchall()
            if sent:
                c.execute(
                    "UPDATE outbox SET status = ?, sent_at = ?, provider_id = ?, error = NULL WHERE id = ?",
                    (status, at, provider_id, carrier),
                )
                c.execute("UPDATE outbox SET sent_at = ? WHERE bundle_id = ?", (at, carrier))
            elif retry_at is not None:  # recoverable: the whole bundle goes back to pending, to be rebundled
                c.execute(
                    "UPDATE outbox SET status = 'pending', due_at = ?, error = ? WHERE id = ?",
                    (_iso(retry_at), error, carrier),
                )
                c.execute(
                    "UPDATE outbox SET status = 'pending', bundle_id = NULL, due_at = ? WHERE bundle_id = ?",
                    (_iso(retry_at), carrier),
                )
                # the person was not reached: their next contact method goes out now, while this one is
                # retried (once per message: at its first failed attempt)
                _advance_contacts(c, [r[:5] for r in rows if r[5] == 1], at)
            else:
                c.execute(
                    "UPDATE outbox SET status = 'failed', error = ? WHERE id = ? OR bundle_id = ?",
                    (error, carrier, carrier),
                )
                _advance_contacts(c, [r[:5] for r in rows], at)
            if not sent and retry_at is None:  # a customer's mail given up: the desk sees it on the ticket
                for number, kind, address, mid in c.execute(
                    "SELECT c.number, c.kind, o.address, c.message_id FROM customer_mail c JOIN outbox o "
                    "ON o.id = c.outbox_id WHERE c.outbox_id = ?",
                    (carrier,),
                ).fetchall():
                    c.execute(
                        "INSERT INTO ticket_entries (number, at, kind, actor, public, data) "
                        "VALUES (?, ?, 'mail_failed', 'pagerd', 0, ?)",
                        (number, at, dumps({"kind": kind, "to": address, "message_id": mid, "error": error})),
                    )
            _events(
                c,
                [
                    (
                        iid,
                        at,
                        "paged",
                        "pagerd",
                        {
                            "message_id": carrier,
                            "channel": channel,
                            "person": person,
                            "to": address,
                            "status": status,
                            "provider_id": provider_id,
                            "error": error,
                            "bundled": carrier != mid or len(rows) > 1,
                        },
                    )
                    for mid, iid, person, channel, address, _attempts in rows
                    if iid is not None and retry_at is None
                ],
            )

        await self._write(w)

    async def outbox_backlog(self, now: datetime) -> OutboxBacklog:
        """Messages due by `now` and not yet sent (pending, or claimed and not finished), per channel; a
        message that failed and waits for its retry is among them, waiting since its first attempt."""

        def q(c: sqlite3.Connection) -> OutboxBacklog:
            rows = c.execute(
                "SELECT channel, count(*), min(coalesce(first_tried_at, due_at)) FROM outbox "
                "WHERE status IN ('pending', 'sending') AND (due_at <= ? OR first_tried_at IS NOT NULL) "
                "GROUP BY channel",
                (_iso(now),),
            ).fetchall()
            oldest = min((r[2] for r in rows), default=None)
            return OutboxBacklog(pending={r[0]: r[1] for r in rows}, oldest_due_at=parse_iso(oldest))

        return await self._read(q)

    async def recover_sending(self, now: datetime) -> int:
        """After a crash: messages caught in 'sending' go out again (at least once; same message id)."""

        def w(c: sqlite3.Connection) -> int:
            return c.execute(
                "UPDATE outbox SET status = 'pending', due_at = ? WHERE status = 'sending'", (_iso(now),)
            ).rowcount

        return await self._write(w)

    async def message(self, message_id: int) -> OutboxMessage | None:
        def q(c: sqlite3.Connection) -> OutboxMessage | None:
            r = c.execute(
                "SELECT id, incident_id, person, channel, address, kind, body, status, bundle_id FROM outbox "
                "WHERE id = ?",
                (message_id,),
            ).fetchone()
            if r is None:
                return None
            carrier = r[8] or r[0]
            incidents = tuple(
                sorted(
                    {
                        x[0]
                        for x in c.execute(
                            "SELECT incident_id FROM outbox WHERE (id = ? OR bundle_id = ?) AND incident_id IS NOT NULL",
                            (carrier, carrier),
                        )
                    }
                )
            )
            return OutboxMessage(
                id=r[0],
                incident_id=r[1],
                person=r[2],
                channel=r[3],
                address=r[4],
                kind=r[5],
                body=r[6],
                status=r[7],
                carrier=carrier,
                incident_ids=incidents,
            )

        return await self._read(q)

    async def last_message_to(self, address: str) -> OutboxMessage | None:
        r = await self._read(
            lambda c: c.execute(
                f"SELECT id FROM outbox WHERE address = ? AND status IN {DELIVERED} AND bundle_id IS NULL "
                "AND channel IN ('sms', 'voice') AND incident_id IS NOT NULL ORDER BY sent_at DESC, id DESC LIMIT 1",
                (address,),
            ).fetchone()
        )
        return await self.message(r[0]) if r else None

    async def open_incidents_paged_to(self, address: str) -> list[int]:
        """Incidents still triggered that a sent message reached at this address."""
        return await self._read(
            lambda c: [
                r[0]
                for r in c.execute(
                    "SELECT DISTINCT o.incident_id FROM outbox o JOIN incidents i ON i.id = o.incident_id "
                    "WHERE o.address = ? AND o.sent_at IS NOT NULL AND i.state = 'triggered' ORDER BY o.incident_id",
                    (address,),
                )
            ]
        )

    async def rounds_paged(self, person: str, incident_ids: list[int]) -> list[RoundsPaged]:
        ids = sorted(set(incident_ids))
        if not ids:
            return []

        def q(c: sqlite3.Connection) -> list[RoundsPaged]:
            marks = ",".join("?" * len(ids))
            reached: dict[int, set[int]] = {}
            for iid, generation in c.execute(
                f"SELECT DISTINCT incident_id, generation FROM outbox WHERE incident_id IN ({marks}) "
                "AND person = ? AND generation IS NOT NULL",
                (*ids, person),
            ):
                reached.setdefault(iid, set()).add(generation)
            return [
                RoundsPaged(incident_id=iid, current=current, rounds=tuple(sorted(reached.get(iid, ()))))
                for iid, current in c.execute(
                    f"SELECT id, reopen_count FROM incidents WHERE id IN ({marks}) ORDER BY id", ids
                )
            ]

        return await self._read(q)

    # -- Twilio callbacks ----------------------------------------------------------------------------
    async def claim_callback(self, kind: str, key: str, now: datetime) -> CallbackClaim:
        """The first claim inserts the callback's row; a later one finds it, keeps it (its seen_at moves
        on, so a callback replayed again and again is kept as long as it keeps coming) and answers the
        reply stored for it."""
        if kind not in CALLBACK_KINDS:
            raise ValueError(f"unknown callback kind {kind!r} (known: {', '.join(CALLBACK_KINDS)})")

        def w(c: sqlite3.Connection) -> CallbackClaim:
            at = _iso(now)
            row = c.execute("SELECT reply FROM twilio_callbacks WHERE kind = ? AND key = ?", (kind, key)).fetchone()
            if row is None:
                c.execute(
                    "INSERT INTO twilio_callbacks (kind, key, reply, seen_at) VALUES (?, ?, NULL, ?)", (kind, key, at)
                )
                return CallbackClaim(first=True, reply=None)
            c.execute(
                "UPDATE twilio_callbacks SET seen_at = max(seen_at, ?) WHERE kind = ? AND key = ?", (at, kind, key)
            )
            return CallbackClaim(first=False, reply=row[0])

        return await self._write(w)

    async def answer_callback(self, kind: str, key: str, reply: str) -> None:
        def w(c: sqlite3.Connection) -> None:
            if (
                c.execute(
                    "UPDATE twilio_callbacks SET reply = ? WHERE kind = ? AND key = ? AND reply IS NULL",
                    (reply, kind, key),
                ).rowcount
                == 0
                and c.execute("SELECT 1 FROM twilio_callbacks WHERE kind = ? AND key = ?", (kind, key)).fetchone()
                is None
            ):
                raise NotFound(f"callback {kind} {key!r} was not claimed")

        await self._write(w)

    async def delivery_update(self, message_id: int, status: str, *, failed: bool, now: datetime) -> DeliveryUpdate:
        def w(c: sqlite3.Connection) -> DeliveryUpdate:
            at = _iso(now)
            r = c.execute("SELECT id FROM outbox WHERE id = ?", (message_id,)).fetchone()
            if r is None:
                raise NotFound(f"message {message_id} not found")
            c.execute("UPDATE outbox SET delivery_status = ? WHERE id = ?", (status, message_id))
            rows = c.execute(
                "SELECT id, incident_id, person, channel, address FROM outbox WHERE id = ? OR bundle_id = ?",
                (message_id, message_id),
            ).fetchall()
            for _, iid, person, channel, _addr in rows:
                if iid is not None:
                    _event(
                        c,
                        iid,
                        at,
                        "delivery",
                        "twilio",
                        {"message_id": message_id, "channel": channel, "person": person, "status": status},
                    )
            moved = _advance_contacts(c, rows, at) if failed else 0
            return DeliveryUpdate(rows=len(rows), advanced=moved)

        return await self._write(w)

    async def escalate_now(self, incident_id: int, *, actor: str, via: str, now: datetime) -> None:
        def w(c: sqlite3.Connection) -> None:
            at = _iso(now)
            n = c.execute(
                "UPDATE escalations SET next_at = ? WHERE incident_id = ? AND status = 'active'", (at, incident_id)
            ).rowcount
            if c.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone() is None:
                raise NotFound(f"incident {incident_id} not found")
            _event(c, incident_id, at, "escalate_requested", actor, {"via": via, "active": bool(n)})

        await self._write(w)

    # -- heartbeats --------------------------------------------------------------------------------
    async def beat(self, name: str, source: str, now: datetime) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO heartbeats (name, last_seen, source) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "last_seen = excluded.last_seen, source = excluded.source",
                (name, _iso(now), source),
            )
        )

    async def heartbeats(self) -> dict[str, datetime]:
        return await self._read(
            lambda c: {
                name: parse_iso(last_seen) for name, last_seen in c.execute("SELECT name, last_seen FROM heartbeats")
            }
        )


def _advance_contacts(c: sqlite3.Connection, rows: list[tuple], at: str) -> int:
    """A message that failed (or a call busy / not answered): the person's next contact method goes out now."""
    moved = 0
    for _, iid, person, _channel, _addr in rows:
        if iid is None or person is None:
            continue
        nxt = c.execute(
            "SELECT id FROM outbox WHERE incident_id = ? AND person = ? AND status = 'pending' "
            "AND first_tried_at IS NULL AND due_at > ? ORDER BY due_at, id LIMIT 1",
            (iid, person, at),
        ).fetchone()
        if nxt:
            moved += c.execute("UPDATE outbox SET due_at = ? WHERE id = ?", (at, nxt[0])).rowcount
    return moved
