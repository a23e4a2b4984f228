"""Password links by mail, end to end through a real Postfix (tests/harness/postfix.py): `pagerd user
invite` and the portal's "forgot password" page queue the link, the daemon's outmail stage sends it to
Postfix by SMTP, and the test reads it from the Maildir and opens it in the portal. The daemon runs on the
manual clock: a move of it runs the engine's tick that sends, and expires links.

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_mail_postfix.py`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest

from tests.conftest import require_binary
from tests.harness.pagerd import PagerdProcess, manual_clock_config
from tests.harness.portal import PortalClient, add_account, pagerd_cli
from tests.harness.postfix import POSTFIX, PostfixInstance

pytestmark = pytest.mark.peer("postfix")

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
NEW = "new password for the portal"
RESET_SENT = "If there is an account for this address, a link to choose a new password is on its way."
EN = {"Accept-Language": "en"}


def wait(predicate, timeout: float = 40.0, what: str = ""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"not in {timeout}s: {what} (last: {last!r})")


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory):
    require_binary(POSTFIX)
    if os.geteuid() != 0:
        pytest.skip("a Postfix instance needs root (its master runs as root, its daemons as postfix)")
    tmp = tmp_path_factory.mktemp("linkmail")
    p = PagerdProcess(tmp / "pagerd", config=manual_clock_config(tmp / "pagerd.yaml", START))
    mta = PostfixInstance(
        lmtp_port=p.mail_port,
        lmtp_domains=("example.nl",),
        mailbox_domains=("customer.test",),
        catch_all_domains=(),
        mailboxes=("jan@customer.test", "joan@customer.test", "lot@customer.test", "gone@customer.test"),
        accept_unknown=True,
    )
    p.extra_env.update(
        PAGERD_MAIL_OUTGOING="true", PAGERD_MAIL_SMTP_HOST="127.0.0.1", PAGERD_MAIL_SMTP_PORT=str(mta.smtp_port)
    )
    try:
        mta.start()
        p.start()
        yield p, mta
    finally:
        print(f"--- postfix log ---\n{mta.log()[-4000:]}")
        p.stop()
        mta.cleanup()


def _mails(mta: PostfixInstance, address: str, count: int) -> list[EmailMessage]:
    return wait(lambda: (m := mta.mailbox(address)) and len(m) >= count and m, what=f"{count} mail(s) to {address}")


def _sent(p: PagerdProcess, mta: PostfixInstance, address: str, count: int) -> EmailMessage:
    """The `count`-th mail to `address`, once the engine's tick has sent it."""
    p.advance("1s")
    return _mails(mta, address, count)[count - 1]


def _link(mail: EmailMessage) -> str:
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"http://127\.0\.0\.1:\d+(/ui/password/[A-Za-z0-9_-]{43})", text)
    assert found, text
    return found.group(1)


