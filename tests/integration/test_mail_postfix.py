"""End to end with a real Postfix as the agency's MTA (tests/harness/postfix.py): a customer's mail sent to
Postfix by SMTP reaches pagerd over LMTP and is stored; a mail for an address pagerd does not take is
refused by pagerd (550 5.1.1) and bounced by Postfix to its sender."""

from __future__ import annotations

import os
import sqlite3
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.harness.pagerd import PagerdProcess
from tests.harness.postfix import POSTFIX, PostfixInstance

pytestmark = pytest.mark.peer("postfix")

CUSTOMER = "klant@customer.test"  # a mailbox of the Postfix instance: bounces to it can be read


def stored(db: Path) -> list[tuple[str | None, bytes, str, list]]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return [
            (r[0], bytes(r[1]), r[2], r[3])
            for r in conn.execute("SELECT message_id, raw, envelope_from, recipients FROM mail ORDER BY id")
        ]
    finally:
        conn.close()


def wait(predicate, timeout: float = 30.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not in {timeout}s: {what}")


@pytest.fixture
def wired(tmp_path: Path):
    """pagerd (the example config: mail for support@example.nl) behind a Postfix that hands example.nl to it."""
    require_binary(POSTFIX)
    if os.geteuid() != 0:
        pytest.skip("a Postfix instance needs root (its master runs as root, its daemons as postfix)")
    p = PagerdProcess(tmp_path / "pagerd").start()
    mta = PostfixInstance(lmtp_port=p.mail_port, lmtp_domains=("example.nl",), mailboxes=(CUSTOMER,))
    try:
        mta.start()
        yield p, mta
    finally:
        print(f"--- postfix log ---\n{mta.log()[-4000:]}")
        mta.cleanup()
        p.stop()


def test_mail_sent_to_postfix_reaches_pagerd_over_lmtp_and_is_stored(wired) -> None:
    p, mta = wired
    msg = EmailMessage()
    msg["From"] = f"Klant <{CUSTOMER}>"
    msg["To"] = "support@example.nl"
    msg["Subject"] = "De webshop is traag"
    msg["Message-ID"] = mid = make_msgid(domain="customer.test")
    msg.set_content("Sinds vanochtend laadt de webshop traag.\nGroet, Klant\n")
    assert mta.send(msg, CUSTOMER, ["support@example.nl"]) == {}
    (row,) = wait(lambda: stored(p.db_path), what="the mail in pagerd's store")
    message_id, raw, sender, recipients = row
    assert (message_id, sender, recipients) == (mid, CUSTOMER, '["support@example.nl"]')
    assert b"Sinds vanochtend laadt de webshop traag." in raw
    assert b"Received: from client.pagerd.test" in raw  # Postfix's own trace header: what the MTA handed over
    wait(lambda: "status=sent (250 2.0.0 Stored as mail 1)" in mta.log(), what="Postfix's delivery record")


def test_a_stranger_address_is_refused_by_pagerd_and_bounced_by_postfix(wired) -> None:
    p, mta = wired
    msg = EmailMessage()
    msg["From"] = CUSTOMER
    msg["To"] = "sales@example.nl"
    msg["Subject"] = "Offerte"
    msg.set_content("Graag een offerte.\n")
    assert mta.send(msg, CUSTOMER, ["sales@example.nl"]) == {}  # Postfix takes it: it does not know the addresses
    (dsn,) = wait(lambda: mta.mailbox(CUSTOMER), what="the bounce in the sender's mailbox")
    assert dsn.get_content_type() == "multipart/report"
    assert "550 5.1.1 <sales@example.nl>" in dsn.as_string()
    assert stored(p.db_path) == []
