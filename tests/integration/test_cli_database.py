"""One database, found the same way by the daemon and by every command, wherever they are started: a relative
storage.sqlite.path is read from the config file's folder. Only `migrate` and `serve` create a database; every
other command refuses a missing one, naming the path, and creates nothing. No traceback reaches a user: a
reader that goes away (`| head -1`) ends a command quietly. Real daemon and real CLI subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.harness.pagerd import EXAMPLE_CONFIG, EXAMPLE_ENV, PagerdProcess, manual_clock_config

# a window ahead of the real clock, which the CLI reads (it refuses a maintenance window that has ended): tomorrow
_TOMORROW = datetime.now(timezone.utc).date() + timedelta(days=1)
DAY, NEXT_DAY = _TOMORROW.isoformat(), (_TOMORROW + timedelta(days=1)).isoformat()
FROM, TO = f"{DAY}T10:00", f"{DAY}T14:00"

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc


def site(tmp_path: Path) -> tuple[Path, Path]:
    """A server's layout: the example config in etc/ (its database ../var/pagerd.db: var/ beside etc/), and
    an operator's home folder elsewhere. Returns (config, home)."""
    config = tmp_path / "srv" / "etc" / "pagerd.yaml"
    config.parent.mkdir(parents=True)
    shutil.copy(EXAMPLE_CONFIG, config)
    home = tmp_path / "home"
    home.mkdir()
    return config, home


def env() -> dict[str, str]:
    """The operator's shell: the secrets the example config needs, no PAGERD_DB, no PAGERD_CONFIG."""
    out = {k: v for k, v in os.environ.items() if k not in ("PAGERD_DB", "PAGERD_CONFIG", "PAGERD_DEBUG")}
    out.update(EXAMPLE_ENV, PYTHONPATH=str(ROOT))
    return out


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pager", *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def trigger(d: PagerdProcess, key: str, summary: str) -> None:
    body = {
        "routing_key": d.webhook_token,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": summary, "source": "test", "severity": "critical"},
    }
    status, answer = d.request("POST", "/v2/enqueue", json.dumps(body).encode())
    assert status == 202, answer


def test_the_cli_from_another_folder_uses_the_daemons_database(tmp_path):
    config, home = site(tmp_path)
    db = config.parent.parent / "var" / "pagerd.db"
    # the daemon runs from the repository's folder, PAGERD_DB unset: ../var/pagerd.db from etc/
    d = PagerdProcess(tmp_path / "daemon", config=config, extra_env={"PAGERD_DB": ""}).start()
    try:
        trigger(d, "disk/web1", "Disk almost full on web1")
        (inc,) = d.incidents()
        assert db.is_file() and not (ROOT / "config" / "var").exists() and not (ROOT / "srv").exists()

        # an operator in their home folder, the config named absolutely or relatively
        for name in (str(config), os.path.relpath(config, home)):
            run = cli(home, "incidents", "list", "--json", "-c", name)
            assert run.returncode == 0, run.stderr
            assert [r["id"] for r in json.loads(run.stdout)] == [inc["id"]]
        run = cli(home, "incidents", "ack", str(inc["id"]), "--by", "anna", "-c", str(config))
        assert run.returncode == 0, run.stderr
        status, seen = d.api("GET", f"/api/v1/incidents/{inc['id']}")
        assert status == 200 and seen["state"] == "acknowledged" and seen["acknowledged_by"] == "anna"
        # and from the config's own folder, an override the daemon then answers with
        run = cli(
            config.parent,
            "override",
            "add",
            "-c",
            "pagerd.yaml",
            "--rotation",
            "standby",
            "--from",
            FROM,
            "--to",
            TO,
            "--person",
            "dewi",
            "--json",
        )
        assert run.returncode == 0, run.stderr
        status, overrides = d.api("GET", "/api/v1/overrides")
        assert status == 200 and [o["id"] for o in overrides] == [json.loads(run.stdout)["id"]]
    finally:
        d.stop()
    assert tree(home) == []  # nothing created where the operator stood


# every command that reads the database, as an operator would type it with a wrong or missing one
READERS = [
    ("incidents", "list"),
    ("incidents", "show", "1"),
    ("incidents", "ack", "1"),
    ("incidents", "resolve", "1"),
    ("oncall",),
    ("override", "list"),
    ("override", "add", "--rotation", "standby", "--from", FROM, "--to", TO),
    ("override", "remove", "1"),
    ("booking", "list"),
    ("booking", "add", "--customer", "acme", "--from", FROM, "--to", TO),
    ("booking", "remove", "1"),
    ("work", "list", "1"),
    ("work", "log", "1", "--minutes", "30"),
    ("billing", "statement", "--customer", "acme", "--month", "2026-12"),
    ("billing", "engineers", "--month", "2026-12"),
    ("backup", "copy.db"),
    ("maintenance", "list"),
    (
        "maintenance",
        "add",
        "--customer",
        "acme",
        "--from",
        FROM,
        "--to",
        TO,
        "--reason",
        "x",
    ),
    ("maintenance", "remove", "1"),
    ("route", "--labels", "customer=acme", "service=webshop"),
    ("ticket", "new", "--project", "acme/webshop", "--from", "+31201234567", "--subject", "x"),
    ("ticket", "list"),
    ("ticket", "show", "1"),
    ("ticket", "reply", "1", "x"),
    ("ticket", "note", "1", "x"),
    ("ticket", "assign", "1", "anna"),
    ("ticket", "status", "1", "open"),
    ("ticket", "time", "1", "--kind", "covered", "--minutes", "5"),
    ("ticket", "page", "1"),
]


