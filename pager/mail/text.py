"""Text helpers for incoming mail, pure and bounded: each takes text or bytes and returns text.

- ``decode_text``        bytes in a declared charset to text; a wrong or unknown label falls back, never raises
- ``repair``             a header string with raw 8-bit bytes (surrogate escapes) made into real text
- ``one_line``           a header value as one clean line (no control characters, spaces collapsed)
- ``clean_body``         body text with one kind of newline and no control characters
- ``unflow``             ``format=flowed`` plain text with its soft line breaks joined
- ``html_to_text``       an HTML body as readable text (inscriptis: paragraphs, lists and tables kept)
- ``cut_quoted``         a reply without the quoted history below it, when that can be cut reliably
- ``normalise_subject``  a subject without Re:/Fwd:/AW:/Antw:/SV: prefixes and the ticket tag
- ``ticket_number``      the ticket number in a subject tag such as ``[#1234]`` or ``[ACME-#1234]``
- ``message_ids``        the ids in a Message-ID, In-Reply-To or References value, without angle brackets
"""

from __future__ import annotations

import codecs
import re
import textwrap
from dataclasses import dataclass

from inscriptis import Inscriptis
from lxml.etree import LxmlError, ParserError
from lxml.html import document_fromstring

# ============================================================================ charsets

# Labels mail clients write where they mean a larger charset (the WHATWG Encoding Standard's mapping):
# text declared ISO-8859-1 or US-ASCII is read as windows-1252, which has the same letters plus the
# quotes, dashes and euro sign that Windows mailers put in the 0x80-0x9F range.
_SUPERSETS = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-8-i": "iso8859-8",
    "unicode-1-1-utf-8": "utf-8",
    "utf8": "utf-8",
}
# Python codecs that are no charset a mail can be written in: they interpret escapes or hostnames
_NOT_MAIL_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "mbcs", "oem", "charmap", "undefined"}
)
_SINGLE_BYTE_LATIN = frozenset({"cp1252", "iso8859-15", "cp1254"})
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    charset: str  # the Python codec that was used
    note: str | None = None  # why it is not the declared charset, when it is not


