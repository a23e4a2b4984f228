"""The mail listener in-process, on the real SQLite store, spoken to by Python's own smtplib (LMTP and SMTP):
what it accepts, what it refuses with which code, and that 250 comes only after the message is stored."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pager.clock import ManualClock
from pager.config.model import MailConfig
from pager.mail.intake import MailListener, message_id_of, start_listener
from pager.observe.metrics import Metrics
from pager.storage.port import IngestPolicy
from pager.storage.sqlite import SqliteStore
from tests.harness.ports import free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SUPPORT = "support@example.nl"


@pytest.mark.parametrize(
    "raw, expect",
    [
        (b"Message-ID: <a.1@example.nl>\r\nSubject: x\r\n\r\nbody\r\n", "<a.1@example.nl>"),
        (b"message-id:   <A@X>  \r\n\r\n", "<A@X>"),  # any case of the name; the id as written
        (b"Subject: x\r\nMessage-Id:\r\n <folded@example.nl>\r\n\r\nb", "<folded@example.nl>"),  # folded
        (b"Subject: x\nMessage-ID: <lf@example.nl>\n\nbody", "<lf@example.nl>"),  # bare LF line ends
        (b"Message-ID: no-brackets@example.nl\r\n\r\n", "<no-brackets@example.nl>"),
        (b"Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n", "<first@x>"),
        (b"Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n", None),  # the body is not the header
        (b"\r\nMessage-ID: <after-blank@x>\r\n", None),
        (b"Subject: no id\r\n\r\n", None),
        (b"Message-ID:\r\n\r\n", None),
        (b"Message-ID: <>\r\n\r\n", None),
        (b"Message-ID: <\xff\xfe@x>\r\n\r\n", "<\ufffd\ufffd@x>"),  # undecodable bytes do not stop it
        (b"Message-ID: " + b"a" * 2000 + b"\r\n\r\n", None),  # no id anyone could refer to
        (b"", None),
    ],
)
def test_message_id_of(raw: bytes, expect: str | None) -> None:
    assert message_id_of(raw) == expect


@dataclass
class Rig:
    store: SqliteStore
    metrics: Metrics
    listener: MailListener
    config: dict[str, Any]

    @property
    def port(self) -> int:
        return self.listener.port

    def count(self, outcome: str) -> float:
        return self.metrics.registry.get_sample_value("pagerd_mail_received_total", {"outcome": outcome}) or 0.0

    async def stored(self) -> list[tuple[str | None, bytes]]:
        out = []
        for m in await self.store.list_mail():
            got = await self.store.get_mail(m.id)
            assert got is not None
            out.append((m.message_id, got.raw))
        return out


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    rigs: list[Rig] = []

    async def make(**mail: Any) -> Rig:
        store = SqliteStore(
            str(tmp_path / "pagerd.db"), IngestPolicy(timedelta(hours=1), timedelta(minutes=5)), clock=ManualClock(T0)
        )
        await store.open()
        metrics = Metrics()
        config = {"listen": f"127.0.0.1:{free_port()}", "addresses": [SUPPORT, "Help@Example.nl"], **mail}
        listener = await start_listener(store, ManualClock(T0), metrics, lambda: MailConfig(**config))
        rig = Rig(store, metrics, listener, config)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.listener.close()
        await rig.store.close()


def message(mid: str | None = "<m1@acme.nl>", body: str = "De webshop is traag.") -> bytes:
    head = f"Message-ID: {mid}\r\n" if mid else ""
    return (head + f"From: klant@acme.nl\r\nTo: {SUPPORT}\r\nSubject: traag\r\n\r\n{body}\r\n").encode()


def terminated(data: bytes) -> bytes:
    """The message's end as a client sends it: its last line ended, then a lone dot."""
    return data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n")


