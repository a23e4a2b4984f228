"""The test-only clock: the composition root chooses it from the config, the config refuses it unless
PAGERD_ALLOW_TEST_CLOCK=1, and only then does the daemon have POST/GET /api/v1/testing/clock."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from pager.app import make_clock
from pager.clock import ManualClock, SystemClock
from pager.config import load
from pager.observe.metrics import Metrics
from pager.service.schedule import Schedule
from pager.web.app import build_app
from pager.web.keys import Runtime

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "testdata" / "configs"
TESTING = CONFIGS / "good" / "testing_clock.yaml"  # testing.start: 2026-01-05T09:00:00+01:00
START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
ALLOW = {"PAGERD_ALLOW_TEST_CLOCK": "1"}
ADMIN = {"Authorization": "Bearer minimal-admin-token"}


def test_the_composition_root_chooses_the_clock_from_the_config():
    assert isinstance(make_clock(load(CONFIGS / "good" / "minimal.yaml", env={})), SystemClock)
    clock = make_clock(load(TESTING, env=ALLOW))
    assert isinstance(clock, ManualClock) and clock.now() == START


@pytest.mark.parametrize("env, code", [({}, 2), ({"PAGERD_ALLOW_TEST_CLOCK": "0"}, 2), (ALLOW, 0)])
def test_check_config_refuses_the_test_clock_unless_the_environment_allows_it(env, code):
    r = subprocess.run(
        [sys.executable, "-m", "pager", "check-config", str(TESTING)],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
    )
    assert r.returncode == code, r.stderr
    if code:
        assert "testing_clock.yaml:8: testing.clock: manual is a test-only setting" in r.stderr
        assert "PAGERD_ALLOW_TEST_CLOCK=1" in r.stderr


class Engine:
    """Stands in for the paging engine's loop: takes every poke at once (`wake` is cleared before a
    tick), unless `stuck`."""

    def __init__(self) -> None:
        self.pokes, self.stuck = 0, False
        self.wake = asyncio.Event()

    def poke(self) -> None:
        self.pokes += 1
        if self.stuck:
            self.wake.set()


async def _client(cfg_path: Path, env: dict) -> tuple[TestClient, Runtime]:
    cfg = load(cfg_path, env=env)
    rt = Runtime(
        config=cfg,
        config_path=str(cfg_path),
        store=None,
        metrics=Metrics(),  # type: ignore[arg-type]
        clock=make_clock(cfg),
        schedule=Schedule(cfg),
        ready=True,
        engine=Engine(),
    )
    client = TestClient(TestServer(build_app(rt)))
    await client.start_server()
    return client, rt


async def test_advance_and_set_move_the_clock_answer_the_new_now_and_poke_the_engine():
    client, rt = await _client(TESTING, ALLOW)
    try:
        r = await client.get("/api/v1/testing/clock", headers=ADMIN)
        assert (r.status, await r.json()) == (200, {"now": "2026-01-05T08:00:00Z"})
        r = await client.post("/api/v1/testing/clock", json={"advance": "15m"}, headers=ADMIN)
        assert (r.status, await r.json()) == (200, {"now": "2026-01-05T08:15:00Z", "ticked": True})
        # poked twice: once for a tick at the new now, once more to see that tick end
        assert rt.clock.now() == START + timedelta(minutes=15) and rt.engine.pokes == 2
        r = await client.post("/api/v1/testing/clock", json={"set": "2026-01-05T10:00:00+01:00"}, headers=ADMIN)
        assert (r.status, await r.json()) == (200, {"now": "2026-01-05T09:00:00Z", "ticked": True})
        assert rt.clock.monotonic() == 3600.0 and rt.engine.pokes == 4
    finally:
        await client.close()


async def test_set_steps_the_wall_clock_back_while_monotonic_time_stands_still():
    client, rt = await _client(TESTING, ALLOW)
    try:
        r = await client.post("/api/v1/testing/clock", json={"advance": "1h"}, headers=ADMIN)
        assert r.status == 200 and rt.clock.monotonic() == 3600.0
        r = await client.post("/api/v1/testing/clock", json={"set": "2026-01-05T07:30:00Z"}, headers=ADMIN)
        assert (r.status, await r.json()) == (200, {"now": "2026-01-05T07:30:00Z", "ticked": True})
        assert rt.clock.now() == START - timedelta(minutes=30) and rt.clock.monotonic() == 3600.0
        assert rt.engine.pokes == 4
    finally:
        await client.close()


async def test_a_move_says_so_when_the_engine_does_not_tick_in_time(monkeypatch):
    from pager.web import testing_api

    monkeypatch.setattr(testing_api, "TICK_WAIT_SECONDS", 0.05)
    client, rt = await _client(TESTING, ALLOW)
    rt.engine.stuck = True
    try:
        r = await client.post("/api/v1/testing/clock", json={"advance": "1s"}, headers=ADMIN)
        assert (r.status, await r.json()) == (200, {"now": "2026-01-05T08:00:01Z", "ticked": False})
    finally:
        await client.close()


@pytest.mark.parametrize(
    "body, headers, status, problem",
    [
        ({"advance": "1m"}, {}, 401, None),
        ({"advance": "1m"}, {"Authorization": "Bearer wrong-token-123"}, 401, None),
        ({}, ADMIN, 422, "body"),
        ({"advance": "1m", "set": "2026-01-05T09:00:00Z"}, ADMIN, 422, "body"),
        ({"advance": "soon"}, ADMIN, 422, "advance"),
        ({"advance": "-5m"}, ADMIN, 422, "advance"),
        ({"advance": 60}, ADMIN, 422, "advance"),
        ({"advance": "401d"}, ADMIN, 422, "advance"),
        ({"set": "2024-11-01T08:00:00Z"}, ADMIN, 422, "set"),
        ({"set": "2026-01-05T09:00:00"}, ADMIN, 422, "set"),
        ({"set": "tomorrow"}, ADMIN, 422, "set"),
        ({"rewind": "1m"}, ADMIN, 422, "rewind"),
    ],
)
async def test_bad_moves_are_refused_and_leave_the_clock_alone(body, headers, status, problem):
    client, rt = await _client(TESTING, ALLOW)
    try:
        r = await client.post(
            "/api/v1/testing/clock", data=json.dumps(body), headers={"Content-Type": "application/json", **headers}
        )
        answer = await r.json()
        assert r.status == status, answer
        if problem:
            assert problem in [p["field"] for p in answer["problems"]], answer
        assert rt.clock.now() == START and rt.engine.pokes == 0
    finally:
        await client.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_without_the_setting_there_is_no_such_route(method):
    client, rt = await _client(CONFIGS / "good" / "minimal.yaml", {})
    try:
        r = await client.request(method, "/api/v1/testing/clock", json={"advance": "1m"}, headers=ADMIN)
        assert r.status == 404
        assert isinstance(rt.clock, SystemClock)
    finally:
        await client.close()
