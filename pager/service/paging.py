"""The engine: one repeatable tick over due work in the store, in ordered stages (routing, stopping,
escalation steps, the response target, the outbox, heartbeats, hand-over notices). A restart or a crash
loses nothing: every decision is re-derived from stored state; messages carry a stable id (at-least-once,
never silently dropped)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from pager.clock import Clock
from pager.config import Config
from pager.domain import messages, response
from pager.domain import paging as dp
from pager.domain.alert import Action, Alert, Source, stable_id
from pager.domain.heartbeat import HeartbeatState, heartbeat_status
from pager.domain.maintenance import MaintenanceWindow
from pager.domain.projects import project_name
from pager.domain.urgency import Action as Decision
from pager.domain.urgency import PagingDecision, UrgencyRule, decide_paging
from pager.notify.base import Message, Notifier, SendResult
from pager.observe.metrics import Metrics
from pager.service import customer_mail, links, mail_desk, retention, targets
from pager.service.desk import desk_project
from pager.service.handover import handover_notices
from pager.service.schedule import Schedule, overrides_from
from pager.service.send_results import SendResults
from pager.service.signing import Keyring
from pager.storage.port import (
    Booking,
    DueMessage,
    Escalation,
    EscalationWork,
    IncidentDetail,
    LeaseLost,
    MaintenanceRecord,
    Unavailable,
    UnroutedIncident,
    json_instant,
)

log = structlog.get_logger("pagerd.engine")
T = TypeVar("T")

UNROUTED = "unrouted"
DEFAULT_POLICY = {
    "name": "default",
    "repeat": 1,
    "steps": [
        {"targets": [{"kind": "oncall", "name": ""}], "wait_seconds": 900},
        {"targets": [{"kind": "oncall", "name": ""}, {"kind": "desk", "name": ""}], "wait_seconds": 900},
    ],
}


def outcome(result: SendResult, retry_at: datetime | None) -> str:
    """The `result` label of pagerd_messages_total: sent, simulated (the dry-run notifier), retry, failed."""
    if result.sent:
        return "simulated" if result.simulated else "sent"
    return "retry" if retry_at is not None else "failed"


@dataclass(frozen=True)
class Plan:
    """The config turned into domain objects, once per config."""

    routes: tuple
    coverage: dict
    policies: dict
    policy_of: dict
    targets: dict
    throttles: dict
    default_project: str
    customer_of: dict = field(default_factory=dict)  # project -> customer id
    urgency: dict = field(default_factory=dict)  # project -> UrgencyRule (its own, else paging.urgency's)
    default_urgency: UrgencyRule = UrgencyRule()
    snapshots: PolicySnapshots = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "snapshots", PolicySnapshots(self.policies))

    def urgency_rule(self, project: str, route: dp.Route | None) -> UrgencyRule:
        """The urgency rule of an alert of `project` that `route` (None: no route matched) led there."""
        rule = self.urgency.get(project, self.default_urgency)
        if route is not None and route.urgency is not None:
            return replace(rule, force=route.urgency, source=f"route to {route.project}")
        return rule

    def customer(self, project: str) -> str | None:
        return self.customer_of.get(project)

    def coverage_of(self, project: str) -> dp.ProjectCoverage:
        return self.coverage.get(project) or dp.ProjectCoverage(project=project, mode=dp.Coverage.ALWAYS)

    def policy(self, project: str) -> dp.Policy:
        return self.policies.get(self.policy_of.get(project, "default")) or self.policies["default"]

    def snapshot(self, policy: dp.Policy) -> dict:
        """The snapshot stored with an incident routed to `policy` (Policy.to_json), made once per policy
        of this plan; the caller stores it and must not change it."""
        return self.snapshots.snapshot(policy)


class PolicySnapshots:
    """The one fast path of escalation policy snapshots: a step of an escalation reads its stored
    snapshot back as a Policy (`Policy.from_json`), and nearly every snapshot equals one of the current
    config's policies, so the parse of that snapshot is made once per config policy and reused.
    `policy_of(d)` is `Policy.from_json(d)` (tests/unit/test_engine_fast_paths.py proves it on random and
    malformed snapshots); any snapshot that is not equal to one of the config's (an older config's, a
    hand-edited row) takes `from_json` itself."""

    def __init__(self, policies: dict[str, dp.Policy]) -> None:
        self._json: dict[int, dict] = {}  # id(policy) of this plan's own policies -> its snapshot
        self._by_name: dict[str, tuple[dict, dp.Policy]] = {}
        for p in policies.values():
            d = p.to_json()
            self._json[id(p)] = d
            self._by_name.setdefault(p.name, (d, dp.Policy.from_json(d)))

    def snapshot(self, policy: dp.Policy) -> dict:
        d = self._json.get(id(policy))
        return d if d is not None else policy.to_json()

    def policy_of(self, d) -> dp.Policy:
        """`Policy.from_json(d)`, without the parse when `d` equals a config policy's snapshot."""
        if type(d) is dict:
            hit = self._by_name.get(d.get("name"))
            # == of dicts takes 1 for True and 1.0 for 1; from_json refuses a bool `repeat`, so it must be an int
            if hit is not None and type(d.get("repeat")) is int and hit[0] == d:
                return hit[1]
        return dp.Policy.from_json(d)


