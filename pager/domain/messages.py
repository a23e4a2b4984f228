"""What a page says (DESIGN.md §2): the SMS within one segment, a group's summary, the voice call's script.

Pure: text in, text out; times are spoken relative to a `now` the caller passes, in a zone it names.

- ``sms_count``       how a text travels as SMS: GSM-7 or UCS-2, its length in that encoding's units and
                      the segments it takes (the one rule; every SMS length here is measured with it)
- ``to_gsm``          alert text made GSM-7-safe (one character outside GSM-7 makes the whole SMS UCS-2,
                      70 characters a segment instead of 160)
- ``sms_page``        the SMS of one incident: number, customer/project, summary, reply instructions, link
- ``sms_bundle``      the SMS of several incidents at once
- ``group_summary``   an incident of several alerts: how many, and what they share
- ``spoken_time``     an instant as a person hears it ("21.15 uur", "gisteren 9:15 p.m.")
- ``voice_script``    what the call says, in the person's language
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pager.domain.projects import is_customer_project, split_project

# =========================================================================== SMS segments

# GSM 03.38: the basic character set (one septet each; ESC 0x1B left out, it introduces the extension)
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# ... and its extension table: ESC + one septet, so each counts double
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_SINGLE = 160  # septets in a message of one segment
GSM7_PART = 153  # septets per segment of a concatenated message (7 go to the header)
UCS2_SINGLE = 70  # UTF-16 code units in one segment
UCS2_PART = 67


@dataclass(frozen=True)
class SmsCount:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int  # 0 for an empty text


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def gsm_len(text: str) -> int:
    """Septets of a GSM-7 text (an extension character counts two)."""
    return sum(2 if c in GSM7_EXTENSION else 1 for c in text)


def sms_count(text: str) -> SmsCount:
    """How `text` travels as SMS. GSM-7 when every character is in GSM-7's basic or extension table
    (an extension character takes two septets), else UCS-2 (UTF-16: an emoji takes two units). One
    segment holds 160 septets or 70 units; a longer text is split into segments of 153 septets or 67
    units, and a character is never split across two (an extension pair, a surrogate pair)."""
    if is_gsm7(text):
        sizes, single, part, encoding = [gsm_len(c) for c in text], GSM7_SINGLE, GSM7_PART, "GSM-7"
    else:
        sizes, single, part, encoding = [len(c.encode("utf-16-le")) // 2 for c in text], UCS2_SINGLE, UCS2_PART, "UCS-2"
    units = sum(sizes)
    if units == 0:
        return SmsCount(encoding, 0, 0)  # type: ignore[arg-type]
    if units <= single:
        return SmsCount(encoding, units, 1)  # type: ignore[arg-type]
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return SmsCount(encoding, units, segments)  # type: ignore[arg-type]


# what GSM-7 lacks, written with what it has (anything else: its accents dropped, or left out)
_GSM_SUBSTITUTES: Mapping[str, str] = {
    "—": "-",
    "–": "-",
    "‐": "-",
    "‑": "-",
    "−": "-",
    "…": "...",
    "‘": "'",
    "’": "'",
    "‚": ",",
    "`": "'",
    "´": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "•": "*",
    "·": ".",
    "×": "x",
    "÷": "/",
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
    "→": "->",
    "←": "<-",
    "µ": "u",
    "°": "o",
    "\u00a0": " ",
    "\t": " ",
    "\f": " ",
    "\x1b": " ",
}


def to_gsm(text: str) -> str:
    """`text` in GSM-7 only: typographic dashes, quotes and ellipses in their plain forms, letters
    GSM-7 lacks without their accents (ë -> e, ç -> c: what Unicode decomposes), and what has no
    GSM-7 form (emoji, other scripts) left out; runs of spaces folded to one."""
    out = []
    for c in text:
        if c in GSM7_BASIC or (c in GSM7_EXTENSION and c != "\f"):
            out.append(c)
        elif c in _GSM_SUBSTITUTES:
            out.append(_GSM_SUBSTITUTES[c])
        else:
            base = "".join(b for b in unicodedata.normalize("NFKD", c) if b in GSM7_BASIC or b in GSM7_EXTENSION)
            out.append(base)
    return re.sub(" {2,}", " ", "".join(out))


def _fold(text: str) -> str:
    return " ".join(text.split())


ELLIPSIS = "..."


def cut_gsm(text: str, septets: int) -> str:
    """A GSM-7 `text` shortened to at most `septets`, ending in "..." when shortened."""
    if gsm_len(text) <= septets:
        return text
    if septets < len(ELLIPSIS):
        return ""
    room, kept = septets - len(ELLIPSIS), []
    for c in text:
        room -= gsm_len(c)
        if room < 0:
            break
        kept.append(c)
    return "".join(kept).rstrip(" .,;:-") + ELLIPSIS


# =========================================================================== the SMS

SMS_REPLY = "1=ack 2=resolve"
SMS_REPLY_ALL = "reply 1 to ack all"
# the summary is shortened to fit one segment, but not below this (then the SMS takes two)
MIN_SMS_SUMMARY = 24
NO_SUMMARY = "(no summary)"


def sms_page(short_code: str, project: str, summary: str, link: str = "", *, target: int = GSM7_SINGLE) -> str:
    """The SMS of one incident: `[pagerd #42] acme/webshop: <summary> - 1=ack 2=resolve <link>` (reply
    1 or 2, or tap the link).

    All GSM-7. The summary is shortened (ending in "...") so the whole SMS, link included, fits
    `target` septets (one segment), but never below MIN_SMS_SUMMARY; the number, the customer/project,
    the reply instructions and the link are never shortened: when they cannot fit with that much of
    the summary, the SMS takes a second segment."""
    head = f"[pagerd #{short_code}] {_fold(to_gsm(project)) or '?'}: "
    tail = f" - {SMS_REPLY}" + (f" {link}" if link else "")
    text = _fold(to_gsm(summary)) or NO_SUMMARY
    room = max(target - gsm_len(head) - gsm_len(tail), MIN_SMS_SUMMARY)
    return head + cut_gsm(text, room) + tail


@dataclass(frozen=True)
class SmsItem:
    short_code: str
    project: str
    summary: str


BUNDLE_SUMMARY_SEPTETS = 60


def sms_bundle_max_listed(target: int = GSM7_SINGLE) -> int:
    """The most incidents an SMS bundle of `target` septets lists by number and summary: an entry takes
    at least 4 septets (`#`, a code of at least one character, a space, a summary of at least one) and
    the `; ` before it 2, so k entries take at least 6k - 2 of the fewer than `target` left for them.
    sms_bundle reads no summary past these, so a bundle's sender needs no other (the engine reads the
    alert texts of these incidents only: pager.domain.paging.bundle_shows)."""
    return max(1, (target + 2) // 6)


def sms_bundle(items: Sequence[SmsItem], *, target: int = GSM7_SINGLE) -> str:
    """The SMS of several incidents: `3 new incidents for acme/webshop, agency/infra: #40 ...; #41 ...;
    +1 more; reply 1 to ack all`, within `target` septets where it can: the projects shortened to
    half of it, then as many incidents as fit (at least the first, its summary shortened), then how
    many more. The reply instruction is never shortened."""
    n = len(items)
    projects = sorted({_fold(to_gsm(i.project)) or "?" for i in items})
    tail = f"; {SMS_REPLY_ALL}"
    room = max(target // 2, MIN_SMS_SUMMARY)
    shown = list(projects)
    proj_text = ", ".join(shown)
    while gsm_len(proj_text) > room and len(shown) > 1:
        shown.pop()
        proj_text = ", ".join(shown) + f" +{len(projects) - len(shown)} more"
    head = f"{n} new incidents for {cut_gsm(proj_text, room)}: "
    for_entries = target - gsm_len(head) - gsm_len(tail)  # the listed entries and the "+N more"
    entries: list[str] = []
    best, listed = 1, 0
    for k, i in enumerate(items[: sms_bundle_max_listed(target)], start=1):
        entry = f"#{i.short_code} {cut_gsm(_fold(to_gsm(i.summary)) or NO_SUMMARY, BUNDLE_SUMMARY_SEPTETS)}"
        entries.append(entry)
        listed += gsm_len(entry) + (2 if k > 1 else 0)
        more = f"; +{n - k} more" if n - k else ""
        if listed <= for_entries - gsm_len(more):
            best = k
        elif listed > for_entries:
            break  # what is listed only grows: no later count fits, with "+N more" or without (a storm's
            # bundle of hundreds stops after the few that fit)
    more = f"; +{n - best} more" if n - best else ""
    budget = max(for_entries - gsm_len(more), MIN_SMS_SUMMARY)
    return head + cut_gsm("; ".join(entries[:best]), budget) + more + tail


# =========================================================================== a group's summary

# labels that say nothing about what alerts share (the project is in the message already)
_NOT_SHARED = frozenset({"alertname", "severity", "customer", "project", "prometheus", "monitor", "receiver"})
# the labels that name where an alert fires, in the order one is chosen to tell alerts apart
_WHERE = ("instance", "host", "hostname", "node", "pod", "container", "service", "job", "device", "mountpoint")
MAX_SHARED_LABELS = 2
MAX_LISTED = 5


@dataclass(frozen=True)
class AlertText:
    summary: str
    labels: Mapping[str, str]
    firing: bool = True

    @property
    def name(self) -> str:
        return self.labels.get("alertname") or _fold(self.summary) or NO_SUMMARY


def _listing(values: Sequence[str]) -> str:
    """Distinct values in first-seen order, repeats counted ("2x DiskFull"), at most MAX_LISTED shown."""
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    shown = [f"{c}x {v}" if c > 1 else v for v, c in list(counts.items())[:MAX_LISTED]]
    rest = len(counts) - len(shown)
    return ", ".join(shown) + (f" +{rest} more" if rest > 0 else "")


def group_summary(alerts: Sequence[AlertText]) -> str:
    """What an incident of several alerts is about, in one line:

    - one alert: its summary;
    - one alert name: `3 alerts: HighLatency on web1, web2, web3` (on: the first of the "where" labels
      whose values differ; without one, the summaries);
    - several names: `2 alerts (service=webshop): DiskFull, HighLoad`, with up to two labels all of
      them share (not the alert name, severity, customer or project);
    - nothing in common: `2 alerts: DiskFull, HighLoad`."""
    if not alerts:
        return NO_SUMMARY
    if len(alerts) == 1:
        return _fold(alerts[0].summary) or alerts[0].name
    n = len(alerts)
    names = [a.name for a in alerts]
    if len(set(names)) == 1:
        for label in _WHERE:
            values = [a.labels.get(label, "") for a in alerts]
            if all(values) and len(set(values)) > 1:
                return f"{n} alerts: {names[0]} on {_listing(values)}"
        summaries = [_fold(a.summary) for a in alerts]
        if len(set(summaries)) > 1 and all(summaries):
            return f"{n} alerts: {_listing(summaries)}"
        return f"{n} alerts: {names[0]}"
    first = alerts[0].labels
    shared = [
        f"{k}={v}"
        for k, v in sorted(first.items())
        if k not in _NOT_SHARED and v and all(a.labels.get(k) == v for a in alerts[1:])
    ][:MAX_SHARED_LABELS]
    common = f" ({', '.join(shared)})" if shared else ""
    return f"{n} alerts{common}: {_listing(names)}"


def incident_summary(summary: str, alerts: Sequence[AlertText]) -> str:
    """What a page says an incident is about: its firing alerts' `group_summary` (all of its alerts
    when none fires any more); `summary`, the incident's own, when it has no alerts."""
    firing = [a for a in alerts if a.firing] or list(alerts)
    return group_summary(firing) if firing else (_fold(summary) or NO_SUMMARY)


