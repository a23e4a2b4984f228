"""SQLite (WAL) store: one writer thread with group commit, readers on their own connections.

Requests hand their write to the writer and wait for the commit that holds it. The writer takes
everything queued, applies the jobs in one transaction (a savepoint per job, so that one bad job
fails alone; consecutive webhook deliveries share one, see `_ingest_together`), commits once, and
answers all of them; the next commit
starts as soon as the previous one returns. SQLite's own automatic checkpoint (run by the writer
after a commit that leaves 1,000 pages or more in the WAL) copies the WAL back into the database,
and the next commit starts the WAL file over. Webhook ingest: `sqlite_ingest`; the paging engine's
state: `sqlite_paging`; overrides: `sqlite_schedule`; bookings and worked time: `sqlite_billing`;
incoming mail: `sqlite_mail`; the support desk's tickets and contacts: `sqlite_tickets`; the portal's
accounts and sessions: `sqlite_portal`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import structlog

from pager.clock import Clock
from pager.domain.incident import State, can_move

from . import sqlite_billing as billing
from . import sqlite_retention as retention
from . import sqlite_schedule as schedule
from .codec import iso, parse_iso, where
from .port import (
    Booking,
    Conflict,
    ConnectionUse,
    CustomerIncident,
    Delivery,
    Incident,
    IncidentAlert,
    IncidentDetail,
    IngestPolicy,
    IngestResult,
    IssuedStatement,
    NotFound,
    OverrideRecord,
    OverrideRequest,
    Pruned,
    RoutingState,
    TimelineEvent,
    Unavailable,
    WorkEntry,
    work_minutes,
)
from .sqlite_customer_mail import CustomerMailSqlite
from .sqlite_hotline import HotlineSqlite
from .sqlite_ingest import ingest, ingest_together, key_prefix
from .sqlite_mail import MailSqlite
from .sqlite_maintenance import MaintenanceSqlite, _windows
from .sqlite_paging import PagingStore, _event, quiet
from .sqlite_portal import PortalSqlite
from .sqlite_standby import StandbySqlite
from .sqlite_tickets import TicketSqlite

_log = structlog.get_logger("pagerd.store")
WRITER = "writer"  # the writer lane every write job goes to unless a store says otherwise
MAX_BATCH = 2000  # jobs per commit
MAX_BATCH_ALERTS = 20000  # alerts per commit (a commit's size bounds how long its requests wait)
_STOP = object()


def migrations(folder: str = "migrations") -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration in `folder` of pager.storage, in order: SQLite's, or
    PostgreSQL's own (pg_migrations: pager.storage.postgres.migrations)."""
    out = []
    for entry in sorted(resources.files("pager.storage").joinpath(folder).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            out.append((version, entry.name, entry.read_text()))
    return out


def create_private(path: str) -> None:
    """The database file, if it does not exist yet, created empty with mode 0600 (SQLite gives its -wal
    and -shm files the database file's mode), in a folder created with mode 0700: incidents, phone
    numbers and raw webhook bodies are for pagerd's user alone. An existing file keeps its mode."""
    if path == ":memory:" or path.startswith("file:"):
        return
    folder = Path(path).parent
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(mode=0o700, exist_ok=True)
        p.chmod(0o700)  # mkdir's mode is narrowed by the umask; set it as meant
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    os.chmod(path, 0o600)


def _connect(path: str, *, synchronous: str) -> sqlite3.Connection:
    create_private(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    # Savepoints (one per job of a group commit) keep the pages they change in a sub-journal, which
    # SQLite spills to a temporary file past 64 KiB: a write system call per page, many per commit.
    # In memory, it is never written (on the full node: 11 write calls per webhook instead of 63).
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def migration_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions migrations call: migration 7 stores notification ids behind their key
    (sqlite_ingest.stored_id)."""
    conn.create_function("pagerd_key_prefix", 2, key_prefix, deterministic=True)
    conn.create_function("pagerd_hex", 1, lambda h: int(h, 16), deterministic=True)


def migrate(path: str, now: datetime) -> list[int]:
    """Apply pending migrations, stamped `now`; returns the versions applied."""
    conn = _connect(path, synchronous="FULL")
    # off while tables are rebuilt (SQLite's documented way); every migration is checked before it commits
    conn.execute("PRAGMA foreign_keys=OFF")
    migration_functions(conn)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, sql in migrations():
            if version in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in _statements(sql):
                    conn.execute(stmt)
                broken = conn.execute("PRAGMA foreign_key_check").fetchmany(5)
                if broken:
                    raise sqlite3.IntegrityError(f"migration {name} breaks foreign keys: {broken}")
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, iso(now)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(version)
        return applied
    finally:
        conn.close()


def backup(path: str, dest: str, *, force: bool = False) -> int:
    """SQLite's online backup of the database at `path` into the file `dest`; returns its size in bytes.

    The copy is one consistent snapshot: all pages in one step under one read transaction, so in WAL
    mode the daemon's writes go on meanwhile and never restart the copy. It is written to a temporary
    file beside `dest` (mode 0600), switched to a self-contained rollback journal, checked
    (`PRAGMA quick_check`), synced, and only then renamed to `dest`: `dest` is either the old file or
    the whole new copy, never half of one. An existing `dest` is refused (FileExistsError) unless `force`."""
    target = Path(dest)
    if target.exists() and not force:
        raise FileExistsError(f"{dest} exists (--force replaces it)")
    if not Path(path).is_file():
        raise FileNotFoundError(f"no database at {path}")
    if not (target.parent or Path(".")).is_dir():
        raise FileNotFoundError(f"no folder {target.parent} for {dest}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")  # mode 0600
    os.close(fd)
    try:
        src = _connect(path, synchronous="FULL")
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            src.backup(dst)  # pages=-1: the whole database in one step, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            problems = [r[0] for r in dst.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"the copy fails its check: {problems[:5]}")
        finally:
            dst.close()
            src.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    folder = os.open(target.parent or ".", os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)
    return target.stat().st_size


def _statements(sql: str) -> list[str]:
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def _commit_batch(conn: sqlite3.Connection, batch: list[_Job]) -> None:
    """Apply a batch in one transaction, each job in a savepoint of its own (a job that fails is
    rolled back alone and the others commit), and commit once. Consecutive deliveries are applied
    together in one savepoint (`_ingest_together`)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        for run in _runs(batch):
            if len(run) > 1 and _ingest_together(conn, run):
                continue
            for job in run:
                _run_job(conn, job)
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _run_job(conn: sqlite3.Connection, job: _Job) -> None:
    conn.execute("SAVEPOINT job")
    try:
        job.result = job.fn(conn, *job.args)
        conn.execute("RELEASE job")
    except Exception as exc:
        if not conn.in_transaction:  # SQLite rolled the whole transaction back (disk full, I/O error)
            raise
        conn.execute("ROLLBACK TO job")  # one bad job fails alone
        conn.execute("RELEASE job")
        job.error = exc


def _runs(batch: list[_Job]) -> Iterator[list[_Job]]:
    """The batch in order, consecutive deliveries (ingest jobs) as one run, every other job alone."""
    run: list[_Job] = []
    for job in batch:
        if job.fn is ingest and run and job.args[1] is run[0].args[1]:  # the same policy
            run.append(job)
            continue
        if run:
            yield run
        run = [job]
        if job.fn is not ingest:
            yield run
            run = []
    if run:
        yield run


def _ingest_together(conn: sqlite3.Connection, run: list[_Job]) -> bool:
    """The ingest fast path: the deliveries of a run applied by one `ingest_together` in one
    savepoint, ending in what a savepoint and an `ingest` per delivery would
    (tests/unit/test_store_batching.py). False when anything in it failed: then nothing of it is
    left, and each of its jobs runs alone."""
    conn.execute("SAVEPOINT deliveries")
    try:
        results = ingest_together(conn, [job.args[0] for job in run], run[0].args[1])
    except Exception:
        if not conn.in_transaction:  # SQLite rolled the whole transaction back (disk full, I/O error)
            raise
        conn.execute("ROLLBACK TO deliveries")
        conn.execute("RELEASE deliveries")
        return False
    conn.execute("RELEASE deliveries")
    for job, result in zip(run, results, strict=True):
        job.result = result
    return True


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # SQLite may have rolled back by itself (disk full, I/O error)
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


# SQLite's primary result codes of a write that a later retry can get through (https://sqlite.org/rescode.html)
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_FULL = 5, 6, 10, 13
# what a sender is told to wait: another process's lock is usually short; a full disk needs someone to act
_UNAVAILABLE = {
    _SQLITE_FULL: ("the database's disk is full; nothing was stored, retry later", 60),
    _SQLITE_IOERR: ("the database could not be written (I/O error); nothing was stored, retry later", 60),
    _SQLITE_BUSY: ("the database is locked by another process; nothing was stored, retry later", 5),
    _SQLITE_LOCKED: ("the database is locked; nothing was stored, retry later", 5),
}


def _unavailable(exc: sqlite3.OperationalError) -> Unavailable | None:
    """The port's Unavailable for a write that failed as a whole and may succeed later; None for others."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    found = _UNAVAILABLE.get(code & 0xFF)
    return Unavailable(*found) if found else None


class _Job:
    __slots__ = ("fn", "args", "future", "result", "error")

    def __init__(self, fn: Callable, args: tuple, future: asyncio.Future) -> None:
        self.fn, self.args, self.future = fn, args, future
        self.result: Any = None
        self.error: BaseException | None = None


class SqliteStore(
    PagingStore,
    MaintenanceSqlite,
    MailSqlite,
    TicketSqlite,
    CustomerMailSqlite,
    HotlineSqlite,
    PortalSqlite,
    StandbySqlite,
):
    def __init__(
        self,
        path: str,
        policy: IngestPolicy,
        *,
        clock: Clock,
        synchronous: str = "FULL",
        on_commit: Callable[[int, float], None] | None = None,
    ) -> None:
        self.path = path
        self.policy = policy
        self.clock = clock  # stamps migrations, times commits for on_commit
        self.synchronous = synchronous
        # a writer thread per lane, each with its own connection and queue of jobs; on SQLite one lane, "writer"
        # (PostgresStore adds one: see its PAGING_LANE)
        self._queues: dict[str, queue.SimpleQueue] = {WRITER: queue.SimpleQueue()}
        self._writers: dict[str, threading.Thread] = {}
        self._busy: dict[str, int] = {WRITER: 0}  # 1 while the lane's writer runs a batch (set by its thread only)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pagerd-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._on_commit = on_commit
        self._closed = False
        self._readers_busy = 0  # reads running now, under _use_lock (reader threads)
        self._use_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, migrate, self.path, self.clock.now())
        self._start_writer(WRITER, _connect(self.path, synchronous=self.synchronous))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for lane, writer in self._writers.items():
            self._queues[lane].put(_STOP)
            await asyncio.get_running_loop().run_in_executor(None, writer.join, 30)
        self._readers.shutdown(wait=True)
        for c in self._reader_conns:
            c.close()
        self._reader_conns.clear()

    # -- the writer --------------------------------------------------------------------------
    def _start_writer(self, lane: str, conn: Any) -> None:
        self._queues.setdefault(lane, queue.SimpleQueue())
        self._busy.setdefault(lane, 0)
        self._writers[lane] = threading.Thread(
            target=self._run_writer, args=(conn, lane), name=f"pagerd-{lane}", daemon=True
        )
        self._writers[lane].start()

    def _run_writer(self, conn: sqlite3.Connection, lane: str) -> None:
        assert self._loop is not None
        jobs = self._queues[lane]
        pending: list[_Job] = []
        stop = False
        while not stop or pending:
            if not pending:
                first = jobs.get()
                if first is _STOP:
                    break
                pending.append(first)
            while len(pending) < MAX_BATCH:  # everything queued meanwhile joins
                try:
                    nxt = jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                pending.append(nxt)
            batch = _take(pending)
            t0 = self.clock.monotonic()
            self._busy[lane] = 1
            try:
                conn = self._writer_connection(conn)
                _commit_batch(conn, batch)
            except Exception as exc:
                for job in batch:
                    job.error = exc
            finally:
                self._busy[lane] = 0
            if self._on_commit is not None:
                self._on_commit(len(batch), self.clock.monotonic() - t0)
            self._loop.call_soon_threadsafe(_settle, batch)
        conn.close()

    def _writer_connection(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """The writer's connection for its next batch. A SQLite file's never breaks; a database server's can
        (PostgresStore replaces a broken one here, and a batch that cannot get one fails as a whole)."""
        return conn

    async def _write(self, fn: Callable, *args: Any) -> Any:
        return await self._write_on(WRITER, fn, *args)

    async def _write_on(self, lane: str, fn: Callable, *args: Any) -> Any:
        """`fn(conn, *args)` as a job of the lane's writer: in its next batch's transaction, answered after its
        commit."""
        if self._closed:
            raise RuntimeError("store is closed")
        fut = asyncio.get_running_loop().create_future()
        self._queues[lane].put(_Job(fn, args, fut))
        try:
            return await fut
        except sqlite3.OperationalError as exc:
            unavailable = _unavailable(exc)
            if unavailable is None:
                raise
            _log.warning("store_unavailable", error=str(exc), retry_after=unavailable.retry_after)
            raise unavailable from exc

    # -- readers -----------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, synchronous=self.synchronous)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            self._reader_conns.append(conn)
        return conn

    def _read_on_reader(self, fn: Callable, args: tuple) -> Any:
        return fn(self._reader(), *args)

    def _counted_read(self, fn: Callable, args: tuple) -> Any:
        with self._use_lock:
            self._readers_busy += 1
        try:
            return self._read_on_reader(fn, args)
        finally:
            with self._use_lock:
                self._readers_busy -= 1

    async def _read(self, fn: Callable, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._counted_read, fn, args)

    def _readers_open(self) -> int:
        return len(self._reader_conns)

    def connections(self) -> list[ConnectionUse]:
        uses = []
        for lane, writer in self._writers.items():
            alive = writer.is_alive()
            uses.append(ConnectionUse(lane, int(alive), self._busy[lane] if alive else 0))
        return [*uses, ConnectionUse("reader", self._readers_open(), self._readers_busy)]

    # -- port --------------------------------------------------------------------------------
    async def ping(self) -> None:
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    async def ingest(self, delivery: Delivery) -> IngestResult:
        return await self._write(ingest, delivery, self.policy)

    async def transition(
        self, incident_id: int, target: State, *, actor: str, via: str, comment: str | None, now: datetime
    ) -> IncidentDetail:
        await self._write(_transition, incident_id, target, actor, via, comment, now)
        return await self._detail(incident_id)

    async def add_note(self, incident_id: int, *, actor: str, text: str, now: datetime) -> IncidentDetail:
        await self._write(_note, incident_id, actor, text, now)
        return await self._detail(incident_id)

    async def _detail(self, incident_id: int) -> IncidentDetail:
        """An incident just written (incidents are never deleted)."""
        inc = await self.get_incident(incident_id)
        if inc is None:
            raise NotFound(f"incident {incident_id} not found")
        return inc

    async def list_incidents(
        self,
        *,
        state: str | None = None,
        source: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Incident]:
        return await self._read(_list, state, source, since, limit, before_id)

    async def get_incident(self, incident_id: int) -> IncidentDetail | None:
        return await self._read(_get, incident_id)

    async def count_by_state(self) -> dict[str, int]:
        return await self._read(
            lambda c: dict(c.execute("SELECT state, count(*) FROM incidents GROUP BY state").fetchall())
        )

    # -- rotation overrides and hand-over notices (sqlite_schedule) ---------------------------------
    async def add_override(
        self,
        *,
        rotation: str,
        start: datetime,
        end: datetime,
        person: str,
        replaces: str | None,
        created_by: str,
        now: datetime,
    ) -> OverrideRecord:
        oid = await self._write(schedule.add_override, rotation, start, end, person, replaces, created_by, now)
        return (await self._read(schedule.overrides, None, oid, True))[0]

    async def list_overrides(
        self, rotation: str | None = None, *, include_removed: bool = False
    ) -> list[OverrideRecord]:
        return await self._read(schedule.overrides, rotation, None, include_removed)

    async def routing_state(self, now: datetime) -> RoutingState:
        def q(c: sqlite3.Connection) -> RoutingState:
            return RoutingState(
                bookings=billing.bookings(c, None, None, False, now),
                maintenance=_windows(c, None, None, False, now),
                overrides=schedule.overrides(c, None, None, False),
            )

        return await self._read(q)  # type: ignore[no-any-return]

    async def remove_override(self, override_id: int, *, removed_by: str, now: datetime) -> OverrideRecord:
        await self._write(schedule.remove_override, override_id, removed_by, now)
        return (await self._read(schedule.overrides, None, override_id, True))[0]

    async def claim_handover(self, rotation: str, shift_start: datetime, person: str, now: datetime) -> bool:
        return await self._write(schedule.claim_handover, rotation, shift_start, person, now)

    async def add_override_request(
        self,
        *,
        rotation: str,
        start: datetime,
        end: datetime,
        person: str,
        replaces: str | None,
        note: str | None,
        requested_by: str,
        now: datetime,
    ) -> OverrideRequest:
        rid = await self._write(
            schedule.add_override_request, rotation, start, end, person, replaces, note, requested_by, now
        )
        return (await self._read(schedule.override_requests, None, rid, 1))[0]

    async def list_override_requests(self, *, status: str | None = None, limit: int = 100) -> list[OverrideRequest]:
        return await self._read(schedule.override_requests, status, None, limit)

    async def decide_override_request(
        self, request_id: int, *, confirm: bool, decided_by: str, now: datetime
    ) -> OverrideRequest:
        await self._write(schedule.decide_override_request, request_id, confirm, decided_by, now)
        return (await self._read(schedule.override_requests, None, request_id, 1))[0]

    # -- standby bookings and worked time (sqlite_billing) --------------------------------------------
    async def add_booking(
        self, *, customer: str, start: datetime, end: datetime, created_by: str, now: datetime
    ) -> Booking:
        bid = await self._write(billing.add_booking, customer, start, end, created_by, now)
        return (await self._read(billing.bookings, None, bid, True, None))[0]

    async def list_bookings(
        self, customer: str | None = None, *, include_cancelled: bool = False, ending_after: datetime | None = None
    ) -> list[Booking]:
        return await self._read(billing.bookings, customer, None, include_cancelled, ending_after)

    async def cancel_booking(self, booking_id: int, *, by: str, now: datetime) -> Booking:
        await self._write(billing.cancel_booking, booking_id, by, now)
        return (await self._read(billing.bookings, None, booking_id, True, None))[0]

    async def add_work(
        self,
        incident_id: int,
        *,
        person: str,
        start: datetime | None = None,
        end: datetime | None = None,
        minutes: int | None = None,
        note: str | None = None,
        by: str,
        now: datetime,
    ) -> WorkEntry:
        minutes = work_minutes(start, end, minutes)
        wid = await self._write(billing.add_work, incident_id, person, start, end, minutes, note, by, now)
        return await self._read(billing.work_entry, wid)

    async def list_work(self, incident_id: int) -> list[WorkEntry]:
        return await self._read(billing.work_entries, incident_id)

    async def issue_statement(self, customer: str, month: str, *, now: datetime) -> IssuedStatement:
        await self._write(billing.issue_statement, customer, month, now)
        return await self._read(billing.issued_statement, customer, month)

    async def customer_incidents(self, project_prefix: str, start: datetime, end: datetime) -> list[CustomerIncident]:
        return await self._read(billing.customer_incidents, project_prefix, start, end)

    # -- retention (sqlite_retention) ------------------------------------------------------------
    async def prune(self, before_raw: datetime, before_ids: datetime, limit: int) -> Pruned:
        return await self._write(retention.prune, before_raw, before_ids, limit)

    async def pruned_at(self) -> datetime | None:
        return await self._read(retention.finished_at, retention.RETENTION_JOB)

    async def mark_pruned(self, at: datetime) -> None:
        await self._write(retention.mark_finished, retention.RETENTION_JOB, at)


def _take(pending: list[_Job]) -> list[_Job]:
    """The next batch off the front of `pending` (at least one job)."""
    n = alerts = 0
    for job in pending:
        if n and (n >= MAX_BATCH or alerts >= MAX_BATCH_ALERTS):
            break
        n += 1
        if job.fn is ingest:
            alerts += len(job.args[0].alerts)
    batch = pending[:n]
    del pending[:n]
    return batch


def _settle(batch: list[_Job]) -> None:
    for job in batch:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


# -- write transactions (run on the writer thread, inside a savepoint) ---------------------------


def _transition(
    conn: sqlite3.Connection, iid: int, target: State, actor: str, via: str, comment: str | None, now: datetime
) -> None:
    row = conn.execute("SELECT state FROM incidents WHERE id = ?", (iid,)).fetchone()
    if row is None:
        raise NotFound(f"incident {iid} not found")
    current = State(row[0])
    if current is target:
        return  # idempotent: acking an acked incident changes nothing
    if not can_move(current, target):
        raise Conflict(f"incident {iid} is {current.value}; cannot move to {target.value}")
    at = iso(now)
    if target is State.ACKNOWLEDGED:
        conn.execute(
            "UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, "
            "updated_at = ? WHERE id = ?",
            (at, actor, at, iid),
        )
        _event(conn, iid, at, "acknowledged", actor, {"via": via, "comment": comment})
        quiet(conn, iid, at, "incident acknowledged", via=via)
    elif target is State.RESOLVED:
        conn.execute(
            "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, updated_at = ? WHERE id = ?",
            (at, actor, at, iid),
        )
        _event(conn, iid, at, "resolved", actor, {"via": via, "comment": comment})
        quiet(conn, iid, at, "incident resolved", via=via)


def _note(conn: sqlite3.Connection, iid: int, actor: str, text: str, now: datetime) -> None:
    if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (iid,)).fetchone() is None:
        raise NotFound(f"incident {iid} not found")
    at = iso(now)
    _event(conn, iid, at, "note", actor, {"text": text, "via": "api"})
    conn.execute("UPDATE incidents SET updated_at = ? WHERE id = ?", (at, iid))


# -- reads -----------------------------------------------------------------------------------------

_COLS = (
    "id, source, dedup_key, state, summary, severity, labels, alert_count, reopen_count, created_at, "
    "updated_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by"
)


def _incident_fields(r: tuple) -> dict[str, Any]:
    """The fields of an Incident from the columns _COLS, in that order."""
    return {
        "id": r[0],
        "source": r[1],
        "dedup_key": r[2],
        "state": r[3],
        "summary": r[4],
        "severity": r[5],
        "labels": json.loads(r[6]),
        "alert_count": r[7],
        "reopen_count": r[8],
        "created_at": parse_iso(r[9]),
        "updated_at": parse_iso(r[10]),
        "acknowledged_at": parse_iso(r[11]),
        "acknowledged_by": r[12],
        "resolved_at": parse_iso(r[13]),
        "resolved_by": r[14],
    }


def _list(
    conn: sqlite3.Connection,
    state: str | None,
    source: str | None,
    since: datetime | None,
    limit: int,
    before_id: int | None,
) -> list[Incident]:
    clause, args = where(
        (bool(state), "state = ?", (state,)),
        (bool(source), "source = ?", (source,)),
        # through the (state, created_at) index
        (bool(since) and not state, "state IN ('triggered', 'acknowledged', 'resolved')", ()),
        (bool(since), "created_at >= ?", (iso(since),)),
        (bool(before_id), "id < ?", (before_id,)),
    )
    sql = f"SELECT {_COLS} FROM incidents{clause} ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return [Incident(**_incident_fields(r)) for r in conn.execute(sql, args)]


def _get(conn: sqlite3.Connection, iid: int) -> IncidentDetail | None:
    r = conn.execute(f"SELECT {_COLS} FROM incidents WHERE id = ?", (iid,)).fetchone()
    if r is None:
        return None
    alerts = tuple(
        IncidentAlert(
            fingerprint=a[0],
            status=a[1],
            summary=a[2],
            severity=a[3],
            labels=json.loads(a[4]),
            annotations=json.loads(a[5]),
            details=json.loads(a[6]),
            starts_at=parse_iso(a[7]),
            ends_at=parse_iso(a[8]),
            first_seen=parse_iso(a[9]),
            last_seen=parse_iso(a[10]),
        )
        for a in conn.execute(
            "SELECT fingerprint, status, summary, severity, labels, annotations, details, "
            "starts_at, ends_at, first_seen, last_seen FROM alerts WHERE incident_id = ? "
            "ORDER BY id",
            (iid,),
        )
    )
    timeline = tuple(
        TimelineEvent(at=parse_iso(e[0]), kind=e[1], actor=e[2], data=json.loads(e[3]))
        for e in conn.execute("SELECT at, kind, actor, data FROM events WHERE incident_id = ? ORDER BY id", (iid,))
    )
    return IncidentDetail(**_incident_fields(r), alerts=alerts, timeline=timeline)
