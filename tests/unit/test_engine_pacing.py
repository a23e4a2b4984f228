"""How the engine's loop paces its ticks (PagingEngine.run): a poke that finds the engine idle is served
by a tick at once; pokes that come while a tick runs are served together by one next tick, after the
pause `pace`. The ticks are counted and the loop is driven by event-loop turns; the pause is an hour
where a test shows that it is not taken (or that it is), so no test depends on how fast this machine is."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from pager.clock import ManualClock
from pager.observe.metrics import Metrics
from pager.service.paging import PagingEngine

HOUR = 3600.0


class Store:
    async def recover_sending(self, now: datetime) -> None:
        return None


class Engine(PagingEngine):
    """The real loop (`run`) around a counted tick that a test can hold open (a tick in progress)."""

    def __init__(self) -> None:
        super().__init__(
            Store(),
            ManualClock(datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc)),
            Metrics(),
            None,  # type: ignore[arg-type]  # no stage runs: tick() is counted instead
            lambda: (None, None),  # type: ignore[arg-type,return-value]
            idle=HOUR,  # no tick by the idle timeout while a test runs
        )
        self.ticks = 0
        self.gate: asyncio.Event | None = None  # set: the next tick waits for it (a tick in progress)
        self.entered = asyncio.Event()

    async def tick(self) -> bool:
        self.ticks += 1
        self.entered.set()
        if self.gate is not None:
            gate, self.gate = self.gate, None
            await gate.wait()
        return True


async def turns(n: int = 50) -> None:
    """Let the event loop run `n` times round: enough for the engine's loop to take a poke and tick."""
    for _ in range(n):
        await asyncio.sleep(0)


async def start(engine: Engine, pace: float) -> asyncio.Task:
    task = asyncio.create_task(engine.run(pace=pace))
    await turns()
    assert engine.ticks == 1  # the tick at start-up, then it waits for a poke
    return task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_poke_that_finds_the_engine_idle_is_served_at_once_without_the_pause():
    engine = Engine()
    task = await start(engine, pace=HOUR)  # were the pause taken, no tick would follow for an hour
    try:
        engine.poke()
        await turns()
        assert engine.ticks == 2
        await turns()
        assert engine.ticks == 2  # one poke, one tick: nothing came while it ran, so the engine waits
        engine.poke()  # the next alert, some time later: at once again
        await turns()
        assert engine.ticks == 3
    finally:
        await stop(task)


async def test_pokes_during_a_tick_are_served_by_one_next_tick():
    engine = Engine()
    task = await start(engine, pace=0)
    try:
        gate = engine.gate = asyncio.Event()
        engine.entered.clear()
        engine.poke()
        await asyncio.wait_for(engine.entered.wait(), 30)  # tick 2 runs, held open (30 s: a hang guard only)
        for _ in range(25):  # a burst of webhooks while it runs
            engine.poke()
            await asyncio.sleep(0)
        assert engine.ticks == 2
        gate.set()
        await turns()
        assert engine.ticks == 3  # the whole burst: one tick
        await turns()
        assert engine.ticks == 3  # nothing came during that one: idle again
        engine.poke()
        await turns()
        assert engine.ticks == 4
    finally:
        await stop(task)


async def test_under_load_the_engine_pauses_before_the_next_tick():
    engine = Engine()
    task = await start(engine, pace=HOUR)
    try:
        gate = engine.gate = asyncio.Event()
        engine.entered.clear()
        engine.poke()
        await asyncio.wait_for(engine.entered.wait(), 30)
        engine.poke()  # came while tick 2 ran: load
        gate.set()
        await turns()
        assert engine.ticks == 2  # pausing (an hour here): the handlers run, the next tick takes a batch
        engine.poke()  # more pokes during the pause add no tick
        await turns()
        assert engine.ticks == 2
    finally:
        await stop(task)


async def test_a_cancel_that_comes_with_a_poke_stops_the_engine():
    """The engine lease lost (run_leased cancels the engine) at the moment a webhook pokes it: the engine
    stops. Python 3.11's asyncio.wait_for returns the poke and drops the cancel when both come in the same
    turn; the engine then ran on while its node reported itself leader (tests/integration/test_postgres_faults.py
    saw two leaders)."""
    engine = Engine()
    task = await start(engine, pace=HOUR)
    engine.poke()
    task.cancel()
    await turns()
    assert task.cancelled(), f"the engine ran on: {engine.ticks} ticks"
    assert engine.ticks == 1
