"""pager.domain.standby_request and pager.domain.project_progress: who may do what with a standby request,
which periods may be asked for, and a project's weekly progress and hours (table-driven)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from zoneinfo import ZoneInfo

import pytest

from pager.domain import project_progress as pp
from pager.domain import standby_request as sr
from pager.domain.portal import Role, Viewer
from pager.web.i18n import catalogue
from pager.web.portal_customer import LABELS

UTC = timezone.utc
NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # a Wednesday
AMS = ZoneInfo("Europe/Amsterdam")
ADMIN, DESK = Viewer(Role.ADMIN), Viewer(Role.DESK, person="anna")
ENGINEER = Viewer(Role.ENGINEER, person="bram")
JAN, OTHER = Viewer(Role.CUSTOMER, customer="acme"), Viewer(Role.CUSTOMER, customer="globex")
P, C, D, W = sr.RequestState.PENDING, sr.RequestState.CONFIRMED, sr.RequestState.DECLINED, sr.RequestState.WITHDRAWN
CONFIRM, DECLINE, WITHDRAW = sr.Action.CONFIRM, sr.Action.DECLINE, sr.Action.WITHDRAW


@pytest.mark.parametrize(
    "viewer, state, action, outcome",
    [
        (DESK, P, CONFIRM, C),
        (ADMIN, P, CONFIRM, C),
        (DESK, P, DECLINE, D),
        (DESK, P, WITHDRAW, W),
        (JAN, P, WITHDRAW, W),
        (JAN, P, CONFIRM, 403),
        (JAN, P, DECLINE, 403),
        (OTHER, P, WITHDRAW, 404),  # another customer's request: as if it did not exist
        (OTHER, P, CONFIRM, 404),
        (ENGINEER, P, CONFIRM, 404),
        (ENGINEER, P, WITHDRAW, 404),
        (DESK, C, CONFIRM, 409),
        (DESK, D, CONFIRM, 409),
        (DESK, W, DECLINE, 409),
        (JAN, C, WITHDRAW, 409),
        (JAN, D, WITHDRAW, 409),
        (Viewer(Role.CUSTOMER), P, WITHDRAW, 404),  # a contact without a customer sees nothing
    ],
)
def test_who_may_move_a_request_where(viewer, state, action, outcome):
    if isinstance(outcome, int):
        with pytest.raises(sr.Refused) as exc:
            sr.move(viewer, "acme", state, action)
        assert exc.value.status == outcome
    else:
        assert sr.move(viewer, "acme", state, action) is outcome


@pytest.mark.parametrize(
    "viewer, state, expected",
    [
        (DESK, P, (True, True, True)),
        (JAN, P, (False, False, True)),
        (OTHER, P, (False, False, False)),
        (DESK, C, (False, False, False)),
        (JAN, W, (False, False, False)),
    ],
)
def test_choices_follow_the_moves(viewer, state, expected):
    c = sr.choices(viewer, "acme", state)
    assert (c.confirm, c.decline, c.withdraw) == expected


@pytest.mark.parametrize(
    "viewer, customer, sees, decides",
    [
        (ADMIN, "acme", True, True),
        (DESK, "globex", True, True),
        (ENGINEER, "acme", False, False),
        (JAN, "acme", True, False),
        (JAN, "globex", False, False),
    ],
)
def test_who_sees_and_decides(viewer, customer, sees, decides):
    assert sr.may_open_customer_pages(viewer) is (viewer.role is not Role.ENGINEER)
    assert sr.may_see(viewer, customer) is sees
    assert sr.may_request(viewer, customer) is sees
    assert sr.may_decide(viewer) is decides


H = timedelta(hours=1)


@pytest.mark.parametrize(
    "start, end, problem",
    [
        (NOW + H, NOW + 49 * H, None),
        (NOW, NOW + H, None),  # starting now, an hour: the shortest
        (NOW + H, NOW + H, "end after"),
        (NOW + 2 * H, NOW + H, "end after"),
        (NOW + H, NOW + H + timedelta(minutes=59), "at least an hour"),
        (NOW + H, NOW + H + timedelta(days=400), None),
        (NOW + H, NOW + H + timedelta(days=400, seconds=1), "at most 400 days"),
        (NOW - H, NOW + H, "past"),
        (NOW + timedelta(days=732), NOW + timedelta(days=733), "two years"),
    ],
)
def test_which_periods_may_be_requested(start, end, problem):
    got = sr.period_problem(start, end, NOW)
    assert (got is None) if problem is None else (got is not None and problem in got)


@dataclass(frozen=True)
class T:
    created_at: datetime
    resolved_at: datetime | None = None
    status: str = "open"
    kind: str = "request"


def test_weekly_counts_opened_and_resolved_per_monday_week_in_the_zone():
    sunday_late = datetime(2026, 1, 4, 23, 30, tzinfo=AMS)  # still last week in Amsterdam (22:30 UTC)
    monday_early = datetime(2026, 1, 5, 0, 30, tzinfo=AMS)  # this week, though 23:30 UTC Sunday
    rows = [
        T(sunday_late),
        T(monday_early, resolved_at=NOW - H, status="resolved"),
        T(NOW - timedelta(weeks=7, days=2)),  # the oldest week shown
        T(NOW - timedelta(weeks=9)),  # before the weeks shown
        T(NOW - timedelta(weeks=9), resolved_at=NOW - timedelta(weeks=1), status="resolved"),
        T(NOW + H),  # after now (a clock set back): nowhere
    ]
    weeks = pp.weekly(rows, NOW, AMS)
    assert [w.monday.isoformat() for w in weeks][-2:] == ["2025-12-29", "2026-01-05"]
    assert len(weeks) == 8 and weeks[0].monday.isoformat() == "2025-11-17"
    assert [(w.opened, w.closed) for w in weeks] == [(1, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (1, 1), (1, 1)]
    assert pp.since(NOW, AMS) == datetime(2025, 11, 17, tzinfo=AMS).astimezone(UTC)


@pytest.mark.parametrize(
    "kind, status, open_",
    [("incident", "new", True), ("incident", "open", True), ("incident", "waiting_on_customer", True),
     ("incident", "resolved", False), ("incident", "closed", False), ("request", "open", False)],
)  # fmt: skip
def test_open_incidents(kind, status, open_):
    assert (pp.open_incidents([T(NOW, status=status, kind=kind)]) != []) is open_


def test_by_status_keeps_the_order_and_every_status():
    rows = [T(NOW, status="closed"), T(NOW, status="new"), T(NOW, status="new")]
    grouped = pp.by_status(rows, ["new", "open", "closed"])
    assert list(grouped) == ["new", "open", "closed"]
    assert [len(v) for v in grouped.values()] == [2, 0, 1]


def test_hours_used_sums_the_statement_lines_of_the_project_s_tickets_only():
    lines = [
        {"number": 1, "covered_minutes": 30, "billable_minutes": 20, "billed_minutes": 30},
        {"number": 2, "covered_minutes": 0, "billable_minutes": 50, "billed_minutes": 60},
        {"number": 3, "covered_minutes": 99, "billable_minutes": 99, "billed_minutes": 105},  # another project
    ]
    assert pp.hours_used(lines, [1, 2]) == pp.Hours(covered_minutes=30, billable_minutes=70, billed_minutes=90)
    assert pp.hours_used(lines, []) == pp.Hours(0, 0, 0)


LITERAL = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")
PAGES = ("projects", "project", "new_request", "bookings", "standby_request", "base")


def test_every_word_of_the_customer_pages_is_in_dutch():
    nl = catalogue("nl")
    templates = resources.files("pager.web").joinpath("templates", "portal")
    words = {a or b for p in PAGES for a, b in LITERAL.findall(templates.joinpath(f"{p}.html").read_text())}
    source = resources.files("pager.web").joinpath("portal_customer.py").read_text()
    words |= set(re.findall(r"""_error\(\s*request,\s*\d{3},\s*"([^"]+)\"""", source, re.S))
    words |= set(re.findall(r"""_not_yours\(request, s, "([^"]+)"\)""", source))
    words |= set(re.findall(r'\d{3}: "([^"]+)"', source))
    words |= {s.value for s in sr.RequestState} | set(LABELS.values()) | {"No such project."}
    assert len(words) > 50
    assert sorted(w for w in words if w not in nl) == []
