"""A project's name: `CUSTOMER/PROJECT`, the customer's id and the project's id under it in the config
(`customers.<id>.projects.<id>`), as routes, tickets, bookings and labels carry it. Made and taken
apart here only."""

from __future__ import annotations


def project_name(customer: str, project: str) -> str:
    """The name of project `project` of customer `customer`."""
    return f"{customer}/{project}"


def split_project(name: str) -> tuple[str, str]:
    """(customer, project) of a project's name; a name without "/" is a customer's alone (project "")."""
    customer, _, project = name.partition("/")
    return customer, project


def is_customer_project(name: str) -> bool:
    """True for a name of the form CUSTOMER/PROJECT (not a bare customer or agency name)."""
    return "/" in name
