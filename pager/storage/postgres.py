"""PostgreSQL store: the SQLite store's own transactions, run on PostgreSQL through psycopg.

Every write and read of the store is a plain function over a DB-API connection (sqlite_*.py), so the
decisions they hold live once. This module runs them on PostgreSQL: the same writer thread and group
commit (one transaction per batch, a savepoint per job, every request answered after its commit), readers
on connections of their own, and a connection adapter that speaks the SQLite modules' SQL to PostgreSQL
(`PgConnection`): placeholders, the few SQLite spellings PostgreSQL lacks, and the statements whose
SQLite form has no portable equal (`PG_STATEMENTS`). The schema is PostgreSQL's own
(pager/storage/pg_migrations/0028 is SQLite's 0001-0028 at once; each later SQLite migration is applied as
`pg_schema` translates it), the same tables and columns as SQLite's (tests/contract/test_schemas.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import select
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

import psycopg
import structlog
from psycopg import pq
from psycopg.sql import SQL, Identifier

from pager.clock import Clock

from .codec import iso
from .port import ConnectionUse, IngestPolicy, LeaseLost, Unavailable
from .sqlite import WRITER, SqliteStore
from .sqlite import migrations as sqlite_migrations
from .sqlite_ingest import _FIRING, _LAST_RESOLVED, _OPEN
from .sqlite_paging import _create_escalations, defer

_log = structlog.get_logger("pagerd.store")

# SQLite statements with no portable spelling, and their PostgreSQL form. A list of keys in a JSON array is
# matched as `= ANY(ARRAY(...))` (see _WORD_REWRITES).
PG_STATEMENTS: dict[str, str] = {
    # the row of the latest resolve per key: SQLite's bare column beside max() is not SQL
    _LAST_RESOLVED: (
        "SELECT DISTINCT ON (dedup_key) dedup_key, id, resolved_at FROM incidents "
        "WHERE dedup_key = ANY(ARRAY(SELECT json_array_elements_text(?::json))) AND source = ? "
        "AND state = 'resolved' ORDER BY dedup_key, resolved_at DESC"
    ),
    # a JSON array's values are text on PostgreSQL
    _FIRING: (
        "SELECT incident_id, fingerprint FROM alerts "
        "WHERE incident_id = ANY(ARRAY(SELECT value::bigint FROM json_array_elements_text(?::json))) "
        "AND status = 'firing'"
    ),
    # numbered parameters (?1, ?2): psycopg has positional ones only
    _OPEN: (
        "SELECT dedup_key, id, state, severity, group_key FROM incidents "
        "WHERE dedup_key = ANY(ARRAY(SELECT json_array_elements_text(?::json))) AND source = ? "
        "AND state != 'resolved'"
    ),
}

_WORD_REWRITES = (
    # a key among a JSON array's: as `= ANY(array)` the planner looks each up in the key's index even
    # without statistics (a fresh, fast-growing table); `IN (SELECT ...)` scanned every open incident
    (
        re.compile(r"\bIN \(SELECT value FROM json_each\(\?\)\)", re.I),
        "= ANY(ARRAY(SELECT json_array_elements_text(?::json)))",
    ),
    (re.compile(r"\bjson_each\(\?\)", re.I), "json_array_elements_text(?::json)"),
    (re.compile(r"\bticket_text MATCH \?"), "ticket_text.tsv @@ plainto_tsquery('simple', ?)"),
    (re.compile(r"\bmax\(([^(),]+),\s*([^(),]+)\)", re.I), r"greatest(\1, \2)"),
    (re.compile(r"\bmin\(([^(),]+),\s*([^(),]+)\)", re.I), r"least(\1, \2)"),
    (re.compile(r"\bchar\(10\)", re.I), "chr(10)"),
    # a merge patch of a flat object (the only kind the store writes) is jsonb's concatenation
    (re.compile(r"\bjson_patch\((\w+), \?\)", re.I), r"(\1::jsonb || ?::jsonb)::text"),
    (re.compile(r"\b(INDEXED BY \w+|NOT INDEXED)", re.I), ""),  # PostgreSQL's planner picks its own index
    (re.compile(r"\bX''"), "''::bytea"),
    # the paging lane's two writes (see PAGING_LANE): the rows they would change are locked first, and one another
    # write holds is left alone (SKIP LOCKED): an incident being answered or changed is routed at the next tick
    # if it is still triggered, a page being cancelled or claimed needs no deferral. So these writes never wait
    # for the other lane's rows and the two lanes cannot deadlock over them. NO KEY UPDATE, the lock an UPDATE of
    # other columns than the key takes, does not conflict with the KEY SHARE lock a foreign-key check takes on an
    # incident whose new alerts or timeline entries another write is inserting. (After NOT INDEXED is gone.)
    (
        re.compile(
            r"^UPDATE (incidents|outbox)\s+SET (routed_generation = \?|due_at = \?) WHERE (id IN \([?, ]+\) AND .+?)( RETURNING id)?$"
        ),
        r"UPDATE \1 SET \2 WHERE id IN (SELECT id FROM \1 WHERE \3 FOR NO KEY UPDATE SKIP LOCKED)\4",
    ),
)
_OR_IGNORE = re.compile(r"\bINSERT OR IGNORE INTO\b", re.I)
_RETURNING = re.compile(r"\bRETURNING\b", re.I)


# A statement that looks rows up by a list of values (`IN (?, ...)`, `json_each(?)`) or tells SQLite which
# index to use (`INDEXED BY`, `NOT INDEXED`) is planned at every execution, never prepared. psycopg prepares
# a statement once it has run it five times, and PostgreSQL may then settle on the statement's generic plan,
# chosen on the sizes the tables had then, and keep it until their statistics change: on a new database,
# while a storm fills it faster than autovacuum analyzes (it looks every minute), a plan made on a few rows
# scans the whole table on every call (bench/RESULTS.md, "PostgreSQL"). Most of them run once per commit or
# tick, not per row: the planning costs little.
_PLANNED_EACH_TIME = re.compile(r"\bIN \(\?|\bjson_each\(|\b(NOT INDEXED|INDEXED BY)\b", re.I)


@lru_cache(maxsize=4096)
def prepare(sql: str) -> bool | None:
    """psycopg's `prepare` for one of the SQLite modules' statements: False (never) or None (its default)."""
    return False if _PLANNED_EACH_TIME.search(sql) else None


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """The PostgreSQL form of one of the SQLite modules' statements (cached: they are constants)."""
    sql = PG_STATEMENTS.get(sql, sql)
    for pattern, repl in _WORD_REWRITES:
        sql = pattern.sub(repl, sql)
    if _OR_IGNORE.search(sql):
        sql = _OR_IGNORE.sub("INSERT INTO", sql)
        m = _RETURNING.search(sql)
        sql = (
            (sql[: m.start()] + "ON CONFLICT DO NOTHING " + sql[m.start() :]) if m else sql + " ON CONFLICT DO NOTHING"
        )
    return _placeholders(sql)


