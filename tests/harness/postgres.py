"""Databases of the tests' own on the PostgreSQL server scripts/pg.sh provides (127.0.0.1, port
PAGERD_TEST_PG_PORT or 5432, user postgres, trust): made on first use, dropped by the test that made them."""

from __future__ import annotations

import hashlib
import os

import psycopg

SERVER = f"postgresql://postgres@127.0.0.1:{os.environ.get('PAGERD_TEST_PG_PORT', '5432')}"


def database_name(seed: str) -> str:
    return "pagerd_test_" + hashlib.sha256(seed.encode()).hexdigest()[:20]


def ensure_database(name: str) -> str:
    """The DSN of database `name`, created empty if it does not exist."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
