"""The page (issue 4, DESIGN.md §2): routing, coverage, escalation steps,
contact rules, storm control (throttles and bundles) and the replies that acknowledge.

Pure: every function takes the data it decides on and `now`, and returns a decision as data;
the engine, the store and the notifiers act on it. Instants are aware datetimes (UTC stored).

Reading order follows an alert:

1. ``route_for``       labels -> project (first matching route wins, like Alertmanager's tree)
2. ``decide_coverage`` project coverage x calendar period -> page the office or the standby
                       rotation, or nobody (and tell the support desk at the next office opening)
3. ``step_at``         the escalation policy's k-th step (across repeats) and when it fires
4. ``contact_plan``    one person's channels and when each is due
5. ``next_send_slot``  per address+channel throttle;  ``bundle`` many pages into one message
6. ``next_attempt_at`` a message that failed and may succeed later: when it is tried again
7. ``parse_reply``     SMS text / voice digits back into a command; ``may_answer`` whether
                       that person may act on that incident (or a link on that round)

The response target (was a page answered in time?) is ``pager.domain.response``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import accumulate
from types import MappingProxyType
from typing import Any, Protocol

import re2

from . import messages
from .calendar import Calendar, Period, local_wall, to_utc

# =========================================================================== routing


@dataclass(frozen=True)
class Route:
    """Label matchers leading to a project. A route matches when every `match` label equals
    its value and every `match_re` label fully matches its regex (RE2, see compile_matcher). As in
    Alertmanager, a missing label reads as "" (so ``match={"x": ""}`` means "x is unset").
    A route without matchers matches every alert (a catch-all)."""

    project: str
    match: Mapping[str, str] = field(default_factory=dict)
    match_re: Mapping[str, str] = field(default_factory=dict)
    urgency: str | None = None  # "high" / "low": every alert of the route has it (pager.domain.urgency)
    _compiled: tuple[tuple[str, Any], ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if not isinstance(self.project, str) or not self.project.strip():
            raise ValueError("route: project must be a non-empty string")
        if self.urgency not in (None, "high", "low"):
            raise ValueError(f"route {self.project}: urgency must be high or low, got {self.urgency!r}")
        compiled = []
        for label, pattern in self.match_re.items():
            try:
                compiled.append((label, compile_matcher(pattern)))
            except ValueError as exc:
                raise ValueError(f"route {self.project}: match_re {label}: {pattern!r}: {exc}") from None
        object.__setattr__(self, "_compiled", tuple(compiled))

    def matches(self, labels: Mapping[str, str]) -> bool:
        for label, value in self.match.items():
            if labels.get(label, "") != value:
                return False
        for label, rx in self._compiled:
            if rx.fullmatch(labels.get(label, "")) is None:
                return False
        return True


class Matcher(Protocol):
    """A compiled `match_re` (RE2's pattern object)."""

    def fullmatch(self, text: str) -> object | None: ...


def compile_matcher(pattern: str) -> Matcher:
    """A route's `match_re`, compiled with RE2: the syntax and semantics of Go's regexp, which
    Alertmanager's matchers use, and matching in time linear in the label's length whatever the pattern
    (Python's `re` backtracks: `(a+)+b` against forty a's stalls the event loop). ValueError with RE2's
    words for what it does not take (backreferences, lookaround)."""
    try:
        compiled: Matcher = re2.compile(pattern, _RE2_OPTIONS)
        return compiled
    except re2.error as exc:
        why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"not a valid RE2 regular expression: {why}") from None


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # its refusals reach the config's error, not stderr


def first_route(routes: Sequence[Route], labels: Mapping[str, str]) -> Route | None:
    """The first route that matches, or None."""
    for route in routes:
        if route.matches(labels):
            return route
    return None


def route_for(routes: Sequence[Route], labels: Mapping[str, str], default_project: str) -> str:
    """The project of the first matching route, else `default_project`."""
    route = first_route(routes, labels)
    return route.project if route is not None else default_project


# =========================================================================== coverage


