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
from pager.storage.sqlite_rows import fetch_together, insert_rows, together

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


def test_reads_sent_together_answer_each_in_order(conn) -> None:
    conn.execute("BEGIN")
    conn.executemany(ROW, [(1, "a"), (2, "b"), (3, "c")])
    answers = fetch_together(
        conn,
        [
            ("SELECT v FROM pipeline_t WHERE k > ? ORDER BY k", (1,)),
            ("SELECT max(k) FROM pipeline_t", ()),
            ("SELECT v FROM pipeline_t WHERE k = ?", (9,)),
        ],
    )
    conn.execute("COMMIT")
    assert [[tuple(r) for r in rows] for rows in answers] == [[("b",), ("c",)], [(3,)], []]


def test_begin_savepoint_and_release_go_with_the_next_statement_in_order(dsn) -> None:
    """On PostgreSQL BEGIN (with the write lock), SAVEPOINT and RELEASE are held back and sent with the statement
    after them (PgConnection): the server runs them first, in order, so the write lock is held before that
    statement runs, a savepoint held back can be rolled back to after a failing statement, and a
    transaction with nothing sent yet is still one the store can roll back."""
    conn = postgres.connect(dsn)
    other = postgres.connect(dsn)
    try:
        conn.execute("CREATE TABLE pipeline_t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        conn.execute("BEGIN IMMEDIATE")
        assert conn.in_transaction
        assert other.execute("SELECT pg_try_advisory_xact_lock(?)", (postgres.WRITE_LOCK,)).fetchone() == (True,)
        conn.execute("SAVEPOINT job")
        conn.execute(ROW, (1, "first job"))  # BEGIN, the lock and the savepoint are sent with it
        assert other.execute("SELECT pg_try_advisory_xact_lock(?)", (postgres.WRITE_LOCK,)).fetchone() == (False,)
        conn.execute("RELEASE job")
        conn.execute("SAVEPOINT job")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(ROW, (1, "a duplicate key"))  # RELEASE and SAVEPOINT go before it
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        conn.execute("SAVEPOINT job")
        conn.execute(ROW, (2, "third job"))
        conn.execute("RELEASE job")
        conn.execute("COMMIT")  # the last RELEASE with it
        assert not conn.in_transaction
        assert _rows(conn) == [(1, "first job"), (2, "third job")]

        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SAVEPOINT job")
        assert conn.in_transaction  # nothing sent yet: the store's rollback must still run
        conn.execute("ROLLBACK")
        assert not conn.in_transaction
        assert other.execute("SELECT pg_try_advisory_xact_lock(?)", (postgres.WRITE_LOCK,)).fetchone() == (True,)
    finally:
        conn.close()
        other.close()
