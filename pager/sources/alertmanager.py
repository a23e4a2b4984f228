"""Prometheus Alertmanager webhook, payload version 4.

`parse` first tries a fast path that only handles payloads which draw no problem at all; anything
it cannot vouch for goes to `_parse_checked`, which names every problem (and is the reference the
fast path must match, see tests/unit/test_parse_fastpath.py).
"""
from __future__ import annotations

import re
from datetime import datetime
from hashlib import blake2b
from itertools import chain
from json.encoder import encode_basestring_ascii as _json_str
from typing import Annotated, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from pager.domain.alert import Action, Alert, Source, stable_id

from .errors import InputError, Problem, check_text, clean_texts, validate_json

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
        startsAt: datetime
        endsAt: datetime | None = None
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


def _fast_schema(extra: str) -> TypeAdapter:
    """The models above as TypedDicts (same fields and constraints): plain dicts, no model instances."""
    config = ConfigDict(extra=extra, strict=True)

    class AMAlert(TypedDict):
        __pydantic_config__ = config  # type: ignore[misc]
        status: Literal["firing", "resolved"]
        labels: dict[str, str]
        annotations: NotRequired[dict[str, str]]
        startsAt: datetime
        endsAt: NotRequired[datetime | None]
        generatorURL: NotRequired[str]
        fingerprint: NotRequired[str]

    class AMWebhook(TypedDict):
        __pydantic_config__ = config  # type: ignore[misc]
        version: Literal["4"]
        groupKey: Annotated[str, Field(min_length=1, max_length=MAX_KEY)]
        truncatedAlerts: NotRequired[Annotated[int, Field(ge=0)]]
        status: Literal["firing", "resolved"]
        receiver: str
        groupLabels: NotRequired[dict[str, str]]
        commonLabels: NotRequired[dict[str, str]]
        commonAnnotations: NotRequired[dict[str, str]]
        externalURL: NotRequired[str]
        alerts: Annotated[list[AMAlert], Field(min_length=1, max_length=MAX_ALERTS)]

    return TypeAdapter(AMWebhook)


_FAST_STRICT = _fast_schema("forbid").validator  # the bare SchemaValidator: no wrapper per call
_FAST_LENIENT = _fast_schema("ignore").validator

# A decoded JSON string can only hold a control character or a lone surrogate if the body has one
# of these escapes or a raw DEL (the JSON parser refuses raw U+0000..U+001F and bad UTF-8).
_ESCAPE = re.compile(rb"\\[ubfnrt]")
_SOURCE, _TRIGGER, _RESOLVE = Source.ALERTMANAGER, Action.TRIGGER, Action.RESOLVE  # enum lookups are slow-ish
_KNOWN_NAMES: set[str] = set()  # label names seen to match LABEL_NAME (a bounded cache)


def parse(body: bytes, *, dedup_by: str = "group_key", strict: bool = True) -> tuple[list[Alert], dict]:
    """Alerts from a webhook body; raises InputError. Returns (alerts, delivery facts)."""
    done = _parse_fast(body, dedup_by, strict)
    if done is None:
        done = _parse_checked(body, dedup_by=dedup_by, strict=strict)
    return done


def _parse_fast(body: bytes, dedup_by: str, strict: bool) -> tuple[list[Alert], dict] | None:
    """What `_parse_checked` returns, for a payload it would find no problem in; else None."""
    if not isinstance(body, bytes):
        return None
    try:
        hook = (_FAST_STRICT if strict else _FAST_LENIENT).validate_json(body)
    except ValidationError:
        return None
    if not _texts_ok(body, hook):
        return None
    group_key = hook["groupKey"]
    common_summary = hook.get("commonAnnotations", {}).get("summary")
    by_group = dedup_by == "group_key"
    id_prefix = f'["am",{_json_str(group_key)},' if by_group else ""
    alerts: list[Alert] = []
    for a in hook["alerts"]:
        labels = a["labels"]
        starts = a["startsAt"]
        if (not 0 < len(labels) <= MAX_LABELS or starts.tzinfo is None
                or not (labels.keys() <= _KNOWN_NAMES or _names_ok(labels))):
            return None
        annotations = a.get("annotations", {})
        fp = a.get("fingerprint") or stable_id(sorted(labels.items()))[:16]
        status = a["status"]
        ends = a.get("endsAt")
        if status == "resolved":
            action = _RESOLVE
            if ends is not None and ends.year <= 1:
                ends = None
        else:
            action = _TRIGGER
            ends = None
        # the very bytes that stable_id("am", dedup, fp, status, starts.isoformat(), ends and
        # ends.isoformat()) hashes, without its generic encoder (isoformat() needs no JSON escaping)
        head = id_prefix or f'["am",{_json_str(fp)},'
        ends_iso = "null" if ends is None else f'"{ends.isoformat()}"'
        raw = f'{head}{_json_str(fp)},"{status}","{starts.isoformat()}",{ends_iso}]'
        summary = (annotations.get("summary") or annotations.get("description")
                   or common_summary or _label_summary(labels))
        url = a.get("generatorURL")
        alerts.append(Alert(
            source=_SOURCE,
            dedup_key=group_key if by_group else fp,
            fingerprint=fp,
            action=action,
            event_id=blake2b(raw.encode(), digest_size=16).hexdigest(),
            summary=summary[:1024],
            severity=labels.get("severity", "critical"),
            labels=labels,
            annotations=annotations,
            starts_at=starts,
            ends_at=ends,
            details={"generatorURL": url} if url else {},
        ))
    facts = {"group_key": group_key, "receiver": hook["receiver"], "status": hook["status"],
             "truncated_alerts": hook.get("truncatedAlerts", 0), "external_url": hook.get("externalURL", "")}
    return alerts, facts


