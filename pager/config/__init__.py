"""Configuration: `load(path)` returns a frozen Config or raises ConfigError naming file, line and key."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from pager.domain.projects import project_name

from .channels import check_channels
from .domain import calendar_from, rotations_from
from .loader import ConfigError, ConfigIssue, line_of, load_yaml
from .model import ID_CHARS, WILDCARD_HOSTS, Config
from .schema import schema_issues, validate_pruned
from .secrets import FILE_SUFFIX, check_secrets, configured_secrets, read_secret_files

__all__ = ["Config", "ConfigError", "ConfigIssue", "load", "per_config"]

T = TypeVar("T")


def per_config(make: Callable[[Config], T]) -> Callable[[Config], T]:
    """`make(cfg)`, made once per config and kept until another config is asked for (after a reload). The
    config object itself is kept, not its id(): a reloaded one may be given the id of the freed one."""
    kept: list = [None, None]  # [config, what was made of it]

    @functools.wraps(make)
    def of(cfg: Config) -> T:
        if kept[0] is not cfg:
            kept[:] = [cfg, make(cfg)]
        return kept[1]  # type: ignore[no-any-return]

    return of


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Every problem of the file is reported at once: syntax errors end the reading, but a duplicate key,
    an unset variable, an unreadable secret file, unknown keys, wrong types and bad values are collected
    together, each once (a key's first problem hides what follows from it), and the references between
    sections are checked too when what is left without the wrong keys and values still makes a config.
    Relative paths (storage.sqlite.path, every `*_file` secret) are read from the config file's folder."""
    fname = str(path)
    env = os.environ if env is None else env
    refs: dict[tuple, list[str]] = {}
    issues: list[ConfigIssue] = []
    data, lines = load_yaml(path, env, refs, issues)
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(fname, 1, "", "the top level must be a mapping")])
    base = Path(os.path.abspath(fname)).parent
    file_issues, from_files = read_secret_files(data, lines, fname, base)
    issues += file_issues
    # keys with a problem already: what pydantic or the reference checks say of them (or of what lies
    # below them) follows from it
    reported = {i.key.removesuffix(FILE_SUFFIX) for i in issues if i.key}
    try:
        cfg: Config | None = Config.model_validate(data)
    except ValidationError as exc:
        found, pruned = schema_issues(exc, data, lines, fname)
        issues += [i for i in found if not _covered(i.key, reported)]
        reported |= {i.key for i in found}
        cfg = validate_pruned(data, pruned)
    if cfg is not None:
        cfg = _resolve_paths(cfg, base)
        later = _references(cfg, fname, lines) + _testing(cfg, fname, lines, env)
        issues += [i for i in later if not _covered(i.key, reported)]
    if issues or cfg is None:
        raise ConfigError(sorted(issues, key=lambda i: i.line))
    for s in configured_secrets(cfg):
        file_origin = from_files.get(s.key) or from_files.get(".".join(str(p) for p in s.loc[:-1]))
        if file_origin:
            cfg.secret_origins[s.key] = file_origin
        elif refs.get(s.loc):
            cfg.secret_origins[s.key] = "environment " + ", ".join(refs[s.loc])
    return cfg


def _covered(key: str, reported: set[str]) -> bool:
    """Whether `key` is, or lies below, a key with a problem already."""
    return any(key == r or key.startswith(r + ".") for r in reported if r)


def _resolve_paths(cfg: Config, base: Path) -> Config:
    """storage.sqlite.path relative to the config file's folder `base` (not the working folder): the daemon
    and every command find the same database wherever they are started."""
    db = cfg.storage.sqlite.path
    if db == ":memory:" or db.startswith("file:") or os.path.isabs(db):
        return cfg
    sqlite = cfg.storage.sqlite.model_copy(update={"path": os.path.normpath(base / db)})
    return cfg.model_copy(update={"storage": cfg.storage.model_copy(update={"sqlite": sqlite})})


# The one switch that lets a config run pagerd on the movable test clock (testing.clock: manual).
ALLOW_TEST_CLOCK = "PAGERD_ALLOW_TEST_CLOCK"


def _testing(cfg: Config, fname: str, lines: dict, env: Mapping[str, str]) -> list[ConfigIssue]:
    """The test-only clock is refused unless the environment allows it: a production config never
    runs on a clock that stands still."""
    t = cfg.testing
    out: list[ConfigIssue] = []

    def issue(key: str, msg: str) -> None:
        out.append(ConfigIssue(fname, line_of(lines, ("testing", key)), f"testing.{key}", msg))

    if t.clock == "manual":
        if env.get(ALLOW_TEST_CLOCK) != "1":
            issue(
                "clock",
                f"manual is a test-only setting (time stands still until a test moves it); "
                f"refused unless {ALLOW_TEST_CLOCK}=1 is set in the environment",
            )
        if t.start is None:
            issue("start", "required with testing.clock: manual (an ISO 8601 instant with offset)")
    elif t.start is not None:
        issue("start", "only with testing.clock: manual")
    return out


