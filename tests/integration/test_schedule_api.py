"""The on-call surfaces of the real daemon (issue 3): calendar, on-call, rotations, shifts, overrides and
the iCalendar feeds, on the example config (office: anna, bram, chris daily from 2026-01-05, office hours
only; standby: dewi, eva, bram, chris weekly from Monday 2026-01-05 08:30, outside office hours only).

Expected values are literal instants worked out by hand from that config, not from the code under test.
Read-only tables share one daemon per module; tests that change overrides get their own (`pagerd`).
Both run on the manual clock, at NOW unless a test moves it: "now" in an answer is exact.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from urllib.parse import urlencode

import pytest
from icalendar import Calendar as ICal

from pager.service.ical import feed_token
from pager.service.signing import Keyring
from tests.harness.pagerd import PagerdProcess, manual_clock_config

UTC = timezone.utc
CAL, ONCALL, ROT, OVR = "/api/v1/calendar", "/api/v1/oncall", "/api/v1/rotations", "/api/v1/overrides"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Amsterdam: office hours
PEOPLE = {
    "anna": "Anna de Vries",
    "bram": "Bram Jansen",
    "chris": "Chris Bakker",
    "dewi": "Dewi Visser",
    "eva": "Eva Smit",
}


def keys(p: PagerdProcess) -> Keyring:
    """The daemon's signing keys (PAGERD_SIGNING_KEY)."""
    return Keyring(p.signing_key.encode())


