"""Composition root: the only module that names concrete adapters (the store, the clock, the notifier).
The daemon (pager/daemon.py) and every CLI command get theirs from here."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from pager.clock import Clock, ManualClock, SystemClock
from pager.config import Config
from pager.config.channels import providers
from pager.notify.base import MultiNotifier, Notifier
from pager.notify.dry_run import DryRunNotifier
from pager.observe.metrics import Metrics
from pager.service.lease import Lease
from pager.storage.port import IngestPolicy, Store
from pager.storage.sqlite import SqliteStore
from pager.storage.sqlite import backup as sqlite_backup
from pager.storage.sqlite import migrate as sqlite_migrate


def make_clock(cfg: Config) -> Clock:
    """The system clock; the manual one, standing at `testing.start` until a test moves it, when the
    config's test-only `testing.clock: manual` asks for it (pager.config.load refuses that setting
    unless PAGERD_ALLOW_TEST_CLOCK=1)."""
    if cfg.testing.clock == "manual":
        assert cfg.testing.start is not None  # the loader requires it
        return ManualClock(cfg.testing.start)
    return SystemClock()


def policy(cfg: Config) -> IngestPolicy:
    ev2 = cfg.sources.events_v2
    return IngestPolicy(
        reopen_window=cfg.incidents.reopen_window,
        events_v2_duplicate_window=ev2.duplicate_window if ev2 else timedelta(minutes=5),
    )


class NoDatabase(Exception):
    """No database at the configured path: only `pagerd migrate` and `pagerd serve` create one, so that a
    command run with a wrong config or path never starts an empty database of its own."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"no database at {path}")


def require_database(cfg: Config) -> str:
    """The database's path; NoDatabase (naming the absolute path) when no such file exists."""
    path = cfg.storage.sqlite.path
    if path == ":memory:" or path.startswith("file:"):
        return path
    if not os.path.isfile(path):
        raise NoDatabase(os.path.abspath(path))
    return path


def make_store(cfg: Config, clock: Clock, metrics: Metrics | None = None, *, create: bool = False) -> Store:
    """The store of the configured database. It must exist (require_database) unless `create`: the daemon,
    which creates and migrates it on start, says so; every other command only opens an existing one."""
    on_commit = metrics.on_commit if metrics else None
    if cfg.storage.backend == "postgres":
        from pager.storage.postgres import PostgresStore

        return PostgresStore(cfg.storage.postgres.dsn, policy(cfg), clock=clock, on_commit=on_commit)
    s = cfg.storage.sqlite
    if not create:
        require_database(cfg)
    return SqliteStore(s.path, policy(cfg), clock=clock, synchronous=s.synchronous, on_commit=on_commit)


def make_lease(cfg: Config, store: Store) -> Lease | None:
    """The engine lease of a store several nodes share (PostgreSQL), which then fences the store's outbox
    writes with it; None for SQLite (one node)."""
    if cfg.storage.backend != "postgres":
        return None
    from pager.storage.postgres import EngineLease, PostgresStore

    # the lease measures real seconds (a paused process, a lost connection), whatever the daemon's clock
    lease = EngineLease(cfg.storage.postgres.dsn, SystemClock())
    assert isinstance(store, PostgresStore)
    store.fenced_by(lease)
    return lease


def migrate(cfg: Config, clock: Clock) -> list[int]:
    """Apply the store's pending migrations; returns the versions applied."""
    if cfg.storage.backend == "postgres":
        from pager.storage.postgres import migrate as pg_migrate

        return pg_migrate(cfg.storage.postgres.dsn, clock.now())
    return sqlite_migrate(cfg.storage.sqlite.path, clock.now())


def copy_into_postgres(cfg: Config, sqlite_path: str, clock: Clock) -> list[Any]:
    """Every row of the SQLite database at `sqlite_path` into the configured PostgreSQL database (empty)."""
    from pager.storage.postgres import copy_from_sqlite

    return copy_from_sqlite(sqlite_path, cfg.storage.postgres.dsn, clock.now())


def backup(cfg: Config, dest: str, *, force: bool = False) -> tuple[str, int]:
    """An online backup of the store's database into the file `dest`: (the database's path, the copy's size)."""
    if cfg.storage.backend == "postgres":
        raise FileNotFoundError("the store is on PostgreSQL: back it up with pg_dump or the server's own backups")
    path = require_database(cfg)
    return path, sqlite_backup(path, dest, force=force)


def make_notifier(cfg: Config, clock: Clock) -> Notifier:
    """Each channel's provider as pager.config.channels.providers decides: Twilio for SMS and voice, SMTP for
    e-mail, the dry-run notifier for simulated channels; a channel without a provider gets no notifier (its
    messages fail, and pager.config.load refuses a config whose contact rules use such a channel)."""
    plan = providers(cfg.notifier)
    parts: list[Notifier] = []
    tw = cfg.notifier.twilio
    twilio_channels = frozenset(ch for ch, p in plan.items() if p == "twilio")
    if twilio_channels:
        from pager.notify.twilio import TwilioNotifier  # imported only when used: the SDKs are slow to import

        parts.append(
            TwilioNotifier(
                account_sid=tw.account_sid,
                auth_token=tw.auth_token.get_secret_value(),
                from_number=tw.from_,
                public_url=cfg.server.public_url,
                api_base=tw.api_base or None,
                timeout=tw.timeout.total_seconds(),
                channels=twilio_channels,
            )
        )
    sm = cfg.notifier.smtp
    if "smtp" in plan.values():
        from pager.notify.smtp import SmtpNotifier

        parts.append(
            SmtpNotifier(
                host=sm.host,
                port=sm.port,
                from_address=sm.from_,
                username=sm.username or None,
                password=sm.password.get_secret_value() or None,
                starttls=sm.starttls,
                ssl=sm.ssl,
                timeout=sm.timeout.total_seconds(),
                clock=clock,
            )
        )
    simulated = frozenset(ch for ch, p in plan.items() if p == "dry_run")
    if simulated:
        parts.append(DryRunNotifier(channels=simulated))
    return MultiNotifier(parts)


def make_mail_sender(cfg: Config, clock: Clock):  # -> pager.service.customer_mail.MailSender | None
    """The SMTP sender of mail to customers (mail.outgoing): its own host and port, else notifier.smtp's server
    with its port, credentials and TLS; None when mail.outgoing is off."""
    if cfg.mail is None or not cfg.mail.outgoing.enabled or cfg.mail.sender is None:
        return None
    from pager.notify.smtp import SmtpNotifier

    out, sm = cfg.mail.outgoing, cfg.notifier.smtp
    if out.host:
        return SmtpNotifier(
            host=out.host,
            port=out.port or 25,
            from_address=cfg.mail.sender,
            starttls=out.starttls,
            timeout=out.timeout.total_seconds(),
            clock=clock,
        )
    return SmtpNotifier(
        host=sm.host,
        port=out.port or sm.port,
        from_address=cfg.mail.sender,
        username=sm.username or None,
        password=sm.password.get_secret_value() or None,
        starttls=sm.starttls,
        ssl=sm.ssl,
        timeout=out.timeout.total_seconds(),
        clock=clock,
    )
