"""The portal's decisions (pure): who sees which ticket and which of its entries, when a session ends,
when sign-in is locked, whether a password link still works, and the page language.

Every page and every store read of the portal goes through these functions: a customer contact sees the
tickets of its own customer and only their public entries, whatever the page or the path asked for.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

import pyotp


class Role(StrEnum):
    ADMIN = "admin"  # everything
    DESK = "desk"  # the support desk: every ticket
    ENGINEER = "engineer"  # the tickets assigned to its person
    CUSTOMER = "customer"  # a customer's contact: its customer's tickets, public entries only


STAFF = frozenset({Role.ADMIN, Role.DESK, Role.ENGINEER})
LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; more than this is not a password
MAX_EMAIL = 254


class AccountInvalid(ValueError):
    """An account that breaks the role rules; the message says which."""


@dataclass(frozen=True, slots=True)
class Own:
    """A contact who sees only the tickets it is on (its customer's `portal.contacts_see: own`): those whose
    requester is one of `contacts` (its customer's contacts with the account's address) or has the account's
    address `email` (lower case)."""

    email: str
    contacts: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: an account's role, its person (staff) and its customer (a contact); `own`: a contact
    who sees only the tickets it is on (None: every ticket of its customer)."""

    role: Role
    person: str | None = None
    customer: str | None = None
    own: Own | None = None

    @property
    def staff(self) -> bool:
        return self.role in STAFF


def check_account(role: Role, person: str | None, customer: str | None) -> None:
    """A customer contact has a customer and no person; staff have no customer; an engineer has a person
    (its tickets are those assigned to it)."""
    if role is Role.CUSTOMER:
        if not customer:
            raise AccountInvalid("a customer account needs --customer")
        if person:
            raise AccountInvalid("a customer account has no --person")
    else:
        if customer:
            raise AccountInvalid(f"a {role.value} account has no --customer")
        if role is Role.ENGINEER and not person:
            raise AccountInvalid("an engineer account needs --person (its tickets are those assigned to it)")


class RequesterLike(Protocol):
    @property
    def contact(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...


class TicketLike(Protocol):
    @property
    def customer(self) -> str | None: ...
    @property
    def assignee(self) -> str | None: ...
    @property
    def requester(self) -> RequesterLike: ...


class EntryLike(Protocol):
    @property
    def public(self) -> bool: ...


T = TypeVar("T", bound=TicketLike)
E = TypeVar("E", bound=EntryLike)


def customer_scope(viewer: Viewer) -> str | None:
    """The customer a ticket query must be limited to (None: no limit, staff). A customer account without a
    customer sees nothing: ValueError, never an unscoped query."""
    if viewer.role is not Role.CUSTOMER:
        return None
    if not viewer.customer:
        raise ValueError("a customer account without a customer")
    return viewer.customer


def own_scope(viewer: Viewer) -> Own | None:
    """The requester a ticket query must be limited to besides the customer (None: no such limit): a
    contact who sees only the tickets it is on."""
    return viewer.own if viewer.role is Role.CUSTOMER else None


def is_on(own: Own, ticket: TicketLike) -> bool:
    """Whether the contact is on the ticket: it is the ticket's requester (one of its contact ids, or its
    address)."""
    r = ticket.requester
    return (r.contact is not None and r.contact in own.contacts) or (r.email or "").lower() == own.email


def may_see_ticket(viewer: Viewer, ticket: TicketLike) -> bool:
    """Admin and desk: every ticket. An engineer: those assigned to its person. A customer contact: those
    of its own customer (a ticket in triage belongs to no customer: none), or of them only the ones it is on
    when its customer says so (`own`)."""
    if viewer.role in (Role.ADMIN, Role.DESK):
        return True
    if viewer.role is Role.ENGINEER:
        return viewer.person is not None and ticket.assignee == viewer.person
    if viewer.customer is None or ticket.customer != viewer.customer:
        return False
    return viewer.own is None or is_on(viewer.own, ticket)


def sees_whole_customer(viewer: Viewer) -> bool:
    """Whether the viewer may see what sums up all of a customer's tickets (its statements): staff, and a
    contact that sees every ticket of its customer."""
    return viewer.staff or viewer.own is None


def visible_tickets(viewer: Viewer, tickets: Iterable[T]) -> list[T]:
    return [t for t in tickets if may_see_ticket(viewer, t)]


def may_see_entry(viewer: Viewer, entry: EntryLike) -> bool:
    """Staff see every entry; a customer only the public ones (never an internal note)."""
    return viewer.staff or entry.public


def visible_entries(viewer: Viewer, entries: Iterable[E]) -> list[E]:
    return [e for e in entries if may_see_entry(viewer, e)]


def may_see_oncall(viewer: Viewer) -> bool:
    """Who is on call (names, rotations) is the agency's: staff only."""
    return viewer.staff


# -- sessions ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionRules:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    # a request is recorded (the idle limit starts again) at most this often: a write per page view would
    # be one commit per request; the idle limit then counts from up to this much earlier
    touch_every: timedelta = timedelta(minutes=1)


def session_touch_due(last_seen_at: datetime, now: datetime, rules: SessionRules = SessionRules()) -> bool:
    """Whether a request at `now` is recorded on its session (last recorded `last_seen_at`)."""
    return now - last_seen_at >= rules.touch_every


class SessionState(StrEnum):
    LIVE = "live"
    IDLE = "idle"  # no request for `idle`
    EXPIRED = "expired"  # older than `absolute`
    ENDED = "ended"  # signed out, disabled account, password changed


def session_state(
    created_at: datetime,
    last_seen_at: datetime,
    ended_at: datetime | None,
    now: datetime,
    rules: SessionRules = SessionRules(),
) -> SessionState:
    """Whether a session still signs its holder in at `now`: the idle limit counts from the last request,
    the absolute one from sign-in. A clock stepped back never revives or extends a session beyond them
    (a `now` before the last request counts as the last request)."""
    if ended_at is not None:
        return SessionState.ENDED
    if now - created_at >= rules.absolute:
        return SessionState.EXPIRED
    if max(now, last_seen_at) - last_seen_at >= rules.idle:
        return SessionState.IDLE
    return SessionState.LIVE


# -- sign-in lockout -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockoutRules:
    """`failures` failed sign-ins within `window` lock sign-in for `lock` after the last of them."""

    failures: int
    window: timedelta
    lock: timedelta


ACCOUNT_LOCKOUT = LockoutRules(failures=5, window=timedelta(minutes=15), lock=timedelta(minutes=15))
ADDRESS_LOCKOUT = LockoutRules(failures=20, window=timedelta(minutes=15), lock=timedelta(minutes=15))


def locked_for(failures: Sequence[datetime], now: datetime, rules: LockoutRules) -> timedelta | None:
    """How long sign-in stays locked at `now` given the failed attempts' instants (None: not locked). The
    lock holds while `rules.failures` failures lie within `rules.window` of one another and the last of
    them is less than `rules.lock` ago."""
    recent = sorted(f for f in failures if f <= now and now - f < rules.window + rules.lock)
    if len(recent) < rules.failures:
        return None
    # the latest run of `failures` attempts within the window
    for i in range(len(recent) - rules.failures, -1, -1):
        first, last = recent[i], recent[i + rules.failures - 1]
        if last - first <= rules.window:
            until = recent[-1] + rules.lock
            return until - now if until > now else None
    return None


def lockout_keys(email: str, address: str | None) -> tuple[str, str]:
    """The failure counters a sign-in attempt counts against: its account (by address, known or not: no
    enumeration) and its client address."""
    return f"account:{email.strip().lower()}", f"address:{address or 'unknown'}"


# -- password links and passwords ----------------------------------------------------------------------

INVITE_VALID = timedelta(days=7)
RESET_VALID = timedelta(hours=1)


class LinkPurpose(StrEnum):
    INVITE = "invite"
    RESET = "reset"


def link_lifetime(purpose: LinkPurpose) -> timedelta:
    return INVITE_VALID if purpose is LinkPurpose.INVITE else RESET_VALID


def link_usable(expires_at: datetime, used_at: datetime | None, now: datetime) -> bool:
    """A password link works once, before it expires."""
    return used_at is None and now < expires_at


# "forgot password": requests for one address, and from one client address, within `window` stop being
# answered with a mail for `lock` after the last (known address or not: the same count, the same answer)
RESET_PER_ACCOUNT = LockoutRules(failures=3, window=timedelta(hours=1), lock=timedelta(hours=1))
RESET_PER_ADDRESS = LockoutRules(failures=10, window=timedelta(hours=1), lock=timedelta(hours=1))


def reset_keys(email: str, address: str | None) -> tuple[str, str]:
    """The counters a password reset request counts against (kept with the failed sign-ins' counters, under
    keys of their own): its e-mail address (with or without an account) and its client address."""
    return f"reset:{email.strip().lower()}", f"reset-from:{address or 'unknown'}"


def mail_language(account: str | None, customer: str | None, person: str | None) -> str:
    """The language of a mail to an account: its own, else its customer's (a contact) or its person's
    (staff), else Dutch."""
    for lang in (account, customer, person):
        if lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE


def password_problem(password: str) -> str | None:
    """Why a new password is refused (None: it is fine)."""
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"at most {MAX_PASSWORD} characters"
    if not password.isprintable():
        return "printable characters only"
    if not password.strip():
        return "not only spaces"
    return None


def normal_email(email: str) -> str | None:
    """An e-mail address as accounts are keyed (trimmed, lower case), else None."""
    e = email.strip().lower()
    if not e or len(e) > MAX_EMAIL or not e.isprintable() or " " in e:
        return None
    local, at, domain = e.rpartition("@")
    if not at or not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        return None
    return e


# -- the second factor (TOTP, RFC 6238: 6 digits, 30-second steps, HMAC-SHA1, as authenticator apps do) ---

TOTP_PERIOD = 30
TOTP_DRIFT = 1  # steps accepted either side of now's: a phone's clock a little off, a code typed as it turned
SECOND_STEP_VALID = timedelta(minutes=5)  # between the right password and its code


def totp_step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_PERIOD


def may_enrol_totp(viewer: Viewer) -> bool:
    """The second factor is for the agency's staff."""
    return viewer.staff


def totp_accepts(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step whose code `code` is, if it is valid at `now` (now's step or one either side) and later
    than `last_step` (the last code taken: a code works once); else None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    here = totp_step(now)
    for step in range(here - TOTP_DRIFT, here + TOTP_DRIFT + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def second_step_open(created_at: datetime, now: datetime) -> bool:
    """Whether a session waiting for its code still takes one (it came less than SECOND_STEP_VALID ago)."""
    return created_at <= now < created_at + SECOND_STEP_VALID


# -- language ------------------------------------------------------------------------------------------


def safe_next(path: str | None) -> str:
    """Where a form may send the browser back to: a path of the portal's own (`/ui/...`, no scheme, host,
    backslash or control character), else the ticket list."""
    home = "/ui/tickets"
    if not path or len(path) > 512 or not path.startswith("/ui/") or "//" in path or "\\" in path:
        return home
    if not path.isascii() or not path.isprintable():
        return home
    return path


def choose_language(account_language: str | None, accept_language: str | None, chosen: str | None = None) -> str:
    """The account's language; else the one chosen in this browser (the language switch, before sign-in);
    else the first of Accept-Language (by q) that the portal speaks; else nl."""
    for lang in (account_language, chosen):
        if lang in LANGUAGES:
            return lang
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept_language or "")[:1024].split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        lang = tag.strip().lower().split("-", 1)[0]
        if lang in LANGUAGES and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, lang)
    return best[2] if best else DEFAULT_LANGUAGE
