"""Acknowledging or resolving an incident through the API pokes the engine on this node: it stops escalating
(its queued pages cancelled) at once, not at the next idle tick. A refused move pokes nothing."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from pager.app import policy
from pager.clock import ManualClock
from pager.config import load
from pager.domain.alert import Action
from pager.observe.metrics import Metrics
from pager.service.schedule import Schedule
from pager.storage.sqlite import SqliteStore
from pager.web.app import build_app
from pager.web.keys import Runtime
from tests.contract.seed import T0, delivery

from .test_testing_clock import ADMIN, CONFIGS, Engine


async def test_ack_and_resolve_poke_the_engine_and_a_refused_move_does_not(tmp_path: Path) -> None:
    cfg = load(CONFIGS / "good" / "minimal.yaml", env={})
    clock = ManualClock(T0)
    store = SqliteStore(str(tmp_path / "p.db"), policy(cfg), clock=clock)
    await store.open()
    engine = Engine()
    rt = Runtime(
        config=cfg,
        config_path="minimal.yaml",
        store=store,
        metrics=Metrics(),
        clock=clock,
        schedule=Schedule(cfg),
        ready=True,
        engine=engine,  # type: ignore[arg-type]
    )
    client = TestClient(TestServer(build_app(rt)))
    await client.start_server()
    try:
        (iid,) = (await store.ingest(delivery("db-down", Action.TRIGGER, T0))).incident_ids
        r = await client.post(f"/api/v1/incidents/{iid}/ack", json={"by": "anna"}, headers=ADMIN)
        assert (r.status, engine.pokes) == (200, 1)
        r = await client.post(f"/api/v1/incidents/{iid}/resolve", json={"by": "anna"}, headers=ADMIN)
        assert (r.status, engine.pokes) == (200, 2)
        r = await client.post(f"/api/v1/incidents/{iid}/ack", json={"by": "anna"}, headers=ADMIN)
        assert (r.status, engine.pokes) == (409, 2)  # resolved: no longer acknowledged
        r = await client.post("/api/v1/incidents/999/ack", json={}, headers=ADMIN)
        assert (r.status, engine.pokes) == (404, 2)
        r = await client.post(f"/api/v1/incidents/{iid}/ack", json={"by": 7}, headers=ADMIN)
        assert (r.status, engine.pokes) == (422, 2)
    finally:
        await client.close()
        await store.close()
