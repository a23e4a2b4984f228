"""Standby bookings and worked time through the real daemon (admin API) and the real CLI (a subprocess
on the example config, its database named by PAGERD_DB). Instants without an offset are Europe/Amsterdam
wall time: 2026-12-09T18:00 is 17:00Z (CET, +01:00)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_api import group, post_am

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/pagerd.example.yaml"
BK = "/api/v1/bookings"


def incident(p) -> int:
    (iid,) = post_am(p, group())["incidents"]
    return iid


# -- API -----------------------------------------------------------------------------------------------
def test_booking_round_trip(pagerd):
    status, row = pagerd.api(
        "POST", BK, {"customer": "acme", "start": "2026-12-09T18:00", "end": "2026-12-10T08:30+01:00", "by": "anna"}
    )
    assert status == 201, row
    assert {k: row[k] for k in ("customer", "start", "end", "created_by", "cancelled_at")} == {
        "customer": "acme",
        "start": "2026-12-09T17:00:00.000000Z",
        "end": "2026-12-10T07:30:00.000000Z",
        "created_by": "anna",
        "cancelled_at": None,
    }
    status, other = pagerd.api(
        "POST", BK, {"customer": "agency", "start": "2026-12-01T18:00Z", "end": "2026-12-02T07:30Z"}
    )
    assert status == 201 and other["created_by"] == "api"

    assert [b["id"] for b in pagerd.api("GET", BK)[1]] == [other["id"], row["id"]]  # by start
    assert [b["id"] for b in pagerd.api("GET", BK + "?customer=acme")[1]] == [row["id"]]

    status, gone = pagerd.api("DELETE", f"{BK}/{row['id']}?by=bram")
    assert status == 200 and gone["cancelled_by"] == "bram" and gone["cancelled_at"]
    assert pagerd.api("GET", BK + "?customer=acme")[1] == []
    assert [b["id"] for b in pagerd.api("GET", BK + "?customer=acme&include_cancelled=1")[1]] == [row["id"]]
    assert pagerd.api("DELETE", f"{BK}/99999")[0] == 404
    assert pagerd.api("DELETE", f"{BK}/abc")[0] == 400
    assert pagerd.request("GET", BK)[0] == 401  # admin token required


BAD_BOOKINGS = [
    ({"customer": "nobody", "start": "2026-12-09T18:00", "end": "2026-12-10T08:30"}, "customer"),
    ({"customer": "acme", "start": "2026-12-10T08:30", "end": "2026-12-09T18:00"}, "end"),
    ({"customer": "acme", "start": "2026-12-09T18:00", "end": "2026-12-09T18:00"}, "end"),
    ({"customer": "acme", "start": "2026-01-01T00:00", "end": "2027-02-06T00:00"}, "end"),  # 401 days
    ({"customer": "acme", "start": "next friday", "end": "2026-12-10T08:30"}, "start"),
    ({"customer": "acme", "start": "2026-12-09T18:00"}, "end"),
    ({"customer": "acme", "start": "2026-12-09T18:00", "end": "2026-12-10T08:30", "extra": "x"}, "extra"),
    ({"customer": 7, "start": "2026-12-09T18:00", "end": "2026-12-10T08:30"}, "customer"),
]


@pytest.mark.parametrize("payload, field", BAD_BOOKINGS)
def test_bad_bookings_are_refused_naming_the_field(pagerd, payload, field):
    status, body = pagerd.api("POST", BK, payload)
    assert status == 422, body
    assert field in [p["field"] for p in body["problems"]], body
    assert pagerd.api("GET", BK + "?include_cancelled=1")[1] == []


def test_work_round_trip(pagerd):
    iid = incident(pagerd)
    status, w1 = pagerd.api("POST", f"/api/v1/incidents/{iid}/work", {"minutes": 45, "by": "dewi", "note": "php-fpm"})
    assert status == 201, w1
    assert (w1["incident_id"], w1["person"], w1["minutes"], w1["note"]) == (iid, "dewi", 45, "php-fpm")
    status, w2 = pagerd.api(
        "POST", f"/api/v1/incidents/{iid}/work", {"start": "2026-12-09T23:00", "end": "2026-12-10T00:10"}
    )
    assert status == 201, w2
    assert (w2["minutes"], w2["start"], w2["person"]) == (70, "2026-12-09T22:00:00.000000Z", "api")
    status, rows = pagerd.api("GET", f"/api/v1/incidents/{iid}/work")
    assert status == 200 and [r["id"] for r in rows] == [w1["id"], w2["id"]]
    inc = pagerd.api("GET", f"/api/v1/incidents/{iid}")[1]
    assert [e["data"]["minutes"] for e in inc["timeline"] if e["kind"] == "work_logged"] == [45, 70]
    assert pagerd.api("POST", "/api/v1/incidents/99999/work", {"minutes": 5})[0] == 404
    assert pagerd.api("GET", "/api/v1/incidents/99999/work")[0] == 404


BAD_WORK = [
    ({}, "minutes"),
    ({"minutes": 0}, "minutes"),
    ({"minutes": 1441}, "minutes"),
    ({"minutes": "45"}, "minutes"),
    ({"minutes": 4.5}, "minutes"),
    ({"minutes": True}, "minutes"),
    ({"minutes": 30, "start": "2026-12-09T23:00", "end": "2026-12-09T23:30"}, "minutes"),
    ({"start": "2026-12-09T23:00"}, "end"),
    ({"end": "2026-12-09T23:00"}, "start"),
    ({"start": "2026-12-09T23:00", "end": "2026-12-09T22:00"}, "end"),
    ({"start": "2026-12-09T00:00", "end": "2026-12-10T00:01"}, "end"),  # more than a day
    ({"start": "soon", "end": "2026-12-09T22:00"}, "start"),
    ({"minutes": 5, "who": "x"}, "who"),
]


@pytest.mark.parametrize("payload, field", BAD_WORK)
def test_bad_work_is_refused_naming_the_field(pagerd, payload, field):
    iid = incident(pagerd)
    status, body = pagerd.api("POST", f"/api/v1/incidents/{iid}/work", payload)
    assert status == 422, body
    assert field in [p["field"] for p in body["problems"]], body
    assert pagerd.api("GET", f"/api/v1/incidents/{iid}/work")[1] == []


# -- CLI -----------------------------------------------------------------------------------------------
def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PAGERD_CONFIG"}
    env["PAGERD_DB"] = str(db)
    cmd, sub, *rest = args
    return subprocess.run(
        [sys.executable, "-m", "pager", cmd, sub, "-c", CONFIG, *rest],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def ok_json(db: Path, *args: str):
    run = cli(db, *args, "--json")
    assert run.returncode == 0, (args, run.stdout, run.stderr)
    return json.loads(run.stdout)


def refused(db: Path, *args: str, says: str) -> None:
    run = cli(db, *args)
    assert run.returncode != 0, (args, run.stdout)
    assert says in run.stderr and "Traceback" not in run.stderr, run.stderr


def migrated(db: Path) -> Path:
    """A new database at `db` (only `pagerd migrate` and `pagerd serve` create one)."""
    env = {k: v for k, v in os.environ.items() if k != "PAGERD_CONFIG"}
    run = subprocess.run(
        [sys.executable, "-m", "pager", "migrate", "-c", CONFIG],
        cwd=ROOT,
        env={**env, "PAGERD_DB": str(db)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return db


def test_booking_cli_round_trip(tmp_path):
    db = migrated(tmp_path / "cli" / "pagerd.db")
    row = ok_json(
        db,
        "booking",
        "add",
        "--customer",
        "acme",
        "--from",
        "2026-12-09T18:00",
        "--to",
        "2026-12-10T08:30",
        "--by",
        "anna",
    )
    assert (row["customer"], row["start"], row["end"], row["created_by"]) == (
        "acme",
        "2026-12-09T17:00:00.000000Z",
        "2026-12-10T07:30:00.000000Z",
        "anna",
    )
    assert [b["id"] for b in ok_json(db, "booking", "list", "--customer", "acme")] == [row["id"]]
    plain = cli(db, "booking", "list")
    assert plain.returncode == 0 and "acme" in plain.stdout
    gone = ok_json(db, "booking", "remove", str(row["id"]), "--by", "bram")
    assert gone["cancelled_by"] == "bram"
    assert ok_json(db, "booking", "list") == []
    assert [b["id"] for b in ok_json(db, "booking", "list", "--all")] == [row["id"]]

    refused(
        db,
        "booking",
        "add",
        "--customer",
        "nobody",
        "--from",
        "2026-12-09T18:00",
        "--to",
        "2026-12-10T08:30",
        says="unknown customer",
    )
    refused(
        db,
        "booking",
        "add",
        "--customer",
        "acme",
        "--from",
        "2026-12-10T08:30",
        "--to",
        "2026-12-09T18:00",
        says="--to must be after --from",
    )
    refused(
        db,
        "booking",
        "add",
        "--customer",
        "acme",
        "--from",
        "2026-01-01",
        "--to",
        "2027-06-01",
        says="at most 400 days",
    )
    refused(
        db,
        "booking",
        "add",
        "--customer",
        "acme",
        "--from",
        "tomorrow",
        "--to",
        "2026-12-10T08:30",
        says="not an ISO 8601 instant",
    )
    refused(db, "booking", "remove", "999", says="booking 999 not found")


def test_work_cli_round_trip(pagerd, tmp_path):
    iid = incident(pagerd)
    pagerd.stop()  # the CLI works on the same database file
    db = pagerd.db_path
    w = ok_json(db, "work", "log", str(iid), "--minutes", "45", "--by", "dewi")
    assert (w["incident_id"], w["person"], w["minutes"]) == (iid, "dewi", 45)
    w2 = ok_json(db, "work", "log", str(iid), "--from", "2026-12-09T23:00", "--to", "2026-12-09T23:20")
    assert (w2["minutes"], w2["start"]) == (20, "2026-12-09T22:00:00.000000Z")
    assert [r["minutes"] for r in ok_json(db, "work", "list", str(iid))] == [45, 20]
    refused(db, "work", "log", str(iid), says="give either --minutes N or both --from and --to")
    refused(
        db,
        "work",
        "log",
        str(iid),
        "--minutes",
        "5",
        "--from",
        "2026-12-09T23:00",
        "--to",
        "2026-12-09T23:20",
        says="give either",
    )
    refused(db, "work", "log", str(iid), "--from", "2026-12-09T23:00", says="give either")
    refused(db, "work", "log", str(iid), "--minutes", "0", says="--minutes must be from 1 to 1440")
    refused(db, "work", "log", "99999", "--minutes", "5", says="incident 99999 not found")
