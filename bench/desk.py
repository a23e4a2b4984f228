"""Benchmark of the support desk (issue 14): `make bench-desk` (or `.venv/bin/python bench/desk.py`).

1. Mail intake over LMTP of 20 KB messages on one core. pagerd as a user runs it (`.venv/bin/pagerd serve
   -c config/pagerd.example.yaml`, the paging engine on, so every stored mail is also filed as a ticket on
   the same core) against bench/baseline_lmtp.py (a bare aiosmtpd LMTP handler that writes and fsyncs the
   same bytes: the ceiling), both started in this run and pinned to CPU 1; the load generator runs on
   CPU 0. For each server, one after the other:
   - paced: one message every 1/BENCH_DESK_RATE s (default 50/s) for BENCH_DESK_PACED s, open loop over a
     pool of connections; accept latency = the 250's arrival minus the message's due time (so a server
     that falls behind is charged for the wait).
   - throughput: BENCH_DESK_CONNS (8) connections each sending back to back for BENCH_DESK_SECONDS (10)
     s (at most BENCH_DESK_MAX messages in all); messages answered 250 per second.
   After each pagerd phase the script waits (bounded) until the engine has filed every stored mail, and
   counts what was stored against the 250s received (a benchmark that loses mail is void).
   With BEFORE=<git rev> (`make bench-desk BEFORE=...`) a third server runs in the same phases: pagerd of
   that revision (its tree extracted with `git archive` into bench/out/, run by this tree's venv with
   PYTHONPATH set to it, on its own example config and fresh database), so a change is measured against
   what it changed in the same conditions.
2. Ticket list and full-text search with BENCH_DESK_TICKETS (100,000) tickets and about 10 timeline
   events each (~1,000,000), filled straight into a fresh database (the store's schema; the rows as the
   store writes them), then pagerd started on it: BENCH_DESK_QUERIES (100) requests of each query shape
   over the API (`GET /api/v1/tickets?...`, one keep-alive connection), p50 / p99 measured by the client.
3. RSS of that daemon (VmRSS and VmHWM from /proc) after the queries.

Every loop is bounded in count and time; loopback only. Writes the section between the `desk` markers of
bench/RESULTS.md (the rest of the file is kept) and the raw numbers to bench/out/desk.json.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from run import free_port, write_section  # noqa: E402  (bench/RESULTS.md's sections, one writer for every benchmark; ports)

BENCH = ROOT / "bench"
OUT = BENCH / "out"
BEGIN, END = "<!-- desk:begin -->", "<!-- desk:end -->"
# the venv of this tree (not whichever python runs the script)
VENV = ROOT / ".venv" / "bin"
PAGERD = VENV / "pagerd"
PY = VENV / "python"
CONFIG = ROOT / "config" / "pagerd.example.yaml"
ADMIN = "bench-admin-token-0123456789abcdef"
TOKEN = "bench-webhook-token-0123456789abcdef"
SIGNING_KEY = "bench-signing-key-0123456789abcdef"
SUPPORT = "support@example.nl"
SERVER_CPU, CLIENT_CPU = "1", "0"


def env_num(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


RATE = env_num("BENCH_DESK_RATE", 50)
PACED = env_num("BENCH_DESK_PACED", 20)
CONNS = int(env_num("BENCH_DESK_CONNS", 8))
SECONDS = env_num("BENCH_DESK_SECONDS", 10)
MAX_MSGS = int(env_num("BENCH_DESK_MAX", 20000))
MSG_KB = int(env_num("BENCH_DESK_KB", 20))
TICKETS = int(env_num("BENCH_DESK_TICKETS", 100_000))
EVENTS_PER = int(env_num("BENCH_DESK_EVENTS", 10))  # timeline events per ticket, the 'created' one included
QUERIES = int(env_num("BENCH_DESK_QUERIES", 100))
BEFORE = os.environ.get("BEFORE", "").strip()  # a git revision whose pagerd runs side by side (mail phases)
SKIP = set(os.environ.get("BENCH_DESK_SKIP", "").split(","))  # mail, tickets (a skipped part keeps its last result)
T_START = time.monotonic()


def log(msg: str) -> None:
    print(f"[desk {time.monotonic() - T_START:6.1f}s] {msg}", flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def status_kb(pid: int, key: str) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


# -- servers --------------------------------------------------------------------------------------


class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.proc: subprocess.Popen | None = None
        self.log_path = OUT / f"desk-{name}.log"

    def start(self, ready: callable, timeout: float = 60) -> None:  # type: ignore[valid-type]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *self.argv],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if ready():
                log(f"{self.name} ready (pid {self.proc.pid})")
                return
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"{self.name} not ready within {timeout} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # by PID: the process this script started
                self.proc.wait(timeout=10)
        self._log.close()


def lmtp_ready(port: int) -> callable:  # type: ignore[valid-type]
    def check() -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                return s.recv(100).startswith(b"220")
        except OSError:
            return False

    return check


def http_ready(port: int) -> callable:  # type: ignore[valid-type]
    def check() -> bool:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except OSError:
            return False

    return check


def before_tree(rev: str) -> tuple[Path, str]:
    """The tree of git revision `rev`, extracted into bench/out (kept by commit), and the commit."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    tree = OUT / f"desk-before-{commit[:12]}"
    if not (tree / "pyproject.toml").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True, timeout=120)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True, timeout=120)
    return tree, commit


