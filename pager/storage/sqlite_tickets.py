"""The support desk's tickets and contacts in the SQLite store (the port's TicketStore). Mixed into SqliteStore.

Requests and incidents are one numbered series (migration 0020): a request takes the number after the
largest ticket, as the ingest path numbers incidents; an incident's ticket row is written by a trigger
with the incident. Status moves are the domain's (pager.domain.ticket), checked inside the write.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pager.domain.ticket import MoveRefused, Status, after_customer_reply, check_move

from .codec import dumps, iso, parse_iso, where
from .port import (
    TARGET_ENTRY_KINDS,
    Attachment,
    Conflict,
    ContactRecord,
    CustomerTicketTime,
    NotFound,
    RequestedBy,
    Requester,
    TargetFact,
    Ticket,
    TicketDetail,
    TicketEntry,
    TicketTime,
)
from .sqlite_paging import INSERT_EVENT
from .sqlite_rows import in_chunks, insert_rows, together

DESK_SOURCE = "desk"
_COLS = (
    "number, kind, status, priority, project, customer, requester_contact, requester_name, requester_email, "
    "requester_phone, assignee, watchers, subject, via, created_at, updated_at, resolved_at"
)
_UPDATABLE = {"status", "priority", "assignee", "project", "customer", "watchers", "subject"}


def _ticket_fields(r: tuple) -> dict[str, Any]:
    return {
        "number": r[0],
        "kind": r[1],
        "status": r[2],
        "priority": r[3],
        "project": r[4],
        "customer": r[5],
        "requester": Requester(contact=r[6], name=r[7], email=r[8], phone=r[9]),
        "assignee": r[10],
        "watchers": tuple(json.loads(r[11])),
        "subject": r[12],
        "via": r[13],
        "created_at": parse_iso(r[14]),
        "updated_at": parse_iso(r[15]),
        "resolved_at": parse_iso(r[16]),
    }


def _entry(
    conn: sqlite3.Connection, number: int, at: str, kind: str, actor: str | None, public: bool, data: dict
) -> int:
    cur = conn.execute(
        "INSERT INTO ticket_entries (number, at, kind, actor, public, data) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (number, at, kind, actor, int(public), dumps(data)),
    )
    return int(cur.fetchone()[0])


def _attach(conn: sqlite3.Connection, number: int, entry_id: int, files: tuple[Attachment, ...], at: str) -> None:
    for f in files:
        conn.execute(
            "INSERT INTO ticket_attachments (number, entry_id, name, type, size, sha256, public, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (number, entry_id, f.name, f.type, f.size, f.sha256, int(f.public), at),
        )


def _index(conn: sqlite3.Connection, number: int, text: str) -> None:
    """Adds a text to the ticket's one search document."""
    cur = conn.execute("UPDATE ticket_text SET text = text || char(10) || ? WHERE rowid = ?", (text, number))
    if cur.rowcount == 0:
        conn.execute(_NEW_DOCUMENT, (number, text))


_NEW_DOCUMENT = "INSERT INTO ticket_text (rowid, text) VALUES (?, ?)"  # a ticket's search document, its first text


def _status(conn: sqlite3.Connection, number: int) -> tuple[Status, str]:
    row = conn.execute("SELECT status, kind FROM tickets WHERE number = ?", (number,)).fetchone()
    if row is None:
        raise NotFound(f"ticket #{number} not found")
    return Status(row[0]), row[1]


def _move(conn: sqlite3.Connection, number: int, current: Status, target: Status, actor: str, at: str) -> None:
    """Moves the status (already checked) and writes it on the timeline (a status change is public)."""
    if target is current:
        return
    conn.execute(
        "UPDATE tickets SET status = ?, updated_at = ?, resolved_at = CASE WHEN ? = 'resolved' THEN ? "
        "WHEN ? = 'closed' THEN resolved_at END WHERE number = ?",
        (target.value, at, target.value, at, target.value, number),
    )
    _entry(conn, number, at, "status", actor, True, {"from": current.value, "to": target.value})


# -- writes (on the writer thread, inside a savepoint) ----------------------------------------------


