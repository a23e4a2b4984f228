"""Baseline (b), the durable ceiling: read + JSON-parse the body, then group-committed SQLite inserts.

    python bench/baseline_durable.py --listen 127.0.0.1:PORT --db PATH [--synchronous FULL]

The same durability contract as pagerd: SQLite in WAL mode with synchronous=FULL (pagerd's
default), one writer thread, group commit (the writer takes everything queued, up to MAX_BATCH,
inserts it in one transaction and commits once; the next commit starts as soon as the previous
one returns), and every request is answered only after the commit that holds its rows.

The writer thread runs under the same scheduling policy as pagerd's (SCHED_BATCH: waking up does
not preempt the event loop; see pager/storage/sqlite.py `yield_on_wakeup`), so that both servers get
the same treatment from the scheduler. Measured on this baseline: no change either way (its writer
does little per request); `--writer-sched other` runs it under the default policy.

What is stored per request: the raw body in `deliveries` and one row per alert in `alerts`
(group key, fingerprint, status, labels as JSON). No validation, no dedup, no incident logic:
the least a durable receiver of the same bodies can do.
`GET /healthz` answers 200. SIGTERM/SIGINT stop it (the writer finishes its queue first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import sqlite3
import threading

from aiohttp import web

MAX_BATCH = 2000
_STOP = object()

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY, group_key TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, delivery_id INTEGER NOT NULL, group_key TEXT NOT NULL,
                                   fingerprint TEXT NOT NULL, status TEXT NOT NULL, labels TEXT NOT NULL);
"""


class Writer:
    def __init__(self, path: str, synchronous: str, loop: asyncio.AbstractEventLoop, sched_batch: bool) -> None:
        self.loop = loop
        self.sched_batch = sched_batch
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript(SCHEMA)
        self.thread = threading.Thread(target=self._run, args=(conn,), name="bench-writer", daemon=True)
        self.thread.start()

    def _run(self, conn: sqlite3.Connection) -> None:
        if self.sched_batch and hasattr(os, "sched_setscheduler"):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))  # 0: this thread
        stop = False
        while not stop:
            first = self.q.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            error: BaseException | None = None
            try:
                conn.execute("BEGIN IMMEDIATE")
                for job in batch:
                    group_key, body, alerts = job[0], job[1], job[2]
                    did = conn.execute(
                        "INSERT INTO deliveries (group_key, body) VALUES (?, ?)", (group_key, body)
                    ).lastrowid
                    conn.executemany(
                        "INSERT INTO alerts (delivery_id, group_key, fingerprint, status, labels) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(did, group_key, *a) for a in alerts],
                    )
                conn.execute("COMMIT")
            except Exception as exc:
                error = exc
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            self.loop.call_soon_threadsafe(_settle, [job[3] for job in batch], error)
        conn.close()

    async def write(self, group_key: str, body: bytes, alerts: list[tuple]) -> None:
        fut = self.loop.create_future()
        self.q.put((group_key, body, alerts, fut))
        await fut

    def stop(self) -> None:
        self.q.put(_STOP)
        self.thread.join(30)


def _settle(futures: list[asyncio.Future], error: BaseException | None) -> None:
    for fut in futures:
        if fut.done():
            continue
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(None)


WRITER = web.AppKey("writer", Writer)


def rows_of(body: bytes) -> tuple[str, list[tuple]]:
    """What a webhook body is stored as: its group key, and (fingerprint, status, labels as JSON) per alert."""
    hook = json.loads(body)
    alerts = [
        (a.get("fingerprint", ""), a["status"], json.dumps(a["labels"], separators=(",", ":"))) for a in hook["alerts"]
    ]
    return hook["groupKey"], alerts


async def alertmanager(request: web.Request) -> web.Response:
    body = await request.read()
    group_key, alerts = rows_of(body)
    await request.app[WRITER].write(group_key, body, alerts)
    return web.json_response({"status": "ok", "alerts": len(alerts)})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:8082")
    ap.add_argument("--db", required=True)
    ap.add_argument("--synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL", "EXTRA"])
    ap.add_argument(
        "--writer-sched",
        default="batch",
        choices=["batch", "other"],
        help="scheduling policy of the writer thread (batch: as pagerd's)",
    )
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")

    async def start_writer(app: web.Application) -> None:
        app[WRITER] = Writer(args.db, args.synchronous, asyncio.get_running_loop(), args.writer_sched == "batch")

    async def stop_writer(app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, app[WRITER].stop)

    app = web.Application(client_max_size=1 << 20)
    app.on_startup.append(start_writer)
    app.on_cleanup.append(stop_writer)
    app.router.add_post("/api/v1/alerts/alertmanager", alertmanager)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=host, port=int(port), access_log=None, print=None, backlog=2048)


if __name__ == "__main__":
    main()
