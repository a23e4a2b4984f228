"""Group commit must not change what ingest does: many deliveries in one commit end in exactly the
rows that one commit per delivery writes.

Random streams over a few keys mix every path: new incidents, appends, partial and full resolves,
resolved Alertmanager groups (by group key and by fingerprint), reopens inside the window, Nagios
acknowledgements and annotations, Events-v2 re-sends inside and after the duplicate window,
byte-identical re-deliveries, manual transitions between deliveries in the same commit, and jobs
that fail (rolled back to their own savepoint). Also: the migrations of the store."""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from pager.domain.alert import Source
from pager.domain.incident import Outcome, State
from pager.service.ingest import group_of
from pager.sources import alertmanager, events_v2, nagios
from pager.storage.port import Delivery, IngestPolicy
from pager.storage.sqlite import _commit_batch, _connect, _Job, _transition, ingest, migrate
from pager.storage.sqlite_ingest import key_prefix, stored_id

T0 = datetime(2026, 11, 25, 23, 50, tzinfo=timezone.utc)  # the stream runs over midnight
POLICY = IngestPolicy(reopen_window=timedelta(minutes=20), events_v2_duplicate_window=timedelta(minutes=5))
TABLES = {
    "incidents": "SELECT * FROM incidents ORDER BY id",
    "alerts": "SELECT * FROM alerts ORDER BY id",
    "events": "SELECT * FROM events ORDER BY id",
    "deliveries": "SELECT * FROM deliveries ORDER BY id",
    "alert_events": "SELECT * FROM alert_events ORDER BY event_id",
}


def _am(rng: random.Random, at: datetime, groups: int = 2) -> Delivery:
    group = f"g{rng.randint(1, groups)}"
    alerts = []
    for fp in rng.sample(["f1", "f2", "f3", "f4"], rng.randint(1, 3)):
        status = rng.choice(["firing", "firing", "firing", "firing", "resolved"])
        alerts.append(
            {
                "status": status,
                "labels": {"alertname": group, "fp": fp, "severity": rng.choice(["info", "warning", "critical"])},
                "annotations": {"summary": f"{group} {fp}"},
                "startsAt": f"2026-11-25T2{rng.randint(0, 1)}:00:00Z",
                "endsAt": "2026-11-25T23:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                "fingerprint": fp,
            }
        )
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "truncatedAlerts": rng.choice([0, 0, 0, 7]),
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "pagerd",
        "groupLabels": {"alertname": group},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": alerts,
    }
    return _am_delivery(json.dumps(body).encode(), at, rng.choice(["group_key", "group_key", "fingerprint"]))


def _am_delivery(raw: bytes, at: datetime, dedup_by: str = "group_key") -> Delivery:
    parsed, facts = alertmanager.parse(raw, dedup_by=dedup_by)
    return Delivery(Source.ALERTMANAGER, "application/json", raw, tuple(parsed), at, facts, group_of(facts))


def _nagios(rng: random.Random, at: datetime, groups: int = 2) -> Delivery:
    kind = rng.choice(["PROBLEM", "PROBLEM", "RECOVERY", "ACKNOWLEDGEMENT", "DOWNTIMESTART"])
    macros = {
        "NOTIFICATIONTYPE": kind,
        "HOSTNAME": f"web{rng.randint(1, groups)}",
        "SERVICEDESC": "HTTP",
        "SERVICESTATE": "OK" if kind == "RECOVERY" else rng.choice(["WARNING", "CRITICAL"]),
        "SERVICEPROBLEMID": str(rng.randint(1, 2)),
        "NOTIFICATIONNUMBER": str(rng.randint(1, 3)),
        "SERVICEOUTPUT": rng.choice(["slow", "down"]),
        "NOTIFICATIONAUTHOR": "anna",
        "NOTIFICATIONCOMMENT": "looking",
    }
    raw = json.dumps(macros).encode()
    return Delivery(Source.NAGIOS, "application/json", raw, (nagios.parse(macros),), at, {})


def _events_v2(rng: random.Random, at: datetime, groups: int = 2) -> Delivery:
    action = rng.choice(["trigger", "trigger", "acknowledge", "resolve"])
    event = {"routing_key": "routing-key-0001", "event_action": action, "dedup_key": f"d{rng.randint(1, groups)}"}
    if action == "trigger":
        event["payload"] = {"summary": "disk", "source": "h", "severity": rng.choice(["error", "critical"])}
    raw = json.dumps(event).encode()
    return Delivery(Source.EVENTS_V2, "application/json", raw, (events_v2.parse(raw)[1],), at, {})


