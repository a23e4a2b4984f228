"""The model's validation errors as config issues (file, line, key), with "did you mean" for near misses,
and the document without its wrong keys and values, so that the reference checks can still run."""

from __future__ import annotations

import copy
import difflib
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .loader import ConfigIssue, line_of
from .model import Config
from .secrets import FILE_SUFFIX, SECRET_KEYS


def _unwrap(t: Any) -> Any:
    """The type inside Annotated[...] and Optional[...]."""
    while True:
        origin = get_origin(t)
        if origin is Annotated:
            t = get_args(t)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(t) if a is not type(None)]
            if len(args) != 1:
                return t
            t = args[0]
        else:
            return t


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model class of the mapping at key path `loc` of the config, if it is one."""
    t: Any = Config
    for part in loc:
        t = _unwrap(t)
        origin = get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            field = next(
                (f for name, f in t.model_fields.items() if part in (name, f.alias)),
                None,
            )
            if field is None:
                return None
            t = field.annotation
        elif origin is dict:
            t = get_args(t)[1]
        elif origin in (list, tuple):
            t = get_args(t)[0]
        else:
            return None
    t = _unwrap(t)
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def allowed_keys(loc: tuple) -> list[str]:
    """The keys a mapping at key path `loc` may hold ([] when it is not a model's)."""
    model = _model_at(loc)
    if model is None:
        return []
    keys = [f.alias or name for name, f in model.model_fields.items()]
    for pattern in SECRET_KEYS:  # each secret KEY may be given as KEY_file instead
        parent = pattern[:-1]
        if len(parent) == len(loc) and all(p in ("*", str(x)) for p, x in zip(parent, loc, strict=True)):
            keys.append(pattern[-1] + FILE_SUFFIX)
    return keys


def did_you_mean(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _dotted(loc: tuple) -> str:
    return ".".join(str(x) for x in loc)


def schema_issues(
    exc: ValidationError, data: dict, lines: dict[tuple, int], fname: str
) -> tuple[list[ConfigIssue], list[tuple] | None]:
    """Every error of the model, each once, and the key paths to drop so that the rest validates (None
    when some cannot be dropped: a required key is missing, or the wrong value is a list's item or a
    whole section, whose absence would make other sections' references wrong)."""
    issues: list[ConfigIssue] = []
    prune: list[tuple] | None = []
    suggested: set[tuple] = set()
    errors = exc.errors(include_url=False)
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err["type"] == "extra_forbidden" and loc:
            guess = did_you_mean(str(loc[-1]), allowed_keys(loc[:-1]))
            if guess is not None:
                suggested.add(loc[:-1] + (guess,))
    for err in errors:
        loc = tuple(err.get("loc", ()))
        msg, kind = err["msg"], err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key"
            guess = did_you_mean(str(loc[-1]), allowed_keys(loc[:-1])) if loc else None
            if guess is not None:
                msg += f" (did you mean {guess}?)"
        elif kind == "missing":
            if loc in suggested:
                continue  # the unknown key beside it, a near miss of this one, says so
            msg = "required key is missing"
        elif kind == "literal_error" and isinstance(err.get("input"), str):
            choices = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            guess = did_you_mean(err["input"], choices)
            if guess is not None:
                msg += f" (did you mean '{guess}'?)"
        issues.append(ConfigIssue(fname, line_of(lines, loc), _dotted(loc), msg))
        if prune is not None:
            prune = prune + [loc] if kind != "missing" and _prunable(data, loc, kind) else None
    return issues, prune


def _prunable(data: Any, loc: tuple, kind: str) -> bool:
    """Whether the key at `loc` can be dropped without changing what other keys mean: an unknown key, or a
    scalar value of a mapping's key (its default takes its place)."""
    if not loc:
        return False
    parent = data
    for part in loc[:-1]:
        if not isinstance(parent, dict) or part not in parent:
            return False
        parent = parent[part]
    if not isinstance(parent, dict) or loc[-1] not in parent:
        return False
    return kind == "extra_forbidden" or not isinstance(parent[loc[-1]], (dict, list))


def validate_pruned(data: dict, prune: list[tuple] | None) -> Config | None:
    """The config without the keys at `prune`, if that validates (a config to check references on)."""
    if prune is None:
        return None
    doc = copy.deepcopy(data)
    for loc in prune:
        parent: Any = doc
        for part in loc[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(loc[-1], None)
    try:
        return Config.model_validate(doc)
    except ValidationError:
        return None