def _references(cfg: Config, fname: str, lines: dict) -> list[ConfigIssue]:
    """Dangling references and settings that only make sense together."""
    out: list[ConfigIssue] = []

    def issue(loc: tuple, msg: str) -> None:
        out.append(ConfigIssue(fname, line_of(lines, loc), ".".join(str(x) for x in loc), msg))

    phones: dict[str, str] = {}
    for pid, person in cfg.people.items():
        if not re.fullmatch(ID_CHARS, pid):
            issue(
                ("people", pid),
                "a person id is made of letters, digits, '.', '-' and '_' (it names the person "
                "in person:ID targets, one-tap links and feed URLs)",
            )
        if person.phone and person.phone in phones:
            issue(
                ("people", pid, "phone"),
                f"the same phone as people.{phones[person.phone]} (an SMS reply is "
                "known by the phone it comes from: each person needs their own)",
            )
        elif person.phone:
            phones[person.phone] = pid
    for rname, rot in cfg.rotations.items():
        if bool(rot.participants) == bool(rot.layers):
            issue(("rotations", rname), "needs participants or layers (one of the two)")
        for i, who in enumerate(rot.participants):
            if who not in cfg.people:
                issue(("rotations", rname, "participants", i), f"unknown person {who!r} (not under people)")
        for li, layer in enumerate(rot.layers):
            for i, who in enumerate(layer.participants):
                if who not in cfg.people:
                    issue(
                        ("rotations", rname, "layers", li, "participants", i),
                        f"unknown person {who!r} (not under people)",
                    )
        if rot.timezone is not None:
            try:
                from zoneinfo import ZoneInfo

                ZoneInfo(rot.timezone)
            except Exception:
                issue(("rotations", rname, "timezone"), f"unknown time zone {rot.timezone!r}")
        if rot.shift.total_seconds() < 3600:
            issue(("rotations", rname, "shift"), "a shift lasts at least 1h")
    if not cfg.server.public_url:
        issue(
            ("server", "public_url"),
            f"required when server.listen ({cfg.server.listen}) is a wildcard address: the base URL others "
            "reach this pagerd at (one-tap links, iCal feeds, Twilio callbacks), e.g. https://pagerd.example.nl",
        )
    src = cfg.sources
    for name in ("alertmanager", "nagios"):
        s = getattr(src, name)
        if s is not None and s.enabled and s.auth.bearer is None and s.auth.basic is None:
            issue(("sources", name, "auth"), "needs bearer or basic credentials")
    if src.alertmanager is None and src.nagios is None and src.events_v2 is None:
        issue(("sources",), "no alert source configured")
    if cfg.mail is not None and cfg.mail.enabled and not cfg.mail.addresses:
        issue(("mail", "addresses"), "at least one support address when the mail listener is enabled")
    if cfg.mail is not None and cfg.mail.outgoing.enabled:
        if not cfg.mail.outgoing.host and not cfg.notifier.smtp.host:
            issue(("mail", "outgoing", "host"), "a mail server for mail to customers: this host, or notifier.smtp.host")
        if cfg.mail.sender is None:
            issue(("mail", "from"), "the sender of mail to customers: mail.from or a support address")
    if cfg.mail is not None and cfg.mail.enabled and _same_port(cfg.mail.listen, cfg.server.listen):
        issue(("mail", "listen"), f"the same port as server.listen ({cfg.server.listen}): each listener needs its own")
    check_secrets(cfg, issue)
    check_channels(cfg, issue)
    _retention(cfg, issue)
    projects = {project_name(c, p) for c, cust in cfg.customers.items() for p in cust.projects}
    for i, route in enumerate(cfg.routes):
        if route.project not in projects:
            issue(
                ("routes", i, "project"),
                f"unknown project {route.project!r} (expected CUSTOMER/PROJECT under customers)",
            )
    if cfg.paging.default_project and cfg.paging.default_project not in projects:
        issue(("paging", "default_project"), f"unknown project {cfg.paging.default_project!r}")
    for c, cust in cfg.customers.items():
        for pname, proj in cust.projects.items():
            if proj.policy != "default" and proj.policy not in cfg.escalation_policies:
                issue(("customers", c, "projects", pname, "policy"), f"unknown escalation policy {proj.policy!r}")
    for pname, pol in cfg.escalation_policies.items():
        for si, step in enumerate(pol.steps):
            for ti, t in enumerate(step.targets):
                kind, _, name = t.partition(":")
                if kind == "rotation" and name not in cfg.rotations:
                    issue(("escalation_policies", pname, "steps", si, "targets", ti), f"unknown rotation {name!r}")
                if kind == "person" and name not in cfg.people:
                    issue(("escalation_policies", pname, "steps", si, "targets", ti), f"unknown person {name!r}")
    _contacts(cfg, issue)
    _hotline(cfg, issue)
    for i, who in enumerate(cfg.desk.people):
        if who not in cfg.people:
            issue(("desk", "people", i), f"unknown person {who!r} (not under people)")
    if cfg.rotations and cfg.customers:
        for key in ("office_rotation", "standby_rotation"):
            name = getattr(cfg.paging, key)
            if name not in cfg.rotations:
                issue(("paging", key), f"unknown rotation {name!r}")
    if not out:
        # the domain's own checks (holiday country, windows, rotations) with the config's lines
        try:
            calendar_from(cfg)
        except ValueError as exc:
            issue(("calendar",), str(exc))
        for rname in cfg.rotations:
            try:
                rotations_from(cfg.model_copy(update={"rotations": {rname: cfg.rotations[rname]}}))
            except ValueError as exc:
                issue(("rotations", rname), str(exc))
    return out


