"""Retention: raw webhook bodies, delivery ids and Twilio callback ids older than `storage.retention` are
pruned (callback ids with the delivery ids, at `storage.retention.delivery_ids`).

A stage of the paging engine. It runs at most every PRUNE_EVERY (when it last finished is kept in the
store, so a restart does not run it again at once), in batches of BATCH rows, each its own short write
that webhooks interleave with, and at most MAX_BATCHES per tick: a backlog (the first run on an old
database) is worked off over the next ticks and only then counts as finished.

Incidents, alerts, their timeline and billing data are kept. A delivery id is what makes a re-sent
notification change nothing; one pruned is applied again if its notification comes once more. That is
safe only because every retention is at least a day (check-config refuses less, and less than the
Events v2 duplicate window): longer than any source retries a webhook it got no answer to. README,
"Retention", lists the sources' horizons and the one repeat that can come later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from pager.config import Config
from pager.storage.port import Pruned, Store

log = structlog.get_logger("pagerd.retention")

PRUNE_EVERY = timedelta(minutes=5)
BATCH = 500
MAX_BATCHES = 20


async def prune_retention(store: Store, cfg: Config, now: datetime) -> Pruned | None:
    """Prune what is past its retention, if the last run (as the store keeps it) finished PRUNE_EVERY
    ago or more. Returns what this call pruned, or None when it was not due."""
    pruned, _ = await _prune_if_due(store, cfg, now, await store.pruned_at())
    return pruned


class RetentionStage:
    """`prune_retention` as a stage of the engine: when the last run finished is read from the store
    once (a restart does not prune again at once), then kept here, not read again on every tick."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.finished: datetime | None = None
        self._read = False

    async def __call__(self, cfg: Config, now: datetime) -> Pruned | None:
        if not self._read:
            self.finished, self._read = await self.store.pruned_at(), True
        pruned, self.finished = await _prune_if_due(self.store, cfg, now, self.finished)
        return pruned


async def _prune_if_due(
    store: Store, cfg: Config, now: datetime, finished: datetime | None
) -> tuple[Pruned | None, datetime | None]:
    """What was pruned (None when not due), and when the last run finished afterwards."""
    if finished is not None and now - finished < PRUNE_EVERY:
        return None, finished
    kept = cfg.storage.retention
    before_raw, before_ids = now - kept.raw_bodies, now - kept.delivery_ids
    bodies = ids = callbacks = 0
    for _ in range(MAX_BATCHES):
        batch = await store.prune(before_raw, before_ids, BATCH)
        bodies += batch.bodies
        ids += batch.delivery_ids
        callbacks += batch.callbacks
        if batch.bodies < BATCH and batch.delivery_ids < BATCH and batch.callbacks < BATCH:
            await store.mark_pruned(now)
            finished = now
            break
    if bodies or ids or callbacks:
        log.info(
            "retention_pruned",
            bodies=bodies,
            delivery_ids=ids,
            callbacks=callbacks,
            before_raw=before_raw.isoformat(),
            before_ids=before_ids.isoformat(),
        )
    return Pruned(bodies=bodies, delivery_ids=ids, callbacks=callbacks), finished
