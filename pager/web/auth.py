"""Credentials checks, in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web
from pydantic import SecretStr

from pager.config.model import SourceAuth, Sources
from pager.sources.errors import InputError


def _eq(given: str, expected: SecretStr) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.get_secret_value().encode())


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return None
    return value.strip()


def check_source(request: web.Request, auth: SourceAuth) -> None:
    if not source_accepts(request, auth):
        raise InputError(401, "missing or wrong credentials")


def source_accepts(request: web.Request, auth: SourceAuth) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    ok = False
    if scheme.lower() == "bearer" and auth.bearer is not None:
        ok = _eq(value.strip(), auth.bearer)
    elif scheme.lower() == "basic" and auth.basic is not None:
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            user, password = "", ""
        # evaluate both comparisons always: no early exit on the user name
        ok = hmac.compare_digest(user.encode(), auth.basic.username.encode()) & _eq(password, auth.basic.password)
    return ok


def check_heartbeat(request: web.Request, sources: Sources) -> None:
    """A heartbeat check-in carries the credentials of an enabled source (Alertmanager's or Nagios' bearer
    or basic credentials, or an Events v2 routing key as a bearer token); a disabled source's never count."""
    ok = False
    for s in (sources.alertmanager, sources.nagios):
        if s is not None and s.enabled:
            ok |= source_accepts(request, s.auth)
    ev2 = sources.events_v2
    if ev2 is not None and ev2.enabled:
        given = bearer_token(request) or ""
        for k in ev2.routing_keys:
            ok |= _eq(given, k)
    if not ok:
        raise InputError(401, "missing or wrong credentials")


def check_admin(request: web.Request, token: SecretStr) -> None:
    given = bearer_token(request)
    if given is None or not _eq(given, token):
        raise InputError(401, "missing or wrong credentials")


def check_routing_key(key: str, keys: list[SecretStr]) -> None:
    ok = False
    for k in keys:
        ok |= _eq(key, k)
    if not ok:
        raise InputError(401, "unknown routing_key", [])
