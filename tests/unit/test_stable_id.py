"""stable_id (pager/domain/alert.py): the JSON it hashes is json.JSONEncoder's, byte for byte."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from pager.domain.alert import stable_id

_REFERENCE = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def _reference(*parts: object) -> str:
    return hashlib.blake2b(_REFERENCE.encode(parts).encode(), digest_size=16).hexdigest()


_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.datetimes(timezones=st.just(timezone.utc))
)
_VALUES = st.recursive(
    _LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(_VALUES, max_size=6))
def test_stable_id_hashes_what_json_encoder_writes(parts):
    assert stable_id(*parts) == _reference(*parts)


def test_stable_id_of_an_alert_notification():
    parts = ("am", '{}:{alertname="X"}', "00000000000000a1", "firing", "2026-11-25T14:00:00+00:00", None)
    assert stable_id(*parts) == _reference(*parts)
    assert stable_id("é", datetime(2026, 1, 1, tzinfo=timezone.utc)) == _reference("é", "2026-01-01 00:00:00+00:00")
