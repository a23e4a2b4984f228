"""Only pager/clock.py reads the clock (STYLE.md habit 1): every other module of the package, the CLI
included, takes a Clock (or a `now`) from its caller. Checked on the AST of every module.

What counts as a clock read, wherever it appears (called or only referenced, e.g. as a default_factory):
- `now`, `utcnow` or `today` of the classes `datetime.datetime` and `datetime.date`, however imported
  (`datetime.now`, `dt.datetime.utcnow`, `date.today`, `from datetime import datetime as D; D.now`);
- anything of the `time` module except `sleep` (`time.time`, `time.monotonic`, `time.perf_counter`,
  `time.localtime`, ..., also `from time import monotonic`);
- `.time()` of an asyncio event loop (`asyncio.get_running_loop().time()`, `loop.time()`, `self._loop.time()`).

Not a read, so allowed: asyncio's own timers (`asyncio.sleep`, `wait_for(timeout=...)`, `call_later`)
and blocking waits with a timeout. They pace the drivers (the engine loop, the scheduler) in real time,
which the daemon needs even on a manual clock; what a driver then does asks the Clock what time it is.
What libraries read inside (log timestamps, HTTP Date headers, APScheduler's timers) is theirs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pager"
CLOCK = PACKAGE / "clock.py"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != CLOCK)

# (path relative to pager/, what) -> why it stays. Empty, and it should stay short: a new entry needs a
# reason that holds for a reviewer, e.g. ("observe/x.py", "time.time"): "...".
ALLOWED: dict[tuple[str, str], str] = {}

_CLASS_READS = {"datetime.datetime": {"now", "utcnow", "today"}, "datetime.date": {"today"}}
_TIME_NOT_A_READ = {"sleep"}
_LOOP_GETTERS = {"get_running_loop", "get_event_loop"}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> the qualified name it was imported as (`import time as t` gives t -> time)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _qualified(node: ast.AST, names: dict[str, str]) -> str | None:
    """`a.b.c` with `a` resolved through the imports; None unless the chain starts at an imported name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(parts)])


def _is_loop(node: ast.AST) -> bool:
    if isinstance(node, ast.Call):
        f = node.func
        return (isinstance(f, ast.Attribute) and f.attr in _LOOP_GETTERS) or (
            isinstance(f, ast.Name) and f.id in _LOOP_GETTERS
        )
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name.lstrip("_").endswith("loop")


def clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) of every clock read in `source`."""
    tree = ast.parse(source)
    names = _aliases(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "time":
            found += [(node.lineno, f"time.{a.name}") for a in node.names if a.name not in _TIME_NOT_A_READ]
        elif isinstance(node, ast.Attribute):
            q = _qualified(node, names)
            if q is not None:
                owner, _, attr = q.rpartition(".")
                if attr in _CLASS_READS.get(owner, ()):
                    found.append((node.lineno, f"{owner.split('.')[-1]}.{attr}"))
                elif owner == "time" and attr not in _TIME_NOT_A_READ:
                    found.append((node.lineno, q))
            if node.attr == "time" and _is_loop(node.value):
                found.append((node.lineno, "loop.time"))
    return sorted(set(found))


def _reads_in(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE).as_posix()
    return [
        f"pager/{rel}:{line}: reads the clock ({what})"
        for line, what in clock_reads(path.read_text(encoding="utf-8"))
        if (rel, what) not in ALLOWED
    ]


def test_the_walk_covers_the_whole_package_cli_included():
    rels = {p.relative_to(PACKAGE).as_posix() for p in MODULES}
    assert {"cli.py", "__main__.py", "app.py", "daemon.py", "service/paging.py", "web/api.py"} <= rels
    assert "clock.py" not in rels


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_only_the_clock_module_reads_the_clock(path):
    assert _reads_in(path) == []


def test_the_clock_module_is_where_the_reads_are():
    assert {what for _, what in clock_reads(CLOCK.read_text())} >= {"datetime.now", "time.monotonic"}


def test_every_allowed_read_says_why():
    for (rel, what), why in ALLOWED.items():
        assert (PACKAGE / rel).is_file() and why.strip(), (rel, what)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from datetime import datetime, timezone\nx = datetime.now(timezone.utc)\n", [(2, "datetime.now")]),
        ("from datetime import datetime as D\nx = D.utcnow()\n", [(2, "datetime.utcnow")]),
        ("import datetime\nx = datetime.datetime.now()\n", [(2, "datetime.now")]),
        ("import datetime as dt\nx = dt.date.today()\n", [(2, "date.today")]),
        ("from datetime import date\nx = date.today()\n", [(2, "date.today")]),
        ("from datetime import datetime\nf = field(default_factory=datetime.now)\n", [(2, "datetime.now")]),
        ("import time\nx = time.time()\n", [(2, "time.time")]),
        ("import time as t\nx = t.perf_counter()\n", [(2, "time.perf_counter")]),
        ("import time\nx = time.monotonic_ns()\n", [(2, "time.monotonic_ns")]),
        ("from time import monotonic\n", [(1, "time.monotonic")]),
        ("import time\ntime.sleep(1)\n", []),
        ("import asyncio\nx = asyncio.get_running_loop().time()\n", [(2, "loop.time")]),
        ("x = self._loop.time()\n", [(1, "loop.time")]),
        ("x = loop.time()\n", [(1, "loop.time")]),
        ("import asyncio\nawait asyncio.sleep(1)\nawait asyncio.wait_for(f, timeout=2)\n", []),
        # a Clock's own methods, a datetime's .time() and a local named `now` are not reads
        ("x = self.clock.now()\ny = rt.clock.monotonic()\n", []),
        ("x = clock.now()\n", []),
        ("from datetime import datetime\nx = datetime.fromisoformat(s).time()\n", []),
        ("from datetime import time\nx = time(8, 30)\n", []),
        ("x = wall.time()\nnow = 3\n", []),
    ],
)
def test_the_checker_catches_what_it_should(source, expected):
    assert clock_reads(source) == expected
