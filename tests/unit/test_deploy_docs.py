"""The deployment guide (README: Deploying to production) and the files it shows stay true to each other:
the environment file names every variable the example config reads, and the README shows the shipped
environment file and nginx site as they are."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "pagerd.example.yaml"
ENV_FILE = ROOT / "deploy" / "systemd" / "pagerd.env.example"
NGINX_SITE = ROOT / "deploy" / "nginx" / "pagerd.conf"
README = ROOT / "README.md"
# set by systemd itself for LoadCredential= (README: Security), never in the environment file
NOT_IN_ENV_FILE = {"CREDENTIALS_DIRECTORY"}


def strings(node: object):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def config_variables() -> set[str]:
    """Every ${VAR} / ${VAR:-default} in the example config's values (its comments are left out: YAML drops
    them)."""
    doc = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    return {m for s in strings(doc) for m in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", s)}


def env_file_variables() -> set[str]:
    """The variables the environment file sets or shows commented with their default."""
    return set(re.findall(r"(?m)^#?([A-Z][A-Z0-9_]*)=", ENV_FILE.read_text()))


def test_the_environment_file_names_every_variable_the_example_config_reads() -> None:
    read = config_variables() - NOT_IN_ENV_FILE
    assert {"PAGERD_LISTEN", "PAGERD_PUBLIC_URL", "PAGERD_ADMIN_TOKEN", "TWILIO_AUTH_TOKEN"} <= read  # sanity
    missing = sorted(read - env_file_variables())
    assert not missing, f"deploy/systemd/pagerd.env.example lacks {missing}"
    stale = sorted(env_file_variables() - read)
    assert not stale, f"deploy/systemd/pagerd.env.example names variables the example config never reads: {stale}"


def test_the_environment_file_leaves_every_secret_to_fill_in() -> None:
    text = ENV_FILE.read_text()
    for secret in ("PAGERD_WEBHOOK_TOKEN", "PAGERD_ADMIN_TOKEN", "PAGERD_SIGNING_KEY", "TWILIO_AUTH_TOKEN"):
        assert re.search(rf"(?m)^{secret}=$", text), secret
    assert re.search(r"(?m)^PAGERD_NOTIFIER=auto$", text)  # never dry_run in production
    assert re.search(r"(?m)^PAGERD_PUBLIC_URL=https://", text)


def test_the_readme_shows_the_shipped_environment_file_and_nginx_site() -> None:
    readme = README.read_text()
    section = readme[readme.index("## Deploying to production") :]
    section = section[: section.index("\n## ", 1)]
    assert ENV_FILE.read_text() in section, "README's environment file differs from deploy/systemd/pagerd.env.example"
    assert NGINX_SITE.read_text() in section, "README's nginx site differs from deploy/nginx/pagerd.conf"


def test_the_configuration_table_names_every_variable_the_example_config_reads() -> None:
    readme = README.read_text()
    table = readme[readme.index("The example config reads these environment variables") :]
    table = table[: table.index("\n\n", table.index("| variable"))]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", table))
    missing = sorted(config_variables() - NOT_IN_ENV_FILE - named)
    assert not missing, f"README (Configuration) does not list {missing}"
