"""The HTTP side's hardening: security headers, the body size limit, no-store, token lookups."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from registry.http.app import create_app
from registry.http.security import DOCS_CSP, STRICT_CSP, too_large_message
from registry.models import AccountRequest, ApiToken, AuditEvent, Person, WebSession, utcnow
from registry.services import tokens
from tests.conftest import Api, csrf_of, sign_in
from tests.factories import CAST, NEW_REQUEST

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def assert_common_headers(headers: dict[str, str] | object) -> None:
    for name, value in COMMON.items():
        assert headers[name] == value, name  # type: ignore[index]


class TestSecurityHeaders:
    def test_api_answers_carry_them_and_are_never_cached(self, api: Api) -> None:
        response = api.client.get("/departments", headers=api.headers("ced1"))
        assert response.status_code == 200
        assert_common_headers(response.headers)
        assert response.headers["content-security-policy"] == STRICT_CSP
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers  # plain HTTP here

    def test_refusals_carry_them_too(self, api: Api) -> None:
        response = api.client.get("/departments")
        assert response.status_code == 401
        assert_common_headers(response.headers)
        assert response.headers["cache-control"] == "no-store"

    def test_secret_answers_keep_their_own_no_store(self, api: Api) -> None:
        account = api.client.post(
            "/accounts/import",
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
            content=(
                "platform,handle,url,category,department,login_email,purpose,holders\n"
                "x,MBHeaders,https://x.com/MBHeaders,official,AGR,hdr@gov.mb.ca,News,"
                f"{CAST['ced1'][0]};{CAST['agr_staff'][0]}\n"
            ).encode(),
        )
        assert account.status_code == 201, account.text
        account_id = account.json()["account_ids"][0]
        put = api.client.put(
            f"/accounts/{account_id}/credentials/password",
            headers=api.headers("ced1"),
            json={"value": "Canary-headers-42!"},
        )
        assert put.status_code in (200, 201), put.text
        revealed = api.client.post(
            f"/accounts/{account_id}/credentials/password/reveal",
            headers=api.headers("ced1"),
            json={"reason": "Checking the headers"},
        )
        assert revealed.status_code == 200, revealed.text
        assert revealed.headers["cache-control"] == "no-store"
        assert revealed.headers["pragma"] == "no-cache"
        assert_common_headers(revealed.headers)

    def test_public_verification_may_be_cached_but_is_still_hardened(self, api: Api) -> None:
        response = api.client.get("/verify", params={"platform": "x", "handle": "Nobody"})
        assert response.status_code == 200
        assert_common_headers(response.headers)
        assert "no-store" not in response.headers.get("cache-control", "")

    def test_console_pages_allow_only_their_own_stylesheet(self, api: Api) -> None:
        response = api.client.get("/login")
        assert response.status_code == 200
        assert_common_headers(response.headers)
        assert response.headers["cache-control"] == "no-store"
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src" not in csp
        # The hash in the policy is the hash of the stylesheet the page really contains, so a
        # browser applies the style (and nothing injected beside it).
        style = re.search(r"<style>(.*?)</style>", response.text, re.DOTALL)
        assert style is not None
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in csp

    def test_api_docs_get_the_scripts_they_load(self, api: Api) -> None:
        response = api.client.get("/docs")
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == DOCS_CSP
        for source in re.findall(r'src="(https://[^/"]+)', response.text):
            assert source in DOCS_CSP, source

    def test_https_answers_ask_browsers_to_stay_on_https(self, api: Api) -> None:
        with TestClient(api.client.app, base_url="https://testserver") as client:
            response = client.get("/departments", headers=api.headers("ced1"))
        assert response.status_code == 200
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.fixture
def small_limit(api: Api) -> Iterator[TestClient]:
    """The same registry served with a 4 KiB body limit."""
    settings = api.db.settings().model_copy(update={"max_request_bytes": 4096})
    with TestClient(create_app(settings, engine=api.db.engine)) as client:
        yield client


class TestBodyLimit:
    def test_a_declared_oversize_body_is_refused_before_the_app_reads_it(
        self, api: Api, small_limit: TestClient
    ) -> None:
        events = api.count(AuditEvent)
        body = {**NEW_REQUEST, "purpose": "x" * 10_000}
        response = small_limit.post("/requests", headers=api.headers("agr_requester"), json=body)
        assert response.status_code == 413
        assert response.json() == {"error": "too_large", "detail": too_large_message(4096)}
        assert_common_headers(response.headers)
        assert api.count(AccountRequest) == 0
        assert api.count(AuditEvent) == events

    def test_an_undeclared_oversize_body_is_refused_as_it_streams_in(
        self, api: Api, small_limit: TestClient
    ) -> None:
        events = api.count(AuditEvent)

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            yield b"platform,handle,url,category,department,login_email,purpose,holders\n"
            for n in range(200):
                yield (
                    f"x,MBChunk{n},https://x.com/MBChunk{n},official,AGR,c{n}@gov.mb.ca,News,"
                    f"{CAST['ced1'][0]};{CAST['agr_staff'][0]}\n"
                ).encode()

        response = small_limit.post(
            "/accounts/import",
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
            content=chunks(),
        )
        assert response.status_code == 413
        assert response.json()["detail"] == too_large_message(4096)
        assert api.count(AuditEvent) == events

    def test_the_same_body_within_the_limit_is_accepted(
        self, api: Api, small_limit: TestClient
    ) -> None:
        response = small_limit.post(
            "/requests", headers=api.headers("agr_requester"), json=NEW_REQUEST
        )
        assert response.status_code == 201, response.text
        assert api.count(AccountRequest) == 1

    def test_a_nonsense_content_length_is_refused(self, api: Api) -> None:
        response = api.client.post(
            "/requests",
            headers={**api.headers("agr_requester"), "Content-Length": "12abc"},
            content=b"{}",
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_input"

    def test_a_one_megabyte_purpose_is_refused_by_the_default_limit_or_the_field(
        self, api: Api
    ) -> None:
        body = {**NEW_REQUEST, "purpose": "p" * 1_000_000}
        response = api.client.post("/requests", headers=api.headers("agr_requester"), json=body)
        assert response.status_code == 422
        assert "purpose" in response.json()["detail"]
        assert api.count(AccountRequest) == 0


class TestTokenLookupsRevealNobody:
    def test_a_token_of_someone_who_left_says_what_an_unknown_token_says(self, api: Api) -> None:
        unknown = api.client.get("/departments", headers={"Authorization": "Bearer smr_nope"})
        with api.db.scope() as session:
            person = session.exec(select(Person).where(Person.email == CAST["ced2"][0])).one()
            person.status = "left"
            session.add(person)
        left = api.client.get("/departments", headers=api.headers("ced2"))
        assert left.status_code == unknown.status_code == 401
        refused = {"error": "unauthenticated", "detail": tokens.REFUSED}
        assert left.json() == unknown.json() == refused
        assert CAST["ced2"][0] not in left.text

    def test_the_console_sign_in_does_not_tell_them_apart_either(self, api: Api) -> None:
        with api.db.scope() as session:
            person = session.exec(select(Person).where(Person.email == CAST["ced2"][0])).one()
            person.status = "left"
            session.add(person)
        answers = []
        for token in ("smr_" + "A" * 43, api.tokens["ced2"]):
            form = api.client.get("/login")
            page = api.client.post(
                "/login", data={"token": token, "csrf": csrf_of(form.text)}, follow_redirects=False
            )
            answers.append((page.status_code, re.findall(r'role="alert"><p>(.*?)</p>', page.text)))
            assert CAST["ced2"][0] not in page.text
        assert answers[0] == answers[1]
        assert answers[0][0] == 401

    @pytest.mark.parametrize("email", [CAST["ced2"][0], "no.such.person@gov.mb.ca", "not-an-email"])
    def test_listing_someone_elses_tokens_is_refused_alike_whoever_they_are(
        self, api: Api, email: str
    ) -> None:
        response = api.client.get(
            "/tokens", params={"email": email}, headers=api.headers("agr_requester")
        )
        assert response.status_code == 403
        assert email not in response.text

    def test_listing_ones_own_tokens_by_address_still_works(self, api: Api) -> None:
        email = CAST["agr_requester"][0]
        response = api.client.get(
            "/tokens", params={"email": email.upper()}, headers=api.headers("agr_requester")
        )
        assert response.status_code == 200
        assert [t["person"] for t in response.json()] == [email]


class TestConsoleSessionsFollowTheirToken:
    """A console session is stored as a digest like a token is, and lasts only while the API
    token it was opened with is live (the API's own test, ``tokens.is_live``)."""

    def test_the_cookie_is_stored_only_as_its_digest(self, api: Api) -> None:
        sign_in(api.client, api.tokens["ced1"])
        cookie = api.client.cookies["registry_session"]
        with api.db.scope() as session:
            [web] = session.exec(select(WebSession)).all()
        assert web.session_hash == tokens.digest(cookie) != cookie

    @pytest.mark.parametrize("end", ["revoked_at", "expires_at"])
    def test_revoking_or_expiring_the_token_signs_the_browser_out(self, api: Api, end: str) -> None:
        sign_in(api.client, api.tokens["ced1"])
        assert api.client.get("/console", follow_redirects=False).status_code == 200
        with api.db.scope() as session:
            digest = tokens.digest(api.tokens["ced1"])
            row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).one()
            assert tokens.is_live(row, utcnow())
            setattr(row, end, utcnow())
            session.add(row)
        page = api.client.get("/console", follow_redirects=False)
        assert (page.status_code, page.headers["location"]) == (303, "/login")
