"""Ingest on the SQLite writer: load, decide, persist.

For one delivery, inside the writer's transaction:
1. load which of its notifications were already applied (alert_events, by event id) and the state
   of the keys its alerts name (open incident with its firing alerts, else the last resolved one),
   plus, for a resolved Alertmanager group, the keys of the group's other open incidents;
2. store its raw body (a byte-identical re-delivery is counted on the copy stored first);
3. let `pager.domain.incident.decide` say what changes;
4. persist each change, in order. Nothing here decides what happens to an incident.

A notification's id is stored behind a short hash of its incident key (`stored_id`): the ids of
one key sit side by side in the alert_events index, so a 100-alert webhook of one group writes a few
index pages instead of a hundred scattered ones (on the full node, 30% more 100-alert webhooks per
second than bare ids, which are random hashes; bench/RESULTS.md). It is the one stored form.

The one fast path: the rows a delivery inserts into `alerts`, `alert_events` and `events` (two or
three per alert) are collected and written as multi-row INSERT statements (`_Rows`), not one
statement per row. Each statement hands the GIL from the writer thread to the event loop and back;
on the full node (paging on) row-by-row writes cost a third of the 100-alert webhooks per second
(measured). `tests/unit/test_store_batching.py` checks that `_Rows` ends in the very rows that
writing each row at once (`_Rows(direct=True)`) does.
"""
from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
from collections.abc import Callable
from datetime import datetime
from itertools import chain
from typing import NamedTuple

from pager.domain.alert import Alert
from pager.domain.incident import (
    Acknowledge,
    AlertsReceived,
    AppendAlert,
    Change,
    Duplicate,
    IncidentState,
    IngestPolicy,
    KeyState,
    Note,
    OpenIncident,
    Orphan,
    Reopen,
    ResolveAlert,
    ResolveAlertByGroup,
    ResolveIncident,
    SetSeverity,
    ShowLatest,
    State,
    Stored,
    decide,
)

from .codec import dumps, iso, parse_iso
from .port import Applied, Delivery, IngestResult
from .sqlite_paging import INSERT_EVENT, quiet

_SEEN = ("SELECT e.event_id, e.seen_at, e.delivery_id, d.sha256 FROM alert_events AS e "
         "LEFT JOIN deliveries AS d ON d.id = e.delivery_id WHERE e.event_id IN (SELECT value FROM json_each(?))")
_OPEN = ("SELECT dedup_key, id, state, severity, group_key FROM incidents "
         "WHERE source = ?2 AND dedup_key IN (SELECT value FROM json_each(?1)) AND state != 'resolved'")
_OPEN_OF_GROUP = ("SELECT dedup_key, id, state, severity, group_key FROM incidents "
                  "WHERE source = ? AND group_key = ? AND state != 'resolved' AND group_key IS NOT NULL")
_LAST_RESOLVED = ("SELECT dedup_key, id, max(resolved_at) FROM incidents "
                  "WHERE source = ?2 AND dedup_key IN (SELECT value FROM json_each(?1)) AND state = 'resolved' "
                  "GROUP BY dedup_key")
_FIRING = ("SELECT incident_id, fingerprint FROM alerts "
           "WHERE incident_id IN (SELECT value FROM json_each(?)) AND status = 'firing'")

_UPSERT_ALERT = (
    "INSERT INTO alerts (incident_id, fingerprint, status, summary, severity, labels, annotations, details, "
    "starts_at, ends_at, first_seen, last_seen, delivery_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status, "
    "summary = coalesce(nullif(excluded.summary, ''), alerts.summary), "
    "severity = coalesce(nullif(excluded.severity, ''), alerts.severity), "
    "labels = coalesce(nullif(excluded.labels, '{}'), alerts.labels), "
    "annotations = coalesce(nullif(excluded.annotations, '{}'), alerts.annotations), "
    "details = coalesce(nullif(excluded.details, '{}'), alerts.details), "
    "starts_at = coalesce(excluded.starts_at, alerts.starts_at), "
    "ends_at = excluded.ends_at, last_seen = excluded.last_seen, delivery_id = excluded.delivery_id")
# an alert first seen by a resolve without a severity of its own
_NO_SEVERITY = "UPDATE alerts SET severity = 'critical' WHERE incident_id = ? AND fingerprint = ? AND severity = ''"
_APPLIED = ("INSERT INTO alert_events (event_id, source, seen_at, delivery_id) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (event_id) DO UPDATE SET seen_at = excluded.seen_at, delivery_id = excluded.delivery_id")


