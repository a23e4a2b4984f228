"""The fast source parser paths agree with the checked (reference) paths on every payload.

`alertmanager.parse` tries `_parse_fast` and falls back to `_parse_checked`, which checks every text on
its own and names every problem. For good payloads the fast path must give the very same alerts and
facts (compared by repr: every field, datetime tzinfo and dict order included); for bad ones it must
step aside, so the error (status, message, problems) is the checked path's. `events_v2.parse` is
compared with a copy of the implementation it replaced.
"""
from __future__ import annotations

import copy
import json
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.domain.alert import Alert, Source, stable_id
from pager.sources import alertmanager, events_v2
from pager.sources.errors import InputError, Problem, check_text, validate_json

FIRING = json.loads((Path(__file__).resolve().parents[1] / "testdata" / "alertmanager" / "firing.json").read_text())


def bench_hook(n: int = 1, run: str = "run-1-1") -> dict:
    """A webhook shaped like bench/single.lua (n=1) and bench/batch.lua."""
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="Bench",bench_id="{run}"}}', "truncatedAlerts": 0,
        "status": "firing", "receiver": "pagerd",
        "groupLabels": {"alertname": "Bench", "bench_id": run},
        "commonLabels": {"alertname": "Bench", "bench_id": run, "customer": "agency", "severity": "critical"},
        "commonAnnotations": {"summary": f"Bench alert {run}"}, "externalURL": "http://alertmanager.example:9093",
        "alerts": [{"status": "firing",
                    "labels": {"alertname": "Bench", "bench_id": run, "customer": "agency", "severity": "critical",
                               "instance": f"web{i}:9100"},
                    "annotations": {"summary": f"Disk almost full on web{i}", "description": "/var is 97% full"},
                    "startsAt": "2026-11-25T14:00:00.000Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk",
                    "fingerprint": f"{run}-{i}"} for i in range(1, n + 1)],
    }


def outcome(fn, body, **kw):
    """What a parser makes of `body`: its alerts and facts, or its error, in comparable form."""
    try:
        alerts, facts = fn(body, **kw)
    except InputError as e:
        return ("error", e.status, e.message, [(p.field, p.message) for p in e.problems])
    return ("ok", repr(alerts), repr(facts), [type(a.starts_at.tzinfo) for a in alerts])


def agree(body, *, expect_fast: bool | None = None, **kw):
    """parse(body) is what the checked path makes of it; the fast path answers only for good input."""
    ref = outcome(alertmanager._parse_checked, body, **kw)
    assert outcome(alertmanager.parse, body, **kw) == ref
    fast = alertmanager._parse_fast(body, kw.get("dedup_by", "group_key"), kw.get("strict", True))
    if fast is not None:
        assert ref[0] == "ok"
        assert outcome(lambda *_a, **_k: fast, body) == ref
    if expect_fast is not None:
        assert (fast is not None) == expect_fast
    return ref


def dump(d: dict, ascii_: bool = True) -> bytes:
    return json.dumps(d, ensure_ascii=ascii_).encode("utf-8", "surrogatepass")


def changed(base: dict, *changes) -> dict:
    """A copy of `base` with (path, value) changes applied; a path is a tuple of keys/indexes."""
    d = copy.deepcopy(base)
    for path, value in changes:
        obj = d
        for k in path[:-1]:
            obj = obj[k]
        if value is DROP:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value
    return d


DROP = object()
A0 = ("alerts", 0)
L0 = ("alerts", 0, "labels")
N0 = ("alerts", 0, "annotations")


def test_fast_path_taken_for_the_benchmark_payloads() -> None:
    for n in (1, 2, 100):
        assert agree(dump(bench_hook(n)), expect_fast=True)[0] == "ok"
    assert agree(json.dumps(FIRING, indent=2).encode(), expect_fast=True)[0] == "ok"


@pytest.mark.parametrize("strict", [True, False])
def test_fast_schema_has_the_models_fields(strict: bool) -> None:
    """Same field names, the same ones required, same handling of unknown fields (constraints: the tables)."""
    model = alertmanager._STRICT if strict else alertmanager._LENIENT
    hook = alertmanager._fast_schema("forbid" if strict else "ignore").core_schema
    alert = hook["fields"]["alerts"]["schema"]["items_schema"]
    alert_model = typing.get_args(model.model_fields["alerts"].annotation)[0]
    for schema, m in ((hook, model), (alert, alert_model)):
        assert {k: f["required"] for k, f in schema["fields"].items()} == {
            k: f.is_required() for k, f in m.model_fields.items()}
        assert schema["extra_behavior"] == m.model_config["extra"]


