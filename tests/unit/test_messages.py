"""What a page says (pager.domain.messages): SMS segments and text, a group's summary, the voice call."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pager.domain.messages import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    AlertText,
    SmsCount,
    VoiceItem,
    cut_gsm,
    default_language,
    group_summary,
    gsm_len,
    incident_summary,
    is_gsm7,
    sms_count,
    sms_instants,
    sms_page,
    speak_instants,
    spoken_time,
    to_gsm,
    voice_answer,
    voice_script,
)

AMS = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc
# Thursday 3 December 2026, 21:30 in Amsterdam
NOW = datetime(2026, 12, 3, 20, 30, tzinfo=UTC)
LINK = "https://pagerd.example.nl/l/NDEuMC5hLnQ4aXFvMC5jaHJpcw.pT_ZoC2pb9m536WHknelpQ"


# =========================================================================== segments


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", SmsCount("GSM-7", 0, 0)),
        ("a", SmsCount("GSM-7", 1, 1)),
        ("a" * 160, SmsCount("GSM-7", 160, 1)),  # exactly one segment
        ("a" * 161, SmsCount("GSM-7", 161, 2)),  # one more: two of 153
        ("a" * 306, SmsCount("GSM-7", 306, 2)),
        ("a" * 307, SmsCount("GSM-7", 307, 3)),
        ("{" * 80, SmsCount("GSM-7", 160, 1)),  # an extension character counts double
        ("{" * 81, SmsCount("GSM-7", 162, 2)),
        ("a" * 159 + "€", SmsCount("GSM-7", 161, 2)),
        ("a" * 158 + "€", SmsCount("GSM-7", 160, 1)),
        ("{}[]~^\\|€", SmsCount("GSM-7", 18, 1)),
        # an extension pair is never split: 152 + 2 does not fit 153, so it opens the second segment
        ("a" * 152 + "[" + "a" * 10, SmsCount("GSM-7", 164, 2)),
        ("a" * 152 + "[" + "a" * 152, SmsCount("GSM-7", 306, 3)),
        ("àéèùìòÄÖÑÜäöñüßÆæØøÅåÇÉ£¥§¿¡", SmsCount("GSM-7", 28, 1)),  # in GSM-7's basic table
        ("ë", SmsCount("UCS-2", 1, 1)),  # not in GSM-7: the whole text goes UCS-2
        ("—", SmsCount("UCS-2", 1, 1)),
        ("a" * 70 + "ë"[:0], SmsCount("GSM-7", 70, 1)),
        ("ë" * 70, SmsCount("UCS-2", 70, 1)),
        ("ë" * 71, SmsCount("UCS-2", 71, 2)),
        ("😀", SmsCount("UCS-2", 2, 1)),  # an emoji: a surrogate pair, two units
        ("😀" * 35, SmsCount("UCS-2", 70, 1)),
        ("😀" * 36, SmsCount("UCS-2", 72, 2)),
        ("a" * 66 + "😀" + "a" * 10, SmsCount("UCS-2", 78, 2)),  # the pair is not split: 66 + 2 > 67
        ("a" * 159 + "😀", SmsCount("UCS-2", 161, 3)),  # one emoji makes a 160-character text three segments
    ],
)
def test_sms_count(text, expected):
    assert sms_count(text) == expected


@given(st.text(max_size=400))
def test_sms_count_agrees_with_its_own_units(text):
    c = sms_count(text)
    single, part = (160, 153) if c.encoding == "GSM-7" else (70, 67)
    assert c.segments == 0 if not text else c.segments >= 1
    if c.units <= single:
        assert c.segments == min(1, c.units)
    else:
        assert c.segments >= -(-c.units // part)
    assert is_gsm7(to_gsm(text))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("disk full on web1", "disk full on web1"),
        ("Schijf vol — 95% op “web1”…", 'Schijf vol - 95% op "web1"...'),
        ("naïve café ﬁle façade Zoë", "naive café file facade Zoe"),  # é is GSM-7; ï, ç, ë, the fi ligature are not
        ("backup ✅ done 🎉", "backup done "),
        ("温度 high on web1", " high on web1"),
        ("tab\there, nbsp\u00a0there", "tab here, nbsp there"),
        ("{json: [1]} ~ ^ | € \\", "{json: [1]} ~ ^ | € \\"),  # the extension table is GSM-7 too
        ("escape \x1b and form feed \f", "escape and form feed "),
        ("≥ 90 ° × 2 → µs", ">= 90 o x 2 -> us"),
    ],
)
def test_to_gsm(text, expected):
    assert to_gsm(text) == expected
    assert is_gsm7(to_gsm(text))


@pytest.mark.parametrize(
    "text, septets, expected",
    [
        ("abcdef", 6, "abcdef"),
        ("abcdefg", 6, "abc..."),
        ("ab{}", 6, "ab{}"),  # an extension character counts double
        ("ab{}ef", 8, "ab{}ef"),
        ("ab{}efg", 8, "ab{..."),
        ("ab, cdefg", 7, "ab..."),  # no dangling punctuation before the ellipsis
        ("abc", 2, ""),
    ],
)
def test_cut_gsm(text, septets, expected):
    assert cut_gsm(text, septets) == expected


@given(st.text(alphabet=st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION)), max_size=400))
def test_gsm_len_counts_each_extension_character_twice(text):
    assert gsm_len(text) == sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    for septets in (0, 3, 10, 153, 160):  # a cut text fits, and is a prefix of the text, or the whole
        cut = cut_gsm(text, septets)
        assert gsm_len(cut) <= septets or cut == text == ""
        assert cut == text or text.startswith(cut.removesuffix("..."))


# =========================================================================== the SMS


@pytest.mark.parametrize(
    "case, project, summary, expected",
    [
        (
            "typical alert: customer and project, reply codes and link, one segment",
            "acme/webshop",
            "HighLatency on web1",
            f"[pagerd #41] acme/webshop: HighLatency on web1 - 1=ack 2=resolve {LINK}",
        ),
        (
            "a group summary fits as well",
            "acme/webshop",
            "3 alerts: HighLatency on web1, web2",
            f"[pagerd #41] acme/webshop: 3 alerts: HighLatency on web1, web2 - 1=ack 2=resolve {LINK}",
        ),
        (
            "a long alert text is shortened, never the reply codes or the link",
            "acme/webshop",
            "Disk /var/lib/postgresql on db1.acme.internal is 97% full and will be full within 2 hours",
            f"[pagerd #41] acme/webshop: Disk /var/lib/postgresql on db1... - 1=ack 2=resolve {LINK}",
        ),
        (
            "non-GSM characters are transliterated or left out, so the SMS stays GSM-7",
            "acme/webshop",
            "Schijf “/var” vol — 97 % 🔥",
            f'[pagerd #41] acme/webshop: Schijf "/var" vol - 97 % - 1=ack 2=resolve {LINK}',
        ),
        (
            "extension characters count double when shortening",
            "acme/webshop",
            "{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[",
            f"[pagerd #41] acme/webshop: {{[{{[{{[{{[{{[{{[{{[{{[... - 1=ack 2=resolve {LINK}",
        ),
        ("no summary", "acme/webshop", "  \n ", f"[pagerd #41] acme/webshop: (no summary) - 1=ack 2=resolve {LINK}"),
    ],
)
def test_sms_page(case, project, summary, expected):
    text = sms_page("41", project, summary, LINK)
    assert text == expected, case
    assert sms_count(text) == SmsCount("GSM-7", sms_count(text).units, 1), case


def test_sms_page_takes_a_second_segment_rather_than_cut_the_link_or_the_project():
    long_link = "https://pagerd.operations.example-hosting-agency.nl/l/" + "A" * 90
    text = sms_page("41", "verylongcustomername/verylongprojectname", "HighLatency on web1 for a while now", long_link)
    assert text.startswith("[pagerd #41] verylongcustomername/verylongprojectname: HighLatency on web1 f...")
    assert text.endswith(f" - 1=ack 2=resolve {long_link}")
    assert sms_count(text).segments == 2


def test_sms_page_without_a_link_still_says_how_to_reply():
    assert sms_page("7", "agency/infra", "vpn down") == "[pagerd #7] agency/infra: vpn down - 1=ack 2=resolve"


# =========================================================================== group summaries


def alert(name: str | None, summary: str = "", firing: bool = True, **labels: str) -> AlertText:
    return AlertText(summary, {**({"alertname": name} if name else {}), **labels}, firing)


@pytest.mark.parametrize(
    "case, alerts, expected",
    [
        ("one alert: its summary", [alert("DiskFull", "disk full on db1")], "disk full on db1"),
        ("one alert without a summary: its name", [alert("DiskFull")], "DiskFull"),
        (
            "two alerts, one name, on two instances",
            [alert("HighLatency", "x", instance="web1"), alert("HighLatency", "y", instance="web2")],
            "2 alerts: HighLatency on web1, web2",
        ),
        (
            "many alerts, one name: where they fire",
            [alert("HighLatency", job="node", instance=f"web{i}") for i in (1, 2, 3)],
            "3 alerts: HighLatency on web1, web2, web3",
        ),
        (
            "more than five places: the rest counted",
            [alert("HighLatency", instance=f"web{i}") for i in range(1, 9)],
            "8 alerts: HighLatency on web1, web2, web3, web4, web5 +3 more",
        ),
        (
            "the first 'where' label that differs: host when instance is shared",
            [alert("DiskFull", instance="nas", mountpoint=m) for m in ("/var", "/home")],
            "2 alerts: DiskFull on /var, /home",
        ),
        (
            "one name, no 'where' label: the summaries",
            [alert("BackupLate", "backup of a late"), alert("BackupLate", "backup of b late")],
            "2 alerts: backup of a late, backup of b late",
        ),
        (
            "one name, nothing tells them apart",
            [alert("Watchdog", "x"), alert("Watchdog", "x")],
            "2 alerts: Watchdog",
        ),
        (
            "different names with labels in common",
            [
                alert("DiskFull", service="webshop", env="prod", severity="critical", instance="db1"),
                alert("HighLoad", service="webshop", env="prod", severity="critical", instance="db2"),
            ],
            "2 alerts (env=prod, service=webshop): DiskFull, HighLoad",
        ),
        (
            "severity, customer and project are not what they share",
            [
                alert("DiskFull", customer="acme", project="webshop", severity="critical"),
                alert("HighLoad", customer="acme", project="webshop", severity="critical"),
            ],
            "2 alerts: DiskFull, HighLoad",
        ),
        (
            "nothing in common",
            [alert("DiskFull", instance="db1"), alert("HighLoad", instance="db2")],
            "2 alerts: DiskFull, HighLoad",
        ),
        (
            "repeated names counted",
            [alert("DiskFull", instance="db1"), alert("HighLoad"), alert("DiskFull", instance="db2")],
            "3 alerts: 2x DiskFull, HighLoad",
        ),
        (
            "alerts without a name (Nagios, Events v2) by their summaries",
            [alert(None, "web1 HTTP is CRITICAL"), alert(None, "web2 HTTP is CRITICAL")],
            "2 alerts: web1 HTTP is CRITICAL, web2 HTTP is CRITICAL",
        ),
    ],
)
def test_group_summary(case, alerts, expected):
    assert group_summary(alerts) == expected, case


def test_incident_summary_speaks_of_the_alerts_that_still_fire():
    web = [alert("HighLatency", instance=f"web{i}", firing=i != 2) for i in (1, 2, 3)]
    assert incident_summary("first alert", web) == "2 alerts: HighLatency on web1, web3"
    assert incident_summary("first alert", [web[0], alert("X", "only x fires")]) == "2 alerts: HighLatency, X"
    resolved = [alert("A", "a", firing=False), alert("B", "b", firing=False)]
    assert incident_summary("first alert", resolved) == "2 alerts: A, B"
    assert incident_summary("  the incident's own\n summary ", []) == "the incident's own summary"


# =========================================================================== times and the call


@pytest.mark.parametrize(
    "instant, lang, expected",
    [
        (datetime(2026, 12, 3, 20, 15, tzinfo=UTC), "nl", "21.15 uur"),
        (datetime(2026, 12, 3, 20, 15, tzinfo=UTC), "en", "9:15 p.m."),
        (datetime(2026, 12, 3, 8, 5, tzinfo=UTC), "nl", "9.05 uur"),
        (datetime(2026, 12, 3, 8, 0, tzinfo=UTC), "en", "9 a.m."),
        (datetime(2026, 12, 3, 11, 0, tzinfo=UTC), "en", "noon"),
        (datetime(2026, 12, 2, 23, 0, tzinfo=UTC), "en", "midnight"),  # 00:00 in Amsterdam, today
        (datetime(2026, 12, 2, 22, 59, tzinfo=UTC), "nl", "gisteren 23.59 uur"),
        (datetime(2026, 12, 2, 22, 59, tzinfo=UTC), "en", "yesterday 11:59 p.m."),
        (datetime(2026, 11, 30, 20, 15, tzinfo=UTC), "nl", "maandag 30 november 21.15 uur"),
        (datetime(2026, 11, 30, 20, 15, tzinfo=UTC), "en", "Monday 30 November 9:15 p.m."),
        (datetime(2025, 12, 31, 12, 0, tzinfo=UTC), "en", "Wednesday 31 December 2025 1 p.m."),
    ],
)
def test_spoken_time(instant, lang, expected):
    assert spoken_time(instant, NOW, AMS, lang) == expected


@pytest.mark.parametrize(
    "text, lang, expected",
    [
        (
            "heartbeat alertmanager silent since 2026-12-03T19:00:00+00:00",
            "nl",
            "heartbeat alertmanager silent since 20.00 uur",
        ),
        ("silent since 2026-12-03T19:00:00Z", "en", "silent since 8 p.m."),
        ("at 2026-12-02 23:10 local", "en", "at yesterday 11:10 p.m. local"),  # no offset: Amsterdam wall time
        ("at 2026-12-03T20:15:30.123+0100 it failed", "nl", "at 20.15 uur it failed"),
        ("not a date 2026-13-45T99:99", "en", "not a date 2026-13-45T99:99"),
        ("version 2026-12-03", "en", "version 2026-12-03"),  # a date alone is no instant
    ],
)
def test_speak_instants(text, lang, expected):
    assert speak_instants(text, NOW, AMS, lang) == expected


NO_ISO = re.compile(r"T\d\d:|Z\b|\d{4}-\d\d-\d\d")


@pytest.mark.parametrize(
    "lang, language, voice, intro, menu",
    [
        (
            "nl",
            "nl-NL",
            "Polly.Lotte",
            "Dit is pager D. Incident 41 voor acme, project webshop, sinds 21.15 uur. "
            "heartbeat alertmanager silent since 20.00 uur.",
            "Druk 1 om te bevestigen, 2 om op te lossen, 3 om te escaleren.",
        ),
        (
            "en",
            "en-GB",
            "Polly.Amy",
            "This is pager D. Incident 41 for acme, project webshop, since 9:15 p.m. "
            "heartbeat alertmanager silent since 8 p.m.",
            "Press 1 to acknowledge, 2 to resolve, 3 to escalate.",
        ),
    ],
)
def test_voice_script_speaks_the_persons_language_and_no_iso_timestamps(lang, language, voice, intro, menu):
    item = VoiceItem(
        "41",
        "acme/webshop",
        "heartbeat alertmanager silent since 2026-12-03T19:00:00+00:00",
        datetime(2026, 12, 3, 20, 15, tzinfo=UTC),
    )
    script = voice_script([item], lang, NOW, AMS)
    assert (script.language, script.voice, script.menu) == (language, voice, menu)
    assert script.intro == intro
    for said in (script.intro, script.menu, script.again, script.no_key):
        assert not NO_ISO.search(said), said


def test_voice_script_of_several_incidents():
    items = [VoiceItem(str(i), "acme/webshop", f"disk full on web{i}", NOW) for i in range(1, 8)]
    nl = voice_script(items, "nl", NOW, AMS, total=9)
    assert nl.intro.startswith(
        "Dit is pager D. 9 incidenten. Incident 1 voor acme, project webshop, sinds 21.30 uur: disk full on web1."
    )
    assert nl.intro.endswith("disk full on web5. En nog 4.") and "web6" not in nl.intro
    en = voice_script(items[:2], "en")
    assert en.intro == (
        "This is pager D. 2 incidents. Incident 1 for acme, project webshop: disk full on web1. "
        "Incident 2 for acme, project webshop: disk full on web2."
    )


@pytest.mark.parametrize("bad, message", [("de", "unknown language 'de'"), ("", "unknown language ''")])
def test_voice_script_refuses_an_unknown_language(bad, message):
    with pytest.raises(ValueError, match=message):
        voice_script([VoiceItem("1", "a/b", "x")], bad)  # type: ignore[arg-type]


def test_voice_answers():
    done = [("41", "ack", None), ("42", "failed", "resolved"), ("43", "refused", None)]
    assert voice_answer("nl", done) == (
        "Incident 41 is bevestigd. Incident 42: dat kon niet, het is al opgelost. "
        "Incident 43: u bent hiervoor niet opgeroepen, er is niets veranderd. Tot ziens."
    )
    assert voice_answer("en", [("41", "escalate", None)]) == "Incident 41 is escalated now. Goodbye."
    assert voice_answer("en", [("41", "not_escalated", None)]) == (
        "Incident 41 was not escalated: there is no step to page now. Goodbye."
    )


@pytest.mark.parametrize(
    "country, lang", [("NL", "nl"), ("be", "nl"), ("SR", "nl"), ("DE", "en"), ("GB", "en"), ("", "en")]
)
def test_default_language(country, lang):
    assert default_language(country) == lang


@pytest.mark.parametrize(
    "text, expected",
    [
        ("heartbeat alertmanager silent since 2026-12-03T19:00:00+00:00", "heartbeat alertmanager silent since 20:00"),
        ("since 2026-12-02T19:00:00Z", "since 2 Dec 20:00"),
        ("since 2025-12-31 13:00", "since 31 Dec 2025 13:00"),  # no offset: Amsterdam wall time
        ("build 2026-12-03 ok", "build 2026-12-03 ok"),
    ],
)
def test_sms_instants(text, expected):
    assert sms_instants(text, NOW, AMS) == expected
