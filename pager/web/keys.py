"""Typed application keys: all state hangs off the aiohttp Application."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pager.clock import Clock
from pager.config import Config
from pager.observe.metrics import Metrics
from pager.service.schedule import Schedule
from pager.storage.port import Store


@dataclass
class Runtime:
    """What handlers need. `config` is swapped whole on a successful reload."""

    config: Config
    config_path: str
    store: Store
    metrics: Metrics
    clock: Clock
    schedule: Schedule
    ready: bool = False
    engine: Any = None  # the PagingEngine (poke() after a change), None in tools that run no engine


RUNTIME = web.AppKey("runtime", Runtime)
