"""Who may answer what by SMS, told as timelines on a manual clock. Instants are Europe/Amsterdam wall time.

Who is on call, by the example config: the office rotation (daily 08:30, office hours) has chris on
Tuesday 2026-11-24 and someone else the next day. The default policy pages the office rotation at once
and bram (the backup) too from 10:15; contact rules sms +0, voice +2m, e-mail +0.
"""

from __future__ import annotations

from tests.scenarios.harness import Scenario

AGENCY = {"customer": "agency"}


async def test_a_reply_from_an_engineer_the_incident_did_not_page_is_refused(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:  # a Tuesday: chris is on the office rotation
        iid = await s.fire(AGENCY)
        assert {who for _, _, who in s.log()} == {"chris"}

        for text in (f"ack {iid}", f"2 {iid}", f"esc {iid}", f"worked 30 {iid}"):
            assert await s.reply("dewi", text) == (
                f"#{iid} did not page you (dewi): nothing changed. Only the people its escalation reached "
                "can answer it by SMS or phone."
            )
        assert await s.reply("dewi", "1") == "No page to answer; add the incident number, e.g. 'ack 42'."
        inc = await s.incident(iid)
        assert inc["state"] == "triggered"
        assert [
            e["kind"]
            for e in inc["timeline"]
            if e["kind"] in ("acknowledged", "resolved", "escalate_requested", "work_logged")
        ] == []

        await s.at("10:15")  # the escalation reaches bram: now he may answer it
        assert await s.reply("bram", f"ack {iid}") == f"#{iid} acknowledged"
        assert (await s.incident(iid))["acknowledged_by"] == "bram"


async def test_a_bare_reply_answers_the_newest_incident_that_paged_that_person(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:
        mine = await s.fire(AGENCY, group="chris-day")
        await s.at("2026-11-25 10:00")  # the next day someone else is on the office rotation
        other_person = s.on_call("office")
        assert other_person not in (None, "chris")
        newest = await s.fire(AGENCY, group="next-day")
        assert newest > mine and (await s.incident(mine))["state"] == "triggered"

        # chris's "1" answers his own page, not the newest incident overall
        assert await s.reply("chris", "1") == f"#{mine} acknowledged"
        assert (await s.incident(newest))["state"] == "triggered"
        assert await s.reply("chris", f"ack {newest}") == (
            f"#{newest} did not page you (chris): nothing changed. Only the people its escalation reached "
            "can answer it by SMS or phone."
        )
        assert await s.reply(other_person, "1") == f"#{newest} acknowledged"


async def test_a_late_bare_reply_after_a_reopen_does_not_answer_the_new_alert(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:
        iid = await s.fire(AGENCY, group="disk-web1")
        await s.at("10:05")
        assert await s.reply("chris", "1") == f"#{iid} acknowledged"
        assert await s.reply("chris", "2") == f"#{iid} resolved"
        # anna takes over the office rotation; the alert fires again and its second round pages her
        await s.store.add_override(
            rotation="office",
            start=s.instant("10:30"),
            end=s.instant("18:00"),
            person="anna",
            replaces="chris",
            created_by="test",
            now=s.clock.now(),
        )
        await s.at("10:40")
        assert await s.fire(AGENCY, group="disk-web1") == iid
        assert {who for _, ch, who in s.log(since="10:40") if ch == "sms"} == {"anna"}

        # chris's late "1" was for the first alert: it does not acknowledge the second
        assert await s.reply("chris", "1") == (
            f"#{iid} has reopened since it paged you and its new alert did not page you: nothing changed. "
            f"Reply 'ack {iid}' to act on it anyway."
        )
        assert (await s.incident(iid))["state"] == "triggered"
        assert await s.reply("chris", f"ack {iid}") == f"#{iid} acknowledged"  # named: he means it
        assert (await s.incident(iid))["acknowledged_by"] == "chris"


async def test_a_repeated_sms_changes_nothing_and_gets_the_first_answer(tmp_path):
    async with Scenario(tmp_path, "2026-11-24 10:00") as s:
        iid = await s.fire(AGENCY)
        sid = "SM" + "7" * 32
        assert await s.reply("chris", "worked 45", sid=sid) == f"#{iid}: 45 minutes logged for chris"
        before = await s.incident(iid)
        await s.advance(minutes=1)
        assert await s.reply("chris", "worked 45", sid=sid) == f"#{iid}: 45 minutes logged for chris"
        assert await s.reply("chris", "worked 45", sid=sid) == f"#{iid}: 45 minutes logged for chris"
        assert (await s.incident(iid))["timeline"] == before["timeline"]
        assert s.query("SELECT person, minutes FROM work_entries") == [("chris", 45)]
        assert await s.reply("chris", "worked 15") == f"#{iid}: 15 minutes logged for chris"  # a new SMS
        assert s.query("SELECT sum(minutes) FROM work_entries") == [(60,)]
        assert (await s.incident(iid))["state"] == "triggered"
