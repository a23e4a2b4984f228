"""CustomerMailStore: the tickets' changes after the cursor, customer mail queued once with its headers, the
thread, the cap's count and the bounced addresses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pager.storage.port import CustomerMailOut, MailFiling, Requester, Store, WithheldMail

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


async def ticket(store: Store) -> int:
    t = await store.create_ticket(
        subject="Webshop traag",
        body="De webshop is traag.",
        via="email",
        customer="acme",
        project=None,
        requester=Requester(contact="acme.jan", name="Jan", email="jan@acme.example"),
        priority="normal",
        assignee=None,
        watchers=(),
        attachments=(),
        actor="mail",
        now=T0,
    )
    return t.number


def out(
    number: int, entry_id: int, address: str = "Jan@acme.example", kind: str = "acknowledgement"
) -> CustomerMailOut:
    return CustomerMailOut(
        idem_key=f"customer:{entry_id}:{address.lower()}",
        number=number,
        entry_id=entry_id,
        kind=kind,
        address=address,
        person=None,
        subject=f"[#{number}] Webshop traag",
        text="We hebben uw vraag ontvangen.",
        html="<p>We hebben uw vraag ontvangen.</p>",
        message_id=f"pagerd.{number}.{entry_id}.x@example.nl",
        in_reply_to="m1@acme.example",
        references=("m1@acme.example",),
        auto_submitted="auto-replied" if kind == "acknowledgement" else None,
        language="nl",
    )


async def test_ticket_changes_reads_every_entry_after_the_cursor_in_order(store: Store) -> None:
    n = await ticket(store)
    await store.add_ticket_note(n, actor="anna", text="intern", now=T0)
    changes = await store.ticket_changes()
    assert [(c.number, c.kind, c.public) for c in changes] == [(n, "created", True), (n, "note", False)]
    assert changes[0].data["via"] == "email" and changes[0].at == T0
    assert changes[0].id < changes[1].id
    assert [c.id for c in await store.ticket_changes(limit=1)] == [changes[0].id]
    await store.queue_customer_mail(changes[0].id, [], [], now=T0)
    assert [c.kind for c in await store.ticket_changes()] == ["note"]


async def test_queue_customer_mail_queues_once_threads_and_moves_the_cursor(store: Store) -> None:
    n = await ticket(store)
    (created,) = await store.ticket_changes()
    withheld = WithheldMail(number=n, entry_id=created.id, kind="reply", address="bram@example.nl", why="bounced")
    assert await store.queue_customer_mail(created.id, [out(n, created.id)], [withheld], now=T0) == 1
    # the same again (a retried tick): the cursor is past it, nothing twice
    assert await store.queue_customer_mail(created.id, [out(n, created.id)], [withheld], now=T0) == 0
    assert await store.mail_ticket([f"pagerd.{n}.{created.id}.x@example.nl"]) == n
    t = await store.get_ticket(n)
    assert t is not None
    kinds = [(e.kind, e.public) for e in t.timeline]
    assert kinds == [("created", True), ("mail_queued", False), ("mail_withheld", False)]
    assert t.timeline[1].data["to"] == "Jan@acme.example" and t.timeline[2].data["why"] == "bounced"
    # its own entries come after the cursor (internal: they make no mail)
    assert [c.kind for c in await store.ticket_changes()] == ["mail_queued", "mail_withheld"]
    # an idem_key queued before is not queued again, even under a later cursor
    last = max(c.id for c in await store.ticket_changes())
    assert await store.queue_customer_mail(last, [out(n, created.id)], [], now=T0) == 0
    assert len(await store.due_customer_mail(T0)) == 1


async def test_ticket_thread_lists_in_and_out_message_ids(store: Store) -> None:
    mail_id, _ = await store.receive_mail(
        message_id="<m1@acme.example>", envelope_from="jan@acme.example", recipients=["support@example.nl"],
        raw=b"Message-ID: <m1@acme.example>\r\nFrom: jan@acme.example\r\nSubject: x\r\n\r\nx\r\n", received_at=T0,
    )  # fmt: skip
    n = await ticket(store)
    await store.file_mail(
        mail_id,
        MailFiling(status="reply", number=n, entry="reply", text="x", message_ids=("m1@acme.example",)),
        now=T0,
    )
    assert await store.ticket_thread(n) == ["m1@acme.example"]
    last = max(c.id for c in await store.ticket_changes())
    await store.queue_customer_mail(last, [out(n, last)], [], now=T0 + timedelta(seconds=1))
    assert await store.ticket_thread(n) == ["m1@acme.example", f"pagerd.{n}.{last}.x@example.nl"]
    assert await store.ticket_thread(n + 100) == []


async def test_automatic_mail_since_counts_queued_acknowledgements_only(store: Store) -> None:
    n = await ticket(store)
    (created,) = await store.ticket_changes()
    mails = [out(n, created.id), out(n, created.id + 1000, kind="reply")]
    await store.queue_customer_mail(created.id, mails, [], now=T0)
    got = await store.automatic_mail_since(["JAN@acme.example", "other@acme.example"], T0 - timedelta(hours=1))
    assert got == {"jan@acme.example": [T0]}
    assert await store.automatic_mail_since(["jan@acme.example"], T0) == {}
    assert await store.automatic_mail_since([], T0) == {}


async def test_bounced_addresses_marked_by_a_filed_bounce_and_unmarked_by_a_persons_mail(store: Store) -> None:
    n = await ticket(store)
    raw = b"Message-ID: <dsn1@mx>\r\nFrom: MAILER-DAEMON@mx\r\nSubject: failure\r\n\r\nx\r\n"
    mail_id, _ = await store.receive_mail(
        message_id="<dsn1@mx>", envelope_from="", recipients=["support@example.nl"], raw=raw, received_at=T0
    )
    await store.file_mail(
        mail_id,
        MailFiling(status="bounce", number=n, entry="bounce", text="Jan@acme.example: failed 5.1.1",
                   data={"failed": ["Jan@acme.example"], "classification": "bounce"}),
        now=T0,
    )  # fmt: skip
    assert await store.bounced_addresses(["jan@ACME.example", "sara@acme.example"]) == ["jan@acme.example"]
    assert await store.bounced_addresses([]) == []
    # an automatic reply from it changes nothing; a mail a person wrote from it unmarks it
    for i, (classification, status) in enumerate((("auto_reply", "reply"), ("normal", "reply"))):
        mid = f"<r{i}@acme.example>"
        got, _ = await store.receive_mail(
            message_id=mid, envelope_from="jan@acme.example", recipients=["support@example.nl"],
            raw=f"Message-ID: {mid}\r\n\r\nx\r\n".encode(), received_at=T0,
        )  # fmt: skip
        await store.file_mail(
            got,
            MailFiling(status=status, number=n, entry="reply", text="x",
                       data={"from": "jan@acme.example", "classification": classification}),
            now=T0,
        )  # fmt: skip
        assert await store.bounced_addresses(["jan@acme.example"]) == ([] if i else ["jan@acme.example"])


async def test_due_customer_mail_answers_pending_due_mail_with_its_headers(store: Store) -> None:
    n = await ticket(store)
    (created,) = await store.ticket_changes()
    await store.queue_customer_mail(created.id, [out(n, created.id)], [], now=T0)
    assert await store.due_customer_mail(T0 - timedelta(seconds=1)) == []
    (due,) = await store.due_customer_mail(T0)
    assert (due.number, due.kind, due.address, due.subject) == (n, "acknowledgement", "jan@acme.example",
                                                                f"[#{n}] Webshop traag")  # fmt: skip
    assert (due.message_id, due.in_reply_to, due.references) == (
        f"pagerd.{n}.{created.id}.x@example.nl",
        "m1@acme.example",
        ("m1@acme.example",),
    )
    assert (due.auto_submitted, due.language, due.attempts) == ("auto-replied", "nl", 0)
    assert due.html.startswith("<p>") and due.text.startswith("We hebben")
    # the dispatch stage's queue leaves nothing of it out, but the outgoing-mail stage sends it
    assert await store.claim_messages(due.id, [due.id], due.text, T0)
    assert await store.due_customer_mail(T0) == []
    await store.finish_message(due.id, sent=True, provider_id="<x>", error=None, retry_at=None, now=T0)
    assert await store.due_customer_mail(T0 + timedelta(days=1)) == []


async def test_customer_mail_pending_counts_unsent_customer_mail(store: Store) -> None:
    n = await ticket(store)
    (created,) = await store.ticket_changes()
    assert await store.customer_mail_pending(T0) == 0
    await store.queue_customer_mail(created.id, [out(n, created.id), out(n, created.id, "sara@acme.example")], [],
                                    now=T0)  # fmt: skip
    assert await store.customer_mail_pending(T0) == 2
    first, second = await store.due_customer_mail(T0)
    await store.claim_messages(first.id, [first.id], first.text, T0)
    await store.finish_message(first.id, sent=True, provider_id="<x>", error=None, retry_at=None, now=T0)
    await store.claim_messages(second.id, [second.id], second.text, T0)
    later = T0 + timedelta(minutes=5)
    await store.finish_message(second.id, sent=False, provider_id=None, error="451", retry_at=later, now=T0)
    assert await store.customer_mail_pending(T0) == 1  # waiting for its retry: still owed


async def test_due_customer_mail_given_up_is_a_mail_failed_entry_on_its_ticket(store: Store) -> None:
    n = await ticket(store)
    (created,) = await store.ticket_changes()
    await store.queue_customer_mail(created.id, [out(n, created.id)], [], now=T0)
    (due,) = await store.due_customer_mail(T0)
    await store.claim_messages(due.id, [due.id], due.text, T0)
    await store.finish_message(due.id, sent=False, provider_id=None, error="550 no such user", retry_at=None, now=T0)
    t = await store.get_ticket(n)
    assert t is not None
    (failed,) = [e for e in t.timeline if e.kind == "mail_failed"]
    assert failed.public is False and failed.data["error"] == "550 no such user"
    assert failed.data["to"] == "jan@acme.example" and failed.data["message_id"] == due.message_id
    assert await store.customer_mail_pending(T0) == 0
