"""A project's name, made and taken apart in one place (pager.domain.projects)."""

import pytest

from pager.domain.projects import is_customer_project, project_name, split_project


@pytest.mark.parametrize(
    ("name", "parts", "customer_project"),
    [
        ("acme/webshop", ("acme", "webshop"), True),
        ("agency/infra", ("agency", "infra"), True),
        ("acme", ("acme", ""), False),  # a bare customer or agency name
        ("", ("", ""), False),
        ("acme/", ("acme", ""), True),
        ("acme/shop/eu", ("acme", "shop/eu"), True),  # only the first "/" separates
    ],
)
def test_split_project(name: str, parts: tuple[str, str], customer_project: bool) -> None:
    assert split_project(name) == parts
    assert is_customer_project(name) is customer_project


@pytest.mark.parametrize(("customer", "project"), [("acme", "webshop"), ("agency", "infra"), ("a-b", "c_d")])
def test_project_name_round_trip(customer: str, project: str) -> None:
    assert project_name(customer, project) == f"{customer}/{project}"
    assert split_project(project_name(customer, project)) == (customer, project)
