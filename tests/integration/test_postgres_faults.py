"""pagerd nodes on PostgreSQL while their database connections are cut: every session of the node's database
ended by pg_terminate_backend (a few times), the server restarted once (pg_ctl restart -m fast, on a
server of the test's own: the shared one of scripts/pg.sh is never restarted), and a failover: the primary
crashes and its synchronous streaming standby is promoted, the nodes finding the new primary through a
multi-host DSN (`target_session_attrs=read-write`), while Alertmanager webhooks flow to the nodes.

- A webhook answered 2xx is stored exactly once (checked in the database afterwards).
- An answer during a cut is 2xx or 503 with Retry-After: never 500, never later than
  tests.harness.webhook_stream.ANSWER_BOUND.
- The nodes recover by themselves, without a restart: /readyz 200, later webhooks 2xx, one engine leader,
  and pages go out again.

Each node runs the example config on the manual clock. Run alone:
`.venv/bin/python -m pytest -q tests/integration/test_postgres_faults.py`.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.harness import postgres as pg
from tests.harness.pagerd import PagerdProcess, manual_clock_config
from tests.harness.pg_cluster import PgCluster, server_program
from tests.harness.webhook_stream import Answer, Stream, check_answers, post, stored_once

from .test_postgres_nodes import START, _leader, _nodes, _paged, _sent_once

OUTAGE_BOUND = 10.0  # seconds from the first webhook refused during a server restart to the last
RECOVERY_BOUND = 30.0  # seconds for a node to be ready again after the cut


def _readyz(p: PagerdProcess) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(p.url + "/readyz", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, repr(e)


def _recovered(nodes: list[PagerdProcess], dsn: str, first: int) -> None:
    """Every node ready again and taking webhooks, one engine leader, and it pages."""
    for p in nodes:
        deadline = time.monotonic() + RECOVERY_BOUND
        while (ready := _readyz(p))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready[0] == 200, ready
    incidents = []
    for i, p in enumerate(nodes):
        a = post(p, i, first + i, severity="critical")
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
        accepted = check_answers(answers)
        assert len(accepted) >= 10, answers  # webhooks got through between the cuts
        _recovered(nodes, dsn, first=10_000)
        stored_once(dsn, answers)
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
            accepted = check_answers(answers)
            assert len(accepted) >= 10, answers
            refused = [a.at for a in answers if a.status == 503]
            assert refused, "no webhook came while the server was down"
            assert max(refused) - min(refused) <= OUTAGE_BOUND, answers  # then webhooks are taken again
            _recovered(nodes, dsn, first=10_000)
            stored_once(dsn, answers)
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
                accepted = check_answers(answers)
                assert len(accepted) >= 10, answers
                assert any(a.status == 503 for a in answers), "no webhook came while no server took writes"
                promoted = f"{standby.server}/pagerd"
                _recovered(nodes, promoted, first=10_000)
                stored_once(promoted, answers)
                for p in nodes:
                    log = p.log_path.read_text()
                    assert "request_failed" not in log, log[-3000:]
                    assert "store_reconnect" in log
            finally:
                for p in nodes:
                    p.stop()
