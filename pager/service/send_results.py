"""What a send did, recorded whatever happens to the database or the engine meanwhile.

A message is claimed (`sending`) before it is sent, and its result is written after (Store.finish_message).
When that write fails (the database connection was cut, the server restarts) or the engine is stopped
while it runs (the engine lease was lost with the connection), the message would stay `sending`, and the
engine's next start recovers `sending` messages as never sent: it would send it a second time. So the
result of a send that happened is written apart from the engine's stages:

- shielded from the engine's cancellation (the write goes on when the lease is lost meanwhile);
- tried again while the database is away (`Unavailable`), every `every` seconds, `tries` times;
- still not written after that: kept in memory, and written by `settle()`, which the engine runs before it
  recovers the outbox (on this node, the next time it runs the engine).

What this cannot cover: a process that dies between the send and the write (kill -9, a power cut). Its
claimed messages go out again from the next holder, at least once, with the same message id (the
provider's idempotency key).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog

from pager.storage.port import Store, Unavailable

log = structlog.get_logger("pagerd.engine")


class SendResults:
    def __init__(self, store: Store, *, every: float = 0.25, tries: int = 40) -> None:
        self.store, self.every, self.tries = store, every, tries
        self._writing: set[asyncio.Future[None]] = set()
        self._kept: dict[int, dict] = {}  # carrier -> finish_message's arguments, not yet written

    async def record(
        self,
        carrier: int,
        *,
        sent: bool,
        provider_id: str | None,
        error: str | None,
        retry_at: datetime | None,
        now: datetime,
        simulated: bool = False,
    ) -> None:
        """Write the result of the send of `carrier` (Store.finish_message); returns once it is written or
        kept for settle()."""
        args = dict(sent=sent, provider_id=provider_id, error=error, retry_at=retry_at, now=now, simulated=simulated)
        task = asyncio.ensure_future(self._write(carrier, args))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        await asyncio.shield(task)

    async def _write(self, carrier: int, args: dict) -> None:
        for attempt in range(1, self.tries + 1):
            try:
                await self.store.finish_message(carrier, **args)
                return
            except Unavailable as exc:
                if attempt == self.tries:
                    log.warning("send_result_kept", message_id=carrier, error=str(exc))
                    self._kept[carrier] = args
                    return
                await asyncio.sleep(self.every)

    async def settle(self) -> None:
        """Every result written: waits for the writes under way, then writes those kept (raises Unavailable
        while the database is away; they stay kept)."""
        if self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)
        for carrier, args in list(self._kept.items()):
            await self.store.finish_message(carrier, **args)
            del self._kept[carrier]

    @property
    def unwritten(self) -> int:
        """Results not yet written (under way or kept)."""
        return len(self._writing) + len(self._kept)
