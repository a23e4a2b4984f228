"""`pagerd serve`: run the HTTP application until SIGTERM; SIGHUP reloads the config. Beside the composition
root (app.py), above the layers it starts (web, service): pager.service never imports pager.web."""
from __future__ import annotations

import asyncio
import gc
import signal

import structlog
from aiohttp import web

from pager import config as config_mod
from pager.app import make_clock, make_store
from pager.observe import logging as plog
from pager.observe import systemd
from pager.observe.metrics import Metrics
from pager.service.schedule import Schedule
from pager.web.app import build_app
from pager.web.keys import Runtime

log = structlog.get_logger("pagerd")

ENGINE_TICK_SECONDS = 5
_RESTART_ONLY = (("server", "listen"), ("server", "max_body_bytes"), ("storage",), ("server", "access_log"))


async def serve(config_path: str) -> int:
    cfg = config_mod.load(config_path)
    plog.setup(cfg.logging.level, cfg.logging.format)
    metrics = Metrics()
    clock = make_clock(cfg)
    metrics.reload_ok.set(1)
    metrics.reload_time.set(clock.now().timestamp())
    store = make_store(cfg, clock, metrics)
    await store.open()
    runtime = Runtime(config=cfg, config_path=config_path, store=store, metrics=metrics, clock=clock,
                      schedule=Schedule(cfg))
    app = build_app(runtime)
    runner = web.AppRunner(app, handle_signals=False, access_log=None if not cfg.server.access_log else
                           __import__("logging").getLogger("aiohttp.access"),
                           shutdown_timeout=cfg.server.shutdown_timeout.total_seconds())
    await runner.setup()
    site = web.TCPSite(runner, cfg.server.host, cfg.server.port, backlog=2048, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        log.error("listen_failed", listen=cfg.server.listen, error=str(exc))
        await runner.cleanup()
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
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from pager.app import make_notifier
    from pager.service.engine import Engine
    from pager.service.ingest import ingest as ingest_fn
    from pager.service.paging import PagingEngine

    notifier = make_notifier(cfg, runtime.clock)

    async def ingest_alerts(source, alerts):
        import json as _json
        body = _json.dumps([{"dedup_key": a.dedup_key, "action": a.action.value, "summary": a.summary}
                            for a in alerts]).encode()
        result = await ingest_fn(store, metrics, runtime.clock, source, "application/json", body, alerts)
        paging.poke()
        return result

    paging = PagingEngine(store, runtime.clock, metrics, notifier, lambda: (runtime.config, runtime.schedule),
                          ingest=ingest_alerts)
    if cfg.paging.engine:
        runtime.engine = paging
        tasks.add(loop.create_task(paging.run()))
    engine = Engine(store, runtime.clock, lambda: runtime.schedule)
    scheduler = AsyncIOScheduler(event_loop=loop)
    # APScheduler drives the ticks: the paging engine every second (webhooks and replies poke it sooner),
    # the hand-over notices every ENGINE_TICK_SECONDS.
    scheduler.add_job(paging.poke, "interval", seconds=1, id="paging", max_instances=1, coalesce=True)
    scheduler.add_job(engine.tick, "interval", seconds=ENGINE_TICK_SECONDS, id="engine", max_instances=1,
                      coalesce=True)
    scheduler.add_job(engine.tick, id="engine-first")  # and once at start (APScheduler runs it at once)
    scheduler.start()
    runtime.ready = True
    interval = systemd.watchdog_interval()
    if interval:
        wd = loop.create_task(systemd.watchdog_loop(interval))
        tasks.add(wd)
    systemd.notify("READY=1\nSTATUS=serving")
    log.info("serving", listen=cfg.server.listen, db=cfg.storage.sqlite.path, config=config_path)
    await stop.wait()
    runtime.ready = False
    systemd.notify("STOPPING=1")
    log.info("stopping", drain_seconds=cfg.server.shutdown_timeout.total_seconds())
    scheduler.shutdown(wait=False)
    for t in list(tasks):
        t.cancel()
    await runner.cleanup()  # stops accepting, lets in-flight requests finish (up to shutdown_timeout)
    await notifier.close()
    await store.close()
    log.info("stopped")
    return 0


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
    for path in _RESTART_ONLY:
        old_v, new_v = rt.config, new
        for p in path:
            old_v, new_v = getattr(old_v, p), getattr(new_v, p)
        if old_v != new_v:
            log.warning("config_change_needs_restart", key=".".join(path))
    rt.config = new
    rt.schedule = schedule
    rt.metrics.reload_ok.set(1)
    rt.metrics.reload_time.set(rt.clock.now().timestamp())
    plog.setup(new.logging.level, new.logging.format)
    log.info("config_reloaded", config=rt.config_path)
