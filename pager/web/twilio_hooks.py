"""Twilio callbacks (signed): inbound SMS replies, the voice call flow, delivery status; one-tap links."""
from __future__ import annotations

import html

import structlog
from aiohttp import web

from pager.domain import paging as dp
from pager.domain.incident import State
from pager.notify.twilio import gather_reply_twiml, sms_reply_twiml, verify_signature, voice_twiml
from pager.service import links
from pager.service.signing import Keyring
from pager.sources.errors import InputError
from pager.storage.port import Conflict, NotFound

from .body import read_body
from .keys import RUNTIME, Runtime

log = structlog.get_logger("pagerd.twilio")
_FAILED = {"failed", "undelivered", "busy", "no-answer", "canceled"}
MAX_CALLBACK_BODY = 64 * 1024


def _twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="application/xml")


async def _signed_form(request: web.Request, rt: Runtime):
    """The form of a Twilio request whose X-Twilio-Signature is valid for our public URL; else 403.
    The HMAC covers the form, so the body is read first, but only when a signature is there to check
    and the body is small (Twilio's callbacks are a few hundred bytes)."""
    token = rt.config.notifier.twilio.auth_token.get_secret_value()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        raise InputError(403, "invalid Twilio signature")
    await read_body(request, MAX_CALLBACK_BODY)
    form = await request.post()  # the body read above, as a form
    url = rt.config.server.public_url + request.path_qs
    if not verify_signature(token, url, form, signature):
        raise InputError(403, "invalid Twilio signature")
    return form


def _person_by_phone(rt: Runtime, phone: str) -> str | None:
    for pid, p in rt.config.people.items():
        if p.phone and p.phone == phone.strip():
            return pid
    return None


async def _act(rt: Runtime, incident_ids: list[int], command: dp.Command, person: str, via: str) -> list[str]:
    """Apply a command to incidents; returns one line per incident for the reply."""
    out = []
    now = rt.clock.now()
    for iid in incident_ids:
        try:
            if command is dp.Command.ACK:
                await rt.store.transition(iid, State.ACKNOWLEDGED, actor=person, via=via, comment=None, now=now)
                out.append(f"#{dp.short_code(iid)} acknowledged")
            elif command is dp.Command.RESOLVE:
                await rt.store.transition(iid, State.RESOLVED, actor=person, via=via, comment=None, now=now)
                out.append(f"#{dp.short_code(iid)} resolved")
            elif command is dp.Command.ESCALATE:
                await rt.store.escalate_now(iid, actor=person, via=via, now=now)
                out.append(f"#{dp.short_code(iid)} escalated")
        except (Conflict, NotFound) as exc:
            out.append(f"#{dp.short_code(iid)}: {exc}")
    if rt.engine is not None:
        rt.engine.poke()
    return out


