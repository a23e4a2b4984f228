"""A stream of distinct Alertmanager webhooks to pagerd nodes, one sender thread per node, and the checks
on what came of it: every answer 2xx or 503 with Retry-After, and every webhook answered 2xx stored exactly
once (tests/integration/test_postgres_nodes.py, test_postgres_faults.py)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import psycopg

from .pagerd import ROOT, PagerdProcess
from .store_links import assert_alerts_linked

FIRING = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())
ANSWER_BOUND = 12.0  # seconds: the longest a webhook may wait for its answer during a cut
PER_SENDER = 1000  # webhooks one sender thread sends at most (the stream lasts about 5 s)


@dataclass
class Answer:
    n: int  # the webhook's number: its alert's fingerprint and alertname
    node: int
    status: int  # 0: no answer (connection error or timeout)
    retry_after: str | None
    took: float
    body: str
    at: float = 0.0  # monotonic time it was sent


def alert(n: int, severity: str) -> bytes:
    d = json.loads(json.dumps(FIRING))
    d["groupKey"] = f'{{}}:{{alertname="Cut{n}"}}'
    d["groupLabels"] = {"alertname": f"Cut{n}"}
    d["commonLabels"]["severity"] = severity
    d["alerts"] = d["alerts"][:1]
    d["alerts"][0]["labels"]["alertname"] = f"Cut{n}"
    d["alerts"][0]["labels"]["severity"] = severity
    d["alerts"][0]["fingerprint"] = f"{n:016x}"
    return json.dumps(d).encode()


def post(p: PagerdProcess, node: int, n: int, severity: str = "warning") -> Answer:
    """Webhook number `n`; a `warning` pages nobody on this Monday evening (low urgency waits for the office),
    so the stream's hundreds of incidents leave the on-call person's throttles untouched."""
    req = urllib.request.Request(p.url + "/api/v1/alerts/alertmanager", data=alert(n, severity), method="POST")
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
            answer = post(p, node, n)
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


def check_answers(answers: list[Answer]) -> list[int]:
    """The numbers of the webhooks answered 2xx; fails on any answer but 2xx and 503 with Retry-After."""
    assert answers, "no webhook was sent"
    for a in answers:
        assert a.status == 200 or a.status == 503, a
        assert a.took <= ANSWER_BOUND, a
        if a.status == 503:
            assert a.retry_after is not None and int(a.retry_after) > 0, a
    return [a.n for a in answers if a.status == 200]


def stored_once(dsn: str, answers: list[Answer]) -> None:
    """Every webhook answered 2xx is in the database exactly once; none of the others twice; every alert row
    names a stored incident and delivery (`assert_alerts_linked`)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT fingerprint, count(*) FROM alerts GROUP BY fingerprint").fetchall()
        incidents = dict(
            conn.execute(
                "SELECT dedup_key, count(*) FROM incidents WHERE dedup_key LIKE %s GROUP BY dedup_key", ("%Cut%",)
            )
        )
        assert_alerts_linked(conn)
    stored = {int(f, 16): c for f, c in rows}
    for a in answers:
        if a.status == 200:
            assert stored.get(a.n) == 1, f"answered 2xx, stored {stored.get(a.n, 0)} times: {a}"
        else:
            assert stored.get(a.n, 0) <= 1, a
    assert all(c == 1 for c in incidents.values()), {k: c for k, c in incidents.items() if c != 1}
