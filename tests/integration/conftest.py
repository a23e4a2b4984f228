"""Fixtures several integration modules share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import postgres as pg


@pytest.fixture
def dsn(tmp_path: Path) -> Iterator[str]:
    """A database of the test's own on the PostgreSQL server scripts/pg.sh provides, dropped afterwards."""
    name = pg.database_name(str(tmp_path))
    yield pg.ensure_database(name)
    pg.drop_database(name)
