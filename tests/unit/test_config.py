"""The config folder: every good file loads, every bad file fails with exactly its `# expect:` lines."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from pager.config import ConfigError, load
from pager.config.model import Retention
from pager.service.signing import Keyring

DATA = Path(__file__).resolve().parents[1] / "testdata" / "configs"
ROOT = Path(__file__).resolve().parents[2]


def _env_of(path: Path) -> dict[str, str]:
    env = {}
    for m in re.finditer(r"^# expect-env: (\w+)=(.*)$", path.read_text(), re.M):
        env[m.group(1)] = m.group(2)
    return env


@pytest.mark.parametrize("path", sorted((DATA / "good").glob("*.yaml")), ids=lambda p: p.name)
def test_good_configs_load(path: Path) -> None:
    load(path, env=_env_of(path))


SIGNING_KEY = "signing-key-for-the-tests-0123456789"


def test_example_config_loads() -> None:
    cfg = load(ROOT / "config" / "pagerd.example.yaml", env={"PAGERD_SIGNING_KEY": SIGNING_KEY})
    assert cfg.server.listen == "127.0.0.1:8080"
    assert cfg.storage.sqlite.path == "var/pagerd.db"
    assert cfg.sources.alertmanager.auth.bearer.get_secret_value() == "dev-webhook-token"
    assert cfg.auth.signing_key.get_secret_value() == SIGNING_KEY and cfg.auth.previous_signing_keys == ()
    assert cfg.storage.retention.raw_bodies == cfg.storage.retention.delivery_ids == timedelta(days=30)
    env = {"PAGERD_LISTEN": "127.0.0.1:9999", "PAGERD_DB": "/tmp/x.db", "PAGERD_WEBHOOK_TOKEN": "hook-token-1",
           "PAGERD_ADMIN_TOKEN": "admin-token-1", "PAGERD_SIGNING_KEY": SIGNING_KEY}
    cfg = load(ROOT / "config" / "pagerd.example.yaml", env=env)
    assert cfg.server.port == 9999 and cfg.storage.sqlite.path == "/tmp/x.db"
    assert cfg.auth.admin_token.get_secret_value() == "admin-token-1"
    assert [k.get_secret_value() for k in cfg.sources.events_v2.routing_keys] == ["hook-token-1"]


def test_example_config_has_no_default_signing_key() -> None:
    """A secret has no default: without PAGERD_SIGNING_KEY the example config names the line and the key."""
    with pytest.raises(ConfigError) as info:
        load(ROOT / "config" / "pagerd.example.yaml", env={})
    (issue,) = info.value.issues
    assert issue.key == "auth.signing_key" and "PAGERD_SIGNING_KEY is not set" in issue.message
    lines = (ROOT / "config" / "pagerd.example.yaml").read_text().splitlines()
    assert lines[issue.line - 1].strip() == "signing_key: ${PAGERD_SIGNING_KEY}"


def test_the_retention_defaults_and_limits() -> None:
    assert Retention().raw_bodies == Retention().delivery_ids == timedelta(days=30)
    assert Retention(raw_bodies="1d", delivery_ids="24h").delivery_ids == timedelta(days=1)
    for short in ("23h", "0s", 3600):
        with pytest.raises(ValueError, match="at least 1d"):
            Retention(raw_bodies=short)


@pytest.mark.parametrize("path", sorted((DATA / "bad").glob("*.yaml")), ids=lambda p: p.name)
def test_bad_configs_fail_with_exact_errors(path: Path) -> None:
    expected = re.findall(r"^# expect: (.*)$", path.read_text(), re.M)
    assert expected, f"{path} has no '# expect:' line"
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    got = [str(i).replace(str(DATA) + "/", "") for i in info.value.issues]
    assert got == expected


def test_frozen() -> None:
    cfg = load(DATA / "good" / "minimal.yaml", env={})
    with pytest.raises(ValidationError, match="frozen"):
        cfg.server.listen = "0.0.0.0:1"  # type: ignore[misc]


def test_secrets_never_in_errors_or_repr(tmp_path: Path) -> None:
    secret = "super-secret-token-value"
    key, old = "super-secret-signing-key-0123456789", "super-secret-old-signing-key-0123456789"
    auth = f"auth: {{admin_token: {secret}, signing_key: {key}, previous_signing_keys: [{old}]}}\n"
    p = tmp_path / "c.yaml"
    p.write_text(auth + f"sources: {{alertmanager: {{auth: {{bearer: {secret}}}}}}}\n"
                 "server: {max_body_bytes: nope}\n")
    with pytest.raises(ConfigError) as info:
        load(p, env={})
    assert secret not in str(info.value)
    for auth_bad, bearer in ((f"auth: {{admin_token: {secret}, signing_key: {secret}}}\n", key),  # too short
                             (f"auth: {{admin_token: {secret}, signing_key: {key}}}\n", key)):  # a token too
        p.write_text(auth_bad + f"sources: {{alertmanager: {{auth: {{bearer: {bearer}}}}}}}\n")
        with pytest.raises(ConfigError) as info:
            load(p, env={})
        assert "auth.signing_key" in str(info.value)
        assert secret not in str(info.value) and key not in str(info.value)
    p.write_text(auth + f"sources: {{alertmanager: {{auth: {{bearer: {secret}}}}}}}\n")
    cfg = load(p, env={})
    for value in (secret, key, old):
        assert value not in repr(cfg) and value not in str(cfg)
    assert key not in repr(Keyring.of(cfg.auth)) and old not in repr(Keyring.of(cfg.auth))


@pytest.mark.parametrize("name,code", [("good/minimal.yaml", 0), ("bad/unknown_key.yaml", 2)])
def test_check_config_cli(name: str, code: int) -> None:
    r = subprocess.run([sys.executable, "-m", "pager", "check-config", str(DATA / name)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == code, r.stderr
    if code:
        assert "unknown_key.yaml:8: server.listn: unknown key" in r.stderr
    else:
        assert "OK" in r.stdout
