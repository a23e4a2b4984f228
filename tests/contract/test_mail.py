"""MailStore: incoming mail stored raw, once per message, durable across a restart."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from pager.storage.port import NotFound, Store

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