def pagerd(
    db: Path, http_port: int, mail_port: int, tree: Path = ROOT, name: str = "pagerd", config: Path | None = None
) -> Proc:
    """`pagerd serve` of `tree` on `db` (its example config unless `config`), dry-run notifier, loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGERD_")}
    if tree != ROOT:
        env["PYTHONPATH"] = str(tree)  # that tree's code, this tree's venv
    env.update(
        PYTHONUNBUFFERED="1",
        PAGERD_LISTEN=f"127.0.0.1:{http_port}",
        PAGERD_MAIL_LISTEN=f"127.0.0.1:{mail_port}",
        PAGERD_DB=str(db),
        PAGERD_WEBHOOK_TOKEN=TOKEN,
        PAGERD_ADMIN_TOKEN=ADMIN,
        PAGERD_SIGNING_KEY=SIGNING_KEY,
        PAGERD_PUBLIC_URL=f"http://127.0.0.1:{http_port}",
        PAGERD_NOTIFIER="dry_run",
    )
    return Proc(name, [str(PAGERD), "serve", "-c", str(config or tree / "config" / "pagerd.example.yaml")], env)


# -- the LMTP client --------------------------------------------------------------------------------


def message(i: int, run: str) -> bytes:
    """A 20 KB plain-text request from a known contact; only the Message-ID differs between messages."""
    head = (
        f"From: Jan Pietersen <jan@acme.example>\r\nTo: {SUPPORT}\r\nSubject: Webshop checkout slow, order {i}\r\n"
        f"Date: Fri, 04 Dec 2026 10:00:00 +0100\r\nMessage-ID: <bench-{run}-{i}@acme.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode()
    line = b"Sinds vanochtend is de checkout van de webshop traag; klanten haken af bij de betaalstap. \r\n"
    body = line * ((MSG_KB * 1024 - len(head)) // len(line) + 1)
    raw = head + body[: MSG_KB * 1024 - len(head)]
    raw = raw[: raw.rfind(b"\r\n") + 2]
    return raw.replace(b"\r\n.", b"\r\n..")


class Lmtp:
    def __init__(self, port: int) -> None:
        self.port = port

    async def reply(self) -> bytes:
        last = b""
        while True:
            line = await self.r.readline()
            if not line:
                raise ConnectionError("closed")
            last = line
            if line[3:4] != b"-":
                return last

    async def connect(self) -> None:
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        await self.reply()
        self.w.write(b"LHLO bench.example\r\n")
        await self.reply()

    async def send(self, raw: bytes) -> bool:
        for cmd in (b"MAIL FROM:<jan@acme.example>\r\n", f"RCPT TO:<{SUPPORT}>\r\n".encode(), b"DATA\r\n"):
            self.w.write(cmd)
            rep = await self.reply()
            if rep[:1] not in (b"2", b"3"):
                return False
        self.w.write(raw + b".\r\n")
        rep = await self.reply()
        return rep.startswith(b"250")

    async def close(self) -> None:
        self.w.write(b"QUIT\r\n")
        try:
            await asyncio.wait_for(self.reply(), 2)
        except (TimeoutError, ConnectionError):
            pass
        self.w.close()


async def paced(port: int, run: str, rate: float, seconds: float) -> dict:
    """Open loop: message k is due at start + k/rate; latency from its due time to its 250."""
    n = int(rate * seconds)
    pool: asyncio.Queue[Lmtp] = asyncio.Queue()
    for _ in range(16):
        c = Lmtp(port)
        await c.connect()
        pool.put_nowait(c)
    lat: list[float] = []
    failed = 0
    start = time.perf_counter() + 0.2

    async def one(k: int, due: float) -> None:
        nonlocal failed
        c = await pool.get()
        try:
            ok = await asyncio.wait_for(c.send(message(k, run)), 30)
        except (TimeoutError, ConnectionError):
            failed += 1
            return
        if ok:
            lat.append(time.perf_counter() - due)
        else:
            failed += 1
        pool.put_nowait(c)

    tasks = []
    for k in range(n):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k, due)))
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    while not pool.empty():
        await pool.get_nowait().close()
    return {
        "sent": n,
        "ok": len(lat),
        "failed": failed,
        "p50_ms": 1000 * pct(lat, 50) if lat else None,
        "p99_ms": 1000 * pct(lat, 99) if lat else None,
        "max_ms": 1000 * max(lat) if lat else None,
    }


async def closed_loop(port: int, run: str, conns: int, seconds: float, cap: int) -> dict:
    ok = 0
    failed = 0
    issued = 0
    lat: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal ok, failed, issued
        c = Lmtp(port)
        await c.connect()
        while time.perf_counter() < stop_at and issued < cap:
            issued += 1
            t = time.perf_counter()
            try:
                good = await asyncio.wait_for(c.send(message(issued, run)), 30)
            except (TimeoutError, ConnectionError):
                failed += 1
                return
            if good:
                ok += 1
                lat.append(time.perf_counter() - t)
            else:
                failed += 1
        await c.close()

    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(conns))), seconds + 60)
    wall = time.perf_counter() - t0
    return {
        "ok": ok,
        "failed": failed,
        "wall_s": wall,
        "msg_s": ok / wall,
        "p50_ms": 1000 * pct(lat, 50) if lat else None,
        "p99_ms": 1000 * pct(lat, 99) if lat else None,
    }


def commits(port: int) -> tuple[float, float]:
    """The store's group commits so far and the seconds they took (pagerd's /metrics)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    text = c.getresponse().read().decode()
    c.close()
    got = {}
    for line in text.splitlines():
        for key in ("pagerd_store_commit_duration_seconds_count", "pagerd_store_commit_duration_seconds_sum"):
            if line.startswith(key + " "):
                got[key] = float(line.split()[1])
    return got.get("pagerd_store_commit_duration_seconds_count", 0.0), got.get(
        "pagerd_store_commit_duration_seconds_sum", 0.0
    )