def stream(seed: int, n: int, groups: int = 2) -> list[tuple]:
    """(fn, args) jobs: deliveries, some repeated byte for byte, with manual transitions between;
    `groups` keys per source (few: mostly repeats, reopens and resolves; many: mostly new keys)."""
    rng = random.Random(seed)
    at, jobs, seen = T0, [], []
    for _ in range(n):
        at += timedelta(minutes=rng.choice([0, 0, 1, 3, 7, 30]))
        r = rng.random()
        if r < 0.1 and seen:
            old = rng.choice(seen)  # a retry of an earlier delivery (same bytes, later)
            jobs.append((ingest, (dataclasses.replace(old, received_at=at), POLICY)))
        elif r < 0.18:
            target = rng.choice([State.ACKNOWLEDGED, State.RESOLVED])
            # incident ids 1..6 exist by then or not: a missing one fails that job alone (NotFound)
            jobs.append((_transition, (rng.randint(1, 6), target, "anna", "api", None, at)))
        else:
            d = rng.choice([_am, _am, _nagios, _events_v2])(rng, at, groups)
            seen.append(d)
            jobs.append((ingest, (d, POLICY)))
    return jobs


def _fresh(tmp_path) -> sqlite3.Connection:
    path = str(tmp_path / "p.db")
    migrate(path, T0)
    return _connect(path, synchronous="OFF")


def _run(path: str, jobs: list[tuple], sizes: random.Random | None) -> tuple[list, dict]:
    migrate(path, T0)
    conn = _connect(path, synchronous="OFF")
    results, i = [], 0
    while i < len(jobs):
        k = 1 if sizes is None else sizes.choice([1, 2, 5, 12, 40])
        batch = [_Job(fn, args, None) for fn, args in jobs[i : i + k]]  # type: ignore[arg-type]
        _commit_batch(conn, batch)
        results += [(j.result, type(j.error).__name__ if j.error else None) for j in batch]
        i += k
    tables = {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}
    # every incident's alert_count is the count of its alert rows (an incident opened with one
    # alert is inserted with its count and not recounted)
    assert not conn.execute(
        "SELECT id FROM incidents i WHERE alert_count != (SELECT count(*) FROM alerts a WHERE a.incident_id = i.id)"
    ).fetchall()
    conn.close()
    return results, tables


@pytest.mark.parametrize("seed", range(40))
def test_batched_commits_write_what_single_commits_write(tmp_path, seed: int) -> None:
    """Consecutive deliveries of a commit are applied together (`ingest_together`: loaded a part of
    disjoint keys at once, rows written across deliveries); one commit per delivery is the reference.
    Odd seeds mix few keys (parts of one or two deliveries), even seeds many (long parts)."""
    jobs = stream(seed, 200, groups=2 if seed % 2 else 40)
    one_by_one = _run(str(tmp_path / "single.db"), jobs, None)
    batched = _run(str(tmp_path / "batched.db"), jobs, random.Random(seed))
    assert batched[0] == one_by_one[0]
    for name in TABLES:
        assert batched[1][name] == one_by_one[1][name], name
    incidents = one_by_one[1]["incidents"]
    assert len(incidents) >= 4 and "resolved" in {r[3] for r in incidents}  # the stream did things


def test_the_streams_cover_every_path(tmp_path) -> None:
    kinds, outcomes, errors = set(), set(), set()
    for seed in range(12):
        results, tables = _run(str(tmp_path / f"{seed}.db"), stream(seed, 160), random.Random(seed))
        kinds |= {r[3] for r in tables["events"]}
        outcomes |= {
            a.outcome for res, _ in results if res is not None and hasattr(res, "applied") for a in res.applied
        }
        errors |= {e for _, e in results if e}
        assert any(r[4] > 1 for r in tables["deliveries"])  # seen_count: a byte-identical re-delivery
    assert kinds >= {
        "opened",
        "alerts_received",
        "reopened",
        "acknowledged",
        "note",
        "resolved",
        "alert_resolved_by_group",
    }
    assert outcomes == set(Outcome)
    assert errors == {"NotFound"} or errors >= {"NotFound"}


