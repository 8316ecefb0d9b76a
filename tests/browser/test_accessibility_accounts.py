"""The account page and the accounts list pass axe-core's WCAG 2.0/2.1 A and AA rules with their
forms: the account page for CED (holders, "Store a credential", the current TOTP code, reveal,
review), for an administrator, a holder and a requester; a finding's link to the form that
fixes it; a refused holder removal (rule 3), a refused holder addition and a refused store; a
TOTP code shown; the accounts list a page at a time; and the refusal of an account someone may
not see.

The module has a server of its own. Before the pages are visited, CED adds through the API what
the seeded registry lacks: a TOTP seed on ManitobaAg, and more AGR accounts than one page of the
list holds. What is submitted here is refused, except the TOTP codes shown (audited reads).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.browser.conftest import MISSING, Registry

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

import httpx
from playwright.sync_api import Page, expect

from registry.http.console.paging import CONSOLE_PAGE
from tests.browser.test_accessibility import (
    Visitors,
    _heading,
    _open,
    describe,
    violations,
    visitors,  # noqa: F401 (the fixture, shared with the main accessibility module)
)

SEED = "JBSWY3DPEHPK3PXP"  # a TOTP seed (base32), stored on ManitobaAg by CED
EXTRA_ACCOUNTS = CONSOLE_PAGE + 5  # AGR accounts added so that the list has a second page
HEADER = "platform,handle,url,category,department,login_email,purpose,holders,display_name\n"


@pytest.fixture(scope="module")
def registry(shared_registry: Registry) -> Registry:
    """The module's registry, with what CED adds through the API (once)."""
    ced = {"Authorization": f"Bearer {shared_registry.tokens['ced1']}"}
    holders = f"{Registry.email('ced1')};{Registry.email('agr_staff')}"
    rows = "".join(
        f"x,AgrPage{i:03d},https://x.com/AgrPage{i:03d},official,AGR,agr.pages@gov.mb.ca,"
        f"News,{holders},Page {i}\n"
        for i in range(EXTRA_ACCOUNTS)
    )
    with httpx.Client(base_url=shared_registry.url, trust_env=False, timeout=30) as client:
        seeded = client.put(
            f"/accounts/{shared_registry.ag_account}/credentials/totp_seed",
            json={"value": SEED},
            headers=ced,
        )
        assert seeded.status_code == 200, seeded.text
        imported = client.post(
            "/accounts/import",
            content=HEADER + rows,
            headers={**ced, "Content-Type": "text/csv"},
        )
        assert imported.status_code == 201, imported.text
    return shared_registry


def _account(page: Page, registry: Registry, account_id: int | None = None) -> None:
    _open(page, f"/console/accounts/{account_id or registry.ag_account}")
    _heading(page, "facebook @ManitobaAg" if account_id is None else re.compile(r"@"))


def account_ced(page: Page, registry: Registry) -> None:
    _account(page, registry)
    expect(page.get_by_role("button", name=f"Remove {registry.email('ced1')}")).to_be_visible()
    expect(page.get_by_role("group", name="Add a holder")).to_be_visible()
    expect(page.get_by_role("group", name="Store or rotate a credential")).to_be_visible()
    expect(page.get_by_label("Secret")).to_have_attribute("autocomplete", "off")
    expect(page.get_by_role("button", name="Show the current code")).to_be_visible()
    expect(page.get_by_role("button", name="Record review")).to_be_visible()


def account_admin(page: Page, registry: Registry) -> None:
    _account(page, registry)  # an administrator manages access, stores no credential
    expect(page.get_by_role("group", name="Add a holder")).to_be_visible()
    expect(page.get_by_label("Secret")).to_have_count(0)


