"""The `pagerd` command. Parses arguments and hands over; no work at import time."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pager import __version__

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from pager.config import Config


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


def _id(value: str) -> int:
    """An id on the command line: a positive whole number (one SQLite can hold)."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n < 2**63:
        raise argparse.ArgumentTypeError(f"not an id (a positive whole number): {value!r}")
    return n


def _count(value: str) -> int:
    """A --limit: 1 to 10000."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 10_000:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 10000, got {value!r}")
    return n


def _clock(cfg):
    """The clock of this command: the composition root's (the system clock, or a test config's manual one)."""
    from pager.app import make_clock

    return make_clock(cfg)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pagerd", description="On-call pager daemon")
    p.add_argument("--version", action="version", version=f"pagerd {__version__}")
    p.add_argument(
        "--debug", action="store_true", help="print the traceback of an unexpected error (or PAGERD_DEBUG=1)"
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run the daemon")
    _config_arg(s)
    s = sub.add_parser("check-config", help="validate a config file")
    _config_arg(s, positional=True)
    s = sub.add_parser("migrate", help="apply database migrations")
    _config_arg(s)
    s.add_argument(
        "--from-sqlite",
        metavar="FILE",
        help="PostgreSQL only: copy every row of the SQLite database FILE into the configured, empty database",
    )
    s = sub.add_parser("backup", help="copy the database, online, into FILE (mode 0600)")
    _config_arg(s)
    s.add_argument("file", help="the copy to write; an existing file is refused unless --force")
    s.add_argument("--force", action="store_true", help="replace FILE if it exists")

    inc = sub.add_parser("incidents", help="list, show, acknowledge, resolve incidents")
    isub = inc.add_subparsers(dest="incidents_cmd", required=True)
    s = isub.add_parser("list")
    _config_arg(s)
    s.add_argument("--state", choices=["triggered", "acknowledged", "resolved"])
    s.add_argument("--source", choices=["alertmanager", "nagios", "events_v2", "heartbeat", "desk"])
    s.add_argument("--since", help="30m, 2h, 3d, 1w, today, yesterday or an ISO 8601 instant")
    s.add_argument("--limit", type=_count, default=50)
    s.add_argument("--json", action="store_true")
    for name in ("show", "ack", "resolve"):
        s = isub.add_parser(name)
        _config_arg(s)
        s.add_argument("id", type=_id)
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

    s = sub.add_parser("ical-url", help="the signed iCal feed URL of a person or a rotation")
    _config_arg(s)
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--person", help="a person id (under people)")
    which.add_argument("--rotation", help="a rotation name (under rotations)")
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
    s.add_argument("id", type=_id)
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
    s.add_argument("id", type=_id)
    s.add_argument("--by", default=os.environ.get("USER") or "cli")
    s.add_argument("--json", action="store_true")

    wk = sub.add_parser("work", help="worked time on incidents")
    wksub = wk.add_subparsers(dest="work_cmd", required=True)
    s = wksub.add_parser("log", help="log worked time: --minutes N, or --from and --to")
    _config_arg(s)
    s.add_argument("incident", type=_id)
    s.add_argument("--minutes", type=int)
    s.add_argument("--from", dest="start", help="ISO 8601 instant; without offset: calendar time zone")
    s.add_argument("--to", dest="end", help="ISO 8601 instant")
    s.add_argument("--by", default=os.environ.get("USER") or "cli", help="who worked (default: $USER)")
    s.add_argument("--note")
    s.add_argument("--json", action="store_true")
    s = wksub.add_parser("list")
    _config_arg(s)
    s.add_argument("incident", type=_id)
    s.add_argument("--json", action="store_true")

    bill = sub.add_parser("billing", help="what standby and call-outs cost")
    bsub = bill.add_subparsers(dest="billing_cmd", required=True)
    s = bsub.add_parser(
        "quote",
        help="what a standby booking would cost: a customer's terms (--customer) or a bare --rate",
        description="One of --customer and --rate is required. With --customer the customer's rate, currency, "
        "tariff overrides, billing increment and call-out overlap come from the config, and blocks its recurring "
        "standby already covers are shown as covered, at no charge.",
    )
    _config_arg(s)
    s.add_argument(
        "--customer",
        help="customer id (under customers): its terms from the config, and what its recurring standby covers",
    )
    s.add_argument(
        "--rate",
        help="standard hourly rate, e.g. 100 or 97.50; with --customer it overrides the customer's rate only "
        "(tariffs, increment, currency and what is covered stay the customer's)",
    )
    s.add_argument("--currency", help="without --customer (default EUR); a customer's currency is its own")
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
        help="without --customer (default merge): call-outs within the billed hour of another: one call-out "
        "(merge) or each its own minimum",
    )
    s.add_argument("--json", action="store_true")
    s = bsub.add_parser("statement", help="a customer's monthly statement: standby, call-outs, response record")
    _config_arg(s)
    s.add_argument("--customer", required=True, help="customer id (under customers)")
    s.add_argument("--month", required=True, help="YYYY-MM (calendar time zone)")
    s.add_argument(
        "--format",
        choices=["json", "csv", "html", "pdf"],
        default="json",
        help="html and pdf: the page to send, in the customer's language (pdf needs -o or a redirect)",
    )
    s.add_argument("-o", "--output", help="write to this file instead of standard output")
    s = bsub.add_parser("engineers", help="hours each engineer stood by, per period kind, and their call-outs")
    _config_arg(s)
    s.add_argument("--month", required=True, help="YYYY-MM (calendar time zone)")
    s.add_argument("--json", action="store_true")
    from pager import cli_maintenance, cli_tickets, cli_users

    cli_maintenance.add_parsers(sub, _config_arg)
    cli_tickets.add_parsers(sub, _config_arg)
    cli_tickets.add_mail_parsers(sub, _config_arg)
    cli_users.add_parsers(sub, _config_arg)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0, or non-zero with a one-line message on standard error: no traceback reaches a user
    (PAGERD_DEBUG=1 or --debug adds the traceback of an unexpected error). A closed standard output
    (`pagerd incidents list | head -1`) ends the command quietly with status 141, as SIGPIPE would."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:  # --help, --version, a usage error: written, then the pipe may be gone
        if not _flushed():
            return 141
        raise
    debug = args.debug or os.environ.get("PAGERD_DEBUG") == "1"
    try:
        status = _run(args)
        return status if _flushed() else 141
    except BrokenPipeError:
        _flushed()
        return 141
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.cmd == "serve":
            raise  # the daemon's journal keeps the whole story
        if debug:
            import traceback

            traceback.print_exc()
        print(f"pagerd: {_error_text(exc, args, debug)}", file=sys.stderr)
        return 1


def _flushed() -> bool:
    """Standard output written out; False when its reader went away (`| head -1`): it then points at
    /dev/null, so that the interpreter's own flush at exit is quiet too."""
    try:
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False


