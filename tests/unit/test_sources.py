"""Source parsers: payload in, normalized alerts or a precise InputError out. No sockets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pager.domain.alert import Action, Source
from pager.sources import alertmanager, events_v2, nagios
from pager.sources.errors import InputError

FIRING = (Path(__file__).resolve().parents[1] / "testdata" / "alertmanager" / "firing.json").read_bytes()


def am(**changes) -> bytes:
    d = json.loads(FIRING)
    for path, value in changes.items():
        obj = d
        keys = path.split("__")
        for k in keys[:-1]:
            obj = obj[int(k)] if k.isdigit() else obj[k]
        if value is DELETE:
            del obj[keys[-1]]
        else:
            obj[keys[-1]] = value
    return json.dumps(d).encode()


DELETE = object()


def test_alertmanager_grouped() -> None:
    alerts, facts = alertmanager.parse(FIRING)
    assert len(alerts) == 2
    assert {a.dedup_key for a in alerts} == {'{}:{alertname="DiskFull"}'}
    assert [a.fingerprint for a in alerts] == ["5c1a2b3c4d5e6f70", "6d2b3c4d5e6f7081"]
    assert all(a.action is Action.TRIGGER and a.ends_at is None for a in alerts)
    assert alerts[0].summary == "Disk almost full on web1"
    assert facts["group_key"] == '{}:{alertname="DiskFull"}'


def test_alertmanager_fingerprint_mode() -> None:
    alerts, _ = alertmanager.parse(FIRING, dedup_by="fingerprint")
    assert [a.dedup_key for a in alerts] == ["5c1a2b3c4d5e6f70", "6d2b3c4d5e6f7081"]


def test_alertmanager_resolved_alert_has_end_and_new_event_id() -> None:
    firing, _ = alertmanager.parse(FIRING)
    resolved, _ = alertmanager.parse(am(alerts__0__status="resolved", alerts__0__endsAt="2026-11-25T14:10:00Z"))
    assert resolved[0].action is Action.RESOLVE and resolved[0].ends_at is not None
    assert resolved[0].event_id != firing[0].event_id
    assert resolved[1].event_id == firing[1].event_id  # unchanged alert: same notification identity


def test_alertmanager_truncated_alerts_kept_as_fact() -> None:
    _, facts = alertmanager.parse(am(truncatedAlerts=7))
    assert facts["truncated_alerts"] == 7


def test_alertmanager_lenient_mode_ignores_unknown_fields() -> None:
    body = am(newField="x")
    with pytest.raises(InputError):
        alertmanager.parse(body)
    alerts, _ = alertmanager.parse(body, strict=False)
    assert len(alerts) == 2


@pytest.mark.parametrize(
    "body,status,field",
    [
        (b"{", 400, "body"),
        (b"[]", 422, "body"),
        (am(version="3"), 422, "version"),
        (am(groupKey=DELETE), 422, "groupKey"),
        (am(alerts=[]), 422, "alerts"),
        (am(alerts__0__status="burning"), 422, "alerts.0.status"),
        (am(alerts__0__startsAt="yesterday"), 422, "alerts.0.startsAt"),
        (am(alerts__0__labels=[]), 422, "alerts.0.labels"),
        (am(alerts__0__labels={}), 422, "alerts.0.labels"),
        (am(alerts__0__labels={"alertname": 5}), 422, "alerts.0.labels.alertname"),
        (am(alerts__0__labels={"bad-name": "x"}), 422, "alerts.0.labels.'bad-name'"),
        (am(alerts__0__labels={"a": "x\u0000y"}), 422, "alerts.0.labels.a"),
        (am(alerts__0__labels={"a": "line\nbreak"}), 422, "alerts.0.labels.a"),
        (am(alerts__0__labels={"a": "\ud800"}), 422, "alerts.0.labels.a"),
        (am(alerts__0__labels={"a": "x" * 5000}), 422, "alerts.0.labels.a"),
        (am(alerts__0__annotations={"d": "bell\u0007"}), 422, "alerts.0.annotations.d"),
        (am(alerts__0__extra=1), 422, "alerts.0.extra"),
        (am(truncatedAlerts=-1), 422, "truncatedAlerts"),
    ],
)
def test_alertmanager_bad(body: bytes, status: int, field: str) -> None:
    with pytest.raises(InputError) as info:
        alertmanager.parse(body)
    assert info.value.status == status
    assert field in [p.field for p in info.value.problems]


def test_alertmanager_unicode_label_values_are_fine() -> None:
    alerts, _ = alertmanager.parse(am(alerts__0__labels={"alertname": "Schijf vol — ✓ 日本", "x": "ü"}))
    assert alerts[0].labels["alertname"] == "Schijf vol — ✓ 日本"


SERVICE_PROBLEM = {
    "NOTIFICATIONTYPE": "PROBLEM",
    "HOSTNAME": "web1",
    "SERVICEDESC": "HTTP",
    "SERVICESTATE": "CRITICAL",
    "SERVICEOUTPUT": "connection refused|time=0.1s",
    "LONGSERVICEOUTPUT": "line one\\nline two",
    "SERVICEPROBLEMID": "41",
    "NOTIFICATIONNUMBER": "1",
    "TIMET": "1795600000",
}


@pytest.mark.parametrize(
    "changes,action,dedup,note_kind",
    [
        ({}, Action.TRIGGER, "web1/HTTP", None),
        ({"NOTIFICATIONTYPE": "RECOVERY", "SERVICESTATE": "OK"}, Action.RESOLVE, "web1/HTTP", None),
        ({"NOTIFICATIONTYPE": "ACKNOWLEDGEMENT", "NOTIFICATIONAUTHOR": "anna"}, Action.ACKNOWLEDGE, "web1/HTTP", None),
        ({"NOTIFICATIONTYPE": "DOWNTIMESTART"}, Action.ANNOTATE, "web1/HTTP", "downtime_start"),
        ({"NOTIFICATIONTYPE": "FLAPPINGSTART"}, Action.ANNOTATE, "web1/HTTP", "flapping_start"),
        ({"SERVICEDESC": "", "HOSTSTATE": "DOWN"}, Action.TRIGGER, "web1", None),
        ({"NAGIOS_NOTIFICATIONTYPE": "PROBLEM"}, Action.TRIGGER, "web1/HTTP", None),
    ],
)
def test_nagios(changes, action, dedup, note_kind) -> None:
    a = nagios.parse({**SERVICE_PROBLEM, **changes})
    assert (a.action, a.dedup_key, a.note_kind) == (action, dedup, note_kind)
    assert a.source is Source.NAGIOS


@pytest.mark.parametrize(
    "macros,labels",
    [
        ({"_SERVICECUSTOMER": "acme"}, {"customer": "acme"}),
        ({"_HOSTCUSTOMER": "acme", "_HOSTPROJECT": "webshop"}, {"customer": "acme", "project": "webshop"}),
        ({"_HOSTCUSTOMER": "agency", "_SERVICECUSTOMER": "acme"}, {"customer": "acme"}),  # the service wins
        ({"LABEL_CUSTOMER": "agency", "_HOSTCUSTOMER": "acme"}, {"customer": "acme"}),  # variables win over --label
        ({"_SERVICEPAGERD_TEAM": "web", "NAGIOS__HOSTPAGERD_TIER": "gold"}, {"team": "web", "tier": "gold"}),
        ({"LABEL_HOSTGROUP": "linux-servers"}, {"hostgroup": "linux-servers"}),
        ({"_SERVICECUSTOMER": "", "_HOSTCUSTOMER": "acme"}, {"customer": "acme"}),  # unset: empty, ignored
        ({"_HOSTFOO": "x", "_SERVICEPAGERD_": "x"}, {}),  # other custom variables are no labels
    ],
)
def test_nagios_custom_variables_become_labels(macros, labels) -> None:
    a = nagios.parse({**SERVICE_PROBLEM, **macros})
    assert {k: v for k, v in a.labels.items() if k not in ("host", "service", "state")} == labels
    assert a.labels["host"] == "web1" and "label_problems" not in a.annotations


def test_nagios_a_host_notification_takes_no_service_variables() -> None:
    a = nagios.parse({**SERVICE_PROBLEM, "SERVICEDESC": "", "_SERVICECUSTOMER": "acme", "_HOSTCUSTOMER": "agency"})
    assert a.labels["customer"] == "agency"


@pytest.mark.parametrize(
    "macro,value,problem",
    [
        ("_SERVICECUSTOMER", "acme\nx", "control character U+000A not allowed"),
        ("_SERVICECUSTOMER", "a" * 4097, "longer than 4096 characters"),
        ("_SERVICEPAGERD_HOST", "db1", "label 'host' is set by pagerd"),
        ("_SERVICEPAGERD_9LIVES", "x", "label name must match"),
        ("LABEL_" + "X" * 200, "x", "label name must match"),
    ],
)
def test_nagios_a_bad_label_is_left_out_and_named_and_the_rest_is_taken(macro, value, problem) -> None:
    a = nagios.parse({**SERVICE_PROBLEM, macro: value, "_HOSTPROJECT": "webshop"})
    assert a.action is Action.TRIGGER and a.dedup_key == "web1/HTTP" and a.labels["host"] == "web1"
    assert a.labels["project"] == "webshop" and a.labels.get("customer") is None
    (p,) = a.details["label_problems"]
    assert p["field"].startswith(macro[:80]) and problem in p["message"] and "label left out" in p["message"]
    assert problem in a.annotations["label_problems"]


def test_nagios_output_and_ids() -> None:
    a = nagios.parse(SERVICE_PROBLEM)
    assert a.summary == "HTTP on web1 is CRITICAL: connection refused"
    assert a.annotations["long_output"] == "line one\nline two"
    assert a.details["problem_id"] == "41"


def test_nagios_host_recovery_takes_last_problem_id() -> None:
    a = nagios.parse(
        {
            "NOTIFICATIONTYPE": "RECOVERY",
            "HOSTNAME": "db1",
            "HOSTSTATE": "UP",
            "HOSTPROBLEMID": "0",
            "LASTHOSTPROBLEMID": "77",
        }
    )
    assert a.details["problem_id"] == "77" and a.action is Action.RESOLVE


def test_nagios_repeat_notification_is_a_new_event_retry_is_not() -> None:
    a, b = nagios.parse(SERVICE_PROBLEM), nagios.parse(dict(SERVICE_PROBLEM))
    c = nagios.parse({**SERVICE_PROBLEM, "NOTIFICATIONNUMBER": "2", "TIMET": "1795600600"})
    assert a.event_id == b.event_id != c.event_id


@pytest.mark.parametrize(
    "macros,field",
    [
        ({"HOSTNAME": "x"}, "NOTIFICATIONTYPE"),
        ({"NOTIFICATIONTYPE": "PROBLEM"}, "HOSTNAME"),
        ({"NOTIFICATIONTYPE": "EXPLODED", "HOSTNAME": "x"}, "NOTIFICATIONTYPE"),
        ({"NOTIFICATIONTYPE": "PROBLEM", "HOSTNAME": 5}, "HOSTNAME"),
        ({"NOTIFICATIONTYPE": "PROBLEM", "HOSTNAME": "a\nb"}, "HOSTNAME"),
        ({"NOTIFICATIONTYPE": "PROBLEM", "HOSTNAME": "x", "TIMET": "soon"}, "TIMET"),
        ({"NOTIFICATIONTYPE": "PROBLEM", "HOSTNAME": "x", "SERVICEOUTPUT": "a\u0000b"}, "SERVICEOUTPUT"),
        ({"NOTIFICATIONTYPE": "PROBLEM", "HOSTNAME": "x", "SERVICEDESC": "y", "SERVICESTATE": "\n"}, "SERVICESTATE"),
        ({"NOTIFICATIONTYPE": "PROBLEM", "HOSTNAME": "x", "HOSTSTATE": "DO\tWN"}, "HOSTSTATE"),
    ],
)
def test_nagios_bad(macros, field) -> None:
    with pytest.raises(InputError) as info:
        nagios.parse(macros)
    assert info.value.status == 422
    assert field in [p.field for p in info.value.problems]


TRIGGER = {
    "routing_key": "routing-key-0001",
    "event_action": "trigger",
    "dedup_key": "db-down",
    "payload": {"summary": "DB down", "source": "db1", "severity": "critical", "custom_details": {"x": 1}},
    "links": [{"href": "http://x", "text": "runbook"}],
    "images": [{"src": "http://i"}],
}


def ev(**changes) -> bytes:
    d = json.loads(json.dumps(TRIGGER))
    for k, v in changes.items():
        if v is DELETE:
            d.pop(k, None)
        else:
            d[k] = v
    return json.dumps(d).encode()


def test_events_v2_trigger() -> None:
    e, a = events_v2.parse(ev())
    assert (a.action, a.dedup_key, a.summary, a.severity) == (Action.TRIGGER, "db-down", "DB down", "critical")
    assert a.details["links"][0]["text"] == "runbook"


def test_events_v2_without_dedup_key_gets_a_stable_one() -> None:
    _, a1 = events_v2.parse(ev(dedup_key=DELETE))
    _, a2 = events_v2.parse(ev(dedup_key=DELETE))
    assert a1.dedup_key == a2.dedup_key and a1.dedup_key


@pytest.mark.parametrize(
    "body,field",
    [
        (ev(event_action="explode"), "event_action"),
        (ev(payload=DELETE), "payload"),
        (ev(event_action="resolve", dedup_key=DELETE, payload=DELETE), "dedup_key"),
        (ev(routing_key=DELETE), "routing_key"),
        (ev(payload={"summary": "x", "source": "y", "severity": "fatal"}), "payload.severity"),
        (ev(payload={"summary": "", "source": "y", "severity": "info"}), "payload.summary"),
        (ev(surprise=True), "surprise"),
        (ev(links="nope"), "links"),
    ],
)
def test_events_v2_bad(body: bytes, field: str) -> None:
    with pytest.raises(InputError) as info:
        events_v2.parse(body)
    assert info.value.status == 422
    assert field in [p.field for p in info.value.problems]


@pytest.mark.parametrize(
    "body,field,message",
    [
        (
            am(alerts__0__labels={"alertname": "X", "x": "a\u0000b"}),
            "alerts.0.labels.x",
            "control character U+0000 not allowed",
        ),
        (
            am(alerts__0__labels={"alertname": "X", "x": "a\tb"}),
            "alerts.0.labels.x",
            "control character U+0009 not allowed",
        ),
        (
            am(alerts__0__labels={"alertname": "X", "x": "\udfff"}),
            "alerts.0.labels.x",
            "lone surrogate (not valid UTF-8)",
        ),
        (
            am(alerts__0__annotations={"description": "bell\u0007"}),
            "alerts.0.annotations.description",
            "control character U+0007 not allowed",
        ),
        (
            am(alerts__0__labels={"alertname": "X", "bad name": "v"}),
            "alerts.0.labels.'bad name'",
            "label name must match [a-zA-Z_][a-zA-Z0-9_]*",
        ),
        (am(alerts__0__labels={f"l{i}": "v" for i in range(129)}), "alerts.0.labels", "more than 128 labels"),
        (am(alerts__0__labels={"alertname": "X", "x": "v" * 4097}), "alerts.0.labels.x", "longer than 4096 characters"),
        (am(alerts__0__annotations={"d": "d" * 65537}), "alerts.0.annotations.d", "longer than 65536 characters"),
        (am(groupLabels={"alertname": "Disk\u0001"}), "groupLabels.alertname", "control character U+0001 not allowed"),
        (am(commonLabels={"0": "y"}), "commonLabels.'0'", "label name must match [a-zA-Z_][a-zA-Z0-9_]*"),
        (am(receiver="pagerd\n"), "receiver", "control character U+000A not allowed"),
        (am(alerts__0__startsAt="2026-11-25T14:00:00"), "alerts.0.startsAt", "timestamp needs a time zone (RFC 3339)"),
        (am(alerts__0__labels={}), "alerts.0.labels", "an alert needs at least one label"),
    ],
)
def test_alertmanager_bad_texts_are_named(body: bytes, field: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        alertmanager.parse(body)
    assert (info.value.status, info.value.message) == (422, "invalid payload")
    assert (field, message) in [(p.field, p.message) for p in info.value.problems]


def test_alertmanager_names_every_problem_of_a_payload() -> None:
    body = am(
        receiver="r\u0000", groupLabels={"-": "x"}, alerts__0__labels={}, alerts__1__annotations={"summary": "\u0000"}
    )
    with pytest.raises(InputError) as info:
        alertmanager.parse(body)
    assert [p.field for p in info.value.problems] == [
        "receiver",
        "groupLabels.'-'",
        "alerts.0.labels",
        "alerts.1.annotations.summary",
    ]


@pytest.mark.parametrize("status,resolved", [("firing", False), ("resolved", True)])
def test_alertmanager_facts_say_what_the_notification_says_of_its_group(status: str, resolved: bool) -> None:
    from pager.domain.incident import Group
    from pager.service.ingest import group_of

    _, facts = alertmanager.parse(am(status=status))
    assert group_of(facts) == Group('{}:{alertname="DiskFull"}', resolved)
    assert group_of({}) is None  # Nagios and Events v2 name no group


def test_alert_is_frozen() -> None:
    import dataclasses

    alerts, _ = alertmanager.parse(FIRING)
    with pytest.raises(dataclasses.FrozenInstanceError):
        alerts[0].summary = "changed"  # type: ignore[misc]


def _outcome(body: bytes):
    try:
        return alertmanager.parse(body)
    except InputError as exc:
        return exc.status, exc.message, [(p.field, p.message) for p in exc.problems]


_PAYLOADS = [
    FIRING,
    am(alerts__0__annotations={"description": "two\nlines\tand a tab"}),
    am(alerts__0__labels={"alertname": "X", "city": "Zürich"}),
    am(receiver="r" * 5000),
    am(alerts__0__labels={"alertname": "X", "x": "v" * 4096}),
    am(alerts__0__annotations={"d": "d" * 65536}),
    am(groupLabels={"alertname": "a\\ub"}),
    am(commonLabels={"x": "del\u007f"}),
    am(alerts__0__labels={f"l{i}": "v" for i in range(128)}),
    am(alerts=[{**json.loads(FIRING)["alerts"][0], "fingerprint": f"f{i}"} for i in range(100)]),
    *(case[0] for case in test_alertmanager_bad_texts_are_named.pytestmark[0].args[1]),
    am(receiver="r\u0000", groupLabels={"-": "x"}, alerts__0__labels={}, alerts__1__annotations={"summary": "\u0000"}),
]


@pytest.mark.parametrize("body", _PAYLOADS)
def test_the_whole_payload_check_decides_as_the_checks_of_each_text(body: bytes, monkeypatch) -> None:
    """`_all_clean` (every text of a payload looked at at once) only spares the checks of each text:
    the parser answers the same with it as when every text is checked on its own."""
    once = _outcome(body)
    monkeypatch.setattr(alertmanager, "_all_clean", lambda body, hook: False)
    assert _outcome(body) == once


def test_a_clean_payload_is_checked_at_once() -> None:
    hook = alertmanager.validate_json(alertmanager._STRICT, FIRING)
    assert alertmanager._all_clean(FIRING, hook)
    for body in (
        am(alerts__0__annotations={"description": "a\nb"}),
        am(commonLabels={"0": "y"}),
        am(alerts__0__labels={"alertname": "X", "x": "v" * 4097}),
    ):
        assert not alertmanager._all_clean(body, alertmanager.validate_json(alertmanager._STRICT, body))