def create_ticket(
    conn: sqlite3.Connection,
    subject: str,
    body: str,
    via: str,
    customer: str | None,
    project: str | None,
    requester: Requester,
    priority: str,
    assignee: str | None,
    watchers: tuple[str, ...],
    attachments: tuple[Attachment, ...],
    actor: str,
    now: datetime,
) -> int:
    at = iso(now)
    number = (conn.execute("SELECT max(number) FROM tickets").fetchone()[0] or 0) + 1
    conn.execute(
        f"INSERT INTO tickets ({_COLS}) VALUES (?, 'request', 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (
            number,
            priority,
            project,
            customer,
            requester.contact,
            requester.name,
            requester.email,
            requester.phone,
            assignee,
            dumps(list(watchers)),
            subject,
            via,
            at,
            at,
        ),
    )
    eid = _entry(conn, number, at, "created", actor, True, {"via": via, "text": body})
    _attach(conn, number, eid, attachments, at)
    _index(conn, number, subject)
    if body:
        _index(conn, number, body)
    return number


def add_reply(
    conn: sqlite3.Connection,
    number: int,
    actor: str,
    text: str,
    from_customer: bool,
    via: str,
    attachments: tuple[Attachment, ...],
    now: datetime,
) -> None:
    current, _ = _status(conn, number)
    if current is Status.CLOSED:
        raise Conflict(f"ticket #{number} is closed; a reply opens a new ticket")
    at = iso(now)
    eid = _entry(conn, number, at, "reply", actor, True, {"text": text, "via": via, "from_customer": from_customer})
    _attach(conn, number, eid, attachments, at)
    _index(conn, number, text)
    conn.execute("UPDATE tickets SET updated_at = ? WHERE number = ?", (at, number))
    if from_customer:
        _move(conn, number, current, after_customer_reply(current), actor, at)


def add_note(conn: sqlite3.Connection, number: int, actor: str, text: str, now: datetime) -> None:
    _status(conn, number)
    at = iso(now)
    _entry(conn, number, at, "note", actor, False, {"text": text})
    _index(conn, number, text)
    conn.execute("UPDATE tickets SET updated_at = ? WHERE number = ?", (at, number))


def update_ticket(conn: sqlite3.Connection, number: int, changes: Mapping[str, Any], actor: str, now: datetime) -> None:
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    current, _ = _status(conn, number)
    at = iso(now)
    row = conn.execute(
        "SELECT priority, assignee, project, customer, watchers, subject FROM tickets WHERE number = ?", (number,)
    ).fetchone()
    before = {
        "priority": row[0],
        "assignee": row[1],
        "project": row[2],
        "customer": row[3],
        "watchers": json.loads(row[4]),
        "subject": row[5],
    }
    if "status" in changes:
        target = Status(changes["status"])
        try:
            check_move(number, current, target)
        except MoveRefused as exc:
            raise Conflict(str(exc)) from None
    for key in ("priority", "assignee", "project", "customer", "watchers", "subject"):
        if key not in changes:
            continue
        value = list(changes[key]) if key == "watchers" else changes[key]
        if value == before[key]:
            continue
        stored = dumps(value) if key == "watchers" else value
        conn.execute(f"UPDATE tickets SET {key} = ?, updated_at = ? WHERE number = ?", (stored, at, number))
        # what the customer may see: a change of subject; assignment, priority and watchers are internal
        _entry(conn, number, at, key, actor, key == "subject", {"from": before[key], "to": value})
        if key == "subject":
            _index(conn, number, value)
    if "status" in changes:
        _move(conn, number, current, Status(changes["status"]), actor, at)


def add_time(
    conn: sqlite3.Connection, number: int, kind: str, minutes: int, by: str, note: str | None, now: datetime
) -> int:
    _status(conn, number)
    at = iso(now)
    tid = conn.execute(
        "INSERT INTO ticket_time (number, kind, minutes, by, note, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (number, kind, minutes, by, note, at),
    ).fetchone()[0]
    _entry(conn, number, at, "time", by, False, {"kind": kind, "minutes": minutes, "note": note})
    conn.execute("UPDATE tickets SET updated_at = ? WHERE number = ?", (at, number))
    return int(tid)


