"""pagerd behind a real Prometheus Alertmanager (webhook receiver, Bearer token).

Timings (shared/PEERS.md): group_wait 1 s -> first webhook ~1 s after the alerts; resolved alerts
arrive at the next group_interval tick (3 s). Every wait below is bounded.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import require_binary
from tests.harness.alertmanager import ALERTMANAGER_BIN, AMTOOL_BIN, Alertmanager
from tests.harness.paging import ts

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
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
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

    inc = pagerd.wait_for(lambda p: (i := incidents_of(p)) and i[0]["alert_count"] == 2 and i[0], NOTIFY_TIMEOUT)
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
        lambda p: (
            (x := detail(p, inc["id"])) and (a := alert_with(x, instance="db1")) and a["status"] == "resolved" and x
        ),
        NOTIFY_TIMEOUT,
    )
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
    payload = {
        "version": "4",
        "groupKey": "{}:{alertname=\"Intruder\"}",
        "status": "firing",
        "receiver": "pagerd-webhook",
        "groupLabels": {"alertname": "Intruder"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": am.url,
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Intruder"},
                "annotations": {},
                "startsAt": "2024-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }
    status, body = pagerd.request(
        "POST", "/api/v1/alerts/alertmanager", json.dumps(payload).encode(), token="not-the-webhook-token"
    )
    assert status == 401, (status, body)
    assert isinstance(body, dict), body
    status, body = pagerd.request("POST", "/api/v1/alerts/alertmanager", json.dumps(payload).encode())
    assert status == 401, (status, body)
    assert pagerd.incidents() == []


# -- a group resolves: silenced and inhibited alerts are never mentioned again ---------------------
# Alertmanager drops a silenced or inhibited alert from its group's later notifications and never
# sends a "resolved" for it: when the group's other alert resolves, the notification has top-level
# status "resolved" and lists only that one. pagerd then closes the unlisted alert as resolved by
# the group, resolves the incident(s) and pages nobody any more.

STEP_WAIT = 4  # s: each escalation step of the short config; a step due after the resolve would page
DISK_A = {"alertname": "DiskFull", "group": "db", "instance": "db1", "customer": "agency", "severity": "critical"}
DISK_B = {"alertname": "DiskFull", "group": "db", "instance": "db2", "customer": "agency", "severity": "critical"}
NODE_DOWN = {"alertname": "NodeDown", "group": "db", "instance": "db2", "customer": "agency", "severity": "critical"}
INHIBIT_DISK_BY_NODE = [
    {"source_matchers": ['alertname="NodeDown"'], "target_matchers": ['alertname="DiskFull"'], "equal": ["instance"]}
]
AFTER_RESOLVE = ("paging", "paged", "escalated", "escalate_requested")


@pytest.fixture(params=["group_key", "fingerprint"])
def paging_pagerd(request, tmp_path):
    """pagerd that pages (PAGERD_NOTIFIER=dry_run: the dry-run notifier logs every page and records it
    as simulated), with
    second-scale escalation steps and `sources.alertmanager.dedup_by` as the test's parameter."""
    import yaml

    from tests.harness.pagerd import PagerdProcess
    from tests.harness.paging import short_config

    cfg = short_config(
        tmp_path / "pagerd.yaml",
        contact_rules=[{"channel": "sms", "after": "0s"}],
        steps=[
            {"targets": ["oncall"], "wait": f"{STEP_WAIT}s"},
            {"targets": ["oncall", "person:bram"], "wait": f"{STEP_WAIT}s"},
        ],
        repeat=2,
    )
    doc = yaml.safe_load(cfg.read_text())
    doc["sources"]["alertmanager"]["dedup_by"] = request.param
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    p = PagerdProcess(workdir=tmp_path / "pagerd", config=cfg).start()
    p.dedup_by = request.param  # type: ignore[attr-defined]
    yield p
    p.stop()
    print(f"--- pagerd log (tail) ---\n{p.log_path.read_text(errors='replace')[-3000:]}")


def _db(p) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{p.db_path}?mode=ro", uri=True, timeout=10)


def disk_incidents(p) -> list[dict]:
    return [detail(p, i["id"]) for i in incidents_of(p) if i["summary"].startswith("disk full")]


