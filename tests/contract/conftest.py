"""The store contract: every test in this package runs against each store in FACTORIES, unchanged.

A factory makes a store on the database kept at a place (a per-test temporary directory): the first
store made there finds an empty database, a later one the same database (a restart). To add a store
(PostgreSQL), add its factory here; nothing else in the package names a concrete store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pager.clock import ManualClock
from pager.storage.port import IngestPolicy, Store
from pager.storage.sqlite import SqliteStore

MIGRATED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)  # the store's clock: it stamps the migrations
POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))


def sqlite(place: Path) -> Store:
    return SqliteStore(str(place / "contract.db"), POLICY, clock=ManualClock(MIGRATED_AT))


FACTORIES: dict[str, Callable[[Path], Store]] = {"sqlite": sqlite}


@pytest.fixture(params=sorted(FACTORIES))
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """A new (unopened) store on this test's database: call it again for a restart."""
    factory = FACTORIES[request.param]
    return lambda: factory(tmp_path)


@pytest.fixture
async def store(make_store: Callable[[], Store]) -> AsyncIterator[Store]:
    s = make_store()
    await s.open()
    yield s
    await s.close()
