"""A scenario harness that reads as a timeline (STYLE.md habit 8, after GoAlert's test/smoke):

    async with Scenario(tmp_path, "2026-11-24 10:00") as s:     # a Tuesday, Europe/Amsterdam
        iid = await s.fire({"customer": "agency"})
        assert s.log() == [("Tue 10:00", "email", "chris"), ("Tue 10:00", "sms", "chris")]
        await s.at("10:02")
        assert s.log(since="10:01") == [("Tue 10:02", "voice", "chris")]
        await s.reply("chris", "1")

Real where they can run: the example config, the SQLite store on a file, the paging engine, and
the aiohttp application itself (an SMS reply is a Twilio-signed POST to /twilio/sms; `incident`
reads GET /api/v1/incidents/{id}). Stand-ins: a ManualClock, and a RecordingNotifier for the phones
and mailboxes (it outlives `restart`, as the outside world outlives a crash of pagerd).

Time moves only through `at` / `advance`: the clock goes forward in steps of 30 s and the engine
ticks once per step (and again at the same instant while a tick still sends something, as the
daemon's 1-s ticks would). With `fast_forward` (the default) a step at which the store holds no
due work is skipped: such a tick changes nothing, so skipping it changes nothing but the run time
(the Wednesday-night story runs without it, every 30 s, as a cross-check).
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer
from twilio.request_validator import RequestValidator

from pager import config as config_mod
from pager.app import policy
from pager.clock import ManualClock
from pager.domain.alert import Source
from pager.notify.base import Message, SendResult
from pager.observe.metrics import Metrics
from pager.service.ingest import ingest
from pager.service.paging import PagingEngine
from pager.service.schedule import Schedule
from pager.sources import alertmanager
from pager.storage.sqlite import SqliteStore
from pager.web.app import build_app
from pager.web.keys import Runtime
from tests.harness.pagerd import EXAMPLE_ENV

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "pagerd.example.yaml"
FIRING = ROOT / "tests" / "testdata" / "alertmanager" / "firing.json"
ZONE = ZoneInfo("Europe/Amsterdam")
TWILIO_TOKEN = "scenario-twilio-auth-token"  # only signs the scenario's own SMS replies
STEP = timedelta(seconds=30)
MAX_SETTLE_TICKS = 20


# ---------------------------------------------------------------------------------- the phones


@dataclass(frozen=True)
class Sent:
    """One delivery attempt as the outside world saw it."""

    at: datetime  # UTC
    message: Message
    ok: bool

    @property
    def channel(self) -> str:
        return self.message.channel

    @property
    def to(self) -> str:
        return self.message.to

    @property
    def body(self) -> str:
        return self.message.body

    @property
    def when(self) -> str:
        return local_text(self.at)


class RecordingNotifier:
    """The Notifier contract (pager/notify/base.py) for every channel: records each message with
    the clock's time and answers sent=True, unless told to fail a channel."""

    channels = frozenset({"sms", "voice", "email"})

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.attempts: list[Sent] = []
        self._failing: dict[str, bool] = {}  # channel -> recoverable

    def fail(self, channel: str, *, recoverable: bool = False) -> None:
        self._failing[channel] = recoverable

    def heal(self, channel: str) -> None:
        self._failing.pop(channel, None)

    @property
    def delivered(self) -> list[Sent]:
        return [a for a in self.attempts if a.ok]

    async def send(self, msg: Message) -> SendResult:
        if msg.channel in self._failing:
            self.attempts.append(Sent(self.clock.now(), msg, ok=False))
            return SendResult(sent=False, recoverable=self._failing[msg.channel], error=f"{msg.channel} is down")
        self.attempts.append(Sent(self.clock.now(), msg, ok=True))
        return SendResult(sent=True, recoverable=False, provider_id=f"REC{len(self.attempts):06d}")

    async def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------- time text


