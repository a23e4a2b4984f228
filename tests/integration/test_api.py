"""The happy paths against the real daemon: the three sources end as the right incidents and states,
the incidents API lists, shows, acknowledges, resolves and annotates them, and the CLI sees the same.

Each test gets its own daemon (the conftest `pagerd` fixture) so counts and lists are exact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

from tests.harness.pagerd import ENGINE_KINDS

ROOT = Path(__file__).resolve().parents[2]
FIRING = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())
AM = "/api/v1/alerts/alertmanager"
NG = "/api/v1/alerts/nagios"
EV = "/v2/enqueue"
INC = "/api/v1/incidents"
ZERO = "0001-01-01T00:00:00Z"


# -- helpers -----------------------------------------------------------------------------------------
def group(key: str = "{}:{alertname=\"DiskFull\"}", *statuses: str, starts: tuple[str, str] | None = None) -> dict:
    """The firing.json group under `key`, with alert i in statuses[i] (firing|resolved); top status follows AM."""
    d = json.loads(json.dumps(FIRING))
    d["groupKey"] = key
    statuses = statuses or ("firing", "firing")
    for a, st in zip(d["alerts"], statuses, strict=False):  # fewer statuses: the rest as given
        a["status"] = st
        a["endsAt"] = "2026-11-25T14:30:00.000Z" if st == "resolved" else ZERO
    if starts:
        for a, s in zip(d["alerts"], starts, strict=True):
            a["startsAt"] = s
    d["status"] = "firing" if "firing" in statuses else "resolved"
    return d


def post_am(p, payload: dict) -> dict:
    status, body = p.request("POST", AM, json.dumps(payload).encode(), token=p.webhook_token)
    assert status == 200, body
    return body  # type: ignore[return-value]


def post_ev(p, **event) -> dict:
    event.setdefault("routing_key", p.webhook_token)
    status, body = p.request("POST", EV, json.dumps(event).encode())
    assert status == 202, body
    return body  # type: ignore[return-value]


def ev_trigger(p, dedup_key: str | None, summary: str = "CPU high on db1", severity: str = "critical", **extra) -> dict:
    event = {"event_action": "trigger", "payload": {"summary": summary, "source": "db1", "severity": severity}, **extra}
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return post_ev(p, **event)


NAGIOS_SERVICE = {
    "HOSTNAME": "web01",
    "HOSTSTATE": "UP",
    "SERVICEDESC": "HTTP login",
    "SERVICEPROBLEMID": "4711",
    "NOTIFICATIONNUMBER": "1",
}


def post_ng(p, form: bool, **macros) -> dict:
    if form:
        body, ctype = urlencode(macros).encode(), "application/x-www-form-urlencoded"
    else:
        body, ctype = json.dumps(macros).encode(), "application/json"
    status, answer = p.request("POST", NG, body, token=p.webhook_token, content_type=ctype)
    assert status == 200, answer
    return answer  # type: ignore[return-value]


def show(p, iid: int) -> dict:
    status, inc = p.api("GET", f"{INC}/{iid}")
    assert status == 200, inc
    inc["timeline"] = [e for e in inc["timeline"] if e["kind"] not in ENGINE_KINDS]  # type: ignore[index]
    return inc  # type: ignore[return-value]


def only(p, **query) -> dict:
    (inc,) = p.incidents(**query)
    return inc


def kinds(inc: dict) -> list[str]:
    return [e["kind"] for e in inc["timeline"] if e["kind"] not in ENGINE_KINDS]


def last(inc: dict) -> dict:
    """The newest timeline entry that is not the paging engine's."""
    return [e for e in inc["timeline"] if e["kind"] not in ENGINE_KINDS][-1]


def db_rows(p, table: str) -> int:
    con = sqlite3.connect(p.db_path, timeout=10)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


