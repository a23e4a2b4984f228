"""A real Nagios 4 in the foreground with a minimal config, and a stand-in alert receiver.

`NagiosProcess` writes a config into a fresh directory under /tmp owned by user `nagios`
(Nagios drops to that user; pytest's tmp_path may be 0700 root), includes a copy of the shipped
`deploy/nagios/pagerd.cfg` with the paths substituted, and runs `nagios4 DIR/nagios.cfg`.
One host and one service are checked by a tiny script that prints the file the test writes and
exits with the code in `<file>.rc`; `set_service()`/`set_host()` write it and force a check
through the external command file, so a PROBLEM arrives ~1-2 s later.

`AlertReceiver` is a tiny HTTP server that speaks the part of pagerd's contract the Nagios
integration needs (POST /api/v1/alerts/nagios, GET /api/v1/incidents), records every request and
can be told what status to answer. It has the same test-facing interface as `PagerdProcess`.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .ports import free_port
from .timeouts import START_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
NOTIFY_SCRIPT = ROOT / "deploy" / "nagios" / "pagerd-notify"
PAGERD_CFG = ROOT / "deploy" / "nagios" / "pagerd.cfg"
NAGIOS_BIN = "/usr/sbin/nagios4"
SHIPPED_SCRIPT_PATH = "/usr/local/lib/pagerd/pagerd-notify"
NAGIOS_ALERTS_PATH = "/api/v1/alerts/nagios"

CHECK_SCRIPT = """#!/bin/sh
# Print the state file the test wrote and exit with the code in <file>.rc.
if [ -r "$1" ]; then cat "$1"; else echo "UNKNOWN - no state file $1"; exit 3; fi
exit "$(cat "$1.rc" 2>/dev/null || echo 3)"
"""

# Appends the NAGIOS_* environment of each notification as one JSON line (for observation).
CAPTURE_SCRIPT = """import json, os, sys
env = {k[7:]: v for k, v in os.environ.items() if k.startswith("NAGIOS_")}
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"argv": sys.argv[2:], "env": env}, sort_keys=True) + "\\n")
"""

SERVICE_STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
HOST_STATES = {"UP": 0, "DOWN": 2}


def _nagios_ids() -> tuple[int, int]:
    return pwd.getpwnam("nagios").pw_uid, grp.getgrnam("nagios").gr_gid


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomic write (tmp + rename) so a check never reads a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _bounded_wait(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met in {timeout}s; last value: {last!r}")


def _custom_vars(variables: dict[str, str]) -> str:
    for name, value in variables.items():
        assert name.startswith("_") and "\n" not in value, (name, value)
    return "".join(f"\n    {name:<24}{value}" for name, value in variables.items())


@dataclass
class NagiosProcess:
    """One Nagios 4 daemon notifying `alerts_url` with the shipped pagerd.cfg and pagerd-notify."""

    alerts_url: str
    token: str
    host: str = "web01"
    service: str = "HTTP login"
    capture_env: bool = True  # a second contact that records each notification's environment
    env_macros_only: bool = False  # strip the --macro arguments: the script must use NAGIOS_*
    # custom variables of the host and the service, e.g. {"_CUSTOMER": "acme"} (names with their `_`)
    host_vars: dict[str, str] = field(default_factory=dict)
    service_vars: dict[str, str] = field(default_factory=dict)
    check_interval: int = 5
    retry_interval: int = 1
    max_check_attempts: int = 2
    workdir: Path | None = None
    proc: subprocess.Popen | None = None
    _owned_dir: bool = field(default=False, repr=False)

    # ---- paths
    @property
    def cfg(self) -> Path:
        return self.workdir / "nagios.cfg"

    @property
    def var(self) -> Path:
        return self.workdir / "var"

    @property
    def command_file(self) -> Path:
        return self.var / "rw" / "nagios.cmd"

    @property
    def spool(self) -> Path:
        return self.workdir / "spool"

    @property
    def script(self) -> Path:
        return self.workdir / "pagerd-notify"

    @property
    def token_file(self) -> Path:
        return self.workdir / "pagerd.token"

    @property
    def notify_log(self) -> Path:
        return self.workdir / "notify.log"

    def notify_log_text(self) -> str:
        """The notify script's log so far; empty until its first line (the script spools an event
        before it logs the failed delivery, so a poll can see the spool before the log exists)."""
        try:
            return self.notify_log.read_text()
        except FileNotFoundError:
            return ""

    @property
    def capture_file(self) -> Path:
        return self.var / "captured.jsonl"

    @property
    def log_file(self) -> Path:
        return self.var / "nagios.log"

    @property
    def stdout_file(self) -> Path:
        return self.workdir / "nagios.stdout"

    def state_file(self, kind: str) -> Path:
        return self.workdir / "state" / kind

    # ---- config
    def write_config(self) -> NagiosProcess:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="pagerd-nagios-", dir="/tmp"))
            self._owned_dir = True
        w = self.workdir
        for d in (w, w / "state", self.var, self.var / "rw", self.var / "checkresults", self.var / "tmp", self.spool):
            d.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NOTIFY_SCRIPT, self.script)
        os.chmod(self.script, 0o755)
        _write(w / "check_state", CHECK_SCRIPT, 0o755)
        _write(w / "capture_env.py", CAPTURE_SCRIPT, 0o644)
        _write(self.token_file, self.token + "\n", 0o640)
        _write(w / "resource.cfg", "$USER1$=/usr/lib/nagios/plugins\n")
        self.set_service("OK", "OK - fine", force=False)
        self.set_host("UP", "UP - fine", force=False)
        _write(w / "nagios.cfg", self._nagios_cfg())
        _write(w / "objects.cfg", self._objects_cfg())
        _write(w / "pagerd.cfg", self._pagerd_cfg())
        uid, gid = _nagios_ids()
        for dirpath, _dirnames, filenames in os.walk(w):
            os.chown(dirpath, uid, gid)
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), uid, gid)
        os.chown(self.token_file, 0, gid)  # as installed: root:nagios 0640
        return self

    def _nagios_cfg(self) -> str:
        w, v = self.workdir, self.var
        return f"""# generated by tests/harness/nagios.py
