"""pagerd on PostgreSQL: `make bench-postgres` (or `.venv/bin/python bench/postgres.py`). Writes the section
"PostgreSQL" of bench/RESULTS.md between its markers (the rest of the file is kept).

Everything on loopback, against the machine's PostgreSQL server (127.0.0.1:5432, or PAGERD_TEST_PG_PORT:
tests/harness/postgres.py), in databases of the bench's own, created empty and dropped at the end, each
with `synchronous_commit = on` (a commit waits for the server's flush to disk). pagerd runs unchanged on
config/pagerd.example.yaml with PAGERD_STORAGE=postgres: the full node, paging on.

  (a) One node against the ceiling. pagerd (dry-run notifier) beside bench/baseline_asyncpg.py (a bare
      aiohttp handler doing the same group-committed inserts over asyncpg, each request answered after its
      commit), each on a fresh database, in BENCH_ROUNDS paired rounds alternating which goes first; each
      round gives each server wrk -t2 -c32 single-alert webhooks (bench/single.lua) and 100-alert webhooks
      (bench/batch.lua) for BENCH_SECONDS each. 2xx/s, p50/p99, the server process's CPU per request; after
      the rounds each server is stopped and its database counted: every request stored once (rows between
      the 2xx and the requests sent, distinct keys = rows), and every pagerd incident routed and paged.
  (b) Two nodes behind haproxy. Two full nodes (dry run) on one fresh database, and two haproxy processes
      on deploy/haproxy/pagerd.cfg (tests/harness/haproxy.py: loopback addresses put in): one with both
      nodes, one with node 1 only. Paired rounds of single-alert wrk load through each: the throughput and
      p99 of two nodes (the cross-node write lock: one write transaction at a time over all nodes) beside
      one node behind the same proxy. Write check as in (a), over both proxies' requests.
  (c) Takeover. Two full nodes on one fresh database with the Twilio notifier pointed at a fake Twilio
      REST API on loopback (bench/paging_latency.py's: contact rules SMS only, throttles off), behind
      haproxy. BENCH_KILLS times: find the engine lease holder (`pagerd_engine_leader` in /metrics), kill -9
      it, post a new single-alert incident through haproxy at once, and time kill -> the fake Twilio
      receiving that incident's SMS; then restart the killed node (it comes back as the standby) and wait
      until haproxy sees it up. Afterwards: no incident got two SMS.

Pinning (>= 2 CPUs): the pagerd nodes and the ceiling on CPU 1; wrk, haproxy, the fake Twilio and this
script on CPU 0. The PostgreSQL server is the machine's shared one and is not pinned (it runs where the
scheduler puts it; its CPU is not in "CPU per request", which is the pagerd or ceiling process's alone).

Tunables (environment): BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_WARMUP (3), BENCH_KILLS (10),
BENCH_CONNECTIONS (32). Raw outputs (wrk, server logs, haproxy configs) go to bench/out/postgres/.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))
os.environ.setdefault("BENCH_DEADLINE", "900")  # run.py's global deadline for its wrk runs
import paging_latency as PL  # noqa: E402
import psycopg  # noqa: E402
import run as B  # noqa: E402

from tests.harness import postgres as pg  # noqa: E402
from tests.harness.haproxy import HAPROXY_BIN, Haproxy  # noqa: E402

ROUNDS = int(B.env_num("BENCH_ROUNDS", 3))
SECONDS = B.env_num("BENCH_SECONDS", 5)
KILLS = int(B.env_num("BENCH_KILLS", 10))
BEGIN, END = "<!-- postgres:begin -->", "<!-- postgres:end -->"
OUT = B.OUT / "postgres"
TARGET_FRACTION = 0.50  # issue 16: pagerd >= 50% of the asyncpg ceiling
TARGET_TAKEOVER_S = 10.0  # issue 16: kill -9 of the holder -> next page sent
PAGERD_BIN = Path(B.PY).parent / "pagerd"
PAGERD = [str(PAGERD_BIN)] if PAGERD_BIN.exists() else [B.PY, "-m", "pager"]


# -- databases ------------------------------------------------------------------------------------


class Database:
    """A database of the bench's own on the shared server: made empty, synchronous_commit on, dropped."""

    def __init__(self, part: str) -> None:
        self.name = f"pagerd_bench_{os.getpid()}_{part}"
        pg.drop_database(self.name)
        self.dsn = pg.ensure_database(self.name)
        with psycopg.connect(f"{pg.SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" SET synchronous_commit = on')

    def scalar(self, sql: str) -> int:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def drop(self) -> None:
        pg.drop_database(self.name)

    def backend_cpu_seconds(self) -> dict[int, float]:
        """CPU seconds (utime + stime) used so far by each server process serving this database's sessions,
        by PID (the server is on this machine; a session that ended since is not in it)."""
        with psycopg.connect(f"{pg.SERVER}/postgres", autocommit=True) as admin:
            pids = [r[0] for r in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,))]
        out = {}
        for pid in pids:
            try:
                out[pid] = B.proc_cpu_seconds(pid)
            except OSError:  # ended meanwhile
                pass
        return out


