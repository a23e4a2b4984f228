"""The lock files in requirements/ match pyproject.toml: `make run` and `make test` install only
from them (exact versions, `--require-hashes`), so a dependency added to pyproject.toml without
`make lock` would be missing from the environment the suite and the daemon run in."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
REQ = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """{normalised name: (version, number of hashes)} of a uv/pip-compile lock file."""
    out: dict[str, tuple[str, int]] = {}
    name = None
    for line in lock.read_text().splitlines():
        m = PIN.match(line)
        if m:
            name = canonicalize_name(m.group(1))
            assert name not in out or out[name][0] == m.group(2), f"{lock.name}: {name} pinned twice"
            out[name] = (m.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and name is not None:
            version, n = out[name]
            out[name] = (version, n + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            pytest.fail(f"{lock.name}: unexpected line {line!r}")
    return out


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements_in(path: Path) -> list[str]:
    return [s.strip() for s in path.read_text().splitlines() if s.strip() and not s.lstrip().startswith("#")]


def assert_locked(lock: Path, wanted: list[str]) -> None:
    locked = pins(lock)
    for spec in wanted:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in locked, f"{spec!r} is not in requirements/{lock.name}: run `make lock`"
        version, _ = locked[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements/{lock.name} pins {name}=={version}, outside {spec!r}: run `make lock`"
        )


def test_every_pin_is_exact_and_hashed():
    for lock in ("run.txt", "test.txt", "tools.txt"):
        locked = pins(REQ / lock)
        assert locked, lock
        unhashed = [n for n, (_, hashes) in locked.items() if hashes == 0]
        assert unhashed == [], f"{lock}: no hash for {unhashed}"


def test_runtime_lock_holds_the_dependencies_and_the_build_backend():
    assert_locked(REQ / "run.txt", project()["dependencies"] + requirements_in(REQ / "build.in"))


def test_test_lock_holds_runtime_and_test_extra():
    p = project()
    assert_locked(
        REQ / "test.txt", p["dependencies"] + p["optional-dependencies"]["test"] + requirements_in(REQ / "build.in")
    )


def test_runtime_lock_is_the_test_lock_restricted_to_runtime():
    """`make run` gets the versions the suite ran with."""
    test = pins(REQ / "test.txt")
    differ = {
        n: (v, test.get(n, (None,))[0]) for n, (v, _) in pins(REQ / "run.txt").items() if test.get(n, (None,))[0] != v
    }
    assert differ == {}, f"run.txt vs test.txt: {differ}: run `make lock`"


def test_build_backend_in_the_lock_satisfies_build_system():
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert_locked(REQ / "run.txt", build)


def test_tools_lock_holds_the_locker_and_the_auditor():
    assert_locked(REQ / "tools.txt", requirements_in(REQ / "tools.in"))


def test_a_dependency_missing_from_the_lock_is_caught(tmp_path):
    lock = tmp_path / "run.txt"
    lock.write_text("aiohttp==3.9.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(AssertionError, match="not in"):
        assert_locked(lock, ["aiohttp>=3.9", "google-re2>=1"])
    with pytest.raises(AssertionError, match="outside"):
        assert_locked(lock, ["aiohttp>=3.10"])
