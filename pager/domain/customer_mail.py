"""Mail to customers about their tickets (pure): which change of a ticket makes a mail, to whom, how it is
threaded, and when an automatic answer is withheld (RFC 3834).

A change is one entry of a ticket's timeline. Only a public entry of these kinds ever makes a mail:
- `created` of a ticket opened by a mail (filed by the intake) from a known contact: an acknowledgement with the
  ticket's number, to that contact only, and only when the mail may be answered automatically
  (`may_autoreply`: not a bounce, an automatic reply, generated or bulk mail, or a loop-risk sender);
- `created` of a ticket filed from a phone call (`via: phone`: the desk typed it in, or the standby number
  opened it) for a known contact: the same acknowledgement, so the caller has the number in writing. It
  answers no mail, so it is `auto-generated` and the headers of a mail do not hold it back;
- `reply`: every public reply, to the requester and the watchers;
- `status` to `waiting_on_customer` or `resolved`: to the requester and the watchers.
An internal entry (a note, time, assignment, an incident's own events) never makes a mail, whatever its
kind says. A reply or status mail never goes to the actor of the change: the person who wrote or moved it,
or for a customer's own reply its sender. No mail goes to an address a delivery-status report marked
bounced, nor to an address that is never answered (mailer-daemon, postmaster, no-reply, empty).
An acknowledgement is automatic mail (`Auto-Submitted: auto-replied`) and at most `limit` of them go to
one address per `per`; a status mail is `auto-generated`; a reply (a person wrote it) carries neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class MailKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    REPLY = "reply"
    STATUS = "status"


# the statuses a customer hears about (the others are the desk's own business)
STATUSES_MAILED = frozenset({"waiting_on_customer", "resolved"})

# Auto-Submitted of each kind (RFC 3834 section 5): None for mail a person wrote
AUTO_SUBMITTED: Mapping[MailKind, str | None] = {
    MailKind.ACKNOWLEDGEMENT: "auto-replied",
    MailKind.STATUS: "auto-generated",
    MailKind.REPLY: None,
}

# local parts that are never answered or mailed (RFC 3834 section 2; mailing-list and no-reply robots)
NEVER_MAILED = frozenset(
    {"mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply", "bounces", "listserv",
     "majordomo"}
)  # fmt: skip

DEFAULT_AUTO_LIMIT = 5
DEFAULT_AUTO_PER = timedelta(hours=1)
# how many Message-IDs of a ticket's thread a mail names in References (the first and the latest)
MAX_REFERENCES = 20


@dataclass(frozen=True, slots=True)
class Change:
    """One timeline entry of a ticket, as the outgoing-mail stage reads it."""

    entry_id: int
    number: int
    kind: str
    public: bool
    actor: str | None
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who may get a ticket's mail: its requester (a contact, when known) or a watcher (a person)."""

    address: str
    name: str | None
    language: str  # nl | en
    role: str  # requester | watcher
    contact: str | None = None  # the requester's contact id (None: not a known contact)
    person: str | None = None  # the watcher's person id


@dataclass(frozen=True, slots=True)
class TicketView:
    """What a decision needs of a ticket: its number, subject, and who may hear of it."""

    number: int
    subject: str
    requester: Recipient | None  # None: no e-mail address
    watchers: tuple[Recipient, ...] = ()


