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
