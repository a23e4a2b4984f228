"""Attacks on the portal's sign-in, against the real daemon on the manual clock (no browser needed: each is a
plain HTTP exchange): session fixation, a disabled account's live session, expired and reused password
links, and account enumeration through the answer. (Wrong passwords, lockout and CSRF:
test_portal_browser.py; the work an unknown address costs: tests/unit/test_portal_sign_in.py.)

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_sign_in_attacks.py`.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest

from tests.harness.pagerd import PagerdProcess, manual_clock_config
from tests.harness.portal import PASSWORD, PortalClient, add_account, pagerd_cli

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
JAN, PIM = "jan@acme.example", "pim@acme.example"
EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    wd = tmp_path_factory.mktemp("attacks")
    p = PagerdProcess(workdir=wd, config=manual_clock_config(wd / "pagerd.yaml", START))
    p.start()
    try:
        add_account(p, JAN, "customer", customer="acme")
        yield p
    finally:
        p.stop()


@pytest.fixture(autouse=True)
def _new_lockout_window(daemon):
    """Each test starts after every earlier failure's lock (15 minutes window, 15 lock) has passed."""
    yield
    daemon.advance("31m")


def _customer(daemon: PagerdProcess, email: str) -> None:
    add_account(daemon, email, "customer", customer="acme")


def test_a_session_id_planted_before_sign_in_is_not_the_one_after(daemon):
    # the attacker's own valid session, planted in the victim's browser
    attacker = PortalClient(daemon)
    assert attacker.sign_in(JAN).status == 303
    planted = attacker.session
    victim = PortalClient(daemon, cookies={"pagerd_session": planted})  # type: ignore[dict-item]
    _customer(daemon, PIM)
    assert victim.sign_in(PIM).status == 303
    assert victim.session not in (None, planted)
    # the planted token ended with the sign-in: it opens nothing, for the attacker either
    assert attacker.get("/ui/tickets").location == "/ui/login"
    assert victim.get("/ui/tickets").status == 200
    # a made-up token is never adopted either
    made_up = PortalClient(daemon, cookies={"pagerd_session": "chosen-by-the-attacker-0123456789"})
    assert made_up.sign_in(JAN).status == 303
    assert made_up.session != "chosen-by-the-attacker-0123456789"
    # signing in again in the same browser rotates the token and ends the old one
    before = made_up.session
    assert made_up.sign_in(JAN).status == 303
    assert made_up.session != before
    assert PortalClient(daemon, cookies={"pagerd_session": before}).get("/ui/tickets").location == "/ui/login"  # type: ignore[dict-item]


def test_a_disabled_account_s_live_session_ends_at_its_next_request(daemon):
    email = "kees@acme.example"
    _customer(daemon, email)
    browser = PortalClient(daemon)
    assert browser.sign_in(email).status == 303
    token, old = browser.csrf(), browser.session  # the session's form token and cookie, while it was live
    assert browser.get("/ui/tickets").status == 200
    pagerd_cli(daemon, "user", "disable", "--email", email)
    answer = browser.get("/ui/tickets")
    assert (answer.status, answer.location) == (303, "/ui/login")
    assert "pagerd_session=" in answer.headers.get("set-cookie", "")  # the cookie is cleared
    assert browser.session is None
    # a form posted with the old session's cookie and token does nothing
    replay = PortalClient(daemon, cookies={"pagerd_session": old})  # type: ignore[dict-item]
    assert replay.post("/ui/tickets/1", {"csrf": token, "text": "still here?"}).location == "/ui/login"
    assert replay.post("/ui/logout", {"csrf": token}).location == "/ui/login"
    # its password opens nothing: the same answer as a wrong password of a live account
    right = PortalClient(daemon).sign_in(email)
    wrong = PortalClient(daemon).sign_in(JAN, "not the password at all")
    assert right.status == wrong.status == 401
    assert _without_echo(right.text, email) == _without_echo(wrong.text, JAN)


def _link(daemon: PagerdProcess, email: str, *extra: str) -> str:
    url = pagerd_cli(daemon, "user", "invite", "--email", email, *extra).strip()
    return urllib.parse.urlsplit(url).path


def _set_password(client: PortalClient, link: str, password: str = "a long enough passphrase"):
    page = client.get(link, headers=EN)
    found = re.search(r'name="csrf" value="([^"]*)"', page.text)
    token = found.group(1) if found else client.cookies.get("pagerd_form", "none")
    return client.post(link, {"csrf": token, "password": password, "again": password}, headers=EN)


GONE = "This link has been used or has expired. Ask the agency for a new one."


def test_a_used_password_link_is_refused_with_a_clear_page(daemon):
    email = "lot@acme.example"
    pagerd_cli(daemon, "user", "add", "--email", email, "--role", "customer", "--customer", "acme")
    link = _link(daemon, email)
    browser = PortalClient(daemon)
    assert _set_password(browser, link).location == "/ui/login?password=set"
    again = browser.get(link, headers=EN)
    assert again.status == 410 and GONE in again.text
    assert "<form" not in again.text.split("<main", 1)[-1]  # no password form on the page
    replay = PortalClient(daemon)  # a valid form token, the link replayed
    answer = replay.post(
        link,
        {"csrf": replay.csrf("/ui/login"), "password": "another long passphrase", "again": "another long passphrase"},
        headers=EN,
    )
    assert answer.status == 410 and GONE in answer.text
    assert PortalClient(daemon).sign_in(email, "another long passphrase").status == 401  # the reuse set nothing
    assert PortalClient(daemon).sign_in(email, "a long enough passphrase").status == 303


