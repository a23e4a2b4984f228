"""The standby number's Twilio callbacks (README: The standby number), signed like the other callbacks
(pager.web.twilio_hooks.signed_form: a missing or forged X-Twilio-Signature is a 403).

- POST /twilio/hotline                  a call comes in (the number's Voice webhook): greet, then forward
                                        to the desk, ring the standby engineer, or take a voicemail
                                        (pager.domain.hotline.decide_call). Claimed by its CallSid: Twilio
                                        retrying it, or a replay, opens nothing twice and hears the same.
- POST /twilio/hotline/dial?step=N      the <Dial> of step N-1 ended (DialCallStatus): connected, hang up;
                                        else ring step N, the next escalation step; nobody left, voicemail.
- POST /twilio/hotline/answered?person=ID   the person rung picked up (<Number url>): the call is theirs,
                                        the incident acknowledged by them; they hear who calls, then are
                                        put through.
- POST /twilio/hotline/recording        the voicemail: its URL on the ticket; a ticket that is no incident
                                        yet is paged per its project's coverage (an office_hours project
                                        waits for the desk).
"""

from __future__ import annotations

import structlog
from aiohttp import web

from pager.domain import hotline as dh
from pager.domain import messages
from pager.domain.incident import State
from pager.notify import hotline_twiml as twiml
from pager.service import desk
from pager.service import hotline as sh
from pager.sources.errors import InputError
from pager.storage.port import Conflict, HotlineCall, NotFound

from .keys import RUNTIME, Runtime
from .twilio_hooks import callback_sid, signed_form

log = structlog.get_logger("pagerd.hotline")
MAX_STEP = 100
MAX_URL = 1000


def _twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="application/xml")


def _url(rt: Runtime, path: str) -> str:
    return f"{rt.config.server.public_url}/twilio/hotline{path}"


def _ref(call: HotlineCall) -> str:
    return f"#{call.ticket}" if call.ticket is not None else ""


async def _ring(rt: Runtime, call: HotlineCall, step: int, intro: str) -> str:
    """The TwiML that rings the first step from `step` with someone to ring, else takes a voicemail."""
    now = rt.clock.now()
    found = (
        await sh.dial_from(rt.store, rt.config, rt.schedule, call.project or "", step, now) if call.project else None
    )
    if found is None:
        return twiml.voicemail(call.language, intro, _url(rt, "/recording"))
    await rt.store.hotline_dial(call.call_sid, found.step, found.people, now=now)
    log.info("hotline_dial", call_sid=call.call_sid, step=found.step, people=list(found.people))
    numbers = [(phone, _url(rt, f"/answered?person={p}")) for p, phone in zip(found.people, found.phones, strict=True)]
    return twiml.dial(call.language, intro, numbers, _url(rt, f"/dial?step={found.step + 1}"))


async def incoming(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await signed_form(request, rt)
    sid = callback_sid(form, "CallSid")
    known = await rt.store.get_hotline_call(sid)
    if known is not None and known.reply is not None:
        log.info("twilio_callback_repeated", callback="hotline")
        return _twiml(known.reply)
    now = rt.clock.now()
    caller = str(form.get("From", ""))[:64]
    d = await sh.decide(rt.store, rt.config, rt.schedule, caller, now)
    call, first = await rt.store.start_hotline_call(
        call_sid=sid,
        caller=d.caller,
        contact=d.contact.id if d.contact else None,
        customer=d.customer,
        project=d.project,
        action=d.action.value,
        language=d.language,
        reason=d.reason,
        now=now,
    )
    structlog.contextvars.bind_contextvars(call_sid=sid)
    if not first:  # the same call again while its first request is still being answered
        return _twiml(twiml.say_and_hang_up(call.language, ""))
    log.info("hotline_call", action=d.action.value, customer=d.customer, project=d.project)  # no number, no name
    lang = d.language
    if d.action is dh.CallAction.FORWARD:
        assert d.forward_to is not None
        answer = twiml.forward(lang, d.forward_to)
    else:
        call = await sh.open_ticket(rt.store, rt.config, rt.schedule, sid, d, now)
        if rt.engine is not None:
            rt.engine.poke()  # the first step's pages go out now
        greeting = dh.prompt(lang, "greeting")
        if d.action is dh.CallAction.STANDBY:
            answer = await _ring(rt, call, 0, f"{greeting} {dh.prompt(lang, 'standby', ref=_ref(call))}")
        else:
            answer = twiml.voicemail(lang, greeting, _url(rt, "/recording"))
    await rt.store.answer_hotline_call(sid, answer)
    return _twiml(answer)


def _step(request: web.Request) -> int:
    raw = request.query.get("step", "")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:4]) <= MAX_STEP:
        raise InputError(422, f"?step= must be a whole number from 1 to {MAX_STEP}")
    return int(raw)


async def _call(rt: Runtime, sid: str) -> HotlineCall:
    call = await rt.store.get_hotline_call(sid)
    if call is None:
        raise NotFound(f"no call {sid} to the standby number")
    return call


async def dialled(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await signed_form(request, rt)
    step = _step(request)
    sid = callback_sid(form, "CallSid")
    status = str(form.get("DialCallStatus", "")).strip().lower()[:32]
    if not status:
        raise InputError(422, "a <Dial> action carries DialCallStatus")
    call = await _call(rt, sid)
    await rt.store.hotline_dial_ended(sid, step - 1, status, now=rt.clock.now())
    if status == dh.DIAL_CONNECTED or call.answered_by is not None:
        return _twiml(twiml.say_and_hang_up(call.language, ""))
    return _twiml(await _ring(rt, call, step, dh.prompt(call.language, "next")))


async def answered(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await signed_form(request, rt)
    person = request.query.get("person", "")
    if person not in rt.config.people:
        raise InputError(422, "?person= is not a person of the config")
    # the leg that rang the person is a child of the customer's call
    sid = callback_sid(form, "ParentCallSid", "CallSid")
    call = await _call(rt, sid)
    now = rt.clock.now()
    call, first = await rt.store.hotline_answered(sid, person, now=now)
    if first and call.ticket is not None and call.action == dh.CallAction.STANDBY.value:
        try:  # picking up the customer's call answers the page: the response target is met now
            await rt.store.transition(
                call.ticket, State.ACKNOWLEDGED, actor=person, via="hotline", comment="took the standby call", now=now
            )
        except (Conflict, NotFound) as exc:
            log.info("hotline_ack_skipped", ticket=call.ticket, reason=str(exc))
        if rt.engine is not None:
            rt.engine.poke()
    log.info("hotline_answered", person=person, first=first)
    lang = rt.config.people[person].language or messages.default_language(rt.config.calendar.holiday_country)
    who = call.caller or "unknown"
    if call.contact is not None:
        contacts = desk.all_contacts(rt.config, await rt.store.list_contacts(call.customer))
        found = next((c for c in contacts if c.id == call.contact), None)
        who = f"{found.name}, {found.customer}" if found is not None else call.contact
    return _twiml(twiml.whisper(lang, dh.prompt(lang, "whisper", who=who, ref=_ref(call) or "-")))


async def recording(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await signed_form(request, rt)
    sid = callback_sid(form, "CallSid")
    call = await _call(rt, sid)
    now = rt.clock.now()
    url = str(form.get("RecordingUrl", "")).strip()
    if not url:  # hung up before a message was left
        await rt.store.hotline_hung_up(sid, now=now)
        return _twiml(twiml.say_and_hang_up(call.language, ""))
    if len(url) > MAX_URL or not url.startswith("https://") or any(c.isspace() or ord(c) < 32 for c in url):
        raise InputError(422, "RecordingUrl must be an https URL of at most 1000 characters")
    rec_sid = callback_sid(form, "RecordingSid")
    raw_seconds = str(form.get("RecordingDuration", ""))
    seconds = int(raw_seconds) if raw_seconds.isascii() and raw_seconds.isdigit() and len(raw_seconds) < 7 else None
    call, first = await rt.store.hotline_voicemail(sid, recording_sid=rec_sid, url=url, seconds=seconds, now=now)
    log.info("hotline_voicemail", ticket=call.ticket, seconds=seconds, first=first)
    if first and call.ticket is not None and call.project is not None:
        t = await rt.store.get_ticket(call.ticket)
        if t is not None and t.kind == "request" and t.status != "closed":
            # a message outside standby: paged as any request of its project (coverage, urgency, windows)
            await rt.store.page_ticket(
                t.number, labels=desk.page_labels(rt.config, t), severity=sh.SEVERITY, actor=sh.ACTOR, now=now
            )
            if rt.engine is not None:
                rt.engine.poke()
    return _twiml(twiml.say_and_hang_up(call.language, dh.prompt(call.language, "thanks")))
