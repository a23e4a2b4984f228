"""systemd notify protocol (Type=notify readiness, WatchdogSec keep-alives), without a dependency."""
from __future__ import annotations

import asyncio
import os
import socket


def notify(message: str) -> bool:
    """Send `message` (e.g. READY=1) to $NOTIFY_SOCKET; False when not under systemd."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
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


async def watchdog_loop(interval: float) -> None:
    """Send WATCHDOG=1 from the event loop itself: a hung loop stops the keep-alives and gets restarted."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
