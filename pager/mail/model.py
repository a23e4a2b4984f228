"""What reading one incoming mail gives: the frozen result of ``pager.mail.parse.parse`` and its parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

Kind = Literal["normal", "bounce", "auto_reply", "auto_generated", "bulk", "loop_risk", "unparseable"]
KINDS: tuple[Kind, ...] = get_args(Kind)


@dataclass(frozen=True, slots=True)
class Classification:
    """The kind of a mail, the reason in words, and every signal seen (the reason is the first)."""

    kind: Kind
    reason: str
    signals: tuple[str, ...] = ()


def may_autoreply(classification: Classification) -> bool:
    """Whether pagerd may send an automatic mail (an acknowledgement) in answer: only to a mail of kind
    ``normal``. Never to a bounce, an automatic reply, generated or bulk mail, a loop-risk sender or
    a mail it could not read."""
    return classification.kind == "normal"


@dataclass(frozen=True, slots=True)
class Address:
    name: str  # the display name, decoded ("" when there is none)
    email: str  # the address as written (compare it lowercased)


@dataclass(frozen=True, slots=True)
class Part:
    """An attachment or inline image. `content` holds the decoded bytes of a kept part (b"" when the
    part was dropped: then `dropped` says why, and `sha256` is None)."""

    name: str | None  # the file name, without any folder
    content_type: str
    size: int  # decoded bytes (for a part dropped before decoding: the size it would have)
    sha256: str | None
    content_id: str | None  # for an inline part the HTML refers to (cid:...), without angle brackets
    inline: bool
    content: bytes = field(default=b"", repr=False)
    dropped: str | None = None


@dataclass(frozen=True, slots=True)
class BounceRecipient:
    address: str  # Final-Recipient (else Original-Recipient), without the "rfc822;" type
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # e.g. 5.1.1
    diagnostic: str  # Diagnostic-Code, e.g. "550 5.1.1 <x@example.nl>: Recipient address rejected"


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery-status report (RFC 3464): whom it was about and which of pagerd's mails bounced."""

    recipients: tuple[BounceRecipient, ...]
    original_message_id: str | None  # the Message-ID in the returned message or headers
    reporting_mta: str

    @property
    def failed(self) -> tuple[str, ...]:
        """The addresses delivery failed for for good (Action: failed)."""
        return tuple(r.address for r in self.recipients if r.action == "failed")


@dataclass(frozen=True, slots=True)
class ParsedMail:
    classification: Classification
    size: int  # bytes of the raw mail
    message_id: str | None  # without angle brackets
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    subject_normalised: str  # without Re:/Fwd:/AW:/Antw:/SV: prefixes and the ticket tag
    ticket_number: int | None  # from the subject tag
    sender: Address | None  # From (the first address)
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    return_path: str | None  # the Return-Path header; "" for <>
    envelope_from: str | None  # the SMTP/LMTP MAIL FROM the caller passed; "" for <>
    date: datetime | None  # the Date header, timezone-aware
    text: str  # the body as text, without the quoted history where that could be cut
    text_full: str  # the whole body as text
    text_source: Literal["plain", "html", "none"]
    parts: tuple[Part, ...]
    parts_omitted: int  # parts not read at all (beyond max_parts, too deep, or after reading stopped)
    bounce: Bounce | None
    report_type: str | None  # report-type of a top-level multipart/report
    headers: tuple[tuple[str, str], ...]  # the headers the classification reads, decoded, lowercase names
    notes: tuple[str, ...]  # what was repaired, cut or dropped, in words

    @property
    def kind(self) -> str:
        return self.classification.kind

    @property
    def reason(self) -> str:
        return self.classification.reason

    @property
    def may_autoreply(self) -> bool:
        return may_autoreply(self.classification)

    def header(self, name: str) -> str | None:
        """The first value of one of the headers the classification reads (pager.mail.parse names them), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)