def plan_of(cfg: Config) -> Plan:
    routes = tuple(
        dp.Route(project=r.project, match=dict(r.match), match_re=dict(r.match_re), urgency=r.urgency)
        for r in cfg.routes
    )
    default_urgency = UrgencyRule(low=frozenset(cfg.paging.urgency.low))
    urgency: dict[str, UrgencyRule] = {}
    coverage, policy_of, targets, customer_of = {}, {}, {}, {}
    for cid, cust in cfg.customers.items():
        for pid, proj in cust.projects.items():
            name = project_name(cid, pid)
            customer_of[name] = cid
            from pager.domain.calendar import Period

            coverage[name] = dp.ProjectCoverage(
                project=name,
                mode=dp.Coverage(proj.coverage),
                standby_periods=frozenset(Period(p) for p in proj.standby),
            )
            policy_of[name] = proj.policy
            if proj.urgency is not None:
                urgency[name] = UrgencyRule(low=frozenset(proj.urgency.low), source=f"project {name}")
            targets[name] = response.ResponseTarget(target=cust.response_target, escalate_at=cfg.paging.escalate_at)
    policies = {"default": dp.Policy.from_json(DEFAULT_POLICY)}
    for pname, pol in cfg.escalation_policies.items():
        steps = tuple(
            dp.Step(targets=tuple(dp.Target(*t.partition(":")[::2]) for t in st.targets), wait=st.wait)
            for st in pol.steps
        )
        policies[pname] = dp.Policy(name=pname, steps=steps, repeat=pol.repeat)
    throttles = dict(dp.DEFAULT_THROTTLES)
    for ch, th in cfg.paging.throttles.items():
        throttles[ch] = dp.Throttle(th.max, th.per)
    return Plan(
        routes,
        coverage,
        policies,
        policy_of,
        targets,
        throttles,
        cfg.paging.default_project or UNROUTED,
        customer_of,
        urgency,
        default_urgency,
    )


def page_summary(inc: IncidentDetail) -> str:
    """What a page (SMS, call, e-mail, one-tap page) says an incident is about: a group of alerts
    summarised (how many, what they share), a single alert by its summary. The engine's bundles read
    only these texts (store.alert_texts) and call messages.incident_summary on them alike."""
    return messages.incident_summary(
        inc.summary, [messages.AlertText(a.summary, a.labels, a.status == "firing") for a in inc.alerts]
    )


def _sms_text(channel: str, summary: str, now: datetime, schedule: Schedule) -> str:
    """An SMS says the instants in its alert text as short local time (an ISO 8601 timestamp takes 25
    characters of a 160-character segment); other channels keep the text as it came."""
    return messages.sms_instants(summary, now, schedule.calendar.zone) if channel == "sms" else summary


def windows_of(rows: list[MaintenanceRecord]) -> list[MaintenanceWindow]:
    """The stored maintenance windows as the domain's."""
    return [
        MaintenanceWindow(
            id=w.id, start=w.start, end=w.end, customer=w.customer, project=w.project, match=w.match, reason=w.reason
        )
        for w in rows
    ]


def decide(
    plan: Plan,
    schedule: Schedule,
    *,
    project: str,
    route: dp.Route | None,
    labels,
    severity: str | None,
    bookings: list[Booking],
    windows: list[MaintenanceWindow],
    now: datetime,
) -> PagingDecision:
    """The routing decision for an incident of `project` at `now` (pager.domain.urgency.decide_paging on
    the config's coverage, the customer's bookings, the urgency rule and the maintenance windows): what the
    engine does with it, and what `pagerd route` previews."""
    cov = plan.coverage_of(project)
    if bookings:
        cov = replace(cov, bookings=tuple((b.start, b.end) for b in bookings))
    return decide_paging(
        cov,
        schedule.calendar,
        now,
        severity=severity,
        rule=plan.urgency_rule(project, route),
        windows=windows,
        customer=plan.customer(project),
        labels=labels,
    )


def rotation_name(cfg: Config, role: str | None) -> str | None:
    """The configured rotation of a coverage role ("office" / "standby")."""
    if role is None:
        return None
    return cfg.paging.office_rotation if role == dp.OFFICE_ROTATION else cfg.paging.standby_rotation


class OnCallAt:
    """Who is on call in each rotation at one instant (`now` of a tick), each rotation worked out once:
    every escalation step of a tick that pages a rotation asks the same question, and under a storm
    there are hundreds of them. Made per tick, so overrides and config changes of the next tick count."""

    def __init__(self, schedule: Schedule, overrides, now: datetime) -> None:
        self.schedule, self.overrides, self.now = schedule, overrides, now
        self._person: dict[str, str | None] = {}

    def __call__(self, name: str | None) -> str | None:
        """The person on call in rotation `name` (None: no such rotation, or nobody on call)."""
        if not name or name not in self.schedule.rotations:
            return None
        try:
            return self._person[name]
        except KeyError:
            person = self._person[name] = self.schedule.on_call(self.now, self.overrides, name)[0]["person"]
            return person


