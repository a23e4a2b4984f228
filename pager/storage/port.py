"""The storage port: what the service needs from a store, whatever the database.

One Protocol per aggregate (incidents, escalation and outbox, schedule, billing, maintenance, incoming
mail); `Store` is all of them. They answer frozen dataclasses (records), instants as aware UTC datetimes.
tests/contract holds the suite every store must pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol

from pager.domain import response
from pager.domain.alert import Alert, Source
from pager.domain.incident import Group, IngestPolicy, Outcome, State  # noqa: F401  (IngestPolicy: re-exported)
from pager.domain.messages import AlertText

from .codec import iso


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted webhook: its raw body, the alerts parsed from it, and for Alertmanager what the
    notification says of its group (`groupKey`, top-level `status`)."""

    source: Source
    content_type: str
    body: bytes
    alerts: tuple[Alert, ...]
    received_at: datetime
    facts: Mapping[str, Any] = field(default_factory=dict)
    group: Group | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """What one alert of a delivery did, and to which incident (None: orphan or duplicate)."""

    incident_id: int | None
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class IngestResult:
    delivery_id: int
    applied: tuple[Applied, ...]

    @property
    def duplicates(self) -> int:
        return sum(1 for a in self.applied if a.outcome is Outcome.DUPLICATE)

    @property
    def incident_ids(self) -> list[int]:
        return sorted({a.incident_id for a in self.applied if a.incident_id is not None})


@dataclass(frozen=True, slots=True)
class RoutingState:
    """What the route stage decides on, read at once: the bookings and maintenance windows ending after
    an instant, and the overrides (list_bookings, list_maintenance with `ending_after`, list_overrides)."""

    bookings: list[Booking]
    maintenance: list[MaintenanceRecord]
    overrides: list[OverrideRecord]


