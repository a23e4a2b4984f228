"""The desk's and the engineer's portal pages: the ticket queue (triage, filters, bulk assign), the staff
ticket page's forms (note, assign, status, project, time entry, turn into a page), incidents (list, page,
acknowledge, resolve) and the engineer's part of /ui/oncall (my shifts, overrides, my open incidents).

Every action goes through the same service function or store method as the JSON API
(pager.service.desk, the store's transition); who may do what is pager.domain.portal_desk's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web
from markupsafe import Markup, escape

from pager.config import Config, per_config
from pager.domain import portal_desk as rules
from pager.domain.incident import State
from pager.domain.portal import Viewer
from pager.domain.ticket import Status, TimeKind
from pager.service import desk, mail_desk, portal, targets
from pager.service import override_requests as override_requests_
from pager.service.schedule import overrides_from, parse_utc
from pager.service.targets import KnownOutcomes, ticket_targets
from pager.sources.errors import InputError
from pager.storage.port import Conflict, NotFound, PortalSession, TicketDetail

from . import portal as base
from .api import response_of

log = structlog.get_logger("pagerd.portal")

PREFIX = "/ui"
QUEUE_SHOWN = 100
# the queue's target outcomes of the tickets that time alone no longer changes
KNOWN = web.AppKey("pagerd.portal_desk.known", KnownOutcomes)
SHIFT_WEEKS = 4
ASKED = "pagerd.portal_desk.asked"  # a refused request form: (its problems, what was typed), shown again
_DIGITS_MAX = 15
FORBIDDEN = "This action is for the support desk."
STALE_FORM = "The form has expired or did not come from this site."
# the words the pages show for a target's outcome (request targets and the response clock) and for the
# calendar's periods; the Dutch ones are in the catalogue
LABELS = {
    "breached": "breached",
    "at_risk": "at risk",
    "running": "on track",
    "met": "met",
    "none": "no target",
    "pending": "not paged yet",
    "office": "office hours",
    "evening_night": "evening and night",
    "weekend": "weekend",
    "holiday": "holiday",
}


def setup(app: web.Application) -> None:
    app[KNOWN] = KnownOutcomes()
    app[base.STAFF_VIEWS] = base.StaffViews(queue=queue, ticket_page=ticket_page, oncall_extras=oncall_extras)
    r = app.router
    r.add_post("/ui/tickets", bulk_assign)
    r.add_post("/ui/tickets/{number}/note", note)
    r.add_post("/ui/tickets/{number}/change", change)
    r.add_post("/ui/tickets/{number}/time", time_entry)
    r.add_post("/ui/tickets/{number}/page", page)
    r.add_get("/ui/tickets/{number}/attachments/{sha256}", attachment)
    r.add_get("/ui/incidents", incidents)
    r.add_get("/ui/incidents/{id}", incident)
    r.add_post("/ui/incidents/{id}/ack", acknowledge)
    r.add_post("/ui/incidents/{id}/resolve", resolve)
    r.add_post("/ui/oncall/requests", ask_override)
    r.add_post("/ui/oncall/requests/{id}/confirm", confirm_override)
    r.add_post("/ui/oncall/requests/{id}/decline", decline_override)


def _actor(s: PortalSession) -> str:
    return (s.account.person or s.account.email)[: desk.MAX_ACTOR]


def _projects(rt: Any) -> list[str]:
    return sorted(desk.projects(rt.config))


@per_config
def _all_project_options(cfg: Config) -> str:
    """Every project's `<option>`, escaped once per config: with 500 customers there are 750, and escaping
    them on every view was a third of the queue page's rendering (bench/portal.py)."""
    return "".join(f'<option value="{escape(p)}">{escape(p)}</option>' for p in sorted(desk.projects(cfg)))


