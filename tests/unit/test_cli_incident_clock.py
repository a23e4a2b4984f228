"""The response clock and next step of `pagerd incidents show`, from the rounds the store answers, judged at a
fixed now: one row per case, the lines literal (Europe/Amsterdam; the daemon-backed run is
tests/integration/test_incident_clock_cli.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pager.cli import _response_lines
from pager.domain import response
from pager.storage.port import RoundRow

UTC = timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")
P0 = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)  # 02:45 +02:00, the first of the two on the DST night
M = timedelta(minutes=1)
POLICY = {
    "name": "default",
    "repeat": 0,
    "steps": [
        {"targets": [{"kind": "oncall", "name": ""}], "wait_seconds": 900},
        {"targets": [{"kind": "person", "name": "bram"}], "wait_seconds": 600},
    ],
}
PAGED = "response  round 1: {}"
CLOCK = "          paged 2026-10-25 02:45 +02:00, target 30 min, deadline 2026-10-25 02:15 +01:00"


def row(
    *,
    status: str = "active",
    step: int = 0,
    next_at: datetime | None = P0 + 15 * M,
    first: datetime | None = P0,
    answer: response.Answer | None = None,
    generation: int = 0,
    reason: str = "evening_night, project agency/infra has coverage always: paging the standby rotation",
) -> RoundRow:
    return RoundRow(
        round=response.Round(
            incident_id=1,
            generation=generation,
            target=30 * M,
            first_page_at=first,
            at_risk_at=None if first is None else first + 15 * M,
            answer=answer,
        ),
        project="agency/infra",
        rotation="standby",
        reason=reason,
        escalation=status,
        step=step,
        breached_at=None,
        next_at=next_at,
        policy=POLICY,
    )


def ack(at: datetime, kind: str = "acknowledged") -> response.Answer:
    return response.Answer(at=at, by="chris", via="sms", kind=kind)


CASES = [
    (
        "not routed yet",
        "triggered",
        0,
        [],
        P0,
        ["response  not routed yet", "next      routing (coverage, policy) on the paging engine's next tick"],
    ),
    (
        "resolved before routing",
        "resolved",
        0,
        [],
        P0,
        ["response  none: resolved before it was routed", "next      nothing: resolved"],
    ),
    (
        "about to page",
        "triggered",
        0,
        [row(step=-1, first=None, next_at=P0)],
        P0,
        [
            "response  round 1: not paged (evening_night, project agency/infra has coverage always: paging the standby rotation)",
            "next      first page: step 1 of 2 (oncall) at 2026-10-25 02:45 +02:00 unless acknowledged (oncall: the standby rotation)",
        ],
    ),
    (
        "running across the DST change",
        "triggered",
        0,
        [row()],
        P0 + 5 * M,
        [
            PAGED.format("running: 25 min left, at risk from 2026-10-25 02:00 +01:00"),
            CLOCK,
            "next      step 2 of 2 (person:bram) at 2026-10-25 02:00 +01:00 unless acknowledged",
        ],
    ),
    (
        "step overdue: the engine is not running",
        "triggered",
        0,
        [row()],
        P0 + 20 * M,
        [
            PAGED.format("at risk: 10 min left"),
            CLOCK,
            "next      step 2 of 2 (person:bram) at 2026-10-25 02:00 +01:00 unless acknowledged"
            "  (overdue: is the daemon's paging engine running?)",
        ],
    ),
    (
        "last step fired: the escalation ends",
        "triggered",
        0,
        [row(step=1, next_at=P0 + 25 * M)],
        P0 + 20 * M,
        [
            PAGED.format("at risk: 10 min left"),
            CLOCK,
            "next      the escalation ends at 2026-10-25 02:10 +01:00: no further step",
        ],
    ),
    (
        "met",
        "acknowledged",
        0,
        [row(status="stopped", answer=ack(P0 + 4 * M + 10 * timedelta(seconds=1)))],
        P0 + 20 * M,
        [
            PAGED.format("met: acknowledged by chris via sms 4 min after the page"),
            CLOCK,
            "next      nothing: acknowledged",
        ],
    ),
    (
        "breached, answered late by a resolve",
        "resolved",
        0,
        [row(status="stopped", answer=ack(P0 + 95 * M, "resolved"))],
        P0 + 2 * 60 * M,
        [PAGED.format("breached: resolved by chris via sms 1 h 05 min late"), CLOCK, "next      nothing: resolved"],
    ),
    (
        "breached, unanswered, policy done",
        "triggered",
        0,
        [row(status="done", step=1, next_at=None)],
        P0 + 3 * 24 * 60 * M,
        [
            PAGED.format("breached: not acknowledged, 2 d 23 h past the deadline"),
            CLOCK,
            "next      nothing: every step of the policy has fired",
        ],
    ),
    (
        "reopened: the current round is the latest",
        "triggered",
        1,
        [row(status="stopped", answer=ack(P0 + M)), row(generation=1, step=-1, first=None, next_at=P0 + 60 * M)],
        P0 + 60 * M,
        [
            "response  round 2: not paged (evening_night, project agency/infra has coverage always: paging the standby rotation)",
            "next      first page: step 1 of 2 (oncall) at 2026-10-25 02:45 +01:00 unless acknowledged (oncall: the standby rotation)",
        ],
    ),
    (
        "paged nobody: the desk at the opening",
        "triggered",
        0,
        [
            row(
                status="waiting",
                step=-1,
                first=None,
                next_at=datetime(2026, 10, 26, 7, 30, tzinfo=UTC),
                reason="evening_night, project acme/intranet has coverage office_hours: nobody paged",
            )
        ],
        P0,
        [
            "response  round 1: not paged (evening_night, project acme/intranet has coverage office_hours: nobody paged)",
            "next      the support desk is told at 2026-10-26 08:30 +01:00",
        ],
    ),
]


@pytest.mark.parametrize(
    "state, reopen_count, rounds, now, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_response_clock_and_next_step(state, reopen_count, rounds, now, expected):
    assert _response_lines(state, reopen_count, rounds, now, AMS) == expected
