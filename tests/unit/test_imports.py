"""How pager's modules depend on each other, read from the AST of every module (imports inside
functions included: an import moved into a function to dodge a cycle is still an edge).

- No import cycles among pager's modules, and none among its packages (config, domain, service, web,
  ...): each layer builds only on the ones below it. `pager.config` <-> `pager.service.schedule` and
  `pager.service` <-> `pager.web` were such cycles.
- Only the composition root (pager/app.py) names the concrete adapters: the SQLite store, the
  notifiers, the system and manual clocks. Everything else gets them passed in.
- The modules that used to be caught in a cycle import on their own in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pager"

# The concrete adapters (the classes, and the SQLite module as a whole) and the one module that may
# import them. (pager.web.twilio_hooks imports the Twilio module's signature check and TwiML builders,
# not the notifier.)
ADAPTERS = {
    "pager.storage.sqlite",
    "pager.storage.sqlite.SqliteStore",
    "pager.storage.sqlite.migrate",
    "pager.storage.postgres.PostgresStore",
    "pager.storage.postgres.EngineLease",
    "pager.notify.twilio.TwilioNotifier",
    "pager.notify.smtp.SmtpNotifier",
    "pager.notify.dry_run.DryRunNotifier",
    "pager.clock.SystemClock",
    "pager.clock.ManualClock",
}
COMPOSITION_ROOT = "pager.app"
# An adapter built on another: the PostgreSQL store runs the SQLite store's transactions (it extends SqliteStore).
BUILT_ON = {"pager.storage.postgres": {"pager.storage.sqlite", "pager.storage.sqlite.SqliteStore"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """What module `name` imports: pager modules, and pager names (`pager.clock.SystemClock`) where a
    `from` import takes a name that is not a module. Relative imports resolved; only explicit ones (the
    parent packages Python imports on the way are not edges)."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for a in node.names:
                full = f"{base}.{a.name}"
                out.add(full if full in known else base)
                if full not in known:
                    out.add(full)  # a name: kept for the adapter check, dropped from the module graph
    return {m for m in out if m == "pager" or m.startswith("pager.")}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(m, p.read_text(encoding="utf-8"), p.name == "__init__.py", known) for m, p in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node, or with a self-loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def module_graph() -> dict[str, set[str]]:
    g = graph()
    return {m: {t for t in ts if t in g and t != m} for m, ts in g.items()}


def package_of(module: str) -> str:
    """pager.service.paging -> pager.service; pager.app -> pager.app; pager -> pager."""
    return ".".join(module.split(".")[:2])


def package_graph() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m, ts in module_graph().items():
        out.setdefault(package_of(m), set()).update(package_of(t) for t in ts if package_of(t) != package_of(m))
    return out


def test_the_graph_sees_imports_inside_functions_and_relative_ones():
    known = {"pager.config", "pager.config.model", "pager.service.schedule", "pager.web.keys", "pager.clock"}
    src = (
        "from .model import Config\n"
        "def f():\n    from pager.service.schedule import calendar_from\n"
        "from ..web import keys\nfrom pager.clock import SystemClock\n"
    )
    assert imports_of("pager.config", src, True, known) >= {"pager.config.model", "pager.service.schedule"}
    assert imports_of("pager.config.x", src, False, known) >= {
        "pager.config.model",
        "pager.service.schedule",
        "pager.web.keys",
        "pager.clock",
        "pager.clock.SystemClock",
    }


@pytest.mark.parametrize(
    "edges, expected",
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"a"}}, [["a"]]),
    ],
)
def test_the_cycle_finder(edges, expected):
    assert cycles(edges) == expected


def test_no_import_cycles_among_modules():
    assert cycles(module_graph()) == []


def test_no_import_cycles_among_packages():
    assert cycles(package_graph()) == []


@pytest.mark.parametrize(
    "low, high",
    [
        ("pager.config", "pager.service"),
        ("pager.service", "pager.web"),
        ("pager.domain", "pager.config"),
        ("pager.service", "pager.daemon"),
    ],
)
def test_a_lower_layer_does_not_import_a_higher_one(low, high):
    assert high not in package_graph().get(low, set())


def test_only_the_composition_root_names_concrete_adapters():
    named = {m: sorted(ts & ADAPTERS - BUILT_ON.get(m, set())) for m, ts in graph().items()}
    assert {m: ts for m, ts in named.items() if ts and m != COMPOSITION_ROOT} == {}
    assert set(named[COMPOSITION_ROOT]) == ADAPTERS


@pytest.mark.parametrize(
    "module", ["pager.config", "pager.service.schedule", "pager.web.app", "pager.daemon", "pager.cli"]
)
def test_imports_on_its_own_in_a_fresh_interpreter(module):
    r = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