def test_a_failing_job_in_a_batch_fails_alone_and_the_rest_commit(tmp_path) -> None:
    jobs = stream(99, 30)
    jobs.insert(5, (_transition, (10_000, State.RESOLVED, "anna", "api", None, T0)))  # NotFound
    conn = _fresh(tmp_path)
    batch = [_Job(fn, args, None) for fn, args in jobs]  # type: ignore[arg-type]
    _commit_batch(conn, batch)
    errors = [type(j.error).__name__ for j in batch if j.error is not None]
    assert "NotFound" in errors
    assert batch[5].error is not None and all(j.error is None for j in batch if j.fn is ingest)
    assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] > 0
    assert not conn.in_transaction


def test_a_job_that_raises_after_writing_leaves_nothing_behind(tmp_path) -> None:
    conn = _fresh(tmp_path)
    jobs = stream(5, 12)

    def writes_then_fails(c: sqlite3.Connection) -> None:
        c.execute(
            "INSERT INTO overrides (rotation, start_at, end_at, person, created_by, created_at) "
            "VALUES ('r', 'a', 'b', 'p', 'x', 'y')"
        )
        raise RuntimeError("boom")

    batch = (
        [_Job(fn, args, None) for fn, args in jobs[:2]]
        + [_Job(writes_then_fails, (), None)]
        + [_Job(fn, args, None) for fn, args in jobs[2:]]
    )  # type: ignore[arg-type]
    _commit_batch(conn, batch)
    assert isinstance(batch[2].error, RuntimeError)
    assert conn.execute("SELECT count(*) FROM overrides").fetchone()[0] == 0
    tables = {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}
    assert tables == _run(str(tmp_path / "reference.db"), jobs, None)[1]  # the others as if it never ran


def _store_at_version(path: str, last: int) -> sqlite3.Connection:
    """A database as an earlier pagerd left it: migrations up to `last` applied."""
    from pager.storage.sqlite import _statements, migration_functions, migrations

    conn = sqlite3.connect(path, isolation_level=None)
    migration_functions(conn)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for version, name, sql in migrations():
        if version <= last:
            for stmt in _statements(sql):
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", (version, name))
    return conn


def test_migration_10_gives_every_message_of_an_incident_its_round(tmp_path) -> None:
    path = str(tmp_path / "v9.db")
    conn = _store_at_version(path, 9)
    conn.execute(
        "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, "
        "updated_at) VALUES (12, 'nagios', 'web1/HTTP', 'triggered', 's', 'critical', '{}', 'a', 'a')"
    )
    for idem_key, iid in (
        ("12:0:0:anna:sms:0", 12),
        ("12:3:1:bram:voice:1", 12),
        ("12:10:desk:address", 12),
        ("handover:office:2026-01-05T07:30:00Z:anna", None),
    ):
        conn.execute(
            "INSERT INTO outbox (idem_key, incident_id, person, channel, address, kind, due_at, status, "
            "created_at) VALUES (?, ?, 'anna', 'sms', '+31612345001', 'page', 'a', 'sent', 'a')",
            (idem_key, iid),
        )
    conn.close()
    assert migrate(path, T0)[:1] == [10]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT idem_key, generation FROM outbox ORDER BY id").fetchall() == [
        ("12:0:0:anna:sms:0", 0),
        ("12:3:1:bram:voice:1", 3),
        ("12:10:desk:address", 10),
        ("handover:office:2026-01-05T07:30:00Z:anna", None),
    ]
    assert conn.execute("SELECT count(*) FROM twilio_callbacks").fetchone() == (0,)
    conn.close()


def test_migration_5_keeps_every_delivery_and_drops_the_unique_index(tmp_path) -> None:
    path = str(tmp_path / "v4.db")
    conn = _store_at_version(path, 4)
    conn.execute(
        "INSERT INTO deliveries (id, source, received_at, last_seen_at, seen_count, content_type, sha256, "
        "alert_count, body) VALUES (7, 'nagios', 'a', 'b', 3, 'application/json', 'ab12', 1, x'7b7d')"
    )
    conn.execute(
        "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, "
        "updated_at) VALUES (1, 'nagios', 'web1/HTTP', 'triggered', 's', 'critical', '{}', 'a', 'a')"
    )
    conn.execute(
        "INSERT INTO alerts (incident_id, fingerprint, status, summary, severity, labels, annotations, "
        "details, first_seen, last_seen, delivery_id) VALUES (1, 'f', 'firing', 's', 'critical', '{}', '{}', "
        "'{}', 'a', 'a', 7)"
    )
    conn.close()
    assert migrate(path, T0)[:2] == [5, 6]  # and any later ones
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT id, source, seen_count, sha256, body FROM deliveries").fetchall() == [
        (7, "nagios", 3, "ab12", b"{}")
    ]
    assert (
        conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' "
            "AND (sql IS NULL OR sql LIKE '%sha256%')"
        ).fetchone()[0]
        == 0
    )  # none on sha256
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("SELECT incident_id, fingerprint, delivery_id FROM alerts").fetchall() == [(1, "f", 7)]
    assert migrate(path, T0) == []


