"""Durability: kill -9 the real daemon in the middle of a burst of concurrent webhooks.

Every request that was answered 2xx must be in the database after a restart, exactly once, with
all of its alerts (a webhook is one transaction); the database must be consistent; and when the
senders retry everything (Alertmanager re-sends on errors and every group_interval), nothing doubles.
"""

from __future__ import annotations

import http.client
import json
import queue
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from tests.harness.pagerd import ENGINE_KINDS
from tests.harness.store_links import assert_alerts_linked

ROOT = Path(__file__).resolve().parents[2]
FIRING = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())

THREADS = 16
BURST = 2400  # requests in the burst
KILL_AFTER = 500  # answered requests before the kill -9


def am_group(i: int) -> tuple[str, bytes]:
    """A unique Alertmanager group (two alerts) per request; returns (groupKey, body)."""
    d = json.loads(json.dumps(FIRING))
    key = f'{{}}:{{alertname="Burst",n="{i}"}}'
    d["groupKey"] = key
    d["groupLabels"] = {"alertname": "Burst", "n": str(i)}
    for j, a in enumerate(d["alerts"]):
        a["labels"]["n"] = str(i)
        a["fingerprint"] = f"{i:08x}{j:08x}"
    return key, json.dumps(d).encode()


class Burst:
    """THREADS workers on keep-alive connections send every request once; records who got a 2xx."""

    def __init__(self, port: int, requests: list[tuple[str, str, bytes, dict]]) -> None:
        self.port = port
        self.todo: queue.SimpleQueue = queue.SimpleQueue()
        for r in requests:
            self.todo.put(r)
        self.ok: dict[str, dict] = {}  # key -> 2xx answer
        self.failed: dict[str, str] = {}  # key -> error or non-2xx status
        self.statuses: list[int] = []
        self.lock = threading.Lock()

    def worker(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            try:
                key, path, body, headers = self.todo.get_nowait()
            except queue.Empty:
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                with self.lock:
                    self.statuses.append(resp.status)
                    if 200 <= resp.status < 300:
                        self.ok[key] = json.loads(raw)
                    else:
                        self.failed[key] = f"{resp.status} {raw[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failed[key] = type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def run(self, kill_when=None, kill=None) -> float | None:
        """Send everything; call `kill()` once `kill_when(self)` is true. Returns when it killed (monotonic)."""
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(THREADS)]
        for t in threads:
            t.start()
        killed_at = None
        while any(t.is_alive() for t in threads):
            if kill is not None and killed_at is None and kill_when(self):
                kill()
                killed_at = time.monotonic()
            time.sleep(0.002)
        for t in threads:
            t.join(15)
        return killed_at


def db(p) -> sqlite3.Connection:
    return sqlite3.connect(p.db_path, timeout=10)


def assert_consistent(p) -> None:
    """The invariants a crash must not break."""
    con = db(p)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        assert_alerts_linked(con)
        mismatched = con.execute(
            "SELECT i.id, i.alert_count, (SELECT count(*) FROM alerts a WHERE a.incident_id = i.id) AS n "
            "FROM incidents i WHERE i.alert_count != n"
        ).fetchall()
        assert mismatched == [], f"incidents.alert_count differs from their alerts rows: {mismatched[:10]}"
        doubled = con.execute(
            "SELECT source, dedup_key, count(*) FROM incidents GROUP BY source, dedup_key HAVING count(*) > 1"
        ).fetchall()
        assert doubled == [], f"more than one incident per key: {doubled[:10]}"
        no_open_event = con.execute(
            "SELECT id FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM events e "
            "WHERE e.incident_id = i.id AND e.kind = 'opened')"
        ).fetchall()
        assert no_open_event == [], f"incidents without their 'opened' event: {no_open_event[:10]}"
        orphan_alerts = con.execute(
            "SELECT count(*) FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)"
        ).fetchone()[0]
        assert orphan_alerts == 0
        partial = con.execute(
            "SELECT d.id, d.alert_count, (SELECT count(*) FROM alert_events e "
            "WHERE e.delivery_id = d.id) AS n FROM deliveries d WHERE n != d.alert_count "
            "AND d.seen_count = 1"
        ).fetchall()
        assert partial == [], f"deliveries with some of their alerts applied: {partial[:10]}"
    finally:
        con.close()


def incidents_by_key(p) -> dict[str, list[tuple[int, int, str]]]:
    con = db(p)
    try:
        out: dict[str, list[tuple[int, int, str]]] = {}
        for iid, key, n, state in con.execute("SELECT id, dedup_key, alert_count, state FROM incidents"):
            out.setdefault(key, []).append((iid, n, state))
        return out
    finally:
        con.close()