GOOD = {
    "firing": FIRING,
    "fingerprint-derived": changed(FIRING, (A0 + ("fingerprint",), DROP), (("alerts", 1, "fingerprint"), "")),
    "resolved": changed(FIRING, (A0 + ("status",), "resolved"), (A0 + ("endsAt",), "2026-11-25T14:10:00Z")),
    "resolved-zero-end": changed(FIRING, (A0 + ("status",), "resolved")),
    "resolved-null-end": changed(FIRING, (A0 + ("status",), "resolved"), (A0 + ("endsAt",), None)),
    "resolved-no-end": changed(FIRING, (A0 + ("status",), "resolved"), (A0 + ("endsAt",), DROP)),
    "resolved-naive-end": changed(FIRING, (A0 + ("status",), "resolved"), (A0 + ("endsAt",), "2026-11-25T14:10:00")),
    "firing-with-end": changed(FIRING, (A0 + ("endsAt",), "2026-11-25T14:10:00Z")),
    "offset-and-micros": changed(FIRING, (A0 + ("startsAt",), "2026-11-25T15:00:00.123456+01:00")),
    "nanos": changed(FIRING, (A0 + ("startsAt",), "2026-11-25T14:00:00.123456789Z")),
    "negative-offset": changed(FIRING, (A0 + ("startsAt",), "2026-11-25T09:00:00-05:00")),
    "description-summary": changed(FIRING, (N0, {"description": "only a description"})),
    "common-summary": changed(FIRING, (N0, {})),
    "label-summary": changed(FIRING, (N0, DROP), (("commonAnnotations",), {})),
    "label-summary-only-alertname": changed(FIRING, (N0, {}), (("commonAnnotations",), {}), (L0, {"alertname": "X"})),
    "long-summary": changed(FIRING, (N0 + ("summary",), "s" * 3000)),
    "facts": changed(FIRING, (("truncatedAlerts",), 7), (("status",), "resolved"), (("receiver",), "r2"),
                     (("externalURL",), "http://am2")),
    "no-group-labels": changed(FIRING, (("groupLabels",), DROP), (("commonLabels",), DROP)),
    "no-optional-fields": changed(FIRING, (("truncatedAlerts",), DROP), (("externalURL",), DROP),
                                  (A0 + ("generatorURL",), DROP), (A0 + ("annotations",), DROP)),
    "unicode": changed(FIRING, (L0, {"alertname": "Schijf vol — ✓ 日本", "x": "ü🚨", "y": "\x85\u2028\ufeff"})),
    "quotes-and-backslashes": changed(FIRING, (L0 + ("x",), 'a"b\\c/d'), (("groupKey",), 'k\\"\\\\')),
    "escaped-backslash-n": changed(FIRING, (L0 + ("x",), "C:\\new\\table\\u0000")),
    "multiline-annotations": changed(FIRING, (N0 + ("description",), "line one\nline two\r\n\ttabbed")),
    "control-in-unchecked-texts": changed(FIRING, (("commonAnnotations",), {"summary": "x\x00\x7f"}),
                                          (("externalURL",), "\x01"), (A0 + ("generatorURL",), "\n"),
                                          (A0 + ("fingerprint",), "f\x00")),
    "label-name-trailing-newline": changed(FIRING, (L0, {"alertname": "X", "abc\n": "v"})),
    "label-name-underscore": changed(FIRING, (L0, {"_": "v", "__name__": "w", "A1": "z"})),
    "128-labels": changed(FIRING, (L0, {f"l{i}": "v" for i in range(128)})),
    "128-group-labels": changed(FIRING, (("groupLabels",), {f"l{i}": "v" for i in range(128)})),
    "max-label-value": changed(FIRING, (L0 + ("x",), "v" * 4096)),
    "max-group-label-value": changed(FIRING, (("commonLabels", "x"), "é" * 4096)),
    "max-annotation": changed(FIRING, (N0 + ("description",), "d" * 65536)),
    "max-group-key": changed(FIRING, (("groupKey",), "k" * 16384)),
    "max-receiver": changed(FIRING, (("receiver",), "r" * 16384)),
    "empty-strings": changed(FIRING, (("receiver",), ""), (L0 + ("x",), ""), (N0 + ("summary",), "")),
    "del-free-high-chars": changed(FIRING, (L0 + ("x",), "\x80\x9f\xa0\uffff\U0010ffff")),
}


