"""pagerd behind a real Prometheus Alertmanager (webhook receiver, Bearer token).

Timings (shared/PEERS.md): group_wait 1 s -> first webhook ~1 s after the alerts; resolved alerts
arrive at the next group_interval tick (3 s). Every wait below is bounded.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import require_binary
from tests.harness.alertmanager import ALERTMANAGER_BIN, AMTOOL_BIN, Alertmanager

pytestmark = pytest.mark.peer("alertmanager")

NOTIFY_TIMEOUT = 12.0  # first webhook ~1 s; a resolve is at most one group_interval (3 s) later


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def alertmanager(tmp_path):
    """Factory: `alertmanager(target=..., token=..., **kw)` starts one; all are stopped after the test."""
    require_binary(ALERTMANAGER_BIN)
    started: list[Alertmanager] = []

    def start(**kw) -> Alertmanager:
        am = Alertmanager(tmp_path / f"alertmanager-{len(started)}", **kw)
        started.append(am)
        return am.start()

    yield start
    for am in started:
        am.stop()
        print(f"--- {am.workdir.name} log (tail) ---\n{am.log_tail(3000)}")


@pytest.fixture
def am_for(alertmanager, pagerd):
    """Factory: an Alertmanager whose receivers point at the running pagerd with its webhook token."""

    def start(**kw) -> Alertmanager:
        kw.setdefault("target", pagerd.url)
        kw.setdefault("token", pagerd.webhook_token)
        return alertmanager(**kw)

    yield start
    print(f"--- pagerd log (tail) ---\n{pagerd.log_path.read_text(errors='replace')[-3000:]}")


class Recorder:
    """A plain HTTP receiver on loopback that records what Alertmanager posts (for harness self-tests)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": json.loads(body)})
                self.send_response(202 if self.path == "/v2/enqueue" else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def recorder():
    r = Recorder()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


# -- helpers over pagerd's API --------------------------------------------------------------------
def incidents_of(p, source: str = "alertmanager") -> list[dict]:
    return [i for i in p.incidents() if i.get("source") == source]


def detail(p, incident_id) -> dict:
    status, body = p.api("GET", f"/api/v1/incidents/{incident_id}")
    assert status == 200, (status, body)
    return body


def alert_with(d: dict, **labels: str) -> dict | None:
    for a in d.get("alerts", []):
        if all(a.get("labels", {}).get(k) == v for k, v in labels.items()):
            return a
    return None


# -- the harness itself (no pagerd needed) --------------------------------------------------------
@pytest.mark.parametrize("receiver", ["webhook", "events_v2"])
def test_generated_config_passes_amtool(tmp_path, receiver):
    amtool = require_binary(AMTOOL_BIN)
    am = Alertmanager(tmp_path, target="http://127.0.0.1:9", token="t0ken", receiver=receiver)
    result = am.check_config(amtool)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "2 receivers" in result.stdout


def test_harness_delivers_webhook_with_bearer_and_known_group_key(alertmanager, recorder):
    am = alertmanager(target=recorder.url, token="s3cret")
    labels = {"alertname": "HarnessCheck", "group": "g1", "instance": "a"}
    am.fire(labels, {"summary": "harness self-test"})
    am.wait_for(lambda _: recorder.requests, NOTIFY_TIMEOUT, 0.1)
    req = recorder.requests[0]
    assert req["path"] == "/api/v1/alerts/alertmanager"
    assert req["headers"]["Authorization"] == "Bearer s3cret"
    body = req["body"]
    assert body["version"] == "4"
    assert body["groupKey"] == am.group_key(labels)
    assert [a["labels"] for a in body["alerts"]] == [labels]
    assert body["alerts"][0]["annotations"] == {"summary": "harness self-test"}


# -- pagerd behind Alertmanager --------------------------------------------------------------------
def test_grouped_alerts_open_one_incident_and_resolve_with_their_alerts(pagerd, am_for):
    am = am_for()
    a1 = {"alertname": "DiskFull", "group": "db", "instance": "db1", "severity": "critical"}
    a2 = {"alertname": "DiskFull", "group": "db", "instance": "db2", "severity": "critical"}
    am.fire_many([(a1, {"summary": "disk full on db1"}), (a2, {"summary": "disk full on db2"})])

    inc = pagerd.wait_for(
        lambda p: (i := incidents_of(p)) and i[0]["alert_count"] == 2 and i[0], NOTIFY_TIMEOUT)
    all_incidents = pagerd.incidents()
    assert len(all_incidents) == 1, all_incidents
    assert inc["state"] == "triggered"
    assert inc["source"] == "alertmanager"
    d = detail(pagerd, inc["id"])
    assert {a["labels"]["instance"] for a in d["alerts"]} == {"db1", "db2"}
    assert all(a["status"] == "firing" for a in d["alerts"]), d["alerts"]
    assert alert_with(d, instance="db1")["annotations"].get("summary") == "disk full on db1"

    # Resolve one alert: the incident stays open, that alert is resolved, the other still fires.
    am.resolve(a1)
    d = pagerd.wait_for(
        lambda p: (x := detail(p, inc["id"])) and (a := alert_with(x, instance="db1"))
        and a["status"] == "resolved" and x,
        NOTIFY_TIMEOUT)
    assert d["state"] == "triggered", d
    assert alert_with(d, instance="db2")["status"] == "firing"
    assert alert_with(d, instance="db1")["ends_at"], alert_with(d, instance="db1")

    # Resolve the other: the incident resolves.
    am.resolve(a2)
    d = pagerd.wait_for(lambda p: (x := detail(p, inc["id"]))["state"] == "resolved" and x, NOTIFY_TIMEOUT)
    assert all(a["status"] == "resolved" for a in d["alerts"]), d["alerts"]
    assert d["resolved_at"]
    assert len(pagerd.incidents()) == 1


def test_second_group_opens_second_incident(pagerd, am_for):
    am = am_for()
    web = {"alertname": "HighLatency", "group": "web", "instance": "web1"}
    api = {"alertname": "HighLatency", "group": "api", "instance": "api1"}
    am.fire(web, {"summary": "web slow"})
    first = pagerd.wait_for(lambda p: (i := incidents_of(p)) and i, NOTIFY_TIMEOUT)
    assert len(first) == 1
    am.fire(api, {"summary": "api slow"})
    both = pagerd.wait_for(lambda p: len(i := incidents_of(p)) >= 2 and i, NOTIFY_TIMEOUT)
    assert len(both) == 2, both
    assert len({i["id"] for i in both}) == 2
    assert all(i["state"] == "triggered" and i["alert_count"] == 1 for i in both), both
    groups = set()
    for i in both:
        (alert,) = detail(pagerd, i["id"])["alerts"]
        groups.add(alert["labels"]["group"])
    assert groups == {"web", "api"}


def test_redeliveries_do_not_duplicate(pagerd, am_for):
    # repeat_interval below group_interval: Alertmanager re-sends the unchanged group every tick.
    am = am_for(repeat_interval="1s")
    a1 = {"alertname": "QueueStuck", "group": "jobs", "instance": "w1"}
    a2 = {"alertname": "QueueStuck", "group": "jobs", "instance": "w2"}
    am.fire_many([(a1, {"summary": "w1 stuck"}), (a2, {"summary": "w2 stuck"})])
    pagerd.wait_for(lambda p: (i := incidents_of(p)) and i[0]["alert_count"] == 2, NOTIFY_TIMEOUT)

    # Wait for two more deliveries of the very same group, all accepted by pagerd.
    sent, failed = am.wait_for(lambda a: (n := a.notifications("webhook"))[0] >= 3 and n, 15.0)
    assert failed == 0, "pagerd refused a re-delivery (see Alertmanager log)"

    incidents = pagerd.incidents()
    assert len(incidents) == 1, incidents
    (inc,) = incidents
    assert inc["alert_count"] == 2 and inc["state"] == "triggered", inc
    d = detail(pagerd, inc["id"])
    assert len(d["alerts"]) == 2, d["alerts"]
    assert sorted(a["labels"]["instance"] for a in d["alerts"]) == ["w1", "w2"]


def test_wrong_bearer_token_is_refused_and_nothing_stored(pagerd, am_for):
    am = am_for(token="not-the-webhook-token")
    am.fire({"alertname": "Intruder", "group": "sec", "instance": "x"}, {"summary": "should not land"})
    # The first delivery at ~1 s and a re-send one group_interval later, both refused.
    am.wait_for(lambda a: a.notifications("webhook")[1] >= 2, 15.0)
    sent, failed = am.notifications("webhook")
    assert failed >= 2 and failed == sent, (sent, failed)
    assert "unexpected status code 401" in am.log_tail(20000), "Alertmanager should log pagerd's 401"
    assert pagerd.incidents() == []

    # The same refusal, seen directly: a version-4 body with the wrong token gets a JSON 401.
    payload = {"version": "4", "groupKey": "{}:{alertname=\"Intruder\"}", "status": "firing",
               "receiver": "pagerd-webhook", "groupLabels": {"alertname": "Intruder"},
               "commonLabels": {}, "commonAnnotations": {}, "externalURL": am.url, "truncatedAlerts": 0,
               "alerts": [{"status": "firing", "labels": {"alertname": "Intruder"}, "annotations": {},
                           "startsAt": "2024-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                           "generatorURL": "", "fingerprint": "0123456789abcdef"}]}
    status, body = pagerd.request("POST", "/api/v1/alerts/alertmanager", json.dumps(payload).encode(),
                                  token="not-the-webhook-token")
    assert status == 401, (status, body)
    assert isinstance(body, dict), body
    status, body = pagerd.request("POST", "/api/v1/alerts/alertmanager", json.dumps(payload).encode())
    assert status == 401, (status, body)
    assert pagerd.incidents() == []
