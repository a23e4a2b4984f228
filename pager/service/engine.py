"""The engine: one repeatable tick over due work kept in the store. APScheduler only drives the tick."""
from __future__ import annotations

from datetime import datetime

import structlog

from pager.clock import Clock
from pager.service.schedule import HANDOVER_CATCH_UP, Schedule, overrides_from
from pager.storage.port import Store

log = structlog.get_logger("pagerd.engine")


async def handover_notices(store: Store, schedule: Schedule, now: datetime) -> list[dict]:
    """Tell each incoming engineer once per hand-off. The claim lives in the store: a restart neither
    misses one (it catches up within HANDOVER_CATCH_UP) nor doubles one."""
    overrides = overrides_from(await store.list_overrides())
    given = []
    for name, rot_cfg in schedule.config.rotations.items():
        wanted = rot_cfg.handover_notice
        if wanted is None:
            wanted = rot_cfg.restrict_to != ["office"]
        if not wanted:
            continue
        shift = schedule.handoff_shift(name, now, overrides)
        if shift is None or now - shift.start > HANDOVER_CATCH_UP:
            continue
        if await store.claim_handover(name, shift.start, shift.person, now):
            person = schedule.config.people.get(shift.person)
            notice = {"rotation": name, "person": shift.person, "name": person.name if person else shift.person,
                      "start": shift.start.isoformat(), "end": shift.end.isoformat()}
            # the paging notifiers take this over once they are wired; until then the log is the channel
            log.info("handover_notice", **notice)
            given.append(notice)
    return given


class Engine:
    def __init__(self, store: Store, clock: Clock, schedule_of) -> None:
        self.store, self.clock, self._schedule_of = store, clock, schedule_of

    async def tick(self) -> None:
        now = self.clock.now()
        try:
            await handover_notices(self.store, self._schedule_of(), now)
        except Exception:  # a failed tick is retried by the next one; it must not kill the scheduler
            log.exception("engine_tick_failed")
