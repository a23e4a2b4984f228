"""Strict YAML loading: ${VAR} substitution, duplicate keys refused, every value's line remembered."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key or '(top)'}: {self.message}"


class ConfigError(Exception):
    """All problems of a config file at once, each with file, line and key path."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ${VAR} and ${VAR:-default}; returns the text and the names of unset variables."""
    missing: list[str] = []

    def repl(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is not None:
                return default
            missing.append(name)
            return ""
        return value

    return _VAR.sub(repl, text), missing


def load_yaml(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    env_refs: dict[tuple, list[str]] | None = None,
    problems: list[ConfigIssue] | None = None,
) -> tuple[Any, dict[tuple, int]]:
    """The document as plain Python values, and a map from key path (tuple) to its line (1-based).
    `env_refs`, when given, receives the names of the environment variables each value read.
    A file that cannot be read or parsed raises ConfigError. Problems of single keys (a duplicate key,
    an unset environment variable) go into `problems` when given, the rest of the document still
    loaded (so that every problem of the file is reported at once); without it they raise."""
    env = os.environ if env is None else env
    fname = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(fname, 0, "", f"cannot read: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError([ConfigIssue(fname, 0, "", f"larger than {MAX_CONFIG_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(fname, 0, "", f"not UTF-8: {exc.reason} at byte {exc.start}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(fname, line, "", f"YAML syntax: {problem}")]) from None
    lines: dict[tuple, int] = {}
    issues: list[ConfigIssue] = []
    if node is None:
        return {}, lines
    value = _build(node, (), lines, issues, fname, env, {} if env_refs is None else env_refs)
    if problems is not None:
        problems.extend(issues)
    elif issues:
        raise ConfigError(issues)
    return value, lines


_resolver = yaml.resolver.Resolver()


def _build(
    node: yaml.Node,
    path: tuple,
    lines: dict,
    issues: list,
    fname: str,
    env: Mapping[str, str],
    refs: dict[tuple, list[str]],
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                issues.append(
                    ConfigIssue(fname, knode.start_mark.line + 1, _dotted(path), "keys must be plain strings")
                )
                continue
            key = knode.value
            if key == "<<":
                issues.append(
                    ConfigIssue(fname, knode.start_mark.line + 1, _dotted(path), "merge keys are not supported")
                )
                continue
            if key in out:
                issues.append(ConfigIssue(fname, knode.start_mark.line + 1, _dotted(path + (key,)), "duplicate key"))
                continue
            out[key] = _build(vnode, path + (key,), lines, issues, fname, env, refs)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, path + (i,), lines, issues, fname, env, refs) for i, v in enumerate(node.value)]
    # scalar: substitute variables inside the text, then resolve its YAML type as if written so
    text = node.value
    if "${" in text:
        refs[path] = [m.group(1) for m in _VAR.finditer(text)]
        text, missing = substitute(text, env)
        for name in missing:
            issues.append(
                ConfigIssue(
                    fname,
                    node.start_mark.line + 1,
                    _dotted(path),
                    f"environment variable {name} is not set (use ${{{name}:-default}})",
                )
            )
        if node.style in ("'", '"', "|", ">") or text == "":
            return text  # an empty substitution is an empty string, not YAML null
        tag = _resolver.resolve(yaml.ScalarNode, text, (True, False))
    else:
        if node.style in ("'", '"', "|", ">"):
            return text
        tag = node.tag
    return _construct(tag, text, node)


def _construct(tag: str, text: str, node: yaml.Node) -> Any:
    scalar = yaml.ScalarNode(tag, text, node.start_mark, node.end_mark)
    return yaml.SafeLoader("").construct_object(scalar, deep=True)


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def line_of(lines: dict[tuple, int], loc: tuple) -> int:
    """The line of the deepest known prefix of `loc`."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get((), 1)
