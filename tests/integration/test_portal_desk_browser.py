"""The desk's and the engineer's portal in a real browser: Playwright driving Debian's Chromium
(/usr/bin/chromium) against the real daemon on the manual clock, with axe-core (var/peers/axe) checking the
desk's and the engineer's pages in Dutch and in English.

The desk (chris) triages a ticket that came in by mail over the daemon's LMTP listener, replies, notes,
assigns in bulk, books time and turns a request into a page; the engineer (anna, on call for the office
rotation on Monday 5 January 2026) acknowledges an incident from her phone. Everything the portal did is
checked through the JSON API. Screenshots to tests/artifacts/ (git-ignored).

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_desk_browser.py`.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.harness.portal import ARTIFACTS, AXE, CHROMIUM, PASSWORD, chromium, portal_daemon

playwright_sync = pytest.importorskip("playwright.sync_api")

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday, office hours: anna is on call (office)
DESK, ENGINEER, JAN, OPS = "chris@example.nl", "anna@example.nl", "jan@acme.example", "ops@example.nl"
SUPPORT = "support@example.nl"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.peer("chromium"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make peers)"),
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    accounts = [
        (DESK, "desk", "chris", None),
        (ENGINEER, "engineer", "anna", None),
        (JAN, "customer", None, "acme"),
        (OPS, "customer", None, "agency"),
    ]
    with portal_daemon(tmp_path_factory.mktemp("portal-desk"), START, accounts) as p:
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


def sign_in(ctx, daemon, email: str):
    page = ctx.new_page()
    page.goto(daemon.url + "/ui/login")
    page.get_by_label(re.compile("E-mail")).fill(email)
    page.get_by_label(re.compile("Wachtwoord|Password")).fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/ui/login") and r.request.method == "POST") as answer:
        page.get_by_role("button", name=re.compile("Aanmelden|Sign in")).click()
    page.wait_for_load_state()
    assert answer.value.status == 303
    return page


def _ticket(daemon, n: int) -> dict:
    status, t = daemon.api("GET", f"/api/v1/tickets/{n}")
    assert status == 200, t
    return t  # type: ignore[return-value]


def _new_ticket(daemon, subject: str, project: str | None = "acme/webshop") -> int:
    body = {"subject": subject, "body": f"{subject}."} | ({"project": project} if project else {})
    status, t = daemon.api("POST", "/api/v1/tickets", body)
    assert status == 201, t
    return t["number"]  # type: ignore[index]


def _mail_in(daemon, mid: str, subject: str) -> int:
    """A mail from a stranger through the daemon's LMTP listener; the engine files it as a ticket."""
    raw = (
        f"Message-ID: <{mid}>\r\nFrom: Piet Stranger <piet@stranger.example>\r\nTo: {SUPPORT}\r\n"
        f"Subject: {subject}\r\nDate: Mon, 05 Jan 2026 10:00:00 +0100\r\n\r\nOur shop shows a blank page.\r\n"
    ).encode()
    with smtplib.LMTP("127.0.0.1", daemon.mail_port, timeout=30) as c:
        assert c.sendmail("piet@stranger.example", [SUPPORT], raw) == {}
    daemon.advance("1s")  # the engine files stored mail on its tick

    def filed(d):
        status, rows = d.api("GET", "/api/v1/tickets?project=none")
        return next((t["number"] for t in rows if t["subject"] == subject), None)

    return daemon.wait_for(filed, timeout=30)


def _fire(daemon, key: str) -> int:
    alert = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{key}"}}',
        "status": "firing",
        "receiver": "pagerd",
        "groupLabels": {"alertname": key},
        "commonLabels": {"alertname": key, "customer": "agency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": key, "customer": "agency", "severity": "critical"},
                "annotations": {"summary": f"{key} is down"},
                "startsAt": "2026-01-05T08:59:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": key,
            }
        ],
    }
    import json

    status, body = daemon.request(
        "POST", "/api/v1/alerts/alertmanager", json.dumps(alert).encode(), token=daemon.webhook_token
    )
    assert status in (200, 202), body
    iid = next(i["id"] for i in daemon.incidents() if i["summary"] == f"{key} is down")
    daemon.advance("1s")  # routed and paged (the office rotation: anna)

    def paged(d):
        status, inc = d.api("GET", f"/api/v1/incidents/{iid}")
        cur = inc["response"]["current"]
        return cur is not None and cur["first_page_at"] is not None

    daemon.wait_for(paged, timeout=30)
    return iid


