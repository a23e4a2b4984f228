"""Redaction (pager/observe/redact.py) and where it applies: every log line (pagerd's own, the standard
library's, the access log, exceptions), the dry-run notifier's message bodies, and the Events v2
routing_key in a stored raw body."""

from __future__ import annotations

import base64
import io
import json
import logging
from pathlib import Path

import pytest
import structlog

from pager import config as config_mod
from pager.notify.base import Message
from pager.notify.dry_run import DryRunNotifier
from pager.observe import logging as plog
from pager.observe.redact import MARKER, PATTERNS_ONLY, Redactor, basic_credentials, config_secrets
from pager.sources import events_v2
from pager.sources.errors import InputError

GOOD = Path(__file__).resolve().parents[1] / "testdata" / "configs" / "good"
LINK = "MTIuYWNrLmRld2kuMTc2NzIyNTYwMA.q2l0Zy1zaWduYXR1cmUtMTY"
SIG = LINK.split(".")[1]


@pytest.mark.parametrize(
    "text, expect",
    [
        (f"GET /l/{LINK} HTTP/1.1", f"GET /l/{MARKER} HTTP/1.1"),
        (f"ack: https://pager.example/l/{LINK} now", f"ack: https://pager.example/l/{MARKER} now"),
        (f'"POST /l/{LINK}?x=1 HTTP/1.1" 200', f'"POST /l/{MARKER}?{MARKER} HTTP/1.1" 200'),
        ("GET /ical/people/dewi.ics?token=0123456789abcdef0123456789abcdef HTTP/1.1", f"GET /ical/{MARKER} HTTP/1.1"),
        ("https://p.example/ical/rotations/standby.ics?token=abc", f"https://p.example/ical/{MARKER}"),
        ("POST /twilio/status?msg=17&x=2 HTTP/1.1", f"POST /twilio/status?{MARKER} HTTP/1.1"),
        ("GET /api/v1/incidents?state=triggered HTTP/1.1", f"GET /api/v1/incidents?{MARKER} HTTP/1.1"),
        ("Authorization: Bearer abcdefgh12345678", f"Authorization: Bearer {MARKER}"),
        ("basic YW06czNjcmV0LXBhc3M=", f"basic {MARKER}"),
        ("see http://am:s3cret@alertmanager:9093/#/alerts", f"see http://{MARKER}@alertmanager:9093/#/alerts"),
        # what is not a token stays readable
        ("mail dewi@example.nl at http://h/x", "mail dewi@example.nl at http://h/x"),
        ("what now? nothing", "what now? nothing"),
        ("GET /api/v1/incidents/12 HTTP/1.1", "GET /api/v1/incidents/12 HTTP/1.1"),
        ("Bearer realm", "Bearer realm"),
        ("disk /var/lib full", "disk /var/lib full"),
    ],
)
def test_patterns(text, expect):
    assert PATTERNS_ONLY.text(text) == expect


def test_configured_secrets_in_every_form():
    r = Redactor(["s3cr\"et/value+1"])
    for form in ('s3cr"et/value+1', 's3cr\\"et/value+1', "s3cr%22et%2Fvalue%2B1"):
        assert r.text(f"x {form} y") == f"x {MARKER} y", form
    assert r.value({"a": ["s3cr\"et/value+1", 3], "b": ("s3cr\"et/value+1",)}) == {"a": [MARKER, 3], "b": (MARKER,)}
    assert (
        r.bytes(b'{"k": "s3cr\\"et/value+1", "v": "s3cr"et/value+1"}')
        == b'{"k": "s3cr\\"et/value+1", "v": "' + MARKER.encode() + b'"}'
    )  # bytes: as written only (the JSON-escaped form is the source's to find)


def test_a_stored_body_loses_url_credentials_and_configured_secrets_only():
    body = (
        b'{"externalURL": "http://am:pa55word@alertmanager:9093", "generatorURL": "https://prom/graph?g0=1",'
        b' "labels": {"team": "ops@example.nl", "note": "token tok-0123456789 here"}}'
    )
    assert Redactor(["tok-0123456789"]).bytes(body) == (
        b'{"externalURL": "http://[redacted]@alertmanager:9093", "generatorURL": "https://prom/graph?g0=1",'
        b' "labels": {"team": "ops@example.nl", "note": "token [redacted] here"}}'
    )


