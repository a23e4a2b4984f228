"""The mail listener: the agency's MTA hands mail for the support addresses over by LMTP (or SMTP), and
each message is stored raw and durably before it is accepted.

Built on aiosmtpd's LMTP and SMTP servers, in the daemon's event loop. What it adds:
- RCPT only for the configured support addresses (`mail.addresses`, without regard to case); any other
  gets `550 5.1.1`.
- The size limit (`mail.max_message_bytes`) announced with `SIZE` in LHLO/EHLO; a `MAIL FROM ... SIZE=`
  above it, or a message that turns out larger, gets `552 5.3.4`.
- DATA read by this module (not aiosmtpd's): lines of any length within the size limit are taken, and in
  LMTP every reply after DATA is given once per accepted recipient (RFC 2033), refusals included.
- The message is written by the store (`MailStore.receive_mail`, the store's durable group commit) before
  `250` is sent: a crash after the 250 loses nothing. A message the store has already (the same
  Message-ID, or without one the same bytes) stores nothing and is answered 250 again, so a redelivery by
  the MTA makes nothing twice. When the store cannot take it (disk full, locked, closed, too slow), the
  answer is `451 4.3.0` and the MTA tries again later; never 250.

A new message pokes the engine, whose `mail` stage files it (pager/service/mail_desk.py). Taking mail in
goes first: while a message is being received (`Receiving`, from DATA until its reply is sent), the stage
files no more than one mail per engine tick, so an accept never waits behind a backlog being filed.

Counted in `pagerd_mail_received_total{outcome}`: `stored`, `duplicate` (per message), `refused_size` (per
message), `refused_recipient` (per refused RCPT), `error` (per message the store did not take).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import weakref
from collections.abc import Callable
from typing import Any

import structlog
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope

from pager.clock import Clock
from pager.config.model import MailConfig
from pager.observe.metrics import Metrics
from pager.storage.port import MailStore

log = structlog.get_logger("pagerd.mail")

OUTCOMES = ("stored", "duplicate", "refused_size", "refused_recipient", "error")
MAX_RECIPIENTS = 100  # per message; more get 452 4.5.3 (the MTA sends them in another transaction)
STORE_TIMEOUT = 60.0  # seconds the store may take before the MTA is told 451 (Postfix waits 600 s)
IDLE_TIMEOUT = 300.0  # seconds without a command (or, in DATA, without a byte) before the connection is closed
_READ_LIMIT = 64 * 1024  # one read of a DATA line; a longer line is read in pieces of this
_MAX_HEADER_SCAN = 1024 * 1024  # the Message-ID is looked for in this many bytes of the header at most
_MSG_ID = re.compile(r"<([^<>\s]{1,994})>")
_SIZE = re.compile(r"(?i)(?:^|\s)SIZE=(\d{1,20})(?:\s|$)")


def message_id_of(raw: bytes) -> str | None:
    """The message's Message-ID as `<id>`, read from its header block only (the first `Message-ID:` field,
    unfolded; the body and the MIME structure are not looked at); None when it has none that can be read."""
    head = raw[:_MAX_HEADER_SCAN]
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    if head.startswith((b"\r\n", b"\n")):
        return None  # no header at all
    if ends:
        head = head[: min(ends)]
    value: bytes | None = None
    for line in head.split(b"\n"):
        line = line.rstrip(b"\r")
        if value is not None:
            if line[:1] in (b" ", b"\t"):
                value += line
                continue
            break
        name, sep, rest = line.partition(b":")
        if sep and name.strip().lower() == b"message-id":
            value = rest
    if value is None:
        return None
    text = value.decode("utf-8", "replace")
    found = _MSG_ID.search(text)
    if found:
        return f"<{found.group(1)}>"
    bare = "".join(text.split())  # <> missing (a broken sender): the id as written, without its folding
    return f"<{bare}>" if 0 < len(bare) <= 994 and "<" not in bare and ">" not in bare else None


class Receiving:
    """How many messages the listener is taking in now (DATA read, stored, not yet answered). Shared with the
    engine, whose mail stage lets them go first (pager.service.mail_desk.process); true while any is."""

    def __init__(self) -> None:
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0


class Intake:
    """aiosmtpd's handler: which recipients are accepted, and storing a message."""

    def __init__(
        self,
        store: MailStore,
        clock: Clock,
        metrics: Metrics,
        settings: Callable[[], MailConfig | None],
        on_stored: Callable[[], None] | None = None,
        receiving: Receiving | None = None,
    ) -> None:
        self.store = store
        self.receiving = receiving if receiving is not None else Receiving()
        self.on_stored = on_stored  # told of each new message (the engine's poke: it files the mail at once)
        self.clock = clock
        self.metrics = metrics
        self.settings = settings  # the running config's mail: section (a reload changes the addresses)
        self.inflight: set[asyncio.Task] = set()

    def count(self, outcome: str) -> None:
        self.metrics.mail_received.labels(outcome).inc()

    def accepts(self, address: str) -> bool:
        cfg = self.settings()
        want = address.casefold()
        return cfg is not None and any(a.casefold() == want for a in cfg.addresses)

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Envelope, address: str, rcpt_options: list
    ) -> str:
        if not self.accepts(address):
            self.count("refused_recipient")
            log.info("mail_recipient_refused", recipient=address[:256], sender=(envelope.mail_from or "")[:256])
            return f"550 5.1.1 <{address}>: no such support address here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_exception(self, error: Exception) -> str:
        log.error("mail_session_failed", error=repr(error), exc_info=error)
        return "451 4.3.0 Local error; try again later"

    async def deliver(self, envelope: Envelope, raw: bytes) -> str:
        """Store the message; the one reply (code and text) for each of its recipients."""
        message_id = message_id_of(raw)
        sender = envelope.mail_from or ""
        sender = "" if sender == "<>" else sender
        recipients = list(dict.fromkeys(envelope.rcpt_tos))
        task = asyncio.ensure_future(
            self.store.receive_mail(
                message_id=message_id,
                envelope_from=sender,
                recipients=recipients,
                raw=raw,
                received_at=self.clock.now(),
            )
        )
        # the write goes on when the client hangs up meanwhile (it then redelivers: a duplicate)
        self.inflight.add(task)
        task.add_done_callback(self._done)
        try:
            mail_id, new = await asyncio.wait_for(asyncio.shield(task), STORE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.count("error")
            log.warning(
                "mail_not_stored",
                error=str(exc) or type(exc).__name__,
                message_id=message_id,
                size=len(raw),
                reply="451",
            )
            return "451 4.3.0 Mail not stored (the store is unavailable); try again later"
        self.count("stored" if new else "duplicate")
        if new and self.on_stored is not None:
            self.on_stored()
        log.info(
            "mail_received",
            mail_id=mail_id,
            duplicate=not new,
            message_id=message_id,
            size=len(raw),
            sender=sender[:256],
            recipients=recipients,
        )
        if new:
            return f"250 2.0.0 Stored as mail {mail_id}"
        return f"250 2.0.0 Already stored as mail {mail_id}"

    def _done(self, task: asyncio.Task) -> None:
        self.inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed write is logged by deliver (or the client had gone)


class _Listening:
    """What the LMTP and SMTP servers add to aiosmtpd's (mixed in before them)."""

    line_length_limit = _READ_LIMIT  # the stream reader's limit; command lines keep aiosmtpd's 512 bytes
    event_handler: Intake
    lmtp = False
    on_closed: Callable[[], None] | None = None  # the listener's count of open sessions, told once

    def connection_lost(self, error: Exception | None) -> None:
        try:
            super().connection_lost(error)  # type: ignore[misc]
        finally:
            done, self.on_closed = self.on_closed, None
            if done is not None:
                done()

    async def smtp_MAIL(self, arg: str | None) -> None:
        size = _SIZE.search(arg or "")
        limit = self.data_size_limit  # type: ignore[attr-defined]
        if size and limit and int(size.group(1)) > limit and self.session.host_name:  # type: ignore[attr-defined]
            self.event_handler.count("refused_size")
            await self.push(f"552 5.3.4 Message size exceeds the limit of {limit} bytes")  # type: ignore[attr-defined]
            return
        await super().smtp_MAIL(arg)  # type: ignore[misc]

    async def smtp_DATA(self, arg: str | None) -> None:
        s: Any = self
        if await s.check_helo_needed() or await s.check_auth_needed("DATA"):
            return
        envelope = s.envelope
        if not envelope.rcpt_tos:
            await s.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await s.push("501 5.5.4 Syntax: DATA")
            return
        receiving = self.event_handler.receiving
        receiving.count += 1
        try:
            await self._data(s, envelope)
        finally:
            receiving.count -= 1

    async def _data(self, s: Any, envelope: Envelope) -> None:
        """The message after DATA: read, stored (or refused), answered."""
        await s.push("354 End data with <CR><LF>.<CR><LF>")
        limit = s.data_size_limit
        reader: asyncio.StreamReader = s._reader
        chunks: list[bytes] = []
        size = 0
        mark = 0
        at_line_start = True
        too_big = False
        while True:
            try:
                piece = await reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as e:  # a long line: its first part (the CRLF is never split)
                piece = await reader.read(e.consumed)
            except asyncio.IncompleteReadError:  # the client went away mid-message
                return
            if at_line_start:
                if piece == b".\r\n":
                    break
                if piece.startswith(b"."):
                    piece = piece[1:]  # dot-stuffing (RFC 5321 4.5.2)
            at_line_start = piece.endswith(b"\r\n")
            size += len(piece)
            if not too_big:
                if limit and size > limit:
                    too_big = True
                    chunks = []  # the rest is read and dropped
                else:
                    chunks.append(piece)
            if size - mark >= 65536:  # a slow sender of a large message is not idle
                mark = size
                s._reset_timeout()
        if too_big:
            self.event_handler.count("refused_size")
            log.info("mail_refused_size", size=size, limit=limit)
            reply = f"552 5.3.4 Message size exceeds the limit of {limit} bytes"
        else:
            reply = await self.event_handler.deliver(envelope, b"".join(chunks))
        replies = len(envelope.rcpt_tos) if self.lmtp else 1
        s._set_post_data_state()
        await s.push("\r\n".join([reply] * replies))


class LmtpServer(_Listening, LMTP):
    lmtp = True


class SmtpServer(_Listening, SMTP):
    pass


BUSY_REPLY = b"421 4.7.0 pagerd: too many connections, try again later\r\n"


class _Busy(asyncio.Protocol):
    """A connection over mail.max_connections: answered 421 in place of the greeting and closed, so the MTA
    keeps the message and tries again later (RFC 5321 3.1)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(BUSY_REPLY)  # type: ignore[attr-defined]
        transport.close()


class MailListener:
    """The listening socket and its sessions; `close()` stops taking connections, lets messages being stored
    finish (up to `drain` seconds) and closes the sessions. At most `mail.max_connections` sessions are open
    at once: each file descriptor a client holds (an MTA's pool, or a peer that connects and stays silent for
    the idle timeout) is one the webhooks cannot have."""

    def __init__(self, intake: Intake, settings: Callable[[], MailConfig | None], protocol: str) -> None:
        self.intake = intake
        self.settings = settings
        self.kind = LmtpServer if protocol == "lmtp" else SmtpServer
        self.server: asyncio.base_events.Server | None = None
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self.hostname = socket.gethostname() or "pagerd"
        self.open = 0  # sessions made and not yet closed
        self._full = False  # the cap was reached and not left since (logged once per time)

    def _closed(self) -> None:
        self.open -= 1

    def session(self) -> asyncio.Protocol:
        cfg = self.settings() or MailConfig()
        if self.open >= cfg.max_connections:
            self.intake.count("refused_busy")
            if not self._full:
                self._full = True
                log.warning("mail_connections_full", open=self.open, max_connections=cfg.max_connections)
            return _Busy()
        self._full = False
        limit = cfg.max_message_bytes
        proto = self.kind(
            self.intake,
            data_size_limit=limit,
            enable_SMTPUTF8=True,
            hostname=self.hostname,
            ident="pagerd",
            timeout=IDLE_TIMEOUT,
            loop=asyncio.get_running_loop(),
        )
        self.sessions.add(proto)
        self.open += 1
        proto.on_closed = self._closed
        return proto

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def close(self, drain: float = 10.0) -> None:
        if self.server is not None:
            self.server.close()
        if self.intake.inflight:
            await asyncio.wait(set(self.intake.inflight), timeout=drain)
        for s in list(self.sessions):
            if s.transport is not None and not s.transport.is_closing():
                s.transport.write(b"421 4.3.2 pagerd is shutting down\r\n")  # type: ignore[attr-defined]
                s.transport.close()
        if self.server is not None:
            await self.server.wait_closed()


async def start_listener(
    store: MailStore,
    clock: Clock,
    metrics: Metrics,
    settings: Callable[[], MailConfig | None],
    on_stored: Callable[[], None] | None = None,
    receiving: Receiving | None = None,
) -> MailListener:
    """The mail listener of `settings()` (enabled), listening. OSError when it cannot listen."""
    cfg = settings()
    assert cfg is not None and cfg.enabled
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    listener = MailListener(Intake(store, clock, metrics, settings, on_stored, receiving), settings, cfg.protocol)
    listener.server = await asyncio.get_running_loop().create_server(listener.session, cfg.host, cfg.port)
    log.info(
        "mail_listening",
        listen=cfg.listen,
        protocol=cfg.protocol,
        addresses=cfg.addresses,
        max_message_bytes=cfg.max_message_bytes,
    )
    return listener
