"""Many rows of one INSERT as few statements: multi-row INSERTs of 64, 16 and 4 rows, then single rows.

Each statement hands the GIL from the writer thread to the event loop and back, and on PostgreSQL is a
round trip; cutting the row count into these chunks keeps a few statement texts per INSERT, which SQLite's
statement cache (and psycopg's prepared statements) serve for every count. And many values of one
`IN (...)` as chunks of at most IN_CHUNK (`in_chunks`). Statements whose results nobody reads go to
PostgreSQL as one pipeline (`together`): one round trip for all of them."""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import TypeVar

CHUNKS = (64, 16, 4)
IN_CHUNK = 500  # values per `IN (...)` (SQLite allows 32766 parameters)
T = TypeVar("T")


def insert_rows(conn: sqlite3.Connection, sql: str, rows: Sequence[tuple]) -> None:
    """`rows` inserted in order by `sql`, an INSERT ... VALUES (one row) [ON CONFLICT ...]."""
    for chunk in _chunks(rows):
        if len(chunk) >= CHUNKS[-1]:
            conn.execute(multi_row(sql, len(chunk)), list(chain.from_iterable(chunk)))
        else:
            conn.executemany(sql, chunk)


def returning_rows(conn: sqlite3.Connection, sql: str, rows: Sequence[tuple]) -> list[tuple]:
    """`rows` inserted in order by `sql`, an INSERT ... VALUES (one row) ... RETURNING ...; the rows it
    returned (in no promised order), in the same chunks as `insert_rows`."""
    out: list[tuple] = []
    for chunk in _chunks(rows):
        if len(chunk) >= CHUNKS[-1]:
            out += conn.execute(multi_row(sql, len(chunk)), list(chain.from_iterable(chunk))).fetchall()
        else:  # executemany returns no rows
            for row in chunk:
                out += conn.execute(sql, row).fetchall()
    return out


def together(conn: sqlite3.Connection) -> contextlib.AbstractContextManager:
    """Statements whose results nobody reads, sent as one batch where the connection can (PostgreSQL's
    pipeline: one round trip instead of one per statement; an error comes out at the end of the block);
    on SQLite, where a statement is a call into the library, nothing changes."""
    pipeline = getattr(conn, "pipeline", None)
    return pipeline() if pipeline is not None else contextlib.nullcontext()


def fetch_together(conn: sqlite3.Connection, reads: Sequence[tuple[str, tuple]]) -> list[list]:
    """The rows of each read, in order: reads that need no answer of one another, sent at once where the
    connection can (PostgreSQL's pipeline: one round trip for all of them); on SQLite one after another."""
    fetch = getattr(conn, "fetch_together", None)
    if fetch is not None:
        return fetch(reads)
    return [conn.execute(sql, params).fetchall() for sql, params in reads]


def _chunks(rows: Sequence[tuple]) -> Iterator[Sequence[tuple]]:
    """`rows` in order, as chunks of the sizes of CHUNKS, largest first, then the few left (fewer than the
    smallest) as one."""
    i = 0
    for size in CHUNKS:
        while len(rows) - i >= size:
            yield rows[i : i + size]
            i += size
    if i < len(rows):
        yield rows[i:]


@functools.lru_cache(maxsize=64)
def multi_row(sql: str, n: int) -> str:
    """`sql` with its one row of VALUES written `n` times."""
    m = re.search(r"VALUES (\([^()]*\))", sql)
    assert m is not None, sql
    return sql[: m.start(1)] + ", ".join([m.group(1)] * n) + sql[m.end(1) :]


def in_chunks(values: Sequence[T]) -> Iterator[tuple[Sequence[T], str]]:
    """`values` in order, in chunks of at most IN_CHUNK, each with its parameter marks for `IN ({marks})`."""
    for k in range(0, len(values), IN_CHUNK):
        chunk = values[k : k + IN_CHUNK]
        yield chunk, ", ".join("?" * len(chunk))
