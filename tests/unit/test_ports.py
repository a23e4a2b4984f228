"""The tests' loopback ports (tests/harness/ports.py): each test process its own block, below the kernel's
ephemeral range, never the same port twice while another is free, never a port something is bound to."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import ports
from tests.harness.ports import PortBlock

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("worker", "index"),
    [("gw0", 0), ("gw1", 1), ("gw12", 12), ("", 0), ("master", 0), ("gw", 0), ("gw1x", 0), ("xgw1", 0)],
)
def test_the_worker_index_comes_from_the_xdist_worker_id(worker: str, index: int) -> None:
    assert ports.worker_index(worker) == index


def test_the_worker_index_reads_pytest_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    assert ports.worker_index() == 2
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert ports.worker_index() == 0


def test_the_ephemeral_range_is_read_from_the_kernel_with_linuxs_default_otherwise(tmp_path: Path) -> None:
    (tmp_path / "range").write_text("40000\t60999\n")
    assert ports.ephemeral_low(tmp_path / "range") == 40000
    (tmp_path / "bad").write_text("")
    assert ports.ephemeral_low(tmp_path / "bad") == 32768
    assert ports.ephemeral_low(tmp_path / "missing") == 32768


def test_blocks_lie_below_the_ephemeral_range_and_do_not_overlap(tmp_path: Path) -> None:
    end = ports.ephemeral_low()
    blocks = [PortBlock(preferred=0, lock_dir=tmp_path) for _ in range(3)]
    try:
        ranges = [b.ports() for b in blocks]
        assert all(len(r) == ports.BLOCK_SIZE and r.start >= ports.FIRST_PORT and r.stop <= end for r in ranges)
        assert len({p for r in ranges for p in r}) == 3 * ports.BLOCK_SIZE  # pairwise disjoint
        # each claims the first block not claimed yet
        assert [b.index for b in blocks] == [0, 1, 2]
    finally:
        for b in blocks:
            b.close()


def test_a_worker_prefers_the_block_of_its_number_and_a_closed_block_is_free_again(tmp_path: Path) -> None:
    a = PortBlock(preferred=4, lock_dir=tmp_path)
    b = PortBlock(preferred=4, lock_dir=tmp_path)  # taken: the next one
    assert (a.index, b.index) == (4, 5)
    a.close()
    c = PortBlock(preferred=4, lock_dir=tmp_path)
    assert c.index == 4
    b.close()
    c.close()


def test_the_preference_wraps_round_the_blocks_there_are(tmp_path: Path) -> None:
    b = PortBlock(preferred=7, lock_dir=tmp_path, first=20000, size=100, end=20300)  # 3 blocks
    assert b.count == 3 and b.index == 1 and b.ports() == range(20100, 20200)
    b.close()


def test_ports_come_in_turn_and_skip_one_in_use() -> None:
    # a block of the machine's own (claimed in the shared lock folder, so no other test process uses its
    # ports while this test binds one)
    block = PortBlock(preferred=ports.worker_index())
    try:
        assert block.index is not None
        first = block.next()
        assert first in block.ports()
        # something else listens on the port that would come next: it is skipped
        following = next(p for p in range(first + 1, block.ports().stop) if ports.bindable(p))
        with socket.create_server(("127.0.0.1", following)):
            second = block.next()
        assert second in block.ports() and second > following  # in turn: nothing handed out twice
        got = [block.next() for _ in range(30)]
        assert len(set(got)) == 30 and set(got) <= set(block.ports()) and first not in got and second not in got
    finally:
        block.close()


def test_without_a_block_or_with_every_port_in_use_the_kernel_picks(tmp_path: Path) -> None:
    none = PortBlock(preferred=0, lock_dir=tmp_path, first=20000, size=500, end=20100)  # no room for one
    assert none.count == 0 and none.start is None and len(none.ports()) == 0
    port = none.next()
    assert port >= ports.ephemeral_low()
    # a block of one port, which something listens on
    with socket.create_server(("127.0.0.1", 0)) as busy:
        taken = busy.getsockname()[1]
        full = PortBlock(preferred=0, lock_dir=tmp_path, first=taken, size=1, end=taken + 1)
        try:
            assert full.ports() == range(taken, taken + 1)
            assert full.next() != taken
        finally:
            full.close()


def test_a_handed_out_port_can_be_listened_on() -> None:
    port = ports.free_port()
    assert ports.FIRST_PORT <= port < ports.ephemeral_low()
    with socket.create_server(("127.0.0.1", port)):
        pass
    assert ports.free_port() != port


PROBE = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from tests.harness import ports
got = [ports.free_port() for _ in range(5)]
print(json.dumps({"index": ports.own_block().index, "ports": got}), flush=True)
sys.stdin.read()  # hold the block until told to end
"""


def _probe(worker: str) -> tuple[subprocess.Popen, dict]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    if worker:
        env["PYTEST_XDIST_WORKER"] = worker
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(ROOT)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"probe for {worker!r} printed nothing"
    return proc, json.loads(line)


def test_concurrent_test_processes_get_disjoint_ports_even_with_the_same_worker_id() -> None:
    """Workers gw0 and gw1, and a second process that says gw0 too (another run on the same machine):
    each its own block, no port shared."""
    procs = []
    try:
        seen = []
        for worker in ("gw0", "gw1", "gw0"):
            proc, got = _probe(worker)
            procs.append(proc)
            seen.append(got)
        indexes = [s["index"] for s in seen]
        assert None not in indexes and len(set(indexes)) == 3, seen
        all_ports = [p for s in seen for p in s["ports"]]
        assert len(set(all_ports)) == len(all_ports), seen
    finally:
        for proc in procs:
            proc.communicate(input="", timeout=10)
