"""The escalation survives kill -9 of the real daemon: the next step fires on time after a restart,
no step or message goes out twice, and nothing follows an acknowledgement. Plus heartbeats: silence
opens an incident, a check-in resolves it, and Alertmanager's Watchdog is a check-in, never an incident.

Dry-run notifier (every message it "sends" is a `page_dry_run` log line) and a short-waits copy of
the example config: sms and e-mail at once, voice after 3 s; steps at 0 s, 4 s, 8 s; no repeat.
"""
from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter

import pytest

from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import events, fire, incident, short_config, ts, wait_event

STEP_WAIT = 4.0
VOICE_AFTER = 3.0
STEPS = [{"targets": ["oncall"], "wait": "4s"},
         {"targets": ["oncall", "person:bram"], "wait": "4s"},
         {"targets": ["oncall", "person:bram", "desk"], "wait": "4s"}]
ON_TIME = 2.0  # a step or message counts as on time within this many seconds of its due time


def sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def dry_run_lines(d: PagerdProcess) -> list[dict]:
    out = []
    for line in d.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"page_dry_run"' in line:
            out.append(json.loads(line))
    return out


@pytest.fixture
def daemon(tmp_path):
    started: list[PagerdProcess] = []

    def start(**cfg) -> PagerdProcess:
        d = PagerdProcess(tmp_path / "pagerd", config=short_config(tmp_path / "pagerd.yaml", **cfg))
        started.append(d)
        return d.start()

    yield start
    for d in started:
        d.stop()
    if started:
        print(f"--- pagerd log (tail) ---\n{started[0].log_path.read_text(errors='replace')[-4000:]}")


@pytest.mark.parametrize("restart_at", [2.0, 4.5], ids=["back-before-due", "down-across-due"])
def test_kill_9_mid_escalation_next_step_on_time_nothing_twice_nothing_after_ack(daemon, restart_at):
    """restart_at: seconds after the first page at which the killed daemon is started again; 4.5 s means
    step 0's call (+3 s) and step 1 (+4 s) fell due while it was down."""
    d = daemon(steps=STEPS, voice_after=f"{VOICE_AFTER:g}s")
    iid = fire(d, "RestartMidEscalation", "api1 answers 502")
    inc = wait_event(d, iid, "paged", channel="sms")
    first = ts(inc["response"]["current"]["first_page_at"]).timestamp()
    step0 = events(inc, "paging")[0]["data"]["people"]

    # kill -9 while step 0's voice (due +3 s) and step 1 (due +4 s) are still ahead.
    sleep_until(first + 1.5)
    d.proc.send_signal(signal.SIGKILL)
    assert d.proc.wait(5) == -signal.SIGKILL
    sleep_until(first + restart_at)
    d.start()
    up = time.time()

    def on_time(t: float, due: float) -> bool:  # not early; late only by the restart and a tick or two
        return due - 0.05 <= t <= max(due, up) + ON_TIME

    inc = wait_event(d, iid, "escalated", timeout=STEP_WAIT + ON_TIME + 3)
    (esc,) = events(inc, "escalated")
    assert esc["data"]["step"] == 1
    at = ts(esc["at"]).timestamp()
    assert on_time(at, first + STEP_WAIT), f"step 1 fired at +{at - first:.2f}s, daemon up at +{up - first:.2f}s"
    step1 = esc["data"]["people"]
    for p in step0:  # step 0's call, due while the daemon was restarting, went out on time too
        inc = wait_event(d, iid, "paged", channel="voice", person=p, timeout=5)  # (same tick: after the step)
        (call,) = events(inc, "paged", channel="voice", person=p)
        assert on_time(ts(call["at"]).timestamp(), first + VOICE_AFTER), call
    # Step 1's SMS and e-mails are out; then acknowledge through the API.
    for p in step1:
        wait_event(d, iid, "paged", channel="sms", person=p, count=2 if p in step0 else 1, timeout=5)
    status, body = d.api("POST", f"/api/v1/incidents/{iid}/ack", {"by": "tester"})
    assert status == 200, body
    acked_at = ts(incident(d, iid)["acknowledged_at"]).timestamp()
    # Step 1's calls are due VOICE_AFTER after step 1 fired: the acknowledgement must come before them.
    assert acked_at < at + VOICE_AFTER - 0.5, "acknowledged too late for the test to mean anything"

    # Past step 1's calls and step 2 (+8 s): nothing more.
    sleep_until(max(first + 2 * STEP_WAIT, at + VOICE_AFTER) + 1.5)
    inc = incident(d, iid)
    assert len(events(inc, "paging")) == 1 and len(events(inc, "escalated")) == 1  # no step twice, no step 2
    paged = events(inc, "paged")
    assert [e for e in paged if ts(e["at"]).timestamp() > acked_at] == []
    assert all(e["data"]["status"] == "sent" for e in paged)
    ids = [e["data"]["message_id"] for e in paged]
    assert len(ids) == len(set(ids)), f"a message paged twice: {ids}"
    expected = Counter()
    for p in step0:
        expected.update({("sms", p): 1, ("email", p): 1, ("voice", p): 1})
    for p in step1:  # their calls were due after the acknowledgement
        expected.update({("sms", p): 1, ("email", p): 1})
    assert Counter((e["data"]["channel"], e["data"]["person"]) for e in paged) == expected
    assert (inc["response"]["current"]["escalation"], inc["response"]["current"]["outcome"]) == ("stopped", "met")

    # What the notifier actually sent, across both processes: each message once, none after the ack.
    sent = [line for line in dry_run_lines(d) if line.get("incident_id") == iid]
    assert Counter(line["message_id"] for line in sent) == Counter(str(i) for i in ids)
    assert [line for line in sent if ts(line["timestamp"]).timestamp() > acked_at] == []
    # The store agrees: per step, person and channel at most one message sent; step 1's calls cancelled.
    with sqlite3.connect(f"file:{d.db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT idem_key, channel, status FROM outbox WHERE incident_id = ?", (iid,)).fetchall()
    keyed = [(key.split(":"), status) for key, _, status in rows]  # incident:generation:step:person:channel:i
    per_step = Counter((k[2], k[3], k[4]) for k, status in keyed if status == "sent")
    assert per_step and max(per_step.values()) == 1, per_step
    assert {k[2] for k, _ in keyed} == {"0", "1"}  # step 2 never queued anything
    assert sorted(status for k, status in keyed if k[2] == "1" and k[4] == "voice") == ["cancelled"] * len(step1)


