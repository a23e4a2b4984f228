"""The alerting rules and the Grafana dashboard shipped for pagerd itself (deploy/prometheus/,
deploy/grafana/): promtool checks and unit-tests the rules, every metric they and the dashboard
read is one a running pagerd exposes, and a real Prometheus loads the rule file and evaluates it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_binary
from tests.harness.pagerd import ROOT, PagerdProcess
from tests.harness.prometheus import PROMETHEUS_BIN, PROMTOOL_BIN, Prometheus

pytestmark = pytest.mark.peer("prometheus")

RULES = ROOT / "deploy" / "prometheus" / "pagerd-rules.yaml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "pagerd-rules.test.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "pagerd.json"
# Series that Prometheus makes itself for every target, not read from pagerd's /metrics.
PROMETHEUS_SYNTHETIC = {"up"}
# What Grafana puts in place of its variables before it sends a query.
GRAFANA_VARIABLES = {"$instance": ".*", "$__rate_interval": "1m", "$__range": "6h", "$__interval": "15s"}


# -- names in PromQL and in an exposition --------------------------------------------------------------
_PROMQL_TOKEN = re.compile(r"(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)")
_PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects. A name is what is left once strings, label matchers,
    ranges, `by (...)`-style label lists and offsets are taken out, and is not a keyword nor followed by
    `(` (a function or an aggregation)."""
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', " ", expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?\w+", " ", s)
    names = set()
    for m in _PROMQL_TOKEN.finditer(s):
        name = m.group("name")
        if name and name not in _PROMQL_KEYWORDS and not s[m.end() :].lstrip().startswith("("):
            names.add(name)
    return names


@pytest.mark.parametrize(
    "expr, names",
    [
        ('up{job="pagerd"} == 0', {"up"}),
        ("time() - pagerd_a_seconds > 120", {"pagerd_a_seconds"}),
        (
            'sum by (job, stage) (x_total unless x_total offset 15m) > 0 or sum by (job) (increase(x_total[15m])) > 0',
            {"x_total"},
        ),
        (
            'histogram_quantile(0.99, sum by (source, le) (rate(h_bucket{instance=~"$instance"}[$__rate_interval])))',
            {"h_bucket"},
        ),
        ("a > 1e3 and on (instance) b", {"a", "b"}),
        ('count({__name__=~"pagerd_.*"})', set()),
    ],
)
def test_promql_metric_names(expr, names):
    assert promql_metric_names(expr) == names


