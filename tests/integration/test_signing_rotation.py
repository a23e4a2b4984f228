"""Rotating secrets on the real daemon: one database, restarted with changed secrets in its environment.

A one-tap link and an iCal feed URL taken from the daemon keep working when the admin token is rotated
(it signs nothing), and when the signing key is rotated with the previous key listed; without it they
fail with a page that says so (4xx, never a 500), and the API shows feed URLs of the new key.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

from tests.harness.pagerd import EXAMPLE_CONFIG, ROOT, PagerdProcess

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


def sms_link(p: PagerdProcess, incident_id: int) -> str:
    """The one-tap link of the first SMS page for the incident, as the dry-run notifier logged it."""
    def found(q: PagerdProcess) -> str | None:
        for line in q.log_path.read_text().splitlines():
            if '"page_dry_run"' in line:
                ev = json.loads(line)
                if ev.get("channel") == "sms" and ev.get("incident_id") == incident_id:
                    m = re.search(r"(http://\S+/l/[A-Za-z0-9_.-]+)", ev["body"])
                    if m:
                        return m.group(1)
        return None
    return p.wait_for(found, timeout=20)


def test_rotating_the_admin_token_and_the_signing_key(tmp_path: Path) -> None:
    rotating = tmp_path / "rotating.yaml"  # the example config with the previous key read from the environment
    rotating.write_text(EXAMPLE_CONFIG.read_text().replace(
        "previous_signing_keys: []", 'previous_signing_keys: ["${PAGERD_OLD_SIGNING_KEY}"]'))
    port_and_db = {}

    def daemon(admin: str, key: str, config: Path = EXAMPLE_CONFIG, **env: str) -> PagerdProcess:
        p = PagerdProcess(workdir=tmp_path / "d", config=config, admin_token=admin, signing_key=key,
                          extra_env=env, **port_and_db)
        port_and_db["port"] = p.port  # the same public URL across restarts
        return p.start()

    # 1. a link and a feed URL under the first admin token and signing key
    p = daemon("admin-token-one", KEY_1)
    try:
        status, body = p.request("POST", "/api/v1/alerts/alertmanager", FIRING, token=p.webhook_token)
        assert status == 200, body
        (iid,) = body["incidents"]
        link = sms_link(p, iid)
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
            assert "no longer valid" in answer["error"] and "GET /api/v1/rotations" in answer["error"]
            assert fetch(new_feeds[name])[0] == 200
        assert feed_urls(p) == new_feeds
        log = p.log_path.read_text()
        assert '"request_failed"' not in log and KEY_1 not in log and KEY_2 not in log
    finally:
        p.stop()
