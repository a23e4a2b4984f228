"""Nagios / Icinga notifications: the notification macros, form-encoded or JSON."""

from __future__ import annotations

import re
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
# Labels from custom variables and chosen macros (README: Nagios / Icinga). Nagios names a host's custom
# variable `_CUSTOMER` `_HOSTCUSTOMER` and a service's `_SERVICECUSTOMER` (as $_SERVICECUSTOMER$ and as the
# environment's NAGIOS__SERVICECUSTOMER); the notify script's `--label NAME=VALUE` sends LABEL_NAME.
# `_CUSTOMER` and `_PROJECT` become `customer` and `project`, `_PAGERD_X` becomes `x`; a service's variable
# wins over its host's, and both over a chosen macro.
_LABEL_SOURCES = (("_SERVICE", 2), ("_HOST", 1))
_LABEL_VARS = ("CUSTOMER", "PROJECT")
_LABEL_VAR_PREFIX = "PAGERD_"
_CHOSEN_PREFIX = "LABEL_"
LABEL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_LABEL_NAME = 128
MAX_LABEL_VALUE = 4096  # as an Alertmanager label's
MAX_CUSTOM_LABELS = 64
RESERVED_LABELS = frozenset({"host", "service", "state"})  # pagerd sets them from HOSTNAME, SERVICEDESC, *STATE
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
    label_macros: dict[str, str] = {}
    for key, value in macros.items():
        name = key[7:] if key.startswith("NAGIOS_") else key
        if not isinstance(value, str):
            problems.append(Problem(name, "must be a string"))
            continue
        if not name or not name.replace("_", "").isalnum() or not name.isascii():
            problems.append(Problem(name[:64] or "(empty)", "macro name must be letters, digits and _"))
            continue
        if _label_of(name.upper()) is not None:
            label_macros[name.upper()] = value  # checked as a label below: a bad one is left out, not fatal
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
    custom, label_problems = custom_labels(label_macros, service=bool(service))
    labels = {**custom, "host": host}
    if service:
        labels["service"] = service
    if state:
        labels["state"] = state
    annotations = {k: v for k, v in (("output", output), ("long_output", long_output)) if v}
    if label_problems:
        annotations["label_problems"] = "; ".join(f"{p.field}: {p.message}" for p in label_problems)
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
        details={
            "macros": {k: m[k] for k in KEPT if k in m},
            "problem_id": problem_id,
            **({"label_problems": [p.as_dict() for p in label_problems]} if label_problems else {}),
        },
    )


def _label_of(macro: str) -> tuple[int, str] | None:
    """(precedence, label name) of a macro that carries a label (upper-case macro name), else None."""
    for prefix, rank in _LABEL_SOURCES:
        if macro.startswith(prefix):
            var = macro[len(prefix) :]
            if var in _LABEL_VARS:
                return rank, var.lower()
            if var.startswith(_LABEL_VAR_PREFIX) and len(var) > len(_LABEL_VAR_PREFIX):
                return rank, var[len(_LABEL_VAR_PREFIX) :].lower()
            return None
    if macro.startswith(_CHOSEN_PREFIX) and len(macro) > len(_CHOSEN_PREFIX):
        return 0, macro[len(_CHOSEN_PREFIX) :].lower()
    return None


def custom_labels(label_macros: Mapping[str, str], *, service: bool) -> tuple[dict[str, str], list[Problem]]:
    """The labels that custom variables and chosen macros carry, and the problems of those left out.

    An empty value is no label (Nagios expands an unset custom variable to nothing). A label whose name or
    value is refused is left out and named in the problems; the notification itself is taken, routed by
    its other labels (or to paging.default_project), never lost over a label. A host notification takes
    no service variables."""
    problems: list[Problem] = []
    chosen: dict[str, tuple[int, str]] = {}
    for macro in sorted(label_macros):
        value = label_macros[macro]
        found = _label_of(macro)
        if found is None or not value:
            continue
        rank, name = found
        if rank == 2 and not service:
            continue
        field = f"{macro[:80]} (label {name[:64]!r})"
        if len(name) > MAX_LABEL_NAME or not LABEL_NAME.match(name):
            problems.append(Problem(field, f"label name must match [a-z_][a-z0-9_]* (at most {MAX_LABEL_NAME})"))
            continue
        if name in RESERVED_LABELS:
            problems.append(Problem(field, f"label {name!r} is set by pagerd from the notification itself"))
            continue
        p = check_text(value, field, max_len=MAX_LABEL_VALUE, multiline=False)
        if p is not None:
            problems.append(p)
            continue
        if name not in chosen or rank > chosen[name][0]:
            chosen[name] = (rank, value)
    if len(chosen) > MAX_CUSTOM_LABELS:
        problems.append(Problem("labels", f"more than {MAX_CUSTOM_LABELS} custom labels: the rest left out"))
    labels = {name: value for name, (_, value) in sorted(chosen.items())[:MAX_CUSTOM_LABELS]}
    return labels, [Problem(p.field, p.message + "; label left out") for p in problems[:20]]
