"""Signed tokens (one-tap links, iCal feed URLs, any later one) under `auth.signing_key`.

Each purpose signs with a key of its own, derived from the signing key by HKDF-SHA256 (RFC 5869) with
the purpose as its label, so a token made for one purpose is never valid for another. The MAC is
HMAC-SHA256 under that derived key. `auth.previous_signing_keys` are still accepted while a rotation
runs, never used to sign. The admin API token has no part in any of it: rotating it changes no token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from pager.config.model import Auth

LINK = "one-tap-link"
ICAL_FEED = "ical-feed"
PURPOSES = (LINK, ICAL_FEED)

_SALT = b"pagerd signed tokens v1"


def hkdf_sha256(secret: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF (RFC 5869) with SHA-256: extract a pseudorandom key from `secret`, expand it for `info`."""
    if not 0 < length <= 255 * 32:
        raise ValueError("length")
    prk = hmac.new(salt or bytes(32), secret, hashlib.sha256).digest()
    out, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
    return out[:length]


def _mac(secret: bytes, purpose: str, message: bytes) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    key = hkdf_sha256(secret, _SALT, purpose.encode())
    return hmac.new(key, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class Keyring:
    """The current signing key (signs and verifies) and the previous ones (verify only)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, auth: Auth) -> Keyring:
        """From the config's `auth` section."""
        return cls(
            auth.signing_key.get_secret_value().encode(),
            tuple(k.get_secret_value().encode() for k in auth.previous_signing_keys),
        )

    def sign(self, purpose: str, message: bytes) -> bytes:
        return _mac(self.current, purpose, message)

    def verify(self, purpose: str, message: bytes, mac: bytes) -> bool:
        """Whether `mac` (a MAC or a prefix of one, at least 16 bytes) is `message`'s under any accepted key.
        Every key is tried (constant-time comparison each), whichever matches."""
        if len(mac) < 16:
            return False
        ok = False
        for key in (self.current, *self.previous):
            ok |= hmac.compare_digest(_mac(key, purpose, message)[: len(mac)], mac)
        return ok

    def __repr__(self) -> str:
        return f"Keyring(<{1 + len(self.previous)} keys>)"
