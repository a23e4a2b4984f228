"""Mail to customers, end to end through a real Postfix (tests/harness/postfix.py): customers' mail goes to
Postfix by SMTP and on to pagerd by LMTP; pagerd's mail to customers goes to the same Postfix by SMTP and
into Maildirs the test reads (every delivered mail). A customer at a missing mailbox is bounced by Postfix
itself, and its delivery-status notification comes back to pagerd."""

from __future__ import annotations

import os
import sqlite3
import time
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from tests.conftest import require_binary
from tests.harness.pagerd import EXAMPLE_CONFIG, PagerdProcess
from tests.harness.postfix import POSTFIX, PostfixInstance

pytestmark = pytest.mark.peer("postfix")

SUPPORT = "support@example.nl"
KLANT = "klant@customer.test"  # a contact of acme (nl)
CLIENT = "client@customer.test"  # a contact of acme (en)
ROBOT = "robot@customer.test"  # a contact of acme whose mail is automatic
CAPPED = "veel@customer.test"  # a contact of acme who writes often
GONE = "weg@gone.test"  # no mailbox: Postfix accepts, then bounces


def wait(predicate, timeout: float = 40.0, what: str = ""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"not in {timeout}s: {what} (last: {last!r})")


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory):
    """pagerd (the example config, its people's addresses at staff.test, mail.outgoing on through Postfix)
    behind a Postfix that hands example.nl to it and keeps customer.test and staff.test in mailboxes."""
    require_binary(POSTFIX)
    if os.geteuid() != 0:
        pytest.skip("a Postfix instance needs root (its master runs as root, its daemons as postfix)")
    tmp = tmp_path_factory.mktemp("outmail")
    config = tmp / "pagerd.yaml"
    text = EXAMPLE_CONFIG.read_text()
    for person in ("anna", "bram", "chris", "dewi", "eva"):
        text = text.replace(f"email: {person}@example.nl", f"email: {person}@staff.test")
    config.write_text(text)
    p = PagerdProcess(tmp / "pagerd", config=config)
    mta = PostfixInstance(
        lmtp_port=p.mail_port,
        lmtp_domains=("example.nl",),
        mailbox_domains=("customer.test", "staff.test", "gone.test"),
        catch_all_domains=("customer.test", "staff.test"),
        accept_unknown=True,
    )
    p.extra_env.update(
        PAGERD_MAIL_OUTGOING="true",
        PAGERD_MAIL_SMTP_HOST="127.0.0.1",
        PAGERD_MAIL_SMTP_PORT=str(mta.smtp_port),
    )
    try:
        mta.start()
        p.start()
        for name, address, language in (
            ("Klant", KLANT, "nl"),
            ("Client", CLIENT, "en"),
            ("Robot", ROBOT, "nl"),
            ("Veel", CAPPED, "nl"),
            ("Weg", GONE, "nl"),
        ):
            status, body = p.api(
                "POST",
                "/api/v1/contacts",
                {"customer": "acme", "name": name, "emails": [address], "language": language},
            )
            assert status == 201, body
        yield p, mta
    finally:
        print(f"--- postfix log ---\n{mta.log()[-6000:]}")
        p.stop()
        mta.cleanup()


def to(msgs: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in msgs if (m["Delivered-To"] or "").lower() == address]


def customer_mail(sender: str, subject: str, body: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="customer.test")
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    return msg


def ticket_of(p: PagerdProcess, message_id: str) -> dict:
    """The ticket a mail (by its Message-ID) was filed on, once filed."""

    def filed(p: PagerdProcess):
        status, body = p.api("GET", "/api/v1/mail?limit=1000")
        assert status == 200, body
        found = [m for m in body if m["message_id"] == message_id and m["status"] != "pending"]  # type: ignore[union-attr]
        return found[0] if found else None

    m = p.wait_for(filed, timeout=40)
    assert m["ticket"] is not None, m
    return ticket(p, m["ticket"])


def ticket(p: PagerdProcess, number: int) -> dict:
    status, body = p.api("GET", f"/api/v1/tickets/{number}")
    assert status == 200, body
    return body  # type: ignore[return-value]