log_file={self.log_file}
cfg_file={w}/objects.cfg
cfg_file={w}/pagerd.cfg
resource_file={w}/resource.cfg
object_cache_file={v}/objects.cache
precached_object_file={v}/objects.precache
status_file={v}/status.dat
status_update_interval=1
temp_file={v}/nagios.tmp
temp_path={v}/tmp
lock_file={v}/nagios.lock
check_result_path={v}/checkresults
nagios_user=nagios
nagios_group=nagios
check_external_commands=1
command_file={self.command_file}
query_socket={v}/rw/nagios.qh
retain_state_information=0
state_retention_file={v}/retention.dat
use_retained_program_state=0
use_retained_scheduling_info=0
interval_length=1
check_for_updates=0
bare_update_check=0
max_service_check_spread=1
max_host_check_spread=1
service_inter_check_delay_method=n
host_inter_check_delay_method=n
check_result_reaper_frequency=1
cached_host_check_horizon=0
cached_service_check_horizon=0
max_check_result_reaper_time=1
enable_notifications=1
enable_environment_macros=1
enable_flap_detection=0
check_service_freshness=0
check_host_freshness=0
execute_service_checks=1
execute_host_checks=1
accept_passive_service_checks=1
accept_passive_host_checks=1
log_notifications=1
log_initial_states=1
log_external_commands=1
log_passive_checks=1
log_service_retries=1
log_host_retries=1
use_syslog=0
date_format=iso8601
notification_timeout=30
service_check_timeout=10
host_check_timeout=10
illegal_object_name_chars=`~!$%^&*|'"<>?,()=
illegal_macro_output_chars=`~$&|'"<>
debug_level=0
debug_file={v}/nagios.debug
"""

    def _objects_cfg(self) -> str:
        w = self.workdir
        contacts = "pagerd,envcapture" if self.capture_env else "pagerd"
        common = f"""    max_check_attempts      {self.max_check_attempts}
    check_interval          {self.check_interval}
    retry_interval          {self.retry_interval}
    check_period            24x7
    active_checks_enabled   1
    passive_checks_enabled  1
    notifications_enabled   1
    notification_interval   0
    notification_period     24x7
    contacts                {contacts}"""
        capture = ""
        if self.capture_env:
            capture = f"""