def _placeholders(sql: str) -> str:
    """`?` outside quotes becomes PostgreSQL's own `$1`, `$2`, ... in order. The statements run on psycopg's
    RawCursor, which sends their text as it is: a `%s` statement of more than 50 parameters (a multi-row
    INSERT) psycopg parses again at every execution, 18% of a node's CPU in a py-spy profile under
    single-alert load."""
    out, quote, n = [], "", 0
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


def _params(params: Sequence[Any] | None) -> tuple:
    # SQLite stores a bool as 0/1 in an INTEGER column; PostgreSQL keeps the types apart
    if not params:
        return ()
    return tuple(int(p) if p is True or p is False else p for p in params)


# The lock a write transaction takes first, held until it ends: the write transactions of all nodes on one
# database run one at a time, as SQLite's BEGIN IMMEDIATE makes them. The store's writes count on it: new
# rows get the next id after the largest (the id triggers of pg_migrations/0028, _Rows.next_id), and a
# check-then-insert sees every row committed before it.
WRITE_LOCK = 0x70616777  # 'pagw'

# Two of the engine's writes run beside them, on a writer lane and connection of their own (PAGING_LANE),
# under PAGING_LOCK instead (one such write at a time, of all nodes): the route write
# (sqlite_paging._create_escalations: a tick's new incidents marked routed, their escalations, first pages,
# timeline entries and tickets' projects) and the throttle's deferral of pages to their phone's next slot
# (DEFER). Why that is safe:
# - Each decides only through a statement that locks the rows it changes, skipping those another write holds,
#   and tests them on the rows' newest versions (the last of _WORD_REWRITES): the route write through its first, `UPDATE
#   incidents ... WHERE id IN (...) AND state = 'triggered'`, the deferral through `UPDATE outbox ... WHERE id
#   IN (...) AND status = 'pending'`. Every write that answers, resolves, reopens or appends to an incident
#   updates the incident's row, so a route write and such a write are ordered by the row: one that holds it
#   leaves the incident to the next tick's route write (routed then if it is still triggered); one that comes
#   after waits for the route write's commit and then sees its escalation and pages (`quiet`, which stops and
#   cancels them, runs after the incident's UPDATE in every such write). stop_settled also catches any page
#   of a settled incident at the next tick. A page being cancelled or claimed is not deferred, and one
#   deferred is cancelled or claimed after the deferral commits.
# - Their rows need no numbering of WRITE_LOCK's: escalations are keyed by (incident, generation), pages by
#   their idempotency keys (a second route of a round writes nothing), events and outbox rows are numbered
#   by their identity sequences, which no reader follows as a cursor. They write no ticket, delivery or
#   incident row but the columns they set (routed_generation, a ticket's project while it has none, a
#   pending page's due_at).
# - Neither claims or sends anything, so the lease's fence (_fenced_job, on WRITE_LOCK) is not their concern.
# - They wait for no row of the other lane's but a ticket's (the route write's project, set while the ticket
#   has none). A deadlock would need a write that holds that ticket and then waits for an incident the route
#   write locked; none does: the only write that updates a ticket and then an incident is the hotline's
#   (sqlite_hotline: the call's ticket, then the incident it pages), and that incident is new in the same
#   transaction, which no route write sees; a ticket's timeline entry takes KEY SHARE on it, which the
#   project's UPDATE does not wait for. Should a later write do it, PostgreSQL ends the deadlock after
#   deadlock_timeout by rolling one of them back (a write the desk is asked to make again, 503, or one the
#   engine makes at its next tick).
PAGING_LOCK = 0x70616770  # 'pagp'
PAGING_LANE = "paging"


