"""The web console and public pages through HTTP (the real-browser tests are in tests/browser)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlmodel import Session, select

from registry.errors import CONCURRENT_CHANGE, DATA_REFUSED, DATABASE_UNAVAILABLE
from registry.models import AccountRequest, AuditEvent
from registry.services import compliance
from tests.conftest import Api, assert_refused, csrf_of
from tests.factories import CAST

ROW = (
    "platform,handle,url,category,department,login_email,purpose,holders,display_name\n"
    "facebook,ManitobaAg,https://www.facebook.com/ManitobaAg,official,AGR,"
    f"agr.social@gov.mb.ca,Farm news,{CAST['ced1'][0]};{CAST['agr_staff'][0]},"
    "Manitoba Agriculture\n"
)


@pytest.fixture
def account_id(api: Api) -> int:
    response = api.client.post(
        "/accounts/import",
        content=ROW,
        headers={**api.headers("ced1"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["account_ids"][0])


class TestPublic:
    def test_directory_and_verify(self, api: Api, account_id: int) -> None:
        page = api.client.get("/directory", params={"q": "agriculture"})
        assert page.status_code == 200 and "Manitoba Agriculture" in page.text
        checked = api.client.get(
            "/directory", params={"check": "https://m.facebook.com/manitobaag/"}
        )
        assert "is an official account of Agriculture" in checked.text
        answer = api.client.get(
            "/verify", params={"platform": "facebook", "handle": "@manitobaag"}
        ).json()
        assert answer["official"] is True and answer["display_name"] == "Manitoba Agriculture"
        assert not {"id", "holders", "login_email", "account_id"} & set(answer)
        by_url = api.client.get(
            "/verify", params={"url": "https://facebook.com.evil.io/ManitobaAg"}
        )
        assert by_url.status_code == 422
        unknown = api.client.get("/verify", params={"platform": "x", "handle": "nobody"}).json()
        assert unknown["official"] is False


class TestConsole:
    def test_pages_need_sign_in(self, api: Api) -> None:
        response = api.client.get("/console", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"

    def test_sign_in_sets_a_strict_httponly_cookie_and_sign_out_ends_it(self, api: Api) -> None:
        form = api.client.get("/login")
        response = api.client.post(
            "/login",
            data={"token": api.tokens["ced1"], "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert (
            "registry_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        )
        page = api.client.get("/console")
        assert "Sign out ced.one@gov.mb.ca" in page.text
        out = api.client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        assert out.status_code == 303
        assert api.client.get("/console", follow_redirects=False).status_code == 303

    def test_a_bad_token_and_a_missing_csrf_are_refused(self, api: Api) -> None:
        form = api.client.get("/login")
        bad = api.client.post("/login", data={"token": "smr_nope", "csrf": csrf_of(form.text)})
        assert bad.status_code == 401 and "unknown, expired or revoked" in bad.text
        no_csrf = api.client.post("/login", data={"token": api.tokens["ced1"]})
        assert no_csrf.status_code == 403
        # Before: a CSRF value outside ASCII reached compare_digest as text, a 500.
        odd = api.client.post("/login", data={"token": api.tokens["ced1"], "csrf": "é✓"})
        assert odd.status_code == 403 and "form has expired" in odd.text

    def test_forms_without_the_csrf_token_change_nothing(self, api: Api, account_id: int) -> None:
        api.sign_in("ced1")
        response = api.client.post(
            f"/console/accounts/{account_id}/reveal", data={"kind": "password", "reason": "x"}
        )
        assert response.status_code == 403 and "reload the page" in response.text

    def test_two_stage_approval_with_holders_added_at_the_final_stage(self, api: Api) -> None:
        created = api.client.post(
            "/requests",
            json={
                "kind": "new_account",
                "platform": "x",
                "handle": "mbag",
                "url": "https://x.com/mbag",
                "category": "official",
                "department": "AGR",
                "purpose": "News",
                "login_email": "agr.social@gov.mb.ca",
                "holders": [CAST["agr_staff"][0]],
            },
            headers=api.headers("agr_requester"),
        ).json()
        rid = created["id"]
        csrf = api.sign_in("agr_approver")
        first = api.client.post(
            f"/console/requests/{rid}/approve", data={"csrf": csrf, "comment": "Yes"}
        )
        assert "approved by the department; it now awaits CED" in first.text
        api.client.cookies.clear()
        csrf = api.sign_in("ced1")
        refused = api.client.post(f"/console/requests/{rid}/approve", data={"csrf": csrf})
        assert refused.status_code == 409 and "one from CED" in refused.text
        done = api.client.post(
            f"/console/requests/{rid}/approve", data={"csrf": csrf, "holders": CAST["ced2"][0]}
        )
        assert "is active" in done.text
        history = api.client.get(f"/console/requests/{rid}")
        assert (
            "Department approval by dana.deputy@gov.mb.ca" in history.text
            and "“Yes”" in history.text
        )

    def test_reveal_shows_the_value_once_and_is_not_cached(self, api: Api, account_id: int) -> None:
        api.client.put(
            f"/accounts/{account_id}/credentials/password",
            json={"value": "Sekr1t!"},
            headers=api.headers("ced1"),
        )
        csrf = api.sign_in("agr_staff")
        page = api.client.get(f"/console/accounts/{account_id}")
        assert "Sekr1t!" not in page.text and "Reveal" in page.text
        blank = api.client.post(
            f"/console/accounts/{account_id}/reveal",
            data={"csrf": csrf, "kind": "password", "reason": " "},
        )
        assert blank.status_code == 403 and "reason is required" in blank.text
        shown = api.client.post(
            f"/console/accounts/{account_id}/reveal",
            data={"csrf": csrf, "kind": "password", "reason": "Weekly post"},
        )
        assert shown.status_code == 200 and "Sekr1t!" in shown.text
        assert shown.headers["cache-control"] == "no-store"
        assert "Sekr1t!" not in api.client.get(f"/console/accounts/{account_id}").text

    def test_requesters_see_only_their_department(self, api: Api, account_id: int) -> None:
        api.sign_in("hlt_requester")
        assert api.client.get(f"/console/accounts/{account_id}").status_code == 404
        assert "ManitobaAg" not in api.client.get("/console/accounts").text

    def test_compliance_and_handover_preview_then_confirm(self, api: Api, account_id: int) -> None:
        csrf = api.sign_in("admin")
        report = api.client.get("/console/compliance")
        assert "No current login password" in report.text
        accounts_page = api.client.get("/console/accounts")
        assert "no credentials" in accounts_page.text
        form = {
            "csrf": csrf,
            "departing": CAST["agr_staff"][0],
            "successor": CAST["agr_requester"][0],
        }
        preview = api.client.post("/console/handover/preview", data=form)
        assert "Preview: nothing has changed yet" in preview.text
        assert CAST["agr_staff"][0] in api.client.get(f"/console/accounts/{account_id}").text
        done = api.client.post("/console/handover/confirm", data=form)
        assert re.search(r"Handover \d+ is done", done.text)
        assert CAST["agr_requester"][0] in api.client.get(f"/console/accounts/{account_id}").text

    def test_a_form_missing_a_field_answers_a_page_not_json(self, api: Api) -> None:
        csrf = api.sign_in("admin")
        response = api.client.post("/console/handover/preview", data={"csrf": csrf})
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")
        assert "Invalid input: departing: Field required" in response.text


# The new-account form as a requester of AGR fills it in (only the profile link names it).
FORM = {
    "url": "https://x.com/mbfarmnews",
    "category": "official",
    "department": "AGR",
    "login_email": "agr.farmnews@gov.mb.ca",
    "purpose": "Farm news",
    "holders": CAST["agr_staff"][0],
}


def _field_error(page: str, field: str) -> str:
    """The error shown next to ``field`` (its text, markup removed), or ''."""
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))) if found else ""


class TestNewRequestForm:
    def test_the_form_needs_the_csrf_token(self, api: Api) -> None:
        api.sign_in("agr_requester")
        response = api.client.post("/console/requests/new", data=FORM, follow_redirects=False)
        assert response.status_code == 403 and "reload the page" in response.text
        assert api.count(AccountRequest) == 0

    def test_a_submitted_form_goes_to_the_request_page_and_to_my_requests(self, api: Api) -> None:
        csrf = api.sign_in("agr_requester")
        sent = api.client.post(
            "/console/requests/new", data={"csrf": csrf, **FORM}, follow_redirects=False
        )
        assert sent.status_code == 303, sent.text
        [rid] = re.findall(
            r"^/console/requests/(\d+)\?notice=request_submitted$", sent.headers["location"]
        )
        shown = api.client.get(sent.headers["location"]).text
        assert "Your request is submitted" in shown and "x @mbfarmnews" in shown
        home = api.client.get("/console").text
        assert f'<a href="/console/requests/{rid}">Request {rid}</a>' in home
        api.client.cookies.clear()
        api.sign_in("agr_staff")  # same department, not the requester: not among their own
        assert f'<a href="/console/requests/{rid}">' not in api.client.get("/console").text

    def test_typed_text_is_shown_back_as_data(self, api: Api) -> None:
        csrf = api.sign_in("agr_requester")
        script = "<script>alert(1)</script>"
        quote = '"><img src=x onerror=alert(2)>'
        response = api.client.post(
            "/console/requests/new",
            data={
                "csrf": csrf,
                **FORM,
                "login_email": "farm.news@gmail.com",
                "purpose": script,
                "display_name": quote,
            },
        )
        assert response.status_code == 422
        assert script not in response.text and quote not in response.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in response.text
        assert 'value="&#34;&gt;&lt;img src=x onerror=alert(2)&gt;"' in response.text
        assert "not on an approved government domain" in _field_error(response.text, "login_email")
        assert 'href="#login_email"' in response.text  # the summary links to the field
        assert api.count(AccountRequest) == 0

    @pytest.mark.parametrize(
        ("change", "field", "phrase"),
        [
            ({"url": "https://facebook.com.evil.io/x"}, "url", "is not a profile on a platform"),
            ({"url": "https://x.com/mbag", "handle": "other"}, "url", "not to the handle given"),
            ({"handle": "no spaces allowed"}, "handle", "is not a valid X (Twitter) handle"),
            ({"platform": "x", "handle": "mbag", "url": ""}, "url", "Profile URL must not"),
            ({"category": "personal"}, "category", "A personal account"),
            ({"department": "HLT"}, "department", "only submit requests for their own"),
            ({"purpose": " "}, "purpose", "Purpose must not be blank."),
            ({"holders": "nobody@gov.mb.ca"}, "holders", "not a registered person"),
            ({"holders": "a@@b"}, "holders", "exactly one '@'"),
            ({"login_email": "a@@b"}, "login_email", "exactly one '@'"),
        ],
    )
    def test_a_refusal_is_shown_next_to_the_field_it_names(
        self, api: Api, change: dict[str, str], field: str, phrase: str
    ) -> None:
        csrf = api.sign_in("agr_requester")
        response = api.client.post("/console/requests/new", data={"csrf": csrf, **FORM, **change})
        assert response.status_code in (403, 404, 422), response.text[:300]
        assert phrase in _field_error(response.text, field), response.text
        assert response.text.count('class="field-error"') == 1
        assert f'href="#{field}"' in response.text
        assert api.count(AccountRequest) == 0


class TestDecisionsOnTheRequestPage:
    def test_only_who_may_decide_sees_the_decision_forms(self, api: Api) -> None:
        created = api.client.post(
            "/requests",
            json={
                **FORM,
                "kind": "new_account",
                "platform": "x",
                "handle": "mbfarmnews",
                "holders": [CAST["agr_staff"][0]],
            },
            headers=api.headers("agr_requester"),
        )
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
        approve = f'action="/console/requests/{rid}/approve"'
        reject = f'action="/console/requests/{rid}/reject"'
        withdraw = f'action="/console/requests/{rid}/withdraw"'
        seen: dict[str, tuple[bool, bool, bool]] = {}
        for who in ("agr_requester", "agr_staff", "agr_approver", "ced1", "auditor"):
            api.client.cookies.clear()
            api.sign_in(who)
            page = api.client.get(f"/console/requests/{rid}")
            assert page.status_code == 200, page.text
            seen[who] = (approve in page.text, reject in page.text, withdraw in page.text)
        assert seen == {
            "agr_requester": (False, False, True),  # their own: withdraw, never decide
            "agr_staff": (False, False, False),
            "agr_approver": (True, True, False),  # the department stage is theirs
            "ced1": (False, False, False),  # CED decides after the department
            "auditor": (False, False, False),
        }


class TestWhatEachPersonSees:
    def test_only_handover_runners_get_the_handover_link(self, api: Api) -> None:
        api.sign_in("agr_requester")
        assert 'href="/console/handover"' not in api.client.get("/console").text
        assert api.client.get("/console/handover").status_code == 403
        api.client.cookies.clear()
        api.sign_in("admin")
        assert 'href="/console/handover"' in api.client.get("/console").text

    def test_a_holder_from_another_department_sees_the_accounts_findings(
        self, api: Api, account_id: int
    ) -> None:
        granted = api.client.post(
            f"/accounts/{account_id}/holders",
            json={"email": CAST["hlt_requester"][0]},
            headers=api.headers("admin"),
        )
        assert granted.status_code == 201, granted.text
        api.sign_in("hlt_requester")  # HLT: their own compliance report does not cover AGR
        page = api.client.get(f"/console/accounts/{account_id}")
        assert "No current login password" in page.text and "compliant" not in page.text
        listed = api.client.get("/console/accounts")
        assert "ManitobaAg" in listed.text and "no credentials" in listed.text
        assert "compliant" not in listed.text

    def test_the_accounts_list_filtered_by_department_keeps_its_badges(
        self, api: Api, account_id: int
    ) -> None:
        api.sign_in("auditor")
        agr = api.client.get("/console/accounts", params={"department": "agr"})
        assert "ManitobaAg" in agr.text and "no credentials" in agr.text
        hlt = api.client.get("/console/accounts", params={"department": "HLT"})
        assert hlt.status_code == 200 and "ManitobaAg" not in hlt.text
        unknown = api.client.get("/console/accounts", params={"department": "NOPE"})
        assert unknown.status_code == 404 and "NOPE" in unknown.text


def _reviews(api: Api, account_id: int) -> list[dict[str, object]]:
    """The details of the account's ``account.reviewed`` audit events."""
    with Session(api.db.engine) as session:
        events = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "account.reviewed",
                AuditEvent.entity_type == "account",
                AuditEvent.entity_id == account_id,
            )
        ).all()
        return [dict(e.details) for e in events]


