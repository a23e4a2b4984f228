"""A layered rotation from config: a weekend layer on top of a weekly standby layer."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pager.config import load
from pager.service.schedule import Schedule

AMS = ZoneInfo("Europe/Amsterdam")
CFG = Path(__file__).resolve().parents[1] / "testdata" / "configs" / "good" / "layers.yaml"


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return Schedule(load(CFG, env={}))


@pytest.mark.parametrize(
    "local,person",
    [
        ("2026-01-07 20:00", "anna"),  # Wednesday night, week 1 of the base layer
        ("2026-01-10 10:00", "chris"),  # Saturday day: the weekend layer wins
        ("2026-01-10 20:00", "anna"),  # Saturday night: the weekend layer is off, the base layer on
        ("2026-01-11 12:00", "chris"),  # Sunday day
        ("2026-01-14 20:00", "bram"),  # the base layer handed off on Monday 12 January
        ("2026-01-14 10:00", None),  # office hours: nobody on standby
    ],
)
def test_layers(schedule: Schedule, local: str, person: str | None) -> None:
    at = datetime.fromisoformat(local).replace(tzinfo=AMS)
    [row] = schedule.on_call(at, [], "standby")
    assert row["person"] == person


def test_shifts_of_a_layered_rotation_tile_its_hours(schedule: Schedule) -> None:
    start = datetime(2026, 1, 5, 8, 30, tzinfo=AMS)
    rows = schedule.shifts("standby", start, start + timedelta(days=14), [])
    assert rows and all(a["end"] <= b["start"] for a, b in pairwise(rows))
    assert {r["person"] for r in rows} == {"anna", "bram", "chris"}
    assert schedule.participants("standby") == ["anna", "bram", "chris"]
