"""The result of a send that happened is written even when the database goes away under it or the engine is
stopped meanwhile (pager.service.send_results): otherwise the message stays `sending`, and the engine's next
start (recover_sending) sends it a second time. The store is the real SQLite store; only its
finish_message is cut (raises the port's Unavailable) while the test says so."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pager.clock import ManualClock
from pager.service.send_results import SendResults
from pager.storage.port import IngestPolicy, Unavailable
from pager.storage.sqlite import SqliteStore

T0 = datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc)  # a minute before the DST change: no matter here


class CutStore(SqliteStore):
    """The SQLite store whose finish_message fails while `away` > 0 (counting down per call)."""

    away = 0
    tried = 0

    async def finish_message(self, carrier: int, **kw) -> None:  # type: ignore[override]
        self.tried += 1
        if self.away > 0:
            self.away -= 1
            raise Unavailable("the database cannot be reached now; retry later", 5)
        await super().finish_message(carrier, **kw)


@pytest.fixture
async def store(tmp_path: Path):
    s = CutStore(str(tmp_path / "p.db"), IngestPolicy(timedelta(hours=1), timedelta(minutes=5)), clock=ManualClock(T0))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def _claimed(store: CutStore) -> int:
    """One message, claimed (`sending`): the engine decided to send it."""
    assert await store.queue_message(
        idem_key="k1",
        person="alice",
        channel="sms",
        address="+31600000001",
        kind="handover",
        subject="",
        body="you are on call",
        due_at=T0,
        now=T0,
    )
    (m,) = await store.due_messages(T0)
    assert await store.claim_messages(m.id, [m.id], m.body, T0)
    return m.id


async def _status(store: CutStore, message_id: int) -> str:
    m = await store.message(message_id)
    assert m is not None
    return m.status


RESULT = dict(sent=True, provider_id="SM1", error=None, retry_at=None, now=T0)


async def test_a_result_is_written_once_the_database_is_back(store: CutStore) -> None:
    mid = await _claimed(store)
    store.away = 3
    await SendResults(store, every=0.001).record(mid, **RESULT)
    assert (store.tried, await _status(store, mid)) == (4, "sent")
    assert await store.recover_sending(T0) == 0  # nothing left to send again


async def test_a_result_is_written_when_the_engine_is_stopped_meanwhile(store: CutStore) -> None:
    mid = await _claimed(store)
    store.away = 5
    results = SendResults(store, every=0.01)
    sender = asyncio.ensure_future(results.record(mid, **RESULT))
    await asyncio.sleep(0.015)
    sender.cancel()  # the engine is cancelled (its lease lost) while the result waits for the database
    with pytest.raises(asyncio.CancelledError):
        await sender
    await results.settle()  # what the engine runs before it recovers the outbox
    assert (await _status(store, mid), results.unwritten) == ("sent", 0)
    assert await store.recover_sending(T0) == 0


async def test_a_result_the_database_does_not_take_for_long_is_kept_for_the_next_start(store: CutStore) -> None:
    mid = await _claimed(store)
    store.away = 10
    results = SendResults(store, every=0.001, tries=3)
    await results.record(mid, **RESULT)  # returns: the engine goes on
    assert (await _status(store, mid), results.unwritten) == ("sending", 1)
    with pytest.raises(Unavailable):  # still away: the engine does not start (it stands by, asks again)
        await results.settle()
    store.away = 0
    await results.settle()
    assert (await _status(store, mid), results.unwritten) == ("sent", 0)
    assert await store.recover_sending(T0) == 0


async def test_a_failed_send_is_written_as_such(store: CutStore) -> None:
    mid = await _claimed(store)
    store.away = 1
    retry = T0 + timedelta(seconds=30)
    await SendResults(store, every=0.001).record(mid, sent=False, provider_id=None, error="503", retry_at=retry, now=T0)
    assert await _status(store, mid) == "pending"  # goes out again at retry_at, as without the cut
