"""The database under faults, with the real daemon: a full disk (a size-limited tmpfs), another process
holding SQLite's write lock (as a backup tool may), and `pagerd backup FILE` under webhook load, its copy
restored into a second daemon and checked.

The full disk is a tmpfs with a size limit, mounted for the test (root; CI runs as root). In CI
(CI=true) a machine that cannot mount one fails the test; elsewhere it skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.harness.pagerd import PagerdProcess
from tests.harness.store_links import assert_alerts_linked


def post_alert(d: PagerdProcess, name: str) -> tuple[int, dict, dict]:
    """POST one firing Alertmanager group named `name`: (status, headers, JSON answer)."""
    labels = {"alertname": name, "customer": "agency", "severity": "critical"}
    body = json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{name}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "pagerd",
            "groupLabels": {"alertname": name},
            "commonLabels": labels,
            "commonAnnotations": {"summary": f"{name} fired"},
            "externalURL": "http://alertmanager.example:9093",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": f"{name} fired"},
                    "startsAt": "2026-01-01T00:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
                }
            ],
        }
    ).encode()
    req = urllib.request.Request(
        d.url + "/api/v1/alerts/alertmanager",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {d.webhook_token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def read_only(db: Path) -> sqlite3.Connection:
    """A connection that only reads (beside a running daemon: WAL readers need the -shm writable, so no mode=ro)."""
    conn = sqlite3.connect(db, timeout=30)
    conn.execute("PRAGMA query_only=ON")
    return conn


def names_in(db: Path) -> list[str]:
    """The alert names of the incidents stored in `db`."""
    conn = read_only(db)
    try:
        return sorted(json.loads(r[0])["alertname"] for r in conn.execute("SELECT labels FROM incidents"))
    finally:
        conn.close()


def check_database(db: Path) -> dict[str, int]:
    """integrity_check and foreign keys clean; every stored webhook whole: each delivery with as many alerts as
    it carried, each alert's incident present, each incident with its alerts and its `opened` event.
    Returns row counts."""
    conn = read_only(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert_alerts_linked(conn)
        assert conn.execute(
            "SELECT count(*) FROM deliveries d WHERE alert_count != "
            "(SELECT count(*) FROM alerts a WHERE a.delivery_id = d.id)"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id)"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM incidents i WHERE NOT EXISTS "
            "(SELECT 1 FROM events e WHERE e.incident_id = i.id AND e.kind = 'opened')"
        ).fetchone() == (0,)
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("deliveries", "alerts", "incidents")
        }
    finally:
        conn.close()


def _cannot(msg: str):
    """A machine that cannot make the small file system: a failure in CI (CI=true), a skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


# -- a full disk ----------------------------------------------------------------------------------
DISK_BYTES = 8 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a tmpfs of DISK_BYTES (mounted as root; unmounted after the test)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        _cannot("a full-disk test needs root and mount(8) to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "pagerd-small-disk", str(disk)],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if done.returncode != 0:
        _cannot(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], capture_output=True, timeout=10)