def q(path: str, **params: str) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def z(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


def ok(p: PagerdProcess, path: str):
    status, body = p.api("GET", path)
    assert status == 200, f"GET {path} -> {status} {body!r}"
    return body


def overrides_in_db(p: PagerdProcess) -> int:
    with sqlite3.connect(p.db_path) as c:
        return c.execute("SELECT count(*) FROM overrides").fetchone()[0]


def assert_serving(p: PagerdProcess) -> None:
    assert p.proc is not None and p.proc.poll() is None, "pagerd died"
    assert p.request("GET", "/healthz")[0] == 200
    assert p.request("GET", "/readyz")[0] == 200
    assert ok(p, q(CAL, at="2026-11-25T10:00"))["period"] == "office"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """One daemon for the read-only tables (nothing here adds an override that stays)."""
    work = tmp_path_factory.mktemp("pagerd-schedule")
    p = PagerdProcess(workdir=work, config=manual_clock_config(work / "pagerd.yaml", NOW)).start()
    yield p
    p.stop()


@pytest.fixture
def pagerd(tmp_path):
    """A daemon of its own, for the tests that change overrides."""
    p = PagerdProcess(workdir=tmp_path / "pagerd", config=manual_clock_config(tmp_path / "pagerd.yaml", NOW)).start()
    yield p
    p.stop()


# -- calendar ------------------------------------------------------------------------------------------
# (at as given, at in UTC, local wall time, period, holiday)
CALENDAR = [
    # a weekday (Wednesday 2026-11-25, CET) and its boundaries, with and without an offset
    ("2026-11-25T10:00", "2026-11-25T09:00:00Z", "2026-11-25T10:00:00+01:00", "office", None),
    ("2026-11-25T08:29:59", "2026-11-25T07:29:59Z", "2026-11-25T08:29:59+01:00", "evening_night", None),
    ("2026-11-25T08:30:00", "2026-11-25T07:30:00Z", "2026-11-25T08:30:00+01:00", "office", None),
    ("2026-11-25T17:59:59", "2026-11-25T16:59:59Z", "2026-11-25T17:59:59+01:00", "office", None),
    ("2026-11-25T18:00:00", "2026-11-25T17:00:00Z", "2026-11-25T18:00:00+01:00", "evening_night", None),
    ("2026-11-25T16:59:59Z", "2026-11-25T16:59:59Z", "2026-11-25T17:59:59+01:00", "office", None),
    ("2026-11-25T17:00:00Z", "2026-11-25T17:00:00Z", "2026-11-25T18:00:00+01:00", "evening_night", None),
    ("2026-11-25T18:00:00+01:00", "2026-11-25T17:00:00Z", "2026-11-25T18:00:00+01:00", "evening_night", None),
    ("2026-11-25T19:00:00+02:00", "2026-11-25T17:00:00Z", "2026-11-25T18:00:00+01:00", "evening_night", None),
    ("2026-11-25T23:59:59", "2026-11-25T22:59:59Z", "2026-11-25T23:59:59+01:00", "evening_night", None),
    # a weekday in summer time (CEST)
    ("2026-06-10T08:30", "2026-06-10T06:30:00Z", "2026-06-10T08:30:00+02:00", "office", None),
    ("2026-06-10T18:00", "2026-06-10T16:00:00Z", "2026-06-10T18:00:00+02:00", "evening_night", None),
    # a Saturday: weekend by day, evening_night before 08:30 and from 18:00
    ("2026-11-28T10:00", "2026-11-28T09:00:00Z", "2026-11-28T10:00:00+01:00", "weekend", None),
    ("2026-11-28T08:29:59", "2026-11-28T07:29:59Z", "2026-11-28T08:29:59+01:00", "evening_night", None),
    ("2026-11-28T08:30", "2026-11-28T07:30:00Z", "2026-11-28T08:30:00+01:00", "weekend", None),
    ("2026-11-28T18:00", "2026-11-28T17:00:00Z", "2026-11-28T18:00:00+01:00", "evening_night", None),
    # holidays: King's Day (a Monday), Christmas (Friday), its second day on a Saturday, Easter Sunday,
    # Ascension Day, New Year's Day at midnight, the company's own day; Good Friday is left out (office)
    ("2026-04-27T10:00", "2026-04-27T08:00:00Z", "2026-04-27T10:00:00+02:00", "holiday", "King's Day"),
    ("2026-04-27T03:00", "2026-04-27T01:00:00Z", "2026-04-27T03:00:00+02:00", "holiday", "King's Day"),
    ("2026-04-26T23:59:59", "2026-04-26T21:59:59Z", "2026-04-26T23:59:59+02:00", "evening_night", None),
    ("2026-04-28T00:00", "2026-04-27T22:00:00Z", "2026-04-28T00:00:00+02:00", "evening_night", None),
    ("2026-12-25T12:00", "2026-12-25T11:00:00Z", "2026-12-25T12:00:00+01:00", "holiday", "Christmas Day"),
    ("2026-12-26T12:00", "2026-12-26T11:00:00Z", "2026-12-26T12:00:00+01:00", "holiday", "Second Day of Christmas"),
    ("2026-12-27T12:00", "2026-12-27T11:00:00Z", "2026-12-27T12:00:00+01:00", "weekend", None),
    ("2026-04-05T10:00", "2026-04-05T08:00:00Z", "2026-04-05T10:00:00+02:00", "holiday", "Easter Sunday"),
    ("2026-05-14T10:00", "2026-05-14T08:00:00Z", "2026-05-14T10:00:00+02:00", "holiday", "Ascension Day"),
    ("2026-01-01T00:00", "2025-12-31T23:00:00Z", "2026-01-01T00:00:00+01:00", "holiday", "New Year's Day"),
    (
        "2026-12-31T10:00",
        "2026-12-31T09:00:00Z",
        "2026-12-31T10:00:00+01:00",
        "holiday",
        "Oudejaarsdag (kantoor dicht)",
    ),
    ("2026-04-03T10:00", "2026-04-03T08:00:00Z", "2026-04-03T10:00:00+02:00", "office", None),
    # the DST nights: on Saturday 24 Oct 08:30 is 06:30Z (CEST), on Sunday 25 Oct it is 07:30Z (CET) ...
    ("2026-10-24T06:29:59Z", "2026-10-24T06:29:59Z", "2026-10-24T08:29:59+02:00", "evening_night", None),
    ("2026-10-24T06:30:00Z", "2026-10-24T06:30:00Z", "2026-10-24T08:30:00+02:00", "weekend", None),
    ("2026-10-25T06:30:00Z", "2026-10-25T06:30:00Z", "2026-10-25T07:30:00+01:00", "evening_night", None),
    ("2026-10-25T07:29:59Z", "2026-10-25T07:29:59Z", "2026-10-25T08:29:59+01:00", "evening_night", None),
    ("2026-10-25T07:30:00Z", "2026-10-25T07:30:00Z", "2026-10-25T08:30:00+01:00", "weekend", None),
    # ... 02:30 happens twice that night: without an offset it is the first one (CEST)
    ("2026-10-25T02:30", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00+02:00", "evening_night", None),
    ("2026-10-25T02:30+01:00", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00+01:00", "evening_night", None),
    # in spring the weekend morning starts an hour earlier in UTC (Sat 28 Mar 07:30Z, Sun 29 Mar 06:30Z)
    ("2026-03-28T07:29:59Z", "2026-03-28T07:29:59Z", "2026-03-28T08:29:59+01:00", "evening_night", None),
    ("2026-03-28T07:30:00Z", "2026-03-28T07:30:00Z", "2026-03-28T08:30:00+01:00", "weekend", None),
    ("2026-03-29T06:29:59Z", "2026-03-29T06:29:59Z", "2026-03-29T08:29:59+02:00", "evening_night", None),
    ("2026-03-29T06:30:00Z", "2026-03-29T06:30:00Z", "2026-03-29T08:30:00+02:00", "weekend", None),
    ("2026-03-29T01:59:59+01:00", "2026-03-29T00:59:59Z", "2026-03-29T01:59:59+01:00", "evening_night", None),
    ("2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00", "evening_night", None),
]


@pytest.mark.parametrize("at,utc,local,period,holiday", CALENDAR, ids=[c[0] for c in CALENDAR])
def test_calendar(daemon, at, utc, local, period, holiday):
    body = ok(daemon, q(CAL, at=at))
    assert body == {"at": utc, "local": local, "timezone": "Europe/Amsterdam", "period": period, "holiday": holiday}


def test_calendar_without_at_is_now(daemon):
    assert ok(daemon, CAL) == {
        "at": "2026-11-25T09:00:00Z",
        "local": "2026-11-25T10:00:00+01:00",
        "timezone": "Europe/Amsterdam",
        "period": "office",
        "holiday": None,
    }


# -- on call -------------------------------------------------------------------------------------------
# (at, office: (person, start, end) or None, standby: (person, start, end) or None)
# office: day n since 2026-01-05 -> ["anna", "bram", "chris"][n % 3]; standby: week n -> [dewi, eva, bram, chris][n % 4]
ONCALL_CASES = [
    # Wednesday 10:00: office day 324 -> anna; nobody on standby in office hours
    ("2026-11-25T10:00", ("anna", "2026-11-25T07:30:00Z", "2026-11-25T17:00:00Z"), None),
    # Wednesday 18:00: standby week 46 -> bram, for the night only
    ("2026-11-25T18:00", None, ("bram", "2026-11-25T17:00:00Z", "2026-11-26T07:30:00Z")),
    # Friday night: bram until the Monday hand-off at 08:30
    ("2026-11-27T23:00", None, ("bram", "2026-11-27T17:00:00Z", "2026-11-30T07:30:00Z")),
    ("2026-11-28T12:00", None, ("bram", "2026-11-27T17:00:00Z", "2026-11-30T07:30:00Z")),
    # Monday 30 Nov: bram until 08:29:59, then the office (day 329 -> chris); chris has standby from 18:00
    ("2026-11-30T08:29:59", None, ("bram", "2026-11-27T17:00:00Z", "2026-11-30T07:30:00Z")),
    ("2026-11-30T08:30", ("chris", "2026-11-30T07:30:00Z", "2026-11-30T17:00:00Z"), None),
    ("2026-11-30T18:00", None, ("chris", "2026-11-30T17:00:00Z", "2026-12-01T07:30:00Z")),
    # King's Day (Monday 27 Apr): no office; standby hands off at 08:30 CEST (week 16 -> dewi) and
    # runs on through the holiday until Tuesday 08:30
    ("2026-04-27T08:00", None, ("chris", "2026-04-24T16:00:00Z", "2026-04-27T06:30:00Z")),
    ("2026-04-27T10:00", None, ("dewi", "2026-04-27T06:30:00Z", "2026-04-28T06:30:00Z")),
    # Christmas (Friday): standby from Thursday 18:00 until Monday 28 Dec 08:30 (week 50 -> bram)
    ("2026-12-25T12:00", None, ("bram", "2026-12-24T17:00:00Z", "2026-12-28T07:30:00Z")),
    # the DST weekend: eva's weekend lasts until Monday 26 Oct 08:30 CET (07:30Z)
    ("2026-10-25T02:30+01:00", None, ("eva", "2026-10-23T16:00:00Z", "2026-10-26T07:30:00Z")),
    # before the rotations start nobody is on call
    ("2026-01-02T10:00", None, None),
    ("2026-01-05T08:30", ("anna", "2026-01-05T07:30:00Z", "2026-01-05T17:00:00Z"), None),
    ("2026-01-05T18:00", None, ("dewi", "2026-01-05T17:00:00Z", "2026-01-06T07:30:00Z")),
]


def _row(rotation: str, expected) -> dict:
    if expected is None:
        return {"rotation": rotation, "person": None, "name": None, "start": None, "end": None, "override_id": None}
    person, start, end = expected
    return {
        "rotation": rotation,
        "person": person,
        "name": PEOPLE[person],
        "start": start,
        "end": end,
        "override_id": None,
    }


@pytest.mark.parametrize("at,office,standby", ONCALL_CASES, ids=[c[0] for c in ONCALL_CASES])
def test_oncall(daemon, at, office, standby):
    assert ok(daemon, q(ONCALL, at=at)) == [_row("office", office), _row("standby", standby)]
    assert ok(daemon, q(ONCALL, at=at, rotation="standby")) == [_row("standby", standby)]
    assert ok(daemon, q(ONCALL, at=at, rotation="office")) == [_row("office", office)]


def test_rotations(daemon):
    rows = ok(daemon, ROT)
    assert [r["name"] for r in rows] == ["office", "standby"]
    office, standby = rows
    assert office["participants"] == ["anna", "bram", "chris"]
    assert standby["participants"] == ["dewi", "eva", "bram", "chris"]
    assert office["timezone"] == standby["timezone"] == "Europe/Amsterdam"
    assert office["restrict_to"] == ["office"]
    assert sorted(standby["restrict_to"]) == ["evening_night", "holiday", "weekend"]
    for r in rows:
        token = feed_token(keys(daemon), "rotation", r["name"])
        assert r["ical_url"] == f"{daemon.url}/ical/rotations/{r['name']}.ics?token={token}"
        assert daemon.admin_token not in r["ical_url"] and daemon.signing_key not in r["ical_url"]
        with urllib.request.urlopen(r["ical_url"], timeout=10) as resp:  # the URL works as given, no Bearer
            assert resp.status == 200
            assert ICal.from_ical(resp.read()).get("x-wr-calname") == f"On call: {r['name']}"


# -- shifts --------------------------------------------------------------------------------------------
def test_shifts_over_the_dst_week_tile_time(daemon):
    """2026-10-19 .. 2026-11-02 (clocks go back on Sunday 25 Oct): office and standby pieces together
    cover every instant exactly once, each standby piece lies outside office hours and each office
    piece inside, and the hand-off stays at Monday 08:30 local."""
    frm, to = "2026-10-19T08:30", "2026-11-02T08:30"
    office = ok(daemon, q(f"{ROT}/office/shifts", **{"from": frm, "to": to}))
    standby = ok(daemon, q(f"{ROT}/standby/shifts", **{"from": frm, "to": to}))
    assert all(r["rotation"] == "office" for r in office) and all(r["rotation"] == "standby" for r in standby)
    pieces = sorted(office + standby, key=lambda r: z(r["start"]))
    assert z(pieces[0]["start"]) == z("2026-10-19T06:30:00Z")  # Monday 08:30 CEST
    assert z(pieces[-1]["end"]) >= z("2026-11-02T07:30:00Z")  # Monday 08:30 CET
    for a, b in pairwise(pieces):
        assert a["end"] == b["start"], f"gap or overlap between {a} and {b}"
        assert a["rotation"] != b["rotation"], f"two pieces of one rotation touch: {a} {b}"
    for r in pieces:
        assert z(r["start"]) < z(r["end"])
        assert r["name"] == PEOPLE[r["person"]] and r["override_id"] is None
    # every standby piece lies outside the office and every office piece inside (start and last second)
    for r in pieces:
        for t in (z(r["start"]), z(r["end"]) - timedelta(seconds=1)):
            period = ok(daemon, q(CAL, at=t.isoformat()))["period"]
            assert (period == "office") == (r["rotation"] == "office"), (r, t, period)

    # standby: eva (week 41) until the hand-off Monday 26 Oct 08:30 CET, then bram (week 42)
    assert [(r["person"], r["start"], r["end"]) for r in standby] == [
        ("eva", "2026-10-19T16:00:00Z", "2026-10-20T06:30:00Z"),
        ("eva", "2026-10-20T16:00:00Z", "2026-10-21T06:30:00Z"),
        ("eva", "2026-10-21T16:00:00Z", "2026-10-22T06:30:00Z"),
        ("eva", "2026-10-22T16:00:00Z", "2026-10-23T06:30:00Z"),
        ("eva", "2026-10-23T16:00:00Z", "2026-10-26T07:30:00Z"),  # the DST weekend: 63.5 h
        ("bram", "2026-10-26T17:00:00Z", "2026-10-27T07:30:00Z"),
        ("bram", "2026-10-27T17:00:00Z", "2026-10-28T07:30:00Z"),
        ("bram", "2026-10-28T17:00:00Z", "2026-10-29T07:30:00Z"),
        ("bram", "2026-10-29T17:00:00Z", "2026-10-30T07:30:00Z"),
        ("bram", "2026-10-30T17:00:00Z", "2026-11-02T07:30:00Z"),  # an ordinary weekend: 62.5 h
    ]
    weekend = [z(r["end"]) - z(r["start"]) for r in standby if r["end"].startswith(("2026-10-26", "2026-11-02"))]
    assert weekend == [timedelta(hours=63, minutes=30), timedelta(hours=62, minutes=30)]
    # office: weekdays only, 08:30-18:00 local, daily turns (day 287 = 19 Oct -> chris)
    assert [(r["person"], r["start"], r["end"]) for r in office] == [
        ("chris", "2026-10-19T06:30:00Z", "2026-10-19T16:00:00Z"),
        ("anna", "2026-10-20T06:30:00Z", "2026-10-20T16:00:00Z"),
        ("bram", "2026-10-21T06:30:00Z", "2026-10-21T16:00:00Z"),
        ("chris", "2026-10-22T06:30:00Z", "2026-10-22T16:00:00Z"),
        ("anna", "2026-10-23T06:30:00Z", "2026-10-23T16:00:00Z"),
        ("anna", "2026-10-26T07:30:00Z", "2026-10-26T17:00:00Z"),
        ("bram", "2026-10-27T07:30:00Z", "2026-10-27T17:00:00Z"),
        ("chris", "2026-10-28T07:30:00Z", "2026-10-28T17:00:00Z"),
        ("anna", "2026-10-29T07:30:00Z", "2026-10-29T17:00:00Z"),
        ("bram", "2026-10-30T07:30:00Z", "2026-10-30T17:00:00Z"),
    ]


def test_shifts_agree_with_oncall(daemon):
    """Sampled every 97 minutes over two weeks around the spring change: on-call is the shift holding it."""
    frm, to = z("2026-03-23T00:00:00Z"), z("2026-04-06T00:00:00Z")
    shifts = {
        name: ok(daemon, q(f"{ROT}/{name}/shifts", **{"from": frm.isoformat(), "to": to.isoformat()}))
        for name in ("office", "standby")
    }
    t = frm
    for _ in range(250):  # bounded: 14 days / 97 min is about 208 samples
        if t >= to:
            break
        for row in ok(daemon, q(ONCALL, at=t.isoformat())):
            holding = [s for s in shifts[row["rotation"]] if z(s["start"]) <= t < z(s["end"])]
            if row["person"] is None:
                assert holding == [], (t, row)
            else:
                assert holding == [row], (t, row, holding)
        t += timedelta(minutes=97)


def test_shifts_defaults_and_limits(daemon):
    rows = ok(daemon, f"{ROT}/standby/shifts")  # from now, 28 days
    assert rows and z(rows[0]["end"]) > NOW and z(rows[-1]["start"]) < NOW + timedelta(days=28)
    # the first is tonight's: Wednesday 18:00 to Thursday 08:30 in Amsterdam
    assert (rows[0]["start"], rows[0]["end"]) == ("2026-11-25T17:00:00Z", "2026-11-26T07:30:00Z")
    exactly = ok(
        daemon, q(f"{ROT}/standby/shifts", **{"from": "2026-01-01T00:00:00Z", "to": "2027-02-05T00:00:00Z"})
    )  # 400 days
    assert len(exactly) > 250  # about five nights and a weekend a week, fewer where holidays join them
    assert ok(daemon, q(f"{ROT}/standby/shifts", **{"from": "2025-01-01T00:00Z", "to": "2026-01-01T00:00Z"})) == []


# -- overrides -----------------------------------------------------------------------------------------
def test_override_add_list_delete_changes_oncall_and_restores_it(pagerd):
    at = q(ONCALL, at="2026-11-27T23:00", rotation="standby")
    before = ok(pagerd, at)
    assert [(r["person"], r["start"], r["end"]) for r in before] == [
        ("bram", "2026-11-27T17:00:00Z", "2026-11-30T07:30:00Z")
    ]
    shifts_q = q(f"{ROT}/standby/shifts", **{"from": "2026-11-27T00:00Z", "to": "2026-11-30T00:00Z"})
    shifts_before = ok(pagerd, shifts_q)

    status, row = pagerd.api(
        "POST",
        OVR,
        {
            "rotation": "standby",
            "start": "2026-11-27T18:00",
            "end": "2026-11-28T18:00",
            "person": "anna",
            "by": "tester",
        },
    )
    assert status == 201, row
    assert isinstance(row["id"], int) and row["id"] >= 1
    assert (row["rotation"], row["person"], row["replaces"], row["created_by"]) == ("standby", "anna", None, "tester")
    assert z(row["start"]) == z("2026-11-27T17:00:00Z") and z(row["end"]) == z("2026-11-28T17:00:00Z")
    assert z(row["created_at"]) == NOW
    assert row["removed_at"] is None and row["removed_by"] is None

    assert ok(pagerd, OVR) == [row]
    assert ok(pagerd, q(OVR, rotation="standby")) == [row]
    assert ok(pagerd, q(OVR, rotation="office")) == []

    assert ok(pagerd, at) == [
        {
            "rotation": "standby",
            "person": "anna",
            "name": "Anna de Vries",
            "start": "2026-11-27T17:00:00Z",
            "end": "2026-11-28T17:00:00Z",
            "override_id": str(row["id"]),
        }
    ]
    # after the override bram is back, until the hand-off
    assert [
        (r["person"], r["start"], r["end"], r["override_id"])
        for r in ok(pagerd, q(ONCALL, at="2026-11-28T19:00", rotation="standby"))
    ] == [("bram", "2026-11-28T17:00:00Z", "2026-11-30T07:30:00Z", None)]
    # the office is untouched
    assert ok(pagerd, q(ONCALL, at="2026-11-27T10:00", rotation="office"))[0]["override_id"] is None
    # shifts: the override sits inside the weekend window, which is still covered without a gap
    during = ok(pagerd, shifts_q)
    assert [(r["person"], r["start"], r["end"]) for r in during] == [
        ("bram", "2026-11-26T17:00:00Z", "2026-11-27T07:30:00Z"),
        ("anna", "2026-11-27T17:00:00Z", "2026-11-28T17:00:00Z"),
        ("bram", "2026-11-28T17:00:00Z", "2026-11-30T07:30:00Z"),
    ]

    removed_at = pagerd.advance("1h")
    status, removed = pagerd.api("DELETE", q(f"{OVR}/{row['id']}", by="tester"))
    assert status == 200, removed
    assert removed["id"] == row["id"] and removed["removed_at"] is not None and removed["removed_by"] == "tester"
    assert z(removed["removed_at"]) == removed_at == NOW + timedelta(hours=1)
    assert ok(pagerd, OVR) == []
    assert ok(pagerd, q(OVR, include_removed="1")) == [removed]
    assert ok(pagerd, at) == before
    assert ok(pagerd, shifts_q) == shifts_before
    # deleting again changes nothing and says so with the same row
    status, again = pagerd.api("DELETE", f"{OVR}/{row['id']}")
    assert (status, again) == (200, removed)


def test_override_replaces_only_that_person(pagerd):
    # Wednesday 25 Nov is anna's office day, Thursday 26 bram's
    status, row = pagerd.api(
        "POST",
        OVR,
        {
            "rotation": "office",
            "start": "2026-11-25T00:00",
            "end": "2026-11-27T00:00",
            "person": "eva",
            "replaces": "anna",
        },
    )
    assert status == 201 and row["replaces"] == "anna", row
    wed = ok(pagerd, q(ONCALL, at="2026-11-25T10:00", rotation="office"))[0]
    thu = ok(pagerd, q(ONCALL, at="2026-11-26T10:00", rotation="office"))[0]
    assert (wed["person"], wed["start"], wed["end"], wed["override_id"]) == (
        "eva",
        "2026-11-25T07:30:00Z",
        "2026-11-25T17:00:00Z",
        str(row["id"]),
    )
    assert (thu["person"], thu["override_id"]) == ("bram", None)
    # the standby rotation is another rotation: untouched
    assert ok(pagerd, q(ONCALL, at="2026-11-25T20:00", rotation="standby"))[0]["person"] == "bram"


def test_overrides_survive_a_restart(pagerd):
    status, row = pagerd.api(
        "POST", OVR, {"rotation": "standby", "start": "2026-12-05T10:00", "end": "2026-12-05T14:00", "person": "dewi"}
    )
    assert status == 201, row
    pagerd.stop()
    pagerd.start()
    assert ok(pagerd, OVR) == [row]
    assert ok(pagerd, q(ONCALL, at="2026-12-05T12:00", rotation="standby"))[0]["person"] == "dewi"


# -- bad input -----------------------------------------------------------------------------------------
SH = f"{ROT}/standby/shifts"
GOOD = {"rotation": "standby", "start": "2026-12-01T18:00", "end": "2026-12-02T08:30", "person": "anna"}


def ov(**changes) -> bytes:
    body = {**GOOD, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


# (method, path, body, token, status, problem field)
A = "admin"
BAD = [
    # calendar
    ("GET", q(CAL, at="nonsense"), None, A, 400, "at"),
    ("GET", q(CAL, at=""), None, A, 400, "at"),
    ("GET", q(CAL, at="2026-13-01T10:00"), None, A, 400, "at"),
    ("GET", q(CAL, at="2026-11-25T25:00"), None, A, 400, "at"),
    ("GET", q(CAL, at="2026-11-25T10:00+25:00"), None, A, 400, "at"),
    ("GET", q(CAL, at="9999-12-31T23:59:59Z"), None, A, 400, "at"),  # was a 503 (overflow)
    ("GET", q(CAL, at="0001-01-01T00:00:00Z"), None, A, 400, "at"),
    ("GET", q(CAL, at="2026-11-25T10:00", when="x"), None, A, 400, "when"),
    ("GET", CAL, None, None, 401, None),
    ("GET", CAL, None, "wrong", 401, None),
    # on call
    ("GET", q(ONCALL, at="yesterday"), None, A, 400, "at"),
    ("GET", q(ONCALL, at="9999-12-31T23:00"), None, A, 400, "at"),  # was a 503 (overflow)
    ("GET", q(ONCALL, rotation="nope"), None, A, 404, None),
    ("GET", q(ONCALL, rotation=""), None, A, 404, None),
    ("GET", q(ONCALL, at="2026-11-25T10:00", person="anna"), None, A, 400, "person"),
    ("GET", ONCALL, None, None, 401, None),
    # rotations and shifts
    ("GET", ROT, None, None, 401, None),
    ("GET", q(ROT, x="1"), None, A, 400, "x"),  # was ignored
    ("GET", f"{ROT}/nope/shifts", None, A, 404, None),
    ("GET", q(SH, **{"from": "bad"}), None, A, 400, "from"),
    ("GET", q(SH, **{"from": "2026-01-01T00:00Z", "to": "bad"}), None, A, 400, "to"),
    ("GET", q(SH, **{"from": "2026-02-01T00:00Z", "to": "2026-01-01T00:00Z"}), None, A, 400, "to"),
    ("GET", q(SH, **{"from": "2026-02-01T00:00Z", "to": "2026-02-01T00:00Z"}), None, A, 400, "to"),
    ("GET", q(SH, **{"from": "2026-01-01T00:00Z", "to": "2027-02-05T00:00:01Z"}), None, A, 400, "to"),
    ("GET", q(SH, **{"from": "2026-01-01T00:00Z", "to": "2030-01-01T00:00Z"}), None, A, 400, "to"),
    ("GET", q(SH, **{"from": "9999-06-01T00:00Z", "to": "9999-12-31T00:00Z"}), None, A, 400, "from"),
    ("GET", q(SH, days="7"), None, A, 400, "days"),
    ("GET", SH, None, None, 401, None),
    # overrides: add
    ("POST", OVR, ov(person="zed"), A, 422, "person"),
    ("POST", OVR, ov(replaces="zed"), A, 422, "replaces"),
    ("POST", OVR, ov(rotation="nope"), A, 422, "rotation"),
    ("POST", OVR, ov(start="2026-12-02T08:30", end="2026-12-01T18:00"), A, 422, "end"),
    ("POST", OVR, ov(end="2026-12-01T18:00"), A, 422, "end"),
    ("POST", OVR, ov(end="2028-01-05T18:00:01"), A, 422, "end"),  # 400 days and a second
    ("POST", OVR, ov(start="soon"), A, 422, "start"),
    ("POST", OVR, ov(start="9999-12-31T23:00", end="9999-12-31T23:30"), A, 422, "start"),
    ("POST", OVR, ov(start=20261201), A, 422, "start"),
    ("POST", OVR, ov(person=...), A, 422, "person"),
    ("POST", OVR, ov(reason="swap"), A, 422, "reason"),
    ("POST", OVR, b"[]", A, 422, None),
    ("POST", OVR, b"{", A, 400, "body"),
    ("POST", OVR, ov(), None, 401, None),
    ("POST", OVR, ov(), "wrong", 401, None),
    # overrides: list and delete
    ("GET", q(OVR, x="1"), None, A, 400, "x"),
    ("GET", OVR, None, None, 401, None),
    ("DELETE", f"{OVR}/abc", None, A, 400, "id"),
    ("DELETE", f"{OVR}/-1", None, A, 400, "id"),
    ("DELETE", f"{OVR}/1.5", None, A, 400, "id"),
    ("DELETE", f"{OVR}/99999999999999999999", None, A, 400, "id"),
    ("DELETE", f"{OVR}/999", None, A, 404, None),
    ("DELETE", f"{OVR}/0", None, A, 404, None),
    ("DELETE", f"{OVR}/1", None, None, 401, None),
    ("DELETE", q(f"{OVR}/1", reason="x"), None, A, 400, "reason"),  # was ignored
]


@pytest.mark.parametrize(
    "method,path,body,token,status,field", BAD, ids=[f"{m} {p} {(b or b'')[:40]!r} {t}" for m, p, b, t, _, _ in BAD]
)
def test_bad_input(daemon, method, path, body, token, status, field):
    before = overrides_in_db(daemon)
    tok = {A: daemon.admin_token, None: None}.get(token, token)
    got, answer = daemon.request(method, path, body, token=tok)
    assert got == status, f"{method} {path} -> {got} {answer!r}"
    assert isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"], answer
    assert isinstance(answer.get("problems"), list), answer
    if field is not None:
        assert field in [p["field"] for p in answer["problems"]], answer
    assert daemon.admin_token not in json.dumps(answer)
    assert overrides_in_db(daemon) == before, "a refused request stored an override"
    assert_serving(daemon)


def test_many_bad_requests_leave_the_daemon_healthy(daemon):
    for _ in range(10):
        assert daemon.api("GET", q(CAL, at="9999-12-31T23:59:59Z"))[0] == 400
        assert daemon.api("GET", q(SH, **{"from": "2026-01-01T00:00Z", "to": "2030-01-01T00:00Z"}))[0] == 400
        assert daemon.api("POST", OVR, {**GOOD, "person": "zed"})[0] == 422
        assert daemon.api("DELETE", f"{OVR}/999")[0] == 404
    assert_serving(daemon)
    failed = [line for line in daemon.log_path.read_text().splitlines() if '"request_failed"' in line]
    assert failed == [], failed[:3]


# -- iCalendar feeds -----------------------------------------------------------------------------------
def fetch_feed(p: PagerdProcess, kind: str, name: str, token: str | None = None) -> tuple[int, str, bytes]:
    token = feed_token(keys(p), kind[:-1] if kind == "rotations" else "person", name) if token is None else token
    url = f"{p.url}/ical/{kind}/{name}.ics" + (f"?token={token}" if token != "" else "")
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def events(raw: bytes) -> tuple[datetime, list[dict]]:
    """The feed's events parsed back with icalendar, and its DTSTAMP (the daemon's now, to the second)."""
    cal = ICal.from_ical(raw)
    assert cal.get("version") == "2.0" and cal.get("prodid")
    out, stamps = [], set()
    for ev in cal.walk("VEVENT"):
        start, end = ev.decoded("dtstart"), ev.decoded("dtend")
        assert start.tzinfo is not None and start.utcoffset() == timedelta(0), ev.to_ical()
        stamps.add(ev.decoded("dtstamp"))
        out.append(
            {
                "uid": str(ev["uid"]),
                "start": start,
                "end": end,
                "summary": str(ev["summary"]),
                "description": str(ev["description"]),
            }
        )
    assert len(stamps) <= 1
    assert len({e["uid"] for e in out}) == len(out), "UIDs must be unique"
    return (stamps.pop() if stamps else None), out


def key(e: dict) -> tuple:
    return (e["start"], e["end"], e["summary"])


def expected_event(row: dict) -> dict:
    return {
        "start": z(row["start"]),
        "end": z(row["end"]),
        "summary": f"On call: {row['rotation']} ({row['name']})",
        "override_id": row["override_id"],
    }


def inner(stamp: datetime) -> tuple[datetime, datetime]:
    """The feeds cover now-30d .. now+365d (now = DTSTAMP, cut to the second); compare what overlaps
    that range less a minute each side, so the second the stamp drops cannot matter."""
    return stamp - timedelta(days=30) + timedelta(minutes=1), stamp + timedelta(days=365) - timedelta(minutes=1)


def shifts_for(p: PagerdProcess, rotation: str, lo: datetime, hi: datetime) -> list[dict]:
    rows = ok(p, q(f"{ROT}/{rotation}/shifts", **{"from": lo.isoformat(), "to": hi.isoformat()}))
    return [r for r in rows if z(r["start"]) < hi and z(r["end"]) > lo]


def test_ical_feeds_match_shifts(pagerd):
    # one override in the feed window, so the feeds show one too
    now = pagerd.now()
    start = now + timedelta(days=3)
    status, ovr = pagerd.api(
        "POST",
        OVR,
        {
            "rotation": "standby",
            "person": "anna",
            "start": start.isoformat(),
            "end": (start + timedelta(days=2)).isoformat(),
        },
    )
    assert status == 201, ovr

    feeds = {}
    for kind, names in (("rotations", ("office", "standby")), ("people", tuple(PEOPLE))):
        for name in names:
            status, ctype, raw = fetch_feed(pagerd, kind, name)
            assert status == 200, raw[:300]
            assert ctype.startswith("text/calendar"), ctype
            feeds[kind, name] = events(raw)
    stamps = [stamp for stamp, _ in feeds.values()]
    assert set(stamps) == {now} == {NOW}, stamps  # DTSTAMP: the daemon's now
    lo, hi = inner(max(stamps))[0], inner(min(stamps))[1]  # inside every feed's window
    rows = {r: shifts_for(pagerd, r, lo, hi) for r in ("office", "standby")}
    assert len(rows["office"]) > 200 and len(rows["standby"]) > 250

    for rotation in ("office", "standby"):
        _, got = feeds["rotations", rotation]
        got = sorted((e for e in got if e["start"] < hi and e["end"] > lo), key=key)
        want = sorted((expected_event(r) for r in rows[rotation]), key=key)
        assert len(got) == len(want), (rotation, len(got), len(want))
        for g, w in zip(got, want, strict=True):  # event by event
            assert key(g) == key(w), (g, w)
            assert (f"Override {w['override_id']}" in g["description"]) == (w["override_id"] is not None), g
            assert g["uid"].startswith(f"{rotation}-") and g["uid"].endswith("@pagerd"), g["uid"]
    assert any(r["override_id"] == str(ovr["id"]) and r["person"] == "anna" for r in rows["standby"])

    for person, display in PEOPLE.items():
        _, got = feeds["people", person]
        assert all(f"({display})" in e["summary"] for e in got), person  # only that person's shifts
        got = sorted((e for e in got if e["start"] < hi and e["end"] > lo), key=key)
        want = sorted((expected_event(r) for rot in rows.values() for r in rot if r["person"] == person), key=key)
        assert [key(e) for e in got] == [key(e) for e in want], person
    # the person feeds together hold exactly the rotation feeds' events
    union = sorted(key(e) for p in PEOPLE for e in feeds["people", p][1] if e["start"] < hi and e["end"] > lo)
    whole = sorted(
        key(e) for r in ("office", "standby") for e in feeds["rotations", r][1] if e["start"] < hi and e["end"] > lo
    )
    assert union == whole


def test_ical_uids_are_stable(daemon):
    _, first = events(fetch_feed(daemon, "rotations", "standby")[2])
    _, second = events(fetch_feed(daemon, "rotations", "standby")[2])
    assert {e["uid"]: key(e) for e in first} == {e["uid"]: key(e) for e in second}


@pytest.mark.parametrize(
    "kind,name,token",
    [
        ("rotations", "standby", "wrong"),
        ("rotations", "standby", ""),  # no token at all
        ("rotations", "standby", "TOKEN:rotation:office"),  # another feed's token
        ("rotations", "standby", "TOKEN:person:standby"),  # same name, other kind
        ("rotations", "standby", "ADMIN"),  # the admin token is not a feed token
        ("rotations", "standby", "UPPER"),  # tokens are case-sensitive
        ("people", "bram", "TOKEN:rotation:bram"),
        ("people", "bram", "TOKEN:person:anna"),
        ("rotations", "nope", "TOKEN:rotation:nope"),  # right token, unknown feed
        ("people", "zed", "TOKEN:person:zed"),
        ("teams", "ops", "TOKEN:team:ops"),
    ],
)
def test_ical_wrong_token_is_404(daemon, kind, name, token):
    if token.startswith("TOKEN:"):
        _, k, n = token.split(":")
        token = feed_token(keys(daemon), k, n)
    elif token == "ADMIN":
        token = daemon.admin_token
    elif token == "UPPER":
        token = feed_token(keys(daemon), "rotation", name).upper()
    status, _, raw = fetch_feed(daemon, kind, name, token)
    assert status == 404, raw[:300]
    assert b"BEGIN:VCALENDAR" not in raw
    assert daemon.admin_token.encode() not in raw
    assert_serving(daemon)
