"""The per-request metrics are plain numbers turned into metric families at scrape time: their
exposition must be what prometheus_client's own Counter and Histogram give for the same updates."""
from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from pager.observe.metrics import _LATENCY, Metrics

FAMILIES = ("pagerd_alerts_received", "pagerd_webhook_requests", "pagerd_webhook_duration_seconds")


def _reference() -> tuple[CollectorRegistry, Counter, Counter, Histogram]:
    r = CollectorRegistry()
    alerts = Counter("pagerd_alerts_received_total",
                     "Alert notifications received, by source and what they did to incidents",
                     ["source", "outcome"], registry=r)
    requests = Counter("pagerd_webhook_requests_total", "Webhook requests by source and HTTP status code",
                       ["source", "code"], registry=r)
    latency = Histogram("pagerd_webhook_duration_seconds", "Time from request to answer of webhook requests",
                        ["source"], buckets=_LATENCY, registry=r)
    return r, alerts, requests, latency


def _lines(text: bytes, *, created: bool) -> list[str]:
    out = []
    for line in text.decode().splitlines():
        name = line.split()[2] if line.startswith("#") else line.split("{")[0].split()[0]
        if not name.startswith(FAMILIES):
            continue
        if "_created" in name and not line.startswith("#"):
            line = line.rsplit(" ", 1)[0] + (" T" if created else "")  # the creation times differ
        out.append(line)
    return sorted(out)


@pytest.mark.parametrize("seed", range(5))
def test_same_exposition_as_prometheus_client(seed: int) -> None:
    m = Metrics()
    ref, alerts, requests, latency = _reference()
    rng = random.Random(seed)
    edges = [0.0, *_LATENCY, *(b + 1e-9 for b in _LATENCY), 10.0, 1e9]
    for _ in range(2000):
        source = rng.choice(["alertmanager", "nagios", "events_v2"])
        code = rng.choice([200, 202, 400, 401, 413, 415, 422, 503])
        seconds = rng.choice([rng.choice(edges), rng.random() * 0.02, rng.random() * 3])
        m.webhook_done(source, code, seconds)
        requests.labels(source, str(code)).inc()
        latency.labels(source).observe(seconds)
        outcome, n = rng.choice(["open", "append", "duplicate", "orphan"]), rng.randint(1, 100)
        m.alerts_received(source, outcome, n)
        alerts.labels(source, outcome).inc(n)
    assert _lines(generate_latest(m.registry), created=True) == _lines(generate_latest(ref), created=True)


def test_nothing_before_the_first_request() -> None:
    m = Metrics()
    ref = _reference()[0]
    assert _lines(generate_latest(m.registry), created=True) == _lines(generate_latest(ref), created=True)
