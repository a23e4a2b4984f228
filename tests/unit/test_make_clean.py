"""`make clean` removes build output only and keeps var/ (the database of `make run`, the tests' peers);
`make clean-data` deletes the database only with CONFIRM=1. Run on a copy of the Makefile in a temporary
folder with stand-ins for the venvs, caches and data: never on the repository (its .venv may be shared)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = [".venv/bin/python", ".venv-tools/bin/uv", "build/lib/x.py", "pagerd.egg-info/PKG-INFO"]
BUILD += [".mypy_cache/x", ".ruff_cache/x", ".pytest_cache/x", ".hypothesis/examples/x"]
DATA = ["var/pagerd.db", "var/pagerd.db-wal", "var/pagerd.db-shm", "var/peers/prism/prism", "var/backup.db"]
SOURCE = ["pager/cli.py", "config/pagerd.example.yaml", "bench/out/run.json"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    work = tmp_path / "repo"
    for rel in BUILD + DATA + SOURCE:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(rel)
    shutil.copy(ROOT / "Makefile", work / "Makefile")
    assert work.resolve() != ROOT.resolve() and not (work / ".venv").is_symlink()
    return work


def make(work: Path, *args: str) -> subprocess.CompletedProcess:
    # no variables handed down from a `make test` around this test (VENV=... there must not reach clean)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL")}
    env.update(VENV=".venv", TOOLS=".venv-tools")  # and none from the environment either
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(work / "Makefile"), *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def files(work: Path) -> set[str]:
    return {str(p.relative_to(work)) for p in work.rglob("*") if p.is_file()} - {"Makefile"}


def test_make_clean_keeps_var(tree: Path) -> None:
    run = make(tree, "clean")
    assert run.returncode == 0, run.stderr
    assert files(tree) == set(DATA + SOURCE)  # the build output is gone, every byte of data is there


def test_make_clean_data_refuses_without_confirm_and_says_what(tree: Path) -> None:
    run = make(tree, "clean-data")
    assert run.returncode != 0
    assert "would delete var/pagerd.db var/pagerd.db-wal var/pagerd.db-shm" in run.stdout
    assert "CONFIRM=1" in run.stdout
    assert files(tree) == set(BUILD + DATA + SOURCE)
    run = make(tree, "clean-data", "CONFIRM=yes")
    assert run.returncode != 0 and files(tree) == set(BUILD + DATA + SOURCE)

    run = make(tree, "clean-data", "CONFIRM=1")
    assert run.returncode == 0, run.stderr
    # the database and its -wal and -shm files; not the peers, not another file in var/
    assert files(tree) == set(BUILD + SOURCE + ["var/peers/prism/prism", "var/backup.db"])
    run = make(tree, "clean-data")
    assert run.returncode == 0 and "nothing to delete" in run.stdout
