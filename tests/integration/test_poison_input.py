"""Poison input on every JSON endpoint of the real daemon: JSON nested 100,000 deep and timestamps at
the edges of the date range get a 4xx with a JSON body, never a 5xx (a 503 tells Alertmanager to retry
the same alert forever, blocking its whole group); nothing is stored and the daemon keeps serving.

One daemon for the module, on the manual clock (so that the test clock's route exists). Each row: the
endpoint, its credentials, the payload, the exact status and the field the error must name.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.harness.pagerd import PagerdProcess, manual_clock_config

from .test_bad_input import (
    ADMIN,
    AM,
    EV,
    EV_TRIGGER,
    FIRING,
    HOOK,
    JSON,
    NG,
    NG_PROBLEM,
    assert_serving,
    db_state,
    send,
)

START = "2026-11-25T09:00:00+00:00"
N = 100_000
DEEP_ARRAY = b"[" * N + b"]" * N
DEEP_OBJECT = b'{"a":' * N + b"1" + b"}" * N
DEEP_SMALL = b"[" * 20_000 + b"]" * 20_000  # below the API's 64 KiB: the depth bound answers, not the size


def inside(payload: dict, key: str, deep: bytes) -> bytes:
    """`payload` (a valid one) with the value of `key` replaced by `deep`: well-formed, only too deep."""
    return json.dumps({**payload, key: "@deep@"}).encode().replace(b'"@deep@"', deep)


def am_alert(**changes) -> bytes:
    d = json.loads(FIRING)
    d["alerts"][0].update(changes)
    return json.dumps(d).encode()


def ev_payload(**changes) -> bytes:
    return json.dumps({**EV_TRIGGER, "payload": {**EV_TRIGGER["payload"], **changes}}).encode()


CLOCK = "/api/v1/testing/clock"
INCIDENT = "/api/v1/incidents/{open}"
BOOKING = {"customer": "acme", "start": "2026-12-05T18:00:00+01:00", "end": "2026-12-06T08:00:00+01:00"}
OVERRIDE = {
    "rotation": "standby",
    "person": "anna",
    "start": "2026-12-05T18:00:00+01:00",
    "end": "2026-12-06T08:00:00+01:00",
}
WORK = {"start": "2026-11-25T09:00:00+00:00", "end": "2026-11-25T09:30:00+00:00"}
EDGES = [
    "9999-12-31T23:00-05:00",
    "0001-01-01T00:00+05:00",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z",
    "1899-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
]

# the JSON endpoints: (id, path, Authorization, a valid payload as a dict or None, the key a deep value goes in)
ENDPOINTS = [
    ("alertmanager", AM, HOOK, json.loads(FIRING), "commonAnnotations"),
    ("nagios-json", NG, HOOK, NG_PROBLEM, "SERVICEOUTPUT"),
    ("events-v2-no-credentials", EV, None, {k: v for k, v in EV_TRIGGER.items() if k != "routing_key"}, "payload"),
    ("events-v2", EV, None, EV_TRIGGER, "payload"),
    ("ack", INCIDENT + "/ack", ADMIN, {"by": "anna"}, "comment"),
    ("resolve", INCIDENT + "/resolve", ADMIN, {"by": "anna"}, "comment"),
    ("notes", INCIDENT + "/notes", ADMIN, {"text": "a note"}, "text"),
    ("work", INCIDENT + "/work", ADMIN, WORK, "note"),
    ("bookings", "/api/v1/bookings", ADMIN, BOOKING, "by"),
    ("overrides", "/api/v1/overrides", ADMIN, OVERRIDE, "by"),
    ("testing-clock", CLOCK, ADMIN, {"advance": "1s"}, "advance"),
]
WEBHOOKS = {AM, NG, EV}


def _deep_rows():
    for name, path, auth, valid, key in ENDPOINTS:
        api = path not in WEBHOOKS
        # the API reads at most 64 KiB: the 100,000-deep bodies are too large before they are too deep
        big = (413, None) if api else (400, "body")
        yield pytest.param(path, auth, DEEP_ARRAY, *big, id=f"{name}-array-100000-deep")
        yield pytest.param(path, auth, DEEP_OBJECT, *big, id=f"{name}-object-100000-deep")
        yield pytest.param(path, auth, DEEP_SMALL, 400, "body", id=f"{name}-array-20000-deep")
        yield pytest.param(
            path, auth, inside(valid, key, DEEP_SMALL), 400, "body", id=f"{name}-deep-in-a-valid-payload"
        )


def _time_rows():
    for edge in EDGES:
        yield pytest.param(AM, HOOK, am_alert(startsAt=edge), 422, "alerts.0.startsAt", id=f"am-startsAt-{edge}")
        if edge != "0001-01-01T00:00:00Z":  # Go's zero time: Alertmanager's "no end"
            yield pytest.param(AM, HOOK, am_alert(endsAt=edge), 422, "alerts.0.endsAt", id=f"am-endsAt-{edge}")
        yield pytest.param(EV, None, ev_payload(timestamp=edge), 422, "payload.timestamp", id=f"ev-timestamp-{edge}")
        for name, path, valid, key in (
            ("bookings", "/api/v1/bookings", BOOKING, "start"),
            ("bookings", "/api/v1/bookings", BOOKING, "end"),
            ("overrides", "/api/v1/overrides", OVERRIDE, "start"),
            ("overrides", "/api/v1/overrides", OVERRIDE, "end"),
            ("work", INCIDENT + "/work", WORK, "start"),
            ("work", INCIDENT + "/work", WORK, "end"),
            ("testing-clock", CLOCK, {}, "set"),
        ):
            yield pytest.param(
                path, ADMIN, json.dumps({**valid, key: edge}).encode(), 422, key, id=f"{name}-{key}-{edge}"
            )
    for timet in ("253402300800", "-62135596800", "-2208988801", "7258118400"):  # years 10000, 1, 1899, 2200
        yield pytest.param(
            NG, HOOK, json.dumps({**NG_PROBLEM, "TIMET": timet}).encode(), 422, "TIMET", id=f"nagios-TIMET-{timet}"
        )


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    work = tmp_path_factory.mktemp("pagerd-poison")
    p = PagerdProcess(workdir=work, config=manual_clock_config(work / "pagerd.yaml", datetime.fromisoformat(START)))
    p.start()
    status, _, body = send(p, "POST", AM, auth=HOOK, ctype=JSON, body=FIRING)
    assert status == 200, body
    p.seed = {"open": p.incidents()[0]["id"]}  # type: ignore[attr-defined]
    yield p
    p.stop()
    print(f"--- pagerd log (tail) ---\n{p.log_path.read_text(errors='replace')[-3000:]}")


@pytest.mark.parametrize("path,auth,body,status,field", [*_deep_rows(), *_time_rows()])
def test_poison_is_a_4xx_with_a_json_body_and_nothing_is_stored(daemon, path, auth, body, status, field):
    before = db_state(daemon)
    got, headers, answer = send(daemon, "POST", path.format(**daemon.seed), auth=auth, ctype=JSON, body=body)
    assert got == status, answer
    assert headers["content-type"].startswith("application/json") and isinstance(answer, dict), answer
    assert answer["error"], answer
    if field is not None:
        assert field in _fields(answer), answer
    assert db_state(daemon) == before
    assert_serving(daemon)


def test_without_credentials_a_deep_body_is_refused_before_it_is_read(daemon):
    """Credentials are checked before the body is read: a 401, whatever the body."""
    for path, auth in ((AM, None), (NG, "Bearer wrong-token"), ("/api/v1/bookings", None)):
        got, _, answer = send(daemon, "POST", path, auth=auth, ctype=JSON, body=DEEP_ARRAY)
        assert got == 401 and answer["error"] == "missing or wrong credentials", (path, got, answer)


def _fields(answer: object) -> list[str]:
    return [p["field"] for p in answer.get("problems", [])] if isinstance(answer, dict) else []
