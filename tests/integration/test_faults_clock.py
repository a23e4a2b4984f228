"""A wall clock that jumps forward and back (NTP stepping a system clock): the daemon on the manual clock,
moved with POST /api/v1/testing/clock, back as well as forward. Every escalation step fires once, in
order: none twice when the clock passes its instant again, none skipped when a jump leaps over several.
"""

from __future__ import annotations

from datetime import timedelta

from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import events, fire, incident, short_config, ts

START = "2026-01-07T09:00:00Z"  # a Wednesday, 10:00 in Amsterdam
STEPS = [{"targets": ["oncall"], "wait": "15m"}, {"targets": ["oncall"], "wait": "15m"}]  # x3 (repeat 2): 6 steps
MINUTE = timedelta(minutes=1)


def steps_fired(inc: dict) -> list[tuple[int, int]]:
    """(round, step) of each step on the timeline, in order: the first page, then each escalation."""
    return [(e["data"]["round"], e["data"]["step"]) for e in inc["timeline"] if e["kind"] in ("paging", "escalated")]


def test_clock_jumps_forward_and_back_no_step_twice_none_skipped(tmp_path):
    cfg = short_config(
        tmp_path / "pagerd.yaml",
        steps=STEPS,
        repeat=2,
        heartbeats={},
        clock_start=START,
        contact_rules=[{"channel": "sms", "after": "0s"}],
    )
    d = PagerdProcess(tmp_path / "pagerd", config=cfg).start()
    try:
        t0 = d.now()
        iid = fire(d, "ClockJumps", "ntp went wild")
        d.wait_for(lambda p: steps_fired(incident(p, iid)) == [(0, 0)], timeout=10)

        d.set_clock(t0 + 16 * MINUTE)  # forward past step 1
        assert steps_fired(incident(d, iid)) == [(0, 0), (0, 1)]
        d.set_clock(t0 - timedelta(hours=1))  # back before the first page
        d.advance("1s")  # a tick or two in the past
        assert steps_fired(incident(d, iid)) == [(0, 0), (0, 1)]
        d.set_clock(t0 + 16 * MINUTE)  # past step 1's instant again: it does not fire again
        d.set_clock(t0 + 29 * MINUTE + 59 * timedelta(seconds=1))
        assert steps_fired(incident(d, iid)) == [(0, 0), (0, 1)]
        d.set_clock(t0 + 30 * MINUTE)  # step 2 (round 2, step 0) on its instant
        assert steps_fired(incident(d, iid)) == [(0, 0), (0, 1), (1, 0)]
        d.set_clock(t0 + 5 * MINUTE)  # back again
        assert steps_fired(incident(d, iid)) == [(0, 0), (0, 1), (1, 0)]
        d.set_clock(t0 + timedelta(hours=3))  # one leap past the last three steps and the policy's end
        done = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
        inc = d.wait_for(
            lambda p: (lambda i: i if len(steps_fired(i)) >= len(done) else None)(incident(p, iid)), timeout=10
        )  # a step per tick: the last ones come on the next ticks
        assert steps_fired(inc) == done  # each once, in order, none skipped
        assert inc["response"]["current"]["escalation"] == "done"
        d.set_clock(t0 + 10 * MINUTE)  # and back once more: the policy stays done
        d.set_clock(t0 + timedelta(hours=4))
        inc = incident(d, iid)
        assert steps_fired(inc) == done
        pages = events(inc, "paged", channel="sms")
        assert len(pages) == 6 and all(p["data"]["status"] == "simulated" for p in pages)  # dry run
        assert len({p["data"]["message_id"] for p in pages}) == 6  # one message per step, none doubled
        fired_at = [ts(e["at"]) for e in inc["timeline"] if e["kind"] in ("paging", "escalated")]
        assert fired_at == [t0, t0 + 16 * MINUTE, t0 + 30 * MINUTE] + [t0 + timedelta(hours=3)] * 3
    finally:
        d.stop()
        print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")
