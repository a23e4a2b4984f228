"""The desk queue's scan (pager.web.portal_desk._newest) on a real SQLite store: the newest QUEUE_SCAN
tickets of the store's query, newest first, QUEUE_SHOWN at a time, exactly the rows one read of
QUEUE_SCAN answers; a queue that stops early reads no more."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from pager.clock import ManualClock
from pager.domain.portal import Role, Viewer
from pager.domain.portal_desk import QueueFilter
from pager.storage.port import IngestPolicy, Requester
from pager.storage.sqlite import SqliteStore
from pager.web.portal_desk import QUEUE_SCAN, QUEUE_SHOWN, _newest

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
DESK = Viewer(Role.DESK, person="anna")


class Counting(SqliteStore):
    """The store, counting its list reads."""

    reads = 0

    async def list_tickets(self, **kw):  # type: ignore[no-untyped-def]
        self.reads += 1
        return await super().list_tickets(**kw)


async def _store(tmp_path: Path, tickets: int) -> Counting:
    store = Counting(
        str(tmp_path / "pagerd.db"),
        IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5)),
        clock=ManualClock(T0),
    )
    await store.open()
    for n in range(tickets):
        await store.create_ticket(
            subject=f"Request {n}",
            body="Something is slow.",
            via="email",
            customer="acme" if n % 3 else None,
            project="acme/webshop" if n % 3 else None,
            requester=Requester(contact=None, name="Jan", email="jan@acme.example", phone=None),
            priority="normal",
            assignee=None,
            watchers=(),
            attachments=(),
            actor="anna",
            now=T0 + timedelta(minutes=n),
        )
    return store


async def _scan(store: Counting, f: QueueFilter, pages: int | None = None) -> list[list[int]]:
    out = []
    async for rows in _newest(store, DESK, f):
        out.append([r.number for r in rows])
        if pages is not None and len(out) >= pages:
            break
    return out


async def test_the_scan_answers_what_one_read_of_the_scan_answers_a_page_at_a_time(tmp_path: Path) -> None:
    store = await _store(tmp_path, QUEUE_SCAN + 50)
    try:
        for f, kw in ((QueueFilter(), {}), (QueueFilter(project="none"), {"triage": True})):
            store.reads = 0
            pages = await _scan(store, f)
            assert store.reads == len(pages)
            one = [t.number for t in await store.list_tickets(limit=QUEUE_SCAN, **kw)]
            assert [n for page in pages for n in page] == one
            assert all(len(p) <= QUEUE_SHOWN for p in pages)
        # a queue that is full after the first page reads one page
        store.reads = 0
        assert len((await _scan(store, QueueFilter(), pages=1))[0]) == QUEUE_SHOWN
        assert store.reads == 1
    finally:
        await store.close()


async def test_fewer_tickets_than_a_page_is_one_read(tmp_path: Path) -> None:
    store = await _store(tmp_path, 7)
    try:
        assert await _scan(store, QueueFilter()) == [[7, 6, 5, 4, 3, 2, 1]]
        assert store.reads == 1
    finally:
        await store.close()