def _codec(label: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when there is none fit for mail text."""
    if not label:
        return None
    label = label.strip().strip('"').lower()[:40]
    label = _SUPERSETS.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_MAIL_CHARSETS:
        return None
    return info.name


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_text(data: bytes, declared: str | None) -> Decoded:
    """`data` as text. The declared charset is trusted when the bytes fit it, with two corrections mail
    needs: text declared Latin-1/ASCII/windows-1252 whose non-ASCII bytes are valid UTF-8 is UTF-8 (a
    mailer that labels everything Latin-1), and a label that names no charset or does not fit the bytes
    falls back to UTF-8, else windows-1252. Never raises; undecodable bytes become U+FFFD."""
    codec = _codec(declared)
    if data.isascii():
        return Decoded(data.decode("ascii"), codec or "ascii")
    shown = (declared or "").strip()[:40]
    if codec in _SINGLE_BYTE_LATIN or codec is None:
        as_utf8 = _strict(data, "utf-8")
        if as_utf8 is not None:
            if codec is None:
                return Decoded(as_utf8, "utf-8", f"unknown charset {shown!r}, read as utf-8" if shown else None)
            return Decoded(as_utf8, "utf-8", f"declared {shown}, read as utf-8")
    if codec is not None:
        text = _strict(data, codec)
        if text is not None:
            return Decoded(text, codec)
        if codec != "utf-8":
            as_utf8 = _strict(data, "utf-8")
            if as_utf8 is not None:
                return Decoded(as_utf8, "utf-8", f"declared {shown}, read as utf-8")
        if codec == "utf-8" and _UTF8_SEQUENCE.search(data):
            # mostly UTF-8 with a few broken bytes: keep the UTF-8 and mark the broken ones
            return Decoded(data.decode("utf-8", "replace"), "utf-8", "invalid utf-8 bytes replaced")
        if codec not in ("utf-8", "utf-16", "utf-32") and codec not in _SINGLE_BYTE_LATIN:
            # a multi-byte charset with a few broken sequences: the declared one still reads best
            return Decoded(data.decode(codec, "replace"), codec, f"invalid {shown} bytes replaced")
    reason = f"unknown charset {shown!r}" if codec is None and shown else f"declared {shown or 'no charset'}"
    return Decoded(data.decode("cp1252", "replace"), "cp1252", f"{reason}, read as windows-1252")


_SURROGATES = re.compile("[\udc80-\udcff]+")


def repair(value: str) -> str:
    """A header string the email package read with raw 8-bit bytes in it (each kept as a surrogate
    escape, e.g. an unencoded UTF-8 or Latin-1 subject): every run of such bytes decoded as UTF-8, else
    as windows-1252. Text without them comes back unchanged."""
    if not _SURROGATES.search(value):
        return value

    def fix(m: re.Match[str]) -> str:
        raw = m.group().encode("utf-8", "surrogateescape")
        return _strict(raw, "utf-8") or raw.decode("cp1252", "replace")

    return _SURROGATES.sub(fix, value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]+")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]+")
_BODY_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])  # the ASCII ones of it
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def one_line(value: str, limit: int) -> str:
    """A header value as one clean line: raw bytes repaired, control characters and runs of white space
    made single spaces, at most `limit` characters."""
    value = _CONTROL.sub(" ", repair(value[: limit * 4]))
    return _SPACES.sub(" ", value).strip()[:limit]


def clean_body(text: str) -> str:
    """Body text with \\n newlines only, no control characters other than tab, no trailing white space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():  # the common case, done by bytes.translate (tens of times faster than the pattern)
        text = text.encode("ascii").translate(None, _BODY_CONTROL_BYTES).decode("ascii")
    else:
        text = _BODY_CONTROL.sub("", text)
    text = "\n".join(line.rstrip(" \t\u00a0") for line in text.split("\n"))  # no trailing white space
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n")


def unflow(text: str, delsp: bool) -> str:
    """Plain text sent as ``format=flowed`` (RFC 3676, Thunderbird and Apple Mail) with its soft line
    breaks joined: a line that ends in a space continues on the next line of the same quote depth
    (with ``delsp=yes`` that space is not part of the text). The signature line "-- " stays a line."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):  # space-stuffing
            body = body[1:]
        if pending is not None and depth == pending_depth:
            body = pending + body
        elif pending is not None:
            out.append(">" * pending_depth + (" " if pending_depth else "") + pending.rstrip())
        pending = None
        if body.endswith(" ") and body != "-- ":
            pending, pending_depth = (body[:-1] if delsp else body), depth
            continue
        out.append(">" * depth + (" " if depth and body else "") + body)
    if pending is not None:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending.rstrip())
    return "\n".join(out)


# ============================================================================ HTML


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: paragraphs and line breaks as newlines, lists as bullets, tables as
    aligned columns; style, script and hidden (display:none) content left out. libxml2 stops at 256
    levels of nesting, so deep HTML costs no more than flat HTML. Never raises: HTML that cannot be read
    at all comes back with its tags stripped."""
    html = html.strip()
    if not html:
        return ""
    if html.startswith("<?xml"):
        html = re.sub(r"^<\?xml[^>]*\?>", "", html, count=1)
    try:
        tree = document_fromstring(html)
        # inscriptis indents the content of nested blocks; the indent they all share says nothing
        return clean_body(textwrap.dedent(Inscriptis(tree).get_text()))
    except (ParserError, LxmlError, ValueError, RecursionError):
        return clean_body(re.sub(r"<[^>]{0,2000}>", " ", html))


# ============================================================================ quoted history

# "On Mon, 1 Dec 2026 at 10:00, Jan <jan@example.nl> wrote:", "Op wo 2 dec 2026 om 17:00 schreef Jan
# <jan@example.nl>:" and the same in German, French,
# Spanish, Italian and the Scandinavian languages; a mail client may wrap it over two or three lines.
_ATTRIBUTION_VERB = re.compile(
    r"\b(wrote|writes|schreef|schrieb|a écrit|escribió|ha scritto|skrev|kirjoitti|escreveu)\b", re.IGNORECASE
)
# ... and it names a time or an address, which "On Monday John wrote:" in a sentence does not
_ATTRIBUTION_WHEN = re.compile(r"\d{1,2}[:.]\d{2}|@")
_ATTRIBUTION_START = re.compile(r"^(on|op|am|le|el|il|den|på|em)\b", re.IGNORECASE)
# Outlook's header block above the quoted mail, in English, Dutch, German and French
_OUTLOOK_FROM = re.compile(r"^\**(from|van|von|de)\s*:\**\s*\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"^\**(sent|verzonden|gesendet|envoyé|date|datum)\s*:", re.IGNORECASE)
_OUTLOOK_TO = re.compile(r"^\**(to|aan|an|à|subject|onderwerp|betreff|objet)\s*:", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^-{2,}\s*(original message|oorspronkelijk bericht|origineel bericht|ursprüngliche nachricht|"
    r"message d'origine|mensaje original)\s*-{2,}$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^_{10,}$")


def _cut_index(lines: list[str]) -> int | None:
    """Index of the first line of the quoted history, or None when none is recognised."""
    n = len(lines)
    for i, raw in enumerate(lines):
        line = raw.strip()[:600]
        if not line:
            continue
        if _ORIGINAL.match(line):
            return i
        if _ATTRIBUTION_START.match(line):
            joined = line
            for k in range(3):
                if joined.endswith(":") and _ATTRIBUTION_VERB.search(joined) and _ATTRIBUTION_WHEN.search(joined):
                    return i
                if i + k + 1 >= n:
                    break
                joined = f"{joined} {lines[i + k + 1].strip()[:600]}"
        if _OUTLOOK_FROM.match(line):
            following = [s.strip() for s in lines[i + 1 : i + 6]]
            if any(_OUTLOOK_SENT.match(s) for s in following) and any(_OUTLOOK_TO.match(s) for s in following):
                start = i
                while start > 0 and (not lines[start - 1].strip() or _RULE.match(lines[start - 1].strip())):
                    start -= 1
                return start
    return None


def cut_quoted(text: str, *, forwarded: bool = False) -> str:
    """A reply without the history it quotes: cut at the attribution line ("On ... wrote:", "Op ...
    schreef ...:", "Am ... schrieb ...:"), at Outlook's "-----Original Message-----" or From:/Sent:/To:
    header block, or where a trailing block of ">" lines starts. Nothing is cut from a forwarded mail
    (the forwarded mail is its content), nor when nothing would be left above the cut: then the whole
    text comes back."""
    if forwarded or not text:
        return text
    lines = text.split("\n")
    cut = _cut_index(lines)
    if cut is None:
        # a trailing block of quoted lines, blank lines between them allowed
        end = len(lines)
        while end > 0 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
            end -= 1
        if end < len(lines) and any(s.lstrip().startswith(">") for s in lines[end:]):
            cut = end
    if cut is None:
        return text
    kept = "\n".join(lines[:cut]).rstrip()
    return kept if kept.strip() else text


# ============================================================================ subjects and threading

# Reply and forward prefixes: English, Dutch (Antw, Doorst), German (AW, WG), Scandinavian (SV, VS, VB),
# French (TR), Spanish (RV), Italian (Rif), Portuguese (Enc, Res), Finnish (VL), Polish (Odp), with a counter
# ("Re[2]:", "Re^3:") and full-width colons as some clients write them.
_PREFIX = re.compile(
    r"^\s*(re|fw|fwd|aw|wg|antw|antwoord|doorst|sv|vs|vb|tr|rv|rif|enc|res|vl|odp)"
    r"\s*(\[\d{1,4}\]|\(\d{1,4}\)|\^\d{1,4})?\s*[:：]\s*",
    re.IGNORECASE,
)
_FORWARD = re.compile(r"^\s*(fw|fwd|wg|doorst|tr|rv|enc|vb|vl)\s*[:：]", re.IGNORECASE)


def tag_pattern(prefix: str) -> re.Pattern[str]:
    """The subject tag for a ticket number: the prefix (e.g. ``[#``), 1 to 9 digits, ``]``."""
    return re.compile(re.escape(prefix) + r"\s*0*(\d{1,9})\]", re.IGNORECASE)


def ticket_number(subject: str, prefix: str) -> int | None:
    """The ticket number of the first tag with this prefix in the subject, or None."""
    m = tag_pattern(prefix).search(subject)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def normalise_subject(subject: str, prefix: str) -> str:
    """The subject without reply and forward prefixes (repeated, mixed: "Re: AW: Fwd: x" is "x") and
    without the ticket tag, white space collapsed. An empty result stays empty."""
    s = _SPACES.sub(" ", tag_pattern(prefix).sub(" ", subject)).strip()
    for _ in range(100):
        m = _PREFIX.match(s)
        if not m or m.end() == 0:
            break
        s = s[m.end() :]
        s = _SPACES.sub(" ", tag_pattern(prefix).sub(" ", s)).strip()
    return s


def is_forward(subject: str) -> bool:
    """The subject says the mail forwards another one (Fwd:, WG:, Doorst:, TR:, ...)."""
    return bool(_FORWARD.match(subject))


_ID = re.compile(r"<([^<>\s]{1,990})>")


def normalise_message_id(value: str) -> str | None:
    """A message id as pagerd compares it: the part between the angle brackets, without white space;
    None when the value holds no id. The same function reads ids in and writes them out."""
    value = _SPACES.sub("", value).strip()
    m = _ID.search(value)
    if m:
        return m.group(1)
    value = value.strip("<>")
    return value if value and "@" in value and len(value) <= 990 and "<" not in value else None


def message_ids(value: str, limit: int) -> tuple[str, ...]:
    """The ids in an In-Reply-To or References value, in order, each once. With more than `limit`, the
    first and the last `limit - 1` are kept (RFC 5322 3.6.4: the first names the thread, the last the
    parent). A value without angle brackets (some mailers) is taken as one id."""
    found = list(dict.fromkeys(_ID.findall(value)))
    if not found:
        one = normalise_message_id(value)
        return (one,) if one else ()
    if len(found) > limit:
        found = [found[0], *found[len(found) - limit + 1 :]] if limit > 1 else found[:limit]
    return tuple(found)
