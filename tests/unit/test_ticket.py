"""The ticket domain: the status table, a customer's reply, auto-close, ticket references; and who a
sender is (contacts by address or phone, customers by mail domain, never by a free-mail domain)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pager.domain import contacts as dc
from pager.domain.ticket import (
    MOVES,
    MoveRefused,
    Status,
    after_customer_reply,
    check_move,
    closes_at,
    parse_ref,
    ref,
)

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)

# the status table as the README states it: from -> the moves allowed
TABLE = {
    "new": {"open", "waiting_on_customer", "resolved", "closed"},
    "open": {"waiting_on_customer", "resolved", "closed"},
    "waiting_on_customer": {"open", "resolved", "closed"},
    "resolved": {"open", "closed"},
    "closed": set(),
}


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_check_move_follows_the_table(current: Status, target: Status) -> None:
    allowed = target is current or target.value in TABLE[current.value]
    if allowed:
        check_move(7, current, target)
    else:
        with pytest.raises(MoveRefused) as exc:
            check_move(7, current, target)
        assert f"#7 is {current.value}; cannot move to {target.value}" in str(exc.value)
        for move in TABLE[current.value]:
            assert move in str(exc.value)  # the message names the allowed moves
    assert {k.value: {v.value for v in vs} for k, vs in MOVES.items()} == TABLE


def test_a_customers_reply_reopens_waiting_and_resolved_only() -> None:
    assert after_customer_reply(Status.WAITING_ON_CUSTOMER) is Status.OPEN
    assert after_customer_reply(Status.RESOLVED) is Status.OPEN
    for s in (Status.NEW, Status.OPEN, Status.CLOSED):
        assert after_customer_reply(s) is s


def test_a_resolved_ticket_closes_after_the_configured_time() -> None:
    week = timedelta(days=7)
    assert closes_at(Status.RESOLVED, T0, week) == T0 + week
    assert closes_at(Status.OPEN, T0, week) is None
    assert closes_at(Status.RESOLVED, None, week) is None


@pytest.mark.parametrize(
    "text, number",
    [
        ("1234", 1234),
        ("#1234", 1234),
        (" #7 ", 7),
        ("0", None),
        ("#", None),
        ("-3", None),
        ("1e3", None),
        ("١٢", None),
        ("9" * 16, None),
        ("abc", None),
    ],
)
def test_parse_ref(text: str, number: int | None) -> None:
    assert parse_ref(text) == number
    if number is not None:
        assert parse_ref(ref(number)) == number


JAN = dc.Contact(id="acme.jan", customer="acme", name="Jan", emails=("jan@acme.example",), phone="+31201234567")
SARA = dc.Contact(id="acme.sara", customer="acme", name="Sara", emails=("sara@acme.example",), phone="+31612345678")
PIET = dc.Contact(id="globex.piet", customer="globex", name="Piet", emails=("piet@gmail.com",))
CONTACTS = [JAN, SARA, PIET]
DOMAINS = {"acme": ["acme.example", "acme.nl"], "globex": ["globex.example"]}


@pytest.mark.parametrize(
    "address, contact, customer",
    [
        ("jan@acme.example", JAN, "acme"),
        ("  JAN@Acme.Example ", JAN, "acme"),
        ("piet@gmail.com", PIET, "globex"),  # a contact's free-mail address is theirs
        ("boss@acme.example", None, "acme"),  # by domain
        ("boss@ACME.NL", None, "acme"),
        ("someone@globex.example", None, "globex"),
        ("someone@gmail.com", None, None),  # free mail never maps by domain
        ("x@ziggo.nl", None, None),
        ("x@kpnmail.nl", None, None),
        ("x@sub.acme.example", None, None),  # a subdomain is not the domain
        ("x@unknown.example", None, None),
        ("not an address", None, None),
        ("", None, None),
        ("@acme.example", None, None),
    ],
)
def test_sender_by_email(address: str, contact, customer) -> None:
    s = dc.sender_by_email(address, CONTACTS, DOMAINS)
    assert (s.contact, s.customer, s.triage) == (contact, customer, customer is None)


def test_free_mail_domains_include_the_common_ones() -> None:
    for d in (
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "live.nl",
        "ziggo.nl",
        "kpnmail.nl",
    ):
        assert dc.is_free_mail(d) and dc.is_free_mail(d.upper() + ".")


@pytest.mark.parametrize(
    "number, contact",
    [
        ("+31201234567", JAN),
        ("020 123 4567", JAN),  # national form, region NL
        ("0031 20 1234567", JAN),
        ("+31 (0)20-123 45 67", JAN),
        ("06-12345678", SARA),
        ("+31612345679", None),
        ("+44 20 7946 0958", None),
        ("12", None),
        ("not a number", None),
        ("+" + "9" * 70, None),
    ],
)
def test_sender_by_phone_compares_in_e164(number: str, contact) -> None:
    s = dc.sender_by_phone(number, CONTACTS, "NL")
    assert s.contact == contact


def test_e164() -> None:
    assert dc.e164("020 123 4567", "NL") == "+31201234567"
    assert dc.e164("02 123 45 67", "BE") == "+3221234567"
    assert dc.e164("", "NL") is None and dc.e164("abc", "NL") is None


@given(st.text(max_size=80))
def test_sender_lookups_never_raise(text: str) -> None:
    dc.sender_by_email(text, CONTACTS, DOMAINS)
    dc.sender_by_phone(text, CONTACTS, "NL")
    parse_ref(text)


def test_mail_reopens_a_closed_ticket_within_the_window_only() -> None:
    from datetime import datetime, timedelta, timezone

    from pager.domain.ticket import mail_reopens

    closed = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    within = timedelta(days=14)
    assert mail_reopens(closed, closed, within)
    assert mail_reopens(closed, closed + within, within)
    assert not mail_reopens(closed, closed + within + timedelta(seconds=1), within)
