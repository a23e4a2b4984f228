"""Bad input on every endpoint of the real daemon: a clear 4xx each, nothing stored, still serving.

One daemon for the whole module. Every row is one literal case: method, path, credentials,
Content-Type, body, the exact status, and the field the JSON error body must name (None where
no field applies, e.g. credentials). After each request the test checks that the database is
byte-for-byte unchanged where it matters (row counts of every table and each incident's state,
alert_count, reopen_count and updated_at, read with sqlite3 from `db_path`) and that `/healthz`
still answers 200.

Builders (`am`, `ev`, `ng_json`, `ng_form`) start from a real, valid payload and apply exactly the
change the row names, so each row reads as "the valid payload, except ...".
"""

from __future__ import annotations

import base64
import http.client
import json
import sqlite3
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.harness.pagerd import ENGINE_KINDS, PagerdProcess

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
FIRING = (TESTDATA / "alertmanager" / "firing.json").read_bytes()
HOOK_TOKEN = "test-webhook-token"
ADMIN_TOKEN = "test-admin-token"
MAX_BODY = 1_048_576  # server.max_body_bytes in config/pagerd.example.yaml

AM = "/api/v1/alerts/alertmanager"
NG = "/api/v1/alerts/nagios"
EV = "/v2/enqueue"
INC = "/api/v1/incidents"

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
HOOK = "Bearer " + HOOK_TOKEN
ADMIN = "Bearer " + ADMIN_TOKEN


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- payload builders: the real payload, except what the row says ----------------------------------
DROP = object()  # delete the key
KEEP = object()  # leave as it is


def _apply(d: dict, changes: dict) -> None:
    for k, v in changes.items():
        if v is DROP:
            d.pop(k, None)
        else:
            d[k] = v


def am(*, alert0: dict | None = None, labels0: dict | None = None, raw: bool = False, **top) -> bytes:
    """tests/testdata/alertmanager/firing.json with top-level keys, alerts[0] keys or alerts[0].labels changed."""
    d = json.loads(FIRING)
    _apply(d, top)
    if alert0:
        _apply(d["alerts"][0], alert0)
    if labels0:
        _apply(d["alerts"][0]["labels"], labels0)
    return json.dumps(d, ensure_ascii=not raw).encode()


EV_TRIGGER = {
    "routing_key": HOOK_TOKEN,
    "event_action": "trigger",
    "dedup_key": "bad-input/ev",
    "payload": {
        "summary": "CPU high on db1",
        "source": "db1",
        "severity": "critical",
        "component": "postgres",
        "group": "prod",
        "class": "cpu",
    },
}


def ev(*, payload: object = KEEP, **top) -> bytes:
    """EV_TRIGGER with top-level keys changed; `payload` a dict merges into the payload, else replaces it."""
    d = json.loads(json.dumps(EV_TRIGGER))
    _apply(d, top)
    if isinstance(payload, dict):
        _apply(d["payload"], payload)
    elif payload is not KEEP:
        _apply(d, {"payload": payload})
    return json.dumps(d).encode()


NG_PROBLEM = {
    "NOTIFICATIONTYPE": "PROBLEM",
    "HOSTNAME": "web01",
    "HOSTSTATE": "UP",
    "SERVICEDESC": "HTTP login",
    "SERVICESTATE": "CRITICAL",
    "SERVICEOUTPUT": "HTTP CRITICAL - 500 Internal Server Error",
    "SERVICEPROBLEMID": "4711",
    "NOTIFICATIONNUMBER": "1",
    "TIMET": "1764079200",
}


def _macros(changes: dict) -> dict:
    d = dict(NG_PROBLEM)
    _apply(d, changes)
    return d


def ng_json(**changes) -> bytes:
    return json.dumps(_macros(changes)).encode()


def ng_form(**changes) -> bytes:
    return urlencode(_macros(changes)).encode()


def padded(body: bytes, size: int) -> bytes:
    """`body` followed by JSON whitespace up to exactly `size` bytes: valid JSON, only too big."""
    assert len(body) <= size
    return body + b" " * (size - len(body))


class Chunked(bytes):
    """A body sent with Transfer-Encoding: chunked (no Content-Length)."""


