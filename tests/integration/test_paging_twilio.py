"""The real daemon pages through the official Twilio SDK at Prism (Twilio's own OpenAPI contract),
and acts on Twilio's callbacks signed the way Twilio signs them: SMS replies, the voice <Gather>,
delivery status; plus the one-tap links in the SMS, and the whole path from a real Alertmanager.

Every daemon runs a copy of the example config (tests/harness/paging.py) on the manual clock, from
Wednesday 2026-01-07 10:00 in Amsterdam (office hours): sms at once, voice after 2 min, e-mail at once
(dry-run), policy steps 15 min / 15 min, no repeat. The tests move the clock (PagerdProcess.advance)
and see the pages at their exact instants. Between pagerd and Prism sits a recording tap: it shows
what pagerd sent, and any request Prism rejects fails the test.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import yaml
from twilio.request_validator import RequestValidator

from pager.service import links
from pager.service.signing import Keyring
from tests.conftest import require_binary
from tests.harness.alertmanager import ALERTMANAGER_BIN, Alertmanager
from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import (
    AUTH_TOKEN,
    FROM_NUMBER,
    TwilioTap,
    events,
    failed_pages,
    fire,
    incident,
    new_sid,
    short_config,
    sms_in,
    ts,
    twilio_env,
    twilio_post,
    wait_event,
)
from tests.harness.prism import Prism

pytestmark = pytest.mark.peer("prism")

PRISM_MESSAGE_SID = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # the spec's example bodies (Prism without -d)
PRISM_CALL_SID = "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
START = "2026-01-07T09:00:00Z"  # a Wednesday, 10:00 in Amsterdam
VOICE_AFTER = timedelta(minutes=2)
STEP_WAIT = timedelta(minutes=15)
STEPS = [{"targets": ["oncall"], "wait": "15m"}, {"targets": ["oncall", "person:bram"], "wait": "15m"}]
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    p = Prism(tmp_path_factory.mktemp("prism")).start()
    yield p
    p.stop()


@pytest.fixture
def paging(prism, tmp_path):
    """(daemon, tap): a pagerd paging through Twilio at Prism via a recording tap."""
    tap = TwilioTap(prism.url).start()
    d = PagerdProcess(
        tmp_path / "pagerd",
        config=short_config(
            tmp_path / "pagerd.yaml", voice_after="2m", steps=STEPS, clock_start=START, simulate=["email"]
        ),
        extra_env=twilio_env(tap.url),
    )
    d.start()
    yield d, tap
    d.stop()
    tap.stop()
    print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")


def people(d: PagerdProcess) -> dict:
    return yaml.safe_load(d.config.read_text())["people"]


def first_paged_person(d: PagerdProcess, iid: int) -> tuple[str, str, dict]:
    """(person, phone, incident) once the SMS of step 0 has gone out."""
    inc = wait_event(d, iid, "paged", channel="sms")
    (paging_ev,) = events(inc, "paging")
    person = paging_ev["data"]["people"][0]
    return person, people(d)[person]["phone"], inc


def assert_contract_kept(d: PagerdProcess, tap: TwilioTap, iids: list[int]) -> None:
    assert tap.rejected() == [], f"Prism rejected requests: {tap.rejected()}"
    for iid in iids:
        assert failed_pages(incident(d, iid)) == []


def assert_nothing_changed(d: PagerdProcess, iid: int, before: dict) -> None:
    after = incident(d, iid)
    assert after["state"] == "triggered" and after["acknowledged_at"] is None
    acted = {"acknowledged", "resolved", "escalate_requested", "delivery"}
    assert [e for e in after["timeline"] if e["kind"] in acted] == []
    assert len(events(after, "delivery")) == len(events(before, "delivery"))


# -- outbound ---------------------------------------------------------------------------------------
def test_pages_sms_at_once_and_voice_after_its_delay_through_the_contract(paging):
    d, tap = paging
    t0 = d.now()
    iid = fire(d, "TwilioOut", "web1 is down")
    person, phone, inc = first_paged_person(d, iid)
    first = ts(inc["response"]["current"]["first_page_at"])
    (sms,) = events(inc, "paged", channel="sms", person=person)
    assert first == ts(sms["at"]) == t0  # the SMS at once

    d.advance(VOICE_AFTER - SECOND)  # a second before the call is due: no call yet
    assert events(incident(d, iid), "paged", channel="voice") == []
    d.advance(SECOND)
    inc = incident(d, iid)
    (voice,) = events(inc, "paged", channel="voice", person=person)
    assert ts(voice["at"]) == first + VOICE_AFTER  # the call on the dot
    assert sms["data"]["status"] == voice["data"]["status"] == "sent"
    assert sms["data"]["provider_id"] == PRISM_MESSAGE_SID and voice["data"]["provider_id"] == PRISM_CALL_SID
    assert sms["data"]["to"] == voice["data"]["to"] == phone

    # What went to Twilio: to the paged person, from our number, naming the incident and its summary.
    (sms_req,) = tap.sent("sms", to=phone)  # (step 1 is 13 minutes away)
    assert sms_req["form"]["From"] == [FROM_NUMBER]
    body = sms_req["form"]["Body"][0]
    assert f"#{iid}" in body and "web1 is down" in body and f"{d.url}/l/" in body
    assert sms_req["form"]["StatusCallback"] == [f"{d.url}/twilio/status?msg={sms['data']['message_id']}"]
    (call_req,) = tap.sent("voice", to=phone)
    assert call_req["form"]["Url"] == [f"{d.url}/twilio/voice?msg={voice['data']['message_id']}"]
    current = inc["response"]["current"]
    assert current["outcome"] in ("running", "at_risk") and current["deadline"]
    assert_contract_kept(d, tap, [iid])


# -- inbound SMS ------------------------------------------------------------------------------------
def test_sms_reply_acknowledges_and_forged_or_unknown_ones_change_nothing(paging):
    d, tap = paging
    iid = fire(d, "TwilioReply", "db1 replication broken")
    person, phone, before = first_paged_person(d, iid)
    first = ts(before["response"]["current"]["first_page_at"])

    # Unsigned, wrongly signed (other token; right token but other body): 403, nothing changes.
    reply = {"From": phone, "To": FROM_NUMBER, "Body": "1", "MessageSid": "SMx1"}
    assert twilio_post(d, "/twilio/sms", reply, signed=False)[0] == 403
    assert twilio_post(d, "/twilio/sms", reply, token="not-the-auth-token")[0] == 403
    sig_for_2 = RequestValidator(AUTH_TOKEN).compute_signature(d.url + "/twilio/sms", {**reply, "Body": "2"})
    assert twilio_post(d, "/twilio/sms", reply, signature=sig_for_2)[0] == 403
    # Signed, but from a number nobody in the config has: 200 with an empty TwiML, nothing learnt.
    status, twiml = twilio_post(d, "/twilio/sms", {**reply, "From": "+31699999999"})
    assert status == 200
    root = ET.fromstring(twiml)
    assert root.tag == "Response" and list(root) == [] and not (root.text or "").strip()
    assert_nothing_changed(d, iid, before)

    # The paged person replies "1": acknowledged, by that person, via SMS; the reply says so.
    status, twiml = twilio_post(d, "/twilio/sms", reply)
    assert status == 200, twiml
    assert f"#{iid} acknowledged" in ET.fromstring(twiml).findtext("Message")
    inc = incident(d, iid)
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == person
    (ack,) = events(inc, "acknowledged")
    assert ack["actor"] == person and ack["data"]["via"] == "sms"
    acked_at = ts(ack["at"])

    # A second incident while the first is quiet: "ack <id>" names it.
    iid2 = fire(d, "TwilioReply2", "db2 replication broken")
    first_paged_person(d, iid2)
    iid3 = fire(d, "TwilioReply3", "db3 replication broken")
    first_paged_person(d, iid3)
    status, twiml = twilio_post(d, "/twilio/sms", {**reply, "Body": f"ack {iid2}", "MessageSid": new_sid()})
    assert status == 200 and f"#{iid2} acknowledged" in twiml
    assert incident(d, iid2)["state"] == "acknowledged" and incident(d, iid2)["acknowledged_by"] == person
    assert incident(d, iid3)["state"] == "triggered"  # only the named one
    acked2_at = ts(events(incident(d, iid2), "acknowledged")[0]["at"])

    # Past the voice delay and the next step of the first incident: nothing more for it (nor for #2).
    d.set_clock(first + STEP_WAIT + SECOND)
    inc = incident(d, iid)
    assert [e for e in events(inc, "paged") if ts(e["at"]) > acked_at] == []
    assert events(inc, "escalated") == [] and events(inc, "paged", channel="voice") == []
    assert (inc["response"]["current"]["escalation"], inc["response"]["current"]["outcome"]) == ("stopped", "met")
    assert [e for e in events(incident(d, iid2), "paged") if ts(e["at"]) > acked2_at] == []
    # Twilio heard of the first incident once: one SMS to the person, no call.
    assert len([r for r in tap.sent("sms", to=phone) if f"[pagerd #{iid}]" in r["form"]["Body"][0]]) == 1
    assert_contract_kept(d, tap, [iid, iid2, iid3])


def test_sms_reply_3_escalates_at_once_and_2_resolves(paging):
    d, tap = paging
    iid = fire(d, "TwilioEscalate", "mq1 disk full")
    person, phone, inc = first_paged_person(d, iid)
    first = ts(inc["response"]["current"]["first_page_at"])
    # From an unknown number even a well-formed, signed command does nothing.
    status, twiml = twilio_post(d, "/twilio/sms", sms_in("+31699999999", f"3 {iid}"))
    assert status == 200 and list(ET.fromstring(twiml)) == []
    assert events(incident(d, iid), "escalate_requested") == []

    status, twiml = twilio_post(d, "/twilio/sms", sms_in(phone, "3"))
    assert status == 200 and f"#{iid} escalated" in twiml
    inc = wait_event(d, iid, "escalated", timeout=5)
    (esc,) = events(inc, "escalated")
    assert esc["actor"] == "pagerd" and esc["data"]["step"] == 1
    assert ts(esc["at"]) == first  # at once, not at its 15 min wait: the clock has not moved
    assert "bram" in esc["data"]["people"]
    wait_event(d, iid, "paged", channel="sms", person="bram", timeout=5)

    status, twiml = twilio_post(d, "/twilio/sms", sms_in(phone, f"resolve {iid}"))
    assert status == 200 and f"#{iid} resolved" in twiml
    inc = incident(d, iid)
    assert inc["state"] == "resolved" and inc["resolved_by"] == person
    resolved_at = ts(events(inc, "resolved")[0]["at"])
    d.set_clock(ts(esc["at"]) + VOICE_AFTER + SECOND)  # past step 1's calls
    assert [e for e in events(incident(d, iid), "paged") if ts(e["at"]) > resolved_at] == []
    assert events(incident(d, iid), "paged", channel="voice") == []
    assert_contract_kept(d, tap, [iid])


def test_the_example_config_pages_through_twilio_when_the_sid_is_set(prism, tmp_path):
    """The shipped example config, unchanged, with a real E.164 TWILIO_FROM: SMS through Prism at once (and
    e-mail through a real SMTP server: with notifier.kind auto every channel of its contact rules is live)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    from tests.harness.paging import smtp_env
    from tests.harness.ports import free_port

    tap = TwilioTap(prism.url).start()
    mail = Controller(Sink(), hostname="127.0.0.1", port=free_port(), ready_timeout=5)
    mail.start()
    d = PagerdProcess(tmp_path / "pagerd", extra_env={**twilio_env(tap.url), **smtp_env(mail.port)})
    try:
        d.start()
        iid = fire(d, "ExampleConfig", "example config page")
        person, phone, inc = first_paged_person(d, iid)
        (sms,) = events(inc, "paged", channel="sms")
        assert sms["data"]["provider_id"] == PRISM_MESSAGE_SID
        (req,) = tap.sent("sms", to=phone)
        assert req["form"]["From"] == [FROM_NUMBER]
        assert_contract_kept(d, tap, [iid])
        assert d.request("GET", "/readyz")[1]["channels"] == {
            "sms": {"provider": "twilio", "live": True},
            "voice": {"provider": "twilio", "live": True},
            "email": {"provider": "smtp", "live": True},
        }
    finally:
        d.stop()
        tap.stop()
        mail.stop()


