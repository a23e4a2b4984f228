"""CPU per alert of `pager.sources.alertmanager.parse` on the body bench/batch.lua sends (100 firing alerts,
each with its own fingerprint), alone: no server, no store.

    .venv/bin/python bench/parse_alertmanager.py [TREE ...] [--alerts N] [--reps R]

Each TREE (default: this one) is imported in a fresh interpreter (PYTHONPATH=TREE), so a tree extracted
from another commit (`git worktree add --detach /tmp/before d589541`) is measured beside this one with
this venv. Reports CPU time (time.process_time) per alert over R parses, best and median of 7 runs; pin
it (`taskset -c 1`) on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def batch_body(alerts: int, ident: str = "run-1-1") -> bytes:
    """The body bench/batch.lua builds for request `ident`, byte for byte."""
    common = {"alertname": "BenchBatch", "bench_id": ident, "customer": "agency", "severity": "critical"}
    hook = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="BenchBatch",bench_id="{ident}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pagerd",
        "groupLabels": {"alertname": "BenchBatch", "bench_id": ident},
        "commonLabels": common,
        "commonAnnotations": {"summary": f"Bench batch {ident}"},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {**common, "instance": f"web{i}:9100"},
                "annotations": {"summary": f"Disk almost full on web{i}", "description": "/var is 97% full"},
                "startsAt": "2026-11-25T14:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk",
                "fingerprint": f"{ident}-{i}",
            }
            for i in range(1, alerts + 1)
        ],
    }
    return json.dumps(hook, separators=(",", ":")).encode()


def measure(alerts: int, reps: int) -> tuple[float, float]:
    """(best, median) CPU µs per alert, in this interpreter."""
    from pager.sources.alertmanager import parse

    body = batch_body(alerts)
    assert len(parse(body)[0]) == alerts
    for _ in range(max(1, reps // 10)):
        parse(body)
    runs = []
    for _ in range(7):
        t0 = time.process_time()
        for _ in range(reps):
            parse(body)
        runs.append((time.process_time() - t0) / reps / alerts * 1e6)
    return min(runs), statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trees", nargs="*", default=[str(Path(__file__).resolve().parents[1])])
    ap.add_argument("--alerts", type=int, default=100)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # one tree, in this interpreter
    args = ap.parse_args()
    if args.here:
        best, median = measure(args.alerts, args.reps)
        print(f"{best:.2f} {median:.2f}")
        return
    for tree in args.trees:
        env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
        argv = [sys.executable, __file__, "--here", "--alerts", str(args.alerts), "--reps", str(args.reps)]
        out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True, timeout=600).stdout.split()
        print(f"{tree}: {args.alerts}-alert body, CPU per alert best {out[0]} µs, median {out[1]} µs")


if __name__ == "__main__":
    main()
