"""Swap and override requests over the API (pagerd's own application on the scenario harness, a real
SQLite store): asked, listed, confirmed into an override once, or declined; bad input refused with the
field named and nothing stored."""

from __future__ import annotations

import pytest

from tests.scenarios.harness import Scenario

START = "2026-12-08 10:00"  # a Tuesday, office hours
GOOD = {
    "rotation": "standby",
    "start": "2026-12-11T18:00",
    "end": "2026-12-12T18:00",
    "person": "bram",
    "replaces": "dewi",
    "note": "a wedding",
    "by": "dewi",
}


async def test_a_request_is_asked_then_confirmed_into_an_override_once(tmp_path):
    async with Scenario(tmp_path, START) as s:
        status, r = await s.api("POST", "/api/v1/override-requests", GOOD)
        assert status == 201, r
        assert (r["status"], r["requested_by"], r["note"], r["override_id"]) == ("pending", "dewi", "a wedding", None)  # type: ignore[index]
        assert r["start"] == "2026-12-11T17:00:00.000000Z"  # type: ignore[index]  # wall time in Amsterdam
        status, overrides = await s.api("GET", "/api/v1/overrides")
        assert overrides == []
        status, rows = await s.api("GET", "/api/v1/override-requests?status=pending")
        assert [x["id"] for x in rows] == [r["id"]]  # type: ignore[index]
        status, done = await s.api("POST", f"/api/v1/override-requests/{r['id']}/confirm", {"by": "anna"})  # type: ignore[index]
        assert status == 200 and (done["status"], done["decided_by"]) == ("confirmed", "anna")  # type: ignore[index]
        status, [o] = await s.api("GET", "/api/v1/overrides")  # type: ignore[misc]
        assert (o["id"], o["person"], o["replaces"], o["created_by"]) == (done["override_id"], "bram", "dewi", "anna")  # type: ignore[index]
        for verb in ("confirm", "decline"):
            status, _ = await s.api("POST", f"/api/v1/override-requests/{r['id']}/{verb}", {})  # type: ignore[index]
            assert status == 409
        status, _ = await s.api("POST", "/api/v1/override-requests/424242/decline", {})
        assert status == 404


async def test_a_declined_request_makes_no_override(tmp_path):
    async with Scenario(tmp_path, START) as s:
        without = {k: v for k, v in GOOD.items() if k not in ("replaces", "note")}
        status, r = await s.api("POST", "/api/v1/override-requests", without)
        assert status == 201 and (r["replaces"], r["note"]) == (None, None)  # type: ignore[index]
        status, done = await s.api("POST", f"/api/v1/override-requests/{r['id']}/decline", {})  # type: ignore[index]
        assert status == 200 and (done["status"], done["decided_by"], done["override_id"]) == ("declined", "api", None)  # type: ignore[index]
        assert (await s.api("GET", "/api/v1/overrides"))[1] == []


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({k: v for k, v in GOOD.items() if k != "person"}, 422, "person"),
        ({**GOOD, "rotation": "nightwatch"}, 422, "rotation"),
        ({**GOOD, "person": "mallory"}, 422, "person"),
        ({**GOOD, "replaces": "'; DROP TABLE overrides; --"}, 422, "replaces"),
        ({**GOOD, "start": "tomorrow"}, 422, "start"),
        ({**GOOD, "start": "9999-01-01T00:00"}, 422, "start"),
        ({**GOOD, "end": "2026-12-11T17:00"}, 422, "end"),
        ({**GOOD, "end": "2028-12-11T17:00"}, 422, "end"),
        ({**GOOD, "note": "x" * 501}, 422, "note"),
        ({**GOOD, "note": "a\x00b"}, 422, "note"),
        ({**GOOD, "start": 5}, 422, "start"),
        ({**GOOD, "colour": "red"}, 422, "colour"),
        ("[1, 2", 400, None),
        ('["a list"]', 422, None),
        ("x" * 1_000_000, 413, None),
    ],
)
async def test_a_bad_request_is_refused_and_nothing_stored(tmp_path, body, status, field):
    async with Scenario(tmp_path, START) as s:
        headers = {"Authorization": f"Bearer {s.config.auth.admin_token.get_secret_value()}"}
        if isinstance(body, str):
            resp = await s.http.post(
                "/api/v1/override-requests", data=body, headers={**headers, "Content-Type": "application/json"}
            )
        else:
            resp = await s.http.post("/api/v1/override-requests", json=body, headers=headers)
        answer = await resp.json()
        assert resp.status == status, answer
        if field is not None:
            assert field in [p["field"] for p in answer["problems"]], answer
        assert s.query("SELECT count(*) FROM override_requests") == [(0,)]
        for path in ("/api/v1/override-requests", "/api/v1/override-requests/1/confirm"):
            assert (await s.http.post(path, json=GOOD)).status == 401
        assert (await s.http.get("/api/v1/override-requests?status=maybe", headers=headers)).status == 400
        assert (await s.http.post("/api/v1/override-requests/abc/confirm", headers=headers)).status == 400