class Coverage(StrEnum):
    ALWAYS = "always"  # the agency's own infrastructure: page 24/7
    OFFICE_HOURS = "office_hours"  # page in office hours; otherwise tell the desk at opening
    STANDBY = "standby"  # as office_hours, and page during standby coverage


OFFICE_ROTATION = "office"
STANDBY_ROTATION = "standby"


@dataclass(frozen=True)
class ProjectCoverage:
    project: str
    mode: Coverage
    # Recurring standby coverage outside office hours (e.g. every evening_night).
    standby_periods: frozenset[Period] = frozenset()
    # Dated standby bookings [start, end), aware; normalised to UTC and sorted.
    bookings: tuple[tuple[datetime, datetime], ...] = ()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", Coverage(self.mode))
        except ValueError as exc:
            known = ", ".join(c.value for c in Coverage)
            raise ValueError(f"project {self.project}: unknown coverage {self.mode!r} (known: {known})") from exc
        try:
            periods = frozenset(Period(p) for p in self.standby_periods)
        except ValueError as exc:
            raise ValueError(f"project {self.project}: standby_periods: {exc}") from exc
        object.__setattr__(self, "standby_periods", periods)
        books = []
        for start, end in self.bookings:
            s, e = to_utc(start, "booking start"), to_utc(end, "booking end")
            if not s < e:
                raise ValueError(
                    f"project {self.project}: booking end {e.isoformat()} is not after its start {s.isoformat()}"
                )
            books.append((s, e))
        object.__setattr__(self, "bookings", tuple(sorted(books)))

    def booking_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The booking [start, end) holding `now`, or None."""
        for start, end in self.bookings:
            if start <= now < end:
                return start, end
        return None


@dataclass(frozen=True)
class CoverageDecision:
    page: bool
    rotation: str | None  # "office" / "standby", None when not paging
    period: Period
    reason: str  # a sentence for the timeline
    notify_desk_at: datetime | None  # when not paging: the next office opening, else None
    booking: tuple[datetime, datetime] | None = None  # the standby booking that covers now, if any


def timeline_time(calendar: Calendar, instant: datetime) -> str:
    """An instant as the timeline says it: "Tue 2026-12-08 08:30 Europe/Amsterdam"."""
    return f"{local_wall(instant, calendar.zone):%a %Y-%m-%d %H:%M} {calendar.rules.tz}"


def decide_coverage(cov: ProjectCoverage, calendar: Calendar, now: datetime) -> CoverageDecision:
    """Whom an alert for `cov.project` pages at `now` (DESIGN.md §2, "Coverage")."""
    now = to_utc(now, "now")
    period = calendar.period_at(now)
    head = f"{period.value}, project {cov.project}"

    def page(rotation: str, why: str, booking: tuple[datetime, datetime] | None = None) -> CoverageDecision:
        return CoverageDecision(True, rotation, period, f"{head} {why}: paging the {rotation} rotation", None, booking)

    if period is Period.OFFICE:
        return page(OFFICE_ROTATION, f"has coverage {cov.mode.value}, office hours")
    if cov.mode is Coverage.ALWAYS:
        return page(STANDBY_ROTATION, "has coverage always")
    if cov.mode is Coverage.STANDBY:
        if period in cov.standby_periods:
            return page(STANDBY_ROTATION, "has standby")
        booking = cov.booking_at(now)
        if booking is not None:
            start, end = booking
            span = f"{timeline_time(calendar, start)} - {timeline_time(calendar, end)}"
            return page(STANDBY_ROTATION, f"has standby booked {span}", booking)
        why = "has no standby now"
    else:
        why = "has coverage office_hours"
    opening = calendar.next_office_opening(now)
    if opening is None:
        tail = "nobody paged; no office opening within a year to tell the support desk"
    else:
        tail = f"nobody paged; the support desk is told at the next office opening, {timeline_time(calendar, opening)}"
    return CoverageDecision(False, None, period, f"{head} {why}: {tail}", opening)


# =========================================================================== escalation


class TargetKind(StrEnum):
    ONCALL = "oncall"  # the rotation chosen by coverage
    ROTATION = "rotation"  # a named rotation
    PERSON = "person"  # a person id
    DESK = "desk"  # the support desk


@dataclass(frozen=True)
class Target:
    kind: str  # a TargetKind (a str)
    name: str = ""  # rotation name or person id; "" for oncall/desk

    def __post_init__(self) -> None:
        try:
            kind = TargetKind(self.kind)
        except ValueError as exc:
            known = ", ".join(k.value for k in TargetKind)
            raise ValueError(f"target: unknown kind {self.kind!r} (known: {known})") from exc
        object.__setattr__(self, "kind", kind)
        if not isinstance(self.name, str):
            raise ValueError(f"target {kind.value}: name must be a string")
        if kind in (TargetKind.ROTATION, TargetKind.PERSON) and not self.name.strip():
            raise ValueError(f"target {kind.value}: needs a name")
        if kind in (TargetKind.ONCALL, TargetKind.DESK) and self.name:
            raise ValueError(f"target {kind.value}: takes no name (got {self.name!r})")

    @property
    def label(self) -> str:
        """As the config writes it: ``oncall``, ``desk``, ``person:bram``, ``rotation:office``."""
        kind = TargetKind(self.kind).value
        return f"{kind}:{self.name}" if self.name else kind


@dataclass(frozen=True)
class Step:
    targets: tuple[Target, ...]
    wait: timedelta  # before the next step

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        if not isinstance(self.wait, timedelta) or self.wait < timedelta(0):
            raise ValueError(f"step: wait must be a non-negative timedelta, got {self.wait!r}")


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0  # the whole list runs 1 + repeat times
    # when each step fires after the round's first (its offsets[i]), and one round's length (offsets[-1]):
    # worked out once, a policy is read for every page
    offsets: tuple[timedelta, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if isinstance(self.repeat, bool) or not isinstance(self.repeat, int) or self.repeat < 0:
            raise ValueError(f"policy {self.name}: repeat must be an integer >= 0, got {self.repeat!r}")
        object.__setattr__(self, "offsets", tuple(accumulate((s.wait for s in self.steps), initial=timedelta(0))))

    @property
    def total_steps(self) -> int:
        """How many steps fire in all, across rounds (k runs 0 .. total_steps - 1)."""
        return len(self.steps) * (1 + self.repeat)

    @property
    def round_length(self) -> timedelta:
        """The sum of the waits of one pass through the list."""
        return self.offsets[-1]

    def to_json(self) -> dict[str, Any]:
        """The snapshot stored with the incident (waits in seconds)."""
        return {
            "name": self.name,
            "repeat": self.repeat,
            "steps": [
                {
                    "targets": [{"kind": t.kind.value, "name": t.name} for t in s.targets],  # type: ignore[attr-defined]
                    "wait_seconds": _seconds(s.wait),
                }
                for s in self.steps
            ],
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> Policy:
        """The inverse of to_json; a malformed snapshot is a ValueError."""
        try:
            steps = tuple(
                Step(
                    targets=tuple(Target(t["kind"], t.get("name", "")) for t in s["targets"]),
                    wait=timedelta(seconds=s["wait_seconds"]),
                )
                for s in d["steps"]
            )
            return Policy(name=d["name"], steps=steps, repeat=d.get("repeat", 0))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"bad policy snapshot: {exc!r}") from exc


def _seconds(td: timedelta) -> int | float:
    s = td.total_seconds()
    return int(s) if s == int(s) else s


@dataclass(frozen=True)
class StepDue:
    index: int  # step index within the list
    round: int  # 0-based repetition
    at: datetime  # when this step fires


def step_at(policy: Policy, first_page_at: datetime, k: int) -> StepDue | None:
    """The k-th step overall (k counts across rounds), None past the end (or k < 0). Step k
    fires at first_page_at + the waits of all earlier steps, the last step's wait included
    between rounds."""
    n = len(policy.steps)
    if k < 0 or k >= policy.total_steps:
        return None
    rnd, index = divmod(k, n)
    return StepDue(index=index, round=rnd, at=first_page_at + rnd * policy.round_length + policy.offsets[index])


def next_step(policy: Policy, first_page_at: datetime, after_k: int) -> StepDue | None:
    """The step after step `after_k` (after_k = -1 gives the first), None past the end."""
    return step_at(policy, first_page_at, after_k + 1)


class NextKind(StrEnum):
    """What the engine does next for one round of an incident (``next_action``)."""

    ROUTE = "route"  # not routed yet: the engine routes it (coverage, policy) on its next tick
    PAGE = "page"  # an escalation step pages its targets (the first page, or a later step)
    DESK = "desk"  # nobody paged: the support desk is told (at the next office opening)
    RELEASE = "release"  # held (low urgency, a maintenance window): decided again, and paged, at `at`
    END = "end"  # the policy has no further step: its escalation ends
    NOTHING = "nothing"  # nothing more: acknowledged, resolved, or every step has fired


# The status of a round's escalation as the store keeps it.
ESCALATION_ACTIVE = "active"  # paging, or about to: its next step is due at next_at
ESCALATION_WAITING = "waiting"  # paged nobody: the desk's notice is due at next_at
ESCALATION_DONE = "done"  # every step fired (or the desk was told)
ESCALATION_STOPPED = "stopped"  # acknowledged or resolved while it ran


@dataclass(frozen=True)
class NextAction:
    """What the engine will do next for the current round of an incident, and when. `step` and
    `targets`: the escalation step that fires (kind PAGE). `why`: for NOTHING, the reason."""

    kind: NextKind
    at: datetime | None = None
    step: StepDue | None = None
    targets: tuple[Target, ...] = ()
    why: str = ""


def next_action(
    policy: Policy | None,
    *,
    state: str,
    status: str | None,
    fired: int,
    first_page_at: datetime | None,
    next_at: datetime | None,
    hold: str | None = None,
) -> NextAction:
    """What the engine does next for an incident's current round, read from what its escalation
    stores: the incident's `state`, the escalation's `status` (None: not routed yet), the last step
    `fired` (-1: none), the `first_page_at`, the `next_at` the engine set for itself and a waiting
    round's `hold` ("urgency", "maintenance"; None: not held).

    The engine stops a round once its incident is no longer triggered; it fires, at `next_at`, the
    step after the last one fired (``next_step``; `next_at` may come before that step's own instant
    when the response target's escalation point brought it forward)."""
    if state != "triggered":
        return NextAction(NextKind.NOTHING, why=state)
    if status is None:
        return NextAction(NextKind.ROUTE)
    if status == ESCALATION_WAITING and hold is not None:
        # held by its urgency (until the office opening) or a maintenance window (until it ends): the
        # engine decides it again then and pages it if it is still open
        return NextAction(NextKind.RELEASE, at=None if next_at is None else to_utc(next_at, "next_at"), why=hold)
    if status == ESCALATION_WAITING:
        if next_at is None:
            return NextAction(NextKind.NOTHING, why="paged nobody; no office opening within a year")
        return NextAction(NextKind.DESK, at=to_utc(next_at, "next_at"))
    if status == ESCALATION_DONE:
        if first_page_at is None:
            return NextAction(NextKind.NOTHING, why="paged nobody; the support desk was told")
        return NextAction(NextKind.NOTHING, why="every step of the policy has fired")
    if status != ESCALATION_ACTIVE or next_at is None or policy is None:
        return NextAction(NextKind.NOTHING, why=f"escalation {status}")
    at = to_utc(next_at, "next_at")
    due = next_step(policy, first_page_at or at, fired)
    if due is None:
        return NextAction(NextKind.END, at=at)
    return NextAction(NextKind.PAGE, at=at, step=due, targets=policy.steps[due.index].targets)


def next_fire(
    policy: Policy, first_page_at: datetime, k: int, target: timedelta, escalate_at: timedelta | None
) -> tuple[datetime | None, bool]:
    """When the step after step `k` fires (None: step k was the last), and whether that is early: after
    the first page (k = 0) the next step comes at `escalate_at` into the response target when that is
    sooner than the policy's own wait and before the target is missed (escalate before it is missed)."""
    nxt = step_at(policy, first_page_at, k + 1)
    next_at = nxt.at if nxt else None
    if k == 0 and escalate_at is not None:
        esc_at = first_page_at + escalate_at
        if esc_at < first_page_at + target and (next_at is None or next_at > esc_at):
            return esc_at, True
    return next_at, False


# =========================================================================== contact rules


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"


@dataclass(frozen=True)
class ContactRule:
    channel: str  # a Channel (a str)
    after: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "channel", Channel(self.channel))
        except ValueError as exc:
            known = ", ".join(c.value for c in Channel)
            raise ValueError(f"contact rule: unknown channel {self.channel!r} (known: {known})") from exc
        if not isinstance(self.after, timedelta) or self.after < timedelta(0):
            raise ValueError(f"contact rule {self.channel}: after must be a non-negative timedelta")


