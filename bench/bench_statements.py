"""Benchmark: a year of monthly statements for 100 customers (issue 5).

    .venv/bin/python bench/bench_statements.py [--seed N] [--customers N]

Generates a year (2026) of realistic facts into a temporary SQLite store through the store API:
100 customers on the example config's calendar (Europe/Amsterdam, NL holidays); 30 of them have
recurring standby (evening_night, weekend, holiday) on their webshop, the other 70 book standby
(most weekends Fri 18:00 -> Mon 08:30, some weeknights 18:00 -> 08:30); about 2 call-outs a
month each, paged inside standby, acknowledged 3-40 min later, resolved, 60% with logged work.
Then times all 1,200 statements (customers x months) with the shared calendar (its day-plan
cache warm across statements, as in the daemon), and a naive baseline that builds a fresh
Calendar for every statement (no shared cache). Prints a markdown table. Target: <= 2 s for all.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pager import config as config_mod  # noqa: E402
from pager.app import policy  # noqa: E402
from pager.clock import SystemClock  # noqa: E402
from pager.domain.alert import Action, Alert, Source  # noqa: E402
from pager.domain.calendar import Calendar, Period  # noqa: E402
from pager.domain.incident import State  # noqa: E402
from pager.service.schedule import Schedule  # noqa: E402
from pager.service.statements import statement  # noqa: E402
from pager.storage.port import Delivery  # noqa: E402
from pager.storage.sqlite import SqliteStore  # noqa: E402

UTC = timezone.utc
YEAR = 2026
TARGET_S = 2.0
ENGINEERS = ("dewi", "eva", "bram", "chris")
RECURRING_SHARE = 0.3


def make_config(tmp: Path, n: int, rng: random.Random) -> tuple[Path, list[str], set[str]]:
    text = (ROOT / "config" / "pagerd.example.yaml").read_text()
    lines, ids, recurring = [], [], set()
    for i in range(n):
        cid = f"c{i:03d}"
        ids.append(cid)
        rate = f"{rng.choice([85, 90, 95, 110, 125])}.00"
        rec = i < int(n * RECURRING_SHARE)
        web = "{coverage: standby, standby: [evening_night, weekend, holiday]}" if rec else "{coverage: standby}"
        if rec:
            recurring.add(cid)
        lines.append(
            f"  {cid}:\n    name: Customer {i}\n    rate: \"{rate}\"\n    projects:\n"
            f"      web: {web}\n      intranet: {{coverage: office_hours}}\n"
        )
    text = text.replace("customers:\n", "customers:\n" + "".join(lines), 1)
    path = tmp / "bench.yaml"
    path.write_text(text)
    return path, ids, recurring


def local(cal: Calendar, y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=cal.zone).astimezone(UTC)


async def generate(store: SqliteStore, cal: Calendar, ids: list[str], recurring: set[str], rng: random.Random) -> dict:
    start = datetime(YEAR, 1, 1)
    days = [start + timedelta(days=k) for k in range((datetime(YEAR + 1, 1, 1) - start).days)]
    now = datetime(YEAR - 1, 12, 1, tzinfo=UTC)
    n_book = n_inc = 0
    standby_periods = (Period.WEEKEND, Period.EVENING_NIGHT, Period.HOLIDAY)
    for cid in ids:
        ranges: list[tuple[datetime, datetime]] = []
        if cid in recurring:
            ranges = [
                (st.start, st.end)
                for st in cal.stretches(local(cal, YEAR, 1, 1, 0, 0), local(cal, YEAR + 1, 1, 1, 0, 0))
                if st.period in standby_periods
            ]
        else:
            for d in days:
                wd = d.weekday()
                if wd == 4 and rng.random() < 0.8:  # most weekends: Fri 18:00 -> Mon 08:30
                    e = d + timedelta(days=3)
                    ranges.append(
                        (local(cal, d.year, d.month, d.day, 18, 0), local(cal, e.year, e.month, e.day, 8, 30))
                    )
                elif wd < 4 and rng.random() < 0.12:  # some weeknights
                    e = d + timedelta(days=1)
                    ranges.append(
                        (local(cal, d.year, d.month, d.day, 18, 0), local(cal, e.year, e.month, e.day, 8, 30))
                    )
            for s, e in ranges:
                await store.add_booking(customer=cid, start=s, end=e, created_by="desk", now=now)
                n_book += 1
        # ~2 call-outs a month, paged inside standby (not in office time)
        for month in range(1, 13):
            for _ in range(rng.choice([1, 2, 2, 3])):
                for _try in range(20):
                    s, e = rng.choice(ranges)
                    at = s + timedelta(seconds=rng.randrange(int((e - s).total_seconds())))
                    if at.month == month and cal.period_at(at) is not Period.OFFICE:
                        break
                else:
                    continue
                await callout(store, cid, at, rng)
                n_inc += 1
    return {"bookings": n_book, "incidents": n_inc}


async def callout(store: SqliteStore, cid: str, at: datetime, rng: random.Random) -> None:
    key = f"{cid}-{at.timestamp()}-{rng.random()}"
    alert = Alert(
        source=Source.EVENTS_V2,
        dedup_key=key,
        fingerprint=key,
        action=Action.TRIGGER,
        event_id=key,
        summary=f"{cid} webshop down",
        labels={"customer": cid, "service": "web"},
    )
    res = await store.ingest(Delivery(Source.EVENTS_V2, "application/json", b"{}", (alert,), at, {}))
    iid = res.applied[0].incident_id
    assert iid is not None
    await store.create_escalation(
        incident_id=iid,
        generation=0,
        project=f"{cid}/web",
        rotation="standby",
        policy={"name": "default"},
        status="active",
        next_at=at,
        target_seconds=1800,
        reason="bench",
        now=at,
    )
    await store.fire_step(
        incident_id=iid,
        generation=0,
        k=0,
        next_at=None,
        messages=[],
        now=at,
        first_page=True,
        deadline=at + timedelta(minutes=30),
        escalate_at=None,
        early=False,
        final_status="done",
        event={"kind": "paging", "step": 0, "round": 0, "people": [], "notes": [], "messages": 0},
    )
    who = rng.choice(ENGINEERS)
    ack = at + timedelta(minutes=rng.randint(3, 40))
    await store.transition(iid, State.ACKNOWLEDGED, actor=who, via="sms", comment=None, now=ack)
    res_at = ack + timedelta(minutes=rng.randint(10, 120))
    await store.transition(iid, State.RESOLVED, actor=who, via="sms", comment=None, now=res_at)
    if rng.random() < 0.6:
        await store.add_work(iid, person=who, minutes=rng.randint(15, 150), by=who, now=res_at)


async def run_all(store, config, schedule_of, ids: list[str], now: datetime) -> tuple[float, list[dict]]:
    t0 = time.perf_counter()
    out = []
    for cid in ids:
        for m in range(1, 13):
            out.append(await statement(store, config, schedule_of(), cid, f"{YEAR}-{m:02d}", now))
    return time.perf_counter() - t0, out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--customers", type=int, default=100)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        cfg_path, ids, recurring = make_config(tmp, args.customers, rng)
        config = config_mod.load(
            str(cfg_path),
            env={
                "TWILIO_AUTH_TOKEN": "bench",
                "PAGERD_SIGNING_KEY": "bench-signing-key-0123456789abcdef",
                "PAGERD_ADMIN_TOKEN": "bench-admin-token-0123456789",
                "PAGERD_WEBHOOK_TOKEN": "bench-webhook-token-0123456789",
                "PAGERD_NOTIFIER": "dry_run",
            },
        )
        schedule = Schedule(config)
        cal = schedule.calendar
        store = SqliteStore(str(tmp / "bench.db"), policy(config), clock=SystemClock(), synchronous="OFF")
        await store.open()
        try:
            t0 = time.perf_counter()
            facts = await generate(store, cal, ids, recurring, rng)
            gen_s = time.perf_counter() - t0
            now = datetime(YEAR + 1, 1, 2, tzinfo=UTC)
            # naive baseline first (cold): a fresh Calendar for every statement, no shared cache
            base_s, base = await run_all(store, config, lambda: SimpleNamespace(calendar=Calendar(cal.rules)), ids, now)
            shared_s, out = await run_all(store, config, lambda: schedule, ids, now)
            assert [s["totals"] for s in out] == [s["totals"] for s in base], "baseline and shared differ"
        finally:
            await store.close()
    n = len(out)
    blocks = sum(len(s["blocks"]) for s in out)
    calls = sum(len(s["callouts"]) for s in out)
    print(f"# Statements benchmark (issue 5): {args.customers} customers x 12 months of {YEAR}\n")
    print(
        f"Python {platform.python_version()} on {platform.machine()}; seed {args.seed}; store generated through "
        f"the store API in {gen_s:.1f} s: {facts['bookings']} bookings, {facts['incidents']} call-out incidents "
        f"({len(recurring)} customers on recurring standby); statements hold {blocks} blocks, {calls} call-out "
        f"lines.\n"
    )
    print("| variant | statements | total (s) | per statement (ms) | target ≤ 2 s |")
    print("|---|---:|---:|---:|---|")
    for name, secs in (("shared calendar (as the daemon)", shared_s), ("naive: fresh Calendar per statement", base_s)):
        verdict = "met" if secs <= TARGET_S else "missed"
        print(f"| {name} | {n} | {secs:.3f} | {secs / n * 1000:.2f} | {verdict} |")


if __name__ == "__main__":
    asyncio.run(main())
