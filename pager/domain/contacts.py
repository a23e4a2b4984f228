"""Customer contacts, and who a sender is (pure).

A sender maps to a contact by its e-mail address (or phone number), else to a customer by the domain
of its address (`customers.<id>.email_domains`; free-mail domains never map by domain), else to
nobody: the ticket waits in triage. Phone numbers are compared in E.164, parsed with `phonenumbers`
in the region of the calendar's holiday country when they carry no country code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import phonenumbers

# Mail domains anybody can have an address at: never a customer's by domain (the one list).
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.nl",
        "live.com",
        "live.nl",
        "msn.com",
        "yahoo.com",
        "yahoo.nl",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.com",
        "gmx.net",
        "proton.me",
        "protonmail.com",
        "ziggo.nl",
        "kpnmail.nl",
        "kpnplanet.nl",
        "planet.nl",
        "home.nl",
        "hetnet.nl",
        "xs4all.nl",
        "telfort.nl",
        "upcmail.nl",
        "chello.nl",
        "casema.nl",
        "quicknet.nl",
    }
)


@dataclass(frozen=True, slots=True)
class Contact:
    """A person at a customer: from the config or made by the desk."""

    id: str
    customer: str
    name: str
    emails: tuple[str, ...] = ()
    phone: str | None = None  # E.164
    language: str = "nl"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote or called: a known contact (and its customer), a customer by mail domain, or nobody."""

    contact: Contact | None
    customer: str | None

    @property
    def triage(self) -> bool:
        return self.customer is None


def normal_email(address: str) -> str | None:
    """An address as compared: trimmed, lower case; None when it is not local@domain."""
    a = address.strip().lower()
    local, at, domain = a.rpartition("@")
    if not at or not local or not domain or "." not in domain or any(c.isspace() for c in a):
        return None
    return a


def mail_domain(address: str) -> str | None:
    a = normal_email(address)
    return a.rpartition("@")[2] if a else None


def is_free_mail(domain: str) -> bool:
    d = domain.strip().lower().rstrip(".")
    return d in FREE_MAIL_DOMAINS


def e164(number: str, region: str = "NL") -> str | None:
    """A phone number in E.164 (+31201234567), or None when it is not a possible number."""
    if not number or len(number) > 64:
        return None
    try:
        parsed = phonenumbers.parse(number, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def sender_by_email(address: str, contacts: Iterable[Contact], email_domains: Mapping[str, Iterable[str]]) -> Sender:
    """The contact with this address, else the customer whose mail domains hold its domain (never a
    free-mail one), else nobody (triage). `email_domains`: customer id -> its domains."""
    a = normal_email(address)
    if a is None:
        return Sender(None, None)
    for c in contacts:
        if a in (e.lower() for e in c.emails):
            return Sender(c, c.customer)
    domain = a.rpartition("@")[2]
    if is_free_mail(domain):
        return Sender(None, None)
    for customer, domains in email_domains.items():
        if domain in (d.lower().rstrip(".") for d in domains):
            return Sender(None, customer)
    return Sender(None, None)


def sender_by_phone(number: str, contacts: Iterable[Contact], region: str = "NL") -> Sender:
    """The contact with this phone number (compared in E.164), else nobody."""
    n = e164(number, region)
    if n is None:
        return Sender(None, None)
    for c in contacts:
        if c.phone and e164(c.phone, region) == n:
            return Sender(c, c.customer)
    return Sender(None, None)
