"""The SQLite store against a real database file: group commit, idempotency, incident lifecycle.
What every store must do through the port (transitions, notes, reads, ...) is in tests/contract."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pager.clock import ManualClock
from pager.domain.alert import Source
from pager.service.ingest import group_of
from pager.sources import alertmanager, events_v2, nagios
from pager.storage.port import Delivery, IngestPolicy, json_instant
from pager.storage.sqlite import SqliteStore

FIRING = (Path(__file__).resolve().parents[1] / "testdata" / "alertmanager" / "firing.json").read_bytes()
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))


def am_body(statuses: tuple[str, str], starts: str = "2026-11-25T14:00:00.000Z") -> bytes:
    d = json.loads(FIRING)
    for a, st in zip(d["alerts"], statuses, strict=True):
        a["status"] = st
        a["startsAt"] = starts
        if st == "resolved":
            a["endsAt"] = "2026-11-25T14:20:00Z"
    d["status"] = "firing" if "firing" in statuses else "resolved"
    return json.dumps(d).encode()


def delivery(body: bytes, at: datetime, source: Source = Source.ALERTMANAGER, dedup_by: str = "group_key") -> Delivery:
    if source is Source.ALERTMANAGER:
        alerts, facts = alertmanager.parse(body, dedup_by=dedup_by)
        return Delivery(source, "application/json", body, tuple(alerts), at, facts, group_of(facts))
    elif source is Source.EVENTS_V2:
        alerts, facts = [events_v2.parse(body)[1]], {}
    else:
        alerts, facts = [nagios.parse(json.loads(body))], {}
    return Delivery(source, "application/json", body, tuple(alerts), at, facts)


@pytest.fixture
async def store(tmp_path):
    s = SqliteStore(str(tmp_path / "p.db"), POLICY, clock=ManualClock(T0))
    await s.open()
    yield s
    await s.close()


async def test_grouped_lifecycle(store: SqliteStore) -> None:
    r = await store.ingest(delivery(am_body(("firing", "firing")), T0))
    [iid] = r.incident_ids
    inc = await store.get_incident(iid)
    assert (inc.state, inc.alert_count) == ("triggered", 2)
    await store.ingest(delivery(am_body(("resolved", "firing")), T0 + timedelta(minutes=20)))
    inc = await store.get_incident(iid)
    assert inc.state == "triggered"
    assert [a.status for a in inc.alerts] == ["resolved", "firing"]
    await store.ingest(delivery(am_body(("resolved", "resolved")), T0 + timedelta(minutes=25)))
    inc = await store.get_incident(iid)
    assert inc.state == "resolved" and json_instant(inc.resolved_at).startswith("2026-11-25T14:25")
    kinds = [e.kind for e in inc.timeline]
    assert kinds == ["opened", "alerts_received", "alerts_received", "alerts_received", "resolved"]
    assert inc.timeline[-1].data["reason"] == "alerts_resolved"


def silenced_b_then_a_resolves() -> bytes:
    """What Alertmanager sends after the group's second alert was silenced (or inhibited) and the
    first resolved: top-level status resolved, only the first alert listed."""
    d = json.loads(am_body(("resolved", "firing")))
    d["alerts"] = d["alerts"][:1]
    d["status"] = "resolved"
    return json.dumps(d).encode()


async def test_a_resolved_group_resolves_the_alerts_it_no_longer_lists(store: SqliteStore) -> None:
    r = await store.ingest(delivery(am_body(("firing", "firing")), T0))
    [iid] = r.incident_ids
    done = await store.ingest(delivery(silenced_b_then_a_resolves(), T0 + timedelta(minutes=20)))
    assert [a.outcome.value for a in done.applied] == ["resolve_alert"]
    inc = await store.get_incident(iid)
    assert inc.state == "resolved" and inc.resolved_by == "alertmanager"
    assert [a.status for a in inc.alerts] == ["resolved", "resolved"]
    kinds = [e.kind for e in inc.timeline]
    assert kinds == ["opened", "alerts_received", "alert_resolved_by_group", "alerts_received", "resolved"]
    by_group = inc.timeline[2]
    assert by_group.data["fingerprint"] == "6d2b3c4d5e6f7081"
    assert by_group.data["group_key"] == '{}:{alertname="DiskFull"}'
    assert inc.timeline[-1].data["reason"] == "group_resolved"
    again = await store.ingest(delivery(silenced_b_then_a_resolves(), T0 + timedelta(minutes=21)))
    assert again.duplicates == 1 and (await store.get_incident(iid)).timeline == inc.timeline


async def test_a_resolved_group_resolves_its_alerts_incidents_by_fingerprint(store: SqliteStore) -> None:
    r = await store.ingest(delivery(am_body(("firing", "firing")), T0, dedup_by="fingerprint"))
    first, second = r.incident_ids
    other = json.loads(am_body(("firing", "firing")))
    other["groupKey"] = '{}:{alertname="Other"}'
    for a, fp in zip(other["alerts"], ("o1", "o2"), strict=True):
        a["fingerprint"] = fp
    r_other = await store.ingest(delivery(json.dumps(other).encode(), T0, dedup_by="fingerprint"))
    await store.ingest(delivery(silenced_b_then_a_resolves(), T0 + timedelta(minutes=20), dedup_by="fingerprint"))
    a, b = await store.get_incident(first), await store.get_incident(second)
    assert a is not None and b is not None
    assert (a.state, b.state) == ("resolved", "resolved")
    assert a.timeline[-1].data["reason"] == "alerts_resolved"
    assert [e.kind for e in b.timeline][-2:] == ["alert_resolved_by_group", "resolved"]
    assert b.timeline[-1].data["reason"] == "group_resolved"
    assert {(await store.get_incident(i)).state for i in r_other.incident_ids} == {"triggered"}


async def test_a_group_resolve_stops_the_incidents_escalation(store: SqliteStore, tmp_path) -> None:
    r = await store.ingest(delivery(am_body(("firing", "firing")), T0))
    [iid] = r.incident_ids
    await store.create_escalation(
        incident_id=iid,
        generation=0,
        project="agency/infra",
        rotation="office",
        policy={"name": "default"},
        status="active",
        next_at=T0 + timedelta(minutes=5),
        target_seconds=1800,
        reason="test",
        now=T0,
    )
    assert await store.fire_step(
        incident_id=iid,
        generation=0,
        k=0,
        next_at=T0 + timedelta(minutes=15),
        now=T0,
        first_page=True,
        messages=[
            {
                "idem_key": "page-1",
                "person": "anna",
                "channel": "sms",
                "address": "+31612345001",
                "kind": "page",
                "body": "disk",
                "due_at": T0 + timedelta(minutes=1),
            }
        ],
        deadline=T0 + timedelta(minutes=30),
        escalate_at=None,
        early=False,
        event={"kind": "paging"},
        final_status=None,
    )
    await store.ingest(delivery(silenced_b_then_a_resolves(), T0 + timedelta(minutes=1)))
    conn = sqlite3.connect(tmp_path / "p.db")
    assert conn.execute("SELECT status, next_at FROM escalations WHERE incident_id = ?", (iid,)).fetchall() == [
        ("stopped", None)
    ]
    assert conn.execute("SELECT status FROM outbox WHERE incident_id = ?", (iid,)).fetchall() == [("cancelled",)]
    assert await store.due_escalations(T0 + timedelta(hours=1)) == []


async def test_redelivery_changes_nothing(store: SqliteStore) -> None:
    body = am_body(("firing", "firing"))
    first = await store.ingest(delivery(body, T0))
    before = await store.get_incident(first.incident_ids[0])
    again = await store.ingest(delivery(body, T0 + timedelta(minutes=5)))
    assert again.duplicates == 2
    after = await store.get_incident(first.incident_ids[0])
    assert after.timeline == before.timeline and after.alert_count == 2
    assert len(await store.list_incidents()) == 1


async def test_reopen_within_window_and_new_incident_after(store: SqliteStore) -> None:
    r = await store.ingest(delivery(am_body(("firing", "firing")), T0))
    await store.ingest(delivery(am_body(("resolved", "resolved")), T0 + timedelta(minutes=20)))
    r2 = await store.ingest(delivery(am_body(("firing", "firing"), "2026-11-25T14:30:00Z"), T0 + timedelta(minutes=30)))
    assert r2.incident_ids == r.incident_ids
    inc = await store.get_incident(r.incident_ids[0])
    assert inc.state == "triggered" and inc.reopen_count == 1
    await store.ingest(delivery(am_body(("resolved", "resolved"), "2026-11-25T14:30:00Z"), T0 + timedelta(minutes=40)))
    r3 = await store.ingest(delivery(am_body(("firing", "firing"), "2026-11-25T16:00:00Z"), T0 + timedelta(hours=2)))
    assert r3.incident_ids != r.incident_ids


async def test_resolve_for_unknown_key_opens_nothing(store: SqliteStore) -> None:
    r = await store.ingest(delivery(am_body(("resolved", "resolved")), T0))
    assert r.incident_ids == [] and await store.list_incidents() == []


async def test_concurrent_ingests_are_group_committed_and_exact(store: SqliteStore, tmp_path) -> None:
    batches = []
    store._on_commit = lambda n, s: batches.append(n)
    bodies = []
    for i in range(300):
        d = json.loads(FIRING)
        d["groupKey"] = f"g{i}"
        bodies.append(json.dumps(d).encode())
    results = await asyncio.gather(*(store.ingest(delivery(b, T0)) for b in bodies))
    assert len({r.incident_ids[0] for r in results}) == 300
    assert sum(batches) == 300 and max(batches) > 1  # several requests shared a commit
    conn = sqlite3.connect(tmp_path / "p.db")
    assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 300
    assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 600


async def test_one_failing_job_fails_alone(store: SqliteStore) -> None:
    def boom(conn):
        conn.execute("INSERT INTO events (incident_id, at, kind, actor, data) VALUES (999999, 'x', 'x', NULL, '{}')")

    good = [store.ingest(delivery(am_body(("firing", "firing")), T0))]
    bad = store._write(boom)  # violates the foreign key: rolled back to its savepoint
    res = await asyncio.gather(*good, bad, return_exceptions=True)
    assert isinstance(res[1], sqlite3.IntegrityError)
    assert len(await store.list_incidents()) == 1


async def test_events_v2_duplicate_window(store: SqliteStore) -> None:
    body = json.dumps(
        {
            "routing_key": "routing-key-0001",
            "event_action": "trigger",
            "dedup_key": "k",
            "payload": {"summary": "s", "source": "h", "severity": "error"},
        }
    ).encode()
    resolve = json.dumps({"routing_key": "routing-key-0001", "event_action": "resolve", "dedup_key": "k"}).encode()
    r1 = await store.ingest(delivery(body, T0, Source.EVENTS_V2))
    r2 = await store.ingest(delivery(body, T0 + timedelta(minutes=1), Source.EVENTS_V2))
    assert r2.duplicates == 1
    await store.ingest(delivery(resolve, T0 + timedelta(minutes=2), Source.EVENTS_V2))
    # the same trigger after the window is the alert firing again: the incident reopens
    r3 = await store.ingest(delivery(body, T0 + timedelta(minutes=10), Source.EVENTS_V2))
    assert r3.duplicates == 0 and r3.incident_ids == r1.incident_ids
    assert (await store.get_incident(r1.incident_ids[0])).state == "triggered"


async def test_nagios_ack_and_annotations(store: SqliteStore) -> None:
    base = {
        "HOSTNAME": "web1",
        "SERVICEDESC": "HTTP",
        "SERVICESTATE": "CRITICAL",
        "SERVICEPROBLEMID": "5",
        "NOTIFICATIONNUMBER": "1",
        "TIMET": "1795600000",
    }
    r = await store.ingest(delivery(json.dumps({**base, "NOTIFICATIONTYPE": "PROBLEM"}).encode(), T0, Source.NAGIOS))
    iid = r.incident_ids[0]
    await store.ingest(delivery(json.dumps({**base, "NOTIFICATIONTYPE": "DOWNTIMESTART"}).encode(), T0, Source.NAGIOS))
    assert (await store.get_incident(iid)).state == "triggered"
    await store.ingest(
        delivery(
            json.dumps(
                {
                    **base,
                    "NOTIFICATIONTYPE": "ACKNOWLEDGEMENT",
                    "NOTIFICATIONAUTHOR": "anna",
                    "NOTIFICATIONCOMMENT": "looking",
                }
            ).encode(),
            T0,
            Source.NAGIOS,
        )
    )
    inc = await store.get_incident(iid)
    assert inc.state == "acknowledged" and inc.acknowledged_by == "anna"
    await store.ingest(
        delivery(
            json.dumps({**base, "NOTIFICATIONTYPE": "RECOVERY", "SERVICESTATE": "OK", "TIMET": "1795600300"}).encode(),
            T0,
            Source.NAGIOS,
        )
    )
    assert (await store.get_incident(iid)).state == "resolved"


async def test_raw_body_kept_once_per_content(store: SqliteStore, tmp_path) -> None:
    body = am_body(("firing", "firing"))
    await store.ingest(delivery(body, T0))
    await store.ingest(delivery(body, T0 + timedelta(seconds=3)))
    conn = sqlite3.connect(tmp_path / "p.db")
    rows = conn.execute("SELECT body, seen_count FROM deliveries").fetchall()
    assert rows == [(body, 2)]


async def test_nagios_warning_to_critical_updates_the_incident(store: SqliteStore) -> None:
    base = {
        "NOTIFICATIONTYPE": "PROBLEM",
        "HOSTNAME": "web1",
        "SERVICEDESC": "HTTP",
        "SERVICEPROBLEMID": "5",
        "SERVICEOUTPUT": "slow",
    }
    r = await store.ingest(
        delivery(json.dumps({**base, "SERVICESTATE": "WARNING", "NOTIFICATIONNUMBER": "1"}).encode(), T0, Source.NAGIOS)
    )
    await store.ingest(
        delivery(
            json.dumps(
                {**base, "SERVICESTATE": "CRITICAL", "NOTIFICATIONNUMBER": "2", "SERVICEOUTPUT": "down"}
            ).encode(),
            T0,
            Source.NAGIOS,
        )
    )
    inc = await store.get_incident(r.incident_ids[0])
    assert (inc.severity, inc.labels["state"], inc.summary) == (
        "critical",
        "CRITICAL",
        "HTTP on web1 is CRITICAL: down",
    )


async def test_alertmanager_group_severity_rises_never_falls(store: SqliteStore) -> None:
    d = json.loads(FIRING)
    for a in d["alerts"]:
        a["labels"]["severity"] = "warning"
    r = await store.ingest(delivery(json.dumps(d).encode(), T0))
    d["alerts"][1]["labels"]["severity"] = "critical"
    d["alerts"][1]["fingerprint"] = "new-one"
    await store.ingest(delivery(json.dumps(d).encode(), T0))
    assert (await store.get_incident(r.incident_ids[0])).severity == "critical"
    d["alerts"][0]["fingerprint"] = "third"
    d["alerts"][0]["labels"]["severity"] = "info"
    await store.ingest(delivery(json.dumps(d).encode(), T0))
    assert (await store.get_incident(r.incident_ids[0])).severity == "critical"


async def test_the_wal_is_started_over_under_a_steady_load(tmp_path) -> None:
    """With commits back to back, SQLite's automatic checkpoint (1,000 pages) copies the WAL back
    and a later commit starts it over: the WAL file stays near that length instead of growing
    with every commit."""
    s = SqliteStore(str(tmp_path / "w.db"), POLICY, clock=ManualClock(T0))
    await s.open()
    d = json.loads(FIRING)
    written = [0]

    async def client(c: int) -> None:
        for i in range(150):
            body = json.dumps(dict(d, groupKey=f"{{}}:{{alertname=\"Wal{c}-{i}\"}}")).encode()
            await s.ingest(delivery(body, T0 + timedelta(seconds=i)))
            written[0] += 1

    try:
        await asyncio.gather(*(client(c) for c in range(16)))  # 2,400 webhooks, commits back to back
        wal = os.path.getsize(tmp_path / "w.db-wal")  # noqa: ASYNC240 (a stat between awaits)
        frames = wal // (4096 + 24)
        assert written[0] == 2400 and (await s.count_by_state())["triggered"] == 2400
        assert frames < 1500, f"the WAL grew to {frames} frames: it was not started over"
    finally:
        await s.close()
