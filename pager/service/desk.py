"""The support desk's one set of answers for the API and the CLI: who a sender is, what a new ticket, a
change, a reply or a time entry may hold (each problem named), and turning a request into a page.

Every input is checked here, once; `pager.web.tickets_api` and `pager.cli_tickets` only carry it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pager.config import Config, per_config
from pager.domain import contacts as dc
from pager.domain.portal_desk import MAX_BULK
from pager.domain.projects import project_name, split_project
from pager.domain.ticket import (
    MAX_BODY,
    MAX_MINUTES,
    MAX_NOTE,
    MAX_SUBJECT,
    MAX_WATCHERS,
    Priority,
    Status,
    TimeKind,
    Via,
)
from pager.sources.errors import InputError, Problem, check_text
from pager.storage.port import Attachment, ContactRecord, NotFound, Requester, Store, Ticket, TicketDetail

MAX_ACTOR = 64
MAX_QUERY = 256
ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
DESK_SOURCE = "desk"


def configured_contacts(cfg: Config) -> list[dc.Contact]:
    """The contacts of the config (id default: CUSTOMER.N, 1-based), phones in E.164."""
    region = cfg.calendar.holiday_country
    return [
        dc.Contact(
            id=contact_id(cid, i, c.id),
            customer=cid,
            name=c.name,
            emails=tuple(e.lower() for e in c.emails),
            phone=dc.e164(c.phone, region) if c.phone else None,
            language=c.language,
        )
        for cid, cust in cfg.customers.items()
        for i, c in enumerate(cust.contacts)
    ]


def contact_id(customer: str, index: int, given: str | None) -> str:
    """A configured contact's id: its own, else CUSTOMER.N (N: its place in the list, from 1)."""
    return given or f"{customer}.{index + 1}"


def contacts_with_email(cfg: Config, customer: str, email: str) -> frozenset[str]:
    """The ids of the customer's configured contacts that have this address."""
    cust = cfg.customers.get(customer)
    if cust is None:
        return frozenset()
    e = email.strip().lower()
    return frozenset(
        contact_id(customer, i, c.id) for i, c in enumerate(cust.contacts) if e in {x.lower() for x in c.emails}
    )


def all_contacts(cfg: Config, runtime: list[ContactRecord]) -> list[dc.Contact]:
    """The config's contacts first, then those the desk made."""
    return configured_contacts(cfg) + [
        dc.Contact(id=r.id, customer=r.customer, name=r.name, emails=r.emails, phone=r.phone, language=r.language)
        for r in runtime
    ]


def email_domains(cfg: Config) -> dict[str, list[str]]:
    return {cid: list(c.email_domains) for cid, c in cfg.customers.items()}


@per_config  # the desk's pages ask on every view
def projects(cfg: Config) -> frozenset[str]:
    """Every project's key (customer/project)."""
    return frozenset(project_name(c, p) for c, cust in cfg.customers.items() for p in cust.projects)


def _text(data: Mapping[str, Any], key: str, problems: list[Problem], *, max_len: int, line: bool) -> str | None:
    if key not in data or data[key] is None:
        return None
    v = data[key]
    if not isinstance(v, str):
        problems.append(Problem(key, "must be a string"))
        return None
    p = check_text(v, key, max_len=max_len, multiline=not line)
    if p:
        problems.append(p)
        return None
    return v


def _choice(data: Mapping[str, Any], key: str, allowed: list[str], problems: list[Problem]) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or v not in allowed:
        problems.append(Problem(key, f"expected one of {', '.join(allowed)}"))
        return None
    return v


def _project(cfg: Config, v: str | None, problems: list[Problem]) -> str | None:
    if v is not None and v not in projects(cfg):
        problems.append(Problem("project", f"unknown project {v[:80]!r} (expected CUSTOMER/PROJECT of the config)"))
        return None
    return v


def _person(cfg: Config, key: str, v: object, problems: list[Problem]) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or v not in cfg.people:
        problems.append(Problem(key, f"unknown person {str(v)[:64]!r} (not under people)"))
        return None
    return v


def _watchers(cfg: Config, data: Mapping[str, Any], problems: list[Problem]) -> tuple[str, ...] | None:
    if "watchers" not in data:
        return None
    v = data["watchers"]
    if not isinstance(v, list) or len(v) > MAX_WATCHERS:
        problems.append(Problem("watchers", f"expected a list of at most {MAX_WATCHERS} person ids"))
        return None
    for w in v:
        if not isinstance(w, str) or w not in cfg.people:
            problems.append(Problem("watchers", f"unknown person {str(w)[:64]!r} (not under people)"))
            return None
    return tuple(dict.fromkeys(v))