def contact_plan(rules: Sequence[ContactRule], paged_at: datetime) -> list[tuple[str, datetime]]:
    """(channel, due) for each rule, sorted by due, then by rule order."""
    plan = [(str(r.channel), paged_at + r.after) for r in rules]
    plan.sort(key=lambda item: item[1])  # stable: ties keep rule order
    return plan


# =========================================================================== storm control


@dataclass(frozen=True)
class Throttle:
    max: int  # at most `max` messages
    per: timedelta  # in any window of this length

    def __post_init__(self) -> None:
        if isinstance(self.max, bool) or not isinstance(self.max, int) or self.max < 1:
            raise ValueError(f"throttle: max must be an integer >= 1, got {self.max!r}")
        if not isinstance(self.per, timedelta) or self.per <= timedelta(0):
            raise ValueError(f"throttle: per must be a positive timedelta, got {self.per!r}")


DEFAULT_THROTTLES: Mapping[str, Throttle] = MappingProxyType(
    {
        "sms": Throttle(5, timedelta(minutes=15)),
        "voice": Throttle(1, timedelta(minutes=5)),
        "email": Throttle(20, timedelta(minutes=15)),
    }
)


def next_send_slot(throttle: Throttle, sent_at: Sequence[datetime], now: datetime) -> datetime:
    """The earliest instant >= now at which one more message keeps every window of length
    `per` (half-open: t and u share one iff |t - u| < per) at `max` messages or fewer.

    With only past sends that is `now` when fewer than `max` lie in (now - per, now], else the
    instant the oldest of the last `max` leaves the window. Sends after `now` (slots already
    handed out to queued messages) count too, so the engine may hand out several slots in one
    tick by appending each to `sent_at`.
    """
    per, m = throttle.per, throttle.max
    near = sorted(t for t in sent_at if t > now - per)
    if len(near) < m:
        return now
    # Any m sends spanning less than `per` forbid the open interval (last - per, first + per).
    blocked = [
        (near[i + m - 1] - per, near[i] + per) for i in range(len(near) - m + 1) if near[i + m - 1] - near[i] < per
    ]
    slot = now
    moved = True
    while moved:
        moved = False
        for lo, hi in blocked:
            if lo < slot < hi:
                slot, moved = hi, True
    return slot


