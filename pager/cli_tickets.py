"""`pagerd ticket new|list|show|reply|note|assign|status|time|page`: the support desk from the command line
(a phone call filed by hand). Every check is pager.service.desk's, as in the API; pager.cli wires it in."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from pager.domain.ticket import Priority, Status, TimeKind, parse_ref

BY = os.environ.get("USER") or "cli"


def _number(value: str) -> int:
    n = parse_ref(value)
    if n is None:
        raise argparse.ArgumentTypeError(f"not a ticket number (1234 or #1234): {value[:40]!r}")
    return n


def add_parsers(sub: Any, config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    tk = sub.add_parser(
        "ticket", help="support desk tickets: file, list, show, reply, note, assign, status, time, page"
    )
    tsub = tk.add_subparsers(dest="ticket_cmd", required=True)

    s = tsub.add_parser("new", help="file a request (e.g. from a phone call: --via phone --from NUMBER)")
    config_arg(s)
    s.add_argument("--project", help="CUSTOMER/PROJECT (none: the triage queue)")
    s.add_argument(
        "--via", choices=["phone", "email", "api"], help="default: email when --from is an address, else phone"
    )
    s.add_argument("--from", dest="sender", help="the caller's phone number (or sender's address): finds the contact")
    s.add_argument("--name", help="the requester's name, when not a known contact")
    s.add_argument("--subject", required=True)
    s.add_argument("--body", default="", help="what was asked ('-': read from standard input)")
    s.add_argument("--priority", choices=[p.value for p in Priority], default="normal")
    s.add_argument("--assignee", help="a person id of the config")
    s.add_argument("--by", default=BY, help="who files it (default: $USER)")
    s.add_argument("--json", action="store_true")

    s = tsub.add_parser("list", help="tickets, newest first")
    config_arg(s)
    s.add_argument("--status", choices=[x.value for x in Status])
    s.add_argument("--project", help="CUSTOMER/PROJECT, or none: the triage queue")
    s.add_argument("--q", help="full-text search over subjects, replies and notes")
    s.add_argument("--limit", default="100")
    s.add_argument("--json", action="store_true")

    s = tsub.add_parser("show", help="one ticket with its timeline")
    config_arg(s)
    s.add_argument("number", type=_number)
    s.add_argument("--json", action="store_true")

    for name, what in (("reply", "a public reply (the customer sees it)"), ("note", "an internal note")):
        s = tsub.add_parser(name, help=what)
        config_arg(s)
        s.add_argument("number", type=_number)
        s.add_argument("text", help="the text ('-': read from standard input)")
        if name == "reply":
            s.add_argument("--from-customer", action="store_true", help="the customer said it (e.g. on the phone)")
        s.add_argument("--by", default=BY)
        s.add_argument("--json", action="store_true")

    s = tsub.add_parser("assign", help="give the ticket to a person (none: nobody)")
    config_arg(s)
    s.add_argument("number", type=_number)
    s.add_argument("person")
    s.add_argument("--by", default=BY)
    s.add_argument("--json", action="store_true")

    s = tsub.add_parser("status", help="move the ticket's status (README: the status table)")
    config_arg(s)
    s.add_argument("number", type=_number)
    s.add_argument("status", choices=[x.value for x in Status])
    s.add_argument("--by", default=BY)
    s.add_argument("--json", action="store_true")

    s = tsub.add_parser("time", help="log time on the ticket: covered, billable or callout")
    config_arg(s)
    s.add_argument("number", type=_number)
    s.add_argument("--kind", required=True, choices=[k.value for k in TimeKind])
    s.add_argument("--minutes", required=True)
    s.add_argument("--note")
    s.add_argument("--by", default=BY)
    s.add_argument("--json", action="store_true")

    s = tsub.add_parser("page", help="turn the request into an incident on the same number: the on-call is paged")
    config_arg(s)
    s.add_argument("number", type=_number)
    s.add_argument("--severity", choices=["critical", "warning", "info"], default="critical")
    s.add_argument("--by", default=BY)
    s.add_argument("--json", action="store_true")


def add_mail_parsers(sub: Any, config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    from pager.storage.port import MAIL_STATUSES

    m = sub.add_parser("mail", help="stored incoming mail: list it (unparseable: the desk's to look at), show raw")
    msub = m.add_subparsers(dest="mail_cmd", required=True)
    s = msub.add_parser("list", help="stored mail, oldest first")
    config_arg(s)
    s.add_argument("--status", choices=list(MAIL_STATUSES))
    s.add_argument("--limit", default="100")
    s.add_argument("--after", help="only mail with a larger id (the next page)")
    s.add_argument("--json", action="store_true")
    s = msub.add_parser("raw", help="one stored mail's bytes exactly as received, to standard output")
    config_arg(s)
    s.add_argument("id", help="the mail's id")


async def run_mail(args: argparse.Namespace, load: Callable[[argparse.Namespace], Any], make_clock: Callable) -> int:
    from pager.app import make_store
    from pager.service import mail_desk
    from pager.sources.errors import InputError

    cfg = load(args)
    store = make_store(cfg, make_clock(cfg))
    await store.open()
    try:
        if args.mail_cmd == "raw":
            raw_id = args.id
            if not raw_id.isascii() or not raw_id.isdigit() or len(raw_id) > 15 or int(raw_id) == 0:
                print(f"pagerd: mail id must be a positive integer: {raw_id[:40]!r}", file=sys.stderr)
                return 1
            found = await store.get_mail(int(raw_id))
            if found is None:
                print(f"pagerd: mail {int(raw_id)} not found", file=sys.stderr)
                return 1
            sys.stdout.buffer.write(found.raw)
            sys.stdout.buffer.flush()
            return 0
        query = {k: v for k, v in (("status", args.status), ("limit", args.limit), ("after", args.after)) if v}
        try:
            rows = await store.list_mail(**mail_desk.list_filters(query))
        except InputError as exc:
            print(f"pagerd: {_problems(exc)}", file=sys.stderr)
            return 1
    finally:
        await store.close()
    if args.json:
        print(json.dumps([m.to_json() for m in rows], ensure_ascii=False))
        return 0
    for m in rows:
        ticket = f"#{m.ticket}" if m.ticket else "-"
        print(f"{m.id:>6}  {m.status:<12} {ticket:<8} {m.received_at:%Y-%m-%d %H:%M}  {m.envelope_from or '<>'}"
              f"  {(m.reason or '')[:80]}")  # fmt: skip
    return 0


def _text(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def _problems(exc: Any) -> str:
    flag = {"from": "--from", "text": "text", "minutes": "--minutes", "person": "person"}
    parts = [f"{flag.get(p.field, '--' + p.field)}: {p.message}" for p in exc.problems]
    return "; ".join(parts) or exc.message


def _line(t: dict) -> str:
    who = t["requester"]["name"] or t["requester"]["email"] or t["requester"]["phone"] or "-"
    return (
        f"#{t['number']:<6} {t['kind']:<8} {t['status']:<19} {t['priority']:<6} "
        f"{t['project'] or '(triage)':<16} {t['assignee'] or '-':<8} {who[:24]:<24} {t['subject']}"
    )


def _local(at: str | None, zone: Any) -> str:
    """An instant of the JSON in the calendar's time zone with its offset: 2026-12-03 18:00:05 +01:00."""
    from pager.domain.calendar import local_text
    from pager.service.schedule import parse_utc

    return "-" if at is None else local_text(parse_utc(at), zone, seconds=True)