@pytest.mark.parametrize("dedup_by", ["group_key", "fingerprint"])
@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_payloads_agree(name: str, dedup_by: str) -> None:
    for body in (dump(GOOD[name]), dump(GOOD[name], ascii_=False)):
        assert agree(body, dedup_by=dedup_by)[0] == "ok"


def test_good_payloads_mostly_take_the_fast_path() -> None:
    slow = {name for name, d in GOOD.items() if alertmanager._parse_fast(dump(d), "group_key", True) is None}
    assert slow == set()


def test_lenient_mode_agrees() -> None:
    body = dump(changed(FIRING, (("newField",), "x"), (A0 + ("extra",), {"a": 1})))
    assert agree(body, strict=False, expect_fast=True)[0] == "ok"
    assert agree(body, strict=True, expect_fast=False)[0] == "error"


def test_str_and_bytearray_bodies_agree() -> None:
    assert agree(dump(FIRING).decode())[0] == "ok"
    assert agree(bytearray(dump(FIRING)))[0] == "ok"


CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1b", "\x1f", "\x7f"]


def placed(ch: str) -> list[str]:
    return [ch + "value", "val" + ch + "ue", "value" + ch, ch]


BAD = {
    **{f"label-value-{ord(c):02x}-{i}": changed(FIRING, (L0 + ("x",), s))
       for c in CONTROLS for i, s in enumerate(placed(c))},
    **{f"label-value-{ord(c):02x}-second-alert": changed(FIRING, (("alerts", 1, "labels", "x"), "a" + c))
       for c in CONTROLS},
    **{f"annotation-{ord(c):02x}-{i}": changed(FIRING, (N0 + ("description",), s))
       for c in CONTROLS if c not in "\t\n\r" for i, s in enumerate(placed(c))},
    **{f"group-label-{ord(c):02x}": changed(FIRING, (("groupLabels", "alertname"), "Disk" + c))
       for c in CONTROLS},
    **{f"common-label-{ord(c):02x}": changed(FIRING, (("commonLabels", "customer"), c + "agency"))
       for c in CONTROLS},
    **{f"group-key-{ord(c):02x}": changed(FIRING, (("groupKey",), "{}:" + c)) for c in CONTROLS},
    **{f"receiver-{ord(c):02x}": changed(FIRING, (("receiver",), "pagerd" + c)) for c in CONTROLS},
    "surrogate-label-value": changed(FIRING, (L0 + ("x",), "a\ud800b")),
    "surrogate-low-label-value": changed(FIRING, (L0 + ("x",), "\udfff")),
    "surrogate-annotation": changed(FIRING, (N0 + ("summary",), "x\udc00")),
    "surrogate-label-name": changed(FIRING, (L0, {"alertname": "X", "a\ud800": "v"})),
    "surrogate-group-key": changed(FIRING, (("groupKey",), "\ud83d")),
    "surrogate-common-label": changed(FIRING, (("commonLabels", "x"), "\ud800")),
    "bad-name-dash": changed(FIRING, (L0, {"alertname": "X", "bad-name": "x"})),
    "bad-name-digit": changed(FIRING, (L0, {"1abc": "x"})),
    "bad-name-empty": changed(FIRING, (L0, {"": "x"})),
    "bad-name-space": changed(FIRING, (L0, {"a b": "x", "alertname": "X"})),
    "bad-name-unicode": changed(FIRING, (L0, {"é": "x"})),
    "bad-name-newline-inside": changed(FIRING, (L0, {"a\nb": "x"})),
    "bad-name-leading-newline": changed(FIRING, (L0, {"\nab": "x"})),
    "bad-name-comma": changed(FIRING, (L0, {"a,b": "x"})),
    "bad-name-long": changed(FIRING, (L0, {"-" * 200: "x"})),
    "bad-name-group": changed(FIRING, (("groupLabels",), {"bad-name": "x"})),
    "bad-name-common": changed(FIRING, (("commonLabels",), {"ok": "x", "0": "y"})),
    "bad-name-second-alert": changed(FIRING, (("alerts", 1, "labels"), {"a.b": "x"})),
    "long-label-value": changed(FIRING, (L0 + ("x",), "v" * 4097)),
    "long-label-value-2-alert": changed(FIRING, (("alerts", 1, "labels", "x"), "é" * 4097)),
    "long-group-label-value": changed(FIRING, (("groupLabels", "x"), "v" * 4097)),
    "long-common-label-value": changed(FIRING, (("commonLabels", "x"), "v" * 5000)),
    "long-annotation": changed(FIRING, (N0 + ("description",), "d" * 65537)),
    "long-group-key": changed(FIRING, (("groupKey",), "k" * 16385)),
    "long-receiver": changed(FIRING, (("receiver",), "r" * 16385)),
    "long-and-control": changed(FIRING, (L0 + ("x",), "v" * 4097 + "\x00")),
    "empty-labels": changed(FIRING, (L0, {})),
    "empty-labels-second": changed(FIRING, (("alerts", 1, "labels"), {})),
    "129-labels": changed(FIRING, (L0, {f"l{i}": "v" for i in range(129)})),
    "129-bad-labels": changed(FIRING, (L0, {f"l-{i}": "v\x00" for i in range(129)})),
    "129-group-labels": changed(FIRING, (("groupLabels",), {f"l{i}": "v" for i in range(129)})),
    "129-common-labels": changed(FIRING, (("commonLabels",), {f"l{i}": "v" for i in range(129)})),
    "no-timezone": changed(FIRING, (A0 + ("startsAt",), "2026-11-25T14:00:00")),
    "no-timezone-second": changed(FIRING, (("alerts", 1, "startsAt"), "2026-11-25T14:00:00.000")),
    "no-timezone-date": changed(FIRING, (A0 + ("startsAt",), "2026-11-25")),
    "no-timezone-and-bad-label": changed(FIRING, (A0 + ("startsAt",), "2026-11-25T14:00:00"), (L0 + ("x",), "\x00")),
    "bad-startsAt": changed(FIRING, (A0 + ("startsAt",), "yesterday")),
    "missing-startsAt": changed(FIRING, (A0 + ("startsAt",), DROP)),
    "bad-status": changed(FIRING, (A0 + ("status",), "burning")),
    "bad-version": changed(FIRING, (("version",), "3")),
    "empty-group-key": changed(FIRING, (("groupKey",), "")),
    "no-alerts": changed(FIRING, (("alerts",), [])),
    "extra-field": changed(FIRING, (A0 + ("extra",), 1)),
    "negative-truncated": changed(FIRING, (("truncatedAlerts",), -1)),
    "label-not-string": changed(FIRING, (L0 + ("x",), 5)),
    "labels-list": changed(FIRING, (L0, [])),
    "many-problems": changed(FIRING, (("alerts",), [changed(FIRING["alerts"][0],
                                                            (("labels",), {"a-b": "\x00", "c": "\x01"}))] * 60)),
    "everything-wrong": changed(FIRING, (("receiver",), "r\x00"), (("groupLabels",), {"-": "x"}),
                                (L0, {}), (N0 + ("summary",), "\x00"), (A0 + ("startsAt",), "2026-11-25T14:00:00")),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_payloads_agree(name: str) -> None:
    for body in (dump(BAD[name]), dump(BAD[name], ascii_=False)):  # raw UTF-8 surrogates are a 400
        assert agree(body, expect_fast=False)[0] == "error"
    agree(dump(BAD[name]), dedup_by="fingerprint", strict=False)


def test_raw_bodies_agree() -> None:
    good = dump(FIRING)
    for body in (b"{", b"[]", b"null", b"", b"\xef\xbb\xbf" + good, good[:-1],
                 good.replace(b"DiskFull", b"Disk\x7fFull"),
                 good.replace(b"DiskFull", b"Disk\x01Full"), good.replace(b"web1:9100", b"web1\\u0000"),
                 good.replace(b"web1:9100", b"\\ud800"), good.replace(b"web1:9100", b"\xed\xa0\x80")):
        agree(body, expect_fast=False)


def test_too_many_alerts_agree() -> None:
    hook = bench_hook(1)
    hook["alerts"] = hook["alerts"] * 10001
    assert agree(dump(hook), expect_fast=False)[0] == "error"


def test_known_label_names_cache_does_not_hide_a_bad_name() -> None:
    agree(dump(changed(FIRING, (L0, {"alertname": "X", "good_name": "v"}))), expect_fast=True)
    agree(dump(changed(FIRING, (L0, {"alertname": "X", "good_name": "v", "bad name": "v"}))), expect_fast=False)


@pytest.mark.parametrize("group_key,fp,status,starts,ends", [
    ("k", "fp", "firing", "2026-11-25T14:00:00Z", None),
    ('{}:{a="b"}', "x", "resolved", "2026-11-25T14:00:00.123456-05:00", "2026-11-25T15:00:00+00:00"),
    ("é\u2028🚨\"\\", "\x00\"\\é\U0001f6a8", "resolved", "2026-11-25T14:00:00+14:00", "2026-11-25T14:00:00.5Z"),
])
def test_event_id_matches_stable_id(group_key, fp, status, starts, ends) -> None:
    body = dump(changed(FIRING, (("groupKey",), group_key), (A0 + ("fingerprint",), fp), (A0 + ("status",), status),
                        (A0 + ("startsAt",), starts), (A0 + ("endsAt",), ends)))
    for dedup_by in ("group_key", "fingerprint"):
        fast = alertmanager._parse_fast(body, dedup_by, True)
        assert fast is not None
        a = fast[0][0]
        assert a.event_id == stable_id("am", a.dedup_key, fp, status, a.starts_at.isoformat(),
                                       a.ends_at.isoformat() if a.ends_at else None)


# -- property: random mutations of a good payload --------------------------------------------------------------
NASTY = ["", " ", "\x00", "a\x00b", "\x01", "\x07", "\x1b[31m", "\n", "\r\n", "\t", "\x7f", "\x85", "\ud800",
         "\udfff", "x\ud83dy", "\ufeff", "\u2028", "\uffff", "🚨", "日本語", "\\u0000", "\\n", '"', "a-b", "_a",
         "1a", "2026-11-25T14:00:00", "2026-11-25T14:00:00Z", "0001-01-01T00:00:00Z", "firing", "resolved"]
texts = (st.sampled_from(NASTY) | st.text(st.characters(exclude_categories=()), max_size=12)
         | st.builds(lambda ch, k: ch * k, st.sampled_from(["x", "é", "\x00"]),
                     st.sampled_from([4095, 4096, 4097, 16385, 65537])))
names = st.sampled_from(["alertname", "severity", "instance", "job", "_x", "A9"]) | texts
label_maps = (st.dictionaries(names, texts, max_size=6)
              | st.integers(127, 130).map(lambda n: {f"l{i}": "v" for i in range(n)}))
scalars = st.none() | st.booleans() | st.integers(-3, 3) | texts


@st.composite
def webhooks(draw):
    d = bench_hook(draw(st.integers(1, 4)), run=draw(st.sampled_from(["r1", "r2"])))
    d["alerts"][-1]["labels"]["alertname"] = "Other"
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(d["alerts"]) - 1))
        where = draw(st.sampled_from(["label", "labels", "annotation", "group", "top", "alert", "drop"]))
        if where == "label":
            d["alerts"][i]["labels"][draw(names)] = draw(texts)
        elif where == "labels":
            d["alerts"][i]["labels"] = draw(label_maps)
        elif where == "annotation":
            key = draw(st.sampled_from(["summary", "description", "x"]))
            d["alerts"][i].setdefault("annotations", {})[key] = draw(texts)
        elif where == "group":
            d[draw(st.sampled_from(["groupLabels", "commonLabels", "commonAnnotations"]))] = draw(label_maps)
        elif where == "top":
            d[draw(st.sampled_from(["groupKey", "receiver", "status", "version", "externalURL"]))] = draw(texts)
        elif where == "alert":
            key = draw(st.sampled_from(["status", "startsAt", "endsAt", "fingerprint", "generatorURL", "x"]))
            d["alerts"][i][key] = draw(scalars)
        else:
            d["alerts"][i].pop(draw(st.sampled_from(["annotations", "endsAt", "fingerprint", "startsAt"])), None)
    return d


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hook=webhooks(), ascii_=st.booleans(), dedup_by=st.sampled_from(["group_key", "fingerprint"]),
       strict=st.booleans())
