"""The engine's `targets` stage (pager.service.targets.record_due) on a real SQLite store and the example config:
the judged tickets' writes go to the store together (one group commit), and one that fails fails alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pager.clock import ManualClock
from pager.config import load
from pager.config.domain import calendar_from
from pager.observe.metrics import Metrics
from pager.service import targets
from pager.storage.port import IngestPolicy, Requester
from pager.storage.sqlite import SqliteStore
from tests.harness.pagerd import EXAMPLE_ENV
from tests.scenarios.harness import EXAMPLE_CONFIG

T0 = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # Friday 17:00 in Amsterdam
POLICY = IngestPolicy(reopen_window=timedelta(hours=1), events_v2_duplicate_window=timedelta(minutes=5))


async def test_judged_tickets_are_written_in_one_commit_and_a_failing_one_fails_alone(tmp_path, monkeypatch) -> None:
    cfg = load(EXAMPLE_CONFIG, env={**EXAMPLE_ENV, "PAGERD_NOTIFIER": "dry_run"})
    batches: list[int] = []
    store = SqliteStore(str(tmp_path / "t.db"), POLICY, clock=ManualClock(T0), on_commit=lambda n, s: batches.append(n))
    await store.open()
    try:
        numbers = []
        for i in range(4):
            t = await store.create_ticket(
                subject=f"verzoek {i}", body="hallo", via="phone", customer="acme", project="acme/webshop",
                requester=Requester(contact="acme.jan"), priority="normal", assignee=None, watchers=(),
                attachments=(), actor="anna", now=T0,
            )  # fmt: skip
            numbers.append(t.number)
        later = T0 + timedelta(days=4)  # Tuesday: every first response breached
        real = store.record_target_facts

        async def third_fails(n, facts, *, next_at, now):
            if n == numbers[2]:
                raise RuntimeError("disk I/O error")
            return await real(n, facts, next_at=next_at, now=now)

        monkeypatch.setattr(store, "record_target_facts", third_fails)
        metrics = Metrics()
        batches.clear()
        with pytest.raises(RuntimeError, match="disk I/O error"):
            await targets.record_due(store, metrics, cfg, calendar_from(cfg), later)
        # the three writes that ran were queued together: the group commit takes them in one (or, when the
        # writer woke between two of them, two) commits, not one each
        assert sum(batches) == 3 and len(batches) < 3, batches
        for n in numbers:
            t = await store.get_ticket(n)
            assert t is not None
            breached = [e for e in t.timeline if e.kind == "target_breached"]
            assert bool(breached) == (n != numbers[2]), n
        sample = metrics.registry.get_sample_value(
            "pagerd_request_target_breaches_total", {"target": "first_response", "customer": "acme"}
        )
        assert sample == 3
        monkeypatch.undo()
        assert await targets.record_due(store, metrics, cfg, calendar_from(cfg), later) == 1  # the one left
        t = await store.get_ticket(numbers[2])
        assert t is not None and [e.kind for e in t.timeline].count("target_breached") >= 1
    finally:
        await store.close()
