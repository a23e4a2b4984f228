"""The `pagerd` command. Parses arguments and hands over; no work at import time."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta

from pager import __version__


def _config_arg(p: argparse.ArgumentParser, positional: bool = False) -> None:
    if positional:
        p.add_argument("file", nargs="?", default=os.environ.get("PAGERD_CONFIG"), help="config file ($PAGERD_CONFIG)")
    p.add_argument("-c", "--config", default=None, help="config file (default: $PAGERD_CONFIG)")


def _config_path(args: argparse.Namespace) -> str:
    path = getattr(args, "config", None) or getattr(args, "file", None) or os.environ.get("PAGERD_CONFIG")
    if not path:
        raise SystemExit("pagerd: no config file: pass -c FILE or set PAGERD_CONFIG")
    return path


def _load(args: argparse.Namespace):
    from pager.config import ConfigError, load

    path = _config_path(args)
    try:
        return load(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None


def _clock(cfg):
    """The clock of this command: the composition root's (the system clock, or a test config's manual one)."""
    from pager.app import make_clock

    return make_clock(cfg)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pagerd", description="On-call pager daemon")
    p.add_argument("--version", action="version", version=f"pagerd {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run the daemon")
    _config_arg(s)
    s = sub.add_parser("check-config", help="validate a config file")
    _config_arg(s, positional=True)
    s = sub.add_parser("migrate", help="apply database migrations")
    _config_arg(s)
    s = sub.add_parser("backup", help="copy the database, online, into FILE (mode 0600)")
    _config_arg(s)
    s.add_argument("file", help="the copy to write; an existing file is refused unless --force")
    s.add_argument("--force", action="store_true", help="replace FILE if it exists")

    inc = sub.add_parser("incidents", help="list, show, acknowledge, resolve incidents")
    isub = inc.add_subparsers(dest="incidents_cmd", required=True)
    s = isub.add_parser("list")
    _config_arg(s)
    s.add_argument("--state", choices=["triggered", "acknowledged", "resolved"])
    s.add_argument("--source", choices=["alertmanager", "nagios", "events_v2", "heartbeat"])
    s.add_argument("--since", help="ISO 8601 instant")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    for name in ("show", "ack", "resolve"):
        s = isub.add_parser(name)
        _config_arg(s)
        s.add_argument("id", type=int)
        s.add_argument("--json", action="store_true")
        if name != "show":
            s.add_argument("--by", default=os.environ.get("USER") or "cli", help="who (default: $USER)")
            s.add_argument("--comment")
    s = sub.add_parser("calendar", help="the period (office, weekend, evening_night, holiday) of an instant")
    _config_arg(s)
    s.add_argument("--at", help="ISO 8601 instant (default: now); without offset: calendar time zone")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("oncall", help="who is on call, and until when")
    _config_arg(s)
    s.add_argument("--at", help="ISO 8601 instant (default: now)")
    s.add_argument("--rotation")
    s.add_argument("--json", action="store_true")

    ov = sub.add_parser("override", help="take over (part of) a rotation for a time range")
    osub = ov.add_subparsers(dest="override_cmd", required=True)
    s = osub.add_parser("add")
    _config_arg(s)
    s.add_argument("--rotation", required=True)
    s.add_argument("--from", dest="start", required=True, help="ISO 8601 instant")
    s.add_argument("--to", dest="end", required=True, help="ISO 8601 instant")
    s.add_argument("--person", required=True, help="who takes over")
    s.add_argument("--replaces", help="only replace this person (default: whoever is on call)")
    s.add_argument("--by", default=os.environ.get("USER") or "cli")
    s.add_argument("--json", action="store_true")
    s = osub.add_parser("list")
    _config_arg(s)
    s.add_argument("--rotation")
    s.add_argument("--json", action="store_true")
    s = osub.add_parser("remove")
    _config_arg(s)
    s.add_argument("id", type=int)
    s.add_argument("--by", default=os.environ.get("USER") or "cli")

    bk = sub.add_parser("booking", help="dated standby bookings of a customer")
    bksub = bk.add_subparsers(dest="booking_cmd", required=True)
    s = bksub.add_parser("add")
    _config_arg(s)
    s.add_argument("--customer", required=True, help="customer id (under customers)")
    s.add_argument("--from", dest="start", required=True, help="ISO 8601 instant; without offset: calendar time zone")
    s.add_argument("--to", dest="end", required=True, help="ISO 8601 instant")
    s.add_argument("--by", default=os.environ.get("USER") or "cli")
    s.add_argument("--json", action="store_true")
    s = bksub.add_parser("list")
    _config_arg(s)
    s.add_argument("--customer")
    s.add_argument("--all", action="store_true", help="include cancelled bookings")
    s.add_argument("--json", action="store_true")
    s = bksub.add_parser("remove", help="cancel a booking")
    _config_arg(s)
    s.add_argument("id", type=int)
    s.add_argument("--by", default=os.environ.get("USER") or "cli")
    s.add_argument("--json", action="store_true")

    wk = sub.add_parser("work", help="worked time on incidents")
    wksub = wk.add_subparsers(dest="work_cmd", required=True)
    s = wksub.add_parser("log", help="log worked time: --minutes N, or --from and --to")
    _config_arg(s)
    s.add_argument("incident", type=int)
    s.add_argument("--minutes", type=int)
    s.add_argument("--from", dest="start", help="ISO 8601 instant; without offset: calendar time zone")
    s.add_argument("--to", dest="end", help="ISO 8601 instant")
    s.add_argument("--by", default=os.environ.get("USER") or "cli", help="who worked (default: $USER)")
    s.add_argument("--note")
    s.add_argument("--json", action="store_true")
    s = wksub.add_parser("list")
    _config_arg(s)
    s.add_argument("incident", type=int)
    s.add_argument("--json", action="store_true")

    bill = sub.add_parser("billing", help="what standby and call-outs cost")
    bsub = bill.add_subparsers(dest="billing_cmd", required=True)
    s = bsub.add_parser("quote", help="what a standby booking would cost (config only for the calendar)")
    _config_arg(s)
    s.add_argument("--rate", required=True, help="standard hourly rate, e.g. 100 or 97.50")
    s.add_argument("--currency", default="EUR")
    s.add_argument("--from", dest="start", required=True, help="ISO 8601 instant; without offset: calendar time zone")
    s.add_argument("--to", dest="end", required=True, help="ISO 8601 instant")
    s.add_argument(
        "--callout",
        action="append",
        default=[],
        metavar="START/END",
        help="a call-out during the booking (repeatable), e.g. 2026-11-28T23:00/2026-11-28T23:20",
    )
    s.add_argument(
        "--callout-overlap",
        choices=["merge", "separate"],
        default="merge",
        help="call-outs within the billed hour of another: one call-out (merge) or each its own minimum",
    )
    s.add_argument("--json", action="store_true")
    s = bsub.add_parser("statement", help="a customer's monthly statement: standby, call-outs, response record")
    _config_arg(s)
    s.add_argument("--customer", required=True, help="customer id (under customers)")
    s.add_argument("--month", required=True, help="YYYY-MM (calendar time zone)")
    s.add_argument("--format", choices=["json", "csv", "html"], default="json")
    s.add_argument("-o", "--output", help="write to this file instead of standard output")
    s = bsub.add_parser("engineers", help="hours each engineer stood by, per period kind, and their call-outs")
    _config_arg(s)
    s.add_argument("--month", required=True, help="YYYY-MM (calendar time zone)")
    s.add_argument("--json", action="store_true")
    from pager import cli_maintenance

    cli_maintenance.add_parsers(sub, _config_arg)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "serve":
        cfg_path = _config_path(args)
        _load(args)  # fail fast with file:line errors before the event loop starts
        from pager.daemon import serve

        return asyncio.run(serve(cfg_path))
    if args.cmd == "check-config":
        cfg = _load(args)
        print(f"{_config_path(args)}: OK ({len(cfg.people)} people, {len(cfg.rotations)} rotations)")
        return 0
    if args.cmd == "migrate":
        from pager.app import migrate

        cfg = _load(args)
        applied = migrate(cfg, _clock(cfg))
        print(f"{cfg.storage.sqlite.path}: applied {applied or 'nothing (up to date)'}")
        return 0
    if args.cmd == "backup":
        return _backup(args)
    if args.cmd == "incidents":
        return asyncio.run(_incidents(args))
    if args.cmd in ("calendar", "oncall", "override"):
        return asyncio.run(_schedule(args))
    if args.cmd == "billing":
        if args.billing_cmd in ("statement", "engineers"):
            return asyncio.run(_billing_report(args))
        return _billing(args)
    if args.cmd in ("booking", "work"):
        return asyncio.run(_bookings(args))
    if args.cmd in ("maintenance", "route"):
        from pager import cli_maintenance

        return asyncio.run(cli_maintenance.run(args, _load, _clock))
    return 2


def _backup(args: argparse.Namespace) -> int:
    import sqlite3

    from pager.app import backup

    cfg = _load(args)
    try:
        path, size = backup(cfg, args.file, force=args.force)
    except (FileExistsError, FileNotFoundError, IsADirectoryError, PermissionError, sqlite3.Error) as exc:
        print(f"pagerd: backup failed: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. no such folder, disk full
        print(f"pagerd: backup failed: {exc.strerror or exc}: {exc.filename or args.file}", file=sys.stderr)
        return 1
    print(f"{path}: backed up to {args.file} ({size} bytes, checked)")
    return 0


def _instant(value: str | None, tz: str, now: datetime) -> datetime:
    """`value` as an instant (wall time in `tz` without an offset); `now` when not given."""
    from pager.service.schedule import parse_instant

    if value is None:
        return now
    try:
        return parse_instant(value, tz)
    except (ValueError, OverflowError):
        raise SystemExit(f"pagerd: not an ISO 8601 instant (years 1900-2199): {value!r}") from None


async def _schedule(args: argparse.Namespace) -> int:
    from pager.service.schedule import Schedule, overrides_from
    from pager.storage.port import json_instant

    cfg = _load(args)
    clock = _clock(cfg)
    now = clock.now()
    sched = Schedule(cfg)
    tz = sched.calendar.rules.tz
    if args.cmd == "calendar":
        info = sched.describe(_instant(args.at, tz, now))
        if args.json:
            print(json.dumps(info, ensure_ascii=False))
        else:
            print(f"{info['local']}  {info['period']}" + (f"  ({info['holiday']})" if info["holiday"] else ""))
        return 0
    from pager.app import make_store

    store = make_store(cfg, clock)
    await store.open()
    try:
        if args.cmd == "oncall":
            if args.rotation and args.rotation not in sched.rotations:
                print(f"pagerd: unknown rotation {args.rotation!r}", file=sys.stderr)
                return 1
            rows = sched.on_call(
                _instant(args.at, tz, now), overrides_from(await store.list_overrides()), args.rotation
            )
            if args.json:
                print(json.dumps(rows, ensure_ascii=False))
            else:
                for r in rows:
                    who = (
                        f"{r['name']} ({r['person']}) until {r['end']}" if r["person"] else "nobody (outside its hours)"
                    )
                    print(f"{r['rotation']:<12} {who}")
            return 0
        if args.override_cmd == "add":
            if args.rotation not in sched.rotations:
                print(f"pagerd: unknown rotation {args.rotation!r}", file=sys.stderr)
                return 1
            for who in filter(None, (args.person, args.replaces)):
                if who not in cfg.people:
                    print(f"pagerd: unknown person {who!r}", file=sys.stderr)
                    return 1
            start, end = _instant(args.start, tz, now), _instant(args.end, tz, now)
            if end <= start:
                print("pagerd: --to must be after --from", file=sys.stderr)
                return 1
            if end - start > timedelta(days=400):  # the API's limit too
                print("pagerd: an override lasts at most 400 days", file=sys.stderr)
                return 1
            override = await store.add_override(
                rotation=args.rotation,
                start=start,
                end=end,
                person=args.person,
                replaces=args.replaces,
                created_by=args.by,
                now=now,
            )
            print(
                json.dumps(override.to_json())
                if args.json
                else f"override {override.id}: {override.person} on {override.rotation} "
                f"from {json_instant(override.start)} to {json_instant(override.end)}"
            )
            return 0
        if args.override_cmd == "list":
            overrides = await store.list_overrides(args.rotation)
            if args.json:
                print(json.dumps([o.to_json() for o in overrides]))
            else:
                for o in overrides:
                    print(
                        f"{o.id:>4}  {o.rotation:<12} {o.person:<10} {json_instant(o.start)} .. {json_instant(o.end)}"
                        f"  replaces {o.replaces or '-'}  by {o.created_by}"
                    )
            return 0
        from pager.storage.port import NotFound

        try:
            await store.remove_override(args.id, removed_by=args.by, now=now)
        except NotFound as exc:
            print(f"pagerd: {exc}", file=sys.stderr)
            return 1
        print(f"override {args.id} removed")
        return 0
    finally:
        await store.close()


async def _bookings(args: argparse.Namespace) -> int:
    from pager.app import make_store
    from pager.config.domain import calendar_from
    from pager.domain.paging import MAX_WORKED_MINUTES
    from pager.storage.port import NotFound, json_instant

    cfg = _load(args)
    clock = _clock(cfg)
    now = clock.now()
    tz = calendar_from(cfg).rules.tz

    def fail(msg: str) -> int:
        print(f"pagerd: {msg}", file=sys.stderr)
        return 1

    start = end = None
    if args.cmd == "booking" and args.booking_cmd == "add":
        if args.customer not in cfg.customers:
            return fail(f"unknown customer {args.customer!r}")
        start, end = _instant(args.start, tz, now), _instant(args.end, tz, now)
        if end <= start:
            return fail("--to must be after --from")
        if end - start > timedelta(days=400):  # the API's limit too
            return fail("a booking lasts at most 400 days")
    if args.cmd == "work" and args.work_cmd == "log":
        span = args.start is not None or args.end is not None
        if (args.minutes is None) == (not span) or (span and (args.start is None or args.end is None)):
            return fail("give either --minutes N or both --from and --to")
        if args.minutes is not None and not 1 <= args.minutes <= MAX_WORKED_MINUTES:
            return fail(f"--minutes must be from 1 to {MAX_WORKED_MINUTES}")
        if span:
            start, end = _instant(args.start, tz, now), _instant(args.end, tz, now)
            if end <= start:
                return fail("--to must be after --from")
            if end - start > timedelta(minutes=MAX_WORKED_MINUTES):
                return fail(f"a time entry covers at most {MAX_WORKED_MINUTES} minutes")
    store = make_store(cfg, clock)
    await store.open()
    try:
        if args.cmd == "booking":
            if args.booking_cmd == "add":
                assert start is not None and end is not None
                booking = await store.add_booking(
                    customer=args.customer, start=start, end=end, created_by=args.by, now=now
                )
                print(
                    json.dumps(booking.to_json())
                    if args.json
                    else f"booking {booking.id}: {booking.customer} from {json_instant(booking.start)} "
                    f"to {json_instant(booking.end)}"
                )
                return 0
            if args.booking_cmd == "list":
                bookings = await store.list_bookings(args.customer, include_cancelled=args.all)
                if args.json:
                    print(json.dumps([b.to_json() for b in bookings]))
                else:
                    for b in bookings:
                        cancelled = (
                            f"  cancelled {json_instant(b.cancelled_at)} by {b.cancelled_by}" if b.cancelled_at else ""
                        )
                        print(
                            f"{b.id:>4}  {b.customer:<12} {json_instant(b.start)} .. {json_instant(b.end)}  by {b.created_by}"
                            + cancelled
                        )
                return 0
            try:
                cancelled_booking = await store.cancel_booking(args.id, by=args.by, now=now)
            except NotFound as exc:
                return fail(str(exc))
            print(json.dumps(cancelled_booking.to_json()) if args.json else f"booking {args.id} cancelled")
            return 0
        try:
            if args.work_cmd == "list":
                if await store.get_incident(args.incident) is None:
                    raise NotFound(f"incident {args.incident} not found")
                entries = await store.list_work(args.incident)
                if args.json:
                    print(json.dumps([w.to_json() for w in entries]))
                else:
                    for w in entries:
                        span = f"{json_instant(w.start)} .. {json_instant(w.end)}" if w.start else "-"
                        print(f"{w.id:>4}  {w.person:<12} {w.minutes:>5} min  {span}  {w.note or ''}")
                return 0
            from pager.sources.errors import check_text

            problem = check_text(args.note, "--note", max_len=16384) if args.note else None
            if problem is not None:
                return fail(f"{problem.field}: {problem.message}")
            entry = await store.add_work(
                args.incident,
                person=args.by,
                start=start,
                end=end,
                minutes=args.minutes,
                note=args.note,
                by=args.by,
                now=now,
            )
        except NotFound as exc:
            return fail(str(exc))
        print(
            json.dumps(entry.to_json())
            if args.json
            else f"work {entry.id}: {entry.minutes} minutes on incident {entry.incident_id} by {entry.person}"
        )
        return 0
    finally:
        await store.close()


# A quote covers at most this much: a year's booking, with room; longer is a typo.
_QUOTE_MAX = timedelta(days=400)


def _billing(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from pager.config.domain import calendar_from
    from pager.domain.billing import Terms, decimal_str, hours_str, quote
    from pager.service.schedule import parse_instant

    def bad(msg: str) -> int:
        print(f"pagerd billing quote: {msg}", file=sys.stderr)
        return 2

    cfg = _load(args)
    calendar = calendar_from(cfg)
    tz = calendar.rules.tz

    def instant(value: str, what: str) -> datetime:
        try:
            return parse_instant(value, tz)
        except (ValueError, OverflowError):
            raise ValueError(f"{what}: not an ISO 8601 instant (years 1900-2199): {value!r}") from None

    try:
        rate = Decimal(args.rate.strip())
    except (InvalidOperation, ValueError):
        return bad(f"--rate: not a number: {args.rate!r}")
    if not rate.is_finite() or rate < 0:
        return bad(f"--rate must be a finite number of at least 0, got {args.rate!r}")
    try:
        start, end = instant(args.start, "--from"), instant(args.end, "--to")
        if end <= start:
            return bad(f"--to ({args.end}) must be after --from ({args.start})")
        if end - start > _QUOTE_MAX:
            return bad(f"a quote covers at most {_QUOTE_MAX.days} days")
        callouts = []
        for spec in args.callout:
            parts = spec.split("/")
            if len(parts) != 2 or not all(p.strip() for p in parts):
                return bad(f"--callout must be START/END (two ISO 8601 instants), got {spec!r}")
            cs, ce = instant(parts[0], "--callout start"), instant(parts[1], "--callout end")
            if ce < cs:
                return bad(f"--callout {spec!r}: its end is before its start")
            if ce - cs > _QUOTE_MAX:
                return bad(f"--callout {spec!r}: lasts more than {_QUOTE_MAX.days} days")
            callouts.append((cs, ce))
        terms = Terms(rate=rate, currency=args.currency, callout_overlap=args.callout_overlap)
    except ValueError as exc:
        return bad(str(exc))
    q = quote(calendar, start, end, terms, callouts)
    if args.json:
        print(json.dumps(q.as_dict()))
        return 0
    zone = calendar.zone

    def local(dt: datetime) -> str:
        return dt.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")

    cur = q.currency
    print(f"Standby quote {local(start)} .. {local(end)} ({tz}), rate {cur} {decimal_str(q.rate)}/h")
    print(f"{'PERIOD':<14} {'FROM':<20} {'TO':<20} {'HOURS':>7} {'BILLED':>7} {'x':>5} {'FEE':>12}")
    for b in q.blocks:
        print(
            f"{b.period:<14} {local(b.start):<20} {local(b.end):<20} {hours_str(b.hours):>7} "
            f"{hours_str(b.billed_hours):>7} {decimal_str(b.multiplier):>5} {decimal_str(b.fee):>12}"
        )
    if not q.blocks:
        print("  (no standby: the range is office time only)")
    if q.callouts:
        print()
        print(f"{'CALL-OUT':<14} {'FROM':<20} {'TO':<20} {'WORKED':>7} {'BILLED':>7} {'':>5} {'AMOUNT':>12}")
        for c in q.callouts:
            where = f"block {c.block_index + 1}" if c.block_index is not None else "outside"
            print(
                f"{where:<14} {local(c.start):<20} {local(c.end):<20} {hours_str(c.worked_hours):>7} "
                f"{hours_str(c.billed_hours):>7} {'':>5} {decimal_str(c.amount):>12}" + (f"  {c.ref}" if c.ref else "")
            )
    print(f"{'TOTAL':<14} {'':<20} {'':<20} {'':>7} {'':>7} {cur:>5} {decimal_str(q.total):>12}")
    return 0


async def _billing_report(args: argparse.Namespace) -> int:
    from pager.app import make_store
    from pager.service.schedule import Schedule
    from pager.service.statements import StatementError, engineers, month_range, statement

    cfg = _load(args)
    sched = Schedule(cfg)
    cmd = f"pagerd billing {args.billing_cmd}"
    try:
        month_range(args.month, sched.calendar)
        if args.billing_cmd == "statement":
            if args.customer not in cfg.customers:
                raise StatementError(f"unknown customer {args.customer!r}")
            if cfg.customers[args.customer].rate is None:
                raise StatementError(f"customer {args.customer!r} has no rate (customers.{args.customer}.rate)")
    except StatementError as exc:
        print(f"{cmd}: {exc}", file=sys.stderr)
        return 2
    clock = _clock(cfg)
    store = make_store(cfg, clock)
    await store.open()
    now = clock.now()
    try:
        if args.billing_cmd == "engineers":
            rep = await engineers(store, cfg, sched, args.month, now)
            if args.json:
                print(json.dumps(rep, ensure_ascii=False))
                return 0
            print(f"Standby {rep['month']} ({rep['timezone']}), rotation {rep['rotation']}")
            print(
                f"{'ENGINEER':<20} {'WEEKEND':>8} {'EVE/NIGHT':>9} {'HOLIDAY':>8} {'TOTAL':>8} {'CALL-OUTS':>9}"
                f" {'WORKED':>7}"
            )
            for r in rep["engineers"]:
                h = r["standby_hours"]
                print(
                    f"{r['name'][:20]:<20} {h['weekend']:>8} {h['evening_night']:>9} {h['holiday']:>8} "
                    f"{r['standby_hours_total']:>8} {r['callout_count']:>9} {r['callout_worked_minutes']:>5} m"
                )
            if not rep["engineers"]:
                print("  (no booked standby and no call-outs this month)")
            return 0
        st = await statement(store, cfg, sched, args.customer, args.month, now)
    finally:
        await store.close()
    if args.format == "json":
        out = json.dumps(st, ensure_ascii=False) + "\n"
    else:
        from pager.service.statement_render import to_csv, to_html

        out = to_csv(st) if args.format == "csv" else to_html(st)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:  # noqa: ASYNC230 (the CLI's loop runs nothing else)
            fh.write(out)
    else:
        sys.stdout.write(out)
    return 0


async def _incidents(args: argparse.Namespace) -> int:
    from pager.app import make_store
    from pager.domain.incident import State
    from pager.storage.port import Conflict, NotFound

    cfg = _load(args)
    clock = _clock(cfg)
    store = make_store(cfg, clock)
    await store.open()
    try:
        if args.incidents_cmd == "list":
            since = None
            if args.since:
                since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
                if since.tzinfo is None:
                    raise SystemExit("pagerd: --since needs a time zone")
            rows = [
                r.to_json()
                for r in await store.list_incidents(
                    state=args.state, source=args.source, since=since, limit=args.limit, before_id=None
                )
            ]
            if args.json:
                print(json.dumps(rows, indent=2, ensure_ascii=False))
            else:
                print(f"{'ID':>6}  {'STATE':<12} {'SOURCE':<12} {'ALERTS':>6}  {'CREATED':<20} SUMMARY")
                for r in rows:
                    print(
                        f"{r['id']:>6}  {r['state']:<12} {r['source']:<12} {r['alert_count']:>6}  "
                        f"{r['created_at'][:19]:<20} {r['summary'][:80]}"
                    )
            return 0
        try:
            if args.incidents_cmd == "show":
                inc = await store.get_incident(args.id)
                if inc is None:
                    raise NotFound(f"incident {args.id} not found")
            else:
                target = State.ACKNOWLEDGED if args.incidents_cmd == "ack" else State.RESOLVED
                inc = await store.transition(
                    args.id, target, actor=args.by, via="cli", comment=args.comment, now=clock.now()
                )
        except NotFound as exc:
            print(f"pagerd: {exc}", file=sys.stderr)
            return 1
        except Conflict as exc:
            print(f"pagerd: {exc}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(inc.to_json(), indent=2, ensure_ascii=False))
        else:
            _print_incident(inc.to_json())
        return 0
    finally:
        await store.close()


def _print_incident(inc: dict) -> None:
    """An incident as text, from its JSON (instants as the JSON writes them)."""
    print(f"#{inc['id']} [{inc['state']}] {inc['summary']}")
    print(f"  source {inc['source']}  key {inc['dedup_key']}  alerts {inc['alert_count']}")
    print(
        f"  created {inc['created_at']}  acknowledged {inc['acknowledged_at'] or '-'} by "
        f"{inc['acknowledged_by'] or '-'}  resolved {inc['resolved_at'] or '-'}"
    )
    for a in inc.get("alerts", []):
        print(f"  alert {a['fingerprint']} {a['status']}: {a['summary'][:100]}")
    for e in inc.get("timeline", []):
        print(
            f"  {e['at'][:19]}  {e['kind']:<16} {e['actor'] or '':<14} {json.dumps(e['data'], ensure_ascii=False)[:100]}"
        )
