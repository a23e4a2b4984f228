"""The Nagios storm (issue 17): a switch dies and Nagios sends one PROBLEM notification per host and service.

    .venv/bin/python bench/storm.py [--hosts 1000] [--services 5] [--seconds 10] [--script-sample 50]
                                    [--json OUT] [--log PAGERD_LOG]

Setup (loopback only, every loop bounded):
  - the fake Twilio REST API of bench/paging_latency.py (its own process) records each SMS request (arrival
    time, To, Body, the sid it handed out);
  - pagerd serve, the full node (`paging.engine: true`), on a temp copy of config/pagerd.example.yaml with
    these changes: the Twilio notifier points at the fake (`PAGERD_TWILIO_API_BASE`), e-mail goes through the
    dry-run notifier (`notifier.simulate: [email]`), contact rules SMS and e-mail at once (the voice call of
    the example comes after 2 minutes, past the end of this run), and throttles of 100,000 per minute, so that
    every bundle goes out when the engine makes it (under the example's 5 SMS per 15 minutes the sixth bundle
    waits for its slot: the throttle working as configured, not the engine's speed);
  - the load (this process): HOSTS x SERVICES PROBLEM notifications (CRITICAL, host custom variable
    _CUSTOMER=agency) spread evenly over SECONDS, open loop (notification i is sent at t0 + i/rate whatever
    the answers do). Each is the HTTP request the shipped notify script (deploy/nagios/pagerd-notify) sends:
    its own `collect_macros` builds the macros from the NAGIOS_* environment Nagios gives it, the body is its
    form (`urlencode(sorted(macros))`, application/x-www-form-urlencoded) with its headers. Every
    (N / script-sample)-th notification is sent by running the script itself (system python3, its own spool
    directory), as Nagios would: they are stored and paged like the others, which proves the form is the
    script's.

Reported: notifications stored (incidents of source nagios counted in the database after pagerd stopped), all
paged (incidents carried by SMS requests at the fake Twilio: each incident's SMS page row -> its bundle's
carrier -> the sid the fake handed out), none twice (the incidents counted in the SMS bodies add up to the
incidents), SMS requests and incidents per SMS, webhook answer p50/p99 (the requests this process sent; the
script's runs include the interpreter's start), time to page p50/p99/max (webhook send -> the SMS request's
arrival at the fake), and pagerd's CPU (utime+stime) from the first notification to the last page.
pagerd runs on --server-cpu (default 1), this process and the fake Twilio on --client-cpu (default 0).
Prints `BENCHJSON {...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import paging_latency as pl  # noqa: E402

NOTIFY_SCRIPT = ROOT / "deploy" / "nagios" / "pagerd-notify"
PATH = "/api/v1/alerts/nagios"


def notify_script():
    """deploy/nagios/pagerd-notify as a module (it has no .py suffix): its own functions build the form."""
    loader = importlib.machinery.SourceFileLoader("pagerd_notify", str(NOTIFY_SCRIPT))
    spec = importlib.util.spec_from_loader("pagerd_notify", loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def nagios_environment(i: int, services: int) -> dict[str, str]:
    """What Nagios puts in the environment of the notification command for PROBLEM number `i` (with
    enable_environment_macros=1): host i // services, service i % services, host custom variable _CUSTOMER."""
    host, svc = i // services, i % services
    return {
        "NAGIOS_NOTIFICATIONTYPE": "PROBLEM",
        "NAGIOS_NOTIFICATIONNUMBER": "1",
        "NAGIOS_CONTACTNAME": "pagerd",
        "NAGIOS_HOSTNAME": f"host-{host:04d}",
        "NAGIOS_HOSTALIAS": f"host {host:04d} behind sw-core-1",
        "NAGIOS_HOSTADDRESS": f"10.{host // 250}.{host % 250}.10",
        "NAGIOS_HOSTSTATE": "UP",
        "NAGIOS_SERVICEDESC": f"svc-{svc}",
        "NAGIOS_SERVICESTATE": "CRITICAL",
        "NAGIOS_SERVICEOUTPUT": f"CRITICAL - svc-{svc} unreachable: no route to host",
        "NAGIOS_SERVICEATTEMPT": "3",
        "NAGIOS_SERVICEPROBLEMID": str(100000 + i),
        "NAGIOS_TIMET": str(int(time.time())),
        "NAGIOS__HOSTCUSTOMER": "agency",
    }


