"""Where the full node's CPU per request goes, thread by thread: `make bench-threads BEFORE=<git rev>`.

The two servers of bench/full_node.py (the tree of BEFORE in its own venv, and this working tree; the
example config, paging on, dry-run notifier, fresh databases, pinned to CPU 1, load on CPU 0) get paired
rounds of wrk load, alternating which goes first: single-alert webhooks, then 100-alert webhooks. Across
each run the CPU time of every thread of the server (utime+stime from /proc/PID/task/TID/stat) is
divided by the 2xx answers (or alerts) and printed under the thread's name (read with `py-spy dump`).

With BENCH_PROFILE=1 it then records each server under each load with
`py-spy record --threads --gil --nonblocking` (GIL holders only, so roughly the Python CPU time; the
SQLite library runs without the GIL and is not sampled) and prints, per thread, the functions with the
largest inclusive share scaled to µs per request (or per alert) by that thread's CPU.

py-spy is not a project dependency: `.venv/bin/python -m pip install py-spy`. Tunables: BEFORE (git rev,
required), BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_PROFILE (0), BENCH_TOP (25). Prints only; results
worth keeping go into bench/RESULTS.md by hand.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import full_node as F
import run as B

ROUNDS = int(B.env_num("BENCH_ROUNDS", 3))
SECONDS = B.env_num("BENCH_SECONDS", 5)
PROFILE = os.environ.get("BENCH_PROFILE", "0") == "1"
TOP = int(B.env_num("BENCH_TOP", 25))
# frames every stack of a thread passes through (the event loop, thread start-up): not worth a line
_PLUMBING = re.compile(
    r"<frozen runpy>|asyncio/runners\.py|BaseEventLoop\.(run_forever|run_until_complete|_run_once) |"
    r"Handle\._run |threading\.py|_worker \(concurrent|_WorkItem\.run |pager/__main__\.py|main \(pager/cli\.py"
)
PHASES = (("single", "single.lua", [], 1), ("batch", "batch.lua", ["100"], 100))  # name, script, args, alerts


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not found:
        raise SystemExit("bench/threads.py: py-spy not found (.venv/bin/python -m pip install py-spy)")
    return found


def thread_names(pid: int) -> dict[int, str]:
    out = subprocess.run(
        [py_spy(), "dump", "--nonblocking", "--pid", str(pid)], capture_output=True, text=True, timeout=60
    ).stdout
    return {int(tid): name for tid, name in re.findall(r'^Thread (\d+) \([^)]*\): "([^"]+)"', out, re.M)}


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each thread of `pid`."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended in between
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def profile(server: F.TreeServer, res: dict, phase: str, script: str, extra: list[str], per: int) -> None:
    raw = B.OUT / f"threads-{server.key}-{phase}.txt"
    spy = subprocess.Popen(
        [py_spy(), "record", "--threads", "--gil", "--nonblocking", "-r", "200", "-f", "raw"]
        + ["-d", str(int(SECONDS) + 2), "-o", str(raw), "--pid", str(server.pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    c0 = thread_cpu(server.pid)
    r = B.wrk(server, res, script, SECONDS, f"t{server.key[0]}{phase[0]}", f"profile-{phase}", extra)
    c1 = thread_cpu(server.pid)
    spy.wait(timeout=60)
    units = max(1, r["ok_2xx"] * per)
    names = thread_names(server.pid)
    by_thread: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    samples: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        tid = re.search(r"\((\d+)\)", frames[0])
        name = names.get(int(tid.group(1)), frames[0]) if tid else frames[0]
        samples[name] += int(n)
        for f in dict.fromkeys(f for f in frames[1:] if not _PLUMBING.search(f)):  # inclusive: once per stack
            by_thread[name][f] += int(n)
    unit = "request" if per == 1 else "alert"
    for tid, name in names.items():
        cpu_us = 1e6 * (c1.get(tid, 0) - c0.get(tid, 0)) / units
        if not samples[name] or cpu_us < 1:
            continue
        print(f"\n{server.key} {phase}, thread {name}: {cpu_us:,.1f} µs CPU per {unit}; top functions (inclusive):")
        for func, n in by_thread[name].most_common(TOP):
            print(f"  {cpu_us * n / samples[name]:9.1f} µs  {func}")


def main() -> int:
    rev = os.environ.get("BEFORE", "").strip()
    if not rev:
        print("bench/threads.py: set BEFORE=<git rev> (the commit to compare against)", file=sys.stderr)
        return 2
    B.OUT.mkdir(parents=True, exist_ok=True)
    tree, py, commit = F.before_tree(rev)
    tmp = Path(tempfile.mkdtemp(prefix="pagerd-threads-"))
    servers = [
        F.TreeServer("before", f"full node at {commit[:12]}", tree, py, tmp),
        F.TreeServer("after", "full node, this tree", B.ROOT, F.after_python(), tmp),
    ]
    res: dict[str, dict] = {s.key: {"runs": []} for s in servers}
    # per[server][phase][thread name] = [µs per request (or alert), one per round]
    per: dict = {s.key: {p[0]: collections.defaultdict(list) for p in PHASES} for s in servers}
    try:
        for s in servers:
            s.start()
            B.wrk(s, res[s.key], "single.lua", 3, f"w{s.key[0]}", "warmup")
        names = {s.key: thread_names(s.pid) for s in servers}
        for rnd in range(ROUNDS):
            for s in servers if rnd % 2 == 0 else servers[::-1]:
                for phase, script, extra, alerts in PHASES:
                    c0 = thread_cpu(s.pid)
                    r = B.wrk(s, res[s.key], script, SECONDS, f"t{rnd}{s.key[0]}{phase[0]}", f"{phase}{rnd}", extra)
                    c1 = thread_cpu(s.pid)
                    units = max(1, r["ok_2xx"] * alerts)
                    for tid, secs in c1.items():
                        name = names[s.key].get(tid, f"thread {tid}")
                        per[s.key][phase][name].append(1e6 * (secs - c0.get(tid, 0)) / units)
        for phase, *_, alerts in PHASES:
            unit = "request" if alerts == 1 else "alert"
            print(f"\nCPU per {unit}, {phase} phase, mean of {ROUNDS} rounds (µs; each round in brackets):")
            for s in servers:
                total = 0.0
                for name, values in sorted(per[s.key][phase].items(), key=lambda kv: -statistics.mean(kv[1])):
                    mean = statistics.mean(values)
                    total += mean
                    if mean >= 0.5:
                        print(f"  {s.key:6} {name:24} {mean:9.1f}  [{', '.join(f'{v:.1f}' for v in values)}]")
                print(f"  {s.key:6} {'all threads':24} {total:9.1f}")
        if PROFILE:
            for s in servers:
                for phase, script, extra, alerts in PHASES:
                    profile(s, res[s.key], phase, script, extra, alerts)
    finally:
        for s in servers:
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
