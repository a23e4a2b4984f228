"""No account enumeration by time: every sign-in attempt that is not locked does exactly one argon2
verification with the same parameters, whether the address has an account, has none, is not an address,
belongs to a disabled account or to one still waiting for its invitation. Tested on the code path (which
hash is verified, how often, with which parameters), not on wall-clock time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import argon2
import pytest

from pager.clock import ManualClock
from pager.service import portal
from pager.storage.port import IngestPolicy
from pager.storage.sqlite import SqliteStore

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))
PASSWORD = "correct horse battery"


class CountingHasher:
    """The service's hasher, recording the hash each verification was made against."""

    def __init__(self, real: argon2.PasswordHasher) -> None:
        self.real, self.verified = real, []

    def verify(self, hashed: str, password: str) -> bool:
        self.verified.append(hashed)
        return self.real.verify(hashed, password)

    def hash(self, password: str) -> str:
        return self.real.hash(password)


@pytest.fixture
async def store(tmp_path: Path):
    s = SqliteStore(str(tmp_path / "pagerd.db"), POLICY, clock=ManualClock(T0))
    await s.open()
    for email, hashed in (
        ("jan@acme.example", portal.hash_password(PASSWORD)),
        ("gone@acme.example", portal.hash_password(PASSWORD)),
        ("new@acme.example", None),
    ):
        await s.add_account(
            email=email,
            role="customer",
            person=None,
            customer="acme",
            language=None,
            password_hash=hashed,
            created_by="test",
            now=T0,
        )
    await s.disable_account("gone@acme.example", now=T0)
    yield s
    await s.close()


@pytest.fixture
def hasher(monkeypatch) -> CountingHasher:
    counting = CountingHasher(portal._HASHER)
    monkeypatch.setattr(portal, "_HASHER", counting)
    return counting


@pytest.mark.parametrize(
    "email, password",
    [
        ("jan@acme.example", "a wrong password"),  # known, wrong password
        ("nobody@acme.example", "a wrong password"),  # no account
        ("not an address", "a wrong password"),  # not even an address
        ("gone@acme.example", PASSWORD),  # disabled, right password
        ("new@acme.example", PASSWORD),  # invited, no password yet
        ("x" * 5000 + "@acme.example", "y" * 5000),  # oversized
    ],
)
async def test_every_refused_attempt_does_one_verification_with_the_same_parameters(store, hasher, email, password):
    result = await portal.sign_in(store, email, password, client="192.0.2.1", previous=None, now=T0)
    assert result.token is None and result.locked is None
    assert len(hasher.verified) == 1
    real = argon2.extract_parameters(portal.hash_password(PASSWORD))
    assert argon2.extract_parameters(hasher.verified[0]) == real


async def test_the_unknown_address_is_verified_against_the_dummy_hash_and_fails(store, hasher):
    await portal.sign_in(store, "nobody@acme.example", PASSWORD, client=None, previous=None, now=T0)
    assert hasher.verified == [portal._DUMMY]
    # even the dummy's own password would not sign in: there is no account
    assert portal._verify(None, PASSWORD) is False


async def test_the_right_password_signs_in_after_one_verification(store, hasher):
    result = await portal.sign_in(store, "JAN@acme.example ", PASSWORD, client=None, previous=None, now=T0)
    assert result.token is not None and len(hasher.verified) == 1


async def test_a_locked_attempt_verifies_nothing_known_address_or_not(store, hasher):
    for email in ("jan@acme.example", "nobody@acme.example"):
        for _ in range(5):
            await portal.sign_in(store, email, "a wrong password", client=email, previous=None, now=T0)
    hasher.verified.clear()
    for email in ("jan@acme.example", "nobody@acme.example"):
        result = await portal.sign_in(store, email, PASSWORD, client="198.51.100.7", previous=None, now=T0)
        assert result.token is None and result.locked == timedelta(minutes=15)
    assert hasher.verified == []
