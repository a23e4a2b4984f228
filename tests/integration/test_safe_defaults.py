"""Safe by default, against the real daemon: `pagerd serve` refuses published or short secrets off loopback
and a channel that would page nowhere; dry-run pages are `simulated`, never `sent` (timeline, metrics,
/readyz); a reload re-reads secret files and says what it cannot apply; a disabled source's credentials
never check a heartbeat in."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from tests.harness.pagerd import EXAMPLE_CONFIG, ROOT, PagerdProcess
from tests.harness.paging import _Dumper, events, fire, incident, wait_event
from tests.harness.ports import free_port

LONG_ADMIN = "admin-token-for-the-safe-defaults-test-0123"
LONG_HOOK = "webhook-token-for-the-safe-defaults-test-01"
LONG_SIGN = "signing-key-for-the-safe-defaults-test-0123"


def serve_once(p: PagerdProcess, timeout: float = 30) -> subprocess.CompletedProcess:
    """`pagerd serve` with the daemon's environment, expected to exit by itself (a refused start)."""
    return subprocess.run(
        [sys.executable, "-m", "pager", "serve", "-c", str(p.config)],
        cwd=ROOT,
        env=p.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def variant(tmp_path: Path, change) -> Path:
    """A copy of the example config after `change(doc)` (its ${VAR}s kept)."""
    doc = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    change(doc)
    path = tmp_path / "pagerd.yaml"
    path.write_text(yaml.dump(doc, Dumper=_Dumper, sort_keys=False))
    return path


def metric_lines(p: PagerdProcess, name: str) -> dict[str, float]:
    text = urllib.request.urlopen(p.url + "/metrics", timeout=5).read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{")
    }


# -- secrets --------------------------------------------------------------------------------------------
def test_serve_off_loopback_refuses_short_and_published_tokens(tmp_path: Path) -> None:
    port = free_port()
    p = PagerdProcess(
        tmp_path / "d",
        port=port,
        admin_token="short-admin-1",
        webhook_token="dev-webhook-token",
        extra_env={"PAGERD_LISTEN": f"0.0.0.0:{port}"},
    )
    p.workdir.mkdir(parents=True)
    r = serve_once(p)
    assert r.returncode == 2, r.stderr
    assert (
        "auth.admin_token: is 13 characters long; at least 32 are required when server.listen "
        f"0.0.0.0:{port} is not a loopback address" in r.stderr
    )
    for key in ("sources.alertmanager.auth.bearer", "sources.nagios.auth.bearer", "sources.events_v2.routing_keys.0"):
        assert f"{key}: is a published development value" in r.stderr
    assert "short-admin-1" not in r.stderr and "dev-webhook-token" not in r.stderr  # keys named, values never
    assert not p.db_path.exists()  # refused before anything was opened

    # the same tokens on loopback start; long, distinct own ones start anywhere
    ok = PagerdProcess(
        tmp_path / "ok",
        port=port,
        admin_token=LONG_ADMIN,
        webhook_token=LONG_HOOK,
        signing_key=LONG_SIGN,
        extra_env={"PAGERD_LISTEN": f"0.0.0.0:{port}"},
    )
    ok.start()
    ok.stop()


def test_serve_refuses_equal_admin_webhook_and_signing_secrets(tmp_path: Path) -> None:
    p = PagerdProcess(tmp_path / "d", admin_token=LONG_ADMIN, webhook_token=LONG_ADMIN, signing_key=LONG_ADMIN)
    r = serve_once(p)
    assert r.returncode == 2
    assert "sources.alertmanager.auth.bearer: must differ from auth.admin_token" in r.stderr
    assert "auth.signing_key: must differ from auth.admin_token" in r.stderr
    assert LONG_ADMIN not in r.stderr


def test_secrets_from_files_and_a_reload_that_rotates_them(tmp_path: Path) -> None:
    """admin_token_file (as a systemd credential would be) is read at start and again on SIGHUP: the rotated
    token works at once. The webhook token comes from the environment, which a running process cannot see
    change: the reload says it is fixed until a restart."""
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "admin_token").write_text(LONG_ADMIN + "\n")

    def use_file(doc: dict) -> None:
        del doc["auth"]["admin_token"]
        doc["auth"]["admin_token_file"] = "${CREDENTIALS_DIRECTORY}/admin_token"

    cfg = variant(tmp_path, use_file)
    p = PagerdProcess(tmp_path / "d", config=cfg, extra_env={"CREDENTIALS_DIRECTORY": str(creds)})
    p.start()
    try:
        assert p.request("GET", "/api/v1/incidents", token=LONG_ADMIN)[0] == 200
        assert p.request("GET", "/api/v1/incidents", token=p.admin_token)[0] == 401  # the environment's is unused
        rotated = "rotated-admin-token-from-the-file-0123456789"
        (creds / "admin_token").write_text(rotated)
        p.proc.send_signal(signal.SIGHUP)
        p.wait_for(lambda q: q.request("GET", "/api/v1/incidents", token=rotated)[0] == 200, timeout=10)
        assert p.request("GET", "/api/v1/incidents", token=LONG_ADMIN)[0] == 401
        reloaded = [json.loads(line) for line in p.log_path.read_text().splitlines() if '"config_reloaded"' in line]
        assert reloaded[-1]["secrets_reread"] == ["auth.admin_token"]
        assert reloaded[-1]["secrets_fixed_until_restart"] == [
            "auth.signing_key",
            "sources.alertmanager.auth.bearer",
            "sources.events_v2.routing_keys.0",
            "sources.nagios.auth.bearer",
        ]

        # an unreadable file: the reload fails, naming the key; the running token stays
        (creds / "admin_token").unlink()
        p.proc.send_signal(signal.SIGHUP)
        p.wait_for(lambda q: "config_reload_failed" in q.log_path.read_text(), timeout=10)
        assert "auth.admin_token_file: cannot read" in p.log_path.read_text()
        assert p.request("GET", "/api/v1/incidents", token=rotated)[0] == 200
    finally:
        p.stop()
    assert LONG_ADMIN not in p.log_path.read_text() and rotated not in p.log_path.read_text()


