"""Rotations: who is on call when (issue 3).

A rotation hands off at a local wall time (and weekday, for weekly shifts) in its own time
zone, so a weekly shift across a DST change lasts 167 or 169 hours and the hand-off stays at,
say, Monday 08:30. Hour-based shifts hand off on the wall clock too (08:00/20:00 stay put
across DST; the 12-hour night shift then lasts 11 or 13 hours). A hand-off time that does not
exist (spring gap) happens when the clock jumps past it; one that occurs twice (autumn fold)
happens at its first occurrence (see calendar.first_instant_at). If DST swallows a whole
shift (a 1-hour shift at 02:00 on the spring-change day) that shift is empty and skipped.

The rotation starts at `start`: participant 0 is on call from `start` until the first
hand-off at or after it (a partial first shift when `start` is not itself a hand-off), then
participants take turns, one shift each. Before `start` nobody is on call.

A rotation restricted to periods (e.g. the office rotation to ``office``, the standby rotation
to everything else) is on call only inside maximal runs of those periods; each shift is cut
to those runs. Overrides substitute a person inside existing coverage: they never add or
remove on-call time, so they cannot leave a gap. They apply in order of creation (created_at,
then id), each to the result of the earlier ones, so the latest word wins.

A Layered rotation stacks rotations: where a later layer has someone on call, it wins
(e.g. a weekly base layer and a weekend layer on top, restricted to ``weekend``).

`on_call` does arithmetic on the shift index (O(1) in the age of the rotation and in the
number of shifts); `shifts` returns every shift overlapping a range with its true bounds
(the first may start before the range, the last end after it). Both build a shift through
the same steps, so on_call(at) is exactly the shift of shifts() that contains `at`.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from functools import cached_property

from .calendar import (
    Calendar,
    Period,
    first_instant_at,
    local_wall,
    parse_weekday,
    to_utc,
    zone_of,
)


class ShiftUnit(StrEnum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"


_UNIT_DELTA = {
    ShiftUnit.HOURS: timedelta(hours=1),
    ShiftUnit.DAYS: timedelta(days=1),
    ShiftUnit.WEEKS: timedelta(weeks=1),
}


@dataclass(frozen=True)
class Shift:
    """One person on call for [start, end), aware UTC. `override_id` names the override that
    put them there, if any; `layer` the layer of a Layered rotation it comes from."""

    rotation: str
    person: str
    start: datetime
    end: datetime
    override_id: str | None = None
    layer: str | None = None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def covers(self, instant: datetime) -> bool:
        return self.start <= to_utc(instant) < self.end


@dataclass(frozen=True)
class Override:
    """`person` takes over `rotation` for [start, end): the whole rotation's time, or only
    the time of `replaces` when given. Made at runtime; kept with who made it and when."""

    id: str
    rotation: str
    start: datetime
    end: datetime
    person: str
    created_by: str
    created_at: datetime
    replaces: str | None = None

    def __post_init__(self) -> None:
        if not self.id or not self.rotation:
            raise ValueError("an override needs an id and a rotation")
        object.__setattr__(self, "start", to_utc(self.start, "override start"))
        object.__setattr__(self, "end", to_utc(self.end, "override end"))
        object.__setattr__(self, "created_at", to_utc(self.created_at, "override created_at"))
        if not self.end > self.start:
            raise ValueError(f"override {self.id}: end must be after start")
        if not self.person:
            raise ValueError(f"override {self.id}: a person must take over")
        if self.replaces is not None and not self.replaces:
            raise ValueError(f"override {self.id}: replaces must be a person or None")

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.created_at, self.id)


@dataclass(frozen=True)
class Rotation:
    """A rotation: participants take turns of `shift_length` `shift_unit`s, handing off at
    the local `handoff_time` (and `handoff_weekday`, 0 = Monday or a name, for weekly shifts;
    default: the weekday of `start`) in time zone `tz`, from `start` on. `restrict_to`: the periods in
    which the rotation is on call (None: always)."""

    name: str
    participants: tuple[str, ...]
    start: datetime
    shift_length: int = 1
    shift_unit: ShiftUnit = ShiftUnit.WEEKS
    handoff_time: time = time(8, 30)
    handoff_weekday: int | None = None
    tz: str = "Europe/Amsterdam"
    restrict_to: frozenset[Period] | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a rotation needs a name")
        people = (self.participants,) if isinstance(self.participants, str) else self.participants
        people = tuple(people)
        if not people or not all(isinstance(p, str) and p for p in people):
            raise ValueError(f"rotation {self.name}: participants must be non-empty names")
        object.__setattr__(self, "participants", people)
        object.__setattr__(self, "start", to_utc(self.start, f"rotation {self.name} start"))
        if isinstance(self.shift_length, bool) or not isinstance(self.shift_length, int):
            raise ValueError(f"rotation {self.name}: shift_length must be an integer")
        if self.shift_length < 1:
            raise ValueError(f"rotation {self.name}: shift_length must be at least 1")
        try:
            unit = ShiftUnit(self.shift_unit)
        except ValueError as exc:
            raise ValueError(f"rotation {self.name}: shift_unit must be hours, days or weeks") from exc
        object.__setattr__(self, "shift_unit", unit)
        handoff = self.handoff_time
        if isinstance(handoff, str):
            handoff = time.fromisoformat(handoff)
        if not isinstance(handoff, time) or handoff.tzinfo is not None:
            raise ValueError(f"rotation {self.name}: handoff_time must be a local wall time")
        object.__setattr__(self, "handoff_time", handoff)
        if self.handoff_weekday is not None:
            if unit is not ShiftUnit.WEEKS:
                raise ValueError(f"rotation {self.name}: handoff_weekday only applies to weekly shifts")
            try:
                weekday = parse_weekday(self.handoff_weekday)
            except ValueError as exc:
                raise ValueError(f"rotation {self.name}: handoff_weekday: {exc}") from exc
            object.__setattr__(self, "handoff_weekday", weekday)
        zone_of(self.tz)
        if self.restrict_to is not None:
            given = (self.restrict_to,) if isinstance(self.restrict_to, str) else self.restrict_to
            periods = frozenset(Period(p) for p in given)
            if not periods:
                raise ValueError(f"rotation {self.name}: restrict_to must name a period")
            object.__setattr__(self, "restrict_to", None if periods == frozenset(Period) else periods)

    @cached_property
    def _plan(self) -> _Plan:
        return _Plan(self)


class _Plan:
    """The arithmetic of a rotation's hand-offs.

    Hand-off k (any integer) is at wall time w_k = first + k·step, resolved to the instant
    b_k = first_instant_at(w_k); b is non-decreasing in k. The shift of instant t is found
    from k = max{k : b_k <= t}, estimated from t's wall time and corrected upwards in a fold.
    `k0` is the hand-off index of the rotation's own start: the shift containing `start`
    belongs to participant 0 and runs from `start` (not from b_k0).
    """

    __slots__ = ("zone", "step", "first", "start", "k0", "people")

    def __init__(self, rot: Rotation) -> None:
        self.zone = zone_of(rot.tz)
        self.step = rot.shift_length * _UNIT_DELTA[rot.shift_unit]
        self.start = rot.start
        self.people = rot.participants
        wall = local_wall(rot.start, self.zone)
        base = datetime.combine(wall.date(), rot.handoff_time)
        if rot.shift_unit is ShiftUnit.HOURS:
            grid = self.step
        elif rot.shift_unit is ShiftUnit.DAYS:
            grid = timedelta(days=1)
        else:
            grid = timedelta(weeks=1)
            weekday = wall.weekday() if rot.handoff_weekday is None else rot.handoff_weekday
            base -= timedelta(days=(base.weekday() - weekday) % 7)
        # The first hand-off wall time at or after the start's wall time.
        self.first = base + -((base - wall) // grid) * grid
        self.k0 = self.locate(rot.start)[0]

    def handoff(self, k: int) -> datetime:
        return first_instant_at(self.first + k * self.step, self.zone)

    def locate(self, t: datetime) -> tuple[int, datetime, datetime]:
        """k = max{k : b_k <= t}, with b_k and b_k+1.

        The estimate from t's wall time never overshoots (w_k <= wall(t) implies
        b_k <= t); it falls short by one while the clock repeats an hour (autumn fold)."""
        k = (local_wall(t, self.zone) - self.first) // self.step
        lo, hi = self.handoff(k), self.handoff(k + 1)
        while lo > t:  # never taken; kept as a guard
            k, hi, lo = k - 1, lo, self.handoff(k - 1)
        while hi <= t:
            k, lo, hi = k + 1, hi, self.handoff(k + 2)
        return k, lo, hi

    def shift_at(self, t: datetime) -> tuple[datetime, datetime, str]:
        """The base shift holding t (t >= start): bounds and person."""
        k, lo, hi = self.locate(t)
        if k <= self.k0:
            return self.start, (hi if k == self.k0 else self.handoff(self.k0 + 1)), self.people[0]
        return lo, hi, self.people[(k - self.k0) % len(self.people)]


# ---------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class Layered:
    """A rotation made of layers (as in PagerDuty schedules): where a later layer has
    someone on call, it wins over the earlier ones. E.g. a weekly base layer with a weekend
    layer on top (restricted to ``weekend``). Overrides name the layered rotation."""

    name: str
    layers: tuple[Rotation, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a rotation needs a name")
        layers = tuple(self.layers)
        if not layers or not all(isinstance(r, Rotation) for r in layers):
            raise ValueError(f"rotation {self.name}: layers must be one or more Rotations")
        object.__setattr__(self, "layers", layers)

    @property
    def restricted(self) -> bool:
        return any(r.restrict_to is not None for r in self.layers)


AnyRotation = Rotation | Layered


# ---------------------------------------------------------------------------- pieces

# A piece of coverage: start, end, person, override id, layer name.
_Piece = tuple[datetime, datetime, str, str | None, str | None]


def _rotation_piece_at(rot: Rotation, t: datetime, cal: Calendar | None, layer: str | None) -> _Piece | None:
    """The base shift holding t, cut to the run of allowed periods holding t."""
    plan = rot._plan
    if t < plan.start:
        return None
    a, b, person = plan.shift_at(t)
    if rot.restrict_to is not None:
        assert cal is not None
        if cal.period_at(t) not in rot.restrict_to:
            return None
        window = cal.window_at(t, rot.restrict_to, a, b)
        if window is None:
            return None  # unreachable: t's period is allowed
        return (window[0], window[1], person, None, layer)
    return (a, b, person, None, layer)


def _rotation_pieces(rot: Rotation, s: datetime, e: datetime, cal: Calendar | None, layer: str | None) -> list[_Piece]:
    """The base shifts overlapping [s, e) (unclipped), cut to the allowed runs."""
    plan = rot._plan
    s = max(s, plan.start)
    if s >= e:
        return []
    pieces: list[_Piece] = []
    k, lo, hi = plan.locate(s)
    n = len(plan.people)
    while lo < e:
        if k == plan.k0:
            pieces.append((plan.start, hi, plan.people[0], None, layer))
        elif lo < hi:  # a shift swallowed by a DST jump is empty: skipped
            pieces.append((lo, hi, plan.people[(k - plan.k0) % n], None, layer))
        k, lo, hi = k + 1, hi, plan.handoff(k + 2)
    if rot.restrict_to is not None and pieces:
        assert cal is not None
        windows = cal.windows(pieces[0][0], pieces[-1][1], rot.restrict_to)
        pieces = _restrict(pieces, windows)
    return pieces


def _restrict(pieces: list[_Piece], windows: Sequence[tuple[datetime, datetime]]) -> list[_Piece]:
    """Cut pieces to the allowed windows (both sorted, non-overlapping)."""
    out: list[_Piece] = []
    j = 0
    for a, b, person, oid, layer in pieces:
        while j < len(windows) and windows[j][1] <= a:
            j += 1
        i = j
        while i < len(windows) and windows[i][0] < b:
            lo, hi = max(a, windows[i][0]), min(b, windows[i][1])
            if lo < hi:
                out.append((lo, hi, person, oid, layer))
            i += 1
    return out


def _layered_piece_at(lay: Layered, t: datetime, cal: Calendar | None) -> _Piece | None:
    """The top layer's piece holding t, cut where a higher layer takes over."""
    for i in range(len(lay.layers) - 1, -1, -1):
        layer = lay.layers[i]
        piece = _rotation_piece_at(layer, t, cal, layer.name)
        if piece is None:
            continue
        a, b, person, _, label = piece
        lo, hi = a, b
        for higher in lay.layers[i + 1 :]:
            for c0, c1, *_ in _rotation_pieces(higher, a, b, cal, None):
                if c1 <= t:  # higher layers are off at t, so their pieces lie to one side
                    lo = max(lo, c1)
                elif c0 > t:
                    hi = min(hi, c0)
        return (lo, hi, person, None, label)
    return None


