"""The second factor of staff (TOTP) against the real daemon on the manual clock: the codes are computed
from the key the enrolment page shows, at the daemon's own now (`pyotp` on its time steps), and the clock is
moved to reach the next code; nothing sleeps.

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_totp.py`.
"""

from __future__ import annotations

import html
import re
import signal
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


def test_a_signing_key_rotation_keeps_the_second_factor(tmp_path):
    """The README's rotation of the signing key on a running daemon, its keys read from files and applied by
    reloads: a second factor enrolled under the old key still signs in once the old key is removed, because
    the reload that listed it among the previous keys sealed the secret again under the new one (without
    that, no configured key would open it and every code would be refused)."""
    old_key, new_key = "signing-key-one-0123456789abcdefghij", "signing-key-two-0123456789abcdefghij"
    (tmp_path / "current.key").write_text(old_key)
    (tmp_path / "previous.key").write_text(old_key)
    base = manual_clock_config(tmp_path / "base.yaml", START).read_text()
    assert "signing_key: ${PAGERD_SIGNING_KEY}" in base and "previous_signing_keys: []" in base
    config = tmp_path / "pagerd.yaml"

    def configure(rotating: bool) -> None:
        config.write_text(
            base.replace("signing_key: ${PAGERD_SIGNING_KEY}", "signing_key_file: current.key").replace(
                "previous_signing_keys: []",
                "previous_signing_keys_file: previous.key" if rotating else "previous_signing_keys: []",
            )
        )

    def reload(p: PagerdProcess, event: str, count: int) -> None:
        assert p.proc is not None
        p.proc.send_signal(signal.SIGHUP)
        p.wait_for(lambda d: d.log_path.read_text().count(f"\"{event}\"") >= count, timeout=20)

    configure(rotating=False)
    p = PagerdProcess(workdir=tmp_path, config=config)
    p.start()
    try:
        add_account(p, DESK, "desk", person="chris")
        key = _enrol(p)
        with sqlite3.connect(f"file:{p.db_path}?mode=ro", uri=True) as db:
            (under_old,) = db.execute("SELECT totp_secret FROM portal_accounts WHERE email = ?", (DESK,)).fetchone()
        # step 2: the new key signs, the old one is listed as previous; the reload seals the secret again
        (tmp_path / "current.key").write_text(new_key)
        configure(rotating=True)
        reload(p, "totp_resealed", 1)
        assert '"resealed": 1' in p.log_path.read_text()
        with sqlite3.connect(f"file:{p.db_path}?mode=ro", uri=True) as db:
            (under_new,) = db.execute("SELECT totp_secret FROM portal_accounts WHERE email = ?", (DESK,)).fetchone()
        assert under_new.startswith("v1.") and under_new != under_old and key not in under_new
        # step 4: the old key removed; the code still signs in (a later step than the enrolment's)
        configure(rotating=False)
        reload(p, "config_reloaded", 2)
        p.advance("31m")
        browser = _password(p)
        assert _code(browser, code(p, key)).location == "/ui/tickets"
    finally:
        p.stop()


def _enrol(p: PagerdProcess) -> str:
    """DESK turns its second factor on: the key its enrolment page showed."""
    browser = PortalClient(p)
    assert browser.sign_in(DESK).location == "/ui/tickets"
    page = browser.get("/ui/account/totp", headers=EN)
    key = re.search(r'<code id="secret">([A-Z2-7]{32})</code>', page.text).group(1)  # type: ignore[union-attr]
    on = browser.post("/ui/account/totp", {"csrf": _csrf(page.text), "code": code(p, key)}, headers=EN)
    assert on.location == "/ui/account/totp"
    return key


def test_a_restart_with_a_previous_key_seals_the_second_factor_again(tmp_path):
    """The same rotation with the keys in the environment, which a reload does not re-read: the restart that
    lists the old key as previous seals the secret again, so the restart without it still takes the codes."""
    old_key, new_key = "signing-key-one-0123456789abcdefghij", "signing-key-two-0123456789abcdefghij"
    plain = manual_clock_config(tmp_path / "plain.yaml", START)
    rotating = tmp_path / "rotating.yaml"
    rotating.write_text(
        plain.read_text().replace("previous_signing_keys: []", 'previous_signing_keys: ["${PAGERD_OLD_SIGNING_KEY}"]')
    )
    p = PagerdProcess(workdir=tmp_path, config=plain, signing_key=old_key)
    p.start()
    try:
        add_account(p, DESK, "desk", person="chris")
        key = _enrol(p)
    finally:
        p.stop()
    p = PagerdProcess(
        workdir=tmp_path, config=rotating, signing_key=new_key, extra_env={"PAGERD_OLD_SIGNING_KEY": old_key}
    )
    p.start()
    try:
        p.wait_for(lambda d: '"totp_resealed"' in d.log_path.read_text(), timeout=20)
    finally:
        p.stop()
    p = PagerdProcess(workdir=tmp_path, config=plain, signing_key=new_key)
    p.start()
    try:
        p.advance("31m")  # the clock starts at START again: past the enrolment's step
        assert _code(_password(p), code(p, key)).location == "/ui/tickets"
    finally:
        p.stop()
