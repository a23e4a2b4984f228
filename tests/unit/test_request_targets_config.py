"""The request targets' config: `desk.request_targets` (the default) and `customers.<id>.request_targets`
(per key over it); malformed, missing, oversized and hostile values are refused with their key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pager.config import load
from pager.config.domain import request_targets_for
from pager.domain.request_targets import DEFAULT_FIRST_RESPONSE, DEFAULT_RESOLUTION, AtRisk, Priority, RequestTargets
from tests.unit.test_config import EXAMPLE, EXAMPLE_ENV, _doc, _issues, _write

H = timedelta(hours=1)
CUSTOMER = {"name": "Acme", "projects": {"webshop": {"coverage": "standby"}}}


def test_without_any_request_targets_the_built_in_defaults_hold(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, {**_doc(), "customers": {"acme": CUSTOMER}}), env={})
    for customer in ("acme", "nobody", None):  # an unknown customer, a ticket in triage: the desk's
        got = request_targets_for(cfg, customer)
        assert got == RequestTargets() and got.at_risk == AtRisk(percent=80)
        assert got.first_response == DEFAULT_FIRST_RESPONSE and got.resolution == DEFAULT_RESOLUTION


def test_a_customer_overrides_the_desk_key_by_key(tmp_path: Path) -> None:
    desk = {"request_targets": {"first_response": {"urgent": "30m", "low": "16h"}, "at_risk": "20m"}}
    acme = {**CUSTOMER, "request_targets": {"first_response": {"urgent": "15m"}, "resolution": {"normal": "2d"}}}
    beta = {**CUSTOMER, "request_targets": {"at_risk": "90%"}}
    doc = {**_doc(), "desk": desk, "customers": {"acme": acme, "beta": beta, "gamma": CUSTOMER}}
    cfg = load(_write(tmp_path, doc), env={})
    a = request_targets_for(cfg, "acme")
    assert a.target("first_response", "urgent") == timedelta(minutes=15)  # its own
    assert a.target("first_response", "low") == 16 * H  # the desk's
    assert a.target("first_response", "high") == 2 * H  # built in
    assert a.target("resolution", Priority.NORMAL) == 48 * H  # office time: 48 office hours
    assert a.at_risk == AtRisk(percent=None, before=timedelta(minutes=20))  # the desk's
    assert request_targets_for(cfg, "beta").at_risk == AtRisk(percent=90)
    assert request_targets_for(cfg, "gamma").target("first_response", "urgent") == timedelta(minutes=30)


def test_the_example_config_has_request_targets() -> None:
    cfg = load(EXAMPLE, env=EXAMPLE_ENV)
    desk = request_targets_for(cfg, None)
    assert desk.target("first_response", "urgent") == H and desk.at_risk == AtRisk(percent=80)
    acme = request_targets_for(cfg, "acme")
    assert acme.target("first_response", "urgent") == timedelta(minutes=30)
    assert acme.target("resolution", "low") == desk.target("resolution", "low")


@pytest.mark.parametrize(
    "where, value, key, says",
    [
        ("desk", {"first_response": {"urgent": "0s"}}, "first_response.urgent", "must be longer than 0s"),
        ("desk", {"first_response": {"urgent": 0}}, "first_response.urgent", "must be longer than 0s"),
        ("desk", {"resolution": {"low": "-1h"}}, "resolution.low", "invalid duration"),
        ("desk", {"resolution": {"low": -5}}, "resolution.low", "must not be negative"),
        ("desk", {"resolution": {"low": "2001h"}}, "resolution.low", "at most 2000h of office time"),
        ("desk", {"resolution": {"low": "99999999999w"}}, "resolution.low", "is too long"),
        ("desk", {"resolution": {"low": 1e300}}, "resolution.low", "too long"),
        ("desk", {"resolution": {"low": float("nan")}}, "resolution.low", "not a number"),
        ("desk", {"resolution": {"low": "soon"}}, "resolution.low", "invalid duration 'soon'"),
        ("desk", {"resolution": {"low": True}}, "resolution.low", "expected a duration"),
        ("desk", {"resolution": {"low": ["1h"]}}, "resolution.low", "expected a duration"),
        ("desk", {"first_response": {"asap": "1h"}}, "first_response.asap", "unknown key"),
        ("desk", {"first_response": {"urgnt": "1h"}}, "first_response.urgnt", "(did you mean urgent?)"),
        ("desk", {"first_reply": {"urgent": "1h"}}, "first_reply", "(did you mean first_response?)"),
        ("desk", {"first_response": "4h"}, "first_response", "valid dictionary"),
        ("desk", {"at_risk": "0%"}, "at_risk", "from 1% to 100%"),
        ("desk", {"at_risk": "120%"}, "at_risk", "from 1% to 100%"),
        ("desk", {"at_risk": "80 percent"}, "at_risk", "invalid duration"),
        ("desk", {"at_risk": "%"}, "at_risk", "expected a percentage such as 80%"),
        ("desk", {"at_risk": "<script>%"}, "at_risk", "expected a percentage such as 80%"),
        ("desk", {"at_risk": "3000h"}, "at_risk", "a duration from 0s to 2000h"),
        ("customer", {"first_response": {"high": "0m"}}, "first_response.high", "must be longer than 0s"),
        ("customer", {"resolution": {"Urgent": "1h"}}, "resolution.Urgent", "(did you mean urgent?)"),
        ("customer", "fast", "", "valid dictionary"),
    ],
)
def test_bad_request_targets_are_refused_with_their_key(
    tmp_path: Path, where: str, value: object, key: str, says: str
) -> None:
    if where == "desk":
        doc = {**_doc(), "desk": {"request_targets": value}}
        prefix = "desk.request_targets"
    else:
        doc = {**_doc(), "customers": {"acme": {**CUSTOMER, "request_targets": value}}}
        prefix = "customers.acme.request_targets"
    got = _issues(tmp_path, doc)
    assert len(got) == 1, got
    assert got[0][0] == (f"{prefix}.{key}" if key else prefix), got
    assert says in got[0][1], got
