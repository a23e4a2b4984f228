"""Engine CPU per new incident: what the paging engine's ticks cost for each new single-alert incident.

    .venv/bin/python bench/engine_cpu.py [--n 2000] [--single 200] [--rounds 3] [--before REV]

In process, on a temp copy of config/pagerd.example.yaml (paging engine on, the dry-run notifier, SQLite
`synchronous` as the example sets it, logging at its level into /dev/null through pagerd's own setup),
with the two changes bench/paging_latency.py makes (contact rules SMS only, throttles of 100,000 per 1m:
no throttle holds a page back), on a manual clock standing at a Monday 10:00 in Amsterdam:

  - batch: N single-alert Alertmanager webhooks (each its own group, label customer=agency: route
    agency/infra) stored through the real ingest path (pager.sources.alertmanager.parse and
    pager.service.ingest.ingest), then engine ticks (`PagingEngine.tick`) until every one of them is paged
    (its SMS out of the outbox, `sent_at` set); bounded to 200 ticks;
  - single: the idle path, one incident at a time: store one, run one tick (it must page it), --single times.

With --open N, N more incidents are stored, paged and left open (triggered, as in a storm that nobody
acknowledges) before either mode is measured: what a tick costs while they wait.

Reported per mode: the engine's CPU per new incident (`time.process_time()` of the whole process, all
threads: the event loop, the store's writer and readers; taken around the ticks only, the ingest is
outside; of it, the event loop's thread alone, `time.thread_time()`: the rest is the store's threads and
the switches between them), and per tick the store's commits (the writer's group commits, `on_commit`) and reads (the store's
`_read` calls, its reader executor hops). A tick with nothing left to do is not counted.

With --before REV the same measurement also runs on the tree of git revision REV (extracted with
`git archive` into bench/out/, run with this venv's python and PYTHONPATH at that tree: the comparison
assumes the dependencies did not change), alternating which tree goes first over --rounds rounds, each
round a fresh process and database. Prints a markdown table and `BENCHJSON {...}`; the load average
(`uptime`) at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CONFIG = ROOT / "config" / "pagerd.example.yaml"
FIRING = ROOT / "tests" / "testdata" / "alertmanager" / "firing.json"
START = "2026-01-05T10:00:00+01:00"  # a Monday, office hours in Amsterdam
MAX_TICKS = 200
ENV = {
    "PAGERD_SIGNING_KEY": "bench-signing-key-0123456789abcdef",
    "PAGERD_ADMIN_TOKEN": "bench-admin-token-0123456789",
    "PAGERD_WEBHOOK_TOKEN": "bench-webhook-token-0123456789",
    "PAGERD_NOTIFIER": "dry_run",
}

sys.path.insert(0, str(BENCH))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


# -- one measurement, in its own process (the tree under test on PYTHONPATH) --------------------------


def body_of(i: int, run: str, now: str) -> bytes:
    doc = json.loads(FIRING.read_text())
    labels = {"alertname": "EngineCpu", "severity": "critical", "customer": "agency", "instance": f"h{i}"}
    alert = dict(doc["alerts"][0])
    alert.update(
        labels=labels,
        annotations={"summary": f"EngineCpu h{i}"},
        startsAt=now,
        fingerprint=f"{run}{i:012x}"[-16:],
    )
    doc.update(
        groupKey=f'{{}}:{{bench="{run}-{i}"}}',
        groupLabels={"alertname": "EngineCpu"},
        commonLabels=labels,
        commonAnnotations={"summary": f"EngineCpu h{i}"},
        alerts=[alert],
        status="firing",
    )
    return json.dumps(doc).encode()


async def measure(mode: str, n: int, log_stream, open_before: int = 0) -> dict:
    import sqlite3
    from datetime import datetime

    from paging_latency import write_config

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

    with tempfile.TemporaryDirectory(prefix="engine-cpu-") as tmp:
        cfg_path = Path(tmp) / "pagerd.yaml"
        write_config(cfg_path)
        cfg = config_mod.load(str(cfg_path), env=ENV)
        plog.setup(cfg.logging.level, "json", stream=log_stream, redactor=Redactor.of(cfg))
        clock = ManualClock(datetime.fromisoformat(START))
        commits = [0]

        def on_commit(jobs: int, seconds: float) -> None:
            commits[0] += 1

        db = Path(tmp) / "pagerd.db"
        store = SqliteStore(
            str(db), policy(cfg), clock=clock, synchronous=cfg.storage.sqlite.synchronous, on_commit=on_commit
        )
        await store.open()
        reads = [0]
        inner_read = store._read

        async def counted_read(fn, *args):
            reads[0] += 1
            return await inner_read(fn, *args)

        store._read = counted_read  # type: ignore[method-assign]
        metrics = Metrics()
        schedule = Schedule(cfg)
        engine = PagingEngine(store, clock, metrics, make_notifier(cfg, clock), lambda: (cfg, schedule))
        now = clock.now().isoformat().replace("+00:00", "Z")
        ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

        async def store_one(i: int, run: str) -> int:
            body = body_of(i, run, now)
            alerts, facts = alertmanager.parse(body)
            result = await ingest(store, metrics, clock, Source.ALERTMANAGER, "application/json", body, alerts, facts)
            return result.incident_ids[0]

        def unpaged(ids: list[int]) -> int:
            q = (
                "SELECT count(*) FROM json_each(?) j WHERE NOT EXISTS (SELECT 1 FROM outbox o "
                "WHERE o.incident_id = j.value AND o.sent_at IS NOT NULL)"
            )
            return ro.execute(q, (json.dumps(ids),)).fetchone()[0]

        async def tick() -> tuple[float, int, int, float]:
            c0, r0 = commits[0], reads[0]
            t0, m0 = time.process_time(), time.thread_time()
            await engine.tick()
            return time.process_time() - t0, commits[0] - c0, reads[0] - r0, time.thread_time() - m0

        try:
            await store.recover_sending(clock.now())
            for _ in range(3):  # warm-up: the first ticks' hand-over notices, the plan, imports
                await engine.tick()
            warm = [await store_one(i, "w") for i in range(20)]
            for _ in range(3):
                await engine.tick()
            if unpaged(warm):
                raise SystemExit("engine_cpu: the warm-up incidents were not paged")
            if open_before:  # a storm that nobody acknowledges: incidents stored, paged and left open
                kept: list[int] = []
                for start in range(0, open_before, 100):
                    kept += await asyncio.gather(
                        *(store_one(i, "o") for i in range(start, min(open_before, start + 100)))
                    )
                for _ in range(MAX_TICKS):
                    if not unpaged(kept):
                        break
                    await engine.tick()
                if unpaged(kept):
                    raise SystemExit("engine_cpu: the open incidents were not paged")
            ticks: list[tuple[float, int, int, float]] = []
            if mode == "batch":
                ids: list[int] = []
                for start in range(0, n, 100):  # 100 webhooks at a time (they share group commits)
                    ids += await asyncio.gather(*(store_one(i, "b") for i in range(start, min(n, start + 100))))
                for _ in range(MAX_TICKS):
                    if not unpaged(ids):
                        break
                    ticks.append(await tick())
                left = unpaged(ids)
            else:
                ids = []
                for i in range(n):
                    ids.append(await store_one(i, "s"))
                    ticks.append(await tick())
                left = unpaged(ids)
            cpu = sum(t[0] for t in ticks)
            return {
                "mode": mode,
                "open_before": open_before,
                "incidents": len(ids),
                "unpaged": left,
                "ticks": len(ticks),
                "cpu_s": cpu,
                "us_per_incident": cpu / len(ids) * 1e6,
                "main_us_per_incident": sum(t[3] for t in ticks) / len(ids) * 1e6,
                "commits_per_tick": sum(t[1] for t in ticks) / len(ticks),
                "reads_per_tick": sum(t[2] for t in ticks) / len(ticks),
                "tick_cpu_ms_p50": statistics.median(t[0] for t in ticks) * 1e3,
            }
        finally:
            ro.close()
            await store.close()


# -- the driver: rounds alternating the trees -------------------------------------------------------


def before_tree(rev: str) -> tuple[Path, str]:
    """The tree of git revision `rev`, extracted into bench/out/ (kept there by commit)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    tree = BENCH / "out" / f"before-{commit[:12]}"
    if not (tree / "pyproject.toml").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True, timeout=120)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True, timeout=120)
    return tree, commit