def _set(client: PortalClient, link: str, password: str = NEW):
    page = client.get(link, headers=EN)
    assert page.status == 200, page.text[:300]
    token = re.search(r'name="csrf" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    return client.post(link, {"csrf": token, "password": password, "again": password}, headers=EN)


def _kept(p: PagerdProcess, address: str) -> list[tuple[str, bool]]:
    with sqlite3.connect(p.db_path) as db:
        rows = db.execute("SELECT status, text <> '' FROM portal_link_mail WHERE address = ? ORDER BY id", (address,))
        return [(s, bool(k)) for s, k in rows]


def test_user_invite_mails_the_link_which_sets_the_password_once(wired):
    p, mta = wired
    pagerd_cli(p, "user", "add", "--email", "jan@customer.test", "--role", "customer", "--customer", "acme")
    out = pagerd_cli(p, "user", "invite", "--email", "jan@customer.test")
    assert out.startswith("mailed to jan@customer.test") and "/ui/password/" not in out  # the link is not shown
    mail = _sent(p, mta, "jan@customer.test", 1)
    assert mail["To"] == "jan@customer.test"
    assert "support@example.nl" in mail["From"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Subject"] == "Uw account op het supportportaal"  # acme's language: Dutch
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "één keer, tot 2026-01-12 10:00" in text  # 7 days, in the calendar's time zone
    link = _link(mail)
    assert _kept(p, "jan@customer.test") == [("sent", False)]  # the link is kept nowhere once sent
    browser = PortalClient(p)
    assert _set(browser, link).location == "/ui/login?password=set"
    assert PortalClient(p).sign_in("jan@customer.test", NEW).status == 303
    assert browser.get(link, headers=EN).status == 410


def test_forgot_password_mails_a_reset_link_and_answers_the_same_for_an_unknown_address(wired):
    p, mta = wired
    add_account(p, "joan@customer.test", "customer", customer="acme")
    known, unknown = PortalClient(p), PortalClient(p)
    answers = []
    for client, email in ((known, "joan@customer.test"), (unknown, "nobody@customer.test")):
        client.csrf("/ui/password-reset")
        answer = client.post("/ui/password-reset", {"csrf": client.cookies["pagerd_form"], "email": email}, headers=EN)
        assert answer.status == 200 and RESET_SENT in answer.text
        answers.append(re.sub(r'value="[^"]*"', "", answer.text).replace(email, "EMAIL"))
    assert answers[0] == answers[1]
    mail = _sent(p, mta, "joan@customer.test", 1)
    assert mail["Subject"] == "Nieuw wachtwoord voor het supportportaal"
    assert mta.mailbox("nobody@customer.test") == []
    link = _link(mail)
    assert _set(PortalClient(p), link).location == "/ui/login?password=set"
    assert PortalClient(p).sign_in("joan@customer.test", NEW).status == 303


def test_a_mailed_reset_link_expires_after_an_hour(wired):
    p, mta = wired
    add_account(p, "lot@customer.test", "customer", customer="acme")
    client = PortalClient(p)
    client.csrf("/ui/password-reset")
    client.post("/ui/password-reset", {"csrf": client.cookies["pagerd_form"], "email": "lot@customer.test"})
    link = _link(_sent(p, mta, "lot@customer.test", 1))
    p.advance("61m")
    gone = PortalClient(p).get(link, headers=EN)
    assert gone.status == 410 and "used or has expired" in gone.text


def test_reset_requests_are_limited_per_address_known_or_not(wired):
    p, mta = wired
    add_account(p, "gone@customer.test", "customer", customer="acme")
    pagerd_cli(p, "user", "disable", "--email", "gone@customer.test")
    statuses = {}
    for email in ("gone@customer.test", "nobody-else@customer.test"):
        client = PortalClient(p)
        client.csrf("/ui/password-reset")
        statuses[email] = [
            client.post("/ui/password-reset", {"csrf": client.cookies["pagerd_form"], "email": email}).status
            for _ in range(4)
        ]
    assert statuses == {e: [200, 200, 200, 429] for e in statuses}
    p.advance("1s")
    time.sleep(1)  # what Postfix would deliver arrives within this
    assert mta.mailbox("gone@customer.test") == []  # a disabled account gets no link
    p.advance("61m")  # the hour after the last counted request
    client = PortalClient(p)
    client.csrf("/ui/password-reset")
    assert (
        client.post("/ui/password-reset", {"csrf": client.cookies["pagerd_form"], "email": "gone@customer.test"}).status
        == 200
    )


@pytest.mark.parametrize(
    "form, status",
    [
        ({"email": "a@customer.test"}, 403),  # no CSRF token
        ({"csrf": "WRONG", "email": "a@customer.test"}, 403),
        ({"csrf": "OK"}, 422),  # no address
        ({"csrf": "OK", "email": ""}, 422),
        ({"csrf": "OK", "email": "not an address"}, 422),
        ({"csrf": "OK", "email": "x" * 2000 + "@customer.test"}, 422),
        ({"csrf": "OK", "email": "a@customer.test\r\nBcc: evil@customer.test"}, 422),
        ({"csrf": "OK", "email": "<script>@customer.test"}, 200),  # an address as far as the form is concerned
    ],
    ids=["no-csrf", "wrong-csrf", "no-email", "empty", "not-address", "oversized", "header-injection", "hostile"],
)
def test_the_reset_form_refuses_bad_input_clearly(wired, form, status):
    p, _ = wired
    client = PortalClient(p)
    client.csrf("/ui/password-reset")
    if form.get("csrf") == "OK":
        form = {**form, "csrf": client.cookies["pagerd_form"]}
    answer = client.post("/ui/password-reset", form, headers=EN)
    assert answer.status == status, answer.text[:300]
    assert "<script>@" not in answer.text  # escaped where it is echoed
    if status == 422:
        assert "Enter your e-mail address." in answer.text


def test_an_oversized_reset_form_is_refused_with_413(wired):
    p, _ = wired
    client = PortalClient(p)
    client.csrf("/ui/password-reset")
    body = {"csrf": client.cookies["pagerd_form"], "email": "a@customer.test", "pad": "x" * 3_000_000}
    assert client.post("/ui/password-reset", body).status == 413
