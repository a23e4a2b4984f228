"""The portal's language against the real daemon on the manual clock: what a ticket's status reads as in
English and in Dutch, and the reader's own choice of language over the browser's Accept-Language.

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_language.py`.
"""

from __future__ import annotations

import html
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
        add_account(p, "pim@acme.example", "customer", customer="acme")
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


def _lang(answer) -> str:
    found = re.search(r'<html lang="(\w+)">', answer.text)
    assert found, answer.text[:300]
    return found.group(1)


def _switch(client: PortalClient, page: str, lang: str, headers=EN):
    """Takes the switch on `page` as a browser without JavaScript would: its form, as it is."""
    text = client.get(page, headers=headers).text
    form = re.search(r'<form method="post" action="/ui/language".*?</form>', text, re.S)
    assert form, "no language switch on " + page
    fields = dict(re.findall(r'name="(csrf|next)" value="([^"]*)"', form.group(0)))
    assert f'name="lang" value="{lang}"' in form.group(0)
    return client.post(
        "/ui/language", {**{k: html.unescape(v) for k, v in fields.items()}, "lang": lang}, headers=headers
    )


def test_a_signed_in_reader_chooses_dutch_and_the_next_pages_are_dutch_whatever_the_browser_asks(daemon):
    client = PortalClient(daemon)
    assert client.sign_in("pim@acme.example").status == 303
    page = f"/ui/tickets/{daemon.ticket}"
    assert _lang(client.get(page, headers=EN)) == "en"
    answer = _switch(client, page, "nl")
    assert answer.status == 303 and answer.location == page  # back where the switch was taken
    assert _lang(client.get(page, headers=EN)) == "nl" and "wacht op klant" in client.get(page, headers=EN).text
    assert _lang(client.get("/ui/projects", headers=EN)) == "nl"
    # kept with the account: another browser, signed in anew, reads Dutch too
    elsewhere = PortalClient(daemon)
    assert elsewhere.sign_in("pim@acme.example").status == 303
    assert _lang(elsewhere.get("/ui/tickets", headers=EN)) == "nl"
    # and back
    assert _switch(client, "/ui/tickets", "en", headers=NL).status == 303
    assert _lang(client.get("/ui/tickets", headers=NL)) == "en"


def test_before_sign_in_the_choice_is_kept_in_the_browser(daemon):
    client = PortalClient(daemon)
    assert _lang(client.get("/ui/login", headers=EN)) == "en"
    answer = _switch(client, "/ui/login", "nl")
    assert answer.status == 303 and answer.location == "/ui/login"
    assert _lang(client.get("/ui/login", headers=EN)) == "nl"
    assert _lang(PortalClient(daemon).get("/ui/login", headers=EN)) == "en"  # another browser: its own


@pytest.mark.parametrize(
    "token, lang, status",
    [
        (None, "nl", 403),  # no form token
        ("made-up", "nl", 403),
        ("session", "de", 400),
        ("session", "", 400),
        ("session", "NL", 400),
        ("session", "nl" * 5000, 400),
        ("session", "<script>", 400),
    ],
)
def test_the_switch_refuses_a_missing_token_and_an_unknown_language(daemon, token, lang, status):
    client = PortalClient(daemon)
    assert client.sign_in(JAN).status == 303
    form = {"lang": lang}
    if token is not None:
        form["csrf"] = client.csrf() if token == "session" else token
    assert client.post("/ui/language", form).status == status
    assert _lang(client.get("/ui/tickets", headers=EN)) == "en"  # nothing changed


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/ui/", "/ui/\\evil", "/ui//evil.example", "/api/v1/tickets",
     "/ui/tickets\r\nSet-Cookie: x=y", "/ui/t\u00e9", "", "/ui/" + "x" * 600],
)  # fmt: skip
def test_the_switch_sends_back_only_to_a_page_of_the_portal(daemon, target):
    client = PortalClient(daemon)
    assert client.sign_in(JAN).status == 303
    answer = client.post("/ui/language", {"csrf": client.csrf(), "lang": "en", "next": target})
    assert answer.status == 303 and answer.location == "/ui/tickets"
