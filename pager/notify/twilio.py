"""Twilio SMS and voice through the official SDK's async client, plus the pure TwiML/signature helpers.

    notifier = TwilioNotifier(account_sid=..., auth_token=..., from_number="+3197...",
                              public_url="https://pagerd.example.com", api_base=None)
    result = await notifier.send(Message(id="o-17", channel="sms", to="+316...", body="[42] disk full"))

Twilio calls pagerd back under `public_url`: delivery status at `/twilio/status?msg=<id>` (SMS and
calls), the call flow at `/twilio/voice?msg=<id>`. Errors are classified like Alertmanager's
integrations: HTTP 429 and 5xx and network failures are recoverable, any other 4xx is not.

`api_base` points every request at another base URL (a Twilio edge such as
`https://api.dublin.ie1.twilio.com`, a proxy, or a test double): the HTTP client rewrites
`https://*.twilio.com` to it. The SDK is given an empty environment, so `TWILIO_EDGE`,
`TWILIO_REGION` and `TWILIO_*` credentials in os.environ never change where or as whom it sends.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import dataclasses
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog
from multidict import MultiDict
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from pager.domain.messages import VoiceScript

from .base import Message, SendResult, retry_after_seconds, short_error

log = structlog.get_logger("pagerd.notify.twilio")

SMS_MAX_CHARS = 1600  # Twilio refuses longer bodies (error 21617)
CALL_STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
# Twilio answers 400 (21211) for anything else; Prism does not check `format: phone-number`.
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
# What the HTTP client saw of the answer to the send in progress (its Retry-After): the SDK's exceptions
# carry no headers. One dict per send(), set in its task's context.
_ANSWER: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("pagerd_twilio_answer")
_TWILIO_HOST = re.compile(r"^https://(?:[A-Za-z0-9-]+\.)*twilio\.com(?=[/?#]|$)")


def basic_auth_header(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


class _BaseUrlHttpClient(AsyncTwilioHttpClient):
    """The SDK's async HTTP client with three changes for a daemon:

    - a real timeout: the SDK passes `timeout=None` per request, which aiohttp reads as "no
      timeout at all"; here every request is bounded by the client's `timeout`;
    - an optional base URL: `https://<any>.twilio.com/<path>` becomes `<api_base>/<path>`;
    - Basic auth sent as a header (aiohttp deprecates its `auth=` argument).
    The aiohttp session is created on first use, inside the running event loop."""

    def __init__(self, *, timeout: float, api_base: str | None = None) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.api_base = api_base.rstrip("/") if api_base else None

    def rewrite(self, url: str) -> str:
        if self.api_base is None:
            return url
        return _TWILIO_HOST.sub(self.api_base, url, count=1)

    async def request(
        self,
        method: str,
        url: str,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        if auth is not None:
            # As a header: aiohttp deprecates its `auth=` argument. The SDK never logs Authorization.
            headers = {**(headers or {}), "Authorization": basic_auth_header(auth[0], auth[1])}
        response = await super().request(
            method,
            self.rewrite(url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout or self.timeout,
            allow_redirects=allow_redirects,
        )
        answer = _ANSWER.get(None)
        if answer is not None and response.headers is not None and response.status_code in (429, 503):
            answer["retry_after"] = retry_after_seconds(
                response.headers.get("Retry-After"), response.headers.get("Date")
            )
        return response

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


class TwilioNotifier:
    """SMS (`channel="sms"`) and voice calls (`channel="voice"`) through Twilio's REST API."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        public_url: str,
        api_base: str | None = None,
        timeout: float = 10.0,
        call_timeout: int = 30,
        channels: frozenset[str] = frozenset({"sms", "voice"}),
    ) -> None:
        unknown = set(channels) - {"sms", "voice"}
        if unknown:
            raise ValueError(f"TwilioNotifier handles sms and voice, not {sorted(unknown)}")
        self.channels: frozenset[str] = frozenset(channels)
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.from_number = from_number
        self.public_url = public_url.rstrip("/")
        self.api_base = api_base or None
        self.timeout = timeout
        self.call_timeout = call_timeout
        self._http = _BaseUrlHttpClient(timeout=timeout, api_base=self.api_base)
        # A non-empty environment without TWILIO_* keys: the SDK reads nothing from os.environ.
        self._client = Client(
            account_sid, auth_token, http_client=self._http, environment={"PAGERD_TWILIO_ISOLATED": "1"}
        )

    def __repr__(self) -> str:
        return (
            f"TwilioNotifier(account_sid={self.account_sid!r}, from_number={self.from_number!r}, "
            f"api_base={self.api_base!r}, channels={sorted(self.channels)})"
        )

    # -- URLs Twilio calls back -------------------------------------------------------------------
    def status_callback(self, msg: Message) -> str:
        return f"{self.public_url}/twilio/status?msg={quote(msg.id, safe='')}"

    def voice_url(self, msg: Message) -> str:
        return f"{self.public_url}/twilio/voice?msg={quote(msg.id, safe='')}"

    # -- sending ----------------------------------------------------------------------------------
    async def send(self, msg: Message) -> SendResult:
        if msg.channel not in self.channels:
            return SendResult(sent=False, recoverable=False, error=f"twilio does not send {msg.channel!r}")
        if not E164.match(msg.to):
            log.warning(
                "twilio_send_failed",
                channel=msg.channel,
                message_id=msg.id,
                incident_id=msg.incident_id,
                recoverable=False,
                error="invalid phone number",
            )
            return SendResult(
                sent=False, recoverable=False, error="invalid phone number (E.164 expected, e.g. +31612345678)"
            )
        answer: dict[str, Any] = {}
        token = _ANSWER.set(answer)
        try:
            # The HTTP client bounds each request; this bounds the whole call as a backstop.
            async with asyncio.timeout(self.timeout + 5):
                if msg.channel == "sms":
                    instance = await self._send_sms(msg)
                else:
                    instance = await self._send_call(msg)
        except Exception as e:
            result = self._classify(e)
            if result.recoverable and answer.get("retry_after") is not None:
                result = dataclasses.replace(result, retry_after=answer["retry_after"])
            log.warning(
                "twilio_send_failed",
                channel=msg.channel,
                message_id=msg.id,
                incident_id=msg.incident_id,
                recoverable=result.recoverable,
                error=result.error,
            )
            return result
        finally:
            _ANSWER.reset(token)
        sid = getattr(instance, "sid", None)
        log.info(
            "twilio_sent",
            channel=msg.channel,
            message_id=msg.id,
            incident_id=msg.incident_id,
            provider_id=sid,
            status=getattr(instance, "status", None),
        )
        return SendResult(sent=True, recoverable=False, provider_id=sid)

    async def _send_sms(self, msg: Message) -> Any:
        if msg.short_code and msg.short_code not in msg.body:
            log.warning("twilio_sms_without_short_code", message_id=msg.id, incident_id=msg.incident_id)
        body = msg.body if len(msg.body) <= SMS_MAX_CHARS else msg.body[: SMS_MAX_CHARS - 1] + "…"
        sender: dict[str, str] = (
            {"messaging_service_sid": self.from_number}
            if self.from_number.startswith("MG")
            else {"from_": self.from_number}
        )
        return await self._client.messages.create_async(
            to=msg.to, body=body, status_callback=self.status_callback(msg), **sender
        )

    async def _send_call(self, msg: Message) -> Any:
        return await self._client.calls.create_async(
            to=msg.to,
            from_=self.from_number,
            url=self.voice_url(msg),
            method="POST",
            status_callback=self.status_callback(msg),
            status_callback_method="POST",
            status_callback_event=list(CALL_STATUS_EVENTS),
            timeout=self.call_timeout,
        )

    def _classify(self, e: BaseException) -> SendResult:
        secrets = (self._auth_token,)
        if isinstance(e, TwilioRestException):
            status = int(e.status or 0)
            code = f" code {e.code}" if e.code and e.code != e.status else ""
            text = f"twilio http {status}{code}: {e.msg}"
            return SendResult(sent=False, recoverable=status == 429 or status >= 500, error=short_error(text, secrets))
        if isinstance(e, TwilioServiceException):
            status = int(getattr(e, "status", 0) or 0)
            text = f"twilio http {status} code {getattr(e, 'code', '')}: {getattr(e, 'title', '')}"
            return SendResult(sent=False, recoverable=status == 429 or status >= 500, error=short_error(text, secrets))
        if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
            return SendResult(sent=False, recoverable=True, error=f"twilio timeout after {self.timeout}s")
        if isinstance(e, (aiohttp.ClientError, OSError)):
            return SendResult(
                sent=False, recoverable=True, error=short_error(f"twilio network: {type(e).__name__}: {e}", secrets)
            )
        if isinstance(e, TwilioException):  # SDK-side misuse, e.g. a non-async http client
            return SendResult(
                sent=False, recoverable=False, error=short_error(f"twilio sdk: {type(e).__name__}: {e}", secrets)
            )
        # A garbled answer (e.g. a proxy's HTML page the SDK cannot parse): try again later.
        return SendResult(
            sent=False, recoverable=True, error=short_error(f"twilio unexpected {type(e).__name__}: {e}", secrets)
        )

    async def close(self) -> None:
        await self._http.close()