def _office(seconds: int) -> str:
    """Office time as 3h20m (a negative amount: over by that much)."""
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    h, m = s // 3600, (s % 3600) // 60
    return sign + (f"{h}h{m:02d}m" if h else f"{m}m")


def _target_line(kind: str, g: dict, zone: Any) -> str:
    """first_response  at_risk   due 2026-12-07 11:00 +01:00  used 3h20m, left 40m (paused)"""
    from datetime import datetime

    from pager.domain.calendar import local_text

    deadline = g["deadline"]
    due = local_text(datetime.fromisoformat(deadline.replace("Z", "+00:00")), zone) if deadline else "- (paused)"
    left = g["left_seconds"]
    rest = f"left {_office(left)}" if left >= 0 else f"over {_office(-left)}"
    return f"{kind:<15} {g['outcome']:<9} due {due}  used {_office(g['used_seconds'])} of office time, {rest}" + (
        " (paused)" if g["paused"] else ""
    )


def _show(t: dict, zone: Any) -> None:
    print(_line(t))
    print(f"created {_local(t['created_at'], zone)}, updated {_local(t['updated_at'], zone)}")
    r = t["requester"]
    print(f"requester: {r['name'] or '-'} <{r['email'] or '-'}> {r['phone'] or ''}".rstrip())
    if t["watchers"]:
        print("watchers: " + ", ".join(t["watchers"]))
    for kind, g in (t.get("targets") or {}).items():
        print(f"target {_target_line(kind, g, zone)}")
    for e in t.get("timeline", []):
        mark = "public  " if e["public"] else "internal"
        text = e["data"].get("text") if isinstance(e["data"], dict) else None
        detail = text if text is not None else json.dumps(e["data"], ensure_ascii=False)
        print(f"  {_local(e['at'], zone)}  {mark}  {e['kind']:<10} {e['actor'] or '-':<10} {detail}")
    for m in t.get("time", []):
        print(f"  time: {m['kind']} {m['minutes']} min by {m['by']}" + (f" ({m['note']})" if m["note"] else ""))