@functools.lru_cache(maxsize=4096)
def key_prefix(source: str, key: str) -> str:
    """12 hex digits and a colon naming an incident key (source and dedup key); the migration to the
    stored form of notification ids calls it too."""
    return hashlib.blake2b(f"{source}\0{key}".encode(), digest_size=6).hexdigest() + ":"


def stored_id(source: str, alert: Alert) -> str:
    """How a notification's id is stored: behind its key's prefix."""
    return key_prefix(source, alert.dedup_key) + alert.event_id


class Seen(NamedTuple):
    """A notification already applied: when last, and the delivery (and its body's sha256) that carried it."""
    at: str
    delivery_id: int
    sha256: str | None


def ingest(conn: sqlite3.Connection, d: Delivery, policy: IngestPolicy, *, direct: bool = False) -> IngestResult:
    """Apply one delivery (a job of the writer: runs inside its transaction). `direct`: write each
    row at once instead of collecting them (the reference for the equivalence test)."""
    seen = _seen(conn, d.source.value, d.alerts)
    delivery_id = _store_body(conn, d, seen)
    ids, stored = _load(conn, d, seen)
    changes = decide(stored, d.alerts, d.received_at, policy, d.group)
    return _Persist(conn, d, delivery_id, ids, _Rows(conn, direct=direct)).apply(changes)


# -- load ------------------------------------------------------------------------------------------

def _seen(conn: sqlite3.Connection, source: str, alerts: tuple[Alert, ...]) -> dict[str, Seen]:
    """The delivery's notifications already applied, by event id."""
    if not alerts:
        return {}
    wanted = {stored_id(source, a): a.event_id for a in alerts}
    return {wanted[r[0]]: Seen(*r[1:]) for r in conn.execute(_SEEN, (dumps(list(wanted)),))}


