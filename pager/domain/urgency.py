"""Urgency, and the routing decision that puts coverage, urgency and maintenance together.

Urgency (PagerDuty's idea, on the agency's calendar): a `high` incident pages as coverage says; a `low`
one (by default severity `warning` or `info`) pages in office hours, and outside them waits for the
next office opening: the support desk is e-mailed at once, and the office rotation is paged at the
opening if the incident is still open. A severity that no rule names (or none at all) is high: an
alert is never quietly held back because its source spelled its severity differently.

`decide_paging` is the one routing decision: the engine takes it when an incident is routed and again
when a deferred or held one comes due (or its severity rises); `pagerd route` takes it to preview.

Pure: the calendar and `now` are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .calendar import Calendar, Period, to_utc
from .maintenance import MaintenanceWindow, window_at
from .paging import OFFICE_ROTATION, CoverageDecision, ProjectCoverage, decide_coverage, timeline_time

DEFAULT_LOW = frozenset({"warning", "info"})


class Urgency(StrEnum):
    HIGH = "high"  # page as coverage says, at once
    LOW = "low"  # in office hours as high; outside them wait for the next office opening


@dataclass(frozen=True)
class UrgencyRule:
    """Which severities are low (compared case-insensitively); `force`: a route's fixed urgency,
    whatever the severity."""

    low: frozenset[str] = DEFAULT_LOW
    force: Urgency | None = None
    source: str = "paging.urgency"  # where the rule comes from, for the timeline

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", frozenset(normal_severity(s) for s in self.low))
        if self.force is not None:
            object.__setattr__(self, "force", Urgency(self.force))


def normal_severity(severity: str | None) -> str:
    return (severity or "").strip().lower()


def urgency_of(rule: UrgencyRule, severity: str | None) -> Urgency:
    """The urgency of an incident of this severity: the route's fixed urgency if it has one, else low
    when the severity is one of the rule's low ones, else high (unknown and missing included)."""
    if rule.force is not None:
        return rule.force
    s = normal_severity(severity)
    return Urgency.LOW if s and s in rule.low else Urgency.HIGH


class Action(StrEnum):
    PAGE = "page"  # page the rotation coverage chose, now
    DESK = "desk"  # coverage pages nobody now: the support desk is told at the next office opening
    DEFER = "defer"  # low urgency outside office hours: the desk is e-mailed now, paging at the next opening
    HOLD = "hold"  # in a maintenance window: nobody is paged until it ends (then decided again)


@dataclass(frozen=True)
class PagingDecision:
    action: Action
    coverage: CoverageDecision
    severity: str
    urgency: Urgency
    window: MaintenanceWindow | None
    rotation: str | None  # the rotation role paged (now, or at next_at for DEFER): "office" / "standby"
    next_at: datetime | None  # PAGE: now; DESK and DEFER: the next office opening; HOLD: the window's end
    reason: str  # a sentence for the timeline

    @property
    def page(self) -> bool:
        return self.action is Action.PAGE


def decide_paging(
    cov: ProjectCoverage,
    calendar: Calendar,
    now: datetime,
    *,
    severity: str | None,
    rule: UrgencyRule,
    windows: Iterable[MaintenanceWindow] = (),
    customer: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> PagingDecision:
    """Whom an incident of project `cov.project` with `severity` and `labels` pages at `now`:

    1. a maintenance window that holds it: nobody, until the window ends (HOLD);
    2. coverage (pager.domain.paging.decide_coverage) that pages nobody now: the desk at the next
       office opening (DESK), whatever the urgency;
    3. low urgency outside office hours: the desk is e-mailed now and the office rotation paged at the
       next office opening (DEFER); with no opening within a year, it pages now;
    4. else it pages the rotation coverage chose, now (PAGE)."""
    now = to_utc(now, "now")
    coverage = decide_coverage(cov, calendar, now)
    sev = normal_severity(severity) or "none"
    urgency = urgency_of(rule, severity)
    why_urgency = (
        f"urgency {urgency.value} (route)" if rule.force is not None else f"severity {sev}: urgency {urgency.value}"
    )
    window = window_at(windows, project=cov.project, customer=customer, labels=labels or {}, now=now)
    if window is not None:
        text = f"in maintenance window #{window.id} until {timeline_time(calendar, window.end)}"
        if window.reason:
            text += f" ({window.reason})"
        return PagingDecision(Action.HOLD, coverage, sev, urgency, window, None, window.end, f"{text}: not paged")
    if not coverage.page:
        return PagingDecision(Action.DESK, coverage, sev, urgency, None, None, coverage.notify_desk_at, coverage.reason)
    if urgency is Urgency.LOW and coverage.period is not Period.OFFICE:
        opening = calendar.next_office_opening(now)
        if opening is not None:
            reason = (
                f"{coverage.period.value}, project {cov.project}, {why_urgency}: the support desk is e-mailed now; "
                f"paging the office rotation at the next office opening, {timeline_time(calendar, opening)}"
            )
            return PagingDecision(Action.DEFER, coverage, sev, urgency, None, OFFICE_ROTATION, opening, reason)
    reason = coverage.reason if urgency is Urgency.HIGH else f"{coverage.reason} ({why_urgency})"
    return PagingDecision(Action.PAGE, coverage, sev, urgency, None, coverage.rotation, now, reason)


__all__ = [
    "Action",
    "DEFAULT_LOW",
    "PagingDecision",
    "Urgency",
    "UrgencyRule",
    "decide_paging",
    "normal_severity",
    "urgency_of",
]
