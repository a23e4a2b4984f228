"""The engine's fast paths against the readable reference: a new incident that pages at once
(`PagingEngine.first_step_in_route`: its first escalation step decided in the route stage and written with
its escalation in one transaction, instead of the steps stage reading it back and firing it), the
escalation stages with nothing to do skipping their reads (`PagingEngine.skip_idle_stages`: one read says
which of stop, steps and target have work), and a tick's coverage decisions made once per project, route
and severity when no maintenance window can hold an incident (`PagingEngine.reuse_decisions`). Each
timeline below is told on a fresh database with each fast path alone, with all, and with none, and must
leave the same escalations, outbox rows, timeline events and messages sent.

By the example config: standby in the week of 2026-12-07 is dewi; the office rotation on Wed 2026-12-09
is chris; the desk is anna and support@example.nl; warning is low urgency.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import generate_latest

from tests.scenarios.harness import Scenario
from tests.scenarios.test_paging_timeline import booked_only_config

AGENCY = {"customer": "agency"}
WEBSHOP = {"customer": "acme", "service": "webshop"}


async def office_hours(s: Scenario) -> None:
    await s.fire({**AGENCY, "severity": "critical"})
    await s.advance(minutes=16)  # the second step, fired by the steps stage either way


async def several_in_one_tick(s: Scenario) -> None:
    for i in range(3):
        await s.fire({**AGENCY, "alertname": f"A{i}"}, settle=False)
    await s.fire({**WEBSHOP, "severity": "warning"}, settle=False)
    await s.settle()
    await s.advance(minutes=20)


async def a_night_storm_in_one_tick(s: Scenario) -> None:
    """Many incidents of the same project, route and severity in one tick, and of others."""
    for i in range(4):
        await s.fire({**AGENCY, "alertname": f"Down{i}", "severity": "critical", "instance": f"web{i}"}, settle=False)
    for i in range(2):
        await s.fire({**AGENCY, "alertname": f"Slow{i}", "severity": "warning"}, settle=False)  # deferred
    await s.fire({**WEBSHOP, "alertname": "Checkout"}, settle=False)
    await s.settle()
    await s.advance(minutes=20)


async def a_window_for_one_host_in_a_storm(s: Scenario) -> None:
    """A maintenance window holds one host's alert; the others of the same project and severity page."""
    status, _ = await s.api(
        "POST",
        "/api/v1/maintenance",
        {"start": "2026-12-08T21:00", "end": "2026-12-08T23:00", "reason": "db upgrade", "match": {"instance": "db1"}},
    )
    assert status == 201
    for host in ("web1", "db1", "web2"):
        await s.fire({**AGENCY, "alertname": "Down", "severity": "critical", "instance": host}, settle=False)
    await s.settle()
    await s.at("23:00")


async def evening_with_standby_booked(s: Scenario) -> None:
    status, _ = await s.api(
        "POST", "/api/v1/bookings", {"customer": "acme", "start": "2026-12-09T18:00", "end": "2026-12-10T08:30"}
    )
    assert status == 201
    await s.at("23:00")
    await s.fire(WEBSHOP)
    await s.fire({**WEBSHOP, "alertname": "Other"})


async def evening_without_booking(s: Scenario) -> None:
    await s.fire(WEBSHOP)  # coverage standby, nothing booked: the desk at the opening
    await s.at("2026-12-10 08:30")


async def maintenance_window(s: Scenario) -> None:
    status, _ = await s.api(
        "POST",
        "/api/v1/maintenance",
        {
            "start": "2026-12-08T21:00",
            "end": "2026-12-08T23:00",
            "reason": "upgrade",
            "by": "anna",
            "project": "acme/webshop",
        },
    )
    assert status == 201
    await s.fire(WEBSHOP)
    await s.fire({**AGENCY, "severity": "critical"})  # another project: paged at once
    await s.at("23:00")


async def low_urgency_deferral(s: Scenario) -> None:
    await s.fire({**AGENCY, "severity": "warning"})
    await s.at("2026-12-09 08:30")


