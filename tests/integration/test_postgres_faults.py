"""pagerd nodes on PostgreSQL while their database connections are cut: every session of the node's database
ended by pg_terminate_backend (a few times), the server restarted once (pg_ctl restart -m fast, on a
server of the test's own: the shared one of scripts/pg.sh is never restarted), and a failover: the primary
crashes and its synchronous streaming standby is promoted, the nodes finding the new primary through a
multi-host DSN (`target_session_attrs=read-write`), while Alertmanager webhooks flow to the nodes.

- A webhook answered 2xx is stored exactly once (checked in the database afterwards).
- An answer during a cut is 2xx or 503 with Retry-After: never 500, never later than ANSWER_BOUND.
- The nodes recover by themselves, without a restart: /readyz 200, later webhooks 2xx, one engine leader,
  and pages go out again.

Each node runs the example config on the manual clock. Run alone:
`.venv/bin/python -m pytest -q tests/integration/test_postgres_faults.py`.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.harness import postgres as pg
from tests.harness.pagerd import ROOT, PagerdProcess, manual_clock_config
from tests.harness.pg_cluster import PgCluster, server_program

from .test_postgres_nodes import START, _leader, _nodes, _paged, _sent_once

FIRING = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())
ANSWER_BOUND = 12.0  # seconds: the longest a webhook may wait for its answer during a cut
PER_SENDER = 1000  # webhooks one sender thread sends at most (the stream lasts about 5 s)
OUTAGE_BOUND = 10.0  # seconds from the first webhook refused during a server restart to the last
RECOVERY_BOUND = 30.0  # seconds for a node to be ready again after the cut


@dataclass
class Answer:
    n: int  # the webhook's number: its alert's fingerprint and alertname
    node: int
    status: int  # 0: no answer (connection error or timeout)
    retry_after: str | None
    took: float
    body: str
    at: float = 0.0  # monotonic time it was sent


def _alert(n: int, severity: str) -> bytes:
    d = json.loads(json.dumps(FIRING))
    d["groupKey"] = f'{{}}:{{alertname="Cut{n}"}}'
    d["groupLabels"] = {"alertname": f"Cut{n}"}
    d["commonLabels"]["severity"] = severity
    d["alerts"] = d["alerts"][:1]
    d["alerts"][0]["labels"]["alertname"] = f"Cut{n}"
    d["alerts"][0]["labels"]["severity"] = severity
    d["alerts"][0]["fingerprint"] = f"{n:016x}"
    return json.dumps(d).encode()


def _post(p: PagerdProcess, node: int, n: int, severity: str = "warning") -> Answer:
    """Webhook number `n`; a `warning` pages nobody on this Monday evening (low urgency waits for the office),
    so the stream's hundreds of incidents leave the on-call person's throttles untouched."""
    req = urllib.request.Request(p.url + "/api/v1/alerts/alertmanager", data=_alert(n, severity), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {p.webhook_token}")
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=ANSWER_BOUND + 5) as r:
            status, headers, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, body = e.code, e.headers, e.read()
    except OSError as e:  # refused, reset or timed out: the node must always answer
        return Answer(n, node, 0, None, time.monotonic() - t0, repr(e), t0)
    return Answer(n, node, status, headers.get("Retry-After"), time.monotonic() - t0, body.decode()[:300], t0)


class Stream:
    """Distinct webhooks to every node, one sender thread per node, until stopped or PER_SENDER each."""

    def __init__(self, nodes: list[PagerdProcess], first: int) -> None:
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._send, args=(p, i, first + i * PER_SENDER), daemon=True)
            for i, p in enumerate(nodes)
        ]

    def _send(self, p: PagerdProcess, node: int, first: int) -> None:
        for n in range(first, first + PER_SENDER):
            if self._stop.is_set():
                return
            answer = _post(p, node, n)
            with self._lock:
                self.answers.append(answer)
            time.sleep(0.05)

    def __enter__(self) -> Stream:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(ANSWER_BOUND + 10)
        assert not any(t.is_alive() for t in self._threads), "a sender still waits for an answer"


def _readyz(p: PagerdProcess) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(p.url + "/readyz", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, repr(e)


def _check_answers(answers: list[Answer]) -> list[int]:
    """The numbers of the webhooks answered 2xx; fails on any answer but 2xx and 503 with Retry-After."""
    assert answers, "no webhook was sent"
    for a in answers:
        assert a.status == 200 or a.status == 503, a
        assert a.took <= ANSWER_BOUND, a
        if a.status == 503:
            assert a.retry_after is not None and int(a.retry_after) > 0, a
    return [a.n for a in answers if a.status == 200]


def _stored_once(dsn: str, answers: list[Answer]) -> None:
    """Every webhook answered 2xx is in the database exactly once; none of the others twice."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT fingerprint, count(*) FROM alerts GROUP BY fingerprint").fetchall()
        incidents = dict(
            conn.execute(
                "SELECT dedup_key, count(*) FROM incidents WHERE dedup_key LIKE %s GROUP BY dedup_key", ("%Cut%",)
            )
        )
    stored = {int(f, 16): c for f, c in rows}
    for a in answers:
        if a.status == 200:
            assert stored.get(a.n) == 1, f"answered 2xx, stored {stored.get(a.n, 0)} times: {a}"
        else:
            assert stored.get(a.n, 0) <= 1, a
    assert all(c == 1 for c in incidents.values()), {k: c for k, c in incidents.items() if c != 1}


