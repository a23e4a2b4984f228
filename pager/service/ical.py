"""iCalendar feeds of rotation shifts, behind a per-feed secret token (Google Calendar, Outlook subscribe)."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from icalendar import Calendar as ICal
from icalendar import Event

from pager.config import Config
from pager.service.schedule import parse_utc
from pager.service.signing import ICAL_FEED, Keyring

TOKEN_BYTES = 16  # 32 hex characters


def _message(kind: str, name: str) -> bytes:
    return f"{kind}:{name}".encode("utf-8", "surrogatepass")


def feed_token(keys: Keyring, kind: str, name: str) -> str:
    """The token of one feed under the current signing key (the URLs the API shows)."""
    return keys.sign(ICAL_FEED, _message(kind, name))[:TOKEN_BYTES].hex()


FOLDERS = {"rotation": "rotations", "person": "people"}  # kind -> the folder of its feeds in the URL


def feed_url(keys: Keyring, base: str, kind: str, name: str) -> str:
    """The URL of one feed: `{base}/ical/{rotations|people}/{name}.ics?token=...`. The name is
    percent-encoded, so any name makes a URL the route `/ical/{kind}/{name}.ics` reads back as it was
    (person ids need none: they are letters, digits, '.', '-' and '_', see pager.config.model.ID_CHARS)."""
    return f"{base}/ical/{FOLDERS[kind]}/{quote(name, safe='')}.ics?token={feed_token(keys, kind, name)}"


class UnknownFeed(LookupError):
    """No such person or rotation in the config; the message says which, and where to look."""


def url_for(cfg: Config, kind: str, name: str) -> str:
    """The signed feed URL of a person or a rotation of `cfg`: its `server.public_url`, the feed's
    path and a token signed with `auth.signing_key`. What `pagerd ical-url`, `GET /api/v1/ical-url`
    and `GET /api/v1/rotations` show, and what the daemon's feed route accepts."""
    known = {"person": cfg.people, "rotation": cfg.rotations}[kind]
    if name not in known:
        where = "people" if kind == "person" else "rotations"
        names = ", ".join(sorted(known)[:20]) or "none"
        raise UnknownFeed(f"unknown {kind} {name[:64]!r} (not under {where}; known: {names})")
    return feed_url(Keyring.of(cfg.auth), cfg.server.public_url, kind, name)


def token_ok(keys: Keyring, kind: str, name: str, given: str) -> bool:
    """Whether `given` is this feed's token under the current or a previous signing key."""
    if len(given) != 2 * TOKEN_BYTES:
        return False
    try:
        mac = bytes.fromhex(given)
    except ValueError:
        return False
    if mac.hex() != given:  # tokens are lower-case hex, as issued
        return False
    return keys.verify(ICAL_FEED, _message(kind, name), mac)


def render(title: str, shifts: list[dict], now: datetime) -> bytes:
    cal = ICal()
    cal.add("prodid", "-//pagerd//on-call shifts//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", title)
    cal.add("x-published-ttl", "PT1H")
    for s in shifts:
        ev = Event()
        start = parse_utc(s["start"])
        ev.add("uid", f"{s['rotation']}-{s['person']}-{start.strftime('%Y%m%dT%H%M%SZ')}@pagerd")
        ev.add("summary", f"On call: {s['rotation']} ({s['name']})")
        ev.add("dtstart", start)
        ev.add("dtend", parse_utc(s["end"]))
        ev.add("dtstamp", now.astimezone(timezone.utc))
        ev.add(
            "description",
            f"{s['name']} is on call for rotation {s['rotation']}."
            + (f" Override {s['override_id']}." if s.get("override_id") else ""),
        )
        ev.add("transp", "TRANSPARENT")
        cal.add_component(ev)
    return cal.to_ical()