def _csrf(page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value")


def test_the_desk_triages_a_mailed_ticket_into_a_project_and_replies(browser, daemon):
    n = _mail_in(daemon, "triage-1@stranger.example", "Shop is blank")
    assert _ticket(daemon, n)["project"] is None
    ctx = browser.new_context(locale="nl-NL")
    page = sign_in(ctx, daemon, DESK)
    page.get_by_role("link", name="Triagewachtrij").click()
    page.wait_for_url(re.compile(r"queue=triage"))
    row = page.locator("tbody tr", has_text="Shop is blank")
    assert "onbekende afzender" in row.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "portal-desk-triage.png"), full_page=True)
    row.get_by_role("link", name="Shop is blank").click()
    page.wait_for_url(re.compile(rf"/ui/tickets/{n}$"))
    page.get_by_label("Project (bepaalt de klant)").select_option("acme/webshop")
    page.get_by_role("button", name="Project instellen").click()
    page.wait_for_url(re.compile(rf"/ui/tickets/{n}#latest$"))
    t = _ticket(daemon, n)
    assert (t["project"], t["customer"]) == ("acme/webshop", "acme")
    page.get_by_label("Uw reactie").fill("We are looking at your shop now.")
    page.get_by_role("button", name="Reactie versturen").click()
    page.wait_for_url(re.compile(rf"/ui/tickets/{n}#latest$"))
    reply = _ticket(daemon, n)["timeline"][-1]
    assert (reply["kind"], reply["public"], reply["data"]["text"]) == (
        "reply",
        True,
        "We are looking at your shop now.",
    )
    page.screenshot(path=str(ARTIFACTS / "portal-desk-ticket.png"), full_page=True)
    # out of the triage queue now
    page.goto(daemon.url + "/ui/tickets?queue=triage")
    assert page.locator("tbody tr", has_text="Shop is blank").count() == 0
    page.get_by_role("link", name="Onbekende afzenders").click()  # still a stranger: the desk may add the contact
    page.wait_for_url(re.compile(r"queue=unknown"))
    assert page.locator("tbody tr", has_text="Shop is blank").count() == 1
    ctx.close()


def test_a_note_is_internal_the_customer_never_sees_it(browser, daemon):
    n = _new_ticket(daemon, "Invoice question")
    ctx = browser.new_context(locale="nl-NL")
    page = sign_in(ctx, daemon, DESK)
    page.goto(f"{daemon.url}/ui/tickets/{n}")
    page.get_by_label(re.compile("^Notitie")).fill("Customer is behind on payments, ask finance first")
    page.get_by_role("button", name="Notitie toevoegen").click()
    page.wait_for_url(re.compile(rf"/ui/tickets/{n}#latest$"))
    latest = page.locator("#latest")
    assert "ask finance first" in latest.inner_text() and "Interne notitie" in latest.inner_text()
    assert "internal" in latest.get_attribute("class")
    empty = page.request.post(f"{daemon.url}/ui/tickets/{n}/note", form={"csrf": _csrf(page), "text": " "})
    assert empty.status == 422
    hostile = page.request.post(
        f"{daemon.url}/ui/tickets/{n}/note", form={"csrf": _csrf(page), "text": "x\x00y"}, max_redirects=0
    )
    assert hostile.status == 422
    assert page.request.post(f"{daemon.url}/ui/tickets/{n}/note", form={"text": "no token"}).status == 403
    ctx.close()
    note = _ticket(daemon, n)["timeline"][-1]
    assert (note["kind"], note["public"], note["actor"]) == ("note", False, "chris")
    ctx = browser.new_context(locale="nl-NL")
    page = sign_in(ctx, daemon, JAN)
    assert page.goto(f"{daemon.url}/ui/tickets/{n}").status == 200
    assert "ask finance first" not in page.content() and "Notitie toevoegen" not in page.content()
    # a customer posting to a staff form: refused, nothing written
    answer = page.request.post(f"{daemon.url}/ui/tickets/{n}/note", form={"csrf": _csrf(page), "text": "sneaky"})
    assert answer.status == 403
    assert answer.status == 403 and page.goto(daemon.url + "/ui/incidents").status == 403
    ctx.close()
    assert all("sneaky" not in str(e["data"]) for e in _ticket(daemon, n)["timeline"])


