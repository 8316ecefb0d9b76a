"""The Notifications pages pass axe-core's WCAG 2.0/2.1 A and AA rules: the outbox with its
counts and its pager (and its second page), filtered to the failed messages (long errors
wrapping), with a refused filter, and one message's text, for an administrator and CED; and the
refusal a requester gets.

The module has a server of its own, its outbox given sixty more messages (long subjects, the
oldest five failed with a long error from the relay) so that the list runs to more than a page.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from tests.browser.conftest import MISSING, Registry

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Page, expect

from registry.services import notify
from registry.services.notify import Mail, Recipient
from tests.browser.test_accessibility import (
    Visitors,
    _heading,
    _open,
    describe,
    violations,
    visitors,  # noqa: F401 (the fixture, shared with the main accessibility module)
)

MORE = 60  # messages added: past a page (CONSOLE_PAGE)
FAILED = 5
SCROLLS_SIDEWAYS = "() => (el => el.scrollWidth > el.clientWidth)(document.documentElement)"
ERROR = "550 5.1.1 The recipient's mailbox is unavailable: " + "no-such-mailbox-" * 12


@pytest.fixture(scope="module")
def filled(shared_registry: Registry) -> Registry:
    db = shared_registry.db
    with db.scope() as session:
        notify.queue(
            session,
            settings=db.settings(),
            event="test.note",
            mail=Mail(
                subject="Account review due: Facebook @" + "ManitobaAgricultureNews" * 4,
                paragraphs=["The account's yearly review is due."],
                action=("Review the account", f"/console/accounts/{shared_registry.ag_account}"),
            ),
            to=[
                Recipient(email=f"reader{n}@gov.mb.ca", why="You receive this in a test.")
                for n in range(MORE)
            ],
        )
    with db.engine.begin() as connection:
        oldest = connection.execute(
            text("SELECT id FROM outbox_message ORDER BY id LIMIT :n"), {"n": FAILED}
        ).scalars()
        for number in list(oldest):
            connection.execute(
                text(
                    "UPDATE outbox_message SET status = 'failed', attempts = 8, "
                    "last_error = :error WHERE id = :id"
                ),
                {"error": ERROR, "id": number},
            )
    return shared_registry


def outbox(page: Page, registry: Registry) -> None:
    _open(page, "/console/notifications")
    _heading(page, "Notifications")
    expect(page.get_by_role("table", name="Messages by status")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages of messages")).to_be_visible()


def outbox_next_page(page: Page, registry: Registry) -> None:
    outbox(page, registry)
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_role("link", name="Previous page")).to_be_visible()


def outbox_failed(page: Page, registry: Registry) -> None:
    outbox(page, registry)
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Show the messages").click()
    expect(page.get_by_role("link", name="Show every message (clear the filter)")).to_be_visible()
    expect(page.get_by_role("cell", name=ERROR)).to_have_count(FAILED)
    assert not page.evaluate(SCROLLS_SIDEWAYS), "long values do not wrap"


def outbox_bad_filter(page: Page, registry: Registry) -> None:
    _open(page, "/console/notifications?status=bounced", status=422)
    expect(page.get_by_role("alert")).to_contain_text("Unknown status 'bounced'")


def message(page: Page, registry: Registry) -> None:
    outbox_failed(page, registry)
    page.get_by_role("link", name="Message 1", exact=True).click()
    _heading(page, "Message 1")
    expect(page.get_by_role("heading", name="Text of the message")).to_be_visible()


def outbox_refused(page: Page, registry: Registry) -> None:
    _open(page, "/console/notifications", status=403)
    expect(page.get_by_role("alert")).to_contain_text("may not list the e-mail outbox")


Visit = Callable[[Page, Registry], None]
OPERATOR: list[Visit] = [outbox, outbox_next_page, outbox_failed, outbox_bad_filter, message]
VISITS: dict[str, list[Visit]] = {
    "administrator": OPERATOR,
    "ced": OPERATOR,
    "requester": [outbox_refused],
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
