"""Signed, expiring one-tap links (acknowledge / resolve / escalate) for SMS and e-mail: `/l/<token>`.

A token is `base64url(payload) "." base64url(mac)`: the payload `incident.round.action.expiry.person`
in clear (the action one letter, `a` `r` `e`; the expiry in Unix seconds, base 36: a token short
enough to leave the SMS room for its alert in one segment), the MAC its first 16 bytes of
HMAC-SHA256 under the signing key's one-tap-link key (signing.py). `round` is the escalation round the link was sent for (the incident's generation: 0
for its opening, n after its n-th reopen): once the incident reopens, the link no longer acts
(pager.domain.paging.may_answer). The person id comes last and is everything after the fourth dot,
so any person id (dots included) survives; base64url keeps the token to `A-Z a-z 0-9 - _` and one
dot, which needs no escaping in a URL path.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone

from pager.service.signing import LINK, Keyring

ACTIONS = ("ack", "resolve", "escalate")
_CODES = {"ack": "a", "resolve": "r", "escalate": "e"}
_ACTION_OF = {code: action for action, code in _CODES.items()}
MAC_BYTES = 16
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    out = ""
    while True:
        n, digit = divmod(n, 36)
        out = _BASE36[digit] + out
        if n == 0:
            return out


@dataclass(frozen=True)
class Link:
    incident_id: int
    generation: int  # the round it was sent for
    action: str
    person: str
    expires: datetime


class InvalidLink(Exception):
    """A link that does not act; its message is what the person who tapped it reads."""


NOT_VALID = (
    "This link is not valid. One-tap links are signed; a link stops working when the signing key "
    "that made it is no longer accepted (after a key rotation) or when it was changed on the way."
)
EXPIRED = "This link has expired."
EARLIER_ROUND = (
    "This link is for an earlier alert of incident #{incident}: it was sent for its alert #{sent} "
    "and the incident has reopened since (now alert #{current}). An old link does not answer a "
    "new alert, so nothing was changed. The page for the new alert has a link of its own."
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(keys: Keyring, incident_id: int, action: str, person: str, expires: datetime, *, generation: int) -> str:
    """The token of a link to `action` the incident's round `generation`, for `person`, until `expires`."""
    if action not in ACTIONS:
        raise ValueError(action)
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise ValueError(f"generation must be an integer >= 0, got {generation!r}")
    payload = f"{incident_id}.{generation}.{_CODES[action]}.{_base36(int(expires.timestamp()))}.{person}".encode()
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
        iid, generation, code, exp, person = payload.decode().split(".", 4)
        if not (iid.isdigit() and generation.isdigit() and exp and all(c in _BASE36 for c in exp)):
            raise ValueError("not a number")
        if code not in _ACTION_OF:
            raise ValueError("not an action")
        expires = datetime.fromtimestamp(int(exp, 36), tz=timezone.utc)
        link = Link(int(iid), int(generation), _ACTION_OF[code], person, expires)
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        raise InvalidLink(NOT_VALID) from None
    if link.expires < now:
        raise InvalidLink(EXPIRED)
    return link