def text_of(m: EmailMessage) -> str:
    return m.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def html_of(m: EmailMessage) -> str:
    return m.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_a_new_ticket_by_mail_gets_an_acknowledgement_and_a_reply_threads_by_header(wired) -> None:
    p, mta = wired
    first = customer_mail(KLANT, "De webshop is traag", "Sinds vanochtend laadt de webshop traag.")
    assert mta.send(first, KLANT, [SUPPORT]) == {}
    t = ticket_of(p, first["Message-ID"])
    n = t["number"]
    (ack,) = wait(lambda: to(mta.delivered(), KLANT), what="the acknowledgement")
    assert ack["Subject"] == f"[#{n}] De webshop is traag"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == first["Message-ID"] and first["Message-ID"] in ack["References"]
    assert ack["From"] == "Example Hosting support <support@example.nl>"
    assert ack["Message-ID"] != first["Message-ID"] and ack["Message-ID"].endswith("@example.nl>")
    assert f"geregistreerd onder nummer #{n}" in text_of(ack)  # Dutch: the contact's language
    assert f"<strong>#{n}</strong>" in html_of(ack)
    assert ack.get_content_type() == "multipart/alternative"

    # the customer answers the acknowledgement: no tag in the subject, threaded by In-Reply-To alone
    answer = customer_mail(KLANT, "Nog iets", "Ook de zoekfunctie hangt.", In_Reply_To=ack["Message-ID"])
    assert mta.send(answer, KLANT, [SUPPORT]) == {}
    assert ticket_of(p, answer["Message-ID"])["number"] == n
    # the desk answers: a reply mail in the same thread, answering the customer's last mail
    status, body = p.api("POST", f"/api/v1/tickets/{n}/replies", {"text": "We kijken ernaar.", "by": "anna"})
    assert status == 201, body
    _, reply = wait(lambda: got if len(got := to(mta.delivered(), KLANT)) == 2 else None, what="the desk's reply")
    assert reply["Subject"] == f"[#{n}] De webshop is traag"
    assert reply["In-Reply-To"] == answer["Message-ID"]
    assert ack["Message-ID"] in reply["References"] and first["Message-ID"] in reply["References"]
    assert reply["Auto-Submitted"] is None  # a person wrote it
    assert "We kijken ernaar." in text_of(reply) and "We kijken ernaar." in html_of(reply)


def test_an_english_contact_gets_english_mail(wired) -> None:
    p, mta = wired
    first = customer_mail(CLIENT, "Checkout broken", "The checkout fails.")
    assert mta.send(first, CLIENT, [SUPPORT]) == {}
    n = ticket_of(p, first["Message-ID"])["number"]
    (ack,) = wait(lambda: to(mta.delivered(), CLIENT), what="the acknowledgement")
    assert f"filed it as #{n}" in text_of(ack) and ack["Content-Language"] == "en"


def test_an_internal_note_is_in_no_mail(wired) -> None:
    """Every kind of change on a ticket with a watcher; then every mail that left pagerd is read."""
    p, mta = wired
    secret = "GEHEIM-interne-notitie-7f3a"
    first = customer_mail(KLANT, "Certificaat verlopen", "Het certificaat is verlopen.")
    assert mta.send(first, KLANT, [SUPPORT]) == {}
    n = ticket_of(p, first["Message-ID"])["number"]
    steps = [
        ("PATCH", f"/api/v1/tickets/{n}", {"watchers": ["bram"], "by": "anna"}),
        ("POST", f"/api/v1/tickets/{n}/notes", {"text": f"{secret} wachtwoord staat in de kluis", "by": "anna"}),
        ("PATCH", f"/api/v1/tickets/{n}", {"assignee": "anna", "priority": "high", "by": "anna"}),
        ("PATCH", f"/api/v1/tickets/{n}", {"project": "acme/webshop", "status": "open", "by": "anna"}),
        ("POST", f"/api/v1/tickets/{n}/time", {"kind": "billable", "minutes": 15, "note": secret, "by": "anna"}),
        ("POST", f"/api/v1/tickets/{n}/replies", {"text": "Het certificaat wordt vernieuwd.", "by": "anna"}),
        ("PATCH", f"/api/v1/tickets/{n}", {"status": "waiting_on_customer", "by": "anna"}),
        ("PATCH", f"/api/v1/tickets/{n}", {"subject": "Certificaat verlopen (webshop)", "by": "anna"}),
        ("POST", f"/api/v1/tickets/{n}/notes", {"text": f"nog een {secret}", "by": "bram"}),
        ("POST", f"/api/v1/tickets/{n}/page", {"severity": "warning", "by": "anna"}),
        ("PATCH", f"/api/v1/tickets/{n}", {"status": "resolved", "by": "anna"}),
        ("PATCH", f"/api/v1/tickets/{n}", {"status": "closed", "by": "anna"}),
    ]
    for method, path, payload in steps:
        status, body = p.api(method, path, payload)
        assert status in (200, 201), (path, body)

    def of_ticket() -> list[EmailMessage]:
        return [m for m in mta.delivered() if f"[#{n}]" in (m["Subject"] or "")]

    # the acknowledgement; reply, waiting_on_customer and resolved each to the requester and the watcher
    # (anna acted: never her)
    wait(lambda: len(of_ticket()) >= 7, what="the mails of the ticket")
    time.sleep(2)  # nothing more comes: more engine ticks and Postfix's deliveries
    mine = of_ticket()
    assert sorted(m["Delivered-To"] for m in mine) == sorted([KLANT] * 4 + ["bram@staff.test"] * 3), [
        (m["Delivered-To"], m["Subject"]) for m in mine
    ]
    # the watcher's reply mail (Postfix delivers the reply and the status mails in either order)
    replies = [m for m in to(mine, "bram@staff.test") if "Het certificaat wordt vernieuwd." in text_of(m)]
    assert len(replies) == 1, [(m["Subject"], text_of(m)[:200]) for m in to(mine, "bram@staff.test")]
    assert "bram" in replies[0]["To"]
    assert not to(mta.delivered(), "anna@staff.test")
    for m in mta.delivered():  # every mail pagerd sent, of every test so far
        assert secret not in m.as_string()
    # nor in any message of the outbox (pages included), by any channel
    conn = sqlite3.connect(p.db_path, timeout=30)
    try:
        rows = conn.execute("SELECT subject || body FROM outbox UNION ALL SELECT html FROM customer_mail").fetchall()
    finally:
        conn.close()
    assert rows and not any(secret in r[0] for r in rows)


