"""How the SQLite store writes instants and JSON (one text form each) and its filtered reads, shared by its
modules."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, overload

import orjson

_ZERO = timedelta(0)


@overload
def iso(dt: datetime) -> str: ...
@overload
def iso(dt: None) -> None: ...
@overload
def iso(dt: datetime | None) -> str | None: ...
def iso(dt: datetime | None) -> str | None:
    """UTC as stored: 2026-11-25T14:00:00.000000Z (isoformat: a third of strftime's cost; without its
    `timespec`, whose parsing costs a third of the call, it leaves out a zero microsecond part)."""
    if dt is None:
        return None
    if dt.tzinfo is not timezone.utc and dt.utcoffset() != _ZERO:  # another zone, or naive (local time)
        dt = dt.astimezone(timezone.utc)
    text = dt.isoformat()[:-6]  # an aware UTC instant ends in +00:00
    return text + "Z" if dt.microsecond else text + ".000000Z"


@overload
def parse_iso(s: str) -> datetime: ...
@overload
def parse_iso(s: None) -> None: ...
@overload
def parse_iso(s: str | None) -> datetime | None: ...
def parse_iso(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.fromisoformat(s).astimezone(timezone.utc)  # a sixth of strptime's cost


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_ORJSON_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


def dumps(obj: Any) -> str:
    """Compact JSON text as stored. orjson (a tenth of the json module's cost per call, several calls
    per alert); the json module for what orjson refuses (integers beyond 64 bits, ...), same text."""
    try:
        return orjson.dumps(obj, default=str, option=_ORJSON_OPTS).decode()
    except TypeError:
        return _ENCODER.encode(obj)


def where(*filters: tuple[bool, str, tuple]) -> tuple[str, list]:
    """The WHERE clause of a read from the filters that apply (each: applies?, condition, its
    arguments), joined by AND, and the arguments in order; ("", []) when none applies."""
    used = [(cond, args) for applies, cond, args in filters if applies]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(c for c, _ in used), [a for _, args in used for a in args]
