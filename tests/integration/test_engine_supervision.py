"""An engine that cannot die unnoticed. Faults are real: a table a stage needs is renamed away with
sqlite3, the database is locked by another connection, the first tick's recovery cannot reach the
outbox, the process is frozen under a real systemd. Waits are polls with a bound; nothing asserts a
wall-clock window (the in-process tests move a ManualClock; the daemon tests use a 2 s stall bound).

- a failing stage is logged and counted, the other stages and the next ticks go on, the last-good-tick
  time stops, /readyz turns 503 after `paging.engine_stall_after`, WATCHDOG=1 stops; all come back
  once the fault is gone;
- an engine stuck in a stage (the database locked) stops the keep-alives;
- a failing first tick (its outbox recovery raises) ends the process with status 1 and `engine_died`;
- a webhook-only node (`paging.engine: false`) stays ready and keeps its keep-alives;
- /metrics reads the outbox backlog and the heartbeats from the store;
- under systemd, the watchdog restarts a pagerd whose event loop is blocked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from pager import config as config_mod
from pager.app import make_notifier, policy
from pager.clock import ManualClock
from pager.observe.metrics import Metrics
from pager.service.paging import PagingEngine
from pager.service.schedule import Schedule
from pager.storage.sqlite import SqliteStore
from pager.web.app import build_app
from pager.web.keys import Runtime
from tests.contract.seed import open_incident
from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV, ROOT, PagerdProcess
from tests.harness.paging import smtp_env

STAGES = (
    *("route", "stop", "steps", "target", "dispatch", "heartbeats", "retention"),
    *("mail", "outmail", "tickets", "targets", "handover"),
)
BOUND = 30  # seconds: paging.engine_stall_after in the example config


# -- in process: the engine, its metrics and /readyz on a manual clock -------------------------------


class Node:
    """One engine and the application around it, on a real SQLite store and a manual clock; the engine
    ticks only when the test says so."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "pagerd.db"
        self.config = config_mod.load(str(EXAMPLE_CONFIG), env=EXAMPLE_ENV)
        self.schedule = Schedule(self.config)
        # a Wednesday afternoon: no rotation hands off, so the hand-over stage only looks
        self.clock = ManualClock(datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc))
        self.metrics = Metrics()
        self.opened: list = []

    async def __aenter__(self) -> Node:
        self.store = SqliteStore(str(self.db), policy(self.config), clock=self.clock, synchronous="NORMAL")
        await self.store.open()

        async def ingest(source, alerts):  # the heartbeats stage's way in; recorded, not stored
            self.opened.extend(alerts)

        self.engine = PagingEngine(
            self.store,
            self.clock,
            self.metrics,
            make_notifier(self.config, self.clock),
            lambda: (self.config, self.schedule),
            ingest=ingest,
        )
        runtime = Runtime(
            config=self.config,
            config_path=str(EXAMPLE_CONFIG),
            store=self.store,
            metrics=self.metrics,
            clock=self.clock,
            schedule=self.schedule,
            ready=True,
            engine=self.engine,
        )
        self.http = TestClient(TestServer(build_app(runtime)))
        await self.http.start_server()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.close()
        await self.store.close()

    def sample(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)

    def failures(self) -> dict[str, float]:
        return {s: self.sample("pagerd_engine_stage_failures_total", stage=s) for s in STAGES}

    async def readyz(self) -> tuple[int, dict]:
        resp = await self.http.get("/readyz")
        body = await resp.json()
        body.pop("channels", None)  # what each channel is and each heartbeat's state: not this test's
        body.pop("heartbeats", None)
        return resp.status, body

    async def scrape(self) -> dict[str, float]:
        resp = await self.http.get("/metrics")
        assert resp.status == 200
        return parse_metrics(await resp.text())

    def sql(self, statement: str) -> None:
        with sqlite3.connect(self.db) as c:
            c.execute(statement)