@contextlib.contextmanager
def _integrity_as_sqlite() -> Iterator[None]:
    """PostgreSQL's integrity errors (unique, foreign key, check) as sqlite3.IntegrityError, which the
    store's functions catch."""
    try:
        yield
    except psycopg.errors.IntegrityError as exc:
        raise sqlite3.IntegrityError(str(exc)) from exc


# The statements of a write transaction that answer nothing a caller reads and cannot fail on a working
# connection: each was a round trip of its own (on the writer's connection about 60 µs of wall time,
# however small; BEGIN and the write lock 10% of the writer's time in a py-spy profile under single-alert
# load). PgConnection holds them back and sends them in one pipeline with the next statement that answers
# something, so the server runs them in the same order, before it, and nothing waits for them alone.
_HELD_BACK = re.compile(r"(BEGIN|SAVEPOINT \w+|RELEASE \w+)")


@contextlib.contextmanager
def _pipeline_mode(conn: psycopg.Connection) -> Iterator[None]:
    """psycopg's pipeline mode around the block. When the block raises (a statement's error read inside it,
    or the writer's own), the pipeline is still ended, its remaining answers read, and what that end reports
    dropped: the statements after the first error, which the server skipped (psycopg would log it as a
    warning, "error ignored terminating ... pipeline aborted", for an error the store handles). The block's
    error is the one that goes on."""
    cm = conn.pipeline()
    cm.__enter__()
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            cm.__exit__(None, None, None)
        raise
    cm.__exit__(None, None, None)