# =========================================================================== times, spoken

Language = Literal["nl", "en"]
LANGUAGES: tuple[Language, ...] = ("nl", "en")
# the language of people who set none, by the calendar's holiday country (Dutch where it is spoken)
_DUTCH_COUNTRIES = frozenset({"NL", "BE", "SR"})


def default_language(holiday_country: str) -> Language:
    """A person's language when the config sets none: Dutch in a Dutch-speaking calendar country
    (NL, BE, SR), English elsewhere."""
    return "nl" if str(holiday_country).upper() in _DUTCH_COUNTRIES else "en"


_WEEKDAYS = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def _clock(hour: int, minute: int, lang: Language) -> str:
    if lang == "nl":
        return f"{hour}.{minute:02d} uur"  # "21.15 uur", "9.05 uur": how Dutch writes and reads a time
    if hour == 0 and minute == 0:
        return "midnight"
    if hour == 12 and minute == 0:
        return "noon"
    h12, half = (hour % 12 or 12), ("a.m." if hour < 12 else "p.m.")
    return f"{h12} {half}" if minute == 0 else f"{h12}:{minute:02d} {half}"


def spoken_time(instant: datetime, now: datetime, zone: ZoneInfo, lang: Language) -> str:
    """`instant` as said aloud in `lang`, local to `zone`, relative to `now`: the time alone on the
    same day ("21.15 uur", "9:15 p.m."), "gisteren"/"yesterday" the day before, else the weekday and
    date ("maandag 30 november 21.15 uur", "Monday 30 November 9:15 p.m."). Never ISO 8601."""
    local, today = instant.astimezone(zone), now.astimezone(zone).date()
    clock = _clock(local.hour, local.minute, lang)
    day = local.date()
    if day == today:
        return clock
    if day == today - timedelta(days=1):
        return f"{'gisteren' if lang == 'nl' else 'yesterday'} {clock}"
    date_text = f"{_WEEKDAYS[lang][day.weekday()]} {day.day} {_MONTHS[lang][day.month - 1]}"
    if day.year != today.year:
        date_text += f" {day.year}"
    return f"{date_text} {clock}"