def page(
    conn: sqlite3.Connection, number: int, labels: Mapping[str, str], severity: str, actor: str, now: datetime
) -> None:
    current, kind = _status(conn, number)
    if kind == "incident":
        raise Conflict(f"ticket #{number} is an incident already")
    if current is Status.CLOSED:
        raise Conflict(f"ticket #{number} is closed")
    at = iso(now)
    subject, project = conn.execute("SELECT subject, project FROM tickets WHERE number = ?", (number,)).fetchone()
    if project is None:
        raise Conflict(f"ticket #{number} has no project (triage): set its project first, it says whom to page")
    conn.execute(
        "INSERT INTO incidents (id, source, dedup_key, state, summary, severity, labels, alert_count, "
        "created_at, updated_at) VALUES (?, ?, ?, 'triggered', ?, ?, ?, 0, ?, ?)",
        (number, DESK_SOURCE, f"ticket-{number}", subject, severity, dumps(dict(labels)), at, at),
    )
    conn.execute(INSERT_EVENT, (number, at, "opened", actor, dumps({"summary": subject, "via": "ticket"})))
    conn.execute("UPDATE tickets SET kind = 'incident', updated_at = ? WHERE number = ?", (at, number))
    _entry(conn, number, at, "paged", actor, False, {"severity": severity})
    if current is not Status.OPEN:
        _move(conn, number, current, Status.OPEN, actor, at)


def close_resolved(conn: sqlite3.Connection, before: datetime, now: datetime) -> list[int]:
    at = iso(now)
    numbers = [
        r[0]
        for r in conn.execute(
            "SELECT number FROM tickets WHERE status = 'resolved' AND resolved_at <= ? ORDER BY number",
            (iso(before),),
        )
    ]
    for n in numbers:
        _move(conn, n, Status.RESOLVED, Status.CLOSED, "pagerd", at)
    return numbers


# targets_next_at of a request with nothing due until it changes (waiting on the customer, both targets
# answered or breached): after every stored instant, so the due query passes it by
NOTHING_DUE = "9999-12-31T23:59:59.999999Z"
_LIVE = "('new', 'open', 'waiting_on_customer')"


# the live requests due for judging, longest due first; INDEXED BY: without statistics the planner
# would walk every live ticket by status
DUE_TARGETS = (
    f"SELECT number FROM tickets INDEXED BY tickets_targets_due WHERE kind = 'request' AND status IN {_LIVE} "
    "AND targets_next_at <= ? ORDER BY targets_next_at LIMIT ?"
)


def due_target_tickets(conn: sqlite3.Connection, now: datetime, limit: int) -> list[int]:
    return [r[0] for r in conn.execute(DUE_TARGETS, (iso(now), limit))]


def rejudge_request_targets(conn: sqlite3.Connection) -> int:
    cur = conn.execute(
        f"UPDATE tickets SET targets_next_at = '' WHERE kind = 'request' AND status IN {_LIVE} "
        "AND targets_next_at != ''"
    )
    return cur.rowcount


def record_target_facts(
    conn: sqlite3.Connection, number: int, facts: Sequence[TargetFact], next_at: datetime | None, now: datetime
) -> list[TargetFact]:
    _status(conn, number)
    at = iso(now)
    written: list[TargetFact] = []
    for f in facts:
        cur = conn.execute(
            "INSERT OR IGNORE INTO ticket_target_facts (number, target, fact, at) VALUES (?, ?, ?, ?)",
            (number, f.target, f.fact, at),
        )
        if cur.rowcount:
            _entry(conn, number, at, f"target_{f.fact}", "pagerd", False, {"target": f.target, "due": iso(f.due)})
            written.append(f)
    # after the entries: their trigger sets targets_next_at back to '' (due)
    conn.execute(
        "UPDATE tickets SET targets_next_at = ? WHERE number = ?",
        (iso(next_at) if next_at is not None else NOTHING_DUE, number),
    )
    return written


def index_tickets(conn: sqlite3.Connection, limit: int) -> int:
    """Puts the subjects of the incidents numbered since the last call into the full-text index."""
    rows = conn.execute(_TO_INDEX, (limit,)).fetchall()
    if rows:
        # a new incident's ticket has no search document yet, unless an entry written before this ran made one
        for number, subject, made in rows:
            if made is not None:
                _index(conn, number, subject)
        with together(conn):
            insert_rows(conn, _NEW_DOCUMENT, [(number, subject) for number, subject, made in rows if made is None])
            conn.execute("UPDATE ticket_text_indexed SET last = ?", (rows[-1][0],))
    return len(rows)


