"""The Alertmanager parser answers every body as it did before its timestamps were checked by
pydantic-core (tests/unit/alertmanager_reference.py): the same alerts (every field, the instants with
the same zone and text) and facts, or the same status, message and list of problems, for valid, odd and
hostile bodies, strict and lenient, grouped by group key or by fingerprint."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.domain.calendar import utc_in_range
from pager.sources import alertmanager
from pager.sources.errors import (
    InputError,
    OffsetInstant,
    OffsetInstantOrZero,
    _instant_or_zero,
    in_utc,
    in_utc_or_none,
)
from tests.unit import alertmanager_reference as reference


def _answer(parse, body: bytes, **kw):
    """What a parser answers, with every instant as its repr (zone included) and its text."""
    try:
        alerts, facts = parse(body, **kw)
    except InputError as exc:
        return ("error", exc.status, exc.message, [(p.field, p.message) for p in exc.problems])
    shown = [
        (repr(a), [(repr(t), t.isoformat()) if t else None for t in (a.starts_at, a.ends_at)], type(a.labels))
        for a in alerts
    ]
    return ("ok", shown, facts)


def _same(body: bytes) -> None:
    for strict in (True, False):
        for dedup_by in ("group_key", "fingerprint"):
            kw = {"strict": strict, "dedup_by": dedup_by}
            assert _answer(alertmanager.parse, body, **kw) == _answer(reference.parse, body, **kw)


# -- timestamps: every form a sender may write, and many it should not --------------------------------

_OFFSETS = st.one_of(
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "", "+0000", "+01:00", "-01:00", "+23:59", "-23:59", "+24:00"]),
    st.integers(-24 * 60, 24 * 60).map(lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"),
)
_WALLS = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 2)),  # around Go's zero time
    st.datetimes(min_value=datetime(1899, 12, 30), max_value=datetime(1900, 1, 2)),  # the bounds
    st.datetimes(min_value=datetime(2199, 12, 30), max_value=datetime(2200, 1, 2)),
    st.datetimes(min_value=datetime(9999, 12, 30), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
)
TIMESTAMPS = st.one_of(
    st.builds(
        lambda wall, spec, off: wall.isoformat(sep="T", timespec=spec) + off,
        _WALLS,
        st.sampled_from(["seconds", "milliseconds", "microseconds", "minutes"]),
        _OFFSETS,
    ),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00.000Z",
            "0001-01-01T00:00:00+00:00",
            "0001-01-01T00:00:00-00:00",
            "0001-01-01T01:00:00+01:00",
            "0001-01-01T00:00:00+00:01",
            "0001-01-01T00:00:00",
            "1900-01-01T00:00:00Z",
            "1899-12-31T23:59:59.999999Z",
            "2199-12-31T23:59:59.999999Z",
            "2200-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999-23:59",
            "2026-11-25T14:00:00.1234567Z",
            "2026-11-25 14:00:00Z",
            "2026-11-25",
            "2026-02-30T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-06-30T23:59:60Z",
            "yesterday",
            "",
        ]
    ),
    st.text(alphabet="0123456789-:TZ+. ", max_size=30),
)
VALUES = st.one_of(TIMESTAMPS, st.none(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.booleans())


@settings(max_examples=1500, deadline=None)
@given(TIMESTAMPS)
def test_a_timestamp_checked_by_pydantic_core_reads_as_the_python_check_reads_it(text):
    """OffsetInstant and in_utc refuse and give what Instant (utc_in_range) does; OffsetInstantOrZero
    and in_utc_or_none what InstantOrZero does; the refusals in the same words."""
    from pydantic import TypeAdapter, ValidationError

    from pager.sources.errors import Instant, InstantOrZero, from_pydantic

    def read(adapter, convert):
        try:
            value = adapter.validate_json(json.dumps(text))
        except ValidationError as exc:
            return [(p.field, p.message) for p in from_pydantic(exc).problems]
        got = convert(value)
        return None if got is None else (repr(got), got.isoformat())

    pairs = [(OffsetInstant, in_utc, Instant), (OffsetInstantOrZero, in_utc_or_none, InstantOrZero)]
    for new, convert, old in pairs:
        assert read(TypeAdapter(new, config={"strict": True}), convert) == read(
            TypeAdapter(old, config={"strict": True}), lambda v: v
        )


def test_the_timestamp_words_are_the_python_checks_words():
    with pytest.raises(ValueError) as naive:
        utc_in_range(datetime(2026, 1, 1))
    with pytest.raises(ValueError) as early:
        utc_in_range(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    with pytest.raises(ValueError) as zero_elsewhere:
        _instant_or_zero(datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    for body, message in (
        (_webhook(startsAt="2026-01-01T00:00:00"), str(naive.value)),
        (_webhook(startsAt="0001-01-01T00:00:00+01:00"), str(early.value)),
        (_webhook(endsAt="0001-01-01T01:00:00+01:00"), str(zero_elsewhere.value)),
    ):
        with pytest.raises(InputError) as info:
            alertmanager.parse(body)
        assert [p.message for p in info.value.problems] == [message]


# -- whole bodies --------------------------------------------------------------------------------------


def _webhook(alerts: list[dict] | None = None, **alert) -> bytes:
    one = {
        "status": "resolved",
        "labels": {"alertname": "DiskFull", "instance": "web1"},
        "annotations": {"summary": "Disk almost full"},
        "startsAt": "2026-11-25T14:00:00.000Z",
        "endsAt": "2026-11-25T15:00:00.000Z",
        **alert,
    }
    hook = {"version": "4", "groupKey": "g", "status": "firing", "receiver": "r", "alerts": alerts or [one]}
    return json.dumps(hook).encode()


# Bodies are mostly valid (so that the alerts themselves are compared), each part now and then odd or
# hostile: control characters, lone surrogates, overlong texts, bad label names, wrong types.


def rarely(good, odd, one_in: int = 30):
    """`good`, and once in `one_in` draws `odd`."""
    return st.sampled_from([good] * (one_in - 1) + [odd]).flatmap(lambda strategy: strategy)


CLEAN = st.text(st.characters(codec="utf-8", exclude_categories=["Cc"]), max_size=12)
ODD = st.sampled_from(["", "a\nb", "a\tb", "a\u0000b", "\u007f", "\ud800", "x" * 4097, "Zürich — ✓"]) | st.text(
    max_size=8
)
TEXTS = rarely(CLEAN, ODD)
GOOD_NAMES = st.one_of(
    st.sampled_from(["alertname", "severity", "instance", "summary", "description"]),
    st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True),
)
NAMES = rarely(GOOD_NAMES, st.sampled_from(["a-b", "0", "", "ü"]) | ODD)
LABELS = st.dictionaries(NAMES, TEXTS, max_size=5)
GOOD_TIMESTAMPS = st.builds(
    lambda wall, off: wall.isoformat(timespec="milliseconds") + off,
    st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2150, 1, 1)),
    st.sampled_from(["Z", "+00:00", "+02:00", "-05:30", "+14:00"]),
)
ALERTS = st.fixed_dictionaries(
    {
        "status": rarely(st.sampled_from(["firing", "resolved"]), st.sampled_from(["burning", None])),
        "labels": rarely(st.dictionaries(NAMES, TEXTS, min_size=1, max_size=5), st.sampled_from([[], None, {}])),
        "startsAt": rarely(GOOD_TIMESTAMPS, VALUES, 10),
    },
    optional={
        "annotations": rarely(st.dictionaries(NAMES, TEXTS, max_size=4), st.none()),
        "endsAt": rarely(GOOD_TIMESTAMPS | st.just("0001-01-01T00:00:00Z") | st.none(), VALUES, 10),
        "generatorURL": rarely(TEXTS, st.none()),
        "fingerprint": rarely(TEXTS, st.integers()),
    },
)
HOOKS = st.fixed_dictionaries(
    {
        "version": rarely(st.just("4"), st.sampled_from(["3", 4])),
        "groupKey": rarely(st.just('{}:{alertname="DiskFull"}') | CLEAN.filter(bool), ODD),
        "status": rarely(st.sampled_from(["firing", "resolved"]), st.just("burning")),
        "receiver": TEXTS,
        "alerts": rarely(st.lists(ALERTS, min_size=1, max_size=6), st.just([])),
    },
    optional={
        "truncatedAlerts": st.integers(-1, 5),
        "groupLabels": LABELS,
        "commonLabels": LABELS,
        "commonAnnotations": st.dictionaries(NAMES, TEXTS, max_size=3),
        "externalURL": TEXTS,
    },
).flatmap(lambda hook: rarely(st.just(hook), st.just({**hook, "unknown": 1}), 4))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOOKS)
def test_the_parser_answers_every_body_as_before(hook):
    _same(json.dumps(hook).encode())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["firing", "resolved"]), TIMESTAMPS, TIMESTAMPS), min_size=1, max_size=8))
def test_many_alerts_with_any_timestamps_are_answered_as_before(rows):
    alerts = [
        {"status": status, "labels": {"alertname": "X", "i": str(i)}, "startsAt": starts, "endsAt": ends}
        for i, (status, starts, ends) in enumerate(rows)
    ]
    _same(_webhook(alerts))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60) | st.text(max_size=60).map(str.encode))
def test_any_bytes_are_answered_as_before(body):
    _same(body)


@pytest.mark.parametrize(
    "body",
    [
        (
            __import__("pathlib").Path(__file__).resolve().parents[1] / "testdata" / "alertmanager" / "firing.json"
        ).read_bytes(),
        _webhook(),
        _webhook(status="firing"),
        _webhook(endsAt="0001-01-01T00:00:00Z"),
        _webhook(endsAt=None),
        _webhook(startsAt="2026-11-25T16:00:00+02:00", endsAt="2026-11-25T10:00:00-05:30"),
        _webhook(startsAt="1899-12-31T23:30:00-01:00"),
        _webhook(startsAt="2026-11-25T14:00:00"),
        _webhook(startsAt="0001-01-01T00:00:00Z"),
        _webhook(startsAt="yesterday", endsAt="0001-01-01T00:00:00+05:00", labels={}),
        _webhook([{"status": "firing", "labels": {"a": "b"}, "startsAt": "9999-12-31T23:59:59Z", "x": 1}] * 3),
    ],
)
def test_known_bodies_are_answered_as_before(body):
    _same(body)
