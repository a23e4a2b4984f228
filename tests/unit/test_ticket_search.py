"""The filtered search of the SQLite store (pager.storage.sqlite_tickets.tickets) takes one of two ways: when the
filters leave at most CHECK_EACH_UP_TO tickets and the search matches more than MANY_MATCHES, it checks each of
those tickets against the search index, else it walks the index's matches newest first. Both ways answer the same
tickets, whichever is taken."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from pager.clock import ManualClock
from pager.storage import sqlite as S
from pager.storage import sqlite_tickets as T
from pager.storage.port import Requester
from tests.contract.conftest import POLICY

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
WORDS = "varnish checkout quota dns backup invoice ssl cron".split()
PROJECTS = ["acme/webshop", "acme/intranet", "agency/infra", None]
STATUSES = ["new", "open", "waiting_on_customer", "resolved", "closed"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[int, tuple[str, str | None, set[str]]]]:
    """300 tickets of random words, projects and statuses, written as the store writes them."""
    path = str(tmp_path_factory.mktemp("search") / "s.db")
    S.migrate(path, T0)
    conn = S._connect(path, synchronous="OFF")
    rnd = random.Random(7)
    made = {}
    conn.execute("BEGIN")
    for _ in range(300):
        subject = " ".join(rnd.choice(WORDS) for _ in range(2))
        body = " ".join(rnd.choice(WORDS) for _ in range(3))
        project = rnd.choice(PROJECTS)
        n = T.create_ticket(
            conn, subject, body, "email", project.split("/")[0] if project else None, project, Requester(name="x"),
            "normal", None, (), (), "bench", T0,
        )  # fmt: skip
        status = rnd.choice(STATUSES)
        conn.execute("UPDATE tickets SET status = ? WHERE number = ?", (status, n))
        if rnd.random() < 0.3:  # a note's words are found too
            note = rnd.choice(WORDS)
            T.add_note(conn, n, "anna", note, T0)
            body += " " + note
        made[n] = (status, project, set(subject.split()) | set(body.split()))
    conn.execute("COMMIT")
    conn.close()
    return path, made


def _want(made, status, project, triage, words, limit, before) -> list[int]:
    return [
        n
        for n, (s, p, w) in sorted(made.items(), reverse=True)
        if status in (None, s)
        and (project is None or p == project)
        and (not triage or p is None)
        and set(words) <= w
        and (before is None or n < before)
    ][:limit]


CASES = [
    (status, project, triage, q, limit, before)
    for status in (None, "new", "closed")
    for project, triage in ((None, False), ("acme/webshop", False), ("agency/infra", False), (None, True))
    for q in ("varnish", "checkout quota", "ssl cron dns", "absent")
    for limit, before in ((100, None), (5, None), (20, 150))
]


# (CHECK_EACH_UP_TO, MANY_MATCHES): always walk the index / either way / always check each
@pytest.mark.parametrize("bound", [(0, 0), (40, 0), (40, 60), (10**9, 0)])
def test_both_ways_answer_the_matching_tickets_newest_first(filled, bound, monkeypatch) -> None:
    path, made = filled
    monkeypatch.setattr(T, "CHECK_EACH_UP_TO", bound[0])
    monkeypatch.setattr(T, "MANY_MATCHES", bound[1])
    conn = S._connect(path, synchronous="OFF")
    try:
        for status, project, triage, q, limit, before in CASES:
            got = [t.number for t in T.tickets(conn, status, project, None, triage, q, limit, before)]
            assert got == _want(made, status, project, triage, q.split(), limit, before), (
                bound, status, project, triage, q, limit, before,
            )  # fmt: skip
    finally:
        conn.close()


def test_the_way_is_chosen_by_how_many_tickets_the_filters_leave(filled, monkeypatch) -> None:
    path, made = filled
    conn = S._connect(path, synchronous="OFF")
    try:
        webshop = sum(1 for _, p, _ in made.values() if p == "acme/webshop")
        project = ((True, "t.project = ?", ("acme/webshop",)),)
        monkeypatch.setattr(T, "CHECK_EACH_UP_TO", webshop)
        assert T._few(conn, project) is True
        monkeypatch.setattr(T, "CHECK_EACH_UP_TO", webshop - 1)
        assert T._few(conn, project) is False
        assert T._few(conn, ((False, "t.status = ?", ("new",)),)) is False  # no filter: the index is walked
        varnish = sum(1 for _, _, w in made.values() if "varnish" in w)
        monkeypatch.setattr(T, "MANY_MATCHES", varnish - 1)
        assert T._many(conn, '"varnish"') is True
        monkeypatch.setattr(T, "MANY_MATCHES", varnish)
        assert T._many(conn, '"varnish"') is False
    finally:
        conn.close()


async def test_the_store_uses_the_index_of_status_and_project(filled) -> None:
    path, _ = filled
    store = S.SqliteStore(path, POLICY, clock=ManualClock(T0))
    await store.open()
    try:
        plan = await store._read(
            lambda c: [
                r[3]
                for r in c.execute(
                    "EXPLAIN QUERY PLAN SELECT number FROM tickets AS t WHERE t.status = ? AND t.project = ? "
                    "ORDER BY t.number DESC LIMIT 100",
                    ("new", "agency/infra"),
                )
            ]
        )
        assert any("tickets_status_project" in p for p in plan), plan
    finally:
        await store.close()


def test_a_search_of_no_words_finds_nothing(filled) -> None:
    path, _ = filled
    conn = S._connect(path, synchronous="OFF")
    try:
        assert T.tickets(conn, "new", None, None, False, "!!! ---", 100, None) == []
    finally:
        conn.close()
