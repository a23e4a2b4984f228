"""Incoming mail in the SQLite store (the port's MailStore). Mixed into SqliteStore.

A message is written by the store's writer in its group commit (the same durable commit as a webhook):
when `receive_mail` returns, the message is on disk, and the listener may answer 250."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .codec import iso, parse_iso, where
from .port import MAIL_STATUSES, MailRecord, NotFound, StoredMail

_COLS = "id, message_id, sha256, envelope_from, recipients, size, received_at, status, reason, updated_at"
# bytes hashed on the event loop; larger messages are hashed on a thread (hashlib releases the GIL)
_HASH_INLINE = 256 * 1024


def _record(r: tuple) -> MailRecord:
    return MailRecord(
        id=r[0],
        message_id=r[1],
        sha256=r[2],
        envelope_from=r[3],
        recipients=tuple(json.loads(r[4])),
        size=r[5],
        received_at=parse_iso(r[6]),
        status=r[7],
        reason=r[8],
        updated_at=parse_iso(r[9]),
    )


def _receive(
    conn: sqlite3.Connection,
    message_id: str | None,
    sha256: str,
    envelope_from: str,
    recipients: list[str],
    raw: bytes,
    received_at: datetime,
) -> tuple[int, bool]:
    if message_id is not None:
        row = conn.execute("SELECT id FROM mail WHERE message_id = ?", (message_id,)).fetchone()
    else:
        row = conn.execute("SELECT id FROM mail WHERE message_id IS NULL AND sha256 = ?", (sha256,)).fetchone()
    if row is not None:
        return row[0], False
    at = iso(received_at)
    cur = conn.execute(
        "INSERT INTO mail (message_id, sha256, envelope_from, recipients, size, raw, received_at, status, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
        (message_id, sha256, envelope_from, json.dumps(recipients), len(raw), raw, at, at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid, True


def _list(conn: sqlite3.Connection, status: str | None, limit: int, after_id: int | None) -> list[MailRecord]:
    clause, args = where((status is not None, "status = ?", (status,)), (after_id is not None, "id > ?", (after_id,)))
    args.append(limit)
    return [_record(r) for r in conn.execute(f"SELECT {_COLS} FROM mail{clause} ORDER BY id LIMIT ?", args)]


def _get(conn: sqlite3.Connection, mail_id: int) -> StoredMail | None:
    r = conn.execute(f"SELECT {_COLS}, raw FROM mail WHERE id = ?", (mail_id,)).fetchone()
    return None if r is None else StoredMail(record=_record(r[:-1]), raw=bytes(r[-1]))


def _mark(conn: sqlite3.Connection, mail_id: int, status: str, reason: str | None, now: datetime) -> None:
    cur = conn.execute(
        "UPDATE mail SET status = ?, reason = ?, updated_at = ? WHERE id = ?", (status, reason, iso(now), mail_id)
    )
    if cur.rowcount == 0:
        raise NotFound(f"mail {mail_id} not found")


class MailSqlite:
    """Methods of SqliteStore for incoming mail (`_read`/`_write` come from SqliteStore)."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        async def _write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    async def receive_mail(
        self,
        *,
        message_id: str | None,
        envelope_from: str,
        recipients: Sequence[str],
        raw: bytes,
        received_at: datetime,
    ) -> tuple[int, bool]:
        raw = bytes(raw)
        if len(raw) <= _HASH_INLINE:
            digest = hashlib.sha256(raw).hexdigest()
        else:
            digest = await asyncio.get_running_loop().run_in_executor(None, lambda: hashlib.sha256(raw).hexdigest())
        return await self._write(
            _receive, message_id or None, digest, envelope_from, list(recipients), raw, received_at
        )

    async def list_mail(
        self, status: str | None = None, *, limit: int = 100, after_id: int | None = None
    ) -> list[MailRecord]:
        return await self._read(_list, status, limit, after_id)

    async def get_mail(self, mail_id: int) -> StoredMail | None:
        return await self._read(_get, mail_id)

    async def mark_mail(self, mail_id: int, status: str, *, reason: str | None, now: datetime) -> MailRecord:
        if status not in MAIL_STATUSES:
            raise ValueError(f"unknown mail status {status!r} (one of {', '.join(MAIL_STATUSES)})")
        await self._write(_mark, mail_id, status, reason, now)
        found = await self.get_mail(mail_id)
        assert found is not None
        return found.record
