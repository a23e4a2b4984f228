"""The statement the agency sends: the PDF (WeasyPrint, from the HTML template) read back as text by
poppler's `pdftotext`, in the customer's language, with the letterhead, the number, VAT and terms.

Example config: acme rate 95.00 EUR, language nl, agency Example Hosting BV (KvK 12345678, btw-id
NL123456789B01, 14 days), VAT 21 %. The month (tests.integration.test_billing_statement._month):
  Wed 9 Dec 18:00 -> Thu 10 Dec 08:30: evening_night 14.5 h x 95   = 1377.50
  call-out Wed 20:00, 70 min logged: 1.25 h x 95                    =  118.75
  subtotal 1496.25; VAT 21 % = 314.2125 -> 314.21; total            = 1810.46
The statement is made on 2 Jan 2027 (after the month): number 2026-12-0001, due 16 Jan 2027.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pager.service.statement_render import to_html, to_pdf
from pager.service.statements import statement
from tests.conftest import require_binary
from tests.integration.test_billing_statement import _month, cli
from tests.scenarios.harness import Scenario
from tests.unit.test_statements import config_variant, ticket_month

NOW = datetime(2027, 1, 2, 12, 0, tzinfo=timezone.utc)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext reads it, runs of white space (also no-break spaces) as one space."""
    pdftotext = require_binary("/usr/bin/pdftotext")
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf)
    run = subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return re.sub(r"\s+", " ", run.stdout.replace("\xa0", " "))


def variant(tmp_path: Path, *, language: str = "nl", name: str = "Acme Webwinkel BV") -> Path:
    path = config_variant(tmp_path)
    text = path.read_text()
    assert "    language: nl\n" in text and "    name: Acme Webwinkel BV\n" in text
    text = text.replace("    language: nl\n", f"    language: {language}\n")
    text = text.replace("    name: Acme Webwinkel BV\n", f"    name: {name!r}\n")
    path.write_text(text)
    return path


async def test_a_dutch_pdf_statement_has_the_letterhead_amounts_vat_and_terms(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=variant(tmp_path)) as s:
        iid = await _month(s)
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        text = pdf_text(to_pdf(st), tmp_path)
    # the letterhead: name, address, KvK and btw-id
    for part in ("Example Hosting BV", "Voorbeeldstraat 1", "1234 AB Amsterdam", "KvK 12345678"):
        assert part in text, part
    assert "btw-id NL123456789B01" in text and "IBAN NL91 ABNA 0417 1643 00" in text
    # the number, the date of issue and the due date (14 days), the month in words
    assert "Factuurnummer 2026-12-0001" in text and "Factuurdatum 2 januari 2027" in text
    assert "Vervaldatum 16 januari 2027" in text and "Periode december 2026" in text
    # Dutch amounts, VAT and the summary per period kind with the blocks below it
    assert "Subtotaal € 1.496,25" in text and "Btw 21% € 314,21" in text and "Totaal € 1.810,46" in text
    assert re.search(r"Standby avond/nacht 1 14,50 14,50 € 1\.377,50", text), text
    assert re.search(r"Oproepen 1 1,17 1,25 € 118,75", text), text
    assert text.index("Samenvatting") < text.index("Standbyblokken") < text.index("wo 9 dec 18:00")
    assert "uiterlijk 16 januari 2027" in text and "onder vermelding van 2026-12-0001" in text
    # local time, in words of the language; no UTC instant, no microseconds
    assert "Gemaakt op 2 januari 2027 13:00" in text
    assert f"#{iid} Webshop <checkout> &" in text  # the alert's text, as written (the cell wraps after it)
    assert not re.search(r"\d{2}:\d{2}:\d{2}|T\d{2}:|Z\b|UTC", text), text
    assert "voorlopig" not in text.lower()  # the month is over: nothing provisional