def test_random_payloads_agree(hook, ascii_, dedup_by, strict) -> None:
    agree(dump(hook, ascii_), dedup_by=dedup_by, strict=strict)


# -- Events API v2: parse() against the parse() it replaced -----------------------------------------------------
def ev2_reference(body: bytes):
    """events_v2.parse before the fast checks and event id (git 7852cb9), kept here as the reference."""
    ev = validate_json(events_v2.Event, body)
    problems: list[Problem] = []
    if ev.event_action == "trigger" and ev.payload is None:
        problems.append(Problem("payload", "required for event_action trigger"))
    if ev.event_action != "trigger" and not ev.dedup_key:
        problems.append(Problem("dedup_key", f"required for event_action {ev.event_action}"))
    pl = ev.payload
    for field, value in (("dedup_key", ev.dedup_key), ("payload.summary", pl and pl.summary),
                         ("payload.source", pl and pl.source), ("payload.component", pl and pl.component),
                         ("payload.group", pl and pl.group), ("payload.class", pl and pl.class_)):
        if value:
            p = check_text(value, field, max_len=1024, multiline=field == "payload.summary")
            if p:
                problems.append(p)
    if problems:
        raise InputError(422, "invalid event", problems)
    p = ev.payload
    dedup = ev.dedup_key or stable_id("ev2", ev.routing_key, p.summary if p else "", p.source if p else "")
    labels = {} if p is None else {k: v for k, v in (("source", p.source), ("component", p.component),
                                                     ("group", p.group), ("class", p.class_)) if v}
    details: dict = {}
    if p is not None and p.custom_details is not None:
        details["custom_details"] = p.custom_details
    if ev.links:
        details["links"] = [link.model_dump() for link in ev.links]
    if ev.images:
        details["images"] = [img.model_dump() for img in ev.images]
    if ev.client:
        details["client"] = ev.client
    if ev.client_url:
        details["client_url"] = ev.client_url
    return ev, Alert(source=Source.EVENTS_V2, dedup_key=dedup, fingerprint=dedup,
                     action=events_v2._ACTIONS[ev.event_action],
                     event_id=stable_id("ev2", ev.model_dump(mode="json", by_alias=True)),
                     summary=p.summary if p else "", severity=p.severity if p else "", labels=labels,
                     starts_at=p.timestamp if p else None, details=details)


