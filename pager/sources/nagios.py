"""Nagios / Icinga notifications: the notification macros, form-encoded or JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from pager.domain.alert import Action, Alert, Source, stable_id
from pager.domain.calendar import utc_in_range

from .errors import InputError, Problem, check_text

_TYPES: dict[str, tuple[Action, str | None]] = {
    "PROBLEM": (Action.TRIGGER, None),
    "RECOVERY": (Action.RESOLVE, None),
    "ACKNOWLEDGEMENT": (Action.ACKNOWLEDGE, None),
    "FLAPPINGSTART": (Action.ANNOTATE, "flapping_start"),
    "FLAPPINGSTOP": (Action.ANNOTATE, "flapping_stop"),
    "FLAPPINGDISABLED": (Action.ANNOTATE, "flapping_disabled"),
    "DOWNTIMESTART": (Action.ANNOTATE, "downtime_start"),
    "DOWNTIMEEND": (Action.ANNOTATE, "downtime_end"),
    "DOWNTIMECANCELLED": (Action.ANNOTATE, "downtime_cancelled"),
    "CUSTOM": (Action.ANNOTATE, "custom"),
}
_SEVERITY = {
    "CRITICAL": "critical",
    "WARNING": "warning",
    "UNKNOWN": "warning",
    "OK": "info",
    "DOWN": "critical",
    "UNREACHABLE": "critical",
    "UP": "info",
}
MAX_MACROS = 512
_LABEL_MACROS = frozenset({"HOSTNAME", "SERVICEDESC", "SERVICESTATE", "HOSTSTATE", "NOTIFICATIONTYPE"})
MAX_VALUE = 65536
KEPT = (
    "NOTIFICATIONTYPE",
    "HOSTNAME",
    "HOSTALIAS",
    "HOSTADDRESS",
    "HOSTSTATE",
    "SERVICEDESC",
    "SERVICESTATE",
    "NOTIFICATIONNUMBER",
    "SERVICEPROBLEMID",
    "HOSTPROBLEMID",
    "LASTHOSTPROBLEMID",
    "LASTSERVICEPROBLEMID",
    "CONTACTNAME",
    "TIMET",
)


def parse(macros: Mapping[str, object]) -> Alert:
    """One alert from a notification's macros (keys with or without the NAGIOS_ prefix)."""
    problems: list[Problem] = []
    if len(macros) > MAX_MACROS:
        raise InputError(413, f"more than {MAX_MACROS} macros")
    m: dict[str, str] = {}
    for key, value in macros.items():
        name = key[7:] if key.startswith("NAGIOS_") else key
        if not isinstance(value, str):
            problems.append(Problem(name, "must be a string"))
            continue
        if not name or not name.replace("_", "").isalnum() or not name.isascii():
            problems.append(Problem(name[:64] or "(empty)", "macro name must be letters, digits and _"))
            continue
        # macros that become labels are one line without control characters; outputs may be multi-line
        one_line = name.upper() in _LABEL_MACROS
        p = check_text(value, name, max_len=MAX_VALUE, multiline=not one_line)
        if p:
            problems.append(p)
            continue
        m[name.upper()] = value
    ntype = m.get("NOTIFICATIONTYPE", "")
    host = m.get("HOSTNAME", "")
    if not ntype:
        problems.append(Problem("NOTIFICATIONTYPE", "required field is missing"))
    elif ntype not in _TYPES:
        problems.append(
            Problem("NOTIFICATIONTYPE", f"unknown type {ntype[:40]!r}; expected one of {', '.join(_TYPES)}")
        )
    if not host:
        problems.append(Problem("HOSTNAME", "required field is missing"))
    elif "\n" in host or "\r" in host or len(host) > 255:
        problems.append(Problem("HOSTNAME", "must be one line of at most 255 characters"))
    service = m.get("SERVICEDESC", "")
    if "\n" in service or "\r" in service or len(service) > 255:
        problems.append(Problem("SERVICEDESC", "must be one line of at most 255 characters"))
    when: datetime | None = None
    if m.get("TIMET"):
        try:
            when = utc_in_range(datetime.fromtimestamp(int(m["TIMET"]), tz=timezone.utc))
        except (ValueError, OverflowError, OSError):
            problems.append(Problem("TIMET", "must be a Unix timestamp in the years 1900-2199"))
    if problems:
        raise InputError(422, "invalid notification", problems[:50])

    action, note_kind = _TYPES[ntype]
    if service:
        state = m.get("SERVICESTATE", "")
        problem_id = m.get("SERVICEPROBLEMID") or m.get("LASTSERVICEPROBLEMID") or ""
        output = m.get("SERVICEOUTPUT", "")
        long_output = m.get("LONGSERVICEOUTPUT", "")
        dedup = f"{host}/{service}"
        what = f"{service} on {host}"
    else:
        state = m.get("HOSTSTATE", "")
        problem_id = m.get("HOSTPROBLEMID", "")
        if problem_id in ("", "0"):
            problem_id = m.get("LASTHOSTPROBLEMID", "")
        output = m.get("HOSTOUTPUT", "")
        long_output = m.get("LONGHOSTOUTPUT", "")
        dedup = host
        what = f"host {host}"
    output = output.split("|", 1)[0].strip()
    long_output = long_output.replace("\\n", "\n").split("|", 1)[0].strip()
    summary = f"{what} is {state}" if state else what
    if output:
        summary += f": {output}"
    labels = {"host": host}
    if service:
        labels["service"] = service
    if state:
        labels["state"] = state
    annotations = {k: v for k, v in (("output", output), ("long_output", long_output)) if v}
    return Alert(
        source=Source.NAGIOS,
        dedup_key=dedup,
        fingerprint=dedup,
        action=action,
        event_id=stable_id(
            "nagios",
            ntype,
            host,
            service,
            state,
            problem_id,
            m.get("NOTIFICATIONNUMBER", ""),
            m.get("TIMET", ""),
            m.get("NOTIFICATIONCOMMENT", ""),
        ),
        summary=summary.strip()[:1024],
        severity=_SEVERITY.get(state, "critical"),
        labels=labels,
        annotations=annotations,
        starts_at=when,
        actor=m.get("NOTIFICATIONAUTHOR") or None,
        comment=m.get("NOTIFICATIONCOMMENT") or None,
        note_kind=note_kind,
        details={"macros": {k: m[k] for k in KEPT if k in m}, "problem_id": problem_id},
    )
