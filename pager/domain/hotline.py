"""The standby number: what a call to it does (pure; README: The standby number).

One Twilio number for every customer's contract. Who calls is looked up by number (E.164, the contacts'
rule: pager.domain.contacts.sender_by_phone); when is read on the agency's calendar; whether the caller's
customer has standby now is the coverage decision of its standby project (pager.domain.paging.decide_coverage,
the one rule the engine pages by), so the number and the engine never disagree:

| when | who | what the call does |
|---|---|---|
| office hours | anyone | forwarded to the desk's phone (`desk.phone`); no desk phone: a voicemail for the desk |
| outside them | a contact whose customer has standby now (booked or recurring) | a phone ticket and an incident on the customer's standby project, the response target started at the call, the standby engineer dialled, then the next escalation step; nobody answers: a voicemail on the ticket |
| outside them | a contact whose customer has no standby now | a voicemail on a phone ticket of the customer, paged per the project's coverage (an `office_hours` project waits for the desk) |
| outside them | an unknown number | a voicemail on a ticket in triage (the desk sees it at the opening) |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .calendar import Calendar, Period, to_utc
from .contacts import Contact, e164, sender_by_phone
from .paging import STANDBY_ROTATION, Coverage, CoverageDecision, ProjectCoverage, decide_coverage


class CallAction(StrEnum):
    FORWARD = "forward"  # office hours: <Dial> the desk's phone
    STANDBY = "standby"  # ticket + incident, <Dial> the standby engineer, then the next step
    VOICEMAIL = "voicemail"  # <Record> a message onto a ticket; page per coverage


@dataclass(frozen=True)
class HotlineCustomer:
    """A customer as the standby number sees it: its standby project's coverage (bookings included)."""

    id: str
    coverage: ProjectCoverage  # of its standby project (coverage.project is "customer/project")


@dataclass(frozen=True)
class CallDecision:
    action: CallAction
    caller: str | None  # E.164, None when the number does not parse (withheld, "anonymous")
    contact: Contact | None
    customer: str | None
    project: str | None  # "customer/project": where the ticket goes; None: triage
    period: Period
    reason: str  # a sentence for the ticket's timeline
    coverage: CoverageDecision | None = None  # the standby project's coverage decision at the call
    forward_to: str | None = None  # FORWARD: the desk's phone (E.164)
    language: str = "nl"  # what the caller hears: the contact's language, else Dutch


def standby_project(projects: Mapping[str, str], chosen: str | None) -> str | None:
    """The project (its name, without the customer) a customer's standby calls go to: `chosen`
    (customers.<id>.standby_project), else its first project with coverage standby or always, else its
    first project. `projects`: name -> coverage, in config order."""
    if chosen is not None:
        return chosen
    for name, coverage in projects.items():
        if coverage in (Coverage.STANDBY.value, Coverage.ALWAYS.value):
            return name
    return next(iter(projects), None)


def decide_call(
    caller: str,
    now: datetime,
    calendar: Calendar,
    contacts: Iterable[Contact],
    customers: Mapping[str, HotlineCustomer],
    *,
    desk_phone: str | None,
    region: str = "NL",
) -> CallDecision:
    """What a call from `caller` at `now` does (the table in this module's docstring)."""
    now = to_utc(now, "now")
    number = e164(caller, region) if caller else None
    contact = sender_by_phone(number, contacts, region).contact if number else None
    customer = customers.get(contact.customer) if contact is not None else None
    who = f"{contact.name} ({contact.customer})" if contact is not None else f"unknown caller {number or 'withheld'}"
    period = calendar.period_at(now)
    desk = e164(desk_phone, region) if desk_phone else None

    def decision(action: CallAction, reason: str, coverage: CoverageDecision | None = None) -> CallDecision:
        return CallDecision(
            action,
            caller=number,
            contact=contact,
            customer=contact.customer if contact is not None else None,
            project=customer.coverage.project if customer is not None else None,
            period=period,
            reason=reason,
            coverage=coverage,
            forward_to=desk if action is CallAction.FORWARD else None,
            language=contact.language if contact is not None else "nl",
        )

    if customer is None:  # an unknown number (or a customer not in the config): the desk's
        if period is Period.OFFICE and desk is not None:
            return decision(CallAction.FORWARD, f"{who}, office hours: forwarded to the desk")
        if period is Period.OFFICE:
            return decision(CallAction.VOICEMAIL, f"{who}, office hours, no desk phone: voicemail for the desk")
        return decision(CallAction.VOICEMAIL, f"{who}, {period.value}: no standby to reach, voicemail for the desk")
    coverage = decide_coverage(customer.coverage, calendar, now)
    if coverage.page and coverage.rotation == STANDBY_ROTATION:
        return decision(CallAction.STANDBY, f"standby call from {who}: {coverage.reason}", coverage)
    if coverage.page and desk is not None:  # office hours: the office rotation is at the desk
        return decision(CallAction.FORWARD, f"{who}, office hours: forwarded to the desk", coverage)
    why = "office hours, no desk phone" if coverage.page else "no standby now"
    return decision(CallAction.VOICEMAIL, f"{who}, {why}: voicemail ({coverage.reason})", coverage)


# What the caller hears (TwiML <Say>), by language: nl (the default) and en.
PROMPTS: dict[str, dict[str, str]] = {
    "nl": {
        "greeting": "Welkom bij de storingsdienst.",
        "forward": "U wordt doorverbonden met de servicedesk.",
        "standby": "U wordt doorverbonden met de dienstdoende engineer. Uw melding is vastgelegd als ticket {ref}.",
        "next": "Wij proberen de volgende engineer.",
        "voicemail": "Er is nu niemand bereikbaar. Spreek na de toon uw naam, uw nummer en uw vraag in. "
        "Sluit af met een hekje of hang op.",
        "thanks": "Dank u. Uw bericht is vastgelegd. Tot ziens.",
        "whisper": "Standby gesprek van {who}, ticket {ref}. U wordt nu verbonden.",
    },
    "en": {
        "greeting": "Welcome to the standby service.",
        "forward": "We are putting you through to the service desk.",
        "standby": "We are putting you through to the engineer on call. Your call is logged as ticket {ref}.",
        "next": "We are trying the next engineer.",
        "voicemail": "Nobody can be reached right now. After the tone, please leave your name, your number "
        "and your question. Press the hash key or hang up when done.",
        "thanks": "Thank you. Your message has been recorded. Goodbye.",
        "whisper": "Standby call from {who}, ticket {ref}. Connecting you now.",
    },
}


def prompt(language: str, key: str, **values: str) -> str:
    """A sentence the caller (or the engineer, `whisper`) hears; unknown languages speak Dutch."""
    return PROMPTS.get(language, PROMPTS["nl"])[key].format(**values)


# A dialled step rings this long before the next one is tried (Twilio's <Dial timeout>, seconds).
DIAL_TIMEOUT = 20
# A voicemail is at most this long (Twilio's <Record maxLength>, seconds).
VOICEMAIL_MAX_SECONDS = 120
# Twilio's DialCallStatus of a <Dial> that connected; every other status tries the next step.
DIAL_CONNECTED = "completed"
