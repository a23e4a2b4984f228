"""`pagerd incidents show` against the real daemon on the manual clock: the response clock of the current
round and the next step the engine takes, and then the engine taking exactly that step at that instant.

The example config (heartbeats off): an `agency` alert has coverage `always`; at 20:45 on a Thursday the
standby rotation is on (chris, the week of 2026-11-30). Policy `default`: steps of 15, 10 and 5 minutes
(oncall; oncall + person:bram; oncall + person:bram + desk), run twice; response target 30 minutes, at risk
(and escalated) at 15. So: first page 20:45, step 2 at 21:00, step 3 at 21:10, deadline 21:15, the second
pass's step 1 at 21:15 and its step 2 at 21:30. The CLI runs on a copy of the config whose manual clock
stands at the instant the test names, on the daemon's database."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from tests.harness.pagerd import EXAMPLE_CONFIG, ROOT, PagerdProcess
from tests.harness.paging import fire, incident

UTC = timezone.utc
START = datetime(2026, 12, 3, 19, 45, tzinfo=UTC)  # Thursday 20:45 in Amsterdam
MIN = timedelta(minutes=1)


def config_at(dest: Path, now: datetime) -> Path:
    """The example config, heartbeats off, on the manual clock from `now`."""
    cfg = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    cfg["heartbeats"] = {}
    cfg["testing"] = {"clock": "manual", "start": now.isoformat()}
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest


@pytest.fixture
def daemon(tmp_path):
    d = PagerdProcess(tmp_path / "pagerd", config=config_at(tmp_path / "pagerd.yaml", START)).start()
    yield d
    d.stop()


def pagerd(d: PagerdProcess, tmp: Path, at: datetime, *argv: str) -> list[str]:
    """`pagerd ARGV` with the CLI's clock at `at`, on the daemon's database; its output lines."""
    config = config_at(tmp / f"cli-{at:%H%M%S}.yaml", at)
    head = 2 if argv[0] in ("incidents", "work") else 1
    run = subprocess.run(
        [sys.executable, "-m", "pager", *argv[:head], "-c", str(config), *argv[head:]],
        cwd=ROOT,
        env=d.env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr, (argv, run.stdout, run.stderr)
    return run.stdout.splitlines()


def clock_lines(out: list[str]) -> list[str]:
    """The response clock and next step of `incidents show` (after the header, before alerts and timeline)."""
    return [ln.strip() for ln in out[3:] if ln.startswith(("  response", "            ", "  next"))]


def fired(d: PagerdProcess, iid: int) -> list[tuple[str, int, int, list[str]]]:
    """(at, pass, step, people) of every step the engine fired, in order."""
    return [
        (e["at"], e["data"]["round"], e["data"]["step"], e["data"]["people"])
        for e in incident(d, iid)["timeline"]
        if e["kind"] in ("paging", "escalated")
    ]


def test_show_has_the_response_clock_and_the_next_step_the_engine_then_takes(daemon, tmp_path):
    d = daemon
    iid = fire(d, "DiskFull", "disk almost full on web1")
    d.wait_for(lambda p: fired(p, iid))
    assert fired(d, iid) == [("2026-12-03T19:45:00.000000Z", 0, 0, ["chris"])]

    out = pagerd(d, tmp_path, START, "incidents", "show", str(iid))
    assert out[0] == f"#{iid} [triggered] disk almost full on web1"
    assert out[2] == "  created 2026-12-03 20:45 +01:00  acknowledged -  resolved -"
    assert clock_lines(out) == [
        "response  round 1: running: 30 min left, at risk from 2026-12-03 21:00 +01:00",
        "paged 2026-12-03 20:45 +01:00, target 30 min, deadline 2026-12-03 21:15 +01:00",
        "next      step 2 of 3, pass 1 of 2 (oncall, person:bram) at 2026-12-03 21:00 +01:00 unless acknowledged"
        " (oncall: the standby rotation)",
    ]
    assert any(ln.startswith("  2026-12-03 20:45:00 +01:00  paging") for ln in out), out
    listed = pagerd(d, tmp_path, START, "incidents", "list")
    assert any(ln.split()[:6] == [str(iid), "triggered", "alertmanager", "1", "2026-12-03", "20:45"] for ln in listed)

    # the engine does what `show` said, when it said: step 2 at 21:00, to the on-call engineer and bram
    d.set_clock(START + 15 * MIN - timedelta(seconds=1))
    assert len(fired(d, iid)) == 1
    d.set_clock(START + 15 * MIN)
    assert fired(d, iid)[1:] == [("2026-12-03T20:00:00.000000Z", 0, 1, ["chris", "bram"])]

    d.set_clock(START + 20 * MIN)
    out = pagerd(d, tmp_path, START + 20 * MIN, "incidents", "show", str(iid))
    assert clock_lines(out) == [
        "response  round 1: at risk: 10 min left",
        "paged 2026-12-03 20:45 +01:00, target 30 min, deadline 2026-12-03 21:15 +01:00",
        "next      step 3 of 3, pass 1 of 2 (oncall, person:bram, desk) at 2026-12-03 21:10 +01:00 unless acknowledged"
        " (oncall: the standby rotation)",
    ]
    d.set_clock(START + 25 * MIN)
    assert fired(d, iid)[2][:3] == ("2026-12-03T20:10:00.000000Z", 0, 2)

    # past the deadline: breached, and the second pass
    d.set_clock(START + 31 * MIN)
    assert fired(d, iid)[3][1:3] == (1, 0)
    out = pagerd(d, tmp_path, START + 31 * MIN, "incidents", "show", str(iid))
    assert clock_lines(out) == [
        "response  round 1: breached: not acknowledged, 1 min past the deadline",
        "paged 2026-12-03 20:45 +01:00, target 30 min, deadline 2026-12-03 21:15 +01:00",
        "next      step 2 of 3, pass 2 of 2 (oncall, person:bram) at 2026-12-03 21:30 +01:00 unless acknowledged"
        " (oncall: the standby rotation)",
    ]

    # acknowledged from the CLI: late, and nothing more will be paged
    out = pagerd(d, tmp_path, START + 33 * MIN, "incidents", "ack", str(iid), "--by", "chris")
    assert out[2] == ("  created 2026-12-03 20:45 +01:00  acknowledged 2026-12-03 21:18 +01:00 by chris  resolved -")
    assert clock_lines(out) == [
        "response  round 1: breached: acknowledged by chris via cli 3 min late",
        "paged 2026-12-03 20:45 +01:00, target 30 min, deadline 2026-12-03 21:15 +01:00",
        "next      nothing: acknowledged",
    ]
    d.set_clock(START + 60 * MIN)
    assert len(fired(d, iid)) == 4  # the step at 21:30 never fired

    # worked time, listed in local time
    pagerd(
        d,
        tmp_path,
        START + 60 * MIN,
        "work",
        "log",
        str(iid),
        "--from",
        "2026-12-03T21:18",
        "--to",
        "2026-12-03T21:48",
        "--by",
        "chris",
    )
    work = pagerd(d, tmp_path, START + 60 * MIN, "work", "list", str(iid))
    assert [ln.split() for ln in work] == [
        ["1", "chris", "30", "min", "2026-12-03", "21:18", "+01:00", "..", "2026-12-03", "21:48", "+01:00"]
    ]

    out = pagerd(d, tmp_path, START + 61 * MIN, "incidents", "resolve", str(iid), "--by", "chris")
    assert out[2].endswith("resolved 2026-12-03 21:46 +01:00")
    assert clock_lines(out)[-1] == "next      nothing: resolved"


def test_show_an_incident_that_paged_nobody_names_the_desk_notice(daemon, tmp_path):
    """acme/intranet has office-hours coverage: at night it pages nobody; the desk is told at the opening."""
    d = daemon
    iid = fire(d, "IntranetSlow", "intranet slow", customer="acme")
    d.wait_for(lambda p: any(e["kind"] == "routed" for e in incident(p, iid)["timeline"]))
    out = pagerd(d, tmp_path, START, "incidents", "show", str(iid))
    (response_line, next_line) = clock_lines(out)
    assert response_line.startswith("response  round 1: not paged (evening_night, project acme/intranet has coverage")
    assert next_line == "next      the support desk is told at 2026-12-04 08:30 +01:00"
    d.set_clock(START + timedelta(hours=11, minutes=45))  # Friday 08:30
    assert any(e["kind"] == "desk_notified" for e in incident(d, iid)["timeline"])
    out = pagerd(d, tmp_path, START + timedelta(hours=11, minutes=45), "incidents", "show", str(iid))
    assert clock_lines(out)[-1] == "next      nothing: paged nobody; the support desk was told"


def test_json_of_show_keeps_utc(daemon, tmp_path):
    """--json keeps the record's fields and their ISO 8601 UTC instants."""
    import json

    d = daemon
    iid = fire(d, "JsonKeeps", "json keeps utc")
    config = config_at(tmp_path / "cli-json.yaml", START)
    run = subprocess.run(
        [sys.executable, "-m", "pager", "incidents", "show", "-c", str(config), str(iid), "--json"],
        cwd=ROOT,
        env=d.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    assert body["created_at"] == "2026-12-03T19:45:00.000000Z" and "response" not in body
