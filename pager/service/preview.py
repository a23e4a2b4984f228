"""What an alert would page, previewed (`pagerd route`): the project, coverage, urgency, maintenance window,
and whom each escalation step pages and when, through the very functions the engine decides with
(pager.service.paging.decide, step_people; pager.domain.paging.step_at, next_fire, contact_plan)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pager.config import Config
from pager.domain import paging as dp
from pager.domain import response
from pager.domain.maintenance import MaintenanceWindow
from pager.domain.urgency import Action, PagingDecision
from pager.service.paging import Plan, decide, rotation_name, step_people
from pager.service.schedule import Schedule
from pager.storage.port import Booking

MAX_DECISIONS = 16  # held, then deferred, then held again ...: a chain this long is a config to look at


def severity_of(labels: Mapping[str, str]) -> str:
    """The severity an Alertmanager alert with these labels gets (pager.sources.alertmanager): its
    `severity` label, "critical" when it has none."""
    return labels.get("severity", "critical")


def _decision_json(d: PagingDecision, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "action": d.action.value,
        "period": d.coverage.period.value,
        "severity": d.severity,
        "urgency": d.urgency.value,
        "rotation": d.rotation,
        "next_at": d.next_at,
        "window": None
        if d.window is None
        else {"id": d.window.id, "scope": d.window.scope, "end": d.window.end, "reason": d.window.reason},
        "reason": d.reason,
    }


def preview(
    cfg: Config,
    plan: Plan,
    schedule: Schedule,
    *,
    labels: Mapping[str, str],
    at: datetime,
    bookings: list[Booking],
    windows: list[MaintenanceWindow],
    overrides: list,
) -> dict[str, Any]:
    """The preview of an alert with `labels` arriving at `at` (instants as datetimes; the caller prints)."""
    route = dp.first_route(plan.routes, labels)
    project = route.project if route is not None else plan.default_project
    customer = plan.customer_of.get(project)
    rows = [b for b in bookings if customer is not None and b.customer == customer]
    severity = severity_of(labels)
    rule = plan.urgency_rule(project, route)
    decisions: list[dict[str, Any]] = []
    desk_at: datetime | None = None
    first: datetime | None = None
    t = at
    final: PagingDecision | None = None
    for _ in range(MAX_DECISIONS):
        d = decide(
            plan,
            schedule,
            project=project,
            route=route,
            labels=labels,
            severity=severity,
            bookings=rows,
            windows=windows,
            now=t,
        )
        decisions.append(_decision_json(d, t))
        final = d
        if d.action is Action.PAGE:
            first = t
            break
        if d.action is Action.DESK:
            desk_at = d.next_at
            break
        if d.action is Action.DEFER and desk_at is None:
            desk_at = t  # the desk is e-mailed when it is deferred
        if d.next_at is None:
            break
        t = d.next_at
    assert final is not None
    steps: list[dict[str, Any]] = []
    rotation = None
    if first is not None:
        rotation = rotation_name(cfg, final.rotation)
        policy = plan.policy(project)
        target = (plan.targets.get(project) or response.ResponseTarget()).target
        k, when = 0, first
        for _ in range(policy.total_steps + 1):
            due = dp.step_at(policy, first, k)
            if due is None:
                break
            people, notes = step_people(cfg, schedule, overrides, policy.steps[due.index], rotation, when)
            contacts = []
            for person in people:
                p = cfg.people[person]
                rules = [dp.ContactRule(r.channel, r.after) for r in (p.contact_rules or cfg.paging.contact_rules)]
                for channel, due_at in dp.contact_plan(rules, when):
                    if p.email if channel == "email" else p.phone:
                        contacts.append({"person": person, "channel": channel, "at": due_at})
            steps.append(
                {
                    "k": k,
                    "step": due.index,
                    "round": due.round,
                    "at": when,
                    "people": people,
                    "notes": notes,
                    "contacts": contacts,
                }
            )
            nxt, _early = dp.next_fire(policy, first, k, target, cfg.paging.escalate_at)
            if nxt is None:
                break
            k, when = k + 1, nxt
    held = next((d["window"] for d in decisions if d["window"] is not None), None)
    return {
        "labels": dict(labels),
        "at": at,
        "project": project,
        "route": None
        if route is None
        else {"project": route.project, "match": dict(route.match), "match_re": dict(route.match_re)},
        "customer": customer,
        "coverage": plan.coverage_of(project).mode.value,
        "period": decisions[0]["period"],
        "severity": decisions[0]["severity"],
        "urgency": decisions[0]["urgency"],
        "urgency_rule": {
            "low": sorted(rule.low),
            "force": rule.force.value if rule.force else None,
            "from": rule.source,
        },
        "maintenance": held,
        "decisions": decisions,
        "desk_at": desk_at,
        "first_page_at": first,
        "rotation": rotation,
        "steps": steps,
    }
