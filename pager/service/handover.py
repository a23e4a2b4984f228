"""The engine's hand-over stage: the incoming engineer of a rotation is told once per hand-off."""

from __future__ import annotations

from datetime import datetime

import structlog

from pager.service.schedule import HANDOVER_CATCH_UP, Schedule, iso, overrides_from, parse_utc
from pager.storage.port import Store

log = structlog.get_logger("pagerd.engine")


async def handover_notices(
    store: Store, schedule: Schedule, now: datetime, settled: set[tuple[str, datetime, str]] | None = None
) -> list[dict]:
    """Tell each incoming engineer once per hand-off. The claim lives in the store: a restart neither
    misses one (it catches up within HANDOVER_CATCH_UP) nor doubles one. `settled`: the claims (rotation,
    key, person) this process has already asked the store about, kept by the caller from tick to tick: a
    claim's answer never changes, so each is asked once instead of at every tick of its catch-up window (a
    restart starts with none and asks the store again)."""
    if settled is not None:  # forget the ones past their window (asking again would only be refused)
        settled -= {c for c in settled if now - c[1] > 2 * HANDOVER_CATCH_UP}
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
        # a shift (or an override) that the rotation's hours leave empty for this person is no hand-over:
        # e.g. a standby override that lies wholly inside office hours
        base = schedule.handoff_shift(name, now, [])
        horizon = max(shift.end, base.end) if base is not None else shift.end
        pieces = schedule.shifts(name, shift.start, horizon, overrides)
        if not any(
            p["person"] == shift.person and parse_utc(p["start"]) < horizon and parse_utc(p["end"]) > shift.start
            for p in pieces
        ):
            continue
        # the rotation's own person coming back after an override was told at the hand-off: one claim per hand-off
        key = base.start if base is not None and base.person == shift.person else shift.start
        if settled is not None:
            if (name, key, shift.person) in settled:
                continue
            settled.add((name, key, shift.person))
        if await store.claim_handover(name, key, shift.person, now):
            person = schedule.config.people.get(shift.person)
            notice = {
                "rotation": name,
                "person": shift.person,
                "name": person.name if person else shift.person,
                "start": shift.start.isoformat(),
                "end": shift.end.isoformat(),
            }
            log.info("handover_notice", **notice)
            if person is not None:
                text = (
                    f"pagerd: you are on call for {name} from {_local(schedule, shift.start)} "
                    f"until {_local(schedule, shift.end)}."
                )
                for channel, address in (("sms", person.phone), ("email", person.email)):
                    if address:
                        await store.queue_message(
                            idem_key=f"handover:{name}:{iso(shift.start)}:{shift.person}:{channel}",
                            person=shift.person,
                            channel=channel,
                            address=address,
                            kind="handover",
                            subject=f"[pagerd] on call: {name}",
                            body=text,
                            due_at=now,
                            now=now,
                        )
            given.append(notice)
    return given


def _local(schedule: Schedule, dt: datetime) -> str:
    return dt.astimezone(schedule.calendar.zone).strftime("%a %d %b %H:%M")
