"""The standby number against the real daemon on its manual clock, paging through the official Twilio SDK at
Prism (Twilio's own OpenAPI contract, behind a recording tap), with Twilio's callbacks signed the way Twilio
signs them: an office call is forwarded to the desk; a standby call rings the engineer on standby, opens a
ticket and an incident whose response target starts at the call, then rings the next step; a call outside
standby records a voicemail that lands on the ticket; forged signatures are refused.

The config is the example's (tests/harness/paging.py short_config): acme's contact Jan (+31201234567) has
recurring standby on acme/webshop in the evening, night, weekend and holidays; a customer `beta` (contact
Piet, +31301234567) has an office_hours project only. The standby rotation has dewi in the week of
2026-01-05; the policy is [oncall] 15 min, then [oncall, person:bram].
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import yaml

from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import (
    FROM_NUMBER,
    TwilioTap,
    events,
    incident,
    new_sid,
    short_config,
    ts,
    twilio_env,
    twilio_post,
    wait_event,
)
from tests.harness.prism import Prism

pytestmark = pytest.mark.peer("prism")

OFFICE = "2026-01-07T09:00:00Z"  # Wednesday 10:00 in Amsterdam
EVENING = "2026-01-07T19:00:00Z"  # Wednesday 20:00 in Amsterdam
STEPS = [{"targets": ["oncall"], "wait": "15m"}, {"targets": ["oncall", "person:bram"], "wait": "15m"}]
JAN = "+31201234567"
PIET = "+31301234567"
DESK = "+31201230000"
DEWI, BRAM = "+31612345004", "+31612345002"
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Recordings/RE0123"


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    p = Prism(tmp_path_factory.mktemp("prism")).start()
    yield p
    p.stop()


def _config(tmp_path, start: str):
    path = short_config(tmp_path / "pagerd.yaml", voice_after="2m", steps=STEPS, clock_start=start, simulate=["email"])
    beta = {
        "name": "Beta BV",
        "contacts": [{"id": "beta.piet", "name": "Piet de Boer", "phone": PIET}],
        "projects": {"site": {"coverage": "office_hours"}},
    }
    # added as text: the ${VAR} placeholders of the rest stay as short_config quoted them
    block = "".join(f"  {line}\n" for line in yaml.safe_dump({"beta": beta}, sort_keys=False).splitlines())
    text = path.read_text()
    assert "\ncustomers:\n" in text
    path.write_text(text.replace("\ncustomers:\n", "\ncustomers:\n" + block, 1))
    assert "beta" in yaml.safe_load(path.read_text())["customers"]
    return path


@pytest.fixture
def hotline(prism, tmp_path):
    """(daemon, tap): pagerd on the manual clock from Wednesday 10:00, paging through Twilio at Prism."""
    tap = TwilioTap(prism.url).start()
    d = PagerdProcess(tmp_path / "pagerd", config=_config(tmp_path, OFFICE), extra_env=twilio_env(tap.url))
    d.start()
    yield d, tap
    d.stop()
    tap.stop()
    print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")


def call(caller: str, sid: str | None = None) -> dict[str, str]:
    """The form Twilio posts to the number's Voice webhook when `caller` rings it."""
    return {
        "CallSid": sid or new_sid("CA"),
        "AccountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "From": caller,
        "To": FROM_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }


def tickets(d: PagerdProcess) -> list[dict]:
    status, body = d.api("GET", "/api/v1/tickets")
    assert status == 200, body
    return body  # type: ignore[return-value]


def ticket(d: PagerdProcess, n: int) -> dict:
    status, body = d.api("GET", f"/api/v1/tickets/{n}")
    assert status == 200, body
    return body  # type: ignore[return-value]


def dials(twiml: str) -> tuple[ET.Element | None, list[tuple[str, str]]]:
    """The <Dial> of a TwiML answer and its (number, url) pairs."""
    dial = ET.fromstring(twiml).find("Dial")
    if dial is None:
        return None, []
    return dial, [((n.text or "").strip(), n.get("url", "")) for n in dial.findall("Number")]


def test_office_call_is_forwarded_to_the_desk(hotline):
    d, tap = hotline
    status, twiml = twilio_post(d, "/twilio/hotline", call(JAN))
    assert status == 200, twiml
    root = ET.fromstring(twiml)
    say = root.find("Say")
    assert say is not None and say.get("language") == "nl-NL" and "servicedesk" in (say.text or "")
    assert (root.findtext("Dial") or "").strip() == DESK
    assert tickets(d) == []  # the desk files what the call is about
    status, twiml = twilio_post(d, "/twilio/hotline", call("+31209999999"))  # unknown callers too
    assert status == 200 and (ET.fromstring(twiml).findtext("Dial") or "").strip() == DESK
    assert tap.rejected() == []


