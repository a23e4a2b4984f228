"""The memo of target outcomes (pager.service.targets.KnownOutcomes): it answers what judging answers at
every instant, keeps each outcome until time alone may change it, judges a ticket that moved again, and
forgets all with a new config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pager.config import load
from pager.config.domain import calendar_from
from pager.domain.request_targets import Outcome
from pager.service.targets import KnownOutcomes, next_instant, targets_of, ticket_targets
from pager.storage.port import TARGET_ENTRY_KINDS, Requester, TicketDetail, TicketEntry
from tests.unit.test_config import EXAMPLE, EXAMPLE_ENV

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Amsterdam: office hours
H = timedelta(hours=1)
CFG = load(EXAMPLE, env=EXAMPLE_ENV)
CAL = calendar_from(CFG)


def outcomes_of(memo: KnownOutcomes, cfg, calendar, t, now):  # type: ignore[no-untyped-def]
    return memo.outcomes(cfg, calendar, t, t.timeline, now)


def entry(at: datetime, kind: str, **data) -> TicketEntry:
    return TicketEntry(at=at, kind=kind, actor="anna", public=kind != "note", data=data)


def ticket(*timeline: TicketEntry, number: int = 7, kind: str = "request", priority: str = "normal") -> TicketDetail:
    return TicketDetail(
        number=number,
        kind=kind,
        status="open",
        priority=priority,
        project="acme/webshop",
        customer="acme",
        requester=Requester(contact="acme.jan", name="Jan Pietersen", email="jan@acme.example", phone=None),
        assignee="anna",
        watchers=(),
        subject="Checkout hangs",
        via="email",
        created_at=T0,
        updated_at=T0,
        resolved_at=None,
        timeline=(entry(T0, "created", via="email", text="hi"), *timeline),
    )


ANSWERED = entry(T0 + H, "reply", text="on it", via="api", from_customer=False)
RESOLVED = entry(T0 + 2 * H, "status", **{"from": "open", "to": "resolved"})


def judged(t: TicketDetail, now: datetime) -> tuple[Outcome, ...]:
    return tuple(s.outcome for s in (ticket_targets(CFG, CAL, t, now) or {}).values())


def test_it_answers_what_judging_answers_live_or_settled() -> None:
    memo = KnownOutcomes()
    for t in (ticket(), ticket(ANSWERED), ticket(ANSWERED, RESOLVED)):
        for now in (T0 + 3 * H, T0 + 30 * 24 * H):
            assert outcomes_of(memo, CFG, CAL, t, now) == judged(t, now)


def test_a_settled_ticket_is_kept_and_a_live_one_until_its_next_instant() -> None:
    memo = KnownOutcomes()
    settled, live = ticket(ANSWERED, RESOLVED), ticket(number=8)
    assert outcomes_of(memo, CFG, CAL, settled, T0 + 3 * H) == (Outcome.MET, Outcome.MET)
    assert outcomes_of(memo, CFG, CAL, live, T0 + H / 4) == (Outcome.RUNNING, Outcome.RUNNING)
    until = next_instant(ticket_targets(CFG, CAL, live, T0 + H / 4) or {})
    assert until is not None and until > T0 + H / 4
    (kept,) = (v for k, v in memo._memo.items() if k[0] == 8)
    assert kept[2] == until
    # a month later the live one has breached; the settled one is what it was
    later = T0 + 30 * 24 * H
    assert outcomes_of(memo, CFG, CAL, live, later) == judged(live, later)
    assert Outcome.BREACHED in outcomes_of(memo, CFG, CAL, live, later)
    assert outcomes_of(memo, CFG, CAL, settled, later) == (Outcome.MET, Outcome.MET)


def test_a_live_ticket_is_judged_again_at_its_next_instant_and_never_from_the_future() -> None:
    """Table: every 7 minutes over three days, in time order and then backwards, the memo answers what judging
    answers (an outcome turns at its at-risk instant and its deadline, office hours and nights between)."""
    live = ticket(number=9)
    instants = [T0 + timedelta(minutes=7 * k) for k in range(3 * 24 * 60 // 7)]
    for order in (instants, instants[::-1]):
        memo = KnownOutcomes()
        for now in order:
            assert outcomes_of(memo, CFG, CAL, live, now) == judged(live, now), now
    turns = {judged(live, now) for now in instants}
    assert len(turns) >= 3  # running, at risk, breached: the table crosses the instants


def test_a_ticket_that_moved_is_judged_on_its_new_timeline() -> None:
    memo = KnownOutcomes()
    late = entry(T0 + 200 * H, "status", **{"from": "open", "to": "resolved"})
    before, after = ticket(ANSWERED, RESOLVED), ticket(ANSWERED, late)
    now = T0 + 300 * H
    assert outcomes_of(memo, CFG, CAL, before, now) == judged(before, now)
    assert outcomes_of(memo, CFG, CAL, after, now) == judged(after, now) != judged(before, now)
    urgent = ticket(ANSWERED, RESOLVED, priority="urgent")
    assert outcomes_of(memo, CFG, CAL, urgent, now) == judged(urgent, now)


def test_an_incident_has_no_outcomes() -> None:
    assert outcomes_of(KnownOutcomes(), CFG, CAL, ticket(kind="incident"), T0 + H) == ()


def test_a_new_config_forgets_and_the_size_is_bounded() -> None:
    memo = KnownOutcomes(size=2)
    for n in (1, 2, 3):
        outcomes_of(memo, CFG, CAL, ticket(ANSWERED, RESOLVED, number=n), T0 + 3 * H)
    assert [k[0] for k in memo._memo] == [2, 3]
    reloaded = load(EXAMPLE, env=EXAMPLE_ENV)
    outcomes_of(memo, reloaded, calendar_from(reloaded), ticket(ANSWERED, RESOLVED, number=4), T0 + 3 * H)
    assert [k[0] for k in memo._memo] == [4]


def test_the_entries_the_store_reads_for_the_targets_judge_as_the_whole_timeline() -> None:
    """The desk's queue judges from TicketStore.ticket_target_entries (the TARGET_ENTRY_KINDS only): every
    other kind of entry changes nothing, at any instant."""
    others = (
        entry(T0 + H / 2, "assigned", to="bram"),
        entry(T0 + H / 2, "time", minutes=15),
        entry(T0 + H, "target_at_risk", target="first_response"),
        entry(T0 + 3 * H, "target_breached", target="resolution"),
        entry(T0 + 3 * H, "paged", incident=4),
    )
    customer = entry(T0 + 90 * H / 60, "reply", text="still", via="email", from_customer=True)
    waiting = entry(T0 + 100 * H / 60, "status", **{"from": "open", "to": "waiting_on_customer"})
    for kept in ((), (ANSWERED,), (ANSWERED, customer), (ANSWERED, waiting, customer), (ANSWERED, RESOLVED)):
        whole = ticket(*sorted((*kept, *others), key=lambda e: e.at))
        part = tuple(e for e in whole.timeline if e.kind in TARGET_ENTRY_KINDS)
        for now in (T0 + H / 4, T0 + 2 * H, T0 + 30 * H, T0 + 24 * 7 * H):
            assert targets_of(CFG, CAL, whole, part, now) == ticket_targets(CFG, CAL, whole, now), (kept, now)