def write_config(dst: Path, src: Path = pl.CONFIG) -> None:
    """paging_latency's config (throttles 100,000 per minute), with e-mail paged too, through the dry-run notifier."""
    pl.write_config(dst, src)
    text = dst.read_text()
    sms_only = "  contact_rules:\n    - {channel: sms, after: 0m}\n"
    simulate = "  simulate: []\n"
    if sms_only not in text or simulate not in text:
        raise SystemExit("storm: config/pagerd.example.yaml changed; update write_config()")
    text = text.replace(sms_only, sms_only + "    - {channel: email, after: 0m}\n")
    dst.write_text(text.replace(simulate, "  simulate: [email]\n"))


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def storm(url: str, twilio: str, args: argparse.Namespace, spool_root: Path, pagerd_pid: int) -> dict:
    import aiohttp

    script = notify_script()
    total = args.hosts * args.services
    rate = total / args.seconds
    every = max(1, total // args.script_sample) if args.script_sample else 0
    by_script = {i for i in range(0, total, every)} if every else set()
    forms: dict[int, bytes] = {}
    for i in range(total):  # built up front: no form work on the schedule
        if i not in by_script:
            macros = script.collect_macros(nagios_environment(i, args.services), [], None)
            forms[i] = urllib.parse.urlencode(sorted(macros.items())).encode("ascii")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": f"Bearer {pl.TOKEN}",
        "User-Agent": f"pagerd-notify/{script.VERSION}",
    }
    sends: list[dict] = []
    errors: dict[str, int] = {}
    script_exits: list[int] = []

    async def one(session, i: int, due: float) -> None:
        rec = {
            "i": i,
            "due": due,
            "t_send": time.monotonic(),
            "wall_send": time.time(),
            "incidents": [],
            "status": None,
        }
        sends.append(rec)
        try:
            h = dict(headers, **{"Idempotency-Key": f"storm-{i}"})
            async with session.post(url, data=forms[i], headers=h) as resp:
                rec["status"] = resp.status
                data = await resp.json(content_type=None)
                rec["t_answer"] = time.monotonic()
                rec["incidents"] = list(data.get("incidents") or [])
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    async def by_notify_script(i: int) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PAGERD_WEBHOOK_TOKEN": pl.TOKEN,
            **nagios_environment(i, args.services),
        }
        spool = spool_root / f"spool-{i}"
        proc = await asyncio.create_subprocess_exec(
            "python3",
            str(NOTIFY_SCRIPT),
            "--url",
            url,
            "--spool",
            str(spool),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await proc.communicate()
        script_exits.append(proc.returncode or 0)
        left = list(spool.glob("*.event")) if spool.exists() else []
        if proc.returncode != 0 or left:
            errors["notify script"] = errors.get("notify script", 0) + 1
            print(f"[storm] notify script for {i}: exit {proc.returncode}, {len(left)} left spooled: {err[-300:]!r}")

    records: list[dict] = []
    loop = asyncio.get_running_loop()
    conn = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as session:
        cpu0 = proc_cpu_seconds(pagerd_pid)
        tasks = []
        t0 = time.monotonic() + 0.05
        i = 0
        while i < total:
            now = time.monotonic()
            due_count = min(total, int((now - t0) * rate) + 1) if now >= t0 else 0
            while i < due_count:
                work = by_notify_script(i) if i in by_script else one(session, i, t0 + i / rate)
                tasks.append(loop.create_task(work))
                i += 1
            if i < total:
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        send_end = time.monotonic()
        done, pending = await asyncio.wait(tasks, timeout=60)
        for t in pending:
            t.cancel()
        if pending:
            errors["abandoned"] = len(pending)
        opened = {inc for s in sends for inc in s["incidents"]}
        # until the SMS bodies count every notification (incidents named or in "N new incidents"), or no SMS
        # for 3 s after the last one, bounded by --drain-timeout
        deadline = time.monotonic() + args.drain_timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            new = await pl.fetch_records(session, twilio, len(records))
            if new:
                records.extend(new)
                last_new = time.monotonic()
            counted = sum(sms_incidents(r["body"] or "") for r in records if r["kind"] == "sms")
            if counted >= total or time.monotonic() - last_new > 3.0:
                break
            await asyncio.sleep(0.2)
        cpu1 = proc_cpu_seconds(pagerd_pid)
        last_sms = max((r["t"] for r in records if r["kind"] == "sms"), default=send_end)
    run = {
        "rate": rate,
        "duration_s": args.seconds,
        "sent": total,
        "sends": sends,
        "errors": errors,
        "achieved_send_rate": total / max(1e-9, send_end - t0),
        "records_from": 0,
        "records_to": len(records),
        "opened": sorted(opened),
    }
    return {
        "run": run,
        "records": records,
        "by_script": len(by_script),
        "script_exits": script_exits,
        "cpu_s": cpu1 - cpu0,
        "cpu_wall_s": max(last_sms, send_end) - t0,
    }


def sms_incidents(body: str) -> int:
    """How many incidents one SMS carries: "N new incidents for ..." or one ("[pagerd #ID] ...")."""
    m = pl.BUNDLE_RE.match(body)
    return int(m.group(1)) if m else (1 if pl.SINGLE_RE.match(body) else 0)


def database_counts(db: Path) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "stored": one("SELECT count(*) FROM incidents WHERE source = 'nagios'"),
            "distinct": one("SELECT count(DISTINCT dedup_key) FROM incidents WHERE source = 'nagios'"),
            # each incident's SMS pages (one per incident at its first step): more than one would be a double
            "sms_pages_max": one(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM outbox WHERE kind = 'page' "
                "AND channel = 'sms' GROUP BY incident_id)"
            ),
            "sms_pages": one("SELECT count(*) FROM outbox WHERE kind = 'page' AND channel = 'sms'"),
            "email_delivered": one(
                "SELECT count(*) FROM outbox WHERE kind = 'page' AND channel = 'email' "
                "AND status IN ('simulated', 'bundled')"
            ),
        }
    finally:
        conn.close()


