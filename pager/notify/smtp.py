"""E-mail pages through SMTP (`aiosmtplib`): plain text plus a simple HTML alternative with one-tap links.

    notifier = SmtpNotifier(host="smtp.example.com", port=587, from_address="pagerd <pager@example.com>",
                            username="pager", password="...", starttls=True, clock=clock)

The Message-ID is derived from `Message.id` (the outbox's idempotency key), so a retried send carries
the same Message-ID and the receiving side can recognise the duplicate. Errors: connection trouble,
timeouts and 4xx SMTP replies are recoverable; 5xx replies (permanent) and missing server features
(STARTTLS or AUTH not offered) are not.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
import structlog

from ..clock import Clock
from .base import Message, SendResult, short_error

log = structlog.get_logger("pagerd.notify.smtp")

LINK_LABELS = {"ack": "Acknowledge", "resolve": "Resolve", "escalate": "Escalate", "incident": "Open incident"}
_SAFE_ID = re.compile(r"^[A-Za-z0-9._+=-]{1,64}$")


def link_label(key: str) -> str:
    return LINK_LABELS.get(key, key.replace("_", " ").replace("-", " ").capitalize())


def message_id_for(msg_id: str, domain: str) -> str:
    """`<pagerd.ID@domain>`: the same for every attempt at one outbox message (hashed if ID has odd characters)."""
    token = msg_id if _SAFE_ID.match(msg_id) else hashlib.sha256(msg_id.encode()).hexdigest()[:40]
    return f"<pagerd.{token}@{domain}>"


def build_email(msg: Message, *, from_address: str, domain: str, clock: Clock) -> EmailMessage:
    """The e-mail for one page: headers, text body with the links, HTML alternative with buttons."""
    em = EmailMessage()
    em["From"] = from_address
    em["To"] = msg.to
    first_line = msg.body.strip().splitlines()[0] if msg.body.strip() else "pagerd notification"
    # one line whatever the caller passed: a line break in a header would end it (header injection)
    em["Subject"] = " ".join((msg.subject or first_line[:120]).split()) or "pagerd notification"
    em["Date"] = format_datetime(clock.now())
    em["Message-ID"] = message_id_for(msg.id, domain)
    if msg.incident_id is not None:
        # Mail clients thread every message about one incident together.
        em["References"] = f"<pagerd.incident.{msg.incident_id}@{domain}>"
        em["X-Pagerd-Incident"] = str(msg.incident_id)
    if msg.short_code:
        em["X-Pagerd-Short-Code"] = msg.short_code
    em["X-Pagerd-Message"] = msg.id
    em["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies back into the support inbox
    em["X-Auto-Response-Suppress"] = "All"

    text = msg.body.rstrip("\n")
    if msg.links:
        text += "\n\n" + "\n".join(f"{link_label(k)}: {url}" for k, url in msg.links.items())
    em.set_content(text + "\n")

    buttons = " ".join(
        f'<a href="{html.escape(url, quote=True)}" style="display:inline-block;padding:10px 16px;'
        f'margin:4px;background:#1f6feb;color:#fff;text-decoration:none;border-radius:4px">'
        f"{html.escape(link_label(k))}</a>"
        for k, url in msg.links.items()
    )
    body_html = (
        "<!doctype html><html><body>"
        f'<pre style="font-family:sans-serif;white-space:pre-wrap">{html.escape(msg.body)}</pre>'
        + (f"<p>{buttons}</p>" if buttons else "")
        + "</body></html>\n"
    )
    em.add_alternative(body_html, subtype="html")
    return em


class SmtpNotifier:
    def __init__(
        self,
        *,
        host: str,
        from_address: str,
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 10.0,
        validate_certs: bool = True,
        message_id_domain: str | None = None,
        clock: Clock,
        channels: frozenset[str] = frozenset({"email"}),
    ) -> None:
        if starttls and ssl:
            raise ValueError("choose one of starttls (upgrade a plain connection) and ssl (implicit TLS)")
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        unknown = set(channels) - {"email"}
        if unknown:
            raise ValueError(f"SmtpNotifier handles email, not {sorted(unknown)}")
        self.channels: frozenset[str] = frozenset(channels)
        self.host = host
        self.port = port
        self.from_address = from_address
        self.username = username
        self._password = password
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout
        self.validate_certs = validate_certs
        addr = parseaddr(from_address)[1]
        self.domain = message_id_domain or (addr.rpartition("@")[2] if "@" in addr else "") or "pagerd.invalid"
        self.clock = clock

    def __repr__(self) -> str:
        return (
            f"SmtpNotifier(host={self.host!r}, port={self.port}, from_address={self.from_address!r}, "
            f"username={self.username!r}, starttls={self.starttls}, ssl={self.ssl})"
        )

    def build(self, msg: Message) -> EmailMessage:
        return build_email(msg, from_address=self.from_address, domain=self.domain, clock=self.clock)

    async def send(self, msg: Message) -> SendResult:
        if msg.channel not in self.channels:
            return SendResult(sent=False, recoverable=False, error=f"smtp does not send {msg.channel!r}")
        try:
            em = self.build(msg)
        except (ValueError, TypeError) as e:  # e.g. a header the e-mail library refuses
            return SendResult(sent=False, recoverable=False, error=short_error(f"smtp bad message: {e}"))
        return await self.send_email(em, msg.id, incident_id=msg.incident_id)

    async def send_email(self, em: EmailMessage, ref: str, *, incident_id: int | None = None) -> SendResult:
        """Send a mail built elsewhere (a customer's ticket mail, pager.service.customer_mail) the same way:
        one connection, the same bounds and the same two-value answer. `ref` names it in the log."""
        message_id = em["Message-ID"]
        try:
            # aiosmtplib bounds each step by `timeout`; this bounds the whole exchange as a backstop.
            async with asyncio.timeout(self.timeout * 4):
                await aiosmtplib.send(
                    em,
                    hostname=self.host,
                    port=self.port,
                    username=self.username,
                    password=self._password,
                    use_tls=self.ssl,
                    start_tls=self.starttls,
                    timeout=self.timeout,
                    validate_certs=self.validate_certs,
                )
        except Exception as e:
            result = self._classify(e)
            log.warning(
                "smtp_send_failed",
                message_id=ref,
                incident_id=incident_id,
                recoverable=result.recoverable,
                error=result.error,
            )
            return result
        log.info("smtp_sent", message_id=ref, incident_id=incident_id, provider_id=message_id)
        return SendResult(sent=True, recoverable=False, provider_id=message_id)

    def _classify(self, e: BaseException) -> SendResult:
        secrets = (self._password,)
        if isinstance(e, aiosmtplib.SMTPRecipientsRefused):
            codes = [r.code for r in e.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in e.recipients)
            return SendResult(
                sent=False,
                recoverable=bool(codes) and all(400 <= c < 500 for c in codes),
                error=short_error(f"smtp recipients refused: {text}", secrets),
            )
        if isinstance(e, aiosmtplib.SMTPResponseException):
            recoverable = not (500 <= e.code < 600)  # 4xx transient; 5xx permanent
            return SendResult(
                sent=False, recoverable=recoverable, error=short_error(f"smtp {e.code}: {e.message}", secrets)
            )
        if isinstance(e, aiosmtplib.SMTPNotSupported) or (
            type(e) is aiosmtplib.SMTPException and "not supported" in str(e)
        ):
            # The server lacks what the config asks for (STARTTLS, AUTH, SMTPUTF8): a config error.
            return SendResult(sent=False, recoverable=False, error=short_error(f"smtp: {e}", secrets))
        if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
            return SendResult(sent=False, recoverable=True, error=f"smtp timeout after {self.timeout}s")
        if isinstance(e, (aiosmtplib.SMTPException, OSError)):
            return SendResult(sent=False, recoverable=True, error=short_error(f"smtp {type(e).__name__}: {e}", secrets))
        if isinstance(e, ValueError):  # e.g. no usable sender or recipient address
            return SendResult(sent=False, recoverable=False, error=short_error(f"smtp: {e}", secrets))
        return SendResult(
            sent=False, recoverable=True, error=short_error(f"smtp unexpected {type(e).__name__}: {e}", secrets)
        )

    async def close(self) -> None:
        return None  # one connection per message; nothing held open
