"""The one aiohttp application: routes in the order an alert travels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from aiohttp import web

from . import (
    api,
    billing_api,
    bookings_api,
    hotline,
    maintenance_api,
    ops,
    override_requests_api,
    portal,
    portal_accounts,
    portal_customer,
    portal_desk,
    schedule_api,
    standby_api,
    testing_api,
    tickets_api,
    twilio_hooks,
    webhooks,
)
from .connections import ConnectionGuard
from .errors import json_errors
from .keys import ENGINE_TASK, RUNTIME, Runtime


def build_app(runtime: Runtime, connections: ConnectionGuard | None = None) -> web.Application:
    """The application; `connections`, the daemon's connection guard, learns from its middleware when a
    request is in the application."""
    # the first middleware is the outermost: webhook metrics see the status the errors middleware answered
    # the portal's middleware, innermost: its pages answer errors as pages, with its security headers
    middlewares = [webhooks.count_webhooks, json_errors, portal.middleware]
    if connections is not None:
        middlewares.insert(0, connections.middleware)
    app = web.Application(client_max_size=runtime.config.server.max_body_bytes, middlewares=middlewares)
    app[RUNTIME] = runtime
    r = app.router
    r.add_post("/api/v1/alerts/alertmanager", webhooks.alertmanager_hook)
    r.add_post("/api/v1/alerts/nagios", webhooks.nagios_hook)
    r.add_post("/v2/enqueue", webhooks.events_v2_hook)
    r.add_get("/api/v1/incidents", api.list_incidents)
    r.add_get("/api/v1/incidents/{id}", api.get_incident)
    r.add_post("/api/v1/incidents/{id}/ack", api.ack)
    r.add_post("/api/v1/incidents/{id}/resolve", api.resolve)
    r.add_post("/api/v1/incidents/{id}/notes", api.notes)
    r.add_get("/api/v1/incidents/{id}/work", bookings_api.list_work)
    r.add_post("/api/v1/incidents/{id}/work", bookings_api.add_work)
    r.add_get("/api/v1/bookings", bookings_api.list_bookings)
    r.add_post("/api/v1/bookings", bookings_api.add_booking)
    r.add_delete("/api/v1/bookings/{id}", bookings_api.cancel_booking)
    standby_api.add_routes(r)  # standby requests and their quote
    r.add_get("/api/v1/maintenance", maintenance_api.list_maintenance)
    r.add_post("/api/v1/maintenance", maintenance_api.add_maintenance)
    r.add_post("/api/v1/maintenance/match", maintenance_api.match_maintenance)
    r.add_get("/api/v1/maintenance/{id}", maintenance_api.get_maintenance)
    r.add_delete("/api/v1/maintenance/{id}", maintenance_api.remove_maintenance)
    r.add_get("/api/v1/tickets", tickets_api.list_tickets)
    r.add_post("/api/v1/tickets", tickets_api.create_ticket)
    r.add_post("/api/v1/tickets/assign", tickets_api.assign_tickets)
    r.add_get("/api/v1/tickets/{n}", tickets_api.get_ticket)
    r.add_patch("/api/v1/tickets/{n}", tickets_api.update_ticket)
    r.add_post("/api/v1/tickets/{n}/replies", tickets_api.add_reply)
    r.add_post("/api/v1/tickets/{n}/notes", tickets_api.add_note)
    r.add_post("/api/v1/tickets/{n}/time", tickets_api.add_time)
    r.add_post("/api/v1/tickets/{n}/page", tickets_api.page_ticket)
    r.add_get("/api/v1/tickets/{n}/attachments/{sha256}", tickets_api.get_attachment)
    r.add_get("/api/v1/mail", tickets_api.list_mail)
    r.add_get("/api/v1/mail/{id}/raw", tickets_api.mail_raw)
    r.add_get("/api/v1/contacts", tickets_api.list_contacts)
    r.add_post("/api/v1/contacts", tickets_api.add_contact)
    r.add_get("/api/v1/billing/statements/{customer}", billing_api.customer_statement)
    r.add_get("/api/v1/billing/engineers", billing_api.engineers_report)
    r.add_get("/api/v1/calendar", schedule_api.calendar)
    r.add_get("/api/v1/oncall", schedule_api.oncall)
    r.add_get("/api/v1/rotations", schedule_api.rotations)
    r.add_get("/api/v1/rotations/{name}/shifts", schedule_api.rotation_shifts)
    r.add_get("/api/v1/overrides", schedule_api.list_overrides)
    r.add_post("/api/v1/overrides", schedule_api.add_override)
    r.add_delete("/api/v1/overrides/{id}", schedule_api.remove_override)
    r.add_get("/api/v1/override-requests", override_requests_api.list_requests)
    r.add_post("/api/v1/override-requests", override_requests_api.add_request)
    r.add_post("/api/v1/override-requests/{id}/confirm", override_requests_api.confirm)
    r.add_post("/api/v1/override-requests/{id}/decline", override_requests_api.decline)
    r.add_get("/api/v1/ical-url", schedule_api.ical_url)
    r.add_get("/ical/{kind}/{name}.ics", schedule_api.ical_feed)
    r.add_post("/api/v1/heartbeat/{name}", webhooks.heartbeat)
    r.add_post("/twilio/sms", twilio_hooks.sms)
    r.add_post("/twilio/voice", twilio_hooks.voice)
    r.add_post("/twilio/status", twilio_hooks.status)
    r.add_post("/twilio/hotline", hotline.incoming)
    r.add_post("/twilio/hotline/dial", hotline.dialled)
    r.add_post("/twilio/hotline/answered", hotline.answered)
    r.add_post("/twilio/hotline/recording", hotline.recording)
    r.add_get("/l/{token}", twilio_hooks.link_get)
    r.add_post("/l/{token}", twilio_hooks.link_post)
    r.add_get("/healthz", ops.healthz)
    r.add_get("/readyz", ops.readyz)
    r.add_get("/metrics", ops.metrics)
    r.add_get("/api/v1/openapi.yaml", ops.openapi)  # the contract of every route here
    portal.setup(app)  # the portal's pages under /ui/
    portal_desk.setup(app)  # the staff's pages: the desk's queue and actions, incidents, on call
    portal_customer.setup_routes(app)  # its customer pages: projects, bookings, statements
    portal_accounts.setup(app)  # /ui/password-reset
    testing_api.add_routes(r, runtime)  # only on the manual test clock (config testing.clock)
    return app


def run_engine(app: web.Application, run: Callable[[], Awaitable[None]]) -> None:
    """The node's engine task lives as long as the application (a cleanup_ctx): `run()` is started on
    start-up as app[ENGINE_TASK] and cancelled on clean-up. The daemon watches the task: if it ends by
    itself, the process exits non-zero."""

    async def engine_task(app: web.Application) -> AsyncIterator[None]:
        task = app[ENGINE_TASK] = asyncio.create_task(run(), name="engine")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # its end (or death) is the daemon's to report

    app.cleanup_ctx.append(engine_task)


class Closable(Protocol):
    async def close(self) -> None: ...


def run_listener(app: web.Application, start: Callable[[], Awaitable[Closable]]) -> None:
    """Another listener of the node (the mail listener) lives as long as the application (a cleanup_ctx):
    `start()` makes it listen on start-up (an OSError there fails the start-up) and its `close()` is awaited
    on clean-up, after the HTTP site has stopped and before the store closes."""

    async def listener(app: web.Application) -> AsyncIterator[None]:
        running = await start()
        yield
        await running.close()

    app.cleanup_ctx.append(listener)
