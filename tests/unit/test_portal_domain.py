"""pager.domain.portal: who sees which ticket and entry, when a session ends (on a moved clock), the
sign-in lockout, password links, passwords and the page language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from pager.clock import ManualClock
from pager.domain import portal
from pager.domain.portal import (
    AccountInvalid,
    LockoutRules,
    Own,
    Role,
    SessionState,
    Viewer,
    check_account,
    choose_language,
    customer_scope,
    link_usable,
    locked_for,
    may_see_ticket,
    own_scope,
    password_problem,
    sees_whole_customer,
    session_state,
    session_touch_due,
    visible_entries,
    visible_tickets,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@dataclass(frozen=True)
class R:
    contact: str | None = None
    email: str | None = None


@dataclass
class T:
    number: int
    customer: str | None
    assignee: str | None = None
    requester: R = R()


@dataclass
class E:
    text: str
    public: bool


ACME = Viewer(Role.CUSTOMER, customer="acme")
AGENCY = Viewer(Role.CUSTOMER, customer="agency")
DESK = Viewer(Role.DESK)
ADMIN = Viewer(Role.ADMIN)
ANNA = Viewer(Role.ENGINEER, person="anna")
TICKETS = [T(1, "acme"), T(2, "agency", "anna"), T(3, None), T(4, "acme", "bram")]


@pytest.mark.parametrize(
    "who, seen",
    [(ACME, [1, 4]), (AGENCY, [2]), (DESK, [1, 2, 3, 4]), (ADMIN, [1, 2, 3, 4]), (ANNA, [2])],
    ids=["customer-acme", "customer-agency", "desk", "admin", "engineer"],
)
def test_each_role_sees_its_own_tickets_only(who, seen):
    assert [t.number for t in visible_tickets(who, TICKETS)] == seen


JAN_OWN = Viewer(Role.CUSTOMER, customer="acme", own=Own(email="jan@acme.example", contacts=frozenset({"acme.jan"})))
ON = [
    T(11, "acme", requester=R(contact="acme.jan", email="jan.other@acme.example")),  # its contact, another address
    T(12, "acme", requester=R(email="jan@acme.example")),  # its address, no contact known
    T(13, "acme", requester=R(contact="acme.sara", email="sara@acme.example")),  # a colleague's
    T(14, "acme", requester=R()),  # nobody known (filed by the desk)
    T(15, "agency", requester=R(contact="acme.jan", email="jan@acme.example")),  # another customer's, never
    T(16, None, requester=R(email="jan@acme.example")),  # in triage: no customer's
    T(17, "acme", requester=R(contact="acme.sara", email="JAN@acme.example")),  # the address, in any case
]


@pytest.mark.parametrize(
    "who, seen",
    [(JAN_OWN, [11, 12, 17]), (ACME, [11, 12, 13, 14, 17]), (DESK, [11, 12, 13, 14, 15, 16, 17])],
    ids=["contact-own", "contact-all", "desk"],
)
def test_a_contact_whose_customer_says_own_sees_only_the_tickets_it_is_on(who, seen):
    assert [t.number for t in visible_tickets(who, ON)] == seen


def test_own_scope_is_a_contact_s_only_and_a_statement_needs_the_whole_customer():
    assert own_scope(JAN_OWN) == JAN_OWN.own and own_scope(ACME) is None and own_scope(DESK) is None
    # an `own` on a staff viewer never limits it (staff are never contacts)
    assert own_scope(Viewer(Role.DESK, own=JAN_OWN.own)) is None
    assert not sees_whole_customer(JAN_OWN) and sees_whole_customer(ACME) and sees_whole_customer(DESK)


def test_a_ticket_in_triage_is_no_customer_s():
    assert not may_see_ticket(ACME, T(9, None))
    assert not may_see_ticket(Viewer(Role.CUSTOMER, customer=None), T(9, None))


def test_a_customer_query_is_always_scoped():
    assert customer_scope(ACME) == "acme"
    assert customer_scope(DESK) is None
    with pytest.raises(ValueError):
        customer_scope(Viewer(Role.CUSTOMER))


def test_an_internal_note_is_never_shown_to_a_customer():
    entries = [E("hello", True), E("internal: their admin is difficult", False), E("fixed", True)]
    assert [e.text for e in visible_entries(ACME, entries)] == ["hello", "fixed"]
    assert len(visible_entries(DESK, entries)) == 3
    assert len(visible_entries(ANNA, entries)) == 3


def test_who_is_on_call_is_for_staff():
    assert portal.may_see_oncall(DESK) and portal.may_see_oncall(ANNA) and not portal.may_see_oncall(ACME)


@pytest.mark.parametrize(
    "role, person, customer, error",
    [
        (Role.CUSTOMER, None, "acme", None),
        (Role.CUSTOMER, None, None, "needs --customer"),
        (Role.CUSTOMER, "anna", "acme", "no --person"),
        (Role.DESK, None, None, None),
        (Role.ADMIN, "anna", None, None),
        (Role.DESK, None, "acme", "no --customer"),
        (Role.ENGINEER, None, None, "needs --person"),
        (Role.ENGINEER, "anna", None, None),
    ],
)
def test_account_rules(role, person, customer, error):
    if error is None:
        check_account(role, person, customer)
    else:
        with pytest.raises(AccountInvalid, match=error):
            check_account(role, person, customer)


# the session table: (minutes after sign-in of the last request, minutes after sign-in now) -> state
@pytest.mark.parametrize(
    "last_seen, now, state",
    [
        (0, 0, SessionState.LIVE),
        (0, 29, SessionState.LIVE),
        (0, 30, SessionState.IDLE),
        (100, 129, SessionState.LIVE),
        (100, 130, SessionState.IDLE),
        (700, 719, SessionState.LIVE),
        (710, 720, SessionState.EXPIRED),  # 12 h after sign-in, however busy
        (719, 721, SessionState.EXPIRED),
        (100, 90, SessionState.LIVE),  # a clock stepped back: counts as the last request
    ],
)
def test_session_expiry_table(last_seen, now, state):
    assert session_state(T0, T0 + last_seen * MIN, None, T0 + now * MIN) is state


@pytest.mark.parametrize(
    "last_seen_seconds, now_seconds, due",
    [(0, 0, False), (0, 59, False), (0, 60, True), (0, 1800, True), (100, 90, False)],  # 90: a clock stepped back
)
def test_a_request_is_recorded_at_most_once_a_minute(last_seen_seconds, now_seconds, due):
    at = timedelta(seconds=1)
    assert session_touch_due(T0 + last_seen_seconds * at, T0 + now_seconds * at) is due


def test_session_expiry_on_a_moving_clock():
    clock = ManualClock(T0)
    created = last = clock.now()
    for _ in range(23):  # a request every 29 minutes keeps it alive ...
        clock.advance(29 * MIN)
        assert session_state(created, last, None, clock.now()) is SessionState.LIVE
        last = clock.now()
    clock.advance(29 * MIN)  # ... until 12 hours (24 x 29 min = 11 h 36 min; the next step passes 12 h)
    assert session_state(created, last, None, clock.now()) is SessionState.LIVE
    clock.advance(29 * MIN)
    assert session_state(created, clock.now() - MIN, None, clock.now()) is SessionState.EXPIRED


def test_an_ended_session_stays_ended():
    assert session_state(T0, T0, T0, T0) is SessionState.ENDED


RULES = LockoutRules(failures=5, window=15 * MIN, lock=15 * MIN)


def test_four_failures_do_not_lock_the_fifth_does():
    fails = [T0 + i * MIN for i in range(4)]
    assert locked_for(fails, T0 + 4 * MIN, RULES) is None
    fails.append(T0 + 4 * MIN)
    assert locked_for(fails, T0 + 4 * MIN, RULES) == 15 * MIN
    assert locked_for(fails, T0 + 18 * MIN, RULES) == MIN
    assert locked_for(fails, T0 + 19 * MIN, RULES) is None


def test_failures_spread_wider_than_the_window_do_not_lock():
    fails = [T0 + i * 4 * MIN for i in range(5)]  # 16 minutes from first to fifth
    assert locked_for(fails, fails[-1], RULES) is None


def test_failures_in_the_future_of_a_stepped_back_clock_do_not_count():
    fails = [T0 + i * MIN for i in range(5)]
    assert locked_for(fails, T0 - MIN, RULES) is None


def test_the_lockout_keys_name_the_account_and_the_address():
    assert portal.lockout_keys(" Jan@Acme.Example ", "10.0.0.1") == ("account:jan@acme.example", "address:10.0.0.1")
    assert portal.lockout_keys("x", None)[1] == "address:unknown"


def test_a_password_link_works_once_before_it_expires():
    assert link_usable(T0 + MIN, None, T0)
    assert not link_usable(T0 + MIN, None, T0 + MIN)
    assert not link_usable(T0 + MIN, T0, T0)
    assert portal.link_lifetime(portal.LinkPurpose.INVITE) == timedelta(days=7)
    assert portal.link_lifetime(portal.LinkPurpose.RESET) == timedelta(hours=1)


@pytest.mark.parametrize(
    "password, problem",
    [
        ("correct horse battery", None),
        ("short", "at least 12"),
        ("x" * 1025, "at most 1024"),
        ("twelve chars\x00!", "printable"),
        (" " * 12, "not only spaces"),
    ],
)
def test_password_rules(password, problem):
    got = password_problem(password)
    assert (got is None) if problem is None else (got is not None and problem in got)


@pytest.mark.parametrize(
    "raw, normal",
    [
        (" Jan@Acme.Example ", "jan@acme.example"),
        ("no-at-sign", None),
        ("a@b", None),
        ("a b@c.nl", None),
        ("@c.nl", None),
        ("a@c.nl.", None),
        ("x" * 250 + "@c.nl", None),
    ],
)
def test_normal_email(raw, normal):
    assert portal.normal_email(raw) == normal


@pytest.mark.parametrize(
    "account, header, lang",
    [
        ("en", "nl-NL,nl;q=0.9", "en"),
        (None, "en-GB,en;q=0.9,nl;q=0.8", "en"),
        (None, "nl-NL,en;q=0.5", "nl"),
        (None, "de-DE,fr;q=0.9", "nl"),
        (None, "en;q=0.1, nl;q=0.9", "nl"),
        (None, "en;q=0, de", "nl"),
        (None, None, "nl"),
        (None, "en;q=bogus", "nl"),
        (None, ",,;;=,", "nl"),
        ("xx", "en", "en"),
    ],
)
def test_language_from_the_account_else_accept_language(account, header, lang):
    assert choose_language(account, header) == lang


def test_reset_requests_count_per_address_and_client_apart_from_sign_in_failures():
    assert portal.reset_keys(" Jan@Acme.example ", "192.0.2.1") == ("reset:jan@acme.example", "reset-from:192.0.2.1")
    assert set(portal.reset_keys("jan@acme.example", None)).isdisjoint(portal.lockout_keys("jan@acme.example", None))
    t = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    three = [t, t + timedelta(minutes=1), t + timedelta(minutes=2)]
    assert portal.locked_for(three[:2], t + timedelta(minutes=3), portal.RESET_PER_ACCOUNT) is None
    assert portal.locked_for(three, t + timedelta(minutes=3), portal.RESET_PER_ACCOUNT) == timedelta(minutes=59)
    assert portal.locked_for(three, t + timedelta(minutes=62), portal.RESET_PER_ACCOUNT) is None


@pytest.mark.parametrize(
    "account, customer, person, lang",
    [
        ("en", "nl", None, "en"),
        (None, "en", None, "en"),
        (None, None, "en", "en"),
        (None, None, None, "nl"),
        ("xx", None, None, "nl"),
    ],
)
def test_a_link_mail_speaks_the_account_s_language_else_its_customer_s_or_person_s(account, customer, person, lang):
    assert portal.mail_language(account, customer, person) == lang


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_totp_code_is_taken_in_its_step_or_one_either_side_and_only_after_the_last_taken():
    now = datetime(2026, 1, 5, 9, 0, 10, tzinfo=UTC)
    here = portal.totp_step(now)
    assert here == int(now.timestamp()) // 30
    totp = pyotp.TOTP(SECRET)
    assert portal.totp_accepts(SECRET, totp.generate_otp(here), now, None) == here
    assert portal.totp_accepts(SECRET, totp.generate_otp(here - 1), now, None) == here - 1
    assert portal.totp_accepts(SECRET, totp.generate_otp(here + 1), now, None) == here + 1
    assert portal.totp_accepts(SECRET, totp.generate_otp(here - 2), now, None) is None
    assert portal.totp_accepts(SECRET, totp.generate_otp(here), now, here) is None  # used
    assert portal.totp_accepts(SECRET, totp.generate_otp(here + 1), now, here) == here + 1
    code = totp.generate_otp(here)
    assert portal.totp_accepts(SECRET, f" {code[:3]} {code[3:]} ", now, None) == here
    # pyotp's own answer at the same instant agrees (its clock passed as a number, not read)
    assert totp.verify(code, for_time=int(now.timestamp()))


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "0" * 5000])
def test_a_malformed_totp_code_is_never_taken(code):
    now = datetime(2026, 1, 5, 9, 0, 10, tzinfo=UTC)
    assert portal.totp_accepts(SECRET, code, now, None) is None


def test_the_second_step_is_open_five_minutes():
    t = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert portal.second_step_open(t, t + timedelta(minutes=4, seconds=59))
    assert not portal.second_step_open(t, t + timedelta(minutes=5))
    assert not portal.second_step_open(t, t - timedelta(seconds=1))  # a clock stepped back


def test_the_second_factor_is_for_staff():
    assert portal.may_enrol_totp(Viewer(Role.DESK, person="anna"))
    assert not portal.may_enrol_totp(Viewer(Role.CUSTOMER, customer="acme"))


@pytest.mark.parametrize(
    "account, chosen, header, lang",
    [
        (None, "nl", "en-GB,en;q=0.9", "nl"),  # the switch beats the browser
        (None, "en", "nl", "en"),
        ("nl", "en", "en", "nl"),  # signed in, the account's (the switch sets it too)
        (None, "de", "en", "en"),  # a cookie of no language the portal speaks: as if none
        (None, "", "en", "en"),
        (None, None, None, "nl"),
    ],
)
def test_the_reader_s_choice_beats_accept_language(account, chosen, header, lang):
    assert choose_language(account, header, chosen=chosen) == lang


@pytest.mark.parametrize(
    "path, back",
    [
        ("/ui/tickets/12", "/ui/tickets/12"),
        ("/ui/tickets?status=open&risk=at_risk", "/ui/tickets?status=open&risk=at_risk"),
        ("/ui/login", "/ui/login"),
        (None, "/ui/tickets"),
        ("", "/ui/tickets"),
        ("https://evil.example/ui/", "/ui/tickets"),
        ("//evil.example/ui/", "/ui/tickets"),
        ("/ui//evil.example", "/ui/tickets"),
        ("/ui/\\evil.example", "/ui/tickets"),
        ("/api/v1/tickets", "/ui/tickets"),
        ("/ui/tickets\r\nSet-Cookie: x=1", "/ui/tickets"),
        ("/ui/caf\u00e9", "/ui/tickets"),
        ("/ui/" + "x" * 600, "/ui/tickets"),
        ("/uix/tickets", "/ui/tickets"),
    ],
)
def test_a_form_sends_back_only_to_a_page_of_the_portal(path, back):
    assert portal.safe_next(path) == back