define command {{
    command_name    capture-service-env
    command_line    /usr/bin/python3 {w}/capture_env.py {self.capture_file} service
}}
define command {{
    command_name    capture-host-env
    command_line    /usr/bin/python3 {w}/capture_env.py {self.capture_file} host
}}
define contact {{
    contact_name                    envcapture
    alias                           records notification environments for the tests
    host_notifications_enabled      1
    service_notifications_enabled   1
    host_notification_period        24x7
    service_notification_period     24x7
    host_notification_options       d,u,r,f,s
    service_notification_options    w,u,c,r,f,s
    host_notification_commands      capture-host-env
    service_notification_commands   capture-service-env
}}
"""
        return f"""# generated by tests/harness/nagios.py
define timeperiod {{
    timeperiod_name 24x7
    alias           24x7
    sunday          00:00-24:00
    monday          00:00-24:00
    tuesday         00:00-24:00
    wednesday       00:00-24:00
    thursday        00:00-24:00
    friday          00:00-24:00
    saturday        00:00-24:00
}}
define command {{
    command_name    check-state
    command_line    /bin/sh {w}/check_state $ARG1$
}}
define host {{
    host_name               {self.host}
    alias                   Web server one
    address                 127.0.0.1
    check_command           check-state!{self.state_file('host')}
    notification_options    d,u,r,f,s
{common}{_custom_vars(self.host_vars)}
}}
define service {{
    host_name               {self.host}
    service_description     {self.service}
    check_command           check-state!{self.state_file('service')}
    notification_options    w,u,c,r,f,s
{common}{_custom_vars(self.service_vars)}
}}
{capture}"""

    def _pagerd_cfg(self) -> str:
        """The shipped pagerd.cfg with the install paths replaced by this instance's."""
        text = PAGERD_CFG.read_text()
        assert SHIPPED_SCRIPT_PATH in text, "pagerd.cfg no longer names the script path the harness replaces"
        text = text.replace(SHIPPED_SCRIPT_PATH, f"{self.script} --log-file {self.notify_log}")
        subs = {
            "_PAGERD_URL": self.alerts_url,
            "_PAGERD_TOKEN_FILE": str(self.token_file),
            "_PAGERD_SPOOL": str(self.spool),
        }
        for var, value in subs.items():
            text, n = re.subn(rf"(?m)^(\s*{var}\s+)\S+\s*$", lambda m, value=value: m.group(1) + value, text)
            assert n == 1, f"pagerd.cfg: custom variable {var} not found exactly once"
        if self.env_macros_only:
            text, n = re.subn(r" --macro '[A-Z_]+=\$[A-Z_]+\$'", "", text)
            assert n > 0
        return text

    # ---- state the checks report
    def set_service(self, state: str, output: str, *, force: bool = True) -> None:
        f = self.state_file("service")
        _write(f, output.rstrip("\n") + "\n")
        _write(f.with_name(f.name + ".rc"), f"{SERVICE_STATES[state]}\n")
        if force:
            self.command(f"SCHEDULE_FORCED_SVC_CHECK;{self.host};{self.service};{int(time.time())}")

    def set_host(self, state: str, output: str, *, force: bool = True) -> None:
        f = self.state_file("host")
        _write(f, output.rstrip("\n") + "\n")
        _write(f.with_name(f.name + ".rc"), f"{HOST_STATES[state]}\n")
        if force:
            self.command(f"SCHEDULE_FORCED_HOST_CHECK;{self.host};{int(time.time())}")

    def command(self, line: str) -> None:
        """Write one external command (`[time] CMD;args`) to the command file."""
        fd = os.open(self.command_file, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, f"[{int(time.time())}] {line}\n".encode())
        finally:
            os.close(fd)

    # ---- lifecycle
    def validate(self) -> str:
        r = subprocess.run([NAGIOS_BIN, "-v", str(self.cfg)], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"nagios4 -v failed ({r.returncode}):\n{r.stdout[-4000:]}{r.stderr[-2000:]}")
        return r.stdout

    def start(self, timeout: float = START_TIMEOUT) -> NagiosProcess:
        if self.workdir is None or not self.cfg.exists():
            self.write_config()
        self.validate()
        out = open(self.stdout_file, "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAGIOS_")}
        env.pop("PAGERD_WEBHOOK_TOKEN", None)  # the script must use the token file
        self.proc = subprocess.Popen(
            [NAGIOS_BIN, str(self.cfg)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=env,
        )
        out.close()

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"nagios4 exited with {self.proc.returncode}:\n{self.tail()}")
            return (
                self.command_file.exists()
                and self.command_file.is_fifo()
                and self._logged("Successfully launched command file worker")
            )

        try:
            _bounded_wait(ready, timeout, 0.05, "nagios4 ready")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def cleanup(self) -> None:
        self.stop()
        if self._owned_dir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- observation
    def _logged(self, text: str) -> bool:
        try:
            return text in self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return False

    def tail(self, n: int = 60) -> str:
        parts = []
        for f in (self.stdout_file, self.log_file, self.notify_log):
            try:
                lines = f.read_text(errors="replace").splitlines()[-n:]
            except FileNotFoundError:
                continue
            parts.append(f"==> {f} <==\n" + "\n".join(lines))
        return "\n".join(parts)

    def notifications_logged(self) -> list[str]:
        """The `SERVICE NOTIFICATION:`/`HOST NOTIFICATION:` lines of the pagerd contact."""
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [line for line in lines if " NOTIFICATION: pagerd;" in line]

    def captured(self) -> list[dict]:
        """Environments recorded by the envcapture contact, oldest first."""
        try:
            return [json.loads(line) for line in self.capture_file.read_text().splitlines() if line.strip()]
        except FileNotFoundError:
            return []

    def spooled(self) -> list[str]:
        return sorted(p.name for p in self.spool.glob("*.event"))

    def rejected(self) -> list[str]:
        return sorted(p.name for p in (self.spool / "rejected").glob("*.event"))

    def wait(self, predicate, timeout: float = 20.0, what: str = "condition"):
        def check():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"nagios4 exited with {self.proc.returncode}:\n{self.tail()}")
            return predicate()

        try:
            return _bounded_wait(check, timeout, 0.1, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.tail()}") from None

    def flush(self, timeout: float = 15.0) -> subprocess.CompletedProcess:
        """Run `pagerd-notify --flush` as user nagios, as a cron job or timer would."""
        return subprocess.run(
            [
                "/usr/bin/python3",
                str(self.script),
                "--flush",
                "--url",
                self.alerts_url,
                "--token-file",
                str(self.token_file),
                "--spool",
                str(self.spool),
                "--log-file",
                str(self.notify_log),
            ],
            user="nagios",
            group="nagios",
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PATH": "/usr/bin:/bin"},
            cwd="/",
        )


