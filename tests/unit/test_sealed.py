"""pager.service.sealed: TOTP secrets sealed at rest under a key derived from the signing key."""

from __future__ import annotations

import base64

import pytest

from pager.service.sealed import TOTP_SECRET, Unsealable, open_sealed, reseal, seal
from pager.service.signing import Keyring

KEY = b"signing-key-for-the-tests-0123456789"
OLD = b"the-previous-signing-key-0123456789"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_sealed_secret_opens_with_its_key_and_binding_only():
    keys = Keyring(KEY)
    sealed = seal(keys, TOTP_SECRET, SECRET, "account:7")
    assert sealed.startswith("v1.") and SECRET not in sealed
    assert open_sealed(keys, TOTP_SECRET, sealed, "account:7") == SECRET
    with pytest.raises(Unsealable):
        open_sealed(keys, TOTP_SECRET, sealed, "account:8")  # copied into another account's row
    with pytest.raises(Unsealable):
        open_sealed(Keyring(b"another-signing-key-0123456789abcdef"), TOTP_SECRET, sealed, "account:7")


def test_each_seal_is_new_and_a_tampered_one_opens_under_no_key():
    keys = Keyring(KEY)
    a, b = seal(keys, TOTP_SECRET, SECRET, "account:7"), seal(keys, TOTP_SECRET, SECRET, "account:7")
    assert a != b  # a fresh nonce each time
    raw = bytearray(base64.urlsafe_b64decode(a[3:]))
    raw[-1] ^= 1
    with pytest.raises(Unsealable):
        open_sealed(keys, TOTP_SECRET, "v1." + base64.urlsafe_b64encode(bytes(raw)).decode(), "account:7")


@pytest.mark.parametrize("stored", ["", SECRET, "v1.", "v1.@@@", "v1." + "A" * 8, "v2." + "A" * 80, "v1.é"])
def test_what_is_no_sealed_value_is_refused(stored):
    with pytest.raises(Unsealable):
        open_sealed(Keyring(KEY), TOTP_SECRET, stored, "account:7")


def test_a_previous_key_still_opens_during_a_rotation_and_never_seals():
    sealed_before = seal(Keyring(OLD), TOTP_SECRET, SECRET, "account:7")
    rotating = Keyring(KEY, (OLD,))
    assert open_sealed(rotating, TOTP_SECRET, sealed_before, "account:7") == SECRET
    sealed_now = seal(rotating, TOTP_SECRET, SECRET, "account:7")
    assert open_sealed(Keyring(KEY), TOTP_SECRET, sealed_now, "account:7") == SECRET  # sealed under the current
    with pytest.raises(Unsealable):
        open_sealed(Keyring(KEY), TOTP_SECRET, sealed_before, "account:7")  # the old key gone: unreadable


def test_an_unknown_purpose_is_a_programming_error():
    with pytest.raises(ValueError, match="purpose"):
        seal(Keyring(KEY), "ical-feed", SECRET, "account:7")


def test_reseal_moves_what_only_a_previous_key_opens_to_the_current_key():
    rotating = Keyring(KEY, (OLD,))
    current = seal(rotating, TOTP_SECRET, SECRET, "account:7")
    assert reseal(rotating, TOTP_SECRET, current, "account:7") is None  # the current key opens it: nothing to do
    before = seal(Keyring(OLD), TOTP_SECRET, SECRET, "account:7")
    again = reseal(rotating, TOTP_SECRET, before, "account:7")
    assert again is not None and again != before and SECRET not in again
    assert open_sealed(Keyring(KEY), TOTP_SECRET, again, "account:7") == SECRET  # the old key may go now
    with pytest.raises(Unsealable):
        open_sealed(Keyring(KEY), TOTP_SECRET, again, "account:8")  # still bound to its account
    with pytest.raises(Unsealable):
        reseal(rotating, TOTP_SECRET, before, "account:8")
    with pytest.raises(Unsealable):
        reseal(Keyring(KEY), TOTP_SECRET, before, "account:7")  # the old key already gone
    with pytest.raises(Unsealable):
        reseal(rotating, TOTP_SECRET, "v1.@@@", "account:7")