def test_full_disk_answers_503_with_retry_after_writes_nothing_half_and_recovers(small_disk, tmp_path):
    d = PagerdProcess(tmp_path / "pagerd", extra_env={"PAGERD_DB": str(small_disk / "pagerd.db")})
    d.start()
    try:
        seen = small_disk
        answered = {}
        for n in range(5):
            name = f"BeforeFull{n}"
            answered[name] = post_alert(d, name)[0]
        assert set(answered.values()) == {200}

        filler = seen / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # take every byte left
            for _ in range(DISK_BYTES // 4096 + 16):
                try:
                    os.write(fd, b"\0" * 4096)
                except OSError:
                    break
        finally:
            os.close(fd)
        assert os.statvfs(seen).f_bavail == 0
        refused: list[str] = []
        for n in range(400):  # the database may still have room in pages it holds: post until it has none
            name = f"WhileFull{n}"
            status, headers, answer = post_alert(d, name)
            answered[name] = status
            if status != 200:
                assert status == 503, (status, answer)
                assert int(headers["Retry-After"]) > 0 and "disk is full" in answer["error"], (headers, answer)
                refused.append(name)
                if len(refused) == 3:
                    break
        assert len(refused) == 3, "the disk never filled up"
        status, _, _ = post_alert(d, refused[0])  # a sender's retry while the disk is still full: 503 again
        assert status == 503

        # Nothing half-written: what was answered 200 is stored whole, what was answered 503 is not there.
        counts = check_database(seen / "pagerd.db")
        stored = names_in(seen / "pagerd.db")
        assert stored == sorted(n for n, s in answered.items() if s == 200)
        assert counts["incidents"] == counts["deliveries"] == counts["alerts"] == len(stored)

        os.unlink(filler)  # space returns: the same webhooks, sent again, are stored; the engine pages them
        for name in refused:
            status, _, answer = post_alert(d, name)
            assert status == 200, answer
        stored = names_in(seen / "pagerd.db")
        assert stored == sorted(answered) and len(set(stored)) == len(stored)
        check_database(seen / "pagerd.db")
        last = max(i["id"] for i in d.incidents(limit="1000"))
        d.wait_for(
            lambda p: any(e["kind"] == "paged" for e in p.api("GET", f"/api/v1/incidents/{last}")[1]["timeline"]),
            timeout=15,
        )
    finally:
        d.stop()
        print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")


# -- another process holds the write lock ----------------------------------------------------------
HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")           # SQLite's write lock, as a backup or a maintenance script may take it
print("locked", flush=True)
sys.stdin.readline()                      # until the test says so
time.sleep(float(sys.argv[2]))            # a few seconds more, with the webhooks already waiting
print("releasing", flush=True)
conn.execute("COMMIT")
"""


def test_writes_wait_for_another_process_holding_the_write_lock(pagerd, tmp_path):
    d = pagerd
    assert post_alert(d, "BeforeLock")[0] == 200
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(d.db_path), "3"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        released = threading.Event()
        results: dict[str, tuple[int, bool]] = {}

        def send(name: str) -> None:
            status, _, _ = post_alert(d, name)
            results[name] = (status, released.is_set())

        threads = [threading.Thread(target=send, args=(f"DuringLock{n}",)) for n in range(8)]
        for t in threads:
            t.start()
        holder.stdin.write("go\n")
        holder.stdin.flush()
        ready = urllib.request.urlopen(d.url + "/readyz", timeout=10).status  # reads go on meanwhile
        assert holder.stdout.readline().strip() == "releasing"
        released.set()
        for t in threads:
            t.join(60)
        assert holder.wait(30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(5)
    assert ready == 200
    # every sender got 200 (none an error), and only once the other process had let go
    assert results == {f"DuringLock{n}": (200, True) for n in range(8)}, results
    assert names_in(d.db_path) == sorted(["BeforeLock", *results])
    check_database(d.db_path)


# -- pagerd backup FILE, under load; the copy restored and checked ------------------------------------
def backup(d: PagerdProcess, dest: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pager", "backup", "-c", str(d.config), str(dest), *extra],
        env=d.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_backup_under_webhook_load_is_a_consistent_copy_that_restores(pagerd, tmp_path):
    d = pagerd
    answered: list[tuple[str, int, str]] = []  # (name, status, phase: before | during | after the backup)
    phase = ["before"]
    stop = threading.Event()

    def load() -> None:
        for n in range(2000):  # bounded: stops when told, or after 2000 webhooks
            if stop.is_set():
                return
            current = phase[0]
            status, _, _ = post_alert(d, f"Load{n}")
            answered.append((f"Load{n}", status, current if phase[0] == current else "during"))

    loader = threading.Thread(target=load)
    loader.start()
    try:
        d.wait_for(lambda _: len(answered) >= 30, timeout=30, interval=0.05)
        phase[0] = "during"
        dest = tmp_path / "backups" / "pagerd-copy.db"
        dest.parent.mkdir()
        done = backup(d, dest)
        phase[0] = "after"
        d.wait_for(lambda _: sum(1 for a in answered if a[2] == "after") >= 10, timeout=30, interval=0.05)
    finally:
        stop.set()
        loader.join(60)
    assert done.returncode == 0, done.stderr
    assert f"backed up to {dest}" in done.stdout
    assert {s for _, s, _ in answered} == {200}  # the load never noticed the backup

    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert sorted(p.name for p in dest.parent.iterdir()) == ["pagerd-copy.db"]  # no temporary file left
    copy = names_in(dest)
    before = {n for n, _, ph in answered if ph == "before"}
    after = {n for n, _, ph in answered if ph == "after"}
    assert before <= set(copy), "an incident answered before the backup began is missing from it"
    assert not after & set(copy), "an incident answered after the backup ended is in it"
    counts = check_database(dest)  # a consistent snapshot: every webhook in it whole
    assert counts["incidents"] == len(copy)

    # an existing file is refused (and left as it was) unless --force
    original = dest.read_bytes()
    again = backup(d, dest)
    assert again.returncode == 1 and "exists" in again.stderr and dest.read_bytes() == original
    forced = backup(d, dest, "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(names_in(dest)) == len({n for n, _, _ in answered})  # now all of them
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600

    # Restore: a daemon started on the first copy serves exactly its incidents, whole, and takes new ones.
    restored_db = tmp_path / "restored" / "pagerd.db"
    restored_db.parent.mkdir()
    restored_db.write_bytes(original)
    r = PagerdProcess(tmp_path / "restored", extra_env={"PAGERD_DB": str(restored_db)}).start()
    try:
        served = r.incidents(limit="1000")
        assert sorted(i["labels"]["alertname"] for i in served) == copy
        one = r.api("GET", f"/api/v1/incidents/{served[0]['id']}")[1]
        assert one["alerts"] and one["timeline"]
        assert post_alert(r, "AfterRestore")[0] == 200
    finally:
        r.stop()
    check_database(restored_db)