# -- voice ------------------------------------------------------------------------------------------
def test_voice_call_flow_gathers_and_digit_1_acknowledges(paging):
    d, tap = paging
    iid = fire(d, "TwilioVoice", "lb1 certificate expired")
    person, phone, _ = first_paged_person(d, iid)
    d.advance(VOICE_AFTER)
    inc = incident(d, iid)
    mid = events(inc, "paged", channel="voice")[0]["data"]["message_id"]
    path = f"/twilio/voice?msg={mid}"
    call = {
        "CallSid": PRISM_CALL_SID,
        "AccountSid": Prism.ACCOUNT_SID,
        "From": FROM_NUMBER,
        "To": phone,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
    }

    # Twilio fetches the call flow: the summary, read inside a <Gather> that posts back here.
    status, twiml = twilio_post(d, path, call)
    assert status == 200, twiml
    root = ET.fromstring(twiml)
    gathers = root.findall("Gather")
    assert gathers and gathers[0].get("action") == f"{d.url}{path}" and gathers[0].get("numDigits") == "1"
    said = " ".join(s.text or "" for s in gathers[0].findall("Say"))
    # in the person's language (Dutch: the calendar's country is NL), with no ISO timestamp read out
    assert "lb1 certificate expired" in said and "Druk 1 om te bevestigen" in said
    assert {s.get("language") for s in root.iter("Say")} == {"nl-NL"}
    assert not re.search(r"T\d\d:|Z\b", said), said

    # A forged keypress changes nothing.
    assert twilio_post(d, path, {**call, "Digits": "1"}, signed=False)[0] == 403
    assert twilio_post(d, path, {**call, "Digits": "1"}, token="wrong")[0] == 403
    assert incident(d, iid)["state"] == "triggered"

    status, twiml = twilio_post(d, path, {**call, "Digits": "1"})
    assert status == 200 and f"Incident {iid} is bevestigd." in ET.fromstring(twiml).findtext("Say")
    inc = incident(d, iid)
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == person
    assert events(inc, "acknowledged")[0]["data"]["via"] == "voice"
    assert_contract_kept(d, tap, [iid])