def ev2_outcome(fn, body: bytes):
    try:
        ev, alert = fn(body)
    except InputError as e:
        return ("error", e.status, e.message, [(p.field, p.message) for p in e.problems])
    return ("ok", repr(ev), repr(alert))


def ev2_agree(body: bytes):
    ref = ev2_outcome(ev2_reference, body)
    assert ev2_outcome(events_v2.parse, body) == ref
    return ref


EV_TRIGGER = {"routing_key": "routing-key-0001", "event_action": "trigger", "dedup_key": "db-down",
              "payload": {"summary": "DB down", "source": "db1", "severity": "critical", "component": "pg",
                          "group": "prod", "class": "disk", "timestamp": "2026-11-25T14:00:00.000+01:00",
                          "custom_details": {"b": [1, 2.5, None, True], "a": {"z": "é", "y": 10 ** 30}}},
              "links": [{"href": "http://x", "text": "runbook"}], "images": [{"src": "http://i"}],
              "client": "Grafana", "client_url": "https://grafana.example"}
P = ("payload",)
EV_CASES = {
    "full": EV_TRIGGER,
    "minimal-trigger": {"routing_key": "k", "event_action": "trigger",
                        "payload": {"summary": "s", "source": "x", "severity": "info"}},
    "resolve-no-payload": {"routing_key": "k", "event_action": "resolve", "dedup_key": "d"},
    "ack-null-payload": {"routing_key": "k", "event_action": "acknowledge", "dedup_key": "d", "payload": None},
    "no-dedup-key": changed(EV_TRIGGER, (("dedup_key",), DROP)),
    "utc-timestamp": changed(EV_TRIGGER, (P + ("timestamp",), "2026-11-25T14:00:00Z")),
    "micro-timestamp": changed(EV_TRIGGER, (P + ("timestamp",), "2026-11-25T14:00:00.123456-05:30")),
    "naive-timestamp": changed(EV_TRIGGER, (P + ("timestamp",), "2026-11-25T14:00:00")),
    "nan-details": changed(EV_TRIGGER, (P + ("custom_details",), {"x": float("nan"), "y": [float("inf")]})),
    "string-details": changed(EV_TRIGGER, (P + ("custom_details",), "just text\n\x00")),
    "unicode": changed(EV_TRIGGER, (P + ("summary",), "Schijf vol — ✓ 日本 🚨"), (("client",), "é\u2028")),
    "escapes": changed(EV_TRIGGER, (("routing_key",), 'a"b\\c'), (P + ("source",), "</script>")),
    "many-links": changed(EV_TRIGGER, (("links",), [{"href": f"h{i}", "text": "t"} for i in range(50)]),
                          (("images",), [{"src": "s", "href": "h", "alt": "a"}] * 3)),
    "multiline-summary": changed(EV_TRIGGER, (P + ("summary",), "line\nline\ttab\r")),
    "summary-control": changed(EV_TRIGGER, (P + ("summary",), "bell\x07")),
    "source-newline": changed(EV_TRIGGER, (P + ("source",), "db1\n")),
    "class-tab": changed(EV_TRIGGER, (P + ("class",), "\tdisk")),
    "group-del": changed(EV_TRIGGER, (P + ("group",), "prod\x7f")),
    "component-surrogate": changed(EV_TRIGGER, (P + ("component",), "\udc00")),
    "dedup-control": changed(EV_TRIGGER, (("dedup_key",), "\x00")),
    "several-bad": changed(EV_TRIGGER, (("dedup_key",), "\x00"), (P + ("summary",), "\x1b[31m"),
                           (P + ("group",), "a\nb")),
    "trigger-without-payload": changed(EV_TRIGGER, (P, DROP)),
    "resolve-without-dedup": {"routing_key": "k", "event_action": "resolve"},
    "bad-severity": changed(EV_TRIGGER, (P + ("severity",), "fatal")),
    "long-summary": changed(EV_TRIGGER, (P + ("summary",), "s" * 1025)),
    "extra-field": changed(EV_TRIGGER, (("surprise",), True)),
}


