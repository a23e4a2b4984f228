"""The second factor of staff (TOTP) against the real daemon on the manual clock: the codes are computed
from the key the enrolment page shows, at the daemon's own now (`pyotp` on its time steps), and the clock is
moved to reach the next code; nothing sleeps.

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_totp.py`.
"""

from __future__ import annotations

import html
import re
import sqlite3
from datetime import datetime, timezone

import pyotp
import pytest

from tests.harness.pagerd import PagerdProcess, manual_clock_config
from tests.harness.portal import PortalClient, add_account, pagerd_cli

START = datetime(2026, 1, 5, 9, 0, 10, tzinfo=timezone.utc)  # 10 s into a 30-second step
DESK = "desk@example.nl"
EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    wd = tmp_path_factory.mktemp("totp")
    p = PagerdProcess(workdir=wd, config=manual_clock_config(wd / "pagerd.yaml", START))
    p.start()
    try:
        add_account(p, DESK, "desk", person="chris")
        add_account(p, "jan@acme.example", "customer", customer="acme")
        yield p
    finally:
        p.stop()


def code(p: PagerdProcess, secret: str, steps: int = 0) -> str:
    """The code of `secret` at the daemon's now (`steps` time steps later)."""
    return pyotp.TOTP(secret).generate_otp(int(p.now().timestamp()) // 30 + steps)


def _csrf(text: str) -> str:
    return html.unescape(re.search(r'name="csrf" value="([^"]*)"', text).group(1))  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def secret(daemon) -> str:
    """The desk account enrols: its key, once the second factor is on."""
    phone = PortalClient(daemon)  # the same account signed in elsewhere before
    assert phone.sign_in(DESK).location == "/ui/tickets"
    browser = PortalClient(daemon)
    assert browser.sign_in(DESK).location == "/ui/tickets"
    page = browser.get("/ui/account/totp", headers=EN)
    assert page.status == 200
    key = re.search(r'<code id="secret">([A-Z2-7]{32})</code>', page.text).group(1)  # type: ignore[union-attr]
    uri = html.unescape(re.search(r'id="uri" href="([^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    assert uri.startswith("otpauth://totp/") and f"secret={key}" in uri and "desk%40example.nl" in uri
    assert "<svg" in page.text and "<script" not in page.text
    # a code that does not fit: 422, and the same key stays on the page (the app has it)
    wrong = browser.post("/ui/account/totp", {"csrf": _csrf(page.text), "code": code(daemon, key, 5)}, headers=EN)
    assert wrong.status == 422 and key in wrong.text and "does not fit this key" in wrong.text
    on = browser.post("/ui/account/totp", {"csrf": _csrf(page.text), "code": code(daemon, key)}, headers=EN)
    assert on.location == "/ui/account/totp"
    assert "The second factor is on" in browser.get("/ui/account/totp", headers=EN).text
    assert "totp" in pagerd_cli(daemon, "user", "list")
    # turning it on ended the account's other sessions (they signed in without a code), not this one
    assert phone.get("/ui/tickets").location == "/ui/login"
    assert browser.get("/ui/tickets").status == 200
    # at rest the key is sealed (pager.service.sealed): nowhere in the database in the clear
    with sqlite3.connect(f"file:{daemon.db_path}?mode=ro", uri=True) as db:
        (stored,) = db.execute("SELECT totp_secret FROM portal_accounts WHERE email = ?", (DESK,)).fetchone()
        dump = "\n".join(db.iterdump())
    assert stored.startswith("v1.") and key not in stored and key not in dump
    # the enrolment's code is taken (a code works once): whichever test comes first starts well after its step
    daemon.advance("31m")
    return key


@pytest.fixture(autouse=True)
def _new_lockout_window(daemon):
    yield
    daemon.advance("31m")  # past every earlier failure's lock


def _password(daemon) -> PortalClient:
    browser = PortalClient(daemon)
    answer = browser.sign_in(DESK)
    assert answer.location == "/ui/login/totp", (answer.status, answer.location)
    return browser


def _code(browser: PortalClient, value: str):
    page = browser.get("/ui/login/totp", headers=EN)
    assert page.status == 200, page.location
    return browser.post("/ui/login/totp", {"csrf": _csrf(page.text), "code": value}, headers=EN)


def test_the_right_password_alone_opens_nothing(daemon, secret):
    browser = _password(daemon)
    waiting = browser.session
    other = PortalClient(daemon, cookies={"pagerd_session": waiting})  # type: ignore[dict-item]
    assert other.get("/ui/tickets").location == "/ui/login"
    assert other.get("/ui/oncall").location == "/ui/login"
    assert PortalClient(daemon).get("/ui/login/totp").location == "/ui/login"  # no sign-in waits


def test_a_code_signs_in_with_a_new_token_and_works_once(daemon, secret):
    daemon.advance("30s")
    browser = _password(daemon)
    waiting = browser.session
    right = code(daemon, secret)
    answer = _code(browser, f"{right[:3]} {right[3:]}")  # as an app shows it
    assert answer.location == "/ui/tickets"
    assert browser.session not in (None, waiting)
    assert browser.get("/ui/tickets").status == 200
    assert PortalClient(daemon, cookies={"pagerd_session": waiting}).get("/ui/login/totp").location == "/ui/login"  # type: ignore[dict-item]
    # the same code again, within its window: refused
    again = _password(daemon)
    refused = _code(again, right)
    assert refused.status == 401 and "Wrong or used code" in refused.text
    # the next step's code works
    daemon.advance("30s")
    assert _code(again, code(daemon, secret)).location == "/ui/tickets"


def test_a_code_one_step_off_is_taken_two_steps_off_is_not(daemon, secret):
    daemon.advance("30s")
    browser = _password(daemon)
    assert _code(browser, code(daemon, secret, -2)).status == 401
    assert _code(browser, code(daemon, secret, -1)).location == "/ui/tickets"


def test_wrong_codes_count_toward_the_lockout(daemon, secret):
    daemon.advance("30s")
    browser = _password(daemon)
    bad = code(daemon, secret, 7)
    statuses = [_code(browser, bad).status for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    assert browser.session is None  # the waiting session ended with the lock
    locked = PortalClient(daemon).sign_in(DESK)
    assert locked.status == 429 and int(locked.headers["retry-after"]) > 0


def test_the_code_is_due_within_five_minutes_of_the_password(daemon, secret):
    daemon.advance("30s")
    browser = _password(daemon)
    daemon.advance("5m")
    assert browser.get("/ui/login/totp").location == "/ui/login"
    late = browser.post("/ui/login/totp", {"csrf": "x", "code": code(daemon, secret)})
    assert late.location == "/ui/login"


def test_the_code_form_refuses_a_missing_csrf_and_hostile_input(daemon, secret):
    daemon.advance("30s")
    browser = _password(daemon)
    assert browser.post("/ui/login/totp", {"code": code(daemon, secret)}).status == 403
    for value in ("", "١٢٣٤٥٦", "<script>", "0" * 5000):  # four: a fifth failure would lock
        assert _code(browser, value).status == 401, value
    assert _code(browser, code(daemon, secret)).location == "/ui/tickets"


def test_a_customer_has_no_second_factor_page(daemon):
    browser = PortalClient(daemon)
    browser.sign_in("jan@acme.example")
    assert browser.get("/ui/account/totp").status == 403
    assert browser.post("/ui/account/totp", {"csrf": browser.csrf(), "code": "123456"}).status == 403


def test_totp_reset_turns_it_off(daemon, secret):
    out = pagerd_cli(daemon, "user", "totp-reset", "--email", DESK)
    assert DESK in out and "totp" not in out
    assert PortalClient(daemon).sign_in(DESK).location == "/ui/tickets"
