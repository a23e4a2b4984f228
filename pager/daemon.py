"""`pagerd serve`: run the HTTP application until SIGTERM; SIGHUP reloads the config. Beside the composition
root (app.py), above the layers it starts (web, service): pager.service never imports pager.web."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal

import structlog
from aiohttp import web

from pager import config as config_mod
from pager.app import make_clock, make_lease, make_mail_sender, make_notifier, make_store
from pager.config.channels import providers
from pager.mail.intake import Receiving
from pager.notify.base import Notifier
from pager.observe import logging as plog
from pager.observe import systemd
from pager.observe.metrics import Metrics
from pager.observe.redact import Redactor, config_secrets
from pager.service.ingest import ingest
from pager.service.lease import FencedMailSender, FencedNotifier, run_leased
from pager.service.paging import PagingEngine
from pager.service.portal import reseal_totp
from pager.service.schedule import Schedule
from pager.service.signing import Keyring
from pager.storage.port import Store, Unavailable
from pager.web.app import build_app, run_engine, run_listener
from pager.web.connections import FD_RESERVE, ConnectionGuard, GuardedSite, file_limit
from pager.web.keys import ENGINE_TASK, Runtime

log = structlog.get_logger("pagerd")

# Keys read once at start (the listener, the store, the notifier's providers and their credentials): a reload
# that changes one is refused whole, so the running config is never half applied.
_RESTART_ONLY = (
    ("server", "listen"),
    ("server", "max_body_bytes"),
    ("storage", "backend"),
    ("storage", "sqlite"),
    ("server", "access_log"),
    ("server", "timeouts", "header"),
    ("server", "timeouts", "keepalive"),
    ("server", "max_connections_per_client"),
    ("notifier", "kind"),
    ("notifier", "simulate"),
    ("notifier", "twilio"),
    ("notifier", "smtp"),
    ("mail", "enabled"),
    ("mail", "listen"),
    ("mail", "protocol"),
    ("mail", "outgoing"),
)


async def serve(config_path: str) -> int:
    """Exit status: 0 after SIGTERM/SIGINT; 1 when it cannot listen, or when the engine task ended (it
    raised): systemd then restarts pagerd."""
    cfg = config_mod.load(config_path)
    plog.setup(cfg.logging.level, cfg.logging.format, redactor=Redactor.of(cfg))
    metrics = Metrics()
    clock = make_clock(cfg)
    metrics.reload_ok.set(1)
    metrics.reload_time.set(clock.now().timestamp())
    store = make_store(cfg, clock, metrics, create=True)  # created and migrated on start
    try:
        await store.open()
    except Unavailable as exc:  # a database server that cannot be reached: systemd retries the start
        log.error("store_unavailable", error=str(exc))
        return 1
    runtime = Runtime(
        config=cfg, config_path=config_path, store=store, metrics=metrics, clock=clock, schedule=Schedule(cfg)
    )
    notifier = make_notifier(cfg, runtime.clock)
    runtime.channels = providers(cfg.notifier)
    metrics.notifier_channels(runtime.channels)
    watchdog = systemd.Watchdog()
    connections = ConnectionGuard(
        header_timeout=cfg.server.timeouts.header.total_seconds(),
        per_client=cfg.server.max_connections_per_client,
        max_open=max(16, file_limit() - FD_RESERVE),
        on_close=lambda reason: metrics.connections_closed.labels(reason).inc(),
    )
    app = build_app(runtime, connections)
    receiving = Receiving()  # messages the mail listener is taking in: the engine's mail stage lets them first
    if cfg.paging.engine:

        async def ingest_alerts(source, alerts):  # the heartbeats stage opens and resolves incidents
            body = json.dumps(
                [{"dedup_key": a.dedup_key, "action": a.action.value, "summary": a.summary} for a in alerts]
            ).encode()
            result = await ingest(store, metrics, runtime.clock, source, "application/json", body, alerts)
            engine.poke()
            return result

        # several nodes on one database (PostgreSQL): the engine runs where the lease is, and sends only
        # while the lease is certain (pager.service.lease)
        lease = runtime.lease = make_lease(cfg, store)
        mail_sender = make_mail_sender(cfg, runtime.clock)
        engine_notifier: Notifier = notifier
        if lease is not None:
            engine_notifier = FencedNotifier(notifier, lease.valid)
            mail_sender = FencedMailSender(mail_sender, lease.valid) if mail_sender is not None else None
        # ticks when poked (webhooks, replies) and at least every second, or more often when systemd's
        # watchdog wants its keep-alives sooner
        engine = PagingEngine(
            store,
            runtime.clock,
            metrics,
            engine_notifier,
            lambda: (runtime.config, runtime.schedule),
            ingest=ingest_alerts,
            on_good_tick=watchdog.kick,
            idle=min(1.0, watchdog.interval or 1.0),
            mail_sender=mail_sender,
            mail_receiving=receiving.__bool__,
        )
        runtime.engine = engine
        if lease is None:
            metrics.engine_leader.set(1)
            run_engine(app, engine.run)
        else:
            run_engine(app, lambda: run_leased(lease, engine.run, metrics, on_standby=watchdog.kick))
    else:
        for gone in (metrics.engine_last_good_tick, metrics.engine_leader, metrics.engine_takeovers):
            metrics.registry.unregister(gone)  # no engine here: no "last good tick", leader or takeover of one
        run_engine(app, lambda: _store_keepalive(store, watchdog))
    if cfg.mail is not None and cfg.mail.enabled:
        from pager.mail.intake import start_listener

        run_listener(
            app,
            lambda: start_listener(
                store,
                runtime.clock,
                metrics,
                lambda: runtime.config.mail,
                on_stored=engine.poke if cfg.paging.engine else None,  # the engine's mail stage files it
                receiving=receiving,  # ... after the messages being taken in
            ),
        )
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None if not cfg.server.access_log else logging.getLogger("aiohttp.access"),
        shutdown_timeout=cfg.server.shutdown_timeout.total_seconds(),
        keepalive_timeout=cfg.server.timeouts.keepalive.total_seconds(),
    )
    try:
        await runner.setup()  # starts the engine and the mail listener (cleanup_ctx)
    except OSError as exc:  # the mail listener cannot listen
        log.error("listen_failed", listen=cfg.mail.listen if cfg.mail else None, error=str(exc))
        await runner.cleanup()
        await notifier.close()
        await store.close()
        return 1
    site = GuardedSite(runner, connections, cfg.server.host, cfg.server.port, backlog=2048)
    try:
        await site.start()
    except OSError as exc:
        log.error("listen_failed", listen=cfg.server.listen, error=str(exc))
        await runner.cleanup()
        await notifier.close()
        await store.close()
        return 1

    # What the started daemon holds (config, app, modules) lives as long as the process: frozen, full
    # collections no longer walk it; young collections every 50,000 allocations instead of 700.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    tasks: set[asyncio.Task] = set()

    def reload() -> None:
        t = loop.create_task(_reload(runtime))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    resealing = loop.create_task(_reseal_totp(runtime))  # a rotation's previous keys: see _reseal_totp
    tasks.add(resealing)
    resealing.add_done_callback(tasks.discard)
    runtime.ready = True
    systemd.notify("READY=1\nSTATUS=serving")
    log.info(
        "serving", listen=cfg.server.listen, db=cfg.storage.sqlite.path, config=config_path, channels=runtime.channels
    )
    simulated = sorted(ch for ch, p in runtime.channels.items() if p == "dry_run")
    if simulated:
        log.warning(
            "channels_simulated",
            channels=simulated,
            reason="notifier.kind: dry_run" if cfg.notifier.kind == "dry_run" else "notifier.simulate",
        )
    engine_task = app[ENGINE_TASK]
    stopping = loop.create_task(stop.wait())
    await asyncio.wait((stopping, engine_task), return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    status = 0
    if engine_task.done():  # it runs until cancelled: ending by itself means it raised
        exc = None if engine_task.cancelled() else engine_task.exception()
        log.error("engine_died", error=repr(exc), exc_info=exc)
        systemd.notify(f"STATUS=engine died: {exc!r}"[:200])
        status = 1
    runtime.ready = False
    systemd.notify("STOPPING=1")
    log.info("stopping", drain_seconds=cfg.server.shutdown_timeout.total_seconds())
    for t in list(tasks):
        t.cancel()
    await runner.cleanup()  # stops accepting, lets in-flight requests finish (up to shutdown_timeout), stops the engine
    await notifier.close()
    await store.close()
    log.info("stopped", status=status)
    return status


async def _store_keepalive(store: Store, watchdog: systemd.Watchdog, every: float = 1.0) -> None:
    """A webhook-only node (paging.engine: false) runs no engine: its keep-alive follows a store ping,
    the one thing besides the event loop that it needs to take webhooks."""
    every = min(every, watchdog.interval or every)
    while True:
        try:
            async with asyncio.timeout(every * 5):  # not wait_for: 3.11's may drop a cancel (the shutdown)
                await store.ping()
        except Exception as exc:  # no keep-alive: if the store stays away, systemd restarts pagerd
            log.warning("store_ping_failed", error=repr(exc))
        else:
            watchdog.kick()
        await asyncio.sleep(every)


async def _reload(rt: Runtime) -> None:
    try:
        new = await asyncio.get_running_loop().run_in_executor(None, config_mod.load, rt.config_path)
        schedule = Schedule(new)
    except config_mod.ConfigError as exc:
        rt.metrics.reload_ok.set(0)
        log.error("config_reload_failed", config=rt.config_path, problems=[str(i) for i in exc.issues][:20])
        return
    except Exception as exc:  # unreadable file, etc.: keep running on the old config
        rt.metrics.reload_ok.set(0)
        log.error("config_reload_failed", config=rt.config_path, error=str(exc))
        return
    changed = [".".join(path) for path in _RESTART_ONLY if _at(rt.config, path) != _at(new, path)]
    if changed:
        rt.metrics.reload_ok.set(0)
        log.error(
            "config_reload_refused",
            config=rt.config_path,
            needs_restart=changed,
            reason="these keys are read at start only; the running config is kept whole: restart to apply",
        )
        systemd.notify(f"STATUS=reload refused: {', '.join(changed)} need a restart"[:200])
        return
    old = rt.config
    rt.config = new
    rt.schedule = schedule
    rt.metrics.reload_ok.set(1)
    rt.metrics.reload_time.set(rt.clock.now().timestamp())
    # the secrets the reload replaced stay redacted: a client may still send them
    plog.setup(new.logging.level, new.logging.format, redactor=Redactor.of(new, also=config_secrets(old)))
    origins = new.secret_origins
    # secrets from files were read again (a rotation takes effect now); the environment of a running process
    # never changes, so secrets from it stay as they were at start whatever an environment file says now
    log.info(
        "config_reloaded",
        config=rt.config_path,
        secrets_reread=sorted(k for k, o in origins.items() if o.startswith("file ")),
        secrets_fixed_until_restart=sorted(k for k, o in origins.items() if o.startswith("environment ")),
    )
    systemd.notify("STATUS=serving")
    await _reseal_totp(rt)


async def _reseal_totp(rt: Runtime) -> None:
    """At start and after each reload: the TOTP secrets only a previous signing key opens, sealed again under
    the current one (pager.service.portal.reseal_totp), so that removing the old key at a rotation's end
    locks no account out. Every node may run it (each replacement is compare-and-set). A failure (the
    database away) is logged; the next start or reload tries again, and the previous key still opens them."""
    try:
        await reseal_totp(rt.store, Keyring.of(rt.config.auth))
    except Exception as exc:
        log.warning("totp_reseal_failed", error=repr(exc))


def _at(cfg: object, path: tuple[str, ...]) -> object:
    for p in path:
        cfg = getattr(cfg, p, None)  # an absent section (mail: none) has no keys
    return cfg
