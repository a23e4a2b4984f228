"""Mail to customers about their tickets: the engine's `outmail` stage.

Each tick it reads the tickets' timeline entries after its cursor (up to BATCH), has
pager.domain.customer_mail decide which make mail to whom (acknowledgements, public replies, the status
changes a customer hears of), renders each mail in its recipient's language (jinja2 templates under
templates/mail/{nl,en}/, plain text and HTML) and queues them in the outbox with their threading headers,
moving the cursor in the same transaction (nothing twice). Then it sends the queued mails that are due
through SMTP (pager.notify.smtp, aiosmtplib), as the outbox sends pages: claimed, sent, finished; a
recoverable failure is retried with the outbox's backoff, the same Message-ID every attempt.

With mail.outgoing off the cursor still moves: changes made meanwhile mail nobody later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Protocol

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pager.config import Config
from pager.domain import customer_mail as dm
from pager.domain import paging as dp
from pager.domain.ticket import ref
from pager.notify.base import SendResult
from pager.observe.metrics import Metrics
from pager.service import desk, portal_mail
from pager.service.send_results import SendResults
from pager.storage.port import CustomerMailDue, CustomerMailOut, Store, TicketChange, TicketDetail, WithheldMail

log = structlog.get_logger("pagerd.outmail")

BATCH = 200  # timeline entries decided per tick
SEND_BATCH = 50  # mails sent per tick (at most 8 at once)
LANGUAGES = ("nl", "en")
STATUS_WORDS = {
    "nl": {"waiting_on_customer": "wacht op uw reactie", "resolved": "opgelost"},
    "en": {"waiting_on_customer": "waiting for your reply", "resolved": "resolved"},
}


class MailSender(Protocol):
    """What sends one built mail (pager.notify.smtp.SmtpNotifier.send_email)."""

    async def send_email(self, em: EmailMessage, ref: str, *, incident_id: int | None = None) -> SendResult: ...


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("pager.service", "templates/mail"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(env: Environment, mail: dm.Outgoing, ticket_subject: str, sender_name: str) -> tuple[str, str]:
    """The plain text and the HTML of one mail, in its recipient's language."""
    lang = mail.to.language if mail.to.language in LANGUAGES else "nl"
    context: dict[str, Any] = {
        "kind": mail.kind.value,
        "ref": ref(mail.number),
        "subject": ticket_subject,
        "name": mail.to.name or "",
        "text": mail.text,
        "status": STATUS_WORDS[lang].get(mail.status or "", mail.status or ""),
        "status_key": mail.status or "",
        "sender": sender_name,
    }
    return env.get_template(f"{lang}/mail.txt").render(context), env.get_template(f"{lang}/mail.html").render(context)


def language_of(cfg: Config, contacts: Mapping[str, str], contact: str | None, customer: str | None) -> str:
    """The contact's language, else its customer's, else Dutch."""
    if contact and contact in contacts:
        return contacts[contact]
    if customer and customer in cfg.customers:
        return cfg.customers[customer].language
    return "nl"


def view(cfg: Config, t: TicketDetail, languages: Mapping[str, str]) -> dm.TicketView:
    """The ticket as the decision sees it: its requester and watchers with their addresses and languages."""
    r = t.requester
    requester = (
        dm.Recipient(
            address=r.email,
            name=r.name,
            language=language_of(cfg, languages, r.contact, t.customer),
            role="requester",
            contact=r.contact,
        )
        if r.email
        else None
    )
    watchers = []
    for pid in t.watchers:
        p = cfg.people.get(pid)
        if p is not None and p.email:
            watchers.append(dm.Recipient(p.email, p.name, p.language or "nl", "watcher", person=pid))
    return dm.TicketView(number=t.number, subject=t.subject, requester=requester, watchers=tuple(watchers))


def domain_of(sender: str) -> str:
    addr = parseaddr(sender)[1]
    return addr.rpartition("@")[2] or "pagerd.invalid"


def build(cfg: Config, m: CustomerMailDue, now: datetime) -> EmailMessage:
    """The mail as it goes out: From mail.from, its own Message-ID, the thread's In-Reply-To and References,
    Auto-Submitted on automatic mail, plain text with an HTML alternative."""
    assert cfg.mail is not None and cfg.mail.sender is not None
    em = EmailMessage()
    em["From"] = cfg.mail.sender
    em["To"] = m.address
    em["Subject"] = " ".join(m.subject.split())
    em["Date"] = format_datetime(now)
    em["Message-ID"] = f"<{m.message_id}>"
    if m.in_reply_to:
        em["In-Reply-To"] = f"<{m.in_reply_to}>"
    if m.references:
        em["References"] = " ".join(f"<{r}>" for r in m.references)
    if m.auto_submitted:
        em["Auto-Submitted"] = m.auto_submitted  # RFC 3834: no automatic answer back to it
        em["X-Auto-Response-Suppress"] = "All"
    em["X-Pagerd-Ticket"] = str(m.number)
    em.set_content(m.text)
    em.add_alternative(m.html, subtype="html")
    em["Content-Language"] = m.language  # after the body: set_content moves Content-* headers into the part
    return em


