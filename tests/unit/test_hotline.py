"""The standby number's decision (pager.domain.hotline.decide_call): one literal call per row, on the
agency's calendar (Europe/Amsterdam, NL holidays, office 08:30-18:00 on weekdays)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pager.domain.calendar import Calendar, Period
from pager.domain.contacts import Contact
from pager.domain.hotline import (
    CallAction,
    HotlineCustomer,
    decide_call,
    prompt,
    standby_project,
)
from pager.domain.paging import Coverage, ProjectCoverage

CAL = Calendar()
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
DESK = "+31 20 123 0000"

JAN = Contact(id="acme.jan", customer="acme", name="Jan Pietersen", phone="+31201234567", language="nl")
SARA = Contact(id="acme.sara", customer="acme", name="Sara Mol", phone="+31612345678", language="en")
PIET = Contact(id="beta.piet", customer="beta", name="Piet", phone="+31301234567")  # no standby at all
GEA = Contact(id="gamma.gea", customer="gamma", name="Gea", phone="+31401234567")  # standby by booking only
CONTACTS = [JAN, SARA, PIET, GEA]
BOOKED = (datetime(2026, 12, 11, 18, 0, tzinfo=CET), datetime(2026, 12, 14, 8, 30, tzinfo=CET))
CUSTOMERS = {
    "acme": HotlineCustomer(
        "acme",
        ProjectCoverage(
            "acme/webshop",
            Coverage.STANDBY,
            frozenset({Period.EVENING_NIGHT, Period.WEEKEND, Period.HOLIDAY}),
        ),
    ),
    "beta": HotlineCustomer("beta", ProjectCoverage("beta/site", Coverage.OFFICE_HOURS)),
    "gamma": HotlineCustomer("gamma", ProjectCoverage("gamma/shop", Coverage.STANDBY, bookings=(BOOKED,))),
}

F, S, V = CallAction.FORWARD, CallAction.STANDBY, CallAction.VOICEMAIL

# (what, caller, instant, action, project)
ROWS = [
    ("weekday office", "+31201234567", datetime(2026, 12, 3, 10, 0, tzinfo=CET), F, "acme/webshop"),
    ("office opens 08:30", "+31201234567", datetime(2026, 12, 3, 8, 30, tzinfo=CET), F, "acme/webshop"),
    ("a second before opening", "+31201234567", datetime(2026, 12, 3, 8, 29, 59, tzinfo=CET), S, "acme/webshop"),
    ("closing 18:00 is evening", "+31201234567", datetime(2026, 12, 3, 18, 0, tzinfo=CET), S, "acme/webshop"),
    ("evening", "+31201234567", datetime(2026, 12, 3, 20, 15, tzinfo=CET), S, "acme/webshop"),
    ("midnight", "+31201234567", datetime(2026, 12, 4, 0, 0, tzinfo=CET), S, "acme/webshop"),
    ("weekend day", "+31201234567", datetime(2026, 12, 5, 11, 0, tzinfo=CET), S, "acme/webshop"),
    ("King's Day 10:00 (a Monday)", "+31201234567", datetime(2026, 4, 27, 10, 0, tzinfo=CEST), S, "acme/webshop"),
    ("Christmas Day office time", "+31201234567", datetime(2026, 12, 25, 11, 0, tzinfo=CET), S, "acme/webshop"),
    ("national number form", "020 123 4567", datetime(2026, 12, 3, 20, 0, tzinfo=CET), S, "acme/webshop"),
    ("spring DST: 01:59 CET", "+31201234567", datetime(2026, 3, 29, 1, 59, tzinfo=CET), S, "acme/webshop"),
    ("spring DST: 03:00 CEST", "+31201234567", datetime(2026, 3, 29, 3, 0, tzinfo=CEST), S, "acme/webshop"),
    (
        "Monday after spring DST 08:30 CEST",
        "+31201234567",
        datetime(2026, 3, 30, 8, 30, tzinfo=CEST),
        F,
        "acme/webshop",
    ),
    (
        "Monday after spring DST 08:29 CEST",
        "+31201234567",
        datetime(2026, 3, 30, 8, 29, tzinfo=CEST),
        S,
        "acme/webshop",
    ),
    ("autumn DST: first 02:30", "+31201234567", datetime(2026, 10, 25, 2, 30, tzinfo=CEST), S, "acme/webshop"),
    ("autumn DST: second 02:30", "+31201234567", datetime(2026, 10, 25, 2, 30, tzinfo=CET), S, "acme/webshop"),
    ("Monday after autumn DST 08:30 CET", "+31201234567", datetime(2026, 10, 26, 8, 30, tzinfo=CET), F, "acme/webshop"),
    ("unknown caller, office", "+31209999999", datetime(2026, 12, 3, 10, 0, tzinfo=CET), F, None),
    ("unknown caller, evening", "+31209999999", datetime(2026, 12, 3, 20, 0, tzinfo=CET), V, None),
    ("withheld number, night", "anonymous", datetime(2026, 12, 3, 23, 0, tzinfo=CET), V, None),
    ("no standby customer, office", "+31301234567", datetime(2026, 12, 3, 10, 0, tzinfo=CET), F, "beta/site"),
    ("no standby customer, evening", "+31301234567", datetime(2026, 12, 3, 20, 0, tzinfo=CET), V, "beta/site"),
    ("no standby customer, King's Day", "+31301234567", datetime(2026, 4, 27, 10, 0, tzinfo=CEST), V, "beta/site"),
    ("no standby customer, spring DST", "+31301234567", datetime(2026, 3, 29, 3, 0, tzinfo=CEST), V, "beta/site"),
    ("booked standby, inside", "+31401234567", datetime(2026, 12, 12, 22, 0, tzinfo=CET), S, "gamma/shop"),
    ("booked standby, its first instant", "+31401234567", datetime(2026, 12, 11, 18, 0, tzinfo=CET), S, "gamma/shop"),
    ("booked standby, its end", "+31401234567", datetime(2026, 12, 14, 8, 30, tzinfo=CET), F, "gamma/shop"),
    ("booked standby, a night before it", "+31401234567", datetime(2026, 12, 10, 22, 0, tzinfo=CET), V, "gamma/shop"),
]


@pytest.mark.parametrize(("what", "caller", "at", "action", "project"), ROWS, ids=[r[0] for r in ROWS])
def test_decision_table(what, caller, at, action, project):
    d = decide_call(caller, at, CAL, CONTACTS, CUSTOMERS, desk_phone=DESK)
    assert d.action is action, d.reason
    assert d.project == project
    if action is F:
        assert d.forward_to == "+31201230000"
    else:
        assert d.forward_to is None
    if action is S:
        assert d.coverage is not None and d.coverage.rotation == "standby"
        assert d.reason.startswith("standby call from ")


def test_the_coverage_decision_is_the_engines():
    """The number asks the engine's own function: its reason and booking are on the decision."""
    d = decide_call(
        "+31401234567", datetime(2026, 12, 12, 22, 0, tzinfo=CET), CAL, CONTACTS, CUSTOMERS, desk_phone=DESK
    )
    assert d.coverage is not None and d.coverage.booking == (
        BOOKED[0].astimezone(timezone.utc),
        BOOKED[1].astimezone(timezone.utc),
    )
    assert "has standby booked" in d.reason


