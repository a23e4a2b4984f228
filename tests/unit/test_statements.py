"""Monthly statements through the real pipeline (issue 5): a booking, an alert during it that pages
the standby engineer, an SMS acknowledgement, resolve, worked time logged -> the statement has the
block and the call-out with the right amounts and the response record; the same kind of alert
outside any booking, for an office-hours project, bills nothing.

Example config: acme rate 95.00 EUR, increment 15m, response target 30m; standby rotation week of
2026-12-07: dewi. Amounts by hand in the comments."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from pager.service.statement_render import to_csv, to_html
from pager.service.statements import StatementError, engineers, month_range, statement
from pager.storage.port import Requester
from tests.scenarios.harness import EXAMPLE_CONFIG, Scenario

RECURRING = "standby: [evening_night, weekend, holiday], "


def config_variant(tmp_path, webshop: str = "", extra: str = "") -> str:
    """The example config with acme's webshop recurring standby replaced (default: none, dated
    bookings only) and `extra` lines added to acme's projects."""
    text = EXAMPLE_CONFIG.read_text()
    assert RECURRING in text
    text = text.replace(RECURRING, webshop)
    if extra:
        text = text.replace(
            "      intranet: {coverage: office_hours}\n", "      intranet: {coverage: office_hours}\n" + extra
        )
    path = tmp_path / "pagerd.yaml"
    path.write_text(text)
    return path


WEBSHOP = {"customer": "acme", "service": "webshop"}
INTRANET = {"customer": "acme", "service": "intranet"}
NOW = datetime(2027, 1, 2, 12, 0, tzinfo=timezone.utc)


async def _book(s: Scenario, start: str, end: str) -> dict:
    status, row = await s.api(
        "POST", "/api/v1/bookings", {"customer": "acme", "start": start, "end": end, "by": "desk"}
    )
    assert status == 201, row
    return row


async def test_a_booked_night_with_one_callout(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=config_variant(tmp_path)) as s:  # Wednesday
        # Wed 18:00 -> Thu 08:30 CET: one evening_night block of 14.5 h x 1 x 95 = 1377.50
        await _book(s, "2026-12-09T18:00:00+01:00", "2026-12-10T08:30:00+01:00")
        await s.at("20:00")
        iid = await s.fire(WEBSHOP)
        assert ("Wed 20:00", "sms", "dewi") in s.log()
        await s.at("20:12")
        assert (await s.reply("dewi", "1")).endswith("acknowledged")
        await s.at("20:50")
        status, _ = await s.api("POST", f"/api/v1/incidents/{iid}/resolve", {"by": "dewi"})
        assert status == 200
        # worked 70 min -> 1.25 h x 95 = 118.75
        status, _ = await s.api("POST", f"/api/v1/incidents/{iid}/work", {"minutes": 70, "by": "dewi"})
        assert status == 201

        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        assert st["blocks"] == [
            {
                "period": "evening_night",
                "start": "2026-12-09T17:00:00Z",
                "end": "2026-12-10T07:30:00Z",
                "hours": "14.50",
                "billed_hours": "14.50",
                "multiplier": "1.00",
                "fee": "1377.50",
                "provisional": False,
            }
        ]
        (call,) = st["callouts"]
        assert (call["start"], call["worked_hours"], call["billed_hours"], call["amount"]) == (
            "2026-12-09T19:00:00Z",
            "1.17",
            "1.25",
            "118.75",
        )
        round_one = {
            "round": 1,
            "paged_at": "2026-12-09T19:00:00Z",
            "deadline": "2026-12-09T19:30:00Z",
            "answered_at": "2026-12-09T19:12:00Z",
            "answered_by": "dewi",
            "answered_via": "sms",
            "answered_kind": "acknowledged",
            "minutes_to_answer": 12.0,
            "target_minutes": 30.0,
            "outcome": "met",
        }
        assert call["incidents"] == [
            {
                "id": iid,
                "summary": "ScenarioAlert for acme webshop",
                "project": "acme/webshop",
                "worked_minutes": 70,
                "worked_source": "logged",
                "rounds": [round_one],
            }
        ]
        assert st["out_of_contract"] == []
        assert st["totals"] == {
            "standby": "1377.50",
            "callouts": "118.75",
            "out_of_contract": "0.00",
            "tickets": "0.00",
            "total": "1496.25",
            "vat_rate": "21.00",
            "vat": "314.21",
            "total_incl_vat": "1810.46",
        }
        (resp,) = st["responses"]
        assert resp == {
            "incident": iid,
            "summary": "ScenarioAlert for acme webshop",
            "project": "acme/webshop",
            **round_one,
        }
        assert (st["currency"], st["rate"], st["responses_met"], st["responses_breached"]) == ("EUR", "95.00", 1, 0)

        # the same night without logged work: acknowledgement -> resolve (20:12 -> 20:50, 38 min) is
        # the proposal, billed at the 1-h minimum: 95.00
        await s.at("2026-12-10 01:00")
        iid2 = await s.fire(WEBSHOP, group="second")
        await s.at("2026-12-10 01:40")  # 40 min: breached
        await s.reply("dewi", "1")
        await s.at("2026-12-10 02:00")
        await s.api("POST", f"/api/v1/incidents/{iid2}/resolve", {"by": "dewi"})
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        assert [c["amount"] for c in st["callouts"]] == ["118.75", "95.00"]
        assert st["callouts"][1]["incidents"][0]["worked_source"] == "proposed"
        assert st["callouts"][1]["incidents"][0]["worked_minutes"] == 20
        assert [r["outcome"] for r in st["responses"]] == ["met", "breached"]
        assert st["totals"]["total"] == "1591.25"

        eng = await engineers(s.store, s.config, s.schedule, "2026-12", NOW)
        (dewi,) = eng["engineers"]
        assert (dewi["person"], dewi["standby_hours"]["evening_night"], dewi["callout_count"]) == ("dewi", "14.50", 2)


