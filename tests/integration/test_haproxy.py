"""The shipped load balancer config (deploy/haproxy/pagerd.cfg), as README's "PostgreSQL" two-node guide sets it
up: haproxy takes it, and run for real on loopback in front of two pagerd nodes it spreads webhooks over both
and keeps answering every one when a node stops (the /readyz check, the retry on a refused connection).

The nodes run on SQLite here, each its own database: what is checked is the proxy's part (which node gets a
request), not the sharing of one database (tests/integration/test_postgres_nodes.py)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import urllib.request

import pytest

from tests.conftest import require_binary
from tests.harness.haproxy import HAPROXY_BIN, SHIPPED, Haproxy, local_config
from tests.harness.pagerd import ROOT, PagerdProcess
from tests.harness.ports import free_port

pytestmark = pytest.mark.peer("haproxy")

FIRING = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())


def _webhook(url: str, token: str, n: int) -> int:
    d = json.loads(json.dumps(FIRING))
    d["groupKey"] = f'{{}}:{{alertname="Proxy{n}"}}'
    req = urllib.request.Request(
        url + "/api/v1/alerts/alertmanager",
        data=json.dumps(d).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def test_haproxy_accepts_the_shipped_config() -> None:
    haproxy = require_binary(HAPROXY_BIN)
    result = subprocess.run([haproxy, "-c", "-f", str(SHIPPED)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_local_config_keeps_everything_but_the_addresses() -> None:
    text = local_config(18080, [18081, 18082])
    assert "bind 127.0.0.1:18080" in text
    assert re.findall(r"(?m)^    server (\S+) (\S+)", text) == [
        ("node1", "127.0.0.1:18081"),
        ("node2", "127.0.0.1:18082"),
    ]
    for kept in (
        "balance roundrobin",
        "option httpchk GET /readyz",
        "option http-buffer-request",
        "retry-on conn-failure",
    ):
        assert kept in text
    with pytest.raises(AssertionError, match="no longer has"):
        local_config(18080, [18081], text=SHIPPED.read_text().replace("bind :8080", "bind :80"))


def test_two_nodes_behind_the_shipped_config_share_webhooks_and_one_can_stop(tmp_path) -> None:
    require_binary(HAPROXY_BIN)
    nodes = [PagerdProcess(workdir=tmp_path / f"node{i}").start() for i in (1, 2)]
    proxy = Haproxy(tmp_path / "haproxy", free_port(), [p.port for p in nodes])
    try:
        assert proxy.check().returncode == 0
        proxy.start()
        token = nodes[0].webhook_token
        assert [_webhook(proxy.url, token, n) for n in range(6)] == [200] * 6
        # round-robin: both nodes stored some of them
        counts = [len(p.incidents()) for p in nodes]
        assert sum(counts) == 6 and all(c > 0 for c in counts), counts
        nodes[1].stop()
        # at once (the refused connection is retried on node1) and after the check marks node2 down
        assert [_webhook(proxy.url, token, n) for n in range(6, 16)] == [200] * 10
        assert len(nodes[0].incidents()) == counts[0] + 10
    finally:
        proxy.stop()
        for p in nodes:
            p.stop()


def _dropping_node() -> tuple[socket.socket, threading.Thread]:
    """A node killed while requests are on their way: it takes each connection, reads the request and closes
    it unanswered (what the kernel does for a process that dies after accepting). Answers nothing else, so
    the health check marks it down after 2 s; the requests below are sent before that."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", free_port()))
    listener.listen(64)
    listener.settimeout(0.2)

    def serve() -> None:
        while listener.fileno() != -1:
            try:
                conn, _ = listener.accept()
            except OSError:  # the timeout, or closed by the test
                continue
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_a_webhook_a_dying_node_drops_unanswered_goes_to_the_other(tmp_path) -> None:
    require_binary(HAPROXY_BIN)
    node = PagerdProcess(workdir=tmp_path / "node1").start()
    dropping, thread = _dropping_node()
    proxy = Haproxy(tmp_path / "haproxy", free_port(), [node.port, dropping.getsockname()[1]])
    try:
        proxy.start()
        # round-robin sends every other one to the dropping node first; each is sent again to node1
        assert [_webhook(proxy.url, node.webhook_token, n) for n in range(6)] == [200] * 6
        assert len(node.incidents()) == 6
    finally:
        proxy.stop()
        dropping.close()
        thread.join(5)
        node.stop()