# an ISO 8601 instant in alert text (a heartbeat's "silent since 2026-12-03T20:15:00+00:00", say)
ISO_INSTANT = re.compile(
    r"\b(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?(?![\w:])"
)


def _instants(text: str, zone: ZoneInfo, write: Callable[[datetime], str]) -> str:
    """`text` with every ISO 8601 instant in it written by `write` (one without an offset is wall time
    in `zone`, as everywhere in pagerd); what does not parse as a date stays as it was."""

    def say(m: re.Match[str]) -> str:
        raw = m.group(0).replace(" ", "T", 1).replace(",", ".")
        if raw.endswith("Z"):
            raw = raw[:-1] + "+00:00"
        elif m.group(7) and ":" not in m.group(7):
            raw = raw[: -len(m.group(7))] + m.group(7)[:3] + ":" + m.group(7)[3:]
        try:
            at = datetime.fromisoformat(raw)
        except ValueError:
            return m.group(0)
        if at.tzinfo is None:
            at = at.replace(tzinfo=zone)
        return write(at)

    return ISO_INSTANT.sub(say, text)


def speak_instants(text: str, now: datetime, zone: ZoneInfo, lang: Language) -> str:
    """Alert text with every ISO 8601 instant in it said as `spoken_time`."""
    return _instants(text, zone, lambda at: spoken_time(at, now, zone, lang))


