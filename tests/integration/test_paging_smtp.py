"""The real daemon's page e-mail, received by a real SMTP server (aiosmtpd) on loopback.

The example config pages by e-mail at once (contact rule `email` after 0m) and sends through SMTP
when PAGERD_SMTP_HOST / PAGERD_SMTP_PORT are set; SMS and voice are simulated on purpose here
(notifier.simulate), recorded as `simulated`.
The daemon runs on the manual clock: the e-mail's Date is the daemon's now, not the machine's.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.controller import Controller

from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import events, fire, incident, short_config, smtp_env, ts, wait_event
from tests.harness.ports import free_port

START = datetime(2026, 1, 7, 9, 0, tzinfo=timezone.utc)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_paging(tmp_path):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), ready_timeout=5)
    controller.start()
    # e-mail through the real SMTP server; sms and voice simulated on purpose (no Twilio here)
    d = PagerdProcess(
        tmp_path / "pagerd",
        config=short_config(tmp_path / "pagerd.yaml", clock_start=START.isoformat(), simulate=["sms", "voice"]),
        extra_env=smtp_env(controller.port),
    )
    try:
        d.start()
        yield d, inbox
    finally:
        d.stop()
        controller.stop()
        print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")


def wait_mail(inbox: Inbox, to: str, count: int = 1, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [m for rcpts, m in inbox.messages if to in rcpts]
        if len(got) >= count:
            return got
        time.sleep(0.1)
    raise AssertionError(f"no e-mail to {to} in {timeout}s; inbox: {[(r, m['Subject']) for r, m in inbox.messages]}")


def test_page_email_is_received_with_subject_summary_and_one_tap_links(smtp_paging):
    d, inbox = smtp_paging
    iid = fire(d, "SmtpDiskFull", "Disk almost full on mail1")
    inc = wait_event(d, iid, "paged", channel="email")
    (paging_ev,) = events(inc, "paging")
    person = paging_ev["data"]["people"][0]
    (paged,) = events(inc, "paged", channel="email", person=person)
    address = paged["data"]["to"]
    assert paged["data"]["status"] == "sent" and "@" in address

    (m,) = wait_mail(inbox, address)
    assert m["Subject"] == f"[pagerd #{iid}] agency/infra: Disk almost full on mail1"
    assert m["To"] == address and "pagerd@example.nl" in m["From"]
    assert parsedate_to_datetime(m["Date"]) == START == ts(paged["at"])  # the clock the composition root chose
    assert paged["data"]["provider_id"] == m["Message-ID"]  # the SMTP message-id is the provider id
    text = m.get_body(preferencelist=("plain",)).get_content()
    assert "Disk almost full on mail1" in text and f"#{iid}" in text
    found = dict(re.findall(r"^(Acknowledge|Resolve): (\S+)\r?$", text, re.M))
    assert set(found) == {"Acknowledge", "Resolve"}, text
    for url in found.values():
        assert url.startswith(f"{d.url}/l/")
    html = m.get_body(preferencelist=("html",)).get_content()
    assert found["Acknowledge"] in html

    # The links work: the page shows the incident; the acknowledge link acknowledges it as the person.
    ack_path = found["Acknowledge"][len(d.url) :]
    status, page = d.request("GET", ack_path)
    assert status == 200 and "Disk almost full on mail1" in page
    status, page = d.request("POST", ack_path, b"", content_type="application/x-www-form-urlencoded")
    assert status == 200 and "acknowledged" in page
    inc = incident(d, iid)
    assert inc["state"] == "acknowledged" and inc["acknowledged_by"] == person
    statuses = {(e["data"]["channel"], e["data"]["status"]) for e in events(inc, "paged")}
    assert ("email", "sent") in statuses and ("sms", "simulated") in statuses
    assert all(status == ("sent" if channel == "email" else "simulated") for channel, status in statuses)


def test_resolve_link_from_the_email_resolves(smtp_paging):
    d, inbox = smtp_paging
    iid = fire(d, "SmtpBackupLate", "Backup of nas1 is late")
    inc = wait_event(d, iid, "paged", channel="email")
    address = events(inc, "paged", channel="email")[0]["data"]["to"]
    (m,) = wait_mail(inbox, address)
    text = m.get_body(preferencelist=("plain",)).get_content()
    (url,) = re.findall(r"^Resolve: (\S+)\r?$", text, re.M)
    status, page = d.request("POST", url[len(d.url) :], b"", content_type="application/x-www-form-urlencoded")
    assert status == 200 and "resolved" in page
    assert incident(d, iid)["state"] == "resolved"


def test_a_multi_line_summary_reaches_the_mailbox_with_a_one_line_subject(smtp_paging):
    """The subject is the summary folded to one line; the body has it in full; an attempt to add a header
    through the alert text (CR LF, then "Bcc:") stays text. And the log holds none of the mail's links."""
    d, inbox = smtp_paging
    lines = ["Disk almost full on mail1", "filesystem /var at 97%", "Bcc: victim@example.org", "X-Injected: yes"]
    iid = fire(d, "SmtpMultiLine", lines[0] + "\n" + lines[1] + "\r\n" + lines[2] + "\r\n" + lines[3])
    inc = wait_event(d, iid, "paged", channel="email")
    (paged,) = events(inc, "paged", channel="email", person=events(inc, "paging")[0]["data"]["people"][0])
    assert paged["data"]["status"] == "sent", paged  # not refused as a bad header, not failed for good
    address = paged["data"]["to"]

    (m,) = wait_mail(inbox, address)
    assert m["Subject"] == f"[pagerd #{iid}] agency/infra: " + " ".join(lines)
    assert m["Bcc"] is None and m["X-Injected"] is None
    assert [rcpts for rcpts, _ in inbox.messages if "victim@example.org" in rcpts] == []
    text = m.get_body(preferencelist=("plain",)).get_content()
    for line in lines:
        assert re.search(rf"^\s*(Summary:\s+)?{re.escape(line)}\r?$", text, re.M), (line, text)

    links = re.findall(r"^(?:Acknowledge|Resolve): \S+/l/(\S+?)\r?$", text, re.M)
    assert len(links) == 2
    log = d.log_path.read_text(errors="replace")
    assert "page_dry_run" in log and "/l/[redacted]" in log  # the SMS page (dry-run) with its link, redacted
    for token in links:
        assert token not in log and token.rpartition(".")[2] not in log
