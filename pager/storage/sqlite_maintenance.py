"""Maintenance windows in the SQLite store (the port's MaintenanceStore). Mixed into SqliteStore."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .codec import iso, parse_iso, where
from .port import Conflict, MaintenanceRecord, NotFound

_COLS = "id, customer, project, match, start_at, end_at, reason, created_by, created_at, removed_by, removed_at"


def _record(r: tuple) -> MaintenanceRecord:
    return MaintenanceRecord(
        id=r[0],
        customer=r[1],
        project=r[2],
        match=json.loads(r[3]),
        start=parse_iso(r[4]),
        end=parse_iso(r[5]),
        reason=r[6],
        created_by=r[7],
        created_at=parse_iso(r[8]),
        removed_by=r[9],
        removed_at=parse_iso(r[10]),
    )


def _windows(
    conn: sqlite3.Connection,
    customer: str | None,
    wid: int | None,
    include_removed: bool,
    ending_after: datetime | None,
) -> list[MaintenanceRecord]:
    clause, args = where(
        (customer is not None, "(customer = ? OR substr(project, 1, length(?) + 1) = ? || '/')", (customer,) * 3),
        (wid is not None, "id = ?", (wid,)),
        (not include_removed, "removed_at IS NULL", ()),
        (ending_after is not None, "end_at > ?", (iso(ending_after),)),
    )
    sql = f"SELECT {_COLS} FROM maintenance_windows{clause} ORDER BY start_at, id"
    return [_record(r) for r in conn.execute(sql, args)]


class MaintenanceSqlite:
    """Methods of SqliteStore for maintenance windows (`_read`/`_write` come from SqliteStore)."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        async def _write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    async def add_maintenance(
        self,
        *,
        customer: str | None,
        project: str | None,
        match: Mapping[str, str],
        start: datetime,
        end: datetime,
        reason: str,
        created_by: str,
        now: datetime,
    ) -> MaintenanceRecord:
        if end <= start:
            raise Conflict("a maintenance window ends after it starts")
        if sum((bool(customer), bool(project), bool(match))) != 1:
            raise Conflict("a maintenance window has exactly one of customer, project and match")

        def w(c: sqlite3.Connection) -> int:
            return c.execute(
                "INSERT INTO maintenance_windows (customer, project, match, start_at, end_at, reason, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    customer or None,
                    project or None,
                    json.dumps(dict(match), sort_keys=True),
                    iso(start),
                    iso(end),
                    reason,
                    created_by,
                    iso(now),
                ),
            ).fetchone()[0]

        wid = await self._write(w)
        return (await self._read(_windows, None, wid, True, None))[0]

    async def list_maintenance(
        self, customer: str | None = None, *, include_removed: bool = False, ending_after: datetime | None = None
    ) -> list[MaintenanceRecord]:
        return await self._read(_windows, customer, None, include_removed, ending_after)

    async def get_maintenance(self, window_id: int) -> MaintenanceRecord | None:
        rows = await self._read(_windows, None, window_id, True, None)
        return rows[0] if rows else None

    async def remove_maintenance(self, window_id: int, *, removed_by: str, now: datetime) -> MaintenanceRecord:
        def w(c: sqlite3.Connection) -> None:
            row = c.execute("SELECT removed_at FROM maintenance_windows WHERE id = ?", (window_id,)).fetchone()
            if row is None:
                raise NotFound(f"maintenance window {window_id} not found")
            if row[0] is not None:  # removing twice keeps the first removal
                return
            at = iso(now)
            c.execute(
                "UPDATE maintenance_windows SET removed_by = ?, removed_at = ? WHERE id = ?",
                (removed_by, at, window_id),
            )
            # what it holds is decided again on the engine's next tick
            c.execute(
                "UPDATE escalations SET next_at = ? WHERE hold = 'maintenance' AND maintenance_id = ? "
                "AND status = 'waiting' AND next_at > ?",
                (at, window_id, at),
            )

        await self._write(w)
        return (await self._read(_windows, None, window_id, True, None))[0]
