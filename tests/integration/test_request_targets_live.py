"""Request targets on live tickets (pagerd's own application on the scenario harness, the engine
ticking on the manual clock, the example config: office Mon-Fri 08:30-18:00 Amsterdam, a normal
request's first response 4 h, at risk once 80 % is used). A request filed on Friday at 17:00 is at
risk on Monday at 10:42 and breached after 11:30, each written once on its timeline and counted
once; a staff reply before the deadline makes it met; waiting on the customer moves the deadline."""

from __future__ import annotations

from tests.scenarios.harness import Scenario

FRIDAY_1700 = "2026-12-04 17:00"  # a Friday, an hour before the office closes
PHONE = {
    "project": "acme/webshop",
    "via": "phone",
    "from": "020 123 4567",
    "subject": "Checkout hangs",
    "body": "Jan called: the checkout hangs after payment.",
}


async def _file(s: Scenario) -> int:
    status, t = await s.api("POST", "/api/v1/tickets", PHONE)
    assert status == 201, t
    return int(t["number"])


async def _show(s: Scenario, n: int) -> dict:
    status, t = await s.api("GET", f"/api/v1/tickets/{n}")
    assert status == 200, t
    return t


def _marks(t: dict) -> list[tuple[str, str, bool]]:
    return [(e["kind"], e["data"]["target"], e["public"]) for e in t["timeline"] if e["kind"].startswith("target_")]


def _count(s: Scenario, name: str, target: str = "first_response") -> float:
    return s.metrics.registry.get_sample_value(name, {"target": target, "customer": "acme"}) or 0.0


BREACHES = "pagerd_request_target_breaches_total"
AT_RISK = "pagerd_request_target_at_risk_total"


async def test_a_request_filed_friday_1700_is_at_risk_then_breached_on_monday_once_each(tmp_path):
    async with Scenario(tmp_path, FRIDAY_1700) as s:
        n = await _file(s)
        t = await _show(s, n)
        fr = t["targets"]["first_response"]
        # an hour on Friday, three on Monday from 08:30: due Monday 11:30 (10:30 UTC)
        assert fr == {
            "outcome": "running",
            "deadline": "2026-12-07T10:30:00.000000Z",
            "at_risk_at": "2026-12-07T09:42:00.000000Z",
            "target_seconds": 4 * 3600,
            "used_seconds": 0,
            "left_seconds": 4 * 3600,
            "paused": False,
            "answered_at": None,
        }
        assert t["targets"]["resolution"]["outcome"] == "running"

        await s.at("2026-12-07 10:41")
        t = await _show(s, n)
        assert t["targets"]["first_response"]["outcome"] == "running" and _marks(t) == []
        assert t["targets"]["first_response"]["used_seconds"] == 3 * 3600 + 11 * 60

        await s.at("2026-12-07 10:42")
        t = await _show(s, n)
        assert t["targets"]["first_response"]["outcome"] == "at_risk"
        assert _marks(t) == [("target_at_risk", "first_response", False)]
        assert _count(s, AT_RISK) == 1 and _count(s, BREACHES) == 0

        await s.at("2026-12-07 11:30")  # the deadline itself is still at risk
        t = await _show(s, n)
        assert t["targets"]["first_response"]["outcome"] == "at_risk"
        assert _marks(t) == [("target_at_risk", "first_response", False)]

        await s.at("2026-12-07 11:31")
        t = await _show(s, n)
        assert t["targets"]["first_response"] | {"used_seconds": 0} == {
            "outcome": "breached",
            "deadline": "2026-12-07T10:30:00.000000Z",
            "at_risk_at": "2026-12-07T09:42:00.000000Z",
            "target_seconds": 4 * 3600,
            "used_seconds": 0,
            "left_seconds": -60,
            "paused": False,
            "answered_at": None,
        }
        assert _marks(t) == [
            ("target_at_risk", "first_response", False),
            ("target_breached", "first_response", False),
        ]
        breached = next(e for e in t["timeline"] if e["kind"] == "target_breached")
        assert breached["data"] == {"target": "first_response", "due": "2026-12-07T10:30:00.000000Z"}
        assert _count(s, BREACHES) == 1 and _count(s, AT_RISK) == 1

        # more ticks, a late reply: nothing is written or counted twice
        await s.at("2026-12-07 14:00")
        status, _ = await s.api(
            "POST", f"/api/v1/tickets/{n}/replies", {"text": "Looking into it.", "by": "anna", "from_customer": False}
        )
        assert status == 201
        await s.advance(minutes=5)
        t = await _show(s, n)
        assert t["targets"]["first_response"]["outcome"] == "breached"
        assert [m for m in _marks(t) if m[1] == "first_response"] == [
            ("target_at_risk", "first_response", False),
            ("target_breached", "first_response", False),
        ]
        assert _count(s, BREACHES) == 1 and _count(s, AT_RISK) == 1
        # the customer never sees these entries
        assert all(not e["public"] for e in t["timeline"] if e["kind"].startswith("target_"))


async def test_a_staff_reply_before_the_deadline_meets_the_first_response(tmp_path):
    async with Scenario(tmp_path, FRIDAY_1700) as s:
        n = await _file(s)
        await s.at("2026-12-07 09:15")
        status, _ = await s.api(
            "POST", f"/api/v1/tickets/{n}/replies", {"text": "On it.", "by": "anna", "from_customer": False}
        )
        assert status == 201
        await s.at("2026-12-07 12:00")
        t = await _show(s, n)
        fr = t["targets"]["first_response"]
        assert (fr["outcome"], fr["answered_at"], fr["used_seconds"]) == (
            "met",
            "2026-12-07T08:15:00.000000Z",
            3600 + 45 * 60,
        )
        assert _marks(t) == []
        assert _count(s, BREACHES) == 0 and _count(s, AT_RISK) == 0


