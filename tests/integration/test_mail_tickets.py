"""Mail becomes tickets in the real daemon (the example config): real clients (smtplib.LMTP and swaks) hand
mail to the listener, the engine's mail stage files it; read back through the tickets API."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_binary
from tests.harness.pagerd import EXAMPLE_CONFIG, PagerdProcess
from tests.scenarios.harness import ROOT

SUPPORT = "support@example.nl"


def mail(mid: str, sender: str, subject: str, body: str = "De webshop geeft een 500.", extra: str = "") -> bytes:
    return (
        f"Message-ID: <{mid}>\r\nFrom: {sender}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n{extra}\r\n{body}\r\n"
    ).encode()


def send(p: PagerdProcess, raw: bytes, sender: str = "x@example.org") -> None:
    with smtplib.LMTP("127.0.0.1", p.mail_port, timeout=30) as c:
        c.sendmail(sender, [SUPPORT], raw)


def processed(p: PagerdProcess, mail_id: int) -> dict:
    def done(p: PagerdProcess) -> dict | None:
        status, body = p.api("GET", "/api/v1/mail")
        assert status == 200, body
        found = [m for m in body if m["id"] == mail_id]  # type: ignore[union-attr]
        return found[0] if found and found[0]["status"] != "pending" else None

    return p.wait_for(done)


def ticket(p: PagerdProcess, number: int) -> dict:
    status, body = p.api("GET", f"/api/v1/tickets/{number}")
    assert status == 200, body
    return body  # type: ignore[return-value]


def test_mail_becomes_tickets_and_replies_thread(pagerd: PagerdProcess, tmp_path: Path) -> None:
    p = pagerd
    # 1. a known contact (acme.jan): a new request ticket with the right requester and customer, no project
    send(p, mail("m1@acme.example", "Jan Pietersen <jan@acme.example>", "Webshop traag"), "jan@acme.example")
    m1 = processed(p, 1)
    assert m1["status"] == "ticket" and m1["reason"] is None
    t = ticket(p, m1["ticket"])
    assert (t["kind"], t["status"], t["project"], t["customer"], t["subject"]) == (
        "request",
        "new",
        None,
        "acme",
        "Webshop traag",
    )
    assert t["requester"]["contact"] == "acme.jan" and t["requester"]["email"] == "jan@acme.example"
    created = t["timeline"][0]
    assert created["kind"] == "created" and "De webshop geeft een 500." in created["data"]["text"]
    assert created["data"]["mail_id"] == 1 and created["data"]["may_autoreply"] is True
    number = t["number"]

    # 2. resolved, then a reply with In-Reply-To: lands on it and reopens it
    status, body = p.api("PATCH", f"/api/v1/tickets/{number}", {"status": "resolved", "by": "anna"})
    assert status == 200, body
    send(p, mail("m2@acme.example", "jan@acme.example", "Re: Webshop traag", "Nog steeds traag.",
                 "In-Reply-To: <m1@acme.example>\r\n"))  # fmt: skip
    assert processed(p, 2)["status"] == "reply"
    t = ticket(p, number)
    assert t["status"] == "open"
    reply = [e for e in t["timeline"] if e["kind"] == "reply"][-1]
    assert reply["public"] and reply["data"]["from_customer"] and reply["data"]["mail_id"] == 2

    # 3. the subject tag from a participant threads; from a stranger: a new ticket linked to it
    send(p, mail("m3@acme.example", "sara@acme.example", f"Aanvulling [#{number}]", "Ook de checkout."))
    m3 = processed(p, 3)
    assert (m3["status"], m3["ticket"]) == ("reply", number)
    send(p, mail("m4@evil.example", "mallory@evil.example", f"Re: [#{number}] hallo", "Ik ook?"))
    m4 = processed(p, 4)
    assert m4["status"] == "ticket" and m4["ticket"] != number
    linked = ticket(p, m4["ticket"])
    assert any(e["kind"] == "linked" and e["data"]["ticket"] == number for e in linked["timeline"])
    assert any(e["kind"] == "linked" and e["data"]["ticket"] == m4["ticket"] for e in ticket(p, number)["timeline"])
    # an unknown sender: triage (no customer, no project)
    assert (linked["customer"], linked["project"], linked["requester"]["contact"]) == (None, None, None)

    # 4. an out-of-office reply: kept on the ticket, internal, the status unchanged
    p.api("PATCH", f"/api/v1/tickets/{number}", {"status": "waiting_on_customer", "by": "anna"})
    send(p, mail("m5@acme.example", "jan@acme.example", "Automatic reply: Webshop traag", "Ik ben afwezig.",
                 "In-Reply-To: <m1@acme.example>\r\nAuto-Submitted: auto-replied\r\n"))  # fmt: skip
    assert processed(p, 5)["status"] == "auto_reply"
    t = ticket(p, number)
    assert t["status"] == "waiting_on_customer"
    ooo = [e for e in t["timeline"] if e["kind"] == "auto_reply"][-1]
    assert ooo["public"] is False and ooo["data"]["may_autoreply"] is False

    # 5. a Postfix-style bounce about a mail of the ticket: recorded on it, naming the address
    bounce = (
        b"From: MAILER-DAEMON@mail.example.nl (Mail Delivery System)\r\nTo: support@example.nl\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mail.example.nl>\r\n"
        b"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
        b"be delivered to one or more recipients.\r\n\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example.nl\r\n\r\n"
        b"Final-Recipient: rfc822; jan@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 <jan@acme.example>: Recipient address rejected\r\n\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <m1@acme.example>\r\nSubject: x\r\n\r\n"
        b"--B--\r\n"
    )
    send(p, bounce, "")
    m6 = processed(p, 6)
    assert (m6["status"], m6["ticket"]) == ("bounce", number)
    b = [e for e in ticket(p, number)["timeline"] if e["kind"] == "bounce"][-1]
    assert b["public"] is False and b["data"]["failed"] == ["jan@acme.example"]
    assert ticket(p, number)["status"] == "waiting_on_customer"

    # 6. unparseable: kept, listed for the desk, the raw bytes retrievable
    junk = b"this is not a mail at all\r\n"
    send(p, junk)
    m7 = processed(p, 7)
    assert m7["status"] == "unparseable" and m7["reason"]
    status, listed = p.api("GET", "/api/v1/mail?status=unparseable")
    assert status == 200 and [m["id"] for m in listed] == [7]  # type: ignore[union-attr,index]
    status, raw = p.request("GET", "/api/v1/mail/7/raw", token=p.admin_token)
    assert status == 200 and raw == junk.decode()
    # the same list from the command line, and the raw bytes
    env = {**p.env(), "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "pager", "mail"]
    run = subprocess.run([*cli, "list", "--status", "unparseable", "--json", "-c", str(EXAMPLE_CONFIG)],
                         env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert [(m["id"], m["status"]) for m in json.loads(run.stdout)] == [(7, "unparseable")]
    run = subprocess.run([*cli, "list", "-c", str(EXAMPLE_CONFIG)], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 7 and "unparseable" in run.stdout
    run = subprocess.run([*cli, "raw", "7", "-c", str(EXAMPLE_CONFIG)], env=env, capture_output=True, timeout=60)
    assert (run.returncode, run.stdout) == (0, junk)
    for bad in (["list", "--limit", "0"], ["list", "--limit", "x" * 5000], ["list", "--after", "-1"], ["raw", "0"],
                ["raw", "../etc"], ["raw", "999"]):  # fmt: skip
        run = subprocess.run(
            [*cli, *bad, "-c", str(EXAMPLE_CONFIG)], env=env, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 1 and "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1, bad
    run = subprocess.run([*cli, "list", "--status", "eaten", "-c", str(EXAMPLE_CONFIG)], env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    # the API refuses bad queries and ids, and without the admin token
    for path, code in (("/api/v1/mail?status=eaten", 400), ("/api/v1/mail?limit=0", 400), ("/api/v1/mail?x=1", 400),
                       ("/api/v1/mail/0/raw", 400), ("/api/v1/mail/abc/raw", 400), ("/api/v1/mail/999/raw", 404)):  # fmt: skip
        assert p.api("GET", path)[0] == code, path
    assert p.request("GET", "/api/v1/mail")[0] == 401
    assert p.request("GET", "/api/v1/mail/7/raw")[0] == 401

    # 7. a redelivery (same Message-ID, by swaks) doubles nothing
    before = p.api("GET", "/api/v1/tickets")[1]
    swaks = require_binary("/usr/bin/swaks")
    data = tmp_path / "again.eml"
    data.write_bytes(mail("m1@acme.example", "jan@acme.example", "Webshop traag").removesuffix(b"\r\n"))
    run = subprocess.run(
        [swaks, "--server", f"127.0.0.1:{p.mail_port}", "--protocol", "LMTP", "--from", "jan@acme.example",
         "--to", SUPPORT, "--data", str(data), "--timeout", "30"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Already stored as mail 1" in run.stdout, run.stdout + run.stderr
    assert p.api("GET", "/api/v1/tickets")[1] == before
    metrics = p.request("GET", "/metrics")[1]
    for outcome, n in (("ticket", 2), ("reply", 2), ("auto_reply", 1), ("bounce", 1), ("unparseable", 1),
                       ("loop", 0), ("refused", 0), ("stored", 7), ("duplicate", 1)):  # fmt: skip
        assert f'pagerd_mail_received_total{{outcome="{outcome}"}} {float(n)}' in metrics, outcome
