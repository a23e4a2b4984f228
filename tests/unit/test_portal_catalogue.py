"""The portal's Dutch catalogue covers every word the pages show: each _("...") of the templates, each
message of pager/web/portal.py's error pages, and the statuses, priorities, roles and entry kinds the pages
translate."""

from __future__ import annotations

import re
from importlib import resources

from pager.domain.portal import Role
from pager.domain.ticket import Priority, Status
from pager.web.i18n import catalogue, translator

TEMPLATES = resources.files("pager.web").joinpath("templates", "portal")
LITERAL = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")


def _template_words() -> set[str]:
    words = set()
    for t in TEMPLATES.iterdir():
        if t.name.endswith(".html"):
            words |= {a or b for a, b in LITERAL.findall(t.read_text())}
    return words


def _error_messages() -> set[str]:
    found: set[str] = set()
    for module in ("portal.py", "portal_accounts.py"):
        source = resources.files("pager.web").joinpath(module).read_text()
        found |= set(re.findall(r"""_error\(\s*request,\s*\d{3},\s*"([^"]+)\"""", source, re.S))
    return found


def test_every_word_of_the_pages_is_in_dutch():
    nl = catalogue("nl")
    words = _template_words() | _error_messages()
    words |= {s.value for s in Status} | {p.value for p in Priority} | {r.value for r in Role}
    words |= {"created", "reply", "note", "Not Found", "Method Not Allowed"}
    assert len(words) > 60
    assert sorted(w for w in words if w not in nl) == []


def test_english_is_the_templates_own_and_unknown_words_pass_through():
    assert translator("en")("Sign in") == "Sign in"
    assert translator("nl")("Sign in") == "Aanmelden"
    assert translator("nl")("a word nobody translated") == "a word nobody translated"


def test_every_status_entry_kind_and_target_reads_as_words_in_both_languages():
    keys = {s.value for s in Status} | {p.value for p in Priority} | {r.value for r in Role}
    keys |= {"target_at_risk", "target_breached", "first_response", "resolution", "escalate_requested"}
    for lang in ("en", "nl"):
        _ = translator(lang)
        assert sorted(k for k in keys if "_" in _(k)) == [], lang
    assert translator("en")("waiting_on_customer") == "waiting on customer"
    assert translator("nl")("waiting_on_customer") == "wacht op klant"
    assert translator("en")("Sign in") == "Sign in"  # the templates' own words pass through
