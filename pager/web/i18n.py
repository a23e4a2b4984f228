"""The portal's words in Dutch and English: English in the templates, Dutch from the gettext catalogue
pager/web/locale/nl/LC_MESSAGES/messages.po; the English words of the stored keys the pages show (a
ticket's status `waiting_on_customer`, ...) from pager/web/locale/en/LC_MESSAGES/messages.po (each read
with babel once; `make` needs no compile step)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

from babel.messages.pofile import read_po

DOMAIN = "messages"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation of `lang` (for English, the templates' own language, only the stored keys')."""
    path = resources.files("pager.web").joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    with path.open("rb") as f:
        cat = read_po(f, locale=lang)
    return {m.id: m.string for m in cat if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def translator(lang: str) -> Callable[[str], str]:
    words = catalogue(lang)
    return lambda text: words.get(text, text)