def lmtp_session(port: int, sender: str, rcpts: list[str], data: bytes) -> dict[str, Any]:
    """One LMTP transaction by smtplib, the replies read as RFC 2033 says: one per accepted recipient."""
    c = smtplib.LMTP("127.0.0.1", port, timeout=30)
    try:
        code, features = c.ehlo("client.example.nl")  # smtplib's LMTP sends LHLO
        out: dict[str, Any] = {"lhlo": (code, features.decode()), "rcpt": []}
        out["mail"] = c.mail(sender)
        accepted = 0
        for r in rcpts:
            reply = c.rcpt(r)
            out["rcpt"].append(reply)
            accepted += reply[0] == 250
        if not accepted:
            return out
        c.putcmd("data")
        out["data"] = c.getreply()
        c.send(terminated(smtplib.quotedata(data.decode("latin-1")).encode("latin-1")))
        out["replies"] = [c.getreply() for _ in range(accepted)]
        c.quit()
        return out
    finally:
        c.close()


async def lmtp(port: int, data: bytes, rcpts: list[str] | None = None, sender: str = "klant@acme.nl") -> dict:
    return await asyncio.to_thread(lmtp_session, port, sender, rcpts or [SUPPORT], data)


async def test_a_message_is_stored_raw_and_answered_per_recipient(make_rig) -> None:
    rig = await make_rig()
    raw = message(body="regel 1\r\n.begint met een punt\r\n..twee punten\r\nlaatste")
    got = await lmtp(rig.port, raw, [SUPPORT, "help@example.NL"])  # a configured address, any case
    assert "SIZE 26214400" in got["lhlo"][1] and "8BITMIME" in got["lhlo"][1]
    assert [r[0] for r in got["rcpt"]] == [250, 250]
    assert [r[0] for r in got["replies"]] == [250, 250]  # LMTP: one reply per recipient
    assert got["replies"][0][1].startswith(b"2.0.0 Stored as mail 1")
    assert await rig.stored() == [("<m1@acme.nl>", raw)]  # the bytes as sent, dot-stuffing undone
    (m,) = await rig.store.list_mail()
    assert (m.envelope_from, m.recipients, m.status) == ("klant@acme.nl", (SUPPORT, "help@example.NL"), "pending")
    assert rig.count("stored") == 1


async def test_a_redelivery_stores_nothing_and_is_answered_250(make_rig) -> None:
    rig = await make_rig()
    raw = message()
    first = await lmtp(rig.port, raw)
    again = await lmtp(rig.port, raw)
    assert first["replies"][0][0] == again["replies"][0][0] == 250
    assert b"Already stored as mail 1" in again["replies"][0][1]
    no_id = message(mid=None)
    await lmtp(rig.port, no_id)
    await lmtp(rig.port, no_id)  # without a Message-ID: the same bytes are the same message
    assert await rig.stored() == [("<m1@acme.nl>", raw), (None, no_id)]
    assert (rig.count("stored"), rig.count("duplicate")) == (2, 2)


async def test_an_unknown_recipient_is_refused_550_and_the_others_get_their_reply(make_rig) -> None:
    rig = await make_rig()
    got = await lmtp(rig.port, message(), ["nobody@example.nl", SUPPORT, "support@example.com"])
    assert [r[0] for r in got["rcpt"]] == [550, 250, 550]
    assert got["rcpt"][0][1].startswith(b"5.1.1 <nobody@example.nl>")
    assert [r[0] for r in got["replies"]] == [250]  # only the accepted one
    assert rig.count("refused_recipient") == 2
    only_unknown = await lmtp(rig.port, message(mid="<m2@x>"), ["x@y.nl"])
    assert only_unknown["rcpt"][0][0] == 550 and "replies" not in only_unknown
    assert [mid for mid, _ in await rig.stored()] == ["<m1@acme.nl>"]


async def test_an_oversized_message_is_refused_552_whole_and_the_session_goes_on(make_rig) -> None:
    rig = await make_rig(max_message_bytes=65536)

    def session() -> tuple:
        c = smtplib.LMTP("127.0.0.1", rig.port, timeout=30)
        try:
            lhlo = c.ehlo("client")
            declared = c.mail("klant@acme.nl", ["SIZE=70000"])  # announced too large: refused at once
            c.rset()
            c.mail("klant@acme.nl")
            c.rcpt(SUPPORT)
            c.rcpt("help@example.nl")
            c.putcmd("data")
            c.getreply()
            c.send(terminated(message(body="x" * 70000)))
            data = [c.getreply(), c.getreply()]  # per recipient, the refusal too
            c.mail("klant@acme.nl")  # the connection is still good
            c.rcpt(SUPPORT)
            small = c.data(message(mid="<small@x>"))
            return lhlo, declared, data, small
        finally:
            c.close()

    lhlo, declared, data, small = await asyncio.to_thread(session)
    assert "SIZE 65536" in lhlo[1].decode()
    assert declared[0] == 552 and declared[1].startswith(b"5.3.4")
    assert [r[0] for r in data] == [552, 552] and data[0][1].startswith(b"5.3.4")
    assert small[0] == 250
    assert [mid for mid, _ in await rig.stored()] == ["<small@x>"]
    assert rig.count("refused_size") == 2


