"""Redaction: what never leaves pagerd in a log line, an error body, a timeline entry or a stored raw body.

One place for the rule; the log set-up (pager.observe.logging), the HTTP error answers (pager.web.errors),
the notifiers' error texts (pager.notify.base.short_error) and the raw-body scrubbing of the webhooks
(pager.web.webhooks) all call it.

What is replaced by ``[redacted]``:

- every configured secret (every ``SecretStr`` in the config: tokens, routing keys, signing keys,
  passwords), as written, JSON-escaped and URL-encoded, and the ``Authorization: Basic`` form of each
  user/password pair;
- issued tokens, whatever their format: the token of a one-tap link path (``/l/<token>``), the rest
  of an iCal feed path (``/ical/...``) and every URL query string (``?token=``, Twilio's ``?msg=``);
- the credential of an ``Authorization``-style ``Bearer`` / ``Basic`` value, and the ``user:password@``
  of a URL.

    r = Redactor.of(config)
    r.text("GET /l/MTIuYWNr.xyz HTTP/1.1")          # 'GET /l/[redacted] HTTP/1.1'
    r.value({"error": f"bad key {secret}"})         # {'error': 'bad key [redacted]'}
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, SecretStr

MARKER = "[redacted]"
MIN_SECRET = 4  # shorter configured values would blank out ordinary words; the config refuses them anyway

# Token-shaped things, whatever the configured secrets are. Named groups keep what stays readable.
_PATTERNS = (
    # a one-tap link: /l/<token> (in a path, a full URL, a Referer, an exception text)
    r"(?P<link>/l/)[^\s/?#\"'<>\\]+",
    # an iCal feed path (its token sits in the query or the path)
    r"(?P<ical>/ical/)[^\s\"'<>\\]+",
    # a URL query string: "?name=..." right after a path or host character, up to a space or quote
    r"(?<=[\w/.\-])(?P<query>\?)(?=[\w.%\-\[\]]+=)[^\s\"'<>\\#]+",
    # the user:password part of a URL (http://user:secret@host/...)
    r"(?P<userinfo>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s\"'<>@:\\]+:[^/\s\"'<>@\\]+@",
    # an Authorization-style credential
    r"(?P<auth>\b(?i:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{8,}",
)


_USERINFO = re.compile(rb"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s\"'<>@:\\]+:[^/\s\"'<>@\\]+@")


def _variants(secret: str) -> set[str]:
    """The forms a secret takes in text: as is, inside a JSON string, URL-encoded."""
    out = {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}
    return {s for s in out if len(s) >= MIN_SECRET}


def basic_credentials(username: str, password: str) -> str:
    """The credential of an `Authorization: Basic` header for this pair."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def config_secrets(config: BaseModel) -> set[str]:
    """Every secret a config holds: each SecretStr value, and the Basic-auth form of each
    user/password pair (`username`+`password`, Twilio's `account_sid`+`auth_token`)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, SecretStr):
            if node.get_secret_value():
                found.add(node.get_secret_value())
        elif isinstance(node, BaseModel):
            for user_field, secret_field in (("username", "password"), ("account_sid", "auth_token")):
                user, secret = getattr(node, user_field, None), getattr(node, secret_field, None)
                if isinstance(user, str) and user and isinstance(secret, SecretStr) and secret.get_secret_value():
                    found.add(basic_credentials(user, secret.get_secret_value()))
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, Mapping):
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple, set, frozenset)):
            for v in node:
                walk(v)

    walk(config)
    return found


class Redactor:
    """Replaces secrets and tokens in text (and in the strings of nested dicts and lists)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets: frozenset[str] = frozenset(s for s in secrets if s)
        forms = sorted({v for s in self.secrets for v in _variants(s)}, key=len, reverse=True)
        alternatives = [f"(?P<secret>{'|'.join(re.escape(f) for f in forms)})"] if forms else []
        self._rx = re.compile("|".join(alternatives + list(_PATTERNS)))

    @classmethod
    def of(cls, config: BaseModel, also: Iterable[str] = ()) -> Redactor:
        """For a config's secrets (and `also`: e.g. the secrets of the config a reload replaced)."""
        return cls(config_secrets(config) | set(also))

    @staticmethod
    def _replace(m: re.Match[str]) -> str:
        if m.group("userinfo"):
            return m.group("userinfo") + MARKER + "@"
        kept = m.group("link") or m.group("ical") or m.group("query") or m.group("auth") or ""
        return kept + MARKER

    def text(self, s: str) -> str:
        return self._rx.sub(self._replace, s)

    def value(self, v: Any) -> Any:
        """`v` with every string in it redacted (dicts, lists and tuples walked; other values as they are)."""
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, dict):
            return {self.value(k) if isinstance(k, str) else k: self.value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, tuple):
            return tuple(self.value(x) for x in v)
        return v

    def bytes(self, b: bytes) -> bytes:
        """A raw body as it may be stored: the configured secrets (as written) and the user:password
        part of any URL in it replaced; every other byte kept."""
        for s in sorted(self.secrets, key=len, reverse=True):
            raw = s.encode("utf-8", "surrogatepass")
            if len(raw) >= MIN_SECRET and raw in b:
                b = b.replace(raw, MARKER.encode())
        if b"@" in b:
            b = _USERINFO.sub(rb"\1" + MARKER.encode() + b"@", b)
        return b


PATTERNS_ONLY = Redactor()  # tokens and query strings; no configured secrets known


__all__ = ["MARKER", "PATTERNS_ONLY", "Redactor", "basic_credentials", "config_secrets"]