def test_standby_call_rings_the_engineer_and_opens_ticket_and_incident(hotline):
    d, tap = hotline
    at = d.set_clock(ts(EVENING))
    form = call(JAN)
    status, twiml = twilio_post(d, "/twilio/hotline", form)
    assert status == 200, twiml
    dial, numbers = dials(twiml)
    assert dial is not None and dial.get("action") == f"{d.url}/twilio/hotline/dial?step=1"
    assert numbers == [(DEWI, f"{d.url}/twilio/hotline/answered?person=dewi")]

    (t,) = tickets(d)
    assert (t["kind"], t["via"], t["project"], t["priority"], t["requester"]["contact"]) == (
        "incident",
        "phone",
        "acme/webshop",
        "urgent",
        "acme.jan",
    )
    n = t["number"]
    assert f"ticket #{n}" in (ET.fromstring(twiml).findtext("Say") or "")
    inc = wait_event(d, n, "paged", channel="sms")
    current = inc["response"]["current"]
    # the response target starts at the call, on the standby rotation
    assert ts(current["first_page_at"]) == at and ts(current["deadline"]) == at + timedelta(minutes=30)
    assert current["rotation"] == "standby" and current["project"] == "acme/webshop"
    assert events(inc, "paging")[0]["data"]["people"] == ["dewi"]
    # the engineer is paged through Twilio as for any incident (an SMS with the number at once)
    (sms,) = tap.sent("sms", to=DEWI)
    assert f"#{n}" in sms["form"]["Body"][0]

    # The same call posted again (Twilio retrying): the same answer, nothing opened twice.
    assert twilio_post(d, "/twilio/hotline", form) == (200, twiml)
    assert len(tickets(d)) == 1

    # Dewi does not answer within the dial timeout: the next escalation step is rung (dewi and bram).
    status, twiml2 = twilio_post(
        d, "/twilio/hotline/dial?step=1", {"CallSid": form["CallSid"], "DialCallStatus": "no-answer"}
    )
    assert status == 200, twiml2
    dial, numbers = dials(twiml2)
    assert dial is not None and dial.get("action") == f"{d.url}/twilio/hotline/dial?step=2"
    assert [p for p, _ in numbers] == [DEWI, BRAM]

    # Bram picks up: he hears who calls, the incident is his (acknowledged via the hotline), target met.
    d.advance("40s")
    status, whisper = twilio_post(
        d,
        "/twilio/hotline/answered?person=bram",
        {"CallSid": new_sid("CA"), "ParentCallSid": form["CallSid"], "CallStatus": "in-progress"},
    )
    assert status == 200, whisper
    assert "Jan Pietersen" in (ET.fromstring(whisper).findtext("Say") or "")
    inc = incident(d, n)
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == "bram"
    (ack,) = events(inc, "acknowledged")
    assert ack["data"]["via"] == "hotline"
    status, twiml3 = twilio_post(
        d, "/twilio/hotline/dial?step=2", {"CallSid": form["CallSid"], "DialCallStatus": "completed"}
    )
    assert status == 200 and ET.fromstring(twiml3).find("Hangup") is not None

    timeline = [e["kind"] for e in ticket(d, n)["timeline"]]
    for kind in ("call", "call_dialled", "call_unanswered", "call_answered", "routed", "paging", "acknowledged"):
        assert kind in timeline, (kind, timeline)
    d.advance("30m")
    assert incident(d, n)["response"]["current"]["outcome"] == "met"
    # billed like any other call-out: on acme's statement of the month, its response met
    status, st = d.api("GET", "/api/v1/billing/statements/acme?month=2026-01")
    assert status == 200, st
    assert [i["id"] for c in st["callouts"] for i in c["incidents"]] == [n]  # type: ignore[index]
    assert [r["incident"] for r in st["responses"]] == [n]  # type: ignore[index]
    assert tap.rejected() == []


def test_nobody_answers_a_standby_call_and_the_voicemail_lands_on_its_incident(hotline):
    d, tap = hotline
    d.set_clock(ts(EVENING))
    form = call(JAN)
    twilio_post(d, "/twilio/hotline", form)
    twilio_post(d, "/twilio/hotline/dial?step=1", {"CallSid": form["CallSid"], "DialCallStatus": "no-answer"})
    status, twiml = twilio_post(
        d, "/twilio/hotline/dial?step=2", {"CallSid": form["CallSid"], "DialCallStatus": "busy"}
    )
    assert status == 200 and ET.fromstring(twiml).find("Record") is not None  # no step left: a message
    status, _ = twilio_post(
        d,
        "/twilio/hotline/recording",
        {"CallSid": form["CallSid"], "RecordingUrl": RECORDING, "RecordingSid": "RE0123", "RecordingDuration": "31"},
    )
    assert status == 200
    (t,) = tickets(d)
    (vm,) = [e for e in ticket(d, t["number"])["timeline"] if e["kind"] == "voicemail"]
    assert vm["data"]["url"] == RECORDING and vm["public"] is False
    assert incident(d, t["number"])["state"] == "triggered"  # its escalation goes on