@pytest.mark.parametrize("batched", [False, True])
def test_every_body_is_kept_and_the_same_bytes_are_counted_where_first_stored(tmp_path, batched: bool) -> None:
    conn = _fresh(tmp_path)
    first = _am(random.Random(8), T0)
    # the same notifications, other bytes (key order): a body of its own, nothing applied twice
    other = json.dumps(dict(reversed(list(json.loads(first.body).items())))).encode()
    second = dataclasses.replace(first, body=other, received_at=T0 + timedelta(minutes=1))
    again = dataclasses.replace(first, received_at=T0 + timedelta(minutes=2))
    jobs = [_Job(ingest, (d, POLICY), None) for d in (first, second, again, again)]  # type: ignore[arg-type]
    for group in [jobs] if batched else [[j] for j in jobs]:
        _commit_batch(conn, group)
    assert [j.error for j in jobs] == [None] * 4
    rows = conn.execute("SELECT id, seen_count, body FROM deliveries ORDER BY id").fetchall()
    assert rows == [(1, 3, first.body), (2, 1, other)]
    assert all(j.result.duplicates == len(first.alerts) for j in jobs[1:])


def _am_one(group: str, fp: str, status: str, starts: str) -> Delivery:
    alert = {
        "status": status,
        "labels": {"alertname": group, "fp": fp},
        "annotations": {"summary": group},
        "startsAt": starts,
        "endsAt": "2026-11-25T23:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fp,
    }
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "pagerd",
        "groupLabels": {"alertname": group},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [alert],
    }
    return _am_delivery(json.dumps(body).encode(), T0)


def _at(d: Delivery, at: datetime) -> Delivery:
    return dataclasses.replace(d, received_at=at)


def _apply(conn: sqlite3.Connection, *deliveries: Delivery, one_commit: bool = False):
    jobs = [_Job(ingest, (d, POLICY), None) for d in deliveries]  # type: ignore[arg-type]
    for part in [jobs] if one_commit else [[j] for j in jobs]:
        _commit_batch(conn, part)
    assert all(j.error is None for j in jobs), [j.error for j in jobs]
    return [j.result for j in jobs]


@pytest.mark.parametrize("one_commit", [False, True])
def test_a_stale_notification_of_an_earlier_incident_of_the_key_is_still_a_duplicate(tmp_path, one_commit) -> None:
    """The first incident of a key resolved, a second one opened: a late re-delivery of the first
    incident's firing notification changes nothing (no third incident, no reopen)."""
    conn = _fresh(tmp_path)
    fire = _am_one("g1", "f1", "firing", "2026-11-25T20:00:00Z")
    resolve = _am_one("g1", "f1", "resolved", "2026-11-25T20:00:00Z")
    again = _am_one("g1", "f1", "firing", "2026-11-25T22:00:00Z")
    _apply(conn, fire, _at(resolve, T0 + timedelta(minutes=1)), _at(again, T0 + timedelta(hours=2)))
    stale = dataclasses.replace(fire, body=fire.body + b" ", received_at=T0 + timedelta(hours=3))  # same notification
    results = _apply(conn, stale, _at(stale, T0 + timedelta(hours=3)), one_commit=one_commit)
    assert [r.duplicates for r in results] == [1, 1]
    assert conn.execute("SELECT id, state, reopen_count FROM incidents ORDER BY id").fetchall() == [
        (1, "resolved", 0),
        (2, "triggered", 0),
    ]


