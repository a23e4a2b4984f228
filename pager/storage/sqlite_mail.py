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

from pager.domain.ticket import Status

from . import sqlite_customer_mail as cm
from . import sqlite_tickets as tk
from .codec import dumps, iso, parse_iso, where
from .port import MAIL_STATUSES, MailFiling, MailRecord, NotFound, StoredMail

_COLS = "id, message_id, sha256, envelope_from, recipients, size, received_at, status, reason, updated_at, ticket"
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
        ticket=r[10],
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
    (mail_id,) = conn.execute(
        "INSERT INTO mail (message_id, sha256, envelope_from, recipients, size, raw, received_at, status, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?) RETURNING id",
        (message_id, sha256, envelope_from, json.dumps(recipients), len(raw), raw, at, at),
    ).fetchone()
    return mail_id, True


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


_ENTRIES = ("reply", "auto_reply", "bounce")


def _thread(conn: sqlite3.Connection, message_ids: list[str]) -> int | None:
    for mid in message_ids:
        row = conn.execute("SELECT number FROM ticket_messages WHERE message_id = ?", (mid,)).fetchone()
        if row is not None:
            return int(row[0])
    return None


def _file(conn: sqlite3.Connection, mail_id: int, f: MailFiling, now: datetime) -> None:
    row = conn.execute("SELECT status FROM mail WHERE id = ?", (mail_id,)).fetchone()
    if row is None:
        raise NotFound(f"mail {mail_id} not found")
    if row[0] != "pending":
        return  # processed before (a crash after the commit, a second worker): nothing twice
    at = iso(now)
    data = {**f.data, "mail_id": mail_id}
    number: int | None = None
    if f.new is not None:
        n = f.new
        number = tk.create_ticket(
            conn,
            n.subject,
            f.text,
            "email",
            n.customer,
            n.project,
            n.requester,
            "normal",
            None,
            (),
            f.attachments,
            "mail",
            now,
        )
        conn.execute(
            "UPDATE ticket_entries SET data = json_patch(data, ?) WHERE number = ? AND kind = 'created'",
            (dumps(data), number),
        )
        if f.linked_to is not None:
            tk._status(conn, f.linked_to)
            tk._entry(conn, number, at, "linked", "mail", False, {"ticket": f.linked_to, "why": f.reason})
            tk._entry(conn, f.linked_to, at, "linked", "mail", False, {"ticket": number, "why": f.reason})
    elif f.number is not None:
        number = f.number
        if f.entry not in _ENTRIES:
            raise ValueError(f"unknown mail entry {f.entry!r} (one of {', '.join(_ENTRIES)})")
        current, _ = tk._status(conn, number)
        if f.entry == "reply":
            if f.reopen and current is Status.CLOSED:
                tk._move(conn, number, current, Status.OPEN, "mail", at)
            tk.add_reply(conn, number, "customer", f.text, True, "email", f.attachments, now)
            conn.execute(
                "UPDATE ticket_entries SET data = json_patch(data, ?) WHERE id = "
                "(SELECT max(id) FROM ticket_entries WHERE number = ? AND kind = 'reply')",
                (dumps(data), number),
            )
        else:  # kept on the ticket, internal, its status unchanged
            eid = tk._entry(conn, number, at, f.entry, "mail", False, {"text": f.text, **data})
            tk._attach(conn, number, eid, f.attachments, at)
            conn.execute("UPDATE tickets SET updated_at = ? WHERE number = ?", (at, number))
            if f.entry == "bounce":  # the failed addresses get no more mail (pager.domain.customer_mail)
                cm.mark_bounced(conn, list(data.get("failed") or []), mail_id, number, f.text, at)
    elif f.entry is not None:
        raise ValueError("a mail entry needs a ticket number")
    sender = data.get("from")
    if f.entry in (None, "reply") and number is not None and data.get("classification") == "normal" and sender:
        cm.unmark_bounced(conn, str(sender))  # a person wrote from it: the address works again
    if number is not None:
        for mid in f.message_ids:
            conn.execute(
                "INSERT OR IGNORE INTO ticket_messages (message_id, number, direction, mail_id, at) "
                "VALUES (?, ?, 'in', ?, ?)",
                (mid, number, mail_id, at),
            )
    conn.execute(
        "UPDATE mail SET status = ?, reason = ?, ticket = ?, updated_at = ? WHERE id = ?",
        (f.status, f.reason, number, at, mail_id),
    )


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

    async def mail_ticket(self, message_ids: Sequence[str]) -> int | None:
        ids = [m for m in message_ids if m][:200]
        return await self._read(_thread, ids) if ids else None

    async def file_mail(self, mail_id: int, filing: MailFiling, *, now: datetime) -> MailRecord:
        if filing.status not in MAIL_STATUSES or filing.status == "pending":
            raise ValueError(f"unknown mail status {filing.status!r} (one of {', '.join(MAIL_STATUSES[1:])})")
        await self._write(_file, mail_id, filing, now)
        found = await self.get_mail(mail_id)
        assert found is not None
        return found.record
