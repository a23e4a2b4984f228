"""The ingest sends a commit's rows ahead on PostgreSQL (sqlite_ingest._Rows.send): once SEND_AT rows are
pending they go into a pipeline left open, and the server inserts them while the writer decides the next
deliveries; their answers are waited for before anything reads (a load, an UPDATE that must see them) and at
the end. On the real server:
- random streams of deliveries and manual transitions (tests/unit/test_store_batching.py), group-committed with
  rows sent ahead after every few rows, end in the very rows that the same commits without sending ahead write;
- an error in a row sent ahead undoes the deliveries applied with it and fails only its own delivery, which
  then runs alone, as an error at the end of the commit always did."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Iterator

import psycopg
import pytest

from pager.storage import postgres, sqlite_ingest
from pager.storage.sqlite import _commit_batch, _Job, ingest
from tests.harness import postgres as pg
from tests.unit.test_store_batching import POLICY, T0, TABLES, stream


@pytest.fixture
def two_databases(dsn: str) -> Iterator[tuple[str, str]]:
    name = dsn.rsplit("/", 1)[1] + "_b"
    other = pg.ensure_database(name)
    try:
        yield dsn, other
    finally:
        pg.drop_database(name)


def _run(
    dsn: str, jobs: list[tuple], sizes: random.Random, batch_sizes: tuple[int, ...] = (1, 2, 5, 12, 40)
) -> tuple[list, dict]:
    postgres.migrate(dsn, T0)
    conn = postgres.connect(dsn)
    try:
        results, i = [], 0
        while i < len(jobs):
            k = sizes.choice(batch_sizes)
            batch = [_Job(fn, args, None) for fn, args in jobs[i : i + k]]  # type: ignore[arg-type]
            _commit_batch(conn, batch)
            results += [(j.result, type(j.error).__name__ if j.error else None) for j in batch]
            i += k
        tables = {name: [tuple(r) for r in conn.execute(sql).fetchall()] for name, sql in TABLES.items()}
        assert not conn.execute(
            "SELECT id FROM incidents i WHERE alert_count != (SELECT count(*) FROM alerts a WHERE a.incident_id = i.id)"
        ).fetchall()
        return results, tables
    finally:
        conn.close()


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_rows_sent_ahead_end_in_the_rows_written_at_the_end(two_databases, monkeypatch, seed: int) -> None:
    """Odd seeds mix few keys (appends, resolves, reopens: UPDATEs that must see rows sent ahead), even seeds
    many (long parts of new incidents)."""
    ahead, at_end = two_databases
    jobs = stream(seed, 160, groups=2 if seed % 2 else 40)
    sent = []
    send = sqlite_ingest._Rows.send

    def counted(self) -> None:
        sent.append(sum(map(len, self.pending.values())) >= sqlite_ingest.SEND_AT)
        send(self)

    monkeypatch.setattr(sqlite_ingest._Rows, "send", counted)
    monkeypatch.setattr(sqlite_ingest, "SEND_AT", 3)
    with_sending = _run(ahead, jobs, random.Random(seed))
    assert sum(sent) >= 20  # rows did go ahead, many times
    monkeypatch.setattr(sqlite_ingest, "SEND_AT", 10**9)
    without = _run(at_end, jobs, random.Random(seed))
    assert with_sending[0] == without[0]
    for name in TABLES:
        assert with_sending[1][name] == without[1][name], name
    assert len(without[1]["incidents"]) >= 4


def _marked(fingerprint: str) -> list[tuple]:
    """Twelve ingest jobs of new incidents, the fifth's alert renamed `fingerprint` (for a trigger to act on)."""
    deliveries = [args[0] for fn, args in stream(2, 60, groups=40) if fn is ingest][:12]
    bad = deliveries[4]
    deliveries[4] = dataclasses.replace(bad, alerts=(dataclasses.replace(bad.alerts[0], fingerprint=fingerprint),))
    return [(ingest, (d, POLICY)) for d in deliveries]


def _on_alert(conn: postgres.PgConnection, fingerprint: str, action: str) -> None:
    """A trigger that runs `action` (plpgsql) before an alert named `fingerprint` is inserted."""
    conn.execute(
        "CREATE FUNCTION on_alert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.fingerprint = '{fingerprint}' THEN {action} END IF; RETURN NEW; END $$"
    )
    conn.execute("CREATE TRIGGER on_alert BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION on_alert()")