def test_a_reload_that_changes_a_start_only_key_is_refused_whole(tmp_path: Path) -> None:
    cfg = tmp_path / "pagerd.yaml"
    cfg.write_text(EXAMPLE_CONFIG.read_text())
    p = PagerdProcess(tmp_path / "d", config=cfg).start()
    try:
        # a new admin token together with a notifier change, which only a restart applies
        cfg.write_text(
            EXAMPLE_CONFIG.read_text()
            .replace("${PAGERD_ADMIN_TOKEN}", "rotated-admin-token")
            .replace("  simulate: []\n", "  simulate: [email]\n")
        )
        p.proc.send_signal(signal.SIGHUP)
        p.wait_for(lambda q: "config_reload_refused" in q.log_path.read_text(), timeout=10)
        (line,) = [json.loads(x) for x in p.log_path.read_text().splitlines() if "config_reload_refused" in x]
        assert line["needs_restart"] == ["notifier.simulate"]
        assert p.request("GET", "/api/v1/incidents", token=p.admin_token)[0] == 200  # the old config, whole
        assert p.request("GET", "/api/v1/incidents", token="rotated-admin-token")[0] == 401
        text = urllib.request.urlopen(p.url + "/metrics", timeout=5).read().decode()
        assert "pagerd_config_last_reload_successful 0.0" in text
    finally:
        p.stop()