def test_a_missing_database_is_refused_naming_its_path_and_nothing_is_created(tmp_path):
    config, home = site(tmp_path)
    db = config.parent.parent / "var" / "pagerd.db"
    before = tree(tmp_path)
    for args in READERS:
        if args[0] == "override" and args[1] == "add":
            args = (*args, "--person", "dewi")
        run = cli(home, *args, "-c", str(config))
        assert run.returncode == 1, (args, run.stdout, run.stderr)
        lines = run.stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in run.stderr, (args, run.stderr)
        assert lines[0].startswith(f"pagerd: no database at {db} "), (args, lines)
        assert f"pagerd migrate -c {config}" in lines[0]
        assert run.stdout == ""
    assert tree(tmp_path) == before  # no file, no folder

    # migrate creates it (0600 in a folder of 0700), and then the same commands answer
    run = cli(home, "migrate", "-c", str(config))
    assert run.returncode == 0 and f"database {db}: applied" in run.stdout, run.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600 and stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    run = cli(home, "incidents", "list", "--json", "-c", str(config))
    assert run.returncode == 0 and json.loads(run.stdout) == [], run.stderr
    run = cli(home, "override", "list", "--json", "-c", str(config))
    assert run.returncode == 0 and json.loads(run.stdout) == [], run.stderr
    assert tree(home) == []


def test_public_url_follows_the_listen_address(tmp_path):
    """Without PAGERD_PUBLIC_URL the links and feed URLs point at the port pagerd listens on."""
    d = PagerdProcess(tmp_path / "d", extra_env={"PAGERD_PUBLIC_URL": ""}).start()
    try:
        status, rotations = d.api("GET", "/api/v1/rotations")
        assert status == 200
        for r in rotations:
            assert r["ical_url"].startswith(f"http://127.0.0.1:{d.port}/ical/rotations/"), r
        with urllib.request.urlopen(rotations[0]["ical_url"], timeout=10) as feed:
            assert feed.status == 200 and b"BEGIN:VCALENDAR" in feed.read()
    finally:
        d.stop()


# -- no traceback: a reader that goes away, bad input --------------------------------------------------
@pytest.fixture(scope="module")
def busy(tmp_path_factory) -> Iterator[PagerdProcess]:
    """A daemon with 150 incidents (each with a long summary) and one of 1500 alerts: more than a pipe holds."""
    d = PagerdProcess(tmp_path_factory.mktemp("busy") / "d").start()
    try:
        for n in range(150):
            trigger(d, f"load/{n}", f"Load {n} " + "x" * 900)
        body = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())
        one = body["alerts"][0]
        body["alerts"] = [
            {
                **one,
                "labels": {**one["labels"], "instance": f"web{n}:9100"},
                "annotations": {"summary": f"Disk almost full on web{n}"},
                "fingerprint": f"{n:016x}",
            }
            for n in range(1500)
        ]
        status, answer = d.request(
            "POST", "/api/v1/alerts/alertmanager", json.dumps(body).encode(), token=d.webhook_token
        )
        assert status == 200, answer
        yield d
    finally:
        d.stop()


