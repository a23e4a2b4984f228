"""Benchmark of the portal (issue 15): `make bench-portal` (or `.venv/bin/python bench/portal.py`).

Target: with 100,000 tickets and 500 customers, the ticket list, the ticket page and the project page
answer at 50 requests/s with p99 ≤ 50 ms of server time.

1. Data. A config derived from config/pagerd.example.yaml with BENCH_PORTAL_CUSTOMERS (500) customers in
   all (the example's acme and agency, and generated ones with one or two projects and a contact each),
   written to a temp folder; a fresh SQLite database (the store's schema, by its own migrations) filled
   with BENCH_PORTAL_TICKETS (100,000) request tickets the way bench/desk.py fills it (desk.fill): one every
   15 minutes up to an hour ago, BENCH_PORTAL_EVENTS_MIN..BENCH_PORTAL_EVENTS (2..6) timeline entries each
   (replies of the customer and the desk, internal notes, status changes), assigned among the example's
   people; acme, the one large customer, has 8% of them, triage 5%, the rest spread over the others.
2. Accounts, made with the real CLI (`pagerd user add ... --password-stdin`): a desk user and a contact of
   acme; each signs in through the real /ui/login form (its CSRF token fetched, the form posted, the
   session cookie kept: tests/harness/portal.py's PortalClient).
3. Load. `pagerd serve` on that config (paging engine on, dry-run notifier) pinned to CPU 1, after the engine
   has judged every live request once; httperf (Debian; `scripts/peers.sh bench-portal` installs it) pinned
   to CPU 0 opens connections at a fixed BENCH_PORTAL_RATE (50) per second, open loop (a slow answer does
   not hold back the next request), one request each, for BENCH_PORTAL_SECONDS (20) s per page kind:
   /healthz (the baseline, first and last), the desk's ticket list (/ui/tickets, with and without
   ?status=open), the customer's ticket list, a ticket page (/ui/tickets/{number}, random numbers among
   those the role may see) for each role, the project page (/ui/projects/{customer}/{project}) of the
   customer (its own projects) and of the desk (random projects). Per kind: the client's time (connection
   lifetime: connect, request, answer; httperf's 1 ms histogram), the server's time (each answer's
   `Server-Timing: app;dur=` header, the portal middleware's), the answers' status codes (every one must
   be 200: a 303 to the sign-in page means the session broke and the run is void) and the daemon's CPU.

Every loop is bounded; loopback only. Writes the section between the `portal` markers of bench/RESULTS.md
(the rest of the file is kept) and the raw numbers to bench/out/portal.json.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import desk as D

from tests.harness.portal import PASSWORD, PortalClient

BEGIN, END = "<!-- portal:begin -->", "<!-- portal:end -->"
RATE = D.env_num("BENCH_PORTAL_RATE", 50)
SECONDS = D.env_num("BENCH_PORTAL_SECONDS", 20)
TICKETS = int(D.env_num("BENCH_PORTAL_TICKETS", 100_000))
CUSTOMERS = int(D.env_num("BENCH_PORTAL_CUSTOMERS", 500))
EVENTS = int(D.env_num("BENCH_PORTAL_EVENTS", 6))
EVENTS_MIN = int(D.env_num("BENCH_PORTAL_EVENTS_MIN", 2))
ONLY = {k for k in os.environ.get("BENCH_PORTAL_ONLY", "").split(",") if k}  # page kinds to run (default all)
# BENCH_PORTAL_PROFILE=1: a py-spy profile of the daemon during each page kind (py-spy in the venv), summarized
# into bench/out/portal-profile-KIND.txt; the figures of a profiled run are not the benchmark's
PROFILE = os.environ.get("BENCH_PORTAL_PROFILE", "0") == "1"
TARGET_MS = 50
BIG = "acme"  # the large customer whose contact signs in
DESK_EMAIL, CONTACT_EMAIL = "desk@example.nl", "jan@acme.example"
HTTPERF = shutil.which("httperf") or "/usr/bin/httperf"
# A desk's history: most requests closed; 2.5% live (each judged once by the engine after the start)
STATUSES = ["closed"] * 930 + ["resolved"] * 45 + ["waiting_on_customer"] * 5 + ["open"] * 15 + ["new"] * 5


def log(msg: str) -> None:
    print(f"[portal {time.monotonic() - D.T_START:6.1f}s] {msg}", flush=True)


# -- data ------------------------------------------------------------------------------------------------


def write_config(folder: Path, customers: int) -> tuple[Path, list[str]]:
    """The example config with generated customers added up to `customers` in all; the generated
    projects ("cNNN/site", every other one also "cNNN/shop")."""
    cfg = yaml.safe_load(D.CONFIG.read_text())
    generated = []
    for i in range(1, customers - len(cfg["customers"]) + 1):
        cid = f"c{i:03d}"
        projects = {"site": {"coverage": "office_hours"}}
        if i % 2:
            projects["shop"] = {"coverage": "office_hours"}
        cfg["customers"][cid] = {
            "name": f"Klant {i:03d} BV",
            "email": f"it@{cid}.example",
            "email_domains": [f"{cid}.example"],
            "contacts": [{"id": f"{cid}.1", "name": f"Contact {i:03d}", "emails": [f"help@{cid}.example"]}],
            "projects": projects,
        }
        generated += [f"{cid}/{p}" for p in projects]
    path = folder / "pagerd.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return path, generated


def project_mix(generated: list[str]) -> list[str | None]:
    """Projects to draw a ticket's from: acme 8% (webshop 5, intranet 3), agency 2%, triage 5%, the
    generated customers' projects the remaining 85%, evenly."""
    unit = len(generated) / 85
    return (
        [f"{BIG}/webshop"] * round(5 * unit)
        + [f"{BIG}/intranet"] * round(3 * unit)
        + ["agency/infra"] * round(2 * unit)
        + [None] * round(5 * unit)
        + list(generated)
    )


