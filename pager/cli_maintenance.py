"""`pagerd maintenance add|list|remove` and `pagerd route` (what an alert would page). Parsers and handlers;
pager.cli wires them in."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pager.domain.maintenance import window_problems

BY = os.environ.get("USER") or "cli"
MAX_LABELS = 64


def add_parsers(sub: Any, config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    mt = sub.add_parser("maintenance", help="maintenance windows: incidents recorded, nobody paged")
    msub = mt.add_subparsers(dest="maintenance_cmd", required=True)
    s = msub.add_parser("add", help="a window for a customer, a project or label matchers")
    config_arg(s)
    s.add_argument("--from", dest="start", required=True, help="ISO 8601 instant; without offset: calendar time zone")
    s.add_argument("--to", dest="end", required=True, help="ISO 8601 instant")
    scope = s.add_mutually_exclusive_group(required=True)
    scope.add_argument("--customer", help="customer id (under customers): all its projects")
    scope.add_argument("--project", help="CUSTOMER/PROJECT")
    scope.add_argument("--match", action="append", metavar="K=V", help="a label matcher (repeatable: all must match)")
    s.add_argument("--reason", required=True, help="why (shown on the incidents it holds)")
    s.add_argument("--by", default=BY, help="who (default: $USER)")
    s.add_argument("--json", action="store_true")
    s = msub.add_parser("list", help="windows running or to come")
    config_arg(s)
    s.add_argument("--customer")
    s.add_argument("--all", action="store_true", help="include ended and removed windows")
    s.add_argument("--json", action="store_true")
    s = msub.add_parser("remove", help="end a window now (it is kept, marked removed)")
    config_arg(s)
    s.add_argument("id", type=int)
    s.add_argument("--by", default=BY, help="who (default: $USER)")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("route", help="what an alert with these labels would page, and when")
    config_arg(s)
    s.add_argument("--labels", nargs="+", required=True, metavar="K=V", help="the alert's labels (severity=... too)")
    s.add_argument("--at", help="ISO 8601 instant (default: now); without offset: calendar time zone")
    s.add_argument("--json", action="store_true")


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if len(items) > MAX_LABELS:
        raise SystemExit(f"pagerd: {flag}: at most {MAX_LABELS} labels")
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"pagerd: {flag}: expected K=V, got {item[:80]!r}")
        out[key.strip()] = value
    return out


def _local(at: datetime | None, zone: Any) -> str | None:
    """An instant in local time with its offset: "Tue 2026-12-08 22:00 +01:00"."""
    from pager.domain.calendar import local_text

    if at is None:
        return None
    return f"{at.astimezone(zone):%a} {local_text(at, zone)}"


def _json_ready(value: Any) -> Any:
    from pager.storage.port import json_instant

    if isinstance(value, datetime):
        return json_instant(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


async def run(args: argparse.Namespace, load: Callable[[argparse.Namespace], Any], make_clock: Callable) -> int:
    from pager.app import make_store
    from pager.service.schedule import Schedule, parse_instant

    cfg = load(args)
    clock = make_clock(cfg)
    now = clock.now()
    sched = Schedule(cfg)
    tz = sched.calendar.rules.tz
    zone = sched.calendar.zone

    def instant(value: str | None, flag: str) -> datetime:
        if value is None:
            return now
        try:
            return parse_instant(value, tz)
        except (ValueError, OverflowError):
            raise SystemExit(f"pagerd: {flag}: not an ISO 8601 instant (years 1900-2199): {value[:80]!r}") from None

    def fail(msg: str) -> int:
        print(f"pagerd: {msg}", file=sys.stderr)
        return 1

    if args.cmd == "maintenance" and args.maintenance_cmd == "add":
        start, end = instant(args.start, "--from"), instant(args.end, "--to")
        match = _pairs(args.match or [], "--match")
        problems = window_problems(
            start=start,
            end=end,
            now=now,
            customer=args.customer,
            project=args.project,
            match=match,
            reason=args.reason,
            customers={cid: list(c.projects) for cid, c in cfg.customers.items()},
        )
        if problems:
            field, message = problems[0]
            flag = {"end": "--to", "scope": "--customer/--project/--match"}.get(field, f"--{field}")
            return fail(f"{flag}: {message.replace('after start', 'after --from')}")
    if args.cmd == "route":
        labels = _pairs(args.labels, "--labels")
        at = instant(args.at, "--at")

    store = make_store(cfg, clock)
    await store.open()
    try:
        from pager.storage.port import NotFound

        if args.cmd == "route":
            from pager.service.paging import plan_of, windows_of
            from pager.service.preview import preview
            from pager.service.schedule import overrides_from

            result = preview(
                cfg,
                plan_of(cfg),
                sched,
                labels=labels,
                at=at,
                bookings=await store.list_bookings(ending_after=at),
                windows=windows_of(await store.list_maintenance(ending_after=at)),
                overrides=overrides_from(await store.list_overrides()),
            )
            if args.json:
                print(json.dumps(_json_ready(result), ensure_ascii=False))
            else:
                _print_preview(result, zone, cfg)
            return 0
        if args.maintenance_cmd == "add":
            w = await store.add_maintenance(
                customer=args.customer,
                project=args.project,
                match=match,
                start=start,
                end=end,
                reason=args.reason,
                created_by=args.by,
                now=now,
            )
            print(json.dumps(w.to_json()) if args.json else f"maintenance window {w.id}: {_line(w, zone)}")
            return 0
        if args.maintenance_cmd == "list":
            rows = await store.list_maintenance(
                args.customer, include_removed=args.all, ending_after=None if args.all else now
            )
            if args.json:
                print(json.dumps([w.to_json() for w in rows]))
            else:
                for w in rows:
                    print(f"{w.id:>4}  {_line(w, zone)}")
            return 0
        try:
            w = await store.remove_maintenance(args.id, removed_by=args.by, now=now)
        except NotFound as exc:
            return fail(str(exc))
        print(json.dumps(w.to_json()) if args.json else f"maintenance window {w.id} removed")
        return 0
    finally:
        await store.close()


def _line(w: Any, zone: Any) -> str:
    from pager.domain.maintenance import MaintenanceWindow

    scope = MaintenanceWindow(
        id=w.id, start=w.start, end=w.end, customer=w.customer, project=w.project, match=w.match
    ).scope
    removed = f"  removed {_local(w.removed_at, zone)} by {w.removed_by}" if w.removed_at else ""
    return f"{scope}  {_local(w.start, zone)} .. {_local(w.end, zone)}  {w.reason}  (by {w.created_by}){removed}"


def _print_preview(r: dict[str, Any], zone: Any, cfg: Any) -> None:
    def local(at: datetime | None) -> str:
        return _local(at, zone) or "-"

    labels = " ".join(f"{k}={v}" for k, v in r["labels"].items())
    route = r["route"]
    via = (
        "no route matched: the default project"
        if route is None
        else "route "
        + " ".join(
            [f"{k}={v}" for k, v in route["match"].items()] + [f"{k}=~{v}" for k, v in route["match_re"].items()]
        )
        if route and (route["match"] or route["match_re"])
        else "a catch-all route"
    )
    if route is None:
        via = "no route matched: the default project"
    rule = r["urgency_rule"]
    rule_text = (
        f"urgency {rule['force']} ({rule['from']})"
        if rule["force"]
        else f"low: {', '.join(rule['low']) or 'none'} ({rule['from']})"
    )
    print(f"alert        {labels}")
    print(f"at           {local(r['at'])}  ({r['period']})")
    print(f"project      {r['project']}  ({via})")
    print(f"coverage     {r['coverage']}")
    print(f"urgency      {r['urgency']}  (severity {r['severity']}; {rule_text})")
    m = r["maintenance"]
    held = "none" if m is None else f"window #{m['id']} ({m['scope']}) until {local(m['end'])}: {m['reason']}"
    print(f"maintenance  {held}")
    for d in r["decisions"]:
        print(f"decision     {local(d['at'])}  {d['action']}: {d['reason']}")
    if r["desk_at"] is not None:
        print(f"desk         e-mailed {local(r['desk_at'])}")
    if not r["steps"]:
        print("steps        nobody is paged")
        return
    print(f"steps        rotation {r['rotation']}, first page {local(r['first_page_at'])}")
    for s in r["steps"]:
        people = ", ".join(f"{cfg.people[p].name} ({p})" for p in s["people"])
        print(f"  {local(s['at'])}  step {s['step'] + 1}, round {s['round'] + 1}: {people}")
        for p in s["people"]:
            ways = [f"{c['channel']} {c['at'].astimezone(zone):%H:%M}" for c in s["contacts"] if c["person"] == p]
            print(f"      {p:<10} {', '.join(ways) or 'no contact address'}")
        for n in s["notes"]:
            print(f"      note: {n}")
