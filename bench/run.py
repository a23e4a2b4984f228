"""pagerd benchmark: `make bench` (or `.venv/bin/python bench/run.py`). Writes its part of bench/RESULTS.md (between its
markers; the other sections are kept).

Four servers, each in its own process, each measured the same way on loopback:
  (a) bench/baseline_parse.py    bare aiohttp handler that reads and JSON-parses the body (ceiling)
  (b) bench/baseline_durable.py  same + group-committed SQLite inserts, WAL, synchronous=FULL (durable ceiling)
  (c) pagerd serve -c config/pagerd.example.yaml, fresh DB in a temp dir: full node, every new incident is
      routed and paged through the dry-run notifier
  (d) the same with PAGERD_PAGING_ENGINE=false (paging.engine: false): a webhook-only node that stores
      webhooks and incidents but runs no paging engine (the ingest spine of issue 2)

On a machine with >= 2 CPUs the server is pinned to CPU 1 (`taskset -c 1`) and every load generator
to CPU 0 (`taskset -c 0`); this script pins itself to CPU 0 too. Phases per server:
  warm-up   wrk, single-alert webhooks, 32 connections (not reported)
  single    wrk -t2 -c32, single-alert webhooks with unique groupKey/fingerprint (bench/single.lua)
  rate      bench/openloop.py: open-loop 1,000 req/s of single-alert webhooks, latency from due time
  batch     wrk -t2 -c32, 100-alert webhooks (bench/batch.lua), alerts/s = 2xx * 100 / s
  fill      (servers in BENCH_FILL, default d) wrk single-alert load until >= 100,000 incidents are stored; then VmHWM
Then the server is stopped (SIGTERM, by PID) and its database is checked: every request that was
sent must be stored exactly once (rows == requests sent), so in particular every 2xx is there.

After the servers: bench/paging_latency.py (webhook arrival -> Twilio request, own pagerd + fake Twilio
API on loopback, at 10, 100 and 1,000 new incidents/s; then its idle mode: 50 incidents 200 ms apart),
bench/storm.py (the Nagios storm: 5,000 PROBLEM notifications for 1,000 hosts in 10 s, through the notify
script's form), bench/engine_cpu.py when the tree has it (engine CPU per new incident), bench/bench_oncall.py
(issue 3) and bench/bench_statements.py (issue 5: a year of statements for 100 customers).

The results lead with the full node (issue 17), each target with its verdict: idle time to page; (c)'s
single-alert webhooks against (b) of the same run, with every incident paged (its SMS page in (c)'s outbox,
checked after the engine routed the last one); (c) at 1,000 new incidents/s for 10 s with the fake Twilio
(paging_latency's 1,000/s run); the Nagios storm; engine CPU per new incident; peak RSS of (c) after
100,000 incidents (the fill runs on (c)).

Every loop is bounded (phase durations, fill iterations, start/stop timeouts, a global deadline).
Tunables (environment): BENCH_DURATION (s, default 10), BENCH_WARMUP (3), BENCH_CONNECTIONS (32),
BENCH_RATE (1000), BENCH_RATE_DURATION (10), BENCH_INCIDENTS (100000), BENCH_DEADLINE (s, 900),
BENCH_FILL (servers to fill, "c"), BENCH_PAGING_RATES ("10,100,1000"), BENCH_PAGING_DURATIONS ("5,5,10"),
BENCH_IDLE (1: the idle time to page; 0: skipped), BENCH_STORM_HOSTS (1000), BENCH_STORM_SERVICES (5),
BENCH_STORM_SECONDS (10), BENCH_STORM_SCRIPTS (50: notifications sent by running the notify script; 0 skips the storm
when BENCH_STORM_HOSTS=0), BENCH_PAGED_WAIT (s, 120: how long (c) may take to route its last incident),
BENCH_QUIET_WAIT (s, 20), BENCH_PROFILE=1 (py-spy profile of pagerd after the measured phases, if py-spy is in the venv).
Raw outputs (wrk JSON lines, server logs, profiles) go to bench/out/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
RESULTS = BENCH / "RESULTS.md"
BEGIN_MARK, END_MARK = "<!-- bench:begin -->", "<!-- bench:end -->"  # the part of RESULTS.md this script owns
PY = sys.executable
CONFIG = ROOT / "config" / "pagerd.example.yaml"
PATH = "/api/v1/alerts/alertmanager"
TOKEN = "bench-webhook-token-0123456789"
ADMIN = "bench-admin-token-0123456789"
SIGNING_KEY = "bench-signing-key-0123456789abcdef"


def env_num(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        raise SystemExit(f"bench: {name} must be a number") from None


DURATION = env_num("BENCH_DURATION", 10)
WARMUP = env_num("BENCH_WARMUP", 3)
CONNS = int(env_num("BENCH_CONNECTIONS", 32))
RATE = env_num("BENCH_RATE", 1000)
RATE_DURATION = env_num("BENCH_RATE_DURATION", 10)
INCIDENTS = int(env_num("BENCH_INCIDENTS", 100_000))
DEADLINE = env_num("BENCH_DEADLINE", 900)
# Servers that get the 100,000-incident fill (RSS): the full node (issue 17); BENCH_FILL=c,d fills (d) too.
FILL_SERVERS = tuple(x.strip() for x in os.environ.get("BENCH_FILL", "c").split(",") if x.strip())
PAGING_RATES = os.environ.get("BENCH_PAGING_RATES", "10,100,1000")
PAGING_DURATIONS = os.environ.get("BENCH_PAGING_DURATIONS", "5,5,10")
IDLE = os.environ.get("BENCH_IDLE", "1") not in ("", "0")
STORM_HOSTS = int(env_num("BENCH_STORM_HOSTS", 1000))
STORM_SERVICES = int(env_num("BENCH_STORM_SERVICES", 5))
STORM_SECONDS = env_num("BENCH_STORM_SECONDS", 10)
STORM_SCRIPTS = int(env_num("BENCH_STORM_SCRIPTS", 50))
PAGED_WAIT = env_num("BENCH_PAGED_WAIT", 120)
PROFILE = os.environ.get("BENCH_PROFILE", "") not in ("", "0")
QUIET_WAIT = env_num("BENCH_QUIET_WAIT", 20)  # s to wait at most for other processes to leave CPU 1 alone
FILL_MAX_ROUNDS = 6
PAIRED_ROUNDS = int(env_num("BENCH_PAIRED_ROUNDS", 6))
PAIRED_SECONDS = env_num("BENCH_PAIRED_SECONDS", 5)
FILL_MAX_SECONDS = 60

T_START = time.monotonic()
CPUS = os.cpu_count() or 1
PIN = CPUS >= 2
SERVER_CPU, CLIENT_CPU = "1", "0"

# Targets of issue 2.
TARGET_FRACTION_DURABLE = 0.50
TARGET_MIN_DURABLE_RPS = 2000
TARGET_P99_MS = 15.0
TARGET_ALERTS_PER_S = 25_000
TARGET_RSS_MB = 150
# Targets of issue 17 (the full node).
T17_IDLE_P50_MS, T17_IDLE_P99_MS = 10.0, 20.0
T17_RATE = 1000  # new incidents/s of paging_latency's run that the rate targets are judged on
T17_WEBHOOK_P99_MS, T17_PAGE_P99_MS = 15.0, 250.0
T17_ENGINE_CPU_US = 100.0


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[bench {time.monotonic() - T_START:6.1f}s] {msg}", flush=True)


def remaining() -> float:
    return DEADLINE - (time.monotonic() - T_START)


def check_deadline(need: float) -> None:
    if remaining() < need:
        raise BenchError(
            f"global deadline BENCH_DEADLINE={DEADLINE:.0f}s would be exceeded "
            f"(need ~{need:.0f}s, {remaining():.0f}s left)"
        )


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if PIN else argv


def write_section(section: str, begin: str, end: str) -> str:
    """Put `section` (which starts with `begin` and ends with `end`) in place of the one between those
    markers of bench/RESULTS.md, or after the rest of the file; the rest is kept."""
    text = RESULTS.read_text() if RESULTS.exists() else "# pagerd benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)
    return section


def free_port() -> int:
    """A loopback port for a server the bench starts: tests/harness/ports.py's, below the kernel's ephemeral
    range, so an outgoing connection (a node's database connection, wrk's) cannot take it as its source port
    between this choice and the server's bind."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.harness.ports import free_port as harness_free_port

    return harness_free_port()


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(server: Server) -> float:
    """CPU seconds of the processes that serve `server.url`: the server's own, or (`server.pids`, e.g. the
    nodes behind a load balancer) the sum of several."""
    return sum(proc_cpu_seconds(pid) for pid in getattr(server, "pids", None) or [server.pid])


def cpu_busy_seconds(cpu: str) -> float:
    """Busy time (everything but idle and iowait) of one CPU from /proc/stat, seconds."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            f = [int(x) for x in line.split()[1:]]
            busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)  # user nice system irq softirq steal
            return busy / os.sysconf("SC_CLK_TCK")
    return 0.0


def proc_status_kb(pid: int, key: str) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


# -- servers ------------------------------------------------------------------------------------


class Server:
    def __init__(
        self, key: str, name: str, argv: list[str], env: dict[str, str], port: int, db: Path | None, workdir: Path
    ) -> None:
        self.key, self.name, self.argv, self.env, self.port, self.db = key, name, argv, env, port, db
        self.workdir = workdir
        self.cwd = ROOT
        self.proc: subprocess.Popen | None = None
        self.killed = False
        self.log_path = OUT / f"server-{key}.log"
        self.url = f"http://127.0.0.1:{port}{PATH}"

    def start(self) -> None:
        log(f"start ({self.key}) {self.name} on 127.0.0.1:{self.port}")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            pinned(SERVER_CPU, self.argv),
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"{self.name} not ready within 30 s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> int | None:
        """SIGTERM by PID, wait up to 20 s, then SIGKILL by PID. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop in 20 s after SIGTERM; SIGKILL {self.proc.pid}")
                self.killed = True
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


