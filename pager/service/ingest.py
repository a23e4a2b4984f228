"""The ingest pipeline: parsed alerts -> one durable transaction -> what happened, counted and logged."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import structlog

from pager.clock import Clock
from pager.domain.alert import Alert, Source
from pager.domain.incident import Group
from pager.observe.metrics import Metrics
from pager.storage.port import Delivery, IngestResult, Store

log = structlog.get_logger("pagerd.ingest")


def group_of(facts: Mapping[str, Any]) -> Group | None:
    """What an Alertmanager notification says of its group (from the facts its parser returns)."""
    key = facts.get("group_key")
    return Group(key, facts.get("status") == "resolved") if key else None


async def ingest(
    store: Store,
    metrics: Metrics,
    clock: Clock,
    source: Source,
    content_type: str,
    body: bytes,
    alerts: list[Alert],
    facts: dict | None = None,
) -> IngestResult:
    facts = facts or {}
    result = await store.ingest(
        Delivery(source, content_type, body, tuple(alerts), clock.now(), facts, group_of(facts))
    )
    counts = Counter(a.outcome.value for a in result.applied)
    for outcome, n in counts.items():
        metrics.alerts_received.labels(source.value, outcome).inc(n)
    # debug: the incident's timeline and pagerd_alerts_received_total keep the same facts
    log.debug(
        "alerts_ingested",
        source=source.value,
        delivery_id=result.delivery_id,
        incident_ids=result.incident_ids[:20],
        **counts,
    )
    return result