def _unknown(data: Mapping[str, Any], allowed: set[str]) -> list[Problem]:
    return [Problem(str(k)[:64], "unknown field") for k in data if k not in allowed]


MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_SIZE = 50 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _attachments(data: Mapping[str, Any], problems: list[Problem]) -> tuple[Attachment, ...]:
    """Attachments' metadata: name, type (a media type), size in bytes, sha256 (64 lower-case hex digits)."""
    v = data.get("attachments", [])
    if not isinstance(v, list) or len(v) > MAX_ATTACHMENTS:
        problems.append(Problem("attachments", f"expected a list of at most {MAX_ATTACHMENTS} attachments"))
        return ()
    out = []
    for i, a in enumerate(v):
        key = f"attachments.{i}"
        if not isinstance(a, dict) or set(a) - {"name", "type", "size", "sha256"}:
            problems.append(Problem(key, "expected {name, type, size, sha256}"))
            continue
        name, media, size, digest = a.get("name"), a.get("type"), a.get("size"), a.get("sha256")
        found = len(problems)
        if not isinstance(name, str) or not name.strip() or check_text(name, key, max_len=255, multiline=False):
            problems.append(Problem(f"{key}.name", "required: one line of at most 255 characters"))
        elif "/" in name or "\\" in name:
            problems.append(Problem(f"{key}.name", "a file name, without a folder"))
        if not isinstance(media, str) or not re.fullmatch(r"[a-z0-9.+-]{1,63}/[a-z0-9.+-]{1,63}", media):
            problems.append(Problem(f"{key}.type", "required: a media type such as image/png"))
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_ATTACHMENT_SIZE:
            problems.append(Problem(f"{key}.size", f"required: bytes from 0 to {MAX_ATTACHMENT_SIZE}"))
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            problems.append(Problem(f"{key}.sha256", "required: 64 lower-case hexadecimal digits"))
        if len(problems) == found:
            out.append(Attachment(name=name, type=media, size=size, sha256=digest))  # type: ignore[arg-type]
    return tuple(out)


_NEW = {
    "subject",
    "body",
    "project",
    "via",
    "from",
    "requester",
    "priority",
    "assignee",
    "watchers",
    "attachments",
    "by",
}