def test_caller_found_by_e164_and_language():
    d = decide_call("06 12345678", datetime(2026, 12, 3, 20, 0, tzinfo=CET), CAL, CONTACTS, CUSTOMERS, desk_phone=DESK)
    assert d.contact == SARA and d.caller == "+31612345678" and d.language == "en" and d.customer == "acme"
    unknown = decide_call(
        "+31209999999", datetime(2026, 12, 3, 20, 0, tzinfo=CET), CAL, CONTACTS, CUSTOMERS, desk_phone=DESK
    )
    assert unknown.contact is None and unknown.customer is None and unknown.language == "nl"
    assert unknown.caller == "+31209999999"


@pytest.mark.parametrize("caller", ["", "anonymous", "+", "x" * 500, "0"])
def test_unparseable_numbers_are_unknown_callers(caller):
    d = decide_call(caller, datetime(2026, 12, 3, 20, 0, tzinfo=CET), CAL, CONTACTS, CUSTOMERS, desk_phone=DESK)
    assert d.action is V and d.caller is None and d.contact is None and "withheld" in d.reason


def test_office_hours_without_a_desk_phone_take_a_voicemail():
    at = datetime(2026, 12, 3, 10, 0, tzinfo=CET)
    assert decide_call("+31201234567", at, CAL, CONTACTS, CUSTOMERS, desk_phone=None).action is V
    assert decide_call("+31209999999", at, CAL, CONTACTS, CUSTOMERS, desk_phone=None).action is V


