"""The TwiML of the standby number (README: The standby number): what the caller hears and which numbers
are rung. Every <Say> in the caller's language with its Amazon Polly voice (pager.domain.messages.VOICES);
the texts are pager.domain.hotline's."""

from __future__ import annotations

from collections.abc import Sequence

from twilio.twiml.voice_response import VoiceResponse

from pager.domain import hotline as dh
from pager.domain.messages import VOICES


def _say(r: VoiceResponse, language: str, text: str) -> None:
    lang, voice = VOICES["en" if language == "en" else "nl"]
    r.say(text, language=lang, voice=voice)


def forward(language: str, desk_phone: str) -> str:
    """Office hours: greet, then ring the desk's phone (the caller's number is shown to the desk)."""
    r = VoiceResponse()
    _say(r, language, f"{dh.prompt(language, 'greeting')} {dh.prompt(language, 'forward')}")
    r.dial(desk_phone, timeout=30)
    return r.to_xml()


def dial(
    language: str, intro: str, numbers: Sequence[tuple[str, str]], action: str, *, timeout: int = dh.DIAL_TIMEOUT
) -> str:
    """Say `intro` (may be empty), then ring `numbers` ((phone, url run when that phone answers)) at once;
    how the <Dial> ended is posted to `action`."""
    r = VoiceResponse()
    if intro:
        _say(r, language, intro)
    d = r.dial(action=action, method="POST", timeout=timeout)
    for phone, url in numbers:
        d.number(phone, url=url, method="POST")
    return r.to_xml()


def voicemail(language: str, intro: str, action: str) -> str:
    """Say `intro` and the voicemail prompt, then record (at most dh.VOICEMAIL_MAX_SECONDS, # ends it);
    the recording is posted to `action`."""
    r = VoiceResponse()
    _say(r, language, f"{intro} {dh.prompt(language, 'voicemail')}".strip())
    r.record(
        action=action,
        method="POST",
        max_length=dh.VOICEMAIL_MAX_SECONDS,
        finish_on_key="#",
        play_beep=True,
    )
    return r.to_xml()


def say_and_hang_up(language: str, text: str) -> str:
    r = VoiceResponse()
    if text:
        _say(r, language, text)
    r.hangup()
    return r.to_xml()


def whisper(language: str, text: str) -> str:
    """What the engineer who picks up hears before the caller is put through."""
    r = VoiceResponse()
    _say(r, language, text)
    return r.to_xml()