# -- heartbeats ---------------------------------------------------------------------------------------
HEARTBEATS = {"alertmanager": {"timeout": "3s", "labels": {"customer": "agency", "alertname": "WatchdogSilent"}}}


def watchdog_payload(extra_alerts: list[dict] | None = None) -> bytes:
    watchdog = {"status": "firing", "labels": {"alertname": "Watchdog", "severity": "none", "customer": "agency"},
                "annotations": {"summary": "An alert that should always be firing"},
                "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "", "fingerprint": "00000000000000aa"}
    alerts = [watchdog] + (extra_alerts or [])
    return json.dumps({"version": "4", "groupKey": '{}:{alertname="Watchdog"}', "truncatedAlerts": 0,
                       "status": "firing", "receiver": "pagerd", "groupLabels": {},
                       "commonLabels": {"customer": "agency"}, "commonAnnotations": {},
                       "externalURL": "http://alertmanager.example:9093", "alerts": alerts}).encode()


def heartbeat_incidents(d: PagerdProcess) -> list[dict]:
    return d.incidents(source="heartbeat")


def no_watchdog_incident(d: PagerdProcess) -> None:
    assert [i for i in d.incidents() if i["labels"].get("alertname") == "Watchdog"] == []


def test_heartbeat_silence_opens_an_incident_and_a_beat_resolves_it(daemon):
    before_start = time.time()
    d = daemon(heartbeats=HEARTBEATS)
    assert d.request("POST", "/api/v1/heartbeat/alertmanager", b"")[0] == 401  # the webhook token is needed
    assert d.request("POST", "/api/v1/heartbeat/nosuch", b"", token=d.webhook_token)[0] == 404

    (inc,) = d.wait_for(lambda p: heartbeat_incidents(p), timeout=8)
    assert ts(inc["created_at"]).timestamp() - before_start >= 3.0  # not before the timeout
    assert inc["state"] == "triggered" and inc["dedup_key"] == "alertmanager"
    assert inc["labels"]["alertname"] == "WatchdogSilent" and inc["labels"]["customer"] == "agency"
    wait_event(d, inc["id"], "paging", timeout=5)  # it pages, like any agency incident

    status, body = d.request("POST", "/api/v1/heartbeat/alertmanager", b"", token=d.webhook_token)
    assert status == 200, body
    d.wait_for(lambda p: incident(p, inc["id"])["state"] == "resolved", timeout=5)
    assert len(heartbeat_incidents(d)) == 1


def test_watchdog_alert_is_a_heartbeat_never_an_incident(daemon):
    d = daemon(heartbeats=HEARTBEATS)
    # Silence first: the heartbeat incident opens ...
    (inc,) = d.wait_for(lambda p: heartbeat_incidents(p), timeout=8)
    # ... and Alertmanager's Watchdog, through the ordinary webhook, is the check-in that resolves it.
    status, body = d.request("POST", "/api/v1/alerts/alertmanager", watchdog_payload(), token=d.webhook_token)
    assert status == 200 and body["incidents"] == [], body
    d.wait_for(lambda p: incident(p, inc["id"])["state"] == "resolved", timeout=5)
    no_watchdog_incident(d)

    # Watchdog every second, longer than the timeout: no silence incident comes back, no Watchdog incident.
    until = time.time() + 4.5
    while time.time() < until:
        assert d.request("POST", "/api/v1/alerts/alertmanager", watchdog_payload(), token=d.webhook_token)[0] == 200
        time.sleep(1.0)
    assert [i["state"] for i in heartbeat_incidents(d)] == ["resolved"]
    no_watchdog_incident(d)

    # A Watchdog in the same notification as a real alert: the real one opens an incident, the Watchdog not.
    real = {"status": "firing", "labels": {"alertname": "RealProblem", "customer": "agency"},
            "annotations": {"summary": "a real problem"}, "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "00000000000000bb"}
    status, body = d.request("POST", "/api/v1/alerts/alertmanager", watchdog_payload([real]), token=d.webhook_token)
    assert status == 200 and len(body["incidents"]) == 1, body
    assert incident(d, body["incidents"][0])["labels"].get("alertname") != "Watchdog"
    no_watchdog_incident(d)
