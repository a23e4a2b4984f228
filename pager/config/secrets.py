"""The config's secrets: read from files (`*_file` keys), and the rules every secret meets.

- Any secret key may instead be given as `KEY_file: PATH` (one of the two): the file's content, without
  the whitespace at its ends, is the secret (for a list of secrets, one per line). The file is read at
  start and again at each reload, so a secret kept in a file (or a systemd credential,
  `${CREDENTIALS_DIRECTORY}/NAME`) can be rotated without a restart.
- The admin token, the webhook credentials and the signing keys are each a secret of their own: no two
  of different kinds are equal (nor equal to a provider's credentials).
- Unless the server listens on loopback only, none of them is a known development value and each has at
  least MIN_SECRET characters.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .loader import ConfigIssue, line_of
from .model import MIN_SIGNING_KEY, Config

# the length every admin, webhook and signing secret has when pagerd is reachable from other hosts
MIN_SECRET = MIN_SIGNING_KEY

# Values that were printed in this repository (the Makefile's `make run` values, older defaults): known to
# anyone, refused unless the server listens on loopback only.
DEVELOPMENT_SECRETS = frozenset(
    {
        "dev-admin-token",
        "dev-webhook-token",
        "dev-signing-key-not-for-production",
        "make-run-development-admin-token-not-a-secret",
        "make-run-development-webhook-token-not-a-secret",
        "make-run-development-signing-key-not-a-secret",
    }
)

# Every secret key of the config model; "*" stands for any source name. Lists hold several secrets.
SECRET_KEYS: tuple[tuple[str, ...], ...] = (
    ("auth", "admin_token"),
    ("auth", "signing_key"),
    ("auth", "previous_signing_keys"),
    ("sources", "*", "auth", "bearer"),
    ("sources", "*", "auth", "basic", "password"),
    ("sources", "events_v2", "routing_keys"),
    ("notifier", "twilio", "auth_token"),
    ("notifier", "smtp", "password"),
)
_LISTS = {"previous_signing_keys", "routing_keys"}
FILE_SUFFIX = "_file"


def _expand(data: Any, pattern: tuple[str, ...], prefix: tuple = ()) -> list[tuple[str, ...]]:
    """The concrete parent paths in `data` of a secret key pattern (its last element is the key)."""
    if len(pattern) == 1:
        return [prefix] if isinstance(data, dict) else []
    if not isinstance(data, dict):
        return []
    head, rest = pattern[0], pattern[1:]
    names = list(data) if head == "*" else [head] if head in data else []
    return [p for n in names for p in _expand(data[n], rest, prefix + (n,))]


def read_secret_files(
    data: Any, lines: dict[tuple, int], fname: str, base: Path | None = None
) -> tuple[list[ConfigIssue], dict[str, str]]:
    """Replace each `KEY_file: PATH` of a secret key in `data` (in place) by `KEY: <the file's content>`.
    A relative PATH is read from the folder `base` (the config file's). Returns the problems (both keys given with a value, a file that cannot be read or is empty) and, per
    secret key read from a file, "file PATH"."""
    issues: list[ConfigIssue] = []
    origins: dict[str, str] = {}
    for pattern in SECRET_KEYS:
        key = pattern[-1]
        fkey = key + FILE_SUFFIX
        for parent_path in _expand(data, pattern):
            parent = data
            for p in parent_path:
                parent = parent[p]
            if fkey not in parent:
                continue
            floc = parent_path + (fkey,)
            dotted = ".".join(parent_path + (fkey,))

            def issue(msg: str, floc: tuple = floc, dotted: str = dotted) -> None:
                issues.append(ConfigIssue(fname, line_of(lines, floc), dotted, msg))

            path = parent.pop(fkey)
            if parent.get(key) not in (None, "", []):  # an empty value (an unset ${VAR:-}) is no value
                issue(f"set {key} or {fkey}, not both")
                continue
            if not isinstance(path, str) or not path.strip():
                issue("expected the path of a file that holds the secret")
                continue
            if base is not None:
                path = str(base / path)  # an absolute path stays as it is
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                issue(f"cannot read {path}: {exc.strerror or type(exc).__name__}")
                continue
            except UnicodeDecodeError:
                issue(f"cannot read {path}: not UTF-8")
                continue
            if key in _LISTS:
                value: Any = [line.strip() for line in text.splitlines() if line.strip()]
            else:
                value = text.strip()
            if not value:
                issue(f"{path} is empty")
                continue
            parent[key] = value
            lines[parent_path + (key,)] = line_of(lines, floc)
            origins[".".join(parent_path + (key,))] = f"file {path}"
    return issues, origins


@dataclass(frozen=True)
class SecretValue:
    loc: tuple  # key path in the config, e.g. ("auth", "admin_token")
    kind: str  # admin | webhook | signing | provider
    value: str

    @property
    def key(self) -> str:
        return ".".join(str(p) for p in self.loc)


def configured_secrets(cfg: Config) -> list[SecretValue]:
    """Every secret of the config, in the order the rules name them."""
    out = [SecretValue(("auth", "admin_token"), "admin", cfg.auth.admin_token.get_secret_value())]
    src = cfg.sources
    for name in ("alertmanager", "nagios"):
        s = getattr(src, name)
        if s is not None:
            if s.auth.bearer is not None:
                out.append(
                    SecretValue(("sources", name, "auth", "bearer"), "webhook", s.auth.bearer.get_secret_value())
                )
            if s.auth.basic is not None:
                out.append(
                    SecretValue(
                        ("sources", name, "auth", "basic", "password"),
                        "webhook",
                        s.auth.basic.password.get_secret_value(),
                    )
                )
    if src.events_v2 is not None:
        out += [
            SecretValue(("sources", "events_v2", "routing_keys", i), "webhook", k.get_secret_value())
            for i, k in enumerate(src.events_v2.routing_keys)
        ]
    out.append(SecretValue(("auth", "signing_key"), "signing", cfg.auth.signing_key.get_secret_value()))
    out += [
        SecretValue(("auth", "previous_signing_keys", i), "signing", k.get_secret_value())
        for i, k in enumerate(cfg.auth.previous_signing_keys)
    ]
    for loc, secret in (
        (("notifier", "twilio", "auth_token"), cfg.notifier.twilio.auth_token),
        (("notifier", "smtp", "password"), cfg.notifier.smtp.password),
    ):
        if secret.get_secret_value():
            out.append(SecretValue(loc, "provider", secret.get_secret_value()))
    return out


def is_loopback(host: str) -> bool:
    """Whether a listen host reaches this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to any address


_KIND = {
    "admin": "the admin token",
    "webhook": "a webhook credential",
    "signing": "a signing key",
    "provider": "a provider's credential",
}


def check_secrets(cfg: Config, issue: Callable[[tuple, str], None]) -> None:
    """The rules of the module docstring. Messages name keys, never values."""
    secrets = configured_secrets(cfg)
    current = cfg.auth.signing_key.get_secret_value().encode()
    for i, s in enumerate(secrets):
        if s.loc[:2] == ("auth", "previous_signing_keys") and hmac.compare_digest(s.value.encode(), current):
            issue(s.loc, "is the current auth.signing_key (list only keys that no longer sign)")
            continue
        for other in secrets[:i]:
            if other.kind != s.kind and hmac.compare_digest(other.value.encode(), s.value.encode()):
                issue(
                    s.loc,
                    f"must differ from {other.key} ({_KIND[s.kind]} is a secret of its own, never {_KIND[other.kind]})",
                )
    if is_loopback(cfg.server.host):
        return
    where = f"server.listen {cfg.server.listen} is not a loopback address"
    for s in secrets:
        if s.kind == "provider":
            continue  # issued by the provider: its length is theirs to choose
        if s.value in DEVELOPMENT_SECRETS:
            issue(
                s.loc,
                f"is a published development value, refused when {where}; "
                f"set a secret of your own (e.g. openssl rand -base64 32)",
            )
        elif len(s.value) < MIN_SECRET:
            issue(
                s.loc,
                f"is {len(s.value)} characters long; at least {MIN_SECRET} are required when {where} "
                f"(e.g. openssl rand -base64 32)",
            )
