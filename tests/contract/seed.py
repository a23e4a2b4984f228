"""State for contract tests, made through the port only (so every store can run them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from pager.domain.alert import Action, Alert, Source
from pager.domain.incident import Group
from pager.storage.port import Delivery, Store

UTC = timezone.utc
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # a Wednesday


def delivery(
    key: str,
    action: Action,
    at: datetime,
    *,
    summary: str = "",
    source: Source = Source.ALERTMANAGER,
    fingerprint: str = "fp-1",
) -> Delivery:
    """One notification of one alert of `key` (its own event id: never a duplicate of another call)."""
    alert = Alert(
        source=source,
        dedup_key=key,
        fingerprint=fingerprint,
        action=action,
        event_id=f"{key}/{fingerprint}/{action}/{at.isoformat()}",
        summary=summary or f"{key} is down",
        labels={"alertname": key, "customer": "acme"},
        starts_at=at,
    )
    body = json.dumps({"key": key, "action": str(action), "at": at.isoformat()}).encode()
    return Delivery(source, "application/json", body, (alert,), at)


def notification(
    alerts: list[tuple[str, str, Action]], at: datetime, *, group: Group | None = None, tag: str = ""
) -> Delivery:
    """One Alertmanager notification of several alerts, each (dedup key, fingerprint, action); `tag`
    makes its event ids its own (two notifications alike but for their tag are not duplicates)."""
    alerts_ = tuple(
        Alert(
            source=Source.ALERTMANAGER,
            dedup_key=key,
            fingerprint=fp,
            action=action,
            event_id=f"{key}/{fp}/{action}/{at.isoformat()}{tag}",
            summary=f"{key} {fp}",
            labels={"alertname": key, "customer": "acme"},
            starts_at=at,
        )
        for key, fp, action in alerts
    )
    body = json.dumps({"alerts": [list(map(str, a)) for a in alerts], "at": at.isoformat(), "tag": tag}).encode()
    return Delivery(Source.ALERTMANAGER, "application/json", body, alerts_, at, group=group)


async def open_incident(store: Store, key: str, at: datetime = T0, **kw) -> int:
    (iid,) = (await store.ingest(delivery(key, Action.TRIGGER, at, **kw))).incident_ids
    return iid


async def resolve_alert(store: Store, key: str, at: datetime) -> None:
    await store.ingest(delivery(key, Action.RESOLVE, at))


async def route(
    store: Store,
    iid: int,
    project: str,
    at: datetime,
    *,
    generation: int = 0,
    paged: bool = True,
    target: timedelta = timedelta(minutes=30),
) -> None:
    """Route the incident's escalation to `project` at `at`; when `paged`, its first page goes out then."""
    assert await store.create_escalation(
        incident_id=iid,
        generation=generation,
        project=project,
        rotation="standby" if paged else None,
        policy={"name": "default", "steps": []},
        status="active" if paged else "waiting",
        next_at=at,
        target_seconds=int(target.total_seconds()),
        reason="test",
        now=at,
    )
    if paged:
        assert await store.fire_step(
            incident_id=iid,
            generation=generation,
            k=0,
            next_at=None,
            messages=[],
            now=at,
            first_page=True,
            deadline=at + target,
            escalate_at=None,
            early=False,
            event={"kind": "escalated", "step": 0},
            final_status=None,
        )