# -- no silent notifier ---------------------------------------------------------------------------------
def test_serve_refuses_auto_without_twilio_account_sid(tmp_path: Path) -> None:
    """notifier.kind auto (PAGERD_NOTIFIER unset), TWILIO_ACCOUNT_SID unset: the example config's sms and voice
    contact rules would page nobody, so pagerd does not start and says what to set."""
    p = PagerdProcess(
        tmp_path / "d",
        extra_env={
            "TWILIO_AUTH_TOKEN": "twilio-auth-token-0123456789abcdef",
            "TWILIO_FROM": "+15005550006",
            "PAGERD_SMTP_HOST": "127.0.0.1",
        },
    )
    env_notifier = p.env()
    env_notifier.pop("PAGERD_NOTIFIER")
    r = subprocess.run(
        [sys.executable, "-m", "pager", "serve", "-c", str(p.config)],
        cwd=ROOT,
        env=env_notifier,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    problems = [line for line in r.stderr.splitlines() if "notifier.twilio.account_sid" in line]
    assert len(problems) == 2, r.stderr
    for channel, line in zip(("sms", "voice"), problems, strict=True):
        assert f"channel {channel} is used by paging.contact_rules but has no provider" in line
        assert "TWILIO_ACCOUNT_SID" in line and "notifier.kind: dry_run" in line
    assert "channel email" not in r.stderr  # SMTP is set
    # check-config says the same
    r2 = subprocess.run(
        [sys.executable, "-m", "pager", "check-config", str(p.config)],
        cwd=ROOT,
        env=env_notifier,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r2.returncode == 2 and r2.stderr == r.stderr


def test_dry_run_pages_are_simulated_in_the_timeline_metrics_and_readyz(tmp_path: Path) -> None:
    p = PagerdProcess(tmp_path / "d").start()  # PAGERD_NOTIFIER=dry_run
    try:
        status, ready = p.request("GET", "/readyz")
        assert status == 200 and ready["channels"] == {
            ch: {"provider": "dry_run", "live": False} for ch in ("sms", "voice", "email")
        }
        live = metric_lines(p, "pagerd_notifier_channel_live")
        assert live == {
            f'pagerd_notifier_channel_live{{channel="{ch}",provider="dry_run"}}': 0.0
            for ch in ("sms", "voice", "email")
        }
        iid = fire(p, "DryRunDisk", "disk full on db9")
        wait_event(p, iid, "paged", channel="sms")
        wait_event(p, iid, "paged", channel="email")
        paged = events(incident(p, iid), "paged")
        assert paged and {e["data"]["status"] for e in paged} == {"simulated"}
        counted = metric_lines(p, "pagerd_messages_total")
        assert counted.get('pagerd_messages_total{channel="sms",result="simulated"}', 0) >= 1
        assert not [k for k in counted if 'result="sent"' in k]
        log = p.log_path.read_text()
        assert '"channels_simulated"' in log and '"message_simulated"' in log and '"message_sent"' not in log
    finally:
        p.stop()


# -- heartbeats -----------------------------------------------------------------------------------------
def test_a_disabled_sources_credentials_never_check_a_heartbeat_in(tmp_path: Path) -> None:
    am_token, nagios_token = "alertmanager-token-of-a-disabled-source", "nagios-token-of-the-enabled-source"

    def disable_alertmanager(doc: dict) -> None:
        doc["sources"]["alertmanager"]["enabled"] = False
        doc["sources"]["alertmanager"]["auth"]["bearer"] = am_token
        doc["sources"]["nagios"]["auth"] = {"basic": {"username": "nagios", "password": nagios_token}}
        doc["sources"]["events_v2"]["enabled"] = False

    p = PagerdProcess(tmp_path / "d", config=variant(tmp_path, disable_alertmanager)).start()
    try:
        basic = "Basic " + base64.b64encode(f"nagios:{nagios_token}".encode()).decode()
        post = lambda **h: p.request("POST", "/api/v1/heartbeat/alertmanager", b"", headers=h)[0]  # noqa: E731
        assert post(Authorization=f"Bearer {am_token}") == 401  # the disabled source's token
        assert post(Authorization=f"Bearer {p.webhook_token}") == 401  # the disabled events_v2 routing key
        assert post() == 401
        assert post(Authorization=basic) == 200  # the enabled source's credentials
        # Alertmanager's Watchdog through the disabled source: refused, no check-in
        watchdog = json.dumps(
            {
                "version": "4",
                "groupKey": "{}:{alertname=\"Watchdog\"}",
                "status": "firing",
                "receiver": "pagerd",
                "groupLabels": {},
                "commonLabels": {},
                "commonAnnotations": {},
                "externalURL": "http://am",
                "truncatedAlerts": 0,
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "Watchdog"},
                        "annotations": {},
                        "startsAt": "2026-01-05T09:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": "w1",
                        "generatorURL": "",
                    }
                ],
            }
        ).encode()
        status, body = p.request("POST", "/api/v1/alerts/alertmanager", watchdog, token=am_token)
        assert status == 404, body
    finally:
        p.stop()
