"""`pagerd calendar`, `pagerd oncall` and `pagerd override add|list|remove` as a user runs them: a real
subprocess on the example config, its database named by PAGERD_DB (a tmp path). Literal instants and
expected values worked out by hand from the example config (see test_schedule_api.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.harness.pagerd import manual_clock_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/pagerd.example.yaml"
UTC = timezone.utc


def cli(db: Path, *args: str, config: str = CONFIG) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PAGERD_CONFIG",)}
    env["PAGERD_DB"] = str(db)
    cmd, *rest = args
    if cmd == "override":
        argv = [cmd, rest[0], "-c", config, *rest[1:]]
    else:
        argv = [cmd, "-c", config, *rest]
    return subprocess.run(
        [sys.executable, "-m", "pager", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def ok_json(db: Path, *args: str):
    run = cli(db, *args)
    assert run.returncode == 0, (args, run.stdout, run.stderr)
    return json.loads(run.stdout)


def refused(db: Path, *args: str, says: str, config: str = CONFIG) -> None:
    run = cli(db, *args, config=config)
    assert run.returncode != 0, (args, run.stdout)
    assert says in run.stderr, run.stderr
    assert "Traceback" not in run.stderr, run.stderr


def migrated(db: Path) -> Path:
    """A new database at `db` (only `pagerd migrate` and `pagerd serve` create one)."""
    run = cli(db, "migrate")
    assert run.returncode == 0, run.stderr
    return db


@pytest.fixture
def db(tmp_path) -> Path:
    return migrated(tmp_path / "cli" / "pagerd.db")


# -- calendar --------------------------------------------------------------------------------------------
CALENDAR = [
    ("2026-11-25T10:00", "2026-11-25T09:00:00Z", "2026-11-25T10:00:00+01:00", "office", None),
    ("2026-11-25T18:00", "2026-11-25T17:00:00Z", "2026-11-25T18:00:00+01:00", "evening_night", None),
    ("2026-11-25T16:59:59Z", "2026-11-25T16:59:59Z", "2026-11-25T17:59:59+01:00", "office", None),
    ("2026-11-28T10:00", "2026-11-28T09:00:00Z", "2026-11-28T10:00:00+01:00", "weekend", None),
    ("2026-04-27T10:00", "2026-04-27T08:00:00Z", "2026-04-27T10:00:00+02:00", "holiday", "King's Day"),
    ("2026-12-25T12:00", "2026-12-25T11:00:00Z", "2026-12-25T12:00:00+01:00", "holiday", "Christmas Day"),
    ("2026-04-03T10:00", "2026-04-03T08:00:00Z", "2026-04-03T10:00:00+02:00", "office", None),  # Good Friday out
    ("2026-10-25T07:29:59Z", "2026-10-25T07:29:59Z", "2026-10-25T08:29:59+01:00", "evening_night", None),
    ("2026-10-25T07:30:00Z", "2026-10-25T07:30:00Z", "2026-10-25T08:30:00+01:00", "weekend", None),
]


@pytest.mark.parametrize("at,utc,local,period,holiday", CALENDAR, ids=[c[0] for c in CALENDAR])
def test_calendar_json(db, at, utc, local, period, holiday):
    assert ok_json(db, "calendar", "--at", at, "--json") == {
        "at": utc,
        "local": local,
        "timezone": "Europe/Amsterdam",
        "period": period,
        "holiday": holiday,
    }


def test_calendar_text_and_now(db, tmp_path, monkeypatch):
    run = cli(db, "calendar", "--at", "2026-04-27T10:00")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["2026-04-27", "10:00:00", "+02:00", "holiday", "(King's", "Day)"]
    # Without --at: now, on the clock the composition root gives the CLI (here a test config's manual one).
    clocked = manual_clock_config(tmp_path / "clocked.yaml", datetime(2026, 4, 27, 8, 0, tzinfo=UTC), ROOT / CONFIG)
    monkeypatch.setenv("PAGERD_ALLOW_TEST_CLOCK", "1")
    run = cli(db, "calendar", "--json", config=str(clocked))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "at": "2026-04-27T08:00:00Z",
        "local": "2026-04-27T10:00:00+02:00",
        "timezone": "Europe/Amsterdam",
        "period": "holiday",
        "holiday": "King's Day",
    }
    monkeypatch.delenv("PAGERD_ALLOW_TEST_CLOCK")
    refused(db, "calendar", "--json", config=str(clocked), says="testing.clock: manual is a test-only setting")


# -- on call ---------------------------------------------------------------------------------------------
# (at, office (person, start, end) or None, standby (person, start, end) or None)
ONCALL = [
    ("2026-11-25T10:00", ("anna", "2026-11-25T07:30:00Z", "2026-11-25T17:00:00Z"), None),
    ("2026-11-27T23:00", None, ("bram", "2026-11-27T17:00:00Z", "2026-11-30T07:30:00Z")),  # Friday night
    ("2026-11-30T08:30", ("chris", "2026-11-30T07:30:00Z", "2026-11-30T17:00:00Z"), None),
    ("2026-11-30T18:00", None, ("chris", "2026-11-30T17:00:00Z", "2026-12-01T07:30:00Z")),
    ("2026-04-27T10:00", None, ("dewi", "2026-04-27T06:30:00Z", "2026-04-28T06:30:00Z")),  # King's Day
    ("2026-01-02T10:00", None, None),  # before the rotations start
]


def _rows(office, standby) -> list[dict]:
    out = []
    for name, exp in (("office", office), ("standby", standby)):
        person, start, end = exp if exp else (None, None, None)
        out.append({"rotation": name, "person": person, "start": start, "end": end})
    return out


def _shape(rows: list[dict]) -> list[dict]:
    return [{k: r[k] for k in ("rotation", "person", "start", "end")} for r in rows]


@pytest.mark.parametrize("at,office,standby", ONCALL, ids=[c[0] for c in ONCALL])
def test_oncall_json(db, at, office, standby):
    rows = ok_json(db, "oncall", "--at", at, "--json")
    assert isinstance(rows, list) and all({"rotation", "person", "start", "end"} <= set(r) for r in rows)
    assert _shape(rows) == _rows(office, standby)


def test_oncall_one_rotation_and_now(db):
    rows = ok_json(db, "oncall", "--at", "2026-11-27T23:00", "--rotation", "standby", "--json")
    assert _shape(rows) == [
        {"rotation": "standby", "person": "bram", "start": "2026-11-27T17:00:00Z", "end": "2026-11-30T07:30:00Z"}
    ]
    assert rows[0]["name"] == "Bram Jansen"
    now = ok_json(db, "oncall", "--json")
    assert [r["rotation"] for r in now] == ["office", "standby"]
    assert sum(r["person"] is not None for r in now) == 1  # always exactly one of the two, after 2026-01-05
    text = cli(db, "oncall", "--at", "2026-11-27T23:00")
    assert text.returncode == 0, text.stderr
    (line,) = [ln for ln in text.stdout.splitlines() if ln.startswith("standby  now")]
    assert line.split() == "standby now Bram Jansen (bram) 2026-11-27 18:00 +01:00 .. 2026-11-30 08:30 +01:00".split()


def test_bad_arguments_are_refused_without_a_traceback(db):
    refused(db, "calendar", "--at", "nonsense", "--json", says="ISO 8601")
    refused(db, "calendar", "--at", "9999-12-31T23:59:59Z", "--json", says="ISO 8601")  # was a traceback
    refused(db, "oncall", "--at", "2026-13-01T00:00", "--json", says="ISO 8601")
    refused(db, "oncall", "--rotation", "nope", "--json", says="unknown rotation")


# -- overrides -------------------------------------------------------------------------------------------
def test_override_add_list_remove_round_trip(db, tmp_path):
    at = ("oncall", "--at", "2026-11-27T23:00", "--rotation", "standby", "--json")
    before = ok_json(db, *at)
    assert before[0]["person"] == "bram"
    assert ok_json(db, "override", "list", "--json") == []

    row = ok_json(
        db,
        "override",
        "add",
        "--rotation",
        "standby",
        "--from",
        "2026-11-27T18:00",
        "--to",
        "2026-11-28T18:00",
        "--person",
        "anna",
        "--by",
        "tester",
        "--json",
    )
    assert (row["rotation"], row["person"], row["replaces"], row["created_by"], row["removed_at"]) == (
        "standby",
        "anna",
        None,
        "tester",
        None,
    )
    assert row["start"].startswith("2026-11-27T17:00:00") and row["end"].startswith("2026-11-28T17:00:00")
    assert ok_json(db, "override", "list", "--json") == [row]
    assert ok_json(db, "override", "list", "--rotation", "standby", "--json") == [row]
    assert ok_json(db, "override", "list", "--rotation", "office", "--json") == []
    during = ok_json(db, *at)
    assert (during[0]["person"], during[0]["start"], during[0]["end"], during[0]["override_id"]) == (
        "anna",
        "2026-11-27T17:00:00Z",
        "2026-11-28T17:00:00Z",
        str(row["id"]),
    )

    # the database is the one PAGERD_DB names
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT id, person, created_by FROM overrides").fetchall() == [(row["id"], "anna", "tester")]
    other = migrated(tmp_path / "other" / "pagerd.db")
    assert ok_json(other, "override", "list", "--json") == []
    assert ok_json(other, *at) == before

    listed = cli(db, "override", "list")
    assert listed.returncode == 0 and "anna" in listed.stdout and "tester" in listed.stdout, listed

    run = cli(db, "override", "remove", str(row["id"]), "--by", "tester")
    assert run.returncode == 0, run.stderr
    assert f"override {row['id']} removed" in run.stdout
    assert ok_json(db, "override", "list", "--json") == []
    assert ok_json(db, *at) == before
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT removed_by, removed_at IS NOT NULL FROM overrides").fetchall() == [("tester", 1)]
    refused(db, "override", "remove", "999", says="not found")


def test_override_replaces(db):
    row = ok_json(
        db,
        "override",
        "add",
        "--rotation",
        "office",
        "--from",
        "2026-11-25T00:00",
        "--to",
        "2026-11-27T00:00",
        "--person",
        "eva",
        "--replaces",
        "anna",
        "--json",
    )
    assert row["replaces"] == "anna"
    wed = ok_json(db, "oncall", "--at", "2026-11-25T10:00", "--rotation", "office", "--json")[0]
    thu = ok_json(db, "oncall", "--at", "2026-11-26T10:00", "--rotation", "office", "--json")[0]
    assert (wed["person"], wed["override_id"]) == ("eva", str(row["id"]))
    assert (thu["person"], thu["override_id"]) == ("bram", None)  # bram's day: not replaced


@pytest.mark.parametrize(
    "args,says",
    [
        (("--rotation", "nope", "--person", "anna"), "unknown rotation"),
        (("--rotation", "standby", "--person", "zed"), "unknown person"),
        (("--rotation", "standby", "--person", "anna", "--replaces", "zed"), "unknown person"),
        (("--rotation", "standby", "--person", "anna", "--to", "2026-12-01T18:00"), "after"),
        (("--rotation", "standby", "--person", "anna", "--to", "2026-11-30T18:00"), "after"),
        (("--rotation", "standby", "--person", "anna", "--to", "2028-01-05T18:00:01"), "400 days"),
        (("--rotation", "standby", "--person", "anna", "--from", "soon"), "ISO 8601"),
        (("--rotation", "standby", "--person", "anna", "--from", "9999-12-31T22:00"), "ISO 8601"),
    ],
)
def test_override_add_refused(db, args, says):
    given = dict(zip(args[::2], args[1::2], strict=True))
    full = {"--from": "2026-12-01T18:00", "--to": "2026-12-02T08:30", **given}
    refused(db, "override", "add", *[x for kv in full.items() for x in kv], says=says)
    assert ok_json(db, "override", "list", "--json") == []


def test_cli_and_daemon_share_the_database(pagerd):
    """An override made with the CLI on the daemon's database is what the API answers with, and back."""
    row = ok_json(
        pagerd.db_path,
        "override",
        "add",
        "--rotation",
        "standby",
        "--from",
        "2026-12-05T10:00",
        "--to",
        "2026-12-05T14:00",
        "--person",
        "dewi",
        "--json",
    )
    status, listed = pagerd.api("GET", "/api/v1/overrides")
    assert status == 200 and listed == [row], listed
    status, rows = pagerd.api("GET", "/api/v1/oncall?at=2026-12-05T12:00&rotation=standby")
    assert status == 200 and rows[0]["person"] == "dewi" and rows[0]["override_id"] == str(row["id"]), rows
    status, removed = pagerd.api("DELETE", f"/api/v1/overrides/{row['id']}")
    assert status == 200 and removed["removed_at"], removed
    assert ok_json(pagerd.db_path, "override", "list", "--json") == []
