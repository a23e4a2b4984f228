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

# Token-shaped things, whatever the configured secrets are: (name, pattern, a text every match of the
# pattern holds). The name is the pattern's group, which keeps what stays readable.
_PATTERNS = (
    # a one-tap link: /l/<token> (in a path, a full URL, a Referer, an exception text)
    ("link", r"(?P<link>/l/)[^\s/?#\"'<>\\]+", "/l/"),
    # an iCal feed path (its token sits in the query or the path)
    ("ical", r"(?P<ical>/ical/)[^\s\"'<>\\]+", "/ical/"),
    # a URL query string: "?name=..." right after a path or host character, up to a space or quote
    ("query", r"(?<=[\w/.\-])(?P<query>\?)(?=[\w.%\-\[\]]+=)[^\s\"'<>\\#]+", "?"),
    # the user:password part of a URL (http://user:secret@host/...)
    ("userinfo", r"(?P<userinfo>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s\"'<>@:\\]+:[^/\s\"'<>@\\]+@", "://"),
    # an Authorization-style credential; its word, case-insensitive as the regex engine reads it (also
    # "BASİC", "baſic"; only "b" and "B" read as "b"), is looked for with a regex of its own
    ("auth", r"(?P<auth>\b(?i:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{8,}", re.compile(r"[bB](?i:earer|asic)")),
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
        self._forms = sorted({v for s in self.secrets for v in _variants(s)}, key=len, reverse=True)
        alternatives: list[tuple[str, str, str | re.Pattern[str]]] = []
        if self._forms:
            secret = "|".join(re.escape(f) for f in self._forms)
            alternatives.append(("secret", f"(?P<secret>{secret})", re.compile(secret)))
        alternatives += _PATTERNS
        self._patterns = [pattern for _, pattern, _ in alternatives]
        self._needs = [needed for _, _, needed in alternatives]
        self._compiled: dict[tuple[bool, ...], re.Pattern[str] | None] = {}

    def _regex(self, s: str) -> re.Pattern[str] | None:
        """The alternatives that can match somewhere in `s`, in their order, as one regex (None when
        none can). An alternative is left out when `s` lacks what every match of it holds, and an
        alternative that matches nowhere changes no match of the others: the regex finds what the
        regex of every alternative finds, without trying each pattern at every character (the
        lookbehind and word-boundary ones cost about 0.3 µs a character together)."""
        present = tuple([n in s if type(n) is str else n.search(s) is not None for n in self._needs])  # type: ignore[union-attr, operator]
        rx = self._compiled.get(present, False)
        if rx is False:
            used = [pattern for pattern, p in zip(self._patterns, present, strict=True) if p]
            rx = self._compiled[present] = re.compile("|".join(used)) if used else None
        return rx  # type: ignore[return-value]

    @classmethod
    def of(cls, config: BaseModel, also: Iterable[str] = ()) -> Redactor:
        """For a config's secrets (and `also`: e.g. the secrets of the config a reload replaced)."""
        return cls(config_secrets(config) | set(also))

    @staticmethod
    def _replace(m: re.Match[str]) -> str:
        kind = m.lastgroup  # each alternative has one group, named after it
        if kind == "secret":
            return MARKER
        if kind == "userinfo":
            return m.group(kind) + MARKER + "@"
        return m.group(kind) + MARKER  # type: ignore[arg-type]

    def text(self, s: str) -> str:
        rx = self._regex(s)
        return s if rx is None else rx.sub(self._replace, s)

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
