"""The notifier contract: one message in, one two-value answer out (sent? worth retrying?).

Like Alertmanager's `notify.Notifier`: a notifier never raises for a failed delivery; it says whether
the message went out and, if not, whether a later retry could succeed. The outbox (the caller) owns
retries, backoff and idempotency; `Message.id` is its stable key and travels to the provider where
the provider can carry it (callback URLs, the e-mail Message-ID).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import structlog

from pager.observe.redact import Redactor

CHANNELS = frozenset({"sms", "voice", "email"})

log = structlog.get_logger("pagerd.notify")


@dataclass(frozen=True, slots=True)
class Message:
    id: str  # idempotency key from the outbox, stable across retries
    channel: str  # "sms" | "voice" | "email"
    to: str  # E.164 phone or e-mail address
    body: str  # SMS text / spoken summary / e-mail text
    subject: str = ""  # e-mail subject
    incident_id: int | None = None
    short_code: str = ""  # the incident's short code people reply with
    links: Mapping[str, str] = field(default_factory=dict)  # e.g. {"ack": signed URL, "resolve": ...}


@dataclass(frozen=True, slots=True)
class SendResult:
    sent: bool
    recoverable: bool  # worth retrying later (network, 5xx, 429); False for 4xx contract errors
    provider_id: str | None = None  # Twilio SID, SMTP message-id
    error: str | None = None  # short, never contains credentials
    simulated: bool = False  # the dry-run notifier: nothing left pagerd (recorded `simulated`, never `sent`)
    retry_after: float | None = None  # seconds the provider asked us to wait (HTTP Retry-After), if it said


@runtime_checkable
class Notifier(Protocol):
    channels: frozenset[str]

    async def send(self, msg: Message) -> SendResult: ...

    async def close(self) -> None: ...


def retry_after_seconds(value: str | None, date: str | None = None) -> float | None:
    """An HTTP `Retry-After` as seconds: delta-seconds ("120"), or an HTTP-date taken relative to the
    answer's own `Date` header (the provider's clock, not ours); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    if not date:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, (parsedate_to_datetime(value) - parsedate_to_datetime(date)).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def short_error(text: str, secrets: Iterable[str | None] = (), limit: int = 300) -> str:
    """One line, at most `limit` characters, redacted (pager.observe.redact): the notifier's own
    `secrets`, and any one-tap link or query string a provider's answer may echo from the message."""
    text = " ".join(Redactor(secrets).text(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MultiNotifier:
    """Routes each message to the one notifier that handles its channel.

    Two notifiers claiming the same channel is a wiring error (ValueError), not a silent choice.
    A message for a channel nobody handles (notifier.kind auto without that channel's provider) is
    answered sent=False, recoverable=False; a notifier
    that raises despite the contract is answered sent=False, recoverable=True (and logged)."""

    def __init__(self, notifiers: Iterable[Notifier]) -> None:
        self._notifiers: tuple[Notifier, ...] = tuple(notifiers)
        routes: dict[str, Notifier] = {}
        for n in self._notifiers:
            for ch in n.channels:
                if ch in routes:
                    raise ValueError(
                        f"channel {ch!r} is handled by both {type(routes[ch]).__name__} and {type(n).__name__}"
                    )
                routes[ch] = n
        self._routes = routes
        self.channels: frozenset[str] = frozenset(routes)

    def notifier_for(self, channel: str) -> Notifier | None:
        return self._routes.get(channel)

    async def send(self, msg: Message) -> SendResult:
        notifier = self._routes.get(msg.channel)
        if notifier is None:
            return SendResult(
                sent=False,
                recoverable=False,
                error=f"no provider for channel {msg.channel!r} (configure one under notifier)",
            )
        try:
            return await notifier.send(msg)
        except Exception as e:  # a notifier broke its contract; keep the outbox going
            log.error(
                "notify_unexpected_error",
                channel=msg.channel,
                message_id=msg.id,
                incident_id=msg.incident_id,
                notifier=type(notifier).__name__,
                error_type=type(e).__name__,
            )
            return SendResult(sent=False, recoverable=True, error=f"unexpected {type(e).__name__}")

    async def close(self) -> None:
        for n in self._notifiers:
            try:
                await n.close()
            except Exception as e:
                log.warning("notify_close_failed", notifier=type(n).__name__, error_type=type(e).__name__)
