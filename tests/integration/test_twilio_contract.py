"""The Twilio notifier through Twilio's real contract: the official SDK's async client against Prism
serving Twilio's own OpenAPI spec (../shared/twilio-oai). Any request Prism rejects fails `send()`.
Plus the pure helpers the /twilio/* callbacks use: TwiML and X-Twilio-Signature checking."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from multidict import MultiDict
from structlog.testing import capture_logs

from pager.domain.messages import VoiceItem, voice_script
from pager.notify.base import Message, SendResult
from pager.notify.twilio import (
    TwilioNotifier,
    gather_reply_twiml,
    sms_reply_twiml,
    verify_signature,
    voice_twiml,
)
from tests.harness.ports import free_port
from tests.harness.prism import SPEC, Prism, patch_spec

pytestmark = pytest.mark.peer("prism")

TOKEN = "tok-5f3a9c0d1e2b-NEVER-LOG-ME"
PUBLIC = "https://pagerd.example.com"


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    p = Prism(tmp_path_factory.mktemp("prism")).start()
    yield p
    p.stop()


def notifier(api_base: str, **kw) -> TwilioNotifier:
    args = dict(
        account_sid=Prism.ACCOUNT_SID,
        auth_token=TOKEN,
        from_number="+15005550006",
        public_url=PUBLIC,
        api_base=api_base,
        timeout=5.0,
    )
    args.update(kw)
    return TwilioNotifier(**args)


def sms(id: str = "o-1", to: str = "+31612345678") -> Message:
    return Message(
        id=id,
        channel="sms",
        to=to,
        body="[K7] acme: disk full on db1. Reply 1 K7 to ack",
        incident_id=42,
        short_code="K7",
    )


def call(id: str = "o-2", to: str = "+31612345678") -> Message:
    return Message(id=id, channel="voice", to=to, body="acme: disk full on db1", incident_id=42, short_code="K7")


def last_form(n: TwilioNotifier) -> tuple[str, dict[str, list[str]]]:
    """URL and form body of the last request the SDK sent (the SDK's own test hook)."""
    req = n._http._test_only_last_request
    assert req is not None
    data: dict[str, list[str]] = {}
    for k, v in req.data.items():
        data[k] = [str(x) for x in v] if isinstance(v, list) else [str(v)]
    return req.url, data


def assert_no_token(result: SendResult, logs, caplog, capfd) -> None:
    out, err = capfd.readouterr()
    for where, text in [
        ("error", result.error or ""),
        ("structlog", repr(logs)),
        ("logging", caplog.text),
        ("stdout", out),
        ("stderr", err),
    ]:
        assert TOKEN not in text, f"auth token leaked into {where}"


def test_spec_patch_declares_exploded_form_arrays():
    spec = json.loads(SPEC.read_text())
    assert patch_spec(spec) > 0
    media = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Calls.json"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]
    assert media["encoding"]["StatusCallbackEvent"] == {"style": "form", "explode": True}


# -- through Prism ------------------------------------------------------------------------------------
async def test_sms_is_accepted_by_the_contract(prism):
    n = notifier(prism.url)
    try:
        result = await n.send(sms("o-1"))
        assert result.sent, result
        assert result.provider_id and result.provider_id.startswith("SM")
        url, form = last_form(n)
        assert url.startswith(prism.url + "/2010-04-01/Accounts/" + Prism.ACCOUNT_SID + "/Messages.json")
        assert form["To"] == ["+31612345678"] and form["From"] == ["+15005550006"]
        assert "K7" in form["Body"][0]
        assert form["StatusCallback"] == [f"{PUBLIC}/twilio/status?msg=o-1"]
    finally:
        await n.close()


async def test_call_is_accepted_by_the_contract(prism):
    n = notifier(prism.url)
    try:
        result = await n.send(call("o/2 x"))  # an id that needs quoting in the callback URLs
        assert result.sent, result
        assert result.provider_id and result.provider_id.startswith("CA")
        url, form = last_form(n)
        assert url.endswith("/Calls.json")
        assert form["Url"] == [f"{PUBLIC}/twilio/voice?msg=o%2F2%20x"]
        assert parse_qs(urlsplit(form["StatusCallback"][0]).query) == {"msg": ["o/2 x"]}
        # Repeated form keys, as Twilio wants them (Prism accepts them with the patched spec).
        assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
        assert form["Timeout"] == ["30"]
    finally:
        await n.close()


async def test_twilio_edge_and_region_env_do_not_move_the_base(prism, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "env-token-must-not-be-used")
    n = notifier(prism.url)
    try:
        assert (await n.send(sms("o-3"))).sent
        url, _ = last_form(n)
        assert url.startswith(prism.url + "/")
        scheme, _, encoded = n._http._test_only_last_request.headers["Authorization"].partition(" ")
        assert (scheme, base64.b64decode(encoded).decode()) == ("Basic", f"{Prism.ACCOUNT_SID}:{TOKEN}")
    finally:
        await n.close()


@pytest.mark.parametrize(
    "kw, message",
    [
        # StatusCallback must be a URI: a misconfigured public URL is a contract error (422 from Prism).
        ({"public_url": "pagerd.example.com"}, sms),
        ({"public_url": "pagerd.example.com"}, call),
        # The account SID in the path must match ^AC[0-9a-fA-F]{32}$.
        ({"account_sid": "ACnot-a-real-account"}, sms),
        ({"account_sid": "ACnot-a-real-account"}, call),
    ],
)
async def test_rejected_request_is_not_recoverable(prism, kw, message, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    n = notifier(prism.url, **kw)
    try:
        with capture_logs() as logs:
            result = await n.send(message())
    finally:
        await n.close()
    assert (result.sent, result.recoverable) == (False, False), result
    assert result.error and result.error.startswith("twilio http 422")
    assert [e["event"] for e in logs] == ["twilio_send_failed"]
    assert_no_token(result, logs, caplog, capfd)


@pytest.mark.parametrize("make", [sms, call])
async def test_invalid_number_is_refused_before_any_request(prism, make):
    # Real Twilio answers 400/21211; Prism does not check `format: phone-number`, so we check E.164 first.
    n = notifier(prism.url)
    try:
        result = await n.send(make(to="not-a-number"))
        assert (result.sent, result.recoverable) == (False, False)
        assert "E.164" in result.error
        assert n._http._test_only_last_request is None
    finally:
        await n.close()


async def test_sent_without_token_in_logs(prism, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    n = notifier(prism.url)
    try:
        with capture_logs() as logs:
            result = await n.send(sms("o-4"))
    finally:
        await n.close()
    assert result.sent
    assert [e["event"] for e in logs] == ["twilio_sent"]
    assert "twilio" in caplog.text.lower()  # the SDK did log its request ...
    assert_no_token(result, logs, caplog, capfd)  # ... without the token
    assert TOKEN not in repr(n)


# -- without Prism: network failures and provider answers -----------------------------------------
@pytest.mark.parametrize("make", [sms, call])
async def test_dead_port_is_recoverable(make, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    n = notifier(f"http://127.0.0.1:{free_port()}")
    try:
        with capture_logs() as logs:
            result = await n.send(make())
    finally:
        await n.close()
    assert (result.sent, result.recoverable) == (False, True), result
    assert result.error.startswith("twilio network")
    assert_no_token(result, logs, caplog, capfd)


@pytest.fixture
async def stub_twilio():
    """A loopback server answering every request with the status the test sets, Twilio-style JSON."""
    state: dict = {"status": 503, "delay": 0.0, "bodies": []}
    release = asyncio.Event()  # set at teardown, so a slow handler never holds up the shutdown

    async def handler(request: web.Request) -> web.Response:
        if state["delay"]:
            try:
                await asyncio.wait_for(release.wait(), state["delay"])
            except TimeoutError:
                pass
        state["bodies"].append(await request.text())
        s = state["status"]
        if s == 201:
            return web.json_response({"sid": "CAstub", "status": "queued"}, status=201)
        return web.json_response(
            {"code": 20000 + s, "message": f"stub says {s}", "status": s}, status=s, headers=state.get("headers")
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f"http://127.0.0.1:{port}", state
    release.set()
    await runner.cleanup()


@pytest.mark.parametrize(
    "status, recoverable",
    [(429, True), (500, True), (503, True), (400, False), (401, False), (404, False)],
)
async def test_http_status_classification(stub_twilio, status, recoverable):
    base, state = stub_twilio
    state["status"] = status
    n = notifier(base)
    try:
        result = await n.send(sms())
    finally:
        await n.close()
    assert (result.sent, result.recoverable) == (False, recoverable)
    assert result.error == f"twilio http {status} code {20000 + status}: Unable to create record: stub says {status}"


@pytest.mark.parametrize(
    "status, headers, retry_after",
    [
        (429, {"Retry-After": "7"}, 7.0),
        (503, {"Retry-After": "120"}, 120.0),
        (503, {}, None),
        (400, {"Retry-After": "7"}, None),  # not worth retrying at all
    ],
)
async def test_retry_after_of_a_refused_request_is_passed_on(stub_twilio, status, headers, retry_after):
    base, state = stub_twilio
    state["status"], state["headers"] = status, headers
    n = notifier(base)
    try:
        result = await n.send(sms())
    finally:
        await n.close()
    assert (result.sent, result.retry_after) == (False, retry_after)


async def test_call_status_events_go_as_repeated_form_keys(stub_twilio):
    # What Twilio documents and Prism accepts only with the patched spec (see tests/harness/prism.py).
    base, state = stub_twilio
    state["status"] = 201
    n = notifier(base)
    try:
        assert (await n.send(call())).sent
    finally:
        await n.close()
    (body,) = state["bodies"]
    assert (
        "StatusCallbackEvent=initiated&StatusCallbackEvent=ringing"
        "&StatusCallbackEvent=answered&StatusCallbackEvent=completed"
    ) in body


async def test_slow_api_times_out_recoverably(stub_twilio):
    base, state = stub_twilio
    state["delay"] = 2.0
    n = notifier(base, timeout=0.3)
    try:
        result = await n.send(sms())
    finally:
        await n.close()
    assert (result.sent, result.recoverable) == (False, True)
    assert "timeout" in result.error.lower()


# -- TwiML ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lang, language, voice, menu",
    [
        ("en", "en-GB", "Polly.Amy", ("1 to acknowledge", "2 to resolve", "3 to escalate")),
        ("nl", "nl-NL", "Polly.Lotte", ("1 om te bevestigen", "2 om op te lossen", "3 om te escaleren")),
    ],
)
def test_voice_twiml_reads_summary_and_offers_keys(lang, language, voice, menu):
    gather_url = "https://pagerd.example.com/twilio/voice?msg=o-2&step=gather"
    item = VoiceItem("K7", "acme/webshop", "disk full on db1 & db2")
    root = ET.fromstring(voice_twiml(voice_script([item], lang), gather_url))
    assert root.tag == "Response"
    gathers = root.findall("Gather")
    assert len(gathers) == 2  # asked once, repeated once
    for g in gathers:
        assert g.get("numDigits") == "1"
        assert g.get("action") == gather_url
        assert g.get("method") == "POST"
        said = " ".join(s.text or "" for s in g.findall("Say"))
        assert "disk full on db1 & db2" in said and "K7" in said and "acme, project webshop" in said
        assert all(key in said for key in menu)
    assert {(s.get("language"), s.get("voice")) for s in root.iter("Say")} == {(language, voice)}
    tail = list(root)[2:]
    assert [e.tag for e in tail] == ["Say", "Hangup"]
    assert ("Goodbye" if lang == "en" else "Tot ziens") in tail[0].text


def test_reply_twiml():
    root = ET.fromstring(gather_reply_twiml("Acknowledged. Thank you."))
    assert [(e.tag, e.text) for e in root] == [("Say", "Acknowledged. Thank you."), ("Hangup", None)]
    root = ET.fromstring(sms_reply_twiml("K7 acknowledged"))
    assert [(e.tag, e.text) for e in root] == [("Message", "K7 acknowledged")]
    assert list(ET.fromstring(sms_reply_twiml(""))) == []  # unknown numbers learn nothing


# -- X-Twilio-Signature: Twilio's published test vectors (twilio-python tests/unit/test_request_validator.py)
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_TOKEN = "12345"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
VECTOR_SIG = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_signature_published_vector_passes():
    assert verify_signature(VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS, VECTOR_SIG)
    assert verify_signature(VECTOR_TOKEN, VECTOR_URL, MultiDict(VECTOR_PARAMS), VECTOR_SIG)  # aiohttp's post()


@pytest.mark.parametrize(
    "token, url, params, sig",
    [
        (VECTOR_TOKEN, VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1"}, VECTOR_SIG),  # tampered param
        (VECTOR_TOKEN, VECTOR_URL, {**VECTOR_PARAMS, "Extra": "x"}, VECTOR_SIG),  # added param
        (VECTOR_TOKEN, VECTOR_URL.replace("foo=1", "foo=2"), VECTOR_PARAMS, VECTOR_SIG),  # other URL
        ("54321", VECTOR_URL, VECTOR_PARAMS, VECTOR_SIG),  # other token
        (VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),  # truncated
        (VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS, ""),  # missing header
        (VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS, None),
        ("", VECTOR_URL, VECTOR_PARAMS, VECTOR_SIG),  # no token configured
    ],
)
def test_signature_tampered_fails(token, url, params, sig):
    assert not verify_signature(token, url, params, sig)


def test_signature_repeated_keys():
    # twilio-python's duplicate-key vector: repeated form keys are all signed.
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    expected = "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert verify_signature(VECTOR_TOKEN, VECTOR_URL, MultiDict(pairs), expected)
    # a plain dict with list values means the same (the SDK alone would break on it)
    assert verify_signature(
        VECTOR_TOKEN, VECTOR_URL, {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234"]}, expected
    )
    assert not verify_signature(VECTOR_TOKEN, VECTOR_URL, MultiDict(pairs[:3]), expected)


def test_signature_json_body_with_body_sha256():
    body = '{"property": "value", "boolean": true}'
    url = VECTOR_URL + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    sig = "a9nBmqA0ju/hNViExpshrM61xv4="
    assert verify_signature(VECTOR_TOKEN, url, body, sig)
    assert verify_signature(VECTOR_TOKEN, url, body.encode(), sig)
    assert not verify_signature(VECTOR_TOKEN, url, body.replace("true", "false"), sig)  # body hash differs
    assert not verify_signature(VECTOR_TOKEN, VECTOR_URL, body, sig)  # raw body without bodySHA256
