"""PagerDuty Events API v2 compatible: what Grafana, Zabbix and Alertmanager's pagerduty_configs send."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pager.domain.alert import Action, Alert, Source, stable_id

from .errors import InputError, Problem, check_text, from_pydantic

_ACTIONS = {"trigger": Action.TRIGGER, "acknowledge": Action.ACKNOWLEDGE, "resolve": Action.RESOLVE}


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Base):
    href: str = Field(min_length=1, max_length=2048)
    text: str = Field(default="", max_length=1024)


class Image(_Base):
    src: str = Field(min_length=1, max_length=2048)
    href: str = Field(default="", max_length=2048)
    alt: str = Field(default="", max_length=1024)


class Payload(_Base):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=1024)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = Field(default=None, max_length=1024)
    group: str | None = Field(default=None, max_length=1024)
    class_: str | None = Field(default=None, alias="class", max_length=1024)
    custom_details: Any = None


class Event(_Base):
    routing_key: str = Field(min_length=1, max_length=256)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: Payload | None = None
    images: list[Image] = Field(default_factory=list, max_length=50)
    links: list[Link] = Field(default_factory=list, max_length=50)
    client: str | None = Field(default=None, max_length=1024)
    client_url: str | None = Field(default=None, max_length=2048)

    @model_validator(mode="after")
    def _needs(self) -> "Event":
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("payload is required for event_action trigger")
        if self.event_action != "trigger" and not self.dedup_key:
            raise ValueError(f"dedup_key is required for event_action {self.event_action}")
        return self


def parse(body: bytes) -> tuple[Event, Alert]:
    """The event and its alert; raises InputError (routing key not checked here)."""
    try:
        ev = Event.model_validate_json(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None
    problems: list[Problem] = []
    for field, value in (("dedup_key", ev.dedup_key), ("payload.summary", ev.payload and ev.payload.summary),
                         ("payload.source", ev.payload and ev.payload.source)):
        if value:
            p = check_text(value, field, max_len=1024, multiline=field == "payload.summary")
            if p:
                problems.append(p)
    if problems:
        raise InputError(422, "invalid event", problems)
    p = ev.payload
    dedup = ev.dedup_key or stable_id("ev2", ev.routing_key, p.summary if p else "", p.source if p else "")
    labels: dict[str, str] = {}
    if p is not None:
        labels = {k: v for k, v in (("source", p.source), ("component", p.component),
                                    ("group", p.group), ("class", p.class_)) if v}
    details: dict[str, Any] = {}
    if p is not None and p.custom_details is not None:
        details["custom_details"] = p.custom_details
    if ev.links:
        details["links"] = [link.model_dump() for link in ev.links]
    if ev.images:
        details["images"] = [img.model_dump() for img in ev.images]
    if ev.client:
        details["client"] = ev.client
    if ev.client_url:
        details["client_url"] = ev.client_url
    alert = Alert(
        source=Source.EVENTS_V2,
        dedup_key=dedup,
        fingerprint=dedup,
        action=_ACTIONS[ev.event_action],
        event_id=stable_id("ev2", ev.model_dump(mode="json", by_alias=True)),
        summary=p.summary if p else "",
        severity=p.severity if p else "critical",
        labels=labels,
        starts_at=p.timestamp if p else None,
        details=details,
    )
    return ev, alert
