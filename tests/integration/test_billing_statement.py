"""`pagerd billing statement` / `billing engineers` and /api/v1/billing/... (issue 5).

The month's facts are made through the real pipeline on a manual clock (tests.scenarios.harness:
a booking, an alert that pages the standby engineer, an SMS acknowledgement, resolve, worked time);
then the real `pagerd` command reads the same database file as a subprocess, and the HTML statement
is rendered by a real headless Chromium and checked for its totals.

Example config: acme rate 95.00 EUR; standby week of 2026-12-07: dewi.
  Wed 9 Dec 18:00 -> Thu 10 Dec 08:30 CET: evening_night 14.5 h x 95           = 1377.50
  call-out paged Wed 20:00, acked 20:12 by dewi (met), 70 min logged: 1.25 h x 95 =  118.75
  total                                                                           1496.25
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.scenarios.harness import Scenario
from tests.unit.test_statements import config_variant

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/pagerd.example.yaml"
CHROMIUM = "/usr/bin/chromium"
TOTAL = "1496.25"


def cli(db: Path, *args: str, config: str | Path = CONFIG) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PAGERD_CONFIG"}
    env["PAGERD_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "pager", "billing", *args, "-c", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def _month(s: Scenario) -> int:
    status, _ = await s.api(
        "POST",
        "/api/v1/bookings",
        {"customer": "acme", "start": "2026-12-09T18:00:00+01:00", "end": "2026-12-10T08:30:00+01:00", "by": "desk"},
    )
    assert status == 201
    await s.at("20:00")
    iid = await s.fire({"customer": "acme", "service": "webshop"}, summary="Webshop <checkout> & payments down")
    await s.at("20:12")
    await s.reply("dewi", "1")
    await s.at("20:50")
    assert (await s.api("POST", f"/api/v1/incidents/{iid}/resolve", {"by": "dewi"}))[0] == 200
    assert (await s.api("POST", f"/api/v1/incidents/{iid}/work", {"minutes": 70, "by": "dewi"}))[0] == 201
    return iid


@pytest.fixture
async def month(tmp_path):
    # dated bookings only (webshop's recurring standby left out), so the month has one block
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=config_variant(tmp_path)) as s:
        iid = await _month(s)
        yield s, iid


async def test_cli_json_csv_and_engineers(month):
    s, iid = month
    run = cli(s.db, "statement", "--customer", "acme", "--month", "2026-12", "--format", "json", config=s.config_path)
    assert run.returncode == 0, run.stderr
    st = json.loads(run.stdout)
    assert st["totals"] == {
        "standby": "1377.50",
        "callouts": "118.75",
        "out_of_contract": "0.00",
        "tickets": "0.00",
        "total": TOTAL,
        "vat_rate": "21.00",
        "vat": "314.21",
        "total_incl_vat": "1810.46",
    }
    assert [b["fee"] for b in st["blocks"]] == ["1377.50"]
    assert st["responses"][0]["incident"] == iid
    (resp,) = st["responses"]
    assert (resp["round"], resp["answered_by"], resp["answered_via"], resp["outcome"]) == (1, "dewi", "sms", "met")
    assert st["callouts"][0]["incidents"][0]["rounds"] == [
        {k: v for k, v in resp.items() if k not in ("incident", "summary", "project")}
    ]

    run = cli(s.db, "statement", "--customer", "acme", "--month", "2026-12", "--format", "csv", config=s.config_path)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [(r["kind"], r["amount"]) for r in rows] == [
        ("standby", "1377.50"),
        ("callout", "118.75"),
        ("response", ""),
        ("subtotal_standby", "1377.50"),
        ("subtotal_callouts", "118.75"),
        ("subtotal_out_of_contract", "0.00"),
        ("subtotal_tickets", "0.00"),
        ("total", TOTAL),
        ("vat", "314.21"),
        ("total_incl_vat", "1810.46"),
    ]
    assert (rows[2]["round"], rows[2]["outcome"], rows[2]["minutes_to_answer"], rows[2]["answered_by"]) == (
        "1",
        "met",
        "12.0",
        "dewi",
    )

    run = cli(s.db, "statement", "--customer", "acme", "--month", "2026-11", "--format", "json", config=s.config_path)
    assert json.loads(run.stdout)["totals"]["total"] == "0.00"  # nothing booked in November

    run = cli(s.db, "engineers", "--month", "2026-12", "--json", config=s.config_path)
    assert run.returncode == 0, run.stderr
    (dewi,) = json.loads(run.stdout)["engineers"]
    assert (dewi["person"], dewi["standby_hours"], dewi["callout_count"], dewi["callout_worked_minutes"]) == (
        "dewi",
        {"weekend": "0.00", "evening_night": "14.50", "holiday": "0.00"},
        1,
        70,
    )
    run = cli(s.db, "engineers", "--month", "2026-12", config=s.config_path)
    assert run.returncode == 0 and "Dewi Visser" in run.stdout and "14.50" in run.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("statement", "--customer", "nope", "--month", "2026-12"), "unknown customer"),
        (("statement", "--customer", "agency", "--month", "2026-12"), "has no rate"),
        (("statement", "--customer", "acme", "--month", "2026-13"), "YYYY-MM"),
        (("engineers", "--month", "december"), "YYYY-MM"),
    ],
)
def test_cli_refusals(tmp_path, args, message):
    run = cli(tmp_path / "pagerd.db", *args)
    assert run.returncode == 2 and message in run.stderr, (run.stdout, run.stderr)


async def test_api(month):
    s, iid = month
    status, st = await s.api("GET", "/api/v1/billing/statements/acme?month=2026-12")
    assert status == 200 and st["totals"]["total"] == TOTAL and st["callouts"][0]["incidents"][0]["id"] == iid
    status, rep = await s.api("GET", "/api/v1/billing/engineers?month=2026-12")
    assert status == 200 and rep["engineers"][0]["standby_hours"]["evening_night"] == "14.50"
    assert (await s.api("GET", "/api/v1/billing/statements/nope?month=2026-12"))[0] == 404
    assert (await s.api("GET", "/api/v1/billing/statements/agency?month=2026-12"))[0] == 422
    assert (await s.api("GET", "/api/v1/billing/statements/acme?month=12-2026"))[0] == 400
    assert (await s.api("GET", "/api/v1/billing/statements/acme"))[0] == 400
    assert (await s.api("GET", "/api/v1/billing/engineers?month=2026-12&x=1"))[0] == 400
    resp = await s.http.get("/api/v1/billing/statements/acme?month=2026-12")
    assert resp.status == 401
    token = s.config.auth.admin_token.get_secret_value()
    resp = await s.http.get(
        "/api/v1/billing/statements/acme?month=2026-12&format=html", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 200 and resp.content_type == "text/html" and "1.496,25" in await resp.text()  # nl


def test_api_on_the_real_daemon(pagerd):
    # The example config: acme's webshop has recurring standby every evening_night, weekend and
    # holiday, so December 2026 bills them with no booking at all (rate 95.00):
    #   26 nights 18:00-08:30 (14.5 h x 95 = 1377.50)                          35815.00
    #   24 and 30 Dec 18:00-24:00 before a holiday (6 h x 95 = 570.00)           1140.00
    #   27 Dec 00:00-08:30 after the holiday (8.5 h x 95)                          807.50
    #   7 weekend days 08:30-18:00 (9.5 h x 0.5 x 95 = 451.25)                  3158.75
    #   25-26 Dec and 31 Dec-1 Jan holidays (48 h x 95 = 4560.00, both start in Dec) 9120.00
    #   (the night from 30 Nov into 1 Dec belongs to November)                  50041.25
    status, st = pagerd.api("GET", "/api/v1/billing/statements/acme?month=2026-12")
    assert status == 200 and st["totals"]["total"] == "50041.25" and st["currency"] == "EUR"
    assert len(st["blocks"]) == 38 and st["callouts"] == []
    # the engineers stood by those hours clipped to the month: 560 h above + 8.5 h of the night into
    # 1 Dec - 24 h of 1 Jan = 544.5 h, and took no call-outs
    status, rep = pagerd.api("GET", "/api/v1/billing/engineers?month=2026-12")
    assert status == 200 and sum(float(e["standby_hours_total"]) for e in rep["engineers"]) == 544.5
    assert all(e["callout_count"] == 0 for e in rep["engineers"])


async def test_html_statement_in_headless_chromium(month, tmp_path):
    s, iid = month
    chromium = require_binary(CHROMIUM)
    out = tmp_path / "statement.html"
    run = cli(
        s.db,
        "statement",
        "--customer",
        "acme",
        "--month",
        "2026-12",
        "--format",
        "html",
        "-o",
        str(out),
        config=s.config_path,
    )
    assert run.returncode == 0, run.stderr
    page = out.read_text()
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no external assets
    assert "&lt;checkout&gt; &amp; payments" in page  # escaped
    argv = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--dump-dom",
        out.as_uri(),
    ]
    dom = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    amounts = dict(re.findall(r'<td class="num" id="(subtotal|vat|total)">([^<]*)</td>', html))
    assert amounts == {"subtotal": "€&nbsp;1.496,25", "vat": "€&nbsp;314,21", "total": "€&nbsp;1.810,46"}, html[:2000]
    assert "€&nbsp;1.377,50" in html and "€&nbsp;118,75" in html  # acme's statements are Dutch
    assert html.count("<rect") == 1 and "norm 30 min" in html  # one call-out bar against the target line
    assert f"#{iid} Webshop &lt;checkout&gt; &amp; payments down" in html
    assert ">gehaald<" in html


# Alert text a spreadsheet would run as a formula: one summary per character OWASP names.
FORMULAS = {
    "=": "=HYPERLINK(\"http://evil.example\",\"webshop\")",
    "+": "+31 webshop down",
    "-": "-2+3 checkout",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t": "\t=1+1 payments",
    "\r": "\r=1+1 search",
}


async def _fire_through_the_webhook(s: Scenario, n: int, summary: str) -> int:
    """An Alertmanager notification POSTed to /api/v1/alerts/alertmanager, as Alertmanager sends it."""
    labels = {"alertname": f"Formula{n}", "severity": "critical", "customer": "acme", "service": "webshop"}
    now = s.clock.now().isoformat().replace("+00:00", "Z")
    doc = json.loads((ROOT / "tests" / "testdata" / "alertmanager" / "firing.json").read_text())
    alert = {
        **doc["alerts"][0],
        "labels": labels,
        "annotations": {"summary": summary},
        "startsAt": now,
        "fingerprint": f"{n:016x}",
    }
    doc.update(
        groupKey=f'{{}}:{{alertname="Formula{n}"}}',
        groupLabels={"alertname": labels["alertname"]},
        commonLabels=labels,
        commonAnnotations={"summary": summary},
        alerts=[alert],
        status="firing",
    )
    token = s.config.sources.alertmanager.auth.bearer.get_secret_value()
    resp = await s.http.post(
        "/api/v1/alerts/alertmanager",
        data=json.dumps(doc),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert resp.status == 200, await resp.text()
    (iid,) = (await resp.json())["incidents"]
    await s.settle()
    return iid


async def test_csv_statement_neutralises_alert_text_that_reads_as_a_formula(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=config_variant(tmp_path)) as s:
        status, _ = await s.api(
            "POST",
            "/api/v1/bookings",
            {
                "customer": "acme",
                "start": "2026-12-09T18:00:00+01:00",
                "end": "2026-12-10T08:30:00+01:00",
                "by": "desk",
            },
        )
        assert status == 201
        fired = {}
        for n, (start, summary) in enumerate(FORMULAS.items()):
            await s.at(f"{18 + n}:10")  # one call-out per hour, each answered and resolved
            iid = await _fire_through_the_webhook(s, n, summary)
            fired[iid] = start
            await s.at(f"{18 + n}:15")
            assert (await s.reply("dewi", f"ack {iid}")).endswith("acknowledged")
            assert (await s.api("POST", f"/api/v1/incidents/{iid}/resolve", {"by": "dewi"}))[0] == 200

        run = cli(
            s.db, "statement", "--customer", "acme", "--month", "2026-12", "--format", "csv", config=s.config_path
        )
        assert run.returncode == 0, run.stderr
        token = s.config.auth.admin_token.get_secret_value()
        resp = await s.http.get(
            "/api/v1/billing/statements/acme?month=2026-12&format=csv", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status == 200 and resp.content_type == "text/csv"
        api_csv = await resp.text()
        assert api_csv == run.stdout  # one renderer behind the CLI and the API

        rows = list(csv.DictReader(io.StringIO(api_csv, newline="")))
        responses = {int(r["incidents"]): r for r in rows if r["kind"] == "response"}
        assert set(responses) == set(fired)
        for iid, start in fired.items():
            text = responses[iid]["description"]
            assert text == ("'" + FORMULAS[start]).replace("\r", "\n"), (start, text)
        for r in rows:  # no cell a spreadsheet would run, whichever column it is in
            for column, value in r.items():
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (r["kind"], column, value)
        callouts = [r for r in rows if r["kind"] == "callout"]  # two pages within one billed hour: one call-out
        assert callouts and all(r["description"].startswith("'") for r in callouts)
        assert sorted(int(i) for r in callouts for i in r["incidents"].split()) == sorted(fired)
        # the amounts stay numbers
        assert all(re.fullmatch(r"[0-9]+\.[0-9]{2}", r["amount"]) for r in rows if r["amount"]), rows
        totals = {r["kind"]: Decimal(r["amount"]) for r in rows if r["kind"].startswith(("subtotal", "total"))}
        assert totals["total"] == totals["subtotal_standby"] + totals["subtotal_callouts"] > Decimal("1377.50")
