"""The shipped haproxy config (deploy/haproxy/pagerd.cfg) run for real on loopback, in front of pagerd nodes:
by tests/integration/test_haproxy.py and by `make bench-postgres` (bench/postgres.py).

The file is used as it is, with only what a machine-local run must change: the frontend on a loopback port,
one `server` line per node (the shipped node1, node2 names, loopback ports), no syslog (none runs here)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_BIN = "/usr/sbin/haproxy"
SHIPPED = ROOT / "deploy" / "haproxy" / "pagerd.cfg"


def local_config(listen_port: int, node_ports: list[int], text: str | None = None) -> str:
    """The shipped config with the frontend on 127.0.0.1:listen_port and the nodes on 127.0.0.1:node_ports
    (node1, node2, ...). Each change must apply, so a change of the shipped file that breaks it fails here."""
    text = SHIPPED.read_text() if text is None else text
    servers = "".join(f"    server node{i + 1} 127.0.0.1:{port}\n" for i, port in enumerate(node_ports))
    subs = [
        (r"(?m)^    log /dev/log local0\n", ""),
        (r"(?m)^    log global\n", ""),
        (r"(?m)^    option httplog\n", ""),
        (r"(?m)^    bind :8080$", f"    bind 127.0.0.1:{listen_port}"),
        (r"(?m)^    server node1 \S+\n    server node2 \S+\n", servers),
    ]
    for pattern, replacement in subs:
        text, n = re.subn(pattern, replacement, text)
        assert n == 1, f"deploy/haproxy/pagerd.cfg no longer has {pattern!r}"
    return text


class Haproxy:
    """A real haproxy in the foreground (-db) on the local config, in its own directory."""

    def __init__(self, workdir: Path, listen_port: int, node_ports: list[int]) -> None:
        self.workdir = workdir
        self.port = listen_port
        self.config = workdir / "haproxy.cfg"
        self.log_path = workdir / "haproxy.log"
        self.proc: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(local_config(listen_port, node_ports))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run([HAPROXY_BIN, "-c", "-f", str(self.config)], capture_output=True, text=True, timeout=30)

    def start(self, prefix: list[str] | None = None) -> Haproxy:
        """Start it (argv `prefix` first, e.g. taskset) and wait until its frontend accepts connections."""
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*(prefix or []), HAPROXY_BIN, "-db", "-f", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self.proc.returncode}: {self.log_path.read_text()[-800:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("haproxy did not listen within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