def test_a_real_postfix_bounce_marks_the_address(wired) -> None:
    p, mta = wired
    status, t = p.api(
        "POST", "/api/v1/tickets", {"subject": "Factuur klopt niet", "from": GONE, "via": "api", "by": "anna"}
    )
    assert status == 201, t
    n = t["number"]  # type: ignore[index]
    status, body = p.api("POST", f"/api/v1/tickets/{n}/replies", {"text": "Wat klopt er niet?", "by": "anna"})
    assert status == 201, body

    def bounced(p: PagerdProcess):
        return [e for e in ticket(p, n)["timeline"] if e["kind"] == "bounce"]

    (entry,) = p.wait_for(bounced, timeout=60)
    assert entry["public"] is False and entry["data"]["failed"] == [GONE]
    assert "MAILER-DAEMON" in entry["data"]["from"].upper()
    # the next reply is not sent: the address is marked
    status, body = p.api("POST", f"/api/v1/tickets/{n}/replies", {"text": "Hallo?", "by": "anna"})
    assert status == 201, body

    def withheld(p: PagerdProcess):
        return [e for e in ticket(p, n)["timeline"] if e["kind"] == "mail_withheld"]

    (w,) = p.wait_for(withheld)
    assert w["data"]["to"] == GONE and "bounced" in w["data"]["why"]
    queued = [e for e in ticket(p, n)["timeline"] if e["kind"] == "mail_queued"]
    assert len(queued) == 1  # only the first reply


def test_the_cap_on_automatic_mail_holds(wired) -> None:
    p, mta = wired
    numbers = []
    for i in range(7):
        msg = customer_mail(CAPPED, f"Vraag {i}", f"Vraag nummer {i}.")
        assert mta.send(msg, CAPPED, [SUPPORT]) == {}
        numbers.append(ticket_of(p, msg["Message-ID"])["number"])

    def decided(p: PagerdProcess):
        t = ticket(p, numbers[-1])
        return [e for e in t["timeline"] if e["kind"] in ("mail_queued", "mail_withheld")]

    p.wait_for(decided)
    acks = wait(lambda: d if len(d := to(mta.delivered(), CAPPED)) >= 5 else None, what="five acknowledgements")
    time.sleep(2)
    assert len(to(mta.delivered(), CAPPED)) == 5 == len(acks)
    assert sorted(m["Subject"] for m in acks) == sorted(f"[#{n}] Vraag {i}" for i, n in enumerate(numbers[:5]))
    for n in numbers[5:]:
        (w,) = [e for e in ticket(p, n)["timeline"] if e["kind"] == "mail_withheld"]
        assert "capped at 5 per 1h" in w["data"]["why"]


@pytest.mark.parametrize(
    "headers",
    [{"Auto_Submitted": "auto-generated"}, {"Precedence": "bulk"}, {"X_Auto_Response_Suppress": "All"}],
    ids=["auto-submitted", "precedence-bulk", "x-auto-response-suppress"],
)
def test_an_automatic_incoming_mail_gets_no_answer(wired, headers: dict[str, str]) -> None:
    p, mta = wired
    msg = customer_mail(ROBOT, f"Rapport {headers}", "Automatisch rapport.", **headers)
    assert mta.send(msg, ROBOT, [SUPPORT]) == {}
    t = ticket_of(p, msg["Message-ID"])

    def withheld(p: PagerdProcess):
        return [e for e in ticket(p, t["number"])["timeline"] if e["kind"] == "mail_withheld"]

    (w,) = p.wait_for(withheld)
    assert "may not be answered automatically" in w["data"]["why"]
    time.sleep(1)
    assert [m for m in to(mta.delivered(), ROBOT) if f"[#{t['number']}]" in m["Subject"]] == []


def test_a_mail_from_mailer_daemon_gets_no_answer(wired) -> None:
    p, mta = wired
    daemon = "MAILER-DAEMON@customer.test"
    msg = customer_mail(daemon, "Undelivered Mail", "Something failed.")
    assert mta.send(msg, "", [SUPPORT]) == {}
    ticket_of(p, msg["Message-ID"])
    time.sleep(2)
    assert to(mta.delivered(), daemon.lower()) == []


def test_metrics_count_the_mail(wired) -> None:
    p, _ = wired
    status, text = p.request("GET", "/metrics")
    assert status == 200
    assert 'pagerd_mail_sent_total{kind="acknowledgement",result="sent"}' in text  # type: ignore[operator]
    assert 'pagerd_mail_sent_total{kind="acknowledgement",result="withheld"}' in text  # type: ignore[operator]
    assert "pagerd_mail_outgoing_pending 0.0" in text  # type: ignore[operator]