class PgConnection:
    """The part of sqlite3.Connection the store's functions use, on a psycopg connection in autocommit
    mode (transactions are the functions' own BEGIN / SAVEPOINT / COMMIT, as on SQLite). Integrity
    errors come out as sqlite3.IntegrityError, which those functions catch. BEGIN (with the write lock),
    SAVEPOINT and RELEASE are held back and sent with the statement after them (_HELD_BACK).

    A connection the server ended (pg_terminate_backend, a restart, a failover) or the network cut is
    `broken`: its statements raise psycopg.OperationalError, it is in no transaction any more (the server
    rolled back what was open) and the store replaces it with a new one."""

    def __init__(self, conn: psycopg.Connection, lock: int = WRITE_LOCK) -> None:
        self._conn = conn
        self.lock = lock  # what BEGIN IMMEDIATE takes: WRITE_LOCK, or PAGING_LOCK on the paging lane's
        self._held: list[tuple[str, tuple]] = []
        self._piped = 0  # pipeline() blocks open

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor:
        if sql == "BEGIN IMMEDIATE":  # one writer at a time, as on SQLite: see WRITE_LOCK
            self._held += [("BEGIN", ()), ("SELECT pg_advisory_xact_lock($1)", (self.lock,))]
            return psycopg.RawCursor(self._conn)
        if _HELD_BACK.fullmatch(sql):
            self._held.append((sql, ()))
            return psycopg.RawCursor(self._conn)
        cur = psycopg.RawCursor(self._conn)
        with _integrity_as_sqlite(), self._with_held():
            cur.execute(translate(sql), _params(params), prepare=prepare(sql))  # type: ignore[arg-type]
        if sql == "COMMIT" and cur.statusmessage != "COMMIT":  # a failed transaction's COMMIT is a ROLLBACK
            raise psycopg.OperationalError(f"COMMIT was answered {cur.statusmessage}: nothing was stored")
        return cur

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> psycopg.Cursor:
        cur = psycopg.RawCursor(self._conn)
        with _integrity_as_sqlite(), self._with_held():
            cur.executemany(translate(sql), [_params(p) for p in seq])  # type: ignore[arg-type]
        return cur

    def fetch_together(self, reads: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple]]:
        """The rows of each read, all sent in one pipeline (with the held-back statements before them)."""
        cursors = []
        with self.pipeline():
            for sql, params in reads:
                cur = psycopg.RawCursor(self._conn)
                cur.execute(translate(sql), _params(params), prepare=prepare(sql))  # type: ignore[arg-type]
                cursors.append(cur)
        return [cur.fetchall() for cur in cursors]

    @contextlib.contextmanager
    def pipeline(self) -> Iterator[None]:
        """The statements of the block sent without waiting for each answer (psycopg's pipeline mode), all
        answered at its end; an integrity error of any of them comes out there."""
        with _integrity_as_sqlite(), _pipeline_mode(self._conn):
            self._send_held()
            self._piped += 1
            try:
                yield
            finally:
                self._piped -= 1

    @contextlib.contextmanager
    def _with_held(self) -> Iterator[None]:
        """The held-back statements and the block's in one pipeline (or in the one already open)."""
        if self._held and not self._piped:
            with self.pipeline():
                yield
        else:
            self._send_held()
            yield

    def _send_held(self) -> None:
        held, self._held = self._held, []
        for sql, params in held:
            psycopg.RawCursor(self._conn).execute(sql, params)

    @property
    def in_transaction(self) -> bool:
        if self.broken:
            return False
        return bool(self._held) or self._conn.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        return self._conn.closed or self._conn.broken

    def ended(self) -> bool:
        """True when the connection is broken or the server ended it while it was idle: a server says
        nothing on an idle connection but its goodbye (FATAL: terminating connection) before it closes.
        Checked before a batch, so the first write after a cut goes to a new connection."""
        if self.broken:
            return True
        if self._conn.info.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([self._conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        self._conn.close()


CONNECT_TIMEOUT = 5  # seconds: a server that does not answer fails the request (503) rather than hang it


def connect(dsn: str, lock: int = WRITE_LOCK) -> PgConnection:
    return PgConnection(psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT), lock)


# The schema on PostgreSQL: pg_migrations/0028_schema.sql holds SQLite's migrations 0001-0028 at once, written
# for PostgreSQL (plpgsql triggers, a tsvector table for FTS5). Every later SQLite migration is applied as
# `pg_schema` translates it, unless pg_migrations holds a file of the same number: one for a migration whose
# SQLite words do not translate.
BASELINE = 28

_INTEGER = re.compile(r"\bINTEGER\b")
# a table whose rows SQLite numbers (rowid: the largest id + 1) numbers them by an identity column here
_NUMBERED = re.compile(r"(CREATE TABLE \w+ \(\s*id\s+)INTEGER PRIMARY KEY\b")


def pg_schema(sql: str) -> str:
    """A SQLite migration in PostgreSQL's words: INTEGER columns are BIGINT (SQLite's are 64 bits), and a table
    whose `id INTEGER PRIMARY KEY` SQLite numbers gets an identity column (pg_migrations/0034_numbered_ids.sql)."""
    return _INTEGER.sub("BIGINT", _NUMBERED.sub(r"\1BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql))


def migrations() -> list[tuple[int, str, str]]:
    own = {m[0]: m for m in sqlite_migrations("pg_migrations")}
    later = [(v, name, pg_schema(sql)) for v, name, sql in sqlite_migrations() if v > BASELINE and v not in own]
    return sorted([*own.values(), *later])


_MIGRATION_LOCK = 0x70616765  # 'page': one node migrates at a time


def migrate(dsn: str, now: datetime) -> list[int]:
    """Apply pending migrations, stamped `now`, each in one transaction; returns the versions applied."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            applied = []
            for version, name, sql in migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())  # several statements: the simple query protocol
                    conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, %s)", (version, name, iso(now)))
                applied.append(version)
            return applied
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


# The lease token a write transaction of the engine's is fenced by (PostgresStore._fenced), in the context of
# the store call that makes it.
_FENCE: ContextVar[tuple[int, datetime] | None] = ContextVar("pagerd_fence", default=None)


def _fenced_job(token: tuple[int, datetime], fn: Any, conn: PgConnection, *args: Any) -> Any:
    """`fn`, in its transaction, only if the lease session `token` (backend pid, start) still holds the engine
    lease. All write transactions take WRITE_LOCK first, so a node that takes the lease after this check
    runs its first write (the outbox recovery) only after this transaction committed, and sees it."""
    pid, started = token
    held = conn.execute(
        "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
        "AND l.classid = 0 AND l.objid = ? AND l.objsubid = 1 AND l.granted AND l.pid = ? AND a.backend_start = ?",
        (LEASE_KEY, pid, started),
    ).fetchone()
    if held is None:
        raise LeaseLost("the engine lease passed to another node: this outbox change is left to it")
    return fn(conn, *args)


class PostgresStore(SqliteStore):
    """The store on PostgreSQL at `dsn` (libpq's form: postgresql://user@host:port/db)."""

    def __init__(self, dsn: str, policy: IngestPolicy, *, clock: Clock, **kwargs: Any) -> None:
        super().__init__(dsn, policy, clock=clock, **kwargs)
        self.dsn = dsn
        self._pg_readers: list[PgConnection] = []
        self._pg_lock = threading.Lock()
        self._lease: EngineLease | None = None

    # -- fencing: the outbox's claims and results are written only while this node holds the lease -------
    #
    # The engine checks its lease before each send (pager.service.lease.FencedNotifier: by its own clock).
    # The store checks it once more inside the transaction that claims an outbox message (marks it
    # `sending`: the decision to send it) or recovers the claimed ones at the engine's start: a node that
    # lost the lease claims nothing after the next holder started (LeaseLost, its job rolled back). The
    # result of a send that did happen is always recorded (finish_message): refusing it would leave the
    # message claimed, and the next holder would send it again.

    def fenced_by(self, lease: EngineLease) -> None:
        self._lease = lease

    async def _fenced(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        if self._lease is None:
            return await method(*args, **kwargs)
        token = self._lease.token
        if token is None:
            raise LeaseLost("this node does not hold the engine lease")
        reset = _FENCE.set(token)
        try:
            return await method(*args, **kwargs)
        finally:
            _FENCE.reset(reset)

    async def claim_messages(self, carrier: int, ids: list[int], body: str, now: datetime) -> bool:
        return bool(await self._fenced(super().claim_messages, carrier, ids, body, now))

    async def recover_sending(self, now: datetime) -> int:
        return int(await self._fenced(super().recover_sending, now))

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await self._loop.run_in_executor(None, migrate, self.dsn, self.clock.now())
            conn = await self._loop.run_in_executor(None, connect, self.dsn)
            paging = await self._loop.run_in_executor(None, connect, self.dsn, PAGING_LOCK)
        except psycopg.OperationalError as exc:
            raise Unavailable(f"the PostgreSQL database cannot be reached: {exc}", 5) from exc
        self._start_writer(WRITER, conn)
        self._start_writer(PAGING_LANE, paging)

    async def close(self) -> None:
        await super().close()
        with self._pg_lock:
            for c in self._pg_readers:
                c.close()
            self._pg_readers.clear()

    # -- a connection lost (pg_terminate_backend, a server restart or failover, the network) -----------
    #
    # A connection the server ended while idle is replaced before its next use (PgConnection.ended).
    # The writer: a batch whose connection breaks under it fails as a whole (its requests get Unavailable,
    # 503 with Retry-After), also when it broke during the COMMIT and the outcome is unknown (a retry finds
    # what was stored by its idempotency keys); the next batch starts on a new connection, and fails the
    # same way while the server cannot be reached. A reader: a read whose connection breaks under it runs
    # once more on a new one, then gives Unavailable.

    def _writer_connection(self, conn: PgConnection) -> PgConnection:  # type: ignore[override]
        if not conn.ended():
            return conn
        conn.close()
        _log.info("store_reconnect", connection="writer", lock=conn.lock)
        return connect(self.dsn, conn.lock)  # raises OperationalError while the server is away: this batch fails

    def _reader(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.ended():
            self._drop_reader(conn)
            conn = None
        if conn is None:
            conn = connect(self.dsn)
            self._local.conn = conn
            with self._pg_lock:
                self._pg_readers.append(conn)
        return conn

    def _drop_reader(self, conn: PgConnection) -> None:
        self._local.conn = None
        with self._pg_lock:
            if conn in self._pg_readers:
                self._pg_readers.remove(conn)
        conn.close()

    def _read_on_reader(self, fn: Any, args: tuple) -> Any:
        for attempt in (1, 2):
            conn = None
            try:
                conn = self._reader()
                return fn(conn, *args)
            except psycopg.OperationalError as exc:
                if conn is None or not conn.broken:  # no connection to be had, or the query itself failed
                    raise Unavailable("the database cannot be reached; retry later", 5) from exc
                self._drop_reader(conn)
                _log.info("store_reconnect", connection="reader", error=str(exc))
                if attempt == 2:
                    raise Unavailable("the database connection was lost; retry later", 5) from exc
        raise AssertionError("unreachable")

    def _readers_open(self) -> int:
        with self._pg_lock:
            return len(self._pg_readers)

    async def create_escalations(self, escalations: list[dict[str, Any]], now: datetime) -> list[bool]:
        return await self._write_on(PAGING_LANE, _create_escalations, escalations, now)  # type: ignore[no-any-return]

    async def defer(self, ids: list[int], until: datetime) -> int:
        return await self._write_on(PAGING_LANE, defer, ids, until)  # type: ignore[no-any-return]

    async def _write_on(self, lane: str, fn: Any, *args: Any) -> Any:
        token = _FENCE.get()
        if token is not None:
            fn = partial(_fenced_job, token, fn)
        try:
            return await super()._write_on(lane, fn, *args)
        except psycopg.OperationalError as exc:
            _log.warning("store_unavailable", error=str(exc), retry_after=5)
            raise Unavailable("the database cannot be reached now; retry later", 5) from exc


# -- the engine lease ------------------------------------------------------------------------------

LEASE_KEY = 0x70616764  # the advisory lock whose holder runs the engine ('pagd')


class EngineLease:
    """Which node of several on one database runs the engine: the one whose connection of its own holds the
    session advisory lock LEASE_KEY.

    The lock lives as long as that session. A holder that dies (kill -9, a crash, its machine) loses it as
    soon as the server sees the connection close; one that hangs (SIGSTOP, a stuck event loop) or is cut off
    stops renewing, and the server ends its idle session after `ttl` seconds (idle_session_timeout), which
    frees the lock for the next node. Renewing is a query every second on that connection, checking in
    pg_locks that this session still holds the lock.

    Fencing: `valid()` is True only while the last successful renewal is younger than `ttl - margin` by the
    node's own monotonic clock. The server cannot free the lock before `ttl` of silence, so a holder that
    checks `valid()` before each send never sends after another node could have taken over, even when it was
    paused and resumes in the middle of a tick (it finds its renewal too old and stops)."""

    def __init__(self, dsn: str, clock: Clock, *, ttl: float = 5.0, margin: float = 1.5) -> None:
        self.dsn, self.clock, self.ttl, self.margin = dsn, clock, ttl, margin
        self._conn: psycopg.Connection | None = None
        self._renewed: float | None = None  # monotonic time of the last renewal (or acquisition)
        # the session holding the lock: (backend pid, backend start), which the store's fence checks
        self.token: tuple[int, datetime] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._busy = 0  # 1 while a query of the lease runs (asked and answered on the event loop)

    @property
    def held(self) -> bool:
        return self._renewed is not None

    def valid(self) -> bool:
        return self._renewed is not None and self.clock.monotonic() - self._renewed < self.ttl - self.margin

    async def try_acquire(self) -> bool:
        """True when this node now holds the lease; False when another does. Raises when the database
        cannot be reached."""
        started = self.clock.monotonic()
        got = await self._call(self._try_acquire)
        if got:
            self._renewed = started
        return bool(got)

    async def renew(self) -> bool:
        """True when the lease is still this node's; False (and let go) when it was lost."""
        started = self.clock.monotonic()
        try:
            async with asyncio.timeout(self.ttl - self.margin):  # not wait_for: 3.11's may drop a cancel
                still = await self._call(self._still_held)
        except Exception as exc:  # the connection broke or hangs: the server frees the lock after ttl
            _log.warning("engine_lease_renew_failed", error=str(exc))
            still = False
        if still:
            self._renewed = started
            return True
        await self.release()
        return False

    async def release(self) -> None:
        self._renewed = None
        self.token = None
        conn, executor = self._conn, self._executor
        self._conn, self._executor = None, None
        if executor is not None:
            if conn is not None:
                executor.submit(conn.close)
            executor.shutdown(wait=False)

    async def _call(self, fn: Any) -> Any:
        if self._executor is None:  # one thread per connection: psycopg's connection is used from it alone
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pagerd-lease")
        self._busy = 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        finally:
            self._busy = 0

    def connections(self) -> list[ConnectionUse]:
        """The lease's own connection (held open for as long as this node holds or asks for the lease)."""
        conn = self._conn
        return [ConnectionUse("lease", int(conn is not None and not conn.closed), self._busy)]

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            ttl_ms = int(self.ttl * 1000)
            self._conn = psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=max(2, int(self.ttl)),
                # the server ends the session (and frees the lock) when its holder goes quiet for ttl
                options=f"-c idle_session_timeout={ttl_ms} -c statement_timeout={ttl_ms // 2}",
                keepalives=1,
                keepalives_idle=1,
                keepalives_interval=1,
                keepalives_count=2,
                tcp_user_timeout=ttl_ms // 2,
            )
        return self._conn

    def _try_acquire(self) -> bool:
        conn = self._connection()
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEASE_KEY,)).fetchone()
        if not (row and row[0]):
            return False
        me = conn.execute("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()").fetchone()
        assert me is not None
        self.token = (me[0], me[1])
        return True

    def _still_held(self) -> bool:
        if self._conn is None or self._conn.closed:
            return False
        row = self._conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = %s "
            "AND objsubid = 1 AND pid = pg_backend_pid() AND granted",
            (LEASE_KEY,),
        ).fetchone()
        return bool(row and row[0])


# -- moving a SQLite installation to PostgreSQL (`pagerd migrate --from-sqlite FILE`) ---------------------

# rows the PostgreSQL migrations write themselves (a cursor of one row each): replaced by the copied ones
_SEEDED = ("ticket_text_indexed", "customer_mail_cursor")


class CopyRefused(Exception):
    """The copy was not started (nothing written): a message for the operator."""


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    sha256: str  # of the table's rows, the same read from both databases


def copy_from_sqlite(sqlite_path: str, dsn: str, now: datetime) -> list[TableCopy]:
    """Every row of the SQLite database at `sqlite_path` into the (migrated, empty) PostgreSQL database at
    `dsn`, in one transaction: checked per table by its row count and a checksum of its rows read back from
    PostgreSQL before the commit. Refused (CopyRefused, nothing written) when the SQLite database is not at
    this pagerd's schema or the PostgreSQL one holds data already."""
    from . import sqlite as sqlite_store

    if not os.path.isfile(sqlite_path):
        raise CopyRefused(f"no SQLite database at {sqlite_path}")
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        have = src.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        want = sqlite_store.migrations()[-1][0]
        if have != want:
            raise CopyRefused(
                f"{sqlite_path} is at schema {have}, this pagerd at {want}: run `pagerd migrate` with a config "
                "naming that file first"
            )
        migrate(dsn, now)
        with psycopg.connect(dsn) as dst:  # one transaction, committed on leaving the block
            tables = _tables_in_order(dst)
            full = [
                t
                for t in tables
                if t not in _SEEDED and dst.execute(SQL("SELECT 1 FROM {} LIMIT 1").format(Identifier(t))).fetchone()
            ]
            if full:
                raise CopyRefused(f"the PostgreSQL database holds data already ({', '.join(full[:5])}): nothing copied")
            for t in tables:  # the copied rows are the triggers' work already done
                dst.execute(SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(Identifier(t)))
            copied = [_copy_table(src, dst, t) for t in tables]
            for t in tables:
                dst.execute(SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(Identifier(t)))
            _number_after_copy(dst)
        return copied
    finally:
        src.close()


def _number_after_copy(dst: psycopg.Connection) -> None:
    """Each identity column's next number after the largest id copied (the copy wrote its ids itself)."""
    for table, column in dst.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND is_identity = 'YES'"
    ).fetchall():
        dst.execute(
            SQL(
                "SELECT setval(pg_get_serial_sequence(%s, %s), coalesce((SELECT max({}) FROM {}), 0) + 1, false)"
            ).format(Identifier(column), Identifier(table)),
            (table, column),
        )


def _tables_in_order(dst: psycopg.Connection) -> list[str]:
    """pagerd's tables, each after the tables its foreign keys name."""
    tables = {
        r[0]
        for r in dst.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' AND table_name != 'schema_migrations'"
        )
    }
    needs: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in dst.execute(
        "SELECT tc.table_name, ccu.table_name FROM information_schema.table_constraints AS tc "
        "JOIN information_schema.constraint_column_usage AS ccu ON ccu.constraint_name = tc.constraint_name "
        "AND ccu.table_schema = tc.table_schema "
        "WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
    ):
        if child != parent:
            needs[child].add(parent)
    order: list[str] = []
    while needs:
        ready = sorted(t for t, parents in needs.items() if parents <= set(order))
        if not ready:
            raise CopyRefused(f"foreign keys in a cycle among {sorted(needs)}")
        order += ready
        for t in ready:
            del needs[t]
    return order


