"""The daemon's life: systemd readiness and watchdog, SIGHUP reload, SIGTERM drain, logs without secrets."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.harness.pagerd import EXAMPLE_CONFIG, ROOT, PagerdProcess

FIRING = (ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_bytes()


def _metric(p: PagerdProcess, name: str) -> float:
    text = urllib.request.urlopen(p.url + "/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze missing")
        pytest.skip("systemd-analyze missing")
    unit = (ROOT / "deploy" / "systemd" / "pagerd.service").read_text()
    for key in (
        "Type=notify",
        "WatchdogSec=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=pagerd",
        "User=pagerd",
        "\nEnvironmentFile=/etc/pagerd/pagerd.env\n",
        "#LoadCredential=admin_token:",
        "admin_token_file: ${CREDENTIALS_DIRECTORY}/admin_token",
    ):
        assert key in unit
    assert "EnvironmentFile=-" not in unit  # required: no start on the example's missing secrets
    # the database's path is in the config, which an admin's pagerd commands read too, not in the unit's environment
    assert "PAGERD_DB" not in unit and "storage.sqlite.path: /var/lib/pagerd/pagerd.db" in unit
    # verify checks that ExecStart exists: point it at this checkout's pagerd
    local = tmp_path / "pagerd.service"
    local.write_text(unit.replace("/opt/pagerd/bin/pagerd", str(Path(os.sys.executable).parent / "pagerd")))
    r = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ""


def test_ready_and_watchdog_notifications(tmp_path: Path) -> None:
    # the keep-alives follow the engine's good ticks (at least one a second; here a tick every 0.15 s,
    # half of WATCHDOG_USEC); tests/integration/test_engine_supervision.py stops them
    sock_path = str(tmp_path / "notify.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(sock_path)
    srv.settimeout(0.5)
    msgs: list[str] = []
    p = PagerdProcess(workdir=tmp_path / "d", extra_env={"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "300000"})
    p.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in msgs) < 3:
            try:
                msgs.append(srv.recv(4096).decode())
            except TimeoutError:
                pass
        assert any(m.startswith("READY=1") for m in msgs), msgs
        assert sum("WATCHDOG=1" in m for m in msgs) >= 3, msgs
        p.stop()
        try:
            while True:
                msgs.append(srv.recv(4096).decode())
        except (TimeoutError, OSError):
            pass
        assert any("STOPPING=1" in m for m in msgs), msgs
    finally:
        p.kill()
        srv.close()


def test_sighup_reload_keeps_running_config_on_error(tmp_path: Path) -> None:
    cfg = tmp_path / "pagerd.yaml"
    cfg.write_text(EXAMPLE_CONFIG.read_text())
    p = PagerdProcess(workdir=tmp_path / "d", config=cfg).start()
    try:
        assert _metric(p, "pagerd_config_last_reload_successful") == 1
        cfg.write_text(EXAMPLE_CONFIG.read_text() + "\nbogus_key: 1\n")
        p.proc.send_signal(signal.SIGHUP)
        p.wait_for(lambda q: _metric(q, "pagerd_config_last_reload_successful") == 0, timeout=10)
        status, _ = p.request("POST", "/api/v1/alerts/alertmanager", FIRING, token=p.webhook_token)
        assert status == 200  # still serving on the old config
        assert "config_reload_failed" in p.log_path.read_text()
        # a good new config is taken: here a changed reopen window, and a new admin token
        cfg.write_text(EXAMPLE_CONFIG.read_text().replace("${PAGERD_ADMIN_TOKEN}", "rotated-admin-token"))
        p.proc.send_signal(signal.SIGHUP)
        p.wait_for(lambda q: _metric(q, "pagerd_config_last_reload_successful") == 1, timeout=10)
        assert p.request("GET", "/api/v1/incidents", token=p.admin_token)[0] == 401
        assert p.request("GET", "/api/v1/incidents", token="rotated-admin-token")[0] == 200
    finally:
        p.stop()


def test_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    p = PagerdProcess(workdir=tmp_path / "d").start()
    results: list[int] = []

    def fire(i: int) -> None:
        d = json.loads(FIRING)
        d["groupKey"] = f"drain-{i}"
        try:
            results.append(
                p.request("POST", "/api/v1/alerts/alertmanager", json.dumps(d).encode(), token=p.webhook_token)[0]
            )
        except OSError:
            results.append(-1)  # refused after the listener closed: never answered, never claimed stored

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    time.sleep(0.02)
    p.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(20)
    assert p.proc.wait(20) == 0
    log = p.log_path.read_text()
    assert '"event": "stopped"' in log
    ok = results.count(200)
    assert set(results) <= {200, -1}
    p.start()
    stored = len(p.incidents(limit="1000"))
    p.stop()
    assert stored >= ok  # every answered request is stored (some may be stored though their answer was lost)


def test_logs_are_json_and_hold_no_secrets(tmp_path: Path) -> None:
    p = PagerdProcess(
        workdir=tmp_path / "d",
        webhook_token="webhook-secret-5f3a9",
        admin_token="admin-secret-77c1e",
        signing_key="signing-secret-0c4d2-0123456789abcdef",
        extra_env={"PAGERD_LOG_LEVEL": "debug"},
    )  # alerts_ingested is a debug line
    p.start()
    try:
        p.request("POST", "/api/v1/alerts/alertmanager", FIRING, token=p.webhook_token)
        p.request("POST", "/api/v1/alerts/alertmanager", FIRING, token="wrong-token-123")
        p.request("GET", "/api/v1/incidents", token=p.admin_token)
        p.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
    finally:
        p.stop()
    log = p.log_path.read_text()
    for line in log.splitlines():
        if line.strip():
            json.loads(line)
    assert "webhook-secret-5f3a9" not in log and "admin-secret-77c1e" not in log and "signing-secret-0c4d2" not in log
    assert "alerts_ingested" in log and "request_id" in log


def test_python_m_pager_is_the_cli() -> None:
    import sys

    r = subprocess.run([sys.executable, "-m", "pager", "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("pagerd ")
    exe = Path(sys.executable).parent / "pagerd"
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("pagerd ")
