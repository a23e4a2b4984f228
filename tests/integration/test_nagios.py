"""The Nagios integration: deploy/nagios/pagerd-notify and pagerd.cfg, against a real Nagios 4.

Two groups:
- the notify script alone (no Nagios): run as Nagios runs it, against a stand-in receiver that
  answers the statuses a test queues (500, 4xx, slow, down): spool, order, lock, budget.
- a real `nagios4` (tests/harness/nagios.py) with the shipped pagerd.cfg, notifying pagerd. Until
  the daemon exists (pager/cli.py), the stand-in receiver of the harness plays pagerd.

Timings (forced checks, retry_interval 1 s, 2 attempts): a PROBLEM reaches the receiver ~1 s
after the state file changes, a RECOVERY ~0.1 s. Every wait below is bounded.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.harness.nagios import NAGIOS_ALERTS_PATH, NAGIOS_BIN, NOTIFY_SCRIPT, PAGERD_CFG, AlertReceiver, NagiosProcess
from tests.harness.paging import events, wait_event

ROOT = Path(__file__).resolve().parents[2]
DAEMON_PRESENT = (ROOT / "pager" / "cli.py").exists()
NOTIFY_TIMEOUT = 15.0
PYTHON = "/usr/bin/python3"

SERVICE_KEY = "web01/HTTP login"
HOST_KEY = "web01"


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def stand_in():
    r = AlertReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def receiver(request):
    """pagerd itself when the daemon exists, else the harness's stand-in receiver."""
    if DAEMON_PRESENT:
        p = request.getfixturevalue("pagerd")
        yield p
        print(f"--- pagerd log (tail) ---\n{p.log_path.read_text(errors='replace')[-3000:]}")
    else:
        r = AlertReceiver().start()
        yield r
        r.stop()


@pytest.fixture
def nagios(receiver):
    """Factory: `nagios(**kw)` starts a real Nagios 4 notifying `receiver`; stopped after the test."""
    require_binary(NAGIOS_BIN)
    if os.geteuid() != 0:
        pytest.skip("the Nagios harness needs root (it hands its directory to user nagios)")
    started: list[NagiosProcess] = []

    def start(**kw) -> NagiosProcess:
        n = NagiosProcess(alerts_url=receiver.url + NAGIOS_ALERTS_PATH, token=receiver.webhook_token, **kw)
        started.append(n)
        return n.start()

    yield start
    for n in started:
        n.stop()
        print(f"--- nagios {n.workdir} (tail) ---\n{n.tail(40)}")
        n.cleanup()


def nagios_incidents(r) -> list[dict]:
    return [i for i in r.incidents() if i.get("source") == "nagios"]


def incident(r, key: str, state: str | None = None):
    """Predicate for wait_for: the one incident with this dedup_key (in `state`), else None."""

    def pred(_):
        found = [i for i in nagios_incidents(r) if i["dedup_key"] == key]
        if len(found) == 1 and (state is None or found[0]["state"] == state):
            return found[0]
        return None

    return pred


def run_notify(
    spool: Path,
    *args: str,
    env: dict[str, str] | None = None,
    url: str | None = None,
    token: str | None = "test-webhook-token",
    timeout: float = 20.0,
) -> subprocess.CompletedProcess:
    """Run the shipped script as Nagios would (system python, a bare environment)."""
    full_env = {"PATH": "/usr/bin:/bin"}
    if token is not None:
        full_env["PAGERD_WEBHOOK_TOKEN"] = token
    full_env.update(env or {})
    cmd = [PYTHON, str(NOTIFY_SCRIPT), "--spool", str(spool)]
    if url:
        cmd += ["--url", url]
    return subprocess.run(cmd + list(args), env=full_env, capture_output=True, text=True, timeout=timeout)


def service_env(ntype: str, state: str, output: str, **extra: str) -> dict[str, str]:
    env = {
        "NAGIOS_NOTIFICATIONTYPE": ntype,
        "NAGIOS_HOSTNAME": "web01",
        "NAGIOS_HOSTSTATE": "UP",
        "NAGIOS_SERVICEDESC": "HTTP login",
        "NAGIOS_SERVICESTATE": state,
        "NAGIOS_SERVICEOUTPUT": output,
        "NAGIOS_SERVICEPROBLEMID": "7",
        "NAGIOS_TIMET": str(int(time.time())),
        "NAGIOS_CONTACTNAME": "pagerd",
    }
    env.update({f"NAGIOS_{k}": v for k, v in extra.items()})
    return env


def spooled(spool: Path) -> list[str]:
    return sorted(p.name for p in spool.glob("*.event"))