def mail_counts(db: Path) -> dict[str, int]:
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return dict(c.execute("SELECT status, count(*) FROM mail GROUP BY status").fetchall())
    finally:
        c.close()


def wait_filed(db: Path, timeout: float) -> tuple[dict[str, int], float]:
    t0 = time.monotonic()
    counts: dict[str, int] = {}
    while time.monotonic() - t0 < timeout:
        counts = mail_counts(db)
        if counts.get("pending", 0) == 0:
            break
        time.sleep(0.25)
    return counts, time.monotonic() - t0


class Pagerd:
    """One pagerd of the mail phases: its process, HTTP port (metrics) and database."""

    def __init__(self, key: str, tmp: Path, tree: Path = ROOT) -> None:
        self.key, self.hport, self.mport = key, free_port(), free_port()
        self.db = tmp / key / "pagerd.db"
        self.db.parent.mkdir()
        self.proc = pagerd(self.db, self.hport, self.mport, tree, key)

    def start(self) -> None:
        self.proc.start(http_ready(self.hport))
        if not lmtp_ready(self.mport)():
            raise SystemExit(f"{self.key}'s mail listener is not answering")

    def tickets(self) -> int:
        c = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return int(c.execute("SELECT count(*) FROM tickets").fetchone()[0])
        finally:
            c.close()


