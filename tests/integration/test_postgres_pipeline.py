"""The store's statements whose results nobody reads go to PostgreSQL as one pipeline
(pager/storage/sqlite_rows.py `together`: a new batch's rows in the ingest, a tick's pages, timeline
entries and tickets' projects), on the real server: every statement of the block is applied, in order, and
an error in any of them comes out at the end of the block as sqlite3.IntegrityError with nothing of the
block left after the caller's savepoint is rolled back, as on SQLite, where the block changes nothing."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from pager.storage import postgres
from pager.storage.sqlite_rows import insert_rows, together

NOW = datetime(2026, 12, 7, 9, tzinfo=timezone.utc)
ROW = "INSERT INTO pipeline_t (k, v) VALUES (?, ?)"


@pytest.fixture(params=["postgres", "sqlite"])
def conn(request: pytest.FixtureRequest, tmp_path) -> object:
    if request.param == "sqlite":
        c: object = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    else:
        c = postgres.connect(request.getfixturevalue("dsn"))
    c.execute("CREATE TABLE pipeline_t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")  # type: ignore[attr-defined]
    yield c
    c.close()  # type: ignore[attr-defined]


def _rows(conn) -> list[tuple]:
    return [tuple(r) for r in conn.execute("SELECT k, v FROM pipeline_t ORDER BY k").fetchall()]


def test_every_statement_of_the_block_is_applied_in_order(conn) -> None:
    conn.execute("BEGIN")
    with together(conn):
        insert_rows(conn, ROW, [(k, f"v{k}") for k in range(1, 24)])  # 16 + 4 + 3 rows: three statements
        conn.execute("UPDATE pipeline_t SET v = 'changed' WHERE k = ?", (5,))  # sees the rows before it
        conn.executemany(ROW, [(100, "a"), (101, "b")])
    conn.execute("COMMIT")
    rows = _rows(conn)
    assert len(rows) == 25
    assert rows[4] == (5, "changed")
    assert rows[-2:] == [(100, "a"), (101, "b")]


def test_an_integrity_error_comes_out_at_the_end_and_the_savepoint_undoes_the_block(conn) -> None:
    conn.execute("BEGIN")
    conn.execute(ROW, (1, "before"))
    conn.execute("SAVEPOINT block")
    with pytest.raises(sqlite3.IntegrityError):
        with together(conn):
            conn.execute(ROW, (2, "in the block"))
            conn.execute(ROW, (1, "a duplicate key"))
            conn.execute(ROW, (3, "after the error"))
    conn.execute("ROLLBACK TO block")
    conn.execute("RELEASE block")
    conn.execute(ROW, (4, "after the rollback"))
    conn.execute("COMMIT")
    assert _rows(conn) == [(1, "before"), (4, "after the rollback")]
