"""Standby requests, a project's tickets for its progress view and a statement's number read without
issuing it, in the SQLite store (the port's CustomerPortalStore). Mixed into SqliteStore.

Confirming a request makes its booking in the same transaction, with the very insert of
BillingStore.add_booking (the booking is the same as one made through POST /api/v1/bookings)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import sqlite_billing as billing
from .codec import iso, parse_iso, where
from .port import Booking, Conflict, IssuedStatement, NotFound, RequestedBy, StandbyRequest, Ticket
from .sqlite_tickets import _COLS, _ticket_fields, requester_filter

_REQUEST = (
    "id, customer, start_at, end_at, note, quote_total, currency, status, requested_by, requested_at, "
    "decided_by, decided_at, reason, booking_id"
)
LIVE = ("new", "open", "waiting_on_customer")


def _request(r: Sequence[Any]) -> StandbyRequest:
    return StandbyRequest(
        id=r[0],
        customer=r[1],
        start=parse_iso(r[2]),
        end=parse_iso(r[3]),
        note=r[4],
        quote_total=r[5],
        currency=r[6],
        status=r[7],
        requested_by=r[8],
        requested_at=parse_iso(r[9]),
        decided_by=r[10],
        decided_at=parse_iso(r[11]),
        reason=r[12],
        booking_id=r[13],
    )


def _get(conn: sqlite3.Connection, rid: int) -> StandbyRequest | None:
    r = conn.execute(f"SELECT {_REQUEST} FROM standby_requests WHERE id = ?", (rid,)).fetchone()
    return _request(r) if r else None


def _pending(conn: sqlite3.Connection, rid: int) -> StandbyRequest:
    found = _get(conn, rid)
    if found is None:
        raise NotFound(f"standby request {rid} not found")
    if found.status != "pending":
        raise Conflict(f"standby request {rid} is {found.status} already")
    return found


def _add(conn: sqlite3.Connection, row: tuple) -> int:
    if row[2] <= row[1]:
        raise Conflict("a standby request ends after it starts")
    return conn.execute(
        "INSERT INTO standby_requests (customer, start_at, end_at, note, quote_total, currency, requested_by, "
        "requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        row,
    ).fetchone()[0]


def _decide(conn: sqlite3.Connection, rid: int, status: str, by: str, reason: str | None, at: str) -> None:
    _pending(conn, rid)
    conn.execute(
        "UPDATE standby_requests SET status = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ?",
        (status, by, at, reason, rid),
    )


def _confirm(conn: sqlite3.Connection, rid: int, by: str, now: datetime) -> int:
    req = _pending(conn, rid)
    bid = billing.add_booking(conn, req.customer, req.start, req.end, by, now)
    conn.execute(
        "UPDATE standby_requests SET status = 'confirmed', decided_by = ?, decided_at = ?, booking_id = ? WHERE id = ?",
        (by, iso(now), bid, rid),
    )
    return int(bid)


def _list(conn: sqlite3.Connection, customer: str | None, status: str | None, limit: int) -> list[StandbyRequest]:
    clause, args = where(
        (customer is not None, "customer = ?", (customer,)), (status is not None, "status = ?", (status,))
    )
    sql = f"SELECT {_REQUEST} FROM standby_requests{clause} ORDER BY id DESC LIMIT ?"
    return [_request(r) for r in conn.execute(sql, [*args, limit])]


def _project_tickets(
    conn: sqlite3.Connection, project: str, since: str, limit: int, requested_by: RequestedBy | None
) -> list[Ticket]:
    cols = ", ".join(f"t.{c.strip()}" for c in _COLS.split(","))
    # the three parts, each by its index (migration 0032): live, created since, resolved since
    parts = (
        "SELECT number FROM tickets WHERE project = ? AND status IN (?, ?, ?) "
        "UNION SELECT number FROM tickets WHERE project = ? AND created_at >= ? "
        "UNION SELECT number FROM tickets WHERE project = ? AND resolved_at >= ?"
    )
    clause, args = where(
        (True, f"t.number IN ({parts})", (project, *LIVE, project, since, project, since)),
        requester_filter(requested_by),
    )
    sql = f"SELECT {cols} FROM tickets AS t{clause} ORDER BY t.number DESC LIMIT ?"
    return [Ticket(**_ticket_fields(r)) for r in conn.execute(sql, (*args, limit))]


def _issued(conn: sqlite3.Connection, customer: str, month: str) -> IssuedStatement | None:
    row = conn.execute("SELECT 1 FROM statements WHERE customer = ? AND month = ?", (customer, month)).fetchone()
    return billing.issued_statement(conn, customer, month) if row else None


class StandbySqlite:
    """Methods of SqliteStore for standby requests and the customer's portal pages."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        async def _write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    async def add_standby_request(
        self,
        *,
        customer: str,
        start: datetime,
        end: datetime,
        note: str | None,
        quote_total: str | None,
        currency: str | None,
        requested_by: str,
        now: datetime,
    ) -> StandbyRequest:
        rid = await self._write(
            _add, (customer, iso(start), iso(end), note, quote_total, currency, requested_by, iso(now))
        )
        found = await self._read(_get, rid)
        assert found is not None
        return found  # type: ignore[no-any-return]

    async def get_standby_request(self, request_id: int) -> StandbyRequest | None:
        return await self._read(_get, request_id)  # type: ignore[no-any-return]

    async def list_standby_requests(
        self, customer: str | None = None, *, status: str | None = None, limit: int = 100
    ) -> list[StandbyRequest]:
        return await self._read(_list, customer, status, limit)  # type: ignore[no-any-return]

    async def decide_standby_request(
        self, request_id: int, *, status: str, by: str, reason: str | None, now: datetime
    ) -> StandbyRequest:
        if status not in ("declined", "withdrawn"):
            raise ValueError("a standby request is declined or withdrawn here; confirm_standby_request confirms")
        await self._write(_decide, request_id, status, by, reason, iso(now))
        found = await self._read(_get, request_id)
        assert found is not None
        return found  # type: ignore[no-any-return]

    async def confirm_standby_request(
        self, request_id: int, *, by: str, now: datetime
    ) -> tuple[StandbyRequest, Booking]:
        bid = await self._write(_confirm, request_id, by, now)
        found = await self._read(_get, request_id)
        booking = (await self._read(billing.bookings, None, bid, True, None))[0]
        assert found is not None
        return found, booking

    async def project_tickets(
        self, project: str, *, since: datetime, limit: int = 2000, requested_by: RequestedBy | None = None
    ) -> list[Ticket]:
        return await self._read(_project_tickets, project, iso(since), limit, requested_by)  # type: ignore[no-any-return]

    async def get_issued_statement(self, customer: str, month: str) -> IssuedStatement | None:
        return await self._read(_issued, customer, month)  # type: ignore[no-any-return]
