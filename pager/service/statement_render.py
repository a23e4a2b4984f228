"""A statement (pager.service.statements.statement) as CSV and as a printable HTML page.

The HTML page stands alone: inline CSS, an inline SVG chart, no scripts, no external assets, so it
can be mailed to the customer or printed to PDF as it is. Times are shown in the calendar's zone.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

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


def to_csv(st: dict) -> str:
    """One row per line: standby, callout, out_of_contract, response (one per paged round of a
    call-out, its opening and each reopen: start is its first page, end its deadline), then the
    totals. Every cell passes csv_cell: alert text never reaches a spreadsheet as a formula."""
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
    for key in ("standby", "callouts", "out_of_contract", "total"):
        w.writerow({"kind": "total" if key == "total" else f"subtotal_{key}", "amount": st["totals"][key]})
    return buf.getvalue()


def _local(value: str | None, zone: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone).strftime(fmt)


_PERIOD = {"evening_night": "Evening/night", "weekend": "Weekend", "holiday": "Public holiday"}
_OUTCOME = {"met": "met", "breached": "breached", "running": "running", "at_risk": "at risk"}


def _round_name(r: dict) -> str:
    """ "#12" for an incident's first round, "#12 round 2" after its first reopen."""
    return f'#{r["incident"]}' + (f' round {r["round"]}' if r["round"] > 1 else "")


def _answer_text(r: dict, zone: ZoneInfo) -> str:
    """ "Wed 09 Dec 20:12 by dewi (sms)", or "—" when not answered."""
    if not r["answered_at"]:
        return "—"
    kind = "resolved" if r["answered_kind"] == "resolved" else ""
    who = f' by {r["answered_by"]}' if r["answered_by"] else ""
    via = f' ({r["answered_via"]})' if r["answered_via"] else ""
    return " ".join(x for x in (kind, _local(r["answered_at"], zone)) if x) + who + via


