"""The statement's config: the agency's letterhead (`agency`), the VAT rate (`billing.vat_rate`) and a
customer's `language`; malformed, missing, oversized and hostile values are refused with their key."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from pager.config import load
from tests.unit.test_config import _doc, _issues, _write

AGENCY = {
    "name": "Example Hosting BV",
    "address": ["Voorbeeldstraat 1", "1234 AB Amsterdam"],
    "kvk": "12345678",
    "btw": "NL123456789B01",
    "iban": "NL91 ABNA 0417 1643 00",
    "payment_terms": "30d",
}
CUSTOMER = {"name": "Acme", "rate": "95.00", "projects": {"webshop": {"coverage": "standby"}}}


def test_the_letterhead_loads_and_the_defaults(tmp_path: Path) -> None:
    doc = {**_doc(), "agency": AGENCY, "billing": {"vat_rate": "9"}, "customers": {"acme": CUSTOMER}}
    cfg = load(_write(tmp_path, doc), env={})
    assert cfg.agency is not None and cfg.agency.iban == "NL91ABNA0417164300"  # kept without spaces
    assert cfg.agency.payment_terms == timedelta(days=30) and cfg.agency.address[1] == "1234 AB Amsterdam"
    assert cfg.billing.vat_rate == Decimal("9")
    assert cfg.customers["acme"].language == "nl"  # the default
    bare = load(_write(tmp_path, _doc()), env={})
    assert bare.agency is None and bare.billing.vat_rate == Decimal("21")


@pytest.mark.parametrize(
    "extra, key, says",
    [
        ({"agency": {"kvk": "12345678"}}, "agency.name", "required key is missing"),
        ({"agency": {**AGENCY, "name": ""}}, "agency.name", "at least 1 character"),
        ({"agency": {**AGENCY, "name": "x" * 201}}, "agency.name", "at most 200 characters"),
        ({"agency": {**AGENCY, "address": ["line"] * 7}}, "agency.address", "at most 6 items"),
        ({"agency": {**AGENCY, "address": "Voorbeeldstraat 1"}}, "agency.address", "valid list"),
        ({"agency": {**AGENCY, "kvk": "1234"}}, "agency.kvk", "should match pattern"),
        ({"agency": {**AGENCY, "kvk": 12345678}}, "agency.kvk", "valid string"),
        ({"agency": {**AGENCY, "btw": "NL12345678B01"}}, "agency.btw", "Dutch btw-id"),
        ({"agency": {**AGENCY, "btw": "<script>"}}, "agency.btw", "should match pattern"),
        ({"agency": {**AGENCY, "iban": "NL92 ABNA 0417 1643 00"}}, "agency.iban", "check digits"),
        ({"agency": {**AGENCY, "iban": "not an iban"}}, "agency.iban", "not an IBAN"),
        ({"agency": {**AGENCY, "payment_terms": "36h"}}, "agency.payment_terms", "whole days"),
        ({"agency": {**AGENCY, "payment_terms": "400d"}}, "agency.payment_terms", "whole days"),
        ({"agency": {**AGENCY, "colour": "red"}}, "agency.colour", "unknown key"),
        ({"billing": {"vat_rate": "121"}}, "billing.vat_rate", "from 0 to 100"),
        ({"billing": {"vat_rate": 21.0}}, "billing.vat_rate", "quote it in YAML"),
        ({"billing": {"vat_rate": "-1"}}, "billing.vat_rate", "from 0 to 999999999"),
        ({"billing": {"vat_rate": "NaN"}}, "billing.vat_rate", "from 0 to 999999999"),
        ({"customers": {"acme": {**CUSTOMER, "language": "de"}}}, "customers.acme.language", "'nl' or 'en'"),
    ],
)
def test_bad_values_are_refused_with_their_key(tmp_path: Path, extra: dict, key: str, says: str) -> None:
    issues = _issues(tmp_path, {**_doc(), **extra})
    assert [k for k, _ in issues] == [key], issues
    assert says in issues[0][1], issues
