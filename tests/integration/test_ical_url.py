"""Finding one's own calendar: `pagerd ical-url` and `GET /api/v1/ical-url` answer the same signed URL, and
that URL serves the feed from the running daemon (the example config on the manual clock; the standby
rotation is chris's in the week of 2026-11-30, see test_cli_readable.py)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from icalendar import Calendar as ICal

from tests.harness.pagerd import ROOT, PagerdProcess, manual_clock_config

NOW = datetime(2026, 12, 3, 13, 0, tzinfo=timezone.utc)  # Thursday 14:00 in Amsterdam
PATH = "/api/v1/ical-url"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    work = tmp_path_factory.mktemp("pagerd-ical-url")
    p = PagerdProcess(workdir=work, config=manual_clock_config(work / "pagerd.yaml", NOW)).start()
    yield p
    p.stop()


def cli(d: PagerdProcess, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pager", "ical-url", "-c", str(d.config), *args],
        cwd=ROOT,
        env=d.env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


@pytest.mark.parametrize(
    "kind, name, folder, summary",
    [
        ("person", "chris", "people", "On call: standby (Chris Bakker)"),
        ("rotation", "standby", "rotations", "On call: standby (Chris Bakker)"),
        ("rotation", "office", "rotations", "On call: office (Chris Bakker)"),
    ],
)
def test_the_printed_url_serves_the_feed(daemon, kind, name, folder, summary):
    run = cli(daemon, f"--{kind}", name)
    assert run.returncode == 0, run.stderr
    url = run.stdout.strip()
    assert url.startswith(f"{daemon.url}/ical/{folder}/{name}.ics?token=")
    status, body = daemon.api("GET", f"{PATH}?{urlencode({kind: name})}")
    assert (status, body) == (200, {"url": url})  # one URL, whoever asks
    status, ctype, ics = fetch(url)
    assert status == 200 and ctype.startswith("text/calendar")
    events = [c for c in ICal.from_ical(ics).walk("VEVENT")]
    assert summary in {str(e["SUMMARY"]) for e in events}


def test_rotations_list_the_same_url(daemon):
    status, rotations = daemon.api("GET", "/api/v1/rotations")
    assert status == 200
    for rot in rotations:
        assert daemon.api("GET", f"{PATH}?rotation={rot['name']}")[1] == {"url": rot["ical_url"]}


@pytest.mark.parametrize(
    "query, status, says",
    [
        ({"person": "nobody"}, 404, "unknown person 'nobody' (not under people"),
        ({"rotation": "nights"}, 404, "unknown rotation 'nights' (not under rotations"),
        ({"person": "x" * 5000}, 404, "unknown person 'xxxx"),
        ({"person": "anna", "rotation": "office"}, 400, "invalid query"),
        ({}, 400, "invalid query"),
        ({"person": ""}, 400, "invalid query"),
        ({"person": "anna", "token": "x"}, 400, "invalid query"),
    ],
    ids=["unknown person", "unknown rotation", "oversized", "both", "neither", "empty", "unknown parameter"],
)
def test_bad_queries_are_refused_clearly(daemon, query, status, says):
    got, body = daemon.api("GET", f"{PATH}?{urlencode(query)}" if query else PATH)
    assert got == status, body
    assert says in body["error"], body
    assert len(str(body)) < 2000


def test_a_repeated_parameter_is_refused(daemon):
    got, body = daemon.api("GET", f"{PATH}?person=anna&person=bram")
    assert got == 400 and body["problems"] == [{"field": "person", "message": "give one non-empty value"}]
    got, body = daemon.api("GET", f"{PATH}?person=anna&rotation=office")
    assert body["problems"][0]["message"] == "give exactly one of person=ID and rotation=NAME"


def test_the_admin_token_is_required(daemon):
    assert daemon.request("GET", f"{PATH}?person=anna")[0] == 401
    assert daemon.request("GET", f"{PATH}?person=anna", token="wrong")[0] == 401
    assert daemon.request("GET", f"{PATH}?person=nobody")[0] == 401  # no hint without credentials
