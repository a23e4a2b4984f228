"""MailStore: incoming mail stored raw, once per message, durable across a restart."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from pager.storage.port import Attachment, MailFiling, NewMailTicket, NotFound, Requester, Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
RAW = b"Message-ID: <a@example.nl>\r\nFrom: Klant <klant@acme.nl>\r\nSubject: hallo\r\n\r\nDe site is traag.\r\n"


async def receive(store: Store, raw: bytes = RAW, message_id: str | None = "<a@example.nl>", **kw) -> tuple[int, bool]:
    args = {"envelope_from": "klant@acme.nl", "recipients": ["support@example.nl"], "received_at": T0, **kw}
    return await store.receive_mail(message_id=message_id, raw=raw, **args)


async def test_receive_mail_stores_the_raw_bytes_and_the_envelope(store: Store) -> None:
    mail_id, new = await receive(store)
    assert new is True
    got = await store.get_mail(mail_id)
    assert got is not None and got.raw == RAW
    r = got.record
    assert (r.id, r.message_id, r.envelope_from, r.recipients) == (
        mail_id,
        "<a@example.nl>",
        "klant@acme.nl",
        ("support@example.nl",),
    )
    assert (r.size, r.sha256, r.status, r.reason) == (len(RAW), hashlib.sha256(RAW).hexdigest(), "pending", None)
    assert r.received_at == r.updated_at == T0
    assert r.to_json()["received_at"] == "2026-03-02T09:00:00.000000Z"


async def test_receive_mail_again_with_the_same_message_id_stores_nothing(store: Store) -> None:
    first, _ = await receive(store)
    # a redelivery (later, even with other bytes: the MTA added a header) is the same message
    again = await receive(store, raw=b"X-Again: 1\r\n" + RAW, received_at=T0 + timedelta(minutes=5))
    assert again == (first, False)
    assert [m.id for m in await store.list_mail()] == [first]
    got = await store.get_mail(first)
    assert got is not None and got.raw == RAW and got.record.received_at == T0


async def test_receive_mail_without_message_id_is_known_by_its_bytes(store: Store) -> None:
    raw = b"From: a@b.nl\r\n\r\nno id\r\n"
    a, new_a = await receive(store, raw=raw, message_id=None)
    b, new_b = await receive(store, raw=raw, message_id=None)
    c, new_c = await receive(store, raw=raw + b"more\r\n", message_id=None)
    assert (new_a, new_b, new_c) == (True, False, True) and a == b != c
    # the same bytes with a Message-ID are another message than those without one
    d, new_d = await receive(store, raw=raw, message_id="<x@b.nl>")
    assert new_d and d not in (a, c)
    assert (await store.get_mail(a)).record.message_id is None  # type: ignore[union-attr]


async def test_receive_mail_keeps_the_null_sender_and_binary_bytes(store: Store) -> None:
    raw = bytes(range(256)) * 40 + b"\r\n"  # 8-bit, NUL bytes: stored as they came
    mail_id, _ = await receive(store, raw=raw, message_id=None, envelope_from="", recipients=["a@x.nl", "b@x.nl"])
    got = await store.get_mail(mail_id)
    assert got is not None and got.raw == raw
    assert got.record.envelope_from == "" and got.record.recipients == ("a@x.nl", "b@x.nl")


async def test_receive_mail_is_durable_across_a_restart(make_store: Callable[[], Store]) -> None:
    s = make_store()
    await s.open()
    big = RAW + b"x" * (2 * 1024 * 1024) + b"\r\n"  # hashed off the event loop
    mail_id, _ = await receive(s, raw=big)
    await s.close()
    s = make_store()
    await s.open()
    try:
        got = await s.get_mail(mail_id)
        assert got is not None and got.raw == big
        assert await receive(s, raw=big) == (mail_id, False)
    finally:
        await s.close()


async def test_list_mail_by_status_in_order_with_paging(store: Store) -> None:
    ids = [(await receive(store, message_id=f"<{i}@x>"))[0] for i in range(5)]
    assert [m.id for m in await store.list_mail()] == ids
    assert [m.id for m in await store.list_mail("pending", limit=2)] == ids[:2]
    assert [m.id for m in await store.list_mail("pending", after_id=ids[1], limit=2)] == ids[2:4]
    assert await store.list_mail("nonesuch") == []


async def test_get_mail_unknown_is_none(store: Store) -> None:
    assert await store.get_mail(12345) is None


async def test_mark_mail_sets_status_and_reason(store: Store) -> None:
    mail_id, _ = await receive(store)
    later = T0 + timedelta(hours=1)
    r = await store.mark_mail(mail_id, "pending", reason="waits for the parser", now=later)
    assert (r.status, r.reason, r.updated_at, r.received_at) == ("pending", "waits for the parser", later, T0)
    with pytest.raises(ValueError, match="unknown mail status"):
        await store.mark_mail(mail_id, "eaten", reason=None, now=later)
    with pytest.raises(NotFound):
        await store.mark_mail(999, "pending", reason=None, now=later)


NEW = NewMailTicket(
    subject="Webshop traag", customer="acme", project=None, requester=Requester(contact="acme.jan", email="jan@acme.nl")
)
FILE = Attachment(name="log.txt", type="text/plain", size=3, sha256="a" * 64)


async def _filed(store: Store, mid: str, filing: MailFiling, at=T0) -> tuple[int, int | None]:
    mail_id, _ = await receive(store, raw=mid.encode(), message_id=f"<{mid}>")
    r = await store.file_mail(mail_id, filing, now=at)
    return mail_id, r.ticket


async def test_file_mail_files_a_new_ticket_and_marks_the_mail_in_one_go(store: Store) -> None:
    filing = MailFiling(
        status="ticket", new=NEW, text="De site is traag.", attachments=(FILE,),
        data={"may_autoreply": True, "message_id": "m1@acme.nl"}, message_ids=("m1@acme.nl",),
    )  # fmt: skip
    mail_id, number = await _filed(store, "m1@acme.nl", filing)
    assert number is not None
    t = await store.get_ticket(number)
    assert t is not None
    assert (t.kind, t.status, t.via, t.customer, t.project, t.subject) == (
        "request", "new", "email", "acme", None, "Webshop traag"
    )  # fmt: skip
    assert t.requester.contact == "acme.jan" and t.attachments[0].name == "log.txt"
    first = t.timeline[0]
    assert first.kind == "created" and first.public and first.data["text"] == "De site is traag."
    assert (first.data["mail_id"], first.data["may_autoreply"]) == (mail_id, True)
    got = await store.get_mail(mail_id)
    assert got is not None and (got.record.status, got.record.ticket, got.record.reason) == ("ticket", number, None)
    # filed once: the same mail again changes nothing (it is no longer pending)
    again = await store.file_mail(mail_id, filing, now=T0 + timedelta(minutes=1))
    assert (again.status, again.ticket, again.updated_at) == ("ticket", number, T0)
    assert [x.number for x in await store.list_tickets()] == [number]


async def test_file_mail_replies_reopen_a_closed_ticket_and_keep_automatic_mail_internal(store: Store) -> None:
    _, number = await _filed(store, "m1@x", MailFiling(status="ticket", new=NEW, text="a", message_ids=("m1@x",)))
    assert number is not None
    await store.update_ticket(number, {"status": "resolved"}, actor="anna", now=T0)
    _, n = await _filed(
        store,
        "m2@x",
        MailFiling(status="reply", number=number, entry="reply", text="nog steeds", message_ids=("m2@x",)),
    )
    t = await store.get_ticket(number)
    assert n == number and t is not None and t.status == "open"
    assert [e.kind for e in t.timeline][-2:] == ["reply", "status"]
    await store.update_ticket(number, {"status": "closed"}, actor="anna", now=T0)
    await _filed(store, "m3@x", MailFiling(status="reply", number=number, entry="reply", reopen=True, text="weer"))
    t = await store.get_ticket(number)
    assert t is not None and t.status == "open"
    await store.update_ticket(number, {"status": "waiting_on_customer"}, actor="anna", now=T0)
    for entry in ("auto_reply", "bounce"):
        await _filed(store, f"{entry}@x", MailFiling(status=entry, number=number, entry=entry, text="afwezig",
                                                     data={"may_autoreply": False}))  # fmt: skip
    t = await store.get_ticket(number)
    assert t is not None and t.status == "waiting_on_customer"
    kept = [e for e in t.timeline if e.kind in ("auto_reply", "bounce")]
    assert [(e.kind, e.public, e.data["may_autoreply"]) for e in kept] == [
        ("auto_reply", False, False), ("bounce", False, False)
    ]  # fmt: skip


async def test_file_mail_links_a_new_ticket_to_the_one_it_answered(store: Store) -> None:
    _, old = await _filed(store, "m1@x", MailFiling(status="ticket", new=NEW, text="a"))
    _, new = await _filed(
        store, "m2@x", MailFiling(status="ticket", reason="stranger", new=NEW, text="b", linked_to=old)
    )
    assert old is not None and new is not None and old != new
    for a, b in ((old, new), (new, old)):
        t = await store.get_ticket(a)
        assert t is not None
        assert [(e.kind, e.public, e.data["ticket"]) for e in t.timeline if e.kind == "linked"] == [
            ("linked", False, b)
        ]


async def test_file_mail_only_marks_and_refuses_what_it_cannot_do(store: Store) -> None:
    mail_id, number = await _filed(store, "m1@x", MailFiling(status="unparseable", reason="no header section"))
    got = await store.get_mail(mail_id)
    assert number is None and got is not None and (got.record.status, got.record.reason) == (
        "unparseable", "no header section"
    )  # fmt: skip
    other, _ = await receive(store, raw=b"x", message_id="<m2@x>")
    with pytest.raises(ValueError, match="unknown mail status"):
        await store.file_mail(other, MailFiling(status="pending"), now=T0)
    with pytest.raises(ValueError):
        await store.file_mail(other, MailFiling(status="reply", entry="reply"), now=T0)
    with pytest.raises(NotFound):
        await store.file_mail(other, MailFiling(status="reply", number=999, entry="reply", text="x"), now=T0)
    with pytest.raises(NotFound):
        await store.file_mail(12345, MailFiling(status="loop"), now=T0)
    got = await store.get_mail(other)
    assert got is not None and got.record.status == "pending"  # nothing half done


async def test_mail_ticket_finds_the_ticket_of_a_message_id(store: Store) -> None:
    _, number = await _filed(store, "m1@x", MailFiling(status="ticket", new=NEW, text="a", message_ids=("m1@x",)))
    assert await store.mail_ticket(["nope@x", "m1@x"]) == number
    assert await store.mail_ticket(["nope@x"]) is None
    assert await store.mail_ticket([]) is None
