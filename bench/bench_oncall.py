"""Benchmark: who is on call (issue 3).

    .venv/bin/python bench/bench_oncall.py [--seed N] [--lookups N]

Prints a markdown table. Targets: on_call <= 50 us per lookup, a year of shifts for one
rotation <= 20 ms. The naive baseline walks hand-offs from the rotation's start, as a
pager without index arithmetic would; it runs in the same process on the same rotations
and instants.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from datetime import time as wall_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pager.domain.calendar import Calendar, Period
from pager.domain.rotation import Override, Rotation, Shift, ShiftUnit, on_call, shifts

UTC = timezone.utc
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2027, 1, 1, tzinfo=UTC)
ZONES = ("Europe/Amsterdam", "America/New_York")
OUTSIDE_OFFICE = frozenset({Period.WEEKEND, Period.EVENING_NIGHT, Period.HOLIDAY})


def make_rotations(rng: random.Random, n: int, restrict: bool = False) -> list[Rotation]:
    """A mix like an agency's: weekly, daily and 8/12-hour rotations started in 2025."""
    out = []
    for i in range(n):
        unit, length = rng.choice(
            [
                (ShiftUnit.WEEKS, 1),
                (ShiftUnit.WEEKS, 2),
                (ShiftUnit.DAYS, 1),
                (ShiftUnit.DAYS, 3),
                (ShiftUnit.HOURS, 12),
                (ShiftUnit.HOURS, 8),
            ]
        )
        start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 180))
        out.append(
            Rotation(
                name=f"rot{i}",
                participants=tuple(f"eng{j}" for j in range(rng.randint(2, 6))),
                start=start,
                shift_length=length,
                shift_unit=unit,
                handoff_time=wall_time(rng.choice([0, 8, 9, 17]), rng.choice([0, 30])),
                handoff_weekday=rng.randrange(7) if unit is ShiftUnit.WEEKS else None,
                tz=rng.choice(ZONES),
                restrict_to=(rng.choice([frozenset({Period.OFFICE}), OUTSIDE_OFFICE]) if restrict else None),
            )
        )
    return out


def random_instants(rng: random.Random, n: int) -> list[datetime]:
    span = int((YEAR_END - YEAR_START).total_seconds())
    return [YEAR_START + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6)) for _ in range(n)]


# ---------------------------------------------------------------------------- naive baseline


def naive_on_call(rot: Rotation, at: datetime) -> Shift | None:
    """Walk hand-offs one by one from the rotation's start (unrestricted, no overrides)."""
    plan = rot._plan  # the same hand-off resolution; only the search differs
    t = at.astimezone(UTC)
    if t < rot.start:
        return None
    k = plan.k0
    hi = plan.handoff(k + 1)
    while hi <= t:
        k += 1
        hi = plan.handoff(k + 1)
    if k == plan.k0:
        return Shift(rot.name, rot.participants[0], rot.start, hi)
    return Shift(rot.name, rot.participants[(k - plan.k0) % len(rot.participants)], plan.handoff(k), hi)


def naive_shifts(rot: Rotation, start: datetime, end: datetime) -> list[Shift]:
    """Walk from the rotation's start, keeping the shifts that overlap [start, end)."""
    plan = rot._plan
    out = []
    k, lo = plan.k0, rot.start
    while lo < end:
        hi = plan.handoff(k + 1)
        if hi > start and lo < hi:
            person = rot.participants[0] if k == plan.k0 else rot.participants[(k - plan.k0) % len(rot.participants)]
            out.append(Shift(rot.name, person, lo, hi))
        k, lo = k + 1, hi
    return out


# ---------------------------------------------------------------------------- timing


