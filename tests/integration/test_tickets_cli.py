"""`pagerd ticket ...` as a process on the example config: a phone call filed by hand and worked through,
`--json` everywhere, and bad input: one line on stderr naming the flag, exit 1 or 2, nothing stored."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.pagerd import EXAMPLE_ENV
from tests.scenarios.harness import EXAMPLE_CONFIG, ROOT

C = ["-c", str(EXAMPLE_CONFIG)]


def pagerd(folder: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **EXAMPLE_ENV, "PAGERD_DB": str(folder / "pagerd.db"), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pager", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        input=stdin,
    )


def ok(folder: Path, *args: str, stdin: str | None = None):
    run = pagerd(folder, *args, "--json", stdin=stdin)
    assert run.returncode == 0 and run.stderr == "", (args, run.stderr)
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("desk")
    assert pagerd(folder, "migrate", *C).returncode == 0
    return folder


def test_a_phone_call_filed_and_worked_from_the_command_line(desk: Path) -> None:
    t = ok(
        desk,
        "ticket",
        "new",
        *C,
        "--project",
        "acme/webshop",
        "--via",
        "phone",
        "--from",
        "+31201234567",
        "--subject",
        "Checkout hangs",
        "--body",
        "-",
        stdin="Jan belde: de checkout hangt\n",
    )
    n = str(t["number"])
    assert (t["kind"], t["status"], t["requester"]["name"], t["requester"]["phone"]) == (
        "request",
        "new",
        "Jan Pietersen",
        "+31201234567",
    )
    assert t["timeline"][0]["data"]["text"] == "Jan belde: de checkout hangt\n"
    assert (
        ok(desk, "ticket", "note", *C, n, "internal: logs say OOM", "--by", "anna")["timeline"][-1]["public"] is False
    )
    assert ok(desk, "ticket", "assign", *C, f"#{n}", "bram")["assignee"] == "bram"
    assert ok(desk, "ticket", "status", *C, n, "waiting_on_customer")["status"] == "waiting_on_customer"
    assert ok(desk, "ticket", "reply", *C, n, "Still broken", "--from-customer")["status"] == "open"
    e = ok(desk, "ticket", "time", *C, n, "--kind", "callout", "--minutes", "45", "--note", "night call")
    assert (e["kind"], e["minutes"], e["note"]) == ("callout", 45, "night call")
    assert [r["number"] for r in ok(desk, "ticket", "list", *C, "--q", "OOM")] == [int(n)]
    assert [r["number"] for r in ok(desk, "ticket", "list", *C, "--status", "open", "--project", "acme/webshop")] == [
        int(n)
    ]
    p = ok(desk, "ticket", "page", *C, n, "--severity", "warning")
    assert p["kind"] == "incident"
    inc = json.loads(pagerd(desk, "incidents", "show", *C, n, "--json").stdout)
    assert inc["id"] == int(n) and inc["severity"] == "warning"
    shown = pagerd(desk, "ticket", "show", *C, n)
    assert shown.returncode == 0 and f"#{n}" in shown.stdout and "internal" in shown.stdout
    listed = pagerd(desk, "ticket", "list", *C)
    assert listed.returncode == 0 and "Checkout hangs" in listed.stdout


@pytest.mark.parametrize(
    "args, code, message",
    [
        (
            ["ticket", "new", *C, "--subject", "x", "--project", "acme/nope"],
            1,
            "--project: unknown project 'acme/nope'",
        ),
        (["ticket", "new", *C, "--subject", "two\nlines"], 1, "--subject: control character U+000A"),
        (["ticket", "new", *C, "--subject", "x" * 201], 1, "--subject: longer than 200 characters"),
        (["ticket", "new", *C, "--subject", ""], 1, "--subject: must not be empty"),
        (["ticket", "new", *C, "--subject", "x", "--from", "call me"], 1, "--from: not a phone number"),
        (["ticket", "new", *C, "--subject", "x", "--via", "email", "--from", "nope"], 1, "--from: not an e-mail"),
        (["ticket", "new", *C, "--subject", "x", "--assignee", "mallory"], 1, "--assignee: unknown person"),
        (["ticket", "new", *C, "--subject", "x", "--body", "y" * 70_000], 1, "--body: longer than 65536"),
        (["ticket", "new", *C, "--subject", "x", "--priority", "asap"], 2, "invalid choice: 'asap'"),
        (["ticket", "new", *C, "--subject", "x", "--via", "pigeon"], 2, "invalid choice: 'pigeon'"),
        (["ticket", "new", *C], 2, "the following arguments are required: --subject"),
        (["ticket", "list", *C, "--status", "lost"], 2, "invalid choice: 'lost'"),
        (["ticket", "list", *C, "--project", "acme/nope"], 1, "--project: unknown project"),
        (["ticket", "list", *C, "--limit", "0"], 1, "--limit: expected a whole number"),
        (["ticket", "list", *C, "--q", "a\x01"], 1, "--q: control character"),
        (["ticket", "show", *C, "abc"], 2, "not a ticket number"),
        (["ticket", "show", *C, "0"], 2, "not a ticket number"),
        (["ticket", "show", *C, "424242"], 1, "ticket #424242 not found"),
        (["ticket", "reply", *C, "424242", "x"], 1, "ticket #424242 not found"),
        (["ticket", "note", *C, "1", "   "], 1, "text: required"),
        (["ticket", "assign", *C, "1", "mallory"], 1, "--assignee: unknown person"),
        (["ticket", "status", *C, "1", "lost"], 2, "invalid choice: 'lost'"),
        (["ticket", "time", *C, "1", "--kind", "covered", "--minutes", "abc"], 1, "--minutes: required: whole minutes"),
        (
            ["ticket", "time", *C, "1", "--kind", "covered", "--minutes", "5000"],
            1,
            "--minutes: required: whole minutes",
        ),
        (["ticket", "time", *C, "1", "--kind", "free", "--minutes", "5"], 2, "invalid choice: 'free'"),
        (["ticket", "page", *C, "424242"], 1, "ticket #424242 not found"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(desk: Path, args: list[str], code: int, message: str) -> None:
    db = sqlite3.connect(desk / "pagerd.db")
    before = (
        db.execute("SELECT count(*) FROM ticket_entries").fetchone(),
        db.execute("SELECT * FROM tickets").fetchall(),
    )
    run = pagerd(desk, *args)
    assert run.returncode == code, (args, run.stdout, run.stderr)
    assert message in run.stderr and "Traceback" not in run.stderr, run.stderr
    if code == 1:
        assert len(run.stderr.splitlines()) == 1, run.stderr
    after = db.execute("SELECT count(*) FROM ticket_entries").fetchone(), db.execute("SELECT * FROM tickets").fetchall()
    assert after == before
    db.close()


def test_an_impossible_status_move_names_the_allowed_ones(desk: Path) -> None:
    t = ok(desk, "ticket", "new", *C, "--subject", "Password reset", "--project", "acme/intranet")
    n = str(t["number"])
    ok(desk, "ticket", "status", *C, n, "closed")
    run = pagerd(desk, "ticket", "status", *C, n, "open")
    assert run.returncode == 1 and run.stderr.strip() == (
        f"pagerd: ticket #{n} is closed; cannot move to open (allowed: none (a closed ticket stays closed))"
    )
    triage = ok(desk, "ticket", "new", *C, "--subject", "Who?")
    run = pagerd(desk, "ticket", "page", *C, str(triage["number"]))
    assert run.returncode == 1 and "no project (triage)" in run.stderr


def test_ticket_show_has_the_request_targets_in_json_and_text(desk: Path) -> None:
    import re

    t = ok(desk, "ticket", "new", *C, "--project", "acme/webshop", "--via", "phone", "--subject", "Slow", "--body", "x")
    n = str(t["number"])
    shown = ok(desk, "ticket", "show", *C, n)
    assert set(shown["targets"]) == {"first_response", "resolution"}
    fr = shown["targets"]["first_response"]
    assert fr["outcome"] in ("running", "at_risk") and fr["target_seconds"] == 4 * 3600
    assert fr["deadline"].endswith("Z") and fr["paused"] is False and fr["answered_at"] is None
    text = pagerd(desk, "ticket", "show", *C, n)
    assert text.returncode == 0 and text.stderr == ""
    lines = [line for line in text.stdout.splitlines() if line.startswith("target ")]
    assert [line.split()[1] for line in lines] == ["first_response", "resolution"]
    # the deadline in the calendar's time zone with its offset; office time used and left
    assert re.search(r"due \d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d  used \S+ of office time, left \S+", lines[0])
    # an incident has no request targets
    ok(desk, "ticket", "page", *C, n, "--by", "anna")
    assert ok(desk, "ticket", "show", *C, n)["targets"] is None
