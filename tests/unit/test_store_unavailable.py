"""A write the database cannot take now (its file full, its lock held by another process) is the port's
Unavailable, with the Retry-After a sender is told; nothing of it is stored, and the store goes on."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pager.clock import ManualClock
from pager.storage.port import IngestPolicy, Unavailable
from pager.storage.sqlite import SqliteStore, _unavailable

T0 = datetime(2026, 1, 7, 9, 0, tzinfo=timezone.utc)


def test_busy_and_full_are_unavailable_other_errors_are_not(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    a = sqlite3.connect(db, isolation_level=None, timeout=0)
    b = sqlite3.connect(db, isolation_level=None, timeout=0)
    a.execute("CREATE TABLE t (x BLOB)")
    a.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as busy:
        b.execute("BEGIN IMMEDIATE")
    a.execute("ROLLBACK")
    a.execute("PRAGMA max_page_count = 3")
    with pytest.raises(sqlite3.OperationalError) as full:
        a.execute("INSERT INTO t VALUES (zeroblob(100000))")
    with pytest.raises(sqlite3.OperationalError) as other:
        a.execute("SELECT nonsense FROM t")
    assert (_unavailable(busy.value).retry_after, "locked" in str(_unavailable(busy.value))) == (5, True)
    assert (_unavailable(full.value).retry_after, "disk is full" in str(_unavailable(full.value))) == (60, True)
    assert _unavailable(other.value) is None


async def test_a_write_on_a_full_database_is_unavailable_and_the_store_goes_on(tmp_path: Path) -> None:
    store = SqliteStore(
        str(tmp_path / "pagerd.db"), IngestPolicy(timedelta(hours=1), timedelta(minutes=5)), clock=ManualClock(T0)
    )
    await store.open()
    try:
        pages = await store._read(lambda c: c.execute("PRAGMA page_count").fetchone()[0])

        def fill(c: sqlite3.Connection) -> None:
            c.execute(f"PRAGMA max_page_count = {pages + 1}")  # the file may not grow: as on a full disk
            c.execute("CREATE TABLE filler (x BLOB)")
            c.execute("INSERT INTO filler VALUES (zeroblob(1000000))")

        with pytest.raises(Unavailable) as exc:
            await store._write(fill)
        assert exc.value.retry_after == 60
        await store._write(lambda c: c.execute("PRAGMA max_page_count = 1073741823"))  # space returns
        # nothing of it was stored, and the next write goes through
        assert (
            await store._read(
                lambda c: c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'filler'").fetchone()[0]
            )
            == 0
        )
        assert await store.queue_message(
            idem_key="k",
            person=None,
            channel="email",
            address="a@example.nl",
            kind="handover",
            subject="s",
            body="b",
            due_at=T0,
            now=T0,
        )
    finally:
        await store.close()
