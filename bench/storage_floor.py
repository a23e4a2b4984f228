"""The storage floor of the full node on SQLite: what pagerd's own statements cost with nothing around them,
set against the durable ceiling (b), side by side in one run.

    .venv/bin/python bench/storage_floor.py [--n 3200] [--rounds 3] [--seconds 5]

Issue 17 asks the full node for at least half of (b)'s single-alert webhooks per second on one core, i.e.
at most twice (b)'s CPU per request. This script measures how much of that budget the statements alone
take, so that a reader can tell a cost that code could cut from one that the schema fixes:

1. **Capture** (in process, on CPU 1): config/pagerd.example.yaml as the full node runs it (the dry-run
   notifier, SQLite `synchronous` as the example sets it), a manual clock on a Monday 10:00 in Amsterdam.
   After a warm-up, N single-alert Alertmanager webhooks (bench/single.lua's body, each a new incident)
   go through the real path (`alertmanager.parse`, `service.ingest.ingest`), 32 at a time as 32
   connections would, with an engine tick (`PagingEngine.tick`) after each 32, then ticks until every
   incident has its SMS page in the outbox (bench/run.py's check of (c)). Every call the store's writer
   thread makes on its connection (`execute` / `executemany`, with its parameters, transaction and
   savepoint statements included) is recorded; a copy of the database is taken before the first.
2. **Replay** (on CPU 1): the recorded calls, in order, on a copy of that database, through Python's
   sqlite3 module as the writer makes them (the same SQL text, so the same prepared-statement cache;
   result rows fetched), with nothing else: no parsing, no domain logic, no event loop, no threads. The
   row counts of every table after the replay must equal the captured database's. Beside it, the same
   for (b)'s statements (bench/baseline_durable.py: one `deliveries` row with the body and one `alerts`
   row per webhook, 32 webhooks per transaction, WAL, synchronous=FULL) over the same bodies. CPU of the
   replaying thread (user + system) per incident / webhook; --rounds rounds alternating which goes
   first, each on a fresh copy.
3. **The servers** (bench/run.py's (a), (b) and (c), one at a time, pinned to CPU 1, wrk on CPU 0,
   --seconds of single-alert load at 32 connections): CPU per request of the whole server process.

The closing line: the full node needs at least (a)'s CPU per request (aiohttp reading the request and
parsing its JSON, nothing less), the replay's statements without their commits, and its commits (the
node's commits per request under wrk, from its /metrics, each costing at least what one of (b)'s costs in
its replay: a pagerd commit writes pages of 13 tables, (b)'s of 2). What twice (b)'s CPU per request leaves
after those is the budget of all of pagerd's own code, set beside what that code takes in the capture (its
process CPU minus the replay's). Prints a markdown table and `BENCHJSON {...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import run as B  # noqa: E402
from baseline_durable import SCHEMA as DURABLE_SCHEMA  # noqa: E402
from baseline_durable import rows_of as durable_rows_of  # noqa: E402
from engine_cpu import ENV  # noqa: E402
from parse_alertmanager import batch_body  # noqa: E402

START = "2026-11-30T10:00:00+01:00"  # a Monday, office hours in Amsterdam
PER_COMMIT = 32  # as 32 connections give the writer
MAX_TICKS = 400


class Recorder:
    """The writer's connection, recording every statement it is given (while `on`)."""

    def __init__(self, conn: sqlite3.Connection, calls: list[tuple]) -> None:
        self._conn = conn
        self._calls = calls
        self.on = False

    def execute(self, sql: str, params=()):
        if self.on:
            self._calls.append(("one", sql, params))
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, seq):
        rows = list(seq)
        if self.on:
            self._calls.append(("many", sql, rows))
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


def bodies(n: int, run: str) -> list[bytes]:
    return [batch_body(1, f"{run}-{i}") for i in range(n)]


def table_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(names)}
    finally:
        conn.close()


def snapshot(src: Path, dst: Path) -> None:
    """A consistent copy of a WAL database (the backup API), the writer idle."""
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(dst)
    try:
        s.backup(d)
    finally:
        d.close()
        s.close()