def test_migration_6_keeps_incidents_and_splits_the_key_indexes(tmp_path) -> None:
    path = str(tmp_path / "v5.db")
    conn = _store_at_version(path, 5)
    for iid, key, state, resolved in [(1, "k1", "resolved", "2026-11-01T10:00:00Z"), (2, "k1", "triggered", None)]:
        conn.execute(
            "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, "
            "updated_at, resolved_at) VALUES (?, 'alertmanager', ?, ?, 's', 'critical', '{}', "
            "'2026-11-01T00:00:00Z', 'x', ?)",
            (iid, key, state, resolved),
        )
    conn.close()
    assert migrate(path, T0)[:1] == [6]  # and any later ones
    conn = sqlite3.connect(path)
    indexes = {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'incidents' AND sql IS NOT NULL"
        )
    }
    assert set(indexes) == {
        "incidents_open_key",
        "incidents_key_resolved",
        "incidents_state",
        "incidents_open_group",
        "incidents_unrouted",  # migration 33
        "incidents_settling",  # migration 33
    }
    assert "WHERE state = 'resolved'" in indexes["incidents_key_resolved"]
    assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 2


def test_migration_7_stores_event_ids_behind_their_key_and_gives_alertmanager_incidents_their_group(tmp_path) -> None:
    """Event ids stored behind a key's first incident (`i<10 hex>:`) are stored behind a hash of the
    key (`<12 hex>:`, kept as it is); bare ids, which name no key, are dropped; an id stored in two
    forms keeps its latest application. Alertmanager incidents take the groupKey their "opened" event
    recorded (by group key and by fingerprint alike)."""
    path = str(tmp_path / "v6.db")
    conn = _store_at_version(path, 6)
    conn.execute(
        "INSERT INTO deliveries (id, source, received_at, last_seen_at, content_type, sha256, alert_count, "
        "body) VALUES (1, 'alertmanager', 'a', 'a', 'application/json', 's1', 1, x'7b7d'), "
        "(2, 'alertmanager', 'b', 'b', 'application/json', 's2', 1, x'7b7d')"
    )
    e1, e2, e3 = "a" * 32, "b" * 32, "c" * 32
    for event_id, seen_at, delivery in [
        (f"i{1:010x}:{e1}", "2026-11-01T10:00:00.000000Z", 1),
        (f"{'0123456789ab'}:{e2}", "2026-11-01T10:00:00.000000Z", 1),
        (e3, "2026-11-01T10:00:00.000000Z", 1),
        (f"i{2:010x}:{e3}", "2026-11-02T10:00:00.000000Z", 2),
    ]:
        conn.execute(
            "INSERT INTO alert_events (event_id, source, seen_at, delivery_id) VALUES (?, 'alertmanager', ?, ?)",
            (event_id, seen_at, delivery),
        )
    for iid, source, key, group in [
        (1, "alertmanager", 'g:{a="1"}', 'g:{a="1"}'),
        (2, "alertmanager", "fp1", "g:{}"),
        (3, "nagios", "web1/HTTP", None),
    ]:
        conn.execute(
            "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, "
            "updated_at) VALUES (?, ?, ?, 'triggered', 's', 'critical', '{}', 'a', 'a')",
            (iid, source, key),
        )
        facts = {"summary": "s", "delivery_id": 1, **({"group_key": group} if group else {})}
        conn.execute(
            "INSERT INTO events (incident_id, at, kind, actor, data) VALUES (?, 'a', 'opened', NULL, ?)",
            (iid, json.dumps(facts)),
        )
    conn.close()
    assert migrate(path, T0)[:1] == [7]  # and any later ones
    conn = sqlite3.connect(path)
    assert sorted(conn.execute("SELECT event_id, seen_at, delivery_id FROM alert_events").fetchall()) == sorted(
        [
            (key_prefix("alertmanager", 'g:{a="1"}') + e1, "2026-11-01T10:00:00.000000Z", 1),
            ("0123456789ab:" + e2, "2026-11-01T10:00:00.000000Z", 1),
            (key_prefix("alertmanager", "fp1") + e3, "2026-11-02T10:00:00.000000Z", 2),
        ]
    )
    assert conn.execute("SELECT id, group_key FROM incidents ORDER BY id").fetchall() == [
        (1, 'g:{a="1"}'),
        (2, "g:{}"),
        (3, None),
    ]
    assert migrate(path, T0) == []