def best_of(fn, repeat: int) -> float:
    """Best wall time of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def per_lookup_us(rotations, instants, fn, repeat=3, **kw) -> float:
    def run():
        for rot in rotations:
            for t in instants:
                fn(rot, t, **kw)

    return best_of(run, repeat) / (len(rotations) * len(instants)) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--lookups", type=int, default=100, help="instants per rotation")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    rots = make_rotations(rng, 100)
    instants = random_instants(rng, args.lookups)
    naive_instants = instants[: max(1, args.lookups // 10)]

    # Same answers first: the benchmark compares two ways to the same result.
    for rot in rots:
        for t in naive_instants:
            assert on_call(rot, t) == naive_on_call(rot, t), (rot.name, t)

    rows: list[tuple[str, str, str, str]] = []
    fast = per_lookup_us(rots, instants, on_call)
    slow = per_lookup_us(rots, naive_instants, naive_on_call, repeat=1)
    rows.append(
        (
            f"`on_call`, 100 rotations x {len(instants)} random instants in 2026",
            f"{fast:.1f} µs",
            f"{slow:.1f} µs",
            f"{slow / fast:.0f}x",
        )
    )

    calendar = Calendar()
    restricted = make_rotations(random.Random(args.seed + 1), 100, restrict=True)
    cold = Calendar()
    t0 = time.perf_counter()
    for rot in restricted[:10]:
        for t in instants[:10]:
            on_call(rot, t, calendar=cold)
    cold_us = (time.perf_counter() - t0) / 100 * 1e6
    calendar.stretches(YEAR_START - timedelta(days=30), YEAR_END + timedelta(days=30))  # warm
    fast_r = per_lookup_us(restricted, instants, on_call, calendar=calendar)
    rows.append(
        (
            f"`on_call`, 100 rotations restricted to office / outside office (calendar warm; cold {cold_us:.0f} µs)",
            f"{fast_r:.1f} µs",
            "-",
            "-",
        )
    )

    overrides = [
        Override(
            id=f"o{i}",
            rotation=rots[0].name,
            start=(s := YEAR_START + timedelta(hours=rng.randrange(24 * 365))),
            end=s + timedelta(hours=rng.randrange(1, 72)),
            person=f"sub{i}",
            created_by="bench",
            created_at=YEAR_START,
        )
        for i in range(50)
    ]
    fast_o = per_lookup_us(rots[:1], instants, on_call, overrides=overrides)
    rows.append(("`on_call`, one rotation with 50 overrides", f"{fast_o:.1f} µs", "-", "-"))

    def year(rot, **kw):
        return lambda: shifts(rot, YEAR_START, YEAR_END, **kw)

    start = datetime(2025, 1, 6, 8, 30, tzinfo=UTC)
    cases = [
        ("weekly", Rotation("w", ("a", "b", "c"), start, handoff_weekday=0)),
        ("daily", Rotation("d", ("a", "b", "c"), start, shift_unit="days")),
        (
            "12-hourly",
            Rotation("h", ("a", "b", "c"), start, shift_length=12, shift_unit="hours", handoff_time=wall_time(8)),
        ),
    ]
    for label, rot in cases:
        n = len(shifts(rot, YEAR_START, YEAR_END))
        assert shifts(rot, YEAR_START, YEAR_END) == naive_shifts(rot, YEAR_START, YEAR_END)
        ms = best_of(year(rot), 5) * 1e3
        naive_ms = best_of(lambda rot=rot: naive_shifts(rot, YEAR_START, YEAR_END), 5) * 1e3
        rows.append(
            (
                f"`shifts()` for 2026, {label} ({n} shifts)",
                f"{ms:.2f} ms",
                f"{naive_ms:.2f} ms",
                f"{naive_ms / ms:.1f}x",
            )
        )

    standby = Rotation("s", ("a", "b", "c"), start, handoff_weekday=0, restrict_to=OUTSIDE_OFFICE)
    cold_ms = best_of(lambda: shifts(standby, YEAR_START, YEAR_END, calendar=Calendar()), 3) * 1e3
    warm_ms = best_of(year(standby, calendar=calendar), 5) * 1e3
    n = len(shifts(standby, YEAR_START, YEAR_END, calendar=calendar))
    rows.append(
        (
            f"`shifts()` for 2026, weekly outside office ({n} pieces; new calendar {cold_ms:.1f} ms)",
            f"{warm_ms:.2f} ms",
            "-",
            "-",
        )
    )
    ov_ms = best_of(year(rots[0], overrides=overrides), 5) * 1e3
    rows.append(
        (
            f"`shifts()` for 2026, {rots[0].shift_length}-{rots[0].shift_unit} shifts + 50 overrides",
            f"{ov_ms:.2f} ms",
            "-",
            "-",
        )
    )

    print(
        f"Python {platform.python_version()} on {platform.machine()} ({platform.platform(terse=True)}), seed {args.seed}; best of several runs"
    )
    print()
    print("| case | pagerd | naive walk from start | speed-up |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print("Targets: `on_call` <= 50 µs per lookup; a year of `shifts()` for one rotation <= 20 ms.")


if __name__ == "__main__":
    main()
