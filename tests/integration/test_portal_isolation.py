"""Isolation, generated from the route table: every route the application serves is tried without a session
and as each portal role (admin, desk, engineer, a contact of acme, a contact of another customer), against
the real daemon on the example config (manual clock), and must answer as the table `EXPECT` says. A route
the router has and the table lacks fails the test, so a new route cannot be forgotten; a row for a route
that no longer exists fails too.

The table's format, one row per route, `"METHOD /path/{param}": Rule(anon, admin, desk, engineer, customer,
other, **options)`:

- the six columns are the expected answer without a session (`anon`), with the session of an `admin`, a
  `desk` account, an `engineer` (person bram, to whom acme's ticket is assigned), a `customer` contact of
  acme, and a contact of another customer (`other`, agency). Each is a status code, or `"->/ui/login"`
  (a 303 to that location; the text after `->` is the start of the Location).
- `colleague`: the answer for piet, a second contact of acme, where it differs from jan's (`customer`). The
  test's config says acme's contacts see only the tickets they are on (`portal: {contacts_see: own}`), and
  acme's ticket is jan's: piet reaches acme's projects, not that ticket; a statement is neither's.
- `args`: values of the path's parameters where `DEFAULTS` does not fit. `DEFAULTS` points every portal
  path at acme's objects (its ticket number, `customer: acme`, `project: webshop`, ...): for them the
  `other` column is 404 (another customer's object does not exist for it), a forbidden action 403, no
  session a redirect to /ui/login. API routes point at ids that do not exist (999999), so nothing changes.
- `form`: the request is a form post of these fields plus `csrf` (the caller's session token; without a
  session a made-up one).
- `fresh=True`: the request ends the session (sign-out): each caller signs in anew for it.
- `token=True` (the admin API, `api()`): also tried with the admin token, which must not answer 401 (the
  route is served and the 401 came from the token check, not from a missing page).

Shortcuts: `api()` is the admin API (401 for every portal caller: a portal session never opens the API),
`everyone(s)` the same answer for all six, `page(...)`/`form(...)` a /ui/ page or form post whose `anon`
column is the redirect to sign-in.

Then no listing, search, ticket page, statement, attachment or feed a contact of acme (or the engineer) can
reach shows a marker string that lives only in the other customer's ticket (its subject, body, public
reply and internal note): every GET row of the table and every /ui/ link found on the reached pages is
fetched and searched for it; the other customer's own contact sees it (the search is not vacuous).

Run alone: `.venv/bin/python -m pytest -q tests/integration/test_portal_isolation.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from pager.app import make_clock
from pager.config import load
from pager.observe.metrics import Metrics
from pager.service.schedule import Schedule
from pager.web.app import build_app
from pager.web.keys import Runtime
from tests.harness.pagerd import EXAMPLE_ENV, PagerdProcess, manual_clock_config
from tests.harness.portal import Answer, PortalClient, add_account

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday, office hours
MARKER = "zq7-LEAK-agency-only-5c1d"
ACME_MARKER = "zq7-LEAK-jan-only-9e4b"
CALLERS = ("anon", "admin", "desk", "engineer", "customer", "other", "colleague")
ACCOUNTS = {
    "admin": ("admin@example.nl", "admin", "anna", None),
    "desk": ("desk@example.nl", "desk", "chris", None),
    "engineer": ("bram@example.nl", "engineer", "bram", None),
    "customer": ("jan@acme.example", "customer", None, "acme"),
    "other": ("ops@example.nl", "customer", None, "agency"),
    "colleague": ("piet@acme.example", "customer", None, "acme"),
}
OWN_OFF, OWN_ON = "portal: {contacts_see: all}", "portal: {contacts_see: own}"
LOGIN = "->/ui/login"
TICKETS = "->/ui/tickets"
ACME_TICKET = "{acme_ticket}"  # filled in with the number of acme's ticket
# the path parameters' values unless a row says otherwise: acme's objects, ids that do not exist
DEFAULTS = {
    "number": ACME_TICKET,
    "n": "999999",
    "id": "999999",
    "customer": "acme",
    "project": "webshop",
    "month": "2026-01",
    "token": "no-such-token-0123456789",
    "name": "anna",
    "kind": "people",
    "sha256": "0" * 64,
}

Expect = int | str


@dataclass(frozen=True)
class Rule:
    anon: Expect
    admin: Expect
    desk: Expect
    engineer: Expect
    customer: Expect
    other: Expect
    args: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None
    fresh: bool = False
    token: bool = False
    colleague: Expect | None = None  # None: as `customer`

    def expected(self, caller: str) -> Expect:
        if caller == "colleague" and self.colleague is None:
            return self.customer
        return getattr(self, caller)


def everyone(status: Expect, **opts) -> Rule:
    return Rule(status, status, status, status, status, status, **opts)


def api(**opts) -> Rule:
    return everyone(401, token=True, **opts)


def page(admin: Expect, desk: Expect, engineer: Expect, customer: Expect, other: Expect, **opts) -> Rule:
    return Rule(LOGIN, admin, desk, engineer, customer, other, **opts)


def form(admin: Expect, desk: Expect, engineer: Expect, customer: Expect, other: Expect, **opts) -> Rule:
    return Rule(LOGIN, admin, desk, engineer, customer, other, **{"form": {}, **opts})


REPLIED = f"->/ui/tickets/{ACME_TICKET}#latest"

EXPECT: dict[str, Rule] = {
    # -- the portal ------------------------------------------------------------------- admin desk eng cust other
    "GET /ui/": everyone(TICKETS),
    "GET /ui/login": Rule(200, TICKETS, TICKETS, TICKETS, TICKETS, TICKETS),
    "POST /ui/login": everyone(403, form={"email": ACCOUNTS["customer"][0], "password": "x"}),  # no form token
    "POST /ui/logout": form(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, fresh=True),
    # the language switch: no form token without a session (the sign-in form's cookie is not there)
    "POST /ui/language": Rule(403, TICKETS, TICKETS, TICKETS, TICKETS, TICKETS, form={"lang": "nl"}),
    "GET /ui/tickets": page(200, 200, 200, 200, 200),
    "GET /ui/tickets/{number}": page(200, 200, 200, 200, 404, colleague=404),
    "POST /ui/tickets/{number}": form(REPLIED, REPLIED, REPLIED, REPLIED, 404, form={"text": "Noted."}, colleague=404),
    "GET /ui/oncall": page(200, 200, 200, 403, 403),
    "GET /ui/password/{token}": everyone(404),
    "POST /ui/password/{token}": everyone(403, form={"password": "x" * 12, "again": "x" * 12}),  # no form token
    "GET /ui/password-reset": everyone(200),
    "GET /ui/login/totp": Rule(LOGIN, TICKETS, TICKETS, TICKETS, TICKETS, TICKETS),  # no sign-in waits for a code
    "POST /ui/login/totp": Rule(LOGIN, TICKETS, TICKETS, TICKETS, TICKETS, TICKETS, form={"code": "123456"}),
    "GET /ui/account/totp": page(200, 200, 200, 403, 403),
    "POST /ui/account/totp": form(422, 422, 422, 403, 403, form={"code": "abc"}),
    "POST /ui/password-reset": everyone(403, form={"email": ACCOUNTS["customer"][0]}),  # no form token
    "GET /ui/static/portal.css": everyone(200),
    "GET /ui/projects": page(200, 200, 403, 200, 200),
    "GET /ui/projects/{customer}/{project}": page(200, 200, 403, 200, 404),
    "GET /ui/projects/{customer}/{project}/request": page(200, 200, 403, 200, 404),
    "POST /ui/projects/{customer}/{project}/request": form(
        303, 303, 403, 303, 404, form={"subject": "Help", "body": "Please."}
    ),
    "GET /ui/bookings": page(200, 200, 403, 200, 200),
    "GET /ui/bookings/request": page(200, 200, 403, 200, 200),
    "POST /ui/bookings/request": form(422, 422, 403, 422, 422, form={"start": "", "end": ""}),
    "POST /ui/bookings/requests/{id}": form(404, 404, 403, 404, 404, form={"action": "confirm"}),
    # acme's contacts see only the tickets they are on: a statement (all of acme's tickets) is not theirs
    "GET /ui/statements/{customer}/{month}": page(200, 200, 403, 404, 404),
    "GET /ui/static/statement.css": everyone(200),
    "POST /ui/tickets": form(422, 422, 403, 403, 403, form={"assignee": "nobody"}),  # staff: no ticket ticked
    "POST /ui/tickets/{number}/note": form(303, 303, 303, 403, 404, form={"text": "Internal."}, colleague=404),
    "POST /ui/tickets/{number}/change": form(303, 303, 303, 403, 404, form={"status": "open"}, colleague=404),
    "POST /ui/tickets/{number}/time": form(422, 422, 422, 403, 404, form={"minutes": "none"}, colleague=404),
    "POST /ui/tickets/{number}/page": form(303, 409, 403, 403, 404, form={}, colleague=404),  # the first made it a page
    "GET /ui/tickets/{number}/attachments/{sha256}": page(404, 404, 404, 404, 404),
    "GET /ui/incidents": page(200, 200, 200, 403, 403),
    "GET /ui/incidents/{id}": page(404, 404, 404, 404, 404),
    "POST /ui/incidents/{id}/ack": form(404, 404, 404, 404, 404),
    "POST /ui/incidents/{id}/resolve": form(404, 404, 404, 404, 404),
    "POST /ui/oncall/requests": form(422, 422, 422, 403, 403, form={"rotation": ""}),
    "POST /ui/oncall/requests/{id}/confirm": form(404, 404, 403, 403, 403),
    "POST /ui/oncall/requests/{id}/decline": form(404, 404, 403, 403, 403),
    "GET /api/v1/override-requests": api(),
    "POST /api/v1/override-requests": api(),
    "POST /api/v1/override-requests/{id}/confirm": api(),
    "POST /api/v1/override-requests/{id}/decline": api(),
    "POST /api/v1/tickets/assign": api(),
    "GET /api/v1/tickets/{n}/attachments/{sha256}": api(args={"sha256": "0" * 64}),
    "GET /api/v1/standby-quote": api(),
    "GET /api/v1/standby-requests": api(),
    "GET /api/v1/standby-requests/{id}": api(),
    "POST /api/v1/standby-requests": api(),
    "POST /api/v1/standby-requests/{id}/confirm": api(),
    "POST /api/v1/standby-requests/{id}/decline": api(),
    "POST /api/v1/standby-requests/{id}/withdraw": api(),
    # -- the admin API: 401 for every portal caller ----------------------------------------------------------
    "GET /api/v1/incidents": api(),
    "GET /api/v1/incidents/{id}": api(),
    "POST /api/v1/incidents/{id}/ack": api(),
    "POST /api/v1/incidents/{id}/resolve": api(),
    "POST /api/v1/incidents/{id}/notes": api(),
    "GET /api/v1/incidents/{id}/work": api(),
    "POST /api/v1/incidents/{id}/work": api(),
    "GET /api/v1/bookings": api(),
    "POST /api/v1/bookings": api(),
    "DELETE /api/v1/bookings/{id}": api(),
    "GET /api/v1/maintenance": api(),
    "POST /api/v1/maintenance": api(),
    "POST /api/v1/maintenance/match": api(),
    "GET /api/v1/maintenance/{id}": api(),
    "DELETE /api/v1/maintenance/{id}": api(),
    "GET /api/v1/tickets": api(),
    "POST /api/v1/tickets": api(),
    "GET /api/v1/tickets/{n}": api(),
    "PATCH /api/v1/tickets/{n}": api(),
    "POST /api/v1/tickets/{n}/replies": api(),
    "POST /api/v1/tickets/{n}/notes": api(),
    "POST /api/v1/tickets/{n}/time": api(),
    "POST /api/v1/tickets/{n}/page": api(),
    "GET /api/v1/mail": api(),
    "GET /api/v1/mail/{id}/raw": api(),
    "GET /api/v1/contacts": api(),
    "POST /api/v1/contacts": api(),
    "GET /api/v1/billing/statements/{customer}": api(),
    "GET /api/v1/billing/engineers": api(),
    "GET /api/v1/calendar": api(),
    "GET /api/v1/oncall": api(),
    "GET /api/v1/rotations": api(),
    "GET /api/v1/rotations/{name}/shifts": api(),
    "GET /api/v1/overrides": api(),
    "POST /api/v1/overrides": api(),
    "DELETE /api/v1/overrides/{id}": api(),
    "GET /api/v1/ical-url": api(),
    "GET /api/v1/testing/clock": api(),
    "POST /api/v1/testing/clock": api(),
    # -- sources, signed links, operations: their own credentials, never a portal session -------------------
    "POST /api/v1/alerts/alertmanager": everyone(401),
    "POST /api/v1/alerts/nagios": everyone(401),
    "POST /v2/enqueue": everyone(415),  # its routing key is in a JSON body: none here
    "POST /api/v1/heartbeat/{name}": everyone(401),
    "GET /ical/{kind}/{name}.ics": everyone(404),  # no signed token: as if no feed existed
    "POST /twilio/sms": everyone(403),
    "POST /twilio/voice": everyone(403),
    "POST /twilio/status": everyone(403),
    "POST /twilio/hotline": everyone(403),
    "POST /twilio/hotline/dial": everyone(403),
    "POST /twilio/hotline/answered": everyone(403),
    "POST /twilio/hotline/recording": everyone(403),
    "GET /l/{token}": everyone(404),
    "POST /l/{token}": everyone(404),
    "GET /healthz": everyone(200),
    "GET /readyz": everyone(200),
    "GET /metrics": everyone(200),
    "GET /api/v1/openapi.yaml": everyone(200),
}


def served_routes(config, env: dict[str, str]) -> set[str]:
    """Every "METHOD /path" of the application built from `config` (HEAD, which aiohttp adds to every GET,
    left out)."""
    cfg = load(config, env=env)
    rt = Runtime(
        config=cfg,
        config_path=str(config),
        store=None,
        metrics=Metrics(),  # type: ignore[arg-type]
        clock=make_clock(cfg),
        schedule=Schedule(cfg),
        ready=True,
        engine=None,
    )
    app = build_app(rt)
    return {f"{r.method} {r.resource.canonical}" for r in app.router.routes() if r.method != "HEAD"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    wd = tmp_path_factory.mktemp("isolation")
    cfg = manual_clock_config(wd / "pagerd.yaml", START)
    text = cfg.read_text()
    assert OWN_OFF in text
    cfg.write_text(text.replace(OWN_OFF, OWN_ON))  # acme's contacts see only the tickets they are on
    p = PagerdProcess(workdir=wd, config=cfg)
    p.start()
    try:
        for email, role, person, customer in ACCOUNTS.values():
            add_account(p, email, role, person=person, customer=customer)
        status, acme = p.api(
            "POST",
            "/api/v1/tickets",
            {
                "project": "acme/webshop",
                "via": "email",
                "from": ACCOUNTS["customer"][0],  # jan's: jan is on it, piet (its colleague) is not
                "subject": f"Checkout hangs {ACME_MARKER}",
                "body": f"It hangs. {ACME_MARKER}",
            },
        )
        assert status == 201, acme
        assert acme["requester"]["contact"] == "acme.jan", acme  # type: ignore[index]
        status, _ = p.api("PATCH", f"/api/v1/tickets/{acme['number']}", {"assignee": "bram"})  # type: ignore[index]
        assert status == 200
        status, agency = p.api(
            "POST",
            "/api/v1/tickets",
            {"project": "agency/infra", "subject": f"Backup {MARKER}", "body": f"The {MARKER} backup failed."},
        )
        assert status == 201, agency
        n = agency["number"]  # type: ignore[index]
        for kind in ("replies", "notes"):
            status, _ = p.api("POST", f"/api/v1/tickets/{n}/{kind}", {"text": f"{kind} {MARKER}.", "by": "anna"})
            assert status == 201, (kind, _)
        p.acme_ticket = acme["number"]  # type: ignore[attr-defined,index]
        p.agency_ticket = n  # type: ignore[attr-defined]
        yield p
    finally:
        p.stop()


def signed_in(daemon: PagerdProcess, caller: str) -> PortalClient:
    client = PortalClient(daemon)
    if caller != "anon":
        answer = client.sign_in(ACCOUNTS[caller][0])
        assert answer.status == 303 and client.session, (caller, answer.status, answer.text[:300])
    return client


@pytest.fixture(scope="module")
def clients(daemon) -> dict[str, PortalClient]:
    return {caller: signed_in(daemon, caller) for caller in CALLERS}


def _fill(text: str, daemon: PagerdProcess) -> str:
    return text.replace(ACME_TICKET, str(daemon.acme_ticket))  # type: ignore[attr-defined]


def _path(route: str, rule: Rule, daemon: PagerdProcess) -> str:
    path = route.split(" ", 1)[1]
    return _fill(re.sub(r"\{(\w+)\}", lambda m: rule.args.get(m.group(1), DEFAULTS[m.group(1)]), path), daemon)


def _call(client: PortalClient, route: str, rule: Rule, daemon: PagerdProcess, **kw) -> Answer:
    method = route.split(" ", 1)[0]
    path = _path(route, rule, daemon)
    if rule.form is None:
        return client.request(method, path, **kw)
    fields = {k: _fill(v, daemon) for k, v in rule.form.items()}
    csrf = client.csrf() if client.session else "made-up-csrf-token"
    return client.request(method, path, {**fields, "csrf": csrf}, **kw)


def _matches(answer: Answer, expected: Expect, daemon: PagerdProcess) -> bool:
    if isinstance(expected, int):
        return answer.status == expected
    return answer.status == 303 and answer.location.startswith(_fill(expected.removeprefix("->"), daemon))


def test_every_route_of_the_router_has_a_row_and_every_row_a_route(daemon):
    served = served_routes(daemon.config, {**EXAMPLE_ENV, "PAGERD_ALLOW_TEST_CLOCK": "1"})
    assert served - EXPECT.keys() == set(), "routes without a row in EXPECT (add one: see the docstring)"
    assert EXPECT.keys() - served == set(), "rows in EXPECT for routes the application does not serve"


@pytest.mark.parametrize("route", sorted(EXPECT))
def test_every_caller_gets_what_the_table_says(route, daemon, clients):
    rule = EXPECT[route]
    wrong = {}
    for caller in CALLERS:
        client = signed_in(daemon, caller) if rule.fresh else clients[caller]
        answer = _call(client, route, rule, daemon)
        expected = rule.expected(caller)
        if not _matches(answer, expected, daemon):
            wrong[caller] = (expected, answer.status, answer.location or answer.text[:200])
        if route.startswith(("GET /ui", "POST /ui")):
            assert answer.headers.get("cache-control") == "no-store" or route.endswith(".css"), (caller, route)
    assert wrong == {}, f"{route}: caller: (expected, got, location or text)"
    if rule.token:  # the admin token passes the check: the 401 above was the check's, the route is live
        answer = PortalClient(daemon).request(
            route.split(" ", 1)[0],
            _path(route, rule, daemon),
            headers={"Authorization": f"Bearer {daemon.admin_token}"},
        )
        assert answer.status != 401, (route, answer.status, answer.text[:200])


def _links(text: str) -> set[str]:
    return {h.split("#", 1)[0] for h in re.findall(r'href="(/ui/[^"]*)"', text)}


def _reachable(client: PortalClient, daemon: PagerdProcess, limit: int = 200) -> dict[str, str]:
    """Every page `client` can reach: each GET row of the table, each status filter of the ticket list and,
    one link at a time, every /ui/ link found on those pages (at most `limit` pages)."""
    start = [_path(r, rule, daemon) for r, rule in EXPECT.items() if r.startswith("GET ")]
    start += [f"/ui/tickets?status={s}" for s in ("new", "open", "waiting_on_customer", "resolved", "closed")]
    seen: dict[str, str] = {}
    todo = list(dict.fromkeys(start))
    while todo and len(seen) < limit:
        path = todo.pop(0)
        if path in seen:
            continue
        answer = client.get(path)
        seen[path] = answer.text + "\n".join(f"{k}: {v}" for k, v in answer.headers.items())
        todo += [link for link in sorted(_links(answer.text)) if link not in seen]
    return seen


@pytest.mark.parametrize("caller", ["customer", "engineer", "anon"])
def test_nothing_of_another_customer_leaks(caller, daemon, clients):
    client = clients[caller]
    pages = _reachable(client, daemon)
    pages[f"/ui/tickets/{daemon.agency_ticket}"] = client.get(f"/ui/tickets/{daemon.agency_ticket}").text
    leaked = sorted(path for path, text in pages.items() if MARKER in text)
    assert leaked == [], f"{caller} reached the other customer's data on {leaked}"
    assert len(pages) >= 10


def test_a_contact_sees_none_of_its_colleague_s_tickets_when_its_customer_says_own(daemon, clients):
    """acme says `own`: piet, acme's other contact, reaches acme's projects but nothing of jan's ticket."""
    pages = _reachable(clients["colleague"], daemon)
    assert "/ui/projects/acme/webshop" in pages and len(pages) >= 10
    pages[f"/ui/tickets/{daemon.acme_ticket}"] = clients["colleague"].get(f"/ui/tickets/{daemon.acme_ticket}").text
    leaked = sorted(path for path, text in pages.items() if ACME_MARKER in text)
    assert leaked == [], f"acme's colleague reached jan's ticket on {leaked}"
    # jan, who is on it, sees it (the search is not vacuous)
    assert ACME_MARKER in clients["customer"].get("/ui/tickets").text
    assert ACME_MARKER in clients["customer"].get("/ui/projects/acme/webshop").text
    assert ACME_MARKER in clients["customer"].get(f"/ui/tickets/{daemon.acme_ticket}").text


def test_the_marker_is_there_for_its_own_customer(daemon, clients):
    own = clients["other"]
    assert MARKER in own.get("/ui/tickets").text
    page = own.get(f"/ui/tickets/{daemon.agency_ticket}").text
    assert f"replies {MARKER}." in page and f"The {MARKER} backup failed." in page
    assert f"notes {MARKER}." not in page  # an internal note is never a contact's
