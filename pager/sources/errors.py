"""Input errors a source parser raises; the web edge turns them into 4xx JSON bodies."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


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


def validate_json(model, body: bytes):
    """`model` from JSON bytes. pydantic's parser refuses lone surrogates as broken JSON; Python's
    accepts them, so on that error the body is re-read to name the field that holds one (422)."""
    try:
        return model.model_validate_json(body)
    except Exception as exc:
        from pydantic import ValidationError  # here, not per call: an import statement costs ~0.5 µs
        if not isinstance(exc, ValidationError):
            raise
        err = from_pydantic(exc)
        if err.status == 400:
            import json
            try:
                obj = json.loads(body.decode("utf-8"))  # strict: UTF-8-encoded surrogate bytes stay a 400
            except ValueError:
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
