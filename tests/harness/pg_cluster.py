"""A PostgreSQL server of a test's own, for tests that restart or stop the server: the shared one of
scripts/pg.sh serves other tests in parallel and is never touched. Debian's server programs (initdb, pg_ctl)
in a fresh data directory under /var/tmp, on a free loopback port (tests/harness/ports.py), trust
authentication, run as user postgres when the test runs as root; `stop()` removes it all.

    with PgCluster.started() as cluster:
        dsn = cluster.database("pagerd")
        cluster.restart()

A primary with a streaming standby (a database failover: the primary crashes, the standby is promoted):

    with PgCluster.started() as primary, PgCluster.standby_of(primary) as standby:
        primary.crash(); standby.promote()
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from .ports import free_port

START_TIMEOUT = 60  # seconds pg_ctl waits for the server to start or stop


def server_program(name: str) -> Path | None:
    """Debian's newest PostgreSQL server program `name` (initdb, pg_ctl), None when none is installed."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return found[-1] if found else None


class PgCluster:
    def __init__(self) -> None:
        initdb, pg_ctl = server_program("initdb"), server_program("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise FileNotFoundError("no PostgreSQL server programs (initdb, pg_ctl); run scripts/peers.sh install")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="pagerd-pg-cluster-", dir="/var/tmp"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.server = f"postgresql://postgres@127.0.0.1:{self.port}"

    @classmethod
    @contextlib.contextmanager
    def started(cls) -> Iterator[PgCluster]:
        cluster = cls()
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()

    @classmethod
    @contextlib.contextmanager
    def standby_of(cls, primary: PgCluster, *, synchronous: bool = True) -> Iterator[PgCluster]:
        """A hot standby of `primary` streaming its WAL (pg_basebackup -R). `synchronous`: the primary then
        answers a COMMIT only once this standby has it (synchronous_standby_names), so a failover to it
        loses no committed transaction."""
        standby = cls()
        try:
            standby.start_standby(primary)
            if synchronous:
                primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()")
                standby.wait_streaming(primary)
            yield standby
        finally:
            standby.stop()

    def _run(self, *argv: str | Path) -> None:
        # initdb refuses root: a root test runs the server as postgres, any other user as itself
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        out = subprocess.run(
            [*prefix, *map(str, argv)], capture_output=True, text=True, timeout=START_TIMEOUT + 30, check=False
        )
        if out.returncode != 0:
            log = self.log.read_text()[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed ({out.returncode}): {out.stdout}{out.stderr}\n{log}")

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(self.initdb, "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self._pg_start()

    def _pg_start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base}"
        self._run(self.pg_ctl, "-D", self.data, "-l", self.log, "-w", "-t", str(START_TIMEOUT), "-o", options, "start")

    def start_standby(self, primary: PgCluster) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        basebackup = server_program("pg_basebackup")
        assert basebackup is not None
        options = f"-h 127.0.0.1 -p {primary.port} -U postgres -R -X stream -c fast".split()
        self._run(basebackup, *options, "-D", self.data)
        self._pg_start()

    def wait_streaming(self, primary: PgCluster) -> None:
        """Until the primary sees this standby as synchronous (its COMMITs then wait for it)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with psycopg.connect(f"{primary.server}/postgres", autocommit=True) as c:
                row = c.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
            if row is not None and row[0] == "sync":
                return
            time.sleep(0.1)
        raise RuntimeError("the standby never became synchronous")

    def crash(self) -> None:
        """The server stops at once, as on a power cut (pg_ctl stop -m immediate): no checkpoint."""
        self._run(self.pg_ctl, "-D", self.data, "-w", "-t", str(START_TIMEOUT), "-m", "immediate", "stop")

    def promote(self) -> None:
        """A standby becomes the primary (pg_ctl promote waits until it takes writes)."""
        self._run(self.pg_ctl, "-D", self.data, "-w", "-t", str(START_TIMEOUT), "promote")

    def sql(self, *statements: str) -> None:
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as c:
            for statement in statements:
                c.execute(statement)

    def restart(self) -> None:
        """A fast restart (pg_ctl restart -m fast): every session is ended, open transactions roll back."""
        self._run(self.pg_ctl, "-D", self.data, "-l", self.log, "-w", "-t", str(START_TIMEOUT), "-m", "fast", "restart")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(self.pg_ctl, "-D", self.data, "-w", "-t", str(START_TIMEOUT), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def database(self, name: str) -> str:
        """The DSN of a new empty database `name` on this server."""
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return f"{self.server}/{name}"
