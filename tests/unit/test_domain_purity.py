"""The domain core stays pure (STYLE.md: "pager/domain imports nothing from asyncio,
aiohttp, storage, twilio or the clock"): checked on the source of every module in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "pager" / "domain"
MODULES = sorted(DOMAIN.rglob("*.py"))

# Modules (and their submodules) the core must not import.
FORBIDDEN_MODULES = (
    "asyncio",
    "aiohttp",
    "twilio",
    "time",
    "socket",
    "subprocess",
    "threading",
    "requests",
    "httpx",
    "sqlite3",
    "psycopg",
    "asyncpg",
    "pager.storage",
    "pager.web",
    "pager.notify",
    "pager.service",
    "pager.sources",
    "pager.clock",
    "pager.app",
    "pager.cli",
)
# Calls that read the clock: datetime.now(), date.today() on any receiver; time.time() and
# friends on the time module (a datetime's own .time() is fine).
FORBIDDEN_ATTR_CALLS = {"now", "utcnow", "today"}
FORBIDDEN_TIME_CALLS = {"time", "time_ns", "monotonic", "perf_counter", "localtime", "gmtime"}
FORBIDDEN_NAME_CALLS = {"open", "input", "print", "__import__"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(DOMAIN.parents[1]).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, tree: ast.AST) -> list[tuple[int, str]]:
    """Absolute names of everything a module imports (relative imports resolved)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
            found += [(node.lineno, f"{mod}.{alias.name}") for alias in node.names]
    return found


def _forbidden(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for line, name in _imports(path, tree):
        # `from datetime import time` is a type, not the time module.
        if _forbidden(name) and not name.startswith("datetime."):
            out.append(f"{path.name}:{line}: imports {name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_ATTR_CALLS:
            out.append(f"{path.name}:{node.lineno}: calls .{func.attr}()")
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in FORBIDDEN_TIME_CALLS
            and isinstance(func.value, ast.Name)
            and func.value.id == "time"
        ):
            out.append(f"{path.name}:{node.lineno}: calls time.{func.attr}()")
        elif isinstance(func, ast.Name) and func.id in FORBIDDEN_NAME_CALLS:
            out.append(f"{path.name}:{node.lineno}: calls {func.id}()")
    return out


def test_the_domain_package_has_modules():
    assert DOMAIN.is_dir()
    assert {p.name for p in MODULES} >= {"__init__.py", "calendar.py", "rotation.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_module_is_pure(path):
    assert _violations(path) == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import asyncio\n", ["x.py:1: imports asyncio"]),
        ("from aiohttp import web\n", ["x.py:1: imports aiohttp", "x.py:1: imports aiohttp.web"]),
        ("import time\n", ["x.py:1: imports time"]),
        ("from time import monotonic\n", ["x.py:1: imports time", "x.py:1: imports time.monotonic"]),
        ("from datetime import time\n", []),
        ("from ..storage import sqlite\n", ["x.py:1: imports pager.storage", "x.py:1: imports pager.storage.sqlite"]),
        ("from pager import web\n", ["x.py:1: imports pager.web"]),
        ("import twilio.rest\n", ["x.py:1: imports twilio.rest"]),
        ("x = datetime.now(UTC)\n", ["x.py:1: calls .now()"]),
        ("x = datetime.datetime.utcnow()\n", ["x.py:1: calls .utcnow()"]),
        ("x = date.today()\n", ["x.py:1: calls .today()"]),
        ("x = time.time()\n", ["x.py:1: calls time.time()"]),
        ("x = time.monotonic()\n", ["x.py:1: calls time.monotonic()"]),
        ("x = wall.time()\n", []),
        ("x = open('f')\n", ["x.py:1: calls open()"]),
        ("from .calendar import Calendar\nx = now\n", []),
    ],
)
def test_the_checker_catches_what_it_should(tmp_path, source, expected):
    fake = tmp_path / "pager" / "domain" / "x.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    global DOMAIN
    saved, DOMAIN = DOMAIN, fake.parent
    try:
        assert _violations(fake) == expected
    finally:
        DOMAIN = saved