def _layered_pieces(lay: Layered, s: datetime, e: datetime, cal: Calendar | None) -> list[_Piece]:
    """Paint the layers bottom-up over the span their pieces touch, so that each piece
    overlapping [s, e) gets its true bounds."""
    per_layer = [_rotation_pieces(r, s, e, cal, r.name) for r in lay.layers]
    starts = [p[0][0] for p in per_layer if p]
    if not starts:
        return []
    hull = (min(starts), max(p[-1][1] for p in per_layer if p))
    per_layer = [_rotation_pieces(r, hull[0], hull[1], cal, r.name) for r in lay.layers]
    out: list[_Piece] = []
    covered: list[tuple[datetime, datetime]] = []  # union of the layers above, sorted
    for pieces in reversed(per_layer):
        for a, b, person, oid, label in pieces:
            for lo, hi in _subtract((a, b), covered):
                out.append((lo, hi, person, oid, label))
        covered = _union(covered + [(p[0], p[1]) for p in pieces])
    out.sort(key=lambda p: p[0])
    return out


def _union(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(
    span: tuple[datetime, datetime], covered: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    a, b = span
    out = []
    for c0, c1 in covered:
        if c1 <= a or c0 >= b:
            continue
        if c0 > a:
            out.append((a, c0))
        a = max(a, c1)
        if a >= b:
            break
    if a < b:
        out.append((a, b))
    return out


# ---------------------------------------------------------------------------- overrides


def _relevant(name: str, overrides: Iterable[Override], start: datetime, end: datetime) -> list[Override]:
    found = [o for o in overrides if o.rotation == name and o.start < end and o.end > start]
    found.sort(key=lambda o: o.order)
    return found


def _apply_overrides(pieces: list[_Piece], overrides: Sequence[Override]) -> list[_Piece]:
    for o in overrides:
        out: list[_Piece] = []
        for piece in pieces:
            a, b, person, oid, layer = piece
            if o.end <= a or o.start >= b or (o.replaces is not None and o.replaces != person):
                out.append(piece)
                continue
            lo, hi = max(a, o.start), min(b, o.end)
            if a < lo:
                out.append((a, lo, person, oid, layer))
            out.append((lo, hi, o.person, o.id, layer))
            if hi < b:
                out.append((hi, b, person, oid, layer))
        pieces = out
    return pieces


# ---------------------------------------------------------------------------- queries


def _need_calendar(rotation: AnyRotation, calendar: Calendar | None) -> Calendar | None:
    if isinstance(rotation, Layered):
        restricted = rotation.restricted
    elif isinstance(rotation, Rotation):
        restricted = rotation.restrict_to is not None
    else:
        raise TypeError(f"expected a Rotation or Layered, not {type(rotation).__name__}")
    if restricted and calendar is None:
        raise ValueError(f"rotation {rotation.name} is restricted to periods: pass a calendar")
    return calendar if restricted else None


def on_call(
    rotation: AnyRotation,
    at: datetime,
    overrides: Iterable[Override] = (),
    calendar: Calendar | None = None,
) -> Shift | None:
    """The shift of `rotation` that covers instant `at` (with overrides applied), or None
    when nobody is on call then (before the start, or outside the rotation's periods)."""
    t = to_utc(at, "at")
    cal = _need_calendar(rotation, calendar)
    if isinstance(rotation, Layered):
        piece = _layered_piece_at(rotation, t, cal)
    else:
        piece = _rotation_piece_at(rotation, t, cal, None)
    if piece is None:
        return None
    pieces = _apply_overrides([piece], _relevant(rotation.name, overrides, piece[0], piece[1]))
    for lo, hi, who, oid, layer in pieces:
        if lo <= t < hi:
            return Shift(rotation.name, who, lo, hi, oid, layer)
    return None  # unreachable: the pieces cover t


def shifts(
    rotation: AnyRotation,
    start: datetime,
    end: datetime,
    overrides: Iterable[Override] = (),
    calendar: Calendar | None = None,
) -> list[Shift]:
    """Every shift of `rotation` overlapping [start, end), in order, with its true bounds.
    Unrestricted, they tile [max(start, rotation start), end) with no gap and no overlap."""
    s, e = to_utc(start, "start"), to_utc(end, "end")
    if e < s:
        raise ValueError(f"end {e.isoformat()} is before start {s.isoformat()}")
    cal = _need_calendar(rotation, calendar)
    if s == e:
        return []
    if isinstance(rotation, Layered):
        pieces = _layered_pieces(rotation, s, e, cal)
    else:
        pieces = _rotation_pieces(rotation, s, e, cal, None)
    if pieces:
        pieces = _apply_overrides(pieces, _relevant(rotation.name, overrides, pieces[0][0], pieces[-1][1]))
    return [Shift(rotation.name, who, lo, hi, oid, layer) for lo, hi, who, oid, layer in pieces if hi > s and lo < e]


# How far next_shift looks ahead: growing spans (a day first, so a daily or weekly rotation costs a few
# shifts), at most a bit over a year.
_NEXT_SPANS = (timedelta(days=1), timedelta(days=8), timedelta(days=36), timedelta(days=400))


def next_shift(
    rotation: AnyRotation,
    at: datetime,
    overrides: Iterable[Override] = (),
    calendar: Calendar | None = None,
) -> Shift | None:
    """The shift that comes after the one covering `at` (after `at` when nobody is on call then):
    the first shift of ``shifts`` starting at or after the end of ``on_call(at)``, e.g. tonight's
    standby engineer while the standby rotation is off for office hours. None when there is none
    within about a year."""
    current = on_call(rotation, at, overrides, calendar)
    after = current.end if current is not None else to_utc(at, "at")
    overrides = tuple(overrides)
    for span in _NEXT_SPANS:
        for s in shifts(rotation, after, after + span, overrides, calendar):
            if s.start >= after:
                return s
    return None


__all__ = [
    "AnyRotation",
    "Layered",
    "Override",
    "Rotation",
    "Shift",
    "ShiftUnit",
    "next_shift",
    "on_call",
    "shifts",
]