@pytest.mark.parametrize("name", sorted(EV_CASES))
def test_events_v2_agrees(name: str) -> None:
    for ascii_ in (True, False):
        ev2_agree(json.dumps(EV_CASES[name], ensure_ascii=ascii_).encode("utf-8", "surrogatepass"))


clean = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | clean | texts,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(clean, c, max_size=3), max_leaves=6)
TIMESTAMPS = ["2026-11-25T14:00:00Z", "2026-11-25T14:00:00.5+01:00", "2026-11-25T14:00:00.123456789-09:30",
              "2026-11-25", "2026-11-25T14:00:00", "1764079200", "yesterday"]


@st.composite
def events(draw):
    """A valid event, then 0-3 changes that may or may not break it."""
    action = draw(st.sampled_from(["trigger", "trigger", "acknowledge", "resolve"]))
    d: dict = {"routing_key": draw(clean), "event_action": action, "dedup_key": draw(clean)}
    if action == "trigger" or draw(st.booleans()):
        d["payload"] = {"summary": draw(clean), "source": draw(clean),
                        "severity": draw(st.sampled_from(["critical", "error", "warning", "info"]))}
        for key in ("component", "group", "class"):
            if draw(st.booleans()):
                d["payload"][key] = draw(clean)
        if draw(st.booleans()):
            d["payload"]["timestamp"] = draw(st.sampled_from(TIMESTAMPS[:3]))
        if draw(st.booleans()):
            d["payload"]["custom_details"] = draw(json_values)
    if draw(st.booleans()):
        d["links"] = draw(st.lists(st.fixed_dictionaries({"href": clean}, optional={"text": clean}), max_size=3))
    if draw(st.booleans()):
        d["images"] = draw(st.lists(st.fixed_dictionaries({"src": clean}, optional={"href": clean, "alt": clean}),
                                    max_size=3))
    for key in ("client", "client_url"):
        if draw(st.booleans()):
            d[key] = draw(clean)
    for _ in range(draw(st.integers(0, 3))):
        target = d["payload"] if isinstance(d.get("payload"), dict) and draw(st.booleans()) else d
        key = draw(st.sampled_from(sorted(target) + ["extra"]))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(st.none() | texts | st.sampled_from(TIMESTAMPS) | json_values)
    return d


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=events(), ascii_=st.booleans())
def test_random_events_agree(event, ascii_) -> None:
    ev2_agree(json.dumps(event, ensure_ascii=ascii_).encode("utf-8", "surrogatepass"))