# the incidents' tickets numbered since the indexer's last call, each with its search document's rowid if it has
# one: one read (it was three round trips on PostgreSQL). The documents are read from the same number on: without
# that bound PostgreSQL's generic plan merge-joins every document (tests/integration/test_postgres_plans.py)
_TO_INDEX = (
    "SELECT t.number, t.subject, x.rowid FROM tickets t LEFT JOIN ticket_text x ON x.rowid = t.number "
    "AND x.rowid > (SELECT last FROM ticket_text_indexed) "
    "WHERE t.number > (SELECT last FROM ticket_text_indexed) AND t.via = 'alert' ORDER BY t.number LIMIT ?"
)


def add_contact(
    conn: sqlite3.Connection,
    cid: str,
    customer: str,
    name: str,
    emails: tuple[str, ...],
    phone: str | None,
    language: str,
    created_by: str,
    now: datetime,
) -> None:
    try:
        conn.execute(
            "INSERT INTO contacts (id, customer, name, emails, phone, language, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (cid, customer, name, dumps([e.lower() for e in emails]), phone, language, created_by, iso(now)),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"contact {cid} exists already") from exc


# -- reads ----------------------------------------------------------------------------------------


def fts_query(q: str) -> str | None:
    """A search text as an FTS5 query of its words, each quoted (every word must occur; nothing in it is
    query syntax); None when it has no word."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in q).split() if w]
    if not words:
        return None
    return " ".join('"' + w.replace('"', '""') + '"' for w in words[:32])


# A filtered search checks each ticket the filters leave against the search index when they leave at most
# CHECK_EACH_UP_TO tickets and the search matches more than MANY_MATCHES; otherwise it walks the index's
# matches newest first until the page is full. Checking one ticket costs about 40 times walking past one
# match (with 100,000 tickets: ~50 us against ~1.3 us); the walk passes at most all the matches, and about
# limit x all / candidates of them, so for a common word the two ways meet near sqrt(100 x 100,000 / 40) =
# 500 candidates (~25 ms either way), and a search of few matches (a rare word: ~1,000) is walked whatever
# the filters (~2 ms). How many the filters leave and whether the search matches many are counted in the
# indexes, each stopping just past its bound (< 1 ms). Measured: bench/desk.py, bench/RESULTS.md.
CHECK_EACH_UP_TO = 500
MANY_MATCHES = 2000


def tickets(
    conn: sqlite3.Connection,
    status: str | None,
    project: str | None,
    customer: str | None,
    triage: bool,
    q: str | None,
    limit: int,
    before: int | None,
    assignee: str | None = None,
    requested_by: RequestedBy | None = None,
) -> list[Ticket]:
    match = fts_query(q) if q else None
    if q and match is None:
        return []
    filters = (
        (status is not None, "t.status = ?", (status,)),
        (project is not None, "t.project = ?", (project,)),
        (customer is not None, "t.customer = ?", (customer,)),
        (triage, "t.project IS NULL", ()),
        (before is not None, "t.number < ?", (before,)),
        (assignee is not None and assignee != "none", "t.assignee = ?", (assignee,)),
        (assignee == "none", "t.assignee IS NULL", ()),
        requester_filter(requested_by),
    )
    cols = ", ".join(f"t.{c.strip()}" for c in _COLS.split(","))
    if match is None:
        clause, args = where(*filters)
        sql = f"SELECT {cols} FROM tickets AS t{clause} ORDER BY t.number DESC LIMIT ?"
    elif _few(conn, filters) and _many(conn, match):  # few tickets to check, many matches to walk
        clause, args = where(
            *filters,
            (True, "EXISTS (SELECT 1 FROM ticket_text WHERE ticket_text MATCH ? AND ticket_text.rowid = t.number)",
             (match,)),
        )  # fmt: skip
        sql = f"SELECT {cols} FROM tickets AS t{clause} ORDER BY t.number DESC LIMIT ?"
    else:  # driven by the search index, newest first: it stops at the page's end
        clause, args = where(*filters, (True, "ticket_text MATCH ?", (match,)))
        sql = (
            f"SELECT {cols} FROM ticket_text JOIN tickets AS t ON t.number = ticket_text.rowid{clause} "
            "ORDER BY ticket_text.rowid DESC LIMIT ?"
        )
    return [Ticket(**_ticket_fields(r)) for r in conn.execute(sql, [*args, limit])]


def requester_filter(requested_by: RequestedBy | None) -> tuple[bool, str, tuple]:
    """The condition (for codec.where) of a query limited to one requester: its contact ids or its address."""
    if requested_by is None:
        return (False, "", ())
    return (
        True,
        "(lower(t.requester_email) = ? OR t.requester_contact IN (SELECT value FROM json_each(?)))",
        (requested_by.email, json.dumps(list(requested_by.contacts))),
    )


def _many(conn: sqlite3.Connection, match: str) -> bool:
    """Whether the search matches more than MANY_MATCHES tickets (counted in the index, stopping there)."""
    sql = "SELECT count(*) FROM (SELECT rowid FROM ticket_text WHERE ticket_text MATCH ? LIMIT ?) AS m"
    return int(conn.execute(sql, (match, MANY_MATCHES + 1)).fetchone()[0]) > MANY_MATCHES


def _few(conn: sqlite3.Connection, filters: tuple[tuple[bool, str, tuple], ...]) -> bool:
    """Whether the filters (any set) leave at most CHECK_EACH_UP_TO tickets (counted in the index, stopping
    just past the bound)."""
    if not any(on for on, _, _ in filters):
        return False
    clause, args = where(*filters)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM tickets AS t{clause} LIMIT ?) AS c"
    return int(conn.execute(sql, [*args, CHECK_EACH_UP_TO + 1]).fetchone()[0]) <= CHECK_EACH_UP_TO


def target_entries(conn: sqlite3.Connection, numbers: list[int]) -> dict[int, tuple[TicketEntry, ...]]:
    """TicketStore.ticket_target_entries: a request's timeline is its own entries only (no incident
    events), ordered by time and then as stored, as tickets_by_number orders it."""
    found: dict[int, list[TicketEntry]] = {}
    kinds = ", ".join("?" * len(TARGET_ENTRY_KINDS))
    for chunk, marks in in_chunks(numbers):
        for (n,) in conn.execute(f"SELECT number FROM tickets WHERE number IN ({marks}) AND kind = 'request'", chunk):
            found[n] = []
        for e in conn.execute(
            f"SELECT number, at, kind, actor, public, data FROM ticket_entries "
            f"WHERE number IN ({marks}) AND kind IN ({kinds}) ORDER BY number, at, id",
            [*chunk, *TARGET_ENTRY_KINDS],
        ):
            if e[0] in found:  # a request's
                found[e[0]].append(
                    TicketEntry(at=parse_iso(e[1]), kind=e[2], actor=e[3], public=bool(e[4]), data=json.loads(e[5]))
                )
    return {n: tuple(v) for n, v in found.items()}


def ticket(conn: sqlite3.Connection, number: int) -> TicketDetail | None:
    found = tickets_by_number(conn, [number])
    return found[0] if found else None


def tickets_by_number(conn: sqlite3.Connection, numbers: list[int]) -> list[TicketDetail]:
    """Each ticket of `numbers` that exists, in that order: its row, its timeline (the desk's entries and,
    for an incident, its own events, internal; by time, each source in its own order), attachments and
    time entries. A few queries for a page of tickets, not a few for each."""
    found: dict[int, TicketDetail] = {}
    for chunk, marks in in_chunks(numbers):
        rows = conn.execute(f"SELECT {_COLS} FROM tickets WHERE number IN ({marks})", chunk).fetchall()
        entries: dict[int, list[tuple[str, int, TicketEntry]]] = {r[0]: [] for r in rows}
        for e in conn.execute(
            f"SELECT number, at, kind, actor, public, data, id FROM ticket_entries WHERE number IN ({marks}) "
            "ORDER BY number, id",
            chunk,
        ):
            entries[e[0]].append(
                (
                    e[1],
                    e[6],
                    TicketEntry(at=parse_iso(e[1]), kind=e[2], actor=e[3], public=bool(e[4]), data=json.loads(e[5])),
                )
            )
        incidents = [r[0] for r in rows if r[1] == "incident"]
        if incidents:  # the incident's own events: internal
            for e in conn.execute(
                f"SELECT incident_id, at, kind, actor, data, id FROM events WHERE incident_id IN "
                f"({', '.join('?' * len(incidents))}) ORDER BY incident_id, id",
                incidents,
            ):
                entries[e[0]].append(
                    (
                        e[1],
                        e[5],
                        TicketEntry(at=parse_iso(e[1]), kind=e[2], actor=e[3], public=False, data=json.loads(e[4])),
                    )
                )
        files: dict[int, list[Attachment]] = {r[0]: [] for r in rows}
        for a in conn.execute(
            f"SELECT number, name, type, size, sha256, public FROM ticket_attachments WHERE number IN ({marks}) "
            "ORDER BY number, id",
            chunk,
        ):
            files[a[0]].append(Attachment(name=a[1], type=a[2], size=a[3], sha256=a[4], public=bool(a[5])))
        times: dict[int, list[TicketTime]] = {r[0]: [] for r in rows}
        for t in conn.execute(
            f"SELECT number, id, kind, minutes, by, note, at FROM ticket_time WHERE number IN ({marks}) "
            "ORDER BY number, id",
            chunk,
        ):
            times[t[0]].append(TicketTime(id=t[1], kind=t[2], minutes=t[3], by=t[4], note=t[5], at=parse_iso(t[6])))
        for r in rows:
            timeline = sorted(entries[r[0]], key=lambda x: x[0])  # by time; stable: each source keeps its order
            found[r[0]] = TicketDetail(
                **_ticket_fields(r),
                timeline=tuple(e[2] for e in timeline),
                attachments=tuple(files[r[0]]),
                time=tuple(times[r[0]]),
            )
    return [found[n] for n in numbers if n in found]


def time_entries(conn: sqlite3.Connection, number: int, tid: int | None = None) -> list[TicketTime]:
    clause, args = where((True, "number = ?", (number,)), (tid is not None, "id = ?", (tid,)))
    return [
        TicketTime(id=t[0], kind=t[1], minutes=t[2], by=t[3], note=t[4], at=parse_iso(t[5]))
        for t in conn.execute(f"SELECT id, kind, minutes, by, note, at FROM ticket_time{clause} ORDER BY id", args)
    ]


def customer_time(conn: sqlite3.Connection, customer: str, start: datetime, end: datetime) -> list[CustomerTicketTime]:
    rows = conn.execute(
        "SELECT t.id, t.kind, t.minutes, t.by, t.note, t.at, k.number, k.subject FROM ticket_time t "
        "JOIN tickets k ON k.number = t.number WHERE k.customer = ? AND t.at >= ? AND t.at < ? "
        "ORDER BY t.number, t.id",
        (customer, iso(start), iso(end)),
    )
    return [
        CustomerTicketTime(
            id=r[0], kind=r[1], minutes=r[2], by=r[3], note=r[4], at=parse_iso(r[5]), number=r[6], subject=r[7]
        )
        for r in rows
    ]


def contacts(conn: sqlite3.Connection, customer: str | None, cid: str | None = None) -> list[ContactRecord]:
    clause, args = where((customer is not None, "customer = ?", (customer,)), (cid is not None, "id = ?", (cid,)))
    return [
        ContactRecord(
            id=c[0],
            customer=c[1],
            name=c[2],
            emails=tuple(json.loads(c[3])),
            phone=c[4],
            language=c[5],
            created_by=c[6],
            created_at=parse_iso(c[7]),
        )
        for c in conn.execute(
            f"SELECT id, customer, name, emails, phone, language, created_by, created_at FROM contacts{clause} "
            "ORDER BY id",
            args,
        )
    ]


class TicketSqlite:
    """Methods of SqliteStore for tickets and contacts (`_read`/`_write` come from SqliteStore)."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        async def _write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    async def _ticket(self, number: int) -> TicketDetail:
        found = await self._read(ticket, number)
        if found is None:
            raise NotFound(f"ticket #{number} not found")
        return found  # type: ignore[no-any-return]

    async def create_ticket(
        self,
        *,
        subject: str,
        body: str,
        via: str,
        customer: str | None,
        project: str | None,
        requester: Requester,
        priority: str,
        assignee: str | None,
        watchers: tuple[str, ...],
        attachments: tuple[Attachment, ...],
        actor: str,
        now: datetime,
    ) -> TicketDetail:
        number = await self._write(
            create_ticket,
            subject,
            body,
            via,
            customer,
            project,
            requester,
            priority,
            assignee,
            watchers,
            attachments,
            actor,
            now,
        )
        return await self._ticket(number)

    async def get_ticket(self, number: int) -> TicketDetail | None:
        return await self._read(ticket, number)  # type: ignore[no-any-return]

    async def get_tickets(self, numbers: Sequence[int]) -> list[TicketDetail]:
        return await self._read(tickets_by_number, list(numbers))  # type: ignore[no-any-return]

    async def ticket_target_entries(self, numbers: Sequence[int]) -> dict[int, tuple[TicketEntry, ...]]:
        return await self._read(target_entries, list(numbers))  # type: ignore[no-any-return]

    async def list_tickets(
        self,
        *,
        status: str | None = None,
        project: str | None = None,
        customer: str | None = None,
        triage: bool = False,
        q: str | None = None,
        limit: int = 100,
        before: int | None = None,
        assignee: str | None = None,
        requested_by: RequestedBy | None = None,
    ) -> list[Ticket]:
        return await self._read(tickets, status, project, customer, triage, q, limit, before, assignee, requested_by)  # type: ignore[no-any-return]

    async def add_ticket_reply(
        self,
        number: int,
        *,
        actor: str,
        text: str,
        from_customer: bool,
        via: str,
        attachments: tuple[Attachment, ...],
        now: datetime,
    ) -> TicketDetail:
        await self._write(add_reply, number, actor, text, from_customer, via, attachments, now)
        return await self._ticket(number)

    async def add_ticket_note(self, number: int, *, actor: str, text: str, now: datetime) -> TicketDetail:
        await self._write(add_note, number, actor, text, now)
        return await self._ticket(number)

    async def update_ticket(
        self, number: int, changes: Mapping[str, Any], *, actor: str, now: datetime
    ) -> TicketDetail:
        await self._write(update_ticket, number, dict(changes), actor, now)
        return await self._ticket(number)

    async def add_ticket_time(
        self, number: int, *, kind: str, minutes: int, by: str, note: str | None, now: datetime
    ) -> TicketTime:
        tid = await self._write(add_time, number, kind, minutes, by, note, now)
        return (await self._read(time_entries, number, tid))[0]  # type: ignore[no-any-return]

    async def customer_ticket_time(self, customer: str, start: datetime, end: datetime) -> list[CustomerTicketTime]:
        return await self._read(customer_time, customer, start, end)  # type: ignore[no-any-return]

    async def page_ticket(
        self, number: int, *, labels: Mapping[str, str], severity: str, actor: str, now: datetime
    ) -> TicketDetail:
        await self._write(page, number, dict(labels), severity, actor, now)
        return await self._ticket(number)

    async def close_resolved(self, before: datetime, *, now: datetime) -> list[int]:
        return await self._write(close_resolved, before, now)  # type: ignore[no-any-return]

    async def index_tickets(self, limit: int = 5000) -> int:
        return await self._write(index_tickets, limit)  # type: ignore[no-any-return]

    async def due_target_tickets(self, now: datetime, limit: int = 500) -> list[int]:
        return await self._read(due_target_tickets, now, limit)  # type: ignore[no-any-return]

    async def rejudge_request_targets(self) -> int:
        return await self._write(rejudge_request_targets)  # type: ignore[no-any-return]

    async def record_target_facts(
        self, number: int, facts: Sequence[TargetFact], *, next_at: datetime | None, now: datetime
    ) -> list[TargetFact]:
        return await self._write(record_target_facts, number, list(facts), next_at, now)  # type: ignore[no-any-return]

    async def add_contact(
        self,
        *,
        id: str,
        customer: str,
        name: str,
        emails: tuple[str, ...],
        phone: str | None,
        language: str,
        created_by: str,
        now: datetime,
    ) -> ContactRecord:
        await self._write(add_contact, id, customer, name, emails, phone, language, created_by, now)
        return (await self._read(contacts, None, id))[0]  # type: ignore[no-any-return]

    async def list_contacts(self, customer: str | None = None) -> list[ContactRecord]:
        return await self._read(contacts, customer)  # type: ignore[no-any-return]