async def capture(tmp: Path, load: list[bytes]) -> dict:
    """Run these bodies (each a new incident) through pagerd's ingest and engine in process; record the
    writer's calls."""
    from pager import config as config_mod
    from pager.app import make_notifier, policy
    from pager.clock import ManualClock
    from pager.domain.alert import Source
    from pager.observe import logging as plog
    from pager.observe.metrics import Metrics
    from pager.observe.redact import Redactor
    from pager.service.ingest import ingest
    from pager.service.paging import PagingEngine
    from pager.service.schedule import Schedule
    from pager.sources import alertmanager
    from pager.storage.sqlite import SqliteStore

    cfg = config_mod.load(str(B.CONFIG), env=dict(ENV, PAGERD_DB=str(tmp / "pagerd.db")))
    devnull = open(os.devnull, "w")  # noqa: ASYNC230 (before the store opens; nothing else runs)
    plog.setup(cfg.logging.level, "json", stream=devnull, redactor=Redactor.of(cfg))
    clock = ManualClock(datetime.fromisoformat(START))
    calls: list[tuple] = []
    recorders: list[Recorder] = []

    class RecordingStore(SqliteStore):
        def _writer_connection(self, conn):
            if not isinstance(conn, Recorder):
                conn = Recorder(conn, calls)
                recorders.append(conn)
            return conn

    db = tmp / "pagerd.db"
    store = RecordingStore(str(db), policy(cfg), clock=clock, synchronous=cfg.storage.sqlite.synchronous)
    await store.open()
    metrics = Metrics()
    schedule = Schedule(cfg)
    engine = PagingEngine(store, clock, metrics, make_notifier(cfg, clock), lambda: (cfg, schedule))
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    async def store_one(body: bytes) -> None:
        alerts, facts = alertmanager.parse(body)
        await ingest(store, metrics, clock, Source.ALERTMANAGER, "application/json", body, alerts, facts)

    def unpaged() -> int:  # incidents without their SMS page in the outbox: bench/run.py's check of (c)
        return ro.execute(B.UNPAGED_SQL).fetchone()[0]

    try:
        await store.recover_sending(clock.now())
        for _ in range(3):  # warm-up: hand-over notices, the plan, imports
            await engine.tick()
        for b in bodies(64, "warm"):
            await store_one(b)
        for _ in range(20):
            if not unpaged():
                break
            await engine.tick()
        if unpaged():
            raise SystemExit("storage_floor: the warm-up incidents were not paged")
        snapshot(db, tmp / "before.db")
        before = table_counts(tmp / "before.db")
        for r in recorders:
            r.on = True
        t0 = time.process_time()
        n = len(load)
        for start in range(0, n, PER_COMMIT):
            await asyncio.gather(*(store_one(b) for b in load[start : start + PER_COMMIT]))
            await engine.tick()
        ticks = 0
        while unpaged() and ticks < MAX_TICKS:
            await engine.tick()
            ticks += 1
        cpu = time.process_time() - t0
        for r in recorders:
            r.on = False
        left = unpaged()
        if left:
            raise SystemExit(f"storage_floor: {left} of {n} incidents not paged after {ticks} more ticks")
    finally:
        ro.close()
        await store.close()
        devnull.close()
    after = table_counts(db)
    return {
        "calls": calls,
        "synchronous": cfg.storage.sqlite.synchronous,
        "process_cpu_us": cpu / n * 1e6,
        "rows_added": {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0)},
        "after": after,
    }


TX_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def replay(db: Path, calls: list[tuple], synchronous: str) -> tuple[float, float]:
    """The calls on `db` through a connection with the store's settings. Returns the CPU seconds of this
    thread for all of them and, of those, for the transaction statements (BEGIN, COMMIT, savepoints): a
    commit writes every page the transaction changed to the WAL and syncs it, so its cost depends on how
    many jobs share it, which an in-process capture does not reproduce (the report shows both)."""
    from pager.storage.sqlite import _connect

    conn = _connect(str(db), synchronous=synchronous)
    clock = time.thread_time
    try:
        total = tx = 0.0
        for kind, sql, params in calls:
            t0 = clock()
            if kind == "one":
                conn.execute(sql, params).fetchall()
            else:
                conn.executemany(sql, params)
            dt = clock() - t0
            total += dt
            if sql.startswith(TX_CONTROL):
                tx += dt
        return total, tx
    finally:
        conn.close()