async def test_a_failing_stage_is_counted_and_retried_and_readiness_turns_503_after_the_bound(tmp_path):
    async with Node(tmp_path) as n:
        assert n.failures() == dict.fromkeys(STAGES, 0.0)  # every stage's series exists from the start
        assert await n.engine.tick() is True
        good = n.clock.now().timestamp()
        assert n.sample("pagerd_engine_last_tick_success_timestamp_seconds") == good

        n.sql("ALTER TABLE heartbeats RENAME TO heartbeats_away")  # what the heartbeats stage reads
        n.clock.advance(10)
        assert await n.engine.tick() is False
        assert n.failures() == {**dict.fromkeys(STAGES, 0.0), "heartbeats": 1.0}
        assert n.sample("pagerd_engine_last_tick_success_timestamp_seconds") == good
        assert await n.readyz() == (200, {"status": "ready"})  # 10 s without a good tick: within the bound

        n.clock.advance(BOUND - 10)
        assert await n.engine.tick() is False
        assert await n.readyz() == (200, {"status": "ready"})  # exactly the bound: still ready
        n.clock.advance(1)
        assert await n.engine.tick() is False
        assert n.failures()["heartbeats"] == 3.0
        assert n.sample("pagerd_engine_last_tick_success_timestamp_seconds") == good
        assert await n.readyz() == (
            503,
            {
                "status": "not ready",
                "problems": [f"engine stalled: no good tick for {BOUND + 1}s (paging.engine_stall_after: {BOUND}s)"],
            },
        )

        n.sql("ALTER TABLE heartbeats_away RENAME TO heartbeats")  # the fault is gone: the next tick is good
        n.clock.advance(1)
        assert await n.engine.tick() is True
        assert n.sample("pagerd_engine_last_tick_success_timestamp_seconds") == n.clock.now().timestamp()
        assert await n.readyz() == (200, {"status": "ready"})
        assert n.failures()["heartbeats"] == 3.0  # a counter: it keeps what happened


async def test_a_failing_stage_does_not_stop_the_stages_after_it(tmp_path):
    async with Node(tmp_path) as n:
        await open_incident(n.store, "web1/HTTP", n.clock.now())  # the route stage has one to route
        n.sql("ALTER TABLE escalations RENAME TO escalations_away")  # the stages before heartbeats read it
        assert await n.engine.tick() is False
        assert n.failures() == {
            "route": 1.0,
            "stop": 1.0,
            "steps": 1.0,
            "target": 1.0,
            "dispatch": 1.0,
            "heartbeats": 0.0,
            "retention": 0.0,
            "mail": 0.0,
            "outmail": 0.0,
            "tickets": 0.0,
            "targets": 0.0,
            "handover": 0.0,
        }
        # the heartbeats stage, after them, still runs: the Alertmanager heartbeat (timeout 5 min) checked
        # in once (it is armed) and then fell silent, so five minutes on its silence opens an incident
        await n.store.beat("alertmanager", "alertmanager", n.clock.now())
        n.clock.advance(timedelta(minutes=5, seconds=1))
        assert await n.engine.tick() is False
        assert [a.dedup_key for a in n.opened] == ["alertmanager"]
        assert n.failures()["route"] == 2.0


