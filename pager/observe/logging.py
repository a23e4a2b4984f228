"""structlog set-up: JSON off a terminal, console on one; context (request id, incident id) via contextvars.

Every line, pagerd's own and the standard library's (aiohttp's access log and errors, asyncio), passes
through `redactor` (pager.observe.redact) just before it is rendered, at every level: no configured
secret, one-tap link token, iCal feed token or query string reaches the log.
"""

from __future__ import annotations

import logging
import sys

import structlog

from .redact import PATTERNS_ONLY, Redactor

_PLAIN = (str, int, float, bool, type(None), dict, list, tuple)


def redacting(redactor: Redactor):
    """A structlog processor: every string in the event (its message, values, formatted exception)
    redacted; any other object as its repr (what the renderers would print), redacted."""

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v if isinstance(v, _PLAIN) else repr(v)

    def redact(logger, method_name, event_dict):
        return redactor.value(plain(event_dict))

    return redact


def _one(printer: structlog.PrintLogger):
    def factory(*args) -> structlog.PrintLogger:
        return printer

    return factory


def setup(level: str = "info", fmt: str = "auto", stream=None, redactor: Redactor = PATTERNS_ONLY) -> None:
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redacting(redactor),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        # Loggers are not cached (setup may run again: a reload, a test with its own stream), so every call
        # through a module's logger asks the factory for a logger: one printer for all of them, not a new
        # PrintLogger (and a look-up of its stream's lock) per call, which was 29% of the engine's routing
        # in a profile of bench/engine_cpu.py
        logger_factory=_one(structlog.PrintLogger(stream)),
        cache_logger_on_first_use=False,
    )
    # the standard library's loggers (aiohttp, asyncio, tzlocal, ...) write through the same renderer,
    # so that the log stays one JSON object per line at every level
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redacting(redactor),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    # the Twilio SDK logs each request's method, URL, headers and answer at INFO (about eight lines per SMS);
    # pagerd's own message_sent/message_failed lines say what an operator needs, once per message. At debug
    # they are kept.
    twilio = logging.DEBUG if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    logging.getLogger("twilio").setLevel(twilio)
