"""The configuration as typed, frozen objects. Unknown keys, wrong types and dangling references are errors."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from pager.domain.paging import compile_matcher
from pager.domain.request_targets import AtRisk, check_target, parse_at_risk

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(v: object) -> object:
    if isinstance(v, bool):
        raise ValueError("expected a duration such as 30s, 5m, 1h")
    if isinstance(v, (int, float)):
        if v < 0:
            raise ValueError("duration must not be negative")
        try:
            return timedelta(seconds=v)
        except (OverflowError, ValueError):
            raise ValueError("duration is too long (or not a number)") from None
    if isinstance(v, str):
        m = _DUR.match(v)
        if not m:
            raise ValueError(f"invalid duration {v!r}; expected e.g. 30s, 5m, 1h, 2d")
        try:
            return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
        except OverflowError:
            raise ValueError(f"duration {v[:40]!r} is too long") from None
    if isinstance(v, timedelta):
        return v
    raise ValueError("expected a duration such as 30s, 5m, 1h")


Duration = Annotated[timedelta, BeforeValidator(_duration)]

# What a person id (a key under people) and a target's name are made of: letters, digits, '.', '-', '_'.
# Such an id names its person in escalation targets (person:ID), SMS replies, one-tap links and feed
# URLs (/ical/people/ID.ics) without any escaping.
ID_CHARS = r"[A-Za-z0-9_.-]+"


def _positive(v: timedelta) -> timedelta:
    if v <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return v


def _secret(v: SecretStr) -> SecretStr:
    if len(v.get_secret_value()) < 8:
        raise ValueError("must be at least 8 characters long")
    return v


def _nonempty_secret(v: SecretStr) -> SecretStr:
    if not v.get_secret_value():
        raise ValueError("must not be empty")
    return v


Secret = Annotated[SecretStr, AfterValidator(_secret)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def _listen(v: str) -> str:
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {v!r}")
    return v


class ServerTimeouts(Strict):
    # a request head (request line and headers) must be complete this long after the connection opened
    # or after its first byte on a kept-alive connection
    header: Annotated[Duration, AfterValidator(_positive)] = timedelta(seconds=10)
    # a request body must be complete this long after its head (else 408)
    body: Annotated[Duration, AfterValidator(_positive)] = timedelta(seconds=30)
    # an idle kept-alive connection is closed after this long
    keepalive: Annotated[Duration, AfterValidator(_positive)] = timedelta(seconds=75)


# Listen addresses that take connections on every interface: they name no host others can reach.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})  # noqa: S104 (recognised here, never bound)


def public_url_of(listen: str) -> str:
    """The base URL under which a server listening on `listen` (HOST:PORT) is reached: http://HOST:PORT;
    "" for a wildcard address (0.0.0.0, ::), which names no host."""
    host, _, port = listen.rpartition(":")
    bare = host.strip("[]")
    if bare in WILDCARD_HOSTS:
        return ""
    return f"http://[{bare}]:{port}" if ":" in bare else f"http://{bare}:{port}"


class Server(Strict):
    listen: Annotated[str, BeforeValidator(lambda v: _listen(str(v)))] = "127.0.0.1:8080"
    # empty or absent: follows listen (public_url_of); required when listen is a wildcard address
    # (pager.config._references says so)
    public_url: str = ""
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1024 * 1024)
    access_log: bool = False
    shutdown_timeout: Duration = timedelta(seconds=10)
    timeouts: ServerTimeouts = ServerTimeouts()
    # open connections from one client address; at the cap a new one takes the place of that client's
    # least recently active connection that carries no request (silent, or its head still coming), else
    # it is refused (pager/web/connections.py); 1024: one per request in flight of a busy sender
    max_connections_per_client: int = Field(default=1024, ge=1, le=65536)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @model_validator(mode="before")
    @classmethod
    def _public_url_from_listen(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("public_url") in (None, ""):
            try:
                listen = _listen(str(data.get("listen", cls.model_fields["listen"].default)))
            except ValueError:
                return data  # the listen field reports it
            data = {**data, "public_url": public_url_of(listen)}
        return data

    @field_validator("public_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")


class Logging(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class SqliteStorage(Strict):
    path: str = "var/pagerd.db"
    synchronous: Literal["FULL", "NORMAL"] = "FULL"


MIN_RETENTION = timedelta(days=1)


def _retention(v: timedelta) -> timedelta:
    if v < MIN_RETENTION:
        raise ValueError("must be at least 1d (longer than any source's retry horizon)")
    return v


Retained = Annotated[Duration, AfterValidator(_retention)]


class Retention(Strict):
    """How long raw webhook bodies and delivery idempotency rows are kept (incidents, alerts, their
    timeline and billing data are kept for good)."""

    raw_bodies: Retained = timedelta(days=30)
    delivery_ids: Retained = timedelta(days=30)


class PostgresStorage(Strict):
    # libpq's connection string or URI (postgresql://user@host:port/db); a password belongs in the
    # environment (PGPASSWORD) or ~/.pgpass, not here
    dsn: str = Field(default="postgresql:///pagerd", min_length=1)


class Storage(Strict):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    sqlite: SqliteStorage = SqliteStorage()
    postgres: PostgresStorage = PostgresStorage()
    retention: Retention = Retention()


class BasicAuth(Strict):
    username: str = Field(min_length=1)
    password: Annotated[SecretStr, AfterValidator(_nonempty_secret)]


class SourceAuth(Strict):
    bearer: Secret | None = None
    basic: BasicAuth | None = None


MIN_SIGNING_KEY = 32


def _signing_key(v: SecretStr) -> SecretStr:
    if len(v.get_secret_value()) < MIN_SIGNING_KEY:
        raise ValueError(f"must be at least {MIN_SIGNING_KEY} characters long (e.g. openssl rand -base64 32)")
    return v


SigningKey = Annotated[SecretStr, AfterValidator(_signing_key)]


class Auth(Strict):
    admin_token: Secret
    # signs one-tap links and iCal feed URLs; a secret of its own (never the admin or a webhook token)
    signing_key: SigningKey
    # accepted while a rotation runs (links and feeds they signed keep working), never used to sign
    previous_signing_keys: tuple[SigningKey, ...] = ()


class AlertmanagerSource(Strict):
    enabled: bool = True
    auth: SourceAuth
    dedup_by: Literal["group_key", "fingerprint"] = "group_key"
    strict: bool = True


class NagiosSource(Strict):
    enabled: bool = True
    auth: SourceAuth


class EventsV2Source(Strict):
    enabled: bool = True
    routing_keys: list[Secret] = Field(min_length=1)
    duplicate_window: Duration = timedelta(minutes=5)


class Sources(Strict):
    alertmanager: AlertmanagerSource | None = None
    nagios: NagiosSource | None = None
    events_v2: EventsV2Source | None = None


class Incidents(Strict):
    reopen_window: Duration = timedelta(hours=1)


class Calendar(Strict):
    timezone: str = "Europe/Amsterdam"
    office_days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = ["mon", "tue", "wed", "thu", "fri"]
    office_hours: str = "08:30-18:00"
    weekend_hours: str = "08:30-18:00"
    holiday_country: str = "NL"
    holiday_subdivision: str | None = None
    holidays_exclude: list[str] = []
    holidays_extra: dict[date, str] = {}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("office_hours", "weekend_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$", v):
            raise ValueError(f"expected HH:MM-HH:MM, got {v!r}")
        return v


class Person(Strict):
    name: str = Field(min_length=1)
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    contact_rules: list[ContactRuleConfig] | None = None  # default: paging.contact_rules
    # the language a voice call speaks to them; default: nl when calendar.holiday_country is NL, BE
    # or SR, else en (pager.domain.messages.default_language)
    language: Literal["nl", "en"] | None = None


class ShiftPattern(Strict):
    """When shifts hand off: what a rotation and each of its layers have in common."""

    shift: Duration = timedelta(weeks=1)
    handoff: str = "mon 08:30"
    start: date = date(2026, 1, 5)
    restrict_to: list[Literal["office", "weekend", "evening_night", "holiday", "outside_office"]] = []

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, v: str) -> str:
        if not re.match(r"^((mon|tue|wed|thu|fri|sat|sun) )?([01]\d|2[0-3]):[0-5]\d$", v):
            raise ValueError(f"expected e.g. 'mon 08:30' or '08:30', got {v!r}")
        return v


class LayerConfig(ShiftPattern):
    participants: list[str] = Field(min_length=1)


class RotationConfig(ShiftPattern):
    # either participants (one layer) or layers (a later layer wins where it has someone on call)
    participants: list[str] = []
    layers: list[LayerConfig] = []
    timezone: str | None = None
    # tell the incoming engineer at each hand-off; default: rotations that are not office-only
    handover_notice: bool | None = None


class TwilioConfig(Strict):
    # empty account_sid: no Twilio (sms and voice need notifier.kind: dry_run or notifier.simulate)
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_: str = Field(default="", alias="from")
    api_base: str = ""
    timeout: Duration = timedelta(seconds=10)

    @property
    def enabled(self) -> bool:
        return bool(self.account_sid)


class SmtpConfig(Strict):
    host: str = ""
    port: int = Field(default=25, ge=1, le=65535)
    from_: str = Field(default="pagerd@localhost", alias="from")
    username: str = ""
    password: SecretStr = SecretStr("")
    starttls: bool = False
    ssl: bool = False
    timeout: Duration = timedelta(seconds=10)

    @property
    def enabled(self) -> bool:
        return bool(self.host)


class Notifier(Strict):
    # auto: Twilio for sms/voice, SMTP for email, where configured; a channel a contact rule uses without
    # its provider is a start-up error (pager.config.channels). dry_run: every channel simulated on purpose.
    kind: Literal["auto", "dry_run"] = "auto"
    # with kind auto: channels simulated on purpose although a contact rule may use them (a staging node
    # with SMTP but no Twilio); their messages are recorded as `simulated`
    simulate: list[Literal["sms", "voice", "email"]] = []
    twilio: TwilioConfig = TwilioConfig()
    smtp: SmtpConfig = SmtpConfig()
    max_attempts: int = Field(default=20, ge=1, le=50)
    link_ttl: Duration = timedelta(hours=24)


class ContactRuleConfig(Strict):
    channel: Literal["sms", "voice", "email"]
    after: Duration = timedelta(0)


class ThrottleConfig(Strict):
    max: int = Field(ge=1)
    per: Duration


class StepConfig(Strict):
    targets: list[str] = Field(min_length=1)  # oncall | desk | rotation:NAME | person:ID
    wait: Duration = timedelta(minutes=15)

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        for t in v:
            if t not in ("oncall", "desk") and not re.fullmatch(rf"(rotation|person):{ID_CHARS}", t):
                raise ValueError(f"target {t!r}: expected oncall, desk, rotation:NAME or person:ID")
        return v


class PolicyConfig(Strict):
    steps: list[StepConfig] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=20)


_SEVERITY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


class UrgencyConfig(Strict):
    """Which severities are low urgency: they page in office hours and otherwise wait for the next
    office opening (the desk is e-mailed at once). Every other severity, unknown and missing ones
    included, is high: it pages as coverage says (pager.domain.urgency)."""

    low: list[str] = ["warning", "info"]

    @field_validator("low")
    @classmethod
    def _low(cls, v: list[str]) -> list[str]:
        if len(v) > 32:
            raise ValueError("at most 32 severities")
        for s in v:
            if not isinstance(s, str) or not _SEVERITY.fullmatch(s):
                raise ValueError(f"{str(s)[:64]!r}: a severity is lower-case letters, digits, '_', '.', '-'")
        return v


class ProjectConfig(Strict):
    coverage: Literal["always", "office_hours", "standby"] = "office_hours"
    standby: list[Literal["weekend", "evening_night", "holiday"]] = []
    policy: str = "default"
    # this project's low severities instead of paging.urgency's
    urgency: UrgencyConfig | None = None


def _money(v: object) -> object:
    """A rate as a Decimal: from a string ("95.00") or an int; a float (95.1 in YAML) is refused,
    since its binary value is not the price that was written."""
    if isinstance(v, bool) or isinstance(v, float):
        raise ValueError("expected a decimal amount as a string, e.g. \"95.00\" (quote it in YAML)")
    if isinstance(v, (int, str, Decimal)):
        try:
            d = v if isinstance(v, Decimal) else Decimal(str(v).strip())
        except (InvalidOperation, ValueError):
            raise ValueError(f"not a decimal amount: {v!r}") from None
        if not d.is_finite() or d < 0 or d >= Decimal(10) ** 9:
            raise ValueError(f"expected an amount from 0 to 999999999, got {v!r}")
        return d
    raise ValueError("expected a decimal amount such as \"95.00\"")


Money = Annotated[Decimal, BeforeValidator(_money)]


class TariffConfig(Strict):
    """An override of one period's standby tariff (defaults: DESIGN.md §1, pager.domain.billing)."""

    multiplier: Money | None = None
    minimum: Duration | None = None


