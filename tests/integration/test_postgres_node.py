"""One pagerd node on PostgreSQL (storage.backend: postgres through the example config's PAGERD_STORAGE and
PAGERD_PG_DSN), against the real server scripts/pg.sh provides: a webhook is stored and paged, survives a
kill -9, a re-sent notification changes nothing, and the CLI reads the same database as the daemon."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.harness.pagerd import ROOT, PagerdProcess

FIRING = (ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_bytes()


def _node(tmp_path: Path, dsn: str) -> PagerdProcess:
    return PagerdProcess(workdir=tmp_path / "node", extra_env={"PAGERD_STORAGE": "postgres", "PAGERD_PG_DSN": dsn})


def test_a_node_on_postgres_stores_pages_and_survives_kill_9(tmp_path: Path, dsn: str) -> None:
    p = _node(tmp_path, dsn).start()
    try:
        status, body = p.request("POST", "/api/v1/alerts/alertmanager", FIRING, token=p.webhook_token)
        assert status == 200, body
        incidents = p.wait_for(lambda n: n.incidents() or None)
        iid = incidents[0]["id"]
        # the engine routed it and paged (dry run) from the PostgreSQL store
        paged = p.wait_for(
            lambda n: (
                [e for e in n.api("GET", f"/api/v1/incidents/{iid}")[1]["timeline"] if e["kind"] == "paged"] or None
            )
        )
        assert paged
        # the pool's use and the commit latency are measured on PostgreSQL as on SQLite
        status, text = p.request("GET", "/metrics")
        assert status == 200
        for role in ("writer", "paging", "lease"):
            assert f'pagerd_store_connections{{role="{role}",state="open"}} 1.0' in text, text
        assert re.search(r'^pagerd_store_connections\{role="reader",state="open"\} [1-9]', text, re.M), text
        commits = re.search(r"^pagerd_store_commit_duration_seconds_count (\S+)$", text, re.M)
        assert commits and float(commits.group(1)) >= 1, text
        p.kill()
        assert not (p.workdir / "pagerd.db").exists()  # nothing went to SQLite
        p.start()
        assert [i["id"] for i in p.incidents()] == [iid]
        status, _ = p.request("POST", "/api/v1/alerts/alertmanager", FIRING, token=p.webhook_token)
        assert status == 200
        assert len(p.incidents()) == 1  # a re-sent notification changes nothing
        env = {**os.environ, **p.env()}
        out = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "pagerd"), "incidents", "list", "--json", "-c", str(p.config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert [i["id"] for i in json.loads(out.stdout)] == [iid]
    finally:
        p.stop()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (1,)
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 1


def test_an_unreachable_database_is_named_and_the_node_does_not_start(tmp_path: Path) -> None:
    p = _node(tmp_path, "postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(RuntimeError, match="exited"):
        p.start(timeout=30)
    log = p.log_path.read_text()
    assert "store_unavailable" in log and "port 1 failed" in log, log[-2000:]
    assert "Traceback" not in log
