"""Composition root: the only module that names concrete adapters."""
from __future__ import annotations

from pager.clock import Clock, SystemClock
from pager.config import Config
from pager.observe.metrics import Metrics
from pager.storage.port import IngestPolicy, Store
from pager.storage.sqlite import SqliteStore


def policy(cfg: Config) -> IngestPolicy:
    ev2 = cfg.sources.events_v2
    from datetime import timedelta
    return IngestPolicy(reopen_window=cfg.incidents.reopen_window,
                        events_v2_duplicate_window=ev2.duplicate_window if ev2 else timedelta(minutes=5))


def make_store(cfg: Config, metrics: Metrics | None = None) -> Store:
    s = cfg.storage.sqlite
    return SqliteStore(s.path, policy(cfg), synchronous=s.synchronous,
                       on_commit=metrics.on_commit if metrics else None)


def make_clock() -> Clock:
    return SystemClock()


def make_notifier(cfg: Config):
    """Twilio for SMS and voice when configured, SMTP for e-mail when configured, dry-run for the rest."""
    from pager.notify.base import MultiNotifier
    from pager.notify.dry_run import DryRunNotifier
    parts = []
    rest = {"sms", "voice", "email"}
    tw = cfg.notifier.twilio
    if cfg.notifier.kind == "auto" and tw.enabled:
        from pager.notify.twilio import TwilioNotifier
        parts.append(TwilioNotifier(account_sid=tw.account_sid, auth_token=tw.auth_token.get_secret_value(),
                                    from_number=tw.from_, public_url=cfg.server.public_url,
                                    api_base=tw.api_base or None, timeout=tw.timeout.total_seconds()))
        rest -= {"sms", "voice"}
    sm = cfg.notifier.smtp
    if cfg.notifier.kind == "auto" and sm.enabled:
        from pager.notify.smtp import SmtpNotifier
        parts.append(SmtpNotifier(host=sm.host, port=sm.port, from_address=sm.from_, username=sm.username or None,
                                  password=sm.password.get_secret_value() or None, starttls=sm.starttls, ssl=sm.ssl,
                                  timeout=sm.timeout.total_seconds()))
        rest -= {"email"}
    if rest:
        parts.append(DryRunNotifier(channels=frozenset(rest)))
    return MultiNotifier(parts)
