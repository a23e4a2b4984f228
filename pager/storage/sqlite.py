"""SQLite (WAL) store: one writer thread with group commit, readers on their own connections.

Requests hand their write to the writer and wait for the commit that holds it. The writer takes
everything queued, applies the jobs in one transaction (again with a savepoint per job when one
fails, so that one bad job fails alone), commits once, and answers all of them; the next commit
starts as soon as the previous one returns. Webhook ingest: `sqlite_ingest`.
"""
from __future__ import annotations

import asyncio
import json
import os
import queue
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import structlog

from pager.domain.incident import State, can_move

from .codec import iso
from .port import Conflict, Delivery, IngestPolicy, IngestResult, NotFound
from .sqlite_ingest import ingest
from .sqlite_paging import PagingStore, _event, quiet

_log = structlog.get_logger("pagerd.store")
MAX_BATCH = 2000         # jobs per commit
MAX_BATCH_ALERTS = 20000  # alerts per commit (a commit's size bounds how long its requests wait)
_STOP = object()
CHECKPOINT_EVERY = 0.5      # s: a passive checkpoint at most this often, when something was committed
WAL_SAFETY_PAGES = 100_000  # the writer checkpoints by itself only if the checkpointer fell this far behind
WAL_RESTART_FRAMES = 4_000  # a WAL this long (16 MB of 4 KB pages), once checkpointed, is started over


def yield_on_wakeup() -> None:
    """Run the calling thread under Linux's SCHED_BATCH policy: the same share of the CPU as any
    other thread (nice 0), but waking up does not preempt a running thread.

    Without it, on a busy core every job handed to the writer wakes it and the scheduler switches
    to it at once: the writer commits one or two jobs while the event loop, its request parsing cut
    short, holds the rest; then the loop takes the core back, and so on. With it, the loop finishes
    what it has read before the writer runs, commits hold more jobs and the core switches less.
    Measured (single-alert webhooks, one core, paired runs): 5%, 8% and 22% more webhooks/s, commits
    of 32 jobs instead of 15 at 32 connections; the durable baseline (bench/), whose writer does
    little, measured the same either way. Where the policy does not exist (not Linux) nothing
    changes; where the call is refused (a seccomp filter with an error number) it is logged. The
    systemd unit allows it (deploy/systemd/pagerd.service)."""
    setter = getattr(os, "sched_setscheduler", None)
    if setter is None:
        return
    try:
        setter(0, os.SCHED_BATCH, os.sched_param(0))  # 0: the calling thread
    except OSError as exc:
        _log.debug("sched_batch_unavailable", error=str(exc))


