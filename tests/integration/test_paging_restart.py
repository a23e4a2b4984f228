"""The escalation survives kill -9 of the real daemon: the next step fires on time after a restart,
no step or message goes out twice, and nothing follows an acknowledgement. Plus heartbeats: silence
after a first check-in opens an incident (one that never checked in waits), a check-in resolves it, and
Alertmanager's Watchdog is a check-in, never an incident.

Dry-run notifier (every message it "sends" is a `page_dry_run` log line) and a copy of the example
config on the manual clock: sms and e-mail at once, voice after 2 min; steps at 0, 15 and 30 min; no
repeat. Each start of the daemon puts its clock where the test says (PAGERD_TEST_CLOCK_START): a
restart is a later instant, as it would be; the tests move time instead of sleeping.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import events, fire, incident, short_config, ts, wait_event

START = datetime(2026, 1, 7, 9, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in Amsterdam
STEP_WAIT = timedelta(minutes=15)
VOICE_AFTER = timedelta(minutes=2)
STEPS = [
    {"targets": ["oncall"], "wait": "15m"},
    {"targets": ["oncall", "person:bram"], "wait": "15m"},
    {"targets": ["oncall", "person:bram", "desk"], "wait": "15m"},
]
CLOCK_START = "PAGERD_TEST_CLOCK_START"


def start_clock_at(d: PagerdProcess, when: datetime) -> None:
    """The daemon's next start puts its manual clock at `when`."""
    d.extra_env[CLOCK_START] = when.isoformat()


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
        d = PagerdProcess(
            tmp_path / "pagerd", config=short_config(tmp_path / "pagerd.yaml", clock_start=f"${{{CLOCK_START}}}", **cfg)
        )
        start_clock_at(d, START)
        started.append(d)
        return d.start()

    yield start
    for d in started:
        d.stop()
    if started:
        print(f"--- pagerd log (tail) ---\n{started[0].log_path.read_text(errors='replace')[-4000:]}")


