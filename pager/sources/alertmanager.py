"""Prometheus Alertmanager webhook, payload version 4.

One parser: the pydantic models below check the shape, then every text is checked on its own
(length, control characters, label names) and every problem is named in the 422 answer.
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pager.domain.alert import Action, Alert, Source, stable_id

from .errors import (
    InputError,
    OffsetInstant,
    OffsetInstantOrZero,
    Problem,
    check_text,
    clean_texts,
    in_utc,
    in_utc_or_none,
    validate_json,
)

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_LABELS = 128
MAX_LABEL_VALUE = 4096
MAX_ANNOTATION = 65536
MAX_ALERTS = 10000
MAX_KEY = 16384  # groupKey, receiver


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


def _models(base: type[BaseModel]):
    class AMAlert(base):  # type: ignore[misc, valid-type]
        status: Literal["firing", "resolved"]
        labels: dict[str, str]
        annotations: dict[str, str] = Field(default_factory=dict)
        startsAt: OffsetInstant  # checked in pydantic-core; read in UTC by `parse`
        endsAt: OffsetInstantOrZero | None = None
        generatorURL: str = ""
        fingerprint: str = ""

    class AMWebhook(base):  # type: ignore[misc, valid-type]
        version: Literal["4"]
        groupKey: str = Field(min_length=1, max_length=MAX_KEY)
        truncatedAlerts: int = Field(default=0, ge=0)
        status: Literal["firing", "resolved"]
        receiver: str
        groupLabels: dict[str, str] = Field(default_factory=dict)
        commonLabels: dict[str, str] = Field(default_factory=dict)
        commonAnnotations: dict[str, str] = Field(default_factory=dict)
        externalURL: str = ""
        alerts: list[AMAlert] = Field(min_length=1, max_length=MAX_ALERTS)

    return AMWebhook


_STRICT = _models(_Strict)
_LENIENT = _models(_Lenient)


# A decoded JSON string can hold a control character or a lone surrogate only where the body has an
# escape for one, or a raw DEL: the JSON parser refuses raw U+0000..U+001F and bytes that are not UTF-8.
_ESCAPE = re.compile(rb"\\[ubfnrt]")


def _all_clean(body: bytes, hook) -> bool:
    """True when no check of a text below (`check_text`, `_check_labels`, `_check_texts`) can find a
    problem in the payload: its label counts, names and lengths and its control characters looked at
    once for the whole payload. Most payloads have nothing to name; the others are checked text by
    text, and every problem named."""
    maps = [hook.groupLabels, hook.commonLabels, *(a.labels for a in hook.alerts)]
    if max(map(len, maps)) > MAX_LABELS or not all(map(LABEL_NAME.match, set().union(*maps))):
        return False
    if 0x7F in body or _ESCAPE.search(body) is not None:
        return False
    if len(body) > MAX_LABEL_VALUE:  # else no text in it can be that long
        if (
            len(hook.receiver) > MAX_KEY
            or max(map(len, chain.from_iterable(m.values() for m in maps)), default=0) > MAX_LABEL_VALUE
        ):
            return False
        if (
            len(body) > MAX_ANNOTATION
            and max(map(len, chain.from_iterable(a.annotations.values() for a in hook.alerts)), default=0)
            > MAX_ANNOTATION
        ):
            return False
    return True


def _check_labels(labels: dict[str, str], where: str, problems: list[Problem]) -> None:
    if len(labels) > MAX_LABELS:
        problems.append(Problem(where, f"more than {MAX_LABELS} labels"))
        return
    if all(map(LABEL_NAME.match, labels)):
        _check_texts(labels, where, MAX_LABEL_VALUE, False, problems)
        return
    for name, value in labels.items():
        if not LABEL_NAME.match(name):
            problems.append(Problem(f"{where}.{name[:64]!r}", "label name must match [a-zA-Z_][a-zA-Z0-9_]*"))
            continue
        p = check_text(value, f"{where}.{name}", max_len=MAX_LABEL_VALUE, multiline=False)
        if p:
            problems.append(p)


def _check_texts(texts: dict[str, str], where: str, max_len: int, multiline: bool, problems: list[Problem]) -> None:
    """`check_text` on each value of `texts`, named `where.key`. All of them are looked at in one
    pass first (most payloads have nothing to name), each on its own only when that pass finds
    something."""
    values = texts.values()
    if max(map(len, values), default=0) <= max_len and clean_texts(values, multiline=multiline):
        return
    for key, value in texts.items():
        p = check_text(value, f"{where}.{key}", max_len=max_len, multiline=multiline)
        if p:
            problems.append(p)


def parse(body: bytes, *, dedup_by: str = "group_key", strict: bool = True) -> tuple[list[Alert], dict]:
    """Alerts from a webhook body, and the notification's facts (group_key, receiver, status,
    truncated_alerts, external_url); raises InputError naming every problem."""
    # the strict model forbids unknown fields, so nothing it accepts nests deeper than 4 levels (shallow);
    # the lenient one ignores them, whatever their depth
    hook = validate_json(_STRICT, body, shallow=True) if strict else validate_json(_LENIENT, body)
    problems: list[Problem] = []
    check = not _all_clean(body, hook)  # each text on its own only when the whole payload may hold a problem
    if check:
        for field, value in (("groupKey", hook.groupKey), ("receiver", hook.receiver)):
            p = check_text(value, field, max_len=MAX_KEY, multiline=False)
            if p:
                problems.append(p)
        _check_labels(hook.groupLabels, "groupLabels", problems)
        _check_labels(hook.commonLabels, "commonLabels", problems)
    alerts: list[Alert] = []
    by_group = dedup_by == "group_key"
    common_summary = hook.commonAnnotations.get("summary")
    source, trigger, resolve = Source.ALERTMANAGER, Action.TRIGGER, Action.RESOLVE  # an enum lookup is not free
    for i, a in enumerate(hook.alerts):
        labels, annotations = a.labels, a.annotations
        if not labels:
            problems.append(Problem(f"alerts.{i}.labels", "an alert needs at least one label"))
        if check:
            _check_labels(labels, f"alerts.{i}.labels", problems)
            _check_texts(annotations, f"alerts.{i}.annotations", MAX_ANNOTATION, True, problems)
        if problems:
            continue
        fp = a.fingerprint or stable_id(sorted(labels.items()))[:16]
        resolved = a.status == "resolved"
        starts = in_utc(a.startsAt)
        ends = in_utc_or_none(a.endsAt) if resolved else None  # Go's zero time (no end) reads as None
        dedup = hook.groupKey if by_group else fp
        summary = (
            annotations.get("summary") or annotations.get("description") or common_summary or _label_summary(labels)
        )
        alerts.append(
            Alert(
                source=source,
                dedup_key=dedup,
                fingerprint=fp,
                action=resolve if resolved else trigger,
                event_id=stable_id("am", dedup, fp, a.status, starts.isoformat(), ends.isoformat() if ends else None),
                summary=summary[:1024],
                severity=labels.get("severity", "critical"),
                labels=labels,
                annotations=annotations,
                starts_at=starts,
                ends_at=ends,
                details={"generatorURL": a.generatorURL} if a.generatorURL else {},
            )
        )
    if problems:
        raise InputError(422, "invalid payload", problems[:50])
    facts = {
        "group_key": hook.groupKey,
        "receiver": hook.receiver,
        "status": hook.status,
        "truncated_alerts": hook.truncatedAlerts,
        "external_url": hook.externalURL,
    }
    return alerts, facts


def _label_summary(labels: dict[str, str]) -> str:
    name = labels.get("alertname", "alert")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    return f"{name} ({rest})" if rest else name