async def sms(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await _signed_form(request, rt)
    person = _person_by_phone(rt, form.get("From", ""))
    if person is None:
        return _twiml(sms_reply_twiml(""))  # unknown numbers learn nothing
    reply = dp.parse_reply(form.get("Body", ""))
    structlog.contextvars.bind_contextvars(person=person)
    if reply.command is None:
        return _twiml(sms_reply_twiml("Reply 1 (ack), 2 (resolve) or 3 (escalate), optionally with the incident "
                                      "number, e.g. 'ack 42'; 'worked 45' logs 45 minutes."))
    if reply.short_code:
        if not reply.short_code.isdigit():
            return _twiml(sms_reply_twiml(f"No incident #{reply.short_code}."))
        targets = [int(reply.short_code)]
        if await rt.store.get_incident(targets[0]) is None:
            return _twiml(sms_reply_twiml(f"No incident #{reply.short_code}."))
    else:
        last = await rt.store.last_message_to(form.get("From", ""))
        targets = list(last.incident_ids) if last else []
        if not targets:
            return _twiml(sms_reply_twiml("No page to answer; add the incident number, e.g. 'ack 42'."))
        open_ = await rt.store.open_incidents_paged_to(form.get("From", ""))
        if len(targets) == 1 and len(open_) > 1:
            # several open incidents paged one by one: a bare reply is ambiguous (a bundle is not: "ack all")
            codes = ", ".join(f"#{dp.short_code(i)}" for i in open_[:8])
            return _twiml(sms_reply_twiml(f"You have {len(open_)} open incidents ({codes}). "
                                          f"Reply with the number, e.g. 'ack {dp.short_code(open_[-1])}'."))
    if reply.command is dp.Command.WORKED:
        if len(targets) != 1:
            codes = ", ".join(f"#{dp.short_code(i)}" for i in targets[:8])
            return _twiml(sms_reply_twiml(f"Your last page named {len(targets)} incidents ({codes}). Reply with "
                                          f"the number, e.g. 'worked {reply.minutes} {dp.short_code(targets[0])}'."))
        try:
            await rt.store.add_work(targets[0], person=person, minutes=reply.minutes, note=None, by=person,
                                    now=rt.clock.now())
        except NotFound:
            return _twiml(sms_reply_twiml(f"No incident #{dp.short_code(targets[0])}."))
        log.info("sms_reply", command=reply.command.value, incidents=targets, minutes=reply.minutes)
        return _twiml(sms_reply_twiml(f"#{dp.short_code(targets[0])}: {reply.minutes} minutes logged for {person}"))
    lines = await _act(rt, targets, reply.command, person, "sms")
    log.info("sms_reply", command=reply.command.value, incidents=targets[:20])
    return _twiml(sms_reply_twiml("; ".join(lines)[:1500]))


async def voice(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await _signed_form(request, rt)
    mid = request.query.get("msg", "")
    msg = await rt.store.message(int(mid)) if mid.isdigit() else None
    if msg is None or not msg.incident_ids:
        return _twiml(gather_reply_twiml("This page is no longer known. Goodbye."))
    digits = form.get("Digits")
    if digits is None:
        inc = await rt.store.get_incident(msg.incident_ids[0])
        n = len(msg.incident_ids)
        summary = inc.summary if n == 1 else f"{n} incidents, the first: {inc.summary}"
        gather = f"{rt.config.server.public_url}/twilio/voice?msg={msg.carrier}"
        return _twiml(voice_twiml(summary, dp.short_code(msg.incident_ids[0]), gather))
    command = dp.parse_digits(digits)
    if command is None:
        return _twiml(gather_reply_twiml("Unknown key. Goodbye."))
    lines = await _act(rt, list(msg.incident_ids), command, msg.person or "voice", "voice")
    return _twiml(gather_reply_twiml(". ".join(lines) + ". Goodbye."))


async def status(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await _signed_form(request, rt)
    mid = request.query.get("msg", "")
    st = (form.get("MessageStatus") or form.get("CallStatus") or "").lower()
    if not mid.isdigit() or not st:
        raise InputError(422, "callback needs ?msg= and MessageStatus or CallStatus")
    try:
        res = await rt.store.delivery_update(int(mid), st, failed=st in _FAILED, now=rt.clock.now())
    except NotFound:
        return web.Response(status=204)
    if res.advanced and rt.engine is not None:
        rt.engine.poke()
    return web.Response(status=204)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>pagerd</title><style>body{{font-family:sans-serif;margin:2em;max-width:30em}}button{{font-size:1.3em;padding:.6em 1.2em}}</style>
</head><body>{body}</body></html>"""


def _verify_link(rt, request: web.Request) -> links.Link:
    return links.verify(Keyring.of(rt.config.auth), request.match_info["token"], rt.clock.now())


def _link_refused(exc: links.InvalidLink) -> web.Response:
    """A link that does not act: why, and what to do instead (never a traceback, never a 500)."""
    return _page(f"<h1>Link not valid</h1><p>{html.escape(str(exc))}</p>"
                 "<p>Acknowledge or resolve the incident by replying to the SMS, through the API, "
                 "or with <code>pagerd incidents ack</code>.</p>", status=404)


def _page(body: str, status: int = 200) -> web.Response:
    return web.Response(text=_PAGE.format(body=body), content_type="text/html", status=status)


async def link_get(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    try:
        link = _verify_link(rt, request)
    except links.InvalidLink as exc:
        return _link_refused(exc)
    iid, action = link.incident_id, link.action
    inc = await rt.store.get_incident(iid)
    label = "Acknowledge" if action == "ack" else "Resolve"
    body = (f"<h1>#{iid}</h1><p>{html.escape(inc.summary if inc else '')}</p><p>State: {inc.state if inc else '?'}</p>"
            f'<form method="post"><button type="submit">{label}</button></form>')
    return _page(body)


async def link_post(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    try:
        link = _verify_link(rt, request)
    except links.InvalidLink as exc:
        return _link_refused(exc)
    iid, action, person = link.incident_id, link.action, link.person
    lines = await _act(rt, [iid], dp.Command.ACK if action == "ack" else dp.Command.RESOLVE, person or "link", "link")
    return _page(f"<p>{html.escape('; '.join(lines))}</p>")
