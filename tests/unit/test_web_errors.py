"""Every error is answered as JSON by one middleware (pager/web/errors.py), and the webhook metrics
count the status it answered."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from prometheus_client import generate_latest

from pager import config as config_mod
from pager.clock import ManualClock
from pager.observe.metrics import Metrics
from pager.service.schedule import Schedule
from pager.sources.errors import InputError, Problem
from pager.storage.port import Conflict, NotFound
from pager.web.app import build_app
from pager.web.errors import json_errors
from pager.web.keys import Runtime

MINIMAL = Path(__file__).resolve().parents[1] / "testdata" / "configs" / "good" / "minimal.yaml"
FIRING = (Path(__file__).resolve().parents[1] / "testdata" / "alertmanager" / "firing.json").read_bytes()

# what the handler raises -> status, error text, problems, headers the answer must carry
CASES = [
    (
        InputError(422, "invalid payload", [Problem("alerts.0.labels", "bad name")]),
        422,
        "invalid payload",
        [{"field": "alerts.0.labels", "message": "bad name"}],
        {},
    ),
    (
        InputError(401, "missing or wrong credentials"),
        401,
        "missing or wrong credentials",
        [],
        {"WWW-Authenticate": 'Bearer realm="pagerd"'},
    ),
    (NotFound("incident 9 not found"), 404, "incident 9 not found", [], {}),
    (
        Conflict("incident 9 is resolved; cannot move to acknowledged"),
        409,
        "incident 9 is resolved; cannot move to acknowledged",
        [],
        {},
    ),
    (
        web.HTTPRequestEntityTooLarge(max_size=1024, actual_size=2048),
        413,
        "request body larger than 1048576 bytes",
        [],
        {},
    ),
    (web.HTTPMethodNotAllowed("PUT", ["POST"]), 405, "Method Not Allowed", [], {"Allow": "POST"}),
    (web.HTTPNotFound(), 404, "Not Found", [], {}),
]


@pytest.mark.parametrize("exc,status,error,problems,headers", CASES, ids=lambda v: type(v).__name__)
async def test_an_error_is_answered_as_json(exc, status, error, problems, headers) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise exc

    resp = await json_errors(make_mocked_request("POST", "/x"), handler)
    assert resp.status == status and resp.content_type == "application/json"
    assert json.loads(resp.body) == {"error": error, "problems": problems}
    for key, value in headers.items():
        assert resp.headers[key] == value


@pytest.mark.parametrize(
    "exc,status,error,headers",
    [
        # a fault of pagerd: the same request meets it again
        (RuntimeError("boom"), 500, "internal error; nothing was stored", {}),
        (RecursionError("deep"), 500, "internal error; nothing was stored", {}),
        # what a retry can fix: the store busy or out of space
        (
            sqlite3.OperationalError("database is locked"),
            503,
            "storage unavailable; nothing was stored, retry later",
            {"Retry-After": "5"},
        ),
        (
            sqlite3.OperationalError("database or disk is full"),
            503,
            "storage unavailable; nothing was stored, retry later",
            {"Retry-After": "5"},
        ),
        (
            OSError(28, "No space left on device"),
            503,
            "storage unavailable; nothing was stored, retry later",
            {"Retry-After": "5"},
        ),
    ],
    ids=["fault", "recursion", "locked", "disk-full", "enospc"],
)
async def test_an_unexpected_failure_names_the_request_id_and_only_a_retryable_one_is_a_503(
    exc, status, error, headers
) -> None:
    async def handler(request: web.Request) -> web.Response:
        assert structlog.contextvars.get_contextvars() == {"request_id": "req-42"}
        raise exc

    resp = await json_errors(make_mocked_request("POST", "/x", headers={"X-Request-Id": "req-42"}), handler)
    assert resp.status == status
    assert json.loads(resp.body) == {"error": error, "problems": [], "request_id": "req-42"}
    assert {k: resp.headers[k] for k in headers} == headers
    assert ("Retry-After" in resp.headers) == (status == 503)


async def test_an_input_error_503_says_when_to_retry() -> None:
    async def handler(request: web.Request) -> web.Response:
        raise InputError(503, "the engine is not running")

    resp = await json_errors(make_mocked_request("POST", "/x"), handler)
    assert resp.status == 503 and resp.headers["Retry-After"] == "5"


async def test_an_answer_passes_through_with_a_new_request_id_bound() -> None:
    structlog.contextvars.bind_contextvars(request_id="of-an-earlier-request", incident_id=7)

    async def handler(request: web.Request) -> web.Response:
        bound = structlog.contextvars.get_contextvars()
        assert list(bound) == ["request_id"] and bound["request_id"] not in ("", "of-an-earlier-request")
        return web.json_response({"status": "ok"})

    resp = await json_errors(make_mocked_request("GET", "/x"), handler)
    assert resp.status == 200


class _FailingStore:
    async def ingest(self, delivery):
        raise RuntimeError("disk on fire")


@pytest.fixture
async def client():
    cfg = config_mod.load(MINIMAL)
    runtime = Runtime(
        config=cfg,
        config_path=str(MINIMAL),
        store=_FailingStore(),
        metrics=Metrics(),
        clock=ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)),
        schedule=Schedule(cfg),
        ready=True,
    )
    c = TestClient(TestServer(build_app(runtime)))
    await c.start_server()
    yield c, runtime
    await c.close()


def _requests_counted(runtime: Runtime) -> dict[tuple[str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = generate_latest(runtime.metrics.registry).decode()
    return {
        (s.labels["source"], s.labels["code"]): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "pagerd_webhook_requests_total"
    }


async def test_the_application_answers_and_counts_what_the_middleware_answered(client) -> None:
    c, runtime = client
    hook = {"Authorization": "Bearer minimal-webhook-token", "Content-Type": "application/json"}
    resp = await c.post("/api/v1/alerts/alertmanager", data=FIRING, headers=hook)
    assert resp.status == 500 and (await resp.json())["request_id"]
    resp = await c.post("/api/v1/alerts/alertmanager", data=b"{not json", headers=hook)
    assert resp.status == 400 and (await resp.json())["error"]
    resp = await c.get("/api/v1/alerts/alertmanager")
    assert resp.status == 405 and resp.headers["Allow"] == "POST" and (await resp.json())["problems"] == []
    resp = await c.delete("/nowhere")
    assert resp.status == 404 and (await resp.json())["error"] == "Not Found"
    # a 405 on a webhook path reaches no webhook handler: it is not a webhook request
    assert _requests_counted(runtime) == {("alertmanager", "500"): 1, ("alertmanager", "400"): 1}


async def test_requests_without_an_id_get_ids_of_their_own() -> None:
    seen = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(structlog.contextvars.get_contextvars()["request_id"])
        return web.json_response({"status": "ok"})

    for _ in range(3):
        await json_errors(make_mocked_request("GET", "/x"), handler)
    assert len(set(seen)) == 3 and all(seen)
