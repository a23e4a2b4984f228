"""Reading incoming mail (pager.mail.parse): the hand-written fixtures in tests/testdata/mail/, one per
case the support desk meets, and the text helpers table by table."""

from __future__ import annotations

import hashlib
from dataclasses import FrozenInstanceError, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pager.mail.classify import classify, may_autoreply
from pager.mail.model import KINDS, Classification
from pager.mail.parse import MailOptions, ParsedMail, parse
from pager.mail.text import (
    cut_quoted,
    decode_text,
    message_ids,
    normalise_message_id,
    normalise_subject,
    one_line,
    repair,
    ticket_number,
)

MAIL = Path(__file__).resolve().parents[1] / "testdata" / "mail"


def fixture(name: str, options: MailOptions | None = None, **kw) -> ParsedMail:
    return parse((MAIL / name).read_bytes(), options or MailOptions(), **kw)


def crlf(name: str) -> bytes:
    """The fixture as an MTA hands it over by LMTP: CRLF line ends."""
    return (MAIL / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# ============================================================================ charsets


def test_windows_1252_body_and_encoded_word_sender():
    m = fixture("windows-1252.eml")
    assert m.kind == "normal" and m.may_autoreply
    assert "€ 1.250,00" in m.text and "“uren buiten contract”" in m.text and "vrijdag – die" in m.text
    assert m.sender is not None and m.sender.name == "Renée Müller" and m.sender.email == "renee@klant.example"
    assert m.text.endswith("Groet, Renée")
    assert m.notes == ()


def test_iso_8859_1_encoded_word_subject_and_quoted_printable_body():
    m = fixture("latin1-subject.eml")
    assert m.subject == "Café kassa geeft foutmelding (één keer)"
    assert m.sender is not None and m.sender.name == "François Pérez"
    assert m.text == "De kassa in het café geeft één keer per uur een foutmelding."


def test_unknown_charset_and_raw_utf8_header_fall_back_to_utf8():
    m = fixture("mislabelled-utf8.eml")
    assert m.subject == "Storing café"  # 8-bit UTF-8 in the header itself, no encoded word
    assert m.text == "De storing in het café is opgelost — dank!"
    assert m.notes == ("unknown charset 'x-unknown-charset', read as utf-8",)


@pytest.mark.parametrize(
    "data, declared, text, charset, note",
    [
        (b"plain", None, "plain", "ascii", None),
        (b"caf\xc3\xa9", "utf-8", "café", "utf-8", None),
        (b"caf\xe9", "iso-8859-1", "café", "cp1252", None),
        (b"\x80 5", "iso-8859-1", "€ 5", "cp1252", None),  # Latin-1 read as its superset windows-1252
        (b"\x93q\x94", "windows-1252", "“q”", "cp1252", None),
        (b"caf\xc3\xa9", "iso-8859-1", "café", "utf-8", "declared iso-8859-1, read as utf-8"),
        (b"caf\xe9", "utf-8", "café", "cp1252", "declared utf-8, read as windows-1252"),
        (b"\xc3\xa9t\xe9", "utf-8", "ét\ufffd", "utf-8", "invalid utf-8 bytes replaced"),
        (b"caf\xe9", "x-klingon", "café", "cp1252", "unknown charset 'x-klingon', read as windows-1252"),
        (b"caf\xe9", None, "café", "cp1252", "declared no charset, read as windows-1252"),
        (b"caf\xc3\xa9", None, "café", "utf-8", None),
        (
            b"\\u0041\xe9",
            "unicode_escape",
            "\\u0041é",
            "cp1252",
            "unknown charset 'unicode_escape', read as windows-1252",
        ),
        (b"caf\xe9", "base64", "café", "cp1252", "unknown charset 'base64', read as windows-1252"),
        (b"\xd0\xbf\xd1\x80", "koi8-r", "п©я─", "koi8-r", None),  # a fitting declared charset is trusted
        (b"\x82\xa0", "shift_jis", "あ", "cp932", None),
    ],
)
def test_decode_text(data, declared, text, charset, note):
    d = decode_text(data, declared)
    assert (d.text, d.charset, d.note) == (text, charset, note)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("plain", "plain"),
        ("caf\udcc3\udca9", "café"),  # raw UTF-8 bytes kept as surrogate escapes by the email package
        ("caf\udce9", "café"),  # raw Latin-1
        ("a\r\n\tb\x00c", "a b c"),
    ],
)
def test_repair_and_one_line(value, expected):
    assert one_line(repair(value), 100) == expected


