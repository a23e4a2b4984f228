"""Several pagerd nodes on one PostgreSQL database (the real server of scripts/pg.sh): every node takes
webhooks; one at a time runs the engine (the engine lease, pager.storage.postgres.EngineLease).

- kill -9 of the holder in the middle of an escalation: another node takes the lease within 10 s and sends
  the next step; no message is sent twice (every send is a `page_dry_run` line in some node's log, once
  per outbox row) and none is lost (every due row of the incident is sent). Webhooks to the other nodes
  meanwhile are all answered 2xx and stored exactly once.
- SIGSTOP of the holder past the lease's ttl, then SIGCONT: the other node took over and paged meanwhile;
  the resumed node sends nothing more and stands by.

Each node runs the example config on the manual clock from the same instant; a node's clock moves only
when the test moves it. Run alone: `.venv/bin/python -m pytest -q tests/integration/test_postgres_nodes.py`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from tests.harness.pagerd import ROOT, PagerdProcess, manual_clock_config
from tests.harness.webhook_stream import Stream, check_answers, stored_once

START = datetime(2026, 1, 5, 21, 0, tzinfo=timezone.utc)  # a Monday evening: standby
TAKEOVER_BOUND = 10.0  # seconds, issue 16
FIRING = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())


def _nodes(tmp_path: Path, dsn: str, n: int) -> list[PagerdProcess]:
    config = manual_clock_config(tmp_path / "pagerd.yaml", START)
    env = {"PAGERD_STORAGE": "postgres", "PAGERD_PG_DSN": dsn}
    return [PagerdProcess(workdir=tmp_path / f"node{i}", config=config, extra_env=env) for i in range(n)]


def _metric(p: PagerdProcess, name: str) -> float | None:
    try:
        text = urllib.request.urlopen(p.url + "/metrics", timeout=5).read().decode()
    except OSError:
        return None
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def _leader(nodes: list[PagerdProcess], timeout: float = 30.0) -> PagerdProcess:
    """The one node that runs the engine, once exactly one says so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leading = [p for p in nodes if _metric(p, "pagerd_engine_leader") == 1.0]
        if len(leading) == 1:
            return leading[0]
        time.sleep(0.1)
    raise AssertionError("no single engine leader")


def _alert(n: int) -> bytes:
    d = json.loads(json.dumps(FIRING))
    d["groupKey"] = f'{{}}:{{alertname="Lease{n}"}}'
    d["alerts"] = d["alerts"][:1]
    d["alerts"][0]["labels"]["alertname"] = f"Lease{n}"
    d["alerts"][0]["fingerprint"] = f"{n:016x}"
    return json.dumps(d).encode()


def _sends(nodes: list[PagerdProcess]) -> Counter:
    """message id -> how many times any node sent it (the dry-run notifier's log line per send)."""
    seen: Counter = Counter()
    for p in nodes:
        if p.log_path.exists():
            for line in p.log_path.read_text().splitlines():
                if "page_dry_run" in line:
                    m = re.search(r'"message_id": ?"?(\d+)', line) or re.search(r"message_id=(\d+)", line)
                    assert m, line
                    seen[m.group(1)] += 1
    return seen


def _outbox(dsn: str, incident: int) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT id, status FROM outbox WHERE incident_id = %s", (incident,)).fetchall()
    return {str(i): s for i, s in rows}


def _sent_once(nodes: list[PagerdProcess], dsn: str, incident: int) -> dict[str, str]:
    rows = _outbox(dsn, incident)
    sends = _sends(nodes)
    assert all(c == 1 for c in sends.values()), f"sent twice: {[k for k, c in sends.items() if c > 1]}"
    carried = {i for i, s in rows.items() if s == "simulated"}
    assert carried <= set(sends), f"marked sent but never sent: {carried - set(sends)}"
    return rows


def _open_incident(p: PagerdProcess, n: int) -> int:
    status, body = p.request("POST", "/api/v1/alerts/alertmanager", _alert(n), token=p.webhook_token)
    assert status == 200, body
    return body["incidents"][0]  # type: ignore[index]


def _paged(p: PagerdProcess, incident: int, count: int) -> None:
    p.wait_for(
        lambda n: (
            len([e for e in n.api("GET", f"/api/v1/incidents/{incident}")[1]["timeline"] if e["kind"] == "paged"])
            >= count
            or None
        ),
        timeout=30,
    )


