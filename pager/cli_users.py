"""`pagerd user add|invite|disable|totp-reset|list`: the portal's accounts from the command line (the first admin,
scripts)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any


def add_parsers(sub: Any, config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    u = sub.add_parser(
        "user", help="portal accounts: add, invite (a one-time password link), disable, totp-reset, list"
    )
    usub = u.add_subparsers(dest="user_cmd", required=True)
    s = usub.add_parser("add", help="add an account (without --password-stdin it waits for its invitation link)")
    config_arg(s)
    s.add_argument("--email", required=True)
    s.add_argument("--role", required=True, choices=["admin", "desk", "engineer", "customer"])
    s.add_argument("--person", help="a person id under people (staff; an engineer needs one)")
    s.add_argument("--customer", help="a customer id under customers (a customer's contact needs one)")
    s.add_argument("--language", choices=["nl", "en"], help="the portal's language (default: the browser's)")
    s.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    s.add_argument("--by", default=os.environ.get("USER") or "cli", help="who (default: $USER)")
    s.add_argument("--json", action="store_true")
    s = usub.add_parser(
        "invite", help="mail (mail.outgoing on) or else print a one-time link that sets the account's password"
    )
    config_arg(s)
    s.add_argument("--email", required=True)
    s.add_argument("--reset", action="store_true", help="a password reset link (valid 1 hour) instead of 7 days")
    s.add_argument("--json", action="store_true")
    s = usub.add_parser("disable", help="disable an account and end its sessions")
    config_arg(s)
    s.add_argument("--email", required=True)
    s.add_argument("--json", action="store_true")
    s = usub.add_parser("totp-reset", help="turn off the account's second factor (a lost authenticator app)")
    config_arg(s)
    s.add_argument("--email", required=True)
    s.add_argument("--json", action="store_true")
    s = usub.add_parser(
        "demo",
        help="`make run` only: demo accounts of every role with a published password (refused unless the "
        "config runs dry_run, on loopback, with a development admin token)",
    )
    config_arg(s)
    s = usub.add_parser("list", help="every account")
    config_arg(s)
    s.add_argument("--json", action="store_true")


def _line(a: Any) -> str:
    who = a.person or a.customer or "-"
    state = "disabled" if a.disabled_at else ("active" if a.has_password else "invited")
    return f"{a.id:>4}  {a.email:<32} {a.role:<9} {who:<16} {state}{' totp' if a.has_totp else ''}"


async def run(args: argparse.Namespace, load: Callable[[argparse.Namespace], Any], make_clock: Callable) -> int:
    from pager.app import make_store
    from pager.domain.portal import LinkPurpose
    from pager.service import portal
    from pager.storage.port import Conflict, NotFound

    cfg = load(args)
    clock = make_clock(cfg)
    store = make_store(cfg, clock)
    await store.open()
    try:
        now = clock.now()
        cmd = args.user_cmd
        if cmd == "add":
            password = None
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            account = await portal.add_account(
                store,
                cfg,
                email=args.email,
                role=args.role,
                person=args.person,
                customer=args.customer,
                language=args.language,
                password=password,
                by=args.by,
                now=now,
            )
            if args.json:
                print(json.dumps(account.to_json()))
            else:
                print(_line(account))
                if not account.has_password:
                    print(f"no password yet: `pagerd user invite --email {account.email}` prints its link")
        elif cmd == "invite":
            purpose = LinkPurpose.RESET if args.reset else LinkPurpose.INVITE
            made = await portal.invite(store, cfg, args.email, now, purpose)
            link, until = made.link, made.link.to_json()["expires_at"]
            if args.json:
                answer = {"email": link.account.email, "expires_at": until, "mailed": made.mailed}
                print(json.dumps(answer if made.mailed else {"url": made.url, **answer}))
            elif made.mailed:
                print(f"mailed to {link.account.email} (the daemon sends it): once, until {until}")
            else:
                print(made.url)
                print(f"for {link.account.email}, once, until {until}", file=sys.stderr)
        elif cmd == "totp-reset":
            account = await store.reset_totp(args.email.strip().lower())
            print(json.dumps(account.to_json()) if args.json else _line(account))
        elif cmd == "demo":
            for line in await _demo(store, cfg, now):
                print(line)
        elif cmd == "disable":
            account = await store.disable_account(args.email.strip().lower(), now=now)
            print(json.dumps(account.to_json()) if args.json else _line(account))
        else:
            accounts = await store.list_accounts()
            if args.json:
                print(json.dumps([a.to_json() for a in accounts]))
            else:
                for a in accounts:
                    print(_line(a))
        return 0
    except (portal.AccountError, Conflict, NotFound) as exc:
        print(f"pagerd: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()


# `make run`'s demo sign-ins: (e-mail, role, person, customer), all with DEMO_PASSWORD (printed by make run)
DEMO_PASSWORD = "make-run-demo-password"  # noqa: S105 (published on purpose: make run only)
DEMO_ACCOUNTS = (
    ("admin@demo.invalid", "admin", "anna", None),
    ("desk@demo.invalid", "desk", "chris", None),
    ("engineer@demo.invalid", "engineer", "bram", None),
    ("customer@demo.invalid", "customer", None, "acme"),
    ("agency-contact@demo.invalid", "customer", None, "agency"),
)


def demo_refusal(cfg: Any) -> str | None:
    """Why this config gets no demo accounts (None: it is `make run`'s development setup: every page
    simulated, loopback only, a published development admin token)."""
    from pager.config.secrets import DEVELOPMENT_SECRETS, is_loopback

    if cfg.notifier.kind != "dry_run":
        return "demo accounts are for `make run` only: notifier.kind is not dry_run"
    if not is_loopback(cfg.server.host):
        return "demo accounts are for `make run` only: server.listen is not loopback"
    if cfg.auth.admin_token.get_secret_value() not in DEVELOPMENT_SECRETS:
        return "demo accounts are for `make run` only: the admin token is not a development one"
    return None


async def _demo(store: Any, cfg: Any, now: Any) -> list[str]:
    from pager.service import portal

    refused = demo_refusal(cfg)
    if refused is not None:
        raise portal.AccountError(refused)
    existing = {a.email for a in await store.list_accounts()}
    lines = []
    for email, role, person, customer in DEMO_ACCOUNTS:
        if person is not None and person not in cfg.people or customer is not None and customer not in cfg.customers:
            continue  # not the example data
        if email not in existing:
            await portal.add_account(
                store,
                cfg,
                email=email,
                role=role,
                person=person,
                customer=customer,
                language=None,
                password=DEMO_PASSWORD,
                by="make run",
                now=now,
            )
        lines.append(f"  {role:<9} {email:<28} {DEMO_PASSWORD}  ({person or customer})")
    return lines
