"""Ingest on the SQLite writer: load, decide, persist.

For a delivery, inside the writer's transaction:
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

The one fast path, `ingest_together`: the consecutive deliveries of one commit are applied together.
They are cut into parts in which no two deliveries share an incident key (`_parts`), so nothing one
of them writes is read by another of its part: each part is loaded with one query per kind
(`_Loaded`) instead of four or five per delivery, each delivery is then decided on its own, and
the rows they insert (deliveries, incidents, alerts, alert_events, events) and the recount of each
incident are collected across the part and written as multi-row statements (`_Rows`), new rows
numbered here. Each statement hands the GIL from the writer thread to the event loop and back:
about ten statements per single-alert webhook took the writer twice the CPU time per webhook that
this does (commits of 32), and on the full node (paging on) row-by-row writes cost a third of the
100-alert webhooks per second (bench/RESULTS.md). On PostgreSQL, where the server inserts in a process of
its own, the rows pending are sent ahead once there are SEND_AT of them (`_Rows.send`: 100-alert webhooks,
every delivery or two) into a pipeline left open, so that the server inserts them while the writer decides
the next deliveries; the answers are waited for before anything reads and at the end. `ingest` of one
delivery is the same code with a part of one.
`tests/unit/test_store_batching.py` checks that many deliveries per commit end in the very rows
that one commit per delivery writes, and that `_Rows` ends in the very rows that writing each row
at once (`_Rows(direct=True)`) does; `tests/integration/test_postgres_send_ahead.py` that rows sent
ahead end in the rows written at the end, and that an error in one fails its delivery alone.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sqlite3
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import groupby
from operator import itemgetter
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
from .sqlite_rows import fetch_together, insert_rows, together

_SEEN = (
    "SELECT e.event_id, e.seen_at, e.delivery_id, d.sha256 FROM alert_events AS e "
    "LEFT JOIN deliveries AS d ON d.id = e.delivery_id WHERE e.event_id IN (SELECT value FROM json_each(?))"
)
_OPEN = (
    "SELECT dedup_key, id, state, severity, group_key FROM incidents "
    "WHERE source = ?2 AND dedup_key IN (SELECT value FROM json_each(?1)) AND state != 'resolved'"
)
_OPEN_OF_GROUP = (
    "SELECT dedup_key, id, state, severity, group_key FROM incidents "
    "WHERE source = ? AND group_key = ? AND state != 'resolved' AND group_key IS NOT NULL"
)
_LAST_RESOLVED = (
    "SELECT dedup_key, id, max(resolved_at) FROM incidents "
    "WHERE source = ?2 AND dedup_key IN (SELECT value FROM json_each(?1)) AND state = 'resolved' "
    "GROUP BY dedup_key"
)
_FIRING = (
    "SELECT incident_id, fingerprint FROM alerts "
    "WHERE incident_id IN (SELECT value FROM json_each(?)) AND status = 'firing'"
)

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
    "ends_at = excluded.ends_at, last_seen = excluded.last_seen, delivery_id = excluded.delivery_id"
)
# the first alert row of a fingerprint in an incident its delivery opened: nothing can conflict with it (the
# incident is new), and a plain INSERT spares PostgreSQL the speculative insertion of ON CONFLICT (about 1.5 µs
# of the server per row: the 100 alerts of a new group)
_INSERT_ALERT = _UPSERT_ALERT.partition(" ON CONFLICT")[0]
# an alert first seen by a resolve without a severity of its own
_NO_SEVERITY = "UPDATE alerts SET severity = 'critical' WHERE incident_id = ? AND fingerprint = ? AND severity = ''"
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, source, received_at, last_seen_at, content_type, sha256, "
    "alert_count, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_INCIDENT = (
    "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, alert_count, "
    "created_at, updated_at, group_key) VALUES (?, ?, ?, 'triggered', ?, ?, ?, 1, ?, ?, ?)"
)
# every incident is a ticket of kind 'incident' with the incident's number (migration 0020), written with it
_INSERT_TICKET = (
    "INSERT INTO tickets (number, kind, via, subject, created_at, updated_at) VALUES (?, 'incident', 'alert', ?, ?, ?)"
)
_RECOUNT = (
    "UPDATE incidents SET updated_at = ?, alert_count = (SELECT count(*) FROM alerts WHERE incident_id = ?) "
    "WHERE id = ?"
)
# an incident its own delivery opened: its alert rows are the ones this delivery wrote, so their number is known
# without counting them (counting the 100 alerts of a new group cost PostgreSQL about 40 µs)
_SET_COUNT = "UPDATE incidents SET updated_at = ?, alert_count = ? WHERE id = ?"
_APPLIED = (
    "INSERT INTO alert_events (event_id, source, seen_at, delivery_id) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (event_id) DO UPDATE SET seen_at = excluded.seen_at, delivery_id = excluded.delivery_id"
)
# a notification not applied before: its id was looked for under the write lock (`_Loaded`) and is not stored;
# nor was it written earlier in the commit: `decide` applies a notification once in a delivery (a repeat in
# the same webhook is a duplicate), and a later delivery of the commit with its key is in a later part, which
# loads what the earlier ones wrote (`_parts`). So a plain INSERT, as `_INSERT_ALERT`
_INSERT_APPLIED = _APPLIED.partition(" ON CONFLICT")[0]


@functools.lru_cache(maxsize=4096)
def key_prefix(source: str, key: str) -> str:
    """12 hex digits and a colon naming an incident key (source and dedup key); the migration to the
    stored form of notification ids calls it too."""
    return hashlib.blake2b(f"{source}\0{key}".encode(), digest_size=6).hexdigest() + ":"


def stored_id(source: str, alert: Alert) -> str:
    """How a notification's id is stored: behind its key's prefix."""
    return key_prefix(source, alert.dedup_key) + alert.event_id


def ingest(conn: sqlite3.Connection, d: Delivery, policy: IngestPolicy, *, direct: bool = False) -> IngestResult:
    """Apply one delivery (a job of the writer: runs inside its transaction). `direct`: write each
    row at once instead of collecting them (the reference for the equivalence test)."""
    return ingest_together(conn, [d], policy, direct=direct)[0]


def ingest_together(
    conn: sqlite3.Connection, deliveries: list[Delivery], policy: IngestPolicy, *, direct: bool = False
) -> list[IngestResult]:
    """Apply consecutive deliveries of one commit, in order, ending in exactly what `ingest` of each
    one after the other does (the fast path; see the module's doc). Each part of deliveries whose
    keys are disjoint (`_parts`) is loaded at once; each delivery is then decided on its own."""
    rows = _Rows(conn, direct=direct)
    results = []
    with rows.sending():
        for part in _parts(deliveries):
            rows.flush()  # the load sees every row written before
            loaded = _Loaded(conn, part, rows)
            for d in part:
                seen = loaded.seen_of(d)
                delivery_id = _store_body(rows, d, seen)
                ids, stored = loaded.state_of(d, seen)
                changes = decide(stored, d.alerts, d.received_at, policy, d.group)
                results.append(_Persist(rows, d, delivery_id, ids, seen).apply(changes))
                rows.send()
        rows.flush()
    return results


def _keys(d: Delivery) -> list[str]:
    return list(dict.fromkeys(a.dedup_key for a in d.alerts))


def _group_resolves(d: Delivery) -> bool:
    return d.group is not None and d.group.resolved


def _parts(deliveries: list[Delivery]) -> list[list[Delivery]]:
    """The deliveries cut into consecutive parts in which no two share an incident key (so what one
    writes is nothing another one of its part reads); a resolved Alertmanager group, which may close
    any open incident of its group, is a part of its own."""
    parts: list[list[Delivery]] = []
    keys: set[tuple[str, str]] = set()
    for d in deliveries:
        own = {(d.source.value, k) for k in _keys(d)}
        if not parts or _group_resolves(d) or _group_resolves(parts[-1][-1]) or not keys.isdisjoint(own):
            parts.append([])
            keys = set()
        parts[-1].append(d)
        keys |= own
    return parts


# -- load ------------------------------------------------------------------------------------------


class Seen(NamedTuple):
    """A notification already applied: when last, and the delivery (and its body's sha256) that carried it."""

    at: str
    delivery_id: int
    sha256: str | None


class _Ids:
    """Which incident is each key's open one and which its last resolved one, as changes are applied."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.last: dict[str, int] = {}


class _Loaded:
    """What the store holds for a part of deliveries (`_parts`), read in one query per kind: which
    of their notifications were already applied (by stored id), and per source and key the open
    incident with its firing alerts, else the last resolved one; for a resolved Alertmanager group,
    also the group's other open incidents."""

    def __init__(self, conn: sqlite3.Connection, part: list[Delivery], rows: _Rows) -> None:
        # every read that needs no answer of another is sent at once (fetch_together): the notifications
        # seen, per source its keys' open incidents and last resolved ones (read for every key, used for
        # those with none open), the largest ids the new rows follow; then the open incidents' firing alerts
        wanted = [stored_id(d.source.value, a) for d in part for a in d.alerts]
        by_source: dict[str, dict[str, None]] = {}  # per source its keys, once each, in order
        for d in part:
            by_source.setdefault(d.source.value, {}).update(dict.fromkeys(_keys(d)))
        group = part[0].group if len(part) == 1 and _group_resolves(part[0]) else None
        reads: list[tuple[str, tuple]] = [(_SEEN, (dumps(wanted),))] if wanted else []
        for src, keys in by_source.items():
            reads += [(_OPEN, (dumps(list(keys)), src)), (_LAST_RESOLVED, (dumps(list(keys)), src))]
            if group is not None:
                reads.append((_OPEN_OF_GROUP, (src, group.key)))
        unnumbered = rows.unnumbered()
        reads += [(_LARGEST[table], ()) for table in unnumbered]
        answers = iter(fetch_together(conn, reads))
        self.seen: dict[str, Seen] = {r[0]: Seen(*r[1:]) for r in next(answers)} if wanted else {}
        self.open: dict[tuple[str, str], tuple[int, IncidentState]] = {}
        self.last: dict[tuple[str, str], tuple[int, IncidentState]] = {}
        self.of_group: list[str] = []  # for a resolved group (alone in its part): its other open keys
        loaded = []
        for src, keys in by_source.items():
            open_rows, resolved = next(answers), next(answers)
            if group is not None:
                extra = [r for r in next(answers) if r[0] not in keys]
                open_rows += extra
                self.of_group = [r[0] for r in extra]
            loaded.append((src, open_rows, resolved))
        for table in unnumbered:
            rows.numbered_after(table, next(answers)[0][0] or 0)
        firing: dict[int, set[str]] = {r[1]: set() for _, open_rows, _ in loaded for r in open_rows}
        if firing:
            for iid, fingerprint in conn.execute(_FIRING, (dumps(list(firing)),)):
                firing[iid].add(fingerprint)
        for src, open_rows, resolved in loaded:
            for key, iid, state, severity, group_key in open_rows:
                self.open[(src, key)] = iid, IncidentState(State(state), severity, frozenset(firing[iid]), group_key)
            for key, iid, resolved_at in resolved:
                if (src, key) not in self.open:
                    self.last[(src, key)] = iid, IncidentState(State.RESOLVED, resolved_at=parse_iso(resolved_at))

    def seen_of(self, d: Delivery) -> dict[str, Seen]:
        """The delivery's notifications already applied, by event id."""
        src = d.source.value
        out = {}
        for a in d.alerts:
            s = self.seen.get(stored_id(src, a))
            if s is not None:
                out[a.event_id] = s
        return out

    def state_of(self, d: Delivery, seen: dict[str, Seen]) -> tuple[_Ids, Stored]:
        src = d.source.value
        ids = _Ids()
        states: dict[str, KeyState] = {}
        for key in _keys(d) + self.of_group:
            if (src, key) in self.open:
                ids.open[key], s = self.open[(src, key)]
                states[key] = KeyState(open=s)
            elif (src, key) in self.last:
                ids.last[key], s = self.last[(src, key)]
                states[key] = KeyState(last_resolved=s)
        return ids, Stored(keys=states, seen={e: _utc(s.at) for e, s in seen.items()})


def _utc(at: str) -> datetime:
    t = parse_iso(at)
    assert t is not None
    return t


def _store_body(rows: _Rows, d: Delivery, seen: dict[str, Seen]) -> int:
    """The delivery's id: its body stored now, or, for a byte-identical re-delivery, the delivery that
    stored these very bytes (found through a notification it carried), counted once more."""
    at = iso(d.received_at)
    sha = hashlib.sha256(d.body).hexdigest()
    for a in d.alerts:
        s = seen.get(a.event_id)
        if s is not None and s.sha256 == sha:
            rows.execute(
                "UPDATE deliveries SET seen_count = seen_count + 1, last_seen_at = ? WHERE id = ?", (at, s.delivery_id)
            )
            return s.delivery_id
    delivery_id = rows.next_id("deliveries")
    rows.add(_INSERT_DELIVERY, (delivery_id, d.source.value, at, at, d.content_type, sha, len(d.alerts), d.body))
    return delivery_id


# -- persist ---------------------------------------------------------------------------------------


class _Persist:
    """Writes the changes of one delivery, in order."""

    def __init__(self, rows: _Rows, d: Delivery, delivery_id: int, ids: _Ids, seen: dict[str, Seen]) -> None:
        self.rows, self.d, self.delivery_id, self.ids = rows, d, delivery_id, ids
        self.seen = seen  # the delivery's notifications already applied, by event id
        self.at = iso(d.received_at)
        self.src = d.source.value
        self.touched: dict[int, None] = {}  # incidents whose alerts changed: recounted at the end
        # incidents this delivery opened (inserted with alert_count 1, the opening alert) and the
        # fingerprints written to each: their number is the incident's count (`_SET_COUNT`, none for one)
        self.opened: dict[int, set[str]] = {}

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
        for iid in self.touched:
            if iid not in self.opened:
                self.rows.add(_RECOUNT, (self.at, iid, iid))
            elif len(self.opened[iid]) != 1:
                self.rows.add(_SET_COUNT, (self.at, len(self.opened[iid]), iid))
        return IngestResult(self.delivery_id, tuple(applied))

    def event(self, iid: int, kind: str, actor: str | None, data: dict) -> None:
        self.rows.add(INSERT_EVENT, (iid, self.at, kind, actor, dumps(data)))

    def notification_applied(self, alert: Alert) -> None:
        row = (stored_id(self.src, alert), self.src, self.at, self.delivery_id)
        self.rows.add(_APPLIED if alert.event_id in self.seen else _INSERT_APPLIED, row)

    def upsert_alert(self, iid: int, a: Alert) -> None:
        # the first row of an alert of an incident this delivery opened is a plain INSERT (`_INSERT_ALERT`)
        new = iid in self.opened and a.fingerprint not in self.opened[iid]
        self.rows.add(
            _INSERT_ALERT if new else _UPSERT_ALERT,
            (
                iid,
                a.fingerprint,
                a.status,
                a.summary,
                a.severity,
                dumps(dict(a.labels)),
                dumps(dict(a.annotations)) if a.annotations else "{}",
                dumps(dict(a.details)) if a.details else "{}",
                iso(a.starts_at),
                iso(a.ends_at),
                self.at,
                self.at,
                self.delivery_id,
            ),
        )
        if not a.severity:
            self.rows.add(_NO_SEVERITY, (iid, a.fingerprint))
        self.touched[iid] = None
        if iid in self.opened:
            self.opened[iid].add(a.fingerprint)

    # -- one method per kind of change ---------------------------------------------------------------
    def open_incident(self, c: OpenIncident) -> None:
        a = c.alert
        iid = self.rows.next_id("incidents")
        self.rows.add(
            _INSERT_INCIDENT,
            (
                iid,
                self.src,
                c.key,
                a.summary,
                a.severity or "critical",
                dumps(dict(a.labels)),
                self.at,
                self.at,
                c.group_key,
            ),
        )
        self.rows.add(_INSERT_TICKET, (iid, a.summary, self.at, self.at))
        self.ids.open[c.key] = iid
        self.opened[iid] = set()
        self.event(iid, "opened", None, {"summary": a.summary, "delivery_id": self.delivery_id, **self.d.facts})
        self.upsert_alert(iid, a)

    def reopen(self, c: Reopen) -> None:
        iid = self.ids.last.pop(c.key)
        self.ids.open[c.key] = iid
        self.rows.execute(
            "UPDATE incidents SET state = 'triggered', reopen_count = reopen_count + 1, "
            "resolved_at = NULL, resolved_by = NULL, acknowledged_at = NULL, acknowledged_by = NULL, "
            "updated_at = ?, group_key = coalesce(?, group_key) WHERE id = ?",
            (self.at, c.group_key, iid),
        )
        self.event(iid, "reopened", None, {"delivery_id": self.delivery_id})
        self.upsert_alert(iid, c.alert)

    def append_alert(self, c: AppendAlert) -> None:
        self.upsert_alert(self.ids.open[c.key], c.alert)

    def resolve_alert(self, c: ResolveAlert) -> None:
        self.upsert_alert(self.ids.open[c.key], c.alert)

    def acknowledge(self, c: Acknowledge) -> None:
        iid = self.ids.open[c.key]
        by = c.alert.actor or self.src
        self.rows.execute(
            "UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, "
            "updated_at = ? WHERE id = ?",
            (self.at, by, self.at, iid),
        )
        self.event(iid, "acknowledged", by, {"via": self.src, "comment": c.alert.comment})
        quiet(self.rows.written(), iid, self.at, "incident acknowledged")

    def note(self, c: Note) -> None:
        self.event(
            self.ids.open[c.key], "note", c.alert.actor or self.src, {"kind": c.kind, "text": c.text, "via": self.src}
        )

    def nothing(self, c: Orphan | Duplicate) -> None:
        pass

    def set_severity(self, c: SetSeverity) -> None:
        self.rows.execute("UPDATE incidents SET severity = ? WHERE id = ?", (c.severity, self.ids.open[c.key]))

    def show_latest(self, c: ShowLatest) -> None:
        a = c.alert
        self.rows.execute(
            "UPDATE incidents SET summary = ?, severity = ?, labels = ? WHERE id = ?",
            (a.summary, a.severity, dumps(dict(a.labels)), self.ids.open[c.key]),
        )

    def alerts_received(self, c: AlertsReceived) -> None:
        data = {"delivery_id": self.delivery_id, "firing": c.firing, "resolved": c.resolved}
        truncated = self.d.facts.get("truncated_alerts")
        if truncated:
            data["truncated_alerts"] = truncated
        self.event(self.ids.open[c.key], "alerts_received", self.src, data)

    def resolve_alert_by_group(self, c: ResolveAlertByGroup) -> None:
        iid = self.ids.open[c.key]
        self.rows.execute(
            "UPDATE alerts SET status = 'resolved', last_seen = ?, delivery_id = ? "
            "WHERE incident_id = ? AND fingerprint = ?",
            (self.at, self.delivery_id, iid, c.fingerprint),
        )
        self.event(
            iid,
            "alert_resolved_by_group",
            self.src,
            {"fingerprint": c.fingerprint, "group_key": c.group_key, "delivery_id": self.delivery_id},
        )
        self.touched[iid] = None

    def resolve_incident(self, c: ResolveIncident) -> None:
        iid = self.ids.open.pop(c.key)
        self.ids.last[c.key] = iid
        self.rows.execute(
            "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, updated_at = ? WHERE id = ?",
            (self.at, self.src, self.at, iid),
        )
        quiet(self.rows.written(), iid, self.at, "incident resolved")
        self.event(
            iid, "resolved", self.src, {"via": self.src, "reason": c.reason.value, "delivery_id": self.delivery_id}
        )


class _Rows:
    """Rows to insert (deliveries, incidents, their tickets, alerts, alert_events, events) and the recount of each
    incident whose alerts changed, written table by table in this order, each table's rows in the
    order given, inserts as multi-row INSERT statements (sqlite_rows.insert_rows: a few statement texts
    per table for every row count). The UPDATEs (`_NO_SEVERITY`, `_RECOUNT`, `_SET_COUNT`) are written after the
    inserts, row by row.
    A statement that must see every row added before it goes through `execute`, which writes them
    first. New deliveries and incidents get their ids here (the writer holds the write lock): the
    next after the largest, as SQLite itself would give (an incident: after the largest ticket number,
    one series with the desk's requests)."""

    def __init__(self, conn: sqlite3.Connection, *, direct: bool = False) -> None:
        self.conn, self.direct = conn, direct
        self.pending: dict[str, list[tuple]] = {sql: [] for sql in _ROW_ORDER}
        self.ids: dict[str, int] = {}
        self._sent: contextlib.ExitStack | None = None  # the open pipeline rows were sent into (`send`)

    def add(self, sql: str, row: tuple) -> None:
        if self.direct:
            self.conn.execute(sql, row)
        elif sql in _PLAIN:  # a plain INSERT in its upsert's place, to keep the table's rows in the order added
            self.pending[_PLAIN[sql]].append((sql, row))
        elif sql in _UPSERTS:
            self.pending[sql].append((sql, row))
        else:
            self.pending[sql].append(row)

    def unnumbered(self) -> list[str]:
        """The tables whose next id is not known yet: their largest (`_LARGEST`) is read with the load."""
        return [table for table in _LARGEST if table not in self.ids]

    def numbered_after(self, table: str, largest: int) -> None:
        self.ids[table] = largest + 1

    def next_id(self, table: str) -> int:
        n = self.ids[table]
        self.ids[table] = n + 1
        return n

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.written().execute(sql, params)

    def written(self) -> sqlite3.Connection:
        """The connection, once every row added so far is written."""
        self.flush()
        return self.conn

    def flush(self) -> None:
        """Every row added written, and every answer back (an error of any of them raised here, or already by
        a `send` after it, when psycopg read its answer there)."""
        sent, self._sent = self._sent, None
        if sent is not None:
            with sent:  # the open pipeline: the rest into it, then all answers waited for
                self._write()
        elif any(self.pending.values()):
            with together(self.conn):
                self._write()

    def send(self) -> None:
        """On PostgreSQL, once SEND_AT rows are pending: those rows sent into a pipeline left open, not
        waited for, so that the server inserts them while the writer decides the next deliveries;
        their answers are waited for at the next `flush` (one that has come back with an error raises it
        at the next `send` or `flush`). On SQLite nothing (a statement there is a call in this thread:
        nothing would run beside it)."""
        pipeline = getattr(self.conn, "pipeline", None)
        if pipeline is None or sum(map(len, self.pending.values())) < SEND_AT:
            return
        if self._sent is None:
            self._sent = contextlib.ExitStack()
            self._sent.enter_context(pipeline())
        self._write()

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """A block whose `send`s are all answered by its end: on an error in it, the open pipeline is
        ended (its answers read, their errors dropped) before the error goes on."""
        try:
            yield
        except BaseException:
            sent, self._sent = self._sent, None
            if sent is not None:
                sent.__exit__(*sys.exc_info())
            raise

    def _write(self) -> None:
        for sql, rows in self.pending.items():
            if not rows:
                continue
            if sql in _UPSERTS:  # (statement, row) pairs: each run of one statement as its multi-row statements
                for each, run in groupby(rows, key=itemgetter(0)):
                    insert_rows(self.conn, each, [row for _, row in run])
            elif sql in _MULTI_ROW:
                insert_rows(self.conn, sql, rows)
            else:
                self.conn.executemany(sql, rows)
            rows.clear()


# rows pending at which `_Rows.send` sends them ahead on PostgreSQL: a 100-alert delivery
# adds about 205, a single-alert one 7. Fewer is slower: each send cuts the tables' rows into more
# statements (single-alert webhooks at 16: -13% webhooks/s; 100-alert at 256 against never: +4-8%).
SEND_AT = 256
# the largest id each table's new rows follow; incidents are numbered in the tickets' one series (migration 0020)
_LARGEST = {"deliveries": "SELECT max(id) FROM deliveries", "incidents": "SELECT max(number) FROM tickets"}
_ROW_ORDER = (
    _INSERT_DELIVERY,
    _INSERT_INCIDENT,
    _INSERT_TICKET,
    _UPSERT_ALERT,  # and its plain INSERTs, in the order added (`_PLAIN`)
    _NO_SEVERITY,
    _APPLIED,  # the same
    INSERT_EVENT,
    _RECOUNT,
    _SET_COUNT,
)
# the inserts written as multi-row statements (and the upserts below, each run of one statement; the UPDATEs
# row by row)
_MULTI_ROW = frozenset((_INSERT_DELIVERY, _INSERT_INCIDENT, _INSERT_TICKET, INSERT_EVENT))
# the upserts, whose rows are kept with their statement: each row that cannot conflict is a plain INSERT
# (`_INSERT_ALERT`, `_INSERT_APPLIED`), written in its upsert's place among them
_PLAIN = {_INSERT_ALERT: _UPSERT_ALERT, _INSERT_APPLIED: _APPLIED}
_UPSERTS = frozenset(_PLAIN.values())


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
