"""Every console page, for every role, passes axe-core's WCAG 2.0/2.1 A and AA rules; the new
request form can be used with the keyboard alone.

One server and one browser context per person serve the whole module: the pages are only
looked at, and what is submitted is refused (a refused reveal keeps its audit event, which
changes no page another test checks).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser.conftest import MISSING, People, Registry

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE = Axe()
MISSING_ACCOUNT = 999_999

# The roles of tests/factories.py's CAST the console serves, by the CAST key of one person
# (None: not signed in). "holder" holds the ManitobaAg account without being CED.
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "requester": "agr_requester",
    "department_approver": "agr_approver",
    "ced": "ced1",
    "administrator": "fin_admin",
    "auditor": "auditor",
    "holder": "agr_staff",
}


def _open(page: Page, path: str, status: int = 200) -> None:
    response = page.goto(path)
    assert response is not None and response.status == status, (path, response)


def _heading(page: Page, text: str | re.Pattern[str]) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def directory(page: Page, registry: Registry) -> None:
    _open(page, "/directory")
    expect(page.get_by_role("cell", name="Manitoba Agriculture")).to_be_visible()


def directory_official(page: Page, registry: Registry) -> None:
    _open(page, "/directory?check=https%3A%2F%2Fwww.facebook.com%2FManitobaAg")
    expect(page.get_by_role("status")).to_contain_text("official")


def directory_not_official(page: Page, registry: Registry) -> None:
    _open(page, "/directory?check=https%3A%2F%2Fwww.facebook.com%2FNotManitoba")
    expect(page.get_by_role("status")).to_be_visible()


def directory_no_result(page: Page, registry: Registry) -> None:
    _open(page, "/directory?q=no-such-account-anywhere")
    expect(page.get_by_text("No official accounts match.")).to_be_visible()


def login(page: Page, registry: Registry) -> None:
    _open(page, "/login")
    _heading(page, "CED console sign-in")


def login_refused(page: Page, registry: Registry) -> None:
    login(page, registry)
    page.get_by_label("API token").fill("smr_not-a-real-token")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The API token is missing")


def method_not_allowed(page: Page, registry: Registry) -> None:
    _open(page, "/logout", status=405)
    _heading(page, "That did not work")


def console(page: Page, registry: Registry) -> None:
    _open(page, "/console")
    _heading(page, "Home")


def new_request(page: Page, registry: Registry) -> None:
    _open(page, "/console/requests/new")
    expect(page.get_by_role("button", name="Submit the request")).to_be_visible()


def new_request_refused(page: Page, registry: Registry) -> None:
    new_request(page, registry)
    page.get_by_label("Profile link").fill("https://www.facebook.com/MBFarmSafety")
    page.get_by_label("Login e-mail").fill("rita.farm@gmail.com")
    page.get_by_label("Purpose").fill("Farm safety reminders for producers")
    page.get_by_label("Holders").fill(registry.email("agr_staff"))
    page.get_by_role("button", name="Submit the request").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was submitted")


def request(page: Page, registry: Registry) -> None:
    _open(page, f"/console/requests/{registry.request_id}")
    _heading(page, f"Request {registry.request_id}")


def accounts(page: Page, registry: Registry) -> None:
    _open(page, "/console/accounts")
    _heading(page, "Accounts")


def account(page: Page, registry: Registry) -> None:
    _open(page, f"/console/accounts/{registry.ag_account}")
    _heading(page, "facebook @ManitobaAg")


def account_refused_reveal(page: Page, registry: Registry) -> None:
    account(page, registry)
    page.get_by_label("Reason (required; kept in the audit log)").fill(" ")
    page.get_by_role("button", name="Reveal").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#revealed-value")).to_have_count(0)


def missing_account(page: Page, registry: Registry) -> None:
    _open(page, f"/console/accounts/{MISSING_ACCOUNT}", status=404)
    expect(page.get_by_role("alert")).to_be_visible()


def compliance(page: Page, registry: Registry) -> None:
    _open(page, "/console/compliance")
    _heading(page, "Compliance report")


def handover(page: Page, registry: Registry) -> None:
    _open(page, "/console/handover")
    expect(page.get_by_role("button", name="Preview the handover")).to_be_visible()


def handover_preview(page: Page, registry: Registry) -> None:
    handover(page, registry)
    page.get_by_label("E-mail of the person leaving government").fill(registry.email("agr_staff"))
    page.get_by_label("E-mail of the successor").fill(registry.email("agr_requester"))
    page.get_by_role("button", name="Preview the handover").click()
    expect(page.get_by_role("heading", name="Preview: nothing has changed yet")).to_be_visible()


def handover_refused(page: Page, registry: Registry) -> None:
    _open(page, "/console/handover", status=403)
    expect(page.get_by_role("alert")).to_be_visible()


Visit = Callable[[Page, Registry], None]
PUBLIC: list[Visit] = [directory, directory_official, directory_not_official, directory_no_result]
SIGNED_IN: list[Visit] = [
    *PUBLIC,
    console,
    new_request,
    new_request_refused,
    request,
    accounts,
    account,
    missing_account,
    compliance,
]
RUNNER: list[Visit] = [*SIGNED_IN, handover, handover_preview]
NOT_RUNNER: list[Visit] = [*SIGNED_IN, handover_refused]
# What each role is shown: every page it can reach, and a refusal where it cannot.
VISITS: dict[str, list[Visit]] = {
    "anonymous": [*PUBLIC, login, login_refused, method_not_allowed],
    "requester": NOT_RUNNER,
    "department_approver": NOT_RUNNER,
    "ced": [*RUNNER, account_refused_reveal],
    "administrator": RUNNER,
    "auditor": NOT_RUNNER,
    "holder": [account, account_refused_reveal],
}
CASES = [(role, visit) for role, visits in VISITS.items() for visit in visits]


@dataclass
class Visitors:
    """One signed-in page per role, opened when first needed and kept for the module."""

    people: People
    pages: dict[str, Page]

    def page(self, role: str) -> Page:
        if role not in self.pages:
            who = ROLES[role]
            self.pages[role] = (
                self.people.anonymous() if who is None else self.people.signed_in(who)
            )
        return self.pages[role]


@pytest.fixture(scope="module")
def visitors(browser: Browser, shared_registry: Registry) -> Iterator[Visitors]:
    people = People(browser=browser, registry=shared_registry)
    try:
        yield Visitors(people=people, pages={})
    finally:
        people.close()


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of the WCAG 2.0/2.1 A and AA rules on the page as it is now."""
    results = AXE.run(
        page,
        options={
            "runOnly": {"type": "tag", "values": WCAG_TAGS},
            "resultTypes": ["violations"],
        },
    )
    found: list[dict[str, Any]] = results.response["violations"]
    return found


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"][:3]]
        more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
        lines.append(f"{v['id']} [{v['impact']}] {v['help']}: {targets}{more}")
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("role", "visit"), CASES, ids=[f"{role}-{visit.__name__}" for role, visit in CASES]
)
def test_page_passes_axe(
    visitors: Visitors, shared_registry: Registry, role: str, visit: Visit
) -> None:
    page = visitors.page(role)
    visit(page, shared_registry)
    found = violations(page)
    assert not found, f"axe-core violations on {page.url}:\n{describe(found)}"


