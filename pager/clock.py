"""The only module that reads the real clock. Everything else takes a Clock or a `now`."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for measuring intervals."""


@runtime_checkable
class MovableClock(Clock, Protocol):
    """A clock a test can move (ManualClock): the daemon's test-only clock routes need one."""

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by `delta` (never backwards); returns the new now."""

    def set(self, when: datetime) -> datetime:
        """Step the wall clock to `when`, forward or back (as NTP steps a system clock); returns the new now."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to: for tests and scenario timelines."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        self._now += delta
        self._mono += delta.total_seconds()
        return self._now

    def set(self, when: datetime) -> datetime:
        """Step to `when`, forward or back: a wall clock stepped back (NTP) goes back in `now()`, while
        `monotonic()` never does (it stands still)."""
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        delta = when.astimezone(timezone.utc) - self._now
        if delta >= timedelta(0):
            return self.advance(delta)
        self._now += delta
        return self._now
