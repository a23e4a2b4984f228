"""The metrics every webhook updates are a contract (dashboards and rules use them): names, types,
help texts, labels and buckets, as /metrics writes them."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pager.observe.metrics import Metrics

LATENCY_LE = [
    "0.0005",
    "0.001",
    "0.0025",
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1.0",
    "2.5",
    "5.0",
    "+Inf",
]

# family name, type, help text, labels
FAMILIES = [
    (
        "pagerd_alerts_received",
        "counter",
        "Alert notifications received, by source and what they did to incidents",
        {"source", "outcome"},
    ),
    ("pagerd_webhook_requests", "counter", "Webhook requests by source and HTTP status code", {"source", "code"}),
    ("pagerd_webhook_duration_seconds", "histogram", "Time from request to answer of webhook requests", {"source"}),
]


def _families(m: Metrics) -> dict:
    return {f.name: f for f in text_string_to_metric_families(generate_latest(m.registry).decode())}


def _updated() -> Metrics:
    m = Metrics()
    m.webhook_done("alertmanager", 200, 0.003)
    m.webhook_done("alertmanager", 400, 0.0005)
    m.webhook_done("nagios", 200, 7.0)
    m.alerts_received.labels("alertmanager", "open").inc(2)
    return m


@pytest.mark.parametrize("name,kind,help_text,labels", FAMILIES)
def test_family(name: str, kind: str, help_text: str, labels: set[str]) -> None:
    family = _families(_updated())[name]
    assert (family.type, family.documentation) == (kind, help_text)
    for sample in family.samples:
        assert set(sample.labels) - {"le"} == labels, sample


def test_counts_and_buckets() -> None:
    families = _families(_updated())
    requests = {
        (s.labels["source"], s.labels["code"]): s.value
        for s in families["pagerd_webhook_requests"].samples
        if s.name == "pagerd_webhook_requests_total"
    }
    assert requests == {("alertmanager", "200"): 1, ("alertmanager", "400"): 1, ("nagios", "200"): 1}
    alerts = [s for s in families["pagerd_alerts_received"].samples if s.name == "pagerd_alerts_received_total"]
    assert [(s.labels, s.value) for s in alerts] == [({"source": "alertmanager", "outcome": "open"}, 2)]
    buckets = {
        s.labels["le"]: s.value
        for s in families["pagerd_webhook_duration_seconds"].samples
        if s.name == "pagerd_webhook_duration_seconds_bucket" and s.labels["source"] == "alertmanager"
    }
    assert list(buckets) == LATENCY_LE
    assert (buckets["0.0005"], buckets["0.0025"], buckets["0.005"], buckets["+Inf"]) == (1, 1, 2, 2)


def test_no_labelled_series_before_the_first_request() -> None:
    families = _families(Metrics())
    for name, *_ in FAMILIES:
        assert [s for s in families[name].samples] == []
