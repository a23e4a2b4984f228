"""Paging latency: time from a webhook's arrival to the Twilio API request leaving pagerd.

    .venv/bin/python bench/paging_latency.py [--rates 10,100,1000] [--durations 5,5,3] [--json OUT]
    .venv/bin/python bench/paging_latency.py --idle [--before REV] [--rounds N] [--results]

Setup (loopback only, every loop bounded):
  - a fake Twilio REST API (this file with --fake-twilio, its own process): answers
    POST /2010-04-01/Accounts/{sid}/Messages.json and Calls.json with 201 and a Twilio-like JSON body
    (unique sid, status "queued"), and records per request its arrival time (CLOCK_MONOTONIC, the same
    clock in every process), To, Body and the sid it handed out;
  - pagerd serve on a copy of config/pagerd.example.yaml in a temp dir with two changes: contact rules
    SMS only (`[{channel: sms, after: 0m}]`, so each incident makes one SMS to the on-call engineer)
    and throttles of 100,000 per 1m (so no throttle holds a page back); TWILIO_* and
    PAGERD_TWILIO_API_BASE point its Twilio notifier at the fake;
  - an open-loop client (this process): at each rate, single-alert Alertmanager webhooks, each its own
    group, label customer=agency (route agency/infra, coverage always), request i sent at t0 + i/rate.

A warm-up of 1 s at 20/s precedes the measured rates (not reported). Latency per incident: from the client's send time of the webhook that opened it to the arrival at the
fake Twilio of the SMS request that carried it. When several incidents are pending for the same phone
at one engine tick pagerd bundles them into one SMS ("N new incidents ..."); every incident in a bundle
gets the bundle request's time. Which request carried which incident is read exactly from pagerd's
outbox after it stopped (outbox.bundle_id -> carrier row -> provider_id = the sid the fake answered);
the SMS bodies ("[pagerd #ID]" single vs "N new incidents") are parsed as a cross-check.

Idle mode (--idle, issue 17): 50 incidents 200 ms apart (rate 5/s for 10 s), so the engine is idle when
each webhook arrives; reported per tree: p50/p99/max of webhook send -> Twilio request, and where the
time goes, per incident: "to the tick" = webhook send -> the start of the engine tick that routed it
(escalations.created_at, the tick's `now`), "in the tick" = that tick's start -> the Twilio request
(routing, the escalation step, the outbox claim, the Twilio SDK); wall-clock instants (CLOCK_REALTIME) of
the client, pagerd and the fake, all on this machine. With --before REV the same is measured, in the same
run, for the tree of git revision REV (extracted with `git archive` into bench/out/, run with this venv's
python: the comparison assumes the dependencies did not change), alternating which tree goes first over
--rounds rounds. --results writes the section "Idle time to page" of bench/RESULTS.md between its
markers (the rest of the file is left as it is).

On a machine with >= 2 CPUs pagerd runs on --server-cpu (default 1); this process and the fake Twilio
on --client-cpu (default 0). Prints `BENCHJSON {...}` and a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CONFIG = ROOT / "config" / "pagerd.example.yaml"
TOKEN = "bench-webhook-token-0123456789"
ADMIN = "bench-admin-token-0123456789"
SIGNING_KEY = "bench-signing-key-0123456789abcdef"
ACCOUNT_SID = "AC" + "a" * 32
PATH = "/api/v1/alerts/alertmanager"

sys.path.insert(0, str(BENCH))
from openloop import body as webhook_body  # noqa: E402
from run import free_port  # noqa: E402  (a server's port, below the ephemeral range)


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


# -- the fake Twilio API ------------------------------------------------------------------------


def fake_twilio_main(port: int) -> None:
    from aiohttp import web

    records: list[dict] = []

    def now_rfc2822() -> str:
        return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())

    async def messages(request: web.Request) -> web.Response:
        t, wall = time.monotonic(), time.time()
        form = await request.post()
        sid = "SM" + secrets.token_hex(16)
        acct = request.match_info["sid"]
        records.append(
            {"t": t, "wall": wall, "kind": "sms", "sid": sid, "to": form.get("To"), "body": form.get("Body")}
        )
        d = now_rfc2822()
        return web.json_response(
            {
                "account_sid": acct,
                "api_version": "2010-04-01",
                "body": form.get("Body"),
                "date_created": d,
                "date_sent": None,
                "date_updated": d,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "messaging_service_sid": None,
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{acct}/Messages/{sid}/Media.json"},
                "to": form.get("To"),
                "uri": f"/2010-04-01/Accounts/{acct}/Messages/{sid}.json",
            },
            status=201,
        )

    async def calls(request: web.Request) -> web.Response:
        t = time.monotonic()
        form = await request.post()
        sid = "CA" + secrets.token_hex(16)
        acct = request.match_info["sid"]
        records.append({"t": t, "kind": "voice", "sid": sid, "to": form.get("To"), "body": form.get("Url")})
        d = now_rfc2822()
        return web.json_response(
            {
                "account_sid": acct,
                "api_version": "2010-04-01",
                "date_created": d,
                "date_updated": d,
                "direction": "outbound-api",
                "from": form.get("From"),
                "to": form.get("To"),
                "sid": sid,
                "status": "queued",
                "uri": f"/2010-04-01/Accounts/{acct}/Calls/{sid}.json",
            },
            status=201,
        )

    async def dump(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response(records[since:])

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", messages)
    app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", calls)
    app.router.add_get("/_records", dump)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- setup ---------------------------------------------------------------------------------------


def write_config(dst: Path, src: Path = CONFIG) -> None:
    text = src.read_text()
    rules_old = (
        "  contact_rules:\n    - {channel: sms, after: 0m}\n    - {channel: voice, after: 2m}\n"
        "    - {channel: email, after: 0m}\n"
    )
    thr_old = (
        "  throttles:\n    sms: {max: 5, per: 15m}\n    voice: {max: 1, per: 5m}\n    email: {max: 20, per: 15m}\n"
    )
    if rules_old not in text or thr_old not in text:
        raise SystemExit("paging_latency: config/pagerd.example.yaml changed; update write_config()")
    text = text.replace(rules_old, "  contact_rules:\n    - {channel: sms, after: 0m}\n")
    text = text.replace(
        thr_old,
        "  throttles:\n    sms: {max: 100000, per: 1m}\n    voice: {max: 100000, per: 1m}\n"
        "    email: {max: 100000, per: 1m}\n",
    )
    dst.write_text(text)


def pinned(cpu: str | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if cpu is not None else argv


def wait_http(url: str, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"paging_latency: {what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"paging_latency: {what} not ready within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


# -- the client ----------------------------------------------------------------------------------

BUNDLE_RE = re.compile(r"^(\d+) new incidents for ")
SINGLE_RE = re.compile(r"^\[pagerd #(\d+)\] ")
MORE_RE = re.compile(r"…and (\d+) more")


async def fetch_records(session, twilio: str, since: int) -> list[dict]:
    async with session.get(f"{twilio}/_records?since={since}") as r:
        return await r.json()


async def one_rate(
    session, url: str, twilio: str, rate: float, duration: float, prefix: str, records: list[dict], drain_timeout: float
) -> dict:
    """Open loop at `rate` for `duration` s; then wait (bounded) until the SMS requests account for every
    incident opened. Returns the sends (incident ids and send times) of this rate."""
    total = int(rate * duration)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    bodies = [webhook_body(prefix, i) for i in range(total)]
    sends: list[dict] = []
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()

    async def one(i: int, due: float) -> None:
        t_send, wall_send = time.monotonic(), time.time()
        rec = {"i": i, "due": due, "t_send": t_send, "wall_send": wall_send, "incidents": [], "status": None}
        sends.append(rec)
        try:
            async with session.post(url, data=bodies[i], headers=headers) as resp:
                rec["status"] = resp.status
                data = await resp.json(content_type=None)
                rec["t_answer"] = time.monotonic()
                rec["incidents"] = list(data.get("incidents") or [])
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    tasks = []
    t0 = time.monotonic() + 0.05
    i = 0
    while i < total:
        now = time.monotonic()
        due_count = min(total, int((now - t0) * rate) + 1) if now >= t0 else 0
        while i < due_count:
            tasks.append(loop.create_task(one(i, t0 + i / rate)))
            i += 1
        if i < total:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
    send_end = time.monotonic()
    done, pending = await asyncio.wait(tasks, timeout=15)
    for t in pending:
        t.cancel()
    if pending:
        errors["abandoned"] = len(pending)
    opened = {inc for s in sends for inc in s["incidents"]}
    # Drain: until the SMS bodies account for every incident opened (named, or counted in "…and N more"),
    # or no SMS for 3 s after the last one, bounded by drain_timeout.
    deadline = time.monotonic() + drain_timeout
    first = len(records)
    last_new = time.monotonic()
    while time.monotonic() < deadline:
        new = await fetch_records(session, twilio, len(records))
        if new:
            records.extend(new)
            last_new = time.monotonic()
        named, more = set(), 0
        for r in records[first:]:
            if r["kind"] != "sms":
                continue
            named.update(int(x) for x in re.findall(r"#(\d+)", r["body"] or ""))
            m = MORE_RE.search(r["body"] or "")
            more += int(m.group(1)) if m else 0
        if len(opened - named) <= more or time.monotonic() - last_new > 3.0:
            break
        await asyncio.sleep(0.2)
    return {
        "rate": rate,
        "duration_s": duration,
        "sent": total,
        "sends": sends,
        "errors": errors,
        "achieved_send_rate": total / max(1e-9, send_end - t0),
        "records_from": first,
        "records_to": len(records),
        "opened": sorted(opened),
    }


async def client_main(
    url: str, twilio: str, rates: list[float], durations: list[float], drain_timeout: float
) -> tuple[list[dict], list[dict]]:
    import aiohttp

    records: list[dict] = []
    conn = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=10)) as session:
        # Warm-up (not reported): 1 s at 20/s, so the first measured page does not pay for cold caches.
        await one_rate(session, url, twilio, 20, 1, "plw", records, drain_timeout)
        print(f"[paging_latency] warm-up: {len(records)} Twilio requests", flush=True)
        runs = []
        for k, (rate, dur) in enumerate(zip(rates, durations, strict=True)):
            runs.append(await one_rate(session, url, twilio, rate, dur, f"pl{k}", records, drain_timeout))
            print(
                f"[paging_latency] rate {rate:g}/s: {runs[-1]['sent']} webhooks, "
                f"{runs[-1]['records_to'] - runs[-1]['records_from']} Twilio requests",
                flush=True,
            )
        records.extend(await fetch_records(session, twilio, len(records)))
    return runs, records


# -- analysis ------------------------------------------------------------------------------------


def analyse(runs: list[dict], records: list[dict], db: Path) -> list[dict]:
    by_sid = {r["sid"]: r for r in records}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute(
            "SELECT id, incident_id, channel, kind, status, bundle_id, provider_id FROM outbox"
        ).fetchall()
        esc = conn.execute("SELECT incident_id, MIN(created_at) FROM escalations GROUP BY incident_id").fetchall()
    finally:
        conn.close()
    # the start of the tick that routed each incident: the route stage writes the tick's `now`
    tick_at = {inc: datetime.fromisoformat(at).timestamp() for inc, at in esc if at}
    outbox = {r[0]: r for r in rows}
    # incident -> time of the first Twilio request that carried one of its outbox rows
    carried_at: dict[int, float] = {}
    carried_by: dict[int, str] = {}
    for oid, inc, _channel, kind, _status, bundle_id, _provider_id in rows:
        if inc is None or kind != "page":
            continue
        carrier = outbox.get(bundle_id) if bundle_id else outbox[oid]
        sid = carrier[6] if carrier else None
        rec = by_sid.get(sid) if sid else None
        if rec is None:
            continue
        if inc not in carried_at or rec["t"] < carried_at[inc]:
            carried_at[inc], carried_by[inc] = rec["t"], sid
    out = []
    for run in runs:
        recs = [r for r in records[run["records_from"] : run["records_to"]] if r["kind"] == "sms"]
        # requests of this rate: also any later request that carried one of its incidents
        sids = {carried_by[i] for i in run["opened"] if i in carried_by}
        recs_all = {r["sid"]: r for r in recs}
        for s in sids:
            recs_all.setdefault(s, by_sid[s])
        lat, webhook, to_tick, in_tick = [], [], [], []
        missing = 0
        for s in run["sends"]:
            if s.get("t_answer") is not None and s["status"] and 200 <= s["status"] < 300:
                webhook.append(s["t_answer"] - s["t_send"])
            for inc in s["incidents"]:
                if inc in carried_at:
                    lat.append(carried_at[inc] - s["t_send"])
                    if inc in tick_at and "wall" in by_sid[carried_by[inc]]:
                        to_tick.append(tick_at[inc] - s["wall_send"])
                        in_tick.append(by_sid[carried_by[inc]]["wall"] - tick_at[inc])
                else:
                    missing += 1
        lat.sort()
        webhook.sort()
        to_tick.sort()
        in_tick.sort()
        singles = bundles = 0
        per_bundle: list[int] = []
        for r in recs_all.values():
            b = r["body"] or ""
            m = BUNDLE_RE.match(b)
            if m:
                bundles += 1
                per_bundle.append(int(m.group(1)))
            elif SINGLE_RE.match(b):
                singles += 1
                per_bundle.append(1)
        n_inc = len(run["opened"])
        phones = {r["to"] for r in recs_all.values()}
        ms = 1000.0
        out.append(
            {
                "rate": run["rate"],
                "duration_s": run["duration_s"],
                "webhooks_sent": run["sent"],
                "achieved_send_rate": run["achieved_send_rate"],
                "incidents": n_inc,
                "webhook_2xx": sum(1 for s in run["sends"] if s["status"] and 200 <= s["status"] < 300),
                "errors": run["errors"],
                "sms_requests": len(recs_all),
                "single_sms": singles,
                "bundle_sms": bundles,
                "incidents_per_sms_mean": (sum(per_bundle) / len(per_bundle)) if per_bundle else None,
                "incidents_per_sms_max": max(per_bundle) if per_bundle else None,
                "incidents_per_sms_from_bodies": sum(per_bundle),
                "messages_per_incident": len(recs_all) / n_inc if n_inc else None,
                "phones": sorted(p for p in phones if p),
                "paged": len(lat),
                "not_paged": missing,
                "p50_ms": pct(lat, 50) * ms,
                "p90_ms": pct(lat, 90) * ms,
                "p99_ms": pct(lat, 99) * ms,
                "max_ms": (lat[-1] * ms) if lat else float("nan"),
                "webhook_p50_ms": pct(webhook, 50) * ms,
                "webhook_p99_ms": pct(webhook, 99) * ms,
                "to_tick_p50_ms": pct(to_tick, 50) * ms,
                "to_tick_p99_ms": pct(to_tick, 99) * ms,
                "in_tick_p50_ms": pct(in_tick, 50) * ms,
                "in_tick_p99_ms": pct(in_tick, 99) * ms,
                # the samples (seconds), for pooling rounds
                "lat_all": lat,
                "to_tick_all": to_tick,
                "in_tick_all": in_tick,
                "webhook_all": webhook,
            }
        )
    return out


def table(results: list[dict]) -> str:
    L = [
        "| new incidents/s (target → achieved) | incidents | paged | p50 | p90 | p99 | max | SMS requests "
        "(single + bundle) | incidents per SMS (mean / max) | messages per incident | webhook answer p50 / p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mean = "–" if r["incidents_per_sms_mean"] is None else f"{r['incidents_per_sms_mean']:.1f}"
        mpi = "–" if r["messages_per_incident"] is None else f"{r['messages_per_incident']:.3f}"
        L.append(
            f"| {r['rate']:,.0f} → {r['achieved_send_rate']:,.0f} ({r['duration_s']:g} s) | {r['incidents']:,} | "
            f"{r['paged']:,} | {r['p50_ms']:.1f} ms | {r['p90_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
            f"{r['max_ms']:.1f} ms | {r['sms_requests']:,} ({r['single_sms']:,} + {r['bundle_sms']:,}) | "
            f"{mean} / {r['incidents_per_sms_max'] or '–'} | {mpi} | "
            f"{r['webhook_p50_ms']:.1f} / {r['webhook_p99_ms']:.1f} ms |"
        )
    return "\n".join(L)


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


def measure(
    tree: Path, rates: list[float], durations: list[float], args: argparse.Namespace, log_path: Path | None
) -> dict:
    """One pagerd of `tree` (this one: its `pagerd`; another: `python -m pager` run from it) with its own
    fake Twilio, the warm-up and the open loop at each rate; then pagerd stopped and its outbox read."""
    pin = (os.cpu_count() or 1) >= 2
    server_cpu = args.server_cpu if pin else None
    client_cpu = args.client_cpu if pin else None
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="pagerd-paging-"))
    cfg = tmp / "pagerd.yaml"
    write_config(cfg, tree / "config" / "pagerd.example.yaml")
    tw_port, pd_port = free_port(), free_port()
    twilio = f"http://127.0.0.1:{tw_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGERD_", "TWILIO_"))}
    env["PYTHONUNBUFFERED"] = "1"
    db = tmp / "pagerd.db"
    pd_env = dict(
        env,
        PAGERD_LISTEN=f"127.0.0.1:{pd_port}",
        PAGERD_MAIL_LISTEN=f"127.0.0.1:{free_port()}",  # the example config's mail listener
        PAGERD_DB=str(db),
        PAGERD_WEBHOOK_TOKEN=TOKEN,
        PAGERD_ADMIN_TOKEN=ADMIN,
        PAGERD_SIGNING_KEY=SIGNING_KEY,
        PAGERD_PUBLIC_URL=f"http://127.0.0.1:{pd_port}",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN="bench-twilio-auth-token-0123456789",
        TWILIO_FROM="+15005550006",
        PAGERD_TWILIO_API_BASE=twilio,
    )
    pagerd_bin = Path(py).parent / "pagerd"
    if tree != ROOT:
        pd_argv = [py, "-m", "pager"]  # run from `tree`: its pager package comes first on the path
        pd_env["PYTHONPATH"] = str(tree)
    else:
        pd_argv = [str(pagerd_bin)] if pagerd_bin.exists() else [py, "-m", "pager"]
    log_path = log_path or tmp / "pagerd.log"
    tw_proc = pd_proc = None
    pd_exit = None
    logf = open(log_path, "wb")
    try:
        tw_proc = subprocess.Popen(
            pinned(client_cpu, [py, __file__, "--fake-twilio", str(tw_port)]),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_http(f"{twilio}/_records", tw_proc, "fake Twilio")
        pd_proc = subprocess.Popen(
            pinned(server_cpu, [*pd_argv, "serve", "-c", str(cfg)]),
            cwd=tree,
            env=pd_env,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(f"http://127.0.0.1:{pd_port}/healthz", pd_proc, "pagerd")
        time.sleep(1.0)  # the first engine ticks (hand-over notices) pass before measuring
        runs, records = asyncio.run(
            client_main(f"http://127.0.0.1:{pd_port}{PATH}", twilio, rates, durations, args.drain_timeout)
        )
        pd_exit = stop(pd_proc)
        results = analyse(runs, records, db)
    finally:
        if pd_proc is not None:
            stop(pd_proc)
        if tw_proc is not None:
            stop(tw_proc)
        logf.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "results": results,
        "pagerd_exit": pd_exit,
        "twilio_requests": len(records),
        "voice_requests": sum(1 for r in records if r["kind"] == "voice"),
    }


def git_head(tree: Path) -> str:
    r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=tree, capture_output=True)
    return r.stdout.strip()[:12] + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def idle_table(rows: list[tuple[str, dict]]) -> str:
    L = [
        "| tree | round | incidents | paged | p50 | p99 | max | to the tick p50 / p99 | in the tick p50 / p99 "
        "| SMS requests | webhook answer p50 / p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows:
        L.append(
            f"| {label} | {r['round']} | {r['incidents']} | {r['paged']} | {r['p50_ms']:.1f} ms | "
            f"{r['p99_ms']:.1f} ms | {r['max_ms']:.1f} ms | {r['to_tick_p50_ms']:.1f} / {r['to_tick_p99_ms']:.1f} ms | "
            f"{r['in_tick_p50_ms']:.1f} / {r['in_tick_p99_ms']:.1f} ms | {r['sms_requests']} | "
            f"{r['webhook_p50_ms']:.1f} / {r['webhook_p99_ms']:.1f} ms |"
        )
    return "\n".join(L)


IDLE_BEGIN, IDLE_END = "<!-- idle-latency:begin -->", "<!-- idle-latency:end -->"


def write_results(command: str, rows: list[tuple[str, dict]], pooled: dict, la: tuple[str, str], trees: dict) -> None:
    """The section "Idle time to page" of bench/RESULTS.md, between its markers (appended at first)."""
    path = BENCH / "RESULTS.md"
    this = pooled.get("this tree")
    verdict = ""
    if this is not None:
        ok50, ok99 = this["p50_ms"] <= 10, this["p99_ms"] <= 20
        verdict = (
            f"Target (issue 17): p50 ≤ 10 ms, p99 ≤ 20 ms — this tree: p50 {this['p50_ms']:.1f} ms "
            f"(**{'met' if ok50 else 'missed'}**), p99 {this['p99_ms']:.1f} ms (**{'met' if ok99 else 'missed'}**), "
            f"over all {this['paged']} incidents of its rounds."
        )
    L = [
        IDLE_BEGIN,
        "## Idle time to page (webhook arrival → Twilio request), issue 17",
        "",
        f"- Command: `{command}`",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load (uptime) at start: {la[0]}; at end: {la[1]}",
        "- Trees: " + "; ".join(f"{k}: git {v}" for k, v in trees.items()),
        "- Configuration measured: the full node (`paging.engine: true`, the default) on a temp copy of "
        "`config/pagerd.example.yaml` with the script's two changes (contact rules SMS only, throttles "
        "100,000 per 1m), the Twilio notifier pointed at the script's fake Twilio REST API on loopback, "
        "SQLite synchronous FULL as in the example config, fresh database per server; pagerd pinned to CPU 1, "
        "the client and the fake Twilio to CPU 0.",
        "- Load: after a 1 s warm-up at 20/s (not reported), 50 single-alert Alertmanager webhooks 200 ms apart "
        "(open loop), each a new incident paged by one SMS; the engine is idle when each arrives.",
        "",
        verdict,
        "",
        "All rounds pooled:",
        "",
        idle_table([(k, {**v, "round": "all"}) for k, v in pooled.items()]),
        "",
        "Per round (alternating which tree goes first):",
        "",
        idle_table(rows),
        "",
        "Time to page = arrival of the SMS request at the fake Twilio − the client's send time of the webhook. "
        "To the tick = the start of the engine tick that routed the incident (its `now`, stored as the "
        "escalation's `created_at`) − the webhook's send time: the webhook's own commit and answer, and how long "
        "the engine waited before ticking. In the tick = the Twilio request's arrival − that tick's start: "
        "routing, the escalation step, the outbox claim and the Twilio SDK's request.",
        IDLE_END,
    ]
    text = path.read_text() if path.exists() else ""
    block = "\n".join(L)
    if IDLE_BEGIN in text and IDLE_END in text:
        text = text[: text.index(IDLE_BEGIN)] + block + text[text.index(IDLE_END) + len(IDLE_END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def pooled_result(results: list[dict]) -> dict:
    """The rounds of one tree as one: percentiles over all their incidents (kept in `lat_all`)."""
    lat = sorted(x for r in results for x in r["lat_all"])
    to_tick = sorted(x for r in results for x in r["to_tick_all"])
    in_tick = sorted(x for r in results for x in r["in_tick_all"])
    webhook = sorted(x for r in results for x in r["webhook_all"])
    ms = 1000.0
    return {
        "incidents": sum(r["incidents"] for r in results),
        "paged": len(lat),
        "p50_ms": pct(lat, 50) * ms,
        "p99_ms": pct(lat, 99) * ms,
        "max_ms": (lat[-1] * ms) if lat else float("nan"),
        "to_tick_p50_ms": pct(to_tick, 50) * ms,
        "to_tick_p99_ms": pct(to_tick, 99) * ms,
        "in_tick_p50_ms": pct(in_tick, 50) * ms,
        "in_tick_p99_ms": pct(in_tick, 99) * ms,
        "sms_requests": sum(r["sms_requests"] for r in results),
        "webhook_p50_ms": pct(webhook, 50) * ms,
        "webhook_p99_ms": pct(webhook, 99) * ms,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fake-twilio", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--rates", default="10,100,1000")
    ap.add_argument("--durations", default="5,5,3")
    ap.add_argument("--idle", action="store_true", help="50 incidents 200 ms apart (rate 5/s for 10 s)")
    ap.add_argument("--before", metavar="REV", help="also measure the tree of git revision REV, in the same run")
    ap.add_argument("--rounds", type=int, default=1, help="rounds per tree (alternating which goes first)")
    ap.add_argument("--results", action="store_true", help="with --idle: write its section of bench/RESULTS.md")
    ap.add_argument("--drain-timeout", type=float, default=20.0)
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--json", help="write the results (JSON) here")
    ap.add_argument("--log", help="pagerd's log file (default: in the temp dir, removed)")
    args = ap.parse_args()
    if args.fake_twilio:
        fake_twilio_main(args.fake_twilio)
        return 0
    if args.idle:
        rates, durations = [5.0], [10.0]
    else:
        rates = [float(x) for x in args.rates.split(",")]
        durations = [float(x) for x in args.durations.split(",")]
    if len(rates) != len(durations):
        raise SystemExit("paging_latency: --rates and --durations need the same number of values")
    if not 1 <= args.rounds <= 10:
        raise SystemExit("paging_latency: --rounds is 1 to 10")
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {int(args.client_cpu)})
    trees: dict[str, Path] = {"this tree": ROOT}
    heads = {"this tree": git_head(ROOT)}
    if args.before:
        tree, commit = before_tree(args.before)
        trees["before"] = tree
        heads["before"] = f"{commit[:12]} (`--before {args.before}`)"
    la0 = uptime()
    outs: dict[str, list[dict]] = {k: [] for k in trees}
    for k in range(args.rounds):
        order = list(trees) if k % 2 == 0 else list(reversed(trees))
        for label in order:
            log_path = Path(args.log) if args.log and label == "this tree" else None
            out = measure(trees[label], rates, durations, args, log_path)
            for r in out["results"]:
                r["round"] = k + 1
            outs[label].append(out)
            print(f"[paging_latency] {label} round {k + 1}: {table(out['results'])}", flush=True)
    la1 = uptime()
    out_all = {"trees": heads, "runs": outs, "uptime_start": la0, "uptime_end": la1}
    rows = [(label, r) for label, lst in outs.items() for o in lst for r in o["results"]]
    pooled = {label: pooled_result([r for o in lst for r in o["results"]]) for label, lst in outs.items()}
    out_all["pooled"] = pooled
    single = len(trees) == 1 and args.rounds == 1 and not args.idle  # the shape bench/run.py reads
    if args.json:
        Path(args.json).write_text(json.dumps(outs["this tree"][0] if single else out_all, indent=1))
    if args.idle:
        print(idle_table([(k, {**v, "round": "all"}) for k, v in pooled.items()]))
        print(idle_table(rows))
    else:  # one table per tree and round, a row per rate
        for label, lst in outs.items():
            for o in lst:
                if len(outs) > 1 or len(lst) > 1:
                    print(f"\n{label}, round {o['results'][0]['round']}:")
                print(table(o["results"]))
    if args.results and args.idle:
        command = ".venv/bin/python bench/paging_latency.py " + " ".join(sys.argv[1:])
        write_results(command, rows, pooled, (la0, la1), heads)
    if single:
        print("BENCHJSON " + json.dumps(outs["this tree"][0]), flush=True)
    else:  # the samples stay in --json
        print("BENCHJSON " + json.dumps({k: v for k, v in out_all.items() if k != "runs"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