@pytest.mark.parametrize(
    "restart_at", [timedelta(minutes=1), timedelta(minutes=16)], ids=["back-before-due", "down-across-due"]
)
def test_kill_9_mid_escalation_next_step_on_time_nothing_twice_nothing_after_ack(daemon, restart_at):
    """restart_at: how long after the first page the killed daemon is started again; 16 min means step 0's
    call (+2 min) and step 1 (+15 min) fell due while it was down."""
    d = daemon(steps=STEPS, voice_after="2m")
    iid = fire(d, "RestartMidEscalation", "api1 answers 502")
    inc = wait_event(d, iid, "paged", channel="sms")
    first = ts(inc["response"]["current"]["first_page_at"])
    assert first == START
    step0 = events(inc, "paging")[0]["data"]["people"]

    # kill -9 while step 0's voice (due +2 min) and step 1 (due +15 min) are still ahead.
    d.advance("30s")
    d.proc.send_signal(signal.SIGKILL)
    assert d.proc.wait(5) == -signal.SIGKILL
    up = first + restart_at
    start_clock_at(d, up)
    d.start()
    assert d.now() == up
    # Time goes on to each due instant still ahead; what fell due while pagerd was down goes out at once.
    for due in (first + VOICE_AFTER, first + STEP_WAIT):
        if due > d.now():
            d.set_clock(due)
    d.advance("0s")  # (and the start's own first tick is over)

    def on_time(due: datetime) -> datetime:  # not early; late only by the restart
        return max(due, up)

    inc = incident(d, iid)
    (esc,) = events(inc, "escalated")
    assert esc["data"]["step"] == 1
    at = ts(esc["at"])
    assert at == on_time(first + STEP_WAIT), f"step 1 fired at {at}, daemon up at {up}"
    step1 = esc["data"]["people"]
    for p in step0:  # step 0's call, due while the daemon was restarting, went out on time too
        (call,) = events(inc, "paged", channel="voice", person=p)
        assert ts(call["at"]) == on_time(first + VOICE_AFTER), call
    # Step 1's SMS and e-mails went out with it; then acknowledge through the API.
    for p in step1:
        assert len(events(inc, "paged", channel="sms", person=p)) == (2 if p in step0 else 1), p
    status, body = d.api("POST", f"/api/v1/incidents/{iid}/ack", {"by": "tester"})
    assert status == 200, body
    acked_at = ts(incident(d, iid)["acknowledged_at"])
    # Step 1's calls are due VOICE_AFTER after step 1 fired: the acknowledgement comes before them.
    assert acked_at == at

    # Past step 1's calls and step 2 (+30 min): nothing more.
    d.set_clock(max(first + 2 * STEP_WAIT, at + VOICE_AFTER) + timedelta(minutes=1))
    inc = incident(d, iid)
    assert len(events(inc, "paging")) == 1 and len(events(inc, "escalated")) == 1  # no step twice, no step 2
    paged = events(inc, "paged")
    assert [e for e in paged if ts(e["at"]) > acked_at] == []
    assert all(e["data"]["status"] == "simulated" for e in paged)  # the dry-run notifier: never "sent"
    ids = [e["data"]["message_id"] for e in paged]
    assert len(ids) == len(set(ids)), f"a message paged twice: {ids}"
    expected = Counter()
    for p in step0:
        expected.update({("sms", p): 1, ("email", p): 1, ("voice", p): 1})
    for p in step1:  # their calls were due after the acknowledgement
        expected.update({("sms", p): 1, ("email", p): 1})
    assert Counter((e["data"]["channel"], e["data"]["person"]) for e in paged) == expected
    assert (inc["response"]["current"]["escalation"], inc["response"]["current"]["outcome"]) == ("stopped", "met")

    # What the notifier actually sent, across both processes: each paged message once, nothing else.
    sent = [line for line in dry_run_lines(d) if line.get("incident_id") == iid]
    assert Counter(line["message_id"] for line in sent) == Counter(str(i) for i in ids)
    # The store agrees: per step, person and channel at most one message sent; step 1's calls cancelled.
    with sqlite3.connect(f"file:{d.db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT idem_key, channel, status FROM outbox WHERE incident_id = ?", (iid,)).fetchall()
    keyed = [(key.split(":"), status) for key, _, status in rows]  # incident:generation:step:person:channel:i
    per_step = Counter((k[2], k[3], k[4]) for k, status in keyed if status == "simulated")
    assert per_step and max(per_step.values()) == 1, per_step
    assert {k[2] for k, _ in keyed} == {"0", "1"}  # step 2 never queued anything
    assert sorted(status for k, status in keyed if k[2] == "1" and k[4] == "voice") == ["cancelled"] * len(step1)


# -- heartbeats ---------------------------------------------------------------------------------------
HEARTBEAT_TIMEOUT = timedelta(minutes=5)
HEARTBEATS = {"alertmanager": {"timeout": "5m", "labels": {"customer": "agency", "alertname": "WatchdogSilent"}}}


def watchdog_payload(extra_alerts: list[dict] | None = None) -> bytes:
    watchdog = {
        "status": "firing",
        "labels": {"alertname": "Watchdog", "severity": "none", "customer": "agency"},
        "annotations": {"summary": "An alert that should always be firing"},
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": "00000000000000aa",
    }
    alerts = [watchdog] + (extra_alerts or [])
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="Watchdog"}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "pagerd",
            "groupLabels": {},
            "commonLabels": {"customer": "agency"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example:9093",
            "alerts": alerts,
        }
    ).encode()


def heartbeat_incidents(d: PagerdProcess) -> list[dict]:
    return d.incidents(source="heartbeat")


def no_watchdog_incident(d: PagerdProcess) -> None:
    assert [i for i in d.incidents() if i["labels"].get("alertname") == "Watchdog"] == []


