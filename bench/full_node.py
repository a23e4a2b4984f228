"""The full node before and after a change, side by side in one run: `make bench-full-node BEFORE=<git rev>`.

Two pagerd servers on the example config with paging on (the default, what users run), each with a fresh
SQLite database: "before" is the tree of git revision BEFORE (extracted with `git archive` into
bench/out/, installed into a venv of its own there, so a dependency the change dropped or added is
right on each side), "after" is this working tree with its own .venv; each server runs with PYTHONPATH
set to its tree, so each side runs its own code whatever its venv has installed. Both run pinned to CPU 1,
the load generators to CPU 0 (as bench/run.py does).

Paired rounds, alternating which server goes first, because this machine's speed drifts by tens of
percent within minutes: each round gives each server the same
  single  wrk -t2 -c32, single-alert webhooks (each a new incident that is routed and paged), 2xx/s
  rate    bench/openloop.py at BENCH_RATE req/s (default 1,000), latency from due time (p50, p99)
  batch   wrk -t2 -c32, 100-alert webhooks, alerts/s
and the server's CPU seconds per request. After the rounds each server is stopped (SIGTERM by PID) and
its database checked (after waiting up to 20 s for the engine to route the last ones): incidents
stored == requests sent, and every incident routed (an escalation row) and paged (outbox rows), so a
faster "after" cannot come from paging less.

Writes the section "Full node before and after" of bench/RESULTS.md (between its markers; the rest of
the file is left as bench/run.py wrote it). Tunables: BEFORE (git rev, required), BENCH_ROUNDS (3),
BENCH_SECONDS (5), BENCH_RATE (1000), BENCH_RATE_DURATION (5).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_RATE_DURATION", "5")
import run as B

ROUNDS = int(B.env_num("BENCH_ROUNDS", 3))
SECONDS = B.env_num("BENCH_SECONDS", 5)
SIGNING_KEY = "bench-signing-key-0123456789abcdef"
BEGIN, END = "<!-- full-node:begin -->", "<!-- full-node:end -->"


def sh(argv: list[str], cwd: Path | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True, timeout=900).stdout.strip()


def before_tree(rev: str) -> tuple[Path, Path, str]:
    """The tree of `rev` and a python with it installed (cached in bench/out by commit)."""
    commit = sh(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], B.ROOT)
    tree = B.OUT / f"before-{commit[:12]}"
    venv = B.OUT / f"venv-before-{commit[:12]}"
    py = venv / "bin" / "python"
    if not (tree / "pyproject.toml").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit], cwd=B.ROOT, check=True, capture_output=True, timeout=120)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True, timeout=120)
    if not (venv / ".installed").exists():
        B.log(f"installing {commit[:12]} into {venv.relative_to(B.ROOT)}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(tree)], check=True, timeout=900
        )
        (venv / ".installed").touch()
    return tree, py, commit


def after_python() -> Path:
    """This tree's own venv (`make venv`), else the python running the script."""
    own = B.ROOT / ".venv" / "bin" / "python"
    return own if own.exists() else Path(sys.executable)


class TreeServer(B.Server):
    """A pagerd server run from a given tree with a given python."""

    def __init__(self, key: str, name: str, tree: Path, py: Path, workdir: Path) -> None:
        port = B.free_port()
        db = workdir / key / "pagerd.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAGERD_")}
        env.update(
            PYTHONUNBUFFERED="1",
            PAGERD_LISTEN=f"127.0.0.1:{port}",
            PAGERD_MAIL_LISTEN=f"127.0.0.1:{B.free_port()}",  # the example config's mail listener
            PAGERD_DB=str(db),
            PAGERD_WEBHOOK_TOKEN=B.TOKEN,
            PAGERD_ADMIN_TOKEN=B.ADMIN,
            PAGERD_SIGNING_KEY=SIGNING_KEY,
            PAGERD_PUBLIC_URL=f"http://127.0.0.1:{port}",
            PAGERD_NOTIFIER="dry_run",
            # the tree's own package first, whatever the venv has installed (each side runs its own code)
            PYTHONPATH=str(tree),
        )
        super().__init__(
            key,
            name,
            [str(py), "-m", "pager", "serve", "-c", str(tree / "config" / "pagerd.example.yaml")],
            env,
            port,
            db,
            workdir,
        )
        self.tree = tree
        self.py = py
        self.cwd = tree

    def start(self) -> None:
        self.db.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(self.py), "-m", "pager", "migrate", "-c", str(self.tree / "config" / "pagerd.example.yaml")],
            cwd=self.tree,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        super().start()


