"""Rotating secrets on the real daemon: one database, restarted with changed secrets in its environment.

A one-tap link and an iCal feed URL taken from the daemon keep working when the admin token is rotated
(it signs nothing), and when the signing key is rotated with the previous key listed; without it they
fail with a page that says so (4xx, never a 500), and the API shows feed URLs of the new key.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.harness.pagerd import EXAMPLE_CONFIG, ROOT, PagerdProcess
from tests.harness.paging import smtp_env
from tests.harness.ports import free_port

FIRING = (ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_bytes()
KEY_1 = "signing-key-one-0123456789abcdefghij"
KEY_2 = "signing-key-two-0123456789abcdefghij"


def fetch(url: str, method: str = "GET") -> tuple[int, str, str]:
    """(status, content type, text) of a plain request, as a phone's browser or a calendar app makes it."""
    req = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")


def feed_urls(p: PagerdProcess) -> dict[str, str]:
    status, rows = p.api("GET", "/api/v1/rotations")
    assert status == 200, rows
    return {r["name"]: r["ical_url"] for r in rows}


class Inbox:
    """A real SMTP server's mailbox (aiosmtpd): the pages as the engineer's mail client gets them."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"


def mailed_link(p: PagerdProcess, inbox: Inbox, incident_id: int) -> str:
    """The acknowledge link of the first e-mail page for the incident, as the mailbox got it (the log
    never shows a link: pager/observe/redact.py)."""

    def found(q: PagerdProcess) -> str | None:
        for m in list(inbox.messages):
            if m["X-Pagerd-Incident"] == str(incident_id):
                text = m.get_body(preferencelist=("plain",)).get_content()
                hit = re.search(r"^Acknowledge: (http://\S+/l/[A-Za-z0-9_.-]+)\r?$", text, re.M)
                if hit:
                    return hit.group(1)
        return None

    return p.wait_for(found, timeout=20)


def test_rotating_the_admin_token_and_the_signing_key(tmp_path: Path) -> None:
    rotating = tmp_path / "rotating.yaml"  # the example config with the previous key read from the environment
    # pages by e-mail through a real SMTP server, where the links are read; sms and voice simulated on purpose
    mailing = tmp_path / "mailing.yaml"
    mailing.write_text(EXAMPLE_CONFIG.read_text().replace("simulate: []", "simulate: [sms, voice]"))
    rotating.write_text(
        mailing.read_text().replace("previous_signing_keys: []", 'previous_signing_keys: ["${PAGERD_OLD_SIGNING_KEY}"]')
    )
    port_and_db = {}
    inbox = Inbox()
    smtpd = Controller(inbox, hostname="127.0.0.1", port=free_port(), ready_timeout=5)
    smtpd.start()
    mail = smtp_env(smtpd.port)

    def daemon(admin: str, key: str, config: Path = mailing, **env: str) -> PagerdProcess:
        p = PagerdProcess(
            workdir=tmp_path / "d",
            config=config,
            admin_token=admin,
            signing_key=key,
            extra_env={**mail, **env},
            **port_and_db,
        )
        port_and_db["port"] = p.port  # the same public URL across restarts
        return p.start()

    try:
        _rotate(tmp_path, rotating, daemon, inbox)
    finally:
        smtpd.stop()


def _rotate(tmp_path: Path, rotating: Path, daemon, inbox: Inbox) -> None:

    # 1. a link and a feed URL under the first admin token and signing key
    p = daemon("admin-token-one", KEY_1)
    try:
        status, body = p.request("POST", "/api/v1/alerts/alertmanager", FIRING, token=p.webhook_token)
        assert status == 200, body
        (iid,) = body["incidents"]
        link = mailed_link(p, inbox, iid)
        feeds = feed_urls(p)
        assert fetch(link)[0] == 200 and fetch(feeds["standby"])[0] == 200
        assert KEY_1 not in link and all(KEY_1 not in url for url in feeds.values())
    finally:
        p.stop()

    # 2. a new admin token: the old one opens no API, and every link and feed URL stays as it was
    p = daemon("admin-token-two", KEY_1)
    try:
        assert p.request("GET", "/api/v1/incidents", token="admin-token-one")[0] == 401
        assert feed_urls(p) == feeds
        status, _, page = fetch(link)
        assert status == 200 and "<form" in page
        assert fetch(feeds["standby"])[0] == 200
    finally:
        p.stop()

    # 3. a new signing key, the previous one still accepted: old links and feeds work, new URLs are signed anew
    p = daemon("admin-token-two", KEY_2, rotating, PAGERD_OLD_SIGNING_KEY=KEY_1)
    try:
        new_feeds = feed_urls(p)
        assert set(new_feeds) == set(feeds) and all(new_feeds[n] != feeds[n] for n in feeds)
        for url in (*feeds.values(), *new_feeds.values()):
            status, ctype, text = fetch(url)
            assert status == 200 and ctype.startswith("text/calendar") and "BEGIN:VCALENDAR" in text
        assert fetch(link)[0] == 200
        status, _, page = fetch(link, "POST")
        assert status == 200 and "acknowledged" in page
        assert p.api("GET", f"/api/v1/incidents/{iid}")[1]["state"] == "acknowledged"
    finally:
        p.stop()

    # 4. the previous key no longer listed: the old link and feeds fail with a page that says why
    p = daemon("admin-token-two", KEY_2)
    try:
        for method in ("GET", "POST"):
            status, ctype, page = fetch(link, method)
            assert status == 404 and ctype.startswith("text/html"), (status, page)
            assert "Link not valid" in page and "no longer accepted" in page
        for name, url in feeds.items():
            status, ctype, text = fetch(url)
            assert status == 404 and ctype.startswith("application/json"), (status, text)
            answer = json.loads(text)
            assert "no longer valid" in answer["error"] and "GET /api/v1/ical-url" in answer["error"]
            assert fetch(new_feeds[name])[0] == 200
        assert feed_urls(p) == new_feeds
        log = p.log_path.read_text()
        assert '"request_failed"' not in log and KEY_1 not in log and KEY_2 not in log
    finally:
        p.stop()