async def test_metrics_read_the_outbox_backlog_and_the_heartbeats_at_scrape_time(tmp_path):
    async with Node(tmp_path) as n:
        now = n.clock.now()
        m = await n.scrape()
        assert {k: v for k, v in m.items() if k.startswith("pagerd_outbox")} == {
            'pagerd_outbox_pending{channel="sms"}': 0,
            'pagerd_outbox_pending{channel="voice"}': 0,
            'pagerd_outbox_pending{channel="email"}': 0,
            "pagerd_outbox_oldest_pending_age_seconds": 0,
        }
        assert not any(k.startswith("pagerd_heartbeat_last_seen") for k in m)  # never checked in: no sample

        for i, (channel, due) in enumerate(
            (
                ("sms", now - timedelta(minutes=5)),
                ("sms", now - timedelta(minutes=1)),
                ("email", now),
                ("voice", now + timedelta(minutes=2)),
            )
        ):
            await n.store.queue_message(
                idem_key=f"m{i}",
                person="dewi",
                channel=channel,
                address=f"+3160000000{i}",
                kind="handover",
                subject="",
                body="x",
                due_at=due,
                now=now,
            )
        await n.store.beat("alertmanager", "alertmanager", now - timedelta(seconds=42))
        await n.store.beat("not-configured", "http", now)
        m = await n.scrape()
        assert m['pagerd_outbox_pending{channel="sms"}'] == 2
        assert m['pagerd_outbox_pending{channel="email"}'] == 1
        assert m['pagerd_outbox_pending{channel="voice"}'] == 0  # not due yet: no backlog
        assert m["pagerd_outbox_oldest_pending_age_seconds"] == 300
        assert m['pagerd_heartbeat_last_seen_timestamp_seconds{name="alertmanager"}'] == now.timestamp() - 42
        assert not any("not-configured" in k for k in m)

        n.clock.advance(60)  # the engine has not sent them: the backlog ages on the scrape
        assert (await n.scrape())["pagerd_outbox_oldest_pending_age_seconds"] == 360
        assert await n.engine.tick() is True  # dispatched (dry run)
        m = await n.scrape()
        assert m["pagerd_outbox_oldest_pending_age_seconds"] == 0
        assert sum(v for k, v in m.items() if k.startswith("pagerd_outbox_pending")) == 0


# -- the daemon process -------------------------------------------------------------------------------


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition -> {'name{labels}': value}."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


def scrape(p: PagerdProcess) -> dict[str, float]:
    with urllib.request.urlopen(p.url + "/metrics", timeout=5) as r:
        return parse_metrics(r.read().decode())


def readyz(p: PagerdProcess) -> tuple[int, dict]:
    """/readyz's status and body without its `channels` (every channel is simulated here: dry run) and
    its `heartbeats` (each heartbeat's state, never what makes pagerd ready)."""
    try:
        with urllib.request.urlopen(p.url + "/readyz", timeout=5) as r:
            status, body = r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        status, body = e.code, json.loads(e.read())
    body.pop("channels", None)
    body.pop("heartbeats", None)
    return status, body


def stall_config(tmp_path: Path, bound: str = "2s", simulate: str = "[]") -> Path:
    text = EXAMPLE_CONFIG.read_text()
    assert "  engine_stall_after: 30s\n" in text and "  simulate: []\n" in text
    path = tmp_path / "pagerd.yaml"
    path.write_text(
        text.replace("  engine_stall_after: 30s\n", f"  engine_stall_after: {bound}\n").replace(
            "  simulate: []\n", f"  simulate: {simulate}\n"
        )
    )
    return path