@dataclass(frozen=True)
class Pending:
    """An outbox message waiting for one address+channel."""

    id: int
    incident_id: int
    short_code: str
    summary: str
    project: str


@dataclass(frozen=True)
class Bundle:
    ids: tuple[int, ...]  # every outbox id this message carries (never drop)
    incident_ids: tuple[int, ...]  # distinct, ascending
    body: str
    subject: str = ""  # for e-mail (and logs)


# How many incidents a voice call reads out; the shortest SMS target a bundle takes.
VOICE_LIST_MAX = messages.VOICE_LIST_MAX
MIN_SMS_CHARS = 70


def short_code(incident_id: int) -> str:
    """The code a person types in an SMS reply to name an incident."""
    return str(int(incident_id))


def one_line(text: str) -> str:
    """Alert text folded to one line (every run of whitespace, line breaks included, one space): what
    a subject, an SMS or a spoken message carries. An e-mail header never gets a line break from it."""
    return " ".join(str(text).split()) or "(no summary)"


def _text_block(text: str, indent: str) -> str:
    """Alert text with its own lines kept (for an e-mail body), each after the first indented."""
    lines = [line.rstrip() for line in str(text).strip().splitlines()]
    return f"\n{indent}".join(lines) or "(no summary)"


def _projects(items: Sequence[Pending]) -> list[str]:
    return sorted({p.project for p in items})