def new_ticket(cfg: Config, contacts: list[dc.Contact], data: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of TicketStore.create_ticket from a new ticket's fields (the API's JSON, the CLI's
    flags): `from` is the caller's phone number (via phone) or e-mail address (otherwise) and finds the
    contact; `requester` ({name, email, phone}) names one who is not a contact. InputError 422 naming
    every problem."""
    problems = _unknown(data, _NEW)
    subject = _text(data, "subject", problems, max_len=MAX_SUBJECT, line=True)
    if "subject" not in data:
        problems.append(Problem("subject", "required field is missing"))
    elif subject is not None and not subject.strip():
        problems.append(Problem("subject", "must not be empty"))
    body = _text(data, "body", problems, max_len=MAX_BODY, line=False) or ""
    project = _project(cfg, _text(data, "project", problems, max_len=200, line=True), problems)
    via = _choice(data, "via", ["phone", "email", "api"], problems) or Via.API.value
    priority = _choice(data, "priority", [p.value for p in Priority], problems) or Priority.NORMAL.value
    assignee = _person(cfg, "assignee", data.get("assignee"), problems)
    watchers = _watchers(cfg, data, problems) or ()
    actor = _text(data, "by", problems, max_len=MAX_ACTOR, line=True) or "api"
    sender = _text(data, "from", problems, max_len=254, line=True)
    attachments = _attachments(data, problems)
    region = cfg.calendar.holiday_country
    requester = Requester()
    customer = split_project(project)[0] if project else None
    if sender is not None:
        if via == "phone":
            phone = dc.e164(sender, region)
            if phone is None:
                problems.append(Problem("from", "not a phone number"))
            else:
                found = dc.sender_by_phone(phone, contacts, region)
                requester = _requester(found.contact) if found.contact else Requester(phone=phone)
                customer = customer or found.customer
        else:
            if dc.normal_email(sender) is None:
                problems.append(Problem("from", "not an e-mail address"))
            else:
                found = dc.sender_by_email(sender, contacts, email_domains(cfg))
                requester = _requester(found.contact) if found.contact else Requester(email=sender.strip().lower())
                customer = customer or found.customer
    if "requester" in data:
        r = data["requester"]
        if not isinstance(r, dict):
            problems.append(Problem("requester", "expected an object {name, email, phone}"))
        else:
            problems += [
                Problem(f"requester.{str(k)[:64]}", "unknown field") for k in r if k not in ("name", "email", "phone")
            ]
            name = _text(r, "name", problems, max_len=200, line=True)
            email = _text(r, "email", problems, max_len=254, line=True)
            phone_raw = _text(r, "phone", problems, max_len=64, line=True)
            if email is not None and dc.normal_email(email) is None:
                problems.append(Problem("requester.email", "not an e-mail address"))
            phone = None
            if phone_raw is not None:
                phone = dc.e164(phone_raw, region)
                if phone is None:
                    problems.append(Problem("requester.phone", "not a phone number"))
            requester = Requester(
                contact=requester.contact,
                name=name or requester.name,
                email=(email.lower() if email else None) or requester.email,
                phone=phone or requester.phone,
            )
    if problems:
        raise InputError(422, "invalid ticket", problems)
    assert subject is not None
    if customer is not None and project is not None and not project.startswith(customer + "/"):
        raise InputError(
            422, "invalid ticket", [Problem("project", f"the requester is customer {customer}'s, not of {project}")]
        )
    return {
        "subject": subject.strip(),
        "body": body,
        "via": via,
        "customer": customer,
        "project": project,
        "requester": requester,
        "priority": priority,
        "assignee": assignee,
        "watchers": watchers,
        "attachments": attachments,
        "actor": actor,
    }


def _requester(c: dc.Contact) -> Requester:
    return Requester(contact=c.id, name=c.name, email=c.emails[0] if c.emails else None, phone=c.phone)


_CHANGE = {"status", "priority", "assignee", "project", "watchers", "subject", "by"}


def changes(cfg: Config, data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The changes of a PATCH (or `pagerd ticket assign|status`) and who makes them; InputError 422."""
    problems = _unknown(data, _CHANGE)
    out: dict[str, Any] = {}
    if "status" in data:
        s = _choice(data, "status", [s.value for s in Status], problems)
        if s is None and data["status"] is None:
            problems.append(Problem("status", "must not be null"))
        elif s is not None:
            out["status"] = s
    if "priority" in data:
        p = _choice(data, "priority", [p.value for p in Priority], problems)
        if p is not None:
            out["priority"] = p
        elif data["priority"] is None:
            problems.append(Problem("priority", "must not be null"))
    if "assignee" in data:
        out["assignee"] = _person(cfg, "assignee", data["assignee"], problems)
    if "project" in data:
        v = _text(data, "project", problems, max_len=200, line=True)
        v = _project(cfg, v, problems)
        out["project"] = v
        out["customer"] = split_project(v)[0] if v else None
    w = _watchers(cfg, data, problems)
    if w is not None:
        out["watchers"] = w
    if "subject" in data:
        s = _text(data, "subject", problems, max_len=MAX_SUBJECT, line=True)
        if s is None or not s.strip():
            if not any(p.field == "subject" for p in problems):
                problems.append(Problem("subject", "must be a non-empty string"))
        else:
            out["subject"] = s.strip()
    actor = _text(data, "by", problems, max_len=MAX_ACTOR, line=True) or "api"
    if not problems and not out:
        problems.append(Problem("body", f"nothing to change (any of {', '.join(sorted(_CHANGE - {'by'}))})"))
    if problems:
        raise InputError(422, "invalid change", problems)
    return out, actor


def entry(data: Mapping[str, Any], *, reply: bool) -> dict[str, Any]:
    """A reply's or note's fields: text (required), by, and for a reply from_customer; InputError 422."""
    allowed = {"text", "by"} | ({"from_customer", "attachments"} if reply else set())
    problems = _unknown(data, allowed)
    text = _text(data, "text", problems, max_len=MAX_BODY, line=False)
    if "text" not in data or (text is not None and not text.strip()):
        problems.append(Problem("text", "required: a non-empty string"))
    actor = _text(data, "by", problems, max_len=MAX_ACTOR, line=True) or "api"
    attachments = _attachments(data, problems) if reply else ()
    from_customer = data.get("from_customer", False)
    if not isinstance(from_customer, bool):
        problems.append(Problem("from_customer", "must be true or false"))
    if problems:
        raise InputError(422, "invalid " + ("reply" if reply else "note"), problems)
    out: dict[str, Any] = {"actor": actor, "text": text}
    if reply:
        out["from_customer"] = from_customer
        out["attachments"] = attachments
    return out


