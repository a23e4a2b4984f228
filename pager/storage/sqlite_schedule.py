"""Rotation overrides and hand-over notices in the SQLite store (the port's ScheduleStore).

Writes run on the store's writer thread inside its transaction; reads on a reader connection."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from .codec import iso, parse_iso, where
from .port import Conflict, NotFound, OverrideRecord, OverrideRequest

# -- writes ----------------------------------------------------------------------------------------


def add_override(
    conn: sqlite3.Connection,
    rotation: str,
    start: datetime,
    end: datetime,
    person: str,
    replaces: str | None,
    created_by: str,
    now: datetime,
) -> int:
    if end <= start:
        raise Conflict("an override ends after it starts")
    return conn.execute(
        "INSERT INTO overrides (rotation, start_at, end_at, person, replaces, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (rotation, iso(start), iso(end), person, replaces, created_by, iso(now)),
    ).fetchone()[0]


def remove_override(conn: sqlite3.Connection, oid: int, removed_by: str, now: datetime) -> None:
    row = conn.execute("SELECT removed_at FROM overrides WHERE id = ?", (oid,)).fetchone()
    if row is None:
        raise NotFound(f"override {oid} not found")
    if row[0] is None:
        conn.execute("UPDATE overrides SET removed_by = ?, removed_at = ? WHERE id = ?", (removed_by, iso(now), oid))


def claim_handover(conn: sqlite3.Connection, rotation: str, shift_start: datetime, person: str, now: datetime) -> bool:
    return (
        conn.execute(
            "INSERT INTO handover_notices (rotation, shift_start, person, notified_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (rotation, iso(shift_start), person, iso(now)),
        ).rowcount
        == 1
    )


# -- reads -----------------------------------------------------------------------------------------


def overrides(
    conn: sqlite3.Connection, rotation: str | None, oid: int | None, include_removed: bool
) -> list[OverrideRecord]:
    clause, args = where(
        (rotation is not None, "rotation = ?", (rotation,)),
        (oid is not None, "id = ?", (oid,)),
        (not include_removed, "removed_at IS NULL", ()),
    )
    sql = (
        "SELECT id, rotation, start_at, end_at, person, replaces, created_by, created_at, removed_by, removed_at "
        "FROM overrides" + clause + " ORDER BY start_at, id"
    )
    return [
        OverrideRecord(
            id=r[0],
            rotation=r[1],
            start=parse_iso(r[2]),
            end=parse_iso(r[3]),
            person=r[4],
            replaces=r[5],
            created_by=r[6],
            created_at=parse_iso(r[7]),
            removed_by=r[8],
            removed_at=parse_iso(r[9]),
        )
        for r in conn.execute(sql, args)
    ]


# -- swap and override requests ----------------------------------------------------------------------


def add_override_request(
    conn: sqlite3.Connection,
    rotation: str,
    start: datetime,
    end: datetime,
    person: str,
    replaces: str | None,
    note: str | None,
    requested_by: str,
    now: datetime,
) -> int:
    if end <= start:
        raise Conflict("an override ends after it starts")
    return conn.execute(
        "INSERT INTO override_requests (rotation, start_at, end_at, person, replaces, note, requested_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (rotation, iso(start), iso(end), person, replaces, note, requested_by, iso(now)),
    ).fetchone()[0]


def decide_override_request(conn: sqlite3.Connection, rid: int, confirm: bool, decided_by: str, now: datetime) -> None:
    row = conn.execute(
        "SELECT status, rotation, start_at, end_at, person, replaces FROM override_requests WHERE id = ?", (rid,)
    ).fetchone()
    if row is None:
        raise NotFound(f"override request {rid} not found")
    if row[0] != "pending":
        raise Conflict(f"override request {rid} is {row[0]} already")
    oid = None
    if confirm:
        oid = add_override(conn, row[1], parse_iso(row[2]), parse_iso(row[3]), row[4], row[5], decided_by, now)
    conn.execute(
        "UPDATE override_requests SET status = ?, decided_by = ?, decided_at = ?, override_id = ? WHERE id = ?",
        ("confirmed" if confirm else "declined", decided_by, iso(now), oid, rid),
    )


def override_requests(
    conn: sqlite3.Connection, status: str | None, rid: int | None, limit: int
) -> list[OverrideRequest]:
    clause, args = where((status is not None, "status = ?", (status,)), (rid is not None, "id = ?", (rid,)))
    sql = (
        "SELECT id, rotation, start_at, end_at, person, replaces, note, requested_by, created_at, status, "
        "decided_by, decided_at, override_id FROM override_requests" + clause + " ORDER BY id DESC LIMIT ?"
    )
    return [
        OverrideRequest(
            id=r[0],
            rotation=r[1],
            start=parse_iso(r[2]),
            end=parse_iso(r[3]),
            person=r[4],
            replaces=r[5],
            note=r[6],
            requested_by=r[7],
            created_at=parse_iso(r[8]),
            status=r[9],
            decided_by=r[10],
            decided_at=parse_iso(r[11]),
            override_id=r[12],
        )
        for r in conn.execute(sql, (*args, limit))
    ]
