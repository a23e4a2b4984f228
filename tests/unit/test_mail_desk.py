"""The engine's mail stage (pager.service.mail_desk) on a real SQLite store and the example config: the
threading rules, the closed-ticket window, loops and automatic mail, and a mail that breaks processing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pager.clock import ManualClock
from pager.config import Config, load
from pager.observe.metrics import Metrics
from pager.service import mail_desk
from pager.sources.errors import InputError
from pager.storage.port import IngestPolicy
from pager.storage.sqlite import SqliteStore
from tests.conftest import require_binary
from tests.harness.pagerd import EXAMPLE_ENV
from tests.scenarios.harness import EXAMPLE_CONFIG

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load(EXAMPLE_CONFIG, env={**EXAMPLE_ENV, "PAGERD_NOTIFIER": "dry_run"})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "p.db"), POLICY, clock=ManualClock(T0))
    await s.open()
    yield s
    await s.close()


def mail(mid: str, sender: str, subject: str, extra: str = "", body: str = "Hallo.") -> bytes:
    return (f"Message-ID: <{mid}>\r\nFrom: {sender}\r\nTo: support@example.nl\r\nSubject: {subject}\r\n"
            f"{extra}\r\n{body}\r\n").encode()  # fmt: skip


async def deliver(store: SqliteStore, cfg: Config, raw: bytes, at: datetime = T0, sender: str = "x@y.nl") -> dict:
    mail_id, _ = await store.receive_mail(
        message_id=None, envelope_from=sender, recipients=["support@example.nl"], raw=raw, received_at=at
    )
    metrics = Metrics()
    assert await mail_desk.process(store, cfg, metrics, at) == 1
    got = await store.get_mail(mail_id)
    assert got is not None
    return got.record.to_json()


async def test_a_closed_ticket_reopens_within_the_window_else_a_new_linked_ticket(store, cfg) -> None:
    first = await deliver(store, cfg, mail("a@x", "jan@acme.example", "Webshop"))
    n = first["ticket"]
    await store.update_ticket(n, {"status": "closed"}, actor="anna", now=T0)
    within = T0 + cfg.desk.reopen_closed_within
    m = await deliver(store, cfg, mail("b@x", "jan@acme.example", "Re: Webshop", "In-Reply-To: <a@x>\r\n"), within)
    assert (m["status"], m["ticket"], m["reason"]) == ("reply", n, "reopened a closed ticket")
    t = await store.get_ticket(n)
    assert t is not None and t.status == "open"
    await store.update_ticket(n, {"status": "closed"}, actor="anna", now=within)
    later = within + cfg.desk.reopen_closed_within + timedelta(seconds=1)
    m = await deliver(store, cfg, mail("c@x", "jan@acme.example", f"Re: [#{n}] Webshop"), later)
    assert m["status"] == "ticket" and m["ticket"] != n and "closed longer than" in m["reason"]
    t = await store.get_ticket(n)
    assert t is not None and t.status == "closed"
    new = await store.get_ticket(m["ticket"])
    assert new is not None and new.customer == "acme" and new.requester.contact == "acme.jan"
    assert [e.data["ticket"] for e in new.timeline if e.kind == "linked"] == [n]


async def test_subject_tag_counts_for_participants_only(store, cfg) -> None:
    n = (await deliver(store, cfg, mail("a@x", "jan@acme.example", "Webshop")))["ticket"]
    await store.update_ticket(n, {"watchers": ("eva",)}, actor="anna", now=T0)
    for i, who in enumerate(("s.mol@acme.example", "eva@example.nl", "JAN@ACME.EXAMPLE")):  # contact, watcher
        m = await deliver(store, cfg, mail(f"t{i}@x", who, f"[#{n}] ook dit"))
        assert (m["status"], m["ticket"]) == ("reply", n), who
    # a stranger, an unknown number, another customer's domain (by domain only): new tickets
    m = await deliver(store, cfg, mail("s@x", "piet@example.com", f"[#{n}] ook dit"))
    assert m["status"] == "ticket" and m["ticket"] != n
    m = await deliver(store, cfg, mail("u@x", "piet@example.com", "[#99999] hallo"))
    assert m["status"] == "ticket" and m["reason"] is None
    t = await store.get_ticket(m["ticket"])
    assert t is not None and (t.customer, t.project, t.requester.email) == (None, None, "piet@example.com")


async def test_loops_and_automatic_mail_make_no_ticket(store, cfg) -> None:
    m = await deliver(store, cfg, mail("l@x", "support@example.nl", "hallo"))
    assert (m["status"], m["ticket"]) == ("loop", None)
    m = await deliver(
        store, cfg, mail("o@x", "jan@acme.example", "Out of office: hallo", "Auto-Submitted: auto-replied\r\n")
    )
    assert (m["status"], m["ticket"]) == ("refused", None) and "automatic reply" in m["reason"]
    # bulk mail still becomes a ticket, but may never get an automatic answer
    m = await deliver(store, cfg, mail("b@x", "news@acme.example", "Nieuwsbrief", "Precedence: bulk\r\n"))
    t = await store.get_ticket(m["ticket"])
    assert t is not None and t.timeline[0].data["may_autoreply"] is False
    assert await store.list_tickets() and len(await store.list_tickets()) == 1


async def test_a_mail_that_breaks_processing_is_kept_as_unparseable(store, cfg, monkeypatch) -> None:
    def boom(*a, **kw):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(mail_desk, "parse", boom)
    m = await deliver(store, cfg, mail("a@x", "jan@acme.example", "hallo"))
    assert (m["status"], m["reason"]) == ("unparseable", "could not be read: RuntimeError")


def test_list_filters_name_the_bad_value() -> None:
    assert mail_desk.list_filters({"status": "unparseable", "limit": "5", "after": "3"}) == {
        "status": "unparseable", "limit": 5, "after_id": 3
    }  # fmt: skip
    for q in ({"status": "eaten"}, {"limit": "0"}, {"limit": "1001"}, {"after": "-1"}, {"limit": "٣"}):
        with pytest.raises(InputError) as e:
            mail_desk.list_filters(q)
        assert e.value.status == 400 and e.value.problems[0].field == next(iter(q))


async def test_a_new_mail_keeps_its_attachments_metadata_and_a_clean_subject(store, cfg) -> None:
    raw = (
        b"Message-ID: <att@x>\r\nFrom: =?utf-8?q?Jan_=07Pietersen?= <jan@acme.example>\r\nTo: support@example.nl\r\n"
        b"Subject: =?utf-8?q?Re=3A_Factuur=09=1B[31m_kwijt?=\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
        b"Zie bijlage.\r\n--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="../factuur 12.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        b"JVBERi0xLjQK\r\n--b--\r\n"
    )
    m = await deliver(store, cfg, raw)
    t = await store.get_ticket(m["ticket"])
    assert t is not None
    assert t.subject.isprintable() and "Factuur" in t.subject and "kwijt" in t.subject
    assert [(a.name, a.type, a.size) for a in t.attachments] == [("factuur 12.pdf", "application/pdf", 9)]
    assert t.attachments[0].sha256 is not None and len(t.attachments[0].sha256) == 64
    assert "Zie bijlage." in t.timeline[0].data["text"]


async def test_every_corpus_message_is_filed_or_set_aside_with_a_reason(store, cfg) -> None:
    """CPython's own e-mail test data (Debian's libpython3.11-testsuite): each message becomes a ticket or a
    reply, or is set aside with its reason; never a crash, never left pending."""
    from tests.unit.test_mail_corpus import CORPUS, MESSAGES

    require_binary(str(CORPUS / "msg_01.txt"))
    for path in MESSAGES:
        await store.receive_mail(
            message_id=None, envelope_from="x@y.nl", recipients=["support@example.nl"], raw=path.read_bytes(),
            received_at=T0,
        )  # fmt: skip
    metrics = Metrics()
    while await mail_desk.process(store, cfg, metrics, T0) == mail_desk.BATCH:
        pass
    rows = await store.list_mail(limit=1000)
    assert len(rows) == len(MESSAGES)
    for r in rows:
        assert r.status in ("ticket", "reply", "auto_reply", "bounce", "refused", "unparseable", "loop"), r
        assert r.status in ("ticket", "reply") or r.reason, r
        assert (r.ticket is not None) == (r.status in ("ticket", "reply", "auto_reply", "bounce")), r
    assert any(r.status == "ticket" for r in rows)
    assert not [r for r in rows if (r.reason or "").startswith("could not be read")]


async def test_a_store_failure_leaves_the_mail_pending_for_the_next_tick(store, cfg, monkeypatch) -> None:
    mail_id, _ = await store.receive_mail(
        message_id=None, envelope_from="x@y.nl", recipients=["support@example.nl"],
        raw=mail("p@x", "jan@acme.example", "Re: hallo", "In-Reply-To: <a@x>\r\n"), received_at=T0,
    )  # fmt: skip

    async def down(ids):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(store, "mail_ticket", down)
    with pytest.raises(RuntimeError):
        await mail_desk.process(store, cfg, Metrics(), T0)
    got = await store.get_mail(mail_id)
    assert got is not None and got.record.status == "pending"
    monkeypatch.undo()
    assert await mail_desk.process(store, cfg, Metrics(), T0) == 1
    got = await store.get_mail(mail_id)
    assert got is not None and got.record.status == "ticket"


async def test_while_mail_comes_in_the_engine_files_one_a_tick(store, cfg) -> None:
    from pager.app import make_notifier
    from pager.service.paging import PagingEngine
    from pager.service.schedule import Schedule

    for i in range(5):
        await store.receive_mail(
            message_id=f"<b{i}@x>", envelope_from="x@y.nl", recipients=["support@example.nl"],
            raw=mail(f"b{i}@x", "jan@acme.example", f"vraag {i}"), received_at=T0,
        )  # fmt: skip
    receiving = [True]
    clock = ManualClock(T0)
    schedule = Schedule(cfg)
    engine = PagingEngine(
        store, clock, Metrics(), make_notifier(cfg, clock), lambda: (cfg, schedule),
        mail_receiving=lambda: receiving[0],
    )  # fmt: skip
    for left in (4, 3):  # a mail is being received: one filed per tick (the next when that one is stored)
        await engine.mail(cfg, schedule, T0)
        assert len(await store.list_mail("pending")) == left
        assert not engine.wake.is_set()
    receiving[0] = False
    await engine.mail(cfg, schedule, T0)  # nothing coming in: the rest in one go
    assert await store.list_mail("pending") == []
    assert not engine.wake.is_set()