def time_entry(data: Mapping[str, Any]) -> dict[str, Any]:
    """A time entry's fields: kind, minutes, by, note; InputError 422."""
    problems = _unknown(data, {"kind", "minutes", "by", "note"})
    kind = _choice(data, "kind", [k.value for k in TimeKind], problems)
    if "kind" not in data:
        problems.append(Problem("kind", f"required: one of {', '.join(k.value for k in TimeKind)}"))
    minutes = data.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= MAX_MINUTES:
        problems.append(Problem("minutes", f"required: whole minutes from 1 to {MAX_MINUTES}"))
    by = _text(data, "by", problems, max_len=MAX_ACTOR, line=True) or "api"
    note = _text(data, "note", problems, max_len=MAX_NOTE, line=True)
    if problems:
        raise InputError(422, "invalid time entry", problems)
    return {"kind": kind, "minutes": minutes, "by": by, "note": note}


def contact(cfg: Config, taken: set[str], data: Mapping[str, Any]) -> dict[str, Any]:
    """A new contact's fields (id, customer, name, emails, phone, language, by); InputError 422."""
    problems = _unknown(data, {"id", "customer", "name", "emails", "phone", "language", "by"})
    customer = _text(data, "customer", problems, max_len=64, line=True)
    if customer is None and not any(p.field == "customer" for p in problems):
        problems.append(Problem("customer", "required: a customer id of the config"))
    elif customer is not None and customer not in cfg.customers:
        problems.append(Problem("customer", f"unknown customer {customer[:64]!r}"))
    name = _text(data, "name", problems, max_len=200, line=True)
    if name is None or not name.strip():
        if not any(p.field == "name" for p in problems):
            problems.append(Problem("name", "required: a non-empty string"))
    emails = data.get("emails", [])
    if (
        not isinstance(emails, list)
        or len(emails) > 10
        or any(not isinstance(e, str) or len(e) > 254 or dc.normal_email(e) is None for e in emails)
    ):
        problems.append(Problem("emails", "expected a list of at most 10 e-mail addresses"))
        emails = []
    phone_raw = _text(data, "phone", problems, max_len=64, line=True)
    phone = None
    if phone_raw is not None:
        phone = dc.e164(phone_raw, cfg.calendar.holiday_country)
        if phone is None:
            problems.append(Problem("phone", "not a phone number"))
    language = _choice(data, "language", ["nl", "en"], problems) or "nl"
    cid = _text(data, "id", problems, max_len=64, line=True)
    if cid is not None and not ID_RE.fullmatch(cid):
        problems.append(Problem("id", "letters, digits, '.', '-' and '_' (at most 64)"))
    elif cid is not None and cid in taken:
        problems.append(Problem("id", f"contact {cid} exists already"))
    by = _text(data, "by", problems, max_len=MAX_ACTOR, line=True) or "api"
    if problems:
        raise InputError(422, "invalid contact", problems)
    assert customer is not None and name is not None
    if cid is None:
        n = 1
        while f"{customer}.d{n}" in taken:
            n += 1
        cid = f"{customer}.d{n}"
    return {
        "id": cid,
        "customer": customer,
        "name": name.strip(),
        "emails": tuple(e.strip().lower() for e in emails),
        "phone": phone,
        "language": language,
        "created_by": by,
    }


def page_labels(cfg: Config, t: Ticket) -> dict[str, str]:
    """The labels of a paged ticket's incident: its customer and project (the engine routes a desk
    incident by them, see `desk_project`) and its number."""
    labels = {"ticket": str(t.number)}
    if t.project:
        customer, project = split_project(t.project)
        labels |= {"customer": customer, "project": project}
    return labels


def desk_project(source: str, labels: Mapping[str, str], known: set[str]) -> str | None:
    """A paged ticket's project (source `desk`): customer/project of its labels when configured."""
    if source != DESK_SOURCE:
        return None
    p = project_name(labels.get("customer", ""), labels.get("project", ""))
    return p if p in known else None


async def file_ticket(store: Store, cfg: Config, data: Mapping[str, Any], now: datetime) -> TicketDetail:
    contacts = all_contacts(cfg, await store.list_contacts())
    return await store.create_ticket(**new_ticket(cfg, contacts, data), now=now)


def ticket_json(t: Ticket) -> dict[str, Any]:
    """A ticket as the API and the CLI print it: the record, `requester` as {contact, name, email, phone},
    `ref` #N."""
    out = t.to_json()
    out["ref"] = f"#{t.number}"
    return out