# -- list, show ----------------------------------------------------------------------------------------
def test_list_filters_state_source_since_limit(pagerd):
    t0 = datetime.now(timezone.utc) - timedelta(seconds=1)
    am_id = post_am(pagerd, group("{}:{alertname=\"A\"}"))["incidents"][0]
    post_ng(pagerd, True, NOTIFICATIONTYPE="PROBLEM", SERVICESTATE="CRITICAL", **NAGIOS_SERVICE)
    ev_trigger(pagerd, "ev/one")
    ev_trigger(pagerd, "ev/two")
    ids = {i["dedup_key"]: i["id"] for i in pagerd.incidents()}
    assert pagerd.api("POST", f"{INC}/{ids['ev/one']}/ack", {"by": "anna"})[0] == 200
    assert pagerd.api("POST", f"{INC}/{ids['ev/two']}/resolve", {"by": "bram"})[0] == 200

    everything = pagerd.incidents()
    assert [i["id"] for i in everything] == sorted(ids.values(), reverse=True), "newest first"
    for inc in everything:
        assert {"id", "state", "source", "dedup_key", "summary", "alert_count", "created_at", "resolved_at"} <= set(
            inc
        ), inc
    assert {i["source"] for i in everything} == {"alertmanager", "nagios", "events_v2"}

    assert [i["id"] for i in pagerd.incidents(state="triggered")] == sorted(
        [am_id, ids["web01/HTTP login"]], reverse=True
    )
    assert [i["dedup_key"] for i in pagerd.incidents(state="acknowledged")] == ["ev/one"]
    resolved = pagerd.incidents(state="resolved")
    assert [i["dedup_key"] for i in resolved] == ["ev/two"] and resolved[0]["resolved_at"]
    assert [i["dedup_key"] for i in pagerd.incidents(source="events_v2")] == ["ev/two", "ev/one"]
    assert [i["dedup_key"] for i in pagerd.incidents(source="nagios")] == ["web01/HTTP login"]
    assert pagerd.incidents(source="heartbeat") == []
    assert [i["dedup_key"] for i in pagerd.incidents(source="events_v2", state="acknowledged")] == ["ev/one"]

    assert len(pagerd.incidents(since=t0.strftime("%Y-%m-%dT%H:%M:%SZ"))) == 4
    assert len(pagerd.incidents(since=quote(t0.isoformat()))) == 4  # +00:00 offset, %-encoded
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pagerd.incidents(since=later) == []
    assert pagerd.incidents(since=quote("2999-01-01T00:00:00+02:00")) == []

    assert [i["dedup_key"] for i in pagerd.incidents(limit="1")] == ["ev/two"]
    assert len(pagerd.incidents(limit="3")) == 3
    assert len(pagerd.incidents(limit="1000")) == 4


def test_show_has_alerts_and_timeline(pagerd):
    answer = post_am(pagerd, group())
    assert answer == {"status": "ok", "alerts": 2, "duplicates": 0, "incidents": [answer["incidents"][0]]}
    inc = show(pagerd, answer["incidents"][0])
    assert inc["state"] == "triggered" and inc["source"] == "alertmanager"
    assert inc["dedup_key"] == FIRING["groupKey"]
    assert inc["alert_count"] == 2 and inc["reopen_count"] == 0
    assert inc["summary"] == "Disk almost full on web1"
    assert [a["fingerprint"] for a in inc["alerts"]] == ["5c1a2b3c4d5e6f70", "6d2b3c4d5e6f7081"]
    assert [a["status"] for a in inc["alerts"]] == ["firing", "firing"]
    a0 = inc["alerts"][0]
    assert a0["labels"]["instance"] == "web1:9100"
    assert a0["annotations"]["description"] == "/var is 97% full"
    assert a0["starts_at"].startswith("2026-11-25T14:00:00") and a0["ends_at"] is None
    assert kinds(inc) == ["opened", "alerts_received"]
    assert inc["timeline"][0]["data"]["group_key"] == FIRING["groupKey"]
    assert inc["timeline"][1]["data"]["firing"] == 2


