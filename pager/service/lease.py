"""The engine on a node of several (storage.backend: postgres): it runs only while this node holds the engine
lease (pager.storage.postgres.EngineLease), and stops the moment the lease is lost.

A node that does not hold the lease asks for it every `every` seconds and meanwhile takes webhooks, the API
and the portal like any other. Taking the lease starts the engine, whose first act is to recover the
outbox (messages a previous holder had claimed but not finished go out again under their idempotency
keys); losing it cancels the engine before the next holder can start (the lease's ttl). An engine that
finds the database unavailable (its outbox recovery, during a connection cut or a server restart) lets the
lease go and stands by; one that raises anything else ends this too, so the daemon exits non-zero as on one
node."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from pager.observe.metrics import Metrics
from pager.storage.port import ConnectionUse, LeaseLost, Unavailable

log = structlog.get_logger("pagerd.lease")


class Lease(Protocol):
    @property
    def held(self) -> bool: ...
    def valid(self) -> bool: ...
    async def try_acquire(self) -> bool: ...
    async def renew(self) -> bool: ...
    async def release(self) -> None: ...
    def connections(self) -> list[ConnectionUse]: ...


async def run_leased(
    lease: Lease,
    run: Callable[[], Awaitable[None]],
    metrics: Metrics,
    *,
    on_standby: Callable[[], None] | None = None,
    every: float = 1.0,
) -> None:
    """Run `run()` (the engine) only while `lease` is held; runs until cancelled or the engine raises.
    `on_standby` is called after each ask that reached the database (the systemd watchdog's keep-alive of a
    node that waits)."""
    metrics.engine_leader.set(0)
    try:
        while True:
            try:
                taken = await lease.try_acquire()
            except Exception as exc:  # the database is away: no keep-alive, ask again
                log.warning("engine_lease_unreachable", error=str(exc))
                taken = False
            else:
                if not taken and on_standby is not None:
                    on_standby()
            if not taken:
                await asyncio.sleep(every)
                continue
            metrics.engine_leader.set(1)
            metrics.engine_takeovers.inc()
            log.info("engine_lease_taken")
            await _lead(lease, run, every)
            metrics.engine_leader.set(0)
            log.warning("engine_lease_lost")
    finally:
        metrics.engine_leader.set(0)
        await lease.release()


async def _lead(lease: Lease, run: Callable[[], Awaitable[None]], every: float) -> None:
    """The engine while the lease holds; returns when it is lost; raises what the engine raised."""
    task = asyncio.ensure_future(run())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if task in done:
                if isinstance(task.exception(), Unavailable):  # the database went away (a cut, a restart):
                    log.warning("engine_store_unavailable", error=str(task.exception()))
                    await lease.release()  # stand by and ask again, as a node that lost the lease does
                    return
                task.result()  # the engine raised: the daemon exits non-zero
                raise RuntimeError("the engine ended")
            if not await lease.renew():
                return
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class FencedNotifier:
    """A notifier that sends only while the lease is valid (Lease.valid): a node that lost it, or may have,
    raises LeaseLost instead of sending. The engine counts that as a failed stage; the claimed message is
    sent by the next holder, which recovers the outbox when it starts."""

    def __init__(self, inner, valid: Callable[[], bool]) -> None:  # inner: a pager.notify.base.Notifier
        self.inner, self.valid = inner, valid
        self.channels = inner.channels

    async def send(self, msg):  # type: ignore[no-untyped-def]
        if not self.valid():
            raise LeaseLost("the engine lease is no longer certain; the next holder sends this")
        return await self.inner.send(msg)

    async def close(self) -> None:
        await self.inner.close()


class FencedMailSender:
    """The same check before each mail to a customer (pager.service.customer_mail.MailSender)."""

    def __init__(self, inner, valid: Callable[[], bool]) -> None:
        self.inner, self.valid = inner, valid

    async def send_email(self, em, ref, *, incident_id=None):  # type: ignore[no-untyped-def]
        if not self.valid():
            raise LeaseLost("the engine lease is no longer certain; the next holder sends this")
        return await self.inner.send_email(em, ref, incident_id=incident_id)
