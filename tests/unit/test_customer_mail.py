"""Which ticket changes mail the customer, to whom, and what is withheld (pager.domain.customer_mail): one
literal case per row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pager.domain.customer_mail import (
    Change,
    Limits,
    MailKind,
    Outgoing,
    Recipient,
    TicketView,
    Withheld,
    decide,
    decide_all,
    mail_kind,
    message_id,
    never_mailed,
    subject,
    thread_headers,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
JAN = Recipient("jan@acme.example", "Jan", "nl", "requester", contact="acme.jan")
STRANGER = Recipient("x@elsewhere.example", None, "nl", "requester")
BRAM = Recipient("bram@example.nl", "Bram", "en", "watcher", person="bram")
PEOPLE = {"anna": "anna@example.nl", "bram": "bram@example.nl"}
TICKET = TicketView(7, "Webshop traag", JAN, (BRAM,))
DEFAULT = Limits()
MAIL = {"via": "email", "mail_id": 3, "may_autoreply": True, "from": "jan@acme.example", "classification": "normal"}


def change(kind: str, public: bool = True, actor: str | None = "anna", **data) -> Change:
    return Change(entry_id=11, number=7, kind=kind, public=public, actor=actor, at=NOW, data=data)


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        (change("created", via="email", mail_id=3), MailKind.ACKNOWLEDGEMENT),
        (change("created", via="email"), None),  # the desk typed in a mail's request: no mail of it
        (change("created", via="phone"), None),
        (change("created", via="api"), None),
        (change("reply", text="Opgelost"), MailKind.REPLY),
        (change("reply", public=False, text="geheim"), None),  # never: an internal entry, whatever its kind
        (change("note", text="geheim"), None),  # a note marked public by mistake still mails nothing
        (change("note", public=False, text="geheim"), None),
        (change("status", to="waiting_on_customer"), MailKind.STATUS),
        (change("status", to="resolved"), MailKind.STATUS),
        (change("status", to="open"), None),
        (change("status", to="closed"), None),
        (change("status", public=False, to="resolved"), None),
        (change("subject", to="Nieuw"), None),
        (change("assignee", public=False, to="bram"), None),
        (change("time", public=False, minutes=5), None),
        (change("auto_reply", public=False, text="Out of office"), None),
        (change("bounce", public=False, failed=["jan@acme.example"]), None),
        (change("paged", public=False), None),
        (change("linked", public=False, ticket=3), None),
    ],
)
def test_which_change_makes_a_mail(entry: Change, kind: MailKind | None) -> None:
    assert mail_kind(entry) is kind


def run(entry: Change, ticket: TicketView = TICKET, *, bounced=(), auto_sent=None, limits=DEFAULT) -> list:
    return decide(entry, ticket, people=PEOPLE, bounced=bounced, auto_sent=auto_sent or {}, limits=limits, now=NOW)


def to(decisions: list) -> list[tuple[str, str]]:
    return [("sent" if isinstance(d, Outgoing) else "withheld", d.to.address if isinstance(d, Outgoing) else d.address)
            for d in decisions]  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "ticket", "bounced", "expected"),
    [
        # acknowledgement: to the requester that is a known contact, only
        (change("created", actor="mail", **MAIL), TICKET, (), [("sent", "jan@acme.example")]),
        (change("created", actor="mail", **MAIL), TicketView(7, "s", STRANGER, (BRAM,)), (), []),
        (change("created", actor="mail", **MAIL), TicketView(7, "s", None, ()), (), []),
        (change("created", actor="mail", **{**MAIL, "may_autoreply": False, "classification": "bulk"}), TICKET, (),
         [("withheld", "jan@acme.example")]),
        (change("created", actor="mail", **{k: v for k, v in MAIL.items() if k != "may_autoreply"}), TICKET, (),
         [("withheld", "jan@acme.example")]),
        (change("created", actor="mail", **MAIL), TICKET, ("JAN@acme.example",), [("withheld", "jan@acme.example")]),
        # a desk reply: requester and watchers, not its writer
        (change("reply", text="x"), TICKET, (), [("sent", "jan@acme.example"), ("sent", "bram@example.nl")]),
        (change("reply", actor="bram", text="x"), TICKET, (), [("sent", "jan@acme.example")]),
        (change("reply", actor="bram", text="x"), TICKET, ("jan@acme.example",), [("withheld", "jan@acme.example")]),
        # the customer's own reply by mail: the watchers, never its sender
        (change("reply", actor="customer", text="x", from_customer=True, **{"from": "jan@acme.example"}), TICKET, (),
         [("sent", "bram@example.nl")]),
        # another contact of the customer wrote: the requester hears of it
        (change("reply", actor="customer", text="x", from_customer=True, **{"from": "sara@acme.example"}), TICKET, (),
         [("sent", "jan@acme.example"), ("sent", "bram@example.nl")]),
        # a customer's reply the desk typed in (CLI --from-customer): not the requester, not the typist
        (change("reply", actor="bram", text="x", from_customer=True), TICKET, (), []),
        # status changes that matter
        (change("status", to="resolved"), TICKET, (), [("sent", "jan@acme.example"), ("sent", "bram@example.nl")]),
        (change("status", actor="bram", to="waiting_on_customer"), TICKET, (), [("sent", "jan@acme.example")]),
        (change("status", to="open"), TICKET, (), []),
        (change("note", public=False, text="geheim"), TICKET, (), []),
        # robots never get mail
        (change("reply", text="x"), TicketView(7, "s", Recipient("MAILER-DAEMON@mx.example", None, "nl", "requester"),
                                              ()), (), [("withheld", "MAILER-DAEMON@mx.example")]),
        (change("reply", text="x"), TicketView(7, "s", Recipient("postmaster@acme.example", None, "nl", "requester"),
                                              ()), (), [("withheld", "postmaster@acme.example")]),
        # the requester is also a watcher's address: one mail
        (change("reply", text="x"), TicketView(7, "s", JAN, (Recipient("jan@acme.example", "J", "nl", "watcher",
                                                                       person="jan"),)), (),
         [("sent", "jan@acme.example")]),
    ],
)  # fmt: skip
def test_recipients(entry: Change, ticket: TicketView, bounced: tuple, expected: list) -> None:
    assert to(run(entry, ticket, bounced=bounced)) == expected


def test_an_internal_note_makes_no_mail_by_any_path() -> None:
    for kind in ("note", "reply", "status", "created", "subject", "time", "assignee", "bounce", "auto_reply"):
        entry = change(kind, public=False, text="GEHEIM", to="resolved", via="email", mail_id=1, may_autoreply=True)
        assert run(entry) == [], kind


@pytest.mark.parametrize(
    ("sent", "limits", "capped"),
    [
        ([], Limits(), False),
        ([NOW - timedelta(minutes=m) for m in (1, 2, 3, 4)], Limits(), False),
        ([NOW - timedelta(minutes=m) for m in (1, 2, 3, 4, 5)], Limits(), True),
        ([NOW - timedelta(minutes=m) for m in (1, 2, 3, 4, 61)], Limits(), False),  # one fell out of the hour
        ([NOW - timedelta(minutes=1)], Limits(auto_limit=1, auto_per=timedelta(minutes=5)), True),
        ([NOW - timedelta(minutes=6)], Limits(auto_limit=1, auto_per=timedelta(minutes=5)), False),
    ],
)
def test_the_cap_on_automatic_mail(sent: list, limits: Limits, capped: bool) -> None:
    (d,) = run(change("created", actor="mail", **MAIL), auto_sent={"jan@acme.example": sent}, limits=limits)
    assert isinstance(d, Withheld if capped else Outgoing)
    if capped:
        assert "capped at" in d.why


def test_the_cap_counts_the_batch_itself_and_only_automatic_mail() -> None:
    acks = [(Change(i, 7, "created", True, "mail", NOW, MAIL), TICKET) for i in range(1, 8)]
    replies = [(Change(100 + i, 7, "reply", True, "anna", NOW, {"text": "x"}), TICKET) for i in range(7)]
    out = decide_all(acks + replies, people=PEOPLE, bounced=(), auto_sent={}, limits=Limits(), now=NOW)
    jan = [d for d in out if (d.to.address if isinstance(d, Outgoing) else d.address) == "jan@acme.example"]
    assert [type(d).__name__ for d in jan[:7]] == ["Outgoing"] * 5 + ["Withheld"] * 2
    assert all(isinstance(d, Outgoing) for d in jan[7:]) and len(jan) == 14  # replies are never capped


@pytest.mark.parametrize(
    ("kind", "auto"),
    [(MailKind.ACKNOWLEDGEMENT, "auto-replied"), (MailKind.STATUS, "auto-generated"), (MailKind.REPLY, None)],
)
def test_auto_submitted_of_each_kind(kind: MailKind, auto: str | None) -> None:
    assert Outgoing(1, 7, kind, JAN, "").auto_submitted == auto


@pytest.mark.parametrize(
    ("address", "never"),
    [
        ("jan@acme.example", False),
        ("", True),
        ("jan", True),
        ("MAILER-DAEMON@mx.example", True),
        ("postmaster@acme.example", True),
        ("no-reply@shop.example", True),
        ("noreply@shop.example", True),
        ("owner-list@lists.example", True),
        ("list-request@lists.example", True),
    ],
)
def test_never_mailed(address: str, never: bool) -> None:
    assert (never_mailed(address) is not None) is never


@pytest.mark.parametrize(
    ("thread", "answers", "in_reply_to", "references"),
    [
        ((), None, None, ()),
        (("a",), None, "a", ("a",)),
        (("a", "b", "c"), None, "c", ("a", "b", "c")),
        (("a", "b", "c"), "b", "b", ("a", "c", "b")),
        (("a", "b"), "z", "z", ("a", "b", "z")),
        (tuple(f"m{i}" for i in range(40)), None, "m39", ("m0", *(f"m{i}" for i in range(21, 40)))),
    ],
)
def test_thread_headers(thread: tuple, answers: str | None, in_reply_to: str | None, references: tuple) -> None:
    assert thread_headers(thread, answers) == (in_reply_to, references)


def test_message_ids_are_stable_and_distinct() -> None:
    a = Outgoing(11, 7, MailKind.REPLY, JAN, "x")
    b = Outgoing(11, 7, MailKind.REPLY, BRAM, "x")
    assert message_id(a, "example.nl") == message_id(a, "example.nl")
    assert message_id(a, "example.nl") != message_id(b, "example.nl")
    assert message_id(a, "example.nl").startswith("pagerd.7.11.") and message_id(a, "example.nl").endswith(
        "@example.nl"
    )


@pytest.mark.parametrize(
    ("prefix", "number", "text", "line"),
    [
        ("[#", 7, "Webshop traag", "[#7] Webshop traag"),
        ("[ACME-#", 1234, "Checkout", "[ACME-#1234] Checkout"),
        ("[#", 7, "two\nlines\x00here", "[#7] two lines here"),
    ],
)
def test_subject(prefix: str, number: int, text: str, line: str) -> None:
    assert subject(prefix, number, text) == line
