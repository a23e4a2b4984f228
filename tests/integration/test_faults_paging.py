"""Pages through a faulty network: a fault-injecting proxy (tests/harness/faultproxy.py) sits between the
real daemon and its providers, Prism serving Twilio's own API contract and a real SMTP server (aiosmtpd).
The providers answer 5xx, 429 with Retry-After, hang, reset the connection, or are down for minutes.

Each page is retried with backoff (10 s, 20 s, 40 s ... at most 5 min; never before the provider's
Retry-After), its person is moved on to the next contact method at the first failure, and every page
reaches the provider exactly once: what reached Prism and the SMTP server is counted by the message id
the outbox gives each message (Twilio's StatusCallback and Url, the e-mail's X-Pagerd-Message). While a
provider is down the outbox metrics show the backlog, counted from the first attempt; it drops to zero
once the provider is back. The daemon runs on the manual clock: the retries are checked to the second.
"""

from __future__ import annotations

import email
import email.policy
import re
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller

from tests.harness.faultproxy import Fault, FaultProxy
from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import _Dumper, events, fire, incident, short_config, ts, twilio_env
from tests.harness.ports import free_port
from tests.harness.prism import Prism

pytestmark = pytest.mark.peer("prism")

START = "2026-01-07T09:00:00Z"  # a Wednesday, 10:00 in Amsterdam: the office rotation is paged
STEPS = [{"targets": ["oncall"], "wait": "1h"}, {"targets": ["oncall"], "wait": "1h"}]  # no step in the way
SECOND = timedelta(seconds=1)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"

    def ids(self) -> list[str]:
        return [m["X-Pagerd-Message"] for m in self.messages]


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    p = Prism(tmp_path_factory.mktemp("prism")).start()
    yield p
    p.stop()