_CSS = """
@page { size: A4; margin: 16mm 14mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2430;
       max-width: 190mm; margin: 24px auto; padding: 0 12px; }
header { display: flex; justify-content: space-between; align-items: flex-start;
         border-bottom: 2px solid #1d2430; padding-bottom: 10px; margin-bottom: 18px; }
h1 { font-size: 18pt; margin: 0 0 4px; }
h2 { font-size: 12pt; margin: 22px 0 6px; border-bottom: 1px solid #c9ced6; padding-bottom: 3px; }
.muted { color: #5b6472; }
table { width: 100%; border-collapse: collapse; margin-bottom: 6px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { font-size: 9pt; text-transform: uppercase; letter-spacing: .03em; color: #5b6472; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.sum td { font-weight: 600; border-top: 1px solid #1d2430; border-bottom: none; }
.totals { margin-left: auto; width: 55%; }
.totals tr.grand td { font-size: 13pt; font-weight: 700; border-top: 2px solid #1d2430; }
.met { color: #1a7f37; font-weight: 600; } .breached { color: #b42318; font-weight: 600; }
.empty { color: #5b6472; font-style: italic; }
svg { display: block; margin: 6px 0 0; }
footer { margin-top: 26px; font-size: 8.5pt; color: #5b6472; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def _chart(st: dict) -> str:
    """Time to answer per round of a call-out (bars) against the response target (dashed line)."""
    rs = st["responses"]
    target = float(st["response_target_minutes"])
    if not rs:
        return '<p class="empty">No call-outs this month.</p>'
    width, height, left, bottom, top = 640, 220, 44, 36, 14
    vals = [r["minutes_to_answer"] for r in rs]
    vmax = max([target * 1.25] + [v * 1.1 for v in vals if v is not None]) or 1.0
    plot_w, plot_h = width - left - 10, height - top - bottom
    slot = plot_w / len(rs)
    bar = max(4.0, min(40.0, slot * 0.6))

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / vmax

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Time to answer per round of a call-out">'
    ]
    for frac in (0, 0.25, 0.5, 0.75, 1):
        v = vmax * frac
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e3e6ea"/>'
            f'<text x="{left - 6}" y="{y(v) + 3:.1f}" font-size="9" text-anchor="end" '
            f'fill="#5b6472">{v:.0f}</text>'
        )
    zone = ZoneInfo(st["timezone"])
    for i, r in enumerate(rs):
        x = left + slot * i + (slot - bar) / 2
        v = r["minutes_to_answer"]
        label = escape(_local(r["paged_at"], zone, "%d %b %H:%M"))
        name = _round_name(r)
        if v is None:  # not answered: breached, or still running when the statement was made
            said, fill = ("no answer", "#b42318") if r["outcome"] == "breached" else (_OUTCOME[r["outcome"]], "#5b6472")
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - 4}" font-size="9" text-anchor="middle" '
                f'fill="{fill}">{said}</text>'
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
        f'target {target:g} min</text>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#5b6472"/>'
        f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="9" fill="#5b6472" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})" text-anchor="middle">minutes</text></svg>'
    )
    return "".join(parts)


def _rows_with_sum(rows: list[str], cols: int, label: str, total: str, empty: str) -> str:
    """Table rows and their total as the last row; one row saying `empty` when there are none."""
    if not rows:
        return f'<tr><td colspan="{cols}" class="empty">{empty}</td></tr>'
    return "".join(rows) + f'<tr class="sum"><td colspan="{cols - 1}">{label}</td><td class="num">{total}</td></tr>'


def to_html(st: dict) -> str:
    e = escape
    zone = ZoneInfo(st["timezone"])
    cur = e(st["currency"])
    rows = []
    for b in st["blocks"]:
        rows.append(
            f'<tr><td>{e(_PERIOD.get(b["period"], b["period"]))}</td><td>{e(_local(b["start"], zone))}</td>'
            f'<td>{e(_local(b["end"], zone))}</td><td class="num">{e(b["hours"])}</td>'
            f'<td class="num">{e(b["billed_hours"])}</td><td class="num">{e(b["multiplier"])}</td>'
            f'<td class="num">{e(b["fee"])}</td></tr>'
        )
    standby = _rows_with_sum(rows, 7, "Standby", e(st["totals"]["standby"]), "No standby booked this month.")
    rows = []
    for c in st["callouts"]:
        incs = "<br>".join(
            f'#{i["id"]} {e(i["summary"])} <span class="muted">({i["worked_minutes"]} min, '
            f'{e(i["worked_source"])})</span>'
            + "".join(
                f'<br><span class="muted">round {r["round"]}: paged {e(_local(r["paged_at"], zone))}, '
                f'answered {e(_answer_text(r, zone))}</span> '
                f'<span class="{e(r["outcome"])}">{e(_OUTCOME[r["outcome"]])}</span>'
                for r in i["rounds"]
            )
            for i in c["incidents"]
        )
        rows.append(
            f'<tr><td>{incs}</td><td>{e(_local(c["start"], zone))}</td>'
            f'<td class="num">{e(c["worked_hours"])}</td><td class="num">{e(c["billed_hours"])}</td>'
            f'<td class="num">{e(c["amount"])}</td></tr>'
        )
    callouts = _rows_with_sum(rows, 5, "Call-outs", e(st["totals"]["callouts"]), "No call-outs this month.")
    rows = []
    for o in st["out_of_contract"]:
        rows.append(
            f'<tr><td>#{o["incident"]} {e(o["summary"])}</td><td>{e(_local(o["at"], zone))}</td>'
            f'<td class="num">{e(o["worked_hours"])}</td><td class="num">{e(o["billed_hours"])}</td>'
            f'<td class="num">{e(o["amount"])}</td></tr>'
        )
    ooc = ""
    if rows:
        ooc = (
            '<h2>Work outside the standby contract</h2><table><thead><tr><th>Incident</th><th>At</th>'
            '<th class="num">Worked h</th><th class="num">Billed h</th>'
            f'<th class="num">Amount ({cur})</th></tr></thead><tbody>'
            f'{_rows_with_sum(rows, 5, "Out of contract", e(st["totals"]["out_of_contract"]), "")}'
            '</tbody></table>'
        )
    rows = []
    for r in st["responses"]:
        mins = "—" if r["minutes_to_answer"] is None else f'{r["minutes_to_answer"]:g}'
        rows.append(
            f'<tr><td>#{r["incident"]} {e(r["summary"])}</td><td class="num">{r["round"]}</td>'
            f'<td>{e(_local(r["paged_at"], zone))}</td><td>{e(_answer_text(r, zone))}</td>'
            f'<td class="num">{e(mins)}</td>'
            f'<td class="{e(r["outcome"])}">{e(_OUTCOME[r["outcome"]])}</td></tr>'
        )
    responses = "".join(rows) or '<tr><td colspan="6" class="empty">No call-outs this month.</td></tr>'
    t = st["totals"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Statement {e(st["month"])} — {e(st["name"])}</title>
<style>{_CSS}</style></head>
<body>
<header><div><h1>Standby statement</h1>
<div><strong>{e(st["name"])}</strong> <span class="muted">({e(st["customer"])})</span></div>
<div class="muted">{e(st["email"] or "")}</div></div>
<div style="text-align:right"><div><strong>{e(st["month"])}</strong></div>
<div class="muted">times in {e(st["timezone"])}</div>
<div class="muted">rate {cur} {e(st["rate"])}/h</div></div></header>

<h2>Standby</h2>
<table><thead><tr><th>Period</th><th>From</th><th>To</th><th class="num">Hours</th><th class="num">Billed h</th>
<th class="num">×</th><th class="num">Fee ({cur})</th></tr></thead><tbody>{standby}</tbody></table>

<h2>Call-outs</h2>
<table><thead><tr><th>Incidents</th><th>Paged</th><th class="num">Worked h</th><th class="num">Billed h</th>
<th class="num">Amount ({cur})</th></tr></thead><tbody>{callouts}</tbody></table>
{ooc}
<h2>Totals</h2>
<table class="totals"><tbody>
<tr><td>Standby</td><td class="num">{cur} {e(t["standby"])}</td></tr>
<tr><td>Call-outs</td><td class="num">{cur} {e(t["callouts"])}</td></tr>
<tr><td>Out of contract</td><td class="num">{cur} {e(t["out_of_contract"])}</td></tr>
<tr class="grand"><td>Total</td><td class="num" id="total">{cur} {e(t["total"])}</td></tr>
</tbody></table>

<h2>Response record</h2>
<p class="muted">Target: answered (acknowledged, or resolved) within {st["response_target_minutes"]:g} minutes of
the first page. An incident that fires again after it was resolved is paged afresh: each round is judged on its own.
Met {st["responses_met"]}, breached {st["responses_breached"]} (rounds).</p>
{_chart(st)}
<table><thead><tr><th>Incident</th><th class="num">Round</th><th>Paged</th><th>Answered</th>
<th class="num">Minutes</th><th>Outcome</th></tr></thead><tbody>{responses}</tbody></table>

<footer>Standby blocks: multiplier × rate × max(hours, minimum). Call-outs: max(worked, 1 h) rounded up to
the billing increment × rate. Amounts rounded half-up to cents per line. Generated {e(st["generated_at"])}.
</footer>
</body></html>
"""


__all__ = ["CSV_COLUMNS", "FORMULA_STARTS", "NUMERIC_COLUMNS", "csv_cell", "to_csv", "to_html"]