async def repeat_alert(s: Scenario) -> None:
    group = '{}:{alertname="Repeat"}'
    await s.fire({**AGENCY, "alertname": "Repeat"}, group=group)
    await s.advance(minutes=1)
    await s.fire({**AGENCY, "alertname": "Repeat"}, group=group)  # the same incident again
    await s.advance(minutes=1)
    await s.fire({**AGENCY, "alertname": "Repeat"}, group=group, resolved=True)
    await s.advance(minutes=1)
    await s.fire({**AGENCY, "alertname": "Repeat"}, group=group)  # reopened: its second round pages at once
    await s.advance(minutes=16)


async def breached_then_answered(s: Scenario) -> None:
    iid = await s.fire({**AGENCY, "severity": "critical"})
    await s.advance(minutes=31)  # the response target (30 min) passes unanswered
    status, _ = await s.api("POST", f"/api/v1/incidents/{iid}/ack", {"by": "chris"})
    assert status == 200
    await s.advance(minutes=1)
    await s.reply("chris", "2")  # resolved by SMS


async def low_turns_critical(s: Scenario) -> None:
    group = '{}:{alertname="DiskFilling"}'
    await s.fire({**AGENCY, "alertname": "DiskFilling", "severity": "warning"}, group=group)
    await s.at("22:10")
    await s.fire({**AGENCY, "alertname": "DiskFilling", "severity": "critical"}, group=group)
    await s.advance(minutes=20)


async def acked_before_the_tick(s: Scenario) -> None:
    iid = await s.fire({**AGENCY, "severity": "critical"}, settle=False)
    status, _ = await s.api("POST", f"/api/v1/incidents/{iid}/ack", {"by": "anna"})
    assert status == 200
    await s.settle()
    await s.advance(minutes=20)


CASES: list[tuple[str, str, bool, Callable[[Scenario], Awaitable[None]]]] = [
    ("office hours", "2026-12-09 10:00", False, office_hours),
    ("several in one tick", "2026-12-09 10:00", False, several_in_one_tick),
    ("evening, standby booked", "2026-12-09 17:00", True, evening_with_standby_booked),
    ("evening, nothing booked", "2026-12-09 23:00", True, evening_without_booking),
    ("maintenance window", "2026-12-08 21:30", False, maintenance_window),
    ("a night storm in one tick", "2026-12-08 22:00", False, a_night_storm_in_one_tick),
    ("a window for one host in a storm", "2026-12-08 21:30", False, a_window_for_one_host_in_a_storm),
    ("low urgency deferral", "2026-12-08 22:00", False, low_urgency_deferral),
    ("repeat alert", "2026-12-09 10:00", False, repeat_alert),
    ("acknowledged before the tick", "2026-12-09 10:00", False, acked_before_the_tick),
    ("breached, then answered", "2026-12-09 10:00", False, breached_then_answered),
    ("low urgency turns critical", "2026-12-08 22:00", False, low_turns_critical),
]


def _outbox(db: sqlite3.Connection) -> list[tuple]:
    """The outbox rows as their idempotency keys name them: a row's own id, and the bundle's carrier by
    id, depend on the order rows were written; the provider's id (the recording notifier numbers messages
    in the order the dispatch's concurrent sends reach it) varies from run to run either way."""
    skip = ("id", "provider_id", "bundle_id")
    cols = [f"o.{r[1]}" for r in db.execute("PRAGMA table_info(outbox)") if r[1] not in skip]
    return db.execute(
        f"SELECT {', '.join(cols)}, (SELECT b.idem_key FROM outbox b WHERE b.id = o.bundle_id) FROM outbox o "
        "ORDER BY o.incident_id, o.idem_key"
    ).fetchall()