class _Ids:
    """Which incident is each key's open one and which its last resolved one, as changes are applied."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.last: dict[str, int] = {}


def _load(conn: sqlite3.Connection, d: Delivery, seen: dict[str, Seen]) -> tuple[_Ids, Stored]:
    src = d.source.value
    keys = list(dict.fromkeys(a.dedup_key for a in d.alerts))
    open_rows = conn.execute(_OPEN, (dumps(keys), src)).fetchall()
    if d.group is not None and d.group.resolved:
        open_rows += [r for r in conn.execute(_OPEN_OF_GROUP, (src, d.group.key)) if r[0] not in keys]
        keys += [r[0] for r in open_rows if r[0] not in keys]
    ids = _Ids()
    firing: dict[int, set[str]] = {r[1]: set() for r in open_rows}
    if firing:
        for iid, fingerprint in conn.execute(_FIRING, (dumps(list(firing)),)):
            firing[iid].add(fingerprint)
    states: dict[str, KeyState] = {}
    for key, iid, state, severity, group_key in open_rows:
        ids.open[key] = iid
        states[key] = KeyState(open=IncidentState(State(state), severity, frozenset(firing[iid]), group_key))
    no_open = [k for k in keys if k not in states]
    if no_open:
        for key, iid, resolved_at in conn.execute(_LAST_RESOLVED, (dumps(no_open), src)):
            ids.last[key] = iid
            states[key] = KeyState(last_resolved=IncidentState(State.RESOLVED, resolved_at=parse_iso(resolved_at)))
    applied_at = {e: _utc(s.at) for e, s in seen.items()}
    return ids, Stored(keys=states, seen=applied_at)


def _utc(at: str) -> datetime:
    t = parse_iso(at)
    assert t is not None
    return t


def _store_body(conn: sqlite3.Connection, d: Delivery, seen: dict[str, Seen]) -> int:
    """The delivery's id: its body stored now, or, for a byte-identical re-delivery, the delivery that
    stored these very bytes (found through a notification it carried), counted once more."""
    at = iso(d.received_at)
    sha = hashlib.sha256(d.body).hexdigest()
    for a in d.alerts:
        s = seen.get(a.event_id)
        if s is not None and s.sha256 == sha:
            conn.execute("UPDATE deliveries SET seen_count = seen_count + 1, last_seen_at = ? WHERE id = ?",
                         (at, s.delivery_id))
            return s.delivery_id
    return conn.execute(
        "INSERT INTO deliveries (source, received_at, last_seen_at, content_type, sha256, alert_count, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (d.source.value, at, at, d.content_type, sha, len(d.alerts), d.body)).fetchone()[0]


# -- persist ---------------------------------------------------------------------------------------

class _Persist:
    """Writes the changes of one delivery, in order."""

    def __init__(self, conn: sqlite3.Connection, d: Delivery, delivery_id: int, ids: _Ids, rows: _Rows) -> None:
        self.conn, self.d, self.delivery_id, self.ids, self.rows = conn, d, delivery_id, ids, rows
        self.at = iso(d.received_at)
        self.src = d.source.value
        self.touched: dict[int, None] = {}  # incidents whose alerts changed: recounted at the end

    def apply(self, changes: tuple[Change, ...]) -> IngestResult:
        applied: list[Applied] = []
        for change in changes:
            _WRITE[type(change)](self, change)
            outcome = getattr(change, "outcome", None)
            if outcome is None:
                continue
            if not isinstance(change, Duplicate):
                self.notification_applied(change.alert)
            key = getattr(change, "key", None)
            applied.append(Applied(self.ids.open.get(key) if key is not None else None, outcome))
        self.rows.flush()
        for iid in self.touched:
            self.conn.execute("UPDATE incidents SET updated_at = ?, alert_count = "
                              "(SELECT count(*) FROM alerts WHERE incident_id = ?) WHERE id = ?",
                              (self.at, iid, iid))
        return IngestResult(self.delivery_id, tuple(applied))

    def event(self, iid: int, kind: str, actor: str | None, data: dict) -> None:
        self.rows.add(INSERT_EVENT, (iid, self.at, kind, actor, dumps(data)))

    def notification_applied(self, alert: Alert) -> None:
        self.rows.add(_APPLIED, (stored_id(self.src, alert), self.src, self.at, self.delivery_id))

    def upsert_alert(self, iid: int, a: Alert) -> None:
        self.rows.add(_UPSERT_ALERT, (
            iid, a.fingerprint, a.status, a.summary, a.severity, dumps(dict(a.labels)),
            dumps(dict(a.annotations)) if a.annotations else "{}", dumps(dict(a.details)) if a.details else "{}",
            iso(a.starts_at), iso(a.ends_at), self.at, self.at, self.delivery_id))
        if not a.severity:
            self.rows.add(_NO_SEVERITY, (iid, a.fingerprint))
        self.touched[iid] = None

    # -- one method per kind of change ---------------------------------------------------------------
    def open_incident(self, c: OpenIncident) -> None:
        a = c.alert
        iid = self.conn.execute(
            "INSERT INTO incidents (source, dedup_key, state, summary, severity, labels, alert_count, created_at, "
            "updated_at, group_key) VALUES (?, ?, 'triggered', ?, ?, ?, 0, ?, ?, ?) RETURNING id",
            (self.src, c.key, a.summary, a.severity or "critical", dumps(dict(a.labels)), self.at, self.at,
             c.group_key)).fetchone()[0]
        self.ids.open[c.key] = iid
        self.event(iid, "opened", None, {"summary": a.summary, "delivery_id": self.delivery_id, **self.d.facts})
        self.upsert_alert(iid, a)

    def reopen(self, c: Reopen) -> None:
        iid = self.ids.last.pop(c.key)
        self.ids.open[c.key] = iid
        self.conn.execute("UPDATE incidents SET state = 'triggered', reopen_count = reopen_count + 1, "
                          "resolved_at = NULL, resolved_by = NULL, acknowledged_at = NULL, acknowledged_by = NULL, "
                          "updated_at = ?, group_key = coalesce(?, group_key) WHERE id = ?",
                          (self.at, c.group_key, iid))
        self.event(iid, "reopened", None, {"delivery_id": self.delivery_id})
        self.upsert_alert(iid, c.alert)

    def append_alert(self, c: AppendAlert) -> None:
        self.upsert_alert(self.ids.open[c.key], c.alert)

    def resolve_alert(self, c: ResolveAlert) -> None:
        self.upsert_alert(self.ids.open[c.key], c.alert)

    def acknowledge(self, c: Acknowledge) -> None:
        iid = self.ids.open[c.key]
        by = c.alert.actor or self.src
        self.conn.execute("UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, "
                          "updated_at = ? WHERE id = ?", (self.at, by, self.at, iid))
        self.event(iid, "acknowledged", by, {"via": self.src, "comment": c.alert.comment})
        quiet(self.conn, iid, self.at, "incident acknowledged")

    def note(self, c: Note) -> None:
        self.event(self.ids.open[c.key], "note", c.alert.actor or self.src,
                   {"kind": c.kind, "text": c.text, "via": self.src})

    def nothing(self, c: Orphan | Duplicate) -> None:
        pass

    def set_severity(self, c: SetSeverity) -> None:
        self.conn.execute("UPDATE incidents SET severity = ? WHERE id = ?", (c.severity, self.ids.open[c.key]))

    def show_latest(self, c: ShowLatest) -> None:
        a = c.alert
        self.conn.execute("UPDATE incidents SET summary = ?, severity = ?, labels = ? WHERE id = ?",
                          (a.summary, a.severity, dumps(dict(a.labels)), self.ids.open[c.key]))

    def alerts_received(self, c: AlertsReceived) -> None:
        data = {"delivery_id": self.delivery_id, "firing": c.firing, "resolved": c.resolved}
        truncated = self.d.facts.get("truncated_alerts")
        if truncated:
            data["truncated_alerts"] = truncated
        self.event(self.ids.open[c.key], "alerts_received", self.src, data)

    def resolve_alert_by_group(self, c: ResolveAlertByGroup) -> None:
        iid = self.ids.open[c.key]
        self.rows.flush()  # an UPDATE of alerts sees every row written before it
        self.conn.execute("UPDATE alerts SET status = 'resolved', last_seen = ?, delivery_id = ? "
                          "WHERE incident_id = ? AND fingerprint = ?", (self.at, self.delivery_id, iid, c.fingerprint))
        self.event(iid, "alert_resolved_by_group", self.src,
                   {"fingerprint": c.fingerprint, "group_key": c.group_key, "delivery_id": self.delivery_id})
        self.touched[iid] = None

    def resolve_incident(self, c: ResolveIncident) -> None:
        iid = self.ids.open.pop(c.key)
        self.ids.last[c.key] = iid
        self.conn.execute("UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, updated_at = ? "
                          "WHERE id = ?", (self.at, self.src, self.at, iid))
        quiet(self.conn, iid, self.at, "incident resolved")
        self.event(iid, "resolved", self.src, {"via": self.src, "reason": c.reason.value,
                                                "delivery_id": self.delivery_id})


class _Rows:
    """Rows to insert (alerts, alert_events, events), written table by table in this order, each
    table's rows in the order given, as multi-row INSERT statements. Row counts are cut into chunks
    of 64, 16 and 4 (then single rows), so a few statement texts per table serve every size from
    SQLite's statement cache. An UPDATE (`_NO_SEVERITY`) is written after the inserts, row by row."""

    def __init__(self, conn: sqlite3.Connection, *, direct: bool = False) -> None:
        self.conn, self.direct = conn, direct
        self.pending: dict[str, list[tuple]] = {sql: [] for sql in _ROW_ORDER}

    def add(self, sql: str, row: tuple) -> None:
        if self.direct:
            self.conn.execute(sql, row)
        else:
            self.pending[sql].append(row)

    def flush(self) -> None:
        for sql, rows in self.pending.items():
            if not rows:
                continue
            i = 0
            if sql in _VALUES:
                for size in _CHUNKS:
                    while len(rows) - i >= size:
                        self.conn.execute(_multi_row(sql, size), list(chain.from_iterable(rows[i:i + size])))
                        i += size
            self.conn.executemany(sql, rows[i:])
            rows.clear()


