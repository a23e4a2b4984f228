"""An idle node pages a new incident without a pause: the engine's own loop (`run`), a real SQLite store
and the webhook route, on a manual clock. The pause under load is an hour here, so the page can only
go out if the poke from the webhook found the engine idle and was served at once (see
tests/unit/test_engine_pacing.py for the loop's pacing, ticks counted)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from pager import config as config_mod
from pager.app import make_notifier, policy
from pager.clock import ManualClock
from pager.observe.metrics import Metrics
from pager.service.paging import PagingEngine
from pager.service.schedule import Schedule
from pager.storage.sqlite import SqliteStore
from pager.web.app import build_app
from pager.web.keys import Runtime
from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV

HOUR = 3600.0
HANG_GUARD = 30.0  # seconds: only so that a broken loop fails instead of hanging; no speed is asserted


def webhook(key: str) -> dict:
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname=\"{key}\"}}",
        "status": "firing",
        "receiver": "pagerd",
        "groupLabels": {"alertname": key},
        "commonLabels": {"alertname": key, "customer": "agency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": key, "customer": "agency", "severity": "critical"},
                "annotations": {"summary": f"{key} is down"},
                "startsAt": "2026-12-02T13:59:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": key,
            }
        ],
    }


async def until(check, what: str) -> None:
    for _ in range(int(HANG_GUARD / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within the hang guard ({HANG_GUARD:.0f} s): {what}")


def delivered(db: Path, incident_id: int) -> bool:
    with sqlite3.connect(db) as c:
        row = c.execute(
            "SELECT count(*) FROM outbox WHERE incident_id = ? AND kind = 'page' AND status IN ('sent', 'simulated')",
            (incident_id,),
        ).fetchone()
    return row[0] > 0


async def test_a_webhook_on_an_idle_node_is_paged_by_the_tick_its_poke_starts(tmp_path):
    db = tmp_path / "pagerd.db"
    cfg = config_mod.load(str(EXAMPLE_CONFIG), env=EXAMPLE_ENV)
    schedule = Schedule(cfg)
    clock = ManualClock(datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc))  # a Wednesday afternoon
    metrics = Metrics()
    store = SqliteStore(str(db), policy(cfg), clock=clock, synchronous="NORMAL")
    await store.open()
    good_ticks: list[int] = []
    engine = PagingEngine(
        store,
        clock,
        metrics,
        make_notifier(cfg, clock),
        lambda: (cfg, schedule),
        on_good_tick=lambda: good_ticks.append(1),
        idle=HOUR,
    )
    runtime = Runtime(
        config=cfg,
        config_path=str(EXAMPLE_CONFIG),
        store=store,
        metrics=metrics,
        clock=clock,
        schedule=schedule,
        ready=True,
        engine=engine,
    )
    http = TestClient(TestServer(build_app(runtime)))
    await http.start_server()
    task = asyncio.create_task(engine.run(pace=HOUR))
    try:
        await until(lambda: len(good_ticks) == 1, "the tick at start-up")
        for n, key in enumerate(("DiskFull", "LoadHigh"), start=2):  # one after the other, the engine idle before each
            resp = await http.post(
                "/api/v1/alerts/alertmanager",
                json=webhook(key),
                headers={"Authorization": f"Bearer {EXAMPLE_ENV['PAGERD_WEBHOOK_TOKEN']}"},
            )
            assert resp.status == 200, await resp.text()
            (incident,) = (await resp.json())["incidents"]
            await until(lambda incident=incident: delivered(db, incident), f"incident {incident} paged")
            await until(lambda n=n: len(good_ticks) == n, "that tick ended")  # idle again
        assert len(good_ticks) == 3  # one tick per webhook
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await http.close()
        await store.close()
