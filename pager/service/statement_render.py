"""A statement (pager.service.statements.statement) as CSV, as a printable HTML page and as a PDF.

The HTML page stands alone: inline CSS, an inline SVG chart, no scripts, no external assets, so it
can be mailed to the customer or printed as it is. The PDF is the same page (the same template)
laid out by WeasyPrint. Both speak the customer's language (nl or en): words from the tables below,
amounts and dates in the locale's format by Babel (nl: "€ 50.041,25", "wo 9 dec 20:00"; en:
"€50,041.25", "Wed 9 Dec 20:00"), every time in the calendar's time zone. The template is Jinja2
with autoescaping: alert text and customer names are escaped wherever they appear.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from pager.domain.billing import hours_of, hours_str

CSV_COLUMNS = (
    "kind",
    "period",
    "start",
    "end",
    "incidents",
    "round",
    "description",
    "hours",
    "billed_hours",
    "multiplier",
    "amount",
    "answered_at",
    "answered_by",
    "answered_via",
    "minutes_to_answer",
    "outcome",
)


# Columns that hold numbers (amounts, hours, counts, incident ids); every other column holds text.
NUMERIC_COLUMNS = frozenset(
    {"incidents", "round", "hours", "billed_hours", "multiplier", "amount", "minutes_to_answer"}
)
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?( [0-9]+)*")  # 12, -3.50, "4 7 9" (incident ids)
# A spreadsheet reads a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(column: str, value: object) -> object:
    """A cell as written to the CSV: text that a spreadsheet would take for a formula gets a leading
    "'" (OWASP's rule); a number in a number column stays a number (an amount, a negative amount)."""
    if value is None or isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    if column in NUMERIC_COLUMNS and _NUMBER.fullmatch(text):
        return text
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    # a bare CR would not be quoted by the csv module (it quotes "\n", the line terminator) and would
    # split the row in a reader: line breaks are written as "\n", inside a quoted cell
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _SafeWriter(csv.DictWriter):
    def writerow(self, rowdict):
        return super().writerow({k: csv_cell(k, v) for k, v in rowdict.items()})


def _hours(minutes: int) -> str:
    """Minutes as hours with two decimals, half-up (20 -> "0.33")."""
    return hours_str(hours_of(timedelta(minutes=minutes)))


def to_csv(st: dict) -> str:
    """One row per line: standby, callout, out_of_contract, response (one per paged round of a
    call-out, its opening and each reopen: start is its first page, end its deadline), ticket (a
    ticket's billable hours; its number in `incidents`) and ticket_covered (its covered hours, amount
    0.00), then the
    subtotals, the total without VAT, the VAT (its rate in percent in `multiplier`) and the total
    with VAT. Every cell passes csv_cell: alert text never reaches a spreadsheet as a formula."""
    buf = io.StringIO()
    w = _SafeWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for b in st["blocks"]:
        w.writerow(
            {
                "kind": "standby",
                "period": b["period"],
                "start": b["start"],
                "end": b["end"],
                "hours": b["hours"],
                "billed_hours": b["billed_hours"],
                "multiplier": b["multiplier"],
                "amount": b["fee"],
            }
        )
    for c in st["callouts"]:
        w.writerow(
            {
                "kind": "callout",
                "start": c["start"],
                "end": c["end"],
                "incidents": " ".join(str(i["id"]) for i in c["incidents"]),
                "description": "; ".join(i["summary"] for i in c["incidents"]),
                "hours": c["worked_hours"],
                "billed_hours": c["billed_hours"],
                "amount": c["amount"],
            }
        )
    for o in st["out_of_contract"]:
        w.writerow(
            {
                "kind": "out_of_contract",
                "start": o["at"],
                "incidents": o["incident"],
                "description": o["summary"],
                "hours": o["worked_hours"],
                "billed_hours": o["billed_hours"],
                "amount": o["amount"],
            }
        )
    for r in st["responses"]:
        w.writerow(
            {
                "kind": "response",
                "start": r["paged_at"],
                "end": r["deadline"],
                "incidents": r["incident"],
                "round": r["round"],
                "description": r["summary"],
                "answered_at": r["answered_at"] or "",
                "answered_by": r["answered_by"] or "",
                "answered_via": r["answered_via"] or "",
                "minutes_to_answer": "" if r["minutes_to_answer"] is None else r["minutes_to_answer"],
                "outcome": r["outcome"],
            }
        )
    for k in st["ticket_hours"]:
        w.writerow(
            {
                "kind": "ticket",
                "incidents": k["number"],
                "description": k["subject"],
                "hours": _hours(k["billable_minutes"]),
                "billed_hours": k["billed_hours"],
                "amount": k["amount"],
            }
        )
        if k["covered_minutes"]:
            w.writerow(
                {
                    "kind": "ticket_covered",
                    "incidents": k["number"],
                    "description": k["subject"],
                    "hours": _hours(k["covered_minutes"]),
                    "billed_hours": "0.00",
                    "amount": "0.00",
                }
            )
    for key in ("standby", "callouts", "out_of_contract", "tickets", "total", "vat", "total_incl_vat"):
        kind = key if key in ("total", "vat", "total_incl_vat") else f"subtotal_{key}"
        w.writerow(
            {
                "kind": kind,
                "multiplier": st["totals"]["vat_rate"] if key == "vat" else None,
                "amount": st["totals"][key],
            }
        )
    return buf.getvalue()


# --------------------------------------------------------------------------- words

LOCALES = {"nl": "nl_NL", "en": "en_GB"}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Statement",
        "title_provisional": "Provisional statement",
        "number": "Statement no.",
        "issued": "Date",
        "due": "Due",
        "period": "Period",
        "rate": "Rate",
        "per_hour": "per hour",
        "to": "To",
        "provisional_note": "Provisional: the month is not over yet. Blocks still to come are marked provisional; "
        "the statement gets its number once the month has ended.",
        "provisional": "provisional",
        "summary": "Summary",
        "kind": "Kind",
        "lines": "Lines",
        "hours": "Hours",
        "billed_hours": "Billed h",
        "worked_hours": "Worked h",
        "amount": "Amount",
        "nothing": "Nothing to bill this month.",
        "subtotal": "Subtotal",
        "vat": "VAT {rate}%",
        "total": "Total",
        "payment": "Please pay {total} within {days} days, by {due}, to IBAN {iban} in the name of {name}, "
        "quoting {number}.",
        "standby_detail": "Standby blocks",
        "period_kind": "Period",
        "from": "From",
        "until": "To",
        "standby": "Standby",
        "no_standby": "No standby this month.",
        "callouts": "Call-outs",
        "no_callouts": "No call-outs this month.",
        "incidents": "Incidents",
        "incident": "Incident",
        "paged": "Paged",
        "at": "At",
        "out_of_contract": "Work outside the standby contract",
        "out_of_contract_short": "Outside the contract",
        "ticket_hours": "Hours on tickets",
        "ticket": "Ticket",
        "billable_hours": "Billable hours",
        "covered_hours": "Covered (not charged)",
        "tickets": "Hours on tickets",
        "ticket_hours_note": "Billable time per ticket, rounded up to the billing increment, at the hourly rate. "
        "Time covered by the contract is shown for information and not charged. Time logged as call-out is "
        "billed under Call-outs, not here.",
        "responses": "Response record",
        "response_intro": "Target: answered (acknowledged, or resolved) within {target} minutes of the first page. "
        "An incident that fires again after it was resolved is paged afresh: each round is judged on its own. "
        "Met {met}, breached {breached} (rounds).",
        "round": "Round",
        "answered": "Answered",
        "minutes": "Minutes",
        "outcome": "Outcome",
        "round_line": "round {round}: paged {paged}, answered {answered}",
        "round_name": "round",
        "by": "by",
        "resolved": "resolved",
        "no_answer": "no answer",
        "target": "target",
        "minutes_axis": "minutes",
        "worked": "{minutes} min, {source}",
        "logged": "logged",
        "proposed": "acknowledged to resolved",
        "none": "none logged",
        "kvk": "Chamber of Commerce (KvK)",
        "btw": "VAT no.",
        "rules": "Standby blocks: multiplier × rate × max(hours, minimum). Call-outs: max(worked, 1 h) rounded up "
        "to the billing increment × rate. Amounts rounded half-up to cents per line.",
        "times_in": "Times in",
        "made": "Made",
        "evening_night": "Evening/night standby",
        "weekend": "Weekend standby",
        "holiday": "Public holiday standby",
        "evening_night_short": "Evening/night",
        "weekend_short": "Weekend",
        "holiday_short": "Public holiday",
        "met": "met",
        "breached": "breached",
        "running": "running",
        "at_risk": "at risk",
    },
    "nl": {
        "title": "Factuur",
        "title_provisional": "Voorlopig overzicht",
        "number": "Factuurnummer",
        "issued": "Factuurdatum",
        "due": "Vervaldatum",
        "period": "Periode",
        "rate": "Uurtarief",
        "per_hour": "per uur",
        "to": "Aan",
        "provisional_note": "Voorlopig: de maand is nog niet voorbij. Blokken die nog komen zijn als voorlopig "
        "gemarkeerd; het factuurnummer volgt zodra de maand voorbij is.",
        "provisional": "voorlopig",
        "summary": "Samenvatting",
        "kind": "Soort",
        "lines": "Aantal",
        "hours": "Uren",
        "billed_hours": "Gefact. uren",
        "worked_hours": "Gewerkte uren",
        "amount": "Bedrag",
        "nothing": "Niets te factureren deze maand.",
        "subtotal": "Subtotaal",
        "vat": "Btw {rate}%",
        "total": "Totaal",
        "payment": "Graag {total} binnen {days} dagen, uiterlijk {due}, overmaken naar IBAN {iban} t.n.v. {name}, "
        "onder vermelding van {number}.",
        "standby_detail": "Standbyblokken",
        "period_kind": "Periode",
        "from": "Van",
        "until": "Tot",
        "standby": "Standby",
        "no_standby": "Geen standby deze maand.",
        "callouts": "Oproepen",
        "no_callouts": "Geen oproepen deze maand.",
        "incidents": "Storingen",
        "incident": "Storing",
        "paged": "Opgeroepen",
        "at": "Op",
        "out_of_contract": "Werk buiten het standbycontract",
        "out_of_contract_short": "Buiten het contract",
        "ticket_hours": "Uren op tickets",
        "ticket": "Ticket",
        "billable_hours": "Factureerbare uren",
        "covered_hours": "Gedekt (niet berekend)",
        "tickets": "Uren op tickets",
        "ticket_hours_note": "Factureerbare tijd per ticket, naar boven afgerond op de factureringseenheid, tegen "
        "het uurtarief. Tijd die het contract dekt staat er ter informatie en wordt niet berekend. Tijd die als "
        "oproep is geschreven staat onder Oproepen, niet hier.",
        "responses": "Reactietijden",
        "response_intro": "Norm: beantwoord (bevestigd of opgelost) binnen {target} minuten na de eerste oproep. "
        "Een storing die na het oplossen opnieuw afgaat wordt opnieuw opgeroepen: elke ronde telt apart. "
        "Gehaald {met}, overschreden {breached} (rondes).",
        "round": "Ronde",
        "answered": "Beantwoord",
        "minutes": "Minuten",
        "outcome": "Resultaat",
        "round_line": "ronde {round}: opgeroepen {paged}, beantwoord {answered}",
        "round_name": "ronde",
        "by": "door",
        "resolved": "opgelost",
        "no_answer": "geen antwoord",
        "target": "norm",
        "minutes_axis": "minuten",
        "worked": "{minutes} min, {source}",
        "logged": "geregistreerd",
        "proposed": "bevestigd tot opgelost",
        "none": "niets geregistreerd",
        "kvk": "KvK",
        "btw": "btw-id",
        "rules": "Standbyblokken: factor × uurtarief × max(uren, minimum). Oproepen: max(gewerkt, 1 uur) naar boven "
        "afgerond op de factureringseenheid × uurtarief. Bedragen per regel afgerond op centen.",
        "times_in": "Tijden in",
        "made": "Gemaakt op",
        "evening_night": "Standby avond/nacht",
        "weekend": "Standby weekend",
        "holiday": "Standby feestdag",
        "evening_night_short": "Avond/nacht",
        "weekend_short": "Weekend",
        "holiday_short": "Feestdag",
        "met": "gehaald",
        "breached": "overschreden",
        "running": "loopt",
        "at_risk": "in gevaar",
    },
}


