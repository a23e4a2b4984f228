"""E-mail pages received by a real SMTP server (aiosmtpd) on a loopback port."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import datetime, timezone

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from structlog.testing import capture_logs

from pager.clock import ManualClock
from pager.notify.base import Message
from pager.notify.smtp import SmtpNotifier, message_id_for
from tests.harness.ports import free_port

PASSWORD = "pw-9d8c7b6a-NEVER-LOG-ME"
LINKS = {
    "ack": "https://pagerd.example.com/a/ack?i=42&sig=abc",
    "resolve": "https://pagerd.example.com/a/resolve?i=42&sig=def",
}


class Inbox:
    """An aiosmtpd handler that keeps every message; `rcpt_reply` makes it refuse recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.rcpt_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def check_password(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == b"pager" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 on failure


@pytest.fixture(scope="module")
def smtpd():
    inbox = Inbox()
    # Accepts AUTH without TLS (loopback test server only); sending without AUTH is allowed too.
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        ready_timeout=5,
        authenticator=check_password,
        auth_require_tls=False,
    )
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def inbox(smtpd):
    _, box = smtpd
    box.messages.clear()
    box.rcpt_reply = None
    return box


def notifier(port: int, **kw) -> SmtpNotifier:
    args = dict(
        host="127.0.0.1",
        port=port,
        from_address="pagerd <pager@agency.example>",
        timeout=3.0,
        clock=ManualClock(datetime(2024, 3, 5, 2, 14, tzinfo=timezone.utc)),
    )
    args.update(kw)
    return SmtpNotifier(**args)


def page(id: str = "o-7") -> Message:
    return Message(
        id=id,
        channel="email",
        to="oncall@agency.example",
        subject="[K7] acme: disk full on db1",
        body="Incident K7 (acme)\nDisk full on db1 since 03:14.\n",
        incident_id=42,
        short_code="K7",
        links=LINKS,
    )


async def test_email_is_received_with_subject_body_and_links(smtpd, inbox):
    controller, _ = smtpd
    result = await notifier(controller.port).send(page())
    assert result.sent, result
    assert len(inbox.messages) == 1
    rcpts, m = inbox.messages[0]
    assert rcpts == ["oncall@agency.example"]
    assert m["Subject"] == "[K7] acme: disk full on db1"
    assert m["From"] == "pagerd <pager@agency.example>" and m["To"] == "oncall@agency.example"
    assert m["Message-ID"] == result.provider_id == "<pagerd.o-7@agency.example>"
    assert m["Date"] == "Tue, 05 Mar 2024 02:14:00 +0000"
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["X-Pagerd-Incident"] == "42" and m["X-Pagerd-Short-Code"] == "K7"
    assert m["References"] == "<pagerd.incident.42@agency.example>"

    text = m.get_body(preferencelist=("plain",)).get_content()
    assert "Disk full on db1 since 03:14." in text
    assert f"Acknowledge: {LINKS['ack']}" in text and f"Resolve: {LINKS['resolve']}" in text

    html = m.get_body(preferencelist=("html",)).get_content()
    assert 'href="https://pagerd.example.com/a/ack?i=42&amp;sig=abc"' in html
    assert ">Acknowledge</a>" in html and ">Resolve</a>" in html


async def test_message_id_is_stable_across_retries(smtpd, inbox):
    controller, _ = smtpd
    n = notifier(controller.port)
    first, retry, other = await n.send(page("o-8")), await n.send(page("o-8")), await n.send(page("o-9"))
    assert first.sent and retry.sent and other.sent
    ids = [m["Message-ID"] for _, m in inbox.messages]
    assert ids == [first.provider_id, first.provider_id, other.provider_id]
    assert first.provider_id != other.provider_id


def test_message_id_for_odd_ids_is_hashed_and_stable():
    mid = message_id_for("outbox 12/sms <x>@y", "agency.example")
    assert mid == message_id_for("outbox 12/sms <x>@y", "agency.example")
    assert mid.startswith("<pagerd.") and mid.endswith("@agency.example>")
    assert " " not in mid and mid.count("@") == 1 and mid.count("<") == 1


async def test_subject_defaults_to_first_body_line(smtpd, inbox):
    controller, _ = smtpd
    msg = Message(id="o-10", channel="email", to="desk@agency.example", body="K8 acme: backup late\nmore", links={})
    assert (await notifier(controller.port).send(msg)).sent
    _, m = inbox.messages[0]
    assert m["Subject"] == "K8 acme: backup late"
    assert "Acknowledge" not in m.get_body(preferencelist=("plain",)).get_content()


async def test_login_with_password(smtpd, inbox):
    controller, _ = smtpd
    result = await notifier(controller.port, username="pager", password=PASSWORD).send(page())
    assert result.sent, result
    assert len(inbox.messages) == 1


async def test_wrong_password_is_permanent_and_never_shown(smtpd, inbox, caplog, capfd):
    controller, _ = smtpd
    caplog.set_level(logging.DEBUG)
    n = notifier(controller.port, username="pager", password=PASSWORD + "-wrong")
    with capture_logs() as logs:
        result = await n.send(page())
    assert (result.sent, result.recoverable) == (False, False), result
    assert result.error.startswith("smtp 535")
    out, err = capfd.readouterr()
    for text in (result.error, repr(logs), caplog.text, out, err, repr(n)):
        assert PASSWORD not in text
    assert inbox.messages == []


@pytest.mark.parametrize(
    "reply, recoverable",
    [
        ("451 4.3.0 try again later", True),
        ("452 4.2.2 mailbox full", True),
        ("550 5.1.1 no such user", False),
        ("554 5.7.1 rejected", False),
    ],
)
async def test_refused_recipient_classification(smtpd, inbox, reply, recoverable):
    controller, _ = smtpd
    inbox.rcpt_reply = reply
    result = await notifier(controller.port).send(page())
    assert (result.sent, result.recoverable) == (False, recoverable), result
    assert reply.split()[0] in result.error
    assert inbox.messages == []


async def test_starttls_required_but_not_offered_is_permanent(smtpd, inbox):
    controller, _ = smtpd
    result = await notifier(controller.port, starttls=True).send(page())
    assert (result.sent, result.recoverable) == (False, False), result
    assert "STARTTLS" in result.error.upper()


async def test_dead_port_is_recoverable():
    result = await notifier(free_port(), timeout=1.0).send(page())
    assert (result.sent, result.recoverable) == (False, True), result
    assert result.error.startswith("smtp ")


def test_config_errors():
    with pytest.raises(ValueError):
        notifier(25, host="h", from_address="a@b", starttls=True, ssl=True)
    with pytest.raises(ValueError):
        notifier(25, host="h", from_address="a@b", username="u")
