"""pagerd and a real Prometheus: scraping its /metrics, linting them, and a rule's alert reaching
pagerd through a real Alertmanager.

Timings (shared/PEERS.md): Prometheus applies new scrape targets on a 5 s tick, so the first scrape
is ~5-6 s after start; a `for: 2s` rule reaches Alertmanager 6-10 s after start.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import require_binary
from tests.harness.alertmanager import ALERTMANAGER_BIN, Alertmanager
from tests.harness.prometheus import DEFAULT_RULE, PROMETHEUS_BIN, PROMTOOL_BIN, Prometheus, promtool_check_metrics

pytestmark = pytest.mark.peer("prometheus")


@pytest.fixture
def peers(tmp_path, pagerd):
    """Factory for the peers of one test; stops whatever it started, last started first."""
    started: list = []

    def prometheus(**kw) -> Prometheus:
        require_binary(PROMETHEUS_BIN)
        kw.setdefault("scrape_target", pagerd.url)
        prom = Prometheus(tmp_path / "prometheus", **kw)
        started.append(prom)
        return prom.start()

    def alertmanager(**kw) -> Alertmanager:
        require_binary(ALERTMANAGER_BIN)
        kw.setdefault("target", pagerd.url)
        kw.setdefault("token", pagerd.webhook_token)
        am = Alertmanager(tmp_path / "alertmanager", **kw)
        started.append(am)
        return am.start()

    yield prometheus, alertmanager
    for peer in reversed(started):
        peer.stop()
        print(f"--- {peer.name} log (tail) ---\n{peer.log_tail(3000)}")
    print(f"--- pagerd log (tail) ---\n{pagerd.log_path.read_text(errors='replace')[-3000:]}")


def test_generated_prometheus_config_passes_promtool(tmp_path):
    promtool = require_binary(PROMTOOL_BIN)
    prom = Prometheus(tmp_path, scrape_target="http://127.0.0.1:9", alertmanager="http://127.0.0.1:10")
    result = prom.check_config(promtool)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rules found" in result.stdout


def test_prometheus_scrapes_pagerd_metrics(pagerd, peers):
    prometheus, _ = peers
    prom = prometheus(rules=None)
    target = prom.wait_for(lambda p: (t := p.target()) and t["health"] == "up" and t, 20.0, 0.25)
    assert target["lastError"] == ""
    assert target["labels"]["job"] == "pagerd"
    assert target["scrapeUrl"] == pagerd.url + "/metrics"
    up = prom.wait_for(lambda p: p.query('up{job="pagerd"}'), 5.0)
    assert up[0]["value"][1] == "1"
    # pagerd's own series are in Prometheus, not only the synthetic `up`.
    samples = prom.query('count({job="pagerd", __name__!~"up|scrape_.*"})')
    assert samples and int(samples[0]["value"][1]) > 0, samples


def test_pagerd_metrics_pass_promtool_lint(pagerd):
    promtool = require_binary(PROMTOOL_BIN)
    # Some traffic first, so labelled series (per source, per status) exist when we lint.
    payload = {
        "version": "4",
        "groupKey": "{}:{alertname=\"LintProbe\"}",
        "status": "firing",
        "receiver": "pagerd-webhook",
        "groupLabels": {"alertname": "LintProbe"},
        "commonLabels": {"alertname": "LintProbe"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "LintProbe"},
                "annotations": {"summary": "lint probe"},
                "startsAt": "2024-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }
    status, body = pagerd.request(
        "POST", "/api/v1/alerts/alertmanager", json.dumps(payload).encode(), token=pagerd.webhook_token
    )
    assert status == 200, (status, body)
    status, body = pagerd.request("POST", "/api/v1/alerts/alertmanager", b"{not json", token=pagerd.webhook_token)
    assert 400 <= status < 500, (status, body)

    status, text = pagerd.request("GET", "/metrics")
    assert status == 200, (status, text)
    assert isinstance(text, str) and "# TYPE " in text, text[:500] if isinstance(text, str) else text
    # the store's pool (SQLite: the writer and the readers; no lease on one node)
    assert 'pagerd_store_connections{role="writer",state="open"} 1.0' in text, text
    assert 'pagerd_store_connections{role="reader",state="busy"}' in text, text
    assert 'role="lease"' not in text
    result = promtool_check_metrics(text, promtool)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr == "", result.stdout + result.stderr


@pytest.mark.peer("alertmanager")
def test_prometheus_rule_reaches_pagerd_through_alertmanager(pagerd, peers):
    prometheus, alertmanager = peers
    am = alertmanager()
    prom = prometheus(alertmanager=am)

    inc = pagerd.wait_for(
        lambda p: (i := [x for x in p.incidents() if x["source"] == "alertmanager"]) and i[0], 25.0, 0.25
    )
    assert inc["state"] == "triggered"
    assert inc["alert_count"] == 1
    status, d = pagerd.api("GET", f"/api/v1/incidents/{inc['id']}")
    assert status == 200, (status, d)
    (alert,) = d["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"] == {"alertname": DEFAULT_RULE["alert"], **DEFAULT_RULE["labels"]}
    assert alert["annotations"]["summary"] == DEFAULT_RULE["annotations"]["summary"]
    # Prometheus keeps re-sending the firing alert (resend delay 5 s); that is no new incident.
    assert [a["state"] for a in prom.alerts()] == ["firing"]
    assert len(pagerd.incidents()) == 1