def wrk_with_db(server: B.Server, db: Database, res: dict, *args: Any) -> dict | None:
    """run.py's wrk, plus the CPU the database server's processes spent on this server's sessions. None (and
    the run named in res["stalled"]) when the server answered nothing within the run: on a starved CPU one
    group commit of 32 100-alert webhooks can outlast a 5 s run; the requests still count in the write check."""
    before = db.backend_cpu_seconds()
    try:
        r = B.wrk(server, res, *args)
    except B.BenchError as exc:
        if not res["runs"] or res["runs"][-1]["requests"] != 0:
            raise
        res.setdefault("stalled", []).append(f"{res['runs'][-1]['label']}: {exc}")
        return None
    after = db.backend_cpu_seconds()
    r["db_cpu_s"] = sum(after.values()) - sum(before.values())
    # the busiest session's server process: on pagerd one of its two writers' connections, on the ceiling its
    # one connection. One process runs on one CPU at a time, so its CPU per request bounds the requests per second
    # its connection can carry, whatever its client does.
    r["db_busiest_cpu_s"] = max((after[pid] - before[pid] for pid in after.keys() & before.keys()), default=0.0)
    return r


def server_settings() -> dict[str, str]:
    with psycopg.connect(f"{pg.SERVER}/postgres") as conn:
        out = {"server_version": str(conn.execute("SHOW server_version").fetchone()[0])}  # type: ignore[index]
        for name in ("fsync", "wal_sync_method", "shared_buffers", "max_connections"):
            out[name] = str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
    return out