def test_a_contact_of_a_customer_missing_from_the_map_is_the_desks():
    d = decide_call("+31201234567", datetime(2026, 12, 3, 20, 0, tzinfo=CET), CAL, CONTACTS, {}, desk_phone=DESK)
    assert d.action is V and d.customer == "acme" and d.project is None


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        decide_call("+31201234567", datetime(2026, 12, 3, 20, 0), CAL, CONTACTS, CUSTOMERS, desk_phone=DESK)


@pytest.mark.parametrize(
    ("projects", "chosen", "expected"),
    [
        ({"intranet": "office_hours", "webshop": "standby"}, None, "webshop"),
        ({"intranet": "office_hours", "infra": "always", "shop": "standby"}, None, "infra"),
        ({"intranet": "office_hours", "site": "office_hours"}, None, "intranet"),
        ({"intranet": "office_hours", "webshop": "standby"}, "intranet", "intranet"),
        ({}, None, None),
    ],
)
def test_standby_project(projects, chosen, expected):
    assert standby_project(projects, chosen) == expected


def test_prompts_in_both_languages():
    assert prompt("nl", "standby", ref="#7").endswith("ticket #7.")
    assert "ticket #7" in prompt("en", "standby", ref="#7")
    assert prompt("fr", "greeting") == prompt("nl", "greeting")


# -- the config: desk.phone and customers.<id>.standby_project ------------------------------------------


def _customer(**extra) -> dict:
    return {
        "acme": {
            "name": "Acme",
            "projects": {"intranet": {"coverage": "office_hours"}, "webshop": {"coverage": "standby"}},
            **extra,
        }
    }


def test_config_checks_the_desk_phone_and_the_standby_project(tmp_path):
    from tests.unit.test_config import _doc, _issues

    doc = {**_doc(), "desk": {"phone": "not a number"}, "customers": _customer(standby_project="shop")}
    issues = dict(_issues(tmp_path, doc))
    assert "not a phone number" in issues["desk.phone"]
    assert "unknown project 'shop'" in issues["customers.acme.standby_project"]
    assert "intranet, webshop" in issues["customers.acme.standby_project"]
    assert _issues(tmp_path, {**_doc(), "desk": {"phone": "020 123 0000"}, "customers": _customer()}) == []


def test_the_example_configs_customers_as_the_number_sees_them():
    from pager.config import load
    from pager.service import hotline as sh
    from tests.harness.pagerd import EXAMPLE_ENV
    from tests.scenarios.harness import EXAMPLE_CONFIG

    cfg = load(EXAMPLE_CONFIG, env=EXAMPLE_ENV)
    assert cfg.desk.phone is not None
    found = sh.customers(cfg, [])
    assert {cid: c.coverage.project for cid, c in found.items()} == {
        "agency": "agency/infra",
        "acme": "acme/webshop",
    }
    assert found["acme"].coverage.mode is Coverage.STANDBY
    assert found["acme"].coverage.standby_periods == {Period.EVENING_NIGHT, Period.WEEKEND, Period.HOLIDAY}


def test_ticket_fields_of_a_call():
    from pager.service import hotline as sh

    at = datetime(2026, 12, 3, 20, 0, tzinfo=CET)
    standby = sh.ticket_fields(decide_call("+31201234567", at, CAL, CONTACTS, CUSTOMERS, desk_phone=DESK))
    assert (standby["subject"], standby["priority"], standby["project"], standby["customer"], standby["via"]) == (
        "Standby call from Jan Pietersen",
        "urgent",
        "acme/webshop",
        "acme",
        "phone",
    )
    assert standby["requester"].contact == "acme.jan"
    stranger = sh.ticket_fields(decide_call("+31209999999", at, CAL, CONTACTS, CUSTOMERS, desk_phone=DESK))
    assert (stranger["subject"], stranger["project"], stranger["customer"]) == (
        "Voicemail from +31209999999",
        None,
        None,
    )
    assert stranger["requester"].phone == "+31209999999"
    withheld = sh.ticket_fields(decide_call("anonymous", at, CAL, CONTACTS, CUSTOMERS, desk_phone=DESK))
    assert withheld["subject"] == "Voicemail from a withheld number" and withheld["requester"].phone is None
