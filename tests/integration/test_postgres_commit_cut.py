"""The one cut a database client cannot see through: the connection lost while a COMMIT is under way, after
the server has the COMMIT and before its answer arrives. The node cannot know whether the webhooks of that
commit are stored, so it must not answer them 2xx; the server did commit them, so the sender's retry (as
Alertmanager retries any answer but 2xx) must find them and change nothing: one incident, one set of
alerts, pages not doubled.

A TCP proxy of the test's own sits between one pagerd node (the example config on the manual clock,
PostgreSQL through the proxy) and the machine's PostgreSQL server. Armed with a marker (the webhook's alert
name, which goes to the server among the statements' parameters), it waits for a connection that sends it,
and drops the server's answer that says its transaction committed (and the rest), then closes it: the
server has committed, the node never hears so. Run alone:
`.venv/bin/python -m pytest -q tests/integration/test_postgres_commit_cut.py`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.harness.pagerd import PagerdProcess, manual_clock_config
from tests.harness.ports import free_port
from tests.harness.webhook_stream import post

from .test_postgres_nodes import START

CUT = 424242  # the webhook whose COMMIT is cut (tests.harness.webhook_stream.alert: alertname Cut424242)
MARKER = f"Cut{CUT}".encode()  # how the proxy knows its transaction: the alert name among the parameters


class CommitCutProxy:
    """127.0.0.1:port → the database server; `arm(marker)` cuts the COMMIT of the transaction that sends
    `marker`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.armed = threading.Event()
        self.marker = b""
        self.cut = threading.Event()  # set once a COMMIT was forwarded and its answer dropped
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def arm(self, marker: bytes) -> None:
        self.marker = marker
        self.armed.set()

    def start(self) -> CommitCutProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection(*self.upstream)
        marked = asyncio.Event()  # this connection sent the marker since the proxy was armed

        async def up() -> None:  # the node's bytes to the server
            while data := await c_reader.read(65536):
                if self.armed.is_set() and self.marker in data:
                    marked.set()
                s_writer.write(data)
                await s_writer.drain()
            s_writer.close()

        async def down() -> None:  # the server's answers; the one that says COMMIT is dropped, and the rest
            while data := await s_reader.read(65536):
                if marked.is_set() and self.armed.is_set() and COMMITTED in data:
                    self.armed.clear()
                    self.cut.set()
                    break
                c_writer.write(data)
                await c_writer.drain()
            for w in (c_writer, s_writer):
                w.close()

        await asyncio.gather(up(), down(), return_exceptions=True)


# PostgreSQL's CommandComplete message for a COMMIT: 'C', its length (4 + 7), the tag "COMMIT\0". It is sent
# once the transaction is committed (synchronous_commit: flushed), by name or prepared statement alike.
COMMITTED = b"C\x00\x00\x00\x0bCOMMIT\x00"


def _through(dsn: str, port: int) -> str:
    u = urlsplit(dsn)
    netloc = (u.netloc.rsplit("@", 1)[0] + "@" if "@" in u.netloc else "") + f"127.0.0.1:{port}"
    return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))


def test_a_commit_whose_answer_is_lost_is_not_answered_2xx_and_its_retry_changes_nothing(
    tmp_path: Path, dsn: str
) -> None:
    u = urlsplit(dsn)
    proxy = CommitCutProxy(u.hostname or "127.0.0.1", u.port or 5432).start()
    node = PagerdProcess(
        workdir=tmp_path / "node",
        config=manual_clock_config(tmp_path / "pagerd.yaml", START),
        extra_env={"PAGERD_STORAGE": "postgres", "PAGERD_PG_DSN": _through(dsn, proxy.port)},
    )
    node.start()
    try:
        assert post(node, 0, 1, "critical").status == 200
        proxy.arm(MARKER)
        first = post(node, 0, CUT, "critical")
        assert proxy.cut.is_set(), ("the proxy saw no COMMIT after the marker", first)
        assert first.status == 503, first  # stored or not, the node cannot know: never a 2xx
        # the sender retries (Alertmanager does, on any answer but 2xx) until the node answers 2xx
        deadline, answers = time.monotonic() + 30, []
        while time.monotonic() < deadline:
            answers.append(post(node, 0, CUT, "critical"))
            if answers[-1].status == 200:
                break
            time.sleep(0.5)
        assert answers[-1].status == 200 and all(a.status in (200, 503) for a in answers), answers
        retried = json.loads(answers[-1].body)
        # the server had committed it: its one alert is a duplicate, no incident changed
        assert (retried["alerts"], retried["duplicates"], retried["incidents"]) == (1, 1, []), retried
        with psycopg.connect(dsn) as db:
            incidents = db.execute("SELECT id FROM incidents WHERE labels LIKE %s", (f'%"Cut{CUT}"%',)).fetchall()
            assert len(incidents) == 1, incidents
            (iid,) = incidents[0]
            assert db.execute("SELECT count(*) FROM alerts WHERE incident_id = %s", (iid,)).fetchone() == (1,)
            assert db.execute(
                "SELECT count(*) FROM events WHERE incident_id = %s AND kind = 'opened'", (iid,)
            ).fetchone() == (1,)
        # and the node pages for it once: each of its page messages once per person and channel
        node.wait_for(lambda p: _pages(dsn, iid), timeout=30)
        rows = _pages(dsn, iid)
        assert len(rows) == len(set(rows)), rows
    finally:
        node.stop()
        proxy.stop()


def _pages(dsn: str, incident_id: int) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as db:
        return [
            (r[0], r[1])
            for r in db.execute(
                "SELECT person, channel FROM outbox WHERE incident_id = %s AND kind = 'page'", (incident_id,)
            )
        ]