def requester(customer: str | None) -> tuple[str | None, str, str]:
    if customer == BIG:
        return "acme.jan", "Jan Pietersen", CONTACT_EMAIL
    if customer is None or customer == "agency":
        return None, "Piet Onbekend", "piet@freemail.example"
    return f"{customer}.1", f"Contact {customer[1:]}", f"help@{customer}.example"


def fill(db: Path, projects: list[str | None], people: list[str]) -> dict:
    start = datetime.now(timezone.utc) - timedelta(minutes=15 * TICKETS + 60)
    return D.fill(
        db,
        TICKETS,
        EVENTS,
        projects=projects,
        requester=requester,
        staff=people,
        start=start,
        events_min=EVENTS_MIN,
        statuses=STATUSES,
        final_status=True,
    )


def add_account(pd: D.Proc, config: Path, email: str, role: str, *extra: str) -> None:
    """`pagerd user add` with the daemon's environment (its database)."""
    subprocess.run(
        [str(D.PAGERD), "user", "add", "-c", str(config), "--email", email, "--role", role, "--password-stdin", *extra],
        input=PASSWORD + "\n",
        env=pd.env,
        cwd=D.ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


def signed_in(port: int, email: str) -> PortalClient:
    """A client signed in through the real form, its session checked on the ticket list."""
    client = PortalClient(SimpleNamespace(port=port))  # type: ignore[arg-type]
    answer = client.sign_in(email)
    if answer.status != 303 or answer.location != "/ui/tickets" or not client.session:
        raise SystemExit(f"sign-in of {email}: {answer.status} {answer.location!r}")
    if (got := client.get("/ui/tickets")).status != 200:
        raise SystemExit(f"{email}: /ui/tickets answered {got.status} after sign-in")
    return client


def numbers(db: Path, customer: str | None) -> list[int]:
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        if customer is None:
            return [r[0] for r in c.execute("SELECT number FROM tickets")]
        return [r[0] for r in c.execute("SELECT number FROM tickets WHERE customer = ?", (customer,))]
    finally:
        c.close()


# -- load ------------------------------------------------------------------------------------------------

_TIMING = re.compile(r"^RH\d+:server-timing: *app;dur=([0-9.]+)", re.I | re.M)
_STATUS = re.compile(r"^RH\d+:HTTP/1\.[01] (\d{3})", re.M)
_SUMMARY = re.compile(r"Connection time \[ms\]: min ([0-9.]+) avg ([0-9.]+) max ([0-9.]+) median ([0-9.]+)")
_TOTAL = re.compile(r"Total: connections (\d+) requests (\d+) replies (\d+) test-duration ([0-9.]+) s")
_ERRORS = re.compile(r"Errors: total (\d+)")


def histogram_pct(hist: list[tuple[float, int]], p: float) -> float:
    """The p-th percentile of httperf's connection lifetime histogram (1 ms bins, given by their middles):
    the upper edge of the bin it falls in (the caller caps it at the maximum)."""
    total = sum(n for _, n in hist)
    need = p / 100 * total
    seen = 0
    for mid, n in hist:
        seen += n
        if seen >= need:
            return mid + 0.5
    return hist[-1][0] + 0.5 if hist else float("nan")


def parse_httperf(out: str) -> dict:
    hist = []
    if "Connection lifetime histogram" in out:
        for line in out.split("Connection lifetime histogram", 1)[1].splitlines()[1:]:
            if not line.strip():
                break
            parts = line.split()
            if len(parts) == 2:
                hist.append((float(parts[0]), int(parts[1])))
    server = sorted(float(x) for x in _TIMING.findall(out))
    total, summary, errors = _TOTAL.search(out), _SUMMARY.search(out), _ERRORS.search(out)
    if not (total and summary and errors):
        raise SystemExit(f"httperf output not understood:\n{out[-2000:]}")
    return {
        "connections": int(total[1]),
        "replies": int(total[3]),
        "duration_s": float(total[4]),
        "errors": int(errors[1]),
        "status": dict(sorted(Counter(_STATUS.findall(out)).items())),
        "client_p50_ms": min(histogram_pct(hist, 50), float(summary[3])),
        "client_p99_ms": min(histogram_pct(hist, 99), float(summary[3])),
        "client_median_ms": float(summary[4]),
        "client_max_ms": float(summary[3]),
        "server_n": len(server),
        "server_p50_ms": D.pct(server, 50) if server else None,
        "server_p99_ms": D.pct(server, 99) if server else None,
        "server_max_ms": max(server) if server else None,
    }


def quiet(pid: int, timeout: float = 30) -> None:
    """Until the daemon is idle (under 5% of a core over half a second; at most `timeout` s): what the last
    phase left behind (answers to requests the client gave up on) is not charged to the next."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cpu0 = D.cpu_seconds(pid)
        time.sleep(0.5)
        if D.cpu_seconds(pid) - cpu0 < 0.025:
            return


def profiler(pid: int, name: str) -> subprocess.Popen:
    spy = D.VENV / "py-spy"
    if not spy.exists():
        raise SystemExit("BENCH_PORTAL_PROFILE=1 needs py-spy in the venv (.venv/bin/pip install py-spy)")
    raw = D.OUT / f"portal-profile-{name}.raw"
    argv = [str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--nonblocking"]
    argv += ["--duration", f"{SECONDS:g}", "--output", str(raw)]
    return subprocess.Popen(
        ["taskset", "-c", D.CLIENT_CPU, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def summarize(spy: subprocess.Popen, name: str) -> None:
    spy.wait(timeout=SECONDS + 60)
    from profile_summary import summarize as text

    out = D.OUT / f"portal-profile-{name}.txt"
    out.write_text(text(str(D.OUT / f"portal-profile-{name}.raw"), top=40, focus="pager/"))
    log(f"  profile: {out}")


def load(port: int, pid: int, kind: str, uris: list[str], session: str | None, folder: Path, kind_slug: str) -> dict:
    """RATE requests/s for SECONDS over `uris` (in turn, looping), open loop, one connection each."""
    wlog = folder / f"{kind_slug}.wlog"
    wlog.write_bytes(b"".join(u.encode() + b"\0" for u in uris))
    n = int(RATE * SECONDS)
    argv = [
        "taskset", "-c", D.CLIENT_CPU, HTTPERF, "--hog", "--server", "127.0.0.1", "--port", str(port),
        "--rate", f"{RATE:g}", "--num-conns", str(n), "--num-calls", "1", "--timeout", "10",
        "--wlog", f"y,{wlog}", "--print-reply=header", "--verbose", "--verbose",
    ]  # fmt: skip
    if session:
        argv += ["--add-header", f"Cookie: pagerd_session={session}\\n"]
    quiet(pid)
    spy = profiler(pid, kind_slug) if PROFILE else None
    load0, cpu0 = D.loadavg(), D.cpu_seconds(pid)
    run = subprocess.run(argv, capture_output=True, text=True, timeout=SECONDS + 60)
    if spy is not None:
        summarize(spy, kind_slug)
    if run.returncode != 0:
        raise SystemExit(f"httperf failed ({run.returncode}): {run.stderr[-2000:]}")
    res = {"kind": kind, "example": uris[0], "uris": len(set(uris)), **parse_httperf(run.stdout)}
    res["cpu_ms"] = 1000 * (D.cpu_seconds(pid) - cpu0) / max(1, res["replies"])
    res["load_start"], res["load_end"] = load0, D.loadavg()
    res["ok"] = res["status"] == {"200": n} and res["errors"] == 0 and res["replies"] == n
    server = f", server p50 {res['server_p50_ms']:.1f} p99 {res['server_p99_ms']:.1f} ms" if res["server_n"] else ""
    log(
        f"  {kind}: client p50 {res['client_p50_ms']:.1f} p99 {res['client_p99_ms']:.1f} max "
        f"{res['client_max_ms']:.1f} ms{server}; status {res['status']}, errors {res['errors']}; "
        f"CPU {res['cpu_ms']:.1f} ms/request; load {res['load_end']}"
    )
    return res


def kinds(db: Path, generated: list[str], desk: str, contact: str) -> list[tuple[str, str, list[str], str | None]]:
    """(page kind, role, the URIs in the order requested, the session cookie) of every phase."""
    rnd = random.Random(7)
    count = max(1, int(RATE * SECONDS))
    everyone, mine = numbers(db, None), numbers(db, BIG)
    own = [f"/ui/projects/{BIG}/webshop", f"/ui/projects/{BIG}/intranet"]
    return [
        ("healthz (baseline)", "-", ["/healthz"], None),
        ("ticket list", "desk", ["/ui/tickets"], desk),
        ("ticket list ?status=open", "desk", ["/ui/tickets?status=open"], desk),
        ("ticket list", "customer", ["/ui/tickets"], contact),
        ("ticket page", "desk", [f"/ui/tickets/{rnd.choice(everyone)}" for _ in range(count)], desk),
        ("ticket page", "customer", [f"/ui/tickets/{rnd.choice(mine)}" for _ in range(count)], contact),
        ("project page", "customer", own, contact),
        ("project page", "desk", [f"/ui/projects/{rnd.choice(generated)}" for _ in range(count)], desk),
        ("healthz (baseline, again)", "-", ["/healthz"], None),
    ]


def slug(kind: str, role: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{role} {kind}".lower()).strip("-")


def run(tmp: Path, res: dict) -> None:
    config, generated = write_config(tmp, CUSTOMERS)
    res["customers"], res["projects"] = CUSTOMERS, len(generated) + 3
    people = sorted(yaml.safe_load(D.CONFIG.read_text())["people"])
    db = tmp / "pagerd.db"
    log(f"filling {TICKETS} tickets ({EVENTS_MIN}-{EVENTS} events each) over {CUSTOMERS} customers")
    res["fill"] = fill(db, project_mix(generated), people)
    log(f"  {res['fill']}")
    hport = D.free_port()
    pd = D.pagerd(db, hport, D.free_port(), name="portal-pagerd", config=config)
    add_account(pd, config, DESK_EMAIL, "desk", "--person", people[0])
    add_account(pd, config, CONTACT_EMAIL, "customer", "--customer", BIG)
    pd.start(D.http_ready(hport), timeout=180)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 300 and D.due_count(db):  # the engine judges the live requests once
            time.sleep(0.5)
        res["settle_s"], res["due_left"] = time.monotonic() - t0, D.due_count(db)
        desk, contact = signed_in(hport, DESK_EMAIL), signed_in(hport, CONTACT_EMAIL)
        res["big_tickets"] = len(numbers(db, BIG))
        res["rss_kb_started"] = D.status_kb(pd.pid, "VmRSS")
        res["phases"] = []
        for kind, role, uris, session in kinds(db, generated, desk.session or "", contact.session or ""):
            if ONLY and slug(kind, role) not in ONLY:
                continue
            log(f"{role} {kind}: {RATE:g}/s for {SECONDS:g} s ({uris[0]} ...)")
            res["phases"].append({"role": role, **load(hport, pd.pid, kind, uris, session, tmp, slug(kind, role))})
        # the sessions held: each still sees its list after the load (a sign-in page would be a 303)
        res["sessions_held"] = desk.get("/ui/tickets").status == 200 and contact.get("/ui/tickets").status == 200
        res["rss_kb"], res["hwm_kb"] = D.status_kb(pd.pid, "VmRSS"), D.status_kb(pd.pid, "VmHWM")
    finally:
        pd.stop()


# -- results ---------------------------------------------------------------------------------------------


def ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def write(res: dict, wall: float) -> str:
    f = res["fill"]
    L = [BEGIN, "## Portal (issue 15): `bench/portal.py`", ""]
    L.append(
        f"Generated by `make bench-portal` (`.venv/bin/python bench/portal.py`) on {res['date']} at git {res['git']}; "
        f"wall time {wall:.0f} s; uptime at the start: `{res['uptime_start']}`, at the end: `{res['uptime_end']}` "
        f"(nproc {os.cpu_count()}, {res['machine']}). `pagerd serve` (paging engine on, dry-run notifier) pinned "
        f"to CPU 1 (`taskset -c 1`), the load generator ({res['httperf']}) on CPU 0; loopback only; a fresh "
        "database in a temp folder."
    )
    L += [
        "",
        f"Configuration measured: config/pagerd.example.yaml with {res['customers']} customers in all "
        f"({res['projects']} projects; acme and agency as in the example, the others generated with one or two "
        f"projects and a contact each). Data: {f['tickets']:,} request tickets with {f['entries']:,} timeline "
        f"entries ({EVENTS_MIN}–{EVENTS} a ticket: replies of customer and desk, internal notes, status "
        f"changes), filled in {f['fill_s']:.0f} s ({f['db_mb']:.0f} MB) in the store's schema; one every 15 "
        f"minutes up to an hour before the run; 93% closed, 4.5% resolved, 2.5% live; acme (the large customer) "
        f"{res['big_tickets']:,} tickets, triage 5%, the rest spread over the other customers. The engine's "
        f"judging of the live requests after the start took {res['settle_s']:.0f} s (left: {res['due_left']}) "
        "and was done before the load. Accounts made with `pagerd user add`; each signed in through /ui/login "
        "(CSRF token, form, session cookie).",
        "",
        f"Each page kind: {RATE:g} requests/s for {SECONDS:g} s, open loop (httperf `--rate`: connections "
        "opened on schedule whatever the answers; one request each). Client time: each connection's lifetime "
        "(connect, request, answer), httperf's 1 ms histogram (a percentile is its bin's upper edge, at most the maximum). Server "
        "time: the answers' `Server-Timing: app;dur=` (the portal middleware: the handler with its store reads "
        "and the template). The ticket pages ask random tickets the role may see; the customer's project page "
        "alternates its two projects, the desk's asks random projects.",
        "",
        "| page | role | example | server p50 ms | server p99 ms | server max ms | client p50 ms | "
        "client p99 ms | client max ms | status codes | daemon CPU ms/request | load average after |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for p in res["phases"]:
        codes = ", ".join(f"{k}: {v}" for k, v in p["status"].items()) + (
            f"; {p['errors']} errors" if p["errors"] else ""
        )
        L.append(
            f"| {p['kind']} | {p['role']} | `{p['example']}` | {ms(p['server_p50_ms'])} | {ms(p['server_p99_ms'])} "
            f"| {ms(p['server_max_ms'])} | {ms(p['client_p50_ms'])} | {ms(p['client_p99_ms'])} | "
            f"{ms(p['client_max_ms'])} | {codes} | {p['cpu_ms']:.1f} | {p['load_end']} |"
        )
    pages = [p for p in res["phases"] if p["role"] != "-"]
    void = [p for p in res["phases"] if not p["ok"]] or not res["sessions_held"]
    worst = max((p["server_p99_ms"] or 0 for p in pages), default=float("nan"))
    worst_client = max((p["client_p99_ms"] for p in pages), default=float("nan"))
    L += [""]
    if void:
        L.append(
            "- **Void run**: not every request had a 200 (errors: httperf's, e.g. no answer within its 10 s "
            "timeout), or the sessions did not hold: "
            + "; ".join(f"{p['role']} {p['kind']} {p['status']}, {p['errors']} errors" for p in void if p)
            + "."
        )
    L += [
        f"- Target p99 ≤ {TARGET_MS} ms server time at {RATE:g}/s for every page: worst server p99 {worst:.1f} ms — "
        f"{D.verdict(not void and worst <= TARGET_MS)} (worst client p99 {worst_client:.1f} ms, connect included).",
        f"- Every answer 200 and both sessions still signed in after the load: {'yes' if not void else 'no'}.",
        f"- RSS of the daemon after the load: {res['rss_kb'] / 1024:.0f} MB (peak {res['hwm_kb'] / 1024:.0f} MB; "
        f"{res['rss_kb_started'] / 1024:.0f} MB before the load).",
        "",
        END,
    ]
    return D.write_section("\n".join(L) + "\n", BEGIN, END)


def machine() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def main() -> int:
    if not D.PAGERD.exists():
        raise SystemExit(f"{D.PAGERD} missing: run `make venv` in this tree first")
    if not Path(HTTPERF).exists():
        raise SystemExit("httperf missing: `scripts/peers.sh bench-portal` installs it (Debian package httperf)")
    D.OUT.mkdir(exist_ok=True)
    version = re.search(
        r"httperf-[0-9.]+", subprocess.run([HTTPERF, "--version"], capture_output=True, text=True).stdout
    )
    res: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "git": D.git_rev(),
        "uptime_start": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "machine": machine(),
        "httperf": version[0] if version else "httperf",
    }
    log(f"uptime: {res['uptime_start']}")
    os.sched_setaffinity(0, {int(D.CLIENT_CPU)})
    with tempfile.TemporaryDirectory(prefix="pagerd-portal-") as d:
        run(Path(d), res)
    res["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    (D.OUT / "portal.json").write_text(json.dumps(res, indent=1))
    print(write(res, time.monotonic() - D.T_START))
    return 0


if __name__ == "__main__":
    sys.exit(main())
