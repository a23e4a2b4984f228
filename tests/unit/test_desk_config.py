"""The support desk's config: customers.<id>.contacts and email_domains, desk.auto_close_after; each bad
value refused with its key, and the example config's acme has contacts and mail domains."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pager.config import load
from pager.service.desk import configured_contacts
from tests.harness.pagerd import EXAMPLE_ENV
from tests.scenarios.harness import EXAMPLE_CONFIG
from tests.unit.test_config import _doc, _issues, _write

JAN = {"id": "acme.jan", "name": "Jan", "emails": ["jan@acme.example"], "phone": "020 123 4567"}


def _acme(**extra) -> dict:
    return {"acme": {"name": "Acme", "projects": {"webshop": {"coverage": "standby"}}, **extra}}


def test_contacts_load_with_their_defaults_and_phones_in_e164(tmp_path: Path) -> None:
    doc = {
        **_doc(),
        "customers": _acme(
            contacts=[JAN, {"name": "Sara", "emails": ["Sara@Acme.example"]}], email_domains=["acme.example"]
        ),
        "desk": {"auto_close_after": "3d"},
    }
    cfg = load(_write(tmp_path, doc), env={})
    assert cfg.desk.auto_close_after == timedelta(days=3)
    assert [(c.id, c.phone, c.emails, c.language) for c in configured_contacts(cfg)] == [
        ("acme.jan", "+31201234567", ("jan@acme.example",), "nl"),
        ("acme.2", None, ("sara@acme.example",), "nl"),
    ]
    assert load(_write(tmp_path, _doc()), env={}).desk.auto_close_after == timedelta(days=7)


@pytest.mark.parametrize(
    "extra, key, says",
    [
        ({"contacts": [{**JAN, "phone": "12"}]}, "customers.acme.contacts.0.phone", "not a phone number"),
        ({"contacts": [{**JAN, "emails": ["no-at-sign"]}]}, "customers.acme.contacts.0.emails.0", "pattern"),
        ({"contacts": [{**JAN, "language": "de"}]}, "customers.acme.contacts.0.language", "'nl' or 'en'"),
        ({"contacts": [{**JAN, "name": ""}]}, "customers.acme.contacts.0.name", "at least 1"),
        ({"contacts": [{**JAN, "id": "a b"}]}, "customers.acme.contacts.0.id", "pattern"),
        ({"contacts": [{**JAN, "colour": "red"}]}, "customers.acme.contacts.0.colour", "unknown key"),
        ({"contacts": [JAN, {**JAN, "emails": []}]}, "customers.acme.contacts.1.id", "the same id"),
        (
            {"contacts": [JAN, {"name": "X", "emails": ["JAN@acme.example"]}]},
            "customers.acme.contacts.1.emails.0",
            "the same address",
        ),
        ({"email_domains": ["gmail.com"]}, "customers.acme.email_domains.0", "free-mail"),
        ({"email_domains": ["not a domain"]}, "customers.acme.email_domains.0", "pattern"),
        ({"contacts": "Jan"}, "customers.acme.contacts", "list"),
    ],
)
def test_bad_contacts_and_domains_are_refused_with_their_key(tmp_path: Path, extra: dict, key: str, says: str) -> None:
    issues = _issues(tmp_path, {**_doc(), "customers": _acme(**extra)})
    assert [k for k, _ in issues] == [key], issues
    assert says in issues[0][1], issues


@pytest.mark.parametrize("value", ["0s", "-1d", "soon", 5])
def test_bad_auto_close_after_is_refused(tmp_path: Path, value) -> None:
    issues = _issues(tmp_path, {**_doc(), "desk": {"auto_close_after": value}})
    assert [k for k, _ in issues] == ["desk.auto_close_after"], issues


def test_the_example_config_has_a_customer_with_contacts_and_mail_domains() -> None:
    cfg = load(EXAMPLE_CONFIG, env={**EXAMPLE_ENV, "PAGERD_NOTIFIER": "dry_run"})
    acme = cfg.customers["acme"]
    assert acme.email_domains and acme.contacts
    assert all(c.phone is None or c.phone.startswith("+") for c in configured_contacts(cfg))


def test_subject_tag_prefix_and_reopen_window_load_with_defaults(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, _doc()), env={})
    assert (cfg.desk.subject_tag_prefix, cfg.desk.reopen_closed_within) == ("[#", timedelta(days=14))
    doc = {**_doc(), "desk": {"subject_tag_prefix": "[ACME-#", "reopen_closed_within": "30d"}}
    cfg = load(_write(tmp_path, doc), env={})
    assert (cfg.desk.subject_tag_prefix, cfg.desk.reopen_closed_within) == ("[ACME-#", timedelta(days=30))


@pytest.mark.parametrize(
    "key, value",
    [
        ("subject_tag_prefix", ""),
        ("subject_tag_prefix", " [#"),
        ("subject_tag_prefix", "[#1"),
        ("subject_tag_prefix", "x" * 33),
        ("subject_tag_prefix", 5),
        ("reopen_closed_within", "0s"),
        ("reopen_closed_within", "-1d"),
        ("reopen_closed_within", "soon"),
    ],
)
def test_bad_mail_threading_settings_are_refused_with_their_key(tmp_path: Path, key: str, value: object) -> None:
    issues = _issues(tmp_path, {**_doc(), "desk": {key: value}})
    assert [k for k, _ in issues] == [f"desk.{key}"], issues