def _project_options(rt: Any, selected: str | None) -> Markup:
    """The `<option>`s of every project (the queue's filter, the ticket's project), `selected` marked."""
    html = _all_project_options(rt.config)
    if selected:
        mark = f'<option value="{escape(selected)}">'
        html = html.replace(mark, mark[:-1] + " selected>", 1)
    return Markup(html)  # noqa: S704 - every value in it is escaped in _all_project_options


def _people(rt: Any) -> list[tuple[str, str]]:
    return [(pid, p.name or pid) for pid, p in sorted(rt.config.people.items())]


def _risk_of(rt: Any, t: TicketDetail, now: datetime) -> str:
    return targets.ticket_risk(rt.config, rt.schedule.calendar, t, now)


async def _posted(request: web.Request) -> tuple[PortalSession | None, Mapping[str, str], web.Response | None]:
    """The session and form of a POST, or the answer that ends it (403 without a valid CSRF token, the
    sign-in page without a session)."""
    form = await base._form(request)
    s = await base._session(request)
    if not form.get("csrf") or (s is not None and not base._csrf_ok(form.get("csrf"), s.csrf)):
        return s, form, base._error(request, 403, STALE_FORM, s)
    if s is None:
        return None, form, base._to_login(request)
    return s, form, None


# -- the queue -------------------------------------------------------------------------------------------


async def queue(
    request: web.Request,
    s: PortalSession,
    *,
    status: int = 200,
    notice: str | None = None,
    picked: frozenset[str] = frozenset(),
) -> web.Response:
    """/ui/tickets for staff: the queue with its filters (an engineer's holds only its own tickets)."""
    rt = base._rt(request)
    who = base.viewer_of(request, s)
    try:
        f = rules.parse_queue(
            request.query,
            projects=desk.projects(rt.config),
            people=set(rt.config.people),
            statuses={x.value for x in Status},
        )
    except ValueError:
        return base._error(request, 400, "Unknown filter value.", s)
    # the store's query holds every filter of the queue `all` but the risk: without a risk filter, the
    # newest QUEUE_SHOWN it lists are the page; otherwise the newest RISK_SCAN are looked through
    in_query = f.queue == "all" and f.risk is None
    rows = await rt.store.list_tickets(
        status=f.status,
        project=f.project if f.project not in (None, "none") else None,
        triage=f.project == "none",
        # an engineer's queue is its own tickets, in the store's query already (and every row checked again)
        assignee=f.assignee if rules.may_triage(who) else (who.person or "none"),
        limit=QUEUE_SHOWN if in_query else targets.RISK_SCAN,
    )
    # everything but the risk is judged on the listed row; the risk needs the ticket's timeline
    listed = [
        row
        for row in portal.rules.visible_tickets(who, rows)
        if rules.in_queue(
            replace(f, risk=None), row, known_sender=row.requester.contact is not None, ticket_risk="none"
        )
    ]
    judged = await targets.with_risk(
        rt.store,
        rt.config,
        rt.schedule.calendar,
        listed,
        rt.clock.now(),
        risk=f.risk,
        limit=QUEUE_SHOWN,
        known=request.app[KNOWN],
    )
    shown = [{"t": t, "risk": risk, "unknown": t.requester.contact is None} for t, risk in judged]
    ctx = {
        "rows": shown,
        "f": f,
        "statuses": base.STATUSES,
        "project_options": _project_options(rt, f.project),
        "people": _people(rt),
        "risks": rules.RISKS,
        "may_triage": rules.may_triage(who),
        "notice": notice,
        "picked": picked,
        "assigned": request.query.get("assigned", "")[:4] if request.query.get("assigned", "").isdigit() else None,
        "labels": LABELS,
    }
    return base.render(request, "desk_tickets.html", ctx, status=status, session=s)


