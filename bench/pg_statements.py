"""Where PostgreSQL's time goes under pagerd: `.venv/bin/python bench/pg_statements.py [full|webhook-only] [batch|idle]`.

Starts a PostgreSQL server of its own (tests/harness/pg_cluster.py) with pg_stat_statements loaded, runs
`pagerd serve` on config/pagerd.example.yaml against it (the full node, or with `webhook-only` the node
without the paging engine), gives it BENCH_SECONDS (5) of single-alert webhooks at 32 connections
(wrk, bench/single.lua), waits for the engine to catch up, and prints the statements by total execution
time: calls, time per call, rows, and per new incident the statements and execution time. With `batch`
the load is 100-alert webhooks (bench/batch.lua, one new incident of 100 alerts each) for 3 × BENCH_SECONDS,
as bench/postgres.py's rounds give a node; planning time is printed beside execution. With `idle` the
statements are counted after the load instead: the tables analyzed, then BENCH_IDLE (20) s of the node
doing nothing but its engine's ticks over what the load left open (every incident triggered, most of its
pages waiting for the phone's throttle slot), with the database time and blocks read per call and the
node's CPU. Prints only;
a tool for finding what to cut, not a benchmark with a baseline (bench/postgres.py is that).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
import run as B  # noqa: E402

from tests.harness.pg_cluster import START_TIMEOUT, PgCluster  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
IDLE = int(os.environ.get("BENCH_IDLE", "20"))


class ProfiledCluster(PgCluster):
    def _pg_start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} "
            "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
        )
        self._run(self.pg_ctl, "-D", self.data, "-l", self.log, "-w", "-t", str(START_TIMEOUT), "-o", options, "start")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "full"
    batch = sys.argv[2:] == ["batch"]
    idle = sys.argv[2:] == ["idle"]
    if mode not in ("full", "webhook-only") or sys.argv[2:] not in ([], ["batch"], ["idle"]):
        print(__doc__)
        return 2
    with ProfiledCluster.started() as cluster:
        dsn = cluster.database("pagerd")
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE EXTENSION pg_stat_statements")
            admin.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
            admin.execute("SELECT pg_reload_conf()")
        port = B.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGERD_", "TWILIO_"))}
        env.update(
            PAGERD_LISTEN=f"127.0.0.1:{port}",
            PAGERD_MAIL_LISTEN=f"127.0.0.1:{B.free_port()}",
            PAGERD_STORAGE="postgres",
            PAGERD_PG_DSN=dsn,
            PAGERD_WEBHOOK_TOKEN=B.TOKEN,
            PAGERD_ADMIN_TOKEN=B.ADMIN,
            PAGERD_SIGNING_KEY=B.SIGNING_KEY,
            PAGERD_NOTIFIER="dry_run",
            PAGERD_PUBLIC_URL=f"http://127.0.0.1:{port}",
        )
        if mode == "webhook-only":
            env["PAGERD_PAGING_ENGINE"] = "false"
        log = (BENCH_DIR / "out").joinpath("pg_statements.log")
        log.parent.mkdir(exist_ok=True)
        with log.open("w") as out:
            server = subprocess.Popen(
                [B.PY, "-m", "pager", "serve", "-c", str(B.CONFIG)], env=env, stdout=out, stderr=out
            )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(150):  # bounded: 30 s
                try:
                    urllib.request.urlopen(url + "/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_stat_statements_reset()")
            script, seconds, extra = ("batch.lua", 3 * SECONDS, ["100"]) if batch else ("single.lua", SECONDS, [])
            wrk = ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", str(BENCH_DIR / script)]
            subprocess.run([*wrk, url + "/api/v1/alerts/alertmanager", "--", "pgstat", B.TOKEN, *extra], check=True)
            time.sleep(5)  # the engine pages what the load left it
            if idle:
                report_idle(dsn, server.pid)
            else:
                report(dsn, mode)
        finally:
            server.terminate()
            server.wait(15)
    return 0


def report(dsn: str, mode: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        (incidents,) = c.execute("SELECT count(*) FROM incidents").fetchone() or (0,)
        (alerts,) = c.execute("SELECT count(*) FROM alerts").fetchone() or (0,)
        total_ms, plan_ms, calls = c.execute(
            "SELECT sum(total_exec_time), sum(total_plan_time), sum(calls) FROM pg_stat_statements"
        ).fetchone() or (0, 0, 0)
        print(
            f"\n{mode} node: {incidents} incidents, {alerts} alerts; PostgreSQL execution {total_ms:.0f} ms "
            f"(planning {plan_ms:.0f} ms) in {calls} statements"
        )
        if incidents:
            print(
                f"per incident: {calls / incidents:.1f} statements, {total_ms / incidents * 1000:.0f} us of execution\n"
            )
            tables = c.execute(
                "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, "
                "(SELECT count(*) FROM pg_index i WHERE i.indrelid = t.relid) FROM pg_stat_user_tables t "
                "WHERE n_tup_ins + n_tup_upd > 0 ORDER BY n_tup_ins + n_tup_upd DESC"
            ).fetchall()
            print("rows per incident (of them HOT updates) and each table's indexes:")
            for table, ins, upd, hot, indexes in tables:
                ins, upd, hot = (n / incidents for n in (ins, upd, hot))
                print(f"  {table:<22} inserted {ins:5.2f}  updated {upd:5.2f} ({hot:4.2f} HOT)  {indexes} indexes")
            kinds = c.execute("SELECT kind, count(*) FROM events GROUP BY kind ORDER BY 2 DESC").fetchall()
            print("timeline entries per incident: " + ", ".join(f"{k} {n / incidents:.2f}" for k, n in kinds) + "\n")
        rows = c.execute(
            "SELECT total_exec_time, total_plan_time, calls, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) "
            "FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 25"
        )
        print(f"{'total ms':>9} {'plan ms':>8} {'calls':>7} {'us/call':>8} {'rows':>8}  statement")
        for total, plan, n, nrows, query in rows:
            print(f"{total:9.0f} {plan:8.0f} {n:7d} {total / n * 1000:8.0f} {nrows:8d}  {query}")


def report_idle(dsn: str, pid: int) -> None:
    """The statements of BENCH_IDLE seconds of a node whose engine only ticks over what the load left."""
    with psycopg.connect(dsn, autocommit=True) as c:
        counts = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("incidents", "escalations")}
        pending = c.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
        c.execute("ANALYZE")
        c.execute("SELECT pg_stat_statements_reset()")
    cpu0 = B.proc_cpu_seconds(pid)
    time.sleep(IDLE)
    cpu = B.proc_cpu_seconds(pid) - cpu0
    with psycopg.connect(dsn, autocommit=True) as c:
        total_ms, calls = c.execute("SELECT sum(total_exec_time), sum(calls) FROM pg_stat_statements").fetchone()
        print(
            f"\nidle {IDLE} s after the load ({counts['incidents']} incidents, {counts['escalations']} escalations, "
            f"{pending} pending messages): PostgreSQL execution {total_ms:.1f} ms in {calls} statements; "
            f"the node's CPU {cpu:.2f} s\n"
        )
        rows = c.execute(
            "SELECT total_exec_time, calls, shared_blks_hit + shared_blks_read, "
            "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements "
            "ORDER BY total_exec_time DESC LIMIT 12"
        )
        print(f"{'total ms':>9} {'calls':>6} {'us/call':>8} {'blks/call':>9}  statement")
        for total, n, blocks, query in rows:
            print(f"{total:9.1f} {n:6d} {total / n * 1000:8.0f} {blocks / n:9.0f}  {query}")


if __name__ == "__main__":
    sys.exit(main())