def bundle(
    channel: str, pending: Sequence[Pending], max_sms_chars: int = messages.GSM7_SINGLE, link: str = ""
) -> Bundle:
    """One message for all of `pending` on one address+channel. One incident: its own message (an SMS
    with `link`, the one-tap link, when given; pager.domain.messages.sms_page); several: one message
    naming the count and the projects and listing the incidents by id (SMS: as many as fit with
    "+N more", messages.sms_bundle; voice: the first few). An SMS aims at `max_sms_chars` GSM-7
    septets (one segment): the summaries are shortened for it, never the reply instructions or the
    link. `ids` always holds every pending id, whatever the body shows."""
    ch = Channel(channel)
    if max_sms_chars < MIN_SMS_CHARS:
        raise ValueError(f"bundle: max_sms_chars must be at least {MIN_SMS_CHARS}, got {max_sms_chars}")
    if not pending:
        raise ValueError("bundle: nothing pending")
    items = sorted(pending, key=lambda p: (p.incident_id, p.id))
    ids = tuple(sorted(p.id for p in items))
    # One line per incident: the latest pending message of it (highest outbox id) speaks for it.
    latest: dict[int, Pending] = {}
    for p in items:
        latest[p.incident_id] = p
    incidents = [latest[i] for i in sorted(latest)]
    incident_ids = tuple(p.incident_id for p in incidents)
    if len(incidents) == 1:
        body, subject = _single(ch, incidents[0], max_sms_chars, link)
    else:
        body, subject = _many(ch, incidents, max_sms_chars)
    return Bundle(ids=ids, incident_ids=incident_ids, body=body, subject=subject)


