"""The mail listener of the real daemon (the example config's `mail:`), spoken to by real clients: swaks
(Debian) and Python's smtplib.LMTP. Stored raw, once per message, before 250; and a kill -9 right after
a 250 loses nothing."""

from __future__ import annotations

import signal
import smtplib
import socket
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.harness.pagerd import EXAMPLE_CONFIG, PagerdProcess

SUPPORT = "support@example.nl"  # the example config's default PAGERD_SUPPORT_ADDRESS


def stored(db: Path) -> list[tuple[str | None, bytes, str, str]]:
    """(message_id, raw, envelope_from, status) of every stored mail, by id."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        return [
            (r[0], bytes(r[1]), r[2], r[3])
            for r in conn.execute("SELECT message_id, raw, envelope_from, status FROM mail ORDER BY id")
        ]
    finally:
        conn.close()


def message(mid: str, body: str = "De webshop geeft een 500.") -> bytes:
    return (
        f"Message-ID: <{mid}>\r\nFrom: Klant <klant@acme.nl>\r\nTo: {SUPPORT}\r\nSubject: storing {mid}\r\n"
        f"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n\r\n{body}\r\n"
    ).encode()


@pytest.mark.peer("swaks")
def test_swaks_over_lmtp_stores_the_bytes_it_sent(pagerd: PagerdProcess, tmp_path: Path) -> None:
    swaks = require_binary("/usr/bin/swaks")
    raw = message("swaks-1@acme.nl", body="Regel een.\r\n.Een regel met een punt.\r\nGroet, Klant")
    data = tmp_path / "mail.eml"
    data.write_bytes(raw.removesuffix(b"\r\n"))  # swaks ends the last line itself before the lone dot
    run = subprocess.run(
        [swaks, "--server", f"127.0.0.1:{pagerd.mail_port}", "--protocol", "LMTP", "--from", "klant@acme.nl",
         "--to", SUPPORT, "--data", str(data), "--timeout", "30"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "250-SIZE 26214400" in run.stdout  # the limit, announced in the LHLO answer
    assert "250 2.0.0 Stored as mail 1" in run.stdout
    [(mid, got, sender, status)] = stored(pagerd.db_path)
    assert (mid, got, sender) == ("<swaks-1@acme.nl>", raw, "klant@acme.nl")
    assert status in ("pending", "ticket")  # the engine files it as a ticket soon after
    # an unknown recipient: 550 5.1.1, swaks exits non-zero (24: every recipient refused)
    run = subprocess.run(
        [swaks, "--server", f"127.0.0.1:{pagerd.mail_port}", "--protocol", "LMTP", "--from", "klant@acme.nl",
         "--to", "sales@example.nl", "--data", str(data), "--timeout", "30"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode != 0 and "550 5.1.1 <sales@example.nl>" in run.stdout, run.stdout
    assert len(stored(pagerd.db_path)) == 1


def test_smtplib_lmtp_stores_once_refuses_size_and_strangers(pagerd: PagerdProcess) -> None:
    raw = message("lmtp-1@acme.nl")
    with smtplib.LMTP("127.0.0.1", pagerd.mail_port, timeout=30) as c:
        code, features = c.ehlo("mx.example.nl")  # LHLO
        assert code == 250 and "SIZE 26214400" in features.decode()
        assert c.sendmail("klant@acme.nl", [SUPPORT], raw) == {}
        # the MTA delivers the same message again (it never saw the 250, say): 250, nothing new
        code, reply = c.data(raw) if c.mail("klant@acme.nl") and c.rcpt(SUPPORT) else (0, b"")
        assert code == 250 and b"Already stored as mail 1" in reply
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            c.sendmail("klant@acme.nl", ["nobody@example.nl"], raw)
        assert refused.value.recipients["nobody@example.nl"][0] == 550
        c.rset()
        code, reply = c.mail("klant@acme.nl", ["SIZE=30000000"])
        assert (code, reply[:5]) == (552, b"5.3.4")
        c.rset()
        with pytest.raises(smtplib.SMTPSenderRefused):  # smtplib declares the size itself: refused at MAIL
            c.sendmail("klant@acme.nl", [SUPPORT], message("big@acme.nl", body="x" * 26_214_400))
        c.mail("klant@acme.nl")  # a sender that declares no size: refused after the data
        c.rcpt(SUPPORT)
        code, reply = c.data(message("big@acme.nl", body="x" * 26_214_400))
        assert (code, reply[:5]) == (552, b"5.3.4")
    assert [(m[0], m[1]) for m in stored(pagerd.db_path)] == [("<lmtp-1@acme.nl>", raw)]
    metrics = pagerd.request("GET", "/metrics")[1]
    for line in (
        'pagerd_mail_received_total{outcome="stored"} 1.0',
        'pagerd_mail_received_total{outcome="duplicate"} 1.0',
        'pagerd_mail_received_total{outcome="refused_recipient"} 1.0',
        'pagerd_mail_received_total{outcome="refused_size"} 3.0',
        'pagerd_mail_received_total{outcome="error"} 0.0',
    ):
        assert line in metrics, line


def lmtp_send(port: int, raw: bytes, on_250=None) -> bytes:
    """One message over a raw socket, LMTP by hand; the reply line to DATA's end (b"" if the connection broke).
    `on_250` runs as soon as the 250 is read, before anything else."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")

        def reply() -> bytes:
            while True:
                line = f.readline()
                if not line or line[3:4] != b"-":
                    return line

        reply()  # greeting
        for cmd in (b"LHLO client", b"MAIL FROM:<klant@acme.nl>", f"RCPT TO:<{SUPPORT}>".encode(), b"DATA"):
            s.sendall(cmd + b"\r\n")
            reply()
        s.sendall(raw + b".\r\n")
        answer = reply()
        if answer.startswith(b"250") and on_250 is not None:
            on_250()
        return answer


