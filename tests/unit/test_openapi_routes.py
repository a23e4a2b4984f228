"""pager/web/openapi.yaml and the route table of the application agree, both ways: every route the
application serves is described (method and path), every described operation is served, and the
operations marked test-clock-only exist exactly on a daemon running on the manual clock."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from pager.app import make_clock
from pager.config import load
from pager.observe.metrics import Metrics
from pager.service.schedule import Schedule
from pager.web.app import build_app
from pager.web.keys import Runtime

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "testdata" / "configs" / "good"
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def _spec() -> dict:
    return yaml.safe_load(resources.files("pager.web").joinpath("openapi.yaml").read_text())


def _described(spec: dict, *, test_clock: bool) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS and (test_clock or not op.get("x-pagerd-test-clock-only"))
    }


def _served(config: Path, env: dict[str, str]) -> set[tuple[str, str]]:
    cfg = load(config, env=env)
    rt = Runtime(
        config=cfg,
        config_path=str(config),
        store=None,
        metrics=Metrics(),  # type: ignore[arg-type]
        clock=make_clock(cfg),
        schedule=Schedule(cfg),
        ready=True,
        engine=None,
    )
    app = build_app(rt)
    # aiohttp answers HEAD on every GET route by itself; the contract lists the GETs
    return {(route.method, route.resource.canonical) for route in app.router.routes() if route.method != "HEAD"}


@pytest.mark.parametrize(
    "config, env, test_clock",
    [
        (CONFIGS / "minimal.yaml", {}, False),
        (CONFIGS / "testing_clock.yaml", {"PAGERD_ALLOW_TEST_CLOCK": "1"}, True),
    ],
    ids=["system-clock", "manual-clock"],
)
def test_the_route_table_and_the_contract_agree_both_ways(config, env, test_clock):
    served, described = _served(config, env), _described(_spec(), test_clock=test_clock)
    assert served - described == set(), "routes served but not described in pager/web/openapi.yaml"
    assert described - served == set(), "operations described in pager/web/openapi.yaml but not served"


def test_the_contract_marks_exactly_the_test_clock_routes():
    spec = _spec()
    only = _described(spec, test_clock=True) - _described(spec, test_clock=False)
    assert only == {("GET", "/api/v1/testing/clock"), ("POST", "/api/v1/testing/clock")}


def test_every_operation_has_an_id_security_and_documented_answers():
    spec = _spec()
    assert spec["openapi"].startswith("3.")
    ids = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            ids.append(op.get("operationId"))
            assert op.get("operationId"), where
            assert "security" in op, f"{where}: say its credentials (security: [] when public)"
            assert op.get("responses"), where
            for scheme in (name for req in op["security"] for name in req):
                assert scheme in spec["components"]["securitySchemes"], (where, scheme)
            if op["security"]:
                assert "401" in op["responses"] or "403" in op["responses"], f"{where}: refused credentials"
    assert len(ids) == len(set(ids)), "operationIds are unique"