# -- servers --------------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGERD_", "TWILIO_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def pagerd_node(key: str, name: str, db: Database, workdir: Path, config: Path = B.CONFIG, **extra: str) -> B.Server:
    """A pagerd full node on `db` (the example config, PAGERD_STORAGE=postgres); dry-run notifier unless
    `extra` says otherwise (the Twilio variables)."""
    port = B.free_port()
    env = dict(
        base_env(),
        PAGERD_LISTEN=f"127.0.0.1:{port}",
        PAGERD_MAIL_LISTEN=f"127.0.0.1:{B.free_port()}",  # the example config's mail listener, a port of its own
        PAGERD_STORAGE="postgres",
        PAGERD_PG_DSN=db.dsn,
        PAGERD_WEBHOOK_TOKEN=B.TOKEN,
        PAGERD_ADMIN_TOKEN=B.ADMIN,
        PAGERD_SIGNING_KEY=B.SIGNING_KEY,
        PAGERD_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    env.update(extra or {"PAGERD_NOTIFIER": "dry_run"})
    s = B.Server(key, name, [*PAGERD, "serve", "-c", str(config)], env, port, None, workdir)
    s.log_path = OUT / f"server-{key}.log"
    return s


def ceiling(db: Database, workdir: Path) -> B.Server:
    port = B.free_port()
    argv = [B.PY, str(BENCH_DIR / "baseline_asyncpg.py"), "--listen", f"127.0.0.1:{port}", "--dsn", db.dsn]
    s = B.Server("ceiling", "asyncpg ceiling", argv, base_env(), port, None, workdir)
    s.log_path = OUT / "server-ceiling.log"
    return s


class Proxied:
    """What wrk is pointed at when it goes through haproxy: the proxy's URL, the nodes' processes (their CPU)."""

    def __init__(self, key: str, name: str, proxy: Haproxy, nodes: list[B.Server]) -> None:
        self.key, self.name, self.nodes = key, name, nodes
        self.url = proxy.url + B.PATH

    @property
    def pid(self) -> int:
        return self.nodes[0].pid

    @property
    def pids(self) -> list[int]:
        return [n.pid for n in self.nodes]


def start_proxy(name: str, nodes: list[B.Server]) -> Haproxy:
    proxy = Haproxy(OUT / f"haproxy-{name}", B.free_port(), [n.port for n in nodes])
    checked = proxy.check()
    if checked.returncode != 0:
        raise B.BenchError(f"haproxy -c refused {proxy.config}: {checked.stdout}{checked.stderr}")
    proxy.start(["taskset", "-c", B.CLIENT_CPU] if B.PIN else None)
    return proxy


def wait_proxy_up(proxy: Haproxy, timeout: float = 15.0) -> None:
    """Until /readyz answers 200 through the proxy (at least one node up in haproxy's eyes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(proxy.url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise B.BenchError(f"no node up behind haproxy on port {proxy.port} within {timeout:.0f} s")


# -- measures -------------------------------------------------------------------------------------


def per_request_us(r: dict) -> float | None:
    return B.us_per_2xx(r, "server_cpu_s")


def db_per_request_us(r: dict) -> float | None:
    return B.us_per_2xx(r, "db_cpu_s")


def busiest_per_request_us(r: dict) -> float | None:
    return B.us_per_2xx(r, "db_busiest_cpu_s")


def busiest_share(r: dict) -> float | None:
    """The share of the run's wall time the busiest database server process spent on a CPU, in %."""
    return 100 * r["db_busiest_cpu_s"] / r["seconds"] if "db_busiest_cpu_s" in r and r.get("seconds") else None


def both_per_request_us(r: dict) -> float | None:
    """The server process's and the database server's CPU per request together."""
    node, db = per_request_us(r), db_per_request_us(r)
    return node + db if node is not None and db is not None else None


def wait_routed(db: Database, timeout: float = 20.0) -> None:
    """Give the engine time to route and page what the last runs stored (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            db.scalar("SELECT count(*) FROM incidents WHERE id NOT IN (SELECT incident_id FROM escalations)") == 0
            and db.scalar("SELECT count(*) FROM escalations WHERE status = 'active' AND step = -1") == 0
        ):
            return
        time.sleep(0.5)


def paging_check(db: Database) -> str:
    incidents = db.scalar("SELECT count(*) FROM incidents")
    routed = db.scalar("SELECT count(DISTINCT incident_id) FROM escalations")
    paged = db.scalar("SELECT count(DISTINCT incident_id) FROM outbox WHERE kind = 'page'")
    ok = routed == incidents and paged == incidents
    return (
        f"{'OK' if ok else 'NOT ALL PAGED'}: {incidents:,} incidents, {routed:,} routed, {paged:,} with page messages"
    )


def part_a(tmp: Path, out: dict) -> None:
    db_p, db_c = Database("a_pagerd"), Database("a_ceiling")
    servers = [pagerd_node("pagerd", "pagerd (1 node)", db_p, tmp), ceiling(db_c, tmp)]
    dbs = {"pagerd": db_p, "ceiling": db_c}
    res: dict[str, dict] = {s.key: {"name": s.name, "runs": [], "rounds": []} for s in servers}
    out["a"] = res
    try:
        for s in servers:
            s.start()
            B.wrk(s, res[s.key], "single.lua", B.WARMUP, f"aw{s.key[0]}", "warmup")
        for rnd in range(ROUNDS):
            for s in servers if rnd % 2 == 0 else servers[::-1]:
                db = dbs[s.key]
                single = wrk_with_db(s, db, res[s.key], "single.lua", SECONDS, f"as{rnd}{s.key[0]}", f"single{rnd}")
                batch = wrk_with_db(
                    s, db, res[s.key], "batch.lua", SECONDS, f"ab{rnd}{s.key[0]}", f"batch{rnd}", ["100"]
                )
                res[s.key]["rounds"].append({k: v for k, v in (("single", single), ("batch", batch)) if v})
    finally:
        wait_routed(db_p)
        for s in servers:
            res[s.key]["exit_code"] = s.stop()
            if s.proc is not None:
                B.verify(s, res[s.key], dbs[s.key].scalar, pagerd=s.key == "pagerd")
        res["pagerd"]["paging"] = paging_check(db_p)
        B.log(f"(a) pagerd paging check: {res['pagerd']['paging']}")
        db_p.drop()
        db_c.drop()


def part_b(tmp: Path, out: dict) -> None:
    db = Database("b")
    nodes = [pagerd_node(f"node{i}", f"pagerd node {i}", db, tmp) for i in (1, 2)]
    proxies: list[Haproxy] = []
    res: dict[str, dict] = {}
    out["b"] = res
    try:
        for n in nodes:
            n.start()
        one, two = start_proxy("one", nodes[:1]), start_proxy("two", nodes)
        proxies += [one, two]
        targets = [
            Proxied("one", "1 node behind haproxy", one, nodes[:1]),
            Proxied("two", "2 nodes behind haproxy", two, nodes),
        ]
        for t in targets:
            wait_proxy_up(one if t.key == "one" else two)
            res[t.key] = {"name": t.name, "runs": [], "rounds": []}
        time.sleep(2.5)  # haproxy's checks (inter 1s, rise 2) count node 2 up in the two-node proxy
        for t in targets:
            B.wrk(t, res[t.key], "single.lua", B.WARMUP, f"bw{t.key[0]}", "warmup")  # type: ignore[arg-type]
        for rnd in range(ROUNDS):
            for t in targets if rnd % 2 == 0 else targets[::-1]:
                r = B.wrk(t, res[t.key], "single.lua", SECONDS, f"bs{rnd}{t.key[0]}", f"single{rnd}")  # type: ignore[arg-type]
                res[t.key]["rounds"].append({"single": r})
        wait_routed(db)
    finally:
        for p in proxies:
            p.stop()
        for n in nodes:
            n.stop()
        # both proxies' requests went to the same database: one check over all of them
        both = {"runs": [r for k in res for r in res[k]["runs"]]}
        if both["runs"]:
            B.verify(B.Server("b", "2 nodes", [], {}, 0, None, tmp), both, db.scalar, pagerd=True)
            res["verify"] = both["verify"]
        res["paging"] = paging_check(db)
        B.log(f"(b) paging check: {res['paging']}")
        db.drop()


def metric(node: B.Server, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.port}/metrics", timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def leader(nodes: list[B.Server], timeout: float = 30.0) -> B.Server:
    """The one node whose /metrics says it holds the engine lease, once exactly one does (the other standby)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flags = [metric(n, "pagerd_engine_leader") for n in nodes]
        if sorted(flags, key=str) == [0.0, 1.0]:
            return nodes[flags.index(1.0)]
        time.sleep(0.1)
    raise B.BenchError(f"no single engine leader within {timeout:.0f} s")


def post_incident(url: str, n: int) -> tuple[int, list[int]]:
    req = urllib.request.Request(
        url + B.PATH,
        data=PL.webhook_body("kill", n),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {B.TOKEN}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, list(json.loads(r.read()).get("incidents") or [])
    except urllib.error.HTTPError as exc:
        return exc.code, []


def twilio_records(twilio: str, since: int = 0) -> list[dict]:
    with urllib.request.urlopen(f"{twilio}/_records?since={since}", timeout=5) as r:
        return json.loads(r.read())


def wait_sms(twilio: str, since: int, incident: int, timeout: float = 60.0) -> dict | None:
    """The first SMS request at the fake Twilio (after record `since`) that carries `incident`."""
    deadline = time.monotonic() + timeout
    tag = re.compile(rf"#{incident}\b")
    while time.monotonic() < deadline:
        for rec in twilio_records(twilio, since):
            if rec["kind"] == "sms" and tag.search(rec["body"] or ""):
                return rec
        time.sleep(0.02)
    return None


def part_c(tmp: Path, out: dict) -> None:
    db = Database("c")
    cfg = tmp / "pagerd-twilio.yaml"
    PL.write_config(cfg)
    tw_port = B.free_port()
    twilio = f"http://127.0.0.1:{tw_port}"
    tw_env = {
        "TWILIO_ACCOUNT_SID": PL.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": "bench-twilio-auth-token-0123456789",
        "TWILIO_FROM": "+15005550006",
        "PAGERD_TWILIO_API_BASE": twilio,
    }
    nodes = [pagerd_node(f"tnode{i}", f"pagerd node {i} (Twilio)", db, tmp, cfg, **tw_env) for i in (1, 2)]
    res: dict[str, Any] = {"kills": []}
    out["c"] = res
    tw_log = open(OUT / "fake-twilio.log", "wb")
    tw = subprocess.Popen(
        B.pinned(B.CLIENT_CPU, [B.PY, PL.__file__, "--fake-twilio", str(tw_port)]),
        env=base_env(),
        stdout=tw_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proxy: Haproxy | None = None
    try:
        PL.wait_http(f"{twilio}/_records", tw, "fake Twilio")
        for n in nodes:
            n.start()
        proxy = start_proxy("takeover", nodes)
        wait_proxy_up(proxy)
        time.sleep(2.5)  # both nodes counted up by haproxy's checks
        # warm-up: one incident paged end to end (the leader's engine and its Twilio client are running)
        holder = leader(nodes)
        status, incs = post_incident(proxy.url, 0)
        if status != 200 or not incs or wait_sms(twilio, 0, incs[0], 30) is None:
            raise B.BenchError(f"warm-up incident not paged (status {status}, incidents {incs})")
        for k in range(1, KILLS + 1):
            holder = leader(nodes)
            since = len(twilio_records(twilio))
            la = B.loadavg()
            t_kill = time.monotonic()
            assert holder.proc is not None
            holder.proc.kill()  # SIGKILL, by PID
            # as Alertmanager does, a webhook not answered 200 is sent again (bounded: 10 s, 0.1 s apart)
            statuses = []
            while True:
                try:
                    status, incs = post_incident(proxy.url, k)
                except OSError as exc:
                    status, incs = 0, []
                    B.log(f"(c) kill {k}: webhook failed: {exc}")
                statuses.append(status)
                if status == 200 or time.monotonic() - t_kill > 10:
                    break
                time.sleep(0.1)
            t_posted = time.monotonic()
            rec = wait_sms(twilio, since, incs[0], 60) if status == 200 and incs else None
            holder.proc.wait(timeout=10)
            kill = {
                "round": k,
                "killed": holder.key,
                "status": status,
                "statuses": statuses,
                "incident": incs[0] if incs else None,
                "webhook_s": t_posted - t_kill,
                "to_sms_s": (rec["t"] - t_kill) if rec else None,
                "loadavg": la,
            }
            res["kills"].append(kill)
            B.log(
                f"(c) kill {k}: {holder.key} killed, webhook {statuses} in {kill['webhook_s'] * 1000:.0f} ms, "
                + (f"SMS after {kill['to_sms_s']:.2f} s" if rec else "NO SMS within 60 s")
            )
            holder._log.close()
            holder.log_path = OUT / f"server-{holder.key}-restart{k}.log"
            holder.start()  # comes back as the standby
            leader(nodes)
            time.sleep(2.2)  # haproxy counts it up again (inter 1s, rise 2) before the next kill
    finally:
        if proxy is not None:
            proxy.stop()
        for n in nodes:
            n.stop()
        try:
            records = twilio_records(twilio)
        except OSError:
            records = []
        PL.stop(tw)
        tw_log.close()
        # every incident named in an SMS body, how many SMS named it
        named: Counter = Counter()
        for rec in records:
            if rec["kind"] == "sms":
                named.update(set(re.findall(r"#(\d+)", rec["body"] or "")))
        res["sms_requests"] = sum(1 for r in records if r["kind"] == "sms")
        res["incidents_paged"] = len(named)
        res["twice"] = sorted(int(i) for i, c in named.items() if c > 1)
        res["outbox_sent_twice"] = db.scalar(
            "SELECT count(*) FROM (SELECT incident_id FROM outbox WHERE kind = 'page' AND channel = 'sms' "
            "AND status = 'sent' GROUP BY incident_id HAVING count(*) > 1) AS t"
        )
        B.log(
            f"(c) {res['sms_requests']} SMS for {res['incidents_paged']} incidents; "
            f"incidents with two SMS: {res['twice'] or 'none'}"
        )
        db.drop()


# -- the section of bench/RESULTS.md ----------------------------------------------------------------


def cell(xs: list[float], fmt: str) -> str:
    if not xs:
        return "–"
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def col(res: dict, phase: str, f: Any) -> list[float]:
    return [v for v in (f(r[phase]) for r in res.get("rounds", []) if phase in r) if v is not None]


def round_ratios(p: dict, ce: dict, phase: str) -> str:
    """pagerd's 2xx/s over the ceiling's in each round both ran `phase` (their runs are back to back, so a
    drift of the machine's speed between rounds weighs on both sides of each ratio alike)."""
    # a run that failed can leave one side a round short
    pairs = zip(p.get("rounds", []), ce.get("rounds", []), strict=False)
    out = [100 * a[phase]["rps_2xx"] / c[phase]["rps_2xx"] for a, c in pairs if phase in a and phase in c]
    return ", ".join(f"{x:.0f}%" for x in out) or "–"


def write(out: dict, meta: dict) -> str:
    a, b, c = out.get("a", {}), out.get("b", {}), out.get("c", {})
    v = meta["versions"]
    L = [
        BEGIN,
        "## PostgreSQL: one node against the asyncpg ceiling, two nodes behind haproxy, takeover (issue 16)",
        "",
        f"- Command: `make bench-postgres` → `.venv/bin/python bench/postgres.py` (BENCH_ROUNDS={ROUNDS}, "
        f"BENCH_SECONDS={SECONDS:g}, BENCH_WARMUP={B.WARMUP:g}, BENCH_KILLS={KILLS}, "
        f"BENCH_CONNECTIONS={B.CONNS}); wall time {meta['wall_s']:.0f} s",
        f"- Date: {meta['date']}; git {v.get('commit', '?')}; load average at start {meta['load_start']}, "
        f"at end {meta['load_end']}",
        f"- Machine: {v.get('cpu', '?')}, {B.CPUS} CPUs, {v.get('mem_mb', '?')} MB, Linux {v.get('kernel', '?')}; "
        f"Python {v.get('python', '?')}; aiohttp {v.get('aiohttp', '?')}; asyncpg {asyncpg_version()}; wrk {v.get('wrk', '?')}; {meta.get('haproxy', '?')}; PostgreSQL "
        f"{meta['pg'].get('server_version', '?')} (fsync {meta['pg'].get('fsync', '?')}, wal_sync_method "
        f"{meta['pg'].get('wal_sync_method', '?')}, shared_buffers {meta['pg'].get('shared_buffers', '?')})",
        "- Pinning: pagerd nodes and the ceiling on CPU 1; wrk, haproxy, the fake Twilio and the script on CPU 0. "
        "**The PostgreSQL server is the machine's shared one and is not pinned**; its CPU is not counted in "
        "\"CPU per request\" (the pagerd or ceiling process alone, all threads); \"PostgreSQL server CPU per "
        "request\" is the server processes of that database's sessions (from /proc), measured in (a) only. "
        "Each part on fresh databases of its own with `synchronous_commit = on`.",
    ]
    if meta.get("errors"):
        L += ["", "**Errors in this run:** " + "; ".join(meta["errors"])]
    # (a)
    L += ["", "### (a) One node against the asyncpg ceiling", ""]
    if a.get("pagerd", {}).get("rounds") and a.get("ceiling", {}).get("rounds"):
        p, ce = a["pagerd"], a["ceiling"]
        measures = [
            ("Single-alert webhooks/s (2xx/s)", "single", lambda r: r["rps_2xx"], "{:,.0f}", True),
            ("Single-alert p50", "single", lambda r: r["lat_p50_us"] / 1000, "{:.1f} ms", False),
            ("Single-alert p99", "single", lambda r: r["lat_p99_us"] / 1000, "{:.1f} ms", False),
            ("Server CPU per single-alert request", "single", per_request_us, "{:,.0f} µs", False),
            ("PostgreSQL server CPU per single-alert request", "single", db_per_request_us, "{:,.0f} µs", False),
            (
                "Node and database server CPU per single-alert request",
                "single",
                both_per_request_us,
                "{:,.0f} µs",
                False,
            ),
            (
                "Busiest database session's CPU per single-alert request",
                "single",
                busiest_per_request_us,
                "{:,.0f} µs",
                False,
            ),
            ("Busiest database session on a CPU, single-alert runs", "single", busiest_share, "{:.0f}%", False),
            ("Alerts/s in 100-alert webhooks", "batch", lambda r: r["rps_2xx"] * 100, "{:,.0f}", True),
            ("100-alert webhook p50", "batch", lambda r: r["lat_p50_us"] / 1000, "{:.1f} ms", False),
            ("100-alert webhook p99", "batch", lambda r: r["lat_p99_us"] / 1000, "{:.1f} ms", False),
            (
                "Server CPU per alert in 100-alert webhooks",
                "batch",
                lambda r: (per_request_us(r) or 0) / 100 or None,
                "{:.1f} µs",
                False,
            ),
            (
                "PostgreSQL server CPU per alert in 100-alert webhooks",
                "batch",
                lambda r: (db_per_request_us(r) or 0) / 100 or None,
                "{:.1f} µs",
                False,
            ),
            (
                "Node and database server CPU per alert in 100-alert webhooks",
                "batch",
                lambda r: (both_per_request_us(r) or 0) / 100 or None,
                "{:.1f} µs",
                False,
            ),
            (
                "Busiest database session's CPU per alert in 100-alert webhooks",
                "batch",
                lambda r: (busiest_per_request_us(r) or 0) / 100 or None,
                "{:.1f} µs",
                False,
            ),
            ("Busiest database session on a CPU, 100-alert runs", "batch", busiest_share, "{:.0f}%", False),
        ]
        L += [
            f"{ROUNDS} paired rounds (alternating which server goes first), wrk -t2 -c{B.CONNS}, {SECONDS:g} s per "
            "run; each cell the median of the rounds (min–max).",
            "",
            "| Measure | pagerd, 1 node (full node, dry run) | asyncpg ceiling | pagerd / ceiling |",
            "|---|---:|---:|---:|",
        ]
        ratios = {}
        for label, phase, f, fmt, _hb in measures:
            xp, xc = col(p, phase, f), col(ce, phase, f)
            ratio = statistics.median(xp) / statistics.median(xc) if xp and xc else None
            ratios[label] = ratio
            L.append(
                f"| {label} | {cell(xp, fmt)} | {cell(xc, fmt)} | {'–' if ratio is None else f'{100 * ratio:.0f}%'} |"
            )
        rs, rb = ratios["Single-alert webhooks/s (2xx/s)"], ratios["Alerts/s in 100-alert webhooks"]
        L += [
            "",
            f"Target (issue 16): pagerd ≥ {100 * TARGET_FRACTION:.0f}% of the ceiling — single-alert "
            f"{fmt_pct(rs)} (**{'met' if rs and rs >= TARGET_FRACTION else 'missed'}**), 100-alert "
            f"{fmt_pct(rb)} (**{'met' if rb and rb >= TARGET_FRACTION else 'missed'}**).",
            "- Round by round (pagerd's run and the ceiling's of the same round, back to back; the verdict above is "
            f"the ratio of the medians): single-alert {round_ratios(p, ce, 'single')}, 100-alert "
            f"{round_ratios(p, ce, 'batch')}.",
        ]
        L += machine_lines(p, ce)
        L += busiest_lines(p, ce)
    else:
        L.append("Not measured (see errors).")
    for key in ("pagerd", "ceiling"):
        vv = a.get(key, {}).get("verify")
        if vv:
            L.append(
                f"- Write check, {a[key]['name']}: {vv['rows']:,} rows ({vv['distinct_keys']:,} distinct keys), "
                f"{vv['sent']:,} requests sent, {vv['ok_2xx']:,} 2xx, {vv['non_2xx']} non-2xx, alert rows "
                f"{vv['alerts_rows']:,} / {vv['expected_alerts']:,}: {vv['verdict']}."
            )
    for key in ("pagerd", "ceiling"):
        for s in a.get(key, {}).get("stalled", []):
            L.append(f"- Not in the table: {a[key]['name']}, run {s}.")
    if a.get("pagerd", {}).get("paging"):
        L.append(f"- Paging check, pagerd: {a['pagerd']['paging']}.")
    # (b)
    L += ["", "### (b) Two nodes on one database behind haproxy", ""]
    if b.get("one", {}).get("rounds") and b.get("two", {}).get("rounds"):
        one, two = b["one"], b["two"]
        L += [
            f"Single-alert webhooks through haproxy (`deploy/haproxy/pagerd.cfg`, loopback addresses), wrk -t2 "
            f"-c{B.CONNS}, {ROUNDS} paired rounds of {SECONDS:g} s; both nodes are full nodes on one fresh database, "
            "both pinned to CPU 1 (so two nodes share one core here: what they can gain is the time a node waits "
            "for the database, not CPU); haproxy on CPU 0 with wrk. CPU per request: the nodes' processes together.",
            "",
            "| Setup | 2xx/s | p50 | p99 | CPU per request (nodes) |",
            "|---|---:|---:|---:|---:|",
        ]
        rows = [(one["name"], one), (two["name"], two)]
        if a.get("pagerd", {}).get("rounds"):
            rows.insert(0, ("1 node, no proxy (from (a), same machine, other database)", a["pagerd"]))
        for name, r in rows:
            L.append(
                f"| {name} | {cell(col(r, 'single', lambda x: x['rps_2xx']), '{:,.0f}')} | "
                f"{cell(col(r, 'single', lambda x: x['lat_p50_us'] / 1000), '{:.1f} ms')} | "
                f"{cell(col(r, 'single', lambda x: x['lat_p99_us'] / 1000), '{:.1f} ms')} | "
                f"{cell(col(r, 'single', per_request_us), '{:,.0f} µs')} |"
            )
        x1 = col(one, "single", lambda x: x["rps_2xx"])
        x2 = col(two, "single", lambda x: x["rps_2xx"])
        if x1 and x2:
            L += [
                "",
                f"Two nodes / one node behind the same haproxy: {fmt_pct(statistics.median(x2) / statistics.median(x1))}.",
            ]
    else:
        L.append("Not measured (see errors).")
    if b.get("verify"):
        vv = b["verify"]
        L.append(
            f"- Write check (both proxies' requests, one database): {vv['rows']:,} incidents "
            f"({vv['distinct_keys']:,} distinct keys), {vv['sent']:,} requests sent, {vv['ok_2xx']:,} 2xx, "
            f"{vv['non_2xx']} non-2xx: {vv['verdict']}."
        )
    if b.get("paging"):
        L.append(f"- Paging check: {b['paging']}.")
    # (c)
    L += ["", "### (c) kill -9 of the engine lease holder → next page sent", ""]
    kills = c.get("kills") or []
    times = sorted(k["to_sms_s"] for k in kills if k["to_sms_s"] is not None)
    if kills:
        worst = max(times) if times else None
        ok = len(times) == len(kills) and worst is not None and worst <= TARGET_TAKEOVER_S
        L += [
            "Two full nodes with the Twilio notifier pointed at a fake Twilio REST API on loopback "
            "(bench/paging_latency.py's; contact rules SMS only), behind haproxy. Each round: the holder found by "
            "`pagerd_engine_leader`, killed with SIGKILL, a new single-alert incident posted through haproxy at "
            "once; time from the kill to the fake Twilio receiving that incident's SMS. The killed node is "
            "restarted (standby) before the next round.",
            "",
            f"- {len(kills)} kills: p50 **{fmt_s(statistics.median(times) if times else None)}**, max "
            f"**{fmt_s(worst)}**; {len(kills) - len(times)} without an SMS within 60 s. Target (issue 16): ≤ "
            f"{TARGET_TAKEOVER_S:.0f} s — **{'met' if ok else 'missed'}**.",
            f"- Each kill (s): {', '.join(fmt_s(k['to_sms_s']) for k in kills)}; the webhook's answer through "
            f"haproxy took p50 {fmt_s(statistics.median([k['webhook_s'] for k in kills]))}, max "
            f"{fmt_s(max(k['webhook_s'] for k in kills))}; answers {dict(Counter(s for k in kills for s in k['statuses']))} "
            "(a webhook not answered 200 is sent again, as Alertmanager does, 0.1 s apart for at most 10 s; the "
            "time to the SMS includes that).",
            f"- SMS: {c.get('sms_requests', 0)} requests for {c.get('incidents_paged', 0)} incidents; incidents "
            f"with two SMS: {c.get('twice') or 'none'} (outbox: {c.get('outbox_sent_twice', '?')} incidents with "
            "two sent SMS rows).",
        ]
    else:
        L.append("Not measured (see errors).")
    L += [
        "",
        "Raw outputs: `bench/out/postgres/` (wrk output per run, server and haproxy logs, the haproxy configs).",
        END,
    ]
    section = B.write_section("\n".join(L) + "\n", BEGIN, END)
    return section


def machine_lines(p: dict, ce: dict) -> list[str]:
    """What the target asks of the machine: pagerd's CPU per request in this run (its node and the database
    server together) times half the ceiling's requests per second, as a share of all the machine's CPUs; beside
    it the share each server's own runs used, and what the node alone would ask of the one CPU it is pinned to.
    wrk's CPU is not counted (a small share, on CPU 0)."""
    out = []
    for phase, what in (("single", "single-alert webhooks"), ("batch", "100-alert webhooks")):
        cost_p, cost_c = col(p, phase, both_per_request_us), col(ce, phase, both_per_request_us)
        rate_p, rate_c = col(p, phase, lambda r: r["rps_2xx"]), col(ce, phase, lambda r: r["rps_2xx"])
        if not (cost_p and cost_c and rate_p and rate_c):
            continue
        cp, cc, rp, rc = (statistics.median(x) for x in (cost_p, cost_c, rate_p, rate_c))
        at_target = cp * 1e-6 * rc * TARGET_FRACTION / B.CPUS
        busy_c = cc * 1e-6 * rc / B.CPUS
        node = statistics.median(col(p, phase, per_request_us) or [0.0])
        out.append(
            f"- {what.capitalize()}: at {100 * TARGET_FRACTION:.0f}% of the ceiling's rate ({rc * TARGET_FRACTION:,.0f}/s), "
            f"pagerd's CPU per webhook in this run ({cp:,.0f} µs, node and database server) would keep the "
            f"machine's {B.CPUS} CPUs **{100 * at_target:.0f}%** busy without the load generator, and the node "
            f"alone ({node:,.0f} µs) its one CPU {100 * node * 1e-6 * rc * TARGET_FRACTION:.0f}%; in the runs, "
            f"pagerd kept the machine {100 * cp * 1e-6 * rp / B.CPUS:.0f}% busy, the ceiling {100 * busy_c:.0f}%"
            + (" (CPU is not what bounds the ceiling's rate)." if busy_c < 0.5 else ".")
        )
    return out


def busiest_lines(p: dict, ce: dict) -> list[str]:
    """What the target asks of pagerd's busiest database session (one of its two writers' connections: the ingest's
    under 100-alert webhooks, either under single-alert ones, each about half of the writes): its CPU per
    request in this run times half the ceiling's requests per second is the share of wall time its server
    process would spend on a CPU at the target. One process: never over 100%, and less in practice, as it also
    waits for its client between statements and for the disk at each commit."""
    out = []
    for phase, what in (("single", "single-alert webhooks"), ("batch", "100-alert webhooks")):
        need = col(p, phase, busiest_per_request_us)
        rate = col(ce, phase, lambda r: r["rps_2xx"])
        now = col(p, phase, busiest_share)
        if need and rate and now:
            at_target = statistics.median(need) * 1e-6 * statistics.median(rate) * TARGET_FRACTION
            out.append(
                f"- {what.capitalize()}: pagerd's busiest database session (one of its two writers' connections) was on a "
                f"CPU {statistics.median(now):.0f}% of the run, at {statistics.median(need):,.0f} µs per webhook; "
                f"at {100 * TARGET_FRACTION:.0f}% of the ceiling's webhooks/s the same work would keep it on a CPU "
                f"{100 * at_target:.0f}% of the time (one server process: at most 100%, less in practice, as it also "
                "waits for its client between statements and for the disk at each commit)."
            )
    return out


def fmt_pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def fmt_s(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f} s"


def asyncpg_version() -> str:
    try:
        import asyncpg

        return str(asyncpg.__version__)
    except ImportError:
        return "not installed"


def main() -> int:
    for tool in ("wrk", HAPROXY_BIN) + (("taskset",) if B.PIN else ()):
        if not shutil.which(tool):
            print(f"bench/postgres.py: {tool} not found; run `scripts/peers.sh install`", file=sys.stderr)
            return 2
    if B.PIN:
        os.sched_setaffinity(0, {int(B.CLIENT_CPU)})
    B.OUT = OUT  # run.py's wrk writes its raw output there
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    t0 = time.monotonic()
    meta: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "load_start": B.loadavg(),
        "versions": B.versions(),
        "pg": server_settings(),
        "haproxy": subprocess.run([HAPROXY_BIN, "-v"], capture_output=True, text=True).stdout.split(" - ")[0].strip(),
        "errors": [],
    }
    B.log(f"PostgreSQL {meta['pg']['server_version']}; load average {meta['load_start']}")
    out: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="pagerd-bench-pg-"))
    try:
        for name, part in (("a", part_a), ("b", part_b), ("c", part_c)):
            B.log(f"part ({name})")
            try:
                part(tmp, out)
            except (B.BenchError, subprocess.SubprocessError, OSError, psycopg.Error) as exc:
                meta["errors"].append(f"({name}) {exc}")
                B.log(f"ERROR ({name}): {exc}")
    except KeyboardInterrupt:
        meta["errors"].append("interrupted")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta["load_end"] = B.loadavg()
    meta["wall_s"] = time.monotonic() - t0
    section = write(out, meta)
    (OUT / "results.json").write_text(json.dumps({"meta": meta, "results": out}, indent=1, default=str))
    print(section)
    bad = [k for k in ("pagerd", "ceiling") if not out.get("a", {}).get(k, {}).get("verify", {}).get("ok", False)]
    if not out.get("b", {}).get("verify", {}).get("ok", False):
        bad.append("b")
    c = out.get("c", {})
    if c.get("twice") or not c.get("kills") or any(k["to_sms_s"] is None for k in c["kills"]):
        bad.append("c")
    B.log(f"done in {meta['wall_s']:.0f} s" + (f"; checks failed: {bad}" if bad else ""))
    return 1 if meta["errors"] or bad else 0


if __name__ == "__main__":
    sys.exit(main())