async def bulk_assign(request: web.Request) -> web.Response:
    """POST /ui/tickets: the checked tickets assigned to one person (desk.assign_many, as the API's)."""
    rt = base._rt(request)
    data = await request.post()
    s, form, stop = await _posted(request)
    if stop is not None:
        return stop
    assert s is not None
    if not rules.may_triage(base.viewer_of(request, s)):
        return base._error(request, 403, FORBIDDEN, s)
    raw = [v for v in data.getall("number", []) if isinstance(v, str)]
    if (
        not raw
        or len(raw) > rules.MAX_BULK
        or any(not v.isascii() or not v.isdigit() or len(v) > _DIGITS_MAX for v in raw)
    ):
        return await queue(request, s, status=422, notice="bulk_invalid", picked=frozenset(raw[: rules.MAX_BULK]))
    assignee = form.get("assignee", "")
    try:
        done = await desk.assign_many(
            rt.store,
            rt.config,
            {"numbers": [int(v) for v in raw], "assignee": assignee or None, "by": _actor(s)},
            rt.clock.now(),
        )
    except (InputError, NotFound):
        return await queue(request, s, status=422, notice="bulk_invalid", picked=frozenset(raw))
    log.info("portal_bulk_assign", count=len(done), assignee=assignee or None, account=s.account.id)
    return base._redirect(f"{PREFIX}/tickets?assigned={len(done)}")


# -- the staff ticket page ---------------------------------------------------------------------------------


async def ticket_page(
    request: web.Request,
    s: PortalSession,
    t: TicketDetail,
    *,
    status: int = 200,
    error: str | None = None,
    text: str = "",
    problems: tuple[str, ...] = (),
) -> web.Response:
    """The ticket page for staff: the timeline and reply form, plus the desk's forms."""
    rt = base._rt(request)
    who = base.viewer_of(request, s)
    now = rt.clock.now()
    judged = ticket_targets(rt.config, rt.schedule.calendar, t, now)
    ctx = {
        "t": t,
        "error": error,
        "text": text,
        "problems": problems,
        "targets": [(k.value, v) for k, v in (judged or {}).items()],
        "risk": _risk_of(rt, t, now),
        "statuses": base.STATUSES,
        "project_options": _project_options(rt, t.project),
        "people": _people(rt),
        "time_kinds": [k.value for k in TimeKind],
        "may_triage": rules.may_triage(who),
        "labels": LABELS,
        "may_page": rules.may_triage(who) and t.kind == "request" and t.project is not None and t.status != "closed",
    }
    return base.render(request, "desk_ticket.html", ctx, status=status, session=s)


async def _act(request: web.Request, *, triage_only: bool | tuple[str, ...], action: Any) -> web.Response:
    """A staff form on a ticket: CSRF, session, the ticket (scoped), the role, then `action(rt, s, n,
    form)`; an InputError or Conflict shows the ticket page again with the problems."""
    rt = base._rt(request)
    number = base._number(request)
    s, form, stop = await _posted(request)
    if stop is not None:
        return stop
    assert s is not None
    who = base.viewer_of(request, s)
    t = await portal.ticket_for(rt.store, who, number) if number is not None else None
    if t is None:
        return base._error(request, 404, "No such ticket.", s)
    if isinstance(triage_only, tuple):  # these fields of the form are the desk's
        triage_only = any(k in form for k in triage_only)
    if not rules.may_work_ticket(who) or (triage_only and not rules.may_triage(who)):
        return base._error(request, 403, FORBIDDEN, s)
    assert number is not None
    try:
        anchor = await action(rt, s, number, form)
    except InputError as exc:
        problems = tuple(f"{p.field}: {p.message}" for p in exc.problems) or (exc.message,)
        return await ticket_page(request, s, t, status=422, problems=problems)
    except Conflict as exc:
        t = await portal.ticket_for(rt.store, who, number) or t
        return await ticket_page(request, s, t, status=409, problems=(str(exc),))
    log.info("portal_ticket_" + request.path.rsplit("/", 1)[-1], ticket=number, account=s.account.id)
    return base._redirect(f"{PREFIX}/tickets/{number}#{anchor}")