def local_text(at: datetime) -> str:
    """ "Tue 10:02", or "Tue 10:02:30" when the seconds matter (Europe/Amsterdam)."""
    wall = at.astimezone(ZONE)
    return wall.strftime("%a %H:%M:%S" if wall.second else "%a %H:%M")


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


# ---------------------------------------------------------------------------------- the scenario


class Scenario:
    def __init__(
        self,
        tmp_path: Path,
        start: str,
        *,
        fast_forward: bool = True,
        step: timedelta = STEP,
        config_path: Path = EXAMPLE_CONFIG,
    ) -> None:
        self.db = tmp_path / "pagerd.db"
        # the notifier is the scenario's recorder; the config's own is dry_run (EXAMPLE_ENV)
        env = {**EXAMPLE_ENV, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
        self.config = config_mod.load(str(config_path), env=env)
        self.config_path = str(config_path)
        self.schedule = Schedule(self.config)
        self.clock = ManualClock(datetime.fromisoformat(start).replace(tzinfo=ZONE))
        self.notifier = RecordingNotifier(self.clock)
        self.fast_forward = fast_forward
        self.step = step
        self.metrics = Metrics()
        self.restarts = 0
        self.ticks = 0
        self._fired = 0
        self._replies = 0
        self.store: SqliteStore | None = None
        self.engine: PagingEngine | None = None
        self.http: TestClient | None = None
        self._db: sqlite3.Connection | None = None

    # -- life ------------------------------------------------------------------------------------
    async def __aenter__(self) -> Scenario:
        await self._boot()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._shutdown()

    async def _boot(self) -> None:
        self.store = SqliteStore(str(self.db), policy(self.config), clock=self.clock, synchronous="NORMAL")
        await self.store.open()
        self.engine = PagingEngine(
            self.store, self.clock, self.metrics, self.notifier, lambda: (self.config, self.schedule)
        )  # no ingest: no heartbeat pages
        await self.store.recover_sending(self.clock.now())  # what PagingEngine.run() does first
        runtime = Runtime(
            config=self.config,
            config_path=self.config_path,
            store=self.store,
            metrics=self.metrics,
            clock=self.clock,
            schedule=self.schedule,
            ready=True,
            engine=self.engine,
        )
        self.http = TestClient(TestServer(build_app(runtime)))
        await self.http.start_server()
        self._db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)

    async def _shutdown(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.store is not None:
            await self.store.close()
        if self._db is not None:
            self._db.close()
        self.http = self.store = self.engine = self._db = None

    async def restart(self) -> None:
        """pagerd stops and starts again on the same database file: a new store, a new engine and a
        new metrics registry (a new process); the clock and the phones carry on."""
        await self._shutdown()
        self.metrics = Metrics()
        self.restarts += 1
        await self._boot()

    # -- alerts in -------------------------------------------------------------------------------
    async def fire(
        self,
        labels: dict[str, str],
        *,
        group: str | None = None,
        summary: str | None = None,
        settle: bool = True,
        resolved: bool = False,
    ) -> int:
        """An Alertmanager notification (tests/testdata/alertmanager/firing.json, one alert with
        `labels`) through the ingest pipeline; then the engine ticks, as the webhook's poke makes it.
        With `resolved`, the notification that the group's alert has cleared. Returns the incident id."""
        self._fired += 1
        group = group or f'{{}}:{{scenario="{self._fired}"}}'
        labels = {"alertname": "ScenarioAlert", "severity": "critical", **labels}
        summary = summary or f"{labels['alertname']} for {labels.get('customer', '?')}" + (
            f" {labels['service']}" if "service" in labels else ""
        )
        doc = json.loads(FIRING.read_text())
        alert = dict(doc["alerts"][0])
        now = self.clock.now().isoformat().replace("+00:00", "Z")
        alert.update(
            labels=labels,
            annotations={"summary": summary},
            startsAt=now,
            fingerprint=hashlib.sha256(group.encode()).hexdigest()[:16],
        )
        if resolved:
            alert.update(status="resolved", endsAt=now)
        doc.update(
            groupKey=group,
            groupLabels={"alertname": labels["alertname"]},
            commonLabels=labels,
            commonAnnotations={"summary": summary},
            alerts=[alert],
            status=alert["status"],
        )
        body = json.dumps(doc).encode()
        alerts, facts = alertmanager.parse(body)
        result = await ingest(
            self.store, self.metrics, self.clock, Source.ALERTMANAGER, "application/json", body, alerts, facts
        )
        (iid,) = result.incident_ids
        if settle:
            await self.settle()
        return iid

    # -- replies in ------------------------------------------------------------------------------
    async def reply(self, person: str, text: str = "1", *, sid: str | None = None) -> str:
        """`person` answers the last message on their phone with an SMS: a Twilio-signed POST to
        /twilio/sms, handled by pagerd's own handler. Returns pagerd's answer text. `sid`: the
        MessageSid (a new one for each reply unless given: the same one again is a repeat)."""
        self._replies += 1
        url = self.config.server.public_url + "/twilio/sms"
        form = {
            "AccountSid": "AC" + "0" * 32,
            "MessageSid": sid or f"SM{self._replies:032x}",
            "From": self.config.people[person].phone,
            "To": "+3197010000000",
            "Body": text,
        }
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        resp = await self.http.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": signature})
        assert resp.status == 200, await resp.text()
        twiml = await resp.text()
        await self.settle()  # the handler pokes the engine
        return "".join(ET.fromstring(twiml).itertext()).strip()

    # -- time ------------------------------------------------------------------------------------
    def instant(self, when: str) -> datetime:
        """ "10:02", "10:02:30" (today, local) or "2026-11-26 08:30" -> UTC."""
        if len(when) <= 8:
            today: date = self.clock.now().astimezone(ZONE).date()
            when = f"{today.isoformat()} {when}"
        return datetime.fromisoformat(when).replace(tzinfo=ZONE).astimezone(timezone.utc)

    async def at(self, when: str) -> None:
        await self._run_until(self.instant(when))

    async def advance(self, *, hours: float = 0, minutes: float = 0, seconds: float = 0) -> None:
        await self._run_until(self.clock.now() + timedelta(hours=hours, minutes=minutes, seconds=seconds))

    async def _run_until(self, end: datetime) -> None:
        now = self.clock.now()
        if end < now:
            raise ValueError(f"time does not go backwards: {local_text(end)} is before {local_text(now)}")
        while now < end:
            nxt = now + self.step
            if self.fast_forward:
                due = self._next_due()
                if due is None:
                    nxt = end
                elif due > nxt:  # the first 30-s step at or after the due work
                    nxt = now + self.step * math.ceil((due - now) / self.step)
            now = min(nxt, end)
            self.clock.set(now)
            await self.settle()

    async def settle(self) -> None:
        """One engine tick at the current instant, repeated while a tick still sends."""
        for _ in range(MAX_SETTLE_TICKS):
            before = len(self.notifier.attempts)
            await self.engine.tick()
            self.ticks += 1
            if len(self.notifier.attempts) == before:
                return
        raise AssertionError(f"the engine still sends after {MAX_SETTLE_TICKS} ticks at {local_text(self.clock.now())}")

    def _next_due(self) -> datetime | None:
        """The earliest instant at which a tick would change something, by what each engine stage
        reads: new incidents to route, settled ones to stop, escalation steps and desk notices,
        pending messages, response deadlines to judge, answers to observe, request targets turning at
        risk or breached. (No heartbeats: the
        scenario's engine has no ingest, so it never opens heartbeat incidents.)"""
        row = self.query("""
            SELECT min(t) FROM (
              SELECT min(i.created_at) AS t FROM incidents i WHERE i.state = 'triggered' AND NOT EXISTS
                (SELECT 1 FROM escalations e WHERE e.incident_id = i.id AND e.generation = i.reopen_count)
              UNION ALL SELECT min(e.created_at) FROM escalations e JOIN incidents i ON i.id = e.incident_id
                WHERE e.status IN ('active', 'waiting') AND i.state != 'triggered'
              UNION ALL SELECT min(next_at) FROM escalations WHERE status IN ('active', 'waiting')
              UNION ALL SELECT min(due_at) FROM outbox WHERE status = 'pending'
              UNION ALL SELECT min(deadline_at) FROM escalations WHERE target_settled = 0
              UNION ALL SELECT min(answered_at) FROM escalations
                WHERE response_observed = 0 AND answered_at IS NOT NULL AND first_page_at IS NOT NULL
              UNION ALL SELECT min(targets_next_at) FROM tickets WHERE kind = 'request'
                AND status IN ('new', 'open', 'waiting_on_customer') AND targets_next_at BETWEEN '0' AND '9999')""")
        return _parse_iso(row[0][0]) if row and row[0][0] else None

    # -- what happened ---------------------------------------------------------------------------
    def who(self, address: str) -> str:
        """The person (or "desk") an address belongs to."""
        for pid, p in self.config.people.items():
            if address in (p.phone, p.email):
                return pid
        return "desk" if address == self.config.desk.email else address

    def sent(
        self,
        *,
        to: str | None = None,
        channel: str | None = None,
        since: str | None = None,
        until: str | None = None,
        failed: bool = False,
        handovers: bool = False,
    ) -> list[Sent]:
        """Messages delivered (or, with failed=True, attempts that failed), filtered by person id,
        "desk" or address, by channel, and by [since, until] (local times, as for `at`). The engine's
        hand-over notices (tied to no incident; tests/unit/test_handover.py) only with handovers=True."""
        lo = self.instant(since) if since else None
        hi = self.instant(until) if until else None
        out = []
        for a in self.notifier.attempts:
            if a.ok == failed:
                continue
            if a.message.incident_id is None and not handovers:
                continue
            if to is not None and to not in (a.to, self.who(a.to)):
                continue
            if channel is not None and a.channel != channel:
                continue
            if (lo and a.at < lo) or (hi and a.at > hi):
                continue
            out.append(a)
        return out

    def log(self, **filters) -> list[tuple[str, str, str]]:
        """`sent` as a timeline: (local time, channel, person), in time order."""
        rows = sorted(self.sent(**filters), key=lambda a: (a.at, self.who(a.to), a.channel))
        return [(a.when, a.channel, self.who(a.to)) for a in rows]

    async def incident(self, iid: int) -> dict:
        """The incident as the API shows it (GET /api/v1/incidents/{id}), with its `response`."""
        resp = await self.http.get(
            f"/api/v1/incidents/{iid}",
            headers={"Authorization": f"Bearer {self.config.auth.admin_token.get_secret_value()}"},
        )
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def api(self, method: str, path: str, payload: object | None = None) -> tuple[int, object]:
        """An admin API call through pagerd's own application: (status, parsed JSON)."""
        resp = await self.http.request(
            method,
            path,
            json=payload,
            headers={"Authorization": f"Bearer {self.config.auth.admin_token.get_secret_value()}"},
        )
        return resp.status, await resp.json()

    async def events(self, iid: int, *kinds: str) -> list[tuple[str, str]]:
        """(local time, kind) of the incident's timeline, optionally only these kinds."""
        return [
            (local_text(_parse_iso(e["at"])), e["kind"])
            for e in (await self.incident(iid))["timeline"]
            if not kinds or e["kind"] in kinds
        ]

    async def steps(self, iid: int) -> list[tuple[str, list[str]]]:
        """(local time, people) of each escalation step that fired for the incident."""
        return [
            (local_text(_parse_iso(e["at"])), e["data"]["people"])
            for e in (await self.incident(iid))["timeline"]
            if e["kind"] in ("paging", "escalated")
        ]

    def query(self, sql: str, *args) -> list[tuple]:
        """A read-only look at the store's tables."""
        return self._db.execute(sql, args).fetchall()

    def on_call(self, rotation: str) -> str | None:
        return self.schedule.on_call(self.clock.now(), [], rotation)[0]["person"]
