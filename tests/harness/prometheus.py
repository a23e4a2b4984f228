"""Run a real Prometheus on a loopback port: it scrapes pagerd's /metrics and sends alerts to
an Alertmanager harness, with a rule file the test writes.

    prom = Prometheus(tmp_path / "prom", scrape_target=pagerd.url, alertmanager=am).start()
    prom.wait_for(lambda p: p.target_health("pagerd") == "up")

Flags and timings are in shared/PEERS.md (resend delay 5 s; a `for: 2s` rule reaches
Alertmanager 6-10 s after start).
"""

from __future__ import annotations

import subprocess
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .alertmanager import Alertmanager, PeerProcess, http_json

PROMETHEUS_BIN = "/usr/bin/prometheus"
PROMTOOL_BIN = "/usr/bin/promtool"

DEFAULT_RULE = {
    "alert": "PagerdTestRule",
    "expr": "vector(1)",
    "for": "2s",
    "labels": {"severity": "critical", "group": "prometheus-rule", "team": "ops"},
    "annotations": {"summary": "synthetic always-firing rule from the Prometheus harness"},
}


def promtool_check_metrics(text: str, promtool: str = PROMTOOL_BIN) -> subprocess.CompletedProcess:
    """`promtool check metrics` with exposition `text` on stdin (exit 0 and no output when clean)."""
    return subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


class Prometheus(PeerProcess):
    name = "prometheus"

    def __init__(
        self,
        workdir: Path,
        *,
        scrape_target: str | None = None,
        alertmanager: Alertmanager | str | None = None,
        rules: Sequence[dict] | None = (DEFAULT_RULE,),
        job: str = "pagerd",
        metrics_path: str = "/metrics",
        bearer_token: str | None = None,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        port: int | None = None,
        binary: str = PROMETHEUS_BIN,
    ) -> None:
        super().__init__(workdir, port)
        self.scrape_target = scrape_target
        self.alertmanager = alertmanager
        self.rules = list(rules or [])
        self.job = job
        self.metrics_path = metrics_path
        self.bearer_token = bearer_token
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.binary = binary

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    @property
    def rules_path(self) -> Path:
        return self.workdir / "rules.yml"

    @staticmethod
    def _hostport(url: str) -> str:
        u = urllib.parse.urlsplit(url if "//" in url else f"http://{url}")
        return u.netloc

    def config(self) -> dict:
        cfg: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "scrape_configs": [],
        }
        if self.rules:
            cfg["rule_files"] = [str(self.rules_path)]
        if self.alertmanager is not None:
            am_url = self.alertmanager.url if isinstance(self.alertmanager, Alertmanager) else self.alertmanager
            cfg["alerting"] = {
                "alertmanagers": [
                    {
                        "api_version": "v2",
                        "static_configs": [{"targets": [self._hostport(am_url)]}],
                    }
                ]
            }
        if self.scrape_target is not None:
            job: dict[str, Any] = {
                "job_name": self.job,
                "metrics_path": self.metrics_path,
                "scrape_interval": self.scrape_interval,
                "static_configs": [{"targets": [self._hostport(self.scrape_target)]}],
            }
            if self.bearer_token:
                job["authorization"] = {"type": "Bearer", "credentials": self.bearer_token}
            cfg["scrape_configs"].append(job)
        return cfg

    def rules_config(self) -> dict:
        return {"groups": [{"name": "pagerd-harness", "interval": self.evaluation_interval, "rules": self.rules}]}

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.rules:
            self.rules_path.write_text(yaml.safe_dump(self.rules_config(), sort_keys=False))
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        return self.config_path

    def prepare(self) -> None:
        self.write_config()
        (self.workdir / "data").mkdir(exist_ok=True)

    def check_config(self, promtool: str = PROMTOOL_BIN) -> subprocess.CompletedProcess:
        """`promtool check config` (it checks the rule files too)."""
        self.write_config()
        return subprocess.run(
            [promtool, "check", "config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            "--web.enable-lifecycle",
            "--rules.alert.resend-delay=5s",
            "--log.level=info",
        ]

    # -- API --------------------------------------------------------------------------------------
    def api(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200 and isinstance(body, dict) and body.get("status") == "success", (path, status, body)
        return body["data"]

    def targets(self) -> list[dict]:
        """Active targets from /api/v1/targets (each with `labels`, `health`, `lastError`, ...)."""
        return self.api("/api/v1/targets?state=active")["activeTargets"]

    def target(self, job: str | None = None) -> dict | None:
        job = job or self.job
        for t in self.targets():
            if t.get("labels", {}).get("job") == job:
                return t
        return None

    def target_health(self, job: str | None = None) -> str | None:
        t = self.target(job)
        return t.get("health") if t else None

    def query(self, expr: str) -> list[dict]:
        return self.api("/api/v1/query?query=" + urllib.parse.quote(expr))["result"]

    def alerts(self) -> list[dict]:
        """Alerts of Prometheus's rules (`state` pending|firing)."""
        return self.api("/api/v1/alerts")["alerts"]

    def alertmanagers(self) -> list[dict]:
        return self.api("/api/v1/alertmanagers")["activeAlertmanagers"]

    def reload(self) -> None:
        self.write_config()
        status, body = http_json("POST", self.url + "/-/reload")
        assert status == 200, (status, body)