def wait_routed(server: TreeServer, timeout: float = 20.0) -> None:
    """Give the engine time to route and page what the last phase stored (at most `timeout` s): every
    incident routed and no routed one still waiting for its first step (stopped between the two stages
    of a tick, it would be paged after a restart, but the check below would count it unpaged)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.proc is not None and server.proc.poll() is None:
        if (
            server.db.exists()
            and B.db_scalar(
                server.db, "SELECT count(*) FROM incidents WHERE id NOT IN (SELECT incident_id FROM escalations)"
            )
            == 0
            and B.db_scalar(server.db, "SELECT count(*) FROM escalations WHERE status = 'active' AND step = -1") == 0
        ):
            return
        time.sleep(0.5)


def check(server: TreeServer, sent: int) -> str:
    incidents = B.db_scalar(server.db, "SELECT count(*) FROM incidents")
    routed = B.db_scalar(server.db, "SELECT count(DISTINCT incident_id) FROM escalations")
    paged = B.db_scalar(server.db, "SELECT count(DISTINCT incident_id) FROM outbox WHERE kind = 'page'")
    ok = incidents == sent and routed == incidents and paged == incidents
    return (
        f"({server.key}) {'OK' if ok else 'MISMATCH'}: {sent:,} incident-opening requests sent, "
        f"{incidents:,} incidents stored, {routed:,} routed, {paged:,} with page messages"
    )


def main() -> int:
    rev = os.environ.get("BEFORE", "").strip()
    if not rev:
        print("bench/full_node.py: set BEFORE=<git rev> (the commit to compare against)", file=sys.stderr)
        return 2
    B.OUT.mkdir(parents=True, exist_ok=True)
    tree, py, commit = before_tree(rev)
    after_commit = sh(["git", "rev-parse", "HEAD"], B.ROOT)
    dirty = bool(sh(["git", "status", "--porcelain", "--untracked-files=no"], B.ROOT))
    t0 = time.monotonic()
    la0 = B.loadavg()
    tmp = Path(tempfile.mkdtemp(prefix="pagerd-fullnode-"))
    servers = [
        TreeServer("before", f"full node at {commit[:12]}", tree, py, tmp),
        TreeServer(
            "after",
            f"full node at {after_commit[:12]}{' + changes' if dirty else ''}",
            B.ROOT,
            after_python(),
            tmp,
        ),
    ]
    res: dict[str, dict] = {s.key: {"runs": [], "rounds": []} for s in servers}
    sent = {s.key: 0 for s in servers}
    checks = []
    try:
        for s in servers:
            s.start()
            B.wrk(s, res[s.key], "single.lua", 3, f"w{s.key[0]}", "warmup")
            sent[s.key] += res[s.key]["runs"][-1]["sent_effective"]
        for rnd in range(ROUNDS):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for s in order:
                single = B.wrk(s, res[s.key], "single.lua", SECONDS, f"s{rnd}{s.key[0]}", f"single{rnd}")
                sent[s.key] += single["sent_effective"]
                B.RATE_DURATION = SECONDS
                rate = B.openloop(s, res[s.key], f"r{rnd}{s.key[0]}")
                sent[s.key] += rate["sent_effective"]
                batch = B.wrk(s, res[s.key], "batch.lua", SECONDS, f"b{rnd}{s.key[0]}", f"batch{rnd}", ["100"])
                sent[s.key] += batch["sent_effective"]
                res[s.key]["rounds"].append({"single": single, "rate": rate, "batch": batch})
    finally:
        for s in servers:
            wait_routed(s)
            code = s.stop()
            if s.db is not None and s.db.exists():
                B.wait_settled(s.db, "incidents")
                checks.append(check(s, sent[s.key]) + f"; exit code {code}")
    wall = time.monotonic() - t0
    write(servers, res, checks, commit, after_commit, dirty, wall, la0, B.loadavg())
    return 0 if all(" OK:" in c for c in checks) else 1


def write(servers, res, checks, commit, after_commit, dirty, wall, la0, la1) -> None:
    def col(key: str, phase: str, f) -> list[float]:
        return [v for v in (f(r[phase]) for r in res[key]["rounds"]) if v is not None]

    measures = [
        (
            "Single-alert webhooks/s, 32 connections (2xx/s; each a new, paged incident)",
            "single",
            lambda r: r["rps_2xx"],
            "{:,.0f}",
            True,
        ),
        ("Server CPU per single-alert request (all threads)", "single", B.us_per_2xx, "{:,.0f} µs", False),
        (
            f"p50 latency at a fixed {B.RATE:,.0f} req/s (open loop, from due time)",
            "rate",
            lambda r: r["lat_p50_us"] / 1000,
            "{:.1f} ms",
            False,
        ),
        (
            f"p99 latency at a fixed {B.RATE:,.0f} req/s (open loop, from due time)",
            "rate",
            lambda r: r["lat_p99_us"] / 1000,
            "{:.1f} ms",
            False,
        ),
        ("Alerts/s in 100-alert webhooks, 32 connections", "batch", lambda r: r["rps_2xx"] * 100, "{:,.0f}", True),
        (
            "Server CPU per alert in 100-alert webhooks",
            "batch",
            lambda r: (B.us_per_2xx(r) or 0) / 100 or None,
            "{:.1f} µs",
            False,
        ),
    ]
    L = [
        BEGIN,
        "## Full node before and after",
        "",
        f"- Command: `make bench-full-node BEFORE={commit[:12]}` → `.venv/bin/python bench/full_node.py` "
        f"(BENCH_ROUNDS={ROUNDS}, BENCH_SECONDS={SECONDS:g}, BENCH_RATE={B.RATE:g}); wall time {wall:.0f} s",
        f"- Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC; load average at start {la0}, at end {la1}",
        f"- before: git {commit[:12]} in its own venv; after: git {after_commit[:12]}"
        f"{' with uncommitted changes' if dirty else ''}. Both: `config/pagerd.example.yaml` of their tree, "
        "paging on (the default), dry-run notifier, fresh SQLite database, server pinned to CPU 1, load to CPU 0.",
        f"- {ROUNDS} paired rounds, alternating which server goes first; each cell is the median of the rounds "
        "(min–max in brackets).",
        "",
        "| Measure | before | after | after / before |",
        "|---|---:|---:|---:|",
    ]
    for label, phase, f, fmt, _higher_better in measures:
        b, a = col("before", phase, f), col("after", phase, f)
        if not b or not a:
            L.append(f"| {label} | – | – | – |")
            continue
        mb, ma = statistics.median(b), statistics.median(a)

        def cell(xs, m, fmt=fmt):
            return f"{fmt.format(m)} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"

        L.append(f"| {label} | {cell(b, mb)} | {cell(a, ma)} | {100 * ma / mb:.0f}% |")
    L += [
        "",
        "Write and paging check after the rounds (requests sent, including warm-up and non-2xx): "
        + "; ".join(checks)
        + ".",
        END,
    ]
    section = B.write_section("\n".join(L) + "\n", BEGIN, END)
    print(section)


if __name__ == "__main__":
    sys.exit(main())
