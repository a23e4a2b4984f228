"""The config folder: every good file loads, every bad file fails with exactly its `# expect:` lines."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pager.config import ConfigError, load

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


def test_example_config_loads() -> None:
    cfg = load(ROOT / "config" / "pagerd.example.yaml", env={})
    assert cfg.server.listen == "127.0.0.1:8080"
    assert cfg.storage.sqlite.path == "var/pagerd.db"
    assert cfg.sources.alertmanager.auth.bearer.get_secret_value() == "dev-webhook-token"
    env = {"PAGERD_LISTEN": "127.0.0.1:9999", "PAGERD_DB": "/tmp/x.db", "PAGERD_WEBHOOK_TOKEN": "hook-token-1",
           "PAGERD_ADMIN_TOKEN": "admin-token-1"}
    cfg = load(ROOT / "config" / "pagerd.example.yaml", env=env)
    assert cfg.server.port == 9999 and cfg.storage.sqlite.path == "/tmp/x.db"
    assert cfg.auth.admin_token.get_secret_value() == "admin-token-1"
    assert [k.get_secret_value() for k in cfg.sources.events_v2.routing_keys] == ["hook-token-1"]


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
    with pytest.raises(Exception):
        cfg.server.listen = "0.0.0.0:1"  # type: ignore[misc]


def test_secrets_never_in_errors_or_repr(tmp_path: Path) -> None:
    secret = "super-secret-token-value"
    p = tmp_path / "c.yaml"
    p.write_text(f"auth: {{admin_token: {secret}}}\nsources: {{alertmanager: {{auth: {{bearer: {secret}}}}}}}\n"
                 "server: {max_body_bytes: nope}\n")
    with pytest.raises(ConfigError) as info:
        load(p, env={})
    assert secret not in str(info.value)
    p.write_text(f"auth: {{admin_token: {secret}}}\nsources: {{alertmanager: {{auth: {{bearer: {secret}}}}}}}\n")
    cfg = load(p, env={})
    assert secret not in repr(cfg) and secret not in str(cfg)


@pytest.mark.parametrize("name,code", [("good/minimal.yaml", 0), ("bad/unknown_key.yaml", 2)])
def test_check_config_cli(name: str, code: int) -> None:
    r = subprocess.run([sys.executable, "-m", "pager", "check-config", str(DATA / name)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == code, r.stderr
    if code:
        assert "unknown_key.yaml:7: server.listn: unknown key" in r.stderr
    else:
        assert "OK" in r.stdout
