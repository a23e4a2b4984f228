"""Signed, expiring one-tap links (acknowledge / resolve) for SMS and e-mail: `/l/<token>`.

A token is `base64url(payload) "." base64url(mac)`: the payload `incident.action.person.expiry` in
clear, the MAC its first 16 bytes of HMAC-SHA256 under the signing key's one-tap-link key (signing.py).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone

from pager.service.signing import LINK, Keyring

ACTIONS = ("ack", "resolve")
MAC_BYTES = 16


@dataclass(frozen=True)
class Link:
    incident_id: int
    action: str
    person: str
    expires: datetime


class InvalidLink(Exception):
    """A link that does not act; its message is what the person who tapped it reads."""


NOT_VALID = ("This link is not valid. One-tap links are signed; a link stops working when the signing key "
             "that made it is no longer accepted (after a key rotation) or when it was changed on the way.")
EXPIRED = "This link has expired."


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(keys: Keyring, incident_id: int, action: str, person: str, expires: datetime) -> str:
    if action not in ACTIONS:
        raise ValueError(action)
    payload = f"{incident_id}.{action}.{person}.{int(expires.timestamp())}".encode()
    return _b64(payload) + "." + _b64(keys.sign(LINK, payload)[:MAC_BYTES])


def verify(keys: Keyring, token: str, now: datetime) -> Link:
    """The link a token stands for, if any accepted key signed it and it has not expired; else InvalidLink."""
    body, dot, mac_b64 = token.partition(".")
    try:
        payload = _unb64(body)
        mac = _unb64(mac_b64)
    except ValueError:  # binascii.Error is a ValueError
        raise InvalidLink(NOT_VALID) from None
    if not dot or len(mac) != MAC_BYTES or not keys.verify(LINK, payload, mac):
        raise InvalidLink(NOT_VALID)
    try:
        iid, action, rest = payload.decode().split(".", 2)
        person, exp = rest.rsplit(".", 1)
        link = Link(int(iid), action, person, datetime.fromtimestamp(int(exp), tz=timezone.utc))
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        raise InvalidLink(NOT_VALID) from None
    if action not in ACTIONS:
        raise InvalidLink(NOT_VALID)
    if link.expires < now:
        raise InvalidLink(EXPIRED)
    return link