class TariffsConfig(Strict):
    weekend: TariffConfig | None = None
    evening_night: TariffConfig | None = None
    holiday: TariffConfig | None = None


def _office_target(v: timedelta) -> timedelta:
    return check_target(v)


def _at_risk(v: object) -> object:
    if isinstance(v, str) and v.strip().endswith("%"):
        return parse_at_risk(v)
    if isinstance(v, AtRisk):
        return v
    return parse_at_risk(_duration(v))


# A request target: office time (pager.domain.request_targets), longer than 0s, at most 2000h.
OfficeTarget = Annotated[Duration, AfterValidator(_office_target)]


class PriorityTargetsConfig(Strict):
    """One request target per priority; an unset priority takes the default's (desk.request_targets,
    else the built-in one)."""

    urgent: OfficeTarget | None = None
    high: OfficeTarget | None = None
    normal: OfficeTarget | None = None
    low: OfficeTarget | None = None


class RequestTargetsConfig(Strict):
    """Request targets in office time: first response and resolution per priority, and when a running
    target turns at risk: "80%" (of the target used) or a duration (office time before the deadline)."""

    first_response: PriorityTargetsConfig = PriorityTargetsConfig()
    resolution: PriorityTargetsConfig = PriorityTargetsConfig()
    at_risk: Annotated[AtRisk, BeforeValidator(_at_risk)] | None = None