class OutgoingMail:
    """The `outmail` stage: decide, queue, send."""

    def __init__(self, store: Store, metrics: Metrics, sender: MailSender | None, results: SendResults) -> None:
        self.store, self.metrics, self.sender, self.results = store, metrics, sender, results
        self._env = environment()
        self._sending = asyncio.Semaphore(8)

    async def __call__(self, cfg: Config, now: datetime) -> bool:
        """One tick: answers whether more changes wait (the engine ticks again at once)."""
        more = await self.decide(cfg, now)
        if self.sender is not None:  # off: nothing is queued, nothing owed is counted
            await self.send(cfg, now)
            if cfg.mail is not None and cfg.mail.sender is not None:  # password links (pager.service.portal_mail)
                await portal_mail.send_due(self.store, cfg, self.sender, now)
            self.metrics.mail_outgoing_pending.set(await self.store.customer_mail_pending(now))
        return more

    async def decide(self, cfg: Config, now: datetime) -> bool:
        """Queue the mails of up to BATCH changes after the cursor; answers whether more may wait."""
        changes = await self.store.ticket_changes(BATCH)
        if not changes:
            return False
        more = len(changes) == BATCH
        through = changes[-1].id
        if cfg.mail is None or not cfg.mail.outgoing.enabled or cfg.mail.sender is None:
            await self.store.queue_customer_mail(through, [], [], now=now)  # off: they mail nobody, ever
            return more
        mailed = [c for c in changes if dm.mail_kind(_change(c)) is not None]
        if not mailed:
            await self.store.queue_customer_mail(through, [], [], now=now)
            return more
        languages = {c.id: c.language for c in desk.all_contacts(cfg, await self.store.list_contacts())}
        tickets: dict[int, TicketDetail] = {}
        for c in mailed:
            if c.number not in tickets:
                t = await self.store.get_ticket(c.number)
                if t is not None:
                    tickets[c.number] = t
        pairs = [(_change(c), view(cfg, tickets[c.number], languages)) for c in mailed if c.number in tickets]
        addresses = sorted(
            {r.address.lower() for _, v in pairs for r in ((v.requester,) if v.requester else ()) + v.watchers}
        )
        limits = dm.Limits(auto_limit=cfg.mail.auto_mail_limit, auto_per=cfg.mail.auto_mail_per)
        decisions = dm.decide_all(
            pairs,
            people={pid: p.email for pid, p in cfg.people.items() if p.email},
            bounced=await self.store.bounced_addresses(addresses),
            auto_sent=await self.store.automatic_mail_since(addresses, now - limits.auto_per),
            limits=limits,
            now=now,
        )
        domain = domain_of(cfg.mail.sender)
        sender_name = parseaddr(cfg.mail.sender)[0] or cfg.mail.sender
        threads: dict[int, list[str]] = {}
        out: list[CustomerMailOut] = []
        withheld: list[WithheldMail] = []
        by_id = {c.id: c for c in mailed}
        for d in decisions:
            if isinstance(d, dm.Withheld):
                withheld.append(WithheldMail(d.number, d.entry_id, d.kind.value, d.address, d.why))
                self.metrics.mail_sent.labels(d.kind.value, "withheld").inc()
                log.info("customer_mail_withheld", ticket=d.number, kind=d.kind.value, to=d.address, why=d.why)
                continue
            t = tickets[d.number]
            if d.number not in threads:
                threads[d.number] = await self.store.ticket_thread(d.number)
            answers = by_id[d.entry_id].data.get("message_id")
            in_reply_to, refs = dm.thread_headers(threads[d.number], answers if isinstance(answers, str) else None)
            text, html = render(self._env, d, t.subject, sender_name)
            out.append(
                CustomerMailOut(
                    idem_key=d.idem_key,
                    number=d.number,
                    entry_id=d.entry_id,
                    kind=d.kind.value,
                    address=d.to.address,
                    person=d.to.person,
                    subject=dm.subject(cfg.desk.subject_tag_prefix, d.number, t.subject)[:300],
                    text=text,
                    html=html,
                    message_id=dm.message_id(d, domain),
                    in_reply_to=in_reply_to,
                    references=refs,
                    auto_submitted=d.auto_submitted,
                    language=d.to.language if d.to.language in LANGUAGES else "nl",
                )
            )
        queued = await self.store.queue_customer_mail(through, out, withheld, now=now)
        if queued:
            log.info("customer_mail_queued", mails=queued, through=through)
        return more

    async def send(self, cfg: Config, now: datetime) -> None:
        if self.sender is None or cfg.mail is None or cfg.mail.sender is None:
            return  # mail.outgoing off: nothing is queued (and what was stays, for a start with it on)
        due = await self.store.due_customer_mail(now, SEND_BATCH)
        if due:
            await asyncio.gather(*(self._send_one(cfg, m, now) for m in due))

    async def _send_one(self, cfg: Config, m: CustomerMailDue, now: datetime) -> None:
        async with self._sending:
            if not await self.store.claim_messages(m.id, [m.id], m.text, now):
                return
            try:
                em = build(cfg, m, now)
            except (ValueError, TypeError) as exc:  # an address or header the e-mail library refuses
                result = SendResult(sent=False, recoverable=False, error=f"bad mail: {exc}"[:300])
            else:
                assert self.sender is not None
                result = await self.sender.send_email(em, str(m.id))
            retry_at = None
            if not result.sent and result.recoverable:
                retry_at = dp.next_attempt_at(now, m.attempts + 1, cfg.notifier.max_attempts, None)
            await self.results.record(
                m.id, sent=result.sent, provider_id=result.provider_id, error=result.error, retry_at=retry_at, now=now
            )
            label = "sent" if result.sent else ("retry" if retry_at is not None else "failed")
            self.metrics.mail_sent.labels(m.kind, label).inc()
            log.info(
                f"customer_mail_{label}",
                ticket=m.number,
                kind=m.kind,
                outbox_id=m.id,
                to=m.address,
                error=result.error,
                attempts=m.attempts + 1,
            )


def _change(c: TicketChange) -> dm.Change:
    return dm.Change(entry_id=c.id, number=c.number, kind=c.kind, public=c.public, actor=c.actor, at=c.at, data=c.data)
