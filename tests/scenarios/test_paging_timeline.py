"""The page, told as timelines on a manual clock (issue 4). Instants are Europe/Amsterdam wall time.

Who is on call, by the example config (rotations from 2026-01-05):
  office (daily 08:30, office hours): Tue 2026-11-24 chris; Thu 2026-12-10 anna; Mon 2026-12-14 bram
  standby (weekly, Mon 08:30, outside office hours): week of 2026-12-07 dewi
The default policy: [oncall] 15m, [oncall, bram] 10m, [oncall, bram, desk] 5m, run twice; contact
rules sms +0, voice +2m, e-mail +0; response target 30m, escalate at 15m; desk = anna + support@.
"""

from __future__ import annotations

from datetime import timedelta

from pager.domain.messages import sms_count
from tests.scenarios.harness import Scenario

AGENCY = {"customer": "agency"}
WEBSHOP = {"customer": "acme", "service": "webshop"}
INTRANET = {"customer": "acme", "service": "intranet"}


def most_in_any_window(times, per: timedelta) -> int:
    """The most sends sharing one window of length `per` (t and u share one iff |t - u| < per)."""
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u - t < per) for i, t in enumerate(times)), default=0)


async def test_weekday_alert_sms_then_voice_then_the_backup_and_a_reply_stops_everything(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:  # a Tuesday
        assert s.on_call("office") == "chris"

        iid = await s.fire(AGENCY)
        assert s.log() == [("Tue 10:00", "email", "chris"), ("Tue 10:00", "sms", "chris")]
        (sms,) = s.sent(to="chris", channel="sms")
        assert sms.body.startswith(f"[pagerd #{iid}] agency/infra: ScenarioAlert for agency - 1=ack 2=resolve ")
        assert "/l/" in sms.body and sms_count(sms.body).segments == 1

        await s.at("10:01:30")
        assert s.log(since="10:00:01") == []
        await s.at("10:02")  # chris has not answered: his phone rings
        assert s.log(since="10:00:01") == [("Tue 10:02", "voice", "chris")]

        await s.at("10:14:30")
        assert s.log(since="10:02:01") == []
        await s.at("10:15")  # escalate_at: the backup is woken too
        assert s.log(since="10:02:01") == [
            ("Tue 10:15", "email", "bram"),
            ("Tue 10:15", "sms", "bram"),
            ("Tue 10:15", "email", "chris"),
            ("Tue 10:15", "sms", "chris"),
        ]

        await s.at("10:16")
        assert await s.reply("bram", "1") == f"#{iid} acknowledged"
        inc = await s.incident(iid)
        assert (inc["state"], inc["acknowledged_by"]) == ("acknowledged", "bram")

        await s.advance(hours=2)
        assert s.log(since="10:15:01", until="12:16") == []  # the 10:17 calls to both were cancelled
        assert s.query("SELECT person, channel, status FROM outbox WHERE status != 'sent' ORDER BY person") == [
            ("bram", "voice", "cancelled"),
            ("chris", "voice", "cancelled"),
        ]

        response = (await s.incident(iid))["response"]
        assert response["rounds"] == [response["current"]]
        assert response["current"] == {
            "round": 1,
            "project": "agency/infra",
            "rotation": "office",
            "escalation": "stopped",
            "step": 1,
            "reason": "office, project agency/infra has coverage always, office hours: paging the office rotation",
            "first_page_at": "2026-11-24T09:00:00.000000Z",
            "target_seconds": 1800,
            "at_risk_at": "2026-11-24T09:15:00.000000Z",
            "deadline": "2026-11-24T09:30:00.000000Z",
            "answered_at": "2026-11-24T09:16:00.000000Z",
            "answered_by": "bram",
            "answered_via": "sms",
            "answered_kind": "acknowledged",
            "outcome": "met",
            "seconds": 16 * 60,
            "breached_at": None,
        }
        assert s.metrics.registry.get_sample_value("pagerd_response_seconds_count") == 1
        assert s.metrics.registry.get_sample_value("pagerd_response_seconds_sum") == 16 * 60
        assert s.metrics.registry.get_sample_value("pagerd_response_target_breaches_total") == 0


async def test_night_alert_with_standby_coverage_pages_the_standby_on_call(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 23:00") as s:  # a Wednesday night
        assert (s.on_call("office"), s.on_call("standby")) == (None, "dewi")

        iid = await s.fire(WEBSHOP)
        assert s.log() == [("Wed 23:00", "email", "dewi"), ("Wed 23:00", "sms", "dewi")]
        await s.at("23:02")
        assert s.log(since="23:00:01") == [("Wed 23:02", "voice", "dewi")]

        (routed,) = [e for e in (await s.incident(iid))["timeline"] if e["kind"] == "routed"]
        assert routed["data"]["rotation"] == "standby"
        assert routed["data"]["reason"] == (
            "evening_night, project acme/webshop has standby: paging the standby rotation"
        )

        assert await s.reply("dewi", "ack") == f"#{iid} acknowledged"
        await s.advance(hours=1)
        assert s.log(since="23:02:01", until="2026-12-10 00:03") == []


async def test_night_alert_for_an_office_hours_project_wakes_nobody_and_tells_the_desk_at_opening(tmp_path):
    # Every 30 s for real here (no fast-forward): the cross-check of the harness's skipping.
    async with Scenario(tmp_path, "2026-12-09 23:00", fast_forward=False) as s:
        iid = await s.fire(INTRANET)
        assert s.log() == []
        await s.at("2026-12-10 08:29:30")
        assert s.log() == []  # the whole night: not one message
        await s.at("2026-12-10 08:30")
        assert s.log() == [("Thu 08:30", "email", "anna"), ("Thu 08:30", "email", "desk")]
        await s.at("2026-12-10 12:00")
        assert len(s.sent()) == 2

        inc = await s.incident(iid)
        assert inc["state"] == "triggered"  # opened, not acknowledged by anyone
        assert [(k, e["data"].get("paging")) for e in inc["timeline"] if (k := e["kind"]) == "routed"] == [
            ("routed", False)
        ]
        assert [e["data"]["to"] for e in inc["timeline"] if e["kind"] == "desk_notified"] == [
            ["anna@example.nl", "support@example.nl"]
        ]
        assert s.ticks >= 2 * 60 * 13  # 23:00 -> 12:00, a tick every 30 s


async def test_office_hours_project_after_a_weekend_or_a_holiday(tmp_path):
    # Friday evening: the desk hears of it on Monday 08:30.
    async with Scenario(tmp_path / "weekend", "2026-12-11 20:00") as s:
        await s.fire(INTRANET)
        await s.at("2026-12-14 08:29:30")
        assert s.log() == []
        await s.at("2026-12-14 09:00")
        assert s.log() == [("Mon 08:30", "email", "anna"), ("Mon 08:30", "email", "desk")]

    # Christmas Eve: 25 and 26 December are holidays, 26 and 27 the weekend; Monday the 28th it is.
    async with Scenario(tmp_path / "holiday", "2026-12-24 20:00") as s:
        iid = await s.fire(INTRANET)
        await s.at("2026-12-28 08:29:30")
        assert s.log() == []
        await s.at("2026-12-28 09:00")
        assert s.log() == [("Mon 08:30", "email", "anna"), ("Mon 08:30", "email", "desk")]
        (routed,) = [e for e in (await s.incident(iid))["timeline"] if e["kind"] == "routed"]
        assert routed["data"]["reason"] == (
            "evening_night, project acme/intranet has coverage office_hours: nobody paged; the support desk "
            "is told at the next office opening, Mon 2026-12-28 08:30 Europe/Amsterdam"
        )


async def test_no_acknowledgement_breaches_the_response_target_and_every_step_fires_on_time(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:  # chris on office duty
        iid = await s.fire(AGENCY)
        await s.at("10:29:30")
        assert (await s.incident(iid))["response"]["current"]["outcome"] == "at_risk"
        await s.at("11:30")

        assert await s.steps(iid) == [  # +0, +15 (escalate_at), +25, +30 (round two), +45, +55
            ("Tue 10:00", ["chris"]),
            ("Tue 10:15", ["chris", "bram"]),
            ("Tue 10:25", ["chris", "bram", "anna"]),
            ("Tue 10:30", ["chris"]),
            ("Tue 10:45", ["chris", "bram"]),
            ("Tue 10:55", ["chris", "bram", "anna"]),
        ]
        # The target is missed the moment after 10:30:00 (an ack at 10:30:00 would meet it); the
        # engine notices at its next tick (every 30 s here, every second in the daemon).
        assert await s.events(iid, "response_target_breached") == [("Tue 10:30:30", "response_target_breached")]
        response = (await s.incident(iid))["response"]["current"]
        assert (response["outcome"], response["deadline"], response["answered_at"], response["seconds"]) == (
            "breached",
            "2026-11-24T09:30:00.000000Z",
            None,
            None,
        )
        assert response["breached_at"] == "2026-11-24T09:30:30.000000Z"
        assert s.metrics.registry.get_sample_value("pagerd_response_target_breaches_total") == 1

        assert s.log(to="chris", channel="sms") == [
            ("Tue 10:00", "sms", "chris"),
            ("Tue 10:15", "sms", "chris"),
            ("Tue 10:25", "sms", "chris"),
            ("Tue 10:30", "sms", "chris"),
            ("Tue 10:45", "sms", "chris"),
            ("Tue 10:55", "sms", "chris"),
        ]
        assert s.log(to="anna", channel="voice") == [("Tue 10:27", "voice", "anna"), ("Tue 10:57", "voice", "anna")]
        assert s.log(since="10:57:01") == []  # the policy ran out: no step after the sixth


async def test_a_page_resolved_by_sms_reply_is_answered_in_time_not_breached(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:
        iid = await s.fire(AGENCY, group="disk-web1")
        await s.at("10:05")
        assert await s.reply("chris", "2") == f"#{iid} resolved"  # fixed it straight away, never acked
        await s.at("10:39")
        assert await s.events(iid, "response_target_breached") == []
        response = (await s.incident(iid))["response"]["current"]
        assert (response["outcome"], response["answered_kind"], response["answered_via"], response["seconds"]) == (
            "met",
            "resolved",
            "sms",
            5 * 60,
        )

        assert await s.fire(AGENCY, group="disk-web1") == iid  # it fires again: reopened, paged afresh
        await s.at("10:45")
        assert await s.reply("chris", "1") == f"#{iid} acknowledged"
        await s.at("11:30")
        assert await s.events(iid, "resolved", "reopened", "acknowledged", "response_target_breached") == [
            ("Tue 10:05", "resolved"),
            ("Tue 10:39", "reopened"),
            ("Tue 10:45", "acknowledged"),
        ]
        assert s.metrics.registry.get_sample_value("pagerd_response_target_breaches_total") == 0
        # A response time per round: round one answered by its resolve (5 min), round two's ack (6 min).
        assert s.metrics.registry.get_sample_value("pagerd_response_seconds_count") == 2
        assert s.metrics.registry.get_sample_value("pagerd_response_seconds_sum") == 11 * 60
        rounds = (await s.incident(iid))["response"]["rounds"]
        assert [(r["round"], r["answered_kind"], r["outcome"]) for r in rounds] == [
            (1, "resolved", "met"),
            (2, "acknowledged", "met"),
        ]


async def test_an_alert_that_clears_by_itself_answers_the_page(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:
        iid = await s.fire(AGENCY, group="flapping")
        await s.at("10:04")
        assert await s.fire(AGENCY, group="flapping", resolved=True) == iid  # Alertmanager: resolved
        await s.at("11:00")
        assert s.log(since="10:03") == []
        current = (await s.incident(iid))["response"]["current"]
        assert (
            current["answered_by"],
            current["answered_via"],
            current["answered_kind"],
            current["outcome"],
            current["seconds"],
        ) == ("alertmanager", "alertmanager", "resolved", "met", 4 * 60)
        assert await s.events(iid, "response_target_breached") == []


async def test_a_reopened_incident_keeps_the_record_of_its_first_round(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:
        iid = await s.fire(AGENCY, group="disk-web1")
        await s.at("10:05")
        assert await s.reply("chris", "1") == f"#{iid} acknowledged"  # round one: met
        await s.at("10:10")
        assert await s.reply("chris", "2") == f"#{iid} resolved"
        await s.at("10:40")  # after round one's deadline (10:30) the alert fires again
        assert await s.fire(AGENCY, group="disk-web1", settle=False) == iid
        response = (await s.incident(iid))["response"]  # reopened, not routed yet: no current round
        assert ([r["outcome"] for r in response["rounds"]], response["current"]) == (["met"], None)
        await s.settle()
        await s.at("10:45")
        assert await s.reply("chris", "1") == f"#{iid} acknowledged"  # round two: met
        await s.at("11:30")

        assert s.query("SELECT generation, breached_at FROM escalations") == [(0, None), (1, None)]
        assert await s.events(iid, "response_target_breached") == []
        assert s.metrics.registry.get_sample_value("pagerd_response_target_breaches_total") == 0
        assert s.metrics.registry.get_sample_value("pagerd_response_seconds_count") == 2
        response = (await s.incident(iid))["response"]
        assert [(r["round"], r["first_page_at"], r["answered_at"], r["outcome"]) for r in response["rounds"]] == [
            (1, "2026-11-24T09:00:00.000000Z", "2026-11-24T09:05:00.000000Z", "met"),
            (2, "2026-11-24T09:40:00.000000Z", "2026-11-24T09:45:00.000000Z", "met"),
        ]
        assert response["current"] == response["rounds"][1]


async def test_a_restart_in_the_middle_of_an_escalation_loses_nothing_and_doubles_nothing(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:
        iid = await s.fire(AGENCY)
        await s.at("10:01")
        await s.restart()  # the voice call is still to come
        await s.at("10:05")
        await s.restart()  # ... and has gone out
        assert s.log() == [
            ("Tue 10:00", "email", "chris"),
            ("Tue 10:00", "sms", "chris"),
            ("Tue 10:02", "voice", "chris"),
        ]

        await s.at("10:16")
        await s.restart()  # the backup has been woken, the next voice calls are queued
        await s.at("10:20")
        assert s.log(since="10:02:01") == [
            ("Tue 10:15", "email", "bram"),
            ("Tue 10:15", "sms", "bram"),
            ("Tue 10:15", "email", "chris"),
            ("Tue 10:15", "sms", "chris"),
            ("Tue 10:17", "voice", "bram"),
            ("Tue 10:17", "voice", "chris"),
        ]
        assert await s.steps(iid) == [("Tue 10:00", ["chris"]), ("Tue 10:15", ["chris", "bram"])]

        assert await s.reply("chris", "1") == f"#{iid} acknowledged"
        await s.restart()
        await s.advance(hours=2)
        assert s.log(since="10:17:01", until="12:21") == []
        assert await s.steps(iid) == [("Tue 10:00", ["chris"]), ("Tue 10:15", ["chris", "bram"])]
        ids = [a.message.id for a in s.sent()]
        assert len(ids) == len(set(ids)) == 9  # every outbox message went out exactly once
        assert s.restarts == 4
        assert (await s.incident(iid))["response"]["current"]["outcome"] == "met"


async def test_an_sms_that_cannot_be_delivered_moves_on_to_the_voice_call_at_once(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:
        s.notifier.fail("sms")  # e.g. Twilio refuses the number for SMS: not worth a retry
        iid = await s.fire(AGENCY)
        assert s.log(failed=True) == [("Tue 10:00", "sms", "chris")]
        assert s.log() == [("Tue 10:00", "email", "chris"), ("Tue 10:00", "voice", "chris")]

        await s.at("10:10")
        assert s.log(to="chris", channel="voice") == [("Tue 10:00", "voice", "chris")]  # not again at 10:02
        assert len(s.sent(failed=True)) == 1  # a failure that is not recoverable is not retried
        paged = [
            (e["data"]["channel"], e["data"]["status"])
            for e in (await s.incident(iid))["timeline"]
            if e["kind"] == "paged"
        ]
        assert sorted(paged) == [("email", "sent"), ("sms", "failed"), ("voice", "sent")]

        assert await s.reply("chris", "1") == f"#{iid} acknowledged"  # the voice call is the last message


async def test_a_storm_of_500_incidents_is_throttled_per_phone_and_every_incident_reaches_the_on_call(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:  # chris on office duty, bram the backup
        ids = []
        for _ in range(10):  # 500 alerts in 10 s, 50 a second
            for _ in range(50):
                ids.append(await s.fire(AGENCY, settle=False))
            await s.advance(seconds=1)
        assert len(set(ids)) == 500
        await s.at("11:00")

        for person in ("chris", "bram", "anna"):
            phone = s.config.people[person].phone
            sms = [a.at for a in s.sent(to=phone, channel="sms")]
            calls = [a.at for a in s.sent(to=phone, channel="voice")]
            assert sms and calls
            assert most_in_any_window(sms, timedelta(minutes=15)) <= 5, person
            assert most_in_any_window(calls, timedelta(minutes=5)) <= 1, person

        # Every incident is in some SMS that reached chris within the hour: its outbox row was sent
        # or bundled into a message the phone received.
        chris = s.config.people["chris"].phone
        received = {int(a.message.id) for a in s.sent(to=chris, channel="sms", until="11:00")}
        rows = s.query(
            "SELECT incident_id, status, coalesce(bundle_id, id) FROM outbox WHERE address = ? AND channel = 'sms'",
            chris,
        )
        reached = {iid for iid, status, carrier in rows if status in ("sent", "bundled") and carrier in received}
        assert reached == set(ids)
        first = s.sent(to=chris, channel="sms")[0]
        assert first.body.startswith("50 new incidents for agency/infra: #1 ")
        assert first.body.endswith("; reply 1 to ack all") and sms_count(first.body).segments == 1

        # Nothing is dropped: once the throttles let it, every page went out (sent or bundled).
        await s.at("11:30")
        assert (
            s.query("SELECT status, count(*) FROM outbox WHERE status NOT IN ('sent', 'bundled') GROUP BY status") == []
        )


async def test_a_bare_reply_with_several_incidents_open_asks_which_one(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:  # a Tuesday: chris is on the office rotation
        first = await s.fire(AGENCY, group="first")
        await s.at("10:01")
        second = await s.fire(AGENCY, group="second")
        answer = await s.reply("chris", "1")
        assert answer == f"You have 2 open incidents (#{first}, #{second}). Reply with the number, e.g. 'ack {second}'."
        assert [(await s.incident(i))["state"] for i in (first, second)] == ["triggered", "triggered"]
        assert await s.reply("chris", f"ack {first}") == f"#{first} acknowledged"
        assert (await s.incident(second))["state"] == "triggered"
        assert await s.reply("chris", "1") == f"#{second} acknowledged"  # one open left: no doubt


def booked_only_config(tmp_path):
    """The example config, but acme/webshop has coverage standby with no recurring periods: only a
    dated booking puts it on standby."""
    from tests.scenarios.harness import EXAMPLE_CONFIG

    text = EXAMPLE_CONFIG.read_text()
    old = "webshop: {coverage: standby, standby: [evening_night, weekend, holiday], policy: default}"
    assert old in text
    path = tmp_path / "booked-only.yaml"
    path.write_text(text.replace(old, "webshop: {coverage: standby, standby: [], policy: default}"))
    return path


async def test_standby_project_without_a_booking_waits_for_the_desk(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 23:00", config_path=booked_only_config(tmp_path)) as s:
        iid = await s.fire(WEBSHOP)
        assert s.log() == []
        await s.at("2026-12-10 08:29:30")
        assert s.log() == []  # the whole night: nobody is woken
        await s.at("2026-12-10 08:30")
        assert s.log() == [("Thu 08:30", "email", "anna"), ("Thu 08:30", "email", "desk")]
        (routed,) = [e for e in (await s.incident(iid))["timeline"] if e["kind"] == "routed"]
        assert routed["data"]["paging"] is False and "booking" not in routed["data"]
        assert routed["data"]["reason"].startswith("evening_night, project acme/webshop has no standby now")


async def test_a_dated_booking_pages_the_standby_on_call_and_the_worked_time_is_logged_by_sms(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=booked_only_config(tmp_path)) as s:
        status, booking = await s.api(
            "POST",
            "/api/v1/bookings",
            {"customer": "acme", "start": "2026-12-09T18:00", "end": "2026-12-10T08:30", "by": "anna"},
        )
        assert status == 201, booking
        assert (booking["start"], booking["end"]) == ("2026-12-09T17:00:00.000000Z", "2026-12-10T07:30:00.000000Z")
        # a booking of another customer changes nothing for acme
        status, _ = await s.api(
            "POST", "/api/v1/bookings", {"customer": "agency", "start": "2026-12-09T18:00", "end": "2026-12-10T08:30"}
        )
        assert status == 201

        await s.at("23:00")
        assert s.on_call("standby") == "dewi"
        iid = await s.fire(WEBSHOP)
        assert s.log() == [("Wed 23:00", "email", "dewi"), ("Wed 23:00", "sms", "dewi")]
        (routed,) = [e for e in (await s.incident(iid))["timeline"] if e["kind"] == "routed"]
        assert routed["data"]["rotation"] == "standby"
        assert routed["data"]["booking"] == {"id": booking["id"], "start": booking["start"], "end": booking["end"]}
        assert routed["data"]["reason"] == (
            "evening_night, project acme/webshop has standby booked Wed 2026-12-09 18:00 Europe/Amsterdam - "
            "Thu 2026-12-10 08:30 Europe/Amsterdam: paging the standby rotation"
        )

        await s.at("23:01")
        assert await s.reply("dewi", "1") == f"#{iid} acknowledged"
        await s.at("23:50")
        assert await s.reply("dewi", "2") == f"#{iid} resolved"
        assert await s.reply("dewi", "worked 45") == f"#{iid}: 45 minutes logged for dewi"

        status, work = await s.api("GET", f"/api/v1/incidents/{iid}/work")
        assert status == 200
        assert [(w["person"], w["minutes"], w["created_at"]) for w in work] == [
            ("dewi", 45, "2026-12-09T22:50:00.000000Z")
        ]
        assert await s.events(iid, "work_logged") == [("Wed 23:50", "work_logged")]

        # cancelled, the booking no longer covers the next night's alert
        status, gone = await s.api("DELETE", f"/api/v1/bookings/{booking['id']}")
        assert status == 200 and gone["cancelled_at"] == "2026-12-09T22:50:00.000000Z"
        second = await s.fire({**WEBSHOP, "alertname": "Other"})
        assert s.log(since="23:50") == []
        (routed,) = [e for e in (await s.incident(second))["timeline"] if e["kind"] == "routed"]
        assert routed["data"]["paging"] is False