@dataclass(frozen=True, slots=True)
class Limits:
    auto_limit: int = DEFAULT_AUTO_LIMIT  # automatic mails (acknowledgements) per address ...
    auto_per: timedelta = DEFAULT_AUTO_PER  # ... per this long


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A mail to send: one per change and recipient."""

    entry_id: int
    number: int
    kind: MailKind
    to: Recipient
    text: str  # the public text it carries (a reply's text; "" for an acknowledgement or a status)
    status: str | None = None  # a status mail's new status
    answers_mail: bool = True  # False: an acknowledgement of a phone call (no mail to reply to)

    @property
    def automatic(self) -> bool:
        return AUTO_SUBMITTED[self.kind] is not None

    @property
    def auto_submitted(self) -> str | None:
        if self.kind is MailKind.ACKNOWLEDGEMENT and not self.answers_mail:
            return "auto-generated"  # RFC 3834: it answers no message
        return AUTO_SUBMITTED[self.kind]

    @property
    def idem_key(self) -> str:
        """Once per change and address, whatever is decided again."""
        return f"customer:{self.entry_id}:{self.to.address.lower()}"


@dataclass(frozen=True, slots=True)
class Withheld:
    """A mail the rules kept back, and why (kept on the ticket's timeline, internal)."""

    entry_id: int
    number: int
    kind: MailKind
    address: str
    why: str


Decision = Outgoing | Withheld


def mail_kind(change: Change) -> MailKind | None:
    """The kind of customer mail a change makes, None for none. Internal entries never make one."""
    if not change.public:
        return None
    if change.kind == "created":  # opened by a mail (the intake filed it: its mail_id), or filed from a call
        by_mail = change.data.get("via") == "email" and change.data.get("mail_id") is not None
        return MailKind.ACKNOWLEDGEMENT if by_mail or change.data.get("via") == "phone" else None
    if change.kind == "reply":
        return MailKind.REPLY
    if change.kind == "status" and change.data.get("to") in STATUSES_MAILED:
        return MailKind.STATUS
    return None


def never_mailed(address: str) -> str | None:
    """Why an address never gets mail (None: it may): empty, not an address, or a robot's local part."""
    a = address.strip().lower()
    local, at, domain = a.rpartition("@")
    if not a or not at or not local or not domain:
        return "no usable address"
    if local in NEVER_MAILED or local.startswith("owner-") or local.endswith("-request"):
        return f"{local}@ is never answered (RFC 3834)"
    return None


def may_answer_automatically(data: Mapping[str, Any]) -> str | None:
    """Why a mail that opened a ticket gets no automatic answer (None: it may have one). The intake decided
    `may_autoreply` from the mail's headers (Auto-Submitted, Precedence: bulk|junk|list,
    X-Auto-Response-Suppress, a mailer-daemon or postmaster sender, an empty return path); anything but an
    explicit true is a no."""
    if data.get("may_autoreply") is not True:
        why = data.get("classification") or "unknown"
        return f"the mail may not be answered automatically ({why})"
    return None


def automatic_mail_capped(sent: Sequence[datetime], now: datetime, limits: Limits) -> bool:
    """Whether an address that was sent automatic mail at `sent` has had its share for the window ending now."""
    return sum(1 for at in sent if now - limits.auto_per < at <= now) >= limits.auto_limit


def _author_addresses(change: Change, ticket: TicketView, people: Mapping[str, str]) -> set[str]:
    """The addresses of whoever made the change (never mailed about it)."""
    out: set[str] = set()
    sender = change.data.get("from")
    if isinstance(sender, str) and sender:
        out.add(sender.lower())
    if change.data.get("from_customer") and not sender and ticket.requester is not None:
        out.add(ticket.requester.address.lower())  # a customer's reply the desk typed in: the requester wrote it
    if change.actor and change.actor in people and people[change.actor]:
        out.add(people[change.actor].lower())
    return out


def decide(
    change: Change,
    ticket: TicketView,
    *,
    people: Mapping[str, str],
    bounced: Iterable[str],
    auto_sent: Mapping[str, Sequence[datetime]],
    limits: Limits,
    now: datetime,
) -> list[Decision]:
    """The mails one change makes and the ones withheld. `people`: person id -> e-mail address (who is the
    actor); `bounced`: the marked addresses (lower case); `auto_sent`: the automatic mails sent or queued
    to each address (lower case) so far."""
    kind = mail_kind(change)
    if kind is None:
        return []
    gone = {b.lower() for b in bounced}
    if kind is MailKind.ACKNOWLEDGEMENT:
        to = ticket.requester
        if to is None or to.contact is None:
            return []  # only known contacts are acknowledged
        candidates = [to]
    else:
        authors = _author_addresses(change, ticket, people)
        candidates = []
        seen: set[str] = set()
        for r in ([ticket.requester] if ticket.requester else []) + list(ticket.watchers):
            a = r.address.lower()
            if a in seen or a in authors or (r.person is not None and r.person == change.actor):
                continue
            seen.add(a)
            candidates.append(r)
    by_phone = change.data.get("via") == "phone"  # an acknowledgement of a call answers no mail
    out: list[Decision] = []
    for r in candidates:
        a = r.address.lower()
        why = never_mailed(a)
        if why is None and a in gone:
            why = "the address bounced (a delivery-status report marked it)"
        if why is None and kind is MailKind.ACKNOWLEDGEMENT:
            why = None if by_phone else may_answer_automatically(change.data)
            if why is None and automatic_mail_capped(auto_sent.get(a, ()), now, limits):
                why = f"automatic mail to this address capped at {limits.auto_limit} per {_span(limits.auto_per)}"
        if why is not None:
            out.append(Withheld(change.entry_id, change.number, kind, r.address, why))
            continue
        text = str(change.data.get("text") or "") if kind is MailKind.REPLY else ""
        status = str(change.data.get("to")) if kind is MailKind.STATUS else None
        out.append(Outgoing(change.entry_id, change.number, kind, r, text, status, answers_mail=not by_phone))
    return out


def decide_all(
    changes: Sequence[tuple[Change, TicketView]],
    *,
    people: Mapping[str, str],
    bounced: Iterable[str],
    auto_sent: Mapping[str, Sequence[datetime]],
    limits: Limits,
    now: datetime,
) -> list[Decision]:
    """`decide` over changes in order: an automatic mail decided early in the batch counts towards the cap
    of the ones after it."""
    sent = {a: list(v) for a, v in auto_sent.items()}
    gone = {b.lower() for b in bounced}
    out: list[Decision] = []
    for change, ticket in changes:
        for d in decide(change, ticket, people=people, bounced=gone, auto_sent=sent, limits=limits, now=now):
            if isinstance(d, Outgoing) and d.automatic and d.kind is MailKind.ACKNOWLEDGEMENT:
                sent.setdefault(d.to.address.lower(), []).append(now)
            out.append(d)
    return out


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


# -- threading ---------------------------------------------------------------------------------------


def message_id(mail: Outgoing, domain: str) -> str:
    """The mail's own Message-ID (without angle brackets): the same for every attempt at it."""
    token = hashlib.sha256(mail.idem_key.encode()).hexdigest()[:16]
    return f"pagerd.{mail.number}.{mail.entry_id}.{token}@{domain}"


def thread_headers(thread: Sequence[str], answers: str | None) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References (ids without angle brackets) of a mail in a ticket's thread: it answers
    `answers` (the customer's mail that made the change) when known, else the thread's latest message;
    References are the thread's first and latest ids, ending with the one it answers."""
    parent = answers or (thread[-1] if thread else None)
    refs = [m for m in thread if m != parent]
    if len(refs) > MAX_REFERENCES - 1:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 2) :]
    if parent is not None:
        refs.append(parent)
    return parent, tuple(refs)


def subject(prefix: str, number: int, text: str) -> str:
    """The subject of a ticket's mail: its tag (`desk.subject_tag_prefix`, the number and "]") and subject, one
    line."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return f"{prefix}{number}] {line}".strip()
