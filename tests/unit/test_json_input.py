"""JSON from the network: the depth bound checked before any parser (pager.sources.errors.check_depth)
and the range of timestamps (pager.domain.calendar.utc_in_range)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pager.domain.calendar import utc_in_range
from pager.sources.errors import MAX_JSON_DEPTH, InputError, check_depth, load_json


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


# strings full of what could fool a scanner: brackets, quotes, backslashes
TRICKY = st.text(alphabet='[]{}"\\ax', max_size=8)
DOCS = st.recursive(
    st.none() | st.integers() | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(DOCS, st.integers(min_value=0, max_value=8))
def test_the_depth_check_agrees_with_a_recursive_reading(doc, bound):
    body = json.dumps(doc).encode()
    if depth(doc) > bound:
        with pytest.raises(InputError) as info:
            check_depth(body, bound)
        assert info.value.status == 400 and info.value.problems[0].field == "body"
    else:
        check_depth(body, bound)


@pytest.mark.parametrize(
    "body, ok",
    [
        (b"[" * 100_000 + b"]" * 100_000, False),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, False),
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, True),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), False),
        (b'["' + b"[" * 1000 + b'"]', True),  # brackets in a string are text
        (b'["\\\\"' + b", [" * 100 + b"]" * 100 + b"]", False),  # an escaped backslash ends no string
        (b'["\\"' + b"[" * 100 + b'"]', True),  # an escaped quote ends no string
        (b"[" * 100_000, False),  # unclosed: still too deep before the parser sees it
    ],
)
def test_deep_bodies_are_refused_before_parsing(body, ok):
    if ok:
        check_depth(body)
    else:
        with pytest.raises(InputError, match="malformed JSON"):
            check_depth(body)


def test_load_json_is_a_400_for_anything_malformed():
    for body in (b"{", b"\xff", b"[" * 100_000):
        with pytest.raises(InputError) as info:
            load_json(body)
        assert info.value.status == 400


UTC = timezone.utc


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-25T14:00:00+01:00", datetime(2026, 11, 25, 13, 0, tzinfo=UTC)),
        ("1900-01-01T00:00:00Z", datetime(1900, 1, 1, tzinfo=UTC)),
        ("2199-12-31T23:59:59Z", datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("9999-12-31T23:00-05:00", "outside the years 1900-2199"),  # past year 9999 in UTC
        ("0001-01-01T00:00+05:00", "outside the years 1900-2199"),  # before year 1 in UTC
        ("9999-12-31T23:59:59.999999Z", "outside the years 1900-2199"),
        ("0001-01-01T00:00:00Z", "outside the years 1900-2199"),
        ("1899-12-31T23:59:59Z", "outside the years 1900-2199"),
        ("2200-01-01T00:00:00Z", "outside the years 1900-2199"),
        ("2026-11-25T14:00:00", "timestamp needs a time zone (RFC 3339)"),
    ],
)
def test_utc_in_range(value, expected):
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(expected, datetime):
        assert utc_in_range(dt) == expected and utc_in_range(dt).tzinfo == UTC
    else:
        with pytest.raises(ValueError, match=re.escape(expected)):
            utc_in_range(dt)


def test_go_zero_time_reads_as_before_for_any_instant_near_it():
    """`_instant_or_zero` looks at the year first: the same answer as the comparison alone, for
    instants around Go's zero time in any offset."""
    from datetime import datetime, timedelta, timezone

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from pager.sources.errors import _instant_or_zero

    def reference(dt):
        if dt.utcoffset() == timedelta(0) and dt == datetime(1, 1, 1, tzinfo=timezone.utc):
            return None
        return "checked"

    offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
    near = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 3)) | st.datetimes()

    @settings(max_examples=500, deadline=None)
    @given(wall=near, tz=offsets | st.just(timezone.utc))
    def check(wall, tz):
        dt = wall.replace(tzinfo=tz)
        try:
            got = _instant_or_zero(dt)
        except ValueError:
            got = "checked"  # utc_in_range refused it: not the zero time
        assert (got is None) == (reference(dt) is None)

    check()


# -- validate_json(..., shallow=True): the depth checked only for a body the model refused ---------------


def _accepted_depth(annotation) -> int:
    """How deep a document the strict Alertmanager model accepts can nest at `annotation` (fails on any
    type it does not know, so a new field of a nesting type makes the test name it)."""
    import typing

    from pydantic import AwareDatetime, BaseModel

    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _accepted_depth(args[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return max(map(_accepted_depth, args))
    if origin is typing.Literal or annotation in (str, int, datetime, AwareDatetime):
        return 0
    if origin is dict:
        assert args == [str, str], annotation
        return 1
    if origin is list:
        return 1 + _accepted_depth(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        assert annotation.model_config.get("extra") == "forbid", annotation  # an unknown field is refused
        return 1 + max(_accepted_depth(f.annotation) for f in annotation.model_fields.values())
    raise AssertionError(f"unknown field type {annotation!r}")


def test_the_strict_alertmanager_model_refuses_anything_deeper_than_the_bound():
    from pager.sources import alertmanager

    assert _accepted_depth(alertmanager._STRICT) == 4 < MAX_JSON_DEPTH


def _outcome(fn, body: bytes):
    from pydantic import BaseModel

    try:
        got = fn(body)
    except InputError as exc:
        return ("error", exc.status, exc.message, [(p.field, p.message) for p in exc.problems])
    return ("ok", got.model_dump() if isinstance(got, BaseModel) else got)


def _webhook(annotation: object) -> dict:
    return {
        "version": "4",
        "groupKey": "g",
        "status": "firing",
        "receiver": "r",
        "alerts": [{"status": "firing", "labels": {"a": "b"}, "startsAt": "2026-01-05T09:00:00Z", "x": annotation}],
    }


NESTED = st.integers(min_value=0, max_value=300).flatmap(
    lambda n: st.sampled_from(["[", '{"k":']).map(lambda o: o * n + "1" + ("]" if o == "[" else "}") * n)
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        DOCS.map(lambda d: json.dumps(d).encode()),
        DOCS.map(lambda d: json.dumps(_webhook(d)).encode()),
        NESTED.map(lambda n: json.dumps(_webhook(0)).replace("0}]", n + "}]").encode()),
        NESTED.map(lambda n: n.encode()),
        st.just(json.dumps(_webhook(0)).replace(', "x": 0', "").encode()),
        st.binary(max_size=40),
    )
)
def test_a_shallow_model_gives_what_the_depth_check_first_gives(body):
    from pager.sources import alertmanager
    from pager.sources.errors import validate_json

    def first(b: bytes):  # the plain order: the depth, then the model
        check_depth(b)
        return validate_json(alertmanager._STRICT, b)

    assert _outcome(lambda b: validate_json(alertmanager._STRICT, b, shallow=True), body) == _outcome(first, body)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"[" * 100_000,
        json.dumps(_webhook(0)).replace("0}]", "[" * 65 + "]" * 65 + "}]").encode(),
    ],
)
def test_a_body_too_deep_is_still_the_depth_400_for_the_strict_parser(body):
    from pager.sources import alertmanager

    with pytest.raises(InputError) as info:
        alertmanager.parse(body)
    assert info.value.status == 400
    assert [(p.field, p.message) for p in info.value.problems] == [
        ("body", f"nested deeper than {MAX_JSON_DEPTH} levels")
    ]