def test_kill_9_right_after_250_loses_nothing_and_a_redelivery_doubles_nothing(tmp_path: Path) -> None:
    p = PagerdProcess(tmp_path / "pagerd").start()
    mails = {f"k{i}@acme.nl": message(f"k{i}@acme.nl", body=f"bericht {i}\r\n" + "regel\r\n" * 200) for i in range(400)}
    answered: dict[str, bytes] = {}
    killed = threading.Event()
    lock = threading.Lock()

    def kill_now() -> None:
        with lock:
            if len(answered) >= 40 and not killed.is_set():  # SIGKILL the moment a client holds its 250
                killed.set()
                p.kill()

    def sender(names: list[str]) -> None:
        for name in names:
            if killed.is_set():
                return
            try:
                got = lmtp_send(
                    p.mail_port, mails[name], on_250=lambda n=name: (answered.__setitem__(n, b"250"), kill_now())
                )
            except OSError:
                return
            if not got:
                return

    names = sorted(mails)
    threads = [threading.Thread(target=sender, args=(names[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert killed.is_set(), "the daemon was never killed"
    assert p.proc is not None and p.proc.returncode == -9
    p.start()  # the same database
    try:
        after = {m[0]: m[1] for m in stored(p.db_path)}
        lost = sorted(n for n in answered if f"<{n}>" not in after)
        assert not lost, f"answered 250, not stored: {lost}"
        assert all(after[f"<{n}>"] == mails[n] for n in answered)
        # the MTA delivers everything again (also what it saw a 250 for): each message once
        for name in names:
            assert lmtp_send(p.mail_port, mails[name]).startswith(b"250 2.0.0")
        rows = stored(p.db_path)
        assert sorted(m[0] for m in rows) == sorted(f"<{n}>" for n in names)
        assert all(m[1] == mails[m[0][1:-1]] for m in rows)
        conn = sqlite3.connect(p.db_path)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
    finally:
        p.stop()


def test_a_mail_port_in_use_stops_the_start_with_the_reason(tmp_path: Path) -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        p = PagerdProcess(tmp_path / "pagerd", mail_port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="exited with 1"):
            p.start()
        log = p.log_path.read_text()
        assert '"listen_failed"' in log and f"127.0.0.1:{p.mail_port}" in log and "Traceback" not in log
    finally:
        taken.close()


def test_a_reload_changes_the_addresses_and_refuses_a_new_listen_address(tmp_path: Path) -> None:
    cfg = tmp_path / "pagerd.yaml"
    text = EXAMPLE_CONFIG.read_text()  # the database: PAGERD_DB (the harness's)
    cfg.write_text(text)
    p = PagerdProcess(tmp_path / "pagerd", config=cfg).start()
    try:
        with smtplib.LMTP("127.0.0.1", p.mail_port, timeout=30) as c:
            c.ehlo("mx")
            c.mail("k@acme.nl")
            assert c.rcpt("hulp@example.nl")[0] == 550
        cfg.write_text(text.replace("- ${PAGERD_SUPPORT_ADDRESS:-support@example.nl}", "- hulp@example.nl"))
        p.proc.send_signal(signal.SIGHUP)
        p.wait_for(lambda q: '"config_reloaded"' in q.log_path.read_text(), timeout=20)
        with smtplib.LMTP("127.0.0.1", p.mail_port, timeout=30) as c:
            c.ehlo("mx")
            c.mail("k@acme.nl")
            assert c.rcpt("hulp@example.nl")[0] == 250
            assert c.rcpt(SUPPORT)[0] == 550
        cfg.write_text(text.replace("${PAGERD_MAIL_LISTEN:-127.0.0.1:2424}", "127.0.0.1:2999"))
        p.proc.send_signal(signal.SIGHUP)
        p.wait_for(lambda q: '"config_reload_refused"' in q.log_path.read_text(), timeout=20)
        refused = [line for line in p.log_path.read_text().splitlines() if "config_reload_refused" in line]
        assert "mail.listen" in refused[0]
    finally:
        p.stop()
