"""Signed tokens: the key derivation, one-tap links and iCal feed tokens, across a signing-key rotation."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from pager.service import ical, links
from pager.service.signing import ICAL_FEED, LINK, Keyring, hkdf_sha256

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
OLD = b"the-key-that-signed-until-today-0123456789"
NEW = b"the-key-that-signs-from-today-0123456789"
ADMIN = b"admin-token-of-the-api-0123456789abcdef"
ROTATING = Keyring(NEW, (OLD,))


# RFC 5869 appendix A, test cases 1 and 3 (SHA-256)
@pytest.mark.parametrize(
    "ikm,salt,info,length,okm",
    [
        (
            bytes([0x0B] * 22),
            bytes(range(13)),
            bytes(range(0xF0, 0xFA)),
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            bytes([0x0B] * 22),
            b"",
            b"",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
)
def test_hkdf_matches_rfc_5869(ikm, salt, info, length, okm) -> None:
    assert hkdf_sha256(ikm, salt, info, length).hex() == okm


def test_each_purpose_has_a_key_of_its_own() -> None:
    keys = Keyring(NEW)
    assert keys.sign(LINK, b"rotation:standby") != keys.sign(ICAL_FEED, b"rotation:standby")
    assert not keys.verify(ICAL_FEED, b"m", keys.sign(LINK, b"m"))
    assert keys.verify(LINK, b"m", keys.sign(LINK, b"m")) and keys.verify(LINK, b"m", keys.sign(LINK, b"m")[:16])
    assert not keys.verify(LINK, b"m", keys.sign(LINK, b"m")[:15])  # too short a prefix proves nothing
    with pytest.raises(ValueError):
        keys.sign("portal", b"m")


# (signed by, verified by, valid)
ROTATION = [
    (Keyring(NEW), Keyring(NEW), True),
    (Keyring(OLD), ROTATING, True),  # the previous key is still accepted
    (ROTATING, Keyring(NEW), True),  # ... but never used to sign
    (ROTATING, ROTATING, True),
    (Keyring(OLD), Keyring(NEW), False),  # rotated without listing the previous key
    (Keyring(NEW), Keyring(OLD), False),
    (Keyring(ADMIN), ROTATING, False),  # the admin token signs nothing
    (Keyring(NEW, (ADMIN,)), Keyring(ADMIN), False),
]


@pytest.mark.parametrize("signer,verifier,valid", ROTATION)
def test_links_across_a_rotation(signer, verifier, valid) -> None:
    token = links.sign(signer, 42, "ack", "anna", NOW + timedelta(hours=1), generation=2)
    if valid:
        assert links.verify(verifier, token, NOW) == links.Link(42, 2, "ack", "anna", NOW + timedelta(hours=1))
    else:
        with pytest.raises(links.InvalidLink, match="not valid"):
            links.verify(verifier, token, NOW)


@pytest.mark.parametrize("signer,verifier,valid", ROTATION)
def test_feed_tokens_across_a_rotation(signer, verifier, valid) -> None:
    token = ical.feed_token(signer, "rotation", "standby")
    assert ical.token_ok(verifier, "rotation", "standby", token) is valid


def test_the_feed_url_token_is_signed_by_the_current_key() -> None:
    assert ical.feed_token(ROTATING, "person", "bram") == ical.feed_token(Keyring(NEW), "person", "bram")
    assert ical.feed_token(ROTATING, "person", "bram") != ical.feed_token(Keyring(OLD), "person", "bram")


def _tamper(token: str, part: int) -> str:
    pieces = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(pieces[part] + "=" * (-len(pieces[part]) % 4)))
    raw[0] ^= 1
    pieces[part] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    return ".".join(pieces)


GOOD = links.sign(Keyring(NEW), 7, "resolve", "bram", NOW + timedelta(minutes=5), generation=0)


@pytest.mark.parametrize(
    "token,now,reason",
    [
        (GOOD, NOW + timedelta(minutes=5), None),  # valid up to its expiry
        (GOOD, NOW + timedelta(minutes=5, seconds=1), links.EXPIRED),
        (_tamper(GOOD, 0), NOW, links.NOT_VALID),  # the payload changed
        (_tamper(GOOD, 1), NOW, links.NOT_VALID),  # the MAC changed
        (GOOD.split(".")[0], NOW, links.NOT_VALID),  # no MAC
        (GOOD + "AA", NOW, links.NOT_VALID),  # a longer MAC
        ("not-a-token", NOW, links.NOT_VALID),
        ("", NOW, links.NOT_VALID),
        ("%%%.%%%", NOW, links.NOT_VALID),
        ("é.é", NOW, links.NOT_VALID),
    ],
)
def test_link_tokens(token, now, reason) -> None:
    if reason is None:
        assert links.verify(Keyring(NEW), token, now).incident_id == 7
    else:
        with pytest.raises(links.InvalidLink) as info:
            links.verify(Keyring(NEW), token, now)
        assert str(info.value) == reason


@pytest.mark.parametrize(
    "payload",
    [
        b"7.0.delete.9999999999.bram",
        b"x.0.ack.9999999999.bram",
        b"7.0.ack.bram",
        b"7.ack.9999999999.bram",
        b"7.x.ack.9999999999.bram",
        b"7.-1.ack.9999999999.bram",
        b"7.0.ack.99999999999999999999.bram",
        b"7.0.ack.+9999999999.bram",
        b"\xff.0.ack.1.b",
        b"7.ack.bram.9999999999",
    ],
)
def test_a_well_signed_but_malformed_payload_is_not_valid(payload) -> None:
    keys = Keyring(NEW)
    token = links._b64(payload) + "." + links._b64(keys.sign(LINK, payload)[: links.MAC_BYTES])
    with pytest.raises(links.InvalidLink, match="not valid"):
        links.verify(keys, token, NOW)


@pytest.mark.parametrize(
    "person", ["anna.de.vries", "anna-de_vries", "ops.2nd-line_7", "007", ".", "a..b.", "jan.1234567890", "x.ack.9.y"]
)
def test_every_person_id_survives_and_the_token_needs_no_escaping(person) -> None:
    token = links.sign(Keyring(NEW), 1, "ack", person, NOW + timedelta(hours=1), generation=3)
    assert links.verify(Keyring(NEW), token, NOW) == links.Link(1, 3, "ack", person, NOW + timedelta(hours=1))
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert token.count(".") == 1


def test_the_round_is_signed() -> None:
    """The round is part of what the MAC covers: a link for round 1 cannot be made into one for round 2."""
    token = links.sign(Keyring(NEW), 7, "ack", "bram", NOW + timedelta(hours=1), generation=0)
    body, _, mac = token.partition(".")
    forged = links._b64(links._unb64(body).replace(b"7.0.", b"7.1.", 1)) + "." + mac
    with pytest.raises(links.InvalidLink, match="not valid"):
        links.verify(Keyring(NEW), forged, NOW)


@pytest.mark.parametrize("generation", [-1, True, 1.0, None])
def test_a_link_needs_a_round(generation) -> None:
    with pytest.raises(ValueError):
        links.sign(Keyring(NEW), 7, "ack", "bram", NOW, generation=generation)


@pytest.mark.parametrize("given", ["", "x" * 32, "AB" * 16, " " + "ab" * 15 + " ", "ab" * 17, "ab" * 15])
def test_feed_tokens_that_are_not_hex_of_the_right_length(given) -> None:
    assert not ical.token_ok(Keyring(NEW), "rotation", "standby", given)


def test_feed_tokens_are_per_feed() -> None:
    keys = Keyring(NEW)
    token = ical.feed_token(keys, "rotation", "standby")
    assert len(token) == 32 and ical.token_ok(keys, "rotation", "standby", token)
    assert not ical.token_ok(keys, "rotation", "office", token)
    assert not ical.token_ok(keys, "person", "standby", token)
    assert not ical.token_ok(keys, "rotation", "standby", token.upper())
