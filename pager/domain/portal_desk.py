"""The desk's and the engineer's portal decisions (pure): who may triage and assign, who sees incidents,
which tickets a queue holds (triage, project, status, assignee, request-target risk) and in which order
incidents are listed.

A request's risk is the worst outcome of its two targets as pager.domain.request_targets judges them
(never judged a second way here); an incident ticket has no request targets: risk `none`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .incident import State
from .portal import Role, Viewer
from .request_targets import Outcome

# worst first: the order a queue's risk filter and column speak of
RISKS = ("breached", "at_risk", "running", "met", "none")
_RANK = {Outcome.BREACHED: 0, Outcome.AT_RISK: 1, Outcome.RUNNING: 2, Outcome.MET: 3}
QUEUES = ("all", "triage", "unknown")
MAX_BULK = 100  # tickets one bulk assignment may name


def may_triage(viewer: Viewer) -> bool:
    """Assign (one or many), set the project, turn a request into a page: the desk and the admin."""
    return viewer.role in (Role.ADMIN, Role.DESK)


def may_work_ticket(viewer: Viewer) -> bool:
    """Internal notes, status changes, time entries on a ticket the viewer may see: staff."""
    return viewer.staff


def may_request_override(viewer: Viewer) -> bool:
    """Ask for a swap or override: staff with a person (who can be on call); the desk decides
    (may_triage)."""
    return viewer.staff and viewer.person is not None


def may_see_incidents(viewer: Viewer) -> bool:
    """Incidents (their alerts, labels, who was paged) are the agency's: staff only. The domain gives
    a customer's contact no incident scope, so an incident page answers a contact 404, as if it did not
    exist."""
    return viewer.staff


def may_answer_incident(viewer: Viewer) -> bool:
    """Acknowledge and resolve from the portal: any staff member signed in (the portal is behind its own
    credentials, as the API and the CLI; pager.domain.paging.may_answer rules SMS, voice and links)."""
    return viewer.staff


def risk(outcomes: Iterable[Outcome]) -> str:
    """A request's risk for the queue: the worst of its targets' outcomes; `none` without targets."""
    ranked = sorted(_RANK[o] for o in outcomes)
    return RISKS[ranked[0]] if ranked else "none"


def parse_risk(value: str | None) -> str | None:
    """A risk filter as the portal's queue and the API take it (empty: none); ValueError if unknown."""
    if not value:
        return None
    if value not in RISKS:
        raise ValueError("risk")
    return value


def risk_held(wanted: str | None, ticket_risk: str) -> bool:
    """Whether a ticket of `ticket_risk` passes the risk filter `wanted` (None: every ticket does)."""
    return wanted is None or ticket_risk == wanted


class QueueTicket(Protocol):
    @property
    def project(self) -> str | None: ...
    @property
    def assignee(self) -> str | None: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """A queue: `triage` (tickets without a project), `unknown` (from a sender who is no known contact),
    both without the closed ones; else all. Narrowed by project (`none`: without one), status, assignee
    (`none`: unassigned) and risk."""

    queue: str = "all"
    project: str | None = None
    status: str | None = None
    assignee: str | None = None
    risk: str | None = None


def in_queue(f: QueueFilter, t: QueueTicket, *, known_sender: bool, ticket_risk: str) -> bool:
    if f.queue != "all" and t.status == "closed":
        return False
    if (f.queue == "triage" and t.project is not None) or (f.queue == "unknown" and known_sender):
        return False
    if f.project is not None and t.project != (None if f.project == "none" else f.project):
        return False
    if f.status is not None and t.status != f.status:
        return False
    if f.assignee is not None and t.assignee != (None if f.assignee == "none" else f.assignee):
        return False
    return risk_held(f.risk, ticket_risk)


def parse_queue(query: Mapping[str, str], *, projects: set[str], people: set[str], statuses: set[str]) -> QueueFilter:
    """A queue's filter from a page's query (empty values: no filter). ValueError naming the bad field."""
    got = {k: query.get(k) or None for k in ("queue", "project", "status", "assignee", "risk")}
    if got["queue"] is not None and got["queue"] not in QUEUES:
        raise ValueError("queue")
    if got["project"] is not None and got["project"] != "none" and got["project"] not in projects:
        raise ValueError("project")
    if got["status"] is not None and got["status"] not in statuses:
        raise ValueError("status")
    if got["assignee"] is not None and got["assignee"] != "none" and got["assignee"] not in people:
        raise ValueError("assignee")
    return QueueFilter(
        queue=got["queue"] or "all",
        project=got["project"],
        status=got["status"],
        assignee=got["assignee"],
        risk=parse_risk(got["risk"]),
    )


class IncidentLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def updated_at(self) -> datetime: ...


_OPEN_ORDER = {State.TRIGGERED.value: 0, State.ACKNOWLEDGED.value: 1}


def incident_order(i: IncidentLike) -> tuple[int, int]:
    """Open ones first (triggered, then acknowledged), each newest first; then the resolved, newest first."""
    return (_OPEN_ORDER.get(i.state, 2), -i.id)


def is_open(state: str) -> bool:
    return state in _OPEN_ORDER
