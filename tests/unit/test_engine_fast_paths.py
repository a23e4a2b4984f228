"""The paging engine's fast paths give what the plain path gives.

- OnCallAt (one "who is on call" per rotation per tick, shared by the tick's steps) answers what
  Schedule.on_call answers for every rotation, instant and set of overrides, and step_people with one
  shared OnCallAt equals step_people with a fresh one per step.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.config import load
from pager.domain.rotation import Override
from pager.service.paging import OnCallAt, plan_of, step_people
from pager.service.schedule import Schedule
from tests.harness.pagerd import EXAMPLE_ENV

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc
T0 = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def cfg():
    return load(ROOT / "config" / "pagerd.example.yaml", env=EXAMPLE_ENV)


@pytest.fixture(scope="module")
def schedule(cfg) -> Schedule:
    return Schedule(cfg)


instants = st.integers(min_value=-7 * 24 * 60, max_value=400 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))


def _overrides(schedule: Schedule, draw) -> list[Override]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(instants)
        out.append(
            Override(
                id=str(i + 1),
                rotation=draw(st.sampled_from(sorted(schedule.rotations))),
                start=start,
                end=start + timedelta(hours=draw(st.integers(1, 200))),
                person=draw(st.sampled_from(sorted(schedule.config.people))),
                created_by="test",
                created_at=T0,
            )
        )
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), now=instants)
def test_on_call_at_answers_what_schedule_on_call_answers(schedule, data, now):
    overrides = _overrides(schedule, data.draw)
    who = OnCallAt(schedule, overrides, now)
    for _ in range(2):  # the second ask comes from the memo
        for name in [*sorted(schedule.rotations), "no-such-rotation", "", None]:
            expected = (
                schedule.on_call(now, overrides, name)[0]["person"] if name and name in schedule.rotations else None
            )
            assert who(name) == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), now=instants)
def test_step_people_with_a_shared_on_call_equals_a_fresh_one(cfg, schedule, data, now):
    overrides = _overrides(schedule, data.draw)
    plan = plan_of(cfg)
    shared = OnCallAt(schedule, overrides, now)
    rotations = [None, cfg.paging.office_rotation, cfg.paging.standby_rotation, "gone"]
    for policy in plan.policies.values():
        for step in policy.steps:
            for rotation in rotations:
                fresh = step_people(cfg, schedule, overrides, step, rotation, now)
                assert step_people(cfg, schedule, overrides, step, rotation, now, shared) == fresh
