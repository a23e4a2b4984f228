"""Slow and idle connections against the real daemon: the header, body and keep-alive bounds and the
per-client cap (server.timeouts, server.max_connections_per_client; pager/web/connections.py).

"In time" is the client's own socket timeout (a request that is not answered within it fails the
test), never a measured wall-clock window.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from pathlib import Path

import pytest

from tests.harness.pagerd import EXAMPLE_CONFIG, PagerdProcess

FIRING = (Path(__file__).resolve().parents[1] / "testdata" / "alertmanager" / "firing.json").read_bytes()
HOOK = "Authorization: Bearer test-webhook-token\r\n"
ANSWER_WITHIN = 5.0  # seconds: the socket timeout of the requests that must be answered


def with_server(dest: Path, **values: str) -> Path:
    """The example config with some of its server keys (`header`, `body`, `max_connections_per_client`)
    set to `values`."""
    text = EXAMPLE_CONFIG.read_text()
    for key, value in values.items():
        line = re.search(rf"^( +{key}: )\S+", text, re.M)
        assert line, key
        text = text[: line.start()] + line.group(1) + value + text[line.end() :]
    dest.write_text(text)
    return dest


def connect(p: PagerdProcess, timeout: float = ANSWER_WITHIN) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", p.port), timeout=timeout)
    s.settimeout(timeout)
    return s


def head(path: str, *, length: int | None = None, extra: str = "") -> bytes:
    cl = f"Content-Length: {length}\r\nContent-Type: application/json\r\n" if length is not None else ""
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}{cl}\r\n".encode()


def read_answer(s: socket.socket) -> tuple[int, dict[str, str], object]:
    """Read until the server closes or a whole response (by Content-Length) is in; (status, headers, JSON)."""
    data = b""
    for _ in range(1000):  # bounded: each recv waits at most the socket's timeout
        chunk = s.recv(65536)
        data += chunk
        if not chunk:
            break
        top, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            hdrs = dict(line.split(": ", 1) for line in top.decode().split("\r\n")[1:])
            if len(rest) >= int(hdrs.get("Content-Length", "0")):
                break
    top, _, rest = data.partition(b"\r\n\r\n")
    lines = top.decode().split("\r\n")
    hdrs = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), hdrs, json.loads(rest) if rest else None


def closed_by_server(s: socket.socket) -> bool:
    """True when the server closed the connection (EOF or reset) within the socket's timeout."""
    try:
        return s.recv(65536) == b""
    except ConnectionResetError:
        return True


def request(p: PagerdProcess, raw: bytes) -> tuple[int, dict[str, str], object]:
    with connect(p) as s:
        s.sendall(raw)
        return read_answer(s)


def open_fds(p: PagerdProcess) -> int:
    return len(os.listdir(f"/proc/{p.proc.pid}/fd"))