def _columns(dst: psycopg.Connection, table: str) -> list[str]:
    return [
        r[0]
        for r in dst.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s AND is_generated = 'NEVER' ORDER BY ordinal_position",
            (table,),
        )
    ]


def _checksum(rows: Iterable[Sequence[Any]]) -> str:
    """Of the rows in any order: each row's values as text, the rows sorted."""

    def text(v: Any) -> str:
        if isinstance(v, (bytes, memoryview)):
            return "x" + bytes(v).hex()
        return repr(v)

    h = hashlib.sha256()
    for line in sorted("\x1f".join(text(v) for v in row) for row in rows):
        h.update(line.encode())
        h.update(b"\x1e")
    return h.hexdigest()


def _copy_table(src: sqlite3.Connection, dst: psycopg.Connection, table: str) -> TableCopy:
    cols = _columns(dst, table)
    # the names come from pagerd's own PostgreSQL schema (information_schema), never from input
    quoted = ", ".join(f'"{c}"' for c in cols)
    rows = src.execute(f'SELECT {quoted} FROM "{table}"').fetchall()  # noqa: S608  (ticket_text: FTS5's rowid, text)
    t, names = Identifier(table), SQL(", ").join(map(Identifier, cols))
    if table in _SEEDED:
        dst.execute(SQL("DELETE FROM {}").format(t))
    with dst.cursor().copy(SQL("COPY {} ({}) FROM STDIN").format(t, names)) as copy:
        for row in rows:
            copy.write_row(row)
    back = dst.execute(SQL("SELECT {} FROM {}").format(names, t)).fetchall()
    theirs, ours = _checksum(back), _checksum(rows)
    if len(back) != len(rows) or theirs != ours:
        raise CopyRefused(
            f"{table}: {len(rows)} rows read, {len(back)} in PostgreSQL, checksums differ: nothing copied"
        )
    return TableCopy(table, len(rows), ours)
