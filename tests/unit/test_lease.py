"""pager.service.lease: the engine runs only while the lease is held, stops when it is lost, and a fenced
notifier sends nothing once the lease is no longer certain. A scripted lease stands in for PostgreSQL's
(tests/integration/test_postgres_nodes.py runs the real one)."""

from __future__ import annotations

import asyncio

import pytest

from pager.notify.base import Message, SendResult
from pager.observe.metrics import Metrics
from pager.service.lease import FencedNotifier, LeaseLost, run_leased
from pager.storage.port import ConnectionUse, Unavailable


class ScriptedLease:
    def __init__(self, acquire: list[bool | Exception], renew: list[bool]) -> None:
        self.acquire, self.renew_answers = list(acquire), list(renew)
        self.held_now = False
        self.released = 0

    @property
    def held(self) -> bool:
        return self.held_now

    def valid(self) -> bool:
        return self.held_now

    async def try_acquire(self) -> bool:
        answer = self.acquire.pop(0) if self.acquire else False
        if isinstance(answer, Exception):
            raise answer
        self.held_now = answer
        return answer

    async def renew(self) -> bool:
        self.held_now = self.renew_answers.pop(0) if self.renew_answers else False
        return self.held_now

    async def release(self) -> None:
        self.held_now = False
        self.released += 1

    def connections(self) -> list[ConnectionUse]:
        return [ConnectionUse("lease", int(self.held_now), 0)]


def _gauge(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None
    return value


async def test_the_engine_starts_when_the_lease_is_taken_and_stops_when_it_is_lost() -> None:
    metrics = Metrics()
    lease = ScriptedLease(acquire=[OSError("db away"), False, True], renew=[True, True, False])
    runs: list[str] = []

    async def engine() -> None:
        runs.append("started")
        try:
            await asyncio.sleep(3600)
        finally:
            runs.append("stopped")

    task = asyncio.create_task(
        run_leased(lease, engine, metrics, on_standby=lambda: runs.append("standby"), every=0.001)
    )
    for _ in range(500):
        await asyncio.sleep(0.001)
        if "stopped" in runs:
            break
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # unreachable: no keep-alive; another holder: a keep-alive; taken: started; cancelled at the third renewal
    assert runs[:3] == ["standby", "started", "stopped"]
    assert _gauge(metrics, "pagerd_engine_takeovers_total") == 1.0
    assert _gauge(metrics, "pagerd_engine_leader") == 0.0
    assert lease.released >= 1


async def test_an_engine_that_raises_ends_the_leased_run() -> None:
    lease = ScriptedLease(acquire=[True], renew=[True] * 100)

    async def engine() -> None:
        raise ValueError("a stage outside any guard broke")

    with pytest.raises(ValueError):
        await asyncio.wait_for(run_leased(lease, engine, Metrics(), every=0.001), timeout=5)
    assert lease.released == 1


async def test_an_engine_that_finds_the_database_unavailable_lets_the_lease_go_and_asks_again() -> None:
    metrics = Metrics()
    lease = ScriptedLease(acquire=[True, True], renew=[True] * 100)
    runs: list[str] = []

    async def engine() -> None:
        runs.append("started")
        if len(runs) == 1:  # the first run's outbox recovery meets a cut
            raise Unavailable("the database cannot be reached now; retry later", 5)
        await asyncio.sleep(3600)

    task = asyncio.create_task(run_leased(lease, engine, metrics, every=0.001))
    for _ in range(500):
        await asyncio.sleep(0.001)
        if len(runs) == 2:
            break
    assert not task.done()  # the daemon goes on
    assert runs == ["started", "started"] and lease.released == 1
    assert _gauge(metrics, "pagerd_engine_leader") == 1.0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class Recorder:
    channels = frozenset({"sms"})

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, msg: Message) -> SendResult:
        self.sent.append(msg.id)
        return SendResult(sent=True, recoverable=False, provider_id="x", simulated=True)

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("valid, sent", [(True, ["1"]), (False, [])])
async def test_a_fenced_notifier_sends_only_while_the_lease_is_certain(valid: bool, sent: list[str]) -> None:
    inner = Recorder()
    fenced = FencedNotifier(inner, lambda: valid)
    msg = Message(id="1", channel="sms", to="+31612345678", body="x")
    if valid:
        await fenced.send(msg)
    else:
        with pytest.raises(LeaseLost):
            await fenced.send(msg)
    assert inner.sent == sent
