"""Request targets in office time (pager.domain.request_targets): literal cases first (one per row,
local Amsterdam times with their offset), then properties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.domain.calendar import Calendar, CalendarRules, local_text, zone_of
from pager.domain.request_targets import (
    MAX_TARGET,
    AtRisk,
    EventKind,
    Outcome,
    Pause,
    Priority,
    Reached,
    RequestTargets,
    TargetKind,
    TicketEvent,
    clocks_of,
    deadline,
    elapsed,
    instant_at,
    judge,
    judge_ticket,
    parse_at_risk,
)

AMS = zone_of("Europe/Amsterdam")
# As the example config: office Mon-Fri 08:30-18:00, NL holidays without Good Friday, 31 December a
# company day off.
NL = Calendar(CalendarRules(exclude=("Good Friday",), extra=(("2026-12-31", "Oudejaarsdag (kantoor dicht)"),)))
H = timedelta(hours=1)
M = timedelta(minutes=1)
FR, RES = TargetKind.FIRST_RESPONSE, TargetKind.RESOLUTION


def L(text: str) -> datetime:
    """A local Amsterdam wall time; an ambiguous one reads its first occurrence."""
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def shown(instant: datetime | None) -> str | None:
    return None if instant is None else local_text(instant, AMS)


def pauses(*spans: tuple[str, str | None]) -> tuple[Pause, ...]:
    return tuple(Pause(L(a), None if b is None else L(b)) for a, b in spans)


# ---------------------------------------------------------------------------- deadline


@pytest.mark.parametrize(
    "start, target, paused, due",
    [
        # in office hours, the same day; a target that ends at closing time ends there, not at the next opening
        ("2026-12-07 09:00", 1 * H, (), "2026-12-07 10:00 +01:00"),
        ("2026-12-07 16:00", 2 * H, (), "2026-12-07 18:00 +01:00"),
        ("2026-12-07 08:30", 1 * H, (), "2026-12-07 09:30 +01:00"),
        # across the evening and the night
        ("2026-12-08 17:00", 2 * H, (), "2026-12-09 09:30 +01:00"),
        # across a weekend
        ("2026-12-04 17:00", 2 * H, (), "2026-12-07 09:30 +01:00"),
        # a start outside office hours: the clock starts at the next opening
        ("2026-12-05 10:00", 1 * H, (), "2026-12-07 09:30 +01:00"),  # Saturday
        ("2026-12-08 03:00", 1 * H, (), "2026-12-08 09:30 +01:00"),  # night
        ("2026-12-08 18:00", 1 * H, (), "2026-12-09 09:30 +01:00"),  # at closing: closed
        ("2026-12-08 08:29", 1 * H, (), "2026-12-08 09:30 +01:00"),  # a minute before opening
        # midnight, and the end of a month
        ("2026-12-08 00:00", 1 * H, (), "2026-12-08 09:30 +01:00"),
        ("2026-11-30 17:30", 1 * H, (), "2026-12-01 09:00 +01:00"),  # Monday 30 November
        ("2026-12-07 23:59", 30 * M, (), "2026-12-08 09:00 +01:00"),
        # Christmas (Friday) and Boxing Day (Saturday): Thursday 17:00 + 4 h is Monday
        ("2026-12-24 17:00", 4 * H, (), "2026-12-28 11:30 +01:00"),
        # the company day off (31 Dec) from holidays_extra, New Year's Day, the weekend: Monday
        ("2026-12-30 17:00", 2 * H, (), "2027-01-04 09:30 +01:00"),
        # King's Day 2027 (Tuesday 27 April)
        ("2027-04-26 17:00", 4 * H, (), "2027-04-28 11:30 +02:00"),
        # Good Friday is left out of the holidays (holidays_exclude): an office day; Easter Monday is not
        ("2026-04-02 17:00", 2 * H, (), "2026-04-03 09:30 +02:00"),
        ("2026-04-03 17:00", 2 * H, (), "2026-04-07 09:30 +02:00"),
        # the DST changes: an office hour is an hour either side of them
        ("2026-03-27 17:00", 2 * H, (), "2026-03-30 09:30 +02:00"),  # spring: Sunday 29 March
        ("2026-10-23 17:00", 2 * H, (), "2026-10-26 09:30 +01:00"),  # autumn: Sunday 25 October
        ("2026-03-28 02:30", 1 * H, (), "2026-03-30 09:30 +02:00"),
        # several office days: 4 x 9.5 h by Thursday 18:00, then 2 h on Friday
        ("2026-12-07 08:30", 40 * H, (), "2026-12-11 10:30 +01:00"),
        # waiting on the customer from Friday noon to Monday 10:00 (a night and a weekend): 2 h used,
        # 2 h left from Monday 10:00
        ("2026-12-04 10:00", 4 * H, (("2026-12-04 12:00", "2026-12-07 10:00"),), "2026-12-07 12:00 +01:00"),
        # the same across the spring DST night
        ("2026-03-27 16:00", 4 * H, (("2026-03-27 17:00", "2026-03-30 09:00"),), "2026-03-30 12:00 +02:00"),
        # a pause outside office hours moves nothing
        ("2026-12-08 17:00", 2 * H, (("2026-12-08 19:00", "2026-12-09 07:00"),), "2026-12-09 09:30 +01:00"),
        # two pauses, overlapping, given out of order: merged
        (
            "2026-12-07 09:00",
            2 * H,
            (("2026-12-07 10:30", "2026-12-07 11:30"), ("2026-12-07 10:00", "2026-12-07 11:00")),
            "2026-12-07 12:30 +01:00",
        ),
        # a pause before the start does nothing
        ("2026-12-07 09:00", 1 * H, (("2026-12-04 09:00", "2026-12-07 08:00"),), "2026-12-07 10:00 +01:00"),
        # still waiting on the customer: the clock stands still, no deadline
        ("2026-12-07 09:00", 2 * H, (("2026-12-07 10:00", None),), None),
        # ... unless the target ran out before the pause began
        ("2026-12-07 09:00", 1 * H, (("2026-12-07 12:00", None),), "2026-12-07 10:00 +01:00"),
    ],
)
def test_deadline(start: str, target: timedelta, paused: tuple[tuple[str, str | None], ...], due: str | None) -> None:
    got = deadline(NL, L(start), target, pauses(*paused))
    assert shown(got) == due
    if got is not None:  # the office time used at the deadline is the target, exactly
        assert elapsed(NL, L(start), got, pauses(*paused)) == target


# ---------------------------------------------------------------------------- elapsed


@pytest.mark.parametrize(
    "start, now, paused, used",
    [
        ("2026-12-07 09:00", "2026-12-07 09:00", (), 0 * H),
        ("2026-12-07 09:00", "2026-12-07 08:00", (), 0 * H),  # before the start
        ("2026-12-07 09:00", "2026-12-07 12:15", (), 3 * H + 15 * M),
        ("2026-12-04 17:00", "2026-12-06 23:59", (), 1 * H),  # Friday's last hour, the weekend counts nothing
        ("2026-12-04 17:00", "2026-12-07 09:00", (), 1 * H + 30 * M),
        ("2026-12-24 08:30", "2026-12-28 08:30", (), 9 * H + 30 * M),  # Christmas and Boxing Day: nothing
        ("2026-12-30 08:30", "2027-01-04 08:30", (), 9 * H + 30 * M),  # 31 Dec (company day off), 1 Jan
        ("2027-04-26 08:30", "2027-04-28 08:30", (), 9 * H + 30 * M),  # King's Day
        ("2026-03-27 08:30", "2026-03-30 18:00", (), 19 * H),  # the spring DST weekend
        ("2026-10-23 08:30", "2026-10-26 18:00", (), 19 * H),  # the autumn DST weekend
        ("2026-11-30 08:30", "2026-12-01 18:00", (), 19 * H),  # month end
        ("2026-12-04 10:00", "2026-12-07 11:00", (("2026-12-04 12:00", "2026-12-07 10:00"),), 3 * H),
        ("2026-12-07 09:00", "2026-12-07 17:00", (("2026-12-07 10:00", None),), 1 * H),  # still paused
    ],
)
def test_elapsed(start: str, now: str, paused: tuple[tuple[str, str | None], ...], used: timedelta) -> None:
    assert elapsed(NL, L(start), L(now), pauses(*paused)) == used


# ---------------------------------------------------------------------------- judge

START = "2026-12-04 17:00"  # Friday; a 1 h target
PCT80, BEFORE30M, BEFORE2H = AtRisk(percent=80), AtRisk(percent=None, before=30 * M), AtRisk(percent=None, before=2 * H)


@pytest.mark.parametrize(
    "now, answered, paused, rule, outcome, at_risk_at, due, reached",
    [
        # 1 h from Friday 17:00: one office hour that day, so the deadline is Friday 18:00; 80 %: 17:48
        ("2026-12-04 17:10", None, (), PCT80, "running", "2026-12-04 17:48 +01:00", "2026-12-04 18:00 +01:00", ()),
        (
            "2026-12-04 17:48",
            None,
            (),
            PCT80,
            "at_risk",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk",),
        ),
        # at the deadline itself still at risk; a moment after it breached
        (
            "2026-12-04 18:00",
            None,
            (),
            PCT80,
            "at_risk",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk",),
        ),
        (
            "2026-12-04 18:01",
            None,
            (),
            PCT80,
            "breached",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk", "breached"),
        ),
        (
            "2026-12-07 10:00",
            None,
            (),
            PCT80,
            "breached",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk", "breached"),
        ),
        # answered before the at-risk instant, at risk, at the deadline, after it
        (
            "2026-12-07 10:00",
            "2026-12-04 17:30",
            (),
            PCT80,
            "met",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            (),
        ),
        (
            "2026-12-07 10:00",
            "2026-12-04 17:50",
            (),
            PCT80,
            "met",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk",),
        ),
        (
            "2026-12-07 10:00",
            "2026-12-04 18:00",
            (),
            PCT80,
            "met",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk",),
        ),
        (
            "2026-12-07 10:00",
            "2026-12-05 11:00",
            (),
            PCT80,
            "breached",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk", "breached"),
        ),
        # an answer after `now` is not known yet
        (
            "2026-12-04 17:10",
            "2026-12-04 17:30",
            (),
            PCT80,
            "running",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            (),
        ),
        # the margin as office time before the deadline
        (
            "2026-12-04 17:40",
            None,
            (),
            BEFORE30M,
            "at_risk",
            "2026-12-04 17:30 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk",),
        ),
        (
            "2026-12-04 17:10",
            None,
            (),
            BEFORE2H,
            "at_risk",
            "2026-12-04 17:00 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk",),
        ),
        # waiting on the customer from 17:30: stopped before the at-risk instant, nothing is due
        ("2026-12-07 10:00", None, (("2026-12-04 17:30", None),), PCT80, "running", None, None, ()),
        # ... and once the customer answers (Monday 10:00) the last 30 minutes run on
        (
            "2026-12-07 10:20",
            None,
            (("2026-12-04 17:30", "2026-12-07 10:00"),),
            PCT80,
            "at_risk",
            "2026-12-07 10:18 +01:00",
            "2026-12-07 10:30 +01:00",
            ("at_risk",),
        ),
        # a pause that begins after `now` is not known yet
        (
            "2026-12-04 17:50",
            None,
            (("2026-12-04 17:55", None),),
            PCT80,
            "at_risk",
            "2026-12-04 17:48 +01:00",
            "2026-12-04 18:00 +01:00",
            ("at_risk",),
        ),
        # answered while the clock stood still: met
        ("2026-12-07 10:00", "2026-12-07 09:00", (("2026-12-04 17:30", None),), PCT80, "met", None, None, ()),
    ],
)
def test_judge(
    now: str,
    answered: str | None,
    paused: tuple[tuple[str, str | None], ...],
    rule: AtRisk,
    outcome: str,
    at_risk_at: str | None,
    due: str | None,
    reached: tuple[str, ...],
) -> None:
    got = judge(
        NL,
        FR,
        1 * H,
        L(START),
        L(now),
        pauses=pauses(*paused),
        answered_at=None if answered is None else L(answered),
        at_risk=rule,
    )
    assert (got.outcome, shown(got.at_risk_at), shown(got.deadline), got.reached) == (
        Outcome(outcome),
        at_risk_at,
        due,
        tuple(Reached(r) for r in reached),
    )
    assert got.remaining == got.target - got.elapsed


def test_judge_says_when_the_clock_stands_still() -> None:
    got = judge(NL, RES, 4 * H, L("2026-12-07 09:00"), L("2026-12-07 12:00"), pauses=pauses(("2026-12-07 10:00", None)))
    assert got.paused and got.elapsed == 1 * H and got.remaining == 3 * H and got.deadline is None


# ---------------------------------------------------------------------------- a ticket's history

CREATED = "2026-12-04 10:00"  # Friday


def ev(at: str, kind: str, status: str | None = None) -> TicketEvent:
    return TicketEvent(L(at), EventKind(kind), status)


@pytest.mark.parametrize(
    "events, now, first_response, resolution",
    [
        # nothing yet
        ((), "2026-12-04 11:00", (None, ()), (None, ())),
        # the first public reply by staff answers the first response; a note and a customer reply do not
        (
            (
                ev("2026-12-04 10:10", "note"),
                ev("2026-12-04 10:20", "customer_reply"),
                ev("2026-12-04 10:30", "staff_reply"),
                ev("2026-12-04 10:40", "staff_reply"),
            ),
            "2026-12-04 11:00",
            ("2026-12-04 10:30 +01:00", ()),
            (None, ()),
        ),
        # waiting on the customer over the weekend: a pause of both clocks
        (
            (ev("2026-12-04 12:00", "status", "waiting_on_customer"), ev("2026-12-07 10:00", "status", "open")),
            "2026-12-07 11:00",
            (None, (("2026-12-04 12:00 +01:00", "2026-12-07 10:00 +01:00"),)),
            (None, (("2026-12-04 12:00 +01:00", "2026-12-07 10:00 +01:00"),)),
        ),
        # still waiting
        (
            (ev("2026-12-04 12:00", "status", "waiting_on_customer"),),
            "2026-12-07 11:00",
            (None, (("2026-12-04 12:00 +01:00", None),)),
            (None, (("2026-12-04 12:00 +01:00", None),)),
        ),
        # resolved before any public reply: that answers the first response too
        (
            (ev("2026-12-04 11:00", "status", "resolved"),),
            "2026-12-04 12:00",
            ("2026-12-04 11:00 +01:00", ()),
            ("2026-12-04 11:00 +01:00", (("2026-12-04 11:00 +01:00", None),)),
        ),
        # waiting, then resolved, then closed: one stop of the resolution clock; answered at the resolve
        (
            (
                ev("2026-12-04 10:30", "staff_reply"),
                ev("2026-12-04 10:30", "status", "waiting_on_customer"),
                ev("2026-12-04 11:00", "status", "resolved"),
                ev("2026-12-11 11:00", "status", "closed"),
            ),
            "2026-12-14 09:00",
            ("2026-12-04 10:30 +01:00", (("2026-12-04 10:30 +01:00", "2026-12-04 11:00 +01:00"),)),
            ("2026-12-04 11:00 +01:00", (("2026-12-04 10:30 +01:00", None),)),
        ),
        # resolved, then reopened by the customer's reply: the resolution clock continues, unanswered;
        # the time while resolved is a pause
        (
            (
                ev("2026-12-04 10:30", "staff_reply"),
                ev("2026-12-04 11:00", "status", "resolved"),
                ev("2026-12-07 09:00", "customer_reply"),
                ev("2026-12-07 09:00", "status", "open"),
            ),
            "2026-12-07 10:00",
            ("2026-12-04 10:30 +01:00", ()),
            (None, (("2026-12-04 11:00 +01:00", "2026-12-07 09:00 +01:00"),)),
        ),
        # events after `now` are not known yet
        ((ev("2026-12-04 12:00", "staff_reply"),), "2026-12-04 11:00", (None, ()), (None, ())),
    ],
)
def test_clocks_of(
    events: tuple[TicketEvent, ...],
    now: str,
    first_response: tuple[str | None, tuple[tuple[str, str | None], ...]],
    resolution: tuple[str | None, tuple[tuple[str, str | None], ...]],
) -> None:
    clocks = clocks_of(L(CREATED), events, L(now))
    for kind, (answered, spans) in ((FR, first_response), (RES, resolution)):
        clock = clocks[kind]
        assert shown(clock.answered_at) == answered, kind
        assert tuple((shown(p.start), shown(p.end)) for p in clock.pauses) == spans, kind


TARGETS = RequestTargets(
    first_response={Priority.URGENT: 1 * H, Priority.HIGH: 2 * H, Priority.NORMAL: 4 * H, Priority.LOW: 8 * H},
    resolution={Priority.URGENT: 4 * H, Priority.HIGH: 8 * H, Priority.NORMAL: 16 * H, Priority.LOW: 40 * H},
)


@pytest.mark.parametrize(
    "events, now, first_response, resolution",
    [
        # high: 2 h first response, 8 h resolution, from Friday 10:00; replied 10:30, waiting from 11:00
        # to Monday 10:00 (the weekend), resolved Monday 14:00: 1 h + 4 h = 5 h of 8 used
        (
            (
                ev("2026-12-04 10:30", "staff_reply"),
                ev("2026-12-04 11:00", "status", "waiting_on_customer"),
                ev("2026-12-07 10:00", "status", "open"),
                ev("2026-12-07 14:00", "status", "resolved"),
            ),
            "2026-12-07 15:00",
            ("met", "2026-12-04 12:00 +01:00"),
            ("met", "2026-12-07 17:00 +01:00"),
        ),
        # the same, but reopened Tuesday 09:00: the 3 h left run from there, due Tuesday 12:00
        (
            (
                ev("2026-12-04 10:30", "staff_reply"),
                ev("2026-12-04 11:00", "status", "waiting_on_customer"),
                ev("2026-12-07 10:00", "status", "open"),
                ev("2026-12-07 14:00", "status", "resolved"),
                ev("2026-12-08 09:00", "status", "open"),
            ),
            "2026-12-08 11:00",
            ("met", "2026-12-04 12:00 +01:00"),
            ("at_risk", "2026-12-08 12:00 +01:00"),
        ),
        # nobody answered by Friday 12:00: the first response breached; the 8 h of resolution run to 18:00
        ((), "2026-12-04 12:01", ("breached", "2026-12-04 12:00 +01:00"), ("running", "2026-12-04 18:00 +01:00")),
    ],
)
def test_judge_ticket(
    events: tuple[TicketEvent, ...],
    now: str,
    first_response: tuple[str, str | None],
    resolution: tuple[str, str | None],
) -> None:
    got = judge_ticket(NL, TARGETS, "high", L(CREATED), events, L(now))
    assert (got[FR].outcome.value, shown(got[FR].deadline)) == first_response
    assert (got[RES].outcome.value, shown(got[RES].deadline)) == resolution


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, says",
    [
        (lambda: deadline(NL, L("2026-12-07 09:00"), timedelta(0)), "longer than 0s"),
        (lambda: deadline(NL, L("2026-12-07 09:00"), -H), "longer than 0s"),
        (lambda: deadline(NL, L("2026-12-07 09:00"), MAX_TARGET + M), "at most 2000h"),
        (lambda: deadline(NL, datetime(2026, 12, 7, 9), H), "timezone-aware"),
        (lambda: Pause(L("2026-12-07 09:00"), L("2026-12-07 08:00")), "before it starts"),
        (lambda: parse_at_risk("eighty"), "expected a percentage"),
        (lambda: parse_at_risk("0%"), "from 1% to 100%"),
        (lambda: parse_at_risk("101%"), "from 1% to 100%"),
        (lambda: parse_at_risk(-M), "from 0s"),
        (lambda: parse_at_risk(3), "expected a percentage"),
        (lambda: AtRisk(percent=80, before=M), "give a percentage"),
        (lambda: RequestTargets(first_response={Priority.URGENT: H}), "missing"),
        (lambda: RequestTargets(first_response={**TARGETS.first_response, "asap": H}), "unknown"),
        (lambda: TicketEvent(L("2026-12-07 09:00"), EventKind.STATUS), "names its status"),
        (lambda: TicketEvent(L("2026-12-07 09:00"), EventKind.STATUS, "pending"), "unknown ticket status 'pending'"),
        (lambda: TicketEvent(L("2026-12-07 09:00"), EventKind.NOTE, "open"), "names its status"),
        (lambda: TicketEvent(L("2026-12-07 09:00"), "shout"), "not a valid EventKind"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_refused_clearly(call, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        call()


def test_a_calendar_without_office_days_never_reaches_a_deadline() -> None:
    closed = Calendar(CalendarRules(office_days=frozenset()))
    assert deadline(closed, L("2026-12-07 09:00"), H) is None
    assert elapsed(closed, L("2026-12-07 09:00"), L("2027-12-07 09:00")) == timedelta(0)


def test_the_defaults() -> None:
    t = RequestTargets()
    assert [t.target(FR, p) for p in ("urgent", "high", "normal", "low")] == [1 * H, 2 * H, 4 * H, 8 * H]
    assert t.at_risk == AtRisk(percent=80) and str(t.at_risk) == "80%"
    assert str(AtRisk(percent=None, before=30 * M)) == "30m before"


# ---------------------------------------------------------------------------- properties

UTC = timezone.utc
_BASE = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.integers(0, 2 * 365 * 24 * 4).map(lambda q: _BASE + q * timedelta(minutes=15) + timedelta(seconds=q % 7))
targets = st.integers(1, 60 * 60).map(lambda m: m * timedelta(minutes=1))


@st.composite
def pause_lists(draw: st.DrawFn, start: datetime) -> tuple[Pause, ...]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        a = start + draw(st.integers(-2 * 24 * 60, 30 * 24 * 60)) * timedelta(minutes=1)
        length = draw(st.one_of(st.none(), st.integers(0, 5 * 24 * 60)))
        out.append(Pause(a, None if length is None else a + length * timedelta(minutes=1)))
    return tuple(out)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data(), instants, targets)
def test_elapsed_is_monotonic_and_equals_the_target_at_the_deadline(
    data: st.DataObject, start: datetime, target: timedelta
) -> None:
    paused = data.draw(pause_lists(start))
    a, b = sorted(data.draw(st.lists(st.integers(0, 40 * 24 * 60), min_size=2, max_size=2)))
    early, late = start + a * timedelta(minutes=1), start + b * timedelta(minutes=1)
    assert elapsed(NL, start, early, paused) <= elapsed(NL, start, late, paused)
    due = deadline(NL, start, target, paused)
    if due is not None:
        assert elapsed(NL, start, due, paused) == target
        assert elapsed(NL, start, due - timedelta(microseconds=1), paused) < target


@FAST
@given(st.data(), instants, targets)
def test_pauses_never_shorten_the_deadline(data: st.DataObject, start: datetime, target: timedelta) -> None:
    paused = data.draw(pause_lists(start))
    more = paused + data.draw(pause_lists(start))
    plain = deadline(NL, start, target)
    with_pauses = deadline(NL, start, target, paused)
    with_more = deadline(NL, start, target, more)
    assert plain is not None
    for shorter, longer in ((plain, with_pauses), (with_pauses, with_more)):
        assert longer is None or (shorter is not None and shorter <= longer)


@FAST
@given(instants, targets, st.integers(1, 100))
def test_at_risk_comes_no_later_than_the_deadline(start: datetime, target: timedelta, percent: int) -> None:
    risk = instant_at(NL, start, AtRisk(percent=percent).budget(target))
    due = deadline(NL, start, target)
    assert risk is not None and due is not None and start <= risk <= due


STATUSES = ("open", "waiting_on_customer", "resolved", "closed")


@st.composite
def histories(draw: st.DrawFn, created: datetime) -> tuple[TicketEvent, ...]:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        at = created + draw(st.integers(0, 20 * 24 * 60)) * timedelta(minutes=1)
        kind = draw(st.sampled_from(list(EventKind)))
        out.append(TicketEvent(at, kind, draw(st.sampled_from(STATUSES)) if kind is EventKind.STATUS else None))
    return tuple(out)


@FAST
@given(st.data(), instants, st.sampled_from(list(Priority)))
def test_what_was_reached_stays_reached(data: st.DataObject, created: datetime, priority: Priority) -> None:
    events = data.draw(histories(created))
    a, b = sorted(data.draw(st.lists(st.integers(0, 25 * 24 * 60), min_size=2, max_size=2)))
    early = judge_ticket(NL, TARGETS, priority, created, events, created + a * timedelta(minutes=1))
    late = judge_ticket(NL, TARGETS, priority, created, events, created + b * timedelta(minutes=1))
    for kind in TargetKind:
        assert set(early[kind].reached) <= set(late[kind].reached), kind
        if early[kind].outcome is Outcome.BREACHED:
            assert late[kind].outcome is Outcome.BREACHED, kind