class _Checkpointer:
    """Copies committed WAL pages back into the database on its own thread and connection.

    PASSIVE checkpoints never block the writer or the readers. Measured against SQLite's automatic
    checkpoint in the writer (every 1,000 pages): less writer CPU per webhook (a page that many
    commits wrote is copied once per checkpoint) and no commit waits for a checkpoint (bench/).

    SQLite starts the WAL over at a write transaction that finds everything in it copied; under a
    steady load commits keep coming while a checkpoint runs, so that never happens by itself and
    the WAL grows until the writer's safety checkpoint (WAL_SAFETY_PAGES, 400 MB), every commit
    appending to a longer file (each fsync then also writes the file's new size and blocks).
    So once a checkpoint has copied a WAL of WAL_RESTART_FRAMES or more, `restart_due` asks the
    writer to copy the few frames committed meanwhile itself, between two commits; its next commit
    then starts the WAL over, and commits overwrite the same 16 MB from then on. Measured (paired
    runs, one core): +4.8% single-alert webhooks/s, +6.7% alerts/s in 100-alert batches, and a
    WAL file of ~16 MB instead of up to 400 MB."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.committed = threading.Event()
        self.restart_due = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pagerd-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        yield_on_wakeup()
        while not self._stop.is_set():
            if not self.committed.wait(CHECKPOINT_EVERY):
                continue
            self.committed.clear()
            done = _checkpoint(self.conn)  # on failure the next commit tries again
            if done is not None:
                busy, frames, copied = done
                if not busy and frames >= WAL_RESTART_FRAMES and copied == frames:
                    self.restart_due.set()
            self._stop.wait(CHECKPOINT_EVERY)
        self.conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.committed.set()
        self._thread.join(30)


def _checkpoint(conn: sqlite3.Connection) -> tuple[int, int, int] | None:
    """A PASSIVE checkpoint: (busy, frames in the WAL, frames copied), or None when it failed (nothing
    is lost: the WAL grows on until the next one; the writer's safety checkpoint stays)."""
    try:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error as exc:
        _log.warning("checkpoint_failed", error=str(exc))
        return None


def migrations() -> list[tuple[int, str, str]]:
    out = []
    for entry in sorted(resources.files("pager.storage").joinpath("migrations").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            out.append((version, entry.name, entry.read_text()))
    return out


def _connect(path: str, *, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migrate(path: str) -> list[int]:
    """Apply pending migrations; returns the versions applied."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path, synchronous="FULL")
    # off while tables are rebuilt (SQLite's documented way); every migration is checked before it commits
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
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
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                             (version, name, iso(datetime.now(timezone.utc))))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(version)
        return applied
    finally:
        conn.close()


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


def _commit_batch(conn: sqlite3.Connection, batch: list["_Job"]) -> None:
    """Apply a batch in one transaction and commit once.

    Fast path: every job runs straight in the transaction. Savepoints would let one bad job fail
    alone, but SQLite copies each page a savepoint touches into a sub-journal, which measured at a
    fifth of a webhook's write cost; jobs rarely fail. So a failure rolls the whole transaction back
    and the batch runs again with a savepoint per job: the bad job fails alone, the others commit.
    Jobs are functions of the connection and their arguments only, so running them again is safe."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            _run_jobs(conn, batch, savepoints=False)
        except Exception:
            _rollback(conn)
        else:
            conn.execute("COMMIT")
            return
        conn.execute("BEGIN IMMEDIATE")
        _run_jobs(conn, batch, savepoints=True)
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _run_jobs(conn: sqlite3.Connection, batch: list["_Job"], *, savepoints: bool) -> None:
    for job in batch:
        job.result, job.error = None, None
        if savepoints:
            conn.execute("SAVEPOINT job")
        try:
            job.result = job.fn(conn, *job.args)
            if savepoints:
                conn.execute("RELEASE job")
        except Exception as exc:
            if not savepoints:
                raise
            conn.execute("ROLLBACK TO job")  # one bad job fails alone
            conn.execute("RELEASE job")
            job.error = exc


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # SQLite may have rolled back by itself (disk full, I/O error)
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


class _Job:
    __slots__ = ("fn", "args", "future", "result", "error")

    def __init__(self, fn: Callable, args: tuple, future: asyncio.Future) -> None:
        self.fn, self.args, self.future = fn, args, future
        self.result: Any = None
        self.error: BaseException | None = None


class SqliteStore(PagingStore):
    def __init__(self, path: str, policy: IngestPolicy, *, synchronous: str = "FULL",
                 on_commit: Callable[[int, float], None] | None = None) -> None:
        self.path = path
        self.policy = policy
        self.synchronous = synchronous
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pagerd-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._on_commit = on_commit
        self._checkpointer: _Checkpointer | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, migrate, self.path)
        conn = _connect(self.path, synchronous=self.synchronous)
        # Checkpoints (copying the WAL back into the database) run on their own thread, so that a
        # commit never waits for one; the writer's own automatic checkpoint is only a safety net.
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_SAFETY_PAGES}")
        self._checkpointer = _Checkpointer(_connect(self.path, synchronous=self.synchronous))
        self._writer = threading.Thread(target=self._run_writer, args=(conn,), name="pagerd-writer", daemon=True)
        self._writer.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._queue.put(_STOP)
            await asyncio.get_running_loop().run_in_executor(None, self._writer.join, 30)
        if self._checkpointer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._checkpointer.stop)
        self._readers.shutdown(wait=True)
        for c in self._reader_conns:
            c.close()

    # -- the writer --------------------------------------------------------------------------
    def _run_writer(self, conn: sqlite3.Connection) -> None:
        assert self._loop is not None
        yield_on_wakeup()
        pending: list[_Job] = []
        stop = False
        while not stop or pending:
            if not pending:
                first = self._queue.get()
                if first is _STOP:
                    break
                pending.append(first)
            while len(pending) < MAX_BATCH:  # everything queued meanwhile joins
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                pending.append(nxt)
            if self._checkpointer is not None and self._checkpointer.restart_due.is_set():
                self._checkpointer.restart_due.clear()
                _checkpoint(conn)  # the frames committed since: the next commit starts the WAL over
            batch = _take(pending)
            t0 = time.perf_counter()
            try:
                _commit_batch(conn, batch)
            except Exception as exc:
                for job in batch:
                    job.error = exc
            if self._on_commit is not None:
                self._on_commit(len(batch), time.perf_counter() - t0)
            self._loop.call_soon_threadsafe(_settle, batch)
            if self._checkpointer is not None:
                self._checkpointer.committed.set()
        conn.close()

    async def _write(self, fn: Callable, *args: Any) -> Any:
        if self._closed:
            raise RuntimeError("store is closed")
        fut = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(fn, args, fut))
        return await fut

    # -- readers -----------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, synchronous=self.synchronous)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._reader(), *args))

    # -- port --------------------------------------------------------------------------------
    async def ping(self) -> None:
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    async def ingest(self, delivery: Delivery) -> IngestResult:
        return await self._write(ingest, delivery, self.policy)

    async def transition(self, incident_id: int, target: State, *, actor: str, via: str,
                         comment: str | None, now: datetime) -> dict:
        await self._write(_transition, incident_id, target, actor, via, comment, now)
        return await self.get_incident(incident_id)  # type: ignore[return-value]

    async def add_note(self, incident_id: int, *, actor: str, text: str, now: datetime) -> dict:
        await self._write(_note, incident_id, actor, text, now)
        return await self.get_incident(incident_id)  # type: ignore[return-value]

    async def list_incidents(self, *, state: str | None = None, source: str | None = None,
                             since: datetime | None = None, limit: int = 100,
                             before_id: int | None = None) -> list[dict]:
        return await self._read(_list, state, source, since, limit, before_id)

    async def get_incident(self, incident_id: int) -> dict | None:
        return await self._read(_get, incident_id)

    async def count_by_state(self) -> dict[str, int]:
        return await self._read(lambda c: dict(c.execute(
            "SELECT state, count(*) FROM incidents GROUP BY state").fetchall()))

    # -- rotation overrides and hand-over notices ----------------------------------------------
    async def add_override(self, *, rotation: str, start: datetime, end: datetime, person: str,
                           replaces: str | None, created_by: str, now: datetime) -> dict:
        oid = await self._write(_add_override, rotation, start, end, person, replaces, created_by, now)
        return (await self._read(_overrides, None, oid, True))[0]

    async def list_overrides(self, rotation: str | None = None, *, include_removed: bool = False) -> list[dict]:
        return await self._read(_overrides, rotation, None, include_removed)

    async def remove_override(self, override_id: int, *, removed_by: str, now: datetime) -> dict:
        await self._write(_remove_override, override_id, removed_by, now)
        return (await self._read(_overrides, None, override_id, True))[0]

    async def claim_handover(self, rotation: str, shift_start: datetime, person: str, now: datetime) -> bool:
        """True exactly once per (rotation, shift start): the caller then gives the notice."""
        return await self._write(_claim_handover, rotation, shift_start, person, now)

    # -- standby bookings and worked time ------------------------------------------------------
    async def add_booking(self, *, customer: str, start: datetime, end: datetime, created_by: str,
                          now: datetime) -> dict:
        bid = await self._write(_add_booking, customer, start, end, created_by, now)
        return (await self._read(_bookings, None, bid, True, None))[0]

    async def list_bookings(self, customer: str | None = None, *, include_cancelled: bool = False,
                            ending_after: datetime | None = None) -> list[dict]:
        """Bookings by start; without include_cancelled only the active ones; with ending_after only
        those still running or to come at that instant."""
        return await self._read(_bookings, customer, None, include_cancelled, ending_after)

    async def cancel_booking(self, booking_id: int, *, by: str, now: datetime) -> dict:
        await self._write(_cancel_booking, booking_id, by, now)
        return (await self._read(_bookings, None, booking_id, True, None))[0]

    async def add_work(self, incident_id: int, *, person: str, start: datetime | None = None,
                       end: datetime | None = None, minutes: int | None = None, note: str | None = None,
                       by: str, now: datetime) -> dict:
        """A time entry on an incident: either `minutes` or `start` and `end` (minutes then follow,
        rounded up to whole minutes). Adds a work_logged event to the timeline."""
        if (minutes is None) == (start is None or end is None) or (start is None) != (end is None):
            raise ValueError("give either minutes or start and end")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1):
            raise ValueError("minutes must be a positive integer")
        if start is not None and end is not None and end <= start:
            raise ValueError("end must be after start")
        wid = await self._write(_add_work, incident_id, person, start, end, minutes, note, by, now)
        return (await self._read(_work, None, wid))[0]

    async def list_work(self, incident_id: int) -> list[dict]:
        return await self._read(_work, incident_id, None)