def _same_port(a: str, b: str) -> bool:
    """Whether two HOST:PORT listen addresses would take the same port (a wildcard host takes it on every one)."""
    ha, _, pa = a.rpartition(":")
    hb, _, pb = b.rpartition(":")
    ha, hb = ha.strip("[]"), hb.strip("[]")
    return pa == pb and (ha == hb or ha in WILDCARD_HOSTS or hb in WILDCARD_HOSTS)


def _retention(cfg: Config, issue) -> None:
    """A delivery id must be kept longer than the Events v2 duplicate window, which looks it up."""
    ev2 = cfg.sources.events_v2
    kept = cfg.storage.retention.delivery_ids
    if ev2 is not None and kept <= ev2.duplicate_window:
        issue(
            ("storage", "retention", "delivery_ids"),
            "must be longer than sources.events_v2.duplicate_window (a duplicate is found by its delivery id)",
        )


def _contacts(cfg: Config, issue) -> None:
    """Contacts: phones that parse, ids and addresses each one contact's, mail domains that are no free-mail."""
    from pager.domain.contacts import e164, is_free_mail

    ids: dict[str, str] = {}
    emails: dict[str, str] = {}
    domains: dict[str, str] = {}
    for c, cust in cfg.customers.items():
        for i, contact in enumerate(cust.contacts):
            cid = contact.id or f"{c}.{i + 1}"
            if cid in ids:
                issue(("customers", c, "contacts", i, "id"), f"the same id as {ids[cid]}")
            ids[cid] = f"customers.{c}.contacts.{i}"
            if contact.phone is not None and e164(contact.phone, cfg.calendar.holiday_country) is None:
                issue(("customers", c, "contacts", i, "phone"), f"not a phone number: {contact.phone!r}")
            for j, e in enumerate(contact.emails):
                if e.lower() in emails:
                    issue(("customers", c, "contacts", i, "emails", j), f"the same address as {emails[e.lower()]}")
                emails[e.lower()] = f"customers.{c}.contacts.{i}"
        for j, d in enumerate(cust.email_domains):
            if is_free_mail(d):
                issue(("customers", c, "email_domains", j), f"{d} is a free-mail domain: its senders are anybody's")
            elif d.lower() in domains:
                issue(("customers", c, "email_domains", j), f"{d} is customer {domains[d.lower()]}'s already")
            domains[d.lower()] = c


def _hotline(cfg: Config, issue) -> None:
    """The standby number: the desk's phone parses, each standby_project is one of its customer's projects."""
    from pager.domain.contacts import e164

    if cfg.desk.phone is not None and e164(cfg.desk.phone, cfg.calendar.holiday_country) is None:
        issue(("desk", "phone"), f"not a phone number: {cfg.desk.phone!r}")
    for c, cust in cfg.customers.items():
        if cust.standby_project is not None and cust.standby_project not in cust.projects:
            known = ", ".join(sorted(cust.projects))
            issue(
                ("customers", c, "standby_project"),
                f"unknown project {cust.standby_project!r} of customer {c} (known: {known})",
            )
