"""`pagerd user add|invite|disable|list` on the example config: the first admin, an invitation link that
works once, refusals with a clear message."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timezone

import pytest

from pager import cli
from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV, manual_clock_config

NOW = datetime(2026, 12, 3, 13, 0, tzinfo=timezone.utc)


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    for k, v in EXAMPLE_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PAGERD_DB", str(tmp_path / "pagerd.db"))
    monkeypatch.setenv("PAGERD_ALLOW_TEST_CLOCK", "1")
    monkeypatch.delenv("PAGERD_CONFIG", raising=False)
    config = manual_clock_config(tmp_path / "pagerd.yaml", NOW, EXAMPLE_CONFIG)
    assert cli.main(["migrate", "-c", str(config)]) == 0
    capsys.readouterr()

    def go(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = cli.main(["user", argv[0], "-c", str(config), *argv[1:]])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        assert "Traceback" not in err, err
        return code, out, err

    return go


def test_the_first_admin_and_an_invitation_link(run):
    code, out, _ = run("add", "--email", "Anna@Example.nl", "--role", "admin", "--person", "anna")
    assert code == 0 and "anna@example.nl" in out and "invited" in out and "pagerd user invite" in out
    code, out, err = run("invite", "--email", "anna@example.nl")
    assert code == 0
    url = out.strip()
    assert url.startswith("http://127.0.0.1:8080/ui/password/") and len(url.rsplit("/", 1)[1]) >= 43
    assert "2026-12-10T13:00:00" in err  # valid 7 days on the daemon's clock
    code, out, _ = run("invite", "--email", "anna@example.nl", "--reset", "--json")
    assert json.loads(out)["expires_at"].startswith("2026-12-03T14:00:00")


def test_a_customer_contact_with_a_password_and_the_list(run):
    code, _, _ = run(
        "add",
        "--email",
        "jan@acme.example",
        "--role",
        "customer",
        "--customer",
        "acme",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert code == 0
    code, out, _ = run("list", "--json")
    (a,) = json.loads(out)
    assert (a["email"], a["role"], a["customer"], a["has_password"]) == ("jan@acme.example", "customer", "acme", True)
    assert "password" not in json.dumps(a).replace("has_password", "")
    code, out, _ = run("disable", "--email", "JAN@acme.example")
    assert code == 0 and "disabled" in out
    code, _, err = run("invite", "--email", "jan@acme.example")
    assert code == 1 and "disabled" in err


@pytest.mark.parametrize(
    "argv, stdin, message",
    [
        (["--email", "x@acme.example", "--role", "customer"], None, "needs --customer"),
        (["--email", "x@acme.example", "--role", "customer", "--customer", "nope"], None, "no customer 'nope'"),
        (["--email", "x@example.nl", "--role", "engineer", "--person", "zed"], None, "no person 'zed'"),
        (["--email", "not-an-address", "--role", "desk"], None, "not an e-mail address"),
        (["--email", "x@example.nl", "--role", "desk", "--password-stdin"], "short\n", "at least 12"),
    ],
)
def test_refusals_say_why(run, argv, stdin, message):
    code, _, err = run("add", *argv, stdin=stdin)
    assert code == 1 and message in err


def test_a_second_account_for_an_address_and_unknown_accounts(run):
    assert run("add", "--email", "x@example.nl", "--role", "desk")[0] == 0
    code, _, err = run("add", "--email", "X@example.nl", "--role", "admin")
    assert code == 1 and "exists" in err
    code, _, err = run("invite", "--email", "nobody@example.nl")
    assert code == 1 and "no account" in err
    code, _, err = run("disable", "--email", "nobody@example.nl")
    assert code == 1 and "no account" in err
    code, _, err = run("totp-reset", "--email", "nobody@example.nl")
    assert code == 1 and "no account" in err
    code, out, _ = run("totp-reset", "--email", "X@example.nl", "--json")
    assert code == 0 and json.loads(out)["has_totp"] is False