def _tables(conn: postgres.PgConnection) -> dict[str, list[tuple]]:
    """TABLES, the rows numbered by an identity sequence (alerts, events) without their ids: an undone attempt
    leaves a gap in the sequence (pg_migrations/0034_numbered_ids.sql)."""
    tables = {name: [tuple(r) for r in conn.execute(sql).fetchall()] for name, sql in TABLES.items()}
    return {name: [r[1:] for r in rows] if name in ("alerts", "events") else rows for name, rows in tables.items()}


def _reference(dsn: str, jobs: list[tuple]) -> tuple[list, dict]:
    """What `jobs` write in one commit on an untouched database."""
    results, _ = _run(dsn, jobs, random.Random(0), batch_sizes=(len(jobs),))
    conn = postgres.connect(dsn)
    try:
        return results, _tables(conn)
    finally:
        conn.close()


def test_an_error_in_a_row_sent_ahead_fails_its_delivery_alone(two_databases, monkeypatch, caplog) -> None:
    """A trigger refuses one delivery's alert (a check violation, as a constraint of the server would): its rows
    went ahead with others' before the writer decided the rest. The commit's deliveries are undone together,
    each then runs alone: the refused one fails, the others end in the rows they write without it. The
    statements the refusal aborted are not logged as a warning of their own (psycopg's "error ignored
    terminating" pipeline): the refusal is the error, and the store handles it."""
    caplog.set_level(logging.WARNING, logger="psycopg")
    monkeypatch.setattr(sqlite_ingest, "SEND_AT", 3)
    refusing, reference = two_databases
    jobs = _marked("poison")
    postgres.migrate(refusing, T0)
    conn = postgres.connect(refusing)
    try:
        _on_alert(conn, "poison", "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation';")
        batch = [_Job(fn, args, None) for fn, args in jobs]  # type: ignore[arg-type]
        _commit_batch(conn, batch)
        assert batch[4].error is not None and "refused" in str(batch[4].error)
        assert all(j.error is None and j.result is not None for j in batch if j is not batch[4])
        assert not conn.in_transaction
        tables = _tables(conn)
    finally:
        conn.close()
    results, expected = _reference(reference, jobs[:4] + jobs[5:])
    assert tables == expected
    assert [j.result for j in batch if j is not batch[4]] == [r for r, _ in results]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []


def test_a_connection_cut_while_rows_are_sent_ahead_stores_nothing_of_the_commit(two_databases, monkeypatch) -> None:
    """The server ends the writer's connection in the middle of rows sent ahead (a trigger terminates its own
    backend at one delivery's alert, as pg_terminate_backend or a restart would): the commit fails as a whole
    with the connection error, nothing of it is stored, the connection is broken (the store replaces it), and
    the same deliveries committed again on a new connection end in the rows they write on an untouched server."""
    monkeypatch.setattr(sqlite_ingest, "SEND_AT", 3)
    cut, reference = two_databases
    jobs = _marked("cut-here")
    postgres.migrate(cut, T0)
    admin = postgres.connect(cut)
    conn = postgres.connect(cut)
    try:
        admin.execute("CREATE TABLE cut_once (done BOOLEAN)")
        _on_alert(
            admin,
            "cut-here",
            "IF NOT EXISTS (SELECT 1 FROM cut_once) THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;",
        )
        batch = [_Job(fn, args, None) for fn, args in jobs]  # type: ignore[arg-type]
        with pytest.raises(psycopg.OperationalError):
            _commit_batch(conn, batch)
        assert conn.broken and not conn.in_transaction
        assert admin.execute("SELECT count(*) FROM deliveries").fetchone() == (0,)
        assert admin.execute("SELECT count(*) FROM alerts").fetchone() == (0,)
        admin.execute("INSERT INTO cut_once VALUES (true)")
        conn.close()
        conn = postgres.connect(cut)
        batch = [_Job(fn, args, None) for fn, args in jobs]  # type: ignore[arg-type]
        _commit_batch(conn, batch)
        assert all(j.error is None for j in batch)
        tables = _tables(conn)
    finally:
        conn.close()
        admin.close()
    assert tables == _reference(reference, jobs)[1]