def _recovered(nodes: list[PagerdProcess], dsn: str, first: int) -> None:
    """Every node ready again and taking webhooks, one engine leader, and it pages."""
    for p in nodes:
        deadline = time.monotonic() + RECOVERY_BOUND
        while (ready := _readyz(p))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready[0] == 200, ready
    incidents = []
    for i, p in enumerate(nodes):
        a = _post(p, i, first + i, severity="critical")
        assert a.status == 200, a  # the first webhook after the cut: no retry needed
        incidents.append(json.loads(a.body)["incidents"][0])
    _leader(nodes, timeout=RECOVERY_BOUND)
    for incident in incidents:
        _paged(nodes[0], incident, 1)
        _sent_once(nodes, dsn, incident)


def _cut_while_streaming(nodes: list[PagerdProcess], cut: Callable[[], None], cuts: int) -> list[Answer]:
    """Webhooks to every node while `cut()` runs `cuts` times, a second apart; bounded in count and time."""
    with Stream(nodes, first=1) as stream:
        time.sleep(1.0)  # webhooks flow before the first cut
        for _ in range(cuts):
            cut()
            time.sleep(1.0)
        time.sleep(1.0)  # and after the last
    return stream.answers


def test_sessions_ended_by_the_server_cost_503s_and_lose_nothing(tmp_path: Path, dsn: str) -> None:
    database = pg.database_name(str(tmp_path))
    nodes = _nodes(tmp_path, dsn, 2)
    for p in nodes:
        p.start()
    ended: list[int] = []

    def terminate() -> None:
        with psycopg.connect(f"{pg.SERVER}/postgres", autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        ended.append(len(rows))

    try:
        _leader(nodes)
        answers = _cut_while_streaming(nodes, terminate, cuts=3)
        assert all(n >= 2 for n in ended), ended  # each cut ended the sessions of both nodes (writer, lease, ...)
        accepted = _check_answers(answers)
        assert len(accepted) >= 10, answers  # webhooks got through between the cuts
        _recovered(nodes, dsn, first=10_000)
        _stored_once(dsn, answers)
        for p in nodes:
            log = p.log_path.read_text()
            assert "request_failed" not in log, log[-3000:]  # no request met an unexpected error
            assert "store_reconnect" in log
    finally:
        for p in nodes:
            p.stop()


def _cluster_available() -> bool:
    if server_program("initdb") is not None and server_program("pg_ctl") is not None:
        return True
    if os.environ.get("CI") == "true":
        pytest.fail("no PostgreSQL server programs (initdb, pg_ctl) in CI; scripts/peers.sh install adds them")
    return False


def test_a_server_restart_costs_503s_and_loses_nothing(tmp_path: Path) -> None:
    if not _cluster_available():
        pytest.skip("no PostgreSQL server programs (initdb, pg_ctl) to run a server of the test's own")
    with PgCluster.started() as cluster:
        dsn = cluster.database("pagerd")
        config = manual_clock_config(tmp_path / "pagerd.yaml", START)
        env = {"PAGERD_STORAGE": "postgres", "PAGERD_PG_DSN": dsn}
        nodes = [PagerdProcess(workdir=tmp_path / "node", config=config, extra_env=env)]
        nodes[0].start()
        try:
            _leader(nodes)
            answers = _cut_while_streaming(nodes, cluster.restart, cuts=1)
            accepted = _check_answers(answers)
            assert len(accepted) >= 10, answers
            refused = [a.at for a in answers if a.status == 503]
            assert refused, "no webhook came while the server was down"
            assert max(refused) - min(refused) <= OUTAGE_BOUND, answers  # then webhooks are taken again
            _recovered(nodes, dsn, first=10_000)
            _stored_once(dsn, answers)
            log = nodes[0].log_path.read_text()
            assert "request_failed" not in log, log[-3000:]
            assert "store_reconnect" in log
        finally:
            nodes[0].stop()


def test_a_failover_to_a_synchronous_standby_loses_nothing(tmp_path: Path) -> None:
    """The primary crashes (pg_ctl stop -m immediate) a second into the stream; a second later its standby
    is promoted. A COMMIT on the primary waited for the standby (synchronous_standby_names), so every
    webhook answered 2xx is on the new primary, which the nodes find in their DSN's host list by themselves."""
    if not _cluster_available():
        pytest.skip("no PostgreSQL server programs (initdb, pg_ctl) to run servers of the test's own")
    with PgCluster.started() as primary:
        primary.database("pagerd")
        with PgCluster.standby_of(primary) as standby:
            hosts = f"127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
            dsn = f"postgresql://postgres@{hosts}/pagerd?target_session_attrs=read-write"
            nodes = _nodes(tmp_path, dsn, 2)
            for p in nodes:
                p.start()

            def failover() -> None:
                primary.crash()
                time.sleep(1.0)  # the nodes meanwhile find no server that takes writes
                standby.promote()

            try:
                _leader(nodes)
                answers = _cut_while_streaming(nodes, failover, cuts=1)
                accepted = _check_answers(answers)
                assert len(accepted) >= 10, answers
                assert any(a.status == 503 for a in answers), "no webhook came while no server took writes"
                promoted = f"{standby.server}/pagerd"
                _recovered(nodes, promoted, first=10_000)
                _stored_once(promoted, answers)
                for p in nodes:
                    log = p.log_path.read_text()
                    assert "request_failed" not in log, log[-3000:]
                    assert "store_reconnect" in log
            finally:
                for p in nodes:
                    p.stop()