def make_servers(tmp: Path) -> list[Server]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PAGERD_")}
    base_env["PYTHONUNBUFFERED"] = "1"
    servers = []
    p = free_port()
    servers.append(
        Server(
            "a",
            "baseline_parse",
            [PY, str(BENCH / "baseline_parse.py"), "--listen", f"127.0.0.1:{p}"],
            base_env,
            p,
            None,
            tmp,
        )
    )
    p = free_port()
    db_b = tmp / "baseline_durable.db"
    servers.append(
        Server(
            "b",
            "baseline_durable",
            [
                PY,
                str(BENCH / "baseline_durable.py"),
                "--listen",
                f"127.0.0.1:{p}",
                "--db",
                str(db_b),
                "--synchronous",
                "FULL",
            ],
            base_env,
            p,
            db_b,
            tmp,
        )
    )
    p = free_port()
    db_c = tmp / "pagerd" / "pagerd.db"
    env = dict(
        base_env,
        PAGERD_LISTEN=f"127.0.0.1:{p}",
        PAGERD_MAIL_LISTEN=f"127.0.0.1:{free_port()}",  # the example config's mail listener, a port of its own
        PAGERD_DB=str(db_c),
        PAGERD_WEBHOOK_TOKEN=TOKEN,
        PAGERD_ADMIN_TOKEN=ADMIN,
        PAGERD_SIGNING_KEY=SIGNING_KEY,
        PAGERD_PUBLIC_URL=f"http://127.0.0.1:{p}",
        PAGERD_NOTIFIER="dry_run",
    )
    pagerd_bin = Path(PY).parent / "pagerd"
    argv = [str(pagerd_bin)] if pagerd_bin.exists() else [PY, "-m", "pager"]
    servers.append(Server("c", "pagerd", [*argv, "serve", "-c", str(CONFIG)], env, p, db_c, tmp))
    # (d): the same, as a webhook-only node (paging.engine: false): it takes webhooks and stores incidents,
    # but runs no paging engine (no routing, no pages); a real mode of a multi-node deployment.
    p = free_port()
    db_d = tmp / "pagerd-webhook" / "pagerd.db"
    env = dict(
        base_env,
        PAGERD_LISTEN=f"127.0.0.1:{p}",
        PAGERD_MAIL_LISTEN=f"127.0.0.1:{free_port()}",  # the example config's mail listener, a port of its own
        PAGERD_DB=str(db_d),
        PAGERD_WEBHOOK_TOKEN=TOKEN,
        PAGERD_ADMIN_TOKEN=ADMIN,
        PAGERD_SIGNING_KEY=SIGNING_KEY,
        PAGERD_PUBLIC_URL=f"http://127.0.0.1:{p}",
        PAGERD_PAGING_ENGINE="false",
        PAGERD_NOTIFIER="dry_run",
    )
    servers.append(Server("d", "pagerd webhook-only", [*argv, "serve", "-c", str(CONFIG)], env, p, db_d, tmp))
    return servers


# -- load generators ----------------------------------------------------------------------------


def parse_benchjson(text: str) -> dict:
    for line in text.splitlines():
        if line.startswith("BENCHJSON "):
            return json.loads(line[len("BENCHJSON ") :])
    raise BenchError("no BENCHJSON line in generator output:\n" + text[-2000:])


def wrk(server: Server, res: dict, script: str, seconds: float, prefix: str, label: str, extra: list[str] = ()) -> dict:
    """One wrk run, recorded in res["runs"]: its BENCHJSON plus server CPU seconds used during the run.
    Raises BenchError when the server answered nothing at all (hung), after recording the run."""
    check_deadline(seconds + 15)
    secs = max(1, int(round(seconds)))
    argv = pinned(
        CLIENT_CPU,
        [
            "wrk",
            "-t2",
            f"-c{CONNS}",
            f"-d{secs}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / script),
            server.url,
            "--",
            prefix,
            TOKEN,
            *extra,
        ],
    )
    la = loadavg()
    cpu0, busy0, t0 = server_cpu_seconds(server), cpu_busy_seconds(SERVER_CPU), time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 30)
    cpu1, busy1, t1 = server_cpu_seconds(server), cpu_busy_seconds(SERVER_CPU), time.monotonic()
    (OUT / f"wrk-{server.key}-{label}.txt").write_text(" ".join(argv) + "\n\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {proc.stderr[-500:]}")
    r = parse_benchjson(proc.stdout)
    # wrk calls request() once on its first thread to check the script; that request is never sent.
    r["sent_effective"] = r["sent"] - 1
    r["label"] = label if label != "batch" else "batch (100 alerts/request)"
    r["server_cpu_s"] = cpu1 - cpu0
    r["seconds"] = r["duration_us"] / 1e6
    r["rps_2xx"] = r["ok_2xx"] / r["seconds"]
    r["loadavg_before"] = la
    r["other_load"] = other_load(busy1 - busy0, cpu1 - cpu0, t1 - t0)
    r["errors_total"] = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    res["runs"].append(r)
    log(
        f"  {server.key} {label:8s} {r['rps_2xx']:9.0f} 2xx/s  p50 {r['lat_p50_us'] / 1000:6.2f} ms  "
        f"p99 {r['lat_p99_us'] / 1000:6.2f} ms  non-2xx {r['non_2xx']}  socket errors {r['errors_total']}  "
        f"(other load on server CPU {100 * (r['other_load'] or 0):.0f}%)"
    )
    if r["requests"] == 0 and r["sent_effective"] > 0:
        raise BenchError(
            f"{server.name} stopped answering: 0 responses to {r['sent_effective']} requests in the "
            f"{r['seconds']:.0f} s run '{label}' (see bench/out/server-{server.key}.log)"
        )
    return r


def us_per_2xx(r: dict, seconds: str = "server_cpu_s") -> float | None:
    """The run's CPU seconds `seconds` (a key of the run; the server's by default) per 2xx answer, in µs; None
    without either."""
    n = r.get("ok_2xx") or 0
    return 1e6 * r[seconds] / n if n and seconds in r else None


def other_load(cpu_busy: float, server_cpu: float, wall: float) -> float | None:
    """Share of the server's CPU taken by other processes during a run (interference), 0..1."""
    if not PIN or wall <= 0:
        return None
    return max(0.0, min(1.0, (cpu_busy - server_cpu) / wall))