# ============================================================================ body text


def test_html_only_mail_becomes_readable_text():
    m = fixture("html-only.eml")
    assert m.text_source == "html"
    assert m.text.startswith("Beste support,\n\nSinds vanochtend geeft de webshop een foutmelding bij afrekenen.")
    assert "  * Browser: Firefox" in m.text and "10023       mislukt" in m.text
    for hidden in ("track()", "preheader", "margin", "<"):
        assert hidden not in m.text


def test_plain_text_is_preferred_over_its_html_alternative():
    m = fixture("inline-image-attachment.eml")
    assert m.text_source == "plain"
    assert m.text == "Zie de schermafdruk hieronder en de log in de bijlage.\n\n[image: schermafdruk.png]\n\nPiet"


def test_inline_image_and_attachment_are_kept_as_parts():
    m = fixture("inline-image-attachment.eml")
    image, pdf = m.parts
    assert (image.name, image.content_type, image.inline, image.content_id) == (
        "schermafdruk.png",
        "image/png",
        True,
        "shot-1@klant.example",
    )
    assert image.content.startswith(b"\x89PNG") and image.size == len(image.content) == 70
    assert image.sha256 == hashlib.sha256(image.content).hexdigest() and image.dropped is None
    assert (pdf.name, pdf.content_type, pdf.inline, pdf.content_id) == (
        "résumé log.pdf",
        "application/pdf",
        False,
        None,
    )
    assert pdf.content.startswith(b"%PDF-1.4") and pdf.sha256 == hashlib.sha256(pdf.content).hexdigest()


def test_part_limits_drop_the_part_and_keep_the_mail():
    m = fixture("inline-image-attachment.eml", MailOptions(max_part_bytes=72))
    image, pdf = m.parts
    assert image.dropped is None
    # dropped before decoding: its size is estimated from the base64 text (77 bytes decoded, 78 estimated)
    assert (pdf.dropped, pdf.content, pdf.sha256, pdf.size) == ("larger than 72 bytes", b"", None, 78)
    assert m.kind == "normal" and m.text

    m = fixture("inline-image-attachment.eml", MailOptions(max_parts_bytes=100))
    assert m.parts[0].dropped is None
    assert m.parts[1].dropped == "attachments together larger than 100 bytes"

    m = fixture("inline-image-attachment.eml", MailOptions(max_parts=2))  # the two text alternatives count
    assert [p.name for p in m.parts] == [] and m.parts_omitted == 2
    assert "more than 2 parts: the rest of the message was not read" in m.notes


def test_format_flowed_text_has_its_soft_line_breaks_joined():
    raw = (
        b"From: Jan <jan@klant.example>\r\nSubject: Re: [#7] Back-up\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=UTF-8; format=flowed; delsp=no\r\n\r\n"
        b"De back-up van vannacht is mislukt, de melding staat \r\nhieronder.\r\n\r\n"
        b" >From the log: disk full\r\n\r\n-- \r\nJan\r\n\r\n"
        b"Op 02-12-2026 om 17:00 schreef Support:\r\n> Kunt u de \r\n> melding sturen?\r\n"
    )
    m = parse(raw)
    assert (
        m.text
        == "De back-up van vannacht is mislukt, de melding staat hieronder.\n\n>From the log: disk full\n\n--\nJan"
    )
    assert m.text_full.endswith("> Kunt u de melding sturen?")


