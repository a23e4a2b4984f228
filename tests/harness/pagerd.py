"""Start the real pagerd daemon as a subprocess on a loopback port, for integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .ports import free_port
from .timeouts import START_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "pagerd.example.yaml"
SIGNING_KEY = "test-signing-key-0123456789abcdef"  # the example config reads it from PAGERD_SIGNING_KEY
# What the example config needs from the environment (its secrets have no default), for tests that load it
# in-process: every page simulated on purpose (notifier.kind: dry_run).
EXAMPLE_ENV = {
    "PAGERD_SIGNING_KEY": SIGNING_KEY,
    "PAGERD_ADMIN_TOKEN": "test-admin-token",
    "PAGERD_WEBHOOK_TOKEN": "test-webhook-token",
    "PAGERD_NOTIFIER": "dry_run",
}
# Timeline entries the paging engine writes on its own schedule; tests about ingestion leave them out.
# (A tuple: `kind in ENGINE_KINDS` in Python, and f"... NOT IN {ENGINE_KINDS}" is valid SQL.)
ENGINE_KINDS = (
    "routed",
    "paging",
    "paged",
    "escalated",
    "delivery",
    "desk_notified",
    "escalation_exhausted",
    "response_target_breached",
    "escalate_requested",
)


def manual_clock_config(dest: Path, start: datetime, config: Path = EXAMPLE_CONFIG) -> Path:
    """A copy of `config` (the example config) that runs pagerd on the manual clock from `start`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(config.read_text() + f"\ntesting:\n  clock: manual\n  start: {start.isoformat()}\n")
    return dest


@dataclass
class PagerdProcess:
    """One pagerd daemon: `start()`, `stop()` (SIGTERM), `kill()` (SIGKILL), `api()` for the admin API."""

    workdir: Path
    config: Path = EXAMPLE_CONFIG
    port: int = field(default_factory=free_port)
    # the mail listener's (LMTP) port: the example config's mail.listen
    mail_port: int = field(default_factory=free_port)
    webhook_token: str = "test-webhook-token"
    admin_token: str = "test-admin-token"
    signing_key: str = SIGNING_KEY
    # notifier.kind of the example config: dry_run simulates every channel; a test that pages through Twilio
    # or SMTP says auto (tests/harness/paging.py: twilio_env, smtp_env)
    notifier: str = "dry_run"
    extra_env: dict[str, str] = field(default_factory=dict)
    # the daemon's file descriptor limit (RLIMIT_NOFILE, soft and hard), as `ulimit -n` would set it
    nofile: int | None = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.workdir / "pagerd.db"

    @property
    def log_path(self) -> Path:
        return self.workdir / "pagerd.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for k in (
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
            "TWILIO_FROM",
            "PAGERD_SMTP_HOST",
            "PAGERD_CONFIG",
            "PAGERD_SUPPORT_ADDRESS",
        ):
            env.pop(k, None)
        env.update(
            PAGERD_LISTEN=f"127.0.0.1:{self.port}",
            PAGERD_MAIL_LISTEN=f"127.0.0.1:{self.mail_port}",
            PAGERD_DB=str(self.db_path),
            PAGERD_WEBHOOK_TOKEN=self.webhook_token,
            PAGERD_ADMIN_TOKEN=self.admin_token,
            PAGERD_SIGNING_KEY=self.signing_key,
            PAGERD_NOTIFIER=self.notifier,
            PAGERD_PUBLIC_URL=self.url,
            PAGERD_ALLOW_TEST_CLOCK="1",  # a config with testing.clock: manual runs (never set in production)
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = START_TIMEOUT) -> PagerdProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pager", "serve", "-c", str(self.config)],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=None if self.nofile is None else self._limit_files,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pagerd exited with {self.proc.returncode}:\n{self.log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"pagerd not ready in {timeout}s:\n{self.log_path.read_text()[-4000:]}")

    def _limit_files(self) -> None:  # in the child, before exec
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, object]:
        """Plain HTTP request; returns (status, parsed JSON or text)."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def api(self, method: str, path: str, payload: object | None = None) -> tuple[int, object]:
        """Admin API call with the admin token."""
        body = None if payload is None else json.dumps(payload).encode()
        return self.request(method, path, body, token=self.admin_token)

    def incidents(self, **query: str) -> list[dict]:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        status, body = self.api("GET", "/api/v1/incidents" + (f"?{qs}" if qs else ""))
        assert status == 200, body
        return body  # type: ignore[return-value]

    def wait_for(self, predicate, timeout: float = 30.0, interval: float = 0.2):
        """Poll `predicate(self)` until it returns something truthy; return it."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate(self)
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met in {timeout}s; last value: {last!r}")

    # -- the manual clock (config testing.clock: manual) -------------------------------------------------
    def now(self) -> datetime:
        """The daemon's now on its manual clock."""
        status, body = self.api("GET", "/api/v1/testing/clock")
        assert status == 200, (status, body)
        return _instant(body["now"])  # type: ignore[index]

    def advance(self, by: str | timedelta) -> datetime:
        """Move the daemon's manual clock forward by `by` ("15m", "2s", or a timedelta) and return the new
        now, once the paging engine has run a whole tick at it: what fell due has happened."""
        by = f"{by.total_seconds():g}s" if isinstance(by, timedelta) else by
        return self._move({"advance": by})

    def set_clock(self, to: datetime) -> datetime:
        """Move the daemon's manual clock to `to` (aware), forward or back (a wall clock stepped back, as NTP
        does); as `advance`."""
        return self._move({"set": to.isoformat()})

    def _move(self, body: dict) -> datetime:
        status, answer = self.api("POST", "/api/v1/testing/clock", body)
        assert status == 200, (status, answer)
        assert answer["ticked"], f"the engine ran no tick at the new now: {answer}"  # type: ignore[index]
        return _instant(answer["now"])  # type: ignore[index]


def _instant(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))
