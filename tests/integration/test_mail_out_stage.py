"""The outmail stage in process, on a real SQLite store and a manual clock, sending to a real SMTP server
(aiosmtpd) on a loopback port: a 4xx answer is retried with the same Message-ID once the backoff has
passed, a tick that decides again queues nothing twice, a restart during sending sends again, and an
internal note leaves nothing."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from pager import config as config_mod
from pager.app import make_mail_sender
from pager.clock import ManualClock
from pager.observe.metrics import Metrics
from pager.service import mail_desk
from pager.service.customer_mail import OutgoingMail
from pager.service.send_results import SendResults
from pager.storage.sqlite import SqliteStore
from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV
from tests.harness.ports import free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RAW = (
    b"Message-ID: <m1@acme.example>\r\nFrom: Jan Pietersen <jan@acme.example>\r\nTo: support@example.nl\r\n"
    b"Subject: Webshop traag\r\nDate: Mon, 02 Mar 2026 10:00:00 +0100\r\n\r\nDe webshop is traag.\r\n"
)


class Inbox:
    """Keeps every message it was offered; answers `busy` (a 4xx) to the first `refuse` of them."""

    def __init__(self) -> None:
        self.offered: list[email.message.EmailMessage] = []
        self.accepted: list[email.message.EmailMessage] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.offered.append(msg)  # type: ignore[arg-type]
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 busy, try later"
        self.accepted.append(msg)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtpd() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class Node:
    def __init__(self, tmp_path: Path, port: int) -> None:
        env = {**EXAMPLE_ENV, "PAGERD_MAIL_OUTGOING": "true", "PAGERD_MAIL_SMTP_HOST": "127.0.0.1",
               "PAGERD_MAIL_SMTP_PORT": str(port), "PAGERD_DB": str(tmp_path / "pagerd.db")}  # fmt: skip
        self.cfg = config_mod.load(str(EXAMPLE_CONFIG), env=env)
        self.clock = ManualClock(T0)
        self.path = str(tmp_path / "pagerd.db")
        self.metrics = Metrics()

    async def open(self) -> None:
        from pager.app import policy

        self.store = SqliteStore(self.path, policy(self.cfg), clock=self.clock)
        await self.store.open()
        self.stage = OutgoingMail(
            self.store, self.metrics, make_mail_sender(self.cfg, self.clock), SendResults(self.store)
        )

    async def tick(self) -> None:
        now = self.clock.now()
        await mail_desk.process(self.store, self.cfg, self.metrics, now)
        await self.stage(self.cfg, now)

    def sample(self, kind: str, result: str) -> float:
        value = self.metrics.registry.get_sample_value("pagerd_mail_sent_total", {"kind": kind, "result": result})
        return value or 0.0


async def test_a_busy_server_is_retried_with_the_same_message_id_and_nothing_goes_twice(tmp_path, smtpd) -> None:
    inbox, port = smtpd
    n = Node(tmp_path, port)
    await n.open()
    try:
        inbox.refuse = 1
        await n.store.receive_mail(
            message_id="<m1@acme.example>", envelope_from="jan@acme.example", recipients=["support@example.nl"],
            raw=RAW, received_at=T0,
        )  # fmt: skip
        await n.tick()
        assert len(inbox.offered) == 1 and inbox.accepted == []
        assert n.sample("acknowledgement", "retry") == 1
        assert await n.store.customer_mail_pending(n.clock.now()) == 1
        await n.tick()  # not yet due: the backoff
        assert len(inbox.offered) == 1
        n.clock.advance(timedelta(seconds=11))
        await n.tick()
        (ack,) = inbox.accepted
        assert ack["Message-ID"] == inbox.offered[0]["Message-ID"]  # the same mail, tried again
        assert ack["Subject"].startswith("[#1] Webshop traag") and ack["Auto-Submitted"] == "auto-replied"
        assert ack["In-Reply-To"] == "<m1@acme.example>"
        assert n.sample("acknowledgement", "sent") == 1
        assert await n.store.customer_mail_pending(n.clock.now()) == 0
        for _ in range(3):  # more ticks decide nothing again
            n.clock.advance(timedelta(minutes=10))
            await n.tick()
        assert len(inbox.offered) == 2

        # the desk's note and reply: the reply goes, the note never
        await n.store.add_ticket_note(1, actor="anna", text="GEHEIM-42 intern", now=n.clock.now())
        await n.store.add_ticket_reply(
            1, actor="anna", text="We kijken ernaar.", from_customer=False, via="api", attachments=(),
            now=n.clock.now(),
        )  # fmt: skip
        await n.tick()
        assert len(inbox.accepted) == 2
        reply = inbox.accepted[1]
        assert "We kijken ernaar." in reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert reply["Auto-Submitted"] is None
        assert not any("GEHEIM-42" in m.as_string() for m in inbox.offered)
    finally:
        await n.store.close()


async def test_a_mail_caught_sending_by_a_restart_goes_out_again(tmp_path, smtpd) -> None:
    inbox, port = smtpd
    n = Node(tmp_path, port)
    await n.open()
    try:
        await n.store.receive_mail(
            message_id="<m1@acme.example>", envelope_from="jan@acme.example", recipients=["support@example.nl"],
            raw=RAW, received_at=T0,
        )  # fmt: skip
        await mail_desk.process(n.store, n.cfg, n.metrics, T0)
        await n.stage.decide(n.cfg, T0)
        (due,) = await n.store.due_customer_mail(T0)
        assert await n.store.claim_messages(due.id, [due.id], due.text, T0)  # then the process died
    finally:
        await n.store.close()
    await n.open()  # the restart: the engine recovers what was sending
    try:
        assert await n.store.recover_sending(n.clock.now()) == 1
        await n.tick()
        (ack,) = inbox.accepted
        assert ack["Message-ID"] == f"<{due.message_id}>"
    finally:
        await n.store.close()
