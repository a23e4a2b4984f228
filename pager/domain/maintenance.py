"""Maintenance windows: a time range [start, end) during which the incidents of a customer, of a project,
or with some labels are recorded but page nobody.

Pure. `window_at` is the one answer to "is this alert in maintenance now?": the engine asks it when it
routes an incident (and again when a held or deferred one comes due), the API and the CLI when they
check or preview a window, and `pagerd route` when it previews a page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from pager.domain.projects import split_project

from .calendar import to_utc

# Limits on what a window may say (the API, the CLI and the store's callers check them here).
MAX_WINDOW = timedelta(days=90)  # a longer silence is a typo or a project that should not page at all
MAX_MATCH_LABELS = 20
MAX_TEXT = 256
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")  # Prometheus' label names


@dataclass(frozen=True)
class MaintenanceWindow:
    """One window. Its scope is exactly one of: a customer (every project of it), a project
    ("customer/project"), or label matchers (every label equal to its value, as a route's `match`)."""

    id: int
    start: datetime
    end: datetime
    customer: str | None = None
    project: str | None = None
    match: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, "window start"))
        object.__setattr__(self, "end", to_utc(self.end, "window end"))
        object.__setattr__(self, "match", MappingProxyType(dict(self.match)))

    @property
    def scope(self) -> str:
        """The scope as one line: "customer acme", "project acme/webshop", "labels env=staging"."""
        if self.customer:
            return f"customer {self.customer}"
        if self.project:
            return f"project {self.project}"
        return "labels " + ", ".join(f"{k}={v}" for k, v in sorted(self.match.items()))

    def covers(self, *, project: str, customer: str | None, labels: Mapping[str, str], now: datetime) -> bool:
        """Whether an alert of `project` (of `customer`) with `labels` is in this window at `now`."""
        if not self.start <= to_utc(now, "now") < self.end:
            return False
        if self.customer:
            return customer == self.customer
        if self.project:
            return project == self.project
        return bool(self.match) and all(labels.get(k, "") == v for k, v in self.match.items())


def window_at(
    windows: Iterable[MaintenanceWindow],
    *,
    project: str,
    customer: str | None,
    labels: Mapping[str, str],
    now: datetime,
) -> MaintenanceWindow | None:
    """The window that holds an alert at `now`, or None. Of several, the one that ends last (the
    incident waits for all of them; ties: the lowest id)."""
    best: MaintenanceWindow | None = None
    for w in windows:
        if w.covers(project=project, customer=customer, labels=labels, now=now):
            if best is None or (w.end, -w.id) > (best.end, -best.id):
                best = w
    return best


def window_problems(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    customer: str | None,
    project: str | None,
    match: Mapping[str, str],
    reason: str,
    customers: Mapping[str, Iterable[str]],
) -> list[tuple[str, str]]:
    """What is wrong with a new window, as (field, message) pairs; [] when it may be stored.
    `customers`: each configured customer id with its project names (ids without the customer)."""
    problems: list[tuple[str, str]] = []
    scopes = [name for name, given in (("customer", customer), ("project", project), ("match", match)) if given]
    if len(scopes) != 1:
        problems.append(
            ("scope", "give exactly one of customer, project or match (got " + (", ".join(scopes) or "none") + ")")
        )
    if customer is not None and customer not in customers:
        problems.append(("customer", f"unknown customer {customer[:64]!r} (not under customers)"))
    if project is not None:
        cid, pid = split_project(project)
        if cid not in customers or pid not in set(customers[cid]):
            problems.append(("project", f"unknown project {project[:64]!r} (expected CUSTOMER/PROJECT of the config)"))
    if len(match) > MAX_MATCH_LABELS:
        problems.append(("match", f"at most {MAX_MATCH_LABELS} labels"))
    for k, v in list(match.items())[: MAX_MATCH_LABELS + 1]:
        if not isinstance(k, str) or not LABEL_NAME.fullmatch(k):
            problems.append(("match", f"{str(k)[:64]!r} is not a label name ([A-Za-z_][A-Za-z0-9_]*)"))
        elif not isinstance(v, str) or len(v) > MAX_TEXT or not v.isprintable():
            problems.append(("match", f"{k}: the value must be one line of at most {MAX_TEXT} characters"))
    if not reason.strip():
        problems.append(("reason", "required: say why (it is shown on the incidents the window holds)"))
    elif len(reason) > MAX_TEXT or not reason.isprintable():
        problems.append(("reason", f"one line of at most {MAX_TEXT} characters"))
    if end <= start:
        problems.append(("end", "must be after start"))
    elif end - start > MAX_WINDOW:
        problems.append(("end", f"a maintenance window lasts at most {MAX_WINDOW.days} days"))
    elif end <= now:
        problems.append(("end", "is in the past"))
    return problems


__all__ = ["MAX_WINDOW", "MaintenanceWindow", "window_at", "window_problems"]
