"""The administration and token pages pass axe-core's WCAG 2.0/2.1 A and AA rules: people,
a person, departments and tokens for the administrator (a refused form and the page showing a
new token included), "My tokens" for a requester, and the refusal a requester gets.

The module has a server of its own: the forms submitted here are refused, except the token
created for the administrator, which changes no other page checked.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.browser.conftest import MISSING, Registry

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.browser.test_accessibility import (
    Visitors,
    _heading,
    _open,
    describe,
    violations,
    visitors,  # noqa: F401 (the fixture, shared with the main accessibility module)
)


def people(page: Page, registry: Registry) -> None:
    _open(page, "/console/people")
    _heading(page, "People")
    expect(page.get_by_role("link", name=registry.email("agr_requester"))).to_be_visible()


def people_refused(page: Page, registry: Registry) -> None:
    people(page, registry)
    page.get_by_label("E-mail", exact=True).fill("new.person@gov.mb.ca.evil.io")
    page.get_by_label("Name", exact=True).fill("New Person")
    page.get_by_role("button", name="Add the person").click()
    expect(page.get_by_role("alert")).to_contain_text("nobody was added")
    expect(page.get_by_label("E-mail", exact=True)).to_have_value("new.person@gov.mb.ca.evil.io")


def person(page: Page, registry: Registry) -> None:
    _open(page, f"/console/people/{registry.email('agr_requester')}")
    expect(page.get_by_role("group", name="Roles")).to_be_visible()


def person_refused(page: Page, registry: Registry) -> None:
    person(page, registry)
    page.get_by_role("checkbox", name="ced", exact=True).check()
    page.get_by_role("button", name="Save the roles and department").click()
    expect(page.get_by_role("alert")).to_contain_text("ced role is for CED staff")


def departments(page: Page, registry: Registry) -> None:
    _open(page, "/console/departments")
    _heading(page, "Departments")


def departments_refused(page: Page, registry: Registry) -> None:
    departments(page, registry)
    page.get_by_label("Code", exact=True).fill("AGR")
    page.get_by_label("Name", exact=True).fill("Agriculture again")
    page.get_by_role("button", name="Add the department").click()
    expect(page.get_by_role("alert")).to_contain_text("already exists")


def tokens(page: Page, registry: Registry) -> None:
    _open(page, "/console/tokens")
    _heading(page, "My tokens")


def everyones_tokens(page: Page, registry: Registry) -> None:
    _open(page, "/console/tokens/all")
    _heading(page, "Everyone's tokens")


def tokens_refused(page: Page, registry: Registry) -> None:
    tokens(page, registry)
    page.get_by_label("Days it lasts").fill("0")
    page.get_by_role("button", name="Create the token").click()
    expect(page.get_by_role("alert")).to_contain_text("no token was created")


def token_created(page: Page, registry: Registry) -> None:
    tokens(page, registry)
    page.get_by_role("button", name="Create the token").click()
    _heading(page, "New API token")
    expect(page.locator("#new-token")).to_contain_text("smr_")


def people_forbidden(page: Page, registry: Registry) -> None:
    _open(page, "/console/people", status=403)
    expect(page.get_by_role("alert")).to_contain_text("may not manage people")


Visit = Callable[[Page, Registry], None]
VISITS: dict[str, list[Visit]] = {
    "administrator": [
        people,
        people_refused,
        person,
        person_refused,
        departments,
        departments_refused,
        tokens,
        everyones_tokens,
        tokens_refused,
        token_created,
    ],
    "requester": [tokens, people_forbidden],
}
CASES = [(role, visit) for role, visits in VISITS.items() for visit in visits]


@pytest.mark.parametrize(
    ("role", "visit"), CASES, ids=[f"{role}-{visit.__name__}" for role, visit in CASES]
)
def test_page_passes_axe(
    visitors: Visitors,  # noqa: F811 (the imported fixture)
    shared_registry: Registry,
    role: str,
    visit: Visit,
) -> None:
    page = visitors.page(role)
    visit(page, shared_registry)
    found = violations(page)
    assert not found, f"axe-core violations on {page.url}:\n{describe(found)}"
