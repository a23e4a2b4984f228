"""`pagerd route` agrees with the daemon: the same config and the same instant, the daemon on the manual test
clock (README: testing), moved to each instant the preview names; each escalation step fires then, paging the
people the preview named. (tests/scenarios/test_urgency_maintenance.py compares every message as well.)"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

from tests.harness.pagerd import ROOT, PagerdProcess, manual_clock_config
from tests.harness.paging import fire, incident, ts

START = datetime(2026, 12, 8, 21, 0, tzinfo=timezone.utc)  # Tue 22:00 in Amsterdam: evening_night


def route(d: PagerdProcess, at: datetime, *labels: str) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pager",
            "route",
            "-c",
            str(d.config),
            "--json",
            "--at",
            at.isoformat(),
            "--labels",
            *labels,
        ],
        cwd=ROOT,
        env=d.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def fired(inc: dict) -> list[tuple[datetime, list[str]]]:
    return [(ts(e["at"]), e["data"]["people"]) for e in inc["timeline"] if e["kind"] in ("paging", "escalated")]


def _when_fired(inc: dict, n: int) -> dict | None:
    return inc if len(fired(inc)) >= n else None


def test_pagerd_route_agrees_with_the_daemon_on_the_manual_clock(tmp_path):
    cfg = manual_clock_config(tmp_path / "pagerd.yaml", START)
    d = PagerdProcess(tmp_path / "pagerd", config=cfg).start()
    try:
        t0 = d.now()
        low = route(d, t0, "alertname=DiskFilling", "customer=agency", "severity=warning")
        high = route(d, t0, "alertname=SiteDown", "customer=agency", "severity=critical")
        assert (low["decisions"][0]["action"], high["decisions"][0]["action"]) == ("defer", "page")
        deferred = fire(d, "DiskFilling", "disk 91% full", severity="warning")
        paged = fire(d, "SiteDown", "site down", severity="critical")
        d.wait_for(lambda p: fired(incident(p, paged)), timeout=10)
        assert fired(incident(d, deferred)) == []  # nobody yet: it waits for the office opening
        for preview, iid in ((high, paged), (low, deferred)):
            for step in preview["steps"]:
                at = ts(step["at"])
                if at > d.now():
                    d.set_clock(at)  # answers once a whole tick ran at that instant
            n = len(preview["steps"])
            inc = d.wait_for(lambda p, iid=iid, n=n: _when_fired(incident(p, iid), n), timeout=10)
            assert fired(inc) == [(ts(s["at"]), s["people"]) for s in preview["steps"]]
            routed = next(e for e in inc["timeline"] if e["kind"] == "routed")
            assert routed["data"]["reason"] == preview["decisions"][0]["reason"]
    finally:
        d.stop()
