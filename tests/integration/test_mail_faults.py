"""The mail listener of the real daemon on a full disk: a message the database cannot take is answered
451 4.3.0 (the MTA tries again), never 250; once there is room the same message is stored, once."""

from __future__ import annotations

import os
import smtplib
import sqlite3

from tests.harness.pagerd import PagerdProcess
from tests.integration.test_faults_storage import DISK_BYTES, small_disk  # noqa: F401 (a fixture)

SUPPORT = "support@example.nl"


def send(port: int, mid: str, size: int) -> tuple[int, bytes]:
    # from pagerd's own address: the engine marks it `loop` and files no ticket, so the disk holds the mail alone
    raw = f"Message-ID: <{mid}>\r\nFrom: {SUPPORT}\r\nSubject: vol\r\n\r\n".encode() + (b"x" * 998 + b"\r\n") * (
        size // 1000
    )
    with smtplib.LMTP("127.0.0.1", port, timeout=60) as c:
        c.ehlo("mx")
        c.mail("klant@acme.nl")
        c.rcpt(SUPPORT)
        return c.data(raw)


def test_full_disk_answers_451_stores_nothing_half_and_recovers(small_disk, tmp_path):  # noqa: F811
    d = PagerdProcess(tmp_path / "pagerd", extra_env={"PAGERD_DB": str(small_disk / "pagerd.db")}).start()
    try:
        assert send(d.mail_port, "before@x", 10_000)[0] == 250
        filler = small_disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for _ in range(DISK_BYTES // 4096 + 16):
                try:
                    os.write(fd, b"\0" * 4096)
                except OSError:
                    break
        finally:
            os.close(fd)
        answers = [send(d.mail_port, f"full-{i}@x", 100_000) for i in range(20)]
        refused = [f"full-{i}@x" for i, (code, _) in enumerate(answers) if code != 250]
        assert refused, "the disk never filled up"
        for code, reply in answers:
            assert code in (250, 451), (code, reply)
            assert code == 250 or reply.startswith(b"4.3.0"), reply
        conn = sqlite3.connect(small_disk / "pagerd.db", timeout=30)
        got = {r[0] for r in conn.execute("SELECT message_id FROM mail")}
        conn.close()
        assert got == {"<before@x>"} | {f"<full-{i}@x>" for i, (code, _) in enumerate(answers) if code == 250}
        os.unlink(filler)  # room again: the MTA's retry is stored, and each message once
        for i in range(20):
            assert send(d.mail_port, f"full-{i}@x", 100_000)[0] == 250
        conn = sqlite3.connect(small_disk / "pagerd.db", timeout=30)
        rows = [r[0] for r in conn.execute("SELECT message_id FROM mail")]
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
        assert sorted(rows) == sorted({"<before@x>"} | {f"<full-{i}@x>" for i in range(20)})
        metrics = d.request("GET", "/metrics")[1]
        assert f'pagerd_mail_received_total{{outcome="error"}} {float(len(refused))}' in metrics
    finally:
        d.stop()