@pytest.mark.parametrize(
    "second_ack, outcome, seconds, breaches",
    [
        ("21:40", "breached", 55 * 60, 1),  # 55 min after the page at 20:45: the target (30 min) is missed
        ("21:10", "met", 25 * 60, 0),
    ],
)
async def test_a_reopened_callout_is_two_rounds_each_judged_on_its_own(
    tmp_path, second_ack, outcome, seconds, breaches
):
    """Paged 20:00, acknowledged 20:05, resolved; fires again 20:45 and is paged afresh, acknowledged
    at `second_ack`. The first round is met whatever the second does (the first page is never paired
    with the last acknowledgement)."""
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=config_variant(tmp_path)) as s:  # Wednesday
        await _book(s, "2026-12-09T18:00:00+01:00", "2026-12-10T08:30:00+01:00")
        await s.at("20:00")
        iid = await s.fire(WEBSHOP, group="checkout")
        await s.at("20:05")
        assert await s.reply("dewi", "1") == f"#{iid} acknowledged"
        await s.at("20:10")
        assert await s.reply("dewi", "2") == f"#{iid} resolved"
        await s.at("20:45")
        assert await s.fire(WEBSHOP, group="checkout") == iid  # reopened: round two
        assert s.log(since="20:45") == [("Wed 20:45", "email", "dewi"), ("Wed 20:45", "sms", "dewi")]
        await s.at(second_ack)
        assert await s.reply("dewi", "1") == f"#{iid} acknowledged"
        await s.at("22:00")
        assert await s.fire(WEBSHOP, group="checkout", resolved=True) == iid  # the alert clears
        await s.at("22:30")

        response = (await s.incident(iid))["response"]
        assert [
            (
                r["round"],
                r["first_page_at"],
                r["deadline"],
                r["answered_at"],
                r["answered_by"],
                r["answered_via"],
                r["answered_kind"],
                r["outcome"],
                r["seconds"],
            )
            for r in response["rounds"]
        ] == [
            (
                1,
                "2026-12-09T19:00:00.000000Z",
                "2026-12-09T19:30:00.000000Z",
                "2026-12-09T19:05:00.000000Z",
                "dewi",
                "sms",
                "acknowledged",
                "met",
                5 * 60,
            ),
            (
                2,
                "2026-12-09T19:45:00.000000Z",
                "2026-12-09T20:15:00.000000Z",
                s.instant(second_ack).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                "dewi",
                "sms",
                "acknowledged",
                outcome,
                seconds,
            ),
        ]
        assert response["current"] == response["rounds"][1]
        assert len(await s.events(iid, "response_target_breached")) == breaches
        assert s.metrics.registry.get_sample_value("pagerd_response_target_breaches_total") == breaches
        assert s.metrics.registry.get_sample_value("pagerd_response_seconds_count") == 2

        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        (call,) = st["callouts"]
        (inc,) = call["incidents"]
        assert [(r["round"], r["paged_at"], r["minutes_to_answer"], r["outcome"]) for r in inc["rounds"]] == [
            (1, "2026-12-09T19:00:00Z", 5.0, "met"),
            (2, "2026-12-09T19:45:00Z", seconds / 60, outcome),
        ]
        assert [(r["incident"], r["round"], r["outcome"]) for r in st["responses"]] == [
            (iid, 1, "met"),
            (iid, 2, outcome),
        ]
        assert (st["responses_met"], st["responses_breached"]) == (2 - breaches, breaches)

        rows = [r for r in csv.DictReader(io.StringIO(to_csv(st))) if r["kind"] == "response"]
        assert [
            (r["incidents"], r["round"], r["start"], r["answered_by"], r["answered_via"], r["outcome"]) for r in rows
        ] == [
            (str(iid), "1", "2026-12-09T19:00:00Z", "dewi", "sms", "met"),
            (str(iid), "2", "2026-12-09T19:45:00Z", "dewi", "sms", outcome),
        ]
        page = to_html(st)  # acme's statements are in Dutch (its language)
        assert f"#{iid} ronde 2" in page and "ronde 1: opgeroepen wo 9 dec 20:00" in page
        assert f"Gehaald {2 - breaches}, overschreden {breaches} (rondes)" in page