def _error_text(exc: Exception, args: argparse.Namespace, debug: bool) -> str:
    """One line for an error that ended a command."""
    import sqlite3

    from pager.app import NoDatabase
    from pager.storage.port import Unavailable

    if isinstance(exc, NoDatabase):
        config = os.path.abspath(_config_path(args))
        return (
            f"no database at {exc.path} (storage.sqlite.path in {config}, relative to its folder); "
            f"`pagerd migrate -c {config}` creates it"
        )
    if isinstance(exc, Unavailable):
        return f"the database is unavailable: {exc}"
    if isinstance(exc, sqlite3.Error):
        return f"database error: {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    hint = "" if debug else " (PAGERD_DEBUG=1 shows the traceback)"
    return f"unexpected error: {type(exc).__name__}: {exc}{hint}"


def _run(args: argparse.Namespace) -> int:
    if args.cmd == "serve":
        cfg_path = _config_path(args)
        _load(args)  # fail fast with file:line errors before the event loop starts
        from pager.daemon import serve

        return asyncio.run(serve(cfg_path))
    if args.cmd == "check-config":
        cfg = _load(args)
        print(
            f"{_config_path(args)}: OK ({len(cfg.people)} people, {len(cfg.rotations)} rotations; "
            f"database {cfg.storage.sqlite.path}, links under {cfg.server.public_url})"
        )
        return 0
    if args.cmd == "migrate":
        from pager.app import migrate

        cfg = _load(args)
        if args.from_sqlite:
            return _from_sqlite(cfg, args.from_sqlite)
        applied = migrate(cfg, _clock(cfg))
        where = "PostgreSQL" if cfg.storage.backend == "postgres" else cfg.storage.sqlite.path
        print(f"database {where}: applied {applied or 'nothing (up to date)'}")
        return 0
    if args.cmd == "backup":
        return _backup(args)
    if args.cmd == "incidents":
        return asyncio.run(_incidents(args))
    if args.cmd in ("calendar", "oncall", "override"):
        return asyncio.run(_schedule(args))
    if args.cmd == "ical-url":
        return _ical_url(args)
    if args.cmd == "billing":
        if args.billing_cmd in ("statement", "engineers"):
            return asyncio.run(_billing_report(args))
        return _billing(args)
    if args.cmd in ("booking", "work"):
        return asyncio.run(_bookings(args))
    if args.cmd in ("maintenance", "route"):
        from pager import cli_maintenance

        return asyncio.run(cli_maintenance.run(args, _load, _clock))
    if args.cmd == "ticket":
        from pager import cli_tickets

        return asyncio.run(cli_tickets.run(args, _load, _clock))
    if args.cmd == "user":
        from pager import cli_users

        return asyncio.run(cli_users.run(args, _load, _clock))
    if args.cmd == "mail":
        from pager import cli_tickets

        return asyncio.run(cli_tickets.run_mail(args, _load, _clock))
    return 2