async def test_the_ticket_hours_in_dutch_and_english(tmp_path):
    """tests.unit.test_statements.ticket_month: #a 20 min billable -> 0,50 h = 47,50 with 30 min covered,
    #b 75 min -> 1,25 h = 118,75; subtotal 166,25, btw 21 % 34,91, total 201,16."""
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=variant(tmp_path)) as s:
        a, b = await ticket_month(s)
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        text = pdf_text(to_pdf(st), tmp_path)
        en = dict(st, language="en")
        english = pdf_text(to_pdf(en), tmp_path)
    assert "Uren op tickets" in text and "Tijd die het contract dekt" in text
    # the subject may wrap in its cell: its second word then follows the row's numbers
    assert re.search(rf"#{a} Checkout (hangs )?0,33 0,50 0,50 € 47,50", text), text
    assert re.search(rf"#{b} New (certificate )?1,25 1,25 — € 118,75", text), text
    assert "Uren op tickets € 166,25" in text
    assert re.search(r"Uren op tickets 2 1,58 1,75 € 166,25", text), text  # the summary line
    assert "Subtotaal € 166,25" in text and "Btw 21% € 34,91" in text and "Totaal € 201,16" in text
    assert "Who is this?" not in text and "Night alarm" not in text
    assert "Hours on tickets" in english and "is billed under Call" in english, english
    assert re.search(rf"#{b} New (certificate )?1.25 1.25 — €118.75", english), english
    assert "Total €201.16" in english


async def test_an_english_customer_gets_an_english_statement(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=variant(tmp_path, language="en")) as s:
        await _month(s)
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        text = pdf_text(to_pdf(st), tmp_path)
    assert st["language"] == "en"
    assert "Statement no. 2026-12-0001" in text and "Due 16 January 2027" in text
    assert "Subtotal €1,496.25" in text and "VAT 21% €314.21" in text and "Total €1,810.46" in text
    assert "Evening/night standby" in text and "Wed 9 Dec 18:00" in text
    assert "Chamber of Commerce (KvK) 12345678" in text and "VAT no. NL123456789B01" in text
    for dutch in ("Factuur", "Totaal", "Btw", "oproep", "januari"):
        assert dutch not in text, dutch


async def test_the_statement_number_is_issued_once_and_kept(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=variant(tmp_path)) as s:
        await _month(s)
        running = await statement(s.store, s.config, s.schedule, "acme", "2026-12", s.clock.now())
        assert (running["final"], running["number"], running["due_date"]) == (False, None, None)
        first = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        again = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW + timedelta(days=40))
        await s.restart()
        after_restart = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW + timedelta(days=41))
        november = await statement(s.store, s.config, s.schedule, "acme", "2026-11", NOW)
    assert first["number"] == again["number"] == after_restart["number"] == "2026-12-0001"
    assert first["issued_at"] == again["issued_at"] == after_restart["issued_at"] == "2027-01-02T12:00:00Z"
    assert first["due_date"] == again["due_date"] == "2027-01-16"
    assert november["number"] == "2026-11-0001"  # numbers run per month
    assert 'id="number">2026-12-0001<' in to_html(first) and to_html(first) == to_html(again).replace(
        "11 februari 2027 13:00", "2 januari 2027 13:00"
    )  # two renders: the same page but for the moment it was made