def test_bulk_assign_and_the_queue_filters(browser, daemon):
    a, b = _new_ticket(daemon, "Bulk one"), _new_ticket(daemon, "Bulk two")
    ctx = browser.new_context(locale="en-GB")
    page = sign_in(ctx, daemon, DESK)
    page.goto(daemon.url + "/ui/tickets?project=acme/webshop")
    page.get_by_label(f"Select #{a}").check()
    page.get_by_label(f"Select #{b}").check()
    page.locator("#bulk-assignee").select_option("bram")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_url(re.compile(r"assigned=2"))
    assert page.get_by_role("status").inner_text() == "Tickets assigned: 2"
    assert _ticket(daemon, a)["assignee"] == _ticket(daemon, b)["assignee"] == "bram"
    page.goto(daemon.url + "/ui/tickets?assignee=bram")
    text = page.locator("tbody").inner_text()
    assert "Bulk one" in text and "Bulk two" in text and "Invoice question" not in text
    page.goto(daemon.url + "/ui/tickets?risk=breached")
    assert page.locator("tbody tr", has_text="Bulk one").count() == 0  # a fresh request is on track
    page.goto(daemon.url + "/ui/tickets?risk=running&project=acme/webshop")
    assert page.locator("tbody tr", has_text="Bulk one").count() == 1
    # the API's risk filter is the queue's (one function): the same tickets, with the same risk
    shown = {int(v) for v in page.locator("tbody input[name=number]").evaluate_all("l => l.map(e => e.value)")}
    status, rows = daemon.api("GET", "/api/v1/tickets?risk=running&project=acme/webshop")
    assert status == 200 and {r["number"] for r in rows} == shown and {r["risk"] for r in rows} == {"running"}
    assert daemon.api("GET", "/api/v1/tickets?risk=extreme")[0] == 400
    # an engineer's queue, filtered by risk too, holds only its own tickets (bram's are not anna's)
    eng = sign_in(browser.new_context(locale="en-GB"), daemon, ENGINEER)
    eng.goto(daemon.url + "/ui/tickets?risk=running")
    assert eng.locator("tbody tr", has_text="Bulk one").count() == 0
    eng.context.close()
    page.screenshot(path=str(ARTIFACTS / "portal-desk-queue.png"), full_page=True)
    csrf = _csrf(page)
    for form in (
        {"csrf": csrf, "assignee": "bram"},  # nothing ticked
        {"csrf": csrf, "assignee": "bram", "number": "abc"},
        {"csrf": csrf, "assignee": "nobody-such", "number": str(a)},
        {"csrf": csrf, "assignee": "bram", "number": "999999"},
    ):
        answer = page.request.post(daemon.url + "/ui/tickets", form=form)
        assert answer.status == 422 and "niets toegewezen" in answer.text(), form  # no Accept-Language: Dutch
    assert page.request.post(daemon.url + "/ui/tickets", form={"number": str(a), "assignee": ""}).status == 403
    for bad in ("status=bogus", "risk=extreme", "assignee=nobody-such", "project=acme/nothing", "queue=x"):
        assert page.request.get(f"{daemon.url}/ui/tickets?{bad}").status == 400, bad
    ctx.close()
    assert _ticket(daemon, a)["assignee"] == "bram"


def test_status_time_and_turning_a_request_into_a_page(browser, daemon):
    n = _new_ticket(daemon, "Webshop down for everyone", project="acme/webshop")
    ctx = browser.new_context(locale="en-GB")
    page = sign_in(ctx, daemon, DESK)
    page.goto(f"{daemon.url}/ui/tickets/{n}")
    page.locator("#c-status").select_option("open")
    page.get_by_role("button", name="Set status").click()
    page.wait_for_url(re.compile(rf"/ui/tickets/{n}#latest$"))
    assert _ticket(daemon, n)["status"] == "open"
    page.locator("#t-kind").select_option("billable")
    page.locator("#t-minutes").fill("45")
    page.locator("#t-note").fill("checked the load balancer")
    page.get_by_role("button", name="Book time").click()
    page.wait_for_url(re.compile(rf"/ui/tickets/{n}#time$"))
    [entry] = _ticket(daemon, n)["time"]
    assert (entry["kind"], entry["minutes"], entry["by"]) == ("billable", 45, "chris")
    for minutes in ("0", "-5", "abc", "9" * 30):
        answer = page.request.post(
            f"{daemon.url}/ui/tickets/{n}/time", form={"csrf": _csrf(page), "kind": "billable", "minutes": minutes}
        )
        assert answer.status == 422, minutes
    page.get_by_role("button", name="Page the engineer on call").click()
    page.wait_for_url(re.compile(rf"/ui/tickets/{n}#latest$"))
    assert _ticket(daemon, n)["kind"] == "incident"
    again = page.request.post(f"{daemon.url}/ui/tickets/{n}/page", form={"csrf": _csrf(page)})
    assert again.status == 409  # an incident already
    ctx.close()


