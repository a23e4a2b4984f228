"""The support desk over the API (pagerd's own application on the scenario harness, a real SQLite store,
the engine ticking on the manual clock): filing by phone, the timeline, status moves, search, time,
paging a request through the engine, auto-close; and bad input on every route: a clear 4xx naming the
field, nothing stored."""

from __future__ import annotations

import pytest

from tests.scenarios.harness import Scenario

START = "2026-12-08 10:00"  # a Tuesday, office hours
PHONE = {
    "project": "acme/webshop",
    "via": "phone",
    "from": "020 123 4567",
    "subject": "Checkout hangs",
    "body": "Jan called: the checkout hangs after payment.",
}


async def test_a_phone_call_becomes_a_ticket_of_the_caller_and_moves_through_its_life(tmp_path):
    async with Scenario(tmp_path, START) as s:
        status, t = await s.api("POST", "/api/v1/tickets", PHONE)
        assert status == 201, t
        assert (t["number"], t["ref"], t["kind"], t["status"], t["project"], t["customer"]) == (
            1,
            "#1",
            "request",
            "new",
            "acme/webshop",
            "acme",
        )
        assert t["requester"] == {
            "contact": "acme.jan",
            "name": "Jan Pietersen",
            "email": "jan@acme.example",
            "phone": "+31201234567",
        }
        for key in ("assignee", "subject", "created_at", "updated_at", "timeline"):
            assert key in t
        n = t["number"]
        status, t = await s.api("POST", f"/api/v1/tickets/{n}/notes", {"text": "varnish purge needed", "by": "anna"})
        assert status == 201 and t["timeline"][-1] == {
            "at": t["updated_at"],
            "kind": "note",
            "actor": "anna",
            "public": False,
            "data": {"text": "varnish purge needed"},
        }
        status, t = await s.api("PATCH", f"/api/v1/tickets/{n}", {"assignee": "bram", "status": "waiting_on_customer"})
        assert status == 200 and (t["assignee"], t["status"]) == ("bram", "waiting_on_customer")
        status, t = await s.api(
            "POST",
            f"/api/v1/tickets/{n}/replies",
            {"text": "It works again, thanks", "from_customer": True, "by": "Jan"},
        )
        assert status == 201 and t["status"] == "open"
        status, e = await s.api("POST", f"/api/v1/tickets/{n}/time", {"kind": "billable", "minutes": 30, "by": "bram"})
        assert status == 201 and (e["kind"], e["minutes"]) == ("billable", 30)
        shot = {"name": "screen.png", "type": "image/png", "size": 2048, "sha256": "ab" * 32}
        status, t = await s.api("POST", f"/api/v1/tickets/{n}/replies", {"text": "Screenshot", "attachments": [shot]})
        assert status == 201 and t["attachments"] == [{**shot, "public": True}]
        status, t = await s.api("PATCH", f"/api/v1/tickets/{n}", {"status": "resolved"})
        assert status == 200 and t["status"] == "resolved"
        status, err = await s.api("PATCH", f"/api/v1/tickets/{n}", {"status": "waiting_on_customer"})
        assert status == 409 and "allowed: closed, open" in err["error"]
        # search: subject, bodies and notes; the list filters
        for q, found in (("checkout", [n]), ("varnish", [n]), ("thanks", [n]), ("nothing-like-it", [])):
            status, rows = await s.api("GET", f"/api/v1/tickets?q={q}")
            assert status == 200 and [r["number"] for r in rows] == found, q
        status, rows = await s.api("GET", "/api/v1/tickets?status=resolved&project=acme/webshop")
        assert [r["number"] for r in rows] == [n]
        # a week on, the engine closes it
        await s.advance(hours=7 * 24 + 1)
        status, t = await s.api("GET", f"/api/v1/tickets/{n}")
        assert t["status"] == "closed" and t["timeline"][-1]["actor"] == "pagerd"
        status, err = await s.api("POST", f"/api/v1/tickets/{n}/replies", {"text": "again", "from_customer": True})
        assert status == 409