def run_worker(tree: Path, mode: str, n: int, cpu: str | None, open_before: int = 0) -> dict:
    return run_in_tree(tree, __file__, ["--worker", mode, "--n", str(n), "--open", str(open_before)], cpu)


def run_in_tree(tree: Path, script: str, args: list[str], cpu: str | None) -> dict:
    """`script args` run by this python with the tree `tree` on PYTHONPATH (pinned to `cpu` with taskset):
    the JSON of its `RESULT ` line."""
    argv = [sys.executable, script, *args]
    if cpu is not None:
        argv = ["taskset", "-c", cpu, *argv]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    name = Path(script).stem
    raise SystemExit(f"{name}: the worker {args} on {tree} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def table(rows: list[dict]) -> str:
    out = [
        "| tree | round | mode | incidents | paged | ticks | engine CPU per incident (of it the event loop's) "
        "| commits per tick | reads per tick | tick CPU p50 |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['tree']} | {r['round']} | {r['mode']} | {r['incidents']} | {r['incidents'] - r['unpaged']} "
            f"| {r['ticks']} | {r['us_per_incident']:.0f} µs ({r['main_us_per_incident']:.0f} µs) "
            f"| {r['commits_per_tick']:.1f} "
            f"| {r['reads_per_tick']:.1f} | {r['tick_cpu_ms_p50']:.2f} ms |"
        )
    return "\n".join(out)


def summary(rows: list[dict]) -> str:
    out = ["| tree | mode | rounds | engine CPU per incident, median (min–max) | commits / reads per tick |"]
    out.append("|---|---|---:|---:|---:|")
    for tree in dict.fromkeys(r["tree"] for r in rows):
        for mode in dict.fromkeys(r["mode"] for r in rows):
            rs = [r for r in rows if r["tree"] == tree and r["mode"] == mode]
            us = [r["us_per_incident"] for r in rs]
            out.append(
                f"| {tree} | {mode} | {len(rs)} | {statistics.median(us):.0f} µs ({min(us):.0f}–{max(us):.0f}) "
                f"| {statistics.median(r['commits_per_tick'] for r in rs):.1f} / "
                f"{statistics.median(r['reads_per_tick'] for r in rs):.1f} |"
            )
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="incidents of the batch mode (default 2000)")
    ap.add_argument("--single", type=int, default=200, help="incidents of the single mode (0: skip it)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", metavar="REV", help="also measure the tree of git revision REV, alternating")
    ap.add_argument("--cpu", default="1" if (os.cpu_count() or 1) >= 2 else None, help="pin the worker (taskset)")
    ap.add_argument(
        "--open",
        type=int,
        default=0,
        help="incidents stored, paged and left open before the measured ones (a storm nobody acknowledges)",
    )
    ap.add_argument("--worker", choices=("batch", "single"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        with open(os.devnull, "w") as log_stream:
            print("RESULT " + json.dumps(asyncio.run(measure(args.worker, args.n, log_stream, args.open))), flush=True)
        return 0
    if (
        not 1 <= args.n <= 100_000
        or not 0 <= args.single <= 10_000
        or not 1 <= args.rounds <= 20
        or not 0 <= args.open <= 100_000
    ):
        ap.error("--n 1..100000, --single 0..10000, --rounds 1..20, --open 0..100000")
    trees = {"this tree": ROOT}
    if args.before:
        tree, commit = before_tree(args.before)
        trees[f"before {commit[:12]}"] = tree
    la0 = uptime()
    print(f"start: {la0}; incidents left open before the measured ones (--open): {args.open}", flush=True)
    modes = [("batch", args.n)] + ([("single", args.single)] if args.single else [])
    rows: list[dict] = []
    names = list(trees)
    for rnd in range(1, args.rounds + 1):
        order = names if rnd % 2 else names[::-1]
        for mode, n in modes:
            for name in order:
                r = run_worker(trees[name], mode, n, args.cpu, args.open)
                rows.append({"tree": name, "round": rnd, **r})
                print(
                    f"round {rnd} {name} {mode}: {r['us_per_incident']:.0f} µs/incident, "
                    f"{r['commits_per_tick']:.1f} commits and {r['reads_per_tick']:.1f} reads per tick, "
                    f"{r['ticks']} ticks, unpaged {r['unpaged']}  ({uptime().split('load average: ')[-1]})",
                    flush=True,
                )
    la1 = uptime()
    print(f"end: {la1}\n")
    print(table(rows) + "\n\n" + summary(rows))
    # the figure of make bench's table (bench/run.py): this tree's batch mode, the median of its rounds
    batch = [r["us_per_incident"] for r in rows if r["tree"] == "this tree" and r["mode"] == "batch"]
    out = {"us_per_incident": statistics.median(batch), "rows": rows, "uptime_start": la0, "uptime_end": la1}
    print("BENCHJSON " + json.dumps(out))
    return 1 if any(r["unpaged"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