def test_config_secrets_are_every_secretstr_and_basic_auth_forms():
    cfg = config_mod.load(str(GOOD / "basic_auth.yaml"), env={})
    found = config_secrets(cfg)
    assert {
        "0123456789abcdef",
        "minimal-signing-key-0123456789abcdef",
        "s3cret-pass",
        "nagios-token-123",
        "routing-key-0001",
        "routing-key-0002",
        basic_credentials("am", "s3cret-pass"),
    } <= found
    assert base64.b64decode(basic_credentials("am", "s3cret-pass")) == b"am:s3cret-pass"
    assert "am" not in found  # a user name is not a secret


def _setup(stream: io.StringIO, redactor: Redactor, level: str = "debug") -> None:
    plog.setup(level, "json", stream=stream, redactor=redactor)


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    yield stream
    plog.setup("info", "json")  # back to stderr for the tests that follow
    structlog.reset_defaults()


async def test_every_log_line_is_redacted_at_every_level(log_stream):
    secret = "admin-token-0123456789abcdef-xyz"
    _setup(log_stream, Redactor([secret]))
    log = structlog.get_logger("pagerd.test")
    log.debug("d", url=f"http://h/l/{LINK}", nested={"list": [secret, f"Bearer {secret}"]})
    log.info(f"event text with {secret}")
    log.warning("w", obj=ValueError(f"bad /l/{LINK}"))
    try:
        raise RuntimeError(f"failed with {secret} at /l/{LINK}")
    except RuntimeError:
        log.exception("boom")
    # the standard library: aiohttp's access log and error log, with a traceback
    logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /l/%s HTTP/1.1" 200 "http://h/l/%s" "curl"', LINK, LINK)
    logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /ical/people/dewi.ics?token=%s HTTP/1.1" 200', SIG)
    try:
        raise OSError(f"peer said {secret}")
    except OSError:
        logging.getLogger("aiohttp.server").debug("Error handling request", exc_info=True)
    out = log_stream.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 7, out
    assert secret not in out and LINK not in out and SIG not in out, out
    assert "RuntimeError" in lines[3]["exception"] and MARKER in lines[3]["exception"]  # the traceback, redacted
    assert "OSError" in lines[6]["exception"] and MARKER in lines[6]["exception"]
    assert lines[4]["event"] == f'127.0.0.1 "GET /l/{MARKER} HTTP/1.1" 200 "http://h/l/{MARKER}" "curl"'


async def test_the_dry_run_notifier_logs_the_page_without_its_links(log_stream):
    _setup(log_stream, PATTERNS_ONLY, level="info")
    msg = Message(
        id="7",
        channel="sms",
        to="+31612345678",
        incident_id=12,
        body=f"[pagerd #12] disk full — reply 1 to ack, 2 to resolve http://p.example/l/{LINK}",
        links={"ack": f"http://p.example/l/{LINK}"},
    )
    assert (await DryRunNotifier().send(msg)).sent
    (line,) = [json.loads(x) for x in log_stream.getvalue().splitlines()]
    assert line["event"] == "page_dry_run" and line["body"].endswith(f"http://p.example/l/{MARKER}")
    assert LINK not in log_stream.getvalue()


EVENT = {
    "routing_key": "routing-key-0001",
    "event_action": "trigger",
    "payload": {
        "summary": "routing_key in a summary",
        "source": "db1",
        "severity": "critical",
        "custom_details": {"routing_key": "routing-key-0002"},
    },
}


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(EVENT).encode(),
        json.dumps(EVENT, indent=2).encode(),
        json.dumps(EVENT, ensure_ascii=True).replace("routing-key-0001", "routing\\u002dkey-0001").encode(),
        json.dumps({**EVENT, "payload": {**EVENT["payload"], "summary": "née \u2603"}}, ensure_ascii=False).encode(),
    ],
)
def test_the_stored_events_v2_body_holds_no_routing_key(body):
    stored = events_v2.without_routing_key(body)
    doc = json.loads(stored)
    assert doc["routing_key"] == MARKER and doc["payload"]["custom_details"]["routing_key"] == MARKER
    assert b"routing-key-000" not in stored and b"routing\\u002dkey" not in stored
    assert doc["payload"]["summary"] == json.loads(body)["payload"]["summary"]
    assert events_v2.without_routing_key(body) == stored  # the same body, the same stored bytes
    expected = body  # every other byte as received
    for raw in (b'"routing-key-0001"', b'"routing\\u002dkey-0001"', b'"routing-key-0002"'):
        expected = expected.replace(raw, json.dumps(MARKER).encode())
    assert stored == expected


def test_a_body_that_is_not_json_comes_back_as_it_is():
    assert events_v2.without_routing_key(b'{"routing_key": "abc') == b'{"routing_key": "abc'
    assert events_v2.without_routing_key(b"\xff\xfe") == b"\xff\xfe"
    with pytest.raises(InputError):
        events_v2.parse(b'{"routing_key": "abc')