def step_people(
    cfg: Config,
    schedule: Schedule,
    overrides,
    step: dp.Step,
    rotation: str | None,
    now: datetime,
    on_call: OnCallAt | None = None,
) -> tuple[list[str], list[str]]:
    """Whom one escalation step pages at `now` (people ids, in order) and notes for the timeline.
    `on_call`: the tick's OnCallAt(schedule, overrides, now), shared by its steps (made here when None)."""
    people: list[str] = []
    notes: list[str] = []
    if on_call is None:
        on_call = OnCallAt(schedule, overrides, now)

    for t in step.targets:
        who: list[str] = []
        if t.kind == "oncall":
            p = on_call(rotation)
            if p is None:  # coverage is re-checked as time passes: the rotation on call right now
                other = (
                    cfg.paging.standby_rotation
                    if rotation == cfg.paging.office_rotation
                    else cfg.paging.office_rotation
                )
                p = on_call(other)
                if p is not None:
                    notes.append(f"{rotation or 'no rotation'} has nobody now; paging {other}")
            who = [p] if p else []
        elif t.kind == "rotation":
            p = on_call(t.name)
            who = [p] if p else []
        elif t.kind == "person":
            who = [t.name]
        elif t.kind == "desk":
            who = list(cfg.desk.people)
        if not who:
            notes.append(f"target {t.kind}{':' + t.name if t.name else ''} has nobody to page")
        people += [p for p in who if p not in people and p in cfg.people]
    if not people:  # never page nobody silently: fall back to the desk
        people = [p for p in cfg.desk.people if p in cfg.people]
        notes.append("nobody to page in this step: the support desk is paged instead")
    return people, notes


def desk_messages(cfg: Config, incident_id: int, generation: int, now: datetime) -> list[dict]:
    """The support desk's e-mail about an incident's round: to each desk person with an e-mail address,
    and to the desk's own address."""
    messages = []
    for person in cfg.desk.people:
        p = cfg.people.get(person)
        if p and p.email:
            messages.append(
                {
                    "idem_key": f"{incident_id}:{generation}:desk:{person}",
                    "person": person,
                    "channel": "email",
                    "address": p.email,
                    "kind": "desk",
                    "due_at": now,
                }
            )
    if cfg.desk.email:
        messages.append(
            {
                "idem_key": f"{incident_id}:{generation}:desk:address",
                "person": None,
                "channel": "email",
                "address": cfg.desk.email,
                "kind": "desk",
                "due_at": now,
            }
        )
    return messages


def page_messages(
    cfg: Config, incident_id: int, generation: int, k: int, people: list[str], now: datetime
) -> list[dict]:
    """The pages of escalation step `k` of an incident's round to `people`: each person's contact rules
    (their own, else paging.contact_rules), one message per channel and when it is due."""
    out = []
    for person in people:
        p = cfg.people[person]
        rules = [dp.ContactRule(r.channel, r.after) for r in (p.contact_rules or cfg.paging.contact_rules)]
        for i, (channel, due) in enumerate(dp.contact_plan(rules, now)):
            address = p.email if channel == "email" else p.phone
            if not address:
                continue
            out.append(
                {
                    "idem_key": f"{incident_id}:{generation}:{k}:{person}:{channel}:{i}",
                    "person": person,
                    "channel": channel,
                    "address": address,
                    "kind": "page",
                    "due_at": due,
                }
            )
    return out


def _hold_of(d: PagingDecision) -> tuple[str, str | None, datetime | None, str | None, int | None]:
    """How a decision is stored on an escalation: (status, rotation role, next_at, hold, maintenance id)."""
    if d.action is Decision.PAGE:
        return "active", d.rotation, d.next_at, None, None
    if d.action is Decision.DEFER:
        return "waiting", d.rotation, d.next_at, "urgency", None
    if d.action is Decision.HOLD:
        assert d.window is not None
        return "waiting", None, d.next_at, "maintenance", d.window.id
    return "waiting", None, d.next_at, None, None


def _retry_at(cfg: Config, now: datetime, attempts: int, result: SendResult) -> datetime | None:
    """When a message whose `attempts`-th attempt just ended in `result` is tried again (None: it went out,
    or it failed for good)."""
    if result.sent or not result.recoverable:
        return None
    wait = timedelta(seconds=result.retry_after) if result.retry_after is not None else None
    return dp.next_attempt_at(now, attempts, cfg.notifier.max_attempts, wait)


# a stage: reconcile one kind of due work with the stored state, at `now`
Stage = Callable[[Config, Schedule, datetime], Awaitable[None]]

# Storms (a switch dies and thousands of new incidents come in a second): one tick takes at most a batch
# of each kind of due work (incidents to route, escalation steps due, outbox messages due); a stage that
# found a full batch pokes the engine, so the next tick takes the next batch. Within a batch the engine
# yields to the event loop every SLICE items (`sliced`): the webhook handlers on the same loop are
# answered while a backlog is worked, instead of after it.
ROUTE_BATCH = 500
STEP_BATCH = 500
SEND_BATCH = 2000
SLICE = 25


async def sliced(items: Sequence[T], size: int = SLICE) -> AsyncIterator[T]:
    """`items` in order, with one turn of the event loop before every `size`-th item after the first (what
    is ready meanwhile, a webhook's request or its commit, runs then)."""
    for i, item in enumerate(items):
        if i and i % size == 0:
            await asyncio.sleep(0)
        yield item


