"""Helpers for paging tests against the real daemon: a short-waits copy of the example config,
a recording tap in front of Prism, timeline readers and Twilio-signed callbacks.

    cfg = short_config(tmp_path / "pagerd.yaml")                 # voice after 3 s, steps 4 s / 4 s
    tap = TwilioTap(prism.url).start()                            # every SDK request, and Prism's answer
    d = PagerdProcess(tmp_path / "d", config=cfg, extra_env=twilio_env(tap.url)).start()
    status, twiml = twilio_post(d, "/twilio/sms", {"From": phone, "Body": "1"})
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import yaml
from twilio.request_validator import RequestValidator

from .pagerd import EXAMPLE_CONFIG, PagerdProcess

AUTH_TOKEN = "test-twilio-auth-token-0123456789"
FROM_NUMBER = "+15005550006"  # an E.164 number, as a real deployment sets it
FORM = "application/x-www-form-urlencoded"

SHORT_STEPS = [{"targets": ["oncall"], "wait": "4s"}, {"targets": ["oncall", "person:bram"], "wait": "4s"}]
# High enough that no test here is throttled or bundled by accident (storm control has its own tests).
LOOSE_THROTTLES = {ch: {"max": 1000, "per": "1m"} for ch in ("sms", "voice", "email")}


class _Dumper(yaml.SafeDumper):
    pass


# ${VAR} placeholders stay quoted: the loader types an unquoted substitution as YAML would
# (an E.164 "+3197..." would become an integer).
_Dumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style='"' if "${" in s else None)
)


def short_config(
    dest: Path,
    *,
    voice_after: str = "3s",
    steps: list[dict] | None = None,
    repeat: int = 0,
    heartbeats: dict | None = None,
    contact_rules: list[dict] | None = None,
    clock_start: str | None = None,
    simulate: list[str] | None = None,
    rename: dict[str, str] | None = None,
) -> Path:
    """A copy of the example config with second-scale waits: contact rules sms 0 s, voice `voice_after`,
    e-mail 0 s; policy `default` = `steps` (4 s / 4 s), `repeat`; no early escalation. `clock_start`
    (an ISO instant, or a ${VAR}): the daemon runs on the manual clock from there (PagerdProcess.advance).
    `simulate`: notifier.simulate, the channels simulated on purpose beside a live provider (with auto).
    `rename` (old id -> new id): person ids renamed wherever the config names them."""
    cfg = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    cfg = copy.deepcopy(cfg)
    cfg["paging"]["contact_rules"] = contact_rules or [
        {"channel": "sms", "after": "0s"},
        {"channel": "voice", "after": voice_after},
        {"channel": "email", "after": "0s"},
    ]
    cfg["paging"]["escalate_at"] = None
    cfg["paging"]["throttles"] = LOOSE_THROTTLES
    cfg["escalation_policies"]["default"] = {"steps": steps or SHORT_STEPS, "repeat": repeat}
    if heartbeats is not None:
        cfg["heartbeats"] = heartbeats
    if simulate is not None:
        cfg["notifier"]["simulate"] = simulate
    if clock_start is not None:
        cfg["testing"] = {"clock": "manual", "start": clock_start}
    if rename:
        _rename_people(cfg, rename)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.dump(cfg, Dumper=_Dumper, sort_keys=False))
    return dest


def _rename_people(cfg: dict, rename: dict[str, str]) -> None:
    def one(pid: str) -> str:
        return rename.get(pid, pid)

    cfg["people"] = {one(pid): p for pid, p in cfg["people"].items()}
    for rot in cfg.get("rotations", {}).values():
        for holder in [rot, *rot.get("layers", [])]:
            if "participants" in holder:
                holder["participants"] = [one(p) for p in holder["participants"]]
    cfg["desk"]["people"] = [one(p) for p in cfg["desk"].get("people", [])]
    for pol in cfg.get("escalation_policies", {}).values():  # new step dicts: the caller's stay as they were
        pol["steps"] = [
            {
                **step,
                "targets": [
                    f"person:{one(t[len('person:') :])}" if t.startswith("person:") else t for t in step["targets"]
                ],
            }
            for step in pol["steps"]
        ]


def twilio_env(api_base: str, account_sid: str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") -> dict[str, str]:
    """What the example config reads to page through Twilio (the SDK pointed at `api_base`); e-mail needs a
    mail server too (smtp_env) or notifier.simulate: [email]."""
    return {
        "PAGERD_NOTIFIER": "auto",
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": FROM_NUMBER,
        "PAGERD_TWILIO_API_BASE": api_base,
    }


def smtp_env(port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """What the example config reads to send e-mail through SMTP; sms and voice need Twilio too (twilio_env)
    or notifier.simulate: [sms, voice]."""
    return {"PAGERD_NOTIFIER": "auto", "PAGERD_SMTP_HOST": host, "PAGERD_SMTP_PORT": str(port)}


# -- a recording tap in front of Prism ----------------------------------------------------------------
class TwilioTap:
    """A loopback HTTP proxy: forwards every request to `upstream` (Prism) and records it with Prism's
    answer, so a test can see what pagerd sent (To, Body, callbacks) and whether the contract took it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        tap = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                req = urllib.request.Request(tap.upstream + self.path, data=body, method=self.command)
                for k in ("Authorization", "Content-Type", "Accept", "User-Agent", "Accept-Charset"):
                    if self.headers.get(k):
                        req.add_header(k, self.headers[k])
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
                except urllib.error.HTTPError as e:
                    status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
                except (urllib.error.URLError, OSError) as e:
                    status, raw, ctype = 599, str(e).encode(), "text/plain"
                form = parse_qs(body.decode(), keep_blank_values=True) if body else {}
                with tap.lock:
                    tap.requests.append(
                        {
                            "at": time.time(),
                            "method": self.command,
                            "path": self.path.split("?")[0],
                            "form": form,
                            "status": status,
                            "answer": raw.decode("utf-8", "replace")[:2000],
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> TwilioTap:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sent(self, kind: str | None = None, to: str | None = None) -> list[dict]:
        """Recorded requests; `kind` "sms" (Messages.json) or "voice" (Calls.json), `to` a phone number."""
        with self.lock:
            out = list(self.requests)
        if kind is not None:
            suffix = {"sms": "/Messages.json", "voice": "/Calls.json"}[kind]
            out = [r for r in out if r["path"].endswith(suffix)]
        if to is not None:
            out = [r for r in out if r["form"].get("To") == [to]]
        return out

    def rejected(self) -> list[dict]:
        return [r for r in self.sent() if not 200 <= r["status"] < 300]


# -- timelines ----------------------------------------------------------------------------------------
def incident(d: PagerdProcess, iid: int) -> dict:
    status, body = d.api("GET", f"/api/v1/incidents/{iid}")
    assert status == 200, body
    return body  # type: ignore[return-value]


def events(inc: dict, kind: str | None = None, **data: Any) -> list[dict]:
    """Timeline events of `kind` whose data has all of `data`."""
    return [
        e
        for e in inc["timeline"]
        if (kind is None or e["kind"] == kind) and all(e["data"].get(k) == v for k, v in data.items())
    ]


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def wait_event(d: PagerdProcess, iid: int, kind: str, timeout: float = 10.0, count: int = 1, **data: Any) -> dict:
    """Poll the incident until it has `count` events of `kind` (with `data`); returns the incident."""
    return d.wait_for(
        lambda p: (lambda inc: inc if len(events(inc, kind, **data)) >= count else None)(incident(p, iid)),
        timeout=timeout,
        interval=0.1,
    )


def failed_pages(inc: dict) -> list[dict]:
    return [e for e in events(inc, "paged") if e["data"]["status"] not in ("sent", "simulated")]


# -- Twilio callbacks, signed the way Twilio signs them ------------------------------------------------
_sids = itertools.count(1)


def new_sid(prefix: str = "SM") -> str:
    """A fresh Twilio SID (`SM...` a message, `CA...` a call): each inbound SMS Twilio posts has its own."""
    return f"{prefix}{next(_sids):032x}"


def sms_in(phone: str, body: str, sid: str | None = None) -> dict[str, str]:
    """The form Twilio posts to /twilio/sms for an SMS from `phone` to our number (a new MessageSid)."""
    return {
        "MessageSid": sid or new_sid(),
        "AccountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "From": phone,
        "To": FROM_NUMBER,
        "Body": body,
    }


def twilio_post(
    d: PagerdProcess,
    path_qs: str,
    params: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    signature: str | None = None,
    signed: bool = True,
) -> tuple[int, object]:
    """POST a form to pagerd as Twilio would: X-Twilio-Signature over PAGERD_PUBLIC_URL + path and query.
    `signature` overrides the computed one; `signed=False` sends no signature header at all."""
    url = d.url + path_qs  # the harness sets PAGERD_PUBLIC_URL to the daemon's own URL
    headers = {}
    if signed:
        headers["X-Twilio-Signature"] = signature or RequestValidator(token).compute_signature(url, params)
    return d.request("POST", path_qs, urlencode(params).encode(), content_type=FORM, headers=headers)


def fire(d: PagerdProcess, name: str, summary: str, *, starts_at: str = "2026-01-01T00:00:00Z", **labels: str) -> int:
    """Post one firing Alertmanager group (customer=agency unless given); returns its incident id. Another
    `starts_at` makes it another firing of the same alert (one that reopens its resolved incident)."""
    labels = {"alertname": name, "customer": "agency", "severity": "critical", **labels}
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pagerd",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {"summary": summary},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": summary},
                "startsAt": starts_at,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
            }
        ],
    }
    status, answer = d.request("POST", "/api/v1/alerts/alertmanager", json.dumps(body).encode(), token=d.webhook_token)
    assert status == 200, answer
    (iid,) = answer["incidents"]  # type: ignore[index]
    return iid