# -- ack, resolve, notes -----------------------------------------------------------------------------
def test_ack_then_resolve_with_actor_and_comment(pagerd):
    iid = post_am(pagerd, group())["incidents"][0]
    status, inc = pagerd.api("POST", f"{INC}/{iid}/ack", {"by": "anna", "comment": "looking"})
    assert status == 200, inc
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == "anna" and inc["acknowledged_at"]
    ack = last(inc)
    assert ack["kind"] == "acknowledged" and ack["actor"] == "anna"
    assert ack["data"] == {"via": "api", "comment": "looking"}
    assert only(pagerd)["state"] == "acknowledged"

    status, inc = pagerd.api("POST", f"{INC}/{iid}/resolve", {"by": "bram", "comment": "disk cleaned"})
    assert status == 200, inc
    assert inc["state"] == "resolved" and inc["resolved_by"] == "bram" and inc["resolved_at"]
    assert last(inc)["kind"] == "resolved" and last(inc)["actor"] == "bram"
    assert kinds(inc) == ["opened", "alerts_received", "acknowledged", "resolved"]
    # a resolved incident cannot be acknowledged; resolving it again changes nothing
    status, body = pagerd.api("POST", f"{INC}/{iid}/ack", {"by": "anna"})
    assert status == 409, body
    status, again = pagerd.api("POST", f"{INC}/{iid}/resolve", {"by": "chris"})
    assert status == 200 and again["resolved_by"] == "bram", again
    assert len([e for e in again["timeline"] if e["kind"] not in ENGINE_KINDS]) == 4, again


def test_ack_without_body_defaults_actor_to_api(pagerd):
    iid = post_am(pagerd, group())["incidents"][0]
    status, inc = pagerd.api("POST", f"{INC}/{iid}/ack")
    assert status == 200, inc
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == "api"
    assert last(inc)["actor"] == "api"


def test_ack_is_idempotent(pagerd):
    iid = post_am(pagerd, group())["incidents"][0]
    status, first = pagerd.api("POST", f"{INC}/{iid}/ack", {"by": "anna"})
    assert status == 200, first
    for by in ("anna", "bram"):
        status, again = pagerd.api("POST", f"{INC}/{iid}/ack", {"by": by})
        assert status == 200, again
        assert again["state"] == "acknowledged"
        assert again["acknowledged_by"] == "anna" and again["acknowledged_at"] == first["acknowledged_at"]
        assert again["timeline"] == first["timeline"]


def test_resolve_straight_from_triggered(pagerd):
    ev_trigger(pagerd, "ev/direct")
    iid = only(pagerd)["id"]
    status, inc = pagerd.api("POST", f"{INC}/{iid}/resolve", {})
    assert status == 200 and inc["state"] == "resolved" and inc["acknowledged_at"] is None, inc


def test_notes(pagerd):
    iid = post_am(pagerd, group())["incidents"][0]
    status, inc = pagerd.api("POST", f"{INC}/{iid}/notes", {"text": "Rebooted web1.\nWatching.", "by": "chris"})
    assert status == 201, inc
    note = last(inc)
    assert note["kind"] == "note" and note["actor"] == "chris"
    assert note["data"]["text"] == "Rebooted web1.\nWatching."
    assert inc["state"] == "triggered"
    status, inc = pagerd.api("POST", f"{INC}/{iid}/notes", {"text": "ünïcode ✓"})
    assert status == 201 and last(inc)["actor"] == "api", inc
    assert last(inc)["data"]["text"] == "ünïcode ✓"
    assert kinds(show(pagerd, iid)) == ["opened", "alerts_received", "note", "note"]
    # a note on a resolved incident is still kept
    assert pagerd.api("POST", f"{INC}/{iid}/resolve", {})[0] == 200
    status, inc = pagerd.api("POST", f"{INC}/{iid}/notes", {"text": "post-mortem on Monday"})
    assert status == 201 and inc["state"] == "resolved" and kinds(inc)[-1] == "note", inc


# -- Events v2 ---------------------------------------------------------------------------------------
def test_events_v2_answer_shape_and_lifecycle(pagerd):
    body = ev_trigger(pagerd, "db1/cpu", links=[{"href": "https://grafana.example/d/1", "text": "dash"}])
    assert body == {"status": "success", "message": "Event processed", "dedup_key": "db1/cpu"}
    inc = only(pagerd)
    assert inc["source"] == "events_v2" and inc["dedup_key"] == "db1/cpu" and inc["state"] == "triggered"
    assert inc["summary"] == "CPU high on db1" and inc["alert_count"] == 1
    alert = show(pagerd, inc["id"])["alerts"][0]
    assert alert["details"]["links"] == [{"href": "https://grafana.example/d/1", "text": "dash"}]

    assert post_ev(pagerd, event_action="acknowledge", dedup_key="db1/cpu") == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db1/cpu",
    }
    assert only(pagerd)["state"] == "acknowledged"
    assert post_ev(pagerd, event_action="resolve", dedup_key="db1/cpu") == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db1/cpu",
    }
    inc = show(pagerd, inc["id"])
    assert inc["state"] == "resolved" and inc["resolved_by"] == "events_v2"
    assert [a["status"] for a in inc["alerts"]] == ["resolved"]


