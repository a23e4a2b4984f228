"""Heartbeats (DESIGN.md §2, "Heartbeats"): is a source that must check in overdue?

One answer for the engine (which opens the "heartbeat silent" incident), `/readyz` (which lists
every heartbeat's state) and `/metrics` (`pagerd_heartbeat_armed`).

The rule, as a dead-man's switch service has it (a new check waits for its first ping): a heartbeat
is *armed* by its first check-in and watched from then on, for good (the last check-in is stored, so a
restart resumes the watch on time). A configured heartbeat that never checked in is *waiting*: it
opens no incident, because pagerd cannot tell "this source is silent" from "this source was never set
up" (a fresh install, `make run` on the example config, a heartbeat added before its sender). So a
waiting heartbeat is not watched, and says so: `/readyz` lists it as `waiting`, the gauge
`pagerd_heartbeat_armed{name}` is 0, and the shipped rule `PagerdHeartbeatNeverCheckedIn` warns while
it stays so.

States:

- ``waiting``  configured, never checked in: not watched.
- ``ok``       armed, checked in within its timeout (silent for exactly the timeout is still ok).
- ``overdue``  armed, silent for longer than its timeout.

Pure: instants and a duration in, a state out, ``now`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class HeartbeatState(StrEnum):
    WAITING = "waiting"
    OK = "ok"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class HeartbeatStatus:
    state: HeartbeatState
    last_seen: datetime | None  # the last check-in, None while waiting
    deadline: datetime | None  # overdue after this instant, None while waiting

    @property
    def armed(self) -> bool:
        return self.state is not HeartbeatState.WAITING


def heartbeat_status(last_seen: datetime | None, timeout: timedelta, now: datetime) -> HeartbeatStatus:
    """The state of one heartbeat at `now`, from its last check-in (None: never) and its timeout."""
    if last_seen is None:
        return HeartbeatStatus(HeartbeatState.WAITING, None, None)
    deadline = last_seen + timeout
    state = HeartbeatState.OVERDUE if now > deadline else HeartbeatState.OK
    return HeartbeatStatus(state, last_seen, deadline)
