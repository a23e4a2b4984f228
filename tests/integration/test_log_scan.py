"""A full run of the real daemon at log level debug with the access log on, through a scenario that
issues and uses every kind of token, then a scan of everything pagerd wrote or answered for every
configured secret and every issued token (whole, and its signature part).

Tokens issued: one-tap links in the dry-run pages (SMS, voice, e-mail), iCal feed URLs, Twilio-signed
callbacks (SMS reply, voice, status). Secrets used: the admin token, a webhook bearer token, Nagios
Basic auth, an Events v2 routing_key, the signing key and a previous one, the Twilio auth token, an SMTP
password; and wrong tokens in failing attempts (a header, a query string, a routing_key).
Scanned: the daemon's stdout and stderr, /metrics, every error body, every incident's timeline, the
stored raw bodies."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from twilio.request_validator import RequestValidator

from pager.observe.redact import MARKER
from pager.service import links
from pager.service.signing import Keyring
from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import FORM, FROM_NUMBER, TwilioTap, events, fire, incident, short_config, wait_event
from tests.harness.ports import free_port
from tests.harness.prism import Prism

START = datetime(2026, 1, 7, 9, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Amsterdam: the office pages
ADMIN = "scan-admin-token-7f3a9c1e5b2d4f60a8e1"
WEBHOOK = "scan-webhook-bearer-2c9e4b7a1f5d3e08"
NAGIOS_USER, NAGIOS_PASSWORD = "nagios", "scan-nagios-password-5e1a9c3f7b2d"
ROUTING_KEY = "scan-routing-key-9b4e2a7c1d5f3e6a"
SIGNING_KEY = "scan-signing-key-0a1b2c3d4e5f6a7b8c9d0e1f"
PREVIOUS_SIGNING_KEY = "scan-previous-signing-key-f0e1d2c3b4a59687"
TWILIO_SID, TWILIO_TOKEN = "AC" + "5" * 32, "scan-twilio-auth-token-3c7e1a9b5d2f"
SMTP_PASSWORD = "scan-smtp-password-8d2b6f0a4c1e"
WRONG = (
    "scan-wrong-admin-token-1a2b3c4d5e6f",
    "scan-wrong-bearer-6f5e4d3c2b1a",
    "scan-wrong-routing-key-0f9e8d7c",
    "scan-token-in-a-query-4b3a2c1d0e9f",
)
SECRETS = (
    ADMIN,
    WEBHOOK,
    NAGIOS_PASSWORD,
    ROUTING_KEY,
    SIGNING_KEY,
    PREVIOUS_SIGNING_KEY,
    TWILIO_TOKEN,
    SMTP_PASSWORD,
    *WRONG,
    base64.b64encode(f"{NAGIOS_USER}:{NAGIOS_PASSWORD}".encode()).decode(),
    base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode(),
)


def scan_config(tmp_path, notifier: dict | None = None) -> str:
    path = short_config(tmp_path / "pagerd.yaml", clock_start=START.isoformat())
    cfg = yaml.safe_load(path.read_text())
    cfg["server"]["access_log"] = True
    cfg["logging"] = {"level": "debug", "format": "json"}
    cfg["auth"] = {"admin_token": ADMIN, "signing_key": SIGNING_KEY, "previous_signing_keys": [PREVIOUS_SIGNING_KEY]}
    cfg["sources"]["alertmanager"]["auth"] = {"bearer": WEBHOOK}
    cfg["sources"]["nagios"]["auth"] = {"basic": {"username": NAGIOS_USER, "password": NAGIOS_PASSWORD}}
    cfg["sources"]["events_v2"]["routing_keys"] = [ROUTING_KEY]
    cfg["notifier"].update(
        notifier
        or {
            "kind": "dry_run",  # every page simulated and logged, links included
            "twilio": {
                "account_sid": TWILIO_SID,
                "auth_token": TWILIO_TOKEN,
                "from": FROM_NUMBER,
            },  # signs the callbacks
            "smtp": {"password": SMTP_PASSWORD},
        }
    )
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return str(path)


class Run:
    """The daemon, and every answer it gave with a status of 400 or more."""

    def __init__(self, d: PagerdProcess) -> None:
        self.d = d
        self.errors: list[tuple[str, int, str]] = []

    def request(self, method: str, path: str, body: bytes | None = None, **kw) -> tuple[int, object]:
        status, answer = self.d.request(method, path, body, **kw)
        if status >= 400:
            self.errors.append((path, status, answer if isinstance(answer, str) else json.dumps(answer)))
        return status, answer

    def twilio(self, path_qs: str, params: dict[str, str], *, token: str = TWILIO_TOKEN) -> tuple[int, object]:
        signature = RequestValidator(token).compute_signature(self.d.url + path_qs, params)
        return self.request(
            "POST", path_qs, urlencode(params).encode(), content_type=FORM, headers={"X-Twilio-Signature": signature}
        )


@pytest.fixture
def daemon(tmp_path):
    d = PagerdProcess(
        tmp_path / "pagerd",
        config=scan_config(tmp_path),
        webhook_token=WEBHOOK,
        admin_token=ADMIN,
        signing_key=SIGNING_KEY,
    )
    try:
        d.start()
        yield d
    finally:
        d.stop()


def link_tokens(iids: list[int], people: list[str], instants: list[datetime], ttl: timedelta) -> set[str]:
    """Every one-tap link token pagerd can have issued: any incident, action and person, signed at any
    instant the clock stood at (as the signing key or the previous one would sign it)."""
    out = set()
    for key in (SIGNING_KEY, PREVIOUS_SIGNING_KEY):
        keys = Keyring(key.encode())
        for iid in iids:
            for person in people:
                for action in links.ACTIONS:
                    for at in instants:
                        for generation in (0, 1):  # the opening round, and a reopen's
                            out.add(links.sign(keys, iid, action, person, at + ttl, generation=generation))
    return out


def test_nothing_secret_reaches_a_log_line_metrics_an_error_body_or_a_timeline(daemon, tmp_path):
    run = Run(daemon)
    d = daemon
    cfg = yaml.safe_load(open(d.config).read())
    people = sorted(cfg["people"])
    instants = [START]

    # -- alerts in, with each source's credentials (each paged on its own, with its one-tap links), and
    # failing attempts with wrong ones
    am = fire(d, "ScanDiskFull", "Disk full on db1")
    wait_event(d, am, "paged", channel="sms")
    ng_form = {
        "NOTIFICATIONTYPE": "PROBLEM",
        "HOSTNAME": "web01",
        "HOSTSTATE": "UP",
        "SERVICEDESC": "HTTP login",
        "SERVICESTATE": "CRITICAL",
        "SERVICEPROBLEMID": "4711",
        "NOTIFICATIONNUMBER": "1",
    }
    basic = base64.b64encode(f"{NAGIOS_USER}:{NAGIOS_PASSWORD}".encode()).decode()
    status, answer = run.request(
        "POST",
        "/api/v1/alerts/nagios",
        urlencode(ng_form).encode(),
        content_type=FORM,
        headers={"Authorization": f"Basic {basic}"},
    )
    assert status == 200, answer
    (ng,) = answer["incidents"]
    wait_event(d, ng, "paged", channel="sms")
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "scan-ev2",
        "payload": {"summary": "Queue backlog on mq1", "source": "mq1", "severity": "critical"},
    }
    status, answer = run.request("POST", "/v2/enqueue", json.dumps(event).encode())
    assert status == 202, answer
    status, again = run.request("POST", "/v2/enqueue", json.dumps(event).encode())  # a re-delivery, byte for byte
    assert status == 202, again

    wrong_basic = base64.b64encode(f"{NAGIOS_USER}:{WRONG[1]}".encode()).decode()
    assert run.request("GET", "/api/v1/incidents", token=WRONG[0])[0] == 401
    assert run.request("GET", f"/api/v1/incidents?access_token={WRONG[3]}")[0] in (400, 401)
    assert run.request("POST", "/api/v1/alerts/alertmanager", b"{}", token=WRONG[1])[0] == 401
    assert (
        run.request(
            "POST",
            "/api/v1/alerts/nagios",
            urlencode(ng_form).encode(),
            content_type=FORM,
            headers={"Authorization": f"Basic {wrong_basic}"},
        )[0]
        == 401
    )
    assert run.request("POST", "/v2/enqueue", json.dumps({**event, "routing_key": WRONG[2]}).encode())[0] == 401
    assert (
        run.request(
            "POST",
            "/v2/enqueue",
            json.dumps(
                {**event, "routing_key": ROUTING_KEY, "payload": {"summary": "x", "source": "y", "severity": "nope"}}
            ).encode(),
        )[0]
        == 422
    )

    # -- pages (dry-run, each with its one-tap links), then the voice calls a few seconds later -------------
    iids = [am, ng, *[i["id"] for i in d.incidents() if i["source"] == "events_v2"]]
    assert len(iids) == 3
    for iid in iids:
        wait_event(d, iid, "paged", channel="sms")
    instants.append(d.advance("5s"))
    for iid in iids:
        wait_event(d, iid, "paged", channel="voice")
    ttl = timedelta(hours=24)  # notifier.link_ttl
    tokens = link_tokens(iids, people, instants, ttl)

    # -- the links in use: the page, a bogus token, the acknowledge by link ---------------------------------
    inc = incident(d, am)
    person = events(inc, "paging")[0]["data"]["people"][0]
    ack = links.sign(Keyring(SIGNING_KEY.encode()), am, "ack", person, START + ttl, generation=0)
    assert ack in tokens
    assert run.request("GET", f"/l/{ack}")[0] == 200
    assert run.request("GET", f"/l/{ack[:-4]}AAAA")[0] == 404
    status, page = run.request("POST", f"/l/{ack}", b"", content_type=FORM)
    assert status == 200 and "acknowledged" in page

    # -- iCal feeds: the URLs the API issues, fetched; a wrong token -----------------------------------------
    status, rotations = run.request("GET", "/api/v1/rotations", token=ADMIN)
    assert status == 200
    feed_tokens = set()
    for rot in rotations:
        url = urlsplit(rot["ical_url"])
        feed_tokens.add(dict(p.split("=", 1) for p in url.query.split("&"))["token"])
        assert run.request("GET", f"{url.path}?{url.query}")[0] == 200
    assert run.request("GET", f"{url.path}?token={'0' * 32}")[0] == 404

    # -- Twilio callbacks, signed; one with a signature under a wrong token ---------------------------------
    phone = cfg["people"][events(incident(d, ng), "paging")[0]["data"]["people"][0]]["phone"]
    status, twiml = run.twilio(
        "/twilio/sms",
        {
            "From": phone,
            "To": "+15005550006",
            "Body": f"ack {ng}",
            "MessageSid": "SM" + "1" * 32,
            "AccountSid": TWILIO_SID,
        },
    )
    assert status == 200 and "acknowledged" in twiml, twiml
    mid = str(events(incident(d, iids[2]), "paged", channel="voice")[0]["data"]["message_id"])
    assert run.twilio(f"/twilio/voice?msg={mid}", {"CallSid": "CA" + "2" * 32, "AccountSid": TWILIO_SID})[0] == 200
    assert (
        run.twilio(
            f"/twilio/status?msg={mid}",
            {"CallSid": "CA" + "2" * 32, "CallStatus": "completed", "AccountSid": TWILIO_SID},
        )[0]
        == 204
    )
    assert run.twilio("/twilio/sms", {"From": phone, "Body": "1"}, token=WRONG[1])[0] == 403

    # -- the admin API ---------------------------------------------------------------------------------------
    assert (
        run.request("POST", f"/api/v1/incidents/{iids[2]}/resolve", json.dumps({"by": "scan"}).encode(), token=ADMIN)[0]
        == 200
    )
    assert run.request("GET", "/api/v1/incidents/999999", token=ADMIN)[0] == 404
    assert run.request("GET", "/api/v1/oncall", token=ADMIN)[0] == 200
    instants.append(d.advance("10s"))
    tokens |= link_tokens(iids, people, instants[-1:], ttl)

    # -- what pagerd wrote and answered ----------------------------------------------------------------------
    status, metrics = run.request("GET", "/metrics")
    assert status == 200
    timelines = [json.dumps(incident(d, i)["timeline"]) for i in iids]
    d.stop()
    log = d.log_path.read_text(errors="replace")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    # the run really logged what could leak: debug lines, the access log, the dry-run pages with their links
    assert any(x.get("level") == "debug" for x in lines)
    assert any(x.get("logger") == "aiohttp.access" and f'/l/{MARKER}' in x["event"] for x in lines), log[-3000:]
    assert any(x.get("logger") == "aiohttp.access" and "/ical/" in x["event"] for x in lines)
    assert any(x.get("event") == "page_dry_run" and f"/l/{MARKER}" in x.get("body", "") for x in lines)
    assert len(run.errors) >= 9

    with sqlite3.connect(d.db_path) as db:
        bodies = [bytes(b) for (b,) in db.execute("SELECT body FROM deliveries WHERE body IS NOT NULL")]
        ev2 = [json.loads(b) for (s, b) in db.execute("SELECT source, body FROM deliveries") if s == "events_v2"]
    assert [e["routing_key"] for e in ev2] == [MARKER]  # stored once: the re-delivery matched its redacted bytes

    places = {
        "log": log,
        "metrics": metrics,
        "errors": "\n".join(body for _, _, body in run.errors),
        "timelines": "\n".join(timelines),
        "raw bodies": b"\n".join(bodies).decode(errors="replace"),
    }
    assert_no_leaks(places, tokens, feed_tokens)


def assert_no_leaks(places: dict[str, str], tokens: set[str], feed_tokens: set[str] = frozenset()) -> None:
    wanted = {
        "secret": SECRETS,
        "link token": tokens,
        "link signature": {t.rpartition(".")[2] for t in tokens},
        "feed token": feed_tokens,
    }
    leaks = [
        (where, what, value)
        for where, text in places.items()
        for what, values in wanted.items()
        for value in values
        if value in text
    ]
    assert leaks == []
    # nothing that looks like a link or feed token either, whatever its format
    for where, text in places.items():
        assert re.findall(r"/l/(?!\[redacted\])[^\s\"'<>]+", text) == [], where
        assert re.findall(r"token=(?!\[redacted\])[0-9a-f]{8,}", text) == [], where


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    p = Prism(tmp_path_factory.mktemp("prism")).start()
    yield p
    p.stop()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"


def _smtp_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == b"pager" and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.mark.peer("prism")
def test_nothing_secret_leaks_when_pages_go_out_through_twilio_and_smtp(prism, tmp_path):
    """The same scan with the real providers: SMS and voice through Twilio's contract (Prism, behind a
    recording tap that shows the links as the phones got them), e-mail through an SMTP server with AUTH."""
    tap = TwilioTap(prism.url).start()
    inbox = Inbox()
    smtpd = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        ready_timeout=5,
        authenticator=_smtp_login,
        auth_require_tls=False,
    )
    smtpd.start()
    notifier = {
        "kind": "auto",
        "twilio": {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from": FROM_NUMBER, "api_base": tap.url},
        "smtp": {
            "host": "127.0.0.1",
            "port": smtpd.port,
            "username": "pager",
            "password": SMTP_PASSWORD,
            "from": "pagerd@example.nl",
        },
    }
    d = PagerdProcess(
        tmp_path / "pagerd",
        config=scan_config(tmp_path, notifier),
        webhook_token=WEBHOOK,
        admin_token=ADMIN,
        signing_key=SIGNING_KEY,
    )
    try:
        d.start()
        run = Run(d)
        iid = fire(d, "ScanProviders", "Disk full on db2")
        wait_event(d, iid, "paged", channel="sms")
        wait_event(d, iid, "paged", channel="email")
        d.advance("5s")
        inc = wait_event(d, iid, "paged", channel="voice")
        assert all(e["data"]["status"] == "sent" for e in events(inc, "paged")), events(inc, "paged")
        texts = [r["form"]["Body"][0] for r in tap.sent("sms")] + [
            m.get_body(preferencelist=("plain",)).get_content() for m in inbox.messages
        ]
        tokens = {t for text in texts for t in re.findall(r"/l/([^\s/]+)", text)}
        assert len(tokens) >= 2, texts  # acknowledge and resolve, as the phone and the mailbox got them
        ack = re.search(r"/l/(\S+)", tap.sent("sms")[0]["form"]["Body"][0]).group(1)
        status, page = run.request("POST", f"/l/{ack}", b"", content_type=FORM)
        assert status == 200 and "acknowledged" in page
        assert run.request("GET", "/api/v1/incidents", token=WRONG[0])[0] == 401
        status, metrics = run.request("GET", "/metrics")
        timeline = json.dumps(incident(d, iid)["timeline"])
    finally:
        d.stop()
        tap.stop()
        smtpd.stop()
    log = d.log_path.read_text(errors="replace")
    assert 'POST /l/[redacted] HTTP/1.1' in log and "smtp_sent" in log and "twilio_sent" in log
    assert_no_leaks(
        {"log": log, "metrics": metrics, "timeline": timeline, "errors": "\n".join(body for _, _, body in run.errors)},
        tokens,
    )