def test_events_v2_resolve_keeps_what_the_trigger_said(pagerd):
    """A resolve event carries only the key: it must not blank the alert's summary, severity and links."""
    ev_trigger(
        pagerd, "db1/mem", summary="memory 95%", severity="warning", links=[{"href": "https://grafana.example/d/2"}]
    )
    iid = only(pagerd)["id"]
    triggered = show(pagerd, iid)["alerts"][0]
    post_ev(pagerd, event_action="resolve", dedup_key="db1/mem")
    resolved = show(pagerd, iid)["alerts"][0]
    assert resolved["status"] == "resolved"
    assert resolved["summary"] == triggered["summary"] == "memory 95%"
    assert resolved["severity"] == triggered["severity"] == "warning"
    assert resolved["details"].get("links") == [{"href": "https://grafana.example/d/2", "text": ""}]
    assert show(pagerd, iid)["summary"] == "memory 95%"


def test_events_v2_trigger_without_dedup_key_gets_one(pagerd):
    body = ev_trigger(pagerd, None)
    assert set(body) == {"status", "message", "dedup_key"}
    assert body["status"] == "success" and body["message"] == "Event processed"
    assert isinstance(body["dedup_key"], str) and body["dedup_key"]
    assert only(pagerd)["dedup_key"] == body["dedup_key"]
    # the same event again names the same key: one incident
    assert ev_trigger(pagerd, None)["dedup_key"] == body["dedup_key"]
    assert len(pagerd.incidents()) == 1


def test_events_v2_repeat_trigger_appends_and_redelivery_changes_nothing(pagerd):
    ev_trigger(pagerd, "db1/disk", summary="disk 90%")
    before = only(pagerd)
    ev_trigger(pagerd, "db1/disk", summary="disk 90%")  # the identical event: a re-delivery
    inc = only(pagerd)
    assert inc["alert_count"] == before["alert_count"] == 1
    assert len(show(pagerd, inc["id"])["timeline"]) == 2


def test_events_v2_retrigger_after_resolve_reopens_even_if_identical(pagerd):
    """Trigger, resolve, and the very same trigger again (a flapping check within minutes, as Zabbix or
    Grafana send it): PagerDuty opens the incident again; pagerd must reopen, not swallow it."""
    ev_trigger(pagerd, "db1/flap", summary="replication lag")
    post_ev(pagerd, event_action="resolve", dedup_key="db1/flap")
    assert only(pagerd)["state"] == "resolved"
    ev_trigger(pagerd, "db1/flap", summary="replication lag")
    inc = only(pagerd)
    assert inc["state"] == "triggered", inc
    assert inc["reopen_count"] == 1


# -- Alertmanager groups ---------------------------------------------------------------------------
def test_grouped_firing_partly_resolved_resolved(pagerd):
    key = "{}:{alertname=\"DiskFull\"}"
    iid = post_am(pagerd, group(key, "firing", "firing"))["incidents"][0]
    inc = show(pagerd, iid)
    assert inc["state"] == "triggered" and inc["alert_count"] == 2

    # web1 resolves; the group stays firing (top-level status firing)
    answer = post_am(pagerd, group(key, "resolved", "firing"))
    assert answer["incidents"] == [iid] and answer["duplicates"] == 1
    inc = show(pagerd, iid)
    assert inc["state"] == "triggered" and inc["alert_count"] == 2
    assert [(a["fingerprint"], a["status"]) for a in inc["alerts"]] == [
        ("5c1a2b3c4d5e6f70", "resolved"),
        ("6d2b3c4d5e6f7081", "firing"),
    ]
    assert inc["alerts"][0]["ends_at"].startswith("2026-11-25T14:30:00")

    # the next group_interval: the resolved alert is dropped, web2 still fires: nothing changes
    only_web2 = group(key, "firing")
    only_web2["alerts"] = only_web2["alerts"][1:]
    assert post_am(pagerd, only_web2)["duplicates"] == 1
    assert show(pagerd, iid)["state"] == "triggered"

    # everything resolved: the incident resolves
    post_am(pagerd, group(key, "resolved", "resolved"))
    inc = show(pagerd, iid)
    assert inc["state"] == "resolved" and inc["resolved_by"] == "alertmanager" and inc["resolved_at"]
    assert [a["status"] for a in inc["alerts"]] == ["resolved", "resolved"]
    assert kinds(inc) == ["opened", "alerts_received", "alerts_received", "alerts_received", "resolved"]
    assert len(pagerd.incidents()) == 1


