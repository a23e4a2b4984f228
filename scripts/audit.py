"""`make audit`: the locked packages checked against known vulnerabilities with pip-audit.

    python scripts/audit.py PIP_AUDIT LOCK...

pip-audit asks an advisory service over the network for every package of each lock file
(`AUDIT_SERVICE`: `pypi`, the default, or `osv`). It answers "No known vulnerabilities found" even
when the service could not be asked about a single package, so this script reads its JSON report
and says which of three things happened:

    exit 0  every package was checked and none has a known vulnerability
    exit 1  known vulnerabilities (listed with the versions that fix them)
    exit 2  the audit could not run or is incomplete: packages the service gave no answer for
            (as where only a package index is reachable and not the advisory service)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def audit(pip_audit: str, lock: Path, service: str) -> tuple[list[str], list[str], str | None]:
    """(vulnerabilities, packages not audited, why pip-audit could not run) for one lock file."""
    with tempfile.TemporaryDirectory(prefix="pagerd-audit-") as tmp:
        report = Path(tmp) / "report.json"
        proc = subprocess.run(  # noqa: S603 (the tools venv's pip-audit, arguments from the Makefile)
            [
                pip_audit,
                "--requirement",
                str(lock),
                "--require-hashes",
                "--disable-pip",
                "--vulnerability-service",
                service,
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            return [], [], last
    vulns, skipped = [], []
    for dep in data.get("dependencies", []):
        if "skip_reason" in dep:
            skipped.append(f"{dep['name']}: {dep['skip_reason']}")
        for v in dep.get("vulns", []):
            fixes = ", ".join(v.get("fix_versions") or []) or "none yet"
            aliases = ", ".join(v.get("aliases") or [])
            vulns.append(
                f"{dep['name']}=={dep.get('version', '?')}: {v['id']}"
                f"{f' ({aliases})' if aliases else ''}, fixed in: {fixes}"
            )
    return vulns, skipped, None


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    pip_audit, locks = argv[0], [Path(a) for a in argv[1:]]
    service = os.environ.get("AUDIT_SERVICE", "pypi")
    found, incomplete = False, False
    for lock in locks:
        vulns, skipped, failed = audit(pip_audit, lock, service)
        if failed:
            print(f"audit: {lock}: pip-audit could not run against the '{service}' advisory service: {failed}")
            incomplete = True
            continue
        for line in vulns:
            print(f"audit: {lock}: VULNERABLE {line}")
        found = found or bool(vulns)
        if skipped:
            incomplete = True
            print(
                f"audit: {lock}: NOT AUDITED: the '{service}' advisory service gave no answer for "
                f"{len(skipped)} package(s), e.g. {skipped[0]}"
            )
        elif not vulns:
            print(f"audit: {lock}: no known vulnerabilities")
    if found:
        return 1
    if incomplete:
        print(
            "audit: INCOMPLETE: the advisory service is not reachable from this machine (a package index "
            "alone is not enough); run `make audit` where it is"
            + (", or with AUDIT_SERVICE=osv" if service != "osv" else "")
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
