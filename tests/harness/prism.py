"""Run Stoplight Prism on a loopback port, mocking Twilio's REST API from Twilio's own OpenAPI spec.

    prism = Prism(tmp_path / "prism").start()      # ~2-5 s
    notifier = TwilioNotifier(..., api_base=prism.url)
    ...
    prism.stop()

Every request the `twilio` SDK sends is validated against `../shared/twilio-oai/twilio_api_v2010.json`
(a 422 for a contract violation, 401 without Basic auth; 2xx with the spec's example body otherwise).
The spec is served as a patched copy: each array property of a form body declares the OpenAPI
default encoding (`style: form, explode: true`), so Prism accepts repeated keys such as
`StatusCallbackEvent=initiated&StatusCallbackEvent=answered` exactly like Twilio does (Prism issue 2473;
see ../shared/twilio-oai/README.md). Prism is installed by `scripts/peers.sh prism` into var/peers/prism;
`ensure_prism()` runs that when the binary is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .alertmanager import PeerProcess
from .timeouts import START_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "twilio-oai" / "twilio_api_v2010.json"
PRISM_BIN = ROOT / "var" / "peers" / "prism" / "node_modules" / ".bin" / "prism"
PEERS_SH = ROOT / "scripts" / "peers.sh"
FORM = "application/x-www-form-urlencoded"


def _unavailable(msg: str):
    """Fail in CI (CI=true), skip elsewhere: the same rule as tests.conftest.require_binary."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def ensure_prism() -> Path:
    """The prism binary; installs it with `scripts/peers.sh prism` when missing (npm, ~15 s once)."""
    if PRISM_BIN.exists() and os.access(PRISM_BIN, os.X_OK):
        return PRISM_BIN
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            _unavailable(f"peer prism needs {tool} (Debian packages nodejs, npm); run scripts/peers.sh prism")
    try:
        proc = subprocess.run(
            [str(PEERS_SH), "prism"], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        _unavailable("scripts/peers.sh prism did not finish in 300 s")
    if proc.returncode != 0 or not PRISM_BIN.exists():
        _unavailable(f"scripts/peers.sh prism failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-1500:]}")
    return PRISM_BIN


def patch_spec(spec: dict) -> int:
    """Declare `style: form, explode: true` for every array property of every form request body.

    That is OpenAPI's default encoding for form bodies and what Twilio accepts; Prism needs it said.
    Returns how many properties were patched."""
    patched = 0
    for item in spec.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            media = op.get("requestBody", {}).get("content", {}).get(FORM)
            if not media:
                continue
            props = media.get("schema", {}).get("properties", {})
            for name, schema in props.items():
                if schema.get("type") == "array":
                    media.setdefault("encoding", {}).setdefault(name, {}).update(style="form", explode=True)
                    patched += 1
    return patched


def write_patched_spec(dest: Path, source: Path = SPEC) -> Path:
    if not source.exists():
        _unavailable(f"Twilio OpenAPI spec not found at {source}")
    spec = json.loads(source.read_text())
    if patch_spec(spec) == 0:
        raise RuntimeError(f"no form array properties found in {source}; has the spec changed shape?")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(spec))
    return dest


class Prism(PeerProcess):
    """`prism mock` of Twilio's 2010 API on 127.0.0.1; our own child, stopped by its PID only."""

    name = "prism"
    ACCOUNT_SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # matches the spec's ^AC[0-9a-fA-F]{32}$

    def __init__(
        self, workdir: Path, port: int | None = None, binary: Path | None = None, dynamic: bool = False
    ) -> None:
        super().__init__(workdir, port)
        self.binary = binary
        self.dynamic = dynamic  # -d: random bodies (SIDs) instead of the spec's examples

    @property
    def spec_path(self) -> Path:
        return self.workdir / "twilio_api_v2010.patched.json"

    def prepare(self) -> None:
        if self.binary is None:
            self.binary = ensure_prism()
        write_patched_spec(self.spec_path)

    def argv(self) -> list[str]:
        argv = [str(self.binary), "mock", "-h", "127.0.0.1", "-p", str(self.port)]
        if self.dynamic:
            argv.append("-d")
        return argv + [str(self.spec_path)]

    def _answers(self) -> bool:
        """Any HTTP answer means it is serving (every Twilio path wants auth, so a 401 is typical)."""
        try:
            with urllib.request.urlopen(f"{self.url}/2010-04-01/Accounts.json", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def start(self, timeout: float = START_TIMEOUT):
        if self.running():
            raise RuntimeError(f"prism already running (pid {self.proc.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prism exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"prism not answering in {timeout}s:\n{self.log_tail()}")