@pytest.fixture
def peers(prism):
    """(twilio proxy, smtp proxy, inbox): fault proxies in front of Prism and of a real SMTP server."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), ready_timeout=5)
    controller.start()
    twilio = FaultProxy(prism.url, http=True).start()
    smtp = FaultProxy(f"127.0.0.1:{controller.port}").start()
    yield twilio, smtp, inbox
    twilio.stop()
    smtp.stop()
    controller.stop()


def start_daemon(tmp_path: Path, twilio: FaultProxy, smtp: FaultProxy, contact_rules: list[dict]) -> PagerdProcess:
    """The example config on the manual clock, paging through the proxies; providers time out after 1 s."""
    path = short_config(
        tmp_path / "pagerd.yaml", steps=STEPS, contact_rules=contact_rules, clock_start=START, heartbeats={}
    )  # no heartbeat falls silent while the clock moves minutes
    cfg = yaml.safe_load(path.read_text())
    cfg["notifier"]["twilio"]["timeout"] = "1s"
    cfg["notifier"]["smtp"]["timeout"] = "1s"
    path.write_text(yaml.dump(cfg, Dumper=_Dumper, sort_keys=False))
    env = {**twilio_env(twilio.url), "PAGERD_SMTP_HOST": "127.0.0.1", "PAGERD_SMTP_PORT": str(smtp.port)}
    return PagerdProcess(tmp_path / "pagerd", config=path, extra_env=env).start()


def outbox_metrics(d: PagerdProcess) -> tuple[dict[str, float], float]:
    """(pagerd_outbox_pending by channel, pagerd_outbox_oldest_pending_age_seconds)."""
    with urllib.request.urlopen(d.url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    pending = {m[1]: float(m[2]) for m in re.finditer(r'^pagerd_outbox_pending\{channel="(\w+)"\} (\S+)$', text, re.M)}
    (age,) = re.findall(r"^pagerd_outbox_oldest_pending_age_seconds (\S+)$", text, re.M)
    return pending, float(age)


def msg_of(request: dict) -> str:
    """The outbox message id a Twilio request carries (in its StatusCallback, for a call also in its Url)."""
    (callback,) = request["form"]["StatusCallback"]
    return callback.rpartition("msg=")[2]


def sent_pages(inc: dict, channel: str) -> list[dict]:
    return [e for e in events(inc, "paged", channel=channel)]


def attempts_by(d: PagerdProcess, proxy: FaultProxy, count: int, what: str) -> None:
    """Wait until the proxy has seen `count` attempts (faults taken + requests forwarded, or connections)."""
    d.wait_for(lambda _: proxy.connections >= count, timeout=30, interval=0.05)
    assert proxy.connections == count, f"{what}: {proxy.connections} attempts, expected {count}"


# -- Twilio: 503, 429 with Retry-After, a hang, a reset, then through ----------------------------------
def test_sms_is_retried_with_backoff_honouring_retry_after_and_reaches_twilio_once(peers, tmp_path):
    twilio, smtp, inbox = peers
    twilio.plan(
        Fault.status(503), Fault.status(429, retry_after=100), Fault.hang(), Fault.reset(), path="/Messages.json"
    )
    d = start_daemon(tmp_path, twilio, smtp, [{"channel": "sms", "after": "0s"}, {"channel": "voice", "after": "2m"}])
    try:
        t0 = d.now()
        iid = fire(d, "FaultySms", "api1 answers 502")
        # The SMS fails at once (503); the person is moved on to the call at once, not after its 2 minutes.
        inc = d.wait_for(lambda p: (lambda i: i if sent_pages(i, "voice") else None)(incident(p, iid)), timeout=30)
        (call,) = sent_pages(inc, "voice")
        assert (call["data"]["status"], ts(call["at"])) == ("sent", t0)
        assert sent_pages(inc, "sms") == []
        assert outbox_metrics(d) == ({"sms": 1.0, "voice": 0.0, "email": 0.0}, 0.0)

        # attempt n+1 is due 5 s x 2^n after attempt n (10 s, 20 s, 40 s, 80 s), but after the 429 not
        # before its Retry-After (100 s); one second before each, nothing is tried
        def sms_attempts() -> list:
            messages = [t for t in twilio.taken() if t["path"].endswith("/Messages.json")]
            return messages + twilio.forwarded("/Messages.json")

        elapsed = timedelta(0)
        for wait, fault_before in ((10, "503"), (100, "429"), (40, "hang"), (80, "reset")):
            tried = len(sms_attempts())
            d.advance(timedelta(seconds=wait) - SECOND)
            assert len(sms_attempts()) == tried, f"tried again before the {wait} s after the {fault_before}"
            pending, age = outbox_metrics(d)  # the waiting SMS is backlog, counted from its first attempt
            elapsed += timedelta(seconds=wait) - SECOND
            assert (pending["sms"], age) == (1.0, elapsed.total_seconds())
            d.advance(SECOND)
            elapsed += SECOND
            assert len(sms_attempts()) == tried + 1, f"not tried {wait} s after the {fault_before}"
        assert d.now() == t0 + timedelta(seconds=230)

        inc = incident(d, iid)
        (sms,) = sent_pages(inc, "sms")
        assert (sms["data"]["status"], ts(sms["at"])) == ("sent", t0 + timedelta(seconds=230))
        assert [t["kind"] for t in twilio.taken()] == ["status", "status", "hang", "reset"]
        # Prism got the SMS once and the call once, each under its outbox message id; both in its contract.
        (sms_req,) = twilio.forwarded("/Messages.json")
        (call_req,) = twilio.forwarded("/Calls.json")
        assert (msg_of(sms_req), msg_of(call_req)) == (str(sms["data"]["message_id"]), str(call["data"]["message_id"]))
        assert (sms_req["status"], call_req["status"]) == (201, 201)
        assert f"#{iid}" in sms_req["form"]["Body"][0]
        assert outbox_metrics(d) == ({"sms": 0.0, "voice": 0.0, "email": 0.0}, 0.0)
    finally:
        d.stop()
        print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")


# -- SMTP: 421, a hang, a reset, then through -------------------------------------------------------
def test_email_is_retried_with_backoff_and_delivered_once(peers, tmp_path):
    twilio, smtp, inbox = peers
    smtp.plan(Fault.smtp(421), Fault.hang(), Fault.reset())
    d = start_daemon(tmp_path, twilio, smtp, [{"channel": "email", "after": "0s"}])
    try:
        t0 = d.now()
        iid = fire(d, "FaultyMail", "backup of nas2 failed")
        attempts_by(d, smtp, 1, "the first attempt")
        for n, wait in enumerate((10, 20, 40), start=2):
            d.advance(timedelta(seconds=wait) - SECOND)
            assert smtp.connections == n - 1, f"attempt {n} came before its {wait} s"
            d.advance(SECOND)
            attempts_by(d, smtp, n, f"attempt {n}")
        d.wait_for(lambda _: inbox.messages, timeout=30, interval=0.05)
        inc = incident(d, iid)
        (mail,) = sent_pages(inc, "email")
        assert (mail["data"]["status"], ts(mail["at"])) == ("sent", t0 + timedelta(seconds=70))
        assert inbox.ids() == [str(mail["data"]["message_id"])]  # delivered once
        assert inbox.messages[0]["Message-ID"] == mail["data"]["provider_id"]
        assert [t["kind"] for t in smtp.taken()] == ["smtp", "hang", "reset"]
        d.advance("10m")  # nothing more goes out
        assert len(inbox.messages) == 1 and smtp.connections == 4
    finally:
        d.stop()
        print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")


# -- both providers down for ten minutes -------------------------------------------------------------
def test_providers_down_for_minutes_nothing_lost_nothing_doubled_backlog_shown(peers, tmp_path):
    twilio, smtp, inbox = peers
    twilio.down()
    smtp.down()
    d = start_daemon(
        tmp_path,
        twilio,
        smtp,
        [{"channel": "sms", "after": "0s"}, {"channel": "voice", "after": "2m"}, {"channel": "email", "after": "0s"}],
    )
    try:
        t0 = d.now()
        iids = [fire(d, f"Outage{n}", f"site{n} unreachable") for n in range(3)]
        d.wait_for(
            lambda _: outbox_metrics(d)[0] == {"sms": 3.0, "voice": 3.0, "email": 3.0}, timeout=30, interval=0.1
        )  # the calls were brought forward at the SMS's first failure
        for _ in range(10):  # ten minutes down: the backlog stays, and ages with the clock
            now = d.advance("1m")
            assert outbox_metrics(d) == ({"sms": 3.0, "voice": 3.0, "email": 3.0}, (now - t0).total_seconds())
        down_attempts = len(twilio.taken()) + len(smtp.taken())
        # backoff, not a retry on every tick: at most 7 attempts of each message's bundle in ten minutes
        assert down_attempts <= 3 * 7, down_attempts
        for iid in iids:
            inc = incident(d, iid)
            assert events(inc, "paged") == [] and inc["state"] == "triggered"  # none given up, none sent

        twilio.up()
        smtp.up()
        d.advance("5m")  # the longest wait between two attempts
        d.wait_for(
            lambda _: outbox_metrics(d) == ({"sms": 0.0, "voice": 0.0, "email": 0.0}, 0.0), timeout=30, interval=0.1
        )
        d.wait_for(lambda _: len(inbox.messages) >= 1, timeout=30, interval=0.05)

        sms_ids = [msg_of(r) for r in twilio.forwarded("/Messages.json")]
        call_ids = [msg_of(r) for r in twilio.forwarded("/Calls.json")]
        mail_ids = inbox.ids()
        for ids in (sms_ids, call_ids, mail_ids):
            assert len(ids) == len(set(ids)), f"a message reached its provider twice: {ids}"  # never doubled
        reached = {"sms": set(sms_ids), "voice": set(call_ids), "email": set(mail_ids)}
        for iid in iids:  # never lost: every page of every incident went out, in a message that arrived
            inc = incident(d, iid)
            for channel in ("sms", "voice", "email"):
                (page,) = sent_pages(inc, channel)
                assert page["data"]["status"] == "sent", page
                assert str(page["data"]["message_id"]) in reached[channel], (channel, page, reached)
        for r in twilio.forwarded():
            assert r["status"] == 201, r  # Prism took each in Twilio's contract
    finally:
        d.stop()
        print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")
