"""The project `<option>`s of the desk's pages (pager.web.portal_desk._project_options): every project of
the config once, in order, escaped, the chosen one (and only it) selected; made again for a new config."""

from __future__ import annotations

import re
from types import SimpleNamespace

from pager.config import load
from pager.service import desk
from pager.web.portal_desk import _project_options
from tests.unit.test_config import EXAMPLE, EXAMPLE_ENV

CFG = load(EXAMPLE, env=EXAMPLE_ENV)
OPTION = re.compile(r'<option value="([^"]*)"( selected)?>([^<]*)</option>')


def _options(cfg, selected):  # type: ignore[no-untyped-def]
    return OPTION.findall(str(_project_options(SimpleNamespace(config=cfg), selected)))


def test_every_project_once_in_order_and_only_the_chosen_one_selected() -> None:
    projects = sorted(desk.projects(CFG))
    assert [(v, s, t) for v, s, t in _options(CFG, None)] == [(p, "", p) for p in projects]
    for chosen in projects:
        got = _options(CFG, chosen)
        assert [v for v, s, _ in got if s] == [chosen]
        assert [v for v, _, _ in got] == projects
    for nothing in ("none", "", "nobody/nothing", '"><script>'):
        assert not any(s for _, s, _ in _options(CFG, nothing))


def test_names_are_escaped_and_a_new_config_is_seen() -> None:
    hostile = 'b"<i>&'
    customers = dict(CFG.customers)
    acme = customers["acme"]
    projects = {**acme.projects, hostile: next(iter(acme.projects.values()))}
    customers["acme"] = acme.model_copy(update={"projects": projects})  # not validated: the escaping is tested
    other = CFG.model_copy(update={"customers": customers})
    html = str(_project_options(SimpleNamespace(config=other), f"acme/{hostile}"))
    assert "<i>" not in html and 'value="acme/b&#34;&lt;i&gt;&amp;" selected>acme/b&#34;&lt;i&gt;&amp;</option>' in html
    assert f"acme/{hostile}" not in str(_project_options(SimpleNamespace(config=CFG), None))  # the old one again
