"""pagerd's own Prometheus metrics, on a registry passed in (no global state)."""
from __future__ import annotations

import time
from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from pager import __version__

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build = Info("pagerd_build", "pagerd version", registry=r)
        self.build.info({"version": __version__})
        # pagerd_alerts_received_total, pagerd_webhook_requests_total, pagerd_webhook_duration_seconds
        self.per_request = _PerRequest()
        r.register(self.per_request)
        self.incidents = Gauge("pagerd_incidents", "Incidents in the store by state", ["state"], registry=r)
        self.commit_latency = Histogram("pagerd_store_commit_duration_seconds",
                                        "Duration of one group commit of the store writer",
                                        buckets=_LATENCY, registry=r)
        self.commit_batch = Histogram("pagerd_store_commit_batch_size", "Jobs per group commit",
                                      buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048), registry=r)
        self.reload_ok = Gauge("pagerd_config_last_reload_successful",
                               "Whether the last configuration load or reload succeeded (1) or failed (0)",
                               registry=r)
        self.reload_time = Gauge("pagerd_config_last_reload_success_timestamp_seconds",
                                 "Time of the last successful configuration load, Unix seconds", registry=r)
        self.response = Histogram("pagerd_response_seconds", "Time from the first page to the acknowledgement",
                                  buckets=(30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200), registry=r)
        self.breaches = Counter("pagerd_response_target_breaches_total",
                                "Incidents whose response target passed without an acknowledgement", registry=r)
        self.messages = Counter("pagerd_messages_total", "Outgoing messages by channel and result",
                                ["channel", "result"], registry=r)
        for state in ("triggered", "acknowledged", "resolved"):
            self.incidents.labels(state)

        # -- the engine, its outbox and the heartbeats: what alerts on the alerter read (names are a contract)
        self.engine_last_good_tick = Gauge(
            "pagerd_engine_last_tick_success_timestamp_seconds",
            "When the engine last finished a tick in which every stage succeeded, Unix seconds", registry=r)
        self.engine_stage_failures = Counter(
            "pagerd_engine_stage_failures", "Engine stages that raised, by stage (retried by the next tick)",
            ["stage"], registry=r)
        # read from the store at scrape time: they keep moving when the engine has stopped
        self.outbox_pending = Gauge(
            "pagerd_outbox_pending", "Outgoing messages due and not yet sent, by channel", ["channel"], registry=r)
        self.outbox_oldest_age = Gauge(
            "pagerd_outbox_oldest_pending_age_seconds",
            "How long the longest-waiting due message has waited (0 when none waits)", registry=r)
        self.heartbeat_last_seen = Gauge(
            "pagerd_heartbeat_last_seen_timestamp_seconds", "Last check-in of each heartbeat, Unix seconds",
            ["name"], registry=r)
        for channel in ("sms", "voice", "email"):
            self.outbox_pending.labels(channel)

    def webhook_done(self, source: str, code: int, seconds: float) -> None:
        self.per_request.webhook_done(source, code, seconds)

    def alerts_received(self, source: str, outcome: str, n: int) -> None:
        self.per_request.alerts_received(source, outcome, n)

    def on_commit(self, batch: int, seconds: float) -> None:
        self.commit_batch.observe(batch)
        self.commit_latency.observe(seconds)


class _PerRequest:
    """The metrics that every webhook updates, kept as plain numbers and turned into Prometheus metric
    families when scraped (same names, labels, buckets and samples as prometheus_client's Counter and
    Histogram). A labelled prometheus_client metric takes a lock per update: 5 µs per webhook measured,
    a few percent of a webhook's CPU. Updated and scraped on the event loop only (webhook handlers, the
    ingest service, /metrics), so no lock is needed."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], list] = {}  # (source, code) -> [count, created]
        self.latency: dict[str, list] = {}               # source -> [count per bucket..., +Inf, sum, created]
        self.alerts: dict[tuple[str, str], list] = {}    # (source, outcome) -> [count, created]

    def webhook_done(self, source: str, code: int, seconds: float) -> None:
        _count(self.requests, (source, str(code)), 1)
        h = self.latency.get(source)
        if h is None:
            h = self.latency[source] = [0] * (len(_LATENCY) + 1) + [0.0, time.time()]
        h[bisect_left(_LATENCY, seconds)] += 1  # the first bucket whose bound is >= seconds (le)
        h[-2] += seconds

    def alerts_received(self, source: str, outcome: str, n: int) -> None:
        _count(self.alerts, (source, outcome), n)

    def collect(self):
        yield _counter_family("pagerd_alerts_received",
                              "Alert notifications received, by source and what they did to incidents",
                              ["source", "outcome"], self.alerts)
        yield _counter_family("pagerd_webhook_requests", "Webhook requests by source and HTTP status code",
                              ["source", "code"], self.requests)
        latency = HistogramMetricFamily("pagerd_webhook_duration_seconds",
                                        "Time from request to answer of webhook requests", labels=["source"])
        for source, h in self.latency.items():
            cumulative, buckets = 0, []
            for bound, n in zip(_LATENCY_LE, h):
                cumulative += n
                buckets.append((bound, cumulative))
            latency.add_metric([source], buckets, h[-2])
        yield latency
        # prometheus_client's Histogram also exposes when each child was created (as a gauge family)
        created = GaugeMetricFamily("pagerd_webhook_duration_seconds_created",
                                    "Time from request to answer of webhook requests", labels=["source"])
        for source, h in self.latency.items():
            created.add_metric([source], h[-1])
        if self.latency:
            yield created


_LATENCY_LE = (*(repr(float(b)) for b in _LATENCY), "+Inf")  # bucket labels as prometheus_client writes them


def _count(counts: dict[tuple[str, str], list], key: tuple[str, str], n: int) -> None:
    c = counts.get(key)
    if c is None:
        c = counts[key] = [0, time.time()]
    c[0] += n


def _counter_family(name: str, doc: str, labels: list[str], counts: dict[tuple[str, str], list]):
    family = CounterMetricFamily(name, doc, labels=labels)
    for values, (n, created) in counts.items():
        family.add_metric(list(values), n, created=created)
    return family