def test_kill_9_during_burst_loses_and_doubles_nothing(pagerd):
    t0 = time.monotonic()  # for the log line: when the kill landed
    auth = {"Authorization": f"Bearer {pagerd.webhook_token}", "Content-Type": "application/json"}
    groups = [am_group(i) for i in range(BURST)]
    requests = [(key, "/api/v1/alerts/alertmanager", body, auth) for key, body in groups]

    burst = Burst(pagerd.port, requests)
    killed_at = burst.run(kill_when=lambda b: len(b.ok) >= KILL_AFTER, kill=pagerd.kill)
    assert killed_at is not None, "the burst ended before the kill: make BURST larger"
    assert pagerd.proc.returncode == -9
    answered = dict(burst.ok)
    assert len(answered) >= KILL_AFTER
    assert burst.failed, "every request was answered: the kill did not land in the middle of the burst"
    assert not [s for s in burst.statuses if s >= 500], "5xx before the kill"
    print(f"burst: {len(answered)} answered 2xx, {len(burst.failed)} failed, kill after {killed_at - t0:.2f}s")

    pagerd.start()
    assert_consistent(pagerd)
    stored = incidents_by_key(pagerd)
    missing = [k for k in answered if k not in stored]
    assert missing == [], f"{len(missing)} alerts answered 2xx are gone after kill -9: {missing[:5]}"
    for key, answer in answered.items():
        assert len(stored[key]) == 1, (key, stored[key])
        iid, n, state = stored[key][0]
        assert n == 2 and state == "triggered", (key, stored[key])
        assert answer["incidents"] == [iid], (key, answer)
    # requests not answered: either not stored at all or stored whole (never half a webhook)
    for key in burst.failed:
        assert len(stored.get(key, [])) <= 1 and all(n == 2 for _, n, _ in stored.get(key, [])), stored.get(key)
    # the API after restart agrees with the database
    assert len(pagerd.incidents(limit="1000")) == min(1000, sum(len(v) for v in stored.values()))

    # Alertmanager re-sends every group (retries and group_interval): nothing doubles
    con = db(pagerd)
    before = counts(con)
    con.close()
    resend = Burst(pagerd.port, requests)
    resend.run()
    assert not resend.failed, list(resend.failed.items())[:5]
    for key in answered:
        assert resend.ok[key]["duplicates"] == 2, (key, resend.ok[key])
    assert_consistent(pagerd)
    stored = incidents_by_key(pagerd)
    assert sorted(stored) == sorted(key for key, _ in groups)
    assert all(len(v) == 1 and v[0][1] == 2 for v in stored.values())
    con = db(pagerd)
    try:
        after = counts(con)
        assert after["incidents"] == BURST and after["alerts"] == 2 * BURST
        # what had been stored before the re-send did not change; only the missing groups were added
        new = BURST - before["incidents"]
        assert after["alerts"] - before["alerts"] == 2 * new
        assert after["events"] - before["events"] == 2 * new  # opened + alerts_received per new group
        assert con.execute("SELECT count(*) FROM deliveries").fetchone()[0] == BURST
    finally:
        con.close()

    # and once more, all at once: a clustered pair of Alertmanagers sends every group twice
    twice = Burst(pagerd.port, requests + requests)
    twice.run()
    assert not twice.failed and all(a["duplicates"] == 2 for a in twice.ok.values())
    assert_consistent(pagerd)
    assert len(incidents_by_key(pagerd)) == BURST


def test_kill_9_during_mixed_burst_of_all_sources(pagerd):
    """The same promise for Events v2 and Nagios (form) webhooks in one burst with Alertmanager."""
    hook = {"Authorization": f"Bearer {pagerd.webhook_token}"}
    requests = []
    for i in range(900):
        kind = i % 3
        if kind == 0:
            key, body = am_group(i)
            requests.append((key, "/api/v1/alerts/alertmanager", body, {**hook, "Content-Type": "application/json"}))
        elif kind == 1:
            key = f"burst/ev/{i}"
            body = json.dumps(
                {
                    "routing_key": pagerd.webhook_token,
                    "event_action": "trigger",
                    "dedup_key": key,
                    "payload": {"summary": f"event {i}", "source": "burst", "severity": "error"},
                }
            )
            requests.append((key, "/v2/enqueue", body.encode(), {"Content-Type": "application/json"}))
        else:
            host = f"burst-{i}"
            body = urlencode(
                {
                    "NOTIFICATIONTYPE": "PROBLEM",
                    "HOSTNAME": host,
                    "SERVICEDESC": "Disk",
                    "SERVICESTATE": "CRITICAL",
                    "SERVICEPROBLEMID": str(i),
                    "NOTIFICATIONNUMBER": "1",
                    "TIMET": "1764079200",
                }
            )
            requests.append(
                (
                    f"{host}/Disk",
                    "/api/v1/alerts/nagios",
                    body.encode(),
                    {**hook, "Content-Type": "application/x-www-form-urlencoded"},
                )
            )

    burst = Burst(pagerd.port, requests)
    killed_at = burst.run(kill_when=lambda b: len(b.ok) >= 200, kill=pagerd.kill)
    assert killed_at is not None and burst.failed, "the kill did not land in the middle of the burst"
    answered = dict(burst.ok)

    pagerd.start()
    assert_consistent(pagerd)
    stored = incidents_by_key(pagerd)
    missing = [k for k in answered if k not in stored]
    assert missing == [], f"{len(missing)} answered 2xx are gone: {missing[:5]}"
    assert all(len(stored[k]) == 1 for k in answered)

    resend = Burst(pagerd.port, requests)
    resend.run()
    assert not resend.failed, list(resend.failed.items())[:5]
    assert_consistent(pagerd)
    stored = incidents_by_key(pagerd)
    assert sorted(stored) == sorted(k for k, *_ in requests)
    assert all(len(v) == 1 for v in stored.values())


def counts(con) -> dict:
    """Rows ingestion wrote (the paging engine adds timeline entries of its own on its own schedule)."""
    out = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("incidents", "alerts")}
    out["events"] = con.execute(f"SELECT count(*) FROM events WHERE kind NOT IN {ENGINE_KINDS}").fetchone()[0]
    return out
