from __future__ import annotations

import os
import shutil

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