class PagingEngine:
    """The one engine. `run()` is its only driver; each tick runs the stages in order. A failing stage is
    logged, counted (pagerd_engine_stage_failures_total) and retried by the next tick, and that tick is
    not a good one: only a good tick moves `last_good_tick` and calls `on_good_tick` (the systemd
    watchdog's keep-alive), so an engine that keeps failing or hangs is noticed."""

    def __init__(
        self,
        store,
        clock: Clock,
        metrics: Metrics,
        notifier: Notifier,
        current: Callable[[], tuple[Config, Schedule]],
        ingest: Callable | None = None,
        *,
        on_good_tick: Callable[[], None] | None = None,
        idle: float = 1.0,
        mail_sender: customer_mail.MailSender | None = None,
        mail_receiving: Callable[[], object] = lambda: False,
    ) -> None:
        self.store, self.clock, self.metrics, self.notifier = store, clock, metrics, notifier
        self._current = current
        self._ingest = ingest
        self._on_good_tick = on_good_tick
        self.idle = idle
        self._plan: tuple[Config, Plan] | None = None  # the plan of the config it was made from
        self.wake = asyncio.Event()
        self.started_at = clock.now()
        self.last_good_tick: datetime | None = None
        self._sending = asyncio.Semaphore(16)
        self._retention = retention.RetentionStage(store)
        self.results = SendResults(store)  # what each send did, written even when the database went away
        self._outmail = customer_mail.OutgoingMail(store, metrics, mail_sender, self.results)
        self._mail_receiving = mail_receiving  # true while the mail listener takes a message in (it goes first)
        self._targets_cfg: Config | None = None  # the config the request targets were last judged by
        # the fast path of a new incident that pages at once: its first step decided in the route stage and
        # written with its escalation (one transaction) instead of by the steps stage after another commit
        # and a read; False runs the readable reference (route, then steps), as the equivalence test does
        self.first_step_in_route = True
        # the fast path of the escalation stages with nothing to do: the stop stage asks the store once (after
        # routing) whether stop, steps and target have work at this tick's `now`, and each skips its own
        # reads when not (work stored after that read is seen by the next tick, as work stored after a stage's
        # own read always was; a page of an incident acknowledged meanwhile is not sent: dispatch checks its
        # state); False runs their reads every tick (tests/scenarios/test_engine_first_step.py)
        self.skip_idle_stages = True
        # the fast path of a storm's routing: one coverage decision per project, route and severity in a tick
        # without maintenance windows (route); False decides every incident (the equivalence test's reference)
        self.reuse_decisions = True
        self._handovers: set[tuple[str, datetime, str]] = set()  # hand-over claims asked (handover_notices)
        self._work: EscalationWork | None = None  # this tick's answer (None: not asked, every stage runs)
        # every tick, in this order
        self.stages: tuple[tuple[str, Stage], ...] = (
            ("route", self.route),  # new and reopened incidents: coverage decision, policy snapshot
            ("stop", self.stop),  # acknowledged or resolved: stop escalating, cancel queued pages
            ("steps", self.fire_steps),  # due escalation steps and desk notices into the outbox
            ("target", self.response_target),  # response targets missed; time to acknowledge observed
            ("dispatch", self.dispatch),  # the outbox: throttle, bundle, send
            ("heartbeats", self.heartbeats),  # a heartbeat silent past its timeout opens an incident
            ("retention", self.retention),  # raw bodies and delivery ids past storage.retention pruned
            ("mail", self.mail),  # stored incoming mail filed as tickets, replies, bounces (mail_desk)
            ("outmail", self.outmail),  # mail to customers about their tickets queued and sent (customer_mail)
            ("tickets", self.close_tickets),  # incidents' subjects searchable; resolved tickets closed after a while
            ("targets", self.request_targets),  # request targets turned at risk or breached: on the timeline once
            ("handover", self.handover),  # the incoming engineer of a rotation is told once
        )
        for name, _ in self.stages:
            metrics.engine_stage_failures.labels(name)

    def poke(self) -> None:
        self.wake.set()

    async def retention(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        await self._retention(cfg, now)

    async def outmail(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        if await self._outmail(cfg, now):
            self.poke()  # more changes waiting: the next tick takes the next batch

    def plan(self, cfg: Config) -> Plan:
        """The routing plan of `cfg`, made once per config. The config object itself is kept with it (not
        its id(): a reloaded config may be given the id of the freed one it replaced)."""
        if self._plan is None or self._plan[0] is not cfg:
            self._plan = (cfg, plan_of(cfg))
        return self._plan[1]

    async def run(self, pace: float = 0.02) -> None:
        """Recover the outbox, then tick at once (work that fell due while pagerd was down goes out now),
        then whenever poked (a new incident, a reply) and at least every `idle` seconds. Runs until
        cancelled; anything that raises outside a stage (the recovery, say) ends it: the daemon then exits
        non-zero.

        How ticks are paced adapts to the load. A poke that finds the engine waiting (no poke came while
        the tick before it ran) is served by a tick at once, so on a quiet node a page waits only for the
        tick's own work. Pokes that came while a tick ran mean load: the engine then pauses `pace` seconds
        before the next tick, so the webhook handlers run meanwhile and that tick takes all they stored as
        one batch (bundled per phone) instead of one tick per request."""
        await self.results.settle()  # this node's own sends recorded first: the recovery must not repeat them
        await self.store.recover_sending(self.clock.now())
        await self.tick()
        while True:
            if self.wake.is_set():  # poked while the last tick ran: under load, let more arrive first
                await asyncio.sleep(pace)
            else:  # idle: the next poke (or the idle timeout) starts a tick at once
                # asyncio.timeout, not wait_for: Python 3.11's wait_for returns a poke that comes in the same
                # turn as a cancel (the lease lost) and drops the cancel, and the engine would run on
                try:
                    async with asyncio.timeout(self.idle):
                        await self.wake.wait()
                except TimeoutError:
                    pass
            self.wake.clear()
            await self.tick()

    async def tick(self) -> bool:
        """Run every stage once; True when all of them succeeded (a good tick)."""
        now = self.clock.now()
        cfg, schedule = self._current()
        good = True
        self._work = None
        for name, stage in self.stages:
            try:
                await stage(cfg, schedule, now)
            except Exception:  # one failing stage must not stop the others; the next tick retries it
                good = False
                self.metrics.engine_stage_failures.labels(name).inc()
                log.exception("engine_stage_failed", stage=name)
        if good:
            self.last_good_tick = self.clock.now()
            self.metrics.engine_last_good_tick.set(self.last_good_tick.timestamp())
            if self._on_good_tick is not None:
                self._on_good_tick()
        return good

    def since_good_tick(self, now: datetime) -> timedelta:
        """How long ago the last good tick ended (before the first one: since the engine was made)."""
        return now - (self.last_good_tick or self.started_at)

    async def mail(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        # while a mail comes in, one mail only: the next tick comes when that one is stored (its poke)
        if (
            await mail_desk.process(self.store, cfg, self.metrics, now, receiving=self._mail_receiving)
            == mail_desk.BATCH
        ):
            self.poke()  # more waiting: the next tick takes the next batch

    async def close_tickets(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        # new incidents' subjects into the search index, and resolved tickets closed: queued together, they
        # share one group commit
        _, closed = await asyncio.gather(
            self.store.index_tickets(), self.store.close_resolved(now - cfg.desk.auto_close_after, now=now)
        )
        if closed:
            log.info("tickets_closed", numbers=closed[:50], count=len(closed))

    async def request_targets(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        if self._targets_cfg is not cfg:  # started, or a reload may have changed the targets or the calendar
            await self.store.rejudge_request_targets()
            self._targets_cfg = cfg  # held, not its id: a new config may reuse a freed one's id
        await targets.record_due(self.store, self.metrics, cfg, schedule.calendar, now)

    async def handover(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        await handover_notices(self.store, schedule, now, self._handovers)

    # -- route: a new (or reopened) incident gets its coverage decision and a policy snapshot ----------
    async def route(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        plan = self.plan(cfg)
        writes = []
        unrouted = await self.store.unrouted_incidents(limit=ROUTE_BATCH)
        if not unrouted:
            return
        # the customers' dated standby bookings, the maintenance windows still running or to come and the
        # overrides (who is on call, for the incidents that page at once): one read for all the tick routes
        state = await self.store.routing_state(now)
        booked: dict[str, list[Booking]] = {}
        for b in state.bookings:
            booked.setdefault(b.customer, []).append(b)
        windows = windows_of(state.maintenance)
        overrides = overrides_from(state.overrides)
        on_call = None
        debug = log.bind().debug  # once a tick: a module's logger is bound again at every call (logging.setup)
        customers = set(plan.customer_of)
        # the fast path of a storm's routing (`reuse_decisions`): with no maintenance window running or to come,
        # an incident's labels do not enter its decision (only a window matches labels), so every incident of
        # the tick with the same project, route and severity gets the same decision: it is made once
        decided: dict[tuple[str, int, str], PagingDecision] = {}
        async for inc in sliced(unrouted):
            # a paged ticket goes to its own project; an alert to its first matching route's
            desk = desk_project(inc.source, inc.labels, customers)
            route = None if desk is not None else dp.first_route(plan.routes, inc.labels)
            project = desk or (route.project if route is not None else plan.default_project)
            rows = booked.get(plan.customer_of.get(project, ""), [])
            key = (project, id(route), inc.severity)
            decision = decided.get(key) if self.reuse_decisions and not windows else None
            if decision is None:
                decision = decide(
                    plan,
                    schedule,
                    project=project,
                    route=route,
                    labels=inc.labels,
                    severity=inc.severity,
                    bookings=rows,
                    windows=windows,
                    now=now,
                )
                decided[key] = decision
            booking = None
            if decision.coverage.booking is not None and decision.action is Decision.PAGE:
                booking = next(
                    (
                        {"id": b.id, "start": json_instant(b.start), "end": json_instant(b.end)}
                        for b in rows
                        if (b.start, b.end) == decision.coverage.booking
                    ),
                    None,
                )
            policy = plan.policy(project)
            target = plan.targets.get(project) or response.ResponseTarget(escalate_at=cfg.paging.escalate_at)
            status, role, next_at, hold, window_id = _hold_of(decision)
            escalation = dict(
                incident_id=inc.id,
                generation=inc.generation,
                project=project,
                rotation=rotation_name(cfg, role),
                policy=plan.snapshot(policy),
                status=status,
                next_at=next_at,
                target_seconds=int(target.target.total_seconds()),
                reason=decision.reason,
            )
            first_step = None
            if self.first_step_in_route and status == "active" and next_at is not None and next_at <= now:
                if on_call is None:  # who is on call in each rotation, worked out once per tick
                    on_call = OnCallAt(schedule, overrides, now)
                first_step = self._first_step(
                    cfg, schedule, overrides, inc, escalation, decision.severity, now, on_call
                )
            writes.append(
                dict(
                    escalation,
                    booking=booking,
                    hold=hold,
                    maintenance_id=window_id,
                    severity=decision.severity,
                    messages=desk_messages(cfg, inc.id, inc.generation, now) if hold == "urgency" else None,
                    first_step=first_step,
                )
            )
            # the project, the rotation and the reason are on the incident's timeline (its `routed` event)
            # and in its response rounds; a line per new incident at info would repeat them under a storm
            debug(
                "incident_routed",
                incident_id=inc.id,
                project=project,
                paging=decision.page,
                action=decision.action.value,
                reason=decision.reason,
            )
        await self._create_escalations(writes, now)
        if len(unrouted) >= ROUTE_BATCH:
            self.poke()  # a storm: more wait, the next tick routes the next batch (a failed batch waits for a poke)

    async def _create_escalations(self, escalations: list[dict], now: datetime) -> None:
        """The tick's escalations written in one transaction. When that fails for another reason than the
        database (unreachable, or the lease lost: nothing could be written), each is written alone, so
        that one that cannot be written (its error raised: the stage failed) does not keep the others
        from paging."""
        try:
            await self.store.create_escalations(escalations, now)
            return
        except (Unavailable, LeaseLost):
            raise
        except Exception:
            if len(escalations) == 1:
                raise
            log.warning("escalations_written_one_by_one", count=len(escalations), exc_info=True)
        results = await asyncio.gather(
            *(self.store.create_escalations([e], now) for e in escalations), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r

    def _first_step(
        self,
        cfg: Config,
        schedule: Schedule,
        overrides,
        inc: UnroutedIncident,
        escalation: dict,
        severity: str,
        now: datetime,
        on_call: OnCallAt,
    ) -> dict:
        """The fast path of an incident that pages at once (`first_step_in_route`): its first step, decided
        by `_step` on the escalation as the steps stage would read it back, to be written with the
        escalation in one transaction (tests/scenarios/test_engine_first_step.py: the same rows and events as
        the route and steps stages one after the other)."""
        esc = Escalation(
            **escalation,
            step=-1,
            first_page_at=None,
            deadline_at=None,
            escalate_at=None,
            escalated_early=False,
            breached_at=None,
            created_at=now,
            state="triggered",
            summary=inc.summary,
            labels=inc.labels,
            severity=severity,
            incident_severity=inc.severity,
        )
        return self._step(cfg, schedule, overrides, esc, now, on_call)

    async def _redecide(self, cfg: Config, schedule: Schedule, esc: Escalation, now: datetime) -> Escalation | None:
        """A held (maintenance) or deferred (low urgency) escalation that came due, or whose incident's
        severity changed: decided again at `now`, as at routing. Returns the escalation when it now pages
        (its first step fires at once), else None."""
        plan = self.plan(cfg)
        route = dp.first_route(plan.routes, esc.labels)
        if route is not None and route.project != esc.project:
            route = None  # the config changed since: the project stays, the route's urgency no longer applies
        customer = plan.customer_of.get(esc.project, "")
        bookings = await self.store.list_bookings(customer, ending_after=now) if customer else []
        windows = windows_of(await self.store.list_maintenance(ending_after=now))
        decision = decide(
            plan,
            schedule,
            project=esc.project,
            route=route,
            labels=esc.labels,
            severity=esc.incident_severity,
            bookings=bookings,
            windows=windows,
            now=now,
        )
        if esc.hold == "maintenance":
            window = await self.store.get_maintenance(esc.maintenance_id) if esc.maintenance_id is not None else None
            if window is not None and window.removed_at is not None and window.removed_at <= now:
                why = f"maintenance window #{window.id} removed by {window.removed_by}"
            else:
                why = f"maintenance window #{esc.maintenance_id} ended"
            kind = "maintenance_ended"
        elif esc.next_at is not None and esc.next_at <= now:
            why, kind = "office opening", "office_opening"
        else:
            why, kind = f"severity now {decision.severity}", "urgency_raised"
        status, role, next_at, hold, window_id = _hold_of(decision)
        if (status, hold, window_id, next_at) == ("waiting", esc.hold, esc.maintenance_id, esc.next_at):
            # nothing changes (a severity that is still low): only the severity it was decided on
            kind = "urgency_checked"
        ok = await self.store.reroute_escalation(
            incident_id=esc.incident_id,
            generation=esc.generation,
            rotation=rotation_name(cfg, role),
            status=status,
            next_at=next_at,
            hold=hold,
            maintenance_id=window_id,
            severity=decision.severity,
            reason=decision.reason,
            messages=desk_messages(cfg, esc.incident_id, esc.generation, now) if hold == "urgency" else [],
            event={"kind": kind, "why": why, "action": decision.action.value, "reason": decision.reason},
            now=now,
        )
        log.info("incident_rerouted", incident_id=esc.incident_id, why=why, action=decision.action.value, ok=ok)
        if not ok or status != "active":
            return None
        return replace(esc, status="active", rotation=rotation_name(cfg, role), hold=None, maintenance_id=None)

    async def stop(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        if self.skip_idle_stages:  # one read, after routing: which of stop, steps and target have work now
            self._work = await self.store.escalation_work(now)
        if self._work is None or self._work.settled:
            await self.store.stop_settled(now)

    # -- escalation steps ------------------------------------------------------------------------------
    async def fire_steps(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        if self._work is not None and not self._work.steps:
            return
        due = await self.store.due_escalations(now, limit=STEP_BATCH)
        if not due:
            return
        overrides = overrides_from(await self.store.list_overrides())
        on_call = OnCallAt(schedule, overrides, now)  # each rotation's person at `now`, once per tick
        # each escalation's step is decided on its own, a slice at a time (each slice's steps start at the
        # turn of the loop that `sliced` gives); the writes are queued together (few group commits)
        fired = [
            asyncio.ensure_future(self._fire(cfg, schedule, overrides, esc, now, on_call)) async for esc in sliced(due)
        ]
        await asyncio.gather(*fired)
        if len(due) >= STEP_BATCH:
            self.poke()  # more are due: the next tick takes them

    async def _fire(
        self, cfg: Config, schedule: Schedule, overrides, esc: Escalation, now: datetime, on_call: OnCallAt
    ) -> None:
        if esc.status == "waiting" and esc.hold is not None:
            released = await self._redecide(cfg, schedule, esc, now)
            if released is None:
                return
            esc = released
        elif esc.status == "waiting":
            await self._desk_notice(cfg, esc, now)
            return
        await self.store.fire_step(
            incident_id=esc.incident_id,
            generation=esc.generation,
            now=now,
            **self._step(cfg, schedule, overrides, esc, now, on_call),
        )

    def _step(
        self, cfg: Config, schedule: Schedule, overrides, esc: Escalation, now: datetime, on_call: OnCallAt
    ) -> dict:
        """The next step of an active escalation at `now`: the keywords of `store.fire_step` but the
        incident, generation and `now` (its pages, when the step after it is due, the event)."""
        policy = self.plan(cfg).snapshots.policy_of(esc.policy)
        first = esc.first_page_at or now
        k = esc.step + 1
        due = dp.next_step(policy, first, esc.step)  # the step `incidents show` names as next (dp.next_action)
        if due is None:
            return {
                "k": k,
                "next_at": None,
                "messages": [],
                "first_page": False,
                "deadline": None,
                "escalate_at": None,
                "early": False,
                "final_status": "done",
                "event": {"kind": "escalation_exhausted", "steps": k},
            }
        people, notes = step_people(cfg, schedule, overrides, policy.steps[due.index], esc.rotation, now, on_call)
        messages = self._messages(cfg, esc, k, people, now)
        target = timedelta(seconds=esc.target_seconds)
        # escalate before the response target is missed
        next_at, early = dp.next_fire(policy, first, k, target, cfg.paging.escalate_at)
        esc_at = first + cfg.paging.escalate_at if cfg.paging.escalate_at is not None else None
        return {
            "k": k,
            "next_at": next_at,
            "messages": messages,
            "first_page": k == 0,
            "deadline": first + target if k == 0 else None,
            "escalate_at": esc_at if k == 0 else None,
            "early": early,
            "final_status": None if next_at is not None else "done",
            "event": {
                "kind": "paging" if k == 0 else "escalated",
                "step": due.index,
                "round": due.round,
                "people": people,
                "notes": notes,
                "messages": len(messages),
            },
        }

    def _messages(self, cfg: Config, esc: Escalation, k: int, people: list[str], now: datetime) -> list[dict]:
        return page_messages(cfg, esc.incident_id, esc.generation, k, people, now)

    async def _desk_notice(self, cfg: Config, esc: Escalation, now: datetime) -> None:
        messages = desk_messages(cfg, esc.incident_id, esc.generation, now)
        await self.store.fire_step(
            incident_id=esc.incident_id,
            generation=esc.generation,
            k=esc.step + 1,
            next_at=None,
            messages=messages,
            now=now,
            first_page=False,
            deadline=None,
            escalate_at=None,
            early=False,
            final_status="done",
            event={"kind": "desk_notified", "to": [m["address"] for m in messages]},
        )

    # -- the response target ---------------------------------------------------------------------------
    async def response_target(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        """Breaches: the store judges each round whose deadline passed (response.judge, in the
        transaction that reads its answer). Response times: each newly answered round, judged here."""
        work = self._work
        for b in await self.store.record_breaches(now) if work is None or work.breaches else []:
            self.metrics.breaches.inc()
            log.warning(
                "response_target_breached", incident_id=b.incident_id, round=b.round, deadline=json_instant(b.deadline)
            )
        for rnd in await self.store.unobserved_responses() if work is None or work.answered else []:
            record = response.judge(rnd, now)
            if record.seconds is not None:  # an answer that answers the page (response.RESOLVE_ANSWERS_PAGE)
                self.metrics.response.observe(record.seconds)

    # -- the outbox ------------------------------------------------------------------------------------
    async def dispatch(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        plan = self.plan(cfg)
        groups: dict[tuple[str, str], list[DueMessage]] = {}
        due = await self.store.due_messages(now, limit=SEND_BATCH)
        for m in due:
            if m.kind == "page" and m.state != "triggered":
                continue  # acknowledged or resolved: stop_settled cancels it
            groups.setdefault((m.channel, m.address), []).append(m)
        if groups:
            await asyncio.gather(
                *(self._send_group(cfg, schedule, plan, ch, addr, msgs, now) for (ch, addr), msgs in groups.items())
            )
        if len(due) >= SEND_BATCH:
            self.poke()  # more are due: the next tick sends them (bundled again per address)

    async def _send_group(
        self,
        cfg: Config,
        schedule: Schedule,
        plan: Plan,
        channel: str,
        address: str,
        msgs: list[DueMessage],
        now: datetime,
    ) -> None:
        async with self._sending:
            th = plan.throttles.get(channel)
            if th is not None:
                sent = await self.store.sent_since(address, channel, now - th.per)
                slot = dp.next_send_slot(th, sent, now)
                if slot > now:  # throttled: waits for the slot, then goes out bundled with what came meanwhile
                    await self.store.defer([m.id for m in msgs], slot)
                    return
            plain = [m for m in msgs if m.incident_id is None]
            if plain:  # a notice of its own (hand-over): sent as written; incident pages wait for the next slot
                m = plain[0]
                if await self.store.claim_messages(m.id, [m.id], m.body, now):
                    result = await self.notifier.send(
                        Message(id=str(m.id), channel=channel, to=address, body=m.body, subject=m.subject)
                    )
                    await self.results.record(
                        m.id,
                        sent=result.sent,
                        provider_id=result.provider_id,
                        error=result.error,
                        now=self.clock.now(),
                        retry_at=(retry_at := _retry_at(cfg, now, m.attempts + 1, result)),
                        simulated=result.simulated,
                    )
                    self.metrics.messages.labels(channel, outcome(result, retry_at)).inc()
                return
            # what a page says about an incident of several alerts (a group summarised, as page_summary
            # does): one read of their alerts' texts for the incidents the bundle's text can show (a storm's
            # SMS lists a few of its hundreds: the others' alerts are not read)
            shown = set(dp.bundle_shows(channel, [m.incident_id for m in msgs if m.incident_id is not None]))
            several = list({m.incident_id for m in msgs if m.incident_id in shown and (m.alert_count or 0) > 1})
            texts = await self.store.alert_texts(several) if several else {}
            summaries = {iid: messages.incident_summary(t.summary, t.alerts) for iid, t in texts.items()}
            pend = [
                dp.Pending(
                    id=m.id,
                    incident_id=m.incident_id or 0,
                    short_code=dp.short_code(m.incident_id) if m.incident_id else "",
                    summary=_sms_text(channel, summaries.get(m.incident_id or 0) or m.summary or m.body, now, schedule),
                    project=m.project or "",
                )
                for m in msgs
            ]
            person = msgs[0].person or ""
            incident_ids = sorted({p.incident_id for p in pend})
            first_incident = incident_ids[0] if incident_ids else None
            link_map = {}
            keys = Keyring.of(cfg.auth)
            if len(incident_ids) == 1 and first_incident:
                exp = now + cfg.notifier.link_ttl
                # signed for the round whose escalation queued the page: it stops acting once the incident reopens
                generation = max(m.generation or 0 for m in msgs if m.incident_id == first_incident)
                for action in links.ACTIONS:
                    token = links.sign(keys, first_incident, action, person, exp, generation=generation)
                    link_map[action] = f"{cfg.server.public_url}/l/{token}"
            # the SMS carries one link: its page offers acknowledge, resolve and escalate
            sms_link = link_map.get("ack", "") if channel == "sms" else ""
            b = dp.bundle(channel, pend, link=sms_link)
            carrier = min(b.ids)
            # the outbox keeps the text without the link's token (a link acts for whoever holds it)
            kept = b.body.replace(sms_link, f"{cfg.server.public_url}/l/[link]") if sms_link else b.body
            if not await self.store.claim_messages(carrier, list(b.ids), kept, now):
                return
            body = b.body
            subject = b.subject if channel == "email" else ""  # one line (pager.domain.paging.one_line)
            if channel == "email" and len(b.incident_ids) == 1 and first_incident:
                inc = await self.store.get_incident(first_incident)
                if inc is not None:
                    lines = [f"  {e.at:%Y-%m-%d %H:%M:%S}Z  {e.kind:<16} {e.actor or ''}" for e in inc.timeline[-30:]]
                    body = f"{body}\nTimeline:\n" + "\n".join(lines) + "\n"
            msg = Message(
                id=str(carrier),
                channel=channel,
                to=address,
                body=body,
                subject=subject[:200],
                incident_id=first_incident,
                short_code=dp.short_code(first_incident) if first_incident else "",
                links=link_map,
            )
            result = await self.notifier.send(msg)
            attempts = max(m.attempts for m in msgs) + 1  # a bundle's retries go on from its most-tried page
            retry_at = _retry_at(cfg, now, attempts, result)
            await self.results.record(
                carrier,
                sent=result.sent,
                provider_id=result.provider_id,
                error=result.error,
                retry_at=retry_at,
                now=self.clock.now(),
                simulated=result.simulated,
            )
            result_label = outcome(result, retry_at)
            self.metrics.messages.labels(channel, result_label).inc()
            log.info(
                "message_failed" if not result.sent else f"message_{result_label}",
                channel=channel,
                message_id=carrier,
                incidents=list(b.incident_ids)[:20],
                bundled=len(b.ids),
                error=result.error,
                attempts=attempts,
                retry_at=json_instant(retry_at) if retry_at else None,
            )

    # -- heartbeats ------------------------------------------------------------------------------------
    async def heartbeats(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        if not cfg.heartbeats or self._ingest is None:
            return
        seen = await self.store.heartbeats()
        for name, hb in cfg.heartbeats.items():
            # armed by its first check-in: one that never checked in is waiting, not silent (domain.heartbeat)
            status = heartbeat_status(seen.get(name), hb.timeout, now)
            if status.state is HeartbeatState.OVERDUE and status.last_seen is not None:
                last = status.last_seen
                labels = {"heartbeat": name, **hb.labels}
                alert = Alert(
                    source=Source.HEARTBEAT,
                    dedup_key=name,
                    fingerprint=name,
                    action=Action.TRIGGER,
                    event_id=stable_id("hb", name, json_instant(last)),
                    summary=f"heartbeat {name} silent since {last.isoformat(timespec='seconds')}",
                    severity="critical",
                    labels=labels,
                )
                await self._ingest(Source.HEARTBEAT, [alert])

    async def heartbeat_received(self, name: str, source: str) -> None:
        """A check-in: store it, and resolve the silence incident if one is open."""
        now = self.clock.now()
        await self.store.beat(name, source, now)
        open_ = [
            i
            for i in await self.store.list_incidents(source="heartbeat", limit=1000)
            if i.dedup_key == name and i.state != "resolved"
        ]
        if open_ and self._ingest is not None:
            alert = Alert(
                source=Source.HEARTBEAT,
                dedup_key=name,
                fingerprint=name,
                action=Action.RESOLVE,
                event_id=stable_id("hb-ok", name, now.isoformat()),
                summary=f"heartbeat {name} is back",
                severity="",
                labels={},
            )
            await self._ingest(Source.HEARTBEAT, [alert])