async def test_long_lines_and_8bit_bytes_are_kept_within_the_limit(make_rig) -> None:
    rig = await make_rig()
    raw = message(body="a" * 150_000) + "é€ in windows-1252: \x80".encode("cp1252", "replace") + b"\r\n"
    got = await lmtp(rig.port, raw)
    assert got["replies"][0][0] == 250
    assert await rig.stored() == [("<m1@acme.nl>", raw)]


async def test_a_bounce_with_the_null_sender_is_stored(make_rig) -> None:
    rig = await make_rig()
    got = await lmtp(rig.port, message(mid="<bounce@mx>"), sender="")
    assert got["mail"][0] == 250 and got["replies"][0][0] == 250
    (m,) = await rig.store.list_mail()
    assert m.envelope_from == ""


async def test_when_the_store_is_unavailable_the_answer_is_451_never_250(make_rig) -> None:
    rig = await make_rig()
    await rig.store.close()  # the store takes no write
    got = await lmtp(rig.port, message(), [SUPPORT, "help@example.nl"])
    assert [r[0] for r in got["replies"]] == [451, 451]
    assert got["replies"][0][1].startswith(b"4.3.0")
    assert rig.count("error") == 1 and rig.count("stored") == 0


async def test_smtp_protocol_answers_once(make_rig) -> None:
    rig = await make_rig(protocol="smtp")

    def session() -> tuple:
        with smtplib.SMTP("127.0.0.1", rig.port, timeout=30) as c:
            ehlo = c.ehlo("client")
            refused = c.sendmail("klant@acme.nl", [SUPPORT, "other@x.nl"], message())
            return ehlo, refused

    (code, features), refused = await asyncio.to_thread(session)
    assert code == 250 and "SIZE 26214400" in features.decode()
    assert refused == {"other@x.nl": (550, b"5.1.1 <other@x.nl>: no such support address here")}
    assert [mid for mid, _ in await rig.stored()] == ["<m1@acme.nl>"]


async def test_the_addresses_follow_the_running_config(make_rig) -> None:
    rig = await make_rig()
    rig.config["addresses"] = ["new@example.nl"]  # as a reload changes them
    got = await lmtp(rig.port, message(), [SUPPORT, "new@example.nl"])
    assert [r[0] for r in got["rcpt"]] == [550, 250]