async def test_waiting_on_the_customer_pauses_the_clock_and_moves_the_deadline(tmp_path):
    async with Scenario(tmp_path, FRIDAY_1700) as s:
        n = await _file(s)
        await s.at("2026-12-07 09:00")
        status, _ = await s.api("PATCH", f"/api/v1/tickets/{n}", {"status": "waiting_on_customer", "by": "anna"})
        assert status == 200
        t = await _show(s, n)
        fr = t["targets"]["first_response"]
        # paused: the deadline is not known until the ticket moves again
        assert (fr["outcome"], fr["paused"], fr["deadline"]) == ("running", True, None)
        await s.at("2026-12-07 11:45")  # past the first deadline: paused, nothing breached
        assert _marks(await _show(s, n)) == []
        status, _ = await s.api(
            "POST", f"/api/v1/tickets/{n}/replies", {"text": "Here are the logs.", "by": "Jan", "from_customer": True}
        )
        assert status == 201
        t = await _show(s, n)
        fr = t["targets"]["first_response"]
        # 1h30m used (Friday 1 h, Monday 08:30-09:00), 2h30m left from 11:45: due 14:15 local
        assert (fr["outcome"], fr["paused"], fr["deadline"], fr["used_seconds"]) == (
            "running",
            False,
            "2026-12-07T13:15:00.000000Z",
            5400,
        )
        await s.at("2026-12-07 14:15")
        assert _marks(await _show(s, n)) == [("target_at_risk", "first_response", False)]
        await s.at("2026-12-07 14:16")
        assert _marks(await _show(s, n)) == [
            ("target_at_risk", "first_response", False),
            ("target_breached", "first_response", False),
        ]
        assert _count(s, BREACHES) == 1


async def test_a_reload_with_tighter_targets_is_judged_at_once(tmp_path):
    import yaml

    from pager import config as config_mod
    from tests.harness.pagerd import EXAMPLE_ENV
    from tests.scenarios.harness import EXAMPLE_CONFIG, TWILIO_TOKEN

    async with Scenario(tmp_path, FRIDAY_1700) as s:
        n = await _file(s)
        await s.at("2026-12-07 09:00")  # 1h30m used of 4h: the engine next looks at 10:42
        assert _marks(await _show(s, n)) == []
        raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
        raw["desk"]["request_targets"]["first_response"]["normal"] = "2h"
        path = tmp_path / "tighter.yaml"
        path.write_text(yaml.safe_dump(raw))
        s.config = config_mod.load(str(path), env={**EXAMPLE_ENV, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN})
        # 2h: at risk once 1h36m is used (Friday's hour, then 36 minutes: 09:06), due 09:30
        await s.at("2026-12-07 09:05")
        assert _marks(await _show(s, n)) == []
        await s.at("2026-12-07 09:06")  # not 10:42, the instant of the old targets
        t = await _show(s, n)
        assert _marks(t) == [("target_at_risk", "first_response", False)]
        risk = next(e for e in t["timeline"] if e["kind"] == "target_at_risk")
        assert risk["data"]["due"] == "2026-12-07T08:06:00.000000Z"
        await s.at("2026-12-07 09:31")
        assert _marks(await _show(s, n))[-1] == ("target_breached", "first_response", False)


def test_the_daemon_on_the_manual_clock_writes_and_counts_a_breach_once(tmp_path):
    """The same Friday 17:00 request, `pagerd serve` on the manual clock (testing: {clock: manual}),
    moved with POST /api/v1/testing/clock, forward past the deadline, back, and forward again."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.harness.pagerd import PagerdProcess
    from tests.harness.paging import short_config

    ams = ZoneInfo("Europe/Amsterdam")
    cfg = short_config(tmp_path / "pagerd.yaml", heartbeats={}, clock_start="2026-12-04T16:00:00Z")
    d = PagerdProcess(tmp_path / "pagerd", config=cfg).start()
    try:
        status, t = d.api("POST", "/api/v1/tickets", PHONE)
        assert status == 201, t
        n = t["number"]

        def show() -> dict:
            status, body = d.api("GET", f"/api/v1/tickets/{n}")
            assert status == 200, body
            return body  # type: ignore[return-value]

        def breaches() -> str:
            status, text = d.request("GET", "/metrics")
            assert status == 200
            return "\n".join(
                line for line in str(text).splitlines() if line.startswith("pagerd_request_target_breaches_total{")
            )

        d.set_clock(datetime(2026, 12, 7, 10, 41, tzinfo=ams))
        assert _marks(show()) == []
        d.set_clock(datetime(2026, 12, 7, 10, 42, tzinfo=ams))
        assert _marks(show()) == [("target_at_risk", "first_response", False)]
        d.set_clock(datetime(2026, 12, 7, 11, 31, tzinfo=ams))
        both = [("target_at_risk", "first_response", False), ("target_breached", "first_response", False)]
        assert _marks(show()) == both
        assert breaches() == 'pagerd_request_target_breaches_total{customer="acme",target="first_response"} 1.0'
        d.set_clock(datetime(2026, 12, 7, 9, 0, tzinfo=ams))  # a clock stepped back, then forward again
        d.set_clock(datetime(2026, 12, 7, 12, 0, tzinfo=ams))
        assert _marks(show()) == both
        assert breaches() == 'pagerd_request_target_breaches_total{customer="acme",target="first_response"} 1.0'
    finally:
        d.stop()