def test_acknowledged_group_resolves_when_alerts_resolve(pagerd):
    iid = post_am(pagerd, group())["incidents"][0]
    assert pagerd.api("POST", f"{INC}/{iid}/ack", {"by": "dewi"})[0] == 200
    post_am(pagerd, group(FIRING["groupKey"], "resolved", "resolved"))
    inc = show(pagerd, iid)
    assert inc["state"] == "resolved" and inc["acknowledged_by"] == "dewi"


def test_two_groups_are_two_incidents(pagerd):
    a = post_am(pagerd, group("{}:{alertname=\"DiskFull\",team=\"a\"}"))["incidents"]
    b = post_am(pagerd, group("{}:{alertname=\"DiskFull\",team=\"b\"}"))["incidents"]
    assert a != b
    assert sorted(i["dedup_key"] for i in pagerd.incidents()) == [
        "{}:{alertname=\"DiskFull\",team=\"a\"}",
        "{}:{alertname=\"DiskFull\",team=\"b\"}",
    ]


def test_redelivered_identical_webhook_changes_nothing(pagerd):
    payload = group()
    first = post_am(pagerd, payload)
    iid = first["incidents"][0]
    before = show(pagerd, iid)
    deliveries = db_rows(pagerd, "deliveries")
    for _ in range(3):  # Alertmanager retries, repeat_interval re-sends, a clustered peer sends it too
        again = post_am(pagerd, payload)
        assert again["duplicates"] == 2 and again["alerts"] == 2
    after = show(pagerd, iid)
    assert after["alert_count"] == before["alert_count"] == 2
    assert after["timeline"] == before["timeline"]
    assert after["alerts"] == before["alerts"]
    assert after["state"] == "triggered" and after["updated_at"] == before["updated_at"]
    assert db_rows(pagerd, "deliveries") == deliveries  # the raw body is kept once (seen_count counts)
    assert db_rows(pagerd, "alerts") == 2
    # the same JSON re-serialized differently (key order, spacing) is still the same notification
    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=2).encode()
    status, body = pagerd.request("POST", AM, reordered, token=pagerd.webhook_token)
    assert status == 200 and body["duplicates"] == 2, body
    assert show(pagerd, iid)["timeline"] == before["timeline"]


def test_redelivered_resolve_after_manual_resolve_changes_nothing(pagerd):
    iid = post_am(pagerd, group())["incidents"][0]
    resolved = group(FIRING["groupKey"], "resolved", "resolved")
    post_am(pagerd, resolved)
    before = show(pagerd, iid)
    assert before["state"] == "resolved"
    post_am(pagerd, resolved)
    post_am(pagerd, group())  # the old firing notification re-sent late: a duplicate, no reopen
    after = show(pagerd, iid)
    assert after["timeline"] == before["timeline"] and after["reopen_count"] == 0 and after["state"] == "resolved"
    assert len(pagerd.incidents()) == 1


def test_reopen_window(pagerd):
    key = "{}:{alertname=\"DiskFull\"}"
    iid = post_am(pagerd, group(key))["incidents"][0]
    post_am(pagerd, group(key, "resolved", "resolved"))
    assert show(pagerd, iid)["state"] == "resolved"

    # web1 fires again (a new startsAt) within incidents.reopen_window (1h): the same incident
    again = group(key, "firing", starts=("2026-11-25T15:00:00.000Z", "2026-11-25T14:00:30.000Z"))
    again["alerts"] = again["alerts"][:1]
    assert post_am(pagerd, again)["incidents"] == [iid]
    inc = show(pagerd, iid)
    assert inc["state"] == "triggered" and inc["reopen_count"] == 1
    assert inc["resolved_at"] is None and inc["resolved_by"] is None
    assert "reopened" in kinds(inc)
    assert [a["status"] for a in inc["alerts"]] == ["firing", "resolved"]
    assert len(pagerd.incidents()) == 1


