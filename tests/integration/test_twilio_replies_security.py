"""Twilio callbacks and one-tap links as an attacker or a careless engineer would use them, against the
real daemon paging through the official Twilio SDK at Prism (Twilio's own OpenAPI contract):

- a captured signed callback (SMS reply, delivery status, voice keypress) replayed changes nothing and
  gets the answer it got the first time;
- an SMS reply from another engineer's phone about an incident that did not page them is refused with
  a reply that says so;
- a one-tap link sent before a reopen does not acknowledge the new alert and says why;
- person ids with '.', '-', '_' and digits work in SMS replies, one-tap links, escalation targets and
  iCal feeds.

Callbacks are signed as Twilio signs them (the SDK's RequestValidator); every daemon runs the example
config on the manual clock from Wednesday 2026-01-07 10:00 in Amsterdam (office hours), as
test_paging_twilio.py describes; the tests move that clock, they never sleep for it.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import yaml
from icalendar import Calendar as ICal

from pager.service.ical import feed_token
from pager.service.signing import Keyring
from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import (
    FROM_NUMBER,
    TwilioTap,
    events,
    failed_pages,
    fire,
    incident,
    new_sid,
    short_config,
    sms_in,
    twilio_env,
    twilio_post,
    wait_event,
)
from tests.harness.prism import Prism

pytestmark = pytest.mark.peer("prism")

START = "2026-01-07T09:00:00Z"  # a Wednesday, 10:00 in Amsterdam
STEPS = [{"targets": ["oncall"], "wait": "15m"}, {"targets": ["oncall", "person:bram"], "wait": "15m"}]
VOICE_AFTER = timedelta(minutes=2)
# every person of the example config renamed to an id with dots, dashes, underscores and digits
DOTTED = {"anna": "anna.de.vries", "bram": "bram-jansen_2", "chris": "chris.2", "dewi": "1.dewi", "eva": "eva_9.x-y"}
ACTED = ("acknowledged", "resolved", "escalate_requested", "escalated", "work_logged", "delivery")


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    p = Prism(tmp_path_factory.mktemp("prism")).start()
    yield p
    p.stop()


def start_daemon(prism: Prism, tmp_path, rename: dict[str, str] | None = None) -> tuple[PagerdProcess, TwilioTap]:
    tap = TwilioTap(prism.url).start()
    cfg = short_config(
        tmp_path / "pagerd.yaml", voice_after="2m", steps=STEPS, clock_start=START, rename=rename, simulate=["email"]
    )
    d = PagerdProcess(tmp_path / "pagerd", config=cfg, extra_env=twilio_env(tap.url))
    try:
        d.start()
    except BaseException:
        tap.stop()
        raise
    return d, tap


@pytest.fixture
def paging(prism, tmp_path):
    d, tap = start_daemon(prism, tmp_path)
    yield d, tap
    d.stop()
    tap.stop()
    print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")


def people(d: PagerdProcess) -> dict:
    return yaml.safe_load(d.config.read_text())["people"]


def first_paged_person(d: PagerdProcess, iid: int) -> tuple[str, str]:
    """(person, phone) once the SMS of step 0 has gone out."""
    inc = wait_event(d, iid, "paged", channel="sms")
    person = events(inc, "paging")[0]["data"]["people"][0]
    return person, people(d)[person]["phone"]


def message_text(twiml: str) -> str:
    return "".join(ET.fromstring(twiml).itertext()).strip()


def links_sent(d: PagerdProcess, tap: TwilioTap, phone: str, iid: int) -> list[str]:
    """The one-tap link paths (/l/...) of the SMS pages of incident `iid` to `phone`, oldest first."""
    out = []
    for req in tap.sent("sms", to=phone):
        body = req["form"]["Body"][0]
        m = re.search(re.escape(d.url) + r"(/l/[A-Za-z0-9_.-]+)", body)
        if f"[pagerd #{iid}]" in body and m:
            out.append(m.group(1))
    return out


def acted(inc: dict) -> list[tuple[str, str | None]]:
    return [(e["kind"], e["actor"]) for e in inc["timeline"] if e["kind"] in ACTED]


def assert_contract_kept(d: PagerdProcess, tap: TwilioTap, iids: list[int]) -> None:
    assert tap.rejected() == [], f"Prism rejected requests: {tap.rejected()}"
    for iid in iids:
        assert failed_pages(incident(d, iid)) == []


# -- replays ----------------------------------------------------------------------------------------
def test_a_replayed_signed_sms_changes_nothing_and_gets_its_first_answer(paging):
    d, tap = paging
    iid = fire(d, "ReplaySms", "web1 is down")
    person, phone = first_paged_person(d, iid)
    captured = sms_in(phone, "1")
    status, first = twilio_post(d, "/twilio/sms", captured)
    assert status == 200 and message_text(first) == f"#{iid} acknowledged"

    # a newer incident pages the same person, and time goes on (its escalation reaches the backup)
    newer = fire(d, "ReplaySmsNewer", "web2 is down")
    assert first_paged_person(d, newer)[0] == person
    d.advance("16m")
    wait_event(d, newer, "escalated")
    before = {i: incident(d, i) for i in (iid, newer)}

    # the captured request, replayed as it was: the same answer, and nothing changes on either incident
    for _ in range(3):
        assert twilio_post(d, "/twilio/sms", captured) == (200, first)
    after = {i: incident(d, i) for i in (iid, newer)}
    assert after == before
    assert after[newer]["state"] == "triggered" and acted(after[newer])[-1:] == [("escalated", "pagerd")]
    assert [k for k, _ in acted(after[iid])] == ["acknowledged"]
    # a new SMS with the same words is a new command (another MessageSid): it is answered as one
    status, twiml = twilio_post(d, "/twilio/sms", sms_in(phone, f"ack {newer}"))
    assert status == 200 and message_text(twiml) == f"#{newer} acknowledged"
    assert '"twilio_callback_repeated"' in d.log_path.read_text()
    assert_contract_kept(d, tap, [iid, newer])


def test_replayed_delivery_status_and_keypress_change_nothing(paging):
    d, tap = paging
    iid = fire(d, "ReplayCall", "db1 replication broken")
    person, phone = first_paged_person(d, iid)
    sms_mid = events(incident(d, iid), "paged", channel="sms")[0]["data"]["message_id"]
    status_cb = {
        "MessageSid": new_sid(),
        "AccountSid": Prism.ACCOUNT_SID,
        "From": FROM_NUMBER,
        "To": phone,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }

    # undelivered: the call goes out at once; the same report again moves nothing on
    assert twilio_post(d, f"/twilio/status?msg={sms_mid}", status_cb)[0] == 204
    inc = wait_event(d, iid, "paged", channel="voice")
    d.advance("5s")  # a tick later: whatever the report made due has happened
    before = incident(d, iid)
    for _ in range(2):
        assert twilio_post(d, f"/twilio/status?msg={sms_mid}", status_cb)[0] == 204
    d.advance("5s")
    assert incident(d, iid)["timeline"] == before["timeline"]
    assert [e["data"]["status"] for e in events(before, "delivery")] == ["undelivered"]
    assert len(tap.sent("voice", to=phone)) == 1
    # another status of the same message is another report: recorded
    assert (
        twilio_post(d, f"/twilio/status?msg={sms_mid}", {**status_cb, "MessageStatus": "failed", "ErrorCode": "30008"})[
            0
        ]
        == 204
    )
    assert [e["data"]["status"] for e in events(incident(d, iid), "delivery")] == ["undelivered", "failed"]

    # the call: its flow is fetched (a read: fetched again, answered again), then 3 (escalate) is pressed
    voice_mid = events(inc, "paged", channel="voice")[0]["data"]["message_id"]
    path = f"/twilio/voice?msg={voice_mid}"
    call = {
        "CallSid": new_sid("CA"),
        "AccountSid": Prism.ACCOUNT_SID,
        "From": FROM_NUMBER,
        "To": phone,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
    }
    status, flow = twilio_post(d, path, call)
    assert status == 200 and ET.fromstring(flow).findall("Gather")
    assert twilio_post(d, path, call) == (200, flow)
    status, pressed = twilio_post(d, path, {**call, "Digits": "3"})
    assert status == 200 and f"Incident {iid} wordt nu geëscaleerd." in ET.fromstring(pressed).findtext("Say")
    inc = wait_event(d, iid, "escalated")
    assert [k for k, _ in acted(inc) if k != "delivery"] == ["escalate_requested", "escalated"]
    for _ in range(2):  # replayed: the same answer, no second escalation
        assert twilio_post(d, path, {**call, "Digits": "3"}) == (200, pressed)
    d.advance("5s")
    inc = incident(d, iid)
    assert [k for k, _ in acted(inc) if k != "delivery"] == ["escalate_requested", "escalated"]
    assert inc["state"] == "triggered"
    assert_contract_kept(d, tap, [iid])


# -- whose reply counts -----------------------------------------------------------------------------
def test_a_reply_from_another_engineers_phone_is_refused_with_a_reply_saying_so(paging):
    d, tap = paging
    iid = fire(d, "OtherPhone", "lb1 certificate expired")
    person, phone = first_paged_person(d, iid)
    other = sorted(p for p in people(d) if p not in (person, "bram"))[0]  # bram is the policy's backup
    other_phone = people(d)[other]["phone"]
    before = incident(d, iid)

    for body in (f"ack {iid}", f"resolve {iid}", f"3 {iid}", f"worked 30 {iid}"):
        status, twiml = twilio_post(d, "/twilio/sms", sms_in(other_phone, body))
        assert status == 200
        assert message_text(twiml) == (
            f"#{iid} did not page you ({other}): nothing changed. Only the people its "
            "escalation reached can answer it by SMS or phone."
        )
    # a bare reply from them: nothing paged their phone
    status, twiml = twilio_post(d, "/twilio/sms", sms_in(other_phone, "1"))
    assert message_text(twiml) == "No page to answer; add the incident number, e.g. 'ack 42'."
    # a number nobody in the config has: refused without a word (no SMS back to a stranger)
    status, twiml = twilio_post(d, "/twilio/sms", sms_in("+31699999999", f"ack {iid}"))
    assert status == 200 and list(ET.fromstring(twiml)) == []
    inc = incident(d, iid)
    assert inc["state"] == "triggered" and acted(inc) == acted(before) == []
    status, work = d.api("GET", f"/api/v1/incidents/{iid}/work")
    assert (status, work) == (200, [])

    # the person it paged may; so may the backup once the escalation reaches him
    d.advance("15m")
    wait_event(d, iid, "paged", channel="sms", person="bram")
    status, twiml = twilio_post(d, "/twilio/sms", sms_in(people(d)["bram"]["phone"], f"worked 20 {iid}"))
    assert message_text(twiml) == f"#{iid}: 20 minutes logged for bram"
    status, twiml = twilio_post(d, "/twilio/sms", sms_in(phone, f"ack {iid}"))
    assert message_text(twiml) == f"#{iid} acknowledged"
    assert incident(d, iid)["acknowledged_by"] == person
    assert_contract_kept(d, tap, [iid])


# -- one-tap links and rounds -----------------------------------------------------------------------
def test_an_old_one_tap_link_does_not_acknowledge_the_alert_after_a_reopen(paging):
    d, tap = paging
    iid = fire(d, "LinkReopen", "api1 is down")
    person, phone = first_paged_person(d, iid)
    (old_link,) = links_sent(d, tap, phone, iid)
    status, _ = d.api("POST", f"/api/v1/incidents/{iid}/resolve", {"by": "ops", "comment": "restarted"})
    assert status == 200
    d.advance("10m")
    # the alert fires again inside the reopen window: the incident reopens and its second round pages
    assert fire(d, "LinkReopen", "api1 is down", starts_at="2026-01-07T09:10:00Z") == iid
    inc = wait_event(d, iid, "paged", channel="sms", count=2)
    assert inc["state"] == "triggered" and inc["reopen_count"] == 1
    new_link = links_sent(d, tap, phone, iid)[-1]
    assert new_link != old_link

    for method in ("GET", "POST"):
        status, page = d.request(
            method, old_link, b"" if method == "POST" else None, content_type="application/x-www-form-urlencoded"
        )
        assert status == 410, (method, status, page)
        assert f"Link for an earlier alert of incident #{iid}" in page
        assert "earlier alert" in page and "reopened since (now alert #2)" in page and "<form" not in page
    inc = incident(d, iid)
    assert inc["state"] == "triggered" and acted(inc) == [("resolved", "ops")]

    status, page = d.request("GET", new_link)
    assert status == 200 and "<form" in page and "api1 is down" in page
    status, page = d.request("POST", new_link, b"", content_type="application/x-www-form-urlencoded")
    assert status == 200 and f"#{iid} acknowledged" in page
    inc = incident(d, iid)
    assert (inc["state"], inc["acknowledged_by"]) == ("acknowledged", person)
    assert events(inc, "acknowledged")[-1]["data"]["via"] == "link"
    # and the old link still does not act, now that the new alert is acknowledged
    assert d.request("POST", old_link, b"")[0] == 410
    assert_contract_kept(d, tap, [iid])


# -- person ids with dots, dashes, underscores and digits ---------------------------------------------
def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def test_person_ids_with_dots_work_in_replies_links_targets_and_feeds(prism, tmp_path):
    d, tap = start_daemon(prism, tmp_path, rename=DOTTED)
    try:
        assert set(people(d)) == set(DOTTED.values())
        iid = fire(d, "DottedLink", "mail1 queue full")
        person, phone = first_paged_person(d, iid)
        assert person in DOTTED.values()
        (link,) = links_sent(d, tap, phone, iid)
        status, page = d.request("GET", link)
        assert status == 200 and "<form" in page
        status, page = d.request("POST", link, b"", content_type="application/x-www-form-urlencoded")
        assert status == 200 and f"#{iid} acknowledged" in page
        assert incident(d, iid)["acknowledged_by"] == person

        # a second incident reaches the backup through the target person:bram-jansen_2; he answers by SMS
        other = fire(d, "DottedReply", "mail2 queue full")
        first_paged_person(d, other)
        d.advance("15m")
        backup = DOTTED["bram"]
        wait_event(d, other, "paged", channel="sms", person=backup)
        status, twiml = twilio_post(d, "/twilio/sms", sms_in(people(d)[backup]["phone"], "1"))
        assert message_text(twiml) == f"#{other} acknowledged"
        assert incident(d, other)["acknowledged_by"] == backup
        status, twiml = twilio_post(d, "/twilio/sms", sms_in(people(d)[backup]["phone"], f"worked 25 {other}"))
        assert message_text(twiml) == f"#{other}: 25 minutes logged for {backup}"

        # each person's iCal feed, at /ical/people/<id>.ics, holds their shifts
        keys = Keyring(d.signing_key.encode())
        for pid in DOTTED.values():
            status, ctype, raw = fetch(f"{d.url}/ical/people/{pid}.ics?token={feed_token(keys, 'person', pid)}")
            assert status == 200 and ctype.startswith("text/calendar"), (pid, status, raw[:200])
            cal = ICal.from_ical(raw)
            assert str(cal.get("x-wr-calname")) == f"On call: {people(d)[pid]['name']}"
            assert len(cal.walk("VEVENT")) > 0, pid
            assert fetch(f"{d.url}/ical/people/{pid}.ics?token={'0' * 32}")[0] == 404
        # a person's token is theirs alone, whatever the dots
        token = feed_token(keys, "person", DOTTED["chris"])
        assert fetch(f"{d.url}/ical/people/{DOTTED['anna']}.ics?token={token}")[0] == 404
        status, rotations = d.api("GET", "/api/v1/rotations")
        assert status == 200
        for rot in rotations:
            status, ctype, _ = fetch(rot["ical_url"])
            assert status == 200 and ctype.startswith("text/calendar")
        assert_contract_kept(d, tap, [iid, other])
    finally:
        d.stop()
        tap.stop()
        print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")