def test_call_without_standby_records_a_voicemail_onto_the_ticket(hotline):
    d, tap = hotline
    d.set_clock(ts(EVENING))
    form = call(PIET)
    status, twiml = twilio_post(d, "/twilio/hotline", form)
    assert status == 200, twiml
    root = ET.fromstring(twiml)
    record = root.find("Record")
    assert root.find("Dial") is None and record is not None
    assert record.get("action") == f"{d.url}/twilio/hotline/recording"
    (t,) = tickets(d)
    assert (t["kind"], t["project"], t["via"]) == ("request", "beta/site", "phone")

    status, twiml = twilio_post(
        d,
        "/twilio/hotline/recording",
        {"CallSid": form["CallSid"], "RecordingUrl": RECORDING, "RecordingSid": "RE0123", "RecordingDuration": "12"},
    )
    assert status == 200 and "Dank u" in (ET.fromstring(twiml).findtext("Say") or "")
    detail = ticket(d, t["number"])
    (vm,) = [e for e in detail["timeline"] if e["kind"] == "voicemail"]
    assert vm["data"]["url"] == RECORDING and vm["data"]["seconds"] == 12
    # paged per the project's coverage: office_hours waits for the desk at the next opening
    inc = wait_event(d, t["number"], "routed")
    (routed,) = events(inc, "routed")
    assert routed["data"]["paging"] is False and "office opening" in routed["data"]["reason"]
    assert tap.sent("sms") == [] and tap.sent("voice") == []
    # the same recording again changes nothing
    twilio_post(
        d,
        "/twilio/hotline/recording",
        {"CallSid": form["CallSid"], "RecordingUrl": RECORDING, "RecordingSid": "RE0123", "RecordingDuration": "12"},
    )
    assert len([e for e in ticket(d, t["number"])["timeline"] if e["kind"] == "voicemail"]) == 1

    # an unknown number outside standby: a voicemail on a ticket in triage
    status, twiml = twilio_post(d, "/twilio/hotline", call("+31209999999"))
    assert status == 200 and ET.fromstring(twiml).find("Record") is not None
    assert [x["project"] for x in tickets(d)] == [None, "beta/site"]


@pytest.mark.parametrize(
    "path",
    [
        "/twilio/hotline",
        "/twilio/hotline/dial?step=1",
        "/twilio/hotline/answered?person=bram",
        "/twilio/hotline/recording",
    ],
)
def test_forged_signatures_are_refused(hotline, path):
    d, _ = hotline
    d.set_clock(ts(EVENING))
    form = {**call(JAN), "DialCallStatus": "no-answer", "RecordingUrl": RECORDING, "RecordingSid": "RE1"}
    assert twilio_post(d, path, form, signed=False)[0] == 403
    assert twilio_post(d, path, form, token="not-the-auth-token")[0] == 403
    assert twilio_post(d, path, form, signature="AAAA" * 7)[0] == 403
    assert tickets(d) == []


def test_hostile_callbacks_are_refused_with_a_reason(hotline):
    d, _ = hotline
    d.set_clock(ts(EVENING))
    form = call(PIET)
    twilio_post(d, "/twilio/hotline", form)
    sid = form["CallSid"]
    assert twilio_post(d, "/twilio/hotline/dial?step=0", {"CallSid": sid, "DialCallStatus": "busy"})[0] == 422
    assert twilio_post(d, "/twilio/hotline/dial?step=x", {"CallSid": sid, "DialCallStatus": "busy"})[0] == 422
    assert twilio_post(d, "/twilio/hotline/dial?step=1", {"CallSid": sid})[0] == 422
    assert twilio_post(d, "/twilio/hotline/dial?step=1", {"CallSid": "CAnope", "DialCallStatus": "busy"})[0] == 404
    assert twilio_post(d, "/twilio/hotline/answered?person=mallory", {"CallSid": sid})[0] == 422
    assert twilio_post(d, "/twilio/hotline", {"From": JAN})[0] == 422  # no CallSid
    assert twilio_post(d, "/twilio/hotline", {**call(JAN), "CallSid": "CA" + "x" * 100})[0] == 422
    for url in ("http://evil.example/x", "javascript:alert(1)", "https://x/" + "a" * 2000, "https://a b"):
        status, _ = twilio_post(
            d, "/twilio/hotline/recording", {"CallSid": sid, "RecordingUrl": url, "RecordingSid": "RE9"}
        )
        assert status == 422, url
    (t,) = tickets(d)
    assert [e for e in ticket(d, t["number"])["timeline"] if e["kind"] == "voicemail"] == []
