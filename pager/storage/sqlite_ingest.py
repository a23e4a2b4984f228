"""Ingest on the SQLite writer: deliveries -> incidents, their alerts and their timeline.

One group commit holds many deliveries, and a webhook's cost is mostly the number of statements
it runs (each one a round trip through the sqlite3 module and a hand-over of the GIL between the
writer thread and the event loop). So an `IngestBatch` serves all the deliveries of one commit:

- reads are done for the whole batch up front, two queries: which alert notifications (event ids,
  with the delivery that carried each) and which incident keys the store already holds;
- the common writes (a delivery, its event ids, a new incident, its alerts, timeline events) are
  buffered, with row ids assigned here (the writer holds the write lock), and written with one
  executemany per table when the batch commits;
- anything else (reopen, resolve, acknowledge, a severity that rises, a recount) first flushes the
  buffers and then runs its statements at once, so every statement sees exactly the rows that a
  statement-per-row version would have seen.

Other jobs in the same commit (the paging engine, API writes) run between deliveries; the writer
calls `invalidate()` before each of them, which flushes and forgets what was read.

Event ids are stored behind their incident key, so that the notifications of one key sit side by
side in the alert_events index (a 100-alert webhook writes a few index pages, not a hundred
scattered ones): behind the id of the key's first incident (`i<hex id>:`) once the key has one,
else behind a short hash of the key. The first form also puts the notifications of new keys at the
end of the index, where one page takes a whole commit's new rows instead of one scattered page
each (measured: bench/). A lookup asks for every form an id may have been stored in (these two,
and the bare id of stores written before either), so nothing stored earlier is missed.
"""
from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
from itertools import chain
from typing import NamedTuple

from pager.domain.alert import Action, Alert, Source
from pager.domain.incident import IncidentView, Outcome, State, decide

from .codec import dumps, iso, parse_iso
from .port import Applied, Delivery, IngestPolicy, IngestResult
from .sqlite_paging import INSERT_EVENT as _INSERT_EVENT
from .sqlite_paging import quiet

_RANK = {"info": 1, "warning": 2, "error": 3, "critical": 4}