# -- delivery status --------------------------------------------------------------------------------
def test_undelivered_sms_moves_on_to_the_next_contact_method_at_once(paging):
    d, tap = paging
    iid = fire(d, "TwilioStatus", "queue backlog")
    person, phone, before = first_paged_person(d, iid)
    first = ts(before["response"]["current"]["first_page_at"])
    mid = events(before, "paged", channel="sms")[0]["data"]["message_id"]
    path = f"/twilio/status?msg={mid}"
    cb = {
        "MessageSid": PRISM_MESSAGE_SID,
        "AccountSid": Prism.ACCOUNT_SID,
        "From": FROM_NUMBER,
        "To": phone,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }

    assert twilio_post(d, path, cb, signed=False)[0] == 403
    assert twilio_post(d, path, cb, token="wrong")[0] == 403
    assert_nothing_changed(d, iid, before)

    # A good status ("sent") is recorded and moves nothing forward.
    assert twilio_post(d, path, {**cb, "MessageStatus": "sent", "ErrorCode": ""})[0] in (200, 204)
    d.advance("10s")
    inc = incident(d, iid)
    assert [e["data"]["status"] for e in events(inc, "delivery")] == ["sent"]
    assert events(inc, "paged", channel="voice") == []

    status, _ = twilio_post(d, path, cb)
    assert status in (200, 204)
    callback_at = d.now()
    inc = wait_event(d, iid, "paged", channel="voice", timeout=5)
    delivery = events(inc, "delivery")[-1]
    assert delivery["data"]["status"] == "undelivered" and delivery["data"]["person"] == person
    (voice,) = events(inc, "paged", channel="voice")
    # The call went out at the callback, not at its 2 min delay (the clock stands still meanwhile).
    assert ts(voice["at"]) == callback_at == first + timedelta(seconds=10), (voice["at"], first)
    assert voice["data"]["status"] == "sent" and len(tap.sent("voice", to=phone)) == 1
    assert_contract_kept(d, tap, [iid])