@pytest.mark.parametrize(
    "text, forwarded, expected",
    [
        ("Nieuw\n\nOp wo 2 dec 2026 om 17:00 schreef Jan <j@x.nl>:\n> oud", False, "Nieuw"),
        ("New\n\nOn Wed, Dec 2, 2026 at 5:00 PM Jan <j@x.nl>\nwrote:\n\n> old", False, "New"),
        ("Neu\nAm 02.12.2026 um 17:00 schrieb Jan:\n> alt", False, "Neu"),
        ("Yes\n-----Original Message-----\nFrom: a\nSent: b\nTo: c\n\nold", False, "Yes"),
        (
            "Ja\n\n________________________________\nVan: A\nVerzonden: gisteren\nAan: B\nOnderwerp: x\n\noud",
            False,
            "Ja",
        ),
        ("Ok\n\n> quoted\n>\n> more\n", False, "Ok"),
        # nothing reliable to cut, or nothing would be left
        ("On Monday John wrote: it works", False, "On Monday John wrote: it works"),
        ("Answer one\n> question two\nAnswer two", False, "Answer one\n> question two\nAnswer two"),
        ("> all quoted", False, "> all quoted"),
        (
            "On Wed, 2 Dec 2026 17:00, Jan <j@x.nl> wrote:\n> old",
            False,
            "On Wed, 2 Dec 2026 17:00, Jan <j@x.nl> wrote:\n> old",
        ),
        # a forward is its content
        ("FYI\n-----Original Message-----\nFrom: a\n\ntext", True, "FYI\n-----Original Message-----\nFrom: a\n\ntext"),
    ],
)
def test_cut_quoted(text, forwarded, expected):
    assert cut_quoted(text, forwarded=forwarded) == expected


@pytest.mark.parametrize(
    "html, expected",
    [
        (  # Gmail
            '<div dir="ltr">Dank, het werkt weer.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            'Op wo 2 dec 2026 om 17:00 schreef Support &lt;<a href="mailto:support@example.nl">support@example.nl</a>'
            '&gt;:<br></div><blockquote class="gmail_quote">Beste Jan,<br>Het is opgelost.</blockquote></div>',
            "Dank, het werkt weer.",
        ),
        (  # Outlook
            '<html><body><div>Ja, dat klopt.</div><div><br></div><hr style="display:inline-block;width:98%">'
            '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>Van:</b> Support &lt;support@example.nl&gt;'
            "<br><b>Verzonden:</b> woensdag 2 december 2026 17:00<br><b>Aan:</b> Klaus &lt;klaus@acme.example&gt;"
            "<br><b>Onderwerp:</b> [#1234] Webshop traag</font></div><div>Oude tekst</div></body></html>",
            "Ja, dat klopt.",
        ),
        (  # Apple Mail
            '<html><body>Prima!<br><div><br><blockquote type="cite"><div>On 2 Dec 2026, at 17:00, Support '
            "&lt;support@example.nl&gt; wrote:</div><br><div>oud</div></blockquote></div></body></html>",
            "Prima!",
        ),
    ],
)
def test_html_replies_lose_their_quoted_history(html, expected):
    raw = b"From: a@klant.example\nSubject: Re: x\nContent-Type: text/html; charset=utf-8\n\n" + html.encode()
    m = parse(raw)
    assert m.text == expected and len(m.text_full) > len(m.text)


def test_reply_without_its_quoted_history_and_the_full_text_kept():
    m = fixture("gmail-reply.eml")
    assert m.text == "Dank je, het nieuwe certificaat werkt."
    assert m.text_full.endswith("> Het certificaat is vervangen.")
    m = fixture("tagged-reply.eml", MailOptions(tag_prefix="[ACME-#"))
    assert m.text == "Hallo,\n\nhet probleem is weer terug sinds vanochtend 10:00.\n\nGroet, Klaus"
    assert "Beste Klaus, we hebben de cache geleegd" in m.text_full


# ============================================================================ threading keys


def test_threading_keys_of_a_reply():
    m = fixture("gmail-reply.eml")
    assert m.message_id == "CAF=abc123@mail.gmail.com"
    assert m.in_reply_to == ("ticket-42.2@pagerd.example.nl",)
    assert m.references == ("ticket-42.1@pagerd.example.nl", "ticket-42.2@pagerd.example.nl")
    assert (m.subject, m.subject_normalised, m.ticket_number) == (
        "Re: [#42] Certificaat verloopt",
        "Certificaat verloopt",
        42,
    )
    assert m.date == datetime(2026, 12, 3, 11, 30, tzinfo=timezone.utc)


def test_subject_tag_with_a_configured_prefix_and_folded_references():
    m = fixture("tagged-reply.eml", MailOptions(tag_prefix="[ACME-#"))
    assert (m.ticket_number, m.subject_normalised) == (1234, "Webshop traag")
    assert m.references == tuple(f"ticket-1234.{i}@pagerd.example.nl" for i in (1, 2, 3))
    assert fixture("tagged-reply.eml").ticket_number is None  # the default prefix "[#" is not in it


