"""The two stores' schemas stay one: after their migrations, SQLite and PostgreSQL have the same tables with
the same columns (a SQLite migration that pager.storage.postgres.pg_schema translates wrongly, and has no file of
its own in pager/storage/pg_migrations, fails here), and the same migration versions applied last."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from pager.storage import postgres, sqlite
from tests.harness import postgres as pg

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
# SQLite's FTS5 shadow tables; PostgreSQL searches a tsvector column of ticket_text instead
SQLITE_ONLY = {
    "ticket_text_data",
    "ticket_text_idx",
    "ticket_text_content",
    "ticket_text_docsize",
    "ticket_text_config",
}
PG_ONLY_COLUMNS = {("ticket_text", "rowid"), ("ticket_text", "tsv")}


def _sqlite_schema(path: Path) -> dict[str, set[str]]:
    sqlite.migrate(str(path), NOW)
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables if t not in SQLITE_ONLY}
    finally:
        conn.close()


def _pg_schema(dsn: str) -> dict[str, set[str]]:
    postgres.migrate(dsn, NOW)
    out: dict[str, set[str]] = {}
    with psycopg.connect(dsn) as conn:
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        ):
            if (table, column) not in PG_ONLY_COLUMNS:
                out.setdefault(table, set()).add(column)
    return out


def test_both_stores_have_the_same_tables_and_columns(tmp_path: Path) -> None:
    name = pg.database_name(str(tmp_path))
    try:
        theirs = _pg_schema(pg.ensure_database(name))
    finally:
        pg.drop_database(name)
    ours = _sqlite_schema(tmp_path / "schema.db")
    assert sorted(theirs) == sorted(ours)
    for table, columns in ours.items():
        assert theirs[table] == columns, table


def test_the_last_migration_of_each_store_has_the_same_number() -> None:
    assert sqlite.migrations()[-1][0] == postgres.migrations()[-1][0]


def test_a_later_sqlite_migration_is_translated_for_postgresql() -> None:
    sql = (
        "-- an INTEGER in a comment stays harmless\n"
        "CREATE TABLE things (\n    id INTEGER PRIMARY KEY,\n    n INTEGER NOT NULL DEFAULT 0,\n    name TEXT\n);\n"
        "CREATE TABLE pairs (a INTEGER, b INTEGER, PRIMARY KEY (a, b));\n"
        "ALTER TABLE things ADD COLUMN step INTEGER;\n"
    )
    out = postgres.pg_schema(sql)
    assert "INTEGER" not in out.replace("an INTEGER in", "")
    assert "n BIGINT NOT NULL DEFAULT 0" in out and "ADD COLUMN step BIGINT" in out
    assert "CREATE TRIGGER things_id_next BEFORE INSERT ON things" in out
    assert "pairs_id_next" not in out  # no `id` of its own to number


def test_postgresql_applies_every_sqlite_migration_after_its_baseline_once() -> None:
    theirs = [v for v, _, _ in postgres.migrations()]
    ours = [v for v, _, _ in sqlite.migrations()]
    assert theirs == [postgres.BASELINE, *(v for v in ours if v > postgres.BASELINE)]