def test_a_password_reset_ends_every_session_of_the_account(daemon):
    email = "rik@acme.example"
    _customer(daemon, email)
    laptop, phone = PortalClient(daemon), PortalClient(daemon)
    assert laptop.sign_in(email).status == phone.sign_in(email).status == 303
    assert laptop.get("/ui/tickets").status == phone.get("/ui/tickets").status == 200
    # whoever holds a session (a thief too) loses it when the password is reset
    assert _set_password(PortalClient(daemon), _link(daemon, email, "--reset"), "a brand new passphrase").status == 303
    assert laptop.get("/ui/tickets").location == phone.get("/ui/tickets").location == "/ui/login"
    assert PortalClient(daemon).sign_in(email, "a brand new passphrase").status == 303


@pytest.mark.parametrize(
    "extra, lifetime", [((), timedelta(days=7)), (("--reset",), timedelta(hours=1))], ids=["invite", "reset"]
)
def test_an_expired_password_link_is_refused_with_a_clear_page(daemon, extra, lifetime):
    email = f"exp-{len(extra)}@acme.example"
    pagerd_cli(daemon, "user", "add", "--email", email, "--role", "customer", "--customer", "acme")
    link = _link(daemon, email, *extra)
    browser = PortalClient(daemon)
    form = browser.get(link, headers=EN)
    assert form.status == 200  # still valid
    daemon.advance(lifetime)
    answer = browser.get(link, headers=EN)
    assert answer.status == 410 and GONE in answer.text
    nl = browser.get(link, headers={"Accept-Language": "nl"})
    assert nl.status == 410 and "Deze link is al gebruikt of verlopen" in nl.text
    posted = _set_password(browser, link)
    assert posted.status == 410 and GONE in posted.text
    assert PortalClient(daemon).sign_in(email, "a long enough passphrase").status == 401


def _without_echo(text: str, email: str) -> str:
    """The page with the echoed address and the per-request form token taken out."""
    return re.sub(r'name="csrf" value="[^"]*"', "", text).replace(email, "EMAIL")


def test_an_unknown_address_and_a_wrong_password_get_the_same_answer(daemon):
    known, unknown = PortalClient(daemon), PortalClient(daemon)
    wrong = known.sign_in(JAN, "not the password at all")
    nobody = unknown.sign_in("nobody@acme.example", "not the password at all")
    malformed = PortalClient(daemon).sign_in("not-an-address", "not the password at all")
    assert wrong.status == nobody.status == malformed.status == 401
    assert _without_echo(wrong.text, JAN) == _without_echo(nobody.text, "nobody@acme.example")
    assert _without_echo(wrong.text, JAN) == _without_echo(malformed.text, "not-an-address")
    assert {k for k in wrong.headers if k not in ("date", "set-cookie", "content-length")} == {
        k for k in nobody.headers if k not in ("date", "set-cookie", "content-length")
    }
    # the lock counts an unknown address as it counts a known one: the fifth failure locks both alike
    for _ in range(4):
        a = PortalClient(daemon).sign_in(JAN, "not the password at all")
        b = PortalClient(daemon).sign_in("nobody@acme.example", "not the password at all")
    assert a.status == b.status == 429 and a.headers["retry-after"] == b.headers["retry-after"]
    assert _without_echo(a.text, JAN) == _without_echo(b.text, "nobody@acme.example")
    locked = PortalClient(daemon).sign_in(JAN, PASSWORD)  # the right password is not even checked
    assert locked.status == 429


def test_without_outgoing_mail_the_reset_page_says_to_ask_the_agency(daemon):
    client = PortalClient(daemon)
    page = client.get("/ui/password-reset", headers=EN)
    assert page.status == 200 and "This portal sends no e-mail. Ask the agency for a new link." in page.text
    assert 'action="/ui/password-reset"' not in page.text
    login = client.get("/ui/login", headers=EN).text
    assert 'href="/ui/password-reset"' in login
    resets = "SELECT count(*) FROM portal_password_links WHERE purpose = 'reset'"
    with sqlite3.connect(daemon.db_path) as db:
        before = db.execute(resets).fetchone()[0]  # the links other tests made with `pagerd user invite --reset`
    answer = client.post("/ui/password-reset", {"csrf": client.cookies["pagerd_form"], "email": JAN}, headers=EN)
    assert answer.status == 200 and "sends no e-mail" in answer.text
    with sqlite3.connect(daemon.db_path) as db:
        assert db.execute("SELECT count(*) FROM portal_link_mail").fetchone()[0] == 0
        assert db.execute(resets).fetchone()[0] == before  # the form made none
