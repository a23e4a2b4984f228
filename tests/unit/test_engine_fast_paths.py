"""The paging engine's fast paths give what the plain path gives.

- OnCallAt (one "who is on call" per rotation per tick, shared by the tick's steps) answers what
  Schedule.on_call answers for every rotation, instant and set of overrides, and step_people with one
  shared OnCallAt equals step_people with a fresh one per step.
- PolicySnapshots.policy_of(d) is Policy.from_json(d) (or its ValueError) for the config's own snapshots,
  for random and near-miss ones, and for malformed ones; Plan.snapshot(p) is p.to_json().
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.config import load
from pager.domain import paging as dp
from pager.domain.rotation import Override
from pager.service.paging import DEFAULT_POLICY, OnCallAt, PolicySnapshots, plan_of, step_people
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


def test_snapshot_is_to_json_and_stays_one_object(cfg):
    plan = plan_of(cfg)
    for p in plan.policies.values():
        assert plan.snapshot(p) == p.to_json()
        assert plan.snapshot(p) is plan.snapshot(p)
    other = dp.Policy.from_json({**DEFAULT_POLICY, "name": "elsewhere"})
    assert plan.snapshot(other) == other.to_json()


def _same(snapshots: PolicySnapshots, d) -> None:
    try:
        expected = dp.Policy.from_json(d)
    except ValueError as exc:
        with pytest.raises(ValueError) as got:
            snapshots.policy_of(d)
        assert str(got.value) == str(exc)
        return
    assert snapshots.policy_of(d) == expected


def test_policy_of_the_configs_own_snapshots_and_near_misses(cfg):
    plan = plan_of(cfg)
    snaps = plan.snapshots
    for p in plan.policies.values():
        d = p.to_json()
        assert snaps.policy_of(d) is snaps.policy_of(p.to_json())  # parsed once
        _same(snaps, d)
        # the near misses: each must give what from_json gives, not the cached policy
        _same(snaps, {**d, "repeat": True} if d["repeat"] == 1 else {**d, "repeat": d["repeat"] + 1})
        _same(snaps, {**d, "repeat": float(d["repeat"])})
        _same(snaps, {k: v for k, v in d.items() if k != "repeat"})
        _same(snaps, {**d, "steps": d["steps"][:-1]})
        _same(snaps, {**d, "steps": [{**s, "wait_seconds": s["wait_seconds"] + 1} for s in d["steps"]]})
        _same(snaps, {**d, "steps": [{**s, "wait_seconds": float(s["wait_seconds"])} for s in d["steps"]]})
        _same(snaps, {**d, "steps": [{"targets": [{"kind": "person", "name": "x"}], "wait_seconds": 60}]})
        _same(snaps, {**d, "name": "other"})
        _same(snaps, {**d, "extra": 1})
        _same(snaps, {**d, "steps": "nope"})
        _same(snaps, {"name": d["name"]})


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(0, 5000), st.text(max_size=8))
target = st.fixed_dictionaries(
    {"kind": st.sampled_from(["oncall", "rotation", "person", "desk", "bogus", 1])},
    optional={"name": st.sampled_from(["", "office", "standby", "anna"])},
)
step = st.fixed_dictionaries(
    {"targets": st.lists(target, max_size=3), "wait_seconds": st.one_of(st.integers(0, 3600), json_leaf)}
)
snapshot = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["default", "standard", "x"]), json_leaf)},
    optional={"repeat": st.one_of(st.integers(-1, 3), json_leaf), "steps": st.lists(step, max_size=3)},
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=st.one_of(snapshot, json_leaf, st.lists(json_leaf, max_size=2)))
def test_policy_of_is_from_json_on_random_snapshots(cfg, d):
    _same(plan_of(cfg).snapshots, d)
