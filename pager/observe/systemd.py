"""systemd notify protocol (Type=notify readiness, WatchdogSec keep-alives), without a dependency."""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send `message` (e.g. READY=1) to $NOTIFY_SOCKET; False when not under systemd, or when the
    listener's queue is full (the send never blocks the event loop; a lost keep-alive is followed by
    the next good tick's)."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.connect(addr)
            s.sendall(message.encode())
        return True
    except OSError:
        return False


def watchdog_interval() -> float | None:
    """Half the watchdog timeout in seconds, when systemd asked this process for keep-alives."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None


class Watchdog:
    """The keep-alives of systemd's WatchdogSec. Nothing sends them on a timer: `kick()` is called after
    each good tick of the engine, so an engine that hangs or keeps failing (or a blocked event loop)
    stops them, and systemd kills and restarts pagerd."""

    def __init__(self) -> None:
        self.interval = watchdog_interval()  # None: no watchdog asked for

    def kick(self) -> None:
        if self.interval is not None:
            notify("WATCHDOG=1")
