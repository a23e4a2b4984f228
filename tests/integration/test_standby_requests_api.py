"""Standby requests through the real daemon's admin API (on the manual clock): request with its quote,
confirm into a booking identical to one of POST /api/v1/bookings, decline, withdraw, and bad input
(malformed, missing, oversized, hostile) refused with nothing stored."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.harness.pagerd import PagerdProcess, manual_clock_config

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday
SR, BK = "/api/v1/standby-requests", "/api/v1/bookings"
WEEKEND = {"customer": "acme", "start": "2026-01-09T18:00", "end": "2026-01-12T08:00"}  # Fri 18:00 .. Mon 08:00


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    wd = tmp_path_factory.mktemp("standby")
    p = PagerdProcess(workdir=wd, config=manual_clock_config(wd / "pagerd.yaml", START),
                      extra_env={"PAGERD_ALLOW_TEST_CLOCK": "1"})  # fmt: skip
    p.start()
    try:
        yield p
    finally:
        p.stop()


def test_a_request_carries_the_engine_s_quote_and_confirming_books_it(daemon):
    status, quote = daemon.api("GET", "/api/v1/standby-quote?customer=acme&start=2026-01-09T18:00&end=2026-01-12T08:00")
    assert status == 200, quote
    status, r = daemon.api("POST", SR, {**WEEKEND, "note": "Release weekend", "by": "jan"})
    assert status == 201, r
    assert (r["status"], r["customer"], r["requested_by"], r["note"], r["booking_id"]) == (
        "pending", "acme", "jan", "Release weekend", None,
    )  # fmt: skip
    assert r["start"] == "2026-01-09T17:00:00.000000Z" and r["end"] == "2026-01-12T07:00:00.000000Z"
    assert r["quote"] == quote and r["quote_total"] == quote["total"] and r["currency"] == "EUR"
    assert [x["id"] for x in daemon.api("GET", SR + "?status=pending")[1]] == [r["id"]]

    status, done = daemon.api("POST", f"{SR}/{r['id']}/confirm", {"by": "anna"})
    assert status == 200, done
    assert (done["status"], done["decided_by"], done["booking_id"]) == ("confirmed", "anna", done["booking"]["id"])
    status, direct = daemon.api("POST", BK, {**{k: WEEKEND[k] for k in ("customer", "start", "end")}, "by": "anna"})
    assert status == 201
    same = {k: v for k, v in done["booking"].items() if k not in ("id", "created_at")}
    assert same == {k: v for k, v in direct.items() if k not in ("id", "created_at")}
    assert done["booking"]["id"] in [b["id"] for b in daemon.api("GET", BK + "?customer=acme")[1]]

    assert daemon.api("POST", f"{SR}/{r['id']}/confirm", {})[0] == 409
    assert daemon.api("POST", f"{SR}/{r['id']}/decline", {"reason": "late"})[0] == 409
    assert daemon.api("GET", f"{SR}/{r['id']}")[1]["status"] == "confirmed"
    assert len(daemon.api("GET", BK + "?customer=acme")[1]) == 2  # no second booking


def test_decline_and_withdraw(daemon):
    _, a = daemon.api("POST", SR, WEEKEND)
    _, b = daemon.api("POST", SR, WEEKEND)
    status, d = daemon.api("POST", f"{SR}/{a['id']}/decline", {"by": "anna", "reason": "no engineer free"})
    assert status == 200 and (d["status"], d["reason"], d["booking_id"]) == ("declined", "no engineer free", None)
    status, w = daemon.api("POST", f"{SR}/{b['id']}/withdraw")
    assert status == 200 and (w["status"], w["decided_by"]) == ("withdrawn", "api")
    assert daemon.api("POST", f"{SR}/{b['id']}/confirm")[0] == 409
    assert {x["id"] for x in daemon.api("GET", SR + "?customer=acme&status=declined")[1]} == {a["id"]}
    assert daemon.api("GET", SR + "?customer=globex")[1] == []


BAD = [
    ({"customer": "acme", "start": "2026-01-09T18:00"}, "end"),  # missing
    ({"customer": "nobody", "start": "2026-01-09T18:00", "end": "2026-01-10T18:00"}, "customer"),
    ({"customer": "acme", "start": "2026-01-10T18:00", "end": "2026-01-09T18:00"}, "end"),
    ({"customer": "acme", "start": "2026-01-01T18:00", "end": "2026-01-09T18:00"}, "start"),  # in the past
    ({"customer": "acme", "start": "2026-01-09T18:00", "end": "2027-03-09T18:00"}, "end"),  # over 400 days
    ({"customer": "acme", "start": "2026-01-09T18:00", "end": "2026-01-09T18:30"}, "end"),  # under an hour
    ({"customer": "acme", "start": "friday", "end": "2026-01-09T18:00"}, "start"),
    ({"customer": "acme", "start": "9999-01-09T18:00", "end": "9999-01-10T18:00"}, "start"),
    ({"customer": "acme", "start": 5, "end": "2026-01-10T18:00"}, "start"),
    ({**WEEKEND, "note": "x" * 20000}, "note"),  # oversized
    ({**WEEKEND, "note": "bell\x07"}, "note"),  # hostile control character
    ({**WEEKEND, "by": "a\nb"}, "by"),
    ({**WEEKEND, "status": "confirmed"}, "status"),  # no setting the state by hand
    ({"customer": ["acme"], "start": "2026-01-09T18:00", "end": "2026-01-10T18:00"}, "customer"),
]


@pytest.mark.parametrize("body, field", BAD)
def test_bad_requests_are_refused_naming_the_field_and_store_nothing(daemon, body, field):
    before = daemon.api("GET", SR)[1]
    status, answer = daemon.api("POST", SR, body)
    assert status == 422, answer
    assert field in [p["field"] for p in answer["problems"]], answer
    assert daemon.api("GET", SR)[1] == before


def test_malformed_bodies_paths_and_queries(daemon):
    assert daemon.request("POST", SR, b"{not json", token=daemon.admin_token)[0] == 400
    assert daemon.request("POST", SR, b"[]", token=daemon.admin_token)[0] == 422
    assert daemon.request("POST", SR, b"customer=acme", token=daemon.admin_token,
                          content_type="application/x-www-form-urlencoded")[0] == 415  # fmt: skip
    assert daemon.request("POST", SR, b'{"note": "' + b"x" * 200_000 + b'"}', token=daemon.admin_token)[0] == 413
    assert daemon.request("GET", SR)[0] == 401
    assert daemon.request("POST", f"{SR}/1/confirm")[0] == 401
    assert daemon.api("GET", f"{SR}/abc")[0] == 400
    assert daemon.api("GET", f"{SR}/99999")[0] == 404
    assert daemon.api("POST", f"{SR}/99999/confirm")[0] == 404
    assert daemon.api("POST", f"{SR}/99999/decline")[0] == 404
    assert daemon.api("POST", f"{SR}/1/confirm", {"reason": "x"})[0] == 422  # unknown field
    assert daemon.api("GET", SR + "?status=bogus")[0] == 400
    assert daemon.api("GET", SR + "?bogus=1")[0] == 400
    assert (
        daemon.api("GET", "/api/v1/standby-quote?customer=nobody&start=2026-01-09T18:00&end=2026-01-10T18:00")[0] == 400
    )
    assert (
        daemon.api("GET", "/api/v1/standby-quote?customer=agency&start=2026-01-09T18:00&end=2026-01-10T18:00")[0] == 422
    )
    assert daemon.api("GET", "/api/v1/standby-quote?customer=acme&start=x&end=y")[0] == 422
