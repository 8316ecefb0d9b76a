"""The audit log and the compliance report pass axe-core's WCAG 2.0/2.1 A and AA rules: the
log plain, filtered, with a refused filter and with the chain checked, for an auditor and CED;
the compliance report with its totals and its pager (and its second page, and a rule filter),
for an auditor and a requester; and the refusal a requester gets at the audit log.

The module has a server of its own, given sixty more AGR accounts (none with its password on
file) so that the log and the report both run to more than a page.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.browser.conftest import MISSING, Registry

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Page, expect

from registry.services import accounts
from registry.services.actors import actor_by_email
from tests.browser.test_accessibility import (
    Visitors,
    _heading,
    _open,
    describe,
    violations,
    visitors,  # noqa: F401 (the fixture, shared with the main accessibility module)
)
from tests.factories import CAST

MORE = 60  # accounts added: past a page (CONSOLE_PAGE) of findings and of events


@pytest.fixture(scope="module")
def filled(shared_registry: Registry) -> Registry:
    rows = "platform,handle,url,category,department,login_email,purpose,holders\n" + "".join(
        f"facebook,MBAxe{n},https://www.facebook.com/MBAxe{n},official,AGR,"
        f"mb.axe{n}@gov.mb.ca,Program news,{CAST['ced1'][0]};{CAST['agr_staff'][0]}\n"
        for n in range(MORE)
    )
    db = shared_registry.db
    with db.scope() as session:
        actor = actor_by_email(session, db.settings(), CAST["ced1"][0])
        accounts.import_accounts(session, settings=db.settings(), actor=actor, data=rows.encode())
    return shared_registry


def audit_log(page: Page, registry: Registry) -> None:
    _open(page, "/console/audit")
    _heading(page, "Audit log")
    expect(page.get_by_role("button", name="Check the chain")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages of events")).to_be_visible()


def audit_filtered(page: Page, registry: Registry) -> None:
    audit_log(page, registry)
    page.get_by_label("Action").select_option("account.imported")
    page.get_by_label("Who (e-mail)").fill(registry.email("ced1"))
    page.get_by_label("From (date, UTC)").fill("2020-01-01")
    page.get_by_role("button", name="Filter the log").click()
    expect(page.get_by_role("link", name="Show every event (clear the filters)")).to_be_visible()
    expect(page.get_by_role("cell", name="account.imported").first).to_be_visible()


def audit_bad_filter(page: Page, registry: Registry) -> None:
    _open(page, "/console/audit?account=abc", status=422)
    expect(page.get_by_role("alert")).to_contain_text("Account must be an account number")


def audit_verified(page: Page, registry: Registry) -> None:
    audit_log(page, registry)
    page.get_by_role("button", name="Check the chain").click()
    expect(page.get_by_role("status")).to_contain_text("The chain is intact")


def audit_refused(page: Page, registry: Registry) -> None:
    _open(page, "/console/audit", status=403)
    expect(page.get_by_role("alert")).to_contain_text("may not read the audit log")


def compliance_report(page: Page, registry: Registry) -> None:
    _open(page, "/console/compliance")
    _heading(page, "Compliance report")
    expect(page.get_by_role("heading", name="Totals per department")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages of findings")).to_be_visible()


def compliance_next_page(page: Page, registry: Registry) -> None:
    compliance_report(page, registry)
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_role("link", name="Previous page")).to_be_visible()


def compliance_by_rule(page: Page, registry: Registry) -> None:
    compliance_report(page, registry)
    page.get_by_label("Rule").select_option("5")
    page.get_by_role("button", name="Show the findings").click()
    expect(page.get_by_role("columnheader", name="Rule 5")).to_be_visible()


Visit = Callable[[Page, Registry], None]
AUDIT: list[Visit] = [audit_log, audit_filtered, audit_bad_filter, audit_verified]
COMPLIANCE: list[Visit] = [compliance_report, compliance_next_page, compliance_by_rule]
VISITS: dict[str, list[Visit]] = {
    "auditor": [*AUDIT, *COMPLIANCE],
    "ced": AUDIT,
    "requester": [*COMPLIANCE, audit_refused],
}
CASES = [(role, visit) for role, visits in VISITS.items() for visit in visits]


@pytest.mark.parametrize(
    ("role", "visit"), CASES, ids=[f"{role}-{visit.__name__}" for role, visit in CASES]
)
def test_page_passes_axe(
    visitors: Visitors,  # noqa: F811 (the imported fixture)
    filled: Registry,
    role: str,
    visit: Visit,
) -> None:
    page = visitors.page(role)
    visit(page, filled)
    found = violations(page)
    assert not found, f"axe-core violations on {page.url}:\n{describe(found)}"
