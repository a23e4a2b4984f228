"""What kind of mail it is, and whether pagerd may answer it automatically (RFC 3834, RFC 3464).

One decision, two functions: ``classify`` names the kind and the reason (and every other signal it saw),
``may_autoreply`` says yes only to a mail of kind ``normal``. The kinds, first match wins:

- ``unparseable``     set by the parser: the bytes are no mail it can read (kept raw, listed for the desk)
- ``bounce``          a delivery-status report (multipart/report; report-type=delivery-status)
- ``auto_reply``      an out-of-office or other automatic answer: ``Auto-Submitted: auto-replied``,
                      ``X-Autoreply``, ``X-Autorespond``, ``Precedence: auto_reply``, or a subject that
                      starts the way out-of-office replies do (English, Dutch, German)
- ``auto_generated``  ``Auto-Submitted`` with any other value than ``no``; any other report (a read receipt)
- ``bulk``            ``Precedence: bulk|junk|list``, ``List-Id``, ``List-Unsubscribe``
- ``loop_risk``       a sender that must never get an answer: mailer-daemon, postmaster and the other
                      mail-system names, no-reply addresses, an empty return path ``<>``, no sender at all,
                      ``X-Auto-Response-Suppress: All|OOF|AutoReply``, or pagerd's own support address
- ``normal``          none of these: the only kind that may get an automatic answer
"""

from __future__ import annotations

import re

from .model import Classification, Kind, ParsedMail, may_autoreply

__all__ = ["classify", "may_autoreply"]

# the order in which a signal decides the kind (the first one found wins)
_PRECEDENCE: tuple[Kind, ...] = ("unparseable", "bounce", "auto_reply", "auto_generated", "bulk", "loop_risk")

# local parts of mail-system senders (RFC 3834 section 2 and vacation(1)'s list), compared lowercased
_SYSTEM_SENDERS = frozenset(
    {"mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster", "listserv", "majordomo", "mdaemon", "root"}
)
_NO_REPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|noreply[-_.].*|bounces?([-+_.].*)?)$")
_SUPPRESS = frozenset({"all", "oof", "autoreply"})
_AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoreply-from", "x-mail-autoreply")
# How out-of-office replies begin their subject: Exchange/Outlook ("Automatic reply:", "Automatisch
# antwoord:", "Automatische Antwort:"), Lotus ("Out of Office AutoReply:", "Afwezigheidsbericht"),
# and what people set themselves. Only at the start: "Re: Automatic reply: ..." is a person's answer.
_OOO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|autoresponder|"
    r"automatisch antwoord|automatisch beantwoord|afwezigheidsbericht|afwezigheidsmelding|"
    r"afwezigheidsnotificatie|abwesenheitsnotiz|automatische antwort)\b",
    re.IGNORECASE,
)


def classify(mail: ParsedMail, own_addresses: frozenset[str] = frozenset()) -> Classification:
    """The kind of `mail` and why. `own_addresses` are the support addresses pagerd receives at and
    sends from (lowercased): mail from them is a loop."""
    found: list[tuple[Kind, str]] = []
    if mail.classification.kind == "unparseable":
        return mail.classification
    header = mail.header

    if mail.bounce is not None:
        failed = ", ".join(f"{r.address} ({r.status or r.action})" for r in mail.bounce.recipients[:3])
        found.append(("bounce", f"delivery-status report{': ' + failed if failed else ''}"))
    elif mail.report_type:
        found.append(("auto_generated", f"multipart/report; report-type={mail.report_type}"))

    # the keyword alone: "auto-replied (vacation)" and "auto-generated; type=..." carry a comment or parameter
    auto = re.split(r"[\s;(]", (header("auto-submitted") or "").strip(), maxsplit=1)[0].lower()
    if auto == "auto-replied":
        found.append(("auto_reply", "Auto-Submitted: auto-replied"))
    for name in _AUTO_REPLY_HEADERS:
        value = header(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            found.append(("auto_reply", f"{name}: {value}"[:200]))
    precedence = (header("precedence") or "").strip().lower()
    if precedence in ("auto_reply", "auto-reply"):
        found.append(("auto_reply", f"Precedence: {precedence}"))
    if _OOO_SUBJECT.match(mail.subject):
        found.append(("auto_reply", f"out-of-office subject {mail.subject[:80]!r}"))
    if auto and auto not in ("no", "auto-replied"):
        found.append(("auto_generated", f"Auto-Submitted: {auto[:60]}"))

    if precedence in ("bulk", "junk", "list"):
        found.append(("bulk", f"Precedence: {precedence}"))
    if header("list-id") is not None:
        found.append(("bulk", f"List-Id: {header('list-id')}"[:200]))
    if header("list-unsubscribe") is not None:
        found.append(("bulk", "List-Unsubscribe header"))

    sender = mail.sender.email.lower() if mail.sender else ""
    local = sender.rpartition("@")[0] if "@" in sender else sender
    if not sender:
        found.append(("loop_risk", "no sender address"))
    elif local in _SYSTEM_SENDERS or local.startswith("owner-") or local.endswith("-request"):
        found.append(("loop_risk", f"sender {sender} is a mail system address"))
    elif _NO_REPLY.match(local):
        found.append(("loop_risk", f"sender {sender} is a no-reply address"))
    if sender and sender in own_addresses:
        found.append(("loop_risk", f"sender {sender} is pagerd's own address"))
    if mail.envelope_from == "":
        found.append(("loop_risk", "empty return path <> (envelope sender)"))
    if mail.return_path == "":
        found.append(("loop_risk", "Return-Path: <>"))
    suppress = header("x-auto-response-suppress")
    if suppress is not None:
        values = {v.strip().lower() for v in re.split(r"[,;\s]+", suppress)}
        if values & _SUPPRESS:
            found.append(("loop_risk", f"X-Auto-Response-Suppress: {suppress}"[:200]))

    if not found:
        return Classification("normal", "no automatic-mail or loop signal")
    found.sort(key=lambda f: _PRECEDENCE.index(f[0]))  # stable: within a kind, the order above
    return Classification(found[0][0], found[0][1], tuple(reason for _, reason in found))
