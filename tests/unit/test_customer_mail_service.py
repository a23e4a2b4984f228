"""The outgoing-mail shell (pager.service.customer_mail) and its config: the templates in both languages,
hostile text escaped and kept to one header line, the mail's headers; mail.from, mail.outgoing and the cap
loaded with their defaults and bad values refused with their key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pager.config import load
from pager.domain.customer_mail import MailKind, Outgoing, Recipient
from pager.service.customer_mail import build, environment, render
from pager.storage.port import CustomerMailDue
from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV
from tests.unit.test_config import _doc, _issues, _write

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ENV = environment()


def mail(kind: MailKind, language: str = "nl", text: str = "", status: str | None = None, name="Jan") -> Outgoing:
    return Outgoing(7, 42, kind, Recipient("jan@acme.example", name, language, "requester", "acme.jan"), text, status)


@pytest.mark.parametrize(
    ("m", "says"),
    [
        (mail(MailKind.ACKNOWLEDGEMENT), "geregistreerd onder nummer #42"),
        (mail(MailKind.ACKNOWLEDGEMENT, "en"), "filed it as #42"),
        (mail(MailKind.REPLY, text="We kijken ernaar."), "We kijken ernaar."),
        (mail(MailKind.STATUS, status="waiting_on_customer"), "is: wacht op uw reactie"),
        (mail(MailKind.STATUS, "en", status="resolved"), "is: resolved"),
        (mail(MailKind.STATUS, "en", status="waiting_on_customer"), "please answer this e-mail"),
        (mail(MailKind.ACKNOWLEDGEMENT, name=None), "Beste klant,"),
        (mail(MailKind.ACKNOWLEDGEMENT, "fr"), "geregistreerd"),  # an unknown language: Dutch
    ],
)
def test_each_kind_in_each_language(m: Outgoing, says: str) -> None:
    text, html = render(ENV, m, "Webshop traag", "Example support")
    assert says in text
    assert "Webshop traag" in html and "Example support" in text


def test_hostile_text_is_escaped_in_html_and_kept_as_text() -> None:
    hostile = '<script>alert(1)</script> & "quotes" {{ 7*7 }}'
    text, html = render(ENV, mail(MailKind.REPLY, text=hostile, name="<b>Jan</b>"), "<img src=x>", "S")
    assert hostile in text  # plain text is the text as written
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" not in html and "<b>Jan" not in html
    assert "{{ 7*7 }}" in text and "49" not in text  # a text is never a template


def due(**kw) -> CustomerMailDue:
    base = {
        "id": 5, "number": 42, "kind": "acknowledgement", "address": "jan@acme.example",
        "subject": "[#42] Webshop\r\nBcc: evil@x.example traag", "text": "tekst\n", "html": "<p>tekst</p>\n",
        "message_id": "pagerd.42.7.abc@example.nl", "in_reply_to": "m1@acme.example",
        "references": ("m0@acme.example", "m1@acme.example"), "auto_submitted": "auto-replied", "language": "nl",
        "attempts": 0,
    }  # fmt: skip
    return CustomerMailDue(**{**base, **kw})


def test_the_mail_carries_its_threading_and_rfc_3834_headers(tmp_path: Path) -> None:
    cfg = load(EXAMPLE_CONFIG, env={**EXAMPLE_ENV, "PAGERD_MAIL_OUTGOING": "true", "PAGERD_MAIL_SMTP_HOST": "mx"})
    em = build(cfg, due(), NOW)
    assert em["From"] == "Example Hosting support <support@example.nl>" and em["To"] == "jan@acme.example"
    assert em["Subject"] == "[#42] Webshop Bcc: evil@x.example traag" and em["Bcc"] is None  # one line
    assert em["Message-ID"] == "<pagerd.42.7.abc@example.nl>" and em["In-Reply-To"] == "<m1@acme.example>"
    assert em["References"] == "<m0@acme.example> <m1@acme.example>"
    assert (em["Auto-Submitted"], em["X-Auto-Response-Suppress"]) == ("auto-replied", "All")
    assert em.get_content_type() == "multipart/alternative" and em["Content-Language"] == "nl"
    reply = build(cfg, due(auto_submitted=None, in_reply_to=None, references=()), NOW)
    assert reply["Auto-Submitted"] is None and reply["In-Reply-To"] is None and reply["References"] is None


def test_mail_out_settings_load_with_their_defaults(tmp_path: Path) -> None:
    doc = {**_doc(), "mail": {"addresses": ["support@example.nl"]}}
    cfg = load(_write(tmp_path, doc), env={})
    assert cfg.mail is not None
    assert (cfg.mail.sender, cfg.mail.outgoing.enabled) == ("support@example.nl", False)
    assert (cfg.mail.auto_mail_limit, cfg.mail.auto_mail_per) == (5, timedelta(hours=1))
    doc["mail"] |= {"from": "Desk <desk@example.nl>", "outgoing": {"enabled": True, "host": "127.0.0.1", "port": 2525},
                    "auto_mail_limit": 2, "auto_mail_per": "10m"}  # fmt: skip
    cfg = load(_write(tmp_path, doc), env={})
    assert cfg.mail is not None and cfg.mail.sender == "Desk <desk@example.nl>"
    assert (cfg.mail.outgoing.host, cfg.mail.outgoing.port, cfg.mail.auto_mail_limit) == ("127.0.0.1", 2525, 2)


@pytest.mark.parametrize(
    ("mail_cfg", "key"),
    [
        ({"from": "not an address"}, "mail.from"),
        ({"from": "a@b.nl\r\nBcc: c@d.nl"}, "mail.from"),
        ({"outgoing": {"enabled": True}}, "mail.outgoing.host"),  # no server here nor under notifier.smtp
        ({"outgoing": {"enabled": True, "host": "mx", "port": 0}}, "mail.outgoing.port"),
        ({"outgoing": {"enabled": True, "host": "mx", "relay": "x"}}, "mail.outgoing.relay"),
        ({"auto_mail_limit": 0}, "mail.auto_mail_limit"),
        ({"auto_mail_per": "0s"}, "mail.auto_mail_per"),
    ],
)
def test_bad_mail_out_settings_are_refused_with_their_key(tmp_path: Path, mail_cfg: dict, key: str) -> None:
    issues = _issues(tmp_path, {**_doc(), "mail": {"addresses": ["support@example.nl"], **mail_cfg}})
    assert [k for k, _ in issues] == [key], issues
