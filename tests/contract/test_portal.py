"""PortalStore: accounts, sessions, failed sign-ins and one-time password links."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pager.service import sealed
from pager.service.portal import reseal_totp
from pager.service.signing import Keyring
from pager.storage.port import Conflict, LinkMailOut, NotFound, SealedTotp, Store, TotpState

from .seed import T0

MIN = timedelta(minutes=1)


async def _account(store: Store, email: str = "jan@acme.example", **kw):
    args = dict(
        email=email,
        role="customer",
        person=None,
        customer="acme",
        language=None,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        created_by="cli",
        now=T0,
    )
    args.update(kw)
    return await store.add_account(**args)


async def test_add_account_stores_it_found_by_id_and_address(store: Store) -> None:
    a = await _account(store)
    assert (a.email, a.role, a.customer, a.person, a.has_password, a.created_at, a.disabled_at) == (
        "jan@acme.example",
        "customer",
        "acme",
        None,
        True,
        T0,
        None,
    )
    assert await store.get_account(a.id) == a
    found = await store.account_by_email("jan@acme.example")
    assert found is not None and found[0] == a and found[1].startswith("$argon2id$")
    assert await store.account_by_email("nobody@acme.example") is None
    assert await store.get_account(a.id + 100) is None


async def test_add_account_refuses_a_second_account_for_an_address(store: Store) -> None:
    await _account(store)
    with pytest.raises(Conflict):
        await _account(store, role="desk", customer=None)
    assert [a.email for a in await store.list_accounts()] == ["jan@acme.example"]


async def test_account_by_email_of_an_account_without_password(store: Store) -> None:
    a = await _account(
        store, email="anna@example.nl", role="engineer", person="anna", customer=None, password_hash=None
    )
    assert a.has_password is False
    found = await store.account_by_email("anna@example.nl")
    assert found is not None and found[1] is None


async def test_start_session_ends_the_previous_one(store: Store) -> None:
    a = await _account(store)
    s = await store.start_session(token_hash="h1", account_id=a.id, csrf="c1", client="127.0.0.1", ended=None, now=T0)
    assert (s.account, s.csrf, s.created_at, s.last_seen_at, s.ended_at) == (a, "c1", T0, T0, None)
    await store.touch_session("h1", now=T0 + 5 * MIN)
    await store.touch_session("h1", now=T0 + 2 * MIN)  # never moved back
    got = await store.get_session("h1")
    assert got is not None and got.last_seen_at == T0 + 5 * MIN
    await store.start_session(token_hash="h2", account_id=a.id, csrf="c2", client=None, ended="h1", now=T0 + 6 * MIN)
    old, new = await store.get_session("h1"), await store.get_session("h2")
    assert old is not None and old.ended_at == T0 + 6 * MIN
    assert new is not None and new.ended_at is None
    await store.end_session("h2", now=T0 + 7 * MIN)
    ended = await store.get_session("h2")
    assert ended is not None and ended.ended_at == T0 + 7 * MIN
    assert await store.get_session("unknown") is None


async def test_disable_account_ends_its_sessions(store: Store) -> None:
    a = await _account(store)
    await store.start_session(token_hash="h1", account_id=a.id, csrf="c", client=None, ended=None, now=T0)
    d = await store.disable_account("jan@acme.example", now=T0 + MIN)
    assert d.disabled_at == T0 + MIN
    s = await store.get_session("h1")
    assert s is not None and s.ended_at == T0 + MIN and s.account.disabled_at == T0 + MIN
    with pytest.raises(NotFound):
        await store.disable_account("nobody@acme.example", now=T0)


async def test_add_login_failure_counts_per_key(store: Store) -> None:
    await store.add_login_failure(["account:a@b.nl", "address:127.0.0.1"], now=T0)
    await store.add_login_failure(["account:c@d.nl", "address:127.0.0.1"], now=T0 + MIN)
    assert await store.login_failures("address:127.0.0.1", since=T0) == [T0, T0 + MIN]
    assert await store.login_failures("address:127.0.0.1", since=T0 + MIN) == [T0 + MIN]
    assert await store.login_failures("account:a@b.nl", since=T0) == [T0]
    await store.clear_login_failures("account:a@b.nl")
    assert await store.login_failures("account:a@b.nl", since=T0) == []
    assert len(await store.login_failures("address:127.0.0.1", since=T0)) == 2
    # failures older than a day are forgotten when the key fails again
    await store.add_login_failure(["address:127.0.0.1"], now=T0 + timedelta(days=2))
    assert await store.login_failures("address:127.0.0.1", since=T0) == [T0 + timedelta(days=2)]


async def test_use_password_link_sets_the_password_once_and_ends_sessions(store: Store) -> None:
    a = await _account(store, password_hash=None)
    await store.start_session(token_hash="s", account_id=a.id, csrf="c", client=None, ended=None, now=T0)
    link = await store.add_password_link(
        token_hash="l1", account_id=a.id, purpose="invite", expires_at=T0 + timedelta(days=7), now=T0
    )
    assert (link.account, link.purpose, link.created_at, link.used_at) == (a, "invite", T0, None)
    assert await store.get_password_link("l1") == link
    assert await store.get_password_link("nope") is None
    done = await store.use_password_link("l1", password_hash="$argon2id$new", now=T0 + MIN)
    assert done.has_password is True
    used = await store.get_password_link("l1")
    assert used is not None and used.used_at == T0 + MIN
    s = await store.get_session("s")
    assert s is not None and s.ended_at == T0 + MIN
    with pytest.raises(Conflict):  # used
        await store.use_password_link("l1", password_hash="$argon2id$again", now=T0 + 2 * MIN)
    found = await store.account_by_email(a.email)
    assert found is not None and found[1] == "$argon2id$new"


async def test_use_password_link_refuses_expired_or_disabled(store: Store) -> None:
    a = await _account(store, password_hash=None)
    await store.add_password_link(token_hash="l1", account_id=a.id, purpose="reset", expires_at=T0 + MIN, now=T0)
    with pytest.raises(Conflict):
        await store.use_password_link("l1", password_hash="x", now=T0 + MIN)
    await store.add_password_link(token_hash="l2", account_id=a.id, purpose="invite", expires_at=T0 + 9 * MIN, now=T0)
    await store.disable_account(a.email, now=T0)
    with pytest.raises(Conflict):
        await store.use_password_link("l2", password_hash="x", now=T0 + MIN)
    with pytest.raises(NotFound):
        await store.use_password_link("l3", password_hash="x", now=T0)
    with pytest.raises(NotFound):
        await store.add_password_link(token_hash="l4", account_id=a.id + 9, purpose="invite", expires_at=T0, now=T0)


async def test_get_account_list_accounts_by_id(store: Store) -> None:
    a = await _account(store, email="b@acme.example")
    b = await _account(store, email="a@example.nl", role="desk", customer=None)
    assert [x.id for x in await store.list_accounts()] == [a.id, b.id]
    assert await store.get_account(b.id) == b


async def test_list_accounts_empty(store: Store) -> None:
    assert await store.list_accounts() == []


async def test_get_session_unknown_is_none(store: Store) -> None:
    assert await store.get_session("nothing") is None


async def test_touch_session_moves_the_last_request_forward_only(store: Store) -> None:
    a = await _account(store)
    await store.start_session(token_hash="h", account_id=a.id, csrf="c", client=None, ended=None, now=T0)
    await store.touch_session("h", now=T0 + 3 * MIN)
    await store.touch_session("h", now=T0 + MIN)
    s = await store.get_session("h")
    assert s is not None and s.last_seen_at == T0 + 3 * MIN


async def test_end_session_keeps_the_first_end(store: Store) -> None:
    a = await _account(store)
    await store.start_session(token_hash="h", account_id=a.id, csrf="c", client=None, ended=None, now=T0)
    await store.end_session("h", now=T0 + MIN)
    await store.end_session("h", now=T0 + 2 * MIN)
    s = await store.get_session("h")
    assert s is not None and s.ended_at == T0 + MIN


async def test_login_failures_since(store: Store) -> None:
    await store.add_login_failure(["k"], now=T0)
    await store.add_login_failure(["k"], now=T0 + 2 * MIN)
    assert await store.login_failures("k", since=T0 + MIN) == [T0 + 2 * MIN]
    assert await store.login_failures("other", since=T0) == []


async def test_clear_login_failures_of_one_key(store: Store) -> None:
    await store.add_login_failure(["k1", "k2"], now=T0)
    await store.clear_login_failures("k1")
    assert (await store.login_failures("k1", since=T0), await store.login_failures("k2", since=T0)) == ([], [T0])


async def test_add_password_link_and_get_password_link(store: Store) -> None:
    a = await _account(store, password_hash=None)
    link = await store.add_password_link(token_hash="l", account_id=a.id, purpose="reset", expires_at=T0 + MIN, now=T0)
    assert (link.purpose, link.expires_at, link.used_at) == ("reset", T0 + MIN, None)
    assert await store.get_password_link("l") == link
    assert await store.get_password_link("other") is None


async def test_get_password_link_unknown_is_none(store: Store) -> None:
    assert await store.get_password_link("unknown") is None


def _mail(address: str = "jan@acme.example") -> LinkMailOut:
    return LinkMailOut(
        address=address, subject="Your password", text="https://x/ui/password/tok", html="<p>tok</p>", language="en"
    )


async def test_claim_link_mail_leases_the_mail_queued_with_its_link(store: Store) -> None:
    a = await _account(store, password_hash=None)
    await store.add_password_link(
        token_hash="l", account_id=a.id, purpose="invite", expires_at=T0 + MIN, now=T0, mail=_mail("Jan@acme.example")
    )
    assert await store.claim_link_mail(T0 - MIN, lease=5 * MIN) == []  # not due before it was queued
    (due,) = await store.claim_link_mail(T0, lease=5 * MIN)
    assert (due.address, due.subject, due.text, due.html, due.language, due.purpose, due.attempts) == (
        "jan@acme.example",
        "Your password",
        "https://x/ui/password/tok",
        "<p>tok</p>",
        "en",
        "invite",
        1,
    )
    assert await store.claim_link_mail(T0 + 4 * MIN, lease=5 * MIN) == []  # leased
    (again,) = await store.claim_link_mail(T0 + 5 * MIN, lease=5 * MIN)  # the sender died: tried again
    assert (again.id, again.attempts) == (due.id, 2)


async def test_finish_link_mail_sent_retried_or_failed_empties_the_text(store: Store) -> None:
    a = await _account(store, password_hash=None)
    for n in range(3):
        await store.add_password_link(
            token_hash=f"l{n}", account_id=a.id, purpose="reset", expires_at=T0 + MIN, now=T0, mail=_mail()
        )
    sent, retried, failed = await store.claim_link_mail(T0, lease=MIN)
    await store.finish_link_mail(sent.id, sent=True, error=None, retry_at=None, now=T0)
    await store.finish_link_mail(retried.id, sent=False, error="421 busy", retry_at=T0 + 3 * MIN, now=T0)
    await store.finish_link_mail(failed.id, sent=False, error="550 no such user", retry_at=None, now=T0)
    rows = await store.link_mail("JAN@acme.example")
    assert [(r["status"], r["kept"], r["error"], r["sent_at"]) for r in rows] == [
        ("sent", False, None, T0),
        ("pending", True, "421 busy", None),
        ("failed", False, "550 no such user", None),
    ]
    assert await store.claim_link_mail(T0 + 2 * MIN, lease=MIN) == []
    (due,) = await store.claim_link_mail(T0 + 3 * MIN, lease=MIN)
    assert (due.id, due.attempts, due.text) == (retried.id, 2, "https://x/ui/password/tok")


async def test_link_mail_of_an_address_without_any_is_empty(store: Store) -> None:
    assert await store.link_mail("nobody@acme.example") == []


async def test_add_password_link_with_mail_for_an_unknown_account_queues_nothing(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.add_password_link(
            token_hash="l", account_id=99, purpose="invite", expires_at=T0, now=T0, mail=_mail()
        )
    assert await store.link_mail("jan@acme.example") == []


async def test_start_session_waiting_for_the_second_factor(store: Store) -> None:
    a = await _account(store, role="desk", customer=None)
    s = await store.start_session(
        token_hash="p", account_id=a.id, csrf="c", client=None, ended=None, now=T0, factor_due=True
    )
    assert s.factor_due is True
    full = await store.start_session(token_hash="f", account_id=a.id, csrf="d", client=None, ended="p", now=T0 + MIN)
    assert full.factor_due is False
    pending = await store.get_session("p")
    assert pending is not None and pending.factor_due and pending.ended_at == T0 + MIN


async def test_totp_state_of_a_new_account_and_an_unknown_one(store: Store) -> None:
    a = await _account(store, role="desk", customer=None)
    assert await store.totp_state(a.id) == TotpState(secret=None, pending=None, last_step=None)
    assert a.has_totp is False
    with pytest.raises(NotFound):
        await store.totp_state(a.id + 9)


async def test_confirm_totp_turns_on_the_secret_set_totp_pending_showed_last(store: Store) -> None:
    a = await _account(store, role="desk", customer=None)
    await store.set_totp_pending(a.id, "AAAA")
    await store.set_totp_pending(a.id, "BBBB")  # a reload of the page shows a new secret
    assert await store.confirm_totp(a.id, "AAAA", 100, keep="none", now=T0) is False  # not the one shown last
    assert await store.confirm_totp(a.id, "BBBB", 100, keep="none", now=T0) is True
    assert await store.totp_state(a.id) == TotpState(secret="BBBB", pending=None, last_step=100)
    assert await store.confirm_totp(a.id, "BBBB", 101, keep="none", now=T0) is False  # confirmed once
    again = await store.get_account(a.id)
    assert again is not None and again.has_totp is True
    found = await store.account_by_email(a.email)
    assert found is not None and found[0].has_totp is True
    await store.set_totp_pending(a.id, None)
    assert (await store.totp_state(a.id)).pending is None


async def _two_with_totp(store: Store):
    a = await _account(store, role="desk", customer=None, email="a@agency.nl")
    b = await _account(store, role="desk", customer=None, email="b@agency.nl")
    await _account(store, role="desk", customer=None, email="c@agency.nl")  # no second factor
    await store.set_totp_pending(a.id, "AAAA")
    assert await store.confirm_totp(a.id, "AAAA", 100, keep="none", now=T0) is True
    await store.set_totp_pending(a.id, "PPPP")  # a new enrolment shown, not confirmed
    await store.set_totp_pending(b.id, "BBBB")
    return a, b


async def test_sealed_totp_lists_the_accounts_with_a_secret_or_a_pending_one(store: Store) -> None:
    assert await store.sealed_totp() == []
    a, b = await _two_with_totp(store)
    assert await store.sealed_totp() == [
        SealedTotp(account_id=a.id, secret="AAAA", pending="PPPP"),
        SealedTotp(account_id=b.id, secret=None, pending="BBBB"),
    ]
    await store.reset_totp(a.email)
    assert await store.sealed_totp() == [SealedTotp(account_id=b.id, secret=None, pending="BBBB")]


async def test_replace_sealed_totp_is_compare_and_set(store: Store) -> None:
    a, b = await _two_with_totp(store)
    assert await store.replace_sealed_totp(a.id, "secret", "AAAA", "A2") is True
    assert await store.replace_sealed_totp(a.id, "secret", "AAAA", "A3") is False  # changed meanwhile
    assert await store.replace_sealed_totp(a.id, "pending", "PPPP", "P2") is True
    assert await store.replace_sealed_totp(b.id, "secret", "BBBB", "B2") is False  # b has no secret
    assert await store.replace_sealed_totp(b.id + 99, "pending", "BBBB", "B2") is False  # no such account
    assert await store.totp_state(a.id) == TotpState(secret="A2", pending="P2", last_step=100)
    assert await store.totp_state(b.id) == TotpState(secret=None, pending="BBBB", last_step=None)


async def test_reseal_totp_moves_a_rotation_s_secrets_to_the_current_key(store: Store) -> None:
    """pager.service.portal.reseal_totp on the store: what only the previous key opens is sealed again under
    the current one, what the current key opens is left alone, what no key opens is counted and left."""
    old, new = b"the-previous-signing-key-0123456789", b"the-current-signing-key-01234567890"
    a = await _account(store, role="desk", customer=None, email="a@agency.nl")
    b = await _account(store, role="desk", customer=None, email="b@agency.nl")
    c = await _account(store, role="desk", customer=None, email="c@agency.nl")
    key_a = sealed.seal(Keyring(old), sealed.TOTP_SECRET, "SECRETA", f"account:{a.id}")
    await store.set_totp_pending(a.id, key_a)
    assert await store.confirm_totp(a.id, key_a, 100, keep="none", now=T0) is True
    key_b = sealed.seal(Keyring(new), sealed.TOTP_SECRET, "SECRETB", f"account:{b.id}")
    await store.set_totp_pending(b.id, key_b)
    lost = sealed.seal(Keyring(b"a-key-nobody-configures-0123456789ab"), sealed.TOTP_SECRET, "X", f"account:{c.id}")
    await store.set_totp_pending(c.id, lost)
    assert await reseal_totp(store, Keyring(new)) == (0, 0)  # no previous key: nothing a rotation could lose
    assert await reseal_totp(store, Keyring(new, (old,))) == (1, 1)
    state = await store.totp_state(a.id)
    assert state.secret is not None and state.secret != key_a and state.last_step == 100
    assert sealed.open_sealed(Keyring(new), sealed.TOTP_SECRET, state.secret, f"account:{a.id}") == "SECRETA"
    assert (await store.totp_state(b.id)).pending == key_b  # the current key's: untouched
    assert (await store.totp_state(c.id)).pending == lost
    assert await reseal_totp(store, Keyring(new, (old,))) == (0, 1)  # a second pass (another node's) changes nothing


async def _ended(store: Store, token_hash: str):
    s = await store.get_session(token_hash)
    assert s is not None
    return s.ended_at


async def test_confirm_totp_ends_every_other_session_of_the_account(store: Store) -> None:
    a = await _account(store, role="desk", customer=None)
    b = await _account(store, email="bram@example.nl", role="desk", customer=None)
    for th, who in (("here", a), ("phone", a), ("laptop", a), ("brams", b)):
        await store.start_session(token_hash=th, account_id=who.id, csrf="c", client=None, ended=None, now=T0)
    await store.set_totp_pending(a.id, "S")
    assert await store.confirm_totp(a.id, "T", 10, keep="here", now=T0 + MIN) is False  # not the shown one
    assert [await _ended(store, th) for th in ("here", "phone", "laptop")] == [None, None, None]
    assert await store.confirm_totp(a.id, "S", 10, keep="here", now=T0 + MIN) is True
    ended = {th: await _ended(store, th) for th in ("here", "phone", "laptop", "brams")}
    assert ended == {"here": None, "phone": T0 + MIN, "laptop": T0 + MIN, "brams": None}


async def test_use_totp_step_takes_each_step_once_and_never_an_earlier_one(store: Store) -> None:
    a = await _account(store, role="desk", customer=None)
    assert await store.use_totp_step(a.id, 5) is False  # no second factor
    await store.set_totp_pending(a.id, "S")
    await store.confirm_totp(a.id, "S", 10, keep="none", now=T0)
    assert await store.use_totp_step(a.id, 10) is False  # the confirming code
    assert await store.use_totp_step(a.id, 11) is True
    assert await store.use_totp_step(a.id, 11) is False
    assert await store.use_totp_step(a.id, 9) is False
    assert (await store.totp_state(a.id)).last_step == 11


async def test_reset_totp_removes_the_second_factor(store: Store) -> None:
    a = await _account(store, role="desk", customer=None)
    await store.set_totp_pending(a.id, "S")
    await store.confirm_totp(a.id, "S", 10, keep="none", now=T0)
    await store.set_totp_pending(a.id, "T")
    done = await store.reset_totp(a.email)
    assert done.has_totp is False
    assert await store.totp_state(a.id) == TotpState(secret=None, pending=None, last_step=None)
    with pytest.raises(NotFound):
        await store.reset_totp("nobody@example.nl")


async def test_set_totp_pending_replaces_or_forgets_the_shown_secret(store: Store) -> None:
    a = await _account(store, role="desk", customer=None)
    await store.set_totp_pending(a.id, "AAAA")
    assert (await store.totp_state(a.id)).pending == "AAAA"
    await store.set_totp_pending(a.id, "BBBB")
    assert (await store.totp_state(a.id)).pending == "BBBB"
    await store.set_totp_pending(a.id, None)
    assert await store.totp_state(a.id) == TotpState(secret=None, pending=None, last_step=None)


async def test_set_account_language_sets_or_clears_it(store: Store) -> None:
    a = await _account(store)
    other = await _account(store, email="pim@acme.example")
    done = await store.set_account_language(a.id, "en")
    assert done.language == "en" and done.id == a.id
    got = await store.get_account(a.id)
    assert got is not None and got.language == "en"
    assert (await store.get_account(other.id)).language == other.language  # type: ignore[union-attr]
    assert (await store.set_account_language(a.id, None)).language is None
    with pytest.raises(NotFound):
        await store.set_account_language(a.id + 100, "nl")
