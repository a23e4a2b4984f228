"""POST /api/v1/tickets/assign (the desk's bulk assignment, also behind the portal's queue), through
pagerd's own application on the scenario harness with a real SQLite store: all named tickets or none,
one assignment entry each; and malformed, missing, oversized and hostile input refused with the field
named, nothing assigned."""

from __future__ import annotations

import pytest

from tests.scenarios.harness import Scenario

START = "2026-12-08 10:00"  # a Tuesday, office hours


async def _tickets(s: Scenario, count: int) -> list[int]:
    out = []
    for i in range(count):
        status, t = await s.api("POST", "/api/v1/tickets", {"subject": f"ticket {i}", "project": "acme/webshop"})
        assert status == 201, t
        out.append(t["number"])  # type: ignore[index]
    return out


def _assignees(s: Scenario) -> list[tuple[int, str | None]]:
    return s.query("SELECT number, assignee FROM tickets ORDER BY number")


async def test_bulk_assign_assigns_each_and_unassigns_with_null(tmp_path):
    async with Scenario(tmp_path, START) as s:
        a, b, c = await _tickets(s, 3)
        status, rows = await s.api(
            "POST", "/api/v1/tickets/assign", {"numbers": [b, a, b], "assignee": "bram", "by": "anna"}
        )
        assert status == 200, rows
        assert [(t["number"], t["assignee"]) for t in rows] == [(b, "bram"), (a, "bram")]  # type: ignore[union-attr]
        entry = rows[0]["timeline"][-1]  # type: ignore[index]
        assert (entry["kind"], entry["actor"], entry["public"], entry["data"]) == (
            "assignee",
            "anna",
            False,
            {"from": None, "to": "bram"},
        )
        assert _assignees(s) == [(a, "bram"), (b, "bram"), (c, None)]
        status, rows = await s.api("GET", "/api/v1/tickets?assignee=bram")
        assert [t["number"] for t in rows] == [b, a]  # type: ignore[index]
        status, rows = await s.api("GET", "/api/v1/tickets?assignee=none")
        assert [t["number"] for t in rows] == [c]  # type: ignore[index]
        for bad in ("mallory", "'; DROP TABLE tickets; --", "x" * 300):
            status, answer = await s.api("GET", f"/api/v1/tickets?assignee={bad}")
            assert status == 400 and answer["problems"][0]["field"] == "assignee", answer  # type: ignore[index]
        status, rows = await s.api("POST", "/api/v1/tickets/assign", {"numbers": [a], "assignee": None})
        assert status == 200 and rows[0]["assignee"] is None  # type: ignore[index]
        assert _assignees(s) == [(a, None), (b, "bram"), (c, None)]


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"assignee": "bram"}, 422, "numbers"),
        ({"numbers": [1]}, 422, "assignee"),
        ({"numbers": [], "assignee": "bram"}, 422, "numbers"),
        ({"numbers": list(range(1, 102)), "assignee": "bram"}, 422, "numbers"),
        ({"numbers": [True], "assignee": "bram"}, 422, "numbers"),
        ({"numbers": ["1"], "assignee": "bram"}, 422, "numbers"),
        ({"numbers": [0], "assignee": "bram"}, 422, "numbers"),
        ({"numbers": [-1], "assignee": "bram"}, 422, "numbers"),
        ({"numbers": [10**16], "assignee": "bram"}, 422, "numbers"),
        ({"numbers": 1, "assignee": "bram"}, 422, "numbers"),
        ({"numbers": [1], "assignee": "mallory"}, 422, "assignee"),
        ({"numbers": [1], "assignee": "'; DROP TABLE tickets; --"}, 422, "assignee"),
        ({"numbers": [1], "assignee": ["bram"]}, 422, "assignee"),
        ({"numbers": [1], "assignee": "bram", "by": "x\x00y"}, 422, "by"),
        ({"numbers": [1], "assignee": "bram", "by": "x" * 65}, 422, "by"),
        ({"numbers": [1], "assignee": "bram", "colour": "red"}, 422, "colour"),
        ({"numbers": [1, 424242], "assignee": "bram"}, 404, None),
        ("[1, 2", 400, None),
        ('["a list"]', 422, None),
        ("x" * 1_000_000, 413, None),
    ],
)
async def test_bulk_assign_refuses_bad_input_and_assigns_nothing(tmp_path, body, status, field):
    async with Scenario(tmp_path, START) as s:
        await _tickets(s, 1)
        headers = {"Authorization": f"Bearer {s.config.auth.admin_token.get_secret_value()}"}
        if isinstance(body, str):
            resp = await s.http.post(
                "/api/v1/tickets/assign", data=body, headers={**headers, "Content-Type": "application/json"}
            )
        else:
            resp = await s.http.post("/api/v1/tickets/assign", json=body, headers=headers)
        answer = await resp.json()
        assert resp.status == status, answer
        if field is not None:
            assert field in [p["field"] for p in answer["problems"]], answer
        assert _assignees(s) == [(1, None)]


async def test_bulk_assign_needs_the_admin_token_and_json(tmp_path):
    async with Scenario(tmp_path, START) as s:
        await _tickets(s, 1)
        resp = await s.http.post("/api/v1/tickets/assign", json={"numbers": [1], "assignee": "bram"})
        assert resp.status == 401
        headers = {
            "Authorization": f"Bearer {s.config.auth.admin_token.get_secret_value()}",
            "Content-Type": "text/plain",
        }
        resp = await s.http.post("/api/v1/tickets/assign", data="numbers=1", headers=headers)
        assert resp.status == 415
        assert _assignees(s) == [(1, None)]


async def test_paging_a_request_goes_through_the_same_service_as_before(tmp_path):
    async with Scenario(tmp_path, START) as s:
        [n] = await _tickets(s, 1)
        status, answer = await s.api("POST", f"/api/v1/tickets/{n}/page", {"severity": "loud"})
        assert status == 422 and [p["field"] for p in answer["problems"]] == ["severity"]  # type: ignore[index]
        status, answer = await s.api("POST", f"/api/v1/tickets/{n}/page", {"by": "desk", "colour": "red"})
        assert status == 422 and [p["field"] for p in answer["problems"]] == ["colour"]  # type: ignore[index]
        status, t = await s.api("POST", f"/api/v1/tickets/{n}/page", {"by": "anna"})
        assert status == 200 and t["kind"] == "incident"  # type: ignore[index]
        status, _ = await s.api("POST", f"/api/v1/tickets/{n}/page", {})
        assert status == 409