# -- the notify script alone ----------------------------------------------------------------------
def test_script_is_executable_stdlib_only_and_uses_system_python():
    text = NOTIFY_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/python3\n")
    assert os.access(NOTIFY_SCRIPT, os.X_OK)
    r = subprocess.run(
        [PYTHON, "-I", "-S", str(NOTIFY_SCRIPT), "--help"], capture_output=True, text=True, timeout=10
    )  # -S: no site-packages, so only the standard library can import
    assert r.returncode == 0, r.stderr
    assert "--flush" in r.stdout


def test_delivers_env_macros_as_form_without_prefix(tmp_path, stand_in):
    env = service_env(
        "PROBLEM",
        "CRITICAL",
        "CRITICAL - a=b&c ü",
        LONGSERVICEOUTPUT=r"two\nthree",
        SERVICEPERFDATA="t=1s",
        SOMETHINGELSE="x",
        HOSTPROBLEMID="0",
    )
    env["NAGIOS_HOSTALIAS"] = ""  # empty macros are left out
    r = run_notify(
        tmp_path / "spool",
        "--macro",
        "HOSTNAME=web01",
        "--macro",
        "NAGIOS_SERVICEDESC=HTTP login",
        "--macro",
        "CUSTOMER=acme",
        env=env,
        url=stand_in.alerts_url,
    )
    assert r.returncode == 0, r.stderr
    (req,) = stand_in.received
    assert req.status == 202
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert req.headers["Authorization"] == "Bearer test-webhook-token"
    assert req.headers["Idempotency-Key"]
    assert req.fields == {
        "NOTIFICATIONTYPE": "PROBLEM",
        "HOSTNAME": "web01",
        "HOSTSTATE": "UP",
        "HOSTPROBLEMID": "0",
        "SERVICEDESC": "HTTP login",
        "SERVICESTATE": "CRITICAL",
        "SERVICEOUTPUT": "CRITICAL - a=b&c ü",
        "LONGSERVICEOUTPUT": r"two\nthree",
        "SERVICEPROBLEMID": "7",
        "TIMET": env["NAGIOS_TIMET"],
        "CONTACTNAME": "pagerd",
        "CUSTOMER": "acme",
    }  # not SERVICEPERFDATA / SOMETHINGELSE (not on the list), CUSTOMER (--macro) is
    assert spooled(tmp_path / "spool") == []
    assert "test-webhook-token" not in r.stderr + r.stdout


