"""The console and the public pages in a real browser (the same flows as tests/test_web.py)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func
from sqlmodel import select

from registry.models import AccountRequest
from tests.browser.conftest import MISSING, People, Registry, Shoot, sign_in

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Locator, Page, expect

REFUSED_TOKEN = "The API token is missing, unknown, expired or revoked."


def _request_section(page: Page, request_id: int) -> Locator:
    return page.get_by_role("region", name=re.compile(rf"^Request {request_id}:"))


def _row(page: Page, header: str) -> Locator:
    """The row of a details table whose header cell is ``header``."""
    return page.get_by_role("row", name=re.compile(rf"^{header}\b"))


class TestSignIn:
    def test_sign_in_with_a_token_then_sign_out(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        page = people.anonymous()
        page.goto("/console")
        expect(page).to_have_url(re.compile(r"/login$"))  # the console needs a sign-in
        expect(page.get_by_role("heading", level=1)).to_have_text("CED console sign-in")
        shoot(page, "form")

        page.get_by_label("API token").fill("smr_not-a-real-token")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text(REFUSED_TOKEN)
        expect(page.get_by_label("API token")).to_have_value("")  # the token is not echoed
        shoot(page, "wrong-token")

        page.get_by_label("API token").fill(registry.tokens["ced1"])
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).to_have_url(re.compile(r"/console$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Home")
        sign_out = page.get_by_role("button", name="Sign out ced.one@gov.mb.ca")
        expect(sign_out).to_be_visible()
        [cookie] = [c for c in page.context.cookies() if c["name"] == "registry_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        shoot(page, "signed-in")

        sign_out.click()
        expect(page).to_have_url(re.compile(r"/login\?notice="))
        expect(page.get_by_role("status")).to_have_text("You are signed out.")
        shoot(page, "signed-out")
        page.goto("/console")
        expect(page).to_have_url(re.compile(r"/login$"))

    def test_keyboard_reaches_the_token_field_and_the_button_and_enter_submits(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        page = people.anonymous()
        page.goto("/login")
        token_field = page.get_by_label("API token")
        for _ in range(10):  # skip link, the header links, then the form
            page.keyboard.press("Tab")
            if token_field.evaluate("el => el === document.activeElement"):
                break
        expect(token_field).to_be_focused()
        page.keyboard.type(registry.tokens["agr_approver"])
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_focused()
        shoot(page, "button-focused")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/console$"))
        expect(page.get_by_role("button", name="Sign out dana.deputy@gov.mb.ca")).to_be_visible()
        shoot(page, "signed-in")


class TestRequests:
    def test_two_stage_approval_by_two_people(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        rid = registry.request_id
        # context A: the department approver of AGR
        deputy = people.signed_in("agr_approver")
        section = _request_section(deputy, rid)
        expect(section).to_contain_text("now submitted")
        expect(section.get_by_label("Add holders (e-mails, separated by commas)")).to_have_count(0)
        section.get_by_label("Comment (optional)").fill("Yes, farm news is needed")
        shoot(deputy, "department-form")
        section.get_by_role("button", name=f"Approve request {rid}").click()
        expect(deputy.get_by_role("status")).to_have_text(
            "The request is approved by the department; it now awaits CED."
        )
        expect(deputy.get_by_text("Nothing awaits your decision.")).to_be_visible()
        shoot(deputy, "department-approved")

        # context B: CED, a different person with different cookies
        ced = people.signed_in("ced1")
        section = _request_section(ced, rid)
        expect(section).to_contain_text("now department approved")
        section.get_by_role("button", name=f"Approve request {rid}").click()
        alert = ced.get_by_role("alert")
        expect(alert).to_contain_text(f"Cannot approve request {rid}")
        expect(alert).to_contain_text("one from CED")
        shoot(ced, "refused-without-ced-holder")

        section = _request_section(ced, rid)  # the refusal page lists the request again
        expect(section).to_contain_text("now department approved")
        holders = section.get_by_label("Add holders (e-mails, separated by commas)")
        holders.fill(registry.email("ced2"))
        section.get_by_label("Comment (optional)").fill("Approved with a CED holder")
        holders.press("Enter")
        expect(ced.get_by_role("status")).to_have_text(
            "The request is approved; the account is active."
        )
        shoot(ced, "approved")

        ced.goto(f"/console/requests/{rid}")
        account_id = re.search(r"account (\d+)", _row(ced, "Account").inner_text())
        assert account_id is not None
        expect(_row(ced, "State")).to_contain_text("approved")
        history = ced.get_by_role("list").filter(has_text="Submitted by")
        expect(history.get_by_role("listitem")).to_have_count(3)
        expect(history).to_contain_text(
            "Department approval by dana.deputy@gov.mb.ca on",
        )
        expect(history).to_contain_text("“Yes, farm news is needed”")
        expect(history).to_contain_text("Approved by ced.one@gov.mb.ca on")
        expect(history).to_contain_text("“Approved with a CED holder”")
        expect(_row(ced, "Holders")).to_contain_text(registry.email("ced2"))
        shoot(ced, "request-history")

        ced.get_by_role("link", name=f"account {account_id.group(1)}").click()
        expect(_row(ced, "Status")).to_contain_text("active")
        expect(_row(ced, "Holders")).to_contain_text(registry.email("ced2"))

    def test_a_rejection_needs_a_reason(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        rid = registry.request_id
        page = people.signed_in("agr_approver")
        section = _request_section(page, rid)
        reason = section.get_by_label("Reason (required)")
        reject = section.get_by_role("button", name=f"Reject request {rid}")

        reject.click()  # empty: the browser does not send the form
        assert reason.evaluate("el => el.validity.valueMissing")
        expect(page).to_have_url(re.compile(r"/console$"))
        expect(section).to_contain_text("now submitted")

        reason.fill("   ")  # blank: the browser sends it, the server refuses it
        reject.click()
        expect(page.get_by_role("alert")).to_have_text("Reason must not be blank.")
        expect(_request_section(page, rid)).to_contain_text("now submitted")
        shoot(page, "blank-reason-refused")

        section = _request_section(page, rid)
        section.get_by_label("Reason (required)").fill("Duplicate of the Facebook page")
        section.get_by_role("button", name=f"Reject request {rid}").click()
        expect(page.get_by_role("status")).to_have_text("The request is rejected.")
        expect(page.get_by_text("Nothing awaits your decision.")).to_be_visible()

        page.goto(f"/console/requests/{rid}")
        expect(_row(page, "State")).to_contain_text("rejected")
        expect(page.get_by_role("listitem").filter(has_text="Rejected by")).to_contain_text(
            "Rejected by dana.deputy@gov.mb.ca on"
        )
        expect(page.get_by_text("“Duplicate of the Facebook page”")).to_be_visible()
        shoot(page, "request-rejected")


def _requests_stored(registry: Registry) -> int:
    with registry.db.scope() as session:
        return session.exec(select(func.count()).select_from(AccountRequest)).one()


def _fill_request(page: Page, registry: Registry, *, login_email: str) -> None:
    """Everything but the platform and handle, which the profile link names."""
    page.get_by_label("Profile link").fill("https://www.facebook.com/MBFarmSafety")
    page.get_by_label("Login e-mail").fill(login_email)
    page.get_by_label("Purpose").fill("Farm safety reminders for producers")
    page.get_by_label("Holders").fill(registry.email("agr_staff"))


class TestAskingForAnAccount:
    def test_a_requester_asks_for_an_account_and_finds_it_among_their_requests(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        page = people.signed_in("agr_requester")
        page.keyboard.press("Tab")  # the first stop is the skip link, shown when focused
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        page.get_by_role("link", name="New account request").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("New account request")
        expect(page.get_by_label("Department")).to_have_value("AGR")
        expect(
            page.get_by_text(re.compile("should be associated with a government email"))
        ).to_be_visible()
        shoot(page, "empty-form")

        _fill_request(page, registry, login_email="agr.safety@gov.mb.ca")
        page.get_by_label("Platform", exact=True).select_option("facebook")
        page.get_by_label("Handle").fill("MBFarmSafety")
        page.get_by_label("Category").select_option("employment_related")
        page.get_by_label("Display name (optional)").fill("Manitoba Farm Safety")
        page.get_by_role("button", name="Submit the request").click()
        expect(page).to_have_url(re.compile(r"/console/requests/\d+\?notice=request_submitted$"))
        expect(page.get_by_role("status")).to_have_text(
            "Your request is submitted; it now awaits your department's executive."
        )
        expect(_row(page, "State")).to_contain_text("submitted")
        expect(_row(page, "Account")).to_contain_text("facebook @MBFarmSafety")
        expect(_row(page, "Holders")).to_contain_text(registry.email("agr_staff"))
        rid = int(re.findall(r"/console/requests/(\d+)", page.url)[0])
        shoot(page, "request-page")

        page.get_by_role("link", name="Home", exact=True).click()
        mine = page.get_by_role("region", name="My requests")
        row = mine.get_by_role("row", name=re.compile(rf"^Request {rid} "))
        expect(row).to_contain_text("facebook @MBFarmSafety")
        expect(row).to_contain_text("submitted")
        expect(
            mine.get_by_role("row", name=re.compile(rf"^Request {registry.request_id} "))
        ).to_contain_text("x @mbag")
        shoot(page, "my-requests")
        row.get_by_role("link", name=f"Request {rid}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {rid}")

    def test_a_refused_form_keeps_what_was_typed_and_creates_nothing(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        before = _requests_stored(registry)
        page = people.signed_in("agr_requester")
        page.goto("/console/requests/new")
        _fill_request(page, registry, login_email="rita.farm@gmail.com")
        page.get_by_label("Display name (optional)").fill("Farm <Safety>")
        page.get_by_role("button", name="Submit the request").click()

        expect(page).to_have_title(re.compile(r"^Error: New account request"))
        summary = page.get_by_role("alert")
        expect(summary.get_by_role("heading")).to_have_text(
            "There is a problem; nothing was submitted"
        )
        link = summary.get_by_role("link", name=re.compile(r"^Login e-mail rita.farm@gmail.com"))
        expect(link).to_have_attribute("href", "#login_email")
        login = page.get_by_label("Login e-mail")
        expect(login).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#login_email-error")).to_contain_text(
            "is not on an approved government domain"
        )
        expect(page.locator(".field-error")).to_have_count(1)
        # what was typed is kept, the personal address included, to correct it
        expect(login).to_have_value("rita.farm@gmail.com")
        expect(page.get_by_label("Profile link")).to_have_value(
            "https://www.facebook.com/MBFarmSafety"
        )
        expect(page.get_by_label("Purpose")).to_have_value("Farm safety reminders for producers")
        expect(page.get_by_label("Holders")).to_have_value(registry.email("agr_staff"))
        expect(page.get_by_label("Display name (optional)")).to_have_value("Farm <Safety>")
        shoot(page, "refused")
        link.click()
        expect(login).to_be_focused()
        assert _requests_stored(registry) == before

    def test_only_a_profile_link_names_the_platform_and_handle(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        page = people.signed_in("agr_requester")
        page.goto("/console/requests/new")
        _fill_request(page, registry, login_email="agr.safety@gov.mb.ca")
        expect(page.get_by_label("Platform", exact=True)).to_have_value("")
        expect(page.get_by_label("Handle")).to_have_value("")
        page.get_by_role("button", name="Submit the request").click()
        expect(page.get_by_role("status")).to_contain_text("Your request is submitted")
        expect(_row(page, "Account")).to_have_text(re.compile(r"facebook @MBFarmSafety$"))
        shoot(page, "filled-from-link")

    def test_the_requester_withdraws_from_the_request_page(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        rid = registry.request_id
        page = people.signed_in("agr_requester")
        page.goto(f"/console/requests/{rid}")
        expect(page.get_by_role("button", name=f"Approve request {rid}")).to_have_count(0)
        page.get_by_role("button", name=f"Withdraw request {rid}").click()
        expect(page.get_by_role("status")).to_have_text("The request is withdrawn.")
        expect(_row(page, "State")).to_contain_text("withdrawn")
        expect(page.get_by_role("button", name=f"Withdraw request {rid}")).to_have_count(0)
        shoot(page, "withdrawn")

        deputy = people.signed_in("agr_approver")  # nothing left to decide
        expect(deputy.get_by_text("Nothing awaits your decision.")).to_be_visible()

    def test_an_executive_approves_from_the_request_page(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        rid = registry.request_id
        deputy = people.signed_in("agr_approver")
        deputy.goto(f"/console/requests/{rid}")
        expect(deputy.get_by_role("button", name=f"Withdraw request {rid}")).to_have_count(0)
        expect(deputy.get_by_label("Add holders (e-mails, separated by commas)")).to_have_count(0)
        deputy.get_by_label("Comment (optional)").fill("Approved for the department")
        shoot(deputy, "decision-forms")
        deputy.get_by_role("button", name=f"Approve request {rid}").click()
        expect(deputy.get_by_role("status")).to_have_text(
            "The request is approved by the department; it now awaits CED."
        )
        deputy.goto(f"/console/requests/{rid}")
        expect(_row(deputy, "State")).to_contain_text("department approved")
        expect(deputy.get_by_role("button", name=f"Approve request {rid}")).to_have_count(0)
        expect(deputy.get_by_text("“Approved for the department”")).to_be_visible()

        ced = people.signed_in("ced1")  # the CED stage: holders may be added here
        ced.goto(f"/console/requests/{rid}")
        expect(ced.get_by_label("Add holders (e-mails, separated by commas)")).to_be_visible()
        expect(ced.get_by_role("button", name=f"Reject request {rid}")).to_be_visible()
        shoot(ced, "ced-stage")


class TestAccounts:
    def test_a_holder_reveals_the_password_once(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        page = people.signed_in("agr_staff")
        account_url = f"/console/accounts/{registry.ag_account}"
        page.goto(account_url)
        expect(page.get_by_role("heading", level=1)).to_have_text("facebook @ManitobaAg")
        assert registry.password not in page.content()
        shoot(page, "account")

        reason = page.get_by_label("Reason (required; kept in the audit log)")
        reason.fill(" ")
        page.get_by_role("button", name="Reveal").click()
        expect(page.get_by_role("alert")).to_have_text(
            "A reason is required to reveal a credential."
        )
        assert registry.password not in page.content()

        page.get_by_label("Credential", exact=True).select_option("password")
        page.get_by_label("Reason (required; kept in the audit log)").fill("Weekly post")
        with page.expect_response(
            lambda r: r.url.endswith("/reveal") and r.request.method == "POST"
        ) as answer:
            page.get_by_role("button", name="Reveal").click()
        response = answer.value
        assert response.status == 200
        assert response.all_headers()["cache-control"] == "no-store"
        revealed = page.get_by_role("region", name="password (version 1)")
        expect(revealed).to_contain_text("Shown once")
        expect(revealed.locator("#revealed-value")).to_have_text(registry.password)
        shoot(page, "revealed")

        page.goto(account_url)  # a fresh GET of the account page
        expect(page.get_by_role("heading", level=1)).to_have_text("facebook @ManitobaAg")
        expect(page.get_by_role("region", name="password (version 1)")).to_have_count(0)
        assert registry.password not in page.content()
        shoot(page, "after-reload")

    def test_the_compliance_page_shows_findings_and_totals(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        page = people.signed_in("ced1")
        page.get_by_role("link", name="Compliance").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Compliance report")
        totals = page.locator("table").filter(has=page.get_by_role("columnheader", name="High"))
        expect(totals.get_by_role("row", name=re.compile(r"^AGR "))).to_have_text(
            re.compile(r"AGR\s*1\s*0\s*0\s*0")
        )
        expect(totals.get_by_role("row", name=re.compile(r"^HLT "))).to_have_text(
            re.compile(r"HLT\s*1\s*3\s*3\s*0")
        )
        expect(page.get_by_role("heading", name="Findings (3)")).to_be_visible()
        findings = page.locator("table").filter(
            has=page.get_by_role("columnheader", name="What to do")
        )
        rows = findings.locator("tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.filter(has_text="x @MBHealth")).to_have_count(3)
        expect(findings).to_contain_text("Only 1 active holder(s)")
        expect(findings).to_contain_text("No holder from CED")
        expect(findings).to_contain_text("No current login password on file with CED")
        expect(findings).not_to_contain_text("ManitobaAg")
        shoot(page, "report")

        findings.get_by_role("link", name="x @MBHealth").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("x @MBHealth")
        expect(_row(page, "Compliance")).to_contain_text("rule 3")
        expect(page.get_by_text("No credentials on file.")).to_be_visible()

    def test_handover_preview_then_confirm(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        leaver = people.signed_in("agr_staff")  # signed in before the handover
        admin = people.signed_in("admin")
        admin.get_by_role("link", name="Handover").click()
        admin.get_by_label("E-mail of the person leaving government").fill(
            registry.email("agr_staff")
        )
        admin.get_by_label("E-mail of the successor").fill(registry.email("agr_requester"))
        admin.get_by_role("button", name="Preview the handover").click()
        expect(admin.get_by_role("heading", level=2)).to_have_text(
            "Preview: nothing has changed yet"
        )
        accounts = admin.get_by_role("table", name="Accounts", exact=True)
        expect(accounts).to_contain_text("facebook @ManitobaAg")
        expect(accounts).to_contain_text(registry.email("agr_requester"))
        shoot(admin, "preview")

        # nothing changed yet: the leaver still holds the account and is still signed in
        leaver.goto(f"/console/accounts/{registry.ag_account}")
        expect(_row(leaver, "Holders")).to_contain_text(registry.email("agr_staff"))

        admin.get_by_role("button", name="Confirm the handover of sam.staff@agr.gov.mb.ca").click()
        expect(admin.get_by_role("heading", level=2)).to_have_text(
            re.compile(r"^Handover \d+ is done$")
        )
        expect(admin.get_by_text("Tokens revoked: 1.")).to_be_visible()
        shoot(admin, "done")

        admin.goto(f"/console/accounts/{registry.ag_account}")
        holders = _row(admin, "Holders")
        expect(holders).to_contain_text(registry.email("agr_requester"))
        expect(holders).not_to_contain_text(registry.email("agr_staff"))

        # the leaver's open session ends, and their token no longer signs in
        leaver.goto("/console")
        expect(leaver).to_have_url(re.compile(r"/login$"))
        sign_in(leaver, registry.tokens["agr_staff"])
        expect(leaver.get_by_role("alert")).to_have_text(REFUSED_TOKEN)
        shoot(leaver, "leaver-refused")


class TestPublic:
    def test_directory_search_and_link_check_without_sign_in(
        self, people: People, registry: Registry, shoot: Shoot
    ) -> None:
        page = people.anonymous()
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/directory$"))
        expect(page.get_by_role("link", name="CED console sign-in")).to_be_visible()
        listing = page.get_by_role("table", name=re.compile(r"active official account"))
        expect(listing.locator("caption")).to_have_text("2 active official account(s)")
        shoot(page, "directory")

        search = page.get_by_role("searchbox", name="Name, handle or department")
        search.fill("manitoba agri")
        search.press("Enter")
        expect(page).to_have_url(re.compile(r"q=manitoba\+agri"))
        listing = page.get_by_role("table", name=re.compile(r"active official account"))
        expect(listing.locator("caption")).to_have_text("1 active official account(s)")
        expect(listing.get_by_role("row", name=re.compile("Manitoba Agriculture"))).to_contain_text(
            "@ManitobaAg"
        )
        expect(listing).not_to_contain_text("Manitoba Health")
        shoot(page, "search")

        link = page.get_by_label(re.compile(r"^Profile link"))
        link.fill("https://m.facebook.com/manitobaag/")
        page.get_by_role("button", name="Check", exact=True).click()
        answer = page.get_by_role("status")
        expect(answer).to_contain_text(
            "Facebook @manitobaag is an official account of Agriculture."
        )
        expect(answer).to_contain_text("(official, since")
        expect(answer).to_have_class("notice")
        shoot(page, "official")

        link = page.get_by_label(re.compile(r"^Profile link"))
        link.fill("https://www.facebook.com/NotTheGovernment")
        link.press("Enter")
        expect(page.get_by_role("status")).to_have_text(
            "Facebook @NotTheGovernment is not an official government account."
        )
        expect(page.get_by_role("status")).to_have_class("error")
        shoot(page, "not-official")

    def test_a_lookalike_profile_link_is_refused_with_a_message(
        self, people: People, shoot: Shoot
    ) -> None:
        page = people.anonymous()
        page.goto("/directory")
        link = page.get_by_label(re.compile(r"^Profile link"))
        link.fill("https://facebook.com.evil.io/x")
        with page.expect_response(lambda r: "check=" in r.url) as answer:
            link.press("Enter")
        page.wait_for_load_state()
        shoot(page, "refused")
        assert answer.value.status == 422, f"the page answered {answer.value.status}"
        expect(page.get_by_role("alert")).to_have_text(
            "'https://facebook.com.evil.io/x' is not a profile on a platform the registry knows."
        )
        expect(page.get_by_role("status")).to_have_count(0)  # no "official" answer
        expect(page.locator("caption")).to_have_text("2 active official account(s)")