def mail_stage(tmp: Path, res: dict) -> None:
    bport = free_port()
    base = Proc(
        "baseline_lmtp",
        [str(PY), str(BENCH / "baseline_lmtp.py"), "--listen", f"127.0.0.1:{bport}", "--dir", str(tmp / "baseline")],
        {**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    nodes = [Pagerd("pagerd", tmp)]
    out: dict = {}
    if BEFORE:
        tree, commit = before_tree(BEFORE)
        nodes.append(Pagerd("before", tmp, tree))
        out["before_git"] = commit[:12]
    base.start(lmtp_ready(bport))
    for n in nodes:
        n.start()
    time.sleep(2)  # the engine's first tick (request targets, etc.) done
    out["load_start"] = loadavg()
    servers: list[tuple[str, int, Proc, Pagerd | None]] = [("baseline", bport, base, None)]
    servers += [(n.key, n.mport, n.proc, n) for n in nodes]
    try:
        for name, port, proc, node in servers:
            log(f"{name}: paced {RATE:g}/s for {PACED:g} s")
            c0 = cpu_seconds(proc.pid)
            k0 = commits(node.hport) if node else (0.0, 0.0)
            r = asyncio.run(paced(port, f"{name}-paced", RATE, PACED))
            if node:
                counts, waited = wait_filed(node.db, 120)
                r["filed_after_s"] = waited
                k1 = commits(node.hport)
                r["commits"], r["commit_s"] = k1[0] - k0[0], k1[1] - k0[1]
            r["server_cpu_s"] = cpu_seconds(proc.pid) - c0
            r["load"] = loadavg()
            out[f"{name}_paced"] = r
            log(f"  {r}")
        for name, port, proc, node in servers:
            log(f"{name}: {CONNS} connections back to back for {SECONDS:g} s")
            c0 = cpu_seconds(proc.pid)
            k0 = commits(node.hport) if node else (0.0, 0.0)
            r = asyncio.run(closed_loop(port, f"{name}-tp", CONNS, SECONDS, MAX_MSGS))
            r["server_cpu_s_during"] = cpu_seconds(proc.pid) - c0
            if node:
                counts, waited = wait_filed(node.db, 300)
                r["filed_after_s"] = waited
                k1 = commits(node.hport)
                r["commits"], r["commit_s"] = k1[0] - k0[0], k1[1] - k0[1]
                r["server_cpu_s_with_filing"] = cpu_seconds(proc.pid) - c0
            r["load"] = loadavg()
            out[f"{name}_tp"] = r
            log(f"  {r}")
        for n in nodes:
            out[f"{n.key}_mail"] = mail_counts(n.db)
            out[f"{n.key}_tickets"] = n.tickets()
        out["baseline_files"] = len(list((tmp / "baseline").iterdir()))
        out["pagerd_rss_kb"] = status_kb(nodes[0].proc.pid, "VmRSS")
        out["pagerd_hwm_kb"] = status_kb(nodes[0].proc.pid, "VmHWM")
    finally:
        for n in nodes:
            n.proc.stop()
        base.stop()
    out["load_end"] = loadavg()
    checks, ok = [], True
    for n in nodes:
        sent_ok = out[f"{n.key}_paced"]["ok"] + out[f"{n.key}_tp"]["ok"]
        mail = out[f"{n.key}_mail"]
        stored = sum(mail.values())
        checks.append(f"{n.key}: {sent_ok} answered 250, {stored} stored ({mail}), {out[f'{n.key}_tickets']} tickets")
        ok = ok and stored == sent_ok and mail.get("pending", 0) == 0
    out["write_check"] = "; ".join(
        [*checks, f"baseline: {out['baseline_paced']['ok'] + out['baseline_tp']['ok']} answered 250, "
         f"{out['baseline_files']} files"]
    )  # fmt: skip
    out["write_ok"] = ok
    res["mail"] = out


# -- tickets ----------------------------------------------------------------------------------------

COMMON = (
    "checkout varnish mailbox quota backup restore certificate dns mysql php nginx cache login password invoice "
    "domain ssl cron disk memory"
).split()
T0 = datetime(2024, 1, 1, 8, 0, tzinfo=timezone.utc)
# a desk's history: nearly all closed; 1% live (each live request is judged by the engine's targets stage
# after every start of pagerd, one write each)
STATUSES = ["closed"] * 950 + ["resolved"] * 40 + ["waiting_on_customer"] * 3 + ["open"] * 4 + ["new"] * 3
NOTHING_DUE = "9999-12-31T23:59:59.999999Z"


DESK_PROJECTS = ["acme/webshop"] * 5 + ["acme/intranet"] * 3 + ["agency/infra"] * 1 + [None] * 1


def desk_requester(customer: str | None) -> tuple[str | None, str, str]:
    """The requester (contact id, name, address) of a ticket of `customer`: acme's Jan, else a stranger."""
    return ("acme.jan" if customer == "acme" else None), "Jan Pietersen", "jan@acme.example"


def fill(
    db: Path,
    n: int,
    events_per: int,
    seed: int = 1,
    *,
    projects: Sequence[str | None] = DESK_PROJECTS,
    requester: Callable[[str | None], tuple[str | None, str, str]] = desk_requester,
    staff: Sequence[str] = ("ann",),
    start: datetime = T0,
    events_min: int | None = None,
    statuses: Sequence[str] = STATUSES,
    final_status: bool = False,
) -> dict:
    """n request tickets, one every 15 minutes from `start`, each with events_per timeline entries (or a
    random number from events_min to events_per), in the store's schema. Each ticket's project is drawn
    from `projects` (repeat an entry to weigh it; None: triage), its requester from `requester`, its
    assignee and the staff's entries from `staff`, its status from `statuses` (weighed likewise;
    with final_status a last status entry moves the timeline to it where the drawn entries did not)."""
    from pager.storage import sqlite as S
    from pager.storage.codec import dumps, iso

    rnd = random.Random(seed)
    rare = [f"w{i:04d}x" for i in range(5000)]

    def words(k: int) -> str:
        return " ".join(rnd.choice(COMMON) if rnd.random() < 0.5 else rnd.choice(rare) for _ in range(k))

    def someone() -> str:
        return staff[0] if len(staff) == 1 else rnd.choice(staff)

    S.migrate(str(db), start)
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    tickets, entries, texts, times = [], [], [], []
    n_entries = 0
    for number in range(1, n + 1):
        created = start + timedelta(minutes=15 * number)
        count = events_per if events_min is None else rnd.randint(events_min, events_per)
        at = [iso(created + timedelta(minutes=7 * k)) for k in range(count)]
        status = rnd.choice(statuses)
        project = rnd.choice(projects)
        customer = project.split("/")[0] if project else None
        agent = someone()
        subject = words(5)
        body = words(30)
        doc = [subject, body]
        ents = [(number, at[0], "created", "mail", 1, dumps({"via": "email", "text": body}))]
        prev = "new"
        for k in range(1, count):
            kind = ("reply", "reply", "note", "status", "reply", "time", "assignee", "note", "status", "reply")[
                (k - 1) % 10
            ]
            if kind == "reply":
                t = words(12)
                doc.append(t)
                ents.append(
                    (
                        number,
                        at[k],
                        "reply",
                        "customer" if k % 2 else agent,
                        1,
                        dumps({"text": t, "via": "email", "from_customer": bool(k % 2)}),
                    )
                )
            elif kind == "note":
                t = words(12)
                doc.append(t)
                ents.append((number, at[k], "note", agent, 0, dumps({"text": t})))
            elif kind == "status":
                to = "open" if prev == "new" else status
                ents.append((number, at[k], "status", agent, 1, dumps({"from": prev, "to": to})))
                prev = to
            elif kind == "time":
                times.append((number, "covered", 15, agent, None, at[k]))
                ents.append((number, at[k], "time", agent, 0, dumps({"kind": "covered", "minutes": 15, "note": None})))
            else:
                ents.append((number, at[k], "assignee", agent, 0, dumps({"from": None, "to": agent})))
        if final_status and status not in ("new", prev):  # the timeline ends where the ticket stands
            steps = (["open"] if prev == "new" else []) + (
                ["resolved"] if status == "closed" and prev != "resolved" else []
            )
            for k, to in enumerate([*steps, status] if status not in steps else steps, start=count):
                ents.append(
                    (
                        number,
                        iso(created + timedelta(minutes=7 * k)),
                        "status",
                        agent,
                        1,
                        dumps({"from": prev, "to": to}),
                    )
                )
                prev = to
        entries += ents
        n_entries += len(ents)
        texts.append((number, "\n".join(doc)))
        live = status in ("new", "open", "waiting_on_customer")
        tickets.append(
            (
                number,
                "request",
                "email",
                customer,
                project,
                *requester(customer),
                None,
                agent if status != "new" else None,
                "[]",
                status,
                "normal",
                subject[:200],
                iso(created),
                ents[-1][1],
                ents[-1][1] if status in ("resolved", "closed") else None,
                NOTHING_DUE if live else "",
            )
        )
        if len(entries) >= 50_000 or number == n:
            conn.executemany(
                "INSERT INTO tickets (number, kind, via, customer, project, requester_contact, requester_name, "
                "requester_email, requester_phone, assignee, watchers, status, priority, subject, created_at, "
                "updated_at, resolved_at, targets_next_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                tickets,
            )
            # the timeline trigger sets targets_next_at to '' (due) as the store's writes do
            conn.executemany(
                "INSERT INTO ticket_entries (number, at, kind, actor, public, data) VALUES (?,?,?,?,?,?)", entries
            )
            conn.executemany("INSERT INTO ticket_text (rowid, text) VALUES (?, ?)", texts)
            conn.executemany(
                "INSERT INTO ticket_time (number, kind, minutes, by, note, at) VALUES (?,?,?,?,?,?)", times
            )
            tickets, entries, texts, times = [], [], [], []
    conn.execute("UPDATE ticket_text_indexed SET last = ?", (n,))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"tickets": n, "entries": n_entries, "fill_s": time.perf_counter() - t0, "db_mb": db.stat().st_size / 1e6}


SHAPES = [
    ("list, newest 100", {}),
    ("list status=open", {"status": "open"}),
    ("list status=closed", {"status": "closed"}),
    ("list project=acme/webshop", {"project": "acme/webshop"}),
    ("list status=open project=acme/webshop", {"status": "open", "project": "acme/webshop"}),
    ("list status=new project=agency/infra (rare pair)", {"status": "new", "project": "agency/infra"}),
    ("list triage (project=none)", {"project": "none"}),
    ("list status=new triage", {"status": "new", "project": "none"}),
    ("search one common word", {"q": "varnish"}),
    ("search two common words", {"q": "varnish checkout"}),
    ("search a rare word", {"q": "w0042x"}),
    ("search common + rare word", {"q": "varnish w0042x"}),
    ("search a word no ticket has", {"q": "zzzznothing"}),
    ("search common word, status=open", {"q": "varnish", "status": "open"}),
    ("search common word, project=acme/intranet", {"q": "varnish", "project": "acme/intranet"}),
    (
        "search common word, status=new project=agency/infra",
        {"q": "varnish", "status": "new", "project": "agency/infra"},
    ),
    ("search rare word, status=open", {"q": "w0042x", "status": "open"}),
    ("search common word, triage", {"q": "varnish", "project": "none"}),
]


def query_stage(port: int, n: int, pid: int) -> list[dict]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdr = {"Authorization": f"Bearer {ADMIN}"}
    out = []
    for label, params in SHAPES:
        path = "/api/v1/tickets" + ("?" + urllib.parse.urlencode(params) if params else "")
        times, rows = [], 0
        deadline = time.monotonic() + 60
        cpu0 = 0.0
        for i in range(n + 5):
            if time.monotonic() > deadline:
                break
            t = time.perf_counter()
            c.request("GET", path, headers=hdr)
            r = c.getresponse()
            body = r.read()
            dt = time.perf_counter() - t
            if r.status != 200:
                raise SystemExit(f"{path}: {r.status} {body[:300]!r}")
            if i == 4:
                cpu0 = cpu_seconds(pid)
            if i >= 5:  # 5 warm-up requests
                times.append(dt)
            rows = len(json.loads(body)["tickets"]) if body.startswith(b"{") else len(json.loads(body))
        cpu_ms = 1000 * (cpu_seconds(pid) - cpu0) / max(1, len(times))
        out.append(
            {
                "shape": label,
                "path": path,
                "n": len(times),
                "rows": rows,
                "cpu_ms": cpu_ms,
                "p50_ms": 1000 * pct(times, 50),
                "p99_ms": 1000 * pct(times, 99),
                "max_ms": 1000 * max(times),
            }
        )
        log(f"  {label}: p50 {out[-1]['p50_ms']:.1f} ms, p99 {out[-1]['p99_ms']:.1f} ms ({rows} rows)")
    c.close()
    return out


def due_count(db: Path) -> int:
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(
            c.execute(
                "SELECT count(*) FROM tickets WHERE kind = 'request' AND status IN ('new', 'open', "
                "'waiting_on_customer') AND targets_next_at = ''"
            ).fetchone()[0]
        )
    finally:
        c.close()


def tickets_stage(tmp: Path, res: dict) -> None:
    db = tmp / "tickets" / "pagerd.db"
    db.parent.mkdir()
    log(f"filling {TICKETS} tickets x {EVENTS_PER} events")
    out: dict = {"fill": fill(db, TICKETS, EVENTS_PER)}
    log(f"  {out['fill']}")
    hport = free_port()
    pd = pagerd(db, hport, free_port())
    pd.start(http_ready(hport), timeout=120)
    try:
        out["rss_kb_started"] = status_kb(pd.pid, "VmRSS")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 300 and due_count(db):  # the engine judges the live requests after a start
            time.sleep(0.5)
        out["settle_s"] = time.monotonic() - t0
        out["due_left"] = due_count(db)
        out["load_start"] = loadavg()
        log(f"queries ({QUERIES} of each shape), load {out['load_start']}")
        out["queries"] = query_stage(hport, QUERIES, pd.pid)
        out["load_end"] = loadavg()
        out["rss_kb"] = status_kb(pd.pid, "VmRSS")
        out["hwm_kb"] = status_kb(pd.pid, "VmHWM")
        log(f"RSS {out['rss_kb']} kB, peak {out['hwm_kb']} kB")
    finally:
        pd.stop()
    res["tickets"] = out


# -- results ----------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return rev.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "?"


def before_lines(m: dict) -> list[str]:
    """The pagerd of BEFORE, measured in the same phases of the same run."""
    b, p, x = m["baseline_tp"], m["pagerd_tp"], m["before_tp"]
    bp, pp, xp = m["baseline_paced"], m["pagerd_paced"], m["before_paced"]
    return [
        f"- Side by side in this run, pagerd at {m['before_git']} (before) / this tree (after) / the ceiling: "
        f"p99 accept at {RATE:g}/s {xp['p99_ms']:.1f} / {pp['p99_ms']:.1f} / {bp['p99_ms']:.1f} ms, p50 "
        f"{xp['p50_ms']:.1f} / {pp['p50_ms']:.1f} / {bp['p50_ms']:.1f} ms; back to back {x['msg_s']:.0f} / "
        f"{p['msg_s']:.0f} / {b['msg_s']:.0f} msg/s; CPU per message at {RATE:g}/s (with filing) "
        f"{1000 * xp['server_cpu_s'] / max(1, xp['ok']):.2f} / {1000 * pp['server_cpu_s'] / max(1, pp['ok']):.2f} ms; "
        f"commits per message at {RATE:g}/s {xp['commits'] / max(1, xp['ok']):.2f} / "
        f"{pp['commits'] / max(1, pp['ok']):.2f}; back to back, the backlog filed {x['filed_after_s']:.1f} / "
        f"{p['filed_after_s']:.1f} s after the end ({1000 * x['server_cpu_s_with_filing'] / max(1, x['ok']):.2f} / "
        f"{1000 * p['server_cpu_s_with_filing'] / max(1, p['ok']):.2f} ms CPU per message stored and filed).",
    ]


def write(res: dict, wall: float) -> str:
    L = [BEGIN, "## Support desk (issue 14): `bench/desk.py`", ""]
    L.append(
        f"Generated by `make bench-desk` (`.venv/bin/python bench/desk.py`) on {res['date']} at git "
        f"{res['git']}; wall time {wall:.0f} s; uptime at the start: `{res['uptime_start']}`, at the end: "
        f"`{res['uptime_end']}` (nproc {os.cpu_count()}). Each server pinned to CPU 1 (`taskset -c 1`, all its "
        "threads), the load generator on CPU 0; loopback only; fresh databases in a temp folder. Configuration "
        "measured: `.venv/bin/pagerd serve -c config/pagerd.example.yaml` (paging engine on, so each stored mail "
        "is also parsed and filed as a ticket on the same core; dry-run notifier; `synchronous=FULL`)."
    )
    L.append("")
    m = res.get("mail")
    if m:
        b, p = m["baseline_tp"], m["pagerd_tp"]
        ratio = p["msg_s"] / b["msg_s"]
        bp, pp = m["baseline_paced"], m["pagerd_paced"]
        L += [
            f"### Mail intake over LMTP, {MSG_KB} KB messages, one core",
            "",
            *([f"(Not measured in this run: the run of {m['from_run']}.)", ""] if "from_run" in m else []),
            "| measure | ceiling (`bench/baseline_lmtp.py`: aiosmtpd, write + fsync) | pagerd | pagerd / ceiling | target | verdict |",
            "|---|---:|---:|---:|---|---|",
            f"| messages/s, {CONNS} connections back to back, {SECONDS:g} s | {b['msg_s']:.0f} | {p['msg_s']:.0f} | "
            f"{100 * ratio:.0f}% | ≥ 50% of the ceiling and ≥ 200/s | {verdict(ratio >= 0.5 and p['msg_s'] >= 200)} |",
            f"| p99 accept latency at a paced {RATE:g} msg/s ({int(RATE * PACED)} messages, from due time to 250) | "
            f"{bp['p99_ms']:.1f} ms | {pp['p99_ms']:.1f} ms | | ≤ 50 ms | {verdict(pp['p99_ms'] <= 50)} |",
            f"| p50 accept latency at {RATE:g} msg/s | {bp['p50_ms']:.1f} ms | {pp['p50_ms']:.1f} ms | | | |",
            f"| max accept latency at {RATE:g} msg/s | {bp['max_ms']:.1f} ms | {pp['max_ms']:.1f} ms | | | |",
            f"| p99 per message, back to back ({CONNS} connections) | {b['p99_ms']:.1f} ms | {p['p99_ms']:.1f} ms | | | |",
            f"| server CPU per message at {RATE:g}/s (incl. filing for pagerd) | "
            f"{1000 * bp['server_cpu_s'] / max(1, bp['ok']):.2f} ms | "
            f"{1000 * pp['server_cpu_s'] / max(1, pp['ok']):.2f} ms | | | |",
            "",
            f"- pagerd back to back: the listener's CPU during the {p['wall_s']:.0f} s was "
            f"{p['server_cpu_s_during']:.1f} s; filing the backlog took {p['filed_after_s']:.1f} s more "
            f"({p['server_cpu_s_with_filing']:.1f} s CPU in all, "
            f"{1000 * p['server_cpu_s_with_filing'] / max(1, p['ok']):.2f} ms per message stored and filed).",
            f"- pagerd's store commits per message (`pagerd_store_commit_duration_seconds`, until every mail was "
            f"filed): paced {pp['commits'] / max(1, pp['ok']):.2f} (mean commit {1000 * pp['commit_s'] / max(1, pp['commits']):.1f} ms), "
            f"back to back {p['commits'] / max(1, p['ok']):.2f} (mean commit {1000 * p['commit_s'] / max(1, p['commits']):.1f} ms).",
            *(before_lines(m) if "before_paced" in m else []),
            f"- Write check: {m['write_check']} — {'OK' if m['write_ok'] else 'MISMATCH'}.",
            f"- RSS of that pagerd after the mail phases: {m['pagerd_rss_kb'] / 1024:.0f} MB "
            f"(peak {m['pagerd_hwm_kb'] / 1024:.0f} MB).",
            f"- Load average during the mail phases: {m['load_start']} at the start; after paced: "
            f"{bp['load']} / {pp['load']}; after back to back: {b['load']} / {p['load']}; at the end {m['load_end']}.",
            "",
        ]
    t = res.get("tickets")
    if t:
        f = t["fill"]
        worst = max(q["p99_ms"] for q in t["queries"])
        L += [
            f"### Ticket list and search with {f['tickets']:,} tickets and {f['entries']:,} timeline events",
            "",
            *([f"(Not measured in this run: the run of {t['from_run']}.)", ""] if "from_run" in t else []),
            f"Filled into a fresh database in {f['fill_s']:.0f} s ({f['db_mb']:.0f} MB; subjects of 5 words, "
            "bodies of 30, replies and notes of 12, each word half the time one of 20 common words and else "
            "one of 5,000 rare ones; 95% closed, 4% resolved, 1% live (new, open, waiting_on_customer); projects acme/webshop 50%, "
            "acme/intranet 30%, agency/infra 10%, triage 10%), then pagerd started on it"
            f" (the engine's judging of the live requests after the start took {t['settle_s']:.0f} s and was "
            f"done before the queries; {t['due_left']} left). {QUERIES} requests of each shape "
            "(after 5 warm-up ones), one keep-alive HTTP connection, `GET /api/v1/tickets?…` (default limit "
            f"100), timed by the client. Load average {t['load_start']} at the start, {t['load_end']} at the end.",
            "",
            "| query shape | rows | p50 ms | p99 ms | max ms | daemon CPU ms per request |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for q in t["queries"]:
            L.append(
                f"| {q['shape']} (`{q['path']}`) | {q['rows']} | {q['p50_ms']:.1f} | {q['p99_ms']:.1f} | "
                f"{q['max_ms']:.1f} | {q.get('cpu_ms', 0):.1f} |"
            )
        L += [
            "",
            f"- Target p99 ≤ 50 ms for every shape: worst p99 {worst:.1f} ms — {verdict(worst <= 50)}.",
            f"- RSS of the daemon with this data set, after the queries: VmRSS {t['rss_kb'] / 1024:.0f} MB, peak "
            f"(VmHWM) {t['hwm_kb'] / 1024:.0f} MB (at start {t['rss_kb_started'] / 1024:.0f} MB); target ≤ 200 MB — "
            f"{verdict(t['hwm_kb'] / 1024 <= 200)}.",
            "",
        ]
    L.append(END)
    return write_section("\n".join(L) + "\n", BEGIN, END)


def main() -> int:
    if not PAGERD.exists():
        raise SystemExit(f"{PAGERD} missing: run `make venv` in this tree first")
    OUT.mkdir(exist_ok=True)
    res: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "git": git_rev(),
        "uptime_start": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }
    log(f"uptime: {res['uptime_start']}")
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    with tempfile.TemporaryDirectory(prefix="pagerd-desk-") as d:
        tmp = Path(d)
        if "mail" not in SKIP:
            mail_stage(tmp, res)
        if "tickets" not in SKIP:
            tickets_stage(tmp, res)
    # a part skipped in this run keeps its last measurement (bench/out/desk.json), marked as such
    last = json.loads((OUT / "desk.json").read_text()) if (OUT / "desk.json").exists() else {}
    for part in ("mail", "tickets"):
        if part not in res and part in last:
            res[part] = {**last[part], "from_run": f"{last.get('date')}, git {last.get('git')}"}
    res["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    (OUT / "desk.json").write_text(json.dumps(res, indent=1))
    print(write(res, time.monotonic() - T_START))
    return 0


if __name__ == "__main__":
    sys.exit(main())