async def run(args: argparse.Namespace, load: Callable[[argparse.Namespace], Any], make_clock: Callable) -> int:
    from pager.app import make_store
    from pager.service import desk
    from pager.sources.errors import InputError
    from pager.storage.port import Conflict, NotFound

    cfg = load(args)
    clock = make_clock(cfg)

    def fail(msg: str) -> int:
        print(f"pagerd: {msg}", file=sys.stderr)
        return 1

    store = make_store(cfg, clock)
    await store.open()
    try:
        now = clock.now()
        cmd = args.ticket_cmd
        out: Any
        if cmd == "new":
            data: dict[str, Any] = {
                "subject": args.subject,
                "body": _text(args.body),
                "via": args.via or ("email" if args.sender and "@" in args.sender else "phone"),
                "priority": args.priority,
                "by": args.by,
            }
            for key, value in (("project", args.project), ("from", args.sender), ("assignee", args.assignee)):
                if value is not None:
                    data[key] = value
            if args.name:
                data["requester"] = {"name": args.name}
            out = desk.ticket_json(await desk.file_ticket(store, cfg, data, now))
        elif cmd == "list":
            query = {k: v for k, v in (("status", args.status), ("project", args.project), ("q", args.q)) if v}
            query["limit"] = args.limit
            rows = await store.list_tickets(**desk.list_filters(cfg, query))
            out = [desk.ticket_json(t) for t in rows]
        elif cmd == "show":
            t = await store.get_ticket(args.number)
            if t is None:
                return fail(f"ticket #{args.number} not found")
            from pager.service.schedule import Schedule
            from pager.service.targets import targets_json, ticket_targets

            out = desk.ticket_json(t)
            out["targets"] = targets_json(ticket_targets(cfg, Schedule(cfg).calendar, t, now))
        elif cmd in ("reply", "note"):
            fields: dict[str, Any] = {"text": _text(args.text), "by": args.by}
            if cmd == "reply":
                fields["from_customer"] = args.from_customer
            e = desk.entry(fields, reply=cmd == "reply")
            if cmd == "reply":
                t = await store.add_ticket_reply(
                    args.number,
                    actor=e["actor"],
                    text=e["text"],
                    from_customer=e["from_customer"],
                    via="phone" if e["from_customer"] else "api",
                    attachments=(),
                    now=now,
                )
            else:
                t = await store.add_ticket_note(args.number, actor=e["actor"], text=e["text"], now=now)
            out = desk.ticket_json(t)
        elif cmd in ("assign", "status"):
            change = {"assignee": None if args.person == "none" else args.person} if cmd == "assign" else {}
            if cmd == "status":
                change = {"status": args.status}
            changes, actor = desk.changes(cfg, {**change, "by": args.by})
            out = desk.ticket_json(await store.update_ticket(args.number, changes, actor=actor, now=now))
        elif cmd == "time":
            minutes: Any = int(args.minutes) if args.minutes.isascii() and args.minutes.isdigit() else args.minutes
            fields = {"kind": args.kind, "minutes": minutes, "by": args.by}
            if args.note is not None:
                fields["note"] = args.note
            e = desk.time_entry(fields)
            out = (await store.add_ticket_time(args.number, now=now, **e)).to_json()
        elif cmd == "page":
            t = await store.get_ticket(args.number)
            if t is None:
                return fail(f"ticket #{args.number} not found")
            paged = await store.page_ticket(
                args.number, labels=desk.page_labels(cfg, t), severity=args.severity, actor=args.by[:64], now=now
            )
            out = desk.ticket_json(paged)
        else:
            return 2
    except InputError as exc:
        return fail(_problems(exc))
    except (NotFound, Conflict) as exc:
        return fail(str(exc))
    finally:
        await store.close()
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    elif cmd == "list":
        for t in out:
            print(_line(t))
    elif cmd == "time":
        print(f"#{args.number}: {out['kind']} {out['minutes']} min by {out['by']}")
    else:
        from pager.service.schedule import Schedule

        _show(out, Schedule(cfg).calendar.zone)
    return 0
