"""scripts/audit.py (`make audit`) reads pip-audit's JSON report and tells apart a clean audit,
known vulnerabilities and an audit that could not ask its advisory service about every package
(pip-audit itself exits 0 and says "No known vulnerabilities found" then). The advisory services
are not reachable from the test machines, so a stand-in for pip-audit writes the reports that
pip-audit writes (the `skip_reason` one is what it wrote here, with only a package index reachable)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit.py"

CLEAN = {
    "dependencies": [
        {"name": "aiohttp", "version": "3.14.5", "vulns": []},
        {"name": "pyyaml", "version": "6.0.4", "vulns": []},
    ],
    "fixes": [],
}
VULNERABLE = {
    "dependencies": [
        {
            "name": "aiohttp",
            "version": "3.9.0",
            "vulns": [
                {
                    "id": "PYSEC-2024-24",
                    "fix_versions": ["3.9.2"],
                    "aliases": ["CVE-2024-23334"],
                    "description": "path traversal",
                }
            ],
        },
        {"name": "pyyaml", "version": "6.0.4", "vulns": []},
    ],
    "fixes": [],
}
UNREACHED = {
    "dependencies": [
        {"name": "aiohttp", "skip_reason": "Dependency not found on PyPI and could not be audited: aiohttp (3.14.5)"},
        {"name": "pyyaml", "skip_reason": "Dependency not found on PyPI and could not be audited: pyyaml (6.0.4)"},
    ],
    "fixes": [],
}


STAND_IN = """#!{python}
import json, os, sys
args = sys.argv[1:]
assert "--require-hashes" in args and args[args.index("--format") + 1] == "json", args
with open(os.path.join({tmp!r}, "args.json"), "w") as f:
    json.dump(args, f)
report = {report!r}
if report is None:  # as pip-audit when the service's host does not resolve
    sys.exit("requests.exceptions.ConnectionError: name resolution failed")
with open(args[args.index("--output") + 1], "w") as f:
    f.write(report)
sys.exit({code})
"""


def stand_in(tmp_path: Path, report: dict | None, exit_code: int = 0) -> Path:
    """An executable that takes pip-audit's arguments and writes `report` where --output says."""
    exe = tmp_path / "pip-audit"
    exe.write_text(
        STAND_IN.format(
            python=sys.executable,
            tmp=str(tmp_path),
            code=exit_code,
            report=None if report is None else json.dumps(report),
        )
    )
    exe.chmod(0o755)
    return exe


def run(tmp_path: Path, exe: Path, *env: str) -> subprocess.CompletedProcess:
    lock = tmp_path / "test.txt"
    lock.write_text("aiohttp==3.14.5 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    environment = {"PATH": "/usr/bin:/bin", **dict(e.split("=", 1) for e in env)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(exe), str(lock)], capture_output=True, text=True, timeout=30, env=environment
    )


def test_clean_audit_exits_zero(tmp_path):
    r = run(tmp_path, stand_in(tmp_path, CLEAN))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no known vulnerabilities" in r.stdout
    args = json.loads((tmp_path / "args.json").read_text())
    assert args[args.index("--vulnerability-service") + 1] == "pypi"
    assert args[args.index("--requirement") + 1].endswith("test.txt")


def test_vulnerabilities_are_listed_with_their_fix_and_exit_one(tmp_path):
    r = run(tmp_path, stand_in(tmp_path, VULNERABLE, exit_code=1))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "VULNERABLE aiohttp==3.9.0: PYSEC-2024-24 (CVE-2024-23334), fixed in: 3.9.2" in r.stdout


@pytest.mark.parametrize("report", [UNREACHED, None], ids=["no-answer-per-package", "service-unreachable"])
def test_an_audit_that_could_not_ask_is_not_a_pass(tmp_path, report):
    r = run(tmp_path, stand_in(tmp_path, report, exit_code=0 if report else 1), "AUDIT_SERVICE=osv")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "INCOMPLETE" in r.stdout and "no known vulnerabilities" not in r.stdout
    assert ("NOT AUDITED" in r.stdout) if report else ("could not run against the 'osv'" in r.stdout)