def durable_calls(load: list[bytes]) -> list[tuple]:
    """bench/baseline_durable.py's statements for these bodies, PER_COMMIT webhooks per transaction."""
    calls: list[tuple] = []
    for start in range(0, len(load), PER_COMMIT):
        calls.append(("one", "BEGIN IMMEDIATE", ()))
        for did, body in enumerate(load[start : start + PER_COMMIT], start + 1):  # ids 1, 2, ...: a new table
            group_key, alerts = durable_rows_of(body)
            calls.append(("one", "INSERT INTO deliveries (group_key, body) VALUES (?, ?)", (group_key, body)))
            calls.append(
                (
                    "many",
                    "INSERT INTO alerts (delivery_id, group_key, fingerprint, status, labels) VALUES (?, ?, ?, ?, ?)",
                    [(did, group_key, *a) for a in alerts],
                )
            )
        calls.append(("one", "COMMIT", ()))
    return calls


def durable_db(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(DURABLE_SCHEMA)
    conn.close()


def commits(server: B.Server) -> float | None:
    """The node's group commits so far (its /metrics), or None when it does not say."""
    import urllib.request

    req = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/metrics", headers={"Authorization": f"Bearer {B.ADMIN}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("pagerd_store_commit_batch_size_count"):
            return float(line.split()[-1])
    return None


def server_cpu(seconds: float) -> dict[str, dict]:
    """(a), (b) and (c) of bench/run.py, one at a time: CPU per single-alert request at 32 connections."""
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="floor-servers-") as t:
        servers = {s.key: s for s in B.make_servers(Path(t))}
        for key in ("a", "b", "c"):
            s = servers[key]
            s.start()
            try:
                res: dict = {"runs": []}
                B.wrk(s, res, "single.lua", 2, f"warm{key}", "warmup")
                c0 = commits(s) if key == "c" else None
                r = B.wrk(s, res, "single.lua", seconds, f"floor{key}", "single")
                c1 = commits(s) if key == "c" else None
                out[key] = {
                    "rps": r["rps_2xx"],
                    "cpu_us": r["server_cpu_s"] / max(1, r["ok_2xx"]) * 1e6,
                    "other_load": r["other_load"],
                    # jobs of the webhooks and of the engine share commits; the wrk run's commits per 2xx
                    "commits_per_request": (c1 - c0) / max(1, r["ok_2xx"]) if c0 is not None and c1 else None,
                }
            finally:
                s.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--cpu", default=B.SERVER_CPU)
    args = ap.parse_args()
    B.OUT.mkdir(parents=True, exist_ok=True)
    la0 = B.loadavg()
    servers = server_cpu(args.seconds)
    os.sched_setaffinity(0, {int(args.cpu)})
    with tempfile.TemporaryDirectory(prefix="floor-") as t:
        tmp = Path(t)
        load = bodies(args.n, "floor")
        cap = asyncio.run(capture(tmp, load))
        sync = cap["synchronous"]
        dcalls = durable_calls(load)
        durable_db(tmp / "durable-empty.db")
        pagerd_us: list[float] = []  # all statements, µs per incident
        durable_us: list[float] = []
        pagerd_tx: list[float] = []  # of them BEGIN, COMMIT and savepoints
        durable_tx: list[float] = []
        for rnd in range(args.rounds):
            order = ("pagerd", "durable") if rnd % 2 == 0 else ("durable", "pagerd")
            for which in order:
                db = tmp / f"replay-{which}-{rnd}.db"
                if which == "pagerd":
                    shutil.copy(tmp / "before.db", db)
                    total, tx = replay(db, cap["calls"], sync)
                    pagerd_us.append(total / args.n * 1e6)
                    pagerd_tx.append(tx / args.n * 1e6)
                    counts = table_counts(db)
                    if counts != cap["after"]:
                        diff = {
                            k: (counts.get(k), cap["after"].get(k))
                            for k in cap["after"]
                            if counts.get(k) != cap["after"].get(k)
                        }
                        raise SystemExit(f"storage_floor: the replay's rows differ from the capture's: {diff}")
                else:
                    shutil.copy(tmp / "durable-empty.db", db)
                    total, tx = replay(db, dcalls, "FULL")
                    durable_us.append(total / args.n * 1e6)
                    durable_tx.append(tx / args.n * 1e6)
                    if table_counts(db)["deliveries"] != args.n:
                        raise SystemExit("storage_floor: the durable replay did not store every webhook")
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
    la1 = B.loadavg()
    med = statistics.median
    a, b, c = (servers[k]["cpu_us"] for k in ("a", "b", "c"))
    p_all, p_tx, d_all, d_tx = med(pagerd_us), med(pagerd_tx), med(durable_us), med(durable_tx)
    p_st, d_st = p_all - p_tx, d_all - d_tx
    p_commits = sum(1 for _, sql, _ in cap["calls"] if sql == "COMMIT")
    stmts = sum(1 if k == "one" else len(p) for k, sql, p in cap["calls"] if not sql.startswith(TX_CONTROL))
    res = {
        "n": args.n,
        "rounds": args.rounds,
        "loadavg_start": la0,
        "loadavg_end": la1,
        "servers": servers,
        "pagerd_replay_us": pagerd_us,
        "pagerd_replay_tx_us": pagerd_tx,
        "durable_replay_us": durable_us,
        "durable_replay_tx_us": durable_tx,
        "pagerd_statements_per_incident": stmts / args.n,
        "pagerd_commits_per_incident": p_commits / args.n,
        "durable_commits_per_webhook": 1 / PER_COMMIT,
        "rows_added_per_incident": {k: v / args.n for k, v in sorted(cap["rows_added"].items())},
        "capture_process_cpu_us": cap["process_cpu_us"],
        "budget_us": 2 * b,
        "floor_us": a + p_st,
    }
    cpr = servers["c"]["commits_per_request"]
    # a commit of pagerd's writes at least the pages one of (b)'s does (13 tables against 2): the node's
    # commits per request under wrk at (b)'s CPU per commit is less than its commits cost
    commit_floor = (cpr or 0.0) * d_tx * PER_COMMIT
    left = 2 * b - a - p_st - commit_floor  # what half of (b) leaves for pagerd's own code
    code = cap["process_cpu_us"] - p_all  # pagerd's code in the capture: its CPU without the statements
    res.update(left_us=left, code_us=code, commit_floor_us=commit_floor)
    rounds = lambda xs: " / ".join(f"{x:.0f}" for x in xs)  # noqa: E731
    print()
    print(f"load average at start {la0}, at end {la1}; {args.n} incidents; {args.rounds} replay rounds")
    print()
    print("| per single-alert request | (a) parse-only | (b) durable | (c) pagerd full node |")
    print("|---|---:|---:|---:|")
    print(f"| server CPU at 32 connections (wrk, {args.seconds:.0f} s) | {a:.0f} µs | {b:.0f} µs | {c:.0f} µs |")
    print(f"| webhooks/s | {servers['a']['rps']:,.0f} | {servers['b']['rps']:,.0f} | {servers['c']['rps']:,.0f} |")
    print(
        f"| its statements replayed alone, BEGIN/COMMIT/savepoints apart (median of {args.rounds}) | – "
        f"| {d_st:.1f} µs | {p_st:.1f} µs |"
    )
    print(
        f"| its BEGIN/COMMIT/savepoints in the replay (commits per incident: {1 / PER_COMMIT:.3f} / "
        f"{p_commits / args.n:.3f}; in the node under wrk: {f'{cpr:.3f}' if cpr else 'not read'}) | – "
        f"| {d_tx:.1f} µs | {p_tx:.1f} µs |"
    )
    print(f"| statements per incident (executemany rows counted) | – | 2 | {stmts / args.n:.2f} |")
    print()
    print(
        f"replay rounds, all statements (µs per webhook / incident): (b) {rounds(durable_us)}; pagerd {rounds(pagerd_us)}"
    )
    print("rows added per incident: " + ", ".join(f"{k} {v:.2f}" for k, v in res["rows_added_per_incident"].items()))
    print()
    print(
        f"50% of (b) allows the full node 2 × {b:.0f} = {2 * b:.0f} µs of CPU per request. Of it, aiohttp reading the "
        f"request and parsing its JSON takes (a)'s {a:.0f} µs, pagerd's statements alone (no commits) {p_st:.0f} µs, "
        f"and its commits at least {commit_floor:.0f} µs ({cpr or 0:.3f} commits per request in the node under wrk, "
        f"each at least one of (b)'s, {d_tx * PER_COMMIT:.0f} µs in the replay). That leaves {left:.0f} µs for all "
        f"of pagerd's own code: validation, the incident's decisions, the ticket, the engine, the hand-offs to the "
        f"writer thread, which take {code:.0f} µs per incident here (the capture's CPU, ingest and engine in "
        f"process without HTTP, {cap['process_cpu_us']:.0f} µs, minus its statements' {p_all:.0f} µs)."
    )
    print("BENCHJSON " + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