def shell(d: PagerdProcess, pipeline: str) -> subprocess.CompletedProcess:
    """`pipeline` in bash with pipefail, `pagerd` standing for the CLI on the daemon's database."""
    e = {**d.env(), "PYTHONPATH": str(ROOT)}
    e.pop("PAGERD_DEBUG", None)
    pagerd = f"{sys.executable} -m pager"
    return subprocess.run(
        ["bash", "-c", "set -o pipefail; " + pipeline.replace("pagerd ", pagerd + " ")],
        cwd=ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_reader_that_goes_away_ends_the_command_quietly(busy):
    d = busy
    many = next(i for i in d.incidents(limit="500") if i["alert_count"] == 1500)
    c = f"-c {d.config}"
    for pipeline in (
        f"pagerd incidents list --limit 500 --json {c} | head -1",
        f"pagerd incidents list --limit 500 {c} | head -c 0",
        f"pagerd incidents show {many['id']} --json {c} | head -1",
        f"pagerd incidents show {many['id']} {c} | head -1",
        f"pagerd billing quote --rate 100 --from 2026-01-01 --to 2026-12-31 {c} | head -1",
        "pagerd --help | head -c 0",
        "pagerd incidents list --help | head -1",
    ):
        run = shell(d, pipeline)
        assert run.stderr == "", (pipeline, run.stderr)  # no traceback, no "Exception ignored"
        assert run.returncode in (0, 141), (pipeline, run.returncode)  # 141: as if killed by SIGPIPE
        assert len(run.stdout.splitlines()) <= 1, pipeline
    # the whole output, read to its end, is there and exits 0
    run = shell(d, f"pagerd incidents show {many['id']} --json {c} | wc -l")
    assert run.returncode == 0 and int(run.stdout) > 1500, run.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (("incidents", "list", "--since", "yesterdayish"), "--since: expected 30m, 2h, 3d, 1w, today, yesterday"),
        (("incidents", "list", "--since", "2026-02-30"), "--since: expected"),
        (("incidents", "list", "--since", "9999-01-01T00:00Z"), "--since: instant '9999-01-01T00:00Z' is outside"),
        (("incidents", "list", "--limit", "-1"), "expected a number from 1 to 10000"),
        (("incidents", "show", "x"), "not an id"),
        (("incidents", "show", "99999999999999999999999"), "not an id"),
        (("incidents", "show", "0"), "not an id"),
        (("incidents", "show", "424242"), "incident 424242 not found"),
        (("booking", "add", "--customer", "nobody", "--from", DAY, "--to", NEXT_DAY), "unknown customer"),
        (("billing", "statement", "--customer", "nobody", "--month", "2026-12"), "unknown customer"),
        (
            ("billing", "statement", "--customer", "acme", "--month", "2026-12", "-o", "/nonexistent/x.json"),
            "/nonexistent",
        ),
        (("oncall", "--at", "tomorrow"), "not an ISO 8601 instant"),
    ],
)
def test_bad_input_is_one_line_and_no_traceback(busy, args, says):
    d = busy
    run = subprocess.run(
        [sys.executable, "-m", "pager", *args, "-c", str(d.config)],
        cwd=ROOT,
        env={**d.env(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0, (args, run.stdout)
    assert says in run.stderr and "Traceback" not in run.stderr, (args, run.stderr)
    # one line of its own (argparse's refusals come after the usage)
    assert len([line for line in run.stderr.splitlines() if line.startswith("pagerd")]) == 1, run.stderr


# The daemon opens incident A at 2026-12-02T12:00Z (13:00 in Amsterdam) and B at 2026-12-03T01:00Z (02:00 on
# the 3rd); the CLI's clock stands at 2026-12-03T03:00Z (04:00 on the 3rd).
SINCE = [
    ("1h", []),
    ("3h", ["B"]),
    ("today", ["B"]),  # from 3 December 00:00 in Amsterdam
    ("yesterday", ["A", "B"]),  # from 2 December 00:00 in Amsterdam
    ("12h", ["B"]),
    ("1d", ["A", "B"]),
    ("2d", ["A", "B"]),
    ("2026-12-02T13:30", ["B"]),  # wall time in Amsterdam: 12:30Z
    ("2026-12-02T11:00:00Z", ["A", "B"]),
]


def test_since_takes_relative_times_on_the_commands_clock(tmp_path):
    db = tmp_path / "pagerd.db"
    daemon_config = manual_clock_config(tmp_path / "daemon.yaml", datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    cli_config = manual_clock_config(tmp_path / "cli.yaml", datetime(2026, 12, 3, 3, 0, tzinfo=UTC))
    d = PagerdProcess(tmp_path / "d", config=daemon_config, extra_env={"PAGERD_DB": str(db)}).start()
    try:
        trigger(d, "A", "A")
        d.advance("13h")
        trigger(d, "B", "B")
    finally:
        d.stop()
    e = {**env(), "PAGERD_DB": str(db), "PAGERD_ALLOW_TEST_CLOCK": "1"}
    for since, expect in SINCE:
        run = subprocess.run(
            [sys.executable, "-m", "pager", "incidents", "list", "--source", "events_v2", "--since", since, "--json"]
            + ["-c", str(cli_config)],
            cwd=ROOT,
            env=e,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, (since, run.stderr)
        assert sorted(r["summary"] for r in json.loads(run.stdout)) == expect, since


def test_a_store_error_is_one_line_and_its_traceback_only_when_asked(tmp_path):
    config, home = site(tmp_path)
    db = config.parent.parent / "var" / "pagerd.db"
    db.parent.mkdir()
    db.write_bytes(b"not a database, " * 512)
    run = cli(home, "incidents", "list", "-c", str(config))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.splitlines() == ["pagerd: database error: file is not a database"]
    e = {**env(), "PAGERD_DEBUG": "1"}
    debug = subprocess.run(
        [sys.executable, "-m", "pager", "incidents", "list", "-c", str(config)],
        cwd=home,
        env=e,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1] == "pagerd: database error: file is not a database"
    assert db.read_bytes() == b"not a database, " * 512  # left as it was