def test_reopen_window_after_manual_resolve(pagerd):
    iid = post_am(pagerd, group())["incidents"][0]
    assert pagerd.api("POST", f"{INC}/{iid}/resolve", {"by": "eva"})[0] == 200
    renewed = group(FIRING["groupKey"], starts=("2026-11-25T16:00:00.000Z", "2026-11-25T16:00:00.000Z"))
    assert post_am(pagerd, renewed)["incidents"] == [iid]
    inc = only(pagerd)
    assert inc["id"] == iid and inc["state"] == "triggered" and inc["reopen_count"] == 1


# -- Nagios -------------------------------------------------------------------------------------------
def _nagios_lifecycle(pagerd, form: bool) -> None:
    post_ng(
        pagerd,
        form,
        NOTIFICATIONTYPE="PROBLEM",
        SERVICESTATE="CRITICAL",
        SERVICEOUTPUT="HTTP CRITICAL - 500|time=0.1s",
        TIMET="1764079200",
        **NAGIOS_SERVICE,
    )
    inc = only(pagerd, source="nagios")
    assert inc["dedup_key"] == "web01/HTTP login" and inc["state"] == "triggered"
    assert inc["summary"] == "HTTP login on web01 is CRITICAL: HTTP CRITICAL - 500"
    assert inc["labels"] == {"host": "web01", "service": "HTTP login", "state": "CRITICAL"}

    post_ng(
        pagerd,
        form,
        NOTIFICATIONTYPE="DOWNTIMESTART",
        SERVICESTATE="CRITICAL",
        TIMET="1764079260",
        NOTIFICATIONAUTHOR="anna",
        NOTIFICATIONCOMMENT="planned maintenance",
        **NAGIOS_SERVICE,
    )
    inc = show(pagerd, inc["id"])
    assert inc["state"] == "triggered", "DOWNTIMESTART must not change the state"
    note = last(inc)
    assert note["kind"] == "note" and note["data"]["kind"] == "downtime_start"
    assert note["actor"] == "anna" and note["data"]["text"] == "planned maintenance"

    post_ng(
        pagerd,
        form,
        NOTIFICATIONTYPE="ACKNOWLEDGEMENT",
        SERVICESTATE="CRITICAL",
        TIMET="1764079320",
        NOTIFICATIONAUTHOR="bram",
        NOTIFICATIONCOMMENT="on it",
        **NAGIOS_SERVICE,
    )
    inc = show(pagerd, inc["id"])
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == "bram"
    ack = last(inc)
    assert ack["kind"] == "acknowledged" and ack["actor"] == "bram" and ack["data"]["comment"] == "on it"

    post_ng(pagerd, form, NOTIFICATIONTYPE="DOWNTIMEEND", SERVICESTATE="CRITICAL", TIMET="1764079380", **NAGIOS_SERVICE)
    assert show(pagerd, inc["id"])["state"] == "acknowledged"

    recovery = dict(NAGIOS_SERVICE, NOTIFICATIONNUMBER="2")
    post_ng(
        pagerd,
        form,
        NOTIFICATIONTYPE="RECOVERY",
        SERVICESTATE="OK",
        SERVICEOUTPUT="HTTP OK",
        TIMET="1764079440",
        **recovery,
    )
    inc = show(pagerd, inc["id"])
    assert inc["state"] == "resolved" and inc["resolved_by"] == "nagios"
    assert kinds(inc) == ["opened", "alerts_received", "note", "acknowledged", "note", "alerts_received", "resolved"]
    assert len(pagerd.incidents(source="nagios")) == 1


def test_nagios_problem_ack_recovery_json(pagerd):
    _nagios_lifecycle(pagerd, form=False)


def test_nagios_problem_ack_recovery_form(pagerd):
    _nagios_lifecycle(pagerd, form=True)


