"""Standby bookings and time logged on incidents in the SQLite store (the port's BillingStore).

Writes run on the store's writer thread inside its transaction; reads on a reader connection."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

from pager.domain import response

from .codec import iso, parse_iso, where
from .port import Booking, Conflict, CustomerIncident, IssuedStatement, NotFound, WorkEntry
from .sqlite_paging import _ROUND_COLS, _event, _round

# -- writes ----------------------------------------------------------------------------------------


def add_booking(
    conn: sqlite3.Connection, customer: str, start: datetime, end: datetime, created_by: str, now: datetime
) -> int:
    if end <= start:
        raise Conflict("a booking ends after it starts")
    return conn.execute(
        "INSERT INTO bookings (customer, start_at, end_at, created_by, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (customer, iso(start), iso(end), created_by, iso(now)),
    ).fetchone()[0]


def cancel_booking(conn: sqlite3.Connection, bid: int, by: str, now: datetime) -> None:
    row = conn.execute("SELECT cancelled_at FROM bookings WHERE id = ?", (bid,)).fetchone()
    if row is None:
        raise NotFound(f"booking {bid} not found")
    if row[0] is None:  # cancelling twice keeps the first cancellation
        conn.execute("UPDATE bookings SET cancelled_by = ?, cancelled_at = ? WHERE id = ?", (by, iso(now), bid))


_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def issue_statement(conn: sqlite3.Connection, customer: str, month: str, now: datetime) -> None:
    """Issue the statement number of (customer, month) unless it has one: the month's next sequence
    number, in the writer's transaction (so two issues never take the same number)."""
    if not isinstance(month, str) or not _MONTH.match(month):
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    if conn.execute("SELECT 1 FROM statements WHERE customer = ? AND month = ?", (customer, month)).fetchone():
        return
    seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM statements WHERE month = ?", (month,)).fetchone()[0]
    conn.execute(
        "INSERT INTO statements (customer, month, seq, number, issued_at) VALUES (?, ?, ?, ?, ?)",
        (customer, month, seq, f"{month}-{seq:04d}", iso(now)),
    )


def issued_statement(conn: sqlite3.Connection, customer: str, month: str) -> IssuedStatement:
    row = conn.execute(
        "SELECT customer, month, number, issued_at FROM statements WHERE customer = ? AND month = ?", (customer, month)
    ).fetchone()
    return IssuedStatement(row[0], row[1], row[2], parse_iso(row[3]))


def add_work(
    conn: sqlite3.Connection,
    iid: int,
    person: str,
    start: datetime | None,
    end: datetime | None,
    minutes: int,
    note: str | None,
    by: str,
    now: datetime,
) -> int:
    """A time entry of `minutes` (port.work_minutes decided them) and its work_logged event."""
    if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (iid,)).fetchone() is None:
        raise NotFound(f"incident {iid} not found")
    at = iso(now)
    wid = conn.execute(
        "INSERT INTO work_entries (incident_id, person, start_at, end_at, minutes, note, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (iid, person, iso(start), iso(end), minutes, note, by, at),
    ).fetchone()[0]
    _event(
        conn,
        iid,
        at,
        "work_logged",
        by,
        {"work_id": wid, "person": person, "minutes": minutes, "start": iso(start), "end": iso(end), "note": note},
    )
    conn.execute("UPDATE incidents SET updated_at = ? WHERE id = ?", (at, iid))
    return wid


# -- reads -----------------------------------------------------------------------------------------


def bookings(
    conn: sqlite3.Connection,
    customer: str | None,
    bid: int | None,
    include_cancelled: bool,
    ending_after: datetime | None,
) -> list[Booking]:
    clause, args = where(
        (customer is not None, "customer = ?", (customer,)),
        (bid is not None, "id = ?", (bid,)),
        (not include_cancelled, "cancelled_at IS NULL", ()),
        (ending_after is not None, "end_at > ?", (iso(ending_after),)),
    )
    sql = (
        "SELECT id, customer, start_at, end_at, created_by, created_at, cancelled_by, cancelled_at FROM bookings"
        + clause
        + " ORDER BY start_at, id"
    )
    return [
        Booking(
            id=r[0],
            customer=r[1],
            start=parse_iso(r[2]),
            end=parse_iso(r[3]),
            created_by=r[4],
            created_at=parse_iso(r[5]),
            cancelled_by=r[6],
            cancelled_at=parse_iso(r[7]),
        )
        for r in conn.execute(sql, args)
    ]


_WORK = "SELECT id, incident_id, person, start_at, end_at, minutes, note, created_by, created_at FROM work_entries "


def _work_entry(r: tuple) -> WorkEntry:
    return WorkEntry(
        id=r[0],
        incident_id=r[1],
        person=r[2],
        start=parse_iso(r[3]),
        end=parse_iso(r[4]),
        minutes=r[5],
        note=r[6],
        created_by=r[7],
        created_at=parse_iso(r[8]),
    )


def work_entries(conn: sqlite3.Connection, iid: int) -> list[WorkEntry]:
    return [_work_entry(r) for r in conn.execute(_WORK + "WHERE incident_id = ? ORDER BY id", (iid,))]


def work_entry(conn: sqlite3.Connection, wid: int) -> WorkEntry:
    return _work_entry(conn.execute(_WORK + "WHERE id = ?", (wid,)).fetchone())


def customer_incidents(
    conn: sqlite3.Connection, project_prefix: str, start: datetime, end: datetime
) -> list[CustomerIncident]:
    like = project_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        "SELECT e.incident_id, e.generation, e.project, e.rotation, e.first_page_at, e.deadline_at, "
        "e.breached_at, e.target_seconds, e.created_at, i.summary, i.state, i.acknowledged_at, "
        "i.acknowledged_by, i.resolved_at, i.resolved_by FROM escalations e "
        "JOIN incidents i ON i.id = e.incident_id WHERE e.project LIKE ? ESCAPE '\\' "
        "AND COALESCE(e.first_page_at, e.created_at) >= ? AND COALESCE(e.first_page_at, e.created_at) < ? "
        "ORDER BY COALESCE(e.first_page_at, e.created_at), e.incident_id, e.generation",
        (like, iso(start), iso(end)),
    ).fetchall()
    first: dict[int, tuple] = {}
    rounds: dict[int, list[response.Round]] = {}
    for r in rows:
        first.setdefault(r[0], r)  # the incident's first escalation in the range
    for iid in first:
        rounds[iid] = [
            _round(x)
            for x in conn.execute(
                f"SELECT {_ROUND_COLS} FROM escalations WHERE incident_id = ? AND project LIKE ? ESCAPE '\\' "
                "AND COALESCE(first_page_at, created_at) >= ? AND COALESCE(first_page_at, created_at) < ? "
                "ORDER BY generation",
                (iid, like, iso(start), iso(end)),
            )
        ]
    return [
        CustomerIncident(
            incident_id=r[0],
            generation=r[1],
            project=r[2],
            rotation=r[3],
            first_page_at=parse_iso(r[4]),
            deadline_at=parse_iso(r[5]),
            breached_at=parse_iso(r[6]),
            target_seconds=r[7],
            created_at=parse_iso(r[8]),
            summary=r[9],
            state=r[10],
            acknowledged_at=parse_iso(r[11]),
            acknowledged_by=r[12],
            resolved_at=parse_iso(r[13]),
            resolved_by=r[14],
            work=tuple(work_entries(conn, iid)),
            rounds=tuple(rounds[iid]),
        )
        for iid, r in first.items()
    ]
