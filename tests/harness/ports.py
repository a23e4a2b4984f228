"""Loopback ports for the peers the tests start: each test process (each pytest-xdist worker) its own block.

A port found by binding port 0 and closing the socket is free only until someone else binds it, and the
peer binds it a moment later: two workers could be handed the same port, or the kernel could give it to an
outgoing connection as its source port in between. So the ports come from blocks of BLOCK_SIZE below the
kernel's ephemeral range (which the kernel never hands out by itself). A test process claims one block by a
lock file (an flock held for the process's life, released by the kernel when it ends), so no other test
process on this machine hands out the same ports at the same time: worker `gwN` (PYTEST_XDIST_WORKER) tries
block N first, a run without xdist block 0, and a taken block sends it to the next free one. Within its
block a process hands out each port in turn, skipping any that something is bound to. With every block
taken (or no room below the ephemeral range) it falls back to a port the kernel picks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import tempfile
from pathlib import Path

FIRST_PORT = 20000  # blocks start here; well-known services sit lower, the ephemeral range higher
BLOCK_SIZE = 500
LOCK_DIR = Path(tempfile.gettempdir()) / "pagerd-test-ports"
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def worker_index(worker: str | None = None) -> int:
    """The xdist worker's number (`gw3` -> 3) from PYTEST_XDIST_WORKER; 0 without xdist."""
    if worker is None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    m = re.fullmatch(r"gw(\d+)", worker)
    return int(m.group(1)) if m else 0


def ephemeral_low(path: Path = EPHEMERAL_RANGE) -> int:
    """The first port of the kernel's ephemeral range (Linux's default is 32768)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def kernel_port() -> int:
    """A port the kernel picks (free now, not reserved)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bindable(port: int) -> bool:
    """Nothing is bound to 127.0.0.1:PORT (nor the wildcard address), nor lingers on it (TIME_WAIT):
    tried without SO_REUSEADDR, which is stricter than the peers that set it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortBlock:
    """The ports of one block, claimed by a lock file; `next()` hands them out in turn."""

    def __init__(
        self,
        preferred: int = 0,
        lock_dir: Path = LOCK_DIR,
        first: int = FIRST_PORT,
        size: int = BLOCK_SIZE,
        end: int | None = None,
    ) -> None:
        self.size = size
        self.first = first
        end = ephemeral_low() if end is None else end  # the blocks stay below this port
        self.count = max(0, (end - first) // size)
        self.index: int | None = None
        self._lock: int | None = None
        self._next = 0
        for i in range(self.count):
            index = (preferred + i) % self.count
            fd = _try_lock(lock_dir, index)
            if fd is not None:
                self.index, self._lock = index, fd
                break

    @property
    def start(self) -> int | None:
        """The block's first port; None when no block could be claimed."""
        return None if self.index is None else self.first + self.index * self.size

    def ports(self) -> range:
        start = self.start
        return range(0) if start is None else range(start, start + self.size)

    def next(self) -> int:
        """The block's next port that nothing is bound to, in turn (wrapping round); a kernel-picked port
        when there is no block or every port in it is in use."""
        start = self.start
        if start is None:
            return kernel_port()
        for _ in range(self.size):
            port = start + self._next
            self._next = (self._next + 1) % self.size
            if bindable(port):
                return port
        return kernel_port()

    def close(self) -> None:
        """Give the block back (a process's own block is given back when the process ends)."""
        if self._lock is not None:
            os.close(self._lock)  # closing the file releases the flock
            self._lock = None
            self.index = None


def _try_lock(lock_dir: Path, index: int) -> int | None:
    lock_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        lock_dir.chmod(0o1777)  # any user's test run can claim a block (sticky: nobody removes another's file)
    try:
        fd = os.open(lock_dir / f"block-{index}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


_block: PortBlock | None = None
_block_pid: int | None = None


def own_block() -> PortBlock:
    """This process's block, claimed at its first use (a forked child claims one of its own)."""
    global _block, _block_pid
    if _block is None or _block_pid != os.getpid():
        _block, _block_pid = PortBlock(preferred=worker_index()), os.getpid()
    return _block


def free_port() -> int:
    """A loopback port for a peer to listen on: from this process's own block, not used by another test
    process, free now."""
    return own_block().next()
