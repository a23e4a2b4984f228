"""pagerd's own Prometheus metrics, on a registry passed in (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from pager import __version__
from pager.storage.port import ConnectionUse

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build = Info("pagerd_build", "pagerd version", registry=r)
        self.build.info({"version": __version__})
        self.alerts_received = Counter(
            "pagerd_alerts_received",
            "Alert notifications received, by source and what they did to incidents",
            ["source", "outcome"],
            registry=r,
        )
        self.webhook_requests = Counter(
            "pagerd_webhook_requests", "Webhook requests by source and HTTP status code", ["source", "code"], registry=r
        )
        self.webhook_duration = Histogram(
            "pagerd_webhook_duration_seconds",
            "Time from request to answer of webhook requests",
            ["source"],
            buckets=_LATENCY,
            registry=r,
        )
        self.connections_closed = Counter(
            "pagerd_connections_closed",
            "Client connections the connection guard closed, by reason (header_timeout, evicted, refused)",
            ["reason"],
            registry=r,
        )
        for reason in ("header_timeout", "evicted", "refused"):
            self.connections_closed.labels(reason)
        self.incidents = Gauge("pagerd_incidents", "Incidents in the store by state", ["state"], registry=r)
        self.commit_latency = Histogram(
            "pagerd_store_commit_duration_seconds",
            "Duration of one group commit of the store writer",
            buckets=_LATENCY,
            registry=r,
        )
        self.commit_batch = Histogram(
            "pagerd_store_commit_batch_size",
            "Jobs per group commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
            registry=r,
        )
        self.store_connections = Gauge(
            "pagerd_store_connections",
            "Database connections of the store by role (writer, reader; lease on PostgreSQL) and state (open: "
            "connected; busy: running a query or transaction now), read at scrape time",
            ["role", "state"],
            registry=r,
        )
        self.reload_ok = Gauge(
            "pagerd_config_last_reload_successful",
            "Whether the last configuration load or reload succeeded (1) or failed (0)",
            registry=r,
        )
        self.reload_time = Gauge(
            "pagerd_config_last_reload_success_timestamp_seconds",
            "Time of the last successful configuration load, Unix seconds",
            registry=r,
        )
        self.response = Histogram(
            "pagerd_response_seconds",
            "Time from a round's first page to its answer (acknowledgement or resolve)",
            buckets=(30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200),
            registry=r,
        )
        self.breaches = Counter(
            "pagerd_response_target_breaches_total",
            "Rounds (an incident's opening or a reopen) whose response target was missed",
            registry=r,
        )
        self.request_breaches = Counter(
            "pagerd_request_target_breaches_total",
            "Request tickets whose first-response or resolution target (office time) was breached",
            ["target", "customer"],
            registry=r,
        )
        self.request_at_risk = Counter(
            "pagerd_request_target_at_risk_total",
            "Request tickets whose first-response or resolution target turned at risk",
            ["target", "customer"],
            registry=r,
        )
        self.messages = Counter(
            "pagerd_messages_total", "Outgoing messages by channel and result", ["channel", "result"], registry=r
        )
        for state in ("triggered", "acknowledged", "resolved"):
            self.incidents.labels(state)

        # -- the engine, its outbox and the heartbeats: what alerts on the alerter read (names are a contract)
        self.engine_last_good_tick = Gauge(
            "pagerd_engine_last_tick_success_timestamp_seconds",
            "When the engine last finished a tick in which every stage succeeded, Unix seconds",
            registry=r,
        )
        self.engine_leader = Gauge(
            "pagerd_engine_leader",
            "1 while this node runs the paging engine (on PostgreSQL: holds the engine lease), else 0",
            registry=r,
        )
        self.engine_takeovers = Counter(
            "pagerd_engine_takeovers",
            "Times this node took the engine lease (PostgreSQL) and started the engine",
            registry=r,
        )
        self.engine_stage_failures = Counter(
            "pagerd_engine_stage_failures",
            "Engine stages that raised, by stage (retried by the next tick)",
            ["stage"],
            registry=r,
        )
        # read from the store at scrape time: they keep moving when the engine has stopped
        self.outbox_pending = Gauge(
            "pagerd_outbox_pending", "Outgoing messages due and not yet sent, by channel", ["channel"], registry=r
        )
        self.outbox_oldest_age = Gauge(
            "pagerd_outbox_oldest_pending_age_seconds",
            "How long the longest-waiting due message has waited (0 when none waits)",
            registry=r,
        )
        self.heartbeat_last_seen = Gauge(
            "pagerd_heartbeat_last_seen_timestamp_seconds",
            "Last check-in of each heartbeat, Unix seconds",
            ["name"],
            registry=r,
        )
        self.heartbeat_armed = Gauge(
            "pagerd_heartbeat_armed",
            "Whether each configured heartbeat is watched (1: it has checked in) or still waits for its "
            "first check-in (0: its silence opens no incident)",
            ["name"],
            registry=r,
        )
        for channel in ("sms", "voice", "email"):
            self.outbox_pending.labels(channel)
        self.channel_live = Gauge(
            "pagerd_notifier_channel_live",
            "Whether each channel's messages leave pagerd (1) or are simulated or have no provider (0), "
            "by channel and provider (twilio, smtp, dry_run, none)",
            ["channel", "provider"],
            registry=r,
        )

        # incoming mail: the listener's outcomes (pager/mail/intake.py) and each stored message's fate when
        # processed (pager/service/mail_desk.py: ticket, reply, auto_reply, bounce, loop, refused, unparseable)
        self.mail_received = Counter(
            "pagerd_mail_received",
            "Incoming mail by outcome: stored, duplicate (a redelivery, stored once), refused_size (over "
            "mail.max_message_bytes), refused_recipient (per RCPT to an unknown address), refused_busy (per "
            "connection over mail.max_connections, answered 421), error (not stored: answered 451); processed: "
            "ticket, reply, auto_reply, bounce, loop, refused, unparseable",
            ["outcome"],
            registry=r,
        )
        for outcome in (
            *("stored", "duplicate", "refused_size", "refused_recipient", "refused_busy", "error"),
            *("ticket", "reply", "auto_reply", "bounce", "loop", "refused", "unparseable"),
        ):
            self.mail_received.labels(outcome)
        # mail to customers (pager/service/customer_mail.py): each mail's result per kind, and what is owed
        self.mail_sent = Counter(
            "pagerd_mail_sent",
            "Mail to customers by kind (acknowledgement, reply, status) and result: sent, retry (a recoverable "
            "failure, tried again), failed (given up), withheld (the rules kept it back: bounced address, "
            "automatic-mail cap, a mail that may not be answered automatically)",
            ["kind", "result"],
            registry=r,
        )
        for kind in ("acknowledgement", "reply", "status"):
            for result in ("sent", "retry", "failed", "withheld"):
                self.mail_sent.labels(kind, result)
        self.mail_outgoing_pending = Gauge(
            "pagerd_mail_outgoing_pending",
            "Mail to customers queued and not yet sent (due, or waiting for a retry)",
            registry=r,
        )

    def notifier_channels(self, providers: dict[str, str]) -> None:
        self.channel_live.clear()
        for channel, provider in providers.items():
            self.channel_live.labels(channel, provider).set(1 if provider in ("twilio", "smtp") else 0)

    def webhook_done(self, source: str, code: int, seconds: float) -> None:
        self.webhook_requests.labels(source, str(code)).inc()
        self.webhook_duration.labels(source).observe(seconds)

    def connection_use(self, uses: list[ConnectionUse]) -> None:
        for u in uses:
            self.store_connections.labels(u.role, "open").set(u.open)
            self.store_connections.labels(u.role, "busy").set(u.busy)

    def on_commit(self, batch: int, seconds: float) -> None:
        self.commit_batch.observe(batch)
        self.commit_latency.observe(seconds)