def bundle_shows(
    channel: str, incident_ids: Iterable[int], max_sms_chars: int = messages.GSM7_SINGLE
) -> tuple[int, ...]:
    """The incidents of a bundle (its pending messages' `incident_ids`) whose summaries its text can
    show, in `bundle`'s order: every one in an e-mail or when there is one; an SMS's first
    messages.sms_bundle_max_listed (a storm's SMS lists the few that fit); a call's first VOICE_LIST_MAX.
    `bundle` reads no other incident's summary, so what it says of those may be left unread (the
    engine reads alert texts for these only; the equivalence is tested in tests/unit/test_paging.py)."""
    ids = sorted(set(incident_ids))
    ch = Channel(channel)
    if len(ids) <= 1 or ch is Channel.EMAIL:
        return tuple(ids)
    if ch is Channel.SMS:
        return tuple(ids[: messages.sms_bundle_max_listed(max_sms_chars)])
    return tuple(ids[:VOICE_LIST_MAX])


def _single(ch: Channel, p: Pending, limit: int, link: str) -> tuple[str, str]:
    summary = one_line(p.summary)
    subject = f"[pagerd #{p.short_code}] {p.project}: {summary}" if p.project else f"[pagerd #{p.short_code}] {summary}"
    if ch is Channel.SMS:
        return messages.sms_page(p.short_code, p.project, summary, link, target=limit), subject
    if ch is Channel.VOICE:
        script = messages.voice_script([messages.VoiceItem(p.short_code, p.project, summary)], "en")
        return f"{script.intro} {script.menu}", subject
    return (  # e-mail: the subject on one line, the summary in full below
        f"{subject}\n\n"
        f"Incident: #{p.short_code}\n"
        f"Project:  {p.project}\n"
        f"Summary:  {_text_block(p.summary, ' ' * 10)}\n\n"
        f"By SMS: reply 1 to acknowledge, 2 to resolve (\"ack {p.short_code}\" when several are open).\n",
        subject,
    )


