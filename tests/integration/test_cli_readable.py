"""The operator commands as text: instants in the calendar's local time with their offset, `pagerd oncall`
with who is on now and who is next per rotation, `pagerd ical-url`. Table-driven on the example config and
a fixed clock (the manual test clock at NOW), through the CLI's own entry point; every expected line is
worked out by hand from the example config:

- office: anna, bram, chris, a day each from Monday 2026-01-05, office hours only: day n after 2026-01-05
  is participant n mod 3 (2026-12-03 is day 332: chris; 2026-12-04 anna; 2027-01-04 is day 364: bram);
- standby: dewi, eva, bram, chris, a week each from Monday 2026-01-05 08:30, outside office hours only:
  week w is participant w mod 4 (the week of 2026-10-19 is week 41: eva; 2026-11-30 week 47: chris;
  2026-12-28 week 51: chris; 2027-01-04 week 52: dewi);
- Europe/Amsterdam: +02:00 until 2026-10-25 03:00 CEST, then +01:00; 2026-12-31 is a company holiday and
  2027-01-01 New Year's Day (the standby shift runs through both, to the Monday hand-off).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import pytest

from pager import cli
from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV, manual_clock_config

NOW = datetime(2026, 12, 3, 13, 0, tzinfo=timezone.utc)  # Thursday 14:00 in Amsterdam: office hours


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    """`run(*argv)` -> (exit code, stdout lines, stderr): `pagerd ARGV -c CONFIG` in-process, on the example
    config on the manual clock at NOW and a database of its own (migrated first)."""
    for k, v in EXAMPLE_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PAGERD_DB", str(tmp_path / "pagerd.db"))
    monkeypatch.setenv("PAGERD_ALLOW_TEST_CLOCK", "1")
    monkeypatch.delenv("PAGERD_CONFIG", raising=False)
    config = manual_clock_config(tmp_path / "pagerd.yaml", NOW, EXAMPLE_CONFIG)

    def go(*argv: str) -> tuple[int, list[str], str]:
        head = 2 if argv[0] in ("override", "booking", "work", "incidents") else 1
        try:
            code = cli.main([*argv[:head], "-c", str(config), *argv[head:]])
        except SystemExit as exc:  # argparse and the CLI's own refusals
            code = exc.code if isinstance(exc.code, int) else 1
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        out, err = capsys.readouterr()
        assert "Traceback" not in err, err
        return code, out.splitlines(), err

    assert go("migrate")[0] == 0
    return go


def ok(run, *argv: str) -> list[str]:
    code, out, err = run(*argv)
    assert code == 0, (argv, out, err)
    return out


# -- pagerd oncall ---------------------------------------------------------------------------------------
ONCALL = [
    (
        "office hours: the standby engineer of tonight",
        "2026-12-03T14:00",
        [
            "on call at 2026-12-03 14:00 +01:00 (office, Europe/Amsterdam)",
            "office   now   Chris Bakker (chris)  2026-12-03 08:30 +01:00 .. 2026-12-03 18:00 +01:00",
            "         next  Anna de Vries (anna)  2026-12-04 08:30 +01:00 .. 2026-12-04 18:00 +01:00",
            "standby  now   nobody (outside its hours)",
            "         next  Chris Bakker (chris)  2026-12-03 18:00 +01:00 .. 2026-12-04 08:30 +01:00",
        ],
    ),
    (
        "the DST night: 02:30 happens twice, the first (+02:00) is meant",
        "2026-10-25T02:30",
        [
            "on call at 2026-10-25 02:30 +02:00 (evening_night, Europe/Amsterdam)",
            "office   now   nobody (outside its hours)",
            "         next  Anna de Vries (anna)  2026-10-26 08:30 +01:00 .. 2026-10-26 18:00 +01:00",
            "standby  now   Eva Smit (eva)        2026-10-23 18:00 +02:00 .. 2026-10-26 08:30 +01:00",
            "         next  Bram Jansen (bram)    2026-10-26 18:00 +01:00 .. 2026-10-27 08:30 +01:00",
        ],
    ),
    (
        "the DST night, the second 02:30 (+01:00)",
        "2026-10-25T01:30:00Z",
        [
            "on call at 2026-10-25 02:30 +01:00 (evening_night, Europe/Amsterdam)",
            "office   now   nobody (outside its hours)",
            "         next  Anna de Vries (anna)  2026-10-26 08:30 +01:00 .. 2026-10-26 18:00 +01:00",
            "standby  now   Eva Smit (eva)        2026-10-23 18:00 +02:00 .. 2026-10-26 08:30 +01:00",
            "         next  Bram Jansen (bram)    2026-10-26 18:00 +01:00 .. 2026-10-27 08:30 +01:00",
        ],
    ),
    (
        "a minute before midnight at a month's end",
        "2026-11-30T23:59",
        [
            "on call at 2026-11-30 23:59 +01:00 (evening_night, Europe/Amsterdam)",
            "office   now   nobody (outside its hours)",
            "         next  Anna de Vries (anna)  2026-12-01 08:30 +01:00 .. 2026-12-01 18:00 +01:00",
            "standby  now   Chris Bakker (chris)  2026-11-30 18:00 +01:00 .. 2026-12-01 08:30 +01:00",
            "         next  Chris Bakker (chris)  2026-12-01 18:00 +01:00 .. 2026-12-02 08:30 +01:00",
        ],
    ),
    (
        "midnight UTC is 01:00 local: already the next month",
        "2026-12-01T00:00:00Z",
        [
            "on call at 2026-12-01 01:00 +01:00 (evening_night, Europe/Amsterdam)",
            "office   now   nobody (outside its hours)",
            "         next  Anna de Vries (anna)  2026-12-01 08:30 +01:00 .. 2026-12-01 18:00 +01:00",
            "standby  now   Chris Bakker (chris)  2026-11-30 18:00 +01:00 .. 2026-12-01 08:30 +01:00",
            "         next  Chris Bakker (chris)  2026-12-01 18:00 +01:00 .. 2026-12-02 08:30 +01:00",
        ],
    ),
    (
        "the year's end: two holidays and a weekend in one standby shift",
        "2026-12-31T23:30",
        [
            "on call at 2026-12-31 23:30 +01:00 (holiday, Europe/Amsterdam)",
            "office   now   nobody (outside its hours)",
            "         next  Bram Jansen (bram)    2027-01-04 08:30 +01:00 .. 2027-01-04 18:00 +01:00",
            "standby  now   Chris Bakker (chris)  2026-12-30 18:00 +01:00 .. 2027-01-04 08:30 +01:00",
            "         next  Dewi Visser (dewi)    2027-01-04 18:00 +01:00 .. 2027-01-05 08:30 +01:00",
        ],
    ),
]


@pytest.mark.parametrize("at, expected", [c[1:] for c in ONCALL], ids=[c[0] for c in ONCALL])
def test_oncall_text(run, at, expected):
    assert ok(run, "oncall", "--at", at) == expected


def test_oncall_now_in_office_hours_names_tonights_standby(run):
    """Without --at: now (the fixed clock, Thursday 14:00). The standby rotation is off in office hours; the
    line after it names who is on standby tonight instead of "nobody"."""
    out = ok(run, "oncall")
    assert out == ONCALL[0][2]
    assert ok(run, "oncall", "--rotation", "standby") == [
        "on call at 2026-12-03 14:00 +01:00 (office, Europe/Amsterdam)",
        "standby  now   nobody (outside its hours)",
        "         next  Chris Bakker (chris)  2026-12-03 18:00 +01:00 .. 2026-12-04 08:30 +01:00",
    ]


def test_oncall_shows_an_override_and_keeps_its_json(run):
    assert ok(
        run,
        "override",
        "add",
        "--rotation",
        "standby",
        "--from",
        "2026-12-03T18:00",
        "--to",
        "2026-12-04T08:30",
        "--person",
        "eva",
    ) == ["override 1: eva on standby from 2026-12-03 18:00 +01:00 to 2026-12-04 08:30 +01:00"]
    assert ok(run, "oncall", "--rotation", "standby")[2] == (
        "         next  Eva Smit (eva)  2026-12-03 18:00 +01:00 .. 2026-12-04 08:30 +01:00  (override 1)"
    )
    # JSON keeps its fields and their meaning: instants in UTC (ISO 8601 with Z), who is on now
    assert json.loads("\n".join(ok(run, "oncall", "--rotation", "standby", "--json"))) == [
        {"rotation": "standby", "person": None, "name": None, "start": None, "end": None, "override_id": None}
    ]


# -- instants of the other commands ------------------------------------------------------------------------
def test_calendar_text_is_local_with_offset(run):
    assert ok(run, "calendar", "--at", "2026-10-25T00:30:00Z") == ["2026-10-25 02:30:00 +02:00  evening_night"]
    assert ok(run, "calendar", "--at", "2026-10-25T01:30:00Z") == ["2026-10-25 02:30:00 +01:00  evening_night"]
    assert ok(run, "calendar", "--at", "2026-12-31T23:00:00Z") == [
        "2027-01-01 00:00:00 +01:00  holiday  (New Year's Day)"
    ]
    assert ok(run, "calendar") == ["2026-12-03 14:00:00 +01:00  office"]


def test_overrides_and_bookings_list_local_times(run):
    ok(
        run,
        "override",
        "add",
        "--rotation",
        "standby",
        "--from",
        "2026-10-24T18:00",
        "--to",
        "2026-10-26T08:30",
        "--person",
        "bram",
        "--by",
        "anna",
    )
    assert ok(run, "override", "list") == [
        "   1  standby      bram       2026-10-24 18:00 +02:00 .. 2026-10-26 08:30 +01:00  replaces -  by anna"
    ]
    assert ok(
        run,
        "booking",
        "add",
        "--customer",
        "acme",
        "--from",
        "2026-11-30T18:00",
        "--to",
        "2026-12-01T08:30",
        "--by",
        "anna",
    ) == ["booking 1: acme from 2026-11-30 18:00 +01:00 to 2026-12-01 08:30 +01:00"]
    assert ok(run, "booking", "list") == [
        "   1  acme         2026-11-30 18:00 +01:00 .. 2026-12-01 08:30 +01:00  by anna"
    ]
    ok(run, "booking", "remove", "1", "--by", "bram")
    assert ok(run, "booking", "list", "--all") == [
        "   1  acme         2026-11-30 18:00 +01:00 .. 2026-12-01 08:30 +01:00  by anna"
        "  cancelled 2026-12-03 14:00 +01:00 by bram"
    ]
    # JSON as before: UTC with Z
    (row,) = json.loads("\n".join(ok(run, "booking", "list", "--all", "--json")))
    assert (row["start"], row["end"], row["cancelled_at"]) == (
        "2026-11-30T17:00:00.000000Z",
        "2026-12-01T07:30:00.000000Z",
        "2026-12-03T13:00:00.000000Z",
    )


# -- pagerd ical-url -------------------------------------------------------------------------------------
def test_ical_url_prints_the_signed_feed_url(run):
    from pager.service.ical import feed_token
    from pager.service.signing import Keyring

    keys = Keyring(EXAMPLE_ENV["PAGERD_SIGNING_KEY"].encode())
    token = feed_token(keys, "person", "anna")
    assert ok(run, "ical-url", "--person", "anna") == [f"http://127.0.0.1:8080/ical/people/anna.ics?token={token}"]
    token = feed_token(keys, "rotation", "standby")
    assert json.loads(ok(run, "ical-url", "--rotation", "standby", "--json")[0]) == {
        "url": f"http://127.0.0.1:8080/ical/rotations/standby.ics?token={token}"
    }


@pytest.mark.parametrize(
    "argv, code, says",
    [
        (("--person", "nobody"), 1, "unknown person 'nobody' (not under people; known: anna, bram, chris, dewi, eva)"),
        (("--rotation", "nights"), 1, "unknown rotation 'nights' (not under rotations; known: office, standby)"),
        (("--person", "x" * 10_000), 1, "unknown person 'xxxx"),
        (("--person", "\x1b[31mred"), 1, "unknown person '\\x1b[31mred'"),
        (("--person", "anna", "--rotation", "office"), 2, "not allowed with argument"),
        ((), 2, "one of the arguments --person --rotation is required"),
    ],
    ids=["unknown person", "unknown rotation", "oversized", "terminal escape", "both", "neither"],
)
def test_ical_url_refuses_bad_input_clearly(run, argv, code, says):
    got, out, err = run("ical-url", *argv)
    assert (got, out) == (code, [])
    assert says in err
    assert len(err) < 1000 and "\x1b" not in err


def test_ical_url_url_follows_public_url(run, monkeypatch):
    monkeypatch.setenv("PAGERD_PUBLIC_URL", "https://pagerd.example.nl/")
    (url,) = ok(run, "ical-url", "--person", "eva")
    assert url.startswith("https://pagerd.example.nl/ical/people/eva.ics?token=")
