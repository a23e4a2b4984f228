"""The portal's accounts, sessions, failed sign-ins and password links in the SQLite store (the port's
PortalStore). Mixed into SqliteStore."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pager.domain.portal import link_usable

from .codec import iso, parse_iso
from .port import (
    Account,
    Conflict,
    LinkMailDue,
    LinkMailOut,
    NotFound,
    PasswordLink,
    PortalSession,
    SealedTotp,
    TotpState,
)

_ACCOUNT = (
    "a.id, a.email, a.role, a.person, a.customer, a.language, a.password_hash, a.created_at, a.created_by, "
    "a.disabled_at, a.totp_secret IS NOT NULL"
)
_N = 11  # the columns of _ACCOUNT
FAILURES_KEPT = timedelta(days=1)


def _account(r: Sequence[Any]) -> Account:
    return Account(
        id=r[0],
        email=r[1],
        role=r[2],
        person=r[3],
        customer=r[4],
        language=r[5],
        has_password=r[6] is not None,
        created_at=parse_iso(r[7]),
        created_by=r[8],
        disabled_at=parse_iso(r[9]),
        has_totp=bool(r[10]),
    )


def _by_id(conn: sqlite3.Connection, account_id: int) -> Account | None:
    r = conn.execute(f"SELECT {_ACCOUNT} FROM portal_accounts a WHERE a.id = ?", (account_id,)).fetchone()
    return _account(r) if r else None


def _add_account(conn: sqlite3.Connection, row: tuple) -> Account:
    email = row[0]
    if conn.execute("SELECT 1 FROM portal_accounts WHERE email = ?", (email,)).fetchone():
        raise Conflict(f"an account for {email} exists")
    (account_id,) = conn.execute(
        "INSERT INTO portal_accounts (email, role, person, customer, language, password_hash, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        row,
    ).fetchone()
    account = _by_id(conn, account_id)
    assert account is not None
    return account


def _end_sessions(conn: sqlite3.Connection, account_id: int, at: str) -> None:
    conn.execute("UPDATE portal_sessions SET ended_at = ? WHERE account_id = ? AND ended_at IS NULL", (at, account_id))


def _disable(conn: sqlite3.Connection, email: str, at: str) -> Account:
    r = conn.execute("SELECT id FROM portal_accounts WHERE email = ?", (email,)).fetchone()
    if r is None:
        raise NotFound(f"no account for {email}")
    conn.execute("UPDATE portal_accounts SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?", (at, r[0]))
    _end_sessions(conn, r[0], at)
    account = _by_id(conn, r[0])
    assert account is not None
    return account


def _start_session(
    conn: sqlite3.Connection,
    token_hash: str,
    account_id: int,
    csrf: str,
    client: str | None,
    ended: str | None,
    at: str,
    factor_due: bool,
) -> None:
    if ended is not None:
        conn.execute("UPDATE portal_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL", (at, ended))
    conn.execute(
        "INSERT INTO portal_sessions (token_hash, account_id, csrf, client, created_at, last_seen_at, factor_due) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (token_hash, account_id, csrf, client, at, at, int(factor_due)),
    )


def _session(conn: sqlite3.Connection, token_hash: str) -> PortalSession | None:
    r = conn.execute(
        f"SELECT {_ACCOUNT}, s.csrf, s.created_at, s.last_seen_at, s.ended_at, s.factor_due FROM portal_sessions s "
        "JOIN portal_accounts a ON a.id = s.account_id WHERE s.token_hash = ?",
        (token_hash,),
    ).fetchone()
    if r is None:
        return None
    return PortalSession(
        account=_account(r[:_N]),
        csrf=r[_N],
        created_at=parse_iso(r[_N + 1]),
        last_seen_at=parse_iso(r[_N + 2]),
        ended_at=parse_iso(r[_N + 3]),
        factor_due=bool(r[_N + 4]),
    )


def _add_failures(conn: sqlite3.Connection, keys: Sequence[str], at: str, forget_before: str) -> None:
    conn.executemany("INSERT INTO portal_login_failures (key, at) VALUES (?, ?)", [(k, at) for k in keys])
    conn.executemany("DELETE FROM portal_login_failures WHERE key = ? AND at < ?", [(k, forget_before) for k in keys])


def _link(conn: sqlite3.Connection, token_hash: str) -> PasswordLink | None:
    r = conn.execute(
        f"SELECT {_ACCOUNT}, l.purpose, l.created_at, l.expires_at, l.used_at FROM portal_password_links l "
        "JOIN portal_accounts a ON a.id = l.account_id WHERE l.token_hash = ?",
        (token_hash,),
    ).fetchone()
    if r is None:
        return None
    return PasswordLink(
        account=_account(r[:_N]),
        purpose=r[_N],
        created_at=parse_iso(r[_N + 1]),
        expires_at=parse_iso(r[_N + 2]),
        used_at=parse_iso(r[_N + 3]),
    )


def _add_link(
    conn: sqlite3.Connection,
    token_hash: str,
    account_id: int,
    purpose: str,
    expires_at: str,
    at: str,
    mail: LinkMailOut | None,
) -> PasswordLink:
    if _by_id(conn, account_id) is None:
        raise NotFound(f"no account {account_id}")
    conn.execute(
        "INSERT INTO portal_password_links (token_hash, account_id, purpose, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (token_hash, account_id, purpose, at, expires_at),
    )
    if mail is not None:
        conn.execute(
            "INSERT INTO portal_link_mail (token_hash, address, subject, text, html, language, due_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (token_hash, mail.address.lower(), mail.subject, mail.text, mail.html, mail.language, at, at),
        )
    link = _link(conn, token_hash)
    assert link is not None
    return link


def _use_link(conn: sqlite3.Connection, token_hash: str, password_hash: str, now: datetime) -> Account:
    link = _link(conn, token_hash)
    if link is None:
        raise NotFound("no such password link")
    if not link_usable(link.expires_at, link.used_at, now) or link.account.disabled_at is not None:
        raise Conflict("this password link is used, expired or for a disabled account")
    at = iso(now)
    conn.execute("UPDATE portal_password_links SET used_at = ? WHERE token_hash = ?", (at, token_hash))
    conn.execute("UPDATE portal_accounts SET password_hash = ? WHERE id = ?", (password_hash, link.account.id))
    _end_sessions(conn, link.account.id, at)
    account = _by_id(conn, link.account.id)
    assert account is not None
    return account


def _claim_link_mail(conn: sqlite3.Connection, now: datetime, lease: timedelta, limit: int) -> list[LinkMailDue]:
    rows = conn.execute(
        "SELECT m.id, m.address, m.subject, m.text, m.html, m.language, l.purpose, m.attempts + 1 "
        "FROM portal_link_mail m JOIN portal_password_links l ON l.token_hash = m.token_hash "
        "WHERE m.status = 'pending' AND m.due_at <= ? ORDER BY m.id LIMIT ?",
        (iso(now), limit),
    ).fetchall()
    conn.executemany(
        "UPDATE portal_link_mail SET attempts = attempts + 1, due_at = ? WHERE id = ?",
        [(iso(now + lease), r[0]) for r in rows],
    )
    return [LinkMailDue(*r) for r in rows]


def _finish_link_mail(
    conn: sqlite3.Connection, mail_id: int, sent: bool, error: str | None, retry_at: str | None, at: str
) -> None:
    if sent:
        conn.execute(
            "UPDATE portal_link_mail SET status = 'sent', sent_at = ?, error = NULL, text = '', html = '' WHERE id = ?",
            (at, mail_id),
        )
    elif retry_at is not None:
        conn.execute("UPDATE portal_link_mail SET due_at = ?, error = ? WHERE id = ?", (retry_at, error, mail_id))
    else:
        conn.execute(
            "UPDATE portal_link_mail SET status = 'failed', error = ?, text = '', html = '' WHERE id = ?",
            (error, mail_id),
        )


class PortalSqlite:
    """Methods of SqliteStore for the portal (`_read`/`_write` come from SqliteStore)."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        async def _write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    async def add_account(
        self,
        *,
        email: str,
        role: str,
        person: str | None,
        customer: str | None,
        language: str | None,
        password_hash: str | None,
        created_by: str,
        now: datetime,
    ) -> Account:
        row = (email, role, person, customer, language, password_hash, created_by, iso(now))
        return await self._write(_add_account, row)

    async def get_account(self, account_id: int) -> Account | None:
        return await self._read(_by_id, account_id)

    async def account_by_email(self, email: str) -> tuple[Account, str | None] | None:
        def read(conn: sqlite3.Connection) -> tuple[Account, str | None] | None:
            r = conn.execute(f"SELECT {_ACCOUNT} FROM portal_accounts a WHERE a.email = ?", (email,)).fetchone()
            return (_account(r), r[6]) if r else None

        return await self._read(read)

    async def list_accounts(self) -> list[Account]:
        return await self._read(
            lambda c: [_account(r) for r in c.execute(f"SELECT {_ACCOUNT} FROM portal_accounts a ORDER BY a.id")]
        )

    async def disable_account(self, email: str, *, now: datetime) -> Account:
        return await self._write(_disable, email, iso(now))

    async def set_account_language(self, account_id: int, language: str | None) -> Account:
        def write(conn: sqlite3.Connection) -> Account:
            conn.execute("UPDATE portal_accounts SET language = ? WHERE id = ?", (language, account_id))
            account = _by_id(conn, account_id)
            if account is None:
                raise NotFound(f"no account {account_id}")
            return account

        return await self._write(write)

    async def start_session(
        self,
        *,
        token_hash: str,
        account_id: int,
        csrf: str,
        client: str | None,
        ended: str | None,
        now: datetime,
        factor_due: bool = False,
    ) -> PortalSession:
        await self._write(_start_session, token_hash, account_id, csrf, client, ended, iso(now), factor_due)
        s = await self._read(_session, token_hash)
        assert s is not None
        return s

    async def get_session(self, token_hash: str) -> PortalSession | None:
        return await self._read(_session, token_hash)

    async def touch_session(self, token_hash: str, *, now: datetime) -> None:
        await self._write(
            lambda c, t, at: c.execute(
                "UPDATE portal_sessions SET last_seen_at = ? WHERE token_hash = ? AND last_seen_at < ?", (at, t, at)
            ),
            token_hash,
            iso(now),
        )

    async def end_session(self, token_hash: str, *, now: datetime) -> None:
        await self._write(
            lambda c, t, at: c.execute(
                "UPDATE portal_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL", (at, t)
            ),
            token_hash,
            iso(now),
        )

    async def add_login_failure(self, keys: Sequence[str], *, now: datetime) -> None:
        await self._write(_add_failures, tuple(keys), iso(now), iso(now - FAILURES_KEPT))

    async def login_failures(self, key: str, *, since: datetime) -> list[datetime]:
        return await self._read(
            lambda c: [
                parse_iso(r[0])
                for r in c.execute(
                    "SELECT at FROM portal_login_failures WHERE key = ? AND at >= ? ORDER BY at", (key, iso(since))
                )
            ]
        )

    async def clear_login_failures(self, key: str) -> None:
        await self._write(lambda c, k: c.execute("DELETE FROM portal_login_failures WHERE key = ?", (k,)), key)

    async def add_password_link(
        self,
        *,
        token_hash: str,
        account_id: int,
        purpose: str,
        expires_at: datetime,
        now: datetime,
        mail: LinkMailOut | None = None,
    ) -> PasswordLink:
        return await self._write(_add_link, token_hash, account_id, purpose, iso(expires_at), iso(now), mail)

    async def claim_link_mail(self, now: datetime, *, lease: timedelta, limit: int = 50) -> list[LinkMailDue]:
        return await self._write(_claim_link_mail, now, lease, limit)

    async def finish_link_mail(
        self, mail_id: int, *, sent: bool, error: str | None, retry_at: datetime | None, now: datetime
    ) -> None:
        await self._write(_finish_link_mail, mail_id, sent, error, iso(retry_at) if retry_at else None, iso(now))

    async def link_mail(self, address: str) -> list[dict[str, Any]]:
        def read(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [
                {
                    "status": r[0],
                    "attempts": r[1],
                    "error": r[2],
                    "created_at": parse_iso(r[3]),
                    "sent_at": parse_iso(r[4]),
                    "kept": bool(r[5]),
                }
                for r in conn.execute(
                    "SELECT status, attempts, error, created_at, sent_at, text <> '' FROM portal_link_mail "
                    "WHERE address = ? ORDER BY id",
                    (address.lower(),),
                )
            ]

        return await self._read(read)

    async def get_password_link(self, token_hash: str) -> PasswordLink | None:
        return await self._read(_link, token_hash)

    async def use_password_link(self, token_hash: str, *, password_hash: str, now: datetime) -> Account:
        return await self._write(_use_link, token_hash, password_hash, now)

    async def totp_state(self, account_id: int) -> TotpState:
        def read(conn: sqlite3.Connection) -> TotpState:
            r = conn.execute(
                "SELECT totp_secret, totp_pending, totp_last_step FROM portal_accounts WHERE id = ?", (account_id,)
            ).fetchone()
            if r is None:
                raise NotFound(f"no account {account_id}")
            return TotpState(secret=r[0], pending=r[1], last_step=r[2])

        return await self._read(read)

    async def set_totp_pending(self, account_id: int, secret: str | None) -> None:
        await self._write(
            lambda c: c.execute("UPDATE portal_accounts SET totp_pending = ? WHERE id = ?", (secret, account_id))
        )

    async def confirm_totp(self, account_id: int, secret: str, step: int, *, keep: str, now: datetime) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE portal_accounts SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ? "
                "WHERE id = ? AND totp_pending = ?",
                (step, account_id, secret),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "UPDATE portal_sessions SET ended_at = ? WHERE account_id = ? AND ended_at IS NULL AND token_hash != ?",
                (iso(now), account_id, keep),
            )
            return True

        return await self._write(write)

    async def use_totp_step(self, account_id: int, step: int) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE portal_accounts SET totp_last_step = ? WHERE id = ? AND totp_secret IS NOT NULL "
                "AND (totp_last_step IS NULL OR totp_last_step < ?)",
                (step, account_id, step),
            )
            return cur.rowcount == 1

        return await self._write(write)

    async def sealed_totp(self) -> list[SealedTotp]:
        return await self._read(
            lambda c: [
                SealedTotp(account_id=r[0], secret=r[1], pending=r[2])
                for r in c.execute(
                    "SELECT id, totp_secret, totp_pending FROM portal_accounts "
                    "WHERE totp_secret IS NOT NULL OR totp_pending IS NOT NULL ORDER BY id"
                )
            ]
        )

    async def replace_sealed_totp(
        self, account_id: int, field: Literal["secret", "pending"], old: str, new: str
    ) -> bool:
        column = {"secret": "totp_secret", "pending": "totp_pending"}[field]
        return await self._write(
            lambda c: (
                c.execute(
                    f"UPDATE portal_accounts SET {column} = ? WHERE id = ? AND {column} = ?", (new, account_id, old)
                ).rowcount
                == 1
            )
        )

    async def reset_totp(self, email: str) -> Account:
        def write(conn: sqlite3.Connection) -> Account:
            r = conn.execute("SELECT id FROM portal_accounts WHERE email = ?", (email,)).fetchone()
            if r is None:
                raise NotFound(f"no account for {email}")
            conn.execute(
                "UPDATE portal_accounts SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL "
                "WHERE id = ?",
                (r[0],),
            )
            account = _by_id(conn, r[0])
            assert account is not None
            return account

        return await self._write(write)
