"""Store: open, close, ping."""

from __future__ import annotations

from datetime import datetime

from pager.storage.port import Store
from pager.storage.postgres import PostgresStore

from .seed import T0, UTC


async def test_open_gives_an_empty_store_that_answers(make_store) -> None:
    s = make_store()
    await s.open()
    try:
        await s.ping()
        assert await s.list_incidents() == [] and await s.list_bookings() == []
    finally:
        await s.close()


async def test_close_keeps_everything_for_the_next_open(make_store) -> None:
    start, end = datetime(2026, 12, 4, 17, tzinfo=UTC), datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
    first = make_store()
    await first.open()
    try:
        booking = await first.add_booking(customer="acme", start=start, end=end, created_by="desk", now=T0)
    finally:
        await first.close()
    again = make_store()
    await again.open()
    try:
        assert await again.list_bookings() == [booking]
    finally:
        await again.close()


async def test_ping_answers_on_an_open_store(store: Store) -> None:
    await store.ping()


async def test_connections_tell_the_writer_and_the_readers_apart(make_store) -> None:
    s = make_store()
    await s.open()
    try:
        await s.ping()  # a read: a reader connection opens
        use = {u.role: u for u in s.connections()}
        # PostgreSQL has a second writer lane (postgres.PAGING_LANE)
        lanes = {"writer", "paging"} if isinstance(s, PostgresStore) else {"writer"}
        assert set(use) == lanes | {"reader"}
        for lane in lanes:
            assert (use[lane].open, use[lane].busy) == (1, 0)
        assert use["reader"].open >= 1 and use["reader"].busy == 0
    finally:
        await s.close()
    after = {u.role: u for u in s.connections()}
    assert {role: u.open for role, u in after.items()} == dict.fromkeys(lanes | {"reader"}, 0)
