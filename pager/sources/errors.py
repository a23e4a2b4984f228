"""Input errors a source parser raises; the web edge turns them into 4xx JSON bodies."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import accumulate, repeat
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, GetPydanticSchema
from pydantic_core import core_schema

from pager.domain.calendar import EARLIEST, LATEST, utc_in_range


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InputError(Exception):
    """Bad input: `status` is the HTTP status (400, 401, 413, 415, 422), `problems` say what is wrong."""

    def __init__(self, status: int, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []

    def body(self) -> dict:
        return {"error": self.message, "problems": [p.as_dict() for p in self.problems]}


def from_pydantic(exc, *, prefix: str = "") -> InputError:
    """A pydantic ValidationError as an InputError: 400 for broken JSON, else 422, every field named."""
    problems: list[Problem] = []
    status = 422
    for err in exc.errors(include_url=False):
        if err.get("type") == "json_invalid":
            status = 400
            problems.append(Problem("body", f"malformed JSON: {err.get('ctx', {}).get('error', err['msg'])}"))
            continue
        loc = ".".join(str(x) for x in err.get("loc", ())) or "body"
        msg = err["msg"]
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "required field is missing"
        elif err.get("type") == "timezone_aware":
            msg = NEEDS_ZONE
        elif err.get("type") == "value_error" and "error" in err.get("ctx", {}):
            msg = str(err["ctx"]["error"])  # our own validators' words, without pydantic's "Value error, "
        problems.append(Problem(prefix + loc, msg))
    message = "malformed JSON" if status == 400 else "invalid payload"
    return InputError(status, message, problems[:50])


_CONTROL = {c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)} | {0x7F}
_CONTROL_STRICT = set(range(0x20)) | {0x7F}


_BAD_MULTI = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BAD_LINE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def check_text(value: str, field: str, *, max_len: int, multiline: bool = True) -> Problem | None:
    """A problem when `value` is too long or holds control characters (or lone surrogates)."""
    if len(value) > max_len:
        return Problem(field, f"longer than {max_len} characters")
    if (_BAD_MULTI if multiline else _BAD_LINE).search(value) is None:
        return None  # the common case, in C
    bad = _CONTROL if multiline else _CONTROL_STRICT
    for ch in value:
        o = ord(ch)
        if o in bad:
            return Problem(field, f"control character U+{o:04X} not allowed")
        if 0xD800 <= o <= 0xDFFF:
            return Problem(field, "lone surrogate (not valid UTF-8)")
    return None


def clean_texts(values: Iterable[str], *, multiline: bool = True) -> bool:
    """True when no value holds a character check_text refuses (lengths are not checked): one regex
    search over all of them, for callers that need check_text's details only when something is wrong."""
    return (_BAD_MULTI if multiline else _BAD_LINE).search(" ".join(values)) is None


