"""Urgency and maintenance windows, told as timelines on a manual clock (Europe/Amsterdam wall time), and
`pagerd route` agreeing with what the engine then does.

By the example config: standby in the week of 2026-12-07 is dewi; the office rotation on Wed 2026-12-09 is
chris; the desk is anna and support@example.nl. Severities warning and info are low urgency (the default).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest

from tests.harness.pagerd import EXAMPLE_ENV
from tests.scenarios.harness import EXAMPLE_CONFIG, ROOT, Scenario, _parse_iso, local_text

AGENCY = {"customer": "agency"}
WEBSHOP = {"customer": "acme", "service": "webshop"}


def log_of(s: Scenario, iid: int, **filters) -> list[tuple[str, str, str]]:
    """The messages of one incident: (local time, channel, person or "desk")."""
    rows = sorted((a for a in s.sent(**filters) if a.message.incident_id == iid), key=lambda a: (a.at, s.who(a.to)))
    return [(a.when, a.channel, s.who(a.to)) for a in rows]


def pages(log: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [row for row in log if row[1] in ("sms", "voice")]


async def test_a_warning_outside_office_hours_emails_the_desk_and_pages_the_office_at_opening(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 22:00") as s:  # a Tuesday evening
        iid = await s.fire({**AGENCY, "severity": "warning"})
        assert log_of(s, iid) == [("Tue 22:00", "email", "anna"), ("Tue 22:00", "email", "desk")]
        routed = [e for e in (await s.incident(iid))["timeline"] if e["kind"] == "routed"]
        assert "severity warning: urgency low" in routed[0]["data"]["reason"]
        assert (
            "paging the office rotation at the next office opening, Wed 2026-12-09 08:30" in routed[0]["data"]["reason"]
        )

        await s.at("2026-12-09 08:29:30")
        assert pages(log_of(s, iid)) == []  # nobody woken in the night
        await s.at("2026-12-09 08:30")
        assert pages(log_of(s, iid, since="2026-12-09 08:00")) == [("Wed 08:30", "sms", "chris")]
        assert await s.events(iid, "office_opening", "paging") == [
            ("Wed 08:30", "office_opening"),
            ("Wed 08:30", "paging"),
        ]
        assert (await s.steps(iid))[0] == ("Wed 08:30", ["chris"])


async def test_a_critical_at_the_same_instant_pages_the_standby_at_once(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 22:00") as s:
        iid = await s.fire({**AGENCY, "severity": "critical"})
        assert pages(log_of(s, iid)) == [("Tue 22:00", "sms", "dewi")]


async def test_an_unknown_severity_pages_at_once(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 22:00") as s:
        iid = await s.fire({**AGENCY, "severity": "P5-whatever"})
        assert pages(log_of(s, iid)) == [("Tue 22:00", "sms", "dewi")]


async def test_a_deferred_incident_acknowledged_before_the_opening_pages_nobody(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 22:00") as s:
        iid = await s.fire({**AGENCY, "severity": "warning"})
        status, _ = await s.api("POST", f"/api/v1/incidents/{iid}/ack", {"by": "anna"})
        assert status == 200
        await s.settle()
        await s.at("2026-12-09 10:00")
        assert pages(log_of(s, iid)) == []


async def test_a_low_incident_that_turns_critical_pages_at_once(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 22:00") as s:
        group = '{}:{alertname="DiskFilling"}'
        iid = await s.fire({**AGENCY, "alertname": "DiskFilling", "severity": "warning"}, group=group)
        await s.at("22:10")
        assert pages(log_of(s, iid)) == []
        again = await s.fire({**AGENCY, "alertname": "DiskFilling", "severity": "critical"}, group=group)
        assert again == iid
        assert pages(log_of(s, iid)) == [("Tue 22:10", "sms", "dewi")]
        assert await s.events(iid, "urgency_raised") == [("Tue 22:10", "urgency_raised")]


async def _window(s: Scenario, start: str, end: str, **scope) -> int:
    status, body = await s.api(
        "POST",
        "/api/v1/maintenance",
        {"start": start, "end": end, "reason": "database upgrade", "by": "anna", **scope},
    )
    assert status == 201, body
    return body["id"]


async def test_a_maintenance_window_silences_says_so_and_pages_when_it_ends(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 21:00") as s:
        wid = await _window(s, "2026-12-08T21:00", "2026-12-08T23:00", project="acme/webshop")
        await s.at("21:30")
        held = await s.fire(WEBSHOP)
        gone = await s.fire({**WEBSHOP, "alertname": "Flapping"})
        assert s.sent() == [] and s.query("SELECT count(*) FROM outbox") == [(0,)]  # nobody, not even queued
        routed = [e for e in (await s.incident(held))["timeline"] if e["kind"] == "routed"][0]
        assert routed["data"]["reason"] == (
            f"in maintenance window #{wid} until Tue 2026-12-08 23:00 Europe/Amsterdam (database upgrade): not paged"
        )
        assert (routed["data"]["paging"], routed["data"]["maintenance_window"]) == (False, wid)
        await s.at("22:00")
        await s.fire({**WEBSHOP, "alertname": "Flapping"}, resolved=True, group='{}:{scenario="2"}')
        assert (await s.incident(gone))["state"] == "resolved"

        await s.at("22:59:30")
        assert s.sent() == []
        await s.at("23:00")  # the window ends: what it held and is still open is paged now
        assert pages(log_of(s, held)) == [("Tue 23:00", "sms", "dewi")]
        assert log_of(s, gone) == []
        ended = [e for e in (await s.incident(held))["timeline"] if e["kind"] == "maintenance_ended"]
        assert ended[0]["data"]["why"] == f"maintenance window #{wid} ended"


async def test_removing_a_window_pages_what_it_held_at_once(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 21:00") as s:
        wid = await _window(s, "2026-12-08T21:00", "2026-12-09T06:00", customer="acme")
        held = await s.fire(WEBSHOP)
        other = await s.fire(AGENCY)  # another customer: paged as always
        assert pages(log_of(s, held)) == [] and pages(log_of(s, other)) == [("Tue 21:00", "sms", "dewi")]
        await s.at("22:00")
        status, body = await s.api("DELETE", f"/api/v1/maintenance/{wid}?by=bram")
        assert (status, body["removed_by"]) == (200, "bram")
        await s.settle()
        assert pages(log_of(s, held, since="21:59")) == [("Tue 22:00", "sms", "dewi")]
        ended = [e for e in (await s.incident(held))["timeline"] if e["kind"] == "maintenance_ended"]
        assert ended[0]["data"]["why"] == f"maintenance window #{wid} removed by bram"


# -- pagerd route agrees with the engine ----------------------------------------------------------------


def route_preview(s: Scenario, labels: dict[str, str], at: datetime) -> dict:
    """`pagerd route --json` on the scenario's config and database, as an operator runs it."""
    env = {**os.environ, **EXAMPLE_ENV, "PAGERD_DB": str(s.db), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pager",
            "route",
            "-c",
            str(EXAMPLE_CONFIG),
            "--json",
            "--at",
            at.isoformat(),
            "--labels",
        ]
        + [f"{k}={v}" for k, v in labels.items()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    "labels, window",
    [
        ({**AGENCY, "severity": "warning"}, None),  # deferred to the opening
        ({**AGENCY, "severity": "critical"}, None),  # paged at once
        ({**WEBSHOP, "severity": "critical"}, ("2026-12-08T21:00", "2026-12-08T23:10")),  # held, then paged
        ({**WEBSHOP, "severity": "info"}, ("2026-12-08T21:00", "2026-12-08T23:10")),  # held, then deferred
    ],
    ids=["warning", "critical", "maintenance", "maintenance-then-low"],
)
async def test_pagerd_route_agrees_with_what_the_engine_does(tmp_path, labels, window):
    async with Scenario(tmp_path, "2026-12-08 22:00") as s:
        if window is not None:
            await _window(s, *window, project="acme/webshop")
        preview = route_preview(s, {"alertname": "ScenarioAlert", **labels}, s.clock.now())
        iid = await s.fire(labels)
        last = _parse_iso(preview["steps"][-1]["at"])
        await s.at(local_wall(last))
        await s.advance(minutes=5)
        # every step: the same instant and the same people
        assert await s.steps(iid) == [(local_text(_parse_iso(st["at"])), st["people"]) for st in preview["steps"]]
        # every page and e-mail the steps sent: the same channel, person and instant
        expected = sorted(
            (local_text(_parse_iso(c["at"])), c["channel"], c["person"])
            for st in preview["steps"]
            for c in st["contacts"]
        )
        sent = sorted(
            row for row in log_of(s, iid) if row[2] != "desk" and not (row[1] == "email" and row[0] == desk_at(preview))
        )
        assert sent == expected
        # the desk's e-mail of a deferred incident, when it was sent
        if preview["desk_at"] is not None:
            assert ("email", "desk") in {
                (c, p) for _, c, p in log_of(s, iid, until=local_wall(_parse_iso(preview["desk_at"])))
            }
        assert preview["project"] == (await s.incident(iid))["response"]["current"]["project"]


def desk_at(preview: dict) -> str | None:
    return local_text(_parse_iso(preview["desk_at"])) if preview["desk_at"] else None


def local_wall(at: datetime) -> str:
    from tests.scenarios.harness import ZONE

    return at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S")
