"""The customer's side of the portal in a real browser (Playwright driving Debian's Chromium against the
real daemon on the manual clock, axe-core from var/peers/axe): a customer's contact sees a ticket's reply
and its project's progress, files a new request, requests a standby weekend after seeing its quote; the desk
confirms it and it is a booking (in the API too); statements read without issuing a number; another
customer's contact gets 404 on acme's project, statement and request.

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_customer_browser.py`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from tests.harness.portal import ARTIFACTS, AXE, CHROMIUM, chromium, portal_daemon
from tests.integration.test_portal_browser import sign_in

playwright_sync = pytest.importorskip("playwright.sync_api")

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday, office hours
DESK, JAN, OPS, ENG = "anna@example.nl", "jan@acme.example", "ops@example.nl", "bram@example.nl"
REPLY = "We restarted the payment worker; please try again."

pytestmark = [
    pytest.mark.peer("chromium"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make peers)"),
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    accounts = [
        (DESK, "desk", "anna", None),
        (ENG, "engineer", "bram", None),
        (JAN, "customer", None, "acme"),
        (OPS, "customer", None, "agency"),
    ]
    with portal_daemon(tmp_path_factory.mktemp("portal-customer"), START, accounts) as p:
        status, t = p.api("POST", "/api/v1/tickets", {"project": "acme/webshop", "subject": "Checkout hangs",
                                                      "body": "Checkout hangs.", "from": JAN})  # fmt: skip
        assert status == 201, t
        assert p.api("POST", f"/api/v1/tickets/{t['number']}/replies", {"text": REPLY, "by": "anna"})[0] == 201
        for kind, minutes in (("billable", 50), ("covered", 30)):
            status, e = p.api("POST", f"/api/v1/tickets/{t['number']}/time", {"kind": kind, "minutes": minutes})
            assert status == 201, e
        p.ticket = t["number"]  # type: ignore[attr-defined]
        status, down = p.api("POST", "/api/v1/tickets", {"project": "acme/webshop", "subject": "Payment provider down"})
        assert status == 201, down
        status, paged = p.api("POST", f"/api/v1/tickets/{down['number']}/page", {"by": "anna"})
        assert status == 200 and paged["kind"] == "incident", paged
        p.incident = down["number"]  # type: ignore[attr-defined]
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


def test_the_customer_sees_the_reply_and_the_project_s_progress(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    page.goto(f"{daemon.url}/ui/tickets/{daemon.ticket}")
    assert REPLY in page.locator("ol.timeline").inner_text()
    page.get_by_role("link", name="Projecten").click()
    assert page.get_by_role("link", name="acme/intranet").is_visible()
    assert page.get_by_text("agency/infra").count() == 0
    page.get_by_role("link", name="acme/webshop").click()
    page.wait_for_url(re.compile(r"/ui/projects/acme/webshop$"))
    assert page.get_by_role("heading", name="Voortgang").is_visible()
    week = page.locator("tbody tr").last
    assert week.locator("th").inner_text() == "2026-01-05"
    assert [c.inner_text().strip() for c in week.locator("td").all()] == ["2", "0"]  # opened, resolved
    incidents = page.locator("h2", has_text="Open incidenten").locator("xpath=following-sibling::ul[1]")
    assert incidents.inner_text() == f"#{daemon.incident} Payment provider down open"
    hours = page.locator("dl.hours").inner_text()
    assert "Gedekt\n0,50 uur" in hours and "Factureerbaar\n0,83 uur (gefactureerd: 1,00)" in hours
    assert page.get_by_role("link", name=f"#{daemon.ticket} Checkout hangs").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "portal-project-customer.png"), full_page=True)


def test_a_new_request_is_a_ticket_of_the_project_from_the_contact(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    page.goto(f"{daemon.url}/ui/projects/acme/webshop")
    page.get_by_role("link", name="Nieuw verzoek").click()
    page.get_by_label("Onderwerp").fill("New shipping method")
    page.get_by_label("Beschrijf uw verzoek").fill("Please add pick-up points.")
    page.get_by_role("button", name="Verzoek versturen").click()
    page.wait_for_url(re.compile(r"/ui/tickets/\d+$"))
    number = int(page.url.rsplit("/", 1)[1])
    assert page.get_by_role("heading", name=re.compile("New shipping method")).is_visible()
    status, t = daemon.api("GET", f"/api/v1/tickets/{number}")
    assert (t["project"], t["customer"], t["requester"]["contact"], t["requester"]["email"]) == (
        "acme/webshop", "acme", "acme.jan", JAN,
    )  # fmt: skip
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    url = f"{daemon.url}/ui/projects/acme/webshop/request"
    for form, status in (
        ({"csrf": csrf, "subject": "", "body": "x"}, 422),  # missing
        ({"csrf": csrf, "subject": "x" * 5000, "body": "x"}, 422),  # oversized
        ({"csrf": csrf, "subject": "a\x00b", "body": "x"}, 422),  # hostile
        ({"subject": "no token", "body": "x"}, 403),
    ):
        assert page.request.post(url, form=form, max_redirects=0).status == status
    assert page.request.post(f"{daemon.url}/ui/projects/acme/nothing/request", form={"csrf": csrf, "subject": "x"},
                             max_redirects=0).status == 404  # fmt: skip


def test_the_customer_requests_a_standby_weekend_after_its_quote_and_the_desk_confirms_it(browser, daemon):
    ctx = browser.new_context(locale="en-GB")
    page, _ = sign_in(ctx, daemon, JAN)
    page.get_by_role("link", name="Standby", exact=True).click()
    page.get_by_role("link", name="Request standby").click()
    page.get_by_label("From").fill("2026-01-16T18:00")
    page.get_by_label("Until").fill("2026-01-19T08:00")
    page.get_by_label("Note for the desk").fill("Release weekend")
    page.get_by_role("button", name="Show quote").click()
    page.wait_for_url(re.compile(r"/ui/bookings/request\?"))
    assert page.get_by_role("heading", name="Quote").is_visible()
    status, quote = daemon.api("GET", "/api/v1/standby-quote?customer=acme&start=2026-01-16T18:00&end=2026-01-19T08:00")
    assert status == 200
    assert page.locator("#quote-total").inner_text() == f"€{quote['total']}"  # en-GB
    assert page.locator("tbody tr").count() == len(quote["blocks"])
    page.screenshot(path=str(ARTIFACTS / "portal-standby-quote.png"), full_page=True)
    assert daemon.api("GET", "/api/v1/standby-requests")[1] == []  # a quote stores nothing
    page.get_by_role("button", name="Send standby request").click()
    page.wait_for_url(re.compile(r"/ui/bookings\?sent=\d+"))
    assert "has been sent" in page.get_by_role("status").inner_text()
    (req,) = daemon.api("GET", "/api/v1/standby-requests")[1]
    assert (req["status"], req["requested_by"], req["note"], req["quote_total"]) == (
        "pending", JAN, "Release weekend", quote["total"],
    )  # fmt: skip
    assert page.get_by_role("button", name="Confirm").count() == 0  # the desk's
    ctx.close()

    ctx = browser.new_context(locale="en-GB")
    page, _ = sign_in(ctx, daemon, DESK)
    page.goto(daemon.url + "/ui/bookings")
    item = page.locator(f"#request-{req['id']}")
    assert "pending" in item.inner_text() and "acme" in item.inner_text()
    page.screenshot(path=str(ARTIFACTS / "portal-bookings-desk.png"), full_page=True)
    item.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/ui/bookings#request-\d+$"))
    confirmed = daemon.api("GET", f"/api/v1/standby-requests/{req['id']}")[1]
    assert confirmed["status"] == "confirmed" and confirmed["decided_by"] == "anna"
    booking = next(b for b in daemon.api("GET", "/api/v1/bookings?customer=acme")[1]
                   if b["id"] == confirmed["booking_id"])  # fmt: skip
    assert (booking["start"], booking["end"], booking["created_by"]) == (req["start"], req["end"], "anna")
    assert page.locator(f"#booking-{booking['id']}").is_visible()
    # a second decision is refused and books nothing
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    again = page.request.post(f"{daemon.url}/ui/bookings/requests/{req['id']}",
                              form={"csrf": csrf, "action": "confirm"}, max_redirects=0)  # fmt: skip
    assert again.status == 409
    assert len(daemon.api("GET", "/api/v1/bookings?customer=acme")[1]) == 1
    ctx.close()

    ctx = browser.new_context(locale="en-GB")
    page, _ = sign_in(ctx, daemon, JAN)
    page.goto(daemon.url + "/ui/bookings")
    assert "confirmed" in page.locator(f"#request-{req['id']}").inner_text()
    assert page.locator(f"#booking-{booking['id']}").is_visible()
    page.screenshot(path=str(ARTIFACTS / "portal-bookings-customer.png"), full_page=True)
    ctx.close()


def test_bad_standby_requests_are_refused_and_nothing_is_stored(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    before = daemon.api("GET", "/api/v1/standby-requests")[1]
    assert page.goto(daemon.url + "/ui/bookings/request?start=2026-01-01T00:00&end=2026-01-02T00:00").status == 422
    assert page.goto(daemon.url + "/ui/bookings/request?start=x&end=y").status == 422
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    url = daemon.url + "/ui/bookings/request"
    for form, status in (
        ({"csrf": csrf, "start": "2026-01-16T18:00"}, 422),  # missing
        ({"csrf": csrf, "start": "2026-01-16T18:00", "end": "2026-01-17T18:00", "note": "x" * 3000}, 422),
        ({"csrf": csrf, "start": "2026-01-16T18:00", "end": "2026-01-17T18:00", "note": "\x1b[31m"}, 422),
        ({"csrf": csrf, "start": "<script>", "end": "2026-01-17T18:00"}, 422),
        ({"start": "2026-01-16T18:00", "end": "2026-01-17T18:00"}, 403),
    ):
        answer = page.request.post(url, form=form, max_redirects=0)
        assert answer.status == status, form
        assert "<script>" not in answer.text()
    # a contact names no other customer: the request is its own customer's whatever the form says
    answer = page.request.post(url, form={"csrf": csrf, "customer": "agency", "start": "2026-01-23T18:00",
                                          "end": "2026-01-24T18:00"}, max_redirects=0)  # fmt: skip
    assert answer.status == 303
    rows = daemon.api("GET", "/api/v1/standby-requests")[1]
    assert len(rows) == len(before) + 1 and rows[0]["customer"] == "acme"
    bad = page.request.post(f"{daemon.url}/ui/bookings/requests/{rows[0]['id']}",
                            form={"csrf": csrf, "action": "confirm"}, max_redirects=0)  # fmt: skip
    assert bad.status == 403  # a customer does not confirm its own request
    assert page.request.post(f"{daemon.url}/ui/bookings/requests/{rows[0]['id']}",
                             form={"csrf": csrf, "action": "bogus"}, max_redirects=0).status == 400  # fmt: skip
    withdrawn = page.request.post(f"{daemon.url}/ui/bookings/requests/{rows[0]['id']}",
                                  form={"csrf": csrf, "action": "withdraw"}, max_redirects=0)  # fmt: skip
    assert withdrawn.status == 303
    assert daemon.api("GET", f"/api/v1/standby-requests/{rows[0]['id']}")[1]["status"] == "withdrawn"


def test_another_customer_s_contact_gets_404_on_acme_s_pages(context, daemon):
    _, r = daemon.api("POST", "/api/v1/standby-requests",
                      {"customer": "acme", "start": "2026-02-06T18:00", "end": "2026-02-09T08:00"})  # fmt: skip
    page, _ = sign_in(context, daemon, OPS)
    for path in ("/ui/projects/acme/webshop", "/ui/projects/acme/webshop/request", "/ui/statements/acme/2025-12",
                 "/ui/projects/acme/nothing", "/ui/statements/nobody/2025-12"):  # fmt: skip
        answer = page.goto(daemon.url + path)
        assert answer.status == 404, path
        assert "Checkout hangs" not in page.content() and "Acme" not in page.content()
    assert page.goto(daemon.url + "/ui/projects/agency/infra").status == 200
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    for action in ("withdraw", "confirm"):
        answer = page.request.post(f"{daemon.url}/ui/bookings/requests/{r['id']}",
                                   form={"csrf": csrf, "action": action}, max_redirects=0)  # fmt: skip
        assert answer.status == 404
    posted = page.request.post(f"{daemon.url}/ui/projects/acme/webshop/request",
                               form={"csrf": csrf, "subject": "let me in"}, max_redirects=0)  # fmt: skip
    assert posted.status == 404
    page.goto(daemon.url + "/ui/bookings?customer=acme")
    assert f"request-{r['id']}" not in page.content() and "2026-02-06" not in page.content()
    assert daemon.api("GET", f"/api/v1/standby-requests/{r['id']}")[1]["status"] == "pending"
    assert all(t["subject"] != "let me in" for t in daemon.api("GET", "/api/v1/tickets?project=acme/webshop")[1])
    # an engineer has no customer pages
    eng, _ = sign_in(context.browser.new_context(locale="nl-NL"), daemon, ENG)
    assert eng.goto(daemon.url + "/ui/projects/acme/webshop").status == 403
    assert eng.goto(daemon.url + "/ui/bookings").status == 403


def test_the_statement_page_reads_without_issuing_a_number_and_prints(context, daemon):
    page, _ = sign_in(context, daemon, JAN)
    for _ in range(2):
        answer = page.goto(daemon.url + "/ui/statements/acme/2025-12")
        assert answer.status == 200
    assert "acme" in page.content().lower() and "Acme Webwinkel BV" in page.content()
    assert "2025-12-0001" not in page.content()
    css = page.request.get(daemon.url + "/ui/static/statement.css")
    assert css.status == 200 and "@media print" in css.text()
    assert "style-src 'self'" in answer.headers["content-security-policy"]
    # the portal's header on screen, the statement alone on paper
    nav = page.locator("header.site nav")
    assert nav.is_visible() and nav.locator("a[href='/ui/projects']").count() == 1
    assert page.locator("main#main header h1").is_visible()
    assert "@media print { header.site, .skip { display: none; } }" in css.text()
    page.emulate_media(media="print")
    assert not nav.is_visible() and page.locator("main#main header h1").is_visible()
    page.screenshot(path=str(ARTIFACTS / "portal-statement-print.png"), full_page=True)
    page.emulate_media(media="screen")
    # the statement's first number is issued by the billing API, not taken by the views above
    status, st = daemon.api("GET", "/api/v1/billing/statements/acme?month=2025-12")
    assert status == 200 and st["number"] == "2025-12-0001"
    page.goto(daemon.url + "/ui/statements/acme/2025-12")
    assert "2025-12-0001" in page.content()  # once issued, the page shows it
    assert page.goto(daemon.url + "/ui/statements/acme/2025-13").status == 404
    assert page.goto(daemon.url + "/ui/statements/agency/2025-12").status == 404


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (make peers)")
@pytest.mark.parametrize("locale", ["nl-NL", "en-GB"])
def test_axe_finds_no_serious_or_critical_violations_on_the_customer_pages(browser, daemon, locale):
    ctx = browser.new_context(locale=locale, bypass_csp=True)  # axe is injected for the check only
    sign_in(ctx, daemon, JAN)
    paths = {
        "projects": "/ui/projects",
        "project": "/ui/projects/acme/webshop",
        "new-request": "/ui/projects/acme/webshop/request",
        "bookings": "/ui/bookings",
        "standby-request": "/ui/bookings/request?start=2026-01-30T18:00&end=2026-02-02T08:00",
        "statement": "/ui/statements/acme/2025-12",
    }
    found = {}
    for name, path in paths.items():
        p = ctx.new_page()
        assert p.goto(daemon.url + path).status == 200, path
        assert p.locator("html").get_attribute("lang") == locale[:2]
        p.add_script_tag(path=str(AXE))
        violations = p.evaluate("async () => (await axe.run(document)).violations")
        bad = [(v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
        if bad:
            found[name] = bad
        p.screenshot(path=str(ARTIFACTS / f"portal-{name}-{locale[:2]}.png"), full_page=True)
    ctx.close()
    assert found == {}


def test_the_desk_declines_with_a_reason_the_customer_reads_escaped(browser, daemon):
    _, r = daemon.api("POST", "/api/v1/standby-requests",
                      {"customer": "acme", "start": "2026-02-13T18:00", "end": "2026-02-16T08:00"})  # fmt: skip
    ctx = browser.new_context(locale="nl-NL")
    page, _ = sign_in(ctx, daemon, DESK)
    page.goto(daemon.url + "/ui/bookings?customer=acme")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    url = f"{daemon.url}/ui/bookings/requests/{r['id']}"
    for reason in ("bell\x07", "x" * 3000):  # hostile, oversized
        answer = page.request.post(url, form={"csrf": csrf, "action": "decline", "reason": reason}, max_redirects=0)
        assert answer.status == 422
    assert page.request.post(url, form={"action": "decline"}, max_redirects=0).status == 403  # no token
    assert daemon.api("GET", f"/api/v1/standby-requests/{r['id']}")[1]["status"] == "pending"
    item = page.locator(f"#request-{r['id']}")
    item.get_by_label("Reden").fill("<b>Geen</b> engineer vrij")
    item.get_by_role("button", name="Afwijzen").click()
    page.wait_for_url(re.compile(r"/ui/bookings#request-\d+$"))
    ctx.close()
    ctx = browser.new_context(locale="nl-NL")
    page, _ = sign_in(ctx, daemon, JAN)
    page.goto(daemon.url + "/ui/bookings")
    item = page.locator(f"#request-{r['id']}")
    assert "afgewezen" in item.inner_text() and "<b>Geen</b> engineer vrij" in item.inner_text()
    assert item.locator("b").count() == 0
    assert item.get_by_role("button").count() == 0  # decided: nothing left to do
    ctx.close()


def test_the_desk_reads_any_customer_s_statement_and_requests_standby_on_a_customer_s_behalf(context, daemon):
    page, _ = sign_in(context, daemon, DESK)
    assert page.goto(daemon.url + "/ui/statements/acme/2026-01").status == 200  # running month: provisional
    assert page.goto(daemon.url + "/ui/statements/agency/2026-01").status == 404  # not billed: no statement
    assert page.goto(daemon.url + "/ui/bookings/request?start=2026-03-06T18:00&end=2026-03-09T08:00").status == 422
    page.goto(daemon.url + "/ui/bookings/request?customer=acme&start=2026-03-06T18:00&end=2026-03-09T08:00")
    assert page.get_by_role("heading", name="Offerte").is_visible()
    page.get_by_role("button", name="Stand-byverzoek versturen").click()
    page.wait_for_url(re.compile(r"/ui/bookings\?sent=\d+"))
    rows = daemon.api("GET", "/api/v1/standby-requests?customer=acme&status=pending")[1]
    assert rows[0]["requested_by"] == DESK and rows[0]["start"] == "2026-03-06T17:00:00.000000Z"
    unknown = page.request.post(daemon.url + "/ui/bookings/request", max_redirects=0, form={
        "csrf": page.locator("input[name=csrf]").first.get_attribute("value"), "customer": "nobody",
        "start": "2026-03-06T18:00", "end": "2026-03-09T08:00"})  # fmt: skip
    assert unknown.status == 422
    assert page.goto(daemon.url + "/ui/bookings?customer=nobody").status == 400
