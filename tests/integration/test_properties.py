"""Property-based: mutate real payloads of each source and post them to the real daemon.

For every request: no 5xx, and no partial write. A 4xx leaves the database exactly as it was; a
2xx stored the raw body once and applied every alert of the payload exactly once (as a new
notification or as a recognised duplicate), with each incident's alert_count equal to its alerts.

Mutations start from real payloads (tests/testdata/alertmanager/firing.json, an Events v2 trigger as
Alertmanager's pagerduty_configs and Grafana send it, Nagios notification macros as form or JSON):
deleted fields, swapped types, renamed and added keys, strings replaced by unicode, control
characters, lone surrogates or huge values, duplicated list items, duplicated JSON keys, raw UTF-8
with surrogates, truncated bytes. One daemon for the module; 150 examples per source.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pager.observe.redact import Redactor
from pager.sources import events_v2
from tests.harness.pagerd import ENGINE_KINDS, PagerdProcess

ROOT = Path(__file__).resolve().parents[2]
FIRING = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())
TOKEN = "test-webhook-token"
EXAMPLES = 150
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
_n = itertools.count()  # fixed-width uses only: the shape of a payload must not vary between runs

# -- the real payloads -----------------------------------------------------------------------------


def am_base() -> dict:
    d = copy.deepcopy(FIRING)
    n = next(_n)
    d["groupKey"] = f'{{}}:{{alertname="Prop",n="{n:08d}"}}'
    for a in d["alerts"]:
        a["labels"]["n"] = f"{n:08d}"
    return d


def ev_base(action: str) -> dict:
    n = next(_n)
    d = {
        "routing_key": TOKEN,
        "event_action": action,
        "dedup_key": f"prop/{n % 40:02d}",
        "client": "Grafana",
        "client_url": "https://grafana.example/alerting",
        "links": [{"href": "https://grafana.example/d/abc", "text": "dashboard"}],
        "images": [{"src": "https://grafana.example/render/1.png", "alt": "graph"}],
    }
    if action == "trigger":
        d["payload"] = {
            "summary": f"[FIRING:1] HighLatency api-{n:08d}",
            "source": "api.example",
            "severity": "error",
            "timestamp": "2026-11-25T14:00:00.000+01:00",
            "component": "api",
            "group": "prod",
            "class": "latency",
            "custom_details": {"firing": "Labels:\n - alertname = HighLatency", "num_firing": "1"},
        }
    return d


def ng_base(kind: str) -> dict:
    n = next(_n)
    d = {
        "NOTIFICATIONTYPE": kind,
        "HOSTNAME": f"web{n % 30:02d}",
        "HOSTALIAS": "Web server",
        "HOSTADDRESS": "192.0.2.10",
        "HOSTSTATE": "UP",
        "SERVICEDESC": "HTTP login",
        "SERVICESTATE": "OK" if kind == "RECOVERY" else "CRITICAL",
        "SERVICEOUTPUT": "HTTP CRITICAL: HTTP/1.1 500 - 512 bytes in 0.01 s|time=0.01s",
        "LONGSERVICEOUTPUT": "line one\\nline two",
        "SERVICEPROBLEMID": f"{10_000_000 + n % 1_000_000}",
        "LASTSERVICEPROBLEMID": f"{11_000_000 + n % 1_000_000}",
        "NOTIFICATIONNUMBER": "1",
        "CONTACTNAME": "pagerd",
        "TIMET": str(1764079200 + n % 1_000_000 * 10),
    }
    if kind in ("ACKNOWLEDGEMENT", "DOWNTIMESTART"):
        d["NOTIFICATIONAUTHOR"] = "anna"
        d["NOTIFICATIONCOMMENT"] = "on it"
    return d


# -- mutations -------------------------------------------------------------------------------------
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01",
    "\x07",
    "\x1b[31m",
    "\n",
    "\r\n",
    "\t",
    "\x7f",
    "\x85",
    "\ud800",
    "\udfff",
    "x\ud83dy",
    "\ufeff",
    "\u202e",
    "\u2028",
    "\uffff",
    "🚨",
    "日本語",
    "Zürich",
    "\U0010ffff",
    "%00",
    "%FF",
    "\\u0000",
    "${PAGERD_ADMIN_TOKEN}",
    "'; DROP TABLE incidents; --",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-11-25T14:00:00",
    "-1",
    "1e400",
    "NaN",
    "firing",
    "resolved",
    "trigger",
    "resolve",
    "acknowledge",
    "PROBLEM",
    "RECOVERY",
    "4",
    "3",
]
SIZES = [255, 256, 1024, 1025, 4096, 4097, 16384, 16385, 65536, 65537, 300_000, 1_100_000]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(NASTY)
)
json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=6
)


def strings(original: str | None = None):
    base = [
        st.sampled_from(NASTY),
        st.text(max_size=40),
        st.builds(lambda ch, k: ch * k, st.sampled_from(["x", "é", "🚨", "\x00"]), st.sampled_from(SIZES)),
    ]
    if original is not None:
        base += [
            st.builds(lambda s: original + s, st.sampled_from(NASTY) | st.text(max_size=8)),
            st.builds(lambda s: s + original, st.sampled_from(NASTY) | st.text(max_size=8)),
            st.integers(0, max(0, len(original))).map(lambda i: original[:i]),
        ]
    return st.one_of(base)


def paths(obj, path=()):
    """Every (path, value) in a JSON tree, the root included."""
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, path + (i,))


def get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


TEXTY = {"labels", "annotations", "groupLabels", "commonLabels", "commonAnnotations", "payload", "custom_details"}


class Dup:
    """A dict serialized with some keys twice: `extra` pairs are written after (or before) the real ones."""

    def __init__(self, d: dict, extra: list, first: bool) -> None:
        self.d, self.extra, self.first = d, extra, first


def mutate(data, doc):
    """Apply 0-3 random tree mutations to `doc` (in place where possible); returns the new root."""
    for _ in range(data.draw(st.integers(0, 3), label="mutations")):
        all_paths = list(paths(doc))
        op = data.draw(
            st.sampled_from(["delete", "retype", "string", "text", "text", "rename", "add", "dup-item", "dup-key"]),
            label="op",
        )
        if op == "delete":
            cands = [p for p, _ in all_paths if p]
            if not cands:
                continue
            p = data.draw(st.sampled_from(cands), label="delete")
            parent = get(doc, p[:-1])
            if isinstance(parent, (dict, list)):
                del parent[p[-1]]
        elif op == "retype":
            p = data.draw(st.sampled_from([p for p, _ in all_paths]), label="retype")
            value = data.draw(json_values, label="value")
            if not p:
                doc = value
            else:
                get(doc, p[:-1])[p[-1]] = value
        elif op == "string":
            cands = [p for p, v in all_paths if isinstance(v, str) and p]
            if not cands:
                continue
            p = data.draw(st.sampled_from(cands), label="string")
            get(doc, p[:-1])[p[-1]] = data.draw(strings(get(doc, p)), label="new string")
        elif op == "text":  # the values a monitoring system fills in: labels, annotations, summaries, macros
            cands = [
                p
                for p, v in all_paths
                if isinstance(v, str)
                and p
                and ((len(p) >= 2 and p[-2] in TEXTY) or (len(p) == 1 and str(p[0]).isupper()))
            ]
            if not cands:
                continue
            p = data.draw(st.sampled_from(cands), label="text")
            get(doc, p[:-1])[p[-1]] = data.draw(st.text(max_size=60) | strings(get(doc, p)), label="new text")
        elif op == "rename":
            cands = [p for p, _ in all_paths if p and isinstance(p[-1], str)]
            if not cands:
                continue
            p = data.draw(st.sampled_from(cands), label="rename")
            parent = get(doc, p[:-1])
            parent[data.draw(strings(p[-1]), label="new name")] = parent.pop(p[-1])
        elif op == "add":
            cands = [p for p, v in all_paths if isinstance(v, dict)]
            if not cands:
                continue
            p = data.draw(st.sampled_from(cands), label="add to")
            get(doc, p)[data.draw(strings(), label="key")] = data.draw(json_values, label="value")
        elif op == "dup-item":
            cands = [p for p, v in all_paths if isinstance(v, list) and v]
            if not cands:
                continue
            p = data.draw(st.sampled_from(cands), label="dup list")
            lst = get(doc, p)
            lst.append(copy.deepcopy(lst[data.draw(st.integers(0, len(lst) - 1))]))
        elif op == "dup-key":
            cands = [p for p, v in all_paths if isinstance(v, dict) and v]
            if not cands:
                continue
            p = data.draw(st.sampled_from(cands), label="dup key in")
            d = get(doc, p)
            key = data.draw(st.sampled_from(sorted(d, key=str)), label="dup key")
            dup = Dup(d, [(key, data.draw(json_values, label="dup value"))], data.draw(st.booleans()))
            if not p:
                doc = dup
            else:
                get(doc, p[:-1])[p[-1]] = dup
    return doc


def encode(obj, ensure_ascii: bool) -> str:
    if isinstance(obj, Dup):
        pairs = list(obj.d.items())
        pairs = obj.extra + pairs if obj.first else pairs + obj.extra
        return "{" + ",".join(f"{encode(str(k), ensure_ascii)}:{encode(v, ensure_ascii)}" for k, v in pairs) + "}"
    if isinstance(obj, dict):
        return "{" + ",".join(f"{encode(str(k), ensure_ascii)}:{encode(v, ensure_ascii)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(encode(v, ensure_ascii) for v in obj) + "]"
    return json.dumps(obj, ensure_ascii=ensure_ascii)


def serialize(data, doc) -> bytes:
    """JSON bytes of `doc`; sometimes raw UTF-8 (lone surrogates as their 3 bytes); sometimes truncated."""
    ascii_ = data.draw(st.booleans(), label="ensure_ascii")
    raw = encode(doc, ascii_).encode("utf-8", "surrogatepass")
    return raw_mutation(data, raw)


def raw_mutation(data, raw: bytes) -> bytes:
    what = data.draw(st.sampled_from(["none", "none", "none", "truncate", "byte", "prefix"]), label="raw")
    if what == "truncate":
        return raw[: data.draw(st.integers(0, max(0, len(raw) - 1)), label="cut at")]
    if what == "byte" and raw:
        i = data.draw(st.integers(0, len(raw) - 1), label="at")
        return raw[:i] + bytes([data.draw(st.integers(0, 255), label="byte")]) + raw[i + 1 :]
    if what == "prefix":
        return data.draw(st.sampled_from([b"\xef\xbb\xbf", b" ", b"\x00", b"[", b"{"]), label="prefix") + raw
    return raw


def parsed(body: bytes):
    """What the body means to a standard JSON parser (last duplicate key wins), or None."""
    try:
        return json.loads(body)
    except ValueError:
        return None


# -- plumbing ---------------------------------------------------------------------------------------
TABLES = ("deliveries", "incidents", "alerts", "alert_events", "events")


def snapshot(con: sqlite3.Connection) -> dict:
    s = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES if t != "events"}
    # the paging engine adds its own timeline entries on its own schedule; count what ingestion wrote
    s["events"] = con.execute(f"SELECT count(*) FROM events WHERE kind NOT IN {ENGINE_KINDS}").fetchone()[0]
    s["incident_rows"] = con.execute(
        "SELECT id, state, alert_count, reopen_count, updated_at FROM incidents ORDER BY id"
    ).fetchall()
    s["seen"] = con.execute("SELECT sum(seen_count) FROM deliveries").fetchone()[0] or 0
    return s


def consistent(con: sqlite3.Connection) -> None:
    bad = con.execute(
        "SELECT i.id, i.alert_count, (SELECT count(*) FROM alerts a WHERE a.incident_id = i.id) n "
        "FROM incidents i WHERE i.alert_count != n"
    ).fetchall()
    assert bad == [], f"incidents.alert_count differs from the alerts rows: {bad[:5]}"
    doubled = con.execute(
        "SELECT source, dedup_key FROM incidents WHERE state != 'resolved' "
        "GROUP BY source, dedup_key HAVING count(*) > 1"
    ).fetchall()
    assert doubled == [], doubled


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    p = PagerdProcess(workdir=tmp_path_factory.mktemp("pagerd-properties")).start()
    con = sqlite3.connect(p.db_path, timeout=10)
    p.con = con  # type: ignore[attr-defined]
    yield p
    con.close()
    p.stop()
    print(f"--- pagerd log (tail) ---\n{p.log_path.read_text(errors='replace')[-3000:]}")


def stored_form(p: PagerdProcess, path: str, body: bytes) -> bytes:
    """The raw body as pagerd stores it: an Events v2 routing_key and any configured secret redacted."""
    if path == "/v2/enqueue":
        body = events_v2.without_routing_key(body)
    return Redactor([p.webhook_token, p.admin_token, p.signing_key]).bytes(body)


def post(p: PagerdProcess, path: str, body: bytes, ctype: str, token: str | None = TOKEN):
    """POST and check the universal properties; returns (status, answer, before, after)."""
    before = snapshot(p.con)  # type: ignore[attr-defined]
    status, answer = p.request("POST", path, body, token=token, content_type=ctype)
    after = snapshot(p.con)  # type: ignore[attr-defined]
    event(f"HTTP {status}")
    assert status < 500, f"{status} {answer!r} for {body[:300]!r}"
    assert p.proc is not None and p.proc.poll() is None, "the daemon died"
    assert isinstance(answer, dict), answer
    if status >= 400:
        assert isinstance(answer.get("error"), str) and isinstance(answer.get("problems"), list), answer
        assert after == before, f"a {status} changed the database: {answer!r}"
    else:
        sha = hashlib.sha256(stored_form(p, path, body)).hexdigest()
        row = p.con.execute("SELECT count(*) FROM deliveries WHERE sha256 = ?", (sha,)).fetchone()  # type: ignore
        assert row[0] == 1, "the raw body of an accepted webhook is not stored (once)"
        assert after["seen"] == before["seen"] + 1, "one accepted webhook, one delivery (or one more sighting)"
        consistent(p.con)  # type: ignore[attr-defined]
        assert_clean(p, sha, before)
    return status, answer, before, after


CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def assert_clean(p, sha: str, before: dict) -> None:
    """What this accepted webhook stored as keys and labels (its alerts, the incidents it opened) is clean."""
    con = p.con
    (delivery_id,) = con.execute("SELECT id FROM deliveries WHERE sha256 = ?", (sha,)).fetchone()
    old = {r[0] for r in before["incident_rows"]}
    rows = [
        ("alert", labels)
        for (labels,) in con.execute("SELECT labels FROM alerts WHERE delivery_id = ?", (delivery_id,))
    ]
    for iid, key, labels in con.execute("SELECT id, dedup_key, labels FROM incidents"):
        if iid not in old:
            assert not CONTROL.search(key), f"incident {iid}: control character in its key {key!r}"
            rows.append((f"incident {iid}", labels))
    for where, raw in rows:
        for name, value in json.loads(raw).items():
            assert not CONTROL.search(name) and not CONTROL.search(value), f"{where}: label {name!r}={value!r}"


def incident(p, iid: int):
    return p.con.execute(  # type: ignore[attr-defined]
        "SELECT source, dedup_key, state FROM incidents WHERE id = ?", (iid,)
    ).fetchone()


# -- the properties -----------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_alertmanager_mutations(daemon, data):
    doc = mutate(data, am_base())
    body = serialize(data, doc)
    status, answer, before, after = post(daemon, "/api/v1/alerts/alertmanager", body, "application/json")
    if status < 300:
        assert status == 200, answer
        meant = parsed(body)
        assert isinstance(meant, dict), "accepted a body that is not a JSON object"
        alerts = meant["alerts"]
        assert answer["alerts"] == len(alerts), (answer, len(alerts))
        fresh = answer["alerts"] - answer["duplicates"]
        assert after["alert_events"] - before["alert_events"] == fresh, "alerts applied != alerts in the payload"
        assert len(answer["incidents"]) <= 1, "one group, one incident"
        for iid in answer["incidents"]:
            assert incident(daemon, iid)[:2] == ("alertmanager", meant["groupKey"])
        fingerprints = {(a.get("fingerprint") or None) for a in alerts}
        if answer["duplicates"] == 0 and answer["incidents"] and None not in fingerprints:
            got = {
                r[0]
                for r in daemon.con.execute(
                    "SELECT fingerprint FROM alerts WHERE incident_id = ?", (answer["incidents"][0],)
                )
            }
            firing = {a["fingerprint"] for a in alerts if a["status"] == "firing"}
            assert firing <= got, "a firing alert of an accepted webhook is not stored"


@SETTINGS
@given(data=st.data(), action=st.sampled_from(["trigger", "trigger", "acknowledge", "resolve"]))
def test_events_v2_mutations(daemon, data, action):
    doc = mutate(data, ev_base(action))
    body = serialize(data, doc)
    status, answer, before, after = post(daemon, "/v2/enqueue", body, "application/json", token=None)
    if status < 300:
        assert status == 202, answer
        meant = parsed(body)
        assert isinstance(meant, dict), "accepted a body that is not a JSON object"
        assert set(answer) == {"status", "message", "dedup_key"}, answer
        assert answer["status"] == "success" and answer["message"] == "Event processed", answer
        if meant.get("dedup_key"):
            assert answer["dedup_key"] == meant["dedup_key"], (answer, meant)
        fresh = after["alert_events"] - before["alert_events"]
        assert fresh in (0, 1), fresh
        if meant["event_action"] == "trigger" and after["incident_rows"] != before["incident_rows"]:
            row = daemon.con.execute(
                "SELECT state FROM incidents WHERE source = 'events_v2' AND dedup_key = ? AND state != 'resolved'",
                (answer["dedup_key"],),
            ).fetchone()
            assert row is not None, "an accepted trigger left no open incident for its key"


NG_KINDS = ["PROBLEM", "PROBLEM", "RECOVERY", "ACKNOWLEDGEMENT", "DOWNTIMESTART", "FLAPPINGSTART", "CUSTOM"]


def form_encode(macros) -> bytes:
    """Form encoding of a (possibly mutated) macro object; non-string parts as their JSON text."""
    if not isinstance(macros, (dict, Dup)):
        return quote(encode(macros, True)).encode()
    d = macros.d if isinstance(macros, Dup) else macros
    pairs = list(d.items()) + (macros.extra if isinstance(macros, Dup) else [])
    out = []
    for k, v in pairs:
        v = v if isinstance(v, str) else encode(v, True)
        out.append(quote(str(k), safe="", errors="surrogatepass") + "=" + quote(v, safe="", errors="surrogatepass"))
    return "&".join(out).encode()


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(NG_KINDS), as_form=st.booleans())
def test_nagios_mutations(daemon, data, kind, as_form):
    doc = mutate(data, ng_base(kind))
    if as_form:
        body, ctype = raw_mutation(data, form_encode(doc)), "application/x-www-form-urlencoded"
    else:
        body, ctype = serialize(data, doc), "application/json"
    status, answer, before, after = post(daemon, "/api/v1/alerts/nagios", body, ctype)
    if status < 300:
        assert status == 200, answer
        assert answer["duplicates"] in (0, 1), answer
        assert after["alert_events"] - before["alert_events"] == 1 - answer["duplicates"]
        assert len(answer["incidents"]) <= 1
        for iid in answer["incidents"]:
            assert incident(daemon, iid)[0] == "nagios"


def test_daemon_still_serving_after_the_properties(daemon):
    status, body = daemon.request("GET", "/healthz")
    assert status == 200, body
    status, body = daemon.request("GET", "/readyz")
    assert status == 200, body
    consistent(daemon.con)  # type: ignore[attr-defined]
    assert daemon.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"  # type: ignore[attr-defined]