class ContactConfig(Strict):
    """A person at a customer: tickets from their addresses or phone are theirs (README: Support desk)."""

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")  # default: customer.N (1-based)
    name: str = Field(min_length=1, max_length=200)
    emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]] = []
    phone: str | None = None  # any form phonenumbers reads; compared in E.164
    language: Literal["nl", "en"] = "nl"


class CustomerPortalConfig(Strict):
    """The customer's contacts in the portal: `all` see every ticket and project of their customer; `own`
    only the tickets they are on (pager.domain.portal.Own)."""

    contacts_see: Literal["all", "own"] = "all"


class CustomerConfig(Strict):
    name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    response_target: Duration = timedelta(minutes=30)
    # support requests: first response and resolution in office time; unset keys: desk.request_targets
    request_targets: RequestTargetsConfig | None = None
    projects: dict[str, ProjectConfig] = Field(min_length=1)
    # billing: the standard hourly rate (no rate: the customer is not billed; statements refuse)
    rate: Money | None = None
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    billing_increment: Duration = timedelta(minutes=15)
    tariffs: TariffsConfig = TariffsConfig()
    # two call-outs within one billed hour: one call-out (merge) or each its own minimum (separate)
    callout_overlap: Literal["merge", "separate"] = "merge"
    # the language of its statements: nl (Dutch, the default: the agency's own market) or en
    language: Literal["nl", "en"] = "nl"
    # the support desk: its contacts, and the mail domains whose senders are this customer's
    contacts: list[ContactConfig] = []
    email_domains: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$", max_length=253)]] = []
    # the project a call to the standby number opens its ticket and incident on (README: The standby number);
    # unset: the customer's first project with coverage standby or always
    standby_project: str | None = None
    portal: CustomerPortalConfig = CustomerPortalConfig()


