"""Oversized and hostile mail: parse never raises, and its work and its result stay bounded whatever the
bytes. Work is counted, not timed: the parts the parser makes and the header characters it parses."""

from __future__ import annotations

import base64
import email.headerregistry
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pager.mail.parse as mailparse
from pager.mail.model import KINDS
from pager.mail.parse import MailOptions, ParsedMail, parse

MAIL = Path(__file__).resolve().parents[1] / "testdata" / "mail"
CORPUS = Path("/usr/lib/python3.11/test/test_email/data")  # CPython's email test messages (scripts/peers.sh)
# the fixtures, and the real-world corpus where it is installed (test_mail_corpus.py insists on it in CI)
SEEDS = [p.read_bytes() for p in sorted(MAIL.glob("*.eml"))] + [
    p.read_bytes() for p in sorted(CORPUS.glob("msg_*.txt"))
]
HEAD = b"From: Jan <jan@klant.example>\r\nTo: support@example.nl\r\nSubject: x\r\n"
SMALL = MailOptions(
    max_parts=5,
    max_depth=4,
    max_text_chars=2000,
    max_html_chars=3000,
    max_part_bytes=600,
    max_parts_bytes=900,
    max_header_chars=300,
    max_mime_header_chars=200,
    header_budget_chars=4000,
    max_references=5,
    max_addresses=5,
    max_line_work=20_000,
)


def assert_bounded(m: ParsedMail, o: MailOptions) -> None:
    assert m.kind in KINDS and m.reason
    assert len(m.text) <= len(m.text_full) <= o.max_text_chars
    assert len(m.subject) <= 998 and len(m.subject_normalised) <= 998
    assert len(m.parts) <= o.max_parts and len(m.notes) <= 32
    kept = [p for p in m.parts if p.dropped is None]
    assert all(len(p.content) == p.size <= o.max_part_bytes and p.sha256 for p in kept)
    assert all(p.content == b"" and p.sha256 is None for p in m.parts if p.dropped)
    assert sum(p.size for p in kept) <= o.max_parts_bytes
    assert all(p.name is None or (0 < len(p.name) <= 255 and "/" not in p.name and "\\" not in p.name) for p in m.parts)
    assert len(m.references) <= o.max_references and len(m.in_reply_to) <= 10
    assert all(len(x) <= o.max_addresses for x in (m.to, m.cc, m.reply_to))
    assert m.bounce is None or len(m.bounce.recipients) <= 101
    for text in (m.subject, m.text_full, *(a.name + a.email for a in (*m.to, *m.cc))):
        text.encode("utf-8")  # no lone surrogate reaches the store or a JSON answer