async def test_blocks_still_to_come_are_provisional(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=variant(tmp_path)) as s:
        await _month(s)  # now: Wed 9 Dec 20:50, inside the booked night
        status, _ = await s.api(
            "POST",
            "/api/v1/bookings",
            {"customer": "acme", "start": "2026-12-18T18:00:00+01:00", "end": "2026-12-21T08:30:00+01:00", "by": "d"},
        )
        assert status == 201
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", s.clock.now())
        text = pdf_text(to_pdf(st), tmp_path)
        page = to_html(st)
    assert [(b["period"], b["provisional"]) for b in st["blocks"]] == [
        ("evening_night", True),  # still running
        ("evening_night", True),
        ("weekend", True),
        ("evening_night", True),
        ("weekend", True),
        ("evening_night", True),
    ]
    assert [(x["kind"], x["count"], x["provisional"]) for x in st["summary"]] == [
        ("evening_night", 4, 4),
        ("weekend", 2, 2),
        ("callouts", 1, 0),
    ]
    assert "Voorlopig overzicht" in text and "Voorlopig: de maand is nog niet voorbij" in text
    assert "Standby avond/nacht (4 voorlopig)" in text and "Standby weekend (2 voorlopig)" in text
    assert page.count('<tr class="provisional">') == 6 and page.count('<span class="prov">voorlopig</span>') == 6
    assert "Factuurnummer" not in text  # no number before the month has ended


async def test_an_empty_month_says_so_once_and_hostile_names_are_escaped(tmp_path):
    hostile = '<script>alert("x")</script> & Co <img src=x onerror=alert(1)>'
    async with Scenario(tmp_path, "2026-11-09 17:00", config_path=variant(tmp_path, name=hostile)) as s:
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-11", NOW)
        page = to_html(st)
        text = pdf_text(to_pdf(st), tmp_path)
    assert page.count("Geen oproepen deze maand.") == 1 and page.count("Geen standby deze maand.") == 1
    assert "Reactietijden" not in page  # no call-outs: no response record to show
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co &lt;img src=x onerror=alert(1)&gt;" in page
    assert hostile in text  # shown as written, never run
    assert "Totaal € 0,00" in text


async def test_pdf_through_the_cli_and_the_api(tmp_path):
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=variant(tmp_path)) as s:
        await _month(s)
        out = tmp_path / "acme.pdf"
        run = cli(
            s.db,
            "statement",
            "--customer",
            "acme",
            "--month",
            "2026-12",
            "--format",
            "pdf",
            "-o",
            str(out),
            config=s.config_path,
        )
        assert run.returncode == 0, run.stderr
        assert out.read_bytes().startswith(b"%PDF-")
        text = pdf_text(out.read_bytes(), tmp_path)
        assert "Example Hosting BV" in text and "Acme Webwinkel BV" in text and "€ 1.377,50" in text
        token = s.config.auth.admin_token.get_secret_value()
        resp = await s.http.get(
            "/api/v1/billing/statements/acme?month=2026-12&format=pdf", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status == 200 and resp.content_type == "application/pdf"
        assert 'filename="statement-acme-2026-12.pdf"' in resp.headers["Content-Disposition"]
        api_text = pdf_text(await resp.read(), tmp_path)
        assert "Voorlopig overzicht" in api_text  # the scenario's clock: 9 Dec, the month is running
        assert (await s.api("GET", "/api/v1/billing/statements/acme?month=2026-12&format=docx"))[0] == 400


def test_an_unknown_format_is_refused(tmp_path):
    run = cli(tmp_path / "none.db", "statement", "--customer", "acme", "--month", "2026-12", "--format", "odt")
    assert run.returncode == 2 and "invalid choice" in run.stderr


async def test_without_an_agency_section_the_statement_has_no_letterhead(tmp_path):
    path = variant(tmp_path, language="en")
    text = path.read_text()
    start, end = text.index("agency:\n  name:"), text.index("billing:\n  vat_rate")
    path.write_text(text[:start] + text[end:])
    async with Scenario(tmp_path, "2026-12-09 17:00", config_path=path) as s:
        await _month(s)
        st = await statement(s.store, s.config, s.schedule, "acme", "2026-12", NOW)
        text = pdf_text(to_pdf(st), tmp_path)
    assert st["agency"] is None and st["number"] == "2026-12-0001" and st["due_date"] is None
    assert "Statement no. 2026-12-0001" in text and "Total €1,810.46" in text
    assert "Example Hosting" not in text and "KvK" not in text and "Please pay" not in text
