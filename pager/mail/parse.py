"""Reading one incoming mail: raw bytes in, a frozen ``ParsedMail`` out. Pure: no I/O, no clock.

``parse(raw, options, envelope_from=...)`` never raises for any bytes. A mail it cannot read at all
(empty, no header section) comes back with kind ``unparseable`` and the reason, so the raw mail is kept
and listed for the desk. Everything else becomes a result, repaired where the mail is broken; what was
repaired, cut or dropped is said in ``notes``.

The standard ``email`` package does the reading, with the modern policy (``email.policy.default``) and
three bounds on its work, so that a hostile mail costs no more than a bounded amount of time and memory:

- the message is fed to the parser in small chunks, and feeding stops once it holds more parts than
  ``2 * max_parts + max_depth``, nests deeper than ``max_depth``, passes ``max_message_bytes``, or
  has cost more than ``max_line_work`` (the parser checks each line against every open boundary, so
  its work is lines times depth) (the rest is not read; a note says so);
- a header value is cut to ``max_header_chars`` (``max_mime_header_chars`` for the Content-* headers of
  each part) before it is parsed, each distinct value is parsed once, and all parsing together is held
  to ``header_budget_chars`` characters (past that a header reads as empty);
- body text is cut to ``max_text_chars``, HTML to ``max_html_chars`` before it is converted, and every
  part is held to ``max_part_bytes`` and all parts together to ``max_parts_bytes`` (a part over a limit
  is recorded as dropped with the reason; the mail stays a mail).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.message import EmailMessage, Message
from email.parser import BytesFeedParser, BytesParser
from email.policy import EmailPolicy
from typing import Any, Literal

__all__ = ["DEFAULT_OPTIONS", "Address", "Bounce", "BounceRecipient", "MailOptions", "ParsedMail", "Part", "parse"]

from .classify import classify
from .model import Address, Bounce, BounceRecipient, Classification, ParsedMail, Part
from .text import (
    clean_body,
    cut_quoted,
    decode_text,
    html_to_text,
    is_forward,
    message_ids,
    normalise_message_id,
    normalise_subject,
    one_line,
    repair,
    ticket_number,
    unflow,
)

MiB = 1024 * 1024
_CHUNK = 2048  # bytes fed to the parser at a time: the most it can overshoot a limit by
_MAX_NOTES = 32
_MAX_BOUNCE_RECIPIENTS = 100
_CACHE_ENTRIES = 4096
_TEXT_TYPES = ("text/plain", "text/html")
_NEWLINES = re.compile(r"[\r\n]")
# a line that looks like a header ("Name: value"): the parser spends about ten times more on it
_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:", re.MULTILINE)
_HEADER_WEIGHT = 10
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
# the headers the classification reads, kept decoded on the result
_LOOP_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "x-autoreply-from",
    "x-mail-autoreply",
    "x-auto-response-suppress",
)


@dataclass(frozen=True, slots=True)
class MailOptions:
    """How incoming mail is read: the subject tag and the bounds. The defaults suit a support desk."""

    tag_prefix: str = "[#"  # the subject tag is prefix + number + "]": "[#1234]", or "[ACME-#1234]"
    own_addresses: frozenset[str] = frozenset()  # pagerd's own support addresses: mail from them is a loop
    max_message_bytes: int = 25 * MiB
    max_part_bytes: int = 10 * MiB
    max_parts_bytes: int = 25 * MiB
    max_parts: int = 100
    max_depth: int = 16
    max_header_chars: int = 8192
    max_mime_header_chars: int = 2048
    header_budget_chars: int = 256 * 1024
    max_text_chars: int = 1_000_000
    max_html_chars: int = 512 * 1024
    max_references: int = 100
    max_addresses: int = 100
    # the parser's work grows with the lines it reads times the depth it reads them at (each line is
    # checked against every open boundary): lines x (1 + depth), a header-like line counting ten more
    max_line_work: int = 3_000_000

    def __post_init__(self) -> None:
        p = self.tag_prefix
        if not (1 <= len(p) <= 32) or not p.isprintable() or p != p.strip() or any(c.isdigit() for c in p[-1:]):
            raise ValueError(
                f"tag_prefix {p!r}: 1 to 32 printable characters, no surrounding space, not ending in a digit"
            )
        for name in (
            "max_message_bytes",
            "max_part_bytes",
            "max_parts_bytes",
            "max_parts",
            "max_depth",
            "max_header_chars",
            "max_mime_header_chars",
            "header_budget_chars",
            "max_text_chars",
            "max_html_chars",
            "max_references",
            "max_addresses",
            "max_line_work",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        object.__setattr__(self, "own_addresses", frozenset(a.strip().lower() for a in self.own_addresses))


DEFAULT_OPTIONS = MailOptions()


# ============================================================================ the bounded parser


class _Work:
    """What one parse has spent: parts made, deepest nesting, header characters parsed; and its notes."""

    def __init__(self, options: MailOptions) -> None:
        self.options = options
        self.entities = 0
        self.deepest = 0
        self.last: _Entity | None = None
        self.header_left = options.header_budget_chars
        self.line_work = 0
        self.cache: dict[tuple[str, str], Any] = {}
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < _MAX_NOTES:
            self.notes.append(text[:200])


class _Policy(EmailPolicy):
    """``email.policy.default`` whose header reading is bounded (see the module's docstring). The email
    package reads a header value through ``header_fetch_parse`` each time it is asked for."""

    work: _Work | None = None

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name") or self.work is None:
            return super().header_fetch_parse(name, value)
        work = self.work
        lname = name.lower()
        value = _NEWLINES.sub("", value)  # unfolded, as the default policy does
        limit = work.options.max_mime_header_chars if lname.startswith("content-") else work.options.max_header_chars
        if len(value) > limit:
            work.note(f"header {one_line(name, 60)} longer than {limit} characters: cut")
            # References name the parent last: keep the end of a long one, the start of anything else
            if lname == "references":
                value = value[-limit:]
            else:  # at a comma or space, so no address or word is cut in half
                value = value[:limit]
                at = max(value.rfind(","), value.rfind(" "))
                value = value[:at] if at > limit // 2 else value
        key = (lname, value)
        if key in work.cache:
            return work.cache[key]
        if len(value) > work.header_left:
            work.note(f"more than {work.options.header_budget_chars} characters of headers: the rest read as empty")
            value = ""
        work.header_left -= len(value)
        try:
            parsed = self.header_factory(name, value)
        except Exception:  # e.g. RecursionError on thousands of nested comments in one value
            work.note(f"header {one_line(name, 60)} could not be read: read as empty")
            try:
                parsed = self.header_factory(name, "")
            except Exception:
                parsed = ""
        if len(work.cache) < _CACHE_ENTRIES:
            work.cache[key] = parsed
        return parsed


class _Entity(EmailMessage):
    """An EmailMessage that knows how deep in the MIME tree it sits. The parser makes every part with the
    factory (counted) and hangs it under its parent with ``attach`` (depth)."""

    mime_depth = 0
    work: _Work | None = None

    def attach(self, payload: Any) -> None:
        if isinstance(payload, _Entity):
            payload.mime_depth = self.mime_depth + 1
            if self.work is not None:
                self.work.deepest = max(self.work.deepest, payload.mime_depth)
        super().attach(payload)


def _read(raw: bytes, work: _Work, *, headers_only: bool = False) -> tuple[_Entity, bool]:
    """The parsed tree, and whether reading stopped before the end."""
    options = work.options
    policy = _Policy(work=work)

    def factory(policy: EmailPolicy = policy) -> _Entity:
        entity = _Entity(policy)
        entity.work = work
        work.entities += 1
        work.last = entity
        return entity

    if headers_only:  # the header section alone; the body is one string, nothing nested is read
        root = BytesParser(factory, policy=policy).parsebytes(raw[: options.max_message_bytes], headersonly=True)
        assert isinstance(root, _Entity)
        return root, True
    parser = BytesFeedParser(_factory=factory, policy=policy)
    work.entities, work.deepest, work.last = 0, 0, None  # the parser made one probe instance
    entity_cap = 2 * options.max_parts + options.max_depth
    stopped = False
    view = memoryview(raw)
    end = min(len(raw), options.max_message_bytes)
    for offset in range(0, end, _CHUNK):
        chunk = bytes(view[offset : min(offset + _CHUNK, end)])
        parser.feed(chunk)
        lines = chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        headerish = len(_HEADER_LINE.findall(chunk)) if b":" in chunk else 0
        work.line_work += lines * (1 + work.deepest) + _HEADER_WEIGHT * headerish
        if work.line_work > options.max_line_work:
            work.note("the message has too many lines for its nesting: the rest was not read")
            stopped = True
            break
        if work.entities > entity_cap:
            work.note(f"more than {options.max_parts} parts: the rest of the message was not read")
            stopped = True
            break
        if work.deepest > options.max_depth:
            work.note(f"parts nested deeper than {options.max_depth} levels: the rest of the message was not read")
            stopped = True
            break
    if len(raw) > options.max_message_bytes and not stopped:
        work.note(f"message larger than {options.max_message_bytes} bytes: the rest was not read")
        stopped = True
    root = parser.close()
    assert isinstance(root, _Entity)
    return root, stopped


# ============================================================================ reading headers


def _raw_values(msg: Message, name: str, limit: int, count: int = 4, work: _Work | None = None) -> list[str]:
    """The first `count` raw values of a header, unfolded, each cut to `limit` characters (the end of
    a References value is kept). Raw: no header parser runs."""
    out: list[str] = []
    lname = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lname and isinstance(value, str):
            if work is not None and len(value) > limit:
                work.note(f"header {one_line(key, 60)} longer than {limit} characters: cut")
            value = value[-limit * 2 :] if lname == "references" else value[: limit * 2]
            value = re.sub(r"\r?\n[ \t]*", " ", value)
            out.append(value[-limit:] if lname == "references" else value[:limit])
            if len(out) >= count:
                break
    return out


def _text_header(msg: Message, name: str, limit: int) -> str:
    """A header decoded (encoded words, raw 8-bit bytes) as one clean line; "" when absent."""
    try:
        value = msg.get(name)
        return one_line(str(value), limit) if value is not None else ""
    except Exception:
        return ""


def _addresses(msg: Message, name: str, limit: int) -> tuple[Address, ...]:
    try:
        header = msg.get(name)
        found = tuple(header.addresses) if header is not None else ()
    except Exception:
        return ()
    out: list[Address] = []
    for a in found[: limit * 2]:
        try:
            email = one_line(repair(a.addr_spec), 320).replace(" ", "")
            display = one_line(repair(a.display_name or ""), 200)
        except Exception:  # an address the header parser could not make sense of: left out
            email, display = "", ""
        if email and email != "<>":
            out.append(Address(display, email))
        if len(out) >= limit:
            break
    return tuple(out)


def _date(msg: Message) -> datetime | None:
    try:
        header = msg.get("date")
        value = getattr(header, "datetime", None) if header is not None else None
    except Exception:
        return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _return_path(msg: Message) -> str | None:
    values = _raw_values(msg, "return-path", 400, 1)
    if not values:
        return None
    value = re.sub(r"\s+", "", values[0])
    if value in ("<>", ""):
        return ""
    return one_line(value.strip("<>"), 320)


# ============================================================================ walking the MIME tree


class _Walk:
    """What the walk collects: body segments, parts, the report."""

    def __init__(self, work: _Work, stopped: bool) -> None:
        self.work = work
        self.options = work.options
        self.stopped = stopped
        self.segments: list[tuple[Literal["plain", "html"], str]] = []
        self.parts: list[Part] = []
        self.omitted = 0
        self.leaves = 0
        self.kept_bytes = 0
        self.report: tuple[str, list[BounceRecipient], str | None] | None = None  # (mta, recipients, id)

    # -- the tree

    def visit(self, node: Message, depth: int, in_body: bool) -> None:
        if depth > self.options.max_depth:
            self.omitted += 1
            self.work.note(f"parts nested deeper than {self.options.max_depth} levels were not read")
            return
        payload = node.get_payload()
        ctype = node.get_content_type()
        if not isinstance(payload, list):
            if ctype.startswith("multipart/"):
                ctype = "text/plain"  # a multipart whose boundary was never found: its text is the body
                self.work.note("a multipart part without its boundary was read as text")
            self.leaf(node, ctype, in_body)
            return
        children = [c for c in payload if isinstance(c, Message)]
        if ctype == "message/delivery-status":
            self.delivery_status(children)
            return
        if ctype.startswith("message/"):
            self.leaf(node, ctype, in_body=False)
            return
        if ctype == "multipart/alternative" and in_body:
            chosen = self.choose_alternative(children)
            for child in children:
                self.visit(child, depth + 1, in_body=child is chosen)
            return
        if ctype == "multipart/related":
            for i, child in enumerate(children):
                self.visit(child, depth + 1, in_body=in_body and i == 0)
            return
        for child in children:
            self.visit(child, depth + 1, in_body)

    @staticmethod
    def choose_alternative(children: list[Message]) -> Message | None:
        """The alternative the body is read from: plain text if there is one, else HTML (possibly
        inside a multipart/related), else the last one."""

        def holds(node: Message, ctype: str) -> bool:
            if node.get_content_type() == ctype:
                return True
            payload = node.get_payload()
            return (
                node.get_content_maintype() == "multipart"
                and isinstance(payload, list)
                and bool(payload)
                and (isinstance(payload[0], Message) and payload[0].get_content_type() == ctype)
            )

        for ctype in _TEXT_TYPES:
            for child in children:
                if holds(child, ctype):
                    return child
        return children[-1] if children else None

    def leaf(self, node: Message, ctype: str, in_body: bool) -> None:
        self.leaves += 1
        if self.leaves > self.options.max_parts:
            self.omitted += 1
            if self.leaves == self.options.max_parts + 1:
                self.work.note(f"more than {self.options.max_parts} parts: the rest of the message was not read")
            return
        cut_off = self.stopped and node is self.work.last
        try:
            disposition = node.get_content_disposition()
            filename = _filename(node)
        except Exception:
            disposition, filename = None, None
        attachment = disposition == "attachment" or filename is not None
        if ctype in _TEXT_TYPES and not attachment:
            if in_body:
                self.body(node, ctype, cut_off)
            return  # the other rendering of a multipart/alternative: the chosen one is the body
        if ctype == "text/rfc822-headers":
            self.original_headers(node)
        self.attachment(node, ctype, disposition, filename, cut_off)

    # -- body text

    def body(self, node: Message, ctype: str, cut_off: bool) -> None:
        try:
            data = node.get_payload(decode=True)
        except Exception:
            data = None
        if not isinstance(data, bytes):
            data = b""
        if cut_off:
            self.work.note("the body was cut off where reading stopped")
        declared = _charset(node)
        if ctype == "text/html":
            limit = self.options.max_html_chars
            if len(data) > limit * 4:
                data = data[: limit * 4]
            decoded = decode_text(data, declared)
            html = decoded.text
            if len(html) > limit:
                self.work.note(f"HTML body longer than {limit} characters: only its start was read")
                html = html[:limit]
            text = html_to_text(html)
        else:
            limit = self.options.max_text_chars
            if len(data) > limit * 4:
                data = data[: limit * 4]
            decoded = decode_text(data, declared)
            text = decoded.text
            if _param(node, "format") == "flowed":
                text = unflow(text, delsp=_param(node, "delsp") == "yes")
            text = clean_body(text)
        if decoded.note:
            self.work.note(decoded.note)
        if text.strip():
            self.segments.append(("html" if ctype == "text/html" else "plain", text))

    # -- attachments and inline images

    def attachment(
        self, node: Message, ctype: str, disposition: str | None, filename: str | None, cut_off: bool
    ) -> None:
        options = self.options
        content_type = ctype if _CONTENT_TYPE.match(ctype) else "application/octet-stream"
        try:
            content_id = node.get("content-id")
            cid = normalise_message_id(str(content_id)) if content_id is not None else None
            if cid is None and content_id is not None and str(content_id).strip():
                cid = one_line(str(content_id), 250).strip("<> ") or None
        except Exception:
            cid = None
        cid = one_line(cid, 250) if cid else None
        inline = disposition == "inline" or (disposition is None and cid is not None)
        if filename is None and content_type == "message/rfc822":
            filename = "message.eml"

        def dropped(size: int, why: str) -> None:
            self.parts.append(Part(filename, content_type, size, None, cid, inline, b"", why))

        if cut_off:
            dropped(0, "cut off where reading stopped")
            return
        estimate = _size_estimate(node)
        if estimate > options.max_part_bytes:
            dropped(estimate, f"larger than {options.max_part_bytes} bytes")
            return
        try:
            data = _content(node)
        except Exception as e:
            dropped(0, f"could not be decoded ({type(e).__name__})")
            return
        if len(data) > options.max_part_bytes:
            dropped(len(data), f"larger than {options.max_part_bytes} bytes")
            return
        if self.kept_bytes + len(data) > options.max_parts_bytes:
            dropped(len(data), f"attachments together larger than {options.max_parts_bytes} bytes")
            return
        self.kept_bytes += len(data)
        self.parts.append(Part(filename, content_type, len(data), hashlib.sha256(data).hexdigest(), cid, inline, data))

    # -- delivery-status reports (RFC 3464)

    def delivery_status(self, blocks: list[Message]) -> None:
        mta = ""
        recipients: list[BounceRecipient] = []
        for block in blocks[: _MAX_BOUNCE_RECIPIENTS + 1]:
            if not mta:
                mta = _field(block, "reporting-mta", 200)
            final = _field(block, "final-recipient", 400) or _field(block, "original-recipient", 400)
            if not final:
                continue
            address = final.partition(";")[2].strip() if ";" in final else final
            recipients.append(
                BounceRecipient(
                    address=address.strip("<> ")[:320],
                    action=_field(block, "action", 40).lower(),
                    status=_field(block, "status", 40),
                    diagnostic=_field(block, "diagnostic-code", 400),
                )
            )
        original = self.report[2] if self.report else None
        self.report = (mta, recipients, original)

    def original_headers(self, node: Message) -> None:
        """The Message-ID in a text/rfc822-headers part (a bounce that returns only the headers)."""
        try:
            text = str(node.get_payload())[:65536]
        except Exception:
            return
        m = re.search(r"(?im)^message-id:[ \t]*(.{1,998})$", text)
        self.original_id(normalise_message_id(m.group(1)) if m else None)

    def original_id(self, value: str | None) -> None:
        if value is None:
            return
        mta, recipients, original = self.report or ("", [], None)
        self.report = (mta, recipients, original or value)


def _field(block: Message, name: str, limit: int) -> str:
    values = _raw_values(block, name, limit, 1)
    return one_line(values[0], limit) if values else ""


def _charset(node: Message) -> str | None:
    try:
        value = node.get_param("charset")
    except Exception:
        return None
    if isinstance(value, tuple):  # an RFC 2231 value: (charset, language, text)
        value = value[2]
    return one_line(str(value), 60) if value else None


def _param(node: Message, name: str) -> str:
    """A Content-Type parameter, lowercased; "" when absent or unreadable."""
    try:
        value = node.get_param(name)
    except Exception:
        return ""
    if isinstance(value, tuple):
        value = value[2]
    return one_line(str(value), 40).lower() if value else ""


def _filename(node: Message) -> str | None:
    """The file name without any folder or control character, at most 255 characters; None if none."""
    name = node.get_filename()
    if not name:
        return None
    name = one_line(repair(str(name)), 1024)
    name = re.split(r"[/\\]", name)[-1].strip().lstrip(".")
    return name[:255] or None


def _size_estimate(node: Message) -> int:
    """An upper bound of the decoded size, read without decoding (base64 takes 4 characters for 3 bytes)."""
    payload = node.get_payload()
    if isinstance(payload, list):
        return 0  # an attached message: measured when it is written out
    encoded = len(payload) if isinstance(payload, str) else 0
    try:
        cte = str(node.get("content-transfer-encoding", "")).strip().lower()
    except Exception:
        cte = ""
    if cte == "base64" and isinstance(payload, str):
        return (encoded - payload.count("\n") - payload.count("\r") - payload.count(" ")) * 3 // 4
    return encoded


def _content(node: Message) -> bytes:
    """The decoded bytes of a part; an attached message (message/rfc822) as it was written."""
    payload = node.get_payload()
    if isinstance(payload, list):
        from email.generator import BytesGenerator
        from io import BytesIO

        inner = payload[0] if payload and isinstance(payload[0], Message) else None
        if inner is None:
            return b""
        out = BytesIO()
        # headers as they came (refold_source="none": no header is parsed again on the way out)
        policy = inner.policy.clone(refold_source="none", linesep="\r\n")
        BytesGenerator(out, mangle_from_=False, policy=policy).flatten(inner)
        return out.getvalue()
    data = node.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


# ============================================================================ parse


def _empty(
    size: int, classification: Classification, envelope_from: str | None, notes: tuple[str, ...] = ()
) -> ParsedMail:
    return ParsedMail(
        classification=classification,
        size=size,
        message_id=None,
        in_reply_to=(),
        references=(),
        subject="",
        subject_normalised="",
        ticket_number=None,
        sender=None,
        reply_to=(),
        to=(),
        cc=(),
        return_path=None,
        envelope_from=envelope_from,
        date=None,
        text="",
        text_full="",
        text_source="none",
        parts=(),
        parts_omitted=0,
        bounce=None,
        report_type=None,
        headers=(),
        notes=notes,
    )


def _unparseable(size: int, reason: str, envelope_from: str | None, notes: tuple[str, ...] = ()) -> ParsedMail:
    return _empty(size, Classification("unparseable", reason, (reason,)), envelope_from, notes)


def _envelope(value: str | None) -> str | None:
    if value is None:
        return None
    value = one_line(str(value), 400).strip()
    return "" if value in ("", "<>") else value.strip("<>")


def parse(raw: bytes, options: MailOptions = DEFAULT_OPTIONS, *, envelope_from: str | None = None) -> ParsedMail:
    """Read one mail. `envelope_from` is the sender the MTA gave (LMTP/SMTP MAIL FROM; "" or "<>" for
    the null sender), when the caller knows it. Never raises for any bytes."""
    try:
        data = bytes(raw)
    except Exception:
        return _unparseable(0, "not bytes", None)
    envelope = _envelope(envelope_from)
    if not data.strip():
        return _unparseable(len(data), "empty message", envelope)
    try:
        return _parse(data, options, envelope)
    except Exception as e:  # a failure of the reader itself: the raw mail is kept for the desk
        return _unparseable(len(data), f"the mail could not be read ({type(e).__name__})", envelope)


def _parse(data: bytes, options: MailOptions, envelope: str | None) -> ParsedMail:
    work = _Work(options)
    body_readable = True
    try:
        root, stopped = _read(data, work)
    except RecursionError:
        # the last guard behind the depth bound: read the headers alone, drop the body
        work = _Work(options)
        work.note("the MIME structure could not be read: only the headers were read")
        root, stopped = _read(data, work, headers_only=True)
        body_readable = False
    if not any(True for _ in root.raw_items()):
        return _unparseable(len(data), "no header section: the data does not start with mail headers", envelope)

    subject = _text_header(root, "subject", 998)
    message_id_values = _raw_values(root, "message-id", 998, 1, work)
    message_id = normalise_message_id(message_id_values[0]) if message_id_values else None
    in_reply_to = tuple(
        i for v in _raw_values(root, "in-reply-to", options.max_header_chars, 1, work) for i in message_ids(v, 10)
    )
    references: tuple[str, ...] = ()
    for value in _raw_values(root, "references", options.max_header_chars, 1, work):
        references = message_ids(value, options.max_references)
    senders = _addresses(root, "from", 1)

    walk = _Walk(work, stopped)
    if body_readable:
        walk.visit(root, 0, in_body=True)
    else:
        walk.omitted += 1
    report_type: str | None = None
    bounce: Bounce | None = None
    if root.get_content_type() == "multipart/report":
        try:
            report_type = one_line(str(root.get_param("report-type") or ""), 60).lower() or "unknown"
        except Exception:
            report_type = "unknown"
        if report_type == "delivery-status" or walk.report is not None:
            mta, recipients, original = walk.report or ("", [], None)
            returned = _returned_message_id(root)
            bounce = Bounce(tuple(recipients), original or returned, mta)

    segments = walk.segments
    text_full = "\n\n".join(text for _, text in segments)
    if len(text_full) > options.max_text_chars:
        work.note(f"body longer than {options.max_text_chars} characters: cut")
        text_full = text_full[: options.max_text_chars]
    text = cut_quoted(text_full, forwarded=is_forward(subject))
    source: Literal["plain", "html", "none"] = (
        "none" if not segments else "html" if any(kind == "html" for kind, _ in segments) else "plain"
    )
    headers = tuple(
        (name, one_line(value, 256)) for name in _LOOP_HEADERS for value in _raw_values(root, name, 1024, 2)
    )
    mail = ParsedMail(
        classification=Classification("normal", ""),
        size=len(data),
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        subject_normalised=normalise_subject(subject, options.tag_prefix),
        ticket_number=ticket_number(subject, options.tag_prefix),
        sender=senders[0] if senders else None,
        reply_to=_addresses(root, "reply-to", options.max_addresses),
        to=_addresses(root, "to", options.max_addresses),
        cc=_addresses(root, "cc", options.max_addresses),
        return_path=_return_path(root),
        envelope_from=envelope,
        date=_date(root),
        text=text,
        text_full=text_full,
        text_source=source,
        parts=tuple(walk.parts),
        parts_omitted=walk.omitted,
        bounce=bounce,
        report_type=report_type,
        headers=headers,
        notes=tuple(work.notes),
    )
    return replace(mail, classification=classify(mail, options.own_addresses))


def _returned_message_id(root: Message) -> str | None:
    """The Message-ID of the message a report returns (its message/rfc822 part)."""
    payload = root.get_payload()
    if not isinstance(payload, list):
        return None
    for child in payload[:8]:
        if isinstance(child, Message) and child.get_content_type() in ("message/rfc822", "message/global"):
            inner = child.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                values = _raw_values(inner[0], "message-id", 998, 1)
                if values:
                    return normalise_message_id(values[0])
    return None
