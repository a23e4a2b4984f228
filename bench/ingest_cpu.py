"""Store CPU per new incident: what the durable ingest of a single-alert webhook costs, on SQLite.

    .venv/bin/python bench/ingest_cpu.py [--n 20000] [--concurrency 32] [--rounds 3] [--before REV]

In process, on a fresh SQLite database of the example config's settings (`synchronous` as
config/pagerd.example.yaml sets it): N single-alert Alertmanager webhooks, each a new incident (its own
group and fingerprint; bench/batch.lua's body with one alert, `parse_alertmanager.batch_body`), parsed beforehand (`pager.sources.alertmanager.parse`), then stored through the
store's port (`SqliteStore.ingest`, the call the webhook handler awaits) by --concurrency tasks at once,
as that many connections would, so the writer thread group-commits them as it does under load.

Reported per delivery: the CPU of the whole process (`time.process_time()`), of it the writer thread's
(its own CPU clock, `time.pthread_getcpuclockid`) and the event loop's (`time.thread_time()`), and the
writer's commits (mean deliveries per commit). Parsing is outside the measurement; the HTTP edge and the
paging engine are not in it (bench/run.py and bench/engine_cpu.py measure those).

With --before REV the same measurement also runs on the tree of git revision REV (extracted with
`git archive` into bench/out/, run with this venv's python and PYTHONPATH at that tree: the comparison
assumes the dependencies did not change), alternating which tree goes first over --rounds rounds, each
round a fresh process and database, pinned with --cpu. Prints a markdown table and `BENCHJSON {...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from engine_cpu import ENV, ROOT, before_tree, run_in_tree, uptime  # noqa: E402
from parse_alertmanager import batch_body  # noqa: E402

WARMUP = 500


async def measure(n: int, concurrency: int) -> dict:
    from datetime import datetime, timezone

    from pager import config as config_mod
    from pager.app import policy
    from pager.clock import ManualClock
    from pager.domain.alert import Source
    from pager.service.ingest import group_of
    from pager.sources import alertmanager
    from pager.storage.port import Delivery
    from pager.storage.sqlite import SqliteStore

    cfg = config_mod.load(str(ROOT / "config" / "pagerd.example.yaml"), env=ENV)
    clock = ManualClock(datetime(2026, 12, 7, 9, tzinfo=timezone.utc))
    deliveries = []
    for i in range(WARMUP + n):
        body = batch_body(1, f"ingest-cpu-{i}")  # a new incident each: its own group and fingerprint
        alerts, facts = alertmanager.parse(body)
        deliveries.append(
            Delivery(Source.ALERTMANAGER, "application/json", body, tuple(alerts), clock.now(), facts, group_of(facts))
        )
    commits = [0, 0]

    def on_commit(jobs: int, seconds: float) -> None:
        commits[0] += 1
        commits[1] += jobs

    with tempfile.TemporaryDirectory(prefix="ingest-cpu-") as tmp:
        store = SqliteStore(
            str(Path(tmp) / "pagerd.db"),
            policy(cfg),
            clock=clock,
            synchronous=cfg.storage.sqlite.synchronous,
            on_commit=on_commit,
        )
        await store.open()
        try:
            writer = next(t for t in threading.enumerate() if t.name == "pagerd-writer")
            writer_clock = time.pthread_getcpuclockid(writer.ident)

            async def feed(items: list) -> None:
                queue = iter(items)

                async def worker() -> None:
                    for d in queue:
                        result = await store.ingest(d)
                        assert len(result.incident_ids) == 1, result

                await asyncio.gather(*(worker() for _ in range(concurrency)))

            await feed(deliveries[:WARMUP])
            commits[:] = [0, 0]
            w0, p0, m0, t0 = time.clock_gettime(writer_clock), time.process_time(), time.thread_time(), time.time()
            await feed(deliveries[WARMUP:])
            w1, p1, m1, t1 = time.clock_gettime(writer_clock), time.process_time(), time.thread_time(), time.time()
        finally:
            await store.close()
    return {
        "deliveries": n,
        "us_per_delivery": (p1 - p0) / n * 1e6,
        "writer_us": (w1 - w0) / n * 1e6,
        "loop_us": (m1 - m0) / n * 1e6,
        "per_commit": commits[1] / max(1, commits[0]),
        "wall_us": (t1 - t0) / n * 1e6,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="deliveries measured (default 20000)")
    ap.add_argument("--concurrency", type=int, default=32, help="deliveries in flight at once (default 32)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", metavar="REV", help="also measure the tree of git revision REV, alternating")
    ap.add_argument("--cpu", default="1" if (os.cpu_count() or 1) >= 2 else None, help="pin the worker (taskset)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not 1 <= args.n <= 200_000 or not 1 <= args.concurrency <= 1000 or not 1 <= args.rounds <= 20:
        ap.error("--n 1..200000, --concurrency 1..1000, --rounds 1..20")
    if args.worker:
        print("RESULT " + json.dumps(asyncio.run(measure(args.n, args.concurrency))), flush=True)
        return 0
    trees = {"this tree": ROOT}
    if args.before:
        tree, commit = before_tree(args.before)
        trees[f"before {commit[:12]}"] = tree
    la0 = uptime()
    print(f"start: {la0}", flush=True)
    rows: list[dict] = []
    names = list(trees)
    for rnd in range(1, args.rounds + 1):
        for name in names if rnd % 2 else names[::-1]:
            r = run_in_tree(
                trees[name],
                __file__,
                ["--worker", "--n", str(args.n), "--concurrency", str(args.concurrency)],
                args.cpu,
            )
            rows.append({"tree": name, "round": rnd, **r})
            print(
                f"round {rnd} {name}: {r['us_per_delivery']:.1f} µs/delivery (writer {r['writer_us']:.1f}, "
                f"event loop {r['loop_us']:.1f}), {r['per_commit']:.1f} per commit "
                f"({uptime().split('load average: ')[-1]})",
                flush=True,
            )
    la1 = uptime()
    print(f"end: {la1}\n")
    print("| tree | rounds | CPU per delivery, median (min–max) | writer thread | event loop | deliveries per commit |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        rs = [r for r in rows if r["tree"] == name]
        us = [r["us_per_delivery"] for r in rs]
        print(
            f"| {name} | {len(rs)} | {statistics.median(us):.1f} µs ({min(us):.1f}–{max(us):.1f}) "
            f"| {statistics.median(r['writer_us'] for r in rs):.1f} µs | {statistics.median(r['loop_us'] for r in rs):.1f} µs "
            f"| {statistics.median(r['per_commit'] for r in rs):.1f} |"
        )
    mine = [r["us_per_delivery"] for r in rows if r["tree"] == "this tree"]
    print("BENCHJSON " + json.dumps({"us_per_delivery": statistics.median(mine), "rows": rows, "uptime": [la0, la1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
