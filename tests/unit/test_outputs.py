"""What pagerd writes for others to open: CSV cells that a spreadsheet never runs as a formula, e-mail
subjects on one line whatever the alert text, and a database file for pagerd's user alone."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat
from datetime import datetime, timezone

import pytest

from pager.clock import ManualClock
from pager.domain import paging as dp
from pager.notify.base import Message
from pager.notify.smtp import build_email
from pager.service.statement_render import CSV_COLUMNS, FORMULA_STARTS, csv_cell, to_csv
from pager.storage.sqlite import migrate

NOW = datetime(2026, 12, 9, 19, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "column, value, written",
    [
        ("description", "=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
        ("description", "+31 6 1234", "'+31 6 1234"),
        ("description", "-1+2", "'-1+2"),
        ("description", "-12", "'-12"),  # text that looks like a number is still text
        ("description", "@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("description", "\tcmd", "'\tcmd"),
        ("description", "\rcmd", "'\ncmd"),  # and a CR is written as a line break in a quoted cell
        ("description", "two\r\nlines\rthree", "two\nlines\nthree"),
        ("description", "disk full = bad", "disk full = bad"),  # only the first character counts
        ("answered_by", "=dewi", "'=dewi"),
        ("amount", "118.75", "118.75"),
        ("amount", "-118.75", "-118.75"),  # a negative amount stays a number
        ("hours", "1.25", "1.25"),
        ("incidents", "4 7 9", "4 7 9"),
        ("minutes_to_answer", 12.0, 12.0),
        ("round", 2, 2),
        ("amount", "-1+cmd", "'-1+cmd"),  # a number column holding anything but a number is text
        ("answered_at", None, None),
    ],
)
def test_csv_cell(column, value, written):
    assert csv_cell(column, value) == written


def _statement(summary: str) -> dict:
    incident = {"id": 4, "summary": summary}
    return {
        "blocks": [
            {
                "period": "evening_night",
                "start": "s",
                "end": "e",
                "hours": "14.50",
                "billed_hours": "14.50",
                "multiplier": "1.00",
                "fee": "1377.50",
            }
        ],
        "callouts": [
            {
                "start": "s",
                "end": "e",
                "incidents": [incident],
                "worked_hours": "1.17",
                "billed_hours": "1.25",
                "amount": "118.75",
            }
        ],
        "out_of_contract": [
            {
                "at": "s",
                "incident": 4,
                "summary": summary,
                "worked_hours": "1.00",
                "billed_hours": "1.00",
                "amount": "95.00",
            }
        ],
        "responses": [
            {
                "paged_at": "s",
                "deadline": "e",
                "incident": 4,
                "round": 1,
                "summary": summary,
                "answered_at": "a",
                "answered_by": summary,
                "answered_via": "sms",
                "minutes_to_answer": 12.0,
                "outcome": "met",
            }
        ],
        "ticket_hours": [
            {
                "number": 7,
                "subject": summary,
                "billable_minutes": 60,
                "billed_minutes": 60,
                "billed_hours": "1.00",
                "amount": "95.00",
                "covered_minutes": 30,
            }
        ],
        "totals": {
            "standby": "1377.50",
            "callouts": "118.75",
            "out_of_contract": "95.00",
            "tickets": "95.00",
            "total": "-1591.25",
            "vat_rate": "21.00",
            "vat": "-334.16",
            "total_incl_vat": "-1925.41",
        },
    }


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_statement_with_formula_text_in_every_text_cell(start):
    summary = f"{start}cmd|' /C calc'!A0"
    rows = list(csv.DictReader(io.StringIO(to_csv(_statement(summary)), newline="")))
    assert [r["kind"] for r in rows][:4] == ["standby", "callout", "out_of_contract", "response"]
    for r in rows:
        for column in CSV_COLUMNS:
            negative_amounts = ("-1591.25", "-334.16", "-1925.41")  # numbers in number columns stay numbers
            assert not r[column].startswith(FORMULA_STARTS) or r[column] in negative_amounts, (column, r[column])
    written = ("'" + summary).replace("\r", "\n")
    assert rows[1]["description"] == rows[2]["description"] == rows[3]["description"] == written
    assert rows[3]["answered_by"] == written
    assert [r["kind"] for r in rows][4:6] == ["ticket", "ticket_covered"]
    assert rows[4]["description"] == rows[5]["description"] == written
    assert [r["amount"] for r in rows if r["amount"]] == [
        "1377.50",
        "118.75",
        "95.00",
        "95.00",
        "0.00",
        "1377.50",
        "118.75",
        "95.00",
        "95.00",
        "-1591.25",
        "-334.16",
        "-1925.41",
    ]


@pytest.mark.parametrize(
    "summary",
    ["disk full\non db1", "disk full\r\nBcc: victim@example.org", "disk full\rBcc: x", "  \n  ", "tab\there\x0bvt"],
)
def test_an_email_subject_is_one_line_whatever_the_summary(summary):
    b = dp.bundle("email", [dp.Pending(id=1, incident_id=4, short_code="4", summary=summary, project="acme/web")])
    assert "\n" not in b.subject and "\r" not in b.subject and b.subject.startswith("[pagerd #4] ")
    em = build_email(
        Message(id="1", channel="email", to="dewi@example.nl", body=b.body, subject=b.subject),
        from_address="pagerd@example.nl",
        domain="example.nl",
        clock=ManualClock(NOW),
    )
    raw = em.as_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    assert not [h for h in headers.split(b"\n") if h.lower().startswith(b"bcc")] and em["Bcc"] is None
    for line in summary.splitlines():  # the body has the text in full, line by line
        assert line.strip() in b.body


def test_a_caller_subject_with_a_line_break_is_folded_by_the_mailer():
    em = build_email(
        Message(id="1", channel="email", to="a@example.nl", body="x", subject="a\r\nBcc: b@example.org"),
        from_address="pagerd@example.nl",
        domain="example.nl",
        clock=ManualClock(NOW),
    )
    assert em["Subject"] == "a Bcc: b@example.org" and em["Bcc"] is None


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_database_file_and_its_folder_are_private(tmp_path):
    db = tmp_path / "new" / "deeper" / "pagerd.db"
    old = os.umask(0o022)
    try:
        migrate(str(db), NOW)
        conn = sqlite3.connect(db)  # another writer: the -wal and -shm files SQLite makes
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'x', 'y')")
        conn.commit()
        files = {p.name: _mode(p) for p in db.parent.iterdir()}
        conn.close()
    finally:
        os.umask(old)
    assert files == {"pagerd.db": 0o600, "pagerd.db-wal": 0o600, "pagerd.db-shm": 0o600}
    assert _mode(db.parent) == 0o700 and _mode(db.parent.parent) == 0o700


def test_an_existing_database_file_keeps_its_mode(tmp_path):
    db = tmp_path / "pagerd.db"
    db.touch(mode=0o640)
    os.chmod(db, 0o640)
    migrate(str(db), NOW)
    assert _mode(db) == 0o640