def test_french_directory_passes_axe(visitors: Visitors) -> None:
    """The directory and a check in French (``<html lang="fr">``), in a context of its own: the
    toggle's cookie would make the other visits' pages French."""
    page = visitors.people.anonymous()
    _open(page, "/directory?lang=fr&check=https%3A%2F%2Fwww.facebook.com%2FManitobaAg")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    _heading(page, "Comptes officiels du gouvernement dans les médias sociaux")
    expect(page.get_by_role("status")).to_contain_text("est un compte officiel du gouvernement")
    expect(page.get_by_role("link", name="English")).to_have_attribute("hreflang", "en")
    found = violations(page)
    assert not found, f"axe-core violations on {page.url}:\n{describe(found)}"
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Français")).to_have_attribute("lang", "fr")
    _open(page, "/directory?q=no-such-account-anywhere")  # the cookie now says English
    expect(page.get_by_text("No official accounts match.")).to_be_visible()
    _open(page, "/directory?q=no-such-account-anywhere&lang=fr")
    expect(page.get_by_text("Aucun compte officiel ne correspond à la recherche.")).to_be_visible()
    found = violations(page)
    assert not found, f"axe-core violations on {page.url}:\n{describe(found)}"


# A control's id, or its text (the submit button has no id); the same of the focused element.
NAME_OF = "el => el.id || el.innerText"
FOCUSED = f"() => ({NAME_OF})(document.activeElement)"
FOCUS_OUTLINE = "() => getComputedStyle(document.activeElement).outlineStyle"


def test_new_request_form_with_the_keyboard_alone(
    visitors: Visitors, shared_registry: Registry
) -> None:
    page = visitors.page("requester")
    _open(page, "/console/requests/new")

    page.keyboard.press("Tab")  # the first stop on the page is the skip link
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown once focused
    assert page.evaluate(FOCUS_OUTLINE) != "none"

    page.keyboard.press("Enter")  # into main, past the header's links
    expect(page.locator("main")).to_be_focused()

    form = page.locator("form[action='/console/requests/new']")
    placed = []
    for control in form.locator("input:not([type=hidden]), select, textarea, button").all():
        box = control.bounding_box()
        assert box is not None, control
        placed.append((box["y"], box["x"], control.evaluate(NAME_OF)))
    visual = [name for _, _, name in sorted(placed)]
    assert visual[0] == "url" and visual[-1] == "Submit the request" and len(visual) == 12, visual

    reached = []
    for _ in visual:
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUS_OUTLINE) != "none", "the focused control shows no outline"
        reached.append(page.evaluate(FOCUSED))
    assert reached == visual