def list_filters(cfg: Config, query: Mapping[str, str]) -> dict[str, Any]:
    """status, project (or `none`: triage), assignee (a person, or `none`: unassigned), q, limit, before of
    a list; InputError 400 naming the bad one."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    status = query.get("status")
    if status:
        if status not in {s.value for s in Status}:
            problems.append(Problem("status", f"expected one of {', '.join(s.value for s in Status)}"))
        out["status"] = status
    project = query.get("project")
    if project:
        if project == "none":
            out["triage"] = True
        elif project not in projects(cfg):
            problems.append(Problem("project", f"unknown project {project[:80]!r}"))
        else:
            out["project"] = project
    assignee = query.get("assignee")
    if assignee:
        if assignee != "none" and assignee not in cfg.people:
            problems.append(Problem("assignee", f"unknown person {assignee[:64]!r} (or none)"))
        out["assignee"] = assignee
    q = query.get("q")
    if q:
        p = check_text(q, "q", max_len=MAX_QUERY, multiline=False)
        if p:
            problems.append(p)
        out["q"] = q
    for key, top in (("limit", 1000), ("before", 10**15)):
        raw = query.get(key)
        if raw:
            if not raw.isascii() or not raw.isdigit() or not 0 < int(raw[:16]) <= top:
                problems.append(Problem(key, f"expected a whole number from 1 to {top}"))
            else:
                out[key] = int(raw)
    if problems:
        raise InputError(400, "invalid query", problems)
    return out


SEVERITIES = ("critical", "warning", "info")


def page_request(data: Mapping[str, Any]) -> tuple[str, str]:
    """The fields of turning a request into a page (`severity`, default critical; `by`); InputError 422."""
    problems = _unknown(data, {"severity", "by"})
    severity = data.get("severity", "critical")
    if not isinstance(severity, str) or severity not in SEVERITIES:
        problems.append(Problem("severity", f"expected one of {', '.join(SEVERITIES)}"))
    by = data.get("by", "api")
    if not isinstance(by, str) or not by.strip() or len(by) > MAX_ACTOR or not by.isprintable():
        problems.append(Problem("by", f"a printable name of at most {MAX_ACTOR} characters"))
    if problems:
        raise InputError(422, "invalid page", problems)
    return severity, by


async def page(store: Store, cfg: Config, number: int, data: Mapping[str, Any], now: datetime) -> TicketDetail:
    """Turns request `number` into an incident the engine routes and pages (the API's POST
    /tickets/{n}/page and the portal's button). NotFound; Conflict per TicketStore.page_ticket."""
    severity, by = page_request(data)
    t = await store.get_ticket(number)
    if t is None:
        raise NotFound(f"ticket #{number} not found")
    return await store.page_ticket(number, labels=page_labels(cfg, t), severity=severity, actor=by, now=now)


def bulk_assignment(cfg: Config, data: Mapping[str, Any]) -> tuple[list[int], str | None, str]:
    """A bulk assignment's fields: `numbers` (1 to MAX_BULK distinct ticket numbers), `assignee` (a person,
    or null: unassigned; required), `by`; InputError 422 naming every problem."""
    problems = _unknown(data, {"numbers", "assignee", "by"})
    numbers = data.get("numbers")
    if (
        not isinstance(numbers, list)
        or not 0 < len(numbers) <= MAX_BULK
        or any(isinstance(n, bool) or not isinstance(n, int) or not 0 < n < 10**15 for n in numbers)
    ):
        problems.append(Problem("numbers", f"required: a list of 1 to {MAX_BULK} ticket numbers"))
        numbers = []
    if "assignee" not in data:
        problems.append(Problem("assignee", "required: a person id, or null to unassign"))
    assignee = _person(cfg, "assignee", data.get("assignee"), problems)
    actor = _text(data, "by", problems, max_len=MAX_ACTOR, line=True) or "api"
    if problems:
        raise InputError(422, "invalid assignment", problems)
    return list(dict.fromkeys(numbers)), assignee, actor


async def assign_many(store: Store, cfg: Config, data: Mapping[str, Any], now: datetime) -> list[TicketDetail]:
    """Assigns every ticket named to one person (or none): all of them or, when a number does not exist,
    none (NotFound naming the missing ones). Each ticket gets its own assignment entry."""
    numbers, assignee, actor = bulk_assignment(cfg, data)
    missing = [n for n in numbers if await store.get_ticket(n) is None]
    if missing:
        raise NotFound("no such ticket: " + ", ".join(f"#{n}" for n in missing[:20]))
    return [await store.update_ticket(n, {"assignee": assignee}, actor=actor, now=now) for n in numbers]
