"""The dry-run notifier: logs every page instead of sending it (notifier.kind: dry_run, as `make run` sets it,
or a channel listed in notifier.simulate). Its messages are recorded and counted as `simulated`."""

from __future__ import annotations

import structlog

from .base import CHANNELS, Message, SendResult

log = structlog.get_logger("pagerd.notify")


class DryRunNotifier:
    def __init__(self, channels: frozenset[str] = CHANNELS) -> None:
        self.channels: frozenset[str] = frozenset(channels)

    async def send(self, msg: Message) -> SendResult:
        log.info(
            "page_dry_run",
            channel=msg.channel,
            to=msg.to,
            incident_id=msg.incident_id,
            message_id=msg.id,
            body=msg.body,
        )
        return SendResult(sent=True, recoverable=False, provider_id=f"dry-{msg.id}", simulated=True)

    async def close(self) -> None:
        return None