def _take(pending: list["_Job"]) -> list["_Job"]:
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

def _transition(conn: sqlite3.Connection, iid: int, target: State, actor: str, via: str,
                comment: str | None, now: datetime) -> None:
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
        conn.execute("UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, "
                     "updated_at = ? WHERE id = ?", (at, actor, at, iid))
        _event(conn, iid, at, "acknowledged", actor, {"via": via, "comment": comment})
        quiet(conn, iid, at, "incident acknowledged")
    elif target is State.RESOLVED:
        conn.execute("UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, updated_at = ? "
                     "WHERE id = ?", (at, actor, at, iid))
        _event(conn, iid, at, "resolved", actor, {"via": via, "comment": comment})
        quiet(conn, iid, at, "incident resolved")


def _note(conn: sqlite3.Connection, iid: int, actor: str, text: str, now: datetime) -> None:
    if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (iid,)).fetchone() is None:
        raise NotFound(f"incident {iid} not found")
    at = iso(now)
    _event(conn, iid, at, "note", actor, {"text": text, "via": "api"})
    conn.execute("UPDATE incidents SET updated_at = ? WHERE id = ?", (at, iid))


def _add_override(conn: sqlite3.Connection, rotation: str, start: datetime, end: datetime, person: str,
                  replaces: str | None, created_by: str, now: datetime) -> int:
    if end <= start:
        raise Conflict("an override ends after it starts")
    return conn.execute(
        "INSERT INTO overrides (rotation, start_at, end_at, person, replaces, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (rotation, iso(start), iso(end), person, replaces, created_by, iso(now))).fetchone()[0]


def _remove_override(conn: sqlite3.Connection, oid: int, removed_by: str, now: datetime) -> None:
    row = conn.execute("SELECT removed_at FROM overrides WHERE id = ?", (oid,)).fetchone()
    if row is None:
        raise NotFound(f"override {oid} not found")
    if row[0] is None:
        conn.execute("UPDATE overrides SET removed_by = ?, removed_at = ? WHERE id = ?", (removed_by, iso(now), oid))


def _claim_handover(conn: sqlite3.Connection, rotation: str, shift_start: datetime, person: str,
                    now: datetime) -> bool:
    return conn.execute("INSERT INTO handover_notices (rotation, shift_start, person, notified_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (rotation, iso(shift_start), person, iso(now))).rowcount == 1


def _add_booking(conn: sqlite3.Connection, customer: str, start: datetime, end: datetime, created_by: str,
                 now: datetime) -> int:
    if end <= start:
        raise Conflict("a booking ends after it starts")
    return conn.execute(
        "INSERT INTO bookings (customer, start_at, end_at, created_by, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (customer, iso(start), iso(end), created_by, iso(now))).fetchone()[0]


def _cancel_booking(conn: sqlite3.Connection, bid: int, by: str, now: datetime) -> None:
    row = conn.execute("SELECT cancelled_at FROM bookings WHERE id = ?", (bid,)).fetchone()
    if row is None:
        raise NotFound(f"booking {bid} not found")
    if row[0] is None:  # cancelling twice keeps the first cancellation
        conn.execute("UPDATE bookings SET cancelled_by = ?, cancelled_at = ? WHERE id = ?", (by, iso(now), bid))


def _add_work(conn: sqlite3.Connection, iid: int, person: str, start: datetime | None, end: datetime | None,
              minutes: int | None, note: str | None, by: str, now: datetime) -> int:
    if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (iid,)).fetchone() is None:
        raise NotFound(f"incident {iid} not found")
    if minutes is None:
        assert start is not None and end is not None
        minutes = max(1, -(-int((end - start).total_seconds()) // 60))  # whole minutes, rounded up
    at = iso(now)
    wid = conn.execute(
        "INSERT INTO work_entries (incident_id, person, start_at, end_at, minutes, note, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (iid, person, iso(start), iso(end), minutes, note, by, at)).fetchone()[0]
    _event(conn, iid, at, "work_logged", by, {"work_id": wid, "person": person, "minutes": minutes,
                                               "start": iso(start), "end": iso(end), "note": note})
    conn.execute("UPDATE incidents SET updated_at = ? WHERE id = ?", (at, iid))
    return wid


# -- reads -----------------------------------------------------------------------------------------

def _overrides(conn: sqlite3.Connection, rotation: str | None, oid: int | None, include_removed: bool) -> list[dict]:
    where, args = [], []
    if rotation is not None:
        where.append("rotation = ?")
        args.append(rotation)
    if oid is not None:
        where.append("id = ?")
        args.append(oid)
    if not include_removed:
        where.append("removed_at IS NULL")
    sql = ("SELECT id, rotation, start_at, end_at, person, replaces, created_by, created_at, removed_by, removed_at "
           "FROM overrides")
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY start_at, id"
    return [{"id": r[0], "rotation": r[1], "start": r[2], "end": r[3], "person": r[4], "replaces": r[5],
             "created_by": r[6], "created_at": r[7], "removed_by": r[8], "removed_at": r[9]}
            for r in conn.execute(sql, args)]


def _bookings(conn: sqlite3.Connection, customer: str | None, bid: int | None, include_cancelled: bool,
              ending_after: datetime | None) -> list[dict]:
    where, args = [], []
    if customer is not None:
        where.append("customer = ?")
        args.append(customer)
    if bid is not None:
        where.append("id = ?")
        args.append(bid)
    if not include_cancelled:
        where.append("cancelled_at IS NULL")
    if ending_after is not None:
        where.append("end_at > ?")
        args.append(iso(ending_after))
    sql = "SELECT id, customer, start_at, end_at, created_by, created_at, cancelled_by, cancelled_at FROM bookings"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY start_at, id"
    return [{"id": r[0], "customer": r[1], "start": r[2], "end": r[3], "created_by": r[4], "created_at": r[5],
             "cancelled_by": r[6], "cancelled_at": r[7]} for r in conn.execute(sql, args)]


def _work(conn: sqlite3.Connection, iid: int | None, wid: int | None) -> list[dict]:
    sql = ("SELECT id, incident_id, person, start_at, end_at, minutes, note, created_by, created_at FROM work_entries "
           "WHERE " + ("incident_id = ?" if iid is not None else "id = ?") + " ORDER BY id")
    return [{"id": r[0], "incident_id": r[1], "person": r[2], "start": r[3], "end": r[4], "minutes": r[5],
             "note": r[6], "created_by": r[7], "created_at": r[8]}
            for r in conn.execute(sql, (iid if iid is not None else wid,))]


_COLS = ("id, source, dedup_key, state, summary, severity, labels, alert_count, reopen_count, created_at, "
         "updated_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by")


def _incident_row(r: tuple) -> dict:
    return {"id": r[0], "source": r[1], "dedup_key": r[2], "state": r[3], "summary": r[4], "severity": r[5],
            "labels": json.loads(r[6]), "alert_count": r[7], "reopen_count": r[8], "created_at": r[9],
            "updated_at": r[10], "acknowledged_at": r[11], "acknowledged_by": r[12], "resolved_at": r[13],
            "resolved_by": r[14]}


def _list(conn: sqlite3.Connection, state: str | None, source: str | None, since: datetime | None,
          limit: int, before_id: int | None) -> list[dict]:
    where, args = [], []
    if state:
        where.append("state = ?")
        args.append(state)
    if source:
        where.append("source = ?")
        args.append(source)
    if since:
        if not state:  # through the (state, created_at) index
            where.append("state IN ('triggered', 'acknowledged', 'resolved')")
        where.append("created_at >= ?")
        args.append(iso(since))
    if before_id:
        where.append("id < ?")
        args.append(before_id)
    sql = f"SELECT {_COLS} FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return [_incident_row(r) for r in conn.execute(sql, args)]


def _get(conn: sqlite3.Connection, iid: int) -> dict | None:
    r = conn.execute(f"SELECT {_COLS} FROM incidents WHERE id = ?", (iid,)).fetchone()
    if r is None:
        return None
    inc = _incident_row(r)
    inc["alerts"] = [
        {"fingerprint": a[0], "status": a[1], "summary": a[2], "severity": a[3], "labels": json.loads(a[4]),
         "annotations": json.loads(a[5]), "details": json.loads(a[6]), "starts_at": a[7], "ends_at": a[8],
         "first_seen": a[9], "last_seen": a[10]}
        for a in conn.execute("SELECT fingerprint, status, summary, severity, labels, annotations, details, "
                              "starts_at, ends_at, first_seen, last_seen FROM alerts WHERE incident_id = ? "
                              "ORDER BY id", (iid,))]
    inc["timeline"] = [
        {"at": e[0], "kind": e[1], "actor": e[2], "data": json.loads(e[3])}
        for e in conn.execute("SELECT at, kind, actor, data FROM events WHERE incident_id = ? ORDER BY id", (iid,))]
    return inc