class Counted:
    """Counts the parts the email parser makes and the header characters it parses."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entities = 0
        self.header_chars = 0
        entity_init = mailparse._Entity.__init__
        registry_call = email.headerregistry.HeaderRegistry.__call__

        def counting_init(entity, *a, **kw):
            self.entities += 1
            entity_init(entity, *a, **kw)

        def counting_call(registry, name, value):
            self.header_chars += len(value)
            return registry_call(registry, name, value)

        monkeypatch.setattr(mailparse._Entity, "__init__", counting_init)
        monkeypatch.setattr(email.headerregistry.HeaderRegistry, "__call__", counting_call)


def multipart(parts: list[bytes], boundary: bytes = b"XX") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return (
        HEAD
        + b"Content-Type: multipart/mixed; boundary="
        + boundary
        + b"\r\n\r\n"
        + body
        + b"--"
        + boundary
        + b"--\r\n"
    )


# ============================================================================ one hostile mail each


@pytest.mark.parametrize("name", ["Subject", "References", "From", "Content-Type", "X-Junk"])
def test_a_header_line_of_one_megabyte(monkeypatch, name):
    counted = Counted(monkeypatch)
    unit = {"References": b"<a@b> ", "From": b"a@b.example, ", "Content-Type": b"(", "Subject": b"=?utf-8?q?a?= "}
    line = name.encode() + b": " + unit.get(name, b"x") * (1_000_000 // len(unit.get(name, b"x")))
    m = parse(line + b"\r\n" + HEAD + b"\r\nbody\r\n")
    assert_bounded(m, MailOptions())
    assert m.kind != "unparseable" and m.text == "body"
    limit = 2048 if name == "Content-Type" else 8192
    if name != "X-Junk":  # a header nobody reads costs nothing
        assert f"header {name} longer than {limit} characters: cut" in m.notes
    assert counted.header_chars <= MailOptions().header_budget_chars
    if name == "Subject":
        assert m.subject == "a" * len(m.subject) and 0 < len(m.subject) <= 998
    if name == "References":
        assert m.references == ("a@b",)


def test_ten_thousand_parts(monkeypatch):
    counted = Counted(monkeypatch)
    o = MailOptions()
    m = parse(multipart([b"Content-Type: image/png\r\n\r\npart %d" % i for i in range(10_000)]), o)
    assert_bounded(m, o)
    assert len(m.parts) == o.max_parts and m.parts_omitted > 0
    assert "more than 100 parts: the rest of the message was not read" in m.notes
    # the parser stopped soon after the limit: a chunk of 2 KiB holds at most a few dozen more
    assert counted.entities <= 2 * o.max_parts + o.max_depth + 2048 // 20


@pytest.mark.parametrize(
    "level",
    [
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: multipart/digest; boundary=d%d\r\n\r\n--d%d\r\n\r\n",
    ],
)
def test_multiparts_nested_five_thousand_deep(monkeypatch, level):
    counted = Counted(monkeypatch)
    o = MailOptions()
    levels = b"".join(level % ((i, i) if b"%d" in level else ()) for i in range(5000))
    m = parse(HEAD + levels + b"Content-Type: text/plain\r\n\r\nhi\r\n", o)
    assert_bounded(m, o)
    assert m.kind == "normal" and m.sender is not None
    assert f"parts nested deeper than {o.max_depth} levels: the rest of the message was not read" in m.notes
    assert counted.entities <= 2048 // 16 + o.max_depth + 2


def test_many_lines_deep_down_stop_at_the_line_work_bound():
    o = MailOptions(max_line_work=200_000)
    levels = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(15))
    m = parse(HEAD + levels + b"Content-Type: text/plain\r\n\r\n" + b"\r\n" * 1_000_000, o)
    assert_bounded(m, o)
    assert "the message has too many lines for its nesting: the rest was not read" in m.notes


def test_a_million_header_lines_stop_at_the_line_work_bound():
    o = MailOptions(max_line_work=200_000)
    m = parse(HEAD + b"X-A: b\r\n" * 1_000_000 + b"\r\nbody\r\n", o)
    assert_bounded(m, o)
    assert "the message has too many lines for its nesting: the rest was not read" in m.notes
    assert m.sender is not None and m.sender.email == "jan@klant.example"


def test_a_large_base64_part_is_dropped_without_decoding(monkeypatch):
    o = MailOptions(max_part_bytes=1024 * 1024)
    decoded: list[int] = []
    real = mailparse._content
    monkeypatch.setattr(mailparse, "_content", lambda node: decoded.append(1) or real(node))
    big = base64.encodebytes(b"\0" * (4 * 1024 * 1024))
    m = parse(
        multipart(
            [
                b"Content-Type: text/plain\r\n\r\nzie bijlage",
                b"Content-Type: application/zip; name=a.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" + big,
            ]
        ),
        o,
    )
    assert_bounded(m, o)
    (part,) = m.parts
    assert (part.name, part.dropped, part.content) == ("a.zip", "larger than 1048576 bytes", b"")
    assert part.size >= 4 * 1024 * 1024 and decoded == []
    assert m.text == "zie bijlage" and m.kind == "normal"


def test_a_compressed_bomb_is_kept_as_it_came_never_expanded():
    bomb = zlib.compress(b"\0" * (50 * 1024 * 1024), 9)  # 50 MiB of zeros in about 50 KiB
    m = parse(
        multipart(
            [
                b"Content-Type: application/gzip; name=log.gz\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(bomb),
                b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-gzip\r\n\r\n" + bomb[:2000],
            ]
        )
    )
    assert_bounded(m, MailOptions())
    assert m.parts[0].content == bomb and m.parts[0].size == len(bomb) < 100_000


def test_a_message_larger_than_the_limit_is_read_up_to_it():
    o = MailOptions(max_message_bytes=100_000, max_text_chars=500_000)
    m = parse(HEAD + b"\r\n" + b"line of text\r\n" * 20_000, o)
    assert_bounded(m, o)
    assert "message larger than 100000 bytes: the rest was not read" in m.notes
    assert m.text_full.count("line of text") < 100_000 // 14 + 1


def test_too_many_header_characters_read_as_empty_past_the_budget(monkeypatch):
    counted = Counted(monkeypatch)
    o = MailOptions(header_budget_chars=10_000)
    parts = [b"Content-Type: image/png; name=\"" + b"n" * 1500 + b"%d\"\r\n\r\nx" % i for i in range(60)]
    m = parse(multipart(parts), o)
    assert_bounded(m, o)
    assert counted.header_chars <= o.header_budget_chars
    assert f"more than {o.header_budget_chars} characters of headers: the rest read as empty" in m.notes


def test_recursion_in_the_reader_falls_back_to_the_headers(monkeypatch):
    def deep(*a, **kw):
        raise RecursionError

    monkeypatch.setattr(mailparse._Walk, "visit", deep)
    m = parse(SEEDS[0])
    assert m.kind == "unparseable" and m.reason == "the mail could not be read (RecursionError)"
    monkeypatch.undo()

    real = mailparse._read

    def read_fails_once(raw, work, headers_only=False):
        if not headers_only:
            raise RecursionError
        return real(raw, work, headers_only=True)

    monkeypatch.setattr(mailparse, "_read", read_fails_once)
    m = parse((MAIL / "inline-image-attachment.eml").read_bytes())
    assert m.kind == "normal" and m.subject == "Screenshot van de fout" and m.text == "" and m.parts == ()
    assert m.parts_omitted == 1 and "the MIME structure could not be read: only the headers were read" in m.notes


# ============================================================================ mutations (hypothesis)


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    op = data.draw(st.sampled_from(["truncate", "junk_header", "bytes_in_headers", "boundary", "nest", "splice"]))
    if op == "truncate":
        return raw[: data.draw(st.integers(0, len(raw)))]
    if op == "junk_header":
        junk = data.draw(st.binary(min_size=0, max_size=300))
        name = data.draw(st.sampled_from([b"Subject", b"From", b"To", b"Content-Type", b"References", b"X-Y", b"Date"]))
        return name + b": " + junk + b"\r\n" + raw
    if op == "bytes_in_headers":
        end = raw.find(b"\n\n")
        end = end if end > 0 else min(len(raw), 400)
        at = data.draw(st.integers(0, end))
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=64)) + raw[at:]
    if op == "boundary":
        wrong = data.draw(st.sampled_from([b"", b"X", b"--", b'"', b"\x00", b"boundary", b"a" * 200]))
        return raw.replace(b"boundary=", b"boundary=" + wrong, 1).replace(b"\n--", b"\n--" + wrong[:1], 3)
    if op == "nest":
        depth = data.draw(st.integers(1, 40))
        kind = data.draw(
            st.sampled_from([b"multipart/mixed; boundary=n%d", b"message/rfc822", b"multipart/alternative"])
        )
        head = b"".join(
            b"Content-Type: "
            + (kind % i if b"%d" in kind else kind)
            + b"\r\n\r\n"
            + (b"--n%d\r\n" % i if b"%d" in kind else b"")
            for i in range(depth)
        )
        return HEAD + head + raw
    other = data.draw(st.sampled_from(SEEDS))
    a, b = data.draw(st.integers(0, len(raw))), data.draw(st.integers(0, len(other)))
    return raw[:a] + other[b:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_mail_never_raises_and_stays_bounded(seed, data):
    raw = seed
    for _ in range(data.draw(st.integers(1, 4))):
        raw = mutate(raw, data)
    for options in (SMALL, MailOptions()):
        assert_bounded(parse(raw, options, envelope_from=data.draw(st.sampled_from([None, "", "<>", "a@b"]))), options)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(raw):
    assert_bounded(parse(raw, SMALL), SMALL)
    assert_bounded(parse(HEAD + b"\r\n" + raw, SMALL), SMALL)
