"""The engine: one repeatable tick over due work in the store, in ordered stages (routing, stopping,
escalation steps, the response target, the outbox, heartbeats, hand-over notices). A restart or a crash
loses nothing: every decision is re-derived from stored state; messages carry a stable id (at-least-once,
never silently dropped)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog

from pager.clock import Clock
from pager.config import Config
from pager.domain import paging as dp
from pager.domain import response
from pager.domain.alert import Action, Alert, Source, stable_id
from pager.notify.base import Message, Notifier, SendResult
from pager.observe.metrics import Metrics
from pager.service import links, retention
from pager.service.handover import handover_notices
from pager.service.schedule import Schedule, overrides_from
from pager.service.signing import Keyring
from pager.storage.port import Booking, DueMessage, Escalation, json_instant

log = structlog.get_logger("pagerd.engine")

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


def plan_of(cfg: Config) -> Plan:
    routes = tuple(dp.Route(project=r.project, match=dict(r.match), match_re=dict(r.match_re)) for r in cfg.routes)
    coverage, policy_of, targets, customer_of = {}, {}, {}, {}
    for cid, cust in cfg.customers.items():
        for pid, proj in cust.projects.items():
            name = f"{cid}/{pid}"
            customer_of[name] = cid
            from pager.domain.calendar import Period

            coverage[name] = dp.ProjectCoverage(
                project=name,
                mode=dp.Coverage(proj.coverage),
                standby_periods=frozenset(Period(p) for p in proj.standby),
            )
            policy_of[name] = proj.policy
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
        routes, coverage, policies, policy_of, targets, throttles, cfg.paging.default_project or UNROUTED, customer_of
    )


def _retry_at(cfg: Config, now: datetime, attempts: int, result: SendResult) -> datetime | None:
    """When a message whose `attempts`-th attempt just ended in `result` is tried again (None: it went out,
    or it failed for good)."""
    if result.sent or not result.recoverable:
        return None
    wait = timedelta(seconds=result.retry_after) if result.retry_after is not None else None
    return dp.next_attempt_at(now, attempts, cfg.notifier.max_attempts, wait)


# a stage: reconcile one kind of due work with the stored state, at `now`
Stage = Callable[[Config, Schedule, datetime], Awaitable[None]]


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
    ) -> None:
        self.store, self.clock, self.metrics, self.notifier = store, clock, metrics, notifier
        self._current = current
        self._ingest = ingest
        self._on_good_tick = on_good_tick
        self.idle = idle
        self._plans: dict[int, Plan] = {}
        self.wake = asyncio.Event()
        self.started_at = clock.now()
        self.last_good_tick: datetime | None = None
        self._sending = asyncio.Semaphore(16)
        self._retention = retention.RetentionStage(store)
        # every tick, in this order
        self.stages: tuple[tuple[str, Stage], ...] = (
            ("route", self.route),  # new and reopened incidents: coverage decision, policy snapshot
            ("stop", self.stop),  # acknowledged or resolved: stop escalating, cancel queued pages
            ("steps", self.fire_steps),  # due escalation steps and desk notices into the outbox
            ("target", self.response_target),  # response targets missed; time to acknowledge observed
            ("dispatch", self.dispatch),  # the outbox: throttle, bundle, send
            ("heartbeats", self.heartbeats),  # a heartbeat silent past its timeout opens an incident
            ("retention", self.retention),  # raw bodies and delivery ids past storage.retention pruned
            ("handover", self.handover),  # the incoming engineer of a rotation is told once
        )
        for name, _ in self.stages:
            metrics.engine_stage_failures.labels(name)

    def poke(self) -> None:
        self.wake.set()

    async def retention(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        await self._retention(cfg, now)

    def plan(self, cfg: Config) -> Plan:
        key = id(cfg)
        if key not in self._plans:
            self._plans = {key: plan_of(cfg)}
        return self._plans[key]

    async def run(self, pace: float = 0.02) -> None:
        """Recover the outbox, then tick at once (work that fell due while pagerd was down goes out now),
        then whenever poked (a new incident, a reply) and at least every `idle` seconds; pokes that come
        while a tick runs, or within `pace` seconds after it, are served by one next tick, so a storm of
        webhooks is handled in batches instead of one tick per request. Runs until cancelled; anything
        that raises outside a stage (the recovery, say) ends it: the daemon then exits non-zero."""
        await self.store.recover_sending(self.clock.now())
        await self.tick()
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=self.idle)
            except TimeoutError:
                pass
            await asyncio.sleep(pace)
            self.wake.clear()
            await self.tick()

    async def tick(self) -> bool:
        """Run every stage once; True when all of them succeeded (a good tick)."""
        now = self.clock.now()
        cfg, schedule = self._current()
        good = True
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

    async def handover(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        await handover_notices(self.store, schedule, now)

    # -- route: a new (or reopened) incident gets its coverage decision and a policy snapshot ----------
    async def route(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        plan = self.plan(cfg)
        writes = []
        unrouted = await self.store.unrouted_incidents()
        if not unrouted:
            return
        # the customers' dated standby bookings still running or to come: read once per tick
        booked: dict[str, list[Booking]] = {}
        for b in await self.store.list_bookings(ending_after=now):
            booked.setdefault(b.customer, []).append(b)
        for inc in unrouted:
            project = dp.route_for(plan.routes, inc.labels, plan.default_project)
            cov = plan.coverage.get(project) or dp.ProjectCoverage(project=project, mode=dp.Coverage.ALWAYS)
            rows = booked.get(plan.customer_of.get(project, ""), [])
            if rows:
                cov = replace(cov, bookings=tuple((b.start, b.end) for b in rows))
            decision = dp.decide_coverage(cov, schedule.calendar, now)
            booking = None
            if decision.booking is not None:
                booking = next(
                    (
                        {"id": b.id, "start": json_instant(b.start), "end": json_instant(b.end)}
                        for b in rows
                        if (b.start, b.end) == decision.booking
                    ),
                    None,
                )
            policy = plan.policies.get(plan.policy_of.get(project, "default")) or plan.policies["default"]
            target = plan.targets.get(project) or response.ResponseTarget(escalate_at=cfg.paging.escalate_at)
            rotation = None
            if decision.page:
                rotation = cfg.paging.office_rotation if decision.rotation == "office" else cfg.paging.standby_rotation
            writes.append(
                self.store.create_escalation(
                    incident_id=inc.id,
                    generation=inc.generation,
                    project=project,
                    rotation=rotation,
                    policy=policy.to_json(),
                    status="active" if decision.page else "waiting",
                    next_at=now if decision.page else decision.notify_desk_at,
                    target_seconds=int(target.target.total_seconds()),
                    reason=decision.reason,
                    now=now,
                    booking=booking,
                )
            )
            # the project, the rotation and the reason are on the incident's timeline (its `routed` event)
            # and in its response rounds; a line per new incident at info would repeat them under a storm
            log.debug(
                "incident_routed", incident_id=inc.id, project=project, paging=decision.page, reason=decision.reason
            )
        # queued together, they share one group commit
        await asyncio.gather(*writes)

    async def stop(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        await self.store.stop_settled(now)

    # -- escalation steps ------------------------------------------------------------------------------
    async def fire_steps(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        due = await self.store.due_escalations(now)
        if not due:
            return
        overrides = overrides_from(await self.store.list_overrides())
        # each escalation's step is decided on its own; the writes are queued together (one group commit)
        await asyncio.gather(*(self._fire(cfg, schedule, overrides, esc, now) for esc in due))

    async def _fire(self, cfg: Config, schedule: Schedule, overrides, esc: Escalation, now: datetime) -> None:
        if esc.status == "waiting":
            await self._desk_notice(cfg, esc, now)
            return
        policy = dp.Policy.from_json(esc.policy)
        first = esc.first_page_at or now
        k = esc.step + 1
        due = dp.step_at(policy, first, k)
        if due is None:
            await self.store.fire_step(
                incident_id=esc.incident_id,
                generation=esc.generation,
                k=k,
                next_at=None,
                messages=[],
                now=now,
                first_page=False,
                deadline=None,
                escalate_at=None,
                early=False,
                final_status="done",
                event={"kind": "escalation_exhausted", "steps": k},
            )
            return
        people, notes = self._targets(cfg, schedule, overrides, policy.steps[due.index], esc.rotation, now)
        messages = self._messages(cfg, esc, k, people, now)
        target = timedelta(seconds=esc.target_seconds)
        nxt = dp.step_at(policy, first, k + 1)
        next_at = nxt.at if nxt else None
        early = False
        esc_at = first + cfg.paging.escalate_at if cfg.paging.escalate_at is not None else None
        if k == 0 and esc_at is not None and esc_at < first + target and (next_at is None or next_at > esc_at):
            next_at, early = esc_at, True  # escalate before the response target is missed
        await self.store.fire_step(
            incident_id=esc.incident_id,
            generation=esc.generation,
            k=k,
            next_at=next_at,
            messages=messages,
            now=now,
            first_page=(k == 0),
            deadline=first + target if k == 0 else None,
            escalate_at=esc_at if k == 0 else None,
            early=early,
            final_status=None if next_at is not None else "done",
            event={
                "kind": "paging" if k == 0 else "escalated",
                "step": due.index,
                "round": due.round,
                "people": people,
                "notes": notes,
                "messages": len(messages),
            },
        )

    def _targets(
        self, cfg: Config, schedule: Schedule, overrides, step, rotation: str | None, now: datetime
    ) -> tuple[list[str], list[str]]:
        people: list[str] = []
        notes: list[str] = []

        def on_call(name: str | None) -> str | None:
            if not name or name not in schedule.rotations:
                return None
            return schedule.on_call(now, overrides, name)[0]["person"]

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

    def _messages(self, cfg: Config, esc: Escalation, k: int, people: list[str], now: datetime) -> list[dict]:
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
                        "idem_key": f"{esc.incident_id}:{esc.generation}:{k}:{person}:{channel}:{i}",
                        "person": person,
                        "channel": channel,
                        "address": address,
                        "kind": "page",
                        "due_at": due,
                    }
                )
        return out

    async def _desk_notice(self, cfg: Config, esc: Escalation, now: datetime) -> None:
        messages = []
        for person in cfg.desk.people:
            p = cfg.people.get(person)
            if p and p.email:
                messages.append(
                    {
                        "idem_key": f"{esc.incident_id}:{esc.generation}:desk:{person}",
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
                    "idem_key": f"{esc.incident_id}:{esc.generation}:desk:address",
                    "person": None,
                    "channel": "email",
                    "address": cfg.desk.email,
                    "kind": "desk",
                    "due_at": now,
                }
            )
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
        for b in await self.store.record_breaches(now):
            self.metrics.breaches.inc()
            log.warning(
                "response_target_breached", incident_id=b.incident_id, round=b.round, deadline=json_instant(b.deadline)
            )
        for rnd in await self.store.unobserved_responses():
            record = response.judge(rnd, now)
            if record.seconds is not None:  # an answer that answers the page (response.RESOLVE_ANSWERS_PAGE)
                self.metrics.response.observe(record.seconds)

    # -- the outbox ------------------------------------------------------------------------------------
    async def dispatch(self, cfg: Config, schedule: Schedule, now: datetime) -> None:
        plan = self.plan(cfg)
        groups: dict[tuple[str, str], list[DueMessage]] = {}
        for m in await self.store.due_messages(now):
            if m.kind == "page" and m.state != "triggered":
                continue  # acknowledged or resolved: stop_settled cancels it
            groups.setdefault((m.channel, m.address), []).append(m)
        if groups:
            await asyncio.gather(
                *(self._send_group(cfg, plan, ch, addr, msgs, now) for (ch, addr), msgs in groups.items())
            )

    async def _send_group(
        self, cfg: Config, plan: Plan, channel: str, address: str, msgs: list[DueMessage], now: datetime
    ) -> None:
        async with self._sending:
            th = plan.throttles.get(channel)
            if th is not None:
                sent = await self.store.sent_since(address, channel, now - th.per)
                slot = dp.next_send_slot(th, sent, now)
                if slot > now:  # throttled: waits for the slot, then goes out bundled with what came meanwhile
                    await self.store.defer(channel, address, slot)
                    return
            plain = [m for m in msgs if m.incident_id is None]
            if plain:  # a notice of its own (hand-over): sent as written; incident pages wait for the next slot
                m = plain[0]
                if await self.store.claim_messages(m.id, [m.id], m.body, now):
                    result = await self.notifier.send(
                        Message(id=str(m.id), channel=channel, to=address, body=m.body, subject=m.subject)
                    )
                    await self.store.finish_message(
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
            pend = [
                dp.Pending(
                    id=m.id,
                    incident_id=m.incident_id or 0,
                    short_code=dp.short_code(m.incident_id) if m.incident_id else "",
                    summary=m.summary or m.body,
                    project=m.project or "",
                )
                for m in msgs
            ]
            b = dp.bundle(channel, pend)
            carrier = min(b.ids)
            if not await self.store.claim_messages(carrier, list(b.ids), b.body, now):
                return
            person = msgs[0].person or ""
            first_incident = b.incident_ids[0] if b.incident_ids else None
            link_map = {}
            keys = Keyring.of(cfg.auth)
            if len(b.incident_ids) == 1 and first_incident:
                exp = now + cfg.notifier.link_ttl
                # signed for the round whose escalation queued the page: it stops acting once the incident reopens
                generation = max(m.generation or 0 for m in msgs if m.incident_id == first_incident)
                for action in links.ACTIONS:
                    token = links.sign(keys, first_incident, action, person, exp, generation=generation)
                    link_map[action] = f"{cfg.server.public_url}/l/{token}"
            body = b.body
            if channel == "sms" and "ack" in link_map:
                body = f"{body} {link_map['ack']}"
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
            await self.store.finish_message(
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
            last = seen.get(name) or self.started_at
            if now - last > hb.timeout:
                labels = {"heartbeat": name, **hb.labels}
                alert = Alert(
                    source=Source.HEARTBEAT,
                    dedup_key=name,
                    fingerprint=name,
                    action=Action.TRIGGER,
                    event_id=stable_id(
                        "hb", name, json_instant(seen[name]) if name in seen else self.started_at.isoformat()
                    ),
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
