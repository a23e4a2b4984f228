"""Mail to customers in the SQLite store (the port's CustomerMailStore). Mixed into SqliteStore.

The outgoing-mail stage reads the tickets' timeline after `customer_mail_cursor.last` and queues its mails
into the outbox (kind 'customer') with their headers in `customer_mail`, in one transaction that moves the
cursor (migration 0024): a crash before it decides the same changes again, after it nothing twice."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import sqlite_tickets as tk
from .codec import dumps, iso, parse_iso
from .port import CustomerMailDue, CustomerMailOut, TicketChange, WithheldMail

KIND = "customer"  # outbox.kind of a customer mail: the dispatch stage leaves it to the outgoing-mail stage


def _changes(conn: sqlite3.Connection, limit: int) -> list[TicketChange]:
    last = conn.execute("SELECT last FROM customer_mail_cursor").fetchone()[0]
    return [
        TicketChange(
            id=r[0], number=r[1], kind=r[2], public=bool(r[3]), actor=r[4], at=parse_iso(r[5]), data=json.loads(r[6])
        )
        for r in conn.execute(
            "SELECT id, number, kind, public, actor, at, data FROM ticket_entries WHERE id > ? ORDER BY id LIMIT ?",
            (last, limit),
        )
    ]


def _queue(
    conn: sqlite3.Connection,
    through: int,
    mails: Sequence[CustomerMailOut],
    withheld: Sequence[WithheldMail],
    now: datetime,
) -> int:
    last = conn.execute("SELECT last FROM customer_mail_cursor").fetchone()[0]
    if last >= through:
        return 0  # decided before (a second engine, a retried tick): nothing twice
    at = iso(now)
    queued = 0
    for m in mails:
        row = conn.execute(
            "INSERT INTO outbox (idem_key, incident_id, person, channel, address, kind, subject, body, due_at, status, "
            "created_at) VALUES (?, NULL, ?, 'email', ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (idem_key) DO NOTHING "
            "RETURNING id",
            (m.idem_key, m.person, m.address.lower(), KIND, m.subject, m.text, at, at),
        ).fetchone()
        if row is None:
            continue
        conn.execute(
            "INSERT INTO customer_mail (outbox_id, number, entry_id, kind, message_id, in_reply_to, refs, "
            "auto_submitted, language, html) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row[0],
                m.number,
                m.entry_id,
                m.kind,
                m.message_id,
                m.in_reply_to,
                dumps(list(m.references)),
                m.auto_submitted,
                m.language,
                m.html,
            ),
        )
        conn.execute(
            "INSERT OR IGNORE INTO ticket_messages (message_id, number, direction, mail_id, at) "
            "VALUES (?, ?, 'out', NULL, ?)",
            (m.message_id, m.number, at),
        )
        tk._entry(
            conn,
            m.number,
            at,
            "mail_queued",
            "pagerd",
            False,
            {"kind": m.kind, "to": m.address, "message_id": m.message_id, "outbox_id": row[0], "entry_id": m.entry_id},
        )
        queued += 1
    for w in withheld:
        tk._entry(
            conn,
            w.number,
            at,
            "mail_withheld",
            "pagerd",
            False,
            {"kind": w.kind, "to": w.address, "why": w.why, "entry_id": w.entry_id},
        )
    conn.execute("UPDATE customer_mail_cursor SET last = ?", (through,))
    return queued


def _thread(conn: sqlite3.Connection, number: int) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT message_id FROM ticket_messages WHERE number = ? ORDER BY at, direction, message_id", (number,)
        )
    ]


def _automatic(conn: sqlite3.Connection, addresses: list[str], since: datetime) -> dict[str, list[datetime]]:
    out: dict[str, list[datetime]] = {}
    for a in addresses:
        for (created,) in conn.execute(
            "SELECT o.created_at FROM outbox o JOIN customer_mail c ON c.outbox_id = o.id "
            "WHERE o.kind = 'customer' AND o.address = ? AND o.created_at > ? AND c.auto_submitted = 'auto-replied' "
            "ORDER BY o.created_at",
            (a, iso(since)),
        ):
            out.setdefault(a, []).append(parse_iso(created))
    return out


def _bounced(conn: sqlite3.Connection, addresses: list[str]) -> list[str]:
    return sorted(a for a in addresses if conn.execute("SELECT 1 FROM mail_bounced WHERE address = ?", (a,)).fetchone())


_DUE = (
    "SELECT o.id, c.number, c.kind, o.address, o.subject, o.body, c.html, c.message_id, c.in_reply_to, c.refs, "
    "c.auto_submitted, c.language, o.attempts FROM outbox o JOIN customer_mail c ON c.outbox_id = o.id "
    "WHERE o.status = 'pending' AND o.due_at <= ? AND o.kind = 'customer' ORDER BY o.due_at, o.id LIMIT ?"
)


def _due(conn: sqlite3.Connection, now: datetime, limit: int) -> list[CustomerMailDue]:
    return [
        CustomerMailDue(
            id=r[0],
            number=r[1],
            kind=r[2],
            address=r[3],
            subject=r[4],
            text=r[5],
            html=r[6],
            message_id=r[7],
            in_reply_to=r[8],
            references=tuple(json.loads(r[9])),
            auto_submitted=r[10],
            language=r[11],
            attempts=r[12],
        )
        for r in conn.execute(_DUE, (iso(now), limit))
    ]


def _pending(conn: sqlite3.Connection, now: datetime) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending') AND kind = 'customer' "
            "AND (due_at <= ? OR first_tried_at IS NOT NULL)",
            (iso(now),),
        ).fetchone()[0]
    )


def mark_bounced(
    conn: sqlite3.Connection, addresses: Sequence[str], mail_id: int, number: int, diagnostic: str, at: str
) -> None:
    """Called by the mail intake's filing of a bounce (sqlite_mail): each failed address is marked."""
    for a in addresses:
        if isinstance(a, str) and a:
            conn.execute(
                "INSERT INTO mail_bounced (address, at, mail_id, ticket, diagnostic) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (address) DO UPDATE SET at = excluded.at, mail_id = excluded.mail_id, "
                "ticket = excluded.ticket, diagnostic = excluded.diagnostic",
                (a.lower(), at, mail_id, number, diagnostic[:500]),
            )