async def note(request: web.Request) -> web.Response:
    async def act(rt: Any, s: PortalSession, n: int, form: Mapping[str, str]) -> str:
        e = desk.entry({"text": form.get("text", "").replace("\r\n", "\n"), "by": _actor(s)}, reply=False)
        await rt.store.add_ticket_note(n, actor=e["actor"], text=e["text"], now=rt.clock.now())
        return "latest"

    return await _act(request, triage_only=False, action=act)


_CHANGE_FIELDS = ("status", "assignee", "project", "priority")


async def change(request: web.Request) -> web.Response:
    """Status (staff), assignee, project or priority (the desk): the fields the form sends, as a PATCH."""

    async def act(rt: Any, s: PortalSession, n: int, form: Mapping[str, str]) -> str:
        data: dict[str, Any] = {k: (form[k] or None) for k in _CHANGE_FIELDS if k in form}
        changes, actor = desk.changes(rt.config, {**data, "by": _actor(s)})
        await rt.store.update_ticket(n, changes, actor=actor, now=rt.clock.now())
        return "latest"

    return await _act(request, triage_only=_CHANGE_FIELDS[1:], action=act)


async def time_entry(request: web.Request) -> web.Response:
    async def act(rt: Any, s: PortalSession, n: int, form: Mapping[str, str]) -> str:
        raw = form.get("minutes", "").strip()
        minutes: object = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else raw[:16]
        e = desk.time_entry(
            {"kind": form.get("kind", ""), "minutes": minutes, "by": _actor(s), "note": form.get("note") or None}
        )
        await rt.store.add_ticket_time(n, now=rt.clock.now(), **e)
        return "time"

    return await _act(request, triage_only=False, action=act)


async def page(request: web.Request) -> web.Response:
    """Turn a request into a page: desk.page, as POST /api/v1/tickets/{n}/page."""

    async def act(rt: Any, s: PortalSession, n: int, form: Mapping[str, str]) -> str:
        await desk.page(
            rt.store, rt.config, n, {"severity": form.get("severity", "critical"), "by": _actor(s)}, rt.clock.now()
        )
        if rt.engine is not None:
            rt.engine.poke()
        return "latest"

    return await _act(request, triage_only=True, action=act)


async def attachment(request: web.Request) -> web.StreamResponse:
    """An attachment's bytes, for anyone who may see the ticket and the attachment (a customer's contact:
    its own customer's tickets, public entries only), always as a download."""
    rt = base._rt(request)
    number = base._number(request)
    sha256 = request.match_info["sha256"]
    s = await base._session(request)
    if s is None:
        return base._to_login(request)
    t = await portal.ticket_for(rt.store, base.viewer_of(request, s), number) if number is not None else None
    found = await mail_desk.attachment_content(rt.store, rt.config, t, sha256) if t is not None else None
    if found is None:
        return base._error(request, 404, "No such attachment.", s)
    a, content = found
    log.info("portal_attachment", ticket=number, account=s.account.id, size=len(content))
    return web.Response(body=content, headers=attachment_headers(a.name))