# -- plumbing ---------------------------------------------------------------------------------------
def send(
    p: PagerdProcess,
    method: str,
    path: str,
    *,
    auth: str | None = None,
    ctype: str | None = None,
    body: bytes | None = None,
    headers: dict | None = None,
) -> tuple[int, dict, object]:
    """One raw HTTP request with full control of the headers; returns (status, headers, JSON or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=15)
    hdrs = dict(headers or {})
    if auth is not None:
        hdrs["Authorization"] = auth
    if ctype is not None:
        hdrs["Content-Type"] = ctype
    try:
        try:
            if isinstance(body, Chunked):
                conn.putrequest(method, path)
                for k, v in hdrs.items():
                    conn.putheader(k, v)
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                for i in range(0, len(body), 65536):
                    chunk = bytes(body[i : i + 65536])
                    conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                conn.send(b"0\r\n\r\n")
            else:
                conn.request(method, path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before it has read the whole body
        resp = conn.getresponse()
        raw = resp.read()
        rheaders = {k.lower(): v for k, v in resp.getheaders()}
        try:
            parsed: object = json.loads(raw)
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return resp.status, rheaders, parsed
    finally:
        conn.close()


TABLES = ("deliveries", "incidents", "alerts", "alert_events")


def db_state(p: PagerdProcess) -> dict:
    """Row counts of every table and what each incident looks like: 'nothing stored' compares these."""
    con = sqlite3.connect(p.db_path, timeout=10)
    try:
        state = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        state["events"] = con.execute(f"SELECT count(*) FROM events WHERE kind NOT IN {ENGINE_KINDS}").fetchone()[0]
        state["incident_rows"] = con.execute(
            "SELECT id, state, alert_count, reopen_count, updated_at FROM incidents ORDER BY id"
        ).fetchall()
        state["seen_counts"] = con.execute("SELECT id, seen_count FROM deliveries ORDER BY id").fetchall()
        return state
    finally:
        con.close()


def assert_serving(p: PagerdProcess) -> None:
    status, _, body = send(p, "GET", "/healthz")
    assert status == 200, (status, body)
    assert p.proc is not None and p.proc.poll() is None, "the daemon exited"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """One real pagerd for the module, seeded with an open and a resolved incident."""
    p = PagerdProcess(workdir=tmp_path_factory.mktemp("pagerd-bad-input")).start()
    status, _, body = send(p, "POST", AM, auth=HOOK, ctype=JSON, body=am(groupKey="{}:{seed=\"open\"}"))
    assert status == 200, body
    status, _, body = send(p, "POST", EV, ctype=JSON, body=ev(dedup_key="seed/resolved"))
    assert status == 202, body
    ids = {i["dedup_key"]: i["id"] for i in p.incidents()}
    status, body = p.api("POST", f"{INC}/{ids['seed/resolved']}/resolve", {"by": "seed"})
    assert status == 200 and body["state"] == "resolved", body
    p.seed = {"open": ids['{}:{seed="open"}'], "resolved": ids["seed/resolved"]}  # type: ignore[attr-defined]
    yield p
    p.stop()
    print(f"--- pagerd log (tail) ---\n{p.log_path.read_text(errors='replace')[-3000:]}")


# -- the table --------------------------------------------------------------------------------------
# (method, path, Authorization, Content-Type, body, status, field the error must name or None)
# `{open}` / `{resolved}` in a path are the seeded incidents' ids.
CASES = [
    # ---------------- Alertmanager: POST /api/v1/alerts/alertmanager ----------------
    # credentials
    pytest.param("POST", AM, None, JSON, am(), 401, None, id="am-no-credentials"),
    pytest.param("POST", AM, "Bearer wrong-token", JSON, am(), 401, None, id="am-wrong-token"),
    pytest.param("POST", AM, ADMIN, JSON, am(), 401, None, id="am-admin-token-is-not-webhook-token"),
    pytest.param("POST", AM, "Bearer", JSON, am(), 401, None, id="am-bearer-without-token"),
    pytest.param("POST", AM, "Token " + HOOK_TOKEN, JSON, am(), 401, None, id="am-wrong-scheme"),
    pytest.param("POST", AM, HOOK_TOKEN, JSON, am(), 401, None, id="am-token-without-scheme"),
    pytest.param("POST", AM, basic("alertmanager", "wrong"), JSON, am(), 401, None, id="am-basic-wrong-password"),
    pytest.param("POST", AM, basic("alertmanager", HOOK_TOKEN), JSON, am(), 401, None, id="am-basic-not-configured"),
    pytest.param("POST", AM, "Basic !!!not-base64!!!", JSON, am(), 401, None, id="am-basic-garbage"),
    pytest.param("POST", AM, "Bearer " + HOOK_TOKEN + "x", JSON, am(), 401, None, id="am-token-prefix-match"),
    pytest.param("POST", AM, "Bearer " + HOOK_TOKEN[:-1], JSON, am(), 401, None, id="am-token-truncated"),
    # content type
    pytest.param("POST", AM, HOOK, None, am(), 415, None, id="am-no-content-type"),
    pytest.param("POST", AM, HOOK, "text/plain", am(), 415, None, id="am-text-plain"),
    pytest.param("POST", AM, HOOK, FORM, am(), 415, None, id="am-form-content-type"),
    pytest.param("POST", AM, HOOK, "application/jsonx", am(), 415, None, id="am-content-type-lookalike"),
    # empty, malformed
    pytest.param("POST", AM, HOOK, JSON, b"", 400, None, id="am-empty-body"),
    pytest.param("POST", AM, HOOK, JSON, b"   \n", 400, "body", id="am-whitespace-body"),
    pytest.param("POST", AM, HOOK, JSON, b'{"version": "4", "groupKey": ', 400, "body", id="am-truncated-json"),
    pytest.param("POST", AM, HOOK, JSON, b"{'version': '4'}", 400, "body", id="am-single-quotes"),
    pytest.param("POST", AM, HOOK, JSON, FIRING.rstrip()[:-1] + b",}", 400, "body", id="am-trailing-comma"),
    pytest.param("POST", AM, HOOK, JSON, b"\xff\xfe{}", 400, "body", id="am-invalid-utf8"),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        FIRING.replace(b"web1:9100", b"web1\xc3:9100"),
        400,
        "body",
        id="am-invalid-utf8-in-label-value",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        FIRING.replace(b"web1:9100", b"web1\xed\xa0\x80:9100"),
        400,
        "body",
        id="am-utf8-encoded-surrogate-bytes",
    ),
    # not an object
    pytest.param("POST", AM, HOOK, JSON, b"[]", 422, "body", id="am-json-array"),
    pytest.param("POST", AM, HOOK, JSON, b"null", 422, "body", id="am-json-null"),
    pytest.param("POST", AM, HOOK, JSON, b'"firing"', 422, "body", id="am-json-string"),
    # missing required fields
    pytest.param("POST", AM, HOOK, JSON, am(version=DROP), 422, "version", id="am-missing-version"),
    pytest.param("POST", AM, HOOK, JSON, am(groupKey=DROP), 422, "groupKey", id="am-missing-groupKey"),
    pytest.param("POST", AM, HOOK, JSON, am(status=DROP), 422, "status", id="am-missing-status"),
    pytest.param("POST", AM, HOOK, JSON, am(receiver=DROP), 422, "receiver", id="am-missing-receiver"),
    pytest.param("POST", AM, HOOK, JSON, am(alerts=DROP), 422, "alerts", id="am-missing-alerts"),
    pytest.param(
        "POST", AM, HOOK, JSON, am(alert0={"labels": DROP}), 422, "alerts.0.labels", id="am-alert-missing-labels"
    ),
    pytest.param(
        "POST", AM, HOOK, JSON, am(alert0={"status": DROP}), 422, "alerts.0.status", id="am-alert-missing-status"
    ),
    pytest.param(
        "POST", AM, HOOK, JSON, am(alert0={"startsAt": DROP}), 422, "alerts.0.startsAt", id="am-alert-missing-startsAt"
    ),
    pytest.param("POST", AM, HOOK, JSON, b"{}", 422, "version", id="am-empty-object"),
    # extra / unknown fields (sources.alertmanager.strict: true)
    pytest.param("POST", AM, HOOK, JSON, am(unknownField="x"), 422, "unknownField", id="am-unknown-top-field"),
    pytest.param(
        "POST", AM, HOOK, JSON, am(alert0={"silenced": True}), 422, "alerts.0.silenced", id="am-unknown-alert-field"
    ),
    # wrong version
    pytest.param("POST", AM, HOOK, JSON, am(version="3"), 422, "version", id="am-version-3"),
    pytest.param("POST", AM, HOOK, JSON, am(version=4), 422, "version", id="am-version-integer"),
    pytest.param("POST", AM, HOOK, JSON, am(version=""), 422, "version", id="am-version-empty"),
    # wrong types and values
    pytest.param("POST", AM, HOOK, JSON, am(status="pending"), 422, "status", id="am-status-unknown"),
    pytest.param("POST", AM, HOOK, JSON, am(groupKey=""), 422, "groupKey", id="am-groupKey-empty"),
    pytest.param("POST", AM, HOOK, JSON, am(groupKey=17), 422, "groupKey", id="am-groupKey-integer"),
    pytest.param("POST", AM, HOOK, JSON, am(groupKey="k" * 16385), 422, "groupKey", id="am-groupKey-too-long"),
    pytest.param(
        "POST", AM, HOOK, JSON, am(truncatedAlerts=-1), 422, "truncatedAlerts", id="am-truncatedAlerts-negative"
    ),
    pytest.param(
        "POST", AM, HOOK, JSON, am(truncatedAlerts="0"), 422, "truncatedAlerts", id="am-truncatedAlerts-string"
    ),
    pytest.param("POST", AM, HOOK, JSON, am(alerts=[]), 422, "alerts", id="am-alerts-empty"),
    pytest.param("POST", AM, HOOK, JSON, am(alerts={}), 422, "alerts", id="am-alerts-object"),
    pytest.param("POST", AM, HOOK, JSON, am(alerts=["x"]), 422, "alerts.0", id="am-alert-string"),
    pytest.param("POST", AM, HOOK, JSON, am(groupLabels=["alertname"]), 422, "groupLabels", id="am-groupLabels-list"),
    pytest.param("POST", AM, HOOK, JSON, am(alert0={"labels": {}}), 422, "alerts.0.labels", id="am-alert-no-labels"),
    pytest.param("POST", AM, HOOK, JSON, am(alert0={"labels": "a=b"}), 422, "alerts.0.labels", id="am-labels-string"),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": 9100}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-integer",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": None}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-null",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(alert0={"annotations": {"summary": ["x"]}}),
        422,
        "alerts.0.annotations.summary",
        id="am-annotation-list",
    ),
    pytest.param(
        "POST", AM, HOOK, JSON, am(alert0={"status": "pending"}), 422, "alerts.0.status", id="am-alert-status-unknown"
    ),
    pytest.param(
        "POST", AM, HOOK, JSON, am(alert0={"startsAt": "yesterday"}), 422, "alerts.0.startsAt", id="am-startsAt-garbage"
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(alert0={"startsAt": "2026-11-25T14:00:00"}),
        422,
        "alerts.0.startsAt",
        id="am-startsAt-no-zone",
    ),
    pytest.param("POST", AM, HOOK, JSON, am(alert0={"endsAt": "soon"}), 422, "alerts.0.endsAt", id="am-endsAt-garbage"),
    pytest.param(
        "POST", AM, HOOK, JSON, am(alert0={"fingerprint": 5}), 422, "alerts.0.fingerprint", id="am-fingerprint-integer"
    ),
    # label names
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"bad-name": "x"}),
        422,
        "alerts.0.labels.'bad-name'",
        id="am-label-name-dash",
    ),
    pytest.param(
        "POST", AM, HOOK, JSON, am(labels0={"1st": "x"}), 422, "alerts.0.labels.'1st'", id="am-label-name-digit-first"
    ),
    pytest.param("POST", AM, HOOK, JSON, am(labels0={"": "x"}), 422, "alerts.0.labels.''", id="am-label-name-empty"),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"in stance": "x"}),
        422,
        "alerts.0.labels.'in stance'",
        id="am-label-name-space",
    ),
    pytest.param(
        "POST", AM, HOOK, JSON, am(labels0={"a\u0000b": "x"}), 422, "alerts.0.labels.'a\\x00b'", id="am-label-name-nul"
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(groupLabels={"bad.name": "x"}),
        422,
        "groupLabels.'bad.name'",
        id="am-groupLabels-bad-name",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(commonLabels={"bad/name": "x"}),
        422,
        "commonLabels.'bad/name'",
        id="am-commonLabels-bad-name",
    ),
    # control characters, NUL, lone surrogates in label values and annotations
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": "web1\u0000"}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-nul",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": "web1\u0007"}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-bell",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": "web1\nweb2"}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-newline",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": "web1\u007f"}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-del",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": "web1\u001b[31m"}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-escape-sequence",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": "web1\ud800"}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-lone-surrogate",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": "\udfff"}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-lone-low-surrogate",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(groupLabels={"alertname": "Disk\u0000Full"}),
        422,
        "groupLabels.alertname",
        id="am-groupLabels-value-nul",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(commonLabels={"alertname": "Disk\u0001"}),
        422,
        "commonLabels.alertname",
        id="am-commonLabels-value-control",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(alert0={"annotations": {"summary": "disk\u0000full"}}),
        422,
        "alerts.0.annotations.summary",
        id="am-annotation-nul",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(labels0={"instance": "w" * 4097}),
        422,
        "alerts.0.labels.instance",
        id="am-label-value-too-long",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(alert0={"labels": {f"l{i}": "v" for i in range(129)}}),
        422,
        "alerts.0.labels",
        id="am-too-many-labels",
    ),
    # control characters outside labels are refused too (they would be stored as the incident key or facts)
    pytest.param(
        "POST", AM, HOOK, JSON, am(groupKey="{}:{alertname=\"Disk\u0000Full\"}"), 422, "groupKey", id="am-groupKey-nul"
    ),
    pytest.param("POST", AM, HOOK, JSON, am(receiver="pager\u0000d"), 422, "receiver", id="am-receiver-nul"),
    pytest.param(
        "POST", AM, HOOK, JSON, am(groupKey="{}:{x=\"\ud800\"}"), 422, "groupKey", id="am-groupKey-lone-surrogate"
    ),
    # size
    pytest.param("POST", AM, HOOK, JSON, padded(FIRING, MAX_BODY + 1), 413, None, id="am-oversized-1MiB+1"),
    pytest.param("POST", AM, HOOK, JSON, padded(FIRING, 4 * MAX_BODY), 413, None, id="am-oversized-4MiB"),
    pytest.param("POST", AM, HOOK, JSON, Chunked(padded(FIRING, MAX_BODY + 1)), 413, None, id="am-oversized-chunked"),
    # method
    pytest.param("GET", AM, HOOK, None, None, 405, None, id="am-get"),
    pytest.param("PUT", AM, HOOK, JSON, am(), 405, None, id="am-put"),
    # ---------------- Events v2: POST /v2/enqueue ----------------
    pytest.param("POST", EV, None, JSON, ev(routing_key=DROP), 422, "routing_key", id="ev-missing-routing-key"),
    pytest.param("POST", EV, None, JSON, ev(routing_key="wrong-routing-key"), 401, None, id="ev-wrong-routing-key"),
    pytest.param("POST", EV, None, JSON, ev(routing_key=ADMIN_TOKEN), 401, None, id="ev-admin-token-as-routing-key"),
    pytest.param(
        "POST", EV, HOOK, JSON, ev(routing_key="wrong-routing-key"), 401, None, id="ev-wrong-routing-key-with-bearer"
    ),
    pytest.param("POST", EV, None, JSON, ev(routing_key=""), 422, "routing_key", id="ev-routing-key-empty"),
    pytest.param("POST", EV, None, JSON, ev(routing_key=17), 422, "routing_key", id="ev-routing-key-integer"),
    pytest.param("POST", EV, None, None, ev(), 415, None, id="ev-no-content-type"),
    pytest.param("POST", EV, None, "text/plain", ev(), 415, None, id="ev-text-plain"),
    pytest.param("POST", EV, None, FORM, ev(), 415, None, id="ev-form"),
    pytest.param("POST", EV, None, JSON, b"", 400, None, id="ev-empty-body"),
    pytest.param("POST", EV, None, JSON, b'{"routing_key": "' + HOOK_TOKEN.encode(), 400, "body", id="ev-truncated"),
    pytest.param("POST", EV, None, JSON, b"\x00\x01", 400, "body", id="ev-binary"),
    pytest.param("POST", EV, None, JSON, b"[]", 422, "body", id="ev-json-array"),
    pytest.param("POST", EV, None, JSON, b"{}", 422, "routing_key", id="ev-empty-object"),
    pytest.param("POST", EV, None, JSON, ev(event_action=DROP), 422, "event_action", id="ev-missing-event-action"),
    pytest.param("POST", EV, None, JSON, ev(event_action="explode"), 422, "event_action", id="ev-bad-event-action"),
    pytest.param("POST", EV, None, JSON, ev(event_action="TRIGGER"), 422, "event_action", id="ev-event-action-upper"),
    pytest.param("POST", EV, None, JSON, ev(event_action=1), 422, "event_action", id="ev-event-action-integer"),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"severity": "fatal"}), 422, "payload.severity", id="ev-bad-severity"
    ),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"severity": DROP}), 422, "payload.severity", id="ev-missing-severity"
    ),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"summary": DROP}), 422, "payload.summary", id="ev-missing-summary"
    ),
    pytest.param("POST", EV, None, JSON, ev(payload={"summary": ""}), 422, "payload.summary", id="ev-empty-summary"),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"summary": "s" * 1025}), 422, "payload.summary", id="ev-summary-too-long"
    ),
    pytest.param("POST", EV, None, JSON, ev(payload={"source": DROP}), 422, "payload.source", id="ev-missing-source"),
    pytest.param("POST", EV, None, JSON, ev(payload=None), 422, "payload", id="ev-trigger-payload-null"),
    pytest.param("POST", EV, None, JSON, ev(payload=DROP), 422, "payload", id="ev-trigger-without-payload"),
    pytest.param("POST", EV, None, JSON, ev(payload="CPU high"), 422, "payload", id="ev-payload-string"),
    pytest.param(
        "POST",
        EV,
        None,
        JSON,
        ev(event_action="resolve", dedup_key=DROP),
        422,
        "dedup_key",
        id="ev-resolve-without-dedup-key",
    ),
    pytest.param(
        "POST",
        EV,
        None,
        JSON,
        ev(event_action="acknowledge", dedup_key=DROP),
        422,
        "dedup_key",
        id="ev-ack-without-dedup-key",
    ),
    pytest.param("POST", EV, None, JSON, ev(dedup_key=""), 422, "dedup_key", id="ev-dedup-key-empty"),
    pytest.param("POST", EV, None, JSON, ev(dedup_key="k" * 256), 422, "dedup_key", id="ev-dedup-key-too-long"),
    pytest.param("POST", EV, None, JSON, ev(dedup_key=42), 422, "dedup_key", id="ev-dedup-key-integer"),
    pytest.param("POST", EV, None, JSON, ev(dedup_key="a\u0000b"), 422, "dedup_key", id="ev-dedup-key-nul"),
    pytest.param("POST", EV, None, JSON, ev(dedup_key="a\ud800"), 422, "dedup_key", id="ev-dedup-key-surrogate"),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"summary": "cpu\u0000"}), 422, "payload.summary", id="ev-summary-nul"
    ),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"source": "db1\ndb2"}), 422, "payload.source", id="ev-source-newline"
    ),
    # payload.component/group/class become the incident's labels: same rules as label values
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"component": "pg\u0000"}), 422, "payload.component", id="ev-component-nul"
    ),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"group": "prod\u0007"}), 422, "payload.group", id="ev-group-control"
    ),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"class": "cpu\nload"}), 422, "payload.class", id="ev-class-newline"
    ),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"timestamp": "noon"}), 422, "payload.timestamp", id="ev-bad-timestamp"
    ),
    pytest.param("POST", EV, None, JSON, ev(links="http://x"), 422, "links", id="ev-links-string"),
    pytest.param(
        "POST", EV, None, JSON, ev(links=[{"text": "no href"}]), 422, "links.0.href", id="ev-link-without-href"
    ),
    pytest.param("POST", EV, None, JSON, ev(images=[{"src": ""}]), 422, "images.0.src", id="ev-image-empty-src"),
    pytest.param("POST", EV, None, JSON, ev(unknown_field=1), 422, "unknown_field", id="ev-unknown-field"),
    pytest.param(
        "POST", EV, None, JSON, ev(payload={"colour": "red"}), 422, "payload.colour", id="ev-unknown-payload-field"
    ),
    pytest.param("POST", EV, None, JSON, padded(ev(), MAX_BODY + 1), 413, None, id="ev-oversized"),
    pytest.param("POST", EV, None, JSON, Chunked(padded(ev(), MAX_BODY + 1)), 413, None, id="ev-oversized-chunked"),
    pytest.param("GET", EV, None, None, None, 405, None, id="ev-get"),
    # ---------------- Nagios: POST /api/v1/alerts/nagios ----------------
    pytest.param("POST", NG, None, FORM, ng_form(), 401, None, id="ng-no-credentials"),
    pytest.param("POST", NG, "Bearer nope", FORM, ng_form(), 401, None, id="ng-wrong-token"),
    pytest.param("POST", NG, ADMIN, FORM, ng_form(), 401, None, id="ng-admin-token"),
    pytest.param("POST", NG, "Digest " + HOOK_TOKEN, FORM, ng_form(), 401, None, id="ng-wrong-scheme"),
    pytest.param("POST", NG, basic("nagios", "wrong"), FORM, ng_form(), 401, None, id="ng-basic-wrong-password"),
    pytest.param("POST", NG, HOOK, None, ng_form(), 415, None, id="ng-no-content-type"),
    pytest.param("POST", NG, HOOK, "text/plain", ng_form(), 415, None, id="ng-text-plain"),
    pytest.param("POST", NG, HOOK, "multipart/form-data", ng_form(), 415, None, id="ng-multipart"),
    pytest.param("POST", NG, HOOK, FORM, b"", 400, None, id="ng-form-empty-body"),
    pytest.param("POST", NG, HOOK, JSON, b"", 400, None, id="ng-json-empty-body"),
    pytest.param("POST", NG, HOOK, JSON, b'{"NOTIFICATIONTYPE": "PROBLEM", ', 400, None, id="ng-json-malformed"),
    pytest.param("POST", NG, HOOK, JSON, ng_form(), 400, None, id="ng-form-body-sent-as-json"),
    pytest.param("POST", NG, HOOK, JSON, b"[]", 422, None, id="ng-json-array"),
    pytest.param("POST", NG, HOOK, JSON, b'"PROBLEM"', 422, None, id="ng-json-string"),
    pytest.param(
        "POST", NG, HOOK, FORM, b"NOTIFICATIONTYPE=PROBLEM&HOSTNAME=web%FF01", 400, None, id="ng-form-invalid-utf8"
    ),
    pytest.param("POST", NG, HOOK, FORM, ng_form() + b"&HOSTNAME=web02", 422, None, id="ng-form-duplicate-macro"),
    pytest.param(
        "POST", NG, HOOK, FORM, ng_form(NOTIFICATIONTYPE=DROP), 422, "NOTIFICATIONTYPE", id="ng-form-missing-type"
    ),
    pytest.param(
        "POST", NG, HOOK, JSON, ng_json(NOTIFICATIONTYPE=DROP), 422, "NOTIFICATIONTYPE", id="ng-json-missing-type"
    ),
    pytest.param(
        "POST", NG, HOOK, FORM, ng_form(NOTIFICATIONTYPE="EXPLODED"), 422, "NOTIFICATIONTYPE", id="ng-form-unknown-type"
    ),
    pytest.param(
        "POST",
        NG,
        HOOK,
        JSON,
        ng_json(NOTIFICATIONTYPE="problem"),
        422,
        "NOTIFICATIONTYPE",
        id="ng-json-lowercase-type",
    ),
    pytest.param(
        "POST", NG, HOOK, FORM, ng_form(NOTIFICATIONTYPE=""), 422, "NOTIFICATIONTYPE", id="ng-form-empty-type"
    ),
    pytest.param("POST", NG, HOOK, FORM, ng_form(HOSTNAME=DROP), 422, "HOSTNAME", id="ng-form-missing-hostname"),
    pytest.param("POST", NG, HOOK, JSON, ng_json(HOSTNAME=DROP), 422, "HOSTNAME", id="ng-json-missing-hostname"),
    pytest.param("POST", NG, HOOK, FORM, ng_form(HOSTNAME=""), 422, "HOSTNAME", id="ng-form-empty-hostname"),
    pytest.param("POST", NG, HOOK, FORM, ng_form(HOSTNAME="web01\nweb02"), 422, "HOSTNAME", id="ng-hostname-newline"),
    pytest.param("POST", NG, HOOK, FORM, ng_form(HOSTNAME="h" * 256), 422, "HOSTNAME", id="ng-hostname-too-long"),
    pytest.param(
        "POST", NG, HOOK, FORM, ng_form(SERVICEDESC="HTTP\r\nlogin"), 422, "SERVICEDESC", id="ng-servicedesc-crlf"
    ),
    pytest.param("POST", NG, HOOK, FORM, ng_form(HOSTNAME="web\u000001"), 422, "HOSTNAME", id="ng-hostname-nul"),
    pytest.param(
        "POST", NG, HOOK, JSON, ng_json(SERVICEOUTPUT="out\u0000put"), 422, "SERVICEOUTPUT", id="ng-json-output-nul"
    ),
    pytest.param(
        "POST",
        NG,
        HOOK,
        JSON,
        ng_json(SERVICEOUTPUT="out\ud800"),
        422,
        "SERVICEOUTPUT",
        id="ng-json-output-lone-surrogate",
    ),
    pytest.param("POST", NG, HOOK, JSON, ng_json(HOSTNAME=17), 422, "HOSTNAME", id="ng-json-hostname-integer"),
    pytest.param(
        "POST", NG, HOOK, JSON, ng_json(SERVICEPROBLEMID=4711), 422, "SERVICEPROBLEMID", id="ng-json-problem-id-integer"
    ),
    pytest.param("POST", NG, HOOK, JSON, ng_json(SERVICESTATE=None), 422, "SERVICESTATE", id="ng-json-null-macro"),
    pytest.param("POST", NG, HOOK, JSON, ng_json(HOSTNAME=["web01"]), 422, "HOSTNAME", id="ng-json-list-macro"),
    pytest.param("POST", NG, HOOK, FORM, ng_form(TIMET="yesterday"), 422, "TIMET", id="ng-timet-garbage"),
    pytest.param("POST", NG, HOOK, FORM, ng_form(TIMET="99999999999999999999"), 422, "TIMET", id="ng-timet-huge"),
    pytest.param("POST", NG, HOOK, FORM, ng_form(**{"BAD-MACRO": "x"}), 422, "BAD-MACRO", id="ng-macro-name-dash"),
    pytest.param("POST", NG, HOOK, JSON, ng_json(**{"HÖSTNAME": "x"}), 422, "HÖSTNAME", id="ng-macro-name-non-ascii"),
    pytest.param("POST", NG, HOOK, JSON, ng_json(NAGIOS_="x"), 422, "(empty)", id="ng-macro-name-empty"),
    pytest.param(
        "POST",
        NG,
        HOOK,
        FORM,
        urlencode({f"M{i}": "x" for i in range(600)}).encode(),
        413,
        None,
        id="ng-too-many-macros",
    ),
    pytest.param("POST", NG, HOOK, FORM, ng_form(SERVICEOUTPUT="x" * MAX_BODY), 413, None, id="ng-form-oversized"),
    pytest.param("POST", NG, HOOK, JSON, padded(ng_json(), MAX_BODY + 1), 413, None, id="ng-json-oversized"),
    pytest.param("GET", NG, HOOK, None, None, 405, None, id="ng-get"),
    # ---------------- API: GET /api/v1/incidents ----------------
    pytest.param("GET", INC, None, None, None, 401, None, id="list-no-credentials"),
    pytest.param("GET", INC, "Bearer wrong", None, None, 401, None, id="list-wrong-token"),
    pytest.param("GET", INC, HOOK, None, None, 401, None, id="list-webhook-token"),
    pytest.param("GET", INC, basic("admin", ADMIN_TOKEN), None, None, 401, None, id="list-basic-scheme"),
    pytest.param("GET", INC, "Bearer", None, None, 401, None, id="list-bearer-without-token"),
    pytest.param("GET", INC + "?state=open", ADMIN, None, None, 400, "state", id="list-bad-state"),
    pytest.param("GET", INC + "?state=", ADMIN, None, None, 400, "state", id="list-empty-state"),
    pytest.param("GET", INC + "?source=zabbix", ADMIN, None, None, 400, "source", id="list-bad-source"),
    pytest.param("GET", INC + "?since=yesterday", ADMIN, None, None, 400, "since", id="list-bad-since"),
    pytest.param("GET", INC + "?since=2026-11-25T14:00:00", ADMIN, None, None, 400, "since", id="list-since-naive"),
    pytest.param(
        "GET",
        INC + "?since=9999-12-31T23:59:59-12:00",
        ADMIN,
        None,
        None,
        400,
        "since",
        id="list-since-past-year-9999-in-utc",
    ),
    pytest.param(
        "GET",
        INC + "?since=0001-01-01T00:00:00%2B01:00",
        ADMIN,
        None,
        None,
        400,
        "since",
        id="list-since-before-year-1-in-utc",
    ),
    pytest.param("GET", INC + "?limit=0", ADMIN, None, None, 400, "limit", id="list-limit-zero"),
    pytest.param("GET", INC + "?limit=1001", ADMIN, None, None, 400, "limit", id="list-limit-too-big"),
    pytest.param("GET", INC + "?limit=-1", ADMIN, None, None, 400, "limit", id="list-limit-negative"),
    pytest.param("GET", INC + "?limit=ten", ADMIN, None, None, 400, "limit", id="list-limit-word"),
    pytest.param("GET", INC + "?limit=1.5", ADMIN, None, None, 400, "limit", id="list-limit-float"),
    pytest.param("GET", INC + "?limit=%C2%B2", ADMIN, None, None, 400, "limit", id="list-limit-superscript-two"),
    pytest.param("GET", INC + "?limit=99999999999999999999999", ADMIN, None, None, 400, "limit", id="list-limit-huge"),
    pytest.param("GET", INC + "?before_id=x", ADMIN, None, None, 400, "before_id", id="list-bad-before-id"),
    pytest.param(
        "GET", INC + "?before_id=%C2%B2", ADMIN, None, None, 400, "before_id", id="list-before-id-superscript-two"
    ),
    pytest.param("GET", INC + "?colour=red", ADMIN, None, None, 400, "colour", id="list-unknown-param"),
    pytest.param("POST", INC, ADMIN, JSON, b"{}", 405, None, id="list-post"),
    # ---------------- API: GET /api/v1/incidents/{id} ----------------
    pytest.param("GET", INC + "/{open}", None, None, None, 401, None, id="show-no-credentials"),
    pytest.param("GET", INC + "/{open}", HOOK, None, None, 401, None, id="show-webhook-token"),
    pytest.param("GET", INC + "/abc", ADMIN, None, None, 400, "id", id="show-id-word"),
    pytest.param("GET", INC + "/-1", ADMIN, None, None, 400, "id", id="show-id-negative"),
    pytest.param("GET", INC + "/1.0", ADMIN, None, None, 400, "id", id="show-id-float"),
    pytest.param("GET", INC + "/1e3", ADMIN, None, None, 400, "id", id="show-id-exponent"),
    pytest.param("GET", INC + "/0x10", ADMIN, None, None, 400, "id", id="show-id-hex"),
    pytest.param("GET", INC + "/%20{open}", ADMIN, None, None, 400, "id", id="show-id-leading-space"),
    pytest.param("GET", INC + "/1234567890123456789", ADMIN, None, None, 400, "id", id="show-id-19-digits"),
    pytest.param("GET", INC + "/%C2%B2", ADMIN, None, None, 400, "id", id="show-id-superscript-two"),
    pytest.param("GET", INC + "/%EF%BC%91", ADMIN, None, None, 400, "id", id="show-id-fullwidth-one"),
    pytest.param("GET", INC + "/%D9%A1", ADMIN, None, None, 400, "id", id="show-id-arabic-indic-one"),
    pytest.param("GET", INC + "/999999", ADMIN, None, None, 404, None, id="show-unknown"),
    pytest.param("GET", INC + "/0", ADMIN, None, None, 404, None, id="show-zero"),
    pytest.param("DELETE", INC + "/{open}", ADMIN, None, None, 405, None, id="show-delete"),
    # ---------------- API: POST /api/v1/incidents/{id}/ack ----------------
    pytest.param("POST", INC + "/{open}/ack", None, JSON, b"{}", 401, None, id="ack-no-credentials"),
    pytest.param("POST", INC + "/{open}/ack", "Bearer wrong", JSON, b"{}", 401, None, id="ack-wrong-token"),
    pytest.param("POST", INC + "/{open}/ack", HOOK, JSON, b"{}", 401, None, id="ack-webhook-token"),
    pytest.param(
        "POST", INC + "/{open}/ack", basic("admin", "wrong"), JSON, b"{}", 401, None, id="ack-basic-wrong-password"
    ),
    pytest.param("POST", INC + "/{resolved}/ack", ADMIN, JSON, b"{}", 409, None, id="ack-resolved-conflict"),
    pytest.param("POST", INC + "/{resolved}/ack", ADMIN, None, None, 409, None, id="ack-resolved-no-body"),
    pytest.param("POST", INC + "/999999/ack", ADMIN, JSON, b"{}", 404, None, id="ack-unknown"),
    pytest.param("POST", INC + "/abc/ack", ADMIN, JSON, b"{}", 400, "id", id="ack-bad-id"),
    pytest.param("POST", INC + "/%C2%B2/ack", ADMIN, JSON, b"{}", 400, "id", id="ack-id-superscript-two"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, b'{"by": ', 400, "body", id="ack-malformed-json"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, b"\xff{}", 400, "body", id="ack-invalid-utf8"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, "text/plain", b'{"by": "anna"}', 415, None, id="ack-text-plain"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, None, b'{"by": "anna"}', 415, None, id="ack-no-content-type"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, b'["anna"]', 422, None, id="ack-json-array"),
    pytest.param(
        "POST", INC + "/{open}/ack", ADMIN, JSON, b'{"by": "anna", "when": "now"}', 422, "when", id="ack-unknown-field"
    ),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, b'{"by": 7}', 422, "by", id="ack-by-integer"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, b'{"by": null}', 422, "by", id="ack-by-null"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, b'{"by": "an\\u0000na"}', 422, "by", id="ack-by-nul"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, b'{"by": "anna\\nbram"}', 422, "by", id="ack-by-newline"),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, b'{"by": "\\ud800"}', 422, "by", id="ack-by-lone-surrogate"),
    pytest.param(
        "POST",
        INC + "/{open}/ack",
        ADMIN,
        JSON,
        json.dumps({"by": "a" * 257}).encode(),
        422,
        "by",
        id="ack-by-too-long",
    ),
    pytest.param(
        "POST", INC + "/{open}/ack", ADMIN, JSON, b'{"comment": "x\\u0000"}', 422, "comment", id="ack-comment-nul"
    ),
    pytest.param("POST", INC + "/{open}/ack", ADMIN, JSON, padded(b"{}", MAX_BODY + 1), 413, None, id="ack-oversized"),
    pytest.param("GET", INC + "/{open}/ack", ADMIN, None, None, 405, None, id="ack-get"),
    # ---------------- API: POST /api/v1/incidents/{id}/resolve ----------------
    pytest.param("POST", INC + "/{open}/resolve", None, JSON, b"{}", 401, None, id="resolve-no-credentials"),
    pytest.param("POST", INC + "/{open}/resolve", "Bearer wrong", JSON, b"{}", 401, None, id="resolve-wrong-token"),
    pytest.param(
        "POST", INC + "/{open}/resolve", "Token " + ADMIN_TOKEN, JSON, b"{}", 401, None, id="resolve-wrong-scheme"
    ),
    pytest.param("POST", INC + "/999999/resolve", ADMIN, JSON, b"{}", 404, None, id="resolve-unknown"),
    pytest.param("POST", INC + "/x1/resolve", ADMIN, JSON, b"{}", 400, "id", id="resolve-bad-id"),
    pytest.param("POST", INC + "/{open}/resolve", ADMIN, JSON, b"{,}", 400, "body", id="resolve-malformed-json"),
    pytest.param("POST", INC + "/{open}/resolve", ADMIN, FORM, b"by=anna", 415, None, id="resolve-form"),
    pytest.param(
        "POST",
        INC + "/{open}/resolve",
        ADMIN,
        JSON,
        b'{"by": "anna", "state": "resolved"}',
        422,
        "state",
        id="resolve-unknown-field",
    ),
    pytest.param(
        "POST",
        INC + "/{open}/resolve",
        ADMIN,
        JSON,
        b'{"comment": ["fixed"]}',
        422,
        "comment",
        id="resolve-comment-list",
    ),
    pytest.param("POST", INC + "/{open}/resolve", ADMIN, JSON, b'"resolved"', 422, None, id="resolve-json-string"),
    pytest.param(
        "POST", INC + "/{open}/resolve", ADMIN, JSON, padded(b"{}", MAX_BODY + 1), 413, None, id="resolve-oversized"
    ),
    # ---------------- API: POST /api/v1/incidents/{id}/notes ----------------
    pytest.param("POST", INC + "/{open}/notes", None, JSON, b'{"text": "x"}', 401, None, id="notes-no-credentials"),
    pytest.param("POST", INC + "/{open}/notes", HOOK, JSON, b'{"text": "x"}', 401, None, id="notes-webhook-token"),
    pytest.param("POST", INC + "/999999/notes", ADMIN, JSON, b'{"text": "x"}', 404, None, id="notes-unknown"),
    pytest.param("POST", INC + "/abc/notes", ADMIN, JSON, b'{"text": "x"}', 400, "id", id="notes-bad-id"),
    pytest.param("POST", INC + "/{open}/notes", ADMIN, JSON, b"", 422, "text", id="notes-empty-body"),
    pytest.param("POST", INC + "/{open}/notes", ADMIN, JSON, b"{}", 422, "text", id="notes-missing-text"),
    pytest.param("POST", INC + "/{open}/notes", ADMIN, JSON, b'{"text": ""}', 422, "text", id="notes-text-empty"),
    pytest.param("POST", INC + "/{open}/notes", ADMIN, JSON, b'{"text": " \\n "}', 422, "text", id="notes-text-blank"),
    pytest.param("POST", INC + "/{open}/notes", ADMIN, JSON, b'{"text": 5}', 422, "text", id="notes-text-integer"),
    pytest.param(
        "POST",
        INC + "/{open}/notes",
        ADMIN,
        JSON,
        b'{"text": "x", "pinned": true}',
        422,
        "pinned",
        id="notes-unknown-field",
    ),
    pytest.param(
        "POST", INC + "/{open}/notes", ADMIN, JSON, b'{"text": "a\\u0000b"}', 422, "text", id="notes-text-nul"
    ),
    pytest.param(
        "POST",
        INC + "/{open}/notes",
        ADMIN,
        JSON,
        json.dumps({"text": "t" * 16385}).encode(),
        422,
        "text",
        id="notes-text-too-long",
    ),
    pytest.param("POST", INC + "/{open}/notes", ADMIN, JSON, b'{"text": "x"', 400, "body", id="notes-malformed"),
    pytest.param(
        "POST", INC + "/{open}/notes", ADMIN, "text/plain", b"restarted the box", 415, None, id="notes-text-plain"
    ),
    pytest.param(
        "POST",
        INC + "/{open}/notes",
        ADMIN,
        JSON,
        json.dumps({"text": "t" * MAX_BODY}).encode(),
        413,
        None,
        id="notes-oversized",
    ),
    # ---------------- operations: /healthz, /readyz, /metrics, unknown paths ----------------
    pytest.param("POST", "/healthz", None, JSON, b"{}", 405, None, id="healthz-post"),
    pytest.param("POST", "/readyz", None, JSON, b"{}", 405, None, id="readyz-post"),
    pytest.param("POST", "/metrics", None, JSON, b"{}", 405, None, id="metrics-post"),
    pytest.param("GET", "/healthzz", None, None, None, 404, None, id="unknown-path"),
    pytest.param("POST", "/api/v1/alerts/zabbix", HOOK, JSON, b"{}", 404, None, id="unknown-source"),
]


@pytest.mark.parametrize("method,path,auth,ctype,body,status,field", CASES)
def test_bad_input(daemon, method, path, auth, ctype, body, status, field):
    path = path.format(**daemon.seed)
    before = db_state(daemon)

    got, headers, answer = send(daemon, method, path, auth=auth, ctype=ctype, body=body)

    assert got == status, f"{method} {path} -> {got} {answer!r}"
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"], answer
    assert isinstance(answer.get("problems"), list), answer
    for p in answer["problems"]:
        assert set(p) == {"field", "message"} and p["message"], answer
    if field is not None:
        assert field in [p["field"] for p in answer["problems"]], answer
    if status == 401:
        assert headers.get("www-authenticate", "").startswith("Bearer"), headers
        assert HOOK_TOKEN not in json.dumps(answer) and ADMIN_TOKEN not in json.dumps(answer), answer
    assert db_state(daemon) == before, "a refused request changed the database"
    assert_serving(daemon)


# -- what must be accepted: unicode label values, parameters of the media type, case of the scheme --
# (method, path, Authorization, Content-Type, body, status) — each row stores exactly one new delivery.
ACCEPTED = [
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(groupKey="{}:{ok=\"unicode-escaped\"}", labels0={"instance": "café ☕ 日本 🚒 Ωmega"}),
        200,
        id="am-unicode-label-value-escaped",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        am(
            groupKey="{}:{ok=\"unicode-raw\"}",
            raw=True,
            labels0={"instance": "ÄÖÜ straße — ✓ 🚨"},
            alert0={"annotations": {"summary": "Ünïcödé\nsummary\twith tab"}},
        ),
        200,
        id="am-unicode-label-value-raw-utf8",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        "application/json; charset=utf-8",
        am(groupKey="{}:{ok=\"charset\"}"),
        200,
        id="am-content-type-with-charset",
    ),
    pytest.param(
        "POST", AM, HOOK, "Application/JSON", am(groupKey="{}:{ok=\"case\"}"), 200, id="am-content-type-upper-case"
    ),
    pytest.param(
        "POST",
        AM,
        "bearer " + HOOK_TOKEN,
        JSON,
        am(groupKey="{}:{ok=\"scheme-case\"}"),
        200,
        id="am-bearer-scheme-lower-case",
    ),
    pytest.param(
        "POST",
        AM,
        HOOK,
        JSON,
        padded(am(groupKey="{}:{ok=\"exactly-max\"}"), MAX_BODY),
        200,
        id="am-body-exactly-max-body-bytes",
    ),
    pytest.param(
        "POST",
        EV,
        None,
        JSON,
        ev(dedup_key="ok/unicode", payload={"summary": "Ünïcödé 🚨 summary", "component": "ßtraße"}),
        202,
        id="ev-unicode",
    ),
    pytest.param(
        "POST",
        NG,
        HOOK,
        FORM,
        ng_form(HOSTNAME="ok-extra-macros", CONTACTEMAIL="ops@example.nl", SOMEFUTUREMACRO="x"),
        200,
        id="ng-unknown-macros-kept-out",
    ),
    pytest.param(
        "POST",
        NG,
        HOOK,
        FORM,
        urlencode({"NAGIOS_" + k: v for k, v in _macros({"HOSTNAME": "ok-prefixed"}).items()}).encode(),
        200,
        id="ng-nagios-prefixed-macros",
    ),
    pytest.param(
        "POST",
        NG,
        HOOK,
        JSON,
        ng_json(HOSTNAME="ok-unicode", SERVICEOUTPUT="Überlast ✗ 🚨"),
        200,
        id="ng-unicode-output",
    ),
]


@pytest.mark.parametrize("method,path,auth,ctype,body,status", ACCEPTED)
def test_accepted(daemon, method, path, auth, ctype, body, status):
    before = db_state(daemon)
    got, _, answer = send(daemon, method, path, auth=auth, ctype=ctype, body=body)
    assert got == status, f"{method} {path} -> {got} {answer!r}"
    after = db_state(daemon)
    assert after["deliveries"] == before["deliveries"] + 1, (before, after)
    assert after["incidents"] == before["incidents"] + 1, (before, after)
    assert_serving(daemon)


def test_unicode_label_values_round_trip(daemon):
    value = "Zürich ☕ 東京 🚒"
    body = am(groupKey="{}:{ok=\"round-trip\"}", raw=True, labels0={"instance": value})
    status, _, answer = send(daemon, "POST", AM, auth=HOOK, ctype=JSON, body=body)
    assert status == 200, answer
    (iid,) = answer["incidents"]
    status, inc = daemon.api("GET", f"{INC}/{iid}")
    assert status == 200, inc
    assert [a["labels"]["instance"] for a in inc["alerts"]] == [value, "web2:9100"]


def test_many_bad_requests_in_a_row_leave_the_daemon_healthy(daemon):
    """A flood of refused requests (every kind at once) does not wedge the daemon or the store."""
    before = db_state(daemon)
    for _ in range(20):
        assert send(daemon, "POST", AM, auth=HOOK, ctype=JSON, body=b"{")[0] == 400
        assert send(daemon, "POST", AM, auth="Bearer x", ctype=JSON, body=am())[0] == 401
        assert send(daemon, "POST", EV, ctype=JSON, body=ev(payload={"severity": "x"}))[0] == 422
        assert send(daemon, "POST", NG, auth=HOOK, ctype=FORM, body=ng_form(HOSTNAME=DROP))[0] == 422
    assert db_state(daemon) == before
    status, _, ready = send(daemon, "GET", "/readyz")
    assert status == 200, ready
    assert_serving(daemon)


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("GET", AM, {"POST"}),
        ("PUT", "/api/v1/incidents/1/ack", {"POST"}),
        ("DELETE", "/api/v1/incidents", {"GET", "HEAD"}),
        ("PATCH", "/metrics", {"GET", "HEAD"}),
    ],
)
def test_a_wrong_method_names_the_allowed_ones(daemon, method, path, allow):
    """405 from the catch-all route keeps the Allow header of the route that has the path."""
    got, headers, answer = send(daemon, method, path, auth=ADMIN)
    assert got == 405 and isinstance(answer, dict) and answer["error"], answer
    assert set(headers.get("allow", "").replace(" ", "").split(",")) == allow, headers


@pytest.mark.parametrize("path", ["/", "/api", "/api/v1/incidents/1/nope", "/%2e%2e/etc/passwd", "/" + "x" * 2000])
def test_unknown_paths_are_json_404s_for_any_method(daemon, path):
    for method in ("GET", "POST", "DELETE"):
        got, headers, answer = send(daemon, method, path, auth=ADMIN)
        assert got == 404 and headers.get("content-type", "").startswith("application/json"), (method, path, got)
        assert isinstance(answer, dict) and answer["error"] and answer["problems"] == [], answer
    assert_serving(daemon)


@pytest.mark.parametrize("name", ["Watchdog", "\\u0057atchdog", "Watch\\u0064og"])
def test_the_watchdog_is_a_heartbeat_however_its_name_is_written(daemon, name):
    """Alertmanager's Watchdog never opens an incident, also when JSON escapes spell its name."""
    d = json.loads(am(groupKey="{}:{alertname=\"wd\"}", labels0={"alertname": "WATCHDOG_NAME"}))
    d["alerts"] = d["alerts"][:1]  # the Watchdog alone
    body = json.dumps(d).encode().replace(b"WATCHDOG_NAME", name.encode())
    before = db_state(daemon)["incident_rows"]
    got, _, answer = send(daemon, "POST", AM, auth=HOOK, ctype=JSON, body=body)
    assert got == 200 and answer["alerts"] == 0 and answer["incidents"] == [], answer
    assert db_state(daemon)["incident_rows"] == before