# -- one-tap links ----------------------------------------------------------------------------------
def test_one_tap_link_from_the_sms(paging):
    d, tap = paging
    iid = fire(d, "TwilioLink", "vpn gateway unreachable")
    person, phone, _ = first_paged_person(d, iid)
    (req,) = tap.sent("sms", to=phone)
    m = re.search(re.escape(d.url) + r"(/l/[A-Za-z0-9_.-]+)", req["form"]["Body"][0])
    assert m, req["form"]["Body"]
    link = m.group(1)

    status, page = d.request("GET", link)
    assert status == 200 and "vpn gateway unreachable" in page and "<form" in page
    assert incident(d, iid)["state"] == "triggered"  # GET only shows (link scanners must not ack)

    body, _, mac = link[len("/l/") :].partition(".")
    tampered = [
        f"/l/{body}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        f"/l/{body[:-2]}{'xx' if body[-2:] != 'xx' else 'yy'}.{mac}",
        "/l/not-a-token",
    ]
    for t in tampered:
        assert d.request("GET", t)[0] == 404, t
        assert d.request("POST", t, b"")[0] == 404, t
    # Validly signed but expired, or signed with another key (the admin token is none): 404 as well.
    iid_person_exp = (iid, "ack", person)
    round_ = {"generation": 0}
    past = d.now() - timedelta(minutes=1)  # the daemon's now: its manual clock
    later = d.now() + timedelta(hours=1)
    for token in (
        links.sign(Keyring(d.signing_key.encode()), *iid_person_exp, past, **round_),
        links.sign(Keyring(b"another-signing-key-0123456789abcdef"), *iid_person_exp, later, **round_),
        links.sign(Keyring(d.admin_token.encode()), *iid_person_exp, later, **round_),
    ):
        assert d.request("GET", f"/l/{token}")[0] == 404
        assert d.request("POST", f"/l/{token}", b"")[0] == 404
    assert incident(d, iid)["state"] == "triggered"

    status, page = d.request("POST", link, b"", content_type="application/x-www-form-urlencoded")
    assert status == 200 and "acknowledged" in page
    inc = incident(d, iid)
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == person
    assert events(inc, "acknowledged")[0]["data"]["via"] == "link"
    assert_contract_kept(d, tap, [iid])


# -- end to end -------------------------------------------------------------------------------------
def test_alertmanager_to_twilio_sms_to_signed_reply(paging, tmp_path):
    require_binary(ALERTMANAGER_BIN)
    d, tap = paging
    am = Alertmanager(tmp_path / "am", target=d.url, token=d.webhook_token).start()
    try:
        am.fire(
            {"alertname": "E2EDiskFull", "customer": "agency", "instance": "web9:9100"},
            {"summary": "Disk full on web9"},
        )
        incs = d.wait_for(
            lambda p: [i for i in p.incidents() if i["labels"].get("alertname") == "E2EDiskFull"], timeout=12
        )
        iid = incs[0]["id"]
        person, phone, _ = first_paged_person(d, iid)
        (req,) = d.wait_for(lambda _: tap.sent("sms", to=phone), timeout=5)
        assert req["status"] == 201 and "Disk full on web9" in req["form"]["Body"][0]

        status, twiml = twilio_post(d, "/twilio/sms", sms_in(phone, "1"))
        assert status == 200 and f"#{iid} acknowledged" in twiml
        inc = incident(d, iid)
        assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == person
        assert_contract_kept(d, tap, [iid])
    finally:
        am.stop()
