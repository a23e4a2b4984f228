"""`pagerd migrate --from-sqlite FILE`: a running SQLite installation moved to PostgreSQL (the real server of
scripts/pg.sh). A node on SQLite (example config, manual clock) takes alerts, pages, acknowledges, files a
ticket with a reply and worked time, books standby, adds a portal account; then the copy, and the same
config on PostgreSQL shows the same incidents, tickets, bookings, shifts and statement. A second copy into
the now full database is refused, as is a database of an older schema."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from tests.harness.pagerd import ROOT, PagerdProcess, manual_clock_config

START = datetime(2026, 3, 2, 21, 0, tzinfo=timezone.utc)  # a Monday evening: standby
FIRING = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())


def _cli(p: PagerdProcess, *argv: str, env: dict[str, str] | None = None, stdin: str | None = None):
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "pagerd"), *argv, "-c", str(p.config)],
        env={**os.environ, **p.env(), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _alert(n: int) -> bytes:
    d = json.loads(json.dumps(FIRING))
    d["groupKey"] = f'{{}}:{{alertname="Move{n}"}}'
    for a in d["alerts"]:
        a["labels"]["alertname"] = f"Move{n}"
        a["fingerprint"] = f"{n:08x}" + a["fingerprint"][8:]
    return json.dumps(d).encode()


def _views(p: PagerdProcess) -> dict[str, object]:
    """What a user sees of the installation, through the API."""
    out: dict[str, object] = {}
    incidents = p.incidents()
    out["incidents"] = incidents
    out["details"] = [p.api("GET", f"/api/v1/incidents/{i['id']}")[1] for i in incidents]
    status, tickets = p.api("GET", "/api/v1/tickets")
    assert status == 200
    out["tickets"] = tickets
    out["ticket"] = [p.api("GET", f"/api/v1/tickets/{t['number']}")[1] for t in tickets]  # type: ignore[union-attr]
    out["bookings"] = p.api("GET", "/api/v1/bookings")[1]
    out["shifts"] = p.api("GET", "/api/v1/rotations/standby/shifts")[1]
    out["statement"] = p.api("GET", "/api/v1/billing/statements/acme?month=2026-03")[1]
    return out


def test_a_sqlite_installation_moves_to_postgres_and_shows_the_same(tmp_path: Path, dsn: str) -> None:
    config = manual_clock_config(tmp_path / "pagerd.yaml", START)
    p = PagerdProcess(workdir=tmp_path / "node", config=config)
    p.start()
    try:
        ids = []
        for n in range(3):
            status, body = p.request("POST", "/api/v1/alerts/alertmanager", _alert(n), token=p.webhook_token)
            assert status == 200, body
            ids += body["incidents"]  # type: ignore[index]
        p.advance("1m")
        assert p.api("POST", f"/api/v1/incidents/{ids[0]}/ack", {"by": "dewi"})[0] == 200
        status, ticket = p.api(
            "POST",
            "/api/v1/tickets",
            {"project": "acme/webshop", "subject": "Checkout slow", "body": "Since this morning.", "via": "api"},
        )
        assert status == 201, ticket
        n = ticket["number"]  # type: ignore[index]
        assert p.api("POST", f"/api/v1/tickets/{n}/replies", {"text": "Looking into it.", "by": "anna"})[0] == 201
        assert p.api("POST", f"/api/v1/tickets/{n}/time", {"kind": "billable", "minutes": 45, "by": "anna"})[0] == 201
        status, booking = p.api(
            "POST",
            "/api/v1/bookings",
            {"customer": "acme", "start": "2026-03-07T08:00:00+01:00", "end": "2026-03-08T20:00:00+01:00"},
        )
        assert status == 201, booking
        p.advance("20m")
        before = _views(p)
    finally:
        p.stop()
    added = _cli(
        p,
        "user",
        "add",
        "--email",
        "anna@example.nl",
        "--role",
        "desk",
        "--person",
        "anna",
        "--password-stdin",
        stdin="correct horse battery",
    )
    assert added.returncode == 0, added.stderr

    on_pg = {"PAGERD_STORAGE": "postgres", "PAGERD_PG_DSN": dsn}
    run = _cli(p, "migrate", "--from-sqlite", str(p.db_path), env=on_pg)
    assert run.returncode == 0, run.stderr
    assert "checked" in run.stdout and "incidents: 3 rows" in run.stdout, run.stdout

    q = PagerdProcess(workdir=tmp_path / "pg-node", config=config, extra_env=on_pg)
    q.start()
    try:
        q.advance("21m")  # the same instant as the SQLite node stopped at
        after = _views(q)
        # rows written on PostgreSQL are numbered after the copied ones (the identity columns' next numbers)
        assert q.api("POST", f"/api/v1/tickets/{n}/replies", {"text": "Fixed now.", "by": "anna"})[0] == 201
        status, later = q.api(
            "POST",
            "/api/v1/bookings",
            {"customer": "acme", "start": "2026-03-14T08:00:00+01:00", "end": "2026-03-15T20:00:00+01:00"},
        )
        assert status == 201 and later["id"] == booking["id"] + 1, later  # type: ignore[index]
    finally:
        q.stop()
    assert after == before
    listed = _cli(q, "user", "list", "--json", env=on_pg)
    assert "anna@example.nl" in listed.stdout, listed.stderr

    again = _cli(p, "migrate", "--from-sqlite", str(p.db_path), env=on_pg)
    assert again.returncode == 1 and "holds data already" in again.stderr, again.stderr


def test_an_older_sqlite_schema_is_refused_and_nothing_is_written(tmp_path: Path, dsn: str) -> None:
    config = manual_clock_config(tmp_path / "pagerd.yaml", START)
    p = PagerdProcess(workdir=tmp_path / "node", config=config)
    old = p.db_path
    old.parent.mkdir(parents=True)
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
        conn.execute("INSERT INTO schema_migrations VALUES (12, '0012_x.sql', '2026-01-01T00:00:00Z')")
    run = _cli(p, "migrate", "--from-sqlite", str(old), env={"PAGERD_STORAGE": "postgres", "PAGERD_PG_DSN": dsn})
    assert run.returncode == 1 and "at schema 12" in run.stderr, run.stderr
    on_sqlite = _cli(p, "migrate", "--from-sqlite", str(old))
    assert on_sqlite.returncode == 2 and "storage.backend: postgres" in on_sqlite.stderr
