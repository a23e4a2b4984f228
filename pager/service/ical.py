"""iCalendar feeds of rotation shifts, behind a per-feed secret token (Google Calendar, Outlook subscribe)."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

from icalendar import Calendar as ICal
from icalendar import Event

from pager.service.schedule import parse_utc


def feed_token(secret: str, kind: str, name: str) -> str:
    """The token of one feed: derived from the admin token, so rotating that rotates every feed URL."""
    return hmac.new(secret.encode(), f"ical:{kind}:{name}".encode(), hashlib.sha256).hexdigest()[:32]


def token_ok(secret: str, kind: str, name: str, given: str) -> bool:
    return hmac.compare_digest(feed_token(secret, kind, name).encode(), given.encode("utf-8", "surrogatepass"))


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
        ev.add("description", f"{s['name']} is on call for rotation {s['rotation']}."
               + (f" Override {s['override_id']}." if s.get("override_id") else ""))
        ev.add("transp", "TRANSPARENT")
        cal.add_component(ev)
    return cal.to_ical()

