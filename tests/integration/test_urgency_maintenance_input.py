"""Bad input for urgency and maintenance windows: the API (pagerd's own application on the scenario
harness, a real SQLite store), the CLI (`pagerd maintenance`, `pagerd route`, as a process) and the config.
Each case: a clear 4xx naming the field, or one line on stderr and exit 1 or 2, and nothing stored."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pager.config import ConfigError, load
from tests.harness.pagerd import EXAMPLE_ENV, manual_clock_config
from tests.scenarios.harness import EXAMPLE_CONFIG, ROOT, Scenario

START, END = "2026-12-08T21:00", "2026-12-08T23:00"
GOOD = {"project": "acme/webshop", "start": START, "end": END, "reason": "database upgrade"}


def without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({}, 422, "start"),
        (without(GOOD, "reason"), 422, "reason"),
        ({**GOOD, "colour": "red"}, 422, "colour"),
        ({**GOOD, "start": "tomorrow"}, 422, "start"),
        ({**GOOD, "start": "2026-12-08T25:00"}, 422, "start"),
        ({**GOOD, "start": "9999-12-31T23:00:00-12:00"}, 422, "start"),
        ({**GOOD, "start": 1765224000}, 422, "start"),
        ({**GOOD, "end": "2026-12-08T20:00"}, 422, "end"),  # reversed
        ({**GOOD, "end": START}, 422, "end"),  # empty
        ({**GOOD, "end": "2027-06-01T00:00"}, 422, "end"),  # longer than 90 days
        ({**GOOD, "start": "2026-11-01T00:00", "end": "2026-11-02T00:00"}, 422, "end"),  # over already
        ({**GOOD, "project": "acme/nope"}, 422, "project"),
        ({**GOOD, "project": "../../etc"}, 422, "project"),
        ({**without(GOOD, "project"), "customer": "globex"}, 422, "customer"),
        (without(GOOD, "project"), 422, "scope"),
        ({**GOOD, "customer": "acme"}, 422, "scope"),
        ({**without(GOOD, "project"), "match": ["env", "staging"]}, 422, "match"),
        ({**without(GOOD, "project"), "match": {"env": 1}}, 422, "match"),
        ({**without(GOOD, "project"), "match": {"bad label": "x"}}, 422, "match"),
        ({**without(GOOD, "project"), "match": {f"l{i}": "x" for i in range(21)}}, 422, "match"),
        ({**GOOD, "reason": "x" * 300}, 422, "reason"),
        ({**GOOD, "reason": "two\nlines"}, 422, "reason"),
        ({**GOOD, "reason": "   "}, 422, "reason"),
        ({**GOOD, "by": "y" * 300}, 422, "by"),
        ("[1, 2", 400, "body"),  # malformed JSON
        ('["a list"]', 422, None),
        ("x" * 70_000, 413, None),  # oversized
    ],
)
async def test_add_maintenance_refuses_bad_input(tmp_path, body, status, field):
    async with Scenario(tmp_path, "2026-12-08 20:00") as s:
        headers = {"Authorization": f"Bearer {s.config.auth.admin_token.get_secret_value()}"}
        if isinstance(body, str):
            resp = await s.http.post(
                "/api/v1/maintenance", data=body, headers={**headers, "Content-Type": "application/json"}
            )
        else:
            resp = await s.http.post("/api/v1/maintenance", json=body, headers=headers)
        answer = await resp.json()
        assert resp.status == status, answer
        if field is not None:
            assert field in [p["field"] for p in answer["problems"]], answer
        assert s.query("SELECT count(*) FROM maintenance_windows") == [(0,)]


async def test_maintenance_routes_refuse_bad_ids_queries_media_and_credentials(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 20:00") as s:
        auth = {"Authorization": f"Bearer {s.config.auth.admin_token.get_secret_value()}"}
        cases = [
            ("GET", "/api/v1/maintenance/abc", {}, None, 400),
            ("GET", "/api/v1/maintenance/-1", {}, None, 400),
            ("GET", "/api/v1/maintenance/424242", {}, None, 404),
            ("DELETE", "/api/v1/maintenance/424242", {}, None, 404),
            ("GET", "/api/v1/maintenance?colour=red", {}, None, 400),
            ("POST", "/api/v1/maintenance", {"Content-Type": "text/plain"}, "reason=x", 415),
        ]
        for method, path, extra, data, status in cases:
            resp = await s.http.request(method, path, headers={**auth, **extra}, data=data)
            assert resp.status == status, (method, path, await resp.text())
            assert "error" in await resp.json()
        for method in ("GET", "POST"):
            resp = await s.http.request(method, "/api/v1/maintenance", json=GOOD)
            assert resp.status == 401
        status, body = await s.api("POST", "/api/v1/maintenance", GOOD)
        assert status == 201 and body["created_by"] == "api"
        assert (await s.api("GET", f"/api/v1/maintenance/{body['id']}"))[1] == body
        assert [w["id"] for w in (await s.api("GET", "/api/v1/maintenance?customer=acme"))[1]] == [body["id"]]


# -- the CLI ---------------------------------------------------------------------------------------------


# The CLI's clock: the manual one, an hour before the window these cases add (Mon 2030-01-07 21:00), so
# that window is ahead of the command's now on any day the suite runs (`maintenance add` refuses one that
# has ended)
CLI_NOW = datetime(2030, 1, 7, 20, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))


def pagerd(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`pagerd ARGS` run in `tmp_path`, where its config (`C`) is the example config on the manual clock at
    CLI_NOW, and its database tmp_path/pagerd.db."""
    manual_clock_config(tmp_path / "pagerd.yaml", CLI_NOW, EXAMPLE_CONFIG)
    env = {
        **os.environ,
        **EXAMPLE_ENV,
        "PAGERD_DB": str(tmp_path / "pagerd.db"),
        "PAGERD_ALLOW_TEST_CLOCK": "1",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "pager", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


C = ["-c", "pagerd.yaml"]  # in the command's folder: pagerd() writes it there


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A folder with a migrated database, shared by the cases that must store nothing."""
    folder = tmp_path_factory.mktemp("cli")
    assert pagerd(folder, "migrate", *C).returncode == 0
    return folder


ADD = ["maintenance", "add", *C, "--from", "2030-01-07T21:00", "--to", "2030-01-07T23:00", "--reason", "upgrade"]


@pytest.mark.parametrize(
    "args, code, message",
    [
        ([*ADD, "--project", "acme/nope"], 1, "--project: unknown project 'acme/nope'"),
        ([*ADD, "--customer", "globex"], 1, "--customer: unknown customer 'globex'"),
        ([*ADD, "--match", "env"], 1, "--match: expected K=V, got 'env'"),
        ([*ADD, "--match", "bad label=x"], 1, "--match: 'bad label' is not a label name"),
        ([*ADD], 2, "one of the arguments --customer --project --match is required"),
        ([*ADD, "--customer", "acme", "--project", "acme/webshop"], 2, "not allowed with argument"),
        ([*ADD[:7], "2030-01-07T20:00", *ADD[8:], "--customer", "acme"], 1, "--to: must be after --from"),
        (
            [*ADD[:7], "2030-06-07T20:00", *ADD[8:], "--customer", "acme"],
            1,
            "--to: a maintenance window lasts at most 90 days",
        ),
        ([*ADD[:5], "yesterday", *ADD[6:], "--customer", "acme"], 1, "--from: not an ISO 8601 instant"),
        ([*ADD[:-1], "x" * 300, "--customer", "acme"], 1, "--reason: one line of at most 256 characters"),
        (["maintenance", "remove", *C, "424242"], 1, "maintenance window 424242 not found"),
        (["maintenance", "remove", *C, "abc"], 2, "invalid int value"),
        (["route", *C, "--labels", "customer"], 1, "--labels: expected K=V, got 'customer'"),
        (["route", *C, "--labels", "a=b", "--at", "noon"], 1, "--at: not an ISO 8601 instant"),
        (["route", *C], 2, "the following arguments are required: --labels"),
    ],
)
def test_the_cli_refuses_bad_input_in_one_line(migrated, args, code, message):
    tmp_path = migrated
    out = pagerd(tmp_path, *args)
    assert out.returncode == code, out.stderr
    assert message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    if code == 1:
        assert len(out.stderr.strip().splitlines()) == 1
    listed = pagerd(tmp_path, "maintenance", "list", *C, "--all", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"


def test_the_cli_adds_lists_and_removes_a_window(tmp_path):
    assert pagerd(tmp_path, "migrate", *C).returncode == 0
    out = pagerd(tmp_path, *ADD, "--match", "env=staging", "--match", "team=web", "--by", "anna")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("maintenance window 1: labels env=staging, team=web  Mon 2030-01-07 21:00 +01:00")
    assert "1  labels env=staging, team=web" in pagerd(tmp_path, "maintenance", "list", *C).stdout
    out = pagerd(tmp_path, "maintenance", "remove", *C, "1", "--by", "bram")
    assert (out.returncode, out.stdout.strip()) == (0, "maintenance window 1 removed")
    assert pagerd(tmp_path, "maintenance", "list", *C).stdout == ""
    out = pagerd(tmp_path, "route", *C, "--labels", "customer=acme", "service=webshop", "env=staging", "team=web")
    assert out.returncode == 0 and "maintenance  none" in out.stdout


# -- the config ------------------------------------------------------------------------------------------


def _issues(tmp_path: Path, edit) -> list[tuple[str, str]]:
    import yaml

    doc = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    edit(doc)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        load(str(path), env=EXAMPLE_ENV)
    except ConfigError as exc:
        return [(i.key, i.message) for i in exc.issues]
    return []


def _set(path: str, value):
    def edit(doc):
        node = doc
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        node[keys[-1]] = value

    return edit


@pytest.mark.parametrize(
    "edit, key",
    [
        (_set("paging.urgency", {"low": "warning"}), "paging.urgency.low"),
        (_set("paging.urgency", {"low": ["Warning"]}), "paging.urgency.low"),
        (_set("paging.urgency", {"low": [""]}), "paging.urgency.low"),
        (_set("paging.urgency", {"low": [f"s{i}" for i in range(33)]}), "paging.urgency.low"),
        (_set("paging.urgency", {"high": ["critical"]}), "paging.urgency.high"),
        (_set("paging.urgency", "low"), "paging.urgency"),
        (
            _set("customers.acme.projects.intranet.urgency", {"low": [7]}),
            "customers.acme.projects.intranet.urgency.low",
        ),
        (_set("routes.0.urgency", "medium"), "routes.0.urgency"),
    ],
)
def test_bad_urgency_config_is_refused_naming_the_key(tmp_path, edit, key):
    issues = _issues(tmp_path, edit)
    assert issues and issues[0][0].startswith(key), issues


def test_good_urgency_config_loads(tmp_path):
    def edit(doc):
        doc["paging"]["urgency"] = {"low": ["warning", "info", "p3"]}
        doc["customers"]["acme"]["projects"]["webshop"]["urgency"] = {"low": []}
        doc["routes"][0]["urgency"] = "high"

    assert _issues(tmp_path, edit) == []


async def test_the_api_says_which_window_holds_an_alert_as_the_engine_would(tmp_path):
    async with Scenario(tmp_path, "2026-12-08 22:00") as s:
        status, window = await s.api("POST", "/api/v1/maintenance", {**GOOD, "end": "2026-12-09T06:00"})
        assert status == 201
        webshop = {"labels": {"customer": "acme", "service": "webshop"}}
        assert await s.api("POST", "/api/v1/maintenance/match", webshop) == (
            200,
            {"project": "acme/webshop", "window": window},
        )
        later = {**webshop, "at": "2026-12-09T06:00"}
        assert await s.api("POST", "/api/v1/maintenance/match", later) == (
            200,
            {"project": "acme/webshop", "window": None},
        )
        intranet = {"labels": {"customer": "acme"}}
        assert await s.api("POST", "/api/v1/maintenance/match", intranet) == (
            200,
            {"project": "acme/intranet", "window": None},
        )
        for bad, field in (({}, "labels"), ({"labels": {"a": 1}}, "labels.a"), ({**webshop, "at": "soon"}, "at")):
            status, body = await s.api("POST", "/api/v1/maintenance/match", bad)
            assert (status, body["problems"][0]["field"]) == (422, field)
        iid = await s.fire({"customer": "acme", "service": "webshop"})  # and the engine agrees
        routed = [e for e in (await s.incident(iid))["timeline"] if e["kind"] == "routed"][0]
        assert routed["data"]["maintenance_window"] == window["id"]
