"""Multi-row statements (pager/storage/sqlite_rows.py): every row written, in order, for every row count,
and an INSERT ... RETURNING gives back the rows it wrote."""

from __future__ import annotations

import sqlite3

import pytest

from pager.storage.sqlite_rows import IN_CHUNK, in_chunks, insert_rows, multi_row, returning_rows

INSERT = "INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING"


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL UNIQUE, v TEXT NOT NULL)")
    return conn


def test_multi_row_repeats_the_values_group() -> None:
    assert multi_row(INSERT, 3) == ("INSERT INTO t (k, v) VALUES (?, ?), (?, ?), (?, ?) ON CONFLICT (k) DO NOTHING")


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 17, 63, 64, 65, 150])
def test_insert_rows_writes_every_row_in_order(n: int) -> None:
    conn = _db()
    rows = [(k, f"v{k}") for k in range(n)]
    insert_rows(conn, INSERT, rows)
    assert conn.execute("SELECT k, v FROM t ORDER BY id").fetchall() == rows


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 17, 63, 64, 65, 150])
def test_returning_rows_returns_what_it_wrote_and_skips_what_was_there(n: int) -> None:
    conn = _db()
    conn.execute("INSERT INTO t (k, v) VALUES (2, 'before')")
    rows = [(k, f"v{k}") for k in range(n)]
    out = returning_rows(conn, INSERT + " RETURNING k", rows)
    assert sorted(k for (k,) in out) == [k for k in range(n) if k != 2]
    assert conn.execute("SELECT v FROM t WHERE k = 2").fetchone() == ("before",)
    assert conn.execute("SELECT k FROM t WHERE k != 2 ORDER BY id").fetchall() == [(k,) for k in range(n) if k != 2]


def test_a_round_twice_in_one_statement_is_written_once() -> None:
    conn = _db()
    out = returning_rows(conn, INSERT + " RETURNING k", [(1, "first"), (1, "second"), (2, "x"), (3, "y")])
    assert sorted(out) == [(1,), (2,), (3,)]
    assert conn.execute("SELECT v FROM t WHERE k = 1").fetchone() == ("first",)


def test_in_chunks_cuts_long_lists() -> None:
    values = list(range(2 * IN_CHUNK + 3))
    chunks = list(in_chunks(values))
    assert [len(c) for c, _ in chunks] == [IN_CHUNK, IN_CHUNK, 3]
    assert [v for c, _ in chunks for v in c] == values
    assert chunks[-1][1] == "?, ?, ?"
