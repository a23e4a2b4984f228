"""Benchmark: the ticket list and full-text search with 100,000 tickets.

    .venv/bin/python bench/tickets_search.py [--tickets N] [--seed N]

Files N requests (subject of 4 words, body of 30, from a vocabulary of 20 words, so that a word
matches most tickets: the search index's worst case) into a temporary SQLite store in one
transaction, then times 50 reads of each kind through the store's port. Target: p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pager.clock import ManualClock
from pager.storage import sqlite as S
from pager.storage import sqlite_tickets as T
from pager.storage.port import IngestPolicy, Requester

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
WORDS = (
    "checkout varnish mailbox quota backup restore certificate dns mysql php nginx cache login password invoice "
    "domain ssl cron disk memory"
).split()
READS = [
    ("list, newest 100", {}),
    ("list status=new project=acme/webshop", {"status": "new", "project": "acme/webshop"}),
    ("search one common word", {"q": "varnish"}),
    ("search two words", {"q": "varnish checkout"}),
    ("search four words", {"q": "ssl cron dns memory"}),
    ("search in the triage queue", {"q": "varnish", "triage": True}),
    ("search + a status no match has (walks every match)", {"q": "varnish", "status": "closed"}),
]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pagerd-bench-"))
    path = str(folder / "bench.db")
    S.migrate(path, T0)
    conn = S._connect(path, synchronous="OFF")
    rnd = random.Random(a.seed)
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    for _ in range(a.tickets):
        T.create_ticket(
            conn,
            " ".join(rnd.choice(WORDS) for _ in range(4)),
            " ".join(rnd.choice(WORDS) for _ in range(30)),
            "email",
            "acme",
            rnd.choice(["acme/webshop", "acme/intranet", None]),
            Requester(name="x"),
            "normal",
            None,
            (),
            (),
            "bench",
            T0,
        )
    conn.execute("COMMIT")
    conn.close()
    print(f"{a.tickets} tickets filed in {time.perf_counter() - t0:.1f} s\n")
    policy = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))
    store = S.SqliteStore(path, policy, clock=ManualClock(T0))
    await store.open()
    print("| read | p50 ms | p99 ms |\n|---|---|---|")
    for label, kw in READS:
        times = []
        for _ in range(50):
            t = time.perf_counter()
            await store.list_tickets(**kw)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t)
        times.sort()
        print(f"| {label} | {times[25] * 1000:.1f} | {times[-2] * 1000:.1f} |")
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