def attachment_headers(name: str) -> dict[str, str]:
    """A download whatever the file claims to be: octet-stream, `attachment`, the name as ASCII and as
    RFC 5987 UTF-8."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)[:200]
    return {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"attachment; filename=\"{ascii_name or 'attachment'}\"; filename*=UTF-8''{quote(name[:200], safe='')}",
    }


# -- incidents -------------------------------------------------------------------------------------------


def _incident_id(request: web.Request) -> int | None:
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > _DIGITS_MAX or int(raw) == 0:
        return None
    return int(raw)


async def _staff(request: web.Request) -> tuple[PortalSession | None, web.Response | None]:
    s = await base._session(request)
    if s is None:
        return None, base._to_login(request)
    if not rules.may_see_incidents(base.viewer_of(request, s)):
        return s, base._error(request, 404, "No such incident.", s)
    return s, None


async def incidents(request: web.Request) -> web.Response:
    rt = base._rt(request)
    s = await base._session(request)
    if s is None:
        return base._to_login(request)
    if not rules.may_see_incidents(base.viewer_of(request, s)):
        return base._error(request, 403, "This page is for the agency's staff.", s)
    rows = []
    for state in (State.TRIGGERED, State.ACKNOWLEDGED, State.RESOLVED):
        rows += await rt.store.list_incidents(state=state.value, limit=100 if state is State.RESOLVED else 500)
    rows.sort(key=rules.incident_order)
    return base.render(request, "incidents.html", {"incidents": rows}, session=s)


async def _incident_page(
    request: web.Request, s: PortalSession, iid: int, *, status: int = 200, problem: str | None = None
) -> web.Response:
    rt = base._rt(request)
    inc = await rt.store.get_incident(iid)
    if inc is None:
        return base._error(request, 404, "No such incident.", s)
    clock = await response_of(rt, inc)
    ctx = {
        "i": inc,
        "clock": clock["current"],
        "rounds": clock["rounds"],
        "problem": problem,
        "open": rules.is_open(inc.state),
        "labels": LABELS,
    }
    return base.render(request, "incident.html", ctx, status=status, session=s)


async def incident(request: web.Request) -> web.Response:
    iid = _incident_id(request)
    s, stop = await _staff(request)
    if stop is not None:
        return stop
    assert s is not None
    if iid is None:
        return base._error(request, 404, "No such incident.", s)
    return await _incident_page(request, s, iid)


async def _answer(request: web.Request, target: State) -> web.Response:
    """Acknowledge or resolve: the store's transition, as POST /api/v1/incidents/{id}/ack|resolve (via
    `portal`, by the account's person)."""
    rt = base._rt(request)
    iid = _incident_id(request)
    s, form, stop = await _posted(request)
    if stop is not None:
        return stop
    assert s is not None
    if iid is None or not rules.may_see_incidents(base.viewer_of(request, s)):
        return base._error(request, 404, "No such incident.", s)
    if not rules.may_answer_incident(base.viewer_of(request, s)):
        return base._error(request, 403, FORBIDDEN, s)
    try:
        await rt.store.transition(iid, target, actor=_actor(s), via="portal", comment=None, now=rt.clock.now())
    except NotFound:
        return base._error(request, 404, "No such incident.", s)
    except Conflict:
        return await _incident_page(request, s, iid, status=409, problem="conflict")
    log.info("portal_incident_" + target.value, incident=iid, account=s.account.id)
    back = form.get("back", "")
    if back == "oncall":
        return base._redirect(f"{PREFIX}/oncall#mine")
    return base._redirect(f"{PREFIX}/incidents/{iid}")


async def acknowledge(request: web.Request) -> web.Response:
    return await _answer(request, State.ACKNOWLEDGED)


async def resolve(request: web.Request) -> web.Response:
    return await _answer(request, State.RESOLVED)


# -- the engineer's part of /ui/oncall ---------------------------------------------------------------------