def unmark_bounced(conn: sqlite3.Connection, address: str) -> None:
    """A person wrote from the address: it works again."""
    conn.execute("DELETE FROM mail_bounced WHERE address = ?", (address.lower(),))


class CustomerMailSqlite:
    """Methods of SqliteStore for mail to customers (`_read`/`_write` come from SqliteStore)."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        async def _write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    async def ticket_changes(self, limit: int = 200) -> list[TicketChange]:
        return await self._read(_changes, limit)  # type: ignore[no-any-return]

    async def queue_customer_mail(
        self, through: int, mails: Sequence[CustomerMailOut], withheld: Sequence[WithheldMail], *, now: datetime
    ) -> int:
        return await self._write(_queue, through, list(mails), list(withheld), now)  # type: ignore[no-any-return]

    async def ticket_thread(self, number: int) -> list[str]:
        return await self._read(_thread, number)  # type: ignore[no-any-return]

    async def automatic_mail_since(self, addresses: Sequence[str], since: datetime) -> dict[str, list[datetime]]:
        wanted = sorted({a.lower() for a in addresses if a})
        return await self._read(_automatic, wanted, since) if wanted else {}  # type: ignore[no-any-return]

    async def bounced_addresses(self, addresses: Sequence[str]) -> list[str]:
        wanted = sorted({a.lower() for a in addresses if a})
        return await self._read(_bounced, wanted) if wanted else []  # type: ignore[no-any-return]

    async def due_customer_mail(self, now: datetime, limit: int = 100) -> list[CustomerMailDue]:
        return await self._read(_due, now, limit)  # type: ignore[no-any-return]

    async def customer_mail_pending(self, now: datetime) -> int:
        return await self._read(_pending, now)  # type: ignore[no-any-return]