def _iban(v: str) -> str:
    """An IBAN, spaces allowed, checked by its ISO 13616 mod-97 check digits; stored without spaces."""
    compact = v.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", compact):
        raise ValueError(f"not an IBAN: {v!r}")
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    if int(digits) % 97 != 1:
        raise ValueError(f"IBAN {v!r}: its check digits do not match")
    return compact


def _whole_days(v: timedelta) -> timedelta:
    if v % timedelta(days=1) or not timedelta(0) <= v <= timedelta(days=365):
        raise ValueError("expected whole days from 0d to 365d, e.g. 14d")
    return v


def _percent(v: Decimal) -> Decimal:
    if v > 100:
        raise ValueError("a percentage from 0 to 100, e.g. \"21\"")
    return v


_LINE = Annotated[str, Field(min_length=1, max_length=200)]


class AgencyConfig(Strict):
    """The sender on a customer's statement (its letterhead) and its payment terms."""

    name: _LINE
    address: list[_LINE] = Field(default=[], max_length=6)
    # Kamer van Koophandel (Dutch chamber of commerce) number: 8 digits
    kvk: str | None = Field(default=None, pattern=r"^[0-9]{8}$")
    # VAT identification number (btw-id), e.g. NL123456789B01
    btw: str | None = Field(default=None, pattern=r"^[A-Z]{2}[0-9A-Z]{2,13}$")
    email: Annotated[str, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    iban: Annotated[str, AfterValidator(_iban)] | None = None
    # how long the customer has to pay: the due date is the date of issue plus this
    payment_terms: Annotated[Duration, AfterValidator(_whole_days)] = timedelta(days=14)

    @field_validator("btw")
    @classmethod
    def _dutch_btw(cls, v: str | None) -> str | None:
        if v is not None and v.startswith("NL") and not re.fullmatch(r"NL[0-9]{9}B[0-9]{2}", v):
            raise ValueError(f"a Dutch btw-id is NL, 9 digits, B and 2 digits (NL123456789B01), got {v!r}")
        return v


class BillingConfig(Strict):
    # VAT (btw) in percent, on every statement's subtotal
    vat_rate: Annotated[Money, AfterValidator(_percent)] = Decimal("21")


class RouteConfig(Strict):
    match: dict[str, str] = {}
    match_re: dict[str, str] = {}
    project: str
    # every alert of this route is high (pages as coverage says) or low (waits for office hours),
    # whatever its severity; unset: by severity (the project's urgency, else paging.urgency)
    urgency: Literal["high", "low"] | None = None

    @field_validator("match_re")
    @classmethod
    def _regex(cls, v: dict[str, str]) -> dict[str, str]:
        for k, pattern in v.items():
            try:
                compile_matcher(pattern)
            except ValueError as exc:
                raise ValueError(f"{k}: {exc}") from None
        return v


def _at_least_an_hour(v: timedelta) -> timedelta:
    if v < timedelta(hours=1):
        raise ValueError("at least 1h (a customer needs time to say it is not solved)")
    return v


class DeskConfig(Strict):
    people: list[str] = []
    email: str | None = None
    # the desk's phone number (any form phonenumbers reads): the standby number forwards calls to it in office
    # hours (README: The standby number)
    phone: str | None = Field(default=None, max_length=64)
    # the request targets of every customer without their own (README: Request targets)
    request_targets: RequestTargetsConfig = RequestTargetsConfig()
    # a resolved ticket closes by itself this long after it was resolved (the engine's tickets stage)
    auto_close_after: Annotated[Duration, AfterValidator(_at_least_an_hour)] = timedelta(days=7)
    # the subject tag of a ticket in mail: prefix + number + "]", e.g. "[#1234]" (README: Support desk)
    subject_tag_prefix: str = Field(default="[#", min_length=1, max_length=32, pattern=r"^(\S.*)?[^\s\d]$")
    # a mail to a closed ticket reopens it when the ticket closed at most this long ago; else a new linked ticket
    reopen_closed_within: Annotated[Duration, AfterValidator(_positive)] = timedelta(days=14)


class PagingConfig(Strict):
    # run the paging engine on this node; false: this node only takes webhooks (another node pages)
    engine: bool = True
    office_rotation: str = "office"
    standby_rotation: str = "standby"
    escalate_at: Duration | None = timedelta(minutes=15)
    contact_rules: list[ContactRuleConfig] = [
        ContactRuleConfig(channel="sms"),
        ContactRuleConfig(channel="voice", after=timedelta(minutes=2)),
    ]
    throttles: dict[Literal["sms", "voice", "email"], ThrottleConfig] = {}
    default_project: str = ""
    # severities that wait for office hours (README: Urgency and maintenance windows)
    urgency: UrgencyConfig = UrgencyConfig()
    # /readyz answers 503 when the engine's last good tick (every stage succeeded) is older than this
    engine_stall_after: Annotated[Duration, AfterValidator(_positive)] = timedelta(seconds=30)


class HeartbeatConfig(Strict):
    timeout: Duration = timedelta(minutes=5)
    labels: dict[str, str] = {}


# What a support address is: local@domain, without spaces, angle brackets or quotes (an RCPT TO path)
_ADDRESS = re.compile(r"[^@\s<>\"(),;:\\]{1,64}@[A-Za-z0-9.-]{1,253}")


class OutgoingMailConfig(Strict):
    """Mail to customers about their tickets (README: Outgoing mail). Its SMTP server: `host` and `port`, or,
    with no host, notifier.smtp's server (its port, credentials and TLS)."""

    enabled: bool = False
    host: str = ""
    # default: 25, or notifier.smtp.port with its host ("" from an unset environment variable: the default)
    port: Annotated[int | None, BeforeValidator(lambda v: None if v == "" else v)] = Field(default=None, ge=1, le=65535)
    starttls: bool = False
    timeout: Duration = timedelta(seconds=10)


def _mail_from(v: str | None) -> str | None:
    if v is None:
        return v
    from email.utils import parseaddr

    name, addr = parseaddr(v)
    if not _ADDRESS.fullmatch(addr or "") or any(c in v for c in "\r\n"):
        raise ValueError(f"{v[:80]!r} is not a sender (expected local@domain or Name <local@domain>)")
    return v


class MailConfig(Strict):
    """The mail listener: the agency's MTA hands mail for the support addresses over by LMTP (or SMTP).
    Absent: no listener."""

    enabled: bool = True
    listen: Annotated[str, BeforeValidator(lambda v: _listen(str(v)))] = "127.0.0.1:2424"
    protocol: Literal["lmtp", "smtp"] = "lmtp"
    # RCPT is accepted for these only (compared without regard to case); others get 550 5.1.1. At least one
    # when enabled (pager.config._references)
    addresses: list[str] = Field(default=[], max_length=100)
    # announced with SIZE; a larger message is refused with 552 5.3.4
    max_message_bytes: int = Field(default=26_214_400, ge=65_536, le=104_857_600)
    # sessions open at once; one more is answered 421 4.7.0 and closed (the MTA tries it again later)
    max_connections: int = Field(default=100, ge=1, le=10_000)
    # the sender of mail to customers (and where they answer); default: the first of `addresses`
    from_: Annotated[str | None, AfterValidator(_mail_from)] = Field(default=None, alias="from")
    outgoing: OutgoingMailConfig = OutgoingMailConfig()
    # automatic mail (acknowledgements) to one address: at most auto_mail_limit per auto_mail_per
    auto_mail_limit: int = Field(default=5, ge=1, le=1000)
    auto_mail_per: Annotated[Duration, AfterValidator(_positive)] = timedelta(hours=1)

    @property
    def sender(self) -> str | None:
        """The From of mail to customers: `from`, else the first support address (None: neither)."""
        return self.from_ or (self.addresses[0] if self.addresses else None)

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for a in v:
            if not isinstance(a, str) or not _ADDRESS.fullmatch(a) or ".." in a or a.endswith("."):
                raise ValueError(f"{str(a)[:80]!r} is not an e-mail address (expected local@domain)")
            if a.casefold() in seen:
                raise ValueError(f"{a!r} is listed twice")
            seen.add(a.casefold())
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class TestingConfig(Strict):
    """Test-only: `clock: manual` runs pagerd on a clock that moves only when a test says so (from `start`,
    through POST /api/v1/testing/clock). Refused unless PAGERD_ALLOW_TEST_CLOCK=1 (pager.config.load)."""

    clock: Literal["system", "manual"] = "system"
    start: AwareDatetime | None = None


class Config(Strict):
    server: Server = Server()
    logging: Logging = Logging()
    storage: Storage = Storage()
    auth: Auth
    sources: Sources
    incidents: Incidents = Incidents()
    notifier: Notifier = Notifier()
    calendar: Calendar = Calendar()
    people: dict[str, Person] = {}
    rotations: dict[str, RotationConfig] = {}
    paging: PagingConfig = PagingConfig()
    desk: DeskConfig = DeskConfig()
    customers: dict[str, CustomerConfig] = {}
    # the sender on statements (none: statements carry no letterhead) and the billing defaults
    agency: AgencyConfig | None = None
    billing: BillingConfig = BillingConfig()
    routes: list[RouteConfig] = []
    escalation_policies: dict[str, PolicyConfig] = {}
    heartbeats: dict[str, HeartbeatConfig] = {}
    # the mail listener (none: no listener)
    mail: MailConfig | None = None
    testing: TestingConfig = TestingConfig()
    # where each secret key's value came from: "environment NAME" or "file PATH" (set by pager.config.load;
    # a reload re-reads files, never the environment)
    _secret_origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def secret_origins(self) -> dict[str, str]:
        return self._secret_origins