def test_crlf_line_ends_read_the_same():
    for name in sorted(p.name for p in MAIL.glob("*.eml")):
        raw = crlf(name)
        assert parse(raw) == replace(fixture(name), size=len(raw)), name


@pytest.mark.parametrize(
    "subject, prefix, number",
    [
        ("[#1234] Webshop traag", "[#", 1234),
        ("Re: [#0042] x", "[#", 42),
        ("RE: AW: [acme-#7] x", "[ACME-#", 7),
        ("[ACME-#7] x", "[#", None),
        ("[#] x", "[#", None),
        ("[#0] x", "[#", None),
        ("[#12345678901] x", "[#", None),
        ("Re: [#12] en [#34]", "[#", 12),
        ("Ticket #1234", "[#", None),
    ],
)
def test_ticket_number(subject, prefix, number):
    assert ticket_number(subject, prefix) == number


@pytest.mark.parametrize(
    "subject, expected",
    [
        ("Re: Webshop traag", "Webshop traag"),
        ("RE: Fwd: AW: Antw: SV: WG: Doorst: Webshop traag", "Webshop traag"),
        ("Re[2]: Re^3: Re (4): x", "x"),
        ("Re[2]: Re^3: x", "x"),
        ("Antw: [#1234] Webshop  traag", "Webshop traag"),
        ("Re: [#1234] Re: Webshop traag", "Webshop traag"),
        ("RE：全角", "全角"),
        ("Reactie: geen prefix", "Reactie: geen prefix"),
        ("Re:", ""),
        ("", ""),
        ("Automatisch antwoord: x", "Automatisch antwoord: x"),
    ],
)
def test_normalise_subject(subject, expected):
    assert normalise_subject(subject, "[#") == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("<a@b>", "a@b"),
        ("  <a@b>  ", "a@b"),
        ("a@b", "a@b"),
        ("<a@b> (comment)", "a@b"),
        ("no id here", None),
        ("", None),
    ],
)
def test_normalise_message_id(value, expected):
    assert normalise_message_id(value) == expected


def test_message_ids_keep_the_first_and_the_last():
    value = " ".join(f"<id{i}@x>" for i in range(10)) + " <id3@x>"
    assert message_ids(value, 4) == ("id0@x", "id7@x", "id8@x", "id9@x")
    assert message_ids("id@x", 4) == ("id@x",)
    assert message_ids("garbage", 4) == ()


# ============================================================================ classification


def test_postfix_bounce_names_the_failed_recipient_and_the_bounced_mail():
    m = fixture("postfix-bounce.eml", envelope_from="<>")
    assert m.kind == "bounce" and not m.may_autoreply
    assert m.reason == "delivery-status report: jan@klant.example (5.1.1)"
    assert m.bounce is not None
    assert m.bounce.failed == ("jan@klant.example",)
    (r,) = m.bounce.recipients
    assert (r.action, r.status) == ("failed", "5.1.1")
    assert r.diagnostic.startswith("smtp; 550 5.1.1 <jan@klant.example>: Recipient address rejected")
    assert m.bounce.original_message_id == "ticket-1234.3@pagerd.example.nl"
    assert m.bounce.reporting_mta == "dns; mail.example.nl"
    assert m.text.startswith("This is the mail system at host mail.example.nl.")
    assert [p.content_type for p in m.parts] == ["message/rfc822"]
    assert b"Message-ID: <ticket-1234.3@pagerd.example.nl>" in m.parts[0].content
    assert "empty return path <> (envelope sender)" in m.classification.signals


def test_bounce_that_returns_only_the_headers():
    raw = (
        (MAIL / "postfix-bounce.eml")
        .read_bytes()
        .replace(b"Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit", b"Content-Type: text/rfc822-headers")
    )
    m = parse(raw)
    assert m.kind == "bounce" and m.bounce is not None
    assert m.bounce.original_message_id == "ticket-1234.3@pagerd.example.nl"


def test_a_delay_report_is_a_bounce_that_failed_nobody():
    raw = (
        (MAIL / "postfix-bounce.eml")
        .read_bytes()
        .replace(b"Action: failed\nStatus: 5.1.1", b"Action: delayed\nStatus: 4.4.1")
    )
    m = parse(raw)
    assert m.kind == "bounce" and m.reason == "delivery-status report: jan@klant.example (4.4.1)"
    assert m.bounce is not None and m.bounce.failed == () and m.bounce.recipients[0].action == "delayed"