class TestReviewOnTheAccountPage:
    def test_ced_records_a_review_and_is_sent_back_with_a_notice(
        self, api: Api, account_id: int
    ) -> None:
        csrf = api.sign_in("ced1")
        page = api.client.get(f"/console/accounts/{account_id}")
        assert f'action="/console/accounts/{account_id}/review"' in page.text
        assert '<label for="review-note">Note (optional)</label>' in page.text
        sent = api.client.post(
            f"/console/accounts/{account_id}/review",
            data={"csrf": csrf, "note": "Checked the posts"},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == (
            f"/console/accounts/{account_id}?notice=review_recorded"
        )
        shown = api.client.get(sent.headers["location"])
        assert "The review is recorded" in shown.text
        [details] = _reviews(api, account_id)
        assert details["note"] == "Checked the posts"
        account = api.client.get(f"/accounts/{account_id}", headers=api.headers("ced1")).json()
        assert account["last_reviewed_at"] is not None
        assert account["next_review_on"] == details["next_review_on"]
        assert f"<td>{account['next_review_on']}</td>" in shown.text

    def test_a_requester_sees_no_form_and_is_refused(self, api: Api, account_id: int) -> None:
        csrf = api.sign_in("agr_requester")
        page = api.client.get(f"/console/accounts/{account_id}")
        assert page.status_code == 200
        assert f'action="/console/accounts/{account_id}/review"' not in page.text
        refused = api.client.post(
            f"/console/accounts/{account_id}/review", data={"csrf": csrf, "note": "x"}
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert "may not record account reviews" in refused.text
        assert "ManitobaAg" in refused.text  # the account page, with the refusal
        assert _reviews(api, account_id) == []
        account = api.client.get(f"/accounts/{account_id}", headers=api.headers("ced1")).json()
        assert account["last_reviewed_at"] is None

    def test_the_review_needs_the_csrf_token(self, api: Api, account_id: int) -> None:
        api.sign_in("ced1")
        response = api.client.post(
            f"/console/accounts/{account_id}/review", data={"note": "x"}, follow_redirects=False
        )
        assert response.status_code == 403 and "reload the page" in response.text
        assert _reviews(api, account_id) == []


class TestDecommissionOnTheAccountPage:
    def test_a_requester_asks_and_is_sent_to_the_new_request(
        self, api: Api, account_id: int
    ) -> None:
        csrf = api.sign_in("agr_requester")
        page = api.client.get(f"/console/accounts/{account_id}")
        assert f'action="/console/accounts/{account_id}/decommission"' in page.text
        assert '<label for="decommission-reason">Reason</label>' in page.text
        sent = api.client.post(
            f"/console/accounts/{account_id}/decommission",
            data={"csrf": csrf, "reason": "The program has ended"},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        [rid] = re.findall(
            r"^/console/requests/(\d+)\?notice=request_submitted$", sent.headers["location"]
        )
        shown = api.client.get(sent.headers["location"]).text
        assert "Your request is submitted" in shown and "The program has ended" in shown
        with Session(api.db.engine) as session:
            row = session.get(AccountRequest, int(rid))
            assert row is not None
            assert (row.kind, row.account_id) == ("decommission", account_id)
        again = api.client.post(
            f"/console/accounts/{account_id}/decommission",
            data={"csrf": csrf, "reason": "Twice"},
        )
        assert again.status_code == 409 and f"already requested in request {rid}" in again.text
        assert api.count(AccountRequest) == 1

    def test_a_blank_reason_is_refused_and_nothing_is_created(
        self, api: Api, account_id: int
    ) -> None:
        csrf = api.sign_in("agr_requester")
        refused = api.client.post(
            f"/console/accounts/{account_id}/decommission", data={"csrf": csrf, "reason": " "}
        )
        assert refused.status_code == 422, refused.text
        assert "Reason must not be blank" in refused.text and "ManitobaAg" in refused.text
        assert api.count(AccountRequest) == 0

    def test_the_request_needs_the_csrf_token(self, api: Api, account_id: int) -> None:
        api.sign_in("agr_requester")
        response = api.client.post(
            f"/console/accounts/{account_id}/decommission", data={"reason": "Ended"}
        )
        assert response.status_code == 403 and "reload the page" in response.text
        assert api.count(AccountRequest) == 0

    def test_who_may_not_ask_sees_no_form_and_is_refused(self, api: Api, account_id: int) -> None:
        csrf = api.sign_in("auditor")  # sees every department, asks only for FIN
        page = api.client.get(f"/console/accounts/{account_id}")
        assert page.status_code == 200
        assert f'action="/console/accounts/{account_id}/decommission"' not in page.text
        refused = api.client.post(
            f"/console/accounts/{account_id}/decommission",
            data={"csrf": csrf, "reason": "Ended"},
        )
        assert refused.status_code == 403 and "only submit requests" in refused.text
        assert api.count(AccountRequest) == 0


class TestRefusalsOnPages:
    def test_the_directory_check_refuses_an_over_long_link_as_the_api_does(self, api: Api) -> None:
        url = "https://www.facebook.com/" + "a" * 2000
        page = api.client.get("/directory", params={"check": url})
        assert page.status_code == 422
        assert "The platform, handle, id or URL is too long." in page.text
        assert_refused(api.client.get("/verify", params={"url": url}), 422, "too long")

    @pytest.mark.parametrize(
        ("failure", "status", "sentence"),
        [
            (
                OperationalError("SELECT", {}, Exception("database is locked")),
                503,
                DATABASE_UNAVAILABLE,
            ),
            (
                IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
                409,
                CONCURRENT_CHANGE,
            ),
            (DataError("INSERT", {}, Exception("value out of range")), 422, DATA_REFUSED),
        ],
        ids=["unavailable", "clash", "refused-value"],
    )
    def test_a_database_failure_answers_a_page_on_pages_and_json_on_the_api(
        self,
        api: Api,
        monkeypatch: pytest.MonkeyPatch,
        failure: Exception,
        status: int,
        sentence: str,
    ) -> None:
        def fail(*_args: object, **_kwargs: object) -> None:
            raise failure

        monkeypatch.setattr(compliance, "report", fail)
        api.sign_in("auditor")
        page = api.client.get("/console/compliance")
        assert page.status_code == status
        assert page.headers["content-type"].startswith("text/html")
        assert sentence in page.text and "Traceback" not in page.text
        answer = api.client.get("/compliance", headers=api.headers("auditor"))
        assert_refused(answer, status, sentence)

    def test_a_method_not_allowed_on_a_page_answers_a_page(self, api: Api) -> None:
        page = api.client.get("/logout")
        assert page.status_code == 405 and page.headers["allow"] == "POST"
        assert page.headers["content-type"].startswith("text/html")
        assert "GET is not allowed here; use POST." in page.text
        answer = api.client.put("/departments", headers=api.headers("admin"))
        assert_refused(answer, 405, "use GET or POST", error="method_not_allowed")
