"""Stored incoming mail becomes tickets: the engine's `mail` stage (the one place that decides it).

Each `pending` mail is parsed and classified (pager.mail.parse), then:
- unparseable: kept raw, marked `unparseable` with the reason, listed for the desk.
- from pagerd's own support address: `loop`, nothing filed.
- threading: its In-Reply-To and References name a Message-ID of a ticket (ticket_messages) first; else
  the subject tag (`desk.subject_tag_prefix` + number + "]"), accepted only from the ticket's participants
  (its requester, the contacts of its customer, its watchers and assignee); a tag from anybody else
  files a new ticket linked to the tagged one.
- a bounce (delivery-status report): recorded on the ticket whose mail bounced (its original Message-ID),
  naming the failed addresses (`bounce`); a bounce about no known mail is `refused`.
- an automatic reply (out of office): kept on its ticket as an internal entry, status unchanged
  (`auto_reply`); one that answers no ticket is `refused`.
- any other mail on a ticket: the customer's reply (`reply`; waiting_on_customer and resolved go back to
  open); on a closed ticket it reopens it when the ticket closed within `desk.reopen_closed_within`, else
  a new ticket linked to the closed one.
- any other mail: a new request ticket (`ticket`), the sender mapped by pager.domain.contacts (contact,
  customer by mail domain, else triage).
Every entry records `may_autoreply` (pager.mail.model.may_autoreply) for the mail that goes out later.
Filing and marking the mail are one store transaction (MailStore.file_mail): nothing is made twice.
Outcomes are counted in `pagerd_mail_received_total{outcome}` (the statuses above but `pending`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from pager.config import Config
from pager.domain import contacts as dc
from pager.domain.ticket import MAX_BODY, MAX_SUBJECT, Status, mail_reopens
from pager.mail.model import ParsedMail
from pager.mail.parse import MailOptions, parse
from pager.observe.metrics import Metrics
from pager.service import desk
from pager.sources.errors import InputError, Problem
from pager.storage.port import MAIL_STATUSES, Attachment, MailFiling, NewMailTicket, Requester, Store, TicketDetail

log = structlog.get_logger("pagerd.mail")

BATCH = 20  # mails processed per engine tick (bounded work; the rest the next tick); 1 while mail comes in
OUTCOMES = ("ticket", "reply", "auto_reply", "bounce", "loop", "refused", "unparseable")


def options(cfg: Config) -> MailOptions:
    own = frozenset(a.lower() for a in (cfg.mail.addresses if cfg.mail else []))
    if cfg.desk.email:
        own |= {cfg.desk.email.lower()}
    kw: dict[str, Any] = {"tag_prefix": cfg.desk.subject_tag_prefix, "own_addresses": own}
    if cfg.mail is not None:
        kw["max_message_bytes"] = cfg.mail.max_message_bytes
    return MailOptions(**kw)


def participants(cfg: Config, t: TicketDetail, contacts: list[dc.Contact]) -> set[str]:
    """The addresses that may reach a ticket by its subject tag."""
    out = {t.requester.email.lower()} if t.requester.email else set()
    if t.customer:
        out |= {e.lower() for c in contacts if c.customer == t.customer for e in c.emails}
    for pid in (*t.watchers, t.assignee):
        person = cfg.people.get(pid) if pid else None
        if person is not None and person.email:
            out.add(person.email.lower())
    return out


def closed_at(t: TicketDetail) -> datetime:
    """When a closed ticket closed (its last status entry to closed)."""
    for e in reversed(t.timeline):
        if e.kind == "status" and e.data.get("to") == "closed":
            return e.at
    return t.updated_at


def _line(text: str, limit: int) -> str:
    """One printable line of at most `limit` characters (a header may carry control characters)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


def _attachments(mail: ParsedMail) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(name=_line(p.name or "", 255) or "attachment", type=p.content_type, size=p.size, sha256=p.sha256)
        for p in mail.parts
        if p.sha256 is not None  # a part dropped over the size limits: the parser's notes say so
    )


