"""The config folder: every good file loads, every bad file fails with exactly its `# expect:` lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from pager.config import ConfigError, load, per_config
from pager.config.channels import providers
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


EXAMPLE = ROOT / "config" / "pagerd.example.yaml"
EXAMPLE_ENV = {
    "PAGERD_SIGNING_KEY": SIGNING_KEY,
    "PAGERD_ADMIN_TOKEN": "admin-token-1",
    "PAGERD_WEBHOOK_TOKEN": "hook-token-1",
    "PAGERD_NOTIFIER": "dry_run",
}


def test_example_config_loads() -> None:
    cfg = load(EXAMPLE, env=EXAMPLE_ENV)
    assert cfg.server.listen == "127.0.0.1:8080"
    assert cfg.storage.sqlite.path == str(ROOT / "var" / "pagerd.db")  # from the config's folder
    assert cfg.server.public_url == "http://127.0.0.1:8080"  # follows listen
    assert cfg.sources.alertmanager.auth.bearer.get_secret_value() == "hook-token-1"
    assert cfg.auth.signing_key.get_secret_value() == SIGNING_KEY and cfg.auth.previous_signing_keys == ()
    assert cfg.storage.retention.raw_bodies == cfg.storage.retention.delivery_ids == timedelta(days=30)
    assert cfg.notifier.kind == "dry_run" and cfg.notifier.simulate == []
    env = {**EXAMPLE_ENV, "PAGERD_LISTEN": "127.0.0.1:9999", "PAGERD_DB": "/tmp/x.db"}
    cfg = load(EXAMPLE, env=env)
    assert cfg.server.port == 9999 and cfg.storage.sqlite.path == "/tmp/x.db"
    assert cfg.server.public_url == "http://127.0.0.1:9999"
    assert cfg.auth.admin_token.get_secret_value() == "admin-token-1"
    assert [k.get_secret_value() for k in cfg.sources.events_v2.routing_keys] == ["hook-token-1"]
    assert cfg.secret_origins == {
        "auth.admin_token": "environment PAGERD_ADMIN_TOKEN",
        "auth.signing_key": "environment PAGERD_SIGNING_KEY",
        "sources.alertmanager.auth.bearer": "environment PAGERD_WEBHOOK_TOKEN",
        "sources.nagios.auth.bearer": "environment PAGERD_WEBHOOK_TOKEN",
        "sources.events_v2.routing_keys.0": "environment PAGERD_WEBHOOK_TOKEN",
    }


@pytest.mark.parametrize(
    "var, keys",
    [
        ("PAGERD_SIGNING_KEY", ["auth.signing_key"]),
        ("PAGERD_ADMIN_TOKEN", ["auth.admin_token"]),
        (
            "PAGERD_WEBHOOK_TOKEN",
            ["sources.alertmanager.auth.bearer", "sources.nagios.auth.bearer", "sources.events_v2.routing_keys.0"],
        ),
    ],
)
def test_example_config_has_no_default_secret(var: str, keys: list[str]) -> None:
    """A secret has no default: without its variable the example config names each line and key."""
    env = {k: v for k, v in EXAMPLE_ENV.items() if k != var}
    with pytest.raises(ConfigError) as info:
        load(EXAMPLE, env=env)
    assert [i.key for i in info.value.issues] == keys
    lines = EXAMPLE.read_text().splitlines()
    for issue in info.value.issues:
        assert f"{var} is not set" in issue.message
        assert lines[issue.line - 1].strip().endswith(f"${{{var}}}")


def test_example_config_refuses_a_silent_notifier() -> None:
    """notifier.kind defaults to auto (PAGERD_NOTIFIER unset): the example's contact rules page by sms, voice
    and e-mail, and without TWILIO_ACCOUNT_SID and PAGERD_SMTP_HOST that is refused, naming what to set."""
    env = {k: v for k, v in EXAMPLE_ENV.items() if k != "PAGERD_NOTIFIER"}
    with pytest.raises(ConfigError) as info:
        load(EXAMPLE, env=env)
    got = {(i.key, i.message.split(" is used by")[0]) for i in info.value.issues}
    assert got == {
        ("notifier.twilio.account_sid", "channel sms"),
        ("notifier.twilio.account_sid", "channel voice"),
        ("notifier.smtp.host", "channel email"),
    }
    messages = "\n".join(i.message for i in info.value.issues)
    assert "TWILIO_ACCOUNT_SID" in messages and "PAGERD_SMTP_HOST" in messages and "dry_run" in messages
    cfg = load(
        EXAMPLE,
        env={
            **env,
            "TWILIO_ACCOUNT_SID": "AC123",
            "TWILIO_AUTH_TOKEN": "twilio-auth-token-0123",
            "TWILIO_FROM": "+15005550006",
            "PAGERD_SMTP_HOST": "127.0.0.1",
        },
    )
    assert providers(cfg.notifier) == {"sms": "twilio", "voice": "twilio", "email": "smtp"}


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
    p.write_text(
        auth + f"sources: {{alertmanager: {{auth: {{bearer: {secret}}}}}}}\nserver: {{max_body_bytes: nope}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load(p, env={})
    assert secret not in str(info.value)
    for auth_bad, bearer in (
        (f"auth: {{admin_token: {secret}, signing_key: {secret}}}\n", key),  # too short
        (f"auth: {{admin_token: {secret}, signing_key: {key}}}\n", key),
    ):  # a token too
        p.write_text(auth_bad + f"sources: {{alertmanager: {{auth: {{bearer: {bearer}}}}}}}\n")
        with pytest.raises(ConfigError) as info:
            load(p, env={})
        assert "auth.signing_key" in str(info.value)
        assert secret not in str(info.value) and key not in str(info.value)
    p.write_text(auth + f"sources: {{alertmanager: {{auth: {{bearer: {secret}-webhook}}}}}}\n")
    cfg = load(p, env={})
    for value in (secret, key, old):
        assert value not in repr(cfg) and value not in str(cfg)
    assert key not in repr(Keyring.of(cfg.auth)) and old not in repr(Keyring.of(cfg.auth))


@pytest.mark.parametrize("name,code", [("good/minimal.yaml", 0), ("bad/unknown_key.yaml", 2)])
def test_check_config_cli(name: str, code: int) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pager", "check-config", str(DATA / name)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == code, r.stderr
    if code:
        assert "unknown_key.yaml:8: server.listn: unknown key" in r.stderr
    else:
        assert "OK" in r.stdout


# -- secrets: development values, length off loopback, each kind its own ----------------------------------
ADMIN = "admin-token-0123456789abcdef-0123456789"  # 40 characters each, all different
HOOK = "webhook-token-0123456789abcdef-012345678"
SIGN = "signing-key-0123456789abcdef-0123456789a"


def _write(tmp_path: Path, doc: dict) -> Path:
    import yaml

    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def _doc(
    listen: str = "127.0.0.1:8080", admin: str = ADMIN, bearer: str = HOOK, signing: str = SIGN, **sources
) -> dict:
    return {
        "server": {"listen": listen, "public_url": "https://pagerd.example.nl"},
        "auth": {"admin_token": admin, "signing_key": signing},
        "sources": {"alertmanager": {"auth": {"bearer": bearer}}, **sources},
    }


def _issues(tmp_path: Path, doc: dict, env: dict | None = None) -> list[tuple[str, str]]:
    try:
        load(_write(tmp_path, doc), env=env or {})
    except ConfigError as exc:
        return [(i.key, i.message) for i in exc.issues]
    return []


SHORT = "short-token-1234"  # 16 characters
BASIC = {"basic": {"username": "am", "password": SHORT}}


@pytest.mark.parametrize(
    "doc, expect",
    [
        # on loopback: short tokens and development values are fine
        (_doc(admin=SHORT), []),
        (_doc("[::1]:8080", admin=SHORT, bearer="dev-webhook-token"), []),
        (_doc("127.9.9.9:8080", admin="dev-admin-token"), []),
        (_doc("localhost:8080", bearer=SHORT), []),
        # anywhere else: at least 32 characters, no development value
        (_doc("0.0.0.0:8080"), []),
        (_doc("10.1.2.3:8080"), []),
        (_doc("0.0.0.0:8080", admin=SHORT), [("auth.admin_token", "is 16 characters long; at least 32")]),
        (_doc("[::]:8080", bearer=SHORT), [("sources.alertmanager.auth.bearer", "is 16 characters long")]),
        (_doc("192.0.2.7:8080", admin="dev-admin-token"), [("auth.admin_token", "published development value")]),
        (
            _doc("pager.example.nl:8080", bearer="dev-webhook-token"),
            [("sources.alertmanager.auth.bearer", "published development value")],
        ),
        (
            _doc("0.0.0.0:8080", admin="make-run-development-admin-token-not-a-secret"),
            [("auth.admin_token", "published development value")],
        ),
        (
            _doc("0.0.0.0:8080", signing="make-run-development-signing-key-not-a-secret"),
            [("auth.signing_key", "published development value")],
        ),
        (_doc("0.0.0.0:8080", nagios={"auth": BASIC}), [("sources.nagios.auth.basic.password", "is 16 characters")]),
        (
            _doc("0.0.0.0:8080", events_v2={"routing_keys": [HOOK + "2", SHORT]}),
            [("sources.events_v2.routing_keys.1", "is 16 characters long")],
        ),
        # the kinds always differ, on loopback too; two webhook credentials may be equal
        (_doc(admin=HOOK), [("sources.alertmanager.auth.bearer", "must differ from auth.admin_token")]),
        (_doc(signing=ADMIN), [("auth.signing_key", "must differ from auth.admin_token")]),
        (_doc(signing=HOOK), [("auth.signing_key", "must differ from sources.alertmanager.auth.bearer")]),
        (
            _doc(nagios={"auth": {"basic": {"username": "n", "password": ADMIN}}}),
            [("sources.nagios.auth.basic.password", "must differ from auth.admin_token")],
        ),
        (
            _doc(events_v2={"routing_keys": [ADMIN]}),
            [("sources.events_v2.routing_keys.0", "must differ from auth.admin_token")],
        ),
        (_doc(nagios={"auth": {"bearer": HOOK}}, events_v2={"routing_keys": [HOOK]}), []),
        (
            {**_doc(), "notifier": {"kind": "dry_run", "twilio": {"auth_token": ADMIN}}},
            [("notifier.twilio.auth_token", "must differ from auth.admin_token")],
        ),
        (
            {**_doc(), "auth": {"admin_token": ADMIN, "signing_key": SIGN, "previous_signing_keys": [SIGN]}},
            [("auth.previous_signing_keys.0", "is the current auth.signing_key")],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_secret_rules(tmp_path: Path, doc: dict, expect: list[tuple[str, str]]) -> None:
    got = _issues(tmp_path, doc)
    assert [k for k, _ in got] == [k for k, _ in expect], got
    for (_, message), (_, part) in zip(got, expect, strict=True):
        assert part in message
        for value in (ADMIN, HOOK, SIGN, SHORT, "dev-admin-token", "dev-webhook-token"):
            assert value not in message  # keys named, values never printed


def test_the_makefile_development_secrets_are_long_distinct_and_refused_off_loopback() -> None:
    from pager.config.secrets import DEVELOPMENT_SECRETS, MIN_SECRET

    makefile = (ROOT / "Makefile").read_text()
    values = dict(re.findall(r"^export (PAGERD_\w+) \?= (\S+)$", makefile, re.M))
    secrets = [values[k] for k in ("PAGERD_ADMIN_TOKEN", "PAGERD_WEBHOOK_TOKEN", "PAGERD_SIGNING_KEY")]
    assert len(set(secrets)) == 3 and all(len(v) >= MIN_SECRET for v in secrets)
    assert set(secrets) <= DEVELOPMENT_SECRETS
    assert values["PAGERD_NOTIFIER"] == "dry_run"
    assert "DEVELOPMENT secrets" in makefile


# -- secrets from files ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, value",
    [
        (("auth", "admin_token"), ADMIN),
        (("auth", "signing_key"), SIGN),
        (
            ("auth", "previous_signing_keys"),
            ["old-signing-key-0123456789abcdef-01", "older-signing-key-0123456789abcdef"],
        ),
        (("sources", "alertmanager", "auth", "bearer"), HOOK),
        (("sources", "nagios", "auth", "bearer"), HOOK),
        (("sources", "nagios", "auth", "basic", "password"), "nagios-basic-password"),
        (("sources", "events_v2", "routing_keys"), [HOOK + "1", HOOK + "2"]),
        (("notifier", "twilio", "auth_token"), "twilio-auth-token-0123456789"),
        (("notifier", "smtp", "password"), "smtp-password-0123"),
    ],
    ids=lambda v: ".".join(v) if isinstance(v, tuple) else None,
)
def test_every_secret_key_reads_a_file(tmp_path: Path, path: tuple, value) -> None:
    from pager.config.secrets import SECRET_KEYS

    assert any(len(p) == len(path) and all(a in ("*", b) for a, b in zip(p, path, strict=True)) for p in SECRET_KEYS)
    secret_file = tmp_path / "secret"
    secret_file.write_text("\n".join(value) + "\n\n" if isinstance(value, list) else f"  {value}\n")
    doc = _doc(
        nagios={"auth": {"bearer": HOOK, "basic": {"username": "n", "password": "x" * 10}}},
        events_v2={"routing_keys": [HOOK]},
    )
    doc["notifier"] = {"kind": "dry_run", "smtp": {"host": "127.0.0.1", "username": "u"}}
    parent = doc
    for p in path[:-1]:
        parent = parent.setdefault(p, {})
    parent.pop(path[-1], None)
    parent[path[-1] + "_file"] = "${SECRETS}/secret"  # as with ${CREDENTIALS_DIRECTORY}/NAME
    cfg = load(_write(tmp_path, doc), env={"SECRETS": str(tmp_path)})
    got = cfg
    for p in path:
        got = getattr(got, p)
    got = [k.get_secret_value() for k in got] if isinstance(value, list) else got.get_secret_value()
    assert got == value
    dotted = ".".join(path) + (".0" if isinstance(value, list) else "")
    assert cfg.secret_origins[dotted] == f"file {secret_file}"


@pytest.mark.parametrize(
    "setup, expect",
    [
        ("both", "auth.admin_token_file: set admin_token or admin_token_file, not both"),
        ("missing", "auth.admin_token_file: cannot read {d}/nope: No such file or directory"),
        ("empty", "auth.admin_token_file: {d}/secret is empty"),
        ("unreadable", "auth.admin_token_file: cannot read {d}: Is a directory"),
        ("not a path", "auth.admin_token_file: expected the path of a file that holds the secret"),
    ],
)
def test_secret_file_problems(tmp_path: Path, setup: str, expect: str) -> None:
    doc = _doc()
    secret = tmp_path / "secret"
    secret.write_text("" if setup == "empty" else ADMIN)
    path = {"missing": str(tmp_path / "nope"), "unreadable": str(tmp_path), "not a path": ""}.get(setup, str(secret))
    doc["auth"]["admin_token_file"] = path
    if setup != "both":
        del doc["auth"]["admin_token"]
    got = _issues(tmp_path, doc)
    assert [f"{k}: {m}" for k, m in got] == [expect.format(d=tmp_path)]


def test_an_empty_value_beside_a_file_is_no_value(tmp_path: Path) -> None:
    """`auth_token: "${TWILIO_AUTH_TOKEN:-}"` left empty beside auth_token_file: the file holds the secret."""
    (tmp_path / "tw").write_text("twilio-token-from-a-file-0123")
    doc = {
        **_doc(),
        "notifier": {"kind": "dry_run", "twilio": {"auth_token": "", "auth_token_file": str(tmp_path / "tw")}},
    }
    assert (
        load(_write(tmp_path, doc), env={}).notifier.twilio.auth_token.get_secret_value()
        == "twilio-token-from-a-file-0123"
    )


# -- no silent notifier ------------------------------------------------------------------------------------
TWILIO = {"account_sid": "AC0123", "auth_token": "twilio-auth-token-0123456789", "from": "+15005550006"}
PEOPLE = {"anna": {"name": "Anna", "phone": "+31612345001", "email": "anna@example.nl"}}


@pytest.mark.parametrize(
    "notifier, people, rules, expect, plan",
    [
        # no people: no contact rule pages on anything
        ({}, {}, None, [], {"sms": "none", "voice": "none", "email": "none"}),
        # the default rules (sms, voice) without Twilio
        (
            {},
            PEOPLE,
            None,
            [
                ("notifier.twilio.account_sid", "channel sms is used by paging.contact_rules"),
                ("notifier.twilio.account_sid", "channel voice is used by paging.contact_rules"),
            ],
            None,
        ),
        ({"kind": "dry_run"}, PEOPLE, None, [], {"sms": "dry_run", "voice": "dry_run", "email": "dry_run"}),
        ({"twilio": TWILIO}, PEOPLE, None, [], {"sms": "twilio", "voice": "twilio", "email": "none"}),
        (
            {"twilio": {**TWILIO, "auth_token": ""}},
            PEOPLE,
            None,
            [("notifier.twilio.auth_token", "required when notifier.twilio.account_sid is set")],
            None,
        ),
        ({"twilio": {**TWILIO, "from": ""}}, PEOPLE, None, [("notifier.twilio.from", "required")], None),
        # a person's own rules replace the defaults
        (
            {"twilio": TWILIO},
            {"anna": {**PEOPLE["anna"], "contact_rules": [{"channel": "email"}]}},
            None,
            [("notifier.smtp.host", "channel email is used by people.anna.contact_rules")],
            None,
        ),
        (
            {"smtp": {"host": "127.0.0.1"}},
            {"anna": {**PEOPLE["anna"], "contact_rules": [{"channel": "email"}]}},
            None,
            [],
            {"sms": "none", "voice": "none", "email": "smtp"},
        ),
        (
            {"twilio": TWILIO},
            PEOPLE,
            [{"channel": "sms"}, {"channel": "email"}],
            [("notifier.smtp.host", "PAGERD_SMTP_HOST")],
            None,
        ),
        # simulated on purpose beside a live provider
        (
            {"twilio": TWILIO, "simulate": ["email"]},
            PEOPLE,
            [{"channel": "sms"}, {"channel": "email"}],
            [],
            {"sms": "twilio", "voice": "twilio", "email": "dry_run"},
        ),
        (
            {"twilio": TWILIO, "simulate": ["sms"]},
            PEOPLE,
            None,
            [("notifier.simulate", "channel sms has a live provider (twilio)")],
            None,
        ),
    ],
)
def test_channel_rules(tmp_path: Path, notifier: dict, people: dict, rules, expect, plan) -> None:
    doc = {**_doc(), "notifier": notifier, "people": people}
    if rules is not None:
        doc["paging"] = {"contact_rules": rules}
    got = _issues(tmp_path, doc)
    assert [k for k, _ in got] == [k for k, _ in expect], got
    for (_, message), (_, part) in zip(got, expect, strict=True):
        assert part in message
    if plan is not None:
        assert providers(load(_write(tmp_path, doc), env={}).notifier) == plan


def test_check_config_reports_the_secret_rules(tmp_path: Path) -> None:
    p = _write(tmp_path, _doc("0.0.0.0:8080", admin=SHORT, bearer=SHORT + "x"))
    r = subprocess.run(
        [sys.executable, "-m", "pager", "check-config", str(p)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.returncode == 2
    assert "auth.admin_token: is 16 characters long" in r.stderr
    assert "sources.alertmanager.auth.bearer: is 17 characters long" in r.stderr
    assert SHORT not in r.stderr


# -- every problem at once, with "did you mean" -----------------------------------------------------------
def test_check_config_reports_every_error_at_once_with_suggestions(tmp_path: Path) -> None:
    """Two unknown keys (near misses) and a bad value in one file: all three, in file order, each with file,
    line and key, the unknown keys with the key they probably meant."""
    p = tmp_path / "three.yaml"
    p.write_text(
        "auth: {admin_token: minimal-admin-token, signing_key: minimal-signing-key-0123456789abcdef}\n"
        "sources: {alertmanager: {auth: {bearer: minimal-webhook-token}}}\n"
        "server:\n"
        "  max_bodybytes: 2048\n"
        "incidents:\n"
        "  reopen_windw: 2h\n"
        "storage:\n"
        "  retention: {raw_bodies: 3 days}\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "pager", "check-config", str(p)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [
        f"{p}:4: server.max_bodybytes: unknown key (did you mean max_body_bytes?)",
        f"{p}:6: incidents.reopen_windw: unknown key (did you mean reopen_window?)",
        f"{p}:8: storage.retention.raw_bodies: Value error, invalid duration '3 days'; expected e.g. 30s, 5m, 1h, 2d",
    ]


@pytest.mark.parametrize(
    "doc, expect",
    [
        # a far miss gets no suggestion; a secret's KEY_file is a key too
        ({"servr": {}}, [("servr", "unknown key (did you mean server?)")]),
        ({"zzz": 1}, [("zzz", "unknown key")]),
        (
            {"auth": {"admin_token_fil": "/x"}},
            [("auth.admin_token_fil", "unknown key (did you mean admin_token_file?)")],
        ),
        ({"notifier": {"twilio": {"form": "+15005550006"}}}, [("notifier.twilio.form", "(did you mean from?)")]),
        ({"people": {"anna": {"name": "A", "emial": "a@x"}}}, [("people.anna.emial", "(did you mean email?)")]),
        (
            {"people": {"anna": {"nmae": "A"}}},  # the required key it misses is not reported twice
            [("people.anna.nmae", "unknown key (did you mean name?)")],
        ),
        ({"notifier": {"kind": "dryrun"}}, [("notifier.kind", "(did you mean 'dry_run'?)")]),
        # unknown keys, bad values and references of other sections together
        (
            {
                "server": {"acces_log": True},
                "people": {"anna": {"name": "A", "phone": "06"}},
                "rotations": {"r": {"participants": ["anna", "zed"]}},
            },
            [
                ("server.acces_log", "(did you mean access_log?)"),
                ("people.anna.phone", "String should match pattern"),
                ("rotations.r.participants.1", "unknown person 'zed'"),
            ],
        ),
    ],
)
def test_unknown_keys_and_near_misses(tmp_path: Path, doc: dict, expect: list[tuple[str, str]]) -> None:
    full = _doc()
    for key, value in doc.items():
        full[key] = {**full.get(key, {}), **value} if isinstance(value, dict) else value
    if "people" in doc:  # people are paged by SMS and voice: simulated here
        full.setdefault("notifier", {"kind": "dry_run"})
    got = _issues(tmp_path, full)
    assert [k for k, _ in got] == [k for k, _ in expect], got
    for (_, message), (_, part) in zip(got, expect, strict=True):
        assert part in message, message


# -- links follow the listen address ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "server, url",
    [
        ({}, "http://127.0.0.1:8080"),
        ({"listen": "127.0.0.1:8091"}, "http://127.0.0.1:8091"),
        ({"listen": "[::1]:8091"}, "http://[::1]:8091"),
        ({"listen": "pagerd.lan:80"}, "http://pagerd.lan:80"),
        ({"listen": "10.1.2.3:8080", "public_url": ""}, "http://10.1.2.3:8080"),
        ({"listen": "127.0.0.1:8091", "public_url": "https://pagerd.example.nl/"}, "https://pagerd.example.nl"),
        ({"listen": "0.0.0.0:8080", "public_url": "https://pagerd.example.nl"}, "https://pagerd.example.nl"),
    ],
)
def test_public_url_follows_listen_unless_set(tmp_path: Path, server: dict, url: str) -> None:
    doc = _doc()
    doc["server"] = server
    assert load(_write(tmp_path, doc), env={}).server.public_url == url


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "[::]:8080"])
def test_a_wildcard_listen_address_needs_a_public_url(tmp_path: Path, listen: str) -> None:
    doc = _doc()
    doc["server"] = {"listen": listen}
    assert [k for k, _ in _issues(tmp_path, doc)] == ["server.public_url"]
    assert "required when server.listen" in _issues(tmp_path, doc)[0][1]
    doc["server"] = {"listen": listen, "public_url": "ftp://x"}
    assert _issues(tmp_path, doc) == [("server.public_url", "Value error, must be an http:// or https:// URL")]


def test_example_public_url_follows_pagerd_listen() -> None:
    env = {**EXAMPLE_ENV, "PAGERD_LISTEN": "127.0.0.1:8091"}
    assert load(EXAMPLE, env=env).server.public_url == "http://127.0.0.1:8091"
    env["PAGERD_PUBLIC_URL"] = "https://pagerd.example.nl"
    assert load(EXAMPLE, env=env).server.public_url == "https://pagerd.example.nl"


# -- relative paths: from the config file's folder -------------------------------------------------------
def test_relative_paths_are_read_from_the_config_files_folder(tmp_path: Path, monkeypatch) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "secrets").mkdir()
    (etc / "secrets" / "admin").write_text(ADMIN + "\n")
    doc = _doc()
    doc["auth"] = {"admin_token_file": "secrets/admin", "signing_key": SIGN}
    doc["storage"] = {"sqlite": {"path": "../var/pagerd.db"}}
    config = _write(etc, doc)
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name in (config, Path("../etc/c.yaml")):
        cfg = load(name, env={})
        assert cfg.storage.sqlite.path == str(tmp_path / "var" / "pagerd.db")
        assert cfg.auth.admin_token.get_secret_value() == ADMIN
        assert cfg.secret_origins["auth.admin_token"] == f"file {etc / 'secrets' / 'admin'}"
    # absolute paths stay as they are; without the key the default var/pagerd.db is the config's folder's too
    doc["storage"] = {"sqlite": {"path": str(tmp_path / "abs.db")}}
    assert load(_write(etc, doc), env={}).storage.sqlite.path == str(tmp_path / "abs.db")
    del doc["storage"]
    assert load(_write(etc, doc), env={}).storage.sqlite.path == str(etc / "var" / "pagerd.db")
    assert not (elsewhere / "var").exists() and not (etc / "var").exists()  # loading creates nothing


def test_example_pagerd_db_is_read_from_the_config_folder() -> None:
    """The example config's database is the repository's var/ (config/../var), whatever the working folder;
    a relative PAGERD_DB is read from config/ as well."""
    assert load(EXAMPLE, env=EXAMPLE_ENV).storage.sqlite.path == str(ROOT / "var" / "pagerd.db")
    env = {**EXAMPLE_ENV, "PAGERD_DB": "test.db"}
    assert load(EXAMPLE, env=env).storage.sqlite.path == str(ROOT / "config" / "test.db")


def test_check_config_names_the_database_and_the_links(tmp_path: Path) -> None:
    """`PAGERD_LISTEN=127.0.0.1:8091 make run` runs check-config first: it says which database and which link
    address the config gives, from any working folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGERD_")}
    env.update(EXAMPLE_ENV, PAGERD_LISTEN="127.0.0.1:8091", PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [sys.executable, "-m", "pager", "check-config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert f"database {ROOT / 'var' / 'pagerd.db'}, links under http://127.0.0.1:8091)" in r.stdout
    assert list(tmp_path.iterdir()) == []


# -- the mail listener ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mail, expect",
    [
        ({"addresses": ["support@example.nl"]}, []),
        ({"enabled": False}, []),  # off: no addresses needed
        ({}, [("mail.addresses", "at least one support address")]),
        ({"addresses": []}, [("mail.addresses", "at least one support address")]),
        ({"addresses": ["support"]}, [("mail.addresses", "'support' is not an e-mail address")]),
        ({"addresses": ["<support@example.nl>"]}, [("mail.addresses", "is not an e-mail address")]),
        ({"addresses": ["a b@example.nl"]}, [("mail.addresses", "is not an e-mail address")]),
        ({"addresses": ["a@example..nl"]}, [("mail.addresses", "is not an e-mail address")]),
        ({"addresses": ["x" * 5000 + "@example.nl"]}, [("mail.addresses", "is not an e-mail address")]),
        ({"addresses": [["a@b.nl"]]}, [("mail.addresses.0", "Input should be a valid string")]),
        ({"addresses": "support@example.nl"}, [("mail.addresses", "Input should be a valid list")]),
        (
            {"addresses": ["support@example.nl", "Support@Example.NL"]},
            [("mail.addresses", "'Support@Example.NL' is listed twice")],
        ),
        ({"addresses": [f"s{i}@x.nl" for i in range(101)]}, [("mail.addresses", "at most 100 items")]),
        ({"addresses": ["a@b.nl"], "listen": "2424"}, [("mail.listen", "expected HOST:PORT")]),
        ({"addresses": ["a@b.nl"], "listen": "127.0.0.1:99999"}, [("mail.listen", "expected HOST:PORT")]),
        (
            {"addresses": ["a@b.nl"], "listen": "127.0.0.1:8080"},
            [("mail.listen", "the same port as server.listen (127.0.0.1:8080)")],
        ),
        ({"addresses": ["a@b.nl"], "listen": "0.0.0.0:8080"}, [("mail.listen", "the same port as server.listen")]),
        ({"addresses": ["a@b.nl"], "protocol": "esmtp"}, [("mail.protocol", "Input should be 'lmtp' or 'smtp'")]),
        (
            {"addresses": ["a@b.nl"], "max_message_bytes": 1000},
            [("mail.max_message_bytes", "greater than or equal to 65536")],
        ),
        (
            {"addresses": ["a@b.nl"], "max_message_bytes": 10**9},
            [("mail.max_message_bytes", "less than or equal to 104857600")],
        ),
        ({"addresses": ["a@b.nl"], "max_message_bytes": "25MB"}, [("mail.max_message_bytes", "valid integer")]),
        ({"addresses": ["a@b.nl"], "max_connections": 0}, [("mail.max_connections", "greater than or equal to 1")]),
        (
            {"addresses": ["a@b.nl"], "max_connections": 10**6},
            [("mail.max_connections", "less than or equal to 10000")],
        ),
        ({"addresses": ["a@b.nl"], "max_connections": "many"}, [("mail.max_connections", "valid integer")]),
        ({"addresses": ["a@b.nl"], "max_connections": None}, [("mail.max_connections", "valid integer")]),
        ({"addresses": ["a@b.nl"], "adresses": []}, [("mail.adresses", "unknown key (did you mean addresses?)")]),
    ],
)
def test_mail_config(tmp_path: Path, mail: dict, expect: list[tuple[str, str]]) -> None:
    doc = _doc()
    doc["mail"] = mail
    got = _issues(tmp_path, doc)
    assert [k for k, _ in got] == [k for k, _ in expect], got
    for (_, message), (_, part) in zip(got, expect, strict=True):
        assert part in message, message


def test_mail_config_defaults_and_the_example() -> None:
    from pager.config.model import MailConfig

    m = MailConfig(addresses=["support@example.nl"])
    assert (m.enabled, m.listen, m.protocol, m.max_message_bytes) == (True, "127.0.0.1:2424", "lmtp", 26_214_400)
    assert m.max_connections == 100
    assert (m.host, m.port) == ("127.0.0.1", 2424)
    cfg = load(EXAMPLE, env=EXAMPLE_ENV)
    assert cfg.mail is not None and cfg.mail.listen == "127.0.0.1:2424" and cfg.mail.addresses == ["support@example.nl"]
    env = {**EXAMPLE_ENV, "PAGERD_MAIL_LISTEN": "127.0.0.1:2525", "PAGERD_SUPPORT_ADDRESS": "hulp@bureau.nl"}
    cfg = load(EXAMPLE, env=env)
    assert cfg.mail is not None and (cfg.mail.port, cfg.mail.addresses) == (2525, ["hulp@bureau.nl"])
    assert load(DATA / "good" / "minimal.yaml", env={}).mail is None  # no mail section: no listener


def test_per_config_makes_its_value_once_per_config_object() -> None:
    made: list[object] = []

    @per_config
    def customers(cfg):  # type: ignore[no-untyped-def]
        made.append(cfg)
        return sorted(cfg.customers)

    first = load(EXAMPLE, env=EXAMPLE_ENV)
    reloaded = load(EXAMPLE, env=EXAMPLE_ENV)  # equal, but another object: a reload
    assert customers(first) is customers(first) and made == [first]
    assert customers(reloaded) == customers(first) and made == [first, reloaded, first]
