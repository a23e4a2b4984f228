"""pager.domain.portal_desk: who triages and sees incidents, a request's risk from its targets' outcomes,
which tickets a queue holds, the queue filter from a page's query, and the order of incidents; and the
Dutch catalogue covers the words of the desk's pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import pytest

from pager.domain.incident import State
from pager.domain.portal import Role, Viewer
from pager.domain.portal_desk import (
    RISKS,
    QueueFilter,
    in_queue,
    incident_order,
    is_open,
    may_answer_incident,
    may_request_override,
    may_see_incidents,
    may_triage,
    may_work_ticket,
    parse_queue,
    risk,
)
from pager.domain.request_targets import Outcome
from pager.domain.ticket import TimeKind
from pager.web.i18n import catalogue
from pager.web.portal_desk import FORBIDDEN, LABELS, STALE_FORM

ADMIN, DESK = Viewer(Role.ADMIN), Viewer(Role.DESK)
ENGINEER = Viewer(Role.ENGINEER, person="anna")
CUSTOMER = Viewer(Role.CUSTOMER, customer="acme")


@pytest.mark.parametrize(
    "who, triage, work, incidents, answer",
    [
        (ADMIN, True, True, True, True),
        (DESK, True, True, True, True),
        (ENGINEER, False, True, True, True),
        (CUSTOMER, False, False, False, False),
    ],
    ids=["admin", "desk", "engineer", "customer"],
)
def test_who_may_do_what(who, triage, work, incidents, answer):
    assert (may_triage(who), may_work_ticket(who), may_see_incidents(who), may_answer_incident(who)) == (
        triage,
        work,
        incidents,
        answer,
    )


@pytest.mark.parametrize(
    "who, may",
    [(ADMIN, False), (Viewer(Role.ADMIN, person="anna"), True), (DESK, False), (ENGINEER, True), (CUSTOMER, False)],
)
def test_who_may_ask_for_an_override(who, may):
    assert may_request_override(who) is may


@pytest.mark.parametrize(
    "outcomes, expected",
    [
        ([], "none"),
        ([Outcome.MET, Outcome.MET], "met"),
        ([Outcome.MET, Outcome.RUNNING], "running"),
        ([Outcome.RUNNING, Outcome.AT_RISK], "at_risk"),
        ([Outcome.AT_RISK, Outcome.BREACHED], "breached"),
        ([Outcome.BREACHED, Outcome.MET], "breached"),
    ],
)
def test_risk_is_the_worst_outcome(outcomes, expected):
    assert risk(outcomes) == expected


@dataclass
class T:
    project: str | None
    assignee: str | None = None
    status: str = "new"


@pytest.mark.parametrize(
    "f, t, known, r, held",
    [
        (QueueFilter(), T("acme/webshop"), True, "running", True),
        (QueueFilter(queue="triage"), T(None), True, "running", True),
        (QueueFilter(queue="triage"), T("acme/webshop"), False, "running", False),
        (QueueFilter(queue="triage"), T(None, status="closed"), True, "none", False),
        (QueueFilter(queue="unknown"), T("acme/webshop"), False, "running", True),
        (QueueFilter(queue="unknown"), T(None), True, "running", False),
        (QueueFilter(project="none"), T(None), True, "running", True),
        (QueueFilter(project="none"), T("acme/webshop"), True, "running", False),
        (QueueFilter(project="acme/webshop"), T("acme/webshop"), True, "running", True),
        (QueueFilter(project="acme/webshop"), T("acme/intranet"), True, "running", False),
        (QueueFilter(status="open"), T("acme/webshop", status="new"), True, "running", False),
        (QueueFilter(assignee="none"), T("acme/webshop"), True, "running", True),
        (QueueFilter(assignee="none"), T("acme/webshop", "bram"), True, "running", False),
        (QueueFilter(assignee="bram"), T("acme/webshop", "bram"), True, "running", True),
        (QueueFilter(risk="breached"), T("acme/webshop"), True, "at_risk", False),
        (QueueFilter(risk="breached"), T("acme/webshop"), True, "breached", True),
        (QueueFilter(queue="all"), T(None, status="closed"), False, "none", True),
    ],
)
def test_which_tickets_a_queue_holds(f, t, known, r, held):
    assert in_queue(f, t, known_sender=known, ticket_risk=r) is held


KNOWN = {"projects": {"acme/webshop"}, "people": {"bram"}, "statuses": {"new", "open"}}


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, QueueFilter()),
        ({"queue": "", "status": "", "project": "", "assignee": "", "risk": ""}, QueueFilter()),
        ({"queue": "triage", "risk": "at_risk"}, QueueFilter(queue="triage", risk="at_risk")),
        ({"project": "none", "assignee": "none"}, QueueFilter(project="none", assignee="none")),
        (
            {"project": "acme/webshop", "assignee": "bram", "status": "open"},
            QueueFilter("all", "acme/webshop", "open", "bram"),
        ),
    ],
)
def test_a_queue_from_a_query(query, expected):
    assert parse_queue(query, **KNOWN) == expected


@pytest.mark.parametrize(
    "query, field",
    [
        ({"queue": "mine"}, "queue"),
        ({"project": "acme/nothing"}, "project"),
        ({"project": "' OR 1=1 --"}, "project"),
        ({"status": "lost"}, "status"),
        ({"assignee": "mallory"}, "assignee"),
        ({"risk": "extreme"}, "risk"),
        ({"risk": "x" * 10_000}, "risk"),
    ],
)
def test_a_bad_query_names_its_field(query, field):
    with pytest.raises(ValueError, match=f"^{field}$"):
        parse_queue(query, **KNOWN)


@dataclass
class Inc:
    id: int
    state: str
    updated_at: datetime = datetime(2026, 1, 5, tzinfo=UTC)


def test_open_incidents_first_newest_first():
    rows = [Inc(1, "resolved"), Inc(2, "acknowledged"), Inc(3, "triggered"), Inc(4, "resolved"), Inc(5, "triggered")]
    assert [i.id for i in sorted(rows, key=incident_order)] == [5, 3, 2, 4, 1]
    assert [is_open(s.value) for s in State] == [True, True, False]


def test_the_desk_pages_words_are_in_dutch():
    nl = catalogue("nl")
    templates = resources.files("pager.web").joinpath("templates", "portal")
    literal = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")
    words: set[str] = set()
    for name in ("desk_tickets.html", "desk_ticket.html", "incidents.html", "incident.html", "oncall_mine.html"):
        words |= {a or b for a, b in literal.findall(templates.joinpath(name).read_text())}
    source = resources.files("pager.web").joinpath("portal_desk.py").read_text()
    words |= set(re.findall(r"""_error\(\s*request,\s*\d{3},\s*"([^"]+)\"""", source, re.S))
    words |= set(LABELS.values()) | {FORBIDDEN, STALE_FORM} | {k.value for k in TimeKind}
    words |= {s.value for s in State} | {"critical", "warning", "info", "first_response", "resolution"}
    words |= {"pending", "confirmed", "declined"}
    assert len(words) > 80
    assert sorted(w for w in words if w not in nl) == []
    assert set(LABELS) >= set(RISKS) | {"pending", "office", "evening_night", "weekend", "holiday"}
