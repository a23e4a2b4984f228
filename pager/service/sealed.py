"""Secrets pagerd must read back but keeps at rest only sealed: the TOTP secrets of portal accounts.

Sealed with AES-256-GCM (`cryptography`'s AESGCM) under a key derived from `auth.signing_key`
(PAGERD_SIGNING_KEY) by HKDF-SHA256 with the purpose as its label, as pager.service.signing derives its MAC
keys: the database alone (a backup, a stolen file, a read-only SQL injection) gives no second factor away.
AES-GCM rather than Fernet: one standard AEAD primitive with no key format of its own, and its associated
data binds a sealed value to what it belongs to (the account), so a sealed secret copied into another
account's row does not open there. A sealed value is `v1.` and the URL-safe base64 of a random 96-bit nonce
followed by the ciphertext and its tag.

`auth.previous_signing_keys` still open what they sealed while a rotation runs, and the daemon seals it
again under the current key (`reseal`, pager.service.portal.reseal_totp) when it starts or reloads with
previous keys configured, so the rotation's last step (the old key removed) locks no account out. A value
sealed under a key that is no longer configured opens under none: the account's second factor must be
reset (`pagerd user totp-reset`).
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .signing import Keyring, hkdf_sha256

TOTP_SECRET = "totp-secret"  # noqa: S105 (a purpose label, not a secret)
PURPOSES = (TOTP_SECRET,)
_SALT = b"pagerd sealed secrets v1"
_PREFIX = "v1."
_NONCE = 12


class Unsealable(ValueError):
    """A sealed value that no configured key opens (or that is not a sealed value at all)."""


def _key(secret: bytes, purpose: str) -> AESGCM:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    return AESGCM(hkdf_sha256(secret, _SALT, purpose.encode()))


def seal(keys: Keyring, purpose: str, plain: str, bound_to: str) -> str:
    """`plain` sealed under the current key for `purpose`, bound to `bound_to` (e.g. `account:7`)."""
    nonce = os.urandom(_NONCE)
    sealed = _key(keys.current, purpose).encrypt(nonce, plain.encode(), bound_to.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_sealed(keys: Keyring, purpose: str, sealed: str, bound_to: str) -> str:
    """The plain text of `sealed` (by seal with the same purpose and binding, under the current or a previous
    key); Unsealable otherwise."""
    return _open(keys, purpose, sealed, bound_to)[0]


def reseal(keys: Keyring, purpose: str, sealed: str, bound_to: str) -> str | None:
    """None when the current key opens `sealed`; when only a previous key does, its plain text sealed again
    under the current key (with the same purpose and binding); Unsealable when no configured key does."""
    plain, current = _open(keys, purpose, sealed, bound_to)
    return None if current else seal(keys, purpose, plain, bound_to)


def _open(keys: Keyring, purpose: str, sealed: str, bound_to: str) -> tuple[str, bool]:
    """(the plain text, whether the current key opened it); Unsealable when no configured key does."""
    if not sealed.startswith(_PREFIX):
        raise Unsealable("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(_PREFIX) :].encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise Unsealable("not a sealed value") from None
    if len(raw) <= _NONCE + 16:
        raise Unsealable("not a sealed value")
    for i, secret in enumerate((keys.current, *keys.previous)):
        try:
            return _key(secret, purpose).decrypt(raw[:_NONCE], raw[_NONCE:], bound_to.encode()).decode(), i == 0
        except (InvalidTag, UnicodeDecodeError):
            continue
    raise Unsealable("no configured key opens it")