# -- TwiML and signatures: pure helpers for the /twilio/* callbacks ------------------------------------
def voice_twiml(script: VoiceScript, gather_url: str) -> str:
    """The call flow (pager.domain.messages.voice_script): say the intro and offer 1 acknowledge,
    2 resolve, 3 escalate; ask twice, then hang up. Every <Say> in the script's language and voice.

    Each <Gather> wraps its <Say>, so a key pressed while the summary is read counts at once."""
    r = VoiceResponse()
    say = {"language": script.language, "voice": script.voice}
    first = r.gather(num_digits=1, action=gather_url, method="POST", timeout=8)
    first.say(script.intro, **say)
    first.say(script.menu, **say)
    again = r.gather(num_digits=1, action=gather_url, method="POST", timeout=8)
    again.say(f"{script.again} {script.intro}", **say)
    again.say(script.menu, **say)
    r.say(script.no_key, **say)
    r.hangup()
    return r.to_xml()


def gather_reply_twiml(text: str, language: str | None = None, voice: str | None = None) -> str:
    """The answer to a <Gather> callback: say `text` (if any; in `language` with `voice` when given) and hang up."""
    r = VoiceResponse()
    if text:
        r.say(text, **({"language": language, "voice": voice} if language and voice else {}))
    r.hangup()
    return r.to_xml()