def test_exchange_out_of_office_is_an_auto_reply():
    m = fixture("exchange-ooo.eml")
    assert m.kind == "auto_reply" and not m.may_autoreply
    assert m.reason == "out-of-office subject 'Automatisch antwoord: [#1234] Webshop traag'"
    assert m.classification.signals[1:] == ("Auto-Submitted: auto-generated", "X-Auto-Response-Suppress: All")
    assert m.ticket_number == 1234 and m.in_reply_to == ("ticket-1234.3@pagerd.example.nl",)
    assert m.text.startswith("Ik ben afwezig tot en met maandag 7 december")


def test_mailing_list_mail_is_bulk():
    m = fixture("mailing-list.eml")
    assert (m.kind, m.reason) == ("bulk", "Precedence: list")
    assert m.classification.signals == (
        "Precedence: list",
        "List-Id: Operations <ops.lists.example.org>",
        "List-Unsubscribe header",
    )
    assert not m.may_autoreply


def mail(headers: str, body: str = "Hallo", **kw) -> ParsedMail:
    head = "From: Jan <jan@klant.example>\nTo: support@example.nl\nSubject: Vraag\n" + headers
    return parse(f"{head}\n\n{body}\n".encode(), MailOptions(own_addresses=frozenset({"Support@Example.nl"})), **kw)


