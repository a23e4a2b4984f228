"""Signed, expiring one-tap links (acknowledge / resolve) for SMS and e-mail."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

ACTIONS = ("ack", "resolve")


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"pagerd-links:" + secret.encode()).digest()


def sign(secret: str, incident_id: int, action: str, person: str, expires: datetime) -> str:
    if action not in ACTIONS:
        raise ValueError(action)
    payload = f"{incident_id}.{action}.{person}.{int(expires.timestamp())}"
    mac = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=") + "." + \
        base64.urlsafe_b64encode(mac).decode().rstrip("=")


def verify(secret: str, token: str, now: datetime) -> tuple[int, str, str] | None:
    """(incident id, action, person) of a valid, unexpired token; None otherwise."""
    try:
        body, _, mac_b64 = token.partition(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        mac = base64.urlsafe_b64decode(mac_b64 + "=" * (-len(mac_b64) % 4))
    except (ValueError, UnicodeDecodeError):
        return None
    good = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, good):
        return None
    try:
        iid, action, person, exp = payload.split(".")
        if datetime.fromtimestamp(int(exp), tz=timezone.utc) < now or action not in ACTIONS:
            return None
        return int(iid), action, person
    except ValueError:
        return None