def sms_reply_twiml(text: str) -> str:
    """The answer to an inbound SMS: reply `text`, or nothing at all when it is empty."""
    r = MessagingResponse()
    if text:
        r.message(text)
    return r.to_xml()


def verify_signature(auth_token: str, url: str, params: Any, signature: str | None) -> bool:
    """Is `signature` (the X-Twilio-Signature header) Twilio's signature of this request?

    `url` is the full URL Twilio requested (scheme, host, path and query as Twilio saw them, i.e.
    under PAGERD_PUBLIC_URL). `params` is the form body: aiohttp's `await request.post()`
    MultiDict (repeated keys kept), any Mapping (list/tuple values are taken as repeated keys),
    or, for a JSON body, the raw body as str/bytes, checked against the URL's `bodySHA256`."""
    if not signature or not auth_token:
        return False
    if isinstance(params, bytes):
        params = params.decode("utf-8", "replace")
    if params is None:
        params = {}
    elif isinstance(params, Mapping) and not hasattr(params, "getall"):
        md: MultiDict[str] = MultiDict()
        for k, v in params.items():
            for item in v if isinstance(v, (list, tuple)) else [v]:
                md.add(str(k), str(item))
        params = md
    if isinstance(params, str) and "bodySHA256=" not in url:
        return False  # a raw body is only signed through its hash in the URL
    try:
        return bool(RequestValidator(auth_token).validate(url, params, signature))
    except (TypeError, ValueError, UnicodeError):
        return False