_MONTHS_SHORT = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def sms_instants(text: str, now: datetime, zone: ZoneInfo) -> str:
    """Alert text for an SMS with every ISO 8601 instant in it as local time, short: `21:15` on the
    same day, `2 Dec 21:15` on another, `31 Dec 2025 13:00` in another year."""

    def write(at: datetime) -> str:
        local, today = at.astimezone(zone), now.astimezone(zone).date()
        if local.date() == today:
            return f"{local:%H:%M}"
        year = f" {local.year}" if local.year != today.year else ""
        return f"{local.day} {_MONTHS_SHORT[local.month - 1]}{year} {local:%H:%M}"

    return _instants(text, zone, write)


# =========================================================================== the voice call


@dataclass(frozen=True)
class VoiceItem:
    short_code: str
    project: str  # customer/project
    summary: str
    since: datetime | None = None  # when the incident opened (or last reopened)


@dataclass(frozen=True)
class VoiceScript:
    """What a call says (pager.notify.twilio.voice_twiml makes TwiML of it)."""

    language: str  # <Say language=...>
    voice: str  # <Say voice=...>: one that speaks that language
    intro: str
    menu: str
    again: str
    no_key: str


# Amazon Polly voices through Twilio: each speaks its language (an invalid pair fails the <Say>)
VOICES: Mapping[Language, tuple[str, str]] = {"nl": ("nl-NL", "Polly.Lotte"), "en": ("en-GB", "Polly.Amy")}
_SAY = {
    "nl": {
        "hello": "Dit is pager D.",
        "incident": "Incident {code} voor {who}",
        "incidents": "{n} incidenten.",
        "since": "sinds {when}",
        "project": "{customer}, project {project}",
        "more": "En nog {n}.",
        "menu": "Druk 1 om te bevestigen, 2 om op te lossen, 3 om te escaleren.",
        "again": "Nogmaals.",
        "no_key": "Geen toets ingedrukt. Het incident blijft open en de escalatie gaat door. Tot ziens.",
    },
    "en": {
        "hello": "This is pager D.",
        "incident": "Incident {code} for {who}",
        "incidents": "{n} incidents.",
        "since": "since {when}",
        "project": "{customer}, project {project}",
        "more": "And {n} more.",
        "menu": "Press 1 to acknowledge, 2 to resolve, 3 to escalate.",
        "again": "Again.",
        "no_key": "No key pressed. The incident stays open and escalation continues. Goodbye.",
    },
}
VOICE_LIST_MAX = 5
VOICE_SUMMARY_CHARS = 200