def _many(ch: Channel, incidents: Sequence[Pending], limit: int) -> tuple[str, str]:
    n = len(incidents)
    projects = _projects(incidents)
    subject = f"[pagerd] {n} new incidents for {', '.join(projects)}"
    if ch is Channel.EMAIL:
        lines = [f"{n} new incidents for {', '.join(projects)}:", ""]
        lines += [f"  #{p.short_code}  {p.project}  {one_line(p.summary)}" for p in incidents]
        lines += ["", "Reply 1 to acknowledge all of them, or \"ack CODE\" for one."]
        return "\n".join(lines) + "\n", subject
    if ch is Channel.VOICE:
        script = messages.voice_script(
            [messages.VoiceItem(p.short_code, p.project, p.summary) for p in incidents], "en"
        )
        return f"{script.intro} {script.menu}", subject
    items = [messages.SmsItem(p.short_code, p.project, p.summary) for p in incidents]
    return messages.sms_bundle(items, target=limit), subject


# =========================================================================== retries

RETRY_BASE = timedelta(seconds=5)  # the wait after the n-th failed attempt: RETRY_BASE x 2^n ...
RETRY_CAP = timedelta(minutes=5)  # ... at most this
RETRY_AFTER_CAP = timedelta(hours=1)  # a provider's Retry-After is honoured up to this


def next_attempt_at(
    now: datetime, attempts: int, max_attempts: int, retry_after: timedelta | None = None
) -> datetime | None:
    """When a message whose `attempts`-th attempt failed (recoverably: the provider was down, slow, or
    said "later") is tried again: after 5 s x 2^attempts, at most 5 minutes, and never before the
    provider's `retry_after` (HTTP Retry-After, itself capped at an hour). None once `attempts` reached
    `max_attempts`: the message is given up (failed). With the default 20 attempts, a message is
    retried for about 75 minutes."""
    if attempts < 1:
        raise ValueError(f"next_attempt_at: attempts must be at least 1, got {attempts}")
    if attempts >= max_attempts:
        return None
    wait = min(RETRY_CAP, RETRY_BASE * (1 << min(attempts, 16)))
    if retry_after is not None and retry_after > wait:
        wait = min(retry_after, RETRY_AFTER_CAP)
    return now + wait


# =========================================================================== replies


class Command(StrEnum):
    ACK = "ack"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    WORKED = "worked"


@dataclass(frozen=True)
class Reply:
    command: Command | None  # None: not understood
    short_code: str | None = None
    minutes: int | None = None  # for "worked 45"


# Words (and digits) a person may reply with; case-insensitive.
REPLY_WORDS: Mapping[str, Command] = MappingProxyType(
    {
        "1": Command.ACK,
        "ack": Command.ACK,
        "acked": Command.ACK,
        "acknowledge": Command.ACK,
        "2": Command.RESOLVE,
        "res": Command.RESOLVE,
        "resolve": Command.RESOLVE,
        "resolved": Command.RESOLVE,
        "3": Command.ESCALATE,
        "esc": Command.ESCALATE,
        "escalate": Command.ESCALATE,
    }
)
DIGITS: Mapping[str, Command] = MappingProxyType({"1": Command.ACK, "2": Command.RESOLVE, "3": Command.ESCALATE})
MAX_WORKED_MINUTES = 24 * 60

_CODE = r"\#?\s*0*(?P<code>[0-9]{1,18})"
# A word command may touch its code ("ack42"); a digit command needs a space or '#' ("1 42",
# "1#42"), so "142" is not read as "1 42".
_WORD_REPLY = re.compile(rf"(?P<word>[a-z]+)\s*(?:{_CODE})?")
_DIGIT_REPLY = re.compile(rf"(?P<word>[123])(?:(?:\s+|(?=\#)){_CODE})?")
# "worked 45", "worked 1h30", "worked 1:30", "worked 90m", "worked 2h", optionally a code.
_DURATION = (
    r"(?:(?P<h>[0-9]{1,2})\s*(?::|h|u)\s*(?P<hm>[0-9]{1,2})?\s*(?:m|min)?"
    r"|(?P<m>[0-9]{1,4})\s*(?:m|min|mins|minutes)?)"
)
_WORKED_REPLY = re.compile(rf"worked\s*{_DURATION}(?:\s+{_CODE})?")
_TRAILING = ".!?,;"


