"""The response record (DESIGN.md §2, "Escalation and the response target"): was a page answered
in time? One answer for the engine (breaches, the response-time metric), the API (`response` of an
incident) and the customer's statement (the response record of each call-out).

A round is one escalation of an incident: the incident's opening is round 1, each reopen starts
the next (the store keeps one escalation per incident and generation, generation = round - 1).
Each round is judged on its own data: its first page, its target, the instant it turns at risk
(the escalation point, ``paging.escalate_at`` after the first page, stored when the page went
out) and its first answer (acknowledgement or resolve: when, by whom, how). An answer of an
earlier round never counts for a later one, and a later round never turns an earlier one into a
breach.

Outcomes of a round (``judge``):

- ``pending``   no page went out in this round (yet): routed to nobody (office-hours coverage at
                night: the support desk is told at the next opening), acknowledged or resolved
                before the first page, or routed a moment ago. A pending round is neither met nor
                breached; the API lists it, the statement leaves it out (only paged rounds are
                call-outs' rounds), the engine never records a breach for it.
- ``running``   paged, not answered, before ``at_risk_at``.
- ``at_risk``   paged, not answered, from ``at_risk_at`` up to and including the deadline.
- ``met``       answered at or before the deadline (first page + target).
- ``breached``  answered after the deadline, or not answered and the deadline has passed.

The one choice this module makes for everybody: ``RESOLVE_ANSWERS_PAGE``.

Pure: frozen dataclasses in, a decision out, ``now`` passed in, no I/O. Instants are aware
datetimes (normalised to UTC); durations are real elapsed time, so a round across a DST change
is judged on the minutes that really passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .calendar import to_utc

# A resolve answers the page. Whoever resolves a paged round (an engineer by SMS, voice, link,
# API or CLI, or the monitoring source when the alert clears) before its deadline has met the
# target: once the incident is resolved there is nothing left to acknowledge. False would make
# only an acknowledgement count; a round resolved without one would then breach at its deadline.
RESOLVE_ANSWERS_PAGE = True

DEFAULT_TARGET = timedelta(minutes=30)
DEFAULT_ESCALATE_AT = timedelta(minutes=15)


class AnswerKind(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    PENDING = "pending"  # no page in this round (yet)
    RUNNING = "running"
    AT_RISK = "at_risk"  # past the escalation point, not answered
    MET = "met"
    BREACHED = "breached"


@dataclass(frozen=True)
class ResponseTarget:
    """A customer's response target as configured: the target, and the point after the first page
    at which the round turns at risk and the next escalation step is paged early."""

    target: timedelta = DEFAULT_TARGET
    escalate_at: timedelta | None = DEFAULT_ESCALATE_AT

    def __post_init__(self) -> None:
        if self.target <= timedelta(0):
            raise ValueError(f"response target must be positive, got {self.target}")
        if self.escalate_at is not None and not timedelta(0) <= self.escalate_at <= self.target:
            raise ValueError(
                f"response target: escalate_at {self.escalate_at} must lie within the target {self.target}"
            )


@dataclass(frozen=True)
class Answer:
    """The first acknowledgement or resolve of a round."""

    at: datetime
    by: str | None  # who: a person id, an API caller, the monitoring source
    via: str | None  # how: sms, voice, link, api, cli, or the source (alertmanager, nagios, ...)
    kind: AnswerKind

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", to_utc(self.at, "answer at"))
        try:
            object.__setattr__(self, "kind", AnswerKind(self.kind))
        except ValueError as exc:
            known = ", ".join(k.value for k in AnswerKind)
            raise ValueError(f"answer: unknown kind {self.kind!r} (known: {known})") from exc


@dataclass(frozen=True)
class Round:
    """What one round holds: its first page (None: not paged), its target, the instant it turns at
    risk (None: never, no escalation point configured) and its first answer (None: none yet)."""

    incident_id: int
    generation: int  # 0 for the opening, n for the n-th reopen
    target: timedelta
    first_page_at: datetime | None = None
    at_risk_at: datetime | None = None
    answer: Answer | None = None

    def __post_init__(self) -> None:
        if isinstance(self.generation, bool) or not isinstance(self.generation, int) or self.generation < 0:
            raise ValueError(f"round: generation must be an integer >= 0, got {self.generation!r}")
        if not isinstance(self.target, timedelta) or self.target <= timedelta(0):
            raise ValueError(f"round: target must be a positive timedelta, got {self.target!r}")
        if self.first_page_at is not None:
            object.__setattr__(self, "first_page_at", to_utc(self.first_page_at, "first_page_at"))
        if self.at_risk_at is not None:
            object.__setattr__(self, "at_risk_at", to_utc(self.at_risk_at, "at_risk_at"))

    @property
    def number(self) -> int:
        """1 for the opening, 2 after the first reopen, ..."""
        return self.generation + 1


@dataclass(frozen=True)
class Record:
    """A round judged at `now`: its deadline (None: not paged), its outcome, the answer that counts
    (None: none, or one that does not answer the page) and the seconds from the first page to it."""

    round: Round
    deadline: datetime | None
    outcome: Outcome
    answer: Answer | None
    seconds: float | None


def deadline(first_page_at: datetime, target: timedelta) -> datetime:
    """The response target's deadline: the first page plus the target (real elapsed time)."""
    return to_utc(first_page_at, "first_page_at") + target


def answers_page(answer: Answer) -> bool:
    """Whether this answer answers the page: an acknowledgement always; a resolve when
    RESOLVE_ANSWERS_PAGE."""
    return answer.kind is AnswerKind.ACKNOWLEDGED or (RESOLVE_ANSWERS_PAGE and answer.kind is AnswerKind.RESOLVED)


def judge(rnd: Round, now: datetime) -> Record:
    """The round's outcome at `now` (see the module's docstring). An answer at the deadline meets
    it; an answer recorded before the first page (it crossed the page) counts as 0 seconds."""
    now = to_utc(now, "now")
    if rnd.first_page_at is None:
        return Record(rnd, None, Outcome.PENDING, None, None)
    due = deadline(rnd.first_page_at, rnd.target)
    answer = rnd.answer if rnd.answer is not None and answers_page(rnd.answer) else None
    if answer is not None:
        seconds = max(0.0, (answer.at - rnd.first_page_at).total_seconds())
        return Record(rnd, due, Outcome.MET if answer.at <= due else Outcome.BREACHED, answer, seconds)
    if now > due:
        outcome = Outcome.BREACHED
    elif rnd.at_risk_at is not None and now >= rnd.at_risk_at:
        outcome = Outcome.AT_RISK
    else:
        outcome = Outcome.RUNNING
    return Record(rnd, due, outcome, None, None)


def current(rounds: Sequence[Round], generation: int) -> Round | None:
    """The round of the incident's current generation (its reopen count), None when that one has
    no escalation (not routed yet, or acknowledged before it was routed)."""
    return next((r for r in rounds if r.generation == generation), None)


__all__ = [
    "RESOLVE_ANSWERS_PAGE",
    "Answer",
    "AnswerKind",
    "Outcome",
    "Record",
    "ResponseTarget",
    "Round",
    "answers_page",
    "current",
    "deadline",
    "judge",
]
