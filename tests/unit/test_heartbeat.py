"""The heartbeat rule (pager.domain.heartbeat): armed by its first check-in, overdue past its timeout."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pager.domain.heartbeat import HeartbeatState, heartbeat_status

T0 = datetime(2026, 1, 7, 9, 0, tzinfo=timezone.utc)
TIMEOUT = timedelta(minutes=5)


def test_a_heartbeat_that_never_checked_in_waits_however_long() -> None:
    for later in (timedelta(0), TIMEOUT, timedelta(days=30)):
        s = heartbeat_status(None, TIMEOUT, T0 + later)
        assert s.state is HeartbeatState.WAITING and not s.armed and s.deadline is None and s.last_seen is None


def test_an_armed_heartbeat_is_ok_up_to_its_deadline_and_overdue_after() -> None:
    assert heartbeat_status(T0, TIMEOUT, T0).state is HeartbeatState.OK
    s = heartbeat_status(T0, TIMEOUT, T0 + TIMEOUT)  # silent for exactly the timeout: still ok
    assert s.state is HeartbeatState.OK and s.armed and s.deadline == T0 + TIMEOUT
    s = heartbeat_status(T0, TIMEOUT, T0 + TIMEOUT + timedelta(seconds=1))
    assert s.state is HeartbeatState.OVERDUE and s.armed and s.last_seen == T0
