"""The contract suite covers the port: every method of every protocol in pager/storage/port.py has a
test named test_<method> or test_<method>_... in its protocol's module, or is listed in PENDING; and
every store (`make_store`: each in FACTORIES) has every method with the protocol's parameters."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

from pager.storage.port import (
    BillingStore,
    CustomerMailStore,
    CustomerPortalStore,
    EscalationStore,
    HotlineStore,
    IncidentStore,
    MailStore,
    MaintenanceStore,
    PortalStore,
    ScheduleStore,
    Store,
    TicketStore,
)

HERE = Path(__file__).parent

# protocol -> the module of its contract tests
MODULES = {
    IncidentStore: "test_incidents",
    EscalationStore: "test_escalation",
    ScheduleStore: "test_schedule",
    BillingStore: "test_billing",
    MaintenanceStore: "test_maintenance",
    MailStore: "test_mail",
    TicketStore: "test_tickets",
    PortalStore: "test_portal",
    CustomerPortalStore: "test_customer_portal",
    CustomerMailStore: "test_customer_mail",
    HotlineStore: "test_hotline",
    Store: "test_lifecycle",  # the methods Store declares itself: open, close, ping
}

# Methods without a contract test yet (a new method of the port may wait here for its test)
PENDING: dict[type, set[str]] = {
    IncidentStore: set(),
    EscalationStore: set(),
    ScheduleStore: set(),
    BillingStore: set(),
    MaintenanceStore: set(),
    MailStore: set(),
    TicketStore: set(),
    PortalStore: set(),
    CustomerPortalStore: set(),
    CustomerMailStore: set(),
    HotlineStore: set(),
    Store: set(),
}


def methods(protocol: type) -> list[str]:
    """The methods a protocol declares itself (not those it inherits)."""
    return sorted(
        name for name, value in vars(protocol).items() if inspect.isfunction(value) and not name.startswith("_")
    )


def contract_tests(module: str) -> list[str]:
    mod = __import__(f"{__package__}.{module}", fromlist=["_"])
    return [name for name in vars(mod) if name.startswith("test_")]


def has_test(method: str, tests: list[str]) -> bool:
    return any(t == f"test_{method}" or t.startswith(f"test_{method}_") for t in tests)


def test_the_protocols_are_all_the_port() -> None:
    every = {m for p in MODULES for m in methods(p)}
    assert every == {m for m in dir(Store) if not m.startswith("_") and inspect.isfunction(getattr(Store, m))}
    assert sum(len(methods(p)) for p in MODULES) == len(every), "a method is declared in two protocols"


@pytest.mark.parametrize("protocol", MODULES, ids=lambda p: p.__name__)
def test_every_method_has_a_contract_test(protocol: type) -> None:
    tests = contract_tests(MODULES[protocol])
    missing = [m for m in methods(protocol) if not has_test(m, tests) and m not in PENDING[protocol]]
    assert missing == [], f"{protocol.__name__}: no test_<method>_... in {MODULES[protocol]}.py for {missing}"


@pytest.mark.parametrize("protocol", MODULES, ids=lambda p: p.__name__)
def test_pending_names_only_untested_methods_of_the_protocol(protocol: type) -> None:
    """A method that gets its contract test leaves PENDING, so the list shows the real gap."""
    tests = contract_tests(MODULES[protocol])
    assert PENDING[protocol] <= set(methods(protocol)), "PENDING names a method the protocol does not have"
    assert [m for m in sorted(PENDING[protocol]) if has_test(m, tests)] == []


def _parameters(fn) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_every_store_has_every_method_with_the_protocols_parameters(make_store: Callable[[], Store]) -> None:
    store = make_store()  # not opened: only its methods are looked at (its database is dropped afterwards)
    name = type(store).__name__
    for protocol in MODULES:
        for method in methods(protocol):
            impl, port = getattr(type(store), method, None), getattr(protocol, method)
            assert impl is not None, f"{name}: {method} is missing"
            # async as the port's is (every method that reads or writes the database; `connections` only
            # reports the connections' use, at a metrics scrape)
            assert inspect.iscoroutinefunction(impl) == inspect.iscoroutinefunction(port), (
                f"{name}: {method} is {'not ' if inspect.iscoroutinefunction(port) else ''}async, unlike the port"
            )
            assert _parameters(impl) == _parameters(port), f"{name}: {method} differs from the port"