def exposed_metric_names(exposition: str) -> set[str]:
    """Every series name an exposition offers, also of families that have no sample yet (a labelled
    counter before its first increment)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
    }
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def rule_exprs() -> dict[str, str]:
    doc = yaml.safe_load(RULES.read_text())
    return {r["alert"]: r["expr"] for g in doc["groups"] for r in g["rules"]}


def dashboard_exprs(dash: dict) -> list[tuple[str, str]]:
    """(where, PromQL) of every query in the dashboard: panel targets and template variables."""
    out = [(f"panel {p['title']!r} {t['refId']}", t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", var["definition"])
            assert m, var["definition"]
            out.append((f"variable {var['name']}", m.group(1)))
    return out


def grafana_to_promql(expr: str) -> str:
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


@pytest.fixture(scope="module")
def pagerd_metrics(tmp_path_factory) -> set[str]:
    """The metric names a real pagerd (example config) exposes on /metrics."""
    p = PagerdProcess(workdir=tmp_path_factory.mktemp("pagerd")).start()
    try:
        status, text = p.request("GET", "/metrics")
    finally:
        p.stop()
    assert status == 200 and isinstance(text, str), (status, text)
    return exposed_metric_names(text)


# -- the rules -----------------------------------------------------------------------------------------
def test_rules_pass_promtool_check():
    promtool = require_binary(PROMTOOL_BIN)
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_exprs())} rules found" in result.stdout, result.stdout


def test_rules_unit_tests_pass_and_cover_every_rule():
    promtool = require_binary(PROMTOOL_BIN)
    result = subprocess.run(
        [promtool, "test", "rules", str(RULES_TEST)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # each rule has a case where it fires (labels and annotations given) and one where it does not
    fires, silent = set(), set()
    for case in yaml.safe_load(RULES_TEST.read_text())["tests"]:
        for t in case["alert_rule_test"]:
            if t["exp_alerts"]:
                assert all(a.get("exp_annotations") and a.get("exp_labels") for a in t["exp_alerts"]), t
                fires.add(t["alertname"])
            else:
                silent.add(t["alertname"])
    assert fires == set(rule_exprs()), set(rule_exprs()) ^ fires
    assert silent == set(rule_exprs()), set(rule_exprs()) ^ silent


def test_rules_have_severity_and_short_annotations():
    doc = yaml.safe_load(RULES.read_text())
    for rule in (r for g in doc["groups"] for r in g["rules"]):
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
        assert len(rule["annotations"]["summary"]) <= 120, rule["alert"]
        assert "\n" not in rule["annotations"]["summary"], rule["alert"]


def test_rules_read_only_metrics_that_pagerd_exposes(pagerd_metrics):
    used = {name: alert for alert, expr in rule_exprs().items() for name in promql_metric_names(expr)}
    assert used, "no metric found in the rules"
    missing = sorted(
        f"{name} (in {alert})" for name, alert in used.items() if name not in pagerd_metrics | PROMETHEUS_SYNTHETIC
    )
    assert not missing, f"not on pagerd's /metrics: {missing}"


# -- the dashboard -------------------------------------------------------------------------------------
def test_dashboard_is_a_grafana_dashboard():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["title"] and dash["uid"] == "pagerd" and isinstance(dash["schemaVersion"], int)
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "instance"} <= variables
    ids, cells = set(), set()
    for p in dash["panels"]:
        assert p["id"] not in ids, p["title"]
        ids.add(p["id"])
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in "hwxy") and g["x"] + g["w"] <= 24, p["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"panel {p['title']!r} overlaps another"
        cells |= area
        if p["type"] == "row":
            continue
        assert p["type"] in ("timeseries", "stat") and p["title"], p
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], f"panel {p['title']!r} has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(set(refs)) == len(refs), p["title"]
        for t in p["targets"]:
            assert t["expr"].strip(), p["title"]
            used_vars = set(re.findall(r"\$(\w+)", t["expr"])) - {"__rate_interval", "__range", "__interval"}
            assert used_vars <= variables, (p["title"], used_vars)


def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool parses each query (as a recording rule) once Grafana's variables are filled in."""
    promtool = require_binary(PROMTOOL_BIN)
    exprs = dashboard_exprs(json.loads(DASHBOARD.read_text()))
    rules = [{"record": f"pagerd:dashboard:q{i}", "expr": grafana_to_promql(e)} for i, (_, e) in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_reads_only_metrics_that_pagerd_exposes(pagerd_metrics):
    dash = json.loads(DASHBOARD.read_text())
    used = {name: where for where, expr in dashboard_exprs(dash) for name in promql_metric_names(expr)}
    assert used, "no metric found in the dashboard"
    missing = sorted(
        f"{name} (in {where})" for name, where in used.items() if name not in pagerd_metrics | PROMETHEUS_SYNTHETIC
    )
    assert not missing, f"not on pagerd's /metrics: {missing}"
    # and the dashboard shows what the rules alert on
    assert {n for e in rule_exprs().values() for n in promql_metric_names(e)} <= set(used)


# -- a real Prometheus ---------------------------------------------------------------------------------
class _PrometheusWithRuleFile(Prometheus):
    """The harness's Prometheus, loading a rule file as it is shipped instead of rules it writes."""

    def __init__(self, workdir: Path, rule_file: Path, **kw) -> None:
        super().__init__(workdir, rules=None, **kw)
        self.rule_file = rule_file

    def config(self) -> dict:
        return {**super().config(), "rule_files": [str(self.rule_file)]}


def test_prometheus_loads_and_evaluates_the_rules(tmp_path, pagerd):
    require_binary(PROMETHEUS_BIN)
    prom = _PrometheusWithRuleFile(tmp_path / "prometheus", RULES, scrape_target=pagerd.url).start()
    try:

        def evaluated(p):
            groups = p.api("/api/v1/rules?type=alert")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            # every rule evaluated at least once, after the first scrape of pagerd
            done = (
                rules and p.target_health() == "up" and all(r.get("lastEvaluation", "").startswith("20") for r in rules)
            )
            return done and rules

        rules = prom.wait_for(evaluated, 20.0, 0.25)
        assert {r["name"] for r in rules} == set(rule_exprs())
        assert [(r["name"], r["health"], r["lastError"]) for r in rules if r["health"] != "ok"] == []
        # a healthy pagerd that just started (heartbeats left out: the example's has not checked in yet)
        quiet = {
            "PagerdDown",
            "PagerdEngineStalled",
            "PagerdOutboxStale",
            "PagerdPagesFailing",
            "PagerdConfigReloadFailed",
        }
        assert {r["name"]: r["state"] for r in rules if r["name"] in quiet and r["state"] != "inactive"} == {}
    finally:
        prom.stop()
        print(f"--- prometheus log (tail) ---\n{prom.log_tail(3000)}")
