"""Password links by mail: an invitation (`pagerd user invite`) or a reset (the portal's "forgot password"
page) is queued with its link, in the account's language (templates/mail/{nl,en}/link.*), and the engine's
`outmail` stage sends it through the outgoing-mail server (mail.outgoing), as it sends customer mail: one
more attempt after a recoverable failure with the outbox's backoff, given up after a permanent one. The
mail's text is emptied once it is sent or given up: the link's token is kept nowhere else."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pager.config import Config
from pager.domain import paging as dp
from pager.domain import portal as rules
from pager.notify.base import SendResult
from pager.storage.port import Account, LinkMailDue, LinkMailOut, Store

log = structlog.get_logger("pagerd.outmail")

LEASE = timedelta(minutes=10)  # a claimed mail is not tried again before this (unless it is finished first)
SUBJECTS = {
    ("invite", "nl"): "Uw account op het supportportaal",
    ("invite", "en"): "Your account on the support portal",
    ("reset", "nl"): "Nieuw wachtwoord voor het supportportaal",
    ("reset", "en"): "A new password for the support portal",
}
_ENV = Environment(
    loader=PackageLoader("pager.service", "templates/mail"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class MailSender(Protocol):
    """What sends one built mail (pager.notify.smtp.SmtpNotifier.send_email, as for customer mail)."""

    async def send_email(self, em: EmailMessage, ref: str, *, incident_id: int | None = None) -> SendResult: ...


def mailing(cfg: Config) -> bool:
    """Whether password links go out by mail (mail.outgoing on, with a sender); else they are printed."""
    return cfg.mail is not None and cfg.mail.outgoing.enabled and cfg.mail.sender is not None


def sender_name(cfg: Config) -> str:
    sender = cfg.mail.sender if cfg.mail is not None and cfg.mail.sender else ""
    return parseaddr(sender)[0] or (cfg.agency.name if cfg.agency is not None else "") or sender


def language_of(cfg: Config, account: Account) -> str:
    customer = cfg.customers.get(account.customer) if account.customer else None
    person = cfg.people.get(account.person) if account.person else None
    return rules.mail_language(
        account.language, customer.language if customer else None, person.language if person else None
    )


def compose(cfg: Config, account: Account, purpose: rules.LinkPurpose, url: str, expires_at: datetime) -> LinkMailOut:
    """The mail carrying `url` to the account, in its language, the expiry in the calendar's time zone."""
    lang = language_of(cfg, account)
    until = expires_at.astimezone(ZoneInfo(cfg.calendar.timezone)).strftime("%Y-%m-%d %H:%M %Z")
    context = {
        "purpose": purpose.value,
        "url": url,
        "until": until,
        "email": account.email,
        "sender": sender_name(cfg),
        "subject": SUBJECTS[(purpose.value, lang)],
    }
    return LinkMailOut(
        address=account.email,
        subject=SUBJECTS[(purpose.value, lang)],
        text=_ENV.get_template(f"{lang}/link.txt").render(context),
        html=_ENV.get_template(f"{lang}/link.html").render(context),
        language=lang,
    )


def build(cfg: Config, m: LinkMailDue, now: datetime) -> EmailMessage:
    assert cfg.mail is not None and cfg.mail.sender is not None
    em = EmailMessage()
    em["From"] = cfg.mail.sender
    em["To"] = m.address
    em["Subject"] = m.subject
    em["Date"] = format_datetime(now)
    em["Message-ID"] = make_msgid(domain=parseaddr(cfg.mail.sender)[1].rpartition("@")[2] or "pagerd.invalid")
    em["Auto-Submitted"] = "auto-generated"  # RFC 3834: no automatic answer back to it
    em["X-Auto-Response-Suppress"] = "All"
    em.set_content(m.text)
    em.add_alternative(m.html, subtype="html")
    em["Content-Language"] = m.language
    return em


async def send_due(store: Store, cfg: Config, sender: MailSender, now: datetime) -> int:
    """Sends the link mails due at `now` (at most 50 a tick, 4 at once); answers how many were tried."""
    due = await store.claim_link_mail(now, lease=LEASE)
    if not due:
        return 0
    limit = asyncio.Semaphore(4)

    async def one(m: LinkMailDue) -> None:
        async with limit:
            try:
                em = build(cfg, m, now)
            except (ValueError, TypeError) as exc:  # an address the e-mail library refuses
                result = SendResult(sent=False, recoverable=False, error=f"bad mail: {exc}"[:300])
            else:
                result = await sender.send_email(em, f"link-{m.id}")
            retry_at = None
            if not result.sent and result.recoverable:
                retry_at = dp.next_attempt_at(now, m.attempts, cfg.notifier.max_attempts, None)
            await store.finish_link_mail(m.id, sent=result.sent, error=result.error, retry_at=retry_at, now=now)
            outcome = "sent" if result.sent else ("retry" if retry_at is not None else "failed")
            log.info(f"password_link_mail_{outcome}", to=m.address, purpose=m.purpose, attempts=m.attempts)

    await asyncio.gather(*(one(m) for m in due))
    return len(due)