class Locale:
    """Words, amounts, hours and times of one statement in its language and time zone."""

    def __init__(self, language: str, zone: ZoneInfo, currency: str) -> None:
        self.lang = language if language in WORDS else "nl"
        self.t = WORDS[self.lang]
        self.locale = LOCALES[self.lang]
        self.zone = zone
        self.currency = currency

    def money(self, amount: str | Decimal) -> str:
        return format_currency(Decimal(amount), self.currency, locale=self.locale)

    def number(self, value: str | Decimal, pattern: str = "#,##0.00") -> str:
        return format_decimal(Decimal(value), format=pattern, locale=self.locale)

    def factor(self, value: str | Decimal) -> str:
        return format_decimal(Decimal(value), locale=self.locale)

    def when(self, value: str | None, pattern: str = "EEE d MMM HH:mm") -> str:
        if not value:
            return "—"
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return format_datetime(instant, pattern, tzinfo=self.zone, locale=self.locale)

    def day(self, value: str | date) -> str:
        d = date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(d, "long", locale=self.locale)

    def month(self, month: str) -> str:
        y, m = month.split("-")
        return format_date(date(int(y), int(m), 1), "MMMM y", locale=self.locale)

    def outcome(self, outcome: str) -> str:
        return self.t.get(outcome, outcome)