async def test_a_paged_request_is_an_incident_of_its_project_on_the_same_number(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 22:00") as s:  # evening: acme/webshop has standby then
        status, t = await s.api("POST", "/api/v1/tickets", {**PHONE, "subject": "Webshop down"})
        n = t["number"]
        status, t = await s.api("POST", f"/api/v1/tickets/{n}/page", {"by": "anna"})
        assert status == 200 and (t["kind"], t["status"]) == ("incident", "open"), t
        await s.settle()
        assert s.query("SELECT project FROM escalations WHERE incident_id = ?", n) == [("acme/webshop",)]
        inc = await s.incident(n)
        assert inc["id"] == n and inc["summary"] == "Webshop down" and inc["source"] == "desk"
        assert s.sent(), "the on-call engineer was paged"
        status, rows = await s.api("GET", "/api/v1/incidents")
        assert n in [r["id"] for r in rows]
        # the incident view and the ticket are one: resolving the incident resolves the ticket
        status, _ = await s.api("POST", f"/api/v1/incidents/{n}/resolve", {})
        status, t = await s.api("GET", f"/api/v1/tickets/{n}")
        assert t["status"] == "resolved"
        status, err = await s.api("POST", f"/api/v1/tickets/{n}/page", {})
        assert status == 409


GOOD = {"subject": "Mailbox full", "project": "acme/webshop"}
LONG = "x" * 70_000


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({}, 422, "subject"),
        ({"subject": ""}, 422, "subject"),
        ({"subject": "   "}, 422, "subject"),
        ({"subject": "two\nlines"}, 422, "subject"),
        ({"subject": "bell\x07"}, 422, "subject"),
        ({"subject": "x" * 201}, 422, "subject"),
        ({"subject": 42}, 422, "subject"),
        ({**GOOD, "project": "acme/nope"}, 422, "project"),
        ({**GOOD, "project": "../../etc/passwd"}, 422, "project"),
        ({**GOOD, "colour": "red"}, 422, "colour"),
        ({**GOOD, "via": "pigeon"}, 422, "via"),
        ({**GOOD, "via": "phone", "from": "call me"}, 422, "from"),
        ({**GOOD, "via": "email", "from": "not-an-address"}, 422, "from"),
        ({**GOOD, "priority": "asap"}, 422, "priority"),
        ({**GOOD, "assignee": "mallory"}, 422, "assignee"),
        ({**GOOD, "watchers": ["anna", "mallory"]}, 422, "watchers"),
        ({**GOOD, "watchers": ["anna"] * 51}, 422, "watchers"),
        ({**GOOD, "requester": "Jan"}, 422, "requester"),
        ({**GOOD, "requester": {"name": "J", "age": 3}}, 422, "requester.age"),
        ({**GOOD, "requester": {"phone": "nope"}}, 422, "requester.phone"),
        ({**GOOD, "body": "x" * 65_537}, 422, "body"),
        ({**GOOD, "body": "nul\x00"}, 422, "body"),
        ({**GOOD, "by": "y" * 65}, 422, "by"),
        ({**GOOD, "attachments": {"name": "a"}}, 422, "attachments"),
        ({**GOOD, "attachments": [{"name": "a.png", "type": "image/png", "size": 1}]}, 422, "attachments.0.sha256"),
        (
            {**GOOD, "attachments": [{"name": "../a", "type": "image/png", "size": 1, "sha256": "a" * 64}]},
            422,
            "attachments.0.name",
        ),
        (
            {**GOOD, "attachments": [{"name": "a", "type": "png", "size": 1, "sha256": "a" * 64}]},
            422,
            "attachments.0.type",
        ),
        (
            {**GOOD, "attachments": [{"name": "a", "type": "image/png", "size": -1, "sha256": "a" * 64}]},
            422,
            "attachments.0.size",
        ),
        (
            {**GOOD, "attachments": [{"name": "a", "type": "image/png", "size": 1, "sha256": "A" * 64}]},
            422,
            "attachments.0.sha256",
        ),
        (
            {**GOOD, "attachments": [{"name": "a", "type": "image/png", "size": 1, "sha256": "a" * 64, "x": 1}]},
            422,
            "attachments.0",
        ),
        ("[1, 2", 400, "body"),
        ('["a list"]', 422, None),
        ("x" * 1_000_000, 413, None),
    ],
)
async def test_create_ticket_refuses_bad_input(tmp_path, body, status, field):
    async with Scenario(tmp_path, START) as s:
        headers = {"Authorization": f"Bearer {s.config.auth.admin_token.get_secret_value()}"}
        if isinstance(body, str):
            resp = await s.http.post(
                "/api/v1/tickets", data=body, headers={**headers, "Content-Type": "application/json"}
            )
        else:
            resp = await s.http.post("/api/v1/tickets", json=body, headers=headers)
        answer = await resp.json()
        assert resp.status == status, answer
        if field is not None:
            assert field in [p["field"] for p in answer["problems"]], answer
        assert s.query("SELECT count(*) FROM tickets") == [(0,)]


