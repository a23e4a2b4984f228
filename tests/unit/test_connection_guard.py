"""The connection guard's view of a connection (pager/web/connections.py), fed bytes as the event loop
would: which connections the per-client cap and the file-descriptor bound may close."""

from __future__ import annotations

import asyncio

import pytest

from pager.web.connections import ConnectionGuard, Guarded, State

HEAD = b"POST /api/v1/alerts/alertmanager HTTP/1.1\r\nHost: pagerd\r\nContent-Length: 2\r\n\r\n{}"


class Transport(asyncio.Transport):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.peer = ("192.0.2.1", 40000 + n)
        self.written = b""
        self.closed = False

    def get_extra_info(self, name, default=None):
        return self.peer if name == "peername" else default

    def write(self, data) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def guard(per_client: int, max_open: int = 1000) -> ConnectionGuard:
    g = ConnectionGuard(header_timeout=10, per_client=per_client, max_open=max_open)
    g.server = asyncio.Protocol  # aiohttp's protocol stands behind it in the daemon; here one that does nothing
    return g


def connect(g: ConnectionGuard, n: int) -> Guarded:
    conn = g()
    assert isinstance(conn, Guarded)
    conn.connection_made(Transport(n))
    return conn


async def test_a_head_is_in_once_its_blank_line_came_even_across_reads():
    g = guard(per_client=10)
    conn = connect(g, 1)
    for piece in (b"\r\n", HEAD[:40], HEAD[40:-5], HEAD[-5:-3]):  # the end "\r\n\r" then "\n"
        conn.data_received(piece)
        assert conn.state is State.WAITING
    conn.data_received(HEAD[-3:])
    assert conn.state is State.HEAD_IN
    conn.request_started()
    conn.request_ended()
    assert conn.state is State.IDLE
    conn.data_received(HEAD[:10])  # the next request on the kept-alive connection
    assert conn.state is State.WAITING


async def test_empty_lines_alone_are_no_head():
    g = guard(per_client=10)
    conn = connect(g, 1)
    conn.data_received(b"\r\n\r\n\r\n")
    assert conn.state is State.WAITING


@pytest.mark.parametrize("busy", ["head_in", "in_request", "idle"])
async def test_at_the_cap_only_a_connection_without_a_request_of_the_client_is_closed(busy):
    g = guard(per_client=2)
    first, second = connect(g, 1), connect(g, 2)
    first.data_received(HEAD[:20])  # half a head: a slow (or slowloris) client
    second.data_received(HEAD)  # a whole request, not yet taken by the application
    if busy in ("in_request", "idle"):
        second.request_started()
    if busy == "idle":
        second.request_ended()  # answered and kept alive: its client may be sending on it right now
    third = connect(g, 3)
    assert first.transport.closed and not second.transport.closed and third.state is State.WAITING
    fourth = connect(g, 4)  # the cap again: `third` is silent since it opened, so it goes
    assert third.transport.closed and not second.transport.closed and fourth.state is State.WAITING
    fourth.data_received(HEAD)
    fifth = connect(g, 5)  # none left without a request of the client's: refused, none closed
    assert fifth.state is State.REFUSED and fifth.transport.written.startswith(b"HTTP/1.1 503")
    assert not second.transport.closed and not fourth.transport.closed
    assert g.closed == {"header_timeout": 0, "evicted": 2, "refused": 1}


async def test_short_of_file_descriptors_a_kept_alive_connection_is_closed_but_never_a_request():
    g = guard(per_client=10, max_open=2)
    kept, busy = connect(g, 1), connect(g, 2)
    kept.data_received(HEAD)
    kept.request_started()
    kept.request_ended()
    busy.data_received(HEAD)
    await asyncio.wait_for(g.room(), timeout=5)
    assert kept.transport.closed and not busy.transport.closed
    assert g.closed["evicted"] == 1
