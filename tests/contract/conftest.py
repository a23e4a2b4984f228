"""The store contract: every test in this package runs against each store in FACTORIES, unchanged.

A factory makes a store on the database kept at a place (a per-test temporary directory): the first
store made there finds an empty database, a later one the same database (a restart): SQLite in a file
there, PostgreSQL in a database of the test's own on the server scripts/pg.sh provides, dropped after the
test. Nothing else in the package names a concrete store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pager.clock import ManualClock
from pager.storage.port import IngestPolicy, Store
from pager.storage.postgres import PostgresStore
from pager.storage.sqlite import SqliteStore
from tests.harness import postgres as pg

MIGRATED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)  # the store's clock: it stamps the migrations
POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))


def sqlite(place: Path) -> Store:
    return SqliteStore(str(place / "contract.db"), POLICY, clock=ManualClock(MIGRATED_AT))


def postgres(place: Path) -> Store:
    dsn = pg.ensure_database(pg.database_name(str(place)))
    return PostgresStore(dsn, POLICY, clock=ManualClock(MIGRATED_AT))


FACTORIES: dict[str, Callable[[Path], Store]] = {"sqlite": sqlite, "postgres": postgres}


@pytest.fixture(params=sorted(FACTORIES))
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """A new (unopened) store on this test's database: call it again for a restart."""
    factory = FACTORIES[request.param]
    if request.param == "postgres":
        request.addfinalizer(lambda: pg.drop_database(pg.database_name(str(tmp_path))))
    return lambda: factory(tmp_path)


@pytest.fixture
async def store(make_store: Callable[[], Store]) -> AsyncIterator[Store]:
    s = make_store()
    await s.open()
    yield s
    await s.close()