@pytest.mark.parametrize(
    "method, path, body, status, field",
    [
        ("PATCH", "/api/v1/tickets/1", {}, 422, "body"),
        ("PATCH", "/api/v1/tickets/1", {"status": "lost"}, 422, "status"),
        ("PATCH", "/api/v1/tickets/1", {"status": None}, 422, "status"),
        ("PATCH", "/api/v1/tickets/1", {"priority": None}, 422, "priority"),
        ("PATCH", "/api/v1/tickets/1", {"assignee": "mallory"}, 422, "assignee"),
        ("PATCH", "/api/v1/tickets/1", {"project": "acme/nope"}, 422, "project"),
        ("PATCH", "/api/v1/tickets/1", {"subject": "a\rb"}, 422, "subject"),
        ("PATCH", "/api/v1/tickets/1", {"subject": ""}, 422, "subject"),
        ("PATCH", "/api/v1/tickets/1", {"number": 5}, 422, "number"),
        ("PATCH", "/api/v1/tickets/1", {"status": "closed", "by": 7}, 422, "by"),
        ("POST", "/api/v1/tickets/1/replies", {}, 422, "text"),
        ("POST", "/api/v1/tickets/1/replies", {"text": "   "}, 422, "text"),
        ("POST", "/api/v1/tickets/1/replies", {"text": "x", "from_customer": "yes"}, 422, "from_customer"),
        ("POST", "/api/v1/tickets/1/replies", {"text": "x", "public": False}, 422, "public"),
        ("POST", "/api/v1/tickets/1/replies", {"text": "x" * 65_537}, 422, "text"),
        ("POST", "/api/v1/tickets/1/notes", {"text": "esc\x1b[31m"}, 422, "text"),
        ("POST", "/api/v1/tickets/1/notes", {"text": "x", "from_customer": True}, 422, "from_customer"),
        ("POST", "/api/v1/tickets/1/time", {"kind": "billable"}, 422, "minutes"),
        ("POST", "/api/v1/tickets/1/time", {"kind": "billable", "minutes": 0}, 422, "minutes"),
        ("POST", "/api/v1/tickets/1/time", {"kind": "billable", "minutes": 1441}, 422, "minutes"),
        ("POST", "/api/v1/tickets/1/time", {"kind": "billable", "minutes": 1.5}, 422, "minutes"),
        ("POST", "/api/v1/tickets/1/time", {"kind": "billable", "minutes": True}, 422, "minutes"),
        ("POST", "/api/v1/tickets/1/time", {"kind": "free", "minutes": 5}, 422, "kind"),
        ("POST", "/api/v1/tickets/1/time", {"minutes": 5}, 422, "kind"),
        ("POST", "/api/v1/tickets/1/page", {"severity": "apocalyptic"}, 422, "severity"),
        ("POST", "/api/v1/tickets/1/page", {"by": "a\nb"}, 422, "by"),
        ("POST", "/api/v1/contacts", {"name": "X"}, 422, "customer"),
        ("POST", "/api/v1/contacts", {"customer": "globex", "name": "X"}, 422, "customer"),
        ("POST", "/api/v1/contacts", {"customer": "acme"}, 422, "name"),
        ("POST", "/api/v1/contacts", {"customer": "acme", "name": "X", "phone": "12"}, 422, "phone"),
        ("POST", "/api/v1/contacts", {"customer": "acme", "name": "X", "emails": ["nope"]}, 422, "emails"),
        ("POST", "/api/v1/contacts", {"customer": "acme", "name": "X", "id": "acme.jan"}, 422, "id"),
        ("POST", "/api/v1/contacts", {"customer": "acme", "name": "X", "id": "../x"}, 422, "id"),
        ("POST", "/api/v1/contacts", {"customer": "acme", "name": "X", "language": "de"}, 422, "language"),
    ],
)
async def test_ticket_routes_refuse_bad_input_and_change_nothing(tmp_path, method, path, body, status, field):
    async with Scenario(tmp_path, START) as s:
        assert (await s.api("POST", "/api/v1/tickets", GOOD))[0] == 201
        before = s.query("SELECT count(*) FROM ticket_entries"), s.query("SELECT * FROM tickets")
        code, answer = await s.api(method, path, body)
        assert code == status, answer
        assert field in [p["field"] for p in answer["problems"]], answer
        assert (s.query("SELECT count(*) FROM ticket_entries"), s.query("SELECT * FROM tickets")) == before
        assert s.query("SELECT count(*) FROM contacts") == [(0,)]