def test_300_stalled_connections_under_ulimit_256_do_not_stop_a_webhook_or_readyz(tmp_path):
    """The defaults hold: 300 connections without credentials, from the sender's own address, that send
    nothing, half a request head, or a head and half a body, against a daemon limited to 256 open
    files. A valid webhook and /readyz are answered, and the webhook's incident is stored."""
    p = PagerdProcess(workdir=tmp_path / "pagerd", nofile=256).start()
    stalled: list[socket.socket] = []
    try:
        for i in range(300):
            try:
                s = connect(p)
            except OSError:  # the listen queue was full for a moment: that too is the attack
                continue
            stalled.append(s)
            with contextlib.suppress(OSError):
                if i % 3 == 1:
                    s.sendall(b"POST /api/v1/alerts/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
                elif i % 3 == 2:
                    s.sendall(head("/api/v1/alerts/alertmanager", length=100_000) + b'{"version": "4", "alerts": [')
        assert len(stalled) >= 250
        status, _, body = request(p, head("/readyz").replace(b"POST", b"GET"))
        assert (status, body["status"]) == (200, "ready")
        status, _, body = request(p, head("/api/v1/alerts/alertmanager", length=len(FIRING), extra=HOOK) + FIRING)
        assert status == 200 and body["status"] == "ok" and len(body["incidents"]) == 1, body
        assert open_fds(p) < 256 - 32, "the guard keeps file descriptors in reserve"
        assert p.incidents()[0]["id"] == body["incidents"][0]
    finally:
        for s in stalled:
            s.close()
        p.stop()
    log = p.log_path.read_text()
    assert "out of system resource" not in log and "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """A daemon with 1 s header and body bounds."""
    work = tmp_path_factory.mktemp("pagerd-short")
    p = PagerdProcess(
        workdir=work,
        config=with_server(work / "pagerd.yaml", header="1s", body="1s"),
        extra_env={"TWILIO_AUTH_TOKEN": "twilio-auth-token-of-the-tests"},
    )
    yield p.start()
    p.stop()


def test_a_half_sent_head_is_answered_408_and_closed(short):
    with connect(short) as s:
        s.sendall(b"POST /api/v1/alerts/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthori")
        status, headers, body = read_answer(s)
        assert status == 408 and headers["connection"] == "close"
        assert body == {"error": "request head not received within 1s", "problems": []}
        assert closed_by_server(s)


def test_a_connection_that_sends_nothing_is_closed(short):
    with connect(short) as s:
        assert closed_by_server(s)


def test_a_half_sent_body_is_answered_408(short):
    with connect(short) as s:
        s.sendall(head("/api/v1/alerts/alertmanager", length=len(FIRING), extra=HOOK) + FIRING[:100])
        status, _, body = read_answer(s)
        assert status == 408 and body["error"] == "request body not received within 1s", body


def test_a_kept_alive_connection_serves_requests_one_after_another(short):
    with connect(short) as s:
        for _ in range(3):
            s.sendall(head("/healthz").replace(b"POST", b"GET"))
            assert read_answer(s)[:1] == (200,)


@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/voice", "/twilio/status?msg=1"])
def test_twilio_callbacks_are_refused_before_their_body_is_read(short, path):
    """The signature covers the form, so it is checked after the body is read; but without the header,
    or with a body larger than a callback's 64 KiB, nothing is read: the answer comes while the body
    has not been sent at all."""
    form = "Content-Type: application/x-www-form-urlencoded\r\n"
    unsigned = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{form}Content-Length: 1000\r\n\r\n".encode()
    status, _, body = request(short, unsigned)
    assert (status, body) == (403, {"error": "invalid Twilio signature", "problems": []})
    big = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{form}X-Twilio-Signature: c2lnbmVk\r\n"
        f"Content-Length: {64 * 1024 + 1}\r\n\r\n"
    ).encode()
    status, _, body = request(short, big)
    assert (status, body) == (413, {"error": "request body larger than 65536 bytes", "problems": []})


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """A daemon that takes at most 2 connections from one address."""
    work = tmp_path_factory.mktemp("pagerd-capped")
    p = PagerdProcess(workdir=work, config=with_server(work / "pagerd.yaml", max_connections_per_client="2"))
    yield p.start()
    p.stop()


def test_at_the_cap_a_new_connection_takes_the_place_of_the_oldest_idle_one(capped):
    first, second = connect(capped), connect(capped)
    try:
        second.sendall(head("/healthz").replace(b"POST", b"GET"))
        assert read_answer(second)[0] == 200  # `second` is now idle, kept alive; `first` never sent a byte
        status, _, body = request(capped, head("/readyz").replace(b"POST", b"GET"))
        assert (status, body["status"]) == (200, "ready")
        assert closed_by_server(first)
    finally:
        first.close()
        second.close()


def test_at_the_cap_the_least_recently_active_connection_goes_not_the_one_that_just_answered(capped):
    first = connect(capped)
    second = connect(capped)  # opened after `first`, and silent since
    try:
        first.sendall(head("/healthz").replace(b"POST", b"GET"))
        assert read_answer(first)[0] == 200  # `first`: the oldest, but it has just answered
        status, _, body = request(capped, head("/readyz").replace(b"POST", b"GET"))
        assert (status, body["status"]) == (200, "ready")
        assert closed_by_server(second)
        first.sendall(head("/healthz").replace(b"POST", b"GET"))  # its client's next request is answered
        assert read_answer(first)[0] == 200
    finally:
        first.close()
        second.close()


def closed_total(s: socket.socket) -> dict[str, float]:
    """pagerd_connections_closed_total by reason, read on the kept-alive connection `s`."""
    s.sendall(head("/metrics").replace(b"POST", b"GET"))
    data = b""
    for _ in range(1000):  # bounded: each recv waits at most the socket's timeout
        data += s.recv(65536)
        top, sep, rest = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: (\d+)", top)
        if sep and length and len(rest) >= int(length.group(1)):
            break
    found = re.findall(r'^pagerd_connections_closed_total\{reason="(\w+)"\} (\S+)$', rest.decode(), re.M)
    return {reason: float(n) for reason, n in found}


def test_at_the_cap_a_kept_alive_connection_is_never_closed_for_a_new_one(capped):
    """Both connections have answered and are kept alive: their client may be sending its next request
    on either right now, so the new connection is refused 503 (an answer) and neither is cut off."""
    kept = [connect(capped), connect(capped)]
    try:
        for s in kept:
            s.sendall(head("/healthz").replace(b"POST", b"GET"))
            assert read_answer(s)[0] == 200
        before = closed_total(kept[0])
        status, headers, body = request(capped, head("/healthz").replace(b"POST", b"GET"))
        assert status == 503 and headers["retry-after"] == "5", (status, body)
        for s in kept:  # each client's next request is answered
            s.sendall(head("/healthz").replace(b"POST", b"GET"))
            assert read_answer(s)[0] == 200
        after = closed_total(kept[1])
        assert after["refused"] == before["refused"] + 1 and after["evicted"] == before["evicted"], (before, after)
    finally:
        for s in kept:
            s.close()


def test_at_the_cap_with_every_connection_in_a_request_a_new_one_is_refused_503(capped):
    busy = [connect(capped) for _ in range(2)]
    try:
        for s in busy:  # in a request: credentials accepted, the body still coming
            s.sendall(head("/api/v1/alerts/alertmanager", length=len(FIRING), extra=HOOK + "Expect: 100-continue\r\n"))
            assert s.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"  # the application has the request
            s.sendall(FIRING[:10])
        status, headers, body = request(capped, head("/healthz").replace(b"POST", b"GET"))
        assert status == 503 and headers["retry-after"] == "5", (status, body)
        assert body == {"error": "too many connections from this address", "problems": []}
        for s in busy:  # the requests in progress are not disturbed
            s.sendall(FIRING[10:])
            assert read_answer(s)[0] == 200
    finally:
        for s in busy:
            s.close()
