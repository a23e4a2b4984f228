"""The response record (pager.domain.response): each round of an incident judged on its own data.
One literal case per row: the round's first page, its at-risk point, its first answer, the target,
`now`, and the outcome and seconds expected."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pager.domain import response
from pager.domain.response import (
    Answer,
    AnswerKind,
    Outcome,
    ResponseTarget,
    Round,
    answers_page,
    current,
    deadline,
    judge,
)

AMS = ZoneInfo("Europe/Amsterdam")
M = timedelta(minutes=1)
S = timedelta(seconds=1)
ACK, RES = AnswerKind.ACKNOWLEDGED, AnswerKind.RESOLVED


def L(text: str) -> datetime:
    """A local wall time in Europe/Amsterdam ("2026-12-09 20:00"); for the DST hour, "...+01:00"."""
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=AMS)


def rnd(
    first: str | None, at_risk: str | None = None, answer: tuple | None = None, target: int = 30, generation: int = 0
) -> Round:
    """A round of incident 7: first page, at-risk point, answer (local time, by, via, kind), target (min)."""
    ans = Answer(L(answer[0]), answer[1], answer[2], answer[3]) if answer else None
    return Round(
        incident_id=7,
        generation=generation,
        target=timedelta(minutes=target),
        first_page_at=L(first) if first else None,
        at_risk_at=L(at_risk) if at_risk else None,
        answer=ans,
    )


DAY = "2026-12-09"  # a Wednesday night, CET
CASES = [
    # (id, round, now, outcome, seconds)
    ("not paged", rnd(None), f"{DAY} 20:10", Outcome.PENDING, None),
    (
        "not paged, acknowledged before any page",
        rnd(None, answer=(f"{DAY} 20:01", "anna", "api", ACK)),
        f"{DAY} 21:00",
        Outcome.PENDING,
        None,
    ),
    ("running at the first page", rnd(f"{DAY} 20:00", f"{DAY} 20:15"), f"{DAY} 20:00", Outcome.RUNNING, None),
    (
        "running a second before the at-risk point",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15"),
        f"{DAY} 20:14:59",
        Outcome.RUNNING,
        None,
    ),
    ("at risk from the escalation point", rnd(f"{DAY} 20:00", f"{DAY} 20:15"), f"{DAY} 20:15", Outcome.AT_RISK, None),
    ("at risk at the deadline itself", rnd(f"{DAY} 20:00", f"{DAY} 20:15"), f"{DAY} 20:30", Outcome.AT_RISK, None),
    (
        "breached a second after the deadline",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15"),
        f"{DAY} 20:30:01",
        Outcome.BREACHED,
        None,
    ),
    ("breached hours later", rnd(f"{DAY} 20:00", f"{DAY} 20:15"), f"{DAY} 23:00", Outcome.BREACHED, None),
    ("at-risk point from the round's data", rnd(f"{DAY} 20:00", f"{DAY} 20:10"), f"{DAY} 20:12", Outcome.AT_RISK, None),
    ("no escalation point: running to the deadline", rnd(f"{DAY} 20:00"), f"{DAY} 20:29", Outcome.RUNNING, None),
    ("no escalation point: then breached", rnd(f"{DAY} 20:00"), f"{DAY} 20:31", Outcome.BREACHED, None),
    (
        "one-hour target, at 40 min",
        rnd(f"{DAY} 20:00", f"{DAY} 20:45", target=60),
        f"{DAY} 20:40",
        Outcome.RUNNING,
        None,
    ),
    (
        "one-hour target, at 50 min",
        rnd(f"{DAY} 20:00", f"{DAY} 20:45", target=60),
        f"{DAY} 20:50",
        Outcome.AT_RISK,
        None,
    ),
    (
        "met by an acknowledgement",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:05", "dewi", "sms", ACK)),
        f"{DAY} 21:00",
        Outcome.MET,
        300.0,
    ),
    (
        "met by an acknowledgement at the deadline",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:30", "dewi", "voice", ACK)),
        f"{DAY} 21:00",
        Outcome.MET,
        1800.0,
    ),
    (
        "met, judged before the deadline",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:03", "dewi", "link", ACK)),
        f"{DAY} 20:04",
        Outcome.MET,
        180.0,
    ),
    (
        "met by a resolve (RESOLVE_ANSWERS_PAGE)",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:10", "dewi", "sms", RES)),
        f"{DAY} 21:00",
        Outcome.MET,
        600.0,
    ),
    (
        "met by the source resolving it",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:04", "alertmanager", "alertmanager", RES)),
        f"{DAY} 21:00",
        Outcome.MET,
        240.0,
    ),
    (
        "acknowledged a second after the deadline",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:30:01", "dewi", "sms", ACK)),
        f"{DAY} 21:00",
        Outcome.BREACHED,
        1801.0,
    ),
    (
        "acknowledged after the deadline",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:40", "dewi", "sms", ACK)),
        f"{DAY} 21:00",
        Outcome.BREACHED,
        2400.0,
    ),
    (
        "resolved after the deadline",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 21:10", "dewi", "api", RES)),
        f"{DAY} 22:00",
        Outcome.BREACHED,
        4200.0,
    ),
    (
        "answer crossed the first page",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 19:59:59", "anna", "api", ACK)),
        f"{DAY} 20:01",
        Outcome.MET,
        0.0,
    ),
    # the reopen story: paged 20:00, acknowledged 20:05, resolved; fires again 20:45, acknowledged 21:40
    (
        "reopen: round 1 met",
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:05", "dewi", "sms", ACK)),
        f"{DAY} 22:00",
        Outcome.MET,
        300.0,
    ),
    (
        "reopen: round 2 breached (paged 20:45)",
        rnd(f"{DAY} 20:45", f"{DAY} 21:00", (f"{DAY} 21:40", "dewi", "sms", ACK), generation=1),
        f"{DAY} 22:00",
        Outcome.BREACHED,
        3300.0,
    ),
    (
        "reopen: round 2 met (paged 21:15)",
        rnd(f"{DAY} 21:15", f"{DAY} 21:30", (f"{DAY} 21:40", "dewi", "sms", ACK), generation=1),
        f"{DAY} 22:00",
        Outcome.MET,
        1500.0,
    ),
    # the last Sunday of October 2026: 03:00 CEST becomes 02:00 CET; the target is real minutes
    (
        "DST autumn: 25 real minutes across the change",
        rnd("2026-10-25 02:45+02:00", "2026-10-25 02:00+01:00", ("2026-10-25 02:10+01:00", "dewi", "sms", ACK)),
        "2026-10-25 04:00",
        Outcome.MET,
        1500.0,
    ),
    (
        "DST autumn: 35 real minutes, though the wall clock went back",
        rnd("2026-10-25 02:45+02:00", "2026-10-25 02:00+01:00", ("2026-10-25 02:20+01:00", "dewi", "sms", ACK)),
        "2026-10-25 04:00",
        Outcome.BREACHED,
        2100.0,
    ),
    (
        "DST autumn: unanswered, at risk at 02:00 CET",
        rnd("2026-10-25 02:45+02:00", "2026-10-25 02:00+01:00"),
        "2026-10-25 02:05+01:00",
        Outcome.AT_RISK,
        None,
    ),
    (
        "DST autumn: unanswered, breached after 02:15 CET",
        rnd("2026-10-25 02:45+02:00", "2026-10-25 02:00+01:00"),
        "2026-10-25 02:15:01+01:00",
        Outcome.BREACHED,
        None,
    ),
    # the last Sunday of March 2026: 02:00 CET becomes 03:00 CEST
    (
        "DST spring: 25 real minutes, 85 on the wall clock",
        rnd("2026-03-29 01:50", "2026-03-29 03:05", ("2026-03-29 03:15", "dewi", "sms", ACK)),
        "2026-03-29 04:00",
        Outcome.MET,
        1500.0,
    ),
]


@pytest.mark.parametrize("rnd_, now, outcome, seconds", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_round_cases(rnd_, now, outcome, seconds):
    record = judge(rnd_, L(now))
    assert (record.outcome, record.seconds) == (outcome, seconds)
    if rnd_.first_page_at is None:
        assert record.deadline is None and record.answer is None
    else:
        assert record.deadline == rnd_.first_page_at + rnd_.target
        assert record.answer == (rnd_.answer if seconds is not None else None)


def test_the_reopened_incident_is_two_rounds_and_the_first_answer_stays_with_the_first():
    # paged 20:00, acknowledged 20:05, resolved 20:10; fires again 20:45, acknowledged 21:40
    rounds = [
        rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:05", "dewi", "sms", ACK)),
        rnd(f"{DAY} 20:45", f"{DAY} 21:00", (f"{DAY} 21:40", "dewi", "sms", ACK), generation=1),
    ]
    records = [judge(r, L(f"{DAY} 22:00")) for r in rounds]
    assert [(r.round.number, r.outcome, r.seconds) for r in records] == [
        (1, Outcome.MET, 300.0),
        (2, Outcome.BREACHED, 3300.0),
    ]
    assert current(rounds, 1) is rounds[1]
    assert current(rounds, 0) is rounds[0]
    assert current(rounds, 2) is None  # reopened again, not routed yet


def test_resolve_answers_the_page_is_one_named_choice(monkeypatch):
    acked = Answer(L(f"{DAY} 20:10"), "dewi", "sms", ACK)
    resolved = Answer(L(f"{DAY} 20:10"), "dewi", "sms", RES)
    assert response.RESOLVE_ANSWERS_PAGE is True
    assert answers_page(acked) and answers_page(resolved)
    round_ = rnd(f"{DAY} 20:00", f"{DAY} 20:15", (f"{DAY} 20:10", "dewi", "sms", RES))
    monkeypatch.setattr(response, "RESOLVE_ANSWERS_PAGE", False)
    assert answers_page(acked) and not answers_page(resolved)
    # a resolve that does not answer: the round runs on and breaches at its deadline
    assert judge(round_, L(f"{DAY} 20:20")).outcome is Outcome.AT_RISK
    assert (judge(round_, L(f"{DAY} 20:31")).outcome, judge(round_, L(f"{DAY} 20:31")).seconds) == (
        Outcome.BREACHED,
        None,
    )


def test_deadline_is_real_elapsed_time():
    assert deadline(L("2026-10-25 02:45+02:00"), timedelta(minutes=30)) == L("2026-10-25 02:15+01:00")
    assert deadline(L(f"{DAY} 20:00"), timedelta(hours=2)) == L(f"{DAY} 22:00")


def test_instants_are_normalised_to_utc():
    r = rnd("2026-12-09 20:00", "2026-12-09 20:15", ("2026-12-09 20:05", "dewi", "sms", "acknowledged"))
    assert r.first_page_at.utcoffset() == timedelta(0) and r.first_page_at.hour == 19
    assert r.answer.kind is AnswerKind.ACKNOWLEDGED  # a plain string is taken too
    assert r.number == 1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Round(1, 0, timedelta(0)), "target must be a positive"),
        (lambda: Round(1, -1, timedelta(minutes=30)), "generation must be an integer >= 0"),
        (lambda: Round(1, True, timedelta(minutes=30)), "generation must be an integer >= 0"),
        (lambda: Round(1, 0, timedelta(minutes=30), first_page_at=datetime(2026, 12, 9, 20)), "must be timezone-aware"),
        (lambda: Answer(datetime(2026, 12, 9, 20), "dewi", "sms", ACK), "must be timezone-aware"),
        (lambda: Answer(L(f"{DAY} 20:00"), "dewi", "sms", "escalated"), "unknown kind 'escalated'"),
        (lambda: judge(rnd(f"{DAY} 20:00"), datetime(2026, 12, 9, 20)), "now must be timezone-aware"),
        (lambda: ResponseTarget(timedelta(0), None), "must be positive"),
        (lambda: ResponseTarget(timedelta(minutes=30), timedelta(minutes=31)), "must lie within the target"),
        (lambda: ResponseTarget(timedelta(minutes=30), timedelta(minutes=-1)), "must lie within the target"),
    ],
)
def test_bad_input_is_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_response_target_defaults():
    assert ResponseTarget() == ResponseTarget(timedelta(minutes=30), timedelta(minutes=15))
    assert ResponseTarget(timedelta(minutes=30), None).escalate_at is None