def test_values_pagerd_would_refuse_are_cleaned_not_lost(tmp_path, stand_in):
    env = {k: v for k, v in service_env("PROBLEM", "CRITICAL", "x").items()}
    env_b = {k.encode(): v.encode() for k, v in env.items()}
    env_b[b"NAGIOS_SERVICEOUTPUT"] = b"CRITICAL - Temperatur 41\xb0C"  # Latin-1 plugin output
    env_b[b"NAGIOS_LONGSERVICEOUTPUT"] = b"\x1b[31mred\x1b[0m\ttab"  # ANSI colours
    env_b[b"PATH"], env_b[b"PAGERD_WEBHOOK_TOKEN"] = b"/usr/bin:/bin", b"test-webhook-token"
    r = subprocess.run(
        [
            PYTHON,
            str(NOTIFY_SCRIPT),
            "--spool",
            str(tmp_path / "spool"),
            "--url",
            stand_in.alerts_url,
            "--macro",
            "HOSTALIAS=" + "y" * 40000,
        ],
        env=env_b,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert r.returncode == 0, r.stderr
    (req,) = stand_in.received
    assert req.fields["SERVICEOUTPUT"] == "CRITICAL - Temperatur 41\u00b0C"
    assert req.fields["LONGSERVICEOUTPUT"] == "\ufffd[31mred\ufffd[0m\ttab"
    assert len(req.fields["HOSTALIAS"]) == 32768 and req.fields["HOSTALIAS"].endswith("[...truncated]")


def test_odd_but_real_values_are_accepted_by_pagerd(tmp_path, receiver):
    """Through the real daemon when it exists: what plugins print must not get a page rejected."""
    env_b = {k.encode(): v.encode() for k, v in service_env("PROBLEM", "CRITICAL", "x").items()}
    env_b[b"NAGIOS_SERVICEDESC"] = "Disk /var & ü".encode()
    env_b[b"NAGIOS_SERVICEOUTPUT"] = b"DISK CRITICAL - 97% used; a=b&c=d +x %41 \xb0"
    env_b[b"NAGIOS_LONGSERVICEOUTPUT"] = "\x1b[1m/var\x1b[0m\\n\u65e5\u672c\t\x07".encode()
    env_b[b"PATH"], env_b[b"PAGERD_WEBHOOK_TOKEN"] = b"/usr/bin:/bin", receiver.webhook_token.encode()
    spool = tmp_path / "spool"
    r = subprocess.run(
        [PYTHON, str(NOTIFY_SCRIPT), "--spool", str(spool), "--url", receiver.url + NAGIOS_ALERTS_PATH],
        env=env_b,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert r.returncode == 0, r.stderr
    assert spooled(spool) == [] and not list((spool / "rejected").glob("*")), r.stderr
    inc = receiver.wait_for(incident(receiver, "web01/Disk /var & \u00fc", "triggered"), 5)
    assert "97% used; a=b&c=d +x %41" in inc["summary"], inc


def test_macro_arguments_win_over_environment(tmp_path, stand_in):
    env = service_env("PROBLEM", "WARNING", "from env")
    r = run_notify(
        tmp_path / "spool",
        "--macro",
        "SERVICEOUTPUT=from args",
        "--macro",
        "servicestate=CRITICAL",
        "--macro",
        "SERVICEPROBLEMID=",
        env=env,
        url=stand_in.alerts_url,
    )
    assert r.returncode == 0, r.stderr
    (req,) = stand_in.received
    assert req.fields["SERVICEOUTPUT"] == "from args"
    assert req.fields["SERVICESTATE"] == "CRITICAL"
    assert "SERVICEPROBLEMID" not in req.fields  # an empty argument removes the macro


def test_custom_variables_and_chosen_labels_are_sent(tmp_path, stand_in):
    env = service_env("PROBLEM", "CRITICAL", "down")
    env |= {
        "NAGIOS__SERVICEPAGERD_TEAM": "web",  # with enable_environment_macros=1: every custom variable
        "NAGIOS__HOSTCUSTOMER": "agency",
        "NAGIOS__HOSTOTHER": "not a label",  # neither CUSTOMER, PROJECT nor PAGERD_*
        "NAGIOS__CONTACTPAGERD_URL": "http://x",  # the contact's, not the host's or service's
        "NAGIOS__SERVICEPAGERD_BAD-NAME": "x",
    }
    r = run_notify(
        tmp_path / "spool",
        "--macro",
        "_SERVICECUSTOMER=acme",
        "--macro",
        "_SERVICEPROJECT=$_SERVICEPROJECT$",  # left unexpanded: no value
        "--label",
        "hostgroup=linux-servers",
        "--log-file",
        str(tmp_path / "notify.log"),
        env=env,
        url=stand_in.alerts_url,
    )
    assert r.returncode == 0, r.stderr
    (req,) = stand_in.received
    labels = {k: v for k, v in req.fields.items() if k.startswith(("_", "LABEL_"))}
    assert labels == {
        "_SERVICECUSTOMER": "acme",
        "_SERVICEPAGERD_TEAM": "web",
        "_HOSTCUSTOMER": "agency",
        "LABEL_HOSTGROUP": "linux-servers",
    }
    assert "custom variable left out" in r.stderr and "NAGIOS__SERVICEPAGERD_BAD-NAME" in r.stderr
    bad = run_notify(tmp_path / "spool", "--label", "no equals sign", env=env, url=stand_in.alerts_url)
    assert bad.returncode == 2 and "--label wants NAME=VALUE" in bad.stderr


def test_server_error_keeps_event_spooled_and_next_run_delivers_in_order(tmp_path, stand_in):
    spool = tmp_path / "spool"
    stand_in.responses = [500]
    r1 = run_notify(spool, env=service_env("PROBLEM", "CRITICAL", "down"), url=stand_in.alerts_url)
    assert r1.returncode == 0, r1.stderr
    assert len(spooled(spool)) == 1
    assert "delivery failed" in r1.stderr
    assert [x.status for x in stand_in.received] == [500]

    r2 = run_notify(spool, env=service_env("RECOVERY", "OK", "back"), url=stand_in.alerts_url)
    assert r2.returncode == 0, r2.stderr
    assert spooled(spool) == []
    statuses = [(x.fields["NOTIFICATIONTYPE"], x.status) for x in stand_in.received]
    assert statuses == [("PROBLEM", 500), ("PROBLEM", 202), ("RECOVERY", 202)]
    # the retry is the same event (same idempotency key), nothing was stored twice
    assert stand_in.received[0].headers["Idempotency-Key"] == stand_in.received[1].headers["Idempotency-Key"]
    assert [x.fields["NOTIFICATIONTYPE"] for x in stand_in.accepted()] == ["PROBLEM", "RECOVERY"]
    (inc,) = stand_in.incidents()
    assert inc["dedup_key"] == SERVICE_KEY and inc["state"] == "resolved"


@pytest.mark.parametrize("status", [400, 422])
def test_client_error_moves_event_to_rejected_and_later_events_go_on(tmp_path, stand_in, status):
    spool = tmp_path / "spool"
    stand_in.responses = [status]
    r = run_notify(spool, env=service_env("PROBLEM", "CRITICAL", "bad one"), url=stand_in.alerts_url)
    assert r.returncode == 0, r.stderr
    assert spooled(spool) == []
    rejected = sorted(p.name for p in (spool / "rejected").iterdir())
    assert len(rejected) == 2 and rejected[0].endswith(".event") and rejected[1].endswith(".reason")
    assert f"HTTP {status}" in (spool / "rejected" / rejected[1]).read_text()
    assert "rejected" in r.stderr

    r = run_notify(spool, env=service_env("PROBLEM", "CRITICAL", "good one"), url=stand_in.alerts_url)
    assert r.returncode == 0
    assert [x.fields["SERVICEOUTPUT"] for x in stand_in.received] == ["bad one", "good one"]
    assert len(list((spool / "rejected").glob("*.event"))) == 1


@pytest.mark.parametrize("status", [401, 404, 408, 429, 503])
def test_retryable_answers_keep_the_event(tmp_path, stand_in, status):
    spool = tmp_path / "spool"
    stand_in.responses = [status]
    r = run_notify(spool, env=service_env("PROBLEM", "CRITICAL", "x"), url=stand_in.alerts_url)
    assert r.returncode == 0, r.stderr
    assert len(spooled(spool)) == 1
    assert not (spool / "rejected").exists() or not list((spool / "rejected").iterdir())
    r = run_notify(spool, "--flush", url=stand_in.alerts_url)
    assert r.returncode == 0, r.stderr
    assert spooled(spool) == []
    assert [x.status for x in stand_in.received] == [status, 202]


def test_wrong_token_is_kept_and_never_printed(tmp_path, stand_in):
    spool = tmp_path / "spool"
    secret = "wrong-secret-token-123"
    (tmp_path / "token").write_text(secret + "\n")
    r = run_notify(
        spool,
        "--token-file",
        str(tmp_path / "token"),
        env=service_env("PROBLEM", "CRITICAL", "x"),
        url=stand_in.alerts_url,
        token=None,
    )
    assert r.returncode == 0
    assert [x.status for x in stand_in.received] == [401]
    assert stand_in.received[0].headers["Authorization"] == f"Bearer {secret}"
    assert len(spooled(spool)) == 1
    assert secret not in r.stdout + r.stderr
    assert secret not in "".join(p.read_text() for p in spool.glob("*.event"))  # not in the spool either


def test_unreachable_pagerd_exits_zero_and_keeps_order(tmp_path, stand_in):
    spool = tmp_path / "spool"
    url = stand_in.alerts_url
    stand_in.stop()  # nothing listens on that port now
    for n in range(3):
        r = run_notify(spool, env=service_env("PROBLEM", "CRITICAL", f"event {n}"), url=url)
        assert r.returncode == 0, r.stderr
    assert len(spooled(spool)) == 3
    stand_in.start()
    r = run_notify(spool, "--flush", url=url)
    assert r.returncode == 0, r.stderr
    assert [x.fields["SERVICEOUTPUT"] for x in stand_in.received] == ["event 0", "event 1", "event 2"]
    assert spooled(spool) == []


def test_slow_pagerd_is_cut_off_by_the_time_budget(tmp_path):
    slow = AlertReceiver(delay=3.0).start()
    try:
        t0 = time.monotonic()
        r = run_notify(
            tmp_path / "spool", "--timeout", "1", env=service_env("PROBLEM", "CRITICAL", "x"), url=slow.alerts_url
        )
        took = time.monotonic() - t0
    finally:
        slow.stop()
    assert r.returncode == 0, r.stderr
    assert took < 2.5, took
    assert len(spooled(tmp_path / "spool")) == 1
    assert "timed out" in r.stderr or "timeout" in r.stderr.lower(), r.stderr


def test_concurrent_runs_send_each_event_exactly_once(tmp_path):
    slowish = AlertReceiver(delay=0.05).start()
    spool = tmp_path / "spool"
    try:
        base = {"PATH": "/usr/bin:/bin", "PAGERD_WEBHOOK_TOKEN": slowish.webhook_token}
        procs = [
            subprocess.Popen(
                [PYTHON, str(NOTIFY_SCRIPT), "--spool", str(spool), "--url", slowish.alerts_url, "--timeout", "10"],
                env={**base, **service_env("PROBLEM", "CRITICAL", f"event {n}")},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(8)
        ]
        for p in procs:
            p.wait(30)
            assert p.returncode == 0, p.stderr.read()
            p.stderr.close()
    finally:
        slowish.stop()
    keys = [x.headers["Idempotency-Key"] for x in slowish.received]
    assert len(keys) == 8 and len(set(keys)) == 8, keys
    assert sorted(x.fields["SERVICEOUTPUT"] for x in slowish.received) == [f"event {n}" for n in range(8)]
    assert spooled(spool) == []


def test_missing_token_keeps_event_and_flush_delivers_later(tmp_path, stand_in):
    spool = tmp_path / "spool"
    r = run_notify(spool, env=service_env("PROBLEM", "CRITICAL", "x"), url=stand_in.alerts_url, token=None)
    assert r.returncode == 3
    assert len(spooled(spool)) == 1
    assert stand_in.received == []
    r = run_notify(spool, "--flush", url=stand_in.alerts_url)
    assert r.returncode == 0, r.stderr
    assert spooled(spool) == [] and len(stand_in.accepted()) == 1


def test_bad_invocations(tmp_path, stand_in):
    spool = tmp_path / "spool"
    r = run_notify(spool, url=stand_in.alerts_url)  # no macros at all
    assert r.returncode == 2 and "no Nagios macros" in r.stderr
    r = run_notify(spool, "--macro", "NOVALUE", url=stand_in.alerts_url)
    assert r.returncode == 2
    assert spooled(spool) == []
    r = run_notify(tmp_path / "nonexistent", "--flush", url=stand_in.alerts_url)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "nonexistent").exists()  # a flush (maybe as root) does not create the spool
    assert stand_in.received == []


@pytest.mark.parametrize("scheme", ["file", "ftp"])
def test_url_that_is_not_http_is_never_opened_and_the_event_stays(tmp_path, stand_in, scheme):
    """urllib opens file: and ftp: URLs too; the script posts only to http(s) and keeps the event."""
    spool = tmp_path / "spool"
    url = (tmp_path / "secret.txt").as_uri() if scheme == "file" else "ftp://127.0.0.1:9/api/v1/alerts/nagios"
    (tmp_path / "secret.txt").write_text("not for pagerd\n")
    r = run_notify(spool, env=service_env("PROBLEM", "CRITICAL", "x"), url=url)
    assert r.returncode == 0, r.stderr
    assert f"--url must be http:// or https://, not {scheme}" in r.stderr
    assert len(spooled(spool)) == 1  # kept for a run with a good --url
    r = run_notify(spool, "--flush", url=stand_in.alerts_url)
    assert r.returncode == 0 and spooled(spool) == [], r.stderr
    assert [x.fields["SERVICEOUTPUT"] for x in stand_in.received] == ["x"]


def test_a_run_waits_for_the_lock_only_within_its_budget(tmp_path, stand_in):
    spool = tmp_path / "spool"
    spool.mkdir()
    fd = os.open(spool, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run is delivering
        t0 = time.monotonic()
        r = run_notify(spool, "--timeout", "0.5", env=service_env("PROBLEM", "CRITICAL", "x"), url=stand_in.alerts_url)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t0 < 2.0
        assert "locked" in r.stderr
        assert len(spooled(spool)) == 1 and stand_in.received == []
    finally:
        os.close(fd)
    r = run_notify(spool, "--flush", url=stand_in.alerts_url)
    assert r.returncode == 0 and len(stand_in.accepted()) == 1 and spooled(spool) == []


def test_unreadable_spool_file_is_rejected_not_blocking(tmp_path, stand_in):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "00000000000000000001-0000001-000.event").write_text("{not json")
    r = run_notify(spool, env=service_env("PROBLEM", "CRITICAL", "x"), url=stand_in.alerts_url)
    assert r.returncode == 0, r.stderr
    assert len(stand_in.accepted()) == 1
    assert [p.name for p in (spool / "rejected").glob("*.event")] == ["00000000000000000001-0000001-000.event"]


def test_unwritable_spool_still_delivers_directly(tmp_path, stand_in):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_notify(blocker / "spool", env=service_env("PROBLEM", "CRITICAL", "x"), url=stand_in.alerts_url)
    assert r.returncode == 0, r.stderr
    assert len(stand_in.accepted()) == 1
    stand_in.default_status = 503
    r = run_notify(blocker / "spool", env=service_env("PROBLEM", "CRITICAL", "y"), url=stand_in.alerts_url)
    assert r.returncode == 4 and "LOST" in r.stderr


# -- real Nagios ----------------------------------------------------------------------------------
@pytest.mark.peer("nagios")
def test_harness_config_validates_with_the_shipped_pagerd_cfg(stand_in):
    require_binary(NAGIOS_BIN)
    if os.geteuid() != 0:
        pytest.skip("the Nagios harness needs root")
    n = NagiosProcess(alerts_url=stand_in.alerts_url, token="t").write_config()
    try:
        out = n.validate()
        assert "Total Errors:   0" in out
        assert "Total Warnings: 0" in out, out
        cfg = (n.workdir / "pagerd.cfg").read_text()
        assert "notify-service-by-pagerd" in cfg and "notify-host-by-pagerd" in cfg
        assert f"/usr/bin/python3 {n.script} " in cfg
    finally:
        n.cleanup()


@pytest.mark.peer("nagios")
def test_shipped_pagerd_cfg_drops_into_debians_stock_config_unchanged():
    require_binary(NAGIOS_BIN)
    stock = Path("/etc/nagios4/nagios.cfg")
    if not stock.exists():
        pytest.skip("no stock /etc/nagios4/nagios.cfg")
    d = Path(tempfile.mkdtemp(prefix="pagerd-nagios-stock-", dir="/tmp"))
    try:
        # nagios4 -v reads the files again as user nagios, who may not reach the checkout (a clone
        # in root's home folder): it gets a byte-for-byte copy of pagerd.cfg in a folder it can read
        os.chmod(d, 0o755)
        shutil.copyfile(PAGERD_CFG, d / "pagerd.cfg")
        os.chmod(d / "pagerd.cfg", 0o644)
        assert (d / "pagerd.cfg").read_bytes() == PAGERD_CFG.read_bytes()
        text = stock.read_text() + f"\ncfg_file={d / 'pagerd.cfg'}\n"
        (d / "nagios.cfg").write_text(text)
        os.chmod(d / "nagios.cfg", 0o644)
        r = subprocess.run([NAGIOS_BIN, "-v", str(d / "nagios.cfg")], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout[-3000:]
        assert "Total Warnings: 0" in r.stdout and "Total Errors:   0" in r.stdout, r.stdout[-3000:]
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.peer("nagios")
def test_service_problem_ack_and_recovery_reach_pagerd(nagios, receiver):
    n = nagios()
    n.set_service("WARNING", "WARNING - login slow|time=2.1s;2;5\nfirst 'detail' line\nsecond & <line>")
    inc = receiver.wait_for(incident(receiver, SERVICE_KEY, "triggered"), NOTIFY_TIMEOUT)
    assert inc["source"] == "nagios"

    # WARNING -> CRITICAL: a second PROBLEM with the same problem id; still one incident
    n.set_service("CRITICAL", "CRITICAL - login page 500")
    n.wait(lambda: len(n.notifications_logged()) >= 2, NOTIFY_TIMEOUT, "second PROBLEM")
    n.wait(
        lambda: not n.spooled() and len([c for c in n.captured() if c["argv"] == ["service"]]) >= 2,
        NOTIFY_TIMEOUT,
        "second PROBLEM delivered",
    )

    n.command(f"ACKNOWLEDGE_SVC_PROBLEM;{n.host};{n.service};2;1;0;alice;on it, looking")
    inc = receiver.wait_for(incident(receiver, SERVICE_KEY, "acknowledged"), NOTIFY_TIMEOUT)
    if "acknowledged_by" in inc:  # pagerd names who acknowledged (NOTIFICATIONAUTHOR)
        assert inc["acknowledged_by"] == "alice", inc

    n.set_service("OK", "OK - login works")
    inc = receiver.wait_for(incident(receiver, SERVICE_KEY, "resolved"), NOTIFY_TIMEOUT)
    assert inc["resolved_at"]
    assert len(nagios_incidents(receiver)) == 1, receiver.incidents()
    n.wait(lambda: not n.spooled(), 5, "empty spool")
    assert n.rejected() == []

    # What real Nagios put in the environment of those notifications (the envcapture contact).
    envs = [c["env"] for c in n.captured() if c["argv"] == ["service"]]
    kinds = [(e["NOTIFICATIONTYPE"], e["SERVICESTATE"]) for e in envs]
    assert kinds == [
        ("PROBLEM", "WARNING"),
        ("PROBLEM", "CRITICAL"),
        ("ACKNOWLEDGEMENT", "CRITICAL"),
        ("RECOVERY", "OK"),
    ], kinds
    problem_ids = {e["SERVICEPROBLEMID"] for e in envs}
    assert len(problem_ids) == 1 and problem_ids != {"0"}, problem_ids  # RECOVERY carries the problem's id
    assert envs[0]["LONGSERVICEOUTPUT"] == r"first 'detail' line\nsecond & <line>"  # literal backslash-n
    assert envs[0]["SERVICEOUTPUT"] == "WARNING - login slow" and envs[0]["SERVICEPERFDATA"] == "time=2.1s;2;5"
    assert envs[2]["NOTIFICATIONAUTHOR"] == "alice" and envs[2]["NOTIFICATIONCOMMENT"] == "on it, looking"
    assert [e["NOTIFICATIONNUMBER"] for e in envs] == ["1", "2", "2", "3"]  # ACK does not count

    if isinstance(receiver, AlertReceiver):  # the exact form the shipped command sends
        sent = [r.fields for r in receiver.accepted()]
        assert [f["NOTIFICATIONTYPE"] for f in sent] == ["PROBLEM", "PROBLEM", "ACKNOWLEDGEMENT", "RECOVERY"]
        assert all(
            f["CONTACTNAME"] == "pagerd" and f["HOSTNAME"] == "web01" and f["SERVICEDESC"] == "HTTP login" for f in sent
        )
        # the arguments lose illegal_macro_output_chars (`~$&|'"<>); the environment keeps them
        assert sent[0]["LONGSERVICEOUTPUT"] == r"first detail line\nsecond  line"
        assert sent[2]["NOTIFICATIONAUTHOR"] == "alice"
        assert "HOSTOUTPUT" not in sent[0]


@pytest.mark.peer("nagios")
def test_host_problem_and_recovery_reach_pagerd(nagios, receiver):
    n = nagios()
    n.set_host("DOWN", "CRITICAL - 127.0.0.1: rta nan, lost 100%")
    inc = receiver.wait_for(incident(receiver, HOST_KEY, "triggered"), NOTIFY_TIMEOUT)
    assert inc["source"] == "nagios"
    n.set_host("UP", "OK - 127.0.0.1: rta 0.05ms, lost 0%")
    receiver.wait_for(incident(receiver, HOST_KEY, "resolved"), NOTIFY_TIMEOUT)
    assert len(nagios_incidents(receiver)) == 1, receiver.incidents()

    envs = [c["env"] for c in n.captured() if c["argv"] == ["host"]]
    assert [(e["NOTIFICATIONTYPE"], e["HOSTSTATE"]) for e in envs] == [("PROBLEM", "DOWN"), ("RECOVERY", "UP")]
    problem, recovery = envs
    assert problem["HOSTPROBLEMID"] != "0"
    # a host RECOVERY has HOSTPROBLEMID=0 and the problem's id in LASTHOSTPROBLEMID
    assert recovery["HOSTPROBLEMID"] == "0" and recovery["LASTHOSTPROBLEMID"] == problem["HOSTPROBLEMID"]
    # service macros exist but are empty in a host notification
    assert problem["SERVICEDESC"] == "" and problem["SERVICESTATE"] == ""
    if isinstance(receiver, AlertReceiver):
        sent = [r.fields for r in receiver.accepted()]
        assert all("SERVICEDESC" not in f for f in sent)
        assert sent[1]["LASTHOSTPROBLEMID"] == problem["HOSTPROBLEMID"] and sent[1]["HOSTPROBLEMID"] == "0"


@pytest.mark.peer("nagios")
def test_environment_macros_alone_are_enough(nagios, receiver):
    n = nagios(env_macros_only=True)
    assert "--macro" not in (n.workdir / "pagerd.cfg").read_text().split("define command", 1)[1]
    n.set_service("CRITICAL", "CRITICAL - it's <broken> & \"gone\"")
    receiver.wait_for(incident(receiver, SERVICE_KEY, "triggered"), NOTIFY_TIMEOUT)
    n.set_service("OK", "OK")
    receiver.wait_for(incident(receiver, SERVICE_KEY, "resolved"), NOTIFY_TIMEOUT)
    if isinstance(receiver, AlertReceiver):
        first = receiver.accepted()[0].fields
        assert first["SERVICEOUTPUT"] == "CRITICAL - it's <broken> & \"gone\""  # unstripped from the env
        assert first["CONTACTNAME"] == "pagerd" and first["NOTIFICATIONRECIPIENTS"]


@pytest.mark.peer("nagios")
def test_events_spooled_while_pagerd_is_down_arrive_once_after_flush(nagios, receiver):
    n = nagios()
    receiver.stop()
    n.set_service("CRITICAL", "CRITICAL - while pagerd was down")
    n.wait(
        lambda: len(n.spooled()) == 1 and "delivery failed" in n.notify_log_text(),
        NOTIFY_TIMEOUT,
        "the PROBLEM in the spool",
    )
    receiver.start()
    assert nagios_incidents(receiver) == []

    r = n.flush()  # as user nagios, as a cron job or systemd timer would
    assert r.returncode == 0, r.stderr
    assert n.spooled() == []
    inc = receiver.wait_for(incident(receiver, SERVICE_KEY, "triggered"), 5)
    r = n.flush()  # a second flush has nothing left to send
    assert r.returncode == 0 and "delivered=0" in r.stderr, r.stderr
    assert len(nagios_incidents(receiver)) == 1 and nagios_incidents(receiver)[0]["id"] == inc["id"]
    if isinstance(receiver, AlertReceiver):
        assert len(receiver.accepted()) == 1


@pytest.mark.peer("nagios")
def test_next_notification_delivers_the_spooled_problem_before_its_recovery(nagios, receiver):
    n = nagios()
    receiver.stop()
    n.set_service("CRITICAL", "CRITICAL - while pagerd was down")
    n.wait(
        lambda: len(n.spooled()) == 1 and "delivery failed" in n.notify_log_text(),
        NOTIFY_TIMEOUT,
        "the PROBLEM in the spool",
    )
    receiver.start()

    n.set_service("OK", "OK - back")  # the RECOVERY's run sends the old PROBLEM first, then itself
    inc = receiver.wait_for(incident(receiver, SERVICE_KEY, "resolved"), NOTIFY_TIMEOUT)
    assert len(nagios_incidents(receiver)) == 1, receiver.incidents()
    assert inc["resolved_at"]
    assert n.spooled() == []
    if isinstance(receiver, AlertReceiver):
        assert [r.fields["NOTIFICATIONTYPE"] for r in receiver.accepted()] == ["PROBLEM", "RECOVERY"]


# -- routing by customer: custom variables become labels ------------------------------------------------
def routed(receiver, key: str) -> tuple[dict, str]:
    """The incident with this dedup_key once the engine routed it, and the project it was routed to."""
    inc = receiver.wait_for(incident(receiver, key), NOTIFY_TIMEOUT)
    inc = wait_event(receiver, inc["id"], "routed", timeout=NOTIFY_TIMEOUT)
    return inc, events(inc, "routed")[0]["data"]["project"]


@pytest.mark.peer("nagios")
def test_a_hosts_customer_routes_its_services_and_itself(nagios, receiver):
    if not DAEMON_PRESENT:
        pytest.skip("routing needs the daemon")
    n = nagios(service="webshop", host_vars={"_CUSTOMER": "acme"})
    n.set_service("CRITICAL", "CRITICAL - checkout answers 500")
    inc, project = routed(receiver, "web01/webshop")
    assert inc["labels"]["customer"] == "acme", inc["labels"]
    assert project == "acme/webshop"  # route {customer: acme, service: webshop}
    n.set_host("DOWN", "CRITICAL - 127.0.0.1: rta nan, lost 100%")
    inc, project = routed(receiver, HOST_KEY)
    assert inc["labels"]["customer"] == "acme" and "service" not in inc["labels"], inc["labels"]
    assert project == "acme/intranet"  # route match_re {customer: "acme.*"}


@pytest.mark.peer("nagios")
def test_a_services_variables_win_over_its_hosts_and_pagerd_variables_become_labels(nagios, receiver):
    if not DAEMON_PRESENT:
        pytest.skip("routing needs the daemon")
    n = nagios(
        host_vars={"_CUSTOMER": "agency", "_PAGERD_TEAM": "hosting"},
        service_vars={"_CUSTOMER": "acme", "_PROJECT": "webshop", "_PAGERD_TEAM": "web"},
    )
    n.set_service("CRITICAL", "CRITICAL - login page 500")
    inc, project = routed(receiver, SERVICE_KEY)
    labels = inc["labels"]
    assert (labels["customer"], labels["project"], labels["team"]) == ("acme", "webshop", "web"), labels
    assert labels["host"] == "web01" and labels["service"] == "HTTP login"
    assert project == "acme/webshop"  # route {customer: acme, project: webshop}
    # what real Nagios handed the command: the custom variables in the environment, with their prefix
    env = [c["env"] for c in n.captured() if c["argv"] == ["service"]][0]
    assert env["_SERVICECUSTOMER"] == "acme" and env["_HOSTCUSTOMER"] == "agency", env
    assert env["_SERVICEPAGERD_TEAM"] == "web"


@pytest.mark.peer("nagios")
def test_hostile_custom_variables_are_sanitised_or_left_out_and_the_page_goes_on(nagios, receiver, tmp_path):
    if not DAEMON_PRESENT:
        pytest.skip("labels are checked by the daemon")
    marker = tmp_path / "pwned"
    n = nagios(
        service_vars={
            "_CUSTOMER": f"acme' $(touch {marker}) `touch {marker}` '",  # a shell escape in the argument
            "_PAGERD_NOTE": "x" * 5000,  # over the 4096 characters of a label value
            "_PAGERD_HOST": "db01",  # would take the place of the host's own label
            "_PAGERD_BAD-NAME": "x",  # not a label name
        },
    )
    n.set_service("CRITICAL", "CRITICAL - login page 500")
    inc, project = routed(receiver, SERVICE_KEY)
    labels = inc["labels"]
    # Nagios strips its illegal_macro_output_chars (`~$&|'"<>) from the argument: nothing ran, the rest stays
    assert not marker.exists()
    assert labels["customer"].startswith("acme") and not set("'`$") & set(labels["customer"]), labels
    assert "note" not in labels and labels["host"] == "web01" and "bad-name" not in labels, labels
    assert project == "acme/intranet"  # routed by the labels that were taken
    # the page is not lost over a label, and both the incident and the script's log say what was left out
    n.wait(lambda: "delivered without a label" in n.notify_log_text(), NOTIFY_TIMEOUT, "the warning logged")
    log = n.notify_log_text()
    assert "_SERVICEPAGERD_NOTE" in log and "longer than 4096 characters" in log and "_SERVICEPAGERD_HOST" in log
    detail = receiver.api("GET", f"/api/v1/incidents/{inc['id']}")[1]
    assert "_SERVICEPAGERD_NOTE" in str(detail), detail
    assert n.rejected() == [] and not n.spooled()
