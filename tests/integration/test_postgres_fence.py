"""The store's fence on PostgreSQL: the transactions that claim an outbox message or recover the claimed ones
run only while the node's lease session holds the engine lease (checked inside the transaction,
pager.storage.postgres._fenced_job). A node whose lease passed to another claims nothing: its store call
raises LeaseLost and its transaction's change is rolled back. The result of a send that happened is
recorded whoever holds the lease."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from pager.clock import ManualClock, SystemClock
from pager.storage.port import IngestPolicy, LeaseLost
from pager.storage.postgres import EngineLease, PostgresStore

POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))
NOW = datetime(2026, 1, 5, 21, 0, tzinfo=timezone.utc)


def _outbox(dsn: str, status: str, id: int = 1) -> None:
    with psycopg.connect(dsn) as c:
        c.execute(
            "INSERT INTO outbox (id, idem_key, channel, address, kind, due_at, status, created_at) "
            "VALUES (%s, %s, 'sms', '+31600000001', 'page', %s, %s, %s)",
            (id, f"k{id}", NOW.isoformat(), status, NOW.isoformat()),
        )


def _status(dsn: str, id: int = 1) -> tuple[str, int]:
    with psycopg.connect(dsn) as c:
        row = c.execute("SELECT status, attempts FROM outbox WHERE id = %s", (id,)).fetchone()
    assert row is not None
    return row[0], row[1]


async def _store(dsn: str) -> PostgresStore:
    store = PostgresStore(dsn, POLICY, clock=ManualClock(NOW))
    await store.open()
    return store


async def test_a_node_whose_lease_passed_on_changes_nothing_of_the_outbox(dsn: str) -> None:
    store = await _store(dsn)
    mine, theirs = EngineLease(dsn, SystemClock()), EngineLease(dsn, SystemClock())
    store.fenced_by(mine)
    try:
        _outbox(dsn, "sending")
        with pytest.raises(LeaseLost):  # not taken yet: nothing is recovered
            await store.recover_sending(NOW)
        assert _status(dsn) == ("sending", 0)

        assert await mine.try_acquire()
        assert await store.recover_sending(NOW) == 1  # the holder recovers the claimed message
        assert await store.claim_messages(1, [1], "page", NOW)
        assert _status(dsn) == ("sending", 1)

        # the lease session ends (the server ended it, as after a pause past idle_session_timeout) and the
        # other node takes the lease; this node has not noticed yet (its renewal is still recent)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (mine.token[0],))  # type: ignore[index]
        assert await theirs.try_acquire()
        assert mine.token is not None and mine.valid()
        with pytest.raises(LeaseLost):
            await store.recover_sending(NOW)
        assert _status(dsn) == ("sending", 1)
        # the message it sent before: its result is recorded (else the new holder would send it again)
        await store.finish_message(1, sent=True, provider_id="SM1", error=None, retry_at=None, now=NOW, simulated=False)
        assert _status(dsn) == ("sent", 1)

        _outbox(dsn, "pending", 2)
        with pytest.raises(LeaseLost):
            await store.claim_messages(2, [2], "page", NOW)
        assert _status(dsn, 2) == ("pending", 0)  # left for the new holder
        store.fenced_by(theirs)  # the same store as the new holder's
        assert await store.claim_messages(2, [2], "page", NOW)
        assert _status(dsn, 2) == ("sending", 1)
    finally:
        await mine.release()
        await theirs.release()
        await store.close()


async def test_unfenced_writes_of_the_same_batch_commit_when_a_fenced_one_is_refused(dsn: str) -> None:
    """A refused outbox change fails alone: the webhooks in the same group commit are stored."""
    store = await _store(dsn)
    lease = EngineLease(dsn, SystemClock())
    store.fenced_by(lease)
    try:
        _outbox(dsn, "pending")
        assert await lease.try_acquire()
        await lease.release()  # let go: the token is gone, the store refuses before it writes
        with pytest.raises(LeaseLost):
            await store.claim_messages(1, [1], "page", NOW)
        assert _status(dsn) == ("pending", 0)
        assert await store.unrouted_incidents() == []  # the store still reads and writes for everyone else
    finally:
        await store.close()
