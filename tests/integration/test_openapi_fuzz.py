"""schemathesis against a live daemon: every operation of pager/web/openapi.yaml (the daemon serves it at
/api/v1/openapi.yaml) with data generated from the contract, valid and invalid, with the right
credentials and without them, then the stateful links of the contract (create an override, remove it;
book standby, cancel it; list incidents, acknowledge one, ...). No answer is a 5xx and every answer
(status code, content type, headers, body) is one the contract describes.

The daemon runs on the manual test clock, so the testing routes are fuzzed too, and with a Twilio auth
token, so that the Twilio callbacks can be signed. The examples per operation are bounded (and
derandomized: a failure reproduces) so that the run stays near a minute on a loaded machine.

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_openapi_fuzz.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from multidict import MultiDict
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from twilio.request_validator import RequestValidator

from pager.service import ical, links
from pager.service.signing import Keyring
from tests.harness.pagerd import ROOT, SIGNING_KEY, PagerdProcess, manual_clock_config

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
TWILIO_TOKEN = "fuzz-twilio-auth-token-0123456789abcdef"
# examples per operation and generation mode; the whole file stays near a minute on a loaded 2-core machine
EXAMPLES = 10
STATEFUL_SCENARIOS = 20
STATEFUL_STEPS = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
PEOPLE_PHONES = ["+31612345001", "+31612345002", "+31612345004"]  # people of the example config
ROTATIONS, PEOPLE = ["office", "standby"], ["anna", "bram", "chris", "dewi", "eva"]


def _instants(moments: st.SearchStrategy[datetime] | None = None) -> st.SearchStrategy[str]:
    """RFC 3339 instants for `format: date-time`, by default over Python's whole range, with any quarter-hour
    offset: the edges (year 9999 with a negative offset, year 1 with a positive one) fall outside what pagerd
    accepts (1900-2199 in UTC) and must be refused with a 4xx, like any other instant out of range."""
    moments = moments if moments is not None else st.datetimes()
    offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
    return st.builds(
        lambda dt, tz, z: dt.replace(tzinfo=tz).isoformat().replace("+00:00", "Z" if z else "+00:00"),
        moments,
        offsets,
        st.booleans(),
    )


_NEAR_START = st.datetimes(min_value=datetime(2025, 7, 1), max_value=datetime(2027, 7, 1))

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _without_control_characters(value):
    """The texts of a body with the control characters the daemon refuses (every one but tab and line
    breaks) taken out: valid data the contract describes only in words."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, dict):
        return {k: _without_control_characters(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_control_characters(v) for v in value]
    return value


class Client:
    """Sends a schemathesis case to the daemon with the credentials its operation asks for (or none)."""

    def __init__(self, daemon: PagerdProcess) -> None:
        self.daemon = daemon
        self.session = requests.Session()
        self.keys = Keyring(SIGNING_KEY.encode(), ())
        self.calls = 0
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)

    def send(self, case: schemathesis.Case, *, credentials: bool | None) -> Response:
        """credentials True: the right ones; False: none; None: the headers as generated."""
        op = case.operation
        schemes = {name for req in op.definition.raw.get("security", []) for name in req}
        positive = case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            credentials = None  # the invalid data is the credentials header itself: sent as generated
        elif credentials and positive:
            self._real_targets(case)
        kwargs = case.as_transport_kwargs(base_url=self.daemon.url)
        kwargs.pop("timeout", None)
        request = requests.Request(
            **{
                k: v
                for k, v in kwargs.items()
                if k in ("method", "url", "headers", "params", "data", "json", "files", "cookies")
            }
        ).prepare()
        if credentials is not None:
            for name in ("Authorization", "X-Twilio-Signature"):
                request.headers.pop(name, None)
        if credentials:
            if "adminToken" in schemes:
                request.headers["Authorization"] = f"Bearer {self.daemon.admin_token}"
            elif "webhookBearer" in schemes:
                request.headers["Authorization"] = f"Bearer {self.daemon.webhook_token}"
            elif "twilioSignature" in schemes:
                request.headers["X-Twilio-Signature"] = self._twilio_signature(request)
        self.calls += 1
        # the portal's pages answer a missing session with a redirect to sign-in: taken as it is, not followed
        answer = self.session.send(request, timeout=30, allow_redirects="portalSession" not in schemes)
        self.statuses[case.operation.label][answer.status_code] += 1
        return Response.from_requests(answer, verify=True)

    def _real_targets(self, case: schemathesis.Case) -> None:
        """With credentials, valid data also reaches what exists: the Events v2 routing key, a feed's or a
        link's token, a known phone number and message. Which one is drawn from the generated data."""
        op_id = case.operation.definition.raw["operationId"]
        pick = int(hashlib.sha256(repr((case.path_parameters, case.query, case.body)).encode()).hexdigest(), 16)
        if op_id == "eventsV2Enqueue" and isinstance(case.body, dict):
            case.body["routing_key"] = self.daemon.webhook_token
        elif op_id == "icalFeed":
            kind = case.path_parameters["kind"]
            names = ROTATIONS if kind == "rotations" else PEOPLE
            name = names[pick % len(names)]
            case.path_parameters["name"] = name
            case.query = {
                **(case.query or {}),
                "token": ical.feed_token(self.keys, "rotation" if kind == "rotations" else "person", name),
            }
        elif op_id == "icalUrl" and pick % 3:  # one known person or rotation: a 200 with its URL
            case.query = {"person": PEOPLE[pick % len(PEOPLE)]} if pick % 3 == 1 else {"rotation": ROTATIONS[pick % 2]}
        elif op_id in ("linkPage", "linkAct"):
            expires = self.daemon.now() + timedelta(hours=1)
            case.path_parameters["token"] = links.sign(
                self.keys,
                1 + pick % 3,
                links.ACTIONS[pick % len(links.ACTIONS)],
                PEOPLE[pick % len(PEOPLE)],
                expires,
                generation=0,  # the opening round of each incident
            )
        elif op_id in ("twilioVoice", "twilioStatus") and pick % 2:
            case.query = {**(case.query or {}), "msg": str(1 + pick % 6)}
        if op_id in ("twilioSms", "twilioVoice") and isinstance(case.body, dict) and pick % 3:
            case.body["From"] = PEOPLE_PHONES[pick % len(PEOPLE_PHONES)]
        if pick % 2:
            return  # the other half as generated
        if isinstance(case.body, dict):
            case.body = _without_control_characters(case.body)
        path, body = case.path_parameters, case.body if isinstance(case.body, dict) else {}
        if "id" in path and op_id not in ("cancelBooking", "removeOverride"):
            path["id"] = 1 + pick % 3  # the incidents the fixture opened
        if op_id == "heartbeat":
            path["name"] = "alertmanager"
        elif op_id == "rotationShifts":
            path["name"] = ROTATIONS[pick % 2]
        elif op_id == "customerStatement":
            path["customer"] = ("acme", "agency")[pick % 2]
        elif op_id == "addBooking":
            body["customer"] = "acme"
        elif op_id == "addOverride":
            body.update(rotation=ROTATIONS[pick % 2], person=PEOPLE[pick % len(PEOPLE)])
            body.pop("replaces", None)
        elif op_id == "addWork" and "minutes" in body:
            body.pop("start", None), body.pop("end", None)
        if "start" in body and "end" in body:  # a span that ends after it starts, hours long
            start = datetime.fromisoformat(body["start"].replace("Z", "+00:00"))
            body["end"] = (start + timedelta(minutes=1 + pick % 600)).isoformat()

    def _twilio_signature(self, request: requests.PreparedRequest) -> str:
        """Twilio's signature of the request as the daemon reads it: its public URL and the parsed form."""
        body = request.body or b""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        form = MultiDict(parse_qsl(text, keep_blank_values=True))
        return RequestValidator(TWILIO_TOKEN).compute_signature(self.daemon.url + request.path_url, form)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    work = tmp_path_factory.mktemp("openapi-fuzz")
    config = manual_clock_config(work / "pagerd.yaml", START)
    p = PagerdProcess(work, config=config, extra_env={"TWILIO_AUTH_TOKEN": TWILIO_TOKEN}).start()
    try:
        # something to act on: three incidents, paged (outbox messages 1.. exist for the Twilio callbacks)
        firing = (ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_bytes()
        assert p.request("POST", "/api/v1/alerts/alertmanager", firing, token=p.webhook_token)[0] == 200
        assert (
            p.request(
                "POST",
                "/api/v1/alerts/nagios",
                b"NOTIFICATIONTYPE=PROBLEM&HOSTNAME=web1&SERVICEDESC=http&SERVICESTATE=CRITICAL",
                token=p.webhook_token,
                content_type="application/x-www-form-urlencoded",
            )[0]
            == 200
        )
        event = {
            "routing_key": p.webhook_token,
            "event_action": "trigger",
            "payload": {"summary": "checkout slow", "source": "grafana", "severity": "critical"},
        }
        assert p.request("POST", "/v2/enqueue", json.dumps(event).encode())[0] == 202
        p.advance("20m")
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def schema(daemon):
    """The contract as the daemon serves it (loaded from the text: `from_url` leaves out the operation
    that serves the schema itself)."""
    answer = requests.get(daemon.url + "/api/v1/openapi.yaml", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/yaml")
    schemathesis.openapi.format("date-time", _instants())
    # a body over server.max_body_bytes is refused with 413 before it is parsed: a rejection too
    config = schemathesis.Config.from_dict(
        {
            "checks": {
                "negative_data_rejection": {
                    # 303: a portal page without a session redirects to sign-in
                    "expected-statuses": ["303", "400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]
                }
            }
        }
    )
    return schemathesis.openapi.from_dict(yaml.safe_load(answer.text), config=config)


@pytest.fixture(scope="module")
def valid_schema(daemon, schema):
    """The contract for the stateful run: valid data only (invalid data is the first test's; mixed into
    the scenarios it breaks the chains of links at their first step)."""
    answer = requests.get(daemon.url + "/api/v1/openapi.yaml", timeout=10)
    config = schemathesis.Config.from_dict({"generation": {"mode": "positive"}})
    # valid data has instants pagerd takes: around the daemon's clock, not over year 1-9999 (of which only
    # 1900-2199 is valid, so a chain of links would rarely get past a booking or an override it creates)
    schemathesis.openapi.format("date-time", _instants(_NEAR_START))
    # only the resources whose answers give links (bookings, overrides, incidents, the webhooks that open
    # incidents): every other operation is the first test's, and mixed in here it only spends the bounded
    # steps on chains that cannot succeed (maintenance, tickets and contacts need a project or customer of the
    # config; the portal's forms need a session and its CSRF token; the Twilio callbacks a signature)
    return schemathesis.openapi.from_dict(yaml.safe_load(answer.text), config=config).include(
        path_regex="^/api/v1/(bookings|overrides|incidents|alerts)"
    )


def _portal(op) -> bool:
    return any("portalSession" in req for req in op.definition.raw.get("security", []))


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def _examples(client: Client, op, mode: GenerationMode, secured: bool, checks: list, counter: list[int]):
    """A hypothesis test of one operation in one generation mode: positive cases go out once without
    credentials (a secured operation must refuse them) and once with them; every answer is checked."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case):
        counter[0] += 1
        if mode is GenerationMode.POSITIVE:  # first as generated, without credentials
            bare = client.send(case, credentials=False)
            case.validate_response(bare, checks=CHECKS)
            if secured and _portal(op):  # a portal page: to sign-in, or refused
                signin = bare.status_code == 303 and bare.headers.get("location") == ["/ui/login"]
                assert signin or bare.status_code >= 400, f"{op.label} answered {bare.status_code} without a session"
            elif secured:
                assert bare.status_code >= 400, f"{op.label} answered {bare.status_code} without credentials"
        response = client.send(case, credentials=True)
        case.validate_response(response, checks=checks)

    return run


def test_every_operation_answers_as_its_contract_says(daemon, schema, record_property):
    schemathesis.openapi.format("date-time", _instants())  # the whole range (valid_schema narrows it)
    client = Client(daemon)
    ops = _operations(schema)
    described = sum(
        1 for item in schema.raw_schema["paths"].values() for m in item if m in ("get", "post", "patch", "delete")
    )
    assert len(ops) == described, [op.label for op in ops]
    failures: list[str] = []
    spent: dict[str, float] = {}
    counter = [0]  # examples run
    started = time.monotonic()
    for op in ops:
        secured = bool(op.definition.raw.get("security"))
        op_started = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

            run = _examples(client, op, mode, secured, checks, counter)
            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, f"{op.label}: no valid input can be generated"
                # nothing of the operation can be invalid (no parameters, or a path parameter whose only
                # invalid value, the empty string, cannot be sent)
            except Exception as exc:  # one report for all operations, each failure with its example (cut short)
                failures.append(f"--- {op.label} ({mode.value}) ---\n{str(exc)[:3000]}")
        spent[op.label] = time.monotonic() - op_started
    elapsed = time.monotonic() - started
    examples = counter[0]
    record_property(
        "openapi_fuzz", f"{len(ops)} operations, {examples} examples, {client.calls} requests, {elapsed:.1f}s"
    )
    for label, counts in sorted(client.statuses.items()):
        print(f"{label}: {dict(sorted(counts.items()))} {spent.get(label, 0):.1f}s")
    print(f"\nschemathesis: {len(ops)} operations, {examples} examples, {client.calls} requests, {elapsed:.1f}s")
    assert not failures, "\n".join(failures)


def test_the_links_of_the_contract_hold_statefully(daemon, valid_schema):
    client = Client(daemon)
    steps: list[tuple[str, int]] = []
    base = valid_schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def call(self, case, **kwargs):
            response = client.send(case, credentials=True)
            steps.append((case.operation.label, response.status_code))
            return response

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    started = time.monotonic()
    try:
        Machine.run(
            settings=settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )
    except FlakyStrategyDefinition:
        # Hypothesis stops when a scenario it draws again finds other bundles than before: the daemon is one
        # live server whose state the earlier scenarios changed (a booking created, an incident resolved).
        # That is the run's limit, not an answer of pagerd's: every answer given so far was checked against
        # the contract (validate_response raises a failure of its own), and the steps taken are judged below.
        print("stateful run ended early: a redrawn scenario met the server's changed state")
    for label, counts in sorted(client.statuses.items()):
        print(f"stateful {label}: {dict(sorted(counts.items()))}")
    print(f"\nschemathesis stateful: {client.calls} requests, {time.monotonic() - started:.1f}s")
    assert len(steps) >= STATEFUL_SCENARIOS
    # the links were followed: an id that an answer gave (a created booking or override, an incident of a
    # webhook's answer or of the list) was used by a later step that succeeded on it
    followed = {
        ("DELETE /api/v1/bookings/{id}", 200),
        ("DELETE /api/v1/overrides/{id}", 200),
        ("POST /api/v1/incidents/{id}/ack", 200),
        ("POST /api/v1/incidents/{id}/resolve", 200),
        ("POST /api/v1/incidents/{id}/work", 201),
        ("GET /api/v1/incidents/{id}/work", 200),
    }
    assert followed & set(steps), steps


def test_the_contract_is_served_as_it_is_in_the_package(daemon):
    status, body = daemon.request("GET", "/api/v1/openapi.yaml")
    assert status == 200
    assert body == (Path(__file__).resolve().parents[2] / "pager" / "web" / "openapi.yaml").read_text()