async def test_a_round_that_was_never_paged_is_pending_and_left_out_of_the_statement(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=config_variant(tmp_path)) as s:  # Wednesday
        await _book(s, "2026-12-09T18:00:00+01:00", "2026-12-09T22:00:00+01:00")  # the evening only
        await s.at("21:00")
        iid = await s.fire(WEBSHOP, group="checkout")
        await s.at("21:10")
        assert await s.reply("dewi", "1") == f"#{iid} acknowledged"
        await s.at("21:30")
        assert await s.reply("dewi", "2") == f"#{iid} resolved"
        await s.at("22:15")  # fires again after the booking: nobody is paged, the desk hears at 08:30
        assert await s.fire(WEBSHOP, group="checkout") == iid
        assert s.log(since="22:00") == []

        response = (await s.incident(iid))["response"]
        assert [(r["round"], r["first_page_at"], r["deadline"], r["outcome"]) for r in response["rounds"]] == [
            (1, "2026-12-09T20:00:00.000000Z", "2026-12-09T20:30:00.000000Z", "met"),
            (2, None, None, "pending"),
        ]
        assert response["current"]["escalation"] == "waiting"
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        assert [(r["incident"], r["round"], r["outcome"]) for r in st["responses"]] == [(iid, 1, "met")]
        assert [r["round"] for r in st["callouts"][0]["incidents"][0]["rounds"]] == [1]