def account_holder(page: Page, registry: Registry) -> None:
    _account(page, registry)
    expect(page.get_by_role("group", name="Store or rotate a credential")).to_be_visible()
    expect(page.get_by_role("button", name="Show the current code")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Remove "))).to_have_count(0)


def account_requester(page: Page, registry: Registry) -> None:
    _account(page, registry)
    expect(page.get_by_label("Secret")).to_have_count(0)
    expect(page.get_by_role("button", name="Show the current code")).to_have_count(0)
    expect(page.get_by_role("button", name="Reveal")).to_have_count(0)


def finding_links_to_its_form(page: Page, registry: Registry) -> None:
    """x @MBHealth has one holder, not from CED, and no password: each finding links."""
    _account(page, registry, registry.health_account)
    expect(page.get_by_role("link", name="Store the credential")).to_be_visible()
    page.get_by_role("link", name="Add a holder").first.click()
    expect(page).to_have_url(re.compile(r"#add-holder$"))
    expect(page.get_by_role("group", name="Add a holder")).to_be_in_viewport()


def holder_removal_refused(page: Page, registry: Registry) -> None:
    _account(page, registry)
    page.get_by_role("button", name=f"Remove {registry.email('ced1')}").click()
    expect(page.get_by_role("alert")).to_contain_text("must keep two people with access")
    expect(page).to_have_title(re.compile(r"^Error: "))


def holder_addition_refused(page: Page, registry: Registry) -> None:
    _account(page, registry)
    page.get_by_label("E-mail").fill("nobody.here@gov.mb.ca")
    page.get_by_role("button", name="Add the holder").click()
    expect(page.get_by_role("alert")).to_contain_text("is not a registered person")
    expect(page.get_by_label("E-mail")).to_have_value("nobody.here@gov.mb.ca")
    expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")


def store_refused(page: Page, registry: Registry) -> None:
    _account(page, registry)
    page.get_by_label("Kind").select_option("password")
    page.get_by_role("button", name="Store the credential").click()
    expect(page.get_by_role("alert")).to_have_text("The secret is empty; nothing was stored.")
    expect(page.get_by_label("Secret")).to_have_value("")


def totp_shown(page: Page, registry: Registry) -> None:
    _account(page, registry)
    page.get_by_role("button", name="Show the current code").click()
    shown = page.get_by_role("region", name="Current TOTP code")
    expect(shown.locator("#totp-code")).to_have_text(re.compile(r"^\d{6}$"))
    expect(shown).to_contain_text(re.compile(r"valid for \d+ more second"))


def accounts_paged(page: Page, registry: Registry) -> None:
    _open(page, "/console/accounts?status=active")
    _heading(page, "Accounts")
    expect(page.get_by_role("link", name="Download as CSV")).to_have_attribute(
        "href", "/console/accounts.csv?status=active"
    )
    pages = page.get_by_role("navigation", name="Pages of accounts")
    pages.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"status=active.*cursor=|cursor=.*status=active"))
    expect(page.get_by_role("link", name="Previous page")).to_be_visible()
    expect(page.get_by_label("Status")).to_have_value("active")


def account_not_shown(page: Page, registry: Registry) -> None:
    _open(page, f"/console/accounts/{registry.health_account}", status=404)
    expect(page.get_by_role("alert")).to_contain_text("No account with id")


Visit = Callable[[Page, Registry], None]
VISITS: dict[str, list[Visit]] = {
    "ced": [
        account_ced,
        finding_links_to_its_form,
        holder_removal_refused,
        holder_addition_refused,
        store_refused,
        totp_shown,
        accounts_paged,
    ],
    "administrator": [account_admin, holder_removal_refused],
    "holder": [account_holder, totp_shown, store_refused, accounts_paged],
    "requester": [account_requester, account_not_shown, accounts_paged],
    "auditor": [account_requester],
}
CASES = [(role, visit) for role, visits in VISITS.items() for visit in visits]


@pytest.mark.parametrize(
    ("role", "visit"), CASES, ids=[f"{role}-{visit.__name__}" for role, visit in CASES]
)
def test_page_passes_axe(
    visitors: Visitors,  # noqa: F811 (the imported fixture)
    registry: Registry,
    role: str,
    visit: Visit,
) -> None:
    page = visitors.page(role)
    visit(page, registry)
    found = violations(page)
    assert not found, f"axe-core violations on {page.url}:\n{describe(found)}"
