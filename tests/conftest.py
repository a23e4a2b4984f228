from __future__ import annotations

import inspect
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from tests.harness.pagerd import SIGNING_KEY, PagerdProcess

# CI replays the same examples every run (a red build is always reproducible); developers' runs explore
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")
# the example config's secrets (they have no default) and its notifier, for the `pagerd` commands that tests
# run on it: every page simulated on purpose
os.environ.setdefault("PAGERD_SIGNING_KEY", SIGNING_KEY)
os.environ.setdefault("PAGERD_ADMIN_TOKEN", "test-admin-token")
os.environ.setdefault("PAGERD_WEBHOOK_TOKEN", "test-webhook-token")
os.environ.setdefault("PAGERD_NOTIFIER", "dry_run")


def require_binary(path: str) -> str:
    """The path of a peer program; in CI (CI=true) a missing peer fails the test, elsewhere it skips."""
    found = shutil.which(path) or (path if os.path.exists(path) else None)
    if found:
        return found
    msg = f"peer {path} is not installed (run scripts/peers.sh install)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def pagerd(tmp_path):
    """A running pagerd daemon on the example config, SQLite in tmp_path, every channel simulated (dry run)."""
    p = PagerdProcess(workdir=tmp_path / "pagerd").start()
    yield p
    p.stop()


TESTS = Path(__file__).resolve().parent
SHARED_SCOPES = ("class", "module", "package", "session")


def _shared_fixture_group(item: pytest.Item) -> str | None:
    """The xdist group of a test that uses a fixture of ours made once for several tests (class, module,
    package or session scope): its file (its folder for a package fixture, one group for a session one), so
    that fixture is made once, on one worker, and not once on each worker that runs one of its tests."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    path = item.nodeid.split("::", 1)[0]
    group = None
    for name in item.fixturenames:
        defs = info.name2fixturedefs.get(name)
        if not defs:
            continue
        fixturedef = defs[-1]  # the definition this test gets
        if fixturedef.scope not in SHARED_SCOPES:
            continue
        try:
            source = Path(inspect.getfile(fixturedef.func)).resolve()
        except (TypeError, OSError):
            continue
        if not source.is_relative_to(TESTS):
            continue  # a plugin's (pytest-asyncio's loop policy, ...): nothing of ours to keep together
        if fixturedef.scope == "session":
            return "session"
        if fixturedef.scope == "package":
            group = str(Path(path).parent)
        elif group is None:
            group = path
    return group


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`): keep the tests of a file that share a module- or class-scoped
    fixture (a daemon, a peer such as Prism) on one worker, so the fixture is made once per file."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = _shared_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