def _names_ok(labels: dict[str, str]) -> bool:
    """True when every label name matches LABEL_NAME; callers first try `labels.keys() <= _KNOWN_NAMES`."""
    if not all(map(LABEL_NAME.match, labels)):
        return False
    if len(_KNOWN_NAMES) < 10_000:
        _KNOWN_NAMES.update(labels)
    return True


def _texts_ok(body: bytes, hook: dict) -> bool:
    """True when `_parse_checked` would find no problem with groupLabels, commonLabels or the texts
    of `hook` (alert label names and counts are checked by the caller): a few checks over all texts
    at once instead of one per text."""
    group_labels = hook.get("groupLabels", {})
    common_labels = hook.get("commonLabels", {})
    for labels in (group_labels, common_labels):
        if len(labels) > MAX_LABELS or not (labels.keys() <= _KNOWN_NAMES or _names_ok(labels)):
            return False
    keys = (hook["groupKey"], hook["receiver"])
    alerts = hook["alerts"]
    if len(body) > MAX_LABEL_VALUE:  # else no text in it can be that long
        if max(map(len, keys)) > MAX_KEY or max(map(len, _label_values(hook)), default=0) > MAX_LABEL_VALUE:
            return False
        if len(body) > MAX_ANNOTATION and max(map(len, _annotations(alerts)), default=0) > MAX_ANNOTATION:
            return False
    if 0x7F not in body and _ESCAPE.search(body) is None:
        return True
    return clean_texts(chain(keys, _label_values(hook)), multiline=False) and clean_texts(_annotations(alerts))


def _label_values(hook: dict):
    """Every label value: groupLabels, commonLabels and every alert's labels."""
    maps = chain((hook.get("groupLabels", {}), hook.get("commonLabels", {})), (a["labels"] for a in hook["alerts"]))
    return chain.from_iterable(map(dict.values, maps))


def _annotations(alerts: list[dict]):
    """Every annotation value of every alert."""
    return chain.from_iterable(a.get("annotations", {}).values() for a in alerts)


def _check_labels(labels: dict[str, str], where: str, problems: list[Problem]) -> None:
    if len(labels) > MAX_LABELS:
        problems.append(Problem(where, f"more than {MAX_LABELS} labels"))
        return
    for name, value in labels.items():
        if not LABEL_NAME.match(name):
            problems.append(Problem(f"{where}.{name[:64]!r}", "label name must match [a-zA-Z_][a-zA-Z0-9_]*"))
            continue
        p = check_text(value, f"{where}.{name}", max_len=MAX_LABEL_VALUE, multiline=False)
        if p:
            problems.append(p)


def _parse_checked(body: bytes, *, dedup_by: str = "group_key", strict: bool = True) -> tuple[list[Alert], dict]:
    """`parse` the long way: every text checked on its own, every problem named."""
    model = _STRICT if strict else _LENIENT
    hook = validate_json(model, body)
    problems: list[Problem] = []
    for field, value in (("groupKey", hook.groupKey), ("receiver", hook.receiver)):
        p = check_text(value, field, max_len=MAX_KEY, multiline=False)
        if p:
            problems.append(p)
    _check_labels(hook.groupLabels, "groupLabels", problems)
    _check_labels(hook.commonLabels, "commonLabels", problems)
    alerts: list[Alert] = []
    for i, a in enumerate(hook.alerts):
        where = f"alerts.{i}"
        if not a.labels:
            problems.append(Problem(f"{where}.labels", "an alert needs at least one label"))
        _check_labels(a.labels, f"{where}.labels", problems)
        for k, v in a.annotations.items():
            p = check_text(v, f"{where}.annotations.{k}", max_len=MAX_ANNOTATION)
            if p:
                problems.append(p)
        if a.startsAt.tzinfo is None:
            problems.append(Problem(f"{where}.startsAt", "timestamp needs a time zone (RFC 3339)"))
            continue
        if problems:
            continue
        fp = a.fingerprint or stable_id(sorted(a.labels.items()))[:16]
        resolved = a.status == "resolved"
        ends = a.endsAt if (resolved and a.endsAt is not None and a.endsAt.year > 1) else None
        dedup = hook.groupKey if dedup_by == "group_key" else fp
        summary = (a.annotations.get("summary") or a.annotations.get("description")
                   or hook.commonAnnotations.get("summary") or _label_summary(a.labels))
        alerts.append(Alert(
            source=Source.ALERTMANAGER,
            dedup_key=dedup,
            fingerprint=fp,
            action=Action.RESOLVE if resolved else Action.TRIGGER,
            event_id=stable_id("am", dedup, fp, a.status, a.startsAt.isoformat(),
                               ends.isoformat() if ends else None),
            summary=summary[:1024],
            severity=a.labels.get("severity", "critical"),
            labels=a.labels,
            annotations=a.annotations,
            starts_at=a.startsAt,
            ends_at=ends,
            details={"generatorURL": a.generatorURL} if a.generatorURL else {},
        ))
    if problems:
        raise InputError(422, "invalid payload", problems[:50])
    facts = {"group_key": hook.groupKey, "receiver": hook.receiver, "status": hook.status,
             "truncated_alerts": hook.truncatedAlerts, "external_url": hook.externalURL}
    return alerts, facts


def _label_summary(labels: dict[str, str]) -> str:
    name = labels.get("alertname", "alert")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    return f"{name} ({rest})" if rest else name