# -- JSON from the network: depth first, then one parser ----------------------------------------------
# Every JSON body pagerd reads (webhooks, the API) goes through check_depth before any parser sees it:
# parsers recurse per level, and a body nested 100,000 deep would end in a RecursionError (or worse)
# instead of a 400. Real payloads nest a few levels (an Events v2 custom_details a few more).
MAX_JSON_DEPTH = 64
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[{]}')
_QUOTED = re.compile(rb'"[^"]*"')
_BRACKETS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def check_depth(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """InputError 400 when `body`, read as JSON, nests arrays and objects deeper than `max_depth`.

    Linear and without recursion, in C loops: a body with no more brackets than the bound passes at
    once. Else, without its escaped backslashes and quotes, every '"' opens or closes a string; of the
    quotes and brackets alone, the strings are dropped, each bracket left becomes +1 or -1, and the
    deepest running sum is the depth. (Dropping two adjacent quotes first, an empty string or the seam
    between two strings, moves no bracket in or out of a string.) Malformed JSON is left to the parser,
    which fails no later than where this reading of it could go wrong."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = _QUOTED.sub(b"", structure)
    brackets = structure.translate(_BRACKETS)
    depth = max(accumulate(map(operator.sub, brackets, repeat(1))), default=0)
    if depth > max_depth:
        raise InputError(400, "malformed JSON", [Problem("body", f"nested deeper than {max_depth} levels")])


def load_json(body: bytes) -> object:
    """A JSON document from bytes (strict UTF-8), depth checked first; InputError 400 when malformed."""
    check_depth(body)
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise InputError(400, "malformed JSON", [Problem("body", "not valid JSON")]) from None


# A timestamp in a payload: with an offset, read in UTC, within the years pagerd reasons about
# (pager.domain.calendar); else the payload is refused 422 naming the field.
Instant = Annotated[datetime, AfterValidator(utc_in_range)]


_GO_ZERO = datetime(1, 1, 1, tzinfo=timezone.utc)


def _instant_or_zero(dt: datetime) -> datetime | None:
    """Go's zero time (0001-01-01T00:00:00Z, what Alertmanager sends for "no end") reads as None.
    (Its year is 1 in any reading with offset zero: the year is looked at first, the cheapest test.)"""
    if dt.year == 1 and dt.utcoffset() == timedelta(0) and dt == _GO_ZERO:
        return None
    return utc_in_range(dt)


InstantOrZero = Annotated[datetime, AfterValidator(_instant_or_zero)]


# The same checks as Instant and InstantOrZero, made by pydantic-core itself (no Python call per value,
# for payloads with many timestamps): the same timestamps are refused, with the same words, in the same
# place of the list of problems. The value keeps the offset it was sent with; `in_utc` and
# `in_utc_or_none` read it as Instant and InstantOrZero give it (tests/unit/test_alertmanager_parser.py
# holds them to that).
NEEDS_ZONE = "timestamp needs a time zone (RFC 3339)"  # pydantic's "timezone_aware" error, in from_pydantic
_IN_RANGE = core_schema.datetime_schema(ge=EARLIEST, lt=LATEST)
# Go's zero time passes as itself: offset zero, that very instant (a year-1 value can be nothing else)
_ZERO = core_schema.datetime_schema(tz_constraint=0, ge=_GO_ZERO, le=_GO_ZERO)


def _then(in_range: core_schema.CoreSchema) -> GetPydanticSchema:
    """An aware datetime as the model reads it, then `in_range` (else 422 in utc_in_range's words)."""
    out_of_range = core_schema.custom_error_schema(
        in_range, "timestamp_range", custom_error_message=f"outside the years {EARLIEST.year}-{LATEST.year - 1}"
    )
    return GetPydanticSchema(lambda tp, handler: core_schema.chain_schema([handler(tp), out_of_range]))


OffsetInstant = Annotated[AwareDatetime, _then(_IN_RANGE)]
OffsetInstantOrZero = Annotated[AwareDatetime, _then(core_schema.union_schema([_ZERO, _IN_RANGE]))]


def in_utc(dt: datetime) -> datetime:
    """An OffsetInstant as Instant reads it."""
    return dt.astimezone(timezone.utc)


def in_utc_or_none(dt: datetime | None) -> datetime | None:
    """An OffsetInstantOrZero (or None) as InstantOrZero reads it: Go's zero time is None."""
    return None if dt is None or dt.year == 1 else dt.astimezone(timezone.utc)


def validate_json(model, body: bytes, *, shallow: bool = False):
    """`model` from JSON bytes, depth checked first. pydantic's parser refuses lone surrogates as broken
    JSON; Python's accepts them, so on that error the body is re-read to name the field that holds one (422).

    `shallow`: the caller's model refuses every document nested deeper than MAX_JSON_DEPTH (unknown
    fields forbidden, every field a flat value, a map of texts or a list of such models: see
    tests/unit/test_json_input.py), so a body too deep can only be refused by the model too, and
    pydantic's parser stops at its own recursion limit (a ValidationError, never a crash). The depth is
    then checked only for a body the model refused, giving the same answer (the 400 for a body too deep)
    without scanning every accepted body: a 100-alert webhook has more brackets than the bound, so
    check_depth reads it whole."""
    if not shallow:
        check_depth(body)
    try:
        return model.model_validate_json(body)
    except Exception as exc:
        from pydantic import ValidationError  # here, not per call: an import statement costs ~0.5 µs

        if not isinstance(exc, ValidationError):
            raise
        if shallow:
            check_depth(body)  # too deep: the 400 it would have been before the model saw it
        err = from_pydantic(exc)
        if err.status == 400:
            try:
                obj = json.loads(body.decode("utf-8"))  # strict: UTF-8-encoded surrogate bytes stay a 400
            except (ValueError, RecursionError):
                raise err from None
            where = _find_surrogate(obj, ())
            if where is not None:
                raise InputError(422, "invalid payload", [Problem(where, "lone surrogate (not valid UTF-8)")]) from None
        raise err from None


def _find_surrogate(obj, path: tuple) -> str | None:
    def bad(s: str) -> bool:
        return any(0xD800 <= ord(c) <= 0xDFFF for c in s)

    if isinstance(obj, str):
        return ".".join(map(str, path)) or "body" if bad(obj) else None
    if isinstance(obj, dict):
        for k, v in obj.items():
            if bad(k):
                return ".".join(map(str, path + (k.encode("utf-8", "replace").decode(),))) or "body"
            found = _find_surrogate(v, path + (k,))
            if found:
                return found
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _find_surrogate(v, path + (i,))
            if found:
                return found
    return None