_CHUNKS = (64, 16, 4)
_ROW_ORDER = (_UPSERT_ALERT, _NO_SEVERITY, _APPLIED, INSERT_EVENT)


def _split_values(sql: str) -> tuple[str, str, str]:
    """An INSERT ... VALUES (...) [ON CONFLICT ...] as (text before the row, the row, text after)."""
    m = re.search(r"VALUES (\([^()]*\))", sql)
    assert m is not None, sql
    return sql[:m.start(1)], m.group(1), sql[m.end(1):]


_VALUES = {sql: _split_values(sql) for sql in (_UPSERT_ALERT, _APPLIED, INSERT_EVENT)}


@functools.lru_cache(maxsize=64)
def _multi_row(sql: str, n: int) -> str:
    head, values, tail = _VALUES[sql]
    return head + ", ".join([values] * n) + tail


_WRITE: dict[type, Callable[[_Persist, Change], None]] = {
    OpenIncident: _Persist.open_incident,
    Reopen: _Persist.reopen,
    AppendAlert: _Persist.append_alert,
    ResolveAlert: _Persist.resolve_alert,
    Acknowledge: _Persist.acknowledge,
    Note: _Persist.note,
    Orphan: _Persist.nothing,
    Duplicate: _Persist.nothing,
    SetSeverity: _Persist.set_severity,
    ShowLatest: _Persist.show_latest,
    AlertsReceived: _Persist.alerts_received,
    ResolveAlertByGroup: _Persist.resolve_alert_by_group,
    ResolveIncident: _Persist.resolve_incident,
}