async def oncall_extras(request: web.Request, s: PortalSession, now: datetime) -> dict[str, Any]:
    """My shifts for the next weeks (with the calendar's period of each), the overrides that are on or to
    come, and my open incidents (those whose escalation reached my person)."""
    rt = base._rt(request)
    who: Viewer = base.viewer_of(request, s)
    records = await rt.store.list_overrides()
    overrides = overrides_from(records)
    until = now + timedelta(weeks=SHIFT_WEEKS)
    mine: list[dict[str, Any]] = []
    if who.person:
        for rotation in rt.schedule.rotations:
            for sh in rt.schedule.shifts(rotation, now, until, overrides):
                if sh["person"] == who.person:
                    start = parse_utc(sh["start"])
                    assert start is not None
                    mine.append({**sh, "period": rt.schedule.calendar.period_at(start).value})
    mine.sort(key=lambda sh: (sh["start"], sh["rotation"]))
    coming = sorted(
        (o for o in overrides if o.end > now and o.start < until),
        key=lambda o: (o.start, o.rotation),
    )
    people = rt.config.people
    shown_overrides = [
        {
            "rotation": o.rotation,
            "start": o.start,
            "end": o.end,
            "person": people[o.person].name if o.person in people else o.person,
            "replaces": (people[o.replaces].name if o.replaces in people else o.replaces) if o.replaces else None,
        }
        for o in coming
    ]
    my_incidents = []
    if who.person:
        open_rows = []
        for state in (State.TRIGGERED, State.ACKNOWLEDGED):
            open_rows += await rt.store.list_incidents(state=state.value, limit=500)
        reached = {
            r.incident_id for r in await rt.store.rounds_paged(who.person, [i.id for i in open_rows]) if r.rounds
        }
        my_incidents = sorted((i for i in open_rows if i.id in reached), key=rules.incident_order)
    asked = [
        r
        for r in await rt.store.list_override_requests(limit=200)
        if r.status == "pending" or r.requested_by == who.person
    ]
    problems, typed = request.get(ASKED, ((), {}))
    return {
        "my_shifts": mine,
        "overrides": shown_overrides,
        "my_incidents": my_incidents,
        "labels": LABELS,
        "requests": [r for r in asked if rules.may_triage(who) or r.requested_by == who.person][:50],
        "may_ask": rules.may_request_override(who),
        "may_decide": rules.may_triage(who),
        "rotations": list(rt.schedule.rotations),
        "people": _people(rt),
        "problems": problems,
        "typed": typed,
    }


async def ask_override(request: web.Request) -> web.Response:
    """POST /ui/oncall/requests: a swap or override request, as POST /api/v1/override-requests."""
    rt = base._rt(request)
    s, form, stop = await _posted(request)
    if stop is not None:
        return stop
    assert s is not None
    who = base.viewer_of(request, s)
    if not rules.may_request_override(who):
        return base._error(request, 403, FORBIDDEN, s)
    data = {k: form.get(k) or None for k in ("rotation", "start", "end", "person", "replaces", "note")}
    try:
        row = await override_requests_.ask(rt.store, rt.schedule, data, by=_actor(s), now=rt.clock.now())
    except (InputError, Conflict) as exc:
        problems = (
            tuple(f"{p.field}: {p.message}" for p in exc.problems) if isinstance(exc, InputError) else (str(exc),)
        )
        request[ASKED] = (problems, {k: (v or "")[:200] for k, v in data.items()})
        response = await base.oncall(request)
        response.set_status(422)
        return response
    log.info("portal_override_requested", request=row.id, account=s.account.id)
    return base._redirect(f"{PREFIX}/oncall#requests")


async def _decide_override(request: web.Request, confirm: bool) -> web.Response:
    rt = base._rt(request)
    rid = _incident_id(request)  # the same shape: a positive integer
    s, _, stop = await _posted(request)
    if stop is not None:
        return stop
    assert s is not None
    if not rules.may_triage(base.viewer_of(request, s)):
        return base._error(request, 403, FORBIDDEN, s)
    if rid is None:
        return base._error(request, 404, "No such request.", s)
    try:
        await override_requests_.decide(rt.store, rid, confirm=confirm, by=_actor(s), now=rt.clock.now())
    except NotFound:
        return base._error(request, 404, "No such request.", s)
    except Conflict:
        return base._error(request, 409, "This request has been decided already.", s)
    log.info("portal_override_decided", request=rid, confirmed=confirm, account=s.account.id)
    return base._redirect(f"{PREFIX}/oncall#requests")


async def confirm_override(request: web.Request) -> web.Response:
    return await _decide_override(request, True)


async def decline_override(request: web.Request) -> web.Response:
    return await _decide_override(request, False)
