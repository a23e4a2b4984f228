"""Integration tests move pagerd's clock (config testing.clock: manual, PagerdProcess.advance) instead of
racing the wall clock: none of them asserts a wall-clock window.

What counts as one, in any module under tests/integration/: an ordering comparison (<, <=, >, >=) in an
`assert` or `return` statement with an operand that reads the real clock, either directly
(`time.time()`, `time.monotonic()`, `time.perf_counter()`, their `_ns` forms, `datetime.now()`,
`datetime.utcnow()`, `date.today()`) or through a name the module binds from such a read, also by way
of other such names (`t0 = time.monotonic()` ... `took = time.monotonic() - t0` ... `assert took < 2.5`).
Comparing timestamps the daemon wrote on its manual clock is fine: they are exact. Polling loops
wait for something and assert nothing about time: fine too, also when a loop fails by an assertion
that its wait ran out (`assert time.monotonic() < deadline`: a bare clock read against a bare name).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
MODULES = sorted(INTEGRATION.glob("*.py"))

# (module, test function) -> why real time is what it measures. Only the timing of real peers.
ALLOWED = {
    (
        "test_nagios.py",
        "test_slow_pagerd_is_cut_off_by_the_time_budget",
    ): "the shipped Nagios notify script's own --timeout budget, kept by a real process against a slow receiver",
    (
        "test_nagios.py",
        "test_a_run_waits_for_the_lock_only_within_its_budget",
    ): "the shipped Nagios notify script's own --timeout budget while another run holds the spool lock",
    (
        "test_postgres_nodes.py",
        "test_kill_9_of_the_holder_moves_the_engine_and_the_next_step_goes_out_once",
    ): "the engine lease's takeover bound (issue 16: within 10 s), kept by the real PostgreSQL server",
    (
        "test_postgres_nodes.py",
        "test_a_holder_paused_past_its_lease_sends_nothing_after_it_resumes",
    ): "the engine lease's takeover bound after a hang: the real server's idle_session_timeout",
}

_TIME_READS = {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"}
_DATETIME_READS = {"now", "utcnow", "today"}
_ORDER = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _reads_clock(node: ast.AST, tainted: set[str]) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id in tainted:
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            owner = n.func.value
            owner_name = (
                owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            )
            if owner_name == "time" and n.func.attr in _TIME_READS:
                return True
            if owner_name in ("datetime", "date") and n.func.attr in _DATETIME_READS:
                return True
    return False


def _wait_ran_out(cmp: ast.Compare) -> bool:
    """`time.monotonic() < deadline` (either way round): the guard of a bounded wait, not a measurement."""
    if len(cmp.ops) != 1:
        return False
    sides = (cmp.left, cmp.comparators[0])
    return any(
        isinstance(a, ast.Call) and not a.args and _reads_clock(a, set()) and isinstance(b, ast.Name)
        for a, b in (sides, sides[::-1])
    )


def _tainted(tree: ast.AST) -> set[str]:
    """Names bound (anywhere in the module) from an expression that reads the real clock."""
    names: set[str] = set()
    while True:
        before = len(names)
        for n in ast.walk(tree):
            if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and n.value is not None:
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                if _reads_clock(n.value, names):
                    names |= {t.id for t in targets if isinstance(t, ast.Name)}
        if len(names) == before:
            return names


def windows(source: str) -> list[tuple[str, int]]:
    """(enclosing top-level function, line) of every wall-clock window asserted in `source`."""
    tree = ast.parse(source)
    tainted = _tainted(tree)
    found = []
    for top in tree.body:
        owner = top.name if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ""
        for stmt in ast.walk(top):
            if not isinstance(stmt, (ast.Assert, ast.Return)):
                continue
            expr = stmt.test if isinstance(stmt, ast.Assert) else getattr(stmt, "value", None)
            if expr is None:
                continue
            for cmp in ast.walk(expr):
                if (
                    isinstance(cmp, ast.Compare)
                    and any(isinstance(op, _ORDER) for op in cmp.ops)
                    and _reads_clock(cmp, tainted)
                    and not _wait_ran_out(cmp)
                ):
                    found.append((owner, cmp.lineno))
    return sorted(set(found))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_integration_test_asserts_a_wall_clock_window(path):
    found = [
        f"{path.name}:{line} in {fn}"
        for fn, line in windows(path.read_text(encoding="utf-8"))
        if (path.name, fn) not in ALLOWED
    ]
    assert found == [], "move the daemon's clock (PagerdProcess.advance) instead of timing the wall clock"


def test_the_allowed_ones_are_still_there():
    for (module, fn), why in ALLOWED.items():
        assert why and fn in {f for f, _ in windows((INTEGRATION / module).read_text())}, (module, fn)


@pytest.mark.parametrize(
    "source, expected",
    [
        (
            "def t():\n    t0 = time.monotonic()\n    run()\n    took = time.monotonic() - t0\n    assert took < 2.5\n",
            [("t", 5)],
        ),
        ("def t():\n    t0 = time.monotonic()\n    assert time.monotonic() - t0 < 2.0\n", [("t", 3)]),
        ("def t():\n    sent = time.time()\n    assert ts(v).timestamp() - sent < 1.5\n", [("t", 3)]),
        ("def t():\n    b = datetime.now(timezone.utc)\n    assert created - b >= timedelta(seconds=3)\n", [("t", 3)]),
        ("def t():\n    up = time.time()\n    def on_time(x, due):\n        return due <= x <= up + 2\n", [("t", 4)]),
        ("def t():\n    start = time.perf_counter()\n    c = start\n    assert c > 0\n", [("t", 4)]),
        # not windows: polling, daemon timestamps on the manual clock, equality, no clock at all
        ("def t():\n    deadline = time.monotonic() + 5\n    while time.monotonic() < deadline:\n        poll()\n", []),
        ("def t():\n    assert ts(voice['at']) - first < STEP_WAIT\n", []),
        ("def t():\n    x = d.advance('1m')\n    assert ts(e['at']) <= x\n", []),
        ("def t():\n    assert killed_at is not None\n", []),
        (
            "def t():\n    deadline = time.monotonic() + 20\n    while True:\n        assert time.monotonic() < deadline, 'x'\n",
            [],
        ),
        ("def t():\n    deadline = time.monotonic() + 20\n    assert deadline > time.monotonic()\n", []),
        ("def t():\n    assert 400 <= status < 500\n", []),
    ],
)
def test_the_checker_catches_what_it_should(source, expected):
    assert windows(source) == expected