def _timeline(db: sqlite3.Connection) -> tuple[list[tuple], list[tuple]]:
    """Each incident's events in order, but `paged` (one per message sent, in the order the concurrent
    sends end) apart, sorted, without the message's and the provider's ids."""
    ordered, paged = [], []
    for iid, at, kind, actor, data in db.execute(
        "SELECT incident_id, at, kind, actor, data FROM events ORDER BY incident_id, id"
    ):
        if kind == "paged":
            d = {k: v for k, v in json.loads(data).items() if k not in ("message_id", "provider_id")}
            paged.append((iid, at, actor, json.dumps(d, sort_keys=True)))
        else:
            ordered.append((iid, at, kind, actor, data))
    return ordered, sorted(paged)


def _untimed(body: str) -> str:
    """A message's text without the timeline an e-mail carries (its last 30 events, compared as the
    store's own rows: how many `paged` events of one tick's concurrent sends it shows varies)."""
    return body.split("\nTimeline:\n")[0]


async def _told(tmp_path, start: str, booked_only: bool, story, first_step: bool, skip_idle: bool, reuse: bool) -> dict:
    kw = {"config_path": booked_only_config(tmp_path)} if booked_only else {}
    async with Scenario(tmp_path, start, **kw) as s:
        s.engine.first_step_in_route = first_step
        s.engine.skip_idle_stages = skip_idle
        s.engine.reuse_decisions = reuse
        await story(s)
        db = s._db
        return {
            "escalations": db.execute("SELECT * FROM escalations ORDER BY incident_id, generation").fetchall(),
            "outbox": _outbox(db),
            "timeline": _timeline(db),
            "sent": sorted(
                (a.at, a.message.channel, a.message.to, _untimed(a.message.body)) for a in s.notifier.attempts
            ),
            "metrics": [
                line
                for line in generate_latest(s.metrics.registry).decode().splitlines()
                if line.startswith(("pagerd_response_seconds", "pagerd_response_target_breaches_total"))
                and "_created " not in line
            ],
        }


FAST = {
    "first step in route": (True, False, False),
    "idle stages skipped": (False, True, False),
    "decisions reused": (False, False, True),
    "all": (True, True, True),
}


@pytest.mark.parametrize("fast", FAST)
@pytest.mark.parametrize("name, start, booked_only, story", CASES, ids=[c[0] for c in CASES])
async def test_the_fast_paths_write_what_the_reference_writes(tmp_path, name, start, booked_only, story, fast):
    (tmp_path / "fast").mkdir()
    (tmp_path / "reference").mkdir()
    got = await _told(tmp_path / "fast", start, booked_only, story, *FAST[fast])
    reference = await _told(tmp_path / "reference", start, booked_only, story, False, False, False)
    for what in ("escalations", "outbox", "timeline", "sent", "metrics"):
        assert got[what] == reference[what], what
    assert reference["escalations"] or name == "acknowledged before the tick"
    if name == "breached, then answered":  # the target stage's work was done, not skipped both ways
        assert {"pagerd_response_target_breaches_total 1.0", "pagerd_response_seconds_count 1.0"} <= set(
            reference["metrics"]
        )


async def test_the_route_stage_alone_pages_a_new_incident_on_the_fast_path(tmp_path):
    """The fast path is taken: after the route stage alone, an incident that pages at once has its first
    step's pages in the outbox and `paging` on its timeline (the reference leaves them to the steps stage),
    and that one tick sends them."""
    for fast in (True, False):
        (tmp_path / str(fast)).mkdir()
        async with Scenario(tmp_path / str(fast), "2026-12-09 10:00") as s:
            s.engine.first_step_in_route = fast
            iid = await s.fire({**AGENCY, "severity": "critical"}, settle=False)
            await s.engine.route(s.config, s.schedule, s.clock.now())
            queued = s.query("SELECT count(*) FROM outbox WHERE incident_id = ?", iid)[0][0]
            assert (queued > 0) is fast
            assert (await s.events(iid, "paging") != []) is fast
            await s.engine.tick()
            assert any(a.message.incident_id == iid and a.message.channel == "sms" for a in s.sent())