# -- the redaction regex is built from the alternatives a text can match: same output as all of them --

_REFERENCE_PATTERNS = (  # the alternatives as one regex, tried at every character: the reference
    r"(?P<link>/l/)[^\s/?#\"'<>\\]+",
    r"(?P<ical>/ical/)[^\s\"'<>\\]+",
    r"(?<=[\w/.\-])(?P<query>\?)(?=[\w.%\-\[\]]+=)[^\s\"'<>\\#]+",
    r"(?P<userinfo>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s\"'<>@:\\]+:[^/\s\"'<>@\\]+@",
    r"(?P<auth>\b(?i:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{8,}",
)


def _reference(secrets: list[str]):
    import re

    from pager.observe.redact import _variants

    forms = sorted({v for s in secrets for v in _variants(s)}, key=len, reverse=True)
    alternatives = [f"(?P<secret>{'|'.join(re.escape(f) for f in forms)})"] if forms else []
    rx = re.compile("|".join(alternatives + list(_REFERENCE_PATTERNS)))

    def replace(m):
        if m.group("userinfo"):
            return m.group("userinfo") + MARKER + "@"
        return (m.group("link") or m.group("ical") or m.group("query") or m.group("auth") or "") + MARKER

    return lambda s: rx.sub(replace, s)


_SECRETS = ['s3cr"et/value+1', "tok-0123456789", "basic-pw", "l/ical"]
_PIECES = [
    "/l/",
    "/ical/",
    "?",
    "=",
    "://",
    "@",
    ":",
    "/",
    ".",
    "-",
    "#",
    '"',
    "'",
    "<",
    "\\",
    " ",
    "\t",
    "\n",
    "bearer ",
    "Basic ",
    "BASİC ",
    "baſic ",
    "BEARER\t",
    "bearer",
    "http",
    "https://",
    "a:b@",
    "user:pw@h",
    "x=1",
    "token=abc",
    "[0]=",
    "%20",
    "abcdefgh12345678",
    "YW06czNjcmV0",
    "ı",
    "İ",
    "ſ",
    "K",
    "é",
    "😀",
    "\ud800",
    "\x00",
    "\x7f",
    "0",
    "_",
    "web",
    "GET ",
    "HTTP/1.1",
    *_SECRETS,
    's3cr\\"et/value+1',
    "s3cr%22et%2Fvalue%2B1",
]


def _hostile_texts():
    from hypothesis import strategies as st

    pieces = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=4)), max_size=30).map("".join)
    return st.one_of(pieces, st.text(max_size=60))


def test_the_regex_of_the_present_alternatives_redacts_as_all_of_them():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cases = [([], PATTERNS_ONLY, _reference([])), (_SECRETS, Redactor(_SECRETS), _reference(_SECRETS))]

    @settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=_hostile_texts(), which=st.sampled_from([0, 1]))
    def check(text, which):
        _, redactor, reference = cases[which]
        assert redactor.text(text) == reference(text)

    check()


def test_the_alternatives_are_the_reference_ones():
    from pager.observe import redact

    assert tuple(pattern for _, pattern, _ in redact._PATTERNS) == _REFERENCE_PATTERNS


def test_only_b_and_B_read_as_b_for_the_credential_word():
    """The credential alternative is looked for from [bB]: no other character matches a
    case-insensitive "b" (unlike "s", "i" and "k", which "ſ", "İ", "ı" and "K" match)."""
    import re
    import sys

    assert [c for c in range(sys.maxunicode + 1) if re.fullmatch("(?i:b)", chr(c))] == [ord("B"), ord("b")]


def test_the_twilio_sdks_request_lines_stay_out_of_the_log_at_info() -> None:
    """The SDK logs each request (method, URL, headers, answer) at INFO; pagerd logs one line per message."""
    import io
    import logging

    from pager.observe import logging as plog

    out = io.StringIO()
    plog.setup("info", "json", stream=out)
    logging.getLogger("twilio.http_client").info("-- BEGIN Twilio API Request --")
    logging.getLogger("twilio.http_client").warning("a retry")
    logging.getLogger("pagerd.notify.twilio").info("message_sent")
    text = out.getvalue()
    assert "BEGIN Twilio API Request" not in text
    assert "a retry" in text and "message_sent" in text
    plog.setup("debug", "json", stream=out)  # at debug the SDK's lines are kept
    logging.getLogger("twilio.http_client").info("-- BEGIN Twilio API Request --")
    assert "BEGIN Twilio API Request" in out.getvalue()
    plog.setup("info", "json")  # back to stderr for the tests that follow
