"""Every method of the store port is exercised by the contract suite (issue 16: a store method without a
contract test fails here), so both stores are held to the same behaviour for all of it. A method counts as
tested when some module of tests/contract calls it by name."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pager.storage import port

CONTRACT = Path(__file__).resolve().parent


def store_methods() -> set[str]:
    return {
        name
        for cls in vars(port).values()
        if inspect.isclass(cls) and getattr(cls, "_is_protocol", False)
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member)
    }


def test_the_port_has_methods_to_check() -> None:
    assert {"ingest", "list_tickets", "add_booking"} <= store_methods()


def test_every_store_method_is_called_by_a_contract_test() -> None:
    text = "\n".join(p.read_text() for p in CONTRACT.glob("test_*.py") if p.name != Path(__file__).name)
    text += (CONTRACT / "seed.py").read_text()
    untested = sorted(m for m in store_methods() if not re.search(rf"\.{m}\(", text))
    assert untested == [], f"store methods no contract test calls: {untested}"