def raw_session(port: int, script: list[bytes]) -> list[bytes]:
    """Send each chunk and read the reply lines that follow it (a chunk None: read one more reply)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")

        def reply() -> bytes:
            lines = b""
            while True:
                line = f.readline()
                lines += line
                if not line or line[3:4] != b"-":
                    return lines

        out = [reply()]
        for chunk in script:
            s.sendall(chunk)
            out.append(reply())
        return out


async def test_hostile_sessions_get_clear_codes_and_store_nothing(make_rig) -> None:
    rig = await make_rig()
    got = await asyncio.to_thread(
        raw_session,
        rig.port,
        [
            b"DATA\r\n",  # before LHLO
            b"LHLO client\r\n",
            b"RCPT TO:<support@example.nl>\r\n",  # before MAIL
            b"MAIL FROM:<klant@acme.nl>\r\n",
            b"DATA\r\n",  # before RCPT
            b"RCPT TO:<" + b"x" * 5000 + b"@example.nl>\r\n",  # a command line far too long
            b"RCPT TO:<support@example.nl> NOTIFY=NEVER\r\n",  # a parameter it does not know
            b"\xff\xfe\x00garbage\r\n",
            b"RCPT TO:support@example.nl\r\n",  # without angle brackets: accepted as the address
            b"QUIT\r\n",
        ],
    )
    codes = [g[:3] for g in got]
    assert codes == [b"220", b"503", b"250", b"503", b"250", b"503", b"500", b"555", b"500", b"250", b"221"], got
    assert await rig.stored() == []


async def test_more_than_100_recipients_get_452(make_rig) -> None:
    rig = await make_rig()
    script = [b"LHLO c\r\n", b"MAIL FROM:<k@acme.nl>\r\n"] + [b"RCPT TO:<support@example.nl>\r\n"] * 101
    got = await asyncio.to_thread(raw_session, rig.port, script)
    assert [g[:3] for g in got[3:]] == [b"250"] * 100 + [b"452"]
    assert got[-1].startswith(b"452 4.5.3")


async def test_a_client_that_hangs_up_mid_message_stores_nothing_and_the_listener_goes_on(make_rig) -> None:
    rig = await make_rig()

    def hang_up() -> None:
        import socket

        with socket.create_connection(("127.0.0.1", rig.port), timeout=30) as s:
            f = s.makefile("rb")
            f.readline()
            for cmd in (b"LHLO c\r\n", b"MAIL FROM:<k@acme.nl>\r\n", b"RCPT TO:<support@example.nl>\r\n", b"DATA\r\n"):
                s.sendall(cmd)
                while f.readline()[3:4] == b"-":
                    pass
            s.sendall(message()[:40])  # half a message, then gone

    await asyncio.to_thread(hang_up)
    got = await lmtp(rig.port, message(mid="<after@x>"))
    assert got["replies"][0][0] == 250
    assert [mid for mid, _ in await rig.stored()] == ["<after@x>"]


async def test_close_answers_idle_sessions_421_and_stops_listening(make_rig) -> None:
    rig = await make_rig()

    def idle_then_read() -> bytes:
        import socket

        with socket.create_connection(("127.0.0.1", rig.port), timeout=30) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"LHLO c\r\n")
            while f.readline()[3:4] == b"-":
                pass
            closing.set()
            return f.readline()

    import threading

    closing = threading.Event()
    reader = asyncio.ensure_future(asyncio.to_thread(idle_then_read))
    await asyncio.to_thread(closing.wait, 10)
    port = rig.port
    await rig.listener.close()
    assert (await reader).startswith(b"421 4.3.2")
    with pytest.raises(OSError):
        await asyncio.to_thread(lmtp_session, port, "k@acme.nl", [SUPPORT], message())


async def test_connections_over_the_cap_are_answered_421_and_the_cap_follows_the_config(make_rig) -> None:
    """mail.max_connections sessions at once: one more gets 421 4.7.0 in place of the greeting and is closed
    (an MTA keeps the message and tries again); when a session ends, the next connection is served, and a
    reloaded cap counts from the next connection on."""
    import socket

    rig = await make_rig(max_connections=2)

    def connect() -> tuple[socket.socket, bytes]:
        s = socket.create_connection(("127.0.0.1", rig.port), timeout=30)
        return s, s.makefile("rb").readline()

    def refused() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", rig.port), timeout=30) as s:
            f = s.makefile("rb")
            return f.readline(), f.read()  # the reply, then nothing: closed

    async def until_open(n: int) -> None:
        for _ in range(500):  # bounded: 5 s
            if rig.listener.open == n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{rig.listener.open} sessions open, expected {n}")

    held = [await asyncio.to_thread(connect) for _ in range(2)]
    try:
        assert all(greeting.startswith(b"220 ") for _, greeting in held)
        reply, rest = await asyncio.to_thread(refused)
        assert reply == b"421 4.7.0 pagerd: too many connections, try again later\r\n" and rest == b""
        assert rig.count("refused_busy") == 1 and rig.listener.open == 2
        held.pop()[0].close()
        await until_open(1)
        got = await lmtp(rig.port, message())  # the freed place serves a whole transaction
        assert got["replies"] == [(250, b"2.0.0 Stored as mail 1")]
        await until_open(1)
        rig.config["max_connections"] = 1  # a reload: the cap is read per connection
        assert (await asyncio.to_thread(refused))[0].startswith(b"421 4.7.0")
        assert rig.count("refused_busy") == 2
    finally:
        for s, _ in held:
            s.close()
    await until_open(0)
    assert (await lmtp(rig.port, message("<m2@acme.nl>")))["replies"][0][0] == 250


async def test_an_accept_waits_behind_one_filing_at_most_while_a_backlog_is_filed(make_rig) -> None:
    """Taking mail in goes first: while a message is being received, the mail stage starts no further mail
    after its first; once it is answered, the stage takes full batches again."""
    from pager.config import load
    from pager.service import mail_desk
    from tests.harness.pagerd import EXAMPLE_ENV
    from tests.scenarios.harness import EXAMPLE_CONFIG

    cfg = load(EXAMPLE_CONFIG, env={**EXAMPLE_ENV, "PAGERD_NOTIFIER": "dry_run"})
    rig = await make_rig()
    receiving = rig.listener.intake.receiving
    backlog = 2 * mail_desk.BATCH + 5
    for i in range(backlog):
        await rig.store.receive_mail(
            message_id=f"<backlog-{i}@acme.nl>",
            envelope_from="klant@acme.nl",
            recipients=[SUPPORT],
            raw=message(mid=f"<backlog-{i}@acme.nl>"),
            received_at=T0,
        )
    filed: list[int] = []  # mails filed while the message below was being received
    real_file = rig.store.file_mail

    async def file_mail(mail_id: int, filing: Any, *, now: datetime) -> Any:
        if receiving:
            filed.append(mail_id)
        return await real_file(mail_id, filing, now=now)

    rig.store.file_mail = file_mail  # type: ignore[method-assign]
    r, w = await asyncio.open_connection("127.0.0.1", rig.port)

    async def say(line: bytes) -> bytes:
        w.write(line)
        return await r.readline()

    assert (await r.readline()).startswith(b"220")
    w.write(b"LHLO c\r\n")
    while (await r.readline())[3:4] == b"-":
        pass
    assert (await say(b"MAIL FROM:<klant@acme.nl>\r\n")).startswith(b"250")
    assert (await say(f"RCPT TO:<{SUPPORT}>\r\n".encode())).startswith(b"250")
    assert (await say(b"DATA\r\n")).startswith(b"354")
    w.write(message(mid="<incoming@acme.nl>"))  # the message, not yet ended: it is being received
    assert receiving and receiving.count == 1

    assert await mail_desk.process(rig.store, cfg, Metrics(), T0, receiving=receiving.__bool__) == 1
    assert len(filed) == 1  # one mail's filing, not a batch, while the accept waited

    assert (await say(b".\r\n")).startswith(b"250 2.0.0 Stored as mail")
    w.write(b"QUIT\r\n")
    await r.readline()
    w.close()
    for _ in range(100):  # the session's last turn after its reply (bounded)
        if not receiving:
            break
        await asyncio.sleep(0)
    assert not receiving
    assert await mail_desk.process(rig.store, cfg, Metrics(), T0, receiving=receiving.__bool__) == mail_desk.BATCH
    assert len(filed) == 1
    pending = await rig.store.list_mail("pending", limit=1000)
    assert len(pending) == backlog + 1 - 1 - mail_desk.BATCH  # the new one waits its turn, nothing filed twice


async def test_a_hang_up_mid_message_ends_its_receiving(make_rig) -> None:
    rig = await make_rig()
    receiving = rig.listener.intake.receiving
    r, w = await asyncio.open_connection("127.0.0.1", rig.port)
    await r.readline()
    for cmd in (b"LHLO c\r\n", b"MAIL FROM:<k@acme.nl>\r\n", f"RCPT TO:<{SUPPORT}>\r\n".encode(), b"DATA\r\n"):
        w.write(cmd)
        while (await r.readline())[3:4] == b"-":
            pass
    w.write(message()[:40])
    await w.drain()
    assert receiving.count == 1
    w.close()
    for _ in range(1000):  # the listener sees the hang-up (bounded)
        if not receiving:
            break
        await asyncio.sleep(0.001)
    assert receiving.count == 0
    assert await rig.stored() == []