@dataclass(frozen=True, slots=True)
class EscalationWork:
    """Which of the engine's escalation stages have work at an instant (one read for them all): settled
    incidents whose escalation is still running (stop), steps or held decisions due (steps), deadlines
    passed and not judged (target: breaches), answered rounds not yet observed (target: response times)."""

    settled: bool
    steps: bool
    breaches: bool
    answered: bool


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """The outbox's messages that are due and not yet sent: how many per channel, and the oldest due time."""

    pending: Mapping[str, int]
    oldest_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectionUse:
    """The database connections of one role (writer, reader, lease): how many are open, how many run a query
    or a transaction now (the gauge pagerd_store_connections)."""

    role: str
    open: int
    busy: int


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one retention batch removed."""

    bodies: int  # raw webhook bodies emptied (the delivery's row stays)
    delivery_ids: int  # delivery idempotency rows deleted (a notification re-sent after this is applied again)
    callbacks: int = 0  # Twilio callback ids deleted (pruned with the delivery ids: a replay after this is new)


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


class Unavailable(Exception):
    """The store cannot take a write now and nothing of it was written (the database's disk is full, another
    process held the write lock past the busy timeout, an I/O error): the same write may succeed later.
    `retry_after`: the seconds a sender is told to wait (HTTP 503 Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LeaseLost(Exception):
    """The engine was about to send, or to record a send, after its lease could have passed to another node
    (pager.service.lease; on PostgreSQL also checked inside the transaction that claims or finishes an
    outbox message)."""


# -- records: what the store answers, whatever the database ------------------------------------------


class _Record:
    """A stored row as a frozen dataclass. `to_json()` is what the API and the CLI print: the field
    names and their order are a contract, instants are UTC text with microseconds."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # every record is a dataclass

    def to_json(self) -> dict[str, Any]:
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return json_instant(value)
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, _Record):
        return value.to_json()
    return value


def json_instant(at: datetime | None) -> str | None:
    """An instant as records answer it in JSON: 2026-11-25T14:00:00.000000Z."""
    return iso(at)


@dataclass(frozen=True, slots=True)
class Incident(_Record):
    """An incident as listed: one per source and dedup key at a time (a reopen keeps its id)."""

    id: int
    source: str
    dedup_key: str
    state: str
    summary: str
    severity: str
    labels: Mapping[str, str]
    alert_count: int
    reopen_count: int
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None


@dataclass(frozen=True, slots=True)
class IncidentAlert(_Record):
    """One alert (by fingerprint) of an incident, as its latest notification left it."""

    fingerprint: str
    status: str  # firing, resolved
    summary: str
    severity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, Any]
    details: Mapping[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class TimelineEvent(_Record):
    """One entry of an incident's timeline; `data` depends on the kind (opened, paged, note, ...)."""

    at: datetime
    kind: str
    actor: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class IncidentDetail(Incident):
    """An incident with its alerts (in the order first seen) and its timeline (in the order written)."""

    alerts: tuple[IncidentAlert, ...] = ()
    timeline: tuple[TimelineEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class OverrideRequest(_Record):
    """A swap or override request: `person` on call for `rotation` from `start` to `end` instead of
    `replaces`, asked by `requested_by`; `status` pending, confirmed (then `override_id` is the override
    made) or declined."""

    id: int
    rotation: str
    start: datetime
    end: datetime
    person: str
    replaces: str | None
    note: str | None
    requested_by: str
    created_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    override_id: int | None


@dataclass(frozen=True, slots=True)
class OverrideRecord(_Record):
    """A rotation override as stored (pager.service.schedule.overrides_from makes the domain's
    Override of it); removed ones are kept with who removed them and when."""

    id: int
    rotation: str
    start: datetime
    end: datetime
    person: str
    replaces: str | None
    created_by: str
    created_at: datetime
    removed_by: str | None
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Booking(_Record):
    """A customer's dated standby booking [start, end); cancelled ones are kept."""

    id: int
    customer: str
    start: datetime
    end: datetime
    created_by: str
    created_at: datetime
    cancelled_by: str | None
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class WorkEntry(_Record):
    """Time logged on an incident: `minutes`, and the span it came from when one was given."""

    id: int
    incident_id: int
    person: str
    start: datetime | None
    end: datetime | None
    minutes: int
    note: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedStatement(_Record):
    """The number of a customer's statement for a month (YYYY-MM), and when it was issued."""

    customer: str
    month: str
    number: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class StandbyRequest(_Record):
    """A customer's request for standby [start, end) (pager.domain.standby_request): pending until the desk
    confirms it (`booking_id`: the booking it became) or declines it, or the customer withdraws it.
    `quote_total` and `currency`: the quote the customer saw before sending (None without one)."""

    id: int
    customer: str
    start: datetime
    end: datetime
    note: str | None
    quote_total: str | None
    currency: str | None
    status: str  # pending, confirmed, declined, withdrawn
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    booking_id: int | None


def work_minutes(start: datetime | None, end: datetime | None, minutes: int | None) -> int:
    """The minutes of a time entry: `minutes`, or the span [start, end) rounded up to whole minutes.
    ValueError unless exactly one of the two forms is given, and given well."""
    if (minutes is None) == (start is None or end is None) or (start is None) != (end is None):
        raise ValueError("give either minutes or start and end")
    if minutes is not None:
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ValueError("minutes must be a positive integer")
        return minutes
    assert start is not None and end is not None
    if end <= start:
        raise ValueError("end must be after start")
    return max(1, -(-int((end - start).total_seconds()) // 60))


@dataclass(frozen=True, slots=True)
class CustomerIncident(_Record):
    """What a statement needs of one of a customer's incidents: its first escalation in the range
    (project, first page, deadline, breach), the incident's acknowledgement and resolution (as they
    stand now) and the time logged on it."""

    incident_id: int
    generation: int
    project: str
    rotation: str | None
    first_page_at: datetime | None
    deadline_at: datetime | None
    breached_at: datetime | None
    target_seconds: int
    created_at: datetime
    summary: str
    state: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    work: tuple[WorkEntry, ...]
    rounds: tuple[response.Round, ...] = ()  # its escalation rounds in the range, in order


@dataclass(frozen=True, slots=True)
class UnroutedIncident(_Record):
    """A triggered incident whose current round (generation = its reopen count) has no escalation yet."""

    id: int
    generation: int
    labels: Mapping[str, str]
    summary: str
    source: str
    severity: str
    dedup_key: str


@dataclass(frozen=True, slots=True)
class Escalation(_Record):
    """An escalation (one per incident and round) due for its next step, with what the step needs of
    its incident (state, summary, labels). `step` is the last step fired (-1: none yet)."""

    incident_id: int
    generation: int
    project: str
    rotation: str | None
    policy: Mapping[str, Any]  # the policy's snapshot taken at routing (pager.domain.paging.Policy.to_json)
    status: str  # active, waiting (for the desk's notice), done, stopped
    step: int
    next_at: datetime | None
    first_page_at: datetime | None
    deadline_at: datetime | None
    escalate_at: datetime | None
    escalated_early: bool
    breached_at: datetime | None
    target_seconds: int
    reason: str
    created_at: datetime
    state: str
    summary: str
    labels: Mapping[str, str]
    # a waiting escalation's hold: None (the desk's notice is due at next_at), "urgency" (low urgency:
    # paged at next_at, the office opening) or "maintenance" (held by window maintenance_id until next_at)
    hold: str | None = None
    maintenance_id: int | None = None
    severity: str = ""  # the incident's severity the routing decision was taken on
    incident_severity: str = ""  # the incident's severity now


@dataclass(frozen=True, slots=True)
class MaintenanceRecord(_Record):
    """A maintenance window as stored: its scope (exactly one of customer, project, match), [start, end),
    why and by whom; removed ones are kept with who removed them and when."""

    id: int
    customer: str | None
    project: str | None
    match: Mapping[str, str]
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime
    removed_by: str | None
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Breach(_Record):
    """A round whose response target was missed, as record_breaches recorded it."""

    incident_id: int
    round: int  # 1 for the opening, 2 for the first reopen, ...
    deadline: datetime


@dataclass(frozen=True, slots=True)
class RoundRow(_Record):
    """One escalation of an incident as its response record shows it: the round, and what the
    escalation shows besides."""

    round: response.Round
    project: str
    rotation: str | None
    reason: str
    escalation: str  # the escalation's status
    step: int
    breached_at: datetime | None
    next_at: datetime | None  # when the engine acts on it next (its next step, or the desk's notice)
    policy: Mapping[str, Any]  # the policy's snapshot taken at routing (pager.domain.paging.Policy.to_json)
    hold: str | None = None  # a waiting round held: "urgency" (until the office opening), "maintenance"
    maintenance_id: int | None = None  # the window that holds it (hold "maintenance")


@dataclass(frozen=True, slots=True)
class DueMessage(_Record):
    """A pending message of the outbox that is due, with what a bundle needs of its incident (none for
    a notice of its own, a hand-over say: incident_id, state, summary and project are then None)."""

    id: int
    incident_id: int | None
    person: str | None
    channel: str
    address: str
    kind: str  # page, desk, handover
    subject: str
    body: str
    attempts: int
    due_at: datetime
    state: str | None
    summary: str | None
    project: str | None  # of the incident's latest escalation
    generation: int | None  # the round whose escalation queued it (None: no incident)
    alert_count: int | None = None  # of its incident: more than one, and the page summarises the group


@dataclass(frozen=True, slots=True)
class AlertTexts(_Record):
    """What a page says about an incident is made of (pager.domain.messages.incident_summary): its own
    summary and its alerts' summaries, labels and whether each still fires, in the order they came."""

    summary: str
    alerts: tuple[AlertText, ...]


@dataclass(frozen=True, slots=True)
class OutboxMessage(_Record):
    """A message of the outbox; `carrier` is the message it went out in (itself unless bundled) and
    `incident_ids` the incidents of that whole bundle."""

    id: int
    incident_id: int | None
    person: str | None
    channel: str
    address: str
    kind: str
    body: str
    status: str  # pending, sending, sent, bundled, failed, cancelled
    carrier: int
    incident_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RoundsPaged(_Record):
    """Which rounds of an incident reached one person (rounds are generations: 0 for the incident's opening,
    n after its n-th reopen), and the incident's current round (its reopen count)."""

    incident_id: int
    current: int
    rounds: tuple[int, ...]  # in order; empty: the incident never reached the person


@dataclass(frozen=True, slots=True)
class CallbackClaim(_Record):
    """A Twilio callback as claim_callback found it. `first`: this call claimed it, so the caller applies
    it and then stores its answer (answer_callback). Otherwise it was claimed before (a retry or a
    replay): it changes nothing, and `reply` is the answer given the first time (None while the first
    one is still being applied, or when applying it failed)."""

    first: bool
    reply: str | None


# What a stored mail is waiting for or became (one place: the store refuses any other status):
# pending      stored, not yet processed
# ticket       a new ticket was filed from it (a linked one when it answered a ticket it may not reach)
# reply        added to an existing ticket as the customer's reply
# auto_reply   an automatic answer (out of office) kept on its ticket, the ticket's status unchanged
# bounce       a delivery-status report recorded on the ticket whose mail bounced
# loop         mail from pagerd's own support address: kept, nothing filed (it would loop)
# refused      kept, nothing filed, for the reason given (an automatic mail or bounce that matches no ticket)
# unparseable  the bytes are no mail pagerd can read: kept raw with the reason, listed for the desk
MAIL_STATUSES = ("pending", "ticket", "reply", "auto_reply", "bounce", "loop", "refused", "unparseable")


@dataclass(frozen=True, slots=True)
class MailRecord(_Record):
    """One stored incoming mail without its bytes: `message_id` as its header says it (None when it has
    none), `sha256` of its raw bytes, `envelope_from` '' for the null reverse-path (a bounce)."""

    id: int
    message_id: str | None
    sha256: str
    envelope_from: str
    recipients: tuple[str, ...]
    size: int
    received_at: datetime
    status: str
    reason: str | None
    updated_at: datetime
    ticket: int | None = None  # the ticket it was filed on (None while pending, or when nothing was filed)


@dataclass(frozen=True, slots=True)
class MailFiling:
    """What processing one mail does, applied by MailStore.file_mail in one transaction with marking it.

    - `new` set: a new request ticket (via email) with `text` as its first entry; `linked_to` names the
      ticket it answered but could not reach (a `linked` entry goes on both).
    - `number` set, `entry` "reply": the customer's public reply (moves waiting_on_customer/resolved to open);
      with `reopen` a closed ticket is opened first (a mail within desk.reopen_closed_within).
    - `number` set, `entry` "auto_reply" or "bounce": an internal entry, the status unchanged.
    - neither: the mail is only marked.
    Every entry's data carries `mail_id`, `message_id` and `may_autoreply`; `message_ids` are recorded as
    the ticket's incoming Message-IDs (threading)."""

    status: str
    reason: str | None = None
    new: NewMailTicket | None = None
    number: int | None = None
    entry: str | None = None  # reply, auto_reply, bounce
    reopen: bool = False
    linked_to: int | None = None
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewMailTicket:
    subject: str
    customer: str | None
    project: str | None
    requester: Requester


@dataclass(frozen=True, slots=True)
class StoredMail:
    """A stored mail and its raw bytes, exactly as the MTA handed them over."""

    record: MailRecord
    raw: bytes


@dataclass(frozen=True, slots=True)
class TargetFact(_Record):
    """A request target that turned at risk or breached (pager.domain.request_targets.Reached):
    `target` first_response or resolution, `fact` at_risk or breached, `due` the instant it did."""

    target: str
    fact: str
    due: datetime


# -- the support desk: tickets and contacts ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requester(_Record):
    """Who asked: a contact (its id, when known) as the ticket was filed."""

    contact: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Ticket(_Record):
    """A ticket as listed: a request, or an incident (its number is the incident's id)."""

    number: int
    kind: str  # request, incident
    status: str  # new, open, waiting_on_customer, resolved, closed (pager.domain.ticket.Status)
    priority: str  # low, normal, high, urgent
    project: str | None  # customer/project; None: triage
    customer: str | None
    requester: Requester
    assignee: str | None
    watchers: tuple[str, ...]
    subject: str
    via: str  # phone, email, api, alert
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


# The timeline entry kinds a request's targets are judged from (pager.service.targets.ticket_events): the
# replies, the notes and the status moves. TicketStore.ticket_target_entries reads only these.
TARGET_ENTRY_KINDS = ("reply", "note", "status")


@dataclass(frozen=True, slots=True)
class TicketEntry(_Record):
    """One entry of a ticket's timeline. `public`: the customer may see it; an internal one never leaves."""

    at: datetime
    kind: str
    actor: str | None
    public: bool
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Attachment(_Record):
    """An attachment's metadata (its content is kept by its sha256)."""

    name: str
    type: str
    size: int
    sha256: str
    public: bool = True


@dataclass(frozen=True, slots=True)
class TicketTime(_Record):
    """A typed time entry: covered, billable or callout (pager.domain.ticket.TimeKind)."""

    id: int
    kind: str
    minutes: int
    by: str
    note: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CustomerTicketTime(TicketTime):
    """A time entry with its ticket's number and subject (what a customer's statement lists)."""

    number: int
    subject: str


@dataclass(frozen=True, slots=True)
class RequestedBy:
    """A ticket query limited to one requester (a contact who sees only the tickets it is on): tickets
    whose requester contact is one of `contacts`, or whose requester address is `email` (lower case)."""

    email: str
    contacts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketDetail(Ticket):
    """A ticket with its timeline (the desk's entries and, for an incident, its events, by time), its
    attachments and its time entries."""

    timeline: tuple[TicketEntry, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    time: tuple[TicketTime, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactRecord(_Record):
    """A contact the desk made at runtime (configured contacts are in the config)."""

    id: str
    customer: str
    name: str
    emails: tuple[str, ...]
    phone: str | None
    language: str
    created_by: str
    created_at: datetime


# -- the standby number ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HotlineCall(_Record):
    """A call to the standby number (pager.domain.hotline decided its `action` at the call)."""

    call_sid: str
    caller: str | None  # E.164; None: withheld
    contact: str | None
    customer: str | None
    project: str | None  # customer/project; None: triage
    action: str  # forward, standby, voicemail
    language: str  # nl, en: what the caller hears
    reason: str
    ticket: int | None
    outcome: str  # forwarded, ringing, answered, voicemail, no_answer
    answered_by: str | None
    answered_at: datetime | None
    recording_url: str | None
    recording_seconds: int | None
    reply: str | None  # the TwiML the call was answered with first
    started_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HotlineStep(_Record):
    """An escalation step a standby call dialled: the people rung and how the <Dial> ended."""

    step: int
    people: tuple[str, ...]
    status: str | None  # Twilio's DialCallStatus; None while it rings
    dialled_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class HotlineIncident:
    """A standby call's incident: the ticket paged at the call, its escalation's first step fired then
    (so the response target starts at the call), as the engine would have routed and fired it. The
    incident's number is the ticket's, known only in the store's transaction: the store sets the label
    `ticket` to it and keys each message by it (an idem_key starts with the incident id, then `:`)."""

    labels: Mapping[str, str]
    severity: str
    rotation: str | None
    policy: dict[str, Any]
    target_seconds: int
    reason: str
    deadline: datetime
    escalate_at: datetime | None
    next_at: datetime | None  # the next step (None: the policy has no other)
    early: bool
    people: tuple[str, ...]
    notes: tuple[str, ...]
    messages: list[dict[str, Any]]  # the first step's pages, as fire_step queues them
    booking: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """What a delivery report changed: the messages it covers (the carrier and its bundle) and how many
    next contacts it made due now (a failed delivery)."""

    rows: int
    advanced: int


# -- mail to customers (pager/service/customer_mail.py) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketChange(_Record):
    """One timeline entry of a ticket (the desk's own entries, by id), as the outgoing-mail stage reads them."""

    id: int
    number: int
    kind: str
    public: bool
    actor: str | None
    at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CustomerMailOut(_Record):
    """A customer mail to queue: the outbox message (kind `customer`, channel email, once per `idem_key`) and
    what it carries besides its text: the HTML alternative and its headers (Message-IDs without brackets)."""

    idem_key: str
    number: int
    entry_id: int
    kind: str  # acknowledgement, reply, status
    address: str
    person: str | None
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    auto_submitted: str | None
    language: str


@dataclass(frozen=True, slots=True)
class WithheldMail(_Record):
    """A customer mail the rules kept back: an internal `mail_withheld` entry on its ticket."""

    number: int
    entry_id: int
    kind: str
    address: str
    why: str


@dataclass(frozen=True, slots=True)
class CustomerMailDue(_Record):
    """A queued customer mail that is due: its outbox message and its headers."""

    id: int  # the outbox message's id
    number: int
    kind: str
    address: str
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    auto_submitted: str | None
    language: str
    attempts: int


# -- the port, per aggregate ----------------------------------------------------------------------------
# Every method here has a test in tests/contract (or is listed there as pending), which any store
# must pass unchanged.


class IncidentStore(Protocol):
    """Incidents and their alerts: webhook ingest, manual transitions, notes, reads."""

    async def ingest(self, delivery: Delivery) -> IngestResult: ...
    async def transition(
        self, incident_id: int, target: State, *, actor: str, via: str, comment: str | None, now: datetime
    ) -> IncidentDetail: ...
    async def add_note(self, incident_id: int, *, actor: str, text: str, now: datetime) -> IncidentDetail: ...
    async def list_incidents(
        self,
        *,
        state: str | None = None,
        source: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Incident]: ...
    async def get_incident(self, incident_id: int) -> IncidentDetail | None: ...
    async def count_by_state(self) -> dict[str, int]: ...
    # retention of what ingest keeps for idempotency and audit: one bounded batch (at most `limit` rows
    # of each kind, the oldest first), and when a retention run last finished
    async def prune(self, before_raw: datetime, before_ids: datetime, limit: int) -> Pruned: ...
    async def pruned_at(self) -> datetime | None: ...
    async def mark_pruned(self, at: datetime) -> None: ...


class EscalationStore(Protocol):
    """The paging engine's state: escalations, the outbox of messages, heartbeats."""

    async def unrouted_incidents(self, limit: int = 500) -> list[UnroutedIncident]: ...
    async def create_escalation(
        self,
        *,
        incident_id: int,
        generation: int,
        project: str,
        rotation: str | None,
        policy: dict[str, Any],
        status: str,
        next_at: datetime | None,
        target_seconds: int,
        reason: str,
        now: datetime,
        booking: dict[str, Any] | None = None,
        hold: str | None = None,
        maintenance_id: int | None = None,
        severity: str = "",
        messages: list[dict[str, Any]] | None = None,
        first_step: dict[str, Any] | None = None,
    ) -> bool:
        """The incident's escalation for its round, with a `routed` event (and `messages` queued, e.g. the
        desk's e-mail of a deferred incident), in one transaction; False (nothing written) when it exists
        already or the incident is no longer triggered. `first_step`: the keywords of `fire_step` but the
        incident, generation and `now` (an incident that pages at once): that step too, in the same
        transaction, as `fire_step` right after would write it."""
        ...

    async def create_escalations(self, escalations: list[dict[str, Any]], now: datetime) -> list[bool]:
        """create_escalation for each of `escalations` (its keywords but `now`), in order, in one
        transaction; what each returned. A tick's route stage writes its escalations so: on PostgreSQL its
        outbox rows and timeline entries go in a few statements."""
        ...

    async def routing_state(self, now: datetime) -> RoutingState:
        """In one read: list_bookings(ending_after=now), list_maintenance(ending_after=now), list_overrides()."""
        ...

    async def escalation_work(self, now: datetime) -> EscalationWork:
        """In one read, whether stop_settled, due_escalations, record_breaches and unobserved_responses
        would find anything at `now` (each by its own condition)."""
        ...

    async def due_escalations(self, now: datetime, limit: int = 500) -> list[Escalation]:
        """Active and waiting escalations whose next_at has come, and those waiting for the office opening
        (hold "urgency") whose incident's severity is no longer the one they were decided on."""
        ...

    async def reroute_escalation(
        self,
        *,
        incident_id: int,
        generation: int,
        rotation: str | None,
        status: str,
        next_at: datetime | None,
        hold: str | None,
        maintenance_id: int | None,
        severity: str,
        reason: str,
        messages: list[dict[str, Any]],
        event: dict[str, Any],
        now: datetime,
    ) -> bool:
        """A held or deferred escalation (waiting, with a hold, no step fired) decided again: its new
        rotation, status, next_at, hold and reason, `messages` queued and `event` on the timeline, in one
        transaction. False (nothing written) when it is no longer such an escalation; when its incident is
        no longer triggered, the escalation is stopped instead."""
        ...

    async def fire_step(
        self,
        *,
        incident_id: int,
        generation: int,
        k: int,
        next_at: datetime | None,
        messages: list[dict[str, Any]],
        now: datetime,
        first_page: bool,
        deadline: datetime | None,
        escalate_at: datetime | None,
        early: bool,
        event: dict[str, Any],
        final_status: str | None,
    ) -> bool: ...
    async def stop_settled(self, now: datetime) -> list[int]: ...
    async def record_breaches(self, now: datetime) -> list[Breach]: ...
    async def unobserved_responses(self) -> list[response.Round]: ...
    async def rounds_of(self, incident_id: int) -> list[RoundRow]: ...
    async def escalate_now(self, incident_id: int, *, actor: str, via: str, now: datetime) -> None: ...
    async def queue_message(
        self,
        *,
        idem_key: str,
        person: str | None,
        channel: str,
        address: str,
        kind: str,
        subject: str,
        body: str,
        due_at: datetime,
        now: datetime,
    ) -> bool: ...
    async def due_messages(self, now: datetime, limit: int = 2000) -> list[DueMessage]: ...
    async def alert_texts(self, incident_ids: Sequence[int]) -> dict[int, AlertTexts]:
        """For each of the incidents (unknown ids left out), what its pages say it is about: one read for
        a tick's bundles, instead of each incident's whole detail."""
        ...

    async def defer(self, ids: list[int], until: datetime) -> int: ...
    async def sent_since(self, address: str, channel: str, since: datetime) -> list[datetime]: ...
    async def claim_messages(self, carrier: int, ids: list[int], body: str, now: datetime) -> bool: ...
    # sent and simulated (the dry-run notifier): status `simulated`, which throttles and bundles as `sent`
    async def finish_message(
        self,
        carrier: int,
        *,
        sent: bool,
        provider_id: str | None,
        error: str | None,
        retry_at: datetime | None,
        now: datetime,
        simulated: bool = False,
    ) -> None:
        """The result of the send of `carrier` (claimed: `sending`; or `pending` again after recover_sending
        and not claimed since: the send did happen), recorded once: a message whose result is recorded
        already (sent, simulated, failed) or that was cancelled is left as it is."""
        ...

    async def recover_sending(self, now: datetime) -> int: ...
    async def message(self, message_id: int) -> OutboxMessage | None: ...
    async def last_message_to(self, address: str) -> OutboxMessage | None:
        """The newest page (an SMS or call of an incident) sent to this address, as its bundle went out."""
        ...

    async def open_incidents_paged_to(self, address: str) -> list[int]: ...

    async def rounds_paged(self, person: str, incident_ids: list[int]) -> list[RoundsPaged]:
        """For each of the incidents that exist (in id order), its current round and the rounds in which its
        escalation reached the person (queued a page or a desk notice to them, sent or not)."""
        ...

    # Twilio callbacks, applied once each: (kind, key) is what makes a replay identical
    async def claim_callback(self, kind: str, key: str, now: datetime) -> CallbackClaim: ...
    async def answer_callback(self, kind: str, key: str, reply: str) -> None:
        """The answer a claimed callback was given (what a replay of it is answered)."""
        ...

    async def delivery_update(self, message_id: int, status: str, *, failed: bool, now: datetime) -> DeliveryUpdate: ...
    async def beat(self, name: str, source: str, now: datetime) -> None: ...
    async def heartbeats(self) -> dict[str, datetime]: ...  # the last check-in of each heartbeat name
    # what /metrics reads at scrape time
    async def outbox_backlog(self, now: datetime) -> OutboxBacklog: ...


class ScheduleStore(Protocol):
    """Rotation overrides and the hand-over notices given."""

    async def add_override(
        self,
        *,
        rotation: str,
        start: datetime,
        end: datetime,
        person: str,
        replaces: str | None,
        created_by: str,
        now: datetime,
    ) -> OverrideRecord:
        """Conflict when it does not end after it starts."""
        ...

    async def list_overrides(
        self, rotation: str | None = None, *, include_removed: bool = False
    ) -> list[OverrideRecord]:
        """By start, then id; removed ones only with include_removed."""
        ...

    async def remove_override(self, override_id: int, *, removed_by: str, now: datetime) -> OverrideRecord:
        """NotFound for an unknown id; removing it again keeps the first removal."""
        ...

    async def claim_handover(self, rotation: str, shift_start: datetime, person: str, now: datetime) -> bool:
        """True exactly once per (rotation, shift start): the caller then gives the notice."""
        ...

    async def add_override_request(
        self,
        *,
        rotation: str,
        start: datetime,
        end: datetime,
        person: str,
        replaces: str | None,
        note: str | None,
        requested_by: str,
        now: datetime,
    ) -> OverrideRequest:
        """A pending request; Conflict when it does not end after it starts."""
        ...

    async def list_override_requests(self, *, status: str | None = None, limit: int = 100) -> list[OverrideRequest]:
        """Newest first; only those of `status` when given."""
        ...

    async def decide_override_request(
        self, request_id: int, *, confirm: bool, decided_by: str, now: datetime
    ) -> OverrideRequest:
        """Confirms (making its override, in the same transaction) or declines a pending request. NotFound
        for an unknown id; Conflict when it was decided before (nothing changes)."""
        ...


class BillingStore(Protocol):
    """Standby bookings, time logged on incidents, and what a statement reads of a customer's incidents."""

    async def add_booking(
        self, *, customer: str, start: datetime, end: datetime, created_by: str, now: datetime
    ) -> Booking:
        """Conflict when it does not end after it starts."""
        ...

    async def list_bookings(
        self, customer: str | None = None, *, include_cancelled: bool = False, ending_after: datetime | None = None
    ) -> list[Booking]:
        """By start, then id; cancelled ones only with include_cancelled; with ending_after only those
        still running or to come at that instant."""
        ...

    async def cancel_booking(self, booking_id: int, *, by: str, now: datetime) -> Booking:
        """NotFound for an unknown id; cancelling it again keeps the first cancellation."""
        ...

    async def add_work(
        self,
        incident_id: int,
        *,
        person: str,
        start: datetime | None = None,
        end: datetime | None = None,
        minutes: int | None = None,
        note: str | None = None,
        by: str,
        now: datetime,
    ) -> WorkEntry:
        """Minutes as `work_minutes` says (ValueError otherwise); NotFound for an unknown incident. Adds a
        work_logged event to the incident's timeline."""
        ...

    async def list_work(self, incident_id: int) -> list[WorkEntry]:
        """In the order logged; none (also for an unknown incident): []."""
        ...

    async def issue_statement(self, customer: str, month: str, *, now: datetime) -> IssuedStatement:
        """The number of `customer`'s statement for `month` ("YYYY-MM"): issued the first time, as the
        month's next number "YYYY-MM-NNNN" (0001 first, no gaps) stamped `now`; the same record every
        time after (a later `now` changes nothing). ValueError for a month that is not YYYY-MM."""
        ...

    async def customer_incidents(self, project_prefix: str, start: datetime, end: datetime) -> list[CustomerIncident]:
        """The incidents routed to projects starting with `project_prefix` (taken literally) whose
        escalation was paged (first_page_at) or, never paged, routed (created_at) in [start, end): one
        per incident (its first escalation in the range), in the order of those instants."""
        ...


class MaintenanceStore(Protocol):
    """Maintenance windows."""

    async def add_maintenance(
        self,
        *,
        customer: str | None,
        project: str | None,
        match: Mapping[str, str],
        start: datetime,
        end: datetime,
        reason: str,
        created_by: str,
        now: datetime,
    ) -> MaintenanceRecord:
        """Conflict when it does not end after it starts, or its scope is not exactly one of customer,
        project and match."""
        ...

    async def list_maintenance(
        self, customer: str | None = None, *, include_removed: bool = False, ending_after: datetime | None = None
    ) -> list[MaintenanceRecord]:
        """By start, then id; with `customer`, that customer's windows (its own and its projects'); removed
        ones only with include_removed; with ending_after only those still running or to come then."""
        ...

    async def get_maintenance(self, window_id: int) -> MaintenanceRecord | None: ...

    async def remove_maintenance(self, window_id: int, *, removed_by: str, now: datetime) -> MaintenanceRecord:
        """NotFound for an unknown id; removing it again keeps the first removal. The escalations it holds
        become due at once (the engine decides them again)."""
        ...


class MailStore(Protocol):
    """Incoming mail, stored raw before the listener accepts it."""

    async def receive_mail(
        self,
        *,
        message_id: str | None,
        envelope_from: str,
        recipients: Sequence[str],
        raw: bytes,
        received_at: datetime,
    ) -> tuple[int, bool]:
        """Store a message durably (committed when this returns): (its id, True), status `pending`. The same
        message again (the same `message_id`; without one, the same bytes) stores nothing: (the stored
        one's id, False)."""
        ...

    async def list_mail(
        self, status: str | None = None, *, limit: int = 100, after_id: int | None = None
    ) -> list[MailRecord]:
        """By id (oldest first); with `status` only those; with `after_id` only those after it."""
        ...

    async def get_mail(self, mail_id: int) -> StoredMail | None: ...

    async def mark_mail(self, mail_id: int, status: str, *, reason: str | None, now: datetime) -> MailRecord:
        """Set its status (one of MAIL_STATUSES, else ValueError) and the reason; NotFound for an unknown id."""
        ...

    async def mail_ticket(self, message_ids: Sequence[str]) -> int | None:
        """The ticket one of these Message-IDs (without angle brackets) belongs to: the first one listed
        that is known wins; None when none is."""
        ...

    async def file_mail(self, mail_id: int, filing: MailFiling, *, now: datetime) -> MailRecord:
        """Apply `filing` (a new ticket, or an entry on one) and mark the mail with its status, in one
        transaction. A mail no longer `pending` is left as it is (processing it again makes nothing twice).
        NotFound for an unknown mail or ticket; ValueError for an unknown status or entry."""
        ...


class TicketStore(Protocol):
    """The support desk's tickets (requests and incidents, one numbered series) and runtime contacts."""

    async def create_ticket(
        self,
        *,
        subject: str,
        body: str,
        via: str,
        customer: str | None,
        project: str | None,
        requester: Requester,
        priority: str,
        assignee: str | None,
        watchers: tuple[str, ...],
        attachments: tuple[Attachment, ...],
        actor: str,
        now: datetime,
    ) -> TicketDetail:
        """A new request, numbered after every ticket and incident so far; `body` is its first public
        entry (kind `created`)."""
        ...

    async def get_ticket(self, number: int) -> TicketDetail | None: ...

    async def get_tickets(self, numbers: Sequence[int]) -> list[TicketDetail]:
        """The tickets of `numbers` as get_ticket answers each, in that order, in one read; a number
        without a ticket is left out."""
        ...

    async def ticket_target_entries(self, numbers: Sequence[int]) -> dict[int, tuple[TicketEntry, ...]]:
        """For each of `numbers` that is a request: the entries of its timeline whose kind is in
        TARGET_ENTRY_KINDS (what its request targets are judged from), in the order get_ticket's timeline
        has them; in one read. A request without such entries maps to (); an incident or a number without
        a ticket is left out."""
        ...

    async def list_tickets(
        self,
        *,
        status: str | None = None,
        project: str | None = None,
        customer: str | None = None,
        triage: bool = False,
        q: str | None = None,
        limit: int = 100,
        before: int | None = None,
        assignee: str | None = None,
        requested_by: RequestedBy | None = None,
    ) -> list[Ticket]:
        """Newest first (by number); `triage`: those without a project; `assignee`: those assigned to
        that person (`none`: to nobody); `requested_by`: those of that requester; `q`: full-text search over
        subjects, replies and notes (every word must occur; taken literally, never as query syntax; an
        incident's subject once index_tickets took it);
        `before`: numbers below it (the next page)."""
        ...

    async def add_ticket_reply(
        self,
        number: int,
        *,
        actor: str,
        text: str,
        from_customer: bool,
        via: str,
        attachments: tuple[Attachment, ...],
        now: datetime,
    ) -> TicketDetail:
        """A public reply; one from the customer moves the ticket per pager.domain.ticket.after_customer_reply.
        NotFound for an unknown number; Conflict on a closed ticket."""
        ...

    async def add_ticket_note(self, number: int, *, actor: str, text: str, now: datetime) -> TicketDetail:
        """An internal note (never public). NotFound for an unknown number."""
        ...

    async def update_ticket(
        self, number: int, changes: Mapping[str, Any], *, actor: str, now: datetime
    ) -> TicketDetail:
        """Changes any of status, priority, assignee, project (with customer), watchers, subject; each change
        is a timeline entry. A status move the domain's table refuses: Conflict naming the allowed moves."""
        ...

    async def add_ticket_time(
        self, number: int, *, kind: str, minutes: int, by: str, note: str | None, now: datetime
    ) -> TicketTime:
        """NotFound for an unknown number."""
        ...

    async def customer_ticket_time(self, customer: str, start: datetime, end: datetime) -> list[CustomerTicketTime]:
        """The time entries (of every kind) made in [start, end) on the tickets that belong to `customer`
        now (tickets in triage belong to none), by ticket number and entry id."""
        ...

    async def page_ticket(
        self, number: int, *, labels: Mapping[str, str], severity: str, actor: str, now: datetime
    ) -> TicketDetail:
        """Turns a request into an incident with the ticket's own number (source `desk`): the engine routes
        and pages it as any other. Conflict when it is an incident already, closed, or has no project."""
        ...

    async def close_resolved(self, before: datetime, *, now: datetime) -> list[int]:
        """Closes the tickets resolved before `before` (auto-close); answers their numbers."""
        ...

    async def index_tickets(self, limit: int = 5000) -> int:
        """Puts the subjects of up to `limit` incidents opened since the last call into the search index
        (kept off the ingest path; the engine calls it every tick); answers how many."""
        ...

    async def due_target_tickets(self, now: datetime, limit: int = 500) -> list[int]:
        """Up to `limit` numbers of live requests (new, open, waiting_on_customer) whose targets need
        judging at `now`: never judged since their last timeline entry, or their next at-risk instant
        or deadline is at or before `now`; the longest due first."""
        ...

    async def rejudge_request_targets(self) -> int:
        """Makes every live request due for judging again (the targets in the config changed, or
        the engine started); answers how many."""
        ...

    async def record_target_facts(
        self, number: int, facts: Sequence[TargetFact], *, next_at: datetime | None, now: datetime
    ) -> list[TargetFact]:
        """Writes each fact not written before on the ticket's timeline (internal entry
        `target_at_risk` or `target_breached`, at `now`, data {target, due}), once per ticket, target
        and fact whatever is asked again; stores `next_at` (None: nothing due until the ticket
        changes) as when the ticket needs judging next. Answers the facts written now.
        NotFound for an unknown number."""
        ...

    async def add_contact(
        self,
        *,
        id: str,
        customer: str,
        name: str,
        emails: tuple[str, ...],
        phone: str | None,
        language: str,
        created_by: str,
        now: datetime,
    ) -> ContactRecord:
        """Conflict when the id is taken."""
        ...

    async def list_contacts(self, customer: str | None = None) -> list[ContactRecord]:
        """By id; with `customer`, that customer's."""
        ...


@dataclass(frozen=True, slots=True)
class Account(_Record):
    """A portal account (pager.domain.portal). `has_password`: False until its invitation link is used."""

    id: int
    email: str
    role: str  # admin, desk, engineer, customer
    person: str | None
    customer: str | None
    language: str | None
    has_password: bool
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    has_totp: bool = False  # a second factor (TOTP) is asked at sign-in


@dataclass(frozen=True, slots=True)
class PortalSession(_Record):
    """A signed-in session with its account (the cookie's token is never stored, only its hash).
    `factor_due`: the password was right and the second factor's code is still due (it opens no page)."""

    account: Account
    csrf: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    factor_due: bool = False


@dataclass(frozen=True, slots=True)
class SealedTotp(_Record):
    """The sealed TOTP values stored for an account (pager.service.sealed): its secret and the one shown for
    enrolment, each None when there is none."""

    account_id: int
    secret: str | None
    pending: str | None


@dataclass(frozen=True, slots=True)
class TotpState(_Record):
    """An account's second factor: its secret (None: none), a secret shown for enrolment and not yet
    confirmed, and the time step of the last code taken."""

    secret: str | None
    pending: str | None
    last_step: int | None


@dataclass(frozen=True, slots=True)
class PasswordLink(_Record):
    account: Account
    purpose: str  # invite, reset
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class LinkMailOut(_Record):
    """The mail that carries a password link to its account's address (queued with the link)."""

    address: str
    subject: str
    text: str
    html: str
    language: str


@dataclass(frozen=True, slots=True)
class LinkMailDue(_Record):
    """A queued link mail, claimed to be sent now (`attempts` counts this one)."""

    id: int
    address: str
    subject: str
    text: str
    html: str
    language: str
    purpose: str
    attempts: int


class PortalStore(Protocol):
    """The portal's accounts, sessions, failed sign-ins and one-time password links. Tokens are given and
    kept as their hashes; what a session or link is worth at an instant is pager.domain.portal's to say."""

    async def add_account(
        self,
        *,
        email: str,
        role: str,
        person: str | None,
        customer: str | None,
        language: str | None,
        password_hash: str | None,
        created_by: str,
        now: datetime,
    ) -> Account:
        """Conflict when the e-mail address has an account."""
        ...

    async def get_account(self, account_id: int) -> Account | None: ...

    async def account_by_email(self, email: str) -> tuple[Account, str | None] | None:
        """The account with this (lower-case) address and its password hash."""
        ...

    async def list_accounts(self) -> list[Account]:
        """By id."""
        ...

    async def disable_account(self, email: str, *, now: datetime) -> Account:
        """Disables the account and ends its live sessions. NotFound for an unknown address."""
        ...

    async def set_account_language(self, account_id: int, language: str | None) -> Account:
        """The account's language (the portal's pages and its mail; None: none of its own). NotFound for an
        unknown account."""
        ...

    async def start_session(
        self,
        *,
        token_hash: str,
        account_id: int,
        csrf: str,
        client: str | None,
        ended: str | None,
        now: datetime,
        factor_due: bool = False,
    ) -> PortalSession:
        """A new session; `ended`, the token hash of the session the browser held before (if any), ends (a
        session is never carried across a sign-in). `factor_due`: it waits for the second factor's code."""
        ...

    async def totp_state(self, account_id: int) -> TotpState:
        """NotFound for an unknown account."""
        ...

    async def set_totp_pending(self, account_id: int, secret: str | None) -> None:
        """The secret shown on the enrolment page, to be confirmed with a code (None: forget it)."""
        ...

    async def confirm_totp(self, account_id: int, secret: str, step: int, *, keep: str, now: datetime) -> bool:
        """The pending secret, if it is still `secret`, becomes the account's second factor, its code of time
        step `step` taken, and every other session of the account ends at `now` (all but the one whose token
        hash is `keep`: the one that turned it on), at once; False (nothing changed) if the pending secret is
        another or none."""
        ...

    async def use_totp_step(self, account_id: int, step: int) -> bool:
        """Takes the code of time step `step`: True if the account has a second factor and took no code of
        this or a later step before (a code works once, also when two requests race), else False."""
        ...

    async def reset_totp(self, email: str) -> Account:
        """Removes the account's second factor (and any pending one). NotFound for an unknown address."""
        ...

    async def sealed_totp(self) -> list[SealedTotp]:
        """Every account with a TOTP secret or a pending one, by account id."""
        ...

    async def replace_sealed_totp(
        self, account_id: int, field: Literal["secret", "pending"], old: str, new: str
    ) -> bool:
        """The account's `field` (its secret, or the pending one) becomes `new` if it is still `old`: True; else
        (changed meanwhile: a new enrolment, a reset, another node's replacement) nothing changes: False."""
        ...

    async def get_session(self, token_hash: str) -> PortalSession | None: ...

    async def touch_session(self, token_hash: str, *, now: datetime) -> None:
        """The session's last request is `now` (never moved back)."""
        ...

    async def end_session(self, token_hash: str, *, now: datetime) -> None: ...

    async def add_login_failure(self, keys: Sequence[str], *, now: datetime) -> None:
        """One failed sign-in counted against each key; failures older than a day are forgotten."""
        ...

    async def login_failures(self, key: str, *, since: datetime) -> list[datetime]:
        """The failures of `key` at or after `since`, oldest first."""
        ...

    async def clear_login_failures(self, key: str) -> None: ...

    async def add_password_link(
        self,
        *,
        token_hash: str,
        account_id: int,
        purpose: str,
        expires_at: datetime,
        now: datetime,
        mail: LinkMailOut | None = None,
    ) -> PasswordLink:
        """NotFound for an unknown account. With `mail`, the mail carrying the link is queued in the same
        transaction (due at once)."""
        ...

    async def claim_link_mail(self, now: datetime, *, lease: timedelta, limit: int = 50) -> list[LinkMailDue]:
        """Up to `limit` queued link mails due at `now`, oldest first, each counted as one more attempt and
        not due again before `now + lease` (a sender that dies mid-send leaves it to be tried again then)."""
        ...

    async def finish_link_mail(
        self, mail_id: int, *, sent: bool, error: str | None, retry_at: datetime | None, now: datetime
    ) -> None:
        """Sent, or to be retried at `retry_at`, or (neither) failed for good. Sent or failed, its text is
        emptied: the link it carried is kept nowhere."""
        ...

    async def link_mail(self, address: str) -> list[dict[str, Any]]:
        """The link mails to `address` (lower case), oldest first: `status`, `attempts`, `error`, `created_at`,
        `sent_at` and whether it still holds its text (`kept`)."""
        ...

    async def get_password_link(self, token_hash: str) -> PasswordLink | None: ...

    async def use_password_link(self, token_hash: str, *, password_hash: str, now: datetime) -> Account:
        """Sets the account's password, marks the link used and ends every session of the account, at once.
        NotFound for an unknown link; Conflict for one used, expired, or of a disabled account."""


class CustomerMailStore(Protocol):
    """Mail to customers about their tickets: the changes after the stage's cursor, the mails queued from them,
    the thread of a ticket, the cap's and the bounces' state."""

    async def ticket_changes(self, limit: int = 200) -> list[TicketChange]:
        """Up to `limit` timeline entries of tickets after the cursor (every entry, public or not), by id."""
        ...

    async def queue_customer_mail(
        self, through: int, mails: Sequence[CustomerMailOut], withheld: Sequence[WithheldMail], *, now: datetime
    ) -> int:
        """In one transaction: each mail into the outbox (kind `customer`, due now, once per idem_key) with its
        headers, its Message-ID into its ticket's thread (direction out) and an internal `mail_queued` entry
        on the ticket; each withheld one as an internal `mail_withheld` entry; the cursor moved to `through`.
        Nothing when the cursor is at or past `through` already (decided before). Answers the mails queued."""
        ...

    async def ticket_thread(self, number: int) -> list[str]:
        """The Message-IDs of a ticket's mail, in and out (without angle brackets), oldest first."""
        ...

    async def automatic_mail_since(self, addresses: Sequence[str], since: datetime) -> dict[str, list[datetime]]:
        """For each address (lower case) that was queued automatic customer mail (acknowledgements) after
        `since`: when, oldest first."""
        ...

    async def bounced_addresses(self, addresses: Sequence[str]) -> list[str]:
        """Those of `addresses` (compared in lower case) a delivery-status report marked as failed, lower case,
        sorted. An address is marked when a bounce naming it is filed (MailStore.file_mail) and unmarked when
        a mail from it that a person wrote is filed."""
        ...

    async def due_customer_mail(self, now: datetime, limit: int = 100) -> list[CustomerMailDue]:
        """Queued customer mails that are pending and due at `now`, oldest first (they are claimed and finished
        as other outbox messages: claim_messages, finish_message)."""
        ...

    async def customer_mail_pending(self, now: datetime) -> int:
        """Customer mails not yet sent: pending (due, or waiting for a retry after a first attempt) or being
        sent."""
        ...


class HotlineStore(Protocol):
    """Calls to the standby number, their tickets and incidents (README: The standby number)."""

    async def start_hotline_call(
        self,
        *,
        call_sid: str,
        caller: str | None,
        contact: str | None,
        customer: str | None,
        project: str | None,
        action: str,
        language: str,
        reason: str,
        now: datetime,
    ) -> tuple[HotlineCall, bool]:
        """The call, claimed by its CallSid, and whether this made it (False: Twilio retrying it, or a
        replay: the stored call, unchanged). A forwarded call's outcome is `forwarded`, any other `ringing`."""
        ...

    async def open_hotline_ticket(
        self, call_sid: str, *, ticket: Mapping[str, Any], incident: HotlineIncident | None, now: datetime
    ) -> HotlineCall:
        """In one transaction: the call's phone ticket (`ticket`: create_ticket's fields) with an internal
        `call` entry; with `incident`, the ticket made an incident (source desk) whose escalation is routed
        and fires its first step at `now` (first page, deadline and escalation point from the call), its
        pages queued, `routed` and `paging` on the timeline. Conflict when the call has a ticket already;
        NotFound for an unknown call."""
        ...

    async def answer_hotline_call(self, call_sid: str, reply: str) -> None:
        """The TwiML the call was answered with (what a repeat of its first request is answered)."""
        ...

    async def hotline_dial(self, call_sid: str, step: int, people: Sequence[str], *, now: datetime) -> bool:
        """Step `step` dialled to `people`; False when it was dialled already. NotFound for an unknown call."""
        ...

    async def hotline_dial_ended(self, call_sid: str, step: int, status: str, *, now: datetime) -> bool:
        """How the <Dial> of step `step` ended (DialCallStatus), once: True the first time (with a
        `call_unanswered` entry on the ticket unless it connected); False for a repeat or an unknown step."""
        ...

    async def hotline_answered(self, call_sid: str, person: str, *, now: datetime) -> tuple[HotlineCall, bool]:
        """`person` took the call: outcome `answered`, a `call_answered` entry on the ticket; True the
        first time (a second pick-up changes nothing). NotFound for an unknown call."""
        ...

    async def hotline_voicemail(
        self, call_sid: str, *, recording_sid: str, url: str, seconds: int | None, now: datetime
    ) -> tuple[HotlineCall, bool]:
        """The caller's message: its recording on the call and a `voicemail` entry (its URL) on the ticket;
        True the first time (a repeat of the same recording changes nothing). NotFound for an unknown call."""
        ...

    async def hotline_hung_up(self, call_sid: str, *, now: datetime) -> bool:
        """The caller left without being answered or leaving a message: outcome `no_answer` (only from
        `ringing`), with a `call_ended` entry on the ticket; True when it changed."""
        ...

    async def get_hotline_call(self, call_sid: str) -> HotlineCall | None: ...

    async def hotline_steps(self, call_sid: str) -> list[HotlineStep]:
        """The steps dialled, in order."""
        ...

    async def hotline_calls(self, *, ticket: int | None = None, limit: int = 100) -> list[HotlineCall]:
        """Newest first; with `ticket`, that ticket's calls."""
        ...


class CustomerPortalStore(Protocol):
    """What the customer's portal pages read and write besides tickets and bookings: standby requests, a
    project's tickets for its progress view, a statement's number read without issuing one."""

    async def add_standby_request(
        self,
        *,
        customer: str,
        start: datetime,
        end: datetime,
        note: str | None,
        quote_total: str | None,
        currency: str | None,
        requested_by: str,
        now: datetime,
    ) -> StandbyRequest:
        """A pending request; Conflict when it does not end after it starts."""
        ...

    async def get_standby_request(self, request_id: int) -> StandbyRequest | None: ...

    async def list_standby_requests(
        self, customer: str | None = None, *, status: str | None = None, limit: int = 100
    ) -> list[StandbyRequest]:
        """Newest first; of one customer, in one status, when given."""
        ...

    async def decide_standby_request(
        self, request_id: int, *, status: str, by: str, reason: str | None, now: datetime
    ) -> StandbyRequest:
        """A pending request `declined` or `withdrawn` (ValueError for another status); NotFound for an
        unknown id, Conflict when it is no longer pending (the first decision stays)."""
        ...

    async def confirm_standby_request(
        self, request_id: int, *, by: str, now: datetime
    ) -> tuple[StandbyRequest, Booking]:
        """A pending request confirmed and its booking (created by `by`, as add_booking makes one) in one
        transaction; NotFound for an unknown id, Conflict when it is no longer pending (no booking then)."""
        ...

    async def project_tickets(
        self, project: str, *, since: datetime, limit: int = 2000, requested_by: RequestedBy | None = None
    ) -> list[Ticket]:
        """The tickets of `project` (customer/project) that are live (new, open, waiting_on_customer), or
        were created or resolved at or after `since` (of them, with `requested_by`, that requester's
        only); newest first, at most `limit`."""
        ...

    async def get_issued_statement(self, customer: str, month: str) -> IssuedStatement | None:
        """The statement number issued for (customer, month), None when none was: never issues one."""
        ...


class Store(
    IncidentStore,
    EscalationStore,
    ScheduleStore,
    BillingStore,
    MaintenanceStore,
    MailStore,
    TicketStore,
    PortalStore,
    CustomerPortalStore,
    CustomerMailStore,
    HotlineStore,
    Protocol,
):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    def connections(self) -> list[ConnectionUse]:
        """The writer's and the readers' connections now (no database access)."""
        ...
