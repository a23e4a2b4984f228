"""The portal's language against the real daemon on the manual clock: what a ticket's status reads as in
English and in Dutch, and the reader's own choice of language over the browser's Accept-Language.

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_language.py`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from tests.harness.pagerd import PagerdProcess, manual_clock_config
from tests.harness.portal import PortalClient, add_account

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
JAN, DESK = "jan@acme.example", "desk@example.nl"
EN, NL = {"Accept-Language": "en-GB,en;q=0.9"}, {"Accept-Language": "nl-NL,nl;q=0.9"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    wd = tmp_path_factory.mktemp("language")
    p = PagerdProcess(workdir=wd, config=manual_clock_config(wd / "pagerd.yaml", START))
    p.start()
    try:
        add_account(p, JAN, "customer", customer="acme")
        add_account(p, DESK, "desk", person="chris")
        status, t = p.api(
            "POST", "/api/v1/tickets", {"project": "acme/webshop", "via": "email", "from": JAN, "subject": "Logo"}
        )
        assert status == 201, t
        status, _ = p.api("PATCH", f"/api/v1/tickets/{t['number']}", {"status": "waiting_on_customer"})  # type: ignore[index]
        assert status == 200
        p.ticket = t["number"]  # type: ignore[attr-defined,index]
        yield p
    finally:
        p.stop()


def _badge(text: str) -> str:
    found = re.search(r'<span class="badge">([^<]*)</span>', text)
    assert found, text[:500]
    return found.group(1)


@pytest.mark.parametrize("who", [JAN, DESK], ids=["customer", "desk"])
def test_the_status_badge_reads_as_words_in_english_and_in_dutch(daemon, who):
    client = PortalClient(daemon)
    assert client.sign_in(who).status == 303
    page = f"/ui/tickets/{daemon.ticket}"
    assert _badge(client.get(page, headers=EN).text) == "waiting on customer"
    assert _badge(client.get(page, headers=NL).text) == "wacht op klant"
    # the ticket list and its status filter read the same
    listed = client.get("/ui/tickets", headers=EN).text
    assert "waiting on customer" in listed and "waiting_on_customer<" not in listed
    assert ">waiting_on_customer" not in client.get("/ui/tickets", headers=NL).text
