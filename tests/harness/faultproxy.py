"""A fault-injecting proxy on 127.0.0.1, in front of a real peer (Prism serving Twilio's API, an SMTP server).

    proxy = FaultProxy(prism.url, http=True).start()        # pagerd's Twilio api base: proxy.url
    proxy.plan(Fault.status(503), Fault.status(429, retry_after=120), Fault.hang(), Fault.reset(),
               path="/Messages.json")                       # the next four SMS requests fail, in order
    proxy.down()  ...  proxy.up()                            # a provider down for minutes: every connection reset
    proxy.forwarded(path="/Messages.json")                   # what reached the peer (and its answer)

    smtp = FaultProxy(f"127.0.0.1:{controller.port}").start()   # plain TCP (SMTP): faults per connection
    smtp.plan(Fault.smtp(421), Fault.hang(), Fault.reset())

Faults, each taken by one request (HTTP, optionally only by requests whose path ends in `path`) or one
connection (TCP), first planned first taken:
- `Fault.status(code, retry_after=None)`: HTTP only; the proxy answers `code` itself (with `Retry-After`);
- `Fault.smtp(code)`: TCP only; the proxy greets with an SMTP reply `code` (421: try later) and closes;
- `Fault.hang()`: the connection is accepted (an HTTP request read) and never answered;
- `Fault.reset()`: the connection is accepted (an HTTP request read) and reset (TCP RST).
Nothing a fault takes reaches the peer. `down()` resets every connection at once until `up()`.
An HTTP request that takes no fault is forwarded on a connection of its own and recorded with the peer's
answer; a TCP connection that takes no fault is piped both ways. The proxy runs its own event loop in a
thread of the test process, so it works beside a daemon in a subprocess and beside synchronous tests.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Fault:
    kind: str  # status | smtp | hang | reset
    code: int = 0
    retry_after: int | None = None
    path: str | None = None  # HTTP: only requests whose path (without query) ends with this

    @staticmethod
    def status(code: int, retry_after: int | None = None) -> Fault:
        return Fault("status", code, retry_after)

    @staticmethod
    def smtp(code: int = 421) -> Fault:
        return Fault("smtp", code)

    @staticmethod
    def hang() -> Fault:
        return Fault("hang")

    @staticmethod
    def reset() -> Fault:
        return Fault("reset")


_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FaultProxy:
    def __init__(self, upstream: str, *, http: bool = False) -> None:
        parts = urlsplit(upstream if "//" in upstream else f"//{upstream}")
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.http = http
        self.port = 0
        self._faults: list[Fault] = []
        self._down = False
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []  # HTTP requests forwarded to the peer, with its answer
        self._taken: list[dict[str, Any]] = []  # faults taken, in order
        self._connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._hung: set[asyncio.StreamWriter] = set()

    # -- control (from the test's thread) -----------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for w in list(self._hung):
                w.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def plan(self, *faults: Fault, path: str | None = None) -> None:
        """Queue faults for the next requests (HTTP: those whose path ends with `path`) or connections."""
        with self._lock:
            self._faults += [Fault(f.kind, f.code, f.retry_after, path) for f in faults]

    def planned(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def down(self) -> None:
        with self._lock:
            self._down = True

    def up(self) -> None:
        with self._lock:
            self._down = False

    def forwarded(self, path: str | None = None) -> list[dict[str, Any]]:
        """HTTP requests that reached the peer: method, path, form (parsed body), query, status (the peer's)."""
        with self._lock:
            return [r for r in self._records if path is None or r["path"].endswith(path)]

    def taken(self) -> list[dict[str, Any]]:
        """The faults taken so far: kind, code, path, down (taken because the proxy was down), form (HTTP)."""
        with self._lock:
            return list(self._taken)

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    # -- the proxy (in its own loop) ---------------------------------------------------------------------
    def _take(self, path: str | None, form: dict | None = None) -> Fault | None:
        with self._lock:
            if self._down:
                fault = Fault("reset")
            else:
                fault = next(
                    (f for f in self._faults if f.path is None or (path is not None and path.endswith(f.path))), None
                )
                if fault is not None:
                    self._faults.remove(fault)
            if fault is not None:
                self._taken.append(
                    {"kind": fault.kind, "code": fault.code, "path": path, "down": self._down, "form": form or {}}
                )
            return fault

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._connections += 1
        try:
            if self.http:
                await self._serve_http(reader, writer)
            else:
                await self._serve_tcp(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            if writer not in self._hung:
                writer.close()

    async def _apply(self, fault: Fault, writer: asyncio.StreamWriter) -> None:
        if fault.kind == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:  # SO_LINGER 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        elif fault.kind == "hang":
            self._hung.add(writer)  # kept open, never answered; closed when the client gives up or at stop()
        elif fault.kind == "smtp":
            writer.write(f"{fault.code} 4.3.2 service not available, try again later\r\n".encode())
            await writer.drain()
        elif fault.kind == "status":
            body = (
                f'{{"code": {20000 + fault.code}, "message": "injected {fault.code}", "status": {fault.code}}}'
            ).encode()
            head = [
                f"HTTP/1.1 {fault.code} {_REASONS.get(fault.code, 'Error')}",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                "Connection: close",
            ]
            if fault.retry_after is not None:
                head.append(f"Retry-After: {fault.retry_after}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fault = self._take(None)
        if fault is not None:
            await self._apply(fault, writer)
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # a keep-alive client may send several requests on one connection
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
            length = int(next((v for k, v in headers if k.lower() == "content-length"), "0") or 0)
            body = await reader.readexactly(length) if length else b""
            path = urlsplit(target).path
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body else {}
            fault = self._take(path, form)
            if fault is not None:
                await self._apply(fault, writer)
                return
            status, answer = await self._forward(method, target, headers, body)
            with self._lock:
                self._records.append(
                    {
                        "method": method,
                        "path": path,
                        "query": parse_qs(urlsplit(target).query),
                        "form": form,
                        "status": status,
                    }
                )
            writer.write(answer)
            await writer.drain()
            return  # the answer says Connection: close

    async def _forward(self, method: str, target: str, headers: list, body: bytes) -> tuple[int, bytes]:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        try:
            keep = [(k, v) for k, v in headers if k.lower() not in ("connection", "keep-alive", "host")]
            head = [
                f"{method} {target} HTTP/1.1",
                f"Host: {self.upstream[0]}:{self.upstream[1]}",
                *(f"{k}: {v}" for k, v in keep),
                "Connection: close",
            ]
            up_writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            await up_writer.drain()
            raw = await up_reader.read()  # until the peer closes (Connection: close)
        finally:
            up_writer.close()
        status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
        head, sep, rest = raw.partition(b"\r\n\r\n")
        head_lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"connection:")]
        return status, b"\r\n".join(head_lines + [b"Connection: close"]) + sep + rest