def test_the_engineer_acknowledges_from_the_phone(browser, daemon):
    iid = _fire(daemon, "DiskFull")
    ctx = browser.new_context(locale="nl-NL", viewport=PHONE, is_mobile=True, has_touch=True)
    page = sign_in(ctx, daemon, ENGINEER)
    page.get_by_role("link", name="Dienst").click()
    mine = page.locator("#mine + ul li", has_text="DiskFull is down")
    assert mine.count() == 1
    assert "Mijn diensten" in page.content() and "kantooruren" in page.locator("table").nth(1).inner_text()
    page.screenshot(path=str(ARTIFACTS / "portal-engineer-oncall-phone.png"), full_page=True)
    mine.get_by_role("button", name=re.compile("Bevestigen")).tap()
    page.wait_for_url(re.compile(r"/ui/oncall#mine$"))
    status, inc = daemon.api("GET", f"/api/v1/incidents/{iid}")
    assert (inc["state"], inc["acknowledged_by"]) == ("acknowledged", "anna")
    assert inc["response"]["current"]["outcome"] == "met"
    assert inc["response"]["current"]["answered_via"] == "portal"
    page.goto(f"{daemon.url}/ui/incidents/{iid}")
    assert "gehaald" in page.locator("dl.clock").inner_text()
    page.screenshot(path=str(ARTIFACTS / "portal-incident-phone.png"), full_page=True)
    assert page.get_by_role("button", name="Bevestigen").count() == 0  # acknowledged: only resolve is left
    ctx.close()


def test_incidents_list_open_first_and_resolve(browser, daemon):
    iid = _fire(daemon, "CertExpiry")
    ctx = browser.new_context(locale="en-GB")
    page = sign_in(ctx, daemon, DESK)
    page.get_by_role("link", name="Incidents").click()
    first = page.locator("tbody tr").first
    assert "CertExpiry is down" in first.inner_text() and "triggered" in first.inner_text()
    first.get_by_role("link", name="CertExpiry is down").click()
    page.wait_for_url(re.compile(rf"/ui/incidents/{iid}$"))
    assert "on track" in page.locator("dl.clock").inner_text()
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(re.compile(rf"/ui/incidents/{iid}$"))
    status, inc = daemon.api("GET", f"/api/v1/incidents/{iid}")
    assert (inc["state"], inc["resolved_by"]) == ("resolved", "chris")
    for path in ("/ui/incidents/0", "/ui/incidents/abc", "/ui/incidents/999999"):
        assert page.request.get(daemon.url + path).status == 404, path
    assert page.request.post(f"{daemon.url}/ui/incidents/{iid}/resolve", form={}).status == 403
    late = page.request.post(f"{daemon.url}/ui/incidents/{iid}/ack", form={"csrf": _csrf(page)})
    assert late.status == 409  # resolved: nothing left to acknowledge
    ctx.close()
    ctx = browser.new_context(locale="nl-NL")
    page = sign_in(ctx, daemon, JAN)
    assert page.goto(f"{daemon.url}/ui/incidents/{iid}").status == 404
    answer = page.request.post(f"{daemon.url}/ui/incidents/{iid}/ack", form={"csrf": _csrf(page)})
    assert answer.status == 404
    ctx.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (make peers)")