async def test_ticket_routes_refuse_bad_numbers_queries_media_credentials_and_sizes(tmp_path):
    async with Scenario(tmp_path, START) as s:
        auth = {"Authorization": f"Bearer {s.config.auth.admin_token.get_secret_value()}"}
        cases = [
            ("GET", "/api/v1/tickets/abc", {}, None, 400),
            ("GET", "/api/v1/tickets/0", {}, None, 400),
            ("GET", "/api/v1/tickets/-1", {}, None, 400),
            ("GET", "/api/v1/tickets/9999999999999999", {}, None, 400),
            ("GET", "/api/v1/tickets/424242", {}, None, 404),
            ("PATCH", "/api/v1/tickets/424242", {"Content-Type": "application/json"}, '{"status": "open"}', 404),
            ("POST", "/api/v1/tickets/424242/replies", {"Content-Type": "application/json"}, '{"text": "x"}', 404),
            ("POST", "/api/v1/tickets/424242/notes", {"Content-Type": "application/json"}, '{"text": "x"}', 404),
            (
                "POST",
                "/api/v1/tickets/424242/time",
                {"Content-Type": "application/json"},
                '{"kind": "covered", "minutes": 5}',
                404,
            ),
            ("POST", "/api/v1/tickets/424242/page", {}, None, 404),
            ("GET", "/api/v1/tickets?colour=red", {}, None, 400),
            ("GET", "/api/v1/tickets?status=lost", {}, None, 400),
            ("GET", "/api/v1/tickets?project=acme/nope", {}, None, 400),
            ("GET", "/api/v1/tickets?limit=0", {}, None, 400),
            ("GET", "/api/v1/tickets?limit=abc", {}, None, 400),
            ("GET", "/api/v1/tickets?before=-5", {}, None, 400),
            ("GET", "/api/v1/tickets?q=" + "x" * 300, {}, None, 400),
            ("GET", "/api/v1/tickets?q=%01", {}, None, 400),
            ("GET", "/api/v1/contacts?customer=globex", {}, None, 400),
            ("GET", "/api/v1/contacts?colour=red", {}, None, 400),
            ("POST", "/api/v1/tickets", {"Content-Type": "text/plain"}, "subject=x", 415),
            ("POST", "/api/v1/contacts", {"Content-Type": "text/plain"}, "name=x", 415),
            ("POST", "/api/v1/tickets", {"Content-Type": "application/json"}, "x" * 1_000_000, 413),
        ]
        for method, path, extra, data, status in cases:
            resp = await s.http.request(method, path, headers={**auth, **extra}, data=data)
            assert resp.status == status, (method, path, await resp.text())
            assert "error" in await resp.json()
        for method, path in (
            ("GET", "/api/v1/tickets"),
            ("POST", "/api/v1/tickets"),
            ("GET", "/api/v1/tickets/1"),
            ("PATCH", "/api/v1/tickets/1"),
            ("POST", "/api/v1/tickets/1/page"),
            ("GET", "/api/v1/contacts"),
            ("POST", "/api/v1/contacts"),
        ):
            resp = await s.http.request(method, path, json=GOOD)
            assert resp.status == 401, (method, path)
        # hostile search text is taken literally
        for q in ('"', "NEAR(a b)", "a OR b", "*", "subject:x", "')--"):
            resp = await s.http.get("/api/v1/tickets", params={"q": q}, headers=auth)
            assert resp.status == 200, q
        assert s.query("SELECT count(*) FROM tickets") == [(0,)]


async def test_contacts_from_the_desk_are_found_by_their_phone(tmp_path):
    async with Scenario(tmp_path, START) as s:
        status, c = await s.api(
            "POST",
            "/api/v1/contacts",
            {"customer": "acme", "name": "Piet", "phone": "06 1111 2222", "emails": ["Piet@x.example"]},
        )
        assert status == 201 and (c["id"], c["phone"], c["emails"], c["origin"]) == (
            "acme.d1",
            "+31611112222",
            ["piet@x.example"],
            "desk",
        )
        status, rows = await s.api("GET", "/api/v1/contacts?customer=acme")
        assert [r["id"] for r in rows] == ["acme.jan", "acme.sara", "acme.d1"]
        status, t = await s.api("POST", "/api/v1/tickets", {"subject": "Hi", "via": "phone", "from": "+31611112222"})
        assert t["requester"]["contact"] == "acme.d1" and t["customer"] == "acme" and t["project"] is None
        status, t = await s.api(
            "POST", "/api/v1/tickets", {"subject": "Hi", "via": "email", "from": "boss@acme.example"}
        )
        assert (t["customer"], t["requester"]["email"], t["requester"]["contact"]) == (
            "acme",
            "boss@acme.example",
            None,
        )
        status, t = await s.api("POST", "/api/v1/tickets", {"subject": "Hi", "via": "email", "from": "x@gmail.com"})
        assert t["customer"] is None  # triage
        status, rows = await s.api("GET", "/api/v1/tickets?project=none")
        assert len(rows) == 3