def test_nagios_host_problem_and_recovery_with_last_problem_id(pagerd):
    host = {"HOSTNAME": "db02", "HOSTOUTPUT": "PING CRITICAL - Packet loss = 100%"}
    post_ng(
        pagerd,
        True,
        NOTIFICATIONTYPE="PROBLEM",
        HOSTSTATE="DOWN",
        HOSTPROBLEMID="900",
        NOTIFICATIONNUMBER="1",
        TIMET="1764079200",
        **host,
    )
    inc = only(pagerd)
    assert inc["dedup_key"] == "db02" and inc["state"] == "triggered"
    assert inc["summary"].startswith("host db02 is DOWN")
    post_ng(
        pagerd,
        True,
        NOTIFICATIONTYPE="RECOVERY",
        HOSTSTATE="UP",
        HOSTPROBLEMID="0",
        LASTHOSTPROBLEMID="900",
        NOTIFICATIONNUMBER="2",
        TIMET="1764079300",
        **dict(host, HOSTOUTPUT="PING OK"),
    )
    inc = show(pagerd, inc["id"])
    assert inc["state"] == "resolved"
    assert inc["alerts"][0]["details"]["problem_id"] == "900"


def test_nagios_redelivered_notification_changes_nothing(pagerd):
    macros = dict(NAGIOS_SERVICE, NOTIFICATIONTYPE="PROBLEM", SERVICESTATE="CRITICAL", TIMET="1764079200")
    first = post_ng(pagerd, True, **macros)
    before = show(pagerd, first["incidents"][0])
    again = post_ng(pagerd, True, **macros)  # the notify script's spool retried it
    assert again["duplicates"] == 1
    after = show(pagerd, before["id"])
    assert after["timeline"] == before["timeline"] and after["alert_count"] == 1
    # JSON of the same macros is another delivery of the same notification: still a duplicate
    assert post_ng(pagerd, False, **macros)["duplicates"] == 1
    assert show(pagerd, before["id"])["timeline"] == before["timeline"]


def test_nagios_downtime_without_open_incident_changes_nothing(pagerd):
    post_ng(pagerd, True, NOTIFICATIONTYPE="DOWNTIMESTART", SERVICESTATE="OK", **NAGIOS_SERVICE)
    assert pagerd.incidents() == []


# -- the CLI on the daemon's database -----------------------------------------------------------------
def _cli(pagerd, *args: str) -> subprocess.CompletedProcess:
    env = pagerd.env()
    return subprocess.run(
        [sys.executable, "-m", "pager", *args, "-c", "config/pagerd.example.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_list_show_ack_resolve(pagerd):
    assert os.path.exists(ROOT / ".venv" / "bin" / "python")
    iid = post_am(pagerd, group())["incidents"][0]
    ev_trigger(pagerd, "cli/ev")

    run = _cli(pagerd, "incidents", "list", "--json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert {r["id"] for r in rows} == {i["id"] for i in pagerd.incidents()}
    assert {r["dedup_key"] for r in rows} == {FIRING["groupKey"], "cli/ev"}

    run = _cli(pagerd, "incidents", "list", "--json", "--source", "events_v2")
    assert run.returncode == 0 and [r["dedup_key"] for r in json.loads(run.stdout)] == ["cli/ev"], run.stderr

    run = _cli(pagerd, "incidents", "list")
    assert run.returncode == 0 and "Disk almost full on web1" in run.stdout, run.stderr

    run = _cli(pagerd, "incidents", "ack", str(iid), "--by", "dewi", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["state"] == "acknowledged"
    inc = show(pagerd, iid)  # the running daemon sees the CLI's write
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == "dewi"
    assert last(inc)["data"]["via"] == "cli"

    run = _cli(pagerd, "incidents", "show", str(iid))
    assert run.returncode == 0 and "acknowledged" in run.stdout, run.stderr

    run = _cli(pagerd, "incidents", "resolve", str(iid), "--by", "dewi")
    assert run.returncode == 0, run.stderr
    assert show(pagerd, iid)["state"] == "resolved"

    run = _cli(pagerd, "incidents", "ack", str(iid))
    assert run.returncode != 0 and "resolved" in run.stderr, (run.stdout, run.stderr)
    run = _cli(pagerd, "incidents", "ack", "999999")
    assert run.returncode != 0 and "not found" in run.stderr, (run.stdout, run.stderr)

    # the daemon keeps ingesting after the CLI wrote to its database
    post_am(pagerd, group("{}:{alertname=\"AfterCli\"}"))
    assert len(pagerd.incidents()) == 3
