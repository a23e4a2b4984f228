"""A browser-less client of the portal for integration tests: its own cookies, redirects not followed (a
test reads the 303 and its Location), the CSRF token read from the page's form, and `pagerd user ...` run
against a daemon's config. For the browser tests: a daemon with portal accounts, and Debian's Chromium
driven by Playwright."""

from __future__ import annotations

import html
import http.client
import os
import re
import subprocess
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .pagerd import ROOT, PagerdProcess, manual_clock_config

PASSWORD = "correct horse battery"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's: no browser is downloaded
AXE = ROOT / "var" / "peers" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots (git-ignored)
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class PortalClient:
    """One browser: cookies by name (path /ui), no JavaScript, no redirects followed."""

    daemon: PagerdProcess
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
        cookies: bool = True,
    ) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=20)
        try:
            h = dict(headers or {})
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form).encode()
                h.setdefault("Content-Type", "application/x-www-form-urlencoded")
            if cookies and self.cookies:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            text = r.read().decode("utf-8", "replace")
            for name, value in r.getheaders():
                if name.lower() == "set-cookie":
                    self._remember(value)
            return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, text)
        finally:
            conn.close()

    def _remember(self, header: str) -> None:
        pair, _, attrs = header.partition(";")
        name, _, value = pair.strip().partition("=")
        expired = "max-age=0" in attrs.lower().replace(" ", "") or "1970" in attrs
        if expired or value in ("", '""'):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    def get(self, path: str, **kw) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict[str, str], **kw) -> Answer:
        return self.request("POST", path, form, **kw)

    def csrf(self, page: str = "/ui/tickets") -> str:
        """The CSRF token of the form on `page` (the session's once signed in)."""
        found = _CSRF.search(self.get(page).text)
        assert found, f"no form with a CSRF token on {page}"
        return html.unescape(found.group(1))

    def form_token(self) -> str:
        """The sign-in form's CSRF token (and its `pagerd_form` cookie), as a browser that is already signed in
        would get it by opening the form in a private window and copying it back: the session cookie is not sent."""
        found = _CSRF.search(self.get("/ui/login", cookies=False).text)
        assert found, "no sign-in form"
        return html.unescape(found.group(1))

    def sign_in(self, email: str, password: str = PASSWORD) -> Answer:
        """Posts the sign-in form with the browser's cookies (a session it holds included)."""
        token = self.form_token()
        return self.post("/ui/login", {"csrf": token, "email": email, "password": password})

    @property
    def session(self) -> str | None:
        return self.cookies.get("pagerd_session")


def pagerd_cli(p: PagerdProcess, *argv: str, stdin: str | None = None, check: bool = True) -> str:
    """`pagerd A B -c CONFIG REST...` against the daemon's database, on the daemon's clock: a copy of its
    config (the example config on the manual clock) starting at the daemon's now; its standard output."""
    config = manual_clock_config(p.workdir / "cli-now.yaml", p.now())
    env = {**os.environ, **p.env()}
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "pagerd"), *argv[:2], "-c", str(config), *argv[2:]],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )
    return out.stdout


def add_account(p: PagerdProcess, email: str, role: str, *, person: str | None = None, customer: str | None = None):
    argv = ["user", "add", "--email", email, "--role", role, "--password-stdin"]
    if person:
        argv += ["--person", person]
    if customer:
        argv += ["--customer", customer]
    pagerd_cli(p, *argv, stdin=PASSWORD)


# (email, role, person, customer) of an account; its password is PASSWORD
AccountRow = tuple[str, str, str | None, str | None]


@contextmanager
def portal_daemon(workdir: Path, start: datetime, accounts: Iterable[AccountRow]) -> Iterator[PagerdProcess]:
    """pagerd on the example config and the manual clock from `start` (movable: PAGERD_ALLOW_TEST_CLOCK), with
    these portal accounts; stopped on leaving."""
    p = PagerdProcess(
        workdir=workdir,
        config=manual_clock_config(workdir / "pagerd.yaml", start),
        extra_env={"PAGERD_ALLOW_TEST_CLOCK": "1"},
    )
    p.start()
    try:
        for email, role, person, customer in accounts:
            add_account(p, email, role, person=person, customer=customer)
        yield p
    finally:
        p.stop()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (skip the test module when either is missing)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        try:
            yield b
        finally:
            b.close()
