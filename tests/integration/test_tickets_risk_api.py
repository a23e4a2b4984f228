"""GET /api/v1/tickets?risk=: the desk queue's request-target risk filter in the JSON API, judged by the
same function (pager.service.targets.with_risk) on live tickets (scenario harness, example config, the
engine ticking on the manual clock). A request filed Friday 17:00 is at risk on Monday from 10:42 (first
response 4 h, at risk at 80 %); one answered at 09:15 has met its first response and its resolution
runs; after 11:30 the unanswered one is breached."""

from __future__ import annotations

from tests.scenarios.harness import Scenario

FRIDAY_1700 = "2026-12-04 17:00"
PHONE = {"project": "acme/webshop", "via": "phone", "from": "020 123 4567", "body": "Jan called."}


async def _file(s: Scenario, subject: str) -> int:
    status, t = await s.api("POST", "/api/v1/tickets", {**PHONE, "subject": subject})
    assert status == 201, t
    return int(t["number"])


async def _listed(s: Scenario, query: str) -> list[tuple[int, str]]:
    status, rows = await s.api("GET", f"/api/v1/tickets?{query}")
    assert status == 200, rows
    assert isinstance(rows, list)
    return [(r["number"], r["risk"]) for r in rows]


async def test_the_risk_filter_keeps_the_tickets_of_that_risk_newest_first(tmp_path):
    async with Scenario(tmp_path, FRIDAY_1700) as s:
        late = await _file(s, "Checkout hangs")
        answered = await _file(s, "Invoice question")
        other = await _file(s, "Logo update")
        await s.at("2026-12-07 09:15")
        status, _ = await s.api(
            "POST", f"/api/v1/tickets/{answered}/replies", {"text": "On it.", "by": "anna", "from_customer": False}
        )
        assert status == 201
        await s.at("2026-12-07 10:45")
        status, _ = await s.api(
            "POST", f"/api/v1/tickets/{other}/replies", {"text": "Done.", "by": "anna", "from_customer": False}
        )
        assert status == 201
        assert await _listed(s, "risk=at_risk") == [(late, "at_risk")]
        assert await _listed(s, "risk=running") == [(other, "running"), (answered, "running")]
        assert await _listed(s, "risk=running&limit=1") == [(other, "running")]
        assert await _listed(s, "risk=running&before=" + str(other)) == [(answered, "running")]
        assert await _listed(s, "risk=breached") == []
        assert await _listed(s, "risk=none") == []
        # the other filters combine with it
        assert await _listed(s, "risk=at_risk&assignee=none") == [(late, "at_risk")]
        assert await _listed(s, "risk=at_risk&project=acme/intranet") == []
        assert await _listed(s, "risk=at_risk&status=closed") == []

        await s.at("2026-12-07 11:31")
        assert await _listed(s, "risk=breached") == [(late, "breached")]
        assert await _listed(s, "risk=at_risk") == []
        # without the filter the rows are the plain list, no risk judged
        status, rows = await s.api("GET", "/api/v1/tickets")
        assert status == 200 and isinstance(rows, list)
        assert [r["number"] for r in rows] == [other, answered, late] and all("risk" not in r for r in rows)
        # the empty value is no filter, as in the portal's queue
        status, rows = await s.api("GET", "/api/v1/tickets?risk=")
        assert status == 200 and isinstance(rows, list) and len(rows) == 3


async def test_an_unknown_risk_is_a_400_naming_the_parameter(tmp_path):
    async with Scenario(tmp_path, FRIDAY_1700) as s:
        await _file(s, "Checkout hangs")
        for bad in ("extreme", "AT_RISK", "at_risk ", "x" * 5000, "%00", "breached,met", "<script>"):
            status, body = await s.api("GET", f"/api/v1/tickets?risk={bad}")
            assert status == 400, (bad, body)
            assert isinstance(body, dict)
            assert [p["field"] for p in body["problems"]] == ["risk"], body
            assert "breached, at_risk, running, met, none" in body["problems"][0]["message"]
        # a bad value of another filter is still named with it
        status, body = await s.api("GET", "/api/v1/tickets?risk=met&limit=0")
        assert status == 400 and isinstance(body, dict) and [p["field"] for p in body["problems"]] == ["limit"]


async def test_the_filtered_list_is_the_admin_apis_only(tmp_path):
    async with Scenario(tmp_path, FRIDAY_1700) as s:
        await _file(s, "Checkout hangs")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "pagerd_session=made-up"}):
            resp = await s.http.get("/api/v1/tickets?risk=running", headers=headers)
            assert resp.status == 401
            assert "Checkout" not in await resp.text()