# ---------------------------------------------------------------------------------------------
# A stand-in receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    status: int
    at: float


class AlertReceiver:
    """Loopback HTTP server: records POSTs to /api/v1/alerts/nagios, answers the statuses queued
    in `responses` (then `default_status`), folds accepted notifications into incidents like
    pagerd (PROBLEM opens, RECOVERY resolves, ACKNOWLEDGEMENT acknowledges; key HOSTNAME/SERVICEDESC
    or HOSTNAME) and serves them at GET /api/v1/incidents. Same interface as PagerdProcess."""

    def __init__(
        self,
        port: int | None = None,
        *,
        webhook_token: str = "test-webhook-token",
        admin_token: str = "test-admin-token",
        delay: float = 0.0,
    ):
        self.port = port or free_port()
        self.webhook_token = webhook_token
        self.admin_token = admin_token
        self.delay = delay
        self.responses: list[int] = []
        self.default_status = 202
        self.received: list[Received] = []
        self._incidents: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alerts_url(self) -> str:
        return self.url + NAGIOS_ALERTS_PATH

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    # ---- the pagerd-like interface
    def incidents(self, **query: str) -> list[dict]:
        with self._lock:
            out = [dict(i) for i in self._incidents]
        return [i for i in out if all(str(i.get(k)) == v for k, v in query.items())]

    def wait_for(self, predicate, timeout: float = 30.0, interval: float = 0.1):
        return _bounded_wait(lambda: predicate(self), timeout, interval)

    def start(self) -> AlertReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.headers.get("Authorization") != f"Bearer {receiver.admin_token}":
                    return self._answer(401, {"error": "unauthorized"})
                if self.path.split("?")[0] == "/api/v1/incidents":
                    return self._answer(200, receiver.incidents())
                if self.path == "/readyz":
                    return self._answer(200, {"ready": True})
                return self._answer(404, {"error": "not found"})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)
                if self.path != NAGIOS_ALERTS_PATH:
                    return self._answer(404, {"error": "not found"})
                ctype = self.headers.get("Content-Type", "")
                try:
                    if ctype.startswith("application/json"):
                        fields = {k: str(v) for k, v in json.loads(raw).items()}
                    else:
                        fields = {
                            k: v[-1]
                            for k, v in urllib.parse.parse_qs(
                                raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw)
                            ).items()
                        }
                except ValueError as e:
                    return self._answer(400, {"error": f"bad body: {e}"})
                with receiver._lock:
                    if self.headers.get("Authorization") != f"Bearer {receiver.webhook_token}":
                        status = 401
                    elif receiver.responses:
                        status = receiver.responses.pop(0)
                    elif not fields.get("NOTIFICATIONTYPE") or not fields.get("HOSTNAME"):
                        status = 400
                    else:
                        status = receiver.default_status
                    receiver.received.append(Received(self.path, dict(self.headers), fields, status, time.time()))
                    if 200 <= status < 300:
                        receiver._fold(fields)
                self._answer(status, {"status": status})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"alert-receiver-{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def _fold(self, f: dict[str, str]) -> None:
        key = f["HOSTNAME"] + (f"/{f['SERVICEDESC']}" if f.get("SERVICEDESC") else "")
        kind = f["NOTIFICATIONTYPE"]
        open_ = [i for i in self._incidents if i["dedup_key"] == key and i["state"] != "resolved"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if kind == "PROBLEM":
            if open_:  # a repeat (e.g. WARNING -> CRITICAL) updates the incident's one alert
                open_[0]["summary"] = f.get("SERVICEOUTPUT") or f.get("HOSTOUTPUT", "")
            else:
                self._incidents.append(
                    {
                        "id": len(self._incidents) + 1,
                        "state": "triggered",
                        "source": "nagios",
                        "dedup_key": key,
                        "summary": f.get("SERVICEOUTPUT") or f.get("HOSTOUTPUT", ""),
                        "alert_count": 1,
                        "created_at": now,
                        "resolved_at": None,
                    }
                )
        elif kind == "RECOVERY" and open_:
            open_[0].update(state="resolved", resolved_at=now)
        elif kind == "ACKNOWLEDGEMENT" and open_:
            open_[0]["state"] = "acknowledged"
