"""Ceiling for the mail intake benchmark: a bare aiosmtpd LMTP server whose handler writes each message's
bytes to a file of its own and fsyncs it before answering 250. No parsing, no store, no recipient check.

    .venv/bin/python bench/baseline_lmtp.py --listen 127.0.0.1:PORT --dir FOLDER

What pagerd adds over this (the store's durable group commit in SQLite, the Message-ID and duplicate check,
metrics, logging, and the engine filing each mail as a ticket on the same core) is what bench/desk.py measures.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import Envelope


class Handler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0

    async def handle_DATA(self, server: LMTP, session: object, envelope: Envelope) -> str:
        self.n += 1
        path = self.folder / f"{self.n:08d}.eml"
        data = envelope.original_content or b""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return "250 2.0.0 OK"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    host, _, port = a.listen.rpartition(":")
    os.makedirs(a.dir, exist_ok=True)
    folder = Path(a.dir)
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = Handler(folder)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: LMTP(handler, data_size_limit=26214400, enable_SMTPUTF8=True, hostname="baseline"),
        host,
        int(port),
    )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"listening on {a.listen}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