def measure(args: argparse.Namespace, tree: Path = ROOT) -> dict:
    """One storm against a fresh pagerd of `tree` (this one, or a git revision's extracted by --before)."""
    pin = (os.cpu_count() or 1) >= 2
    server_cpu = args.server_cpu if pin else None
    client_cpu = args.client_cpu if pin else None
    tmp = Path(tempfile.mkdtemp(prefix="pagerd-storm-"))
    cfg = tmp / "pagerd.yaml"
    write_config(cfg, tree / "config" / "pagerd.example.yaml")
    tw_port, pd_port = pl.free_port(), pl.free_port()
    twilio = f"http://127.0.0.1:{tw_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGERD_", "TWILIO_"))}
    env["PYTHONUNBUFFERED"] = "1"
    db = tmp / "pagerd.db"
    pd_env = dict(
        env,
        PAGERD_LISTEN=f"127.0.0.1:{pd_port}",
        PAGERD_MAIL_LISTEN=f"127.0.0.1:{pl.free_port()}",
        PAGERD_DB=str(db),
        PAGERD_WEBHOOK_TOKEN=pl.TOKEN,
        PAGERD_ADMIN_TOKEN=pl.ADMIN,
        PAGERD_SIGNING_KEY=pl.SIGNING_KEY,
        PAGERD_PUBLIC_URL=f"http://127.0.0.1:{pd_port}",
        TWILIO_ACCOUNT_SID=pl.ACCOUNT_SID,
        TWILIO_AUTH_TOKEN="bench-twilio-auth-token-0123456789",
        TWILIO_FROM="+15005550006",
        PAGERD_TWILIO_API_BASE=twilio,
    )
    pagerd_bin = Path(sys.executable).parent / "pagerd"
    pd_argv = [str(pagerd_bin)] if pagerd_bin.exists() else [sys.executable, "-m", "pager"]
    if tree != ROOT:  # run from `tree`: its pager package first on the path (same venv, same dependencies)
        pd_argv = [sys.executable, "-m", "pager"]
        pd_env["PYTHONPATH"] = str(tree)
    log_path = Path(args.log) if args.log else tmp / "pagerd.log"
    tw_proc = pd_proc = None
    logf = open(log_path, "wb")
    try:
        tw_proc = subprocess.Popen(
            pl.pinned(client_cpu, [sys.executable, pl.__file__, "--fake-twilio", str(tw_port)]),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        pl.wait_http(f"{twilio}/_records", tw_proc, "fake Twilio")
        pd_proc = subprocess.Popen(
            pl.pinned(server_cpu, [*pd_argv, "serve", "-c", str(cfg)]),
            cwd=tree,
            env=pd_env,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        pl.wait_http(f"http://127.0.0.1:{pd_port}/healthz", pd_proc, "pagerd")
        time.sleep(1.0)  # the first engine ticks (hand-over notices) pass before the storm
        out = asyncio.run(storm(f"http://127.0.0.1:{pd_port}{PATH}", twilio, args, tmp, pd_proc.pid))
        vmhwm = pl_status_kb(pd_proc.pid, "VmHWM")
        out["pagerd_exit"] = pl.stop(pd_proc)
        out["vmhwm_kb"] = vmhwm
        (result,) = pl.analyse([out["run"]], out["records"], db)
        out["db"] = database_counts(db)
    finally:
        if pd_proc is not None:
            pl.stop(pd_proc)
        if tw_proc is not None:
            pl.stop(tw_proc)
        logf.close()
        shutil.rmtree(tmp, ignore_errors=True)
    total = args.hosts * args.services
    counted = sum(sms_incidents(r["body"] or "") for r in out["records"] if r["kind"] == "sms")
    d = out["db"]
    summary = {
        "notifications": total,
        "hosts": args.hosts,
        "services": args.services,
        "seconds": args.seconds,
        "achieved_send_rate": result["achieved_send_rate"],
        "by_notify_script": out["by_script"],
        "notify_script_failures": sum(1 for x in out["script_exits"] if x != 0),
        "webhook_2xx": result["webhook_2xx"] + sum(1 for x in out["script_exits"] if x == 0),
        "errors": out["run"]["errors"],
        "stored": d["stored"],
        "distinct": d["distinct"],
        "all_stored": d["stored"] == total and d["distinct"] == total,
        # time to page is over the notifications this process sent (their send time is exact)
        "paged_measured": result["paged"],
        "not_paged_measured": result["not_paged"],
        "sms_pages": d["sms_pages"],
        "sms_pages_per_incident_max": d["sms_pages_max"],
        "incidents_in_sms_bodies": counted,
        "all_paged_once": counted == total and d["sms_pages"] == total and d["sms_pages_max"] == 1,
        "email_delivered": d["email_delivered"],
        "sms_requests": result["sms_requests"],
        "incidents_per_sms_mean": result["incidents_per_sms_mean"],
        "incidents_per_sms_max": result["incidents_per_sms_max"],
        "webhook_p50_ms": result["webhook_p50_ms"],
        "webhook_p99_ms": result["webhook_p99_ms"],
        "page_p50_ms": result["p50_ms"],
        "page_p99_ms": result["p99_ms"],
        "page_max_ms": result["max_ms"],
        "server_cpu_s": out["cpu_s"],
        "server_cpu_wall_s": out["cpu_wall_s"],
        "server_cpu_per_notification_us": 1e6 * out["cpu_s"] / total,
        "vmhwm_mb": (out["vmhwm_kb"] or 0) / 1024,
        "pagerd_exit": out["pagerd_exit"],
    }
    return summary


def pl_status_kb(pid: int, key: str) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def table(s: dict) -> str:
    """The storm as a markdown table (bench/run.py puts it in bench/RESULTS.md)."""
    yes = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    return "\n".join(
        [
            "| measure | value |",
            "|---|---:|",
            f"| PROBLEM notifications ({s['hosts']:,} hosts × {s['services']} services) in {s['seconds']:g} s "
            f"(achieved {s['achieved_send_rate']:,.0f}/s; {s['by_notify_script']} of them by running "
            f"`deploy/nagios/pagerd-notify`) | {s['notifications']:,} |",
            f"| answered 2xx (client errors: {', '.join(f'{k} {v}' for k, v in s['errors'].items()) or 'none'}) "
            f"| {s['webhook_2xx']:,} |",
            f"| stored (incidents of source nagios in the database) | {s['stored']:,} — all: {yes(s['all_stored'])} |",
            f"| paged: incidents in the SMS requests' bodies / SMS pages in the outbox / most SMS pages of one "
            f"incident | {s['incidents_in_sms_bodies']:,} / {s['sms_pages']:,} / {s['sms_pages_per_incident_max']} "
            f"— all once: {yes(s['all_paged_once'])} |",
            f"| SMS requests at the fake Twilio (incidents per SMS: mean / max) | {s['sms_requests']:,} "
            f"({(s['incidents_per_sms_mean'] or 0):.1f} / {s['incidents_per_sms_max'] or '–'}) |",
            f"| e-mail pages delivered (dry-run notifier, bundled) | {s['email_delivered']:,} |",
            f"| webhook answer p50 / p99 | {s['webhook_p50_ms']:.1f} / {s['webhook_p99_ms']:.1f} ms |",
            f"| time to page (webhook send → SMS request at the fake Twilio) p50 / p99 / max | "
            f"{s['page_p50_ms']:.0f} / {s['page_p99_ms']:.0f} / {s['page_max_ms']:.0f} ms |",
            f"| pagerd CPU from the first notification to the last SMS | {s['server_cpu_s']:.1f} s in "
            f"{s['server_cpu_wall_s']:.1f} s ({s['server_cpu_per_notification_us']:,.0f} µs per notification) |",
        ]
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--services", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--script-sample", type=int, default=50, help="notifications sent by running the notify script")
    ap.add_argument("--drain-timeout", type=float, default=30.0)
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--json", help="write the summary (JSON) here")
    ap.add_argument("--log", help="pagerd's log file (default: in the temp dir, removed)")
    ap.add_argument("--before", metavar="REV", help="also storm the tree of git revision REV, alternating")
    ap.add_argument("--rounds", type=int, default=1, help="rounds per tree with --before (1 to 5)")
    args = ap.parse_args()
    total = args.hosts * args.services
    if not (1 <= args.hosts <= 100_000 and 1 <= args.services <= 100 and total <= 200_000):
        raise SystemExit("storm: --hosts 1..100000, --services 1..100, at most 200,000 notifications")
    if not (0.1 <= args.seconds <= 600) or not (0 <= args.script_sample <= min(total, 1000)):
        raise SystemExit("storm: --seconds 0.1..600, --script-sample 0..min(notifications, 1000)")
    if not 1 <= args.rounds <= 5:
        raise SystemExit("storm: --rounds 1..5")
    if not shutil.which("python3"):
        raise SystemExit("storm: python3 (the notify script's interpreter) not found")
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {int(args.client_cpu)})
    if args.before:  # this tree and REV's in turn (who goes first alternates); prints only
        before, commit = pl.before_tree(args.before)
        trees = {"this tree": ROOT, f"before ({commit[:12]})": before}
        for k in range(args.rounds):
            for label in list(trees) if k % 2 == 0 else list(reversed(trees)):
                s = measure(args, trees[label])
                print(f"\n{label}, round {k + 1} (load {pl.uptime().split('load average:')[-1].strip()}):")
                print(table(s), flush=True)
        return 0
    s = measure(args)
    print(table(s))
    if args.json:
        Path(args.json).write_text(json.dumps(s, indent=1))
    print("BENCHJSON " + json.dumps(s), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
