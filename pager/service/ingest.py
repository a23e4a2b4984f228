"""The ingest pipeline: parsed alerts -> one durable transaction -> what happened, counted and logged."""
from __future__ import annotations

import structlog

from pager.clock import Clock
from pager.domain.alert import Alert, Source
from pager.observe.logging import debug_enabled
from pager.observe.metrics import Metrics
from pager.storage.port import Delivery, IngestResult, Store

log = structlog.get_logger("pagerd.ingest")


async def ingest(store: Store, metrics: Metrics, clock: Clock, source: Source, content_type: str,
                 body: bytes, alerts: list[Alert], facts: dict | None = None) -> IngestResult:
    result = await store.ingest(Delivery(source, content_type, body, tuple(alerts), clock.now(), facts or {}))
    counts: dict[str, int] = {}
    for a in result.applied:
        # _value_, the member's value as stored on it: `.value` is a property call, per alert here
        outcome = a.outcome._value_ if a.outcome is not None else "duplicate"
        counts[outcome] = counts.get(outcome, 0) + 1
    src = source._value_
    for outcome, n in counts.items():
        metrics.alerts_received(src, outcome, n)
    # debug, not info: one line per webhook costs as much as a third of storing it (see bench/);
    # the incident's timeline and pagerd_alerts_received_total keep the same facts.
    if debug_enabled():
        log.debug("alerts_ingested", source=source.value, delivery_id=result.delivery_id,
                  incident_ids=result.incident_ids[:20], **counts)
    return result
