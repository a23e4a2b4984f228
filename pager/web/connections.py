"""The connection guard: what a connection may hold before it has sent a whole request.

aiohttp closes idle kept-alive connections (its keepalive_timeout) but has no bound on how long a
request head may take, nor on how many connections one client holds: a few hundred connections that
send nothing, or half a head, hold as many file descriptors until the process can accept no more and a
valid webhook waits behind them. The guard wraps each connection's aiohttp protocol:

- header timeout: a connection's request head (request line and headers) must be complete
  `header_timeout` seconds after the connection opened, or after the first byte of its next request
  on a kept-alive connection; else it is answered 408 (when it sent something) and closed;
- per-client cap: a client address holds at most `per_client` connections. At the cap, a new one takes
  the place of that client's least recently active connection that carries no request of the client's
  (silent since it opened, or with half a request head), which is closed; when there is none, the new
  one is answered 503 with Retry-After and closed. A kept-alive connection between requests is never
  closed for the cap: the client may have its next request on the way on it (a client's pool reuses its
  connections at once, and the request would be cut off unanswered), so only a real shortage of file
  descriptors (below) closes one. Nor is a connection whose whole request head is in but not yet taken
  by the application (a busy event loop takes it a little later): that request is the client's too;

- file descriptors: the site accepts a connection only while fewer than `max_open` are open (the
  process's file limit less a reserve for the store, logs and outgoing calls); at that bound it first
  closes the least recently active connection of any client that is not in a request, or waits for one to end, and
  new connections wait in the kernel's listen queue meanwhile. (asyncio's own accept loop takes all
  it can and, out of file descriptors, logs an error for each try.)

A request is "in" from the moment its head is complete (the guard sees the blank line that ends it)
until the handler returned (the guard's middleware, the outermost, tells it). The body's own bound is
`server.timeouts.body` (pager/web/body.py); idle kept-alive connections are aiohttp's.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import itertools
import json
import resource
import socket
from collections.abc import Callable

import structlog
from aiohttp import web

log = structlog.get_logger("pagerd.web")

_REFUSED = json.dumps({"error": "too many connections from this address", "problems": []}).encode()
REFUSED_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_REFUSED), _REFUSED)
)


def _timed_out(seconds: float) -> bytes:
    body = json.dumps({"error": f"request head not received within {seconds:g}s", "problems": []}).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


class State(enum.Enum):
    WAITING = "waiting"  # for a request head (a new connection, or bytes of the next request)
    HEAD_IN = "head_in"  # the request head is complete; the application has not taken it yet
    IN_REQUEST = "in_request"  # the application has the request
    IDLE = "idle"  # kept alive between requests (aiohttp's keepalive_timeout bounds it)
    REFUSED = "refused"  # over the cap: answered 503, never handed to aiohttp


class ConnectionGuard:
    """Protocol factory for `loop.create_server` (wrapping aiohttp's, set as `server` before the site
    starts) and the middleware that tells it when a request is in the application. Counts in `closed`
    the connections it closed, by reason, and tells `on_close(reason)` of each (the daemon's
    `pagerd_connections_closed_total{reason}`)."""

    def __init__(
        self,
        *,
        header_timeout: float,
        per_client: int,
        max_open: int,
        on_close: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.header_timeout = header_timeout
        self.per_client = per_client
        self.max_open = max_open
        self.server: Callable[[], asyncio.Protocol] | None = None
        self._clients: dict[str, dict[Guarded, None]] = {}  # insertion order: oldest first
        self._open: dict[Guarded, None] = {}  # every admitted connection, oldest first
        self._closed_one = asyncio.Event()
        self._by_transport: dict[asyncio.BaseTransport, Guarded] = {}
        self.closed = {"header_timeout": 0, "evicted": 0, "refused": 0}
        self._on_close = on_close
        self._timed_out = _timed_out(header_timeout)
        self.activity = itertools.count()  # orders the connections' activity (no clock needed)

    def __call__(self) -> asyncio.Protocol:
        assert self.server is not None, "set ConnectionGuard.server (the runner's server) first"
        return Guarded(self, self.server())

    def count_close(self, reason: str) -> None:
        self.closed[reason] += 1
        self._on_close(reason)

    def open_connections(self, client: str | None = None) -> int:
        return len(self._open) if client is None else len(self._clients.get(client, ()))

    async def room(self) -> None:
        """Return once fewer than max_open connections are open: closes the least recently active one
        that is not in a request (kept-alive ones too: file descriptors are short), or waits for one
        to end."""
        while len(self._open) >= self.max_open:
            victim = self._least_recently_active(self._open, _NOT_IN_REQUEST)
            if victim is not None:
                self.count_close("evicted")
                victim.close()
                await asyncio.sleep(0)  # its socket closes on the loop's next turn
                continue
            self._closed_one.clear()
            await self._closed_one.wait()

    @property
    def middleware(self):
        @web.middleware
        async def connection_guard(request: web.Request, handler):
            conn = self._by_transport.get(request.transport)  # type: ignore[arg-type]
            if conn is None:
                return await handler(request)
            conn.request_started()
            try:
                return await handler(request)
            finally:
                conn.request_ended()

        return connection_guard

    def _admit(self, conn: Guarded) -> bool:
        conns = self._clients.setdefault(conn.client, {})
        if len(conns) >= self.per_client:
            victim = self._least_recently_active(conns, _NO_REQUEST_OF_THE_CLIENT)
            if victim is None:
                return False
            self.count_close("evicted")
            victim.close()
        conns[conn] = None
        self._open[conn] = None
        assert conn.transport is not None
        self._by_transport[conn.transport] = conn
        return True

    @staticmethod
    def _least_recently_active(conns: dict[Guarded, None], states: frozenset[State]) -> Guarded | None:
        """The connection to close for room: of those in one of `states`, the one whose last activity
        (opened, bytes received, an answer finished) lies furthest back."""
        return min((c for c in conns if c.state in states), key=lambda c: c.last_active, default=None)

    def _forget(self, conn: Guarded) -> None:
        conns = self._clients.get(conn.client)
        if conns is not None:
            conns.pop(conn, None)
            if not conns:
                del self._clients[conn.client]
        if self._open.pop(conn, False) is None:
            self._closed_one.set()
        if conn.transport is not None:
            self._by_transport.pop(conn.transport, None)


# what the per-client cap may close: silent or half-sent heads, never a kept-alive connection (IDLE)
_NO_REQUEST_OF_THE_CLIENT = frozenset({State.WAITING})
# what a shortage of file descriptors may close
_NOT_IN_REQUEST = frozenset({State.WAITING, State.IDLE})


class Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol (`inner`) behind the guard's bounds."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.client = ""
        self.state = State.WAITING
        self._timer: asyncio.TimerHandle | None = None
        self._got_bytes = False
        self._tail = b""  # the last bytes of the head so far (its end may span two reads)
        self.last_active = next(guard.activity)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self.guard._admit(self):
            self.state = State.REFUSED
            self.guard.count_close("refused")
            transport.write(REFUSED_RESPONSE)  # type: ignore[attr-defined]
            transport.close()
            return
        self.inner.connection_made(transport)
        self._wait_for_head()

    def data_received(self, data: bytes) -> None:
        if self.state is State.REFUSED:
            return
        if self.state is State.IDLE:
            self._wait_for_head()
        if self.state is State.WAITING:
            self._look_for_head_end(data)
        self.last_active = next(self.guard.activity)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self.state is State.REFUSED else self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.guard._forget(self)
        if self.state is not State.REFUSED:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.state is not State.REFUSED:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.state is not State.REFUSED:
            self.inner.resume_writing()

    # -- the guard's view ------------------------------------------------------------------------------
    def request_started(self) -> None:
        self._cancel_timer()
        self.state = State.IN_REQUEST

    def request_ended(self) -> None:
        self.state = State.IDLE
        self._got_bytes = False
        self._tail = b""
        self.last_active = next(self.guard.activity)

    def _look_for_head_end(self, data: bytes) -> None:
        """HEAD_IN once the blank line that ends the head has come (empty lines before a request line
        are not a head: HTTP/1.1 servers skip them)."""
        if not self._got_bytes:
            data = data.lstrip(b"\r\n")
            if not data:
                return
            self._got_bytes = True
        seen = self._tail + data
        if b"\r\n\r\n" in seen:
            self.state = State.HEAD_IN
            self._tail = b""
        else:
            self._tail = seen[-3:]

    def close(self) -> None:
        """Close now (evicted); the rest happens in connection_lost."""
        self._cancel_timer()
        self.guard._forget(self)
        if self.transport is not None:
            self.transport.close()

    def _wait_for_head(self) -> None:
        self.state = State.WAITING
        self._tail = b""
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(self.guard.header_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._timer = None
        if self.state not in (State.WAITING, State.HEAD_IN) or self.transport is None or self.transport.is_closing():
            return
        self.guard.count_close("header_timeout")
        if self._got_bytes:
            self.transport.write(self.guard._timed_out)
        self.transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite with each connection behind the guard, accepted by the guard's own loop
    (`ConnectionGuard.room` before each accept)."""

    def __init__(
        self, runner: web.BaseRunner, guard: ConnectionGuard, host: str, port: int, *, backlog: int = 128
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._guard = guard
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        self._guard.server = self._runner.server
        family, *_ = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.create_server((self._host, self._port), family=family, backlog=self._backlog)
        sock.setblocking(False)
        self._server = _Listener(sock, asyncio.get_running_loop().create_task(self._accept(sock), name="accept"))

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._guard.room()
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:  # out of file descriptors after all (the reserve used up): wait a little
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise
                log.warning("accept_failed", error=str(exc), open_connections=self._guard.open_connections())
                await asyncio.sleep(0.1)
                continue
            try:
                await loop.connect_accepted_socket(self._guard, conn)
            except OSError:  # the peer went away in between
                conn.close()


class _Listener:
    """What BaseSite.stop closes: the listening socket and its accept loop."""

    def __init__(self, sock: socket.socket, task: asyncio.Task) -> None:
        self.sock, self.task = sock, task
        self.sockets = [sock]

    def close(self) -> None:
        self.task.cancel()
        self.sock.close()


def file_limit() -> int:
    """The process's limit on open files, first raised to the hard limit (as Go programs do)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


# file descriptors kept for what is not a client connection: the store's files, logs, outgoing
# calls to Twilio and SMTP, the event loop's own
FD_RESERVE = 64
