"""`pagerd billing quote` as the support desk runs it: a real subprocess on the example config
(which only supplies the calendar: Europe/Amsterdam, NL holidays without Good Friday, plus
2026-12-31 as a company day off). Amounts worked out by hand in the comments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/pagerd.example.yaml"


def quote_cli(tmp_path: Path, *args: str, config: str | Path = CONFIG) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PAGERD_CONFIG"}
    env["PAGERD_DB"] = str(tmp_path / "pagerd.db")  # never read: a quote touches no database
    return subprocess.run(
        [sys.executable, "-m", "pager", "billing", "quote", "-c", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def ok_json(tmp_path: Path, *args: str, config: str | Path = CONFIG) -> dict:
    run = quote_cli(tmp_path, *args, "--json", config=config)
    assert run.returncode == 0, (args, run.stdout, run.stderr)
    assert run.stdout.count("\n") == 1  # exactly one object
    return json.loads(run.stdout)


# Friday 27 Nov 2026 18:00 -> Monday 30 Nov 08:30 (CET, local time: no offset given), rate 100:
#   Fri 18:00-Sat 08:30 evening_night 14.5 h       = 1450.00
#   Sat 08:30-18:00     weekend 9.5 h x 0.5 x 100  =  475.00
#   Sat 18:00-Sun 08:30 evening_night 14.5 h       = 1450.00
#   Sun 08:30-18:00     weekend 9.5 h x 0.5 x 100  =  475.00
#   Sun 18:00-Mon 08:30 evening_night 14.5 h       = 1450.00
# Call-outs Sat 23:00-23:20 and 23:40-00:10: the second starts within the first one's billed hour,
# so (default "merge") one call-out 23:00-00:10 = 70 min -> 1.25 h = 125.00. Total 5425.00.
WEEKEND_ARGS = (
    "--rate",
    "100",
    "--from",
    "2026-11-27T18:00",
    "--to",
    "2026-11-30T08:30",
    "--callout",
    "2026-11-28T23:00/2026-11-28T23:20",
    "--callout",
    "2026-11-28T23:40/2026-11-29T00:10",
)


def _block(period, start, end, hours, multiplier, fee, billed=None):
    return {
        "period": period,
        "start": start,
        "end": end,
        "hours": hours,
        "billed_hours": billed or hours,
        "multiplier": multiplier,
        "fee": fee,
        "covered": None,
    }


def test_quote_friday_to_monday_json(tmp_path):
    assert ok_json(tmp_path, *WEEKEND_ARGS) == {
        "currency": "EUR",
        "rate": "100.00",
        "blocks": [
            _block("evening_night", "2026-11-27T17:00:00Z", "2026-11-28T07:30:00Z", "14.50", "1.00", "1450.00"),
            _block("weekend", "2026-11-28T07:30:00Z", "2026-11-28T17:00:00Z", "9.50", "0.50", "475.00"),
            _block("evening_night", "2026-11-28T17:00:00Z", "2026-11-29T07:30:00Z", "14.50", "1.00", "1450.00"),
            _block("weekend", "2026-11-29T07:30:00Z", "2026-11-29T17:00:00Z", "9.50", "0.50", "475.00"),
            _block("evening_night", "2026-11-29T17:00:00Z", "2026-11-30T07:30:00Z", "14.50", "1.00", "1450.00"),
        ],
        "callouts": [
            {
                "start": "2026-11-28T22:00:00Z",
                "end": "2026-11-28T23:10:00Z",
                "worked_hours": "1.17",
                "billed_hours": "1.25",
                "amount": "125.00",
            }
        ],
        "total": "5425.00",
    }


def test_quote_separate_callouts(tmp_path):
    # The same with each call-out on its own minimum: 2 x 100.00 -> 5300 + 200 = 5500.00.
    out = ok_json(tmp_path, *WEEKEND_ARGS, "--callout-overlap", "separate")
    assert [c["amount"] for c in out["callouts"]] == ["100.00", "100.00"]
    assert out["total"] == "5500.00"


def test_quote_spring_dst_night_json(tmp_path):
    # Sat 28 Mar 2026 18:00 CET (17:00Z) -> Sun 29 Mar 08:30 CEST (06:30Z), given in UTC, rate 97.50:
    # the night lasts 13.5 h: 13.5 x 97.50 = 1316.25. A call-out 00:30Z-01:40Z (70 min, across the
    # jump) -> 1.25 h x 97.50 = 121.875 -> 121.88 (half-up). Total 1438.13.
    assert ok_json(
        tmp_path,
        "--rate",
        "97.50",
        "--from",
        "2026-03-28T17:00:00Z",
        "--to",
        "2026-03-29T06:30:00Z",
        "--callout",
        "2026-03-29T00:30:00Z/2026-03-29T01:40:00Z",
    ) == {
        "currency": "EUR",
        "rate": "97.50",
        "blocks": [_block("evening_night", "2026-03-28T17:00:00Z", "2026-03-29T06:30:00Z", "13.50", "1.00", "1316.25")],
        "callouts": [
            {
                "start": "2026-03-29T00:30:00Z",
                "end": "2026-03-29T01:40:00Z",
                "worked_hours": "1.17",
                "billed_hours": "1.25",
                "amount": "121.88",
            }
        ],
        "total": "1438.13",
    }


def test_quote_uses_the_configured_calendar(tmp_path):
    # The example config adds 2026-12-31 as a company day off (holiday: 2 h -> 8-h minimum = 800.00)
    # and leaves Good Friday (3 Apr 2026) out (office: free).
    assert (
        ok_json(tmp_path, "--rate", "100", "--from", "2026-12-31T10:00", "--to", "2026-12-31T12:00")["total"]
        == "800.00"
    )
    assert ok_json(tmp_path, "--rate", "100", "--from", "2026-04-03T10:00", "--to", "2026-04-03T12:00") == {
        "currency": "EUR",
        "rate": "100.00",
        "blocks": [],
        "callouts": [],
        "total": "0.00",
    }


def test_quote_table(tmp_path):
    run = quote_cli(tmp_path, *WEEKEND_ARGS)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "Europe/Amsterdam" in lines[0] and "EUR 100.00/h" in lines[0]
    assert [ln.split()[0] for ln in lines[2:7]] == [
        "evening_night",
        "weekend",
        "evening_night",
        "weekend",
        "evening_night",
    ]
    assert lines[2].split() == [
        "evening_night",
        "Fri",
        "2026-11-27",
        "18:00",
        "+01:00",
        "Sat",
        "2026-11-28",
        "08:30",
        "+01:00",
        "14.50",
        "14.50",
        "1.00",
        "1450.00",
    ]
    assert [
        "block",
        "3",
        "Sat",
        "2026-11-28",
        "23:00",
        "+01:00",
        "Sun",
        "2026-11-29",
        "00:10",
        "+01:00",
        "1.17",
        "1.25",
        "125.00",
    ] in [ln.split() for ln in lines]
    assert lines[-1].split() == ["TOTAL", "EUR", "5425.00"]


@pytest.mark.parametrize(
    "args, says",
    [
        (("--rate", "100", "--from", "2026-11-28T12:00", "--to", "2026-11-28T10:00"), "must be after --from"),
        (("--rate", "100", "--from", "2026-11-28T12:00", "--to", "2026-11-28T12:00"), "must be after --from"),
        (("--rate", "abc", "--from", "2026-11-28T10:00", "--to", "2026-11-28T12:00"), "--rate: not a number"),
        (("--rate", "-5", "--from", "2026-11-28T10:00", "--to", "2026-11-28T12:00"), "--rate must be"),
        (("--rate", "NaN", "--from", "2026-11-28T10:00", "--to", "2026-11-28T12:00"), "--rate must be"),
        (("--rate", "1e40", "--from", "2026-11-28T10:00", "--to", "2026-11-28T12:00"), "rate must be below"),
        (("--rate", "100", "--from", "yesterday", "--to", "2026-11-28T12:00"), "--from: not an ISO 8601 instant"),
        (
            (
                "--rate",
                "100",
                "--from",
                "2026-11-28T10:00",
                "--to",
                "2026-11-28T12:00",
                "--callout",
                "2026-11-28T11:00",
            ),
            "--callout must be START/END",
        ),
        (
            ("--rate", "100", "--from", "2026-11-28T10:00", "--to", "2026-11-28T12:00", "--callout", "a/b/c"),
            "--callout must be START/END",
        ),
        (
            (
                "--rate",
                "100",
                "--from",
                "2026-11-28T10:00",
                "--to",
                "2026-11-28T12:00",
                "--callout",
                "2026-11-28T11:00/",
            ),
            "--callout must be START/END",
        ),
        (
            ("--rate", "100", "--from", "2026-11-28T10:00", "--to", "2026-11-28T12:00", "--callout", "11:00/12:00"),
            "--callout start: not an ISO 8601 instant",
        ),
        (
            (
                "--rate",
                "100",
                "--from",
                "2026-11-28T10:00",
                "--to",
                "2026-11-28T12:00",
                "--callout",
                "2026-11-28T11:30/2026-11-28T11:00",
            ),
            "its end is before its start",
        ),
        (("--rate", "100", "--from", "2026-01-01T00:00", "--to", "2028-01-01T00:00"), "at most 400 days"),
        (
            ("--rate", "100", "--from", "2026-11-28T10:00", "--to", "2026-11-28T12:00", "--currency", " "),
            "currency must be",
        ),
        (("--from", "2026-11-28T10:00", "--to", "2026-11-28T12:00"), "--rate"),  # missing: argparse says so
    ],
)
def test_bad_input_exits_2(tmp_path, args, says):
    run = quote_cli(tmp_path, *args, "--json")
    assert run.returncode == 2, (args, run.stdout, run.stderr)
    assert says in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


# --- a customer's quote (--customer): its terms from the config, what its recurring standby covers ----
#
# acme (rate 95.00, increment 15m) with recurring standby for evening_night and holiday, and a weekend
# tariff override of 0.6; globex (rate 120.00, increment 30m) with recurring weekend standby only.
# Friday 27 Nov 2026 18:00 -> Monday 30 Nov 08:30 for acme:
#   the three nights are covered (acme/webshop's recurring evening_night standby): no charge
#   Sat and Sun 08:30-18:00 weekend 9.5 h x 0.6 x 95 = 541.50 each                  = 1083.00
#   call-out Sat 23:00-23:20 in a covered night: still a call-out, 1 h x 95          =   95.00
# The same for globex: the weekend days are covered, the nights 14.5 h x 120 = 1740.00 each (5220.00),
#   the call-out's 1-h minimum rounded up to 30 min: 1 h x 120 = 120.00; 70 min: 1.5 h = 180.00.
CUSTOMER_ARGS = ("--from", "2026-11-27T18:00", "--to", "2026-11-30T08:30")


def customers_config(tmp_path: Path) -> Path:
    text = (ROOT / CONFIG).read_text()
    webshop = "      webshop: {coverage: standby, standby: [evening_night, weekend, holiday], policy: default}\n"
    assert webshop in text and "  acme:\n" in text
    assert text.count("    billing_increment: 15m\n") == 1
    text = text.replace(
        webshop, "      webshop: {coverage: standby, standby: [evening_night, holiday], policy: default}\n"
    )
    text = text.replace(
        "    billing_increment: 15m\n", '    billing_increment: 15m\n    tariffs: {weekend: {multiplier: "0.6"}}\n'
    )
    text = text.replace(
        "  acme:\n",
        "  globex:\n"
        "    name: Globex\n"
        '    rate: "120.00"\n'
        "    billing_increment: 30m\n"
        "    projects:\n"
        "      shop: {coverage: standby, standby: [weekend]}\n"
        "      office: {coverage: office_hours}\n"
        "  acme:\n",
    )
    path = tmp_path / "pagerd.yaml"
    path.write_text(text)
    return path


def test_quote_for_a_customer_uses_its_tariffs_and_shows_what_its_recurring_standby_covers(tmp_path):
    config = customers_config(tmp_path)
    out = ok_json(
        tmp_path, "--customer", "acme", *CUSTOMER_ARGS, "--callout", "2026-11-28T23:00/2026-11-28T23:20", config=config
    )
    night = "recurring evening_night standby of acme/webshop"
    assert out == {
        "customer": "acme",
        "currency": "EUR",
        "rate": "95.00",
        "blocks": [
            {
                **_block("evening_night", "2026-11-27T17:00:00Z", "2026-11-28T07:30:00Z", "14.50", "1.00", "0.00"),
                "covered": night,
            },
            _block("weekend", "2026-11-28T07:30:00Z", "2026-11-28T17:00:00Z", "9.50", "0.60", "541.50"),
            {
                **_block("evening_night", "2026-11-28T17:00:00Z", "2026-11-29T07:30:00Z", "14.50", "1.00", "0.00"),
                "covered": night,
            },
            _block("weekend", "2026-11-29T07:30:00Z", "2026-11-29T17:00:00Z", "9.50", "0.60", "541.50"),
            {
                **_block("evening_night", "2026-11-29T17:00:00Z", "2026-11-30T07:30:00Z", "14.50", "1.00", "0.00"),
                "covered": night,
            },
        ],
        "callouts": [
            {
                "start": "2026-11-28T22:00:00Z",
                "end": "2026-11-28T22:20:00Z",
                "worked_hours": "0.33",
                "billed_hours": "1.00",
                "amount": "95.00",
            }
        ],
        "total": "1178.00",
    }
    # --rate with --customer replaces the rate only: the override and what is covered stay acme's
    out = ok_json(tmp_path, "--customer", "acme", "--rate", "100", *CUSTOMER_ARGS, config=config)
    assert [(b["fee"], b["covered"] is not None) for b in out["blocks"]] == [
        ("0.00", True),
        ("570.00", False),  # 9.5 h x 0.6 x 100
        ("0.00", True),
        ("570.00", False),
        ("0.00", True),
    ]
    assert out["total"] == "1140.00"
    # globex: its rate and increment, its weekend covered
    out = ok_json(
        tmp_path,
        "--customer",
        "globex",
        *CUSTOMER_ARGS,
        "--callout",
        "2026-11-28T23:00/2026-11-29T00:10",
        config=config,
    )
    assert [(b["period"], b["fee"], b["covered"]) for b in out["blocks"]] == [
        ("evening_night", "1740.00", None),
        ("weekend", "0.00", "recurring weekend standby of globex/shop"),
        ("evening_night", "1740.00", None),
        ("weekend", "0.00", "recurring weekend standby of globex/shop"),
        ("evening_night", "1740.00", None),
    ]
    assert (out["callouts"][0]["billed_hours"], out["callouts"][0]["amount"], out["total"]) == (
        "1.50",
        "180.00",
        "5400.00",
    )


def test_quote_table_for_a_customer_says_covered(tmp_path):
    run = quote_cli(tmp_path, "--customer", "acme", *CUSTOMER_ARGS, config=customers_config(tmp_path))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "for acme" in lines[0] and "EUR 95.00/h" in lines[0]
    assert lines[2].split()[:2] == ["evening_night", "Fri"]
    assert lines[2].endswith("covered  (recurring evening_night standby of acme/webshop: no charge)"), lines[2]
    assert lines[3].split()[-2:] == ["0.60", "541.50"]
    assert lines[-1].split() == ["TOTAL", "EUR", "1083.00"]


@pytest.mark.parametrize(
    "args, says",
    [
        (("--customer", "nope"), "unknown customer 'nope'"),
        (("--customer", "x" * 5000), "unknown customer 'xxxx"),
        (("--customer", "'; DROP TABLE bookings; --"), "unknown customer"),
        (("--customer", "agency"), "has no rate"),  # the agency's own infrastructure is not billed
        (("--customer", "acme", "--currency", "USD"), "the customer's own"),
        (("--customer", "acme", "--callout-overlap", "separate"), "the customer's own"),
        (("--customer", "acme", "--rate", "-1"), "--rate must be"),
        ((), "give --customer ID"),
    ],
)
def test_bad_customer_quotes_exit_2(tmp_path, args, says):
    run = quote_cli(tmp_path, *args, *CUSTOMER_ARGS, "--json", config=customers_config(tmp_path))
    assert run.returncode == 2, (args, run.stdout, run.stderr)
    assert says in run.stderr and len(run.stderr) < 400, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_a_customer_without_a_rate_is_quoted_with_rate(tmp_path):
    out = ok_json(tmp_path, "--customer", "agency", "--rate", "80", *CUSTOMER_ARGS, config=customers_config(tmp_path))
    assert out["rate"] == "80.00" and out["total"] == "4240.00"  # 3 x 14.5 x 80 + 2 x 9.5 x 0.5 x 80


def test_quote_help_says_what_rate_overrides(tmp_path):
    run = quote_cli(tmp_path, "--help")
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "One of --customer and --rate is required" in text
    assert "with --customer it overrides the customer's rate only" in text