def _round_name(r: dict, loc: Locale) -> str:
    """ "#12" for an incident's first round, "#12 ronde 2" after its first reopen."""
    return f'#{r["incident"]}' + (f' {loc.t["round_name"]} {r["round"]}' if r["round"] > 1 else "")


def _answer_text(r: dict, loc: Locale) -> str:
    """ "wo 9 dec 20:12 door dewi (sms)", or "—" when not answered."""
    if not r["answered_at"]:
        return "—"
    kind = loc.t["resolved"] if r["answered_kind"] == "resolved" else ""
    who = f' {loc.t["by"]} {r["answered_by"]}' if r["answered_by"] else ""
    via = f' ({r["answered_via"]})' if r["answered_via"] else ""
    return " ".join(x for x in (kind, loc.when(r["answered_at"])) if x) + who + via


_CSS = """
@page { size: A4; margin: 16mm 14mm; }
* { box-sizing: border-box; }
body { font: 10pt/1.45 -apple-system, "Segoe UI", Helvetica, Arial, "DejaVu Sans", sans-serif; color: #1d2430;
       max-width: 190mm; margin: 24px auto; padding: 0 12px; }
header { display: flex; justify-content: space-between; align-items: flex-start;
         border-bottom: 2px solid #1d2430; padding-bottom: 10px; margin-bottom: 14px; }
.agency { font-size: 13pt; font-weight: 700; }
.doc { text-align: right; }
.facts { width: auto; margin-left: auto; }
.facts td { border: none; padding: 1px 0 1px 12px; }
.facts td:first-child { color: #5b6472; }
.to { margin-bottom: 10px; }
h1 { font-size: 18pt; margin: 0 0 4px; }
h2 { font-size: 12pt; margin: 20px 0 6px; border-bottom: 1px solid #c9ced6; padding-bottom: 3px; }
.muted { color: #5b6472; }
table { width: 100%; border-collapse: collapse; margin-bottom: 6px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { font-size: 8.5pt; text-transform: uppercase; letter-spacing: .03em; color: #5b6472; }
td.when { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.sum td { font-weight: 600; border-top: 1px solid #1d2430; border-bottom: none; }
.totals { margin-left: auto; width: 55%; }
.totals tr.grand td { font-size: 12pt; font-weight: 700; border-top: 2px solid #1d2430; }
tr.provisional td { color: #5b6472; }
.prov { color: #9a6700; font-style: italic; }
.provisional-note { border: 1px solid #d4a72c; background: #fff8c5; padding: 6px 10px; }
.pay { margin-top: 8px; }
.met { color: #1a7f37; font-weight: 600; } .breached { color: #b42318; font-weight: 600; }
.empty { color: #5b6472; font-style: italic; }
svg { display: block; margin: 6px 0 0; }
footer { margin-top: 26px; font-size: 8pt; color: #5b6472; border-top: 1px solid #c9ced6; padding-top: 6px; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def _chart(st: dict, loc: Locale) -> str:
    """Time to answer per round of a call-out (bars) against the response target (dashed line)."""
    rs = st["responses"]
    target = float(st["response_target_minutes"])
    width, height, left, bottom, top = 640, 220, 44, 36, 14
    vals = [r["minutes_to_answer"] for r in rs]
    vmax = max([target * 1.25] + [v * 1.1 for v in vals if v is not None]) or 1.0
    plot_w, plot_h = width - left - 10, height - top - bottom
    slot = plot_w / max(1, len(rs))
    bar = max(4.0, min(40.0, slot * 0.6))

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / vmax

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(loc.t["responses"])}">'
    ]
    for frac in (0, 0.25, 0.5, 0.75, 1):
        v = vmax * frac
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e3e6ea"/>'
            f'<text x="{left - 6}" y="{y(v) + 3:.1f}" font-size="9" text-anchor="end" '
            f'fill="#5b6472">{v:.0f}</text>'
        )
    for i, r in enumerate(rs):
        x = left + slot * i + (slot - bar) / 2
        v = r["minutes_to_answer"]
        label = escape(loc.when(r["paged_at"], "d MMM HH:mm"))
        name = escape(_round_name(r, loc))
        if v is None:  # not answered: breached, or still running when the statement was made
            said, fill = (
                (loc.t["no_answer"], "#b42318")
                if r["outcome"] == "breached"
                else (loc.outcome(r["outcome"]), "#5b6472")
            )
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - 4}" font-size="9" text-anchor="middle" '
                f'fill="{fill}">{escape(said)}</text>'
            )
        else:
            color = "#1a7f37" if r["outcome"] == "met" else "#b42318"
            parts.append(
                f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar:.1f}" height="{top + plot_h - y(v):.1f}" '
                f'fill="{color}"><title>{name}: {v:g} min</title></rect>'
                f'<text x="{x + bar / 2:.1f}" y="{y(v) - 3:.1f}" font-size="9" text-anchor="middle">'
                f'{v:g}</text>'
            )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 14}" font-size="9" text-anchor="middle" '
            f'fill="#5b6472">{name}</text>'
        )
        if len(rs) <= 12:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 26}" font-size="8" '
                f'text-anchor="middle" fill="#5b6472">{label}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{y(target):.1f}" y2="{y(target):.1f}" stroke="#1d2430" '
        f'stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{width - 12}" y="{y(target) - 4:.1f}" font-size="9" text-anchor="end">'
        f'{escape(loc.t["target"])} {target:g} min</text>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#5b6472"/>'
        f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="9" fill="#5b6472" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})" text-anchor="middle">{escape(loc.t["minutes_axis"])}</text></svg>'
    )
    return "".join(parts)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("pager.service", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _iban_display(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _context(st: dict) -> dict[str, Any]:
    """What the template shows: the statement's values in words, amounts and times of its locale."""
    loc = Locale(st.get("language", "nl"), ZoneInfo(st["timezone"]), st["currency"])
    t = dict(loc.t)
    totals = st["totals"]
    t["vat"] = t["vat"].format(rate=loc.factor(totals["vat_rate"]))
    if not st.get("final", True):
        t["title"] = t["title_provisional"]
    m = loc.money
    agency = dict(st["agency"]) if st.get("agency") else None
    if agency and agency.get("iban"):
        agency["iban_display"] = _iban_display(agency["iban"])
    due = loc.day(st["due_date"]) if st.get("due_date") else None
    payment = ""
    if agency and agency.get("iban") and st.get("number") and due:
        payment = t["payment"].format(
            total=m(totals["total_incl_vat"]),
            days=agency["payment_terms_days"],
            due=due,
            iban=agency["iban_display"],
            name=agency["name"],
            number=st["number"],
        )
    blocks = [
        {
            "period": t.get(f'{b["period"]}_short', b["period"]),
            "start": loc.when(b["start"]),
            "end": loc.when(b["end"]),
            "hours": loc.number(b["hours"]),
            "billed_hours": loc.number(b["billed_hours"]),
            "multiplier": loc.factor(b["multiplier"]),
            "fee": m(b["fee"]),
            "provisional": b.get("provisional", False),
        }
        for b in st["blocks"]
    ]

    def rounds(i: dict) -> list[dict]:
        return [
            {
                "line": t["round_line"].format(
                    round=r["round"], paged=loc.when(r["paged_at"]), answered=_answer_text(r, loc)
                ),
                "outcome": loc.outcome(r["outcome"]),
                "outcome_class": r["outcome"],
            }
            for r in i["rounds"]
        ]

    callouts = [
        {
            "incidents": [
                {
                    "id": i["id"],
                    "summary": i["summary"],
                    "worked": t["worked"].format(
                        minutes=i["worked_minutes"], source=t.get(i["worked_source"], i["worked_source"])
                    ),
                    "rounds": rounds(i),
                }
                for i in c["incidents"]
            ],
            "start": loc.when(c["start"]),
            "worked_hours": loc.number(c["worked_hours"]),
            "billed_hours": loc.number(c["billed_hours"]),
            "amount": m(c["amount"]),
        }
        for c in st["callouts"]
    ]
    ooc = [
        {
            "incident": o["incident"],
            "summary": o["summary"],
            "at": loc.when(o["at"]),
            "worked_hours": loc.number(o["worked_hours"]),
            "billed_hours": loc.number(o["billed_hours"]),
            "amount": m(o["amount"]),
        }
        for o in st["out_of_contract"]
    ]
    tickets = [
        {
            "number": k["number"],
            "subject": k["subject"],
            "billable_hours": loc.number(_hours(k["billable_minutes"])),
            "billed_hours": loc.number(k["billed_hours"]),
            "covered_hours": loc.number(_hours(k["covered_minutes"])) if k["covered_minutes"] else "—",
            "amount": m(k["amount"]),
        }
        for k in st.get("ticket_hours", [])
    ]
    responses = [
        {
            "incident": r["incident"],
            "summary": r["summary"],
            "round": r["round"],
            "paged": loc.when(r["paged_at"]),
            "answered": _answer_text(r, loc),
            "minutes": "—" if r["minutes_to_answer"] is None else loc.factor(Decimal(str(r["minutes_to_answer"]))),
            "outcome": loc.outcome(r["outcome"]),
            "outcome_class": r["outcome"],
        }
        for r in st["responses"]
    ]
    summary = [
        {
            "kind": t.get(s["kind"], s["kind"]),
            "count": s["count"],
            "hours": loc.number(s["hours"]),
            "billed_hours": loc.number(s["billed_hours"]),
            "amount": m(s["amount"]),
            "provisional": s["provisional"],
        }
        for s in st.get("summary", [])
    ]
    return {
        "lang": loc.lang,
        "t": t,
        "css": Markup(_CSS),  # noqa: S704 (a constant of this module)
        "st": st,
        "agency": agency,
        "month_name": loc.month(st["month"]),
        "issued": loc.day(st["issued_at"][:10]) if st.get("issued_at") else None,
        "due": due,
        "payment": payment,
        "rate": f'{m(st["rate"])} {t["per_hour"]}',
        "summary": summary,
        "totals": {k: (v if k == "vat_rate" else m(v)) for k, v in totals.items()},
        "blocks": blocks,
        "callouts": callouts,
        "ooc": ooc,
        "tickets": tickets,
        "responses": responses,
        "response_intro": t["response_intro"].format(
            target=f'{st["response_target_minutes"]:g}', met=st["responses_met"], breached=st["responses_breached"]
        ),
        # built of escaped parts above: the chart's text is escaped where it is made
        "chart": Markup(_chart(st, loc)) if st["responses"] else "",  # noqa: S704
        "generated": loc.when(st["generated_at"], "d MMMM y HH:mm"),
    }


def to_html(st: dict, css_href: str | None = None, nav: Markup | None = None) -> str:
    """The statement as one self-contained page in the customer's language (template statement.html);
    with `css_href` its style is linked from there instead of inline (the portal's CSP allows no inline
    style: `statement_css` is served at that address); `nav`, the portal's header, goes above the
    statement, which then is the page's main content (the portal's style hides the header in print)."""
    return _environment().get_template("statement.html").render({**_context(st), "css_href": css_href, "nav": nav})


def statement_css() -> str:
    """The style of the statement page (inline in `to_html`'s page unless linked)."""
    return _CSS


def to_pdf(st: dict) -> bytes:
    """The same page as a PDF (A4), laid out by WeasyPrint: what the agency mails to the customer."""
    from weasyprint import HTML  # imported on use: it loads Pango, which the other formats never need

    return HTML(string=to_html(st)).write_pdf()


__all__ = [
    "CSV_COLUMNS",
    "FORMULA_STARTS",
    "LOCALES",
    "NUMERIC_COLUMNS",
    "WORDS",
    "csv_cell",
    "statement_css",
    "to_csv",
    "to_html",
    "to_pdf",
]
