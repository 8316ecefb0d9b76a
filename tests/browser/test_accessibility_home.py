"""The home page, the requests list and the CSV import pass axe-core's WCAG 2.0/2.1 A and AA
rules: home for a requester, an executive, CED and a holder (with a review due, one overdue and
a credential to rotate, so that every section has rows); the requests list filtered, for CED
and a requester; the import form and a refused import's line errors for CED; and the refusal a
requester gets at the import.

The module has a server of its own; the only upload is refused, which changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest

from tests.browser.conftest import MISSING, Registry

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Page, expect
from sqlmodel import select

from registry.models import Account, Credential, utcnow
from tests.browser.test_accessibility import (
    Visitors,
    _heading,
    _open,
    describe,
    violations,
    visitors,  # noqa: F401 (the fixture, shared with the main accessibility module)
)

BAD_FILE = (
    b"platform,handle,url,category,department,login_email,purpose,holders\n"
    b"facebook,MBFarms,https://www.facebook.com/MBFarms,official,AGR,farm@gmail.com,News,"
    b"ced.one@gov.mb.ca;sam.staff@agr.gov.mb.ca\n"
    b"facebook,MBCrops,https://www.facebook.com/MBCrops,official,AGR,crops@gov.mb.ca,News,"
    b"sam.staff@agr.gov.mb.ca\n"
)


@pytest.fixture(scope="module")
def due(shared_registry: Registry) -> Registry:
    """The ManitobaAg review due in 10 days, its password marked for rotation; the MBHealth
    review overdue."""
    today = utcnow().date()
    with shared_registry.db.scope() as session:
        for account_id, days in (
            (shared_registry.ag_account, 10),
            (shared_registry.health_account, -3),
        ):
            account = session.get(Account, account_id)
            assert account is not None
            account.next_review_on = today + dt.timedelta(days=days)
            session.add(account)
        [password] = session.exec(
            select(Credential).where(Credential.account_id == shared_registry.ag_account)
        ).all()
        password.rotation_due_at = utcnow()
        password.rotation_reason = "known to lee.left@gov.mb.ca, who left"
        session.add(password)
    return shared_registry


def _sections(page: Page, *names: str) -> None:
    for name in names:
        expect(page.get_by_role("heading", level=2, name=name, exact=True)).to_be_visible()


def home_requester(page: Page, registry: Registry) -> None:
    _open(page, "/console")
    _heading(page, "Home")
    _sections(page, "My requests", "Accounts I hold")
    expect(page.get_by_role("link", name=f"Request {registry.request_id}")).to_be_visible()


def home_executive(page: Page, registry: Registry) -> None:
    _open(page, "/console")
    _sections(page, "Awaiting my decision", "Reviews due", "My requests", "Accounts I hold")
    expect(
        page.get_by_role("button", name=f"Approve request {registry.request_id}")
    ).to_be_visible()
    expect(page.get_by_role("link", name="facebook @ManitobaAg")).to_be_visible()


def home_ced(page: Page, registry: Registry) -> None:
    _open(page, "/console")
    _sections(page, "Awaiting my decision", "Reviews due", "Credentials to rotate")
    expect(page.get_by_text("(overdue)")).to_be_visible()
    expect(page.get_by_text("known to lee.left@gov.mb.ca, who left")).to_be_visible()


def home_holder(page: Page, registry: Registry) -> None:
    _open(page, "/console")
    _sections(page, "Credentials to rotate", "My requests", "Accounts I hold")
    expect(page.get_by_role("heading", name="Reviews due")).to_have_count(0)


def requests_filtered(page: Page, registry: Registry) -> None:
    _open(page, "/console/requests")
    _heading(page, "Requests")
    page.get_by_label("State").select_option("submitted")
    page.get_by_role("button", name="Show the requests").click()
    expect(page).to_have_url(re.compile(r"/console/requests\?state=submitted&"))
    expect(page.get_by_role("link", name=f"Request {registry.request_id}")).to_be_visible()


def requests_by_department(page: Page, registry: Registry) -> None:
    _open(page, "/console/requests?state=submitted&department=HLT")
    expect(page.get_by_label("Department")).to_have_value("HLT")
    expect(page.get_by_text("No request matches.")).to_be_visible()


def import_form(page: Page, registry: Registry) -> None:
    _open(page, "/console/import")
    _heading(page, "Import accounts")
    expect(page.get_by_label("Spreadsheet (CSV)")).to_be_visible()


def import_line_errors(page: Page, registry: Registry) -> None:
    import_form(page, registry)
    page.get_by_label("Spreadsheet (CSV)").set_input_files(
        files=[{"name": "accounts.csv", "mimeType": "text/csv", "buffer": BAD_FILE}]
    )
    page.get_by_role("button", name="Import the accounts").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was imported: 2 rows")
    table = page.get_by_role("table")
    expect(table.get_by_role("cell", name="login_email", exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name="holders", exact=True)).to_be_visible()


def import_refused(page: Page, registry: Registry) -> None:
    _open(page, "/console/import", status=403)
    expect(page.get_by_role("alert")).to_contain_text("may not import accounts")


Visit = Callable[[Page, Registry], None]
VISITS: dict[str, list[Visit]] = {
    "requester": [home_requester, requests_filtered, import_refused],
    "department_approver": [home_executive],
    "ced": [home_ced, requests_filtered, requests_by_department, import_form, import_line_errors],
    "holder": [home_holder],
}
CASES = [(role, visit) for role, visits in VISITS.items() for visit in visits]


@pytest.mark.parametrize(
    ("role", "visit"), CASES, ids=[f"{role}-{visit.__name__}" for role, visit in CASES]
)
def test_page_passes_axe(
    visitors: Visitors,  # noqa: F811 (the imported fixture)
    due: Registry,
    role: str,
    visit: Visit,
) -> None:
    page = visitors.page(role)
    visit(page, due)
    found = violations(page)
    assert not found, f"axe-core violations on {page.url}:\n{describe(found)}"
