"""The notifier contract: MultiNotifier routing, the dry-run notifier's result and log line."""

from __future__ import annotations

import dataclasses

import pytest
from structlog.testing import capture_logs

from pager.notify.base import Message, MultiNotifier, Notifier, SendResult, retry_after_seconds, short_error
from pager.notify.dry_run import DryRunNotifier


class Recorder:
    def __init__(self, *channels: str, result: SendResult | None = None, boom: bool = False) -> None:
        self.channels = frozenset(channels)
        self.sent: list[Message] = []
        self.closed = 0
        self.result = result or SendResult(sent=True, recoverable=False, provider_id="p-1")
        self.boom = boom

    async def send(self, msg: Message) -> SendResult:
        self.sent.append(msg)
        if self.boom:
            raise RuntimeError("secret-ish internals")
        return self.result

    async def close(self) -> None:
        self.closed += 1


def msg(channel: str, id: str = "o-1") -> Message:
    return Message(
        id=id, channel=channel, to="+31612345678", body="[K7] disk full on db1", incident_id=42, short_code="K7"
    )


def test_message_and_result_are_frozen_value_objects():
    m = msg("sms")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.body = "x"  # type: ignore[misc]
    assert m.subject == "" and dict(m.links) == {}
    a, b = Message(id="a", channel="sms", to="+1", body="b"), Message(id="a", channel="sms", to="+1", body="b")
    assert a == b and a.links is not b.links  # no shared mutable default
    assert SendResult(sent=False, recoverable=True).provider_id is None


@pytest.mark.parametrize(
    "channel, expect",
    [
        ("sms", "phone"),
        ("voice", "phone"),
        ("email", "mail"),
    ],
)
async def test_multi_routes_by_channel(channel, expect):
    phone, mail = Recorder("sms", "voice"), Recorder("email")
    multi = MultiNotifier([phone, mail])
    assert multi.channels == {"sms", "voice", "email"}
    result = await multi.send(msg(channel))
    assert result.sent
    chosen, other = (phone, mail) if expect == "phone" else (mail, phone)
    assert [m.channel for m in chosen.sent] == [channel]
    assert other.sent == []


async def test_multi_unknown_channel_is_not_recoverable():
    multi = MultiNotifier([Recorder("sms")])
    result = await multi.send(msg("email"))
    assert result == SendResult(
        sent=False, recoverable=False, error="no provider for channel 'email' (configure one under notifier)"
    )


def test_multi_refuses_two_notifiers_for_one_channel():
    with pytest.raises(ValueError, match="'sms'"):
        MultiNotifier([Recorder("sms", "voice"), Recorder("sms")])


async def test_multi_passes_failures_through_unchanged():
    failing = SendResult(sent=False, recoverable=True, error="twilio http 503: busy")
    multi = MultiNotifier([Recorder("sms", result=failing)])
    assert await multi.send(msg("sms")) is failing


async def test_multi_turns_a_raising_notifier_into_a_recoverable_failure():
    multi = MultiNotifier([Recorder("sms", boom=True)])
    with capture_logs() as logs:
        result = await multi.send(msg("sms"))
    assert result == SendResult(sent=False, recoverable=True, error="unexpected RuntimeError")
    assert [e["event"] for e in logs] == ["notify_unexpected_error"]
    assert "secret-ish" not in repr(logs)


async def test_multi_close_closes_every_notifier_once():
    a, b = Recorder("sms"), Recorder("email")
    await MultiNotifier([a, b]).close()
    assert (a.closed, b.closed) == (1, 1)


async def test_dry_run_logs_and_reports_simulated():
    dry = DryRunNotifier()
    assert isinstance(dry, Notifier)
    assert dry.channels == {"sms", "voice", "email"}
    with capture_logs() as logs:
        result = await dry.send(msg("voice", id="o-99"))
    assert result == SendResult(sent=True, recoverable=False, provider_id="dry-o-99", simulated=True)
    assert logs == [
        {
            "event": "page_dry_run",
            "log_level": "info",
            "channel": "voice",
            "to": "+31612345678",
            "incident_id": 42,
            "message_id": "o-99",
            "body": "[K7] disk full on db1",
        }
    ]
    await dry.close()


async def test_dry_run_behind_multi():
    multi = MultiNotifier([DryRunNotifier(frozenset({"email"})), Recorder("sms")])
    assert (await multi.send(msg("email", id="m-1"))).provider_id == "dry-m-1"


@pytest.mark.parametrize(
    "text, secrets, expect",
    [
        ("auth failed for tok123", ["tok123"], "auth failed for [redacted]"),
        ("21617: body 'ack http://x/l/MTIuYWNr.c2ln' too long", [], "21617: body 'ack http://x/l/[redacted]' too long"),
        ("POST http://x/twilio/status?msg=17 failed", [], "POST http://x/twilio/status?[redacted] failed"),
        ("two\nlines\t here", [], "two lines here"),
        ("nothing secret", [None, ""], "nothing secret"),
        ("x" * 400, [], "x" * 299 + "…"),
    ],
)
def test_short_error(text, secrets, expect):
    assert short_error(text, secrets) == expect


@pytest.mark.parametrize(
    "value, date, seconds",
    [
        ("120", None, 120.0),
        (" 0 ", None, 0.0),
        ("Wed, 07 Jan 2026 09:02:00 GMT", "Wed, 07 Jan 2026 09:00:00 GMT", 120.0),  # relative to the answer's Date
        ("Wed, 07 Jan 2026 08:59:00 GMT", "Wed, 07 Jan 2026 09:00:00 GMT", 0.0),  # in the past: at once
        ("Wed, 07 Jan 2026 09:02:00 GMT", None, None),  # no Date to measure from
        ("soon", "Wed, 07 Jan 2026 09:00:00 GMT", None),
        ("-5", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_retry_after_seconds(value, date, seconds):
    assert retry_after_seconds(value, date) == seconds