def _fire_two_and_wait_for_pages(p, am) -> list[dict]:
    """DISK_A and DISK_B fire in one group; returns their incident(s) once each has paged."""
    am.fire_many([(DISK_A, {"summary": "disk full on db1"}), (DISK_B, {"summary": "disk full on db2"})])
    want = 1 if p.dedup_by == "group_key" else 2
    return p.wait_for(
        lambda q: (
            len(incs := disk_incidents(q)) == want
            and sum(len(i["alerts"]) for i in incs) == 2
            and all(any(e["kind"] == "paged" for e in i["timeline"]) for i in incs)
            and incs
        ),
        NOTIFY_TIMEOUT,
    )


def _resolve_a_and_expect_the_group_resolved(p, am, incidents: list[dict]) -> None:
    """DISK_A resolves; B, suppressed meanwhile, is never mentioned again: every incident of the group
    resolves (B's alert by the group), its escalation stops, its pages are cancelled, and nothing
    pages after that, also past the time its next escalation step was due."""
    am.resolve(DISK_A)
    ids = [i["id"] for i in incidents]
    done = p.wait_for(
        lambda q: all(detail(q, i)["state"] == "resolved" for i in ids) and [detail(q, i) for i in ids], NOTIFY_TIMEOUT
    )
    b = next(d for d in done if alert_with(d, instance="db2"))
    assert alert_with(b, instance="db2")["status"] == "resolved"
    by_group = [e for e in b["timeline"] if e["kind"] == "alert_resolved_by_group"]
    assert len(by_group) == 1 and by_group[0]["data"]["group_key"] == am.group_key(DISK_B), b["timeline"]
    assert b["timeline"][-1]["kind"] == "resolved" and b["timeline"][-1]["data"]["reason"] == "group_resolved"
    if p.dedup_by == "group_key":
        assert alert_with(b, instance="db1")["status"] == "resolved"
    # the engine stops settled incidents on its next tick (every second)
    p.wait_for(
        lambda q: (
            _db(q)
            .execute(
                f"SELECT count(*) FROM escalations WHERE incident_id IN ({','.join('?' * len(ids))}) "
                "AND status IN ('active', 'waiting')",
                ids,
            )
            .fetchone()[0]
            == 0
        ),
        10.0,
    )
    resolved_at = max(ts(d["resolved_at"]) for d in done)
    deadline = time.monotonic() + 30
    while datetime.now(timezone.utc) < resolved_at + timedelta(seconds=STEP_WAIT + 2) and time.monotonic() < deadline:
        time.sleep(0.2)  # past the moment the next escalation step would have paged
    for iid in ids:
        d = detail(p, iid)
        assert d["state"] == "resolved", d
        kinds = [e["kind"] for e in d["timeline"]]
        after = kinds[kinds.index("resolved") + 1 :]
        assert not set(after) & set(AFTER_RESOLVE), d["timeline"]
    pending = (
        _db(p)
        .execute(
            f"SELECT id, kind, status FROM outbox WHERE incident_id IN ({','.join('?' * len(ids))}) "
            "AND status IN ('pending', 'sending')",
            ids,
        )
        .fetchall()
    )
    assert pending == []


def test_a_silenced_alert_ends_with_its_group(paging_pagerd, alertmanager):
    p = paging_pagerd
    am = alertmanager(target=p.url, token=p.webhook_token, group_wait="1s", group_interval="1s")
    incidents = _fire_two_and_wait_for_pages(p, am)
    am.silence({"alertname": "DiskFull", "instance": "db2"})
    am.wait_suppressed(DISK_B)
    _resolve_a_and_expect_the_group_resolved(p, am, incidents)


def test_an_inhibited_alert_ends_with_its_group(paging_pagerd, alertmanager):
    p = paging_pagerd
    am = alertmanager(
        target=p.url, token=p.webhook_token, group_wait="1s", group_interval="1s", inhibit_rules=INHIBIT_DISK_BY_NODE
    )
    incidents = _fire_two_and_wait_for_pages(p, am)
    am.fire(NODE_DOWN, {"summary": "db2 is down"})  # its own group: it inhibits DISK_B
    am.wait_suppressed(DISK_B)
    _resolve_a_and_expect_the_group_resolved(p, am, incidents)
    node = [i for i in incidents_of(p) if i["summary"] == "db2 is down"]
    assert [i["state"] for i in node] == ["triggered"]  # the inhibiting alert's own incident goes on
