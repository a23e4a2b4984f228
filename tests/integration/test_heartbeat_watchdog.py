"""Quiet until asked, fed once asked: the example config pages nobody by itself, and the shipped
Alertmanager config (deploy/alertmanager/alertmanager.yml, the same text as in the README) keeps the
heartbeat fed through a real Alertmanager.

A heartbeat is armed by its first check-in (pager.domain.heartbeat): the example's `alertmanager`
heartbeat waits, unwatched and visible as `waiting`, until a Watchdog arrives. The Alertmanager test runs
the shipped config with its intervals divided by SCALE (so a documented minute is a second) against
pagerd on the manual clock: after each Watchdog that reaches pagerd, the test moves pagerd's clock by
the longest gap the documented route allows (group_interval + repeat_interval), for more than twice the
heartbeat's timeout; no incident may open.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_binary
from tests.harness.alertmanager import ALERTMANAGER_BIN, AMTOOL_BIN, Alertmanager, parse_metrics
from tests.harness.pagerd import EXAMPLE_CONFIG, ROOT, PagerdProcess, manual_clock_config
from tests.harness.prometheus import PROMTOOL_BIN

SHIPPED = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
WATCHDOG_RULES = ROOT / "deploy" / "prometheus" / "watchdog-rules.yaml"
README = ROOT / "README.md"
START = datetime(2026, 1, 7, 9, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in Amsterdam
SCALE = 60  # the test's Alertmanager runs the documented intervals 60 times faster


def duration(text: str) -> timedelta:
    """An Alertmanager/Prometheus duration as the shipped files write them (`0s`, `30s`, `5m`, `4h`)."""
    total = timedelta()
    parts = re.findall(r"(\d+)(ms|s|m|h|d)", text)
    assert parts and "".join(n + u for n, u in parts) == text, text
    unit = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1)}
    unit |= {"h": timedelta(hours=1), "d": timedelta(days=1)}
    for n, u in parts:
        total += int(n) * unit[u]
    return total


def heartbeat_timeout() -> timedelta:
    return duration(yaml.safe_load(EXAMPLE_CONFIG.read_text())["heartbeats"]["alertmanager"]["timeout"])


def watchdog_route(cfg: dict) -> dict:
    (route,) = [r for r in cfg["route"]["routes"] if r.get("matchers") == ['alertname="Watchdog"']]
    return route


def outbox_rows(p: PagerdProcess) -> int:
    with sqlite3.connect(f"file:{p.db_path}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]


def heartbeat(p: PagerdProcess) -> dict:
    status, body = p.request("GET", "/readyz")
    assert status == 200, body
    return body["heartbeats"]["alertmanager"]


# -- the example config, as `make run` uses it ----------------------------------------------------------
def test_the_example_config_pages_nobody_by_itself(tmp_path: Path) -> None:
    p = PagerdProcess(tmp_path / "pagerd", config=manual_clock_config(tmp_path / "pagerd.yaml", START)).start()
    try:
        p.advance("10m")
        assert p.incidents() == []
        assert outbox_rows(p) == 0
        # the heartbeat is there, waiting for its first check-in, and says so
        assert heartbeat(p) == {
            "state": "waiting",
            "last_seen": None,
            "deadline": None,
            "timeout_seconds": heartbeat_timeout().total_seconds(),
        }
        metrics = parse_metrics(p.request("GET", "/metrics")[1])
        assert metrics['pagerd_heartbeat_armed{name="alertmanager"}'] == 0
        assert not any(k.startswith("pagerd_heartbeat_last_seen_timestamp_seconds") for k in metrics)

        # Asked: the first check-in arms it, and silence from then on past the timeout pages.
        assert p.request("POST", "/api/v1/heartbeat/alertmanager", b"", token=p.webhook_token)[0] == 200
        armed = heartbeat(p)
        assert armed["state"] == "ok" and armed["last_seen"] is not None
        assert parse_metrics(p.request("GET", "/metrics")[1])['pagerd_heartbeat_armed{name="alertmanager"}'] == 1
        p.advance(heartbeat_timeout())
        assert p.incidents(source="heartbeat") == []
        p.advance("1s")
        (inc,) = p.incidents(source="heartbeat")
        assert inc["state"] == "triggered" and heartbeat(p)["state"] == "overdue"
    finally:
        p.stop()


# -- the shipped Alertmanager config --------------------------------------------------------------------
def test_the_readme_shows_the_shipped_alertmanager_config_and_watchdog_rule() -> None:
    readme = README.read_text()
    assert SHIPPED.read_text() in readme, "README's alertmanager.yml differs from deploy/alertmanager/alertmanager.yml"
    assert WATCHDOG_RULES.read_text() in readme, (
        "README's Watchdog rule differs from deploy/prometheus/watchdog-rules.yaml"
    )


def test_the_shipped_watchdog_route_repeats_well_within_the_heartbeat_timeout() -> None:
    cfg = yaml.safe_load(SHIPPED.read_text())
    route = watchdog_route(cfg)
    assert route["receiver"] == cfg["route"]["receiver"] == "pagerd"
    # the longest gap between two Watchdog notifications: a repeat goes out at the first group_interval tick
    # after repeat_interval has passed; at least three of them per timeout
    gap = duration(route["repeat_interval"]) + duration(route["group_interval"])
    assert 3 * gap <= heartbeat_timeout(), (gap, heartbeat_timeout())
    (hook,) = [r for r in cfg["receivers"] if r["name"] == "pagerd"][0]["webhook_configs"]
    assert hook["send_resolved"] is True and hook["url"].endswith("/api/v1/alerts/alertmanager")
    (rule,) = yaml.safe_load(WATCHDOG_RULES.read_text())["groups"][0]["rules"]
    assert rule["alert"] == "Watchdog" and rule["expr"] == "vector(1)"


def test_the_shipped_configs_pass_amtool_and_promtool() -> None:
    amtool = require_binary(AMTOOL_BIN)
    r = subprocess.run([amtool, "check-config", str(SHIPPED)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    promtool = require_binary(PROMTOOL_BIN)
    r = subprocess.run([promtool, "check", "rules", str(WATCHDOG_RULES)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "SUCCESS: 1 rules found" in r.stdout, r.stdout + r.stderr


class ShippedAlertmanager(Alertmanager):
    """A real Alertmanager on the shipped config: pagerd's URL and token file put in, every route's
    intervals divided by SCALE."""

    def __init__(self, workdir: Path, *, target: str, token: str) -> None:
        super().__init__(workdir, target=target, token=token)
        self.token_file = workdir / "pagerd-webhook-token"

    def _config(self) -> dict:
        cfg = yaml.safe_load(SHIPPED.read_text())

        def scale(route: dict) -> None:
            for key in ("group_wait", "group_interval", "repeat_interval"):
                if key in route:
                    ms = int(duration(route[key]) / timedelta(milliseconds=1)) // SCALE
                    route[key] = f"{ms}ms"
            for child in route.get("routes", []):
                scale(child)

        scale(cfg["route"])
        (hook,) = [r for r in cfg["receivers"] if r["name"] == "pagerd"][0]["webhook_configs"]
        hook["url"] = self.webhook_url
        hook["http_config"]["authorization"]["credentials_file"] = str(self.token_file)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.token_file.write_text(self.token + "\n")
        return cfg


@pytest.mark.peer("alertmanager")
def test_the_shipped_config_keeps_the_heartbeat_fed_through_a_real_alertmanager(tmp_path: Path) -> None:
    require_binary(ALERTMANAGER_BIN)
    route = watchdog_route(yaml.safe_load(SHIPPED.read_text()))
    gap = duration(route["repeat_interval"]) + duration(route["group_interval"])  # documented, unscaled
    p = PagerdProcess(tmp_path / "pagerd", config=manual_clock_config(tmp_path / "pagerd.yaml", START)).start()
    am = ShippedAlertmanager(tmp_path / "am", target=p.url, token=p.webhook_token)
    try:
        am.start()
        # the labels deploy/prometheus/watchdog-rules.yaml gives it, as Prometheus posts it
        am.fire({"alertname": "Watchdog", "severity": "none"})
        last = None
        cycles = int(2 * heartbeat_timeout() / gap) + 1  # more than twice the timeout in all
        for _ in range(cycles):
            seen = p.wait_for(lambda d, last=last: (heartbeat(d)["last_seen"] != last and heartbeat(d)) or None, 20)
            assert seen["state"] == "ok", seen
            last = seen["last_seen"]
            p.advance(gap)  # the longest the documented route lets the Watchdog stay away
        assert p.incidents() == [], "a Watchdog fed every interval: no incident, no heartbeat silence"
        assert heartbeat(p)["state"] == "ok"
        sent, failed = am.notifications("webhook")
        assert sent >= cycles and failed == 0, (sent, failed)
    finally:
        am.stop()
        p.stop()
        print(f"--- pagerd log (tail) ---\n{p.log_path.read_text(errors='replace')[-3000:]}")
