"""PagerDuty Events API v2 compatible: what Grafana, Zabbix and Alertmanager's pagerduty_configs send."""

from __future__ import annotations

import json
from json.decoder import scanstring
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pager.domain.alert import Action, Alert, Source, stable_id
from pager.observe.redact import MARKER

from .errors import InputError, Instant, Problem, check_text, clean_texts, validate_json

_ACTIONS = {"trigger": Action.TRIGGER, "acknowledge": Action.ACKNOWLEDGE, "resolve": Action.RESOLVE}


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


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
    timestamp: Instant | None = None
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


def parse(body: bytes) -> tuple[Event, Alert]:
    """The event and its alert; raises InputError (routing key not checked here)."""
    ev = validate_json(Event, body)
    problems: list[Problem] = []
    if ev.event_action == "trigger" and ev.payload is None:
        problems.append(Problem("payload", "required for event_action trigger"))
    if ev.event_action != "trigger" and not ev.dedup_key:
        problems.append(Problem("dedup_key", f"required for event_action {ev.event_action}"))
    pl = ev.payload
    texts = (
        ("dedup_key", ev.dedup_key),
        ("payload.summary", pl and pl.summary),
        ("payload.source", pl and pl.source),
        ("payload.component", pl and pl.component),
        ("payload.group", pl and pl.group),
        ("payload.class", pl and pl.class_),
    )
    # the model caps them all at 1024 characters; one search over all of them usually suffices
    if not clean_texts([value for _, value in texts if value], multiline=False):
        for field, value in texts:
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
        labels = {
            k: v
            for k, v in (("source", p.source), ("component", p.component), ("group", p.group), ("class", p.class_))
            if v
        }
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
        event_id=stable_id("ev2", ev.model_dump(mode="json", by_alias=True)),  # the whole event
        summary=p.summary if p else "",
        severity=p.severity if p else "",  # a resolve or ack without payload keeps the alert's severity
        labels=labels,
        starts_at=p.timestamp if p else None,
        details=details,
    )
    return ev, alert


_WS = " \t\n\r"


def without_routing_key(body: bytes, marker: str = MARKER) -> bytes:
    """The raw body as it is stored: the value of every "routing_key" member (the sender's credential,
    however its JSON spells it, escapes included) replaced by the JSON string `marker`; every other byte
    as received. The same body always gives the same bytes, so a byte-identical re-delivery stays one.
    For a body `parse` accepted (UTF-8 JSON); anything else comes back as it is."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    out: list[str] = []
    last = i = 0
    n = len(text)
    try:
        while (i := text.find('"', i)) >= 0:  # from string to string; scanstring reads each one whole
            key, end = scanstring(text, i + 1)
            j = end
            while j < n and text[j] in _WS:
                j += 1
            if key == "routing_key" and j < n and text[j] == ":":
                k = j + 1
                while k < n and text[k] in _WS:
                    k += 1
                if k < n and text[k] == '"':
                    _, end = scanstring(text, k + 1)
                    out += [text[last:k], json.dumps(marker)]
                    last = end
            i = end
    except ValueError:  # not JSON after all: nothing to find in it
        return body
    out.append(text[last:])
    return "".join(out).encode("utf-8")
