"""Typed application keys: all state hangs off the aiohttp Application."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from pager.clock import Clock
from pager.config import Config
from pager.observe.metrics import Metrics
from pager.observe.redact import Redactor
from pager.service.schedule import Schedule
from pager.storage.port import Store

if TYPE_CHECKING:
    from pager.service.lease import Lease
    from pager.service.paging import PagingEngine


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
    # the engine when it runs on this node (poke() it after a change); None on a webhook-only node
    # (paging.engine: false) and in tools that run no engine
    engine: PagingEngine | None = None
    # the engine lease when several nodes share the database (PostgreSQL): the engine runs while it is held
    lease: Lease | None = None
    # each channel's provider as the running notifier was built (pager.config.channels.providers): twilio,
    # smtp (live), dry_run (simulated) or none; fixed until a restart
    channels: dict[str, str] = field(default_factory=dict)
    _redactor: tuple[Config, Redactor] | None = field(default=None, repr=False, compare=False)

    @property
    def redactor(self) -> Redactor:
        """What error answers and stored raw bodies must not hold: the secrets of the config in force."""
        if self._redactor is None or self._redactor[0] is not self.config:
            self._redactor = (self.config, Redactor.of(self.config))
        return self._redactor[1]


RUNTIME = web.AppKey("runtime", Runtime)
# the node's engine task (the engine, or a webhook-only node's keep-alive): started and cancelled by the
# application's cleanup_ctx (pager.web.app.run_engine); when it ends by itself, the daemon exits non-zero
ENGINE_TASK = web.AppKey("engine_task", asyncio.Task)
