"""The portal in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium, no browser
downloaded) against the real daemon on the manual clock, with axe-core (var/peers/axe, `make peers`)
checking each main page in Dutch and in English.

Two customers of the example config: acme (its contact jan@acme.example) and the agency itself (its contact
ops@example.nl); the desk (anna). Sessions expire by moving the daemon's clock, never by sleeping.
Screenshots of the main pages are written to tests/artifacts/ (git-ignored).

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_browser.py`.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import pytest

from tests.harness.portal import ARTIFACTS, AXE, CHROMIUM, PASSWORD, chromium, pagerd_cli, portal_daemon

playwright_sync = pytest.importorskip("playwright.sync_api")

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday, office hours
DESK, JAN, OPS, LOCKME = "anna@example.nl", "jan@acme.example", "ops@example.nl", "eva@example.nl"
NOTE = "Internal: their admin reset the firewall again"

pytestmark = [
    pytest.mark.peer("chromium"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make peers)"),
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    accounts = [(DESK, "desk", "anna", None), (JAN, "customer", None, "acme"), (OPS, "customer", None, "agency")]
    with portal_daemon(tmp_path_factory.mktemp("portal"), START, [*accounts, (LOCKME, "admin", None, None)]) as p:
        tickets = {}
        for key, project, subject in (
            ("acme", "acme/webshop", "Checkout hangs"),
            ("agency", "agency/infra", "Backup failed"),
        ):
            status, t = p.api(
                "POST", "/api/v1/tickets", {"project": project, "subject": subject, "body": f"{subject}."}
            )
            assert status == 201, t
            tickets[key] = t["number"]
        status, _ = p.api("POST", f"/api/v1/tickets/{tickets['acme']}/notes", {"text": NOTE, "by": "anna"})
        assert status == 201
        p.tickets = tickets  # type: ignore[attr-defined]
        yield p


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def context(browser):
    ctx = browser.new_context(locale="nl-NL")
    yield ctx
    ctx.close()


def sign_in(ctx, daemon, email: str, password: str = PASSWORD):
    page = ctx.new_page()
    page.goto(daemon.url + "/ui/login")
    page.get_by_label(re.compile("E-mail")).fill(email)
    page.get_by_label(re.compile("Wachtwoord|Password")).fill(password)
    with page.expect_response(lambda r: r.url.endswith("/ui/login") and r.request.method == "POST") as answer:
        page.get_by_role("button", name=re.compile("Aanmelden|Sign in")).click()
    page.wait_for_load_state()
    return page, answer.value


def test_sign_in_shows_the_own_tickets_only_with_the_security_headers(context, daemon):
    page, answer = sign_in(context, daemon, JAN)
    assert answer.status == 303
    assert page.url.endswith("/ui/tickets")
    assert page.get_by_role("heading", name="Tickets").is_visible()
    assert page.get_by_role("link", name="Checkout hangs").is_visible()
    assert page.get_by_text("Backup failed").count() == 0
    cookie = next(c for c in context.cookies() if c["name"] == "pagerd_session")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ui")
    headers = page.request.get(daemon.url + "/ui/tickets").headers
    assert "script-src" not in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers["x-frame-options"], headers["referrer-policy"], headers["x-content-type-options"]) == (
        "DENY",
        "no-referrer",
        "nosniff",
    )
    assert "<script" not in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "portal-tickets-customer.png"), full_page=True)


def test_the_status_filter(context, daemon):
    page, _ = sign_in(context, daemon, DESK)
    page.get_by_label("Status").select_option("closed")
    page.get_by_role("button", name="Filteren").click()
    page.wait_for_url(re.compile(r"status=closed"))
    assert page.get_by_text("Geen tickets.").is_visible()
    assert page.request.get(daemon.url + "/ui/tickets?status=bogus").status == 400


def test_a_wrong_password_is_refused_without_saying_which_part(context, daemon):
    page, answer = sign_in(context, daemon, JAN, "wrong password!!")
    assert answer.status == 401
    assert page.get_by_role("alert").inner_text() == "Onjuist e-mailadres of wachtwoord."
    page2, answer2 = sign_in(context, daemon, "nobody@acme.example", "wrong password!!")
    assert answer2.status == 401 and page2.get_by_role("alert").inner_text() == "Onjuist e-mailadres of wachtwoord."
    assert not any(c["name"] == "pagerd_session" for c in context.cookies())


def test_five_failures_lock_the_account_with_429_and_retry_after(context, daemon):
    for _ in range(4):
        _, answer = sign_in(context, daemon, LOCKME, "not the password")
        assert answer.status == 401
    _, answer = sign_in(context, daemon, LOCKME, "not the password")  # the fifth locks, and says so
    assert answer.status == 429
    page, answer = sign_in(context, daemon, LOCKME)  # the right password, but locked: not even checked
    assert answer.status == 429
    assert int(answer.headers["retry-after"]) == 15 * 60
    assert "Te veel mislukte pogingen" in page.get_by_role("alert").inner_text()
    daemon.advance("15m")
    _, answer = sign_in(context, daemon, LOCKME)
    assert answer.status == 303


def _post_login(daemon, email: str, password: str) -> urllib.request.Request:
    token = "t" * 43
    body = urllib.parse.urlencode({"csrf": token, "email": email, "password": password}).encode()
    return urllib.request.Request(daemon.url + "/ui/login", data=body, headers={"Cookie": f"pagerd_form={token}"})


def _status(req: urllib.request.Request) -> tuple[int, dict]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=30) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_twenty_failures_from_one_address_lock_every_account_from_it(daemon):
    daemon.advance("31m")  # the earlier tests' failures are past the window and the lock
    for i in range(19):
        assert _status(_post_login(daemon, f"guess{i}@acme.example", "not the password"))[0] == 401
    assert _status(_post_login(daemon, "guess19@acme.example", "not the password"))[0] == 429
    status, headers = _status(_post_login(daemon, JAN, PASSWORD))
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 15 * 60
    daemon.advance("15m")
    assert _status(_post_login(daemon, JAN, PASSWORD))[0] == 303


def test_a_session_ends_after_30_idle_minutes_on_the_daemon_s_clock(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    daemon.advance("29m")
    page.reload()
    assert page.url.endswith("/ui/tickets")
    daemon.advance("29m")  # 58 minutes after sign-in, 29 after the last request: still signed in
    page.reload()
    assert page.url.endswith("/ui/tickets")
    daemon.advance("30m")
    page.reload()
    assert page.url.endswith("/ui/login")
    assert page.get_by_role("heading", name="Aanmelden").is_visible()


def test_a_session_ends_12_hours_after_sign_in_however_busy(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    for _ in range(24):  # a request every 29 minutes: 11 h 36 min
        daemon.advance("29m")
        page.reload()
        assert page.url.endswith("/ui/tickets")
    daemon.advance("25m")  # 12 h 1 min after sign-in
    page.reload()
    assert page.url.endswith("/ui/login")


def test_a_customer_cannot_open_another_customer_s_ticket(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    theirs = daemon.tickets["agency"]
    answer = page.goto(f"{daemon.url}/ui/tickets/{theirs}")
    assert answer.status == 404
    assert "Backup failed" not in page.content()
    assert page.goto(f"{daemon.url}/ui/tickets/99999").status == 404  # the same as one that does not exist
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    posted = page.request.post(
        f"{daemon.url}/ui/tickets/{theirs}", form={"csrf": csrf, "text": "let me in"}, max_redirects=0
    )
    assert posted.status == 404
    status, t = daemon.api("GET", f"/api/v1/tickets/{theirs}")
    assert all("let me in" not in str(e) for e in t["timeline"])
    # and the other way round
    page2, _ = sign_in(context.browser.new_context(locale="nl-NL"), daemon, OPS)
    assert page2.goto(f"{daemon.url}/ui/tickets/{daemon.tickets['acme']}").status == 404
    assert page2.goto(f"{daemon.url}/ui/tickets/{theirs}").status == 200


def test_an_internal_note_is_invisible_to_the_customer_and_marked_for_the_desk(browser, daemon):
    ctx = browser.new_context(locale="nl-NL")
    page, _ = sign_in(ctx, daemon, JAN)
    page.goto(f"{daemon.url}/ui/tickets/{daemon.tickets['acme']}")
    assert page.get_by_role("heading", name=re.compile("Checkout hangs")).is_visible()
    assert NOTE not in page.content() and "Interne notitie" not in page.content()
    ctx.close()
    ctx = browser.new_context(locale="nl-NL")
    page, answer = sign_in(ctx, daemon, DESK)
    assert answer.status == 303, answer.text()
    page.goto(f"{daemon.url}/ui/tickets/{daemon.tickets['acme']}")
    assert page.url.endswith(f"/ui/tickets/{daemon.tickets['acme']}"), page.content()
    internal = page.locator("li.internal", has_text=NOTE)
    assert NOTE in internal.inner_text() and "Interne notitie" in internal.inner_text()
    ctx.close()


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    url = f"{daemon.url}/ui/tickets/{daemon.tickets['acme']}"
    for form in ({"text": "no token"}, {"text": "wrong token", "csrf": "x" * 43}):
        answer = page.request.post(url, form=form, max_redirects=0)
        assert answer.status == 403
        assert "Het formulier is verlopen" in answer.text()
    assert page.request.post(daemon.url + "/ui/logout", form={}, max_redirects=0).status == 403
    # the sign-in form too: a token that is not the form cookie's
    fresh = context.browser.new_context()
    answer = fresh.request.post(
        daemon.url + "/ui/login", form={"csrf": "y" * 43, "email": JAN, "password": PASSWORD}, max_redirects=0
    )
    assert answer.status == 403
    fresh.close()
    status, t = daemon.api("GET", f"/api/v1/tickets/{daemon.tickets['acme']}")
    assert all("token" not in str(e.get("data", {}).get("text", "")) for e in t["timeline"])


def test_a_reply_appears_on_the_timeline_and_the_desk_sees_it(browser, context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    page.goto(f"{daemon.url}/ui/tickets/{daemon.tickets['acme']}")
    page.get_by_label("Uw reactie").fill("It hangs again since this morning.\nOrder 1234.")
    page.get_by_role("button", name="Reactie versturen").click()
    page.wait_for_url(re.compile(r"/ui/tickets/\d+#latest$"))
    latest = page.locator("#latest")
    assert "It hangs again since this morning." in latest.inner_text()
    assert JAN in latest.inner_text()
    page.screenshot(path=str(ARTIFACTS / "portal-ticket-customer.png"), full_page=True)
    empty = page.request.post(
        page.url.split("#")[0],
        form={"csrf": page.locator("input[name=csrf]").first.get_attribute("value"), "text": "  "},
    )
    assert empty.status == 422
    status, t = daemon.api("GET", f"/api/v1/tickets/{daemon.tickets['acme']}")
    reply = t["timeline"][-1]
    assert (reply["kind"], reply["public"], reply["data"]["from_customer"], reply["data"]["via"]) == (
        "reply",
        True,
        True,
        "portal",
    )


def test_sign_out_ends_the_session(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    token = next(c["value"] for c in context.cookies() if c["name"] == "pagerd_session")
    page.get_by_role("button", name="Afmelden").click()
    page.wait_for_url(re.compile(r"/ui/login$"))
    # the old cookie, replayed, signs in no more
    replay = context.browser.new_context()
    replay.add_cookies([{"name": "pagerd_session", "value": token, "domain": "127.0.0.1", "path": "/ui"}])
    assert replay.new_page().goto(daemon.url + "/ui/tickets").url.endswith("/ui/login")
    replay.close()


def test_who_is_on_call_for_staff_not_for_customers(browser, daemon):
    ctx = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})  # a phone
    page, _ = sign_in(ctx, daemon, DESK)
    page.get_by_role("link", name="On call").click()
    assert page.get_by_role("heading", name="On call").is_visible()
    rows = page.locator("table").first.locator("tbody tr")  # the first table: per rotation
    assert rows.count() == 2
    text = page.locator("tbody").first.inner_text()
    assert "office" in text and "standby" in text
    page.screenshot(path=str(ARTIFACTS / "portal-oncall-phone.png"), full_page=True)
    ctx.close()
    ctx = browser.new_context(locale="en-GB")
    page, _ = sign_in(ctx, daemon, JAN)
    assert page.get_by_role("link", name="On call").count() == 0
    assert page.goto(daemon.url + "/ui/oncall").status == 403
    ctx.close()


def test_an_invitation_link_sets_the_password_once(browser, daemon):
    pagerd_cli(daemon, "user", "add", "--email", "sara@acme.example", "--role", "customer", "--customer", "acme")
    url = pagerd_cli(daemon, "user", "invite", "--email", "sara@acme.example").strip()
    link = daemon.url + urllib.parse.urlsplit(url).path
    ctx = browser.new_context(locale="en-GB")
    page = ctx.new_page()
    assert page.goto(link).status == 200
    page.locator("#password").fill("a long enough passphrase")
    page.get_by_label("New password again").fill("another long passphrase")
    page.get_by_role("button", name="Set password").click()
    assert page.get_by_role("alert").inner_text() == "The two passwords differ."
    token = page.locator("#main input[name=csrf]").get_attribute("value")
    short = ctx.request.post(link, form={"csrf": token, "password": "short", "again": "short"}, max_redirects=0)
    assert short.status == 422 and "Kies een langer wachtwoord" in short.text()  # no Accept-Language: Dutch
    page.locator("#password").fill("a long enough passphrase")
    page.get_by_label("New password again").fill("a long enough passphrase")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(re.compile(r"/ui/login\?password=set$"))
    assert page.get_by_role("status").inner_text() == "Your password is set. Sign in with it."
    _, answer = sign_in(ctx, daemon, "sara@acme.example", "a long enough passphrase")
    assert answer.status == 303
    assert ctx.new_page().goto(link).status == 410  # used
    ctx.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (make peers)")
@pytest.mark.parametrize("locale", ["nl-NL", "en-GB"])
def test_axe_finds_no_serious_or_critical_violations(browser, daemon, locale):
    # bypass_csp: axe is injected for the check only; the pages themselves never run a script
    ctx = browser.new_context(locale=locale, bypass_csp=True)
    pages = []
    page = ctx.new_page()
    page.goto(daemon.url + "/ui/login")
    pages.append(("login", page))
    page, _ = sign_in(ctx, daemon, DESK)
    for name, path in (
        ("tickets", "/ui/tickets"),
        ("ticket", f"/ui/tickets/{daemon.tickets['acme']}"),
        ("oncall", "/ui/oncall"),
        ("notfound", "/ui/tickets/99999"),
    ):
        p = ctx.new_page()
        p.goto(daemon.url + path)
        pages.append((name, p))
    found = {}
    for name, p in pages:
        assert p.locator("html").get_attribute("lang") == locale[:2]
        p.add_script_tag(path=str(AXE))
        violations = p.evaluate("async () => (await axe.run(document)).violations")
        bad = [(v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
        if bad:
            found[name] = bad
        p.screenshot(path=str(ARTIFACTS / f"portal-{name}-{locale[:2]}.png"), full_page=True)
    ctx.close()
    assert found == {}