@pytest.mark.parametrize("locale", ["nl-NL", "en-GB"])
def test_axe_finds_no_serious_or_critical_violations_on_the_desk_pages(browser, daemon, locale):
    n = _new_ticket(daemon, f"Axe check {locale}")
    status, _ = daemon.api(  # a pending request: the desk's confirm and decline buttons are on the page
        "POST",
        "/api/v1/override-requests",
        {"rotation": "standby", "start": "2026-02-06T18:00", "end": "2026-02-07T18:00", "person": "bram", "by": "eva"},
    )
    assert status == 201
    status, rows = daemon.api("GET", "/api/v1/incidents")
    iid = rows[0]["id"] if rows else _fire(daemon, "AxeCheck")  # type: ignore[index]
    found = {}
    for email, paths in (
        (
            DESK,
            (
                ("queue", "/ui/tickets"),
                ("triage", "/ui/tickets?queue=triage"),
                ("ticket", f"/ui/tickets/{n}"),
                ("incidents", "/ui/incidents"),
                ("incident", f"/ui/incidents/{iid}"),
                ("desk-oncall", "/ui/oncall"),
            ),
        ),
        (ENGINEER, (("oncall", "/ui/oncall"),)),
    ):
        ctx = browser.new_context(locale=locale, bypass_csp=True)  # axe is injected for the check only
        sign_in(ctx, daemon, email)
        for name, path in paths:
            p = ctx.new_page()
            p.goto(daemon.url + path)
            assert p.locator("html").get_attribute("lang") == locale[:2]
            p.add_script_tag(path=str(AXE))
            violations = p.evaluate("async () => (await axe.run(document)).violations")
            bad = [
                (v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")
            ]
            if bad:
                found[name] = bad
            p.screenshot(path=str(ARTIFACTS / f"portal-desk-{name}-{locale[:2]}.png"), full_page=True)
        ctx.close()
    assert found == {}


def test_an_attachment_that_came_by_mail_downloads_for_who_may_see_it(browser, daemon):
    content = bytes(range(256)) * 40  # a binary file
    digest = hashlib.sha256(content).hexdigest()
    msg = EmailMessage()
    msg["Message-ID"] = "<attach-1@acme.example>"
    msg["From"] = "Jan Pietersen <jan@acme.example>"
    msg["To"] = SUPPORT
    msg["Subject"] = "Screenshot of the error"
    msg["Date"] = "Mon, 05 Jan 2026 10:00:00 +0100"
    msg.set_content("See the attached log.")
    msg.add_attachment(content, maintype="application", subtype="octet-stream", filename="crash \"log\".bin")
    with smtplib.LMTP("127.0.0.1", daemon.mail_port, timeout=30) as c:
        assert c.sendmail("jan@acme.example", [SUPPORT], msg.as_bytes()) == {}
    daemon.advance("1s")

    def filed(d):
        status, rows = d.api("GET", "/api/v1/tickets?q=Screenshot")
        return next((t["number"] for t in rows if t["subject"] == "Screenshot of the error"), None)

    n = daemon.wait_for(filed, timeout=30)
    t = _ticket(daemon, n)
    assert t["customer"] == "acme" and [a["sha256"] for a in t["attachments"]] == [digest]
    ctx = browser.new_context(locale="en-GB")
    page = sign_in(ctx, daemon, DESK)
    page.goto(f"{daemon.url}/ui/tickets/{n}")
    with page.expect_download() as download:
        page.get_by_role("link", name='crash "log".bin').click()
    assert Path(download.value.path()).read_bytes() == content
    assert page.request.get(f"{daemon.url}/ui/tickets/{n}/attachments/{'0' * 64}").status == 404
    ctx.close()
    status, raw = daemon.request("GET", f"/api/v1/tickets/{n}/attachments/{digest}", token=daemon.admin_token)
    assert status == 200  # the API gives the same bytes (as text here: the harness decodes)
    for who, expected in ((JAN, 200), (OPS, 404)):
        ctx = browser.new_context(locale="nl-NL")
        page = sign_in(ctx, daemon, who)
        answer = page.request.get(f"{daemon.url}/ui/tickets/{n}/attachments/{digest}")
        assert answer.status == expected, who
        if expected == 200:  # the customer's own ticket page links it
            page.goto(f"{daemon.url}/ui/tickets/{n}")
            with page.expect_download() as download:
                page.get_by_role("link", name='crash "log".bin').click()
            assert Path(download.value.path()).read_bytes() == content
            assert answer.body() == content
            assert answer.headers["content-type"] == "application/octet-stream"
            assert answer.headers["content-disposition"].startswith('attachment; filename="crash _log_.bin"')
        ctx.close()


def test_the_engineer_asks_for_an_override_and_the_desk_confirms_it(browser, daemon):
    ctx = browser.new_context(locale="en-GB", viewport=PHONE)
    page = sign_in(ctx, daemon, ENGINEER)
    page.goto(daemon.url + "/ui/oncall")
    page.locator("#r-rotation").select_option("office")
    page.locator("#r-start").fill("2026-01-08T08:30")
    page.locator("#r-end").fill("2026-01-08T18:00")
    page.get_by_label("Who is on call then").select_option("bram")
    assert page.locator("#r-replaces").input_value() == "anna"  # instead of me, unless chosen otherwise
    page.get_by_label("Reason").fill("dentist")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url(re.compile(r"/ui/oncall#requests$"))
    assert "dentist" in page.locator("#requests + table").inner_text()
    # a refused request shows what was typed again, and stores nothing
    page.locator("#r-start").fill("2026-01-09T18:00")
    page.locator("#r-end").fill("2026-01-09T08:00")
    page.get_by_label("Reason").fill("backwards")
    with page.expect_response(lambda r: r.url.endswith("/ui/oncall/requests")) as answer:
        page.get_by_role("button", name="Send the request").click()
    assert answer.value.status == 422
    assert "end: must be after start" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Reason").input_value() == "backwards"
    assert page.request.post(daemon.url + "/ui/oncall/requests/1/confirm", form={"csrf": _csrf(page)}).status == 403
    ctx.close()
    status, rows = daemon.api("GET", "/api/v1/override-requests")
    [asked] = [r for r in rows if r["requested_by"] == "anna"]
    assert (asked["status"], asked["requested_by"], asked["person"], asked["replaces"]) == (
        "pending",
        "anna",
        "bram",
        "anna",
    )
    ctx = browser.new_context(locale="nl-NL")
    page = sign_in(ctx, daemon, DESK)
    page.goto(daemon.url + "/ui/oncall")
    page.get_by_role("button", name=re.compile("^Bevestigen office 2026-01-08")).click()
    page.wait_for_url(re.compile(r"/ui/oncall#requests$"))
    page.screenshot(path=str(ARTIFACTS / "portal-desk-oncall-requests.png"), full_page=True)
    again = page.request.post(f"{daemon.url}/ui/oncall/requests/{asked['id']}/decline", form={"csrf": _csrf(page)})
    assert again.status == 409
    ctx.close()
    status, [o] = daemon.api("GET", "/api/v1/overrides")
    assert (o["rotation"], o["person"], o["replaces"], o["created_by"]) == ("office", "bram", "anna", "chris")
    status, on = daemon.api("GET", "/api/v1/oncall?at=2026-01-08T10:00:00Z")
    assert next(r for r in on if r["rotation"] == "office")["person"] == "bram"


def test_an_engineer_works_its_own_tickets_but_does_not_triage(browser, daemon):
    status, t = daemon.api(
        "POST", "/api/v1/tickets", {"subject": "Anna's ticket", "project": "acme/webshop", "assignee": "anna"}
    )
    mine, other = t["number"], _new_ticket(daemon, "Somebody else's")
    ctx = browser.new_context(locale="en-GB")
    page = sign_in(ctx, daemon, ENGINEER)
    listed = page.locator("tbody").inner_text()  # its queue: its own tickets, no bulk assignment
    assert "Anna's ticket" in listed and "Somebody else's" not in listed
    assert page.locator("input[type=checkbox]").count() == 0
    page.goto(f"{daemon.url}/ui/tickets/{mine}")
    assert page.get_by_role("button", name="Set project").count() == 0
    page.locator("#c-status").select_option("open")
    page.get_by_role("button", name="Set status").click()
    page.wait_for_url(re.compile(rf"/ui/tickets/{mine}#latest$"))
    assert _ticket(daemon, mine)["status"] == "open"
    csrf = _csrf(page)
    for form in ({"assignee": "bram"}, {"project": "acme/intranet"}, {"priority": "urgent"}):
        answer = page.request.post(f"{daemon.url}/ui/tickets/{mine}/change", form={"csrf": csrf, **form})
        assert answer.status == 403, form
    assert page.request.post(f"{daemon.url}/ui/tickets/{mine}/page", form={"csrf": csrf}).status == 403
    assert page.request.post(daemon.url + "/ui/tickets", form={"csrf": csrf, "number": str(mine)}).status == 403
    answer = page.request.post(f"{daemon.url}/ui/tickets/{other}/note", form={"csrf": csrf, "text": "hi"})
    assert answer.status == 404  # not assigned to it: as if it did not exist
    ctx.close()
    t = _ticket(daemon, mine)
    assert (t["assignee"], t["project"], t["priority"], t["kind"]) == ("anna", "acme/webshop", "normal", "request")
