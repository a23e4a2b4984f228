"""A real Postfix (Debian `postfix`) as the agency's MTA, an instance of the test's own: its config folder,
queue and data folders in a temporary folder, SMTP on a loopback port, started with `postfix -c DIR start`
and stopped with `postfix -c DIR stop`. The packaged service is never used (it does not start here).

Mail for `lmtp_domains` is delivered by LMTP to a port (pagerd's mail listener), as an agency wires it
(README: Incoming mail): `transport_maps` with `DOMAIN lmtp:inet:127.0.0.1:PORT`. Mail for
`mailbox_domains` is delivered into mailboxes (Maildir) under `mailboxes/`, one per recipient, which a
test reads (`mailbox(address)`); a recipient in such a domain without a mailbox is refused by Postfix, and
a mail relayed to it makes Postfix send a real delivery-status notification (RFC 3464) from
MAILER-DAEMON. Every other domain is refused (no relaying off this machine).

Needs root (Postfix's master runs as root and its daemons as the `postfix` user).
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import smtplib
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from .ports import free_port
from .timeouts import START_TIMEOUT

POSTFIX = "/usr/sbin/postfix"
DAEMONS = "/usr/lib/postfix/sbin"

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
{smtp_listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
daemon_directory = {daemons}
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.pagerd.test
mydomain = pagerd.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relay_domains = {lmtp_domains}
transport_maps = texthash:{dir}/transport
virtual_mailbox_domains = {mailbox_domains}
virtual_mailbox_base = {dir}/mailboxes
virtual_mailbox_maps = texthash:{dir}/mailboxes.map
smtpd_reject_unlisted_recipient = {reject_unlisted}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = yes
# a test's retries and bounces come in seconds, not the production minutes
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
bounce_queue_lifetime = 0
delay_warning_time = 0
"""


@dataclass
class PostfixInstance:
    """`start()`, `send(msg)` by SMTP, `mailbox(address)`, `log()`, `stop()`."""

    lmtp_port: int
    lmtp_domains: tuple[str, ...] = ("example.nl",)
    mailbox_domains: tuple[str, ...] = ("customer.test",)
    mailboxes: tuple[str, ...] = ()  # addresses in mailbox_domains that exist
    # domains of mailbox_domains where every address exists: all their mail in one Maildir per domain
    catch_all_domains: tuple[str, ...] = ()
    # True: a recipient without a mailbox is accepted by SMTP and then bounced by Postfix itself (a real
    # delivery-status notification from MAILER-DAEMON to the sender), as a remote mail server does;
    # False: refused at RCPT (550 5.1.1)
    accept_unknown: bool = False
    smtp_port: int = field(default_factory=free_port)
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pagerd-postfix-")))

    def start(self, timeout: float = START_TIMEOUT) -> PostfixInstance:
        # the daemons run as `postfix` and reach this folder: readable on the way (mkdtemp makes it 0700)
        self.dir.chmod(0o755)
        for sub in ("queue", "data", "mailboxes"):
            (self.dir / sub).mkdir(exist_ok=True)
        owner = _uid_gid("postfix")
        os.chown(self.dir / "data", *owner)
        os.chown(self.dir / "mailboxes", *owner)
        (self.dir / "main.cf").write_text(
            MAIN_CF.format(
                dir=self.dir,
                daemons=DAEMONS,
                lmtp_domains=", ".join(self.lmtp_domains),
                mailbox_domains=", ".join(self.mailbox_domains),
                uid=owner[0],
                gid=owner[1],
                reject_unlisted="no" if self.accept_unknown else "yes",
            )
        )
        (self.dir / "master.cf").write_text(MASTER_CF.format(smtp_listen=f"127.0.0.1:{self.smtp_port}"))
        (self.dir / "transport").write_text(
            "".join(f"{d} lmtp:inet:127.0.0.1:{self.lmtp_port}\n" for d in self.lmtp_domains)
        )
        (self.dir / "mailboxes.map").write_text(
            "".join(f"{a} {a}/\n" for a in self.mailboxes) + "".join(f"@{d} @{d}/\n" for d in self.catch_all_domains)
        )
        self._postfix("start")  # checks the instance first (postfix-script check)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=2) as s:
                    s.noop()
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postfix did not listen on {self.smtp_port} in {timeout}s:\n{self.log()[-3000:]}")

    def _postfix(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([POSTFIX, "-c", str(self.dir), *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)} failed: {done.stderr.strip()}\n{self.log()[-3000:]}")
        return done

    def stop(self) -> None:
        subprocess.run([POSTFIX, "-c", str(self.dir), "stop"], capture_output=True, timeout=60)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def flush(self) -> None:
        """Try every deferred message now (`postqueue -f`)."""
        subprocess.run([POSTFIX, "-c", str(self.dir), "flush"], capture_output=True, timeout=60)

    def send(self, msg: EmailMessage | bytes, sender: str, recipients: list[str]) -> dict:
        """Hand a message to Postfix by SMTP, as a customer's mail server would; the refused recipients."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as s:
            s.ehlo("client.pagerd.test")
            data = msg.as_bytes(policy=email.policy.SMTP) if isinstance(msg, EmailMessage) else msg
            return s.sendmail(sender, recipients, data)

    def mailbox(self, address: str) -> list[EmailMessage]:
        """The messages delivered into `address`'s Maildir, oldest first."""
        new = self.dir / "mailboxes" / address / "new"
        if not new.is_dir():
            return []
        files = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]  # type: ignore[misc]

    def delivered(self) -> list[EmailMessage]:
        """Every message delivered into any mailbox (catch-all ones included), oldest first; each carries
        Postfix's `Delivered-To` header naming its recipient."""
        root = self.dir / "mailboxes"
        files = sorted((p for p in root.glob("*/new/*") if p.is_file()), key=lambda p: p.stat().st_mtime_ns)
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]  # type: ignore[misc]

    def log(self) -> str:
        path = self.dir / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


def _uid_gid(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid
