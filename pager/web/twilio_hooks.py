"""Twilio callbacks (signed): inbound SMS replies, the voice call flow, delivery status; one-tap links.

A callback that changes something is applied once. It is claimed in the store under the key that
makes a repeat of it identical (Twilio retrying it, or someone replaying a captured signed request);
a claimed callback changes nothing and is answered what it was answered the first time:

- /twilio/sms     its MessageSid (one per inbound message).
- /twilio/status  ?msg=, its MessageSid or CallSid, and the status: a message or a call legitimately
                  reports several statuses (queued, sent, delivered; initiated, ringing, answered,
                  completed), each of them once.
- /twilio/voice   with Digits: its CallSid, ?msg= and the Digits. One call posts several callbacks with
                  its CallSid: the call flow is fetched without Digits (a read that changes nothing, so
                  it is not claimed: fetched again, it is answered again) and the keypress posts Digits
                  to the <Gather> action. The answer to a keypress hangs up, so a call has one keypress
                  at most and another post of the same digits in the same call is a repeat. CallStatus
                  is left out of the key on purpose: a keypress always comes while the call is in
                  progress, and a key with the status would let the same keypress under another
                  status act twice (escalate twice).

Who may act: an SMS acts only when it comes from a phone of a person in the config (any other number
is refused with an empty answer: no SMS goes back to a number we do not know), and only on incidents
whose escalation reached that person; a keypress only on what reached the person called; a one-tap
link only on the round it was signed for. pager.domain.paging.may_answer decides all of them.
"""

from __future__ import annotations

import html
from datetime import datetime

import structlog
from aiohttp import web

from pager.domain import messages
from pager.domain import paging as dp
from pager.domain.incident import State
from pager.notify.twilio import gather_reply_twiml, sms_reply_twiml, verify_signature, voice_twiml
from pager.service import links
from pager.service.paging import page_summary
from pager.service.signing import Keyring
from pager.sources.errors import InputError
from pager.storage.port import Conflict, NotFound

from .body import read_body
from .keys import RUNTIME, Runtime

log = structlog.get_logger("pagerd.twilio")
_FAILED = {"failed", "undelivered", "busy", "no-answer", "canceled"}
MAX_CALLBACK_BODY = 64 * 1024
MAX_SID = 64  # Twilio's SIDs are 34 characters
SMS_HELP = (
    "Reply 1 (ack), 2 (resolve) or 3 (escalate), optionally with the incident number, e.g. 'ack 42'; "
    "'worked 45' logs 45 minutes."
)


def _twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="application/xml")


async def signed_form(request: web.Request, rt: Runtime):
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


def callback_sid(form, *names: str) -> str:
    """The first of the SIDs `names` the callback carries (what a repeat of it is known by); else 422."""
    for name in names:
        value = form.get(name, "")
        if value:
            if len(value) > MAX_SID:
                raise InputError(422, f"{name} is longer than {MAX_SID} characters")
            return value
    raise InputError(422, f"a Twilio callback here carries {' or '.join(names)}")


def _person_by_phone(rt: Runtime, phone: str) -> str | None:
    for pid, p in rt.config.people.items():
        if p.phone and p.phone == phone.strip():
            return pid
    return None


_DONE = {dp.Command.ACK: "acknowledged", dp.Command.RESOLVE: "resolved", dp.Command.ESCALATE: "escalated"}


async def _apply(
    rt: Runtime, incident_ids: list[int], command: dp.Command, person: str, via: str
) -> list[tuple[int, str | None]]:
    """Apply a command to incidents: (incident, None when done, else why not) for each."""
    out: list[tuple[int, str | None]] = []
    now = rt.clock.now()
    for iid in incident_ids:
        try:
            if command is dp.Command.ACK:
                await rt.store.transition(iid, State.ACKNOWLEDGED, actor=person, via=via, comment=None, now=now)
            elif command is dp.Command.RESOLVE:
                await rt.store.transition(iid, State.RESOLVED, actor=person, via=via, comment=None, now=now)
            elif command is dp.Command.ESCALATE:
                why = await _not_escalating(rt, iid)
                if why is not None:  # nothing to move on: nobody is paged, nothing is recorded
                    out.append((iid, why))
                    continue
                await rt.store.escalate_now(iid, actor=person, via=via, now=now)
            out.append((iid, None))
        except (Conflict, NotFound) as exc:
            out.append((iid, str(exc)))
    if rt.engine is not None:
        rt.engine.poke()
    return out


async def _act(rt: Runtime, incident_ids: list[int], command: dp.Command, person: str, via: str) -> list[str]:
    """Apply a command to incidents; returns one line per incident for the reply."""
    return [
        f"#{dp.short_code(iid)} {_DONE[command]}" if why is None else f"#{dp.short_code(iid)}: {why}"
        for iid, why in await _apply(rt, incident_ids, command, person, via)
    ]


async def _answerable(
    rt: Runtime, person: str | None, command: dp.Command, incident_ids: list[int], *, named: bool
) -> tuple[list[int], list[str]]:
    """Of `incident_ids`, those the person may act on with `command` (dp.may_answer), and one line for each
    refused one that says why (the reply they read)."""
    found = {r.incident_id: r for r in await rt.store.rounds_paged(person or "", incident_ids)}
    allowed, refused = [], []
    for iid in incident_ids:
        paged = found.get(iid)
        if paged is None:
            refused.append(f"No incident #{dp.short_code(iid)}.")
            continue
        why = dp.may_answer(command, paged.current, paged.rounds if person else (), named=named)
        if why is None:
            allowed.append(iid)
            continue
        code = dp.short_code(iid)
        log.info("reply_refused", incident_id=iid, command=command.value, reason=why.value)
        if why is dp.Refusal.NOT_PAGED:
            refused.append(
                f"#{code} did not page you ({person or 'unknown'}): nothing changed. Only the people "
                "its escalation reached can answer it by SMS or phone."
            )
        else:
            refused.append(
                f"#{code} has reopened since it paged you and its new alert did not page you: "
                f"nothing changed. Reply '{command.value} {code}' to act on it anyway."
            )
    return allowed, refused


async def sms(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await signed_form(request, rt)
    sid = callback_sid(form, "MessageSid")
    phone = form.get("From", "").strip()
    person = _person_by_phone(rt, phone)
    if person is None:
        log.info("sms_refused", reason="unknown_number")
        return _twiml(sms_reply_twiml(""))  # unknown numbers learn nothing, and cost nothing
    structlog.contextvars.bind_contextvars(person=person)
    claim = await rt.store.claim_callback("sms", sid, rt.clock.now())
    if not claim.first:
        log.info("twilio_callback_repeated", callback="sms")
        return _twiml(claim.reply if claim.reply is not None else sms_reply_twiml(""))
    answer = sms_reply_twiml((await _sms_command(rt, person, phone, form.get("Body", "")))[:1500])
    await rt.store.answer_callback("sms", sid, answer)
    return _twiml(answer)


async def _sms_command(rt: Runtime, person: str, phone: str, text: str) -> str:
    """Apply an SMS reply of `person` (from `phone`); returns the text of the answer."""
    reply = dp.parse_reply(text)
    if reply.command is None:
        return SMS_HELP
    named = bool(reply.short_code)
    if reply.short_code:
        if not reply.short_code.isdigit():
            return f"No incident #{reply.short_code}."
        targets = [int(reply.short_code)]
    else:
        # the page the person answers: the newest one that reached this phone, with its whole bundle
        last = await rt.store.last_message_to(phone)
        targets = list(last.incident_ids) if last else []
        if not targets:
            return "No page to answer; add the incident number, e.g. 'ack 42'."
        open_ = await rt.store.open_incidents_paged_to(phone)
        if len(targets) == 1 and len(open_) > 1:
            # several open incidents paged one by one: a bare reply is ambiguous (a bundle is not: "ack all")
            codes = ", ".join(f"#{dp.short_code(i)}" for i in open_[:8])
            return (
                f"You have {len(open_)} open incidents ({codes}). "
                f"Reply with the number, e.g. 'ack {dp.short_code(open_[-1])}'."
            )
    if reply.command is dp.Command.WORKED and len(targets) != 1:
        codes = ", ".join(f"#{dp.short_code(i)}" for i in targets[:8])
        return (
            f"Your last page named {len(targets)} incidents ({codes}). Reply with "
            f"the number, e.g. 'worked {reply.minutes} {dp.short_code(targets[0])}'."
        )
    allowed, refused = await _answerable(rt, person, reply.command, targets, named=named)
    if not allowed:
        return " ".join(refused)
    if reply.command is dp.Command.WORKED:
        try:
            await rt.store.add_work(
                allowed[0], person=person, minutes=reply.minutes, note=None, by=person, now=rt.clock.now()
            )
        except NotFound:
            return f"No incident #{dp.short_code(allowed[0])}."
        log.info("sms_reply", command=reply.command.value, incidents=allowed, minutes=reply.minutes)
        return f"#{dp.short_code(allowed[0])}: {reply.minutes} minutes logged for {person}"
    lines = await _act(rt, allowed, reply.command, person, "sms")
    log.info("sms_reply", command=reply.command.value, incidents=allowed[:20], refused=len(refused))
    return "; ".join(lines + refused)


def _language(rt: Runtime, person: str | None) -> messages.Language:
    """The language a call speaks to `person` (people.<id>.language, else the calendar's default)."""
    p = rt.config.people.get(person or "")
    if p is not None and p.language is not None:
        return p.language
    return messages.default_language(rt.config.calendar.holiday_country)


async def _voice_item(rt: Runtime, iid: int) -> messages.VoiceItem | None:
    inc = await rt.store.get_incident(iid)
    if inc is None:
        return None
    rounds = await rt.store.rounds_of(iid)
    return messages.VoiceItem(dp.short_code(iid), rounds[-1].project if rounds else "", page_summary(inc), _since(inc))


def _since(inc) -> datetime:
    """Since when an incident is about: its first still firing alert's start (the last change, when none fires)."""
    firing = [a.starts_at or a.first_seen for a in inc.alerts if a.status == "firing"]
    return min(firing) if firing else inc.updated_at


async def voice(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await signed_form(request, rt)
    mid = request.query.get("msg", "")
    msg = await rt.store.message(int(mid)) if mid.isdigit() else None
    lang = _language(rt, msg.person if msg else None)
    language, voice_name = messages.VOICES[lang]
    if msg is None or not msg.incident_ids:
        return _twiml(gather_reply_twiml("This page is no longer known. Goodbye."))
    digits = form.get("Digits")
    if digits is None:  # the call flow: a read, answered again when fetched again
        items = [item for iid in msg.incident_ids[: messages.VOICE_LIST_MAX] if (item := await _voice_item(rt, iid))]
        if not items:
            return _twiml(gather_reply_twiml("This page is no longer known. Goodbye."))
        script = messages.voice_script(
            items, lang, rt.clock.now(), rt.schedule.calendar.zone, total=len(msg.incident_ids)
        )
        gather = f"{rt.config.server.public_url}/twilio/voice?msg={msg.carrier}"
        return _twiml(voice_twiml(script, gather))
    key = f"{callback_sid(form, 'CallSid')}:{msg.id}:{digits}"
    claim = await rt.store.claim_callback("voice", key, rt.clock.now())
    if not claim.first:
        log.info("twilio_callback_repeated", callback="voice")
        return _twiml(claim.reply if claim.reply is not None else gather_reply_twiml(""))
    command = dp.parse_digits(digits)
    if command is None:
        answer = gather_reply_twiml(messages.voice_unknown_key(lang), language, voice_name)
    else:
        allowed, refused = await _answerable(rt, msg.person, command, list(msg.incident_ids), named=False)
        done: list[tuple[str, str, str | None]] = []
        for iid, why in await _apply(rt, allowed, command, msg.person or "voice", "voice") if allowed else []:
            if why is None:
                done.append((dp.short_code(iid), command.value, None))
            elif command is dp.Command.ESCALATE:
                done.append((dp.short_code(iid), "not_escalated", None))
            else:
                inc = await rt.store.get_incident(iid)
                done.append((dp.short_code(iid), "failed", inc.state if inc else None))
        done += [(dp.short_code(iid), "refused", None) for iid in msg.incident_ids if iid not in allowed]
        log.info("voice_reply", command=command.value, incidents=allowed[:20], refused=len(refused))
        answer = gather_reply_twiml(messages.voice_answer(lang, done), language, voice_name)
    await rt.store.answer_callback("voice", key, answer)
    return _twiml(answer)


async def status(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    form = await signed_form(request, rt)
    mid = request.query.get("msg", "")
    st = (form.get("MessageStatus") or form.get("CallStatus") or "").lower()
    if not mid.isdigit() or not st:
        raise InputError(422, "callback needs ?msg= and MessageStatus or CallStatus")
    key = f"{int(mid)}:{callback_sid(form, 'MessageSid', 'CallSid')}:{st}"
    claim = await rt.store.claim_callback("status", key, rt.clock.now())
    if not claim.first:
        log.info("twilio_callback_repeated", callback="status")
        return web.Response(status=204)
    try:
        res = await rt.store.delivery_update(int(mid), st, failed=st in _FAILED, now=rt.clock.now())
    except NotFound:
        res = None
    await rt.store.answer_callback("status", key, "")
    if res is not None and res.advanced and rt.engine is not None:
        rt.engine.poke()
    return web.Response(status=204)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>pagerd</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:30em}}form{{display:inline-block;margin:.3em .3em 0 0}}
button{{font-size:1.3em;padding:.6em 1.2em}}.done{{background:#e6f4ea;padding:.6em}}</style>
</head><body>{body}</body></html>"""
# what the one-tap page offers in each state (escalate: page the next escalation step now)
_OFFERED = {"triggered": ("ack", "resolve", "escalate"), "acknowledged": ("resolve",), "resolved": ()}
_COMMANDS = {"ack": dp.Command.ACK, "resolve": dp.Command.RESOLVE, "escalate": dp.Command.ESCALATE}
_LABELS = {"ack": "Acknowledge", "resolve": "Resolve", "escalate": "Escalate"}


def _verify_link(rt, request: web.Request) -> links.Link:
    return links.verify(Keyring.of(rt.config.auth), request.match_info["token"], rt.clock.now())


def _link_refused(exc: links.InvalidLink) -> web.Response:
    """A link that does not act: why, and what to do instead (never a traceback, never a 500)."""
    return _page(
        f"<h1>Link not valid</h1><p>{html.escape(str(exc))}</p>"
        "<p>Acknowledge or resolve the incident by replying to the SMS, through the API, "
        "or with <code>pagerd incidents ack</code>.</p>",
        status=404,
    )


def _earlier_round(link: links.Link, inc, command: dp.Command) -> web.Response | None:
    """The page for a link signed for an earlier round of its incident (410: it no longer acts), else None.
    The rule is the SMS replies' (dp.may_answer): a link answers the page it came with, its round only."""
    if inc is None or dp.may_answer(command, inc.reopen_count, {link.generation}, named=False) is None:
        return None
    text = links.EARLIER_ROUND.format(incident=link.incident_id, sent=link.generation + 1, current=inc.reopen_count + 1)
    log.info("link_refused", incident_id=link.incident_id, reason=dp.Refusal.EARLIER_ROUND.value)
    return _page(
        f"<h1>Link for an earlier alert of incident #{link.incident_id}</h1><p>{html.escape(text)}</p>"
        f"<p>{html.escape(inc.summary)}</p><p>State now: {html.escape(inc.state)}</p>",
        status=410,
    )


def _page(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=_PAGE.format(body=body),
        content_type="text/html",
        status=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def _incident_page(rt: Runtime, link: links.Link, inc, done: str = "") -> web.Response:
    """The incident as the one-tap page shows it: number, customer/project, since when, its summary
    (a group's: how many alerts and what they share) and its alerts, and a button (a POST form, with a
    token of the same incident, round, person and expiry) for each action its state still takes."""
    keys = Keyring.of(rt.config.auth)
    rounds = await rt.store.rounds_of(inc.id)
    project = rounds[-1].project if rounds else ""
    zone = rt.schedule.calendar.zone
    since = _since(inc).astimezone(zone)
    alerts = "".join(
        f"<li>{html.escape(a.summary)}{'' if a.status == 'firing' else ' (resolved)'}</li>" for a in inc.alerts[:20]
    )
    more = f"<li>and {len(inc.alerts) - 20} more</li>" if len(inc.alerts) > 20 else ""
    forms = "".join(
        f'<form method="post" action="{links.sign(keys, inc.id, action, link.person, link.expires, generation=link.generation)}">'
        f'<button type="submit">{_LABELS[action]}</button></form>'
        for action in _OFFERED.get(inc.state, ())
    )
    body = (
        (f'<p class="done">{html.escape(done)}</p>' if done else "")
        + f"<h1>#{inc.id} {html.escape(project)}</h1>"
        + f"<p><strong>{html.escape(page_summary(inc))}</strong></p>"
        + f"<p>State: {html.escape(inc.state)} &middot; since {since:%a %d %b %H:%M} ({html.escape(str(zone))})</p>"
        + (f"<ul>{alerts}{more}</ul>" if len(inc.alerts) > 1 else "")
        + (f"<p>{forms}</p>" if forms else "")
        + (
            "<p>Escalate pages the next step of the escalation now.</p>"
            if "escalate" in _OFFERED.get(inc.state, ())
            else ""
        )
    )
    return _page(body)


async def link_get(request: web.Request) -> web.Response:
    """Shows the incident and its buttons; never acts (mail and chat apps fetch links to preview them)."""
    rt = request.app[RUNTIME]
    try:
        link = _verify_link(rt, request)
    except links.InvalidLink as exc:
        return _link_refused(exc)
    inc = await rt.store.get_incident(link.incident_id)
    if inc is None:
        return _page(f"<h1>No incident #{link.incident_id}</h1>", status=404)
    if (earlier := _earlier_round(link, inc, _COMMANDS[link.action])) is not None:
        return earlier
    return await _incident_page(rt, link, inc)


async def link_post(request: web.Request) -> web.Response:
    """The link's action (its token says which: ack, resolve or escalate) on the round it was sent for."""
    rt = request.app[RUNTIME]
    try:
        link = _verify_link(rt, request)
    except links.InvalidLink as exc:
        return _link_refused(exc)
    inc = await rt.store.get_incident(link.incident_id)
    if inc is None:
        return _page(f"<h1>No incident #{link.incident_id}</h1>", status=404)
    command = _COMMANDS[link.action]
    if (earlier := _earlier_round(link, inc, command)) is not None:
        return earlier
    (line,) = await _act(rt, [link.incident_id], command, link.person or "link", "link")
    done = line + (": the next step is paged now" if line.endswith(" escalated") else "")
    log.info("link_used", incident_id=inc.id, command=command.value)
    after = await rt.store.get_incident(link.incident_id)
    return await _incident_page(rt, link, after or inc, done)


async def _not_escalating(rt: Runtime, incident_id: int) -> str | None:
    """Why escalating the incident now would page nobody (it is no longer triggered, or its current
    round has paged every step), or None: its next step can be paged now."""
    inc = await rt.store.get_incident(incident_id)
    if inc is None:
        raise NotFound(f"incident {incident_id} not found")
    if inc.state != State.TRIGGERED.value:
        return f"not escalated: it is {inc.state}, so its escalation has stopped"
    rounds = await rt.store.rounds_of(incident_id)
    current = rounds[-1] if rounds and rounds[-1].round.generation == inc.reopen_count else None
    if current is None:
        return "not escalated: it is not routed yet, try again in a moment"
    if current.escalation == "waiting":
        return "not escalated: its coverage pages nobody now (the support desk is told at the next office opening)"
    if current.escalation != "active":
        return "not escalated: its escalation has no further step (every step has paged)"
    return None