async def test_an_office_hours_project_alert_outside_any_booking_bills_nothing(tmp_path):
    async with Scenario(
        tmp_path, "2026-12-09 20:00", config_path=config_variant(tmp_path)
    ) as s:  # Wednesday evening, no booking
        iid = await s.fire(INTRANET)
        assert s.log() == []  # office-hours coverage: nobody is woken
        await s.at("2026-12-10 09:00")
        await s.api("POST", f"/api/v1/incidents/{iid}/ack", {"by": "anna"})
        await s.api("POST", f"/api/v1/incidents/{iid}/resolve", {"by": "anna"})
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        assert (st["blocks"], st["callouts"], st["out_of_contract"], st["responses"]) == ([], [], [], [])
        assert st["totals"]["total"] == "0.00"

        # time logged on it is out-of-contract work at the standard rate, no minimum: 20 min, rounded
        # up to the 15-min increment -> 0.5 h x 95 = 47.50
        await s.api("POST", f"/api/v1/incidents/{iid}/work", {"minutes": 20, "by": "anna"})
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        (line,) = st["out_of_contract"]
        assert (line["incident"], line["billed_hours"], line["amount"]) == (iid, "0.50", "47.50")
        assert st["totals"]["total"] == "47.50"


async def test_refusals(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 20:00", config_path=config_variant(tmp_path)) as s:
        with pytest.raises(StatementError, match="unknown customer"):
            await statement(s.store, s.config, s.schedule, "nope", "2026-12", NOW)
        with pytest.raises(StatementError, match="no rate"):
            await statement(s.store, s.config, s.schedule, "agency", "2026-12", NOW)
        for bad in ("2026-13", "2026-1", "26-12", ""):
            with pytest.raises(StatementError, match="YYYY-MM"):
                month_range(bad, s.schedule.calendar)


def test_month_range_is_local_midnights(tmp_path):
    from pager.domain.calendar import Calendar

    start, end = month_range("2026-03", Calendar())  # default rules: Europe/Amsterdam
    assert (start.isoformat(), end.isoformat()) == ("2026-02-28T23:00:00+00:00", "2026-03-31T22:00:00+00:00")


def test_terms_from_customer_config():
    from decimal import Decimal

    import pydantic

    from pager.config.model import CustomerConfig
    from pager.domain.calendar import Period
    from pager.service.statements import terms_of

    base = {"name": "C", "projects": {"web": {}}}
    c = CustomerConfig.model_validate(
        {
            **base,
            "rate": "97.50",
            "currency": "USD",
            "billing_increment": "6m",
            "tariffs": {"weekend": {"multiplier": "0.6"}, "holiday": {"minimum": "4h"}},
        }
    )
    t = terms_of(c)
    assert (t.rate, t.currency, t.increment.total_seconds()) == (Decimal("97.50"), "USD", 360)
    assert (t.tariff(Period.WEEKEND).multiplier, t.tariff(Period.WEEKEND).minimum.total_seconds()) == (
        Decimal("0.6"),
        4 * 3600,
    )  # minimum kept from the default
    assert (t.tariff(Period.HOLIDAY).multiplier, t.tariff(Period.HOLIDAY).minimum.total_seconds()) == (
        Decimal("1"),
        4 * 3600,
    )
    assert CustomerConfig.model_validate({**base, "rate": 95}).rate == Decimal(95)
    for bad in (95.5, "abc", "-1", "NaN", True):
        with pytest.raises(pydantic.ValidationError):
            CustomerConfig.model_validate({**base, "rate": bad})
    with pytest.raises(pydantic.ValidationError):
        CustomerConfig.model_validate({**base, "tariffs": {"office": {"multiplier": "1"}}})
    with pytest.raises(StatementError, match="no rate"):
        terms_of(CustomerConfig.model_validate(base))


# --------------------------------------------------------------------------- recurring standby
# acme, rate 95.00; calendar Europe/Amsterdam, office Mon-Fri 08:30-18:00, weekend days 08:30-18:00,
# holidays whole days (25-26 Dec; 31 Dec is a company day off, so 31 Dec-1 Jan is one 48-h run).
HOLIDAY_ONLY = "standby: [holiday], "
RECURRING_CASES = [
    # (webshop's recurring standby, extra projects, month, dated bookings (local), blocks, total)
    pytest.param(
        HOLIDAY_ONLY,
        "",
        "2026-12",
        [],
        # 25-26 Dec 48 h x 95 = 4560.00; 31 Dec-1 Jan 48 h, starts in Dec: 4560.00
        [("holiday", "48.00", "4560.00")] * 2,
        "9120.00",
        id="holidays-dec",
    ),
    pytest.param(HOLIDAY_ONLY, "", "2027-01", [], [], "0.00", id="new-year-run-belongs-to-dec"),
    pytest.param(
        "standby: [weekend], ",
        "",
        "2027-02",
        [],
        # Sat/Sun 6-7, 13-14, 20-21, 27-28 Feb, 08:30-18:00: 9.5 h x 0.5 x 95 = 451.25, x 8
        [("weekend", "9.50", "451.25")] * 8,
        "3610.00",
        id="weekends-feb",
    ),
    pytest.param(
        HOLIDAY_ONLY,
        "",
        "2026-12",
        [("2026-12-24T18:00:00+01:00", "2026-12-27T12:00:00+01:00")],
        # booking Thu 24 Dec 18:00 -> Sun 27 Dec 12:00 merged with the recurring holidays:
        # evening 6 h x 95 = 570.00; holiday once 4560.00; night 8.5 h x 95 = 807.50;
        # Sunday 08:30-12:00 3.5 h -> 4-h minimum x 0.5 x 95 = 190.00; 31 Dec run 4560.00
        [
            ("evening_night", "6.00", "570.00"),
            ("holiday", "48.00", "4560.00"),
            ("evening_night", "8.50", "807.50"),
            ("weekend", "3.50", "190.00"),
            ("holiday", "48.00", "4560.00"),
        ],
        "10687.50",
        id="booking-over-recurring-billed-once",
    ),
    pytest.param(
        HOLIDAY_ONLY,
        "      api: {coverage: standby, standby: [holiday]}\n",
        "2026-12",
        [],
        [("holiday", "48.00", "4560.00")] * 2,
        "9120.00",
        id="two-projects-one-block",
    ),
    pytest.param(
        "",
        "      ops: {coverage: always, standby: [holiday]}\n",
        "2026-12",
        [],
        [],
        "0.00",
        id="only-coverage-standby-is-recurring",
    ),
]


@pytest.mark.parametrize("webshop, extra, month, bookings, blocks, total", RECURRING_CASES)
async def test_recurring_standby_is_billed(tmp_path, webshop, extra, month, bookings, blocks, total):
    async with Scenario(tmp_path, "2026-11-02 10:00", config_path=config_variant(tmp_path, webshop, extra)) as s:
        for start, end in bookings:
            status, row = await s.api(
                "POST", "/api/v1/bookings", {"customer": "acme", "start": start, "end": end, "by": "desk"}
            )
            assert status == 201, row
        st = await statement(s.store, s.config, s.schedule, "acme", month, NOW)
        assert [(b["period"], b["hours"], b["fee"]) for b in st["blocks"]] == blocks
        assert st["totals"]["total"] == total
        starts = [b["start"] for b in st["blocks"]]
        assert len(starts) == len(set(starts))  # no hour twice


async def test_callouts_in_recurring_standby(tmp_path):
    """webshop: recurring holiday standby. Christmas Day (Fri 25 Dec 2026): a webshop alert pages the
    standby rotation and is a call-out; an intranet alert (office hours) is not, its logged time is
    out-of-contract work."""
    async with Scenario(tmp_path, "2026-12-25 10:00", config_path=config_variant(tmp_path, HOLIDAY_ONLY)) as s:
        iid = await s.fire(WEBSHOP)
        assert s.log(), "the recurring holiday standby pages"
        await s.at("10:10")
        await s.api("POST", f"/api/v1/incidents/{iid}/ack", {"by": "eva"})
        await s.at("10:50")
        await s.api("POST", f"/api/v1/incidents/{iid}/resolve", {"by": "eva"})
        other = await s.fire(INTRANET, group="intranet")
        await s.api("POST", f"/api/v1/incidents/{other}/work", {"minutes": 20, "by": "eva"})
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        # ack -> resolve 40 min proposed -> 1-h minimum x 95 = 95.00
        (call,) = st["callouts"]
        assert (call["start"], call["billed_hours"], call["amount"]) == ("2026-12-25T09:00:00Z", "1.00", "95.00")
        assert call["incidents"][0]["id"] == iid
        # intranet: 20 min -> 0.5 h x 95 = 47.50 out of contract
        assert [(x["incident"], x["amount"]) for x in st["out_of_contract"]] == [(other, "47.50")]
        assert [r["outcome"] for r in st["responses"]] == ["met"]
        assert st["recurring_standby"] == {"webshop": ["holiday"]}
        assert st["totals"] == {
            "standby": "9120.00",
            "callouts": "95.00",
            "out_of_contract": "47.50",
            "tickets": "0.00",
            "total": "9262.50",
            "vat_rate": "21.00",
            "vat": "1945.13",  # 21% of 9262.50 = 1945.125, rounded half-up
            "total_incl_vat": "11207.63",
        }


async def test_a_booking_cancelled_before_it_starts_bills_nothing_and_pages_nobody(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 12:00", config_path=config_variant(tmp_path)) as s:  # Wednesday noon
        row = await _book(s, "2026-12-09T18:00:00+01:00", "2026-12-10T08:30:00+01:00")
        status, _ = await s.api("DELETE", f"/api/v1/bookings/{row['id']}?by=desk")
        assert status == 200
        await s.at("20:00")
        await s.fire(WEBSHOP)  # no booking and no recurring standby: nobody is woken
        assert s.log() == []
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        assert (st["blocks"], st["callouts"]) == ([], [])
        assert st["totals"]["total"] == "0.00"


async def _ticket(s: Scenario, subject: str, customer: str | None = "acme") -> int:
    t = await s.store.create_ticket(
        subject=subject,
        body="The customer called.",
        via="phone",
        customer=customer,
        project=f"{customer}/webshop" if customer else None,
        requester=Requester(contact=None, name="Jan", email="jan@acme.example", phone=None),
        priority="normal",
        assignee=None,
        watchers=(),
        attachments=(),
        actor="anna",
        now=datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc),
    )
    return t.number


def _local(text: str) -> datetime:
    """A wall-clock time in Amsterdam (the example calendar's zone) as an instant."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Amsterdam"))


async def ticket_month(s: Scenario) -> tuple[int, int]:
    """December 2026 of acme: billable time on two tickets, covered and call-out time, triage time, and
    entries either side of the month's local edges. Rate 95.00, increment 15m:
      #a "Checkout hangs":  billable 20 min -> 0.50 h x 95 = 47.50; covered 30 min (not charged);
                            call-out 60 min (left out: the call-out section bills it)
      #b "New certificate": billable 50 + 25 (Thu 31 Dec 23:30 local) = 75 min -> 1.25 h x 95 = 118.75
      tickets 166.25"""
    a = await _ticket(s, "Checkout hangs")
    b = await _ticket(s, "New certificate")
    triage = await _ticket(s, "Who is this?", customer=None)
    only_callout = await _ticket(s, "Night alarm")

    async def log(number: int, kind: str, minutes: int, at: str) -> None:
        await s.store.add_ticket_time(number, kind=kind, minutes=minutes, by="anna", note=None, now=_local(at))

    await log(a, "billable", 20, "2026-12-10T10:00")
    await log(a, "covered", 30, "2026-12-10T11:00")
    await log(a, "callout", 60, "2026-12-12T03:00")
    await log(b, "billable", 50, "2026-12-01T00:00")  # the month's first instant (local)
    await log(b, "billable", 25, "2026-12-31T23:30")  # 22:30 UTC: still December here
    await log(b, "billable", 10, "2027-01-01T00:10")  # 31 Dec 23:10 UTC, but January here
    await log(b, "billable", 40, "2026-11-30T23:59")  # November
    await log(triage, "billable", 40, "2026-12-10T10:00")
    await log(only_callout, "callout", 90, "2026-12-12T03:00")
    return a, b


async def test_billable_ticket_time_is_billed_per_ticket_rounded_up_and_covered_time_listed(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=config_variant(tmp_path)) as s:
        a, b = await ticket_month(s)
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        assert st["ticket_hours"] == [
            {
                "number": a,
                "subject": "Checkout hangs",
                "billable_minutes": 20,
                "billed_minutes": 30,
                "billed_hours": "0.50",
                "amount": "47.50",
                "covered_minutes": 30,
            },
            {
                "number": b,
                "subject": "New certificate",
                "billable_minutes": 75,
                "billed_minutes": 75,
                "billed_hours": "1.25",
                "amount": "118.75",
                "covered_minutes": 0,
            },
        ]
        totals = st["totals"]
        assert (totals["tickets"], totals["total"], totals["vat"], totals["total_incl_vat"]) == (
            "166.25",
            "166.25",
            "34.91",  # 21 % of 166.25 = 34.9125
            "201.16",
        )
        (line,) = [x for x in st["summary"] if x["kind"] == "tickets"]
        assert (line["count"], line["hours"], line["billed_hours"], line["amount"]) == (2, "1.58", "1.75", "166.25")
        # call-out time bills nothing here and triage time is on no statement
        assert not st["callouts"] and not st["out_of_contract"]

        rows = list(csv.DictReader(io.StringIO(to_csv(st))))
        mine = [(r["kind"], r["incidents"], r["description"], r["hours"], r["billed_hours"], r["amount"]) for r in rows]
        assert ("ticket", str(a), "Checkout hangs", "0.33", "0.50", "47.50") in mine
        assert ("ticket_covered", str(a), "Checkout hangs", "0.50", "0.00", "0.00") in mine
        assert ("ticket", str(b), "New certificate", "1.25", "1.25", "118.75") in mine
        assert ("subtotal_tickets", "", "", "", "", "166.25") in mine
        html = to_html(st)
        assert "Uren op tickets" in html and "Checkout hangs" in html and "Who is this?" not in html
        assert "Night alarm" not in html and "staat onder Oproepen" in html

        # January has the entry made at 00:10 local on the 1st: 10 min -> 15 min -> 0.25 h x 95 = 23.75
        jan = await statement(s.store, s.config, s.schedule, "acme", "2027-01", NOW)
        assert [(x["number"], x["billable_minutes"], x["amount"]) for x in jan["ticket_hours"]] == [(b, 10, "23.75")]
        # another customer's statement has none of it
        other = [c for c in s.config.customers if c not in ("acme", "agency") and s.config.customers[c].rate]
        for cid in other:
            assert (await statement(s.store, s.config, s.schedule, cid, "2026-12", NOW))["ticket_hours"] == []


async def test_a_month_without_ticket_time_has_no_ticket_section(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=config_variant(tmp_path)) as s:
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        assert st["ticket_hours"] == [] and st["totals"]["tickets"] == "0.00"
        assert all(x["kind"] != "tickets" for x in st["summary"])
        assert "Uren op tickets" not in to_html(st)


async def test_a_hostile_ticket_subject_is_text_in_the_csv_and_the_page(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=config_variant(tmp_path)) as s:
        hostile = "=HYPERLINK(\"http://x\") <b>bold</b>"
        n = await _ticket(s, hostile)
        await s.store.add_ticket_time(
            n, kind="billable", minutes=15, by="anna", note=None, now=_local("2026-12-10T10:00")
        )
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        (row,) = [r for r in csv.DictReader(io.StringIO(to_csv(st))) if r["kind"] == "ticket"]
        assert row["description"] == "'" + hostile and row["amount"] == "23.75"
        page = to_html(st)
        assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
