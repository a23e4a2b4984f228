"""`make run`'s demo sign-ins (`pagerd user demo`): one account per role on the example data, made only for
`make run`'s development setup (every page simulated, loopback, a published development admin token) and
refused for anything else; then they sign in to the real daemon."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from pager import cli
from pager.cli_users import DEMO_ACCOUNTS, DEMO_PASSWORD
from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV, ROOT, PagerdProcess, manual_clock_config
from tests.harness.portal import PortalClient

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
MAKE_RUN_ADMIN_TOKEN = "make-run-development-admin-token-not-a-secret"  # the Makefile's


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    for k, v in EXAMPLE_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PAGERD_ADMIN_TOKEN", MAKE_RUN_ADMIN_TOKEN)
    monkeypatch.setenv("PAGERD_DB", str(tmp_path / "pagerd.db"))
    monkeypatch.setenv("PAGERD_ALLOW_TEST_CLOCK", "1")
    monkeypatch.delenv("PAGERD_CONFIG", raising=False)
    config = manual_clock_config(tmp_path / "pagerd.yaml", NOW, EXAMPLE_CONFIG)
    assert cli.main(["migrate", "-c", str(config)]) == 0
    capsys.readouterr()

    def go(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        code = cli.main(["user", argv[0], "-c", str(config), *argv[1:]])
        out, err = capsys.readouterr()
        assert "Traceback" not in err, err
        return code, out, err

    go.config = config  # type: ignore[attr-defined]
    return go


def test_demo_makes_one_account_per_role_once(run):
    code, out, _ = run("demo")
    assert code == 0
    for email, role, _, _ in DEMO_ACCOUNTS:
        assert re.search(rf"{role}\s+{re.escape(email)}\s+{DEMO_PASSWORD}", out), out
    code, again, _ = run("demo")  # a second `make run`: the same accounts, nothing new
    assert code == 0 and again == out
    code, listed, _ = run("list", "--json")
    accounts = json.loads(listed)
    assert sorted((a["email"], a["role"], a["person"], a["customer"]) for a in accounts) == sorted(DEMO_ACCOUNTS)
    assert all(a["has_password"] and a["created_by"] == "make run" for a in accounts)


def test_demo_is_refused_with_an_own_admin_token(run, monkeypatch):
    monkeypatch.setenv("PAGERD_ADMIN_TOKEN", "a-production-admin-token-0123456789abcdef")
    code, out, err = run("demo")
    assert code == 1 and "the admin token is not a development one" in err and out == ""
    _, listed, _ = run("list", "--json")
    assert json.loads(listed) == []


def test_demo_is_refused_with_a_real_notifier_or_a_public_listen_address(run):
    from pager.cli_users import demo_refusal
    from pager.config import load

    env = {**EXAMPLE_ENV, "PAGERD_ADMIN_TOKEN": MAKE_RUN_ADMIN_TOKEN, "PAGERD_ALLOW_TEST_CLOCK": "1"}
    cfg = load(run.config, env=env)
    assert demo_refusal(cfg) is None
    public = cfg.model_copy(update={"server": cfg.server.model_copy(update={"listen": "192.0.2.10:8080"})})
    assert "server.listen is not loopback" in (demo_refusal(public) or "")
    real = cfg.model_copy(update={"notifier": cfg.notifier.model_copy(update={"kind": "auto"})})
    assert "notifier.kind is not dry_run" in (demo_refusal(real) or "")


def test_make_run_prints_the_portal_and_the_demo_sign_ins():
    text = (ROOT / "Makefile").read_text()
    run_target = text[text.index("\nrun:") : text.index("\ncheck-config:")]
    assert "/ui/" in run_target and "pagerd user demo -c $(CONFIG)" in run_target
    assert run_target.index("user demo") < run_target.index("pagerd serve")


def test_the_demo_accounts_sign_in_to_the_daemon(tmp_path):
    p = PagerdProcess(workdir=tmp_path, config=manual_clock_config(tmp_path / "pagerd.yaml", NOW))
    p.admin_token = MAKE_RUN_ADMIN_TOKEN
    p.start()
    try:
        out = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "pagerd"), "user", "demo", "-c", str(p.config)],
            env={**os.environ, **p.env()},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        for email, role, _, _ in DEMO_ACCOUNTS:
            assert email in out
            browser = PortalClient(p)
            assert browser.sign_in(email, DEMO_PASSWORD).location == "/ui/tickets", role
            assert browser.get("/ui/oncall").status == (403 if role == "customer" else 200)
    finally:
        p.stop()