@pytest.mark.parametrize(
    "headers, kind, reason",
    [
        ("", "normal", "no automatic-mail or loop signal"),
        ("Auto-Submitted: no", "normal", "no automatic-mail or loop signal"),
        ("Auto-Submitted: auto-replied", "auto_reply", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: Auto-Replied (vacation)", "auto_reply", "Auto-Submitted: auto-replied"),
        ("X-Autoreply: yes", "auto_reply", "x-autoreply: yes"),
        ("X-Autorespond: Vacation", "auto_reply", "x-autorespond: Vacation"),
        ("Precedence: auto_reply", "auto_reply", "Precedence: auto_reply"),
        ("Auto-Submitted: auto-generated", "auto_generated", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: auto-notified", "auto_generated", "Auto-Submitted: auto-notified"),
        ("Precedence: bulk", "bulk", "Precedence: bulk"),
        ("Precedence: JUNK", "bulk", "Precedence: junk"),
        ("Precedence: list", "bulk", "Precedence: list"),
        ("List-Id: <ops.example.org>", "bulk", "List-Id: <ops.example.org>"),
        ("List-Unsubscribe: <mailto:x@y>", "bulk", "List-Unsubscribe header"),
        ("X-Auto-Response-Suppress: All", "loop_risk", "X-Auto-Response-Suppress: All"),
        ("X-Auto-Response-Suppress: DR, OOF", "loop_risk", "X-Auto-Response-Suppress: DR, OOF"),
        ("X-Auto-Response-Suppress: AutoReply", "loop_risk", "X-Auto-Response-Suppress: AutoReply"),
        ("X-Auto-Response-Suppress: DR", "normal", "no automatic-mail or loop signal"),
        ("Return-Path: <>", "loop_risk", "Return-Path: <>"),
        ("Return-Path: <jan@klant.example>", "normal", "no automatic-mail or loop signal"),
        # the order: a bounce before an auto-reply before generated before bulk before a loop risk
        (
            "Auto-Submitted: auto-generated\nPrecedence: bulk\nReturn-Path: <>",
            "auto_generated",
            "Auto-Submitted: auto-generated",
        ),
        ("Precedence: bulk\nAuto-Submitted: auto-replied", "auto_reply", "Auto-Submitted: auto-replied"),
    ],
)
def test_classification_by_header(headers, kind, reason):
    m = mail(headers)
    assert (m.kind, m.reason) == (kind, reason)
    assert m.may_autoreply is (kind == "normal")


@pytest.mark.parametrize(
    "sender, kind",
    [
        ("MAILER-DAEMON@mx.example.org", "loop_risk"),
        ("postmaster@example.org", "loop_risk"),
        ("owner-ops@lists.example.org", "loop_risk"),
        ("ops-request@lists.example.org", "loop_risk"),
        ("noreply@shop.example", "loop_risk"),
        ("no-reply@shop.example", "loop_risk"),
        ("do-not-reply@shop.example", "loop_risk"),
        ("bounces+abc@shop.example", "loop_risk"),
        ("support@example.nl", "loop_risk"),  # pagerd's own address
        ("jan@klant.example", "normal"),
        ("noreplyfan@klant.example", "normal"),
    ],
)
def test_loop_risk_senders(sender, kind):
    m = parse(
        f"From: {sender}\nSubject: x\n\nbody\n".encode(), MailOptions(own_addresses=frozenset({"support@example.nl"}))
    )
    assert m.kind == kind, m.reason


@pytest.mark.parametrize(
    "subject, kind",
    [
        ("Out of Office: Vraag", "auto_reply"),
        ("Automatic reply: Vraag", "auto_reply"),
        ("Automatisch antwoord: Vraag", "auto_reply"),
        ("Afwezigheidsbericht", "auto_reply"),
        ("Abwesenheitsnotiz: Vraag", "auto_reply"),
        ("Autoreply: Vraag", "auto_reply"),
        ("Re: Automatic reply: Vraag", "normal"),  # a person answering one
        ("Afwezig morgen, kan iemand anders kijken?", "normal"),
    ],
)
def test_out_of_office_subjects(subject, kind):
    assert parse(f"From: jan@klant.example\nSubject: {subject}\n\nx\n".encode()).kind == kind


def test_empty_envelope_sender_and_no_sender_never_get_an_answer():
    assert mail("", envelope_from="<>").kind == "loop_risk"
    assert mail("", envelope_from="").reason == "empty return path <> (envelope sender)"
    assert mail("", envelope_from="jan@klant.example").kind == "normal"
    m = parse(b"Subject: no sender\n\nbody\n")
    assert (m.kind, m.reason) == ("loop_risk", "no sender address")


def test_read_receipt_is_auto_generated():
    raw = (
        b"From: jan@klant.example\nSubject: Gelezen: x\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nUw bericht is gelezen.\n"
        b"--b\nContent-Type: message/disposition-notification\n\nFinal-Recipient: rfc822; jan@klant.example\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\n--b--\n"
    )
    m = parse(raw)
    assert (m.kind, m.reason) == ("auto_generated", "multipart/report; report-type=disposition-notification")
    assert m.bounce is None


def test_may_autoreply_is_one_decision_over_the_kind():
    for kind in KINDS:
        assert may_autoreply(Classification(kind, "r")) is (kind == "normal")
    m = fixture("windows-1252.eml")
    assert classify(m) == m.classification
    assert classify(m, frozenset({"renee@klant.example"})).kind == "loop_risk"


def test_result_is_frozen():
    m = fixture("windows-1252.eml")
    with pytest.raises(FrozenInstanceError):
        m.subject = "x"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        m.classification.kind = "bounce"  # type: ignore[misc]
    assert all(isinstance(v, tuple) for v in (m.parts, m.references, m.in_reply_to, m.to, m.cc, m.notes, m.headers))


# ============================================================================ unreadable mail and options


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "empty message"),
        (b" \r\n\r\n", "empty message"),
        (b"\x00\x01\x02 binary \xff\xfe", "no header section: the data does not start with mail headers"),
        (b"just a line of text\nand another\n", "no header section: the data does not start with mail headers"),
    ],
)
def test_unparseable(raw, reason):
    m = parse(raw)
    assert (m.kind, m.reason) == ("unparseable", reason)
    assert not m.may_autoreply and m.size == len(raw)


def test_not_bytes_is_unparseable_not_an_exception():
    assert parse(None).kind == "unparseable"  # type: ignore[arg-type]
    assert parse(bytearray(b"From: a@b\n\nx")).kind == "normal"


@pytest.mark.parametrize(
    "kw",
    [
        {"tag_prefix": ""},
        {"tag_prefix": " [#"},
        {"tag_prefix": "[#1"},
        {"tag_prefix": "[\n#"},
        {"tag_prefix": "x" * 33},
        {"max_parts": 0},
        {"max_depth": -1},
        {"max_part_bytes": True},
        {"max_text_chars": "10"},
    ],
)
def test_bad_options_are_refused_when_made(kw):
    with pytest.raises(ValueError):
        MailOptions(**kw)
