"""Run a real Prometheus Alertmanager on a loopback port, pointed at pagerd, for integration tests.

    am = Alertmanager(tmp_path / "am", target=pagerd.url, token=pagerd.webhook_token).start()
    am.fire({"alertname": "DiskFull", "group": "db"}, {"summary": "disk full"})
    ...
    am.resolve({"alertname": "DiskFull", "group": "db"})
    am.silence({"instance": "db2"})          # POST /api/v2/silences
    am.wait_suppressed({"instance": "db2"})  # until Alertmanager itself reports it silenced/inhibited
    am.stop()

The config has two receivers, both aimed at `target` (pagerd's base URL):
- `pagerd-webhook`: webhook_configs -> POST {target}/api/v1/alerts/alertmanager, Bearer `token`;
- `pagerd-events-v2`: pagerduty_configs -> POST {target}/v2/enqueue, routing_key `token`.
`receiver="webhook"` or `receiver="events_v2"` picks the one the root route uses.
Facts about the binary (flags, timings, retries) are in shared/PEERS.md.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from .ports import free_port
from .timeouts import START_TIMEOUT

ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
AMTOOL_BIN = "/usr/bin/amtool"

RECEIVERS = {"webhook": "pagerd-webhook", "events_v2": "pagerd-events-v2"}


def rfc3339(t: datetime | None = None) -> str:
    """UTC timestamp as Alertmanager and Prometheus write them: 2024-01-02T03:04:05.678Z."""
    t = t or datetime.now(timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def http_json(
    method: str, url: str, payload: Any = None, *, timeout: float = 5.0, headers: Mapping[str, str] | None = None
) -> tuple[int, Any]:
    """A small JSON HTTP client (stdlib only): returns (status, parsed JSON or text)."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def parse_metrics(text: str) -> dict[str, float]:
    """Exposition text -> {'name{labels}': value} (labels as written); enough for test assertions."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


class PeerProcess:
    """A peer program run as our own child on a loopback port; stopped by its own PID only."""

    name = "peer"
    ready_path = "/-/ready"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write config files before start."""

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def start(self, timeout: float = START_TIMEOUT):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.name} already running (pid {self.proc.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM our own child, SIGKILL it if it does not exit in `timeout` seconds."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start() if not self.running() else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def get(self, path: str) -> tuple[int, Any]:
        return http_json("GET", self.url + path)

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as r:
            return parse_metrics(r.read().decode())

    def wait_for(self, predicate, timeout: float = 20.0, interval: float = 0.2):
        """Poll `predicate(self)` until truthy; return it (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate(self)
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(
            f"{self.name}: condition not met in {timeout}s; last value: {last!r}\n"
            f"--- {self.name} log ---\n{self.log_tail(2000)}"
        )


class Alertmanager(PeerProcess):
    """One Alertmanager with a generated config; `fire()`/`resolve()` inject alerts like Prometheus does."""

    name = "alertmanager"

    def __init__(
        self,
        workdir: Path,
        *,
        target: str,
        token: str,
        receiver: str = "webhook",
        group_by: Sequence[str] = ("alertname", "group"),
        group_wait: str = "1s",
        group_interval: str = "3s",
        repeat_interval: str = "4h",
        inhibit_rules: Sequence[Mapping[str, Any]] = (),
        port: int | None = None,
        binary: str = ALERTMANAGER_BIN,
    ) -> None:
        super().__init__(workdir, port)
        if receiver not in RECEIVERS:
            raise ValueError(f"receiver must be one of {sorted(RECEIVERS)}")
        self.target = target.rstrip("/")
        self.token = token
        self.receiver = receiver
        self.group_by = list(group_by)
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.inhibit_rules = [dict(r) for r in inhibit_rules]
        self.binary = binary
        self._annotations: dict[tuple, dict[str, str]] = {}  # last annotations posted per label set

    # -- config ---------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.workdir / "alertmanager.yml"

    @property
    def webhook_url(self) -> str:
        return self.target + "/api/v1/alerts/alertmanager"

    @property
    def enqueue_url(self) -> str:
        return self.target + "/v2/enqueue"

    def config(self) -> dict:
        cfg = self._config()
        if self.inhibit_rules:
            cfg["inhibit_rules"] = self.inhibit_rules
        return cfg

    def _config(self) -> dict:
        return {
            "route": {
                "receiver": RECEIVERS[self.receiver],
                "group_by": self.group_by,
                "group_wait": self.group_wait,
                "group_interval": self.group_interval,
                "repeat_interval": self.repeat_interval,
            },
            "receivers": [
                {
                    "name": RECEIVERS["webhook"],
                    "webhook_configs": [
                        {
                            "url": self.webhook_url,
                            "send_resolved": True,
                            "http_config": {"authorization": {"type": "Bearer", "credentials": self.token}},
                        }
                    ],
                },
                {
                    "name": RECEIVERS["events_v2"],
                    "pagerduty_configs": [
                        {
                            "url": self.enqueue_url,
                            "routing_key": self.token,
                            "send_resolved": True,
                            "severity": "critical",
                        }
                    ],
                },
            ],
        }

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        return self.config_path

    def prepare(self) -> None:
        self.write_config()
        (self.workdir / "data").mkdir(exist_ok=True)

    def check_config(self, amtool: str = AMTOOL_BIN) -> subprocess.CompletedProcess:
        """`amtool check-config` on the generated file."""
        self.write_config()
        return subprocess.run(
            [amtool, "check-config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # no gossip port on 0.0.0.0:9094
            f"--web.external-url={self.url}",
            "--log.level=info",
        ]

    # -- group keys, as Alertmanager computes them ------------------------------------------------
    def group_key(self, labels: Mapping[str, str], route_key: str = "{}") -> str:
        """The groupKey of the group an alert with `labels` lands in (root route: route key `{}`).

        Alertmanager: `routeKey + ":" + groupLabels.String()`, the group labels sorted by name,
        `name="value"` strings sorted and joined with ", " inside braces (model.LabelSet.String;
        Go's %q quoting equals JSON's for plain ASCII values)."""
        pairs = sorted(f"{k}={json.dumps(labels[k])}" for k in self.group_by if k in labels)
        body = ", ".join(pairs)
        return f"{route_key}:{{{body}}}"

    def dedup_key(self, labels: Mapping[str, str], route_key: str = "{}") -> str:
        """The Events v2 `dedup_key` pagerduty_configs sends: sha256 hex of the group key."""
        return hashlib.sha256(self.group_key(labels, route_key).encode()).hexdigest()

    # -- alerts -----------------------------------------------------------------------------------
    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        status, body = http_json("POST", self.url + "/api/v2/alerts", list(alerts))
        if status != 200:
            raise AssertionError(f"POST /api/v2/alerts -> {status}: {body}")

    @staticmethod
    def alert(
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
        *,
        starts_at: datetime | str | None = None,
        ends_at: datetime | str | None = None,
        generator_url: str | None = None,
    ) -> dict:
        a: dict[str, Any] = {"labels": dict(labels), "annotations": dict(annotations or {})}
        if starts_at is not None:
            a["startsAt"] = starts_at if isinstance(starts_at, str) else rfc3339(starts_at)
        if ends_at is not None:
            a["endsAt"] = ends_at if isinstance(ends_at, str) else rfc3339(ends_at)
        if generator_url:
            a["generatorURL"] = generator_url
        return a

    def fire(
        self,
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
        *,
        starts_at: datetime | str | None = None,
    ) -> dict:
        """Post one firing alert (startsAt defaults to now); returns what was posted."""
        a = self.alert(labels, annotations, starts_at=starts_at or datetime.now(timezone.utc))
        self.post_alerts([a])
        self._annotations[self._key(labels)] = a["annotations"]
        return a

    def fire_many(self, alerts: Sequence[tuple[Mapping[str, str], Mapping[str, str] | None]]) -> list[dict]:
        """Post several firing alerts in one request, so they land in the same first notification."""
        now = datetime.now(timezone.utc)
        posted = [self.alert(labels, ann, starts_at=now) for labels, ann in alerts]
        self.post_alerts(posted)
        for a in posted:
            self._annotations[self._key(a["labels"])] = a["annotations"]
        return posted

    def resolve(self, labels: Mapping[str, str], annotations: Mapping[str, str] | None = None) -> dict:
        """Resolve an alert: the same labels with endsAt = now. Like Prometheus, it re-sends the
        annotations last fired with these labels unless given (Alertmanager keeps the newest)."""
        if annotations is None:
            annotations = self._annotations.get(self._key(labels))
        a = self.alert(labels, annotations, ends_at=datetime.now(timezone.utc))
        self.post_alerts([a])
        return a

    @staticmethod
    def _key(labels: Mapping[str, str]) -> tuple:
        return tuple(sorted(labels.items()))

    def alerts(self, **filters: str) -> list[dict]:
        """GET /api/v2/alerts: Alertmanager's own view of the alerts it holds."""
        qs = "&".join(f"{k}={v}" for k, v in filters.items())
        status, body = self.get("/api/v2/alerts" + (f"?{qs}" if qs else ""))
        assert status == 200, body
        return body

    def silence(self, matchers: Mapping[str, str], *, minutes: int = 60, comment: str = "test") -> str:
        """POST /api/v2/silences: silence alerts whose labels equal `matchers`; returns the silence id."""
        now = datetime.now(timezone.utc)
        payload = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": rfc3339(now),
            "endsAt": rfc3339(now + timedelta(minutes=minutes)),
            "createdBy": "pagerd-tests",
            "comment": comment,
        }
        status, body = http_json("POST", self.url + "/api/v2/silences", payload)
        if status != 200:
            raise AssertionError(f"POST /api/v2/silences -> {status}: {body}")
        return body["silenceID"]

    def suppressed(self, labels: Mapping[str, str]) -> list[dict]:
        """The alerts holding `labels` that Alertmanager reports silenced or inhibited."""
        return [
            a
            for a in self.alerts(silenced="true", inhibited="true", active="true")
            if all(a["labels"].get(k) == v for k, v in labels.items()) and a["status"]["state"] == "suppressed"
        ]

    def wait_suppressed(self, labels: Mapping[str, str], timeout: float = 10.0) -> list[dict]:
        return self.wait_for(lambda am: am.suppressed(labels), timeout, 0.1)

    def notifications(self, integration: str = "webhook") -> tuple[float, float]:
        """(notifications sent, notifications failed) for one integration (`webhook`, `pagerduty`),
        from Alertmanager's own /metrics (summed over any further labels)."""
        sent = failed = 0.0
        tag = f'integration="{integration}"'
        for key, value in self.metrics().items():
            name = key.partition("{")[0]
            if tag not in key:
                continue
            if name == "alertmanager_notifications_total":
                sent += value
            elif name == "alertmanager_notifications_failed_total":
                failed += value
        return sent, failed