def openloop(server: Server, res: dict, prefix: str) -> dict:
    check_deadline(RATE_DURATION + 25)
    argv = pinned(
        CLIENT_CPU,
        [
            PY,
            str(BENCH / "openloop.py"),
            "--url",
            server.url,
            "--rate",
            str(RATE),
            "--duration",
            str(RATE_DURATION),
            "--prefix",
            prefix,
            "--token",
            TOKEN,
            "--timeout",
            "10",
        ],
    )
    la = loadavg()
    cpu0, busy0, t0 = server_cpu_seconds(server), cpu_busy_seconds(SERVER_CPU), time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=RATE_DURATION + 40)
    cpu1, busy1, t1 = server_cpu_seconds(server), cpu_busy_seconds(SERVER_CPU), time.monotonic()
    (OUT / f"openloop-{server.key}.txt").write_text(" ".join(argv) + "\n\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise BenchError(f"openloop failed ({proc.returncode}): {proc.stderr[-800:]}")
    r = parse_benchjson(proc.stdout)
    r["server_cpu_s"] = cpu1 - cpu0
    r["loadavg_before"] = la
    r["other_load"] = other_load(busy1 - busy0, cpu1 - cpu0, t1 - t0)
    r["sent_effective"] = r["sent"]
    r["label"] = f"rate {RATE:,.0f}/s open loop"
    if r["ok_2xx"] == 0:
        res["runs"].append(r)
        raise BenchError(
            f"{server.name} answered no request of the open-loop run (see bench/out/server-{server.key}.log)"
        )
    res["runs"].append(r)
    log(
        f"  {server.key} rate     {r['achieved_send_rate']:9.0f} req/s  p50 {r['lat_p50_us'] / 1000:6.2f} ms  "
        f"p99 {r['lat_p99_us'] / 1000:6.2f} ms  2xx {r['ok_2xx']}/{r['sent']}  errors {r['errors']}  "
        f"(other load on server CPU {100 * (r['other_load'] or 0):.0f}%)"
    )
    return r


# -- database checks ----------------------------------------------------------------------------


def db_scalar(db: Path, sql: str) -> int:
    """Read with the sqlite3 CLI when present (what an operator would do), else the Python module."""
    if shutil.which("sqlite3"):
        out = subprocess.run(["sqlite3", "-readonly", str(db), sql], capture_output=True, text=True, timeout=60)
        if out.returncode == 0 and out.stdout.strip():
            return int(out.stdout.strip().splitlines()[-1])
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def wait_settled(db: Path, table: str, timeout: float = 10.0) -> int:
    """Rows of `table` once the count stops moving (requests wrk abandoned still get committed)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        n = db_scalar(db, f"SELECT count(*) FROM {table}")
        if n == last:
            return n
        last = n
        time.sleep(0.3)
    return last


# -- the run ------------------------------------------------------------------------------------


def bench_server(server: Server, res: dict) -> None:
    """Runs every phase against one server, filling `res` as it goes: a failure keeps what was measured,
    and the server is still stopped and its database still checked."""
    res.update({"name": server.name, "runs": []})
    server.start()
    failure: BaseException | None = None
    try:
        res["pid"] = server.pid
        res["warmup"] = wrk(server, res, "single.lua", WARMUP, "w", "warmup")
        res["single"] = wrk(server, res, "single.lua", DURATION, "s", "single")
        res["rate"] = openloop(server, res, "r")
        res["batch"] = wrk(server, res, "batch.lua", DURATION, "b", "batch", ["100"])
        if server.key in FILL_SERVERS:
            fill(server, res)
        if server.key in ("c", "d"):
            if PROFILE:
                profile(server, res)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        failure = exc
        log(f"ERROR ({server.key}): {exc}")
    finally:
        if server.key == "c" and server.db is not None and server.proc is not None and server.proc.poll() is None:
            res["paged"] = paged_check(server.db)
        if server.key in ("c", "d") and server.proc is not None and server.proc.poll() is None:
            time.sleep(0.5)
            res["vmhwm_kb"] = proc_status_kb(server.pid, "VmHWM")
            res["vmrss_kb"] = proc_status_kb(server.pid, "VmRSS")
            if server.db is not None:
                res["rss_rows"] = wait_settled(server.db, "incidents", timeout=5)
            log(
                f"  {server.key} VmHWM {res['vmhwm_kb'] / 1024:.1f} MB, VmRSS {res['vmrss_kb'] / 1024:.1f} MB "
                f"with {res.get('rss_rows')} incidents stored"
            )
        if server.db is not None and failure is None:
            table = "incidents" if server.key in ("c", "d") else "deliveries"
            wait_settled(server.db, table)
        t0 = time.monotonic()
        res["exit_code"] = server.stop()
        res["stop_seconds"] = time.monotonic() - t0
        res["killed"] = server.killed
    log(
        f"stopped ({server.key}) {server.name}: exit code {res['exit_code']}"
        + (" (did not stop within 20 s of SIGTERM: SIGKILL)" if server.killed else "")
    )
    if server.db is not None:
        verify(server, res)
    if failure is not None:
        raise BenchError(f"({server.key}) {failure}")


# incidents without their SMS page in the outbox yet (not routed, or their first step not fired yet)
UNPAGED_SQL = (
    "SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM outbox o "
    "WHERE o.incident_id = i.id AND o.kind = 'page' AND o.channel = 'sms')"
)


def paged_check(db: Path) -> dict:
    """The full node after its load: wait (at most PAGED_WAIT s) until its engine has queued the SMS page of
    every incident (routed, first step fired), then count in its outbox the incidents with their SMS page
    (each one page at its first step: none lost, none doubled) and how many of those went out (sent, or
    carried in a bundle) or wait for the phone's throttle slot (the example config's 5 SMS per 15 minutes
    bundles the rest into the next slot)."""
    deadline = time.monotonic() + PAGED_WAIT
    t0 = time.monotonic()
    while True:
        unpaged = db_scalar(db, UNPAGED_SQL)
        if unpaged == 0 or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    out = {
        "paging_wait_s": time.monotonic() - t0,
        "unpaged": unpaged,
        "incidents": db_scalar(db, "SELECT count(*) FROM incidents"),
        "sms_rows": db_scalar(db, "SELECT count(*) FROM outbox WHERE kind = 'page' AND channel = 'sms'"),
        "with_sms": db_scalar(
            db, "SELECT count(DISTINCT incident_id) FROM outbox WHERE kind = 'page' AND channel = 'sms'"
        ),
        "sms_out": db_scalar(
            db,
            "SELECT count(DISTINCT incident_id) FROM outbox WHERE kind = 'page' AND channel = 'sms' "
            "AND status IN ('sent', 'simulated', 'bundled')",
        ),
        "sms_requests": db_scalar(
            db,
            "SELECT count(*) FROM outbox WHERE kind = 'page' AND channel = 'sms' AND status IN ('sent', 'simulated')",
        ),
    }
    out["sms_waiting"] = out["with_sms"] - out["sms_out"]
    out["ok"] = out["unpaged"] == 0 and out["with_sms"] == out["incidents"] == out["sms_rows"]
    log(
        f"  c paged: {out['with_sms']:,} of {out['incidents']:,} incidents have their SMS page in the outbox "
        f"({out['sms_rows']:,} SMS page rows; {out['sms_out']:,} out in {out['sms_requests']:,} SMS, "
        f"{out['sms_waiting']:,} waiting for the throttle slot); the last queued {out['paging_wait_s']:.1f} s after the load"
    )
    return out


def paired_stage(tmp: Path, errors: list[str]) -> dict:
    """(b) and (d) side by side: both started on fresh databases, then PAIRED_ROUNDS rounds of single-alert
    wrk load alternating between them (who goes first alternates too). The machine's speed drifts by tens of
    percent within minutes (measured here), and the phases above run each server minutes apart; paired
    rounds see the same drift, so their ratio is the like-for-like (d) / (b). Write check as for the others."""
    out: dict = {"rounds": [], "res": {}}
    servers = [s for s in make_servers(tmp) if s.key in ("b", "d")]
    for s in servers:
        s.log_path = OUT / f"server-{s.key}-paired.log"
        out["res"][s.key] = {"name": s.name, "runs": []}
    started: list[Server] = []
    try:
        for s in servers:
            s.start()
            started.append(s)
        for s in servers:
            wrk(s, out["res"][s.key], "single.lua", WARMUP, "pw", "paired-warmup")
        for rnd in range(PAIRED_ROUNDS):
            pair = {}
            for s in servers if rnd % 2 == 0 else servers[::-1]:
                r = wrk(s, out["res"][s.key], "single.lua", PAIRED_SECONDS, f"p{rnd}", f"paired-{rnd + 1}")
                pair[s.key] = r["rps_2xx"]
            out["rounds"].append(pair)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        errors.append(f"paired rounds: {exc}")
        log(f"ERROR (paired): {exc}")
    finally:
        for s in started:
            if s.db is not None:
                wait_settled(s.db, "incidents" if s.key == "d" else "deliveries")
            out["res"][s.key]["exit_code"] = s.stop()
            if s.db is not None:
                verify(s, out["res"][s.key])
    measured = [r for r in out["rounds"] if "b" in r and "d" in r]
    if measured:
        sums = {k: sum(r[k] for r in measured) for k in ("b", "d")}
        out["b_rps"], out["d_rps"] = sums["b"] / len(measured), sums["d"] / len(measured)
        out["ratio"] = sums["d"] / sums["b"]
        out["ratios"] = [r["d"] / r["b"] for r in measured]
        log(
            f"paired: (d) / (b) = {100 * out['ratio']:.1f}% over {len(measured)} rounds "
            f"(per round {', '.join(f'{100 * x:.0f}%' for x in out['ratios'])})"
        )
    return out


def fill(server: Server, res: dict) -> None:
    """Drive pagerd to >= INCIDENTS stored incidents with bounded rounds of single-alert wrk load."""
    assert server.db is not None
    rate = max(200.0, res["single"]["rps_2xx"])
    res["fill"] = []
    for rnd in range(FILL_MAX_ROUNDS):
        rows = wait_settled(server.db, "incidents", timeout=5)
        missing = INCIDENTS - rows
        if missing <= 0:
            break
        secs = min(FILL_MAX_SECONDS, max(2.0, missing / rate * 1.05 + 1))
        log(f"  {server.key} fill round {rnd + 1}: {rows} incidents stored, {missing} to go, ~{secs:.0f} s of load")
        r = wrk(server, res, "single.lua", secs, f"f{rnd}", f"fill {rnd + 1}")
        res["fill"].append(r)
        rate = max(200.0, r["rps_2xx"])
    res["fill_rows"] = wait_settled(server.db, "incidents", timeout=5)
    if res["fill_rows"] < INCIDENTS:
        raise BenchError(
            f"could not reach {INCIDENTS} incidents in {FILL_MAX_ROUNDS} bounded rounds ({res['fill_rows']} stored)"
        )


def profile(server: Server, res: dict) -> None:
    if server.key != "c":
        return
    spy = Path(PY).parent / "py-spy"
    if not spy.exists():
        log("  BENCH_PROFILE=1 but py-spy is not in the venv (.venv/bin/pip install py-spy); skipped")
        return
    for script, label, extra in (("single.lua", "single", []), ("batch.lua", "batch", ["100"])):
        raw = OUT / f"profile-pagerd-{label}.txt"  # (c) only
        secs = 8
        spy_proc = subprocess.Popen(
            pinned(
                CLIENT_CPU,
                [
                    str(spy),
                    "record",
                    "-p",
                    str(server.pid),
                    "-r",
                    "250",
                    "-d",
                    str(secs),
                    "--threads",
                    "--gil",
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                    "--nonblocking",
                ],
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wrk(server, res, script, secs, f"p{label[0]}", f"profile-{label}", extra)
        try:
            spy_proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy_proc.kill()
            spy_proc.wait(timeout=5)
        if raw.exists():
            out = subprocess.run(
                [PY, str(BENCH / "profile_summary.py"), str(raw), "--top", "30"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            (OUT / f"profile-pagerd-{label}.summary.txt").write_text(out.stdout + out.stderr)
            log(f"  profile written: {raw.relative_to(ROOT)} (+ .summary.txt)")


def verify(server: Server, res: dict, scalar: Callable[[str], int] | None = None, pagerd: bool | None = None) -> None:
    """Rows stored == requests sent; every 2xx is a stored row; identities unique. `scalar` answers a query
    on the server's database (default: its SQLite file); `pagerd`: it stores incidents (default: servers
    c and d), else deliveries (the baselines)."""
    if scalar is None:
        db = server.db
        assert db is not None

        def scalar(sql: str) -> int:
            return db_scalar(db, sql)

    if pagerd is None:
        pagerd = server.key in ("c", "d")
    sent = sum(r["sent_effective"] for r in res["runs"])
    ok = sum(r["ok_2xx"] for r in res["runs"])
    non2xx = sum(r["non_2xx"] for r in res["runs"])
    if pagerd:
        rows = scalar("SELECT count(*) FROM incidents")
        distinct = scalar("SELECT count(DISTINCT dedup_key) FROM incidents")
    else:
        rows = scalar("SELECT count(*) FROM deliveries")
        distinct = scalar("SELECT count(DISTINCT group_key) FROM deliveries")
    alerts = scalar("SELECT count(*) FROM alerts")
    batch_sent = sum(r["sent_effective"] for r in res["runs"] if r.get("alerts_per_request"))
    expected_alerts = (sent - batch_sent) + 100 * batch_sent
    v = {
        "rows": rows,
        "distinct_keys": distinct,
        "sent": sent,
        "ok_2xx": ok,
        "non_2xx": non2xx,
        "unanswered": sent - ok - non2xx,
        "alerts_rows": alerts,
        "expected_alerts": expected_alerts,
    }
    # exact: every request sent is stored once (so every 2xx is there). acked: no answered write is lost,
    # but some requests were neither answered nor stored (a server that hung and was stopped).
    v["exact"] = rows == sent and distinct == rows and non2xx == 0 and alerts == expected_alerts
    v["acked"] = ok <= rows <= sent and distinct == rows and non2xx == 0
    v["ok"] = v["exact"] or v["acked"]
    if v["exact"]:
        v["verdict"] = "OK: every request sent is stored exactly once, so every 2xx is"
    elif v["acked"]:
        v["verdict"] = (
            f"no answered write lost (rows ≥ 2xx, no duplicates), but {sent - rows:,} requests sent to the "
            "hung server were neither answered nor stored"
        )
    else:
        v["verdict"] = "**MISMATCH: writes lost or doubled — this benchmark is void**"
    res["verify"] = v
    log(
        f"verify ({server.key}): rows {rows} (distinct {distinct}), requests sent {sent}, 2xx {ok}, "
        f"sent but unanswered {v['unanswered']}, alerts {alerts}/{expected_alerts} -> {v['verdict']}"
    )


# -- report -------------------------------------------------------------------------------------


def sh(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def versions() -> dict:
    import aiohttp

    try:
        import pydantic

        pyd = pydantic.VERSION
    except ImportError:
        pyd = "?"
    try:
        from pager import __version__ as pv
    except ImportError:
        pv = "?"
    commit = sh(["git", "rev-parse", "--short=12", "HEAD"])
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"])
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_total = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        mem_total = 0
    return {
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "pydantic": pyd,
        "sqlite": sqlite3.sqlite_version,
        "sqlite_cli": sh(["sqlite3", "--version"]).split(" ")[0] or "?",
        "wrk": (sh(["wrk", "-v"]).splitlines() or ["?"])[0].split(" [")[0],
        "pagerd": pv,
        "commit": commit + (" (+ uncommitted changes in tracked files)" if dirty else ""),
        "nproc": CPUS,
        "cpu": cpu_model,
        "kernel": platform.release(),
        "mem_mb": mem_total,
    }


def fmt_ms(us: float | None) -> str:
    return "–" if us is None else f"{us / 1000:.1f} ms"


def fmt_rate(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def frac(x: float | None, y: float | None) -> str:
    if x is None or not y:
        return "–"
    return f"{100 * x / y:.0f}%"


def write_results(all_res: dict[str, dict], meta: dict, wall: float, error: str | None) -> None:
    a, b, c = all_res.get("a", {}), all_res.get("b", {}), all_res.get("c", {})

    def g(res: dict, phase: str, key: str):
        return res.get(phase, {}).get(key)

    def alerts_s(res: dict):
        r = res.get("batch")
        return None if not r else r["ok_2xx"] * r.get("alerts_per_request", 100) / r["seconds"]

    def cpu_us(res: dict, phase: str, per_alert: bool = False):
        r = res.get(phase)
        if not r or not r.get("sent_effective"):
            return None
        n = r["sent_effective"] * (r.get("alerts_per_request", 1) if per_alert else 1)
        return 1e6 * r["server_cpu_s"] / n

    d = all_res.get("d", {})
    rps_a, rps_b, rps_c, rps_d = (g(x, "single", "rps_2xx") for x in (a, b, c, d))
    al_a, al_b, al_c, al_d = alerts_s(a), alerts_s(b), alerts_s(c), alerts_s(d)

    def verdict(ok: bool | None, why_none: str = "not measured") -> str:
        return why_none if ok is None else ("**met**" if ok else "**missed**")

    def targets(x: dict) -> dict:
        """Issue-2 verdicts for one pagerd server (c or d)."""
        rps, p99r, al = g(x, "single", "rps_2xx"), g(x, "rate", "lat_p99_us"), alerts_s(x)
        rss_mb = x["vmhwm_kb"] / 1024 if x.get("vmhwm_kb") else None
        reached = (x.get("rss_rows") or 0) >= INCIDENTS
        return {
            "t1": None
            if (rps_b is None or rps is None)
            else (rps >= TARGET_FRACTION_DURABLE * rps_b and rps >= TARGET_MIN_DURABLE_RPS),
            "t2": None if p99r is None else p99r / 1000 <= TARGET_P99_MS,
            "t3": None if al is None else al >= TARGET_ALERTS_PER_S,
            "t4": None
            if rss_mb is None
            else (rss_mb <= TARGET_RSS_MB if reached else (False if rss_mb > TARGET_RSS_MB else None)),
            "rss_mb": rss_mb,
            "reached": reached,
        }

    tc, td = targets(c), targets(d)
    paired = meta.get("paired") or {}
    if paired.get("ratio") is not None:  # the like-for-like ratio decides for (d): see paired_stage
        td["t1"] = paired["ratio"] >= TARGET_FRACTION_DURABLE and paired["d_rps"] >= TARGET_MIN_DURABLE_RPS

    L: list[str] = [BEGIN_MARK]
    L.append("# pagerd benchmark results")
    L.append("")
    L.append(
        "Generated by `make bench` (`.venv/bin/python bench/run.py`); this part (up to the `bench:end` marker) is "
        "rewritten on every run, the sections after it are kept. "
        "Raw outputs of this run: `bench/out/` (git-ignored)."
    )
    L.append("")
    if error:
        L.append(f"> **This run did not complete:** {error}. Values below are what was measured before that.")
        L.append("")
    L.append(
        f"- Command: `make bench` → `{Path(PY).relative_to(ROOT) if str(PY).startswith(str(ROOT)) else PY} "
        f"bench/run.py` (BENCH_DURATION={DURATION:g}, BENCH_CONNECTIONS={CONNS}, BENCH_RATE={RATE:g}, "
        f"BENCH_RATE_DURATION={RATE_DURATION:g}, BENCH_INCIDENTS={INCIDENTS})"
    )
    L.append(f"- Date: {meta['date']}; wall time of bench/run.py: {wall:.0f} s")
    v = meta["versions"]
    L.append(
        f"- Versions: Python {v['python']}, aiohttp {v['aiohttp']}, pydantic {v['pydantic']}, "
        f"SQLite {v['sqlite']} (library used by Python; CLI {v['sqlite_cli']}), {v['wrk']}, "
        f"pagerd {v['pagerd']} at git commit {v['commit']}"
    )
    L.append(
        f"- Machine: nproc {v['nproc']}, CPU {v['cpu']}, {v['mem_mb']:,} MB RAM, Linux {v['kernel']}; "
        f"load average at start {meta['load_start']}, at end {meta['load_end']}; {meta.get('quiet', '')}"
    )
    if PIN:
        L.append(
            "- Pinning: every server process (all its threads, including the SQLite writer thread) runs on "
            "CPU 1 (`taskset -c 1`); wrk, the open-loop generator and this script run on CPU 0 "
            "(`taskset -c 0`). So each server has exactly one core."
        )
    else:
        L.append(f"- Pinning: **none** (only {CPUS} CPU); server and load generator share the machine.")
    L.append("- Network: loopback only (127.0.0.1); databases in a fresh temp dir on the local disk.")
    L.append("")
    L.extend(issue17_section(c, b, tc, meta, v["commit"]))
    L.append("## Results")
    L.append("")
    L.append("What the two pagerd servers do (same binary, same `config/pagerd.example.yaml`, fresh database each):")
    L.append("")
    L.append(
        "- **(c) pagerd, full node** (`paging.engine: true`, the default): every webhook is stored and every new "
        "incident is then routed, matched to the on-call engineer and paged (SMS, voice, e-mail per the contact "
        "rules, bundled under the throttles) through the dry-run notifier, which only logs the page. The paging "
        "engine works in the same process and on the same single core as the webhook handler."
    )
    L.append(
        "- **(d) pagerd, webhook-only node** (`PAGERD_PAGING_ENGINE=false` → `paging.engine: false`): takes "
        "webhooks and stores incidents and alerts exactly as (c), but runs no paging engine on this node (a "
        "multi-node deployment runs the engine elsewhere). This is the ingest spine that the issue-2 targets "
        "are about, so the verdicts are given for (d) first; (c) shows what the same core does when it also "
        "pages every new incident."
    )
    L.append("")
    L.append(
        "| Measure | (a) parse-only ceiling | (b) durable ceiling | (c) pagerd full | (d) pagerd webhook-only "
        "| (c) / (a) | (c) / (b) | (d) / (a) | (d) / (b) | Target (issue 2) | (d) | (c) |"
    )
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|")

    def row(
        measure: str,
        va,
        vb,
        vc,
        vd,
        fmt,
        fr: bool = False,
        target: str = "",
        key: str | None = None,
        why: str = "not measured",
    ) -> None:
        fr_txt = f"{frac(vc, va)} | {frac(vc, vb)} | {frac(vd, va)} | {frac(vd, vb)}" if fr else " | | | "
        vtxt = f"{verdict(td[key], why)} | {verdict(tc[key], why)}" if key else " | "
        L.append(f"| {measure} | {fmt(va)} | {fmt(vb)} | {fmt(vc)} | {fmt(vd)} | {fr_txt} | {target} | {vtxt} |")

    row(
        f"Single-alert webhooks/s, {CONNS} connections (2xx/s)",
        rps_a,
        rps_b,
        rps_c,
        rps_d,
        fmt_rate,
        True,
        "≥ 50% of (b) and ≥ 2,000/s" + ("; (d): paired rounds below" if paired.get("ratio") is not None else ""),
        "t1",
    )
    if paired.get("ratio") is not None:
        L.append(
            f"| Single-alert webhooks/s, {CONNS} connections, **paired rounds** of (b) and (d) (mean of "
            f"{len(paired['ratios'])} rounds) | | {fmt_rate(paired['b_rps'])} | | {fmt_rate(paired['d_rps'])} "
            f"| | | | {100 * paired['ratio']:.0f}% | ≥ 50% of (b) and ≥ 2,000/s | {verdict(td['t1'])} | |"
        )
    for lab, ph, k in (
        (f"p50 latency at {CONNS} connections", "single", "lat_p50_us"),
        (f"p99 latency at {CONNS} connections", "single", "lat_p99_us"),
    ):
        row(lab, *(g(x, ph, k) for x in (a, b, c, d)), fmt_ms)
    row(
        f"p99 latency at a fixed {RATE:,.0f} req/s (open loop, from due time)",
        *(g(x, "rate", "lat_p99_us") for x in (a, b, c, d)),
        fmt_ms,
        False,
        "≤ 15 ms",
        "t2",
    )
    row(f"p50 latency at a fixed {RATE:,.0f} req/s", *(g(x, "rate", "lat_p50_us") for x in (a, b, c, d)), fmt_ms)
    row(
        f"Alerts/s in 100-alert Alertmanager batches, {CONNS} connections",
        al_a,
        al_b,
        al_c,
        al_d,
        fmt_rate,
        True,
        "≥ 25,000/s",
        "t3",
    )

    def rss_txt(x: dict, t: dict):
        if t["rss_mb"] is None:
            return None
        return (
            f"{t['rss_mb']:.0f} MB (VmHWM; VmRSS {x['vmrss_kb'] / 1024:.0f} MB) with "
            f"{x.get('rss_rows') or 0:,} incidents stored" + ("" if t["reached"] else " — no fill")
        )

    L.append(
        f"| Peak RSS after ≥ {INCIDENTS:,} incidents (fill on {', '.join(f'({k})' for k in FILL_SERVERS) or 'none'}"
        f" only, to keep `make bench` short) | | | {rss_txt(c, tc) or '–'} | {rss_txt(d, td) or '–'} | | | | | "
        f"≤ 150 MB | {verdict(td['t4'], 'not measured (no fill)')} | {verdict(tc['t4'], 'not measured (no fill)')} |"
    )

    def core_share(res: dict) -> str:
        r = res.get("rate")
        return "" if not r else f" ({100 * r['server_cpu_s'] / r['duration_s']:.0f}%)"

    def cpu_fmt(x):
        return "–" if x is None else f"{x:,.0f} µs"

    L.append(
        "| Server CPU per single-alert request (32 conns; all threads) | "
        + " | ".join(cpu_fmt(cpu_us(x, 'single')) for x in (a, b, c, d))
        + " | | | | | (context) | | |"
    )
    L.append(
        f"| Server CPU per request at a fixed {RATE:,.0f} req/s (share of the core) | "
        + " | ".join(f"{cpu_fmt(cpu_us(x, 'rate'))}{core_share(x)}" for x in (a, b, c, d))
        + " | | | | | (context) | | |"
    )
    L.append(
        "| Server CPU per alert in 100-alert batches | "
        + " | ".join(cpu_fmt(cpu_us(x, 'batch', True)) for x in (a, b, c, d))
        + " | | | | | (context) | | |"
    )
    L.append("")
    if rps_b is not None and (rps_c is not None or rps_d is not None):
        L.append(
            f"Single-alert webhooks: (d) webhook-only reached {frac(rps_d, rps_b)} of the durable ceiling and "
            f"{frac(rps_d, rps_a)} of the parse-only ceiling; (c) full pagerd {frac(rps_c, rps_b)} / "
            f"{frac(rps_c, rps_a)}. Alerts/s in 100-alert batches: (d) {frac(al_d, al_b)} / {frac(al_d, al_a)}, "
            f"(c) {frac(al_c, al_b)} / {frac(al_c, al_a)}. A target marked **missed** is missed in this run."
        )
        L.append("")

    if paired.get("rounds"):
        L.append(
            f"**Paired rounds** (`paired_stage`): after the phases above, (b) and (d) were started again side by side "
            f"on fresh databases, warmed up ({WARMUP:g} s each), then given {PAIRED_SECONDS:g} s of the same "
            f"single-alert load in turn, {PAIRED_ROUNDS} times, alternating which goes first. This machine's speed "
            "drifts by tens of percent within minutes, and the phases above measure (b) and (d) minutes apart; "
            "the paired rounds see the same drift, so the (d) row of the single-alert target is judged on their "
            "ratio (total 2xx of (d) / total 2xx of (b)). The sequential figures stay in the table above."
        )
        L.append("")
        L.append("| round | (b) durable ceiling, 2xx/s | (d) pagerd webhook-only, 2xx/s | (d) / (b) |")
        L.append("|---:|---:|---:|---:|")
        for i, r in enumerate(paired["rounds"], 1):
            L.append(f"| {i} | {fmt_rate(r.get('b'))} | {fmt_rate(r.get('d'))} | {frac(r.get('d'), r.get('b'))} |")
        if paired.get("ratio") is not None:
            L.append(
                f"| all | {fmt_rate(paired['b_rps'])} | {fmt_rate(paired['d_rps'])} | "
                f"**{100 * paired['ratio']:.1f}%** |"
            )
        checks = [f"({k}) {x['verify']['verdict']}" for k, x in paired["res"].items() if x.get("verify")]
        if checks:
            L.append("")
            L.append("Write check of the paired servers (rows = requests sent): " + "; ".join(checks) + ".")
        L.append("")

    disturbed = [
        f"({k}) {r['label']} {100 * r['other_load']:.0f}%"
        for k, res in (("a", a), ("b", b), ("c", c), ("d", d))
        for r in res.get("runs", [])
        if (r.get("other_load") or 0) > 0.15
    ]
    if disturbed:
        L.append(
            "> **Disturbed runs:** other processes took more than 15% of the server's CPU during: "
            + ", ".join(disturbed)
            + ". Throughput and latency of those runs are lower than this machine "
            "gives when quiet; compare the CPU-per-request rows, which depend much less on it."
        )
        L.append("")
    for key, x in (("c", c), ("d", d)):
        if x.get("exit_code") is not None:
            L.append(
                f"({key}) {x['name']} stopped on SIGTERM with exit code {x['exit_code']} after "
                f"{x.get('stop_seconds', 0):.1f} s"
                + (" — **it did not stop within 20 s and was killed with SIGKILL**." if x.get("killed") else ".")
            )
            L.append("")
    pg = meta.get("paging") or {}
    L.append("## Paging latency (webhook arrival → Twilio API request leaving pagerd)")
    L.append("")
    if not pg.get("results"):
        L.append("Not measured in this run (see the error above and `bench/out/paging_latency.txt`).")
    else:
        at100 = next((r for r in pg["results"] if r["rate"] == 100), None)
        ok100 = None if at100 is None or at100["paged"] == 0 else at100["p99_ms"] <= 100.0
        L.append(
            f"Target: p99 ≤ 100 ms at 100 new incidents/s — **{verdict(ok100)[2:-2] if ok100 is not None else 'not measured'}**"
            + (f" (p99 {at100['p99_ms']:.1f} ms)." if at100 else ".")
        )
        L.append("")
        L.append(table_paging(pg["results"]))
        L.append("")
        unpaged = [r for r in pg["results"] if r["not_paged"]]
        if unpaged:
            L.append(
                "> **Not every incident was paged within the drain time:** "
                + ", ".join(f"{r['rate']:,.0f}/s: {r['not_paged']:,} of {r['incidents']:,}" for r in unpaged)
                + ". Their latency is not in the percentiles above (which are then too good)."
            )
            L.append("")
        L.append(
            f"`bench/paging_latency.py`, run by this script after the four servers: its own pagerd (full node, "
            "paging engine on) on a temp copy of `config/pagerd.example.yaml` with two changes — contact rules "
            "SMS only (`[{channel: sms, after: 0m}]`) and throttles 100,000 per 1m — and the Twilio notifier "
            "pointed at a fake Twilio REST API on loopback (`PAGERD_TWILIO_API_BASE`; `TWILIO_ACCOUNT_SID`=AC+32×a, "
            "`TWILIO_FROM`=+15005550006) that answers `Messages.json`/`Calls.json` with 201 and a Twilio-like body "
            "(unique sid, status `queued`) and records each request's arrival time, `To` and `Body`. Load: an open-"
            "loop client sends single-alert Alertmanager webhooks at the fixed rate (each its own group, label "
            "`customer=agency` → project agency/infra, coverage always), after a 1 s warm-up at 20/s that is not "
            "reported. Latency per incident = arrival at the fake Twilio of the SMS request that carried it − the "
            "client's send time of the webhook that opened it. All pages go to one phone (the on-call engineer), "
            "so when several incidents are pending at one engine tick pagerd bundles them into one SMS "
            "(\"N new incidents for …\"); each incident of a bundle gets the bundle request's time. Which request "
            "carried which incident is taken from pagerd's outbox after it stopped (`bundle_id` → carrier row → "
            "`provider_id` = the sid the fake answered); the \"incidents per SMS\" columns come from parsing the "
            "bodies (`[pagerd #ID]` = 1, `N new incidents` = N). pagerd on CPU 1; the client and the fake Twilio "
            f"share CPU 0. Load average before: {pg.get('loadavg_before', '?')}; CPU 1 busy during the stage "
            f"(pagerd + others): {100 * pg.get('cpu1_busy_share', 0):.0f}%; wall {pg.get('wall_s', 0):.0f} s; "
            f"pagerd exit code {pg.get('pagerd_exit')}; voice requests: {pg.get('voice_requests', 0)}. "
            "Log: `bench/out/server-paging.log`."
        )
    L.append("")
    oc = meta.get("oncall") or {}
    L.append("## Who is on call (issue 3): `bench/bench_oncall.py`")
    L.append("")
    if not oc.get("rows"):
        L.append("Not measured in this run (see `bench/out/bench_oncall.txt`).")
    else:
        ok1 = None if oc["worst_oncall_us"] is None else oc["worst_oncall_us"] <= 50
        ok2 = None if oc["worst_shifts_us"] is None else oc["worst_shifts_us"] <= 20_000
        L.append(
            f"Targets: `on_call` ≤ 50 µs per lookup — **{'met' if ok1 else 'missed' if ok1 is not None else 'not measured'}** "
            f"(worst case below {oc['worst_oncall_us']:.1f} µs); a year of `shifts()` for one rotation ≤ 20 ms — "
            f"**{'met' if ok2 else 'missed' if ok2 is not None else 'not measured'}** (worst case below "
            f"{(oc['worst_shifts_us'] or 0) / 1000:.2f} ms). Pinned to CPU 1 after the servers stopped. "
            f"{oc['header']}."
        )
        L.append("")
        L.append("| case | pagerd | naive walk from start | speed-up |")
        L.append("|---|---:|---:|---:|")
        for r in oc["rows"]:
            L.append("| " + " | ".join(r) + " |")
        import re

        colds = [
            f"{m.group(0)} ({r[0].split(',')[0].replace('`', '').strip()})"
            for r in oc["rows"]
            for m in [re.search(r"(cold|new calendar) [0-9.,]+ (µs|ms)", r[0])]
            if m
        ]
        if colds:
            L.append("")
            L.append(
                "The targets are judged on the measured columns (warm calendar). The case labels also name "
                "one-off cold figures, which the targets do not count but an operator may meet once per process "
                "or calendar: " + "; ".join(colds) + "."
            )
    L.append("")
    sb = meta.get("statements") or {}
    L.append("## Monthly statements (issue 5): `bench/bench_statements.py`")
    L.append("")
    if not sb.get("rows"):
        L.append("Not measured in this run (see `bench/out/bench_statements.txt`).")
    else:
        secs = sb.get("shared_s")
        verdict = "not measured" if secs is None else "met" if secs <= 2.0 else "missed"
        L.append(
            f"Target: a year of statements for 100 customers (1,200 statements) ≤ 2 s — **{verdict}**"
            f"{'' if secs is None else f' ({secs:.3f} s)'}. Pinned to CPU 1 after the servers stopped. "
            f"{sb.get('header', '')}"
        )
        L.append("")
        L.append("| variant | statements | total (s) | per statement (ms) | target ≤ 2 s |")
        L.append("|---|---:|---:|---:|---|")
        for r in sb["rows"]:
            L.append("| " + " | ".join(r) + " |")
    L.append("")
    L.append("## Write check (a benchmark that loses writes is void)")
    L.append("")
    L.append(
        "After each durable server was stopped (SIGTERM, by PID), its database was opened with `sqlite3`. "
        "wrk stops with requests still in flight: the server commits them, but wrk never sees the answer. "
        "So the exact check is *rows = requests sent*, which implies *rows ≥ 2xx answers*; "
        "the difference rows − 2xx must equal the requests wrk left unanswered at its stop. "
        "(wrk calls `request()` once on its first thread to check the script and never sends that one; "
        "it is not counted as sent.)"
    )
    L.append("")
    L.append(
        "| Server | rows stored | distinct keys | requests sent | 2xx answers | non-2xx | unanswered at wrk stop "
        "| alert rows / expected | Result |"
    )
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for key, res in (("b", b), ("c", c), ("d", d)):
        vv = res.get("verify")
        if not vv:
            continue
        table = "incidents" if key in ("c", "d") else "deliveries"
        L.append(
            f"| ({key}) {res['name']} (`{table}`) | {vv['rows']:,} | {vv['distinct_keys']:,} | {vv['sent']:,} | "
            f"{vv['ok_2xx']:,} | {vv['non_2xx']} | {vv['unanswered']} | {vv['alerts_rows']:,} / "
            f"{vv['expected_alerts']:,} | {vv['verdict']} |"
        )
    L.append("")
    L.append("## Per-run detail")
    L.append("")
    L.append(
        "| Server | run | duration | 2xx | 2xx/s | p50 | p90 | p99 | max | non-2xx | socket errors | "
        "server CPU | other load on server's CPU | load avg before |"
    )
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for key, res in (("a", a), ("b", b), ("c", c), ("d", d)):
        for r in res.get("runs", []):
            if "target_rate" in r:
                L.append(
                    f"| ({key}) | {r['label']} | {r['duration_s']:.0f} s | {r['ok_2xx']:,} | "
                    f"{r['achieved_send_rate']:,.0f} sent/s | {fmt_ms(r['lat_p50_us'])} | "
                    f"{fmt_ms(r['lat_p90_us'])} | {fmt_ms(r['lat_p99_us'])} | {fmt_ms(r['lat_max_us'])} | "
                    f"{r['non_2xx']} | {sum(r['errors'].values())} | {r['server_cpu_s']:.1f} s | "
                    f"{pct_txt(r.get('other_load'))} | {r['loadavg_before']} |"
                )
            else:
                L.append(_detail_row(key, r["label"], r))
    L.append("")
    ra = a.get("rate")
    L.append("## Method")
    L.append("")
    L.append(
        f"- Load generator for throughput: Debian `wrk` ({v['wrk']}), `-t2 -c{CONNS}`, {DURATION:g} s per run "
        f"after a {WARMUP:g} s warm-up, scripts `bench/single.lua` and `bench/batch.lua`. Each single-alert "
        "request is an Alertmanager v4 webhook with its own `groupKey` and `fingerprint` "
        "(`<run>-<thread>-<n>`), so every request opens a new incident in pagerd (`dedup_by: group_key`). "
        "Each batch request is one group of 100 firing alerts (own groupKey, 100 own fingerprints): one incident "
        "with 100 alerts in pagerd. All four servers get the same bodies. The thread identities are globals "
        "set by `thread:set()` (no chunk-level `local` shadows them); the write check above proves uniqueness "
        "(distinct keys = rows)."
    )
    L.append(
        f"- Fixed rate: wrk 4.1 cannot hold a fixed rate (wrk2 is not in Debian) and a Lua `delay()` only "
        "spaces requests after each answer, so it slows down with the server and hides queueing "
        f"(coordinated omission). `bench/openloop.py` (aiohttp client, bounded: exactly "
        f"{int(RATE * RATE_DURATION):,} requests, 10 s timeout each) starts request *i* at t0 + i/{RATE:g} s "
        "whatever the answers do and measures latency from that due time. Its own floor is the parse-only "
        "server's number"
        + (
            f" (p99 {fmt_ms(ra['lat_p99_us'])}; the generator started requests up to "
            f"{fmt_ms(ra['lag_p99_us'])} late at p99)"
            if ra
            else ""
        )
        + "."
    )
    L.append(
        "- Server CPU: utime+stime of the server process from `/proc/PID/stat` across a run, divided by the "
        "requests (or alerts) sent; it does not depend on other load on the machine the way throughput does."
    )
    L.append(
        f"- RSS: the server(s) in BENCH_FILL ({', '.join(FILL_SERVERS) or 'none'}) kept running after the measured phases and got single-alert wrk load in at most "
        f"{FILL_MAX_ROUNDS} bounded rounds until ≥ {INCIDENTS:,} incidents were stored (counted with `sqlite3` "
        "on its WAL database); then `VmHWM` (peak resident set) and `VmRSS` were read from `/proc/PID/status`. "
        "VmHWM covers the whole life of the process, including the 100-alert batch phase."
    )
    L.append(
        "- (b) stores per request the raw body and one row per alert (group key, fingerprint, status, labels) "
        "with one writer thread, group commit (up to 2,000 requests per transaction), WAL, synchronous=FULL, "
        "and answers after the commit. (c) runs unchanged on `config/pagerd.example.yaml` (synchronous FULL, "
        "structured logging to a file: `bench/out/server-c.log`). (d) is the same command and config with "
        "`PAGERD_PAGING_ENGINE=false` (`bench/out/server-d.log`)."
    )
    L.append(
        "- Noise: the machine is shared (other sessions' test suites may run at the same time) and pinning does "
        "not keep other processes off CPU 1. \"Other load on server's CPU\" in the per-run table is the busy time "
        "of CPU 1 (`/proc/stat`) minus the server's own CPU time, as a share of the run: the CPU that other "
        "processes (and kernel threads, e.g. the file system journal working for the server's fsyncs) took from "
        "the server's core. Throughput and tail latency move with it; CPU per request much "
        "less."
    )
    L.append("")
    L.append(END_MARK)
    section = "\n".join(L) + "\n"
    # only this script's section is rewritten; the sections other scripts or people wrote are kept
    text = RESULTS.read_text() if RESULTS.exists() else ""
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        tail = rest.split(END_MARK, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = section + ("\n" + text if text.strip() else "")
    RESULTS.write_text(text)


def issue17_section(c: dict, b: dict, tc: dict, meta: dict, commit: str) -> list[str]:
    """The full node first (issue 17): each target of its list, what this run measured, met or missed."""

    def verdict(ok: bool | None, why: str = "not measured in this run") -> str:
        return why if ok is None else ("**met**" if ok else "**missed**")

    rows: list[tuple[str, str, str, str]] = []  # measure, target, this run, verdict
    idle = ((meta.get("idle") or {}).get("pooled") or {}).get("this tree")
    if idle and idle.get("paged"):
        ok = idle["p50_ms"] <= T17_IDLE_P50_MS and idle["p99_ms"] <= T17_IDLE_P99_MS
        got = (
            f"p50 {idle['p50_ms']:.1f} ms, p99 {idle['p99_ms']:.1f} ms, max {idle['max_ms']:.1f} ms "
            f"({idle['paged']} of {idle['incidents']} paged)"
        )
        rows.append(
            (
                "Idle time to page (webhook → Twilio request), 50 incidents 200 ms apart",
                "p50 ≤ 10 ms, p99 ≤ 20 ms",
                got,
                verdict(ok),
            )
        )
    else:
        rows.append(("Idle time to page, 50 incidents 200 ms apart", "p50 ≤ 10 ms, p99 ≤ 20 ms", "–", verdict(None)))
    rps_b, rps_c = (x.get("single", {}).get("rps_2xx") for x in (b, c))
    paged = c.get("paged") or {}
    if rps_b and rps_c is not None and paged:
        ok = rps_c >= TARGET_FRACTION_DURABLE * rps_b and rps_c >= TARGET_MIN_DURABLE_RPS and paged["ok"]
        got = (
            f"{rps_c:,.0f}/s = {100 * rps_c / rps_b:.0f}% of (b) {rps_b:,.0f}/s; every incident paged: "
            f"{paged['with_sms']:,} of {paged['incidents']:,} have their SMS page in the outbox "
            f"({paged['sms_out']:,} out in {paged['sms_requests']:,} SMS, {paged['sms_waiting']:,} bundled for "
            f"the next throttle slot; the last queued {paged['paging_wait_s']:.0f} s after the load ended)"
        )
        rows.append(
            (
                f"Full node, single-alert webhooks, {CONNS} connections",
                "≥ 50% of (b) and ≥ 2,000/s, every incident paged",
                got,
                verdict(ok),
            )
        )
    else:
        rows.append(
            (
                f"Full node, single-alert webhooks, {CONNS} connections",
                "≥ 50% of (b) and ≥ 2,000/s, every incident paged",
                "–",
                verdict(None),
            )
        )
    at = next((r for r in (meta.get("paging") or {}).get("results", []) if r["rate"] == T17_RATE), None)
    if at is not None and at["incidents"]:
        ok = (
            at["webhook_p99_ms"] <= T17_WEBHOOK_P99_MS
            and at["p99_ms"] <= T17_PAGE_P99_MS
            and at["not_paged"] == 0
            and at["webhook_2xx"] == at["webhooks_sent"]
        )
        got = (
            f"{at['duration_s']:g} s at {at['achieved_send_rate']:,.0f}/s, {at['webhook_2xx']:,} of "
            f"{at['webhooks_sent']:,} webhooks answered 2xx: webhook p99 {at['webhook_p99_ms']:.1f} ms, "
            f"time to page p99 {at['p99_ms']:.0f} ms (max {at['max_ms']:.0f} ms), {at['paged']:,} of "
            f"{at['incidents']:,} incidents on a Twilio request ({at['sms_requests']:,} SMS)"
        )
        rows.append(
            (
                f"Full node at a fixed {T17_RATE:,} new incidents/s, open loop, fake Twilio",
                "webhook p99 ≤ 15 ms, time to page p99 ≤ 250 ms, every incident on a Twilio request",
                got,
                verdict(ok),
            )
        )
    else:
        rows.append(
            (
                f"Full node at a fixed {T17_RATE:,} new incidents/s",
                "webhook p99 ≤ 15 ms, time to page p99 ≤ 250 ms",
                "–",
                verdict(None),
            )
        )
    st = meta.get("storm") or {}
    if st:
        ok = st["all_stored"] and st["all_paged_once"]
        got = (
            f"{st['stored']:,} of {st['notifications']:,} stored, {st['incidents_in_sms_bodies']:,} paged once in "
            f"{st['sms_requests']:,} SMS; webhook p50 / p99 {st['webhook_p50_ms']:.1f} / {st['webhook_p99_ms']:.1f} ms; "
            f"time to page p99 {st['page_p99_ms']:.0f} ms"
        )
        rows.append(
            (
                f"Nagios storm: {st['notifications']:,} PROBLEM notifications, {st['hosts']:,} hosts, {st['seconds']:g} s",
                "all stored, all paged in bundles, webhook p99 reported",
                got,
                verdict(ok),
            )
        )
    else:
        rows.append(("Nagios storm", "all stored, all paged in bundles", "–", verdict(None)))
    ec = meta.get("engine_cpu") or {}
    if ec.get("us_per_incident") is not None:
        us = float(ec["us_per_incident"])
        rows.append(
            (
                "Engine CPU per new incident (paging work only)",
                "≤ 100 µs",
                f"{us:,.0f} µs (bench/engine_cpu.py)",
                verdict(us <= T17_ENGINE_CPU_US),
            )
        )
    else:
        rows.append(
            (
                "Engine CPU per new incident (paging work only)",
                "≤ 100 µs",
                "– (bench/engine_cpu.py gave no figure: see bench/out/)"
                if ENGINE_CPU.exists()
                else "– (no bench/engine_cpu.py)",
                verdict(None),
            )
        )
    if tc.get("rss_mb") is not None:
        got = f"{tc['rss_mb']:.0f} MB (VmHWM) with {c.get('rss_rows') or 0:,} incidents stored"
        rows.append(
            (
                f"Peak RSS of the full node after {INCIDENTS:,} incidents",
                "≤ 150 MB",
                got,
                verdict(tc["t4"], "not measured (no fill of (c))"),
            )
        )
    else:
        rows.append((f"Peak RSS of the full node after {INCIDENTS:,} incidents", "≤ 150 MB", "–", verdict(None)))
    L = [
        "## The full node (issue 17)",
        "",
        f"Run of {meta['date']} at git commit {commit}; load average at start {meta['load_start']}, at end "
        f"{meta['load_end']}. The full node is (c) below (`paging.engine: true`, `config/pagerd.example.yaml`, "
        "the dry-run notifier) or, where a Twilio request is measured, the same with the Twilio notifier pointed "
        "at a fake Twilio REST API on loopback (`bench/paging_latency.py`, `bench/storm.py`).",
        "",
        "| Measure | Target | This run | Verdict |",
        "|---|---|---|---|",
    ]
    L += [f"| {m} | {t} | {g} | {v} |" for m, t, g, v in rows]
    L.append("")
    if st:
        L.append(
            f"**The Nagios storm** (`bench/storm.py`, load average {st.get('loadavg_before', '?')} before): "
            "one PROBLEM notification per host and service, open loop, as the HTTP form of "
            f"`deploy/nagios/pagerd-notify` ({st['by_notify_script']} of them by running the script itself); "
            "the full node on the example config with throttles of 100,000 per minute (each bundle goes out when "
            "the engine makes it), e-mail through the dry-run notifier."
        )
        L.append("")
        sys.path.insert(0, str(BENCH))
        from storm import table as storm_table

        L.append(storm_table(st))
        L.append("")
    return L


def table_paging(results: list[dict]) -> str:
    sys.path.insert(0, str(BENCH))
    from paging_latency import table

    return table(results)


def _detail_row(key: str, name: str, r: dict) -> str:
    return (
        f"| ({key}) | {name} | {r['seconds']:.1f} s | {r['ok_2xx']:,} | {r['rps_2xx']:,.0f} | "
        f"{fmt_ms(r['lat_p50_us'])} | {fmt_ms(r['lat_p90_us'])} | {fmt_ms(r['lat_p99_us'])} | "
        f"{fmt_ms(r['lat_max_us'])} | {r['non_2xx']} | {r['errors_total']} | {r['server_cpu_s']:.1f} s | "
        f"{pct_txt(r.get('other_load'))} | {r['loadavg_before']} |"
    )


def pct_txt(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def paging_stage(errors: list[str]) -> dict:
    """bench/paging_latency.py: webhook arrival -> Twilio request (fake Twilio on loopback), own pagerd."""
    argv = [
        PY,
        str(BENCH / "paging_latency.py"),
        "--rates",
        PAGING_RATES,
        "--durations",
        PAGING_DURATIONS,
        "--server-cpu",
        SERVER_CPU,
        "--client-cpu",
        CLIENT_CPU,
        "--json",
        str(OUT / "paging_latency.json"),
        "--log",
        str(OUT / "server-paging.log"),
    ]
    log("paging latency: " + " ".join(argv[1:]))
    la, busy0, t0 = loadavg(), cpu_busy_seconds(SERVER_CPU), time.monotonic()
    timeout = max(60.0, min(240.0, remaining() - 15))
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        errors.append(f"paging latency stage did not finish within {timeout:.0f} s")
        return {}
    wall = time.monotonic() - t0
    (OUT / "paging_latency.txt").write_text(" ".join(argv) + "\n\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0:
        errors.append(f"paging latency stage failed ({proc.returncode}): {proc.stderr[-400:]}")
        return {}
    out = parse_benchjson(proc.stdout)
    out.update({"loadavg_before": la, "wall_s": wall, "cpu1_busy_share": (cpu_busy_seconds(SERVER_CPU) - busy0) / wall})
    for r in out["results"]:
        log(
            f"  paging {r['rate']:6.0f}/s: p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms max {r['max_ms']:.1f} ms, "
            f"{r['sms_requests']} SMS for {r['incidents']} incidents"
        )
    return out


def bench_json_stage(name: str, argv: list[str], timeout: float, errors: list[str]) -> dict:
    """One benchmark script of bench/ that prints `BENCHJSON {...}`: its output in bench/out/NAME.txt."""
    log(f"{name}: " + " ".join(str(a) for a in argv[1:]))
    la, busy0, t0 = loadavg(), cpu_busy_seconds(SERVER_CPU), time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        errors.append(f"{name} did not finish within {timeout:.0f} s")
        return {}
    wall = time.monotonic() - t0
    (OUT / f"{name}.txt").write_text(" ".join(str(a) for a in argv) + "\n\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0:
        errors.append(f"{name} failed ({proc.returncode}): {proc.stderr[-400:]}")
        return {}
    out = parse_benchjson(proc.stdout)
    out.update(
        {
            "loadavg_before": la,
            "loadavg_after": loadavg(),
            "wall_s": wall,
            "cpu1_busy_share": (cpu_busy_seconds(SERVER_CPU) - busy0) / wall,
        }
    )
    return out


def idle_stage(errors: list[str]) -> dict:
    """bench/paging_latency.py --idle: 50 incidents 200 ms apart, webhook arrival -> Twilio request."""
    argv = [PY, str(BENCH / "paging_latency.py"), "--idle", "--server-cpu", SERVER_CPU, "--client-cpu", CLIENT_CPU]
    out = bench_json_stage("paging_idle", argv, max(60.0, min(180.0, remaining() - 15)), errors)
    this = (out.get("pooled") or {}).get("this tree")
    if this:
        log(f"  idle time to page: p50 {this['p50_ms']:.1f} ms, p99 {this['p99_ms']:.1f} ms, {this['paged']} paged")
    return out


def storm_stage(errors: list[str]) -> dict:
    """bench/storm.py: the Nagios storm against its own full node and fake Twilio."""
    argv = [
        PY,
        str(BENCH / "storm.py"),
        "--hosts",
        str(STORM_HOSTS),
        "--services",
        str(STORM_SERVICES),
        "--seconds",
        f"{STORM_SECONDS:g}",
        "--script-sample",
        str(STORM_SCRIPTS),
        "--server-cpu",
        SERVER_CPU,
        "--client-cpu",
        CLIENT_CPU,
        "--log",
        str(OUT / "server-storm.log"),
    ]
    out = bench_json_stage("storm", argv, max(90.0, min(240.0, remaining() - 15)), errors)
    if out:
        log(
            f"  storm: {out['stored']:,}/{out['notifications']:,} stored, {out['incidents_in_sms_bodies']:,} in "
            f"{out['sms_requests']:,} SMS, webhook p99 {out['webhook_p99_ms']:.1f} ms, "
            f"page p99 {out['page_p99_ms']:.0f} ms"
        )
    return out


# Engine CPU per new incident (paging work only) is measured by bench/engine_cpu.py where the tree has it.
# HOOK: its contract here is a `BENCHJSON {...}` line with `us_per_incident` (CPU µs of the engine per new
# incident); without the script, the row says "not measured in this run".
ENGINE_CPU = BENCH / "engine_cpu.py"


def engine_cpu_stage(errors: list[str]) -> dict:
    if not ENGINE_CPU.exists():
        log("engine CPU per incident: bench/engine_cpu.py is not in this tree; not measured in this run")
        return {}
    return bench_json_stage("engine_cpu", pinned(SERVER_CPU, [PY, str(ENGINE_CPU)]), 180.0, errors)


def oncall_stage(errors: list[str]) -> dict:
    """bench/bench_oncall.py (issue 3), on the server CPU (no server runs any more)."""
    argv = pinned(SERVER_CPU, [PY, str(BENCH / "bench_oncall.py")])
    log("on-call benchmark: bench/bench_oncall.py")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    except subprocess.TimeoutExpired:
        errors.append("bench_oncall.py did not finish within 120 s")
        return {}
    (OUT / "bench_oncall.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        errors.append(f"bench_oncall.py failed ({proc.returncode}): {proc.stderr[-400:]}")
        return {}
    rows, worst_oncall, worst_shifts = [], None, None
    import re

    for line in proc.stdout.splitlines():
        if not line.startswith("| ") or line.startswith("| case") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(cells)
        m = re.match(r"([0-9.,]+) (µs|ms)", cells[1])
        if not m:
            continue
        v = float(m.group(1).replace(",", "")) * (1 if m.group(2) == "µs" else 1000)  # µs
        if "on_call" in cells[0]:
            worst_oncall = max(worst_oncall or 0, v)
        elif "shifts()" in cells[0]:
            worst_shifts = max(worst_shifts or 0, v)
    header = next((line for line in proc.stdout.splitlines() if line.startswith("Python ")), "")
    log(f"  on_call worst {worst_oncall} µs, shifts worst {worst_shifts} µs")
    return {"rows": rows, "header": header, "worst_oncall_us": worst_oncall, "worst_shifts_us": worst_shifts}


def statements_stage(errors: list[str]) -> dict:
    """bench/bench_statements.py (issue 5), on the server CPU (no server runs any more)."""
    argv = pinned(SERVER_CPU, [PY, str(BENCH / "bench_statements.py")])
    log("statements benchmark: bench/bench_statements.py")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=ROOT)
    except subprocess.TimeoutExpired:
        errors.append("bench_statements.py did not finish within 180 s")
        return {}
    (OUT / "bench_statements.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        errors.append(f"bench_statements.py failed ({proc.returncode}): {proc.stderr[-400:]}")
        return {}
    rows, shared = [], None
    for line in proc.stdout.splitlines():
        if not line.startswith("| ") or line.startswith("| variant") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(cells)
        if cells[0].startswith("shared"):
            try:
                shared = float(cells[2])
            except ValueError:
                pass
    header = next((line for line in proc.stdout.splitlines() if line.startswith("Python ")), "")
    log(f"  1,200 statements: {shared} s")
    return {"rows": rows, "header": header, "shared_s": shared}


def wait_quiet() -> str:
    """Wait (at most QUIET_WAIT s) until other processes use < 10% of CPU 1 over one second. Bounded."""
    if not PIN:
        return "no pinning"
    deadline = time.monotonic() + QUIET_WAIT
    while True:
        b0, t0 = cpu_busy_seconds(SERVER_CPU), time.monotonic()
        time.sleep(1.0)
        share = (cpu_busy_seconds(SERVER_CPU) - b0) / (time.monotonic() - t0)
        if share < 0.10:
            msg = f"CPU 1 quiet ({100 * share:.0f}% busy) at start"
            break
        if time.monotonic() >= deadline:
            msg = (
                f"CPU 1 still {100 * share:.0f}% busy with other work after waiting {QUIET_WAIT:.0f} s; started anyway"
            )
            break
    log(msg)
    return msg


def main() -> int:
    if not shutil.which("wrk"):
        print("bench: wrk not found; run `scripts/peers.sh install` (Debian package wrk)", file=sys.stderr)
        return 2
    if PIN:
        if not shutil.which("taskset"):
            print("bench: taskset not found (util-linux)", file=sys.stderr)
            return 2
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        if old.is_file():
            old.unlink()
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "versions": versions(),
        "load_start": loadavg(),
    }
    log(f"pinning: {'server CPU 1, load CPU 0' if PIN else 'none (1 CPU)'}; load average {meta['load_start']}")
    meta["quiet"] = wait_quiet()
    all_res: dict[str, dict] = {}
    errors: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="pagerd-bench-"))
    try:
        for server in make_servers(tmp):
            all_res[server.key] = {}
            try:
                bench_server(server, all_res[server.key])
            except (BenchError, subprocess.TimeoutExpired) as exc:
                errors.append(str(exc))
                if remaining() < 30:
                    break
        if remaining() >= 2 * WARMUP + PAIRED_ROUNDS * 2 * (PAIRED_SECONDS + 2) + 60:
            (tmp / "paired").mkdir()
            meta["paired"] = paired_stage(tmp / "paired", errors)
        else:
            errors.append("paired rounds skipped: global deadline")
        if remaining() >= 60:
            meta["paging"] = paging_stage(errors)
        else:
            errors.append("paging latency stage skipped: global deadline")
        if IDLE and remaining() >= 60:
            meta["idle"] = idle_stage(errors)
        elif IDLE:
            errors.append("idle time to page skipped: global deadline")
        if STORM_HOSTS > 0 and remaining() >= 90:
            meta["storm"] = storm_stage(errors)
        elif STORM_HOSTS > 0:
            errors.append("Nagios storm skipped: global deadline")
        meta["engine_cpu"] = engine_cpu_stage(errors)
        meta["oncall"] = oncall_stage(errors)
        meta["statements"] = statements_stage(errors)
    except KeyboardInterrupt:
        errors.append("interrupted")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    error = "; ".join(errors) or None
    meta["load_end"] = loadavg()
    wall = time.monotonic() - T_START
    write_results(all_res, meta, wall, error)
    (OUT / "results.json").write_text(
        json.dumps({"meta": meta, "results": all_res, "wall_s": wall}, indent=1, default=str)
    )
    log(f"wrote {RESULTS.relative_to(ROOT)} in {wall:.0f} s")
    print(RESULTS.read_text())
    bad = [k for k, r in all_res.items() if r.get("verify") and not r["verify"]["ok"]]
    bad += [
        f"paired {k}"
        for k, r in (meta.get("paired") or {}).get("res", {}).items()
        if r.get("verify") and not r["verify"]["ok"]
    ]
    if error or bad:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