def _from_sqlite(cfg: Config, path: str) -> int:
    """`pagerd migrate --from-sqlite FILE`: a SQLite installation's every row into the configured PostgreSQL."""
    from pager.app import copy_into_postgres

    if cfg.storage.backend != "postgres":
        print("pagerd migrate: --from-sqlite copies into PostgreSQL: set storage.backend: postgres", file=sys.stderr)
        return 2
    try:
        copied = copy_into_postgres(cfg, path, _clock(cfg))
    except Exception as exc:  # CopyRefused, or the database's own error: nothing was committed
        print(f"pagerd migrate: {exc}", file=sys.stderr)
        return 1
    for t in copied:
        print(f"{t.table}: {t.rows} rows, sha256 {t.sha256[:16]} (the same in both)")
    print(f"copied {sum(t.rows for t in copied)} rows of {len(copied)} tables from {path}; checked")
    return 0


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


def _when(at: datetime | str | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """An instant (or an ISO 8601 string as the JSON writes it) as the operator reads it: local time in
    the calendar's time zone with its offset (pager.domain.calendar.local_text); "-" for none."""
    from pager.domain.calendar import local_text
    from pager.service.schedule import parse_utc

    instant = parse_utc(at) if isinstance(at, str) else at
    return "-" if instant is None else local_text(instant, zone, seconds=seconds)


def _ical_url(args: argparse.Namespace) -> int:
    from pager.service.ical import UnknownFeed, url_for

    cfg = _load(args)
    kind, name = ("person", args.person) if args.person is not None else ("rotation", args.rotation)
    try:
        url = url_for(cfg, kind, name)
    except UnknownFeed as exc:
        print(f"pagerd: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"url": url}) if args.json else url)
    return 0


def _shift_text(row: dict, zone: ZoneInfo, width: int) -> str:
    who = f"{row['name']} ({row['person']})"
    text = f"{who:<{width}}  {_when(row['start'], zone)} .. {_when(row['end'], zone)}"
    return text + (f"  (override {row['override_id']})" if row.get("override_id") else "")


async def _schedule(args: argparse.Namespace) -> int:
    from pager.service.schedule import Schedule, overrides_from

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
            local = _when(info["at"], sched.calendar.zone, seconds=True)
            print(f"{local}  {info['period']}" + (f"  ({info['holiday']})" if info["holiday"] else ""))
        return 0
    from pager.app import make_store

    store = make_store(cfg, clock)
    await store.open()
    try:
        if args.cmd == "oncall":
            if args.rotation and args.rotation not in sched.rotations:
                print(f"pagerd: unknown rotation {args.rotation!r}", file=sys.stderr)
                return 1
            at = _instant(args.at, tz, now)
            overrides = overrides_from(await store.list_overrides())
            rows = sched.on_call(at, overrides, args.rotation)
            if args.json:
                print(json.dumps(rows, ensure_ascii=False))
                return 0
            # the shift after the one on now, of the same rotations (pager.domain.rotation.next_shift)
            upcoming = sched.next_on_call(at, overrides, args.rotation)
            zone = sched.calendar.zone
            print(f"on call at {_when(at, zone)} ({sched.calendar.period_at(at).value}, {tz})")
            width = max((len(f"{r['name']} ({r['person']})") for r in rows + upcoming if r["person"]), default=0)
            rot_width = max((len(r["rotation"]) for r in rows), default=0)
            for cur, nxt in zip(rows, upcoming, strict=True):
                on_now = _shift_text(cur, zone, width) if cur["person"] else "nobody (outside its hours)"
                on_next = _shift_text(nxt, zone, width) if nxt["person"] else "nobody within a year"
                print(f"{cur['rotation']:<{rot_width}}  now   {on_now}")
                print(f"{'':<{rot_width}}  next  {on_next}")
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
                f"from {_when(override.start, sched.calendar.zone)} to {_when(override.end, sched.calendar.zone)}"
            )
            return 0
        if args.override_cmd == "list":
            overrides = await store.list_overrides(args.rotation)
            if args.json:
                print(json.dumps([o.to_json() for o in overrides]))
            else:
                for o in overrides:
                    span = f"{_when(o.start, sched.calendar.zone)} .. {_when(o.end, sched.calendar.zone)}"
                    print(
                        f"{o.id:>4}  {o.rotation:<12} {o.person:<10} {span}  replaces {o.replaces or '-'}  by {o.created_by}"
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
    from pager.storage.port import NotFound

    cfg = _load(args)
    clock = _clock(cfg)
    now = clock.now()
    calendar = calendar_from(cfg)
    tz, zone = calendar.rules.tz, calendar.zone

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
                    else f"booking {booking.id}: {booking.customer} from {_when(booking.start, zone)} "
                    f"to {_when(booking.end, zone)}"
                )
                return 0
            if args.booking_cmd == "list":
                bookings = await store.list_bookings(args.customer, include_cancelled=args.all)
                if args.json:
                    print(json.dumps([b.to_json() for b in bookings]))
                else:
                    for b in bookings:
                        cancelled = (
                            f"  cancelled {_when(b.cancelled_at, zone)} by {b.cancelled_by}" if b.cancelled_at else ""
                        )
                        print(
                            f"{b.id:>4}  {b.customer:<12} {_when(b.start, zone)} .. {_when(b.end, zone)}  by {b.created_by}"
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
                        span = f"{_when(w.start, zone)} .. {_when(w.end, zone)}" if w.start else "-"
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
    from pager.service.statements import StatementError, customer_quote

    def bad(msg: str) -> int:
        print(f"pagerd billing quote: {msg}", file=sys.stderr)
        return 2

    if args.customer is None and args.rate is None:
        return bad("give --customer ID (its terms from the config) or --rate")
    if args.customer is not None and (args.currency is not None or args.callout_overlap is not None):
        return bad("--currency and --callout-overlap are the customer's own with --customer (only --rate overrides)")
    cfg = _load(args)
    calendar = calendar_from(cfg)
    tz = calendar.rules.tz

    def instant(value: str, what: str) -> datetime:
        try:
            return parse_instant(value, tz)
        except (ValueError, OverflowError):
            raise ValueError(f"{what}: not an ISO 8601 instant (years 1900-2199): {value!r}") from None

    rate = None
    if args.rate is not None:
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
        if args.customer is not None:
            q = customer_quote(cfg, calendar, args.customer, start, end, callouts, rate)
        else:
            assert rate is not None
            terms = Terms(rate=rate, currency=args.currency or "EUR", callout_overlap=args.callout_overlap or "merge")
            q = quote(calendar, start, end, terms, callouts)
    except StatementError as exc:
        return bad(str(exc))
    except ValueError as exc:
        return bad(str(exc))
    if args.json:
        out = q.as_dict()
        if args.customer is not None:
            out = {"customer": args.customer, **out}
        print(json.dumps(out))
        return 0
    zone = calendar.zone

    def local(dt: datetime) -> str:  # the weekday helps a quote's reader: "Fri 2026-11-27 18:00 +01:00"
        return f"{dt.astimezone(zone):%a} {_when(dt, zone)}"

    cur = q.currency
    who = f" for {args.customer}" if args.customer else ""
    print(f"Standby quote{who} {local(start)} .. {local(end)} ({tz}), rate {cur} {decimal_str(q.rate)}/h")
    print(f"{'PERIOD':<14} {'FROM':<27} {'TO':<27} {'HOURS':>7} {'BILLED':>7} {'x':>5} {'FEE':>12}")
    for b in q.blocks:
        fee = "covered" if b.covered else decimal_str(b.fee)
        print(
            f"{b.period:<14} {local(b.start):<27} {local(b.end):<27} {hours_str(b.hours):>7} "
            f"{hours_str(b.billed_hours):>7} {decimal_str(b.multiplier):>5} {fee:>12}"
            + (f"  ({b.covered}: no charge)" if b.covered else "")
        )
    if not q.blocks:
        print("  (no standby: the range is office time only)")
    if q.callouts:
        print()
        print(f"{'CALL-OUT':<14} {'FROM':<27} {'TO':<27} {'WORKED':>7} {'BILLED':>7} {'':>5} {'AMOUNT':>12}")
        for c in q.callouts:
            where = f"block {c.block_index + 1}" if c.block_index is not None else "outside"
            print(
                f"{where:<14} {local(c.start):<27} {local(c.end):<27} {hours_str(c.worked_hours):>7} "
                f"{hours_str(c.billed_hours):>7} {'':>5} {decimal_str(c.amount):>12}" + (f"  {c.ref}" if c.ref else "")
            )
    print(f"{'TOTAL':<14} {'':<27} {'':<27} {'':>7} {'':>7} {cur:>5} {decimal_str(q.total):>12}")
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
        from pager.service.statement_render import to_csv, to_html, to_pdf

        if args.format == "pdf":
            pdf = to_pdf(st)
            if args.output:
                with open(args.output, "wb") as fb:  # noqa: ASYNC230 (the CLI's loop runs nothing else)
                    fb.write(pdf)
            elif sys.stdout.isatty():
                print(f"{cmd}: a PDF is not for a terminal: give -o FILE or redirect the output", file=sys.stderr)
                return 2
            else:
                sys.stdout.buffer.write(pdf)
            return 0
        out = to_csv(st) if args.format == "csv" else to_html(st)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:  # noqa: ASYNC230 (the CLI's loop runs nothing else)
            fh.write(out)
    else:
        sys.stdout.write(out)
    return 0


async def _incidents(args: argparse.Namespace) -> int:
    from pager.app import make_store
    from pager.config.domain import calendar_from
    from pager.domain.incident import State
    from pager.storage.port import Conflict, NotFound

    cfg = _load(args)
    clock = _clock(cfg)
    zone = calendar_from(cfg).zone
    store = make_store(cfg, clock)
    await store.open()
    try:
        if args.incidents_cmd == "list":
            since = None
            if args.since:
                from pager.config.domain import calendar_from
                from pager.service.schedule import parse_since

                try:
                    since = parse_since(args.since, calendar_from(cfg).rules.tz, clock.now())
                except ValueError as exc:
                    print(f"pagerd: --since: {exc}", file=sys.stderr)
                    return 2
            rows = [
                r.to_json()
                for r in await store.list_incidents(
                    state=args.state, source=args.source, since=since, limit=args.limit, before_id=None
                )
            ]
            if args.json:
                print(json.dumps(rows, indent=2, ensure_ascii=False))
            else:
                print(f"{'ID':>6}  {'STATE':<12} {'SOURCE':<12} {'ALERTS':>6}  {'CREATED':<27} SUMMARY")
                for r in rows:
                    print(
                        f"{r['id']:>6}  {r['state']:<12} {r['source']:<12} {r['alert_count']:>6}  "
                        f"{_when(r['created_at'], zone):<27} {r['summary'][:80]}"
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
            clock_lines = _response_lines(inc.state, inc.reopen_count, await store.rounds_of(inc.id), clock.now(), zone)
            _print_incident(inc.to_json(), zone, clock_lines)
        return 0
    finally:
        await store.close()


def _span(td: timedelta) -> str:
    """A duration as people say it: 45 s, 12 min, 1 h 05 min, 2 d 3 h."""
    seconds = int(abs(td).total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _response_lines(state: str, reopen_count: int, rounds: list, now: datetime, zone: ZoneInfo) -> list[str]:
    """The response clock of the incident's current round (pager.domain.response.judge, as the API's
    `response` and the statements judge it) and what the engine does next (pager.domain.paging.next_action,
    read from the escalation the engine keeps)."""
    from pager.domain import paging as dp
    from pager.domain import response

    current = response.current([r.round for r in rounds], reopen_count)
    row = next((r for r in rounds if r.round is current), None)
    lines = []
    if row is None or current is None:
        lines.append(
            "response  not routed yet" if state == "triggered" else f"response  none: {state} before it was routed"
        )
    else:
        rec = response.judge(current, now)
        head = f"round {current.number}"
        if rec.outcome is response.Outcome.PENDING:
            lines.append(f"response  {head}: not paged ({row.reason})")
        else:
            assert rec.deadline is not None and current.first_page_at is not None
            clock = (
                f"paged {_when(current.first_page_at, zone)}, target {_span(current.target)}, "
                f"deadline {_when(rec.deadline, zone)}"
            )
            answer = current.answer
            if rec.answer is not None:
                how = f"{rec.answer.kind.value} by {rec.answer.by or '?'} via {rec.answer.via or '?'}"
                assert rec.seconds is not None
                after = _span(timedelta(seconds=rec.seconds))
                if rec.outcome is response.Outcome.MET:
                    verdict = f"met: {how} {after} after the page"
                else:
                    verdict = f"breached: {how} {_span(rec.answer.at - rec.deadline)} late"
            elif rec.outcome is response.Outcome.BREACHED:
                verdict = f"breached: not acknowledged, {_span(now - rec.deadline)} past the deadline"
                if answer is not None:  # a resolve that does not count as an answer
                    verdict += f" ({answer.kind.value} by {answer.by or '?'})"
            else:
                left = _span(rec.deadline - now)
                verdict = f"{rec.outcome.value.replace('_', ' ')}: {left} left"
                if rec.outcome is response.Outcome.RUNNING and current.at_risk_at is not None:
                    verdict += f", at risk from {_when(current.at_risk_at, zone)}"
            lines.append(f"response  {head}: {verdict}")
            lines.append(f"          {clock}")
    policy = None
    if row is not None and row.policy:
        try:
            policy = dp.Policy.from_json(dict(row.policy))
        except ValueError:
            policy = None
    act = dp.next_action(
        policy,
        state=state,
        status=None if row is None else row.escalation,
        fired=-1 if row is None else row.step,
        first_page_at=None if current is None else current.first_page_at,
        next_at=None if row is None else row.next_at,
        hold=None if row is None else row.hold,
    )
    when = _when(act.at, zone)
    overdue = "  (overdue: is the daemon's paging engine running?)" if act.at is not None and act.at < now else ""
    if act.kind is dp.NextKind.ROUTE:
        lines.append("next      routing (coverage, policy) on the paging engine's next tick")
    elif act.kind is dp.NextKind.PAGE:
        assert act.step is not None and policy is not None
        step = f"step {act.step.index + 1} of {len(policy.steps)}"
        if policy.repeat:
            step += f", pass {act.step.round + 1} of {policy.repeat + 1}"
        targets = ", ".join(t.label for t in act.targets)
        first = "first page: " if row is not None and row.step < 0 else ""
        paged_oncall = any(t.kind == dp.TargetKind.ONCALL for t in act.targets)
        oncall = f" (oncall: the {row.rotation} rotation)" if paged_oncall and row is not None and row.rotation else ""
        lines.append(f"next      {first}{step} ({targets}) at {when} unless acknowledged{oncall}{overdue}")
    elif act.kind is dp.NextKind.RELEASE and act.why == "maintenance":
        window = (
            f"maintenance window #{row.maintenance_id}" if row is not None and row.maintenance_id else "maintenance"
        )
        lines.append(f"next      held by {window}: paged when it ends, {when}, if still open{overdue}")
    elif act.kind is dp.NextKind.RELEASE:
        lines.append(f"next      low urgency: paged at the office opening, {when}, if still open{overdue}")
    elif act.kind is dp.NextKind.DESK:
        lines.append(f"next      the support desk is told at {when}{overdue}")
    elif act.kind is dp.NextKind.END:
        lines.append(f"next      the escalation ends at {when}: no further step{overdue}")
    else:
        lines.append(f"next      nothing: {act.why}")
    return lines


def _print_incident(inc: dict, zone: ZoneInfo, clock_lines: list[str]) -> None:
    """An incident as text, from its JSON, its instants in local time; then its response clock and next
    step (`clock_lines`), its alerts and its timeline."""
    print(f"#{inc['id']} [{inc['state']}] {inc['summary']}")
    print(f"  source {inc['source']}  key {inc['dedup_key']}  alerts {inc['alert_count']}")
    acknowledged = _when(inc["acknowledged_at"], zone)
    if inc["acknowledged_at"]:
        acknowledged += f" by {inc['acknowledged_by'] or '-'}"
    print(
        f"  created {_when(inc['created_at'], zone)}  acknowledged {acknowledged}  "
        f"resolved {_when(inc['resolved_at'], zone)}"
    )
    for line in clock_lines:
        print(f"  {line}")
    for a in inc.get("alerts", []):
        print(f"  alert {a['fingerprint']} {a['status']}: {a['summary'][:100]}")
    for e in inc.get("timeline", []):
        print(
            f"  {_when(e['at'], zone, seconds=True)}  {e['kind']:<16} {e['actor'] or '':<14} "
            f"{json.dumps(e['data'], ensure_ascii=False)[:100]}"
        )
