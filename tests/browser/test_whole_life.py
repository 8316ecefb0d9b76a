"""An account's whole life with nothing but the browser: a requester asks, the executive
approves, CED adds a holder and approves, CED stores the password, a holder reveals it, CED
records a review, the requester asks to decommission, both approve, and the public directory no
longer lists it. Each step is a person of the cast in their own browser context; each page is
saved as a screenshot (tests/browser/screenshots/, kept by CI)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import MISSING, People, Registry, Shoot

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Locator, Page, expect

HANDLE = "MBFarmSafety"
PROFILE = f"https://www.facebook.com/{HANDLE}"
CANARY = "Canary-Pass!7f3e9c"  # the password CED stores: shown once to a holder, nowhere else


def _row(page: Page, header: str) -> Locator:
    """The row of a details table whose header cell is ``header``."""
    return page.get_by_role("row", name=re.compile(rf"^{header}\b"))


def _status(page: Page, text: str) -> None:
    expect(page.get_by_role("status")).to_have_text(text)


def _id_in(url: str, what: str) -> int:
    found = re.search(rf"/console/{what}/(\d+)", url)
    assert found is not None, url
    return int(found.group(1))


def _approve(page: Page, request_id: int, *, comment: str, holders: str = "") -> None:
    """Approve from the request page, as its decider."""
    page.goto(f"/console/requests/{request_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {request_id}")
    decide = page.get_by_role("group", name=f"Approve request {request_id}")
    decide.get_by_label("Comment (optional)").fill(comment)
    if holders:
        decide.get_by_label("Add holders (e-mails, separated by commas)").fill(holders)
    decide.get_by_role("button", name=f"Approve request {request_id}").click()


def _not_in_directory(page: Page) -> None:
    page.goto(f"/directory?q={HANDLE}")
    expect(page.get_by_text("No official accounts match.")).to_be_visible()


def test_an_account_from_request_to_decommissioning(
    people: People, registry: Registry, shoot: Shoot
) -> None:
    public = people.anonymous()
    _not_in_directory(public)

    # 1. The requester asks for the account.
    requester = people.signed_in("agr_requester")
    shoot(requester, "requester-home")
    requester.get_by_role("link", name="New account request").click()
    expect(requester.get_by_role("heading", level=1)).to_have_text("New account request")
    requester.get_by_label("Profile link").fill(PROFILE)
    requester.get_by_label("Category").select_option("official")
    requester.get_by_label("Login e-mail").fill("agr.farmsafety@gov.mb.ca")
    requester.get_by_label("Purpose").fill("Farm safety reminders for producers")
    requester.get_by_label("Holders").fill(registry.email("agr_staff"))
    requester.get_by_label("Display name (optional)").fill("Manitoba Farm Safety")
    shoot(requester, "request-form")
    # After a full-page screenshot Chromium may drop the next mouse click: submit by keyboard.
    requester.get_by_role("button", name="Submit the request").press("Enter")
    _status(requester, "Your request is submitted; it now awaits your department's executive.")
    asked = _id_in(requester.url, "requests")
    expect(_row(requester, "Account")).to_contain_text(f"facebook @{HANDLE}")  # from the link
    shoot(requester, "request-submitted")

    # 2. The department's executive approves it.
    executive = people.signed_in("agr_approver")
    expect(executive.get_by_role("link", name=f"Request {asked}")).to_be_visible()
    _approve(executive, asked, comment="Safety matters")
    _status(executive, "The request is approved by the department; it now awaits CED.")

    # 3. CED adds a holder from CED and approves: the account is active.
    ced = people.signed_in("ced1")
    expect(ced.get_by_role("link", name=f"Request {asked}")).to_be_visible()
    shoot(ced, "ced-home")
    _approve(ced, asked, comment="CED holds it too", holders=registry.email("ced2"))
    _status(ced, "The request is approved; the account is active.")
    ced.goto(f"/console/requests/{asked}")
    expect(_row(ced, "State")).to_contain_text("approved")
    ced.get_by_role("link", name=re.compile(r"^account \d+$")).click()
    account = _id_in(ced.url, "accounts")
    expect(ced.get_by_role("heading", level=1)).to_have_text(f"facebook @{HANDLE}")
    expect(_row(ced, "Status")).to_contain_text("active")
    expect(_row(ced, "Holders")).to_contain_text(registry.email("ced2"))
    public.goto(f"/directory?q={HANDLE}")
    expect(public.get_by_role("row", name=re.compile("Manitoba Farm Safety"))).to_be_visible()

    # 4. CED stores the password; it is never shown back.
    store = ced.get_by_role("group", name=re.compile("credential", re.IGNORECASE)).filter(
        has=ced.get_by_label("Secret")
    )
    store.get_by_label("Kind").select_option("password")
    store.get_by_label("Secret").fill(CANARY)
    expect(store.get_by_label("Secret")).to_have_attribute("autocomplete", "off")
    store.get_by_role("button", name=re.compile("^Store")).click()
    expect(ced.get_by_role("status")).to_be_visible()
    assert "/accounts/" in ced.url and CANARY not in ced.url
    assert CANARY not in ced.content()
    expect(ced.get_by_role("row", name=re.compile(r"^password 1\b"))).to_be_visible()
    shoot(ced, "password-stored")

    # 5. A holder reveals it, with a reason.
    holder = people.signed_in("agr_staff")
    holder.goto(f"/console/accounts/{account}")
    holder.get_by_label("Credential", exact=True).select_option("password")
    holder.get_by_label("Reason (required; kept in the audit log)").fill("First post")
    holder.get_by_role("button", name="Reveal").click()
    expect(holder.locator("#revealed-value")).to_have_text(CANARY)
    shoot(holder, "password-revealed")

    # 6. CED records the review.
    ced.goto(f"/console/accounts/{account}")
    ced.get_by_label("Note (optional)").fill("Posting as planned")
    ced.get_by_role("button", name="Record review").click()
    _status(ced, "The review is recorded; the next review date is set.")
    expect(_row(ced, "Next review")).not_to_contain_text("not set")
    assert CANARY not in ced.content()  # nor in the account's audit history
    shoot(ced, "account-page")

    # 7. The requester asks for it to be decommissioned.
    requester.goto(f"/console/accounts/{account}")
    requester.get_by_label("Reason").fill("The campaign has ended")
    requester.get_by_role("button", name="Request decommissioning").click()
    _status(requester, "Your request is submitted; it now awaits your department's executive.")
    ending = _id_in(requester.url, "requests")
    expect(_row(requester, "Kind")).to_contain_text("decommission")

    # 8. Both approve; the account is decommissioned.
    _approve(executive, ending, comment="Agreed")
    _status(executive, "The request is approved by the department; it now awaits CED.")
    _approve(ced, ending, comment="Closed")
    _status(ced, "The request is approved; the account is decommissioned.")
    ced.goto(f"/console/accounts/{account}")
    expect(_row(ced, "Status")).to_contain_text("decommissioned")
    expect(ced.get_by_role("button", name="Record review")).to_have_count(0)
    shoot(ced, "decommissioned")

    # 9. The public directory no longer lists it.
    _not_in_directory(public)
    shoot(public, "directory")