def test_heartbeat_silence_opens_an_incident_and_a_beat_resolves_it(daemon):
    d = daemon(heartbeats=HEARTBEATS)
    assert d.request("POST", "/api/v1/heartbeat/alertmanager", b"")[0] == 401  # the webhook token is needed
    assert d.request("POST", "/api/v1/heartbeat/nosuch", b"", token=d.webhook_token)[0] == 404

    # Never checked in: waiting, not watched, however long it stays so.
    d.set_clock(START + 3 * HEARTBEAT_TIMEOUT)
    assert heartbeat_incidents(d) == []
    assert d.request("GET", "/readyz")[1]["heartbeats"]["alertmanager"]["state"] == "waiting"
    # The first check-in arms it; silence from then on past the timeout opens an incident.
    armed_at = d.now()
    assert d.request("POST", "/api/v1/heartbeat/alertmanager", b"", token=d.webhook_token)[0] == 200
    d.set_clock(armed_at + HEARTBEAT_TIMEOUT)  # silent for exactly the timeout: not yet
    assert heartbeat_incidents(d) == []
    assert d.request("GET", "/readyz")[1]["heartbeats"]["alertmanager"]["state"] == "ok"
    silent_at = d.advance("1s")
    (inc,) = heartbeat_incidents(d)
    assert ts(inc["created_at"]) == silent_at
    assert inc["state"] == "triggered" and inc["dedup_key"] == "alertmanager"
    assert inc["labels"]["alertname"] == "WatchdogSilent" and inc["labels"]["customer"] == "agency"
    wait_event(d, inc["id"], "paging", timeout=5)  # it pages, like any agency incident

    status, body = d.request("POST", "/api/v1/heartbeat/alertmanager", b"", token=d.webhook_token)
    assert status == 200, body
    d.wait_for(lambda p: incident(p, inc["id"])["state"] == "resolved", timeout=5)
    assert len(heartbeat_incidents(d)) == 1


def test_watchdog_alert_is_a_heartbeat_never_an_incident(daemon):
    d = daemon(heartbeats=HEARTBEATS)
    # A first check-in arms it, then silence: the heartbeat incident opens ...
    assert d.request("POST", "/api/v1/heartbeat/alertmanager", b"", token=d.webhook_token)[0] == 200
    d.set_clock(START + HEARTBEAT_TIMEOUT + timedelta(seconds=1))
    (inc,) = heartbeat_incidents(d)
    # ... and Alertmanager's Watchdog, through the ordinary webhook, is the check-in that resolves it.
    status, body = d.request("POST", "/api/v1/alerts/alertmanager", watchdog_payload(), token=d.webhook_token)
    assert status == 200 and body["incidents"] == [], body
    d.wait_for(lambda p: incident(p, inc["id"])["state"] == "resolved", timeout=5)
    no_watchdog_incident(d)

    # Watchdog every minute for twice the timeout: no silence incident comes back, no Watchdog incident.
    for _ in range(2 * int(HEARTBEAT_TIMEOUT / timedelta(minutes=1))):
        assert d.request("POST", "/api/v1/alerts/alertmanager", watchdog_payload(), token=d.webhook_token)[0] == 200
        d.advance("1m")
    assert [i["state"] for i in heartbeat_incidents(d)] == ["resolved"]
    no_watchdog_incident(d)

    # A Watchdog in the same notification as a real alert: the real one opens an incident, the Watchdog not.
    real = {
        "status": "firing",
        "labels": {"alertname": "RealProblem", "customer": "agency"},
        "annotations": {"summary": "a real problem"},
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": "00000000000000bb",
    }
    status, body = d.request("POST", "/api/v1/alerts/alertmanager", watchdog_payload([real]), token=d.webhook_token)
    assert status == 200 and len(body["incidents"]) == 1, body
    assert incident(d, body["incidents"][0])["labels"].get("alertname") != "Watchdog"
    no_watchdog_incident(d)
