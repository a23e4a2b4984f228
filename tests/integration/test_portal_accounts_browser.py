"""The account pages in a real browser (Playwright driving Debian's Chromium, axe-core from var/peers/axe):
"forgot password" (with outgoing mail on) and the second factor's enrolment and sign-in step, used with the
keyboard's fields and buttons by their labels, and checked by axe-core in Dutch and English. Screenshots go
to tests/artifacts/.

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_accounts_browser.py`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pyotp
import pytest

from tests.harness.pagerd import ROOT, PagerdProcess, manual_clock_config
from tests.harness.portal import PASSWORD, add_account
from tests.harness.ports import free_port

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "var" / "peers" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
START = datetime(2026, 1, 5, 9, 0, 5, tzinfo=timezone.utc)

pytestmark = [
    pytest.mark.peer("chromium"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make peers)"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (make peers)"),
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    wd = tmp_path_factory.mktemp("accounts-browser")
    p = PagerdProcess(workdir=wd, config=manual_clock_config(wd / "pagerd.yaml", START))
    # outgoing mail on, towards a port nothing listens on: the pages behave as with mail; nothing is delivered
    p.extra_env.update(
        PAGERD_MAIL_OUTGOING="true", PAGERD_MAIL_SMTP_HOST="127.0.0.1", PAGERD_MAIL_SMTP_PORT=str(free_port())
    )
    p.start()
    try:
        for n, lang in enumerate(("nl", "en")):
            add_account(p, f"desk-{lang}@example.nl", "desk", person=("chris", "dewi")[n])
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield b
        b.close()


def _axe(page, name: str, lang: str) -> list:
    assert page.locator("html").get_attribute("lang") == lang
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"portal-{name}-{lang}.png"), full_page=True)
    return [(name, v["id"], v["impact"]) for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("locale", ["nl-NL", "en-GB"])
def test_forgot_password_and_the_second_factor_pass_axe(browser, daemon, locale):
    lang = locale[:2]
    words = {
        "nl": ("Wachtwoord vergeten?", "Mail mij een link", "Aanmelden", "Tweede factor", "Aanzetten", "Afmelden"),
        "en": ("Forgot your password?", "Mail me a link", "Sign in", "Second factor", "Turn on", "Sign out"),
    }[lang]
    forgot, mail_me, sign_in, second, turn_on, sign_out = words
    ctx = browser.new_context(locale=locale, bypass_csp=True)  # axe is injected for the check only
    bad = []
    page = ctx.new_page()
    page.goto(daemon.url + "/ui/login")
    page.get_by_role("link", name=forgot).click()
    page.wait_for_url(re.compile(r"/ui/password-reset$"))
    bad += _axe(page, "password-reset", lang)
    page.get_by_label(re.compile("E-mail")).fill("nobody@example.nl")
    page.get_by_role("button", name=mail_me).click()
    assert page.get_by_role("status").is_visible()
    bad += _axe(page, "password-reset-sent", lang)

    page = ctx.new_page()
    page.goto(daemon.url + "/ui/login")
    page.get_by_label(re.compile("E-mail")).fill(f"desk-{lang}@example.nl")
    page.get_by_label(re.compile("Wachtwoord|Password")).fill(PASSWORD)
    page.get_by_role("button", name=sign_in).click()
    page.get_by_role("link", name=second).click()
    page.wait_for_url(re.compile(r"/ui/account/totp$"))
    bad += _axe(page, "totp-enrol", lang)
    key = page.locator("#secret").inner_text()
    code = pyotp.TOTP(key).generate_otp(int(daemon.now().timestamp()) // 30)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name=turn_on).click()
    assert page.get_by_role("status").is_visible()
    bad += _axe(page, "totp-on", lang)
    page.get_by_role("button", name=sign_out).click()

    daemon.advance("30s")
    page.goto(daemon.url + "/ui/login")
    page.get_by_label(re.compile("E-mail")).fill(f"desk-{lang}@example.nl")
    page.get_by_label(re.compile("Wachtwoord|Password")).fill(PASSWORD)
    page.get_by_role("button", name=sign_in).click()
    page.wait_for_url(re.compile(r"/ui/login/totp$"))
    bad += _axe(page, "login-totp", lang)
    page.get_by_label("Code").fill(pyotp.TOTP(key).generate_otp(int(daemon.now().timestamp()) // 30))
    page.get_by_role("button", name=sign_in).click()
    page.wait_for_url(re.compile(r"/ui/tickets$"))
    ctx.close()
    assert bad == []