def parse_reply(text: str) -> Reply:
    """An SMS reply: "1", "ack", "ACK 42", "1 42", " Ack  #42 ", "2", "resolve 42", "3", "esc",
    "escalate 7", "worked 45", "worked 1h30 #42" ... Case, '#', extra spaces and a trailing
    full stop are tolerated; anything else is Reply(None)."""
    s = " ".join(str(text).split()).lower().rstrip(_TRAILING).strip()
    if not s:
        return Reply(None)
    m = _WORKED_REPLY.fullmatch(s)
    if m is not None:
        if m["m"] is not None:
            minutes = int(m["m"])
        else:
            extra = int(m["hm"]) if m["hm"] else 0
            if extra >= 60:
                return Reply(None)
            minutes = int(m["h"]) * 60 + extra
        if not 0 < minutes <= MAX_WORKED_MINUTES:
            return Reply(None)
        return Reply(Command.WORKED, _code(m["code"]), minutes)
    for rx in (_DIGIT_REPLY, _WORD_REPLY):
        m = rx.fullmatch(s)
        if m is not None and m["word"] in REPLY_WORDS:
            return Reply(REPLY_WORDS[m["word"]], _code(m["code"]))
    return Reply(None)


def _code(digits: str | None) -> str | None:
    return None if digits is None else short_code(int(digits))


def parse_digits(digits: str) -> Command | None:
    """A voice keypress from <Gather>: "1" ack, "2" resolve, "3" escalate; else None."""
    return DIGITS.get(str(digits).strip().rstrip("#"))


# =========================================================================== who may answer


class Refusal(StrEnum):
    """Why an SMS reply, a voice keypress or a one-tap link does not act on an incident."""

    NOT_PAGED = "not_paged"  # the incident's escalation never reached this person
    EARLIER_ROUND = "earlier_round"  # it reached them for an earlier alert; the incident has reopened since


def may_answer(command: Command, current_round: int, rounds: Collection[int], *, named: bool) -> Refusal | None:
    """Whether a person may act on an incident by SMS, voice or one-tap link: None, or why not.

    `rounds` are the incident's rounds (generations: 0 for its opening, n after its n-th reopen)
    whose escalation reached the person, by a page or a desk notice, sent or still queued (for a
    one-tap link: the one round it was signed for); `current_round` is the incident's own (its
    reopen count). `named`: the person named the incident ("ack 42") rather than answering the page
    they got (a bare "1", a keypress in the call, a link).

    - An incident that never reached the person: refused (another engineer's incident; the portal,
      the API and the CLI remain, behind their own credentials).
    - Worked time: on any round that reached them (the work may have been for an earlier alert).
    - Naming the incident: any round that reached them (they chose this incident knowingly).
    - Answering the page they got: only while its round is the current one. A page for an earlier
      alert (a late reply, an old link) does not answer the alert the incident reopened with.
    """
    if not rounds:
        return Refusal.NOT_PAGED
    if command is Command.WORKED or named or current_round in rounds:
        return None
    return Refusal.EARLIER_ROUND


__all__ = [
    "Bundle",
    "Channel",
    "Command",
    "ContactRule",
    "Coverage",
    "CoverageDecision",
    "DEFAULT_THROTTLES",
    "MAX_WORKED_MINUTES",
    "MIN_SMS_CHARS",
    "NextAction",
    "NextKind",
    "OFFICE_ROTATION",
    "Pending",
    "Policy",
    "ProjectCoverage",
    "Refusal",
    "Reply",
    "Route",
    "STANDBY_ROTATION",
    "Step",
    "StepDue",
    "Target",
    "TargetKind",
    "Throttle",
    "VOICE_LIST_MAX",
    "bundle",
    "bundle_shows",
    "contact_plan",
    "decide_coverage",
    "first_route",
    "may_answer",
    "next_attempt_at",
    "next_action",
    "next_fire",
    "next_send_slot",
    "next_step",
    "timeline_time",
    "one_line",
    "parse_digits",
    "parse_reply",
    "route_for",
    "short_code",
    "step_at",
]