_INSERT_DELIVERY = ("INSERT INTO deliveries (id, source, received_at, last_seen_at, content_type, sha256, "
                    "alert_count, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_SEEN_DELIVERY = "UPDATE deliveries SET seen_count = seen_count + 1, last_seen_at = ? WHERE id = ?"
_INSERT_INCIDENT = ("INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, alert_count, "
                    "created_at, updated_at) VALUES (?, ?, ?, 'triggered', ?, ?, ?, ?, ?, ?)")
_UPSERT_EVENT_ID = ("INSERT INTO alert_events (event_id, source, seen_at, delivery_id) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (event_id) DO UPDATE SET seen_at = excluded.seen_at, "
                    "delivery_id = excluded.delivery_id")
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
# a first sight of an alert by its resolve has no severity of its own
_NO_SEVERITY = "UPDATE alerts SET severity = 'critical' WHERE incident_id = ? AND fingerprint = ? AND severity = ''"
_SET_COUNT = "UPDATE incidents SET alert_count = ? WHERE id = ?"
_RECOUNT = ("UPDATE incidents SET updated_at = ?, alert_count = (SELECT count(*) FROM alerts WHERE incident_id = ?) "
            "WHERE id = ?")
# per key: the open incident (incidents_open_key), else the last resolved one (incidents_key_resolved),
# and the key's first incident (its notifications are stored behind that id)
_OF_KEY = "FROM incidents WHERE source = ?2 AND dedup_key = k.value AND state "
_KEY_VIEWS = (f"SELECT k.value, i.id, i.state, i.resolved_at, "
              f"(SELECT min(id) FROM (SELECT id {_OF_KEY} != 'resolved' UNION ALL "
              f"SELECT min(id) {_OF_KEY} = 'resolved')) "
              f"FROM json_each(?1) AS k JOIN incidents AS i ON i.id = coalesce("
              f"(SELECT id {_OF_KEY} != 'resolved'), "
              f"(SELECT id {_OF_KEY} = 'resolved' ORDER BY resolved_at DESC LIMIT 1))")
_KNOWN_EVENTS = ("SELECT e.event_id, e.seen_at, e.delivery_id, d.sha256 FROM alert_events AS e "
                 "LEFT JOIN deliveries AS d ON d.id = e.delivery_id WHERE e.event_id IN ")

Views = tuple[IncidentView | None, IncidentView | None]  # (open incident, last resolved when none is open)


class Seen(NamedTuple):
    """A notification already applied: when last, and the delivery (and its body's sha256) that carried it."""
    at: str
    delivery_id: int
    sha256: str | None


@functools.lru_cache(maxsize=4096)
def _key_prefix(source: str, key: str) -> str:
    return hashlib.blake2b(f"{source}\0{key}".encode(), digest_size=6).hexdigest() + ":"


def _by_incident(first: int, event_id: str) -> str:
    """An event id as stored for a key whose first incident is `first`."""
    return f"i{first:010x}:{event_id}"


def _json_map(m) -> str:
    """A label/annotation mapping as stored (parsers hand over dicts; anything else is copied first)."""
    return dumps(m if type(m) is dict else dict(m))


def _views(row: tuple | None) -> Views:
    if row is None:
        return None, None
    if row[1] != "resolved":
        return IncidentView(row[0], State(row[1]), None), None
    return None, IncidentView(row[0], State.RESOLVED, parse_iso(row[2]))


class IngestBatch:
    """What one transaction of the writer knows and has yet to write for the deliveries in it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._forget()
        self._clear()

    # -- what is known ---------------------------------------------------------------------------
    def _forget(self) -> None:
        self.event_ids: dict[str, Seen | None] = {}                  # stored event id -> when, carried by
        self.keys: dict[tuple[str, str], Views] = {}                 # (source, key) -> views
        self.first: dict[tuple[str, str], int | None] = {}           # (source, key) -> its first incident
        self.first_new: set[tuple[str, str]] = set()                 # keys whose first incident is in this batch
        self.severity: dict[int, str] = {}                           # incident id -> severity
        self._next_id: dict[str, int] = {}
        self._prefetched: dict[int, tuple[str, ...]] = {}            # id(alert) -> its candidates, as prefetched

    def prefetch(self, deliveries: list[Delivery]) -> None:
        """Read, in two queries, what the store holds of these deliveries' notifications and keys."""
        keys: dict[str, list[str]] = {}
        for d in deliveries:
            keys.setdefault(d.source.value, []).extend(a.dedup_key for a in d.alerts)
        for src, ks in keys.items():
            unique = list(dict.fromkeys(ks))
            found = {r[0]: r[1:] for r in self.conn.execute(_KEY_VIEWS, (dumps(unique), src))}
            for k in unique:
                self._know(src, k, found.get(k))
        events: list[str] = []
        prefetched = self._prefetched
        for d in deliveries:
            src = d.source.value
            for a in d.alerts:
                c = prefetched[id(a)] = self.candidates(src, a.dedup_key, a.event_id)
                events += c
        if events:
            found = {r[0]: Seen(*r[1:]) for r in self.conn.execute(
                _KNOWN_EVENTS + "(SELECT value FROM json_each(?))", (dumps(list(dict.fromkeys(events))),))}
            for e in events:
                self.event_ids[e] = found.get(e)

    def _know(self, source: str, key: str, row: tuple | None) -> None:
        self.keys[(source, key)] = _views(row)
        self.first[(source, key)] = row[3] if row else None

    def key_views(self, source: str, key: str) -> Views:
        v = self.keys.get((source, key))
        if v is None:  # not prefetched: any incident of this key made in this batch would be known
            row = self.conn.execute(_KEY_VIEWS, (dumps([key]), source)).fetchone()
            self._know(source, key, row[1:] if row else None)
            v = self.keys[(source, key)]
        return v

    def candidates(self, source: str, key: str, event_id: str) -> tuple[str, ...]:
        """Every form in which this notification may have been stored; the form it is stored in now first."""
        if (source, key) not in self.first:
            self.key_views(source, key)
        first = self.first[(source, key)]
        hashed = _key_prefix(source, key) + event_id
        if first is None:
            return hashed, event_id
        by_incident = _by_incident(first, event_id)
        if (source, key) in self.first_new:  # nothing can be stored behind an incident this batch made
            self.event_ids.setdefault(by_incident, None)
        return by_incident, hashed, event_id

    def alert_candidates(self, source: str, alert: Alert) -> tuple[str, ...]:
        """`candidates` of an alert, as prefetched while its key's first incident is unchanged (the
        key not in first_new)."""
        c = self._prefetched.get(id(alert))
        if c is None or (source, alert.dedup_key) in self.first_new:
            c = self.candidates(source, alert.dedup_key, alert.event_id)
        return c

    def event_seen(self, candidates: tuple[str, ...]) -> Seen | None:
        """When a notification was last applied and by which delivery (asked in every form it may have
        been stored in), or None."""
        ids = self.event_ids
        missing = [e for e in candidates if e not in ids]  # known: read, or written in this batch
        if missing:
            found = {r[0]: Seen(*r[1:]) for r in self.conn.execute(
                _KNOWN_EVENTS + f"({','.join('?' * len(missing))})", missing)}
            for e in missing:
                ids[e] = found.get(e)
        seen = None
        for e in candidates:
            s = ids[e]
            if s is not None and (seen is None or s > seen):
                seen = s
        return seen

    def _new_id(self, table: str) -> int:
        n = self._next_id.get(table)
        if n is None:
            n = (self.conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0) + 1
        self._next_id[table] = n + 1
        return n

    # -- what is to be written -------------------------------------------------------------------
    def _clear(self) -> None:
        self._rows: dict[str, list[tuple]] = {sql: [] for sql in _FLUSH_ORDER}

    def add(self, sql: str, row: tuple) -> None:
        self._rows[sql].append(row)

    def flush(self) -> None:
        """Write what is buffered, table by table in dependency order (each table's rows in order)."""
        for sql, rows in self._rows.items():
            if rows:
                _write_rows(self.conn, sql, rows)
                rows.clear()

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        """A statement that must see every row written before it: flushes first."""
        self.flush()
        return self.conn.execute(sql, params)

    def invalidate(self) -> None:
        """Before another kind of job writes in the same transaction: write out, forget what was read."""
        self.flush()
        self._forget()

    def discard(self) -> None:
        """After a job failed and its savepoint was rolled back: drop its buffered rows and knowledge."""
        self._clear()
        self._forget()


def _write_rows(conn: sqlite3.Connection, sql: str, rows: list[tuple]) -> None:
    """Rows in order, inserts as multi-row statements: one statement of n rows costs a fifth less per
    row than n steps of executemany (each step a call into SQLite and a hand-over of the GIL).
    Row counts are cut into chunks of 64, 16 and 4 (then single rows), so that a few statement texts
    per table serve every batch size from SQLite's statement cache."""
    if sql not in _VALUES or len(rows) < 4:  # an UPDATE, or too few rows to gain
        conn.executemany(sql, rows)
        return
    i, n = 0, len(rows)
    for size in _CHUNKS:
        while n - i >= size:
            conn.execute(_multi_row(sql, size), list(chain.from_iterable(rows[i:i + size])))
            i += size
    if i < n:
        conn.executemany(sql, rows[i:])


_CHUNKS = (64, 16, 4)


@functools.lru_cache(maxsize=64)
def _multi_row(sql: str, n: int) -> str:
    head, values, tail = _VALUES[sql]
    return head + ", ".join([values] * n) + tail


def _split_values(sql: str) -> tuple[str, str, str]:
    """An INSERT ... VALUES (...) [ON CONFLICT ...] as (text before the row, the row, text after)."""
    m = re.search(r"VALUES (\([^()]*\))", sql)
    assert m is not None, sql
    return sql[:m.start(1)], m.group(1), sql[m.end(1):]


_FLUSH_ORDER = (_INSERT_DELIVERY, _SEEN_DELIVERY, _INSERT_INCIDENT, _UPSERT_EVENT_ID, _UPSERT_ALERT, _NO_SEVERITY,
                _INSERT_EVENT, _SET_COUNT, _RECOUNT)
_VALUES = {sql: _split_values(sql) for sql in (_INSERT_DELIVERY, _INSERT_INCIDENT, _UPSERT_EVENT_ID, _UPSERT_ALERT,
                                                _INSERT_EVENT)}


def ingest(b: IngestBatch, d: Delivery, policy: IngestPolicy) -> IngestResult:
    """Apply one delivery: store its body, then each alert in order (decided by `decide`)."""
    now = d.received_at
    at = iso(now)
    src = d.source.value
    sha = hashlib.sha256(d.body).hexdigest()
    # A byte-identical re-delivery carries notifications already applied, from the delivery that
    # stored these very bytes: it is counted there instead of storing the body again.
    delivery_id = None
    looked_up: list[tuple[tuple[str, ...], Seen | None]] = []  # per alert, before any of them is applied
    for alert in d.alerts:
        candidates = b.alert_candidates(src, alert)
        seen = b.event_seen(candidates)
        looked_up.append((candidates, seen))
        if seen is not None and seen.sha256 == sha:
            delivery_id = seen.delivery_id
            break
    if delivery_id is None:
        delivery_id = b._new_id("deliveries")
        b.add(_INSERT_DELIVERY, (delivery_id, src, at, at, d.content_type, sha, len(d.alerts), d.body))
        if _opens_a_new_key(b, src, d.alerts, looked_up):
            return _open_new_key(b, d, src, at, sha, delivery_id)
    else:
        b.add(_SEEN_DELIVERY, (at, delivery_id))

    received: dict[int, dict[str, int]] = {}
    opened: dict[int, set[str]] = {}  # incidents opened by this delivery -> their alerts' fingerprints
    applied: list[Applied] = []
    resolved_now: list[int] = []
    events_v2 = d.source is Source.EVENTS_V2
    # Events v2 carries no event id: the same event again counts as a re-delivery only for a while.
    # The other sources name each notification exactly: a known event id is never applied again.
    cutoff = iso(now - policy.events_v2_duplicate_window) if events_v2 else ""
    # What applying this delivery's alerts changes for the lookups above: the ids it stores, and the
    # keys whose first incident it makes (their ids are stored behind it from then on).
    stored_here: set[str] = set()
    made_first: dict[str, int] = {}
    for n, alert in enumerate(d.alerts):
        key = alert.dedup_key
        current, last = b.key_views(src, key)
        window_cutoff = cutoff
        if events_v2 and alert.action is Action.TRIGGER and current is None:
            window_cutoff = "9999"  # nothing open: the same trigger again is a new firing (flapping)
        if n < len(looked_up):  # looked up before any alert was applied: add what was applied since
            candidates, seen = looked_up[n]
            first = made_first.get(key)
            if first is not None:  # nothing was stored behind it but by this delivery
                candidates = (_by_incident(first, alert.event_id), *candidates)
            if stored_here:
                for e in candidates:
                    if e in stored_here:
                        s = b.event_ids[e]
                        if seen is None or s > seen:
                            seen = s
        else:
            candidates = b.candidates(src, key, alert.event_id)
            seen = b.event_seen(candidates)
        if seen is not None and not seen.at < window_cutoff:
            applied.append(Applied(None, None))
            continue
        if not (current is None and alert.action is Action.TRIGGER):
            last = None
        decision = decide(current, last, alert, now, policy.reopen_window)
        out = decision.outcome
        iid = decision.incident_id
        labels_json = None
        if out is Outcome.OPEN:
            labels_json = _json_map(alert.labels)
            first_of_key = b.first[(src, key)] is None
            iid = _open_incident(b, d, src, alert, alert.severity or "critical", labels_json, 1, at, delivery_id)
            if first_of_key:  # the key's first incident: its notifications go behind it
                made_first[key] = iid
                candidates = (_by_incident(iid, alert.event_id),)
            opened[iid] = set()
        elif out is Outcome.REOPEN:
            b.execute("UPDATE incidents SET state = 'triggered', reopen_count = reopen_count + 1, resolved_at = NULL, "
                      "resolved_by = NULL, acknowledged_at = NULL, acknowledged_by = NULL, updated_at = ? WHERE id = ?",
                      (at, iid))
            b.add(_INSERT_EVENT, (iid, at, "reopened", None, dumps({"delivery_id": delivery_id})))
            b.keys[(src, key)] = (IncidentView(iid, State.TRIGGERED, None), None)
        if out in (Outcome.OPEN, Outcome.REOPEN, Outcome.APPEND, Outcome.RESOLVE_ALERT):
            assert iid is not None
            _upsert_alert(b, iid, alert, at, delivery_id, labels_json)
            if iid in opened:
                opened[iid].add(alert.fingerprint)
            if out in (Outcome.REOPEN, Outcome.APPEND) and alert.fingerprint == alert.dedup_key:
                # a single-alert incident (Nagios, Events v2) shows its latest state: WARNING -> CRITICAL
                b.execute("UPDATE incidents SET summary = ?, severity = ?, labels = ? WHERE id = ?",
                          (alert.summary, alert.severity, labels_json or _json_map(alert.labels), iid))
                b.severity[iid] = alert.severity
            elif out is Outcome.APPEND:  # a group's severity is its worst alert's: it rises, never falls
                worst = b.severity.get(iid)
                if worst is None:
                    worst = b.execute("SELECT severity FROM incidents WHERE id = ?", (iid,)).fetchone()[0]
                if _RANK.get(alert.severity, 0) > _RANK.get(worst, 0):
                    b.execute("UPDATE incidents SET severity = ? WHERE id = ?", (alert.severity, iid))
                    worst = alert.severity
                b.severity[iid] = worst
            counts = received.setdefault(iid, {"firing": 0, "resolved": 0})
            counts[alert.status] += 1
            if out is Outcome.RESOLVE_ALERT:
                firing = b.execute("SELECT 1 FROM alerts WHERE incident_id = ? AND status = 'firing' LIMIT 1",
                                   (iid,)).fetchone()
                if firing is None:
                    b.execute("UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, "
                              "updated_at = ? WHERE id = ?", (at, src, at, iid))
                    resolved_now.append(iid)
                    quiet(b.conn, iid, at, "incident resolved")
                    b.keys[(src, key)] = (None, IncidentView(iid, State.RESOLVED, now))
        elif out is Outcome.ACKNOWLEDGE:
            assert iid is not None
            b.execute("UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, "
                      "updated_at = ? WHERE id = ?", (at, alert.actor or src, at, iid))
            b.add(_INSERT_EVENT, (iid, at, "acknowledged", alert.actor or src,
                                  dumps({"via": src, "comment": alert.comment})))
            quiet(b.conn, iid, at, "incident acknowledged")
            b.keys[(src, key)] = (IncidentView(iid, State.ACKNOWLEDGED, None), None)
        elif out is Outcome.ANNOTATE:
            assert iid is not None
            b.add(_INSERT_EVENT, (iid, at, "note", alert.actor or src,
                                  dumps({"kind": alert.note_kind or alert.action.value,
                                         "text": alert.comment or alert.summary, "via": src})))
        stored = candidates[0]
        b.add(_UPSERT_EVENT_ID, (stored, src, at, delivery_id))
        b.event_ids[stored] = Seen(at, delivery_id, sha)
        stored_here.add(stored)
        applied.append(Applied(iid, out))
    for iid, counts in received.items():
        _alerts_received(b, d, src, iid, counts, at, delivery_id)
        fingerprints = opened.get(iid)
        if fingerprints is None:
            b.add(_RECOUNT, (at, iid, iid))
        elif len(fingerprints) != 1:  # opened here with alert_count 1 and updated_at now
            b.add(_SET_COUNT, (len(fingerprints), iid))
    for iid in resolved_now:  # after the alerts that resolved it, on the timeline
        b.add(_INSERT_EVENT, (iid, at, "resolved", src, dumps({"via": src, "delivery_id": delivery_id})))
    return IngestResult(delivery_id, tuple(applied))


def _opens_a_new_key(b: IngestBatch, src: str, alerts: tuple[Alert, ...],
                     looked_up: list[tuple[tuple[str, ...], Seen | None]]) -> bool:
    """The most common webhook: a group (or a single alert) starts firing. Every alert triggers, all
    for one key that has no incident yet, each with its own fingerprint and notification, none seen
    before; so the first opens the incident and the others append to it, and `_open_new_key` writes
    that at once instead of deciding alert by alert (tests/unit/test_store_batching.py checks that
    both write the same rows)."""
    key = alerts[0].dedup_key
    if len(looked_up) != len(alerts) or b.key_views(src, key) != (None, None):
        return False
    fingerprints: set[str] = set()  # (a notification names its alert: other fingerprints, other ids)
    for n, (a, (_, seen)) in enumerate(zip(alerts, looked_up)):
        if (seen is not None or a.action is not Action.TRIGGER or a.dedup_key != key or a.fingerprint in fingerprints
                or (n and a.fingerprint == key)):  # an alert named as its key updates the incident (see ingest)
            return False
        fingerprints.add(a.fingerprint)
    return True


def _open_new_key(b: IngestBatch, d: Delivery, src: str, at: str, sha: str, delivery_id: int) -> IngestResult:
    """What `ingest` writes for a delivery that `_opens_a_new_key`: the incident with its worst
    severity and alert count as they end up, its alerts, their notifications, two timeline events."""
    alerts = d.alerts
    first = alerts[0]
    labels_json = _json_map(first.labels)
    worst = first.severity or "critical"
    for a in alerts[1:]:  # a group's severity is its worst alert's (the first of the worst rank)
        if _RANK.get(a.severity, 0) > _RANK.get(worst, 0):
            worst = a.severity
    iid = _open_incident(b, d, src, first, worst, labels_json, len(alerts), at, delivery_id)
    seen = Seen(at, delivery_id, sha)
    for a in alerts:
        _upsert_alert(b, iid, a, at, delivery_id, labels_json if a is first else None)
        stored = _by_incident(iid, a.event_id)
        b.add(_UPSERT_EVENT_ID, (stored, src, at, delivery_id))
        b.event_ids[stored] = seen
    _alerts_received(b, d, src, iid, {"firing": len(alerts), "resolved": 0}, at, delivery_id)
    return IngestResult(delivery_id, (Applied(iid, Outcome.OPEN), *[Applied(iid, Outcome.APPEND)] * (len(alerts) - 1)))


def _open_incident(b: IngestBatch, d: Delivery, src: str, alert: Alert, severity: str, labels_json: str,
                   alert_count: int, at: str, delivery_id: int) -> int:
    """A new incident for `alert`'s key, its "opened" event, and what the batch knows of it
    (the key's first incident when it had none). Returns its id."""
    key = alert.dedup_key
    iid = b._new_id("incidents")
    b.add(_INSERT_INCIDENT, (iid, src, key, alert.summary, severity, labels_json, alert_count, at, at))
    b.add(_INSERT_EVENT, (iid, at, "opened", None,
                          dumps({"summary": alert.summary, "delivery_id": delivery_id, **d.facts})))
    b.keys[(src, key)] = (IncidentView(iid, State.TRIGGERED, None), None)
    if b.first[(src, key)] is None:
        b.first[(src, key)] = iid
        b.first_new.add((src, key))
    b.severity[iid] = severity
    return iid


def _alerts_received(b: IngestBatch, d: Delivery, src: str, iid: int, counts: dict[str, int], at: str,
                     delivery_id: int) -> None:
    data = {"delivery_id": delivery_id, **counts}
    truncated = d.facts.get("truncated_alerts")
    if truncated:
        data["truncated_alerts"] = truncated
    b.add(_INSERT_EVENT, (iid, at, "alerts_received", src, dumps(data)))


def _upsert_alert(b: IngestBatch, iid: int, a: Alert, at: str, delivery_id: int, labels_json: str | None) -> None:
    b.add(_UPSERT_ALERT, (iid, a.fingerprint, a.status, a.summary, a.severity, labels_json or _json_map(a.labels),
                          _json_map(a.annotations) if a.annotations else "{}",
                          _json_map(a.details) if a.details else "{}",
                          iso(a.starts_at), iso(a.ends_at), at, at, delivery_id))
    if not a.severity:
        b.add(_NO_SEVERITY, (iid, a.fingerprint))