async def decide(store: Store, cfg: Config, mail: ParsedMail, now: datetime, contacts: list[dc.Contact]) -> MailFiling:
    """What to do with one parsed mail (reads only; a store error propagates: the next tick tries again).
    `contacts`: the desk's contacts (pager.service.desk.all_contacts)."""
    kind = mail.classification.kind
    if kind == "unparseable":
        return MailFiling(status="unparseable", reason=mail.reason[:500])
    sender = mail.sender.email.lower() if mail.sender else ""
    own = options(cfg).own_addresses
    if sender and sender in own:
        return MailFiling(status="loop", reason=f"from pagerd's own address {sender}")
    data: dict[str, Any] = {
        "message_id": mail.message_id,
        "from": sender or None,
        "may_autoreply": mail.may_autoreply,
        "classification": kind,
        "reason": mail.reason[:200],
    }
    ids = (mail.message_id,) if mail.message_id else ()
    text = mail.text[:MAX_BODY]
    if kind == "bounce" and mail.bounce is not None:
        original = mail.bounce.original_message_id
        number = await store.mail_ticket([original]) if original else None
        if number is None:
            return MailFiling(status="refused", reason="delivery-status report about no mail of a ticket")
        failed = list(mail.bounce.failed) or [r.address for r in mail.bounce.recipients]
        lines = [f"{r.address}: {r.action} {r.status} {r.diagnostic}".strip() for r in mail.bounce.recipients[:20]]
        return MailFiling(
            status="bounce",
            reason=f"bounced: {', '.join(failed)[:300]}",
            number=number,
            entry="bounce",
            text="\n".join(lines),
            data={**data, "failed": failed[:20], "original_message_id": original},
            message_ids=ids,
        )
    number = await store.mail_ticket([*mail.in_reply_to, *reversed(mail.references)])
    by_tag = None
    if number is None and mail.ticket_number is not None:
        tagged = await store.get_ticket(mail.ticket_number)
        if tagged is not None:
            if sender and sender in participants(cfg, tagged, contacts):
                number = tagged.number
            else:
                by_tag = tagged.number
    if kind == "auto_reply":
        if number is None:
            return MailFiling(status="refused", reason=f"automatic reply to no ticket ({mail.reason[:200]})")
        return MailFiling(
            status="auto_reply",
            reason=mail.reason[:300],
            number=number,
            entry="auto_reply",
            text=text,
            data=data,
            message_ids=ids,
        )
    linked, why = by_tag, "subject tag from somebody not on the ticket" if by_tag else None
    if number is not None:
        t = await store.get_ticket(number)
        assert t is not None
        if t.status != Status.CLOSED.value:
            return MailFiling(
                status="reply",
                reason=None,
                number=number,
                entry="reply",
                text=text,
                attachments=_attachments(mail),
                data=data,
                message_ids=ids,
            )
        if mail_reopens(closed_at(t), now, cfg.desk.reopen_closed_within):
            return MailFiling(
                status="reply",
                reason="reopened a closed ticket",
                number=number,
                entry="reply",
                reopen=True,
                text=text,
                attachments=_attachments(mail),
                data=data,
                message_ids=ids,
            )
        linked, why = number, f"closed longer than {cfg.desk.reopen_closed_within} ago"
    found = dc.sender_by_email(sender, contacts, desk.email_domains(cfg)) if sender else dc.Sender(None, None)
    if found.contact is not None:
        requester = Requester(
            contact=found.contact.id, name=found.contact.name, email=sender, phone=found.contact.phone
        )
    else:
        requester = Requester(
            name=(_line(mail.sender.name, 200) or None) if mail.sender else None, email=sender or None
        )
    subject = _line(mail.subject_normalised or mail.subject, MAX_SUBJECT) or "(no subject)"
    return MailFiling(
        status="ticket",
        reason=why,
        new=NewMailTicket(subject=subject, customer=found.customer, project=None, requester=requester),
        linked_to=linked,
        text=text,
        attachments=_attachments(mail),
        data=data,
        message_ids=ids,
    )


async def process(
    store: Store,
    cfg: Config,
    metrics: Metrics,
    now: datetime,
    limit: int = BATCH,
    receiving: Callable[[], object] = lambda: False,
) -> int:
    """Process up to `limit` pending mails, oldest first; answers how many. Taking mail in goes first: while
    `receiving()` (the listener is reading, storing or answering a message) no mail is started after the
    first, so an accept waits behind one mail's filing at most (the rest is filed by the next ticks)."""
    pending = await store.list_mail("pending", limit=limit)
    contacts: list[dc.Contact] | None = None  # read once per batch, when a mail needs them
    done = 0
    for record in pending:
        if done and receiving():
            break
        done += 1
        stored = await store.get_mail(record.id)
        if stored is None:
            continue
        try:
            mail = parse(stored.raw, options(cfg), envelope_from=record.envelope_from)
        except Exception as exc:  # never a crash loop on one mail: kept, listed for the desk
            log.exception("mail_parse_failed", mail_id=record.id)
            filing = MailFiling(status="unparseable", reason=f"could not be read: {type(exc).__name__}")
        else:
            if contacts is None:
                contacts = desk.all_contacts(cfg, await store.list_contacts())
            filing = await decide(store, cfg, mail, now, contacts)
        filed = await store.file_mail(record.id, filing, now=now)
        metrics.mail_received.labels(filed.status).inc()
        log.info("mail_processed", mail_id=record.id, outcome=filed.status, ticket=filed.ticket, reason=filed.reason)
    return done


def list_filters(query: Mapping[str, str]) -> dict[str, Any]:
    """status, limit, after of a mail list (the API's query, the CLI's flags); InputError 400 naming the bad one."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    status = query.get("status")
    if status:
        if status not in MAIL_STATUSES:
            problems.append(Problem("status", f"expected one of {', '.join(MAIL_STATUSES)}"))
        out["status"] = status
    for key, arg, top in (("limit", "limit", 1000), ("after", "after_id", 10**15)):
        raw = query.get(key)
        if raw:
            if not raw.isascii() or not raw.isdigit() or not 0 < int(raw[:16]) <= top:
                problems.append(Problem(key, f"expected a whole number from 1 to {top}"))
            else:
                out[arg] = int(raw)
    if problems:
        raise InputError(400, "invalid query", problems)
    return out


async def attachment_content(
    store: Store, cfg: Config, t: TicketDetail, sha256: str
) -> tuple[Attachment, bytes] | None:
    """The bytes of attachment `sha256` of ticket `t`, read back from the stored raw mail of one of the
    ticket's timeline entries that came by mail (their data holds `mail_id`). `t` is the ticket as its
    reader may see it (pager.service.portal.ticket_for: only its visible entries and attachments), so
    a customer never gets an internal entry's attachment. None: no such attachment, or one without
    content (filed through the API: metadata only)."""
    found = next((a for a in t.attachments if a.sha256 == sha256), None)
    if found is None:
        return None
    mail_ids = dict.fromkeys(e.data["mail_id"] for e in t.timeline if isinstance(e.data.get("mail_id"), int))
    loop = asyncio.get_running_loop()
    for mail_id in mail_ids:
        stored = await store.get_mail(mail_id)
        if stored is None:
            continue
        mail = await loop.run_in_executor(
            None,
            lambda raw=stored.raw, sender=stored.record.envelope_from: parse(raw, options(cfg), envelope_from=sender),
        )
        for part in mail.parts:
            if part.sha256 == sha256 and part.dropped is None:
                return found, part.content
    return None