def _who(project: str, lang: Language) -> str:
    folded = _fold(project)
    if not is_customer_project(folded):
        return project
    customer, name = split_project(folded)
    return _SAY[lang]["project"].format(customer=customer, project=name)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _said(summary: str, now: datetime | None, zone: ZoneInfo | None, lang: Language) -> str:
    text = _fold(summary) or "-"
    if now is not None and zone is not None:
        text = speak_instants(text, now, zone, lang)
    if len(text) > VOICE_SUMMARY_CHARS:
        text = text[: VOICE_SUMMARY_CHARS - 1].rstrip() + "…"
    return _sentence(text)


def voice_script(
    items: Sequence[VoiceItem],
    lang: Language,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
    *,
    total: int | None = None,
) -> VoiceScript:
    """The call for one incident or several (`total` of them, when only the first few are given),
    in `lang` ("nl" or "en"): for each incident (the first VOICE_LIST_MAX), its number, customer and
    project, since when (a time as people say it, see spoken_time: never ISO 8601) and its summary
    (its ISO instants said the same way); then the keys. Without `now` and `zone` no time is said."""
    if lang not in _SAY:
        raise ValueError(f"voice_script: unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
    if not items:
        raise ValueError("voice_script: no incident to speak of")
    say = _SAY[lang]

    def since(item: VoiceItem) -> str:
        if item.since is None or now is None or zone is None:
            return ""
        return ", " + say["since"].format(when=spoken_time(item.since, now, zone, lang))

    def incident(item: VoiceItem) -> str:
        who = _who(item.project, lang)
        head = say["incident"].format(code=item.short_code, who=who) if who else f"Incident {item.short_code}"
        return head + since(item)

    n = max(total or 0, len(items))
    if n == 1:
        intro = f"{say['hello']} {_sentence(incident(items[0]))} {_said(items[0].summary, now, zone, lang)}"
    else:
        listed = " ".join(f"{incident(i)}: {_said(i.summary, now, zone, lang)}" for i in items[:VOICE_LIST_MAX])
        more = n - min(len(items), VOICE_LIST_MAX)
        intro = f"{say['hello']} {say['incidents'].format(n=n)} {listed}" + (
            f" {say['more'].format(n=more)}" if more else ""
        )
    language, voice = VOICES[lang]
    return VoiceScript(language, voice, intro, say["menu"], say["again"], say["no_key"])


_ANSWERS = {
    "nl": {
        "ack": "Incident {code} is bevestigd.",
        "resolve": "Incident {code} is opgelost.",
        "escalate": "Incident {code} wordt nu geëscaleerd.",
        "failed": "Incident {code}: dat kon niet, het is al {state}.",
        "not_escalated": "Incident {code} is niet geëscaleerd: er is geen stap om nu op te roepen.",
        "refused": "Incident {code}: u bent hiervoor niet opgeroepen, er is niets veranderd.",
        "unknown_key": "Onbekende toets.",
        "bye": "Tot ziens.",
    },
    "en": {
        "ack": "Incident {code} acknowledged.",
        "resolve": "Incident {code} resolved.",
        "escalate": "Incident {code} is escalated now.",
        "failed": "Incident {code}: that did not work, it is {state} already.",
        "not_escalated": "Incident {code} was not escalated: there is no step to page now.",
        "refused": "Incident {code}: this page did not reach you for it, nothing changed.",
        "unknown_key": "Unknown key.",
        "bye": "Goodbye.",
    },
}
_STATES = {"nl": {"acknowledged": "bevestigd", "resolved": "opgelost"}, "en": {}}


def voice_answer(lang: Language, done: Sequence[tuple[str, str, str | None]]) -> str:
    """What the call says after a keypress, then goodbye: per incident (short code, what happened:
    ack / resolve / escalate / failed / not_escalated / refused, and for failed the state it is in)."""
    say = _ANSWERS[lang]
    lines = [
        say[what].format(code=code, state=_STATES[lang].get(state or "", state or "")) for code, what, state in done
    ]
    return " ".join([*lines, say["bye"]])


def voice_unknown_key(lang: Language) -> str:
    return f"{_ANSWERS[lang]['unknown_key']} {_ANSWERS[lang]['bye']}"


__all__ = [
    "AlertText",
    "GSM7_SINGLE",
    "LANGUAGES",
    "Language",
    "SmsCount",
    "SmsItem",
    "VoiceItem",
    "VoiceScript",
    "cut_gsm",
    "default_language",
    "group_summary",
    "incident_summary",
    "gsm_len",
    "is_gsm7",
    "sms_bundle",
    "sms_count",
    "sms_instants",
    "sms_page",
    "speak_instants",
    "spoken_time",
    "to_gsm",
    "voice_answer",
    "voice_script",
    "voice_unknown_key",
]