def _am_group(group: str, fps: list[str], at: datetime = T0) -> Delivery:
    """One webhook of a group with one firing alert per fingerprint given (a repeated one repeats it)."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": group, "fp": fp},
            "annotations": {},
            "startsAt": "2026-11-25T20:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": fp,
        }
        for fp in fps
    ]
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pagerd",
        "groupLabels": {"alertname": group},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": alerts,
    }
    return _am_delivery(json.dumps(body).encode(), at)


@pytest.mark.parametrize("one_commit", [False, True])
def test_what_a_webhook_applies_counts_for_its_own_later_alerts(tmp_path, one_commit) -> None:
    """A notification repeated in the same webhook is a duplicate, as is one repeated by the next
    webhook in the same commit; every applied notification is stored once, by its bare id."""
    conn = _fresh(tmp_path)
    first = _am_group("g1", ["f1", "f2", "f1", "f3"])
    second = _am_group("g1", ["f3", "f4", "f4"], T0 + timedelta(seconds=1))
    r1, r2 = _apply(conn, first, second, one_commit=one_commit)
    assert [a.outcome for a in r1.applied] == [Outcome.OPEN, Outcome.APPEND, Outcome.DUPLICATE, Outcome.APPEND]
    assert [a.outcome for a in r2.applied] == [Outcome.DUPLICATE, Outcome.APPEND, Outcome.DUPLICATE]
    assert (r1.duplicates, r2.duplicates) == (1, 2)
    assert conn.execute("SELECT id, alert_count FROM incidents").fetchall() == [(1, 4)]
    stored = sorted(r[0] for r in conn.execute("SELECT event_id FROM alert_events"))
    ids = {stored_id("alertmanager", a) for a in first.alerts + second.alerts}
    assert stored == sorted(ids)  # each behind its key, which all share
    assert {i[:13] for i in stored} == {key_prefix("alertmanager", first.alerts[0].dedup_key)}


@pytest.mark.parametrize("seed", range(16))
def test_rows_written_together_are_the_rows_written_one_by_one(tmp_path, seed: int) -> None:
    """The ingest fast path (`_Rows`: a delivery's alerts, notifications and timeline entries as
    multi-row INSERT statements) ends in the very rows that writing each row at once does; the
    streams mix few keys (appends, resolves, group resolves) and many (new groups)."""
    import functools

    jobs = stream(seed, 200, groups=2 if seed % 2 else 40)
    direct = [((functools.partial(ingest, direct=True) if fn is ingest else fn), args) for fn, args in jobs]
    together = _run(str(tmp_path / "together.db"), jobs, random.Random(seed))
    one_by_one = _run(str(tmp_path / "direct.db"), direct, random.Random(seed))
    assert together == one_by_one


def test_one_alert_upserted_many_times_in_one_multi_row_statement(tmp_path) -> None:
    """Rows of one multi-row statement (chunks of 64, 16 and 4) that hit the same alert or the same
    notification upsert in order, as separate statements would."""
    import functools

    alerts = [
        {
            "status": "resolved" if n % 9 == 8 else "firing",
            "labels": {"alertname": "g1", "fp": f"f{n % 3}"},
            "annotations": {"summary": f"take {n}"},
            "startsAt": f"2026-11-25T{10 + n % 5}:00:00Z",
            "endsAt": "2026-11-25T23:00:00Z" if n % 9 == 8 else "0001-01-01T00:00:00Z",
            "fingerprint": f"f{n % 3}",
        }
        for n in range(90)
    ]  # 64 + 16 + 4 + 6 rows
    body = {
        "version": "4",
        "groupKey": "{}:{alertname=\"g1\"}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pagerd",
        "groupLabels": {"alertname": "g1"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": alerts,
    }
    d = _am_delivery(json.dumps(body).encode(), T0)
    together = _run(str(tmp_path / "together.db"), [(ingest, (d, POLICY))], None)
    one_by_one = _run(str(tmp_path / "direct.db"), [(functools.partial(ingest, direct=True), (d, POLICY))], None)
    assert together == one_by_one
    assert {r[2] for r in together[1]["alerts"]} == {"f0", "f1", "f2"}


def test_deliveries_are_loaded_together_in_parts_of_disjoint_keys() -> None:
    from pager.storage.sqlite_ingest import _parts

    a1, a2, b = (
        _am_one("g1", "f1", "firing", "2026-11-25T20:00:00Z"),
        _am_one("g1", "f2", "firing", "2026-11-25T20:00:00Z"),
        _am_one("g2", "f1", "firing", "2026-11-25T20:00:00Z"),
    )
    gone = _am_one("g3", "f1", "resolved", "2026-11-25T20:00:00Z")  # a resolved group: may close any of g3
    assert gone.group is not None and gone.group.resolved
    parts = list(_parts([a1, b, a2, b, gone, a1, b]))
    assert parts == [[a1, b], [a2, b], [gone], [a1, b]]


def test_a_failing_delivery_among_others_fails_alone(tmp_path) -> None:
    """Deliveries applied together are undone together when one fails; then each runs alone, in a
    savepoint of its own: the bad one fails, the others end as if it had never come."""
    jobs = [job for job in stream(4, 60, groups=40) if job[0] is ingest]
    bad = dataclasses.replace(jobs[3][1][0], body=None)  # no bytes to hash: fails in the store
    batch = (
        [_Job(fn, args, None) for fn, args in jobs[:7]]
        + [_Job(ingest, (bad, POLICY), None)]
        + [_Job(fn, args, None) for fn, args in jobs[7:]]
    )  # type: ignore[arg-type]
    conn = _fresh(tmp_path)
    _commit_batch(conn, batch)
    assert isinstance(batch[7].error, TypeError)
    assert all(j.error is None and j.result is not None for j in batch if j is not batch[7])
    tables = {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}
    reference = _run(str(tmp_path / "reference.db"), jobs, None)
    assert tables == reference[1]
    assert [j.result for j in batch if j is not batch[7]] == [r for r, _ in reference[0]]


def test_savepoints_keep_their_sub_journal_in_memory(tmp_path) -> None:
    """A savepoint per job: its sub-journal stays in memory, never a temporary file (temp_store 2)."""
    conn = _fresh(tmp_path)
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2


def test_migration_20_gives_every_incident_its_ticket_and_the_next_number_follows_them(tmp_path) -> None:
    path = str(tmp_path / "v16.db")
    conn = _store_at_version(path, 16)
    for iid, state, resolved in [
        (1, "resolved", "2026-11-01T10:00:00.000000Z"),
        (2, "acknowledged", None),
        (5, "triggered", None),
    ]:
        conn.execute(
            "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, created_at, "
            "updated_at, resolved_at) VALUES (?, 'alertmanager', ?, ?, ?, 'critical', '{}', "
            "'2026-11-01T00:00:00.000000Z', '2026-11-01T00:00:00.000000Z', ?)",
            (iid, f"k{iid}", state, f"disk full on web{iid}", resolved),
        )
    conn.execute(
        "INSERT INTO escalations (incident_id, generation, project, policy, status, target_seconds, reason, "
        "created_at) VALUES (2, 0, 'acme/webshop', '{}', 'stopped', 1800, 'r', 'x')"
    )
    conn.close()
    assert 20 in migrate(path, T0)
    conn = sqlite3.connect(path)
    assert conn.execute(
        "SELECT number, kind, via, status, project, customer, subject, resolved_at FROM tickets ORDER BY number"
    ).fetchall() == [
        (1, "incident", "alert", "resolved", None, None, "disk full on web1", "2026-11-01T10:00:00.000000Z"),
        (2, "incident", "alert", "open", "acme/webshop", "acme", "disk full on web2", None),
        (5, "incident", "alert", "new", None, None, "disk full on web5", None),
    ]
    assert conn.execute("SELECT rowid FROM ticket_text WHERE ticket_text MATCH 'web2'").fetchall() == [(2,)]
    assert conn.execute("SELECT last FROM ticket_text_indexed").fetchall() == [(5,)]
    conn.close()
    from pager.domain.alert import Action
    from tests.contract.seed import delivery

    conn = _connect(path, synchronous="FULL")
    conn.execute("BEGIN IMMEDIATE")
    assert ingest(conn, delivery("new-key", Action.TRIGGER, T0), POLICY).incident_ids == [6]
    conn.execute("COMMIT")
    assert conn.execute("SELECT number, kind FROM tickets WHERE number = 6").fetchall() == [(6, "incident")]
    conn.close()


def _am_body(group: str, alerts: list[tuple[str, str]]) -> bytes:
    """An Alertmanager webhook of `group` with (fingerprint, status) alerts."""
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{group}"}}',
            "status": "firing",
            "receiver": "pagerd",
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": group, "fp": fp},
                    "startsAt": "2026-11-25T20:00:00Z",
                    "endsAt": "2026-11-25T23:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                    "fingerprint": fp,
                }
                for fp, status in alerts
            ],
        }
    ).encode()


def test_rows_that_cannot_conflict_are_plain_inserts_in_the_order_added(tmp_path) -> None:
    """An alert row of an incident its delivery opens, and a notification not stored before nor written
    earlier in the commit, are plain INSERTs (no ON CONFLICT: PostgreSQL's speculative insertion costs its
    server about 1.5 µs per row); every other row of those tables is an upsert. Whatever each takes, the
    commit ends in the rows that one commit per delivery writes (ids included: the rows keep their order)."""
    new = _am_delivery(_am_body("g1", [("f1", "firing"), ("f2", "firing")]), T0)
    twice = _am_delivery(_am_body("g2", [("f1", "firing"), ("f1", "firing")]), T0)  # one alert twice in a webhook
    append = _am_delivery(_am_body("g1", [("f3", "firing"), ("f1", "resolved")]), T0 + timedelta(minutes=1))
    again = dataclasses.replace(new, received_at=T0 + timedelta(minutes=2))  # a retry of the first webhook
    jobs = [(ingest, (d, POLICY)) for d in (new, twice, append, again)]

    def statements(batches: list[int]) -> tuple[list[str], dict]:
        path = str(tmp_path / f"s{'-'.join(map(str, batches))}.db")
        migrate(path, T0)
        conn = _connect(path, synchronous="OFF")
        seen: list[str] = []
        conn.set_trace_callback(seen.append)
        i = 0
        for k in batches:
            _commit_batch(conn, [_Job(fn, args, None) for fn, args in jobs[i : i + k]])  # type: ignore[arg-type]
            i += k
        conn.set_trace_callback(None)
        tables = {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}
        conn.close()
        return [s for s in seen if s.startswith(("INSERT INTO alerts ", "INSERT INTO alert_events "))], tables

    one_by_one, reference = statements([1, 1, 1, 1])
    # one row per statement here (SQLite's executemany for a few rows): (table, upsert) per row
    rows = [(s.split()[2], "ON CONFLICT" in s) for s in one_by_one for _ in range(s.count("), (") + 1)]
    assert rows == [
        *[("alerts", False)] * 2,  # g1 opened with f1 and f2
        *[("alert_events", False)] * 2,
        ("alerts", False),  # g2 opened with f1 (its second copy is a duplicate: nothing written for it)
        ("alert_events", False),
        *[("alerts", True)] * 2,  # f3 and f1 of g1, which is open: upserts
        *[("alert_events", False)] * 2,  # notifications not seen before
    ]  # the retry of the first webhook: nothing (its notifications were applied)
    assert [r[2:4] for r in reference["alerts"]] == [
        ("f1", "resolved"),
        ("f2", "firing"),
        ("f1", "firing"),
        ("f3", "firing"),
    ]
    assert len(reference["alert_events"]) == 5
    for batches in ([4], [2, 2], [3, 1]):
        _, tables = statements(batches)
        assert tables == reference, batches


def test_an_incident_its_delivery_opened_has_its_alerts_counted_without_counting_rows(tmp_path) -> None:
    """A webhook that opens an incident knows how many alert rows it wrote to it: its count is set (one
    alert: already in the incident's row), and only an incident that had rows before is recounted from them."""
    path = str(tmp_path / "count.db")
    migrate(path, T0)
    conn = _connect(path, synchronous="OFF")
    seen: list[str] = []
    conn.set_trace_callback(seen.append)

    def run(d) -> tuple[list[str], int]:
        seen.clear()
        iid = ingest(conn, d, POLICY).applied[0].incident_id
        updates = [s for s in seen if s.startswith("UPDATE incidents SET updated_at")]
        counts = ["recount" if "count(*)" in s else "set" for s in updates]
        return counts, conn.execute("SELECT alert_count FROM incidents WHERE id = ?", (iid,)).fetchone()[0]

    three = [("f1", "firing"), ("f2", "firing"), ("f3", "firing")]
    assert run(_am_delivery(_am_body("g1", three), T0)) == (["set"], 3)
    assert run(_am_delivery(_am_body("g2", [("f1", "firing")]), T0)) == ([], 1)
    append = _am_delivery(_am_body("g1", [("f4", "firing"), ("f1", "resolved")]), T0 + timedelta(minutes=1))
    assert run(append) == (["recount"], 4)
    conn.close()