def test_kill_9_of_the_holder_moves_the_engine_and_the_next_step_goes_out_once(tmp_path: Path, dsn: str) -> None:
    nodes = _nodes(tmp_path, dsn, 3)
    for p in nodes:
        p.start()
    try:
        holder = _leader(nodes)
        others = [p for p in nodes if p is not holder]
        assert all(_metric(p, "pagerd_engine_leader") == 0.0 for p in others)
        for p in others:  # a standby node is ready: it takes webhooks
            assert urllib.request.urlopen(p.url + "/readyz", timeout=5).status == 200
        incident = _open_incident(others[0], 1)  # taken by a node that runs no engine
        _paged(others[0], incident, 1)  # the holder's engine found it and paged the first step
        first = _sent_once(nodes, dsn, incident)

        # webhooks spread over the other nodes while the engine moves: every 2xx stored exactly once
        with Stream(others, first=100) as stream:
            time.sleep(0.5)
            holder.kill()
            t0 = time.monotonic()
            successor = _leader(others, timeout=TAKEOVER_BOUND + 5)
            took = time.monotonic() - t0
            time.sleep(0.5)
        assert took <= TAKEOVER_BOUND, took
        accepted = check_answers(stream.answers)
        assert len(accepted) == len(stream.answers) >= 10, stream.answers  # a standby node's writes never wait
        stored_once(dsn, stream.answers)
        assert _metric(successor, "pagerd_engine_takeovers_total") == 1.0

        successor.advance("16m")  # the next step falls due (15 min) where the engine now runs
        _paged(successor, incident, 2)
        successor.advance("3m")  # and the voice calls that follow each step's SMS after 2 min
        after = _sent_once(nodes, dsn, incident)
        assert set(first) < set(after)  # the second step's messages are new rows, sent once
        with psycopg.connect(dsn) as conn:
            left = conn.execute(
                "SELECT id, channel, address, kind, due_at, status FROM outbox WHERE incident_id = %s "
                "AND status IN ('pending', 'sending') AND due_at <= %s",
                (incident, successor.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
            ).fetchall()
        assert not left, left  # nothing due is left unsent
    finally:
        for p in nodes:
            p.stop()


def test_a_holder_paused_past_its_lease_sends_nothing_after_it_resumes(tmp_path: Path, dsn: str) -> None:
    nodes = _nodes(tmp_path, dsn, 2)
    for p in nodes:
        p.start()
    try:
        holder = _leader(nodes)
        (other,) = [p for p in nodes if p is not holder]
        assert holder.proc is not None
        os.kill(holder.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            _leader([other], timeout=TAKEOVER_BOUND + 5)
            assert time.monotonic() - t0 <= TAKEOVER_BOUND
            incident = _open_incident(other, 2)
            _paged(other, incident, 1)
        finally:
            os.kill(holder.proc.pid, signal.SIGCONT)
        # the resumed node finds its lease gone and stands by; the new holder keeps it
        holder.wait_for(lambda p: _metric(p, "pagerd_engine_leader") == 0.0 or None, timeout=15)
        assert _leader(nodes) is other
        incident2 = _open_incident(holder, 3)  # a webhook to the resumed node is paged by the holder
        _paged(other, incident2, 1)
        _sent_once(nodes, dsn, incident)
        _sent_once(nodes, dsn, incident2)
        assert "engine_lease_lost" in holder.log_path.read_text()
    finally:
        for p in nodes:
            p.stop()


def _group(n: int, alerts: int) -> bytes:
    """A firing group of `alerts` alerts, its own group key: as an Alertmanager pair both send it."""
    d = json.loads(json.dumps(FIRING))
    d["groupKey"] = f'{{}}:{{alertname="Pair{n}"}}'
    template = d["alerts"][0]
    d["alerts"] = []
    for i in range(alerts):
        a = json.loads(json.dumps(template))
        a["labels"] = {**a["labels"], "alertname": f"Pair{n}", "instance": f"web{i}:9100"}
        a["fingerprint"] = f"{n:08x}{i:08x}"
        d["alerts"].append(a)
    return json.dumps(d).encode()


def test_one_notification_sent_to_two_nodes_at_once_is_stored_once(tmp_path: Path, dsn: str) -> None:
    """An Alertmanager pair (high availability) may send the same notification to pagerd twice at the same
    moment, and a load balancer may hand the two to two nodes. Both are answered 200; whichever commits
    second finds the notifications applied (the ingest looks them up under the write lock that every node's
    writes take, and writes a notification it did not find with a plain INSERT): one incident per group,
    one alert row per alert and one notification row each, and the two answers count every alert once as
    applied and once as a duplicate (the duplicate's answer names no incident)."""
    from concurrent.futures import ThreadPoolExecutor

    nodes = _nodes(tmp_path, dsn, 2)
    for p in nodes:
        p.start()
    try:
        bodies = {n: _group(n, 1 if n % 2 else 100) for n in range(1, 41)}

        def post(p: PagerdProcess, body: bytes) -> tuple[int, object]:
            return p.request("POST", "/api/v1/alerts/alertmanager", body, token=p.webhook_token)

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = {
                n: [f.result() for f in [pool.submit(post, p, body) for p in nodes]] for n, body in bodies.items()
            }
        for n, pair in answers.items():
            assert [status for status, _ in pair] == [200, 200], (n, pair)
            alerts = 1 if n % 2 else 100
            assert sorted(body["duplicates"] for _, body in pair) == [0, alerts], (n, pair)  # type: ignore[index]
            assert sorted(len(body["incidents"]) for _, body in pair) == [0, 1], (n, pair)  # type: ignore[index]
        with psycopg.connect(dsn) as conn:
            per_group = conn.execute(
                "SELECT i.dedup_key, count(DISTINCT i.id), count(a.id), count(DISTINCT a.fingerprint) "
                "FROM incidents i JOIN alerts a ON a.incident_id = i.id GROUP BY i.dedup_key"
            ).fetchall()
            notifications = conn.execute("SELECT count(*) FROM alert_events").fetchone()[0]  # type: ignore[index]
        assert len(per_group) == len(bodies)
        assert all(incidents == 1 and rows == distinct for _, incidents, rows, distinct in per_group), per_group
        assert sum(rows for _, _, rows, _ in per_group) == notifications == 20 * 1 + 20 * 100
    finally:
        for p in nodes:
            p.stop()