class NotifySocket:
    """The AF_UNIX datagram socket systemd listens on ($NOTIFY_SOCKET), bound by the test."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def env(self, watchdog_usec: int = 1_000_000) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": str(watchdog_usec)}

    def drain(self) -> list[str]:
        """What arrived so far (without waiting)."""
        got = []
        self.sock.setblocking(False)
        try:
            while True:
                got.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(0.2)
        self.messages += got
        return got

    def wait_for(self, text: str, count: int = 1, timeout: float = 20.0) -> None:
        seen, deadline = 0, time.monotonic() + timeout
        while seen < count:
            assert time.monotonic() < deadline, f"{count} x {text!r} not received in {timeout}s: {self.messages[-5:]}"
            try:
                m = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append(m)
            seen += text in m

    def close(self) -> None:
        self.sock.close()


def until(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        assert time.monotonic() < deadline, f"condition not met in {timeout}s; last value: {last!r}"
        time.sleep(interval)


def failures(p: PagerdProcess, stage: str) -> float:
    return scrape(p)[f'pagerd_engine_stage_failures_total{{stage="{stage}"}}']


def test_a_failing_stage_stops_good_ticks_readiness_and_keepalives_until_it_heals(tmp_path):
    ns = NotifySocket(tmp_path / "notify.sock")
    p = PagerdProcess(workdir=tmp_path / "d", config=stall_config(tmp_path), extra_env=ns.env())
    p.start()
    try:
        ns.wait_for("WATCHDOG=1", count=2)
        assert readyz(p) == (200, {"status": "ready"})
        with sqlite3.connect(p.db_path) as c:
            c.execute("ALTER TABLE heartbeats RENAME TO heartbeats_away")
        until(lambda: failures(p, "heartbeats") >= 1)
        ns.drain()  # keep-alives of the good ticks before the fault
        last_good = scrape(p)["pagerd_engine_last_tick_success_timestamp_seconds"]
        seen = failures(p, "heartbeats")
        until(lambda: failures(p, "heartbeats") >= seen + 3)  # three more ticks, each failing
        assert scrape(p)["pagerd_engine_last_tick_success_timestamp_seconds"] == last_good
        assert all(failures(p, s) == 0 for s in STAGES if s != "heartbeats")
        status, body = until(lambda: (r := readyz(p))[0] == 503 and r)
        assert body["status"] == "not ready" and len(body["problems"]) == 1
        assert body["problems"][0].startswith("engine stalled: no good tick for ")
        assert body["problems"][0].endswith("s (paging.engine_stall_after: 2s)")
        assert not [m for m in ns.drain() if "WATCHDOG=1" in m]  # not one keep-alive since the fault
        status, _ = p.request(
            "POST",
            "/api/v1/alerts/alertmanager",
            (ROOT / "tests/testdata/alertmanager/firing.json").read_bytes(),
            token=p.webhook_token,
        )
        assert status == 200  # webhooks are still taken and stored

        with sqlite3.connect(p.db_path) as c:
            c.execute("ALTER TABLE heartbeats_away RENAME TO heartbeats")
        ns.wait_for("WATCHDOG=1")
        until(lambda: readyz(p) == (200, {"status": "ready"}))
        assert scrape(p)["pagerd_engine_last_tick_success_timestamp_seconds"] > last_good
    finally:
        p.stop()
        ns.close()
    logged = [json.loads(line) for line in p.log_path.read_text().splitlines() if line.startswith("{")]
    failed = [e for e in logged if e["event"] == "engine_stage_failed"]
    assert failed and {e["stage"] for e in failed} == {"heartbeats"}
    assert "no such table: heartbeats" in failed[0]["exception"]
    assert not [e for e in logged if e["event"] == "engine_died"]


def test_an_engine_stuck_on_a_silent_mail_server_sends_no_keepalives(tmp_path):
    """The mail server accepts the connection and never greets: the dispatch stage waits (the SMTP
    timeout is a minute here), the tick does not end, no keep-alive goes out and /readyz turns 503."""
    mail = socket.create_server(("127.0.0.1", 0))
    mail.settimeout(20)
    ns = NotifySocket(tmp_path / "notify.sock")
    config = stall_config(tmp_path, simulate="[sms, voice]")  # e-mail through the silent server, the rest simulated
    text = config.read_text()
    assert "    from: pagerd@example.nl\n" in text
    config.write_text(text.replace("    from: pagerd@example.nl\n", "    from: pagerd@example.nl\n    timeout: 60s\n"))
    p = PagerdProcess(workdir=tmp_path / "d", config=config, extra_env={**ns.env(), **smtp_env(mail.getsockname()[1])})
    p.start()
    held = None
    try:
        ns.wait_for("WATCHDOG=1", count=2)
        status, _ = p.request(
            "POST",
            "/api/v1/alerts/alertmanager",
            (ROOT / "tests/testdata/alertmanager/firing.json").read_bytes(),
            token=p.webhook_token,
        )
        assert status == 200  # a new incident: its page goes out by SMS (dry run) and e-mail at once
        held, _ = mail.accept()  # the engine is inside its dispatch stage, waiting for the greeting
        ns.drain()
        status, body = until(lambda: (r := readyz(p))[0] == 503 and r)
        assert body["problems"] == [body["problems"][0]] and body["problems"][0].startswith("engine stalled")
        assert not [m for m in ns.drain() if "WATCHDOG=1" in m]  # not one keep-alive while stuck
        assert readyz(p)[0] == 503

        held.close()  # the mail server hangs up: the send fails (to be retried), the tick ends
        mail.close()
        ns.wait_for("WATCHDOG=1")
        until(lambda: readyz(p) == (200, {"status": "ready"}))
    finally:
        if held is not None:
            held.close()
        mail.close()
        p.stop()
        ns.close()


def test_a_failing_first_tick_ends_the_process_with_status_1(tmp_path):
    p = PagerdProcess(workdir=tmp_path / "d")
    p.start()
    assert p.stop() == 0  # the database now exists, migrated
    with sqlite3.connect(p.db_path) as c:
        c.execute("ALTER TABLE outbox RENAME TO outbox_away")  # the recovery before the first tick needs it
    proc = subprocess.Popen(
        [sys.executable, "-m", "pager", "serve", "-c", str(p.config)],
        cwd=ROOT,
        env=p.env(),
        stdout=open(p.log_path, "ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.wait(30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    logged = [json.loads(line) for line in p.log_path.read_text().splitlines() if line.startswith("{")]
    died = [e for e in logged if e["event"] == "engine_died"]
    assert len(died) == 1 and died[0]["level"] == "error"
    assert "no such table: outbox" in died[0]["error"] and "recover_sending" in died[0]["exception"]
    assert logged[-1]["event"] == "stopped" and logged[-1]["status"] == 1


def test_a_webhook_only_node_stays_ready_and_keeps_its_keepalives(tmp_path):
    ns = NotifySocket(tmp_path / "notify.sock")
    p = PagerdProcess(
        workdir=tmp_path / "d", config=stall_config(tmp_path), extra_env={**ns.env(), "PAGERD_PAGING_ENGINE": "false"}
    )
    p.start()
    try:
        ns.wait_for("WATCHDOG=1", count=3)  # one a second, after a store ping: more than the 2 s stall bound
        assert readyz(p) == (200, {"status": "ready"})
        assert not [k for k in scrape(p) if k.startswith("pagerd_engine_")]  # no engine, no engine series
    finally:
        p.stop()
        ns.close()


# -- under a real systemd ------------------------------------------------------------------------------


def _cgroup2_child() -> Path | None:
    """A new cgroup (v2) under this process's own, for a systemd user manager to run in; None if none."""
    mount = next(
        (line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if line.split()[2] == "cgroup2"),
        None,
    )
    own = next(
        (line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::")), None
    )
    if mount is None or own is None:
        return None
    path = Path(mount + own.rstrip("/")) / f"pagerd-test-{os.getpid()}"
    try:
        path.mkdir()
    except OSError:
        return None
    return path


def _unavailable(why: str):
    """No systemd can supervise pagerd here: in CI (CI=true) that fails the test, elsewhere it skips."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why)
    pytest.skip(why)


def _systemd_or_skip() -> tuple[str, Path]:
    systemd = next((p for p in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd") if os.path.exists(p)), None)
    missing = [
        name
        for name, found in (
            ("systemd", systemd),
            ("systemd-run", shutil.which("systemd-run")),
            ("systemctl", shutil.which("systemctl")),
            ("unshare", shutil.which("unshare")),
        )
        if not found
    ]
    if missing:
        _unavailable(f"no systemd to supervise pagerd here: {', '.join(missing)} not installed")
    if os.geteuid() != 0:
        _unavailable("starting a systemd manager of the test's own needs root (a private mount namespace)")
    cgroup = _cgroup2_child()
    if cgroup is None:
        _unavailable("no writable cgroup v2 hierarchy for a systemd manager")
    return systemd, cgroup


def test_under_systemd_the_watchdog_restarts_a_pagerd_whose_loop_is_blocked(tmp_path):
    """A real systemd (the user manager, `systemd --user`) supervises pagerd as a Type=notify service with
    WatchdogSec=3. Where PID 1 is not systemd, the manager refuses to start unless /run/systemd/system
    exists; it gets one in a private mount namespace (nothing outside the test sees it), in a cgroup of
    its own. SIGSTOP freezes pagerd (its loop is blocked): the keep-alives stop, systemd kills it and
    starts a new one, which serves."""
    systemd, cgroup = _systemd_or_skip()
    runtime_dir = tmp_path / "xdg"
    runtime_dir.mkdir(mode=0o700)
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime_dir),
        "SYSTEMD_LOG_TARGET": "console",
        "SYSTEMD_LOG_LEVEL": "info",
    }
    manager_log = tmp_path / "systemd.log"
    boot = (
        f"echo $$ > {cgroup}/cgroup.procs && "
        "{ [ -d /run/systemd/system ] || { mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && "
        "mkdir /run/systemd/system; }; } && "
        f"exec {systemd} --user --log-target=console --log-level=info"
    )
    manager = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", boot],
        env=env,
        stdout=open(manager_log, "wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    unit = f"pagerd-watchdog-{os.getpid()}"
    p = PagerdProcess(workdir=tmp_path / "d")
    p.workdir.mkdir()
    ended = tmp_path / "ended"  # how each run of the service ended, as systemd tells ExecStopPost
    report = tmp_path / "report-end.sh"
    report.write_text(f'#!/bin/sh\necho "$SERVICE_RESULT $EXIT_CODE $EXIT_STATUS" >> {ended}\n')
    frozen = None

    def show(*props: str) -> dict[str, str]:
        r = subprocess.run(
            ["systemctl", "--user", "show", unit, *(f"-p{x}" for x in props)],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)

    try:
        until(lambda: manager.poll() is not None or (runtime_dir / "systemd" / "private").exists(), timeout=15)
        if manager.poll() is not None:
            _unavailable(f"systemd --user did not start here: {manager_log.read_text()[-500:]}")
        wanted = {
            k: v for k, v in p.env().items() if k.startswith("PAGERD_") or k in ("PYTHONPATH", "PYTHONUNBUFFERED")
        }
        r = subprocess.run(
            [
                "systemd-run",
                "--user",
                f"--unit={unit}",
                "-pType=notify",
                "-pNotifyAccess=main",
                "-pWatchdogSec=3",
                "-pRestart=on-failure",
                "-pRestartSec=1",
                "-pTimeoutAbortSec=2",
                "-pLimitCORE=0",
                f"-pExecStopPost=/bin/sh {report}",
                f"-pWorkingDirectory={ROOT}",
                f"-pStandardOutput=append:{p.log_path}",
                f"-pStandardError=append:{p.log_path}",
                *(f"--setenv={k}={v}" for k, v in wanted.items()),
                sys.executable,
                "-m",
                "pager",
                "serve",
                "-c",
                str(p.config),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 0, r.stderr
        first = until(lambda: (s := show("ActiveState", "MainPID"))["ActiveState"] == "active" and s["MainPID"])
        assert readyz(p) == (200, {"status": "ready"})  # Type=notify: active once pagerd sent READY=1

        frozen = int(first)
        os.kill(frozen, signal.SIGSTOP)  # the event loop is blocked: no tick, no keep-alive
        restarted = until(
            lambda: (
                (s := show("NRestarts", "MainPID", "ActiveState"))["NRestarts"] != "0"
                and s["MainPID"] not in ("0", first)
                and s["ActiveState"] == "active"
                and s
            ),
            timeout=60,
        )
        assert until(lambda: readyz(p) == (200, {"status": "ready"}))
        assert int(restarted["NRestarts"]) >= 1
        assert ended.read_text().splitlines()[0] == "watchdog killed ABRT"  # WatchdogSignal= (SIGABRT) ended it
    finally:
        subprocess.run(["systemctl", "--user", "stop", unit], env=env, capture_output=True, timeout=30)
        if frozen is not None:
            try:
                os.kill(frozen, signal.SIGKILL)  # if systemd did not (a failed test)
            except ProcessLookupError:
                pass
        manager.terminate()
        try:
            manager.wait(15)
        except subprocess.TimeoutExpired:
            manager.kill()
            manager.wait(5)
        for d in sorted((c for c in cgroup.rglob("*") if c.is_dir()), key=lambda c: -len(c.parts)) + [cgroup]:
            try:
                d.rmdir()
            except OSError:
                pass
